/* groups_cli.c - the CLI group: wall time of whole noxrc-rpc processes,
 * embedded (--local-test) and against a server (--url ipc://...), with
 * "noxrc-rpc --version" as the floor (process start, dynamic linking).
 * The embedded case runs twice: plain (--isolation none), and with the
 * default isolation on a namespaced sandbox, where each process also
 * probes the kernel and starts the sandbox's holder. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

#define CLI_URL_MAX 160
#define CLI_SID "cli"
#define CLI_NS_SID "cli-ns"
#define CLI_CASES 4

int
bench_group_cli(bench_t *b)
{
    char        bin[PATH_MAX], url[CLI_URL_MAX];
    const char *urls[1] = {url};
    const char *v_argv[] = {bin, "--version", NULL};
    const char *l_argv[] = {
        bin,     "--local-test", "--isolation", "none", "--base-dir",
        b->work, "exec",         CLI_SID,       "true", NULL};
    const char  *n_argv[] = {bin,    "--local-test", "--base-dir", b->work,
                             "exec", CLI_NS_SID,     "true",       NULL};
    const char  *i_argv[] = {bin, "--url", url, "exec", CLI_SID, "true", NULL};
    bench_case_t cases[CLI_CASES] = {
        {"noxrc-rpc --version", bench_case_run, v_argv, {0}, 0},
        {"noxrc-rpc --local-test", bench_case_run, l_argv, {0}, 0},
        {"noxrc-rpc --url", bench_case_run, i_argv, {0}, 0},
        {"noxrc-rpc --local-test namespaces", bench_case_run, n_argv, {0}, 0},
    };
    const char *names[CLI_CASES] = {
        "noxrc-rpc --version (floor)",
        "noxrc-rpc --local-test --isolation none exec true",
        "noxrc-rpc --url ipc:// exec true",
        "noxrc-rpc --local-test exec true (namespaces)"};
    bench_stats_t st[CLI_CASES];
    nox_client_t *c, *nc = NULL;
    bench_srv_t   srv;

    if (bench_path(bin, sizeof(bin), b->bin_dir, "noxrc-rpc") != 0 ||
        access(bin, X_OK) != 0) {
        bench_fail(b, "cli", "no noxrc-rpc next to nox-bench (%s)", bin);
        return -1;
    }
    if (bench_ipc_url(b, "cli", "cli.sock", url, sizeof(url)) != 0 ||
        bench_srv_start(b, "cli", &srv, urls, 1) != 0)
        return -1;
    if ((c = bench_client(b, "cli", url, 0)) == NULL)
        goto out_stop;
    if (bench_create(b, "cli", c, CLI_SID) != 0)
        goto out_close;
    b->iso = "namespaces";
    nc = bench_client(b, "cli", NULL, 0);
    b->iso = NULL;
    if (nc == NULL || bench_create(b, "cli", nc, CLI_NS_SID) != 0)
        cases[3].fn = NULL;
    if (bench_cases_init(cases, CLI_CASES, b->n_cli) != 0) {
        bench_fail(b, "cli", "out of memory");
        goto out_delete;
    }
    /* Interleaved: the floor and every mode see the same machine. */
    bench_rounds("cli", cases, CLI_CASES, b->n_warm, b->n_cli);
    for (size_t k = 0; k < CLI_CASES; k++) {
        if (cases[k].fn == NULL)
            continue;
        bench_case_stats(&cases[k], &st[k]);
        bench_row_lat(b, "cli", names[k], &st[k], cases[k].errors,
                      k > 0 && st[0].n ? &st[0] : NULL);
    }
    bench_target(b, "cli: --local-test exec p50 per process",
                 st[1].n ? st[1].p50_us / 1e3 : NAN, 5, "ms", false, NULL);
    bench_cases_free(cases, CLI_CASES);
out_delete:
    if (cases[3].fn != NULL)
        bench_delete(b, "cli", nc, CLI_NS_SID);
    nox_client_close(nc);
    bench_delete(b, "cli", c, CLI_SID);
out_close:
    nox_client_close(c);
out_stop:
    bench_srv_stop(&srv);
    return 0;
}
