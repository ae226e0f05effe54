/* check_paths.c - session ids, request-path mapping, and opening beneath
 * the workspace without ever leaving it. */
#include "paths.h"

#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* fixture                                                             */
/* ------------------------------------------------------------------ */

/* Check fixtures reach the tests only through file-scope state; each test
 * runs in its own forked child (CK_FORK), so nothing is shared. */
static char *fx_ws;          /* the workspace: a fresh tu_mkdtemp() */
static char *fx_out;         /* a sibling that nothing may ever touch */
static char  fx_out_rel[64]; /* "../<basename of fx_out>" */
static int   fx_ws_fd = -1;

static void
fx_setup(void)
{
    fx_ws = tu_mkdtemp();
    fx_out = tu_mkdtemp();
    /* Both come from the same $TMPDIR, so they are siblings. */
    ck_assert_int_lt(snprintf(fx_out_rel, sizeof(fx_out_rel), "../%s",
                              strrchr(fx_out, '/') + 1),
                     (int)sizeof(fx_out_rel));
    fx_ws_fd = open(fx_ws, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fx_ws_fd, 0);
    (void)umask(022); /* created modes are then exactly 0755 */
}

static void
fx_teardown(void)
{
    if (fx_ws_fd >= 0)
        (void)close(fx_ws_fd); /* test process is about to exit anyway */
    fx_ws_fd = -1;
    tu_rmtree_free(fx_ws);
    tu_rmtree_free(fx_out);
    fx_ws = fx_out = NULL;
}

static void
fx_mkdir(const char *name)
{
    ck_assert_int_eq(mkdirat(fx_ws_fd, name, 0755), 0);
}

static void
fx_symlink(const char *target, const char *name)
{
    ck_assert_int_eq(symlinkat(target, fx_ws_fd, name), 0);
}

/* Entries in dir other than "." and "..". */
static int
count_entries(const char *dir)
{
    struct dirent *de;
    int            n = 0;
    DIR           *d = opendir(dir);

    ck_assert_ptr_nonnull(d);
    for (;;) {
        de = readdir(d);
        if (de == NULL)
            break;
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    }
    ck_assert_int_eq(closedir(d), 0);
    return n;
}

/* fd is the same inode as name in the workspace ("" or "." for the root),
 * following symlinks in name. */
static void
assert_fd_is(int fd, const char *name)
{
    struct stat a, b;

    ck_assert_int_eq(fstat(fd, &a), 0);
    ck_assert_int_eq(fstatat(fx_ws_fd, name[0] ? name : ".", &b, 0), 0);
    ck_assert_uint_eq(a.st_dev, b.st_dev);
    ck_assert_uint_eq(a.st_ino, b.st_ino);
}

typedef struct {
    nox_err_t    rv;
    int          fd;
    char         rel[PATH_MAX];
    bool         redir;
    nox_status_t st;
} open_res_t;

/* Call nox__path_open with sentinels in every out-parameter. */
static void
do_open(const char *req, unsigned flags, open_res_t *r)
{
    r->fd = -7;
    (void)strcpy(r->rel, "untouched");
    r->redir = false;
    nox__status_clear(&r->st);
    r->rv = nox__path_open(fx_ws_fd, req, flags, &r->fd, r->rel, sizeof(r->rel),
                           &r->redir, &r->st);
}

static void
assert_opened(const open_res_t *r, const char *rel, bool redir)
{
    ck_assert_msg(r->rv == NOX_OK, "rv %d: %s", r->rv, r->st.msg);
    ck_assert_int_ge(r->fd, 0);
    ck_assert_str_eq(r->rel, rel);
    ck_assert(r->redir == redir);
}

static void
assert_failed(const open_res_t *r, nox_err_t code, const char *msg)
{
    ck_assert_int_eq(r->rv, code);
    ck_assert_int_eq(r->st.code, code);
    ck_assert_str_eq(r->st.msg, msg);
    ck_assert_int_eq(r->fd, -7);
    ck_assert_str_eq(r->rel, "untouched");
}

/* ------------------------------------------------------------------ */
/* session ids                                                         */
/* ------------------------------------------------------------------ */

#define SID_CHARS_MSG                                                          \
    "invalid session id: must be 1-128 characters of [A-Za-z0-9._-]"

