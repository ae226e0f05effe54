/* transport.c - NNG req0 dialing and the RpcRequest/RpcResponse round trip
 * (the envelope is documented in proto/noxrunner/v1/sandbox.proto). */
#include "transport.h"

#include "auth.h"
#include "envelope.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long close waits for a connection under way to finish its
 * handshake, counted from the dial (see transport_settle). A loaded
 * machine (a sanitizer build running tests in parallel) has taken more
 * than 100 ms for it. */
#define TRANSPORT_SETTLE_MS 250
/* Sends of one repeatable call, the first included. */
#define TRANSPORT_MAX_SENDS 3
#define TRANSPORT_RECONNECT_MS 10
#define TRANSPORT_RECONNECT_MAX_MS 1000
/* The CAs trusted for tls+tcp:// when no CA file is given (Debian's
 * ca-certificates bundle). */
#define TRANSPORT_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

/* ---- connection tracking ---- */

/* Counts live connections so a timeout can tell "nobody listens" from "the
 * server is slow". We count ADD_PRE rather than ADD_POST: NNG reports
 * REM_POST for every pipe that saw ADD_PRE, including one closed before
 * ADD_POST, so only this pairing keeps the counter balanced. */
static void
transport_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    nox_transport_t *t = arg;

    (void)p;
    if (ev == NNG_PIPE_EV_ADD_PRE)
        atomic_fetch_add(&t->pipes, 1);
    else if (ev == NNG_PIPE_EV_REM_POST)
        atomic_fetch_sub(&t->pipes, 1);
}

static nox_err_t
transport_configure(nox_transport_t *t, nox_status_t *st)
{
    /* Never re-send: req0 would otherwise repeat a request that got no
     * reply within 60 s, and a long Exec would run twice. */
    int rv = nng_socket_set_ms(t->sock, NNG_OPT_REQ_RESENDTIME,
                               NNG_DURATION_INFINITE);

    /* No receive limit: NNG drops an oversized reply by closing the
     * connection, which would turn a large download into a timeout. The
     * server bounds its replies by its max_message_bytes. */
    if (rv == 0)
        rv = nng_socket_set_size(t->sock, NNG_OPT_RECVMAXSZ, 0);
    /* Redial within TRANSPORT_RECONNECT_MS of losing a connection (NNG
     * waits up to a second by default), backing off to a second while
     * nobody answers. A server that cuts off a connection stuck in a
     * broken listener (server/listener.c) is thus reached again at once. */
    if (rv == 0)
        rv = nng_socket_set_ms(t->sock, NNG_OPT_RECONNMINT,
                               TRANSPORT_RECONNECT_MS);
    if (rv == 0)
        rv = nng_socket_set_ms(t->sock, NNG_OPT_RECONNMAXT,
                               TRANSPORT_RECONNECT_MAX_MS);
    if (rv == 0)
        rv =
            nng_pipe_notify(t->sock, NNG_PIPE_EV_ADD_PRE, transport_pipe_cb, t);
    if (rv == 0)
        rv = nng_pipe_notify(t->sock, NNG_PIPE_EV_REM_POST, transport_pipe_cb,
                             t);
    if (rv != 0)
        return nox__status_set(st, NOX_EINTERNAL,
                               "cannot configure the NNG socket: %s",
                               nng_strerror(rv));
    return NOX_OK;
}

static nox_err_t
transport_dial_error(const char *url, int rv, nox_status_t *st)
{
    switch (rv) {
    case NNG_ENOTSUP: /* unknown scheme */
    case NNG_EADDRINVAL:
    case NNG_EINVAL:
        return nox__status_set(
            st, NOX_EINVAL,
            "bad URL '%s' (use ipc://, tcp:// or tls+tcp://): %s", url,
            nng_strerror(rv));
    case NNG_ENOMEM:
        return nox__status_set(st, NOX_ERESOURCE, "cannot dial %s: %s", url,
                               nng_strerror(rv));
    default:
        return nox__status_set(st, NOX_EUNAVAIL, "cannot reach %s: %s", url,
                               nng_strerror(rv));
    }
}

static bool
transport_is_tls(const char *url)
{
    nox__url_info_t info;

    return nox__url_info(url, &info) == NOX_OK && info.tls;
}

/* Give a tls+tcp:// dialer its client configuration: the server's
 * certificate is always verified, against t->ca_file or the system's CAs,
 * and must name the URL's host. There is no way to turn that off. */
