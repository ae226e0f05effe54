/*
 * output.c - how noxrc-rpc reports: exit statuses for library errors,
 * "noxrc-rpc: <message>" on stderr or {"error": {...}} on stdout, one-line
 * JSON results, and the --verbose call summaries.
 *
 * All JSON goes through cJSON; nothing here escapes strings by hand.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
nox__cli_exit_code(nox_err_t e)
{
    switch (e) {
    case NOX_OK:
        return NOX_CLI_EXIT_OK;
    case NOX_EINVAL:
        return NOX_CLI_EXIT_DATAERR;
    case NOX_ENOENT:
        return NOX_CLI_EXIT_NOINPUT;
    case NOX_EUNAVAIL:
    case NOX_ETIMEDOUT:
        return NOX_CLI_EXIT_UNAVAIL;
    case NOX_EDENIED:
    case NOX_EAUTH: /* a missing or wrong token: permission, as sysexits */
        return NOX_CLI_EXIT_NOPERM;
    default:
        return NOX_CLI_EXIT_SOFTWARE;
    }
}

nox_err_t
nox__cli_errno_err(int errnum)
{
    switch (errnum) {
    case ENOENT:
    case ENOTDIR:
        return NOX_ENOENT;
    case EACCES:
    case EPERM:
        return NOX_EDENIED;
    case EINVAL:
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
        return NOX_EINVAL;
    case ENOMEM:
    case EFBIG:
    case ENOSPC:
        return NOX_ERESOURCE;
    default:
        return NOX_EUNKNOWN;
    }
}

int
nox__cli_write(FILE *f, const void *p, size_t n)
{
    if (n > 0 && fwrite(p, 1, n, f) != n)
        return errno != 0 ? errno : EIO;
    return 0;
}

/* {"error": {"code": code, "message": msg}} on stdout. Falls back to the
 * stderr form if even that cannot be built. */
static void
out_json_error(int code, const char *msg)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    bool   ok = err != NULL &&
              cJSON_AddNumberToObject(err, "code", code) != NULL &&
              cJSON_AddStringToObject(err, "message", msg) != NULL;
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;

    if (text != NULL)
        (void)printf("%s\n", text); /* checked at exit via fflush */
    else
        (void)fprintf(stderr, NOX_CLI_NAME ": %s\n", msg);
    cJSON_free(text);
    cJSON_Delete(root);
}

/* The error report, either form. msg is sanitized for JSON because it
 * can carry names from the command line or the server. */
static void
out_report(bool json, int code, const char *msg)
{
    if (!json) {
        (void)fprintf(stderr, NOX_CLI_NAME ": %s\n", msg);
        return;
    }
    char *clean = nox__utf8_sanitize((const uint8_t *)msg, strlen(msg));
    out_json_error(code, clean != NULL ? clean : "out of memory");
    free(clean);
}

int
nox__cli_fail(const nox__cli_ctx_t *ctx, nox_err_t e, const char *fmt, ...)
{
    char    msg[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* truncation is harmless */
    va_end(ap);
    out_report(ctx->args->json, (int)e, msg);
    return nox__cli_exit_code(e);
}

int
nox__cli_fail_call(const nox__cli_ctx_t *ctx, nox_err_t e)
{
    const char *msg = ctx->client ? nox_client_errmsg(ctx->client) : NULL;

    if (msg == NULL || msg[0] == '\0')
        msg = nox_strerror(e);
    return nox__cli_fail(ctx, e, "%s", msg);
}

int
nox__cli_fail_usage(bool json, const char *msg)
{
    /* A usage error has no gRPC code of its own; INVALID_ARGUMENT is the
     * nearest, while the exit status stays 2. */
    out_report(json, NOX_EINVAL, msg);
    if (!json)
        (void)fputs("Try '" NOX_CLI_NAME " --help' for more information.\n",
                    stderr);
    return NOX_CLI_EXIT_USAGE;
}

int64_t
nox__cli_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0; /* cannot fail on Linux; a 0 only skews --verbose */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
nox__cli_trace(const nox__cli_ctx_t *ctx, const char *call, const char *session,
               int64_t t0, nox_err_t e, const char *fmt, ...)
{
    char    result[256];
    va_list ap;

    if (!ctx->args->verbose)
        return;
    if (e == NOX_OK) {
        va_start(ap, fmt);
        (void)vsnprintf(result, sizeof(result), fmt, ap); /* may truncate */
        va_end(ap);
    } else {
        (void)snprintf(result, sizeof(result), "%s", nox_err_name(e));
    }
    (void)fprintf(stderr, "%s%s%s: %s in %lld ms\n", call, session ? " " : "",
                  session ? session : "", result,
                  (long long)(nox__cli_now_ms() - t0));
}

int
nox__cli_emit_json(const nox__cli_ctx_t *ctx, cJSON *obj, bool ok)
{
    char *text = ok && obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;

    cJSON_Delete(obj);
    if (text == NULL)
        return nox__cli_fail(ctx, NOX_ERESOURCE, "out of memory");
    (void)printf("%s\n", text); /* checked at exit via fflush */
    cJSON_free(text);
    return 0;
}
