/*
 * http_request.c - one REST request on libmicrohttpd's polling thread:
 * the checks that need no RPC (connection limit, shutdown, bearer token,
 * route, body size), the body's collection, the hand-over to a worker
 * (http_call.c) with the connection suspended, and the reply once it is
 * resumed. /healthz is answered here at once.
 *
 * libmicrohttpd calls the access handler first when the headers are in
 * (*con_cls NULL), then once per piece of body, then with no body left;
 * a reply queued at the first call is sent without reading the body,
 * and the connection is then closed.
 */
#include "auth.h"
#include "http_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The body is first given room for this much when its length is not
 * announced. */
#define HTTP_BODY_FIRST (64u * 1024)
/* At most this much is reserved before the body has come. */
#define HTTP_BODY_RESERVE (1024u * 1024)

/* *con_cls of a request answered at its first call: later calls for it
 * (if any) only drop the body. */
static char http_answered;

/* ---- replies ---- */

static void
http_reply_free(void *arg)
{
    nox_rest_http_t *rep = arg;

    nox__rest_http_free(rep);
    free(rep);
}

/* Queue *rep (whose storage it takes over) with up to two extra headers
 * (either may be NULL). close: the connection ends after this reply. */
static enum MHD_Result
http_send(struct MHD_Connection *conn, nox_rest_http_t *rep, const char *name2,
          const char *value2, bool close)
{
    nox_rest_http_t     *box = malloc(sizeof(*box));
    struct MHD_Response *resp;
    enum MHD_Result      ret;

    if (box != NULL) {
        *box = *rep;
        memset(rep, 0, sizeof(*rep));
        resp = MHD_create_response_from_buffer_with_free_callback_cls(
            box->len, (void *)box->body, http_reply_free, box);
        if (resp == NULL)
            http_reply_free(box);
    } else {
        resp = MHD_create_response_from_buffer(rep->len, (void *)rep->body,
                                               MHD_RESPMEM_MUST_COPY);
        nox__rest_http_free(rep);
    }
    if (resp == NULL)
        return MHD_NO; /* no memory: libmicrohttpd closes the connection */
    if (box != NULL) {
        if (box->content_type != NULL && box->status != 204)
            (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                          box->content_type);
        if (box->header_name != NULL)
            (void)MHD_add_response_header(resp, box->header_name,
                                          box->header_value);
    }
    if (name2 != NULL)
        (void)MHD_add_response_header(resp, name2, value2);
    if (close)
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
                                      "close");
    ret = MHD_queue_response(conn, box != NULL ? (unsigned)box->status : 500,
                             resp);
    MHD_destroy_response(resp);
    return ret;
}

/* An error reply made here: {"error": msg, "code": code}. */
static enum MHD_Result
http_send_error(struct MHD_Connection *conn, nox_err_t code, int status,
                const char *msg, const char *name2, const char *value2,
                bool close)
{
    nox_rest_http_t rep;

    memset(&rep, 0, sizeof(rep));
    (void)nox__rest_error(code, status, msg, &rep); /* falls back itself */
    return http_send(conn, &rep, name2, value2, close);
}

/* ---- the first call: headers ---- */

/* Whether the request carries "Authorization: Bearer <h->token>". */
static bool
http_authorized(const nox__http_t *h, struct MHD_Connection *conn)
{
    const char *v =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

    if (h->token == NULL)
        return true;
    if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
        return false;
    v += 7;
    while (*v == ' ')
        v++;
    return nox__token_equal(h->token, v, strlen(v));
}

/* Percent-decode a query value into *out (malloc'd). libmicrohttpd has
 * turned "+" into a space already and left escapes alone (our unescape
 * callback). NOX_EINVAL for a malformed escape or one that decodes to a
 * NUL byte. */
static nox_err_t
http_query_decode(const char *in, char **out)
{
    int rv = nox__rest_pct_decode(in, strlen(in), false, out);

    return rv == 0 ? NOX_OK : rv == -1 ? NOX_EINVAL : NOX_ERESOURCE;
}

/* Take the query values and the Content-Type the call needs. */
static nox_err_t
http_take_query(nox__http_req_t *r, struct MHD_Connection *conn,
                const char **bad)
{
    static const char *const names[] = {"dest", "src", "format"};
    char **const             slots[] = {&r->dest, &r->src, &r->format};
    const char              *ct =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");

    for (size_t i = 0; i < 3; i++) {
        const char *v =
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, names[i]);
        nox_err_t rv = v != NULL ? http_query_decode(v, slots[i]) : NOX_OK;
        if (rv != NOX_OK) {
            *bad = names[i];
            return rv;
        }
    }
    if (ct != NULL && (r->content_type = strdup(ct)) == NULL)
        return NOX_ERESOURCE;
    return NOX_OK;
}

