/* check_client.c - libnoxrunner end to end: one list of cases run over
 * every transport (in-process, and noxrunnerd as a child process over
 * ipc://, tcp://, http:// and https://), a server on ipc:// in this
 * process, parity of a call sequence between it and in-process mode, and
 * the errors the client itself reports (bad URL, unreachable or silent
 * server, oversized request). */
#include "nox/client.h"
#include "nox/server.h"
#include "testproc.h"
#include "testutil.h"
/* White-box: the extractor is internal to libnoxrunner, so its source is
 * compiled in here to feed it archives no real server sends. */
#include "../client/extract.c"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

/* out = dir/name; fails the test if it does not fit. */
static void
join(char out[PATH_MAX], const char *dir, const char *name)
{
    ck_assert_int_lt(snprintf(out, PATH_MAX, "%s/%s", dir, name), PATH_MAX);
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static nox_client_t *
open_local(const char *base, const nox_client_opts_t *opts)
{
    nox_local_opts_t lo = {base, 0, 1, -1, "none"}; /* quiet, no reaper */
    nox_client_t    *c = NULL;

    ck_assert_int_eq(nox_client_open_local(&c, &lo, opts), NOX_OK);
    ck_assert_ptr_nonnull(c);
    return c;
}

static void
create_ok(nox_client_t *c, const char *sid)
{
    nox_sandbox_t s;

    ck_assert_int_eq(nox_client_create(c, sid, NULL, &s), NOX_OK);
    nox_sandbox_free(&s);
}

/* Run argv (NULL-terminated) with default options. */
static nox_err_t
run(nox_client_t *c, const char *sid, nox_exec_t *out, const char *const *argv)
{
    size_t argc = 0;

    while (argv[argc] != NULL)
        argc++;
    return nox_client_exec(c, sid, argv, argc, NULL, out);
}

#define RUN(c, sid, out, ...)                                                  \
    run((c), (sid), (out), (const char *const[]){__VA_ARGS__, NULL})

/* One archive entry for make_tar_gz. */
typedef struct {
    const char *name;
    int         type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFIFO, AE_IFCHR; */
                      /* 0: a hard link */
    const char *data; /* content, or the link's target */
} tar_ent_t;

static void
add_entry(struct archive *a, const tar_ent_t *t)
{
    struct archive_entry *e = archive_entry_new();
    size_t sz = t->type == AE_IFREG && t->data != NULL ? strlen(t->data) : 0;

    ck_assert_ptr_nonnull(e);
    archive_entry_set_pathname(e, t->name);
    archive_entry_set_filetype(e, t->type != 0 ? (unsigned)t->type : AE_IFREG);
    archive_entry_set_perm(e, t->type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_size(e, (la_int64_t)sz);
    if (t->type == AE_IFLNK)
        archive_entry_set_symlink(e, t->data);
    if (t->type == 0)
        archive_entry_set_hardlink(e, t->data);
    if (t->type == AE_IFCHR)
        archive_entry_set_rdev(e, makedev(1, 3));
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    if (sz > 0)
        ck_assert_int_eq(archive_write_data(a, t->data, sz), (la_ssize_t)sz);
    archive_entry_free(e);
}

/* A gzip tar of the n entries, in memory (free() it). */
static void *
make_tar_gz(size_t *len, const tar_ent_t *ents, size_t n)
{
    size_t          cap = 1 << 20, used = 0;
    void           *buf = malloc(cap);
    struct archive *a = archive_write_new();

    ck_assert_ptr_nonnull(buf);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++)
        add_entry(a, &ents[i]);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_free(a), ARCHIVE_OK);
    *len = used;
    return buf;
}

/* ---- fixture: an in-process client on a fresh base directory ---- */

static char         *base; /* per test: Check forks each test */
static nox_client_t *cl;

static void
local_setup(void)
{
    base = tu_mkdtemp();
    cl = open_local(base, NULL);
}

static void
local_teardown(void)
{
    nox_client_close(cl);
    tu_rmtree_free(base);
}

/* ---- the seed's flow and exec ---- */

START_TEST(client_runs_the_seed_flow)
{
    nox_sandbox_t s;
    nox_exec_t    r;
    bool          deleted = false;

    ck_assert_int_eq(nox_client_create(cl, "my-session", NULL, &s), NOX_OK);
    ck_assert(s.created);
    ck_assert_str_eq(s.pod_name, "local-my-session");
    ck_assert_uint_eq(strlen(s.expires_at), 20); /* 2026-01-02T12:34:56Z */
    ck_assert_str_eq(s.isolation, "none");       /* the fixture asks for none */
    ck_assert_uint_eq(s.n_limits, 0);            /* none requested */
    ck_assert_ptr_null(s.limits);
    nox_sandbox_free(&s);
    ck_assert_int_eq(RUN(cl, "my-session", &r, "echo", "Hello"), NOX_OK);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq((char *)r.stdout_data, "Hello\n");
    ck_assert_uint_eq(r.stdout_len, 6);
    ck_assert_uint_eq(r.stderr_len, 0);
    ck_assert_str_eq((char *)r.stderr_data, "");
    ck_assert(!r.timed_out);
    ck_assert_int_eq(r.cause, NOX_EXIT_EXITED);
    ck_assert_int_eq(r.signal, 0);
    ck_assert_uint_eq(r.stdout_total_bytes, 6);
    ck_assert_uint_eq(r.stderr_total_bytes, 0);
    nox_exec_free(&r);
    ck_assert_int_eq(nox_client_delete(cl, "my-session", &deleted), NOX_OK);
    ck_assert(deleted);
    ck_assert_str_eq(nox_client_errmsg(cl), "");
}
END_TEST

/* Separate short-lived local clients (CLI runs) must still reap: the
 * opening of a local client runs a pass when one is due. */
START_TEST(client_local_open_reaps_expired_sandboxes)
{
    nox_create_opts_t o = {.ttl_seconds = 1};
    nox_local_opts_t  lo = {base, 0, 1, 0, "none"}; /* default reaper */
    nox_sandbox_t     s;
    nox_client_t     *c = NULL;

    ck_assert_int_eq(nox_client_create(cl, "short", &o, &s), NOX_OK);
    nox_sandbox_free(&s);
    ck_assert(tu_exists(base, "noxrunner_sandbox_short"));
    sleep(2);
    ck_assert_int_eq(nox_client_open_local(&c, &lo, NULL), NOX_OK);
    ck_assert(!tu_exists(base, "noxrunner_sandbox_short"));
    nox_client_close(c);
}
END_TEST

/* A long-lived local client reaps on its own, as a server does: its
 * reaper thread removes a sandbox that expires while the client is open,
 * with no call made in between. */
START_TEST(client_local_reaper_thread_removes_an_expired_sandbox)
{
    nox_create_opts_t o = {.ttl_seconds = 1};
    nox_local_opts_t  lo = {base, 0, 1, 100, "none"}; /* every 100 ms */
    nox_sandbox_t     s;
    nox_client_t     *c = NULL;
    int64_t           end;

    ck_assert_int_eq(nox_client_open_local(&c, &lo, NULL), NOX_OK);
    ck_assert_int_eq(nox_client_create(c, "expiring", &o, &s), NOX_OK);
    nox_sandbox_free(&s);
    ck_assert(tu_exists(base, "noxrunner_sandbox_expiring"));
    end = now_ms() + 5000;
    while (tu_exists(base, "noxrunner_sandbox_expiring") && now_ms() < end)
        usleep(20 * 1000);
    ck_assert_msg(!tu_exists(base, "noxrunner_sandbox_expiring"),
                  "the sandbox outlived its TTL by 4 s in an open client");
    nox_client_close(c);
}
END_TEST

START_TEST(client_create_twice_keeps_the_sandbox)
{
    nox_sandbox_t s;

    create_ok(cl, "twice");
    ck_assert_int_eq(nox_client_create(cl, "twice", NULL, &s), NOX_OK);
    ck_assert(!s.created);
    nox_sandbox_free(&s);
}
END_TEST

