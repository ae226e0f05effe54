/*
 * http_impl.h - the gateway's state, shared by http_server.c (daemons,
 * connections, start and stop), http_request.c (one request: checks,
 * body, reply) and http_call.c (the workers that run the calls). Private
 * to the gateway.
 */
#ifndef NOX_SERVER_HTTP_IMPL_H
#define NOX_SERVER_HTTP_IMPL_H

#include "http.h"
#include "http_peers.h"
#include "rest.h"
#include "server_impl.h"

#include <microhttpd.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An idle connection is closed after this long (seconds). A slow or
 * stalled client holds only its connection, never a thread: one polling
 * thread per address multiplexes them all. */
#define NOX_HTTP_IDLE_TIMEOUT_S 30
/* Memory per connection for the request line and headers (and the read
 * buffer): larger headers are refused by libmicrohttpd (431). */
#define NOX_HTTP_CONN_MEMORY (64u * 1024)
#define NOX_HTTP_DEFAULT_MAX_CONNECTIONS 256
/* Connections beyond ours up to this many more are taken to be answered
 * 503; past those they are refused (closed at once). */
#define NOX_HTTP_CONNECTION_SLACK 16
/* Connections at once from one address other than loopback. */
#define NOX_HTTP_PER_PEER 32
/* Idle seconds before a new connection's first headers are in. */
#define NOX_HTTP_HEADER_TIMEOUT_S 10
/* Seconds a request's body may take after its headers. */
#define NOX_HTTP_BODY_DEADLINE_S 60
/* Past that deadline a body may go on while its average rate since the
 * headers stays at least this many bytes per second: a large upload on a
 * slow link is not a slowloris. */
#define NOX_HTTP_BODY_MIN_RATE (64 * 1024)

/* One REST call, from its first headers to the completion of its reply.
 * Touched by the daemon's thread, and while the connection is suspended
 * only by the worker or the engine thread that runs the call. */
typedef struct nox__http_req {
    nox__http_t            *h; /* NULL: an answer made at the first call */
    struct MHD_Connection  *conn;
    const nox_rest_route_t *route;               /* NULL: likewise */
    char                   *session_id;          /* decoded; malloc'd or NULL */
    char                   *dest, *src, *format; /* decoded query */
    char                   *content_type;        /* copy, or NULL */
    uint8_t                *body;                /* collected body */
    size_t                  len, cap;
    int64_t                 begun_ms;  /* nox__mono_ms() at its headers */
    size_t                  dropped;   /* body bytes of a route without one */
    bool                    too_big;   /* over the limit: the rest dropped */
    bool                    in_flight; /* counted in the server's calls */
    bool                    sending;   /* ... with its reply being sent */
    bool                    have_reply;
    nox_rest_http_t         reply;          /* ready once have_reply */
    const char             *name2, *value2; /* an extra header; static */
    uint8_t                *resp;           /* the packed RpcResponse */
    size_t                  resp_len;
    struct nox__http_req   *next; /* in the workers' queue */
} nox__http_req_t;

typedef struct {
    struct MHD_Daemon *d;
    int                quiesced_fd; /* ours to close after the stop; -1 */
    char               url[96];     /* "http://127.0.0.1:8080" */
} nox__http_daemon_t;

struct nox__http {
    nox_server_t       *srv;
    char               *token; /* copy (wiped at stop), or NULL */
    size_t              max_body;
    unsigned            max_conns;
    atomic_uint         conns; /* open connections, every address */
    nox__http_peers_t   peers; /* the same per peer address */
    atomic_bool         quiesced;
    nox__http_daemon_t *daemons;
    size_t              n_daemons;
    char               *cert_pem, *key_pem; /* https: the files' text */

    /* The workers that run calls (http_call.c). */
    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    bool             sync_init;
    nox__http_req_t *head, *tail;
    bool             workers_stop;
    pthread_t       *threads;
    size_t           n_threads; /* started */
};

/* libmicrohttpd's callbacks (http_request.c). */
enum MHD_Result nox__http_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls);
void nox__http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe);

/* Start n workers; NOX_OK or an error with the ones started left for
 * nox__http_workers_stop. */
nox_err_t nox__http_workers_start(nox__http_t *h, size_t n, nox_status_t *st);

/* Run the call r (its connection suspended) on a worker: its reply is
 * then set in r and the connection resumed. */
void nox__http_submit(nox__http_t *h, nox__http_req_t *r);

/* Join the workers after they ran what is queued. */
void nox__http_workers_stop(nox__http_t *h);

/* Set r's reply to an error made by the gateway (status 0: code's own)
 * and resume r's connection (the workers' side of a failure). */
void nox__http_finish_error(nox__http_req_t *r, nox_err_t code, int status,
                            const char *msg);

#endif /* NOX_SERVER_HTTP_IMPL_H */
