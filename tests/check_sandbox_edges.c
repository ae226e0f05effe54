/* check_sandbox_edges.c - sandboxes at the edges: trees deeper than any
 * walk holds open, a reaper meeting a held lock, an Exec whose sandbox is
 * deleted just before its command starts. */
#include "nox/engine.h"
#include "testutil.h"

#include "fsutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define EDGE_DEEP 300 /* past every depth a walk held open before */

static char         *base;
static nox_engine_t *eng;

static nox_engine_t *
open_engine(int quiet)
{
    nox_engine_opts_t o = {
        .base_dir = base, .quiet = quiet, .isolation = NOX_ISOLATION_NONE};
    nox_engine_t *e = NULL;
    nox_status_t  st;

    ck_assert_int_eq(nox_engine_open(&e, &o, &st), NOX_OK);
    return e;
}

static void
setup(void)
{
    base = tu_mkdtemp();
    eng = open_engine(1);
}

static void
teardown(void)
{
    nox_engine_close(eng);
    tu_rmtree_free(base);
}

static void
create(const char *sid, uint32_t ttl, const char *storage)
{
    nox_create_req_t r = {
        .session_id = sid, .ttl_seconds = ttl, .storage_limit = storage};
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created = false;

    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    ck_assert(created);
}

/* Make levels nested directories "d" under dir (as `mkdir -p` would), with
 * a file "f" of size bytes at the bottom and, when every is not 0, one at
 * every every-th level. */
static void
make_deep(const char *dir, int levels, size_t size, int every)
{
    char *data = calloc(1, size);
    int   fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    ck_assert_ptr_nonnull(data);
    ck_assert_int_ge(fd, 0);
    for (int i = 1; i <= levels; i++) {
        ck_assert_int_eq(mkdirat(fd, "d", 0755), 0);
        int sub = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(sub, 0);
        ck_assert_int_eq(close(fd), 0);
        fd = sub;
        if ((every == 0 || i % every != 0) && i != levels)
            continue;
        int f = openat(fd, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        ck_assert_int_ge(f, 0);
        ck_assert_int_eq(write(f, data, size), (ssize_t)size);
        ck_assert_int_eq(close(f), 0);
    }
    ck_assert_int_eq(close(fd), 0);
    free(data);
}

/* How many entries of base belong to sandbox sid or its tombstones. */
static int
entries_of(const char *sid)
{
    char           name[128], tomb[128];
    DIR           *d = opendir(base);
    struct dirent *de;
    int            n = 0;

    ck_assert_ptr_nonnull(d);
    (void)snprintf(name, sizeof(name), NOX_SANDBOX_PREFIX "%s", sid);
    (void)snprintf(tomb, sizeof(tomb), ".noxrunner_deleting_%s.", sid);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, name) == 0 ||
            strncmp(de->d_name, tomb, strlen(tomb)) == 0)
            n++;
    ck_assert_int_eq(closedir(d), 0);
    return n;
}

static void
workspace_of(const char *sid, char *out, size_t cap)
{
    ck_assert_int_lt(
        snprintf(out, cap, "%s/" NOX_SANDBOX_PREFIX "%s/workspace", base, sid),
        (int)cap);
}

/* ------------------------------------------------------------------ */
/* Deep trees                                                          */
/* ------------------------------------------------------------------ */

START_TEST(delete_removes_a_tree_300_levels_deep)
{
    char         ws[PATH_MAX];
    nox_status_t st;
    bool         deleted = false;
    size_t       reaped = 0;

    create("deep", 600, NULL);
    workspace_of("deep", ws, sizeof(ws));
    make_deep(ws, EDGE_DEEP, 10, 50);
    ck_assert_msg(nox_engine_delete(eng, "deep", &deleted, &st) == NOX_OK,
                  "delete: %s", st.msg);
    ck_assert(deleted);
    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    ck_assert_int_eq(entries_of("deep"), 0);
}
END_TEST

