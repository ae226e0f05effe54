/* daemon.c - noxrunnerd as a separate process, as clients meet it: for
 * the exec group's ipc and tcp rows and the scale group. */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DAEMON_MAX_URLS 4
#define DAEMON_STOP_MS 10000

int
bench_daemon_start(bench_t *b, const char *group, const char *const *urls,
                   size_t n, pid_t *pid)
{
    char        bin[PATH_MAX], dir[PATH_MAX];
    const char *argv[6 + 2 * DAEMON_MAX_URLS + 1];
    size_t      k = 0;
    int         rv;

    if (n > DAEMON_MAX_URLS) {
        bench_fail(b, group, "noxrunnerd: too many URLs");
        return -1;
    }
    if (bench_path(bin, sizeof(bin), b->bin_dir, "noxrunnerd") != 0 ||
        bench_path(dir, sizeof(dir), b->work, group) != 0 ||
        access(bin, X_OK) != 0) {
        bench_fail(b, group, "no noxrunnerd next to nox-bench (%s)", bin);
        return -1;
    }
    argv[k++] = bin;
    for (size_t i = 0; i < n; i++) {
        argv[k++] = "--listen";
        argv[k++] = urls[i];
    }
    /* Plain sandboxes: the figures compare with the plain floor. */
    argv[k++] = "--base-dir";
    argv[k++] = dir;
    argv[k++] = "--quiet";
    argv[k++] = "--isolation";
    argv[k++] = "none";
    argv[k] = NULL;
    if ((rv = bench_start(argv, pid)) != 0) {
        bench_fail(b, group, "cannot start %s: %s", bin, strerror(rv));
        return -1;
    }
    return 0;
}

void
bench_daemon_stop(bench_t *b, const char *group, pid_t pid)
{
    int rv, status;

    if ((rv = bench_stop(pid, DAEMON_STOP_MS, &status)) != 0)
        bench_fail(b, group, "stopping noxrunnerd: %s", strerror(rv));
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        bench_fail(b, group, "noxrunnerd ended with wait status 0x%x", status);
}

int
bench_free_tcp_url(char *buf, size_t len)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t          sl = sizeof(sin);
    int                fd, n, err;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
        err = errno;
        (void)close(fd);
        errno = err;
        return -1;
    }
    (void)close(fd); /* never connected: nothing to lose */
    n = snprintf(buf, len, "tcp://127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}
