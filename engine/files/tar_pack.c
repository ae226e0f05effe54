/* tar_pack.c - a directory or file as a gzip tar: the walk never follows
 * a symlink, re-checks each type after opening, and sorts names so the
 * archive does not depend on readdir order. */
#include "tar_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    struct archive       *a;
    struct archive_entry *e;   /* reused for every header */
    nox_buf_t             out; /* the archive so far */
    size_t                max; /* 0: unlimited */
    bool                  too_big;
    nox_buf_t             path; /* current entry name, NUL-terminated */
    uint8_t              *io;
    nox_status_t         *st;
} pack_t;

static nox_err_t pack_dir(pack_t *p, int fd, int depth);

static la_ssize_t
pack_sink(struct archive *a, void *ud, const void *buf, size_t n)
{
    pack_t *p = ud;

    if (p->max > 0 && (n > p->max || p->out.len > p->max - n)) {
        p->too_big = true;
        archive_set_error(a, ENOSPC, "archive too large");
        return -1;
    }
    if (nox__buf_append(&p->out, buf, n) != NOX_OK) {
        archive_set_error(a, ENOMEM, "out of memory");
        return -1;
    }
    return (la_ssize_t)n;
}

/* A libarchive write failed: the size cap, or something internal. */
static nox_err_t
pack_fail(pack_t *p)
{
    const char *msg = archive_error_string(p->a);

    if (p->too_big)
        return nox__status_set(p->st, NOX_ERESOURCE,
                               "archive larger than %zu bytes", p->max);
    return nox__status_set(p->st, NOX_EINTERNAL, "cannot write archive: %s",
                           msg != NULL ? msg : "unknown error");
}

/* Append s to the entry name (keeping it NUL-terminated); *old gets the
 * length to restore with pack_name_pop. */
static nox_err_t
pack_name_push(pack_t *p, const char *s, size_t *old)
{
    *old = p->path.len;
    if (nox__buf_append(&p->path, s, strlen(s) + 1) != NOX_OK)
        return nox__status_set(p->st, NOX_ERESOURCE, "out of memory");
    p->path.len--; /* the NUL stays in place, outside len */
    return NOX_OK;
}

static void
pack_name_pop(pack_t *p, size_t old)
{
    p->path.len = old;
    p->path.data[old] = '\0';
}

/* Write the header for the current name. uid/gid 0 and no owner names:
 * the archive describes the sandbox, not the host's accounts. */
