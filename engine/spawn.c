/*
 * spawn.c - run one command: clone(CLONE_VM|CLONE_VFORK), pipes, poll,
 * timeout, output caps, process-group kill, reaping.
 *
 * The engine runs inside multi-threaded processes (NNG workers), so the
 * child is never a fork() copy of the parent: it is a CLONE_VM|CLONE_VFORK
 * child that borrows the parent's memory on a private stack until execve,
 * like glibc's posix_spawn. Everything the child needs (the resolved path,
 * argv, envp, fds, a ready-made SIG_DFL sigaction and an empty sigset) is
 * prepared by the parent beforehand; the child only makes async-signal-safe
 * system calls and reports a failure through shared memory.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAWN_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
/* The child runs a few system calls (and maybe lazy PLT binding, whose
 * register save area can take several KiB); 128 KiB leaves a wide margin. */
#define SPAWN_STACK_SIZE (128 * 1024)
/* How long output is still read after the command exited, for background
 * processes that inherited the pipes and may never close them. */
#define SPAWN_GRACE_MS 100
#define SPAWN_CHUNK (64 * 1024) /* one pipe buffer's worth per read */

/* Functions that run in the child, on the clone stack: no sanitizer
 * instrumentation (ASan would poison shadow for a stack it does not know),
 * never inlined into instrumented parent code. */
#define SPAWN_CHILD_FN                                                         \
    __attribute__((no_sanitize("address", "undefined"), noinline))

/* Where the child gave up before execve succeeded. */
typedef enum {
    SPAWN_STAGE_NONE = 0,
    SPAWN_STAGE_SETPGID,
    SPAWN_STAGE_PDEATHSIG,
    SPAWN_STAGE_DUP2,
    SPAWN_STAGE_FCHDIR,
    SPAWN_STAGE_SIGMASK,
    SPAWN_STAGE_EXEC,
} spawn_stage_t;

/* Shared between parent and child (CLONE_VM). The parent fills the inputs;
 * the child writes fail_* before _exit. CLONE_VFORK suspends the parent
 * until the child has exec'd or exited, so the parent reads them only
 * after the child is done with this memory. */
typedef struct {
    const char  *path; /* resolved executable (maybe cwd-relative) */
    char *const *argv;
    char *const *envp;
    int          cwd_fd;
    int          stdio[3];     /* all >= 3, so dup2 order cannot clobber */
    pid_t        parent;       /* to catch a parent that died before
                                  PR_SET_PDEATHSIG took effect */
    unsigned         fd_limit; /* fallback bound if close_range fails */
    struct sigaction dfl;      /* SIG_DFL, empty mask, no flags */
    sigset_t         empty;
    volatile int     fail_stage; /* spawn_stage_t */
    volatile int     fail_errno;
} spawn_child_t;

/* Pipes and fds of one run; -1 when unused or closed. *_r/_w are the read
 * and write ends; the child gets in_r, out_w and err_w. */
typedef struct {
    int in_r, in_w, out_r, out_w, err_r, err_w;
} spawn_fds_t;

/* State of the parent's event loop. */
typedef struct {
    int            out_fd, err_fd, in_fd, pidfd;
    const uint8_t *in_p; /* stdin bytes not yet written */
    size_t         in_left;
    int64_t        deadline;  /* monotonic ms: kill the group then */
    int64_t        grace_end; /* monotonic ms: stop reading then */
    bool           exited;    /* pidfd became readable */
} spawn_loop_t;

/* ---- Child: runs on the clone stack until execve ---- */

static SPAWN_CHILD_FN int
spawn_child_fail(spawn_child_t *c, spawn_stage_t stage)
{
    c->fail_errno = errno;
    c->fail_stage = stage;
    _exit(127);
}

/* Close every fd above stderr. Our own fds are O_CLOEXEC, but another
 * thread's (or a library's) may not be, and must not leak into the
 * command. close_range needs Linux 5.9; the loop is for older kernels or
 * seccomp filters that refuse it. */
