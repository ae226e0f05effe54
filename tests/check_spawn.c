/* check_spawn.c - running commands: output, exit codes, stdin, environment,
 * working directory, fds, timeouts, output caps and concurrency. */
#include "runner.h"
#include "spawn.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Fixture state: each test runs in its own forked process (CK_FORK). */
static char *tmpdir;
static int   tmpdir_fd = -1;

static const char *const test_env[] = {"PATH=/usr/bin:/bin", NULL};

static void
spawn_setup(void)
{
    tmpdir = tu_mkdtemp();
    tmpdir_fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(tmpdir_fd, 0);
}

static void
spawn_teardown(void)
{
    if (tmpdir_fd >= 0)
        (void)close(tmpdir_fd);
    tmpdir_fd = -1;
    tu_rmtree_free(tmpdir);
    tmpdir = NULL;
}

/* Options for argv in the fixture directory: 10 s timeout, 1 MiB cap. */
static nox_spawn_opts_t
opts_for(const char *const *argv)
{
    nox_spawn_opts_t o = {0};

    o.argv = argv;
    o.envp = test_env;
    o.path_env = "/usr/bin:/bin";
    o.cwd_fd = tmpdir_fd;
    o.timeout_ms = 10000;
    o.output_cap = 1024 * 1024;
    return o;
}

static void
result_free(nox_exec_result_t *r)
{
    nox__buf_free(&r->out);
    nox__buf_free(&r->err);
}

/* The captured bytes as a NUL-terminated string (for text outputs). */
static const char *
buf_str(nox_buf_t *b)
{
    ck_assert_int_eq(nox__buf_append(b, "", 1), NOX_OK);
    b->len--;
    return (const char *)b->data;
}

/* One run through a runner, waited for: what the engine's Exec does. */
typedef struct {
    pthread_mutex_t    mu;
    pthread_cond_t     cv;
    bool               finished;
    nox_err_t          rv;
    nox_exec_result_t *res;
    nox_status_t      *st;
    pid_t             *pgid;
} test_wait_t;

static void
test_started(void *arg, pid_t pgid)
{
    test_wait_t *w = arg;

    if (w->pgid != NULL)
        *w->pgid = pgid;
}

static void
test_done(void *arg, nox_err_t rv, nox_exec_result_t *res,
          const nox_status_t *st)
{
    test_wait_t *w = arg;

    (void)pthread_mutex_lock(&w->mu);
    w->rv = rv;
    if (rv == NOX_OK)
        *w->res = *res;
    if (w->st != NULL)
        *w->st = *st;
    w->finished = true;
    (void)pthread_cond_signal(&w->cv);
    (void)pthread_mutex_unlock(&w->mu);
}

static nox_err_t
test_spawn_run_pgid(const nox_spawn_opts_t *o, nox_exec_result_t *r,
                    nox_status_t *st, pid_t *pgid)
{
    test_wait_t    w = {PTHREAD_MUTEX_INITIALIZER,
                        PTHREAD_COND_INITIALIZER,
                        false,
                        NOX_OK,
                        r,
                        st,
                        pgid};
    nox__runner_t *run;
    nox_err_t      rv;

    ck_assert_int_eq(nox__runner_open(&run, NULL), NOX_OK);
    rv = nox__runner_start(run, o, "test", test_started, test_done, &w, st);
    if (rv == NOX_OK) {
        (void)pthread_mutex_lock(&w.mu);
        while (!w.finished)
            (void)pthread_cond_wait(&w.cv, &w.mu);
        (void)pthread_mutex_unlock(&w.mu);
        rv = w.rv;
    }
    nox__runner_close(run);
    return rv;
}

static nox_err_t
test_spawn_run(const nox_spawn_opts_t *o, nox_exec_result_t *r,
               nox_status_t *st)
{
    return test_spawn_run_pgid(o, r, st, NULL);
}

/* Run o and assert that the call itself succeeded; *pgid (may be NULL)
 * gets the command's process group, 0 if none was started. */
static void
run_ok_pgid(const nox_spawn_opts_t *o, nox_exec_result_t *r, pid_t *pgid)
{
    nox_status_t st;

    *r = (nox_exec_result_t)NOX_EXEC_RESULT_INIT;
    nox_err_t rv = test_spawn_run_pgid(o, r, &st, pgid);
    ck_assert_msg(rv == NOX_OK, "spawn failed: %s", st.msg);
    ck_assert_int_eq(st.code, NOX_OK);
}

