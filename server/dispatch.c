/*
 * dispatch.c - the noxrunner.v1.Sandbox service: envelope in, envelope out.
 *
 * nox__dispatch unpacks an RpcRequest, finds the method through the
 * generated service descriptor and invokes it with protobuf-c's service
 * machinery (service->base.invoke). The handlers below translate between
 * the proto messages and the engine API; each one ends by calling its
 * closure exactly once, with the response message or, on error, with NULL
 * after recording the status in the per-call dispatch_call_t.
 */
#include "dispatch.h"
#include "auth.h"
#include "nox/server.h"
#include "wire_strings.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Exec margin left of the caller's deadline, so that the reply can
 * still reach the caller in time: min(200 ms, deadline / 10). */
#define DISPATCH_MARGIN_MAX_MS 200
#define DISPATCH_DEFAULT_TIMEOUT_S 30

/* One call's state, shared by dispatch, the handler and the closure. */
typedef struct {
    const nox_dispatch_ctx_t   *ctx;
    int64_t                     deadline_ms; /* 0: none; > 0: budget */
    nox_status_t                st;          /* the handler's outcome */
    nox_buf_t                   out;         /* packed response message */
    int                         replied;     /* closure ran */
    const nox_dispatch_reply_t *rep;         /* NULL: the reply cannot wait */
    ProtobufCMessage           *input;       /* the unpacked payload */
    bool                        pending;     /* the handler replies later */
} dispatch_call_t;

/* ---- closure: pack the handler's response ---- */

/* The closure given to service->base.invoke. msg NULL means the handler
 * failed and has set call->st. A response larger than the limit becomes
 * RESOURCE_EXHAUSTED rather than a reply the client refuses to receive. */
static void
dispatch_closure(const ProtobufCMessage *msg, void *data)
{
    dispatch_call_t *call = data;
    size_t           size;

    call->replied = 1;
    if (msg == NULL) {
        if (call->st.code == NOX_OK)
            (void)nox__status_set(&call->st, NOX_EINTERNAL,
                                  "handler returned no response");
        return;
    }
    size = protobuf_c_message_get_packed_size(msg);
    if (size > call->ctx->max_message_bytes) {
        (void)nox__status_set(&call->st, NOX_ERESOURCE,
                              "response of %zu bytes exceeds the "
                              "max_message_bytes limit of %zu",
                              size, call->ctx->max_message_bytes);
        return;
    }
    if (nox__buf_reserve(&call->out, size) != NOX_OK) {
        (void)nox__status_set(&call->st, NOX_ERESOURCE, "out of memory");
        return;
    }
    call->out.len = protobuf_c_message_pack(msg, call->out.data);
}

/* ---- handlers (names fixed by NOXRUNNER__V1__SANDBOX__INIT) ---- */

static void
dispatch_health(Noxrunner__V1__Sandbox_Service       *svc,
                const Noxrunner__V1__HealthRequest   *in,
                Noxrunner__V1__HealthResponse_Closure closure, void *data)
{
    dispatch_call_t              *call = data;
    Noxrunner__V1__HealthResponse resp = NOXRUNNER__V1__HEALTH_RESPONSE__INIT;

    (void)svc;
    (void)in;
    /* protobuf-c declares outgoing strings char *; they are only read. */
    resp.status = (char *)"SERVING";
    resp.version = (char *)NOX_VERSION;
    resp.max_message_bytes = call->ctx->max_message_bytes;
    const char     *detail = NULL;
    nox_isolation_t level = nox_engine_isolation(call->ctx->engine, &detail);
    resp.isolation = (char *)nox_isolation_name(level);
    resp.isolation_detail = (char *)(detail ? detail : "");
    closure(&resp, data);
}

