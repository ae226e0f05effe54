/*
 * dispatch.h - one RpcRequest envelope in, one RpcResponse envelope out.
 *
 * Pure protocol logic with no NNG in it: unpack the envelope, find the
 * method through protobuf-c's generated service descriptor, unpack the
 * payload with the method's input descriptor, invoke the service (whose
 * handlers call the engine), pack the reply. Every malformed input becomes
 * an error response; nothing here aborts.
 */
#ifndef NOX_DISPATCH_H
#define NOX_DISPATCH_H

#include "nox/engine.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    nox_engine_t *engine;
    size_t        max_message_bytes; /* payload limit in and out */
} nox_dispatch_ctx_t;

/* Where a reply is packed: alloc(arg, size) returns size bytes for the
 * packed RpcResponse, or NULL when memory runs out (for size 0 NULL is
 * fine: an empty reply is valid protobuf). It is called once,
 * after the request bytes are no longer read, so it may reuse their
 * storage (the server packs the reply into the request's NNG message: a
 * large download is then not copied once more). */
typedef uint8_t *(*nox_dispatch_alloc_fn)(void *arg, size_t size);

/* Serve one request. req/len are the raw bytes of an RpcRequest. The
 * packed RpcResponse goes where alloc says; it always exists unless
 * memory runs out (then NOX_ERESOURCE). */
nox_err_t nox__dispatch_to(const nox_dispatch_ctx_t *ctx, const uint8_t *req,
                           size_t len, nox_dispatch_alloc_fn alloc, void *arg,
                           size_t *reply_len);

/* nox__dispatch_to into *reply (replaced; empty on NOX_ERESOURCE). */
nox_err_t nox__dispatch(const nox_dispatch_ctx_t *ctx, const uint8_t *req,
                        size_t len, nox_buf_t *reply);

#endif /* NOX_DISPATCH_H */