static nox_err_t
transport_tls(nox_transport_t *t, nng_dialer d, nox_status_t *st)
{
    const char     *ca = t->ca_file != NULL ? t->ca_file : TRANSPORT_SYSTEM_CA;
    nng_tls_config *cfg;
    nox__url_info_t info;
    nox_err_t       err = NOX_OK;
    int             rv;

    if (nox__url_info(t->url, &info) != NOX_OK || info.host[0] == '\0')
        return nox__status_set(st, NOX_EINVAL, "bad URL '%s': no host name",
                               t->url);
    rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT);
    if (rv != 0)
        return nox__status_set(st, NOX_ERESOURCE, "nng_tls_config_alloc: %s",
                               nng_strerror(rv));
    rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
    if (rv == 0 && (rv = nng_tls_config_ca_file(cfg, ca)) != 0)
        err = nox__status_set(st, NOX_EINVAL,
                              "cannot load the CA file %s (NOXRUNNER_CA_FILE) "
                              "for %s: %s",
                              ca, t->url, nng_strerror(rv));
    if (rv == 0)
        rv = nng_tls_config_server_name(cfg, info.host);
    if (rv == 0)
        rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
    if (rv != 0 && err == NOX_OK)
        err = nox__status_set(st, NOX_EINTERNAL, "cannot set up TLS for %s: %s",
                              t->url, nng_strerror(rv));
    nng_tls_config_free(cfg); /* the dialer holds its own reference */
    return err;
}

/* Create and start the dialer of t->url. */
static nox_err_t
transport_dial(nox_transport_t *t, bool wait, nox_status_t *st)
{
    nng_dialer d;
    nox_err_t  err;
    int        rv = nng_dialer_create(&d, t->sock, t->url);

    if (rv != 0)
        return transport_dial_error(t->url, rv, st);
    if (transport_is_tls(t->url)) {
        err = transport_tls(t, d, st);
        if (err != NOX_OK)
            return err; /* the socket's close takes the dialer */
    }
    rv = nng_dialer_start(d, wait ? 0 : NNG_FLAG_NONBLOCK);
    if (rv != 0)
        return transport_dial_error(t->url, rv, st);
    return NOX_OK;
}

/* Open the socket and dial t->url (in the background unless wait). On
 * failure the socket is closed again. */
static nox_err_t
transport_connect(nox_transport_t *t, bool wait, nox_status_t *st)
{
    nox_err_t err;
    int       rv;

    atomic_store(&t->pipes, 0);
    t->dial_ms = nox__mono_ms();
    rv = nng_req0_open(&t->sock);
    if (rv != 0)
        return nox__status_set(st, NOX_EINTERNAL,
                               "cannot open an NNG req socket: %s",
                               nng_strerror(rv));
    t->sock_open = true;
    err = transport_configure(t, st);
    if (err != NOX_OK)
        goto out_close;
    /* In the background unless asked to wait, so that opening succeeds
     * while the server is still starting (calls report NOX_EUNAVAIL). */
    err = transport_dial(t, wait, st);
    if (err != NOX_OK)
        goto out_close;
    return NOX_OK;
out_close:
    (void)nng_close(t->sock); /* fails only for a closed socket */
    t->sock_open = false;
    return err;
}

