/* check_disk_full.c - an engine whose base directory's device fills up:
 * uploads, creates and metadata writes fail with NOX_ERESOURCE "no space
 * left on the device holding <base_dir>", undo what they did, and the
 * engine serves again once there is room.
 *
 * Each test (a forked process) enters a mount namespace of its own (as
 * root, or as the owner of a new user namespace) and mounts a small tmpfs
 * on a fresh temporary directory; the host never sees the mount. */
#include "nox/engine.h"
#include "sandbox_scan.h"
#include "testutil.h"

#include "meta.h" /* NOX_META_FILE */

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FULL_TMPFS_OPTS "size=2m,mode=0700"
#define FULL_BIG (1u << 20) /* an archive member larger than the room left */
#define FULL_ROOM (64u << 10)

static char         *base; /* the tmpfs mount point */
static bool          mounted;
static nox_engine_t *eng;
static char          want_msg[PATH_MAX + 64];

/* Write s to the /proc/self file name; false when it cannot be. */
static bool
full_write_proc(const char *name, const char *s)
{
    char path[64];
    int  fd;

    (void)snprintf(path, sizeof(path), "/proc/self/%s", name);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
    return close(fd) == 0 && ok;
}

/* A mount namespace of this process's own, with mounts private to it. */
static bool
full_enter_mount_ns(void)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    char  map[64];

    if (uid == 0) {
        if (unshare(CLONE_NEWNS) != 0)
            return false;
    } else {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
            return false;
        (void)snprintf(map, sizeof(map), "0 %ld 1\n", (long)uid);
        if (!full_write_proc("setgroups", "deny") ||
            !full_write_proc("uid_map", map))
            return false;
        (void)snprintf(map, sizeof(map), "0 %ld 1\n", (long)gid);
        if (!full_write_proc("gid_map", map))
            return false;
    }
    return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

static void
full_setup(void)
{
    nox_engine_opts_t o = {.quiet = 1, .isolation = NOX_ISOLATION_NONE};
    nox_status_t      st;

    base = tu_mkdtemp();
    if (!full_enter_mount_ns() ||
        mount("tmpfs", base, "tmpfs", 0, FULL_TMPFS_OPTS) != 0) {
        fprintf(stderr,
                "check_disk_full: cannot mount a tmpfs in a mount namespace "
                "of our own (%s): test skipped\n",
                strerror(errno));
        return;
    }
    mounted = true;
    o.base_dir = base;
    ck_assert_msg(nox_engine_open(&eng, &o, &st) == NOX_OK, "open: %s", st.msg);
    (void)snprintf(want_msg, sizeof(want_msg),
                   "no space left on the device holding %s",
                   nox_engine_base_dir(eng));
}

static void
full_teardown(void)
{
    nox_engine_close(eng);
    if (mounted)
        ck_assert_int_eq(umount2(base, MNT_DETACH), 0);
    tu_rmtree_free(base);
}

/* Fill the device holding base, leaving about room bytes free: a file
 * written until the device is full, then cut back. */
static void
full_fill(size_t room)
{
    static char chunk[64 << 10];
    char        path[PATH_MAX];
    off_t       size = 0;
    ssize_t     n;

    memset(chunk, 'f', sizeof(chunk));
    (void)snprintf(path, sizeof(path), "%s/filler", base);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    while ((n = write(fd, chunk, sizeof(chunk))) > 0)
        size += n;
    ck_assert_int_eq(errno, ENOSPC);
    ck_assert_int_eq(ftruncate(fd, size > (off_t)room ? size - (off_t)room : 0),
                     0);
    ck_assert_int_eq(close(fd), 0);
}

static void
full_unfill(void)
{
    char path[PATH_MAX];

    (void)snprintf(path, sizeof(path), "%s/filler", base);
    ck_assert_int_eq(unlink(path), 0);
}

