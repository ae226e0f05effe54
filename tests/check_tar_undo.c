/* check_tar_undo.c - how a failed extraction is undone when the world moves
 * under it: a concurrent upload writing the same names, a filesystem
 * without renameat2's flags, a command removing a directory mid-upload.
 *
 * The failures are injected at renameat2()/renameat(): nox_engine is a
 * static library, so the definitions below take the place of libc's for
 * the engine code linked into this program. Each test runs in its own
 * process (CK_FORK), and the fixture clears the hook. */
#include "tar.h"
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the seam ---- */

typedef int undo_rename_fn(int olddir, const char *oldname, int newdir,
                           const char *newname, unsigned flags);

static undo_rename_fn *rename_hook; /* NULL: the real call */

static int
rename_real(int olddir, const char *oldname, int newdir, const char *newname,
            unsigned flags)
{
    return (int)syscall(SYS_renameat2, olddir, oldname, newdir, newname, flags);
}

int
renameat2(int olddir, const char *oldname, int newdir, const char *newname,
          unsigned flags)
{
    undo_rename_fn *fn = rename_hook != NULL ? rename_hook : rename_real;

    return fn(olddir, oldname, newdir, newname, flags);
}

int
renameat(int olddir, const char *oldname, int newdir, const char *newname)
{
    return renameat2(olddir, oldname, newdir, newname, 0);
}

/* ---- fixture ---- */

static char *ws;
static int   ws_fd = -1;

static void
ws_setup(void)
{
    rename_hook = NULL;
    ws = tu_mkdtemp();
    ws_fd = open(ws, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(ws_fd, 0);
}

static void
ws_teardown(void)
{
    rename_hook = NULL;
    close(ws_fd);
    tu_rmtree_free(ws);
}

/* ---- archives: regular files named "name=body" ---- */

#define UNDO_TAR_CAP (64 * 1024)

static nox_err_t
extract_files(const char *const *files, size_t n, nox_status_t *st)
{
    struct archive       *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    char                 *buf = malloc(UNDO_TAR_CAP), name[64];
    size_t                len = 0;

    ck_assert(a != NULL && e != NULL && buf != NULL);
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, buf, UNDO_TAR_CAP, &len),
                     ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(files[i], '=');
        ck_assert_ptr_nonnull(eq);
        (void)snprintf(name, sizeof(name), "%.*s", (int)(eq - files[i]),
                       files[i]);
        archive_entry_clear(e);
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)strlen(eq + 1));
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        ck_assert_int_eq(archive_write_data(a, eq + 1, strlen(eq + 1)),
                         (la_ssize_t)strlen(eq + 1));
    }
    archive_entry_free(e);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_free(a), ARCHIVE_OK);
    nox_err_t rv =
        nox__tar_extract(ws_fd, ws_fd, NOX_TAR_PLAIN, buf, len, NULL, st);
    free(buf);
    return rv;
}

/* The names in ws, sorted, space-separated. */
static void
ws_names(char *out, size_t cap)
{
    struct dirent **ents;
    int             n = scandir(ws, &ents, NULL, alphasort);
    size_t          used = 0;

    ck_assert_int_ge(n, 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *d = ents[i]->d_name;
        if (strcmp(d, ".") != 0 && strcmp(d, "..") != 0) {
            int k =
                snprintf(out + used, cap - used, "%s%s", used ? " " : "", d);
            ck_assert(k >= 0 && (size_t)k < cap - used);
            used += (size_t)k;
        }
        free(ents[i]);
    }
    free(ents);
}

static void
assert_file(const char *name, const char *want)
{
    char *got = tu_read_file(ws, name, NULL);

    ck_assert_msg(got != NULL, "%s missing", name);
    ck_assert_str_eq(got, want);
    free(got);
}

/* Another writer puts body at ws/name the way an upload does: a new file
 * renamed over the name. */
static void
other_writes(const char *name, const char *body)
{
    tu_write_file(ws, ".other", body, strlen(body));
    ck_assert_int_eq(rename_real(ws_fd, ".other", ws_fd, name, 0), 0);
}

/* ---- hooks ---- */

/* Entry "z" fails, after a concurrent upload has written "f" and "n". */
static int
hook_other_upload_then_fail(int olddir, const char *oldname, int newdir,
                            const char *newname, unsigned flags)
{
    if (strcmp(newname, "z") == 0) {
        other_writes("f", "theirs f");
        other_writes("n", "theirs n");
        errno = EIO;
        return -1;
    }
    return rename_real(olddir, oldname, newdir, newname, flags);
}

