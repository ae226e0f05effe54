/*
 * holder.c - start, watch and stop a sandbox's namespace holder (see
 * holder.h for what it is and why).
 *
 * Start-up handshake: the engine clones the holder with the new
 * namespaces, writes its uid and gid maps (only a process outside the new
 * user namespace may map ids other than its own), then releases it
 * through the sync pipe. The holder builds the view and answers on the
 * status pipe with one report: the step it failed at and the errno, or
 * step 0 when the view is ready.
 */
#include "holder.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

#define HOLDER_STACK_SIZE (64 * 1024)
#define HOLDER_START_TIMEOUT_MS 10000
#define HOLDER_HOSTNAME "noxrunner"
/* fds the holder keeps, moved to these numbers before the rest close. */
#define HOLDER_FD_SYNC 3
#define HOLDER_FD_STATUS 4
#define HOLDER_FD_LIFELINE 5

/* Runs in the holder, on the clone stack: no sanitizer instrumentation
 * (ASan does not know that stack), never inlined into engine code. */
#define HOLDER_FN __attribute__((no_sanitize("address", "undefined"), noinline))

/* Host directories shown read-only. Debian 12 has a merged /usr, where
 * /bin, /sbin and /lib* are symlinks into /usr: they are recreated as the
 * same symlinks. Missing ones are skipped. */
static const char *const holder_ro_dirs[] = {
    "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc",
};
#define HOLDER_N_RO (sizeof(holder_ro_dirs) / sizeof(holder_ro_dirs[0]))

/* Device nodes bound from the host's /dev. */
static const char *const holder_devs[] = {"null",   "zero",    "full",
                                          "random", "urandom", "tty"};
#define HOLDER_N_DEV (sizeof(holder_devs) / sizeof(holder_devs[0]))

/* Steps the holder reports a failure at; names in holder_step_names. */
typedef enum {
    HOLDER_OK = 0,
    HOLDER_SYNC,
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
    HOLDER_HOSTNAME_STEP,
    HOLDER_LOOPBACK,
    HOLDER_PIVOT,
    HOLDER_ROOT_RO,
    HOLDER_SIGNALFD,
    HOLDER_STEP_COUNT
} holder_step_t;

static const char *const holder_step_names[HOLDER_STEP_COUNT] = {
    "ready",
    "clone",
    "make mounts private",
    "mount tmpfs for the root",
    "enter the new root",
    "bind a host directory read-only",
    "make a host directory read-only (mount_setattr, Linux >= 5.12)",
    "recreate a /usr symlink",
    "bind the workspace on /workspace",
    "bind the sandbox tmp on /tmp",
    "build /dev",
    "mount proc on /proc",
    "make /proc/sys read-only",
    "set the hostname",
    "bring up loopback",
    "pivot_root",
    "make the root read-only",
    "signalfd",
};

#define HOLDER_LINK_MAX 256
#define HOLDER_PATH_MAX (NOX_HOLDER_PATH_MAX + 16)

/* The view to build, sent by the engine through the control pipe once
 * the holder has a sandbox (a spare holder waits for it). */
typedef struct {
    char ro_kind[HOLDER_N_RO]; /* 'd' bind, 'l' symlink, 0 skip */
    char ro_link[HOLDER_N_RO][HOLDER_LINK_MAX];
    char root[HOLDER_PATH_MAX]; /* where the tmpfs root goes */
    char workspace[HOLDER_PATH_MAX];
    char tmp[HOLDER_PATH_MAX];
} holder_plan_t;

/* What the clone copies into the holder: the fds it keeps. */
typedef struct {
    int  ctl_fd, status_fd, lifeline_fd;
    bool new_net;
    bool make_dumpable; /* see holder_unlock_proc */
} holder_boot_t;

typedef struct {
    int step;
    int err;
} holder_report_t;

/* ------------------------------------------------------------------ */
/* The holder: async-signal-safe system calls only                     */
/* ------------------------------------------------------------------ */

static HOLDER_FN void
holder_fail(int step)
{
    holder_report_t r = {step, errno};

    /* If the engine is gone there is nobody to tell. */
    (void)write(HOLDER_FD_STATUS, &r, sizeof(r));
    _exit(1);
}