/* The names in dir, sorted and joined by ' '. */
static void
full_names(const char *dir, char *out, size_t cap)
{
    struct dirent **list;
    int             n = scandir(dir, &list, NULL, alphasort);

    ck_assert_int_ge(n, 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i]->d_name, ".") != 0 &&
            strcmp(list[i]->d_name, "..") != 0) {
            if (out[0] != '\0')
                (void)strncat(out, " ", cap - strlen(out) - 1);
            (void)strncat(out, list[i]->d_name, cap - strlen(out) - 1);
        }
        free(list[i]);
    }
    free(list);
}

static void
full_create(const char *sid, nox_sandbox_info_t *info)
{
    nox_create_req_t r = {.session_id = sid, .ttl_seconds = 600};
    nox_status_t     st;
    bool             created = false;

    ck_assert_msg(nox_engine_create(eng, &r, info, &created, NULL, &st) ==
                      NOX_OK,
                  "create %s: %s", sid, st.msg);
    ck_assert(created);
}

/* A plain tar: keep.txt (replacing the one there), sub/a.txt, a link, and
 * a member too big for the room left, last. malloc'd. */
static char *
full_tar(size_t *len)
{
    size_t                cap = FULL_BIG + (64 << 10);
    char                 *buf = malloc(cap), *big = malloc(FULL_BIG);
    struct archive       *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    static const struct {
        const char *name, *body, *link;
        size_t      size;
    } ents[] = {{"keep.txt", "new\n", NULL, 4},
                {"sub/a.txt", "alpha\n", NULL, 6},
                {"ln", NULL, "keep.txt", 0},
                {"big.bin", NULL, NULL, FULL_BIG}};

    ck_assert_ptr_nonnull(buf);
    ck_assert_ptr_nonnull(big);
    memset(big, 'b', FULL_BIG);
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, buf, cap, len), ARCHIVE_OK);
    for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
        archive_entry_clear(e);
        archive_entry_set_pathname(e, ents[i].name);
        archive_entry_set_filetype(e, ents[i].link ? AE_IFLNK : AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)ents[i].size);
        if (ents[i].link != NULL)
            archive_entry_set_symlink(e, ents[i].link);
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        const char *body = ents[i].body ? ents[i].body : big;
        if (ents[i].size > 0)
            ck_assert_int_eq(archive_write_data(a, body, ents[i].size),
                             (la_ssize_t)ents[i].size);
    }
    archive_entry_free(e);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_free(a), ARCHIVE_OK);
    free(big);
    return buf;
}

START_TEST(upload_on_a_full_disk_undoes_what_it_wrote)
{
    nox_sandbox_info_t info;
    nox_status_t       st;
    char               ws[PATH_MAX], names[1024];
    size_t             len;
    uint64_t           files = 0;

    if (!mounted)
        return;
    full_create("up", &info);
    (void)snprintf(ws, sizeof(ws), "%s/workspace", info.path);
    tu_write_file(ws, "keep.txt", "old\n", 4);
    char *tar = full_tar(&len);
    full_fill(FULL_ROOM);
    ck_assert_int_eq(nox_engine_upload(eng, "up", NULL, NOX_TAR_PLAIN, tar, len,
                                       &files, &st),
                     NOX_ERESOURCE);
    ck_assert_str_eq(st.msg, want_msg);
    /* Nothing of the call is left: no new file, directory or link, no
     * temporary name, and the file it replaced holds what it held. */
    full_names(ws, names, sizeof(names));
    ck_assert_str_eq(names, "keep.txt");
    char *got = tu_read_file(ws, "keep.txt", NULL);
    ck_assert_str_eq(got, "old\n");
    free(got);
    ck_assert_uint_eq(files, 0);
    /* With room again, the same upload goes through. */
    full_unfill();
    ck_assert_msg(nox_engine_upload(eng, "up", NULL, NOX_TAR_PLAIN, tar, len,
                                    &files, &st) == NOX_OK,
                  "upload: %s", st.msg);
    ck_assert_uint_eq(files, 3);
    full_names(ws, names, sizeof(names));
    ck_assert_str_eq(names, "big.bin keep.txt ln sub");
    got = tu_read_file(ws, "keep.txt", NULL);
    ck_assert_str_eq(got, "new\n");
    free(got);
    ck_assert_uint_eq(nox_test_escaping_links(ws, NULL, 0), 0);
    free(tar);
}
END_TEST

