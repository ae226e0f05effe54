/*
 * spawn.c - run one command, the parent's side: a state machine that the
 * caller's epoll loop (runner.c) drives with the events of the pipes and
 * the pidfd: stdin feeding, output capture and caps, timeout and
 * process-group kill. Starting the child (PATH lookup, the fds it gets,
 * the clone(CLONE_VM|CLONE_VFORK) child and why it is not fork()) is in
 * spawn_child.c; reaping and the exit record in spawn_result.c.
 */
#include "spawn_impl.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long output is still read after the command exited, for background
 * processes that inherited the pipes and may never close them. */
#define SPAWN_GRACE_MS 100
#define SPAWN_CHUNK (64 * 1024) /* one pipe buffer's worth per read */

/* The fds of a run, by nox__spawn_tag_t.which. */
enum { SPAWN_OUT, SPAWN_ERR, SPAWN_IN, SPAWN_PID, SPAWN_NFDS };

struct nox__spawn {
    int               fd[SPAWN_NFDS]; /* -1 once closed (pidfd: at finish) */
    bool              watched[SPAWN_NFDS]; /* in epfd now */
    nox__spawn_tag_t  tag[SPAWN_NFDS];
    int               epfd; /* -1 until nox__spawn_watch */
    pid_t             pid;
    const uint8_t    *in_p; /* stdin bytes not yet written */
    size_t            in_left;
    int64_t           start;     /* monotonic ms */
    int64_t           deadline;  /* monotonic ms: kill the group then */
    int64_t           grace_end; /* monotonic ms: stop reading then */
    bool              exited;    /* pidfd became readable */
    bool              output_killed;
    int               err; /* first failure (errno, -1: out of memory) */
    int64_t           timeout_ms;
    uint64_t          output_kill; /* 0: never */
    size_t            output_cap;
    nox_exec_result_t res;
};

/* ---- Parent: small helpers ---- */

/* Running out of processes, memory or fds is "resource exhausted"; any
 * other failure to start is internal. */
static nox_err_t
spawn_errno_code(int e)
{
    if (e == EAGAIN || e == ENOMEM || e == EMFILE || e == ENFILE)
        return NOX_ERESOURCE;
    return NOX_EINTERNAL;
}

/* Release the buffers of a result this module built (nox_exec_result_free
 * belongs to exec.c; spawn must not depend on it). */
static void
spawn_result_release(nox_exec_result_t *r)
{
    nox__buf_free(&r->out);
    nox__buf_free(&r->err);
}

/* Kill the whole group and reap the leader; used when the run must be
 * abandoned. The leader is not reaped before the kill, so its pid cannot
 * have been reused as somebody else's group id. */
static void
spawn_abandon(pid_t pid)
{
    int status;

    /* Cannot fail for our own unreaped child's group; nothing to do if it
     * did. */
    (void)kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* ---- Parent: the event loop ---- */

/* write() with SIGPIPE kept away from the process: the command may close
 * its stdin early, and the engine must not depend on its embedder ignoring
 * SIGPIPE. SIGPIPE from a pipe write is sent to the writing thread, so
 * blocking it here and taking it back with sigtimedwait is enough, unless
 * one was already pending (then it is not ours to take). */
static ssize_t
spawn_write_nosigpipe(int fd, const void *p, size_t n)
{
    sigset_t pipe_set, old, pending;
    ssize_t  w;
    int      e;

    (void)sigemptyset(&pipe_set);
    (void)sigaddset(&pipe_set, SIGPIPE);
    e = pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    if (e != 0) {
        errno = e;
        return -1;
    }
    bool was_pending =
        sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    w = write(fd, p, n);
    e = errno;
    if (w < 0 && e == EPIPE && !was_pending) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL); /* restoring: no fail */
    errno = e;
    return w;
}

/* Stop watching fd i of sp and close it. The fd leaves the epoll set
 * before it is closed: its number may be reused at once by another
 * thread's run, which a late EPOLL_CTL_DEL would then remove. */
static void
spawn_unwatch(nox__spawn_t *sp, int i, bool close_it)
{
    if (sp->watched[i])
        (void)epoll_ctl(sp->epfd, EPOLL_CTL_DEL, sp->fd[i], NULL); /* ours */
    sp->watched[i] = false;
    if (close_it) {
        nox__close(sp->fd[i]);
        sp->fd[i] = -1;
    }
}

/* Feed the next piece of stdin; close the pipe when all is written or the
 * command stopped reading (EPIPE). Returns 0 or an errno value. */
