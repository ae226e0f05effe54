/* fsutil.c - recursive removal and disk use that never follow a symlink,
 * and the full-device message. */
#include "fsutil.h"

#include "holder.h"

#include <dirent.h>
#include <errno.h>
#include <sys/fsuid.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Depth limit: a tree deeper than this is left for a later pass rather
 * than risking the stack; no sane workspace gets near it. */
#define RMTREE_MAX_DEPTH 256

static nox_err_t rmtree_dir(int dir_fd, const char *name, int depth,
                            nox_status_t *st);

static nox_err_t
rmtree_entry(int dir_fd, const char *name, int depth, nox_status_t *st)
{
    if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
        return NOX_OK;
    if (errno != EISDIR && errno != EPERM)
        return nox__status_errno(st, NOX_EINTERNAL, errno, "cannot remove '%s'",
                                 name);
    return rmtree_dir(dir_fd, name, depth, st);
}

static nox_err_t
rmtree_dir(int dir_fd, const char *name, int depth, nox_status_t *st)
{
    struct dirent *de;
    nox_err_t      rv = NOX_OK;
    DIR           *d;
    int            fd;

    if (depth > RMTREE_MAX_DEPTH)
        return nox__status_set(st, NOX_EINTERNAL,
                               "directory tree too deep to remove");
    /* O_NOFOLLOW: if name was swapped for a symlink since unlinkat saw a
     * directory, we fail here instead of walking the link's target. */
    fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return NOX_OK;
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot open '%s' for removal", name);
    }
    /* A directory we may not write into cannot be emptied; give the owner
     * write and search permission first (files we created, so ours).
     * Only when missing: a chmod is a journalled inode update. Failure
     * shows up as unlinkat errors below. */
    struct stat sbuf;
    if (fstat(fd, &sbuf) != 0 || (sbuf.st_mode & 0700) != 0700)
        (void)fchmod(fd, 0700);
    d = fdopendir(fd);
    if (d == NULL) {
        nox__close(fd);
        return nox__status_errno(st, NOX_EINTERNAL, errno, "cannot read '%s'",
                                 name);
    }
    while (rv == NOX_OK) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                rv = nox__status_errno(st, NOX_EINTERNAL, errno,
                                       "cannot read '%s'", name);
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rv = rmtree_entry(dirfd(d), de->d_name, depth + 1, st);
    }
    (void)closedir(d);
    if (rv != NOX_OK)
        return rv;
    if (unlinkat(dir_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        /* Not empty after we emptied it: something wrote into the tree
         * meanwhile, a conflict rather than a failure (fsutil.h). */
        return nox__status_errno(
            st, errno == ENOTEMPTY ? NOX_EABORTED : NOX_EINTERNAL, errno,
            "cannot remove directory '%s'", name);
    return NOX_OK;
}

nox_err_t
nox__rmtree_at(int dir_fd, const char *name, nox_status_t *st)
{
    return rmtree_entry(dir_fd, name, 0, st);
}

bool
nox__fs_as_sandbox_user(bool namespaces, bool on)
{
    if (!namespaces || !nox__holder_drops_to_nobody())
        return false;
    /* setfsuid reports the previous id, never an error; moving away from
     * 0 drops CAP_DAC_OVERRIDE and friends for this thread, and moving
     * back restores them. */
    (void)setfsgid(on ? NOX_SANDBOX_GID : 0);
    (void)setfsuid(on ? NOX_SANDBOX_UID : 0);
    return true;
}

static int
du_dir(int dir_fd, const char *name, int depth, uint64_t *bytes)
{
    struct dirent *de;
    struct stat    sb;
    DIR           *d;
    int            fd, e = 0;

    if (depth > NOX_DU_MAX_DEPTH)
        return 0; /* deeper than any workspace we would pack anyway */
    fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : errno;
    d = fdopendir(fd);
    if (d == NULL) {
        e = errno;
        nox__close(fd);
        return e;
    }
    while (e == 0) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            e = errno; /* 0 at the end */
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* gone meanwhile */
        if (S_ISREG(sb.st_mode))
            *bytes += (uint64_t)sb.st_size;
        else if (S_ISDIR(sb.st_mode))
            e = du_dir(fd, de->d_name, depth + 1, bytes);
    }
    (void)closedir(d); /* closes fd */
    return e;
}

int
nox__du_at(int dir_fd, const char *name, uint64_t *bytes)
{
    return du_dir(dir_fd, name, 0, bytes);
}

nox_err_t
nox__fs_no_space(const char *base_dir, nox_err_t rv, nox_status_t *st)
{
    if (rv == NOX_OK || st == NULL || !st->no_space)
        return rv;
    (void)nox__status_set(st, NOX_ERESOURCE,
                          "no space left on the device holding %s", base_dir);
    st->no_space = true; /* still what it was; _set cleared it */
    return NOX_ERESOURCE;
}
