/*
 * nox/server.h - the NoxRunner RPC service on NNG req/rep.
 *
 * nox_server_t serves the noxrunner.v1.Sandbox service (see
 * proto/noxrunner/v1/sandbox.proto for the envelope) for one engine on one
 * or more NNG listen URLs: ipc://, tcp:// or inproc:// (a client in the
 * same process, as nox-bench's inproc row). Requests are served concurrently by
 * a pool of worker threads, each with its own NNG context; the TTL reaper is a
 * thread of the server.
 *
 * Thread safety: nox_server_start and nox_server_stop must not race on the
 * same server; otherwise the server is self-contained.
 */
#ifndef NOX_SERVER_H
#define NOX_SERVER_H

#include "nox/engine.h"

#include <stddef.h>

#define NOX_VERSION "0.1.0"
#define NOX_DEFAULT_URL "ipc:///tmp/noxrunner.ipc"
#define NOX_DEFAULT_WORKERS 16
#define NOX_DEFAULT_MAX_MESSAGE_BYTES (64u * 1024 * 1024)
#define NOX_ENVELOPE_SLACK (1024 * 1024) /* NNG limit = max + slack */
#define NOX_DEFAULT_REAP_INTERVAL_MS 5000

typedef struct nox_server nox_server_t; /* opaque; layout in server.c */

typedef struct {
    nox_engine_t      *engine;  /* borrowed; must outlive the server */
    const char *const *urls;    /* listen URLs */
    size_t             n_urls;  /* >= 1 */
    int                workers; /* 0: NOX_DEFAULT_WORKERS */
    size_t             max_message_bytes; /* 0: NOX_DEFAULT_MAX_MESSAGE_BYTES */
    int                reap_interval_ms;  /* 0: default; < 0: no reaper */
} nox_server_opts_t;

/* Listen on every URL and start serving. On success *out owns the server
 * (release: nox_server_stop()). Fails with NOX_EINVAL for a bad URL or
 * option and NOX_EUNAVAIL when an address cannot be bound (message names
 * it); nothing is left running then. */
nox_err_t nox_server_start(nox_server_t **out, const nox_server_opts_t *o,
                           nox_status_t *st);

/* Stop accepting, let in-flight requests finish and reply, stop the
 * reaper, close the listeners (an ipc socket file is removed) and free s.
 * NULL is a no-op. */
void nox_server_stop(nox_server_t *s);

#endif /* NOX_SERVER_H */