static void
http_req_free(nox__http_req_t *r)
{
    free(r->session_id);
    free(r->dest);
    free(r->src);
    free(r->format);
    free(r->content_type);
    free(r->body);
    free(r->resp);
    nox__rest_http_free(&r->reply);
    free(r);
}

/* The announced body length is over the limit. */
static bool
http_announced_too_big(const nox__http_t *h, struct MHD_Connection *conn,
                       size_t *announced)
{
    const char *v =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    char              *end;
    unsigned long long n;

    *announced = 0;
    if (v == NULL)
        return false;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (end == v || *end != '\0')
        return false; /* libmicrohttpd refuses it itself (400) */
    if (errno == ERANGE || n > h->max_body)
        return true;
    *announced = (size_t)n;
    return false;
}

/* Whether the connection is one beyond the limit (http_server.c marks
 * those when they open). */
static bool
http_conn_over_limit(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL && ci->socket_context != NULL;
}

/* Whether the request has a body to come (announced or chunked). */
static bool
http_has_body(struct MHD_Connection *conn)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");

    if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                    "Transfer-Encoding") != NULL)
        return true;
    return cl != NULL && strspn(cl, "0") != strlen(cl);
}

typedef struct {
    unsigned length, encoding; /* Content-Length, Transfer-Encoding */
    unsigned spaced;      /* names with a space or tab (before the colon) */
    unsigned not_chunked; /* Transfer-Encodings other than "chunked" */
} http_framing_t;

static enum MHD_Result
http_count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                   const char *value)
{
    http_framing_t *f = cls;

    (void)kind;
    /* libmicrohttpd keeps "Content-Length : 3" as a header named
     * "Content-Length "; RFC 9112 says to refuse such a name, as a proxy
     * may read it as the real one. */
    if (strpbrk(key, " \t") != NULL)
        f->spaced++;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        f->length++;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->encoding++;
        /* Anything but chunked leaves libmicrohttpd waiting for a body it
         * cannot frame. */
        if (value == NULL || strcasecmp(value, "chunked") != 0)
            f->not_chunked++;
    }
    return MHD_YES;
}

/* Whether the body's framing is ambiguous: a header that says where the
 * body ends given twice, or both kinds. libmicrohttpd takes the first
 * Content-Length, or Transfer-Encoding over it; a proxy in front may
 * take another, and then the two disagree on where the next request
 * begins (request smuggling). */
static bool
http_framing_ambiguous(struct MHD_Connection *conn, bool *unsupported)
{
    http_framing_t f = {0, 0, 0, 0};

    (void)MHD_get_connection_values(conn, MHD_HEADER_KIND, http_count_framing,
                                    &f);
    *unsupported = f.not_chunked > 0;
    return f.length > 1 || f.encoding > 1 || (f.length && f.encoding) ||
           f.spaced > 0;
}

/* Answer at the first call. libmicrohttpd sends a reply queued now
 * without reading the body, and then closes the connection; so unless
 * the connection should end anyway (close), a request without a body
 * keeps its reply until the next call, and the connection stays open
 * for the next request (keep-alive). */
static enum MHD_Result
http_early(struct MHD_Connection *conn, void **con_cls, nox_rest_http_t *rep,
           const char *name2, const char *value2, bool close)
{
    nox__http_req_t *r;

    if (close || http_has_body(conn) || (r = calloc(1, sizeof(*r))) == NULL)
        return http_send(conn, rep, name2, value2, true);
    r->conn = conn;
    r->reply = *rep;
    r->have_reply = true;
    r->name2 = name2;
    r->value2 = value2;
    *con_cls = r;
    return MHD_YES;
}

static enum MHD_Result
http_early_error(struct MHD_Connection *conn, void **con_cls, nox_err_t code,
                 int status, const char *msg, const char *name2,
                 const char *value2, bool close)
{
    nox_rest_http_t rep;

    memset(&rep, 0, sizeof(rep));
    (void)nox__rest_error(code, status, msg, &rep); /* falls back itself */
    return http_early(conn, con_cls, &rep, name2, value2, close);
}

/* The first call: everything that can be answered without an RPC is
 * answered here; else *con_cls becomes the request. */
