/*
 * fuzz_dispatch.c - libFuzzer harness: one RpcRequest envelope through the
 * dispatcher (every method), on an engine in a temporary base directory.
 *
 * Each input starts from the same state: sandbox "fz" exists and nothing
 * else. Commands are made harmless without touching the dispatcher: an
 * Exec's argv[0] is rewritten on the wire to /bin/true (fuzz_wire.h), and
 * as a second guard this program's execve() refuses anything else (the
 * engine is linked in statically, so its children exec through it).
 *
 * After every input:
 *  - the reply must be a valid RpcResponse; an error carries a message;
 *  - a request whose session id, path, argv or env entry holds a NUL, or
 *    whose env key holds '=' or a newline, must not succeed (protobuf-c
 *    cuts C strings at the NUL, so the server has to notice);
 *  - nothing beside the base directory changed, and no symlink in any
 *    workspace leads out of it.
 */
#include "dispatch.h"
#include "fuzz_env.h"
#include "fuzz_wire.h"
#include "sandbox_scan.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DISPATCH_SID "fz"
#define DISPATCH_METHOD(m) "/noxrunner.v1.Sandbox/" m
#define DISPATCH_MAX_MESSAGE (1024 * 1024)
#define DISPATCH_MAX_CODE 16 /* gRPC's last canonical code */

/* RpcRequest fields, and where each method's strings sit (sandbox.proto). */
#define ENV_METHOD 1
#define ENV_PAYLOAD 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GLOBAL: libFuzzer's entry point takes no context. */
static fuzz_env_t         dispatch_env;
static nox_engine_t      *dispatch_engine;
static nox_dispatch_ctx_t dispatch_ctx;

/* Only FUZZ_TRUE_PATH may be executed. Runs in the engine's child before
 * its exec (sharing the parent's memory): no sanitizer, no libc calls
 * beyond the raw system call. */
__attribute__((no_sanitize("address", "undefined"))) int
execve(const char *path, char *const argv[], char *const envp[])
{
    static const char allowed[] = FUZZ_TRUE_PATH;
    size_t            i = 0;

    while (allowed[i] != '\0' && path[i] == allowed[i])
        i++;
    if (allowed[i] != '\0' || path[i] != '\0') {
        errno = EACCES;
        return -1;
    }
    return (int)syscall(SYS_execve, path, argv, envp);
}

static void
dispatch_setup(void)
{
    fuzz_env_init(&dispatch_env);
    dispatch_engine =
        fuzz_engine_open(&dispatch_env, fuzz_isolation(NOX_ISOLATION_NONE));
    dispatch_ctx.engine = dispatch_engine;
    dispatch_ctx.max_message_bytes = DISPATCH_MAX_MESSAGE;
    fuzz_sandbox_create(dispatch_engine, DISPATCH_SID);
}

/* The envelope with every payload of an Exec made harmless. */
static void
dispatch_rewrite_exec(const uint8_t *data, size_t size, nox_buf_t *out)
{
    nox_buf_t    payload = NOX_BUF_INIT;
    size_t       pos = 0;
    fuzz_field_t f;

    while (fuzz_wire_next(data, size, &pos, &f) == 1) {
        nox_err_t rv;
        if (f.number == ENV_PAYLOAD && f.type == 2) {
            rv = fuzz_wire_exec_harmless(f.data, f.len, &payload);
            if (rv == NOX_OK)
                rv = fuzz_wire_put_bytes(out, ENV_PAYLOAD, payload.data,
                                         payload.len);
        } else {
            rv = nox__buf_append(out, data + f.start, f.end - f.start);
        }
        if (rv != NOX_OK)
            fuzz_die("out of memory");
    }
    nox__buf_free(&payload);
}

/* Whether the last occurrence of a string field holds a NUL. */
static bool
dispatch_last_has_nul(const uint8_t *p, size_t n, uint32_t number)
{
    fuzz_field_t f;

    return fuzz_wire_last(p, n, number, &f) && fuzz_wire_has_nul(f.data, f.len);
}

/* ExecRequest: any cmd entry with a NUL, or an env entry (a message of
 * key 1, value 2) whose key holds NUL, '=' or '\n' or whose value holds
 * NUL. Names the field in *why. */
static bool
dispatch_exec_bad(const uint8_t *p, size_t n, const char **why)
{
    size_t       pos = 0;
    fuzz_field_t f, k, v;

    while (fuzz_wire_next(p, n, &pos, &f) == 1) {
        if (f.type != 2)
            continue;
        if (f.number == 2 && fuzz_wire_has_nul(f.data, f.len)) {
            *why = "a cmd entry with a NUL";
            return true;
        }
        if (f.number != 4 || !fuzz_wire_valid(f.data, f.len))
            continue;
        if (fuzz_wire_last(f.data, f.len, 1, &k) && k.len > 0 &&
            (memchr(k.data, '\0', k.len) || memchr(k.data, '=', k.len) ||
             memchr(k.data, '\n', k.len))) {
            *why = "an env key with a NUL, '=' or newline";
            return true;
        }
        if (fuzz_wire_last(f.data, f.len, 2, &v) &&
            fuzz_wire_has_nul(v.data, v.len)) {
            *why = "an env value with a NUL";
            return true;
        }
    }
    return false;
}

