/* check_http_client.c - libnoxrunner's http:// and https:// transport
 * against a NoxRunner backend that is not ours (tests/spec_backend.py,
 * the specification's endpoints only): every call of the specification,
 * what it lacks, HTTP statuses as error codes, the token, TLS
 * verification, and the transport's own failures (unreachable, timeout,
 * dropped connection, oversized reply, bad URL); and the server's limit
 * learnt from noxrunnerd. */
#include "nox/client.h"
#include "testproc.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- fixture: the stub backend in a fresh directory ---- */

static char      *dir; /* per test: Check forks each test */
static tp_child_t stub;

static int64_t
now_ms(void)
{
    struct timespec ts;

    ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
stub_start(bool tls, const char *const *extra)
{
    tp_spec_backend_start(&stub, dir, tls, extra);
}

static void
dir_setup(void)
{
    dir = tu_mkdtemp();
    memset(&stub, 0, sizeof(stub));
}

static void
stub_setup(void)
{
    dir_setup();
    stub_start(false, NULL);
}

static void
stub_teardown(void)
{
    (void)tp_stop(&stub);
    tu_rmtree_free(dir);
}

static nox_client_t *
open_url(const char *url, const nox_client_opts_t *opts)
{
    nox_client_t     *c = NULL;
    char              err[256] = "";
    nox_client_opts_t o = {0};

    if (opts != NULL)
        o = *opts;
    o.errbuf = err;
    o.errbuf_len = sizeof(err);
    ck_assert_msg(nox_client_open(&c, url, &o) == NOX_OK, "open %s: %s", url,
                  err);
    return c;
}

static void
create_ok(nox_client_t *c, const char *sid)
{
    nox_sandbox_t s;

    ck_assert_msg(nox_client_create(c, sid, NULL, &s) == NOX_OK, "%s",
                  nox_client_errmsg(c));
    nox_sandbox_free(&s);
}

/* How often the stub's log holds line (its connections, its requests). */
static int
stub_log_count(const char *line)
{
    char *log = tu_read_file(dir, "stub.log", NULL);
    int   n = 0;

    ck_assert_ptr_nonnull(log);
    for (const char *p = log; (p = strstr(p, line)); p++)
        n++;
    free(log);
    return n;
}

static int
stub_connections(void)
{
    return stub_log_count("spec_backend: connection");
}

/* ---- the specification's calls ---- */

START_TEST(http_spec_backend_serves_every_call_of_the_specification)
{
    nox_client_t     *c = open_url(stub.url, NULL);
    nox_create_opts_t co = {.ttl_seconds = 60, .memory_limit = "1Gi"};
    const char *const argv[] = {"echo", "hi"};
    const char *const env[] = {"A=1"};
    nox_exec_opts_t   eo = {
          .workdir = "/w", .env = env, .env_len = 1, .timeout_seconds = 5};
    nox_sandbox_t s;
    nox_exec_t    r;
    char         *expires = NULL;
    uint8_t      *back = NULL;
    size_t        back_len = 0;
    uint64_t      files = 99;
    bool          deleted = false;

    ck_assert_int_eq(nox_client_create(c, "my session", &co, &s), NOX_OK);
    ck_assert_str_eq(s.pod_name, "sbx-my session");
    ck_assert_uint_eq(strlen(s.expires_at), 20); /* 2026-01-02T12:34:56Z */
    /* Ours only: absent from another backend's reply. */
    ck_assert(!s.created);
    ck_assert_str_eq(s.isolation, "");
    ck_assert_uint_eq(s.n_limits, 0);
    nox_sandbox_free(&s);

    ck_assert_int_eq(nox_client_touch(c, "my session", &expires), NOX_OK);
    ck_assert_str_eq(expires, ""); /* the specification's touch says none */
    free(expires);

    ck_assert_int_eq(nox_client_exec(c, "my session", argv, 2, &eo, &r),
                     NOX_OK);
    ck_assert_int_eq(r.exit_code, 3);
    ck_assert_str_eq((char *)r.stdout_data, "ran: echo hi\n");
    ck_assert_str_eq((char *)r.stderr_data, "workdir=/w env=A=1 timeout=5\n");
    ck_assert_uint_eq(r.duration_ms, 12);
    /* The exit record is ours: zero from another backend. */
    ck_assert_int_eq(r.cause, NOX_EXIT_UNSPECIFIED);
    ck_assert(!r.timed_out);
    ck_assert_int_eq(r.signal, 0);
    ck_assert_uint_eq(r.cpu_user_ms, 0);
    ck_assert_uint_eq(r.stdout_total_bytes, 0);
    nox_exec_free(&r);

    /* The stub keeps the archive as it came and gives it back. */
    ck_assert_int_eq(nox_client_upload(c, "my session", "/workspace/in",
                                       "\x1f\x8b fake\0archive", 15, &files),
                     NOX_OK);
    ck_assert_uint_eq(files, 0); /* not in the specification's reply */
    ck_assert_int_eq(
        nox_client_download(c, "my session", "/workspace/in", &back, &back_len),
        NOX_OK);
    ck_assert_uint_eq(back_len, 15);
    ck_assert_mem_eq(back, "\x1f\x8b fake\0archive", 15);
    free(back);

    /* 204 without our header: the specification's "deleted". */
    ck_assert_int_eq(nox_client_delete(c, "my session", &deleted), NOX_OK);
    ck_assert(deleted);
    nox_client_close(c);
}
END_TEST

START_TEST(http_spec_backend_health_falls_back_to_healthz)
{
    nox_client_t *c = open_url(stub.url, NULL);
    nox_health_t  h;

    for (int i = 0; i < 2; i++) { /* the second remembers the fallback */
        ck_assert_msg(nox_client_health(c, &h) == NOX_OK, "%s",
                      nox_client_errmsg(c));
        ck_assert_str_eq(h.status, "SERVING");
        ck_assert_str_eq(h.version, "");
        ck_assert_str_eq(h.isolation, "");
        ck_assert_uint_eq(h.max_message_bytes, 0);
        nox_health_free(&h);
    }
    ck_assert_int_eq(nox_client_wait_ready(c, 2000), NOX_OK);
    /* Our /v1/health asked once only; then straight to /healthz. */
    ck_assert_int_eq(stub_log_count("spec_backend: GET /v1/health\n"), 1);
    ck_assert_int_eq(stub_log_count("spec_backend: GET /healthz\n"), 3);
    nox_client_close(c);
}
END_TEST

/* Another backend writes a NUL of stdout as "\u0000": it arrives as
 * U+FFFD (as from noxrunnerd) and the rest of the output with it; an
 * escaped backslash before "u0000" is text and stays. */
START_TEST(http_nul_in_another_backends_output_keeps_the_rest)
{
    nox_client_t *c = open_url(stub.url, NULL);
    const char   *argv[] = {"true"};
    nox_exec_t    r;

    create_ok(c, "nul-out");
    ck_assert_msg(nox_client_exec(c, "nul-out", argv, 1, NULL, &r) == NOX_OK,
                  "%s", nox_client_errmsg(c));
    ck_assert_uint_eq(r.stdout_len, 10);
    ck_assert_mem_eq(r.stdout_data,
                     "a\xef\xbf\xbd"
                     "b tail",
                     10);
    ck_assert_str_eq((const char *)r.stderr_data, "\\u0000 as text");
    nox_exec_free(&r);
    nox_client_close(c);
}
END_TEST

START_TEST(http_spec_backend_list_is_not_supported)
{
    nox_client_t      *c = open_url(stub.url, NULL);
    nox_sandbox_list_t l = {0};

    ck_assert_int_eq(nox_client_list(c, &l), NOX_ENOTSUP);
    ck_assert_msg(strstr(nox_client_errmsg(c), "not served") != NULL, "%s",
                  nox_client_errmsg(c));
    nox_client_close(c);
}
END_TEST

START_TEST(http_calls_of_one_client_share_one_connection)
{
    nox_client_t *c = open_url(stub.url, NULL);
    const char   *argv[] = {"true"};
    nox_health_t  h;
    nox_exec_t    r;
    char         *expires = NULL;

    create_ok(c, "ka");
    ck_assert_int_eq(nox_client_touch(c, "ka", &expires), NOX_OK);
    free(expires);
    ck_assert_int_eq(nox_client_exec(c, "ka", argv, 1, NULL, &r), NOX_OK);
    nox_exec_free(&r);
    ck_assert_int_eq(nox_client_health(c, &h), NOX_OK);
    nox_health_free(&h);
    ck_assert_int_eq(nox_client_delete(c, "ka", NULL), NOX_OK);
    ck_assert_int_eq(stub_connections(), 1);
    nox_client_close(c);
}
END_TEST

/* ---- HTTP statuses as error codes ---- */

/* Every row of the status table, from a JSON error body and from a text
 * one (both carry the message "canned NNN"). */
START_TEST(http_status_becomes_its_error_code)
{
    static const struct {
        int       status;
        nox_err_t code;
    } rows[] = {
        {400, NOX_EINVAL},    {401, NOX_EAUTH},     {403, NOX_EDENIED},
        {404, NOX_ENOENT},    {405, NOX_ENOTSUP},   {501, NOX_ENOTSUP},
        {408, NOX_ETIMEDOUT}, {504, NOX_ETIMEDOUT}, {409, NOX_EPRECOND},
        {413, NOX_ERESOURCE}, {429, NOX_ERESOURCE}, {507, NOX_ERESOURCE},
        {502, NOX_EUNAVAIL},  {503, NOX_EUNAVAIL},  {500, NOX_EINTERNAL},
        {520, NOX_EINTERNAL}, {418, NOX_EINVAL},    {422, NOX_EINVAL},
    };
    nox_client_t *c = open_url(stub.url, NULL);
    nox_sandbox_t s;
    char          sid[32], want[32];

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        for (int text = 0; text < 2; text++) {
            snprintf(sid, sizeof(sid), "%s-%d", text ? "plain" : "status",
                     rows[i].status);
            snprintf(want, sizeof(want), "canned %d", rows[i].status);
            nox_err_t err = nox_client_create(c, sid, NULL, &s);
            ck_assert_msg(err == rows[i].code, "%s: %s, want %s", sid,
                          nox_err_name(err), nox_err_name(rows[i].code));
            ck_assert_msg(strstr(nox_client_errmsg(c), want) != NULL, "%s: %s",
                          sid, nox_client_errmsg(c));
        }
    }
    nox_client_close(c);
}
END_TEST

