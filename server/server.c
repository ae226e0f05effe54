/*
 * server.c - the NNG rep0 loop: listeners, a pool of workers, and a
 * housekeeping thread (the TTL reaper and the ipc listener watch).
 *
 * One rep0 socket listens on every URL. Each worker thread owns an NNG
 * context and an aio and serves one request at a time (receive, dispatch,
 * reply). An Exec does not hold its worker while the command runs: the
 * worker starts the command, hands its context and the request's message
 * to the call (server_late_t) and opens a fresh context for itself; the
 * engine's command thread packs the reply when the command ends and sends
 * it on the call's context without waiting (the send's callback frees the
 * call). So the number of running commands is bounded by the sandboxes'
 * limits, not by the workers, and Health never queues behind an Exec. An
 * idle worker sleeps in a receive without a timeout; stop cancels it.
 *
 * Stopping: NNG closes a listener's connections together with the
 * listener, which would drop the replies of requests still running. So
 * stop first removes the ipc socket files (nobody can connect any more)
 * and refuses new connections (a pipe callback closes them while the
 * stop flag is set) and new requests (UNAVAILABLE). Calls in flight get
 * the shutdown grace; then the engine kills the commands still running
 * and their callers are answered UNAVAILABLE. Only when every call has
 * been answered are the listeners and the socket closed.
 *
 * The housekeeping thread runs the TTL reaper and, for ipc:// URLs, the
 * listener watch that works around an nng 1.5.2 bug (see listener.c). The
 * pipe callback counts each listener's connections for that watch, and
 * wakes it when connections come after a quiet spell. An idle server
 * wakes only for those two, about every two seconds.
 */
#include "nox/server.h"
#include "dispatch.h"
#include "server_priv.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a reply may wait behind an earlier reply on the same
 * connection (a peer that does not read). Bounds how long stop waits. */
#define SERVER_SEND_TIMEOUT_MS 10000
/* After the last worker stops, replies handed to NNG may still be on their
 * way into the kernel (large ones are written in pieces by NNG's poller),
 * and closing the socket would cut them off: give them this long. */
#define SERVER_DRAIN_MS 250
/* How often the ipc listener watch runs (listener.c says what it looks
 * for). A client that connects between a listener's break and the next
 * run waits until that run, so it runs often while clients come and go:
 * every SERVER_WATCH_MS for SERVER_WATCH_BUSY_MS after a connection
 * opened or closed (a break happens in a connection attempt, and clients
 * of a busy server connect at any time). Idle, a run would cost nothing
 * but its wakeup, and a server nobody connects to should sleep: then it
 * runs every SERVER_WATCH_IDLE_MS. Reading the statistics takes about
 * 2 us more per open connection, so runs are spaced by at least
 * SERVER_WATCH_SHARE times their duration: with many connections the
 * watch takes at most 1/SERVER_WATCH_SHARE of a core. */
#define SERVER_WATCH_MS 20
#define SERVER_WATCH_BUSY_MS 1000
#define SERVER_WATCH_IDLE_MS 2000
#define SERVER_WATCH_SHARE 100
/* A reap due within this long of a watch run is done in the same wakeup
 * (at most a fifth of the reap interval early). */
#define SERVER_REAP_SLACK_MS 1000
#define SERVER_MAX_WORKERS 4096
/* Protobuf messages are limited to 2 GiB; so is the payload + slack. */
#define SERVER_MAX_MESSAGE_LIMIT ((size_t)INT32_MAX - NOX_ENVELOPE_SLACK)

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
    bool            flight_wake; /* in_flight reached 0, or grace over */
    bool            grace_over;

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

/* ---- workers ---- */

/* An RpcResponse with code and message, packed into a stack buffer: the
 * reply of last resort when dispatch itself ran out of memory, and the
 * answer of a server that is shutting down. */
static size_t
server_status_reply(uint8_t *buf, size_t cap, nox_err_t code,
                    const char *message)
{
    Noxrunner__V1__RpcResponse r = NOXRUNNER__V1__RPC_RESPONSE__INIT;

    r.code = nox_err_to_wire(code);
    r.message = (char *)message; /* only read */
    if (noxrunner__v1__rpc_response__get_packed_size(&r) > cap)
        return 0;
    return noxrunner__v1__rpc_response__pack(&r, buf);
}

