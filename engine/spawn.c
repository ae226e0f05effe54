/*
 * spawn.c - run one command, the parent's side: poll over the pipes and
 * the pidfd, stdin feeding, output capture and caps, timeout and
 * process-group kill, reaping, the result. Starting the child (PATH
 * lookup, the fds it gets, the clone(CLONE_VM|CLONE_VFORK) child and why
 * it is not fork()) is in spawn_child.c.
 */
#include "spawn_impl.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long output is still read after the command exited, for background
 * processes that inherited the pipes and may never close them. */
#define SPAWN_GRACE_MS 100
#define SPAWN_CHUNK (64 * 1024) /* one pipe buffer's worth per read */

/* State of the parent's event loop. */
typedef struct {
    int            out_fd, err_fd, in_fd, pidfd;
    const uint8_t *in_p; /* stdin bytes not yet written */
    size_t         in_left;
    int64_t        deadline;    /* monotonic ms: kill the group then */
    int64_t        grace_end;   /* monotonic ms: stop reading then */
    bool           exited;      /* pidfd became readable */
    uint64_t       output_kill; /* 0: never */
    bool           output_killed;
} spawn_loop_t;

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
 * belongs to engine.c; spawn must not depend on it). */
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

/* Feed the next piece of stdin; close the pipe when all is written or the
 * command stopped reading (EPIPE). Returns 0 or an errno value. */
static int
spawn_feed_stdin(spawn_loop_t *l)
{
    size_t  n = l->in_left < SPAWN_CHUNK ? l->in_left : SPAWN_CHUNK;
    ssize_t w = spawn_write_nosigpipe(l->in_fd, l->in_p, n);

    if (w < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        if (errno != EPIPE)
            return errno;
        l->in_left = 0;
    } else {
        l->in_p += w;
        l->in_left -= (size_t)w;
    }
    if (l->in_left == 0) {
        nox__close(l->in_fd); /* EOF for the command */
        l->in_fd = -1;
    }
    return 0;
}

/* Read one chunk from *fd into b, keeping at most cap bytes in b and
 * counting everything in *total. Closes *fd at EOF. Returns 0, an errno
 * value, or -1 when b could not grow. */
static int
spawn_drain(int *fd, nox_buf_t *b, size_t cap, uint64_t *total, bool *trunc)
{
    uint8_t  scratch[SPAWN_CHUNK]; /* where bytes past the cap go */
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
    r = read(*fd, dst, want);
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : errno;
    if (r == 0) {
        nox__close(*fd);
        *fd = -1;
        return 0;
    }
    *total += (uint64_t)r;
    if (dst == scratch)
        *trunc = true;
    else
        b->len += (size_t)r;
    return 0;
}

/* Milliseconds poll may sleep: until the deadline while the command runs
 * (none once it was killed), until the grace end after it exited. */
static int
spawn_poll_timeout(const spawn_loop_t *l, bool timed_out, int64_t now)
{
    int64_t until;

    if (l->exited)
        until = l->grace_end;
    else if (!timed_out)
        until = l->deadline;
    else
        return -1; /* killed: wait for the pidfd */
    if (until <= now)
        return 0;
    return until - now > INT_MAX ? INT_MAX : (int)(until - now);
}

/* Handle one poll round's events. Returns 0, an errno value, or -1 when an
 * output buffer could not grow. */
static int
spawn_handle_events(spawn_loop_t *l, const struct pollfd pfd[4], size_t cap,
                    nox_exec_result_t *res)
{
    const short in_ev = POLLIN | POLLHUP | POLLERR;
    int         e = 0;

    if (pfd[0].revents & POLLNVAL || pfd[1].revents & POLLNVAL ||
        pfd[2].revents & POLLNVAL || pfd[3].revents & POLLNVAL)
        return EBADF; /* a bug of ours; do not spin on it */
    if (pfd[0].revents & in_ev)
        e = spawn_drain(&l->out_fd, &res->out, cap, &res->out_total,
                        &res->out_truncated);
    if (e == 0 && pfd[1].revents & in_ev)
        e = spawn_drain(&l->err_fd, &res->err, cap, &res->err_total,
                        &res->err_truncated);
    if (e == 0 && pfd[2].revents & (POLLOUT | POLLERR | POLLHUP))
        e = spawn_feed_stdin(l);
    if (e == 0 && pfd[3].revents & POLLIN && !l->exited) {
        l->exited = true;
        l->grace_end = nox__mono_ms() + SPAWN_GRACE_MS;
    }
    return e;
}

/* Run until the command has exited and its pipes are at EOF (or the grace
 * after its exit is over), killing its group at the deadline. Sets
 * res->timed_out. Returns 0, an errno value, or -1 (out of memory); the
 * child is not reaped here. */
