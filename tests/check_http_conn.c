/* check_http_conn.c - the REST gateway's connections: bearer token,
 * keep-alive, stalled and garbage clients, the connection limit, long
 * calls beside short ones, quiesce and stop, TLS. The checks at start
 * are in check_http_start.c. */
#include "httptest.h"
#include "testutil.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
    ck_assert_int_eq(ht_req(NULL, "HEAD", "/healthz", NULL, NULL, 0, NULL, &r),
                     200);
    ht_res_free(&r);
    ht_req(NULL, "HEAD", "/v1/sandboxes", NULL, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.status, 401);
    ht_res_free(&r);
    ck_assert_int_eq(
        ht_req(NULL, "HEAD", "/v1/sandboxes", NULL, NULL, 0, TOKEN, &r), 200);
    ht_res_free(&r);
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
    /* A request line without a space (no method, path, version to tell
     * apart): libmicrohttpd closes the connection without any reply,
     * before the gateway sees a request. What it does, not a choice of
     * ours; the README says so. */
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

/* A chunked body that passes the limit: check_http_abuse.c. */
START_TEST(http_answers_413_to_a_body_announced_over_the_limit)
{
    int   fd;
    char *got;

    ht_start(NULL);
    /* An announced length over the limit is answered before any body. */
    fd = ht_connect();
    got = ht_raw(fd,
                 "POST /v1/sandboxes/c1/files/upload HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 1073741824\r\n\r\n",
                 84, 2000);
    ck_assert_msg(strncmp(got, "HTTP/1.1 413 ", 13) == 0, "got: %.60s", got);
    ck_assert_ptr_nonnull(strstr(got, "\"code\":8"));
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

typedef struct {
    const char *path;
    ht_res_t    r;
} post_arg_t;

static void *
post_thread(void *arg)
{
    post_arg_t *a = arg;

    ht_req(NULL, "POST", a->path, NULL, NULL, 0, NULL, &a->r);
    return NULL;
}

/* A call that waits (here a touch, for the sandbox's lock, which a
 * command holds for 2 s) waits on a worker: the polling thread, and so
 * /healthz and the other calls, go on. */
START_TEST(http_a_call_waiting_on_a_worker_delays_no_other_request)
{
    exec_arg_t a = {.body = "{\"cmd\": [\"flock\", \"..\", \"sleep\", "
                            "\"2\"]}"};
    post_arg_t b = {.path = "/v1/sandboxes/long/touch"};
    pthread_t  ta, tb;
    long long  t0, ms;
    ht_res_t   r;

    ht_start(NULL);
    ck_assert_int_eq(
        ht_req(NULL, "PUT", "/v1/sandboxes/long", NULL, NULL, 0, NULL, &r),
        200);
    ht_res_free(&r);
    wait_in_flight(0);
    ck_assert_int_eq(pthread_create(&ta, NULL, exec_thread, &a), 0);
    wait_in_flight(1);
    usleep(200 * 1000); /* flock has the lock */
    ck_assert_int_eq(pthread_create(&tb, NULL, post_thread, &b), 0);
    wait_in_flight(2);
    usleep(100 * 1000); /* the touch waits for the lock */
    t0 = ht_ms();
    assert_healthz(NULL);
    ck_assert_int_eq(
        ht_req(NULL, "PUT", "/v1/sandboxes/other", NULL, NULL, 0, NULL, &r),
        200);
    ht_res_free(&r);
    ms = ht_ms() - t0;
    printf("healthz and a create beside a touch waiting 2 s: %lld ms\n", ms);
    ck_assert_int_lt(ms, 1000);
    ck_assert_int_eq(pthread_join(tb, NULL), 0);
    ck_assert_int_eq(b.r.status, 200);
    ht_res_free(&b.r);
    ck_assert_int_eq(pthread_join(ta, NULL), 0);
    ck_assert_int_eq(a.r.status, 200);
    ht_res_free(&a.r);
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

static Suite *
http_conn_suite(void)
{
    Suite *s = suite_create("http_conn");
    TCase *tc = tcase_create("connections");

    /* Each test starts the server it needs (ht_start). */
    tcase_add_checked_fixture(tc, conn_setup, ht_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, http_every_request_but_healthz_needs_the_bearer_token);
    tcase_add_test(tc, http_serves_many_requests_on_one_kept_alive_connection);
    tcase_add_test(tc, http_stalled_clients_do_not_delay_healthz);
    tcase_add_test(tc, http_answers_garbage_400_and_keeps_serving);
    tcase_add_test(tc, http_answers_413_to_a_body_announced_over_the_limit);
    tcase_add_test(tc, http_a_long_exec_delays_neither_healthz_nor_other_execs);
    tcase_add_test(tc, http_a_call_waiting_on_a_worker_delays_no_other_request);
    tcase_add_test(tc, http_answers_503_beyond_the_connection_limit);
    tcase_add_test(
        tc, http_quiesce_answers_open_connections_503_and_refuses_new_ones);
    tcase_add_test(tc, http_stop_lets_an_exec_in_flight_finish_and_reply);
    tcase_add_test(tc, http_serves_https_with_the_given_certificate);
    suite_add_tcase(s, tc);

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
