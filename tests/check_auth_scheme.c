/* check_auth_scheme.c - addresses are judged the way NNG reads them
 * (schemes and hosts in any case, every tcp and ws family), the client
 * keeps its token off local sockets, an empty token is refused, and
 * network connections are capped. */
#include "auth.h"
#include "nox/client.h"
#include "nox/server.h"
#include "server_impl.h"
#include "authtest.h"
#include "testutil.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN "s3cret-Token_42"

static unsigned
mode_of(const char *path)
{
    struct stat sb;

    ck_assert_msg(lstat(path, &sb) == 0, "%s: %s", path, strerror(errno));
    ck_assert(S_ISSOCK(sb.st_mode));
    return (unsigned)(sb.st_mode & 07777);
}

/* ---- schemes as NNG reads them ---- */

START_TEST(scheme_url_info_follows_nng)
{
    nox__url_info_t i;

    ck_assert_int_eq(nox__url_info("TCP://0.0.0.0:1", &i), NOX_OK);
    ck_assert(i.kind == NOX_URL_NETWORK && !i.tls);
    ck_assert_str_eq(i.host, "0.0.0.0");
    ck_assert_int_eq(nox__url_info("TLS+TCP://[::1]:1", &i), NOX_OK);
    ck_assert(i.kind == NOX_URL_NETWORK && i.tls);
    ck_assert_str_eq(i.host, "::1");
    ck_assert_int_eq(nox__url_info("Wss6://[::]:1/p", &i), NOX_OK);
    ck_assert(i.kind == NOX_URL_NETWORK && i.tls);
    ck_assert_int_eq(nox__url_info("ws4://LocalHost:1/p", &i), NOX_OK);
    ck_assert(i.kind == NOX_URL_NETWORK && !i.tls);
    ck_assert_str_eq(i.host, "localhost");
    ck_assert_int_eq(nox__url_info("zt://x", &i), NOX_OK);
    ck_assert(i.kind == NOX_URL_NETWORK);
    ck_assert_int_eq(nox__url_info("0.0.0.0:8080", &i), NOX_OK);
    ck_assert(i.kind == NOX_URL_NETWORK);
    ck_assert_str_eq(i.host, "0.0.0.0");
    ck_assert_int_eq(nox__url_info("IPC:///tmp/A", &i), NOX_OK);
    ck_assert(i.kind == NOX_URL_IPC);
    ck_assert_str_eq(i.path, "/tmp/A");
    ck_assert_int_eq(nox__url_info("unix:///tmp/b", &i), NOX_OK);
    ck_assert(i.kind == NOX_URL_IPC);
    ck_assert_str_eq(i.path, "/tmp/b");
    ck_assert_int_eq(nox__url_info("Abstract://x", &i), NOX_OK);
    ck_assert(i.kind == NOX_URL_ABSTRACT);
    ck_assert_int_eq(nox__url_info("INPROC://x", &i), NOX_OK);
    ck_assert(i.kind == NOX_URL_INPROC);
    /* Unreadable: network, host "" (never loopback). */
    ck_assert_int_eq(nox__url_info("tcp://[::1:80", &i), NOX_EINVAL);
    ck_assert(i.kind == NOX_URL_NETWORK);
    ck_assert_str_eq(i.host, "");
    ck_assert(nox__url_is_network("TCP://x:1"));
    ck_assert(!nox__url_is_network("IPC:///x"));
}
END_TEST

static const char *const open_urls[] = {
    "TCP://0.0.0.0:0",          "Tcp6://[::]:0",     "tcp4://0.0.0.0:0",
    "WS://0.0.0.0:0/x",         "ws4://0.0.0.0:0/x", "ws6://[::]:0/x",
    "wss4://0.0.0.0:0/x",       "Wss6://[::]:0/x",   "TLS+TCP://0.0.0.0:0",
    "tcp://LOCALHOST.example:0"};

