/* rest_client.c - the client's half of the translation: a request message
 * into an HTTP request, an HTTP reply into the reply message or an
 * error. */
#include "json_message.h"
#include "rest_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Error text taken from a non-JSON error body, at most. */
#define REST_ERROR_TEXT_MAX 512

static const char *const rest_skip_session[] = {"session_id", NULL};

static const ProtobufCMethodDescriptor *
rest_method(const nox_rest_route_t *route)
{
    return &noxrunner__v1__sandbox__descriptor.methods[route->rpc];
}

static const char *
rest_get_string(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    const char *s;

    if (f == NULL)
        return "";
    s = *(char *const *)((const char *)m + f->offset);
    return s != NULL ? s : "";
}

/* ?name=value, or &name=value after the first. */
static nox_err_t
rest_query(nox_buf_t *b, bool *first, const char *name, const char *value)
{
    nox_err_t err = nox__buf_append(b, *first ? "?" : "&", 1);

    *first = false;
    if (err == NOX_OK)
        err = nox__buf_append(b, name, strlen(name));
    if (err == NOX_OK)
        err = nox__buf_append(b, "=", 1);
    if (err == NOX_OK)
        err = nox__rest_pct_append(b, value);
    return err;
}

static nox_err_t
rest_target(const nox_rest_route_t *route, const ProtobufCMessage *req,
            nox_buf_t *b)
{
    bool        first = true;
    nox_err_t   err;
    int         format = 0;
    const char *where = NULL, *key = NULL;

    if (route->path != NULL)
        return nox__buf_append(b, route->path, strlen(route->path) + 1);
    err = nox__buf_append(b, "/v1/sandboxes/", 14);
    if (err == NOX_OK)
        err = nox__rest_pct_append(b, rest_get_string(req, "session_id"));
    if (err == NOX_OK)
        err = nox__buf_append(b, route->suffix, strlen(route->suffix));
    if (route->rpc == REST_RPC_UPLOAD) {
        where = rest_get_string(req, "dest");
        key = "dest";
        format = ((const Noxrunner__V1__UploadFilesRequest *)req)->format;
    } else if (route->rpc == REST_RPC_DOWNLOAD) {
        where = rest_get_string(req, "src");
        key = "src";
        format = ((const Noxrunner__V1__DownloadFilesRequest *)req)->format;
    }
    if (err == NOX_OK && where != NULL && where[0] != '\0')
        err = rest_query(b, &first, key, where);
    /* The default (gzip tar) is not named: other backends know only it. */
    if (err == NOX_OK && format != 0)
        err = rest_query(b, &first, "format", nox__rest_format_name(format));
    if (err == NOX_OK)
        err = nox__buf_append(b, "", 1);
    return err;
}

/* The JSON body of Create and Exec: the fields a caller set, as another
 * backend expects them (ttlSeconds always: the specification calls it
 * required). */
