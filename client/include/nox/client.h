/*
 * nox/client.h - libnoxrunner, the NoxRunner sandbox client.
 *
 * A nox_client_t talks to a noxrunnerd server over NNG ("ipc:///path",
 * "tcp://host:port"), to any NoxRunner backend over HTTP(S) (its REST
 * API: "http://host:port", "https://host:port"; noxrunnerd --http, or a
 * NoxRunner cluster) or runs the sandbox engine in-process (the embedded
 * local testing mode: no server needed). In-process mode hands each call,
 * packed in the same RpcRequest envelope, to the very same RPC handler a
 * server runs, in the calling thread and without a socket, so both modes
 * behave identically but for the transport.
 *
 * Errors: every call returns NOX_OK or a nox_err_t (nox/error.h; the
 * values are gRPC status codes). After a failed call,
 * nox_client_errmsg() gives the server's (or the library's) message, e.g.
 * "command not allowed: rm". Out-parameters are written only on success.
 *
 * Ownership: result structs filled by a call own their memory and are
 * released with their _free function (which accepts NULL and zeroed
 * structs). Strings passed in are only borrowed for the call.
 *
 * Thread safety: one thread at a time per nox_client_t; separate clients
 * are independent and may be used from different threads at once.
 * nox_strerror(), nox_err_name() and nox_exec_cause_name() may be called
 * from any thread. A client belongs to the process that opened it: after
 * fork() the child opens its own (NNG is not fork-safe, and an in-process
 * client's Exec in a child fails with NOX_EPRECOND saying so).
 */
#ifndef NOX_CLIENT_H
#define NOX_CLIENT_H

#include "nox/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nox_client nox_client_t; /* opaque; layout in client.c */

/* ---- opening ---- */

/* How UploadFiles/DownloadFiles archives are compressed (the values of the
 * proto's ArchiveFormat). gzip tar is NoxRunner's default; plain tar and
 * zstd tar spare local links the cost of deflate. */
typedef enum {
    NOX_ARCHIVE_TAR_GZ = 0,
    NOX_ARCHIVE_TAR = 1,
    NOX_ARCHIVE_TAR_ZSTD = 2,
} nox_archive_format_t;

typedef struct {
    /* Per-call time budget in ms for calls other than Exec; 0: 30000.
     * Exec gets its own timeout plus this budget. Sent to the server as
     * RpcRequest.deadline_ms. In-process (nox_client_open_local) a call
     * runs in the calling thread and is not cut off: Exec still ends at
     * its own timeout, other calls when their filesystem work is done. */
    int64_t timeout_ms;
    /* Largest request payload the client will send; 0: ask the server
     * (Health) the first time a request is larger than 1 MiB. */
    size_t max_message_bytes;
    /* The format of the archives nox_client_upload sends and
     * nox_client_download returns (download_workspace reads any of them).
     * 0: NOX_ARCHIVE_TAR_GZ. An unknown value fails the open (NOX_EINVAL). */
    nox_archive_format_t archive_format;
    /* When an open fails there is no client to ask for the reason; if
     * errbuf is not NULL, the message ("cannot create base directory
     * ...") is written there, NUL-terminated and truncated to fit. */
    char  *errbuf;
    size_t errbuf_len;
    /* The bearer token of a server that requires one (tcp://, tls+tcp://,
     * http://, https://); NULL: $NOXRUNNER_TOKEN, else none. */
    const char *token;
    /* PEM file of the certificate authorities trusted for https:// and
     * tls+tcp://; NULL: $NOXRUNNER_CA_FILE, else the system's. The
     * server's certificate is always verified. */
    const char *ca_file;
} nox_client_opts_t;

typedef struct {
    const char *base_dir;   /* NULL: $NOXRUNNER_BASE_DIR, else /tmp */
    size_t      output_cap; /* 0: 1 MiB per stream */
    int         quiet;      /* <0: from $NOXRUNNER_QUIET; 0 warn; 1 not */
    /* Expired sandboxes are reaped when the client opens (at most once
     * per interval among all processes on base_dir) and every interval
     * while it stays open. 0: 5000; <0: never. */
    int reap_interval_ms;
    /* "auto", "namespaces" or "none" (README "Security model"); NULL:
     * $NOXRUNNER_ISOLATION, else "auto". An unknown name, or "namespaces"
     * where this machine cannot have it, fails the open. */
    const char *isolation;
} nox_local_opts_t;

