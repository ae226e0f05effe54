/* check_tar.c - tar.gz extraction (checks, containment, replacement)
 * and packing (names, links, limits). */
#include "sandbox_scan.h"
#include "tar.h"
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- fixture: a fresh workspace and a directory "outside" it ---- */

static char  *ws;      /* the workspace (destination root) */
static char  *outside; /* a sibling directory extraction must never touch */
static int    ws_fd = -1;
static size_t planted; /* links leading out of ws that a test made itself */

static void
ws_setup(void)
{
    ws = tu_mkdtemp();
    outside = tu_mkdtemp();
    ws_fd = open(ws, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(ws_fd, 0);
    planted = 0;
}

/* Whatever a test did, no link in the workspace leads out of it, except
 * those the test planted there itself. */
static void
ws_teardown(void)
{
    char first[2 * PATH_MAX];

    ck_assert_msg(nox_test_escaping_links(ws, first, sizeof(first)) == planted,
                  "a link leads out of the workspace: %s", first);
    close(ws_fd);
    tu_rmtree_free(ws);
    tu_rmtree_free(outside);
}

/* ---- building archives in memory ---- */

typedef struct {
    const char *name;
    mode_t      type;     /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, ... */
    unsigned    mode;     /* permission bits; 0 means 0644 / 0755 */
    const char *body;     /* regular files: content (NULL: empty) */
    const char *link;     /* symlinks: target */
    const char *hardlink; /* set: a hard link to this name */
} tent_t;

#define TGZ_CAP (8u << 20)

static void
tent_write(struct archive *a, struct archive_entry *e, const tent_t *t)
{
    size_t len = t->body != NULL ? strlen(t->body) : 0;

    archive_entry_clear(e);
    archive_entry_set_pathname(e, t->name);
    archive_entry_set_filetype(e, t->type);
    archive_entry_set_perm(e, t->mode ? t->mode
                                      : (t->type == AE_IFDIR ? 0755 : 0644));
    archive_entry_set_size(e, t->type == AE_IFREG ? (la_int64_t)len : 0);
    if (t->link != NULL)
        archive_entry_set_symlink(e, t->link);
    if (t->hardlink != NULL)
        archive_entry_set_hardlink(e, t->hardlink);
    if (t->type == AE_IFCHR)
        archive_entry_set_rdev(e, makedev(1, 3));
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    if (len > 0)
        ck_assert_int_eq(archive_write_data(a, t->body, len), (ssize_t)len);
}

/* An archive of the n entries (gzip-compressed unless plain); malloc'd. */
static unsigned char *
tar_make(const tent_t *t, size_t n, int plain, size_t *len)
{
    struct archive       *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    unsigned char        *buf = malloc(TGZ_CAP);

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_nonnull(buf);
    if (!plain)
        ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, buf, TGZ_CAP, len),
                     ARCHIVE_OK);
    for (size_t i = 0; i < n; i++)
        tent_write(a, e, &t[i]);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    archive_entry_free(e);
    return buf;
}

/* gzip-compress len bytes (no tar framing); malloc'd. */
static unsigned char *
gzip_raw(const void *data, size_t len, size_t *out_len)
{
    struct archive       *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    unsigned char        *buf = malloc(TGZ_CAP);

    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_set_format_raw(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, buf, TGZ_CAP, out_len),
                     ARCHIVE_OK);
    archive_entry_set_pathname(e, "data");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, (la_int64_t)len);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_data(a, data, len), (ssize_t)len);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    archive_entry_free(e);
    return buf;
}

/* ---- inspecting results ---- */

/* Entries in dir (excluding "." and ".."). */
static int
dir_count(const char *dir)
{
    DIR           *d = opendir(dir);
    struct dirent *de;
    int            n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static mode_t
mode_of(const char *dir, const char *name)
{
    char        path[PATH_MAX];
    struct stat sb;

    ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name),
                     (int)sizeof(path));
    ck_assert_int_eq(lstat(path, &sb), 0);
    return sb.st_mode;
}

static void
assert_file(const char *dir, const char *name, const char *want)
{
    char *got = tu_read_file(dir, name, NULL);

    ck_assert_msg(got != NULL, "%s/%s missing", dir, name);
    ck_assert_str_eq(got, want);
    free(got);
}

static void
assert_link(const char *dir, const char *name, const char *want)
{
    char    path[PATH_MAX], buf[PATH_MAX];
    ssize_t n;

    ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name),
                     (int)sizeof(path));
    n = readlink(path, buf, sizeof(buf) - 1);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, want);
}

/* The names (dirs with '/'), joined by ' ', and types of a packed archive. */
static void
list_names(const nox_buf_t *b, char *out, size_t cap)
{
    struct archive       *a = archive_read_new();
    struct archive_entry *e;

    out[0] = '\0';
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    ck_assert_int_eq(archive_read_open_memory(a, b->data, b->len), ARCHIVE_OK);
    ck_assert_int_eq(archive_filter_code(a, 0), ARCHIVE_FILTER_GZIP);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        if (out[0] != '\0')
            strncat(out, " ", cap - strlen(out) - 1);
        strncat(out, archive_entry_pathname(e), cap - strlen(out) - 1);
    }
    archive_read_free(a);
}