static enum MHD_Result
http_begin(nox__http_t *h, struct MHD_Connection *conn, const char *url,
           const char *method, void **con_cls)
{
    const nox_rest_route_t *route = NULL;
    char                   *id = NULL;
    const char             *allow = NULL, *bad = NULL;
    bool                    unsupported;
    nox__http_req_t        *r;
    nox_status_t            st;
    size_t                  announced;
    bool                    head;
    int                     status;
    nox_err_t               rv;

    *con_cls = &http_answered;
    /* The headers are in: the usual idle timeout from now on. */
    (void)MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                    (unsigned)NOX_HTTP_IDLE_TIMEOUT_S);
    if (http_conn_over_limit(conn))
        return http_early_error(conn, con_cls, NOX_EUNAVAIL, 503,
                                "too many connections", NULL, NULL, true);
    if (http_framing_ambiguous(conn, &unsupported))
        return http_early_error(conn, con_cls, NOX_EINVAL, 400,
                                "conflicting or repeated Content-Length "
                                "and Transfer-Encoding headers, or a header "
                                "name with a space",
                                NULL, NULL, true);
    if (unsupported)
        return http_early_error(conn, con_cls, NOX_ENOTSUP, 501,
                                "only Transfer-Encoding: chunked is "
                                "supported",
                                NULL, NULL, true);
    if (atomic_load(&h->srv->stopping))
        return http_early_error(conn, con_cls, NOX_EUNAVAIL, 503,
                                "the server is shutting down", NULL, NULL,
                                true);
    /* HEAD is served as GET: libmicrohttpd leaves the body out. */
    head = strcmp(method, "HEAD") == 0;
    if (head)
        method = "GET";
    if (strcmp(method, "GET") == 0 && strcmp(url, "/healthz") == 0) {
        nox_rest_http_t ok = {.status = 200,
                              .content_type = "text/plain",
                              .body = (const uint8_t *)"OK",
                              .len = 2};
        return http_early(conn, con_cls, &ok, NULL, NULL, false);
    }
    if (!http_authorized(h, conn))
        return http_early_error(
            conn, con_cls, NOX_EAUTH, 401, "missing or wrong bearer token",
            MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer", false);
    nox__status_clear(&st);
    status = nox__rest_route(method, url, &route, &id, &allow, &st);
    if (status == 405 && head)
        (void)nox__status_set(&st, NOX_ENOTSUP, "method HEAD not allowed on %s",
                              url);
    if (allow != NULL && strcmp(allow, "GET") == 0)
        allow = "GET, HEAD";
    if (status != 0)
        return http_early_error(
            conn, con_cls, st.code != NOX_OK ? st.code : NOX_EINVAL, status,
            st.msg, status == 405 ? "Allow" : NULL, allow, false);
    if (http_announced_too_big(h, conn, &announced)) {
        free(id);
        return http_early_error(conn, con_cls, NOX_ERESOURCE, 413,
                                "request body over the server's limit "
                                "(--max-message-bytes)",
                                NULL, NULL, true);
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        free(id);
        return http_early_error(conn, con_cls, NOX_ERESOURCE, 0,
                                "out of memory", NULL, NULL, true);
    }
    r->h = h;
    r->conn = conn;
    r->route = route;
    r->session_id = id;
    r->cap = announced;
    r->begun_ms = nox__mono_ms();
    rv = http_take_query(r, conn, &bad);
    if (rv != NOX_OK) {
        http_req_free(r);
        if (rv == NOX_EINVAL) {
            (void)nox__status_set(&st, NOX_EINVAL,
                                  "query parameter %s: malformed "
                                  "percent-encoding",
                                  bad);
            return http_early_error(conn, con_cls, NOX_EINVAL, 0, st.msg, NULL,
                                    NULL, false);
        }
        return http_early_error(conn, con_cls, NOX_ERESOURCE, 0,
                                "out of memory", NULL, NULL, true);
    }
    *con_cls = r;
    return MHD_YES;
}

/* ---- later calls: body, hand-over, reply ---- */

/* The body went over the limit and is still coming (its length was not
 * announced, else the 413 went before it): close the connection rather
 * than read the rest, which may never end. libmicrohttpd (0.9.75) cannot
 * queue a reply before the body is in, so no 413 can go first. */
static enum MHD_Result
http_refuse_body(void)
{
    (void)fprintf(stderr, "noxrunnerd: http: a request body went over "
                          "--max-message-bytes: connection closed\n");
    return MHD_NO;
}

/* Keep a piece of the body, never past the limit: beyond it the rest is
 * dropped and the reply will be 413. */