static nox_err_t
pack_header(pack_t *p, const struct stat *sb, const char *target)
{
    struct archive_entry *e = p->e;
    int                   r;

    archive_entry_clear(e);
    archive_entry_set_pathname(e, (const char *)p->path.data);
    archive_entry_set_filetype(e, sb->st_mode & S_IFMT);
    archive_entry_set_perm(e, sb->st_mode & 0777);
    archive_entry_set_mtime(e, sb->st_mtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_size(e, S_ISREG(sb->st_mode) ? sb->st_size : 0);
    if (target != NULL)
        archive_entry_set_symlink(e, target);
    /* ARCHIVE_WARN: a name not in the locale's charset, stored as bytes. */
    r = archive_write_header(p->a, e);
    return r == ARCHIVE_OK || r == ARCHIVE_WARN ? NOX_OK : pack_fail(p);
}

/* Header and sb->st_size bytes of fd. A file that shrinks meanwhile is
 * padded with zeros by libarchive; one that grows is cut at the size. */
static nox_err_t
pack_file_body(pack_t *p, int fd, const struct stat *sb)
{
    off_t     off = 0;
    ssize_t   n;
    nox_err_t rv;

    rv = pack_header(p, sb, NULL);
    if (rv != NOX_OK)
        return rv;
    while (off < sb->st_size) {
        size_t want = (size_t)(sb->st_size - off);
        n = pread(fd, p->io, want < NOX_TAR_IO_SIZE ? want : NOX_TAR_IO_SIZE,
                  off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return nox__status_errno(p->st, NOX_EINTERNAL, errno,
                                     "cannot read '%s'",
                                     (const char *)p->path.data);
        if (n == 0)
            break;
        if (archive_write_data(p->a, p->io, (size_t)n) != n)
            return pack_fail(p);
        off += n;
    }
    return archive_write_finish_entry(p->a) == ARCHIVE_OK ? NOX_OK
                                                          : pack_fail(p);
}

static nox_err_t
pack_link(pack_t *p, int dir_fd, const char *name, const struct stat *sb)
{
    char    target[PATH_MAX];
    ssize_t n = readlinkat(dir_fd, name, target, sizeof(target));

    if (n < 0 && (errno == ENOENT || errno == EINVAL))
        return NOX_OK; /* vanished or replaced since fstatat: skip */
    if (n < 0 || (size_t)n >= sizeof(target))
        return nox__status_errno(
            p->st, NOX_EINTERNAL, n < 0 ? errno : ENAMETOOLONG,
            "cannot read symlink '%s'", (const char *)p->path.data);
    target[n] = '\0';
    return pack_header(p, sb, target);
}

/* Open name for reading without following a symlink and check it is
 * still of the type fstatat saw (type: S_IFREG or S_IFDIR). *fd is -1
 * when it changed or vanished meanwhile: skip it. O_NONBLOCK: should it
 * have become a FIFO, open does not hang. */
static nox_err_t
pack_open(pack_t *p, int dir_fd, const char *name, mode_t type, int *fd,
          struct stat *sb)
{
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

    *fd = openat(dir_fd, name, flags | (type == S_IFDIR ? O_DIRECTORY : 0));
    if (*fd < 0 && (errno == ENOENT || errno == ELOOP || errno == ENOTDIR))
        return NOX_OK;
    if (*fd < 0)
        return nox__status_errno(p->st, NOX_EINTERNAL, errno,
                                 "cannot open '%s'",
                                 (const char *)p->path.data);
    if (fstat(*fd, sb) != 0 || (sb->st_mode & S_IFMT) != type) {
        nox__close(*fd);
        *fd = -1;
    }
    return NOX_OK;
}

/* One directory entry; p->path already holds its name. */
static nox_err_t
pack_child(pack_t *p, int dir_fd, const char *name, int depth)
{
    struct stat sb;
    size_t      old;
    int         fd = -1;
    nox_err_t   rv;

    if (fstatat(dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return NOX_OK; /* removed while we walked: skip */
        return nox__status_errno(p->st, NOX_EINTERNAL, errno,
                                 "cannot stat '%s'",
                                 (const char *)p->path.data);
    }
    if (S_ISLNK(sb.st_mode))
        return pack_link(p, dir_fd, name, &sb);
    if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
        return NOX_OK; /* sockets, FIFOs, devices: not archived */
    rv = pack_open(p, dir_fd, name, sb.st_mode & S_IFMT, &fd, &sb);
    if (rv != NOX_OK || fd < 0)
        return rv;
    if (S_ISREG(sb.st_mode)) {
        rv = pack_file_body(p, fd, &sb);
        nox__close(fd);
        return rv;
    }
    /* Directory entries end in '/', and their children extend the name. */
    rv = pack_name_push(p, "/", &old);
    if (rv == NOX_OK)
        rv = pack_header(p, &sb, NULL);
    if (rv == NOX_OK)
        rv = pack_dir(p, fd, depth + 1); /* takes fd */
    else
        nox__close(fd);
    return rv;
}

static int
pack_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The names in d, sorted so the archive does not depend on readdir order.
 * On success *names (n entries) is owned by the caller. */
static nox_err_t
pack_list(pack_t *p, DIR *d, char ***names, size_t *n)
{
    nox_buf_t      list = NOX_BUF_INIT;
    struct dirent *de;
    char          *s;

    for (;;) {
        errno = 0; /* readdir's NULL is the end only if errno stays 0 */
        de = readdir(d);
        if (de == NULL)
            break;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        s = strdup(de->d_name);
        if (s == NULL || nox__buf_append(&list, &s, sizeof(s)) != NOX_OK) {
            free(s);
            errno = ENOMEM;
            break;
        }
    }
    *names = (char **)(void *)list.data;
    *n = list.len / sizeof(char *);
    if (errno != 0) {
        for (size_t i = 0; i < *n; i++)
            free((*names)[i]);
        nox__buf_free(&list);
        return nox__status_errno(p->st, NOX_EINTERNAL, errno,
                                 "cannot read directory '%s'",
                                 (const char *)p->path.data);
    }
    if (*n > 1)
        qsort(*names, *n, sizeof(char *), pack_cmp);
    return NOX_OK;
}

/* The contents of the directory open at fd (taken over and closed),
 * named below p->path. */
static nox_err_t
pack_dir(pack_t *p, int fd, int depth)
{
    char    **names = NULL;
    size_t    n = 0, old;
    DIR      *d;
    nox_err_t rv;

    /* A limit, not a fault: each level holds a DIR and a stack frame. */
    if (depth > NOX_TAR_MAX_DEPTH) {
        nox__close(fd);
        return nox__status_set(p->st, NOX_ERESOURCE,
                               "directory tree deeper than %d levels cannot "
                               "be packed",
                               NOX_TAR_MAX_DEPTH);
    }
    d = fdopendir(fd);
    if (d == NULL) {
        nox__close(fd);
        return nox__status_errno(p->st, NOX_EINTERNAL, errno,
                                 "cannot read directory '%s'",
                                 (const char *)p->path.data);
    }
    rv = pack_list(p, d, &names, &n);
    if (rv != NOX_OK)
        goto out_closedir;
    for (size_t i = 0; i < n && rv == NOX_OK; i++) {
        rv = pack_name_push(p, names[i], &old);
        if (rv != NOX_OK)
            break;
        rv = pack_child(p, dirfd(d), names[i], depth);
        pack_name_pop(p, old);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
out_closedir:
    (void)closedir(d); /* read-only directory stream */
    return rv;
}

/* Add the compression filter of format to the writer. zstd at its
 * default level and gzip at 6 (libarchive's default, as tar czf). */
static int
pack_filter(struct archive *a, nox_tar_format_t format)
{
    switch (format) {
    case NOX_TAR_GZ:
        return archive_write_add_filter_gzip(a);
    case NOX_TAR_ZSTD:
        return archive_write_add_filter_zstd(a);
    case NOX_TAR_PLAIN:
        return archive_write_add_filter_none(a);
    }
    return ARCHIVE_FATAL;
}

/* Allocate the writer: format's compression over restricted pax, into
 * p->out. */
static nox_err_t
pack_begin(pack_t *p, nox_tar_format_t format)
{
    p->a = archive_write_new();
    if (p->a == NULL)
        return nox__status_set(p->st, NOX_ERESOURCE, "out of memory");
    p->e = archive_entry_new();
    if (p->e == NULL)
        return nox__status_set(p->st, NOX_ERESOURCE, "out of memory");
    p->io = malloc(NOX_TAR_IO_SIZE);
    if (p->io == NULL)
        return nox__status_set(p->st, NOX_ERESOURCE, "out of memory");
    /* bytes_in_last_block 1: no padding of the compressed stream. */
    if (pack_filter(p->a, format) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(p->a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(p->a, 1) != ARCHIVE_OK ||
        archive_write_open(p->a, p, NULL, pack_sink, NULL) != ARCHIVE_OK)
        return pack_fail(p);
    return NOX_OK;
}

static nox_err_t
pack_body(pack_t *p, int src_fd, const char *file_name)
{
    struct stat sb;
    size_t      old;
    int         fd;
    nox_err_t   rv;

    if (fstat(src_fd, &sb) != 0)
        return nox__status_errno(p->st, NOX_EINTERNAL, errno,
                                 "cannot stat the source");
    if (S_ISREG(sb.st_mode)) {
        if (file_name == NULL || file_name[0] == '\0')
            return nox__status_set(p->st, NOX_EINVAL, "no file name");
        rv = pack_name_push(p, file_name, &old);
        if (rv != NOX_OK)
            return rv;
        return pack_file_body(p, src_fd, &sb);
    }
    if (!S_ISDIR(sb.st_mode))
        return nox__status_set(p->st, NOX_EINVAL,
                               "source is not a file or directory");
    /* A descriptor of our own: pack_dir hands it to fdopendir. */
    fd = openat(src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return nox__status_errno(p->st, NOX_EINTERNAL, errno,
                                 "cannot open the source");
    rv = pack_name_push(p, "", &old);
    if (rv != NOX_OK) {
        nox__close(fd);
        return rv;
    }
    return pack_dir(p, fd, 0);
}

nox_err_t
nox__tar_pack(int src_fd, const char *file_name, nox_tar_format_t format,
              size_t max_bytes, nox_buf_t *out, nox_status_t *st)
{
    pack_t    p = {.out = NOX_BUF_INIT, .max = max_bytes, .st = st};
    nox_err_t rv;

    nox__status_clear(st);
    if (!NOX_TAR_FORMAT_VALID(format)) {
        nox__buf_free(out); /* as on every failure */
        return nox__status_set(st, NOX_EINVAL, "unknown archive format %d",
                               (int)format);
    }
    /* Before anything that needs libarchive, freeing included. */
    rv = nox__archive_load(st);
    if (rv != NOX_OK) {
        nox__buf_free(out);
        return rv;
    }
    rv = pack_begin(&p, format);
    if (rv == NOX_OK)
        rv = pack_body(&p, src_fd, file_name);
    if (rv == NOX_OK && archive_write_close(p.a) != ARCHIVE_OK)
        rv = pack_fail(&p); /* the final flush can pass max_bytes too */
    if (p.a != NULL)
        (void)archive_write_free(p.a); /* closed above, or abandoned */
    archive_entry_free(p.e);
    free(p.io);
    nox__buf_free(&p.path);
    nox__buf_free(out); /* on success replaced, on failure left empty */
    if (rv == NOX_OK)
        *out = p.out;
    else
        nox__buf_free(&p.out);
    return rv;
}
