/*
 * args.c - the noxrc-rpc command line parser.
 *
 * getopt_long stops at (or permutes around) positionals in ways that do
 * not fit "options before or after positionals, except after --, and for
 * exec until the command starts", so this is a small table-driven parser:
 * every option is a row naming the field it sets. Options are accepted
 * anywhere; whether a subcommand option applies is checked once the
 * subcommand is known.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    ARGS_FLAG,    /* bool, no argument */
    ARGS_STR,     /* const char *, borrowed from argv */
    ARGS_U32,     /* uint32_t, decimal seconds */
    ARGS_COUNT,   /* uint32_t, decimal count */
    ARGS_SECONDS, /* int64_t milliseconds from (fractional) seconds */
    ARGS_FORMAT,  /* nox_archive_format_t from gz, tar or zstd */
    ARGS_LEVEL,   /* const char *: auto, namespaces or none */
    ARGS_ENV,     /* appended to env[] */
} args_type_t;

typedef struct {
    const char *name; /* without the leading "--" */
    args_type_t type;
    unsigned    bit;    /* NOX_CLI_OPT_*; 0: a global option */
    size_t      offset; /* of the field in nox__cli_args_t */
} args_opt_t;

#define ARGS_AT(field) offsetof(nox__cli_args_t, field)

static const args_opt_t args_opts[] = {
    {"local-test", ARGS_FLAG, 0, ARGS_AT(local_test)},
    {"url", ARGS_STR, 0, ARGS_AT(url)},
    {"token-file", ARGS_STR, 0, ARGS_AT(token_file)},
    {"ca-file", ARGS_STR, 0, ARGS_AT(ca_file)},
    {"base-dir", ARGS_STR, 0, ARGS_AT(base_dir)},
    {"timeout", ARGS_SECONDS, 0, ARGS_AT(timeout_ms)},
    {"json", ARGS_FLAG, 0, ARGS_AT(json)},
    {"format", ARGS_FORMAT, 0, ARGS_AT(format)},
    {"isolation", ARGS_LEVEL, 0, ARGS_AT(isolation)},
    {"verbose", ARGS_FLAG, 0, ARGS_AT(verbose)},
    {"help", ARGS_FLAG, 0, ARGS_AT(help)},
    {"version", ARGS_FLAG, 0, ARGS_AT(version)},
    {"ttl", ARGS_U32, NOX_CLI_OPT_TTL, ARGS_AT(ttl_seconds)},
    {"image", ARGS_STR, NOX_CLI_OPT_IMAGE, ARGS_AT(image)},
    {"cpu", ARGS_STR, NOX_CLI_OPT_CPU, ARGS_AT(cpu)},
    {"mem", ARGS_STR, NOX_CLI_OPT_MEM, ARGS_AT(mem)},
    {"storage", ARGS_STR, NOX_CLI_OPT_STORAGE, ARGS_AT(storage)},
    {"pids", ARGS_COUNT, NOX_CLI_OPT_PIDS, ARGS_AT(pids)},
    {"allow-network", ARGS_FLAG, NOX_CLI_OPT_NETWORK, ARGS_AT(allow_network)},
    {"wait", ARGS_FLAG, NOX_CLI_OPT_WAIT, ARGS_AT(wait)},
    {"workdir", ARGS_STR, NOX_CLI_OPT_WORKDIR, ARGS_AT(workdir)},
    {"env", ARGS_ENV, NOX_CLI_OPT_ENV, ARGS_AT(env)},
    {"timeout-seconds", ARGS_U32, NOX_CLI_OPT_TIMEOUT_S,
     ARGS_AT(timeout_seconds)},
    {"stdin-file", ARGS_STR, NOX_CLI_OPT_STDIN, ARGS_AT(stdin_file)},
    {"ignore-exit-code", ARGS_FLAG, NOX_CLI_OPT_IGNORE,
     ARGS_AT(ignore_exit_code)},
    {"bash", ARGS_FLAG, NOX_CLI_OPT_BASH, ARGS_AT(bash)},
    {"dir", ARGS_STR, NOX_CLI_OPT_DIR, ARGS_AT(dir)},
    {"dest", ARGS_STR, NOX_CLI_OPT_DEST, ARGS_AT(dest)},
    {"src", ARGS_STR, NOX_CLI_OPT_SRC, ARGS_AT(src)},
    {"output", ARGS_STR, NOX_CLI_OPT_OUTPUT, ARGS_AT(output)},
    {"extract", ARGS_STR, NOX_CLI_OPT_EXTRACT, ARGS_AT(extract)},
};

