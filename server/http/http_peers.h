/*
 * http_peers.h - the gateway's count of open connections per peer
 * address, behind the cap on connections from one machine. Loopback
 * peers are not counted (local test rigs and proxies; the global
 * connection limit still holds them). Private to the gateway.
 */
#ifndef NOX_SERVER_HTTP_PEERS_H
#define NOX_SERVER_HTTP_PEERS_H

#include "nox_common.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct nox__http_peer nox__http_peer_t;

typedef struct {
    pthread_mutex_t   mu;
    bool              mu_init;
    nox__http_peer_t *v; /* one per counted peer; at most max */
    size_t            n, max;
    unsigned          cap; /* connections per peer */
} nox__http_peers_t;

/* Count up to max peers (the connections' hard limit), cap each. */
nox_err_t nox__http_peers_init(nox__http_peers_t *p, unsigned cap, size_t max,
                               nox_status_t *st);
void      nox__http_peers_destroy(nox__http_peers_t *p);

/* Whether a new connection from sa may be taken: a loopback peer always,
 * another while it has fewer than cap. Counts nothing. */
bool nox__http_peers_admit(nox__http_peers_t *p, const struct sockaddr *sa);

/* A connection from sa opened / closed. */
void nox__http_peers_add(nox__http_peers_t *p, const struct sockaddr *sa);
void nox__http_peers_remove(nox__http_peers_t *p, const struct sockaddr *sa);

/* Connections counted for sa's address (0 for loopback). */
unsigned nox__http_peers_count(nox__http_peers_t *p, const struct sockaddr *sa);

#endif /* NOX_SERVER_HTTP_PEERS_H */
