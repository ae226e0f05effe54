/*
 * engine.c - engine lifecycle, sandbox lookup and locking, delete and
 * touch. The naming and locking scheme is described in engine_impl.h;
 * create.c builds sandboxes, reap.c lists and expires them.
 */
#include "engine_impl.h"

#include "fsutil.h"
#include "paths.h"
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

/* How long a call waits for a sandbox's lock, and its longest sleep. */
#define ENGINE_LOCK_WAIT_MS 30000
#define ENGINE_LOCK_PAUSE_MAX_US 20000L
/* How often a command's end tries for its sandbox's lock, 0.5 ms apart. */
#define ENGINE_EXTEND_LOCK_TRIES 10

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
/* Sandbox lookup                                                      */
/* ------------------------------------------------------------------ */

int64_t
nox__now(void)
{
    return (int64_t)time(NULL);
}

const char *
nox__engine_unique(nox_engine_t *e, char buf[NOX_UNIQUE_LEN])
{
    /* pid: other processes; tid: other threads, also of other engines in
     * this process; the counter: this thread's earlier names. */
    (void)snprintf(buf, NOX_UNIQUE_LEN, "%ld.%ld.%u", (long)getpid(),
                   (long)gettid(), atomic_fetch_add(&e->unique, 1));
    return buf;
}

void
nox__sandbox_names(const nox_engine_t *e, const char *sid,
                   nox_live_sandbox_t *sb)
{
    /* Both fit: sid is at most 128 characters, base_dir at most 800. */
    (void)snprintf(sb->name, sizeof(sb->name), NOX_SANDBOX_PREFIX "%s", sid);
    (void)snprintf(sb->path, sizeof(sb->path), "%s/%s", e->base_dir, sb->name);
}

/* Take the sandbox directory's exclusive lock. Honest holders keep it
 * for microseconds (metadata updates) up to the time a delete takes to
 * remove the tree, but at isolation none a command can take it on its
 * own sandbox and keep it: so the wait is bounded, in sleeps growing to
 * ENGINE_LOCK_PAUSE_MAX_US (no wakeups while uncontended: the first try
 * takes it), and ends at once when the engine is aborted for shutdown.
 * Without wait, a held lock fails at once (NOX_EUNAVAIL). */
static nox_err_t
engine_flock(nox_engine_t *e, int fd, const char *sid, bool wait,
             nox_status_t *st)
{
    int64_t end = nox__mono_ms() + ENGINE_LOCK_WAIT_MS;
    long    pause_us = 50;

    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return NOX_OK;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return nox__status_errno(st, NOX_EINTERNAL, errno,
                                     "cannot lock sandbox %s", sid);
        if (!wait && errno == EWOULDBLOCK)
            return nox__status_set(st, NOX_EUNAVAIL, "sandbox %s is busy", sid);
        if (atomic_load(&e->aborted))
            return nox__status_set(st, NOX_EUNAVAIL,
                                   "sandbox %s: the engine is shutting down",
                                   sid);
        if (nox__mono_ms() >= end)
            return nox__status_set(st, NOX_EUNAVAIL,
                                   "sandbox %s is busy: its lock has been "
                                   "held for %d s",
                                   sid, ENGINE_LOCK_WAIT_MS / 1000);
        struct timespec ts = {0, pause_us * 1000};
        (void)nanosleep(&ts, NULL); /* EINTR: just try again sooner */
        pause_us = pause_us * 2 > ENGINE_LOCK_PAUSE_MAX_US
                       ? ENGINE_LOCK_PAUSE_MAX_US
                       : pause_us * 2;
    }
}