START_TEST(http_redirect_names_its_target)
{
    nox_client_t *c = open_url(stub.url, NULL);
    nox_sandbox_t s;

    ck_assert_int_eq(nox_client_create(c, "moved", NULL, &s), NOX_EINVAL);
    ck_assert_str_eq(nox_client_errmsg(c),
                     "the backend redirects to "
                     "https://127.0.0.1:1/v1/sandboxes/moved; redirects are "
                     "not followed: use that URL");
    nox_client_close(c);
}
END_TEST

START_TEST(http_unknown_sandbox_is_not_found)
{
    nox_client_t *c = open_url(stub.url, NULL);
    nox_exec_t    r;
    const char   *argv[] = {"true"};

    ck_assert_int_eq(nox_client_exec(c, "nosuch", argv, 1, NULL, &r),
                     NOX_ENOENT);
    ck_assert_str_eq(nox_client_errmsg(c), "sandbox not found");
    nox_client_close(c);
}
END_TEST

/* ---- the token ---- */

START_TEST(http_token_is_sent_as_a_bearer_token)
{
    const char *const extra[] = {"--token", "s3cret", NULL};
    nox_client_opts_t with = {.token = "s3cret"};
    nox_client_opts_t wrong = {.token = "guess"};
    nox_client_t     *c;
    nox_sandbox_t     s;
    nox_health_t      h;

    stub_start(false, extra);
    c = open_url(stub.url, &with);
    create_ok(c, "a");
    nox_client_close(c);

    c = open_url(stub.url, &wrong);
    ck_assert_int_eq(nox_client_create(c, "a", NULL, &s), NOX_EAUTH);
    ck_assert_str_eq(nox_client_errmsg(c), "missing or wrong bearer token");
    /* /healthz needs none: a wrong token still sees the backend up. */
    ck_assert_int_eq(nox_client_health(c, &h), NOX_OK);
    nox_health_free(&h);
    nox_client_close(c);

    ck_assert_int_eq(setenv("NOXRUNNER_TOKEN", "s3cret", 1), 0);
    c = open_url(stub.url, NULL);
    create_ok(c, "b");
    nox_client_close(c);
}
END_TEST

