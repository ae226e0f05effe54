/*
 * cmd_exec.c - exec (an argv) and sh (a command string) in a sandbox.
 *
 * The command's stdout and stderr are written raw (binary-safe) and the
 * tool exits with the command's exit code, so noxrc-rpc can stand in for
 * the command in scripts. Under --json the result is one object instead,
 * with the output as strings whose invalid UTF-8 is replaced.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --stdin-file larger than this is refused rather than read: the server's
 * message limit (64 MiB by default) would refuse it anyway. */
#define EXEC_STDIN_MAX ((size_t)256 << 20)

void
nox__cli_exec_opts(const nox__cli_args_t *a, nox_exec_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->workdir = a->workdir;
    o->env = a->env;
    o->env_len = a->env_len;
    o->timeout_seconds = a->timeout_seconds;
}

/* Read all of fd into *buf (malloc'd) and *len. 0 or an errno value
 * (EFBIG past EXEC_STDIN_MAX). */
static int
exec_slurp(int fd, uint8_t **buf, size_t *len)
{
    size_t   cap = 0, n = 0;
    uint8_t *p = NULL;

    for (;;) {
        if (n == cap) {
            size_t   ncap = cap ? cap * 2 : 65536;
            uint8_t *np = ncap <= EXEC_STDIN_MAX ? realloc(p, ncap) : NULL;
            if (np == NULL) {
                free(p);
                return ncap > EXEC_STDIN_MAX ? EFBIG : ENOMEM;
            }
            p = np;
            cap = ncap;
        }
        ssize_t r = read(fd, p + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            free(p);
            return err;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *buf = p;
    *len = n;
    return 0;
}

/* --stdin-file F (or "-": our stdin) into *buf and *len. Returns 0 or the
 * exit status of the failure it reported. */
static int
exec_read_stdin(const nox__cli_ctx_t *ctx, uint8_t **buf, size_t *len)
{
    const char *f = ctx->args->stdin_file;
    bool        ours = strcmp(f, "-") == 0;
    int         fd = ours ? STDIN_FILENO : open(f, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return nox__cli_fail(ctx, nox__cli_errno_err(errno), "%s: %s", f,
                             strerror(errno));
    int err = exec_slurp(fd, buf, len);
    if (!ours && close(fd) != 0 && err == 0)
        err = errno;
    if (err != 0)
        return nox__cli_fail(ctx, nox__cli_errno_err(err), "%s: %s",
                             ours ? "stdin" : f, strerror(err));
    return 0;
}

int
nox__cli_exec_write_raw(const nox_exec_t *r)
{
    int err = nox__cli_write(stdout, r->stdout_data, r->stdout_len);
    if (err == 0 && fflush(stdout) != 0)
        err = errno;
    if (err != 0)
        return err;
    /* stderr is unbuffered: each write goes out as it is made. */
    (void)nox__cli_write(stderr, r->stderr_data, r->stderr_len);
    if (r->stdout_truncated)
        (void)fputs(NOX_CLI_NAME ": note: stdout was truncated\n", stderr);
    if (r->stderr_truncated)
        (void)fputs(NOX_CLI_NAME ": note: stderr was truncated\n", stderr);
    return 0;
}

/* Add a byte string as a sanitized JSON string. */
static bool
exec_json_bytes(cJSON *o, const char *key, const uint8_t *p, size_t n)
{
    char *s = nox__utf8_sanitize(p != NULL ? p : (const uint8_t *)"",
                                 p != NULL ? n : 0);
    bool ok = s != NULL && cJSON_AddStringToObject(o, key, s) != NULL;

    free(s);
    return ok;
}

/* How the command ended and what it used, after the output fields. */
static bool
exec_json_usage(cJSON *o, const nox_exec_t *r)
{
    return cJSON_AddStringToObject(o, "cause",
                                   nox_exec_cause_name((int)r->cause)) &&
           cJSON_AddNumberToObject(o, "signal", r->signal) &&
           cJSON_AddNumberToObject(o, "cpuUserMs", (double)r->cpu_user_ms) &&
           cJSON_AddNumberToObject(o, "cpuSystemMs",
                                   (double)r->cpu_system_ms) &&
           cJSON_AddNumberToObject(o, "maxRssKb", (double)r->max_rss_kb) &&
           cJSON_AddNumberToObject(o, "stdoutTotalBytes",
                                   (double)r->stdout_total_bytes) &&
           cJSON_AddNumberToObject(o, "stderrTotalBytes",
                                   (double)r->stderr_total_bytes);
}

static int
exec_print_json(const nox__cli_ctx_t *ctx, const nox_exec_t *r)
{
    cJSON *o = cJSON_CreateObject();
    bool   ok =
        cJSON_AddNumberToObject(o, "exitCode", r->exit_code) &&
        exec_json_bytes(o, "stdout", r->stdout_data, r->stdout_len) &&
        exec_json_bytes(o, "stderr", r->stderr_data, r->stderr_len) &&
        cJSON_AddNumberToObject(o, "durationMs", (double)r->duration_ms) &&
        cJSON_AddBoolToObject(o, "timedOut", r->timed_out) &&
        cJSON_AddBoolToObject(o, "stdoutTruncated", r->stdout_truncated) &&
        cJSON_AddBoolToObject(o, "stderrTruncated", r->stderr_truncated) &&
        exec_json_usage(o, r);

    return nox__cli_emit_json(ctx, o, ok);
}

/* A command the server refused to run, under --json: the usual error
 * object plus "cause": "BLOCKED", so a caller reading causes sees this
 * one too. The exit status stays that of NOX_EDENIED (77). */
static int
exec_print_blocked_json(const nox__cli_ctx_t *ctx)
{
    const char *msg = nox_client_errmsg(ctx->client);

    if (msg == NULL || msg[0] == '\0')
        msg = nox_strerror(NOX_EDENIED);
    /* The message names the command, which is the caller's bytes. */
    char  *clean = nox__utf8_sanitize((const uint8_t *)msg, strlen(msg));
    cJSON *o = cJSON_CreateObject();
    bool   ok = clean != NULL &&
              cJSON_AddStringToObject(o, "cause",
                                      nox_exec_cause_name(NOX_EXIT_BLOCKED));
    cJSON *err = ok ? cJSON_AddObjectToObject(o, "error") : NULL;

    ok = err != NULL && cJSON_AddNumberToObject(err, "code", NOX_EDENIED) &&
         cJSON_AddStringToObject(err, "message", clean);
    free(clean);
    int rc = nox__cli_emit_json(ctx, o, ok);
    return rc != 0 ? rc : nox__cli_exit_code(NOX_EDENIED);
}

void
nox__cli_exec_summary(const nox__cli_ctx_t *ctx, const char *call,
                      const char *session, const nox_exec_t *r)
{
    char sig[32] = "";

    if (!ctx->args->verbose)
        return;
    if (r->signal != 0)
        (void)snprintf(sig, sizeof(sig), ", signal %d", r->signal);
    (void)fprintf(stderr,
                  "%s %s: exit %d (%s%s) in %" PRIu64 " ms, cpu %" PRIu64
                  "+%" PRIu64 " ms, max rss %" PRIu64 " KiB, stdout %" PRIu64
                  " B, stderr %" PRIu64 " B\n",
                  call, session, (int)r->exit_code,
                  nox_exec_cause_name((int)r->cause), sig, r->duration_ms,
                  r->cpu_user_ms, r->cpu_system_ms, r->max_rss_kb,
                  r->stdout_total_bytes, r->stderr_total_bytes);
}

/* Print the result and pick the exit status: the command's own, unless
 * --ignore-exit-code. A code no process can exit with maps to 70. */
static int
exec_finish(const nox__cli_ctx_t *ctx, const nox_exec_t *r)
{
    int rc;

    if (ctx->args->json) {
        rc = exec_print_json(ctx, r);
        if (rc != 0)
            return rc;
    } else {
        rc = nox__cli_exec_write_raw(r);
        if (rc != 0)
            return nox__cli_fail(ctx, NOX_EUNKNOWN, "cannot write output: %s",
                                 strerror(rc));
    }
    if (ctx->args->ignore_exit_code)
        return 0;
    if (r->exit_code < 0 || r->exit_code > 255)
        return NOX_CLI_EXIT_SOFTWARE;
    return r->exit_code;
}

int
nox__cli_prep_exec(nox__cli_ctx_t *ctx)
{
    if (ctx->args->stdin_file == NULL)
        return 0;
    return exec_read_stdin(ctx, &ctx->input, &ctx->input_len);
}

/* exec and sh: gather the options (stdin was read by the prepare step),
 * make the call (argv when shell_cmd is NULL), report. */
static int
exec_run(nox__cli_ctx_t *ctx, const char *call, const char *shell_cmd)
{
    const nox__cli_args_t *a = ctx->args;
    nox_exec_opts_t        o;
    nox_exec_t             r = {0};
    int                    rc;

    nox__cli_exec_opts(a, &o);
    o.stdin_data = ctx->input; /* NULL without --stdin-file: /dev/null */
    o.stdin_len = ctx->input_len;
    int64_t   t0 = nox__cli_now_ms();
    nox_err_t e = shell_cmd != NULL
                      ? nox_client_exec_shell(ctx->client, a->session,
                                              shell_cmd, a->bash, &o, &r)
                      : nox_client_exec(ctx->client, a->session, a->rest,
                                        a->rest_len, &o, &r);
    if (e == NOX_EDENIED) {
        /* "exec S: BLOCKED in N ms", the cause callers know it by. */
        nox__cli_trace(ctx, call, a->session, t0, NOX_OK, "%s",
                       nox_exec_cause_name(NOX_EXIT_BLOCKED));
        return ctx->args->json ? exec_print_blocked_json(ctx)
                               : nox__cli_fail_call(ctx, e);
    }
    if (e != NOX_OK) {
        nox__cli_trace(ctx, call, a->session, t0, e, "%s", "");
        return nox__cli_fail_call(ctx, e);
    }
    rc = exec_finish(ctx, &r);
    /* After the output, so it ends what the command printed. */
    nox__cli_exec_summary(ctx, call, a->session, &r);
    nox_exec_free(&r);
    return rc;
}

int
nox__cli_cmd_exec(nox__cli_ctx_t *ctx)
{
    return exec_run(ctx, "exec", NULL);
}

int
nox__cli_cmd_sh(nox__cli_ctx_t *ctx)
{
    return exec_run(ctx, "sh", ctx->args->rest[0]);
}