/* Connect to a server at url ("ipc://...", "tcp://host:port",
 * "http://host:port", "https://host:port", optionally with a path prefix
 * for http(s)). The connection is made in the background (over http(s):
 * at the first call): this succeeds while the server is down, and calls
 * then fail with NOX_EUNAVAIL (see nox_client_wait_ready). opts may be
 * NULL. On success *out owns a new client (release: nox_client_close());
 * on failure *out is untouched.
 *
 * Over http(s) every call is one REST call of NoxRunner's backend
 * specification, sent with libcurl on one kept-alive connection; HTTP
 * statuses become nox_err_t (400 EINVAL, 401 EAUTH, 403 EDENIED, 404
 * ENOENT, 405/501 ENOTSUP, 408/504 ETIMEDOUT, 409 EPRECOND,
 * 413/429/507 ERESOURCE, 502/503 EUNAVAIL, other 5xx EINTERNAL, other 4xx
 * EINVAL; from noxrunnerd, the gRPC code its error body carries); a 3xx
 * is NOX_EINVAL naming where it redirects (redirects are not followed).
 * The server's certificate is always verified, against opts->ca_file
 * alone when given; a TLS failure is NOX_EUNAVAIL with curl's reason, and
 * nox_client_wait_ready stops at it. Exec is never sent twice (a
 * connection lost before its reply is NOX_EUNAVAIL). stdout and stderr
 * travel as JSON text: a NUL byte or invalid UTF-8 arrives as U+FFFD.
 * The loopback is never reached through a proxy; other hosts follow the
 * usual http_proxy/https_proxy/no_proxy variables. What a backend other
 * than noxrunnerd (one that serves only the specification) gives:
 *
 *   call                 noxrunnerd --http     another NoxRunner backend
 *   health               everything            status "SERVING" only
 *                        (GET /v1/health)      (GET /healthz)
 *   create               everything            pod_name, expires_at; created
 *                                              false, isolation "", no limits
 *   touch                expires_at            expires_at "" (none in spec)
 *   exec, exec_shell     everything            exit_code, stdout, stderr,
 *                                              duration_ms; the rest 0
 *                                              (cause NOX_EXIT_UNSPECIFIED);
 *                                              stdin ignored (the spec has
 *                                              no such field)
 *   upload               files_written         files_written 0
 *   download(_workspace) the archive           the archive (gzip tar only)
 *   delete               deleted true/false    deleted true (its 204 says
 *                                              no more); NOX_ENOENT if it
 *                                              answers 404
 *   list                 everything            NOX_ENOTSUP
 * Exec's stdin travels as a JSON string: over http(s) it must be UTF-8
 * text without NUL bytes (else NOX_EINVAL before sending). */
NOX_API nox_err_t nox_client_open(nox_client_t **out, const char *url,
                                  const nox_client_opts_t *opts);

/* Run the engine in-process on base_dir; calls run in the calling thread
 * (no server, no socket). lopts and opts may be NULL. Prints the
 * local-mode warning unless quiet. */
NOX_API nox_err_t nox_client_open_local(nox_client_t           **out,
                                        const nox_local_opts_t  *lopts,
                                        const nox_client_opts_t *opts);

/* Close the client (and stop its in-process engine). NULL is a no-op. */
NOX_API void nox_client_close(nox_client_t *c);

/* The message of the last failed call on c ("" after a success). Valid
 * until the next call on c. */
NOX_API const char *nox_client_errmsg(const nox_client_t *c);

/* Poll Health until the server answers or timeout_ms passes
 * (NOX_ETIMEDOUT then). Works alike over every transport. */
NOX_API nox_err_t nox_client_wait_ready(nox_client_t *c, int64_t timeout_ms);

/* ---- RPCs ---- */

