/* groups_sandbox.c - the lifecycle group (CreateSandbox+DeleteSandbox
 * against the filesystem floor) and the scale group (a noxrunnerd child
 * with thousands of sandboxes: latency and RSS). */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SANDBOX_URL_MAX 160

/* Sandboxes <prefix><i> for i in [from, to); del: delete each right
 * after its create (untimed). */
typedef struct {
    const char *group;
    const char *prefix;
    size_t      from, to;
    bool        del;
} sandbox_loop_t;

/* Create the sandboxes of l through c, timing each create into s (may be
 * NULL). Failures are counted in *errors and said. Returns the wall time
 * in ns. */
static int64_t
sandbox_loop(nox_client_t *c, const sandbox_loop_t *l, bench_samples_t *s,
             size_t *errors)
{
    nox_sandbox_t sb;
    size_t        said = 0;
    int64_t       t0 = bench_now_ns(), t1, dt;
    bool          deleted = false;
    char          sid[64];

    for (size_t i = l->from; i < l->to; i++) {
        (void)snprintf(sid, sizeof(sid), "%s%zu", l->prefix, i); /* fits */
        t1 = bench_now_ns();
        if (nox_client_create(c, sid, NULL, &sb) != NOX_OK) {
            (*errors)++;
            bench_call_failed(l->group, "create", nox_client_errmsg(c), &said);
            continue;
        }
        nox_sandbox_free(&sb);
        dt = bench_now_ns() - t1;
        if (l->del &&
            (nox_client_delete(c, sid, &deleted) != NOX_OK || !deleted)) {
            (*errors)++;
            bench_call_failed(l->group, "delete", nox_client_errmsg(c), &said);
            continue;
        }
        if (s != NULL)
            bench_samples_add(s, dt);
    }
    return bench_now_ns() - t0;
}

/* A client making create+delete pairs, or a floor directory. */
typedef struct {
    nox_client_t *c;
    const char   *prefix;
    const char   *dir;
    bool          layout;
} life_arg_t;

static int
life_pair(void *arg, size_t i, char *msg, size_t msglen)
{
    life_arg_t   *a = arg;
    nox_sandbox_t sb;
    bool          deleted = false;
    char          sid[64];

    (void)snprintf(sid, sizeof(sid), "%s%zu", a->prefix, i); /* fits */
    if (nox_client_create(a->c, sid, NULL, &sb) != NOX_OK) {
        (void)snprintf(msg, msglen, "create: %s", nox_client_errmsg(a->c));
        return -1;
    }
    nox_sandbox_free(&sb);
    if (nox_client_delete(a->c, sid, &deleted) != NOX_OK || !deleted) {
        (void)snprintf(msg, msglen, "delete: %s",
                       deleted ? nox_client_errmsg(a->c) : "not deleted");
        return -1;
    }
    return 0;
}

static int
life_floor(void *arg, size_t i, char *msg, size_t msglen)
{
    life_arg_t *a = arg;

    return bench_floor_fs_pair(a->dir, i, a->layout, msg, msglen);
}

#define LIFE_CASES 5

/* CreateSandbox alone with isolation namespaces (each sandbox deleted
 * again, untimed), after the interleaved rounds: the figure the isolation
 * target is about. *out.n is 0 when it could not be measured. */
static void
life_iso_create(bench_t *b, nox_client_t *c, bench_stats_t *out)
{
    sandbox_loop_t  l = {"lifecycle", "lc-nsc-", 0, b->n_lat, true};
    bench_samples_t s;
    size_t          errors = 0;
    int64_t         wall;

    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return;
    if (bench_samples_init(&s, b->n_lat) != 0) {
        bench_fail(b, "lifecycle", "out of memory");
        return;
    }
    wall = sandbox_loop(c, &l, &s, &errors);
    bench_stats(&s, wall, out);
    bench_row_lat(b, "lifecycle",
                  "in-process namespaces create (delete untimed)", out, errors,
                  NULL);
    bench_samples_free(&s);
}

/* Rows and targets from the cases: floor, floor with the sandbox layout,
 * in-process pairs, ipc pairs, in-process pairs with isolation
 * namespaces; iso_create is CreateSandbox alone with namespaces. */