START_TEST(scheme_in_any_case_or_family_without_a_token_is_refused)
{
    for (size_t i = 0; i < sizeof(open_urls) / sizeof(open_urls[0]); i++) {
        const char       *urls[] = {open_urls[i]};
        nox_server_opts_t o = {.urls = urls, .n_urls = 1};
        nox_status_t      st;
        char              want[512];

        ck_assert_int_eq(at_start(&o, &st), NOX_EINVAL);
        ck_assert_ptr_null(at_srv);
        (void)snprintf(want, sizeof(want),
                       "refusing to serve %s without a token: anyone who "
                       "reaches it could run commands here (use "
                       "--token-file, or --insecure-no-auth)",
                       open_urls[i]);
        ck_assert_str_eq(st.msg, want);
    }
}
END_TEST

START_TEST(scheme_loopback_in_capitals_needs_no_token)
{
    const char       *urls[] = {"TCP://LOCALHOST:0", "Ws4://127.0.0.1:0/x"};
    nox_server_opts_t o = {.urls = urls, .n_urls = 2};
    nox_status_t      st;

    ck_assert_msg(at_start(&o, &st) == NOX_OK, "%s", st.msg);
}
END_TEST

START_TEST(scheme_tls_in_capitals_without_a_certificate_is_refused)
{
    const char       *urls[] = {"TLS+TCP://127.0.0.1:0"};
    nox_server_opts_t o = {.urls = urls, .n_urls = 1, .tls_key = "/x/key.pem"};
    nox_status_t      st;

    ck_assert_int_eq(at_start(&o, &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg,
                     "TLS+TCP://127.0.0.1:0 needs a certificate and its key "
                     "(tls_cert and tls_key; noxrunnerd --tls-cert FILE "
                     "--tls-key FILE)");
    ck_assert_ptr_null(at_srv);
}
END_TEST

/* Serve scheme://at_sock_path and check that the socket file is 0600 and
 * that the listener watch rebinds it when it is deleted. */
static void
check_ipc_socket(const char *scheme)
{
    char              url[PATH_MAX + 16];
    const char       *urls[] = {url};
    nox_server_opts_t o = {.urls = urls, .n_urls = 1};
    nox_status_t      st;

    (void)snprintf(url, sizeof(url), "%s%s", scheme, at_sock_path);
    ck_assert_msg(at_start(&o, &st) == NOX_OK, "%s", st.msg);
    ck_assert_uint_eq(mode_of(at_sock_path), 0600);
    ck_assert(nox__listener_is_ipc(&at_srv->listeners[0]));
#if NOX_NNG_IPC_LISTENER_BUG
    {
        int64_t end = nox__mono_ms() + 10000;

        ck_assert_int_eq(unlink(at_sock_path), 0);
        while (access(at_sock_path, F_OK) != 0 && nox__mono_ms() < end)
            usleep(20000);
        ck_assert_uint_eq(mode_of(at_sock_path), 0600);
    }
#endif
}

START_TEST(scheme_ipc_in_capitals_is_mode_0600_and_watched)
{
    check_ipc_socket("IPC://");
}
END_TEST

START_TEST(scheme_unix_is_mode_0600_and_watched)
{
    check_ipc_socket("unix://");
}
END_TEST

/* ---- the client's token stays off local sockets ---- */

typedef struct {
    const char *url;
    const char *token;
} call_arg_t;

/* A Health call that the raw server below never answers properly. */
static void *
call_health(void *arg)
{
    const call_arg_t *a = arg;
    nox_client_opts_t opts = {.timeout_ms = 3000, .token = a->token};
    nox_client_t     *c;
    nox_health_t      h;

    memset(&h, 0, sizeof(h));
    if (nox_client_open(&c, a->url, &opts) == NOX_OK) {
        (void)nox_client_health(c, &h); /* the answer is garbage */
        nox_health_free(&h);
        nox_client_close(c);
    }
    return NULL;
}

/* Listen on url with a bare rep0 socket, let a client with TOKEN call
 * Health, and return the token its envelope carried (malloc'd). */
static char *
token_received(const char *url)
{
    nng_socket                 rep;
    nng_listener               l;
    nng_msg                   *msg;
    pthread_t                  th;
    char                       dial[PATH_MAX + 64];
    call_arg_t                 a = {dial, TOKEN};
    Noxrunner__V1__RpcRequest *env;
    char                      *tok;
    int                        port;

    ck_assert_int_eq(nng_rep0_open(&rep), 0);
    ck_assert_int_eq(nng_socket_set_ms(rep, NNG_OPT_RECVTIMEO, 10000), 0);
    ck_assert_int_eq(nng_listener_create(&l, rep, url), 0);
    ck_assert_int_eq(nng_listener_start(l, 0), 0);
    if (strncmp(url, "tcp://", 6) == 0) {
        ck_assert_int_eq(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port),
                         0);
        (void)snprintf(dial, sizeof(dial), "tcp://127.0.0.1:%d", port);
    } else {
        (void)snprintf(dial, sizeof(dial), "%s", url);
    }
    ck_assert_int_eq(pthread_create(&th, NULL, call_health, &a), 0);
    ck_assert_int_eq(nng_recvmsg(rep, &msg, 0), 0);
    env = noxrunner__v1__rpc_request__unpack(NULL, nng_msg_len(msg),
                                             nng_msg_body(msg));
    ck_assert_ptr_nonnull(env);
    tok = strdup(env->token);
    ck_assert_ptr_nonnull(tok);
    noxrunner__v1__rpc_request__free_unpacked(env, NULL);
    nng_msg_clear(msg);
    ck_assert_int_eq(nng_sendmsg(rep, msg, 0), 0); /* not an RpcResponse */
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(nng_close(rep), 0);
    return tok;
}

