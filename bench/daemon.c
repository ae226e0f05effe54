/* daemon.c - noxrunnerd as a separate process, as clients meet it: for
 * the ipc, tcp and http rows of the exec, concurrency, lifecycle and
 * files groups and for the scale group. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DAEMON_READY_MS 10000
#define DAEMON_STOP_MS 10000
#define DAEMON_LOG_MAX 8192
#define DAEMON_LISTENING "noxrunnerd: listening on "
#define DAEMON_MAX_LINES (2 * BENCH_DAEMON_MAX_URLS)
#define DAEMON_HTTP "http://"

/* The noxrunnerd log so far, NUL-terminated (empty when unreadable). */
static void
daemon_log(const char *path, char *buf, size_t len)
{
    int     fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

    buf[n > 0 ? (size_t)n : 0] = '\0';
    if (fd >= 0)
        nox__close(fd);
}

/* The length of url's scheme with its "://" (0 when it has none). */
static size_t
daemon_scheme_len(const char *url)
{
    const char *sep = strstr(url, "://");

    return sep != NULL ? (size_t)(sep - url) + 3 : 0;
}

/* The bound URL of listen URL want (a complete "listening on" line of the
 * same scheme, the first not taken by an earlier one: the NNG listeners
 * and the HTTP gateway say theirs in an order of their own) into out. */
static bool
daemon_bound_one(const char *log, const char *want, bool *taken, char *out,
                 size_t outlen)
{
    size_t      slen = daemon_scheme_len(want);
    const char *p = log;

    for (size_t line = 0; (p = strstr(p, DAEMON_LISTENING)) != NULL; line++) {
        const char *url = p + strlen(DAEMON_LISTENING);
        size_t      len = strcspn(url, "\n");

        p = url + len;
        if (url[len] != '\n')
            return false; /* the line is still being written */
        if (line >= DAEMON_MAX_LINES || taken[line] || len >= outlen ||
            strncmp(url, want, slen) != 0)
            continue;
        taken[line] = true;
        memcpy(out, url, len);
        out[len] = '\0';
        return true;
    }
    return false;
}

/* Take the bound URLs from the log's "listening on" lines into d->urls;
 * true once there is one per listen URL. */
static bool
daemon_bound(bench_daemon_t *d, const char *log)
{
    bool taken[DAEMON_MAX_LINES] = {false};

    for (size_t k = 0; k < d->n; k++)
        if (!daemon_bound_one(log, d->want[k], taken, d->urls[k],
                              sizeof(d->urls[k])))
            return false;
    return true;
}

/* Wait until d's noxrunnerd listens on every URL (its log says so), it
 * exits, or DAEMON_READY_MS pass. 0, or -1 reported under group. */
static int
daemon_await(bench_t *b, const char *group, bench_daemon_t *d)
{
    static char     log[DAEMON_LOG_MAX];
    int64_t         end = bench_now_ns() + (int64_t)DAEMON_READY_MS * 1000000;
    struct timespec nap = {0, 5 * 1000000L};
    int             status;

    for (;;) {
        daemon_log(d->log, log, sizeof(log));
        if (daemon_bound(d, log))
            return 0;
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = -1; /* reaped */
            bench_fail(b, group, "noxrunnerd exited at start-up: %s",
                       log[0] ? log : "(no output)");
            return -1;
        }
        if (bench_now_ns() >= end) {
            bench_fail(b, group, "noxrunnerd not listening within %d ms: %s",
                       DAEMON_READY_MS, log[0] ? log : "(no output)");
            return -1;
        }
        (void)nanosleep(&nap, NULL); /* EINTR only shortens the nap */
    }
}

int
bench_daemon_start(bench_t *b, const char *group, const char *const *urls,
                   size_t n, bench_daemon_t *d)
{
    char        bin[PATH_MAX], dir[PATH_MAX], name[64];
    const char *argv[6 + 2 * BENCH_DAEMON_MAX_URLS + 1];
    size_t      k = 0;
    int         rv, log_fd;

    memset(d, 0, sizeof(*d));
    d->pid = -1;
    d->n = n;
    (void)snprintf(name, sizeof(name), "%s.noxrunnerd.log", group);
    if (n > BENCH_DAEMON_MAX_URLS ||
        bench_path(bin, sizeof(bin), b->bin_dir, "noxrunnerd") != 0 ||
        bench_path(dir, sizeof(dir), b->work, group) != 0 ||
        bench_path(d->log, sizeof(d->log), b->work, name) != 0 ||
        access(bin, X_OK) != 0) {
        bench_fail(b, group, "no noxrunnerd next to nox-bench (%s)", bin);
        return -1;
    }
    argv[k++] = bin;
    for (size_t i = 0; i < n; i++) {
        bool http = strncmp(urls[i], DAEMON_HTTP, strlen(DAEMON_HTTP)) == 0;

        /* The REST gateway takes HOST:PORT, the NNG listeners a URL. */
        d->want[i] = urls[i];
        argv[k++] = http ? "--http" : "--listen";
        argv[k++] = http ? urls[i] + strlen(DAEMON_HTTP) : urls[i];
    }
    /* Plain sandboxes: the figures compare with the plain floor. */
    argv[k++] = "--base-dir";
    argv[k++] = dir;
    argv[k++] = "--quiet";
    argv[k++] = "--isolation";
    argv[k++] = "none";
    argv[k] = NULL;
    log_fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        bench_fail(b, group, "%s: %s", d->log, strerror(errno));
        return -1;
    }
    rv = bench_start(argv, log_fd, &d->pid);
    nox__close(log_fd); /* the child has its own copy */
    if (rv != 0) {
        d->pid = -1;
        bench_fail(b, group, "cannot start %s: %s", bin, strerror(rv));
        return -1;
    }
    if (daemon_await(b, group, d) != 0) {
        bench_daemon_stop(b, group, d);
        return -1;
    }
    return 0;
}

void
bench_daemon_stop(bench_t *b, const char *group, bench_daemon_t *d)
{
    int rv, status;

    if (d->pid <= 0)
        return;
    if ((rv = bench_stop(d->pid, DAEMON_STOP_MS, &status)) != 0)
        bench_fail(b, group, "stopping noxrunnerd: %s", strerror(rv));
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        bench_fail(b, group, "noxrunnerd ended with wait status 0x%x", status);
    d->pid = -1;
}
