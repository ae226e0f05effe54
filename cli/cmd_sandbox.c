/*
 * cmd_sandbox.c - the sandbox lifecycle subcommands: health, create,
 * touch, delete, list. Each makes one call (create --wait two), prints a
 * short human line or one JSON object, and maps failures to exit codes.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* create --wait with no --timeout: how long to wait for the server. */
#define SANDBOX_WAIT_MS 30000

/* Add a string that came from the server as a sanitized JSON string. */
static bool
sandbox_json_str(cJSON *o, const char *key, const char *s)
{
    const char *v = NOX_CLI_STR(s);
    char       *clean = nox__utf8_sanitize((const uint8_t *)v, strlen(v));
    bool ok = clean != NULL && cJSON_AddStringToObject(o, key, clean) != NULL;

    free(clean);
    return ok;
}

/* "isolation: none (reason)"; the reason only when the level is not the
 * highest and there is one. */
static void
sandbox_print_isolation(const char *level, const char *detail)
{
    const char *l = level != NULL && level[0] != '\0' ? level : "unknown";

    if (strcmp(l, "namespaces") == 0 || detail == NULL || detail[0] == '\0')
        (void)printf("isolation: %s\n", l);
    else
        (void)printf("isolation: %s (%s)\n", l, detail);
}

int
nox__cli_cmd_health(nox__cli_ctx_t *ctx)
{
    nox_health_t h = {0};
    int64_t      t0 = nox__cli_now_ms();
    nox_err_t    e = nox_client_health(ctx->client, &h);

    nox__cli_trace(ctx, "health", NULL, t0, e, "%s", NOX_CLI_STR(h.status));
    if (e != NOX_OK)
        return nox__cli_fail_call(ctx, e);
    int rc = 0;
    if (ctx->args->json) {
        cJSON *o = cJSON_CreateObject();
        bool   ok =
            cJSON_AddStringToObject(o, "status", NOX_CLI_STR(h.status)) &&
            cJSON_AddStringToObject(o, "version", NOX_CLI_STR(h.version)) &&
            cJSON_AddNumberToObject(o, "maxMessageBytes",
                                    (double)h.max_message_bytes) &&
            sandbox_json_str(o, "isolation", h.isolation) &&
            sandbox_json_str(o, "isolationDetail", h.isolation_detail);
        rc = nox__cli_emit_json(ctx, o, ok);
    } else {
        (void)printf("%s (version %s, max message %" PRIu64 " bytes)\n",
                     NOX_CLI_STR(h.status), NOX_CLI_STR(h.version),
                     h.max_message_bytes);
        sandbox_print_isolation(h.isolation, h.isolation_detail);
    }
    nox_health_free(&h);
    return rc;
}

/* --wait: wait until the server answers, within --timeout (else 30 s). */
static nox_err_t
sandbox_wait(nox__cli_ctx_t *ctx)
{
    int64_t budget =
        ctx->args->timeout_ms ? ctx->args->timeout_ms : SANDBOX_WAIT_MS;
    int64_t   t0 = nox__cli_now_ms();
    nox_err_t e = nox_client_wait_ready(ctx->client, budget);

    nox__cli_trace(ctx, "wait_ready", NULL, t0, e, "ready");
    return e;
}

/* "limits": [{"name", "value", "applied", "detail"}...] */
static bool
sandbox_limits_json(cJSON *o, const nox_sandbox_t *sb)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "limits");

    if (arr == NULL)
        return false;
    for (size_t i = 0; i < sb->n_limits; i++) {
        const nox_client_limit_status_t *l = &sb->limits[i];
        cJSON                           *item = cJSON_CreateObject();
        if (item == NULL || !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item); /* not attached; NULL is a no-op */
            return false;
        }
        /* arr owns item from here on. */
        if (!sandbox_json_str(item, "name", l->name) ||
            !sandbox_json_str(item, "value", l->value) ||
            cJSON_AddBoolToObject(item, "applied", l->applied) == NULL ||
            !sandbox_json_str(item, "detail", l->detail))
            return false;
    }
    return true;
}

/* One line per limit: "memory_limit 512Mi: applied (cgroup v1 ...)". */
static void
sandbox_print_limits(const nox_sandbox_t *sb)
{
    for (size_t i = 0; i < sb->n_limits; i++) {
        const nox_client_limit_status_t *l = &sb->limits[i];
        const char                      *d = NOX_CLI_STR(l->detail);

        (void)printf("%s %s: %s%s%s%s\n", NOX_CLI_STR(l->name),
                     NOX_CLI_STR(l->value), l->applied ? "applied" : "ignored",
                     d[0] ? " (" : "", d, d[0] ? ")" : "");
    }
}

static int
sandbox_print_created(const nox__cli_ctx_t *ctx, const nox_sandbox_t *sb)
{
    const char *id = ctx->args->session;

    if (ctx->args->json) {
        cJSON *o = cJSON_CreateObject();
        bool   ok =
            cJSON_AddStringToObject(o, "podName", NOX_CLI_STR(sb->pod_name)) &&
            cJSON_AddStringToObject(o, "expiresAt",
                                    NOX_CLI_STR(sb->expires_at)) &&
            cJSON_AddBoolToObject(o, "created", sb->created) &&
            sandbox_json_str(o, "isolation", sb->isolation) &&
            sandbox_limits_json(o, sb);
        return nox__cli_emit_json(ctx, o, ok);
    }
    if (sb->created)
        (void)printf("created sandbox %s (pod %s), expires %s\n", id,
                     NOX_CLI_STR(sb->pod_name), NOX_CLI_STR(sb->expires_at));
    else
        (void)printf("sandbox %s already exists (pod %s), files kept, "
                     "expires %s\n",
                     id, NOX_CLI_STR(sb->pod_name),
                     NOX_CLI_STR(sb->expires_at));
    /* The sandbox's own level: it keeps the one it was created with. */
    sandbox_print_isolation(sb->isolation, NULL);
    sandbox_print_limits(sb);
    return 0;
}

