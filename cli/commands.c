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

/* Each command's help stands in its row, so the table is the one list of
 * commands: the global help's command list is built from it too. */
static const nox__cli_command_t cmd_table[] = {
    {"health", 0, 0, 0, false, "", NULL, nox__cli_cmd_health, "",
     "Print the server's status, version and the isolation level in force\n"
     "(and why it is not higher).\n"
     "\n"
     "Options: none.\n"
     "\n"
     "Example:\n"
     "  " NOX_CLI_NAME " --local-test health\n"},
    {"create", CMD_CREATE_OPTS, 1, 1, false, "SESSION", NULL,
     nox__cli_cmd_create,
     "SESSION [--ttl N] [--image I] [--cpu C] [--mem M]\n"
     "         [--storage S] [--pids N] [--allow-network] [--wait]",
     "Create the sandbox SESSION. Prints its isolation and whether each\n"
     "limit is applied or ignored, and why.\n"
     "\n"
     "Options:\n"
     "  --ttl N           seconds of idleness before it is deleted\n"
     "  --image I         the image to use (recorded; local mode runs this\n"
     "                    machine's userland)\n"
     "  --cpu C, --mem M, --storage S  limits as Kubernetes quantities\n"
     "                    (--cpu 500m, --mem 512Mi, --storage 2Gi)\n"
     "  --pids N          at most N processes\n"
     "  --allow-network   keep the host's network under namespaces\n"
     "                    (default: loopback only)\n"
     "  --wait            wait for the server first\n"
     "\n"
     "Example:\n"
     "  " NOX_CLI_NAME " --local-test create s --ttl 600 --mem 512Mi\n"},
    {"exec", CMD_EXEC_OPTS, 2, SIZE_MAX, true, "CMD", nox__cli_prep_exec,
     nox__cli_cmd_exec,
     "SESSION [--workdir D] [--env K=V]... [--timeout-seconds N]\n"
     "       [--stdin-file F|-] [--ignore-exit-code] [--] CMD...",
     "Run CMD (an argv, no shell) in SESSION; print its output raw and\n"
     "exit with its exit code. Options are read until '--' or the first\n"
     "word after SESSION: that word starts CMD and everything after it\n"
     "belongs to CMD ('exec S ls -la' runs 'ls -la').\n"
     "\n"
     "Options:\n"
     "  --workdir D         directory to run in, relative to /workspace\n"
     "  --env K=V           set a variable (repeatable)\n"
     "  --timeout-seconds N kill the command after N seconds\n"
     "  --stdin-file F|-    feed F (or this stdin) to the command\n"
     "  --ignore-exit-code  exit 0 whatever the command's exit code\n"
     "\n"
     "Example:\n"
     "  " NOX_CLI_NAME " --local-test exec s --env DEBUG=1 -- make test\n"},
    {"sh", CMD_EXEC_OPTS | NOX_CLI_OPT_BASH, 2, 2, false, "the shell command",
     nox__cli_prep_exec, nox__cli_cmd_sh,
     "SESSION 'shell command' [--bash] [exec options]",
     "Run one shell command string in SESSION with sh -c (bash -c with\n"
     "--bash); print its output raw and exit with its exit code.\n"
     "\n"
     "Options: --bash, and those of exec (--workdir, --env,\n"
     "--timeout-seconds, --stdin-file, --ignore-exit-code).\n"
     "\n"
     "Example:\n"
     "  " NOX_CLI_NAME " --local-test sh s 'ls -l | wc -l'\n"},
    {"upload", NOX_CLI_OPT_DIR | NOX_CLI_OPT_DEST, 1, SIZE_MAX, false,
     "FILE...", nox__cli_prep_upload, nox__cli_cmd_upload,
     "SESSION FILE... | --dir D  [--dest D]",
     "Copy local files into SESSION. FILEs go by their basename; --dir\n"
     "sends D's contents with their relative paths (symlinks as links).\n"
     "Only regular files, directories and symlinks are sent.\n"
     "\n"
     "Options:\n"
     "  --dir D    send the contents of the local directory D\n"
     "  --dest D   where to put them (default: /workspace)\n"
     "\n"
     "Example:\n"
     "  " NOX_CLI_NAME " --local-test upload s main.py data.csv --dest app\n"},
    {"download", NOX_CLI_OPT_SRC | NOX_CLI_OPT_OUTPUT | NOX_CLI_OPT_EXTRACT, 1,
     1, false, "SESSION", nox__cli_prep_download, nox__cli_cmd_download,
     "SESSION [--src D] [--output F.tar.gz | --extract DIR]",
     "Copy a directory of SESSION out, as an archive or extracted\n"
     "(neither option: extracted into the current directory).\n"
     "\n"
     "Options:\n"
     "  --src D         the directory to copy (default: /workspace)\n"
     "  --output F      write the archive to F\n"
     "  --extract DIR   extract into DIR\n"
     "\n"
     "Example:\n"
     "  " NOX_CLI_NAME " --local-test download s --src app --extract out\n"},
    {"touch", 0, 1, 1, false, "SESSION", NULL, nox__cli_cmd_touch, "SESSION",
     "Extend SESSION's time to live.\n"
     "\n"
     "Options: none.\n"
     "\n"
     "Example:\n"
     "  " NOX_CLI_NAME " --local-test touch s\n"},
    {"delete", 0, 1, 1, false, "SESSION", NULL, nox__cli_cmd_delete, "SESSION",
     "Delete SESSION and its files (an unknown SESSION is not an error).\n"
     "\n"
     "Options: none.\n"
     "\n"
     "Example:\n"
     "  " NOX_CLI_NAME " --local-test delete s\n"},
    {"list", 0, 0, 0, false, "", NULL, nox__cli_cmd_list, "",
     "List the sandboxes.\n"
     "\n"
     "Options: none.\n"
     "\n"
     "Example:\n"
     "  " NOX_CLI_NAME " --url ipc:///tmp/noxrunner.ipc list\n"},
    {"shell",
     NOX_CLI_OPT_WORKDIR | NOX_CLI_OPT_ENV | NOX_CLI_OPT_TIMEOUT_S |
         NOX_CLI_OPT_BASH,
     1, 1, false, "SESSION", NULL, nox__cli_cmd_shell,
     "SESSION [--workdir D] [--env K=V]... [--timeout-seconds N]\n"
     "        [--bash]",
     "Run each line of stdin in SESSION with sh -c (bash -c with --bash).\n"
     "'cd DIR' is tracked locally; 'exit [N]' or the end of input leaves,\n"
     "with the last command's status. No --json output.\n"
     "\n"
     "Options: --workdir, --env, --timeout-seconds as for exec; --bash.\n"
     "\n"
     "Example:\n"
     "  " NOX_CLI_NAME " --local-test shell s\n"},
};