static SPAWN_CHILD_FN void
spawn_child_close_fds(const spawn_child_t *c)
{
    if (close_range(3, ~0U, 0) == 0)
        return;
    for (unsigned fd = 3; fd < c->fd_limit; fd++)
        (void)close((int)fd); /* EBADF for unused numbers is expected */
}

/* The child. Signals are all blocked on entry (inherited from the parent
 * thread), so no parent handler can run on this stack; dispositions are
 * reset before the mask is cleared, so a signal arriving later gets the
 * default action. Isolation (namespaces, rlimits, seccomp) goes in just
 * before execve. */
static SPAWN_CHILD_FN int
spawn_child_main(void *arg)
{
    spawn_child_t *c = arg;

    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        /* EINVAL for glibc-reserved and unused numbers is expected. */
        (void)sigaction(sig, &c->dfl, NULL);
    }
    /* Own process group: a timeout or a delete kills the whole group. */
    if (setpgid(0, 0) != 0)
        return spawn_child_fail(c, SPAWN_STAGE_SETPGID);
    /* Die with the thread that started us (so with the server). Not
     * inherited by the command's own children: the group kill covers
     * those. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        return spawn_child_fail(c, SPAWN_STAGE_PDEATHSIG);
    if (getppid() != c->parent)
        _exit(127); /* the parent is already gone; nobody waits for us */
    /* No EINTR retry needed: every signal is blocked here. */
    for (int i = 0; i < 3; i++)
        if (dup2(c->stdio[i], i) < 0)
            return spawn_child_fail(c, SPAWN_STAGE_DUP2);
    if (fchdir(c->cwd_fd) != 0)
        return spawn_child_fail(c, SPAWN_STAGE_FCHDIR);
    spawn_child_close_fds(c);
    if (sigprocmask(SIG_SETMASK, &c->empty, NULL) != 0)
        return spawn_child_fail(c, SPAWN_STAGE_SIGMASK);
    execve(c->path, c->argv, c->envp);
    return spawn_child_fail(c, SPAWN_STAGE_EXEC);
}

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