static HOLDER_FN int
holder_setattr(const char *path, unsigned flags, unsigned long set)
{
    struct mount_attr a;

    memset(&a, 0, sizeof(a));
    a.attr_set = set;
    return mount_setattr(AT_FDCWD, path, flags, &a, sizeof(a));
}

/* Create path (relative to the new root) as an empty file to bind a file
 * on. */
static HOLDER_FN int
holder_touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

    if (fd < 0)
        return -1;
    return close(fd);
}

static HOLDER_FN void
holder_bind_ro(const holder_plan_t *p)
{
    char src[16];

    for (size_t i = 0; i < HOLDER_N_RO; i++) {
        const char *d = holder_ro_dirs[i];
        if (p->ro_kind[i] == 'l') {
            if (symlink(p->ro_link[i], d) != 0)
                holder_fail(HOLDER_SYMLINK);
            continue;
        }
        if (p->ro_kind[i] != 'd')
            continue;
        src[0] = '/';
        /* Names in holder_ro_dirs are short; strlen is AS-safe. */
        memcpy(src + 1, d, strlen(d) + 1);
        if (mkdir(d, 0755) != 0 ||
            mount(src, d, NULL, MS_BIND | MS_REC, NULL) != 0)
            holder_fail(HOLDER_RO_BIND);
        if (holder_setattr(d, AT_RECURSIVE,
                           MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                               MOUNT_ATTR_NODEV) != 0)
            holder_fail(HOLDER_RO_ATTR);
    }
}

static HOLDER_FN void
holder_bind_rw(const char *src, const char *dst, int step)
{
    if (mkdir(dst, 0755) != 0 || mount(src, dst, NULL, MS_BIND, NULL) != 0 ||
        holder_setattr(dst, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV) != 0)
        holder_fail(step);
}

/* A minimal /dev: a tmpfs with the host's harmless nodes bound in, the
 * usual /proc/self/fd links and a private /dev/shm. */
static HOLDER_FN void
holder_dev(void)
{
    char dst[32], src[32];

    if (mkdir("dev", 0755) != 0 ||
        mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
              "mode=0755,size=64k") != 0)
        holder_fail(HOLDER_DEV);
    for (size_t i = 0; i < HOLDER_N_DEV; i++) {
        size_t n = strlen(holder_devs[i]);
        memcpy(dst, "dev/", 4);
        memcpy(dst + 4, holder_devs[i], n + 1);
        memcpy(src, "/dev/", 5);
        memcpy(src + 5, holder_devs[i], n + 1);
        if (holder_touch(dst) != 0 || mount(src, dst, NULL, MS_BIND, NULL) != 0)
            holder_fail(HOLDER_DEV);
    }
    if (symlink("/proc/self/fd", "dev/fd") != 0 ||
        symlink("/proc/self/fd/0", "dev/stdin") != 0 ||
        symlink("/proc/self/fd/1", "dev/stdout") != 0 ||
        symlink("/proc/self/fd/2", "dev/stderr") != 0 ||
        mkdir("dev/shm", 01777) != 0 ||
        mount("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") !=
            0)
        holder_fail(HOLDER_DEV);
}

/* Our own /proc (we are pid 1 of the new pid namespace), with the parts
 * that write to the kernel read-only, as bubblewrap does. */
static HOLDER_FN void
holder_proc(void)
{
    static const char *const ro[] = {"proc/sys", "proc/sysrq-trigger",
                                     "proc/irq", "proc/bus"};
    struct stat              sb;

    if (mkdir("proc", 0555) != 0 ||
        mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) !=
            0)
        holder_fail(HOLDER_PROC);
    for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        if (lstat(ro[i], &sb) != 0)
            continue; /* not every kernel has every one */
        if (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) != 0 ||
            holder_setattr(ro[i], AT_RECURSIVE, MOUNT_ATTR_RDONLY) != 0)
            holder_fail(HOLDER_PROC_RO);
    }
}

/* A new network namespace starts with lo down: 127.0.0.1 would not even
 * reach the sandbox's own listeners. */
