/*
 * bench.h - internals of nox-bench, the NoxRunner benchmark.
 *
 * The program measures each figure together with its floor (the cost of
 * the same work done directly, without the service) in the same run, and
 * mostly in the same rounds (rounds.c: floor and service calls
 * alternate), so the ratios hold on a noisy machine. Groups record rows
 * (one measured case each) and targets (the limits README "Performance" sets,
 * met or missed) in a bench_t; main.c prints them as a table or as one JSON
 * object.
 *
 * Thread safety: a bench_t belongs to the main thread. Samples arrays may
 * be filled by one worker thread each; only the main thread records rows.
 */
#ifndef NOX_BENCH_H
#define NOX_BENCH_H

#include "nox/client.h"
#include "nox/server.h"
#include "nox_common.h"

#include <limits.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* ---- samples and statistics (stats.c) ---- */

typedef struct {
    int64_t *v; /* latencies in ns; owned */
    size_t   n;
    size_t   cap;
} bench_samples_t;

/* Room for cap samples; 0 or -1 (out of memory). */
int bench_samples_init(bench_samples_t *s, size_t cap);

/* Record one latency; a sample past the capacity is dropped (callers size
 * the array for their loop, so this never happens in practice). */
void bench_samples_add(bench_samples_t *s, int64_t ns);

/* Release the storage. NULL is a no-op. */
void bench_samples_free(bench_samples_t *s);

typedef struct {
    size_t n;
    double p50_us; /* NAN when n is 0 */
    double p99_us;
    double mean_us;
    double per_s; /* n over the loop's wall time; NAN when unknown */
} bench_stats_t;

/* Sort s and summarise it; wall_ns is the wall time of the whole loop
 * (calls per second = n / wall), 0 when unknown. p50 and p99 are nearest
 * rank. */
void bench_stats(bench_samples_t *s, int64_t wall_ns, bench_stats_t *out);

/* CLOCK_MONOTONIC in ns. */
int64_t bench_now_ns(void);

/* ---- interleaved rounds (rounds.c) ---- */

#define BENCH_MAX_CASES 16

/* One measured step of round i; 0, or -1 with a reason in msg. */
typedef int (*bench_case_fn)(void *arg, size_t i, char *msg, size_t msglen);

typedef struct {
    const char     *name; /* in failure messages */
    bench_case_fn   fn;   /* NULL: skipped (its setup failed) */
    void           *arg;
    bench_samples_t s;
    size_t          errors;
} bench_case_t;

/* Room for n samples in each case; 0 or -1 (out of memory, nothing
 * left allocated). */
int bench_cases_init(bench_case_t *cases, size_t n_cases, size_t n);

void bench_cases_free(bench_case_t *cases, size_t n_cases);

/* warm + n rounds; each runs every case once, in order, timing it; the
 * warm rounds are not recorded. Failures are counted and said (under
 * group). At most BENCH_MAX_CASES cases. */
void bench_rounds(const char *group, bench_case_t *cases, size_t n_cases,
                  size_t warm, size_t n);

/* The statistics of a case; calls per second over its own time. */
void bench_case_stats(bench_case_t *c, bench_stats_t *st);

/* ---- results (report.c) ---- */

typedef struct {
    const char *group; /* static string */
    char        name[72];
    size_t      n;      /* samples (or 0: a single figure) */
    size_t      errors; /* failed calls */
    double      p50_us; /* NAN: not a latency */
    double      p99_us;
    double      value;   /* rate or figure; NAN: none */
    const char *unit;    /* "calls/s", "MB/s", "files/s", "MiB", "x" */
    double      ratio50; /* p50 / floor p50; NAN: no floor */
    double      ratio99;
    double      floor_p50_us; /* the floor of the ratios; NAN: none */
    double      floor_p99_us;
} bench_row_t;

typedef struct {
    char        name[96]; /* "ipc exec true p50 <= floor p50 + 150 us" */
    double      measured; /* NAN: not measured (met is false) */
    double      limit;
    const char *unit;
    bool        at_least; /* measured must be >= limit, else <= */
    bool        met;
    char        note[96]; /* why not measured, or "" */
} bench_target_t;

