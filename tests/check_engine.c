/* check_engine.c - the engine facade: lifecycle, TTL, isolation of state
 * between engines on one base_dir, environment, deletes that kill. */
#include "nox/engine.h"
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
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char         *base;
static nox_engine_t *eng;

static nox_engine_t *
open_engine(void)
{
    nox_engine_opts_t o = {
        .base_dir = base, .quiet = 1, .isolation = NOX_ISOLATION_NONE};
    nox_engine_t *e = NULL;
    nox_status_t  st;

    ck_assert_int_eq(nox_engine_open(&e, &o, &st), NOX_OK);
    return e;
}

static void
setup(void)
{
    base = tu_mkdtemp();
    eng = open_engine();
}

static void
teardown(void)
{
    nox_engine_close(eng);
    tu_rmtree_free(base);
}

static void
create(nox_engine_t *e, const char *sid, uint32_t ttl, bool expect_created)
{
    nox_create_req_t   r = {.session_id = sid, .ttl_seconds = ttl};
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created = !expect_created;

    ck_assert_int_eq(nox_engine_create(e, &r, &info, &created, NULL, &st),
                     NOX_OK);
    ck_assert(created == expect_created);
    ck_assert_str_eq(info.session_id, sid);
}

/* Run argv in sid; returns the engine code, fills *res. */
static nox_err_t
run(nox_engine_t *e, const char *sid, const char *const *argv, size_t argc,
    nox_exec_result_t *res, nox_status_t *st)
{
    nox_exec_req_t r = {.session_id = sid, .argv = argv, .argc = argc};
    *res = (nox_exec_result_t)NOX_EXEC_RESULT_INIT;
    return nox_engine_exec(e, &r, res, st);
}

static char *
out_str(const nox_exec_result_t *res)
{
    char *s =
        strndup(res->out.data ? (const char *)res->out.data : "", res->out.len);
    ck_assert_ptr_nonnull(s);
    return s;
}

START_TEST(engine_create_makes_the_sandbox_layout)
{
    nox_create_req_t   r = {.session_id = "s1", .ttl_seconds = 60};
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created = false;
    char               want[2048];
    int64_t            now = (int64_t)time(NULL);

    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    ck_assert(created);
    ck_assert_str_eq(info.pod_name, "local-s1");
    (void)snprintf(want, sizeof(want), "%s/noxrunner_sandbox_s1", base);
    ck_assert_str_eq(info.path, want);
    ck_assert(info.expires_at >= now + 60 && info.expires_at <= now + 61);
    ck_assert(tu_exists(info.path, "workspace"));
    ck_assert(tu_exists(info.path, "tmp"));
}
END_TEST

START_TEST(engine_create_reports_the_image_as_not_used)
{
    nox_create_req_t r = {
        .session_id = "img", .ttl_seconds = 60, .image = "python:3.11"};
    nox_sandbox_info_t  info;
    nox_create_report_t rep;
    nox_status_t        st;
    bool                created = false;

    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, &rep, &st),
                     NOX_OK);
    ck_assert_uint_eq(rep.n_limits, 1);
    ck_assert_str_eq(rep.limits[0].name, "image");
    ck_assert_str_eq(rep.limits[0].value, "python:3.11");
    ck_assert(!rep.limits[0].applied);
    ck_assert_str_eq(rep.limits[0].detail,
                     "recorded, not used: local mode runs this machine's "
                     "userland");
    /* Again, with every limit too: all five fit in the report. */
    r.cpu_limit = "500m";
    r.memory_limit = "64Mi";
    r.storage_limit = "1Mi";
    r.pids_limit = 64;
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, &rep, &st),
                     NOX_OK);
    ck_assert_uint_eq(rep.n_limits, 5);
    ck_assert_str_eq(rep.limits[4].name, "image");
    /* No image, no line. */
    r.session_id = "noimg";
    r.image = NULL;
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, &rep, &st),
                     NOX_OK);
    ck_assert_uint_eq(rep.n_limits, 4);
    for (size_t i = 0; i < rep.n_limits; i++)
        ck_assert_str_ne(rep.limits[i].name, "image");
}
END_TEST

START_TEST(engine_create_again_keeps_files_and_refreshes)
{
    nox_exec_result_t res;
    nox_status_t      st;
    const char       *touch[] = {"sh", "-c", "echo kept > f.txt"};
    const char       *cat[] = {"cat", "f.txt"};

    create(eng, "s1", 60, true);
    ck_assert_int_eq(run(eng, "s1", touch, 3, &res, &st), NOX_OK);
    nox_exec_result_free(&res);
    create(eng, "s1", 120, false);
    ck_assert_int_eq(run(eng, "s1", cat, 2, &res, &st), NOX_OK);
    char *s = out_str(&res);
    ck_assert_str_eq(s, "kept\n");
    free(s);
    nox_exec_result_free(&res);
}
END_TEST

START_TEST(engine_rejects_invalid_session_ids)
{
    const char        *bad[] = {"", ".", "..", "a/b", "a b", "../x", "é"};
    nox_create_req_t   r = {0};
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r.session_id = bad[i];
        ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                         NOX_EINVAL);
    }
}
END_TEST

