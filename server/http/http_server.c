/*
 * http_server.c - the gateway's daemons: one libmicrohttpd daemon per
 * address, each with its own polling thread (epoll) multiplexing all of
 * its connections; the start-up checks (TLS files, token for addresses
 * others can reach); the connection count behind the 503 beyond
 * --http-max-connections; quiesce and stop.
 *
 * We bind the listening socket ourselves (CLOEXEC; the error names the
 * address) and hand it to the daemon, which learns nothing else about
 * addresses. libmicrohttpd would percent-decode the path before we see
 * it; our unescape callback leaves it alone, so that rest.h decodes the
 * session id itself ("a%2Fb" stays one segment, which the id rule then
 * refuses).
 */
#include "auth.h"
#include "http_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HTTP_BACKLOG 128
#define HTTP_PEM_MAX (1024 * 1024)
#define HTTP_HOST_MAX 256

/* ---- libmicrohttpd callbacks ---- */

/* libmicrohttpd's own complaints (a malformed request, a full
 * connection table) go to our stderr. fmt is libmicrohttpd's printf
 * format, which the attribute lets the compiler check as one. */
static void http_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
http_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    (void)cls;
    (void)vsnprintf(line, sizeof(line), fmt, ap);
    (void)fprintf(stderr, "noxrunnerd: http: %s%s", line,
                  line[0] != '\0' && line[strlen(line) - 1] == '\n' ? ""
                                                                    : "\n");
}

/* Leave the text as it is: rest.h and http_request.c decode what they
 * read, by their own rules. */
static size_t
http_unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

unsigned nox__http_header_timeout_s = NOX_HTTP_HEADER_TIMEOUT_S;
int64_t  nox__http_body_deadline_ms = NOX_HTTP_BODY_DEADLINE_S * 1000;

/* Take a new connection? Past the limit and its slack it is closed at
 * once (libmicrohttpd would otherwise stop accepting and leave new
 * clients hanging in the backlog), and so is one more from a peer that
 * already has its share. */
static enum MHD_Result
http_accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
    nox__http_t *h = cls;

    (void)len;
    if (atomic_load(&h->conns) >= h->max_conns + NOX_HTTP_CONNECTION_SLACK)
        return MHD_NO;
    return nox__http_peers_admit(&h->peers, addr) ? MHD_YES : MHD_NO;
}

static const struct sockaddr *
http_peer_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    return ci != NULL ? ci->client_addr : NULL;
}

/* Count every address's connections; one beyond the limit is marked
 * (its socket context) and its requests answered 503. A new connection
 * gets the shorter idle timeout until its first headers are in. */
static void
http_notify_connection(void *cls, struct MHD_Connection *c,
                       void                              **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
    nox__http_t *h = cls;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        unsigned n = atomic_fetch_add(&h->conns, 1) + 1;
        *socket_context = n > h->max_conns ? (void *)h : NULL;
        nox__http_peers_add(&h->peers, http_peer_of(c));
        (void)MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
                                        nox__http_header_timeout_s);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&h->conns, 1);
        nox__http_peers_remove(&h->peers, http_peer_of(c));
        *socket_context = NULL;
    }
}

/* ---- addresses ---- */

/* Split "HOST:PORT" or "[V6]:PORT" into host (without brackets; "" for
 * every interface) and port. */
static nox_err_t
http_split_addr(const char *addr, char *host, size_t host_len,
                const char **port, nox_status_t *st)
{
    const char *given = addr;
    const char *colon;
    size_t      n;

    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            goto bad;
        n = (size_t)(close - addr - 1);
        colon = close + 1;
        addr++;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)))
            goto bad;
        n = (size_t)(colon - addr);
    }
    if (n >= host_len || colon[1] == '\0' ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        strlen(colon + 1) > 5 || atoi(colon + 1) > 65535)
        goto bad;
    memcpy(host, addr, n);
    host[n] = '\0';
    *port = colon + 1;
    return NOX_OK;
bad:
    return nox__status_set(st, NOX_EINVAL,
                           "bad http address '%s' (want HOST:PORT, "
                           "[IPV6]:PORT)",
                           given);
}

