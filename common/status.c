/* status.c - nox_status_t: an error code with a caller-facing message. */
#include "nox_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
nox__status_clear(nox_status_t *st)
{
    if (st == NULL)
        return;
    st->code = NOX_OK;
    st->msg[0] = '\0';
    st->no_space = false;
}

static void status_vformat(nox_status_t *st, nox_err_t code, const char *fmt,
                           va_list ap) NOX_PRINTF(3, 0);

static void
status_vformat(nox_status_t *st, nox_err_t code, const char *fmt, va_list ap)
{
    st->code = code;
    st->no_space = false;
    /* Truncation is acceptable: the message is for people, and vsnprintf
     * always NUL-terminates. */
    if (vsnprintf(st->msg, sizeof(st->msg), fmt, ap) < 0)
        st->msg[0] = '\0';
}

nox_err_t
nox__status_set(nox_status_t *st, nox_err_t code, const char *fmt, ...)
{
    va_list ap;

    if (st == NULL)
        return code;
    va_start(ap, fmt);
    status_vformat(st, code, fmt, ap);
    va_end(ap);
    return code;
}

nox_err_t
nox__status_errno(nox_status_t *st, nox_err_t code, int errnum, const char *fmt,
                  ...)
{
    va_list ap;
    char    ebuf[128];
    size_t  len;

    /* Running out of disk, file descriptors or memory is a resource
     * running short, not our bug: mapped here, where every errno becomes a
     * status, so no path misses it. */
    bool no_space = errnum == ENOSPC || errnum == EDQUOT;
    if (no_space || errnum == EMFILE || errnum == ENFILE || errnum == ENOMEM)
        code = NOX_ERESOURCE;
    if (st == NULL)
        return code;
    va_start(ap, fmt);
    status_vformat(st, code, fmt, ap);
    va_end(ap);
    st->no_space = no_space;
    /* GNU strerror_r returns the string (maybe not ebuf); thread-safe. */
    const char *es = strerror_r(errnum, ebuf, sizeof(ebuf));
    len = strlen(st->msg);
    if (len < sizeof(st->msg))
        (void)snprintf(st->msg + len, sizeof(st->msg) - len, ": %s", es);
    return code;
}