START_TEST(rmtree_removes_any_depth_and_never_follows_links)
{
    char *outside = tu_mkdtemp();
    char  tree[PATH_MAX], link_dir[PATH_MAX];
    int   fd;

    tu_write_file(outside, "keep", "x", 1);
    ck_assert_int_lt(snprintf(tree, sizeof(tree), "%s/t", base),
                     (int)sizeof(tree));
    ck_assert_int_eq(mkdir(tree, 0700), 0);
    make_deep(tree, 1000, 1, 50);
    /* A link to outside at depth 500, inside the part moved up. */
    fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < 500; i++) {
        int sub = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(sub, 0);
        ck_assert_int_eq(close(fd), 0);
        fd = sub;
    }
    ck_assert_int_eq(symlinkat(outside, fd, "out"), 0);
    ck_assert_int_eq(close(fd), 0);
    /* A name the moves would pick, already taken. */
    ck_assert_int_lt(
        snprintf(link_dir, sizeof(link_dir), "%s/.nox-rmtree-0", tree),
        (int)sizeof(link_dir));
    ck_assert_int_eq(mkdir(link_dir, 0700), 0);
    tu_write_file(link_dir, "g", "y", 1);

    nox_status_t st;
    ck_assert_msg(nox__rmtree_at(AT_FDCWD, tree, &st) == NOX_OK, "rmtree: %s",
                  st.msg);
    ck_assert(!tu_exists(base, "t"));
    ck_assert(tu_exists(outside, "keep"));
    tu_rmtree_free(outside);
}
END_TEST

START_TEST(disk_use_counts_files_at_every_depth)
{
    char     tree[PATH_MAX];
    uint64_t bytes = 0;

    ck_assert_int_lt(snprintf(tree, sizeof(tree), "%s/t", base),
                     (int)sizeof(tree));
    ck_assert_int_eq(mkdir(tree, 0700), 0);
    make_deep(tree, 1000, 3, 50);
    /* 20 files at every 50th level, the bottom one among them. */
    ck_assert_int_eq(nox__du_at(AT_FDCWD, tree, &bytes), 0);
    ck_assert_uint_eq(bytes, 20 * 3);
}
END_TEST

/* A plain tar of one small regular file called name, in out. */
static void
tar_one(const char *name, char *out, size_t cap, size_t *len)
{
    struct archive       *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, out, cap, len), ARCHIVE_OK);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 2);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_data(a, "hi", 2), 2);
    archive_entry_free(e);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_free(a), ARCHIVE_OK);
}

START_TEST(storage_limit_counts_files_300_levels_deep)
{
    static char  tar[16384];
    char         ws[PATH_MAX];
    size_t       len = 0;
    nox_status_t st;

    create("full", 600, "4Ki");
    workspace_of("full", ws, sizeof(ws));
    /* One file, below level 256. */
    make_deep(ws, EDGE_DEEP, 8000, 0);
    tar_one("small", tar, sizeof(tar), &len);
    ck_assert_int_eq(
        nox_engine_upload(eng, "full", "", NOX_TAR_PLAIN, tar, len, NULL, &st),
        NOX_ERESOURCE);
    ck_assert_str_eq(st.msg, "sandbox full holds 8000 bytes, at its "
                             "ephemeral_storage_limit 4Ki");
}
END_TEST

/* ------------------------------------------------------------------ */
/* The reaper and held locks                                           */
/* ------------------------------------------------------------------ */

static int
hold_sandbox_lock(const char *sid)
{
    char path[PATH_MAX];
    int  fd;

    ck_assert_int_lt(
        snprintf(path, sizeof(path), "%s/" NOX_SANDBOX_PREFIX "%s", base, sid),
        (int)sizeof(path));
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    return fd;
}

