/*
 * check_cli.c - noxrc-rpc end to end: the real binary, run with
 * posix_spawn, its stdout, stderr and exit status captured through pipes.
 *
 * Every test works in a fresh mkdtemp base directory. Most run the
 * in-process engine (--local-test --base-dir <tmp>); one starts noxrunnerd
 * on ipc://<tmp>/d.sock and stops it again; the http ones start
 * tests/spec_backend.py, a NoxRunner backend that is not ours. Children get
 * NOXRUNNER_QUIET=1 except in the test that wants the local-mode warning.
 * Nothing asserts while a child is still running, so a failed assertion
 * never leaves a process behind.
 */
#include "testproc.h"
#include "testutil.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define RUN_MAX_ARGS 32
#define RUN_DEADLINE_S 30 /* a CLI run taking longer is killed */

static char *base; /* the test's temporary directory (fixture) */

static void
cli_setup(void)
{
    base = tu_mkdtemp();
}

static void
cli_teardown(void)
{
    tu_rmtree_free(base);
    base = NULL;
}

/* ---- running a program ---- */

typedef struct {
    int    status;    /* exit code; 128+N when killed by signal N */
    char  *out, *err; /* NUL-terminated captures (malloc'd) */
    size_t out_len, err_len;
    double secs; /* wall time */
} run_t;

typedef struct {
    const char *input; /* fed on stdin; NULL: /dev/null */
    const char *cwd;   /* NULL: ours */
    bool        noisy; /* leave NOXRUNNER_QUIET unset */
    const char *env;   /* one more "NAME=VALUE", or NULL */
    const char *env2;  /* and another, or NULL */
} run_opts_t;

static double
run_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
run_free(run_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

/* Our environment minus what would steer the CLI, plus the quiet flag
 * and extra and extra2 (either may be NULL). */
static char **
run_env(bool noisy, const char *extra, const char *extra2)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + 4, sizeof(*env));
    size_t k = 0;
    ck_assert_ptr_nonnull(env);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "NOXRUNNER_", 10) == 0 ||
            strncmp(environ[i], "NO_COLOR=", 9) == 0)
            continue;
        env[k++] = environ[i];
    }
    if (!noisy)
        env[k++] = "NOXRUNNER_QUIET=1";
    if (extra != NULL)
        env[k++] = (char *)extra;
    if (extra2 != NULL)
        env[k++] = (char *)extra2;
    env[k] = NULL;
    return env;
}

static void
run_append(char **buf, size_t *len, const char *p, size_t n)
{
    char *nb = realloc(*buf, *len + n + 1);
    ck_assert_ptr_nonnull(nb);
    memcpy(nb + *len, p, n);
    *len += n;
    nb[*len] = '\0';
    *buf = nb;
}

/* Read both pipes until EOF or the deadline; false on the deadline. */
static bool
run_drain(run_t *r, int out_fd, int err_fd)
{
    struct pollfd pf[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    double        end = run_now() + RUN_DEADLINE_S;
    char          chunk[65536];

    while (pf[0].fd >= 0 || pf[1].fd >= 0) {
        int left = (int)((end - run_now()) * 1000);
        if (left <= 0 || poll(pf, 2, left) == 0)
            return false;
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || pf[i].revents == 0)
                continue;
            ssize_t n = read(pf[i].fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
            } else if (i == 0) {
                run_append(&r->out, &r->out_len, chunk, (size_t)n);
            } else {
                run_append(&r->err, &r->err_len, chunk, (size_t)n);
            }
        }
    }
    return true;
}