/* Extract t into the workspace root and expect a rejection with code that
 * names entry, leaving the workspace as it was (before entries). */
static void
assert_rejected(const tent_t *t, size_t n, nox_err_t code, const char *entry)
{
    size_t         len;
    unsigned char *tgz = tar_make(t, n, 0, &len);
    int            before = dir_count(ws);
    uint64_t       files = 99;
    nox_status_t   st;
    char           quoted[PATH_MAX];

    ck_assert_int_eq(
        nox__tar_extract(ws_fd, ws_fd, NOX_TAR_GZ, tgz, len, &files, &st),
        code);
    ck_assert_int_eq(st.code, code);
    snprintf(quoted, sizeof(quoted), "'%s'", entry);
    ck_assert_msg(strstr(st.msg, quoted) != NULL, "message '%s' lacks %s",
                  st.msg, quoted);
    ck_assert_int_eq(dir_count(ws), before);
    ck_assert_int_eq(dir_count(outside), 0);
    ck_assert_int_eq(files, 99); /* untouched on failure */
    free(tgz);
}

/* Extract t into fd, a directory at or below the workspace. */
static nox_err_t
extract_into(int fd, const tent_t *t, size_t n, uint64_t *files,
             nox_status_t *st)
{
    size_t         len;
    unsigned char *tgz = tar_make(t, n, 0, &len);
    nox_err_t rv = nox__tar_extract(ws_fd, fd, NOX_TAR_GZ, tgz, len, files, st);

    free(tgz);
    return rv;
}

#define OK_FIRST                                                               \
    {                                                                          \
        "ok.txt", AE_IFREG, 0, "fine", NULL, NULL                              \
    }

/* ======================== extraction: rejections ======================== */

