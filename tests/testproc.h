/*
 * testproc.h - a server as a child process of a test: started with its
 * output going to a file, its URL read from the "listening on" line it
 * prints (so it can bind port 0), stopped by the test that started it.
 */
#ifndef NOX_TESTPROC_H
#define NOX_TESTPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    int   stdin_fd;  /* our end of its stdin: closing it stops spec_backend */
    char  log[4096]; /* the file its stdout and stderr go to */
    char  url[256];  /* from its "listening on URL" line */
} tp_child_t;

/* Run argv[0] (a path) with argv, its output in dir/<log_name>, and wait
 * up to 20 s for a line "... listening on <scheme>://..."; c->url is the
 * URL. Fails the test (after stopping the child) otherwise. */
void tp_start(tp_child_t *c, char *const argv[], const char *dir,
              const char *log_name, const char *scheme);

/* Close its stdin, SIGTERM it, wait up to 10 s (then SIGKILL). Returns its
 * exit status, 128+signal when a signal ended it, or 1000+ when it had to
 * be killed. pid 0 is a no-op (returns 0). */
int tp_stop(tp_child_t *c);

/* $NOX_BUILD_DIR/name (noxrunnerd, noxrc-rpc) into out. */
void tp_build_path(char *out, size_t len, const char *name);

/* $NOX_SOURCE_DIR/tests/name into out. */
void tp_source_path(char *out, size_t len, const char *name);

/* Start tests/spec_backend.py (a NoxRunner backend that is not ours)
 * with extra arguments (NULL-terminated, at most 6; may be NULL), its log
 * in dir/stub.log, on https when tls. */
void tp_spec_backend_start(tp_child_t *c, const char *dir, bool tls,
                           const char *const *extra);

/* A self-signed certificate for 127.0.0.1 made with openssl: dir/cert.pem
 * (also its own CA) and dir/key.pem. */
void tp_make_cert(const char *dir);

#endif /* NOX_TESTPROC_H */
