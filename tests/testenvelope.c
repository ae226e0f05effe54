/* testenvelope.c - hand-built RpcRequest envelopes for the suites. */
#include "testenvelope.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <check.h>
#include <stdlib.h>

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