/* Replace msg's body with an error reply. Returns 0 or an NNG error. */
static int
server_set_status(nng_msg *msg, nox_err_t code, const char *message)
{
    uint8_t buf[128];
    size_t  n = server_status_reply(buf, sizeof(buf), code, message);

    nng_msg_clear(msg);
    if (n == 0)
        return NNG_ENOMEM;
    return nng_msg_append(msg, buf, n);
}

/* The dispatcher's allocator: the reply replaces the request in its own
 * message (nox_dispatch_alloc_fn says when that is safe), so a reply is
 * packed once, straight into what NNG sends. */
static uint8_t *
server_reply_alloc(void *arg, size_t size)
{
    nng_msg *msg = arg;

    nng_msg_clear(msg);
    if (nng_msg_realloc(msg, size) != 0)
        return NULL;
    return nng_msg_body(msg);
}

/* ---- calls in flight ---- */

static void
server_flight_begin(nox_server_t *s)
{
    (void)pthread_mutex_lock(&s->flight_mu);
    s->in_flight++;
    (void)pthread_mutex_unlock(&s->flight_mu);
}

/* A call was answered. The last one may let stop free s: nothing of s is
 * touched after the unlock. */
static void
server_flight_end(nox_server_t *s)
{
    (void)pthread_mutex_lock(&s->flight_mu);
    if (--s->in_flight == 0) {
        s->flight_wake = true;
        (void)pthread_cond_broadcast(&s->flight_cv);
    }
    (void)pthread_mutex_unlock(&s->flight_mu);
}

/* ---- late replies (Exec) ---- */

/* The send's callback (an NNG thread): the call is over. */
static void
server_late_sent(void *arg)
{
    server_late_t *late = arg;
    nox_server_t  *s = late->srv;

    /* A failed send (peer gone, timeout) leaves the message with us. */
    if (nng_aio_result(late->aio) != 0)
        nng_msg_free(nng_aio_get_msg(late->aio));
    atomic_store(&s->last_reply_ms, nox__mono_ms());
    (void)nng_ctx_close(late->ctx); /* only NNG_ECLOSED: gone with s */
    nng_aio_reap(late->aio);        /* nng_aio_free must not run here */
    free(late);
    server_flight_end(s);
}

/* The dispatcher's done function (the engine's command thread): send the
 * packed reply on the call's own context, without waiting. */
static void
server_late_done(void *arg, nox_err_t rv, size_t reply_len)
{
    server_late_t *late = arg;
    int            err = 0;

    (void)reply_len; /* the reply fills the message exactly */
    if (atomic_load(&late->srv->abandon))
        err = server_set_status(late->msg, NOX_EUNAVAIL,
                                "the server shut down before the command "
                                "ended");
    else if (rv != NOX_OK)
        err = server_set_status(late->msg, NOX_ERESOURCE, "out of memory");
    if (err != 0) {
        /* No reply at all (no memory for 128 bytes): the client's own
         * timeout tells it. Not an aio callback: freeing is fine here. */
        nox_server_t *s = late->srv;
        nng_msg_free(late->msg);
        (void)nng_ctx_close(late->ctx);
        nng_aio_free(late->aio);
        free(late);
        server_flight_end(s);
        return;
    }
    nng_aio_set_msg(late->aio, late->msg);
    nng_aio_set_timeout(late->aio, SERVER_SEND_TIMEOUT_MS);
    nng_ctx_send(late->ctx, late->aio);
}

/* The dispatcher asks whether the reply may come later: yes when a fresh
 * context for the worker and an aio for the send can be had. The worker
 * then goes on with the fresh context while the command runs. */
static void *
server_later(void *arg)
{
    server_worker_t *w = arg;
    server_late_t   *late = calloc(1, sizeof(*late));

    if (late == NULL)
        return NULL;
    if (nng_aio_alloc(&late->aio, server_late_sent, late) != 0) {
        free(late);
        return NULL;
    }
    if (nng_ctx_open(&late->spare, w->srv->sock) != 0) {
        nng_aio_free(late->aio);
        free(late);
        return NULL;
    }
    late->srv = w->srv;
    late->ctx = w->ctx;
    late->msg = w->msg;
    w->spare = late->spare;
    return late;
}

