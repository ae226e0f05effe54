/*
 * nng_auth.h - who may call the server over NNG, per transport:
 *   inproc://   the same process: anyone.
 *   ipc://      the socket file is mode 0600, or 0666 when other users
 *               are allowed; either way each request's peer uid
 *               (NNG_OPT_IPC_PEER_UID) must be the server's own or a
 *               listed one, else PERMISSION_DENIED. abstract:// (no file
 *               mode at all) is checked the same way.
 *   tcp://, tls+tcp://, ws:// ...
 *               with a token, each request must carry it
 *               (RpcRequest.token, checked by the dispatcher); tls+tcp://
 *               listeners get the server's certificate. A non-loopback
 *               address needs a token (or insecure_no_auth): auth.h.
 * A request is placed by the family of its connection's local address,
 * not by its listener, so replaced ipc listeners need no bookkeeping.
 * Private to the server.
 *
 * Thread safety: set up by nox_server_start before any listener, read-only
 * afterwards (nox__nng_auth_peer is called by every worker) but for the
 * atomic count of network connections.
 */
#ifndef NOX_SERVER_NNG_AUTH_H
#define NOX_SERVER_NNG_AUTH_H

#include "nox/server.h"

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct nox__nng_auth {
    char           *token; /* owned copy (wiped at fini); NULL: none */
    uid_t           self;  /* the server's euid */
    uid_t          *allow; /* other users allowed over ipc; owned */
    size_t          n_allow;
    nng_tls_config *tls; /* of tls+tcp:// listeners; NULL: none */
    /* Live network connections (tcp, tls+tcp, ws), counted by the pipe
     * callback, and their cap: a quarter of RLIMIT_NOFILE at start, so
     * that callers who never authenticate cannot take every descriptor
     * (ipc and inproc callers are not counted). */
    atomic_size_t net_pipes;
    size_t        net_pipe_cap;
} nox__nng_auth_t;

/* Check the URLs of o against the rules (a non-loopback network address
 * needs a token or insecure_no_auth, which warns; a tls+tcp:// URL needs
 * tls_cert and tls_key, which must load) and fill a from o. NOX_EINVAL
 * naming the URL or option; NOX_ERESOURCE when memory runs out. Call
 * nox__nng_auth_fini either way, also on a zeroed a. */
nox_err_t nox__nng_auth_init(nox__nng_auth_t *a, const nox_server_opts_t *o,
                             nox_status_t *st);

void nox__nng_auth_fini(nox__nng_auth_t *a);

/* Prepare listener l (created, not started) for url: the ipc socket's
 * mode, or the TLS configuration. 0 or an NNG error. a may be NULL
 * (nothing to do). */
int nox__nng_auth_listener(const nox__nng_auth_t *a, nng_listener l,
                           const char *url);

/* Count pipe p's event ev (NNG_PIPE_EV_ADD_PRE, NNG_PIPE_EV_REM_POST;
 * others are ignored) if p is a network connection. false for an ADD_PRE
 * over the cap: the caller closes p (its REM_POST still comes and is
 * counted). Called from NNG's pipe callback. */
bool nox__nng_auth_pipe_event(nox__nng_auth_t *a, nng_pipe p, nng_pipe_ev ev);

/* Who sent msg: NOX_OK with *need_token the token the request must carry
 * (NULL: none), or NOX_EDENIED with st saying why (an ipc peer that may
 * not call; also a connection gone before it could be looked at). */
nox_err_t nox__nng_auth_peer(const nox__nng_auth_t *a, nng_msg *msg,
                             const char **need_token, nox_status_t *st);

#endif /* NOX_SERVER_NNG_AUTH_H */
