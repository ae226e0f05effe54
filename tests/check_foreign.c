/* check_foreign.c - directories under base_dir that noxrunner did not
 * make: NoxRunner's Python local mode uses the same
 * noxrunner_sandbox_<id> names without our metadata. They are never
 * reaped, deleted, repaired, listed or written into, and every call on
 * their id says what is in the way. One of ours stays ours when a
 * command removes its metadata file. */
#include "nox/engine.h"
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static char         *base;
static nox_engine_t *eng;
static char          py_dir[4096]; /* the Python-made sandbox directory */
static char          py_ws[4096];  /* its workspace */

static const char user_file[] = "the user's work\n";

static void
open_engine(nox_isolation_t level)
{
    nox_engine_opts_t o = {.base_dir = base, .quiet = 1, .isolation = level};
    nox_status_t      st;

    ck_assert_int_eq(nox_engine_open(&eng, &o, &st), NOX_OK);
}

/* What NoxRunner's Python local mode leaves: the directory, a workspace
 * with the user's file, no metadata. */
static void
make_python_dir(const char *sid)
{
    ck_assert_int_lt(
        snprintf(py_dir, sizeof(py_dir), "%s/noxrunner_sandbox_%s", base, sid),
        (int)sizeof(py_dir));
    ck_assert_int_lt(snprintf(py_ws, sizeof(py_ws), "%s/workspace", py_dir),
                     (int)sizeof(py_ws));
    ck_assert_int_eq(mkdir(py_dir, 0755), 0);
    ck_assert_int_eq(mkdir(py_ws, 0755), 0);
    tu_write_file(py_ws, "notes.txt", user_file, sizeof(user_file) - 1);
}

static void
setup(void)
{
    base = tu_mkdtemp();
    eng = NULL;
}

static void
teardown(void)
{
    nox_engine_close(eng);
    tu_rmtree_free(base);
}

/* The number of entries in dir (without . and ..); -1 when missing. */
static int
count_entries(const char *dir)
{
    DIR           *d = opendir(dir);
    struct dirent *de;
    int            n = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* The Python-made directory is exactly as it was made. */
static void
assert_untouched(void)
{
    char *s = tu_read_file(py_ws, "notes.txt", NULL);

    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, user_file);
    free(s);
    ck_assert_int_eq(count_entries(py_dir), 1); /* workspace/ */
    ck_assert_int_eq(count_entries(py_ws), 1);  /* notes.txt */
}

/* st says FAILED_PRECONDITION naming the directory in the way. */
static void
assert_in_the_way(nox_err_t rv, const nox_status_t *st)
{
    char want[4200];

    (void)snprintf(want, sizeof(want),
                   "a directory not made by noxrunner is in the way: %s",
                   py_dir);
    ck_assert_int_eq(rv, NOX_EPRECOND);
    ck_assert_str_eq(st->msg, want);
}

/* A small valid archive, from a sandbox of our own. */
static void
make_archive(nox_buf_t *tar)
{
    nox_create_req_t   r = {.session_id = "ours"};
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created, deleted;

    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    ck_assert_int_eq(
        nox_engine_download(eng, "ours", NULL, NOX_TAR_GZ, 0, tar, &st),
        NOX_OK);
    ck_assert_int_eq(nox_engine_delete(eng, "ours", &deleted, &st), NOX_OK);
}

