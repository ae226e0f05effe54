/*
 * shell.c - shell SESSION: an interactive loop over one sandbox.
 *
 * Each line of stdin runs with "sh -c" (or bash) in the current working
 * directory. Every line is a separate Exec, so a "cd" inside a line would
 * not outlive it: a line that is just "cd DIR" is handled here instead,
 * like noxrc's shell. DIR is resolved against the current directory as a
 * sandbox path ("cd" alone, "~" -> /workspace), must stay inside
 * /workspace, and must exist (checked with "test -d" in the sandbox).
 * "exit [N]", "quit" or the end of input leaves; the status is N, else
 * that of the last command, as in sh. The prompt is shown only when stdin
 * is a terminal.
 */
#include "cli.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHELL_ROOT "/workspace"
#define SHELL_LINE_MAX ((size_t)1 << 20)

typedef struct {
    nox__cli_ctx_t *ctx;
    char            cwd[PATH_MAX]; /* a sandbox path under SHELL_ROOT */
    int             status;        /* of the last command */
    bool            tty;
} shell_t;

/* Append component c (n bytes) to the normalized absolute path p, where
 * "." is a no-op and ".." drops the last component (never above "/"). */
static bool
shell_push(char *p, size_t *len, const char *c, size_t n)
{
    if (n == 0 || (n == 1 && c[0] == '.'))
        return true;
    if (n == 2 && c[0] == '.' && c[1] == '.') {
        while (*len > 0 && p[*len - 1] != '/')
            (*len)--;
        if (*len > 0)
            (*len)--; /* the slash */
        p[*len] = '\0';
        return true;
    }
    if (*len + 1 + n >= PATH_MAX)
        return false;
    p[(*len)++] = '/';
    memcpy(p + *len, c, n);
    *len += n;
    p[*len] = '\0';
    return true;
}

/* Normalize the components of s onto out (holding out_len bytes). */
static bool
shell_push_all(char *out, size_t *out_len, const char *s)
{
    while (*s != '\0') {
        size_t n = strcspn(s, "/");
        if (!shell_push(out, out_len, s, n))
            return false;
        s += n;
        s += *s == '/';
    }
    return true;
}

/* The sandbox path "cd arg" leads to from cwd, into out (PATH_MAX).
 * false when it is too long or leaves SHELL_ROOT. */
static bool
shell_resolve(const char *cwd, const char *arg, char out[PATH_MAX])
{
    size_t      len = 0;
    const char *base = cwd;

    out[0] = '\0';
    if (arg[0] == '\0' || strcmp(arg, "~") == 0) {
        base = SHELL_ROOT;
        arg = "";
    } else if (strncmp(arg, "~/", 2) == 0) {
        base = SHELL_ROOT;
        arg += 2;
    } else if (arg[0] == '/') {
        base = "";
    }
    if (!shell_push_all(out, &len, base) || !shell_push_all(out, &len, arg))
        return false;
    if (len == 0)
        return false; /* "/" itself */
    return strcmp(out, SHELL_ROOT) == 0 ||
           strncmp(out, SHELL_ROOT "/", sizeof(SHELL_ROOT)) == 0;
}

/* "test -d" on the sandbox path, run from /workspace so the test sees the
 * same tree whether or not the sandbox maps /workspace for real. */
static bool
shell_dir_exists(shell_t *sh, const char *path)
{
    const char *rel =
        path[sizeof(SHELL_ROOT) - 1] == '/' ? path + sizeof(SHELL_ROOT) : ".";
    const char     *argv[] = {"test", "-d", rel};
    nox_exec_opts_t o;
    nox_exec_t      r = {0};

    nox__cli_exec_opts(sh->ctx->args, &o);
    o.workdir = SHELL_ROOT;
    nox_err_t e = nox_client_exec(sh->ctx->client, sh->ctx->args->session, argv,
                                  3, &o, &r);
    bool      ok = e == NOX_OK && r.exit_code == 0;
    nox_exec_free(&r);
    return ok;
}

static void
shell_cd(shell_t *sh, const char *arg)
{
    char next[PATH_MAX];

    sh->status = 1;
    if (!shell_resolve(sh->cwd, arg, next)) {
        (void)fprintf(stderr, "cd: %s: outside " SHELL_ROOT "\n", arg);
        return;
    }
    if (strcmp(next, SHELL_ROOT) != 0 && !shell_dir_exists(sh, next)) {
        (void)fprintf(stderr, "cd: %s: no such directory\n", arg);
        return;
    }
    memcpy(sh->cwd, next, strlen(next) + 1);
    sh->status = 0;
}

/* Run one line. Returns -1 to go on, or the exit status to stop with
 * (the sandbox is gone or the server unreachable). */