static void
life_report(bench_t *b, bench_case_t *cases, nox_client_t *iso)
{
    bench_stats_t iso_create;

    static const char *const names[LIFE_CASES] = {
        "floor mkdir+write+rename+rmtree", "floor same + workspace/ tmp/ dirs",
        "in-process create+delete", "ipc create+delete",
        "in-process namespaces create+delete"};
    bench_stats_t st[LIFE_CASES];

    for (size_t k = 0; k < LIFE_CASES; k++) {
        bench_case_stats(&cases[k], &st[k]);
        if (cases[k].fn != NULL)
            bench_row_lat(b, "lifecycle", names[k], &st[k], cases[k].errors,
                          k >= 2 && st[0].n ? &st[0] : NULL);
    }
    bench_target(b, "create+delete in-process: p50 / fs floor",
                 st[2].n && st[0].n ? st[2].p50_us / st[0].p50_us : NAN, 1.3,
                 "x", false, NULL);
    bench_target(b, "create+delete ipc: p50 / fs floor",
                 st[3].n && st[0].n ? st[3].p50_us / st[0].p50_us : NAN, 1.3,
                 "x", false, NULL);
    /* CreateSandbox with isolation against the filesystem floor
     * of a sandbox's layout. */
    life_iso_create(b, iso, &iso_create);
    bench_target(b, "isolated create: p50 - fs floor p50",
                 iso_create.n && st[1].n
                     ? (iso_create.p50_us - st[1].p50_us) / 1e3
                     : NAN,
                 2, "ms", false, NULL);
}

