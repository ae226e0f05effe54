/* check_fd_exhaustion.c - a process out of file descriptors never loses
 * or rewrites a live sandbox. Every call made while the fd table is full
 * (or has a spare fd or two, so that the lookup gets further) either
 * works or says RESOURCE_EXHAUSTED; none calls the sandbox broken or
 * missing, the reaper leaves it alone, and create does not "repair" it.
 * The fd table is filled for real: a low RLIMIT_NOFILE, then dup until
 * EMFILE; both are undone before anything is asserted. */
#include "nox/engine.h"
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SID "live"
/* Free fds left for the call: enough values that each step of a lookup
 * (scan, sandbox directory, metadata, workspace probe, pipes) is the one
 * that fails in some round. */
#define MAX_SPARE 6

static char         *base;
static nox_engine_t *eng;
static char          sb_dir[4096];
static char          ws_dir[4200];
static char         *meta_before; /* the metadata file as created */

static const char user_file[] = "the user's work\n";

/* The fds taken by squeeze(), given back by release(). */
static int           held[4096];
static size_t        n_held;
static struct rlimit saved_limit;

static int
highest_open_fd(void)
{
    DIR           *d = opendir("/proc/self/fd");
    struct dirent *de;
    int            hi = 2;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        int fd = atoi(de->d_name);
        if (fd > hi)
            hi = fd;
    }
    closedir(d);
    return hi;
}

/* Fill the fd table but for spare free slots. Nothing that can assert
 * (and so allocate or open) runs between here and release(). */
static int
squeeze(size_t spare)
{
    struct rlimit low;
    int           fd;

    if (getrlimit(RLIMIT_NOFILE, &saved_limit) != 0)
        return -1;
    low = saved_limit;
    low.rlim_cur = (rlim_t)highest_open_fd() + 32;
    if (setrlimit(RLIMIT_NOFILE, &low) != 0)
        return -1;
    n_held = 0;
    while (n_held < sizeof(held) / sizeof(held[0]) &&
           (fd = fcntl(0, F_DUPFD_CLOEXEC, 0)) >= 0)
        held[n_held++] = fd;
    if (errno != EMFILE || n_held < spare)
        return -1;
    for (size_t i = 0; i < spare; i++)
        (void)close(held[--n_held]);
    return 0;
}

static void
release(void)
{
    while (n_held > 0)
        (void)close(held[--n_held]);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved_limit), 0);
}

/* Make the sandbox's files look untouched for longer than the default
 * TTL, so that a reaper taking it for broken would call it idle too. */
static void
backdate(const char *dir, const char *name)
{
    struct timespec old[2];

    ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &old[0]), 0);
    old[0].tv_sec -= 2 * NOX_DEFAULT_TTL_SECONDS;
    old[1] = old[0];
    if (name == NULL) {
        ck_assert_int_eq(utimensat(AT_FDCWD, dir, old, AT_SYMLINK_NOFOLLOW), 0);
    } else {
        char p[4400];
        ck_assert_int_lt(snprintf(p, sizeof(p), "%s/%s", dir, name),
                         (int)sizeof(p));
        ck_assert_int_eq(utimensat(AT_FDCWD, p, old, AT_SYMLINK_NOFOLLOW), 0);
    }
}

static void
setup(void)
{
    nox_engine_opts_t  o = {.base_dir = NULL, .quiet = 1};
    nox_create_req_t   r = {.session_id = SID, .ttl_seconds = 7200};
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created;

    base = tu_mkdtemp();
    o.base_dir = base;
    o.isolation = NOX_ISOLATION_NONE;
    ck_assert_int_eq(nox_engine_open(&eng, &o, &st), NOX_OK);
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    ck_assert_int_lt(snprintf(sb_dir, sizeof(sb_dir), "%s", info.path),
                     (int)sizeof(sb_dir));
    ck_assert_int_lt(snprintf(ws_dir, sizeof(ws_dir), "%s/workspace", sb_dir),
                     (int)sizeof(ws_dir));
    tu_write_file(ws_dir, "notes.txt", user_file, sizeof(user_file) - 1);
    backdate(ws_dir, "notes.txt");
    backdate(sb_dir, "workspace");
    backdate(sb_dir, ".noxrunner.meta");
    backdate(sb_dir, NULL);
    meta_before = tu_read_file(sb_dir, ".noxrunner.meta", NULL);
    ck_assert_ptr_nonnull(meta_before);
}

static void
teardown(void)
{
    free(meta_before);
    nox_engine_close(eng);
    tu_rmtree_free(base);
}

/* The sandbox stands with the user's file and its metadata as created
 * (rewritten is allowed only when the call worked). */
static void
assert_kept(bool meta_may_change, const char *what, size_t spare)
{
    char *s = tu_read_file(ws_dir, "notes.txt", NULL);

    ck_assert_msg(s != NULL, "%s with %zu spare fds lost the user's file", what,
                  spare);
    ck_assert_str_eq(s, user_file);
    free(s);
    s = tu_read_file(sb_dir, ".noxrunner.meta", NULL);
    ck_assert_ptr_nonnull(s);
    /* Never a repair, which would reset it to a create's defaults. */
    ck_assert_ptr_nonnull(strstr(s, "ttl_seconds=7200\n"));
    if (!meta_may_change)
        ck_assert_msg(strcmp(s, meta_before) == 0,
                      "%s with %zu spare fds rewrote the metadata", what,
                      spare);
    free(s);
}

/* A call out of fds either worked or is RESOURCE_EXHAUSTED. */
static void
assert_ok_or_exhausted(nox_err_t rv, const nox_status_t *st, const char *what,
                       size_t spare)
{
    ck_assert_msg(rv == NOX_OK || rv == NOX_ERESOURCE,
                  "%s with %zu spare fds: %s (%s)", what, spare,
                  nox_err_name(rv), st->msg);
}

