/* check_rest.c - the REST translation (rest/): routes, HTTP requests into
 * RPC requests, RPC replies into HTTP replies, and the client's way back,
 * without any socket. */
#include "json_message.h"
#include "rest.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HEALTH, CREATE, TOUCH, EXEC, UPLOAD, DOWNLOAD, DELETE, LIST };

/* ---- helpers ---- */

/* Route verb+path, expecting success; returns the route, *sid the id. */
static const nox_rest_route_t *
route_ok(const char *verb, const char *path, char **sid)
{
    const nox_rest_route_t *r = NULL;
    const char             *allow;
    nox_status_t            st = {0};
    int rv = nox__rest_route(verb, path, &r, sid, &allow, &st);

    ck_assert_msg(rv == 0, "%s %s: %d %s", verb, path, rv, st.msg);
    ck_assert_ptr_nonnull(r);
    return r;
}

/* Build the request of verb+path with a JSON body; returns the status
 * and leaves the message in *out (NULL on failure) and the message in
 * st. */
static nox_err_t
request(const char *verb, const char *path, const char *body,
        const nox_rest_query_t *q, ProtobufCMessage **out, nox_status_t *st)
{
    char                   *sid = NULL;
    const nox_rest_route_t *r = route_ok(verb, path, &sid);
    nox_err_t               err;

    *out = NULL;
    err = nox__rest_request(r, sid, q, NULL, (const uint8_t *)body,
                            body != NULL ? strlen(body) : 0, out, st);
    free(sid);
    return err;
}

static void
expect_invalid(const char *verb, const char *path, const char *body,
               const char *msg)
{
    ProtobufCMessage *m;
    nox_status_t      st = {0};

    ck_assert_int_eq(request(verb, path, body, NULL, &m, &st), NOX_EINVAL);
    ck_assert_ptr_null(m);
    ck_assert_str_eq(st.msg, msg);
}

/* Pack an RpcResponse with code/message or payload m. */
static uint8_t *
envelope(int code, const char *message, const ProtobufCMessage *m, size_t *len)
{
    Noxrunner__V1__RpcResponse env = NOXRUNNER__V1__RPC_RESPONSE__INIT;
    uint8_t                   *payload = NULL, *p;

    env.code = code;
    env.message = (char *)(message != NULL ? message : "");
    if (m != NULL) {
        env.payload.len = protobuf_c_message_get_packed_size(m);
        payload = malloc(env.payload.len + 1);
        ck_assert_ptr_nonnull(payload);
        protobuf_c_message_pack(m, payload);
        env.payload.data = payload;
    }
    *len = noxrunner__v1__rpc_response__get_packed_size(&env);
    p = malloc(*len + 1);
    ck_assert_ptr_nonnull(p);
    noxrunner__v1__rpc_response__pack(&env, p);
    free(payload);
    return p;
}

/* The HTTP reply of route rpc for an RpcResponse. */
static void
reply(unsigned rpc, bool spec, int code, const char *message,
      const ProtobufCMessage *m, nox_rest_http_t *out)
{
    size_t   len;
    uint8_t *p = envelope(code, message, m, &len);

    ck_assert_int_eq(
        nox__rest_reply(nox__rest_route_of(rpc, spec), p, len, out), NOX_OK);
    free(p);
}

static char *
body_text(const nox_rest_http_t *h)
{
    char *s = malloc(h->len + 1);

    ck_assert_ptr_nonnull(s);
    memcpy(s, h->body, h->len);
    s[h->len] = '\0';
    return s;
}

static void
expect_body(const nox_rest_http_t *h, const char *want)
{
    char *s = body_text(h);

    ck_assert_str_eq(s, want);
    free(s);
}

/* ---- routes ---- */

