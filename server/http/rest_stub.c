/* TEMPORARY stand-in for the rest module until it lands on main; deleted then.
 */
#include "rest.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const nox_rest_route_t stub_routes[] = {
    {0, "GET", "/v1/health", NULL, NOX_REST_BODY_NONE, NOX_REST_BODY_JSON, 200,
     false},
    {1, "PUT", NULL, "", NOX_REST_BODY_JSON, NOX_REST_BODY_JSON, 200, true},
    {3, "POST", NULL, "/exec", NOX_REST_BODY_JSON, NOX_REST_BODY_JSON, 200,
     true},
    {6, "DELETE", NULL, "", NOX_REST_BODY_NONE, NOX_REST_BODY_NONE, 204, true},
};

int
nox__rest_route(const char *verb, const char *path,
                const nox_rest_route_t **route, char **session_id,
                const char **allow, nox_status_t *st)
{
    const char *p = "/v1/sandboxes/";
    *session_id = NULL;
    if (strcmp(path, "/v1/health") == 0) {
        if (strcmp(verb, "GET") != 0) {
            *allow = "GET";
            nox__status_set(st, NOX_ENOTSUP, "method not allowed");
            return 405;
        }
        *route = &stub_routes[0];
        return 0;
    }
    if (strncmp(path, p, strlen(p)) == 0) {
        const char *id = path + strlen(p);
        const char *slash = strchr(id, '/');
        const char *suffix = slash ? slash : "";
        for (size_t i = 1; i < 4; i++)
            if (strcmp(stub_routes[i].suffix, suffix) == 0 &&
                strcmp(stub_routes[i].verb, verb) == 0) {
                *route = &stub_routes[i];
                *session_id =
                    strndup(id, slash ? (size_t)(slash - id) : strlen(id));
                return 0;
            }
        *allow = "PUT, DELETE";
        nox__status_set(st, NOX_ENOTSUP, "method not allowed");
        return 405;
    }
    nox__status_set(st, NOX_ENOENT, "no such path");
    return 404;
}

nox_err_t
nox__rest_request(const nox_rest_route_t *route, const char *session_id,
                  const nox_rest_query_t *q, const char *content_type,
                  const uint8_t *body, size_t len, ProtobufCMessage **out,
                  nox_status_t *st)
{
    const ProtobufCMessageDescriptor *d =
        noxrunner__v1__sandbox__descriptor.methods[route->rpc].input;
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    (void)q;
    (void)content_type;
    protobuf_c_message_init(d, m);
    if (route->rpc == 1)
        ((Noxrunner__V1__CreateSandboxRequest *)m)->session_id =
            strdup(session_id);
    if (route->rpc == 6)
        ((Noxrunner__V1__DeleteSandboxRequest *)m)->session_id =
            strdup(session_id);
    if (route->rpc == 3) {
        Noxrunner__V1__ExecRequest *e = (Noxrunner__V1__ExecRequest *)m;
        e->session_id = strdup(session_id);
        e->n_cmd = 3;
        e->cmd = calloc(3, sizeof(char *));
        e->cmd[0] = strdup("sh");
        e->cmd[1] = strdup("-c");
        e->cmd[2] = strndup((const char *)body, len);
    }
    (void)st;
    *out = m;
    return NOX_OK;
}

static nox_err_t
stub_text(int status, const char *text, nox_rest_http_t *out)
{
    memset(out, 0, sizeof(*out));
    out->status = status;
    out->content_type = "application/json";
    out->owned = strdup(text);
    out->owned_free = free;
    out->body = out->owned;
    out->len = strlen(text);
    return NOX_OK;
}

nox_err_t
nox__rest_reply(const nox_rest_route_t *route, const uint8_t *resp, size_t len,
                nox_rest_http_t *out)
{
    Noxrunner__V1__RpcResponse *r =
        noxrunner__v1__rpc_response__unpack(NULL, len, resp);
    char buf[1024];
    if (r->code != 0) {
        nox_rest_http_t o;
        nox__rest_error(r->code, 0, r->message, &o);
        *out = o;
    } else {
        if (route->rpc == 3) {
            Noxrunner__V1__ExecResponse *e =
                noxrunner__v1__exec_response__unpack(NULL, r->payload.len,
                                                     r->payload.data);
            snprintf(buf, sizeof(buf),
                     "{\"exitCode\": %d, \"stdout\": \"%.*s\"}", e->exit_code,
                     (int)e->stdout.len, e->stdout.data);
            noxrunner__v1__exec_response__free_unpacked(e, NULL);
        } else
            snprintf(buf, sizeof(buf), "{}");
        stub_text(route->ok_status, buf, out);
        if (route->ok_status == 204)
            out->len = 0;
    }
    noxrunner__v1__rpc_response__free_unpacked(r, NULL);
    return NOX_OK;
}

int
nox__rest_http_status(nox_err_t code, const char *msg)
{
    (void)msg;
    switch (code) {
    case NOX_EINVAL:
        return 400;
    case NOX_EAUTH:
        return 401;
    case NOX_EDENIED:
        return 403;
    case NOX_ENOENT:
        return 404;
    case NOX_ERESOURCE:
        return 429;
    case NOX_EUNAVAIL:
        return 503;
    case NOX_ETIMEDOUT:
        return 504;
    case NOX_ENOTSUP:
        return 501;
    default:
        return 500;
    }
}

nox_err_t
nox__rest_error(nox_err_t code, int http_status, const char *msg,
                nox_rest_http_t *out)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "{\"error\": \"%s\", \"code\": %d}", msg,
             (int)code);
    return stub_text(
        http_status ? http_status : nox__rest_http_status(code, msg), buf, out);
}

void
nox__rest_http_free(nox_rest_http_t *out)
{
    if (out->owned != NULL && out->owned_free != NULL)
        out->owned_free(out->owned);
    memset(out, 0, sizeof(*out));
}
