/*
 * spawn_child.c - start the command: find the executable in PATH, prepare
 * the child's fds, clone(CLONE_VM|CLONE_VFORK) it on a private stack with
 * signals blocked, and report where it failed before execve. The parent's
 * side of the run (the event loop, reaping, results) is in spawn.c.
 *
 * The engine runs inside multi-threaded processes (NNG workers), so the
 * child is never a fork() copy of the parent: it is a CLONE_VM|CLONE_VFORK
 * child that borrows the parent's memory on a private stack until execve,
 * like glibc's posix_spawn. Everything the child needs (the resolved path,
 * argv, envp, fds, a ready-made SIG_DFL sigaction and an empty sigset) is
 * prepared by the parent beforehand; the child only makes async-signal-safe
 * system calls and reports a failure through shared memory.
 */
#include "spawn_impl.h"

#include "holder.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/securebits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAWN_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
/* The child runs a few system calls (and maybe lazy PLT binding, whose
 * register save area can take several KiB); 128 KiB leaves a wide margin. */
#define SPAWN_STACK_SIZE (128 * 1024)

/* Functions that run in the child, on the clone stack: no sanitizer
 * instrumentation (ASan would poison shadow for a stack it does not know),
 * never inlined into instrumented parent code. */
#define SPAWN_CHILD_FN                                                         \
    __attribute__((no_sanitize("address", "undefined"), noinline))

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
    int              cg_fds[3];
    size_t           n_cg;
    struct rlimit    fsize; /* rlim_cur 0: leave it */
    /* Namespaces (ns_pidfd >= 0): see nox_spawn_opts_t. */
    int          ns_pidfd;
    int          ns_flags;
    bool         drop_to_nobody;
    const char  *cwd_rel; /* beneath /workspace: "" or "sub/dir" */
    const char  *path_env;
    void        *stack_b;    /* top of the command's stack */
    int          start_ms;   /* the joiner's wait for the command's exec */
    int          started_fd; /* the command's end of the joiner's pipe */
    int          ns_child;   /* the command's pid (CLONE_PARENT_SETTID) */
    volatile int fail_stage; /* nox__spawn_stage_t */
    volatile int fail_errno;
} spawn_child_t;

/* ---- Child: runs on the clone stack until execve ---- */

static SPAWN_CHILD_FN int
spawn_child_fail(spawn_child_t *c, nox__spawn_stage_t stage)
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
    /* With namespaces the joiner's pipe stays until execve (CLOEXEC): its
     * closing tells the joiner the command started. */
    int keep = c->started_fd;

    if (keep < 3) {
        if (close_range(3, ~0U, 0) == 0)
            return;
    } else if ((keep == 3 || close_range(3, (unsigned)keep - 1, 0) == 0) &&
               close_range((unsigned)keep + 1, ~0U, 0) == 0) {
        return;
    }
    for (unsigned fd = 3; fd < c->fd_limit; fd++)
        if ((int)fd != keep)
            (void)close((int)fd); /* EBADF for unused numbers: expected */
}

/* Move ourselves into the sandbox's cgroups: "0" is "the writer". */
static SPAWN_CHILD_FN int
spawn_child_join_cgroups(const spawn_child_t *c)
{
    for (size_t i = 0; i < c->n_cg; i++)
        if (write(c->cg_fds[i], "0", 1) != 1)
            return -1;
    return 0;
}

/* Drop every privilege the command could use inside the namespaces:
 * root's exec-time capabilities locked off (SECBIT_NOROOT), the bounding
 * set emptied (nothing can be regained, not even by a file capability),
 * nobody's ids as root, no inheritable or ambient capabilities,
 * no_new_privs. The order matters: the first two need CAP_SETPCAP, which
 * setresuid takes away.
 *
 * We share the engine's memory until execve, and other processes of the
 * sandbox can see us: they must not be able to open /proc/<us>/mem. As
 * root we become nobody, so the memory is made non-dumpable (setresuid
 * already did that unless fs.suid_dumpable is 1; the flag is the
 * engine's, which execve leaves as it is). Rootless we are the same user
 * as every command, so we keep our capabilities until execve takes them
 * (SECBIT_NOROOT, an empty bounding set and no inheritable ones give the
 * command none): a process without them cannot ptrace one with them. */