START_TEST(client_exec_shell_runs_pipes_and_expands_variables)
{
    nox_exec_t r;

    create_ok(cl, "sh");
    ck_assert_int_eq(nox_client_exec_shell(cl, "sh",
                                           "X=abc; echo $X | tr a-z A-Z", false,
                                           NULL, &r),
                     NOX_OK);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq((char *)r.stdout_data, "ABC\n");
    nox_exec_free(&r);
    ck_assert_int_eq(
        nox_client_exec_shell(cl, "sh", "echo $BASH_VERSION", true, NULL, &r),
        NOX_OK);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_uint_gt(r.stdout_len, 1); /* bash, not sh, ran it */
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_exec_does_not_use_a_shell_for_argv)
{
    nox_exec_t r;

    create_ok(cl, "argv");
    ck_assert_int_eq(RUN(cl, "argv", &r, "echo", "$HOME"), NOX_OK);
    ck_assert_str_eq((char *)r.stdout_data, "$HOME\n");
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_exec_passes_env_workdir_and_stdin)
{
    const char *const env[] = {"GREETING=hi there", "EMPTY="};
    const char *const argv[] = {"sh", "-c",
                                "printf '%s|%s|' \"$GREETING\" \"$EMPTY\"; "
                                "pwd; cat"};
    nox_exec_opts_t   o = {.workdir = "sub/dir",
                           .env = env,
                           .env_len = 2,
                           .stdin_data = "from stdin",
                           .stdin_len = 10};
    nox_exec_t        r;
    const char       *want = "/workspace/sub/dir\nfrom stdin";
    char              dir[PATH_MAX];

    create_ok(cl, "env");
    ck_assert_int_eq(nox_client_exec(cl, "env", argv, 3, &o, &r), NOX_OK);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_msg(strncmp((char *)r.stdout_data, "hi there||", 10) == 0,
                  "stdout: %s", r.stdout_data);
    ck_assert_msg(
        r.stdout_len > strlen(want) &&
            strcmp((char *)r.stdout_data + r.stdout_len - strlen(want), want) ==
                0,
        "stdout: %s", r.stdout_data);
    nox_exec_free(&r);
    join(dir, base, "noxrunner_sandbox_env/workspace");
    ck_assert(tu_exists(dir, "sub/dir"));
}
END_TEST

START_TEST(client_exec_refuses_env_names_with_a_newline_or_control_character)
{
    /* A C caller cannot pass a NUL, but a name with a newline it can: the
     * command must not run with "A\nB" split across two lines. */
    const char *const env[] = {"OK=1", "A\nB=1"};
    const char *const env_tab[] = {"T\tAB=1"};
    const char *const argv[] = {"true"};
    nox_exec_opts_t   o = {.env = env, .env_len = 2};
    nox_exec_t        r;

    create_ok(cl, "envnl");
    ck_assert_int_eq(nox_client_exec(cl, "envnl", argv, 1, &o, &r), NOX_EINVAL);
    ck_assert_str_eq(nox_client_errmsg(cl),
                     "invalid environment variable name: 'A\\x0aB'");
    o.env = env_tab;
    o.env_len = 1;
    ck_assert_int_eq(nox_client_exec(cl, "envnl", argv, 1, &o, &r), NOX_EINVAL);
    ck_assert_str_eq(nox_client_errmsg(cl),
                     "invalid environment variable name: 'T\\x09AB'");
}
END_TEST

START_TEST(client_exec_reports_exit_codes_and_stderr)
{
    nox_exec_t r;

    create_ok(cl, "codes");
    ck_assert_int_eq(nox_client_exec_shell(cl, "codes", "echo oops >&2; exit 3",
                                           false, NULL, &r),
                     NOX_OK);
    ck_assert_int_eq(r.exit_code, 3);
    ck_assert_str_eq((char *)r.stderr_data, "oops\n");
    nox_exec_free(&r);
    ck_assert_int_eq(RUN(cl, "codes", &r, "no-such-command-xyz"), NOX_OK);
    ck_assert_int_eq(r.exit_code, 127);
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_exec_timeout_returns_124)
{
    const char *const argv[] = {"sleep", "10"};
    nox_exec_opts_t   o = {.timeout_seconds = 1};
    nox_exec_t        r;
    int64_t           t0 = now_ms();

    create_ok(cl, "slow");
    ck_assert_int_eq(nox_client_exec(cl, "slow", argv, 2, &o, &r), NOX_OK);
    ck_assert_int_lt(now_ms() - t0, 5000);
    ck_assert_int_eq(r.exit_code, 124);
    ck_assert(r.timed_out);
    ck_assert_int_eq(r.cause, NOX_EXIT_TIMED_OUT);
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_exec_cause_names_cover_every_cause)
{
    static const char *const want[] = {
        "UNSPECIFIED", "EXITED",       "SIGNALED", "TIMED_OUT",
        "OOM_KILLED",  "OUTPUT_LIMIT", "BLOCKED",  "NOT_STARTED"};

    ck_assert_int_eq(NOX_EXIT_UNSPECIFIED, 0);
    ck_assert_int_eq(NOX_EXIT_NOT_STARTED, 7);
    for (int i = 0; i < 8; i++)
        ck_assert_str_eq(nox_exec_cause_name(i), want[i]);
    ck_assert_str_eq(nox_exec_cause_name(NOX_EXIT_BLOCKED), "BLOCKED");
    /* A cause from a newer server, or garbage, still has a name. */
    ck_assert_str_eq(nox_exec_cause_name(8), "UNSPECIFIED");
    ck_assert_str_eq(nox_exec_cause_name(-1), "UNSPECIFIED");
}
END_TEST

/* ---- isolation "namespaces": the level, limits, and how commands end.
 * The suite runs as root on a cgroup v1 machine, where the engine can
 * have namespaces and every limit applies. ---- */

static nox_client_t *
open_namespaces(const char *dir)
{
    nox_local_opts_t  lo = {.base_dir = dir,
                            .quiet = 1,
                            .reap_interval_ms = -1,
                            .isolation = "namespaces"};
    nox_client_opts_t co = {0};
    nox_client_t     *c = NULL;
    char              why[256] = "";

    co.errbuf = why;
    co.errbuf_len = sizeof(why);
    ck_assert_msg(nox_client_open_local(&c, &lo, &co) == NOX_OK,
                  "isolation namespaces: %s", why);
    return c;
}

static void
ns_setup(void)
{
    base = tu_mkdtemp();
    cl = open_namespaces(base);
}

/* The limit called name in s, or NULL. */
static const nox_client_limit_status_t *
limit_named(const nox_sandbox_t *s, const char *name)
{
    for (size_t i = 0; i < s->n_limits; i++) {
        if (strcmp(s->limits[i].name, name) == 0)
            return &s->limits[i];
    }
    return NULL;
}

START_TEST(client_namespaces_health_and_create_report_the_level)
{
    nox_health_t  h;
    nox_sandbox_t s;

    ck_assert_int_eq(nox_client_health(cl, &h), NOX_OK);
    ck_assert_str_eq(h.isolation, "namespaces");
    ck_assert_str_eq(h.isolation_detail, "");
    nox_health_free(&h);
    ck_assert_int_eq(nox_client_create(cl, "ns", NULL, &s), NOX_OK);
    ck_assert_str_eq(s.isolation, "namespaces");
    ck_assert_uint_eq(s.n_limits, 0);
    nox_sandbox_free(&s);
}
END_TEST

START_TEST(client_create_reports_each_limit_applied)
{
    nox_create_opts_t o = {
        .memory_limit = "64Mi", .pids_limit = 64, .cpu_limit = "500m"};
    static const char *const names[] = {"memory_limit", "pids_limit",
                                        "cpu_limit"};
    static const char *const values[] = {"64Mi", "64", "500m"};
    nox_sandbox_t            s;

    ck_assert_int_eq(nox_client_create(cl, "lim", &o, &s), NOX_OK);
    ck_assert_str_eq(s.isolation, "namespaces");
    ck_assert_uint_eq(s.n_limits, 3);
    for (size_t i = 0; i < 3; i++) {
        const nox_client_limit_status_t *l = limit_named(&s, names[i]);
        ck_assert_msg(l != NULL, "no %s in the reply", names[i]);
        ck_assert_str_eq(l->value, values[i]);
        ck_assert_msg(l->applied, "%s not applied: %s", names[i], l->detail);
        ck_assert_msg(strstr(l->detail, "cgroup") != NULL, "%s: %s", names[i],
                      l->detail);
    }
    nox_sandbox_free(&s);
    /* The sandbox still runs commands under them. */
    nox_exec_t r;
    ck_assert_int_eq(RUN(cl, "lim", &r, "echo", "ok"), NOX_OK);
    ck_assert_str_eq((char *)r.stdout_data, "ok\n");
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_create_refuses_a_bad_quantity)
{
    nox_create_opts_t o = {.memory_limit = "5MB"};
    nox_sandbox_t     s = {0};

    ck_assert_int_eq(nox_client_create(cl, "bad", &o, &s), NOX_EINVAL);
    ck_assert_msg(strstr(nox_client_errmsg(cl), "memory_limit") != NULL,
                  "message: %s", nox_client_errmsg(cl));
    ck_assert_ptr_null(s.pod_name); /* out untouched on failure */
}
END_TEST

