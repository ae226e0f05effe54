/*
 * commands.c - the noxrc-rpc subcommand table, its --help text, and
 * opening the client the global options ask for.
 */
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CMD_EXEC_OPTS                                                          \
    (NOX_CLI_OPT_WORKDIR | NOX_CLI_OPT_ENV | NOX_CLI_OPT_TIMEOUT_S |           \
     NOX_CLI_OPT_STDIN | NOX_CLI_OPT_IGNORE)
#define CMD_CREATE_OPTS                                                        \
    (NOX_CLI_OPT_TTL | NOX_CLI_OPT_IMAGE | NOX_CLI_OPT_CPU | NOX_CLI_OPT_MEM | \
     NOX_CLI_OPT_STORAGE | NOX_CLI_OPT_PIDS | NOX_CLI_OPT_NETWORK |            \
     NOX_CLI_OPT_WAIT)

static const nox__cli_command_t cmd_table[] = {
    {"health", 0, 0, 0, false, "", NULL, nox__cli_cmd_health},
    {"create", CMD_CREATE_OPTS, 1, 1, false, "SESSION", NULL,
     nox__cli_cmd_create},
    {"exec", CMD_EXEC_OPTS, 2, SIZE_MAX, true, "CMD", nox__cli_prep_exec,
     nox__cli_cmd_exec},
    {"sh", CMD_EXEC_OPTS | NOX_CLI_OPT_BASH, 2, 2, false, "the shell command",
     nox__cli_prep_exec, nox__cli_cmd_sh},
    {"upload", NOX_CLI_OPT_DIR | NOX_CLI_OPT_DEST, 1, SIZE_MAX, false,
     "FILE...", nox__cli_prep_upload, nox__cli_cmd_upload},
    {"download", NOX_CLI_OPT_SRC | NOX_CLI_OPT_OUTPUT | NOX_CLI_OPT_EXTRACT, 1,
     1, false, "SESSION", nox__cli_prep_download, nox__cli_cmd_download},
    {"touch", 0, 1, 1, false, "SESSION", NULL, nox__cli_cmd_touch},
    {"delete", 0, 1, 1, false, "SESSION", NULL, nox__cli_cmd_delete},
    {"list", 0, 0, 0, false, "", NULL, nox__cli_cmd_list},
    {"shell",
     NOX_CLI_OPT_WORKDIR | NOX_CLI_OPT_ENV | NOX_CLI_OPT_TIMEOUT_S |
         NOX_CLI_OPT_BASH,
     1, 1, false, "SESSION", NULL, nox__cli_cmd_shell},
};

const nox__cli_command_t *
nox__cli_command_find(const char *name)
{
    for (size_t i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++) {
        if (strcmp(cmd_table[i].name, name) == 0)
            return &cmd_table[i];
    }
    return NULL;
}

static const char cmd_usage_text[] =
    "usage: " NOX_CLI_NAME " [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]\n"
    "\n"
    "Run commands in NoxRunner sandboxes, on a noxrunnerd server or\n"
    "in-process (--local-test).\n"
    "\n"
    "Global options (anywhere before '--'):\n"
    "  --local-test      run the sandbox engine in-process (no server)\n"
    "  --url URL         server address: ipc://PATH, tcp://HOST:PORT, or\n"
    "                    http(s)://HOST:PORT for any NoxRunner backend\n"
    "                    (default: $NOXRUNNER_URL, else\n"
    "                    $NOXRUNNER_BASE_URL, else\n"
    "                    " NOX_CLI_DEFAULT_URL ")\n"
    "  --token-file FILE bearer token for the server (one line; default:\n"
    "                    $NOXRUNNER_TOKEN)\n"
    "  --ca-file FILE    PEM CA certificates to verify the server's\n"
    "                    certificate with (default: $NOXRUNNER_CA_FILE,\n"
    "                    else the system's); it is always verified\n"
    "  --base-dir DIR    sandbox directory for --local-test (default:\n"
    "                    $NOXRUNNER_BASE_DIR, else /tmp)\n"
    "  --isolation auto|namespaces|none  how --local-test isolates commands\n"
    "                    (default: $NOXRUNNER_ISOLATION, else auto:\n"
    "                    namespaces where this machine allows them)\n"
    "  --timeout SECONDS time budget per call (exec: on top of its own\n"
    "                    --timeout-seconds)\n"
    "  --format gz|tar|zstd  archives of upload and download: gzip tar\n"
    "                    (default), plain tar or zstd tar\n"
    "  --json            print one JSON object (lowerCamelCase fields)\n"
    "  --verbose         print a one-line summary of each call to stderr\n"
    "                    (exec, sh: how the command ended, its CPU time,\n"
    "                    peak memory and output sizes)\n"
    "  --help, -h        print this help;  --version  print the version\n"
    "\n"
    "Commands:\n"
    "  health   (status, version and the isolation level in force)\n"
    "  create SESSION [--ttl N] [--image I] [--cpu C] [--mem M]\n"
    "         [--storage S] [--pids N] [--allow-network] [--wait]\n"
    "       Limits are Kubernetes quantities (--cpu 500m, --mem 512Mi);\n"
    "       --pids caps processes; --allow-network keeps the host's network\n"
    "       under namespaces (default: loopback only); --wait waits for\n"
    "       the server first. Prints the sandbox's isolation and whether\n"
    "       each limit is applied or ignored, and why.\n"
    "  exec SESSION [--workdir D] [--env K=V]... [--timeout-seconds N]\n"
    "       [--stdin-file F|-] [--ignore-exit-code] [--] CMD...\n"
    "       Options are read until '--' or the first word after SESSION:\n"
    "       that word starts CMD and everything after it belongs to CMD\n"
    "       ('exec S ls -la' runs 'ls -la').\n"
    "  sh SESSION 'shell command' [--bash] [exec options]\n"
    "  upload SESSION FILE... | --dir D  [--dest D]\n"
    "       FILEs go by their basename; --dir sends D's contents with\n"
    "       their relative paths (symlinks as links).\n"
    "  download SESSION [--src D] [--output F.tar.gz | --extract DIR]\n"
    "       (neither: extract into the current directory)\n"
    "  touch SESSION\n"
    "  delete SESSION\n"
    "  list\n"
    "  shell SESSION [--workdir D] [--env K=V]... [--timeout-seconds N]\n"
    "        [--bash]   runs each line of stdin with sh -c; 'cd DIR' is\n"
    "        tracked locally, 'exit [N]' or the end of input leaves\n"
    "\n"
    "Options may stand before or after positional arguments, except after\n"
    "'--'. exec and sh print the command's output raw (--json: as one\n"
    "object, with how it ended: cause EXITED, SIGNALED, TIMED_OUT,\n"
    "OOM_KILLED, OUTPUT_LIMIT, NOT_STARTED, or BLOCKED for a command not\n"
    "allowed) and exit with its exit code; the shell with that of its last\n"
    "command. Other failures exit with 2 (usage), 65 (invalid argument),\n"
    "66 (not found), 69 (server unavailable or too slow), 77 (command not\n"
    "allowed, or a missing or wrong token) or 70 (anything else).\n";

