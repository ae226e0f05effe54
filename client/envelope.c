/* envelope.c - packing RpcRequest envelopes and opening RpcResponses for
 * both ways of reaching the dispatcher (transport.c, local.c). */
#include "envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nox_err_t
nox__envelope_init(nox_envelope_t *e, const ProtobufCMethodDescriptor *md,
                   const ProtobufCMessage *req, int64_t budget_ms,
                   nox_status_t *st)
{
    size_t len = protobuf_c_message_get_packed_size(req);
    int    n;

    noxrunner__v1__rpc_request__init(&e->env);
    e->payload = NULL;
    n = snprintf(e->path, sizeof(e->path), "/%s/%s",
                 noxrunner__v1__sandbox__descriptor.name, md->name);
    if (n < 0 || (size_t)n >= sizeof(e->path))
        return nox__status_set(st, NOX_EINTERNAL, "method name too long");
    e->payload = malloc(len > 0 ? len : 1);
    if (e->payload == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    (void)protobuf_c_message_pack(req, e->payload); /* returns len */
    e->env.method = e->path;
    e->env.payload.data = e->payload;
    e->env.payload.len = len;
    e->env.deadline_ms = budget_ms;
    return NOX_OK;
}

size_t
nox__envelope_size(const nox_envelope_t *e)
{
    return noxrunner__v1__rpc_request__get_packed_size(&e->env);
}

void
nox__envelope_pack(const nox_envelope_t *e, uint8_t *out)
{
    (void)noxrunner__v1__rpc_request__pack(&e->env, out); /* returns size */
}

void
nox__envelope_fini(nox_envelope_t *e)
{
    free(e->payload);
    e->payload = NULL;
}

nox_err_t
nox__envelope_open_reply(const char *peer, const ProtobufCMethodDescriptor *md,
                         const uint8_t *data, size_t len,
                         ProtobufCMessage **resp, nox_status_t *st)
{
    Noxrunner__V1__RpcResponse *r;
    ProtobufCMessage           *out;
    nox_err_t                   err;

    r = noxrunner__v1__rpc_response__unpack(NULL, len, data);
    if (r == NULL)
        return nox__status_set(st, NOX_EDATALOSS, "malformed reply from %s",
                               peer);
    if (r->code != 0) {
        err = nox_err_from_wire(r->code);
        (void)nox__status_set(st, err, "%s",
                              r->message[0] ? r->message : nox_strerror(err));
        noxrunner__v1__rpc_response__free_unpacked(r, NULL);
        return err;
    }
    out = protobuf_c_message_unpack(md->output, NULL, r->payload.len,
                                    r->payload.data);
    noxrunner__v1__rpc_response__free_unpacked(r, NULL);
    if (out == NULL)
        return nox__status_set(st, NOX_EDATALOSS, "malformed %s reply from %s",
                               md->name, peer);
    *resp = out;
    return NOX_OK;
}
