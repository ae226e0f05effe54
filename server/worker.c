/*
 * worker.c - the server's workers: receive, dispatch, reply; calls in
 * flight; and the late replies of Execs (server.c's header says how they
 * work).
 */
#include "server_impl.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <nng/supplemental/util/platform.h>

#include <stdlib.h>

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

void
nox__server_flight_begin(nox_server_t *s)
{
    (void)pthread_mutex_lock(&s->flight_mu);
    s->in_flight++;
    (void)pthread_mutex_unlock(&s->flight_mu);
}

/* A call was answered (sent: its reply was counted as being sent). The
 * last one may let stop free s: nothing of s is touched after the
 * unlock. */
static void
server_flight_done(nox_server_t *s, bool sent)
{
    (void)pthread_mutex_lock(&s->flight_mu);
    if (sent)
        s->sending--;
    if (--s->in_flight == 0) {
        s->flight_wake = true;
        (void)pthread_cond_broadcast(&s->flight_cv);
    } else if (s->in_flight == s->sending) {
        (void)pthread_cond_broadcast(&s->flight_cv); /* settle's last wait */
    }
    (void)pthread_mutex_unlock(&s->flight_mu);
}

void
nox__server_flight_end(nox_server_t *s)
{
    server_flight_done(s, false);
}

void
nox__server_flight_sent(nox_server_t *s)
{
    server_flight_done(s, true);
}

void
nox__server_flight_sending(nox_server_t *s)
{
    (void)pthread_mutex_lock(&s->flight_mu);
    if (++s->sending == s->in_flight)
        (void)pthread_cond_broadcast(&s->flight_cv);
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
    nox__server_flight_end(s);
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
        nox__server_flight_end(s);
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
    nox_server_t         *s = w->srv;
    nox_dispatch_reply_t  rep = {server_reply_alloc, msg,
                                 server_later,       w,
                                 server_late_done,   server_late_forget};
    nox_dispatch_caller_t who = {NULL};
    nox_status_t          why;
    bool                  pending = false;
    size_t                n = 0;
    int                   err = 0;

    nox__server_flight_begin(s);
    w->msg = msg;
    if (atomic_load(&s->stopping)) {
        /* Shutting down: new calls are refused, in-flight ones finish. */
        err = server_set_status(msg, NOX_EUNAVAIL,
                                "the server is shutting "
                                "down");
    } else if (nox__nng_auth_peer(&s->auth, msg, &who.token, &why) != NOX_OK) {
        err = server_set_status(msg, why.code, why.msg);
    } else if (nox__dispatch_start_from(&s->dctx, &who, nng_msg_body(msg),
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
    nox__server_flight_end(s);
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

nox_err_t
nox__server_start_workers(nox_server_t *s, nox_status_t *st)
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
void
nox__server_stop_workers(nox_server_t *s)
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