/* ---- TLS ---- */

static void
tls_stub_start(void)
{
    char        cert[PATH_MAX], key[PATH_MAX];
    const char *extra[] = {"--tls-cert", cert, "--tls-key", key, NULL};

    tp_make_cert(dir);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    stub_start(true, extra);
}

START_TEST(https_without_the_ca_fails_verification)
{
    nox_client_t *c;
    nox_sandbox_t s;

    tls_stub_start();
    ck_assert_int_eq(unsetenv("NOXRUNNER_CA_FILE"), 0);
    c = open_url(stub.url, NULL);
    ck_assert_int_eq(nox_client_create(c, "a", NULL, &s), NOX_EUNAVAIL);
    ck_assert_msg(strstr(nox_client_errmsg(c), "cannot reach https://") !=
                          NULL &&
                      strstr(nox_client_errmsg(c), "certificate") != NULL,
                  "%s", nox_client_errmsg(c));
    nox_client_close(c);
}
END_TEST

/* Waiting cannot mend certificates: wait_ready says so at once, for an
 * untrusted server certificate and for a CA file that is not there. */
START_TEST(https_wait_ready_stops_at_a_certificate_failure)
{
    char              missing[PATH_MAX];
    nox_client_opts_t o = {.ca_file = missing};
    nox_client_t     *c;
    int64_t           t0;

    tls_stub_start();
    ck_assert_int_eq(unsetenv("NOXRUNNER_CA_FILE"), 0);
    snprintf(missing, sizeof(missing), "%s/no-such-ca.pem", dir);
    for (int i = 0; i < 2; i++) {
        c = open_url(stub.url, i == 0 ? NULL : &o);
        t0 = now_ms();
        ck_assert_int_eq(nox_client_wait_ready(c, 5000), NOX_EUNAVAIL);
        ck_assert_msg(now_ms() - t0 < 2000, "took %lld ms",
                      (long long)(now_ms() - t0));
        ck_assert_msg(strstr(nox_client_errmsg(c), "certificate") != NULL, "%s",
                      nox_client_errmsg(c));
        nox_client_close(c);
    }
}
END_TEST