/* ---- the run ---- */

typedef struct {
    /* options */
    bool        quick;
    bool        json;
    const char *only; /* NULL: every group */
    char        base_dir[PATH_MAX];
    bool        base_given;
    /* environment */
    char work[PATH_MAX];    /* our own mkdtemp dir under base_dir */
    char fs_type[32];       /* of base_dir: mount table, else statfs */
    char bin_dir[PATH_MAX]; /* where nox-bench, noxrunnerd, noxrc-rpc are */
    /* sizes (full or quick) */
    size_t n_lat;       /* latency samples per case */
    size_t n_warm;      /* warm-up calls per case */
    size_t n_conc;      /* calls per client thread */
    size_t n_scale;     /* sandboxes (and Execs) in the scale group */
    size_t n_scale_lat; /* latency samples at each scale */
    size_t big_bytes;   /* size of the one big file */
    size_t n_small;     /* number of 1 KiB files */
    size_t n_file_reps; /* transfers per files case */
    size_t n_cli;       /* whole CLI processes per case */
    /* results */
    bench_row_t    *rows;
    size_t          n_rows, cap_rows;
    bench_target_t *targets;
    size_t          n_targets, cap_targets;
    size_t          errors;   /* sum of row errors and setup failures */
    size_t          failures; /* groups or setups that could not run */
    /* The isolation level of the engines and local clients opened next:
     * "none" (the default: the plain figures), or "namespaces"
     * where a group measures isolated cases beside them. */
    const char *iso;
} bench_t;

/* An empty row: no figures (NAN), no floor. name is copied. */
void bench_row_init(bench_row_t *r, const char *group, const char *name);

/* Record a row (copied). Adds its errors to b->errors. */
void bench_row(bench_t *b, const bench_row_t *r);

/* Convenience: a row from latency statistics, with ratios to floor (NULL:
 * none). unit is "calls/s" and value st->per_s. */
void bench_row_lat(bench_t *b, const char *group, const char *name,
                   const bench_stats_t *st, size_t errors,
                   const bench_stats_t *floor);

/* A row with one figure (no latency). */
void bench_row_value(bench_t *b, const char *group, const char *name,
                     double value, const char *unit);

/* Record a target: met when measured <= limit (or >= when at_least). A
 * NAN measured is "not measured" and note says why. */
void bench_target(bench_t *b, const char *name, double measured, double limit,
                  const char *unit, bool at_least, const char *note);

/* Report a failure that stops a case or a group (stderr) and count it. */
void bench_fail(bench_t *b, const char *group, const char *fmt, ...)
    BENCH_PRINTF(3, 4);

/* Count one failed call and say why on stderr, at most a few times per
 * case (*said counts what was said). */
void bench_call_failed(const char *group, const char *what, const char *msg,
                       size_t *said);

/* Print the table (stdout). 0 or -1 when stdout fails. */
int bench_print_table(const bench_t *b);

/* Print everything as one JSON object (stdout). 0 or -1. */
int bench_print_json(const bench_t *b);

/* Release rows and targets. */
void bench_results_free(bench_t *b);

/* ---- machine (main.c) ---- */

/* "Linux 6.1.0 x86_64", the CPU model and the number of online CPUs. */
void bench_machine(char *kernel, size_t klen, char *cpu, size_t clen,
                   long *ncpu);

/* ---- processes (proc.c) ---- */

/* Run argv[0] (a path; argv NULL-terminated) with stdin from /dev/null,
 * stdout and stderr into pipes that are drained (and discarded) until
 * EOF, and wait for it. *status gets the wait status. 0 or an errno. */
int bench_run(const char *const *argv, int *status);

/* Start argv[0] in the background with stdin from /dev/null, stdout as
 * ours and stderr onto err_fd (-1: ours). The child gets SIGTERM when the
 * calling thread ends (PR_SET_PDEATHSIG), so a server started for a
 * group cannot outlive a nox-bench that crashed or was killed. 0 and
 * *pid, or an errno. */
int bench_start(const char *const *argv, int err_fd, pid_t *pid);