START_TEST(routes_of_the_specification_and_ours)
{
    static const struct {
        const char *verb, *path, *sid;
        unsigned    rpc;
    } cases[] = {
        {"GET", "/healthz", NULL, HEALTH},
        {"GET", "/v1/health", NULL, HEALTH},
        {"PUT", "/v1/sandboxes/s1", "s1", CREATE},
        {"POST", "/v1/sandboxes/s1/touch", "s1", TOUCH},
        {"POST", "/v1/sandboxes/s1/exec", "s1", EXEC},
        {"POST", "/v1/sandboxes/s1/files/upload", "s1", UPLOAD},
        {"GET", "/v1/sandboxes/s1/files/download", "s1", DOWNLOAD},
        {"DELETE", "/v1/sandboxes/s1", "s1", DELETE},
        {"GET", "/v1/sandboxes", NULL, LIST},
        /* decoded after splitting: one segment, refused later by the
         * session id rule */
        {"PUT", "/v1/sandboxes/a%2Fb", "a/b", CREATE},
        {"PUT", "/v1/sandboxes/%2E%2E", "..", CREATE},
        {"PUT", "/v1/sandboxes/a+b", "a+b", CREATE},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char                   *sid = NULL;
        const nox_rest_route_t *r =
            route_ok(cases[i].verb, cases[i].path, &sid);
        ck_assert_uint_eq(r->rpc, cases[i].rpc);
        if (cases[i].sid == NULL)
            ck_assert_ptr_null(sid);
        else
            ck_assert_str_eq(sid, cases[i].sid);
        free(sid);
    }
}
END_TEST

START_TEST(routes_refused_with_their_status)
{
    static const struct {
        const char *verb, *path, *allow, *msg;
        int         status;
    } cases[] = {
        {"GET", "/nope", NULL, "no such endpoint: /nope", 404},
        {"GET", "/v1/sandboxes/s/", NULL, "no such endpoint: /v1/sandboxes/s/",
         404},
        {"GET", "/v1/sandboxes/s/run", NULL,
         "no such endpoint: /v1/sandboxes/s/run", 404},
        {"POST", "/v1/sandboxes/s", "PUT, DELETE",
         "method POST not allowed on /v1/sandboxes/s", 405},
        {"GET", "/v1/sandboxes/s/exec", "POST",
         "method GET not allowed on /v1/sandboxes/s/exec", 405},
        {"POST", "/v1/sandboxes/s/files/download", "GET",
         "method POST not allowed on /v1/sandboxes/s/files/download", 405},
        {"POST", "/healthz", "GET", "method POST not allowed on /healthz", 405},
        {"PUT", "/v1/sandboxes/a%2", NULL,
         "invalid session_id: bad percent-encoding", 400},
        {"PUT", "/v1/sandboxes/a%zz", NULL,
         "invalid session_id: bad percent-encoding", 400},
        {"PUT", "/v1/sandboxes/a%00b", NULL,
         "invalid session_id: bad percent-encoding", 400},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const nox_rest_route_t *r = NULL;
        char                   *sid = NULL;
        const char             *allow = NULL;
        nox_status_t            st = {0};
        int rv = nox__rest_route(cases[i].verb, cases[i].path, &r, &sid, &allow,
                                 &st);
        ck_assert_int_eq(rv, cases[i].status);
        ck_assert_ptr_null(sid);
        ck_assert_str_eq(st.msg, cases[i].msg);
        if (cases[i].allow == NULL)
            ck_assert_ptr_null(allow);
        else
            ck_assert_str_eq(allow, cases[i].allow);
    }
}
END_TEST

/* ---- requests ---- */

START_TEST(create_from_json_and_from_nothing)
{
    ProtobufCMessage                    *m;
    Noxrunner__V1__CreateSandboxRequest *c;
    nox_status_t                         st = {0};

    ck_assert_int_eq(
        request("PUT", "/v1/sandboxes/s1",
                "{\"ttlSeconds\": 1800, \"image\": \"python:3.10\", "
                "\"cpuLimit\": \"1\", \"memoryLimit\": \"1Gi\", "
                "\"ephemeralStorageLimit\": \"2Gi\", \"pidsLimit\": 64, "
                "\"allowNetwork\": true, \"unknownField\": [1], "
                "\"sessionId\": \"ignored\"}",
                NULL, &m, &st),
        NOX_OK);
    c = (void *)m;
    ck_assert_str_eq(c->session_id, "s1");
    ck_assert_uint_eq(c->ttl_seconds, 1800);
    ck_assert_str_eq(c->image, "python:3.10");
    ck_assert_str_eq(c->cpu_limit, "1");
    ck_assert_str_eq(c->memory_limit, "1Gi");
    ck_assert_str_eq(c->ephemeral_storage_limit, "2Gi");
    ck_assert_uint_eq(c->pids_limit, 64);
    ck_assert(c->allow_network);
    protobuf_c_message_free_unpacked(m, NULL);

    ck_assert_int_eq(request("PUT", "/v1/sandboxes/s2", NULL, NULL, &m, &st),
                     NOX_OK);
    c = (void *)m;
    ck_assert_str_eq(c->session_id, "s2");
    ck_assert_uint_eq(c->ttl_seconds, 0);
    ck_assert_str_eq(c->image, "");
    protobuf_c_message_free_unpacked(m, NULL);
}
END_TEST

