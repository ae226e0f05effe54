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
 *   NOX_ENOENT   unknown or expired session; missing download source
 *   NOX_EDENIED  blocked command ("command not allowed: <name>")
 *   NOX_ERESOURCE  a result larger than the caller's limit; out of memory
 *   NOX_EINTERNAL  an unexpected system error (the message says which)
 * Out-parameters are written only on success.
 *
 * Thread safety: one nox_engine_t may be used from many threads at once;
 * all operations are safe to call concurrently, on the same sandbox or on
 * different ones. Commands run concurrently (no process-wide chdir).
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

typedef struct {
    const char *base_dir;   /* NULL: $NOXRUNNER_BASE_DIR, else "/tmp" */
    size_t      output_cap; /* bytes kept per stream; 0: 1 MiB */
    int         quiet;      /* <0: from $NOXRUNNER_QUIET; 0 warn; 1 silent */
} nox_engine_opts_t;

/* Open an engine on base_dir (created if missing, mode 0755 for /tmp-like
 * sharing is the caller's business; we create it 0700). Prints the
 * local-mode warning to stderr unless quiet. On success *out owns the engine
 * (release: nox_engine_close()). o may be NULL for all defaults. */
nox_err_t nox_engine_open(nox_engine_t **out, const nox_engine_opts_t *o,
                          nox_status_t *st);

/* Kill the commands this engine started and free it. Sandboxes stay on
 * disk. NULL is a no-op. No other call on e may be in progress. */
void nox_engine_close(nox_engine_t *e);

/* The resolved base directory; valid while e is open. */
const char *nox_engine_base_dir(const nox_engine_t *e);

typedef struct {
    char    session_id[NOX_SESSION_ID_MAX + 1];
    char    pod_name[NOX_SESSION_ID_MAX + 8]; /* "local-<session_id>" */
    int64_t expires_at;                       /* seconds since the epoch */
    char    path[NOX_SANDBOX_PATH_MAX];       /* sandbox directory */
} nox_sandbox_info_t;

typedef struct {
    const char *session_id;
    uint32_t    ttl_seconds;   /* 0: 900 */
    const char *image;         /* recorded only; NULL ok */
    const char *cpu_limit;     /* recorded only; NULL ok */
    const char *memory_limit;  /* recorded only; NULL ok */
    const char *storage_limit; /* recorded only; NULL ok */
} nox_create_req_t;

/* Create the sandbox, or refresh the TTL of an existing one (its files are
 * kept; *created is false then). An expired sandbox is replaced. */
nox_err_t nox_engine_create(nox_engine_t *e, const nox_create_req_t *r,
                            nox_sandbox_info_t *info, bool *created,
                            nox_status_t *st);

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

typedef struct {
    int       exit_code;   /* 124 timeout, 127 not found, 128+N signal N */
    int       term_signal; /* signal that ended the command, else 0 */
    bool      timed_out;
    nox_buf_t out; /* captured stdout, at most output_cap bytes */
    nox_buf_t err; /* captured stderr, at most output_cap bytes */
    bool      out_truncated;
    bool      err_truncated;
    uint64_t  out_total; /* bytes the command wrote, including dropped */
    uint64_t  err_total;
    int64_t   duration_ms; /* monotonic */
} nox_exec_result_t;

#define NOX_EXEC_RESULT_INIT                                                   \
    {                                                                          \
        0, 0, false, NOX_BUF_INIT, NOX_BUF_INIT, 0, 0, 0, 0, 0                 \
    }

/* Run a command in the sandbox and wait for it (or its timeout, which kills
 * its whole process group). Extends the TTL. A command that runs and fails
 * is NOX_OK with its exit code in *res; errors are for requests that could
 * not run at all. On success *res owns its buffers
 * (release: nox_exec_result_free()). */
nox_err_t nox_engine_exec(nox_engine_t *e, const nox_exec_req_t *r,
                          nox_exec_result_t *res, nox_status_t *st);

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
 * symlinks). An unknown session is NOX_OK with *deleted false. */
nox_err_t nox_engine_delete(nox_engine_t *e, const char *session_id,
                            bool *deleted, nox_status_t *st);

/* List the live (unexpired) sandboxes under base_dir, sorted by session
 * id. On success *out is a malloc'd array of *n entries (free() it; NULL
 * when *n is 0). */
nox_err_t nox_engine_list(nox_engine_t *e, nox_sandbox_info_t **out, size_t *n,
                          nox_status_t *st);

/* Delete every expired sandbox (unless a command is running in it), every
 * sandbox without valid metadata that has been idle for a default TTL,
 * and leftovers of interrupted creates and deletes. *reaped (may be NULL) gets
 * the number of sandboxes deleted. */
nox_err_t nox_engine_reap(nox_engine_t *e, size_t *reaped, nox_status_t *st);

/* nox_engine_reap, unless some engine on this base_dir ran a pass less
 * than interval_ms ago (the mtime of base_dir/.noxrunner_reaped, which
 * this updates). Lets short-lived processes (CLI runs) share the reaping
 * without each scanning the base directory. */
nox_err_t nox_engine_reap_due(nox_engine_t *e, int64_t interval_ms,
                              size_t *reaped, nox_status_t *st);

#endif /* NOX_ENGINE_H */
