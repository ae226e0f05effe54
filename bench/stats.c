/* stats.c - latency samples: median, p99 and calls per second. */
#include "bench.h"

#include <math.h> /* NAN only: no libm */
#include <stdlib.h>
#include <time.h>

int
bench_samples_init(bench_samples_t *s, size_t cap)
{
    s->n = 0;
    s->cap = cap;
    /* calloc checks cap * size for overflow. */
    if ((s->v = calloc(cap > 0 ? cap : 1, sizeof(*s->v))) == NULL)
        return -1;
    return 0;
}

void
bench_samples_add(bench_samples_t *s, int64_t ns)
{
    if (s->n < s->cap)
        s->v[s->n++] = ns;
}

void
bench_samples_free(bench_samples_t *s)
{
    if (s == NULL)
        return;
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static int
stats_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least q of the samples at or
 * below it. n > 0. */
static double
stats_rank_us(const int64_t *v, size_t n, double q)
{
    double r = q * (double)n;
    size_t k = (size_t)r;

    if ((double)k < r)
        k++; /* ceil, without libm */
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1e3;
}

void
bench_stats(bench_samples_t *s, int64_t wall_ns, bench_stats_t *out)
{
    double sum = 0;

    out->n = s->n;
    out->p50_us = out->p99_us = out->mean_us = out->per_s = NAN;
    if (s->n == 0)
        return;
    qsort(s->v, s->n, sizeof(*s->v), stats_cmp);
    for (size_t i = 0; i < s->n; i++)
        sum += (double)s->v[i];
    out->p50_us = stats_rank_us(s->v, s->n, 0.50);
    out->p99_us = stats_rank_us(s->v, s->n, 0.99);
    out->mean_us = sum / (double)s->n / 1e3;
    if (wall_ns > 0)
        out->per_s = (double)s->n * 1e9 / (double)wall_ns;
}

int64_t
bench_now_ns(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail with a valid pointer. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
