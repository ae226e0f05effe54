/*
 * main.c - noxrunnerd: serve the sandbox engine on NNG until a signal.
 *
 * SIGINT, SIGTERM and SIGHUP are blocked in every thread before anything
 * starts (threads inherit the mask), and the main thread collects them
 * with sigwait(): no handler, no global state, and no NNG or engine
 * thread is ever interrupted by them. The first one starts the shutdown
 * (nox_server_quiesce, then the grace); a second one ends the grace.
 */
#include "nox/engine.h"
#include "nox/server.h"
#include "auth.h"
#include "nox_archive.h"
#include "server_priv.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MAIN_USAGE_EXIT 2
#define MAIN_MAX_URLS 64
#define MAIN_MAX_UIDS 64
#define MAIN_GRACE_POLL_MS 50

typedef struct {
    const char     *urls[MAIN_MAX_URLS];
    size_t          n_urls;
    const char     *base_dir;          /* NULL: engine default */
    int             workers;           /* 0: default */
    size_t          max_message_bytes; /* 0: default */
    int             reap_interval_ms;  /* < 0: none */
    int64_t         shutdown_grace_ms; /* < 0: none */
    size_t          output_cap;        /* 0: default */
    int             quiet;             /* 1, or -1: from $NOXRUNNER_QUIET */
    nox_isolation_t isolation; /* AUTO: $NOXRUNNER_ISOLATION, else auto */
    const char     *http[MAIN_MAX_URLS];
    size_t          n_http;
    const char     *https[MAIN_MAX_URLS];
    size_t          n_https;
    const char     *tls_cert;
    const char     *tls_key;
    const char     *token_file; /* read at start-up (auth.h) */
    unsigned        ipc_allow_uids[MAIN_MAX_UIDS];
    size_t          n_ipc_allow_uids;
    bool            insecure_no_auth;
    unsigned        http_max_connections; /* 0: default */
} main_opts_t;

static void
main_usage(FILE *f)
{
    (void)fprintf(
        f,
        "usage: noxrunnerd [options]\n"
        "Serve the NoxRunner sandbox service (noxrunner.v1.Sandbox) on "
        "NNG.\n\n"
        "  --listen URL             ipc://PATH, tcp://HOST:PORT or "
        "tls+tcp://HOST:PORT;\n"
        "                           repeatable (default " NOX_DEFAULT_URL
        " unless\n"
        "                           --http or --https is given); ipc sockets "
        "are mode\n"
        "                           0600 (the server's user only)\n"
        "  --http HOST:PORT         serve NoxRunner's REST API over HTTP "
        "([::1]:PORT for\n"
        "                           IPv6, port 0: any); repeatable\n"
        "  --https HOST:PORT        the same over HTTPS (needs --tls-cert "
        "and --tls-key)\n"
        "  --tls-cert FILE          PEM certificate chain for https and "
        "tls+tcp://\n"
        "  --tls-key FILE           PEM private key for https and "
        "tls+tcp://\n"
        "  --token-file FILE        bearer token (one line, file mode 0600) "
        "every tcp,\n"
        "                           tls+tcp, http and https request must "
        "carry\n"
        "  --ipc-allow-uid UID      let this user call over ipc:// too "
        "(the socket is\n"
        "                           then 0666, and any other uid is "
        "denied); repeatable\n"
        "  --insecure-no-auth       allow a non-loopback tcp or http "
        "address without\n"
        "                           --token-file (anyone who reaches it "
        "runs commands)\n"
        "  --http-max-connections N open HTTP connections at once, 503 "
        "beyond (default 256)\n"
        "  --base-dir DIR           sandbox directory (default "
        "$NOXRUNNER_BASE_DIR, else /tmp)\n"
        "  --workers N              concurrent requests (default %d)\n"
        "  --max-message-bytes N    largest request/reply payload "
        "(default %u)\n"
        "  --reap-interval SECONDS  expiry check interval, 0 for none "
        "(default 5)\n"
        "  --output-cap BYTES       output kept per stream (default %d)\n"
        "  --shutdown-grace SECONDS how long calls in flight may finish "
        "after SIGTERM\n"
        "                           or SIGINT, 0 for none (default 10); a "
        "second signal\n"
        "                           ends it\n"
        "  --isolation LEVEL        auto, namespaces or none (default "
        "$NOXRUNNER_ISOLATION,\n"
        "                           else auto: namespaces where the kernel "
        "allows them)\n"
        "  --quiet                  no local-mode warnings\n"
        "  --help, --version\n",
        NOX_DEFAULT_WORKERS, NOX_DEFAULT_MAX_MESSAGE_BYTES,
        NOX_DEFAULT_OUTPUT_CAP);
}

