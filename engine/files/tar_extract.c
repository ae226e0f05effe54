/* tar_extract.c - extraction pass 2: once tar_check.c has accepted every
 * entry, write them through directory fds that never follow a symlink, each
 * file under a temporary name renamed into place. Every step is recorded
 * (tar_undo.c), so a failure part-way (a full disk) undoes them all. */
#include "tar_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAR_TMP_TRIES 16

/* ======================== pass 2: writing ======================== */

typedef struct {
    struct archive *a;
    int             dest_fd;
    int             dir_fd;             /* cached parent directory, or -1 */
    char            dir_path[PATH_MAX]; /* its path below the destination */
    uint8_t        *io;                 /* copy buffer */
    uint64_t        files;
    const char     *raw;
    const char     *parent; /* the entry's directory below the destination */
    nox_tar_undo_t  undo;   /* what to undo if a later entry fails */
    nox_status_t   *st;
} tar_write_t;

static nox_err_t
write_errno(tar_write_t *w, int err, const char *what)
{
    char show[NOX_TAR_SHOW_MAX + 4];

    /* Pass 1 saw no symlink on the path, so one now means the tree
     * changed under us; refuse rather than follow. */
    if (err == ELOOP)
        return nox__tar_reject(w->st, w->raw,
                               "path goes through a symlink or non-directory");
    /* Every call here is under a directory this upload made or opened: a
     * name gone or no longer a directory means a command removed or
     * renamed it meanwhile. Not our fault, nor the archive's; the caller
     * rolls back before answering. */
    if (err == ENOENT || err == ENOTDIR)
        return nox__status_set(w->st, NOX_EABORTED,
                               "the workspace changed during the upload; "
                               "nothing of it was kept");
    nox__tar_show(w->raw, show);
    return nox__status_errno(w->st, NOX_EINTERNAL, err, "cannot %s for '%s'",
                             what, show);
}

static nox_err_t
write_no_memory(tar_write_t *w)
{
    return nox__status_set(w->st, NOX_ERESOURCE, "out of memory");
}

/* Open (creating as needed) the directory at path below the destination,
 * one component at a time, never following a symlink. */
