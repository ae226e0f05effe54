/*
 * utf8.c - make command output fit in a JSON string (the CLI's --json,
 * the REST API's exec replies).
 *
 * Invalid UTF-8 is replaced the way Unicode recommends ("maximal subpart"
 * practice, also WHATWG's decoder): each maximal prefix of a valid
 * sequence that cannot be completed, and each byte that cannot start one,
 * becomes one U+FFFD. Overlong forms, surrogates and code points above
 * U+10FFFF are invalid. NUL becomes U+FFFD too: cJSON strings are C
 * strings and would silently end there.
 */
#include "nox_common.h"

#include <stdlib.h>

static const uint8_t utf8_replacement[3] = {0xEF, 0xBF, 0xBD};

/* The length of the sequence lead byte b starts (0: b cannot start one)
 * and the range its second byte must fall in, which is what excludes
 * overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4). */
static size_t
utf8_lead(uint8_t b, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        return 2;
    if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0)
            *lo = 0xA0;
        else if (b == 0xED)
            *hi = 0x9F;
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0)
            *lo = 0x90;
        else if (b == 0xF4)
            *hi = 0x8F;
        return 4;
    }
    return 0;
}

/* How many bytes at p[0..n) form a valid non-NUL sequence; 0 when p[0]
 * starts an invalid one, whose maximal subpart length goes to *bad. */
static size_t
utf8_valid_len(const uint8_t *p, size_t n, size_t *bad)
{
    uint8_t lo, hi;

    *bad = 1;
    if (p[0] >= 0x01 && p[0] <= 0x7F)
        return 1;
    size_t len = utf8_lead(p[0], &lo, &hi);
    if (len == 0)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (i >= n || p[i] < lo || p[i] > hi) {
            *bad = i; /* the lead and the continuations that fit */
            return 0;
        }
        lo = 0x80; /* only the second byte has a narrowed range */
        hi = 0xBF;
    }
    return len;
}

char *
nox__utf8_sanitize(const uint8_t *p, size_t n)
{
    /* Worst case: every byte becomes a 3-byte U+FFFD. */
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(n * 3 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t bad;
        size_t ok = utf8_valid_len(p + i, n - i, &bad);
        if (ok > 0) {
            for (size_t k = 0; k < ok; k++)
                out[o++] = (char)p[i + k];
            i += ok;
            continue;
        }
        for (size_t k = 0; k < sizeof(utf8_replacement); k++)
            out[o++] = (char)utf8_replacement[k];
        i += bad;
    }
    out[o] = '\0';
    return out;
}