START_TEST(exec_from_json)
{
    ProtobufCMessage           *m;
    Noxrunner__V1__ExecRequest *e;
    nox_status_t                st = {0};

    ck_assert_int_eq(
        request("POST", "/v1/sandboxes/s1/exec",
                "{\"cmd\": [\"python3\", \"-c\", \"print('\\u00e9')\"], "
                "\"workdir\": \"/workspace/src\", \"env\": {\"A\": \"1\", "
                "\"B\": \"two\"}, \"timeout_seconds\": 10, \"stdin\": \"hi\", "
                "\"extra\": null}",
                NULL, &m, &st),
        NOX_OK);
    e = (void *)m;
    ck_assert_str_eq(e->session_id, "s1");
    ck_assert_uint_eq(e->n_cmd, 3);
    ck_assert_str_eq(e->cmd[0], "python3");
    ck_assert_str_eq(e->cmd[2], "print('\xc3\xa9')");
    ck_assert_str_eq(e->workdir, "/workspace/src");
    ck_assert_uint_eq(e->n_env, 2);
    ck_assert_str_eq(e->env[0]->key, "A");
    ck_assert_str_eq(e->env[0]->value, "1");
    ck_assert_str_eq(e->env[1]->key, "B");
    ck_assert_str_eq(e->env[1]->value, "two");
    ck_assert_uint_eq(e->timeout_seconds, 10);
    ck_assert_uint_eq(e->stdin.len, 2);
    ck_assert_mem_eq(e->stdin.data, "hi", 2);
    protobuf_c_message_free_unpacked(m, NULL);

    /* An escaped backslash before "u0000" is not a NUL escape. */
    ck_assert_int_eq(request("POST", "/v1/sandboxes/s1/exec",
                             "{\"cmd\": [\"echo\", \"\\\\u0000\"]}", NULL, &m,
                             &st),
                     NOX_OK);
    e = (void *)m;
    ck_assert_str_eq(e->cmd[1], "\\u0000");
    protobuf_c_message_free_unpacked(m, NULL);
}
END_TEST

START_TEST(bad_bodies_name_the_field)
{
    const char *exec = "/v1/sandboxes/s/exec";
    const char *create = "/v1/sandboxes/s";

    expect_invalid("POST", exec,
                   "{\"cmd\": ", "malformed JSON body (near byte 7)");
    expect_invalid("POST", exec, "{\"cmd\": []} x",
                   "malformed JSON body (near byte 12)");
    expect_invalid("POST", exec, "[\"ls\"]", "the body must be a JSON object");
    expect_invalid("POST", exec, "{\"cmd\": \"ls -l\"}",
                   "field cmd: expected an array");
    expect_invalid("POST", exec, "{\"cmd\": [\"ls\", 1]}",
                   "field cmd: expected an array of strings");
    expect_invalid("POST", exec, "{\"cmd\": [\"ls\"], \"env\": [\"A=1\"]}",
                   "field env: expected an object of strings");
    expect_invalid("POST", exec, "{\"cmd\": [\"ls\"], \"env\": {\"A\": 1}}",
                   "field env: expected a string");
    expect_invalid("POST", exec,
                   "{\"cmd\": [\"ls\"], \"timeoutSeconds\": \"soon\"}",
                   "field timeoutSeconds: expected a non-negative 32-bit "
                   "integer");
    expect_invalid("POST", exec, "{\"cmd\": [\"ls\"], \"timeoutSeconds\": -1}",
                   "field timeoutSeconds: expected a non-negative 32-bit "
                   "integer");
    expect_invalid("POST", exec, "{\"cmd\": [\"ls\"], \"timeoutSeconds\": 1.5}",
                   "field timeoutSeconds: expected a non-negative 32-bit "
                   "integer");
    expect_invalid("POST", exec, "{\"cmd\": [\"ls\"], \"workdir\": 7}",
                   "field workdir: expected a string");
    expect_invalid("POST", exec, "{\"cmd\": [\"a\\u0000b\"]}",
                   "malformed JSON body: strings may not contain NUL "
                   "(\\u0000, at byte 11)");
    /* cJSON reads a \u escape without four hex digits as a NUL too. */
    expect_invalid("POST", exec, "{\"cmd\": [\"a\\uzzzzb\"]}",
                   "malformed JSON body: a \\u escape without four hex "
                   "digits at byte 11");
    expect_invalid("POST", exec, "{\"cmd\": [\"rm -rf x\\u00g0; echo\"]}",
                   "malformed JSON body: a \\u escape without four hex "
                   "digits at byte 18");
    expect_invalid("POST", exec, "{\"cmd\": [\"x\\u12\"]}",
                   "malformed JSON body: a \\u escape without four hex "
                   "digits at byte 11");
    {
        /* A raw NUL inside a string, which cJSON would end the value at. */
        static const char       raw[] = "{\"cmd\":[\"echo\",\"a\0b\"]}";
        char                   *sid = NULL;
        const nox_rest_route_t *r = route_ok("POST", exec, &sid);
        ProtobufCMessage       *m = NULL;
        nox_status_t            st = {0};

        ck_assert_int_eq(nox__rest_request(r, sid, NULL, NULL,
                                           (const uint8_t *)raw,
                                           sizeof(raw) - 1, &m, &st),
                         NOX_EINVAL);
        ck_assert_ptr_null(m);
        ck_assert_str_eq(st.msg, "malformed JSON body: a NUL byte at byte 17");
        free(sid);
    }
    expect_invalid("PUT", create, "{\"ttlSeconds\": 4294967296}",
                   "field ttlSeconds: expected a non-negative 32-bit "
                   "integer");
    expect_invalid("PUT", create, "{\"allowNetwork\": \"yes\"}",
                   "field allowNetwork: expected true or false");
    expect_invalid("PUT", create, "{\"cpuLimit\": 1}",
                   "field cpuLimit: expected a string");
}
END_TEST

