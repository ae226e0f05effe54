/*
 * server_priv.h - internals of the server shared between server.c,
 * listener.c, noxrunnerd and the tests; not installed.
 *
 * A nox__listener_t is one listen URL of the server's rep0 socket. For
 * ipc:// URLs it also owns the socket file: it refuses to bind over a live
 * server or a non-socket file, is checked and re-bound while serving
 * (listener.c says why), and removes its file when closed. It counts the
 * open connections of each NNG listener it has had, so that a replaced one
 * is closed once its last connection is gone.
 *
 * Thread safety: nox__server_url may be called from any thread while the
 * server runs. A listener is started, closed and freed by one thread;
 * while serving, only the server's housekeeping thread calls
 * nox__listener_watch, which swaps the NNG listener under *mu, and the NNG
 * pipe callback calls nox__listener_pipe_event (from NNG's threads, until
 * the socket is closed).
 */
#ifndef NOX_SERVER_PRIV_H
#define NOX_SERVER_PRIV_H

#include "nox/server.h"

#include <nng/nng.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* nng before 1.6.0 stops handing an ipc listener's connections to the
 * socket once a peer hung up in the middle of the SP handshake (nng issue
 * #1518, fixed by nng pull request #1519, released in 1.6.0). The
 * listener watch that works around it (listener.c) exists only for those
 * versions; -DNOX_NNG_IPC_LISTENER_BUG=0 leaves it out anyway. */
#ifndef NOX_NNG_IPC_LISTENER_BUG
#if NNG_MAJOR_VERSION == 1 && NNG_MINOR_VERSION < 6
#define NOX_NNG_IPC_LISTENER_BUG 1
#else
#define NOX_NNG_IPC_LISTENER_BUG 0
#endif
#endif

/* The URL listener i (in the order of nox_server_opts_t.urls) actually
 * listens on: for "tcp://host:0" it names the port the kernel chose. The
 * URL is copied into buf (len bytes, NUL-terminated). NOX_EINVAL for a bad
 * index or a buffer too small, NOX_EINTERNAL if NNG cannot say. */
nox_err_t nox__server_url(nox_server_t *s, size_t i, char *buf, size_t len);

/* The REST gateway's addresses (http ones first, in the order of
 * nox_server_opts_t.http_addrs, then https ones): how many, and the URL
 * address i is served at, with the real port ("http://127.0.0.1:8080",
 * "https://[::1]:8443"). NOX_EINVAL for a bad index or a buffer too
 * small. */
size_t    nox__server_http_count(nox_server_t *s);
nox_err_t nox__server_http_url(nox_server_t *s, size_t i, char *buf,
                               size_t len);

/* An NNG listener that a rebind replaced, open until its connections are
 * gone. */
typedef struct {
    nng_listener l;
    int          id;         /* nng_listener_id(l) */
    unsigned     live;       /* its connections open now */
    bool         at_path;    /* bound at the path itself (see listener.c) */
    int64_t      retired_ms; /* nox__mono_ms() when it was replaced */
} nox__listener_old_t;

struct nox__nng_auth; /* nng_auth.h */

typedef struct {
    nng_listener l; /* current; swapped under *mu by a rebind */
    /* The ipc socket's mode or the TLS configuration, applied to every
     * NNG listener made for this URL (rebinds too); borrowed from the
     * server, NULL: none. */
    const struct nox__nng_auth *auth;
    bool                        started;
    char *url;      /* owned copy: rebinds outlive the options */
    char *ipc_path; /* ipc:// only: the socket file, else NULL */
    dev_t dev;      /* identity of the file we bound, so we never */
    ino_t ino;      /* probe, replace or remove another's file */
    bool  have_ino;
    /* The watch's own state (housekeeping thread only). */
    uint64_t errs;     /* l's error count at the last check */
    bool     no_stats; /* NNG keeps no statistics: probe instead */
    int64_t  probe_ms; /* nox__mono_ms() of the last probe */
    int64_t  file_ms;  /* nox__mono_ms() of the last file check */
    unsigned binds;    /* ipc listeners made, for unique bind names */
    /* Connection counts, kept by the pipe callback. pipes_mu guards the
     * fields below it; no NNG call is made while holding it. */
    pthread_mutex_t      pipes_mu;
    bool                 mu_init;
    int                  id;      /* nng_listener_id(l); -1 before start */
    unsigned             accepts; /* connections l handed to the socket */
    unsigned             live;    /* connections of l open now */
    unsigned             closed;  /* of l's, closed since the last check */
    bool                 at_path; /* l is bound at the path itself */
    nox__listener_old_t *old;     /* replaced listeners still open */
    size_t               n_old, cap_old;
} nox__listener_t;

/* Prepare a zeroed listener. NOX_EINTERNAL if its mutex cannot be made;
 * nox__listener_fini is safe either way. */
nox_err_t nox__listener_init(nox__listener_t *sl, nox_status_t *st);

/* Listen on url with sock, prepared by auth (may be NULL; borrowed for
 * the listener's life). NOX_EINVAL for a malformed or unsupported URL,
 * NOX_EUNAVAIL when the address is taken (for ipc:// also: a live or hung
 * server, or a file that is not a socket, holds the path). Call
 * nox__listener_close and nox__listener_fini afterwards either way. */
nox_err_t nox__listener_start(nox__listener_t *sl, nng_socket sock,
                              const char *url, const struct nox__nng_auth *auth,
                              nox_status_t *st);

/* ipc:// listeners need watching (with NOX_NNG_IPC_LISTENER_BUG). */
bool nox__listener_is_ipc(const nox__listener_t *sl);

/* With NOX_NNG_IPC_LISTENER_BUG, for an ipc listener: look for signs that it
 * stopped handing new connections to the socket and bind a fresh one at its
 * path if so (also when its file was deleted); close replaced listeners whose
 * connections are all gone. Takes microseconds when all is well (a millisecond
 * or two every few seconds for a probe), up to about 0.1 s when it rebinds.
 * Returns the microseconds spent reading NNG's statistics, which grows
 * with the number of connections, so the caller can space its calls.
 * quiet: no connection came or went lately; the handshake probe (itself
 * a connection) is then skipped unless there are no statistics.
 * Without the bug: does nothing and returns 0. */
int64_t nox__listener_watch(nox__listener_t *sl, nng_socket sock,
                            pthread_mutex_t *mu, bool quiet);

/* Called for NNG_PIPE_EV_ADD_PRE and NNG_PIPE_EV_REM_POST of every pipe
 * of the socket: count it for the listener of v[0..n) that accepted it. */
void nox__listener_pipe_event(nox__listener_t *v, size_t n, nng_pipe p,
                              nng_pipe_ev ev);

/* Open NNG listeners of sl: the current one and those it replaced that
 * still have connections (for tests). */
size_t nox__listener_open_count(nox__listener_t *sl);

/* nox__server_url for one listener. */
nox_err_t nox__listener_url(nox__listener_t *sl, pthread_mutex_t *mu, char *buf,
                            size_t len);

/* Remove our ipc socket file now, so nobody can connect any more, while
 * the connections open stay (NNG would close them with the listener). No
 * effect on other listeners; call only once the watch no longer runs. */
void nox__listener_unpublish(nox__listener_t *sl);

/* Close the listener and the ones it replaced, and remove our ipc socket
 * file. The pipe callback may still run until the socket is closed, so
 * the storage stays until nox__listener_fini. */
void nox__listener_close(nox__listener_t *sl);

/* Free the listener's storage; call after the socket is closed. Safe on
 * a zeroed listener. */
void nox__listener_fini(nox__listener_t *sl);

/* Open NNG listeners of server s, over all its URLs (for tests). */
size_t nox__server_listener_count(nox_server_t *s);

#endif /* NOX_SERVER_PRIV_H */