/* Count the lines of /proc/net/dev: two of header, one per interface. */
static size_t
count_lines(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

/* The lines of our own /proc/net/dev (proc files report size 0, so they
 * are read to the end rather than by their size). */
static size_t
host_net_lines(void)
{
    FILE  *f = fopen("/proc/self/net/dev", "re");
    size_t n = 0;
    int    ch;

    ck_assert_ptr_nonnull(f);
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    ck_assert_int_eq(fclose(f), 0);
    return n;
}

START_TEST(client_create_allow_network_keeps_the_host_network)
{
    nox_create_opts_t o = {.allow_network = true};
    nox_sandbox_t     s;
    nox_exec_t        r;

    create_ok(cl, "lo");
    ck_assert_int_eq(RUN(cl, "lo", &r, "cat", "/proc/net/dev"), NOX_OK);
    ck_assert_msg(count_lines((char *)r.stdout_data) == 3, "%s",
                  (char *)r.stdout_data); /* lo only */
    nox_exec_free(&r);
    ck_assert_int_eq(nox_client_create(cl, "net", &o, &s), NOX_OK);
    nox_sandbox_free(&s);
    ck_assert_int_eq(RUN(cl, "net", &r, "cat", "/proc/net/dev"), NOX_OK);
    ck_assert_uint_eq(count_lines((char *)r.stdout_data), host_net_lines());
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_exec_reports_a_kill_as_signaled)
{
    nox_exec_t r;

    create_ok(cl, "sig");
    ck_assert_int_eq(nox_client_exec_shell(cl, "sig", "echo hi; kill -9 $$",
                                           false, NULL, &r),
                     NOX_OK);
    ck_assert_int_eq(r.cause, NOX_EXIT_SIGNALED);
    ck_assert_int_eq(r.signal, 9);
    ck_assert_int_eq(r.exit_code, 128 + 9);
    ck_assert_str_eq((char *)r.stdout_data, "hi\n");
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_exec_reports_an_exit_as_exited)
{
    nox_exec_t r;

    create_ok(cl, "exit");
    ck_assert_int_eq(
        nox_client_exec_shell(cl, "exit", "exit 3", false, NULL, &r), NOX_OK);
    ck_assert_int_eq(r.cause, NOX_EXIT_EXITED);
    ck_assert_int_eq(r.exit_code, 3);
    ck_assert_int_eq(r.signal, 0);
    ck_assert(!r.timed_out);
    ck_assert_uint_eq(r.stdout_total_bytes, 0);
    ck_assert_uint_eq(r.stderr_total_bytes, 0);
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_exec_reports_a_timeout_as_timed_out)
{
    const char *const argv[] = {"sleep", "5"};
    nox_exec_opts_t   o = {.timeout_seconds = 1};
    nox_exec_t        r;
    int64_t           t0 = now_ms();

    create_ok(cl, "slow");
    ck_assert_int_eq(nox_client_exec(cl, "slow", argv, 2, &o, &r), NOX_OK);
    ck_assert_int_lt(now_ms() - t0, 4000);
    ck_assert_int_eq(r.cause, NOX_EXIT_TIMED_OUT);
    ck_assert_int_eq(r.exit_code, 124);
    ck_assert(r.timed_out);
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_exec_counts_output_past_the_cap)
{
    nox_exec_t r;

    create_ok(cl, "big");
    ck_assert_int_eq(RUN(cl, "big", &r, "head", "-c", "3000000", "/dev/zero"),
                     NOX_OK);
    ck_assert_int_eq(r.cause, NOX_EXIT_EXITED);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_uint_eq(r.stdout_total_bytes, 3000000);
    ck_assert(r.stdout_truncated);
    ck_assert_uint_eq(r.stdout_len, (size_t)1 << 20); /* the default cap */
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_exec_reports_a_missing_command_as_not_started)
{
    nox_exec_t r;

    create_ok(cl, "nf");
    ck_assert_int_eq(RUN(cl, "nf", &r, "nosuchcmd"), NOX_OK);
    ck_assert_int_eq(r.cause, NOX_EXIT_NOT_STARTED);
    ck_assert_int_eq(r.exit_code, 127);
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_exec_reports_cpu_time_and_peak_memory)
{
    nox_exec_t r;

    create_ok(cl, "busy");
    ck_assert_int_eq(nox_client_exec_shell(
                         cl, "busy",
                         "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done",
                         false, NULL, &r),
                     NOX_OK);
    ck_assert_int_eq(r.cause, NOX_EXIT_EXITED);
    ck_assert_uint_gt(r.cpu_user_ms + r.cpu_system_ms, 0);
    ck_assert_uint_gt(r.max_rss_kb, 0);
    nox_exec_free(&r);
}
END_TEST

/* ---- errors ---- */

START_TEST(client_refuses_a_blocked_command)
{
    nox_exec_t r = {0};

    create_ok(cl, "deny");
    ck_assert_int_eq(RUN(cl, "deny", &r, "rm", "-rf", "x"), NOX_EDENIED);
    ck_assert_str_eq(nox_client_errmsg(cl), "command not allowed: rm");
    ck_assert_ptr_null(r.stdout_data); /* out untouched on failure */
    /* A success afterwards clears the message. */
    ck_assert_int_eq(RUN(cl, "deny", &r, "true"), NOX_OK);
    ck_assert_str_eq(nox_client_errmsg(cl), "");
    nox_exec_free(&r);
}
END_TEST

START_TEST(client_unknown_session_is_not_found)
{
    nox_exec_t r;
    char      *exp = NULL;
    uint8_t   *tgz = NULL;
    size_t     len = 0, tlen;
    uint64_t   n;
    tar_ent_t  ent = {"a", AE_IFREG, "b"};
    void      *tar = make_tar_gz(&tlen, &ent, 1);

    ck_assert_int_eq(RUN(cl, "ghost", &r, "true"), NOX_ENOENT);
    ck_assert_int_eq(nox_client_touch(cl, "ghost", &exp), NOX_ENOENT);
    ck_assert_ptr_null(exp);
    ck_assert_int_eq(nox_client_upload(cl, "ghost", NULL, tar, tlen, &n),
                     NOX_ENOENT);
    ck_assert_int_eq(nox_client_download(cl, "ghost", NULL, &tgz, &len),
                     NOX_ENOENT);
    ck_assert_ptr_null(tgz);
    ck_assert_str_ne(nox_client_errmsg(cl), "");
    free(tar);
}
END_TEST

/* A directory NoxRunner's Python local mode made under the same name
 * (no metadata of ours) travels as FAILED_PRECONDITION naming it, and is
 * left as it was. */
START_TEST(client_foreign_directory_is_failed_precondition_and_kept)
{
    char          dir[PATH_MAX], ws[PATH_MAX], want[PATH_MAX + 64];
    nox_sandbox_t s;
    nox_exec_t    r;
    bool          deleted = false;

    join(dir, base, "noxrunner_sandbox_py");
    join(ws, dir, "workspace");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(mkdir(ws, 0755), 0);
    tu_write_file(ws, "notes.txt", "mine", 4);
    (void)snprintf(want, sizeof(want),
                   "a directory not made by noxrunner is in the way: %s", dir);
    ck_assert_int_eq(nox_client_create(cl, "py", NULL, &s), NOX_EPRECOND);
    ck_assert_str_eq(nox_client_errmsg(cl), want);
    ck_assert_int_eq(RUN(cl, "py", &r, "true"), NOX_EPRECOND);
    ck_assert_int_eq(nox_client_delete(cl, "py", &deleted), NOX_EPRECOND);
    ck_assert_str_eq(nox_client_errmsg(cl), want);
    char *kept = tu_read_file(ws, "notes.txt", NULL);
    ck_assert_ptr_nonnull(kept);
    ck_assert_str_eq(kept, "mine");
    free(kept);
}
END_TEST

START_TEST(client_delete_of_unknown_session_is_ok_and_false)
{
    bool deleted = true;

    ck_assert_int_eq(nox_client_delete(cl, "ghost", &deleted), NOX_OK);
    ck_assert(!deleted);
}
END_TEST

START_TEST(client_invalid_session_id_is_einval)
{
    static const char *const bad[] = {"", ".", "..", "../x", "a/b", "a b"};
    nox_sandbox_t            s;
    nox_exec_t               r;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(nox_client_create(cl, bad[i], NULL, &s), NOX_EINVAL);
        ck_assert_int_eq(RUN(cl, bad[i], &r, "true"), NOX_EINVAL);
    }
    ck_assert_int_eq(nox_client_create(cl, NULL, NULL, &s), NOX_EINVAL);
}
END_TEST

START_TEST(client_refuses_env_without_equals_before_sending)
{
    const char *const env[] = {"NOEQUALS"};
    const char *const argv[] = {"true"};
    nox_exec_opts_t   o = {.env = env, .env_len = 1};
    nox_exec_t        r;

    /* No sandbox exists: NOT_FOUND would mean the request was sent. */
    ck_assert_int_eq(nox_client_exec(cl, "none", argv, 1, &o, &r), NOX_EINVAL);
    ck_assert_str_eq(nox_client_errmsg(cl),
                     "env entry 'NOEQUALS' is not KEY=VALUE");
}
END_TEST