#define ARGS_NOPTS (sizeof(args_opts) / sizeof(args_opts[0]))

/* Longest --timeout accepted: a year, far below int64 milliseconds. */
#define ARGS_MAX_SECONDS (366.0 * 24 * 3600)

static int NOX_CLI_PRINTF(3, 4)
    args_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(err, errlen, fmt, ap); /* truncation is harmless */
    va_end(ap);
    return NOX_CLI_EXIT_USAGE;
}

/* The row for "--name" (name_len bytes of name, no "--"), or NULL. */
static const args_opt_t *
args_lookup(const char *name, size_t name_len)
{
    for (size_t i = 0; i < ARGS_NOPTS; i++) {
        if (strlen(args_opts[i].name) == name_len &&
            memcmp(args_opts[i].name, name, name_len) == 0)
            return &args_opts[i];
    }
    return NULL;
}

/* How a number option's word parsed. */
typedef enum {
    ARGS_NUM_OK,
    ARGS_NUM_NOT_A_NUMBER,
    ARGS_NUM_TOO_BIG,
} args_num_t;

/* Strict decimal uint32: no sign, no blanks, no trailing junk. A word of
 * digits only that does not fit is TOO_BIG, so that the message says what
 * is wrong with it. */
static args_num_t
args_parse_u32(const char *s, uint32_t *out)
{
    char *end = NULL;

    if (s[0] < '0' || s[0] > '9')
        return ARGS_NUM_NOT_A_NUMBER;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        return ARGS_NUM_NOT_A_NUMBER;
    if (errno == ERANGE || v > UINT32_MAX)
        return ARGS_NUM_TOO_BIG;
    if (errno != 0)
        return ARGS_NUM_NOT_A_NUMBER;
    *out = (uint32_t)v;
    return ARGS_NUM_OK;
}

/* Store a uint32 option, or say why not ("what": "seconds" or ""). */
static int
args_apply_u32(const args_opt_t *opt, const char *val, uint32_t *field,
               const char *what, char *err, size_t errlen)
{
    switch (args_parse_u32(val, field)) {
    case ARGS_NUM_OK:
        return 0;
    case ARGS_NUM_TOO_BIG:
        return args_error(
            err, errlen, "--%s: '%s' is out of range (at most %" PRIu32 "%s%s)",
            opt->name, val, UINT32_MAX, what[0] ? " " : "", what);
    case ARGS_NUM_NOT_A_NUMBER:
        break;
    }
    return args_error(err, errlen, "--%s: '%s' is not a whole number%s%s",
                      opt->name, val, what[0] ? " of " : "", what);
}

/* Positive seconds, fractions allowed, as milliseconds (at least 1). */
static bool
args_parse_seconds(const char *s, int64_t *ms)
{
    char *end = NULL;

    if ((s[0] < '0' || s[0] > '9') && s[0] != '.')
        return false;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v <= 0 ||
        v > ARGS_MAX_SECONDS)
        return false;
    int64_t r = (int64_t)(v * 1000.0 + 0.5);
    *ms = r > 0 ? r : 1;
    return true;
}

/* Store val into the field opt names. */
static bool
args_parse_format(const char *s, nox_archive_format_t *out)
{
    static const struct {
        const char          *name;
        nox_archive_format_t format;
    } names[] = {{"gz", NOX_ARCHIVE_TAR_GZ},
                 {"tar", NOX_ARCHIVE_TAR},
                 {"zstd", NOX_ARCHIVE_TAR_ZSTD}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].format;
            return true;
        }
    }
    return false;
}

/* An isolation level the engine knows. Checked here, not left to the
 * engine, so that a typo is a usage error (2) like any bad option. */