/* Parse a decimal size in [min, max]; 0 on success, -1 otherwise. */
static int
main_parse_size(const char *s, size_t min, size_t max, size_t *out)
{
    char              *end;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return -1; /* strtoull would accept "-1" and " 1" */
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Seconds, possibly fractional, as milliseconds; 0 becomes -1 ("none"). */
static int
main_parse_interval(const char *s, int *ms)
{
    char  *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0 ||
        v > 86400)
        return -1;
    /* Round up, so a small positive interval never becomes 0. */
    *ms = v == 0 ? -1 : (int)(v * 1000 + 0.999);
    return 0;
}

enum {
    OPT_LISTEN = 256,
    OPT_BASE_DIR,
    OPT_WORKERS,
    OPT_MAX_MSG,
    OPT_REAP,
    OPT_OUTPUT_CAP,
    OPT_GRACE,
    OPT_QUIET,
    OPT_ISOLATION,
    OPT_HTTP,
    OPT_HTTPS,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TOKEN_FILE,
    OPT_IPC_ALLOW_UID,
    OPT_INSECURE_NO_AUTH,
    OPT_HTTP_MAX_CONN,
    OPT_HELP,
    OPT_VERSION
};

static const struct option main_longopts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"base-dir", required_argument, NULL, OPT_BASE_DIR},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"max-message-bytes", required_argument, NULL, OPT_MAX_MSG},
    {"reap-interval", required_argument, NULL, OPT_REAP},
    {"output-cap", required_argument, NULL, OPT_OUTPUT_CAP},
    {"shutdown-grace", required_argument, NULL, OPT_GRACE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"isolation", required_argument, NULL, OPT_ISOLATION},
    {"http", required_argument, NULL, OPT_HTTP},
    {"https", required_argument, NULL, OPT_HTTPS},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"ipc-allow-uid", required_argument, NULL, OPT_IPC_ALLOW_UID},
    {"insecure-no-auth", no_argument, NULL, OPT_INSECURE_NO_AUTH},
    {"http-max-connections", required_argument, NULL, OPT_HTTP_MAX_CONN},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Apply one option. Returns 0 to go on, -1 for bad usage (reported). */
static int
main_apply_opt(main_opts_t *m, int c, const char *arg)
{
    size_t v;

    switch (c) {
    case OPT_LISTEN:
        if (m->n_urls == MAIN_MAX_URLS) {
            (void)fprintf(stderr, "noxrunnerd: too many --listen URLs\n");
            return -1;
        }
        m->urls[m->n_urls++] = arg;
        return 0;
    case OPT_BASE_DIR:
        m->base_dir = arg;
        return 0;
    case OPT_WORKERS:
        if (main_parse_size(arg, 1, 4096, &v) != 0)
            break;
        m->workers = (int)v;
        return 0;
    case OPT_MAX_MSG:
        if (main_parse_size(arg, 1, INT32_MAX - NOX_ENVELOPE_SLACK,
                            &m->max_message_bytes) != 0)
            break;
        return 0;
    case OPT_REAP:
        if (main_parse_interval(arg, &m->reap_interval_ms) != 0)
            break;
        return 0;
    case OPT_OUTPUT_CAP:
        if (main_parse_size(arg, 1, SIZE_MAX / 4, &m->output_cap) != 0)
            break;
        return 0;
    case OPT_GRACE: {
        int ms;
        if (main_parse_interval(arg, &ms) != 0)
            break;
        m->shutdown_grace_ms = ms; /* 0 seconds: -1, none */
        return 0;
    }
    case OPT_QUIET:
        m->quiet = 1;
        return 0;
    case OPT_ISOLATION:
        if (nox_isolation_parse(arg, &m->isolation, NULL) != NOX_OK)
            break;
        return 0;
    case OPT_HTTP:
    case OPT_HTTPS: {
        const char **list = c == OPT_HTTP ? m->http : m->https;
        size_t      *n = c == OPT_HTTP ? &m->n_http : &m->n_https;
        if (*n == MAIN_MAX_URLS) {
            (void)fprintf(stderr, "noxrunnerd: too many --%s addresses\n",
                          c == OPT_HTTP ? "http" : "https");
            return -1;
        }
        list[(*n)++] = arg;
        return 0;
    }
    case OPT_TLS_CERT:
        m->tls_cert = arg;
        return 0;
    case OPT_TLS_KEY:
        m->tls_key = arg;
        return 0;
    case OPT_TOKEN_FILE:
        m->token_file = arg;
        return 0;
    case OPT_IPC_ALLOW_UID:
        if (m->n_ipc_allow_uids == MAIN_MAX_UIDS) {
            (void)fprintf(stderr, "noxrunnerd: too many --ipc-allow-uid\n");
            return -1;
        }
        if (main_parse_size(arg, 0, UINT32_MAX - 1, &v) != 0)
            break;
        m->ipc_allow_uids[m->n_ipc_allow_uids++] = (unsigned)v;
        return 0;
    case OPT_INSECURE_NO_AUTH:
        m->insecure_no_auth = true;
        return 0;
    case OPT_HTTP_MAX_CONN:
        if (main_parse_size(arg, 1, 65536, &v) != 0)
            break;
        m->http_max_connections = (unsigned)v;
        return 0;
    }
    (void)fprintf(stderr, "noxrunnerd: invalid value '%s' for %s\n", arg,
                  main_longopts[c - OPT_LISTEN].name);
    return -1;
}

