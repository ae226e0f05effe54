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

/* One started command, driven by its caller's epoll loop (runner.c):
 * its pipes and pidfd are registered in the caller's epoll set with
 * data.ptr pointing at a nox__spawn_tag_t; the caller hands each event to
 * nox__spawn_event and calls nox__spawn_tick when the time it returned
 * comes. Opaque; one thread at a time. */
typedef struct nox__spawn nox__spawn_t;

typedef struct {
    nox__spawn_t *sp;
    int           which; /* which of the command's fds (spawn.c) */
} nox__spawn_tag_t;

/* Start the command (not yet watched: nox__spawn_watch). The whole command
 * runs until it exits and its output pipes close, or until the timeout,
 * when its whole process group is killed with SIGKILL (exit_code 124,
 * timed_out, a line on stderr saying so). A command that cannot be found
 * gives exit_code 127 and "command not found: <name>" on stderr; one
 * that cannot be executed, 126. Output past output_cap is read and
 * counted but dropped (*_truncated). Background processes that keep the
 * pipes open are not waited for beyond a short grace once the command
 * itself has exited.
 * Returns NOX_OK with either *out a running command (o->stdin_data must
 * stay valid until nox__spawn_finish; nothing else of o is kept), or *out
 * NULL and *res the outcome of a command that never ran (release:
 * nox_exec_result_free()). NOX_EINTERNAL/NOX_ERESOURCE when the command
 * could not be started. */
nox_err_t nox__spawn_start(const nox_spawn_opts_t *o, nox__spawn_t **out,
                           nox_exec_result_t *res, nox_status_t *st);

/* Register the command's fds in epfd; events arrive from then on. 0 or an
 * errno value (then the next nox__spawn_tick ends the run, and
 * nox__spawn_finish kills the command and reports the error). */
int nox__spawn_watch(nox__spawn_t *sp, int epfd);

/* The command's process (and group) id. */
pid_t nox__spawn_pid(const nox__spawn_t *sp);

/* Handle the epoll events ev of the fd tagged tag. */
void nox__spawn_event(const nox__spawn_tag_t *tag, uint32_t ev);

/* Apply the deadline, the output limit and the grace after exit at the
 * monotonic time now (ms). Returns true when the run is over (call
 * nox__spawn_finish); else *next is when to tick again (INT64_MAX: only
 * after an event). */
bool nox__spawn_tick(nox__spawn_t *sp, int64_t now, int64_t *next);

/* End the run: unregister and close its fds, reap the command (killing
 * its group first if it has not exited) and fill *res (release:
 * nox_exec_result_free()). Frees sp. */
nox_err_t nox__spawn_finish(nox__spawn_t *sp, nox_exec_result_t *res,
                            nox_status_t *st);

#endif /* NOX_SPAWN_H */
