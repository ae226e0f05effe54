/*
 * fuzz_quantity.c - libFuzzer harness: the Kubernetes quantity parser
 * (engine/quantity.c), as CreateSandbox's cpu and byte limits use it.
 *
 * Input: the quantity string (up to its first NUL). Both parsers run on
 * it and are checked against a second reading written here: a grammar
 * check (quantity.h's syntax) and the value in long double arithmetic.
 * The exact parser must accept exactly the grammar, say "zero" exactly
 * when every digit is 0, and otherwise agree with the long double value
 * rounded up, within its precision; "too large" only above the maximum.
 */
#include "fuzz_env.h"
#include "quantity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define QTY_MAX_LEN 64
#define QTY_CPU_MAX_MILLIS 1e9L
#define QTY_BYTES_MAX 18446744073709551615.0L /* UINT64_MAX */
#define QTY_REL_EPS 1e-12L

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    bool        valid;
    bool        zero;  /* every digit is 0 */
    long double value; /* before the scale; may be inf or 0 on range */
} qty_ref_t;

/* The suffix's factor as (power of ten, power of two); false if none. */
static bool
qty_ref_suffix(const char *r, long *e10, int *e2)
{
    static const char *const bin[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    static const char        dec[] = "numkMGTPE";
    static const long        dec_e[] = {-9, -6, -3, 3, 6, 9, 12, 15, 18};

    *e10 = 0;
    *e2 = 0;
    if (*r == '\0')
        return true;
    for (int i = 0; i < 6; i++)
        if (strcmp(r, bin[i]) == 0) {
            *e2 = 10 * (i + 1);
            return true;
        }
    if (r[1] == '\0' && strchr(dec, r[0]) != NULL) {
        *e10 = dec_e[strchr(dec, r[0]) - dec];
        return true;
    }
    if (r[0] != 'e' && r[0] != 'E')
        return false;
    r++;
    int sign = 1;
    if (*r == '+' || *r == '-')
        sign = *r++ == '-' ? -1 : 1;
    if (*r == '\0' || strspn(r, "0123456789") != strlen(r))
        return false;
    /* Beyond a few thousand the value is inf or 0 in long double anyway. */
    long e = 0;
    for (; *r != '\0'; r++)
        e = e < 100000 ? e * 10 + (*r - '0') : e;
    *e10 = sign * e;
    return true;
}

static qty_ref_t
qty_ref(const char *s)
{
    qty_ref_t   q = {false, true, 0};
    const char *p = s;
    char        num[QTY_MAX_LEN + 2];
    size_t      n = 0;
    bool        dot = false, digit = false;
    long        e10;
    int         e2;

    if (strlen(s) > QTY_MAX_LEN)
        return q;
    if (*p == '+')
        p++;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.') {
            if (dot)
                return q;
            dot = true;
        } else {
            digit = true;
            if (*p != '0')
                q.zero = false;
        }
        num[n++] = *p;
    }
    num[n] = '\0';
    if (!digit || !qty_ref_suffix(p, &e10, &e2))
        return q;
    q.valid = true;
    q.value = strtold(num, NULL) * powl(10.0L, (long double)e10) *
              powl(2.0L, (long double)e2);
    return q;
}

/* Compare one parser's outcome with the reference. */
static void
qty_compare(const char *what, const char *s, nox_err_t rv, uint64_t got,
            const nox_status_t *st, const qty_ref_t *ref, long double scale,
            long double max)
{
    long double v = ref->value * scale;
    long double tol = 1.0L + v * QTY_REL_EPS;

    if (rv != NOX_OK && (rv != NOX_EINVAL || st->msg[0] == '\0'))
        fuzz_die("%s('%s'): error %d without EINVAL and a message", what, s,
                 (int)rv);
    if (!ref->valid) {
        if (rv == NOX_OK || strstr(st->msg, "invalid quantity") == NULL)
            fuzz_die("%s('%s'): not the syntax, yet: %s", what, s,
                     rv == NOX_OK ? "accepted" : st->msg);
        return;
    }
    if (ref->zero) {
        if (rv == NOX_OK || strstr(st->msg, "greater than zero") == NULL)
            fuzz_die("%s('%s'): zero, yet: %s", what, s,
                     rv == NOX_OK ? "accepted" : st->msg);
        return;
    }
    if (rv != NOX_OK) {
        if (strstr(st->msg, "too large") == NULL || v < max - tol)
            fuzz_die("%s('%s') = %Lg refused: %s", what, s, v, st->msg);
        return;
    }
    /* Exactly ceil(v) and at least 1: a tiny fraction rounds up to 1. */
    long double want = ceill(v) < 1 ? 1 : ceill(v);
    if (isinf(v) || v > max + tol || fabsl((long double)got - want) > tol)
        fuzz_die("%s('%s') = %llu, expected about %Lg", what, s,
                 (unsigned long long)got, want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char        *s = malloc(size + 1);
    nox_status_t st;
    uint64_t     v = 0;
    nox_err_t    rv;

    if (s == NULL)
        fuzz_die("out of memory");
    memcpy(s, data, size);
    s[size] = '\0';
    qty_ref_t ref = qty_ref(s);
    rv = nox__quantity_cpu_millis("cpu_limit", s, &v, &st);
    qty_compare("cpu", s, rv, v, &st, &ref, 1000.0L, QTY_CPU_MAX_MILLIS);
    v = 0;
    rv = nox__quantity_bytes("memory_limit", s, &v, &st);
    qty_compare("bytes", s, rv, v, &st, &ref, 1.0L, QTY_BYTES_MAX);
    free(s);
    return 0;
}
