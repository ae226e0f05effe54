/* sleep.c - a mutex and a CLOCK_MONOTONIC condition variable for threads
 * that sleep until a time or until told to stop (the server's
 * housekeeping thread, the in-process client's reaper). */
#include "nox_common.h"

#include <errno.h>

nox_err_t
nox__sleep_sync_init(pthread_mutex_t *mu, pthread_cond_t *cv, nox_status_t *st)
{
    pthread_condattr_t ca;
    int                rv;

    rv = pthread_condattr_init(&ca);
    if (rv != 0)
        return nox__status_errno(st, NOX_EINTERNAL, rv, "condattr");
    /* Monotonic, like nox__mono_ms: clock changes cannot stall a sleep. */
    rv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rv == 0)
        rv = pthread_cond_init(cv, &ca);
    (void)pthread_condattr_destroy(&ca); /* cannot fail once initialised */
    if (rv != 0)
        return nox__status_errno(st, NOX_EINTERNAL, rv, "cond init");
    rv = pthread_mutex_init(mu, NULL);
    if (rv != 0) {
        (void)pthread_cond_destroy(cv);
        return nox__status_errno(st, NOX_EINTERNAL, rv, "mutex init");
    }
    return NOX_OK;
}

void
nox__cond_sleep_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t at_ms,
                      const bool *stop)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(at_ms / 1000);
    ts.tv_nsec = (long)(at_ms % 1000) * 1000000;
    /* Spurious wakeups just loop; whoever stops us sets *stop first. */
    while (!*stop && pthread_cond_timedwait(cv, mu, &ts) != ETIMEDOUT)
        ;
}
