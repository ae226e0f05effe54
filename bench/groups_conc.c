/* groups_conc.c - the concurrency group: 1, 2, 4 and 8 client threads,
 * each with its own client and sandbox, against one server over ipc. */
#include "bench.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CONC_URL_MAX 160
#define CONC_MAX_THREADS 8

static const char *const conc_true[] = {"true"};

/* Exec "true" through c warm times unmeasured, then n times measured into
 * s (which has room); failures are counted in *errors and said. Touches
 * nothing shared: each client thread runs it. Returns the wall time of
 * the measured calls in ns. */
static int64_t
conc_loop(nox_client_t *c, const char *sid, size_t warm, size_t n,
          bench_samples_t *s, size_t *errors)
{
    size_t  said = 0;
    int64_t t0 = bench_now_ns(), t1;
    char    msg[256];

    for (size_t i = 0; i < warm + n; i++) {
        if (i == warm)
            t0 = bench_now_ns();
        t1 = bench_now_ns();
        if (bench_exec(c, sid, conc_true, 1, NULL, msg, sizeof(msg)) ==
            NOX_OK) {
            if (i >= warm)
                bench_samples_add(s, bench_now_ns() - t1);
            continue;
        }
        (*errors)++;
        bench_call_failed("concurrency", "exec", msg, &said);
    }
    return bench_now_ns() - t0;
}

/* Start line for the client threads: each warms up, reports ready and
 * waits for go (or cancel, when not every thread could be started). */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    size_t          ready;
    bool            go;
    bool            cancel;
} conc_gate_t;

typedef struct {
    nox_client_t   *c;
    char            sid[32];
    size_t          warm, n;
    conc_gate_t    *gate;
    bench_samples_t s;
    size_t          errors;
    int64_t         end_ns; /* when its measured calls were done */
} conc_worker_t;

/* Returns true to run, false when cancelled. Mutex and condition calls
 * on valid, initialised objects cannot fail. */
static bool
conc_wait_go(conc_gate_t *g)
{
    bool go;

    (void)pthread_mutex_lock(&g->mu);
    g->ready++;
    (void)pthread_cond_broadcast(&g->cv);
    while (!g->go && !g->cancel)
        (void)pthread_cond_wait(&g->cv, &g->mu);
    go = g->go;
    (void)pthread_mutex_unlock(&g->mu);
    return go;
}

static void *
conc_main(void *arg)
{
    conc_worker_t *w = arg;

    /* Warm up alone, then start the measured calls together. */
    (void)conc_loop(w->c, w->sid, w->warm, 0, &w->s, &w->errors);
    if (!conc_wait_go(w->gate))
        return NULL;
    (void)conc_loop(w->c, w->sid, 0, w->n, &w->s, &w->errors);
    w->end_ns = bench_now_ns();
    return NULL;
}

/* Open k clients with a session each; -1 (reported) on failure, with the
 * ones opened so far in *opened. */
static int
conc_setup(bench_t *b, const char *url, conc_worker_t *w, size_t k,
           size_t *opened)
{
    for (*opened = 0; *opened < k; (*opened)++) {
        conc_worker_t *x = &w[*opened];

        memset(x, 0, sizeof(*x));
        (void)snprintf(x->sid, sizeof(x->sid), "conc-%zu", *opened);
        x->warm = b->n_warm;
        x->n = b->n_conc;
        if ((x->c = bench_client(b, "concurrency", url, 0)) == NULL)
            return -1;
        if (bench_samples_init(&x->s, b->n_conc) != 0 ||
            bench_create(b, "concurrency", x->c, x->sid) != 0) {
            nox_client_close(x->c);
            bench_samples_free(&x->s);
            return -1;
        }
    }
    return 0;
}

static void
conc_teardown(bench_t *b, conc_worker_t *w, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        bench_delete(b, "concurrency", w[i].c, w[i].sid);
        nox_client_close(w[i].c);
        bench_samples_free(&w[i].s);
    }
}

/* Start the threads, wait until all are warm, open the gate (or cancel it
 * when a thread could not start). Returns the start time, or -1. */
