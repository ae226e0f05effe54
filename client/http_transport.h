/*
 * http_transport.h - the client's http:// and https:// transport: each
 * RPC as the REST call of NoxRunner's backend specification
 * (rest/rest.h translates), sent with libcurl. Works against our
 * noxrunnerd --http and against any other NoxRunner backend; what the
 * specification lacks comes back NOX_ENOTSUP from the latter (see the
 * table in nox/client.h). Private to libnoxrunner.
 *
 * One curl easy handle per client keeps one connection alive between
 * calls. TLS peers are always verified (against ca_file alone when given,
 * else the system's store); there is no way to turn that off. The
 * loopback is never reached through a proxy; other hosts follow the
 * usual *_proxy variables. Connection sockets are close-on-exec (libcurl
 * 7.88's internal wakeup socketpair, one per client, is not: no option
 * reaches it).
 *
 * Errors: NOX_OK or a nox_err_t, with st (when not NULL) holding the code
 * and a message naming the URL and the cause.
 *
 * Thread safety: one thread at a time per nox_http_t; separate ones are
 * independent (libcurl's global setup is done once, under pthread_once).
 */
#ifndef NOX_CLIENT_HTTP_TRANSPORT_H
#define NOX_CLIENT_HTTP_TRANSPORT_H

#include "nox_common.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nox_http nox_http_t;

/* True when url names the http or https scheme (this transport's). */
bool nox__http_is_url(const char *url);

/* Check url ("http://host:port" or "https://...", optionally with a path
 * prefix) and set up a transport for it; nothing is sent yet. token
 * (NULL: none) becomes "Authorization: Bearer <token>" on every request,
 * ca_file (NULL: the system's) the trusted CAs; both are copied.
 * connect_ms bounds each connection attempt. Bad URL: NOX_EINVAL. On
 * success *out owns the transport (release: nox__http_close). */
nox_err_t nox__http_open(nox_http_t **out, const char *url, const char *token,
                         const char *ca_file, int64_t connect_ms,
                         nox_status_t *st);

/* Close the connection and free h (wiping its token). NULL is a no-op. */
void nox__http_close(nox_http_t *h);

/* The URL h was opened with, for messages. */
const char *nox__http_url(const nox_http_t *h);

/* True when the last nox__http_call failed in a way asking again cannot
 * mend: the TLS certificate check (the server's certificate not trusted,
 * a CA file that cannot be read). Such a failure is NOX_EUNAVAIL, with
 * "certificate" in the message. */
bool nox__http_failed_for_good(const nox_http_t *h);

/* Call RPC rpc (an index in noxrunner__v1__sandbox__descriptor) with
 * req, within budget_ms (> 0). max_payload is the server's limit on a
 * message: a reply body larger than it allows is refused with
 * NOX_ERESOURCE, an archive's at max_payload plus NOX_ENVELOPE_SLACK, a
 * JSON one's at 6 * max_payload plus that slack (JSON writes a byte of
 * stdout as up to six, "\u0001"). On success *resp is the reply message
 * (release: protobuf_c_message_free_unpacked(*resp, NULL)). The backend's
 * errors come back as nox__rest_decode maps them; no server listening,
 * an unknown host or a TLS failure is NOX_EUNAVAIL ("cannot reach
 * <url>: ..."; a TLS certificate failure says "certificate" and
 * nox__http_failed_for_good), no reply within the budget after the
 * request went out NOX_ETIMEDOUT, a redirect NOX_EINVAL naming its
 * Location. When the connection closes before any reply, a call that
 * only reads (Health, ListSandboxes, DownloadFiles) or renews a TTL
 * (Touch) is sent again within the budget; any other fails with
 * NOX_EUNAVAIL, and Exec is never sent twice, not even by libcurl. Health
 * asks for our GET /v1/health, then for the specification's /healthz
 * when the backend does not serve the former. */
nox_err_t nox__http_call(nox_http_t *h, unsigned rpc,
                         const ProtobufCMessage *req, int64_t budget_ms,
                         size_t max_payload, ProtobufCMessage **resp,
                         nox_status_t *st);

#endif /* NOX_CLIENT_HTTP_TRANSPORT_H */
