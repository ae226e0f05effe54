/* proc.c - child processes (run and wait, start and stop, RSS) and file
 * tree removal. */
#include "bench.h"
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PROC_STOP_POLL_MS 5

/* Read both pipes until EOF and discard the bytes. 0 or an errno. */
static int
proc_drain(int a, int b)
{
    struct pollfd pfd[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    char          buf[4096];
    int           open_fds = 2;

    while (open_fds > 0) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        for (int i = 0; i < 2; i++) {
            ssize_t n;

            if (pfd[i].fd < 0 || pfd[i].revents == 0)
                continue;
            n = read(pfd[i].fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return errno;
            if (n == 0) {
                pfd[i].fd = -1; /* poll ignores negative fds */
                open_fds--;
            }
        }
    }
    return 0;
}

/* Wait for pid, retrying on EINTR. 0 or an errno. */
static int
proc_wait(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* posix_spawn argv with stdin from /dev/null and, when out_w/err_w are
 * not -1, stdout/stderr onto them. 0 or an errno. */
static int
proc_spawn(const char *const *argv, int out_w, int err_w, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    int                        rv;

    if ((rv = posix_spawn_file_actions_init(&fa)) != 0)
        return rv;
    rv = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rv == 0 && out_w >= 0)
        rv = posix_spawn_file_actions_adddup2(&fa, out_w, 1);
    if (rv == 0 && err_w >= 0)
        rv = posix_spawn_file_actions_adddup2(&fa, err_w, 2);
    /* glibc's posix_spawn uses clone(CLONE_VM|CLONE_VFORK): the cost does
     * not grow with our address space, as the engine's own spawn. */
    if (rv == 0)
        rv = posix_spawn(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    (void)posix_spawn_file_actions_destroy(&fa); /* cannot fail on glibc */
    return rv;
}

int
bench_run(const char *const *argv, int *status)
{
    int   out[2], err[2], rv, wrv;
    pid_t pid;

    /* O_CLOEXEC: only the dup2'd copies reach the child. */
    if (pipe2(out, O_CLOEXEC) != 0)
        return errno;
    if (pipe2(err, O_CLOEXEC) != 0) {
        rv = errno;
        goto out_close_out;
    }
    rv = proc_spawn(argv, out[1], err[1], &pid);
    /* Our write ends must go before draining, or EOF never comes. */
    nox__close(out[1]);
    nox__close(err[1]);
    out[1] = err[1] = -1;
    if (rv != 0)
        goto out_close_err;
    rv = proc_drain(out[0], err[0]);
    if (rv != 0)
        (void)kill(pid, SIGKILL); /* never leave it behind; wait below */
    if ((wrv = proc_wait(pid, status)) != 0 && rv == 0)
        rv = wrv;
out_close_err:
    nox__close(err[0]);
    nox__close(err[1]);
out_close_out:
    nox__close(out[0]);
    nox__close(out[1]);
    return rv;
}

int
bench_start(const char *const *argv, int err_fd, pid_t *pid)
{
    pid_t parent = getpid(), p;
    int   null_fd, e;

    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0)
        return errno;
    /* fork, not posix_spawn, for the prctl; the child makes only
     * async-signal-safe calls until execve (NNG is not fork-safe). */
    p = fork();
    if (p == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent ||
            dup2(null_fd, 0) < 0 || (err_fd >= 0 && dup2(err_fd, 2) < 0))
            _exit(127);
        (void)execve(argv[0], (char *const *)argv, environ);
        _exit(127);
    }
    e = p < 0 ? errno : 0;
    nox__close(null_fd);
    if (e == 0)
        *pid = p;
    return e;
}

int
bench_stop(pid_t pid, int timeout_ms, int *status)
{
    struct timespec nap = {0, PROC_STOP_POLL_MS * 1000000L};
    int             st = 0, rv;

    if (kill(pid, SIGTERM) != 0 && errno != ESRCH)
        return errno;
    for (int waited = 0; waited < timeout_ms; waited += PROC_STOP_POLL_MS) {
        pid_t r = waitpid(pid, &st, WNOHANG);

        if (r == pid) {
            if (status != NULL)
                *status = st;
            return 0;
        }
        if (r < 0 && errno != EINTR)
            return errno;
        (void)nanosleep(&nap, NULL); /* EINTR only shortens the nap */
    }
    (void)fprintf(stderr, "nox-bench: pid %ld ignored SIGTERM; killing it\n",
                  (long)pid);
    if (kill(pid, SIGKILL) != 0 && errno != ESRCH)
        return errno;
    if ((rv = proc_wait(pid, &st)) != 0)
        return rv;
    if (status != NULL)
        *status = st;
    return 0;
}

long
bench_rss_kib(pid_t pid)
{
    char  path[64], line[256];
    long  kib = -1;
    FILE *f;

    (void)snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    if ((f = fopen(path, "re")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    (void)fclose(f); /* read-only: nothing to lose */
    return kib;
}

int
bench_cpu_ticks(bench_cpu_t *c)
{
    unsigned long long v[8] = {0};
    FILE              *f = fopen("/proc/stat", "re");
    int                n;

    if (f == NULL)
        return -1;
    /* "cpu  user nice system idle iowait irq softirq steal ..." */
    n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
               &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    (void)fclose(f); /* read-only: nothing to lose */
    if (n != 8)
        return -1;
    c->idle = v[3] + v[4];
    c->total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    return 0;
}

double
bench_cpus_busy(const bench_cpu_t *from, const bench_cpu_t *to)
{
    long   ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double total = (double)(to->total - from->total);

    if (ncpu <= 0 || total <= 0)
        return NAN;
    return (double)ncpu * (total - (double)(to->idle - from->idle)) / total;
}

int
bench_rmtree(const char *path)
{
    nox_status_t st;

    if (nox__rmtree_at(AT_FDCWD, path, &st) != NOX_OK) {
        (void)fprintf(stderr, "nox-bench: cannot remove %s: %s\n", path,
                      st.msg);
        return -1;
    }
    return 0;
}

int
bench_syncfs(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rv;

    if (fd < 0)
        return -1;
    rv = syncfs(fd);
    nox__close(fd);
    return rv == 0 ? 0 : -1;
}

int
bench_path(char *out, size_t len, const char *a, const char *b)
{
    int n = snprintf(out, len, "%s/%s", a, b);

    return n < 0 || (size_t)n >= len ? -1 : 0;
}
