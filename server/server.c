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
#include "auth.h"
#include "http.h"
#include "server_impl.h"

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
 * listener once its count drops to 0) and network ones (over their cap
 * they are closed at once: nng_auth.h). While stopping, close every new
 * connection before it can send a request; the ones already open stay so
 * their replies get through. */
static void
server_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    nox_server_t *s = arg;

    bool admit = nox__nng_auth_pipe_event(&s->auth, p, ev);

    nox__listener_pipe_event(s->listeners, s->n_listeners, p, ev);
    if (ev == NNG_PIPE_EV_ADD_PRE && (!admit || atomic_load(&s->stopping)))
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
    nox__http_quiesce(s->http);
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
 * has been answered (or its reply failed); within the grace, once every
 * HTTP reply has also been sent. */
static void
server_settle(nox_server_t *s)
{
    int64_t grace_end =
        s->grace_ms > 0 ? nox__mono_ms() + s->grace_ms : nox__mono_ms();

    if (server_wait_flights(s, grace_end))
        return;
    atomic_store(&s->abandon, true);
    /* The engine kills every command; each one's done function then
     * answers its caller. Calls waiting for a sandbox's lock (one a
     * command may hold for ever) give up. */
    nox_engine_abort(s->dctx.engine);
    (void)pthread_mutex_lock(&s->flight_mu);
    /* HTTP replies being sent are not waited for: their clients may read
     * them slowly or never; stopping the gateway closes them. */
    while (s->in_flight > s->sending)
        (void)pthread_cond_wait(&s->flight_cv, &s->flight_mu);
    (void)pthread_mutex_unlock(&s->flight_mu);
}

/* Tear down whatever part of s exists; used by stop and by a failed
 * start. */
static void
server_free(nox_server_t *s)
{
    atomic_store(&s->stopping, true);
    /* Every call of the gateway has been answered (settle). */
    nox__http_stop(s->http);
    s->http = NULL;
    if (s->workers != NULL)
        nox__server_stop_workers(s);
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
    nox__nng_auth_fini(&s->auth); /* after the listeners that used it */
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
    if (o == NULL || o->engine == NULL || (o->n_urls > 0 && o->urls == NULL) ||
        o->n_urls + o->n_http + o->n_https == 0)
        return nox__status_set(st, NOX_EINVAL,
                               "server needs an engine and a listen URL or "
                               "http address");
    for (size_t i = 0; i < o->n_urls; i++)
        if (o->urls[i] == NULL || o->urls[i][0] == '\0')
            return nox__status_set(st, NOX_EINVAL, "empty listen URL");
    /* "" would be no token to NNG but a token to HTTP, where an empty
     * "Authorization: Bearer " would then be let in. */
    if (o->token != NULL && o->token[0] == '\0')
        return nox__status_set(st, NOX_EINVAL, "token is empty");
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
    /* One more: calloc(0) may return NULL (http addresses only). */
    s->listeners = calloc(o->n_urls + 1, sizeof(*s->listeners));
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
    nox_server_t   *s = NULL;
    nox__url_info_t info;
    nox_err_t       rv;

    nox__status_clear(st);
    rv = server_check_opts(o, st);
    if (rv == NOX_OK)
        rv = server_alloc(&s, o, st);
    if (rv != NOX_OK)
        return rv;
    rv = server_sync_init(s, st);
    if (rv == NOX_OK)
        rv = nox__nng_auth_init(&s->auth, o, st);
    if (rv == NOX_OK)
        rv = server_open_socket(s, st);
    for (size_t i = 0; rv == NOX_OK && i < o->n_urls; i++) {
        rv = nox__listener_start(&s->listeners[i], s->sock, o->urls[i],
                                 &s->auth, st);
        s->watch_ipc |=
            NOX_NNG_IPC_LISTENER_BUG && nox__listener_is_ipc(&s->listeners[i]);
        s->drain |= nox__url_info(o->urls[i], &info) != NOX_OK ||
                    info.kind != NOX_URL_INPROC;
    }
    if (rv == NOX_OK)
        rv = nox__server_start_workers(s, st);
    if (rv == NOX_OK)
        rv = nox__http_start(&s->http, s, o, st);
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
nox__server_http_count(nox_server_t *s)
{
    return s != NULL ? nox__http_count(s->http) : 0;
}

nox_err_t
nox__server_http_url(nox_server_t *s, size_t i, char *buf, size_t len)
{
    return s != NULL ? nox__http_url(s->http, i, buf, len) : NOX_EINVAL;
}

size_t
nox__server_listener_count(nox_server_t *s)
{
    size_t n = 0;

    for (size_t i = 0; s != NULL && i < s->n_listeners; i++)
        n += nox__listener_open_count(&s->listeners[i]);
    return n;
}
