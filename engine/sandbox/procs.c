/* procs.c - kill a sandbox's processes found through /proc/<pid>/environ. */
#include "procs.h"

#include "nox_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
    char        sid_marker[192];  /* "NOXRUNNER_SESSION_ID=<sid>" */
    char        dir_marker[1100]; /* "=<sb_path>/" */
    size_t      sid_len;
    const char *dirs[2]; /* the sandbox's path and where it moved to */
} procs_match_t;

/* Is path at or below dir? */
static bool
procs_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Has pid a controlling terminal? Commands never get one (their stdio is
 * pipes and /dev/null), so a process with one is a person's shell that
 * happens to stand in the sandbox: not ours to kill. */
static bool
procs_has_tty(int proc_fd, const char *pid)
{
    char    path[64], buf[512];
    ssize_t n;
    int     fd, tty = 0;

    (void)snprintf(path, sizeof(path), "%.32s/stat", pid);
    fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true; /* unknown: leave it alone */
    n = read(fd, buf, sizeof(buf) - 1);
    nox__close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    /* "pid (comm) state ppid pgrp session tty_nr ..."; comm may hold
     * spaces and parentheses, so parse after the last ')'. */
    const char *p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %d", &tty) != 1)
        return true;
    return tty != 0;
}

/* Does pid's working directory lie in the sandbox (and is pid not a
 * person's terminal session)? This catches commands that dropped the
 * environment markers (env -i). */
static bool
procs_cwd_matches(int proc_fd, const char *pid, const procs_match_t *m)
{
    char    link[64], cwd[PATH_MAX];
    ssize_t n;

    (void)snprintf(link, sizeof(link), "%.32s/cwd", pid);
    n = readlinkat(proc_fd, link, cwd, sizeof(cwd) - 1);
    if (n <= 0)
        return false;
    cwd[n] = '\0';
    for (size_t i = 0; i < 2; i++)
        if (m->dirs[i] != NULL && procs_under(cwd, m->dirs[i]))
            return !procs_has_tty(proc_fd, pid);
    return false;
}

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
    fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false; /* gone, or not ours to read: not ours to kill */
    while (got < PROCS_ENV_MAX) {
        r = read(fd, buf + got, (size_t)(PROCS_ENV_MAX - got));
        if (r == 0)
            break;
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

    proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc_fd < 0)
        return 0;
    d = fdopendir(proc_fd);
    if (d == NULL) {
        nox__close(proc_fd);
        return 0;
    }
    for (;;) {
        de = readdir(d);
        if (de == NULL)
            break;
        char *end;
        long  pid = strtol(de->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || pid == self)
            continue;
        if ((procs_pid_matches(dirfd(d), de->d_name, m, buf) ||
             procs_cwd_matches(dirfd(d), de->d_name, m)) &&
            kill((pid_t)pid, SIGKILL) == 0)
            killed++;
    }
    (void)closedir(d);
    return killed;
}

int
nox__procs_kill_sandbox(const char *sid, const char *sb_path,
                        const char *moved_path)
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
    m.dirs[0] = sb_path;
    m.dirs[1] = moved_path;
    buf = malloc(PROCS_ENV_MAX);
    if (buf == NULL)
        return 0;
    for (int round = 0; round < PROCS_ROUNDS; round++) {
        n = procs_kill_round(&m, buf);
        if (n == 0)
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