START_TEST(foreign_python_dir_survives_every_call_on_its_id)
{
    nox_isolation_t  level = _i ? NOX_ISOLATION_NAMESPACES : NOX_ISOLATION_NONE;
    nox_create_req_t cr = {.session_id = "py"};
    const char      *argv[] = {"sh", "-c", "echo x > planted"};
    nox_exec_req_t   xr = {.session_id = "py", .argv = argv, .argc = 3};
    nox_exec_result_t  res = NOX_EXEC_RESULT_INIT;
    nox_sandbox_info_t info, *list = NULL;
    nox_buf_t          tar = NOX_BUF_INIT, out = NOX_BUF_INIT;
    nox_status_t       st;
    int64_t            exp;
    uint64_t           files;
    size_t             n = 99, reaped = 99;
    bool               flag = false;

    open_engine(level);
    make_archive(&tar);
    make_python_dir("py");

    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 0);
    assert_untouched();
    ck_assert_int_eq(nox_engine_list(eng, &list, &n, &st), NOX_OK);
    ck_assert_uint_eq(n, 0); /* not listed at all */
    free(list);
    assert_in_the_way(nox_engine_delete(eng, "py", &flag, &st), &st);
    assert_in_the_way(nox_engine_create(eng, &cr, &info, &flag, NULL, &st),
                      &st);
    assert_in_the_way(nox_engine_exec(eng, &xr, &res, &st), &st);
    assert_in_the_way(nox_engine_upload(eng, "py", NULL, NOX_TAR_GZ, tar.data,
                                        tar.len, &files, &st),
                      &st);
    assert_in_the_way(nox_engine_touch(eng, "py", &exp, &st), &st);
    assert_in_the_way(
        nox_engine_download(eng, "py", NULL, NOX_TAR_GZ, 0, &out, &st), &st);
    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    assert_untouched();
    nox__buf_free(&tar);
}
END_TEST

START_TEST(foreign_old_dir_survives_the_reaper)
{
    struct timespec old[2] = {{946684800, 0}, {946684800, 0}}; /* 2000 */
    size_t          reaped = 99;
    nox_status_t    st;

    open_engine(NOX_ISOLATION_NONE);
    make_python_dir("old");
    ck_assert_int_eq(utimensat(AT_FDCWD, py_ws, old, 0), 0);
    ck_assert_int_eq(utimensat(AT_FDCWD, py_dir, old, 0), 0);
    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 0);
    ck_assert_int_eq(nox_engine_reap_due(eng, 0, &reaped, &st), NOX_OK);
    assert_untouched();
}
END_TEST

START_TEST(foreign_dir_beside_ours_leaves_ours_working)
{
    nox_create_req_t   r = {.session_id = "mine"};
    nox_sandbox_info_t info, *list = NULL;
    nox_status_t       st;
    size_t             n = 0;
    bool               created = false, deleted = false;

    open_engine(NOX_ISOLATION_NONE);
    make_python_dir("py");
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    ck_assert(created);
    ck_assert_int_eq(nox_engine_list(eng, &list, &n, &st), NOX_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(list[0].session_id, "mine");
    free(list);
    ck_assert_int_eq(nox_engine_delete(eng, "mine", &deleted, &st), NOX_OK);
    ck_assert(deleted);
    assert_untouched();
}
END_TEST

START_TEST(foreign_symlink_or_file_in_the_way_is_refused)
{
    nox_create_req_t   r = {.session_id = "ln"};
    nox_sandbox_info_t info;
    nox_status_t       st;
    char               path[4096], target[4200];
    bool               flag;

    open_engine(NOX_ISOLATION_NONE);
    make_python_dir("py");
    (void)snprintf(path, sizeof(path), "%s/noxrunner_sandbox_ln", base);
    ck_assert_int_eq(symlink(py_dir, path), 0);
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &flag, NULL, &st),
                     NOX_EPRECOND);
    (void)snprintf(target, sizeof(target),
                   "a directory not made by noxrunner is in the way: %s", path);
    ck_assert_str_eq(st.msg, target);
    ck_assert_int_eq(nox_engine_delete(eng, "ln", &flag, &st), NOX_EPRECOND);
    tu_write_file(base, "noxrunner_sandbox_f", "x", 1);
    r.session_id = "f";
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &flag, NULL, &st),
                     NOX_EPRECOND);
    ck_assert_int_eq(tu_exists(base, "noxrunner_sandbox_ln"), 1);
    ck_assert_int_eq(tu_exists(base, "noxrunner_sandbox_f"), 1);
    assert_untouched();
}
END_TEST

/* Ours stays ours with its metadata damaged: an empty metadata file is
 * repaired by create, as a garbled one is (check_engine). */
