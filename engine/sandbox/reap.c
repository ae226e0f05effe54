/*
 * reap.c - scans of base_dir: ListSandboxes and the TTL reaper.
 */
#include "engine_impl.h"

#include "fsutil.h"
#include "paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A create in another process takes milliseconds: a leftover older than
 * this was abandoned. */
#define REAP_STALE_CREATE_SECONDS 60

typedef nox_err_t (*reap_visit_fn)(nox_engine_t *e, const char *name, void *arg,
                                   nox_status_t *st);

/* Call fn for every entry of base_dir. Entries vanishing meanwhile are
 * the visitor's business. */
static nox_err_t
reap_scan(nox_engine_t *e, reap_visit_fn fn, void *arg, nox_status_t *st)
{
    struct dirent *de;
    nox_err_t      rv = NOX_OK;
    DIR           *d;
    int            fd;

    /* O_PATH fds cannot be read: open base_dir again for readdir. */
    fd = openat(e->base_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return nox__status_errno(st, NOX_EINTERNAL, errno, "cannot read %s",
                                 e->base_dir);
    d = fdopendir(fd);
    if (d == NULL) {
        nox__close(fd);
        return nox__status_errno(st, NOX_EINTERNAL, errno, "cannot read %s",
                                 e->base_dir);
    }
    while (rv == NOX_OK) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                rv = nox__status_errno(st, NOX_EINTERNAL, errno,
                                       "cannot read %s", e->base_dir);
            break;
        }
        rv = fn(e, de->d_name, arg, st);
    }
    (void)closedir(d); /* a read-only stream: nothing to lose */
    return rv;
}

/* The session id of a sandbox directory name, or NULL for other names. */
static const char *
reap_sid_of(const char *name)
{
    size_t n = sizeof(NOX_SANDBOX_PREFIX) - 1;

    if (strncmp(name, NOX_SANDBOX_PREFIX, n) != 0 ||
        nox__session_id_check(name + n, NULL) != NOX_OK)
        return NULL;
    return name + n;
}

/* ------------------------------------------------------------------ */
/* List                                                                */
/* ------------------------------------------------------------------ */

typedef struct {
    nox_sandbox_info_t *items;
    size_t              len, cap;
} reap_list_t;

static nox_err_t
reap_list_visit(nox_engine_t *e, const char *name, void *arg, nox_status_t *st)
{
    reap_list_t       *l = arg;
    const char        *sid = reap_sid_of(name);
    nox_live_sandbox_t sb;
    nox_err_t          rv;

    if (sid == NULL)
        return NOX_OK;
    nox__sandbox_names(e, sid, &sb);
    sb.sb_fd = openat(e->base_fd, name,
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sb.sb_fd < 0) {
        /* Deleted meanwhile, or not a directory of ours. */
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP ||
            errno == EACCES)
            return NOX_OK;
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot list sandbox %s", sid);
    }
    /* No lock: metadata is replaced atomically, a plain read is whole. */
    rv = nox__meta_read(sb.sb_fd, &sb.meta, st);
    nox__sandbox_close(&sb);
    /* Only live sandboxes of ours: a directory without metadata was not
     * made by noxrunner and is not listed at all, nor is one whose
     * metadata is damaged. A live one that cannot be read now (too many
     * open files...) must not vanish from the list: the list fails. */
    if (rv == NOX_ENOENT || rv == NOX_EDATALOSS) {
        nox__status_clear(st);
        return NOX_OK;
    }
    if (rv != NOX_OK) {
        char why[NOX_MSG_MAX] = "";
        if (st != NULL)
            (void)snprintf(why, sizeof(why), "%s", st->msg);
        return nox__status_set(st, rv, "cannot list sandbox %s: %s", sid, why);
    }
    if (nox__now() >= sb.meta.expires_at)
        return NOX_OK;
    if (l->len == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        void  *p = reallocarray(l->items, ncap, sizeof(*l->items));
        if (p == NULL)
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
        l->items = p;
        l->cap = ncap;
    }
    nox__sandbox_info(&sb, &l->items[l->len++]);
    return NOX_OK;
}

static int
reap_info_cmp(const void *a, const void *b)
{
    return strcmp(((const nox_sandbox_info_t *)a)->session_id,
                  ((const nox_sandbox_info_t *)b)->session_id);
}