static void
http_take_body(nox__http_req_t *r, const char *data, size_t n)
{
    size_t max = r->h->max_body;

    if (r->too_big)
        return;
    if (r->route->request == NOX_REST_BODY_NONE) {
        /* Not kept, but not read without end either. */
        if (n > max - r->dropped)
            r->too_big = true;
        else
            r->dropped += n;
        return;
    }
    if (n > max - r->len) {
        r->too_big = true;
        free(r->body);
        r->body = NULL;
        r->len = 0;
        return;
    }
    if (r->body == NULL || r->len + n > r->cap) {
        /* At first r->cap is the announced length (bounded: a client
         * that announces much and sends little reserves little). */
        size_t   cap = r->body == NULL ? r->cap : r->cap * 2;
        uint8_t *b;
        if (cap > HTTP_BODY_RESERVE && r->body == NULL)
            cap = HTTP_BODY_RESERVE;
        if (cap < HTTP_BODY_FIRST)
            cap = HTTP_BODY_FIRST;
        if (cap < r->len + n)
            cap = r->len + n;
        if (cap > max)
            cap = max; /* r->len + n <= max: checked above */
        b = realloc(r->body, cap);
        if (b == NULL) {
            /* Answered 413 too: the server cannot hold this body now. */
            r->too_big = true;
            free(r->body);
            r->body = NULL;
            r->len = 0;
            return;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
}

/* The reply of r, a call in flight, was queued (ret): from now on only
 * its sending keeps the flight, which a stop past its grace does not wait
 * for. */
static enum MHD_Result
http_sending(nox__http_req_t *r, enum MHD_Result ret)
{
    if (ret == MHD_YES && r->in_flight && !r->sending) {
        r->sending = true;
        nox__server_flight_sending(r->h->srv);
    }
    return ret;
}

/* The request is complete: count it as a call in flight, suspend its
 * connection and hand it to a worker. The flight ends when the reply
 * has been sent (nox__http_completed). */
static enum MHD_Result
http_hand_over(nox__http_req_t *r)
{
    nox_server_t *s = r->h->srv;

    nox__server_flight_begin(s);
    r->in_flight = true;
    /* Checked after the flight began: stop's settle either sees this
     * call or this check sees the shutdown. */
    if (atomic_load(&s->stopping))
        return http_sending(r, http_send_error(r->conn, NOX_EUNAVAIL, 503,
                                               "the server is shutting down",
                                               NULL, NULL, true));
    MHD_suspend_connection(r->conn);
    nox__http_submit(r->h, r);
    return MHD_YES;
}

enum MHD_Result
nox__http_access(void *cls, struct MHD_Connection *conn, const char *url,
                 const char *method, const char *version, const char *upload,
                 size_t *upload_size, void **con_cls)
{
    nox__http_req_t *r = *con_cls;

    (void)version;
    if (r == NULL)
        return http_begin(cls, conn, url, method, con_cls);
    if (*con_cls == (void *)&http_answered) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (r->route != NULL)
            http_take_body(r, upload, *upload_size);
        *upload_size = 0;
        if (r->too_big)
            return http_refuse_body();
        int64_t took = nox__mono_ms() - r->begun_ms;
        if (r->route != NULL && took > nox__http_body_deadline_ms &&
            (double)r->len < (double)took * NOX_HTTP_BODY_MIN_RATE / 1000) {
            /* Dribbled in: each byte within the idle timeout would keep
             * the connection for ever. */
            (void)fprintf(stderr, "noxrunnerd: http: a request body took "
                                  "too long: connection closed\n");
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (r->have_reply) {
        r->have_reply = false;
        return http_sending(
            r, http_send(conn, &r->reply, r->name2, r->value2, false));
    }
    if (r->route == NULL) { /* an early answer; its body was dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_big)
        return http_send_error(conn, NOX_ERESOURCE, 413,
                               "request body over the server's limit "
                               "(--max-message-bytes)",
                               NULL, NULL, true);
    return http_hand_over(r);
}

void
nox__http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    nox__http_req_t *r = *con_cls;
    nox_server_t    *s = ((nox__http_t *)cls)->srv;
    bool             flight, sending;

    (void)conn;
    (void)toe;
    *con_cls = NULL;
    if (r == NULL || (void *)r == (void *)&http_answered)
        return;
    flight = r->in_flight;
    sending = r->sending;
    http_req_free(r);
    if (flight && sending)
        nox__server_flight_sent(s);
    else if (flight)
        nox__server_flight_end(s);
}