static void
dispatch_create_sandbox(Noxrunner__V1__Sandbox_Service              *svc,
                        const Noxrunner__V1__CreateSandboxRequest   *in,
                        Noxrunner__V1__CreateSandboxResponse_Closure closure,
                        void                                        *data)
{
    dispatch_call_t                     *call = data;
    Noxrunner__V1__CreateSandboxResponse resp =
        NOXRUNNER__V1__CREATE_SANDBOX_RESPONSE__INIT;
    nox_create_req_t            r = {in->session_id,   in->ttl_seconds,
                                     in->image,        in->cpu_limit,
                                     in->memory_limit, in->ephemeral_storage_limit,
                                     in->pids_limit,   in->allow_network};
    nox_sandbox_info_t          info;
    nox_create_report_t         rep;
    bool                        created = false;
    char                        expires[NOX_RFC3339_LEN];
    Noxrunner__V1__LimitStatus  limits[NOX_LIMITS_MAX];
    Noxrunner__V1__LimitStatus *lp[NOX_LIMITS_MAX];

    (void)svc;
    if (nox_engine_create(call->ctx->engine, &r, &info, &created, &rep,
                          &call->st) != NOX_OK) {
        closure(NULL, data);
        return;
    }
    nox__rfc3339(info.expires_at, expires);
    resp.pod_name = info.pod_name;
    resp.expires_at = expires;
    resp.created = created;
    resp.isolation = (char *)nox_isolation_name(rep.isolation);
    for (size_t i = 0; i < rep.n_limits; i++) {
        Noxrunner__V1__LimitStatus l = NOXRUNNER__V1__LIMIT_STATUS__INIT;
        l.name = (char *)rep.limits[i].name;
        l.value = rep.limits[i].value;
        l.applied = rep.limits[i].applied;
        l.detail = rep.limits[i].detail;
        limits[i] = l;
        lp[i] = &limits[i];
    }
    resp.n_limits = rep.n_limits;
    resp.limits = lp;
    closure(&resp, data);
}

static void
dispatch_touch(Noxrunner__V1__Sandbox_Service      *svc,
               const Noxrunner__V1__TouchRequest   *in,
               Noxrunner__V1__TouchResponse_Closure closure, void *data)
{
    dispatch_call_t             *call = data;
    Noxrunner__V1__TouchResponse resp = NOXRUNNER__V1__TOUCH_RESPONSE__INIT;
    int64_t                      expires_at;
    char                         expires[NOX_RFC3339_LEN];

    (void)svc;
    if (nox_engine_touch(call->ctx->engine, in->session_id, &expires_at,
                         &call->st) != NOX_OK) {
        closure(NULL, data);
        return;
    }
    nox__rfc3339(expires_at, expires);
    resp.expires_at = expires;
    closure(&resp, data);
}

/* The command's timeout in ms: timeout_seconds (0: 30 s), clamped to the
 * caller's deadline less a margin, so a timed-out command's reply still
 * arrives before the caller gives up. Never below 1 ms (0 would mean the
 * engine's default). */
static int64_t
dispatch_exec_timeout_ms(uint32_t timeout_seconds, int64_t deadline_ms)
{
    int64_t t = (int64_t)(timeout_seconds ? timeout_seconds
                                          : DISPATCH_DEFAULT_TIMEOUT_S) *
                1000;
    int64_t margin;

    if (deadline_ms <= 0)
        return t;
    margin = deadline_ms / 10;
    if (margin > DISPATCH_MARGIN_MAX_MS)
        margin = DISPATCH_MARGIN_MAX_MS;
    if (deadline_ms - margin < t)
        t = deadline_ms - margin;
    return t < 1 ? 1 : t;
}