START_TEST(engine_unknown_session_is_not_found)
{
    nox_exec_result_t res;
    nox_status_t      st;
    int64_t           exp;
    nox_buf_t         buf = NOX_BUF_INIT;
    const char       *argv[] = {"true"};
    bool              deleted = true;

    ck_assert_int_eq(run(eng, "nope", argv, 1, &res, &st), NOX_ENOENT);
    ck_assert_str_eq(st.msg, "sandbox not found: nope");
    ck_assert_int_eq(nox_engine_touch(eng, "nope", &exp, &st), NOX_ENOENT);
    ck_assert_int_eq(
        nox_engine_upload(eng, "nope", NULL, NOX_TAR_GZ, "x", 1, NULL, &st),
        NOX_ENOENT);
    ck_assert_int_eq(
        nox_engine_download(eng, "nope", NULL, NOX_TAR_GZ, 0, &buf, &st),
        NOX_ENOENT);
    ck_assert_int_eq(nox_engine_delete(eng, "nope", &deleted, &st), NOX_OK);
    ck_assert(!deleted);
}
END_TEST

/* ---- asynchronous Exec ---- */

/* What the done functions of one test saw. */
typedef struct {
    pthread_mutex_t   mu;
    pthread_cond_t    cv;
    int               calls;
    nox_err_t         rv;
    nox_exec_result_t res; /* of the last call */
} done_log_t;

#define DONE_LOG_INIT                                                          \
    {                                                                          \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NOX_OK,        \
            NOX_EXEC_RESULT_INIT                                               \
    }

static void
log_done(void *arg, nox_err_t rv, nox_exec_result_t *res,
         const nox_status_t *st)
{
    done_log_t *l = arg;

    (void)st;
    (void)pthread_mutex_lock(&l->mu);
    l->calls++;
    l->rv = rv;
    nox_exec_result_free(&l->res);
    if (rv == NOX_OK)
        l->res = *res;
    (void)pthread_cond_broadcast(&l->cv);
    (void)pthread_mutex_unlock(&l->mu);
}

/* Wait up to ms for l->calls to reach n; returns the calls seen. */
static int
wait_done(done_log_t *l, int n, int ms)
{
    int64_t end = nox__mono_ms() + ms;
    int     calls;

    (void)pthread_mutex_lock(&l->mu);
    while (l->calls < n && nox__mono_ms() < end) {
        (void)pthread_mutex_unlock(&l->mu);
        usleep(1000);
        (void)pthread_mutex_lock(&l->mu);
    }
    calls = l->calls;
    (void)pthread_mutex_unlock(&l->mu);
    return calls;
}

static nox_err_t
start(const char *sid, const char *const *argv, size_t argc, done_log_t *l,
      nox_status_t *st)
{
    nox_exec_req_t r = {.session_id = sid, .argv = argv, .argc = argc};

    return nox_engine_exec_start(eng, &r, log_done, l, st);
}

START_TEST(engine_exec_start_returns_at_once_and_calls_done_once)
{
    const char  *argv[] = {"sh", "-c", "sleep 1; echo late"};
    done_log_t   l = DONE_LOG_INIT;
    nox_status_t st;
    int64_t      t0 = nox__mono_ms();

    create(eng, "a", 0, true);
    ck_assert_int_eq(start("a", argv, 3, &l, &st), NOX_OK);
    ck_assert_int_lt(nox__mono_ms() - t0, 500);
    ck_assert_uint_eq(nox_engine_running(eng), 1);
    ck_assert_int_eq(l.calls, 0);
    ck_assert_int_eq(wait_done(&l, 1, 10000), 1);
    ck_assert_int_eq(l.rv, NOX_OK);
    ck_assert_int_eq(l.res.exit_code, 0);
    ck_assert_uint_eq(l.res.out.len, 5);
    ck_assert_mem_eq(l.res.out.data, "late\n", 5);
    ck_assert_int_ge(l.res.duration_ms, 1000);
    ck_assert_uint_eq(nox_engine_running(eng), 0);
    usleep(100 * 1000);
    ck_assert_int_eq(l.calls, 1); /* exactly once */
    nox_exec_result_free(&l.res);
}
END_TEST

START_TEST(engine_exec_start_fails_synchronously_without_calling_done)
{
    const char  *argv[] = {"true"};
    const char  *blocked[] = {"reboot"};
    done_log_t   l = DONE_LOG_INIT;
    nox_status_t st;

    ck_assert_int_eq(start("nope", argv, 1, &l, &st), NOX_ENOENT);
    ck_assert_str_eq(st.msg, "sandbox not found: nope");
    create(eng, "a", 0, true);
    ck_assert_int_eq(start("a", blocked, 1, &l, &st), NOX_EDENIED);
    ck_assert_int_eq(start("a", argv, 0, &l, &st), NOX_EINVAL);
    usleep(100 * 1000);
    ck_assert_int_eq(l.calls, 0);
    ck_assert_uint_eq(nox_engine_running(eng), 0);
}
END_TEST

