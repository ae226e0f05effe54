/*
 * testenvelope.h - building RpcRequest envelopes by hand, for the suites
 * that talk to the dispatcher or the server without the client library.
 */
#ifndef NOX_TESTENVELOPE_H
#define NOX_TESTENVELOPE_H

#include <stddef.h>
#include <stdint.h>

/* Pack RpcRequest{method, payload, deadline_ms} into a malloc'd buffer
 * (free() it); *len gets its size. Aborts the test on failure. */
uint8_t *tu_envelope(const char *method, const void *payload, size_t plen,
                     int64_t deadline_ms, size_t *len);

#endif /* NOX_TESTENVELOPE_H */