/* Read the metadata and say what state the sandbox is in. A damaged
 * metadata file (a command can write there: it is one directory up from
 * the workspace) makes it BROKEN, which create repairs and delete and the
 * reaper remove, instead of an error that nothing could clear. So does a
 * missing one on a directory with our mark (meta.h), which a command can
 * unlink as easily. Without either the directory is not ours: every one
 * we make has both from before its rename into place (or only the file,
 * from older versions or where the filesystem has no user xattrs) until
 * its rename away to a tombstone. Our subdirectories prove nothing:
 * NoxRunner's Python local mode makes the same names with a workspace/
 * too. The mark is read only when the file is missing, so the common
 * lookup costs nothing extra.
 * Any other failure to read (too many open files, out of memory, I/O)
 * says nothing about the sandbox, which may well be live with the user's
 * files: it is the caller's error, never BROKEN, or the reaper would
 * delete it and create would rewrite its metadata. */
/* rv: the metadata of sid could not be read, and st says why (the
 * error of the call, which names the sandbox). */
static nox_err_t
engine_unknown(const char *sid, nox_err_t rv, nox_status_t *st)
{
    char why[NOX_MSG_MAX];

    if (st == NULL)
        return rv;
    (void)snprintf(why, sizeof(why), "%s", st->msg);
    return nox__status_set(st, rv, "sandbox %s: %s", sid, why);
}

static nox_err_t
engine_classify(nox_live_sandbox_t *sb, nox_status_t *st)
{
    const char *sid = sb->name + sizeof(NOX_SANDBOX_PREFIX) - 1;
    struct stat m;
    nox_err_t   rv;

    if (fstatat(sb->sb_fd, NOX_META_FILE, &m, AT_SYMLINK_NOFOLLOW) != 0) {
        int err = errno;
        /* EACCES: a directory of another user's, unless it is ours. */
        if (err != ENOENT && err != EACCES)
            return nox__status_errno(st, NOX_EINTERNAL, err,
                                     "cannot read the metadata of sandbox %s",
                                     sid);
        if (!nox__meta_marked(sb->sb_fd, sid)) {
            sb->state = NOX_SB_FOREIGN;
            return NOX_OK;
        }
        if (err == EACCES)
            return nox__status_errno(st, NOX_EINTERNAL, err,
                                     "cannot read the metadata of sandbox %s",
                                     sid);
        sb->state = NOX_SB_BROKEN;
        return NOX_OK;
    }
    rv = nox__meta_read(sb->sb_fd, &sb->meta, st);
    if (rv == NOX_ENOENT || rv == NOX_EDATALOSS) {
        /* Damaged, or unlinked since the fstatat (by a command: the file
         * was there, so the directory is ours). */
        nox__status_clear(st);
        sb->state = NOX_SB_BROKEN;
    } else if (rv != NOX_OK) {
        return engine_unknown(sid, rv, st);
    } else if (nox__now() >= sb->meta.expires_at) {
        sb->state = NOX_SB_EXPIRED;
    } else {
        sb->state = NOX_SB_LIVE;
    }
    return NOX_OK;
}

/* true when sb's directory is still the one under its name: a delete
 * renames it away (under the lock, which the caller holds). */