START_TEST(engine_exec_start_of_a_missing_command_reports_127_through_done)
{
    const char  *argv[] = {"no-such-command-xyz"};
    done_log_t   l = DONE_LOG_INIT;
    nox_status_t st;

    create(eng, "a", 0, true);
    ck_assert_int_eq(start("a", argv, 1, &l, &st), NOX_OK);
    ck_assert_int_eq(wait_done(&l, 1, 5000), 1);
    ck_assert_int_eq(l.rv, NOX_OK);
    ck_assert_int_eq(l.res.exit_code, 127);
    ck_assert_int_eq(l.res.cause, NOX_CAUSE_NOT_STARTED);
    nox_exec_result_free(&l.res);
}
END_TEST

START_TEST(engine_kill_all_ends_every_running_command)
{
    const char  *argv[] = {"sleep", "30"};
    done_log_t   l = DONE_LOG_INIT;
    nox_status_t st;
    int64_t      t0;

    create(eng, "a", 0, true);
    create(eng, "b", 0, true);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(start(i ? "a" : "b", argv, 2, &l, &st), NOX_OK);
    ck_assert_uint_eq(nox_engine_running(eng), 3);
    t0 = nox__mono_ms();
    nox_engine_kill_all(eng);
    ck_assert_int_eq(wait_done(&l, 3, 5000), 3);
    ck_assert_int_lt(nox__mono_ms() - t0, 2000);
    ck_assert_int_eq(l.res.term_signal, SIGKILL);
    ck_assert_int_eq(l.res.cause, NOX_CAUSE_SIGNALED);
    ck_assert_uint_eq(nox_engine_running(eng), 0);
    nox_exec_result_free(&l.res);
}
END_TEST

/* The open file limit bounds the commands running at once (each holds
 * fds): 384 leaves room for the minimum, 16, and the 17th is refused. */
START_TEST(engine_refuses_commands_beyond_what_the_fd_limit_allows)
{
    const char   *argv[] = {"sleep", "30"};
    struct rlimit rl;
    done_log_t    l = DONE_LOG_INIT;
    nox_status_t  st;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_msg(rl.rlim_max >= 384, "hard fd limit %ld", (long)rl.rlim_max);
    rl.rlim_cur = 384;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    create(eng, "a", 0, true);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(start("a", argv, 2, &l, &st), NOX_OK);
    ck_assert_int_eq(start("a", argv, 2, &l, &st), NOX_ERESOURCE);
    ck_assert_str_eq(st.msg, "too many commands running (16): each needs file "
                             "descriptors, and the open file limit allows 16 "
                             "at once");
    nox_engine_kill_all(eng);
    ck_assert_int_eq(wait_done(&l, 16, 5000), 16);
    /* Room again once they are done. */
    const char *quick[] = {"true"};
    ck_assert_int_eq(start("a", quick, 1, &l, &st), NOX_OK);
    ck_assert_int_eq(wait_done(&l, 17, 5000), 17);
    nox_exec_result_free(&l.res);
}
END_TEST

START_TEST(engine_close_kills_running_commands_and_waits_for_done)
{
    const char  *argv[] = {"sleep", "30"};
    done_log_t   l = DONE_LOG_INIT;
    nox_status_t st;
    int64_t      t0;

    create(eng, "a", 0, true);
    ck_assert_int_eq(start("a", argv, 2, &l, &st), NOX_OK);
    t0 = nox__mono_ms();
    nox_engine_close(eng);
    eng = open_engine();          /* for the teardown */
    ck_assert_int_eq(l.calls, 1); /* before close returned */
    ck_assert_int_lt(nox__mono_ms() - t0, 2000);
    ck_assert_int_eq(l.res.term_signal, SIGKILL);
    nox_exec_result_free(&l.res);
}
END_TEST

/* Take the lock of sid's sandbox directory as a command at isolation
 * none could (its own open file description): returns the fd. */
static int
hold_sandbox_lock(const char *sid)
{
    char path[PATH_MAX];
    int  fd;

    ck_assert_int_lt(
        snprintf(path, sizeof(path), "%s/noxrunner_sandbox_%s", base, sid),
        (int)sizeof(path));
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    return fd;
}

START_TEST(engine_a_held_sandbox_lock_does_not_stall_other_commands)
{
    const char       *slow[] = {"sleep", "1.3"}, *quick[] = {"true"};
    done_log_t        l = DONE_LOG_INIT;
    nox_exec_result_t res;
    nox_status_t      st;
    int64_t           t0;
    int               fd;

    create(eng, "a", 0, true);
    create(eng, "b", 0, true);
    ck_assert_int_eq(start("a", slow, 2, &l, &st), NOX_OK);
    /* When sleep ends, a second has passed: its end extends a's TTL,
     * which takes a's lock. */
    fd = hold_sandbox_lock("a");
    ck_assert_int_eq(wait_done(&l, 1, 5000), 1);
    t0 = nox__mono_ms();
    ck_assert_int_eq(run(eng, "b", quick, 1, &res, &st), NOX_OK);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_int_lt(nox__mono_ms() - t0, 1000);
    nox_exec_result_free(&res);
    nox_exec_result_free(&l.res);
    nox__close(fd);
}
END_TEST

