/*
 * engine.c - engine lifecycle, delete and touch. The naming and locking
 * scheme is described in engine_impl.h; lookup.c finds, locks and
 * classifies sandboxes, create.c builds them, reap.c lists and expires
 * them.
 */
#include "engine_impl.h"

#include "fsutil.h"
#include "procs.h"
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    nox_engine_opts_t defaults = {NULL, 0, -1, NOX_ISOLATION_AUTO, 0};
    nox_engine_t     *e;
    nox_err_t         rv;

    if (o == NULL)
        o = &defaults;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    e->base_fd = -1;
    rv = engine_resolve_base(e, o->base_dir, st);
    if (rv == NOX_OK)
        rv = engine_mkdirs(e->base_dir, st);
    if (rv != NOX_OK)
        goto out_free;
    e->base_fd = open(e->base_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (e->base_fd < 0) {
        rv = nox__status_errno(st, NOX_EINVAL, errno,
                               "cannot open base directory %s", e->base_dir);
        goto out_free;
    }
    rv = nox__runner_open(&e->runner, st);
    if (rv != NOX_OK)
        goto out_close;
    atomic_init(&e->unique, 0);
    e->output_cap = o->output_cap ? o->output_cap : NOX_DEFAULT_OUTPUT_CAP;
    e->output_kill = o->output_kill ? o->output_kill : NOX_DEFAULT_OUTPUT_KILL;
    rv = nox__iso_init(e, o->isolation, st);
    if (rv != NOX_OK)
        goto out_runner;
    rv = nox__cgroups_open(&e->cg, e->base_dir, st);
    if (rv != NOX_OK)
        goto out_iso;
    nox__warn_init(&e->warn, o->quiet);
    nox__warn_start(&e->warn, e->base_dir,
                    e->iso.level == NOX_ISOLATION_NAMESPACES, e->iso.detail);
    *out = e;
    return NOX_OK;

out_iso:
    nox__iso_fini(e);
out_runner:
    nox__runner_close(e->runner);
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
    /* Kills every command and waits until each is reaped and its done
     * function has returned. */
    nox__runner_close(e->runner);
    nox__iso_fini(e); /* every holder, and so every command, is gone */
    (void)nox__cgroups_remove_idle(e->cg);
    nox__cgroups_close(e->cg);
    nox__close(e->base_fd);
    free(e);
}

void
nox_engine_kill_all(nox_engine_t *e)
{
    nox__runner_kill(e->runner, NULL);
}

void
nox_engine_abort(nox_engine_t *e)
{
    atomic_store(&e->aborted, true);
    nox__runner_abort(e->runner);
}

size_t
nox_engine_running(nox_engine_t *e)
{
    return nox__runner_count(e->runner);
}

const char *
nox_engine_base_dir(const nox_engine_t *e)
{
    return e->base_dir;
}

/* ------------------------------------------------------------------ */
/* Delete and touch                                                    */
/* ------------------------------------------------------------------ */

/* Removal passes over a tombstone before leaving it to the reaper: a
 * holder note or a file a dying command wrote after a pass read its
 * directory makes that pass fail with ENOTEMPTY; the next one takes it. */
#define ENGINE_RMTREE_PASSES 3

nox_err_t
nox__sandbox_destroy(nox_engine_t *e, nox_live_sandbox_t *sb, nox_status_t *st)
{
    char tomb[sizeof(NOX_DELETING_PREFIX) + NOX_SESSION_ID_MAX + 64];
    char uniq[NOX_UNIQUE_LEN];
    char tomb_path[NOX_SANDBOX_PATH_MAX + 64];
    /* The session id from the directory name: the metadata may be
     * damaged. */
    const char *sid = sb->name + sizeof(NOX_SANDBOX_PREFIX) - 1;
    nox_err_t   rv = NOX_OK;

    (void)snprintf(tomb, sizeof(tomb), NOX_DELETING_PREFIX "%s.%s", sid,
                   nox__engine_unique(e, uniq));
    (void)snprintf(tomb_path, sizeof(tomb_path), "%s/%s", e->base_dir, tomb);
    if (renameat(e->base_fd, sb->name, e->base_fd, tomb) != 0) {
        rv = nox__status_errno(st, NOX_EINTERNAL, errno,
                               "cannot delete sandbox %s", sid);
        nox__sandbox_close(sb);
        return rv;
    }
    /* Kill before removing: a live command could otherwise keep writing
     * files while the tree is walked. Processes started before the rename
     * may show either path as their working directory. */
    nox__runner_kill(e->runner, sid);
    if (sb->state == NOX_SB_BROKEN || sb->meta.namespaces)
        nox__iso_kill_sandbox(e, sid, tomb_path); /* plain ones have none */
    /* A namespaced sandbox's processes all live in its holders' pid
     * namespaces, which are gone now; only a plain one where a command
     * ran (or one whose metadata cannot say) needs the /proc scan, which
     * costs a few system calls per process on the host. */
    if (sb->state == NOX_SB_BROKEN || (!sb->meta.namespaces && sb->meta.ran))
        (void)nox__procs_kill_sandbox(sid, sb->path, tomb_path);
    /* Groups can only go once their members are dead; a group that
     * outlives this is reused by a later sandbox of the same name. */
    (void)nox__cgroups_remove(e->cg, sid);
    for (int pass = 0; pass < ENGINE_RMTREE_PASSES; pass++) {
        nox__status_clear(st);
        rv = nox__rmtree_at(e->base_fd, tomb, st);
        if (rv != NOX_EABORTED)
            break;
    }
    nox__sandbox_close(sb); /* now the reaper may take what is left */
    /* The sandbox went at the rename; files something kept writing into
     * its tombstone are the reaper's. */
    if (rv == NOX_EABORTED) {
        nox__status_clear(st);
        rv = NOX_OK;
    }
    return rv;
}

nox_err_t
nox_engine_delete(nox_engine_t *e, const char *sid, bool *deleted,
                  nox_status_t *st)
{
    nox_live_sandbox_t sb;
    nox_err_t          rv = nox__sandbox_lock(e, sid, &sb, st);
    bool               was_there;

    if (rv == NOX_ENOENT) {
        nox__status_clear(st);
        if (deleted != NULL)
            *deleted = false;
        return NOX_OK;
    }
    if (rv != NOX_OK)
        return rv;
    /* Not ours: its files may be someone's work (NoxRunner's Python
     * local mode uses the same names). */
    if (sb.state == NOX_SB_FOREIGN)
        return nox__sandbox_foreign(&sb, st);
    /* An expired sandbox is already gone for callers; a broken one is
     * there (its files are) and is removed like a live one. */
    was_there = sb.state != NOX_SB_EXPIRED;
    rv = nox__sandbox_destroy(e, &sb, st);
    if (rv != NOX_OK)
        return rv;
    if (deleted != NULL)
        *deleted = was_there;
    return NOX_OK;
}

nox_err_t
nox_engine_touch(nox_engine_t *e, const char *sid, int64_t *expires_at,
                 nox_status_t *st)
{
    nox_live_sandbox_t sb;
    nox_err_t          rv = nox__sandbox_open(e, sid, NOX_SB_EXTEND, &sb, st);

    if (rv != NOX_OK)
        return rv;
    *expires_at = sb.meta.expires_at;
    nox__sandbox_close(&sb);
    return NOX_OK;
}