START_TEST(foreign_empty_metadata_is_ours_and_repaired)
{
    nox_create_req_t   r = {.session_id = "dm"};
    nox_sandbox_info_t info;
    nox_status_t       st;
    char               dir[4096];
    bool               created = true;

    open_engine(NOX_ISOLATION_NONE);
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    (void)snprintf(dir, sizeof(dir), "%s/noxrunner_sandbox_dm", base);
    tu_write_file(dir, ".noxrunner.meta", "", 0);
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    ck_assert(!created);
    char *m = tu_read_file(dir, ".noxrunner.meta", NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m, "\nsession_id=dm\n"));
    free(m);
}
END_TEST

/* true when base's filesystem keeps user xattrs (tmpfs before Linux 6.6
 * does not); where it does not, the metadata file is the only proof of
 * ownership and a sandbox without it is foreign, as documented. */
static bool
xattrs_supported(void)
{
    if (setxattr(base, "user.noxrunner.probe", "1", 1, 0) == 0) {
        ck_assert_int_eq(removexattr(base, "user.noxrunner.probe"), 0);
        return true;
    }
    ck_assert_int_eq(errno, EOPNOTSUPP);
    fprintf(stderr,
            "check_foreign: no user xattrs on %s; checking the "
            "metadata-only fallback\n",
            base);
    return false;
}

/* Create sandbox sid holding workspace/work.txt, then take its metadata
 * file away: at isolation none by a command of its own (the workspace's
 * parent is within its reach), at namespaces from the host (a command
 * there cannot reach it). dir receives the sandbox directory. */
static void
create_and_lose_metadata(nox_isolation_t level, const char *sid, char *dir,
                         size_t len)
{
    nox_create_req_t   r = {.session_id = sid};
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created = false;
    char               ws[4200];

    open_engine(level);
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    ck_assert(created);
    ck_assert_int_lt(snprintf(dir, len, "%s/noxrunner_sandbox_%s", base, sid),
                     (int)len);
    (void)snprintf(ws, sizeof(ws), "%s/workspace", dir);
    tu_write_file(ws, "work.txt", user_file, sizeof(user_file) - 1);
    if (level == NOX_ISOLATION_NONE) {
        const char       *argv[] = {"sh", "-c", "rm ../.noxrunner.meta"};
        nox_exec_req_t    xr = {.session_id = sid, .argv = argv, .argc = 3};
        nox_exec_result_t res = NOX_EXEC_RESULT_INIT;

        ck_assert_int_eq(nox_engine_exec(eng, &xr, &res, &st), NOX_OK);
        ck_assert_int_eq(res.exit_code, 0);
        nox_exec_result_free(&res);
    } else {
        char meta[4300];

        (void)snprintf(meta, sizeof(meta), "%s/.noxrunner.meta", dir);
        ck_assert_int_eq(unlink(meta), 0);
    }
    ck_assert_int_eq(tu_exists(dir, ".noxrunner.meta"), 0);
}

/* rv and st of a call on sandbox sid that lost its metadata: where the
 * mark can be kept it is ours and broken, else foreign. */
static void
assert_broken(bool marked, const char *sid, const char *dir, nox_err_t rv,
              const nox_status_t *st)
{
    char want[4300];

    if (marked)
        (void)snprintf(want, sizeof(want),
                       "sandbox not found: %s (no valid metadata; "
                       "CreateSandbox repairs it)",
                       sid);
    else
        (void)snprintf(want, sizeof(want),
                       "a directory not made by noxrunner is in the way: %s",
                       dir);
    ck_assert_int_eq(rv, marked ? NOX_ENOENT : NOX_EPRECOND);
    ck_assert_str_eq(st->msg, want);
}

START_TEST(ours_without_metadata_is_broken_and_create_repairs_it)
{
    nox_isolation_t  level = _i ? NOX_ISOLATION_NAMESPACES : NOX_ISOLATION_NONE;
    nox_create_req_t r = {.session_id = "lost"};
    nox_sandbox_info_t info;
    nox_status_t       st;
    int64_t            exp;
    char               dir[4096], ws[4200];
    bool               marked = xattrs_supported(), created = true;

    create_and_lose_metadata(level, "lost", dir, sizeof(dir));
    assert_broken(marked, "lost", dir, nox_engine_touch(eng, "lost", &exp, &st),
                  &st);
    if (!marked)
        return;
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    ck_assert(!created);
    ck_assert_int_eq(nox_engine_touch(eng, "lost", &exp, &st), NOX_OK);
    char *m = tu_read_file(dir, ".noxrunner.meta", NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m, "\nsession_id=lost\n"));
    free(m);
    (void)snprintf(ws, sizeof(ws), "%s/workspace", dir);
    char *w = tu_read_file(ws, "work.txt", NULL);
    ck_assert_ptr_nonnull(w);
    ck_assert_str_eq(w, user_file);
    free(w);
}
END_TEST

