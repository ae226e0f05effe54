/*
 * cli.h - internals of noxrc-rpc, the NoxRunner command-line tool.
 *
 * Not installed. Names that cross files are nox__cli_*; everything else
 * is static in its file. The pieces:
 *   args.c      argv -> nox__cli_args_t (own parser: options may stand
 *               before or after positionals)
 *   commands.c  the subcommand table, usage text, client opening
 *   output.c    errors, exit codes, --json emission, --verbose traces
 *   utf8.c      invalid UTF-8 -> U+FFFD for JSON strings
 *   cmd_*.c     one subcommand family per file; shell.c the shell loop
 *
 * Thread safety: the tool is single-threaded; nothing here is shared.
 */
#ifndef NOX_CLI_H
#define NOX_CLI_H

#include "nox/client.h"
#include "nox_common.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NOX_CLI_NAME "noxrc-rpc"
#define NOX_CLI_VERSION "0.1.0"
#define NOX_CLI_DEFAULT_URL "ipc:///tmp/noxrunner.ipc"

#define NOX_CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* A string from a result struct, never NULL (for printf and cJSON). */
#define NOX_CLI_STR(s) ((s) != NULL ? (s) : "")

/* Exit statuses (sysexits.h numbers, as the issue fixes them). */
enum {
    NOX_CLI_EXIT_OK = 0,
    NOX_CLI_EXIT_USAGE = 2,
    NOX_CLI_EXIT_DATAERR = 65,  /* NOX_EINVAL */
    NOX_CLI_EXIT_NOINPUT = 66,  /* NOX_ENOENT */
    NOX_CLI_EXIT_UNAVAIL = 69,  /* NOX_EUNAVAIL, NOX_ETIMEDOUT */
    NOX_CLI_EXIT_SOFTWARE = 70, /* anything else */
    NOX_CLI_EXIT_NOPERM = 77,   /* NOX_EDENIED */
};

/* Subcommand options, one bit each; the command table says which apply. */
enum {
    NOX_CLI_OPT_TTL = 1u << 0,
    NOX_CLI_OPT_IMAGE = 1u << 1,
    NOX_CLI_OPT_CPU = 1u << 2,
    NOX_CLI_OPT_MEM = 1u << 3,
    NOX_CLI_OPT_STORAGE = 1u << 4,
    NOX_CLI_OPT_WAIT = 1u << 5,
    NOX_CLI_OPT_WORKDIR = 1u << 6,
    NOX_CLI_OPT_ENV = 1u << 7,
    NOX_CLI_OPT_TIMEOUT_S = 1u << 8,
    NOX_CLI_OPT_STDIN = 1u << 9,
    NOX_CLI_OPT_IGNORE = 1u << 10,
    NOX_CLI_OPT_BASH = 1u << 11,
    NOX_CLI_OPT_DIR = 1u << 12,
    NOX_CLI_OPT_DEST = 1u << 13,
    NOX_CLI_OPT_SRC = 1u << 14,
    NOX_CLI_OPT_OUTPUT = 1u << 15,
    NOX_CLI_OPT_EXTRACT = 1u << 16,
    NOX_CLI_OPT_PIDS = 1u << 17,
    NOX_CLI_OPT_NETWORK = 1u << 18,
};

typedef struct nox__cli_ctx     nox__cli_ctx_t;
typedef struct nox__cli_command nox__cli_command_t;

/* The parsed command line. Strings are borrowed from argv; the two arrays
 * are owned (release: nox__cli_args_free). */