static bool
engine_in_place(const nox_engine_t *e, const nox_live_sandbox_t *sb)
{
    struct stat now, then;

    return fstatat(e->base_fd, sb->name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
           fstat(sb->sb_fd, &then) == 0 && now.st_ino == then.st_ino &&
           now.st_dev == then.st_dev;
}

/* Lookups before giving up on a name whose directory is replaced again
 * and again while we wait for its lock; each round lost is a delete done
 * by someone else, so this is never reached outside a pathological
 * churn. */
#define ENGINE_LOCK_ROUNDS 1000

static nox_err_t
engine_lock(nox_engine_t *e, const char *sid, bool wait, nox_live_sandbox_t *sb,
            nox_status_t *st)
{
    nox_err_t rv = nox__session_id_check(sid, st);

    if (rv != NOX_OK)
        return rv;
    nox__sandbox_names(e, sid, sb);
    for (int round = 0; round < ENGINE_LOCK_ROUNDS; round++) {
        sb->sb_fd = openat(e->base_fd, sb->name,
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sb->sb_fd < 0) {
            if (errno == ENOENT)
                return nox__status_set(st, NOX_ENOENT, "sandbox not found: %s",
                                       sid);
            /* A file, a symlink or another user's directory: ours are
             * directories we can read. */
            if (errno == ENOTDIR || errno == ELOOP || errno == EACCES)
                return nox__sandbox_foreign(sb, st);
            return nox__status_errno(st, NOX_EINTERNAL, errno,
                                     "cannot open sandbox %s", sid);
        }
        rv = engine_flock(e, sb->sb_fd, sid, wait, st);
        if (rv != NOX_OK) {
            nox__sandbox_close(sb);
            return rv;
        }
        /* A delete holding the lock renamed the directory to a tombstone
         * and is emptying it: classifying that one would see a sandbox
         * losing its files, and writing there would race the removal. */
        if (engine_in_place(e, sb)) {
            rv = engine_classify(sb, st);
            if (rv != NOX_OK)
                nox__sandbox_close(sb);
            return rv;
        }
        nox__sandbox_close(sb);
    }
    return nox__status_set(st, NOX_ENOENT,
                           "sandbox not found: %s (deleted and created "
                           "again without pause)",
                           sid);
}

nox_err_t
nox__sandbox_lock(nox_engine_t *e, const char *sid, nox_live_sandbox_t *sb,
                  nox_status_t *st)
{
    return engine_lock(e, sid, true, sb, st);
}

nox_err_t
nox__sandbox_try_lock(nox_engine_t *e, const char *sid, nox_live_sandbox_t *sb,
                      nox_status_t *st)
{
    return engine_lock(e, sid, false, sb, st);
}

nox_err_t
nox__sandbox_foreign(nox_live_sandbox_t *sb, nox_status_t *st)
{
    nox__sandbox_close(sb);
    return nox__status_set(st, NOX_EPRECOND,
                           "a directory not made by noxrunner is in the "
                           "way: %s",
                           sb->path);
}

nox_err_t
nox__sandbox_open(nox_engine_t *e, const char *sid, unsigned how,
                  nox_live_sandbox_t *sb, nox_status_t *st)
{
    nox_err_t rv = nox__sandbox_lock(e, sid, sb, st);

    if (rv != NOX_OK)
        return rv;
    /* The lock is on the directory under the name (nox__sandbox_lock): a
     * delete renames it away only under this lock, so a command started
     * from here is in a sandbox that delete's scan for leftovers sees. */
    if (sb->state == NOX_SB_FOREIGN)
        return nox__sandbox_foreign(sb, st);
    if (sb->state != NOX_SB_LIVE) {
        /* Expired is gone, whether or not the reaper has run yet. */
        rv = nox__status_set(st, NOX_ENOENT, "sandbox not found: %s%s", sid,
                             sb->state == NOX_SB_EXPIRED
                                 ? " (expired)"
                                 : " (no valid metadata; CreateSandbox "
                                   "repairs it)");
        nox__sandbox_close(sb);
        return rv;
    }
    /* expires_at has whole seconds: within one second the new value is the
     * old one, and skipping the rewrite (a file create, write and rename:
     * 0.3-0.5 ms on ext4) keeps a burst of Execs near the spawn cost. */
    bool extend = (how & NOX_SB_EXTEND) &&
                  nox__now() + sb->meta.ttl_seconds != sb->meta.expires_at;
    /* The first command marks the sandbox, under the lock a delete takes,
     * before it starts: from then on a delete scans for its leftovers. */
    bool first_run = (how & NOX_SB_RUN) && !sb->meta.ran;
    if (extend || first_run) {
        if (extend)
            sb->meta.expires_at = nox__now() + sb->meta.ttl_seconds;
        if (first_run)
            sb->meta.ran = true;
        rv = nox__fs_no_space(e->base_dir,
                              nox__meta_write(sb->sb_fd, &sb->meta, st), st);
        if (rv != NOX_OK) {
            nox__sandbox_close(sb);
            return rv;
        }
    }
    /* The lock only guards the metadata read-modify-write; commands run
     * without it, so a long Exec never blocks another call. */
    (void)flock(sb->sb_fd, LOCK_UN); /* cannot fail on a locked fd */
    return NOX_OK;
}

void
nox__sandbox_close(nox_live_sandbox_t *sb)
{
    nox__close(sb->sb_fd);
    sb->sb_fd = -1;
}

nox_err_t
nox__sandbox_finish(nox_engine_t *e, nox_live_sandbox_t *sb, nox_err_t rv,
                    nox_status_t *st)
{
    /* What the request itself got wrong stays its answer. */
    bool system = rv != NOX_OK && rv != NOX_EINVAL && rv != NOX_EDENIED &&
                  rv != NOX_ENOENT;

    if (system && !engine_in_place(e, sb))
        rv = nox__status_set(st, NOX_ENOENT,
                             "sandbox not found: %s (deleted meanwhile)",
                             sb->name + sizeof(NOX_SANDBOX_PREFIX) - 1);
    nox__sandbox_close(sb);
    return rv;
}

/* Take fd's exclusive lock if it comes within a few milliseconds. The
 * runner's one thread extends TTLs when commands end: a blocking wait
 * there would stall every running command behind one sandbox's lock,
 * which a command at isolation none can hold for ever (flock on its
 * sandbox directory). Honest holders (metadata updates, the reaper's
 * check) keep it for microseconds; one that keeps it longer is a delete,
 * or a create or touch that sets the TTL itself. */
static bool
engine_flock_briefly(int fd)
{
    const struct timespec pause = {0, 500 * 1000};

    for (int i = 0; i < ENGINE_EXTEND_LOCK_TRIES; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return true;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return false;
        (void)nanosleep(&pause, NULL);
    }
    return false;
}

void
nox__sandbox_extend(nox_engine_t *e, nox_live_sandbox_t *sb)
{
    /* A command that ended within the second its TTL was set in changes
     * nothing (see nox__sandbox_open): the common case costs no I/O. */
    if (nox__now() + sb->meta.ttl_seconds <= sb->meta.expires_at)
        return;
    if (!engine_flock_briefly(sb->sb_fd))
        return;
    /* Re-read: a Touch or create may have changed the TTL meanwhile. A
     * failed refresh is not the command's failure; the TTL from its start
     * stands. */
    bool known = engine_classify(sb, NULL) == NOX_OK;
    /* Expired by the clock is fine: the reaper spared it because the
     * command ran, and the command's end is its latest activity. */
    if (known && (sb->state == NOX_SB_LIVE || sb->state == NOX_SB_EXPIRED) &&
        engine_in_place(e, sb)) {
        sb->meta.expires_at = nox__now() + sb->meta.ttl_seconds;
        (void)nox__meta_write(sb->sb_fd, &sb->meta, NULL);
    }
    (void)flock(sb->sb_fd, LOCK_UN);
}

nox_err_t
nox__sandbox_workspace(const nox_live_sandbox_t *sb, int *fd_out,
                       nox_status_t *st)
{
    int fd = openat(sb->sb_fd, "workspace",
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT)
        return nox__status_set(st, NOX_ENOENT,
                               "sandbox not found: %s (deleted meanwhile)",
                               sb->meta.session_id);
    if (fd < 0)
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "sandbox %s has no workspace",
                                 sb->meta.session_id);
    *fd_out = fd;
    return NOX_OK;
}

bool
nox__sandbox_busy(const nox_live_sandbox_t *sb)
{
    int  fd = openat(sb->sb_fd, "workspace",
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    bool busy;

    /* Fails safe: only a clean answer frees the sandbox for removal. No
     * workspace is one (no command can hold its lock); a probe that could
     * not be made (too many open files...) is not. */
    if (fd < 0)
        return errno != ENOENT;
    busy = flock(fd, LOCK_EX | LOCK_NB) != 0;
    nox__close(fd); /* releases the probe's lock, if taken */
    return busy;
}

void
nox__sandbox_info(const nox_live_sandbox_t *sb, nox_sandbox_info_t *info)
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