START_TEST(client_sends_no_token_over_ipc_or_abstract)
{
    char  url[PATH_MAX + 16];
    char *tok;

    (void)snprintf(url, sizeof(url), "ipc://%s", at_sock_path);
    tok = token_received(url);
    ck_assert_str_eq(tok, "");
    free(tok);
    (void)snprintf(url, sizeof(url), "IPC://%s", at_sock_path);
    tok = token_received(url);
    ck_assert_str_eq(tok, "");
    free(tok);
    (void)snprintf(url, sizeof(url), "abstract://nox-scheme-%ld",
                   (long)getpid());
    tok = token_received(url);
    ck_assert_str_eq(tok, "");
    free(tok);
}
END_TEST

START_TEST(client_sends_its_token_over_tcp)
{
    char *tok = token_received("tcp://127.0.0.1:0");

    ck_assert_str_eq(tok, TOKEN);
    free(tok);
}
END_TEST

/* ---- an empty token ---- */

START_TEST(empty_token_is_refused_for_nng_and_http)
{
    const char       *urls[] = {"tcp://0.0.0.0:0"};
    const char       *http[] = {"0.0.0.0:0"};
    nox_server_opts_t o = {.urls = urls, .n_urls = 1, .token = ""};
    nox_status_t      st;

    ck_assert_int_eq(at_start(&o, &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg, "token is empty");
    ck_assert_ptr_null(at_srv);
    memset(&o, 0, sizeof(o));
    o.http_addrs = http;
    o.n_http = 1;
    o.token = "";
    ck_assert_int_eq(at_start(&o, &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg, "token is empty");
    ck_assert_ptr_null(at_srv);
}
END_TEST

/* ---- the cap on network connections ---- */

#define CAP_NOFILE 160 /* so the cap is 40 */
#define CAP_CLIENTS 50

static atomic_int cap_added, cap_live;

static void
cap_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    (void)arg;
    if (ev == NNG_PIPE_EV_ADD_POST) {
        atomic_fetch_add(&cap_added, 1);
        atomic_fetch_add(&cap_live, 1);
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        atomic_fetch_sub(&cap_live, 1);
    }
}

/* Open n req sockets dialing url (no quick redial: a connection the
 * server closes stays closed for the test's length). */
static void
cap_dial(nng_socket *v, int n, const char *url)
{
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(nng_req0_open(&v[i]), 0);
        ck_assert_int_eq(nng_socket_set_ms(v[i], NNG_OPT_RECONNMINT, 600000),
                         0);
        ck_assert_int_eq(nng_socket_set_ms(v[i], NNG_OPT_RECONNMAXT, 600000),
                         0);
        ck_assert_int_eq(
            nng_pipe_notify(v[i], NNG_PIPE_EV_ADD_POST, cap_pipe_cb, NULL), 0);
        ck_assert_int_eq(
            nng_pipe_notify(v[i], NNG_PIPE_EV_REM_POST, cap_pipe_cb, NULL), 0);
        ck_assert_int_eq(nng_dial(v[i], url, NULL, NNG_FLAG_NONBLOCK), 0);
    }
}

