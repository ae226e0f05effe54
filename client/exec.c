/* exec.c - libnoxrunner's Exec: argv and shell commands, env, results,
 * and the names of the causes a command ends by. */
#include "client_impl.h"

#include <stdlib.h>
#include <string.h>

#define EXEC_DEFAULT_SECONDS 30

/* ---- Exec ---- */

/* The public enum is the wire's, value for value, so a cause is copied
 * as it stands. */
#define EXEC_SAME_CAUSE(ours, wire)                                            \
    _Static_assert((int)NOX_EXIT_##ours ==                                     \
                       (int)NOXRUNNER__V1__EXEC_CAUSE__EXEC_CAUSE_##wire,      \
                   "nox_client_cause_t differs from ExecCause: " #ours)
EXEC_SAME_CAUSE(UNSPECIFIED, UNSPECIFIED);
EXEC_SAME_CAUSE(EXITED, EXITED);
EXEC_SAME_CAUSE(SIGNALED, SIGNALED);
EXEC_SAME_CAUSE(TIMED_OUT, TIMED_OUT);
EXEC_SAME_CAUSE(OOM_KILLED, OOM_KILLED);
EXEC_SAME_CAUSE(OUTPUT_LIMIT, OUTPUT_LIMIT);
EXEC_SAME_CAUSE(BLOCKED, BLOCKED);
EXEC_SAME_CAUSE(NOT_STARTED, NOT_STARTED);

const char *
nox_exec_cause_name(int cause)
{
    /* Indexed by nox_client_cause_t, which mirrors the proto's
     * ExecCause; a value past the table comes from a newer server. */
    static const char *const names[] = {
        [NOX_EXIT_UNSPECIFIED] = "UNSPECIFIED",
        [NOX_EXIT_EXITED] = "EXITED",
        [NOX_EXIT_SIGNALED] = "SIGNALED",
        [NOX_EXIT_TIMED_OUT] = "TIMED_OUT",
        [NOX_EXIT_OOM_KILLED] = "OOM_KILLED",
        [NOX_EXIT_OUTPUT_LIMIT] = "OUTPUT_LIMIT",
        [NOX_EXIT_BLOCKED] = "BLOCKED",
        [NOX_EXIT_NOT_STARTED] = "NOT_STARTED",
    };

    if (cause < 0 || (size_t)cause >= sizeof(names) / sizeof(names[0]))
        return "UNSPECIFIED";
    return names[cause];
}

/* The request's env map, built from "KEY=VALUE" strings. Values point into
 * the caller's strings; keys are copies (they need their own NUL). */
typedef struct {
    Noxrunner__V1__ExecRequest__EnvEntry  *entries;
    Noxrunner__V1__ExecRequest__EnvEntry **ptrs;
    size_t                                 n; /* entries holding a key */
} exec_env_t;

static void
exec_env_free(exec_env_t *env)
{
    for (size_t i = 0; i < env->n; i++)
        free(env->entries[i].key);
    free(env->entries);
    free(env->ptrs);
}

static nox_err_t
exec_env_build(nox_client_t *c, const char *const *kvs, size_t n,
               exec_env_t *env)
{
    if (n == 0)
        return NOX_OK;
    if (kvs == NULL)
        return nox__client_invalid(c, "exec: env is NULL but env_len is not 0");
    env->entries = calloc(n, sizeof(*env->entries));
    env->ptrs = calloc(n, sizeof(*env->ptrs));
    if (env->entries == NULL || env->ptrs == NULL)
        return nox__status_set(&c->last, NOX_ERESOURCE, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *eq = kvs[i] != NULL ? strchr(kvs[i], '=') : NULL;

        if (eq == NULL)
            return nox__status_set(&c->last, NOX_EINVAL,
                                   "env entry '%s' is not KEY=VALUE",
                                   kvs[i] != NULL ? kvs[i] : "(null)");
        noxrunner__v1__exec_request__env_entry__init(&env->entries[i]);
        env->entries[i].key = strndup(kvs[i], (size_t)(eq - kvs[i]));
        if (env->entries[i].key == NULL)
            return nox__status_set(&c->last, NOX_ERESOURCE, "out of memory");
        env->entries[i].value = nox__client_str(eq + 1);
        env->ptrs[i] = &env->entries[i];
        env->n = i + 1;
    }
    return NOX_OK;
}

/* Fill req from the arguments. The caller frees env even on failure. */
static nox_err_t
exec_request(nox_client_t *c, const char *const *argv, size_t argc,
             const nox_exec_opts_t *o, Noxrunner__V1__ExecRequest *req,
             exec_env_t *env)
{
    nox_err_t err;

    if (argc > 0 && argv == NULL)
        return nox__client_invalid(c, "exec: argv is NULL");
    for (size_t i = 0; i < argc; i++)
        if (argv[i] == NULL)
            return nox__client_invalid(c, "exec: argv has a NULL entry");
    /* An empty argv goes to the server, which owns that rule. */
    req->n_cmd = argc;
    req->cmd = (char **)argv;
    if (o == NULL)
        return NOX_OK;
    if (o->stdin_data == NULL && o->stdin_len > 0)
        return nox__client_invalid(c, "exec: stdin_data is NULL");
    err = exec_env_build(c, o->env, o->env_len, env);
    if (err != NOX_OK)
        return err;
    req->workdir = nox__client_str(o->workdir);
    req->n_env = env->n;
    req->env = env->ptrs;
    req->timeout_seconds = o->timeout_seconds;
    req->stdin.data = (uint8_t *)o->stdin_data;
    req->stdin.len = o->stdin_data != NULL ? o->stdin_len : 0;
    return NOX_OK;
}

/* A malloc'd, NUL-terminated copy of b. */
static nox_err_t
exec_copy_bytes(nox_client_t *c, const ProtobufCBinaryData *b, uint8_t **out,
                size_t *len)
{
    uint8_t *p = b->len < SIZE_MAX ? malloc(b->len + 1) : NULL;

    if (p == NULL)
        return nox__status_set(&c->last, NOX_ERESOURCE, "out of memory");
    if (b->len > 0)
        memcpy(p, b->data, b->len);
    p[b->len] = '\0';
    *out = p;
    *len = b->len;
    return NOX_OK;
}

static nox_err_t
exec_result(nox_client_t *c, const Noxrunner__V1__ExecResponse *r,
            nox_exec_t *out)
{
    nox_exec_t x = {0};
    nox_err_t  err;

    x.exit_code = r->exit_code;
    x.duration_ms = r->duration_ms;
    x.timed_out = r->timed_out;
    x.stdout_truncated = r->stdout_truncated;
    x.stderr_truncated = r->stderr_truncated;
    /* An unknown cause from a newer server stays as sent:
     * nox_exec_cause_name() names it UNSPECIFIED. */
    x.cause = (nox_client_cause_t)r->cause;
    x.signal = r->signal;
    x.cpu_user_ms = r->cpu_user_ms;
    x.cpu_system_ms = r->cpu_system_ms;
    x.max_rss_kb = r->max_rss_kb;
    x.stdout_total_bytes = r->stdout_total_bytes;
    x.stderr_total_bytes = r->stderr_total_bytes;
    err = exec_copy_bytes(c, &r->stdout, &x.stdout_data, &x.stdout_len);
    if (err == NOX_OK)
        err = exec_copy_bytes(c, &r->stderr, &x.stderr_data, &x.stderr_len);
    if (err != NOX_OK) {
        nox_exec_free(&x);
        return err;
    }
    *out = x;
    return NOX_OK;
}

nox_err_t
nox_client_exec(nox_client_t *c, const char *session_id,
                const char *const *argv, size_t argc,
                const nox_exec_opts_t *opts, nox_exec_t *out)
{
    Noxrunner__V1__ExecRequest req = NOXRUNNER__V1__EXEC_REQUEST__INIT;
    exec_env_t                 env = {0};
    ProtobufCMessage          *resp;
    uint32_t                   secs = EXEC_DEFAULT_SECONDS;
    nox_err_t                  err;

    if (c == NULL)
        return NOX_EINVAL;
    err = nox__client_begin(c, session_id);
    if (err != NOX_OK)
        return err;
    if (out == NULL)
        return nox__client_invalid(c, "exec: out is NULL");
    req.session_id = nox__client_str(session_id);
    err = exec_request(c, argv, argc, opts, &req, &env);
    if (opts != NULL && opts->timeout_seconds > 0)
        secs = opts->timeout_seconds;
    /* The command may use its whole timeout; the reply still needs the
     * ordinary budget on top. */
    if (err == NOX_OK)
        err = nox__client_call(c, NOX_RPC_EXEC, &req.base,
                               (int64_t)secs * 1000 + c->timeout_ms, &resp);
    exec_env_free(&env);
    if (err != NOX_OK)
        return err;
    err = exec_result(c, (Noxrunner__V1__ExecResponse *)resp, out);
    protobuf_c_message_free_unpacked(resp, NULL);
    return err;
}

nox_err_t
nox_client_exec_shell(nox_client_t *c, const char *session_id,
                      const char *command, bool use_bash,
                      const nox_exec_opts_t *opts, nox_exec_t *out)
{
    const char *argv[3] = {use_bash ? "bash" : "sh", "-c", command};

    if (c == NULL)
        return NOX_EINVAL;
    if (command == NULL)
        return nox__client_invalid(c, "exec_shell: command is NULL");
    return nox_client_exec(c, session_id, argv, 3, opts, out);
}

void
nox_exec_free(nox_exec_t *r)
{
    if (r == NULL)
        return;
    free(r->stdout_data);
    free(r->stderr_data);
    memset(r, 0, sizeof(*r));
}