int
nox__cli_cmd_create(nox__cli_ctx_t *ctx)
{
    const nox__cli_args_t *a = ctx->args;
    nox_create_opts_t      o = {.ttl_seconds = a->ttl_seconds,
                                .image = a->image,
                                .cpu_limit = a->cpu,
                                .memory_limit = a->mem,
                                .storage_limit = a->storage,
                                .pids_limit = a->pids,
                                .allow_network = a->allow_network};
    nox_sandbox_t          sb = {0};
    nox_err_t              e = a->wait ? sandbox_wait(ctx) : NOX_OK;

    if (e != NOX_OK)
        return nox__cli_fail_call(ctx, e);
    int64_t t0 = nox__cli_now_ms();
    e = nox_client_create(ctx->client, a->session, &o, &sb);
    nox__cli_trace(ctx, "create", a->session, t0, e, "%s",
                   e ? "" : (sb.created ? "created" : "existed"));
    if (e != NOX_OK)
        return nox__cli_fail_call(ctx, e);
    int rc = sandbox_print_created(ctx, &sb);
    nox_sandbox_free(&sb);
    return rc;
}

int
nox__cli_cmd_touch(nox__cli_ctx_t *ctx)
{
    const char *id = ctx->args->session;
    char       *expires = NULL;
    int64_t     t0 = nox__cli_now_ms();
    nox_err_t   e = nox_client_touch(ctx->client, id, &expires);

    nox__cli_trace(ctx, "touch", id, t0, e, "expires %s", NOX_CLI_STR(expires));
    if (e != NOX_OK)
        return nox__cli_fail_call(ctx, e);
    int rc = 0;
    if (ctx->args->json) {
        cJSON *o = cJSON_CreateObject();
        rc = nox__cli_emit_json(
            ctx, o,
            cJSON_AddStringToObject(o, "expiresAt", NOX_CLI_STR(expires)) !=
                NULL);
    } else {
        (void)printf("sandbox %s now expires %s\n", id, NOX_CLI_STR(expires));
    }
    free(expires);
    return rc;
}

int
nox__cli_cmd_delete(nox__cli_ctx_t *ctx)
{
    const char *id = ctx->args->session;
    bool        deleted = false;
    int64_t     t0 = nox__cli_now_ms();
    nox_err_t   e = nox_client_delete(ctx->client, id, &deleted);

    nox__cli_trace(ctx, "delete", id, t0, e, "%s",
                   deleted ? "deleted" : "nothing to delete");
    if (e != NOX_OK)
        return nox__cli_fail_call(ctx, e);
    if (ctx->args->json) {
        cJSON *o = cJSON_CreateObject();
        return nox__cli_emit_json(
            ctx, o, cJSON_AddBoolToObject(o, "deleted", deleted) != NULL);
    }
    if (deleted)
        (void)printf("deleted sandbox %s\n", id);
    else
        (void)printf("no sandbox %s: nothing deleted\n", id);
    return 0;
}

/* {"sandboxes": [{"sessionId", "podName", "expiresAt", "path"}...]} */
static int
sandbox_list_json(const nox__cli_ctx_t *ctx, const nox_sandbox_list_t *l)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "sandboxes");
    bool   ok = arr != NULL;

    for (size_t i = 0; ok && i < l->len; i++) {
        const nox_sandbox_info_entry_t *s = &l->items[i];
        cJSON                          *item = cJSON_CreateObject();
        if (item == NULL || !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item); /* not attached; NULL is a no-op */
            ok = false;
            break;
        }
        /* arr owns item from here on. */
        ok = cJSON_AddStringToObject(item, "sessionId",
                                     NOX_CLI_STR(s->session_id)) &&
             cJSON_AddStringToObject(item, "podName",
                                     NOX_CLI_STR(s->pod_name)) &&
             cJSON_AddStringToObject(item, "expiresAt",
                                     NOX_CLI_STR(s->expires_at)) &&
             cJSON_AddStringToObject(item, "path", NOX_CLI_STR(s->path));
    }
    return nox__cli_emit_json(ctx, o, ok);
}

int
nox__cli_cmd_list(nox__cli_ctx_t *ctx)
{
    nox_sandbox_list_t l = {0};
    int64_t            t0 = nox__cli_now_ms();
    nox_err_t          e = nox_client_list(ctx->client, &l);

    nox__cli_trace(ctx, "list", NULL, t0, e, "%zu sandboxes", l.len);
    if (e != NOX_OK)
        return nox__cli_fail_call(ctx, e);
    int rc = 0;
    if (ctx->args->json) {
        rc = sandbox_list_json(ctx, &l);
    } else if (l.len == 0) {
        (void)printf("no sandboxes\n");
    } else {
        (void)printf("%-24s %-20s %-28s %s\n", "SESSION", "EXPIRES", "POD",
                     "PATH");
        for (size_t i = 0; i < l.len; i++)
            (void)printf(
                "%-24s %-20s %-28s %s\n", NOX_CLI_STR(l.items[i].session_id),
                NOX_CLI_STR(l.items[i].expires_at),
                NOX_CLI_STR(l.items[i].pod_name), NOX_CLI_STR(l.items[i].path));
    }
    nox_sandbox_list_free(&l);
    return rc;
}
