/*
 * http_call.c - the gateway's workers: each takes a complete request
 * (its connection suspended), turns it into the RPC's request through
 * rest.h, wraps it in the same RpcRequest envelope an NNG client sends,
 * and hands it to the dispatcher. The reply becomes the HTTP reply and
 * the connection is resumed; libmicrohttpd's thread then sends it.
 *
 * Why workers at all: a create, an upload or a download can take a while
 * (disk), and the daemon's one polling thread must stay free for every
 * other connection (/healthz answers on it). An Exec holds no worker
 * while its command runs: the dispatcher answers it later on the engine's
 * command thread (nox__dispatch_start), as for NNG.
 */
#include "http_impl.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_METHOD_MAX 96

/* ---- replies ---- */

/* Hand r's reply to the daemon: resume the connection, whose next call
 * of the access handler queues it. Nothing of r is touched after. */
static void
http_call_resume(nox__http_req_t *r)
{
    r->have_reply = true;
    MHD_resume_connection(r->conn);
}

void
nox__http_finish_error(nox__http_req_t *r, nox_err_t code, int status,
                       const char *msg)
{
    nox__rest_http_free(&r->reply);
    /* falls back itself */
    (void)nox__rest_error(code, status, msg, &r->reply);
    http_call_resume(r);
}

/* The packed RpcResponse (or its absence: rv) becomes the HTTP reply. */
static void
http_call_finish(nox__http_req_t *r, nox_err_t rv, size_t n)
{
    if (rv != NOX_OK) {
        free(r->resp);
        r->resp = NULL;
        nox__http_finish_error(r, NOX_ERESOURCE, 0, "out of memory");
        return;
    }
    /* On failure the reply is a bare 500 that needs no memory. */
    (void)nox__rest_reply(r->route, r->resp, n, &r->reply);
    free(r->resp);
    r->resp = NULL;
    http_call_resume(r);
}

/* ---- the dispatcher's side ---- */

static uint8_t *
http_call_alloc(void *arg, size_t size)
{
    nox__http_req_t *r = arg;

    free(r->resp);
    r->resp = malloc(size ? size : 1);
    return r->resp;
}

/* A reply may always come later: the request keeps its connection
 * suspended until then. */
static void *
http_call_later(void *arg)
{
    return arg;
}

static void
http_call_forget(void *arg)
{
    (void)arg; /* nothing was set aside for the late reply */
}

/* The late reply (the engine's command thread). */
static void
http_call_done(void *arg, nox_err_t rv, size_t reply_len)
{
    nox__http_req_t *r = arg;

    if (atomic_load(&r->h->srv->abandon)) {
        free(r->resp);
        r->resp = NULL;
        nox__http_finish_error(r, NOX_EUNAVAIL, 0,
                               "the server shut down before the command "
                               "ended");
        return;
    }
    http_call_finish(r, rv, reply_len);
}

/* ---- one call ---- */

/* The RPC request of r as a packed RpcRequest envelope (*env, malloc'd).
 * r's body is released on the way, so that a large upload is held at
 * most twice at once. *too_big: the request is over the limit. */