static HOLDER_FN void
holder_loopback(void)
{
    struct ifreq ifr;
    int          s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (s < 0)
        holder_fail(HOLDER_LOOPBACK);
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
        holder_fail(HOLDER_LOOPBACK);
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
        holder_fail(HOLDER_LOOPBACK);
    (void)close(s);
}

/* Move the three fds we keep to fixed numbers and close everything else
 * (a copy of every engine fd, including other holders' pipes). */
static HOLDER_FN void
holder_fds(const holder_boot_t *b)
{
    /* The fds are all >= 3 and distinct, but one of them may sit on a
     * target number: go through numbers above every target first. */
    int s = fcntl(b->ctl_fd, F_DUPFD, 10), t = fcntl(b->status_fd, F_DUPFD, 10),
        l = fcntl(b->lifeline_fd, F_DUPFD, 10);

    if (s < 0 || t < 0 || l < 0 || dup2(s, HOLDER_FD_SYNC) < 0 ||
        dup2(t, HOLDER_FD_STATUS) < 0 || dup2(l, HOLDER_FD_LIFELINE) < 0)
        _exit(1); /* no status fd to report through */
    if (close_range(HOLDER_FD_LIFELINE + 1, ~0U, 0) != 0)
        _exit(1);
}

/* pid 1 of the sandbox: reap orphans (a command's background children are
 * reparented to us) until the engine's process is gone. */