/* Parse argv into m. Returns -1 to go on, else the exit status. */
static int
main_parse_args(int argc, char **argv, main_opts_t *m)
{
    int c;

    for (;;) {
        c = getopt_long(argc, argv, "", main_longopts, NULL);
        if (c == -1)
            break;
        if (c == OPT_HELP) {
            main_usage(stdout);
            return 0;
        }
        if (c == OPT_VERSION) {
            (void)printf("noxrunnerd %s\n", NOX_VERSION);
            return 0;
        }
        if (c == '?' || main_apply_opt(m, c, optarg) != 0) {
            (void)fprintf(stderr, "Try 'noxrunnerd --help'.\n");
            return MAIN_USAGE_EXIT;
        }
    }
    if (optind < argc) {
        (void)fprintf(stderr, "noxrunnerd: unexpected argument '%s'\n",
                      argv[optind]);
        return MAIN_USAGE_EXIT;
    }
    /* The default ipc URL only when nothing at all is to be served. */
    if (m->n_urls == 0 && m->n_http == 0 && m->n_https == 0)
        m->urls[m->n_urls++] = NOX_DEFAULT_URL;
    return -1;
}

/* Block the stop signals in this thread, and so in every thread started
 * later, and ignore SIGPIPE (a peer that hangs up must not kill us). */
static int
main_signals(sigset_t *stop)
{
    struct sigaction sa;
    int              rv;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGPIPE, &sa, NULL) != 0)
        return errno;
    if (sigemptyset(stop) != 0 || sigaddset(stop, SIGINT) != 0 ||
        sigaddset(stop, SIGTERM) != 0 || sigaddset(stop, SIGHUP) != 0)
        return errno;
    rv = pthread_sigmask(SIG_BLOCK, stop, NULL);
    if (rv != 0)
        return rv;
    return 0;
}

static void
main_announce(nox_server_t *srv, const main_opts_t *m,
              const nox_engine_t *engine)
{
    char            url[1024];
    const char     *why = NULL;
    nox_isolation_t level = nox_engine_isolation(engine, &why);

    if (level == NOX_ISOLATION_NAMESPACES)
        (void)fprintf(stderr, "noxrunnerd: isolation namespaces\n");
    else
        (void)fprintf(stderr, "noxrunnerd: isolation none (%s)\n", why);

    for (size_t i = 0; i < m->n_urls; i++) {
        /* The bound URL names the real port of "tcp://host:0". */
        if (nox__server_url(srv, i, url, sizeof(url)) != NOX_OK)
            (void)snprintf(url, sizeof(url), "%s", m->urls[i]);
        (void)fprintf(stderr, "noxrunnerd: listening on %s\n", url);
    }
    /* "http://HOST:PORT" with the real port: scripts and tests read it. */
    for (size_t i = 0; i < nox__server_http_count(srv); i++)
        if (nox__server_http_url(srv, i, url, sizeof(url)) == NOX_OK)
            (void)fprintf(stderr, "noxrunnerd: listening on %s\n", url);
}

/* Wait for one of the stop signals. */
static void
main_wait_signal(const sigset_t *stop)
{
    int sig;

    /* sigwait returns 0 or EINVAL (impossible with this set). */
    while (sigwait(stop, &sig) == EINTR)
        ;
}

/* The shutdown grace (after nox_server_quiesce): wait until no call is
 * in flight, the grace is over or a second stop signal arrives, checking
 * every MAIN_GRACE_POLL_MS (only while shutting down). */
static void
main_grace(nox_server_t *srv, int64_t grace_ms, const sigset_t *stop)
{
    int64_t end = nox__mono_ms() + (grace_ms > 0 ? grace_ms : 0);

    while (nox_server_in_flight(srv) > 0 && nox__mono_ms() < end) {
        struct timespec ts = {0, MAIN_GRACE_POLL_MS * 1000000L};
        if (sigtimedwait(stop, NULL, &ts) > 0)
            break; /* a second signal: no more grace */
    }
    /* nox_server_stop then kills whatever still runs, at once. */
    nox_server_end_grace(srv);
}

