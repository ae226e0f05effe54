/*
 * http_peers.c - connections per peer address (see http_peers.h). A
 * plain array under a mutex: it holds at most one entry per open
 * connection, a few hundred, and is touched once per connection opened
 * or closed, never per request.
 */
#include "http_peers.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct nox__http_peer {
    uint8_t addr[16]; /* IPv4 as its IPv4-mapped IPv6 address; IPv6 as
                         its /64 prefix */
    unsigned n;
};

/* sa's address as 16 bytes; false for a loopback peer or an address
 * that is not IP (neither is counted). */
static bool
peers_key(const struct sockaddr *sa, uint8_t key[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(key, mapped, sizeof(mapped));
        memcpy(key + 12, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return false;
        memcpy(key, &in6->sin6_addr, 16);
        /* One IPv6 host usually holds a whole /64: count the prefix, or
         * it could take every slot from as many addresses as it likes.
         * (An IPv4-mapped address keeps its IPv4 part.) */
        if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            memset(key + 8, 0, 8);
    } else {
        return false;
    }
    /* 127.0.0.0/8, also as ::ffff:127.x.y.z */
    return !(memcmp(key, mapped, sizeof(mapped)) == 0 && key[12] == 127);
}

static nox__http_peer_t *
peers_find(nox__http_peers_t *p, const uint8_t key[16])
{
    for (size_t i = 0; i < p->n; i++)
        if (memcmp(p->v[i].addr, key, 16) == 0)
            return &p->v[i];
    return NULL;
}

nox_err_t
nox__http_peers_init(nox__http_peers_t *p, unsigned cap, size_t max,
                     nox_status_t *st)
{
    int rv;

    memset(p, 0, sizeof(*p));
    p->cap = cap;
    p->max = max;
    p->v = calloc(max ? max : 1, sizeof(*p->v));
    if (p->v == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    rv = pthread_mutex_init(&p->mu, NULL);
    if (rv != 0)
        return nox__status_errno(st, NOX_ERESOURCE, rv, "pthread_mutex_init");
    p->mu_init = true;
    return NOX_OK;
}

void
nox__http_peers_destroy(nox__http_peers_t *p)
{
    if (p->mu_init)
        (void)pthread_mutex_destroy(&p->mu);
    free(p->v);
    memset(p, 0, sizeof(*p));
}

bool
nox__http_peers_admit(nox__http_peers_t *p, const struct sockaddr *sa)
{
    uint8_t           key[16];
    nox__http_peer_t *e;
    bool              ok;

    if (!peers_key(sa, key))
        return true;
    (void)pthread_mutex_lock(&p->mu);
    e = peers_find(p, key);
    ok = e == NULL ? p->n < p->max : e->n < p->cap;
    (void)pthread_mutex_unlock(&p->mu);
    return ok;
}

void
nox__http_peers_add(nox__http_peers_t *p, const struct sockaddr *sa)
{
    uint8_t           key[16];
    nox__http_peer_t *e;

    if (!peers_key(sa, key))
        return;
    (void)pthread_mutex_lock(&p->mu);
    e = peers_find(p, key);
    if (e == NULL && p->n < p->max) {
        e = &p->v[p->n++];
        memcpy(e->addr, key, 16);
        e->n = 0;
    }
    if (e != NULL)
        e->n++;
    (void)pthread_mutex_unlock(&p->mu);
}

void
nox__http_peers_remove(nox__http_peers_t *p, const struct sockaddr *sa)
{
    uint8_t           key[16];
    nox__http_peer_t *e;

    if (!peers_key(sa, key))
        return;
    (void)pthread_mutex_lock(&p->mu);
    e = peers_find(p, key);
    if (e != NULL && --e->n == 0)
        *e = p->v[--p->n]; /* the last one takes its place */
    (void)pthread_mutex_unlock(&p->mu);
}

unsigned
nox__http_peers_count(nox__http_peers_t *p, const struct sockaddr *sa)
{
    uint8_t           key[16];
    nox__http_peer_t *e;
    unsigned          n;

    if (!peers_key(sa, key))
        return 0;
    (void)pthread_mutex_lock(&p->mu);
    e = peers_find(p, key);
    n = e != NULL ? e->n : 0;
    (void)pthread_mutex_unlock(&p->mu);
    return n;
}
