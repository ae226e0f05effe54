/*
 * auth.h - who may call: the bearer token shared by every non-local
 * transport (tcp://, tls+tcp://, http, https), and whether an address is
 * loopback (a server reachable from other machines needs a token unless
 * told otherwise). The ipc:// peer-uid check lives with the listeners.
 */
#ifndef NOX_SERVER_AUTH_H
#define NOX_SERVER_AUTH_H

#include "nox_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether given (len bytes, need not be NUL-terminated) equals expected,
 * in time that depends only on len and expected's length (no early exit
 * at the first differing byte). given NULL never matches. */
bool nox__token_equal(const char *expected, const char *given, size_t len);

/* Whether host (an IPv4/IPv6 literal or a name, without brackets or port)
 * is loopback only: 127.0.0.0/8, ::1 or "localhost". "", "0.0.0.0", "::"
 * and "*" (every interface) are not. */
bool nox__host_is_loopback(const char *host);

/* The host part of an address: "tcp://HOST:PORT", "tls+tcp://[::1]:PORT"
 * (brackets dropped), "ws://HOST:PORT/path", or "HOST:PORT" without a
 * scheme (an HTTP address). "" for "tcp://:PORT". Copied into host (len
 * bytes, NUL-terminated); NOX_EINVAL when it does not fit or a bracket is
 * not closed. */
nox_err_t nox__url_host(const char *url, char *host, size_t len);

/* What an address is, as NNG reads it: NNG lowercases the scheme and the
 * host ("TCP://", "Ws4://", "IPC://" are tcp, ws4 and ipc), so every
 * decision about an address is made here, from NNG's own parse, and
 * never by comparing the text the user typed. */
typedef enum nox__url_kind {
    NOX_URL_NETWORK,  /* anything below is not: other machines may reach it */
    NOX_URL_INPROC,   /* inproc:// */
    NOX_URL_IPC,      /* ipc://, unix://: a socket file at path */
    NOX_URL_ABSTRACT, /* abstract:// (no file, no mode) */
} nox__url_kind_t;

typedef struct nox__url_info {
    nox__url_kind_t kind;
    bool        tls;  /* tls+tcp, tls+tcp4, tls+tcp6, wss, wss4, wss6, https */
    const char *path; /* NOX_URL_IPC: the socket file's path (inside url) */
    char host[256];   /* network: the host, lowercased, without brackets; "" for
                         every interface */
} nox__url_info_t;

/* Read url: "SCHEME://..." through nng_url_parse, or "HOST:PORT" without
 * a scheme (an HTTP address: network). Every scheme but inproc, ipc, unix
 * and abstract is network, also one NNG does not know (it refuses those
 * itself). NOX_EINVAL when the address cannot be read (a bracket not
 * closed, a host longer than info->host); info then says network with
 * host "" (not loopback), which is the safe reading. */
nox_err_t nox__url_info(const char *url, nox__url_info_t *info);

/* Whether a listen address is of a kind other machines can reach
 * (nox__url_info's NOX_URL_NETWORK): not inproc://, ipc://, unix:// or
 * abstract:// (whose callers are on this host and are checked by uid). */
bool nox__url_is_network(const char *url);

/* The rule for serving url (any address nox__url_is_network accepts,
 * "http://HOST:PORT" too): a network address whose host is not loopback
 * needs a token. Without one it is refused, NOX_EINVAL "refusing to serve
 * URL without a token: ...", unless insecure_no_auth: then it is allowed
 * and a loud warning naming url goes to stderr (one write). NOX_OK for
 * everything else. */
nox_err_t nox__auth_refuse_open(const char *url, bool has_token,
                                bool insecure_no_auth, nox_status_t *st);

/* The token a packed RpcRequest carries (field 4; the last one when it
 * comes more than once, as protobuf reads it), found by walking the
 * top-level fields without unpacking anything, so that a caller without
 * the token costs no copy of its payload. *tok points into req (NULL,
 * *tok_len 0: no token). false when req is not a well-formed message at
 * that level. */
bool nox__envelope_token(const uint8_t *req, size_t len, const uint8_t **tok,
                         size_t *tok_len);

/* The answer to a request over tcp:// or tls+tcp:// (code 16) without the
 * server's token, or with another. */
#define NOX_AUTH_TOKEN_MESSAGE                                                 \
    "missing or wrong token (noxrunnerd --token-file; clients: "               \
    "NOXRUNNER_TOKEN)"

#endif /* NOX_SERVER_AUTH_H */
