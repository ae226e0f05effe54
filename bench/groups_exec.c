/* groups_exec.c - the exec group: Exec of "true" and "echo hello"
 * through each transport (in-process engine, inproc, ipc, tcp, and http
 * to noxrunnerd's REST gateway) in plain sandboxes, in-process in a namespaced
 * one (isolation namespaces), and through the engine's own API (no RPC at all)
 * in a plain and a namespaced sandbox, each round also spawning the same
 * command directly (the floor), so all of them see the same machine. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EXEC_URL_MAX 160
#define EXEC_NT 8           /* transports, as named in bench_group_exec */
#define EXEC_T_IPC 2        /* ipc client */
#define EXEC_T_HTTP 4       /* http client */
#define EXEC_T_ISO 5        /* in-process client, namespaces */
#define EXEC_T_ENGINE 6     /* engine API, plain */
#define EXEC_T_ENGINE_ISO 7 /* engine API, namespaces */

/* One transport's client and sandbox, and the command it runs. */
typedef struct {
    const char        *name;
    nox_client_t      *c;
    nox_engine_t      *e; /* engine API cases: no client */
    char               sid[32];
    const char *const *argv;
    size_t             argc;
    const char        *want; /* expected stdout, or NULL */
} exec_tp_t;

/* One Exec through the engine's API, checked as bench_exec checks. */
static int
exec_engine(const exec_tp_t *t, char *msg, size_t msglen)
{
    nox_exec_req_t r = {.session_id = t->sid, .argv = t->argv, .argc = t->argc};
    nox_exec_result_t res = NOX_EXEC_RESULT_INIT;
    nox_status_t      st;
    int               rc = 0;

    if (nox_engine_exec(t->e, &r, &res, &st) != NOX_OK) {
        (void)snprintf(msg, msglen, "exec: %s", st.msg);
        return -1;
    }
    if (res.exit_code != 0 ||
        (t->want != NULL &&
         (res.out.len != strlen(t->want) ||
          memcmp(res.out.data, t->want, res.out.len) != 0))) {
        (void)snprintf(msg, msglen, "exec: exit %d, unexpected output",
                       res.exit_code);
        rc = -1;
    }
    nox_exec_result_free(&res);
    return rc;
}

static int
exec_case(void *arg, size_t i, char *msg, size_t msglen)
{
    exec_tp_t *t = arg;

    (void)i; /* every round runs the same command */
    if (t->e != NULL)
        return exec_engine(t, msg, msglen);
    return bench_exec(t->c, t->sid, t->argv, t->argc, t->want, msg, msglen) ==
                   NOX_OK
               ? 0
               : -1;
}