typedef struct {
    nox_err_t    rv;
    nox_status_t st;
} touch_outcome_t;

static void *
touch_thread(void *arg)
{
    touch_outcome_t *o = arg;
    int64_t          at;

    o->rv = nox_engine_touch(eng, "a", &at, &o->st);
    return NULL;
}

START_TEST(engine_abort_ends_a_wait_for_a_held_sandbox_lock)
{
    touch_outcome_t o = {.rv = NOX_OK};
    pthread_t       t;
    int64_t         t0;
    int             fd;

    create(eng, "a", 0, true);
    fd = hold_sandbox_lock("a");
    ck_assert_int_eq(pthread_create(&t, NULL, touch_thread, &o), 0);
    usleep(200 * 1000); /* the touch is waiting for the lock */
    t0 = nox__mono_ms();
    nox_engine_abort(eng);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_lt(nox__mono_ms() - t0, 1000);
    ck_assert_int_eq(o.rv, NOX_EUNAVAIL);
    ck_assert_str_eq(o.st.msg, "sandbox a: the engine is shutting down");
    nox__close(fd);
}
END_TEST

START_TEST(engine_environment_is_clean_and_complete)
{
    nox_exec_result_t res;
    nox_status_t      st;
    const char       *argv[] = {"env"};
    nox_env_pair_t    env[] = {{"FOO", "bar baz"}, {"LANG", "C"}};
    nox_exec_req_t    r = {.session_id = "envs",
                           .argv = argv,
                           .argc = 1,
                           .env = env,
                           .env_len = 2,
                           .workdir = "sub"};
    char              want[8192];

    setenv("NOX_SECRET_OF_THE_TEST", "leak", 1);
    create(eng, "envs", 60, true);
    res = (nox_exec_result_t)NOX_EXEC_RESULT_INIT;
    ck_assert_int_eq(nox_engine_exec(eng, &r, &res, &st), NOX_OK);
    char *s = out_str(&res);
    (void)snprintf(want, sizeof(want),
                   "PATH=/usr/local/bin:/usr/bin:/bin\n"
                   "HOME=%s/noxrunner_sandbox_envs/workspace\n"
                   "PWD=%s/noxrunner_sandbox_envs/workspace/sub\n"
                   "TMPDIR=%s/noxrunner_sandbox_envs/tmp\n"
                   "LANG=C\nNOXRUNNER_SESSION_ID=envs\nFOO=bar baz\n",
                   base, base, base);
    ck_assert_str_eq(s, want);
    free(s);
    nox_exec_result_free(&res);
}
END_TEST