START_TEST(client_empty_argv_is_einval)
{
    nox_exec_t r;

    create_ok(cl, "empty");
    ck_assert_int_eq(nox_client_exec(cl, "empty", NULL, 0, NULL, &r),
                     NOX_EINVAL);
}
END_TEST

START_TEST(client_refuses_an_oversized_request_quickly)
{
    nox_client_opts_t o = {.max_message_bytes = 1 << 20};
    nox_client_t     *c = open_local(base, &o);
    size_t            n = 2u << 20;
    char             *big = calloc(1, n);
    const char *const argv[] = {"cat"};
    nox_exec_opts_t   eo = {.stdin_data = big, .stdin_len = n};
    nox_exec_t        r;
    int64_t           t0 = now_ms();

    ck_assert_ptr_nonnull(big);
    create_ok(c, "big");
    ck_assert_int_eq(nox_client_exec(c, "big", argv, 1, &eo, &r),
                     NOX_ERESOURCE);
    ck_assert_int_lt(now_ms() - t0, 1000);
    ck_assert_msg(strstr(nox_client_errmsg(c),
                         "exceeds the server's max_message_bytes (1048576)"),
                  "errmsg: %s", nox_client_errmsg(c));
    free(big);
    nox_client_close(c);
}
END_TEST

/* ---- files and listing ---- */