static int
spawn_loop_run(spawn_loop_t *l, pid_t pid, size_t cap, nox_exec_result_t *res)
{
    int64_t now = nox__mono_ms();
    int     e;

    while (!l->exited || l->out_fd >= 0 || l->err_fd >= 0) {
        if (l->exited && now >= l->grace_end)
            break; /* background processes hold the pipes; stop here */
        struct pollfd pfd[4] = {
            {l->out_fd, POLLIN, 0},
            {l->err_fd, POLLIN, 0},
            {l->in_fd, POLLOUT, 0},
            {l->exited ? -1 : l->pidfd, POLLIN, 0},
        };
        int n = poll(pfd, 4, spawn_poll_timeout(l, res->timed_out, now));
        if (n < 0 && errno != EINTR)
            return errno;
        if (n > 0) {
            e = spawn_handle_events(l, pfd, cap, res);
            if (e != 0)
                return e;
        }
        now = nox__mono_ms();
        /* A flood past the output limit is killed like a timeout: reading
         * and dropping gigabytes would hold a worker for nothing. */
        if (l->output_kill != 0 && !l->exited && !l->output_killed &&
            !res->timed_out &&
            (res->out_total > l->output_kill ||
             res->err_total > l->output_kill)) {
            (void)kill(-pid, SIGKILL); /* our unreaped child's group */
            l->output_killed = true;
        }
        /* Events first: a command that exited just in time is not a
         * timeout. */
        if (!l->exited && !res->timed_out && !l->output_killed &&
            now >= l->deadline) {
            /* Our unreaped child's group: cannot fail. The pipes reach
             * EOF once every member is dead. */
            (void)kill(-pid, SIGKILL);
            res->timed_out = true;
        }
    }
    return 0;
}

/* ---- Parent: results ---- */

/* Append a note from us to stderr, on a line of its own. It must survive
 * the cap, so when the captured stderr is full its tail makes room (the
 * note is what matters most); the cap is exceeded only when it is smaller
 * than the note itself. */
static nox_err_t
spawn_note(nox_exec_result_t *res, const char *note, size_t n, size_t cap)
{
    /* Room for the note plus a separating newline. */
    size_t need = n + 1;
    if (res->err.len + need > cap) {
        size_t keep = cap > need ? cap - need : 0;
        if (keep < res->err.len) {
            res->err.len = keep;
            res->err_truncated = true;
        }
    }
    if (res->err.len > 0 && res->err.data[res->err.len - 1] != '\n' &&
        nox__buf_append(&res->err, "\n", 1) != NOX_OK)
        return NOX_ERESOURCE;
    return nox__buf_append(&res->err, note, n);
}

/* Say why we killed the command: its timeout, or its output. */
static nox_err_t
spawn_note_kill(nox_exec_result_t *res, const nox_spawn_opts_t *o)
{
    char      note[160];
    long long t = (long long)o->timeout_ms;
    int       n;

    if (res->cause == NOX_CAUSE_OUTPUT_LIMIT)
        n = snprintf(note, sizeof(note),
                     "noxrunner: command wrote more than %llu bytes to %s "
                     "and was killed\n",
                     (unsigned long long)o->output_kill,
                     res->out_total > o->output_kill ? "stdout" : "stderr");
    else if (t % 1000 == 0)
        n = snprintf(note, sizeof(note),
                     "noxrunner: command timed out after %lld second%s and "
                     "was killed\n",
                     t / 1000, t == 1000 ? "" : "s");
    else
        n = snprintf(note, sizeof(note),
                     "noxrunner: command timed out after %lld ms and was "
                     "killed\n",
                     t);
    if (n < 0 || (size_t)n >= sizeof(note))
        return NOX_EINTERNAL; /* cannot happen: 160 bytes fit any int64 */
    return spawn_note(res, note, (size_t)n, o->output_cap);
}

static int64_t
spawn_tv_ms(const struct timeval *tv)
{
    return (int64_t)tv->tv_sec * 1000 + tv->tv_usec / 1000;
}

/* Reap the child and fill the exit record: exit_code, term_signal, cause
 * and the rusage of the command and the children it waited for. */
static int
spawn_reap(pid_t pid, nox_exec_result_t *res)
{
    struct rusage ru;
    int           status;

    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR)
            return errno;
    }
    res->cpu_user_ms = spawn_tv_ms(&ru.ru_utime);
    res->cpu_system_ms = spawn_tv_ms(&ru.ru_stime);
    res->max_rss_kb = ru.ru_maxrss; /* Linux: kilobytes */
    res->cause = NOX_CAUSE_EXITED;
    if (WIFSIGNALED(status)) {
        res->term_signal = WTERMSIG(status);
        res->exit_code = 128 + res->term_signal;
        res->cause = NOX_CAUSE_SIGNALED;
    } else {
        res->exit_code = WEXITSTATUS(status);
    }
    if (res->timed_out) {
        res->exit_code = 124;
        res->cause = NOX_CAUSE_TIMED_OUT;
    }
    return 0;
}

/* A command that never ran: exit_code and a message on stderr, as a shell
 * would give them. */