/* The command could not start after all: the worker replies itself. */
static void
server_late_forget(void *arg)
{
    server_late_t *late = arg;

    (void)nng_ctx_close(late->spare); /* never used */
    nng_aio_free(late->aio);          /* never started */
    free(late);
}

/* ---- workers ---- */

/* Send msg on the worker's context and wait for it. */
static void
server_send(server_worker_t *w, nng_msg *msg)
{
    nng_aio_set_msg(w->send_aio, msg);
    nng_aio_set_timeout(w->send_aio, SERVER_SEND_TIMEOUT_MS);
    nng_ctx_send(w->ctx, w->send_aio);
    nng_aio_wait(w->send_aio);
    atomic_store(&w->srv->last_reply_ms, nox__mono_ms());
    /* A failed send (peer gone, timeout) leaves the message with us. The
     * client's req socket resends or reports its own timeout. */
    if (nng_aio_result(w->send_aio) != 0)
        nng_msg_free(nng_aio_get_msg(w->send_aio));
}

/* Serve one received message: reply on the worker's context, or hand the
 * context to a late reply and take a fresh one. An nng_msg belongs to NNG
 * once sent; on any failure we free it. */
static void
server_serve(server_worker_t *w, nng_msg *msg)
{
    nox_server_t        *s = w->srv;
    nox_dispatch_reply_t rep = {server_reply_alloc, msg,
                                server_later,       w,
                                server_late_done,   server_late_forget};
    bool                 pending = false;
    size_t               n = 0;
    int                  err = 0;

    server_flight_begin(s);
    w->msg = msg;
    if (atomic_load(&s->stopping)) {
        /* Shutting down: new calls are refused, in-flight ones finish. */
        err = server_set_status(msg, NOX_EUNAVAIL,
                                "the server is shutting "
                                "down");
    } else if (nox__dispatch_start(&s->dctx, nng_msg_body(msg),
                                   nng_msg_len(msg), &rep, &pending,
                                   &n) != NOX_OK) {
        err = server_set_status(msg, NOX_ERESOURCE, "out of memory");
    }
    w->msg = NULL;
    if (pending) {
        w->ctx = w->spare; /* the old one is the late reply's now */
        return;
    }
    if (err != 0)
        nng_msg_free(msg);
    else
        server_send(w, msg);
    server_flight_end(s);
}

static void *
server_worker_main(void *arg)
{
    server_worker_t *w = arg;
    int              rv;

    /* No timeout: an idle worker sleeps in NNG until a request comes or
     * stop cancels the receive. */
    nng_aio_set_timeout(w->recv_aio, NNG_DURATION_INFINITE);
    while (!atomic_load(&w->srv->workers_stop)) {
        nng_ctx_recv(w->ctx, w->recv_aio);
        nng_aio_wait(w->recv_aio);
        rv = nng_aio_result(w->recv_aio);
        if (rv == NNG_ECANCELED || rv == NNG_ETIMEDOUT)
            continue; /* woken by stop: look at the flag */
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0) {
            /* Transient (e.g. NNG_ENOMEM): back off instead of spinning. */
            nng_msleep(10);
            continue;
        }
        server_serve(w, nng_aio_get_msg(w->recv_aio));
    }
    atomic_store(&w->exited, true);
    return NULL;
}

static nox_err_t
server_start_workers(nox_server_t *s, nox_status_t *st)
{
    int rv;

    for (size_t i = 0; i < s->n_workers; i++) {
        server_worker_t *w = &s->workers[i];

        w->srv = s;
        atomic_init(&w->exited, false);
        rv = nng_aio_alloc(&w->recv_aio, NULL, NULL);
        if (rv == 0)
            rv = nng_aio_alloc(&w->send_aio, NULL, NULL);
        if (rv != 0)
            return nox__status_set(st, NOX_ERESOURCE, "nng_aio_alloc: %s",
                                   nng_strerror(rv));
        rv = nng_ctx_open(&w->ctx, s->sock);
        if (rv != 0)
            return nox__status_set(st, NOX_EINTERNAL, "nng_ctx_open: %s",
                                   nng_strerror(rv));
        w->ctx_open = true;
        rv = pthread_create(&w->thread, NULL, server_worker_main, w);
        if (rv != 0)
            return nox__status_errno(st, NOX_EINTERNAL, rv,
                                     "cannot start worker thread");
        w->started = true;
    }
    return NOX_OK;
}