static nox_err_t
http_call_envelope(nox__http_req_t *r, uint8_t **env, size_t *env_len,
                   bool *too_big, nox_status_t *st)
{
    const ProtobufCMethodDescriptor *m =
        &noxrunner__v1__sandbox__descriptor.methods[r->route->rpc];
    nox_rest_query_t          q = {r->dest, r->src, r->format};
    Noxrunner__V1__RpcRequest e = NOXRUNNER__V1__RPC_REQUEST__INIT;
    ProtobufCMessage         *msg = NULL;
    char                      method[HTTP_METHOD_MAX];
    uint8_t                  *payload;
    size_t                    n;
    nox_err_t                 rv;

    rv = nox__rest_request(r->route, r->session_id, &q, r->content_type,
                           r->body, r->len, &msg, st);
    free(r->body);
    r->body = NULL;
    if (rv != NOX_OK)
        return rv;
    n = protobuf_c_message_get_packed_size(msg);
    if (n > r->h->max_body) {
        /* The dispatcher holds the request to the same limit, as
         * RESOURCE_EXHAUSTED (429): to a client this is its body. */
        protobuf_c_message_free_unpacked(msg, NULL);
        *too_big = true;
        return nox__status_set(st, NOX_ERESOURCE,
                               "request body over the server's limit "
                               "(--max-message-bytes)");
    }
    payload = malloc(n ? n : 1);
    if (payload == NULL) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    }
    (void)protobuf_c_message_pack(msg, payload);
    protobuf_c_message_free_unpacked(msg, NULL);
    (void)snprintf(method, sizeof(method), "/%s/%s",
                   noxrunner__v1__sandbox__descriptor.name, m->name);
    e.method = method;
    e.payload.data = payload;
    e.payload.len = n;
    /* The gateway checked the bearer token already; the envelope carries
     * it as an NNG client's would, for a dispatcher that looks. */
    e.token = r->h->token != NULL ? r->h->token : (char *)"";
    n = noxrunner__v1__rpc_request__get_packed_size(&e);
    *env = malloc(n);
    if (*env != NULL)
        (void)noxrunner__v1__rpc_request__pack(&e, *env);
    free(payload);
    if (*env == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    *env_len = n;
    return NOX_OK;
}

static void
http_call_run(nox__http_req_t *r)
{
    nox_server_t        *s = r->h->srv;
    nox_dispatch_reply_t rep = {http_call_alloc, r,
                                http_call_later, r,
                                http_call_done,  http_call_forget};
    nox_status_t         st;
    uint8_t             *env = NULL;
    size_t               env_len = 0, n = 0;
    bool                 pending = false, too_big = false;
    nox_err_t            rv;

    nox__status_clear(&st);
    rv = http_call_envelope(r, &env, &env_len, &too_big, &st);
    if (rv != NOX_OK) {
        nox__http_finish_error(r, rv, too_big ? 413 : 0, st.msg);
        return;
    }
    rv = nox__dispatch_start(&s->dctx, env, env_len, &rep, &pending, &n);
    free(env);
    if (!pending)
        http_call_finish(r, rv, n);
}

/* ---- workers ---- */

static void *
http_worker_main(void *arg)
{
    nox__http_t *h = arg;

    (void)pthread_mutex_lock(&h->mu);
    for (;;) {
        nox__http_req_t *r = h->head;
        if (r == NULL) {
            if (h->workers_stop)
                break;
            (void)pthread_cond_wait(&h->cv, &h->mu);
            continue;
        }
        h->head = r->next;
        if (h->head == NULL)
            h->tail = NULL;
        r->next = NULL;
        (void)pthread_mutex_unlock(&h->mu);
        http_call_run(r);
        (void)pthread_mutex_lock(&h->mu);
    }
    (void)pthread_mutex_unlock(&h->mu);
    return NULL;
}

nox_err_t
nox__http_workers_start(nox__http_t *h, size_t n, nox_status_t *st)
{
    h->threads = calloc(n, sizeof(*h->threads));
    if (h->threads == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    for (; h->n_threads < n; h->n_threads++) {
        int rv = pthread_create(&h->threads[h->n_threads], NULL,
                                http_worker_main, h);
        if (rv != 0)
            return nox__status_errno(st, NOX_EINTERNAL, rv,
                                     "cannot start http worker thread");
    }
    return NOX_OK;
}

void
nox__http_submit(nox__http_t *h, nox__http_req_t *r)
{
    (void)pthread_mutex_lock(&h->mu);
    r->next = NULL;
    if (h->tail != NULL)
        h->tail->next = r;
    else
        h->head = r;
    h->tail = r;
    (void)pthread_cond_signal(&h->cv);
    (void)pthread_mutex_unlock(&h->mu);
}

void
nox__http_workers_stop(nox__http_t *h)
{
    if (!h->sync_init)
        return;
    (void)pthread_mutex_lock(&h->mu);
    h->workers_stop = true;
    (void)pthread_cond_broadcast(&h->cv);
    (void)pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < h->n_threads; i++)
        (void)pthread_join(h->threads[i], NULL); /* joinable: cannot fail */
    h->n_threads = 0;
    free(h->threads);
    h->threads = NULL;
}