/* Raise the soft limit on open files to the hard one. Each running
 * command holds about six fds (pipes, pidfd, sandbox and workspace
 * directories) and commands are bounded by the sandboxes' limits, not by
 * the workers: the usual soft limit of 1024 would run out under a few
 * hundred Execs. Commands inherit the raised limit. Quiet unless it
 * fails, which only costs headroom. */
static void
main_raise_fd_limit(void)
{
    struct rlimit rl;
    char          ebuf[128];

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur == rl.rlim_max)
            return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            return;
    }
    (void)fprintf(stderr,
                  "noxrunnerd: warning: cannot raise the open files limit: "
                  "%s\n",
                  strerror_r(errno, ebuf, sizeof(ebuf))); /* GNU */
}

/* Open the engine, serve until a stop signal, shut down. Exit status. */
static int
main_serve_with(const main_opts_t *m, nox_server_opts_t *so,
                const sigset_t *stop)
{
    nox_engine_opts_t eo = {.base_dir = m->base_dir,
                            .output_cap = m->output_cap,
                            .quiet = m->quiet,
                            .isolation = m->isolation};
    nox_engine_t     *engine;
    nox_server_t     *srv;
    nox_status_t      st;

    /* libarchive is loaded on first use (nox_archive.h) to spare short
     * CLI runs; a server loads it now, so a missing library stops it at
     * start-up and the first upload pays no extra ~4 ms. */
    if (nox__archive_load(&st) != NOX_OK ||
        nox_engine_open(&engine, &eo, &st) != NOX_OK) {
        (void)fprintf(stderr, "noxrunnerd: %s\n", st.msg);
        return EXIT_FAILURE;
    }
    so->engine = engine;
    if (nox_server_start(&srv, so, &st) != NOX_OK) {
        (void)fprintf(stderr, "noxrunnerd: %s\n", st.msg);
        nox_engine_close(engine);
        return EXIT_FAILURE;
    }
    main_announce(srv, m, engine);
    main_wait_signal(stop);
    /* Refuse new work at once; a second signal while calls in flight
     * have their grace ends it. */
    nox_server_quiesce(srv);
    main_grace(srv,
               m->shutdown_grace_ms ? m->shutdown_grace_ms
                                    : NOX_DEFAULT_SHUTDOWN_GRACE_MS,
               stop);
    nox_server_stop(srv);
    nox_engine_close(engine);
    return EXIT_SUCCESS;
}

/* Serve with m's options until a stop signal, shut down. Exit status. */
static int
main_serve(const main_opts_t *m, const sigset_t *stop)
{
    nox_server_opts_t so = {.urls = m->urls,
                            .n_urls = m->n_urls,
                            .workers = m->workers,
                            .max_message_bytes = m->max_message_bytes,
                            .reap_interval_ms = m->reap_interval_ms,
                            .shutdown_grace_ms = m->shutdown_grace_ms,
                            .http_addrs = m->http,
                            .n_http = m->n_http,
                            .https_addrs = m->https,
                            .n_https = m->n_https,
                            .tls_cert = m->tls_cert,
                            .tls_key = m->tls_key,
                            .ipc_allow_uids = m->ipc_allow_uids,
                            .n_ipc_allow_uids = m->n_ipc_allow_uids,
                            .insecure_no_auth = m->insecure_no_auth,
                            .http_max_connections = m->http_max_connections};
    nox_status_t      st;
    char             *token = NULL;
    int               rc;

    /* The token is read before anything else starts, so that a token
     * file others can read stops the server before it serves. */
    if (m->token_file != NULL &&
        nox__token_file_read(m->token_file, true, &token, NULL, &st) !=
            NOX_OK) {
        (void)fprintf(stderr, "noxrunnerd: %s\n", st.msg);
        return EXIT_FAILURE;
    }
    so.token = token;
    rc = main_serve_with(m, &so, stop);
    nox__token_free(token);
    return rc;
}

int
main(int argc, char **argv)
{
    main_opts_t m;
    sigset_t    stop;
    int         rv;

    memset(&m, 0, sizeof(m));
    m.quiet = -1;
    m.reap_interval_ms = NOX_DEFAULT_REAP_INTERVAL_MS;
    rv = main_parse_args(argc, argv, &m);
    if (rv >= 0)
        return rv;
    rv = main_signals(&stop);
    if (rv != 0) {
        char        ebuf[128];
        const char *es = strerror_r(rv, ebuf, sizeof(ebuf)); /* GNU */
        (void)fprintf(stderr, "noxrunnerd: cannot set up signals: %s\n", es);
        return EXIT_FAILURE;
    }
    main_raise_fd_limit();
    return main_serve(&m, &stop);
}