static nox_err_t
rest_json_body(const nox_rest_route_t *route, const ProtobufCMessage *req,
               nox_rest_call_t *out, nox_status_t *st)
{
    cJSON *j;

    if (route->rpc == REST_RPC_EXEC &&
        ((const Noxrunner__V1__ExecRequest *)req)->stdin.len > 0) {
        const ProtobufCBinaryData *in =
            &((const Noxrunner__V1__ExecRequest *)req)->stdin;
        /* JSON carries text: bytes that would come out repaired are
         * refused rather than changed. */
        char *clean = nox__utf8_sanitize(in->data, in->len);
        bool  text = clean != NULL && strlen(clean) == in->len &&
                    memcmp(clean, in->data, in->len) == 0;
        free(clean);
        if (!text)
            return nox__status_set(st, NOX_EINVAL,
                                   "over http(s), stdin must be UTF-8 text "
                                   "without NUL bytes");
    }
    j = nox__json_from_message(req, rest_skip_session, true);
    if (j != NULL && route->rpc == REST_RPC_CREATE &&
        cJSON_GetObjectItemCaseSensitive(j, "ttlSeconds") == NULL &&
        cJSON_AddNumberToObject(j, "ttlSeconds", 900) == NULL) {
        cJSON_Delete(j);
        j = NULL;
    }
    out->owned = j != NULL ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (out->owned == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    out->content_type = "application/json";
    out->body = (const uint8_t *)out->owned;
    out->len = strlen(out->owned);
    return NOX_OK;
}

nox_err_t
nox__rest_encode(const nox_rest_route_t *route, const ProtobufCMessage *req,
                 nox_rest_call_t *out, nox_status_t *st)
{
    nox_buf_t target = {0};
    nox_err_t err;

    memset(out, 0, sizeof(*out));
    out->verb = route->verb;
    if (req->descriptor != rest_method(route)->input)
        return nox__status_set(st, NOX_EINTERNAL,
                               "request does not match the route");
    if (rest_target(route, req, &target) != NOX_OK) {
        nox__buf_free(&target);
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    }
    out->target = (char *)nox__buf_steal(&target, NULL);
    if (route->request == NOX_REST_BODY_JSON) {
        err = rest_json_body(route, req, out, st);
        if (err != NOX_OK) {
            nox__rest_call_free(out);
            return err;
        }
    } else if (route->request == NOX_REST_BODY_ARCHIVE) {
        const Noxrunner__V1__UploadFilesRequest *u = (const void *)req;
        out->content_type =
            u->format == NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_ZSTD
                ? "application/zstd"
                : "application/x-tar";
        out->body =
            u->tar_gz.data != NULL ? u->tar_gz.data : (const uint8_t *)"";
        out->len = u->tar_gz.len;
    }
    return NOX_OK;
}

void
nox__rest_call_free(nox_rest_call_t *c)
{
    free(c->target);
    free(c->owned);
    memset(c, 0, sizeof(*c));
}

/* ---- replies ---- */

/* The message of an error reply: the "error" member of a JSON body (and
 * its "code", from our server), else the body's text, else the status. */
static nox_err_t
rest_error(const nox_rest_route_t *route, int status, const uint8_t *body,
           size_t len, nox_status_t *st)
{
    cJSON *j = len > 0 ? cJSON_ParseWithLength((const char *)body, len) : NULL;
    cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "code");
    nox_err_t code = nox__rest_err_of_status(status);
    bool      ours =
        cJSON_IsNumber(c) && c->valuedouble >= 1 && c->valuedouble <= 16;
    char     *text = NULL;
    nox_err_t rv;

    if (ours)
        code = (nox_err_t)c->valueint;
    if (cJSON_IsString(e))
        text = strdup(e->valuestring);
    else if (j == NULL && len > 0 && body[0] != '<')
        /* Plain text says something; an HTML error page (a proxy's, a
         * web server's) would only bury the status. */
        text = nox__utf8_sanitize(
            body, len < REST_ERROR_TEXT_MAX ? len : REST_ERROR_TEXT_MAX);
    cJSON_Delete(j);
    if (text != NULL) /* one line: trailing newlines and spaces go */
        for (size_t n = strlen(text);
             n > 0 && isspace((unsigned char)text[n - 1]); n--)
            text[n - 1] = '\0';
    if (!ours && !route->in_spec && (status == 404 || status == 405)) {
        rv = nox__status_set(st, NOX_ENOTSUP,
                             "%s %s is not served by this backend (only "
                             "noxrunnerd has it)",
                             route->verb,
                             route->path != NULL ? route->path : "");
    } else if (text != NULL && text[0] != '\0') {
        rv = nox__status_set(st, code, "%s", text);
    } else {
        rv = nox__status_set(st, code, "HTTP %d from the backend", status);
    }
    free(text);
    return rv;
}

static nox_err_t
rest_new(const nox_rest_route_t *route, ProtobufCMessage **m, nox_status_t *st)
{
    return nox__json_to_message(NULL, rest_method(route)->output, NULL, m, st);
}

/* cJSON ends a string at a "\u0000" (json.dumps writes a NUL so), losing
 * the rest of another backend's stdout. Each becomes "\ufffd" (as
 * noxrunnerd sends a NUL): *copy is the changed text, or NULL when
 * there was none. NOX_EINTERNAL for a \u escape without four hex digits
 * (cJSON would cut the string there too; no JSON writer makes one). */