/* A filesystem without RENAME_NOREPLACE/RENAME_EXCHANGE; entry "z" then
 * fails. */
static int
hook_no_flags_then_fail(int olddir, const char *oldname, int newdir,
                        const char *newname, unsigned flags)
{
    errno = flags != 0 ? EINVAL : EIO;
    if (flags != 0 || strcmp(newname, "z") == 0)
        return -1;
    return rename_real(olddir, oldname, newdir, newname, flags);
}

/* Once "sub/x" is in place, a command removes the whole of sub/. */
static int
hook_remove_sub_after_x(int olddir, const char *oldname, int newdir,
                        const char *newname, unsigned flags)
{
    int rc = rename_real(olddir, oldname, newdir, newname, flags);

    if (rc == 0 && strcmp(newname, "x") == 0) {
        ck_assert_int_eq(unlinkat(ws_fd, "sub/x", 0), 0);
        ck_assert_int_eq(unlinkat(ws_fd, "sub", AT_REMOVEDIR), 0);
    }
    return rc;
}

/* Entry "z" fails, after a command has removed the "f" we replaced. */
static int
hook_command_removes_then_fail(int olddir, const char *oldname, int newdir,
                               const char *newname, unsigned flags)
{
    if (strcmp(newname, "z") == 0) {
        ck_assert_int_eq(unlinkat(ws_fd, "f", 0), 0);
        errno = ENOSPC;
        return -1;
    }
    return rename_real(olddir, oldname, newdir, newname, flags);
}

/* ---- tests ---- */

START_TEST(rollback_restores_a_replaced_file_a_command_removed_since)
{
    const char  *files[] = {"f=ours f", "z=zz"};
    nox_status_t st;
    char         names[256];

    tu_write_file(ws, "f", "old f", 5);
    rename_hook = hook_command_removes_then_fail;
    ck_assert_int_eq(extract_files(files, 2, &st), NOX_ERESOURCE);
    /* Nothing stands at the name: the old file goes back, not away. */
    assert_file("f", "old f");
    ws_names(names, sizeof(names));
    ck_assert_str_eq(names, "f");
}
END_TEST

START_TEST(rollback_keeps_what_a_concurrent_upload_wrote_since)
{
    const char  *files[] = {"f=ours f", "n=ours n", "z=zz"};
    nox_status_t st;
    char         names[256];

    tu_write_file(ws, "f", "old f", 5);
    rename_hook = hook_other_upload_then_fail;
    ck_assert_int_eq(extract_files(files, 3, &st), NOX_EINTERNAL);
    /* The other writer came last: its files stand, the old "f" is not put
     * back over it, and no backup or temporary name is left. */
    assert_file("f", "theirs f");
    assert_file("n", "theirs n");
    ws_names(names, sizeof(names));
    ck_assert_str_eq(names, "f n");
}
END_TEST

START_TEST(rollback_without_rename_flags_removes_what_it_created)
{
    const char  *files[] = {"a=new a", "keep=new keep", "z=zz"};
    nox_status_t st;
    char         names[256];

    tu_write_file(ws, "keep", "old keep", 8);
    rename_hook = hook_no_flags_then_fail;
    ck_assert_int_eq(extract_files(files, 3, &st), NOX_EINTERNAL);
    /* "a" was new and goes; a plain rename cannot keep what it replaced,
     * so "keep" stays replaced (tar.h says so). */
    ws_names(names, sizeof(names));
    ck_assert_str_eq(names, "keep");
    assert_file("keep", "new keep");
}
END_TEST

START_TEST(directory_removed_during_extraction_is_aborted)
{
    const char  *files[] = {"sub/x=x", "sub/pwn=p"};
    nox_status_t st;
    char         names[256];

    rename_hook = hook_remove_sub_after_x;
    ck_assert_int_eq(extract_files(files, 2, &st), NOX_EABORTED);
    ck_assert_str_eq(st.msg, "the workspace changed during the upload; "
                             "nothing of it was kept");
    ws_names(names, sizeof(names));
    ck_assert_str_eq(names, "");
}
END_TEST

static Suite *
tar_undo_suite(void)
{
    Suite *s = suite_create("tar_undo");
    TCase *tc = tcase_create("rollback");

    tcase_add_checked_fixture(tc, ws_setup, ws_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, rollback_keeps_what_a_concurrent_upload_wrote_since);
    tcase_add_test(tc,
                   rollback_restores_a_replaced_file_a_command_removed_since);
    tcase_add_test(tc, rollback_without_rename_flags_removes_what_it_created);
    tcase_add_test(tc, directory_removed_during_extraction_is_aborted);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(tar_undo_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