/* A listening socket bound to ai; its fd, or -1 with st set. */
static int
http_bind(const struct addrinfo *ai, const char *addr, nox_status_t *st)
{
    int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;

    if (fd < 0) {
        (void)nox__status_errno(st, NOX_EUNAVAIL, errno,
                                "cannot listen on http address %s", addr);
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, HTTP_BACKLOG) != 0) {
        (void)nox__status_errno(st, NOX_EUNAVAIL, errno,
                                "cannot listen on http address %s", addr);
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* The URL of the bound socket fd: numeric host, the real port. */
static nox_err_t
http_bound_url(int fd, bool tls, char *url, size_t len, nox_status_t *st)
{
    struct sockaddr_storage ss;
    socklen_t               sl = sizeof(ss);
    char                    host[INET6_ADDRSTRLEN + 8], port[8];
    int                     rv;

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return nox__status_errno(st, NOX_EINTERNAL, errno, "getsockname");
    rv = getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
                     sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
    if (rv != 0)
        return nox__status_set(st, NOX_EINTERNAL, "getnameinfo: %s",
                               gai_strerror(rv));
    rv = snprintf(url, len,
                  ss.ss_family == AF_INET6 ? "%s://[%s]:%s" : "%s://%s:%s",
                  tls ? "https" : "http", host, port);
    if (rv < 0 || (size_t)rv >= len)
        return nox__status_set(st, NOX_EINTERNAL, "http URL too long");
    return NOX_OK;
}

/* Read a PEM file (certificate or key) into a malloc'd string. */
static nox_err_t
http_read_pem(const char *path, char **out, nox_status_t *st)
{
    int         fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat sb;
    char       *buf = NULL;
    size_t      got = 0;

    if (fd < 0)
        return nox__status_errno(st, NOX_EINVAL, errno, "cannot open %s", path);
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        sb.st_size > HTTP_PEM_MAX) {
        (void)close(fd);
        return nox__status_set(st, NOX_EINVAL,
                               "%s is not a regular file of at most %d "
                               "bytes",
                               path, HTTP_PEM_MAX);
    }
    buf = malloc((size_t)sb.st_size + 1);
    while (buf != NULL && got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    (void)close(fd);
    if (buf == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    if (got != (size_t)sb.st_size) {
        free(buf);
        return nox__status_set(st, NOX_EINVAL, "cannot read %s", path);
    }
    buf[got] = '\0';
    *out = buf;
    return NOX_OK;
}

/* Refuse an address others can reach when nobody has to authenticate,
 * unless told to serve it anyway (then say so, loudly): the rule and the
 * words of every transport (auth.h). */
static nox_err_t
http_check_exposure(const nox__http_t *h, const char *addr, bool tls,
                    bool insecure, nox_status_t *st)
{
    char url[HTTP_HOST_MAX + 32];
    int n = snprintf(url, sizeof(url), "%s://%s", tls ? "https" : "http", addr);

    /* Too long to name: judged by the address alone (no scheme: HTTP). */
    return nox__auth_refuse_open(n > 0 && (size_t)n < sizeof(url) ? url : addr,
                                 h->token != NULL, insecure, st);
}

/* Start the daemon of one address. */
static nox_err_t
http_start_daemon(nox__http_t *h, nox__http_daemon_t *hd, const char *addr,
                  bool tls, bool insecure, nox_status_t *st)
{
    char            host[HTTP_HOST_MAX];
    const char     *port = NULL;
    struct addrinfo hints, *ai = NULL;
    unsigned        flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    nox_err_t rv;
    int       fd, gai;

    rv = http_split_addr(addr, host, sizeof(host), &port, st);
    if (rv == NOX_OK)
        rv = http_check_exposure(h, addr, tls, insecure, st);
    if (rv != NOX_OK)
        return rv;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    gai = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &ai);
    if (gai != 0)
        return nox__status_set(st, NOX_EINVAL, "http address %s: %s", addr,
                               gai_strerror(gai));
    fd = http_bind(ai, addr, st);
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    freeaddrinfo(ai);
    if (fd < 0)
        return st->code;
    rv = http_bound_url(fd, tls, hd->url, sizeof(hd->url), st);
    if (rv != NOX_OK) {
        (void)close(fd);
        return rv;
    }
    if (tls)
        flags |= MHD_USE_TLS;
    /* Without TLS the option list ends before the certificate pair. */
    hd->d = MHD_start_daemon(
        flags, 0, http_accept_policy, h, nox__http_access, h,
        MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL, MHD_OPTION_LISTEN_SOCKET,
        fd, MHD_OPTION_UNESCAPE_CALLBACK, http_unescape_none, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, http_notify_connection, h,
        MHD_OPTION_NOTIFY_COMPLETED, nox__http_completed, h,
        /* Never reached: the accept policy refuses first. */
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(h->max_conns + 2 * NOX_HTTP_CONNECTION_SLACK),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)NOX_HTTP_IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)NOX_HTTP_CONN_MEMORY,
        tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, h->key_pem,
        MHD_OPTION_HTTPS_MEM_CERT, h->cert_pem, MHD_OPTION_END);
    /* On failure libmicrohttpd has closed fd itself. */
    if (hd->d == NULL && tls)
        return nox__status_set(st, NOX_EINVAL,
                               "cannot serve %s: libmicrohttpd refused the "
                               "certificate or key (see its message above)",
                               hd->url);
    if (hd->d == NULL)
        return nox__status_set(st, NOX_EUNAVAIL,
                               "cannot serve %s (libmicrohttpd refused; see "
                               "its message above)",
                               hd->url);
    return NOX_OK;
}

/* ---- start / stop ---- */