static SPAWN_CHILD_FN int
spawn_child_drop_privs(const spawn_child_t *c)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct   data[2];

    if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
                                     SECBIT_KEEP_CAPS_LOCKED |
                                     SECBIT_NO_CAP_AMBIENT_RAISE |
                                     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) != 0)
        return -1;
    for (int cap = 0; cap <= 63; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap) != 0) {
            if (errno == EINVAL)
                break; /* past the kernel's last capability */
            return -1;
        }
    }
    /* Raw system calls: glibc's wrappers see the engine's threads (we
     * share its memory) and would signal them all to change their ids
     * too, taking a lock the engine needs; and only this process must
     * change. */
    if (c->drop_to_nobody && (syscall(SYS_setgroups, 0, NULL) != 0 ||
                              syscall(SYS_setresgid, NOX_SANDBOX_GID,
                                      NOX_SANDBOX_GID, NOX_SANDBOX_GID) != 0 ||
                              syscall(SYS_setresuid, NOX_SANDBOX_UID,
                                      NOX_SANDBOX_UID, NOX_SANDBOX_UID) != 0 ||
                              prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0))
        return -1;
    /* Keep what we hold (rootless: everything, see above; as root:
     * nothing left), clear the inheritable set. */
    if (syscall(SYS_capget, &hdr, data) != 0)
        return -1;
    data[0].inheritable = data[1].inheritable = 0;
    if (syscall(SYS_capset, &hdr, data) != 0 ||
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return 0;
}

/* With namespaces: go to the working directory beneath /workspace the way
 * the engine checked it on the host (RESOLVE_BENEATH), not by a path a
 * command could have changed since into a symlink leading elsewhere. */
static SPAWN_CHILD_FN int
spawn_child_ns_chdir(const spawn_child_t *c)
{
    struct open_how how;
    int             ws, fd, rc;

    ws = open("/workspace", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ws < 0)
        return -1;
    if (c->cwd_rel[0] == '\0') {
        fd = ws;
    } else {
        memset(&how, 0, sizeof(how));
        how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        fd = (int)syscall(SYS_openat2, ws, c->cwd_rel, &how, sizeof(how));
        (void)close(ws);
        if (fd < 0)
            return -1;
    }
    rc = fchdir(fd);
    (void)close(fd);
    return rc;
}

/* execvp inside the sandbox's view, without malloc: argv[0] as given when
 * it has a '/', else each PATH entry in turn. Returns only on failure,
 * with errno EACCES if some candidate existed but could not be run (126),
 * else the last error (ENOENT: 127). */
static SPAWN_CHILD_FN void
spawn_child_execvp(const spawn_child_t *c)
{
    const char *name = c->argv[0], *p = c->path_env;
    size_t      nlen = strlen(name);
    char        buf[PATH_MAX];
    bool        denied = false;

    if (strchr(name, '/') != NULL) {
        execve(name, c->argv, c->envp);
        return;
    }
    errno = ENOENT;
    while (p != NULL) {
        const char *colon = strchr(p, ':');
        size_t      dlen = colon ? (size_t)(colon - p) : strlen(p);

        if (dlen + 1 + nlen < sizeof(buf)) {
            memcpy(buf, p, dlen);
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, name, nlen + 1);
            /* An empty entry is the working directory, as for execvp. */
            execve(dlen ? buf : name, c->argv, c->envp);
            if (errno == EACCES)
                denied = true;
            /* Like execvp: a PATH entry that is not a directory is just
             * not where the command is. */
            if (errno == ENOTDIR || errno == ENODEV || errno == ESTALE)
                errno = ENOENT;
        }
        p = colon ? colon + 1 : NULL;
    }
    if (denied)
        errno = EACCES;
}