/* Wake the workers that sleep in a receive. A cancel that lands before
 * a worker starts its next receive is lost, so repeat until every
 * started worker has left its loop; a busy worker finishes and replies
 * first (only receives are cancelled). */
static void
server_wake_workers(nox_server_t *s)
{
    bool all;

    atomic_store(&s->workers_stop, true);
    do {
        all = true;
        for (size_t i = 0; i < s->n_workers; i++) {
            server_worker_t *w = &s->workers[i];
            if (!w->started || atomic_load(&w->exited))
                continue;
            all = false;
            nng_aio_cancel(w->recv_aio);
        }
        if (!all)
            nng_msleep(1);
    } while (!all);
}

/* Join the workers (each finishes and answers its current request first)
 * and release their contexts. */
static void
server_stop_workers(nox_server_t *s)
{
    server_wake_workers(s);
    for (size_t i = 0; i < s->n_workers; i++) {
        server_worker_t *w = &s->workers[i];

        if (w->started)
            (void)pthread_join(w->thread, NULL); /* cannot fail: joinable */
        /* The only error is NNG_ECLOSED, and the context is gone then. */
        if (w->ctx_open)
            (void)nng_ctx_close(w->ctx);
        if (w->recv_aio != NULL)
            nng_aio_free(w->recv_aio);
        if (w->send_aio != NULL)
            nng_aio_free(w->send_aio);
    }
}

/* Wait until the last reply has had SERVER_DRAIN_MS to leave. */
static void
server_drain(nox_server_t *s)
{
    int64_t left =
        atomic_load(&s->last_reply_ms) + SERVER_DRAIN_MS - nox__mono_ms();

    /* inproc:// hands a reply over in memory: nothing is in flight once
     * the send completed. */
    if (s->drain && left > 0)
        nng_msleep((nng_duration)left);
}

/* ---- listeners ---- */

/* A connection opened or closed: the watch runs often for a while. If it
 * was quiet until now, the housekeeping thread may be in a long sleep:
 * wake it. */
static void
server_note_connection(nox_server_t *s)
{
    int64_t now = nox__mono_ms();
    int64_t was = atomic_exchange(&s->conn_ms, now);

    if (!s->watch_ipc || now - was < SERVER_WATCH_BUSY_MS)
        return; /* no watch, or it is in its busy cadence already */
    (void)pthread_mutex_lock(&s->mu);
    s->keeper_wake = true;
    (void)pthread_cond_signal(&s->cv);
    (void)pthread_mutex_unlock(&s->mu);
}

/* Count connections per listener (the ipc watch closes a replaced
 * listener once its count drops to 0). While stopping, close every new
 * connection before it can send a request; the ones already open stay so
 * their replies get through. */
static void
server_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    nox_server_t *s = arg;

    nox__listener_pipe_event(s->listeners, s->n_listeners, p, ev);
    if (ev == NNG_PIPE_EV_ADD_PRE && atomic_load(&s->stopping))
        (void)nng_pipe_close(p); /* fails only if already closed */
    server_note_connection(s);
}

/* Run the ipc watch; returns the milliseconds until the next run. */
static int64_t
server_watch(nox_server_t *s)
{
    int64_t cost_us = 0;
    int64_t spacing;
    bool    quiet =
        nox__mono_ms() - atomic_load(&s->conn_ms) >= SERVER_WATCH_BUSY_MS;

    for (size_t i = 0; i < s->n_listeners; i++)
        if (!atomic_load(&s->stopping))
            cost_us +=
                nox__listener_watch(&s->listeners[i], s->sock, &s->mu, quiet);
    if (quiet)
        return SERVER_WATCH_IDLE_MS;
    spacing = cost_us * SERVER_WATCH_SHARE / 1000;
    return spacing > SERVER_WATCH_MS ? spacing : SERVER_WATCH_MS;
}

/* ---- housekeeping: reaper and ipc watch ---- */

/* Sleep until at_ms or a wake-up; returns false when told to stop. Called
 * and returns with s->mu held. */
