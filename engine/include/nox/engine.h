/*
 * nox/engine.h - the local sandbox engine: NoxRunner's local testing mode.
 *
 * A sandbox is the directory <base_dir>/noxrunner_sandbox_<session_id>/
 * holding workspace/ (what commands see as /workspace), tmp/ (their TMPDIR)
 * and a metadata file. The directory tree on disk is the source of truth:
 * several engines (processes) may share one base_dir; every operation reads
 * the sandbox's metadata afresh, creation is atomic (build under a temporary
 * name, then rename) and metadata updates take a per-sandbox flock.
 *
 * Errors: every function returns NOX_OK or a nox_err_t and, when st is not
 * NULL, fills st with the code and a message fit for the caller:
 *   NOX_EINVAL   bad session id, path, archive, env name or empty argv
 *   NOX_ENOENT   unknown or expired session (also one deleted by a
 *                concurrent call during this one); missing download source
 *   NOX_EPRECOND the id's name is taken by a directory not made by
 *                noxrunner (no metadata file; README): "a directory not
 *                made by noxrunner is in the way: <path>"; such a
 *                directory is never reaped, deleted, repaired, listed or
 *                written into
 *   NOX_EDENIED  blocked command ("command not allowed: <name>")
 *   NOX_ERESOURCE  a result larger than the caller's limit; out of memory
 *   NOX_EUNAVAIL   the sandbox's lock was held for 30 s (at isolation
 *                none a command can hold it), or the engine is aborted
 *   NOX_EINTERNAL  an unexpected system error (the message says which)
 * Out-parameters are written only on success.
 *
 * An engine belongs to the process that opened it: a forked child must
 * open its own (an Exec through an inherited one fails with NOX_EPRECOND,
 * as the engine's command thread did not survive the fork).
 *
 * Thread safety: one nox_engine_t may be used from many threads at once;
 * all operations are safe to call concurrently, on the same sandbox or on
 * different ones. Commands run concurrently (no process-wide chdir). The
 * engine waits for all its running commands on one thread of its own
 * (started with the first command), which also calls the done functions
 * of nox_engine_exec_start.
 * Concurrent calls on one id, from any threads or processes, end as one
 * of: create -> created or existed; delete -> deleted or nothing deleted;
 * exec, upload, download, touch -> done or NOX_ENOENT.
 */
#ifndef NOX_ENGINE_H
#define NOX_ENGINE_H

#include "nox/error.h"
#include "nox_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOX_SESSION_ID_MAX 128
#define NOX_BASE_DIR_MAX 800 /* leaves room for sandbox and file names */
#define NOX_SANDBOX_PATH_MAX 1024
#define NOX_DEFAULT_TTL_SECONDS 900
#define NOX_DEFAULT_TIMEOUT_MS 30000
#define NOX_DEFAULT_OUTPUT_CAP (1024 * 1024)
#define NOX_DEFAULT_OUTPUT_KILL (64ULL * 1024 * 1024)
#define NOX_SANDBOX_PREFIX "noxrunner_sandbox_"

typedef struct nox_engine nox_engine_t; /* opaque; layout in engine.c */

/* Archive formats of UploadFiles/DownloadFiles; the values are those of
 * the proto's ArchiveFormat. gzip tar is NoxRunner's default; plain tar
 * and zstd tar spare local transports the cost of deflate. */
typedef enum {
    NOX_TAR_GZ = 0,
    NOX_TAR_PLAIN = 1,
    NOX_TAR_ZSTD = 2,
} nox_tar_format_t;

#define NOX_TAR_FORMAT_VALID(f) ((unsigned)(f) <= NOX_TAR_ZSTD)

/* How commands are isolated from the host (README "Security model").
 * NAMESPACES: each sandbox has its own user, mount, pid, network, ipc, uts
 * and cgroup namespaces; commands see /workspace, a read-only host /usr
 * and /etc, and nothing else of the host. NONE: commands are ordinary
 * host processes with the engine's rights (trusted code only). AUTO:
 * NAMESPACES when this kernel and user allow it, else NONE with the
 * reason in nox_engine_isolation()'s detail. */
