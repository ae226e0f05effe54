/* testproc.c - servers as child processes of a test (testproc.h). */
#include "testproc.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void
tp_path(char *out, size_t len, const char *var, const char *sub,
        const char *name)
{
    const char *dir = getenv(var);

    ck_assert_msg(dir != NULL, "$%s is not set (run through ctest)", var);
    ck_assert_int_lt(snprintf(out, len, "%s%s/%s", dir, sub, name), (int)len);
}

void
tp_build_path(char *out, size_t len, const char *name)
{
    tp_path(out, len, "NOX_BUILD_DIR", "", name);
}

void
tp_source_path(char *out, size_t len, const char *name)
{
    tp_path(out, len, "NOX_SOURCE_DIR", "/tests", name);
}

/* The URL after "listening on " of the first such line starting with
 * scheme, from the log so far; false while there is none. */
static bool
tp_find_url(tp_child_t *c, const char *scheme)
{
    char        buf[16384];
    const char *p;
    size_t      n = 0;
    FILE       *f = fopen(c->log, "re");

    if (f == NULL)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    (void)fclose(f);
    buf[n] = '\0';
    for (p = buf; (p = strstr(p, "listening on ")) != NULL; p++) {
        const char *u = p + strlen("listening on ");
        size_t      len = strcspn(u, "\r\n");

        if (u[len] == '\0')
            return false; /* the line is not complete yet */
        if (strncmp(u, scheme, strlen(scheme)) == 0 && len < sizeof(c->url)) {
            memcpy(c->url, u, len);
            c->url[len] = '\0';
            return true;
        }
    }
    return false;
}

void
tp_start(tp_child_t *c, char *const argv[], const char *dir,
         const char *log_name, const char *scheme)
{
    posix_spawn_file_actions_t fa;
    int                        in[2], out;
    struct timespec            nap = {0, 10 * 1000000L};

    memset(c, 0, sizeof(*c));
    ck_assert_int_lt(snprintf(c->log, sizeof(c->log), "%s/%s", dir, log_name),
                     (int)sizeof(c->log));
    out = open(c->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(out, 0);
    ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
    ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
    ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, in[0], 0), 0);
    ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, out, 1), 0);
    ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, out, 2), 0);
    int rc = posix_spawn(&c->pid, argv[0], &fa, NULL, argv, environ);
    ck_assert_int_eq(posix_spawn_file_actions_destroy(&fa), 0);
    close(in[0]);
    close(out);
    ck_assert_msg(rc == 0, "spawn %s: %s", argv[0], strerror(rc));
    c->stdin_fd = in[1];
    for (int i = 0; i < 2000; i++) {
        if (tp_find_url(c, scheme))
            return;
        if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
            c->pid = 0;
            break;
        }
        (void)nanosleep(&nap, NULL);
    }
    (void)tp_stop(c);
    char  *log = NULL;
    size_t len = 0;
    FILE  *f = fopen(c->log, "re");
    if (f != NULL) {
        log = calloc(1, 4096);
        if (log != NULL)
            len = fread(log, 1, 4095, f);
        (void)fclose(f);
    }
    ck_abort_msg("%s did not say it listens on %s (log: %.*s)", argv[0], scheme,
                 (int)len, log != NULL ? log : "");
}

int
tp_stop(tp_child_t *c)
{
    struct timespec nap = {0, 10 * 1000000L};
    int             st = 0;

    if (c->stdin_fd > 0)
        close(c->stdin_fd);
    c->stdin_fd = -1;
    if (c->pid <= 0)
        return 0;
    (void)kill(c->pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid || (r < 0 && errno != EINTR)) {
            c->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        (void)nanosleep(&nap, NULL);
    }
    (void)kill(c->pid, SIGKILL);
    (void)waitpid(c->pid, &st, 0);
    c->pid = 0;
    return 1000;
}

void
tp_spec_backend_start(tp_child_t *c, const char *dir, bool tls,
                      const char *const *extra)
{
    char  script[PATH_MAX];
    char *argv[10] = {"/usr/bin/python3", script};
    int   n = 2;

    tp_source_path(script, sizeof(script), "spec_backend.py");
    for (; extra != NULL && *extra != NULL; extra++) {
        ck_assert_int_lt(n, 8);
        argv[n++] = (char *)*extra;
    }
    argv[n] = NULL;
    tp_start(c, argv, dir, "stub.log", tls ? "https://" : "http://");
}

void
tp_make_cert(const char *dir)
{
    char cert[PATH_MAX], key[PATH_MAX];

    ck_assert_int_lt(snprintf(cert, sizeof(cert), "%s/cert.pem", dir),
                     (int)sizeof(cert));
    ck_assert_int_lt(snprintf(key, sizeof(key), "%s/key.pem", dir),
                     (int)sizeof(key));
    tu_make_cert(cert, key);
}
