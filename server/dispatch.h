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

#include <stdbool.h>
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

/* Where a reply that comes later goes (nox__dispatch_start). */
typedef struct {
    nox_dispatch_alloc_fn alloc; /* as for nox__dispatch_to */
    void                 *alloc_arg;
    /* Called at most once, before a method that waits for a command
     * (Exec) starts it: returns the argument for done if the caller can
     * take the reply later, or NULL to have the method run to its end
     * before nox__dispatch_start returns. */
    void *(*later)(void *arg);
    void *arg;
    /* The late reply is packed (via alloc) or, rv NOX_ERESOURCE, could
     * not be: called once, on the engine's command thread. */
    void (*done)(void *done_arg, nox_err_t rv, size_t reply_len);
    /* After later: the command could not start, so the reply is
     * synchronous after all and done is not called. */
    void (*forget)(void *done_arg);
} nox_dispatch_reply_t;

/* Serve one request like nox__dispatch_to, except that a method waiting
 * for a command may leave its reply for later: then *pending is true,
 * rep->done is called once the reply is packed, and req is no longer
 * needed. Otherwise *pending is false and the reply is done as with
 * nox__dispatch_to (same return value and *reply_len). */
nox_err_t nox__dispatch_start(const nox_dispatch_ctx_t *ctx, const uint8_t *req,
                              size_t len, const nox_dispatch_reply_t *rep,
                              bool *pending, size_t *reply_len);

/* Who sent a request, as far as the dispatcher needs to know (the
 * transport found out; the dispatcher stays free of it). */
typedef struct {
    /* The token the request must carry in RpcRequest.token, else it is
     * answered UNAUTHENTICATED; NULL when its transport needs none. */
    const char *token;
} nox_dispatch_caller_t;

/* nox__dispatch_start for a request from caller (NULL: one that needs no
 * token, as for nox__dispatch_start). */
nox_err_t nox__dispatch_start_from(const nox_dispatch_ctx_t    *ctx,
                                   const nox_dispatch_caller_t *caller,
                                   const uint8_t *req, size_t len,
                                   const nox_dispatch_reply_t *rep,
                                   bool *pending, size_t *reply_len);

/* nox__dispatch_to into *reply (replaced; empty on NOX_ERESOURCE). */
nox_err_t nox__dispatch(const nox_dispatch_ctx_t *ctx, const uint8_t *req,
                        size_t len, nox_buf_t *reply);

#endif /* NOX_DISPATCH_H */