START_TEST(upload_and_download_from_query_and_type)
{
    char                   *sid = NULL;
    const nox_rest_route_t *r;
    nox_rest_query_t        q = {.dest = "/workspace/in", .format = "tar"};
    ProtobufCMessage       *m;
    Noxrunner__V1__UploadFilesRequest   *u;
    Noxrunner__V1__DownloadFilesRequest *d;
    nox_status_t                         st = {0};

    r = route_ok("POST", "/v1/sandboxes/s/files/upload", &sid);
    ck_assert_int_eq(nox__rest_request(r, sid, &q, "application/x-tar",
                                       (const uint8_t *)"ARCHIVE", 7, &m, &st),
                     NOX_OK);
    u = (void *)m;
    ck_assert_str_eq(u->session_id, "s");
    ck_assert_str_eq(u->dest, "/workspace/in");
    ck_assert_int_eq(u->format,
                     NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR);
    ck_assert_uint_eq(u->tar_gz.len, 7);
    ck_assert_mem_eq(u->tar_gz.data, "ARCHIVE", 7);
    protobuf_c_message_free_unpacked(m, NULL);

    /* application/x-tar is gzip tar (the specification's type). */
    q.format = NULL;
    ck_assert_int_eq(nox__rest_request(r, sid, &q, "application/x-tar",
                                       (const uint8_t *)"x", 1, &m, &st),
                     NOX_OK);
    ck_assert_int_eq(((Noxrunner__V1__UploadFilesRequest *)m)->format,
                     NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_GZ);
    protobuf_c_message_free_unpacked(m, NULL);
    ck_assert_int_eq(nox__rest_request(r, sid, &q, "application/zstd",
                                       (const uint8_t *)"x", 1, &m, &st),
                     NOX_OK);
    ck_assert_int_eq(((Noxrunner__V1__UploadFilesRequest *)m)->format,
                     NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_ZSTD);
    protobuf_c_message_free_unpacked(m, NULL);

    q.format = "rar";
    ck_assert_int_eq(nox__rest_request(r, sid, &q, NULL, NULL, 0, &m, &st),
                     NOX_EINVAL);
    ck_assert_str_eq(st.msg, "unknown format 'rar' (tar.gz, tar or zstd)");
    free(sid);

    r = route_ok("GET", "/v1/sandboxes/s/files/download", &sid);
    q = (nox_rest_query_t){.src = "out dir", .format = "zstd"};
    ck_assert_int_eq(nox__rest_request(r, sid, &q, NULL, NULL, 0, &m, &st),
                     NOX_OK);
    d = (void *)m;
    ck_assert_str_eq(d->src, "out dir");
    ck_assert_int_eq(d->format,
                     NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_ZSTD);
    protobuf_c_message_free_unpacked(m, NULL);
    free(sid);
}
END_TEST

/* ---- replies ---- */