static bool
server_keeper_sleep(nox_server_t *s, int64_t at_ms)
{
    if (!s->keeper_wake)
        nox__cond_sleep_until(&s->cv, &s->mu, at_ms, &s->keeper_wake);
    s->keeper_wake = false;
    return !s->keeper_stop;
}

static void *
server_keeper_main(void *arg)
{
    nox_server_t *s = arg;
    int64_t       now = nox__mono_ms();
    int64_t       reap_at =
        s->reap_interval_ms > 0 ? now + s->reap_interval_ms : INT64_MAX;
    int64_t watch_at = s->watch_ipc ? now : INT64_MAX;
    int64_t slack = s->reap_interval_ms / 5 < SERVER_REAP_SLACK_MS
                        ? s->reap_interval_ms / 5
                        : SERVER_REAP_SLACK_MS;

    (void)pthread_mutex_lock(&s->mu); /* cannot fail: valid, not owned */
    while (server_keeper_sleep(s, reap_at < watch_at ? reap_at : watch_at)) {
        (void)pthread_mutex_unlock(&s->mu);
        now = nox__mono_ms();
        /* Woken by a connection after a quiet spell: watch now. */
        if (s->watch_ipc &&
            now - atomic_load(&s->conn_ms) < SERVER_WATCH_BUSY_MS &&
            watch_at > now + SERVER_WATCH_MS)
            watch_at = now;
        if (now >= watch_at)
            watch_at = nox__mono_ms() + server_watch(s);
        /* Awake anyway: a reap due soon is done now. */
        if (now + slack >= reap_at) {
            /* Failures are retried next round and there is no one to
             * tell: requests treat expired sandboxes as gone anyway. */
            (void)nox_engine_reap(s->dctx.engine, NULL, NULL);
            reap_at = nox__mono_ms() + s->reap_interval_ms;
        }
        (void)pthread_mutex_lock(&s->mu);
    }
    (void)pthread_mutex_unlock(&s->mu);
    return NULL;
}

static nox_err_t
server_sync_init(nox_server_t *s, nox_status_t *st)
{
    nox_err_t rv = nox__sleep_sync_init(&s->mu, &s->cv, st);

    s->sync_init = rv == NOX_OK;
    if (rv == NOX_OK)
        rv = nox__sleep_sync_init(&s->flight_mu, &s->flight_cv, st);
    s->flight_init = rv == NOX_OK;
    return rv;
}

static nox_err_t
server_start_keeper(nox_server_t *s, nox_status_t *st)
{
    int rv;

    if (s->reap_interval_ms <= 0 && !s->watch_ipc)
        return NOX_OK; /* nothing to keep */
    rv = pthread_create(&s->keeper, NULL, server_keeper_main, s);
    if (rv != 0)
        return nox__status_errno(st, NOX_EINTERNAL, rv,
                                 "cannot start housekeeping thread");
    s->keeper_started = true;
    return NOX_OK;
}

static void
server_stop_keeper(nox_server_t *s)
{
    if (!s->sync_init)
        return;
    (void)pthread_mutex_lock(&s->mu);
    s->keeper_stop = true;
    s->keeper_wake = true;
    (void)pthread_cond_signal(&s->cv);
    (void)pthread_mutex_unlock(&s->mu);
    if (s->keeper_started)
        (void)pthread_join(s->keeper, NULL);
    s->keeper_started = false;
}

/* ---- start / stop ---- */

/* Stop taking connections (see nox_server_quiesce). */
static void
server_quiesce(nox_server_t *s)
{
    if (atomic_exchange(&s->stopping, true))
        return;
    /* The watch must not bind a new file at the path from now on. */
    server_stop_keeper(s);
    for (size_t i = 0; i < s->n_listeners; i++)
        nox__listener_unpublish(&s->listeners[i]);
}

/* Wait until no call is in flight, or until at_ms, or the grace is ended.
 * Returns true when none is. */
static bool
server_wait_flights(nox_server_t *s, int64_t at_ms)
{
    bool idle;

    (void)pthread_mutex_lock(&s->flight_mu);
    s->flight_wake = s->in_flight == 0 || s->grace_over;
    nox__cond_sleep_until(&s->flight_cv, &s->flight_mu, at_ms, &s->flight_wake);
    idle = s->in_flight == 0;
    (void)pthread_mutex_unlock(&s->flight_mu);
    return idle;
}