static bool
args_parse_level(const char *s)
{
    return strcmp(s, "auto") == 0 || strcmp(s, "namespaces") == 0 ||
           strcmp(s, "none") == 0;
}

static int
args_apply(nox__cli_args_t *a, const args_opt_t *opt, const char *val,
           char *err, size_t errlen)
{
    void *field = (char *)a + opt->offset;

    a->opts_seen |= opt->bit;
    switch (opt->type) {
    case ARGS_FLAG:
        *(bool *)field = true;
        return 0;
    case ARGS_STR:
        *(const char **)field = val;
        return 0;
    case ARGS_U32:
        return args_apply_u32(opt, val, (uint32_t *)field, "seconds", err,
                              errlen);
    case ARGS_COUNT:
        return args_apply_u32(opt, val, (uint32_t *)field, "", err, errlen);
    case ARGS_SECONDS:
        if (!args_parse_seconds(val, (int64_t *)field))
            return args_error(err, errlen,
                              "--%s: '%s' is not a positive number of "
                              "seconds",
                              opt->name, val);
        return 0;
    case ARGS_FORMAT:
        if (!args_parse_format(val, (nox_archive_format_t *)field))
            return args_error(err, errlen, "--%s: '%s' is not gz, tar or zstd",
                              opt->name, val);
        return 0;
    case ARGS_LEVEL:
        if (!args_parse_level(val))
            return args_error(err, errlen,
                              "--%s: '%s' is not auto, namespaces or none",
                              opt->name, val);
        *(const char **)field = val;
        return 0;
    case ARGS_ENV:
        if (strchr(val, '=') == NULL || val[0] == '=')
            return args_error(err, errlen, "--env: '%s' is not KEY=VALUE", val);
        a->env[a->env_len++] = val; /* env[] has argc slots */
        return 0;
    }
    return args_error(err, errlen, "internal: bad option type");
}

/* argv[*i] is an option word ("-h", "--name" or "--name=value"); apply
 * it, consuming the next word as its argument when it needs one. */
static int
args_option(nox__cli_args_t *a, int argc, char **argv, int *i, char *err,
            size_t errlen)
{
    const char *w = argv[*i];

    if (strcmp(w, "-h") == 0) {
        a->help = true;
        return 0;
    }
    if (w[1] != '-')
        return args_error(err, errlen, "unknown option '%s'", w);
    const char       *name = w + 2;
    const char       *eq = strchr(name, '=');
    size_t            name_len = eq ? (size_t)(eq - name) : strlen(name);
    const args_opt_t *opt = args_lookup(name, name_len);
    if (opt == NULL)
        return args_error(err, errlen, "unknown option '--%.*s'", (int)name_len,
                          name);
    if (opt->type == ARGS_FLAG) {
        if (eq != NULL)
            return args_error(err, errlen, "option '--%s' takes no argument",
                              opt->name);
        return args_apply(a, opt, NULL, err, errlen);
    }
    if (eq != NULL)
        return args_apply(a, opt, eq + 1, err, errlen);
    if (*i + 1 >= argc)
        return args_error(err, errlen, "option '--%s' needs an argument",
                          opt->name);
    *i += 1;
    return args_apply(a, opt, argv[*i], err, errlen);
}

/* A word that is not an option: the subcommand, the session, or one more
 * positional. For exec, the first word after the session starts CMD, so
 * option parsing stops there (*no_opts). */
static int
args_positional(nox__cli_args_t *a, const char *w, bool *no_opts, char *err,
                size_t errlen)
{
    if (a->cmd == NULL && !a->help_cmd && strcmp(w, "help") == 0) {
        a->help = true; /* alone: the global help */
        a->help_cmd = true;
        return 0;
    }
    if (a->cmd == NULL) {
        a->cmd = nox__cli_command_find(w);
        if (a->cmd != NULL)
            return 0;
        if (a->help_cmd) {
            a->help = false; /* a usage error, not the global help */
            return args_error(err, errlen, "help: unknown command '%s'", w);
        }
        return args_error(err, errlen, "unknown command '%s'", w);
    }
    if (a->help_cmd) {
        a->help = false;
        return args_error(err, errlen, "help: unexpected argument '%s'", w);
    }
    if (a->session == NULL) {
        a->session = w;
        return 0;
    }
    a->rest[a->rest_len++] = w; /* rest[] has argc slots */
    if (a->cmd->cmd_tail)
        *no_opts = true;
    return 0;
}