static int
run_wait(pid_t pid, bool kill_first)
{
    int st = 0;
    if (kill_first)
        kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run argv (argv[0] a path) to completion and capture everything. */
static void
run_argv(run_t *r, const run_opts_t *o, char *const argv[])
{
    int                        po[2], pe[2], pi[2];
    posix_spawn_file_actions_t fa;
    pid_t                      pid;
    char                     **env = run_env(o->noisy, o->env, o->env2);

    memset(r, 0, sizeof(*r));
    r->out = strdup("");
    r->err = strdup("");
    ck_assert(pipe2(po, O_CLOEXEC) == 0 && pipe2(pe, O_CLOEXEC) == 0 &&
              pipe2(pi, O_CLOEXEC) == 0);
    ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
    if (o->input != NULL)
        posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    if (o->cwd != NULL)
        posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    double t0 = run_now();
    int    rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(po[1]);
    close(pe[1]);
    close(pi[0]);
    ck_assert_msg(rc == 0, "spawn %s: %s", argv[0], strerror(rc));
    /* Inputs are small (well under a pipe buffer): write, then close. */
    if (o->input != NULL)
        (void)!write(pi[1], o->input, strlen(o->input));
    close(pi[1]);
    bool done = run_drain(r, po[0], pe[0]);
    r->status = run_wait(pid, !done);
    r->secs = run_now() - t0;
    ck_assert_msg(done, "%s did not finish in %d s", argv[1], RUN_DEADLINE_S);
}

static const char *
cli_path(void)
{
    static char path[PATH_MAX];
    const char *dir = getenv("NOX_BUILD_DIR");
    ck_assert_ptr_nonnull(dir);
    snprintf(path, sizeof(path), "%s/noxrc-rpc", dir);
    return path;
}

/* Run noxrc-rpc with the words after o (NULL-terminated); when local,
 * prefixed with --local-test --base-dir <base>. */
static void
cli_va(run_t *r, const run_opts_t *o, bool local, va_list ap)
{
    char *argv[RUN_MAX_ARGS];
    int   n = 0;

    argv[n++] = (char *)cli_path();
    if (local) {
        argv[n++] = "--local-test";
        argv[n++] = "--base-dir";
        argv[n++] = base;
    }
    for (const char *w = va_arg(ap, const char *); w != NULL;
         w = va_arg(ap, const char *)) {
        ck_assert_int_lt(n, RUN_MAX_ARGS - 1);
        argv[n++] = (char *)w;
    }
    argv[n] = NULL;
    run_argv(r, o, argv);
}

/* noxrc-rpc --local-test --base-dir <base> ARGS... */
static void
cli(run_t *r, ...)
{
    static const run_opts_t quiet = {0};
    va_list                 ap;
    va_start(ap, r);
    cli_va(r, &quiet, true, ap);
    va_end(ap);
}

/* The same with options (stdin, cwd, noise). */
static void
cli_o(run_t *r, const run_opts_t *o, ...)
{
    va_list ap;
    va_start(ap, o);
    cli_va(r, o, true, ap);
    va_end(ap);
}

/* noxrc-rpc ARGS... with options and no local-mode prefix. */
static void
cli_raw_o(run_t *r, const run_opts_t *o, ...)
{
    va_list ap;
    va_start(ap, o);
    cli_va(r, o, false, ap);
    va_end(ap);
}

/* noxrc-rpc ARGS... with no local-mode prefix. */
static void
cli_raw(run_t *r, ...)
{
    static const run_opts_t quiet = {0};
    va_list                 ap;
    va_start(ap, r);
    cli_va(r, &quiet, false, ap);
    va_end(ap);
}

/* Run and expect exit status 0; the result is freed. */
static void
cli_ok(const char *a1, const char *a2, const char *a3, const char *a4)
{
    run_t r;
    cli(&r, a1, a2, a3, a4, (char *)NULL);
    ck_assert_msg(r.status == 0, "%s %s: exit %d, stderr: %s", a1, a2, r.status,
                  r.err);
    run_free(&r);
}

static size_t
count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += *s == c;
    return n;
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* stdout parsed as JSON (one object); the caller cJSON_Deletes it. */
static cJSON *
json_of(const run_t *r)
{
    cJSON *j = cJSON_Parse(r->out);
    ck_assert_msg(j != NULL && cJSON_IsObject(j), "not JSON: %s", r->out);
    return j;
}

static char *
make_dir(const char *name)
{
    char *p = malloc(PATH_MAX);
    ck_assert_ptr_nonnull(p);
    snprintf(p, PATH_MAX, "%s/%s", base, name);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    return p;
}

/* ---- the seed example and exit codes ---- */

START_TEST(cli_runs_the_seed_example_as_three_processes)
{
    run_t r;

    cli(&r, "create", "my-session", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    static const char want[] =
        "created sandbox my-session (pod local-my-session), expires 20";
    /* The first line, then the sandbox's isolation (no limits asked). */
    char *nl = strchr(r.out, '\n');
    ck_assert_msg(nl != NULL && strncmp(r.out, want, sizeof(want) - 1) == 0 &&
                      nl[-1] == 'Z' &&
                      strncmp(nl + 1, "isolation: ", 11) == 0 &&
                      strchr(nl + 1, '\n') == r.out + r.out_len - 1,
                  "create said: %s", r.out);
    run_free(&r);
    cli(&r, "exec", "my-session", "echo", "Hello", (char *)NULL);
    ck_assert_str_eq(r.out, "Hello\n");
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    cli(&r, "delete", "my-session", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "deleted sandbox my-session\n");
    run_free(&r);
}
END_TEST

START_TEST(cli_exec_exits_with_the_command_exit_code)
{
    run_t r;

    cli_ok("create", "s", NULL, NULL);
    cli(&r, "exec", "s", "sh", "-c", "exit 7", (char *)NULL);
    ck_assert_int_eq(r.status, 7);
    run_free(&r);
}
END_TEST

START_TEST(cli_exec_ignore_exit_code_exits_zero)
{
    run_t r;

    cli_ok("create", "s", NULL, NULL);
    cli(&r, "exec", "s", "--ignore-exit-code", "--", "sh", "-c",
        "echo out; exit 3", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "out\n");
    run_free(&r);
}
END_TEST

START_TEST(cli_exec_of_a_blocked_command_exits_77)
{
    run_t r;

    cli_ok("create", "s", NULL, NULL);
    cli(&r, "exec", "s", "rm", "-rf", "x", (char *)NULL);
    ck_assert_int_eq(r.status, 77);
    ck_assert_str_eq(r.err, "noxrc-rpc: command not allowed: rm\n");
    ck_assert_str_eq(r.out, "");
    run_free(&r);
}
END_TEST

START_TEST(cli_unknown_session_exits_66)
{
    run_t r;

    cli(&r, "exec", "nosuch", "true", (char *)NULL);
    ck_assert_int_eq(r.status, 66);
    ck_assert_msg(strncmp(r.err, "noxrc-rpc: ", 11) == 0, "%s", r.err);
    run_free(&r);
    cli(&r, "touch", "nosuch", (char *)NULL);
    ck_assert_int_eq(r.status, 66);
    run_free(&r);
}
END_TEST

START_TEST(cli_invalid_session_id_exits_65)
{
    run_t r;

    cli(&r, "create", "bad/id", (char *)NULL);
    ck_assert_int_eq(r.status, 65);
    ck_assert_msg(strncmp(r.err, "noxrc-rpc: ", 11) == 0, "%s", r.err);
    run_free(&r);
    cli(&r, "create", "..", (char *)NULL);
    ck_assert_int_eq(r.status, 65);
    run_free(&r);
}
END_TEST

START_TEST(cli_usage_errors_exit_2)
{
    static const char *const cases[][4] = {
        {NULL},                            /* no subcommand */
        {"--bogus", "list", NULL},         /* unknown option */
        {"exec", "s", NULL},               /* exec without CMD */
        {"create", "s", "--ttl", NULL},    /* missing argument */
        {"create", "s", "--ttl", "-5"},    /* not a number */
        {"frobnicate", NULL},              /* unknown command */
        {"create", NULL},                  /* no SESSION */
        {"touch", "a", "b", NULL},         /* too many */
        {"create", "s", "--workdir", "x"}, /* not create's option */
        {"upload", "s", NULL},             /* nothing to upload */
        {"list", "-x", NULL},              /* unknown short option */
        {"create", "s", "--pids", "x"},    /* not a count */
        {"exec", "s", "--pids", "9"},      /* not exec's option */
        {"health", "--allow-network"},     /* not health's option */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_t r;
        cli(&r, cases[i][0], cases[i][1], cases[i][2], cases[i][3],
            (char *)NULL);
        ck_assert_msg(r.status == 2, "case %zu: exit %d", i, r.status);
        ck_assert_msg(strncmp(r.err, "noxrc-rpc: ", 11) == 0, "case %zu: %s", i,
                      r.err);
        ck_assert_str_eq(r.out, "");
        run_free(&r);
    }
}
END_TEST

START_TEST(cli_help_and_version_exit_0)
{
    run_t r;

    cli_raw(&r, "--version", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "noxrc-rpc 0.1.0\n");
    run_free(&r);
    cli_raw(&r, "--help", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: noxrc-rpc"));
    ck_assert_ptr_nonnull(strstr(r.out, "exec SESSION"));
    run_free(&r);
}
END_TEST

/* Every command has its own help, reached two ways, with the same text:
 * its usage line, its options and an example, not the global help. */
START_TEST(cli_help_of_each_command_prints_its_usage_and_an_example)
{
    static const char *const names[] = {"health", "create",   "exec",  "sh",
                                        "upload", "download", "touch", "delete",
                                        "list",   "shell"};
    run_t                    r, h;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want), "usage: noxrc-rpc [GLOBAL OPTIONS] %s",
                 names[i]);
        cli_raw(&r, names[i], "--help", (char *)NULL);
        ck_assert_msg(r.status == 0, "%s --help: exit %d", names[i], r.status);
        ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "%s --help: %s",
                      names[i], r.out);
        ck_assert_msg(strstr(r.out, "Options") != NULL, "%s", r.out);
        ck_assert_msg(strstr(r.out, "Example:\n  noxrc-rpc ") != NULL, "%s",
                      r.out);
        ck_assert_ptr_null(strstr(r.out, "Global options (anywhere"));
        cli_raw(&h, "help", names[i], (char *)NULL);
        ck_assert_msg(h.status == 0, "help %s: exit %d", names[i], h.status);
        ck_assert_str_eq(h.out, r.out);
        run_free(&h);
        run_free(&r);
    }
    cli_raw(&r, "exec", "--help", (char *)NULL);
    ck_assert_ptr_nonnull(strstr(r.out, "--stdin-file"));
    ck_assert_ptr_nonnull(strstr(r.out, "--ignore-exit-code"));
    run_free(&r);
    /* After exec's CMD starts, --help is the command's own word. */
    cli(&r, "create", "s", (char *)NULL);
    run_free(&r);
    cli(&r, "exec", "s", "printf", "%s\n", "--help", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "--help\n");
    run_free(&r);
}
END_TEST