static const char *
spawn_stage_name(int stage)
{
    static const char *const names[] = {
        "start",       "setpgid", "prctl(PR_SET_PDEATHSIG)", "dup2", "fchdir",
        "sigprocmask", "execve"};

    if (stage < 0 || (size_t)stage >= sizeof(names) / sizeof(names[0]))
        return "start";
    return names[stage];
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

/* ---- Parent: finding the executable ---- */

/* 1 when dir_fd-relative path is a regular file, 2 when it is also
 * executable by us, 0 otherwise. The X_OK test uses the real ids (flags 0):
 * AT_EACCESS needs faccessat2, which some seccomp filters refuse, and the
 * engine does not run setuid. */
static int
spawn_probe(int dir_fd, const char *path)
{
    struct stat sb;

    if (fstatat(dir_fd, path, &sb, 0) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    return faccessat(dir_fd, path, X_OK, 0) == 0 ? 2 : 1;
}

/* Search path_env for name like execvp: the first executable regular file
 * wins; failing that, the first non-executable one (so the caller reports
 * 126 "Permission denied", as shells do) is written to out. Empty entries
 * mean the working directory. Returns true when out was written. */
static bool
spawn_search_path(const char *name, const char *path_env, int cwd_fd,
                  char out[PATH_MAX])
{
    char        cand[PATH_MAX];
    bool        have_fallback = false;
    const char *p = path_env;

    while (p != NULL) {
        const char *colon = strchr(p, ':');
        size_t      dlen = colon ? (size_t)(colon - p) : strlen(p);
        int         n = snprintf(cand, sizeof(cand), "%.*s%s%s", (int)dlen, p,
                         dlen ? "/" : "", name);

        p = colon ? colon + 1 : NULL;
        if (n < 0 || (size_t)n >= sizeof(cand))
            continue;                         /* too long to exist */
        int kind = spawn_probe(cwd_fd, cand); /* "" dir: cand is name */
        if (kind == 2) {
            (void)strcpy(out, cand); /* n < PATH_MAX */
            return true;
        }
        if (kind == 1 && !have_fallback) {
            (void)strcpy(out, cand);
            have_fallback = true;
        }
    }
    return have_fallback;
}

/* Resolve argv[0] into out. A name with '/' is used as given (relative to
 * the command's working directory; the child execs it after fchdir).
 * Returns false when the command does not exist. */
static bool
spawn_resolve(const nox_spawn_opts_t *o, char out[PATH_MAX])
{
    const char *name = o->argv[0];

    if (strchr(name, '/') != NULL) {
        if (strlen(name) >= PATH_MAX)
            return false;
        (void)strcpy(out, name);
        return true;
    }
    if (strlen(name) > NAME_MAX)
        return false;
    return spawn_search_path(
        name, o->path_env ? o->path_env : SPAWN_DEFAULT_PATH, o->cwd_fd, out);
}

/* ---- Parent: pipes ---- */

static void
spawn_fds_close_child_ends(spawn_fds_t *f)
{
    nox__close(f->in_r);
    nox__close(f->out_w);
    nox__close(f->err_w);
    f->in_r = f->out_w = f->err_w = -1;
}

static void
spawn_fds_close_all(spawn_fds_t *f)
{
    spawn_fds_close_child_ends(f);
    nox__close(f->in_w);
    nox__close(f->out_r);
    nox__close(f->err_r);
    f->in_w = f->out_r = f->err_r = -1;
}

/* A child-side fd below 3 (possible when the process runs with stdio
 * closed) would be clobbered by the child's dup2 sequence, or keep its
 * O_CLOEXEC through dup2(fd, fd); move it up. */
static int
spawn_fd_raise(int *fd)
{
    int nfd;

    if (*fd >= 3)
        return 0;
    if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3)) < 0)
        return errno;
    nox__close(*fd);
    *fd = nfd;
    return 0;
}

/* Make a CLOEXEC pipe whose parent end (index parent_end) is nonblocking;
 * the child's end stays blocking, as programs expect of their stdio. */
static int
spawn_pipe(int fds[2], int parent_end)
{
    int fl;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return errno;
    if ((fl = fcntl(fds[parent_end], F_GETFL)) < 0 ||
        fcntl(fds[parent_end], F_SETFL, fl | O_NONBLOCK) != 0) {
        int e = errno;
        nox__close(fds[0]);
        nox__close(fds[1]);
        return e;
    }
    return 0;
}

/* Open the child's stdin (a pipe, or /dev/null when there is no input) and
 * the stdout/stderr pipes. Returns 0 or an errno value; on failure every fd
 * is closed. */
static int
spawn_fds_open(const nox_spawn_opts_t *o, spawn_fds_t *f)
{
    int p[2], e;

    *f = (spawn_fds_t){-1, -1, -1, -1, -1, -1};
    if (o->stdin_len > 0) {
        if ((e = spawn_pipe(p, 1)) != 0)
            return e;
        f->in_r = p[0];
        f->in_w = p[1];
    } else if ((f->in_r = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        return errno;
    }
    if ((e = spawn_pipe(p, 0)) != 0)
        goto out_close;
    f->out_r = p[0];
    f->out_w = p[1];
    if ((e = spawn_pipe(p, 0)) != 0)
        goto out_close;
    f->err_r = p[0];
    f->err_w = p[1];
    if ((e = spawn_fd_raise(&f->in_r)) != 0 ||
        (e = spawn_fd_raise(&f->out_w)) != 0 ||
        (e = spawn_fd_raise(&f->err_w)) != 0)
        goto out_close;
    return 0;
out_close:
    spawn_fds_close_all(f);
    return e;
}

/* ---- Parent: starting the child ---- */

static void
spawn_child_init(spawn_child_t *c, const nox_spawn_opts_t *o, const char *path,
                 const spawn_fds_t *f)
{
    struct rlimit rl;

    memset(c, 0, sizeof(*c));
    c->path = path;
    /* execve's prototype predates const; it does not modify them. */
    c->argv = (char *const *)o->argv;
    c->envp = (char *const *)o->envp;
    c->cwd_fd = o->cwd_fd;
    c->stdio[0] = f->in_r;
    c->stdio[1] = f->out_w;
    c->stdio[2] = f->err_w;
    c->parent = getpid();
    c->fd_limit = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur <= UINT_MAX)
        c->fd_limit = (unsigned)rl.rlim_cur;
    c->dfl.sa_handler = SIG_DFL;
    /* Cannot fail with a valid pointer. */
    (void)sigemptyset(&c->dfl.sa_mask);
    (void)sigemptyset(&c->empty);
}