START_TEST(upload_on_a_full_disk_removes_the_destination_it_created)
{
    nox_sandbox_info_t info;
    nox_status_t       st;
    char               ws[PATH_MAX], names[1024];
    size_t             len;

    if (!mounted)
        return;
    full_create("up", &info);
    (void)snprintf(ws, sizeof(ws), "%s/workspace", info.path);
    char *tar = full_tar(&len);
    full_fill(FULL_ROOM);
    ck_assert_int_eq(nox_engine_upload(eng, "up", "brand/new/dest",
                                       NOX_TAR_PLAIN, tar, len, NULL, &st),
                     NOX_ERESOURCE);
    ck_assert_str_eq(st.msg, want_msg);
    full_names(ws, names, sizeof(names));
    ck_assert_str_eq(names, "");
    full_unfill();
    free(tar);
}
END_TEST

START_TEST(create_on_a_full_disk_leaves_nothing)
{
    nox_sandbox_info_t info;
    nox_create_req_t   r = {.session_id = "c", .ttl_seconds = 600};
    nox_status_t       st;
    bool               created = false;
    char               before[1024], after[1024];

    if (!mounted)
        return;
    full_fill(0);
    full_names(base, before, sizeof(before));
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_ERESOURCE);
    ck_assert_str_eq(st.msg, want_msg);
    full_names(base, after, sizeof(after));
    ck_assert_str_eq(after, before);
    full_unfill();
    full_create("c", &info);
}
END_TEST

START_TEST(touch_on_a_full_disk_keeps_the_metadata)
{
    nox_sandbox_info_t info;
    nox_status_t       st;
    int64_t            expires = 0;
    struct timespec    pause = {1, 100 * 1000 * 1000};

    if (!mounted)
        return;
    full_create("t", &info);
    char *meta = tu_read_file(info.path, NOX_META_FILE, NULL);
    ck_assert_ptr_nonnull(meta);
    full_fill(0);
    /* Within the second it was set, a touch changes nothing to write. */
    ck_assert_int_eq(nanosleep(&pause, NULL), 0);
    ck_assert_int_eq(nox_engine_touch(eng, "t", &expires, &st), NOX_ERESOURCE);
    ck_assert_str_eq(st.msg, want_msg);
    char *now = tu_read_file(info.path, NOX_META_FILE, NULL);
    ck_assert_str_eq(now, meta);
    char names[1024];
    full_names(info.path, names, sizeof(names));
    ck_assert_str_eq(names, NOX_META_FILE " tmp workspace");
    full_unfill();
    ck_assert_int_eq(nox_engine_touch(eng, "t", &expires, &st), NOX_OK);
    ck_assert_int_ge(expires, info.expires_at + 1);
    ck_assert_int_le(expires, info.expires_at + 3);
    free(meta);
    free(now);
}
END_TEST

static Suite *
disk_full_suite(void)
{
    Suite *s = suite_create("disk_full");
    TCase *tc = tcase_create("no space");

    tcase_add_checked_fixture(tc, full_setup, full_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, upload_on_a_full_disk_undoes_what_it_wrote);
    tcase_add_test(tc,
                   upload_on_a_full_disk_removes_the_destination_it_created);
    tcase_add_test(tc, create_on_a_full_disk_leaves_nothing);
    tcase_add_test(tc, touch_on_a_full_disk_keeps_the_metadata);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(disk_full_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