/* Give the calls in flight the grace, then end the commands still
 * running: their late replies say UNAVAILABLE. Returns once every call
 * has been answered (or its reply failed). */
static void
server_settle(nox_server_t *s)
{
    int64_t grace_end =
        s->grace_ms > 0 ? nox__mono_ms() + s->grace_ms : nox__mono_ms();

    if (server_wait_flights(s, grace_end))
        return;
    atomic_store(&s->abandon, true);
    /* The engine kills every command; each one's done function then
     * answers its caller. */
    nox_engine_kill_all(s->dctx.engine);
    (void)pthread_mutex_lock(&s->flight_mu);
    while (s->in_flight > 0)
        (void)pthread_cond_wait(&s->flight_cv, &s->flight_mu);
    (void)pthread_mutex_unlock(&s->flight_mu);
}

/* Tear down whatever part of s exists; used by stop and by a failed
 * start. */
static void
server_free(nox_server_t *s)
{
    atomic_store(&s->stopping, true);
    if (s->workers != NULL)
        server_stop_workers(s);
    server_stop_keeper(s);
    server_drain(s);
    for (size_t i = 0; i < s->n_listeners; i++)
        nox__listener_close(&s->listeners[i]);
    /* Only NNG_ECLOSED, which cannot happen: we close it once. nng_close
     * returns after the last pipe callback, which uses the listeners. */
    if (s->sock_open)
        (void)nng_close(s->sock);
    for (size_t i = 0; i < s->n_listeners; i++)
        nox__listener_fini(&s->listeners[i]);
    if (s->sync_init) {
        (void)pthread_cond_destroy(&s->cv); /* no waiters left */
        (void)pthread_mutex_destroy(&s->mu);
    }
    if (s->flight_init) {
        (void)pthread_cond_destroy(&s->flight_cv);
        (void)pthread_mutex_destroy(&s->flight_mu);
    }
    free(s->workers);
    free(s->listeners);
    free(s);
}

static nox_err_t
server_check_opts(const nox_server_opts_t *o, nox_status_t *st)
{
    if (o == NULL || o->engine == NULL || o->urls == NULL || o->n_urls == 0)
        return nox__status_set(st, NOX_EINVAL,
                               "server needs an engine and a listen URL");
    for (size_t i = 0; i < o->n_urls; i++)
        if (o->urls[i] == NULL || o->urls[i][0] == '\0')
            return nox__status_set(st, NOX_EINVAL, "empty listen URL");
    if (o->workers < 0 || o->workers > SERVER_MAX_WORKERS)
        return nox__status_set(st, NOX_EINVAL,
                               "workers must be between 1 and %d",
                               SERVER_MAX_WORKERS);
    if (o->max_message_bytes > SERVER_MAX_MESSAGE_LIMIT)
        return nox__status_set(st, NOX_EINVAL,
                               "max_message_bytes must be at most %zu",
                               SERVER_MAX_MESSAGE_LIMIT);
    return NOX_OK;
}

/* Allocate s with the options applied (defaults filled in). */
static nox_err_t
server_alloc(nox_server_t **out, const nox_server_opts_t *o, nox_status_t *st)
{
    nox_server_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    atomic_init(&s->stopping, false);
    atomic_init(&s->abandon, false);
    atomic_init(&s->workers_stop, false);
    atomic_init(&s->last_reply_ms, INT64_MIN / 2);
    /* Starting counts as a connection event: the watch looks closely at
     * a new listener. */
    atomic_init(&s->conn_ms, nox__mono_ms());
    s->dctx.engine = o->engine;
    s->dctx.max_message_bytes = o->max_message_bytes
                                    ? o->max_message_bytes
                                    : NOX_DEFAULT_MAX_MESSAGE_BYTES;
    s->n_workers = o->workers ? (size_t)o->workers : NOX_DEFAULT_WORKERS;
    s->grace_ms = o->shutdown_grace_ms ? o->shutdown_grace_ms
                                       : NOX_DEFAULT_SHUTDOWN_GRACE_MS;
    s->reap_interval_ms = o->reap_interval_ms ? o->reap_interval_ms
                                              : NOX_DEFAULT_REAP_INTERVAL_MS;
    s->listeners = calloc(o->n_urls, sizeof(*s->listeners));
    s->workers = calloc(s->n_workers, sizeof(*s->workers));
    if (s->listeners == NULL || s->workers == NULL) {
        free(s->listeners);
        free(s->workers);
        free(s);
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    }
    /* n_listeners counts initialised ones, so server_free can undo a
     * partial init. */
    for (; s->n_listeners < o->n_urls; s->n_listeners++) {
        nox_err_t rv = nox__listener_init(&s->listeners[s->n_listeners], st);
        if (rv != NOX_OK) {
            server_free(s);
            return rv;
        }
    }
    *out = s;
    return NOX_OK;
}