/* The env map as engine pairs; *out is NULL when the map is empty. */
static nox_err_t
dispatch_env_pairs(const Noxrunner__V1__ExecRequest *in, nox_env_pair_t **out,
                   nox_status_t *st)
{
    nox_env_pair_t *env;

    *out = NULL;
    if (in->n_env == 0)
        return NOX_OK;
    env = calloc(in->n_env, sizeof(*env));
    if (env == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    for (size_t i = 0; i < in->n_env; i++) {
        env[i].name = in->env[i]->key;
        env[i].value = in->env[i]->value;
    }
    *out = env;
    return NOX_OK;
}

static void
dispatch_exec_fill(Noxrunner__V1__ExecResponse *resp,
                   const nox_exec_result_t     *res)
{
    resp->exit_code = res->exit_code;
    resp->stdout.data = res->out.data;
    resp->stdout.len = res->out.len;
    resp->stderr.data = res->err.data;
    resp->stderr.len = res->err.len;
    resp->duration_ms = res->duration_ms > 0 ? (uint64_t)res->duration_ms : 0;
    resp->timed_out = res->timed_out;
    resp->stdout_truncated = res->out_truncated;
    resp->stderr_truncated = res->err_truncated;
    /* The engine's causes are the proto's values (nox/engine.h). */
    resp->cause = (Noxrunner__V1__ExecCause)res->cause;
    resp->signal = res->term_signal;
    resp->cpu_user_ms = res->cpu_user_ms > 0 ? (uint64_t)res->cpu_user_ms : 0;
    resp->cpu_system_ms =
        res->cpu_system_ms > 0 ? (uint64_t)res->cpu_system_ms : 0;
    resp->max_rss_kb = res->max_rss_kb > 0 ? (uint64_t)res->max_rss_kb : 0;
    resp->stdout_total_bytes = res->out_total;
    resp->stderr_total_bytes = res->err_total;
}

static nox_err_t dispatch_pack_reply(dispatch_call_t      *call,
                                     nox_dispatch_alloc_fn alloc, void *arg,
                                     size_t *reply_len);

/* An Exec whose reply comes when its command ends. */
typedef struct {
    const nox_dispatch_ctx_t *ctx;
    nox_dispatch_reply_t      rep;
    void                     *done_arg;
    ProtobufCMessage         *input; /* owns the request (stdin, argv) */
    nox_env_pair_t           *env;
} dispatch_late_t;

/* The engine's done function: pack the reply and hand it over. */
static void
dispatch_exec_done(void *arg, nox_err_t rv, nox_exec_result_t *res,
                   const nox_status_t *st)
{
    dispatch_late_t            *late = arg;
    Noxrunner__V1__ExecResponse resp = NOXRUNNER__V1__EXEC_RESPONSE__INIT;
    dispatch_call_t             call;
    size_t                      n = 0;

    memset(&call, 0, sizeof(call));
    call.ctx = late->ctx;
    nox__status_clear(&call.st);
    if (rv == NOX_OK) {
        dispatch_exec_fill(&resp, res);
        dispatch_closure(&resp.base, &call);
        nox_exec_result_free(res);
    } else {
        call.st = *st;
    }
    rv = dispatch_pack_reply(&call, late->rep.alloc, late->rep.alloc_arg, &n);
    nox__buf_free(&call.out);
    protobuf_c_message_free_unpacked(late->input, NULL);
    free(late->env);
    late->rep.done(late->done_arg, rv, n);
    free(late);
}

/* Start r with its reply left for later, if the caller can take it so.
 * Returns true when the command was started (or failed to start: then
 * call->st says why); false to run it synchronously. */
static bool
dispatch_exec_later(dispatch_call_t *call, const nox_exec_req_t *r,
                    nox_env_pair_t *env)
{
    dispatch_late_t *late;

    if (call->rep == NULL || call->rep->later == NULL)
        return false;
    late = calloc(1, sizeof(*late));
    if (late == NULL)
        return false;
    late->done_arg = call->rep->later(call->rep->arg);
    if (late->done_arg == NULL) {
        free(late);
        return false;
    }
    late->ctx = call->ctx;
    late->rep = *call->rep;
    late->input = call->input;
    late->env = env;
    if (nox_engine_exec_start(call->ctx->engine, r, dispatch_exec_done, late,
                              &call->st) != NOX_OK) {
        /* The caller gets the error as a synchronous reply. */
        late->rep.forget(late->done_arg);
        free(late);
        return true;
    }
    call->pending = true;
    return true;
}

static void
dispatch_exec(Noxrunner__V1__Sandbox_Service     *svc,
              const Noxrunner__V1__ExecRequest   *in,
              Noxrunner__V1__ExecResponse_Closure closure, void *data)
{
    dispatch_call_t            *call = data;
    Noxrunner__V1__ExecResponse resp = NOXRUNNER__V1__EXEC_RESPONSE__INIT;
    nox_exec_result_t           res = NOX_EXEC_RESULT_INIT;
    nox_env_pair_t             *env;
    nox_exec_req_t              r;

    (void)svc;
    if (dispatch_env_pairs(in, &env, &call->st) != NOX_OK) {
        closure(NULL, data);
        return;
    }
    memset(&r, 0, sizeof(r));
    r.session_id = in->session_id;
    r.argv = (const char *const *)in->cmd;
    r.argc = in->n_cmd;
    r.workdir = in->workdir;
    r.env = env;
    r.env_len = in->n_env;
    r.timeout_ms =
        dispatch_exec_timeout_ms(in->timeout_seconds, call->deadline_ms);
    r.stdin_data = in->stdin.data;
    r.stdin_len = in->stdin.len;
    if (dispatch_exec_later(call, &r, env)) {
        if (!call->pending) {
            free(env);
            closure(NULL, data);
        }
        return; /* the reply comes from dispatch_exec_done */
    }
    if (nox_engine_exec(call->ctx->engine, &r, &res, &call->st) != NOX_OK) {
        free(env);
        closure(NULL, data);
        return;
    }
    free(env);
    dispatch_exec_fill(&resp, &res);
    closure(&resp, data);
    nox_exec_result_free(&res);
}

static void
dispatch_upload_files(Noxrunner__V1__Sandbox_Service            *svc,
                      const Noxrunner__V1__UploadFilesRequest   *in,
                      Noxrunner__V1__UploadFilesResponse_Closure closure,
                      void                                      *data)
{
    dispatch_call_t                   *call = data;
    Noxrunner__V1__UploadFilesResponse resp =
        NOXRUNNER__V1__UPLOAD_FILES_RESPONSE__INIT;
    uint64_t written = 0;

    (void)svc;
    if (nox_engine_upload(call->ctx->engine, in->session_id, in->dest,
                          (nox_tar_format_t)in->format, in->tar_gz.data,
                          in->tar_gz.len, &written, &call->st) != NOX_OK) {
        closure(NULL, data);
        return;
    }
    resp.files_written = written;
    closure(&resp, data);
}

static void
dispatch_download_files(Noxrunner__V1__Sandbox_Service              *svc,
                        const Noxrunner__V1__DownloadFilesRequest   *in,
                        Noxrunner__V1__DownloadFilesResponse_Closure closure,
                        void                                        *data)
{
    dispatch_call_t                     *call = data;
    Noxrunner__V1__DownloadFilesResponse resp =
        NOXRUNNER__V1__DOWNLOAD_FILES_RESPONSE__INIT;
    nox_buf_t tar = NOX_BUF_INIT;

    (void)svc;
    if (nox_engine_download(call->ctx->engine, in->session_id, in->src,
                            (nox_tar_format_t)in->format,
                            call->ctx->max_message_bytes, &tar,
                            &call->st) != NOX_OK) {
        closure(NULL, data);
        return;
    }
    resp.tar_gz.data = tar.data;
    resp.tar_gz.len = tar.len;
    closure(&resp, data);
    nox__buf_free(&tar);
}

static void
dispatch_delete_sandbox(Noxrunner__V1__Sandbox_Service              *svc,
                        const Noxrunner__V1__DeleteSandboxRequest   *in,
                        Noxrunner__V1__DeleteSandboxResponse_Closure closure,
                        void                                        *data)
{
    dispatch_call_t                     *call = data;
    Noxrunner__V1__DeleteSandboxResponse resp =
        NOXRUNNER__V1__DELETE_SANDBOX_RESPONSE__INIT;
    bool deleted = false;

    (void)svc;
    if (nox_engine_delete(call->ctx->engine, in->session_id, &deleted,
                          &call->st) != NOX_OK) {
        closure(NULL, data);
        return;
    }
    resp.deleted = deleted;
    closure(&resp, data);
}

/* One SandboxInfo with the storage for its formatted time. */
typedef struct {
    Noxrunner__V1__SandboxInfo msg;
    char                       expires[NOX_RFC3339_LEN];
} dispatch_info_t;

static void
dispatch_list_reply(nox_sandbox_info_t *v, size_t n,
                    Noxrunner__V1__ListSandboxesResponse_Closure closure,
                    dispatch_call_t                             *call)
{
    Noxrunner__V1__ListSandboxesResponse resp =
        NOXRUNNER__V1__LIST_SANDBOXES_RESPONSE__INIT;
    dispatch_info_t             *infos = NULL;
    Noxrunner__V1__SandboxInfo **ptrs = NULL;

    if (n > 0) {
        infos = calloc(n, sizeof(*infos));
        if (infos != NULL)
            ptrs = calloc(n, sizeof(*ptrs));
        if (infos == NULL || ptrs == NULL) {
            free(infos);
            (void)nox__status_set(&call->st, NOX_ERESOURCE, "out of memory");
            closure(NULL, call);
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        noxrunner__v1__sandbox_info__init(&infos[i].msg);
        nox__rfc3339(v[i].expires_at, infos[i].expires);
        infos[i].msg.session_id = v[i].session_id;
        infos[i].msg.pod_name = v[i].pod_name;
        infos[i].msg.expires_at = infos[i].expires;
        infos[i].msg.path = v[i].path;
        ptrs[i] = &infos[i].msg;
    }
    resp.n_sandboxes = n;
    resp.sandboxes = ptrs;
    closure(&resp, call);
    free(ptrs);
    free(infos);
}

static void
dispatch_list_sandboxes(Noxrunner__V1__Sandbox_Service              *svc,
                        const Noxrunner__V1__ListSandboxesRequest   *in,
                        Noxrunner__V1__ListSandboxesResponse_Closure closure,
                        void                                        *data)
{
    dispatch_call_t    *call = data;
    nox_sandbox_info_t *v = NULL;
    size_t              n = 0;

    (void)svc;
    (void)in;
    if (nox_engine_list(call->ctx->engine, &v, &n, &call->st) != NOX_OK) {
        closure(NULL, data);
        return;
    }
    dispatch_list_reply(v, n, closure, call);
    free(v);
}

/* ---- the envelope ---- */

/* Replace every byte that is not part of valid UTF-8, and every control
 * character, with '?'. RpcResponse.message is a proto3 string, which
 * strict decoders (Python, Go) reject unless it is valid UTF-8, and it
 * may echo request bytes (a method name, a path) or have been cut in the
 * middle of a character by truncation. */
static void
dispatch_scrub_utf8(char *s)
{
    unsigned char *p = (unsigned char *)s;

    while (*p != '\0') {
        size_t n = *p < 0x80             ? 1
                   : (*p & 0xe0) == 0xc0 ? 2
                   : (*p & 0xf0) == 0xe0 ? 3
                   : (*p & 0xf8) == 0xf0 ? 4
                                         : 0;
        size_t i;

        for (i = 1; i < n && (p[i] & 0xc0) == 0x80; i++)
            ;
        /* Reject bad leads, short sequences and overlong 2-byte forms;
         * the rare other non-shortest forms are harmless for a message. */
        if (n == 0 || i < n || *p == 0xc0 || *p == 0xc1 ||
            (n == 1 && (*p < 0x20 || *p == 0x7f))) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

/* Pack the RpcResponse for call where alloc says (*reply_len: its size):
 * the payload on success, code and message otherwise. */
static nox_err_t
dispatch_pack_reply(dispatch_call_t *call, nox_dispatch_alloc_fn alloc,
                    void *arg, size_t *reply_len)
{
    Noxrunner__V1__RpcResponse resp = NOXRUNNER__V1__RPC_RESPONSE__INIT;
    size_t                     size;
    uint8_t                   *out;

    resp.code = nox_err_to_wire(call->st.code);
    if (call->st.code == NOX_OK) {
        resp.payload.data = call->out.data;
        resp.payload.len = call->out.len;
    } else {
        dispatch_scrub_utf8(call->st.msg);
        resp.message = call->st.msg;
    }
    size = noxrunner__v1__rpc_response__get_packed_size(&resp);
    /* An all-default reply (OK, empty payload) packs to nothing: alloc
     * may return NULL for it, but is still called to take the storage. */
    out = alloc(arg, size);
    if (out == NULL && size > 0)
        return NOX_ERESOURCE;
    *reply_len = size > 0 ? noxrunner__v1__rpc_response__pack(&resp, out) : 0;
    return NOX_OK;
}

/* Find the method named by a full gRPC path, "/noxrunner.v1.Sandbox/X".
 * NULL when the path names another service or an unknown method. */
static const ProtobufCMethodDescriptor *
dispatch_find_method(const char *path)
{
    const ProtobufCServiceDescriptor *sd = &noxrunner__v1__sandbox__descriptor;
    size_t                            n = strlen(sd->name);

    if (path[0] != '/' || strncmp(path + 1, sd->name, n) != 0 ||
        path[1 + n] != '/')
        return NULL;
    return protobuf_c_service_descriptor_get_method_by_name(sd, path + n + 2);
}

/* Check the envelope, unpack the payload and run the method. Any failure
 * is recorded in call->st; the closure has run when call->replied. */
static void
dispatch_invoke(dispatch_call_t *call, const Noxrunner__V1__RpcRequest *req)
{
    const ProtobufCServiceDescriptor *sd = &noxrunner__v1__sandbox__descriptor;
    const ProtobufCMethodDescriptor  *m;
    Noxrunner__V1__Sandbox_Service    svc =
        NOXRUNNER__V1__SANDBOX__INIT(dispatch_);
    ProtobufCMessage *input;

    m = dispatch_find_method(req->method);
    if (m == NULL) {
        (void)nox__status_set(&call->st, NOX_ENOTSUP, "unknown method: %s",
                              req->method);
        return;
    }
    if (req->deadline_ms < 0) {
        (void)nox__status_set(&call->st, NOX_ETIMEDOUT,
                              "deadline already exceeded");
        return;
    }
    if (req->payload.len > call->ctx->max_message_bytes) {
        (void)nox__status_set(&call->st, NOX_ERESOURCE,
                              "request payload of %zu bytes exceeds the "
                              "max_message_bytes limit of %zu",
                              req->payload.len, call->ctx->max_message_bytes);
        return;
    }
    input = protobuf_c_message_unpack(m->input, NULL, req->payload.len,
                                      req->payload.data);
    if (input == NULL) {
        (void)nox__status_set(&call->st, NOX_EINVAL, "malformed %s payload",
                              m->input->short_name);
        return;
    }
    /* The handlers see C strings: one cut at a NUL would name another
     * sandbox, path or command than the caller sent. */
    if (nox__wire_check_strings(m->input, req->payload.data, req->payload.len,
                                &call->st) != NOX_OK) {
        protobuf_c_message_free_unpacked(input, NULL);
        return;
    }
    call->deadline_ms = req->deadline_ms;
    call->input = input;
    svc.base.invoke(&svc.base, (unsigned)(m - sd->methods), input,
                    dispatch_closure, call);
    if (!call->pending) /* else the late reply owns it */
        protobuf_c_message_free_unpacked(input, NULL);
}

/* Does the envelope carry the token the caller's transport needs? Read
 * from the wire before anything is unpacked: a caller without it gets no
 * copy of its payload made (and no word on what else is wrong with its
 * request). The whole field is compared, a NUL in it included. */
static bool
dispatch_authentic(const nox_dispatch_caller_t *caller, const uint8_t *req,
                   size_t len)
{
    const uint8_t *tok;
    size_t         n;

    if (caller == NULL || caller->token == NULL)
        return true;
    return nox__envelope_token(req, len, &tok, &n) && tok != NULL &&
           nox__token_equal(caller->token, (const char *)tok, n);
}

nox_err_t
nox__dispatch_start(const nox_dispatch_ctx_t *ctx, const uint8_t *req,
                    size_t len, const nox_dispatch_reply_t *rep, bool *pending,
                    size_t *reply_len)
{
    return nox__dispatch_start_from(ctx, NULL, req, len, rep, pending,
                                    reply_len);
}

nox_err_t
nox__dispatch_start_from(const nox_dispatch_ctx_t    *ctx,
                         const nox_dispatch_caller_t *caller,
                         const uint8_t *req, size_t len,
                         const nox_dispatch_reply_t *rep, bool *pending,
                         size_t *reply_len)
{
    dispatch_call_t            call;
    Noxrunner__V1__RpcRequest *env;
    nox_err_t                  rv;

    memset(&call, 0, sizeof(call));
    call.ctx = ctx;
    call.rep = rep;
    nox__status_clear(&call.st);
    *reply_len = 0;
    *pending = false;
    env = NULL;
    if (!dispatch_authentic(caller, req, len))
        (void)nox__status_set(&call.st, NOX_EAUTH, NOX_AUTH_TOKEN_MESSAGE);
    else if ((env = noxrunner__v1__rpc_request__unpack(NULL, len, req)) == NULL)
        (void)nox__status_set(&call.st, NOX_EINVAL,
                              "malformed request envelope");
    else if (nox__wire_check_strings(&noxrunner__v1__rpc_request__descriptor,
                                     req, len, &call.st) == NOX_OK)
        dispatch_invoke(&call, env); /* a method cut at a NUL is refused */
    noxrunner__v1__rpc_request__free_unpacked(env, NULL);
    if (call.pending) {
        *pending = true;
        return NOX_OK;
    }
    if (env != NULL && call.st.code == NOX_OK && !call.replied)
        (void)nox__status_set(&call.st, NOX_EINTERNAL,
                              "handler returned no response");
    /* From here on req is not read: alloc may reuse it. */
    rv = dispatch_pack_reply(&call, rep->alloc, rep->alloc_arg, reply_len);
    nox__buf_free(&call.out);
    return rv;
}

nox_err_t
nox__dispatch_to(const nox_dispatch_ctx_t *ctx, const uint8_t *req, size_t len,
                 nox_dispatch_alloc_fn alloc, void *arg, size_t *reply_len)
{
    nox_dispatch_reply_t rep = {alloc, arg, NULL, NULL, NULL, NULL};
    bool                 pending;

    return nox__dispatch_start(ctx, req, len, &rep, &pending, reply_len);
}

/* nox__dispatch's allocator: *arg is the nox_buf_t to fill. */
static uint8_t *
dispatch_buf_alloc(void *arg, size_t size)
{
    nox_buf_t *b = arg;

    b->len = 0;
    return nox__buf_reserve(b, size) == NOX_OK ? b->data : NULL;
}

nox_err_t
nox__dispatch(const nox_dispatch_ctx_t *ctx, const uint8_t *req, size_t len,
              nox_buf_t *reply)
{
    size_t    n = 0;
    nox_err_t rv =
        nox__dispatch_to(ctx, req, len, dispatch_buf_alloc, reply, &n);

    reply->len = rv == NOX_OK ? n : 0;
    return rv;
}