typedef struct {
    /* global */
    bool local_test;
    bool json;
    bool verbose;
    bool help;            /* --help, -h or the help command: print the help
                             of cmd, or the global help when cmd is NULL */
    bool        help_cmd; /* the help command: the next word names cmd */
    bool        version;
    const char *url; /* NULL: $NOXRUNNER_URL, else $NOXRUNNER_BASE_URL,
                        else the default */
    const char          *token_file; /* NULL: the library's $NOXRUNNER_TOKEN */
    const char          *ca_file;  /* NULL: the library's $NOXRUNNER_CA_FILE */
    const char          *base_dir; /* NULL: $NOXRUNNER_BASE_DIR, else /tmp */
    int64_t              timeout_ms; /* 0: the library's default */
    nox_archive_format_t format;     /* --format: upload/download archives */
    const char *isolation; /* --isolation (local only); NULL: the engine's
                              $NOXRUNNER_ISOLATION, else auto */
    /* the subcommand and its positionals */
    const nox__cli_command_t *cmd;     /* NULL: none given */
    const char               *session; /* first positional, if any */
    const char              **rest;    /* positionals after the session */
    size_t                    rest_len;
    unsigned                  opts_seen; /* NOX_CLI_OPT_* bits */
    /* create */
    uint32_t    ttl_seconds;
    const char *image, *cpu, *mem, *storage;
    uint32_t    pids; /* 0: no limit */
    bool        allow_network;
    bool        wait;
    /* exec, sh, shell */
    const char  *workdir;
    const char **env; /* "K=V" */
    size_t       env_len;
    uint32_t     timeout_seconds;
    const char  *stdin_file; /* "-": our stdin */
    bool         ignore_exit_code;
    bool         bash;
    /* upload, download */
    const char *dir, *dest, *src, *output, *extract;
} nox__cli_args_t;

/* What a subcommand gets: the arguments, what its prepare step read,
 * and an open client. */
struct nox__cli_ctx {
    const nox__cli_args_t *args;
    nox_client_t          *client;
    uint8_t *input;     /* owned (freed by main): stdin data of exec and sh,
                           the archive of upload; NULL when none */
    size_t input_len;   /* bytes at input */
    size_t input_links; /* upload: symlinks in the archive */
};

/* A subcommand returns the process exit status. */
typedef int (*nox__cli_run_fn)(nox__cli_ctx_t *ctx);

/* prepare (may be NULL) checks and reads the command's local inputs
 * before the client is opened, so that a missing file or a bad path fails
 * without having connected: a client that connects and hangs up at once
 * can break an ipc listener of an nng 1.5.2 server (server/listener.c).
 * It returns 0, or the exit status of the failure it reported. */
struct nox__cli_command {
    const char     *name;
    unsigned        opts;     /* NOX_CLI_OPT_* that apply */
    size_t          min_pos;  /* positionals, the session included */
    size_t          max_pos;  /* SIZE_MAX: no limit */
    bool            cmd_tail; /* exec: the 2nd positional starts CMD */
    const char     *tail;     /* what follows SESSION, for messages */
    nox__cli_run_fn prepare;  /* NULL: nothing to read first */
    nox__cli_run_fn run;
    const char     *usage; /* the arguments after the name, for help */
    const char     *help;  /* what it does, its options, an example */
};

/* ---- args.c ---- */

/* Parse argv into *out (zeroed first). Returns 0, or NOX_CLI_EXIT_USAGE
 * with a message in err (errlen bytes). *out must be released with
 * nox__cli_args_free either way. */
int  nox__cli_args_parse(int argc, char **argv, nox__cli_args_t *out, char *err,
                         size_t errlen);
void nox__cli_args_free(nox__cli_args_t *a); /* NULL is a no-op */

/* 1 when "--json" stands in argv before any "--" (so a usage error can
 * still be reported as JSON). */
bool nox__cli_argv_wants_json(int argc, char **argv);

/* ---- commands.c ---- */

/* The subcommand called name, or NULL. */
const nox__cli_command_t *nox__cli_command_find(const char *name);

/* Print the help of cmd (its usage, options and an example) to stdout. */
void nox__cli_command_help(const nox__cli_command_t *cmd);

/* The --help text, written to stdout. */
void nox__cli_usage(void);

/* Open the client the global options ask for. On failure the error has
 * been reported and the exit status is returned; 0 on success. */
int nox__cli_open(nox__cli_ctx_t *ctx);

/* The token in path (one line of printable ASCII without spaces; a file
 * other users may read is warned about on stderr), malloc'd (release:
 * nox__token_free). NULL with the reason in err when it cannot be had. */