int
bench_group_lifecycle(bench_t *b)
{
    char         dir[PATH_MAX], url[SANDBOX_URL_MAX];
    const char  *urls[1] = {url};
    life_arg_t   args[LIFE_CASES] = {{NULL, NULL, dir, false},
                                     {NULL, NULL, dir, true},
                                     {NULL, "lc-local-", NULL, false},
                                     {NULL, "lc-ipc-", NULL, false},
                                     {NULL, "lc-ns-", NULL, false}};
    bench_case_t cases[LIFE_CASES] = {
        {"floor", life_floor, &args[0], {0}, 0},
        {"floor+layout", life_floor, &args[1], {0}, 0},
        {"in-process pair", life_pair, &args[2], {0}, 0},
        {"ipc pair", life_pair, &args[3], {0}, 0},
        {"in-process namespaces pair", life_pair, &args[4], {0}, 0}};
    bench_daemon_t daemon;
    int            rv = -1;

    if (bench_path(dir, sizeof(dir), b->work, "fs-floor") != 0 ||
        bench_ipc_url(b, "lifecycle", "life.sock", url, sizeof(url)) != 0)
        return -1;
    if (mkdir(dir, 0700) != 0) {
        bench_fail(b, "lifecycle", "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    if (bench_daemon_start(b, "lifecycle", urls, 1, &daemon) != 0)
        return -1;
    if ((args[2].c = bench_client(b, "lifecycle", NULL, 0)) == NULL)
        cases[2].fn = NULL;
    if ((args[3].c = bench_client(b, "lifecycle", url, 0)) == NULL)
        cases[3].fn = NULL;
    b->iso = "namespaces";
    if ((args[4].c = bench_client(b, "lifecycle", NULL, 0)) == NULL)
        cases[4].fn = NULL;
    b->iso = NULL;
    if (bench_cases_init(cases, LIFE_CASES, b->n_lat) == 0) {
        bench_rounds("lifecycle", cases, LIFE_CASES, b->n_warm, b->n_lat);
        life_report(b, cases, args[4].c);
        bench_cases_free(cases, LIFE_CASES);
        rv = 0;
    } else {
        bench_fail(b, "lifecycle", "out of memory");
    }
    nox_client_close(args[2].c);
    nox_client_close(args[3].c);
    nox_client_close(args[4].c);
    bench_daemon_stop(b, "lifecycle", &daemon);
    return bench_rmtree(dir) == 0 ? rv : -1;
}

/* ---- scale ---- */

typedef struct {
    bench_t      *b;
    nox_client_t *c;
    pid_t         pid;
    long          rss_idle, rss_full, rss_before, rss_after; /* KiB */
    bench_stats_t exec_lo, exec_hi, create_lo, create_hi;
} scale_t;

static long
scale_rss(scale_t *x, const char *when)
{
    long kib = bench_rss_kib(x->pid);

    if (kib < 0)
        bench_fail(x->b, "scale", "cannot read the server's RSS %s", when);
    return kib;
}

/* Write back what earlier groups and the fill wrote, so both probes
 * start from the same state of the file system. */
static void
scale_sync(scale_t *x)
{
    if (bench_syncfs(x->b->work) != 0)
        bench_fail(x->b, "scale", "syncfs: %s", strerror(errno));
}

/* Exec p50 on one sandbox and create p50 (each deleted again, untimed)
 * at the current number of sandboxes. */
static void
scale_probe(scale_t *x, const char *at, bench_stats_t *ex, bench_stats_t *cr,
            const bench_stats_t *ex_ref, const bench_stats_t *cr_ref)
{
    bench_t                 *b = x->b;
    static const char *const argv[] = {"true"};
    sandbox_loop_t           l = {"scale", "probe-", 0, b->n_scale_lat, true};
    bench_samples_t          s;
    size_t                   errors = 0, said = 0;
    int64_t                  t0, t1;
    char                     name[72], msg[256];

    ex->n = cr->n = 0;
    scale_sync(x);
    if (bench_samples_init(&s, b->n_scale_lat) != 0) {
        bench_fail(b, "scale", "out of memory");
        return;
    }
    t0 = bench_now_ns();
    for (size_t i = 0; i < b->n_scale_lat; i++) {
        t1 = bench_now_ns();
        if (bench_exec(x->c, "sc-0", argv, 1, NULL, msg, sizeof(msg)) ==
            NOX_OK) {
            bench_samples_add(&s, bench_now_ns() - t1);
        } else {
            errors++;
            bench_call_failed("scale", "exec", msg, &said);
        }
    }
    bench_stats(&s, bench_now_ns() - t0, ex);
    (void)snprintf(name, sizeof(name), "exec true @%s%s", at,
                   ex_ref ? " (vs @10)" : "");
    bench_row_lat(b, "scale", name, ex, errors, ex_ref);
    s.n = 0;
    errors = 0;
    t0 = sandbox_loop(x->c, &l, &s, &errors);
    bench_stats(&s, t0, cr);
    (void)snprintf(name, sizeof(name), "create @%s%s", at,
                   cr_ref ? " (vs @10)" : "");
    bench_row_lat(b, "scale", name, cr, errors, cr_ref);
    bench_samples_free(&s);
}

/* Register sandboxes sc-<from>..sc-<to - 1>, recording the creates. */
static void
scale_fill(scale_t *x, size_t from, size_t to)
{
    sandbox_loop_t  l = {"scale", "sc-", from, to, false};
    bench_samples_t s;
    bench_stats_t   st;
    size_t          errors = 0;
    char            name[72];
    int64_t         wall;

    if (bench_samples_init(&s, to - from) != 0) {
        bench_fail(x->b, "scale", "out of memory");
        return;
    }
    wall = sandbox_loop(x->c, &l, &s, &errors);
    bench_stats(&s, wall, &st);
    (void)snprintf(name, sizeof(name), "register sc-%zu..sc-%zu", from, to - 1);
    bench_row_lat(x->b, "scale", name, &st, errors, NULL);
    bench_samples_free(&s);
}

/* n_scale Execs round-robin over every sandbox, between two RSS reads. */
static void
scale_execs(scale_t *x)
{
    bench_t                 *b = x->b;
    static const char *const argv[] = {"true"};
    bench_samples_t          s;
    bench_stats_t            st;
    size_t                   errors = 0, said = 0;
    char                     sid[32], name[72], msg[256];
    int64_t                  t0, t1;

    if (bench_samples_init(&s, b->n_scale) != 0) {
        bench_fail(b, "scale", "out of memory");
        return;
    }
    scale_sync(x);
    x->rss_before = scale_rss(x, "before the Execs");
    t0 = bench_now_ns();
    for (size_t i = 0; i < b->n_scale; i++) {
        (void)snprintf(sid, sizeof(sid), "sc-%zu", i % b->n_scale);
        t1 = bench_now_ns();
        if (bench_exec(x->c, sid, argv, 1, NULL, msg, sizeof(msg)) == NOX_OK) {
            bench_samples_add(&s, bench_now_ns() - t1);
        } else {
            errors++;
            bench_call_failed("scale", "exec", msg, &said);
        }
    }
    bench_stats(&s, bench_now_ns() - t0, &st);
    x->rss_after = scale_rss(x, "after the Execs");
    (void)snprintf(name, sizeof(name), "%zu execs, one per sandbox",
                   b->n_scale);
    bench_row_lat(b, "scale", name, &st, errors, NULL);
    bench_samples_free(&s);
}

static void
scale_report(scale_t *x)
{
    bench_t *b = x->b;
    char     name[72];
    double   mib = 1.0 / 1024;
    double   grow = x->rss_before >= 0 && x->rss_after >= 0
                        ? (double)(x->rss_after - x->rss_before) * mib
                        : NAN;

    bench_row_value(b, "scale", "server RSS idle",
                    x->rss_idle >= 0 ? (double)x->rss_idle * mib : NAN, "MiB");
    (void)snprintf(name, sizeof(name), "server RSS @%zu sandboxes", b->n_scale);
    bench_row_value(b, "scale", name,
                    x->rss_full >= 0 ? (double)x->rss_full * mib : NAN, "MiB");
    bench_row_value(b, "scale", "server RSS before the execs",
                    x->rss_before >= 0 ? (double)x->rss_before * mib : NAN,
                    "MiB");
    bench_row_value(b, "scale", "server RSS after the execs",
                    x->rss_after >= 0 ? (double)x->rss_after * mib : NAN,
                    "MiB");
    bench_row_value(b, "scale", "server RSS growth over the execs", grow,
                    "MiB");
    bench_target(b, "scale: exec p50 @N / @10",
                 x->exec_hi.n && x->exec_lo.n
                     ? x->exec_hi.p50_us / x->exec_lo.p50_us
                     : NAN,
                 1.15, "x", false, NULL);
    bench_target(b, "scale: create p50 @N / @10",
                 x->create_hi.n && x->create_lo.n
                     ? x->create_hi.p50_us / x->create_lo.p50_us
                     : NAN,
                 1.15, "x", false, NULL);
    bench_target(b, "scale: server RSS @N sandboxes",
                 x->rss_full >= 0 ? (double)x->rss_full * mib : NAN, 64, "MiB",
                 false, NULL);
    bench_target(b, "scale: server RSS idle",
                 x->rss_idle >= 0 ? (double)x->rss_idle * mib : NAN, 8, "MiB",
                 false, NULL);
    bench_target(b, "scale: RSS growth over N execs", grow, 1, "MiB", false,
                 NULL);
}

/* Everything that needs the running server. */
static void
scale_run(scale_t *x, const char *url)
{
    bench_t *b = x->b;
    char     at[32];

    if ((x->c = bench_client(b, "scale", url, 0)) == NULL)
        return;
    x->rss_idle = scale_rss(x, "when idle");
    scale_fill(x, 0, 10);
    scale_probe(x, "10", &x->exec_lo, &x->create_lo, NULL, NULL);
    scale_fill(x, 10, b->n_scale);
    x->rss_full = scale_rss(x, "when full");
    (void)snprintf(at, sizeof(at), "%zu", b->n_scale);
    scale_probe(x, at, &x->exec_hi, &x->create_hi, &x->exec_lo, &x->create_lo);
    scale_execs(x);
    nox_client_close(x->c);
    x->c = NULL;
}

int
bench_group_scale(bench_t *b)
{
    scale_t        x = {.b = b,
                        .rss_idle = -1,
                        .rss_full = -1,
                        .rss_before = -1,
                        .rss_after = -1};
    bench_daemon_t daemon;
    char           url[SANDBOX_URL_MAX];
    const char    *urls[1] = {url};

    /* Plain sandboxes (bench_daemon_start): with isolation each would
     * keep a holder process (and its namespaces) alive, which is another
     * measurement. */
    if (bench_ipc_url(b, "scale", "scale.sock", url, sizeof(url)) != 0 ||
        bench_daemon_start(b, "scale", urls, 1, &daemon) != 0)
        return -1;
    x.pid = daemon.pid; /* for its RSS */
    scale_run(&x, url);
    bench_daemon_stop(b, "scale", &daemon);
    scale_report(&x);
    /* The sandboxes go with the work directory at the end. */
    return 0;
}