static void
run_ok(const nox_spawn_opts_t *o, nox_exec_result_t *r)
{
    run_ok_pgid(o, r, NULL);
}

/* ---- output and exit codes ---- */

START_TEST(spawn_captures_stdout_and_exit_zero)
{
    const char *const argv[] = {"echo", "hello", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;
    pid_t             pgid = 0;

    run_ok_pgid(&o, &r, &pgid);
    ck_assert_str_eq(buf_str(&r.out), "hello\n");
    ck_assert_uint_eq(r.err.len, 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_int_eq(r.term_signal, 0);
    ck_assert(!r.timed_out && !r.out_truncated && !r.err_truncated);
    ck_assert_uint_eq(r.out_total, 6);
    ck_assert_int_gt(pgid, 0);
    result_free(&r);
}
END_TEST

START_TEST(spawn_reports_the_exit_code)
{
    const char *const argv[] = {"sh", "-c", "exit 3", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 3);
    ck_assert_int_eq(r.term_signal, 0);
    result_free(&r);
}
END_TEST

START_TEST(spawn_keeps_stderr_separate_from_stdout)
{
    const char *const argv[] = {"sh", "-c", "echo out; echo err >&2", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    run_ok(&o, &r);
    ck_assert_str_eq(buf_str(&r.out), "out\n");
    ck_assert_str_eq(buf_str(&r.err), "err\n");
    result_free(&r);
}
END_TEST

START_TEST(spawn_reports_death_by_signal_as_128_plus_n)
{
    const char *const argv[] = {"sh", "-c", "kill -9 $$", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 137);
    ck_assert_int_eq(r.term_signal, 9);
    ck_assert(!r.timed_out);
    result_free(&r);
}
END_TEST

START_TEST(spawn_measures_duration_on_a_monotonic_clock)
{
    const char *const argv[] = {"sleep", "0.2", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_int_ge(r.duration_ms, 200);
    ck_assert_int_lt(r.duration_ms, 2000);
    result_free(&r);
}
END_TEST

/* ---- stdin ---- */

START_TEST(spawn_delivers_stdin_bytes)
{
    static const char in[] = "line one\nbin\0ary\n";
    const char *const argv[] = {"cat", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    o.stdin_data = in;
    o.stdin_len = sizeof(in) - 1;
    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_uint_eq(r.out.len, sizeof(in) - 1);
    ck_assert_mem_eq(r.out.data, in, sizeof(in) - 1);
    result_free(&r);
}
END_TEST

/* 4 MiB in, 4 MiB out through cat: stdin is written while output is read,
 * or both sides would block on full pipes. */
START_TEST(spawn_streams_large_stdin_while_reading_output)
{
    const size_t      n = 4 * 1024 * 1024;
    uint8_t          *in = malloc(n);
    const char *const argv[] = {"cat", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    ck_assert_ptr_nonnull(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (uint8_t)(i * 7 + i / 251);
    o.stdin_data = in;
    o.stdin_len = n;
    o.output_cap = n;
    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_uint_eq(r.out.len, n);
    ck_assert(memcmp(r.out.data, in, n) == 0);
    ck_assert(!r.out_truncated);
    result_free(&r);
    free(in);
}
END_TEST

/* The test process keeps SIGPIPE at its default (fatal) action: if the
 * engine let SIGPIPE through, this test would die. */
START_TEST(spawn_survives_a_command_that_ignores_its_stdin)
{
    const size_t      n = 1024 * 1024;
    uint8_t          *in = calloc(1, n);
    const char *const argv[] = {"true", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    ck_assert_ptr_nonnull(in);
    ck_assert(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    o.stdin_data = in;
    o.stdin_len = n;
    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 0);
    result_free(&r);
    free(in);
}
END_TEST

START_TEST(spawn_gives_dev_null_when_there_is_no_stdin)
{
    const char *const argv[] = {"cat", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_uint_eq(r.out.len, 0);
    ck_assert_int_lt(r.duration_ms, 2000);
    ck_assert(!r.timed_out);
    result_free(&r);
}
END_TEST

/* ---- argv, environment, working directory, fds ---- */

START_TEST(spawn_does_not_shell_expand_argv)
{
    const char *const argv[] = {"echo", "$X", "*", "a b", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    run_ok(&o, &r);
    ck_assert_str_eq(buf_str(&r.out), "$X * a b\n");
    result_free(&r);
}
END_TEST

START_TEST(spawn_passes_exactly_the_given_environment)
{
    const char *const env[] = {"PATH=/usr/bin:/bin", "FOO=bar baz", NULL};
    const char *const argv[] = {"env", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    ck_assert_int_eq(setenv("NOX_SPAWN_LEAK", "1", 1), 0);
    o.envp = env;
    run_ok(&o, &r);
    ck_assert_str_eq(buf_str(&r.out), "PATH=/usr/bin:/bin\nFOO=bar baz\n");
    result_free(&r);
}
END_TEST

START_TEST(spawn_runs_in_the_given_directory)
{
    const char *const argv[] = {"pwd", "-P", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;
    char              real[PATH_MAX], want[PATH_MAX + 2];

    ck_assert_ptr_nonnull(realpath(tmpdir, real));
    ck_assert_int_lt(snprintf(want, sizeof(want), "%s\n", real),
                     (int)sizeof(want));
    run_ok(&o, &r);
    ck_assert_str_eq(buf_str(&r.out), want);
    result_free(&r);
}
END_TEST

/* A deliberately inheritable fd in the parent must not reach the command:
 * the child closes everything above 2. /proc/self/fd as listed by ls shows
 * ls's own directory fd (3) as well. */
START_TEST(spawn_child_sees_only_stdio_fds)
{
    const char *const argv[] = {"ls", "/proc/self/fd", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;
    int               leak = open("/dev/null", O_RDONLY); /* no CLOEXEC */

    ck_assert_int_ge(leak, 3);
    run_ok(&o, &r);
    ck_assert_str_eq(buf_str(&r.out), "0\n1\n2\n3\n");
    result_free(&r);
    ck_assert_int_eq(close(leak), 0);
}
END_TEST

/* The engine's host ignores SIGPIPE and blocks signals in worker threads;
 * none of that may reach the command. */
START_TEST(spawn_child_starts_with_default_signals_and_empty_mask)
{
    const char *const argv[] = {"grep", "-E", "^Sig(Ign|Blk)",
                                "/proc/self/status", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;
    sigset_t          block;

    ck_assert(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    ck_assert(signal(SIGINT, SIG_IGN) != SIG_ERR);
    ck_assert_int_eq(sigemptyset(&block), 0);
    ck_assert_int_eq(sigaddset(&block, SIGTERM), 0);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &block, NULL), 0);
    run_ok(&o, &r);
    ck_assert_str_eq(buf_str(&r.out), "SigBlk:\t0000000000000000\n"
                                      "SigIgn:\t0000000000000000\n");
    result_free(&r);
}
END_TEST

START_TEST(spawn_searches_path_env_relative_entries_too)
{
    const char        script[] = "#!/bin/sh\necho from-tool\n";
    const char *const argv[] = {"mytool", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    ck_assert_int_eq(mkdirat(tmpdir_fd, "bin", 0700), 0);
    tu_write_file(tmpdir, "bin/mytool", script, sizeof(script) - 1);
    ck_assert_int_eq(fchmodat(tmpdir_fd, "bin/mytool", 0755, 0), 0);
    o.path_env = "/nonexistent:bin:/usr/bin";
    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq(buf_str(&r.out), "from-tool\n");
    result_free(&r);
}
END_TEST

/* ---- commands that cannot run ---- */

START_TEST(spawn_reports_command_not_found_as_127)
{
    const char *const argv[] = {"nonexistent-cmd-xyz", "arg", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;
    pid_t             pgid = 0;

    run_ok_pgid(&o, &r, &pgid);
    ck_assert_int_eq(r.exit_code, 127);
    ck_assert_str_eq(buf_str(&r.err),
                     "command not found: nonexistent-cmd-xyz\n");
    ck_assert_uint_eq(r.out.len, 0);
    ck_assert_int_eq(pgid, 0); /* nothing was started */
    ck_assert_int_lt(r.duration_ms, 1000);
    result_free(&r);
}
END_TEST

START_TEST(spawn_reports_a_missing_path_as_127)
{
    const char *const argv[] = {"./no/such/cmd", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 127);
    ck_assert_str_eq(buf_str(&r.err), "command not found: ./no/such/cmd\n");
    result_free(&r);
}
END_TEST

START_TEST(spawn_reports_a_non_executable_file_as_126)
{
    const char        script[] = "#!/bin/sh\necho hi\n";
    const char *const argv[] = {"./script.sh", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    tu_write_file(tmpdir, "script.sh", script, sizeof(script) - 1);
    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 126);
    ck_assert_str_eq(buf_str(&r.err),
                     "cannot execute ./script.sh: Permission denied\n");
    ck_assert_uint_eq(r.out.len, 0);
    result_free(&r);
}
END_TEST

START_TEST(spawn_reports_a_non_executable_path_match_as_126)
{
    const char        script[] = "#!/bin/sh\necho hi\n";
    const char *const argv[] = {"tool", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    tu_write_file(tmpdir, "tool", script, sizeof(script) - 1);
    o.path_env = tmpdir;
    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 126);
    ck_assert_ptr_nonnull(strstr(buf_str(&r.err), "Permission denied"));
    result_free(&r);
}
END_TEST

START_TEST(spawn_rejects_an_empty_command)
{
    const char *const argv[] = {"", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r = NOX_EXEC_RESULT_INIT;
    nox_status_t      st;

    r.exit_code = 42; /* must stay untouched */
    ck_assert_int_eq(test_spawn_run(&o, &r, &st), NOX_EINVAL);
    ck_assert_int_eq(st.code, NOX_EINVAL);
    ck_assert_int_eq(r.exit_code, 42);
    o.argv = NULL;
    ck_assert_int_eq(test_spawn_run(&o, &r, &st), NOX_EINVAL);
    o.argv = argv;
    o.timeout_ms = 0;
    ck_assert_int_eq(test_spawn_run(&o, &r, NULL), NOX_EINVAL);
}
END_TEST

START_TEST(spawn_fails_cleanly_on_a_bad_working_directory)
{
    const char *const argv[] = {"echo", "x", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r = NOX_EXEC_RESULT_INIT;
    nox_status_t      st;
    int               file;

    tu_write_file(tmpdir, "f", "x", 1);
    file = openat(tmpdir_fd, "f", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(file, 0);
    o.cwd_fd = file; /* not a directory: fchdir fails in the child */
    ck_assert_int_eq(test_spawn_run(&o, &r, &st), NOX_EINTERNAL);
    ck_assert_ptr_nonnull(strstr(st.msg, "fchdir"));
    ck_assert_ptr_null(r.out.data);
    ck_assert_ptr_null(r.err.data);
    ck_assert_int_eq(close(file), 0);
}
END_TEST

/* ---- timeouts and background processes ---- */

/* Orphans are reparented to us (subreaper) and reaped here, so that a
 * killed group disappears even where PID 1 does not reap. */
static void
reap_orphans(void)
{
    int st;

    while (waitpid(-1, &st, WNOHANG) > 0)
        ;
}

/* True once no process (not even a zombie) is left in group pgid, waiting
 * up to 2 s for the kernel to finish the kills. */
static int
group_gone(pid_t pgid)
{
    for (int i = 0; i < 200; i++) {
        reap_orphans();
        if (kill(-pgid, 0) != 0 && errno == ESRCH)
            return 1;
        (void)usleep(10000);
    }
    return 0;
}

START_TEST(spawn_timeout_kills_the_whole_process_group)
{
    const char *const argv[] = {"sh", "-c", "sleep 100 & sleep 100", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;
    pid_t             pgid = 0;

    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    o.timeout_ms = 500;
    run_ok_pgid(&o, &r, &pgid);
    ck_assert_int_eq(r.exit_code, 124);
    ck_assert(r.timed_out);
    ck_assert_int_ge(r.duration_ms, 500);
    ck_assert_int_lt(r.duration_ms, 3000);
    ck_assert_str_eq(
        buf_str(&r.err),
        "noxrunner: command timed out after 500 ms and was killed\n");
    ck_assert_int_gt(pgid, 0);
    ck_assert(group_gone(pgid));
    result_free(&r);
}
END_TEST

START_TEST(spawn_returns_output_written_before_a_timeout)
{
    const char *const argv[] = {"sh", "-c", "echo partial; sleep 100", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    o.timeout_ms = 1000;
    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 124);
    ck_assert(r.timed_out);
    ck_assert_str_eq(buf_str(&r.out), "partial\n");
    ck_assert_str_eq(
        buf_str(&r.err),
        "noxrunner: command timed out after 1 second and was killed\n");
    result_free(&r);
}
END_TEST

START_TEST(spawn_timeout_note_survives_a_full_stderr)
{
    const char *const argv[] = {
        "sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x >&2; sleep 100",
        NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;
    const char        note[] =
        "\nnoxrunner: command timed out after 300 ms and was killed\n";

    o.timeout_ms = 300;
    o.output_cap = 1000;
    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 124);
    ck_assert(r.err_truncated);
    ck_assert_uint_eq(r.err_total, 100000);
    ck_assert_uint_le(r.err.len, 1000);
    ck_assert_uint_gt(r.err.len, sizeof(note) - 1);
    ck_assert_mem_eq(r.err.data + r.err.len - (sizeof(note) - 1), note,
                     sizeof(note) - 1);
    result_free(&r);
}
END_TEST

START_TEST(spawn_does_not_wait_for_background_holders_of_stdout)
{
    const char *const argv[] = {"sh", "-c", "sleep 5 & echo done", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;
    pid_t             pgid = 0;

    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    run_ok_pgid(&o, &r, &pgid);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert(!r.timed_out);
    ck_assert_str_eq(buf_str(&r.out), "done\n");
    ck_assert_int_lt(r.duration_ms, 1000);
    /* The background sleep is not ours to keep: clean it up. */
    ck_assert_int_gt(pgid, 0);
    (void)kill(-pgid, SIGKILL);
    ck_assert(group_gone(pgid));
    result_free(&r);
}
END_TEST

/* ---- output caps ---- */

START_TEST(spawn_caps_output_and_counts_the_rest)
{
    const char *const argv[] = {"head", "-c", "50000000", "/dev/zero", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    o.timeout_ms = 30000;
    run_ok(&o, &r);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_uint_eq(r.out.len, o.output_cap);
    ck_assert(r.out_truncated);
    ck_assert_uint_eq(r.out_total, 50000000);
    ck_assert(!r.err_truncated);
    result_free(&r);
}
END_TEST

START_TEST(spawn_output_exactly_at_the_cap_is_not_truncated)
{
    const char *const argv[] = {"head", "-c", "4096", "/dev/zero", NULL};
    nox_spawn_opts_t  o = opts_for(argv);
    nox_exec_result_t r;

    o.output_cap = 4096;
    run_ok(&o, &r);
    ck_assert_uint_eq(r.out.len, 4096);
    ck_assert(!r.out_truncated);
    result_free(&r);
}
END_TEST

/* ---- resource hygiene ---- */

static int
count_open_fds(void)
{
    char path[64];
    int  n = 0;

    for (int fd = 0; fd < 1024; fd++) {
        (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (access(path, F_OK) == 0)
            n++;
    }
    return n;
}

/* Every path (success, 127, 126, timeout with pending stdin, a child that
 * fails before exec) closes all of its fds and reaps its child. */
START_TEST(spawn_leaves_no_fds_or_children_behind)
{
    const char *const  ok[] = {"echo", "x", NULL};
    const char *const  missing[] = {"nonexistent-cmd-xyz", NULL};
    const char *const  noexec[] = {"./f", NULL};
    const char *const  slow[] = {"sleep", "100", NULL};
    const char *const *all[] = {ok, missing, noexec, slow, ok};
    static const char  big[256 * 1024];
    int                before, file, st;

    tu_write_file(tmpdir, "f", "x", 1);
    before = count_open_fds();
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        nox_spawn_opts_t  o = opts_for(all[i]);
        nox_exec_result_t r;

        o.timeout_ms = 200;
        o.stdin_data = big;
        o.stdin_len = sizeof(big);
        if (i == 4) {
            file = openat(tmpdir_fd, "f", O_RDONLY | O_CLOEXEC);
            ck_assert_int_ge(file, 0);
            o.cwd_fd = file;
            r = (nox_exec_result_t)NOX_EXEC_RESULT_INIT;
            ck_assert_int_eq(test_spawn_run(&o, &r, NULL), NOX_EINTERNAL);
            ck_assert_int_eq(close(file), 0);
            continue;
        }
        run_ok(&o, &r);
        result_free(&r);
    }
    ck_assert_int_eq(count_open_fds(), before);
    ck_assert_int_eq(waitpid(-1, &st, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
}
END_TEST

/* ---- concurrency ---- */

#define CONC_THREADS 4
#define CONC_RUNS 5

typedef struct {
    int  id;
    int  ok; /* runs with the expected outcome */
    char why[NOX_MSG_MAX + 32];
} conc_arg_t;

/* No ck_assert off the main thread: record, then assert in the test. */
static void *
conc_worker(void *p)
{
    conc_arg_t *a = p;

    for (int i = 0; i < CONC_RUNS; i++) {
        char              word[32], want[34];
        const char *const argv[] = {"echo", word, NULL};
        nox_spawn_opts_t  o = opts_for(argv);
        nox_exec_result_t r = NOX_EXEC_RESULT_INIT;
        nox_status_t      st;

        (void)snprintf(word, sizeof(word), "t%d-run%d", a->id, i);
        (void)snprintf(want, sizeof(want), "%s\n", word);
        if (test_spawn_run(&o, &r, &st) != NOX_OK)
            (void)snprintf(a->why, sizeof(a->why), "run %d: %s", i, st.msg);
        else if (r.exit_code == 0 && r.out.len == strlen(want) &&
                 memcmp(r.out.data, want, r.out.len) == 0)
            a->ok++;
        else
            (void)snprintf(a->why, sizeof(a->why), "run %d: exit %d", i,
                           r.exit_code);
        result_free(&r);
    }
    return NULL;
}

START_TEST(spawn_runs_concurrently_from_several_threads)
{
    pthread_t  th[CONC_THREADS];
    conc_arg_t args[CONC_THREADS];

    for (int i = 0; i < CONC_THREADS; i++) {
        args[i] = (conc_arg_t){.id = i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, conc_worker, &args[i]),
                         0);
    }
    for (int i = 0; i < CONC_THREADS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < CONC_THREADS; i++)
        ck_assert_msg(args[i].ok == CONC_RUNS, "thread %d: %s", i, args[i].why);
}
END_TEST

static TCase *
spawn_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, spawn_setup, spawn_teardown);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *
spawn_suite(void)
{
    Suite *s = suite_create("spawn");
    TCase *tc = spawn_tcase(s, "results");

    tcase_add_test(tc, spawn_captures_stdout_and_exit_zero);
    tcase_add_test(tc, spawn_reports_the_exit_code);
    tcase_add_test(tc, spawn_keeps_stderr_separate_from_stdout);
    tcase_add_test(tc, spawn_reports_death_by_signal_as_128_plus_n);
    tcase_add_test(tc, spawn_measures_duration_on_a_monotonic_clock);

    tc = spawn_tcase(s, "stdin");
    tcase_add_test(tc, spawn_delivers_stdin_bytes);
    tcase_add_test(tc, spawn_streams_large_stdin_while_reading_output);
    tcase_add_test(tc, spawn_survives_a_command_that_ignores_its_stdin);
    tcase_add_test(tc, spawn_gives_dev_null_when_there_is_no_stdin);

    tc = spawn_tcase(s, "environment");
    tcase_add_test(tc, spawn_does_not_shell_expand_argv);
    tcase_add_test(tc, spawn_passes_exactly_the_given_environment);
    tcase_add_test(tc, spawn_runs_in_the_given_directory);
    tcase_add_test(tc, spawn_child_sees_only_stdio_fds);
    tcase_add_test(tc, spawn_searches_path_env_relative_entries_too);
    tcase_add_test(tc, spawn_child_starts_with_default_signals_and_empty_mask);

    tc = spawn_tcase(s, "failures");
    tcase_add_test(tc, spawn_reports_command_not_found_as_127);
    tcase_add_test(tc, spawn_reports_a_missing_path_as_127);
    tcase_add_test(tc, spawn_reports_a_non_executable_file_as_126);
    tcase_add_test(tc, spawn_reports_a_non_executable_path_match_as_126);
    tcase_add_test(tc, spawn_rejects_an_empty_command);
    tcase_add_test(tc, spawn_fails_cleanly_on_a_bad_working_directory);

    tc = spawn_tcase(s, "timeouts");
    tcase_add_test(tc, spawn_timeout_kills_the_whole_process_group);
    tcase_add_test(tc, spawn_returns_output_written_before_a_timeout);
    tcase_add_test(tc, spawn_timeout_note_survives_a_full_stderr);
    tcase_add_test(tc, spawn_does_not_wait_for_background_holders_of_stdout);

    tc = spawn_tcase(s, "limits");
    tcase_add_test(tc, spawn_caps_output_and_counts_the_rest);
    tcase_add_test(tc, spawn_output_exactly_at_the_cap_is_not_truncated);
    tcase_add_test(tc, spawn_leaves_no_fds_or_children_behind);
    tcase_add_test(tc, spawn_runs_concurrently_from_several_threads);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(spawn_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
