/* fsutil.c - recursive removal and disk use that never follow a symlink,
 * and the full-device message. */
#include "fsutil.h"

#include "holder.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How deep the walk goes holding one open directory (and one stack frame)
 * per level. A directory below that is moved up into the top of the tree
 * being removed and walked again from there: any depth goes, with at most
 * this many fds and frames. */
#define RMTREE_MAX_DEPTH 64

/* One removal: the top directory the deep parts are moved into. */
typedef struct {
    int           top_fd; /* -1 until the top directory is open */
    unsigned      moved;  /* directories moved up so far (their names) */
    nox_status_t *st;
} rmtree_t;

static nox_err_t rmtree_dir(rmtree_t *t, int dir_fd, const char *name,
                            int depth);

static nox_err_t
rmtree_entry(rmtree_t *t, int dir_fd, const char *name, int depth)
{
    if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
        return NOX_OK;
    if (errno != EISDIR && errno != EPERM)
        return nox__status_errno(t->st, NOX_EINTERNAL, errno,
                                 "cannot remove '%s'", name);
    return rmtree_dir(t, dir_fd, name, depth);
}

/* Give the owner write and search permission on fd's directory when it
 * lacks them: files we created, so ours. Only when missing: a chmod is a
 * journalled inode update. Failure shows up as the errors that follow. */
static void
rmtree_make_writable(int fd)
{
    struct stat sbuf;

    if (fstat(fd, &sbuf) != 0 || (sbuf.st_mode & 0700) != 0700)
        (void)fchmod(fd, 0700);
}

/* Move the too-deep directory name in dir_fd up into the top directory
 * under a fresh name; the top's walk takes it from there. renameat never
 * follows name: if it was swapped for a symlink, the link is moved, and
 * removed as one. */
static nox_err_t
rmtree_move_up(rmtree_t *t, int dir_fd, const char *name)
{
    char dest[32];
    int  fd;

    /* Moving a directory to another parent rewrites its "..": that needs
     * write permission on it. */
    fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        rmtree_make_writable(fd);
        nox__close(fd);
    }
    for (;;) {
        (void)snprintf(dest, sizeof(dest), ".nox-rmtree-%u", t->moved++);
        int r = renameat2(dir_fd, name, t->top_fd, dest, RENAME_NOREPLACE);
        /* Filesystems without RENAME_NOREPLACE: a plain rename may replace
         * an empty directory of that name, one of the tree's own and about
         * to go anyway; a non-empty one or a file fails and the next name
         * is tried. */
        if (r != 0 && errno == EINVAL)
            r = renameat(dir_fd, name, t->top_fd, dest);
        if (r == 0 || errno == ENOENT)
            return NOX_OK;
        if (errno != EEXIST && errno != ENOTEMPTY && errno != ENOTDIR &&
            errno != EISDIR)
            return nox__status_errno(t->st, NOX_EINTERNAL, errno,
                                     "cannot move '%s' up for removal", name);
    }
}

/* Remove every entry of the open directory d (called name). */
static nox_err_t
rmtree_entries(rmtree_t *t, DIR *d, const char *name, int depth)
{
    struct dirent *de;
    nox_err_t      rv = NOX_OK;

    while (rv == NOX_OK) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                rv = nox__status_errno(t->st, NOX_EINTERNAL, errno,
                                       "cannot read '%s'", name);
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rv = rmtree_entry(t, dirfd(d), de->d_name, depth + 1);
    }
    return rv;
}

static nox_err_t
rmtree_dir(rmtree_t *t, int dir_fd, const char *name, int depth)
{
    nox_err_t rv = NOX_OK;
    DIR      *d;
    int       fd;

    if (depth > RMTREE_MAX_DEPTH)
        return rmtree_move_up(t, dir_fd, name);
    /* O_NOFOLLOW: if name was swapped for a symlink since unlinkat saw a
     * directory, we fail here instead of walking the link's target. */
    fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    /* A directory of ours we may not even read (a command's chmod 0): its
     * owner's rights come back first. AT_SYMLINK_NOFOLLOW: glibc does it
     * through an O_PATH fd and refuses a symlink, so a name swapped for
     * one never has its target's mode changed. */
    if (fd < 0 && errno == EACCES &&
        fchmodat(dir_fd, name, 0700, AT_SYMLINK_NOFOLLOW) == 0)
        fd = openat(dir_fd, name,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return NOX_OK;
        return nox__status_errno(t->st, NOX_EINTERNAL, errno,
                                 "cannot open '%s' for removal", name);
    }
    /* A directory we may not write into cannot be emptied. */
    rmtree_make_writable(fd);
    d = fdopendir(fd);
    if (d == NULL) {
        nox__close(fd);
        return nox__status_errno(t->st, NOX_EINTERNAL, errno,
                                 "cannot read '%s'", name);
    }
    if (depth == 0)
        t->top_fd = fd;
    for (;;) {
        unsigned moved = t->moved;
        rv = rmtree_entries(t, d, name, depth);
        /* Directories moved up into the top during its walk may lie
         * behind readdir's position: walk it again until none was. */
        if (rv != NOX_OK || depth != 0 || t->moved == moved)
            break;
        rewinddir(d);
    }
    if (depth == 0)
        t->top_fd = -1;
    (void)closedir(d);
    if (rv != NOX_OK)
        return rv;
    if (unlinkat(dir_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        /* Not empty after we emptied it: something wrote into the tree
         * meanwhile, a conflict rather than a failure (fsutil.h). */
        return nox__status_errno(
            t->st, errno == ENOTEMPTY ? NOX_EABORTED : NOX_EINTERNAL, errno,
            "cannot remove directory '%s'", name);
    return NOX_OK;
}

nox_err_t
nox__rmtree_at(int dir_fd, const char *name, nox_status_t *st)
{
    rmtree_t t = {.top_fd = -1, .moved = 0, .st = st};

    return rmtree_entry(&t, dir_fd, name, 0);
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

/* ------------------------------------------------------------------ */
/* Disk use                                                            */
/* ------------------------------------------------------------------ */

#define DU_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* One directory on the way down: its name in its parent, its identity
 * (to check the way back up) and the subdirectories not visited yet. The
 * walk holds one directory open at a time, whatever the depth: a tree a
 * command made can be as deep as it likes, and every level counts
 * against the storage limit. */
typedef struct {
    char  *name; /* NULL for the top */
    dev_t  dev;
    ino_t  ino;
    char **subdirs;
    size_t n, cap, next;
} du_frame_t;

typedef struct {
    du_frame_t *frames;
    size_t      depth, cap;
    int         top_fd; /* the top directory, for a walk back down */
    int         fd;     /* the directory of frames[depth - 1] */
    uint64_t   *bytes;
} du_walk_t;

static void
du_frame_free(du_frame_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->subdirs[i]);
    free(f->subdirs);
    free(f->name);
}

static int
du_add_subdir(du_frame_t *f, const char *name)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        char **p = reallocarray(f->subdirs, cap, sizeof(*p));
        if (p == NULL)
            return ENOMEM;
        f->subdirs = p;
        f->cap = cap;
    }
    f->subdirs[f->n] = strdup(name);
    if (f->subdirs[f->n] == NULL)
        return ENOMEM;
    f->n++;
    return 0;
}

