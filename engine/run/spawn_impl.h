/*
 * spawn_impl.h - what spawn.c and spawn_child.c share.
 * Private to engine/run/spawn*.c; the module's API is spawn.h.
 *
 * spawn_child.c starts the command: it finds the executable, prepares the
 * child's fds and runs the clone(CLONE_VM|CLONE_VFORK) child up to execve.
 * spawn.c is the parent's side: the state machine over the pipes and the
 * pidfd that the runner's event loop drives, output caps, the deadline and
 * the kill. spawn_result.c reaps and writes the exit record.
 */
#ifndef NOX_SPAWN_IMPL_H
#define NOX_SPAWN_IMPL_H

#include "spawn.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

/* Where the child gave up before execve succeeded. */
typedef enum {
    NOX_SPAWN_STAGE_NONE = 0,
    NOX_SPAWN_STAGE_SETSID,
    NOX_SPAWN_STAGE_PDEATHSIG,
    NOX_SPAWN_STAGE_DUP2,
    NOX_SPAWN_STAGE_FCHDIR,
    NOX_SPAWN_STAGE_SIGMASK,
    NOX_SPAWN_STAGE_EXEC,
    NOX_SPAWN_STAGE_CGROUP,
    NOX_SPAWN_STAGE_SETNS,
    NOX_SPAWN_STAGE_CLONE,
    NOX_SPAWN_STAGE_CHDIR,
    NOX_SPAWN_STAGE_RLIMIT,
    NOX_SPAWN_STAGE_PRIVS,
    NOX_SPAWN_STAGE_START,
} nox__spawn_stage_t;

/* What the child reported before it _exit(127)ed; stage is
 * NOX_SPAWN_STAGE_NONE when execve succeeded. */
typedef struct {
    nox__spawn_stage_t stage;
    int                err; /* errno at that stage */
} nox__spawn_fail_t;

/* Pipes and fds of one run; -1 when unused or closed. *_r/_w are the read
 * and write ends; the child gets in_r, out_w and err_w. */
typedef struct {
    int in_r, in_w, out_r, out_w, err_r, err_w;
} nox__spawn_fds_t;

/* ---- finding the executable (spawn_child.c) ---- */

/* Resolve o->argv[0] into out. A name with '/' is used as given (relative
 * to the command's working directory); otherwise o->path_env (NULL: the
 * default PATH) is searched like execvp, falling back to a non-executable
 * match so the caller can report 126. Returns false when the command does
 * not exist. */
bool nox__spawn_resolve(const nox_spawn_opts_t *o, char out[PATH_MAX]);

/* ---- the child's fds (spawn_child.c) ---- */

/* Open the child's stdin (a pipe, or /dev/null when o->stdin_len is 0) and
 * the stdout/stderr pipes: all O_CLOEXEC, the parent ends nonblocking, the
 * child ends >= 3. Returns 0 with *f filled, or an errno value with every
 * fd closed. */
int nox__spawn_fds_open(const nox_spawn_opts_t *o, nox__spawn_fds_t *f);

/* Close the child's ends (in_r, out_w, err_w) and set them to -1. */
void nox__spawn_fds_close_child_ends(nox__spawn_fds_t *f);

/* Close every fd still open in f and set it to -1. */
void nox__spawn_fds_close_all(nox__spawn_fds_t *f);

/* ---- starting the child (spawn_child.c) ---- */

/* Start the command at path (from nox__spawn_resolve) with the child ends
 * of f as its stdio. Returns 0 with *pid, *pidfd (the caller closes it) and
 * *fail set: the child is running the command when fail->stage is
 * NOX_SPAWN_STAGE_NONE, otherwise it has _exit(127)ed and must still be
 * reaped, unless *pid is 0 (with namespaces, the joining child failed
 * before the command's process existed). Returns an errno value when no
 * child was started (outputs untouched). f is not modified; the caller closes
 * the child ends. */
int nox__spawn_child_start(const nox_spawn_opts_t *o, const char *path,
                           const nox__spawn_fds_t *f, pid_t *pid, int *pidfd,
                           nox__spawn_fail_t *fail);

/* ---- the exit record (spawn_result.c) ---- */

/* Reap pid and fill the exit record of res: exit_code, term_signal, cause
 * (124 and NOX_CAUSE_TIMED_OUT when res->timed_out) and the rusage of the
 * command and the children it waited for. 0 or an errno value. */
int nox__spawn_reap(pid_t pid, nox_exec_result_t *res);

/* Say on res's stderr why we killed the command: its timeout, or its
 * output past output_kill (res->cause NOX_CAUSE_OUTPUT_LIMIT). The note
 * survives the output cap. NOX_OK or NOX_ERESOURCE. */
nox_err_t nox__spawn_note_kill(nox_exec_result_t *res, int64_t timeout_ms,
                               uint64_t output_kill, size_t output_cap);

/* A command that never ran, as a shell reports it: 127 and "command not
 * found: <name>" for ENOENT, else 126 and "cannot execute". */
nox_err_t nox__spawn_not_run(nox_exec_result_t *res, const char *name, int err);

/* The system call a nox__spawn_stage_t stands for, for messages; a static
 * string ("start" for NONE or an unknown value). */
const char *nox__spawn_stage_name(int stage);

#endif /* NOX_SPAWN_IMPL_H */