START_TEST(reap_skips_a_locked_sandbox_without_waiting)
{
    nox_status_t st;
    size_t       reaped = 99;
    int64_t      t0;
    int          fd;

    create("held", 1, NULL);
    create("live", 600, NULL);
    sleep(2); /* "held" has expired */
    fd = hold_sandbox_lock("held");
    int live = hold_sandbox_lock("live");
    t0 = nox__mono_ms();
    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    printf("reap past 2 held locks: %lld ms\n",
           (long long)(nox__mono_ms() - t0));
    ck_assert_int_lt(nox__mono_ms() - t0, 1000);
    ck_assert_uint_eq(reaped, 0);
    ck_assert_int_eq(entries_of("held"), 1);
    /* Let go, and the next pass takes it. */
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(close(live), 0);
    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 1);
    ck_assert_int_eq(entries_of("held"), 0);
    ck_assert_int_eq(entries_of("live"), 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Exec racing a delete                                                */
/* ------------------------------------------------------------------ */

typedef struct {
    const char       *sid;
    pid_t             tid;
    nox_err_t         rv;
    nox_exec_result_t res;
    nox_status_t      st;
} exec_outcome_t;

static void *
exec_thread(void *arg)
{
    exec_outcome_t *o = arg;
    const char     *argv[] = {"sleep", "5"};
    nox_exec_req_t  r = {.session_id = o->sid, .argv = argv, .argc = 2};

    o->tid = (pid_t)syscall(SYS_gettid);
    o->rv = nox_engine_exec(eng, &r, &o->res, &o->st);
    return NULL;
}

/* true once thread tid sits in a write(2) to fd 2 (/proc/.../syscall:
 * the number, then the arguments). */
static bool
blocked_writing_stderr(pid_t tid)
{
    char path[64], line[256], want[32];
    bool yes = false;

    (void)snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
    (void)snprintf(want, sizeof(want), "%d 0x2 ", (int)SYS_write);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    if (fgets(line, sizeof(line), f) != NULL)
        yes = strncmp(line, want, strlen(want)) == 0;
    (void)fclose(f);
    return yes;
}

/* The engine warns on stderr before it starts a command; a full pipe
 * there holds an Exec after its sandbox lookup and before the start, so
 * a test can act exactly in between. Reopens eng warning into the pipe
 * p (made full) and creates sandbox sid. */
static void
stall_open(int p[2], const char *sid)
{
    char sink[65536];

    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    ck_assert_int_eq(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
    nox_engine_close(eng);
    eng = open_engine(0); /* warns: into the pipe */
    create(sid, 600, NULL);
    ck_assert_int_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    while (write(p[1], sink, sizeof(sink)) > 0)
        ;
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(fcntl(p[1], F_SETFL, 0), 0);
}

/* Start an Exec of `sleep 5` in o->sid on thread *t and wait until it is
 * held at its warning. */
static void
stall_exec(exec_outcome_t *o, pthread_t *t)
{
    ck_assert_int_eq(pthread_create(t, NULL, exec_thread, o), 0);
    int64_t end = nox__mono_ms() + 10000;
    while (o->tid == 0 || !blocked_writing_stderr(o->tid)) {
        ck_assert_int_lt(nox__mono_ms(), end);
        usleep(1000);
    }
}

/* Let the warning through, and whatever comes after it; join t. */
static void
stall_release(int p[2], pthread_t t)
{
    char sink[65536];

    ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    ck_assert_int_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    while (read(p[0], sink, sizeof(sink)) > 0)
        ;
    ck_assert_int_eq(pthread_join(t, NULL), 0);
}

START_TEST(exec_whose_sandbox_is_deleted_before_its_start_is_not_found)
{
    exec_outcome_t o = {.sid = "gone", .res = NOX_EXEC_RESULT_INIT};
    nox_status_t   st;
    pthread_t      t;
    bool           deleted = false;
    int            p[2];

    stall_open(p, "gone");
    stall_exec(&o, &t);
    ck_assert_int_eq(nox_engine_delete(eng, "gone", &deleted, &st), NOX_OK);
    ck_assert(deleted);
    stall_release(p, t);
    ck_assert_msg(o.rv == NOX_ENOENT, "exec: %d, exit %d signal %d", o.rv,
                  o.res.exit_code, o.res.term_signal);
    ck_assert_str_eq(o.st.msg, "sandbox not found: gone (deleted meanwhile)");
    ck_assert_ptr_null(o.res.out.data);
    ck_assert_int_eq(entries_of("gone"), 0);
    ck_assert_int_eq(close(p[0]), 0);
    ck_assert_int_eq(close(p[1]), 0);
}
END_TEST

/* Shutdown aborts the engine while a worker is still starting an Exec:
 * the command must not run on (the abort's kill did not see it). */
START_TEST(exec_starting_while_the_engine_aborts_never_runs)
{
    exec_outcome_t o = {.sid = "late", .res = NOX_EXEC_RESULT_INIT};
    pthread_t      t;
    int            p[2];

    stall_open(p, "late");
    stall_exec(&o, &t);
    nox_engine_abort(eng);
    int64_t t0 = nox__mono_ms();
    stall_release(p, t);
    ck_assert_int_lt(nox__mono_ms() - t0, 2000);
    ck_assert_msg(o.rv == NOX_EUNAVAIL, "exec: %d, exit %d signal %d", o.rv,
                  o.res.exit_code, o.res.term_signal);
    ck_assert_str_eq(o.st.msg, "the engine is shutting down");
    ck_assert_uint_eq(nox_engine_running(eng), 0);
    ck_assert_int_eq(close(p[0]), 0);
    ck_assert_int_eq(close(p[1]), 0);
}
END_TEST

/* A forked child has the engine's memory but not its command thread: an
 * Exec there says so at once instead of waiting for ever. */
START_TEST(exec_in_a_forked_child_fails_at_once)
{
    const char       *argv[] = {"true"};
    nox_exec_req_t    r = {.session_id = "forked", .argv = argv, .argc = 1};
    nox_exec_result_t res = NOX_EXEC_RESULT_INIT;
    nox_status_t      st;
    int               status;

    create("forked", 600, NULL);
    ck_assert_int_eq(nox_engine_exec(eng, &r, &res, &st), NOX_OK);
    nox_exec_result_free(&res);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        (void)alarm(10); /* a hang fails the test instead of blocking */
        nox_err_t rv = nox_engine_exec(eng, &r, &res, &st);
        _exit(rv == NOX_EPRECOND &&
                      strstr(st.msg, "open one in this process") != NULL
                  ? 0
                  : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status %#x", status);
}
END_TEST

Suite *
sandbox_edges_suite(void)
{
    Suite *s = suite_create("sandbox_edges");
    TCase *deep = tcase_create("deep trees");
    TCase *reap = tcase_create("reaper");
    TCase *race = tcase_create("exec racing delete");

    tcase_add_checked_fixture(deep, setup, teardown);
    tcase_set_timeout(deep, 60);
    tcase_add_test(deep, delete_removes_a_tree_300_levels_deep);
    tcase_add_test(deep, rmtree_removes_any_depth_and_never_follows_links);
    tcase_add_test(deep, disk_use_counts_files_at_every_depth);
    tcase_add_test(deep, storage_limit_counts_files_300_levels_deep);
    suite_add_tcase(s, deep);
    tcase_add_checked_fixture(reap, setup, teardown);
    tcase_set_timeout(reap, 60);
    tcase_add_test(reap, reap_skips_a_locked_sandbox_without_waiting);
    suite_add_tcase(s, reap);
    tcase_add_checked_fixture(race, setup, teardown);
    tcase_set_timeout(race, 30);
    tcase_add_test(race,
                   exec_whose_sandbox_is_deleted_before_its_start_is_not_found);
    tcase_add_test(race, exec_starting_while_the_engine_aborts_never_runs);
    tcase_add_test(race, exec_in_a_forked_child_fails_at_once);
    suite_add_tcase(s, race);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(sandbox_edges_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