static nox_err_t
http_alloc(nox__http_t **out, nox_server_t *s, const nox_server_opts_t *o,
           nox_status_t *st)
{
    nox__http_t *h = calloc(1, sizeof(*h));
    nox_err_t    rv;

    if (h == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    *out = h;
    h->srv = s;
    h->max_body = s->dctx.max_message_bytes;
    h->max_conns = o->http_max_connections ? o->http_max_connections
                                           : NOX_HTTP_DEFAULT_MAX_CONNECTIONS;
    atomic_init(&h->conns, 0);
    atomic_init(&h->quiesced, false);
    h->daemons = calloc(o->n_http + o->n_https, sizeof(*h->daemons));
    if (h->daemons == NULL ||
        (o->token != NULL && (h->token = strdup(o->token)) == NULL))
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    rv = nox__http_peers_init(&h->peers, NOX_HTTP_PER_PEER,
                              h->max_conns + NOX_HTTP_CONNECTION_SLACK, st);
    if (rv != NOX_OK)
        return rv;
    rv = nox__sleep_sync_init(&h->mu, &h->cv, st);
    h->sync_init = rv == NOX_OK;
    return rv;
}

nox_err_t
nox__http_start(nox__http_t **out, nox_server_t *s, const nox_server_opts_t *o,
                nox_status_t *st)
{
    nox__http_t *h = NULL;
    nox_err_t    rv;

    *out = NULL;
    if (o->n_http + o->n_https == 0)
        return NOX_OK;
    if ((o->n_http > 0 && o->http_addrs == NULL) ||
        (o->n_https > 0 && o->https_addrs == NULL))
        return nox__status_set(st, NOX_EINVAL, "http addresses missing");
    if (o->n_https > 0 && (o->tls_cert == NULL || o->tls_key == NULL))
        return nox__status_set(st, NOX_EINVAL,
                               "https needs a certificate and its key "
                               "(--tls-cert and --tls-key)");
    if (o->n_https > 0 && !MHD_is_feature_supported(MHD_FEATURE_TLS))
        return nox__status_set(st, NOX_EINVAL,
                               "this libmicrohttpd has no TLS support");
    rv = http_alloc(&h, s, o, st);
    if (rv == NOX_OK && o->n_https > 0)
        rv = http_read_pem(o->tls_cert, &h->cert_pem, st);
    if (rv == NOX_OK && o->n_https > 0)
        rv = http_read_pem(o->tls_key, &h->key_pem, st);
    if (rv == NOX_OK)
        rv = nox__http_workers_start(h, s->n_workers, st);
    for (size_t i = 0; rv == NOX_OK && i < o->n_http + o->n_https; i++) {
        bool        tls = i >= o->n_http;
        const char *a = tls ? o->https_addrs[i - o->n_http] : o->http_addrs[i];
        if (a == NULL)
            rv = nox__status_set(st, NOX_EINVAL, "empty http address");
        else
            rv = http_start_daemon(h, &h->daemons[i], a, tls,
                                   o->insecure_no_auth, st);
        if (rv == NOX_OK)
            h->n_daemons++;
    }
    if (rv != NOX_OK) {
        nox__http_stop(h);
        return rv;
    }
    *out = h;
    return NOX_OK;
}

void
nox__http_quiesce(nox__http_t *h)
{
    if (h == NULL || atomic_exchange(&h->quiesced, true))
        return;
    for (size_t i = 0; i < h->n_daemons; i++) {
        MHD_socket fd = MHD_quiesce_daemon(h->daemons[i].d);
        h->daemons[i].quiesced_fd = fd == MHD_INVALID_SOCKET ? -1 : fd;
        /* The socket would still take connections into its backlog that
         * nobody accepts (clients hang until their timeout): shutting it
         * down refuses them at once. It stays open (no other socket can
         * get its number) until libmicrohttpd's thread is gone. */
        if (fd != MHD_INVALID_SOCKET)
            (void)shutdown(fd, SHUT_RDWR);
    }
}

void
nox__http_stop(nox__http_t *h)
{
    if (h == NULL)
        return;
    /* No call is in flight: the workers' queue is empty and no
     * connection is suspended, which MHD_stop_daemon requires. */
    nox__http_workers_stop(h);
    for (size_t i = 0; i < h->n_daemons; i++) {
        nox__http_daemon_t *hd = &h->daemons[i];
        MHD_stop_daemon(hd->d);
        /* A quiesced daemon leaves its listening socket to us. */
        if (atomic_load(&h->quiesced) && hd->quiesced_fd >= 0)
            (void)close(hd->quiesced_fd);
    }
    if (h->sync_init) {
        (void)pthread_cond_destroy(&h->cv);
        (void)pthread_mutex_destroy(&h->mu);
    }
    nox__http_peers_destroy(&h->peers);
    nox__token_free(h->token);
    if (h->key_pem != NULL)
        explicit_bzero(h->key_pem, strlen(h->key_pem));
    free(h->key_pem);
    free(h->cert_pem);
    free(h->daemons);
    free(h);
}

size_t
nox__http_count(const nox__http_t *h)
{
    return h != NULL ? h->n_daemons : 0;
}

nox_err_t
nox__http_url(const nox__http_t *h, size_t i, char *buf, size_t len)
{
    if (h == NULL || i >= h->n_daemons || strlen(h->daemons[i].url) >= len)
        return NOX_EINVAL;
    memcpy(buf, h->daemons[i].url, strlen(h->daemons[i].url) + 1);
    return NOX_OK;
}
