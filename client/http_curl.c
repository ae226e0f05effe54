/* http_curl.c - one REST request on a client's libcurl handle: its
 * options, headers and callbacks, and what a failure means. The RPC
 * around it (encoding, resends, decoding) is http_transport.c's. */
#include "http_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* ---- one request ---- */

static size_t
http_on_body(char *p, size_t size, size_t n, void *arg)
{
    http_reply_t *r = arg;

    (void)size; /* always 1 */
    if (n > r->max - r->body.len) {
        r->too_big = true;
        return 0; /* makes curl fail the transfer (CURLE_WRITE_ERROR) */
    }
    if (nox__buf_append(&r->body, p, n) != NOX_OK) {
        r->no_mem = true;
        return 0;
    }
    return n;
}

/* The request body, once: nothing is read twice. */
static size_t
http_on_read(char *p, size_t size, size_t n, void *arg)
{
    http_reply_t *r = arg;
    size_t        len = size * n < r->unsent_len ? size * n : r->unsent_len;

    memcpy(p, r->unsent, len);
    r->unsent += len;
    r->unsent_len -= len;
    return len;
}

static size_t
http_on_header(char *p, size_t size, size_t n, void *arg)
{
    static const char name[] = NOX_REST_DELETED_HEADER ":";
    http_reply_t     *r = arg;
    size_t            skip = sizeof(name) - 1, len;

    (void)size; /* always 1 */
    /* A new status line starts another response's headers. */
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0)
        r->deleted[0] = '\0';
    if (n <= skip || strncasecmp(p, name, skip) != 0)
        return n;
    p += skip;
    len = n - skip;
    while (len > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n' ||
                       p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (len < sizeof(r->deleted)) {
        memcpy(r->deleted, p, len);
        r->deleted[len] = '\0';
    }
    return n;
}

/* Append line to *l; false (and *l freed) when memory runs out. */
static bool
http_header_add(struct curl_slist **l, const char *line)
{
    struct curl_slist *next = curl_slist_append(*l, line);

    if (next == NULL) {
        curl_slist_free_all(*l);
        *l = NULL;
        return false;
    }
    *l = next;
    return true;
}

/* libcurl's own socket() lacks SOCK_CLOEXEC: a child the caller starts
 * (or an Exec of the in-process engine) would inherit the connection. */
static curl_socket_t
http_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)arg;
    (void)purpose;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Headers of call: the token, the body's type, and an empty Expect so
 * that an upload is not held back waiting for "100 Continue". */
static nox_err_t
http_headers(const nox_http_t *h, const nox_rest_call_t *call,
             struct curl_slist **out, nox_status_t *st)
{
    struct curl_slist *l = NULL;
    char               type[128];
    bool               ok = http_header_add(&l, "Expect:");

    if (ok && h->auth_header != NULL)
        ok = http_header_add(&l, h->auth_header);
    if (ok && call->content_type != NULL) {
        (void)snprintf(type, sizeof(type), "Content-Type: %s",
                       call->content_type); /* static, short */
        ok = http_header_add(&l, type);
    }
    if (!ok)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    *out = l;
    return NOX_OK;
}

/* Options of one request; curl_easy_setopt fails only for unknown
 * options or out of memory, so the results are or'ed together. */
static CURLcode
http_setopts(nox_http_t *h, const char *url, const nox_rest_call_t *call,
             struct curl_slist *headers, int64_t budget_ms, bool once,
             http_reply_t *r)
{
    CURL    *c = h->curl;
    int64_t  connect_ms = h->connect_ms < budget_ms ? h->connect_ms : budget_ms;
    CURLcode rc = CURLE_OK;

    /* Reset drops the previous call's options but keeps the connection
     * (and TLS session) cache, so keep-alive still works. */
    curl_easy_reset(c);
    h->errbuf[0] = '\0';
    rc |= curl_easy_setopt(c, CURLOPT_URL, url);
    /* As encoded: curl would otherwise squash a session id "." or ".."
     * (dot segments) and call another path. */
    rc |= curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* we have threads */
    rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    /* One idle connection is enough for one thread's calls. */
    rc |= curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    /* A given CA file is the only trust: not added to the system's. */
    if (h->ca_file != NULL) {
        rc |= curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
        rc |= curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    }
    /* A proxy would see the bearer token; one for the loopback makes no
     * sense. Other hosts follow the usual *_proxy and no_proxy variables
     * (setting CURLOPT_NOPROXY for them would make libcurl ignore
     * no_proxy). */
    if (h->loopback)
        rc |= curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    rc |= curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, http_open_socket);
    rc |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    rc |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)budget_ms);
    rc |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    rc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_on_body);
    rc |= curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    rc |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_on_header);
    rc |= curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    rc |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (strcmp(call->verb, "GET") == 0) {
        rc |= curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(call->verb, "DELETE") == 0) {
        rc |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else if (once) {
        /* libcurl sends a request once more by itself when a reused
         * connection closes before the first reply byte. Before sending
         * a body again it must rewind it: a body read through a callback
         * without a seek callback cannot be, so the second send fails
         * (CURLE_SEND_FAIL_REWIND) instead of running the call twice.
         * When no byte of the body went out there is nothing to rewind,
         * and the server, lacking the body, cannot have run the call. */
        r->unsent = call->body != NULL ? call->body : (const uint8_t *)"";
        r->unsent_len = call->body != NULL ? call->len : 0;
        rc |= curl_easy_setopt(c, CURLOPT_POST, 1L);
        rc |= curl_easy_setopt(c, CURLOPT_READFUNCTION, http_on_read);
        rc |= curl_easy_setopt(c, CURLOPT_READDATA, r);
        rc |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                               (curl_off_t)r->unsent_len);
    } else {
        /* POST and PUT: the body, borrowed (never copied: an upload may
         * be large), with an explicit length as it may hold NULs. */
        rc |= curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                               call->body != NULL ? (const char *)call->body
                                                  : "");
        rc |=
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(call->body != NULL ? call->len : 0));
        if (strcmp(call->verb, "POST") != 0)
            rc |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call->verb);
    }
    return rc;
}

