/* http_transport.c - one RPC as one REST call over libcurl: encode with
 * rest.h, send on the client's one easy handle (its connection kept
 * alive), decode the reply. */
#include "http_transport.h"
#include "http_impl.h"

#include "auth.h"
#include "client_impl.h"
#include "nox/server.h"
#include "rest.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Sends of one repeatable call, the first included (as transport.c). */
#define HTTP_MAX_SENDS 3

/* ---- libcurl's global state ---- */

/* GLOBAL: set once under http_once; curl_global_init must run once per
 * process before any handle, and the library cannot ask its caller to. */
static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode       http_global_rc = CURLE_FAILED_INIT;

static void
http_global_init(void)
{
    http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- opening ---- */

bool
nox__http_is_url(const char *url)
{
    return url != NULL && (strncasecmp(url, "http://", 7) == 0 ||
                           strncasecmp(url, "https://", 8) == 0);
}

/* A base URL must parse, have a host, and carry no query or fragment:
 * the REST paths are appended to it. */
static nox_err_t
http_check_url(const char *url, bool *loopback, nox_status_t *st)
{
    CURLU    *u = curl_url();
    char     *host = NULL, *query = NULL, *frag = NULL;
    CURLUcode rc;
    nox_err_t err = NOX_OK;

    if (u == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc != CURLUE_OK) {
        err = nox__status_set(st, NOX_EINVAL, "bad URL '%s': %s", url,
                              curl_url_strerror(rc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        host[0] == '\0') {
        err = nox__status_set(st, NOX_EINVAL, "bad URL '%s': no host", url);
        goto out;
    }
    /* curl gives an IPv6 host in brackets. */
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n > 2 && host[n - 1] == ']') {
            host[n - 1] = '\0';
            *loopback = nox__host_is_loopback(host + 1);
            host[n - 1] = ']';
        }
    } else {
        *loopback = nox__host_is_loopback(host);
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK)
        err = nox__status_set(st, NOX_EINVAL,
                              "bad URL '%s': a server URL takes no query or "
                              "fragment",
                              url);
out:
    curl_free(host);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return err;
}

static nox_err_t
http_copy_settings(nox_http_t *h, const char *url, const char *token,
                   const char *ca_file, nox_status_t *st)
{
    size_t len = strlen(url);

    while (len > 0 && url[len - 1] == '/')
        len--;
    h->base = strndup(url, len);
    if (h->base == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    if (ca_file != NULL) {
        h->ca_file = strdup(ca_file);
        if (h->ca_file == NULL)
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    }
    if (token != NULL) {
        /* A token that could end the header line would let it add
         * headers of its own. */
        if (strpbrk(token, "\r\n") != NULL)
            return nox__status_set(st, NOX_EINVAL,
                                   "the token contains a line break");
        size_t n = strlen("Authorization: Bearer ") + strlen(token) + 1;
        h->auth_header = malloc(n);
        if (h->auth_header == NULL)
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
        (void)snprintf(h->auth_header, n, "Authorization: Bearer %s", token);
    }
    return NOX_OK;
}

nox_err_t
nox__http_open(nox_http_t **out, const char *url, const char *token,
               const char *ca_file, int64_t connect_ms, nox_status_t *st)
{
    nox_http_t *h;
    nox_err_t   err;
    bool        loopback = false;

    if (pthread_once(&http_once, http_global_init) != 0 ||
        http_global_rc != CURLE_OK)
        return nox__status_set(st, NOX_EINTERNAL, "cannot initialise libcurl");
    if (!nox__http_is_url(url))
        return nox__status_set(st, NOX_EINVAL, "bad URL '%s' (not http(s)://)",
                               url != NULL ? url : "");
    err = http_check_url(url, &loopback, st);
    if (err != NOX_OK)
        return err;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    h->connect_ms = connect_ms > 0 ? connect_ms : 1;
    h->loopback = loopback;
    err = http_copy_settings(h, url, token, ca_file, st);
    if (err == NOX_OK) {
        h->curl = curl_easy_init();
        if (h->curl == NULL)
            err = nox__status_set(st, NOX_ERESOURCE,
                                  "cannot create a curl handle");
    }
    if (err != NOX_OK) {
        nox__http_close(h);
        return err;
    }
    *out = h;
    return NOX_OK;
}

void
nox__http_close(nox_http_t *h)
{
    if (h == NULL)
        return;
    if (h->curl != NULL)
        curl_easy_cleanup(h->curl);
    if (h->auth_header != NULL)
        explicit_bzero(h->auth_header, strlen(h->auth_header));
    free(h->auth_header);
    free(h->ca_file);
    free(h->base);
    free(h);
}

bool
nox__http_failed_for_good(const nox_http_t *h)
{
    return h->tls_refused;
}

const char *
nox__http_url(const nox_http_t *h)
{
    return h->base;
}

static void
http_reply_reset(http_reply_t *r)
{
    nox__buf_free(&r->body);
    r->too_big = false;
    r->no_mem = false;
    r->deleted[0] = '\0';
}

/* Exec must never run twice. The other calls that change state are
 * idempotent in effect: a second Create finds the sandbox, a second
 * Upload writes the same files again, a second Delete finds nothing. */
static bool
http_must_run_once(unsigned rpc)
{
    return rpc == NOX_RPC_EXEC;
}

/* Methods that only read or renew a TTL, as transport.c's. */
static bool
http_repeatable(unsigned rpc)
{
    return rpc == NOX_RPC_HEALTH || rpc == NOX_RPC_LIST ||
           rpc == NOX_RPC_DOWNLOAD || rpc == NOX_RPC_TOUCH;
}

/* A 3xx: following it would send the token to wherever it points, and
 * the body is some HTML page; say where the backend lives instead. */
static nox_err_t
http_redirected(nox_http_t *h, long status, nox_status_t *st)
{
    char *where = NULL;

    if (curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &where) != CURLE_OK ||
        where == NULL)
        return nox__status_set(st, NOX_EINVAL,
                               "the backend at %s answers HTTP %ld (a "
                               "redirect without a Location); redirects are "
                               "not followed",
                               h->base, status);
    return nox__status_set(st, NOX_EINVAL,
                           "the backend redirects to %s; redirects are not "
                           "followed: use that URL",
                           where);
}

/* The largest reply body of route under the server's limit: the payload
 * plus room for the JSON around it, JSON text being up to six bytes per
 * byte of payload ("\u0001"; U+FFFD, three). */
static size_t
http_reply_cap(const nox_rest_route_t *route, size_t max_payload)
{
    size_t grow = route->reply == NOX_REST_BODY_JSON ? 6 : 1;

    if (max_payload > (SIZE_MAX - NOX_ENVELOPE_SLACK) / grow)
        return SIZE_MAX;
    return max_payload * grow + NOX_ENVELOPE_SLACK;
}

/* One route: encode, send (again, for a repeatable call whose connection
 * dropped), decode. */
static nox_err_t
http_route_call(nox_http_t *h, const nox_rest_route_t *route,
                const ProtobufCMessage *req, int64_t deadline,
                int64_t budget_ms, size_t max_payload, ProtobufCMessage **resp,
                nox_status_t *st)
{
    nox_rest_call_t call = {0};
    http_reply_t    r = {.body = NOX_BUF_INIT,
                         .max = http_reply_cap(route, max_payload)};
    bool            repeatable = http_repeatable(route->rpc);
    long            status = 0;
    char           *type = NULL;
    CURLcode        rc;
    nox_err_t       err;

    err = nox__rest_encode(route, req, &call, st);
    if (err != NOX_OK)
        return err;
    for (int sends = 1;; sends++) {
        int64_t left = deadline - nox__mono_ms();

        rc = nox__http_perform(h, &call, left > 0 ? left : 1,
                               http_must_run_once(route->rpc), &r, st, &err);
        if (err != NOX_OK)
            goto out;
        if (rc == CURLE_OK)
            break;
        if (repeatable && sends < HTTP_MAX_SENDS && nox__http_dropped(rc) &&
            nox__mono_ms() < deadline) {
            http_reply_reset(&r);
            continue;
        }
        err = nox__http_curl_error(h, rc, &r, budget_ms, repeatable, st);
        goto out;
    }
    if (curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status) !=
            CURLE_OK ||
        curl_easy_getinfo(h->curl, CURLINFO_CONTENT_TYPE, &type) != CURLE_OK) {
        err = nox__status_set(st, NOX_EINTERNAL, "reply from %s unreadable",
                              h->base);
        goto out;
    }
    if (status >= 300 && status < 400) {
        err = http_redirected(h, status, st);
        goto out;
    }
    err = nox__rest_decode(route, (int)status, type, r.body.data, r.body.len,
                           r.deleted[0] != '\0' ? r.deleted : NULL, resp, st);
out:
    nox__buf_free(&r.body);
    nox__rest_call_free(&call);
    return err;
}

nox_err_t
nox__http_call(nox_http_t *h, unsigned rpc, const ProtobufCMessage *req,
               int64_t budget_ms, size_t max_payload, ProtobufCMessage **resp,
               nox_status_t *st)
{
    int64_t                 deadline = nox__mono_ms() + budget_ms;
    bool                    health = rpc == NOX_RPC_HEALTH;
    const nox_rest_route_t *route;
    nox_err_t               err;

    h->tls_refused = false;
    route = nox__rest_route_of(rpc, health && h->spec_health);
    if (route == NULL)
        return nox__status_set(st, NOX_ENOTSUP,
                               "method %u has no REST endpoint", rpc);
    err = http_route_call(h, route, req, deadline, budget_ms, max_payload, resp,
                          st);
    /* Another NoxRunner backend: it has the specification's /healthz
     * only. Remember, so later Health calls cost one request. */
    if (err == NOX_ENOTSUP && health && !h->spec_health) {
        h->spec_health = true;
        route = nox__rest_route_of(rpc, true);
        if (route == NULL)
            return err;
        err = http_route_call(h, route, req, deadline, budget_ms, max_payload,
                              resp, st);
    }
    return err;
}
