/* util.c - byte buffers, clocks, RFC 3339 times and EINTR-safe fd I/O. */
#include "nox_common.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

nox_err_t
nox__buf_reserve(nox_buf_t *b, size_t extra)
{
    size_t   need, ncap;
    uint8_t *p;

    if (extra > SIZE_MAX - b->len)
        return NOX_ERESOURCE;
    need = b->len + extra;
    if (need <= b->cap)
        return NOX_OK;
    ncap = b->cap ? b->cap : 4096;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    p = realloc(b->data, ncap);
    if (p == NULL)
        return NOX_ERESOURCE;
    b->data = p;
    b->cap = ncap;
    return NOX_OK;
}

nox_err_t
nox__buf_append(nox_buf_t *b, const void *p, size_t n)
{
    nox_err_t rv;

    if (n == 0)
        return NOX_OK;
    rv = nox__buf_reserve(b, n);
    if (rv != NOX_OK)
        return rv;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return NOX_OK;
}

void
nox__buf_free(nox_buf_t *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

uint8_t *
nox__buf_steal(nox_buf_t *b, size_t *len)
{
    uint8_t *p = b->data;

    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int64_t
nox__mono_ns(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail with a valid pointer. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
nox__mono_ms(void)
{
    return nox__mono_ns() / 1000000;
}

void
nox__rfc3339(int64_t t, char out[NOX_RFC3339_LEN])
{
    time_t    tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(out, NOX_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        (void)strcpy(out, "1970-01-01T00:00:00Z");
}

int
nox__write_all(int fd, const void *p, size_t n)
{
    const uint8_t *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

ssize_t
nox__read_all(int fd, void *buf, size_t cap)
{
    uint8_t *c = buf;
    size_t   got = 0;

    while (got < cap) {
        ssize_t n = read(fd, c + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

void
nox__close(int fd)
{
    int saved = errno;

    if (fd >= 0)
        (void)close(fd); /* on Linux the fd is gone even on EINTR */
    errno = saved;
}

void
nox__append_escaped(char *out, size_t cap, size_t *len, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*len + 5 >= cap)
            break;
        if (*p < 0x20 || *p == 0x7f) {
            out[(*len)++] = '\\';
            out[(*len)++] = 'x';
            out[(*len)++] = hex[*p >> 4];
            out[(*len)++] = hex[*p & 0xf];
        } else {
            out[(*len)++] = (char)*p;
        }
    }
    if (*len < cap)
        out[*len] = '\0';
}