START_TEST(fd_reaper_never_deletes_a_live_sandbox_it_cannot_read)
{
    for (size_t spare = 0; spare <= MAX_SPARE; spare++) {
        nox_status_t st = {0};
        size_t       reaped = 0;
        nox_err_t    rv;

        ck_assert_int_eq(squeeze(spare), 0);
        rv = nox_engine_reap(eng, &reaped, &st);
        release();
        assert_ok_or_exhausted(rv, &st, "reap", spare);
        ck_assert_uint_eq(reaped, 0);
        assert_kept(false, "reap", spare);
    }
}
END_TEST

START_TEST(fd_touch_answers_resource_exhausted_not_not_found)
{
    size_t exhausted = 0;

    for (size_t spare = 0; spare <= MAX_SPARE; spare++) {
        nox_status_t st = {0};
        int64_t      expires = 0;
        nox_err_t    rv;

        ck_assert_int_eq(squeeze(spare), 0);
        rv = nox_engine_touch(eng, SID, &expires, &st);
        release();
        assert_ok_or_exhausted(rv, &st, "touch", spare);
        assert_kept(rv == NOX_OK, "touch", spare);
        if (rv == NOX_ERESOURCE) {
            exhausted++;
            ck_assert_msg(strstr(st.msg, "Too many open files") != NULL,
                          "touch: %s", st.msg);
        }
    }
    ck_assert_uint_gt(exhausted, 0);
}
END_TEST

START_TEST(fd_create_never_repairs_a_sandbox_it_cannot_read)
{
    size_t exhausted = 0;

    for (size_t spare = 0; spare <= MAX_SPARE; spare++) {
        nox_create_req_t   r = {.session_id = SID, .ttl_seconds = 7200};
        nox_sandbox_info_t info;
        nox_status_t       st = {0};
        bool               created = false;
        nox_err_t          rv;

        ck_assert_int_eq(squeeze(spare), 0);
        rv = nox_engine_create(eng, &r, &info, &created, NULL, &st);
        release();
        assert_ok_or_exhausted(rv, &st, "create", spare);
        ck_assert(!created);
        assert_kept(rv == NOX_OK, "create", spare);
        if (rv == NOX_ERESOURCE)
            exhausted++;
    }
    ck_assert_uint_gt(exhausted, 0);
}
END_TEST

START_TEST(fd_exec_answers_resource_exhausted_not_not_found)
{
    static const char *const argv[] = {"true"};
    size_t                   exhausted = 0;

    for (size_t spare = 0; spare <= MAX_SPARE; spare++) {
        nox_exec_req_t    r = {.session_id = SID, .argv = argv, .argc = 1};
        nox_exec_result_t res = NOX_EXEC_RESULT_INIT;
        nox_status_t      st = {0};
        nox_err_t         rv;

        ck_assert_int_eq(squeeze(spare), 0);
        rv = nox_engine_exec(eng, &r, &res, &st);
        release();
        assert_ok_or_exhausted(rv, &st, "exec", spare);
        if (rv == NOX_OK)
            nox_exec_result_free(&res);
        else
            exhausted++;
        /* An exec that got the sandbox marks it (ran=1) and extends it
         * before it starts the command, which may then fail for fds. */
        assert_kept(true, "exec", spare);
    }
    ck_assert_uint_gt(exhausted, 0);
}
END_TEST

START_TEST(fd_list_fails_rather_than_leave_a_live_sandbox_out)
{
    for (size_t spare = 0; spare <= MAX_SPARE; spare++) {
        nox_sandbox_info_t *items = NULL;
        nox_status_t        st = {0};
        size_t              n = 0;
        nox_err_t           rv;

        ck_assert_int_eq(squeeze(spare), 0);
        rv = nox_engine_list(eng, &items, &n, &st);
        release();
        assert_ok_or_exhausted(rv, &st, "list", spare);
        if (rv == NOX_OK) {
            ck_assert_msg(n == 1, "list with %zu spare fds: %zu sandboxes",
                          spare, n);
            ck_assert_str_eq(items[0].session_id, SID);
        }
        free(items);
    }
}
END_TEST

/* Afterwards the sandbox is as live as before. */
START_TEST(fd_sandbox_is_live_after_the_squeeze)
{
    nox_status_t st = {0};
    size_t       reaped = 0;
    int64_t      expires = 0;

    for (size_t spare = 0; spare <= MAX_SPARE; spare++) {
        ck_assert_int_eq(squeeze(spare), 0);
        (void)nox_engine_reap(eng, &reaped, &st);
        release();
    }
    ck_assert_int_eq(nox_engine_touch(eng, SID, &expires, &st), NOX_OK);
    ck_assert_int_gt(expires, time(NULL) + 7000);
    assert_kept(true, "touch", 0);
}
END_TEST

static Suite *
fd_suite(void)
{
    Suite *s = suite_create("fd_exhaustion");
    TCase *tc = tcase_create("out of file descriptors");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fd_reaper_never_deletes_a_live_sandbox_it_cannot_read);
    tcase_add_test(tc, fd_touch_answers_resource_exhausted_not_not_found);
    tcase_add_test(tc, fd_create_never_repairs_a_sandbox_it_cannot_read);
    tcase_add_test(tc, fd_exec_answers_resource_exhausted_not_not_found);
    tcase_add_test(tc, fd_list_fails_rather_than_leave_a_live_sandbox_out);
    tcase_add_test(tc, fd_sandbox_is_live_after_the_squeeze);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(fd_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
