/* quantity.c - parse Kubernetes resource quantities exactly.
 *
 * No floating point: a quantity is kept as a decimal digit string D, a
 * power of ten and a power of two (value = D * 10^exp10 * 2^bin). The
 * binary factor is folded into D by doubling the digit string, and the
 * result is then read off as an integer part plus "is any fractional digit
 * non-zero", which gives the round-up rule exactly and catches overflow
 * before it can happen. */
#include "quantity.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Longer strings are refused before parsing: no real limit needs more
 * characters, and it bounds the digit buffer below. */
#define QTY_MAX_LEN 64
/* Digits of D after multiplying by at most 2^60 (Ei): 2^60 < 10^19. */
#define QTY_DIGITS (QTY_MAX_LEN + 20)
/* An exponent beyond this is clamped; it over- or underflows anyway. */
#define QTY_EXP_CLAMP 100000
/* 1,000,000 cores: far above any machine, so a larger value is a typo. */
#define QTY_CPU_MAX_MILLIS UINT64_C(1000000000)

typedef struct {
    uint8_t  d[QTY_DIGITS]; /* decimal digits, most significant first */
    size_t   n;             /* digits in d; no leading zeros; 0 for zero */
    long     exp10;         /* value = d * 10^exp10 * 2^bin */
    unsigned bin;
} qty_t;

typedef enum { QTY_OK, QTY_SYNTAX, QTY_ZERO, QTY_TOO_LARGE } qty_res_t;

/* Read the suffix r (all that follows the number) into a power of ten or
 * of two. Returns false for anything Kubernetes does not accept: note that
 * "E" alone is exa while "E3" is an exponent, and "K" and "mi" are not
 * suffixes at all. */
static bool
qty_suffix(const char *r, long *exp10, unsigned *bin)
{
    static const char *const dec = "num\0kMGTPE";
    static const char *const bins = "KMGTPE";

    *exp10 = 0;
    *bin = 0;
    if (r[0] == '\0')
        return true;
    if (r[1] == 'i' && r[2] == '\0') {
        const char *p = strchr(bins, r[0]); /* r[0] is not NUL here */
        if (p == NULL)
            return false;
        *bin = 10u * (unsigned)(p - bins + 1);
        return true;
    }
    if (r[1] == '\0') {
        /* Positions in dec: n u m "" k M ... are 10^-9, -6, -3, 0, 3, ...;
         * the NUL at position 3 never matches since r[0] is not NUL. */
        for (size_t i = 0; i < 10; i++)
            if (dec[i] == r[0]) {
                *exp10 = 3 * ((long)i - 3);
                return true;
            }
        return false;
    }
    if (r[0] != 'e' && r[0] != 'E')
        return false;
    r++;
    bool neg = *r == '-';
    if (*r == '-' || *r == '+')
        r++;
    if (*r == '\0')
        return false;
    long e = 0;
    for (; *r != '\0'; r++) {
        if (*r < '0' || *r > '9')
            return false;
        if (e < QTY_EXP_CLAMP)
            e = e * 10 + (*r - '0');
    }
    *exp10 = neg ? -e : e;
    return true;
}

/* Parse s into q: [+] digits [. digits] suffix, with at least one digit.
 * Returns false on a syntax error. */
static bool
qty_parse(const char *s, qty_t *q)
{
    bool   dot = false, any = false;
    long   frac = 0, sexp;
    size_t i = 0;

    memset(q, 0, sizeof(*q));
    if (s[i] == '+')
        i++;
    for (; (s[i] >= '0' && s[i] <= '9') || s[i] == '.'; i++) {
        if (s[i] == '.') {
            if (dot)
                return false;
            dot = true;
            continue;
        }
        any = true;
        if (dot)
            frac++;
        if (q->n == 0 && s[i] == '0')
            continue; /* leading zeros do not change the value */
        q->d[q->n++] = (uint8_t)(s[i] - '0');
    }
    if (!any || !qty_suffix(s + i, &sexp, &q->bin))
        return false;
    q->exp10 = sexp - frac;
    return true;
}