START_TEST(https_with_the_ca_from_options_or_environment_works)
{
    char              ca[PATH_MAX];
    nox_client_opts_t o = {.ca_file = ca};
    nox_client_t     *c;

    tls_stub_start();
    snprintf(ca, sizeof(ca), "%s/cert.pem", dir);
    c = open_url(stub.url, &o);
    create_ok(c, "a");
    nox_client_close(c);

    ck_assert_int_eq(setenv("NOXRUNNER_CA_FILE", ca, 1), 0);
    c = open_url(stub.url, NULL);
    create_ok(c, "b");
    nox_client_close(c);
}
END_TEST

/* ---- the transport's own failures ---- */

/* A 127.0.0.1 port nothing listens on (bound, then released). */
static int
free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t          len = sizeof(a);
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

START_TEST(http_unreachable_server_is_unavailable_quickly)
{
    char          url[64];
    nox_client_t *c;
    nox_sandbox_t s;
    int64_t       t0;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", free_port());
    c = open_url(url, NULL); /* opening does not connect */
    t0 = now_ms();
    ck_assert_int_eq(nox_client_create(c, "a", NULL, &s), NOX_EUNAVAIL);
    ck_assert_msg(now_ms() - t0 < 1000, "took %lld ms",
                  (long long)(now_ms() - t0));
    ck_assert_msg(strncmp(nox_client_errmsg(c),
                          "cannot reach http://127.0.0.1:", 30) == 0,
                  "%s", nox_client_errmsg(c));
    t0 = now_ms();
    ck_assert_int_eq(nox_client_wait_ready(c, 300), NOX_ETIMEDOUT);
    ck_assert_msg(strstr(nox_client_errmsg(c), "not ready within 300 ms: "
                                               "cannot reach http://") != NULL,
                  "%s", nox_client_errmsg(c));
    ck_assert_msg(now_ms() - t0 < 1500, "wait_ready took %lld ms",
                  (long long)(now_ms() - t0));
    nox_client_close(c);
}
END_TEST

