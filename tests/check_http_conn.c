/* check_http_conn.c - the REST gateway's connections: bearer token,
 * keep-alive, stalled and garbage clients, the connection limit, long
 * calls beside short ones, quiesce and stop, TLS, the checks at start,
 * and noxrunnerd's announcement of its http addresses. */
#include "httptest.h"
#include "server_priv.h"
#include "testutil.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define TOKEN "s3cret-token_0123"
#define STALLED 20
/* Generous: what matters is that a stalled client does not hold the
 * server for its idle timeout (30 s). */
#define PROMPT_MS 500

static void
assert_error(const ht_res_t *r, long status, const char *msg, int code)
{
    cJSON *j;

    ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status,
                  status, r->body);
    ck_assert_str_eq(r->content_type, "application/json");
    j = cJSON_Parse(r->body);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(cJSON_GetArraySize(j), 2);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "error")),
                     msg);
    ck_assert_int_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "code")),
                     code);
    cJSON_Delete(j);
}

static void
conn_setup(void)
{
    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
}

static void
assert_healthz(CURL *c)
{
    ht_res_t r;

    ck_assert_int_eq(ht_req(c, "GET", "/healthz", NULL, NULL, 0, NULL, &r),
                     200);
    ck_assert_str_eq(r.body, "OK");
    ht_res_free(&r);
}

/* ---- token ---- */

START_TEST(http_every_request_but_healthz_needs_the_bearer_token)
{
    ht_opts_t o = {.token = TOKEN};
    ht_res_t  r;

    ht_start(&o);
    assert_healthz(NULL); /* no token needed */
    ht_req(NULL, "GET", "/v1/sandboxes", NULL, NULL, 0, NULL, &r);
    assert_error(&r, 401, "missing or wrong bearer token", 16);
    ck_assert_str_eq(r.www_auth, "Bearer");
    ht_res_free(&r);
    ht_req(NULL, "GET", "/v1/sandboxes", NULL, NULL, 0, TOKEN "x", &r);
    assert_error(&r, 401, "missing or wrong bearer token", 16);
    ht_res_free(&r);
    /* With a body: refused before the body is read. */
    ht_req(NULL, "PUT", "/v1/sandboxes/t1", "application/json", "{}", 2,
           "wrong", &r);
    assert_error(&r, 401, "missing or wrong bearer token", 16);
    ht_res_free(&r);
    ck_assert(!tu_exists(ht_base, "noxrunner_sandbox_t1"));
    ck_assert_int_eq(ht_req(NULL, "PUT", "/v1/sandboxes/t1", "application/json",
                            "{}", 2, TOKEN, &r),
                     200);
    ht_res_free(&r);
    ck_assert_int_eq(
        ht_req(NULL, "GET", "/v1/sandboxes", NULL, NULL, 0, TOKEN, &r), 200);
    ht_res_free(&r);
}
END_TEST

/* ---- keep-alive ---- */

START_TEST(http_serves_many_requests_on_one_kept_alive_connection)
{
    CURL    *c = curl_easy_init();
    ht_res_t r;
    long     conns = -1;

    ht_start(NULL);
    ck_assert_ptr_nonnull(c);
    assert_healthz(c);
    ck_assert_int_eq(curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns),
                     CURLE_OK);
    ck_assert_int_eq(conns, 1);
    /* Replies of every kind, errors included, keep the connection. */
    ck_assert_int_eq(
        ht_req(c, "PUT", "/v1/sandboxes/k1", NULL, NULL, 0, NULL, &r), 200);
    ht_res_free(&r);
    ck_assert_int_eq(curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns),
                     CURLE_OK);
    ck_assert_int_eq(conns, 0);
    ck_assert_int_eq(ht_req(c, "GET", "/nowhere", NULL, NULL, 0, NULL, &r),
                     404);
    ht_res_free(&r);
    ck_assert_int_eq(curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns),
                     CURLE_OK);
    ck_assert_int_eq(conns, 0);
    ck_assert_int_eq(ht_req(c, "POST", "/v1/sandboxes/k1/exec",
                            "application/json", "{\"cmd\":[\"true\"]}", 16,
                            NULL, &r),
                     200);
    ht_res_free(&r);
    ck_assert_int_eq(
        ht_req(c, "DELETE", "/v1/sandboxes/k1", NULL, NULL, 0, NULL, &r), 204);
    ht_res_free(&r);
    assert_healthz(c);
    ck_assert_int_eq(curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns),
                     CURLE_OK);
    ck_assert_int_eq(conns, 0);
    curl_easy_cleanup(c);
}
END_TEST

