/*
 * engine.c - engine lifecycle and the on-disk sandbox registry: create,
 * touch, delete, list and the TTL reap.
 *
 * Naming under base_dir:
 *   noxrunner_sandbox_<sid>/           a sandbox (workspace/, tmp/, meta)
 *   .noxrunner_creating_<sid>.<n>/     a create in progress; renamed into
 *                                      place with RENAME_NOREPLACE
 *   .noxrunner_deleting_<sid>.<n>/     a delete in progress; the rename
 *                                      makes the sandbox vanish atomically
 * Leftovers of crashed creates and deletes are removed by the reaper.
 */
#include "engine_impl.h"

#include "fsutil.h"
#include "paths.h"
#include "procs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CREATING_PREFIX ".noxrunner_creating_"
#define DELETING_PREFIX ".noxrunner_deleting_"
#define STALE_CREATE_SECONDS 60

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

/* mkdir -p, each missing component 0700. */
static nox_err_t
engine_mkdirs(const char *path, nox_status_t *st)
{
    char buf[NOX_BASE_DIR_MAX + 1];

    (void)snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return nox__status_errno(st, NOX_EINTERNAL, errno,
                                     "cannot create base directory %s", buf);
        *p = saved;
        if (saved == '\0')
            return NOX_OK;
    }
}

