/*
 * engine_impl.h - the engine's private state and the sandbox handle shared
 * by engine.c (lifecycle, delete), lookup.c (lookup, locking, states),
 * create.c, reap.c (list and TTL), exec.c and files.c. The running commands are
 * runner.c's.
 *
 * Names under base_dir:
 *   noxrunner_sandbox_<sid>/           a sandbox (workspace/, tmp/, meta)
 *   .noxrunner_creating_<sid>.<n>/     a create in progress; renamed into
 *                                      place with RENAME_NOREPLACE
 *   .noxrunner_deleting_<sid>.<n>/     a delete in progress; the rename
 *                                      makes the sandbox vanish atomically
 *   .noxrunner_reaped                  its mtime: when a reap pass last ran
 *
 * A directory under a sandbox name is ours only when it holds the
 * metadata file or carries our mark (NOX_OWNER_XATTR, meta.h): ours have
 * both from before their rename into place until their rename away;
 * anything else is foreign and left alone.
 *
 * Locks: the sandbox directory's flock (exclusive) serialises metadata
 * read-modify-write cycles and deletion; it is never held while a command
 * runs. A lock only counts on the directory still under the name (a
 * delete renames it away under the lock); a create locks its directory
 * before renaming it into place, a delete keeps it locked until the
 * tombstone is gone, and the reaper skips (never waits for) locked
 * sandboxes and leftovers. A running Exec
 * holds a shared flock on the workspace directory, which the reaper tests (in
 * any process) so it never expires a sandbox under a running command.
 */
#ifndef NOX_ENGINE_IMPL_H
#define NOX_ENGINE_IMPL_H

#include "nox/engine.h"
#include "cgroup.h"
#include "isolation.h"
#include "meta.h"
#include "warn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#define NOX_CREATING_PREFIX ".noxrunner_creating_"
#define NOX_DELETING_PREFIX ".noxrunner_deleting_"
#define NOX_REAPED_FILE ".noxrunner_reaped"

struct nox_engine {
    char                base_dir[NOX_BASE_DIR_MAX + 1];
    int                 base_fd; /* O_PATH directory fd of base_dir */
    size_t              output_cap;
    uint64_t            output_kill; /* kill a command past this much output */
    nox_warn_t          warn;
    nox_iso_t           iso;
    nox_cgroups_t      *cg;
    atomic_uint         unique;  /* for temporary names */
    struct nox__runner *runner;  /* running commands (runner.h) */
    atomic_bool         aborted; /* nox_engine_abort: lock waits give up */
};

typedef enum {
    NOX_SB_LIVE,    /* metadata read, not expired */
    NOX_SB_EXPIRED, /* metadata read, expired: gone for every caller */
    /* Metadata file damaged (malformed, incomplete, not a regular file,
     * unreadable to us) or missing from a directory with our mark. A metadata
     * file that cannot be read for another reason (too many open files...) is
     * no state: the lookup fails with that error. */
    NOX_SB_BROKEN,
    /* No metadata file and no mark: not made by noxrunner (e.g.
     * NoxRunner's Python local mode uses the same names). Never reaped,
     * deleted, repaired or written into. */
    NOX_SB_FOREIGN,
} nox_sb_state_t;

/* A sandbox opened for an operation. */
typedef struct {
    int            sb_fd; /* the sandbox directory (O_RDONLY, for flock) */
    nox_sb_state_t state;
    nox_meta_t     meta; /* valid unless state is NOX_SB_BROKEN */
    char           name[sizeof(NOX_SANDBOX_PREFIX) + NOX_SESSION_ID_MAX];
    char           path[NOX_SANDBOX_PATH_MAX];
} nox_live_sandbox_t;

/* Seconds since the epoch (the clock of expires_at). */
int64_t nox__now(void);

/* A string for temporary names, unique across processes, threads and
 * engines; written to buf, which is returned. */
#define NOX_UNIQUE_LEN 48
const char *nox__engine_unique(nox_engine_t *e, char buf[NOX_UNIQUE_LEN]);

/* Fill sb->name and sb->path for session_id (already validated). */
void nox__sandbox_names(const nox_engine_t *e, const char *session_id,
                        nox_live_sandbox_t *sb);