/* d *= 2. The caller guarantees room: QTY_DIGITS covers 2^60. */
static void
qty_double(qty_t *q)
{
    unsigned carry = 0;

    for (size_t i = q->n; i-- > 0;) {
        unsigned v = q->d[i] * 2u + carry;
        q->d[i] = (uint8_t)(v % 10);
        carry = v / 10;
    }
    if (carry != 0) {
        memmove(q->d + 1, q->d, q->n);
        q->d[0] = (uint8_t)carry;
        q->n++;
    }
}

/* The value of q rounded up to an integer, or QTY_ZERO / QTY_TOO_LARGE. */
static qty_res_t
qty_value(qty_t *q, uint64_t *out)
{
    uint64_t v = 0;
    long     ilen;

    if (q->n == 0)
        return QTY_ZERO;
    for (unsigned b = 0; b < q->bin; b++)
        qty_double(q);
    /* With no leading zeros, more than 20 integer digits is >= 10^20,
     * which exceeds UINT64_MAX (about 1.8 * 10^19). */
    ilen = (long)q->n + q->exp10;
    if (ilen > 20)
        return QTY_TOO_LARGE;
    for (long i = 0; i < ilen; i++) {
        uint64_t digit = (size_t)i < q->n ? q->d[i] : 0;
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, digit, &v))
            return QTY_TOO_LARGE;
    }
    for (size_t i = ilen > 0 ? (size_t)ilen : 0; i < q->n; i++)
        if (q->d[i] != 0) {
            if (__builtin_add_overflow(v, 1, &v))
                return QTY_TOO_LARGE;
            break;
        }
    *out = v;
    return QTY_OK;
}

/* Parse s scaled by 10^scale (3 for millis) into *out. */
static qty_res_t
qty_convert(const char *s, long scale, uint64_t *out)
{
    qty_t q;

    if (s == NULL || strlen(s) > QTY_MAX_LEN || !qty_parse(s, &q))
        return QTY_SYNTAX;
    q.exp10 += scale;
    return qty_value(&q, out);
}

static nox_err_t
qty_fail(nox_status_t *st, qty_res_t r, const char *field, const char *s,
         const char *examples, const char *max)
{
    /* The value is echoed so the caller sees what was refused; the cap
     * keeps an absurd one from crowding out the rest of the message. */
    int         w = QTY_MAX_LEN;
    const char *v = s != NULL ? s : "";

    if (r == QTY_ZERO)
        return nox__status_set(st, NOX_EINVAL,
                               "%s: quantity '%.*s' must be greater than zero",
                               field, w, v);
    if (r == QTY_TOO_LARGE)
        return nox__status_set(st, NOX_EINVAL,
                               "%s: quantity '%.*s' is too large (max %s)",
                               field, w, v, max);
    return nox__status_set(
        st, NOX_EINVAL,
        "%s: invalid quantity '%.*s%s' (use Kubernetes syntax "
        "such as %s)",
        field, w, v, strlen(v) > QTY_MAX_LEN ? "..." : "", examples);
}

nox_err_t
nox__quantity_cpu_millis(const char *field, const char *s, uint64_t *millis,
                         nox_status_t *st)
{
    static const char ex[] = "1, 500m or 0.5", max[] = "1000000 cores";
    uint64_t          v;
    qty_res_t         r = qty_convert(s, 3, &v);

    if (r == QTY_OK && v > QTY_CPU_MAX_MILLIS)
        r = QTY_TOO_LARGE;
    if (r != QTY_OK)
        return qty_fail(st, r, field, s, ex, max);
    *millis = v;
    return NOX_OK;
}

nox_err_t
nox__quantity_bytes(const char *field, const char *s, uint64_t *bytes,
                    nox_status_t *st)
{
    static const char ex[] = "512Mi, 1Gi or 1G", max[] = "16Ei - 1";
    uint64_t          v;
    qty_res_t         r = qty_convert(s, 0, &v);

    if (r != QTY_OK)
        return qty_fail(st, r, field, s, ex, max);
    *bytes = v;
    return NOX_OK;
}