static nox_err_t
engine_resolve_base(nox_engine_t *e, const char *base, nox_status_t *st)
{
    if (base == NULL || base[0] == '\0')
        base = getenv("NOXRUNNER_BASE_DIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if (base[0] != '/')
        return nox__status_set(st, NOX_EINVAL,
                               "base directory must be absolute: %s", base);
    size_t n = strlen(base);
    while (n > 1 && base[n - 1] == '/')
        n--;
    if (n > NOX_BASE_DIR_MAX)
        return nox__status_set(st, NOX_EINVAL,
                               "base directory path too long (max %d)",
                               NOX_BASE_DIR_MAX);
    memcpy(e->base_dir, base, n);
    e->base_dir[n] = '\0';
    return NOX_OK;
}

nox_err_t
nox_engine_open(nox_engine_t **out, const nox_engine_opts_t *o,
                nox_status_t *st)
{
    nox_engine_opts_t defaults = {NULL, 0, -1};
    nox_engine_t     *e;
    nox_err_t         rv;

    if (o == NULL)
        o = &defaults;
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    e->base_fd = -1;
    if ((rv = engine_resolve_base(e, o->base_dir, st)) != NOX_OK ||
        (rv = engine_mkdirs(e->base_dir, st)) != NOX_OK)
        goto out_free;
    e->base_fd = open(e->base_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (e->base_fd < 0) {
        rv = nox__status_errno(st, NOX_EINVAL, errno,
                               "cannot open base directory %s", e->base_dir);
        goto out_free;
    }
    if ((errno = pthread_mutex_init(&e->lock, NULL)) != 0) {
        rv = nox__status_errno(st, NOX_EINTERNAL, errno, "mutex");
        goto out_close;
    }
    e->output_cap = o->output_cap ? o->output_cap : NOX_DEFAULT_OUTPUT_CAP;
    nox__warn_init(&e->warn, o->quiet);
    nox__warn_start(&e->warn, e->base_dir);
    *out = e;
    return NOX_OK;

out_close:
    nox__close(e->base_fd);
out_free:
    free(e);
    return rv;
}

void
nox_engine_close(nox_engine_t *e)
{
    if (e == NULL)
        return;
    nox__engine_kill_running(e, NULL);
    (void)pthread_mutex_destroy(&e->lock);
    free(e->running);
    nox__close(e->base_fd);
    free(e);
}

const char *
nox_engine_base_dir(const nox_engine_t *e)
{
    return e->base_dir;
}

/* ------------------------------------------------------------------ */
/* Sandbox lookup                                                      */
/* ------------------------------------------------------------------ */

static void
engine_names(const nox_engine_t *e, const char *sid, nox_live_sandbox_t *sb)
{
    (void)snprintf(sb->name, sizeof(sb->name), NOX_SANDBOX_PREFIX "%s", sid);
    (void)snprintf(sb->path, sizeof(sb->path), "%s/%s", e->base_dir, sb->name);
}

static int64_t
engine_now(void)
{
    return (int64_t)time(NULL);
}

static nox_err_t
engine_lock(int fd, int op, nox_status_t *st)
{
    while (flock(fd, op) != 0) {
        if (errno != EINTR)
            return nox__status_errno(st, NOX_EINTERNAL, errno,
                                     "cannot lock sandbox");
    }
    return NOX_OK;
}

/* Open sb->name and read its metadata under an exclusive lock, which the
 * caller holds on success (released by closing sb_fd or flock LOCK_UN).
 * Expired sandboxes are returned too; the caller decides. */
static nox_err_t
engine_open_locked(nox_engine_t *e, const char *sid, nox_live_sandbox_t *sb,
                   nox_status_t *st)
{
    nox_err_t rv;

    if ((rv = nox__session_id_check(sid, st)) != NOX_OK)
        return rv;
    engine_names(e, sid, sb);
    sb->sb_fd = openat(e->base_fd, sb->name,
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sb->sb_fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            return nox__status_set(st, NOX_ENOENT, "sandbox not found: %s",
                                   sid);
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot open sandbox %s", sid);
    }
    if ((rv = engine_lock(sb->sb_fd, LOCK_EX, st)) != NOX_OK ||
        (rv = nox__meta_read(sb->sb_fd, &sb->meta, st)) != NOX_OK) {
        if (rv == NOX_ENOENT)
            rv = nox__status_set(st, NOX_ENOENT, "sandbox not found: %s", sid);
        nox__close(sb->sb_fd);
        sb->sb_fd = -1;
        return rv;
    }
    return NOX_OK;
}

static bool
engine_expired(const nox_meta_t *m)
{
    return engine_now() >= m->expires_at;
}

nox_err_t
nox__sandbox_open(nox_engine_t *e, const char *sid, bool extend,
                  nox_live_sandbox_t *sb, nox_status_t *st)
{
    nox_err_t rv;

    if ((rv = engine_open_locked(e, sid, sb, st)) != NOX_OK)
        return rv;
    if (engine_expired(&sb->meta)) {
        /* Expired is gone, whether or not the reaper has run yet. */
        nox__sandbox_close(sb);
        return nox__status_set(st, NOX_ENOENT,
                               "sandbox not found: %s (expired)", sid);
    }
    if (extend) {
        sb->meta.expires_at = engine_now() + sb->meta.ttl_seconds;
        if ((rv = nox__meta_write(sb->sb_fd, &sb->meta, st)) != NOX_OK) {
            nox__sandbox_close(sb);
            return rv;
        }
    }
    /* The lock only guards the metadata read-modify-write; commands run
     * without it, so a long Exec never blocks another call. */
    (void)flock(sb->sb_fd, LOCK_UN); /* closing the fd would release too */
    return NOX_OK;
}

void
nox__sandbox_close(nox_live_sandbox_t *sb)
{
    nox__close(sb->sb_fd);
    sb->sb_fd = -1;
}

nox_err_t
nox__sandbox_workspace(const nox_live_sandbox_t *sb, int *fd_out,
                       nox_status_t *st)
{
    int fd = openat(sb->sb_fd, "workspace",
                    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "sandbox %s has no workspace",
                                 sb->meta.session_id);
    *fd_out = fd;
    return NOX_OK;
}

static void
engine_info(const nox_live_sandbox_t *sb, nox_sandbox_info_t *info)
{
    memset(info, 0, sizeof(*info));
    (void)snprintf(info->session_id, sizeof(info->session_id), "%s",
                   sb->meta.session_id);
    (void)snprintf(info->pod_name, sizeof(info->pod_name), "local-%s",
                   sb->meta.session_id);
    info->expires_at = sb->meta.expires_at;
    (void)snprintf(info->path, sizeof(info->path), "%s", sb->path);
}

/* ------------------------------------------------------------------ */
/* Delete                                                              */
/* ------------------------------------------------------------------ */

static unsigned
engine_unique(void)
{
    static atomic_uint counter;
    return (unsigned)getpid() * 7919u + atomic_fetch_add(&counter, 1);
}

/* Make the locked sandbox vanish (rename to a tombstone), kill its
 * processes, remove the tree. Consumes sb (closes its fd). */
static nox_err_t
engine_destroy_locked(nox_engine_t *e, nox_live_sandbox_t *sb, nox_status_t *st)
{
    char tomb[sizeof(DELETING_PREFIX) + NOX_SESSION_ID_MAX + 16];
    int  err = 0;

    (void)snprintf(tomb, sizeof(tomb), DELETING_PREFIX "%s.%u",
                   sb->meta.session_id, engine_unique());
    if (renameat(e->base_fd, sb->name, e->base_fd, tomb) != 0)
        err = errno;
    nox__sandbox_close(sb);
    if (err != 0)
        return nox__status_errno(st, NOX_EINTERNAL, err,
                                 "cannot delete sandbox %s",
                                 sb->meta.session_id);
    /* Kill before removing: a live command could otherwise keep writing
     * files while the tree is walked. */
    nox__engine_kill_running(e, sb->meta.session_id);
    (void)nox__procs_kill_sandbox(sb->meta.session_id, sb->path);
    return nox__rmtree_at(e->base_fd, tomb, st);
}

nox_err_t
nox_engine_delete(nox_engine_t *e, const char *sid, bool *deleted,
                  nox_status_t *st)
{
    nox_live_sandbox_t sb;
    nox_err_t          rv;
    bool               live;

    rv = engine_open_locked(e, sid, &sb, st);
    if (rv == NOX_ENOENT) {
        nox__status_clear(st);
        if (deleted != NULL)
            *deleted = false;
        return NOX_OK;
    }
    if (rv != NOX_OK)
        return rv;
    live = !engine_expired(&sb.meta);
    if ((rv = engine_destroy_locked(e, &sb, st)) != NOX_OK)
        return rv;
    if (deleted != NULL)
        *deleted = live;
    return NOX_OK;
}

/* ------------------------------------------------------------------ */
/* Create and touch                                                    */
/* ------------------------------------------------------------------ */

static nox_err_t
engine_check_create(const nox_create_req_t *r, nox_status_t *st)
{
    nox_err_t rv;

    if ((rv = nox__session_id_check(r->session_id, st)) != NOX_OK ||
        (rv = nox__meta_check_str("image", r->image, st)) != NOX_OK ||
        (rv = nox__meta_check_str("cpu_limit", r->cpu_limit, st)) != NOX_OK ||
        (rv = nox__meta_check_str("memory_limit", r->memory_limit, st)) !=
            NOX_OK ||
        (rv = nox__meta_check_str("ephemeral_storage_limit", r->storage_limit,
                                  st)) != NOX_OK)
        return rv;
    return NOX_OK;
}

static void
engine_meta_init(nox_meta_t *m, const nox_create_req_t *r)
{
    memset(m, 0, sizeof(*m));
    (void)snprintf(m->session_id, sizeof(m->session_id), "%s", r->session_id);
    m->ttl_seconds = r->ttl_seconds ? r->ttl_seconds : NOX_DEFAULT_TTL_SECONDS;
    m->created_at = engine_now();
    m->expires_at = m->created_at + m->ttl_seconds;
#define COPY_(f, s) (void)snprintf(m->f, sizeof(m->f), "%s", (s) ? (s) : "")
    COPY_(image, r->image);
    COPY_(cpu_limit, r->cpu_limit);
    COPY_(memory_limit, r->memory_limit);
    COPY_(storage_limit, r->storage_limit);
#undef COPY_
}

/* Build the sandbox under a temporary name and rename it into place.
 * NOX_EEXIST when another creator won the race. */
static nox_err_t
engine_build(nox_engine_t *e, const nox_meta_t *m, const char *name,
             nox_status_t *st)
{
    char      tmp[sizeof(CREATING_PREFIX) + NOX_SESSION_ID_MAX + 16];
    nox_err_t rv = NOX_OK;
    int       fd;

    (void)snprintf(tmp, sizeof(tmp), CREATING_PREFIX "%s.%u", m->session_id,
                   engine_unique());
    if (mkdirat(e->base_fd, tmp, 0700) != 0)
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot create sandbox directory");
    fd = openat(e->base_fd, tmp,
                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || mkdirat(fd, "workspace", 0755) != 0 ||
        mkdirat(fd, "tmp", 0700) != 0) {
        rv = nox__status_errno(st, NOX_EINTERNAL, errno,
                               "cannot create sandbox directory");
        goto out_remove;
    }
    if ((rv = nox__meta_write(fd, m, st)) != NOX_OK)
        goto out_remove;
    if (renameat2(e->base_fd, tmp, e->base_fd, name, RENAME_NOREPLACE) != 0) {
        rv = errno == EEXIST ? NOX_EEXIST
                             : nox__status_errno(st, NOX_EINTERNAL, errno,
                                                 "cannot create sandbox");
        goto out_remove;
    }
    nox__close(fd);
    return NOX_OK;

out_remove:
    nox__close(fd);
    (void)nox__rmtree_at(e->base_fd, tmp, NULL); /* reaper retries */
    return rv;
}

/* Refresh an existing live sandbox's TTL; NOX_ENOENT when there is none
 * (an expired one is destroyed first). */
static nox_err_t
engine_refresh(nox_engine_t *e, const nox_create_req_t *r,
               nox_live_sandbox_t *sb, nox_status_t *st)
{
    nox_err_t rv = engine_open_locked(e, r->session_id, sb, st);

    if (rv != NOX_OK)
        return rv;
    if (engine_expired(&sb->meta)) {
        if ((rv = engine_destroy_locked(e, sb, st)) != NOX_OK)
            return rv;
        return NOX_ENOENT;
    }
    sb->meta.ttl_seconds =
        r->ttl_seconds ? r->ttl_seconds : NOX_DEFAULT_TTL_SECONDS;
    sb->meta.expires_at = engine_now() + sb->meta.ttl_seconds;
    rv = nox__meta_write(sb->sb_fd, &sb->meta, st);
    nox__sandbox_close(sb);
    return rv;
}

nox_err_t
nox_engine_create(nox_engine_t *e, const nox_create_req_t *r,
                  nox_sandbox_info_t *info, bool *created, nox_status_t *st)
{
    nox_live_sandbox_t sb;
    nox_err_t          rv;

    if ((rv = engine_check_create(r, st)) != NOX_OK)
        return rv;
    /* Two rounds at most: lose a create race, then refresh the winner. */
    for (int round = 0; round < 3; round++) {
        rv = engine_refresh(e, r, &sb, st);
        if (rv == NOX_OK) {
            engine_info(&sb, info);
            *created = false;
            return NOX_OK;
        }
        if (rv != NOX_ENOENT)
            return rv;
        nox__status_clear(st);
        engine_meta_init(&sb.meta, r);
        rv = engine_build(e, &sb.meta, sb.name, st);
        if (rv == NOX_OK) {
            engine_info(&sb, info);
            *created = true;
            return NOX_OK;
        }
        if (rv != NOX_EEXIST)
            return rv;
    }
    return nox__status_set(st, NOX_EABORTED,
                           "sandbox %s is being created and deleted "
                           "concurrently; retry",
                           r->session_id);
}

nox_err_t
nox_engine_touch(nox_engine_t *e, const char *sid, int64_t *expires_at,
                 nox_status_t *st)
{
    nox_live_sandbox_t sb;
    nox_err_t          rv;

    if ((rv = nox__sandbox_open(e, sid, true, &sb, st)) != NOX_OK)
        return rv;
    *expires_at = sb.meta.expires_at;
    nox__sandbox_close(&sb);
    return NOX_OK;
}

/* ------------------------------------------------------------------ */
/* List and reap: scans of base_dir                                    */
/* ------------------------------------------------------------------ */

typedef nox_err_t (*engine_visit_fn)(nox_engine_t *e, const char *name,
                                     void *arg, nox_status_t *st);

/* Call fn for every entry of base_dir. Entries vanishing meanwhile are
 * the visitor's business. */
static nox_err_t
engine_scan(nox_engine_t *e, engine_visit_fn fn, void *arg, nox_status_t *st)
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
    if ((d = fdopendir(fd)) == NULL) {
        nox__close(fd);
        return nox__status_errno(st, NOX_EINTERNAL, errno, "cannot read %s",
                                 e->base_dir);
    }
    while (rv == NOX_OK && (errno = 0, de = readdir(d)) != NULL)
        rv = fn(e, de->d_name, arg, st);
    if (rv == NOX_OK && errno != 0)
        rv = nox__status_errno(st, NOX_EINTERNAL, errno, "cannot read %s",
                               e->base_dir);
    (void)closedir(d);
    return rv;
}

static const char *
engine_sid_of(const char *name)
{
    size_t n = sizeof(NOX_SANDBOX_PREFIX) - 1;

    if (strncmp(name, NOX_SANDBOX_PREFIX, n) != 0 ||
        nox__session_id_check(name + n, NULL) != NOX_OK)
        return NULL;
    return name + n;
}

typedef struct {
    nox_sandbox_info_t *items;
    size_t              len, cap;
} engine_list_t;

static nox_err_t
engine_list_visit(nox_engine_t *e, const char *name, void *arg,
                  nox_status_t *st)
{
    engine_list_t     *l = arg;
    const char        *sid = engine_sid_of(name);
    nox_live_sandbox_t sb;

    if (sid == NULL)
        return NOX_OK;
    engine_names(e, sid, &sb);
    sb.sb_fd = openat(e->base_fd, name,
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sb.sb_fd < 0)
        return NOX_OK; /* deleted meanwhile */
    /* No lock: metadata is replaced atomically, a plain read is whole. */
    nox_err_t rv = nox__meta_read(sb.sb_fd, &sb.meta, NULL);
    nox__sandbox_close(&sb);
    if (rv != NOX_OK || engine_expired(&sb.meta))
        return NOX_OK;
    if (l->len == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        void  *p = reallocarray(l->items, ncap, sizeof(*l->items));
        if (p == NULL)
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
        l->items = p;
        l->cap = ncap;
    }
    engine_info(&sb, &l->items[l->len++]);
    return NOX_OK;
}

static int
engine_info_cmp(const void *a, const void *b)
{
    return strcmp(((const nox_sandbox_info_t *)a)->session_id,
                  ((const nox_sandbox_info_t *)b)->session_id);
}

nox_err_t
nox_engine_list(nox_engine_t *e, nox_sandbox_info_t **out, size_t *n,
                nox_status_t *st)
{
    engine_list_t l = {NULL, 0, 0};
    nox_err_t     rv;

    if ((rv = engine_scan(e, engine_list_visit, &l, st)) != NOX_OK) {
        free(l.items);
        return rv;
    }
    if (l.len > 1)
        qsort(l.items, l.len, sizeof(*l.items), engine_info_cmp);
    *out = l.items;
    *n = l.len;
    return NOX_OK;
}

/* Remove a leftover of a crashed create (when old) or delete. */
static void
engine_reap_leftover(nox_engine_t *e, const char *name)
{
    struct stat sb;

    if (strncmp(name, CREATING_PREFIX, sizeof(CREATING_PREFIX) - 1) == 0) {
        /* A create in another process takes milliseconds; only an old
         * one is abandoned. */
        if (fstatat(e->base_fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            engine_now() - sb.st_mtime < STALE_CREATE_SECONDS)
            return;
    } else if (strncmp(name, DELETING_PREFIX, sizeof(DELETING_PREFIX) - 1) != 0)
        return;
    (void)nox__rmtree_at(e->base_fd, name, NULL); /* retried next time */
}

static nox_err_t
engine_reap_visit(nox_engine_t *e, const char *name, void *arg,
                  nox_status_t *st)
{
    size_t            *reaped = arg;
    const char        *sid = engine_sid_of(name);
    nox_live_sandbox_t sb;

    (void)st;
    if (sid == NULL) {
        engine_reap_leftover(e, name);
        return NOX_OK;
    }
    if (engine_open_locked(e, sid, &sb, NULL) != NOX_OK)
        return NOX_OK;
    /* Re-checked under the lock: a Touch may have just extended it. */
    if (!engine_expired(&sb.meta)) {
        nox__sandbox_close(&sb);
        return NOX_OK;
    }
    if (engine_destroy_locked(e, &sb, NULL) == NOX_OK)
        (*reaped)++;
    return NOX_OK;
}

nox_err_t
nox_engine_reap(nox_engine_t *e, size_t *reaped, nox_status_t *st)
{
    size_t    n = 0;
    nox_err_t rv = engine_scan(e, engine_reap_visit, &n, st);

    if (rv == NOX_OK && reaped != NULL)
        *reaped = n;
    return rv;
}