typedef enum {
    NOX_ISOLATION_AUTO = 0,
    NOX_ISOLATION_NAMESPACES = 1,
    NOX_ISOLATION_NONE = 2,
} nox_isolation_t;

/* "auto", "namespaces" or "none". */
const char *nox_isolation_name(nox_isolation_t level);

/* Parse one of those names; NOX_EINVAL for anything else. */
nox_err_t nox_isolation_parse(const char *s, nox_isolation_t *out,
                              nox_status_t *st);

typedef struct {
    const char     *base_dir;   /* NULL: $NOXRUNNER_BASE_DIR, else "/tmp" */
    size_t          output_cap; /* bytes kept per stream; 0: 1 MiB */
    int             quiet;     /* <0: from $NOXRUNNER_QUIET; 0 warn; 1 silent */
    nox_isolation_t isolation; /* AUTO: $NOXRUNNER_ISOLATION if set */
    /* A command whose stdout or stderr passes this many bytes in all is
     * killed (cause NOX_CAUSE_OUTPUT_LIMIT); 0: 64 MiB. */
    uint64_t output_kill;
} nox_engine_opts_t;

/* Open an engine on base_dir (created if missing, mode 0755 for /tmp-like
 * sharing is the caller's business; we create it 0700). Prints the
 * local-mode warning to stderr unless quiet. On success *out owns the engine
 * (release: nox_engine_close()). o may be NULL for all defaults. */
nox_err_t nox_engine_open(nox_engine_t **out, const nox_engine_opts_t *o,
                          nox_status_t *st);

/* Kill the commands this engine started, wait for their done functions
 * and free it. Sandboxes stay on disk. NULL is a no-op. No other call on
 * e may be in progress. */
void nox_engine_close(nox_engine_t *e);

/* The resolved base directory; valid while e is open. */
const char *nox_engine_base_dir(const nox_engine_t *e);

/* The level in force (NAMESPACES or NONE) and, via *detail (may be NULL),
 * why it is not higher ("" at NAMESPACES); valid while e is open. */
nox_isolation_t nox_engine_isolation(const nox_engine_t *e,
                                     const char        **detail);

typedef struct {
    char    session_id[NOX_SESSION_ID_MAX + 1];
    char    pod_name[NOX_SESSION_ID_MAX + 8]; /* "local-<session_id>" */
    int64_t expires_at;                       /* seconds since the epoch */
    char    path[NOX_SANDBOX_PATH_MAX];       /* sandbox directory */
} nox_sandbox_info_t;

typedef struct {
    const char *session_id;
    uint32_t    ttl_seconds; /* 0: 900 */
    const char *image;       /* recorded, reported as not used; NULL ok */
    /* Kubernetes quantities ("500m", "512Mi"); NULL or "": none. Applied
     * with cgroups and rlimits where possible, reported either way. */
    const char *cpu_limit;
    const char *memory_limit;
    const char *storage_limit;
    uint64_t    pids_limit;    /* 0: none */
    bool        allow_network; /* namespaces: keep the host's network */
} nox_create_req_t;

/* What became of one limit CreateSandbox was asked for. */
typedef struct {
    const char *name;      /* "cpu_limit", "memory_limit", ..., "image" */
    char        value[64]; /* as requested */
    bool        applied;
    char        detail[192]; /* how it is enforced, or why it is not */
} nox_limit_status_t;

#define NOX_LIMITS_MAX 5 /* four limits and the image */

typedef struct {
    nox_isolation_t    isolation; /* the sandbox's: NAMESPACES or NONE */
    size_t             n_limits;  /* one per limit requested */
    nox_limit_status_t limits[NOX_LIMITS_MAX];
} nox_create_report_t;

/* Create the sandbox, or refresh the TTL of an existing one (its files are
 * kept; *created is false then). An expired sandbox is replaced; one with
 * damaged metadata is repaired; NOX_EPRECOND when a directory not made by
 * noxrunner has the name. Limits
 * are (re)applied either way and reported in *rep (may be NULL); a limit
 * in bad syntax is NOX_EINVAL. A sandbox keeps the isolation level it was
 * created with. */
