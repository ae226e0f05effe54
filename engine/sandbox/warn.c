/* warn.c - local-mode warnings on stderr. */
#include "warn.h"

#include "nox_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WARN_MAX 1024
#define WARN_RED "\033[1;31m"
#define WARN_RESET "\033[0m"

void
nox__warn_init(nox_warn_t *w, int quiet)
{
    const char *q = getenv("NOXRUNNER_QUIET");
    const char *nc = getenv("NO_COLOR");

    if (quiet < 0)
        quiet = q != NULL && q[0] != '\0' && strcmp(q, "0") != 0;
    w->enabled = !quiet;
    w->color = isatty(STDERR_FILENO) && (nc == NULL || nc[0] == '\0');
}

static void
warn_emit(const nox_warn_t *w, const char *text)
{
    char buf[WARN_MAX + 32];
    int  n;

    n = snprintf(buf, sizeof(buf), "%s%s%s\n", w->color ? WARN_RED : "", text,
                 w->color ? WARN_RESET : "");
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = (int)sizeof(buf) - 1;
    /* A warning that cannot be written has nowhere else to go. */
    (void)nox__write_all(STDERR_FILENO, buf, (size_t)n);
}

void
nox__warn_start(const nox_warn_t *w, const char *base_dir, bool namespaces,
                const char *detail)
{
    char text[WARN_MAX];

    if (!w->enabled)
        return;
    if (namespaces)
        (void)snprintf(text, sizeof(text),
                       "WARNING: NoxRunner local testing mode: commands run "
                       "on this machine in namespaces (isolation "
                       "namespaces; sandboxes under %s), sharing its "
                       "kernel. For testing only; set NOXRUNNER_QUIET=1 to "
                       "silence these warnings.",
                       base_dir);
    else
        (void)snprintf(text, sizeof(text),
                       "WARNING: NoxRunner local testing mode: commands run "
                       "directly on this machine with your privileges "
                       "(isolation none: %s; sandboxes under %s). For "
                       "trusted code and testing only; set "
                       "NOXRUNNER_QUIET=1 to silence these warnings.",
                       detail, base_dir);
    warn_emit(w, text);
}

void
nox__warn_exec(const nox_warn_t *w, const char *session_id,
               const char *const *argv, size_t argc)
{
    char   text[WARN_MAX];
    size_t len = 0;
    int    n;

    if (!w->enabled)
        return;
    n = snprintf(text, sizeof(text),
                 "WARNING: NoxRunner local mode: executing on this machine "
                 "in sandbox %s:",
                 session_id); /* a valid session id has no control chars */
    if (n > 0)
        len = (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    for (size_t i = 0; i < argc && len + 5 < sizeof(text); i++) {
        text[len++] = ' ';
        nox__append_escaped(text, sizeof(text), &len, argv[i]);
    }
    if (len + 5 >= sizeof(text)) { /* cut short: say so */
        len = len < sizeof(text) - 4 ? len : sizeof(text) - 4;
        (void)memcpy(text + len, "...", 3);
        len += 3;
    }
    text[len] = '\0';
    warn_emit(w, text);
}
