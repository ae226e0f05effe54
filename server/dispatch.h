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

/* Serve one request. req/len are the raw bytes of an NNG message. On
 * return *reply holds a packed RpcResponse (always, unless memory runs
 * out: then NOX_ERESOURCE and *reply is empty). */
nox_err_t nox__dispatch(const nox_dispatch_ctx_t *ctx, const uint8_t *req,
                        size_t len, nox_buf_t *reply);

#endif /* NOX_DISPATCH_H */