START_TEST(cli_help_alone_is_the_global_help_and_an_unknown_topic_exits_2)
{
    run_t r;

    cli_raw(&r, "help", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Global options (anywhere"));
    ck_assert_ptr_nonnull(strstr(r.out, "\n  exec SESSION"));
    run_free(&r);
    cli_raw(&r, "help", "nosuch", (char *)NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "");
    ck_assert_msg(strstr(r.err, "noxrc-rpc: help: unknown command 'nosuch'") !=
                      NULL,
                  "stderr: %s", r.err);
    run_free(&r);
    cli_raw(&r, "help", "exec", "s", (char *)NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "");
    run_free(&r);
}
END_TEST

/* A server keeps its sandboxes where noxrunnerd says: --base-dir without
 * --local-test is refused before any connection (the unreachable URL and
 * short --timeout only bound how long a wrong answer would take). */
START_TEST(cli_base_dir_without_local_test_is_a_usage_error)
{
    run_t r;

    cli_raw(&r, "--url", "tcp://127.0.0.1:1", "--timeout", "1", "--base-dir",
            base, "list", (char *)NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "");
    ck_assert_msg(strstr(r.err, "noxrc-rpc: --base-dir applies only with "
                                "--local-test") != NULL,
                  "stderr: %s", r.err);
    run_free(&r);
}
END_TEST

START_TEST(cli_number_too_big_says_out_of_range)
{
    run_t r;

    cli(&r, "create", "s", "--ttl", "99999999999", (char *)NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--ttl: '99999999999' is out of range (at "
                                "most 4294967295 seconds)") != NULL,
                  "stderr: %s", r.err);
    run_free(&r);
    cli(&r, "create", "s", "--pids", "4294967296", (char *)NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--pids: '4294967296' is out of range (at "
                                "most 4294967295)") != NULL,
                  "stderr: %s", r.err);
    run_free(&r);
    /* Not digits at all is still "not a number". */
    cli(&r, "create", "s", "--ttl", "9x", (char *)NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--ttl: '9x' is not a whole number of "
                                "seconds") != NULL,
                  "stderr: %s", r.err);
    run_free(&r);
}
END_TEST

/* The shell prints each command's output as it comes: there is no one
 * object to print, so --json is refused rather than ignored. */
START_TEST(cli_json_shell_is_a_usage_error)
{
    static const run_opts_t in = {.input = "echo hi\n"};
    run_t                   r;

    cli_ok("create", "s", NULL, NULL);
    cli_o(&r, &in, "--json", "shell", "s", (char *)NULL);
    ck_assert_int_eq(r.status, 2);
    cJSON *j = json_of(&r);
    cJSON *e = cJSON_GetObjectItem(j, "error");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(cJSON_GetObjectItem(e, "message")->valuestring,
                     "shell has no --json output");
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

/* ---- option placement ---- */

static time_t
parse_rfc3339(const char *s)
{
    struct tm tm = {0};
    char     *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    ck_assert_msg(end != NULL && *end == '\0', "not RFC 3339: %s", s);
    return timegm(&tm);
}

START_TEST(cli_accepts_options_after_positionals)
{
    run_t r;

    cli(&r, "create", "s", "--ttl", "60", "--json", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    cJSON *j = json_of(&r);
    time_t exp = parse_rfc3339(
        cJSON_GetStringValue(cJSON_GetObjectItem(j, "expiresAt")));
    long ahead = (long)(exp - time(NULL));
    ck_assert_msg(ahead >= 55 && ahead <= 61, "expires in %ld s", ahead);
    cJSON_Delete(j);
    run_free(&r);

    cli_ok("exec", "s", "mkdir", "sub");
    cli(&r, "exec", "s", "--workdir", "sub", "pwd", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(ends_with(r.out, "/workspace/sub\n"), "pwd: %s", r.out);
    run_free(&r);
}
END_TEST

START_TEST(cli_exec_stops_option_parsing_at_the_command)
{
    run_t r;

    cli_ok("create", "s", NULL, NULL);
    cli(&r, "exec", "s", "echo", "--workdir", "--json", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "--workdir --json\n");
    run_free(&r);
}
END_TEST

START_TEST(cli_exec_passes_env_and_stdin)
{
    run_opts_t in = {.input = "piped data"};
    run_t      r;

    cli_ok("create", "s", NULL, NULL);
    cli(&r, "exec", "s", "--env", "FOO=bar baz", "sh", "-c", "echo \"$FOO\"",
        (char *)NULL);
    ck_assert_str_eq(r.out, "bar baz\n");
    run_free(&r);
    cli_o(&r, &in, "exec", "s", "--stdin-file", "-", "cat", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "piped data");
    run_free(&r);
}
END_TEST

START_TEST(cli_sh_runs_a_shell_command_string)
{
    run_t r;

    cli_ok("create", "s", NULL, NULL);
    cli(&r, "sh", "s", "echo $((1+2))", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "3\n");
    run_free(&r);
    cli(&r, "sh", "s", "exit 4", "--bash", (char *)NULL);
    ck_assert_int_eq(r.status, 4);
    run_free(&r);
}
END_TEST

/* ---- --json ---- */

START_TEST(cli_json_exec_prints_one_object)
{
    run_t r;

    cli_ok("create", "s", NULL, NULL);
    cli(&r, "--json", "exec", "s", "sh", "-c", "echo hi; echo err >&2",
        (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    cJSON *j = json_of(&r);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "exitCode")->valueint, 0);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "stdout")),
                     "hi\n");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "stderr")),
                     "err\n");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "timedOut")));
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "stdoutTruncated")));
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "durationMs")));
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

START_TEST(cli_json_reports_not_found_as_an_error_object)
{
    run_t r;

    cli(&r, "exec", "nosuch", "--json", "true", (char *)NULL);
    ck_assert_int_eq(r.status, 66);
    cJSON *j = json_of(&r);
    cJSON *e = cJSON_GetObjectItem(j, "error");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(cJSON_GetObjectItem(e, "code")->valueint, 5);
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(e, "message")));
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

START_TEST(cli_json_replaces_invalid_utf8)
{
    run_t r;

    cli_ok("create", "s", NULL, NULL);
    cli(&r, "--json", "exec", "s", "printf", "a\\377b\\303", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    cJSON *j = json_of(&r);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "stdout")),
                     "a\xEF\xBF\xBD"
                     "b\xEF\xBF\xBD");
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

START_TEST(cli_json_lists_touches_and_checks_health)
{
    run_t r;

    cli_ok("create", "a", NULL, NULL);
    cli_ok("create", "b", NULL, NULL);
    cli(&r, "list", "--json", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    cJSON *j = json_of(&r);
    cJSON *arr = cJSON_GetObjectItem(j, "sandboxes");
    ck_assert_int_eq(cJSON_GetArraySize(arr), 2);
    cJSON      *first = cJSON_GetArrayItem(arr, 0);
    const char *id =
        cJSON_GetStringValue(cJSON_GetObjectItem(first, "sessionId"));
    ck_assert(strcmp(id, "a") == 0 || strcmp(id, "b") == 0);
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(first, "podName")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(first, "path")));
    cJSON_Delete(j);
    run_free(&r);
    cli(&r, "--json", "touch", "a", (char *)NULL);
    j = json_of(&r);
    (void)parse_rfc3339(
        cJSON_GetStringValue(cJSON_GetObjectItem(j, "expiresAt")));
    cJSON_Delete(j);
    run_free(&r);
    cli(&r, "--json", "health", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    j = json_of(&r);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")),
                     "SERVING");
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "maxMessageBytes")));
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

START_TEST(cli_delete_of_an_unknown_session_exits_0)
{
    run_t r;

    cli(&r, "delete", "nosuch", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "no sandbox nosuch: nothing deleted\n");
    run_free(&r);
    cli(&r, "delete", "nosuch", "--json", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "{\"deleted\":false}\n");
    run_free(&r);
}
END_TEST

/* NoxRunner's Python local mode makes the same directory names without
 * our metadata: list (and its reap pass) leaves one alone, however old,
 * and create and delete refuse it, exit 70 naming it. */