START_TEST(engine_reserved_and_bad_env_names_are_invalid)
{
    nox_exec_result_t res = NOX_EXEC_RESULT_INIT;
    nox_status_t      st;
    const char       *argv[] = {"true"};
    nox_env_pair_t    env1[] = {{"NOXRUNNER_SESSION_ID", "other"}};
    nox_env_pair_t    env2[] = {{"A=B", "x"}};
    nox_exec_req_t    r = {
           .session_id = "e", .argv = argv, .argc = 1, .env = env1, .env_len = 1};

    create(eng, "e", 60, true);
    ck_assert_int_eq(nox_engine_exec(eng, &r, &res, &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg,
                     "environment variable NOXRUNNER_SESSION_ID is reserved");
    r.env = env2;
    ck_assert_int_eq(nox_engine_exec(eng, &r, &res, &st), NOX_EINVAL);
}
END_TEST

START_TEST(engine_workdir_escape_is_redirected_to_workspace)
{
    nox_exec_result_t res = NOX_EXEC_RESULT_INIT;
    nox_status_t      st;
    const char       *argv[] = {"pwd"};
    const char       *dirs[] = {"../../etc", "/etc", "/workspace/../.."};
    char              want[2048];

    create(eng, "w", 60, true);
    (void)snprintf(want, sizeof(want), "%s/noxrunner_sandbox_w/workspace\n",
                   base);
    for (size_t i = 0; i < 3; i++) {
        nox_exec_req_t r = {
            .session_id = "w", .argv = argv, .argc = 1, .workdir = dirs[i]};
        ck_assert_int_eq(nox_engine_exec(eng, &r, &res, &st), NOX_OK);
        char *s = out_str(&res);
        ck_assert_str_eq(s, want);
        free(s);
        nox_exec_result_free(&res);
    }
}
END_TEST

START_TEST(engine_blocked_command_is_denied)
{
    nox_exec_result_t res;
    nox_status_t      st;
    const char       *argv[] = {"/bin/rm", "-rf", "x"};

    create(eng, "b", 60, true);
    ck_assert_int_eq(run(eng, "b", argv, 3, &res, &st), NOX_EDENIED);
    ck_assert_str_eq(st.msg, "command not allowed: rm");
}
END_TEST

START_TEST(engine_expired_sandbox_is_gone_before_and_after_reap)
{
    nox_exec_result_t   res;
    nox_status_t        st;
    const char         *argv[] = {"true"};
    nox_sandbox_info_t *list = NULL;
    size_t              n = 99, reaped = 0;

    create(eng, "old", 1, true);
    create(eng, "young", 600, true);
    sleep(2);
    ck_assert_int_eq(run(eng, "old", argv, 1, &res, &st), NOX_ENOENT);
    ck_assert_int_eq(nox_engine_list(eng, &list, &n, &st), NOX_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(list[0].session_id, "young");
    free(list);
    ck_assert(tu_exists(base, "noxrunner_sandbox_old"));
    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 1);
    ck_assert(!tu_exists(base, "noxrunner_sandbox_old"));
    ck_assert(tu_exists(base, "noxrunner_sandbox_young"));
}
END_TEST

START_TEST(engine_touch_and_exec_extend_the_ttl)
{
    nox_exec_result_t res;
    nox_status_t      st;
    const char       *argv[] = {"true"};
    int64_t           exp = 0;

    create(eng, "t", 2, true);
    sleep(1);
    ck_assert_int_eq(nox_engine_touch(eng, "t", &exp, &st), NOX_OK);
    ck_assert(exp >= (int64_t)time(NULL) + 1);
    sleep(1);
    ck_assert_int_eq(run(eng, "t", argv, 1, &res, &st), NOX_OK);
    nox_exec_result_free(&res);
    sleep(1);
    /* 3 s after create with a 2 s TTL: alive only thanks to the extends. */
    ck_assert_int_eq(nox_engine_touch(eng, "t", &exp, &st), NOX_OK);
}
END_TEST

START_TEST(engine_delete_does_not_follow_symlinks)
{
    char        *outside = tu_mkdtemp();
    char         cmd[4096];
    nox_status_t st;
    bool         deleted = false;

    tu_write_file(outside, "precious", "keep", 4);
    create(eng, "d", 60, true);
    (void)snprintf(cmd, sizeof(cmd),
                   "ln -s %s link && mkdir sub && ln -s %s "
                   "sub/link2",
                   outside, outside);
    const char       *argv[] = {"sh", "-c", cmd};
    nox_exec_result_t res;
    ck_assert_int_eq(run(eng, "d", argv, 3, &res, &st), NOX_OK);
    ck_assert_int_eq(res.exit_code, 0);
    nox_exec_result_free(&res);
    ck_assert_int_eq(nox_engine_delete(eng, "d", &deleted, &st), NOX_OK);
    ck_assert(deleted);
    ck_assert(!tu_exists(base, "noxrunner_sandbox_d"));
    ck_assert(tu_exists(outside, "precious"));
    tu_rmtree_free(outside);
}
END_TEST

typedef struct {
    nox_engine_t     *e;
    nox_exec_result_t res;
    nox_err_t         rv;
} bg_exec_t;

static void *
bg_sleep(void *arg)
{
    bg_exec_t   *b = arg;
    nox_status_t st;
    const char  *argv[] = {"sh", "-c", "sleep 30 & sleep 30"};

    b->rv = run(b->e, "k", argv, 3, &b->res, &st);
    return NULL;
}

static void
delete_kills_running(nox_engine_t *runner, nox_engine_t *deleter)
{
    pthread_t    t;
    bg_exec_t    b = {runner, NOX_EXEC_RESULT_INIT, NOX_OK};
    nox_status_t st;
    bool         deleted = false;

    create(runner, "k", 60, true);
    ck_assert_int_eq(pthread_create(&t, NULL, bg_sleep, &b), 0);
    usleep(300 * 1000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(nox_engine_delete(deleter, "k", &deleted, &st), NOX_OK);
    ck_assert(deleted);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5);
    ck_assert_int_eq(b.rv, NOX_OK);
    ck_assert_int_eq(b.res.exit_code, 137);
    nox_exec_result_free(&b.res);
    ck_assert(!tu_exists(base, "noxrunner_sandbox_k"));
}

START_TEST(engine_delete_kills_the_running_command)
{
    delete_kills_running(eng, eng);
}
END_TEST

START_TEST(engine_delete_from_another_engine_kills_the_command)
{
    nox_engine_t *other = open_engine();

    delete_kills_running(eng, other);
    nox_engine_close(other);
}
END_TEST

START_TEST(engine_state_survives_a_restart)
{
    nox_exec_result_t res;
    nox_status_t      st;
    const char       *argv[] = {"echo", "Hello"};

    create(eng, "my-session", 60, true);
    nox_engine_close(eng);
    eng = open_engine();
    ck_assert_int_eq(run(eng, "my-session", argv, 2, &res, &st), NOX_OK);
    char *s = out_str(&res);
    ck_assert_str_eq(s, "Hello\n");
    free(s);
    nox_exec_result_free(&res);
}
END_TEST

static void *
bg_create(void *arg)
{
    nox_create_req_t   r = {.session_id = "race"};
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created = false;

    if (nox_engine_create(arg, &r, &info, &created, NULL, &st) != NOX_OK) {
        fprintf(stderr, "create failed: %s\n", st.msg); /* for the log */
        return (void *)2;
    }
    return created ? (void *)1 : (void *)0;
}

START_TEST(engine_concurrent_creates_make_exactly_one_sandbox)
{
    pthread_t     t[8];
    nox_engine_t *engines[2] = {eng, open_engine()};
    int           made = 0;

    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, bg_create, engines[i % 2]),
                         0);
    for (int i = 0; i < 8; i++) {
        void *rv;
        ck_assert_int_eq(pthread_join(t[i], &rv), 0);
        ck_assert_ptr_ne(rv, (void *)2);
        made += rv == (void *)1;
    }
    ck_assert_int_eq(made, 1);
    nox_engine_close(engines[1]);
}
END_TEST

