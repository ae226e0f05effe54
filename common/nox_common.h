/*
 * nox_common.h - internal helpers shared by every NoxRunner module:
 * status with message, growable byte buffers, clocks and RFC 3339 times,
 * EINTR-safe I/O. Not installed; names are nox__ (internal, cross-file).
 *
 * Thread safety: all functions are reentrant; objects are not shared.
 */
#ifndef NOX_COMMON_H
#define NOX_COMMON_H

#include "nox/error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define NOX_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* ---- status: an error code plus the message sent back to the caller ---- */

#define NOX_MSG_MAX 512

typedef struct {
    nox_err_t code;
    char      msg[NOX_MSG_MAX]; /* NUL-terminated; "" when code is NOX_OK */
    /* The error is a full device (ENOSPC or EDQUOT): set only by
     * nox__status_errno, so the engine can name the device in msg. */
    bool no_space;
} nox_status_t;

/* Reset st to NOX_OK with an empty message. st may be NULL. */
void nox__status_clear(nox_status_t *st);

/* Set st to code with a printf-formatted message (truncated to fit) and
 * return code, so callers can write `return nox__status_set(st, ...)`.
 * st may be NULL (then only code is returned). */
nox_err_t nox__status_set(nox_status_t *st, nox_err_t code, const char *fmt,
                          ...) NOX_PRINTF(3, 4);

/* Like nox__status_set, then appends ": <strerror(errnum)>". A full device
 * (errnum ENOSPC or EDQUOT) is NOX_ERESOURCE whatever code says, with
 * st->no_space set; so are too many open files (EMFILE, ENFILE) and out of
 * memory (ENOMEM), without it. The code is also returned when st is
 * NULL. */
nox_err_t nox__status_errno(nox_status_t *st, nox_err_t code, int errnum,
                            const char *fmt, ...) NOX_PRINTF(4, 5);

/* ---- growable byte buffer ---- */

typedef struct {
    uint8_t *data; /* owned; NULL while empty */
    size_t   len;
    size_t   cap;
} nox_buf_t;

#define NOX_BUF_INIT                                                           \
    {                                                                          \
        NULL, 0, 0                                                             \
    }

/* Append n bytes; returns NOX_OK or NOX_ERESOURCE (allocation or size
 * overflow; b is unchanged then). */
nox_err_t nox__buf_append(nox_buf_t *b, const void *p, size_t n);

/* Ensure room for `extra` more bytes past len. Same errors as append. */
nox_err_t nox__buf_reserve(nox_buf_t *b, size_t extra);

/* Release the storage; b becomes empty. NULL is a no-op. */
void nox__buf_free(nox_buf_t *b);

/* Hand the storage to the caller (who free()s it) and empty b. */
uint8_t *nox__buf_steal(nox_buf_t *b, size_t *len);

/* ---- clocks ---- */

/* CLOCK_MONOTONIC in nanoseconds / milliseconds. */
int64_t nox__mono_ns(void);
int64_t nox__mono_ms(void);

/* ---- sleeping threads (sleep.c) ---- */

/* Initialise mu, and cv with CLOCK_MONOTONIC (nox__mono_ms's clock) for
 * nox__cond_sleep_until. NOX_EINTERNAL when either cannot be; nothing is
 * left initialised then. */
nox_err_t nox__sleep_sync_init(pthread_mutex_t *mu, pthread_cond_t *cv,
                               nox_status_t *st);

/* With mu held: wait on cv until nox__mono_ms() reaches at_ms or *stop is
 * true (set under mu, then cv signalled). Returns with mu held. */
void nox__cond_sleep_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                           int64_t at_ms, const bool *stop);

/* Format t (seconds since the epoch) as "2026-01-02T12:34:56Z" into out,
 * which must hold NOX_RFC3339_LEN bytes. Uses gmtime_r. */
#define NOX_RFC3339_LEN 32
void nox__rfc3339(int64_t t, char out[NOX_RFC3339_LEN]);

/* ---- text ---- */

/* Append s to out (at *len, capacity cap, kept NUL-terminated) with
 * control characters as \xNN, so request data never moves a terminal's
 * cursor or forges log lines; stops when out is full. */
void nox__append_escaped(char *out, size_t cap, size_t *len, const char *s);

/* ---- fd I/O ---- */

/* Write all n bytes, retrying on EINTR and short writes. Returns 0 or an
 * errno value. */
int nox__write_all(int fd, const void *p, size_t n);

/* Read until cap bytes or end of file, retrying on EINTR and short reads.
 * Returns the count, or -1 with errno. */
ssize_t nox__read_all(int fd, void *buf, size_t cap);

/* ---- token files (token_file.c) ---- */

/* The longest bearer token accepted, in bytes. */
#define NOX_TOKEN_MAX 4096

/* Read a bearer token from path: one line (a final newline, and a CR
 * before it, are dropped), 1..NOX_TOKEN_MAX printable ASCII bytes without
 * spaces. Always refused (NOX_EINVAL, saying why): a file that is not a
 * regular one. strict (a server's file, which decides who gets in): also
 * refused when it belongs to another user than the effective one, or
 * group or others may read or write it ("chmod 600 FILE"); otherwise (a
 * client's copy) *exposed says whether others may read it, for a warning.
 * On success *token is malloc'd (release: nox__token_free, which wipes
 * it). */
nox_err_t nox__token_file_read(const char *path, bool strict, char **token,
                               bool *exposed, nox_status_t *st);

/* Wipe and free a token; NULL is a no-op. */
void nox__token_free(char *token);

/* close() that preserves errno and ignores EINTR (Linux closes the fd even
 * then); fd < 0 is a no-op. */
void nox__close(int fd);

/* A malloc'd NUL-terminated copy of p[0..n) that is valid UTF-8: each
 * maximal invalid sequence, and each NUL byte (a C string cannot carry
 * it), becomes U+FFFD (utf8.c). NULL only when out of memory. */
char *nox__utf8_sanitize(const uint8_t *p, size_t n);

#endif /* NOX_COMMON_H */