static void
exec_targets(bench_t *b, const bench_stats_t *floor, const bench_stats_t *local,
             const bench_stats_t *ipc, const bench_stats_t *http)
{
    bool ok = floor->n > 0;

    /* NoxRunner's REST API against our own protocol, in the same rounds:
     * what HTTP and JSON add on top of an NNG round trip. */
    bench_target(b, "http exec true: p50 - ipc p50",
                 ipc->n && http->n ? http->p50_us - ipc->p50_us : NAN, 100,
                 "us", false, NULL);

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

/* The isolation targets: an isolated Exec against the unisolated floor, at
 * the engine's API (what isolation costs) and through the in-process
 * client (plus the RPC hop the transport targets are about). */
static void
exec_iso_targets(bench_t *b, const bench_stats_t *floor,
                 const bench_stats_t *engine, const bench_stats_t *client)
{
    const bench_stats_t     *iso[2] = {engine, client};
    static const char *const what[2][2] = {
        {"isolated exec true, engine API: p50 / floor p50",
         "isolated exec true, engine API: p99 / floor p99"},
        {"isolated exec true, in-process: p50 / floor p50",
         "isolated exec true, in-process: p99 / floor p99"}};

    for (int k = 0; k < 2; k++) {
        bool ok = floor->n > 0 && iso[k]->n > 0;
        bench_target(b, what[k][0], ok ? iso[k]->p50_us / floor->p50_us : NAN,
                     1.5, "x", false, NULL);
        bench_target(b, what[k][1], ok ? iso[k]->p99_us / floor->p99_us : NAN,
                     2.0, "x", false, NULL);
    }
}

/* What an ipc Exec of true costs beyond spawning (its p50 less the
 * floor's), how much of that a bare NNG round trip between two processes
 * already takes, and what is left for the service: packing, dispatch,
 * the engine's bookkeeping, the server's threads. (The engine API row is
 * this process's engine; the ipc server is another process, so its
 * engine part is inside "the rest", not to be subtracted twice.) */
static void
exec_split(bench_t *b, const bench_stats_t *floor, const bench_stats_t *ipc,
           const bench_stats_t *nng)
{
    if (floor->n == 0 || ipc->n == 0 || nng->n == 0)
        return;
    bench_row_value(b, "exec", "ipc true: p50 over the floor",
                    ipc->p50_us - floor->p50_us, "us");
    bench_row_value(b, "exec", "  of which an NNG round trip", nng->p50_us,
                    "us");
    bench_row_value(b, "exec", "  the rest (service, engine)",
                    ipc->p50_us - floor->p50_us - nng->p50_us, "us");
}

/* Measure one command (k: 0 true, 1 echo hello) through every open
 * transport and the floor, interleaved; rows and, for true, targets. The
 * rounds of true also time a bare NNG round trip over ipc (echo). */
static void
exec_command(bench_t *b, exec_tp_t *tp, int k, bench_echo_t *echo)
{
    static const char *const f_argv[2][3] = {{"/bin/true", NULL, NULL},
                                             {"/bin/echo", "hello", NULL}};
    static const char *const argv[2][2] = {{"true", NULL}, {"echo", "hello"}};
    bench_case_t             cases[2 + EXEC_NT];
    bench_stats_t            st[2 + EXEC_NT];
    size_t                   nc = k == 0 ? 2 + EXEC_NT : 1 + EXEC_NT;
    char                     name[72];

    memset(cases, 0, sizeof(cases));
    cases[0] =
        (bench_case_t){"floor", bench_case_run, (void *)f_argv[k], {0}, 0};
    for (size_t t = 0; t < EXEC_NT; t++) {
        tp[t].argv = argv[k];
        tp[t].argc = k == 0 ? 1 : 2;
        tp[t].want = k == 0 ? NULL : "hello\n";
        cases[1 + t].name = tp[t].name;
        cases[1 + t].fn = tp[t].c != NULL || tp[t].e != NULL ? exec_case : NULL;
        cases[1 + t].arg = &tp[t];
    }
    cases[1 + EXEC_NT] = (bench_case_t){
        "NNG round trip", echo->started ? bench_echo_case : NULL, echo, {0}, 0};
    if (bench_cases_init(cases, nc, b->n_lat) != 0) {
        bench_fail(b, "exec", "out of memory");
        return;
    }
    bench_rounds("exec", cases, nc, b->n_warm, b->n_lat);
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
    if (k == 0 && cases[1 + EXEC_NT].fn != NULL) {
        bench_case_stats(&cases[1 + EXEC_NT], &st[1 + EXEC_NT]);
        bench_row_lat(b, "exec", "floor NNG ipc round trip, 64 B (interleaved)",
                      &st[1 + EXEC_NT], cases[1 + EXEC_NT].errors, NULL);
        exec_split(b, &st[0], &st[1 + EXEC_T_IPC], &st[1 + EXEC_NT]);
    }
    if (k == 0) {
        exec_targets(b, &st[0], &st[1], &st[1 + EXEC_T_IPC],
                     &st[1 + EXEC_T_HTTP]);
        exec_iso_targets(b, &st[0], &st[1 + EXEC_T_ENGINE_ISO],
                         &st[1 + EXEC_T_ISO]);
    }
    bench_cases_free(cases, nc);
}

/* The engine API cases: the server's (plain) engine, and one opened with
 * isolation namespaces; each with its sandbox. A failure is reported and
 * the case skipped. */
static void
exec_open_engines(bench_t *b, exec_tp_t *tp, nox_engine_t *plain)
{
    nox_engine_opts_t eo = {
        .base_dir = b->work, .quiet = 1, .isolation = NOX_ISOLATION_NAMESPACES};
    nox_status_t st;

    tp[EXEC_T_ENGINE].e = plain;
    if (nox_engine_open(&tp[EXEC_T_ENGINE_ISO].e, &eo, &st) != NOX_OK) {
        bench_fail(b, "exec", "engine with namespaces: %s", st.msg);
        tp[EXEC_T_ENGINE_ISO].e = NULL;
    }
    for (size_t t = EXEC_T_ENGINE; t <= EXEC_T_ENGINE_ISO; t++) {
        nox_create_req_t   r = {.session_id = tp[t].sid};
        nox_sandbox_info_t info;
        bool               created;

        if (tp[t].e != NULL && nox_engine_create(tp[t].e, &r, &info, &created,
                                                 NULL, &st) != NOX_OK) {
            bench_fail(b, "exec", "create %s: %s", tp[t].sid, st.msg);
            if (t == EXEC_T_ENGINE_ISO)
                nox_engine_close(tp[t].e);
            tp[t].e = NULL;
        }
    }
}

/* Open every transport's client with its sandbox; one that fails is left
 * NULL (reported) and skipped. */
static void
exec_open(bench_t *b, exec_tp_t *tp, const char *const *urls,
          nox_engine_t *plain)
{
    for (size_t t = 0; t < EXEC_NT; t++)
        (void)snprintf(tp[t].sid, sizeof(tp[t].sid), "exec-%zu", t);
    exec_open_engines(b, tp, plain);
    for (size_t t = 0; t < EXEC_T_ENGINE; t++) {
        b->iso = t == EXEC_T_ISO ? "namespaces" : NULL;
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
    bool         deleted;
    nox_status_t st;

    for (size_t t = EXEC_T_ENGINE; t <= EXEC_T_ENGINE_ISO; t++)
        if (tp[t].e != NULL &&
            nox_engine_delete(tp[t].e, tp[t].sid, &deleted, &st) != NOX_OK)
            bench_fail(b, "exec", "delete %s: %s", tp[t].sid, st.msg);
    nox_engine_close(tp[EXEC_T_ENGINE_ISO].e); /* the plain one is srv's */
    for (size_t t = 0; t < EXEC_T_ENGINE; t++) {
        if (tp[t].c == NULL)
            continue;
        bench_delete(b, "exec", tp[t].c, tp[t].sid);
        nox_client_close(tp[t].c);
    }
}

/* Start what the transports need: a server in this process on inproc://
 * (its engine is also the engine API case's), and a noxrunnerd process on
 * ipc://, tcp:// and http:// (its REST gateway), as clients meet it. 0,
 * or -1 reported. */
static int
exec_servers(bench_t *b, bench_srv_t *srv, char *inproc, size_t inproc_len,
             char *ipc, char *tcp, char *http, bench_daemon_t *daemon)
{
    const char *listen[1] = {inproc};
    const char *daemon_urls[3] = {ipc, "tcp://127.0.0.1:0",
                                  "http://127.0.0.1:0"};

    (void)snprintf(inproc, inproc_len, "inproc://nox-bench-%ld",
                   (long)getpid()); /* fits */
    if (bench_ipc_url(b, "exec", "exec.sock", ipc, EXEC_URL_MAX) != 0)
        return -1;
    if (bench_srv_start(b, "exec", srv, listen, 1) != 0)
        return -1;
    if (bench_daemon_start(b, "exec", daemon_urls, 3, daemon) != 0) {
        bench_srv_stop(srv);
        return -1;
    }
    /* The ports the kernel picked. */
    (void)snprintf(tcp, EXEC_URL_MAX, "%s", daemon->urls[1]);  /* fits */
    (void)snprintf(http, EXEC_URL_MAX, "%s", daemon->urls[2]); /* fits */
    return 0;
}

int
bench_group_exec(bench_t *b)
{
    char        inproc[64], ipc[EXEC_URL_MAX], tcp[EXEC_URL_MAX];
    char        http[EXEC_URL_MAX], echo_url[EXEC_URL_MAX], msg[160];
    const char *urls[EXEC_NT] = {NULL, inproc, ipc,  tcp,
                                 http, NULL,   NULL, NULL};
    exec_tp_t   tp[EXEC_NT] = {
          {.name = "in-process"}, {.name = "inproc"},
          {.name = "ipc"},        {.name = "tcp"},
          {.name = "http"},       {.name = "in-process namespaces"},
          {.name = "engine API"}, {.name = "engine API namespaces"},
    };
    bench_srv_t    srv;
    bench_echo_t   echo;
    bench_daemon_t daemon;

    if (exec_servers(b, &srv, inproc, sizeof(inproc), ipc, tcp, http,
                     &daemon) != 0)
        return -1;
    exec_open(b, tp, urls, srv.engine);
    memset(&echo, 0, sizeof(echo));
    /* A failure only loses the NNG rows (bench_ipc_url says why). */
    if (bench_ipc_url(b, "exec", "echo.sock", echo_url, sizeof(echo_url)) ==
            0 &&
        bench_echo_start(b, &echo, echo_url, msg, sizeof(msg)) != 0)
        bench_fail(b, "exec", "NNG echo: %s", msg);
    exec_command(b, tp, 0, &echo);
    exec_command(b, tp, 1, &echo);
    bench_echo_stop(&echo);
    exec_close(b, tp);
    bench_daemon_stop(b, "exec", &daemon);
    bench_srv_stop(&srv);
    return 0;
}
