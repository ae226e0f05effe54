/*
 * runner.h - the engine's running commands: their registry and the one
 * event thread that drives them all.
 *
 * A command is started by the calling thread (nox__runner_start returns
 * as soon as it runs) and from then on belongs to the runner's event
 * thread: an epoll loop over every command's pipes and pidfd, with the
 * nearest deadline as its timeout. It captures output, enforces timeouts
 * and the output limit, reaps the command and calls its done function,
 * exactly once, on the event thread. No thread of the caller ever waits
 * for a child, and the event thread sleeps while nothing happens.
 *
 * The registry is what DeleteSandbox and engine close kill: every
 * command from the moment its process exists until it is reaped.
 *
 * Thread safety: start and kill may be called from any thread at once;
 * close must be the last call.
 */
#ifndef NOX_RUNNER_H
#define NOX_RUNNER_H

#include "spawn.h"

#include <sys/types.h>

typedef struct nox__runner nox__runner_t;

/* Called on the event thread when the command has ended (rv NOX_OK: *res
 * holds its outcome, which done now owns; release:
 * nox_exec_result_free()), or when its run failed (rv and *st say how;
 * *res is empty). */
typedef void (*nox__runner_done_fn)(void *arg, nox_err_t rv,
                                    nox_exec_result_t  *res,
                                    const nox_status_t *st);

/* Called on the starting thread once the command is registered (so a
 * kill of its session reaches it), before its first event is handled. */
typedef void (*nox__runner_started_fn)(void *arg, pid_t pgid);

/* A runner without a thread yet: the event thread starts with the first
 * command. On success *out owns it (release: nox__runner_close()). */
nox_err_t nox__runner_open(nox__runner_t **out, nox_status_t *st);

/* Kill every command, wait until each done function has returned, stop
 * the thread and free r. NULL is a no-op. */
void nox__runner_close(nox__runner_t *r);

/* Start a command of session sid (nox__spawn_start). On NOX_OK done(arg)
 * will be called exactly once, also for a command that could not be
 * executed (127/126 outcomes), possibly before this has returned (from
 * the event thread); started (may be NULL) is called first, on this
 * thread, if a process was started. On an error,
 * neither is called. o->stdin_data must stay valid until done. */
nox_err_t nox__runner_start(nox__runner_t *r, const nox_spawn_opts_t *o,
                            const char *sid, nox__runner_started_fn started,
                            nox__runner_done_fn done, void *arg,
                            nox_status_t *st);

/* SIGKILL the process groups of the commands of session sid (NULL: of
 * all). Their done functions still run, with the outcome of the kill. */
void nox__runner_kill(nox__runner_t *r, const char *sid);

/* For shutdown: SIGKILL every command, and every one whose start is
 * under way or comes later (a start then fails with NOX_EUNAVAIL). */
void nox__runner_abort(nox__runner_t *r);

/* Commands started and not yet done (for tests and shutdown). */
size_t nox__runner_count(nox__runner_t *r);

#endif /* NOX_RUNNER_H */
