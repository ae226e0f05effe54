/*
 * auth.h - who may call: the bearer token shared by every non-local
 * transport (tcp://, tls+tcp://, http, https), and whether an address is
 * loopback (a server reachable from other machines needs a token unless
 * told otherwise). The ipc:// peer-uid check lives with the listeners.
 */
#ifndef NOX_SERVER_AUTH_H
#define NOX_SERVER_AUTH_H

#include "nox_common.h"

#include <stdbool.h>
#include <stddef.h>

/* The longest token accepted, in bytes. */
#define NOX_TOKEN_MAX 4096

/* Read the token from path: one line (a final newline, and a CR before it,
 * are dropped), 1..NOX_TOKEN_MAX printable ASCII bytes without spaces.
 * Refused (NOX_EINVAL, saying why) when the file is not a regular file,
 * or group or others may read or write it ("chmod 600 FILE"). On success
 * *token is malloc'd (release: nox__token_free, which wipes it). */
nox_err_t nox__token_file_read(const char *path, char **token,
                               nox_status_t *st);

/* Wipe and free a token; NULL is a no-op. */
void nox__token_free(char *token);

/* Whether given (len bytes, need not be NUL-terminated) equals expected,
 * in time that depends only on len and expected's length (no early exit
 * at the first differing byte). given NULL never matches. */
bool nox__token_equal(const char *expected, const char *given, size_t len);

/* Whether host (an IPv4/IPv6 literal or a name, without brackets or port)
 * is loopback only: 127.0.0.0/8, ::1 or "localhost". "", "0.0.0.0", "::"
 * and "*" (every interface) are not. */
bool nox__host_is_loopback(const char *host);

#endif /* NOX_SERVER_AUTH_H */
