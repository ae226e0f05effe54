/* client.c - libnoxrunner: opening (server or in-process), the one-call
 * helper with its size check, Health and wait_ready. The other RPCs live in
 * sandbox.c and exec.c; the wire itself in transport.c. */
#include "client_impl.h"

#include "nox/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_DEFAULT_TIMEOUT_MS 30000
/* Requests up to this size need no limit check: every server takes them. */
#define CLIENT_PROBE_BYTES (1024 * 1024)

nox_err_t
nox__client_invalid(nox_client_t *c, const char *what)
{
    return nox__status_set(&c->last, NOX_EINVAL, "%s", what);
}

nox_err_t
nox__client_begin(nox_client_t *c, const char *session_id)
{
    nox__status_clear(&c->last);
    if (session_id == NULL)
        return nox__client_invalid(c, "session_id is NULL");
    return NOX_OK;
}

/* ---- calls ---- */

/* Ask the server for its limit once; 0 from the server means none. */
static nox_err_t
client_learn_limit(nox_client_t *c)
{
    Noxrunner__V1__HealthRequest   req = NOXRUNNER__V1__HEALTH_REQUEST__INIT;
    Noxrunner__V1__HealthResponse *h;
    ProtobufCMessage              *resp;
    nox_err_t                      err;

    err = nox__client_call(c, NOX_RPC_HEALTH, &req.base, c->timeout_ms, &resp);
    if (err != NOX_OK)
        return err;
    h = (Noxrunner__V1__HealthResponse *)resp;
    c->max_payload =
        h->max_message_bytes == 0 || h->max_message_bytes > SIZE_MAX
            ? SIZE_MAX
            : (size_t)h->max_message_bytes;
    protobuf_c_message_free_unpacked(resp, NULL);
    return NOX_OK;
}

/* Refuse an oversized request before sending it: the server would answer
 * RESOURCE_EXHAUSTED, or NNG would drop it and leave us waiting. */
static nox_err_t
client_check_size(nox_client_t *c, size_t len)
{
    nox_err_t err;

    if (c->max_payload == 0 && len > CLIENT_PROBE_BYTES) {
        err = client_learn_limit(c);
        if (err != NOX_OK)
            return err;
    }
    if (c->max_payload != 0 && len > c->max_payload)
        return nox__status_set(
            &c->last, NOX_ERESOURCE,
            "request of %zu bytes exceeds the server's max_message_bytes "
            "(%zu)",
            len, c->max_payload);
    return NOX_OK;
}

/* The server's limit on a message (else the default one): http replies
 * are bounded by it (see nox__http_call). */
static size_t
client_payload_limit(const nox_client_t *c)
{
    return c->max_payload != 0 && c->max_payload != SIZE_MAX
               ? c->max_payload
               : NOX_DEFAULT_MAX_MESSAGE_BYTES;
}

nox_err_t
nox__client_call(nox_client_t *c, unsigned m, const ProtobufCMessage *req,
                 int64_t budget_ms, ProtobufCMessage **resp)
{
    const ProtobufCServiceDescriptor *sd = &noxrunner__v1__sandbox__descriptor;
    nox_err_t                         err;

    nox__status_clear(&c->last);
    /* A request of the wrong type would be answered as garbage; catch an
     * index mix-up here instead. */
    if (m >= sd->n_methods || sd->methods[m].input != req->descriptor)
        return nox__status_set(&c->last, NOX_EINTERNAL,
                               "request does not match method %u", m);
    err = client_check_size(c, protobuf_c_message_get_packed_size(req));
    if (err != NOX_OK)
        return err;
    if (c->local != NULL)
        return nox__local_call(c->local, &sd->methods[m], req, budget_ms, resp,
                               &c->last);
    if (c->http != NULL)
        return nox__http_call(c->http, m, req, budget_ms,
                              client_payload_limit(c), resp, &c->last);
    /* Reaching the server takes the ordinary budget, whatever the call's
     * own (an Exec's is longer), or the call's when it is shorter
     * (wait_ready's). */
    err = nox__transport_await(
        &c->t, budget_ms < c->timeout_ms ? budget_ms : c->timeout_ms, &c->last);
    if (err != NOX_OK)
        return err;
    return nox__transport_call(&c->t, &sd->methods[m], req, budget_ms, resp,
                               &c->last);
}

/* ---- opening ---- */

