/* report.c - the results: rows and targets, printed as a table or JSON. */
#include "bench.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Failed calls reported per case on stderr; the rest are only counted. */
#define REPORT_SAY_MAX 3

/* Grow an array of size elements to hold one more; 0 or -1. */
static int
report_grow(void **v, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void  *p;

    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 32;
    if (ncap > SIZE_MAX / size || (p = realloc(*v, ncap * size)) == NULL)
        return -1;
    *v = p;
    *cap = ncap;
    return 0;
}

void
bench_row(bench_t *b, const bench_row_t *r)
{
    b->errors += r->errors;
    if (report_grow((void **)&b->rows, &b->cap_rows, b->n_rows,
                    sizeof(*b->rows)) != 0) {
        bench_fail(b, r->group, "out of memory recording %s", r->name);
        return;
    }
    b->rows[b->n_rows++] = *r;
}

void
bench_row_init(bench_row_t *r, const char *group, const char *name)
{
    memset(r, 0, sizeof(*r));
    r->group = group;
    (void)snprintf(r->name, sizeof(r->name), "%s", name); /* may truncate */
    r->p50_us = r->p99_us = r->value = NAN;
    r->ratio50 = r->ratio99 = r->floor_p50_us = r->floor_p99_us = NAN;
    r->unit = "";
}

void
bench_row_lat(bench_t *b, const char *group, const char *name,
              const bench_stats_t *st, size_t errors,
              const bench_stats_t *floor)
{
    bench_row_t r;

    bench_row_init(&r, group, name);
    r.n = st->n;
    r.errors = errors;
    r.p50_us = st->p50_us;
    r.p99_us = st->p99_us;
    r.value = st->per_s;
    r.unit = "calls/s";

    if (floor != NULL) {
        r.ratio50 = st->p50_us / floor->p50_us;
        r.ratio99 = st->p99_us / floor->p99_us;
        r.floor_p50_us = floor->p50_us;
        r.floor_p99_us = floor->p99_us;
    }
    bench_row(b, &r);
}

void
bench_row_value(bench_t *b, const char *group, const char *name, double value,
                const char *unit)
{
    bench_row_t r;

    bench_row_init(&r, group, name);
    r.value = value;
    r.unit = unit;
    bench_row(b, &r);
}

void
bench_target(bench_t *b, const char *name, double measured, double limit,
             const char *unit, bool at_least, const char *note)
{
    bench_target_t t;

    memset(&t, 0, sizeof(t));
    (void)snprintf(t.name, sizeof(t.name), "%s", name); /* may truncate */
    (void)snprintf(t.note, sizeof(t.note), "%s", note ? note : "");
    t.measured = measured;
    t.limit = limit;
    t.unit = unit;
    t.at_least = at_least;
    t.met =
        !isnan(measured) && (at_least ? measured >= limit : measured <= limit);
    if (report_grow((void **)&b->targets, &b->cap_targets, b->n_targets,
                    sizeof(*b->targets)) != 0) {
        bench_fail(b, "targets", "out of memory recording %s", name);
        return;
    }
    b->targets[b->n_targets++] = t;
}

void
bench_fail(bench_t *b, const char *group, const char *fmt, ...)
{
    va_list ap;

    b->failures++;
    b->errors++;
    (void)fprintf(stderr, "nox-bench: %s: ", group);
    va_start(ap, fmt);
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    (void)fputc('\n', stderr);
}

void
bench_call_failed(const char *group, const char *what, const char *msg,
                  size_t *said)
{
    if (*said >= REPORT_SAY_MAX)
        return;
    (*said)++;
    (void)fprintf(stderr, "nox-bench: %s: %s failed: %s%s\n", group, what, msg,
                  *said == REPORT_SAY_MAX ? " (further failures only counted)"
                                          : "");
}

void
bench_results_free(bench_t *b)
{
    free(b->rows);
    free(b->targets);
    b->rows = NULL;
    b->targets = NULL;
    b->n_rows = b->cap_rows = b->n_targets = b->cap_targets = 0;
}