static nox_err_t
rest_replace_nul_escapes(const uint8_t *body, size_t len, char **copy,
                         nox_status_t *st)
{
    bool   malformed = false;
    size_t at = nox__rest_json_nul_escape(body, len, 0, &malformed);

    *copy = NULL;
    for (; at < len;
         at = nox__rest_json_nul_escape(body, len, at + 6, &malformed)) {
        if (malformed) {
            free(*copy);
            *copy = NULL;
            return nox__status_set(st, NOX_EINTERNAL,
                                   "the backend's reply is not valid JSON: a "
                                   "\\u escape without four hex digits at "
                                   "byte %zu",
                                   at);
        }
        if (*copy == NULL) {
            *copy = malloc(len);
            if (*copy == NULL)
                return nox__status_set(st, NOX_ERESOURCE, "out of memory");
            memcpy(*copy, body, len);
        }
        memcpy(*copy + at + 2, "fffd", 4);
    }
    return NOX_OK;
}

static nox_err_t
rest_json_reply(const nox_rest_route_t *route, const uint8_t *body, size_t len,
                ProtobufCMessage **resp, nox_status_t *st)
{
    cJSON    *j;
    char     *text;
    nox_err_t err;

    if (len == 0)
        return rest_new(route, resp, st);
    err = rest_replace_nul_escapes(body, len, &text, st);
    if (err != NOX_OK)
        return err;
    j = cJSON_ParseWithLength(text != NULL ? text : (const char *)body, len);
    free(text);
    if (j == NULL || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        /* The specification lets touch and upload answer "empty or a
         * success message". */
        if (route->rpc == REST_RPC_TOUCH || route->rpc == REST_RPC_UPLOAD)
            return rest_new(route, resp, st);
        return nox__status_set(st, NOX_EINTERNAL,
                               "the backend's reply to %s is not a JSON "
                               "object",
                               route->verb);
    }
    err = nox__json_to_message(j, rest_method(route)->output, NULL, resp, st);
    cJSON_Delete(j);
    if (err == NOX_EINVAL) { /* the backend's fault, not the caller's */
        char why[sizeof(st->msg)];
        (void)snprintf(why, sizeof(why), "%s", st->msg);
        return nox__status_set(st, NOX_EINTERNAL, "the backend's reply: %s",
                               why);
    }
    return err;
}

static nox_err_t
rest_success(const nox_rest_route_t *route, const uint8_t *body, size_t len,
             const char *deleted, ProtobufCMessage **resp, nox_status_t *st)
{
    nox_err_t err;

    switch (route->reply) {
    case NOX_REST_BODY_TEXT: {
        Noxrunner__V1__HealthResponse *h;
        if (memmem(body, len, "OK", 2) == NULL)
            return nox__status_set(st, NOX_EUNAVAIL,
                                   "the backend is not healthy");
        err = rest_new(route, resp, st);
        if (err != NOX_OK)
            return err;
        h = (void *)*resp;
        h->status = strdup("SERVING");
        if (h->status == NULL) {
            protobuf_c_message_free_unpacked(*resp, NULL);
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
        }
        return NOX_OK;
    }
    case NOX_REST_BODY_ARCHIVE: {
        Noxrunner__V1__DownloadFilesResponse *d;
        err = rest_new(route, resp, st);
        if (err != NOX_OK || len == 0)
            return err;
        d = (void *)*resp;
        d->tar_gz.data = malloc(len);
        if (d->tar_gz.data == NULL) {
            protobuf_c_message_free_unpacked(*resp, NULL);
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
        }
        memcpy(d->tar_gz.data, body, len);
        d->tar_gz.len = len;
        return NOX_OK;
    }
    case NOX_REST_BODY_NONE:
        err = rest_new(route, resp, st);
        if (err == NOX_OK && route->rpc == REST_RPC_DELETE)
            /* Other backends say nothing: a 2xx means it is gone. */
            ((Noxrunner__V1__DeleteSandboxResponse *)*resp)->deleted =
                deleted == NULL || strcmp(deleted, "false") != 0;
        return err;
    case NOX_REST_BODY_JSON:
        break;
    }
    return rest_json_reply(route, body, len, resp, st);
}

nox_err_t
nox__rest_decode(const nox_rest_route_t *route, int status,
                 const char *content_type, const uint8_t *body, size_t len,
                 const char *deleted, ProtobufCMessage **resp, nox_status_t *st)
{
    (void)content_type;
    if (body == NULL)
        len = 0;
    if (status < 200 || status >= 300)
        return rest_error(route, status, body, len, st);
    return rest_success(route, body != NULL ? body : (const uint8_t *)"", len,
                        deleted, resp, st);
}