/* Map a private stack for the child, with a PROT_NONE guard page below it
 * so an overflow faults instead of writing into a neighbouring mapping. A
 * fresh mapping per spawn (not the parent's stack or a shared buffer)
 * because other threads may be spawning at the same time. */
static int
spawn_stack_map(void **base, size_t *len)
{
    long   page = sysconf(_SC_PAGESIZE);
    size_t guard = page > 0 ? (size_t)page : 4096;
    void  *m;

    *len = SPAWN_STACK_SIZE + guard;
    m = mmap(NULL, *len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m == MAP_FAILED)
        return errno;
    if (mprotect(m, guard, PROT_NONE) != 0) {
        int e = errno;
        (void)munmap(m, *len); /* nothing better to do on this path */
        return e;
    }
    *base = m;
    return 0;
}

/* Start the child with all signals blocked in this thread: the child
 * inherits the mask, so no handler of ours can run on its stack before it
 * has reset the dispositions. On success *pid and *pidfd are set; the child
 * may still have failed before or at execve (c->fail_stage). Returns 0 or
 * an errno value. */
static int
spawn_clone(spawn_child_t *c, pid_t *pid, int *pidfd)
{
    sigset_t all, old;
    void    *stack = NULL;
    size_t   len = 0;
    int      e, rc, fd = -1;

    if ((e = spawn_stack_map(&stack, &len)) != 0)
        return e;
    (void)sigfillset(&all); /* cannot fail with a valid pointer */
    if ((e = pthread_sigmask(SIG_SETMASK, &all, &old)) != 0)
        goto out_unmap;
    /* CLONE_VFORK: we resume only after the child's execve or exit, so the
     * stack and *c are no longer in use when we unmap/read them. */
    rc = clone(spawn_child_main, (char *)stack + len,
               CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, c, &fd);
    e = rc < 0 ? errno : 0;
    /* Restoring a mask we just read cannot fail. */
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e == 0) {
        *pid = rc;
        *pidfd = fd;
    }
out_unmap:
    (void)munmap(stack, len); /* a valid mapping of ours: cannot fail */
    return e;
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
    if ((e = pthread_sigmask(SIG_BLOCK, &pipe_set, &old)) != 0) {
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
    if ((r = read(*fd, dst, want)) < 0)
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
        if (n > 0 && (e = spawn_handle_events(l, pfd, cap, res)) != 0)
            return e;
        now = nox__mono_ms();
        /* Events first: a command that exited just in time is not a
         * timeout. */
        if (!l->exited && !res->timed_out && now >= l->deadline) {
            /* Our unreaped child's group: cannot fail. The pipes reach
             * EOF once every member is dead. */
            (void)kill(-pid, SIGKILL);
            res->timed_out = true;
        }
    }
    return 0;
}

/* ---- Parent: results ---- */

/* Append the timeout note to stderr, on a line of its own. It must survive
 * the cap, so when the captured stderr is full its tail makes room (the
 * note is what matters most); the cap is exceeded only when it is smaller
 * than the note itself. */
