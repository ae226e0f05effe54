/*
 * rest.h - NoxRunner's REST contract (the backend specification that
 * NoxRunner's own clients speak) as a translation to and from the RPC
 * messages of proto/noxrunner/v1/sandbox.proto.
 *
 * Both directions live here, so that the server's HTTP gateway and the
 * client's HTTP transport cannot drift apart:
 *   server: nox__rest_route  (verb + path -> route and session id)
 *           nox__rest_request (query + body -> the RPC's request message)
 *           nox__rest_reply   (packed RpcResponse -> status, type, body)
 *   client: nox__rest_encode  (request message -> verb, path, body)
 *           nox__rest_decode  (status, type, body -> reply message)
 *
 * JSON bodies are the messages' fields in lowerCamelCase (ttlSeconds,
 * exitCode, ...) through json_message.h; archives travel as raw bodies.
 * Nothing here does I/O.
 */
#ifndef NOX_REST_H
#define NOX_REST_H

#include "nox_common.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a request or reply body is. */
typedef enum {
    NOX_REST_BODY_NONE,    /* none (a body sent anyway is ignored) */
    NOX_REST_BODY_JSON,    /* application/json */
    NOX_REST_BODY_ARCHIVE, /* a tar archive, compressed as format says */
    NOX_REST_BODY_TEXT,    /* text/plain ("OK" of /healthz) */
} nox_rest_body_t;

/* One endpoint. Routes with a session id are /v1/sandboxes/{id}<suffix>;
 * the others have a fixed path. */
typedef struct {
    unsigned        rpc;    /* index in noxrunner__v1__sandbox__descriptor */
    const char     *verb;   /* "PUT", "POST", "GET", "DELETE" */
    const char     *path;   /* fixed path, or NULL when by session */
    const char     *suffix; /* after the session id: "", "/exec", ... */
    nox_rest_body_t request;
    nox_rest_body_t reply;
    int             ok_status; /* 200, or 204 for DELETE */
    /* Part of NoxRunner's specification (false: one of our additions,
     * which other backends answer 404 or 405). */
    bool in_spec;
} nox_rest_route_t;

/* The header that tells a client whether DELETE removed a sandbox
 * ("true"/"false"): the specification's 204 has no body. */
#define NOX_REST_DELETED_HEADER "X-Noxrunner-Deleted"

/* ---- server side ---- */

/* Match verb and path (the request target without its query, still
 * percent-encoded). Returns 0 with *route set and, for routes by session,
 * *session_id the percent-decoded id (malloc'd; free()), else NULL. Else
 * returns the HTTP status to answer, with st saying why: 404 no such path,
 * 405 a known path with another verb (*allow then lists the verbs it
 * takes, e.g. "PUT, DELETE"; static), 400 a malformed escape or an id
 * that decodes to a NUL byte. The id is not otherwise checked here: the
 * dispatcher holds it to the RPC's rule, as for every transport. */
int nox__rest_route(const char *verb, const char *path,
                    const nox_rest_route_t **route, char **session_id,
                    const char **allow, nox_status_t *st);

/* Decode n bytes of percent-encoding at s into a new string (*out,
 * malloc'd); plus_is_space for query values (form encoding). -1 for a
 * malformed escape or one that decodes to NUL, -2 out of memory. */
int nox__rest_pct_decode(const char *s, size_t n, bool plus_is_space,
                         char **out);

/* The query parameters the gateway found, percent-decoded ("+" is a
 * space); NULL when absent. */
typedef struct {
    const char *dest;   /* upload */
    const char *src;    /* download */
    const char *format; /* "tar.gz" (also "gzip", "tgz"), "tar", "zstd" */
} nox_rest_query_t;

/* Build the RPC request of route from session_id, the query, the
 * Content-Type (may be NULL) and the body. On success *out is a new
 * message of the method's input type (release:
 * protobuf_c_message_free_unpacked(*out, NULL)). Malformed JSON, a field
 * of the wrong type (the message names it), an unknown format:
 * NOX_EINVAL. A body is borrowed only for the call. */
nox_err_t nox__rest_request(const nox_rest_route_t *route,
                            const char *session_id, const nox_rest_query_t *q,
                            const char *content_type, const uint8_t *body,
                            size_t len, ProtobufCMessage **out,
                            nox_status_t *st);

/* An HTTP reply ready to send. body points either into owned (freed
 * with it) or at static text. */