static void
assert_sid_rejected(const char *sid, const char *msg)
{
    nox_status_t st;

    ck_assert_int_eq(nox__session_id_check(sid, &st), NOX_EINVAL);
    ck_assert_int_eq(st.code, NOX_EINVAL);
    ck_assert_str_eq(st.msg, msg);
}

START_TEST(paths_accepts_valid_session_ids)
{
    char         max[129];
    nox_status_t st;

    memset(max, 'a', 128);
    max[128] = '\0';
    ck_assert_int_eq(nox__session_id_check("a", &st), NOX_OK);
    ck_assert_int_eq(nox__session_id_check("my-session", &st), NOX_OK);
    ck_assert_int_eq(nox__session_id_check("A.b_C-9", &st), NOX_OK);
    ck_assert_int_eq(nox__session_id_check("...", &st), NOX_OK);
    ck_assert_int_eq(nox__session_id_check(".hidden", &st), NOX_OK);
    ck_assert_int_eq(nox__session_id_check(max, &st), NOX_OK);
    ck_assert_int_eq(nox__session_id_check("ok", NULL), NOX_OK);
}
END_TEST

START_TEST(paths_rejects_empty_and_null_session_ids)
{
    assert_sid_rejected("", "invalid session id: must not be empty");
    assert_sid_rejected(NULL, "invalid session id: must not be empty");
    ck_assert_int_eq(nox__session_id_check("", NULL), NOX_EINVAL);
}
END_TEST

START_TEST(paths_rejects_session_ids_longer_than_128_characters)
{
    char long_id[130];

    memset(long_id, 'a', 129);
    long_id[129] = '\0';
    assert_sid_rejected(long_id,
                        "invalid session id: longer than 128 characters");
}
END_TEST

START_TEST(paths_rejects_dot_and_dotdot_session_ids)
{
    assert_sid_rejected(".", "invalid session id: '.' and '..' are not "
                             "allowed");
    assert_sid_rejected("..", "invalid session id: '.' and '..' are not "
                              "allowed");
}
END_TEST

START_TEST(paths_rejects_session_ids_with_other_characters)
{
    assert_sid_rejected("a/b", SID_CHARS_MSG);
    assert_sid_rejected("a b", SID_CHARS_MSG);
    assert_sid_rejected("caf\xc3\xa9", SID_CHARS_MSG); /* UTF-8 e-acute */
    assert_sid_rejected("a\nb", SID_CHARS_MSG);
    assert_sid_rejected("a\\b", SID_CHARS_MSG);
    assert_sid_rejected("../x", SID_CHARS_MSG);
    assert_sid_rejected("*", SID_CHARS_MSG);
}
END_TEST

/* ------------------------------------------------------------------ */
/* normalize                                                           */
/* ------------------------------------------------------------------ */

static const struct {
    const char *req;
    const char *out;
    bool        redirected;
} norm_cases[] = {
    {"/workspace", "", false},
    {"/workspace/", "", false},
    {"/workspace/a/./b//c", "a/b/c", false},
    {"/workspace/a/b/", "a/b", false},
    {"//workspace//a", "a", false},
    {"/./workspace/a", "a", false},
    {"/workspacefoo", "", true},
    {"/workspacefoo/a", "", true},
    {"/etc/passwd", "", true},
    {"/", "", true},
    {"/workspace/..", "", true},
    {"/workspace/a/../../workspace/b", "", true},
    {"../x", "", true},
    {"a/../../x", "", true},
    {"a/../b", "b", false},
    {"a/b/..", "a", false},
    {"a/b/../../c/./d", "c/d", false},
    {"./a", "a", false},
    {".", "", false},
    {"workspace", "workspace", false},
    {"", "", false},
    {NULL, "", false},
};

START_TEST(paths_normalizes_request_paths_per_the_table)
{
    char         out[PATH_MAX] = "untouched";
    bool         redir = !norm_cases[_i].redirected;
    nox_status_t st;

    ck_assert_int_eq(
        nox__path_normalize(norm_cases[_i].req, out, sizeof(out), &redir, &st),
        NOX_OK);
    ck_assert_str_eq(out, norm_cases[_i].out);
    ck_assert_msg(redir == norm_cases[_i].redirected, "case %d (%s)", _i,
                  norm_cases[_i].req ? norm_cases[_i].req : "NULL");
}
END_TEST