nox_err_t
nox_engine_list(nox_engine_t *e, nox_sandbox_info_t **out, size_t *n,
                nox_status_t *st)
{
    reap_list_t l = {NULL, 0, 0};
    nox_err_t   rv = reap_scan(e, reap_list_visit, &l, st);

    if (rv != NOX_OK) {
        free(l.items);
        return rv;
    }
    if (l.len > 1)
        qsort(l.items, l.len, sizeof(*l.items), reap_info_cmp);
    *out = l.items;
    *n = l.len;
    return NOX_OK;
}

/* ------------------------------------------------------------------ */
/* Reap                                                                */
/* ------------------------------------------------------------------ */

/* Remove a leftover of a crashed create (when old) or delete. One whose
 * creator or deleter is still at work holds its lock: skipped, that
 * process finishes it (and a delete still reads its holder notes). */
static void
reap_leftover(nox_engine_t *e, const char *name)
{
    struct stat sb;
    int         fd;

    if (strncmp(name, NOX_CREATING_PREFIX, sizeof(NOX_CREATING_PREFIX) - 1) ==
        0) {
        if (fstatat(e->base_fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            nox__now() - sb.st_mtime < REAP_STALE_CREATE_SECONDS)
            return;
    } else if (strncmp(name, NOX_DELETING_PREFIX,
                       sizeof(NOX_DELETING_PREFIX) - 1) != 0) {
        return;
    }
    fd = openat(e->base_fd, name,
                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return; /* gone meanwhile, or not a directory we made */
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        (void)nox__rmtree_at(e->base_fd, name, NULL); /* retried next time */
    nox__close(fd);
}

/* A sandbox without valid metadata has no expiry; it goes when nothing
 * has touched its directory or metadata for a default TTL. */
static bool
reap_broken_is_idle(const nox_live_sandbox_t *sb)
{
    struct stat dir, meta;
    time_t      last;

    if (fstat(sb->sb_fd, &dir) != 0)
        return false;
    last = dir.st_mtime;
    if (fstatat(sb->sb_fd, NOX_META_FILE, &meta, AT_SYMLINK_NOFOLLOW) == 0 &&
        meta.st_mtime > last)
        last = meta.st_mtime;
    return nox__now() - last >= NOX_DEFAULT_TTL_SECONDS;
}

static nox_err_t
reap_visit(nox_engine_t *e, const char *name, void *arg, nox_status_t *st)
{
    size_t            *reaped = arg;
    const char        *sid = reap_sid_of(name);
    nox_live_sandbox_t sb;
    bool               due;

    (void)st;
    if (sid == NULL) {
        reap_leftover(e, name);
        return NOX_OK;
    }
    /* A locked sandbox is skipped, never waited for: a command can hold
     * its own sandbox's lock for as long as it runs, and every reap pass
     * (the CLI's local mode runs one before each call) would stall on it.
     * The next pass takes it. */
    if (nox__sandbox_try_lock(e, sid, &sb, NULL) != NOX_OK)
        return NOX_OK;
    /* Judged under the lock (a Touch may have just extended it), and
     * never while a command runs: it is activity, and the TTL restarts
     * when it ends. */
    /* A directory we did not make is never ours to remove, however old
     * (NoxRunner's Python local mode uses the same names). */
    due = (sb.state == NOX_SB_EXPIRED ||
           (sb.state == NOX_SB_BROKEN && reap_broken_is_idle(&sb))) &&
          !nox__sandbox_busy(&sb);
    if (!due) {
        nox__sandbox_close(&sb);
        return NOX_OK;
    }
    if (nox__sandbox_destroy(e, &sb, NULL) == NOX_OK)
        (*reaped)++;
    return NOX_OK;
}

nox_err_t
nox_engine_reap(nox_engine_t *e, size_t *reaped, nox_status_t *st)
{
    size_t    n = 0;
    nox_err_t rv = reap_scan(e, reap_visit, &n, st);

    if (rv == NOX_OK && reaped != NULL)
        *reaped = n;
    return rv;
}

nox_err_t
nox_engine_reap_due(nox_engine_t *e, int64_t interval_ms, size_t *reaped,
                    nox_status_t *st)
{
    struct stat sb;
    int         fd;

    if (fstatat(e->base_fd, NOX_REAPED_FILE, &sb, 0) == 0 &&
        (nox__now() - sb.st_mtime) * 1000 < interval_ms) {
        if (reaped != NULL)
            *reaped = 0;
        return NOX_OK;
    }
    /* Claim this pass before scanning, so the other engines on this
     * base_dir skip theirs; if the mark cannot be written, reap anyway. */
    fd = openat(e->base_fd, NOX_REAPED_FILE,
                O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        (void)futimens(fd, NULL); /* now; a failure only costs a rescan */
        nox__close(fd);
    }
    return nox_engine_reap(e, reaped, st);
}
