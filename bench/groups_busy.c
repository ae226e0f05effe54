/* groups_busy.c - the busy group: Health latency over ipc while many
 * Execs of sleep run at once, each from its own client. A server whose
 * workers waited for their commands would answer Health only once one of
 * them came free. */
#include "bench.h"

#include <nng/supplemental/util/platform.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_URL_MAX 160
#define BUSY_SLEEP "3"     /* seconds each Exec runs */
#define BUSY_SETTLE_MS 500 /* for the Execs to reach the server */
#define BUSY_STACK (256 * 1024)

static const char *const busy_argv[] = {"sleep", BUSY_SLEEP};

typedef struct {
    nox_client_t *c;
    nox_err_t     err;
    char          msg[160];
    pthread_t     tid;
    bool          started;
} busy_exec_t;

/* One long Exec; touches nothing shared. */
static void *
busy_exec_main(void *arg)
{
    busy_exec_t *x = arg;

    x->err =
        bench_exec(x->c, "busy", busy_argv, 2, NULL, x->msg, sizeof(x->msg));
    return NULL;
}

/* Start one thread per Exec (small stacks: there are hundreds). Returns
 * how many started. */
static size_t
busy_start(bench_t *b, busy_exec_t *x, size_t n)
{
    pthread_attr_t at;
    size_t         started = 0;

    if (pthread_attr_init(&at) != 0 ||
        pthread_attr_setstacksize(&at, BUSY_STACK) != 0) {
        bench_fail(b, "busy", "pthread attributes");
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        int rv = pthread_create(&x[i].tid, &at, busy_exec_main, &x[i]);
        if (rv != 0) {
            bench_fail(b, "busy", "pthread_create: %s", strerror(rv));
            break;
        }
        x[i].started = true;
        started++;
    }
    (void)pthread_attr_destroy(&at);
    return started;
}

/* Health through c n times while the Execs run, into st. */
static size_t
busy_health(nox_client_t *c, size_t n, bench_stats_t *st)
{
    bench_samples_t s;
    size_t          errors = 0, said = 0;
    int64_t         t0 = bench_now_ns();

    st->n = 0;
    if (bench_samples_init(&s, n) != 0)
        return n;
    for (size_t i = 0; i < n; i++) {
        nox_health_t h;
        int64_t      t = bench_now_ns();
        if (nox_client_health(c, &h) != NOX_OK) {
            errors++;
            bench_call_failed("busy", "health", nox_client_errmsg(c), &said);
            continue;
        }
        bench_samples_add(&s, bench_now_ns() - t);
        nox_health_free(&h);
    }
    bench_stats(&s, bench_now_ns() - t0, st);
    bench_samples_free(&s);
    return errors;
}

/* Join the Exec threads and close their clients; returns the failed
 * Execs. */
static size_t
busy_finish(busy_exec_t *x, size_t n)
{
    size_t errors = 0, said = 0;

    for (size_t i = 0; i < n; i++) {
        if (x[i].started) {
            (void)pthread_join(x[i].tid, NULL); /* valid, joinable */
            if (x[i].err != NOX_OK) {
                errors++;
                bench_call_failed("busy", "exec", x[i].msg, &said);
            }
        }
        nox_client_close(x[i].c);
    }
    return errors;
}

int
bench_group_busy(bench_t *b)
{
    size_t         n = b->quick ? 50 : 300, opened = 0, started, errs;
    char           url[BUSY_URL_MAX], name[72];
    const char    *urls[1] = {url};
    bench_daemon_t daemon;
    busy_exec_t   *x = calloc(n, sizeof(*x));
    nox_client_t  *h = NULL;
    bench_stats_t  st;

    if (x == NULL || bench_ipc_url(b, "busy", "busy.sock", url, sizeof(url)) ||
        bench_daemon_start(b, "busy", urls, 1, &daemon) != 0) {
        free(x);
        return -1;
    }
    h = bench_client(b, "busy", url, 0);
    if (h == NULL || bench_create(b, "busy", h, "busy") != 0)
        goto out;
    for (; opened < n; opened++)
        if ((x[opened].c = bench_client(b, "busy", url, 0)) == NULL)
            break;
    started = busy_start(b, x, opened);
    nng_msleep(BUSY_SETTLE_MS);
    errs = busy_health(h, b->n_lat, &st);
    (void)snprintf(name, sizeof(name), "ipc health, %zu Execs running",
                   started);
    bench_row_lat(b, "busy", name, &st, errs, NULL);
    errs = busy_finish(x, opened);
    opened = 0;
    (void)snprintf(name, sizeof(name), "  Execs of sleep %s that failed",
                   BUSY_SLEEP);
    bench_row_value(b, "busy", name, (double)errs, "errors");
    bench_target(b, "health p99 with running Execs",
                 st.n ? st.p99_us / 1e3 : NAN, 20, "ms", false, NULL);
    bench_delete(b, "busy", h, "busy");
out:
    (void)busy_finish(x, opened);
    nox_client_close(h);
    bench_daemon_stop(b, "busy", &daemon);
    free(x);
    return 0;
}