typedef struct {
    char    *status;  /* owned: "SERVING" */
    char    *version; /* owned */
    uint64_t max_message_bytes;
    /* owned: the level the server runs commands at, "namespaces" or
     * "none" ("" from a server older than the field) */
    char *isolation;
    /* owned: the server's reason the level is not higher; "" at
     * "namespaces" */
    char *isolation_detail;
} nox_health_t;
NOX_API nox_err_t nox_client_health(nox_client_t *c, nox_health_t *out);
NOX_API void      nox_health_free(nox_health_t *h);

/* Limits are Kubernetes quantities; the server refuses bad syntax
 * (NOX_EINVAL, the message names the field) and reports what it did with
 * each one given in nox_sandbox_t.limits. */
typedef struct {
    uint32_t    ttl_seconds;   /* 0: 900 */
    const char *image;         /* NULL: none */
    const char *cpu_limit;     /* e.g. "1", "500m"; NULL: none */
    const char *memory_limit;  /* e.g. "512Mi", "1G"; NULL: none */
    const char *storage_limit; /* e.g. "2Gi"; NULL: none */
    uint32_t    pids_limit;    /* processes at once; 0: none */
    /* Isolation "namespaces": keep the host's network instead of loopback
     * only. Fixed when the sandbox is first created. */
    bool allow_network;
} nox_create_opts_t;

/* One limit Create was asked for and what became of it. Named apart from
 * the engine's nox_limit_status_t (nox/engine.h), which a program linking
 * the engine too may also see. */
typedef struct {
    char *name;    /* owned: "cpu_limit", "memory_limit", "pids_limit", ... */
    char *value;   /* owned: as requested, e.g. "512Mi" */
    bool  applied; /* false: recorded but not enforced */
    char *detail;  /* owned: how it is enforced, or why it is not */
} nox_client_limit_status_t;

typedef struct {
    char  *pod_name;   /* owned: "local-<session_id>" */
    char  *expires_at; /* owned: RFC 3339 UTC */
    bool   created;    /* false: it existed; files kept, TTL refreshed */
    char  *isolation;  /* owned: this sandbox's level, "namespaces" or "none" */
    size_t n_limits;   /* one per limit requested */
    nox_client_limit_status_t *limits; /* owned: n_limits entries; NULL
                                          when none */
} nox_sandbox_t;

/* opts may be NULL for defaults. On success *out owns its strings and
 * limits (release: nox_sandbox_free()). */
NOX_API nox_err_t nox_client_create(nox_client_t *c, const char *session_id,
                                    const nox_create_opts_t *opts,
                                    nox_sandbox_t           *out);
NOX_API void      nox_sandbox_free(nox_sandbox_t *s);

/* *expires_at (RFC 3339, malloc'd; free()) on success. */
NOX_API nox_err_t nox_client_touch(nox_client_t *c, const char *session_id,
                                   char **expires_at);

typedef struct {
    const char        *workdir; /* NULL: /workspace */
    const char *const *env;     /* "KEY=VALUE" strings; NULL ok */
    size_t             env_len;
    uint32_t           timeout_seconds; /* 0: 30 */
    const void        *stdin_data;      /* NULL: /dev/null */
    size_t             stdin_len;
} nox_exec_opts_t;

/* Why a command ended: the values of the proto's ExecCause. */
typedef enum {
    NOX_EXIT_UNSPECIFIED = 0,  /* a server older than the field */
    NOX_EXIT_EXITED = 1,       /* exit_code is its exit status */
    NOX_EXIT_SIGNALED = 2,     /* killed by signal (nox_exec_t.signal) */
    NOX_EXIT_TIMED_OUT = 3,    /* killed at timeout_seconds */
    NOX_EXIT_OOM_KILLED = 4,   /* killed by the sandbox's memory_limit */
    NOX_EXIT_OUTPUT_LIMIT = 5, /* killed for writing too much output */
    /* Never in a nox_exec_t: a blocked command is NOX_EDENIED. For
     * callers that report that case alongside the others. */
    NOX_EXIT_BLOCKED = 6,
    NOX_EXIT_NOT_STARTED = 7, /* not found (127) or not executable (126) */
} nox_client_cause_t;