static int
spawn_feed_stdin(nox__spawn_t *sp)
{
    size_t  n = sp->in_left < SPAWN_CHUNK ? sp->in_left : SPAWN_CHUNK;
    ssize_t w = spawn_write_nosigpipe(sp->fd[SPAWN_IN], sp->in_p, n);

    if (w < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        if (errno != EPIPE)
            return errno;
        sp->in_left = 0;
    } else {
        sp->in_p += w;
        sp->in_left -= (size_t)w;
    }
    if (sp->in_left == 0)
        spawn_unwatch(sp, SPAWN_IN, true); /* EOF for the command */
    return 0;
}

/* Read one chunk from fd i into b, keeping at most the cap in b and
 * counting everything in *total. Closes the fd at EOF. Returns 0, an
 * errno value, or -1 when b could not grow. */
static int
spawn_drain(nox__spawn_t *sp, int i, nox_buf_t *b, uint64_t *total, bool *trunc)
{
    uint8_t  scratch[SPAWN_CHUNK]; /* where bytes past the cap go */
    size_t   cap = sp->output_cap;
    size_t   room = cap > b->len ? cap - b->len : 0;
    size_t   want = room < SPAWN_CHUNK ? room : SPAWN_CHUNK;
    uint8_t *dst = scratch;
    ssize_t  r;

    if (want > 0) {
        if (nox__buf_reserve(b, want) != NOX_OK)
            return -1;
        dst = b->data + b->len;
    } else {
        want = sizeof(scratch);
    }
    r = read(sp->fd[i], dst, want);
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : errno;
    if (r == 0) {
        spawn_unwatch(sp, i, true);
        return 0;
    }
    *total += (uint64_t)r;
    if (dst == scratch)
        *trunc = true;
    else
        b->len += (size_t)r;
    return 0;
}

void
nox__spawn_event(const nox__spawn_tag_t *tag, uint32_t ev)
{
    nox__spawn_t      *sp = tag->sp;
    nox_exec_result_t *res = &sp->res;
    const uint32_t     in_ev = EPOLLIN | EPOLLHUP | EPOLLERR;
    int                e = 0;

    if (sp->err != 0 || sp->fd[tag->which] < 0)
        return; /* the run is over, or an event of this round closed it */
    switch (tag->which) {
    case SPAWN_OUT:
        if (ev & in_ev)
            e = spawn_drain(sp, SPAWN_OUT, &res->out, &res->out_total,
                            &res->out_truncated);
        break;
    case SPAWN_ERR:
        if (ev & in_ev)
            e = spawn_drain(sp, SPAWN_ERR, &res->err, &res->err_total,
                            &res->err_truncated);
        break;
    case SPAWN_IN:
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            e = spawn_feed_stdin(sp);
        break;
    default:
        /* The pidfd stays readable: watch it no more, keep it to reap. */
        if ((ev & EPOLLIN) && !sp->exited) {
            sp->exited = true;
            sp->grace_end = nox__mono_ms() + SPAWN_GRACE_MS;
            spawn_unwatch(sp, SPAWN_PID, false);
        }
        break;
    }
    sp->err = e;
    /* A flood past the output limit is killed like a timeout: reading
     * and dropping gigabytes would keep the loop busy for nothing. */
    if (sp->output_kill != 0 && !sp->exited && !sp->output_killed &&
        !res->timed_out &&
        (res->out_total > sp->output_kill ||
         res->err_total > sp->output_kill)) {
        (void)kill(-sp->pid, SIGKILL); /* our unreaped child's group */
        sp->output_killed = true;
    }
}

bool
nox__spawn_tick(nox__spawn_t *sp, int64_t now, int64_t *next)
{
    nox_exec_result_t *res = &sp->res;

    if (sp->err != 0)
        return true;
    if (sp->exited) {
        /* After the grace, background processes hold the pipes: stop. */
        if (now >= sp->grace_end ||
            (sp->fd[SPAWN_OUT] < 0 && sp->fd[SPAWN_ERR] < 0))
            return true;
        *next = sp->grace_end;
        return false;
    }
    /* The caller handles a round's events before its ticks: a command
     * that exited just in time is not a timeout. */
    if (!res->timed_out && !sp->output_killed && now >= sp->deadline) {
        /* Our unreaped child's group: cannot fail. The pipes reach EOF
         * once every member is dead. */
        (void)kill(-sp->pid, SIGKILL);
        res->timed_out = true;
    }
    /* Killed: only the pidfd's event is awaited. */
    *next = res->timed_out || sp->output_killed ? INT64_MAX : sp->deadline;
    return false;
}

/* ---- Parent: the run ---- */

/* Start the child and handle failures before execve. *pid is > 0 when the
 * command is running; 0 when it could not be exec'd (res holds the 126/127
 * outcome). Returns NOX_OK or an error (status set). */