static HOLDER_FN void
holder_serve(void)
{
    sigset_t chld;
    int      sfd;

    (void)sigemptyset(&chld);
    (void)sigaddset(&chld, SIGCHLD);
    sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        holder_fail(HOLDER_SIGNALFD);
    holder_report_t ok = {HOLDER_OK, 0};
    if (write(HOLDER_FD_STATUS, &ok, sizeof(ok)) != (ssize_t)sizeof(ok))
        _exit(1);
    (void)close(HOLDER_FD_STATUS);
    for (;;) {
        struct pollfd           pfd[2] = {{HOLDER_FD_LIFELINE, POLLIN, 0},
                                          {sfd, POLLIN, 0}};
        struct signalfd_siginfo si;

        if (poll(pfd, 2, -1) < 0)
            continue; /* EINTR: every signal is blocked, but be safe */
        if (pfd[0].revents != 0)
            _exit(0); /* the engine's process is gone */
        while (read(sfd, &si, sizeof(si)) > 0)
            ;
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
}

/* Read the whole plan from the control pipe; EOF (the engine dropped a
 * spare, or died) ends us quietly. */
static HOLDER_FN void
holder_read_plan(holder_plan_t *p)
{
    size_t  got = 0;
    ssize_t n;

    while (got < sizeof(*p)) {
        n = read(HOLDER_FD_SYNC, (char *)p + got, sizeof(*p) - got);
        if (n == 0)
            _exit(0);
        if (n < 0)
            holder_fail(HOLDER_SYNC);
        got += (size_t)n;
    }
}

static HOLDER_FN int
holder_main(void *arg)
{
    const holder_boot_t *b = arg;
    holder_plan_t        plan, *p = &plan;
    char                 go;

    holder_fds(b);
    /* A process that changed its ids (a service dropping root) is not
     * dumpable, and neither are its children: their /proc files then
     * belong to root, and the engine could not write our id maps. We may
     * make ourselves dumpable; the engine waits for that. */
    if (b->make_dumpable) {
        if (prctl(PR_SET_DUMPABLE, 1) != 0 ||
            write(HOLDER_FD_STATUS, "d", 1) != 1)
            _exit(1);
    }
    /* Our memory, /proc/1/environ and cmdline are copies of the
     * engine's. Commands cannot read them: as root they run as another
     * user; rootless they lack the capabilities we hold, which ptrace
     * access (and so /proc/1/mem and environ) requires. Not made
     * non-dumpable: that would also stop a rootless engine's setns. */
    /* Wait for our id maps. EOF means the engine gave up on us. */
    if (read(HOLDER_FD_SYNC, &go, 1) != 1)
        _exit(0);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        holder_fail(HOLDER_PRIVATE);
    holder_read_plan(p);
    (void)close(HOLDER_FD_SYNC);
    if (mount("tmpfs", p->root, "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=0755,size=1m") != 0)
        holder_fail(HOLDER_ROOT_TMPFS);
    if (chdir(p->root) != 0)
        holder_fail(HOLDER_ROOT_CHDIR);
    holder_bind_ro(p);
    holder_bind_rw(p->workspace, "workspace", HOLDER_WORKSPACE);
    holder_bind_rw(p->tmp, "tmp", HOLDER_TMP);
    holder_dev();
    holder_proc();
    if (sethostname(HOLDER_HOSTNAME, sizeof(HOLDER_HOSTNAME) - 1) != 0)
        holder_fail(HOLDER_HOSTNAME_STEP);
    if (b->new_net)
        holder_loopback();
    /* pivot_root(".", ".") stacks the old root under the new one; the
     * detach then drops every host mount from this namespace. */
    if (syscall(SYS_pivot_root, ".", ".") != 0 ||
        umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
        holder_fail(HOLDER_PIVOT);
    if (holder_setattr("/", 0, MOUNT_ATTR_RDONLY) != 0)
        holder_fail(HOLDER_ROOT_RO);
    holder_serve();
    return 0;
}

/* ------------------------------------------------------------------ */
/* The engine's side                                                   */
/* ------------------------------------------------------------------ */

bool
nox__holder_drops_to_nobody(void)
{
    return geteuid() == 0;
}

/* Fill the plan: paths, and what each read-only directory is on this
 * host (looked at here, where stdio and snprintf may be used). */
static nox_err_t
holder_plan(holder_plan_t *p, const nox_holder_view_t *v, nox_status_t *st)
{
    struct stat sb;
    int         n1, n2, n3;

    memset(p, 0, sizeof(*p));
    n1 = snprintf(p->root, sizeof(p->root), "%s", v->root);
    n2 = snprintf(p->workspace, sizeof(p->workspace), "%s", v->workspace);
    n3 = snprintf(p->tmp, sizeof(p->tmp), "%s", v->tmp);
    if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof(p->root) ||
        (size_t)n2 >= sizeof(p->workspace) || (size_t)n3 >= sizeof(p->tmp))
        return nox__status_set(st, NOX_EINVAL, "sandbox path too long");
    for (size_t i = 0; i < HOLDER_N_RO; i++) {
        char path[32];
        (void)snprintf(path, sizeof(path), "/%s", holder_ro_dirs[i]);
        if (lstat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            p->ro_kind[i] = 'd';
        } else if (S_ISLNK(sb.st_mode)) {
            ssize_t n = readlink(path, p->ro_link[i], HOLDER_LINK_MAX - 1);
            if (n > 0) {
                p->ro_link[i][n] = '\0';
                p->ro_kind[i] = 'l';
            }
        }
    }
    return NOX_OK;
}

/* Write /proc/<pid>/<file>. */
static int
holder_write_proc(pid_t pid, const char *file, const char *text)
{
    char path[64];
    int  fd, e = 0;

    (void)snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    e = nox__write_all(fd, text, strlen(text));
    if (close(fd) != 0 && e == 0)
        e = errno;
    return e;
}

/* The id maps (see holder.h): as root, 0 and 65534 map to themselves;
 * rootless, our own ids map to 0, after setgroups is denied (the kernel
 * requires that before an unprivileged gid map). */
static nox_err_t
holder_map_ids(pid_t pid, nox_status_t *st)
{
    char uid_map[64], gid_map[64];
    int  e;

    if (geteuid() == 0) {
        (void)snprintf(uid_map, sizeof(uid_map), "0 0 1\n%d %d 1\n",
                       NOX_SANDBOX_UID, NOX_SANDBOX_UID);
        (void)snprintf(gid_map, sizeof(gid_map), "0 0 1\n%d %d 1\n",
                       NOX_SANDBOX_GID, NOX_SANDBOX_GID);
        e = 0;
    } else {
        (void)snprintf(uid_map, sizeof(uid_map), "0 %ld 1\n", (long)geteuid());
        (void)snprintf(gid_map, sizeof(gid_map), "0 %ld 1\n", (long)getegid());
        e = holder_write_proc(pid, "setgroups", "deny");
    }
    if (e == 0)
        e = holder_write_proc(pid, "uid_map", uid_map);
    if (e == 0)
        e = holder_write_proc(pid, "gid_map", gid_map);
    if (e != 0)
        return nox__status_errno(st, NOX_EPRECOND, e,
                                 "namespaces: cannot write the user "
                                 "namespace's id maps");
    return NOX_OK;
}

/* Wait for the holder's report. */
static nox_err_t
holder_await(int status_fd, nox_status_t *st)
{
    struct pollfd   pfd = {status_fd, POLLIN, 0};
    holder_report_t r;
    ssize_t         n;
    int             rc;

    do
        rc = poll(&pfd, 1, HOLDER_START_TIMEOUT_MS);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return nox__status_set(st, NOX_EINTERNAL,
                               "namespaces: the holder did not start "
                               "within %d ms",
                               HOLDER_START_TIMEOUT_MS);
    do
        n = read(status_fd, &r, sizeof(r));
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(r))
        return nox__status_set(st, NOX_EINTERNAL,
                               "namespaces: the holder died while starting");
    if (r.step == HOLDER_OK)
        return NOX_OK;
    return nox__status_errno(st, NOX_EPRECOND, r.err, "namespaces: %s",
                             r.step > 0 && r.step < HOLDER_STEP_COUNT
                                 ? holder_step_names[r.step]
                                 : "start");
}

