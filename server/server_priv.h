/*
 * server_priv.h - internals of the server shared between server.c,
 * listener.c, noxrunnerd and the tests; not installed.
 *
 * A nox__listener_t is one listen URL of the server's rep0 socket. For
 * ipc:// URLs it also owns the socket file: it refuses to bind over a live
 * server or a non-socket file, can be checked and re-bound while serving
 * (listener.c says why), and removes its file when closed.
 *
 * Thread safety: nox__server_url may be called from any thread while the
 * server runs. A listener is started and closed by one thread; while
 * serving, only the server's housekeeping thread calls
 * nox__listener_watch, which swaps the NNG listener under *mu, and the NNG
 * pipe callback calls nox__listener_count_pipe.
 */
#ifndef NOX_SERVER_PRIV_H
#define NOX_SERVER_PRIV_H

#include "nox/server.h"

#include <nng/nng.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The URL listener i (in the order of nox_server_opts_t.urls) actually
 * listens on: for "tcp://host:0" it names the port the kernel chose. The
 * URL is copied into buf (len bytes, NUL-terminated). NOX_EINVAL for a bad
 * index or a buffer too small, NOX_EINTERNAL if NNG cannot say. */
nox_err_t nox__server_url(nox_server_t *s, size_t i, char *buf, size_t len);

typedef struct {
    nng_listener  l; /* current; swapped under *mu by a rebind */
    bool          started;
    char         *url;      /* owned copy: rebinds outlive the options */
    char         *ipc_path; /* ipc:// only: the socket file, else NULL */
    dev_t         dev;      /* identity of the file we bound, so we never */
    ino_t         ino;      /* probe, replace or remove another's file */
    bool          have_ino;
    atomic_int    id;      /* nng_listener_id(l), for the pipe callback */
    atomic_uint   accepts; /* connections l handed to the socket */
    nng_listener *retired; /* replaced listeners, closed with this one */
    size_t        n_retired;
} nox__listener_t;

/* Prepare a zeroed listener. */
void nox__listener_init(nox__listener_t *sl);

/* Listen on url with sock. NOX_EINVAL for a malformed or unsupported
 * URL, NOX_EUNAVAIL when the address is taken (for ipc:// also: a live or
 * hung server, or a file that is not a socket, holds the path). Call
 * nox__listener_close afterwards either way. */
nox_err_t nox__listener_start(nox__listener_t *sl, nng_socket sock,
                              const char *url, nox_status_t *st);

/* ipc:// listeners need watching. */
bool nox__listener_is_ipc(const nox__listener_t *sl);

/* Check that an ipc listener still accepts at its path and bind a fresh
 * one there if not (also when its file was deleted). Blocks for up to a
 * second or so. */
void nox__listener_watch(nox__listener_t *sl, nng_socket sock,
                         pthread_mutex_t *mu);

/* Called for every new pipe of the socket: credit the listener of v[0..n)
 * that accepted it. */
void nox__listener_count_pipe(nox__listener_t *v, size_t n, nng_pipe p);

/* nox__server_url for one listener. */
nox_err_t nox__listener_url(nox__listener_t *sl, pthread_mutex_t *mu, char *buf,
                            size_t len);

/* Close the listener (and the ones it replaced), remove our ipc socket
 * file and free the listener's storage. */
void nox__listener_close(nox__listener_t *sl);

#endif /* NOX_SERVER_PRIV_H */