/* The child. Signals are all blocked on entry (inherited from the parent
 * thread), so no parent handler can run on this stack; dispositions are
 * reset before the mask is cleared, so a signal arriving later gets the
 * default action. With namespaces it runs inside the sandbox (started by
 * the joiner) and drops its privileges last, just before execve. */
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
    /* Own session (so no controlling terminal: a command must not type
     * into or read from the terminal the engine runs on) and so own
     * process group: a timeout or a delete kills the whole group. */
    if (setsid() < 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_SETSID);
    /* Die with the thread that started us (so with the server). Not
     * inherited by the command's own children: the group kill covers
     * those. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_PDEATHSIG);
    /* Inside a pid namespace our parent (outside it) shows as 0, and the
     * engine's thread is held in vfork by the joiner: no check needed. */
    if (c->ns_pidfd < 0 && getppid() != c->parent)
        _exit(127); /* the parent is already gone; nobody waits for us */
    /* Join the sandbox's groups (with namespaces through fds opened on
     * the host, still as the engine's user: ids drop later). Done here,
     * not by the joiner, so that only the command counts in pids.max. */
    if (spawn_child_join_cgroups(c) != 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_CGROUP);
    /* No EINTR retry needed: every signal is blocked here. */
    for (int i = 0; i < 3; i++)
        if (dup2(c->stdio[i], i) < 0)
            return spawn_child_fail(c, NOX_SPAWN_STAGE_DUP2);
    /* A fresh session keyring: the engine's keys are not the sandbox's,
     * nor a channel between sandboxes. */
    if (c->ns_pidfd >= 0 &&
        syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_PRIVS);
    if (c->ns_pidfd >= 0 && spawn_child_ns_chdir(c) != 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_CHDIR);
    if (c->ns_pidfd < 0 && fchdir(c->cwd_fd) != 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_FCHDIR);
    spawn_child_close_fds(c);
    if (c->fsize.rlim_cur != 0 && setrlimit(RLIMIT_FSIZE, &c->fsize) != 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_RLIMIT);
    if (c->ns_pidfd >= 0 && spawn_child_drop_privs(c) != 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_PRIVS);
    if (sigprocmask(SIG_SETMASK, &c->empty, NULL) != 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_SIGMASK);
    if (c->ns_pidfd >= 0)
        spawn_child_execvp(c);
    else
        execve(c->path, c->argv, c->envp);
    return spawn_child_fail(c, NOX_SPAWN_STAGE_EXEC);
}

/* With namespaces: the first child. It enters the holder's namespaces in
 * one setns (a
 * CLONE_VM child may enter a user namespace; a threaded process may not),
 * and starts the command as the engine's child (CLONE_PARENT), which a
 * pid namespace needs: setns only moves our future children into it.
 *
 * The command's process is visible to the sandbox before its execve, so
 * a process there could SIGSTOP it. It is therefore not a vfork child:
 * we wait for its execve (the close-on-exec pipe closing) for at most
 * start_ms, then kill it; the engine's thread, held in vfork by us, is
 * never held longer. Stopped, it must not be a victim the OOM killer
 * could pick in the sandbox's memory group either (the kernel would kill
 * every process sharing its memory: the engine): the engine moves it into
 * that group only after its execve (cg_late_fds). */
