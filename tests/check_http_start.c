/* check_http_start.c - the REST gateway's checks at start (addresses
 * others can reach need a token or --insecure-no-auth, https needs a
 * certificate libmicrohttpd accepts, bad and taken addresses), IPv6, and
 * noxrunnerd serving http alone and announcing its real port. */
#include "httptest.h"
#include "server_priv.h"
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define TOKEN "s3cret-token_0123"

static void
start_setup(void)
{
    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
}

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
    ck_assert_str_eq(st.msg, "refusing to serve http://0.0.0.0:0 without a "
                             "token: anyone who reaches it could run "
                             "commands here (use --token-file, or "
                             "--insecure-no-auth)");
    ck_assert_int_eq(try_start(":0", NULL, false, false, &st, err, sizeof(err)),
                     NOX_EINVAL);
    /* Told to: it starts, and says so loudly. */
    ck_assert_int_eq(
        try_start("0.0.0.0:0", NULL, true, false, &st, err, sizeof(err)),
        NOX_OK);
    ck_assert_msg(strstr(err, "WARNING: noxrunnerd serves http://0.0.0.0:0 "
                              "without a token (--insecure-no-auth)") != NULL,
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

/* Open file descriptors of this process. */
static int
count_fds(void)
{
    DIR           *d = opendir("/proc/self/fd");
    struct dirent *e;
    int            n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

START_TEST(http_start_refuses_a_bad_certificate_and_leaks_nothing)
{
    const char       *addrs[] = {"127.0.0.1:0"};
    nox_server_opts_t so = {.https_addrs = addrs,
                            .n_https = 1,
                            .reap_interval_ms = -1,
                            .workers = 1};
    nox_server_t     *s = NULL;
    nox_status_t      st;
    char              cert[512];
    int               before;

    ht_start(NULL);
    tu_write_file(ht_dir, "bad.pem", "not a certificate\n", 18);
    (void)snprintf(cert, sizeof(cert), "%s/bad.pem", ht_dir);
    so.engine = ht_eng;
    so.tls_cert = cert;
    so.tls_key = cert;
    before = count_fds();
    ck_assert_int_eq(nox_server_start(&s, &so, &st), NOX_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(st.msg, "refused the certificate or key") != NULL,
                  "%s", st.msg);
    ck_assert_int_eq(count_fds(), before);
    /* A file that is not there. */
    (void)snprintf(cert, sizeof(cert), "%s/missing.pem", ht_dir);
    ck_assert_int_eq(nox_server_start(&s, &so, &st), NOX_EINVAL);
    ck_assert_msg(strstr(st.msg, "cannot open") != NULL, "%s", st.msg);
    ck_assert_int_eq(count_fds(), before);
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
http_start_suite(void)
{
    Suite *s = suite_create("http_start");
    TCase *st = tcase_create("start");

    tcase_add_checked_fixture(st, start_setup, ht_teardown);
    tcase_set_timeout(st, 60);
    tcase_add_test(st, http_start_refuses_an_open_address_without_a_token);
    tcase_add_test(
        st, http_start_refuses_bad_addresses_and_https_without_a_certificate);
    tcase_add_test(st, http_start_refuses_a_bad_certificate_and_leaks_nothing);
    tcase_add_test(st, http_serves_ipv6_loopback_in_brackets);
    tcase_add_test(st,
                   noxrunnerd_serves_http_alone_and_announces_the_real_port);
    suite_add_tcase(s, st);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(http_start_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