nox_err_t nox_engine_create(nox_engine_t *e, const nox_create_req_t *r,
                            nox_sandbox_info_t *info, bool *created,
                            nox_create_report_t *rep, nox_status_t *st);

/* Extend the TTL: expires_at = now + ttl. */
nox_err_t nox_engine_touch(nox_engine_t *e, const char *session_id,
                           int64_t *expires_at, nox_status_t *st);

typedef struct {
    const char *name; /* non-empty, no '=' */
    const char *value;
} nox_env_pair_t;

typedef struct {
    const char           *session_id;
    const char *const    *argv;    /* argc entries; argv[0] is the command */
    size_t                argc;    /* 0: NOX_EINVAL */
    const char           *workdir; /* NULL or "": /workspace */
    const nox_env_pair_t *env;     /* added to the clean base environment */
    size_t                env_len;
    int64_t               timeout_ms; /* <= 0: 30 s */
    const void           *stdin_data; /* NULL or stdin_len 0: /dev/null */
    size_t                stdin_len;
} nox_exec_req_t;

/* Why a command ended; values are the proto's ExecCause. */
typedef enum {
    NOX_CAUSE_UNSPECIFIED = 0,
    NOX_CAUSE_EXITED = 1,       /* exit_code is its status */
    NOX_CAUSE_SIGNALED = 2,     /* term_signal killed it */
    NOX_CAUSE_TIMED_OUT = 3,    /* killed at its timeout */
    NOX_CAUSE_OOM_KILLED = 4,   /* killed by the sandbox's memory limit */
    NOX_CAUSE_OUTPUT_LIMIT = 5, /* killed for writing past output_kill */
    NOX_CAUSE_BLOCKED = 6,      /* refused by the blocklist (clients only:
                                   the engine returns NOX_EDENIED) */
    NOX_CAUSE_NOT_STARTED = 7,  /* not found (127) or not executable
                                   (126) */
} nox_exec_cause_t;

typedef struct {
    int              exit_code; /* 124 timeout, 127 not found, 128+N signal N */
    int              term_signal; /* signal that ended the command, else 0 */
    bool             timed_out;
    nox_buf_t        out; /* captured stdout, at most output_cap bytes */
    nox_buf_t        err; /* captured stderr, at most output_cap bytes */
    bool             out_truncated;
    bool             err_truncated;
    uint64_t         out_total; /* bytes the command wrote, including dropped */
    uint64_t         err_total;
    int64_t          duration_ms; /* monotonic */
    nox_exec_cause_t cause;
    int64_t          cpu_user_ms;   /* of the command and its waited-for */
    int64_t          cpu_system_ms; /* children, from wait4 */
    int64_t          max_rss_kb;
} nox_exec_result_t;

#define NOX_EXEC_RESULT_INIT                                                   \
    {                                                                          \
        0, 0, false, NOX_BUF_INIT, NOX_BUF_INIT, 0, 0, 0, 0, 0,                \
            NOX_CAUSE_UNSPECIFIED, 0, 0, 0                                     \
    }

/* Run a command in the sandbox and wait for it (or its timeout, which kills
 * its whole process group). Extends the TTL. A command that runs and fails
 * is NOX_OK with its exit code in *res; errors are for requests that could
 * not run at all. On success *res owns its buffers
 * (release: nox_exec_result_free()). */
nox_err_t nox_engine_exec(nox_engine_t *e, const nox_exec_req_t *r,
                          nox_exec_result_t *res, nox_status_t *st);

/* How an Exec started with nox_engine_exec_start ended: as
 * nox_engine_exec's return value, *res and *st. On NOX_OK the function
 * owns *res's buffers (release: nox_exec_result_free()); otherwise *res is
 * empty and *st says what went wrong. Called on the engine's command
 * thread: it must not block for long (every running command waits), and
 * must not call nox_engine_exec or nox_engine_close. */
typedef void (*nox_exec_done_fn)(void *arg, nox_err_t rv,
                                 nox_exec_result_t  *res,
                                 const nox_status_t *st);