/* ---- table ---- */

/* A duration in a readable unit, or "-". */
static const char *
report_dur(double us, char *buf, size_t len)
{
    if (isnan(us))
        (void)snprintf(buf, len, "-");
    else if (us < 1e3)
        (void)snprintf(buf, len, "%.1f us", us);
    else if (us < 1e6)
        (void)snprintf(buf, len, "%.2f ms", us / 1e3);
    else
        (void)snprintf(buf, len, "%.2f s", us / 1e6);
    return buf;
}

/* A figure with about three significant digits and its unit. */
static const char *
report_value(double v, const char *unit, char *buf, size_t len)
{
    if (isnan(v))
        (void)snprintf(buf, len, "-");
    else if (strcmp(unit, "x") == 0)
        (void)snprintf(buf, len, "%.2fx", v);
    else if (strcmp(unit, "errors") == 0 || v >= 100 || v <= -100)
        (void)snprintf(buf, len, "%.0f %s", v, unit);
    else if (v >= 10 || v <= -10)
        (void)snprintf(buf, len, "%.1f %s", v, unit);
    else
        (void)snprintf(buf, len, "%.2f %s", v, unit);
    return buf;
}

static const char *
report_ratio(const bench_row_t *r, char *buf, size_t len)
{
    if (isnan(r->ratio50))
        (void)snprintf(buf, len, "-");
    else
        (void)snprintf(buf, len, "%.2fx / %.2fx", r->ratio50, r->ratio99);
    return buf;
}

static void
report_header(const bench_t *b)
{
    char kernel[256], cpu[256];
    long ncpu;

    bench_machine(kernel, sizeof(kernel), cpu, sizeof(cpu), &ncpu);
    (void)printf("nox-bench %s (%s run)\n", NOX_VERSION,
                 b->quick ? "quick" : "full");
    (void)printf("machine:  %ld CPUs, %s, %s\n", ncpu, cpu, kernel);
    (void)printf("base dir: %s (%s)\n\n", b->base_dir, b->fs_type);
}

int
bench_print_table(const bench_t *b)
{
    char p50[32], p99[32], val[48], ratio[40], n[24];

    report_header(b);
    (void)printf("%-11s %-38s %6s %10s %10s %16s %15s %4s\n", "group", "case",
                 "n", "p50", "p99", "rate/figure", "vs floor p50/99", "err");
    for (size_t i = 0; i < b->n_rows; i++) {
        const bench_row_t *r = &b->rows[i];

        if (r->n > 0)
            (void)snprintf(n, sizeof(n), "%zu", r->n);
        else
            (void)snprintf(n, sizeof(n), "-");
        (void)printf("%-11s %-38s %6s %10s %10s %16s %15s %4zu\n", r->group,
                     r->name, n, report_dur(r->p50_us, p50, sizeof(p50)),
                     report_dur(r->p99_us, p99, sizeof(p99)),
                     report_value(r->value, r->unit, val, sizeof(val)),
                     report_ratio(r, ratio, sizeof(ratio)), r->errors);
    }
    if (b->n_targets > 0)
        (void)printf("\n%-52s %14s %14s  %s\n", "targets", "measured", "limit",
                     "result");
    for (size_t i = 0; i < b->n_targets; i++) {
        const bench_target_t *t = &b->targets[i];

        (void)printf("%-52s %14s %14s  %s%s%s\n", t->name,
                     report_value(t->measured, t->unit, val, sizeof(val)),
                     report_value(t->limit, t->unit, p50, sizeof(p50)),
                     t->met               ? "met"
                     : isnan(t->measured) ? "n/a"
                                          : "MISSED",
                     t->note[0] ? ": " : "", t->note);
    }
    (void)printf("\nerrors: %zu, failed setups: %zu\n", b->errors, b->failures);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}

/* ---- JSON ---- */