char *nox__cli_token_read(const char *path, char *err, size_t errlen);

/* ---- output.c ---- */

/* The exit status for a library error. */
int nox__cli_exit_code(nox_err_t e);

/* Report a failure (stderr "noxrc-rpc: <msg>", or the JSON error object
 * on stdout) and return its exit status. */
int nox__cli_fail(const nox__cli_ctx_t *ctx, nox_err_t e, const char *fmt, ...)
    NOX_CLI_PRINTF(3, 4);

/* Report a failed client call: the message is nox_client_errmsg(), or
 * nox_strerror(e) when that is empty. Returns the exit status. */
int nox__cli_fail_call(const nox__cli_ctx_t *ctx, nox_err_t e);

/* Report a usage error (stderr, or JSON when json) and return 2. */
int nox__cli_fail_usage(bool json, const char *msg);

/* With --verbose, print "<call>[ <session>]: <result> in N ms" to stderr,
 * where result is the formatted text on success and the error name
 * otherwise; t0 is nox__cli_now_ms() before the call. */
void nox__cli_trace(const nox__cli_ctx_t *ctx, const char *call,
                    const char *session, int64_t t0, nox_err_t e,
                    const char *fmt, ...) NOX_CLI_PRINTF(6, 7);

/* Monotonic milliseconds. */
int64_t nox__cli_now_ms(void);

/* Print obj (consumed: deleted here) as one line of JSON on stdout.
 * ok false means building obj failed (out of memory). Returns 0 or the
 * exit status of the failure it reported. */
int nox__cli_emit_json(const nox__cli_ctx_t *ctx, cJSON *obj, bool ok);

/* The library error that best describes a local errno value (ENOENT ->
 * NOX_ENOENT, EACCES -> NOX_EDENIED, ...), for its exit status. */
nox_err_t nox__cli_errno_err(int errnum);

/* Write n bytes to a stdio stream; 0, or an errno value. */
int nox__cli_write(FILE *f, const void *p, size_t n);

/* ---- subcommands ---- */
int nox__cli_cmd_health(nox__cli_ctx_t *ctx);
int nox__cli_cmd_create(nox__cli_ctx_t *ctx);
int nox__cli_cmd_touch(nox__cli_ctx_t *ctx);
int nox__cli_cmd_delete(nox__cli_ctx_t *ctx);
int nox__cli_cmd_list(nox__cli_ctx_t *ctx);
int nox__cli_cmd_exec(nox__cli_ctx_t *ctx);
int nox__cli_cmd_sh(nox__cli_ctx_t *ctx);
int nox__cli_cmd_upload(nox__cli_ctx_t *ctx);
int nox__cli_cmd_download(nox__cli_ctx_t *ctx);
int nox__cli_cmd_shell(nox__cli_ctx_t *ctx);

/* prepare steps (see nox__cli_command) */
int nox__cli_prep_exec(nox__cli_ctx_t *ctx);     /* exec, sh: --stdin-file */
int nox__cli_prep_upload(nox__cli_ctx_t *ctx);   /* builds the archive */
int nox__cli_prep_download(nox__cli_ctx_t *ctx); /* --output, --extract */

/* ---- cmd_exec.c, shared with the shell ---- */

/* Fill o from the exec options in a (workdir, env, timeout); stdin is
 * left empty. */
void nox__cli_exec_opts(const nox__cli_args_t *a, nox_exec_opts_t *o);

/* Write r's stdout and stderr raw to our stdout and stderr, plus a note
 * on stderr when a stream was truncated. 0, or an errno value. */
int nox__cli_exec_write_raw(const nox_exec_t *r);

/* With --verbose, print the one-line summary of a finished command to
 * stderr: "<call> <session>: exit 0 (EXITED) in 12 ms, cpu 3+1 ms, max
 * rss 2048 KiB, stdout 6 B, stderr 0 B" (", signal N" after the cause
 * when one ended it). The time is the command's own, on the server. */
void nox__cli_exec_summary(const nox__cli_ctx_t *ctx, const char *call,
                           const char *session, const nox_exec_t *r);

#endif /* NOX_CLI_H */
