/*
 * client_impl.h - what the libnoxrunner files share: the layout of
 * nox_client_t and the one-call helper. Private to the library.
 *
 * Thread safety: as nox/client.h, one thread at a time per client.
 */
#ifndef NOX_CLIENT_IMPL_H
#define NOX_CLIENT_IMPL_H

#include "nox/client.h"

#include "http_transport.h"
#include "local.h"
#include "noxrunner/v1/sandbox.pb-c.h"
#include "transport.h"

#include <stdbool.h>
#include <stdint.h>

/* Positions of the rpcs in service Sandbox: protoc-c emits
 * noxrunner__v1__sandbox__descriptor.methods in .proto order, and the
 * transport checks each request's type against the method's input. */
enum {
    NOX_RPC_HEALTH,
    NOX_RPC_CREATE,
    NOX_RPC_TOUCH,
    NOX_RPC_EXEC,
    NOX_RPC_UPLOAD,
    NOX_RPC_DOWNLOAD,
    NOX_RPC_DELETE,
    NOX_RPC_LIST,
};

struct nox_client {
    nox_transport_t      t;
    int64_t              timeout_ms;     /* per-call budget, > 0 */
    size_t               max_payload;    /* request limit; 0: not known yet */
    nox_archive_format_t archive_format; /* of uploads and downloads */
    nox_local_t         *local; /* in-process mode only (t unused then) */
    nox_http_t          *http;  /* http(s):// only (t unused then) */
    /* From the options, else $NOXRUNNER_TOKEN / $NOXRUNNER_CA_FILE
     * (client_new); NULL when none. Owned; the token is wiped at close. */
    char        *token;
    char        *ca_file;
    nox_status_t last; /* outcome of the last call (errmsg) */
};

/* One RPC (method m, an NOX_RPC_ value) within budget_ms. On success
 * *resp is the unpacked reply (release:
 * protobuf_c_message_free_unpacked(*resp, NULL)); c->last holds the
 * outcome either way. A request larger than the server's limit is
 * refused with NOX_ERESOURCE before it is sent. */
nox_err_t nox__client_call(nox_client_t *c, unsigned m,
                           const ProtobufCMessage *req, int64_t budget_ms,
                           ProtobufCMessage **resp);

/* Record NOX_EINVAL with message what in c->last; returns NOX_EINVAL. */
nox_err_t nox__client_invalid(nox_client_t *c, const char *what);

/* Clear c->last and check that session_id is given (NOX_EINVAL if not). */
nox_err_t nox__client_begin(nox_client_t *c, const char *session_id);

/* *out = strdup(s, or "" for NULL); NOX_ERESOURCE in c->last if that
 * fails. */
nox_err_t nox__client_dup(nox_client_t *c, const char *s, char **out);

/* protobuf-c's message fields are not const, but packing only reads
 * them; this keeps the casts in one place. NULL becomes "". */
static inline char *
nox__client_str(const char *s)
{
    return (char *)(s != NULL ? s : "");
}

#endif /* NOX_CLIENT_IMPL_H */