static nox_err_t
spawn_note_timeout(nox_exec_result_t *res, int64_t timeout_ms, size_t cap)
{
    char      note[128];
    long long t = (long long)timeout_ms;
    int       n;

    if (t % 1000 == 0)
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
        return NOX_EINTERNAL; /* cannot happen: 128 bytes fit any int64 */
    /* Room for the note plus a separating newline. */
    size_t need = (size_t)n + 1;
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
    return nox__buf_append(&res->err, note, (size_t)n);
}

/* Reap the child and turn its status into exit_code/term_signal. */
static int
spawn_reap(pid_t pid, nox_exec_result_t *res)
{
    int status;

    while (wait4(pid, &status, 0, NULL) < 0) {
        if (errno != EINTR)
            return errno;
    }
    if (WIFSIGNALED(status)) {
        res->term_signal = WTERMSIG(status);
        res->exit_code = 128 + res->term_signal;
    } else {
        res->exit_code = WEXITSTATUS(status);
    }
    if (res->timed_out)
        res->exit_code = 124;
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
spawn_start(const nox_spawn_opts_t *o, const char *path, spawn_fds_t *f,
            nox_exec_result_t *res, pid_t *pid, int *pidfd, nox_status_t *st)
{
    spawn_child_t c;
    int           e;

    spawn_child_init(&c, o, path, f);
    *pid = 0;
    e = spawn_clone(&c, pid, pidfd);
    spawn_fds_close_child_ends(f); /* the command has its copies */
    if (e != 0)
        return nox__status_errno(st, spawn_errno_code(e), e, "spawn: clone");
    if (c.fail_stage == SPAWN_STAGE_NONE)
        return NOX_OK;
    /* The child has _exit(127)ed: collect it. */
    e = spawn_reap(*pid, res);
    *pid = 0;
    nox__close(*pidfd);
    *pidfd = -1;
    if (e != 0)
        return nox__status_errno(st, NOX_EINTERNAL, e, "spawn: wait4");
    if (c.fail_stage == SPAWN_STAGE_EXEC)
        return spawn_not_run(res, o->argv[0], c.fail_errno);
    return nox__status_errno(st, spawn_errno_code(c.fail_errno), c.fail_errno,
                             "spawn: %s", spawn_stage_name(c.fail_stage));
}

/* Drive a started command to the end and collect its status. */
static nox_err_t
spawn_wait(const nox_spawn_opts_t *o, spawn_fds_t *f, pid_t pid, int pidfd,
           nox_exec_result_t *res, nox_status_t *st)
{
    spawn_loop_t l = {f->out_r,     f->err_r, f->in_w, pidfd, o->stdin_data,
                      o->stdin_len, 0,        0,       false};
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
    spawn_fds_close_all(f);
    if (e != 0) {
        spawn_abandon(pid);
        if (e < 0)
            return nox__status_set(st, NOX_ERESOURCE,
                                   "spawn: out of memory for output");
        return nox__status_errno(st, NOX_EINTERNAL, e, "spawn: poll loop");
    }
    if ((e = spawn_reap(pid, res)) != 0)
        return nox__status_errno(st, NOX_EINTERNAL, e, "spawn: wait4");
    if (res->timed_out &&
        spawn_note_timeout(res, o->timeout_ms, o->output_cap) != NOX_OK)
        return nox__status_set(st, NOX_ERESOURCE, "spawn: out of memory");
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
    spawn_fds_t       f;
    pid_t             pid;
    int               pidfd = -1, e;
    nox_err_t         rv;
    int64_t           start = nox__mono_ms();

    nox__status_clear(st);
    if ((rv = spawn_check_opts(o, st)) != NOX_OK)
        return rv;
    if (!spawn_resolve(o, path)) {
        rv = spawn_not_run(&r, o->argv[0], ENOENT);
        goto out_done;
    }
    if ((e = spawn_fds_open(o, &f)) != 0)
        return nox__status_errno(st, spawn_errno_code(e), e, "spawn: pipes");
    rv = spawn_start(o, path, &f, &r, &pid, &pidfd, st);
    if (rv != NOX_OK || pid == 0) {
        spawn_fds_close_all(&f);
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