typedef struct {
    int            status;
    const char    *content_type; /* static */
    const char    *header_name;  /* one extra header, or NULL; static */
    const char    *header_value; /* static */
    const uint8_t *body;
    size_t         len;
    void          *owned; /* release: nox__rest_http_free */
    void (*owned_free)(void *);
} nox_rest_http_t;

/* Turn the packed RpcResponse of route's method into the HTTP reply:
 * the method's reply as JSON, an archive or text on success; otherwise
 * {"error": message, "code": grpc code} with the status of
 * nox__rest_http_status. NOX_ERESOURCE only when memory runs out (*out
 * is then a bare 500 that needs no memory). */
nox_err_t nox__rest_reply(const nox_rest_route_t *route, const uint8_t *resp,
                          size_t len, nox_rest_http_t *out);

/* An error reply made by the gateway itself (no RPC): status from
 * nox__rest_http_status(code), or http_status when not 0 (405, 413...),
 * body {"error": msg, "code": code}. Falls back as nox__rest_reply. */
nox_err_t nox__rest_error(nox_err_t code, int http_status, const char *msg,
                          nox_rest_http_t *out);

/* Release what out owns; safe on a zeroed or static reply. */
void nox__rest_http_free(nox_rest_http_t *out);

/* The HTTP status of a gRPC code and its message: INVALID_ARGUMENT and
 * OUT_OF_RANGE 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
 * NOT_FOUND 404, ALREADY_EXISTS, FAILED_PRECONDITION and ABORTED 409,
 * RESOURCE_EXHAUSTED 507 when msg says the disk or quota is full, else
 * 429 (the gateway itself answers 413 for a body over the limit),
 * CANCELLED 499, UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED
 * 504, the rest 500. msg may be NULL. */
int nox__rest_http_status(nox_err_t code, const char *msg);

/* ---- client side ---- */

/* The route of RPC index rpc (NULL when it has none). Health has two:
 * ours, GET /v1/health (the whole HealthResponse as JSON), and the
 * specification's GET /healthz (text "OK": status "SERVING" and nothing
 * else); spec_only picks the latter, for a backend that answered 404 to
 * the former. */
const nox_rest_route_t *nox__rest_route_of(unsigned rpc, bool spec_only);

/* An HTTP request ready to send. */
typedef struct {
    const char    *verb;         /* static */
    char          *target;       /* malloc'd: path and query, percent-encoded */
    const char    *content_type; /* static, or NULL without a body */
    const uint8_t *body;         /* into owned, or into the request */
    size_t         len;
    char          *owned; /* malloc'd JSON text, or NULL */
} nox_rest_call_t;

/* Encode req (of route's input type) as an HTTP request. The session id
 * is percent-encoded into the path; an archive body points into req,
 * which must outlive *out. NOX_ERESOURCE when memory runs out. */
nox_err_t nox__rest_encode(const nox_rest_route_t *route,
                           const ProtobufCMessage *req, nox_rest_call_t *out,
                           nox_status_t *st);

/* Release what nox__rest_encode allocated; safe on a zeroed call. */
void nox__rest_call_free(nox_rest_call_t *c);

/* Decode an HTTP reply into the method's reply message (*resp; release:
 * protobuf_c_message_free_unpacked(*resp, NULL)). deleted is the value of
 * NOX_REST_DELETED_HEADER, or NULL. A status other than route's success
 * becomes the error of the "code" member of a JSON error body when there
 * is one (our server), else of the status (nox__rest_err_of_status), with
 * the "error" member, or the body's text, as the message; for a route
 * not in the specification, 404 or 405 without a "code" is NOX_ENOTSUP
 * ("... not served by this backend"): another NoxRunner backend. */
nox_err_t nox__rest_decode(const nox_rest_route_t *route, int status,
                           const char *content_type, const uint8_t *body,
                           size_t len, const char *deleted,
                           ProtobufCMessage **resp, nox_status_t *st);

/* The nox_err_t of an HTTP error status from any backend: 400 INVALID,
 * 401 AUTH, 403 DENIED, 404 NOT_FOUND, 405/501 UNIMPLEMENTED, 408/504
 * TIMEDOUT, 409 PRECOND, 413/429/507 RESOURCE, 503/502 UNAVAIL, other 5xx
 * INTERNAL, other 4xx INVALID. */
nox_err_t nox__rest_err_of_status(int status);

#endif /* NOX_REST_H */