/* Why the request must fail, or NULL. method is protobuf-c's reading. */
static const char *
dispatch_must_fail(const char *method, const uint8_t *p, size_t n)
{
    const char *why = NULL;
    bool has_sid = strcmp(method, DISPATCH_METHOD("CreateSandbox")) == 0 ||
                   strcmp(method, DISPATCH_METHOD("Touch")) == 0 ||
                   strcmp(method, DISPATCH_METHOD("Exec")) == 0 ||
                   strcmp(method, DISPATCH_METHOD("UploadFiles")) == 0 ||
                   strcmp(method, DISPATCH_METHOD("DownloadFiles")) == 0 ||
                   strcmp(method, DISPATCH_METHOD("DeleteSandbox")) == 0;
    bool files = strcmp(method, DISPATCH_METHOD("UploadFiles")) == 0 ||
                 strcmp(method, DISPATCH_METHOD("DownloadFiles")) == 0;

    if (has_sid && dispatch_last_has_nul(p, n, 1))
        return "a session id with a NUL";
    if (files && dispatch_last_has_nul(p, n, 2))
        return "a path (dest or src) with a NUL";
    if (strcmp(method, DISPATCH_METHOD("Exec")) != 0)
        return NULL;
    if (dispatch_last_has_nul(p, n, 3))
        return "a workdir with a NUL";
    return dispatch_exec_bad(p, n, &why) ? why : NULL;
}

static void
dispatch_check_reply(const nox_buf_t *reply, const char *must_fail)
{
    Noxrunner__V1__RpcResponse *r =
        noxrunner__v1__rpc_response__unpack(NULL, reply->len, reply->data);

    if (r == NULL)
        fuzz_die("the reply is not a valid RpcResponse");
    if (r->code < 0 || r->code > DISPATCH_MAX_CODE)
        fuzz_die("the reply's code %d is not a gRPC code", (int)r->code);
    if (r->code != 0 && (r->message == NULL || r->message[0] == '\0'))
        fuzz_die("error %d without a message", (int)r->code);
    if (getenv("NOX_FUZZ_VERBOSE") != NULL)
        (void)fprintf(stderr, "fuzz: reply code %d: %s\n", (int)r->code,
                      r->message != NULL ? r->message : "");
    if (r->code == 0 && must_fail != NULL)
        fuzz_die("a request with %s succeeded", must_fail);
    noxrunner__v1__rpc_response__free_unpacked(r, NULL);
}

/* No workspace holds a symlink that leads out of it (the test suites'
 * check after an upload). */
static void
dispatch_check_links(void)
{
    char   found[2 * PATH_MAX + 8];
    size_t n = nox_test_escaping_links_in_each_sandbox(dispatch_env.base, found,
                                                       sizeof(found));

    if (n == (size_t)-1)
        fuzz_die("cannot scan the sandboxes in %s", dispatch_env.base);
    if (n != 0)
        fuzz_die("a symlink leads out of its workspace: %s", found);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Noxrunner__V1__RpcRequest *req;
    nox_buf_t                  rewritten = NOX_BUF_INIT, reply = NOX_BUF_INIT;
    const char                *must_fail = NULL;
    fuzz_field_t               payload;

    if (dispatch_engine == NULL)
        dispatch_setup();
    req = noxrunner__v1__rpc_request__unpack(NULL, size, data);
    if (req != NULL && !fuzz_wire_valid(data, size)) {
        /* protobuf-c took bytes our reader does not: an Exec in them could
         * not be made harmless, so the input is not run. */
        noxrunner__v1__rpc_request__free_unpacked(req, NULL);
        return 0;
    }
    if (req != NULL) {
        if (fuzz_wire_last(data, size, ENV_PAYLOAD, &payload))
            must_fail =
                dispatch_must_fail(req->method, payload.data, payload.len);
        if (strcmp(req->method, DISPATCH_METHOD("Exec")) == 0) {
            dispatch_rewrite_exec(data, size, &rewritten);
            data = rewritten.data;
            size = rewritten.len;
        }
        noxrunner__v1__rpc_request__free_unpacked(req, NULL);
    }
    if (nox__dispatch(&dispatch_ctx, data, size, &reply) != NOX_OK)
        fuzz_die("the dispatcher ran out of memory");
    dispatch_check_reply(&reply, must_fail);
    nox__buf_free(&reply);
    nox__buf_free(&rewritten);
    fuzz_check_outside(&dispatch_env, "after the request");
    dispatch_check_links();
    /* Back to the starting state for the next input. */
    fuzz_empty_dir(dispatch_env.base);
    fuzz_sandbox_create(dispatch_engine, DISPATCH_SID);
    return 0;
}