START_TEST(ours_without_metadata_is_deleted)
{
    nox_isolation_t level = _i ? NOX_ISOLATION_NAMESPACES : NOX_ISOLATION_NONE;
    nox_status_t    st;
    char            dir[4096];
    bool            marked = xattrs_supported(), deleted = false;

    create_and_lose_metadata(level, "gone", dir, sizeof(dir));
    nox_err_t rv = nox_engine_delete(eng, "gone", &deleted, &st);
    if (!marked) {
        assert_broken(marked, "gone", dir, rv, &st);
        return;
    }
    ck_assert_int_eq(rv, NOX_OK);
    ck_assert(deleted);
    ck_assert_int_eq(tu_exists(base, "noxrunner_sandbox_gone"), 0);
}
END_TEST

START_TEST(ours_without_metadata_is_reaped_after_its_idle_ttl)
{
    struct timespec old[2] = {{946684800, 0}, {946684800, 0}}; /* 2000 */
    nox_status_t    st;
    char            dir[4096];
    size_t          reaped = 99;
    bool            marked = xattrs_supported();

    create_and_lose_metadata(NOX_ISOLATION_NONE, "idle", dir, sizeof(dir));
    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 0); /* touched just now */
    ck_assert_int_eq(tu_exists(base, "noxrunner_sandbox_idle"), 1);
    ck_assert_int_eq(utimensat(AT_FDCWD, dir, old, 0), 0);
    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, marked ? 1 : 0);
    ck_assert_int_eq(tu_exists(base, "noxrunner_sandbox_idle"), !marked);
}
END_TEST

/* The mark names its session: a copy of one of ours under another id
 * (cp -a keeps xattrs) without metadata is not ours. */
START_TEST(foreign_dir_with_another_ids_mark_stays_foreign)
{
    struct timespec old[2] = {{946684800, 0}, {946684800, 0}}; /* 2000 */
    size_t          reaped = 99;
    nox_status_t    st;
    bool            flag;

    if (!xattrs_supported())
        return;
    open_engine(NOX_ISOLATION_NONE);
    make_python_dir("py");
    ck_assert_int_eq(setxattr(py_dir, "user.noxrunner.sandbox", "other", 5, 0),
                     0);
    ck_assert_int_eq(utimensat(AT_FDCWD, py_dir, old, 0), 0);
    assert_in_the_way(nox_engine_delete(eng, "py", &flag, &st), &st);
    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 0);
    assert_untouched();
}
END_TEST

/* ---- ours, made unreadable by a command ---- */

/* A command at isolation none runs as the engine's user and can take
 * that user's rights away from the sandbox's files. Root's lookups pass
 * the kernel's permission checks anyway, so these tests drop to nobody
 * (the forked test process only) when run as root. */
static void
setup_as_nobody(void)
{
    setup();
    if (geteuid() != 0)
        return;
    ck_assert_int_eq(chown(base, 65534, 65534), 0);
    ck_assert_int_eq(setgroups(0, NULL), 0);
    ck_assert_int_eq(setresgid(65534, 65534, 65534), 0);
    ck_assert_int_eq(setresuid(65534, 65534, 65534), 0);
}

static void
sandbox_path(const char *sid, const char *rest, char *out, size_t len)
{
    ck_assert_int_lt(
        snprintf(out, len, "%s/noxrunner_sandbox_%s%s", base, sid, rest),
        (int)len);
}

