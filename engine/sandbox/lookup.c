/*
 * lookup.c - finding a sandbox by id: names, the directory's lock (a
 * bounded wait), what state its metadata says it is in, and opening it
 * for an operation. engine_impl.h describes the naming and locking
 * scheme and the states.
 */
#include "engine_impl.h"

#include "fsutil.h"
#include "paths.h"

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
#define LOOKUP_LOCK_WAIT_MS 30000
#define LOOKUP_LOCK_PAUSE_MAX_US 20000L
/* How often a command's end tries for its sandbox's lock, 0.5 ms apart. */
#define LOOKUP_EXTEND_LOCK_TRIES 10

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
 * LOOKUP_LOCK_PAUSE_MAX_US (no wakeups while uncontended: the first try
 * takes it), and ends at once when the engine is aborted for shutdown.
 * Without wait, a held lock fails at once (NOX_EUNAVAIL). */
static nox_err_t
lookup_flock(nox_engine_t *e, int fd, const char *sid, bool wait,
             nox_status_t *st)
{
    int64_t end = nox__mono_ms() + LOOKUP_LOCK_WAIT_MS;
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
                                   sid, LOOKUP_LOCK_WAIT_MS / 1000);
        struct timespec ts = {0, pause_us * 1000};
        (void)nanosleep(&ts, NULL); /* EINTR: just try again sooner */
        pause_us = pause_us * 2 > LOOKUP_LOCK_PAUSE_MAX_US
                       ? LOOKUP_LOCK_PAUSE_MAX_US
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
lookup_unknown(const char *sid, nox_err_t rv, nox_status_t *st)
{
    char why[NOX_MSG_MAX];

    if (st == NULL)
        return rv;
    (void)snprintf(why, sizeof(why), "%s", st->msg);
    return nox__status_set(st, rv, "sandbox %s: %s", sid, why);
}

/* Read sb's metadata file (it exists) and set sb->state from it. */
static nox_err_t
lookup_read(nox_live_sandbox_t *sb, nox_status_t *st)
{
    const char *sid = sb->name + sizeof(NOX_SANDBOX_PREFIX) - 1;
    nox_err_t   rv;

    rv = nox__meta_read(sb->sb_fd, &sb->meta, st);
    if (rv == NOX_ENOENT || rv == NOX_EDATALOSS) {
        /* Damaged, or unlinked since the fstatat (by a command: the file
         * was there, so the directory is ours). */
        nox__status_clear(st);
        sb->state = NOX_SB_BROKEN;
    } else if (rv != NOX_OK) {
        return lookup_unknown(sid, rv, st);
    } else if (nox__now() >= sb->meta.expires_at) {
        sb->state = NOX_SB_EXPIRED;
    } else {
        sb->state = NOX_SB_LIVE;
    }
    return NOX_OK;
}

static nox_err_t
lookup_classify(nox_live_sandbox_t *sb, nox_status_t *st)
{
    const char *sid = sb->name + sizeof(NOX_SANDBOX_PREFIX) - 1;
    struct stat m;

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
        /* Ours, made unsearchable by a command (chmod on its sandbox
         * directory at isolation none): it gets the mode create gave it
         * back, else the sandbox could be neither repaired nor removed. */
        if (err == EACCES && fchmod(sb->sb_fd, 0700) == 0 &&
            fstatat(sb->sb_fd, NOX_META_FILE, &m, AT_SYMLINK_NOFOLLOW) == 0)
            return lookup_read(sb, st);
        sb->state = NOX_SB_BROKEN;
        return NOX_OK;
    }
    return lookup_read(sb, st);
}

/* true when sb's directory is still the one under its name: a delete
 * renames it away (under the lock, which the caller holds). */
static bool
lookup_in_place(const nox_engine_t *e, const nox_live_sandbox_t *sb)
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
#define LOOKUP_LOCK_ROUNDS 1000

static nox_err_t
lookup_lock(nox_engine_t *e, const char *sid, bool wait, nox_live_sandbox_t *sb,
            nox_status_t *st)
{
    nox_err_t rv = nox__session_id_check(sid, st);

    if (rv != NOX_OK)
        return rv;
    nox__sandbox_names(e, sid, sb);
    for (int round = 0; round < LOOKUP_LOCK_ROUNDS; round++) {
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
        rv = lookup_flock(e, sb->sb_fd, sid, wait, st);
        if (rv != NOX_OK) {
            nox__sandbox_close(sb);
            return rv;
        }
        /* A delete holding the lock renamed the directory to a tombstone
         * and is emptying it: classifying that one would see a sandbox
         * losing its files, and writing there would race the removal. */
        if (lookup_in_place(e, sb)) {
            rv = lookup_classify(sb, st);
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
    return lookup_lock(e, sid, true, sb, st);
}

nox_err_t
nox__sandbox_try_lock(nox_engine_t *e, const char *sid, nox_live_sandbox_t *sb,
                      nox_status_t *st)
{
    return lookup_lock(e, sid, false, sb, st);
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

    if (system && !lookup_in_place(e, sb))
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
lookup_flock_briefly(int fd)
{
    const struct timespec pause = {0, 500 * 1000};

    for (int i = 0; i < LOOKUP_EXTEND_LOCK_TRIES; i++) {
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
    if (!lookup_flock_briefly(sb->sb_fd))
        return;
    /* Re-read: a Touch or create may have changed the TTL meanwhile. A
     * failed refresh is not the command's failure; the TTL from its start
     * stands. */
    bool known = lookup_classify(sb, NULL) == NOX_OK;
    /* Expired by the clock is fine: the reaper spared it because the
     * command ran, and the command's end is its latest activity. */
    if (known && (sb->state == NOX_SB_LIVE || sb->state == NOX_SB_EXPIRED) &&
        lookup_in_place(e, sb)) {
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

    /* Fails safe: only a clean answer frees the sandbox for removal. A
     * probe that could not be made for want of resources (too many open
     * files, no memory) is not one; any other failure (no workspace, or
     * one a command made unreadable or replaced) means no command can
     * hold its lock, or an expired sandbox would stay for ever. */
    if (fd < 0)
        return errno == EMFILE || errno == ENFILE || errno == ENOMEM;
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
