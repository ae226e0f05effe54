/*
 * httptest.h - what the HTTP gateway's suites share: a server started
 * in-process on http://127.0.0.1:0 (and https) over a fresh base
 * directory, requests through libcurl with the reply's status, headers
 * and body, and raw sockets for clients that misbehave.
 */
#ifndef NOX_HTTPTEST_H
#define NOX_HTTPTEST_H

#include "nox/engine.h"
#include "nox/server.h"

#include <curl/curl.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *token;             /* NULL: none */
    size_t      max_message_bytes; /* 0: HT_MAX_BYTES */
    unsigned    max_connections;   /* 0: the server's default */
    bool        https;             /* also https://127.0.0.1:0 (ht_tls_url) */
    int64_t     shutdown_grace_ms; /* 0: the server's default */
} ht_opts_t;

#define HT_MAX_BYTES (1024 * 1024)

/* The fixture (CK_FORK: one copy per test process). */
extern char         *ht_base; /* the engine's base directory */
extern char         *ht_dir;  /* another temp dir: certificates */
extern nox_engine_t *ht_eng;
extern nox_server_t *ht_srv;
extern char          ht_url[128];     /* "http://127.0.0.1:PORT" */
extern char          ht_tls_url[128]; /* "https://127.0.0.1:PORT" */

/* Start the fixture's server with o (NULL: defaults); ht_stop ends it. */
void ht_start(const ht_opts_t *o);
void ht_stop(void);
/* For tcase_add_checked_fixture. */
void ht_setup(void);
void ht_teardown(void);

/* A self-signed certificate for 127.0.0.1 made with openssl in ht_dir:
 * its paths (static). */
void ht_make_cert(const char **cert, const char **key);

/* One reply. */
typedef struct {
    long     status;
    char     content_type[128];
    char     deleted[16];  /* X-Noxrunner-Deleted */
    char     allow[64];    /* Allow */
    char     www_auth[64]; /* WWW-Authenticate */
    char     connection[32];
    char    *body; /* NUL-terminated; free with ht_res_free */
    size_t   len;
    CURLcode rc; /* the transfer's result */
} ht_res_t;

void ht_res_free(ht_res_t *r);

/* Send method url+path with an optional body (content_type NULL: none
 * set) and bearer token (NULL: no Authorization) on handle c (NULL: a
 * fresh handle for this call), wait for the reply. Returns r->status (0
 * when the transfer failed: r->rc says why). */
long ht_req(CURL *c, const char *method, const char *path,
            const char *content_type, const void *body, size_t len,
            const char *token, ht_res_t *r);

/* The same on an absolute URL (https: verified with ca, NULL: system). */
long ht_req_url(CURL *c, const char *method, const char *url, const char *ca,
                const char *content_type, const void *body, size_t len,
                const char *token, ht_res_t *r);

/* A raw TCP connection to the fixture's http port (blocking; closed by
 * the caller). */
int ht_connect(void);

/* Send all of s on fd; read until the peer closes or ms pass; return the
 * bytes read (malloc'd, NUL-terminated). */
char *ht_raw(int fd, const char *s, size_t len, int ms);

/* Milliseconds on the monotonic clock. */
long long ht_ms(void);

#endif /* NOX_HTTPTEST_H */
