/* tar_undo.c - what extraction pass 2 changed, so that a failed upload
 * (a full disk, a directory raced into place) leaves the destination as
 * it found it: what it created is removed, what it replaced is put back.
 * A name is touched only while it still holds the entry the step put
 * there, so a concurrent upload that wrote it after us keeps its write.
 *
 * Every path is below the destination and was checked in pass 1 to go
 * through real directories only; undoing still walks them one component
 * at a time with O_NOFOLLOW, so a link a command raced in meanwhile is
 * never followed. */
#include "tar_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct nox_tar_undo_step {
    char   *path; /* "dir/name" below the destination; owned */
    uint8_t kind; /* NOX_TAR_UNDO_* */
    char    backup[NOX_TAR_TMP_LEN]; /* REPLACED: the old entry's name now */
    dev_t   own_dev;                 /* CREATED, REPLACED: what we put */
    ino_t   own_ino;                 /* at the name */
};

nox_err_t
nox__tar_undo_push(nox_tar_undo_t *u, uint8_t kind, const char *parent,
                   const char *name, const char *backup, const struct stat *own)
{
    nox_tar_undo_step_t *steps = u->steps;
    char                *path;

    if (u->n == u->cap) {
        size_t cap = u->cap ? 2 * u->cap : 64;
        steps = reallocarray(u->steps, cap, sizeof(*steps));
        if (steps == NULL)
            return NOX_ERESOURCE;
        u->steps = steps;
        u->cap = cap;
    }
    if (asprintf(&path, "%s%s%s", parent, parent[0] ? "/" : "", name) < 0)
        return NOX_ERESOURCE;
    steps[u->n].path = path;
    steps[u->n].kind = kind;
    (void)snprintf(steps[u->n].backup, sizeof(steps[u->n].backup), "%s",
                   backup != NULL ? backup : "");
    steps[u->n].own_dev = own != NULL ? own->st_dev : 0;
    steps[u->n].own_ino = own != NULL ? own->st_ino : 0;
    u->n++;
    return NOX_OK;
}

void
nox__tar_undo_pop(nox_tar_undo_t *u)
{
    if (u->n > 0)
        free(u->steps[--u->n].path);
}

/* Open the directory holding path's last component, never following a
 * symlink; -1 when it cannot be (then there is nothing safe to undo). The
 * last component is returned in *name (pointing into path). */
static int
undo_open_parent(int dest_fd, char *path, char **name)
{
    int   fd = openat(dest_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC), nfd;
    char *comp = path, *slash;

    while (fd >= 0 && (slash = strchr(comp, '/')) != NULL) {
        *slash = '\0';
        nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        *slash = '/';
        nox__close(fd);
        fd = nfd;
        comp = slash + 1;
    }
    *name = comp;
    return fd;
}

/* Does name in fd still hold the entry step s put there? */
static bool
undo_is_ours(int fd, const char *name, const nox_tar_undo_step_t *s)
{
    struct stat sb;

    return fstatat(fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
           sb.st_dev == s->own_dev && sb.st_ino == s->own_ino;
}

/* Put the entry we replaced back, but only over what we wrote: if another
 * upload (or a command) has written the name since, theirs is the newer
 * state and stays, and the old entry is dropped. Where the name has been
 * removed meanwhile, the old entry simply goes back (never over one that
 * appears at the same moment). */
static void
undo_replaced(int fd, const char *name, const nox_tar_undo_step_t *s)
{
    struct stat now;

    if (fstatat(fd, name, &now, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT &&
        renameat2(fd, s->backup, fd, name, RENAME_NOREPLACE) == 0)
        return;
    if (undo_is_ours(fd, name, s) &&
        renameat2(fd, s->backup, fd, name, RENAME_EXCHANGE) == 0 &&
        !undo_is_ours(fd, s->backup, s))
        /* Someone wrote the name between the check and the swap: their
         * entry goes back to it. */
        (void)renameat2(fd, s->backup, fd, name, RENAME_EXCHANGE);
    /* The backup now holds ours or the old entry: either way it goes. */
    (void)unlinkat(fd, s->backup, 0);
}

/* Undo one step. Best effort: a step that cannot be undone (a command
 * changed the tree meanwhile) is left, and the others still are. */
static void
undo_step(int dest_fd, nox_tar_undo_step_t *s)
{
    char *name;
    int   fd = undo_open_parent(dest_fd, s->path, &name);

    if (fd < 0)
        return;
    switch (s->kind) {
    case NOX_TAR_UNDO_CREATED:
        /* Only ours: a concurrent upload may have put its own there. */
        if (undo_is_ours(fd, name, s))
            (void)unlinkat(fd, name, 0);
        break;
    case NOX_TAR_UNDO_MKDIR:
        /* Only if empty: a command may have written into it meanwhile. */
        (void)unlinkat(fd, name, AT_REMOVEDIR);
        break;
    case NOX_TAR_UNDO_REPLACED:
        undo_replaced(fd, name, s);
        break;
    }
    nox__close(fd);
}

void
nox__tar_undo_rollback(nox_tar_undo_t *u, int dest_fd)
{
    /* Newest first: a file goes before the directory it was put in. */
    for (size_t i = u->n; i-- > 0;)
        undo_step(dest_fd, &u->steps[i]);
}

void
nox__tar_undo_commit(nox_tar_undo_t *u, int dest_fd)
{
    char *name;
    int   fd;

    for (size_t i = 0; i < u->n; i++) {
        if (u->steps[i].kind != NOX_TAR_UNDO_REPLACED)
            continue;
        fd = undo_open_parent(dest_fd, u->steps[i].path, &name);
        if (fd < 0)
            continue;
        /* The replaced entry; a leftover only costs space if this fails. */
        (void)unlinkat(fd, u->steps[i].backup, 0);
        nox__close(fd);
    }
}

void
nox__tar_undo_free(nox_tar_undo_t *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->steps[i].path);
    free(u->steps);
    memset(u, 0, sizeof(*u));
}
