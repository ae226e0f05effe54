/* rounds.c - interleaved measurement: each round runs every case once,
 * the floor among them, so a floor and the figures compared with it see
 * the same machine (a build starting next door, a journal commit) rather
 * than minutes apart. */
#include "bench.h"

int
bench_cases_init(bench_case_t *cases, size_t n_cases, size_t n)
{
    for (size_t k = 0; k < n_cases; k++) {
        cases[k].errors = 0;
        if (bench_samples_init(&cases[k].s, n) != 0) {
            while (k-- > 0)
                bench_samples_free(&cases[k].s);
            return -1;
        }
    }
    return 0;
}

void
bench_cases_free(bench_case_t *cases, size_t n_cases)
{
    for (size_t k = 0; k < n_cases; k++)
        bench_samples_free(&cases[k].s);
}

void
bench_rounds(const char *group, bench_case_t *cases, size_t n_cases,
             size_t warm, size_t n)
{
    size_t  said[BENCH_MAX_CASES] = {0};
    char    msg[256];
    int64_t t0, dt;

    for (size_t i = 0; i < warm + n; i++) {
        for (size_t k = 0; k < n_cases && k < BENCH_MAX_CASES; k++) {
            bench_case_t *c = &cases[k];

            if (c->fn == NULL)
                continue; /* its setup failed (reported) */
            msg[0] = '\0';
            t0 = bench_now_ns();
            if (c->fn(c->arg, i, msg, sizeof(msg)) == 0) {
                dt = bench_now_ns() - t0;
                if (i >= warm)
                    bench_samples_add(&c->s, dt);
                continue;
            }
            c->errors++;
            bench_call_failed(group, c->name, msg, &said[k]);
        }
    }
}

void
bench_case_stats(bench_case_t *c, bench_stats_t *st)
{
    int64_t busy = 0;

    for (size_t i = 0; i < c->s.n; i++)
        busy += c->s.v[i];
    /* Calls per second of this case alone: n over its own time. */
    bench_stats(&c->s, busy, st);
}