static nox_err_t
spawn_start(const nox_spawn_opts_t *o, const char *path, nox__spawn_fds_t *f,
            nox_exec_result_t *res, pid_t *pid, int *pidfd, nox_status_t *st)
{
    nox__spawn_fail_t fail;
    int               e;

    *pid = 0;
    e = nox__spawn_child_start(o, path, f, pid, pidfd, &fail);
    nox__spawn_fds_close_child_ends(f); /* the command has its copies */
    if (e != 0)
        return nox__status_errno(st, spawn_errno_code(e), e, "spawn: clone");
    if (fail.stage == NOX_SPAWN_STAGE_NONE)
        return NOX_OK;
    /* The child has _exit(127)ed: collect it (with namespaces, a joiner
     * that failed left no command to collect). */
    e = *pid > 0 ? nox__spawn_reap(*pid, res) : 0;
    *pid = 0;
    nox__close(*pidfd);
    *pidfd = -1;
    if (e != 0)
        return nox__status_errno(st, NOX_EINTERNAL, e, "spawn: wait4");
    if (fail.stage == NOX_SPAWN_STAGE_EXEC)
        return nox__spawn_not_run(res, o->argv[0], fail.err);
    if (fail.stage == NOX_SPAWN_STAGE_START)
        return nox__status_set(st, NOX_ETIMEDOUT,
                               "spawn: the command did not start within %lld "
                               "ms (a process in the sandbox stopped it "
                               "before its execve)",
                               (long long)o->timeout_ms);
    return nox__status_errno(st, spawn_errno_code(fail.err), fail.err,
                             "spawn: %s", nox__spawn_stage_name(fail.stage));
}

/* Move the started command into the groups it joins only after execve
 * (spawn.h). One that already exited (ESRCH) has nothing to account. */
static nox_err_t
spawn_join_late(const nox_spawn_opts_t *o, pid_t pid, nox_status_t *st)
{
    char num[24];
    int  n = snprintf(num, sizeof(num), "%ld", (long)pid);

    for (size_t i = 0; i < o->n_cg_late; i++) {
        if (write(o->cg_late_fds[i], num, (size_t)n) == n || errno == ESRCH)
            continue;
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "spawn: cannot move the command into its "
                                 "memory cgroup");
    }
    return NOX_OK;
}

static nox_err_t
spawn_check_opts(const nox_spawn_opts_t *o, nox_status_t *st)
{
    if (o == NULL || o->argv == NULL || o->argv[0] == NULL ||
        o->argv[0][0] == '\0')
        return nox__status_set(st, NOX_EINVAL, "spawn: empty command");
    if (o->envp == NULL)
        return nox__status_set(st, NOX_EINVAL, "spawn: no environment");
    if (o->timeout_ms <= 0)
        return nox__status_set(st, NOX_EINVAL, "spawn: timeout must be > 0");
    if (o->stdin_len > 0 && o->stdin_data == NULL)
        return nox__status_set(st, NOX_EINVAL, "spawn: stdin without data");
    return NOX_OK;
}

/* The run's state for a command that is running now. NULL when out of
 * memory. */
static nox__spawn_t *
spawn_new(const nox_spawn_opts_t *o, int64_t start)
{
    nox__spawn_t           *sp = calloc(1, sizeof(*sp));
    const nox_exec_result_t empty = NOX_EXEC_RESULT_INIT;

    if (sp == NULL)
        return NULL;
    for (int i = 0; i < SPAWN_NFDS; i++) {
        sp->fd[i] = -1;
        sp->tag[i] = (nox__spawn_tag_t){sp, i};
    }
    sp->epfd = -1;
    sp->in_p = o->stdin_data;
    sp->in_left = o->stdin_len;
    sp->start = start;
    /* Saturate: an absurd timeout must not overflow the clock. */
    sp->deadline =
        start +
        (o->timeout_ms < INT64_MAX - start ? o->timeout_ms : INT64_MAX - start);
    sp->timeout_ms = o->timeout_ms;
    sp->output_kill = o->output_kill;
    sp->output_cap = o->output_cap;
    sp->res = empty;
    return sp;
}

