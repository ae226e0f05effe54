/*
 * fuzz_rest.c - libFuzzer harness: the REST translation (rest/), both
 * halves, on hostile input.
 *
 * Input: byte 0 picks the mode (bits 0-1) and the verb or RPC (the rest);
 * then, by mode:
 *   0 gateway: a request line "PATH\n" and the body. The path is routed
 *     and the request built; a request that builds is encoded back as the
 *     client would and must route to the same RPC and session id.
 *   1 client: two bytes of HTTP status, then the body of a reply, decoded
 *     for the RPC (the spec's route when bit 7 is set).
 *   2 gateway reply: the bytes as a packed RpcResponse for the RPC.
 * Every message built is packed (protobuf-c checks its own invariants)
 * and freed; ASan and UBSan watch the rest.
 */
#include "json_message.h"
#include "rest.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_N_RPCS 8

static void
fuzz_pack(const ProtobufCMessage *m)
{
    size_t   n = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(n + 1);

    if (p == NULL)
        abort();
    if (protobuf_c_message_pack(m, p) != n)
        abort();
    free(p);
}

/* The client's encoding of m must route back to the same place. */
static void
fuzz_reencode(const nox_rest_route_t *r, const char *sid,
              const ProtobufCMessage *m)
{
    const nox_rest_route_t *back = NULL;
    nox_rest_call_t         call;
    nox_status_t            st;
    char                   *sid2 = NULL, *path;
    const char             *allow;

    if (nox__rest_encode(r, m, &call, &st) != NOX_OK)
        return; /* e.g. stdin that is not text */
    path = strdup(call.target);
    if (path == NULL)
        abort();
    path[strcspn(path, "?")] = '\0';
    if (nox__rest_route(call.verb, path, &back, &sid2, &allow, &st) != 0 ||
        back->rpc != r->rpc)
        abort();
    if ((sid == NULL) != (sid2 == NULL) ||
        (sid != NULL && strcmp(sid, sid2) != 0))
        abort();
    free(sid2);
    free(path);
    nox__rest_call_free(&call);
}

static void
fuzz_gateway(unsigned pick, const uint8_t *p, size_t n)
{
    static const char *const verbs[] = {"GET", "PUT", "POST", "DELETE"};
    const uint8_t           *nl = memchr(p, '\n', n);
    const nox_rest_route_t  *r;
    nox_rest_query_t         q = {"/workspace/d", "src", NULL};
    ProtobufCMessage        *m;
    nox_status_t             st;
    char                    *path, *sid;
    const char              *allow;

    if (nl == NULL)
        return;
    path = strndup((const char *)p, (size_t)(nl - p));
    if (path == NULL)
        abort();
    if (nox__rest_route(verbs[pick % 4], path, &r, &sid, &allow, &st) == 0) {
        const uint8_t *body = nl + 1;
        size_t         len = n - (size_t)(body - p);
        if (nox__rest_request(r, sid, &q, "application/x-tar", body, len, &m,
                              &st) == NOX_OK) {
            fuzz_pack(m);
            fuzz_reencode(r, sid, m);
            protobuf_c_message_free_unpacked(m, NULL);
        }
        free(sid);
    }
    free(path);
}

static void
fuzz_client(unsigned pick, const uint8_t *p, size_t n)
{
    const nox_rest_route_t *r =
        nox__rest_route_of(pick % FUZZ_N_RPCS, (pick & 0x20) != 0);
    ProtobufCMessage *m;
    nox_status_t      st;
    int               status;

    if (r == NULL || n < 2)
        return;
    status = 100 + (p[0] | p[1] << 8) % 500;
    if (nox__rest_decode(r, status, NULL, p + 2, n - 2, NULL, &m, &st) ==
        NOX_OK) {
        fuzz_pack(m);
        protobuf_c_message_free_unpacked(m, NULL);
    }
}

static void
fuzz_reply(unsigned pick, const uint8_t *p, size_t n)
{
    const nox_rest_route_t *r =
        nox__rest_route_of(pick % FUZZ_N_RPCS, (pick & 0x20) != 0);
    nox_rest_http_t h;

    if (r == NULL)
        return;
    (void)nox__rest_reply(r, p, n, &h);
    if (h.len > 0 && h.body == NULL)
        abort();
    nox__rest_http_free(&h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] & 3) {
    case 0:
        fuzz_gateway(data[0] >> 2, data + 1, size - 1);
        break;
    case 1:
        fuzz_client(data[0] >> 2, data + 1, size - 1);
        break;
    default:
        fuzz_reply(data[0] >> 2, data + 1, size - 1);
        break;
    }
    return 0;
}
