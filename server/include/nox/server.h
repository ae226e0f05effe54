/*
 * nox/server.h - the NoxRunner RPC service on NNG req/rep.
 *
 * nox_server_t serves the noxrunner.v1.Sandbox service (see
 * proto/noxrunner/v1/sandbox.proto for the envelope) for one engine on one
 * or more NNG listen URLs: ipc://, tcp:// or inproc:// (a client in the
 * same process, as nox-bench's inproc row). Requests are served concurrently by
 * a pool of worker threads, each with its own NNG context; the TTL reaper is a
 * thread of the server. The same service is served as NoxRunner's REST API
 * on the http and https addresses of the options (server/http/).
 *
 * Thread safety: nox_server_start and nox_server_stop must not race on the
 * same server; otherwise the server is self-contained.
 */
#ifndef NOX_SERVER_H
#define NOX_SERVER_H

#include "nox/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOX_VERSION "0.1.0"
#define NOX_DEFAULT_URL "ipc:///tmp/noxrunner.ipc"
#define NOX_DEFAULT_WORKERS 16
#define NOX_DEFAULT_MAX_MESSAGE_BYTES (64u * 1024 * 1024)
#define NOX_ENVELOPE_SLACK (1024 * 1024) /* NNG limit = max + slack */
#define NOX_DEFAULT_REAP_INTERVAL_MS 5000
#define NOX_DEFAULT_SHUTDOWN_GRACE_MS 10000

typedef struct nox_server nox_server_t; /* opaque; layout in server.c */

typedef struct {
    nox_engine_t      *engine;  /* borrowed; must outlive the server */
    const char *const *urls;    /* listen URLs */
    size_t             n_urls;  /* >= 1, or 0 with http or https addresses */
    int                workers; /* 0: NOX_DEFAULT_WORKERS */
    size_t             max_message_bytes; /* 0: NOX_DEFAULT_MAX_MESSAGE_BYTES */
    int                reap_interval_ms;  /* 0: default; < 0: no reaper */
    /* How long nox_server_stop lets calls in flight finish before it
     * kills their commands; 0: NOX_DEFAULT_SHUTDOWN_GRACE_MS; < 0: none. */
    int64_t shutdown_grace_ms;

    /* NoxRunner's REST API (README "Use it as a NoxRunner backend"):
     * "HOST:PORT" addresses served over plain HTTP and over HTTPS. */
    const char *const *http_addrs;
    size_t             n_http;
    const char *const *https_addrs; /* need tls_cert and tls_key */
    size_t             n_https;
    /* PEM certificate chain and private key for https and tls+tcp://. */
    const char *tls_cert;
    const char *tls_key;
    /* The bearer token every request over tcp://, tls+tcp://, http and
     * https must carry (RpcRequest.token; "Authorization: Bearer"), or
     * NULL for none ("" is refused: NOX_EINVAL). Compared in constant
     * time. */
    const char *token;
    /* Users besides the server's own that may call over ipc:// (whose
     * socket is created mode 0600 so that no other user can connect
     * unless listed here: then it is 0666 and each request is checked
     * against the peer's uid). */
    const unsigned *ipc_allow_uids;
    size_t          n_ipc_allow_uids;
    /* Serve a non-loopback tcp:// or http address without a token (loudly
     * warned); without it such a start fails with NOX_EINVAL. */
    bool insecure_no_auth;
    /* Open HTTP connections at once; beyond, 503. 0: default (256). */
    unsigned http_max_connections;
} nox_server_opts_t;

/* Listen on every URL and start serving. On success *out owns the server
 * (release: nox_server_stop()). Fails with NOX_EINVAL for a bad URL or
 * option and NOX_EUNAVAIL when an address cannot be bound (message names
 * it); nothing is left running then. */
nox_err_t nox_server_start(nox_server_t **out, const nox_server_opts_t *o,
                           nox_status_t *st);

/* Stop accepting now: ipc socket files are removed, new connections are
 * closed at once and new requests on open ones answered UNAVAILABLE; the
 * reaper stops. Calls in flight go on. Returns at once; idempotent. */
void nox_server_quiesce(nox_server_t *s);

/* Calls received and not yet answered. */
size_t nox_server_in_flight(nox_server_t *s);

/* End the grace of a nox_server_stop in progress (or of the next one):
 * may be called from any thread while s exists. */
void nox_server_end_grace(nox_server_t *s);

/* Quiesce, give calls in flight the shutdown grace to finish and reply,
 * then kill the engine's commands that still run (their callers get
 * UNAVAILABLE), close the listeners and free s. Commands run by Exec
 * calls do not hold a worker: the engine's command thread answers them.
 * NULL is a no-op. */
void nox_server_stop(nox_server_t *s);

#endif /* NOX_SERVER_H */