/* Add the sizes of the regular files in fd's directory to *bytes and list
 * its subdirectories in f. Entries that vanish meanwhile are skipped.
 * Returns 0 or an errno value; f is freeable either way. */
static int
du_read(int fd, du_frame_t *f, uint64_t *bytes)
{
    struct dirent *de;
    struct stat    sb;
    DIR           *d;
    int            dfd, e = 0;

    if (fstat(fd, &sb) != 0)
        return errno;
    f->dev = sb.st_dev;
    f->ino = sb.st_ino;
    /* closedir closes the fd it reads: read through a second one. */
    dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno;
    d = fdopendir(dfd);
    if (d == NULL) {
        e = errno;
        nox__close(dfd);
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
            e = du_add_subdir(f, de->d_name);
    }
    (void)closedir(d);
    return e;
}

/* Enter the directory open as fd (the walk owns it from here), called
 * name (NULL: the top). */
static int
du_enter(du_walk_t *w, int fd, const char *name)
{
    if (w->depth == w->cap) {
        size_t      cap = w->cap ? w->cap * 2 : 16;
        du_frame_t *p = reallocarray(w->frames, cap, sizeof(*p));
        if (p == NULL) {
            nox__close(fd);
            return ENOMEM;
        }
        w->frames = p;
        w->cap = cap;
    }
    du_frame_t *f = &w->frames[w->depth++];
    memset(f, 0, sizeof(*f));
    nox__close(w->fd);
    w->fd = fd;
    if (name != NULL && (f->name = strdup(name)) == NULL)
        return ENOMEM;
    return du_read(fd, f, w->bytes);
}

static bool
du_is(int fd, const du_frame_t *f)
{
    struct stat sb;

    return fstat(fd, &sb) == 0 && sb.st_dev == f->dev && sb.st_ino == f->ino;
}

/* Back up to frames[depth - 1] after its child is done: through "..",
 * unless a command moved the child elsewhere meanwhile; then down from
 * the top again by name, as far as the directories are still the ones
 * seen, dropping the frames that moved away (what they still held is
 * not where it was). */
static int
du_leave(du_walk_t *w)
{
    int fd = openat(w->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0 && du_is(fd, &w->frames[w->depth - 1])) {
        nox__close(w->fd);
        w->fd = fd;
        return 0;
    }
    nox__close(fd);
    fd = openat(w->top_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    for (size_t i = 1; i < w->depth; i++) {
        int child = openat(fd, w->frames[i].name, DU_DIR_FLAGS);
        if (child < 0 || !du_is(child, &w->frames[i])) {
            nox__close(child);
            while (w->depth > i)
                du_frame_free(&w->frames[--w->depth]);
            break;
        }
        nox__close(fd);
        fd = child;
    }
    nox__close(w->fd);
    w->fd = fd;
    return 0;
}

int
nox__du_at(int dir_fd, const char *name, uint64_t *bytes)
{
    du_walk_t w = {.top_fd = -1, .fd = -1, .bytes = bytes};
    int       fd, e;

    fd = openat(dir_fd, name, DU_DIR_FLAGS);
    if (fd < 0)
        return errno == ENOENT ? 0 : errno;
    w.top_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    e = w.top_fd < 0 ? errno : 0;
    if (e == 0)
        e = du_enter(&w, fd, NULL);
    else
        nox__close(fd);
    while (e == 0 && w.depth > 0) {
        du_frame_t *f = &w.frames[w.depth - 1];
        if (f->next < f->n) {
            const char *sub = f->subdirs[f->next++];
            fd = openat(w.fd, sub, DU_DIR_FLAGS);
            if (fd >= 0)
                e = du_enter(&w, fd, sub);
            else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
                e = errno; /* else gone or replaced meanwhile */
            continue;
        }
        du_frame_free(f);
        if (--w.depth > 0)
            e = du_leave(&w);
    }
    while (w.depth > 0)
        du_frame_free(&w.frames[--w.depth]);
    free(w.frames);
    nox__close(w.fd);
    nox__close(w.top_fd);
    return e;
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