static SPAWN_CHILD_FN int
spawn_joiner_main(void *arg)
{
    spawn_child_t *c = arg;
    int            p[2], pid;

    if (setns(c->ns_pidfd, c->ns_flags) != 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_SETNS);
    /* The command's process shares our memory, which is the engine's,
     * and exists inside the sandbox until its execve. Not dumpable, its
     * /proc files (mem, oom_score_adj, coredump_filter, ...) belong to
     * root, so no process of the sandbox can read or change the engine
     * through them. The flag is the memory's: the engine stays
     * non-dumpable (holder.c copes); execve gives the command its own. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_PRIVS);
    if (pipe2(p, O_CLOEXEC) != 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_CLONE);
    /* The command's dup2 of its stdio onto 0-2 would close a write end
     * there, and we would take that for its execve. */
    if (p[1] < 3) {
        int high = fcntl(p[1], F_DUPFD_CLOEXEC, 3);
        if (high < 0)
            return spawn_child_fail(c, NOX_SPAWN_STAGE_CLONE);
        (void)close(p[1]);
        p[1] = high;
    }
    c->started_fd = p[1];
    pid = clone(spawn_child_main, c->stack_b,
                CLONE_VM | CLONE_PARENT | CLONE_PARENT_SETTID | SIGCHLD, c,
                &c->ns_child);
    if (pid < 0)
        return spawn_child_fail(c, NOX_SPAWN_STAGE_CLONE);
    (void)close(p[1]);
    struct pollfd pfd = {p[0], POLLIN, 0};
    /* Every signal is blocked here: no EINTR. EOF: it exec'd or exited. */
    if (poll(&pfd, 1, c->start_ms) == 0) {
        (void)kill(pid, SIGKILL); /* our sibling, unreaped: cannot fail */
        c->fail_errno = ETIMEDOUT;
        c->fail_stage = NOX_SPAWN_STAGE_START;
        /* SIGKILL ends even a stopped process; wait until it no longer
         * runs on the stack the engine is about to unmap. */
        int pidfd = pidfd_open(pid, 0);
        if (pidfd >= 0)
            (void)poll(&(struct pollfd){pidfd, POLLIN, 0}, 1, -1);
    }
    _exit(0);
}

/* ---- Parent: reporting where the child failed ---- */

