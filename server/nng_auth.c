/* nng_auth.c - the NNG side of who may call: ipc socket modes and peer
 * uids, the tls+tcp:// certificate, and which requests need the token
 * (nng_auth.h has the rules). */
#include "nng_auth.h"

#include "auth.h"

#include <nng/protocol/reqrep0/rep.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* The most network connections ever allowed (RLIMIT_NOFILE unlimited or
 * huge): a quarter of a million. */
#define NNG_AUTH_PIPE_CAP_MAX ((rlim_t)1 << 18)

/* A PEM certificate chain or key larger than this is not one. */
#define NNG_AUTH_PEM_MAX (1024 * 1024)

static bool
nng_auth_is_tls(const char *url)
{
    nox__url_info_t info;

    return nox__url_info(url, &info) == NOX_OK && info.tls;
}

/* Read a whole PEM file into *out (malloc'd, NUL-terminated: mbedtls
 * wants the terminator counted in PEM input). */
static nox_err_t
nng_auth_read_pem(const char *path, const char *what, char **out,
                  nox_status_t *st)
{
    int     fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    char   *buf;
    ssize_t n;
    int     e;

    if (fd < 0)
        return nox__status_errno(st, NOX_EINVAL, errno, "cannot open %s %s",
                                 what, path);
    buf = malloc(NNG_AUTH_PEM_MAX + 2);
    if (buf == NULL) {
        nox__close(fd);
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    }
    n = nox__read_all(fd, buf, NNG_AUTH_PEM_MAX + 1);
    e = errno;
    nox__close(fd);
    if (n < 0 || n > NNG_AUTH_PEM_MAX) {
        free(buf);
        if (n < 0)
            return nox__status_errno(st, NOX_EINVAL, e, "cannot read %s %s",
                                     what, path);
        return nox__status_set(st, NOX_EINVAL, "%s %s is larger than %d bytes",
                               what, path, NNG_AUTH_PEM_MAX);
    }
    buf[n] = '\0';
    *out = buf;
    return NOX_OK;
}

/* The server side TLS configuration, with o's certificate and key. */
static nox_err_t
nng_auth_tls_load(nox__nng_auth_t *a, const nox_server_opts_t *o,
                  const char *url, nox_status_t *st)
{
    char     *cert = NULL;
    char     *key = NULL;
    nox_err_t err;
    int       rv;

    if (o->tls_cert == NULL || o->tls_key == NULL)
        return nox__status_set(st, NOX_EINVAL,
                               "%s needs a certificate and its key "
                               "(tls_cert and tls_key; noxrunnerd "
                               "--tls-cert FILE --tls-key FILE)",
                               url);
    err = nng_auth_read_pem(o->tls_cert, "TLS certificate", &cert, st);
    if (err == NOX_OK)
        err = nng_auth_read_pem(o->tls_key, "TLS key", &key, st);
    if (err != NOX_OK)
        goto out;
    rv = nng_tls_config_alloc(&a->tls, NNG_TLS_MODE_SERVER);
    if (rv != 0) {
        err = nox__status_set(st, NOX_ERESOURCE, "nng_tls_config_alloc: %s",
                              nng_strerror(rv));
        goto out;
    }
    rv = nng_tls_config_own_cert(a->tls, cert, key, NULL);
    if (rv != 0)
        err = nox__status_set(st, NOX_EINVAL,
                              "cannot use the TLS certificate %s with the "
                              "key %s: %s",
                              o->tls_cert, o->tls_key, nng_strerror(rv));
out:
    free(cert);
    if (key != NULL) {
        explicit_bzero(key, strlen(key));
        free(key);
    }
    return err;
}

/* Whether NNG has a transport for url's scheme. One it lacks is refused
 * as the listener would refuse it, which says more than the token rule
 * (every unknown scheme counts as network there). Creating a listener
 * binds nothing. */
static bool
nng_auth_scheme_served(const char *url)
{
    nng_socket   s;
    nng_listener l;
    int          rv = nng_rep0_open(&s);

    if (rv != 0)
        return true; /* cannot tell: the token rule stands */
    rv = nng_listener_create(&l, s, url);
    (void)nng_close(s); /* closes l too */
    return rv != NNG_ENOTSUP;
}

/* A quarter of the descriptors this process may open: what callers on
 * the network, authenticated or not, may hold at once. */
static size_t
nng_auth_pipe_cap(void)
{
    struct rlimit rl;
    rlim_t        n = NNG_AUTH_PIPE_CAP_MAX * 4;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < n)
        n = rl.rlim_cur;
    return n / 4 > 0 ? (size_t)(n / 4) : 1;
}

