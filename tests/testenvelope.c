/* testenvelope.c - hand-built RpcRequest envelopes for the suites. */
#include "testenvelope.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

uint8_t *
tu_envelope(const char *method, const void *payload, size_t plen,
            int64_t deadline_ms, size_t *len)
{
    Noxrunner__V1__RpcRequest req = NOXRUNNER__V1__RPC_REQUEST__INIT;
    uint8_t                  *buf;

    req.method = (char *)method;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = plen;
    req.deadline_ms = deadline_ms;
    *len = noxrunner__v1__rpc_request__get_packed_size(&req);
    buf = malloc(*len ? *len : 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(noxrunner__v1__rpc_request__pack(&req, buf), *len);
    return buf;
}

void
tu_put_nul(uint8_t *buf, size_t len, const char *marker)
{
    size_t   mlen = strlen(marker);
    char    *hash = strchr(marker, '#');
    uint8_t *at;

    ck_assert_ptr_nonnull(hash);
    ck_assert_ptr_null(strchr(hash + 1, '#'));
    at = memmem(buf, len, marker, mlen);
    ck_assert_msg(at != NULL, "marker '%s' not in the message", marker);
    ck_assert_msg(memmem(at + 1, len - (size_t)(at + 1 - buf), marker, mlen) ==
                      NULL,
                  "marker '%s' occurs twice", marker);
    at[hash - marker] = 0x00;
}

void
tu_dispatch_open(nox_dispatch_ctx_t *ctx, const char *base_dir,
                 size_t max_message_bytes)
{
    nox_engine_opts_t o = {
        .base_dir = base_dir, .quiet = 1, .isolation = NOX_ISOLATION_NONE};
    nox_status_t st;

    ck_assert_int_eq(nox_engine_open(&ctx->engine, &o, &st), NOX_OK);
    ctx->max_message_bytes = max_message_bytes;
}

void
tu_dispatch_close(nox_dispatch_ctx_t *ctx)
{
    nox_engine_close(ctx->engine);
    ctx->engine = NULL;
}

Noxrunner__V1__RpcResponse *
tu_dispatch_raw(nox_dispatch_ctx_t *ctx, const void *req, size_t len)
{
    nox_buf_t                   reply = NOX_BUF_INIT;
    Noxrunner__V1__RpcResponse *r;

    ck_assert_int_eq(nox__dispatch(ctx, req, len, &reply), NOX_OK);
    r = noxrunner__v1__rpc_response__unpack(NULL, reply.len, reply.data);
    ck_assert_ptr_nonnull(r);
    nox__buf_free(&reply);
    return r;
}
