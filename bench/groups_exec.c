/* groups_exec.c - the exec group: Exec of "true" and "echo hello"
 * through each transport (in-process engine, inproc, ipc, tcp) in plain
 * sandboxes, and in-process in a namespaced one (isolation namespaces),
 * each round also spawning the same command directly (the floor), so all
 * six see the same machine. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EXEC_URL_MAX 160
#define EXEC_NT 5 /* transports, the last one isolated */

/* One transport's client and sandbox, and the command it runs. */
typedef struct {
    const char        *name;
    nox_client_t      *c;
    char               sid[32];
    const char *const *argv;
    size_t             argc;
    const char        *want; /* expected stdout, or NULL */
} exec_tp_t;

static int
exec_case(void *arg, size_t i, char *msg, size_t msglen)
{
    exec_tp_t *t = arg;

    (void)i; /* every round runs the same command */
    return bench_exec(t->c, t->sid, t->argv, t->argc, t->want, msg, msglen) ==
                   NOX_OK
               ? 0
               : -1;
}

static void
exec_targets(bench_t *b, const bench_stats_t *floor, const bench_stats_t *local,
             const bench_stats_t *ipc)
{
    bool ok = floor->n > 0;

    bench_target(b, "ipc exec true: p50 - floor p50",
                 ok && ipc->n ? ipc->p50_us - floor->p50_us : NAN, 150, "us",
                 false, NULL);
    bench_target(b, "ipc exec true: p99 / floor p99",
                 ok && ipc->n ? ipc->p99_us / floor->p99_us : NAN, 1.5, "x",
                 false, NULL);
    bench_target(b, "in-process exec true: p50 - floor p50",
                 ok && local->n ? local->p50_us - floor->p50_us : NAN, 50, "us",
                 false, NULL);
}

/* Issue 4's targets: an isolated Exec against the unisolated floor. */
static void
exec_iso_targets(bench_t *b, const bench_stats_t *floor,
                 const bench_stats_t *iso)
{
    bool ok = floor->n > 0 && iso->n > 0;

    bench_target(b, "isolated exec true: p50 / floor p50",
                 ok ? iso->p50_us / floor->p50_us : NAN, 1.5, "x", false, NULL);
    bench_target(b, "isolated exec true: p99 / floor p99",
                 ok ? iso->p99_us / floor->p99_us : NAN, 2.0, "x", false, NULL);
}

/* Measure one command (k: 0 true, 1 echo hello) through every open
 * transport and the floor, interleaved; rows and, for true, targets. */
static void
exec_command(bench_t *b, exec_tp_t *tp, int k)
{
    static const char *const f_argv[2][3] = {{"/bin/true", NULL, NULL},
                                             {"/bin/echo", "hello", NULL}};
    static const char *const argv[2][2] = {{"true", NULL}, {"echo", "hello"}};
    bench_case_t             cases[1 + EXEC_NT];
    bench_stats_t            st[1 + EXEC_NT];
    char                     name[72];

    memset(cases, 0, sizeof(cases));
    cases[0] =
        (bench_case_t){"floor", bench_case_run, (void *)f_argv[k], {0}, 0};
    for (size_t t = 0; t < EXEC_NT; t++) {
        tp[t].argv = argv[k];
        tp[t].argc = k == 0 ? 1 : 2;
        tp[t].want = k == 0 ? NULL : "hello\n";
        cases[1 + t].name = tp[t].name;
        cases[1 + t].fn = tp[t].c != NULL ? exec_case : NULL;
        cases[1 + t].arg = &tp[t];
    }
    if (bench_cases_init(cases, 1 + EXEC_NT, b->n_lat) != 0) {
        bench_fail(b, "exec", "out of memory");
        return;
    }
    bench_rounds("exec", cases, 1 + EXEC_NT, b->n_warm, b->n_lat);
    for (size_t t = 0; t < 1 + EXEC_NT; t++) {
        bench_case_stats(&cases[t], &st[t]);
        if (t == 0)
            (void)snprintf(name, sizeof(name), "floor %s (interleaved)",
                           k == 0 ? "/bin/true" : "/bin/echo");
        else
            (void)snprintf(name, sizeof(name), "%s %s", tp[t - 1].name,
                           k == 0 ? "true" : "echo hello");
        if (t == 0 || cases[t].fn != NULL)
            bench_row_lat(b, "exec", name, &st[t], cases[t].errors,
                          t > 0 && st[0].n > 0 ? &st[0] : NULL);
    }
    if (k == 0) {
        exec_targets(b, &st[0], &st[1], &st[3]);
        exec_iso_targets(b, &st[0], &st[EXEC_NT]);
    }
    bench_cases_free(cases, 1 + EXEC_NT);
}

/* Open every transport's client with its sandbox; one that fails is left
 * NULL (reported) and skipped. */
static void
exec_open(bench_t *b, exec_tp_t *tp, const char *const *urls)
{
    for (size_t t = 0; t < EXEC_NT; t++) {
        (void)snprintf(tp[t].sid, sizeof(tp[t].sid), "exec-%zu", t);
        /* The last one is namespaced; the rest stay plain. */
        b->iso = t == EXEC_NT - 1 ? "namespaces" : NULL;
        tp[t].c = bench_client(b, "exec", urls[t], NOX_ARCHIVE_TAR_GZ);
        b->iso = NULL;
        if (tp[t].c != NULL && bench_create(b, "exec", tp[t].c, tp[t].sid)) {
            nox_client_close(tp[t].c);
            tp[t].c = NULL;
        }
    }
}

static void
exec_close(bench_t *b, exec_tp_t *tp)
{
    for (size_t t = 0; t < EXEC_NT; t++) {
        if (tp[t].c == NULL)
            continue;
        bench_delete(b, "exec", tp[t].c, tp[t].sid);
        nox_client_close(tp[t].c);
    }
}

int
bench_group_exec(bench_t *b)
{
    char        inproc[64], ipc[EXEC_URL_MAX], tcp[EXEC_URL_MAX];
    const char *listen[3] = {inproc, ipc, "tcp://127.0.0.1:0"};
    const char *urls[EXEC_NT] = {NULL, inproc, ipc, tcp, NULL};
    exec_tp_t   tp[EXEC_NT] = {{.name = "in-process"},
                               {.name = "inproc"},
                               {.name = "ipc"},
                               {.name = "tcp"},
                               {.name = "in-process namespaces"}};
    bench_srv_t srv;

    (void)snprintf(inproc, sizeof(inproc), "inproc://nox-bench-%ld",
                   (long)getpid()); /* fits */
    if (bench_ipc_url(b, "exec", "exec.sock", ipc, sizeof(ipc)) != 0 ||
        bench_srv_start(b, "exec", &srv, listen, 3) != 0)
        return -1;
    if (bench_srv_url(&srv, 2, tcp, sizeof(tcp)) != 0) {
        bench_fail(b, "exec", "cannot learn the tcp port");
        bench_srv_stop(&srv);
        return -1;
    }
    exec_open(b, tp, urls);
    exec_command(b, tp, 0);
    exec_command(b, tp, 1);
    exec_close(b, tp);
    bench_srv_stop(&srv);
    return 0;
}