nox_err_t
nox__nng_auth_init(nox__nng_auth_t *a, const nox_server_opts_t *o,
                   nox_status_t *st)
{
    nox_err_t err;

    a->self = geteuid();
    atomic_init(&a->net_pipes, 0);
    a->net_pipe_cap = nng_auth_pipe_cap();
    if (o->token != NULL && o->token[0] != '\0') {
        a->token = strdup(o->token);
        if (a->token == NULL)
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    }
    if (o->n_ipc_allow_uids > 0) {
        a->allow = calloc(o->n_ipc_allow_uids, sizeof(*a->allow));
        if (a->allow == NULL)
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
        for (size_t i = 0; i < o->n_ipc_allow_uids; i++)
            a->allow[i] = (uid_t)o->ipc_allow_uids[i];
        a->n_allow = o->n_ipc_allow_uids;
    }
    for (size_t i = 0; i < o->n_urls; i++) {
        err = nox__auth_refuse_open(o->urls[i], a->token != NULL,
                                    o->insecure_no_auth, st);
        if (err != NOX_OK && !nng_auth_scheme_served(o->urls[i]))
            err = nox__status_set(st, NOX_EINVAL, "cannot listen on %s: %s",
                                  o->urls[i], nng_strerror(NNG_ENOTSUP));
        if (err == NOX_OK && a->tls == NULL && nng_auth_is_tls(o->urls[i]))
            err = nng_auth_tls_load(a, o, o->urls[i], st);
        if (err != NOX_OK)
            return err;
    }
    return NOX_OK;
}

void
nox__nng_auth_fini(nox__nng_auth_t *a)
{
    nox__token_free(a->token);
    a->token = NULL;
    free(a->allow);
    a->allow = NULL;
    a->n_allow = 0;
    if (a->tls != NULL)
        nng_tls_config_free(a->tls); /* listeners hold their own reference */
    a->tls = NULL;
}

int
nox__nng_auth_listener(const nox__nng_auth_t *a, nng_listener l,
                       const char *url)
{
    nox__url_info_t info;

    if (a == NULL)
        return 0;
    (void)nox__url_info(url, &info); /* unreadable: NNG refuses it */
    /* NNG sets the mode right after bind(), before the server moves the
     * file onto its path (listener.c): nobody else can reach it before.
     * Other users are let in only when some are allowed, and each of
     * their requests is checked (nox__nng_auth_peer). */
    if (info.kind == NOX_URL_IPC)
        return nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS,
                                    a->n_allow > 0 ? 0666 : 0600);
    if (info.tls && a->tls != NULL)
        return nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, a->tls);
    return 0;
}

/* May uid call over ipc? */
static bool
nng_auth_uid_allowed(const nox__nng_auth_t *a, uint64_t uid)
{
    if (uid == (uint64_t)a->self)
        return true;
    for (size_t i = 0; i < a->n_allow; i++)
        if (uid == (uint64_t)a->allow[i])
            return true;
    return false;
}

nox_err_t
nox__nng_auth_peer(const nox__nng_auth_t *a, nng_msg *msg,
                   const char **need_token, nox_status_t *st)
{
    nng_pipe     p = nng_msg_get_pipe(msg);
    nng_sockaddr sa;
    uint64_t     uid;

    *need_token = NULL;
    /* A failure here means the connection is gone: nobody reads the
     * answer, and a request that cannot be placed is not served. */
    if (nng_pipe_get_addr(p, NNG_OPT_LOCADDR, &sa) != 0)
        return nox__status_set(st, NOX_EDENIED,
                               "the connection closed before its request "
                               "could be checked");
    switch (sa.s_family) {
    case NNG_AF_INPROC:
        return NOX_OK;
    case NNG_AF_IPC:
    case NNG_AF_ABSTRACT:
        if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0)
            return nox__status_set(st, NOX_EDENIED,
                                   "the caller's uid is unknown");
        if (!nng_auth_uid_allowed(a, uid))
            return nox__status_set(st, NOX_EDENIED,
                                   "uid %llu may not call this server "
                                   "(noxrunnerd --ipc-allow-uid %llu)",
                                   (unsigned long long)uid,
                                   (unsigned long long)uid);
        return NOX_OK;
    default: /* tcp, tls+tcp, ws: reachable from elsewhere */
        *need_token = a->token;
        return NOX_OK;
    }
}

/* Is p a network connection (tcp, tls+tcp, ws)? By the family of its
 * local address, which NNG still has at REM_POST. */
static bool
nng_auth_pipe_is_network(nng_pipe p)
{
    nng_sockaddr sa;

    if (nng_pipe_get_addr(p, NNG_OPT_LOCADDR, &sa) != 0)
        return false; /* the same answer at both events: not counted */
    return sa.s_family != NNG_AF_INPROC && sa.s_family != NNG_AF_IPC &&
           sa.s_family != NNG_AF_ABSTRACT;
}

bool
nox__nng_auth_pipe_event(nox__nng_auth_t *a, nng_pipe p, nng_pipe_ev ev)
{
    if ((ev != NNG_PIPE_EV_ADD_PRE && ev != NNG_PIPE_EV_REM_POST) ||
        !nng_auth_pipe_is_network(p))
        return true;
    if (ev == NNG_PIPE_EV_REM_POST) {
        (void)atomic_fetch_sub(&a->net_pipes, 1);
        return true;
    }
    return atomic_fetch_add(&a->net_pipes, 1) < a->net_pipe_cap;
}