static nox_err_t
server_open_socket(nox_server_t *s, nox_status_t *st)
{
    int rv = nng_rep0_open(&s->sock);

    if (rv != 0)
        return nox__status_set(st, NOX_EINTERNAL, "nng_rep0_open: %s",
                               nng_strerror(rv));
    s->sock_open = true;
    /* Set before any listener exists, so no message larger than the
     * limit plus envelope slack is ever read into memory. */
    rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ,
                             s->dctx.max_message_bytes + NOX_ENVELOPE_SLACK);
    if (rv == 0)
        rv =
            nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_PRE, server_pipe_event, s);
    if (rv == 0)
        rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, server_pipe_event,
                             s);
    if (rv != 0)
        return nox__status_set(st, NOX_EINTERNAL, "nng socket setup: %s",
                               nng_strerror(rv));
    return NOX_OK;
}

nox_err_t
nox_server_start(nox_server_t **out, const nox_server_opts_t *o,
                 nox_status_t *st)
{
    nox_server_t *s = NULL;
    nox_err_t     rv;

    nox__status_clear(st);
    rv = server_check_opts(o, st);
    if (rv == NOX_OK)
        rv = server_alloc(&s, o, st);
    if (rv != NOX_OK)
        return rv;
    rv = server_sync_init(s, st);
    if (rv == NOX_OK)
        rv = server_open_socket(s, st);
    for (size_t i = 0; rv == NOX_OK && i < o->n_urls; i++) {
        rv = nox__listener_start(&s->listeners[i], s->sock, o->urls[i], st);
        s->watch_ipc |=
            NOX_NNG_IPC_LISTENER_BUG && nox__listener_is_ipc(&s->listeners[i]);
        s->drain |= strncmp(o->urls[i], "inproc://", 9) != 0;
    }
    if (rv == NOX_OK)
        rv = server_start_workers(s, st);
    if (rv == NOX_OK)
        rv = server_start_keeper(s, st);
    if (rv != NOX_OK)
        goto out_free;
    *out = s;
    return NOX_OK;

out_free:
    server_free(s);
    return rv;
}

void
nox_server_quiesce(nox_server_t *s)
{
    server_quiesce(s);
}

void
nox_server_end_grace(nox_server_t *s)
{
    (void)pthread_mutex_lock(&s->flight_mu);
    s->grace_over = true;
    s->flight_wake = true;
    (void)pthread_cond_broadcast(&s->flight_cv);
    (void)pthread_mutex_unlock(&s->flight_mu);
}

size_t
nox_server_in_flight(nox_server_t *s)
{
    size_t n;

    (void)pthread_mutex_lock(&s->flight_mu);
    n = s->in_flight;
    (void)pthread_mutex_unlock(&s->flight_mu);
    return n;
}

void
nox_server_stop(nox_server_t *s)
{
    if (s == NULL)
        return;
    server_quiesce(s);
    server_settle(s);
    server_free(s);
}

nox_err_t
nox__server_url(nox_server_t *s, size_t i, char *buf, size_t len)
{
    if (s == NULL || i >= s->n_listeners)
        return NOX_EINVAL;
    return nox__listener_url(&s->listeners[i], &s->mu, buf, len);
}

size_t
nox__server_listener_count(nox_server_t *s)
{
    size_t n = 0;

    for (size_t i = 0; s != NULL && i < s->n_listeners; i++)
        n += nox__listener_open_count(&s->listeners[i]);
    return n;
}