START_TEST(client_upload_then_download_workspace_round_trips)
{
    static const tar_ent_t files[] = {{"a.txt", AE_IFREG, "alpha\n"},
                                      {"dir/b.txt", AE_IFREG, "beta\n"}};
    size_t                 len;
    void                  *tgz = make_tar_gz(&len, files, 2);
    char                  *dst = tu_mkdtemp();
    char                   out[PATH_MAX];
    uint64_t               n = 0;
    char                  *got;

    create_ok(cl, "files");
    ck_assert_int_eq(nox_client_upload(cl, "files", NULL, tgz, len, &n),
                     NOX_OK);
    ck_assert_uint_eq(n, 2);
    tu_assert_no_link_out_of_a_workspace(base);
    /* The target and its parent do not exist yet: both are created. */
    join(out, dst, "new/out");
    n = 0;
    ck_assert_int_eq(nox_client_download_workspace(cl, "files", NULL, out, &n),
                     NOX_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq((got = tu_read_file(out, "a.txt", NULL)), "alpha\n");
    free(got);
    ck_assert_str_eq((got = tu_read_file(out, "dir/b.txt", NULL)), "beta\n");
    free(got);
    /* A second sync overwrites what the first wrote. */
    ck_assert_int_eq(
        nox_client_download_workspace(cl, "files", "dir", out, NULL), NOX_OK);
    ck_assert_str_eq((got = tu_read_file(out, "b.txt", NULL)), "beta\n");
    free(got);
    free(tgz);
    tu_rmtree_free(dst);
}
END_TEST

START_TEST(client_download_returns_a_gzip_archive)
{
    uint8_t   *tgz = NULL;
    size_t     len = 0;
    nox_exec_t r;

    create_ok(cl, "gz");
    ck_assert_int_eq(RUN(cl, "gz", &r, "touch", "f"), NOX_OK);
    nox_exec_free(&r);
    ck_assert_int_eq(nox_client_download(cl, "gz", NULL, &tgz, &len), NOX_OK);
    ck_assert_uint_gt(len, 2);
    ck_assert_uint_eq(tgz[0], 0x1f);
    ck_assert_uint_eq(tgz[1], 0x8b);
    free(tgz);
}
END_TEST

START_TEST(client_download_workspace_keeps_inside_symlinks)
{
    char      *dst = tu_mkdtemp();
    char       link[PATH_MAX], target[64];
    nox_exec_t r;
    ssize_t    n;

    create_ok(cl, "lnk");
    ck_assert_int_eq(nox_client_exec_shell(cl, "lnk",
                                           "echo hi > a.txt && "
                                           "ln -s a.txt link",
                                           false, NULL, &r),
                     NOX_OK);
    ck_assert_int_eq(r.exit_code, 0);
    nox_exec_free(&r);
    ck_assert_int_eq(nox_client_download_workspace(cl, "lnk", NULL, dst, NULL),
                     NOX_OK);
    join(link, dst, "link");
    n = readlink(link, target, sizeof(target) - 1);
    ck_assert_int_eq(n, 5);
    target[n] = '\0';
    ck_assert_str_eq(target, "a.txt");
    tu_rmtree_free(dst);
}
END_TEST

START_TEST(client_download_workspace_refuses_a_symlink_out)
{
    char      *dst = tu_mkdtemp();
    char       out[PATH_MAX];
    nox_exec_t r;

    create_ok(cl, "evil");
    /* A command can plant a link anywhere in its own workspace. */
    ck_assert_int_eq(nox_client_exec_shell(cl, "evil",
                                           "echo hi > a.txt && "
                                           "ln -s /etc/passwd evil",
                                           false, NULL, &r),
                     NOX_OK);
    ck_assert_int_eq(r.exit_code, 0);
    nox_exec_free(&r);
    join(out, dst, "out");
    ck_assert_int_eq(nox_client_download_workspace(cl, "evil", NULL, out, NULL),
                     NOX_EINVAL);
    ck_assert_msg(strstr(nox_client_errmsg(cl), "'evil'") != NULL, "errmsg: %s",
                  nox_client_errmsg(cl));
    ck_assert(!tu_exists(dst, "out")); /* nothing written at all */
    tu_rmtree_free(dst);
}
END_TEST

START_TEST(client_list_shows_the_session_with_its_path)
{
    nox_sandbox_list_t l;
    char               want[PATH_MAX];
    char              *exp = NULL;
    bool               found = false;

    create_ok(cl, "listed");
    ck_assert_int_eq(nox_client_touch(cl, "listed", &exp), NOX_OK);
    ck_assert_uint_eq(strlen(exp), 20);
    free(exp);
    ck_assert_int_eq(nox_client_list(cl, &l), NOX_OK);
    join(want, base, "noxrunner_sandbox_listed");
    for (size_t i = 0; i < l.len; i++) {
        if (strcmp(l.items[i].session_id, "listed") != 0)
            continue;
        found = true;
        ck_assert_str_eq(l.items[i].pod_name, "local-listed");
        ck_assert_str_eq(l.items[i].path, want);
        ck_assert_uint_eq(strlen(l.items[i].expires_at), 20);
    }
    ck_assert(found);
    nox_sandbox_list_free(&l);
}
END_TEST

START_TEST(client_health_reports_serving)
{
    nox_health_t h;

    ck_assert_int_eq(nox_client_health(cl, &h), NOX_OK);
    ck_assert_str_eq(h.status, "SERVING");
    ck_assert_str_eq(h.version, NOX_VERSION);
    ck_assert_uint_eq(h.max_message_bytes, NOX_DEFAULT_MAX_MESSAGE_BYTES);
    ck_assert_str_eq(h.isolation, "none");    /* the fixture asks for none */
    ck_assert_str_ne(h.isolation_detail, ""); /* and says so */
    nox_health_free(&h);
    ck_assert_int_eq(nox_client_wait_ready(cl, 1000), NOX_OK);
}
END_TEST

START_TEST(client_free_functions_accept_null_and_zeroed)
{
    nox_health_t       h = {0};
    nox_sandbox_t      s = {0};
    nox_exec_t         e = {0};
    nox_sandbox_list_t l = {0};

    nox_health_free(NULL);
    nox_health_free(&h);
    nox_sandbox_free(NULL);
    nox_sandbox_free(&s);
    nox_exec_free(NULL);
    nox_exec_free(&e);
    nox_sandbox_list_free(NULL);
    nox_sandbox_list_free(&l);
    nox_client_close(NULL);
}
END_TEST

/* ---- extraction, white-box: archives a well-behaved server never sends
 * (it stores hard links as files and skips FIFOs), so they are fed to
 * download_workspace's extractor directly ---- */

/* Extract ents into <tmp>/out and expect NOX_EINVAL with needle in the
 * message and nothing written, not even out/ itself. */
static void
expect_refused(const tar_ent_t *ents, size_t n, const char *needle)
{
    char        *dir = tu_mkdtemp();
    char         out[PATH_MAX];
    size_t       len;
    void        *tgz = make_tar_gz(&len, ents, n);
    nox_status_t st = {.code = NOX_OK, .msg = ""};
    uint64_t     files = 99;

    join(out, dir, "out");
    ck_assert_int_eq(nox__extract_tar(tgz, len, out, &files, &st), NOX_EINVAL);
    ck_assert_msg(strstr(st.msg, needle) != NULL, "message: %s", st.msg);
    ck_assert_uint_eq(files, 99);
    ck_assert(!tu_exists(dir, "out"));
    free(tgz);
    tu_rmtree_free(dir);
}

#define OK_FILE                                                                \
    {                                                                          \
        "ok.txt", AE_IFREG, "fine"                                             \
    } /* first: proves nothing written */

START_TEST(extract_refuses_a_hard_link)
{
    tar_ent_t e[] = {OK_FILE, {"h", 0, "ok.txt"}};
    expect_refused(e, 2, "'h' is a hard link");
}
END_TEST

START_TEST(extract_refuses_a_fifo_and_a_device_node)
{
    tar_ent_t f[] = {OK_FILE, {"p", AE_IFIFO, NULL}};
    tar_ent_t d[] = {OK_FILE, {"null", AE_IFCHR, NULL}};
    expect_refused(f, 2, "'p' is a device node, FIFO or socket");
    expect_refused(d, 2, "'null' is a device node, FIFO or socket");
}
END_TEST

START_TEST(extract_refuses_absolute_and_dotdot_names)
{
    tar_ent_t abs[] = {OK_FILE, {"/etc/x", AE_IFREG, "x"}};
    tar_ent_t up[] = {OK_FILE, {"../x", AE_IFREG, "x"}};
    tar_ent_t deep[] = {OK_FILE, {"a/../../x", AE_IFREG, "x"}};
    expect_refused(abs, 2, "'/etc/x' has an absolute path");
    expect_refused(up, 2, "'../x' contains '..'");
    expect_refused(deep, 2, "'a/../../x' contains '..'");
}
END_TEST

START_TEST(extract_refuses_symlinks_leaving_the_directory)
{
    tar_ent_t abs[] = {OK_FILE, {"l", AE_IFLNK, "/etc/passwd"}};
    tar_ent_t up[] = {OK_FILE, {"d/l", AE_IFLNK, "../../x"}};
    tar_ent_t twisty[] = {OK_FILE, {"d/l", AE_IFLNK, "e/../../../x"}};
    expect_refused(abs, 2, "'l' is a symlink to '/etc/passwd', outside");
    expect_refused(up, 2, "'d/l' is a symlink to '../../x', outside");
    expect_refused(twisty, 2, "outside the directory");
}
END_TEST

START_TEST(extract_refuses_a_file_below_an_archive_symlink)
{
    tar_ent_t e[] = {OK_FILE, {"d", AE_IFLNK, "."}, {"./d/x", AE_IFREG, "x"}};
    expect_refused(e, 3, "'./d/x' would be written through the symlink 'd'");
}
END_TEST

START_TEST(extract_refuses_garbage_and_truncated_archives)
{
    tar_ent_t    e[] = {OK_FILE, {"big", AE_IFREG, NULL}};
    char        *dir = tu_mkdtemp();
    char         out[PATH_MAX], big[20000];
    size_t       len;
    void        *tgz;
    nox_status_t st;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    e[1].data = big;
    tgz = make_tar_gz(&len, e, 2);
    join(out, dir, "out");
    ck_assert_int_eq(nox__extract_tar("not gzip", 8, out, NULL, &st),
                     NOX_EINVAL);
    ck_assert_int_eq(nox__extract_tar(tgz, len / 2, out, NULL, &st),
                     NOX_EINVAL);
    ck_assert(!tu_exists(dir, "out"));
    free(tgz);
    tu_rmtree_free(dir);
}
END_TEST

START_TEST(extract_never_writes_through_a_local_symlink)
{
    tar_ent_t    e[] = {{"sub/x", AE_IFREG, "x"}, {"a", AE_IFREG, "new"}};
    char        *dir = tu_mkdtemp(), *outside = tu_mkdtemp();
    char         out[PATH_MAX], path[PATH_MAX], victim[PATH_MAX];
    size_t       len;
    void        *tgz = make_tar_gz(&len, e, 2);
    nox_status_t st;
    struct stat  sb;

    join(out, dir, "out");
    ck_assert_int_eq(mkdir(out, 0755), 0);
    tu_write_file(outside, "victim", "old", 3);
    join(victim, outside, "victim");
    join(path, out, "a");
    ck_assert_int_eq(symlink(victim, path), 0); /* last component */
    ck_assert_int_eq(nox__extract_tar(tgz, len, out, NULL, &st), NOX_OK);
    ck_assert_int_eq(lstat(path, &sb), 0);
    ck_assert(S_ISREG(sb.st_mode)); /* the link was replaced */
    char *got = tu_read_file(outside, "victim", NULL);
    ck_assert_str_eq(got, "old");
    free(got);
    /* A symlinked directory on the way is refused: sub/ moves out and a
     * link to it takes its place. */
    join(path, out, "sub");
    join(victim, outside, "sub");
    ck_assert_int_eq(rename(path, victim), 0);
    ck_assert_int_eq(symlink(victim, path), 0);
    ck_assert_int_eq(nox__extract_tar(tgz, len, out, NULL, &st), NOX_EINVAL);
    ck_assert_msg(strstr(st.msg, "sub/x") != NULL, "message: %s", st.msg);
    free(tgz);
    tu_rmtree_free(outside);
    tu_rmtree_free(dir);
}
END_TEST

/* ---- server mode: noxrunner's server on ipc:// ---- */

typedef struct {
    char         *dir;
    nox_engine_t *engine;
    nox_server_t *server;
    char          url[PATH_MAX];
} srv_t;

/* Serve a fresh engine on ipc://<dir>/s.sock; dir (owned by s from now
 * on) is a new temporary directory when NULL. */
static void
srv_start(srv_t *s, char *dir, int workers, size_t max_message_bytes)
{
    nox_engine_opts_t eo = {.quiet = 1, .isolation = NOX_ISOLATION_NONE};
    const char       *urls[1];
    nox_server_opts_t so = {0};
    nox_status_t      st;

    s->dir = dir != NULL ? dir : tu_mkdtemp();
    eo.base_dir = s->dir;
    ck_assert_int_eq(nox_engine_open(&s->engine, &eo, &st), NOX_OK);
    snprintf(s->url, sizeof(s->url), "ipc://%s/s.sock", s->dir);
    urls[0] = s->url;
    so.engine = s->engine;
    so.urls = urls;
    so.n_urls = 1;
    so.workers = workers;
    so.max_message_bytes = max_message_bytes;
    so.reap_interval_ms = -1;
    ck_assert_msg(nox_server_start(&s->server, &so, &st) == NOX_OK, "%s",
                  st.msg);
}

static void
srv_stop(srv_t *s)
{
    nox_server_stop(s->server);
    nox_engine_close(s->engine);
    tu_rmtree_free(s->dir);
}

static nox_client_t *
srv_client(const srv_t *s, int64_t timeout_ms)
{
    nox_client_opts_t o = {.timeout_ms = timeout_ms};
    nox_client_t     *c = NULL;

    ck_assert_int_eq(nox_client_open(&c, s->url, &o), NOX_OK);
    return c;
}

/* One step's observable outcome. */
typedef struct {
    nox_err_t code;
    int32_t   exit_code;
    char     *out;
    char     *msg;
} outcome_t;

#define PARITY_STEPS 12

static void
record(outcome_t *o, nox_client_t *c, nox_err_t code, nox_exec_t *r)
{
    o->code = code;
    o->msg = strdup(nox_client_errmsg(c));
    o->exit_code = code == NOX_OK && r != NULL ? r->exit_code : -1;
    o->out = strdup(code == NOX_OK && r != NULL ? (char *)r->stdout_data : "");
    if (code == NOX_OK && r != NULL)
        nox_exec_free(r);
}

static void
parity_sequence(nox_client_t *c, outcome_t o[PARITY_STEPS])
{
    nox_sandbox_t s;
    nox_exec_t    r;
    bool          d = false;
    char         *exp;
    int           i = 0;
    nox_err_t     e;

    e = nox_client_create(c, "parity", NULL, &s);
    record(&o[i++], c, e, NULL);
    nox_sandbox_free(e == NOX_OK ? &s : NULL);
    record(&o[i++], c, RUN(c, "parity", &r, "echo", "Hello"), &r);
    record(&o[i++], c,
           nox_client_exec_shell(c, "parity", "echo out; echo err >&2; exit 3",
                                 false, NULL, &r),
           &r);
    record(&o[i++], c,
           nox_client_exec_shell(c, "parity", "basename \"$HOME\"", false, NULL,
                                 &r),
           &r);
    record(&o[i++], c, RUN(c, "parity", &r, "rm", "-rf", "x"), &r);
    record(&o[i++], c, RUN(c, "parity", &r, "env", "RM", "x"), &r);
    record(&o[i++], c, RUN(c, "nobody", &r, "true"), &r);
    record(&o[i++], c, RUN(c, "../x", &r, "true"), &r);
    e = nox_client_touch(c, "parity", &exp);
    record(&o[i++], c, e, NULL);
    free(e == NOX_OK ? exp : NULL);
    e = nox_client_delete(c, "parity", &d);
    record(&o[i++], c, e, NULL);
    o[i - 1].exit_code = d;
    e = nox_client_delete(c, "parity", &d);
    record(&o[i++], c, e, NULL);
    o[i - 1].exit_code = d;
    record(&o[i++], c, RUN(c, "parity", &r, "true"), &r);
    ck_assert_int_eq(i, PARITY_STEPS);
}

START_TEST(client_server_mode_matches_local_mode)
{
    outcome_t     local[PARITY_STEPS], remote[PARITY_STEPS];
    srv_t         s;
    char         *b = tu_mkdtemp();
    nox_client_t *lc = open_local(b, NULL), *rc;

    srv_start(&s, NULL, 4, 0);
    rc = srv_client(&s, 5000);
    parity_sequence(lc, local);
    parity_sequence(rc, remote);
    for (int i = 0; i < PARITY_STEPS; i++) {
        ck_assert_msg(local[i].code == remote[i].code, "step %d: code %d vs %d",
                      i, local[i].code, remote[i].code);
        ck_assert_int_eq(local[i].exit_code, remote[i].exit_code);
        ck_assert_str_eq(local[i].out, remote[i].out);
        ck_assert_str_eq(local[i].msg, remote[i].msg);
        free(local[i].out);
        free(local[i].msg);
        free(remote[i].out);
        free(remote[i].msg);
    }
    /* Spot checks, so that parity is not parity of two failures. */
    ck_assert_int_eq(remote[1].exit_code, 0);
    ck_assert_int_eq(remote[2].exit_code, 3);
    ck_assert_int_eq(remote[4].code, NOX_EDENIED);
    ck_assert_int_eq(remote[6].code, NOX_ENOENT);
    ck_assert_int_eq(remote[7].code, NOX_EINVAL);
    nox_client_close(rc);
    nox_client_close(lc);
    srv_stop(&s);
    tu_rmtree_free(b);
}
END_TEST

START_TEST(client_wait_ready_on_a_live_server_is_ok)
{
    srv_t         s;
    nox_client_t *c;
    nox_health_t  h;

    srv_start(&s, NULL, 2, 0);
    c = srv_client(&s, 2000);
    ck_assert_int_eq(nox_client_wait_ready(c, 5000), NOX_OK);
    ck_assert_int_eq(nox_client_health(c, &h), NOX_OK);
    ck_assert_str_eq(h.status, "SERVING");
    nox_health_free(&h);
    nox_client_close(c);
    srv_stop(&s);
}
END_TEST

/* The new reply fields travel over a real socket too. */
START_TEST(client_server_mode_reports_isolation_limits_and_cause)
{
    nox_create_opts_t o = {.memory_limit = "64Mi"};
    srv_t             s;
    nox_client_t     *c;
    nox_health_t      h;
    nox_sandbox_t     sb;
    nox_exec_t        r;
    nox_err_t         e;

    srv_start(&s, NULL, 2, 0);
    c = srv_client(&s, 5000);
    ck_assert_int_eq(nox_client_health(c, &h), NOX_OK);
    ck_assert_str_eq(h.isolation, "none"); /* srv_start asks for none */
    ck_assert_str_ne(h.isolation_detail, "");
    nox_health_free(&h);
    ck_assert_int_eq(nox_client_create(c, "wire", &o, &sb), NOX_OK);
    ck_assert_str_eq(sb.isolation, "none");
    ck_assert_uint_eq(sb.n_limits, 1);
    ck_assert_str_eq(sb.limits[0].name, "memory_limit");
    ck_assert_str_eq(sb.limits[0].value, "64Mi");
    ck_assert_str_ne(sb.limits[0].detail, "");
    nox_sandbox_free(&sb);
    e = nox_client_exec_shell(c, "wire", "printf abc; exit 3", false, NULL, &r);
    ck_assert_int_eq(e, NOX_OK);
    ck_assert_int_eq(r.cause, NOX_EXIT_EXITED);
    ck_assert_int_eq(r.exit_code, 3);
    ck_assert_uint_eq(r.stdout_total_bytes, 3);
    nox_exec_free(&r);
    nox_client_close(c);
    srv_stop(&s);
}
END_TEST

START_TEST(client_open_succeeds_before_the_server_starts)
{
    srv_t         s;
    nox_client_t *c = NULL;
    char         *dir = tu_mkdtemp();
    char          url[PATH_MAX];

    snprintf(url, sizeof(url), "ipc://%s/s.sock", dir);
    ck_assert_int_eq(nox_client_open(&c, url, NULL), NOX_OK);
    srv_start(&s, dir, 2, 0); /* the same socket path */
    ck_assert_int_eq(nox_client_wait_ready(c, 5000), NOX_OK);
    nox_client_close(c);
    srv_stop(&s);
}
END_TEST

/* wait_ready keeps to its own timeout even when the client's per-call
 * budget is longer (the default 30 s here). */
START_TEST(client_wait_ready_keeps_to_its_timeout)
{
    char         *dir = tu_mkdtemp();
    char          url[PATH_MAX];
    nox_client_t *c = NULL;
    int64_t       t0;

    snprintf(url, sizeof(url), "ipc://%s/nobody.sock", dir);
    ck_assert_int_eq(nox_client_open(&c, url, NULL), NOX_OK);
    t0 = now_ms();
    ck_assert_int_eq(nox_client_wait_ready(c, 300), NOX_ETIMEDOUT);
    ck_assert_int_lt(now_ms() - t0, 2000);
    ck_assert_msg(strstr(nox_client_errmsg(c), "not ready within 300 ms") !=
                      NULL,
                  "errmsg: %s", nox_client_errmsg(c));
    nox_client_close(c);
    tu_rmtree_free(dir);
}
END_TEST

START_TEST(client_unreachable_server_is_unavailable_quickly)
{
    char             *dir = tu_mkdtemp();
    char              url[PATH_MAX];
    nox_client_opts_t o = {.timeout_ms = 300};
    nox_client_t     *c = NULL;
    nox_health_t      h;
    int64_t           t0;

    snprintf(url, sizeof(url), "ipc://%s/nobody.sock", dir);
    ck_assert_int_eq(nox_client_open(&c, url, &o), NOX_OK);
    t0 = now_ms();
    ck_assert_int_eq(nox_client_health(c, &h), NOX_EUNAVAIL);
    ck_assert_int_lt(now_ms() - t0, 1000);
    ck_assert_msg(strncmp(nox_client_errmsg(c), "cannot reach ipc://", 19) == 0,
                  "errmsg: %s", nox_client_errmsg(c));
    ck_assert_msg(strstr(nox_client_errmsg(c), "within 300 ms") != NULL,
                  "errmsg: %s", nox_client_errmsg(c));
    ck_assert_int_eq(nox_client_wait_ready(c, 300), NOX_ETIMEDOUT);
    nox_client_close(c);
    tu_rmtree_free(dir);
}
END_TEST

/* Exec's budget includes the command's timeout (30 s by default), but
 * reaching the server must not: a dead server fails within timeout_ms. */
START_TEST(client_exec_on_unreachable_server_fails_within_the_call_budget)
{
    char             *dir = tu_mkdtemp();
    char              url[PATH_MAX];
    nox_client_opts_t o = {.timeout_ms = 300};
    nox_client_t     *c = NULL;
    nox_exec_t        r;
    const char       *argv[] = {"true"};
    int64_t           t0;

    snprintf(url, sizeof(url), "ipc://%s/nobody.sock", dir);
    ck_assert_int_eq(nox_client_open(&c, url, &o), NOX_OK);
    t0 = now_ms();
    ck_assert_int_eq(nox_client_exec(c, "s", argv, 1, NULL, &r), NOX_EUNAVAIL);
    ck_assert_int_lt(now_ms() - t0, 1000);
    ck_assert_msg(strstr(nox_client_errmsg(c), "within 300 ms") != NULL,
                  "errmsg: %s", nox_client_errmsg(c));
    nox_client_close(c);
    tu_rmtree_free(dir);
}
END_TEST

START_TEST(client_open_rejects_a_bad_url)
{
    nox_client_t *c = (nox_client_t *)&c; /* sentinel: must stay */

    ck_assert_int_eq(nox_client_open(&c, "ftp://example.com", NULL),
                     NOX_EINVAL);
    ck_assert_int_eq(nox_client_open(&c, "http://", NULL), NOX_EINVAL);
    ck_assert_int_eq(nox_client_open(&c, "no scheme at all", NULL), NOX_EINVAL);
    ck_assert_int_eq(nox_client_open(&c, "", NULL), NOX_EINVAL);
    ck_assert_int_eq(nox_client_open(&c, NULL, NULL), NOX_EINVAL);
    ck_assert_ptr_eq(c, (nox_client_t *)&c);
    ck_assert_int_eq(nox_client_open(NULL, "ipc:///tmp/x", NULL), NOX_EINVAL);
}
END_TEST

/* A server that completes the SP handshake as rep0 on every connection
 * and then never answers: what a client sees of a hung server. Each
 * connection gets its handshake (a client whose handshake is cut off
 * meets an nng 1.5.2 bug that stops its dialer for good). */
#define SILENT_MAX 16
typedef struct {
    int         lfd, stop_fd; /* stop_fd: a pipe's read end */
    int         fds[SILENT_MAX];
    pthread_t   th;
    _Atomic int handshakes; /* connections given their handshake */
} silent_t;

static void
silent_accept(silent_t *q)
{
    const uint8_t hdr[8] = {0, 'S', 'P', 0, 0, 49 /* rep0 */, 0, 0};
    int           fd = accept4(q->lfd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0)
        return;
    for (int i = 0; i < SILENT_MAX; i++) {
        if (q->fds[i] < 0) {
            q->fds[i] = fd;
            if (write(fd, hdr, sizeof(hdr)) == sizeof(hdr)) {
                q->handshakes++;
                return;
            }
            q->fds[i] = -1;
            break;
        }
    }
    (void)close(fd);
}

static void *
silent_main(void *arg)
{
    silent_t     *q = arg;
    struct pollfd p[SILENT_MAX + 2];
    uint8_t       buf[4096];

    for (;;) {
        p[0] = (struct pollfd){q->stop_fd, POLLIN, 0};
        p[1] = (struct pollfd){q->lfd, POLLIN, 0};
        for (int i = 0; i < SILENT_MAX; i++)
            p[i + 2] = (struct pollfd){q->fds[i], POLLIN, 0};
        if (poll(p, SILENT_MAX + 2, -1) < 0 || p[0].revents != 0)
            return NULL;
        if (p[1].revents & POLLIN)
            silent_accept(q);
        for (int i = 0; i < SILENT_MAX; i++) {
            /* Swallow requests; drop connections the client closed. */
            if (p[i + 2].revents != 0 &&
                read(q->fds[i], buf, sizeof(buf)) <= 0) {
                (void)close(q->fds[i]);
                q->fds[i] = -1;
            }
        }
    }
}

static void
silent_start(silent_t *q, const char *path, int stop_pipe[2])
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    for (int i = 0; i < SILENT_MAX; i++)
        q->fds[i] = -1;
    q->handshakes = 0;
    ck_assert_int_eq(pipe2(stop_pipe, O_CLOEXEC), 0);
    q->stop_fd = stop_pipe[0];
    q->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(q->lfd, 0);
    ck_assert_int_eq(bind(q->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(q->lfd, 4), 0);
    ck_assert_int_eq(pthread_create(&q->th, NULL, silent_main, q), 0);
}

static void
silent_stop(silent_t *q, const char *path, int stop_pipe[2])
{
    ck_assert_int_eq(close(stop_pipe[1]), 0); /* wakes the poll */
    ck_assert_int_eq(pthread_join(q->th, NULL), 0);
    for (int i = 0; i < SILENT_MAX; i++)
        if (q->fds[i] >= 0)
            ck_assert_int_eq(close(q->fds[i]), 0);
    ck_assert_int_eq(close(q->lfd), 0);
    ck_assert_int_eq(close(stop_pipe[0]), 0);
    ck_assert_int_eq(unlink(path), 0);
}

START_TEST(client_silent_server_times_out_not_unavailable)
{
    srv_t         s;
    silent_t      q;
    nox_client_t *c;
    nox_health_t  h;
    int64_t       t0;
    char         *dir = tu_mkdtemp();
    char          url[PATH_MAX];
    int           stop_pipe[2];

    (void)snprintf(url, sizeof(url), "ipc://%s/s.sock", dir);
    silent_start(&q, url + 6, stop_pipe);
    nox_client_opts_t o = {.timeout_ms = 300};
    ck_assert_int_eq(nox_client_open(&c, url, &o), NOX_OK);
    t0 = now_ms();
    ck_assert_int_eq(nox_client_health(c, &h), NOX_ETIMEDOUT);
    ck_assert_int_lt(now_ms() - t0, 1000);
    ck_assert_msg(strstr(nox_client_errmsg(c), "no reply from ipc://"),
                  "errmsg: %s", nox_client_errmsg(c));
    /* The hung server is replaced by a live one at the same path: the
     * timed-out client reconnects and works again. It dialed anew after
     * the timeout: let that connection come up first (one cut off in its
     * handshake would meet an nng 1.5.2 bug that stops the dialer). */
    t0 = now_ms();
    while (q.handshakes < 2 && now_ms() - t0 < 2000)
        usleep(1000);
    ck_assert_int_eq(q.handshakes, 2);
    usleep(50 * 1000); /* and the client has read its half */
    silent_stop(&q, url + 6, stop_pipe);
    srv_start(&s, dir, 1, 0);
    /* Its dialer backs off (up to a second) while no file is there. */
    t0 = now_ms();
    while (nox_client_health(c, &h) != NOX_OK)
        ck_assert_msg(now_ms() - t0 < 3000, "%s", nox_client_errmsg(c));
    nox_health_free(&h);
    nox_client_close(c);
    srv_stop(&s);
}
END_TEST

START_TEST(client_learns_the_server_limit_before_a_large_request)
{
    srv_t             s;
    nox_client_t     *c;
    size_t            n = 2u << 20;
    char             *big = calloc(1, n);
    const char *const argv[] = {"cat"};
    nox_exec_opts_t   eo = {.stdin_data = big, .stdin_len = n};
    nox_exec_t        r;

    ck_assert_ptr_nonnull(big);
    srv_start(&s, NULL, 2, 1 << 20);
    c = srv_client(&s, 5000); /* max_message_bytes 0: ask the server */
    create_ok(c, "big");
    ck_assert_int_eq(nox_client_exec(c, "big", argv, 1, &eo, &r),
                     NOX_ERESOURCE);
    ck_assert_msg(strstr(nox_client_errmsg(c), "(1048576)") != NULL,
                  "errmsg: %s", nox_client_errmsg(c));
    /* The client still works afterwards. */
    ck_assert_int_eq(RUN(c, "big", &r, "true"), NOX_OK);
    nox_exec_free(&r);
    free(big);
    nox_client_close(c);
    srv_stop(&s);
}
END_TEST

/* The server's socket file (inode 0: none). */
static ino_t
srv_file_ino(const srv_t *s)
{
    struct stat sb;

    return stat(s->url + 6, &sb) == 0 ? sb.st_ino : 0;
}

/* A client that is closed right after opening waits (briefly) for its
 * background dial to finish the handshake: hanging up in the middle
 * breaks an ipc listener of nng 1.5.2, and the server would have to bind
 * a fresh one, replacing its socket file. */
START_TEST(client_closed_right_after_open_leaves_the_listener_intact)
{
    srv_t         s;
    nox_client_t *c;
    nox_health_t  h;
    ino_t         ino;

    srv_start(&s, NULL, 2, 0);
    ino = srv_file_ino(&s);
    ck_assert_uint_ne(ino, 0);
    for (int i = 0; i < 30; i++) {
        int64_t t0 = now_ms();
        c = srv_client(&s, 2000);
        nox_client_close(c);
        ck_assert_int_lt(now_ms() - t0, 1000);
    }
    usleep(100 * 1000); /* well past the server's next check */
    ck_assert_uint_eq(srv_file_ino(&s), ino);
    c = srv_client(&s, 2000);
    ck_assert_int_eq(nox_client_health(c, &h), NOX_OK);
    nox_health_free(&h);
    nox_client_close(c);
    srv_stop(&s);
}
END_TEST

/* Connect to the server's socket and hang up at once. */
static void
half_open(const srv_t *s)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_uint_lt(strlen(s->url + 6), sizeof(sa.sun_path));
    memcpy(sa.sun_path, s->url + 6, strlen(s->url + 6) + 1);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(close(fd), 0);
}

