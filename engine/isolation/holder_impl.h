/*
 * holder_impl.h - what holder.c (the engine's side) and holder_child.c
 * (the holder itself) share. Private to engine/isolation/holder*.c; the
 * module's API is holder.h.
 *
 * Start-up: the engine clones the holder with the new namespaces
 * (holder.c); the holder makes itself dumpable if it has to and says so;
 * the engine writes its uid and gid maps (only a process outside the new
 * user namespace may map ids other than its own) and releases it with one
 * byte on the control pipe; the holder builds everything of the view that
 * does not depend on the sandbox (the tmpfs root on the engine's root
 * directory, the read-only host directories, /dev, /proc, loopback) and
 * reports; a spare waits here. The engine then sends the plan (the
 * sandbox's workspace and tmp); the holder binds them, pivots into the
 * new root, drops the host's mounts and reports again. A report is the
 * step that failed and its errno, or step 0.
 */
#ifndef NOX_HOLDER_IMPL_H
#define NOX_HOLDER_IMPL_H

#include "holder.h"

#include <stdbool.h>

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

#define HOLDER_HOSTNAME "noxrunner"
#define HOLDER_SHM_SIZE "64m" /* /dev/shm: RAM, so bounded */
/* fds the holder keeps, moved to these numbers before the rest close. */
#define HOLDER_FD_SYNC 3
#define HOLDER_FD_STATUS 4
#define HOLDER_FD_LIFELINE 5

/* Host directories shown read-only (holder_child.c). Debian 12 has a
 * merged /usr, where /bin, /sbin and /lib* are symlinks into /usr: they
 * are recreated as the same symlinks. Missing ones are skipped. */
#define HOLDER_N_RO 8
extern const char *const nox__holder_ro_dirs[HOLDER_N_RO];

/* Steps the holder reports a failure at; names in holder.c. */
typedef enum {
    HOLDER_OK = 0,
    HOLDER_SYNC,
    HOLDER_SESSION,
    HOLDER_PRIVATE,
    HOLDER_ROOT_TMPFS,
    HOLDER_ROOT_CHDIR,
    HOLDER_RO_BIND,
    HOLDER_RO_ATTR,
    HOLDER_SYMLINK,
    HOLDER_WORKSPACE,
    HOLDER_TMP,
    HOLDER_DEV,
    HOLDER_PROC,
    HOLDER_PROC_RO,
    HOLDER_NS_LIMITS,
    HOLDER_HOSTNAME_STEP,
    HOLDER_LOOPBACK,
    HOLDER_PIVOT,
    HOLDER_ROOT_RO,
    HOLDER_SIGNALFD,
    HOLDER_STEP_COUNT
} holder_step_t;

#define HOLDER_LINK_MAX 256
#define HOLDER_PATH_MAX (NOX_HOLDER_PATH_MAX + 16)

/* The sandbox, sent by the engine through the control pipe once the
 * holder has one (a spare holder waits for it). */
typedef struct {
    char workspace[HOLDER_PATH_MAX];
    char tmp[HOLDER_PATH_MAX];
} holder_plan_t;

/* What the clone copies into the holder: the fds it keeps and the part of
 * the view every sandbox shares. */
typedef struct {
    int  ctl_fd, status_fd, lifeline_fd;
    bool new_net;
    bool make_dumpable;         /* the engine is not dumpable */
    char root[HOLDER_PATH_MAX]; /* where the tmpfs root is mounted */
    /* The engine's argv and environment strings (from /proc/self/stat),
     * which the holder's copy wipes: /proc/1/cmdline is world-readable.
     * 0, 0 when unknown. */
    unsigned long args_start, args_end, env_start, env_end;
    char          ro_kind[HOLDER_N_RO]; /* 'd' bind, 'l' symlink, 0 skip */
    char          ro_link[HOLDER_N_RO][HOLDER_LINK_MAX];
} holder_boot_t;

/* The holder's one report on the status pipe. */
typedef struct {
    int step;
    int err;
} holder_report_t;

/* The holder's main, run by clone() on its own stack with every signal
 * blocked (arg: a holder_boot_t). Never returns. */
int nox__holder_main(void *arg);

#endif /* NOX_HOLDER_IMPL_H */