static nox_err_t
spawn_not_run(nox_exec_result_t *res, const char *name, int err)
{
    char        msg[PATH_MAX + 160];
    char        ebuf[128];
    const char *es;
    int         n;

    res->cause = NOX_CAUSE_NOT_STARTED;
    if (err == ENOENT) {
        res->exit_code = 127;
        n = snprintf(msg, sizeof(msg), "command not found: %s\n", name);
    } else {
        res->exit_code = 126;
        es = strerror_r(err, ebuf, sizeof(ebuf)); /* GNU: thread-safe */
        n = snprintf(msg, sizeof(msg), "cannot execute %s: %s\n", name, es);
    }
    if (n < 0)
        return NOX_EINTERNAL;
    /* A name too long for msg is cut; the message stays readable. */
    return nox__buf_append(
        &res->err, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
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
    e = *pid > 0 ? spawn_reap(*pid, res) : 0;
    *pid = 0;
    nox__close(*pidfd);
    *pidfd = -1;
    if (e != 0)
        return nox__status_errno(st, NOX_EINTERNAL, e, "spawn: wait4");
    if (fail.stage == NOX_SPAWN_STAGE_EXEC)
        return spawn_not_run(res, o->argv[0], fail.err);
    if (fail.stage == NOX_SPAWN_STAGE_START)
        return nox__status_set(st, NOX_ETIMEDOUT,
                               "spawn: the command did not start within %lld "
                               "ms (a process in the sandbox stopped it "
                               "before its execve)",
                               (long long)o->timeout_ms);
    return nox__status_errno(st, spawn_errno_code(fail.err), fail.err,
                             "spawn: %s", nox__spawn_stage_name(fail.stage));
}

/* Drive a started command to the end and collect its status. */
static nox_err_t
spawn_wait(const nox_spawn_opts_t *o, nox__spawn_fds_t *f, pid_t pid, int pidfd,
           nox_exec_result_t *res, nox_status_t *st)
{
    spawn_loop_t l = {f->out_r,      f->err_r,       f->in_w, pidfd,
                      o->stdin_data, o->stdin_len,   0,       0,
                      false,         o->output_kill, false};
    int          e;

    l.deadline = nox__mono_ms();
    /* Saturate: an absurd timeout must not overflow the clock. */
    l.deadline += o->timeout_ms < INT64_MAX - l.deadline
                      ? o->timeout_ms
                      : INT64_MAX - l.deadline;
    e = spawn_loop_run(&l, pid, o->output_cap, res);
    /* The loop closes fds at EOF; f must not close them again. */
    f->out_r = l.out_fd;
    f->err_r = l.err_fd;
    f->in_w = l.in_fd;
    nox__spawn_fds_close_all(f);
    if (e != 0) {
        spawn_abandon(pid);
        if (e < 0)
            return nox__status_set(st, NOX_ERESOURCE,
                                   "spawn: out of memory for output");
        return nox__status_errno(st, NOX_EINTERNAL, e, "spawn: poll loop");
    }
    e = spawn_reap(pid, res);
    if (e != 0)
        return nox__status_errno(st, NOX_EINTERNAL, e, "spawn: wait4");
    if (l.output_killed && !res->timed_out)
        res->cause = NOX_CAUSE_OUTPUT_LIMIT;
    if ((res->timed_out || res->cause == NOX_CAUSE_OUTPUT_LIMIT) &&
        spawn_note_kill(res, o) != NOX_OK)
        return nox__status_set(st, NOX_ERESOURCE, "spawn: out of memory");
    return NOX_OK;
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

nox_err_t
nox__spawn_run(const nox_spawn_opts_t *o, nox_exec_result_t *res,
               nox_status_t *st)
{
    nox_exec_result_t r = NOX_EXEC_RESULT_INIT;
    char              path[PATH_MAX];
    nox__spawn_fds_t  f;
    pid_t             pid;
    int               pidfd = -1, e;
    nox_err_t         rv;
    int64_t           start = nox__mono_ms();

    nox__status_clear(st);
    rv = spawn_check_opts(o, st);
    if (rv != NOX_OK)
        return rv;
    /* With namespaces the command is looked up inside the sandbox's view,
     * by the child (spawn_child.c). */
    if (o->isolate)
        (void)snprintf(path, sizeof(path), "%s", o->argv[0]);
    else if (!nox__spawn_resolve(o, path)) {
        rv = spawn_not_run(&r, o->argv[0], ENOENT);
        goto out_done;
    }
    e = nox__spawn_fds_open(o, &f);
    if (e != 0)
        return nox__status_errno(st, spawn_errno_code(e), e, "spawn: pipes");
    rv = spawn_start(o, path, &f, &r, &pid, &pidfd, st);
    if (rv != NOX_OK || pid == 0) {
        nox__spawn_fds_close_all(&f);
        goto out_done;
    }
    rv = spawn_join_late(o, pid, st);
    if (rv != NOX_OK) {
        spawn_abandon(pid);
        nox__close(pidfd);
        nox__spawn_fds_close_all(&f);
        goto out_done;
    }
    if (o->on_start != NULL)
        o->on_start(o->on_start_arg, pid);
    rv = spawn_wait(o, &f, pid, pidfd, &r, st);
    nox__close(pidfd);
out_done:
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
