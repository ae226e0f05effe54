/*
 * http.h - the REST gateway of nox_server_t: NoxRunner's REST API
 * (rest/rest.h) over HTTP and HTTPS, served by libmicrohttpd. Private to
 * the server: server.c starts it with the NNG listeners, quiesces it and
 * stops it.
 *
 * The gateway only translates: every REST call becomes an RpcRequest
 * envelope handed to the same dispatcher as NNG's (nox__dispatch_start),
 * and counts as a call in flight of the server until its reply is sent.
 */
#ifndef NOX_SERVER_HTTP_H
#define NOX_SERVER_HTTP_H

#include "nox/server.h"

#include <stddef.h>
#include <stdint.h>

typedef struct nox__http nox__http_t;

/* A new connection is closed after this many idle seconds until its
 * first request's headers are in (then NOX_HTTP_IDLE_TIMEOUT_S), and a
 * request whose body is still coming this many ms after its headers is
 * closed. Tests shorten them before starting a server. */
extern unsigned nox__http_header_timeout_s;
extern int64_t  nox__http_body_deadline_ms;

/* Serve o->http_addrs and o->https_addrs for s (borrowed; outlives the
 * gateway). NOX_EINVAL for a bad address, https without tls_cert and
 * tls_key, or a non-loopback address without a token (unless
 * o->insecure_no_auth, then warned on stderr); NOX_EUNAVAIL when an
 * address cannot be bound. On failure nothing is left running and *out
 * is NULL. With no address at all, *out is NULL and NOX_OK. */
nox_err_t nox__http_start(nox__http_t **out, nox_server_t *s,
                          const nox_server_opts_t *o, nox_status_t *st);

/* Stop accepting connections; requests that arrive on open ones are
 * answered 503. Calls in flight go on. Idempotent; NULL is a no-op. */
void nox__http_quiesce(nox__http_t *h);

/* Close every connection and free h. Call once no call of the gateway is
 * in flight (nox_server_stop's settle). NULL is a no-op. */
void nox__http_stop(nox__http_t *h);

/* Number of addresses served (http ones first, then https). */
size_t nox__http_count(const nox__http_t *h);

/* The URL address i is served at, with the port the kernel chose for
 * port 0: "http://127.0.0.1:8080", "https://[::1]:8443". NOX_EINVAL for a
 * bad index or a buffer too small. */
nox_err_t nox__http_url(const nox__http_t *h, size_t i, char *buf, size_t len);

#endif /* NOX_SERVER_HTTP_H */