START_TEST(exec_reply_as_json)
{
    Noxrunner__V1__ExecResponse e = NOXRUNNER__V1__EXEC_RESPONSE__INIT;
    nox_rest_http_t             h;

    e.exit_code = 124;
    e.stdout.data = (uint8_t *)"ok\xff\n";
    e.stdout.len = 4;
    e.stderr.data = (uint8_t *)"a\0b";
    e.stderr.len = 3;
    e.duration_ms = 1500;
    e.timed_out = 1;
    e.cause = NOXRUNNER__V1__EXEC_CAUSE__EXEC_CAUSE_TIMED_OUT;
    e.signal = 9;
    e.stdout_total_bytes = 4;
    reply(EXEC, false, 0, NULL, &e.base, &h);
    ck_assert_int_eq(h.status, 200);
    ck_assert_str_eq(h.content_type, "application/json");
    expect_body(&h, "{\"exitCode\":124,\"stdout\":\"ok\xef\xbf\xbd\\n\","
                    "\"stderr\":\"a\xef\xbf\xbd"
                    "b\",\"durationMs\":1500,\"timedOut\":true,"
                    "\"stdoutTruncated\":false,\"stderrTruncated\":false,"
                    "\"cause\":\"TIMED_OUT\",\"signal\":9,\"cpuUserMs\":0,"
                    "\"cpuSystemMs\":0,\"maxRssKb\":0,\"stdoutTotalBytes\":4,"
                    "\"stderrTotalBytes\":0}");
    nox__rest_http_free(&h);
}
END_TEST

START_TEST(errors_map_to_statuses)
{
    static const struct {
        int         code;
        const char *msg;
        int         status;
    } cases[] = {
        {3, "session_id: invalid", 400},
        {4, "deadline exceeded", 504},
        {5, "no such sandbox: s", 404},
        {7, "command not allowed: rm", 403},
        {8, "too many running commands", 429},
        {8, "write x: No space left on device", 507},
        {9, "a directory not made by noxrunner is in the way: /tmp/x", 409},
        {12, "unknown method", 501},
        {13, "boom", 500},
        {14, "shutting down", 503},
        {16, "missing or wrong token", 401},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nox_rest_http_t h;
        char            want[256];
        reply(EXEC, false, cases[i].code, cases[i].msg, NULL, &h);
        ck_assert_int_eq(h.status, cases[i].status);
        ck_assert_str_eq(h.content_type, "application/json");
        (void)snprintf(want, sizeof(want), "{\"error\":\"%s\",\"code\":%d}",
                       cases[i].msg, cases[i].code);
        expect_body(&h, want);
        nox__rest_http_free(&h);
    }
}
END_TEST

START_TEST(health_delete_download_replies)
{
    Noxrunner__V1__HealthResponse hr = NOXRUNNER__V1__HEALTH_RESPONSE__INIT;
    Noxrunner__V1__DeleteSandboxResponse dr =
        NOXRUNNER__V1__DELETE_SANDBOX_RESPONSE__INIT;
    Noxrunner__V1__DownloadFilesResponse fr =
        NOXRUNNER__V1__DOWNLOAD_FILES_RESPONSE__INIT;
    nox_rest_http_t h;

    hr.status = "SERVING";
    hr.version = "0.1.0";
    hr.max_message_bytes = 1024;
    hr.isolation = "none";
    hr.isolation_detail = "no user namespaces";
    reply(HEALTH, true, 0, NULL, &hr.base, &h);
    ck_assert_int_eq(h.status, 200);
    ck_assert_str_eq(h.content_type, "text/plain");
    expect_body(&h, "OK");
    nox__rest_http_free(&h);
    reply(HEALTH, false, 0, NULL, &hr.base, &h);
    expect_body(&h, "{\"status\":\"SERVING\",\"version\":\"0.1.0\","
                    "\"maxMessageBytes\":1024,\"isolation\":\"none\","
                    "\"isolationDetail\":\"no user namespaces\"}");
    nox__rest_http_free(&h);

    reply(DELETE, true, 0, NULL, &dr.base, &h);
    ck_assert_int_eq(h.status, 204);
    ck_assert_uint_eq(h.len, 0);
    ck_assert_str_eq(h.header_name, "X-Noxrunner-Deleted");
    ck_assert_str_eq(h.header_value, "false");
    nox__rest_http_free(&h);

    fr.tar_gz.data = (uint8_t *)"\x1f\x8b archive";
    fr.tar_gz.len = 10;
    reply(DOWNLOAD, true, 0, NULL, &fr.base, &h);
    ck_assert_int_eq(h.status, 200);
    ck_assert_str_eq(h.content_type, "application/x-tar");
    ck_assert_uint_eq(h.len, 10);
    ck_assert_mem_eq(h.body, "\x1f\x8b archive", 10);
    nox__rest_http_free(&h);
}
END_TEST