/* Twice: on the client's first connection, and on a reused one (after a
 * warm-up call), where libcurl reports no connect time at all. */
START_TEST(http_slow_reply_times_out_within_the_budget)
{
    nox_client_opts_t o = {.timeout_ms = 400};
    nox_client_t     *c = open_url(stub.url, &o);
    nox_sandbox_t     s;

    for (int warm = 0; warm < 2; warm++) {
        int64_t t0 = now_ms();

        ck_assert_int_eq(nox_client_create(c, "sleep-3000", NULL, &s),
                         NOX_ETIMEDOUT);
        ck_assert_msg(now_ms() - t0 < 2000, "took %lld ms",
                      (long long)(now_ms() - t0));
        ck_assert_msg(strstr(nox_client_errmsg(c),
                             "no reply from http://127.0.0.1:") != NULL &&
                          strstr(nox_client_errmsg(c), "within 400 ms") != NULL,
                      "%s", nox_client_errmsg(c));
        if (warm == 0) /* a call that leaves its connection open */
            create_ok(c, "warm");
    }
    nox_client_close(c);
}
END_TEST

/* The stub closes the connection of the first call of each endpoint on
 * "drop-once" without a reply (as a server that ran it and died). Only
 * the first call goes on a new connection; the others reuse one, where
 * libcurl would send a request again by itself. */
START_TEST(http_dropped_connection_is_retried_only_for_repeatable_calls)
{
    static const char exec_line[] =
        "spec_backend: POST /v1/sandboxes/drop-once/exec";
    nox_client_t *c = open_url(stub.url, NULL);
    const char   *argv[] = {"true"};
    nox_sandbox_t s;
    nox_exec_t    r;
    char         *expires = NULL;

    ck_assert_int_eq(nox_client_create(c, "drop-once", NULL, &s), NOX_EUNAVAIL);
    ck_assert_msg(strstr(nox_client_errmsg(c), "not retried") != NULL, "%s",
                  nox_client_errmsg(c));
    create_ok(c, "drop-once"); /* the stub answers from now on */
    ck_assert_msg(nox_client_touch(c, "drop-once", &expires) == NOX_OK, "%s",
                  nox_client_errmsg(c));
    free(expires);

    ck_assert_int_eq(nox_client_exec(c, "drop-once", argv, 1, NULL, &r),
                     NOX_EUNAVAIL);
    ck_assert_msg(strstr(nox_client_errmsg(c), "not retried") != NULL, "%s",
                  nox_client_errmsg(c));
    ck_assert_int_eq(stub_log_count(exec_line), 1); /* sent once */
    ck_assert_int_eq(nox_client_exec(c, "drop-once", argv, 1, NULL, &r),
                     NOX_OK);
    nox_exec_free(&r);
    ck_assert_int_eq(stub_log_count(exec_line), 2);
    nox_client_close(c);
}
END_TEST

/* The fds of this process without FD_CLOEXEC, as a bit set. */
static void
fds_inherited(bool out[1024])
{
    DIR           *d = opendir("/proc/self/fd");
    struct dirent *e;

    ck_assert_ptr_nonnull(d);
    memset(out, 0, 1024 * sizeof(out[0]));
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name), flags;

        if (e->d_name[0] == '.' || fd == dirfd(d))
            continue;
        flags = fcntl(fd, F_GETFD);
        ck_assert_int_lt(fd, 1024);
        if (flags >= 0 && (flags & FD_CLOEXEC) == 0)
            out[fd] = true;
    }
    closedir(d);
}

static int
fd_domain(int fd)
{
    int       domain = -1;
    socklen_t len = sizeof(domain);

    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0)
        return -1;
    return domain;
}

/* The connection to the server has FD_CLOEXEC. libcurl 7.88's own wakeup
 * socketpair (AF_UNIX, connected only to itself, one per client) does
 * not, and no option reaches it: the only exception allowed. */