/* Open the sandbox directory of session_id, take its lock and classify it
 * (sb->state). NOX_EINVAL for a bad id, NOX_ENOENT when there is no such
 * directory, NOX_EPRECOND (nox__sandbox_foreign) when a file, a symlink
 * or a directory we cannot read has the name; NOX_ERESOURCE (too many
 * open files, out of memory) or NOX_EINTERNAL when the directory or its
 * metadata cannot be read: then nothing is known of it, and nothing may
 * be done to it. On success the lock is held until
 * nox__sandbox_close(), on the directory that stands under the name: one a
 * concurrent delete renamed away while we waited for its lock is let go, and
 * the name looked up again. */
nox_err_t nox__sandbox_lock(nox_engine_t *e, const char *session_id,
                            nox_live_sandbox_t *sb, nox_status_t *st);

/* nox__sandbox_lock without waiting: a lock someone holds now is
 * NOX_EUNAVAIL "sandbox <id> is busy" at once. For the reaper, which a
 * command holding its own sandbox's lock must not stall. */
nox_err_t nox__sandbox_try_lock(nox_engine_t *e, const char *session_id,
                                nox_live_sandbox_t *sb, nox_status_t *st);

/* What an operation does to the sandbox it opens (nox__sandbox_open). */
enum {
    NOX_SB_READ = 0,        /* nothing */
    NOX_SB_EXTEND = 1 << 0, /* refresh its TTL (expires_at = now + ttl) */
    NOX_SB_RUN = 1 << 1,    /* also: it is about to start a command */
};

/* Open the live sandbox of session_id for an operation (how: NOX_SB_
 * flags): NOX_EINVAL for a bad id, NOX_ENOENT when missing, expired or
 * with damaged metadata, NOX_EPRECOND when a directory not made by
 * noxrunner has its name (nox__sandbox_foreign). The metadata is rewritten when
 * the flags change it. The lock is released before returning. The caller
 * releases sb with nox__sandbox_close(). */
nox_err_t nox__sandbox_open(nox_engine_t *e, const char *session_id,
                            unsigned how, nox_live_sandbox_t *sb,
                            nox_status_t *st);
void      nox__sandbox_close(nox_live_sandbox_t *sb);

/* End an operation on sb that nox__sandbox_open began: close sb and
 * return rv, except that a failure other than the request's own
 * (NOX_EINVAL, NOX_EDENIED) in a sandbox a concurrent delete renamed away
 * meanwhile becomes NOX_ENOENT: the sandbox is gone, which is the race's
 * documented outcome, and its vanishing files or killed holder were the
 * cause (ENOENT on a path, ENOMEM from a clone into a dead pid
 * namespace). */
nox_err_t nox__sandbox_finish(nox_engine_t *e, nox_live_sandbox_t *sb,
                              nox_err_t rv, nox_status_t *st);

/* NOX_EPRECOND: "a directory not made by noxrunner is in the way:
 * <path>", for sb in state NOX_SB_FOREIGN. Closes sb. */
nox_err_t nox__sandbox_foreign(nox_live_sandbox_t *sb, nox_status_t *st);

/* Refresh the TTL of the open sandbox sb if it still stands under its
 * name (after a command ran: activity until its end). */
void nox__sandbox_extend(nox_engine_t *e, nox_live_sandbox_t *sb);

/* Open the sandbox's workspace directory (O_RDONLY, so it can be
 * flocked). */
nox_err_t nox__sandbox_workspace(const nox_live_sandbox_t *sb, int *fd_out,
                                 nox_status_t *st);

/* true when some process is running a command in sb (the workspace's
 * shared lock is held), or when that cannot be found out (fails safe);
 * false when the lock is free or there is no workspace. */
bool nox__sandbox_busy(const nox_live_sandbox_t *sb);

/* Fill info from sb (metadata must be valid). */
void nox__sandbox_info(const nox_live_sandbox_t *sb, nox_sandbox_info_t *info);

/* Make the locked sandbox (not a foreign one) vanish (rename to a
 * tombstone), kill its processes, remove the tree. Consumes sb: the lock
 * is held until the tree is gone, so the reaper, which skips locked
 * tombstones, never removes the files this delete still reads (holder
 * notes). A tree that cannot be emptied because something still writes
 * into it is left to the reaper (the sandbox is gone for callers at the
 * rename). */
nox_err_t nox__sandbox_destroy(nox_engine_t *e, nox_live_sandbox_t *sb,
                               nox_status_t *st);

#endif /* NOX_ENGINE_IMPL_H */