/* Stop a child: SIGTERM, then SIGKILL if it has not exited within
 * timeout_ms; always reaps it. *status (may be NULL) gets the wait
 * status. 0 or an errno. */
int bench_stop(pid_t pid, int timeout_ms, int *status);

/* VmRSS of pid in KiB, or -1 when it cannot be read. */
long bench_rss_kib(pid_t pid);

/* The machine's CPU time from /proc/stat, in clock ticks. */
typedef struct {
    unsigned long long idle, total;
} bench_cpu_t;

/* Read it; 0 or -1. */
int bench_cpu_ticks(bench_cpu_t *c);

/* How many CPUs were busy on average between two readings (0 to the
 * number online; NAN when it cannot tell). Whatever else the machine
 * runs counts too. */
double bench_cpus_busy(const bench_cpu_t *from, const bench_cpu_t *to);

/* Remove path recursively without following symlinks; 0 or -1. */
int bench_rmtree(const char *path);

/* Write back the dirty data of the file system holding dir (syncfs), so
 * the next measurement does not pay for the writeback of the last one.
 * 0 or -1. */
int bench_syncfs(const char *dir);

/* out = a/b; 0, or -1 when it does not fit. */
int bench_path(char *out, size_t len, const char *a, const char *b);

/* ---- archives in memory (tarmem.c) ---- */

typedef struct {
    size_t         n_files;   /* regular files */
    size_t         file_size; /* bytes each */
    const uint8_t *data;      /* n_files * file_size bytes */
    const char    *prefix;    /* names: "<prefix>NNNN" */
} bench_fileset_t;

/* Pack the fileset as a tar compressed as format says into out (its
 * contents replaced, its storage reused). 0 or -1. */
int bench_tar_write(const bench_fileset_t *fs, nox_archive_format_t format,
                    nox_buf_t *out);

/* Read a tar (gzip, zstd or plain) from memory to the end, touching every data
 * byte. *files and *bytes get the regular files and their bytes. 0 or -1. */
int bench_tar_read(const void *p, size_t len, size_t *files, size_t *bytes);

/* Write the fileset as files into dir (which exists); 0 or -1. */
int bench_files_write(const bench_fileset_t *fs, const char *dir);

/* Read every file of the fileset from dir; 0 or -1. */
int bench_files_read(const bench_fileset_t *fs, const char *dir);

/* ---- floors (floor.c) ---- */

/* Run argv (NULL-terminated) as one whole process with bench_run; 0,
 * or -1 with the reason in msg (a failure to start, a non-zero exit). */
int bench_run_checked(const char *const *argv, char *msg, size_t msglen);

/* bench_case_fn for bench_run_checked: arg is the argv. */
int bench_case_run(void *argv, size_t i, char *msg, size_t msglen);

/* One filesystem floor pair of a sandbox create+delete under dir: mkdir,
 * write a small file, rename the directory into place, remove it
 * recursively (with the engine's remover). With layout, the directory
 * also gets the workspace/ and tmp/ every sandbox has. i names it. 0, or
 * -1 with the reason in msg. */
int bench_floor_fs_pair(const char *dir, size_t i, bool layout, char *msg,
                        size_t msglen);

/* ---- servers and clients inside the bench process (harness.c) ---- */

typedef struct {
    nox_engine_t *engine;
    nox_server_t *server;
} bench_srv_t;

/* Open an engine on b->work and serve it on urls[0..n). 0, or -1 with the
 * failure reported under group. */
int bench_srv_start(bench_t *b, const char *group, bench_srv_t *s,
                    const char *const *urls, size_t n);

/* The URL listener i is bound to (the real port of tcp://...:0). 0/-1. */
int bench_srv_url(bench_srv_t *s, size_t i, char *buf, size_t len);

/* "ipc://<b->work>/<name>" into buf; -1 (reported under group) when
 * the socket path does not fit an AF_UNIX address. */
int bench_ipc_url(bench_t *b, const char *group, const char *name, char *buf,
                  size_t len);

/* Stop the server, then close its engine. Zeroed s is a no-op. */
void bench_srv_stop(bench_srv_t *s);