START_TEST(http_connections_are_not_inherited_by_children)
{
    static bool   before[1024], after[1024];
    nox_client_t *c;
    nox_health_t  h;
    const char   *argv[] = {"true"};
    nox_exec_t    r;
    int           tcp = 0, unix_pair = 0;

    fds_inherited(before);
    c = open_url(stub.url, NULL);
    create_ok(c, "fds");
    ck_assert_int_eq(nox_client_health(c, &h), NOX_OK);
    nox_health_free(&h);
    ck_assert_int_eq(nox_client_exec(c, "fds", argv, 1, NULL, &r), NOX_OK);
    nox_exec_free(&r);
    fds_inherited(after); /* the client's connection is open */
    for (int fd = 0; fd < 1024; fd++) {
        if (fd_domain(fd) == AF_INET)
            tcp++;
        if (!after[fd] || before[fd])
            continue;
        ck_assert_msg(fd_domain(fd) == AF_UNIX,
                      "fd %d of the client lacks FD_CLOEXEC", fd);
        unix_pair++;
    }
    ck_assert_int_ge(tcp, 1);
    ck_assert_int_le(unix_pair, 2);
    nox_client_close(c);
}
END_TEST

START_TEST(http_reply_over_the_limit_is_resource_exhausted)
{
    nox_client_opts_t small = {.max_message_bytes = 1000};
    nox_client_t     *c = open_url(stub.url, NULL);
    size_t            len = 3u << 20; /* more than 1000 bytes + 1 MiB slack */
    uint8_t          *big = calloc(1, len), *back = NULL;
    size_t            back_len = 0;

    ck_assert_ptr_nonnull(big);
    create_ok(c, "a");
    ck_assert_int_eq(nox_client_upload(c, "a", NULL, big, len, NULL), NOX_OK);
    nox_client_close(c);
    c = open_url(stub.url, &small);
    ck_assert_int_eq(nox_client_download(c, "a", NULL, &back, &back_len),
                     NOX_ERESOURCE);
    ck_assert_msg(strstr(nox_client_errmsg(c), "exceeds") != NULL, "%s",
                  nox_client_errmsg(c));
    nox_client_close(c);
    free(big);
}
END_TEST

/* A proxy named by the environment must not see a request to the
 * loopback (nor its token): a listener that never accepts stands for
 * it, and no connection may be waiting on it afterwards. */
START_TEST(http_loopback_is_never_proxied)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t          len = sizeof(a);
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char               proxy[64];
    nox_client_opts_t  o = {.timeout_ms = 1000, .token = "secret"};
    nox_client_t      *c;
    struct pollfd      p;

    ck_assert_int_ge(fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", ntohs(a.sin_port));
    ck_assert_int_eq(setenv("http_proxy", proxy, 1), 0);
    ck_assert_int_eq(setenv("HTTPS_PROXY", proxy, 1), 0);
    ck_assert_int_eq(setenv("ALL_PROXY", proxy, 1), 0);
    stub_start(false, NULL);
    c = open_url(stub.url, &o);
    create_ok(c, "direct");
    nox_client_close(c);
    p = (struct pollfd){.fd = fd, .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 0) == 0, "the proxy was asked");
    close(fd);
}
END_TEST

/* A stdout within the server's limit arrives whole, though JSON writes
 * each of its bytes as six ("\u0001"): 2.4 MB of reply for 400 kB of
 * output, more than the limit plus the envelope's slack. */
START_TEST(http_exec_reply_may_grow_six_times_in_json)
{
    nox_client_opts_t o = {.max_message_bytes = 512u * 1024};
    nox_client_t     *c;
    const char       *argv[] = {"true"};
    nox_exec_t        r;

    stub_start(false, NULL);
    c = open_url(stub.url, &o);
    create_ok(c, "ctl-400000");
    ck_assert_msg(nox_client_exec(c, "ctl-400000", argv, 1, NULL, &r) == NOX_OK,
                  "%s", nox_client_errmsg(c));
    ck_assert_uint_eq(r.stdout_len, 400000);
    for (size_t i = 0; i < r.stdout_len; i++)
        ck_assert_uint_eq(r.stdout_data[i], 1);
    nox_exec_free(&r);
    nox_client_close(c);
}
END_TEST

