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

/* protobuf-c packs strings with strlen, so a string holding NUL cannot be
 * built through its structs: pack a stand-in instead, then turn it into
 * the real bytes. marker holds exactly one '#'; it must occur exactly
 * once in buf/len, and its '#' becomes 0x00. Aborts the test otherwise. */
void tu_put_nul(uint8_t *buf, size_t len, const char *marker);

#endif /* NOX_TESTENVELOPE_H */
