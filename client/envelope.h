/*
 * envelope.h - the client's half of the RpcRequest/RpcResponse envelope
 * (proto/noxrunner/v1/sandbox.proto), shared by the NNG transport and the
 * in-process call, so both send and read the very same bytes. Private to
 * libnoxrunner.
 */
#ifndef NOX_CLIENT_ENVELOPE_H
#define NOX_CLIENT_ENVELOPE_H

#include "nox_common.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* A request ready to be packed: the envelope and its packed payload. */
typedef struct {
    Noxrunner__V1__RpcRequest env;
    char                      path[128]; /* "/noxrunner.v1.Sandbox/Exec" */
    uint8_t                  *payload;   /* owned */
} nox_envelope_t;

/* Pack req (the input of method md) as e's payload, with budget_ms as the
 * deadline. NOX_ERESOURCE when memory runs out. On success release e with
 * nox__envelope_fini. */
nox_err_t nox__envelope_init(nox_envelope_t                  *e,
                             const ProtobufCMethodDescriptor *md,
                             const ProtobufCMessage *req, int64_t budget_ms,
                             nox_status_t *st);

/* The packed size of e, and its packing into out (that many bytes). */
size_t nox__envelope_size(const nox_envelope_t *e);
void   nox__envelope_pack(const nox_envelope_t *e, uint8_t *out);

/* Release what init allocated. Safe twice. */
void nox__envelope_fini(nox_envelope_t *e);

/* Open a packed RpcResponse: the server's error (its code and message in
 * st), or the reply of method md in *resp (release:
 * protobuf_c_message_free_unpacked(*resp, NULL)). peer names the other end
 * in messages ("malformed reply from <peer>"). */
nox_err_t nox__envelope_open_reply(const char                      *peer,
                                   const ProtobufCMethodDescriptor *md,
                                   const uint8_t *data, size_t len,
                                   ProtobufCMessage **resp, nox_status_t *st);

#endif /* NOX_CLIENT_ENVELOPE_H */
