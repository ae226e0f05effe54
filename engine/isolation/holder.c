/*
 * holder.c - start, watch and stop a sandbox's namespace holder, the
 * engine's side (see holder.h for what a holder is and why, and
 * holder_impl.h for the start-up handshake). The holder's own code is in
 * holder_child.c.
 */
#include "holder_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOLDER_STACK_SIZE (64 * 1024)
#define HOLDER_START_TIMEOUT_MS 10000

/* Indexed by holder_step_t (holder_impl.h); keep the two in step. */
static const char *const holder_step_names[HOLDER_STEP_COUNT] = {
    "ready",
    "clone",
    "leave the engine's session and keyring",
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
    "limit nested namespaces (/proc/sys/user)",
    "set the hostname",
    "bring up loopback",
    "pivot_root",
    "make the root read-only",
    "signalfd",
};

bool
nox__holder_drops_to_nobody(void)
{
    return geteuid() == 0;
}

/* Where our argv and environment strings are: fields 48-51 of
 * /proc/self/stat (after the parenthesised command name, which may hold
 * spaces). Left 0 when they cannot be read; the holder then wipes
 * nothing. */
static void
holder_args_range(holder_boot_t *b)
{
    char    buf[2048];
    ssize_t n;
    int     fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return;
    n = read(fd, buf, sizeof(buf) - 1);
    nox__close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    /* Field 3 follows ") "; skip to field 48. */
    for (int field = 3; p != NULL && field <= 48; field++)
        p = strchr(p + 1, ' ');
    if (p == NULL || sscanf(p, " %lu %lu %lu %lu", &b->args_start, &b->args_end,
                            &b->env_start, &b->env_end) != 4)
        b->args_start = b->args_end = b->env_start = b->env_end = 0;
}

/* Fill the boot-time part of the view: the root's mount point and what
 * each read-only directory is on this host (looked at here, where stdio
 * and snprintf may be used). */
static nox_err_t
holder_boot_view(holder_boot_t *b, const char *root, nox_status_t *st)
{
    struct stat sb;
    int         n = snprintf(b->root, sizeof(b->root), "%s", root);

    holder_args_range(b);
    if (n < 0 || (size_t)n >= sizeof(b->root))
        return nox__status_set(st, NOX_EINVAL, "root path too long");
    for (size_t i = 0; i < HOLDER_N_RO; i++) {
        char path[32];
        (void)snprintf(path, sizeof(path), "/%s", nox__holder_ro_dirs[i]);
        if (lstat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            b->ro_kind[i] = 'd';
        } else if (S_ISLNK(sb.st_mode)) {
            ssize_t r = readlink(path, b->ro_link[i], HOLDER_LINK_MAX - 1);
            if (r > 0) {
                b->ro_link[i][r] = '\0';
                b->ro_kind[i] = 'l';
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
    rc = clone(nox__holder_main, (char *)stack + len, flags, b, &fd);
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
nox__holder_spawn(const char *root, bool host_net, int lifeline_fd,
                  nox_holder_t *h, nox_status_t *st)
{
    int            ctl[2] = {-1, -1}, status[2] = {-1, -1};
    nox_holder_t   hh = NOX_HOLDER_INIT;
    holder_boot_t *b = calloc(1, sizeof(*b)); /* ~3 KiB */
    nox_err_t      rv = NOX_OK;
    int            e;

    if (b == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    rv = holder_boot_view(b, root, st);
    if (rv != NOX_OK)
        goto out;
    if (pipe2(ctl, O_CLOEXEC) != 0 || pipe2(status, O_CLOEXEC) != 0) {
        rv = nox__status_errno(st, NOX_ERESOURCE, errno, "namespaces: pipe");
        goto out;
    }
    b->ctl_fd = ctl[0];
    b->status_fd = status[1];
    b->lifeline_fd = lifeline_fd;
    b->new_net = !host_net;
    /* Not dumpable (see holder_child.c): only then is the handshake needed,
     * and only rootless (root writes the maps of any process). */
    b->make_dumpable = geteuid() != 0 && prctl(PR_GET_DUMPABLE) != 1;
    e = holder_clone(b, &hh.pid, &hh.pidfd);
    if (e != 0) {
        rv = nox__status_errno(
            st, e == ENOMEM || e == EAGAIN ? NOX_ERESOURCE : NOX_EPRECOND, e,
            "namespaces: clone");
        goto out;
    }
    hh.ctl_fd = ctl[1];
    hh.status_fd = status[0];
    ctl[1] = status[0] = -1;
    /* The holder's ends are its own now: a dead holder reads as EOF. */
    nox__close(ctl[0]);
    nox__close(status[1]);
    ctl[0] = status[1] = -1;
    if (b->make_dumpable)
        rv = holder_await_dumpable(hh.status_fd, st);
    if (rv == NOX_OK)
        rv = holder_map_ids(hh.pid, st);
    if (rv == NOX_OK && nox__write_all(hh.ctl_fd, "g", 1) != 0)
        rv = nox__status_errno(st, NOX_EINTERNAL, errno, "namespaces: sync");
    if (rv == NOX_OK)
        rv = holder_await(hh.status_fd, st); /* the shared part is built */
    if (rv != NOX_OK)
        nox__holder_stop(&hh);
out:
    /* Our copies of the holder's ends: a dead holder then reads as EOF. */
    nox__close(ctl[0]);
    nox__close(ctl[1]);
    nox__close(status[0]);
    nox__close(status[1]);
    free(b);
    if (rv == NOX_OK)
        *h = hh;
    return rv;
}

nox_err_t
nox__holder_assign(nox_holder_t *h, const char *workspace, const char *tmp,
                   nox_status_t *st)
{
    holder_plan_t p;
    nox_err_t     rv = NOX_OK;
    int           n1, n2;

    memset(&p, 0, sizeof(p));
    n1 = snprintf(p.workspace, sizeof(p.workspace), "%s", workspace);
    n2 = snprintf(p.tmp, sizeof(p.tmp), "%s", tmp);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(p.workspace) ||
        (size_t)n2 >= sizeof(p.tmp))
        rv = nox__status_set(st, NOX_EINVAL, "sandbox path too long");
    /* Less than a pipe buffer: the write does not wait for the reader. */
    else if (nox__write_all(h->ctl_fd, &p, sizeof(p)) != 0)
        rv = nox__status_errno(st, NOX_EINTERNAL, errno, "namespaces: plan");
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
    char      ws[NOX_HOLDER_PATH_MAX], tmp[NOX_HOLDER_PATH_MAX];
    nox_err_t rv;

    rv = nox__holder_sandbox_paths(c->sb_path, ws, tmp, st);
    if (rv == NOX_OK)
        rv = nox__holder_spawn(c->root, c->host_net, c->lifeline_fd, h, st);
    if (rv == NOX_OK)
        rv = nox__holder_assign(h, ws, tmp, st);
    return rv;
}

nox_err_t
nox__holder_sandbox_paths(const char *sb_path, char *ws, char *tmp,
                          nox_status_t *st)
{
    const size_t len = NOX_HOLDER_PATH_MAX;
    int          n1 = snprintf(ws, len, "%s/workspace", sb_path);
    int          n2 = snprintf(tmp, len, "%s/tmp", sb_path);

    if (n1 < 0 || n2 < 0 || (size_t)n1 >= len || (size_t)n2 >= len)
        return nox__status_set(st, NOX_EINVAL, "sandbox path too long");
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