/* A client that connects just after such a hang-up reaches the broken
 * listener; the server cuts it off once it has bound a fresh one, and a
 * call that only reads is sent again on a new connection. */
START_TEST(client_health_is_sent_again_when_a_broken_listener_drops_it)
{
    srv_t        s;
    nox_health_t h;

    srv_start(&s, NULL, 2, 0);
    for (int i = 0; i < 5; i++) {
        int64_t       t0 = now_ms();
        nox_client_t *c;

        half_open(&s);
        c = srv_client(&s, 3000);
        ck_assert_msg(nox_client_health(c, &h) == NOX_OK, "round %d: %s", i,
                      nox_client_errmsg(c));
        nox_health_free(&h);
        ck_assert_int_lt(now_ms() - t0, 1000);
        nox_client_close(c);
    }
    srv_stop(&s);
    /* nng 1.5.2 never frees the connections that got stuck in a broken
     * listener (server/listener.c): end without the exit-time leak check,
     * so that LeakSanitizer judges our code only. */
    _exit(0);
}
END_TEST

/* ---- parity: the same cases over every transport ---- */

/* How the fixture reaches the engine: in-process, or noxrunnerd (a child
 * process on base) over one of its transports. */
typedef struct {
    const char *name;
    const char *scheme; /* of the URL noxrunnerd announces; NULL: local */
} transport_t;