static int64_t
conc_start(bench_t *b, conc_worker_t *w, size_t k, conc_gate_t *g,
           pthread_t *tid, size_t *started)
{
    int64_t t0 = -1;
    int     rv = 0;

    for (*started = 0; *started < k; (*started)++) {
        w[*started].gate = g;
        rv = pthread_create(&tid[*started], NULL, conc_main, &w[*started]);
        if (rv != 0) {
            bench_fail(b, "concurrency", "pthread_create: %s", strerror(rv));
            break;
        }
    }
    (void)pthread_mutex_lock(&g->mu);
    while (g->ready < *started)
        (void)pthread_cond_wait(&g->cv, &g->mu);
    g->go = rv == 0;
    g->cancel = rv != 0;
    if (g->go)
        t0 = bench_now_ns();
    (void)pthread_cond_broadcast(&g->cv);
    (void)pthread_mutex_unlock(&g->mu);
    return t0;
}

/* Run k threads; merge their samples into st; *busy: how many CPUs the
 * machine kept busy meanwhile. 0 or -1 (reported). */
static int
conc_run(bench_t *b, conc_worker_t *w, size_t k, bench_stats_t *st,
         size_t *errors, double *busy)
{
    bench_cpu_t     cpu0, cpu1;
    conc_gate_t     g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                         false, false};
    pthread_t       tid[CONC_MAX_THREADS];
    bench_samples_t all;
    size_t          started;
    int64_t         t0, end = 0;

    if (bench_samples_init(&all, k * b->n_conc) != 0) {
        bench_fail(b, "concurrency", "out of memory");
        return -1;
    }
    if (bench_cpu_ticks(&cpu0) != 0)
        cpu0.total = 0; /* no figure then */
    t0 = conc_start(b, w, k, &g, tid, &started);
    *errors = 0;
    for (size_t i = 0; i < started; i++) {
        (void)pthread_join(tid[i], NULL); /* valid, joinable thread */
        end = w[i].end_ns > end ? w[i].end_ns : end;
        *errors += w[i].errors;
        for (size_t j = 0; j < w[i].s.n; j++)
            bench_samples_add(&all, w[i].s.v[j]);
    }
    if (t0 >= 0)
        bench_stats(&all, end - t0, st);
    *busy = cpu0.total != 0 && bench_cpu_ticks(&cpu1) == 0
                ? bench_cpus_busy(&cpu0, &cpu1)
                : NAN;
    bench_samples_free(&all);
    return t0 >= 0 ? 0 : -1;
}

static void
conc_targets(bench_t *b, const bench_stats_t *by_k, const size_t *errs)
{
    double scale = by_k[0].n && by_k[1].n ? by_k[1].per_s / by_k[0].per_s : NAN;

    bench_row_value(b, "concurrency", "scaling 2 clients / 1 client", scale,
                    "x");
    bench_target(b, "2 clients: calls/s vs 1 client", scale, 1.8, "x", true,
                 NULL);
    bench_target(b, "8 clients: errors", by_k[3].n ? (double)errs[3] : NAN, 0,
                 "errors", false, NULL);
    bench_target(b, "8 clients: p99", by_k[3].n ? by_k[3].p99_us / 1e3 : NAN,
                 10, "ms", false, NULL);
}

int
bench_group_concurrency(bench_t *b)
{
    static const size_t ks[4] = {1, 2, 4, 8};
    conc_worker_t       w[CONC_MAX_THREADS];
    bench_stats_t       by_k[4];
    size_t              errs[4] = {0}, opened;
    char                url[CONC_URL_MAX], name[72];
    double              busy;
    const char         *urls[1] = {url};
    bench_daemon_t      daemon;

    if (bench_ipc_url(b, "concurrency", "conc.sock", url, sizeof(url)) != 0 ||
        bench_daemon_start(b, "concurrency", urls, 1, &daemon) != 0)
        return -1;
    for (size_t i = 0; i < 4; i++) {
        by_k[i].n = 0;
        if (conc_setup(b, url, w, ks[i], &opened) != 0) {
            conc_teardown(b, w, opened);
            continue;
        }
        if (conc_run(b, w, ks[i], &by_k[i], &errs[i], &busy) == 0) {
            (void)snprintf(name, sizeof(name), "ipc true, %zu client%s", ks[i],
                           ks[i] > 1 ? "s" : "");
            bench_row_lat(b, "concurrency", name, &by_k[i], errs[i], NULL);
            /* What limits scaling on a small machine: the CPUs. */
            (void)snprintf(name, sizeof(name), "  CPUs busy meanwhile");
            bench_row_value(b, "concurrency", name, busy, "CPUs");
        }
        conc_teardown(b, w, ks[i]);
    }
    bench_daemon_stop(b, "concurrency", &daemon);
    conc_targets(b, by_k, errs);
    return 0;
}
