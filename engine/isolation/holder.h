/*
 * holder.h - the namespace holder of a sandbox.
 *
 * At the namespaces isolation level every sandbox has one long-lived
 * holder process per engine process. It is created with fresh user, mount,
 * pid, network (unless the sandbox allows the host network), ipc, uts and
 * cgroup namespaces, builds the view commands see once (a read-only host
 * /usr, /bin, /lib*, /etc; the sandbox's workspace at /workspace and its
 * tmp at /tmp; a minimal /dev; its own /proc with /proc/sys read-only;
 * loopback up) and then stays as pid 1 of the sandbox, reaping orphans.
 * Each Exec joins its namespaces with one setns() on the holder's pidfd
 * (spawn_child.c), which costs far less than building namespaces per
 * command. Killing the holder kills every process of the sandbox (the
 * kernel kills a pid namespace with its init), which is how delete and
 * expiry end a sandbox's processes.
 *
 * The holder is a copy of the engine's process that never returns to the
 * engine's code: it only makes async-signal-safe system calls (the engine
 * is multi-threaded), on strings the engine prepared before the clone. It
 * exits when the engine's process does: it holds the read end of the
 * engine's lifeline pipe and sees it hang up.
 *
 * User ids: as root the user namespace maps 0 to 0 (the holder needs root's
 * access to reach the sandbox directory) and 65534 to 65534; commands run
 * as 65534 (nobody), with no capabilities. Rootless, the only id we may
 * map is our own: it becomes 0 inside, and commands run as that 0 with
 * every capability dropped and no way to regain one.
 */
#ifndef NOX_HOLDER_H
#define NOX_HOLDER_H

#include "nox_common.h"

#include <stdbool.h>
#include <sys/types.h>

#define NOX_SANDBOX_UID 65534 /* as root: commands run as nobody */
#define NOX_SANDBOX_GID 65534

typedef struct {
    const char *root;        /* an empty directory of the engine's, where
                                each holder mounts its tmpfs root in its
                                own mount namespace */
    const char *sb_path;     /* sandbox directory: workspace/, tmp/ */
    bool        host_net;    /* true: keep the host's network namespace */
    int         lifeline_fd; /* read end: the holder exits when it hangs
                                up */
} nox_holder_cfg_t;

typedef struct {
    pid_t pid;       /* in the engine's pid namespace */
    int   pidfd;     /* O_CLOEXEC; what Exec setns()es into */
    int   ctl_fd;    /* until assigned: where its view's plan goes */
    int   status_fd; /* until assigned: its report */
} nox_holder_t;

#define NOX_HOLDER_INIT                                                        \
    {                                                                          \
        0, -1, -1, -1                                                          \
    }
#define NOX_HOLDER_PATH_MAX 1100 /* a sandbox path plus "/workspace" */

/* Start a holder for the sandbox at c->sb_path and wait until its view is
 * built: nox__holder_spawn, then nox__holder_assign. Errors name the step
 * that failed (e.g. "namespaces: mount proc on /proc: Operation not
 * permitted"); nothing is left running then. NOX_EPRECOND when the kernel
 * refused namespaces or mounts, NOX_ERESOURCE when out of processes or
 * memory. */
nox_err_t nox__holder_start(const nox_holder_cfg_t *c, nox_holder_t *h,
                            nox_status_t *st);

/* The first half: a holder with its namespaces made, ids mapped and the
 * part of the view every sandbox shares built on root, waiting for its
 * sandbox (a spare: see isolation.c). */
nox_err_t nox__holder_spawn(const char *root, bool host_net, int lifeline_fd,
                            nox_holder_t *h, nox_status_t *st);

/* The second half: bind workspace and tmp (host directories) on
 * /workspace and /tmp, enter the new root and drop the host's mounts;
 * wait until done. On failure the holder is stopped. */
nox_err_t nox__holder_assign(nox_holder_t *h, const char *workspace,
                             const char *tmp, nox_status_t *st);

/* The workspace and tmp paths of the sandbox directory sb_path (each
 * buffer NOX_HOLDER_PATH_MAX bytes). */
nox_err_t nox__holder_sandbox_paths(const char *sb_path, char *ws, char *tmp,
                                    nox_status_t *st);

/* true while the holder runs (its pidfd is not readable yet). */
bool nox__holder_alive(const nox_holder_t *h);

/* Kill the holder (and with it every process of its pid namespace), reap
 * it and close its fds; h becomes NOX_HOLDER_INIT, and stopping that is a
 * no-op. */
void nox__holder_stop(nox_holder_t *h);

/* The ids commands run as inside the sandbox, and whether the engine must
 * switch to them (root) or not (rootless: commands keep the engine's id,
 * which is 0 inside). */
bool nox__holder_drops_to_nobody(void);

#endif /* NOX_HOLDER_H */
