/* procs.c - kill a sandbox's processes found through /proc/<pid>/environ. */
#include "procs.h"

#include "nox_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROCS_ENV_MAX (64 * 1024) /* environ bytes inspected per process */
#define PROCS_ROUNDS 10

typedef struct {
    char   sid_marker[192];  /* "NOXRUNNER_SESSION_ID=<sid>" */
    char   dir_marker[1100]; /* "=<sb_path>/" */
    size_t sid_len;
} procs_match_t;

/* Does the NUL-separated environment block env/len carry both markers? */
static bool
procs_env_matches(const procs_match_t *m, const char *env, size_t len)
{
    bool        sid = false, dir = false;
    const char *p = env, *end = env + len;

    while (p < end) {
        size_t n = strnlen(p, (size_t)(end - p));
        if (n == m->sid_len && memcmp(p, m->sid_marker, n) == 0)
            sid = true;
        else if (memmem(p, n, m->dir_marker, strlen(m->dir_marker)) != NULL)
            dir = true;
        p += n + 1;
    }
    return sid && dir;
}

static bool
procs_pid_matches(int proc_fd, const char *pid, const procs_match_t *m,
                  char *buf)
{
    char    path[sizeof(((struct dirent *)0)->d_name) + 16];
    ssize_t got = 0, r;
    int     fd;

    (void)snprintf(path, sizeof(path), "%s/environ", pid);
    if ((fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC)) < 0)
        return false; /* gone, or not ours to read: not ours to kill */
    while (got < PROCS_ENV_MAX &&
           (r = read(fd, buf + got, (size_t)(PROCS_ENV_MAX - got))) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        got += r;
    }
    nox__close(fd);
    return got > 0 && procs_env_matches(m, buf, (size_t)got);
}

static int
procs_kill_round(const procs_match_t *m, char *buf)
{
    struct dirent *de;
    pid_t          self = getpid();
    int            killed = 0, proc_fd;
    DIR           *d;

    if ((proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return 0;
    if ((d = fdopendir(proc_fd)) == NULL) {
        nox__close(proc_fd);
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        char *end;
        long  pid = strtol(de->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || pid == self)
            continue;
        if (procs_pid_matches(dirfd(d), de->d_name, m, buf) &&
            kill((pid_t)pid, SIGKILL) == 0)
            killed++;
    }
    (void)closedir(d);
    return killed;
}

int
nox__procs_kill_sandbox(const char *sid, const char *sb_path)
{
    procs_match_t m;
    int           total = 0, n;
    char         *buf;

    if (snprintf(m.sid_marker, sizeof(m.sid_marker), "NOXRUNNER_SESSION_ID=%s",
                 sid) >= (int)sizeof(m.sid_marker) ||
        snprintf(m.dir_marker, sizeof(m.dir_marker), "=%s/", sb_path) >=
            (int)sizeof(m.dir_marker))
        return 0;
    m.sid_len = strlen(m.sid_marker);
    if ((buf = malloc(PROCS_ENV_MAX)) == NULL)
        return 0;
    for (int round = 0; round < PROCS_ROUNDS; round++) {
        if ((n = procs_kill_round(&m, buf)) == 0)
            break;
        total += n;
        /* Let the killed die so a parent that forked in between is found
         * with its child on the next round. */
        struct timespec ts = {0, 5 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    free(buf);
    return total;
}
