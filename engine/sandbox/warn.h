/*
 * warn.h - the loud stderr warnings of local testing mode.
 *
 * NoxRunner's local mode promises a warning when the engine starts and on
 * every exec. They go to stderr in bold red when stderr is a terminal and
 * NO_COLOR is unset, plain otherwise; NOXRUNNER_QUIET=1 silences them.
 * Each warning is one write(2), so lines from concurrent execs do not
 * interleave.
 */
#ifndef NOX_WARN_H
#define NOX_WARN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    bool enabled;
    bool color;
} nox_warn_t;

/* quiet < 0: read NOXRUNNER_QUIET (set and not "0" means quiet). */
void nox__warn_init(nox_warn_t *w, int quiet);

/* The start warning says what commands can reach: namespaces tells the
 * level; detail is why it is not namespaces (ignored when it is). */
void nox__warn_start(const nox_warn_t *w, const char *base_dir, bool namespaces,
                     const char *detail);

void nox__warn_exec(const nox_warn_t *w, const char *session_id,
                    const char *const *argv, size_t argc);

#endif /* NOX_WARN_H */