START_TEST(extract_rejects_dotdot_name_writing_nothing)
{
    tent_t t[] = {OK_FIRST, {"../x", AE_IFREG, 0, "evil", NULL, NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "../x");
}
END_TEST

START_TEST(extract_rejects_absolute_name_writing_nothing)
{
    tent_t t[] = {OK_FIRST, {"/etc/x", AE_IFREG, 0, "evil", NULL, NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "/etc/x");
}
END_TEST

START_TEST(extract_rejects_inner_dotdot_writing_nothing)
{
    tent_t t[] = {OK_FIRST, {"a/../../x", AE_IFREG, 0, "evil", NULL, NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "a/../../x");
}
END_TEST

START_TEST(extract_rejects_hard_link_writing_nothing)
{
    tent_t t[] = {OK_FIRST, {"h", AE_IFREG, 0, NULL, NULL, "ok.txt"}};
    assert_rejected(t, 2, NOX_EINVAL, "h");
}
END_TEST

START_TEST(extract_rejects_char_device_writing_nothing)
{
    tent_t t[] = {OK_FIRST, {"null", AE_IFCHR, 0666, NULL, NULL, NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "null");
}
END_TEST

START_TEST(extract_rejects_fifo_writing_nothing)
{
    tent_t t[] = {OK_FIRST, {"pipe", AE_IFIFO, 0644, NULL, NULL, NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "pipe");
}
END_TEST

START_TEST(extract_rejects_symlink_to_absolute_target)
{
    tent_t t[] = {OK_FIRST, {"l", AE_IFLNK, 0777, NULL, "/etc", NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "l");
}
END_TEST

START_TEST(extract_rejects_symlink_leaving_the_workspace)
{
    tent_t t[] = {OK_FIRST,
                  {"d/l", AE_IFLNK, 0777, NULL, "../../outside", NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "d/l");
}
END_TEST

START_TEST(extract_rejects_file_through_symlink_entry)
{
    tent_t t[] = {{"sub/", AE_IFDIR, 0, NULL, NULL, NULL},
                  {"l", AE_IFLNK, 0777, NULL, "sub", NULL},
                  {"l/file", AE_IFREG, 0, "x", NULL, NULL}};
    assert_rejected(t, 3, NOX_EINVAL, "l/file");
}
END_TEST

START_TEST(extract_rejects_file_through_file_entry)
{
    tent_t t[] = {OK_FIRST, {"ok.txt/x", AE_IFREG, 0, "x", NULL, NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "ok.txt/x");
}
END_TEST

START_TEST(extract_rejects_file_where_archive_has_a_directory)
{
    tent_t t[] = {{"d/f", AE_IFREG, 0, "x", NULL, NULL},
                  {"d", AE_IFREG, 0, "x", NULL, NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "d");
}
END_TEST

START_TEST(extract_rejects_path_through_planted_symlink)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/planted", ws);
    ck_assert_int_eq(symlink(outside, path), 0);
    planted++;
    tent_t t[] = {OK_FIRST, {"planted/x", AE_IFREG, 0, "evil", NULL, NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "planted/x");
    ck_assert_int_eq(dir_count(outside), 0);
}
END_TEST

START_TEST(extract_rejects_path_through_file_on_disk)
{
    tu_write_file(ws, "plain", "p", 1);
    tent_t t[] = {OK_FIRST, {"plain/x", AE_IFREG, 0, "x", NULL, NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "plain/x");
    assert_file(ws, "plain", "p");
}
END_TEST

START_TEST(extract_rejects_file_over_existing_directory)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/d", ws);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    tent_t t[] = {OK_FIRST, {"d", AE_IFREG, 0, "x", NULL, NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "d");
    ck_assert(S_ISDIR(mode_of(ws, "d")));
}
END_TEST

START_TEST(extract_rejects_empty_name)
{
    tent_t t[] = {OK_FIRST, {".", AE_IFREG, 0, "x", NULL, NULL}};
    assert_rejected(t, 2, NOX_EINVAL, ".");
}
END_TEST

/* ======================== extraction: bad input ======================== */

static void
assert_bad_input(const void *data, size_t len, const char *prefix)
{
    nox_status_t st;

    ck_assert_int_eq(
        nox__tar_extract(ws_fd, ws_fd, NOX_TAR_GZ, data, len, NULL, &st),
        NOX_EINVAL);
    ck_assert_msg(strncmp(st.msg, prefix, strlen(prefix)) == 0,
                  "message '%s' does not start with '%s'", st.msg, prefix);
    ck_assert_int_eq(dir_count(ws), 0);
}

START_TEST(extract_rejects_plain_tar)
{
    tent_t         t[] = {OK_FIRST};
    size_t         len;
    unsigned char *tar = tar_make(t, 1, 1, &len);

    assert_bad_input(tar, len, "not a gzip tar archive");
    free(tar);
}
END_TEST

START_TEST(extract_rejects_random_bytes)
{
    unsigned char junk[4096];

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 7919u >> 3);
    assert_bad_input(junk, sizeof(junk), "not a gzip tar archive");
    assert_bad_input(junk, 0, "not a gzip tar archive");
    assert_bad_input(NULL, 0, "not a gzip tar archive");
}
END_TEST

START_TEST(extract_rejects_gzip_of_non_tar)
{
    size_t         len;
    unsigned char *gz = gzip_raw("hello, this is not a tar", 24, &len);

    assert_bad_input(gz, len, "not a gzip tar archive: ");
    free(gz);
}
END_TEST

START_TEST(extract_rejects_truncated_gzip_writing_nothing)
{
    static char big[200000];
    size_t      len;

    /* Incompressible-ish content so the cut lands inside the second
     * file's data, after a complete first entry. */
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = (char)('!' + (i * 2654435761u >> 13) % 90);
    tent_t         t[] = {OK_FIRST, {"big", AE_IFREG, 0, big, NULL, NULL}};
    unsigned char *tgz = tar_make(t, 2, 0, &len);

    assert_bad_input(tgz, len / 2, "corrupt archive: ");
    free(tgz);
}
END_TEST

/* ======================== extraction: writing ======================== */

START_TEST(extract_replaces_planted_symlink_at_file_name)
{
    char     path[PATH_MAX], target[PATH_MAX];
    uint64_t files = 0;

    tu_write_file(outside, "target.txt", "ORIGINAL", 8);
    snprintf(target, sizeof(target), "%s/target.txt", outside);
    snprintf(path, sizeof(path), "%s/f", ws);
    ck_assert_int_eq(symlink(target, path), 0);
    tent_t t[] = {{"f", AE_IFREG, 0, "NEW", NULL, NULL}};
    ck_assert_int_eq(extract_into(ws_fd, t, 1, &files, NULL), NOX_OK);
    ck_assert(S_ISREG(mode_of(ws, "f")));
    assert_file(ws, "f", "NEW");
    assert_file(outside, "target.txt", "ORIGINAL");
    ck_assert_int_eq(files, 1);
}
END_TEST

START_TEST(extract_replaces_planted_hard_link_at_file_name)
{
    char        path[PATH_MAX], target[PATH_MAX];
    struct stat sb;

    tu_write_file(outside, "t.txt", "ORIGINAL", 8);
    snprintf(target, sizeof(target), "%s/t.txt", outside);
    snprintf(path, sizeof(path), "%s/h", ws);
    ck_assert_int_eq(link(target, path), 0);
    tent_t t[] = {{"h", AE_IFREG, 0, "NEW", NULL, NULL}};
    ck_assert_int_eq(extract_into(ws_fd, t, 1, NULL, NULL), NOX_OK);
    assert_file(ws, "h", "NEW");
    assert_file(outside, "t.txt", "ORIGINAL");
    ck_assert_int_eq(stat(target, &sb), 0);
    ck_assert_int_eq(sb.st_nlink, 1);
}
END_TEST

START_TEST(extract_counts_only_regular_files)
{
    uint64_t     files = 0;
    nox_status_t st;
    tent_t       t[] = {{"d/", AE_IFDIR, 0, NULL, NULL, NULL},
                        {"d/f", AE_IFREG, 0, "1", NULL, NULL},
                        {"l", AE_IFLNK, 0777, NULL, "d/f", NULL},
                        {"e/g", AE_IFREG, 0, NULL, NULL, NULL}};

    ck_assert_int_eq(extract_into(ws_fd, t, 4, &files, &st), NOX_OK);
    ck_assert_int_eq(st.code, NOX_OK);
    ck_assert_int_eq(files, 2);
    assert_file(ws, "d/f", "1");
    assert_file(ws, "e/g", "");
    assert_link(ws, "l", "d/f");
    assert_file(ws, "l", "1");
}
END_TEST

START_TEST(extract_strips_dot_slash_and_skips_the_root_entry)
{
    uint64_t files = 0;
    tent_t   t[] = {{"./", AE_IFDIR, 0, NULL, NULL, NULL},
                    {".", AE_IFDIR, 0, NULL, NULL, NULL},
                    {"./a/b", AE_IFREG, 0, "ab", NULL, NULL},
                    {"./a/./c", AE_IFREG, 0, "ac", NULL, NULL}};

    ck_assert_int_eq(extract_into(ws_fd, t, 4, &files, NULL), NOX_OK);
    ck_assert_int_eq(files, 2);
    assert_file(ws, "a/b", "ab");
    assert_file(ws, "a/c", "ac");
}
END_TEST

START_TEST(extract_strips_setuid_setgid_and_sticky)
{
    tent_t t[] = {{"d/", AE_IFDIR, 01555, NULL, NULL, NULL},
                  {"d/s", AE_IFREG, 06755, "x", NULL, NULL},
                  {"ro", AE_IFREG, 0400, "r", NULL, NULL}};

    ck_assert_int_eq(extract_into(ws_fd, t, 3, NULL, NULL), NOX_OK);
    ck_assert_int_eq(mode_of(ws, "d/s") & 07777, 0755);
    ck_assert_int_eq(mode_of(ws, "d") & 07777, 0755); /* 0555 | owner rwx */
    ck_assert_int_eq(mode_of(ws, "ro") & 07777, 0400);
}
END_TEST

START_TEST(extract_into_subdirectory_accepts_link_staying_inside)
{
    char         path[PATH_MAX];
    nox_status_t st;
    int          fd;

    snprintf(path, sizeof(path), "%s/sub", ws);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    tent_t t[] = {{"l", AE_IFLNK, 0777, NULL, "../x", NULL}};
    ck_assert_int_eq(extract_into(fd, t, 1, NULL, &st), NOX_OK);
    assert_link(path, "l", "../x");
    /* The same link one level deeper in the archive leaves it. */
    tent_t deep[] = {{"d/l", AE_IFLNK, 0777, NULL, "../../../x", NULL}};
    ck_assert_int_eq(extract_into(fd, deep, 1, NULL, &st), NOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(st.msg, "'d/l'"));
    ck_assert_int_eq(tu_exists(path, "d"), 0);
    close(fd);
}
END_TEST

/* A link reached through "d -> ." makes the destination d/d/d/x look four
 * levels deep while it is one: links are judged where it really is. */
START_TEST(extract_judges_links_where_the_destination_really_is)
{
    char         path[PATH_MAX];
    nox_status_t st;

    ck_assert_int_eq(symlinkat(".", ws_fd, "d"), 0);
    ck_assert_int_eq(mkdirat(ws_fd, "x", 0755), 0);
    snprintf(path, sizeof(path), "%s/d/d/d/x", ws);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    tent_t t[] = {{"l", AE_IFLNK, 0777, NULL, "../../../etc", NULL}};
    ck_assert_int_eq(extract_into(fd, t, 1, NULL, &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg, "archive entry 'l' rejected: symlink target "
                             "leaves the workspace");
    snprintf(path, sizeof(path), "%s/x", ws);
    ck_assert_int_eq(dir_count(path), 0);
    /* Climbing the one real level is fine. */
    tent_t up[] = {{"l", AE_IFLNK, 0777, NULL, "../d", NULL}};
    ck_assert_int_eq(extract_into(fd, up, 1, NULL, &st), NOX_OK);
    assert_link(path, "l", "../d");
    close(fd);
}
END_TEST

/* "d/d/../.." reads as the workspace itself, but with d -> . the kernel
 * climbs two levels above it: a ".." after a name is judged by what that
 * name is when the link is followed, which an upload cannot know. */
START_TEST(extract_rejects_link_climbing_after_a_name_in_the_archive)
{
    tent_t t[] = {{"d", AE_IFLNK, 0777, NULL, ".", NULL},
                  {"l", AE_IFLNK, 0777, NULL, "d/d/../..", NULL}};
    assert_rejected(t, 2, NOX_EINVAL, "l");
}
END_TEST

START_TEST(extract_rejects_link_climbing_after_a_name_on_disk)
{
    nox_status_t st;

    ck_assert_int_eq(symlinkat(".", ws_fd, "d"), 0);
    tent_t t[] = {{"sub/l", AE_IFLNK, 0777, NULL, "../d/d/../..", NULL}};
    ck_assert_int_eq(extract_into(ws_fd, t, 1, NULL, &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg, "archive entry 'sub/l' rejected: symlink target "
                             "has '..' after a name");
    ck_assert_int_eq(tu_exists(ws, "sub"), 0);
}
END_TEST

/* A destination that is not below the workspace at all is refused before
 * anything is read. */
START_TEST(extract_rejects_a_destination_outside_the_workspace)
{
    nox_status_t st;
    int          fd = open(outside, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    tent_t       t[] = {OK_FIRST};

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(extract_into(fd, t, 1, NULL, &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg, "destination is outside the workspace");
    ck_assert_int_eq(dir_count(outside), 0);
    close(fd);
}
END_TEST

/* ======================== extraction: limits ======================== */

START_TEST(extract_rejects_more_entries_than_the_cap)
{
    size_t         n = NOX_TAR_MAX_ENTRIES + 1;
    tent_t        *t = calloc(n, sizeof(*t));
    size_t         len;
    nox_status_t   st;
    unsigned char *tgz;

    ck_assert_ptr_nonnull(t);
    for (size_t i = 0; i < n; i++)
        t[i] = (tent_t){"d/", AE_IFDIR, 0, NULL, NULL, NULL};
    tgz = tar_make(t, n, 0, &len);
    ck_assert_int_eq(
        nox__tar_extract(ws_fd, ws_fd, NOX_TAR_GZ, tgz, len, NULL, &st),
        NOX_ERESOURCE);
    ck_assert_int_eq(dir_count(ws), 0);
    free(tgz);
    free(t);
}
END_TEST

START_TEST(extract_rejects_declared_size_past_the_byte_cap)
{
    tent_t         t[] = {{"big", AE_IFREG, 0, NULL, NULL, NULL}};
    size_t         len, gzlen;
    unsigned char *tar = tar_make(t, 1, 1, &len);
    unsigned       sum = 0;
    nox_status_t   st;

    /* Claim 8 GiB - 1 in the ustar size field and fix the checksum. */
    memcpy(tar + 124, "77777777777", 12);
    memset(tar + 148, ' ', 8);
    for (size_t i = 0; i < 512; i++)
        sum += tar[i];
    snprintf((char *)tar + 148, 8, "%06o", sum);
    unsigned char *gz = gzip_raw(tar, len, &gzlen);
    ck_assert_int_eq(
        nox__tar_extract(ws_fd, ws_fd, NOX_TAR_GZ, gz, gzlen, NULL, &st),
        NOX_ERESOURCE);
    ck_assert_int_eq(dir_count(ws), 0);
    free(gz);
    free(tar);
}
END_TEST

/* ======================== packing ======================== */

static void
mkdir_in(const char *dir, const char *name)
{
    char path[PATH_MAX];

    ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name),
                     (int)sizeof(path));
    ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void
chmod_in(const char *dir, const char *name, mode_t mode)
{
    char path[PATH_MAX];

    ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name),
                     (int)sizeof(path));
    ck_assert_int_eq(chmod(path, mode), 0);
}

static int
open_in(const char *dir, const char *name)
{
    char path[PATH_MAX];
    int  fd;

    ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name),
                     (int)sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    return fd;
}

START_TEST(pack_then_extract_round_trips_a_tree)
{
    nox_buf_t    out = NOX_BUF_INIT;
    nox_status_t st;
    uint64_t     files = 0;
    char         src[PATH_MAX], dst[PATH_MAX], names[1024];

    mkdir_in(ws, "src");
    mkdir_in(ws, "dst");
    snprintf(src, sizeof(src), "%s/src", ws);
    snprintf(dst, sizeof(dst), "%s/dst", ws);
    tu_write_file(src, "a.txt", "hello", 5);
    tu_write_file(src, "empty", "", 0);
    tu_write_file(src, "run.sh", "#!/bin/sh\n", 10);
    chmod_in(src, "run.sh", 0755);
    tu_write_file(src, "suid", "s", 1);
    chmod_in(src, "suid", 04755);
    mkdir_in(src, "sub");
    mkdir_in(src, "sub/deep");
    tu_write_file(src, "sub/deep/b.txt", "bee", 3);
    ck_assert_int_eq(symlinkat("../a.txt", ws_fd, "src/sub/link"), 0);
    /* A hard-linked pair packs as two files: extraction refuses links. */
    ck_assert_int_eq(linkat(ws_fd, "src/a.txt", ws_fd, "src/hard", 0), 0);

    int fd = open_in(ws, "src");
    ck_assert_int_eq(nox__tar_pack(fd, "src", NOX_TAR_GZ, 0, &out, &st),
                     NOX_OK);
    close(fd);
    list_names(&out, names, sizeof(names));
    ck_assert_str_eq(names, "a.txt empty hard run.sh sub/ sub/deep/ "
                            "sub/deep/b.txt sub/link suid");

    fd = open_in(ws, "dst");
    ck_assert_int_eq(
        nox__tar_extract(ws_fd, fd, NOX_TAR_GZ, out.data, out.len, &files, &st),
        NOX_OK);
    close(fd);
    ck_assert_int_eq(files, 6);
    assert_file(dst, "a.txt", "hello");
    assert_file(dst, "hard", "hello");
    assert_file(dst, "empty", "");
    assert_file(dst, "sub/deep/b.txt", "bee");
    assert_link(dst, "sub/link", "../a.txt");
    ck_assert_int_eq(mode_of(dst, "run.sh") & 07777, 0755);
    ck_assert_int_eq(mode_of(dst, "suid") & 07777, 0755);
    ck_assert_int_eq(mode_of(dst, "a.txt") & 07777, 0644);
    nox__buf_free(&out);
}
END_TEST

/* Pack a.txt in format, check the archive's signature, extract it back,
 * and check that the other formats refuse it. */
static void
round_trip_format(nox_tar_format_t format, const uint8_t *magic,
                  size_t magic_off, size_t magic_len)
{
    static const char *names[] = {"gzip tar", "tar", "zstd tar"};
    nox_buf_t          out = NOX_BUF_INIT;
    nox_status_t       st;
    uint64_t           files = 0;
    char               want[64];

    tu_write_file(ws, "a.txt", "formats", 7);
    int fd = open_in(ws, "a.txt");
    ck_assert_int_eq(nox__tar_pack(fd, "a.txt", format, 0, &out, &st), NOX_OK);
    close(fd);
    ck_assert_uint_gt(out.len, magic_off + magic_len);
    ck_assert_mem_eq(out.data + magic_off, magic, magic_len);
    fd = open_in(outside, ".");
    for (int other = NOX_TAR_GZ; other <= NOX_TAR_ZSTD; other++) {
        if (other == (int)format)
            continue;
        ck_assert_int_eq(nox__tar_extract(fd, fd, (nox_tar_format_t)other,
                                          out.data, out.len, NULL, &st),
                         NOX_EINVAL);
        snprintf(want, sizeof(want), "not a %s archive: ", names[other]);
        ck_assert_msg(strncmp(st.msg, want, strlen(want)) == 0, "msg: %s",
                      st.msg);
        ck_assert(!tu_exists(outside, "a.txt"));
    }
    ck_assert_int_eq(
        nox__tar_extract(fd, fd, format, out.data, out.len, &files, &st),
        NOX_OK);
    close(fd);
    ck_assert_uint_eq(files, 1);
    assert_file(outside, "a.txt", "formats");
    nox__buf_free(&out);
}

START_TEST(plain_tar_round_trips_and_only_as_plain_tar)
{
    static const uint8_t ustar[] = {'u', 's', 't', 'a', 'r'};
    round_trip_format(NOX_TAR_PLAIN, ustar, 257, sizeof(ustar));
}
END_TEST

START_TEST(zstd_tar_round_trips_and_only_as_zstd_tar)
{
    static const uint8_t zstd[] = {0x28, 0xb5, 0x2f, 0xfd};
    round_trip_format(NOX_TAR_ZSTD, zstd, 0, sizeof(zstd));
}
END_TEST

START_TEST(gzip_tar_round_trips_and_only_as_gzip_tar)
{
    static const uint8_t gz[] = {0x1f, 0x8b};
    round_trip_format(NOX_TAR_GZ, gz, 0, sizeof(gz));
}
END_TEST

START_TEST(unknown_formats_are_invalid)
{
    nox_buf_t    out = NOX_BUF_INIT;
    nox_status_t st;
    int          fd = open_in(ws, ".");

    ck_assert_int_eq(nox__tar_pack(fd, "ws", (nox_tar_format_t)3, 0, &out, &st),
                     NOX_EINVAL);
    ck_assert_str_eq(st.msg, "unknown archive format 3");
    ck_assert_int_eq(
        nox__tar_extract(fd, fd, (nox_tar_format_t)9, "x", 1, NULL, &st),
        NOX_EINVAL);
    ck_assert_str_eq(st.msg, "unknown archive format 9");
    close(fd);
}
END_TEST

START_TEST(pack_of_a_file_is_one_entry_named_file_name)
{
    nox_buf_t out = NOX_BUF_INIT;
    char      names[256];

    tu_write_file(ws, "x.bin", "content", 7);
    int fd = open_in(ws, "x.bin");
    ck_assert_int_eq(nox__tar_pack(fd, "x.bin", NOX_TAR_GZ, 0, &out, NULL),
                     NOX_OK);
    close(fd);
    list_names(&out, names, sizeof(names));
    ck_assert_str_eq(names, "x.bin");

    fd = open_in(outside, ".");
    ck_assert_int_eq(
        nox__tar_extract(fd, fd, NOX_TAR_GZ, out.data, out.len, NULL, NULL),
        NOX_OK);
    close(fd);
    assert_file(outside, "x.bin", "content");
    nox__buf_free(&out);
}
END_TEST

START_TEST(pack_stores_symlinks_as_links_never_followed)
{
    nox_buf_t             out = NOX_BUF_INIT;
    char                  target[PATH_MAX], path[PATH_MAX];
    struct archive       *a = archive_read_new();
    struct archive_entry *e;
    char                  data[64];

    tu_write_file(outside, "secret", "TOPSECRET", 9);
    snprintf(target, sizeof(target), "%s/secret", outside);
    snprintf(path, sizeof(path), "%s/link", ws);
    ck_assert_int_eq(symlink(target, path), 0);
    planted++;
    ck_assert_int_eq(nox__tar_pack(ws_fd, "ws", NOX_TAR_GZ, 0, &out, NULL),
                     NOX_OK);

    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    ck_assert_int_eq(archive_read_open_memory(a, out.data, out.len),
                     ARCHIVE_OK);
    ck_assert_int_eq(archive_read_next_header(a, &e), ARCHIVE_OK);
    ck_assert_str_eq(archive_entry_pathname(e), "link");
    ck_assert_int_eq(archive_entry_filetype(e), AE_IFLNK);
    ck_assert_str_eq(archive_entry_symlink(e), target);
    ck_assert_int_eq(archive_read_data(a, data, sizeof(data)), 0);
    ck_assert_int_eq(archive_read_next_header(a, &e), ARCHIVE_EOF);
    archive_read_free(a);
    nox__buf_free(&out);
}
END_TEST

START_TEST(pack_skips_fifos_and_sorts_names)
{
    nox_buf_t out = NOX_BUF_INIT;
    char      path[PATH_MAX], names[256];

    tu_write_file(ws, "b", "b", 1);
    tu_write_file(ws, "a", "a", 1);
    mkdir_in(ws, "c");
    snprintf(path, sizeof(path), "%s/fifo", ws);
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    ck_assert_int_eq(nox__tar_pack(ws_fd, "ws", NOX_TAR_GZ, 0, &out, NULL),
                     NOX_OK);
    list_names(&out, names, sizeof(names));
    ck_assert_str_eq(names, "a b c/");
    nox__buf_free(&out);
}
END_TEST

START_TEST(pack_fails_with_eresource_past_max_bytes)
{
    static char  noise[300000];
    nox_buf_t    out = NOX_BUF_INIT;
    nox_status_t st;
    uint32_t     x = 2463534242u;

    for (size_t i = 0; i < sizeof(noise); i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift: no pattern */
        noise[i] = (char)x;
    }
    tu_write_file(ws, "noise", noise, sizeof(noise));
    ck_assert_int_eq(nox__tar_pack(ws_fd, "ws", NOX_TAR_GZ, 4096, &out, &st),
                     NOX_ERESOURCE);
    ck_assert_ptr_nonnull(strstr(st.msg, "larger than 4096 bytes"));
    ck_assert_ptr_null(out.data);
    ck_assert_int_eq(out.len, 0);
    /* Unlimited, the same tree packs. */
    ck_assert_int_eq(nox__tar_pack(ws_fd, "ws", NOX_TAR_GZ, 0, &out, &st),
                     NOX_OK);
    ck_assert_uint_gt(out.len, sizeof(noise) / 2);
    nox__buf_free(&out);
}
END_TEST

START_TEST(pack_of_an_empty_directory_extracts_to_nothing)
{
    nox_buf_t out = NOX_BUF_INIT;
    uint64_t  files = 7;

    ck_assert_int_eq(nox__tar_pack(ws_fd, "ws", NOX_TAR_GZ, 0, &out, NULL),
                     NOX_OK);
    ck_assert_uint_gt(out.len, 0);
    ck_assert_int_eq(nox__tar_extract(ws_fd, ws_fd, NOX_TAR_GZ, out.data,
                                      out.len, &files, NULL),
                     NOX_OK);
    ck_assert_int_eq(files, 0);
    nox__buf_free(&out);
}
END_TEST

START_TEST(pack_fails_past_the_depth_limit)
{
    nox_buf_t    out = NOX_BUF_INIT;
    nox_status_t st;
    int          fd = dup(ws_fd), nfd, mid = -1;

    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < 300; i++) {
        ck_assert_int_eq(mkdirat(fd, "d", 0755), 0);
        nfd = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(nfd, 0);
        if (i == 150)
            mid = dup(nfd);
        close(fd);
        fd = nfd;
    }
    close(fd);
    ck_assert_int_eq(nox__tar_pack(ws_fd, "ws", NOX_TAR_GZ, 0, &out, &st),
                     NOX_ERESOURCE);
    ck_assert_ptr_nonnull(strstr(st.msg, "deeper than"));
    ck_assert_ptr_null(out.data);
    /* Halve the tree so the fixture's (depth-limited) removal copes. */
    ck_assert_int_eq(renameat(mid, "d", ws_fd, "rest"), 0);
    close(mid);
}
END_TEST

START_TEST(pack_then_extract_keeps_non_ascii_names)
{
    nox_buf_t out = NOX_BUF_INIT;
    char      names[256];

    tu_write_file(ws, "h\xc3\xa9llo \xe2\x9c\x93.txt", "utf8", 4);
    tu_write_file(ws, "raw\xff", "bin", 3);
    ck_assert_int_eq(nox__tar_pack(ws_fd, "ws", NOX_TAR_GZ, 0, &out, NULL),
                     NOX_OK);
    list_names(&out, names, sizeof(names));
    ck_assert_str_eq(names, "h\xc3\xa9llo \xe2\x9c\x93.txt raw\xff");
    int fd = open_in(outside, ".");
    ck_assert_int_eq(
        nox__tar_extract(fd, fd, NOX_TAR_GZ, out.data, out.len, NULL, NULL),
        NOX_OK);
    close(fd);
    assert_file(outside, "h\xc3\xa9llo \xe2\x9c\x93.txt", "utf8");
    assert_file(outside, "raw\xff", "bin");
    nox__buf_free(&out);
}
END_TEST

static TCase *
tar_tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, ws_setup, ws_teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

static Suite *
tar_suite(void)
{
    Suite *s = suite_create("tar");
    TCase *tc = tar_tcase("rejection");

    tcase_add_test(tc, extract_rejects_dotdot_name_writing_nothing);
    tcase_add_test(tc, extract_rejects_absolute_name_writing_nothing);
    tcase_add_test(tc, extract_rejects_inner_dotdot_writing_nothing);
    tcase_add_test(tc, extract_rejects_hard_link_writing_nothing);
    tcase_add_test(tc, extract_rejects_char_device_writing_nothing);
    tcase_add_test(tc, extract_rejects_fifo_writing_nothing);
    tcase_add_test(tc, extract_rejects_symlink_to_absolute_target);
    tcase_add_test(tc, extract_rejects_symlink_leaving_the_workspace);
    tcase_add_test(tc, extract_rejects_file_through_symlink_entry);
    tcase_add_test(tc, extract_rejects_file_through_file_entry);
    tcase_add_test(tc, extract_rejects_file_where_archive_has_a_directory);
    tcase_add_test(tc, extract_rejects_path_through_planted_symlink);
    tcase_add_test(tc, extract_rejects_path_through_file_on_disk);
    tcase_add_test(tc, extract_rejects_file_over_existing_directory);
    tcase_add_test(tc, extract_rejects_empty_name);
    suite_add_tcase(s, tc);

    tc = tar_tcase("bad input");
    tcase_add_test(tc, extract_rejects_plain_tar);
    tcase_add_test(tc, extract_rejects_random_bytes);
    tcase_add_test(tc, extract_rejects_gzip_of_non_tar);
    tcase_add_test(tc, extract_rejects_truncated_gzip_writing_nothing);
    suite_add_tcase(s, tc);

    tc = tar_tcase("writing");
    tcase_add_test(tc, extract_replaces_planted_symlink_at_file_name);
    tcase_add_test(tc, extract_replaces_planted_hard_link_at_file_name);
    tcase_add_test(tc, extract_counts_only_regular_files);
    tcase_add_test(tc, extract_strips_dot_slash_and_skips_the_root_entry);
    tcase_add_test(tc, extract_strips_setuid_setgid_and_sticky);
    tcase_add_test(tc, extract_into_subdirectory_accepts_link_staying_inside);
    tcase_add_test(tc, extract_judges_links_where_the_destination_really_is);
    tcase_add_test(tc,
                   extract_rejects_link_climbing_after_a_name_in_the_archive);
    tcase_add_test(tc, extract_rejects_link_climbing_after_a_name_on_disk);
    tcase_add_test(tc, extract_rejects_a_destination_outside_the_workspace);
    suite_add_tcase(s, tc);

    tc = tar_tcase("limits");
    tcase_add_test(tc, extract_rejects_more_entries_than_the_cap);
    tcase_add_test(tc, extract_rejects_declared_size_past_the_byte_cap);
    tcase_add_test(tc, pack_fails_with_eresource_past_max_bytes);
    tcase_add_test(tc, pack_fails_past_the_depth_limit);
    suite_add_tcase(s, tc);

    tc = tar_tcase("packing");
    tcase_add_test(tc, pack_then_extract_round_trips_a_tree);
    tcase_add_test(tc, pack_of_a_file_is_one_entry_named_file_name);
    tcase_add_test(tc, plain_tar_round_trips_and_only_as_plain_tar);
    tcase_add_test(tc, zstd_tar_round_trips_and_only_as_zstd_tar);
    tcase_add_test(tc, gzip_tar_round_trips_and_only_as_gzip_tar);
    tcase_add_test(tc, unknown_formats_are_invalid);
    tcase_add_test(tc, pack_stores_symlinks_as_links_never_followed);
    tcase_add_test(tc, pack_skips_fifos_and_sorts_names);
    tcase_add_test(tc, pack_of_an_empty_directory_extracts_to_nothing);
    tcase_add_test(tc, pack_then_extract_keeps_non_ascii_names);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(tar_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