/* ---- misbehaving clients ---- */

static void
send_all(int fd, const char *s)
{
    ck_assert_int_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

START_TEST(http_stalled_clients_do_not_delay_healthz)
{
    int       fds[STALLED];
    long long t0, ms;
    ht_res_t  r;

    ht_start(NULL);
    /* Half a header on some, a body dribbled on the others. */
    for (int i = 0; i < STALLED; i++) {
        fds[i] = ht_connect();
        if (i % 2 == 0)
            send_all(fds[i], "GET /healthz HTTP/1.1\r\nHo");
        else
            send_all(fds[i], "PUT /v1/sandboxes/slow HTTP/1.1\r\nHost: x\r\n"
                             "Content-Length: 100\r\n\r\n{\"ttl");
    }
    usleep(100 * 1000);
    t0 = ht_ms();
    assert_healthz(NULL);
    ms = ht_ms() - t0;
    printf("healthz with %d stalled connections: %lld ms\n", STALLED, ms);
    ck_assert_int_lt(ms, PROMPT_MS);
    /* Calls that need a worker too. */
    t0 = ht_ms();
    ck_assert_int_eq(
        ht_req(NULL, "PUT", "/v1/sandboxes/fast", NULL, NULL, 0, NULL, &r),
        200);
    ht_res_free(&r);
    ck_assert_int_lt(ht_ms() - t0, PROMPT_MS * 4);
    for (int i = 0; i < STALLED; i++)
        close(fds[i]);
    ck_assert(!tu_exists(ht_base, "noxrunner_sandbox_slow"));
}
END_TEST

START_TEST(http_answers_garbage_400_and_keeps_serving)
{
    int   fd;
    char *got;

    ht_start(NULL);
    fd = ht_connect();
    /* Binary bytes, a NUL first, for a method. */
    got =
        ht_raw(fd, "\0\x01\x02 \xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", 28, 2000);
    ck_assert_msg(strncmp(got, "HTTP/1.1 400 ", 13) == 0, "got: %s", got);
    free(got);
    close(fd);
    fd = ht_connect();
    got = ht_raw(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", 44,
                 2000);
    ck_assert_msg(strncmp(got, "HTTP/1.1 400 ", 13) == 0, "got: %s", got);
    free(got);
    close(fd);
    /* A request line without a version: closed without a reply. */
    fd = ht_connect();
    got = ht_raw(fd, "GARBAGE\r\n\r\n", 11, 2000);
    ck_assert_str_eq(got, "");
    free(got);
    close(fd);
    /* Headers over the connection's memory: 431. */
    {
        size_t n = 80 * 1024;
        char  *big = malloc(n + 64);
        ck_assert_ptr_nonnull(big);
        strcpy(big, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
        memset(big + strlen(big), 'a', n);
        strcpy(big + 40 + n, "\r\n\r\n");
        fd = ht_connect();
        got = ht_raw(fd, big, strlen(big), 2000);
        ck_assert_msg(strncmp(got, "HTTP/1.1 431 ", 13) == 0, "got: %.40s",
                      got);
        free(got);
        free(big);
        close(fd);
    }
    assert_healthz(NULL);
}
END_TEST

START_TEST(http_answers_413_to_a_body_announced_or_sent_over_the_limit)
{
    int      fd;
    char    *got, head[64];
    size_t   chunk = 64 * 1024;
    char    *data = malloc(chunk);
    ht_res_t r;

    ht_start(NULL);
    ck_assert_ptr_nonnull(data);
    memset(data, 'x', chunk);
    ck_assert_int_eq(
        ht_req(NULL, "PUT", "/v1/sandboxes/c1", NULL, NULL, 0, NULL, &r), 200);
    ht_res_free(&r);
    fd = ht_connect();
    send_all(fd, "POST /v1/sandboxes/c1/files/upload HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n");
    (void)snprintf(head, sizeof(head), "%zx\r\n", chunk);
    /* 17 chunks of 64 KiB: past the 1 MiB limit. */
    for (int i = 0; i < 17; i++) {
        send_all(fd, head);
        ck_assert_int_eq(send(fd, data, chunk, MSG_NOSIGNAL), (ssize_t)chunk);
        send_all(fd, "\r\n");
    }
    got = ht_raw(fd, "0\r\n\r\n", 5, 3000);
    ck_assert_msg(strncmp(got, "HTTP/1.1 413 ", 13) == 0, "got: %.60s", got);
    ck_assert_ptr_nonnull(strstr(got, "\"code\":8"));
    free(got);
    free(data);
    close(fd);
    /* An announced length over the limit is answered before any body. */
    fd = ht_connect();
    got = ht_raw(fd,
                 "POST /v1/sandboxes/c1/files/upload HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 1073741824\r\n\r\n",
                 84, 2000);
    ck_assert_msg(strncmp(got, "HTTP/1.1 413 ", 13) == 0, "got: %.60s", got);
    free(got);
    close(fd);
    assert_healthz(NULL);
}
END_TEST

/* ---- long calls ---- */

typedef struct {
    const char *body;
    ht_res_t    r;
} exec_arg_t;

static void *
exec_thread(void *arg)
{
    exec_arg_t *a = arg;

    ht_req(NULL, "POST", "/v1/sandboxes/long/exec", "application/json", a->body,
           strlen(a->body), NULL, &a->r);
    return NULL;
}

/* Wait until the server counts n calls in flight (a call ends once its
 * reply is sent, which the client may see a moment before the server's
 * thread notes it). */
static void
wait_in_flight(size_t n)
{
    long long t0 = ht_ms();

    while (nox_server_in_flight(ht_srv) != n && ht_ms() - t0 < 2000)
        usleep(2000);
    ck_assert_uint_eq(nox_server_in_flight(ht_srv), n);
}

START_TEST(http_a_long_exec_delays_neither_healthz_nor_other_execs)
{
    exec_arg_t a = {.body = "{\"cmd\": [\"sleep\", \"2\"]}"};
    pthread_t  t;
    long long  t0, ms;
    ht_res_t   r;

    ht_start(NULL);
    ck_assert_int_eq(
        ht_req(NULL, "PUT", "/v1/sandboxes/long", NULL, NULL, 0, NULL, &r),
        200);
    ht_res_free(&r);
    ck_assert_int_eq(
        ht_req(NULL, "PUT", "/v1/sandboxes/other", NULL, NULL, 0, NULL, &r),
        200);
    ht_res_free(&r);
    wait_in_flight(0);
    ck_assert_int_eq(pthread_create(&t, NULL, exec_thread, &a), 0);
    wait_in_flight(1);
    t0 = ht_ms();
    assert_healthz(NULL);
    ck_assert_int_eq(ht_req(NULL, "POST", "/v1/sandboxes/other/exec",
                            "application/json",
                            "{\"cmd\": [\"echo\", \"quick\"]}", 26, NULL, &r),
                     200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"stdout\":\"quick\\n\""));
    ht_res_free(&r);
    ms = ht_ms() - t0;
    printf("healthz and an exec beside a 2 s exec: %lld ms\n", ms);
    ck_assert_int_lt(ms, 1000);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(a.r.status, 200);
    ck_assert_ptr_nonnull(strstr(a.r.body, "\"exitCode\":0"));
    ht_res_free(&a.r);
    wait_in_flight(0);
}
END_TEST

/* ---- limits, quiesce, stop ---- */

START_TEST(http_answers_503_beyond_the_connection_limit)
{
    ht_opts_t o = {.max_connections = 4};
    int       fds[4];
    ht_res_t  r;
    long long t0;

    ht_start(&o);
    for (int i = 0; i < 4; i++) {
        char *got;
        fds[i] = ht_connect();
        /* A reply proves the server has taken the connection. */
        got =
            ht_raw(fds[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 35, 300);
        ck_assert_msg(strncmp(got, "HTTP/1.1 200 ", 13) == 0, "%s", got);
        free(got);
    }
    ht_req(NULL, "GET", "/healthz", NULL, NULL, 0, NULL, &r);
    assert_error(&r, 503, "too many connections", 14);
    ck_assert_str_eq(r.connection, "close");
    ht_res_free(&r);
    close(fds[0]);
    /* Room again once one is gone. */
    t0 = ht_ms();
    for (;;) {
        long status = ht_req(NULL, "GET", "/healthz", NULL, NULL, 0, NULL, &r);
        ht_res_free(&r);
        if (status == 200 || ht_ms() - t0 > 3000) {
            ck_assert_int_eq(status, 200);
            break;
        }
        usleep(20000);
    }
    for (int i = 1; i < 4; i++)
        close(fds[i]);
}
END_TEST

START_TEST(http_quiesce_answers_open_connections_503_and_refuses_new_ones)
{
    CURL     *c = curl_easy_init();
    ht_res_t  r;
    long      conns = -1;
    long long t0;

    ht_start(NULL);
    assert_healthz(c);
    nox_server_quiesce(ht_srv);
    ht_req(c, "GET", "/v1/sandboxes", NULL, NULL, 0, NULL, &r);
    assert_error(&r, 503, "the server is shutting down", 14);
    ht_res_free(&r);
    ck_assert_int_eq(curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns),
                     CURLE_OK);
    ck_assert_int_eq(conns, 0); /* on the connection that was open */
    curl_easy_cleanup(c);
    t0 = ht_ms();
    ck_assert_int_eq(ht_req(NULL, "GET", "/healthz", NULL, NULL, 0, NULL, &r),
                     0);
    ck_assert_int_eq(r.rc, CURLE_COULDNT_CONNECT);
    ck_assert_int_lt(ht_ms() - t0, PROMPT_MS);
    ht_res_free(&r);
}
END_TEST

START_TEST(http_stop_lets_an_exec_in_flight_finish_and_reply)
{
    exec_arg_t a = {.body = "{\"cmd\": [\"sh\", \"-c\", \"sleep 1; echo "
                            "done\"]}"};
    pthread_t  t;
    ht_res_t   r;

    ht_start(NULL);
    ck_assert_int_eq(
        ht_req(NULL, "PUT", "/v1/sandboxes/long", NULL, NULL, 0, NULL, &r),
        200);
    ht_res_free(&r);
    wait_in_flight(0);
    ck_assert_int_eq(pthread_create(&t, NULL, exec_thread, &a), 0);
    wait_in_flight(1);
    nox_server_stop(ht_srv); /* waits for the call, within its grace */
    ht_srv = NULL;
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_msg(a.r.status == 200, "status %ld, curl %d", a.r.status,
                  (int)a.r.rc);
    ck_assert_ptr_nonnull(strstr(a.r.body, "\"stdout\":\"done\\n\""));
    ht_res_free(&a.r);
}
END_TEST

/* ---- TLS ---- */

START_TEST(http_serves_https_with_the_given_certificate)
{
    ht_opts_t   o = {.https = true};
    const char *cert;
    char        url[256];
    ht_res_t    r;

    ht_start(&o);
    cert = strrchr(ht_tls_url, ':');
    ck_assert_ptr_nonnull(cert);
    ck_assert_int_eq(strncmp(ht_tls_url, "https://127.0.0.1:", 18), 0);
    (void)snprintf(url, sizeof(url), "%s/healthz", ht_tls_url);
    {
        char ca[512];
        (void)snprintf(ca, sizeof(ca), "%s/cert.pem", ht_dir);
        ck_assert_int_eq(
            ht_req_url(NULL, "GET", url, ca, NULL, NULL, 0, NULL, &r), 200);
        ck_assert_str_eq(r.body, "OK");
        ht_res_free(&r);
        (void)snprintf(url, sizeof(url), "%s/v1/sandboxes/tls", ht_tls_url);
        ck_assert_int_eq(
            ht_req_url(NULL, "PUT", url, ca, NULL, NULL, 0, NULL, &r), 200);
        ck_assert_ptr_nonnull(strstr(r.body, "\"podName\":\"local-tls\""));
        ht_res_free(&r);
    }
    /* Without the CA the certificate cannot be verified. */
    ck_assert_int_eq(
        ht_req_url(NULL, "GET", url, NULL, NULL, NULL, 0, NULL, &r), 0);
    ck_assert_int_eq(r.rc, CURLE_PEER_FAILED_VERIFICATION);
    ht_res_free(&r);
    /* Plain http on the https port is no way around it. */
    (void)snprintf(url, sizeof(url), "http://127.0.0.1%s/healthz", cert);
    ht_req_url(NULL, "GET", url, NULL, NULL, NULL, 0, NULL, &r);
    ck_assert_int_ne(r.status, 200);
    ht_res_free(&r);
}
END_TEST

/* ---- start-up checks ---- */

/* Start a server on http address addr (engine from the fixture); the
 * result, with what it wrote to stderr in err (static). */
static nox_err_t
try_start(const char *addr, const char *token, bool insecure, bool https,
          nox_status_t *st, char *err, size_t err_len)
{
    const char       *addrs[] = {addr};
    nox_server_opts_t so = {.engine = ht_eng,
                            .token = token,
                            .insecure_no_auth = insecure,
                            .reap_interval_ms = -1,
                            .workers = 1};
    nox_server_t     *s = NULL;
    char              path[512];
    int               fd, saved;
    nox_err_t         rv;
    ssize_t           n;

    if (https) {
        so.https_addrs = addrs;
        so.n_https = 1;
    } else {
        so.http_addrs = addrs;
        so.n_http = 1;
    }
    (void)snprintf(path, sizeof(path), "%s/stderr", ht_dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(fd, 2), 2);
    rv = nox_server_start(&s, &so, st);
    fflush(stderr);
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    n = pread(fd, err, err_len - 1, 0);
    ck_assert_int_ge(n, 0);
    err[n] = '\0';
    close(fd);
    if (rv == NOX_OK) {
        char url[128];
        ck_assert_int_eq(nox__server_http_url(s, 0, url, sizeof(url)), NOX_OK);
        ck_assert_str_ne(url, "http://0.0.0.0:0");
        nox_server_stop(s);
    } else {
        ck_assert_ptr_null(s);
    }
    return rv;
}

START_TEST(http_start_refuses_an_open_address_without_a_token)
{
    nox_status_t st;
    char         err[2048];

    ht_start(NULL);
    ck_assert_int_eq(
        try_start("0.0.0.0:0", NULL, false, false, &st, err, sizeof(err)),
        NOX_EINVAL);
    ck_assert_str_eq(st.msg, "http address 0.0.0.0:0 is reachable from other "
                             "machines and no token is set: give "
                             "--token-file (or --insecure-no-auth to serve "
                             "it without authentication)");
    ck_assert_int_eq(try_start(":0", NULL, false, false, &st, err, sizeof(err)),
                     NOX_EINVAL);
    /* Told to: it starts, and says so loudly. */
    ck_assert_int_eq(
        try_start("0.0.0.0:0", NULL, true, false, &st, err, sizeof(err)),
        NOX_OK);
    ck_assert_msg(strstr(err, "noxrunnerd: WARNING: 0.0.0.0:0 is served "
                              "WITHOUT authentication") != NULL,
                  "stderr: %s", err);
    /* With a token: no warning needed. */
    ck_assert_int_eq(
        try_start("0.0.0.0:0", TOKEN, false, false, &st, err, sizeof(err)),
        NOX_OK);
    ck_assert_str_eq(err, "");
    /* Loopback needs neither. */
    ck_assert_int_eq(
        try_start("localhost:0", NULL, false, false, &st, err, sizeof(err)),
        NOX_OK);
}
END_TEST

START_TEST(http_start_refuses_bad_addresses_and_https_without_a_certificate)
{
    nox_status_t st;
    char         err[2048];
    char         taken[128];

    ht_start(NULL);
    ck_assert_int_eq(
        try_start("127.0.0.1:0", NULL, false, true, &st, err, sizeof(err)),
        NOX_EINVAL);
    ck_assert_str_eq(st.msg, "https needs a certificate and its key "
                             "(--tls-cert and --tls-key)");
    ck_assert_int_eq(
        try_start("127.0.0.1", NULL, false, false, &st, err, sizeof(err)),
        NOX_EINVAL);
    ck_assert_str_eq(st.msg, "bad http address '127.0.0.1' (want HOST:PORT, "
                             "[IPV6]:PORT)");
    ck_assert_int_eq(
        try_start("127.0.0.1:99999", NULL, false, false, &st, err, sizeof(err)),
        NOX_EINVAL);
    /* The fixture's port is taken. */
    (void)snprintf(taken, sizeof(taken), "%s", ht_url + strlen("http://"));
    ck_assert_int_eq(
        try_start(taken, NULL, false, false, &st, err, sizeof(err)),
        NOX_EUNAVAIL);
    ck_assert_msg(strstr(st.msg, "cannot listen on http address") != NULL, "%s",
                  st.msg);
    ck_assert_msg(strstr(st.msg, "Address already in use") != NULL, "%s",
                  st.msg);
}
END_TEST

START_TEST(http_serves_ipv6_loopback_in_brackets)
{
    const char       *addrs[] = {"[::1]:0"};
    nox_server_opts_t so = {
        .http_addrs = addrs, .n_http = 1, .reap_interval_ms = -1, .workers = 1};
    nox_server_t *s = NULL;
    nox_status_t  st;
    char          url[128], path[160];
    ht_res_t      r;

    ht_start(NULL);
    so.engine = ht_eng;
    if (nox_server_start(&s, &so, &st) != NOX_OK) {
        printf("no IPv6 loopback here (%s): skipped\n", st.msg);
        return;
    }
    ck_assert_int_eq(nox__server_http_url(s, 0, url, sizeof(url)), NOX_OK);
    ck_assert_int_eq(strncmp(url, "http://[::1]:", 13), 0);
    (void)snprintf(path, sizeof(path), "%s/healthz", url);
    ck_assert_int_eq(
        ht_req_url(NULL, "GET", path, NULL, NULL, NULL, 0, NULL, &r), 200);
    ht_res_free(&r);
    nox_server_stop(s);
}
END_TEST

/* ---- noxrunnerd ---- */

/* Read the daemon's stderr until a line holding want or ms pass; the
 * text so far in buf. */
static bool
read_until(int fd, char *buf, size_t cap, const char *want, int ms)
{
    size_t    got = strlen(buf);
    long long end = ht_ms() + ms;

    while (strstr(buf, want) == NULL) {
        struct pollfd p = {fd, POLLIN, 0};
        long long     left = end - ht_ms();
        ssize_t       n;
        if (left <= 0 || got + 1 >= cap || poll(&p, 1, (int)left) <= 0)
            return false;
        n = read(fd, buf + got, cap - got - 1);
        if (n <= 0)
            return false;
        got += (size_t)n;
        buf[got] = '\0';
    }
    return true;
}

START_TEST(noxrunnerd_serves_http_alone_and_announces_the_real_port)
{
    const char *bdir = getenv("NOX_BUILD_DIR");
    char        bin[1024], out[8192] = "", url[128], *p, *nl;
    char       *base = tu_mkdtemp();
    char *argv[] = {bin, "--http", "127.0.0.1:0", "--base-dir", base, NULL};
    posix_spawn_file_actions_t fa;
    int                        pipefd[2], status;
    pid_t                      pid;
    ht_res_t                   r;

    ck_assert_ptr_nonnull(bdir);
    (void)snprintf(bin, sizeof(bin), "%s/noxrunnerd", bdir);
    ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
    ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
    ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2), 0);
    ck_assert_int_eq(posix_spawn(&pid, bin, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    ck_assert_msg(read_until(pipefd[0], out, sizeof(out),
                             "listening on http://127.0.0.1:", 5000) &&
                      read_until(pipefd[0], out, sizeof(out), "\n", 1000),
                  "stderr: %s", out);
    p = strstr(out, "noxrunnerd: listening on http://127.0.0.1:");
    nl = strchr(p, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    (void)snprintf(url, sizeof(url), "%s/healthz",
                   p + strlen("noxrunnerd: listening on "));
    ck_assert_int_ne(strcmp(url, "http://127.0.0.1:0/healthz"), 0);
    /* Only the http address: no default ipc:// URL besides it. */
    ck_assert_ptr_null(strstr(out, "ipc://"));
    ck_assert_int_eq(
        ht_req_url(NULL, "GET", url, NULL, NULL, NULL, 0, NULL, &r), 200);
    ht_res_free(&r);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(pipefd[0]);
    tu_rmtree_free(base);
}
END_TEST

static Suite *
http_conn_suite(void)
{
    Suite *s = suite_create("http_conn");
    TCase *tc = tcase_create("connections");
    TCase *st = tcase_create("start");

    /* Each test starts the server it needs (ht_start). */
    tcase_add_checked_fixture(tc, conn_setup, ht_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, http_every_request_but_healthz_needs_the_bearer_token);
    tcase_add_test(tc, http_serves_many_requests_on_one_kept_alive_connection);
    tcase_add_test(tc, http_stalled_clients_do_not_delay_healthz);
    tcase_add_test(tc, http_answers_garbage_400_and_keeps_serving);
    tcase_add_test(tc,
                   http_answers_413_to_a_body_announced_or_sent_over_the_limit);
    tcase_add_test(tc, http_a_long_exec_delays_neither_healthz_nor_other_execs);
    tcase_add_test(tc, http_answers_503_beyond_the_connection_limit);
    tcase_add_test(
        tc, http_quiesce_answers_open_connections_503_and_refuses_new_ones);
    tcase_add_test(tc, http_stop_lets_an_exec_in_flight_finish_and_reply);
    tcase_add_test(tc, http_serves_https_with_the_given_certificate);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(st, conn_setup, ht_teardown);
    tcase_set_timeout(st, 60);
    tcase_add_test(st, http_start_refuses_an_open_address_without_a_token);
    tcase_add_test(
        st, http_start_refuses_bad_addresses_and_https_without_a_certificate);
    tcase_add_test(st, http_serves_ipv6_loopback_in_brackets);
    tcase_add_test(st,
                   noxrunnerd_serves_http_alone_and_announces_the_real_port);
    suite_add_tcase(s, st);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(http_conn_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