/* The connection ended before any reply: the server may never have seen
 * the request (an idle keep-alive connection it closed), or may have
 * died running it. (libcurl itself sends a request once more, on a new
 * connection, when a reused one turns out closed before a byte of reply:
 * the usual race with a server closing an idle connection, which it
 * cannot be told from a server that died at that moment; see the
 * body read once in http_setopts.) */
bool
nox__http_dropped(CURLcode rc)
{
    return rc == CURLE_GOT_NOTHING || rc == CURLE_SEND_ERROR ||
           rc == CURLE_RECV_ERROR;
}

/* Did the TLS handshake fail on the certificates? rc alone says so but
 * for a handshake error, whose verification result tells. */
static bool
http_tls_refused(nox_http_t *h, CURLcode rc)
{
    long verify = 0;

    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return true;
    case CURLE_SSL_CONNECT_ERROR:
        return curl_easy_getinfo(h->curl, CURLINFO_SSL_VERIFYRESULT, &verify) ==
                   CURLE_OK &&
               verify != 0;
    default:
        return false;
    }
}

/* repeatable: the call was sent again after dropped connections. */
nox_err_t
nox__http_curl_error(nox_http_t *h, CURLcode rc, const http_reply_t *r,
                     int64_t budget_ms, bool repeatable, nox_status_t *st)
{
    const char *why = h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(rc);

    if (rc == CURLE_SEND_FAIL_REWIND) /* curl's "rewind" would puzzle */
        why = "the connection closed after the request was sent";
    long sent = 0;

    switch (rc) {
    case CURLE_WRITE_ERROR:
        if (r->too_big)
            return nox__status_set(st, NOX_ERESOURCE,
                                   "reply from %s exceeds %zu bytes", h->base,
                                   r->max);
        return nox__status_set(st, NOX_ERESOURCE, "reply from %s: %s", h->base,
                               r->no_mem ? "out of memory" : why);
    case CURLE_OUT_OF_MEMORY:
        return nox__status_set(st, NOX_ERESOURCE, "talking to %s: %s", h->base,
                               why);
    case CURLE_OPERATION_TIMEDOUT:
        /* Nothing sent within the time: nobody answers, as over NNG. Once
         * the request is out (on a new connection or a reused one, whose
         * connect time is 0) the server probably runs it: a timeout. */
        if (curl_easy_getinfo(h->curl, CURLINFO_REQUEST_SIZE, &sent) !=
                CURLE_OK ||
            sent <= 0)
            return nox__status_set(st, NOX_EUNAVAIL, "cannot reach %s: %s",
                                   h->base, why);
        return nox__status_set(st, NOX_ETIMEDOUT,
                               "no reply from %s within %lld ms: %s", h->base,
                               (long long)budget_ms, why);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return nox__status_set(st, NOX_EINVAL, "bad URL '%s': %s", h->base,
                               why);
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_FAIL_REWIND: /* libcurl's own second send, refused */
        return nox__status_set(st, NOX_EUNAVAIL,
                               "connection to %s lost before the reply%s: %s",
                               h->base,
                               repeatable ? ""
                                          : " (not retried: the server may "
                                            "have run the call)",
                               why);
    default:
        if (http_tls_refused(h, rc)) {
            /* Still "cannot reach", but final: curl's message says which
             * certificate or file and why. */
            h->tls_refused = true;
            return nox__status_set(st, NOX_EUNAVAIL,
                                   "cannot reach %s: the TLS certificate "
                                   "check failed (asking again will not "
                                   "help): %s",
                                   h->base, why);
        }
        /* Refused, unresolvable: "cannot reach", maybe not for long. */
        return nox__status_set(st, NOX_EUNAVAIL, "cannot reach %s: %s", h->base,
                               why);
    }
}

/* Send call once within budget_ms into r; once: never twice, not even by
 * libcurl itself. */
CURLcode
nox__http_perform(nox_http_t *h, const nox_rest_call_t *call, int64_t budget_ms,
                  bool once, http_reply_t *r, nox_status_t *st, nox_err_t *err)
{
    struct curl_slist *headers = NULL;
    char              *url;
    size_t             n = strlen(h->base) + strlen(call->target) + 1;
    CURLcode           rc;

    *err = NOX_OK;
    url = malloc(n);
    if (url == NULL) {
        *err = nox__status_set(st, NOX_ERESOURCE, "out of memory");
        return CURLE_OUT_OF_MEMORY;
    }
    (void)snprintf(url, n, "%s%s", h->base, call->target); /* fits */
    *err = http_headers(h, call, &headers, st);
    if (*err != NOX_OK) {
        free(url);
        return CURLE_OUT_OF_MEMORY;
    }
    rc = http_setopts(h, url, call, headers, budget_ms, once, r);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(h->curl);
    else
        *err = nox__status_set(st, NOX_EINTERNAL,
                               "cannot set up the request to %s: %s", h->base,
                               curl_easy_strerror(rc));
    /* curl holds neither after perform: the next call resets it. */
    curl_slist_free_all(headers);
    free(url);
    return rc;
}