/* ---- the client's side ---- */

START_TEST(client_encodes_what_other_backends_expect)
{
    Noxrunner__V1__CreateSandboxRequest c =
        NOXRUNNER__V1__CREATE_SANDBOX_REQUEST__INIT;
    Noxrunner__V1__ExecRequest        e = NOXRUNNER__V1__EXEC_REQUEST__INIT;
    Noxrunner__V1__UploadFilesRequest u =
        NOXRUNNER__V1__UPLOAD_FILES_REQUEST__INIT;
    Noxrunner__V1__ExecRequest__EnvEntry kv =
        NOXRUNNER__V1__EXEC_REQUEST__ENV_ENTRY__INIT;
    Noxrunner__V1__ExecRequest__EnvEntry *env[] = {&kv};
    char                                 *cmd[] = {"sh", "-c", "echo \"$A\""};
    nox_rest_call_t                       call;
    nox_status_t                          st = {0};

    c.session_id = "a b/c";
    ck_assert_int_eq(nox__rest_encode(nox__rest_route_of(CREATE, false),
                                      &c.base, &call, &st),
                     NOX_OK);
    ck_assert_str_eq(call.verb, "PUT");
    ck_assert_str_eq(call.target, "/v1/sandboxes/a%20b%2Fc");
    ck_assert_str_eq(call.content_type, "application/json");
    ck_assert_str_eq((const char *)call.body, "{\"ttlSeconds\":900}");
    nox__rest_call_free(&call);

    e.session_id = "s";
    e.cmd = cmd;
    e.n_cmd = 3;
    kv.key = "A";
    kv.value = "x";
    e.env = env;
    e.n_env = 1;
    ck_assert_int_eq(
        nox__rest_encode(nox__rest_route_of(EXEC, false), &e.base, &call, &st),
        NOX_OK);
    ck_assert_str_eq(call.verb, "POST");
    ck_assert_str_eq(call.target, "/v1/sandboxes/s/exec");
    ck_assert_str_eq((const char *)call.body,
                     "{\"cmd\":[\"sh\",\"-c\",\"echo \\\"$A\\\"\"],"
                     "\"env\":{\"A\":\"x\"}}");
    nox__rest_call_free(&call);

    e.stdin.data = (uint8_t *)"\x00\x01";
    e.stdin.len = 2;
    ck_assert_int_eq(
        nox__rest_encode(nox__rest_route_of(EXEC, false), &e.base, &call, &st),
        NOX_EINVAL);
    ck_assert_str_eq(st.msg, "over http(s), stdin must be UTF-8 text without "
                             "NUL bytes");

    u.session_id = "s";
    u.dest = "/workspace/a&b";
    u.format = NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR;
    u.tar_gz.data = (uint8_t *)"TAR";
    u.tar_gz.len = 3;
    ck_assert_int_eq(nox__rest_encode(nox__rest_route_of(UPLOAD, false),
                                      &u.base, &call, &st),
                     NOX_OK);
    ck_assert_str_eq(call.target, "/v1/sandboxes/s/files/upload"
                                  "?dest=%2Fworkspace%2Fa%26b&format=tar");
    ck_assert_str_eq(call.content_type, "application/x-tar");
    ck_assert_ptr_eq(call.body, u.tar_gz.data);
    ck_assert_uint_eq(call.len, 3);
    nox__rest_call_free(&call);
}
END_TEST

/* Decode status/body for rpc; returns the error and the message. */
static nox_err_t
decode(unsigned rpc, bool spec, int status, const char *body,
       const char *deleted, ProtobufCMessage **m, nox_status_t *st)
{
    *m = NULL;
    return nox__rest_decode(nox__rest_route_of(rpc, spec), status, NULL,
                            (const uint8_t *)body,
                            body != NULL ? strlen(body) : 0, deleted, m, st);
}