/* Wait (up to 10 s) until every one of want connections came up, then
 * (up to 3 s) until at most live are open; returns the count open. */
static int
cap_settle(int want, int live)
{
    int64_t end = nox__mono_ms() + 10000;

    while (atomic_load(&cap_added) < want && nox__mono_ms() < end)
        usleep(10000);
    ck_assert_int_ge(atomic_load(&cap_added), want);
    end = nox__mono_ms() + 3000;
    while (atomic_load(&cap_live) > live && nox__mono_ms() < end)
        usleep(10000);
    usleep(100000); /* any closing under way shows */
    return atomic_load(&cap_live);
}

START_TEST(network_connections_are_capped_ipc_ones_are_not)
{
    struct rlimit     rl;
    char              ipc[PATH_MAX + 8], tcp[64];
    const char       *urls[] = {"tcp://127.0.0.1:0", ipc};
    nox_server_opts_t o = {.urls = urls, .n_urls = 2};
    nox_status_t      st;
    nng_socket        v[CAP_CLIENTS];
    nox_client_opts_t co = {.timeout_ms = 5000};
    nox_client_t     *c;
    nox_health_t      h;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_uint_ge(rl.rlim_max, CAP_NOFILE);
    rl.rlim_cur = CAP_NOFILE; /* this test's process only (CK_FORK) */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    (void)snprintf(ipc, sizeof(ipc), "ipc://%s", at_sock_path);
    ck_assert_msg(at_start(&o, &st) == NOX_OK, "%s", st.msg);
    ck_assert_int_eq(nox__server_url(at_srv, 0, tcp, sizeof(tcp)), NOX_OK);

    cap_dial(v, CAP_CLIENTS, tcp);
    ck_assert_int_eq(cap_settle(CAP_CLIENTS, CAP_NOFILE / 4), CAP_NOFILE / 4);
    /* The owner still gets in over ipc. */
    ck_assert_int_eq(nox_client_open(&c, ipc, &co), NOX_OK);
    memset(&h, 0, sizeof(h));
    ck_assert_int_eq(nox_client_health(c, &h), NOX_OK);
    nox_health_free(&h);
    nox_client_close(c);
    /* Connections that close give their places back. */
    for (int i = 0; i < CAP_CLIENTS; i++)
        ck_assert_int_eq(nng_close(v[i]), 0);
    ck_assert_int_eq(atomic_load(&cap_live), 0);
    atomic_store(&cap_added, 0);
    usleep(200000); /* the server sees them go */
    cap_dial(v, CAP_NOFILE / 4, tcp);
    ck_assert_int_eq(cap_settle(CAP_NOFILE / 4, CAP_NOFILE / 4),
                     CAP_NOFILE / 4);
    for (int i = 0; i < CAP_NOFILE / 4; i++)
        ck_assert_int_eq(nng_close(v[i]), 0);
}
END_TEST

static Suite *
auth_scheme_suite(void)
{
    Suite *s = suite_create("auth_scheme");
    TCase *tc;

    tc = tcase_create("scheme");
    tcase_add_checked_fixture(tc, at_setup, at_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, scheme_url_info_follows_nng);
    tcase_add_test(tc, scheme_in_any_case_or_family_without_a_token_is_refused);
    tcase_add_test(tc, scheme_loopback_in_capitals_needs_no_token);
    tcase_add_test(tc, scheme_tls_in_capitals_without_a_certificate_is_refused);
    tcase_add_test(tc, scheme_ipc_in_capitals_is_mode_0600_and_watched);
    tcase_add_test(tc, scheme_unix_is_mode_0600_and_watched);
    suite_add_tcase(s, tc);

    tc = tcase_create("client token");
    tcase_add_checked_fixture(tc, at_setup, at_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, client_sends_no_token_over_ipc_or_abstract);
    tcase_add_test(tc, client_sends_its_token_over_tcp);
    suite_add_tcase(s, tc);

    tc = tcase_create("empty token");
    tcase_add_checked_fixture(tc, at_setup, at_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, empty_token_is_refused_for_nng_and_http);
    suite_add_tcase(s, tc);

    tc = tcase_create("connections");
    tcase_add_checked_fixture(tc, at_setup, at_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, network_connections_are_capped_ipc_ones_are_not);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(auth_scheme_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