START_TEST(paths_normalize_fails_when_the_output_does_not_fit)
{
    char         out[4] = "xyz";
    nox_status_t st;

    ck_assert_int_eq(nox__path_normalize("abcd", out, sizeof(out), NULL, &st),
                     NOX_EINVAL);
    ck_assert_str_eq(st.msg, "path too long: /workspace/abcd");
    ck_assert_str_eq(out, "xyz");
    /* Exactly fitting is fine. */
    ck_assert_int_eq(nox__path_normalize("abc", out, sizeof(out), NULL, &st),
                     NOX_OK);
    ck_assert_str_eq(out, "abc");
    ck_assert_int_eq(nox__path_normalize("", out, 0, NULL, &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg, "path too long: /workspace");
}
END_TEST

START_TEST(paths_normalize_rejects_overlong_input)
{
    char        *req = malloc(PATH_MAX + 1);
    char         out[PATH_MAX];
    nox_status_t st;

    ck_assert_ptr_nonnull(req);
    memset(req, 'a', PATH_MAX);
    req[PATH_MAX] = '\0';
    ck_assert_int_eq(nox__path_normalize(req, out, sizeof(out), NULL, &st),
                     NOX_EINVAL);
    ck_assert_str_eq(st.msg, "path too long (at most 4095 bytes)");
    free(req);
}
END_TEST

/* ------------------------------------------------------------------ */
/* open                                                                */
/* ------------------------------------------------------------------ */

START_TEST(paths_opens_an_existing_directory)
{
    open_res_t r;

    fx_mkdir("sub");
    do_open("/workspace/sub", NOX_PATH_DIR, &r);
    assert_opened(&r, "sub", false);
    assert_fd_is(r.fd, "sub");
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_opens_the_root_for_slash_workspace_and_empty)
{
    open_res_t r;

    do_open("/workspace", NOX_PATH_DIR, &r);
    assert_opened(&r, "", false);
    assert_fd_is(r.fd, "");
    ck_assert_int_eq(close(r.fd), 0);
    do_open(NULL, NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "", false);
    assert_fd_is(r.fd, "");
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_reports_a_missing_path_without_create)
{
    open_res_t r;

    do_open("missing/deeper", NOX_PATH_DIR, &r);
    assert_failed(&r, NOX_ENOENT,
                  "no such file or directory: /workspace/missing/deeper");
    ck_assert_int_eq(count_entries(fx_ws), 0);
}
END_TEST

START_TEST(paths_creates_missing_nested_directories)
{
    open_res_t  r;
    struct stat sb;

    fx_mkdir("a");
    do_open("/workspace/a/b/c", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "a/b/c", false);
    assert_fd_is(r.fd, "a/b/c");
    ck_assert_int_eq(fstatat(fx_ws_fd, "a/b", &sb, AT_SYMLINK_NOFOLLOW), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_int_eq(sb.st_mode & 07777, 0755);
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_create_without_dir_flag_creates_a_directory)
{
    open_res_t  r;
    struct stat sb;

    do_open("x/y", NOX_PATH_CREATE, &r);
    assert_opened(&r, "x/y", false);
    ck_assert_int_eq(fstat(r.fd, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_create_on_an_existing_directory_changes_nothing)
{
    open_res_t r;

    fx_mkdir("d");
    tu_write_file(fx_ws, "d/keep", "k", 1);
    do_open("d", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "d", false);
    assert_fd_is(r.fd, "d");
    ck_assert_int_eq(tu_exists(fx_ws, "d/keep"), 1);
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_rejects_a_file_when_a_directory_is_required)
{
    open_res_t r;

    tu_write_file(fx_ws, "f.txt", "hi", 2);
    do_open("f.txt", NOX_PATH_DIR, &r);
    assert_failed(&r, NOX_EINVAL, "not a directory: /workspace/f.txt");
    do_open("f.txt", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_failed(&r, NOX_EINVAL, "not a directory: /workspace/f.txt");
}
END_TEST

START_TEST(paths_opens_a_file_without_the_dir_flag)
{
    open_res_t  r;
    struct stat sb;

    tu_write_file(fx_ws, "f.txt", "hi", 2);
    do_open("/workspace/f.txt", 0, &r);
    assert_opened(&r, "f.txt", false);
    ck_assert_int_eq(fstat(r.fd, &sb), 0);
    ck_assert(S_ISREG(sb.st_mode));
    assert_fd_is(r.fd, "f.txt");
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_rejects_a_path_through_a_file)
{
    open_res_t r;

    tu_write_file(fx_ws, "f.txt", "hi", 2);
    do_open("f.txt/x", 0, &r);
    assert_failed(&r, NOX_EINVAL, "not a directory: /workspace/f.txt/x");
    do_open("f.txt/x/y", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_failed(&r, NOX_EINVAL, "not a directory: /workspace/f.txt/x/y");
    ck_assert_int_eq(count_entries(fx_ws), 1);
}
END_TEST

START_TEST(paths_opens_a_fifo_without_blocking)
{
    open_res_t r;

    ck_assert_int_eq(mkfifoat(fx_ws_fd, "fifo", 0600), 0);
    do_open("fifo", 0, &r); /* would hang without O_NONBLOCK */
    assert_opened(&r, "fifo", false);
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_returns_a_close_on_exec_fd)
{
    open_res_t r;

    do_open("new", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "new", false);
    ck_assert_int_eq(fcntl(r.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_redirects_a_foreign_absolute_path_to_the_root)
{
    open_res_t r;

    do_open("/etc/passwd", 0, &r);
    assert_opened(&r, "", true);
    assert_fd_is(r.fd, "");
    ck_assert_int_eq(close(r.fd), 0);
    do_open("/tmp/x", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "", true);
    assert_fd_is(r.fd, "");
    ck_assert_int_eq(close(r.fd), 0);
    ck_assert_int_eq(count_entries(fx_ws), 0);
}
END_TEST

START_TEST(paths_redirects_a_dotdot_escape_to_the_root)
{
    open_res_t r;
    char       req[PATH_MAX];

    ck_assert_int_lt(snprintf(req, sizeof(req), "%s/x", fx_out_rel),
                     (int)sizeof(req));
    do_open(req, NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "", true);
    assert_fd_is(r.fd, "");
    ck_assert_int_eq(close(r.fd), 0);
    ck_assert_int_eq(count_entries(fx_out), 0);
    ck_assert_int_eq(count_entries(fx_ws), 0);
}
END_TEST

START_TEST(paths_rejects_a_short_rel_buffer_before_creating_anything)
{
    int          fd = -7;
    char         rel[4] = "xyz";
    nox_status_t st;

    ck_assert_int_eq(nox__path_open(fx_ws_fd, "abcd", NOX_PATH_CREATE, &fd, rel,
                                    sizeof(rel), NULL, &st),
                     NOX_EINVAL);
    ck_assert_str_eq(st.msg, "path too long: /workspace/abcd");
    ck_assert_int_eq(fd, -7);
    ck_assert_str_eq(rel, "xyz");
    ck_assert_int_eq(count_entries(fx_ws), 0);
}
END_TEST

START_TEST(paths_accepts_null_rel_out_redirected_and_status)
{
    int fd = -7;

    ck_assert_int_eq(nox__path_open(fx_ws_fd, "/etc", NOX_PATH_DIR, &fd, NULL,
                                    0, NULL, NULL),
                     NOX_OK);
    assert_fd_is(fd, "");
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(
        nox__path_open(fx_ws_fd, "nope", 0, &fd, NULL, 0, NULL, NULL),
        NOX_ENOENT);
}
END_TEST

START_TEST(paths_reports_an_internal_error_for_a_bad_workspace_fd)
{
    int          fd = -7;
    nox_status_t st;

    ck_assert_int_eq(
        nox__path_open(-1, "sub", NOX_PATH_DIR, &fd, NULL, 0, NULL, &st),
        NOX_EINTERNAL);
    ck_assert_str_eq(st.msg, "cannot open /workspace/sub: Bad file "
                             "descriptor");
    ck_assert_int_eq(fd, -7);
}
END_TEST

/* ------------------------------------------------------------------ */
/* symlinks                                                            */
/* ------------------------------------------------------------------ */

START_TEST(paths_follows_a_symlink_that_stays_inside)
{
    open_res_t r;

    fx_mkdir("real");
    fx_symlink("real", "link");
    do_open("link", NOX_PATH_DIR, &r);
    assert_opened(&r, "link", false);
    assert_fd_is(r.fd, "real");
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_follows_a_dotdot_symlink_that_stays_inside)
{
    open_res_t r;

    fx_mkdir("real");
    fx_mkdir("a");
    fx_symlink("../real", "a/up");
    do_open("/workspace/a/up/new", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "a/up/new", false);
    assert_fd_is(r.fd, "real/new");
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_redirects_a_symlink_to_the_host_root)
{
    open_res_t r;

    fx_symlink("/", "root");
    do_open("root", NOX_PATH_DIR, &r);
    assert_opened(&r, "", true);
    assert_fd_is(r.fd, "");
    ck_assert_int_eq(close(r.fd), 0);
    do_open("root/etc/passwd", 0, &r);
    assert_opened(&r, "", true);
    assert_fd_is(r.fd, "");
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_redirects_a_symlink_climbing_out_with_dotdot)
{
    open_res_t r;

    fx_symlink("../..", "up");
    do_open("up", NOX_PATH_DIR, &r);
    assert_opened(&r, "", true);
    assert_fd_is(r.fd, "");
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_redirects_a_symlink_loop)
{
    open_res_t r;

    fx_symlink("b", "a");
    fx_symlink("a", "b");
    do_open("a", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "", true);
    assert_fd_is(r.fd, "");
    ck_assert_int_eq(close(r.fd), 0);
}
END_TEST

START_TEST(paths_create_through_an_escaping_symlink_touches_nothing_outside)
{
    open_res_t r;

    fx_symlink(fx_out_rel, "rel-esc");
    fx_symlink(fx_out, "abs-esc");
    do_open("rel-esc/new/deeper", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "", true);
    assert_fd_is(r.fd, "");
    ck_assert_int_eq(close(r.fd), 0);
    do_open("/workspace/abs-esc/new", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "", true);
    ck_assert_int_eq(close(r.fd), 0);
    ck_assert_int_eq(count_entries(fx_out), 0);
    ck_assert_int_eq(count_entries(fx_ws), 2); /* just the two links */
}
END_TEST

START_TEST(paths_create_through_a_dangling_symlink_creates_nothing)
{
    open_res_t r;

    fx_symlink("missing", "dl");
    do_open("dl/sub", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "", true);
    assert_fd_is(r.fd, "");
    ck_assert_int_eq(close(r.fd), 0);
    ck_assert_int_eq(tu_exists(fx_ws, "missing"), 0);
    ck_assert_int_eq(count_entries(fx_ws), 1);
}
END_TEST

START_TEST(paths_create_through_a_dangling_outside_symlink_creates_nothing)
{
    open_res_t r;
    char       target[PATH_MAX];

    ck_assert_int_lt(snprintf(target, sizeof(target), "%s/newdir", fx_out_rel),
                     (int)sizeof(target));
    fx_symlink(target, "dl");
    do_open("dl", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "", true);
    ck_assert_int_eq(close(r.fd), 0);
    do_open("dl/sub", NOX_PATH_DIR | NOX_PATH_CREATE, &r);
    assert_opened(&r, "", true);
    ck_assert_int_eq(close(r.fd), 0);
    ck_assert_int_eq(count_entries(fx_out), 0);
}
END_TEST

START_TEST(paths_leaks_no_fd_on_any_outcome)
{
    static const struct {
        const char *req;
        unsigned    flags;
    } reqs[] = {
        {"d/new/deeper", NOX_PATH_DIR | NOX_PATH_CREATE}, /* created */
        {"esc/x/y", NOX_PATH_DIR | NOX_PATH_CREATE},      /* escape */
        {"dl/x", NOX_PATH_DIR | NOX_PATH_CREATE},         /* dangling */
        {"f.txt/x/y", NOX_PATH_DIR | NOX_PATH_CREATE},    /* ENOTDIR */
        {"missing/x", NOX_PATH_DIR},                      /* ENOENT */
        {"/etc", 0},                                      /* redirect */
    };
    int before, after;

    fx_mkdir("d");
    fx_symlink(fx_out_rel, "esc");
    fx_symlink("nowhere", "dl");
    tu_write_file(fx_ws, "f.txt", "hi", 2);
    before = count_entries("/proc/self/fd");
    for (size_t i = 0; i < sizeof(reqs) / sizeof(*reqs); i++) {
        open_res_t r;

        do_open(reqs[i].req, reqs[i].flags, &r);
        if (r.rv == NOX_OK)
            ck_assert_int_eq(close(r.fd), 0);
    }
    after = count_entries("/proc/self/fd");
    ck_assert_int_eq(after, before);
}
END_TEST

/* ------------------------------------------------------------------ */
/* suite                                                               */
/* ------------------------------------------------------------------ */

static TCase *
paths_fixture_tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 10); /* a blocking FIFO open would hang */
    return tc;
}

static Suite *
paths_suite(void)
{
    Suite *s = suite_create("paths");
    TCase *tc = tcase_create("session ids");

    tcase_add_test(tc, paths_accepts_valid_session_ids);
    tcase_add_test(tc, paths_rejects_empty_and_null_session_ids);
    tcase_add_test(tc, paths_rejects_session_ids_longer_than_128_characters);
    tcase_add_test(tc, paths_rejects_dot_and_dotdot_session_ids);
    tcase_add_test(tc, paths_rejects_session_ids_with_other_characters);
    suite_add_tcase(s, tc);

    tc = tcase_create("normalize");
    tcase_add_loop_test(tc, paths_normalizes_request_paths_per_the_table, 0,
                        (int)(sizeof(norm_cases) / sizeof(*norm_cases)));
    tcase_add_test(tc, paths_normalize_fails_when_the_output_does_not_fit);
    tcase_add_test(tc, paths_normalize_rejects_overlong_input);
    suite_add_tcase(s, tc);

    tc = paths_fixture_tcase("open");
    tcase_add_test(tc, paths_opens_an_existing_directory);
    tcase_add_test(tc, paths_opens_the_root_for_slash_workspace_and_empty);
    tcase_add_test(tc, paths_reports_a_missing_path_without_create);
    tcase_add_test(tc, paths_creates_missing_nested_directories);
    tcase_add_test(tc, paths_create_without_dir_flag_creates_a_directory);
    tcase_add_test(tc, paths_create_on_an_existing_directory_changes_nothing);
    tcase_add_test(tc, paths_rejects_a_file_when_a_directory_is_required);
    tcase_add_test(tc, paths_opens_a_file_without_the_dir_flag);
    tcase_add_test(tc, paths_rejects_a_path_through_a_file);
    tcase_add_test(tc, paths_opens_a_fifo_without_blocking);
    tcase_add_test(tc, paths_returns_a_close_on_exec_fd);
    tcase_add_test(tc, paths_redirects_a_foreign_absolute_path_to_the_root);
    tcase_add_test(tc, paths_redirects_a_dotdot_escape_to_the_root);
    tcase_add_test(tc,
                   paths_rejects_a_short_rel_buffer_before_creating_anything);
    tcase_add_test(tc, paths_accepts_null_rel_out_redirected_and_status);
    tcase_add_test(tc, paths_reports_an_internal_error_for_a_bad_workspace_fd);
    suite_add_tcase(s, tc);

    tc = paths_fixture_tcase("symlinks");
    tcase_add_test(tc, paths_follows_a_symlink_that_stays_inside);
    tcase_add_test(tc, paths_follows_a_dotdot_symlink_that_stays_inside);
    tcase_add_test(tc, paths_redirects_a_symlink_to_the_host_root);
    tcase_add_test(tc, paths_redirects_a_symlink_climbing_out_with_dotdot);
    tcase_add_test(tc, paths_redirects_a_symlink_loop);
    tcase_add_test(
        tc, paths_create_through_an_escaping_symlink_touches_nothing_outside);
    tcase_add_test(tc, paths_create_through_a_dangling_symlink_creates_nothing);
    tcase_add_test(
        tc, paths_create_through_a_dangling_outside_symlink_creates_nothing);
    tcase_add_test(tc, paths_leaks_no_fd_on_any_outcome);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(paths_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