/* The name of the first option in bits, for messages. */
static const char *
args_opt_name(unsigned bits)
{
    for (size_t i = 0; i < ARGS_NOPTS; i++) {
        if (args_opts[i].bit != 0 && (bits & args_opts[i].bit) != 0)
            return args_opts[i].name;
    }
    return "?";
}

/* Rules only one subcommand has. */
static int
args_check_special(const nox__cli_args_t *a, char *err, size_t errlen)
{
    const char *name = a->cmd->name;

    if (strcmp(name, "upload") == 0 && (a->rest_len > 0) == (a->dir != NULL))
        return args_error(err, errlen,
                          a->dir ? "upload: give FILE... or --dir, not both"
                                 : "upload: missing FILE... or --dir DIR");
    if (strcmp(name, "download") == 0 && a->output && a->extract)
        return args_error(err, errlen,
                          "download: give --output or --extract, not both");
    return 0;
}

/* Once everything is read: is this a complete, consistent command? */
static int
args_check(const nox__cli_args_t *a, char *err, size_t errlen)
{
    if (a->help || a->version)
        return 0;
    if (a->cmd == NULL)
        return args_error(err, errlen, "missing command");
    const nox__cli_command_t *c = a->cmd;
    size_t                    npos = (a->session ? 1 : 0) + a->rest_len;
    unsigned                  stray = a->opts_seen & ~c->opts;

    if (stray != 0)
        return args_error(err, errlen, "%s: option '--%s' does not apply",
                          c->name, args_opt_name(stray));
    /* A server's isolation is noxrunnerd's to set; accepting the option
     * and ignoring it would let a caller believe it had asked for more. */
    if (a->isolation != NULL && !a->local_test)
        return args_error(err, errlen,
                          "--isolation applies only with --local-test");
    /* Likewise: a server keeps its sandboxes where noxrunnerd says. */
    if (a->base_dir != NULL && !a->local_test)
        return args_error(err, errlen,
                          "--base-dir applies only with --local-test");
    /* The shell's output is the commands' own, line by line; there is no
     * one object to print. */
    if (a->json && strcmp(c->name, "shell") == 0)
        return args_error(err, errlen, "shell has no --json output");
    if (c->min_pos > 0 && a->session == NULL)
        return args_error(err, errlen, "%s: missing SESSION", c->name);
    if (npos < c->min_pos)
        return args_error(err, errlen, "%s: missing %s", c->name, c->tail);
    if (npos > c->max_pos)
        return args_error(err, errlen, "%s: unexpected argument '%s'", c->name,
                          c->max_pos == 0 ? a->session
                                          : a->rest[c->max_pos - 1]);
    return args_check_special(a, err, errlen);
}

int
nox__cli_args_parse(int argc, char **argv, nox__cli_args_t *out, char *err,
                    size_t errlen)
{
    bool no_opts = false;
    int  rc;

    memset(out, 0, sizeof(*out));
    /* At most argc words can land in either array, so one allocation each
     * up front avoids growing them. */
    out->rest = calloc((size_t)argc + 1, sizeof(*out->rest));
    out->env = calloc((size_t)argc + 1, sizeof(*out->env));
    if (out->rest == NULL || out->env == NULL)
        return args_error(err, errlen, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        if (!no_opts && strcmp(w, "--") == 0) {
            no_opts = true;
            continue;
        }
        if (!no_opts && w[0] == '-' && w[1] != '\0')
            rc = args_option(out, argc, argv, &i, err, errlen);
        else
            rc = args_positional(out, w, &no_opts, err, errlen);
        if (rc != 0)
            return rc;
    }
    return args_check(out, err, errlen);
}

void
nox__cli_args_free(nox__cli_args_t *a)
{
    if (a == NULL)
        return;
    free(a->rest);
    free(a->env);
    a->rest = NULL;
    a->env = NULL;
}

bool
nox__cli_argv_wants_json(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--json") == 0)
            return true;
    }
    return false;
}