static tp_child_t daemon_child; /* per test: Check forks each test */

static void
parity_setup(const transport_t *t)
{
    char  bin[PATH_MAX], ipc[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    char *argv[20];
    int   n = 0;
    nox_client_opts_t o = {0};
    char              err[256] = "";

    base = tu_mkdtemp();
    memset(&daemon_child, 0, sizeof(daemon_child));
    if (t->scheme == NULL) {
        cl = open_local(base, NULL);
        return;
    }
    tp_build_path(bin, sizeof(bin), "noxrunnerd");
    snprintf(ipc, sizeof(ipc), "ipc://%s/s.sock", base);
    snprintf(cert, sizeof(cert), "%s/cert.pem", base);
    snprintf(key, sizeof(key), "%s/key.pem", base);
    argv[n++] = bin;
    argv[n++] = "--listen";
    argv[n++] = ipc;
    argv[n++] = "--base-dir";
    argv[n++] = base;
    argv[n++] = "--isolation";
    argv[n++] = "none";
    argv[n++] = "--reap-interval";
    argv[n++] = "0";
    argv[n++] = "--quiet";
    if (strcmp(t->scheme, "tcp://") == 0) {
        argv[n++] = "--listen";
        argv[n++] = "tcp://127.0.0.1:0";
    } else if (strcmp(t->scheme, "http://") == 0) {
        argv[n++] = "--http";
        argv[n++] = "127.0.0.1:0";
    } else if (strcmp(t->scheme, "https://") == 0) {
        tp_make_cert(base);
        argv[n++] = "--https";
        argv[n++] = "127.0.0.1:0";
        argv[n++] = "--tls-cert";
        argv[n++] = cert;
        argv[n++] = "--tls-key";
        argv[n++] = key;
        o.ca_file = cert;
    }
    argv[n] = NULL;
    tp_start(&daemon_child, argv, base, "noxrunnerd.log", t->scheme);
    o.errbuf = err;
    o.errbuf_len = sizeof(err);
    ck_assert_msg(nox_client_open(&cl, daemon_child.url, &o) == NOX_OK,
                  "open %s: %s", daemon_child.url, err);
    ck_assert_msg(nox_client_wait_ready(cl, 10000) == NOX_OK, "%s: %s",
                  daemon_child.url, nox_client_errmsg(cl));
}

static void
parity_teardown(void)
{
    nox_client_close(cl);
    (void)tp_stop(&daemon_child);
    tu_rmtree_free(base);
}

static const transport_t transports[] = {
    {"in-process", NULL}, {"ipc", "ipc://"},     {"tcp", "tcp://"},
    {"http", "http://"},  {"https", "https://"},
};

/* Check fixtures take no argument: one setup per row of transports. */
static void
parity_setup_0(void)
{
    parity_setup(&transports[0]);
}
static void
parity_setup_1(void)
{
    parity_setup(&transports[1]);
}
static void
parity_setup_2(void)
{
    parity_setup(&transports[2]);
}
static void
parity_setup_3(void)
{
    parity_setup(&transports[3]);
}
static void
parity_setup_4(void)
{
    parity_setup(&transports[4]);
}

static void (*const parity_setups[])(void) = {
    parity_setup_0, parity_setup_1, parity_setup_2,
    parity_setup_3, parity_setup_4,
};

/* The cases every transport runs alike. */
static void
parity_add_cases(TCase *tc)
{
    tcase_add_test(tc, client_runs_the_seed_flow);
    tcase_add_test(tc, client_create_twice_keeps_the_sandbox);
    tcase_add_test(tc, client_exec_shell_runs_pipes_and_expands_variables);
    tcase_add_test(tc, client_exec_does_not_use_a_shell_for_argv);
    tcase_add_test(tc, client_exec_passes_env_workdir_and_stdin);
    tcase_add_test(
        tc, client_exec_refuses_env_names_with_a_newline_or_control_character);
    tcase_add_test(tc, client_exec_reports_exit_codes_and_stderr);
    tcase_add_test(tc, client_exec_timeout_returns_124);
    tcase_add_test(tc, client_health_reports_serving);
    tcase_add_test(tc, client_refuses_a_blocked_command);
    tcase_add_test(tc, client_unknown_session_is_not_found);
    tcase_add_test(tc,
                   client_foreign_directory_is_failed_precondition_and_kept);
    tcase_add_test(tc, client_delete_of_unknown_session_is_ok_and_false);
    tcase_add_test(tc, client_invalid_session_id_is_einval);
    tcase_add_test(tc, client_refuses_env_without_equals_before_sending);
    tcase_add_test(tc, client_empty_argv_is_einval);
    tcase_add_test(tc, client_upload_then_download_workspace_round_trips);
    tcase_add_test(tc, client_download_returns_a_gzip_archive);
    tcase_add_test(tc, client_download_workspace_keeps_inside_symlinks);
    tcase_add_test(tc, client_download_workspace_refuses_a_symlink_out);
    tcase_add_test(tc, client_list_shows_the_session_with_its_path);
}

static Suite *
client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc;

    for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++) {
        tc = tcase_create(transports[i].name);
        tcase_add_checked_fixture(tc, parity_setups[i], parity_teardown);
        tcase_set_timeout(tc, 60);
        parity_add_cases(tc);
        suite_add_tcase(s, tc);
    }

    tc = tcase_create("local");
    tcase_add_checked_fixture(tc, local_setup, local_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, client_local_open_reaps_expired_sandboxes);
    tcase_add_test(tc, client_local_reaper_thread_removes_an_expired_sandbox);
    tcase_add_test(tc, client_free_functions_accept_null_and_zeroed);
    tcase_add_test(tc, client_exec_cause_names_cover_every_cause);
    tcase_add_test(tc, client_refuses_an_oversized_request_quickly);
    suite_add_tcase(s, tc);

    tc = tcase_create("namespaces");
    tcase_add_checked_fixture(tc, ns_setup, local_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, client_namespaces_health_and_create_report_the_level);
    tcase_add_test(tc, client_create_reports_each_limit_applied);
    tcase_add_test(tc, client_create_refuses_a_bad_quantity);
    tcase_add_test(tc, client_create_allow_network_keeps_the_host_network);
    tcase_add_test(tc, client_exec_reports_a_kill_as_signaled);
    tcase_add_test(tc, client_exec_reports_an_exit_as_exited);
    tcase_add_test(tc, client_exec_reports_a_timeout_as_timed_out);
    tcase_add_test(tc, client_exec_counts_output_past_the_cap);
    tcase_add_test(tc, client_exec_reports_a_missing_command_as_not_started);
    tcase_add_test(tc, client_exec_reports_cpu_time_and_peak_memory);
    suite_add_tcase(s, tc);

    tc = tcase_create("extract");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, extract_refuses_a_hard_link);
    tcase_add_test(tc, extract_refuses_a_fifo_and_a_device_node);
    tcase_add_test(tc, extract_refuses_absolute_and_dotdot_names);
    tcase_add_test(tc, extract_refuses_symlinks_leaving_the_directory);
    tcase_add_test(tc, extract_refuses_a_file_below_an_archive_symlink);
    tcase_add_test(tc, extract_refuses_garbage_and_truncated_archives);
    tcase_add_test(tc, extract_never_writes_through_a_local_symlink);
    suite_add_tcase(s, tc);

    tc = tcase_create("server");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, client_server_mode_matches_local_mode);
    tcase_add_test(tc, client_wait_ready_on_a_live_server_is_ok);
    tcase_add_test(tc, client_wait_ready_keeps_to_its_timeout);
    tcase_add_test(tc, client_server_mode_reports_isolation_limits_and_cause);
    tcase_add_test(tc, client_open_succeeds_before_the_server_starts);
    tcase_add_test(tc, client_unreachable_server_is_unavailable_quickly);
    tcase_add_test(
        tc, client_exec_on_unreachable_server_fails_within_the_call_budget);
    tcase_add_test(tc, client_open_rejects_a_bad_url);
    tcase_add_test(tc, client_silent_server_times_out_not_unavailable);
    tcase_add_test(tc, client_learns_the_server_limit_before_a_large_request);
    tcase_add_test(tc,
                   client_closed_right_after_open_leaves_the_listener_intact);
    tcase_add_test(tc,
                   client_health_is_sent_again_when_a_broken_listener_drops_it);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    nox_status_t st;

    /* The extractor is compiled into this file, so its libarchive calls
     * and the ones building test archives here go through the table of
     * nox_archive.h: load it once, before any test (they fork from here). */
    if (nox__archive_load(&st) != NOX_OK) {
        fprintf(stderr, "%s\n", st.msg);
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(client_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
