/*
 * server_impl.h - the server's state, shared by server.c (listeners,
 * housekeeping, start and stop) and worker.c (workers, calls in flight,
 * late replies). Private to the server.
 */
#ifndef NOX_SERVER_IMPL_H
#define NOX_SERVER_IMPL_H

#include "dispatch.h"
#include "nng_auth.h"
#include "nox/server.h"
#include "server_priv.h"

#include <nng/nng.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* How long a reply may wait behind an earlier reply on the same
 * connection (a peer that does not read). Bounds how long stop waits. */
#define SERVER_SEND_TIMEOUT_MS 10000

typedef struct {
    nox_server_t *srv;
    nng_ctx       ctx;
    bool          ctx_open;
    /* Receive and send use separate aios so that stop can cancel a
     * pending receive without any risk of cancelling a reply. */
    nng_aio    *recv_aio; /* NULL until allocated */
    nng_aio    *send_aio; /* NULL until allocated */
    pthread_t   thread;
    bool        started;
    atomic_bool exited; /* the worker loop has returned */
    nng_msg    *msg;    /* the request being served */
    nng_ctx     spare;  /* the next ctx, once server_later gave this one */
} server_worker_t;

/* A call whose reply comes when its command ends: it owns the context the
 * request came on, and the message the reply is packed into. */
typedef struct {
    nox_server_t *srv;
    nng_ctx       ctx;
    nng_ctx       spare; /* the worker's next context */
    nng_msg      *msg;
    nng_aio      *aio; /* sends the reply; its callback frees all */
} server_late_t;

struct nox_server {
    nng_socket         sock;
    bool               sock_open;
    nox_dispatch_ctx_t dctx;
    nox__nng_auth_t    auth;     /* who may call, per transport */
    atomic_bool        stopping; /* set once by quiesce; read by all */
    atomic_bool        abandon;  /* the grace is over: late replies say
                                    UNAVAILABLE */
    atomic_bool  workers_stop;   /* workers leave their loops */
    atomic_llong last_reply_ms;  /* nox__mono_ms() of the last send */
    int64_t      grace_ms;       /* shutdown grace; < 0: none */

    /* Calls received and not yet answered; stop waits for them. */
    pthread_mutex_t flight_mu;
    pthread_cond_t  flight_cv; /* CLOCK_MONOTONIC */
    bool            flight_init;
    size_t          in_flight;
    size_t          sending;     /* of those: HTTP replies being sent */
    bool            flight_wake; /* in_flight reached 0, or grace over */
    bool            grace_over;

    struct nox__http *http; /* the REST gateway, or NULL */

    nox__listener_t *listeners;
    size_t           n_listeners;
    server_worker_t *workers;
    size_t           n_workers;

    int             reap_interval_ms; /* < 0: no reaper */
    bool            watch_ipc;        /* some listener is ipc:// */
    bool            drain;            /* some listener is not inproc:// */
    pthread_t       keeper;           /* housekeeping thread */
    bool            keeper_started;
    bool            sync_init; /* mu and cv initialised */
    pthread_mutex_t mu;        /* guards keeper_stop/_wake, listeners[].l */
    pthread_cond_t  cv;        /* signalled when keeper_stop is set */
    bool            keeper_stop;
    bool            keeper_wake; /* stop, or connections came or went */
    atomic_llong    conn_ms;     /* nox__mono_ms() of the last of those */
};

/* A call was received / answered (every transport: NNG's workers and
 * the HTTP gateway). The last end may let stop free s: the caller touches
 * nothing of s after it. */
void nox__server_flight_begin(nox_server_t *s);
void nox__server_flight_end(nox_server_t *s);
/* The HTTP gateway's call has its reply queued; the flight ends (with
 * nox__server_flight_sent) once it is sent or its connection closed. Past the
 * grace, stop does not wait for replies being sent: a client that reads slowly
 * (or never) would hold it for ever; stopping the gateway closes them. */
void nox__server_flight_sending(nox_server_t *s);
void nox__server_flight_sent(nox_server_t *s);

/* Start s->n_workers workers on s->sock. NOX_OK, or an error with the
 * ones started so far left for nox__server_stop_workers. */
nox_err_t nox__server_start_workers(nox_server_t *s, nox_status_t *st);

/* Wake the workers, join them (each finishes and answers its current
 * request first) and release their contexts. */
void nox__server_stop_workers(nox_server_t *s);

#endif /* NOX_SERVER_IMPL_H */