/* Add a number, or null for NAN; false on allocation failure. */
static bool
report_num(cJSON *o, const char *k, double v)
{
    if (isnan(v))
        return cJSON_AddNullToObject(o, k) != NULL;
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

static bool
report_json_row(cJSON *arr, const bench_row_t *r)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || !cJSON_AddItemToArray(arr, o))
        return (cJSON_Delete(o), false);
    return cJSON_AddStringToObject(o, "group", r->group) != NULL &&
           cJSON_AddStringToObject(o, "case", r->name) != NULL &&
           report_num(o, "n", (double)r->n) &&
           report_num(o, "errors", (double)r->errors) &&
           report_num(o, "p50_us", r->p50_us) &&
           report_num(o, "p99_us", r->p99_us) &&
           report_num(o, "value", r->value) &&
           cJSON_AddStringToObject(o, "unit", r->unit) != NULL &&
           report_num(o, "ratio_p50", r->ratio50) &&
           report_num(o, "ratio_p99", r->ratio99) &&
           report_num(o, "floor_p50_us", r->floor_p50_us) &&
           report_num(o, "floor_p99_us", r->floor_p99_us);
}

static bool
report_json_target(cJSON *arr, const bench_target_t *t)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || !cJSON_AddItemToArray(arr, o))
        return (cJSON_Delete(o), false);
    return cJSON_AddStringToObject(o, "name", t->name) != NULL &&
           report_num(o, "measured", t->measured) &&
           report_num(o, "limit", t->limit) &&
           cJSON_AddStringToObject(o, "unit", t->unit) != NULL &&
           cJSON_AddBoolToObject(o, "at_least", t->at_least) != NULL &&
           cJSON_AddBoolToObject(o, "met", t->met) != NULL &&
           cJSON_AddStringToObject(o, "note", t->note) != NULL;
}

static bool
report_json_head(cJSON *root, const bench_t *b)
{
    char   kernel[256], cpu[256];
    long   ncpu;
    cJSON *m;

    bench_machine(kernel, sizeof(kernel), cpu, sizeof(cpu), &ncpu);
    if ((m = cJSON_AddObjectToObject(root, "machine")) == NULL)
        return false;
    return report_num(m, "ncpu", (double)ncpu) &&
           cJSON_AddStringToObject(m, "kernel", kernel) != NULL &&
           cJSON_AddStringToObject(m, "cpu", cpu) != NULL &&
           cJSON_AddStringToObject(root, "version", NOX_VERSION) != NULL &&
           cJSON_AddStringToObject(root, "mode", b->quick ? "quick" : "full") !=
               NULL &&
           cJSON_AddStringToObject(root, "base_dir", b->base_dir) != NULL &&
           cJSON_AddStringToObject(root, "fs_type", b->fs_type) != NULL &&
           report_num(root, "errors", (double)b->errors) &&
           report_num(root, "failures", (double)b->failures);
}

int
bench_print_json(const bench_t *b)
{
    cJSON *root = cJSON_CreateObject(), *rows, *targets;
    char  *text = NULL;
    bool   ok = root != NULL && report_json_head(root, b);
    int    rv = -1;

    rows = ok ? cJSON_AddArrayToObject(root, "rows") : NULL;
    targets = ok ? cJSON_AddArrayToObject(root, "targets") : NULL;
    ok = ok && rows != NULL && targets != NULL;
    for (size_t i = 0; ok && i < b->n_rows; i++)
        ok = report_json_row(rows, &b->rows[i]);
    for (size_t i = 0; ok && i < b->n_targets; i++)
        ok = report_json_target(targets, &b->targets[i]);
    if (ok && (text = cJSON_Print(root)) != NULL)
        rv = puts(text) >= 0 && fflush(stdout) == 0 ? 0 : -1;
    else
        (void)fprintf(stderr, "nox-bench: out of memory building JSON\n");
    free(text); /* cJSON_Print uses malloc with the default hooks */
    cJSON_Delete(root);
    return rv;
}