static nox_err_t
write_walk(tar_write_t *w, char *path, int *out)
{
    int   fd, nfd = -1, err;
    char *comp = path, *slash;

    fd = openat(w->dest_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return write_errno(w, errno, "open the destination");
    while (*comp != '\0') {
        slash = strchr(comp, '/');
        if (slash != NULL)
            *slash = '\0';
        /* path now ends at comp: the directory's name below dest. */
        err = nox__tar_undo_push(&w->undo, NOX_TAR_UNDO_MKDIR, "", path, NULL,
                                 NULL)
                  ? ENOMEM
                  : 0;
        if (err == 0 && mkdirat(fd, comp, 0755) != 0) {
            err = errno == EEXIST ? 0 : errno;
            nox__tar_undo_pop(&w->undo); /* not made by us: nothing to undo */
        }
        if (err == 0) {
            nfd =
                openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            err = nfd < 0 ? errno : 0;
        }
        if (slash != NULL)
            *slash = '/';
        nox__close(fd);
        if (err == ENOMEM)
            return write_no_memory(w);
        if (err != 0)
            return write_errno(w, err, "create a directory");
        fd = nfd;
        comp = slash != NULL ? slash + 1 : comp + strlen(comp);
    }
    *out = fd;
    return NOX_OK;
}

/* The parent directory of the entry; consecutive entries usually share
 * one, so the last is kept open. */
static nox_err_t
write_parent(tar_write_t *w, char *parent, int *fd)
{
    nox_err_t rv;

    if (w->dir_fd >= 0 && strcmp(w->dir_path, parent) == 0) {
        *fd = w->dir_fd;
        return NOX_OK;
    }
    nox__close(w->dir_fd);
    w->dir_fd = -1;
    rv = write_walk(w, parent, &w->dir_fd);
    if (rv != NOX_OK)
        return rv;
    (void)strcpy(w->dir_path, parent); /* fits: both below PATH_MAX */
    *fd = w->dir_fd;
    return NOX_OK;
}

/* Create a fresh temporary name in dir_fd: a file (target NULL; returns
 * its fd) or a symlink to target (returns 0). -1 with errno on failure. */
static int
write_tmp(int dir_fd, const char *target, char tmp[NOX_TAR_TMP_LEN])
{
    uint64_t r;
    int      fd;

    for (int i = 0; i < TAR_TMP_TRIES; i++) {
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            return -1;
        (void)snprintf(tmp, NOX_TAR_TMP_LEN, ".nox-tmp-%016" PRIx64, r);
        if (target != NULL)
            fd = symlinkat(target, dir_fd, tmp);
        else
            fd = openat(dir_fd, tmp,
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1; /* errno is EEXIST */
}

/* tmp stands where name was, and name is now what tmp was: a directory
 * there is never replaced, so swap it back. */
static nox_err_t
write_unswap_dir(tar_write_t *w, int dir_fd, const char *tmp, const char *name)
{
    struct stat sb;

    /* tmp gone means the tree is being removed under us (a concurrent
     * delete): an error of the sandbox, not of the archive. */
    if (fstatat(dir_fd, tmp, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return write_errno(w, errno, "look at the replaced entry");
    if (!S_ISDIR(sb.st_mode))
        return NOX_OK;
    /* If this fails the step stays recorded, so the rollback retries. */
    if (renameat2(dir_fd, tmp, dir_fd, name, RENAME_EXCHANGE) == 0)
        nox__tar_undo_pop(&w->undo);
    return nox__tar_reject(w->st, w->raw, "a directory exists at that name");
}

/* write_commit on a filesystem without renameat2's flags (NFS, some FUSE):
 * a plain rename, which cannot keep what it replaces. An entry made where
 * nothing stood (judged just before the rename: a concurrent writer can
 * slip in between) is undone like any other; a file or symlink replaced
 * here is replaced for good, even if the upload then fails. */
static nox_err_t
write_commit_plain(tar_write_t *w, int dir_fd, const char *tmp,
                   const char *name, const struct stat *own)
{
    struct stat sb;
    bool        fresh;

    fresh =
        fstatat(dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT;
    if (fresh && nox__tar_undo_push(&w->undo, NOX_TAR_UNDO_CREATED, w->parent,
                                    name, NULL, own) != NOX_OK)
        return write_no_memory(w);
    if (renameat(dir_fd, tmp, dir_fd, name) == 0)
        return NOX_OK;
    int err = errno;
    if (fresh)
        nox__tar_undo_pop(&w->undo);
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST)
        return nox__tar_reject(w->st, w->raw,
                               "a directory exists at that name");
    return write_errno(w, err, "rename into place");
}

/* Move tmp to name in dir_fd (w->parent below the destination). Where
 * something already is, the two are swapped, so the old entry waits
 * under tmp until the extraction ends (then it is removed, or swapped
 * back if the extraction failed); a directory there is refused. */
static nox_err_t
write_commit(tar_write_t *w, int dir_fd, const char *tmp, const char *name)
{
    const char     *parent = w->parent;
    nox_tar_undo_t *u = &w->undo;
    struct stat     own;
    int             err;

    /* What we put at the name, so that undoing touches only that. */
    if (fstatat(dir_fd, tmp, &own, AT_SYMLINK_NOFOLLOW) != 0)
        return write_errno(w, errno, "look at the new entry");
    if (nox__tar_undo_push(u, NOX_TAR_UNDO_CREATED, parent, name, NULL, &own) !=
        NOX_OK)
        return write_no_memory(w);
    if (renameat2(dir_fd, tmp, dir_fd, name, RENAME_NOREPLACE) == 0)
        return NOX_OK;
    err = errno;
    nox__tar_undo_pop(u);
    if (err == EEXIST) {
        if (nox__tar_undo_push(u, NOX_TAR_UNDO_REPLACED, parent, name, tmp,
                               &own) != NOX_OK)
            return write_no_memory(w);
        if (renameat2(dir_fd, tmp, dir_fd, name, RENAME_EXCHANGE) == 0)
            return write_unswap_dir(w, dir_fd, tmp, name);
        err = errno;
        nox__tar_undo_pop(u);
    }
    if (err != EINVAL) /* EINVAL: this filesystem lacks the flag */
        return write_errno(w, err, "rename into place");
    return write_commit_plain(w, dir_fd, tmp, name, &own);
}

static nox_err_t
write_data(tar_write_t *w, int fd)
{
    la_ssize_t n;
    int        err;

    for (;;) {
        n = archive_read_data(w->a, w->io, NOX_TAR_IO_SIZE);
        if (n <= 0)
            break;
        err = nox__write_all(fd, w->io, (size_t)n);
        if (err != 0)
            return write_errno(w, err, "write the data");
    }
    return n < 0 ? nox__tar_corrupt(w->a, w->st) : NOX_OK;
}

/* A regular file: written under a temporary name and renamed over the
 * final one, so a symlink or hard link planted there is replaced, never
 * written through. */
static nox_err_t
write_file(tar_write_t *w, int dir_fd, const char *name,
           struct archive_entry *e)
{
    char      tmp[NOX_TAR_TMP_LEN];
    int       fd;
    nox_err_t rv;

    fd = write_tmp(dir_fd, NULL, tmp);
    if (fd < 0)
        return write_errno(w, errno, "create a file");
    rv = write_data(w, fd);
    if (rv != NOX_OK)
        goto out_unlink;
    /* Permission bits only: never setuid, setgid or sticky. */
    if (fchmod(fd, archive_entry_perm(e) & 0777) != 0) {
        rv = write_errno(w, errno, "set the mode");
        goto out_unlink;
    }
    if (archive_entry_mtime_is_set(e)) {
        struct timespec ts[2] = {{archive_entry_mtime(e), 0},
                                 {archive_entry_mtime(e), 0}};
        (void)futimens(fd, ts); /* times are a nicety, not the contract */
    }
    if (close(fd) != 0 && errno != EINTR) {
        fd = -1;
        rv = write_errno(w, errno, "write the data");
        goto out_unlink;
    }
    fd = -1;
    rv = write_commit(w, dir_fd, tmp, name);
    if (rv != NOX_OK)
        goto out_unlink;
    w->files++;
    return NOX_OK;
out_unlink:
    nox__close(fd);
    (void)unlinkat(dir_fd, tmp, 0); /* best effort; the error is rv */
    return rv;
}

static nox_err_t
write_link(tar_write_t *w, int dir_fd, const char *name,
           struct archive_entry *e)
{
    const char *target = nox__tar_entry_target(e);
    char        tmp[NOX_TAR_TMP_LEN];
    nox_err_t   rv;

    if (target == NULL) /* pass 1 saw one */
        return nox__status_set(w->st, NOX_EINTERNAL, "archive changed");
    if (write_tmp(dir_fd, target, tmp) < 0)
        return write_errno(w, errno, "create a symlink");
    rv = write_commit(w, dir_fd, tmp, name);
    if (rv != NOX_OK)
        (void)unlinkat(dir_fd, tmp, 0); /* best effort; the error is rv */
    return rv;
}

/* A directory: created if missing, then given the entry's permission bits
 * plus owner rwx, so the rest of the archive can still be written in. */
static nox_err_t
write_dir(tar_write_t *w, int dir_fd, const char *name, struct archive_entry *e)
{
    int fd, err = 0;

    if (nox__tar_undo_push(&w->undo, NOX_TAR_UNDO_MKDIR, w->parent, name, NULL,
                           NULL) != NOX_OK)
        return write_no_memory(w);
    if (mkdirat(dir_fd, name, 0700) != 0) {
        err = errno;
        nox__tar_undo_pop(&w->undo); /* not ours: nothing to undo */
        if (err != EEXIST)
            return write_errno(w, err, "create a directory");
        err = 0;
    }
    fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return write_errno(w, errno, "open a directory");
    if (fchmod(fd, (archive_entry_perm(e) & 0777) | 0700) != 0)
        err = errno;
    nox__close(fd);
    return err != 0 ? write_errno(w, err, "set the mode") : NOX_OK;
}

static nox_err_t
write_entry(tar_write_t *w, struct archive_entry *e, char *norm)
{
    char      root[1] = "";
    char     *slash, *parent = root, *name = norm;
    int       dir_fd;
    nox_err_t rv;

    /* Pass 1 accepted this very data, so the name normalises again. */
    w->raw = nox__tar_entry_name(e);
    if (w->raw == NULL || nox__tar_normalize(w->raw, norm) != NULL)
        return nox__status_set(w->st, NOX_EINTERNAL, "archive changed");
    if (norm[0] == '\0')
        return NOX_OK; /* the destination itself */
    slash = strrchr(norm, '/');
    if (slash != NULL) {
        *slash = '\0';
        parent = norm;
        name = slash + 1;
    }
    rv = write_parent(w, parent, &dir_fd);
    if (rv != NOX_OK)
        return rv;
    w->parent = parent;
    switch (archive_entry_filetype(e)) {
    case AE_IFREG:
        return write_file(w, dir_fd, name, e);
    case AE_IFLNK:
        return write_link(w, dir_fd, name, e);
    case AE_IFDIR:
        return write_dir(w, dir_fd, name, e);
    default: /* pass 1 let nothing else through */
        return nox__status_set(w->st, NOX_EINTERNAL, "archive changed");
    }
}

static nox_err_t
tar_write(int dest_fd, nox_tar_format_t format, const void *data, size_t len,
          uint64_t *files, nox_status_t *st)
{
    tar_write_t           w = {.dest_fd = dest_fd, .dir_fd = -1, .st = st};
    struct archive_entry *e;
    char                  norm[PATH_MAX];
    nox_err_t             rv;

    w.io = malloc(NOX_TAR_IO_SIZE);
    if (w.io == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    rv = nox__tar_open(format, data, len, &w.a, st);
    if (rv != NOX_OK)
        goto out_io;
    for (;;) {
        rv = nox__tar_next(w.a, &e, st);
        if (rv != NOX_OK || e == NULL)
            break;
        rv = write_entry(&w, e, norm);
        if (rv != NOX_OK)
            break;
    }
    *files = w.files;
    nox__close(w.dir_fd);
    /* All or nothing: a failure part-way (most likely a full disk) takes
     * back every entry written so far; success drops what was replaced. */
    if (rv != NOX_OK)
        nox__tar_undo_rollback(&w.undo, dest_fd);
    else
        nox__tar_undo_commit(&w.undo, dest_fd);
    nox__tar_undo_free(&w.undo);
    (void)archive_read_free(w.a); /* reading memory: nothing to flush */
out_io:
    free(w.io);
    return rv;
}

nox_err_t
nox__tar_extract(int root_fd, int dest_fd, nox_tar_format_t format,
                 const void *data, size_t len, uint64_t *files_written,
                 nox_status_t *st)
{
    return nox__tar_extract_limited(root_fd, dest_fd, format, data, len, 0,
                                    files_written, st);
}

nox_err_t
nox__tar_extract_limited(int root_fd, int dest_fd, nox_tar_format_t format,
                         const void *data, size_t len, uint64_t max_bytes,
                         uint64_t *files_written, nox_status_t *st)
{
    uint64_t  files = 0;
    nox_err_t rv;

    nox__status_clear(st);
    rv = nox__archive_load(st);
    if (rv != NOX_OK)
        return rv;
    /* Pass 1 reads the whole archive and writes nothing; only if every
     * entry passes does pass 2 read it again and write. */
    rv = nox__tar_validate(root_fd, dest_fd, format, data, len, max_bytes, st);
    if (rv != NOX_OK)
        return rv;
    rv = tar_write(dest_fd, format, data, len, &files, st);
    if (rv != NOX_OK)
        return rv;
    if (files_written != NULL)
        *files_written = files;
    return NOX_OK;
}