nox_err_t
nox__spawn_start(const nox_spawn_opts_t *o, nox__spawn_t **out,
                 nox_exec_result_t *res, nox_status_t *st)
{
    nox_exec_result_t r = NOX_EXEC_RESULT_INIT;
    char              path[PATH_MAX];
    nox__spawn_fds_t  f;
    nox__spawn_t     *sp;
    pid_t             pid;
    int               pidfd = -1, e;
    nox_err_t         rv;
    int64_t           start = nox__mono_ms();

    nox__status_clear(st);
    rv = spawn_check_opts(o, st);
    if (rv != NOX_OK)
        return rv;
    *out = NULL;
    /* With namespaces the command is looked up inside the sandbox's view,
     * by the child (spawn_child.c). */
    if (o->isolate)
        (void)snprintf(path, sizeof(path), "%s", o->argv[0]);
    else if (!nox__spawn_resolve(o, path)) {
        rv = nox__spawn_not_run(&r, o->argv[0], ENOENT);
        goto out_not_run;
    }
    /* Allocated first: once the command runs, only its own failures may
     * end it. */
    sp = spawn_new(o, start);
    if (sp == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "spawn: out of memory");
    e = nox__spawn_fds_open(o, &f);
    if (e != 0) {
        free(sp);
        return nox__status_errno(st, spawn_errno_code(e), e, "spawn: pipes");
    }
    rv = spawn_start(o, path, &f, &r, &pid, &pidfd, st);
    if (rv == NOX_OK && pid > 0) {
        rv = spawn_join_late(o, pid, st);
        if (rv != NOX_OK) {
            spawn_abandon(pid);
            nox__close(pidfd);
        }
    }
    if (rv != NOX_OK || pid == 0) {
        nox__spawn_fds_close_all(&f);
        free(sp);
        goto out_not_run;
    }
    sp->pid = pid;
    sp->fd[SPAWN_OUT] = f.out_r;
    sp->fd[SPAWN_ERR] = f.err_r;
    sp->fd[SPAWN_IN] = f.in_w;
    sp->fd[SPAWN_PID] = pidfd;
    *out = sp;
    return NOX_OK;

out_not_run:
    if (rv != NOX_OK) {
        if (st != NULL && st->code == NOX_OK)
            (void)nox__status_set(st, rv, "spawn: %s", nox_strerror(rv));
        spawn_result_release(&r);
        return rv;
    }
    r.duration_ms = nox__mono_ms() - start;
    *res = r;
    return NOX_OK;
}

int
nox__spawn_watch(nox__spawn_t *sp, int epfd)
{
    static const uint32_t want[SPAWN_NFDS] = {EPOLLIN, EPOLLIN, EPOLLOUT,
                                              EPOLLIN};

    sp->epfd = epfd;
    for (int i = 0; i < SPAWN_NFDS; i++) {
        struct epoll_event ev = {.events = want[i], .data.ptr = &sp->tag[i]};
        if (sp->fd[i] < 0)
            continue;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, sp->fd[i], &ev) != 0) {
            sp->err = errno; /* the next tick ends the run */
            return sp->err;
        }
        sp->watched[i] = true;
    }
    return 0;
}

pid_t
nox__spawn_pid(const nox__spawn_t *sp)
{
    return sp->pid;
}

/* Collect the command and complete sp->res. */
static nox_err_t
spawn_collect(nox__spawn_t *sp, nox_status_t *st)
{
    nox_exec_result_t *res = &sp->res;
    int                e;

    if (sp->err != 0 || !sp->exited) {
        /* Abandoned (a failure of ours, or stopped before it was ever
         * watched): the group is killed and the leader reaped. */
        spawn_abandon(sp->pid);
        if (sp->err < 0)
            return nox__status_set(st, NOX_ERESOURCE,
                                   "spawn: out of memory for output");
        return nox__status_errno(st, NOX_EINTERNAL,
                                 sp->err != 0 ? sp->err : ECANCELED,
                                 "spawn: event loop");
    }
    e = nox__spawn_reap(sp->pid, res);
    if (e != 0)
        return nox__status_errno(st, NOX_EINTERNAL, e, "spawn: wait4");
    if (sp->output_killed && !res->timed_out)
        res->cause = NOX_CAUSE_OUTPUT_LIMIT;
    if ((res->timed_out || res->cause == NOX_CAUSE_OUTPUT_LIMIT) &&
        nox__spawn_note_kill(res, sp->timeout_ms, sp->output_kill,
                             sp->output_cap) != NOX_OK)
        return nox__status_set(st, NOX_ERESOURCE, "spawn: out of memory");
    res->duration_ms = nox__mono_ms() - sp->start;
    return NOX_OK;
}

nox_err_t
nox__spawn_finish(nox__spawn_t *sp, nox_exec_result_t *res, nox_status_t *st)
{
    nox_err_t rv;

    nox__status_clear(st);
    for (int i = 0; i < SPAWN_NFDS; i++)
        if (i != SPAWN_PID)
            spawn_unwatch(sp, i, true);
    /* The pidfd is closed only after the reap: until then the pid cannot
     * be reused, so the group kill cannot hit a stranger. */
    spawn_unwatch(sp, SPAWN_PID, false);
    rv = spawn_collect(sp, st);
    nox__close(sp->fd[SPAWN_PID]);
    if (rv == NOX_OK)
        *res = sp->res;
    else
        spawn_result_release(&sp->res);
    free(sp);
    return rv;
}