static int
shell_run(shell_t *sh, const char *line)
{
    const nox__cli_args_t *a = sh->ctx->args;
    nox_exec_opts_t        o;
    nox_exec_t             r = {0};

    nox__cli_exec_opts(a, &o);
    o.workdir = sh->cwd;
    int64_t   t0 = nox__cli_now_ms();
    nox_err_t e = nox_client_exec_shell(sh->ctx->client, a->session, line,
                                        a->bash, &o, &r);
    if (e != NOX_OK) {
        nox__cli_trace(sh->ctx, "shell", a->session, t0, e, "%s", "");
        sh->status = nox__cli_fail_call(sh->ctx, e);
        return e == NOX_ENOENT || e == NOX_EUNAVAIL ? sh->status : -1;
    }
    (void)nox__cli_exec_write_raw(&r); /* a broken pipe ends us anyway */
    nox__cli_exec_summary(sh->ctx, "shell", a->session, &r);
    sh->status = r.exit_code >= 0 && r.exit_code <= 255 ? r.exit_code
                                                        : NOX_CLI_EXIT_SOFTWARE;
    if (sh->tty && r.exit_code != 0)
        (void)fprintf(stderr, "[exit %d]\n", r.exit_code);
    nox_exec_free(&r);
    return -1;
}

/* "cd", "cd DIR", "cd 'DIR'" or "cd \"DIR\"": the directory in *arg
 * (quotes stripped in place). Anything with more shell syntax is not a
 * plain cd and runs as an ordinary line. */
static bool
shell_is_cd(char *line, char **arg)
{
    if (strncmp(line, "cd", 2) != 0 ||
        (line[2] != '\0' && !isspace((unsigned char)line[2])))
        return false;
    char  *s = line + 2 + strspn(line + 2, " \t");
    size_t n = strlen(s);
    if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0] &&
        memchr(s + 1, s[0], n - 2) == NULL) {
        s[n - 1] = '\0';
        *arg = s + 1;
        return true;
    }
    *arg = s;
    return strpbrk(s, " \t;&|<>()$`\\\"'*?[]{}") == NULL;
}

/* One input line (trimmed). -1 to go on, else the status to exit with. */
static int
shell_line(shell_t *sh, char *line)
{
    char *arg;

    if (line[0] == '\0' || line[0] == '#')
        return -1;
    if (strcmp(line, "quit") == 0 || strcmp(line, "exit") == 0)
        return sh->status;
    if (strncmp(line, "exit ", 5) == 0) {
        char *end;
        long  v = strtol(line + 5, &end, 10);
        if (*end == '\0' && end != line + 5)
            return (int)(v & 0xff);
    }
    if (shell_is_cd(line, &arg)) {
        shell_cd(sh, arg);
        return -1;
    }
    return shell_run(sh, line);
}

/* Strip leading and trailing blanks (and the newline) in place. */
static char *
shell_trim(char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s + strspn(s, " \t");
}

/* Where the shell starts: --workdir resolved like "cd", else the root. */
static int
shell_start(shell_t *sh)
{
    const nox__cli_args_t *a = sh->ctx->args;
    char                  *expires = NULL;

    /* Touch first: an unknown session fails here, not on every line. */
    nox_err_t e = nox_client_touch(sh->ctx->client, a->session, &expires);
    free(expires);
    if (e != NOX_OK)
        return nox__cli_fail_call(sh->ctx, e);
    memcpy(sh->cwd, SHELL_ROOT, sizeof(SHELL_ROOT));
    if (a->workdir != NULL && !shell_resolve(SHELL_ROOT, a->workdir, sh->cwd))
        return nox__cli_fail(sh->ctx, NOX_EINVAL, "--workdir %s: outside %s",
                             a->workdir, SHELL_ROOT);
    sh->tty = isatty(STDIN_FILENO) == 1;
    return 0;
}

/* Read and run lines until exit or the end of input. */
static int
shell_loop(shell_t *sh)
{
    char  *buf = NULL;
    size_t cap = 0;
    int    rc = -1;

    while (rc < 0) {
        if (sh->tty) {
            (void)printf("%s:%s$ ", sh->ctx->args->session, sh->cwd);
            (void)fflush(stdout); /* a prompt, not data: best effort */
        }
        ssize_t n = getline(&buf, &cap, stdin);
        if (n < 0) { /* the end of input, or a read error: leave */
            if (sh->tty)
                (void)putchar('\n');
            rc = sh->status;
            break;
        }
        if ((size_t)n > SHELL_LINE_MAX) {
            (void)fprintf(stderr, NOX_CLI_NAME ": line too long\n");
            continue;
        }
        rc = shell_line(sh, shell_trim(buf, (size_t)n));
    }
    free(buf);
    return rc;
}

int
nox__cli_cmd_shell(nox__cli_ctx_t *ctx)
{
    shell_t sh = {.ctx = ctx};
    int     rc = shell_start(&sh);

    return rc != 0 ? rc : shell_loop(&sh);
}