/* Indexed by nox__spawn_stage_t (spawn_impl.h); keep the two in step. */
const char *
nox__spawn_stage_name(int stage)
{
    static const char *const names[] = {"start",
                                        "setsid",
                                        "prctl(PR_SET_PDEATHSIG)",
                                        "dup2",
                                        "fchdir",
                                        "sigprocmask",
                                        "execve",
                                        "join the sandbox's cgroups",
                                        "setns into the sandbox's namespaces",
                                        "clone in the sandbox",
                                        "chdir to the working directory",
                                        "setrlimit(RLIMIT_FSIZE)",
                                        "drop privileges",
                                        "start the command"};

    if (stage < 0 || (size_t)stage >= sizeof(names) / sizeof(names[0]))
        return "start";
    return names[stage];
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
bool
nox__spawn_resolve(const nox_spawn_opts_t *o, char out[PATH_MAX])
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

void
nox__spawn_fds_close_child_ends(nox__spawn_fds_t *f)
{
    nox__close(f->in_r);
    nox__close(f->out_w);
    nox__close(f->err_w);
    f->in_r = f->out_w = f->err_w = -1;
}

void
nox__spawn_fds_close_all(nox__spawn_fds_t *f)
{
    nox__spawn_fds_close_child_ends(f);
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
    nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (nfd < 0)
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
    fl = fcntl(fds[parent_end], F_GETFL);
    if (fl < 0 || fcntl(fds[parent_end], F_SETFL, fl | O_NONBLOCK) != 0) {
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
int
nox__spawn_fds_open(const nox_spawn_opts_t *o, nox__spawn_fds_t *f)
{
    int p[2], e;

    *f = (nox__spawn_fds_t){-1, -1, -1, -1, -1, -1};
    if (o->stdin_len > 0) {
        e = spawn_pipe(p, 1);
        if (e != 0)
            return e;
        f->in_r = p[0];
        f->in_w = p[1];
    } else {
        f->in_r = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (f->in_r < 0)
            return errno;
    }
    e = spawn_pipe(p, 0);
    if (e != 0)
        goto out_close;
    f->out_r = p[0];
    f->out_w = p[1];
    e = spawn_pipe(p, 0);
    if (e != 0)
        goto out_close;
    f->err_r = p[0];
    f->err_w = p[1];
    e = spawn_fd_raise(&f->in_r);
    if (e == 0)
        e = spawn_fd_raise(&f->out_w);
    if (e == 0)
        e = spawn_fd_raise(&f->err_w);
    if (e != 0)
        goto out_close;
    return 0;
out_close:
    nox__spawn_fds_close_all(f);
    return e;
}

/* ---- Parent: starting the child ---- */

static void
spawn_child_init(spawn_child_t *c, const nox_spawn_opts_t *o, const char *path,
                 const nox__spawn_fds_t *f)
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
    for (size_t i = 0; i < o->n_cg && i < 3; i++)
        c->cg_fds[c->n_cg++] = o->cg_fds[i];
    if (o->fsize_limit != 0)
        c->fsize.rlim_cur = c->fsize.rlim_max = (rlim_t)o->fsize_limit;
    c->ns_pidfd = o->isolate ? o->ns_pidfd : -1;
    c->ns_flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
                  CLONE_NEWUTS | CLONE_NEWCGROUP |
                  (o->join_net ? CLONE_NEWNET : 0);
    c->drop_to_nobody = o->drop_to_nobody;
    c->cwd_rel = o->cwd_rel ? o->cwd_rel : "";
    c->started_fd = -1;
    c->start_ms = o->timeout_ms < INT_MAX ? (int)o->timeout_ms : INT_MAX;
    c->path_env = o->path_env ? o->path_env : SPAWN_DEFAULT_PATH;
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

/* With namespaces, after the joiner is done (it exited once the command
 * exec'd or failed): reap it and take the command's pid and a pidfd.
 * *pid stays 0 when the joiner failed before the command existed. */
static int
spawn_joined(spawn_child_t *c, pid_t joiner, pid_t *pid, int *pidfd)
{
    int status;

    while (waitpid(joiner, &status, 0) < 0)
        if (errno != EINTR)
            return errno;
    *pid = 0;
    if (c->ns_child <= 0)
        return 0;
    *pid = c->ns_child;
    /* Our unreaped child (CLONE_PARENT): the pid cannot be reused. */
    *pidfd = pidfd_open(*pid, 0);
    if (*pidfd < 0) {
        int e = errno;
        (void)kill(-*pid, SIGKILL);
        (void)kill(*pid, SIGKILL);
        while (waitpid(*pid, &status, 0) < 0 && errno == EINTR)
            ;
        *pid = 0;
        return e;
    }
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
    void    *stack = NULL, *stack_b = NULL;
    size_t   len = 0, len_b = 0;
    int      e, rc, fd = -1;

    e = spawn_stack_map(&stack, &len);
    if (e == 0 && c->ns_pidfd >= 0) {
        e = spawn_stack_map(&stack_b, &len_b);
        c->stack_b = (char *)stack_b + len_b;
    }
    if (e != 0)
        goto out_unmap;
    (void)sigfillset(&all); /* cannot fail with a valid pointer */
    e = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (e != 0)
        goto out_unmap;
    /* CLONE_VFORK: we resume only after the child's execve or exit, so the
     * stack and *c are no longer in use when we unmap/read them. */
    if (c->ns_pidfd >= 0)
        rc = clone(spawn_joiner_main, (char *)stack + len,
                   CLONE_VM | CLONE_VFORK | SIGCHLD, c);
    else
        rc = clone(spawn_child_main, (char *)stack + len,
                   CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, c, &fd);
    e = rc < 0 ? errno : 0;
    /* Restoring a mask we just read cannot fail. */
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e == 0 && c->ns_pidfd >= 0) {
        e = spawn_joined(c, rc, pid, pidfd);
    } else if (e == 0) {
        *pid = rc;
        *pidfd = fd;
    }
out_unmap:
    /* Valid mappings of ours: cannot fail. */
    if (stack != NULL)
        (void)munmap(stack, len);
    if (stack_b != NULL)
        (void)munmap(stack_b, len_b);
    return e;
}

int
nox__spawn_child_start(const nox_spawn_opts_t *o, const char *path,
                       const nox__spawn_fds_t *f, pid_t *pid, int *pidfd,
                       nox__spawn_fail_t *fail)
{
    spawn_child_t c;
    int           e;

    spawn_child_init(&c, o, path, f);
    e = spawn_clone(&c, pid, pidfd);
    if (e != 0)
        return e;
    /* CLONE_VFORK: the child has exec'd or exited, so c is ours again. */
    fail->stage = (nox__spawn_stage_t)c.fail_stage;
    fail->err = c.fail_errno;
    return 0;
}