/* A copy of the option, else of the environment variable, else NULL.
 * An empty value counts as none. Returns false when memory runs out. */
static bool
client_opt_or_env(const char *opt, const char *env, char **out)
{
    const char *v = opt != NULL ? opt : getenv(env);

    *out = NULL;
    if (v == NULL || v[0] == '\0')
        return true;
    *out = strdup(v);
    return *out != NULL;
}

static void
client_free(nox_client_t *c)
{
    if (c->token != NULL)
        explicit_bzero(c->token, strlen(c->token));
    free(c->token);
    free(c->ca_file);
    free(c);
}

static nox_client_t *
client_new(const nox_client_opts_t *opts)
{
    nox_client_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
    if (opts != NULL && opts->timeout_ms > 0)
        c->timeout_ms = opts->timeout_ms;
    if (opts != NULL) {
        c->max_payload = opts->max_message_bytes;
        c->archive_format = opts->archive_format;
    }
    if (!client_opt_or_env(opts != NULL ? opts->token : NULL, "NOXRUNNER_TOKEN",
                           &c->token) ||
        !client_opt_or_env(opts != NULL ? opts->ca_file : NULL,
                           "NOXRUNNER_CA_FILE", &c->ca_file)) {
        client_free(c);
        return NULL;
    }
    return c;
}

/* Hand the reason of a failed open to the caller (see errbuf in
 * nox_client_opts_t) and release c. */
static nox_err_t
client_open_failed(nox_client_t *c, const nox_client_opts_t *opts,
                   nox_err_t err)
{
    const char *msg = c != NULL ? c->last.msg : "out of memory";

    if (opts != NULL && opts->errbuf != NULL && opts->errbuf_len > 0)
        (void)snprintf(opts->errbuf, opts->errbuf_len, "%s",
                       msg[0] != '\0' ? msg : nox_strerror(err));
    if (c != NULL)
        client_free(c);
    return err;
}

nox_err_t
nox_client_open(nox_client_t **out, const char *url,
                const nox_client_opts_t *opts)
{
    nox_client_t *c;
    nox_err_t     err;

    if (out == NULL)
        return NOX_EINVAL;
    c = client_new(opts);
    if (c == NULL)
        return client_open_failed(NULL, opts, NOX_ERESOURCE);
    if ((unsigned)c->archive_format > NOX_ARCHIVE_TAR_ZSTD)
        return client_open_failed(c, opts,
                                  nox__status_set(&c->last, NOX_EINVAL,
                                                  "unknown archive format %d",
                                                  (int)c->archive_format));
    if (nox__http_is_url(url))
        err = nox__http_open(&c->http, url, c->token, c->ca_file, c->timeout_ms,
                             &c->last);
    else
        err = nox__transport_open(&c->t, url, false, c->token, c->ca_file,
                                  &c->last);
    if (err != NOX_OK)
        return client_open_failed(c, opts, err);
    *out = c;
    return NOX_OK;
}

nox_err_t
nox_client_open_local(nox_client_t **out, const nox_local_opts_t *lopts,
                      const nox_client_opts_t *opts)
{
    nox_local_opts_t lo = {NULL, 0, -1, 0, NULL};
    nox_client_t    *c;
    nox_err_t        err;

    if (out == NULL)
        return NOX_EINVAL;
    if (lopts != NULL)
        lo = *lopts;
    c = client_new(opts);
    if (c == NULL)
        return client_open_failed(NULL, opts, NOX_ERESOURCE);
    if ((unsigned)c->archive_format > NOX_ARCHIVE_TAR_ZSTD)
        return client_open_failed(c, opts,
                                  nox__status_set(&c->last, NOX_EINVAL,
                                                  "unknown archive format %d",
                                                  (int)c->archive_format));
    if (c->max_payload == 0)
        c->max_payload = NOX_DEFAULT_MAX_MESSAGE_BYTES; /* a server's */
    err = nox__local_open(&c->local, &lo, c->max_payload, &c->last);
    if (err != NOX_OK)
        return client_open_failed(c, opts, err);
    *out = c;
    return NOX_OK;
}

void
nox_client_close(nox_client_t *c)
{
    if (c == NULL)
        return;
    nox__transport_close(&c->t);
    nox__http_close(c->http);
    nox__local_close(c->local);
    client_free(c);
}

const char *
nox_client_errmsg(const nox_client_t *c)
{
    return c != NULL ? c->last.msg : "no client";
}

