/*
 * isolation.h - the engine's isolation level and its sandboxes' holders.
 *
 * At open the engine settles its level: "none" when asked for, else it
 * starts a holder (holder.h) for a throwaway sandbox under base_dir to see
 * whether this kernel, user and security policy allow the namespaces and
 * mounts. An explicit "namespaces" that fails is an open error; "auto"
 * falls back to none and keeps the reason (nox_engine_isolation).
 *
 * Each engine keeps one holder per namespaced sandbox it has run commands
 * in, started on first use (CreateSandbox, or the first Exec after a
 * restart) and stopped by delete, expiry and close. Holders of other
 * processes on the same base_dir are found through the files
 * .noxrunner_holder.<pid>.<pidns inode> each engine leaves in the sandbox
 * directory, so a delete from any process ends every one of them.
 */
#ifndef NOX_ISOLATION_H
#define NOX_ISOLATION_H

#include "nox/engine.h"

#include "holder.h"

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#define NOX_HOLDER_FILE_PREFIX ".noxrunner_holder."
#define NOX_ROOT_DIR ".noxrunner_root" /* under base_dir: holders' root */

typedef struct {
    char         sid[NOX_SESSION_ID_MAX + 1];
    dev_t        dev; /* the sandbox directory the holder shows */
    ino_t        ino;
    nox_holder_t h;
} nox_holder_entry_t;

typedef struct {
    nox_isolation_t     level; /* NAMESPACES or NONE */
    char                detail[NOX_MSG_MAX];
    char                root[NOX_BASE_DIR_MAX + 32]; /* NOX_ROOT_DIR */
    int                 lifeline[2]; /* holders watch [0]; we keep [1] */
    pthread_mutex_t     lock;        /* protects the table and the spare */
    nox_holder_entry_t *holders;
    size_t              n, cap;
    /* One spare holder, kept by a filler thread (isolation.c). */
    nox_holder_t   spare;
    pthread_cond_t cond; /* the spare was taken, or stop */
    pthread_t      filler;
    bool           filler_on, stopping;
    unsigned       started; /* namespaced holders started so far */
    nox_holder_t   probe;   /* the open-time probe's, killed, unreaped */
} nox_iso_t;

struct nox_engine;

/* Settle the level (see above). requested AUTO reads $NOXRUNNER_ISOLATION
 * first. Prints nothing; the caller warns. */
nox_err_t nox__iso_init(struct nox_engine *e, nox_isolation_t requested,
                        nox_status_t *st);

/* Stop every holder and release the table. */
void nox__iso_fini(struct nox_engine *e);

/* A dup (O_CLOEXEC) of the pidfd of the sandbox's live holder, starting
 * one when there is none, it died, or it shows an older directory of the
 * same name. sb_fd identifies the directory; sb_path is its path. */
nox_err_t nox__iso_holder_pidfd(struct nox_engine *e, const char *sid,
                                int sb_fd, const char *sb_path, bool host_net,
                                int *pidfd, nox_status_t *st);

/* Stop this engine's holder of sid, if any, and kill the holders other
 * processes recorded in the sandbox directory (now at dir_path). */
void nox__iso_kill_sandbox(struct nox_engine *e, const char *sid,
                           const char *dir_path);

#endif /* NOX_ISOLATION_H */
