/* rest_server.c - the gateway's half of the translation: an HTTP request
 * into the RPC's request message, the RPC's packed reply into an HTTP
 * reply. */
#include "json_message.h"
#include "rest_impl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const rest_skip_session[] = {"session_id", NULL};

static const ProtobufCMethodDescriptor *
rest_method(const nox_rest_route_t *route)
{
    return &noxrunner__v1__sandbox__descriptor.methods[route->rpc];
}

static nox_err_t
rest_json_request(const ProtobufCMessageDescriptor *d, const uint8_t *body,
                  size_t len, ProtobufCMessage **out, nox_status_t *st)
{
    const char *end = NULL;
    cJSON      *j;
    bool        malformed;
    size_t      esc;
    nox_err_t   err;

    if (len == 0) /* an empty body means all defaults */
        return nox__json_to_message(NULL, d, rest_skip_session, out, st);
    /* A raw NUL would end the C string cJSON makes of a value, so
     * "a<NUL>b" would silently become "a": refuse it, saying where. */
    const uint8_t *nul = memchr(body, '\0', len);
    if (nul != NULL)
        return nox__status_set(st, NOX_EINVAL,
                               "malformed JSON body: a NUL byte at byte %zu",
                               (size_t)(nul - body));
    /* cJSON would read such an escape into a C string that silently
     * ends there: an argument "a\u0000b" would run as "a". Refuse it
     * instead (the RPC refuses NUL in strings too). */
    esc = nox__rest_json_nul_escape(body, len, 0, &malformed);
    if (esc < len)
        return nox__status_set(st, NOX_EINVAL,
                               malformed ? "malformed JSON body: a \\u escape "
                                           "without four hex digits at byte %zu"
                                         : "malformed JSON body: strings may "
                                           "not contain NUL (\\u0000, at byte "
                                           "%zu)",
                               esc);
    /* Not cJSON's require_null_terminated: with a length it wants a NUL
     * inside the buffer. Trailing bytes other than spaces are checked
     * here instead. */
    j = cJSON_ParseWithLengthOpts((const char *)body, len, &end, false);
    if (j != NULL) {
        size_t at = (size_t)(end - (const char *)body);
        while (at < len && (body[at] == ' ' || body[at] == '\t' ||
                            body[at] == '\r' || body[at] == '\n'))
            at++;
        if (at < len) {
            cJSON_Delete(j);
            j = NULL;
            end = (const char *)body + at;
        }
    }
    if (j == NULL) {
        size_t at = end != NULL && end >= (const char *)body
                        ? (size_t)(end - (const char *)body)
                        : 0;
        return nox__status_set(st, NOX_EINVAL,
                               "malformed JSON body (near byte %zu)", at);
    }
    err = nox__json_to_message(j, d, rest_skip_session, out, st);
    cJSON_Delete(j);
    return err;
}

/* Replace string field name of m with a copy of v. */
static nox_err_t
rest_set_string(ProtobufCMessage *m, const char *name, const char *v,
                nox_status_t *st)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    char **p;
    char  *copy;

    if (f == NULL || v == NULL)
        return NOX_OK;
    copy = strdup(v);
    if (copy == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    p = (char **)((char *)m + f->offset);
    if (*p != NULL && *p != f->default_value)
        free(*p);
    *p = copy;
    return NOX_OK;
}

/* The archive format: the query's format=, else the Content-Type's
 * (application/zstd; application/x-tar is gzip tar, as the
 * specification says), else gzip tar. */
static nox_err_t
rest_format(const nox_rest_query_t *q, const char *content_type, int *format,
            nox_status_t *st)
{
    *format = NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_GZ;
    if (q != NULL && q->format != NULL) {
        *format = nox__rest_format_parse(q->format);
        if (*format < 0)
            return nox__status_set(st, NOX_EINVAL,
                                   "unknown format '%s' (tar.gz, tar or "
                                   "zstd)",
                                   q->format);
        return NOX_OK;
    }
    if (content_type != NULL &&
        strncasecmp(content_type, "application/zstd", 16) == 0)
        *format = NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_ZSTD;
    return NOX_OK;
}