START_TEST(cli_leaves_a_python_made_sandbox_directory_alone)
{
    struct timespec old[2] = {{946684800, 0}, {946684800, 0}}; /* 2000 */
    char            dir[PATH_MAX], ws[PATH_MAX + 16], want[PATH_MAX + 64];
    run_t           r;

    ck_assert_int_lt(
        snprintf(dir, sizeof(dir), "%s/noxrunner_sandbox_py", base),
        (int)sizeof(dir));
    (void)snprintf(ws, sizeof(ws), "%s/workspace", dir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(mkdir(ws, 0755), 0);
    tu_write_file(ws, "notes.txt", "mine\n", 5);
    ck_assert_int_eq(utimensat(AT_FDCWD, dir, old, 0), 0);
    (void)snprintf(want, sizeof(want),
                   "noxrc-rpc: a directory not made by noxrunner is in the "
                   "way: %s\n",
                   dir);
    cli(&r, "list", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_null(strstr(r.out, "py"));
    run_free(&r);
    cli(&r, "create", "py", (char *)NULL);
    ck_assert_int_eq(r.status, 70);
    ck_assert_str_eq(r.err, want);
    run_free(&r);
    cli(&r, "delete", "py", (char *)NULL);
    ck_assert_int_eq(r.status, 70);
    ck_assert_str_eq(r.err, want);
    run_free(&r);
    char *s = tu_read_file(ws, "notes.txt", NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "mine\n");
    free(s);
}
END_TEST

START_TEST(cli_verbose_summarises_each_call)
{
    run_t r;

    cli(&r, "--verbose", "create", "s", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strncmp(r.err, "create s: created in ", 21) == 0 &&
                      ends_with(r.err, " ms\n"),
                  "stderr: %s", r.err);
    run_free(&r);
    /* exec: one line, after the command's own output. */
    cli(&r, "--verbose", "exec", "s", "sh", "-c", "echo hi; echo oops >&2",
        (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "hi\n");
    ck_assert_msg(strncmp(r.err, "oops\nexec s: exit 0 (EXITED) in ", 32) == 0,
                  "stderr: %s", r.err);
    ck_assert_msg(strstr(r.err, " ms, cpu ") != NULL &&
                      strstr(r.err, " KiB, stdout 3 B, stderr 5 B\n") != NULL &&
                      count_char(r.err, '\n') == 2,
                  "stderr: %s", r.err);
    run_free(&r);
    cli(&r, "--verbose", "sh", "s", "kill -9 $$", (char *)NULL);
    ck_assert_int_eq(r.status, 137);
    ck_assert_msg(
        strncmp(r.err, "sh s: exit 137 (SIGNALED, signal 9) in ", 39) == 0,
        "stderr: %s", r.err);
    run_free(&r);
    cli(&r, "--verbose", "exec", "s", "rm", "x", (char *)NULL);
    ck_assert_int_eq(r.status, 77);
    ck_assert_msg(strncmp(r.err, "exec s: BLOCKED in ", 19) == 0, "stderr: %s",
                  r.err);
    run_free(&r);
}
END_TEST

/* ---- isolation, limits, how a command ended ---- */

START_TEST(cli_unknown_isolation_is_a_usage_error)
{
    run_t r;

    cli(&r, "--isolation", "bogus", "health", (char *)NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--isolation: 'bogus' is not auto, namespaces "
                                "or none") != NULL,
                  "stderr: %s", r.err);
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    /* A server's level is noxrunnerd's: refused, not silently ignored. */
    cli_raw(&r, "--isolation", "none", "health", (char *)NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--isolation applies only with "
                                        "--local-test"));
    run_free(&r);
}
END_TEST

START_TEST(cli_health_prints_the_isolation_level)
{
    run_t r;

    cli(&r, "--isolation", "none", "health", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    /* Not the highest level: the reason follows in parentheses. */
    ck_assert_msg(strstr(r.out, "\nisolation: none (") != NULL, "stdout: %s",
                  r.out);
    run_free(&r);
    cli(&r, "--json", "health", "--isolation", "none", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    cJSON *j = json_of(&r);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "isolation")),
                     "none");
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "isolationDetail")));
    cJSON_Delete(j);
    run_free(&r);
    /* The default (auto) names whatever level it settled on. */
    cli(&r, "--json", "health", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    j = json_of(&r);
    const char *lvl = cJSON_GetStringValue(cJSON_GetObjectItem(j, "isolation"));
    ck_assert_ptr_nonnull(lvl);
    ck_assert(strcmp(lvl, "namespaces") == 0 || strcmp(lvl, "none") == 0);
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

START_TEST(cli_create_reports_isolation_and_each_limit)
{
    run_t r;

    cli(&r, "--json", "create", "s", "--mem", "64Mi", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    cJSON *j = json_of(&r);
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "isolation")));
    cJSON *arr = cJSON_GetObjectItem(j, "limits");
    ck_assert_int_eq(cJSON_GetArraySize(arr), 1);
    cJSON *l = cJSON_GetArrayItem(arr, 0);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(l, "name")),
                     "memory_limit");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(l, "value")),
                     "64Mi");
    ck_assert(cJSON_IsBool(cJSON_GetObjectItem(l, "applied")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(l, "detail")));
    cJSON_Delete(j);
    run_free(&r);
    /* Text: one line per limit, "name value: applied|ignored (why)". */
    cli(&r, "create", "t", "--pids", "32", "--allow-network", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "\nisolation: ") != NULL &&
                      (strstr(r.out, "\npids_limit 32: applied (") != NULL ||
                       strstr(r.out, "\npids_limit 32: ignored (") != NULL),
                  "stdout: %s", r.out);
    run_free(&r);
    cli(&r, "create", "u", "--mem", "5MB", (char *)NULL);
    ck_assert_int_eq(r.status, 65);
    ck_assert_msg(strstr(r.err, "memory_limit") != NULL, "stderr: %s", r.err);
    run_free(&r);
}
END_TEST

START_TEST(cli_create_says_the_image_is_not_used)
{
    run_t r;

    cli(&r, "create", "s", "--image", "python:3.11", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "\nimage python:3.11: ignored (recorded, not "
                                "used: local mode runs this machine's "
                                "userland)\n") != NULL,
                  "stdout: %s", r.out);
    run_free(&r);
    cli(&r, "--json", "create", "t", "--image", "alpine", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    cJSON *j = json_of(&r);
    cJSON *arr = cJSON_GetObjectItem(j, "limits");
    ck_assert_int_eq(cJSON_GetArraySize(arr), 1);
    cJSON *l = cJSON_GetArrayItem(arr, 0);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(l, "name")),
                     "image");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(l, "value")),
                     "alpine");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(l, "applied")));
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

START_TEST(cli_json_exec_reports_how_the_command_ended)
{
    run_t r;

    cli_ok("create", "s", NULL, NULL);
    cli(&r, "--json", "exec", "s", "sh", "-c", "exit 3", (char *)NULL);
    ck_assert_int_eq(r.status, 3);
    cJSON *j = json_of(&r);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "cause")),
                     "EXITED");
    ck_assert_int_eq(cJSON_GetObjectItem(j, "exitCode")->valueint, 3);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "signal")->valueint, 0);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "stdoutTotalBytes")->valueint, 0);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "stderrTotalBytes")->valueint, 0);
    static const char *const nums[] = {"cpuUserMs", "cpuSystemMs", "maxRssKb"};
    for (size_t i = 0; i < 3; i++)
        ck_assert_msg(cJSON_IsNumber(cJSON_GetObjectItem(j, nums[i])), "%s",
                      nums[i]);
    cJSON_Delete(j);
    run_free(&r);
    cli(&r, "--json", "sh", "s", "kill -9 $$", (char *)NULL);
    ck_assert_int_eq(r.status, 137);
    j = json_of(&r);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "cause")),
                     "SIGNALED");
    ck_assert_int_eq(cJSON_GetObjectItem(j, "signal")->valueint, 9);
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

