/*
 * spawn.h - run one command with captured output, a timeout and a cap.
 *
 * The child is started with clone(CLONE_VM|CLONE_VFORK) and does only
 * async-signal-safe work before execve (the engine is used from
 * multi-threaded processes, where fork() is both unsafe and slow): reset
 * signal dispositions and mask, new session, PR_SET_PDEATHSIG, the
 * sandbox's cgroups, stdio dup2, fchdir, close every other fd, rlimits,
 * execve. With namespaces a first CLONE_VM|CLONE_VFORK child (the joiner)
 * enters a sandbox holder's namespaces and starts the command as the
 * engine's child (CLONE_PARENT), which also drops its privileges
 * (spawn_child.c says how and why), so the engine still reaps it with
 * wait4.
 */
#ifndef NOX_SPAWN_H
#define NOX_SPAWN_H

#include "nox/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    const char *const *argv;     /* NULL-terminated; argv[0] non-empty */
    const char *const *envp;     /* NULL-terminated: the whole environment */
    const char        *path_env; /* PATH for finding argv[0] without '/';
                                    NULL: "/usr/local/bin:/usr/bin:/bin" */
    int         cwd_fd;          /* directory to run in (host mode) */
    const void *stdin_data;      /* stdin_len 0: stdin is /dev/null */
    size_t      stdin_len;
    int64_t     timeout_ms; /* > 0 */
    size_t      output_cap; /* bytes kept per stream */
    /* Called in the parent once the child runs, with its pid (also its
     * process group id), so the caller can kill it from elsewhere; may be
     * NULL. */
    void (*on_start)(void *arg, pid_t pgid);
    void *on_start_arg;
    /* Kill the group once stdout or stderr passed this many bytes in all
     * (cause NOX_CAUSE_OUTPUT_LIMIT); 0: never. */
    uint64_t output_kill;
    /* Join these cgroups (n_cg cgroup.procs fds) before anything else,
     * so every process of the command is accounted there. */
    const int *cg_fds;
    size_t     n_cg;
    /* cgroup.procs fds the engine moves the command into once it has
     * exec'd (with namespaces, its memory group: see spawn_child.c). A
     * command that cannot be moved is killed, an error. */
    const int *cg_late_fds;
    size_t     n_cg_late;
    /* RLIMIT_FSIZE for the command; 0: inherited. */
    uint64_t fsize_limit;
    /* Namespaces: with isolate, ns_pidfd is a holder (holder.h) whose
     * namespaces the command joins; it then runs in cwd_path (a path inside,
     * like
     * "/workspace/sub"; cwd_fd is not used) with every capability dropped,
     * as nobody when drop_to_nobody, and argv[0] is looked up in
     * path_env inside the sandbox's view. join_net: also its network
     * namespace (false when the sandbox keeps the host's). */
    bool        isolate;
    int         ns_pidfd;
    bool        join_net;
    bool        drop_to_nobody;
    const char *cwd_rel;
} nox_spawn_opts_t;

/* Run the command and wait until it exits and its output pipes close, or
 * until the timeout, when its whole process group is killed with SIGKILL
 * (exit_code 124, timed_out, a line on stderr saying so). A command that
 * cannot be found gives exit_code 127 and "command not found: <name>" on
 * stderr; one that cannot be executed, 126. Output past output_cap is read
 * and counted but dropped (*_truncated). Background processes that keep
 * the pipes open are not waited for beyond a short grace once the command
 * itself has exited.
 * Returns NOX_OK with *res filled (release: nox_exec_result_free()), or
 * NOX_EINTERNAL/NOX_ERESOURCE when the command could not be started. */
nox_err_t nox__spawn_run(const nox_spawn_opts_t *o, nox_exec_result_t *res,
                         nox_status_t *st);

#endif /* NOX_SPAWN_H */
