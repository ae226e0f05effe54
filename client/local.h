/*
 * local.h - the in-process mode of libnoxrunner: the engine in this
 * process, reached by calling the server's dispatcher (server/dispatch.c)
 * directly in the caller's thread. A call is packed into the same
 * RpcRequest envelope and answered with the same RpcResponse as over NNG,
 * so both modes run one code path from the envelope on; what in-process
 * mode skips is the socket and its thread hand-offs (about 150 us per
 * call, README "Performance"). Private to libnoxrunner.
 *
 * Thread safety: calls on one nox_local_t may come from several threads
 * at once (the engine is thread-safe); open and close from one.
 */
#ifndef NOX_CLIENT_LOCAL_H
#define NOX_CLIENT_LOCAL_H

#include "nox/client.h"
#include "nox_common.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nox_local nox_local_t;

/* Open the engine as lo says (nox_local_opts_t; all fields filled by the
 * caller), with max_message_bytes as the payload limit in and out (as a
 * server's), reap expired sandboxes now if due and start the reaper
 * thread. On failure st says why and *out is untouched. */
nox_err_t nox__local_open(nox_local_t **out, const nox_local_opts_t *lo,
                          size_t max_message_bytes, nox_status_t *st);

/* Stop the reaper and close the engine. NULL is a no-op. */
void nox__local_close(nox_local_t *l);

/* Call method md with req, budget_ms as the envelope's deadline; *resp
 * and errors as nox__transport_call. */
nox_err_t nox__local_call(nox_local_t *l, const ProtobufCMethodDescriptor *md,
                          const ProtobufCMessage *req, int64_t budget_ms,
                          ProtobufCMessage **resp, nox_status_t *st);

#endif /* NOX_CLIENT_LOCAL_H */
