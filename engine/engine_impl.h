/*
 * engine_impl.h - the engine's private state and the sandbox lookup shared
 * by engine.c (lifecycle), exec.c and files.c.
 */
#ifndef NOX_ENGINE_IMPL_H
#define NOX_ENGINE_IMPL_H

#include "nox/engine.h"
#include "meta.h"
#include "warn.h"

#include <pthread.h>
#include <sys/types.h>

/* A command this engine is running, so DeleteSandbox can kill it. */
typedef struct {
    char  session_id[NOX_SESSION_ID_MAX + 1];
    pid_t pgid;
} nox_running_t;

struct nox_engine {
    char       base_dir[NOX_BASE_DIR_MAX + 1];
    int        base_fd; /* O_PATH directory fd of base_dir */
    size_t     output_cap;
    nox_warn_t warn;

    pthread_mutex_t lock; /* protects running, n_running, cap_running */
    nox_running_t  *running;
    size_t          n_running;
    size_t          cap_running;
};

/* A live sandbox opened for an operation. */
typedef struct {
    int        sb_fd; /* the sandbox directory (O_RDONLY, for flock) */
    nox_meta_t meta;
    char       name[sizeof(NOX_SANDBOX_PREFIX) + NOX_SESSION_ID_MAX];
    char       path[NOX_SANDBOX_PATH_MAX];
} nox_live_sandbox_t;

/* Open the live sandbox of session_id: NOX_EINVAL for a bad id,
 * NOX_ENOENT when missing or expired. With extend, its TTL is refreshed
 * (expires_at = now + ttl) under the sandbox lock. On success the caller
 * releases sb with nox__sandbox_close(). */
nox_err_t nox__sandbox_open(nox_engine_t *e, const char *session_id,
                            bool extend, nox_live_sandbox_t *sb,
                            nox_status_t *st);
void      nox__sandbox_close(nox_live_sandbox_t *sb);

/* Open the sandbox's workspace directory (O_PATH). */
nox_err_t nox__sandbox_workspace(const nox_live_sandbox_t *sb, int *fd_out,
                                 nox_status_t *st);

/* Registration of running commands (exec.c) for kills (engine.c). */
void nox__engine_kill_running(nox_engine_t *e, const char *session_id);

#endif /* NOX_ENGINE_IMPL_H */