START_TEST(engine_list_is_sorted_and_has_paths)
{
    nox_sandbox_info_t *list = NULL;
    nox_status_t        st;
    size_t              n = 0;
    char                want[2048];

    create(eng, "b", 60, true);
    create(eng, "a", 60, true);
    create(eng, "c", 60, true);
    ck_assert_int_eq(nox_engine_list(eng, &list, &n, &st), NOX_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(list[0].session_id, "a");
    ck_assert_str_eq(list[1].session_id, "b");
    ck_assert_str_eq(list[2].session_id, "c");
    ck_assert_str_eq(list[2].pod_name, "local-c");
    (void)snprintf(want, sizeof(want), "%s/noxrunner_sandbox_a", base);
    ck_assert_str_eq(list[0].path, want);
    free(list);
}
END_TEST

START_TEST(engine_damaged_metadata_is_repaired_by_create_and_removed_by_delete)
{
    nox_exec_result_t res;
    nox_status_t      st;
    const char       *spoil[] = {"sh", "-c",
                                 "echo kept > f && echo garbage > "
                                       "../.noxrunner.meta"};
    const char       *cat[] = {"cat", "f"};
    bool              deleted = false;

    create(eng, "dm", 60, true);
    ck_assert_int_eq(run(eng, "dm", spoil, 3, &res, &st), NOX_OK);
    nox_exec_result_free(&res);
    ck_assert_int_eq(run(eng, "dm", cat, 2, &res, &st), NOX_ENOENT);
    ck_assert_str_eq(st.msg, "sandbox not found: dm (no valid metadata; "
                             "CreateSandbox repairs it)");
    create(eng, "dm", 60, false); /* repaired, files kept */
    ck_assert_int_eq(run(eng, "dm", cat, 2, &res, &st), NOX_OK);
    char *out = out_str(&res);
    ck_assert_str_eq(out, "kept\n");
    free(out);
    nox_exec_result_free(&res);
    ck_assert_int_eq(run(eng, "dm", spoil, 3, &res, &st), NOX_OK);
    nox_exec_result_free(&res);
    ck_assert_int_eq(nox_engine_delete(eng, "dm", &deleted, &st), NOX_OK);
    ck_assert(deleted);
    ck_assert(!tu_exists(base, "noxrunner_sandbox_dm"));
}
END_TEST

typedef struct {
    nox_engine_t      *e;
    const char        *sid;
    const char *const *argv;
    size_t             argc;
    nox_exec_result_t  res;
    nox_err_t          rv;
} bg_run_t;

static void *
bg_run(void *arg)
{
    bg_run_t    *b = arg;
    nox_status_t st;

    b->rv = run(b->e, b->sid, b->argv, b->argc, &b->res, &st);
    return NULL;
}

START_TEST(engine_reaper_spares_a_sandbox_while_a_command_runs)
{
    const char   *argv[] = {"sh", "-c", "sleep 4; echo done"};
    bg_run_t      b = {eng, "busy", argv, 3, NOX_EXEC_RESULT_INIT, NOX_OK};
    nox_engine_t *other = open_engine(); /* the reaper of another process */
    nox_status_t  st;
    pthread_t     t;
    size_t        reaped = 9;
    int64_t       exp = 0;

    create(eng, "busy", 2, true);
    ck_assert_int_eq(pthread_create(&t, NULL, bg_run, &b), 0);
    sleep(3); /* the TTL (2 s) has run out while the command runs */
    ck_assert_int_eq(nox_engine_reap(other, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(b.rv, NOX_OK);
    ck_assert_int_eq(b.res.exit_code, 0);
    char *out = out_str(&b.res);
    ck_assert_str_eq(out, "done\n");
    free(out);
    nox_exec_result_free(&b.res);
    /* The TTL restarted when the command ended. */
    ck_assert_int_eq(nox_engine_touch(eng, "busy", &exp, &st), NOX_OK);
    nox_engine_close(other);
}
END_TEST

/* Alive and not a zombie (an orphan may wait for init to reap it). */
static bool
proc_alive(long pid)
{
    char  path[64], buf[512];
    FILE *f;
    char  state = 'X';

    (void)snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "re");
    if (f == NULL)
        return false;
    if (fgets(buf, sizeof(buf), f) != NULL) {
        const char *p = strrchr(buf, ')');
        if (p != NULL)
            (void)sscanf(p + 1, " %c", &state);
    }
    fclose(f);
    return state != 'Z' && state != 'X';
}

/* Run in sandbox sid a command that leaves behind a sleep with a cleared
 * environment (so only the /proc scan can find it); its pid. */
static long
start_leftover(const char *sid)
{
    const char       *argv[] = {"sh", "-c",
                                "env -i /bin/sleep 60 >/dev/null 2>&1 & "
                                      "echo $!"};
    nox_exec_result_t res;
    nox_status_t      st;

    ck_assert_int_eq(run(eng, sid, argv, 3, &res, &st), NOX_OK);
    char *out = out_str(&res);
    long  pid = strtol(out, NULL, 10);
    free(out);
    nox_exec_result_free(&res);
    ck_assert_int_gt(pid, 0);
    ck_assert(proc_alive(pid));
    return pid;
}

/* Delete sid and expect pid gone within a second. */
static void
delete_kills(const char *sid, long pid)
{
    nox_status_t st;
    bool         deleted = false;

    ck_assert_int_eq(nox_engine_delete(eng, sid, &deleted, &st), NOX_OK);
    ck_assert(deleted);
    for (int i = 0; i < 100 && proc_alive(pid); i++)
        usleep(10 * 1000);
    ck_assert_msg(!proc_alive(pid), "pid %ld survived the delete", pid);
}

START_TEST(engine_delete_kills_processes_that_dropped_the_markers)
{
    create(eng, "env-i", 60, true);
    delete_kills("env-i", start_leftover("env-i"));
}
END_TEST

/* The metadata of sandbox sid, read as the engine keeps it. */
static char *
meta_of(const char *sid)
{
    char  dir[PATH_MAX];
    char *m;

    ck_assert_int_lt(
        snprintf(dir, sizeof(dir), "%s/noxrunner_sandbox_%s", base, sid),
        (int)sizeof(dir));
    m = tu_read_file(dir, ".noxrunner.meta", NULL);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* A delete looks for leftover processes only where a command ran: the
 * first Exec marks the sandbox (ran=1) before its command starts. */
START_TEST(engine_marks_a_sandbox_at_its_first_command)
{
    const char       *argv[] = {"true"};
    nox_exec_result_t res;
    nox_status_t      st;
    char             *m;

    create(eng, "first", 60, true);
    m = meta_of("first");
    ck_assert_msg(strstr(m, "\nran=0\n") != NULL, "meta: %s", m);
    free(m);
    ck_assert_int_eq(run(eng, "first", argv, 1, &res, &st), NOX_OK);
    nox_exec_result_free(&res);
    m = meta_of("first");
    ck_assert_msg(strstr(m, "\nran=1\n") != NULL, "meta: %s", m);
    free(m);
}
END_TEST

/* Metadata written before the mark existed says nothing about commands:
 * a delete must still find and kill what they left behind. */
START_TEST(engine_delete_without_the_mark_still_kills_leftovers)
{
    char dir[PATH_MAX], *m, *ran;
    long pid;

    create(eng, "old", 60, true);
    pid = start_leftover("old");
    /* Rewrite the metadata without its ran= line, as an older engine
     * wrote it. */
    m = meta_of("old");
    ran = strstr(m, "ran=1\n");
    ck_assert_ptr_nonnull(ran);
    memmove(ran, ran + strlen("ran=1\n"), strlen(ran + strlen("ran=1\n")) + 1);
    (void)snprintf(dir, sizeof(dir), "%s/noxrunner_sandbox_old", base);
    tu_write_file(dir, ".noxrunner.meta", m, strlen(m));
    free(m);
    delete_kills("old", pid);
}
END_TEST

START_TEST(engine_reap_due_skips_a_pass_run_recently)
{
    nox_status_t st;
    size_t       reaped = 9;

    create(eng, "x1", 1, true);
    sleep(2);
    ck_assert_int_eq(nox_engine_reap_due(eng, 60000, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 1);
    create(eng, "x2", 1, true);
    sleep(2);
    ck_assert_int_eq(nox_engine_reap_due(eng, 60000, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 0);
    ck_assert(tu_exists(base, "noxrunner_sandbox_x2"));
    ck_assert_int_eq(nox_engine_reap_due(eng, 1000, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 1);
}
END_TEST

START_TEST(engine_warnings_escape_control_characters)
{
    char             *log_dir = tu_mkdtemp();
    nox_engine_opts_t o = {.base_dir = base, .isolation = NOX_ISOLATION_NONE};
    nox_engine_t     *loud = NULL;
    nox_exec_result_t res;
    nox_status_t      st;
    const char       *argv[] = {"echo", "\033[2Jx\ny"};
    char              path[4096];
    int               saved = dup(2), fd;

    (void)snprintf(path, sizeof(path), "%s/stderr", log_dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, 2), 2);
    ck_assert_int_eq(nox_engine_open(&loud, &o, &st), NOX_OK);
    create(loud, "w", 60, true);
    ck_assert_int_eq(run(loud, "w", argv, 2, &res, &st), NOX_OK);
    nox_exec_result_free(&res);
    nox_engine_close(loud);
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    close(fd);
    char *log = tu_read_file(log_dir, "stderr", NULL);
    ck_assert_ptr_nonnull(log);
    ck_assert_ptr_nonnull(strstr(log, "in sandbox w: echo \\x1b[2Jx\\x0ay\n"));
    ck_assert_ptr_null(strchr(log, '\033'));
    free(log);
    tu_rmtree_free(log_dir);
}
END_TEST
/* A failed upload takes back the destination directories it created, and
 * only those: what stood before, or was written into meanwhile, stays. */
START_TEST(engine_failed_upload_removes_the_destination_it_created)
{
    nox_status_t st;
    char         ws[PATH_MAX];
    uint64_t     files = 7;

    create(eng, "up", 0, true);
    (void)snprintf(ws, sizeof(ws), "%s/noxrunner_sandbox_up/workspace", base);
    /* Not an archive at all: rejected after the destination is made. */
    ck_assert_int_eq(nox_engine_upload(eng, "up", "brand/new/dest", NOX_TAR_GZ,
                                       "not a tar", 9, &files, &st),
                     NOX_EINVAL);
    ck_assert(!tu_exists(ws, "brand"));
    ck_assert_uint_eq(files, 7);
    /* A directory that stood before the call stays. */
    ck_assert_int_eq(mkdir(strcat(ws, "/brand"), 0755), 0);
    ck_assert_int_eq(nox_engine_upload(eng, "up", "/workspace/brand/new/dest",
                                       NOX_TAR_GZ, "x", 1, NULL, &st),
                     NOX_EINVAL);
    ck_assert(tu_exists(ws, "."));
    ck_assert(!tu_exists(ws, "new"));
}
END_TEST

static Suite *
engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *life = tcase_create("lifecycle");
    TCase *exec = tcase_create("exec");
    TCase *ttl = tcase_create("ttl");
    TCase *del = tcase_create("delete");
    TCase *async = tcase_create("async");

    tcase_add_checked_fixture(life, setup, teardown);
    tcase_add_test(life, engine_create_makes_the_sandbox_layout);
    tcase_add_test(life, engine_create_again_keeps_files_and_refreshes);
    tcase_add_test(life, engine_create_reports_the_image_as_not_used);
    tcase_add_test(life, engine_rejects_invalid_session_ids);
    tcase_add_test(life, engine_unknown_session_is_not_found);
    tcase_add_test(life, engine_state_survives_a_restart);
    tcase_add_test(life, engine_concurrent_creates_make_exactly_one_sandbox);
    tcase_add_test(life, engine_list_is_sorted_and_has_paths);
    tcase_add_test(life,
                   engine_failed_upload_removes_the_destination_it_created);
    tcase_add_test(
        life,
        engine_damaged_metadata_is_repaired_by_create_and_removed_by_delete);
    suite_add_tcase(s, life);

    tcase_add_checked_fixture(exec, setup, teardown);
    tcase_add_test(exec, engine_environment_is_clean_and_complete);
    tcase_add_test(exec, engine_reserved_and_bad_env_names_are_invalid);
    tcase_add_test(exec, engine_workdir_escape_is_redirected_to_workspace);
    tcase_add_test(exec, engine_blocked_command_is_denied);
    tcase_add_test(exec, engine_warnings_escape_control_characters);
    suite_add_tcase(s, exec);

    tcase_add_checked_fixture(ttl, setup, teardown);
    tcase_set_timeout(ttl, 30);
    tcase_add_test(ttl, engine_expired_sandbox_is_gone_before_and_after_reap);
    tcase_add_test(ttl, engine_touch_and_exec_extend_the_ttl);
    tcase_add_test(ttl, engine_reaper_spares_a_sandbox_while_a_command_runs);
    tcase_add_test(ttl, engine_reap_due_skips_a_pass_run_recently);
    suite_add_tcase(s, ttl);

    tcase_add_checked_fixture(del, setup, teardown);
    tcase_set_timeout(del, 30);
    tcase_add_test(del, engine_delete_does_not_follow_symlinks);
    tcase_add_test(del, engine_delete_kills_the_running_command);
    tcase_add_test(del, engine_delete_from_another_engine_kills_the_command);
    tcase_add_test(del, engine_delete_kills_processes_that_dropped_the_markers);
    tcase_add_test(del, engine_marks_a_sandbox_at_its_first_command);
    tcase_add_test(del, engine_delete_without_the_mark_still_kills_leftovers);
    suite_add_tcase(s, del);

    tcase_add_checked_fixture(async, setup, teardown);
    tcase_set_timeout(async, 30);
    tcase_add_test(async,
                   engine_exec_start_returns_at_once_and_calls_done_once);
    tcase_add_test(async,
                   engine_exec_start_fails_synchronously_without_calling_done);
    tcase_add_test(
        async, engine_exec_start_of_a_missing_command_reports_127_through_done);
    tcase_add_test(async, engine_kill_all_ends_every_running_command);
    tcase_add_test(async,
                   engine_refuses_commands_beyond_what_the_fd_limit_allows);
    tcase_add_test(async,
                   engine_close_kills_running_commands_and_waits_for_done);
    tcase_add_test(async,
                   engine_a_held_sandbox_lock_does_not_stall_other_commands);
    tcase_add_test(async, engine_abort_ends_a_wait_for_a_held_sandbox_lock);
    suite_add_tcase(s, async);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(engine_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
