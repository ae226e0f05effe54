/* local.c - in-process calls straight into the dispatcher, and the TTL
 * reaper thread a server would otherwise run. */
#include "local.h"

#include "dispatch.h"
#include "envelope.h"
#include "nox/engine.h"
#include "nox/server.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define LOCAL_PEER "the in-process engine" /* for messages */

struct nox_local {
    nox_engine_t      *engine;
    nox_dispatch_ctx_t dctx;
    int64_t            reap_every_ms; /* < 0: no reaper */
    pthread_t          reaper;
    bool               reaper_started;
    bool               sync_init; /* mu and cv exist */
    pthread_mutex_t    mu;
    pthread_cond_t     cv;   /* signalled by close */
    bool               stop; /* under mu */
};

/* ---- calls ---- */

nox_err_t
nox__local_call(nox_local_t *l, const ProtobufCMethodDescriptor *md,
                const ProtobufCMessage *req, int64_t budget_ms,
                ProtobufCMessage **resp, nox_status_t *st)
{
    nox_envelope_t e;
    nox_buf_t      reply = NOX_BUF_INIT;
    uint8_t       *packed;
    size_t         len;
    nox_err_t      err;

    err = nox__envelope_init(&e, md, req, budget_ms, st);
    if (err != NOX_OK)
        return err;
    len = nox__envelope_size(&e);
    packed = malloc(len > 0 ? len : 1);
    if (packed == NULL) {
        nox__envelope_fini(&e);
        return nox__status_set(st, NOX_ERESOURCE,
                               "cannot allocate a request of %zu bytes", len);
    }
    nox__envelope_pack(&e, packed);
    nox__envelope_fini(&e);
    err = nox__dispatch(&l->dctx, packed, len, &reply);
    free(packed);
    if (err != NOX_OK) {
        nox__buf_free(&reply);
        return nox__status_set(st, err, "out of memory for the reply");
    }
    err = nox__envelope_open_reply(LOCAL_PEER, md, reply.data, reply.len, resp,
                                   st);
    nox__buf_free(&reply);
    return err;
}

/* ---- the reaper ---- */

/* A long-lived client reaps every interval, as a server does; a pass is
 * skipped when another process on the base_dir ran one within the
 * interval (nox_engine_reap_due). */
static void *
local_reaper_main(void *arg)
{
    nox_local_t *l = arg;

    (void)pthread_mutex_lock(&l->mu); /* cannot fail: valid, not owned */
    while (!l->stop) {
        nox__cond_sleep_until(&l->cv, &l->mu, nox__mono_ms() + l->reap_every_ms,
                              &l->stop);
        if (l->stop)
            break;
        (void)pthread_mutex_unlock(&l->mu);
        /* Failures are retried next round and there is no one to tell:
         * calls treat expired sandboxes as gone anyway. */
        (void)nox_engine_reap_due(l->engine, l->reap_every_ms, NULL, NULL);
        (void)pthread_mutex_lock(&l->mu);
    }
    (void)pthread_mutex_unlock(&l->mu);
    return NULL;
}

static nox_err_t
local_start_reaper(nox_local_t *l, nox_status_t *st)
{
    nox_err_t err = nox__sleep_sync_init(&l->mu, &l->cv, st);
    int       rv;

    if (err != NOX_OK)
        return err;
    l->sync_init = true;
    rv = pthread_create(&l->reaper, NULL, local_reaper_main, l);
    if (rv != 0)
        return nox__status_errno(st, NOX_EINTERNAL, rv,
                                 "cannot start the reaper thread");
    l->reaper_started = true;
    return NOX_OK;
}

/* ---- opening and closing ---- */

static nox_err_t
local_open_engine(nox_local_t *l, const nox_local_opts_t *lo, nox_status_t *st)
{
    nox_engine_opts_t eo = {.base_dir = lo->base_dir,
                            .output_cap = lo->output_cap,
                            .quiet = lo->quiet};
    nox_err_t         err = NOX_OK;

    if (lo->isolation != NULL)
        err = nox_isolation_parse(lo->isolation, &eo.isolation, st);
    if (err == NOX_OK)
        err = nox_engine_open(&l->engine, &eo, st);
    return err;
}

nox_err_t
nox__local_open(nox_local_t **out, const nox_local_opts_t *lo,
                size_t max_message_bytes, nox_status_t *st)
{
    nox_local_t *l = calloc(1, sizeof(*l));
    nox_err_t    err;

    if (l == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    l->reap_every_ms = lo->reap_interval_ms == 0 ? NOX_DEFAULT_REAP_INTERVAL_MS
                                                 : lo->reap_interval_ms;
    err = local_open_engine(l, lo, st);
    if (err != NOX_OK) {
        free(l);
        return err;
    }
    l->dctx.engine = l->engine;
    l->dctx.max_message_bytes = max_message_bytes;
    if (l->reap_every_ms > 0) {
        /* A local client often lives for one CLI command, far shorter
         * than the interval, so its thread would never get to run: reap
         * now too, at most once per interval across all the processes
         * sharing this base_dir. A failed pass is retried by the next one
         * and does not fail the open. */
        (void)nox_engine_reap_due(l->engine, l->reap_every_ms, NULL, NULL);
        err = local_start_reaper(l, st);
        if (err != NOX_OK) {
            nox__local_close(l);
            return err;
        }
    }
    *out = l;
    return NOX_OK;
}

void
nox__local_close(nox_local_t *l)
{
    if (l == NULL)
        return;
    if (l->sync_init) {
        (void)pthread_mutex_lock(&l->mu);
        l->stop = true;
        (void)pthread_cond_signal(&l->cv);
        (void)pthread_mutex_unlock(&l->mu);
        if (l->reaper_started)
            (void)pthread_join(l->reaper, NULL); /* joinable, not self */
        (void)pthread_cond_destroy(&l->cv);
        (void)pthread_mutex_destroy(&l->mu);
    }
    nox_engine_close(l->engine);
    free(l);
}