/* Start a command like nox_engine_exec and return as soon as it runs.
 * Requests that cannot run at all fail here (done is not called then);
 * on NOX_OK done(arg, ...) is called exactly once from the engine's
 * command thread, which waits for all commands at once. A short command
 * can end, and done run, while this call is still returning: have
 * everything done needs ready before the call, and do not touch what
 * done frees after it. r is not kept except r->stdin_data, which must stay
 * valid until done is called. The command is killed if the calling thread
 * ends first (its parent-death signal follows the thread that started
 * it): start commands from threads that outlive them, as the server's
 * workers do. */
nox_err_t nox_engine_exec_start(nox_engine_t *e, const nox_exec_req_t *r,
                                nox_exec_done_fn done, void *arg,
                                nox_status_t *st);

/* SIGKILL every command this engine runs (their done functions still
 * run, with the outcome of the kill). */
void nox_engine_kill_all(nox_engine_t *e);

/* For shutdown: SIGKILL every command (as nox_engine_kill_all), also one
 * whose start is under way, and make every call waiting for a sandbox's
 * lock, and every Exec, now or later, give up at once with NOX_EUNAVAIL.
 * Cannot be undone; close the engine next. */
void nox_engine_abort(nox_engine_t *e);

/* The number of commands started and not yet done. */
size_t nox_engine_running(nox_engine_t *e);

/* Release the buffers of r; r becomes empty. NULL is a no-op. */
void nox_exec_result_free(nox_exec_result_t *r);

/* Extract a tar archive of the given format into dest (NULL or "":
 * /workspace). The whole archive is checked before anything is written. */
nox_err_t nox_engine_upload(nox_engine_t *e, const char *session_id,
                            const char *dest, nox_tar_format_t format,
                            const void *data, size_t len,
                            uint64_t *files_written, nox_status_t *st);

/* Pack src (NULL or "": /workspace; a directory or a file) as a tar
 * archive of the given format. NOX_ERESOURCE when the archive would exceed
 * max_bytes (0: no limit). On success *out holds the archive (release:
 * nox__buf_free()). */
nox_err_t nox_engine_download(nox_engine_t *e, const char *session_id,
                              const char *src, nox_tar_format_t format,
                              size_t max_bytes, nox_buf_t *out,
                              nox_status_t *st);

/* Kill the sandbox's processes and remove its directory (never following
 * symlinks; a tree of any depth). An unknown session is NOX_OK with
 * *deleted false; a directory not made by noxrunner is NOX_EPRECOND and
 * stays. A running command it kills ends SIGNALED (SIGKILL) for its Exec;
 * an Exec whose command the delete beat to its start is NOX_ENOENT
 * "sandbox not found: <id> (deleted meanwhile)". */
nox_err_t nox_engine_delete(nox_engine_t *e, const char *session_id,
                            bool *deleted, nox_status_t *st);

/* List the live (unexpired) sandboxes under base_dir, sorted by session
 * id; directories not made by noxrunner are not listed. On success *out is a
 * malloc'd array of *n entries (free() it; NULL when *n is 0). */
nox_err_t nox_engine_list(nox_engine_t *e, nox_sandbox_info_t **out, size_t *n,
                          nox_status_t *st);

/* Delete every expired sandbox (unless a command is running in it), every
 * sandbox with damaged metadata that has been idle for a default TTL,
 * and leftovers of interrupted creates and deletes; never a directory not
 * made by noxrunner. Never waits for a lock: a sandbox or leftover whose
 * lock is held is skipped until a later pass. *reaped (may be NULL) gets
 * the number of sandboxes deleted. */
nox_err_t nox_engine_reap(nox_engine_t *e, size_t *reaped, nox_status_t *st);

/* nox_engine_reap, unless some engine on this base_dir ran a pass less
 * than interval_ms ago (the mtime of base_dir/.noxrunner_reaped, which
 * this updates). Lets short-lived processes (CLI runs) share the reaping
 * without each scanning the base directory. */
nox_err_t nox_engine_reap_due(nox_engine_t *e, int64_t interval_ms,
                              size_t *reaped, nox_status_t *st);

#endif /* NOX_ENGINE_H */