static nox_err_t
rest_archive_fields(const nox_rest_route_t *route, ProtobufCMessage *m,
                    const nox_rest_query_t *q, const char *content_type,
                    const uint8_t *body, size_t len, nox_status_t *st)
{
    int       format;
    nox_err_t err = rest_format(q, content_type, &format, st);

    if (err != NOX_OK)
        return err;
    if (route->rpc == REST_RPC_DOWNLOAD) {
        Noxrunner__V1__DownloadFilesRequest *d = (void *)m;
        d->format = (Noxrunner__V1__ArchiveFormat)format;
        return rest_set_string(m, "src", q != NULL ? q->src : NULL, st);
    }
    Noxrunner__V1__UploadFilesRequest *u = (void *)m;
    u->format = (Noxrunner__V1__ArchiveFormat)format;
    if (len > 0) {
        u->tar_gz.data = malloc(len);
        if (u->tar_gz.data == NULL)
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
        memcpy(u->tar_gz.data, body, len);
        u->tar_gz.len = len;
    }
    return rest_set_string(m, "dest", q != NULL ? q->dest : NULL, st);
}

nox_err_t
nox__rest_request(const nox_rest_route_t *route, const char *session_id,
                  const nox_rest_query_t *q, const char *content_type,
                  const uint8_t *body, size_t len, ProtobufCMessage **out,
                  nox_status_t *st)
{
    const ProtobufCMessageDescriptor *d = rest_method(route)->input;
    ProtobufCMessage                 *m;
    nox_err_t                         err;

    if (route->request == NOX_REST_BODY_JSON)
        err = rest_json_request(d, body, len, &m, st);
    else
        err = nox__json_to_message(NULL, d, NULL, &m, st);
    if (err != NOX_OK)
        return err;
    if (route->path == NULL)
        err = rest_set_string(m, "session_id",
                              session_id != NULL ? session_id : "", st);
    if (err == NOX_OK &&
        (route->rpc == REST_RPC_UPLOAD || route->rpc == REST_RPC_DOWNLOAD))
        err = rest_archive_fields(route, m, q, content_type, body, len, st);
    if (err != NOX_OK) {
        protobuf_c_message_free_unpacked(m, NULL);
        return err;
    }
    *out = m;
    return NOX_OK;
}

/* ---- replies ---- */

static void
rest_free_message(void *m)
{
    protobuf_c_message_free_unpacked(m, NULL);
}

/* The successful reply m (of route's output type; consumed). */
static nox_err_t
rest_success(const nox_rest_route_t *route, ProtobufCMessage *m,
             nox_rest_http_t *out)
{
    switch (route->reply) {
    case NOX_REST_BODY_TEXT:
        rest_free_message(m);
        out->status = route->ok_status;
        out->content_type = "text/plain";
        out->body = (const uint8_t *)"OK";
        out->len = 2;
        return NOX_OK;
    case NOX_REST_BODY_ARCHIVE: {
        Noxrunner__V1__DownloadFilesResponse *d = (void *)m;
        out->status = route->ok_status;
        out->content_type = "application/x-tar";
        out->owned = m;
        out->owned_free = rest_free_message;
        out->body =
            d->tar_gz.data != NULL ? d->tar_gz.data : (const uint8_t *)"";
        out->len = d->tar_gz.len;
        return NOX_OK;
    }
    case NOX_REST_BODY_NONE: {
        Noxrunner__V1__DeleteSandboxResponse *d = (void *)m;
        out->status = route->ok_status;
        out->header_name = NOX_REST_DELETED_HEADER;
        out->header_value = d->deleted ? "true" : "false";
        rest_free_message(m);
        return NOX_OK;
    }
    case NOX_REST_BODY_JSON:
        break;
    }
    cJSON *j = nox__json_from_message(m, NULL, false);
    rest_free_message(m);
    return nox__rest_json_body(j, route->ok_status, out);
}

nox_err_t
nox__rest_reply(const nox_rest_route_t *route, const uint8_t *resp, size_t len,
                nox_rest_http_t *out)
{
    Noxrunner__V1__RpcResponse *env;
    ProtobufCMessage           *m;
    nox_err_t                   err;

    memset(out, 0, sizeof(*out));
    env = noxrunner__v1__rpc_response__unpack(NULL, len, resp);
    if (env == NULL)
        return nox__rest_error(NOX_EINTERNAL, 0, "malformed RPC reply", out);
    if (env->code != 0) {
        err =
            nox__rest_error(nox_err_from_wire(env->code), 0, env->message, out);
        noxrunner__v1__rpc_response__free_unpacked(env, NULL);
        return err;
    }
    m = protobuf_c_message_unpack(rest_method(route)->output, NULL,
                                  env->payload.len, env->payload.data);
    noxrunner__v1__rpc_response__free_unpacked(env, NULL);
    if (m == NULL)
        return nox__rest_error(NOX_EINTERNAL, 0, "malformed RPC reply", out);
    return rest_success(route, m, out);
}