START_TEST(ours_with_unreadable_metadata_is_broken_and_repaired)
{
    nox_create_req_t   r = {.session_id = "u"};
    nox_sandbox_info_t info;
    nox_status_t       st;
    char               meta[4096], ws[4096];
    bool               created = true, deleted = false;
    int64_t            at;

    open_engine(NOX_ISOLATION_NONE);
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    sandbox_path("u", "/.noxrunner.meta", meta, sizeof(meta));
    sandbox_path("u", "/workspace", ws, sizeof(ws));
    tu_write_file(ws, "work.txt", "kept", 4);
    ck_assert_int_eq(chmod(meta, 0), 0);
    ck_assert_int_eq(nox_engine_touch(eng, "u", &at, &st), NOX_ENOENT);
    ck_assert_msg(strstr(st.msg, "no valid metadata") != NULL, "%s", st.msg);
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    ck_assert(!created);
    ck_assert_int_eq(nox_engine_touch(eng, "u", &at, &st), NOX_OK);
    ck_assert(tu_exists(ws, "work.txt"));
    ck_assert_int_eq(chmod(meta, 0), 0);
    ck_assert_int_eq(nox_engine_delete(eng, "u", &deleted, &st), NOX_OK);
    ck_assert(deleted);
    sandbox_path("u", "", meta, sizeof(meta));
    ck_assert_int_eq(count_entries(meta), -1);
}
END_TEST

START_TEST(ours_made_unsearchable_is_served_and_deleted)
{
    nox_create_req_t   r = {.session_id = "u"};
    nox_sandbox_info_t info;
    nox_status_t       st;
    char               dir[4096];
    bool               created = false, deleted = false;
    int64_t            at;

    open_engine(NOX_ISOLATION_NONE);
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    sandbox_path("u", "", dir, sizeof(dir));
    ck_assert_int_eq(chmod(dir, 0600), 0); /* readable, not searchable */
    ck_assert_int_eq(nox_engine_touch(eng, "u", &at, &st), NOX_OK);
    ck_assert_int_eq(chmod(dir, 0600), 0);
    ck_assert_int_eq(nox_engine_delete(eng, "u", &deleted, &st), NOX_OK);
    ck_assert(deleted);
    ck_assert_int_eq(count_entries(dir), -1);
}
END_TEST

START_TEST(expired_with_an_unreadable_workspace_is_reaped)
{
    nox_create_req_t   r = {.session_id = "u", .ttl_seconds = 1};
    nox_sandbox_info_t info;
    nox_status_t       st;
    char               ws[4096];
    bool               created = false;
    size_t             reaped = 0;

    open_engine(NOX_ISOLATION_NONE);
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
    sandbox_path("u", "/workspace", ws, sizeof(ws));
    ck_assert_int_eq(chmod(ws, 0), 0);
    usleep(2100 * 1000);
    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 1);
    sandbox_path("u", "", ws, sizeof(ws));
    ck_assert_int_eq(count_entries(ws), -1);
}
END_TEST

static Suite *
foreign_suite(void)
{
    Suite *s = suite_create("foreign");
    TCase *tc = tcase_create("not ours");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    /* 0: isolation none, 1: namespaces */
    tcase_add_loop_test(tc, foreign_python_dir_survives_every_call_on_its_id, 0,
                        2);
    tcase_add_test(tc, foreign_old_dir_survives_the_reaper);
    tcase_add_test(tc, foreign_dir_beside_ours_leaves_ours_working);
    tcase_add_test(tc, foreign_symlink_or_file_in_the_way_is_refused);
    tcase_add_test(tc, foreign_empty_metadata_is_ours_and_repaired);
    tcase_add_test(tc, foreign_dir_with_another_ids_mark_stays_foreign);
    tcase_add_loop_test(
        tc, ours_without_metadata_is_broken_and_create_repairs_it, 0, 2);
    tcase_add_loop_test(tc, ours_without_metadata_is_deleted, 0, 2);
    tcase_add_test(tc, ours_without_metadata_is_reaped_after_its_idle_ttl);
    suite_add_tcase(s, tc);

    tc = tcase_create("ours, made unreadable by a command");
    tcase_add_checked_fixture(tc, setup_as_nobody, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ours_with_unreadable_metadata_is_broken_and_repaired);
    tcase_add_test(tc, ours_made_unsearchable_is_served_and_deleted);
    tcase_add_test(tc, expired_with_an_unreadable_workspace_is_reaped);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(foreign_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