START_TEST(client_decodes_errors_of_any_backend)
{
    static const struct {
        unsigned    rpc;
        int         status;
        const char *body;
        nox_err_t   err;
        const char *msg;
    } cases[] = {
        /* ours: the code wins over the status */
        {EXEC, 409, "{\"error\": \"in the way\", \"code\": 9}", NOX_EPRECOND,
         "in the way"},
        {EXEC, 403, "{\"error\":\"command not allowed: rm\",\"code\":7}",
         NOX_EDENIED, "command not allowed: rm"},
        /* another backend: the status */
        {EXEC, 404, "{\"error\": \"sandbox not found\"}", NOX_ENOENT,
         "sandbox not found"},
        {CREATE, 500, "kubernetes said no\n", NOX_EINTERNAL,
         "kubernetes said no"},
        {TOUCH, 503, NULL, NOX_EUNAVAIL, "HTTP 503 from the backend"},
        {EXEC, 401, "", NOX_EAUTH, "HTTP 401 from the backend"},
        {EXEC, 413, NULL, NOX_ERESOURCE, "HTTP 413 from the backend"},
        {EXEC, 502, "<html><body>Bad Gateway</body></html>", NOX_EUNAVAIL,
         "HTTP 502 from the backend"},
        {EXEC, 504, NULL, NOX_ETIMEDOUT, "HTTP 504 from the backend"},
        {EXEC, 418, NULL, NOX_EINVAL, "HTTP 418 from the backend"},
        /* what only noxrunnerd serves */
        {LIST, 404, "Not Found", NOX_ENOTSUP,
         "GET /v1/sandboxes is not served by this backend (only noxrunnerd "
         "has it)"},
        {HEALTH, 404, NULL, NOX_ENOTSUP,
         "GET /v1/health is not served by this backend (only noxrunnerd has "
         "it)"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ProtobufCMessage *m;
        nox_status_t      st = {0};
        ck_assert_int_eq(decode(cases[i].rpc, false, cases[i].status,
                                cases[i].body, NULL, &m, &st),
                         cases[i].err);
        ck_assert_ptr_null(m);
        ck_assert_str_eq(st.msg, cases[i].msg);
    }
}
END_TEST

START_TEST(client_decodes_replies_of_any_backend)
{
    ProtobufCMessage *m;
    nox_status_t      st = {0};

    ck_assert_int_eq(decode(EXEC, false, 200,
                            "{\"exitCode\": 3, \"stdout\": \"hi\\n\", "
                            "\"stderr\": \"\", \"durationMs\": 12, "
                            "\"cause\": \"EXITED\", \"podExtra\": 1}",
                            NULL, &m, &st),
                     NOX_OK);
    Noxrunner__V1__ExecResponse *e = (void *)m;
    ck_assert_int_eq(e->exit_code, 3);
    ck_assert_uint_eq(e->stdout.len, 3);
    ck_assert_mem_eq(e->stdout.data, "hi\n", 3);
    ck_assert_uint_eq(e->duration_ms, 12);
    ck_assert_int_eq(e->cause, NOXRUNNER__V1__EXEC_CAUSE__EXEC_CAUSE_EXITED);
    protobuf_c_message_free_unpacked(m, NULL);

    /* cJSON would cut the string at a \u escape without hex digits. */
    ck_assert_int_eq(decode(EXEC, false, 200,
                            "{\"stdout\": \"a\\u00zzb\", \"exitCode\": 0}",
                            NULL, &m, &st),
                     NOX_EINTERNAL);
    ck_assert_str_eq(st.msg, "the backend's reply is not valid JSON: a \\u "
                             "escape without four hex digits at byte 13");
    /* \u0000 (json.dumps's NUL) becomes U+FFFD; the rest is kept. */
    ck_assert_int_eq(decode(EXEC, false, 200,
                            "{\"stdout\": \"a\\u0000b\", \"exitCode\": 0}",
                            NULL, &m, &st),
                     NOX_OK);
    e = (void *)m;
    ck_assert_uint_eq(e->stdout.len, 5);
    ck_assert_mem_eq(e->stdout.data,
                     "a\xef\xbf\xbd"
                     "b",
                     5);
    protobuf_c_message_free_unpacked(m, NULL);

    ck_assert_int_eq(decode(EXEC, false, 200, "<html>", NULL, &m, &st),
                     NOX_EINTERNAL);
    ck_assert_str_eq(st.msg,
                     "the backend's reply to POST is not a JSON object");
    ck_assert_int_eq(
        decode(EXEC, false, 200, "{\"exitCode\": \"x\"}", NULL, &m, &st),
        NOX_EINTERNAL);
    ck_assert_str_eq(st.msg, "the backend's reply: field exitCode: expected a "
                             "32-bit integer");

    /* Touch and upload may answer with an empty or non-JSON body. */
    ck_assert_int_eq(decode(TOUCH, false, 200, "touched", NULL, &m, &st),
                     NOX_OK);
    ck_assert_str_eq(((Noxrunner__V1__TouchResponse *)m)->expires_at, "");
    protobuf_c_message_free_unpacked(m, NULL);

    ck_assert_int_eq(decode(DELETE, false, 204, NULL, "false", &m, &st),
                     NOX_OK);
    ck_assert(!((Noxrunner__V1__DeleteSandboxResponse *)m)->deleted);
    protobuf_c_message_free_unpacked(m, NULL);
    ck_assert_int_eq(decode(DELETE, false, 200, NULL, NULL, &m, &st), NOX_OK);
    ck_assert(((Noxrunner__V1__DeleteSandboxResponse *)m)->deleted);
    protobuf_c_message_free_unpacked(m, NULL);

    ck_assert_int_eq(decode(HEALTH, true, 200, "OK\n", NULL, &m, &st), NOX_OK);
    ck_assert_str_eq(((Noxrunner__V1__HealthResponse *)m)->status, "SERVING");
    ck_assert_str_eq(((Noxrunner__V1__HealthResponse *)m)->version, "");
    protobuf_c_message_free_unpacked(m, NULL);
    ck_assert_int_eq(decode(HEALTH, true, 200, "starting", NULL, &m, &st),
                     NOX_EUNAVAIL);
}
END_TEST

/* What the client encodes, the gateway decodes to the same message. */
START_TEST(round_trip_through_both_halves)
{
    Noxrunner__V1__ExecRequest           e = NOXRUNNER__V1__EXEC_REQUEST__INIT;
    Noxrunner__V1__ExecRequest__EnvEntry kv =
        NOXRUNNER__V1__EXEC_REQUEST__ENV_ENTRY__INIT;
    Noxrunner__V1__ExecRequest__EnvEntry *env[] = {&kv};
    char                   *cmd[] = {"printf", "%s\\n", "\xc3\xa9 \"q\" \t"};
    nox_rest_call_t         call;
    const nox_rest_route_t *r;
    char                   *sid, *path;
    ProtobufCMessage       *m;
    nox_status_t            st = {0};
    uint8_t                 a[512], b[512];
    size_t                  na, nb;

    e.session_id = "sess-1.x_y";
    e.cmd = cmd;
    e.n_cmd = 3;
    e.workdir = "/workspace/w d";
    kv.key = "K";
    kv.value = "v=1";
    e.env = env;
    e.n_env = 1;
    e.timeout_seconds = 7;
    e.stdin.data = (uint8_t *)"line\n";
    e.stdin.len = 5;
    ck_assert_int_eq(
        nox__rest_encode(nox__rest_route_of(EXEC, false), &e.base, &call, &st),
        NOX_OK);
    path = strdup(call.target);
    ck_assert_ptr_nonnull(path);
    r = route_ok(call.verb, path, &sid);
    ck_assert_int_eq(nox__rest_request(r, sid, NULL, call.content_type,
                                       call.body, call.len, &m, &st),
                     NOX_OK);
    na = protobuf_c_message_pack(&e.base, a);
    nb = protobuf_c_message_pack(m, b);
    ck_assert_uint_eq(na, nb);
    ck_assert_mem_eq(a, b, na);
    protobuf_c_message_free_unpacked(m, NULL);
    nox__rest_call_free(&call);
    free(sid);
    free(path);
}
END_TEST

static Suite *
rest_suite(void)
{
    Suite *s = suite_create("rest");
    TCase *tc = tcase_create("translation");

    tcase_add_test(tc, routes_of_the_specification_and_ours);
    tcase_add_test(tc, routes_refused_with_their_status);
    tcase_add_test(tc, create_from_json_and_from_nothing);
    tcase_add_test(tc, exec_from_json);
    tcase_add_test(tc, bad_bodies_name_the_field);
    tcase_add_test(tc, upload_and_download_from_query_and_type);
    tcase_add_test(tc, exec_reply_as_json);
    tcase_add_test(tc, errors_map_to_statuses);
    tcase_add_test(tc, health_delete_download_replies);
    tcase_add_test(tc, client_encodes_what_other_backends_expect);
    tcase_add_test(tc, client_decodes_errors_of_any_backend);
    tcase_add_test(tc, client_decodes_replies_of_any_backend);
    tcase_add_test(tc, round_trip_through_both_halves);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(rest_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