START_TEST(http_open_rejects_a_bad_url)
{
    static const char *const bad[] = {"http://", "https://:80",
                                      "http://127.0.0.1:1/?q=1",
                                      "http://127.0.0.1:1/#top"};
    char                     err[256];
    nox_client_opts_t        o = {.errbuf = err, .errbuf_len = sizeof(err)};
    nox_client_t            *c = NULL;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(nox_client_open(&c, bad[i], &o) == NOX_EINVAL, "%s",
                      bad[i]);
        ck_assert_ptr_null(c);
        ck_assert_msg(strstr(err, "bad URL") != NULL, "%s: %s", bad[i], err);
    }
}
END_TEST

/* ---- against noxrunnerd ---- */

/* Over http the client learns the server's limit from GET /v1/health (as
 * over NNG from Health) and refuses a larger request before sending it. */
START_TEST(http_client_learns_the_server_limit_before_a_large_request)
{
    char          bin[PATH_MAX], ipc[PATH_MAX];
    char         *argv[] = {bin,
                            "--listen",
                            ipc,
                            "--base-dir",
                            dir,
                            "--isolation",
                            "none",
                            "--quiet",
                            "--http",
                            "127.0.0.1:0",
                            "--max-message-bytes",
                            "1048576",
                            NULL};
    size_t        n = 2u << 20;
    uint8_t      *big = calloc(1, n);
    nox_client_t *c;
    uint64_t      files = 0;

    ck_assert_ptr_nonnull(big);
    tp_build_path(bin, sizeof(bin), "noxrunnerd");
    snprintf(ipc, sizeof(ipc), "ipc://%s/s.sock", dir);
    tp_start(&stub, argv, dir, "noxrunnerd.log", "http://");
    c = open_url(stub.url, NULL); /* max_message_bytes 0: ask the server */
    create_ok(c, "big");
    ck_assert_int_eq(nox_client_upload(c, "big", NULL, big, n, &files),
                     NOX_ERESOURCE);
    ck_assert_msg(strstr(nox_client_errmsg(c),
                         "exceeds the server's max_message_bytes (1048576)"),
                  "errmsg: %s", nox_client_errmsg(c));
    /* The client still works afterwards. */
    create_ok(c, "big");
    nox_client_close(c);
    free(big);
}
END_TEST

static Suite *
http_client_suite(void)
{
    Suite *s = suite_create("http_client");
    TCase *tc = tcase_create("spec backend");

    tcase_add_checked_fixture(tc, stub_setup, stub_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc,
                   http_spec_backend_serves_every_call_of_the_specification);
    tcase_add_test(tc, http_spec_backend_health_falls_back_to_healthz);
    tcase_add_test(tc, http_spec_backend_list_is_not_supported);
    tcase_add_test(tc, http_nul_in_another_backends_output_keeps_the_rest);
    tcase_add_test(tc, http_calls_of_one_client_share_one_connection);
    tcase_add_test(tc, http_status_becomes_its_error_code);
    tcase_add_test(tc, http_unknown_sandbox_is_not_found);
    tcase_add_test(tc, http_redirect_names_its_target);
    tcase_add_test(tc, http_slow_reply_times_out_within_the_budget);
    tcase_add_test(
        tc, http_dropped_connection_is_retried_only_for_repeatable_calls);
    tcase_add_test(tc, http_reply_over_the_limit_is_resource_exhausted);
    tcase_add_test(tc, http_connections_are_not_inherited_by_children);
    suite_add_tcase(s, tc);

    tc = tcase_create("auth and tls");
    tcase_add_checked_fixture(tc, dir_setup, stub_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, http_token_is_sent_as_a_bearer_token);
    tcase_add_test(tc, https_without_the_ca_fails_verification);
    tcase_add_test(tc, https_with_the_ca_from_options_or_environment_works);
    tcase_add_test(tc, https_wait_ready_stops_at_a_certificate_failure);
    tcase_add_test(tc, http_unreachable_server_is_unavailable_quickly);
    tcase_add_test(tc, http_open_rejects_a_bad_url);
    tcase_add_test(tc, http_loopback_is_never_proxied);
    tcase_add_test(tc, http_exec_reply_may_grow_six_times_in_json);
    suite_add_tcase(s, tc);

    tc = tcase_create("noxrunnerd");
    tcase_add_checked_fixture(tc, dir_setup, stub_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc,
                   http_client_learns_the_server_limit_before_a_large_request);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(http_client_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