/* Wait for the holder's "d": it made itself dumpable. */
static nox_err_t
holder_await_dumpable(int status_fd, nox_status_t *st)
{
    struct pollfd pfd = {status_fd, POLLIN, 0};
    char          d = 0;
    int           rc;

    do
        rc = poll(&pfd, 1, HOLDER_START_TIMEOUT_MS);
    while (rc < 0 && errno == EINTR);
    if (rc <= 0 || read(status_fd, &d, 1) != 1 || d != 'd')
        return nox__status_set(st, NOX_EINTERNAL,
                               "namespaces: the holder died while starting");
    return NOX_OK;
}

/* clone() with the new namespaces; a copy of this process (not CLONE_VM:
 * the holder outlives this call), run on a stack of its own with every
 * signal blocked (the holder keeps them blocked; only SIGKILL ends it). */
static int
holder_clone(holder_boot_t *b, pid_t *pid, int *pidfd)
{
    const size_t len = HOLDER_STACK_SIZE;
    sigset_t     all, old;
    int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
                CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_PIDFD | SIGCHLD;
    void *stack = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    int   rc, e, fd = -1;

    if (stack == MAP_FAILED)
        return errno;
    if (b->new_net)
        flags |= CLONE_NEWNET;
    (void)sigfillset(&all);
    e = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (e != 0) {
        (void)munmap(stack, len);
        return e;
    }
    rc = clone(holder_main, (char *)stack + len, flags, b, &fd);
    e = rc < 0 ? errno : 0;
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* The holder has its own copy of the stack mapping. */
    (void)munmap(stack, len);
    if (e == 0) {
        *pid = rc;
        *pidfd = fd;
    }
    return e;
}

nox_err_t
nox__holder_spawn(bool host_net, int lifeline_fd, nox_holder_t *h,
                  nox_status_t *st)
{
    int           ctl[2] = {-1, -1}, status[2] = {-1, -1};
    nox_holder_t  hh = {0, -1, -1, -1};
    holder_boot_t b;
    nox_err_t     rv = NOX_OK;
    int           e;

    if (pipe2(ctl, O_CLOEXEC) != 0 || pipe2(status, O_CLOEXEC) != 0) {
        rv = nox__status_errno(st, NOX_ERESOURCE, errno, "namespaces: pipe");
        goto out;
    }
    /* Not dumpable (see holder_main): only then is the handshake needed,
     * and only rootless (root writes the maps of any process). */
    b = (holder_boot_t){ctl[0], status[1], lifeline_fd, !host_net,
                        geteuid() != 0 && prctl(PR_GET_DUMPABLE) != 1};
    e = holder_clone(&b, &hh.pid, &hh.pidfd);
    if (e != 0) {
        rv = nox__status_errno(
            st, e == ENOMEM || e == EAGAIN ? NOX_ERESOURCE : NOX_EPRECOND, e,
            "namespaces: clone");
        goto out;
    }
    hh.ctl_fd = ctl[1];
    hh.status_fd = status[0];
    ctl[1] = status[0] = -1;
    if (b.make_dumpable)
        rv = holder_await_dumpable(hh.status_fd, st);
    if (rv == NOX_OK)
        rv = holder_map_ids(hh.pid, st);
    if (rv == NOX_OK && nox__write_all(hh.ctl_fd, "g", 1) != 0)
        rv = nox__status_errno(st, NOX_EINTERNAL, errno, "namespaces: sync");
    if (rv != NOX_OK)
        nox__holder_stop(&hh);
out:
    /* Our copies of the holder's ends: a dead holder then reads as EOF. */
    nox__close(ctl[0]);
    nox__close(ctl[1]);
    nox__close(status[0]);
    nox__close(status[1]);
    if (rv == NOX_OK)
        *h = hh;
    return rv;
}

