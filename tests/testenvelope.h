/*
 * testenvelope.h - building RpcRequest envelopes by hand, for the suites
 * that talk to the dispatcher or the server without the client library.
 */
#ifndef NOX_TESTENVELOPE_H
#define NOX_TESTENVELOPE_H

#include "dispatch.h"

#include "noxrunner/v1/sandbox.pb-c.h"

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

/* A dispatcher on a new quiet engine at isolation none in base_dir, with
 * payloads limited to max_message_bytes; aborts the test on failure.
 * Release with tu_dispatch_close, which closes ctx->engine. */
void tu_dispatch_open(nox_dispatch_ctx_t *ctx, const char *base_dir,
                      size_t max_message_bytes);
void tu_dispatch_close(nox_dispatch_ctx_t *ctx);

/* Dispatch len bytes of req; returns the unpacked reply (release:
 * noxrunner__v1__rpc_response__free_unpacked). Aborts the test if the
 * dispatcher gives no reply or one that does not unpack. */
Noxrunner__V1__RpcResponse *tu_dispatch_raw(nox_dispatch_ctx_t *ctx,
                                            const void *req, size_t len);

#endif /* NOX_TESTENVELOPE_H */