/* ---- Health ---- */

static const char *
client_url(const nox_client_t *c)
{
    if (c->http != NULL)
        return nox__http_url(c->http);
    return c->t.url != NULL ? c->t.url : "(in-process)";
}

nox_err_t
nox__client_dup(nox_client_t *c, const char *s, char **out)
{
    *out = strdup(s != NULL ? s : "");
    if (*out == NULL)
        return nox__status_set(&c->last, NOX_ERESOURCE, "out of memory");
    return NOX_OK;
}

static nox_err_t
client_health(nox_client_t *c, int64_t budget_ms, nox_health_t *out)
{
    Noxrunner__V1__HealthRequest   req = NOXRUNNER__V1__HEALTH_REQUEST__INIT;
    Noxrunner__V1__HealthResponse *h;
    ProtobufCMessage              *resp;
    nox_health_t                   r = {0};
    nox_err_t                      err;

    err = nox__client_call(c, NOX_RPC_HEALTH, &req.base, budget_ms, &resp);
    if (err != NOX_OK)
        return err;
    h = (Noxrunner__V1__HealthResponse *)resp;
    r.max_message_bytes = h->max_message_bytes;
    err = nox__client_dup(c, h->status, &r.status);
    if (err == NOX_OK)
        err = nox__client_dup(c, h->version, &r.version);
    if (err == NOX_OK)
        err = nox__client_dup(c, h->isolation, &r.isolation);
    if (err == NOX_OK)
        err = nox__client_dup(c, h->isolation_detail, &r.isolation_detail);
    if (err == NOX_OK)
        *out = r;
    else
        nox_health_free(&r);
    protobuf_c_message_free_unpacked(resp, NULL);
    return err;
}

nox_err_t
nox_client_health(nox_client_t *c, nox_health_t *out)
{
    if (c == NULL)
        return NOX_EINVAL;
    if (out == NULL)
        return nox__client_invalid(c, "health: out is NULL");
    return client_health(c, c->timeout_ms, out);
}

void
nox_health_free(nox_health_t *h)
{
    if (h == NULL)
        return;
    free(h->status);
    free(h->version);
    free(h->isolation);
    free(h->isolation_detail);
    memset(h, 0, sizeof(*h));
}

/* Over http a refused connection fails at once (there is no background
 * dialer to wait for), so ask again until the server answers or the time
 * is up. */
static nox_err_t
client_wait_http(nox_client_t *c, int64_t timeout_ms, nox_health_t *h)
{
    int64_t   deadline = nox__mono_ms() + timeout_ms;
    int64_t   left = timeout_ms;
    nox_err_t err;

    for (;;) {
        err = client_health(c, left, h);
        left = deadline - nox__mono_ms();
        if (err != NOX_EUNAVAIL || left <= 0 ||
            nox__http_failed_for_good(c->http))
            return err;
        int64_t         nap = left < 20 ? left : 20;
        struct timespec ts = {0, (long)nap * 1000000L};
        (void)nanosleep(&ts, NULL); /* EINTR only shortens the nap */
    }
}

nox_err_t
nox_client_wait_ready(nox_client_t *c, int64_t timeout_ms)
{
    nox_health_t h;
    nox_err_t    err;

    if (c == NULL)
        return NOX_EINVAL;
    if (timeout_ms <= 0)
        return nox__client_invalid(c,
                                   "wait_ready: timeout_ms must be positive");
    /* One Health call is enough over NNG: req0 holds the request until
     * the background dialer connects, then sends it. */
    if (c->http != NULL)
        err = client_wait_http(c, timeout_ms, &h);
    else
        err = client_health(c, timeout_ms, &h);
    if (err == NOX_OK) {
        nox_health_free(&h);
        return NOX_OK;
    }
    /* A TLS certificate failure is said as it is: waiting cannot help. */
    if ((err == NOX_EUNAVAIL &&
         (c->http == NULL || !nox__http_failed_for_good(c->http))) ||
        err == NOX_ETIMEDOUT) {
        char why[sizeof(c->last.msg)];
        (void)snprintf(why, sizeof(why), "%s", c->last.msg);
        return nox__status_set(&c->last, NOX_ETIMEDOUT,
                               "server at %s not ready within %lld ms: %s",
                               client_url(c), (long long)timeout_ms, why);
    }
    return err;
}