nox_err_t
nox__holder_assign(nox_holder_t *h, const nox_holder_view_t *v,
                   nox_status_t *st)
{
    holder_plan_t *p = malloc(sizeof(*p)); /* ~5 KiB */
    nox_err_t      rv;

    if (p == NULL) {
        nox__holder_stop(h);
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    }
    rv = holder_plan(p, v, st);
    /* Less than a pipe buffer: the write does not wait for the reader. */
    if (rv == NOX_OK && nox__write_all(h->ctl_fd, p, sizeof(*p)) != 0)
        rv = nox__status_errno(st, NOX_EINTERNAL, errno, "namespaces: plan");
    free(p);
    if (rv == NOX_OK)
        rv = holder_await(h->status_fd, st);
    if (rv != NOX_OK) {
        nox__holder_stop(h);
        return rv;
    }
    nox__close(h->ctl_fd);
    nox__close(h->status_fd);
    h->ctl_fd = h->status_fd = -1;
    return NOX_OK;
}

nox_err_t
nox__holder_start(const nox_holder_cfg_t *c, nox_holder_t *h, nox_status_t *st)
{
    char              root[NOX_HOLDER_PATH_MAX], ws[NOX_HOLDER_PATH_MAX];
    char              tmp[NOX_HOLDER_PATH_MAX];
    nox_holder_view_t v = {root, ws, tmp};
    nox_err_t         rv;

    rv = nox__holder_view_paths(c->sb_path, root, ws, tmp, st);
    if (rv == NOX_OK)
        rv = nox__holder_spawn(c->host_net, c->lifeline_fd, h, st);
    if (rv == NOX_OK)
        rv = nox__holder_assign(h, &v, st);
    return rv;
}

nox_err_t
nox__holder_view_paths(const char *sb_path, char *root, char *ws, char *tmp,
                       nox_status_t *st)
{
    const size_t len = NOX_HOLDER_PATH_MAX;
    int          n1 = snprintf(root, len, "%s/.root", sb_path);
    int          n2 = snprintf(ws, len, "%s/workspace", sb_path);
    int          n3 = snprintf(tmp, len, "%s/tmp", sb_path);

    if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= len || (size_t)n2 >= len ||
        (size_t)n3 >= len)
        return nox__status_set(st, NOX_EINVAL, "sandbox path too long");
    /* The mount point of the sandbox's root; made here, as ourselves. */
    if (mkdir(root, 0700) != 0 && errno != EEXIST)
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "namespaces: cannot create %s", root);
    return NOX_OK;
}

bool
nox__holder_alive(const nox_holder_t *h)
{
    struct pollfd pfd = {h->pidfd, POLLIN, 0};

    if (h->pidfd < 0)
        return false;
    return poll(&pfd, 1, 0) == 0;
}

void
nox__holder_stop(nox_holder_t *h)
{
    siginfo_t si;

    nox__close(h->ctl_fd);
    nox__close(h->status_fd);
    h->ctl_fd = h->status_fd = -1;
    if (h->pidfd < 0)
        return;
    /* Fails only when it is already dead, which is what we want. */
    (void)pidfd_send_signal(h->pidfd, SIGKILL, NULL, 0);
    while (waitid(P_PIDFD, (id_t)h->pidfd, &si, WEXITED) != 0 && errno == EINTR)
        ;
    nox__close(h->pidfd);
    h->pidfd = -1;
    h->pid = 0;
}
