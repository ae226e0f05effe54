/*
 * fuzz_env.h - what the harnesses share: a private temporary tree, an
 * engine on it, and the checks that nothing leaked out of a sandbox.
 *
 * The tree is <top>/base (the engine's base directory) and <top>/canary
 * (a directory holding one file). After an input, <top> must still list
 * exactly those two names and the canary must be untouched: an engine
 * that wrote, renamed or deleted anything beside its base directory fails
 * the run. fuzz_escaping_links() counts the symlinks under a directory
 * that resolve (as the kernel would follow them from the host) outside
 * it.
 *
 * Harness code: any failure to set up or to clean up aborts the process,
 * which libFuzzer reports with the input that caused it.
 *
 * Thread safety: none; a harness is single-threaded.
 */
#ifndef NOX_FUZZ_ENV_H
#define NOX_FUZZ_ENV_H

#include "nox/engine.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char top[PATH_MAX];    /* real path of the temporary tree */
    char base[PATH_MAX];   /* <top>/base */
    char canary[PATH_MAX]; /* <top>/canary */
    int  base_fd;          /* O_PATH|O_DIRECTORY of base */
} fuzz_env_t;

/* Abort with a message (printf format) on stderr. */
__attribute__((noreturn, format(printf, 1, 2))) void fuzz_die(const char *fmt,
                                                              ...);

/* Make the tree under $TMPDIR (else /tmp) and register its removal at
 * exit. The harness's SIGPIPE is ignored, as noxrunnerd does. */
void fuzz_env_init(fuzz_env_t *env);

/* An engine on env->base at the given level (NOX_ISOLATION_NONE unless
 * $NOX_FUZZ_ISOLATION names another), quiet. Aborts on failure. */
nox_engine_t *fuzz_engine_open(const fuzz_env_t *env, nox_isolation_t level);

/* The level named by $NOX_FUZZ_ISOLATION, else dflt. */
nox_isolation_t fuzz_isolation(nox_isolation_t dflt);

/* Create sandbox sid; aborts if it cannot be. */
void fuzz_sandbox_create(nox_engine_t *e, const char *sid);

/* <base>/noxrunner_sandbox_<sid>/workspace into out (PATH_MAX). */
void fuzz_workspace_path(const fuzz_env_t *env, const char *sid, char *out);

/* Abort unless <top> lists exactly base and canary and the canary is as
 * fuzz_env_init left it. what names the step, for the message. */
void fuzz_check_outside(const fuzz_env_t *env, const char *what);

/* Remove everything below dir (an absolute path), never following
 * symlinks; dir itself stays. Aborts on failure. */
void fuzz_empty_dir(const char *dir);

/* The number of symlinks under dir (an absolute path) that resolve, as
 * the host kernel would follow them, outside dir (tests/sandbox_scan.h:
 * the same check the test suites make after an upload); first (first_len
 * bytes) names the first. Aborts when dir cannot be resolved. */
size_t fuzz_escaping_links(const char *dir, char *first, size_t first_len);

/* True when path is dir or below it (both absolute and normalised). */
bool fuzz_path_within(const char *path, const char *dir);

#endif /* NOX_FUZZ_ENV_H */