#define CMD_COUNT (sizeof(cmd_table) / sizeof(cmd_table[0]))

const nox__cli_command_t *
nox__cli_command_find(const char *name)
{
    for (size_t i = 0; i < CMD_COUNT; i++) {
        if (strcmp(cmd_table[i].name, name) == 0)
            return &cmd_table[i];
    }
    return NULL;
}

static const char cmd_usage_head[] =
    "usage: " NOX_CLI_NAME " [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]\n"
    "       " NOX_CLI_NAME " help COMMAND   (or: COMMAND --help)\n"
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
    "Commands ('" NOX_CLI_NAME " help COMMAND' for its options and an "
    "example):\n";

static const char cmd_usage_tail[] =
    "\n"
    "Options may stand before or after positional arguments, except after\n"
    "'--'. exec and sh print the command's output raw (--json: as one\n"
    "object, with how it ended: cause EXITED, SIGNALED, TIMED_OUT,\n"
    "OOM_KILLED, OUTPUT_LIMIT, NOT_STARTED, or BLOCKED for a command not\n"
    "allowed) and exit with its exit code; the shell with that of its last\n"
    "command. Other failures exit with 2 (usage), 65 (invalid argument),\n"
    "66 (not found), 69 (server unavailable or too slow), 77 (command not\n"
    "allowed, or a missing or wrong token) or 70 (anything else).\n";

/* Output is checked at exit via fflush, so the puts results are not. */
void
nox__cli_usage(void)
{
    (void)fputs(cmd_usage_head, stdout);
    for (size_t i = 0; i < CMD_COUNT; i++)
        (void)printf("  %s%s%s\n", cmd_table[i].name,
                     cmd_table[i].usage[0] != '\0' ? " " : "",
                     cmd_table[i].usage);
    (void)fputs(cmd_usage_tail, stdout);
}

void
nox__cli_command_help(const nox__cli_command_t *cmd)
{
    (void)printf("usage: " NOX_CLI_NAME " [GLOBAL OPTIONS] %s%s%s\n\n%s\n"
                 "Global options: " NOX_CLI_NAME " --help\n",
                 cmd->name, cmd->usage[0] != '\0' ? " " : "", cmd->usage,
                 cmd->help);
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
