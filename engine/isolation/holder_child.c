/*
 * holder_child.c - the holder itself (see holder.h): builds the sandbox's
 * view in its new namespaces, then stays as pid 1 reaping orphans. It is
 * a copy of the engine's process made by clone() without CLONE_VM and
 * never returns to the engine's code, so it makes only async-signal-safe
 * system calls (the engine is multi-threaded), on the plan the engine
 * sent. The engine's side (clone, id maps, plan, reports) is in holder.c.
 */
#include "holder_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/keyctl.h>

/* Runs in the holder, on the clone stack: no sanitizer instrumentation
 * (ASan does not know that stack), never inlined into engine code. */
#define HOLDER_FN __attribute__((no_sanitize("address", "undefined"), noinline))

const char *const nox__holder_ro_dirs[HOLDER_N_RO] = {
    "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc",
};

/* Device nodes bound from the host's /dev. */
static const char *const holder_devs[] = {"null",   "zero",    "full",
                                          "random", "urandom", "tty"};
#define HOLDER_N_DEV (sizeof(holder_devs) / sizeof(holder_devs[0]))

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
holder_bind_ro(const holder_boot_t *p)
{
    char src[16];

    for (size_t i = 0; i < HOLDER_N_RO; i++) {
        const char *d = nox__holder_ro_dirs[i];
        if (p->ro_kind[i] == 'l') {
            if (symlink(p->ro_link[i], d) != 0)
                holder_fail(HOLDER_SYMLINK);
            continue;
        }
        if (p->ro_kind[i] != 'd')
            continue;
        src[0] = '/';
        /* The names are short; strlen is AS-safe. */
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
    if (mount(src, dst, NULL, MS_BIND, NULL) != 0 ||
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
        /* RAM, so bounded; and charged to the memory limit. */
        mkdir("dev/shm", 01777) != 0 ||
        mount("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=1777,size=" HOLDER_SHM_SIZE) != 0)
        holder_fail(HOLDER_DEV);
    /* Rootless, commands share our id and would own /dev: read-only (the
     * device binds and /dev/shm are mounts of their own and stay
     * usable). */
    if (holder_setattr("dev", 0, MOUNT_ATTR_RDONLY) != 0)
        holder_fail(HOLDER_DEV);
}

/* Confine what a sandbox may create inside itself: no user namespaces
 * (each would count against the engine's user's quota on the host, and
 * give a command a full set of capabilities inside), nor other
 * namespaces. The limits are our user namespace's own; /proc/sys is still
 * writable here, before holder_proc_ro. */
static HOLDER_FN void
holder_ns_limits(void)
{
    static const char *const files[] = {
        "proc/sys/user/max_user_namespaces",
        "proc/sys/user/max_mnt_namespaces",
        "proc/sys/user/max_pid_namespaces",
        "proc/sys/user/max_net_namespaces",
        "proc/sys/user/max_ipc_namespaces",
        "proc/sys/user/max_uts_namespaces",
        "proc/sys/user/max_cgroup_namespaces",
    };

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        int fd = open(files[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
            holder_fail(HOLDER_NS_LIMITS);
        (void)close(fd);
    }
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
    holder_ns_limits();
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
    /* Nor the engine's stdio: a pipe on its stdout would stay open as
     * long as the sandbox lives. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
        _exit(1);
    if (null > 2)
        (void)close(null);
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

/* Everything of the view every sandbox shares, built on the tmpfs root
 * at b->root (in this mount namespace only) without leaving the host's
 * tree yet: a spare holder gets this far before it has a sandbox. */
static HOLDER_FN void
holder_build_base(const holder_boot_t *b)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        holder_fail(HOLDER_PRIVATE);
    if (mount("tmpfs", b->root, "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=0755,size=1m") != 0)
        holder_fail(HOLDER_ROOT_TMPFS);
    if (chdir(b->root) != 0)
        holder_fail(HOLDER_ROOT_CHDIR);
    holder_bind_ro(b);
    if (mkdir("workspace", 0755) != 0)
        holder_fail(HOLDER_WORKSPACE);
    if (mkdir("tmp", 0755) != 0)
        holder_fail(HOLDER_TMP);
    holder_dev();
    holder_proc();
    if (sethostname(HOLDER_HOSTNAME, sizeof(HOLDER_HOSTNAME) - 1) != 0)
        holder_fail(HOLDER_HOSTNAME_STEP);
    if (b->new_net)
        holder_loopback();
}

/* Our copy of the engine's memory holds its argv and environment, which
 * /proc/1/cmdline shows anyone in the sandbox; wipe them. */
static HOLDER_FN void
holder_wipe_args(const holder_boot_t *b)
{
    if (b->args_end > b->args_start)
        memset((void *)b->args_start, 0, b->args_end - b->args_start);
    if (b->env_end > b->env_start)
        memset((void *)b->env_start, 0, b->env_end - b->env_start);
}

static HOLDER_FN void
holder_report_ok(void)
{
    holder_report_t ok = {HOLDER_OK, 0};

    if (write(HOLDER_FD_STATUS, &ok, sizeof(ok)) != (ssize_t)sizeof(ok))
        _exit(1);
}

HOLDER_FN int
nox__holder_main(void *arg)
{
    const holder_boot_t *b = arg;
    holder_plan_t        plan;
    char                 go;

    holder_fds(b);
    /* A process that changed its ids (a service dropping root) is not
     * dumpable, and neither are its children: their /proc files then
     * belong to root, and the engine could not write our id maps. We may
     * make ourselves dumpable; the engine waits for that, first of all,
     * so a failure report never arrives in its place. */
    if (b->make_dumpable) {
        if (prctl(PR_SET_DUMPABLE, 1) != 0 ||
            write(HOLDER_FD_STATUS, "d", 1) != 1)
            _exit(1);
    }
    /* Our cmdline was the engine's; ps -o comm tells us apart. A name is
     * cosmetic: failing to set it changes nothing. */
    holder_wipe_args(b);
    (void)prctl(PR_SET_NAME, "nox-holder", 0, 0, 0);
    /* Leave the engine's session (its controlling terminal) and session
     * keyring: the sandbox's pid 1 has neither. */
    if (setsid() < 0 ||
        syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0)
        holder_fail(HOLDER_SESSION);
    /* The rest of our memory is a copy of the engine's. Commands cannot
     * read it: as root they run as another user; rootless they lack the
     * capabilities we hold, which ptrace access (and so /proc/1/mem)
     * requires. Not made non-dumpable: that would also stop a rootless
     * engine's setns. */
    /* Wait for our id maps. EOF means the engine gave up on us. */
    if (read(HOLDER_FD_SYNC, &go, 1) != 1)
        _exit(0);
    holder_build_base(b);
    holder_report_ok();
    holder_read_plan(&plan);
    (void)close(HOLDER_FD_SYNC);
    holder_bind_rw(plan.workspace, "workspace", HOLDER_WORKSPACE);
    holder_bind_rw(plan.tmp, "tmp", HOLDER_TMP);
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