START_TEST(cli_json_exec_of_a_blocked_command_says_blocked)
{
    run_t r;

    cli_ok("create", "s", NULL, NULL);
    cli(&r, "--json", "exec", "s", "rm", "x", (char *)NULL);
    ck_assert_int_eq(r.status, 77);
    ck_assert_str_eq(r.err, "");
    cJSON *j = json_of(&r);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "cause")),
                     "BLOCKED");
    cJSON *e = cJSON_GetObjectItem(j, "error");
    ck_assert_int_eq(cJSON_GetObjectItem(e, "code")->valueint, 7);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "message")),
                     "command not allowed: rm");
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

/* ---- upload and download ---- */

START_TEST(cli_upload_and_download_round_trip_two_files)
{
    char *src = make_dir("src");
    char *dst = make_dir("dst");
    char  a_path[PATH_MAX], b_path[PATH_MAX];
    run_t r;

    tu_write_file(src, "a.txt", "alpha\n", 6);
    tu_write_file(src, "b.bin", "\0\1\2\377", 4);
    snprintf(a_path, sizeof(a_path), "%s/a.txt", src);
    snprintf(b_path, sizeof(b_path), "%s/b.bin", src);
    cli_ok("create", "s", NULL, NULL);
    cli(&r, "upload", "s", a_path, b_path, (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "uploaded 2 files to s:/workspace\n");
    run_free(&r);
    tu_assert_no_link_out_of_a_workspace(base);
    cli(&r, "download", "s", "--extract", dst, (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    size_t len;
    char  *got = tu_read_file(dst, "a.txt", &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "alpha\n");
    free(got);
    got = tu_read_file(dst, "b.bin", &len);
    ck_assert_uint_eq(len, 4);
    ck_assert_mem_eq(got, "\0\1\2\377", 4);
    free(got);
    free(src);
    free(dst);
}
END_TEST

START_TEST(cli_upload_dir_keeps_relative_paths_and_links)
{
    char *src = make_dir("tree");
    char  sub[PATH_MAX], link[PATH_MAX];
    run_t r;

    snprintf(sub, sizeof(sub), "%s/sub", src);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    tu_write_file(sub, "c.txt", "gamma\n", 6);
    snprintf(link, sizeof(link), "%s/link", src);
    ck_assert_int_eq(symlink("sub/c.txt", link), 0);
    cli_ok("create", "s", NULL, NULL);
    cli(&r, "--json", "upload", "s", "--dir", src, "--dest", "in",
        (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    cJSON *j = json_of(&r);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "filesWritten")->valueint, 1);
    cJSON *links = cJSON_GetObjectItem(j, "linksWritten");
    ck_assert_msg(links != NULL && links->valueint == 1, "%s", r.out);
    cJSON_Delete(j);
    run_free(&r);
    /* Links are counted apart from files, not lost in the count. */
    tu_write_file(src, "d.txt", "delta\n", 6);
    cli(&r, "upload", "s", "--dir", src, "--dest", "in2", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "uploaded 2 files, 1 link to s:in2\n");
    run_free(&r);
    cli(&r, "exec", "s", "--workdir", "/workspace/in", "cat", "sub/c.txt",
        (char *)NULL);
    ck_assert_str_eq(r.out, "gamma\n");
    run_free(&r);
    cli(&r, "exec", "s", "readlink", "in/link", (char *)NULL);
    ck_assert_str_eq(r.out, "sub/c.txt\n");
    run_free(&r);
    tu_assert_no_link_out_of_a_workspace(base);
    free(src);
}
END_TEST

/* A FIFO would block the open (and a device would be read for ever), so
 * anything but a regular file, directory or symlink is refused before
 * anything is read or sent: named, reached through a link, or met in
 * --dir's walk. */
START_TEST(cli_upload_refuses_fifos_and_devices_without_hanging)
{
    char *src = make_dir("odd");
    char  fifo[PATH_MAX], link[PATH_MAX], want[PATH_MAX + 128];
    run_t r;

    snprintf(fifo, sizeof(fifo), "%s/pipe", src);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    snprintf(link, sizeof(link), "%s/to-pipe", base);
    ck_assert_int_eq(symlink(fifo, link), 0);
    cli_ok("create", "s", NULL, NULL);
    const char *named[] = {fifo, link};
    for (size_t i = 0; i < 2; i++) {
        cli(&r, "upload", "s", named[i], (char *)NULL);
        snprintf(want, sizeof(want),
                 "noxrc-rpc: %s: a FIFO cannot be uploaded (only regular "
                 "files, directories and symlinks)\n",
                 named[i]);
        ck_assert_msg(r.status == 65 && strcmp(r.err, want) == 0 && r.secs < 10,
                      "%s: exit %d after %.1f s: %s", named[i], r.status,
                      r.secs, r.err);
        run_free(&r);
    }
    cli(&r, "upload", "s", "/dev/null", (char *)NULL);
    ck_assert_int_eq(r.status, 65);
    ck_assert_str_eq(r.err, "noxrc-rpc: /dev/null: a character device cannot "
                            "be uploaded (only regular files, directories "
                            "and symlinks)\n");
    run_free(&r);
    tu_write_file(src, "fine.txt", "fine\n", 5);
    cli(&r, "upload", "s", "--dir", src, (char *)NULL);
    ck_assert_int_eq(r.status, 65);
    ck_assert_str_eq(r.err, "noxrc-rpc: pipe: a FIFO cannot be uploaded "
                            "(only regular files, directories and "
                            "symlinks)\n");
    ck_assert(r.secs < 10);
    run_free(&r);
    /* Nothing was sent: the workspace is still empty. */
    cli(&r, "exec", "s", "ls", "-A", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    free(src);
}
END_TEST

START_TEST(cli_download_output_writes_a_gzip_file)
{
    char  out[PATH_MAX];
    run_t r;

    cli_ok("create", "s", NULL, NULL);
    cli_ok("exec", "s", "touch", "f");
    snprintf(out, sizeof(out), "%s/ws.tar.gz", base);
    cli(&r, "--json", "download", "s", "--output", out, (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    cJSON *j = json_of(&r);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "output")),
                     out);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "files")->valueint, 1);
    size_t len;
    char  *data = tu_read_file(base, "ws.tar.gz", &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "bytes")->valueint, (int)len);
    ck_assert_uint_ge(len, 2);
    ck_assert_int_eq((unsigned char)data[0], 0x1f);
    ck_assert_int_eq((unsigned char)data[1], 0x8b);
    free(data);
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

/* --format picks the archive format of both directions: the bytes
 * --output writes carry its signature, and an upload in it round-trips. */
static void
format_round_trip(const char *format, const uint8_t *magic, size_t off,
                  size_t mlen)
{
    char  *src = make_dir("fsrc");
    char  *dst = make_dir("fdst");
    char   path[PATH_MAX], out[PATH_MAX];
    size_t len;
    run_t  r;

    tu_write_file(src, "a.txt", "alpha\n", 6);
    snprintf(path, sizeof(path), "%s/a.txt", src);
    snprintf(out, sizeof(out), "%s/ws.archive", base);
    cli_ok("create", "s", NULL, NULL);
    cli(&r, "--format", format, "upload", "s", path, (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    cli(&r, "download", "s", "--format", format, "--output", out, (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    char *data = tu_read_file(base, "ws.archive", &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_gt(len, off + mlen);
    ck_assert_mem_eq(data + off, magic, mlen);
    free(data);
    cli(&r, "download", "s", "--format", format, "--extract", dst,
        (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    char *got = tu_read_file(dst, "a.txt", &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "alpha\n");
    free(got);
    free(src);
    free(dst);
}

START_TEST(cli_format_tar_round_trips_uncompressed)
{
    static const uint8_t ustar[] = {'u', 's', 't', 'a', 'r'};
    format_round_trip("tar", ustar, 257, sizeof(ustar));
}
END_TEST

START_TEST(cli_format_zstd_round_trips_zstd)
{
    static const uint8_t zstd[] = {0x28, 0xb5, 0x2f, 0xfd};
    format_round_trip("zstd", zstd, 0, sizeof(zstd));
}
END_TEST

START_TEST(cli_unknown_format_is_a_usage_error)
{
    run_t r;

    cli(&r, "--format", "bz2", "list", (char *)NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--format: 'bz2' is not gz, tar or "
                                        "zstd"));
    run_free(&r);
}
END_TEST

START_TEST(cli_download_without_target_extracts_into_the_cwd)
{
    char      *here = make_dir("here");
    run_opts_t o = {.cwd = here};
    run_t      r;

    cli_ok("create", "s", NULL, NULL);
    cli_ok("sh", "s", "echo x > made.txt", NULL);
    cli_o(&r, &o, "download", "s", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(tu_exists(here, "made.txt"), 1);
    run_free(&r);
    free(here);
}
END_TEST

/* ---- the interactive shell ---- */

START_TEST(cli_shell_tracks_cd_between_lines)
{
    run_opts_t o = {.input = "cd sub\npwd\ncd nowhere\ncd ..\npwd\nexit\n"};
    run_t      r;

    cli_ok("create", "s", NULL, NULL);
    cli_ok("exec", "s", "mkdir", "sub");
    cli_o(&r, &o, "shell", "s", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    char *nl = strchr(r.out, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    ck_assert_msg(ends_with(r.out, "/workspace/sub"), "first pwd: %s", r.out);
    ck_assert_msg(ends_with(nl + 1, "/workspace\n"), "second pwd: %s", nl + 1);
    ck_assert_ptr_nonnull(strstr(r.err, "cd: nowhere: no such directory"));
    run_free(&r);
}
END_TEST

START_TEST(cli_shell_ends_at_eof_with_the_last_status)
{
    run_opts_t o = {.input = "echo one\nfalse\n"};
    run_t      r;

    cli_ok("create", "s", NULL, NULL);
    cli_o(&r, &o, "shell", "s", (char *)NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "one\n");
    run_free(&r);
}
END_TEST

/* ---- server mode and reachability ---- */

START_TEST(cli_unreachable_server_exits_69_quickly)
{
    char  url[PATH_MAX];
    run_t r;

    snprintf(url, sizeof(url), "ipc://%s/none.sock", base);
    cli_raw(&r, "--url", url, "--timeout", "1", "health", (char *)NULL);
    ck_assert_int_eq(r.status, 69);
    ck_assert_msg(r.secs < 3.5, "took %.1f s", r.secs);
    ck_assert_msg(strncmp(r.err, "noxrc-rpc: ", 11) == 0, "%s", r.err);
    run_free(&r);
}
END_TEST

static pid_t
server_start(const char *url)
{
    char   path[PATH_MAX];
    pid_t  pid;
    char  *argv[] = {path, "--listen", (char *)url, "--base-dir",
                     base, "--quiet",  NULL};
    char **env = run_env(false, NULL, NULL);

    snprintf(path, sizeof(path), "%s/noxrunnerd", getenv("NOX_BUILD_DIR"));
    int rc = posix_spawn(&pid, path, NULL, NULL, argv, env);
    free(env);
    ck_assert_msg(rc == 0, "spawn %s: %s", path, strerror(rc));
    return pid;
}

/* SIGTERM, then wait up to 10 s (SIGKILL after that). The exit status. */
static int
server_stop(pid_t pid)
{
    int st = 0;

    kill(pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    return run_wait(pid, true) + 1000; /* marks "had to be killed" */
}

START_TEST(cli_talks_to_a_noxrunnerd_server)
{
    char  url[PATH_MAX];
    run_t c, e, d;

    snprintf(url, sizeof(url), "ipc://%s/d.sock", base);
    pid_t pid = server_start(url);
    /* No assertions until the server is stopped again. */
    cli_raw(&c, "--url", url, "--timeout", "10", "create", "s", "--wait",
            (char *)NULL);
    cli_raw(&e, "--url", url, "exec", "s", "echo", "Hello", (char *)NULL);
    cli_raw(&d, "--url", url, "delete", "s", (char *)NULL);
    int st = server_stop(pid);
    ck_assert_msg(c.status == 0, "create: %d %s", c.status, c.err);
    ck_assert_msg(e.status == 0, "exec: %d %s", e.status, e.err);
    ck_assert_str_eq(e.out, "Hello\n");
    ck_assert_msg(d.status == 0, "delete: %d %s", d.status, d.err);
    ck_assert_str_eq(d.out, "deleted sandbox s\n");
    ck_assert_int_eq(st, 0);
    run_free(&c);
    run_free(&e);
    run_free(&d);
}
END_TEST

/* A local input that is missing fails before the tool connects, so the
 * server is not left with a connection that hung up mid-handshake (which
 * breaks an ipc listener of nng 1.5.2 until the server replaces it), and
 * the next call is answered at once. */
START_TEST(cli_missing_local_inputs_fail_before_connecting)
{
    char  url[PATH_MAX], out[PATH_MAX];
    run_t w, f[4], h;

    snprintf(url, sizeof(url), "ipc://%s/d.sock", base);
    snprintf(out, sizeof(out), "%s/no/such/dir/ws.tar.gz", base);
    pid_t pid = server_start(url);
    /* No assertions until the server is stopped again. */
    cli_raw(&w, "--url", url, "--timeout", "10", "create", "s", "--wait",
            (char *)NULL);
    cli_raw(&f[0], "--url", url, "exec", "s", "--stdin-file",
            "/nonexistent/input", "--", "cat", (char *)NULL);
    cli_raw(&f[1], "--url", url, "upload", "s", "/nonexistent/file",
            (char *)NULL);
    cli_raw(&f[2], "--url", url, "upload", "s", "--dir", "/nonexistent/dir",
            (char *)NULL);
    cli_raw(&f[3], "--url", url, "download", "s", "--output", out,
            (char *)NULL);
    cli_raw(&h, "--url", url, "--timeout", "3", "health", (char *)NULL);
    int st = server_stop(pid);
    ck_assert_msg(w.status == 0, "create: %d %s", w.status, w.err);
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(f[i].status == 66, "case %d: %d %s", i, f[i].status,
                      f[i].err);
        ck_assert_msg(strstr(f[i].err, "/nonexistent/") != NULL ||
                          strstr(f[i].err, out) != NULL,
                      "case %d: %s", i, f[i].err);
        run_free(&f[i]);
    }
    ck_assert_msg(h.status == 0, "health: %d %s", h.status, h.err);
    ck_assert_msg(h.secs < 1.0, "health took %.2f s", h.secs);
    ck_assert_int_eq(st, 0);
    run_free(&w);
    run_free(&h);
}
END_TEST

START_TEST(cli_local_mode_warns_on_stderr_unless_quiet)
{
    run_opts_t o = {.noisy = true};
    run_t      r;

    cli_ok("create", "s", NULL, NULL);
    cli_o(&r, &o, "exec", "s", "echo", "Hello", (char *)NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "Hello\n");
    ck_assert_msg(strstr(r.err, "echo") != NULL, "no warning: %s", r.err);
    ck_assert_msg(strchr(r.err, '\033') == NULL, "ANSI escapes: %s", r.err);
    run_free(&r);
}
END_TEST

/* ---- over http: a NoxRunner backend that is not ours ---- */

static tp_child_t stub; /* spec_backend.py, stopped by cli_teardown */

/* A 127.0.0.1 port nothing listens on (bound, then released). */
static int
free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t          len = sizeof(a);
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

START_TEST(cli_talks_http_to_a_noxrunner_backend)
{
    char *in = make_dir("in"), *out = make_dir("out");
    run_t r;

    tp_spec_backend_start(&stub, base, false, NULL);
    tu_write_file(in, "a.txt", "alpha\n", 6);
    cli_raw(&r, "--url", stub.url, "health", (char *)NULL);
    ck_assert_msg(r.status == 0, "health: %d %s", r.status, r.err);
    ck_assert_msg(strncmp(r.out, "SERVING", 7) == 0, "%s", r.out);
    run_free(&r);
    cli_raw(&r, "--url", stub.url, "create", "s", (char *)NULL);
    ck_assert_msg(r.status == 0, "create: %d %s", r.status, r.err);
    run_free(&r);
    /* The stub's canned exec: exit 3, the command echoed. */
    cli_raw(&r, "--url", stub.url, "exec", "s", "echo", "hi", (char *)NULL);
    ck_assert_msg(r.status == 3, "exec: %d %s", r.status, r.err);
    ck_assert_str_eq(r.out, "ran: echo hi\n");
    run_free(&r);
    cli_raw(&r, "--url", stub.url, "touch", "s", (char *)NULL);
    ck_assert_msg(r.status == 0, "touch: %d %s", r.status, r.err);
    run_free(&r);
    /* It gives back the archive it was sent. */
    cli_raw(&r, "--url", stub.url, "upload", "s", "--dir", in, (char *)NULL);
    ck_assert_msg(r.status == 0, "upload: %d %s", r.status, r.err);
    run_free(&r);
    cli_raw(&r, "--url", stub.url, "download", "s", "--extract", out,
            (char *)NULL);
    ck_assert_msg(r.status == 0, "download: %d %s", r.status, r.err);
    run_free(&r);
    char *got = tu_read_file(out, "a.txt", NULL);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "alpha\n");
    free(got);
    cli_raw(&r, "--url", stub.url, "delete", "s", (char *)NULL);
    ck_assert_msg(r.status == 0, "delete: %d %s", r.status, r.err);
    ck_assert_str_eq(r.out, "deleted sandbox s\n");
    run_free(&r);
    /* List is ours only. */
    cli_raw(&r, "--url", stub.url, "list", (char *)NULL);
    ck_assert_msg(r.status == 70 && strstr(r.err, "not served") != NULL,
                  "list: %d %s", r.status, r.err);
    run_free(&r);
    free(in);
    free(out);
}
END_TEST

/* The same tool against noxrunnerd's REST API: the real engine runs it. */
START_TEST(cli_talks_http_to_noxrunnerd)
{
    char  bin[PATH_MAX], ipc[PATH_MAX];
    char *argv[] = {bin,       "--listen", ipc,           "--base-dir", base,
                    "--quiet", "--http",   "127.0.0.1:0", NULL};
    run_t r;

    tp_build_path(bin, sizeof(bin), "noxrunnerd");
    snprintf(ipc, sizeof(ipc), "ipc://%s/d.sock", base);
    tp_start(&stub, argv, base, "noxrunnerd.log", "http://");
    cli_raw(&r, "--url", stub.url, "create", "s", (char *)NULL);
    ck_assert_msg(r.status == 0, "create: %d %s", r.status, r.err);
    run_free(&r);
    cli_raw(&r, "--url", stub.url, "exec", "s", "sh", "-c",
            "echo Hello; exit 4", (char *)NULL);
    ck_assert_msg(r.status == 4, "exec: %d %s", r.status, r.err);
    ck_assert_str_eq(r.out, "Hello\n");
    run_free(&r);
    cli_raw(&r, "--url", stub.url, "exec", "s", "rm", "x", (char *)NULL);
    ck_assert_msg(r.status == 77, "blocked: %d %s", r.status, r.err);
    run_free(&r);
    cli_raw(&r, "--url", stub.url, "delete", "s", (char *)NULL);
    ck_assert_msg(r.status == 0, "delete: %d %s", r.status, r.err);
    ck_assert_str_eq(r.out, "deleted sandbox s\n");
    run_free(&r);
    cli_raw(&r, "--url", stub.url, "delete", "s", (char *)NULL);
    ck_assert_msg(r.status == 0, "delete again: %d %s", r.status, r.err);
    ck_assert_str_eq(r.out, "no sandbox s: nothing deleted\n");
    run_free(&r);
}
END_TEST

/* How many requests for path the stub logged to dir/stub.log. */
static int
stub_requests(const char *dir, const char *path)
{
    char  line[256];
    char *log = tu_read_file(dir, "stub.log", NULL);
    int   n = 0;

    ck_assert_ptr_nonnull(log);
    snprintf(line, sizeof(line), "spec_backend: GET %s\n", path);
    for (const char *p = log; (p = strstr(p, line)); p++)
        n++;
    free(log);
    return n;
}

/* $NOXRUNNER_BASE_URL is used (the stub sees the call), and
 * $NOXRUNNER_URL wins over it (a second stub sees the next one, the
 * first nothing more). */
START_TEST(cli_takes_the_url_from_noxrunner_base_url)
{
    char       env[512], env2[512], other_dir[PATH_MAX];
    run_opts_t o = {.env = env};
    run_t      r;
    tp_child_t other = {0};

    tp_spec_backend_start(&stub, base, false, NULL);
    snprintf(env, sizeof(env), "NOXRUNNER_BASE_URL=%s", stub.url);
    cli_raw_o(&r, &o, "health", (char *)NULL);
    ck_assert_msg(r.status == 0, "health: %d %s", r.status, r.err);
    run_free(&r);
    ck_assert_int_eq(stub_requests(base, "/healthz"), 1);

    snprintf(other_dir, sizeof(other_dir), "%s/other", base);
    ck_assert_int_eq(mkdir(other_dir, 0700), 0);
    tp_spec_backend_start(&other, other_dir, false, NULL);
    snprintf(env2, sizeof(env2), "NOXRUNNER_URL=%s", other.url);
    o.env2 = env2;
    cli_raw_o(&r, &o, "health", (char *)NULL);
    ck_assert_msg(r.status == 0, "health: %d %s", r.status, r.err);
    run_free(&r);
    ck_assert_int_eq(stub_requests(other_dir, "/healthz"), 1);
    ck_assert_int_eq(stub_requests(base, "/healthz"), 1);
    (void)tp_stop(&other);
}
END_TEST

START_TEST(cli_unreachable_http_server_exits_69_quickly)
{
    char  url[64];
    run_t r;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", free_port());
    cli_raw(&r, "--url", url, "--timeout", "1", "create", "s", (char *)NULL);
    ck_assert_int_eq(r.status, 69);
    ck_assert_msg(r.secs < 3.5, "took %.1f s", r.secs);
    ck_assert_msg(strstr(r.err, "cannot reach http://127.0.0.1:") != NULL, "%s",
                  r.err);
    run_free(&r);
}
END_TEST

/* https with a token: --ca-file trusts the test's certificate,
 * --token-file carries the token (a file others may read is warned
 * about, not refused); without either the call fails. */
START_TEST(cli_reaches_https_with_token_file_and_ca_file)
{
    char              cert[PATH_MAX], key[PATH_MAX], tok[PATH_MAX];
    const char *const extra[] = {"--tls-cert", cert,    "--tls-key", key,
                                 "--token",    "t0ken", NULL};
    run_t             r;

    tp_make_cert(base);
    snprintf(cert, sizeof(cert), "%s/cert.pem", base);
    snprintf(key, sizeof(key), "%s/key.pem", base);
    snprintf(tok, sizeof(tok), "%s/token", base);
    tu_write_file(base, "token", "t0ken\n", 6);
    ck_assert_int_eq(chmod(tok, 0600), 0);
    tp_spec_backend_start(&stub, base, true, extra);

    cli_raw(&r, "--url", stub.url, "--ca-file", cert, "--token-file", tok,
            "create", "s", (char *)NULL);
    ck_assert_msg(r.status == 0, "create: %d %s", r.status, r.err);
    ck_assert_str_eq(r.err, "");
    run_free(&r);

    ck_assert_int_eq(chmod(tok, 0644), 0);
    cli_raw(&r, "--url", stub.url, "--ca-file", cert, "--token-file", tok,
            "create", "s", (char *)NULL);
    ck_assert_msg(r.status == 0, "create: %d %s", r.status, r.err);
    ck_assert_msg(strstr(r.err, "warning: token file") != NULL, "%s", r.err);
    run_free(&r);

    cli_raw(&r, "--url", stub.url, "--ca-file", cert, "create", "s",
            (char *)NULL);
    ck_assert_msg(r.status == 77 && strstr(r.err, "bearer token") != NULL,
                  "no token: %d %s", r.status, r.err);
    run_free(&r);

    cli_raw(&r, "--url", stub.url, "--token-file", tok, "create", "s",
            (char *)NULL);
    ck_assert_msg(r.status == 69 && strstr(r.err, "certificate") != NULL,
                  "no CA: %d %s", r.status, r.err);
    run_free(&r);

    cli_raw(&r, "--url", stub.url, "--token-file", "/nonexistent/token",
            "create", "s", (char *)NULL);
    ck_assert_msg(r.status == 65 && strstr(r.err, "/nonexistent/token"),
                  "missing token file: %d %s", r.status, r.err);
    run_free(&r);
}
END_TEST

static void
http_teardown(void)
{
    (void)tp_stop(&stub);
    cli_teardown();
}

static Suite *
cli_suite(void)
{
    Suite *s = suite_create("cli");

    TCase *basics = tcase_create("exit codes");
    tcase_add_checked_fixture(basics, cli_setup, cli_teardown);
    tcase_set_timeout(basics, 60);
    tcase_add_test(basics, cli_runs_the_seed_example_as_three_processes);
    tcase_add_test(basics, cli_exec_exits_with_the_command_exit_code);
    tcase_add_test(basics, cli_exec_ignore_exit_code_exits_zero);
    tcase_add_test(basics, cli_exec_of_a_blocked_command_exits_77);
    tcase_add_test(basics, cli_unknown_session_exits_66);
    tcase_add_test(basics, cli_invalid_session_id_exits_65);
    tcase_add_test(basics, cli_usage_errors_exit_2);
    tcase_add_test(basics, cli_help_and_version_exit_0);
    tcase_add_test(basics,
                   cli_help_of_each_command_prints_its_usage_and_an_example);
    tcase_add_test(
        basics, cli_help_alone_is_the_global_help_and_an_unknown_topic_exits_2);
    tcase_add_test(basics, cli_base_dir_without_local_test_is_a_usage_error);
    tcase_add_test(basics, cli_number_too_big_says_out_of_range);
    tcase_add_test(basics, cli_json_shell_is_a_usage_error);
    tcase_add_test(basics, cli_delete_of_an_unknown_session_exits_0);
    tcase_add_test(basics, cli_leaves_a_python_made_sandbox_directory_alone);
    suite_add_tcase(s, basics);

    TCase *parsing = tcase_create("options");
    tcase_add_checked_fixture(parsing, cli_setup, cli_teardown);
    tcase_set_timeout(parsing, 60);
    tcase_add_test(parsing, cli_accepts_options_after_positionals);
    tcase_add_test(parsing, cli_exec_stops_option_parsing_at_the_command);
    tcase_add_test(parsing, cli_exec_passes_env_and_stdin);
    tcase_add_test(parsing, cli_sh_runs_a_shell_command_string);
    tcase_add_test(parsing, cli_verbose_summarises_each_call);
    suite_add_tcase(s, parsing);

    TCase *json = tcase_create("json");
    tcase_add_checked_fixture(json, cli_setup, cli_teardown);
    tcase_set_timeout(json, 60);
    tcase_add_test(json, cli_json_exec_prints_one_object);
    tcase_add_test(json, cli_json_reports_not_found_as_an_error_object);
    tcase_add_test(json, cli_json_replaces_invalid_utf8);
    tcase_add_test(json, cli_json_lists_touches_and_checks_health);
    suite_add_tcase(s, json);

    TCase *iso = tcase_create("isolation and limits");
    tcase_add_checked_fixture(iso, cli_setup, cli_teardown);
    tcase_set_timeout(iso, 60);
    tcase_add_test(iso, cli_unknown_isolation_is_a_usage_error);
    tcase_add_test(iso, cli_health_prints_the_isolation_level);
    tcase_add_test(iso, cli_create_reports_isolation_and_each_limit);
    tcase_add_test(iso, cli_create_says_the_image_is_not_used);
    tcase_add_test(iso, cli_json_exec_reports_how_the_command_ended);
    tcase_add_test(iso, cli_json_exec_of_a_blocked_command_says_blocked);
    suite_add_tcase(s, iso);

    TCase *files = tcase_create("files");
    tcase_add_checked_fixture(files, cli_setup, cli_teardown);
    tcase_set_timeout(files, 60);
    tcase_add_test(files, cli_upload_and_download_round_trip_two_files);
    tcase_add_test(files, cli_upload_dir_keeps_relative_paths_and_links);
    tcase_add_test(files, cli_upload_refuses_fifos_and_devices_without_hanging);
    tcase_add_test(files, cli_download_output_writes_a_gzip_file);
    tcase_add_test(files, cli_format_tar_round_trips_uncompressed);
    tcase_add_test(files, cli_format_zstd_round_trips_zstd);
    tcase_add_test(files, cli_unknown_format_is_a_usage_error);
    tcase_add_test(files, cli_download_without_target_extracts_into_the_cwd);
    suite_add_tcase(s, files);

    TCase *shell = tcase_create("shell");
    tcase_add_checked_fixture(shell, cli_setup, cli_teardown);
    tcase_set_timeout(shell, 60);
    tcase_add_test(shell, cli_shell_tracks_cd_between_lines);
    tcase_add_test(shell, cli_shell_ends_at_eof_with_the_last_status);
    suite_add_tcase(s, shell);

    TCase *server = tcase_create("server");
    tcase_add_checked_fixture(server, cli_setup, cli_teardown);
    tcase_set_timeout(server, 60);
    tcase_add_test(server, cli_unreachable_server_exits_69_quickly);
    tcase_add_test(server, cli_talks_to_a_noxrunnerd_server);
    tcase_add_test(server, cli_missing_local_inputs_fail_before_connecting);
    tcase_add_test(server, cli_local_mode_warns_on_stderr_unless_quiet);
    suite_add_tcase(s, server);

    TCase *http = tcase_create("http");
    tcase_add_checked_fixture(http, cli_setup, http_teardown);
    tcase_set_timeout(http, 60);
    tcase_add_test(http, cli_talks_http_to_a_noxrunner_backend);
    tcase_add_test(http, cli_talks_http_to_noxrunnerd);
    tcase_add_test(http, cli_takes_the_url_from_noxrunner_base_url);
    tcase_add_test(http, cli_unreachable_http_server_exits_69_quickly);
    tcase_add_test(http, cli_reaches_https_with_token_file_and_ca_file);
    suite_add_tcase(s, http);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(cli_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
