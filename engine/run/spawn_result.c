/*
 * spawn_result.c - the exit record of a run: reaping with wait4 (status
 * and rusage), the notes noxrunner adds to stderr when it killed the
 * command, and the outcome of a command that never ran.
 */
#include "spawn_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* Append a note from us to stderr, on a line of its own. It must survive
 * the cap, so when the captured stderr is full its tail makes room (the
 * note is what matters most); the cap is exceeded only when it is smaller
 * than the note itself. */
static nox_err_t
spawn_note(nox_exec_result_t *res, const char *note, size_t n, size_t cap)
{
    /* Room for the note plus a separating newline. */
    size_t need = n + 1;
    if (res->err.len + need > cap) {
        size_t keep = cap > need ? cap - need : 0;
        if (keep < res->err.len) {
            res->err.len = keep;
            res->err_truncated = true;
        }
    }
    if (res->err.len > 0 && res->err.data[res->err.len - 1] != '\n' &&
        nox__buf_append(&res->err, "\n", 1) != NOX_OK)
        return NOX_ERESOURCE;
    return nox__buf_append(&res->err, note, n);
}

/* Say why we killed the command: its timeout, or its output. */
nox_err_t
nox__spawn_note_kill(nox_exec_result_t *res, int64_t timeout_ms,
                     uint64_t output_kill, size_t output_cap)
{
    char      note[160];
    long long t = (long long)timeout_ms;
    int       n;

    if (res->cause == NOX_CAUSE_OUTPUT_LIMIT)
        n = snprintf(note, sizeof(note),
                     "noxrunner: command wrote more than %llu bytes to %s "
                     "and was killed\n",
                     (unsigned long long)output_kill,
                     res->out_total > output_kill ? "stdout" : "stderr");
    else if (t % 1000 == 0)
        n = snprintf(note, sizeof(note),
                     "noxrunner: command timed out after %lld second%s and "
                     "was killed\n",
                     t / 1000, t == 1000 ? "" : "s");
    else
        n = snprintf(note, sizeof(note),
                     "noxrunner: command timed out after %lld ms and was "
                     "killed\n",
                     t);
    if (n < 0 || (size_t)n >= sizeof(note))
        return NOX_EINTERNAL; /* cannot happen: 160 bytes fit any int64 */
    return spawn_note(res, note, (size_t)n, output_cap);
}

static int64_t
spawn_tv_ms(const struct timeval *tv)
{
    return (int64_t)tv->tv_sec * 1000 + tv->tv_usec / 1000;
}

/* Reap the child and fill the exit record: exit_code, term_signal, cause
 * and the rusage of the command and the children it waited for. */
int
nox__spawn_reap(pid_t pid, nox_exec_result_t *res)
{
    struct rusage ru;
    int           status;

    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR)
            return errno;
    }
    res->cpu_user_ms = spawn_tv_ms(&ru.ru_utime);
    res->cpu_system_ms = spawn_tv_ms(&ru.ru_stime);
    res->max_rss_kb = ru.ru_maxrss; /* Linux: kilobytes */
    res->cause = NOX_CAUSE_EXITED;
    if (WIFSIGNALED(status)) {
        res->term_signal = WTERMSIG(status);
        res->exit_code = 128 + res->term_signal;
        res->cause = NOX_CAUSE_SIGNALED;
    } else {
        res->exit_code = WEXITSTATUS(status);
    }
    if (res->timed_out) {
        res->exit_code = 124;
        res->cause = NOX_CAUSE_TIMED_OUT;
    }
    return 0;
}

/* A command that never ran: exit_code and a message on stderr, as a shell
 * would give them. */
nox_err_t
nox__spawn_not_run(nox_exec_result_t *res, const char *name, int err)
{
    char        msg[PATH_MAX + 160];
    char        ebuf[128];
    const char *es;
    int         n;

    res->cause = NOX_CAUSE_NOT_STARTED;
    if (err == ENOENT) {
        res->exit_code = 127;
        n = snprintf(msg, sizeof(msg), "command not found: %s\n", name);
    } else {
        res->exit_code = 126;
        es = strerror_r(err, ebuf, sizeof(ebuf)); /* GNU: thread-safe */
        n = snprintf(msg, sizeof(msg), "cannot execute %s: %s\n", name, es);
    }
    if (n < 0)
        return NOX_EINTERNAL;
    /* A name too long for msg is cut; the message stays readable. */
    return nox__buf_append(
        &res->err, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}