nox_err_t
nox__transport_open(nox_transport_t *t, const char *url, bool wait,
                    const char *token, const char *ca_file, nox_status_t *st)
{
    nox__url_info_t info;
    nox_err_t       err;

    t->sock_open = false;
    t->url = NULL;
    /* The token is for servers on other machines: over ipc:// or
     * abstract:// whoever owns the socket name (the default /tmp path
     * can be taken by anyone first) would collect it. */
    t->token = url != NULL && nox__url_info(url, &info) == NOX_OK &&
                       info.kind == NOX_URL_NETWORK
                   ? token
                   : NULL;
    t->ca_file = ca_file;
    atomic_init(&t->pipes, 0);
    if (url == NULL || url[0] == '\0')
        return nox__status_set(st, NOX_EINVAL, "no server URL given");
    t->url = strdup(url);
    if (t->url == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    err = transport_connect(t, wait, st);
    if (err != NOX_OK) {
        free(t->url);
        t->url = NULL;
    }
    return err;
}

/* Drop the connection after a reply timed out, and dial anew. The server
 * may still answer, and in NNG 1.5.2 a message arriving while its socket
 * is being closed can hang nng_close for good (nanomsg/nng#1813, fixed in
 * 1.8.0). Closing now, while the server is still busy, makes the late
 * reply find no connection, so it can never meet a later close. If the
 * new socket cannot be opened, later calls fail and say so. */
static void
transport_reset(nox_transport_t *t)
{
    nox_status_t ignored;

    if (t->sock_open)
        (void)nng_close(t->sock); /* fails only for a closed socket */
    t->sock_open = false;
    (void)transport_connect(t, false, &ignored); /* see sock_open */
}

/* Do not cut off a background dial that has connected but not finished
 * the SP handshake. When an nng 1.5.2 server's ipc listener sees a
 * connection close before it has written its half of the handshake, that
 * listener stops accepting connections for good (NNG bug #1518). Our
 * server notices and rebinds (server/listener.c), but clients that
 * connect in between are lost. A client closed right after opening (a
 * local check failed, or the caller only wanted to try a URL) would do
 * exactly that, so wait, briefly, for the connection to come up: once we
 * have the server's half of the handshake, closing is harmless. Only for
 * ipc (TCP servers are not affected), only when a socket file exists
 * (else nothing can be under way), and only until TRANSPORT_SETTLE_MS
 * after the dial (later, nobody answered it and the dialer is waiting to
 * retry). */
static void
transport_settle(nox_transport_t *t)
{
    int64_t         end = t->dial_ms + TRANSPORT_SETTLE_MS;
    nox__url_info_t info;

    if (t->url == NULL || nox__url_info(t->url, &info) != NOX_OK ||
        info.kind != NOX_URL_IPC || access(info.path, F_OK) != 0)
        return;
    while (atomic_load(&t->pipes) <= 0 && nox__mono_ms() < end)
        nng_msleep(1);
}

void
nox__transport_close(nox_transport_t *t)
{
    if (t == NULL)
        return;
    /* nng_close only fails for a socket that is already closed. It returns
     * after the pipe callbacks have run, so t may be freed afterwards. */
    if (t->sock_open) {
        transport_settle(t);
        (void)nng_close(t->sock);
    }
    t->sock_open = false;
    free(t->url);
    t->url = NULL;
}

/* ---- one call ---- */

/* Wrap the packed request in an RpcRequest inside a new NNG message. */
static nox_err_t
transport_pack(const nox_transport_t *t, const ProtobufCMethodDescriptor *md,
               const ProtobufCMessage *req, int64_t budget_ms, nng_msg **out,
               nox_status_t *st)
{
    nox_envelope_t e;
    nng_msg       *msg;
    nox_err_t      err;
    size_t         len;
    int            rv;

    err = nox__envelope_init(&e, md, req, budget_ms, st);
    if (err != NOX_OK)
        return err;
    if (t->token != NULL)
        e.env.token = (char *)t->token; /* only read by packing */
    len = nox__envelope_size(&e);
    rv = nng_msg_alloc(&msg, len);
    if (rv != 0) {
        nox__envelope_fini(&e);
        return nox__status_set(st, NOX_ERESOURCE,
                               "cannot allocate a request of %zu bytes: %s",
                               len, nng_strerror(rv));
    }
    nox__envelope_pack(&e, nng_msg_body(msg));
    nox__envelope_fini(&e);
    *out = msg;
    return NOX_OK;
}

static nox_err_t
transport_nng_error(nox_transport_t *t, int rv, int64_t budget_ms,
                    nox_status_t *st)
{
    long long ms = (long long)budget_ms;

    switch (rv) {
    case NNG_ETIMEDOUT:
        if (atomic_load(&t->pipes) <= 0)
            return nox__status_set(
                st, NOX_EUNAVAIL,
                "cannot reach %s: no server answered within %lld ms", t->url,
                ms);
        return nox__status_set(st, NOX_ETIMEDOUT,
                               "no reply from %s within %lld ms", t->url, ms);
    case NNG_ENOMEM:
        return nox__status_set(st, NOX_ERESOURCE, "talking to %s: %s", t->url,
                               nng_strerror(rv));
    case NNG_ECONNRESET:
    case NNG_ECONNSHUT:
        /* With resends off, req0 fails the call rather than repeat it on
         * the next connection: the server may or may not have run it. */
        return nox__status_set(
            st, NOX_EUNAVAIL,
            "connection to %s lost before the reply (not retried): %s", t->url,
            nng_strerror(rv));
    default:
        return nox__status_set(st, NOX_EUNAVAIL, "talking to %s: %s", t->url,
                               nng_strerror(rv));
    }
}

static nox_err_t
transport_set_timeouts(nox_transport_t *t, int64_t ms, nox_status_t *st)
{
    nng_duration d = ms > INT32_MAX ? INT32_MAX : (ms < 1 ? 1 : (int32_t)ms);
    int          rv = nng_socket_set_ms(t->sock, NNG_OPT_SENDTIMEO, d);

    if (rv == 0)
        rv = nng_socket_set_ms(t->sock, NNG_OPT_RECVTIMEO, d);
    if (rv != 0)
        return nox__status_set(st, NOX_EINTERNAL, "cannot set timeouts: %s",
                               nng_strerror(rv));
    return NOX_OK;
}

/* Methods that only read, or only renew a TTL: running one twice does no
 * harm, so it may be sent again when its connection closes before the
 * reply. That happens when an nng 1.5.2 server cuts off connections stuck
 * in a broken ipc listener (server/listener.c). The server never saw
 * those requests, but a client cannot tell them from requests the server
 * took before it died, so other methods report the loss instead. */
static bool
transport_repeatable(const ProtobufCMethodDescriptor *md)
{
    static const char *const names[] = {"Health", "ListSandboxes",
                                        "DownloadFiles", "Touch"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(md->name, names[i]) == 0)
            return true;
    return false;
}

/* Send *msg and replace it with the reply. The send waits for a
 * connection, so both halves share one deadline; a repeatable call is
 * sent again (up to TRANSPORT_MAX_SENDS times) when its connection closes
 * first. *msg is consumed even on failure (NULL then). */
static nox_err_t
transport_exchange(nox_transport_t *t, nng_msg **msg, int64_t budget_ms,
                   bool repeatable, nox_status_t *st)
{
    int64_t   deadline = nox__mono_ms() + budget_ms;
    nng_msg  *again = NULL; /* a copy to send once more, if repeatable */
    nox_err_t err;
    int       rv;

    for (int sends = 1;; sends++) {
        if (repeatable && sends < TRANSPORT_MAX_SENDS &&
            nng_msg_dup(&again, *msg) != 0)
            again = NULL; /* out of memory: no second try */
        err = transport_set_timeouts(t, deadline - nox__mono_ms(), st);
        if (err != NOX_OK)
            goto out_free;
        rv = nng_sendmsg(t->sock, *msg, 0);
        if (rv != 0) {
            err = transport_nng_error(t, rv, budget_ms, st);
            goto out_free; /* a failed send leaves the message with us */
        }
        *msg = NULL; /* NNG owns it now */
        err = transport_set_timeouts(t, deadline - nox__mono_ms(), st);
        if (err != NOX_OK)
            goto out_again;
        rv = nng_recvmsg(t->sock, msg, 0);
        if (rv == 0)
            break;
        *msg = NULL;
        if (again != NULL && (rv == NNG_ECONNSHUT || rv == NNG_ECONNRESET) &&
            nox__mono_ms() < deadline) {
            *msg = again; /* the dialer is connecting anew meanwhile */
            again = NULL;
            continue;
        }
        err = transport_nng_error(t, rv, budget_ms, st);
        if (rv == NNG_ETIMEDOUT)
            transport_reset(t); /* after the error names the state */
        goto out_again;
    }
    if (again != NULL)
        nng_msg_free(again);
    return NOX_OK;
out_free:
    nng_msg_free(*msg);
    *msg = NULL;
out_again:
    if (again != NULL)
        nng_msg_free(again);
    return err;
}

nox_err_t
nox__transport_await(nox_transport_t *t, int64_t ms, nox_status_t *st)
{
    int64_t      deadline = nox__mono_ms() + ms;
    nng_duration nap = 1;

    /* A REQ send is queued, not refused, while no server is connected, so
     * without this wait a call to a dead server would use up its whole
     * budget (for Exec: the command's timeout too) before failing. The
     * dialer connects in the background; poll its pipe count, backing off
     * from 1 ms so a fresh client's first call is not slowed. */
    while (atomic_load(&t->pipes) <= 0) {
        if (nox__mono_ms() >= deadline)
            return nox__status_set(
                st, NOX_EUNAVAIL,
                "cannot reach %s: no server answered within %lld ms%s", t->url,
                (long long)ms,
                transport_is_tls(t->url)
                    ? " (or its certificate is not trusted: "
                      "NOXRUNNER_CA_FILE, or not issued for this host)"
                    : "");
        nng_msleep(nap);
        nap = nap < 16 ? nap * 2 : nap;
    }
    return NOX_OK;
}

nox_err_t
nox__transport_call(nox_transport_t *t, const ProtobufCMethodDescriptor *md,
                    const ProtobufCMessage *req, int64_t budget_ms,
                    ProtobufCMessage **resp, nox_status_t *st)
{
    nng_msg  *msg;
    nox_err_t err;

    if (!t->sock_open)
        return nox__status_set(st, NOX_EUNAVAIL,
                               "no connection to %s: it could not be "
                               "reopened after a timeout",
                               t->url != NULL ? t->url : "the server");
    err = transport_pack(t, md, req, budget_ms, &msg, st);
    if (err != NOX_OK)
        return err;
    err = transport_exchange(t, &msg, budget_ms, transport_repeatable(md), st);
    if (err != NOX_OK)
        return err;
    err = nox__envelope_open_reply(t->url, md, nng_msg_body(msg),
                                   nng_msg_len(msg), resp, st);
    nng_msg_free(msg);
    return err;
}
