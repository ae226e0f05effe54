/* httptest.c - see httptest.h. */
#include "httptest.h"
#include "server_priv.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

char         *ht_base;
char         *ht_dir;
nox_engine_t *ht_eng;
nox_server_t *ht_srv;
char          ht_url[128];
char          ht_tls_url[128];

static char ht_cert[512], ht_key[512];

long long
ht_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
ht_make_cert(const char **cert, const char **key)
{
    (void)snprintf(ht_cert, sizeof(ht_cert), "%s/cert.pem", ht_dir);
    (void)snprintf(ht_key, sizeof(ht_key), "%s/key.pem", ht_dir);
    tu_make_cert(ht_cert, ht_key);
    *cert = ht_cert;
    *key = ht_key;
}

void
ht_start(const ht_opts_t *o)
{
    static const ht_opts_t none;
    nox_engine_opts_t      eo = {.quiet = 1, .isolation = NOX_ISOLATION_NONE};
    const char            *http[] = {"127.0.0.1:0"};
    const char            *https[] = {"127.0.0.1:0"};
    nox_server_opts_t      so = {
             .http_addrs = http, .n_http = 1, .workers = 4, .reap_interval_ms = -1};
    nox_status_t st;

    if (o == NULL)
        o = &none;
    if (ht_base == NULL)
        ht_base = tu_mkdtemp();
    if (ht_dir == NULL)
        ht_dir = tu_mkdtemp();
    eo.base_dir = ht_base;
    ck_assert_int_eq(nox_engine_open(&ht_eng, &eo, &st), NOX_OK);
    so.engine = ht_eng;
    so.token = o->token;
    so.max_message_bytes =
        o->max_message_bytes ? o->max_message_bytes : HT_MAX_BYTES;
    so.http_max_connections = o->max_connections;
    so.shutdown_grace_ms = o->shutdown_grace_ms;
    if (o->https) {
        ht_make_cert(&so.tls_cert, &so.tls_key);
        so.https_addrs = https;
        so.n_https = 1;
    }
    ck_assert_msg(nox_server_start(&ht_srv, &so, &st) == NOX_OK, "%s", st.msg);
    ck_assert_uint_eq(nox__server_http_count(ht_srv), o->https ? 2 : 1);
    ck_assert_int_eq(nox__server_http_url(ht_srv, 0, ht_url, sizeof(ht_url)),
                     NOX_OK);
    ck_assert_str_ne(ht_url, "http://127.0.0.1:0");
    if (o->https)
        ck_assert_int_eq(
            nox__server_http_url(ht_srv, 1, ht_tls_url, sizeof(ht_tls_url)),
            NOX_OK);
}

void
ht_stop(void)
{
    nox_server_stop(ht_srv);
    ht_srv = NULL;
    if (ht_eng != NULL)
        nox_engine_close(ht_eng);
    ht_eng = NULL;
}

void
ht_setup(void)
{
    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    ht_start(NULL);
}

void
ht_teardown(void)
{
    ht_stop();
    tu_rmtree_free(ht_base);
    tu_rmtree_free(ht_dir);
    ht_base = ht_dir = NULL;
}

void
ht_res_free(ht_res_t *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static size_t
ht_on_body(char *p, size_t size, size_t n, void *arg)
{
    ht_res_t *r = arg;
    char     *b = realloc(r->body, r->len + size * n + 1);

    ck_assert_ptr_nonnull(b);
    memcpy(b + r->len, p, size * n);
    r->len += size * n;
    b[r->len] = '\0';
    r->body = b;
    return size * n;
}

/* Copy header "name: value" of line into dst when line is that header. */
static void
ht_take_header(const char *line, size_t n, const char *name, char *dst,
               size_t cap)
{
    size_t k = strlen(name);

    if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    line += k + 1;
    n -= k + 1;
    while (n > 0 && *line == ' ')
        line++, n--;
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, line, n);
    dst[n] = '\0';
}

static size_t
ht_on_header(char *p, size_t size, size_t n, void *arg)
{
    ht_res_t *r = arg;

    ht_take_header(p, size * n, "Content-Type", r->content_type,
                   sizeof(r->content_type));
    ht_take_header(p, size * n, "X-Noxrunner-Deleted", r->deleted,
                   sizeof(r->deleted));
    ht_take_header(p, size * n, "Allow", r->allow, sizeof(r->allow));
    ht_take_header(p, size * n, "WWW-Authenticate", r->www_auth,
                   sizeof(r->www_auth));
    ht_take_header(p, size * n, "Connection", r->connection,
                   sizeof(r->connection));
    return size * n;
}

long
ht_req_url(CURL *c, const char *method, const char *url, const char *ca,
           const char *content_type, const void *body, size_t len,
           const char *token, ht_res_t *r)
{
    CURL              *own = c == NULL ? curl_easy_init() : NULL;
    struct curl_slist *h = NULL;
    char               line[4200];

    memset(r, 0, sizeof(*r));
    r->body = calloc(1, 1);
    ck_assert_ptr_nonnull(r->body);
    if (c == NULL)
        c = own;
    ck_assert_ptr_nonnull(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL || strcmp(method, "PUT") == 0 ||
        strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    /* After HTTPGET, which clears it. */
    curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    if (content_type != NULL) {
        (void)snprintf(line, sizeof(line), "Content-Type: %s", content_type);
        h = curl_slist_append(h, line);
    }
    if (token != NULL) {
        (void)snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, line);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ht_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, ht_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (ca != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    r->rc = curl_easy_perform(c);
    if (r->rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    if (own != NULL)
        curl_easy_cleanup(own);
    return r->status;
}

long
ht_req(CURL *c, const char *method, const char *path, const char *content_type,
       const void *body, size_t len, const char *token, ht_res_t *r)
{
    char url[4096];

    ck_assert_int_lt(snprintf(url, sizeof(url), "%s%s", ht_url, path),
                     (int)sizeof(url));
    return ht_req_url(c, method, url, NULL, content_type, body, len, token, r);
}

int
ht_connect(void)
{
    struct sockaddr_in sa;
    const char        *port = strrchr(ht_url, ':');
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(port + 1));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

char *
ht_raw(int fd, const char *s, size_t len, int ms)
{
    size_t    got = 0, cap = 4096;
    char     *buf = malloc(cap);
    long long end = ht_ms() + ms;

    ck_assert_ptr_nonnull(buf);
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the server closed on us: read what it said */
        s += n;
        len -= (size_t)n;
    }
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        long long     left = end - ht_ms();
        ssize_t       n;
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        if (got + 1024 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        n = recv(fd, buf + got, cap - got - 1, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return buf;
}