void
nox__cli_usage(void)
{
    (void)fputs(cmd_usage_text, stdout); /* checked at exit via fflush */
}

/* --base-dir, else $NOXRUNNER_BASE_DIR, else /tmp. */
static const char *
cmd_base_dir(const nox__cli_args_t *a)
{
    const char *env = getenv("NOXRUNNER_BASE_DIR");

    if (a->base_dir != NULL)
        return a->base_dir;
    return env != NULL && env[0] != '\0' ? env : "/tmp";
}

/* --url, else $NOXRUNNER_URL, else $NOXRUNNER_BASE_URL (noxrc's, so its
 * users keep their environment), else the default socket. */
static const char *
cmd_url(const nox__cli_args_t *a)
{
    static const char *const vars[] = {"NOXRUNNER_URL", "NOXRUNNER_BASE_URL"};

    if (a->url != NULL)
        return a->url;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *env = getenv(vars[i]);
        if (env != NULL && env[0] != '\0')
            return env;
    }
    return NOX_CLI_DEFAULT_URL;
}

static int
cmd_open_server(nox__cli_ctx_t *ctx, nox_client_opts_t *copts, const char *why)
{
    const nox__cli_args_t *a = ctx->args;
    const char            *url = cmd_url(a);
    char                   err[512];
    char                  *token = NULL;
    nox_err_t              e;

    if (a->token_file != NULL) {
        token = nox__cli_token_read(a->token_file, err, sizeof(err));
        if (token == NULL)
            return nox__cli_fail(ctx, NOX_EINVAL, "%s", err);
    }
    copts->token = token;
    copts->ca_file = a->ca_file;
    e = nox_client_open(&ctx->client, url, copts);
    nox__token_free(token); /* the client keeps its own copy */
    if (e != NOX_OK)
        return nox__cli_fail(ctx, e, "cannot open %s: %s", url, why);
    return 0;
}

int
nox__cli_open(nox__cli_ctx_t *ctx)
{
    const nox__cli_args_t *a = ctx->args;
    char                   why[512] = "";
    nox_client_opts_t      copts = {0};
    nox_err_t              e;

    copts.timeout_ms = a->timeout_ms;
    copts.archive_format = a->format;
    copts.errbuf = why; /* the reason when an open fails */
    copts.errbuf_len = sizeof(why);
    if (a->local_test) {
        /* quiet < 0 and isolation NULL: the engine follows
         * $NOXRUNNER_QUIET and $NOXRUNNER_ISOLATION itself. */
        nox_local_opts_t lopts = {.base_dir = cmd_base_dir(a),
                                  .quiet = -1,
                                  .isolation = a->isolation};
        e = nox_client_open_local(&ctx->client, &lopts, &copts);
        if (e != NOX_OK)
            return nox__cli_fail(ctx, e, "cannot start the local engine: %s",
                                 why);
        return 0;
    }
    return cmd_open_server(ctx, &copts, why);
}