/* A client on url (NULL: the in-process engine on b->work), ready to
 * serve, using archives of format. NULL with the failure reported under
 * group. */
nox_client_t *bench_client(bench_t *b, const char *group, const char *url,
                           nox_archive_format_t format);

/* Create sandbox sid through c. 0, or -1 with the failure reported. */
int bench_create(bench_t *b, const char *group, nox_client_t *c,
                 const char *sid);

/* Delete sandbox sid through c; a failure is reported and counted. */
void bench_delete(bench_t *b, const char *group, nox_client_t *c,
                  const char *sid);

/* One Exec of argv through c, checked: exit 0 and, when want_out is not
 * NULL, exactly that stdout. NOX_OK, or the error (NOX_EUNKNOWN for a
 * wrong result) with a message in msg. */
nox_err_t bench_exec(nox_client_t *c, const char *sid, const char *const *argv,
                     size_t argc, const char *want_out, char *msg,
                     size_t msglen);

/* ---- groups ---- */

/* ---- the NNG round-trip floor (nng_echo.c) ---- */

typedef struct {
    nng_socket req;
    pid_t      pid; /* the echo process */
    bool       started;
    bool       broken;   /* a round failed: the rest fail at once */
    char       why[128]; /* what failed it */
} bench_echo_t;

/* The --nng-echo mode: echo every message on url until killed. Returns
 * the exit status when it cannot listen. */
int bench_echo_serve(const char *url);

/* Start an echo process on url and dial it; 0, or -1 with the reason in
 * msg (nothing left running). */
int bench_echo_start(bench_t *b, bench_echo_t *e, const char *url, char *msg,
                     size_t msglen);

/* A bench_case_fn: one 64-byte round trip through e. */
int bench_echo_case(void *arg, size_t i, char *msg, size_t msglen);

/* Send len bytes (copied into a new message, as a client packs one)
 * and wait for the echo's acknowledgement: a transfer one way. 0, or -1
 * with the reason in msg. */
int bench_echo_send(bench_echo_t *e, const void *data, size_t len, char *msg,
                    size_t msglen);

/* Close the socket and stop the echo process. Safe when not started. */
void bench_echo_stop(bench_echo_t *e);

/* ---- a noxrunnerd process (daemon.c) ---- */

#define BENCH_DAEMON_MAX_URLS 4

typedef struct {
    pid_t  pid; /* -1: not running */
    size_t n;
    /* The listen URLs asked for (borrowed): ipc://, tcp://, or
     * http://HOST:PORT for the REST gateway (--http). */
    const char *want[BENCH_DAEMON_MAX_URLS];
    /* What each listen URL is bound to ("tcp://127.0.0.1:0" gets its
     * port), from noxrunnerd's "listening on" lines. */
    char urls[BENCH_DAEMON_MAX_URLS][160];
    char log[PATH_MAX]; /* its stderr */
} bench_daemon_t;

/* Start noxrunnerd (next to nox-bench) listening on urls[0..n) (an
 * http://HOST:PORT one is its REST gateway), on its own base directory
 * under b->work, plain sandboxes, and wait until it listens. 0, or -1
 * reported under group (nothing left running). */
int bench_daemon_start(bench_t *b, const char *group, const char *const *urls,
                       size_t n, bench_daemon_t *d);

/* SIGTERM it and check that it exits 0 (a failure is reported). A
 * daemon that is not running is a no-op. */
void bench_daemon_stop(bench_t *b, const char *group, bench_daemon_t *d);

int bench_group_floor(bench_t *b);       /* floor.c */
int bench_group_exec(bench_t *b);        /* groups_exec.c */
int bench_group_concurrency(bench_t *b); /* groups_conc.c */
int bench_group_lifecycle(bench_t *b);   /* groups_sandbox.c */
int bench_group_files(bench_t *b);       /* groups_files.c */
int bench_group_scale(bench_t *b);       /* groups_sandbox.c */
int bench_group_cli(bench_t *b);         /* groups_cli.c */
int bench_group_busy(bench_t *b);        /* groups_busy.c */

#endif /* NOX_BENCH_H */