/* The name of a cause, e.g. "EXITED", "TIMED_OUT"; "UNSPECIFIED" for 0
 * and for values this library does not know. Static; never NULL;
 * thread-safe. */
NOX_API const char *nox_exec_cause_name(int cause);

typedef struct {
    int32_t  exit_code;   /* 124 timed out, 127 not found, 128+N signal N */
    uint8_t *stdout_data; /* owned; NUL-terminated for convenience */
    size_t   stdout_len;
    uint8_t *stderr_data; /* owned; NUL-terminated for convenience */
    size_t   stderr_len;
    uint64_t duration_ms; /* the command's wall time, on the server */
    bool     timed_out;
    bool     stdout_truncated; /* output past the server's cap dropped */
    bool     stderr_truncated;
    nox_client_cause_t cause;
    int                signal; /* the signal that ended it, else 0 */
    /* CPU time and peak memory of the command and the children it waited
     * for (wait4); 0 from servers older than the fields. */
    uint64_t cpu_user_ms;
    uint64_t cpu_system_ms;
    uint64_t max_rss_kb;
    /* What the command wrote, including what the cap dropped. */
    uint64_t stdout_total_bytes;
    uint64_t stderr_total_bytes;
} nox_exec_t;

/* Run argv (argc entries) in the sandbox. A command that runs and fails is
 * NOX_OK with its exit code and cause (a timeout too: NOX_EXIT_TIMED_OUT,
 * with the output written before it); NOX_EDENIED for a blocked command
 * (report it as NOX_EXIT_BLOCKED). opts may be NULL. On success *out owns
 * its buffers (release: nox_exec_free()). */
NOX_API nox_err_t nox_client_exec(nox_client_t *c, const char *session_id,
                                  const char *const *argv, size_t argc,
                                  const nox_exec_opts_t *opts, nox_exec_t *out);

/* Run a command string with "sh -c" (or "bash -c" when use_bash). */
NOX_API nox_err_t nox_client_exec_shell(nox_client_t *c, const char *session_id,
                                        const char *command, bool use_bash,
                                        const nox_exec_opts_t *opts,
                                        nox_exec_t            *out);
NOX_API void      nox_exec_free(nox_exec_t *r);

/* Upload a tar archive, in the client's archive_format (gzip tar by
 * default), into dest (NULL: /workspace). */
NOX_API nox_err_t nox_client_upload(nox_client_t *c, const char *session_id,
                                    const char *dest, const void *tar_gz,
                                    size_t len, uint64_t *files_written);

/* Download src (NULL: /workspace) as a tar archive in the client's
 * archive_format (gzip tar by default): *tar_gz (malloc'd; free()) and
 * *len on success. */
NOX_API nox_err_t nox_client_download(nox_client_t *c, const char *session_id,
                                      const char *src, uint8_t **tar_gz,
                                      size_t *len);

/* Download src and extract it into the local directory local_dir (created
 * if missing). Extraction is safe: absolute names, "..", links leaving
 * local_dir and device nodes are refused (NOX_EINVAL). *files (may be
 * NULL) gets the number of regular files written. */
NOX_API nox_err_t nox_client_download_workspace(nox_client_t *c,
                                                const char   *session_id,
                                                const char   *src,
                                                const char   *local_dir,
                                                uint64_t     *files);

/* *deleted (may be NULL) is false when there was no such sandbox. */
NOX_API nox_err_t nox_client_delete(nox_client_t *c, const char *session_id,
                                    bool *deleted);

typedef struct {
    char *session_id;
    char *pod_name;
    char *expires_at;
    char *path; /* the sandbox directory on the server's host */
} nox_sandbox_info_entry_t;

typedef struct {
    nox_sandbox_info_entry_t *items;
    size_t                    len;
} nox_sandbox_list_t;
NOX_API nox_err_t nox_client_list(nox_client_t *c, nox_sandbox_list_t *out);
NOX_API void      nox_sandbox_list_free(nox_sandbox_list_t *l);

#ifdef __cplusplus
}
#endif

#endif /* NOX_CLIENT_H */
