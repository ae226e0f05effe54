/*
 * http_impl.h - what the http transport's two files share: the state of
 * one client's libcurl handle, one request's reply, and the request
 * itself (http_curl.c: options, callbacks, error mapping). Private to
 * libnoxrunner.
 */
#ifndef NOX_CLIENT_HTTP_IMPL_H
#define NOX_CLIENT_HTTP_IMPL_H

#include "http_transport.h"

#include "rest.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

struct nox_http {
    CURL   *curl;
    char   *base;        /* the URL without trailing '/': paths follow it */
    char   *auth_header; /* "Authorization: Bearer <token>", or NULL */
    char   *ca_file;     /* NULL: the system's CA store */
    int64_t connect_ms;
    /* The URL's host is this machine (127.0.0.0/8, ::1, localhost): never
     * through a proxy. */
    bool loopback;
    /* The backend answered GET /v1/health with "not served": it is not
     * ours, so Health goes straight to /healthz from now on. */
    bool spec_health;
    /* The last call failed on the certificates (the server's or the CA
     * file): asking again cannot help. */
    bool tls_refused;
    char errbuf[CURL_ERROR_SIZE];
};

/* What one request brought back. */
typedef struct {
    nox_buf_t body;
    size_t    max;     /* larger bodies are refused */
    bool      too_big; /* the write callback stopped at max */
    bool      no_mem;
    char      deleted[8]; /* NOX_REST_DELETED_HEADER's value, or "" */
    /* The request body still to send, for one read once (see
     * http_setopts). */
    const uint8_t *unsent;
    size_t         unsent_len;
} http_reply_t;

/* Send call once within budget_ms into r (whose body and flags the
 * caller resets). once: never twice, not even by libcurl itself (see
 * http_curl.c). *err is set when the request could not even be set up. */
CURLcode nox__http_perform(nox_http_t *h, const nox_rest_call_t *call,
                           int64_t budget_ms, bool once, http_reply_t *r,
                           nox_status_t *st, nox_err_t *err);

/* Whether rc means the connection dropped before any reply. */
bool nox__http_dropped(CURLcode rc);

/* The error of a failed perform: UNAVAILABLE (nobody listening, TLS
 * refused, connection lost), DEADLINE_EXCEEDED (sent, no reply in time),
 * RESOURCE_EXHAUSTED (reply too large), in st. */
nox_err_t nox__http_curl_error(nox_http_t *h, CURLcode rc,
                               const http_reply_t *r, int64_t budget_ms,
                               bool repeatable, nox_status_t *st);

#endif /* NOX_CLIENT_HTTP_IMPL_H */
