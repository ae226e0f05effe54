/*
 * transport.h - the client's side of the wire contract: one NNG req0
 * socket and one RpcRequest/RpcResponse round trip per call (envelope:
 * proto/noxrunner/v1/sandbox.proto). Private to libnoxrunner.
 *
 * Errors: every function returns NOX_OK or a nox_err_t and fills st (when
 * not NULL) with the code and a message naming the URL and the cause.
 *
 * Thread safety: one thread at a time per nox_transport_t (a req0 socket
 * has one request in flight).
 */
#ifndef NOX_CLIENT_TRANSPORT_H
#define NOX_CLIENT_TRANSPORT_H

#include "nox_common.h"

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    nng_socket sock;
    bool       sock_open; /* sock must be closed */
    char      *url;       /* owned; for messages */
    atomic_int pipes;     /* live connections, kept by the pipe callback */
    int64_t    dial_ms;   /* nox__mono_ms() when the last dial started */
    /* Borrowed from the client, which outlives t; NULL: none. */
    const char *token;   /* sent in every request (RpcRequest.token) */
    const char *ca_file; /* trusted CAs for tls+tcp:// (else the system's) */
} nox_transport_t;

/* Open a req0 socket on t (which must stay at this address until
 * nox__transport_close: NNG's pipe callback points to it) and dial url.
 * When wait is false the dial happens in the background and this succeeds
 * while no server listens; when true the first connection is made before
 * returning. token (may be NULL) goes with every request when url is a
 * network address (never over ipc://, unix://, abstract://); for tls+tcp://
 * the server's certificate must be signed by a CA of ca_file (NULL: the
 * system's, /etc/ssl/certs/ca-certificates.crt) and name the URL's host.
 * Both are borrowed until nox__transport_close. Bad URL or CA file:
 * NOX_EINVAL. On failure t is left closed. */
nox_err_t nox__transport_open(nox_transport_t *t, const char *url, bool wait,
                              const char *token, const char *ca_file,
                              nox_status_t *st);

/* Close the socket and free the URL; t becomes closed. Safe on a closed
 * or zeroed t. For ipc:// this may first wait up to 250 ms after the
 * last dial for a connection under way to finish its handshake (see
 * transport.c). */
void nox__transport_close(nox_transport_t *t);

/* Wait until a connection to the server is up, at most ms (> 0);
 * NOX_EUNAVAIL "cannot reach <url>: ..." when none comes. */
nox_err_t nox__transport_await(nox_transport_t *t, int64_t ms,
                               nox_status_t *st);

/* Call method md (of noxrunner__v1__sandbox__descriptor) with the
 * request message req (of md's input type), waiting at most budget_ms (> 0;
 * sent as RpcRequest.deadline_ms). On success *resp is the unpacked reply of
 * the method's output type (release: protobuf_c_message_free_unpacked(*resp,
 * NULL)). A server error becomes its code and message; no reply in time
 * is NOX_EUNAVAIL when no server is connected, else NOX_ETIMEDOUT (and the
 * connection is then dropped and dialled anew, so that the late reply
 * cannot arrive on this socket). When the connection closes before the
 * reply, a call that only reads (Health, ListSandboxes, DownloadFiles) or
 * only renews a TTL (Touch) is sent again on the next connection within
 * the budget; any other call fails with NOX_EUNAVAIL, as the server may
 * or may not have run it. */
nox_err_t nox__transport_call(nox_transport_t                 *t,
                              const ProtobufCMethodDescriptor *md,
                              const ProtobufCMessage *req, int64_t budget_ms,
                              ProtobufCMessage **resp, nox_status_t *st);

#endif /* NOX_CLIENT_TRANSPORT_H */
