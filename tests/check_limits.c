/* check_limits.c - resource quantities and per-sandbox cgroups. */
#include "cgroup.h"
#include "quantity.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MiB (UINT64_C(1) << 20)

/* ------------------------------------------------------------------ */
/* quantities                                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *in;
    uint64_t    want;
} qty_ok_t;

/* want is a substring of the message; NULL means the syntax message. */
typedef struct {
    const char *in;
    const char *want;
} qty_bad_t;

static const qty_ok_t cpu_ok[] = {
    {"1", 1000},
    {"500m", 500},
    {"0.5", 500},
    {"2", 2000},
    {"100m", 100},
    {"1.5", 1500},
    {"0.25", 250},
    {"+1", 1000},
    {"2k", 2000000},
    {"1e3", 1000000},
    {".5", 500},
    {"5.", 5000},
    {"1000000", 1000000000},
    {"0.0001", 1}, /* a tenth of a millicore rounds up */
    {"1500u", 2},  /* 1.5 millicores round up */
};

static const qty_ok_t bytes_ok[] = {
    {"512Mi", 536870912},
    {"1Gi", 1073741824},
    {"1G", 1000000000},
    {"100M", 100000000},
    {"1k", 1000},
    {"1Ki", 1024},
    {"123", 123},
    {"1e3", 1000},
    {"1E3", 1000},
    {"1.5Gi", 1610612736},
    {"0.5Ki", 512},
    {"+2Mi", 2097152},
    {"1Ei", UINT64_C(1152921504606846976)},
    {"15Ei", UINT64_C(17293822569102704640)},
    {"18446744073709551615", UINT64_MAX},
    {"0.5", 1},  /* half a byte rounds up */
    {"100m", 1}, /* a tenth of a byte too */
    {"1e-999", 1},
};

static const qty_bad_t common_bad[] = {
    {"", NULL},
    {" 1", NULL},
    {"1 ", NULL},
    {"-1", NULL},
    {"abc", NULL},
    {"1.2.3", NULL},
    {"5MB", NULL},
    {"1mi", NULL},
    {"0x10", NULL},
    {"Gi", NULL},
    {".", NULL},
    {"1e", NULL},
    {"1K", NULL},
    {"1 Gi", NULL},
    {"0", "must be greater than zero"},
    {"0Mi", "must be greater than zero"},
    {"0.000", "must be greater than zero"},
    {"1e999", "is too large"},
    {"99999999999999999999Ei", "is too large"},
};

static void
assert_bad(nox_err_t (*parse)(const char *, const char *, uint64_t *,
                              nox_status_t *),
           const char *field, const char *examples, const qty_bad_t *c)
{
    nox_status_t st;
    uint64_t     out = 42;
    char         want[256];
    nox_err_t    rv = parse(field, c->in, &out, &st);

    ck_assert_msg(rv == NOX_EINVAL, "'%s': rv %d, value %" PRIu64, c->in, rv,
                  out);
    ck_assert_int_eq(st.code, NOX_EINVAL);
    ck_assert_msg(out == 42, "'%s': output written on failure", c->in);
    if (c->want == NULL) {
        (void)snprintf(want, sizeof(want),
                       "%s: invalid quantity '%s' (use Kubernetes syntax "
                       "such as %s)",
                       field, c->in, examples);
        ck_assert_str_eq(st.msg, want);
    } else {
        (void)snprintf(want, sizeof(want), "%s: quantity '%s' %s", field, c->in,
                       c->want);
        ck_assert_msg(strstr(st.msg, want) != NULL, "'%s': message '%s'", c->in,
                      st.msg);
    }
}

START_TEST(quantity_parses_cpu_examples_to_exact_millicores)
{
    nox_status_t st;
    uint64_t     v = 0;
    nox_err_t    rv =
        nox__quantity_cpu_millis("cpu_limit", cpu_ok[_i].in, &v, &st);

    ck_assert_msg(rv == NOX_OK, "'%s': %s", cpu_ok[_i].in, st.msg);
    ck_assert_msg(v == cpu_ok[_i].want,
                  "'%s': %" PRIu64 " millis, want %" PRIu64, cpu_ok[_i].in, v,
                  cpu_ok[_i].want);
}
END_TEST

START_TEST(quantity_rejects_bad_cpu_values_naming_field_and_value)
{
    assert_bad(nox__quantity_cpu_millis, "cpu_limit", "1, 500m or 0.5",
               &common_bad[_i]);
}
END_TEST

START_TEST(quantity_rejects_cpu_above_a_million_cores)
{
    static const qty_bad_t big[] = {{"1000001", "is too large"},
                                    {"1000000001m", "is too large"},
                                    {"1.1M", "is too large"},
                                    {"1Ei", "is too large"}};

    for (size_t i = 0; i < N_OF(big); i++)
        assert_bad(nox__quantity_cpu_millis, "cpu_limit", "", &big[i]);
}
END_TEST

START_TEST(quantity_parses_byte_examples_exactly)
{
    nox_status_t st;
    uint64_t     v = 0;
    nox_err_t    rv =
        nox__quantity_bytes("memory_limit", bytes_ok[_i].in, &v, &st);

    ck_assert_msg(rv == NOX_OK, "'%s': %s", bytes_ok[_i].in, st.msg);
    ck_assert_msg(v == bytes_ok[_i].want, "'%s': %" PRIu64 ", want %" PRIu64,
                  bytes_ok[_i].in, v, bytes_ok[_i].want);
}
END_TEST

START_TEST(quantity_rejects_bad_byte_values_naming_field_and_value)
{
    assert_bad(nox__quantity_bytes, "memory_limit", "512Mi, 1Gi or 1G",
               &common_bad[_i]);
}
END_TEST

START_TEST(quantity_rejects_bytes_beyond_uint64)
{
    static const qty_bad_t big[] = {{"16Ei", "is too large"},
                                    {"18446744073709551616", "is too large"},
                                    {"18446744073709551615.1", "is too large"},
                                    {"1e20", "is too large"}};

    for (size_t i = 0; i < N_OF(big); i++)
        assert_bad(nox__quantity_bytes, "memory_limit", "", &big[i]);
}
END_TEST

START_TEST(quantity_rejects_null_and_overlong_strings)
{
    nox_status_t st;
    uint64_t     v = 7;
    char         lng[200];

    ck_assert_int_eq(nox__quantity_bytes("memory_limit", NULL, &v, &st),
                     NOX_EINVAL);
    ck_assert_str_eq(st.msg, "memory_limit: invalid quantity '' (use "
                             "Kubernetes syntax such as 512Mi, 1Gi or 1G)");
    /* 1 followed by 198 zeros is well-formed, but far past any sensible
     * length; the message echoes a prefix of it and marks the cut. */
    memset(lng, '0', sizeof(lng) - 1);
    lng[0] = '1';
    lng[sizeof(lng) - 1] = '\0';
    ck_assert_int_eq(nox__quantity_cpu_millis("cpu_limit", lng, &v, &st),
                     NOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(st.msg, "cpu_limit: invalid quantity '100"));
    ck_assert_ptr_nonnull(strstr(st.msg, "...' (use Kubernetes syntax"));
    ck_assert_uint_eq(v, 7);
}
END_TEST

/* ------------------------------------------------------------------ */
/* cgroups                                                             */
/* ------------------------------------------------------------------ */

/* Shared by the cgroup tests. The unchecked fixture sets them in the
 * runner process, so the teardown there still runs (and removes every
 * group) when a test fails or crashes in its forked child. */
static nox_cgroups_t *lim_cg;
static char           lim_base[PATH_MAX];
static char           lim_setup_err[NOX_MSG_MAX + PATH_MAX + 64];

static const char *const lim_names[NOX_CG_COUNT] = {"memory", "pids", "cpu"};
static const char *const lim_sids[] = {"lim-apply", "lim-join", "lim-zero",
                                       "lim-remove", "lim-hog"};

/* dir/file read to the end, NUL-terminated (malloc'd), or NULL. Not
 * tu_read_file: /proc and cgroupfs files report a size of 0 or 4096. */
static char *
lim_slurp(const char *dir, const char *file)
{
    char    path[PATH_MAX], *buf = NULL;
    size_t  len = 0, cap = 0;
    ssize_t r = 0;
    int     fd;

    if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
        return NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    do {
        if (cap - len < 4097) {
            char *nb = realloc(buf, cap + 8192);
            if (nb == NULL) {
                r = -1;
                break;
            }
            buf = nb;
            cap += 8192;
        }
        r = read(fd, buf + len, cap - len - 1);
        if (r > 0)
            len += (size_t)r;
    } while (r > 0 || (r < 0 && errno == EINTR));
    (void)close(fd); /* read-only */
    if (r < 0) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static uint64_t
lim_fnv1a(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return h;
}

/* Our path in ctrl's hierarchy (NULL: cgroup2) from /proc/self/cgroup. */
static bool
lim_self_path(const char *ctrl, char *out, size_t len)
{
    char *buf = lim_slurp("/proc/self", "cgroup"), *save = NULL;
    bool  hit = false;

    if (buf == NULL)
        return false;
    for (char *l = strtok_r(buf, "\n", &save); l != NULL && !hit;
         l = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c2 = '\0';
        if (ctrl == NULL)
            hit = strcmp(l, "0:") == 0;
        else {
            char list[128];
            (void)snprintf(list, sizeof(list), ",%s,", c1 + 1);
            char tok[32];
            (void)snprintf(tok, sizeof(tok), ",%s,", ctrl);
            hit = strstr(list, tok) != NULL;
        }
        if (hit)
            (void)snprintf(out, len, "%s", c2 + 1);
    }
    free(buf);
    return hit;
}

/* The directory of our own group in ctrl's hierarchy, found the simple
 * way (mountinfo fields 4, 5, 9 and 11; no escapes on this machine). */
static bool
lim_own_dir(const char *ctrl, char *out, size_t len)
{
    char  path[PATH_MAX], root[PATH_MAX], point[PATH_MAX], type[16], so[256];
    char  want[40], opts[260], line[3 * PATH_MAX];
    FILE *f;
    bool  hit = false;

    if (!lim_self_path(ctrl, path, sizeof(path)))
        return false;
    f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL)
        return false;
    (void)snprintf(want, sizeof(want), ",%s,", ctrl ? ctrl : "");
    while (!hit && fgets(line, sizeof(line), f) != NULL) {
        const char *dash = strstr(line, " - ");
        if (dash == NULL ||
            sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) != 2 ||
            sscanf(dash + 3, "%15s %*s %255s", type, so) != 2)
            continue;
        (void)snprintf(opts, sizeof(opts), ",%s,", so);
        if (ctrl == NULL
                ? strcmp(type, "cgroup2") != 0
                : strcmp(type, "cgroup") != 0 || strstr(opts, want) == NULL)
            continue;
        const char *rel = strcmp(root, "/") == 0 ? path : path + strlen(root);
        int n = snprintf(out, len, "%s%s", point, strcmp(rel, "/") ? rel : "");
        hit = n >= 0 && (size_t)n < len;
    }
    (void)fclose(f);
    return hit;
}

static bool
lim_is_v2(nox_cg_ctrl_t c)
{
    return strcmp(nox__cgroups_version(lim_cg, c), "cgroup v2") == 0;
}

/* <our group>/noxrunner_<key>[/<sid>] for ctrl. */
static void
lim_group_dir(nox_cg_ctrl_t c, const char *sid, char *out, size_t len)
{
    char own[PATH_MAX];

    ck_assert_msg(
        lim_own_dir(lim_is_v2(c) ? NULL : lim_names[c], own, sizeof(own)),
        "cannot find our own %s cgroup", lim_names[c]);
    ck_assert_int_lt(snprintf(out, len, "%s/noxrunner_%016" PRIx64 "%s%s", own,
                              lim_fnv1a(lim_base), sid ? "/" : "",
                              sid ? sid : ""),
                     (int)len);
}

/* Kill what is left in a group, so that it can be removed. */
static void
lim_kill_members(const char *dir)
{
    char *procs = lim_slurp(dir, "cgroup.procs"), *save = NULL;

    if (procs == NULL)
        return;
    for (char *p = strtok_r(procs, "\n", &save); p != NULL;
         p = strtok_r(NULL, "\n", &save))
        (void)kill((pid_t)atol(p), SIGKILL); /* best effort: cleanup */
    free(procs);
}

static void
lim_setup(void)
{
    const char *tmp = getenv("TMPDIR");

    lim_setup_err[0] = '\0';
    (void)snprintf(lim_base, sizeof(lim_base), "%s/nox-limits-XXXXXX",
                   tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(lim_base) == NULL) {
        (void)snprintf(lim_setup_err, sizeof(lim_setup_err), "mkdtemp %s: %s",
                       lim_base, strerror(errno));
        return;
    }
    nox_status_t st;
    if (nox__cgroups_open(&lim_cg, lim_base, &st) != NOX_OK)
        (void)snprintf(lim_setup_err, sizeof(lim_setup_err),
                       "nox__cgroups_open: %s", st.msg);
}

/* Runs in the runner process after the whole case: every test's groups
 * and the noxrunner_<key> parents go, even after failures. */
static void
lim_teardown(void)
{
    char dir[PATH_MAX], own[PATH_MAX];

    for (int c = 0; lim_cg != NULL && c < NOX_CG_COUNT; c++) {
        if (!nox__cgroups_available(lim_cg, (nox_cg_ctrl_t)c, NULL) ||
            !lim_own_dir(lim_is_v2((nox_cg_ctrl_t)c) ? NULL : lim_names[c], own,
                         sizeof(own)))
            continue;
        for (size_t i = 0; i < N_OF(lim_sids); i++) {
            if (snprintf(dir, sizeof(dir), "%s/noxrunner_%016" PRIx64 "/%s",
                         own, lim_fnv1a(lim_base),
                         lim_sids[i]) < (int)sizeof(dir))
                lim_kill_members(dir);
        }
    }
    for (size_t i = 0; lim_cg != NULL && i < N_OF(lim_sids); i++)
        if (nox__cgroups_remove(lim_cg, lim_sids[i]) != 0)
            fprintf(stderr, "check_limits: cannot remove group %s\n",
                    lim_sids[i]);
    for (int c = 0; lim_cg != NULL && c < NOX_CG_COUNT; c++) {
        if (!nox__cgroups_available(lim_cg, (nox_cg_ctrl_t)c, NULL) ||
            !lim_own_dir(lim_is_v2((nox_cg_ctrl_t)c) ? NULL : lim_names[c], own,
                         sizeof(own)) ||
            snprintf(dir, sizeof(dir), "%s/noxrunner_%016" PRIx64, own,
                     lim_fnv1a(lim_base)) >= (int)sizeof(dir))
            continue;
        if (rmdir(dir) != 0 && errno != ENOENT && errno != EBUSY)
            fprintf(stderr, "check_limits: rmdir %s: %s\n", dir,
                    strerror(errno));
    }
    nox__cgroups_close(lim_cg);
    lim_cg = NULL;
    if (lim_base[0] != '\0' && rmdir(lim_base) != 0)
        fprintf(stderr, "check_limits: rmdir %s: %s\n", lim_base,
                strerror(errno));
    lim_base[0] = '\0';
}

static void
lim_require_setup(void)
{
    ck_assert_msg(lim_setup_err[0] == '\0', "%s", lim_setup_err);
    ck_assert_ptr_nonnull(lim_cg);
}

static void
lim_apply_ok(const char *sid, uint64_t mem, uint64_t pids, uint64_t cpu)
{
    nox_cg_limits_t l = {mem, pids, cpu};
    bool            applied[NOX_CG_COUNT];
    char            why[NOX_CG_COUNT][160];
    nox_status_t    st;

    ck_assert_int_eq(nox__cgroups_apply(lim_cg, sid, &l, applied, why, &st),
                     NOX_OK);
    const uint64_t want[NOX_CG_COUNT] = {mem, pids, cpu};
    for (int c = 0; c < NOX_CG_COUNT; c++)
        ck_assert_msg(applied[c] == (want[c] != 0) && why[c][0] == '\0',
                      "%s limit: applied %d, why '%s'", lim_names[c],
                      applied[c], why[c]);
}

/* The first line of dir/file, without its newline. */
static void
lim_read_line(const char *dir, const char *file, char *out, size_t len)
{
    char *s = lim_slurp(dir, file);

    ck_assert_msg(s != NULL, "cannot read %s/%s", dir, file);
    s[strcspn(s, "\n")] = '\0';
    (void)snprintf(out, len, "%s", s);
    free(s);
}

static bool
lim_dir_exists(const char *dir)
{
    struct stat sb;

    return stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
}

START_TEST(cgroups_finds_memory_pids_and_cpu_available_as_root)
{
    lim_require_setup();
    for (int c = 0; c < NOX_CG_COUNT; c++) {
        const char *why = NULL;
        bool        ok = nox__cgroups_available(lim_cg, (nox_cg_ctrl_t)c, &why);
        ck_assert_msg(ok, "%s controller unavailable: %s", lim_names[c], why);
        printf("check_limits: %s via %s\n", lim_names[c],
               nox__cgroups_version(lim_cg, (nox_cg_ctrl_t)c));
    }
}
END_TEST

START_TEST(cgroups_apply_writes_each_limit_below_our_own_group)
{
    char dir[PATH_MAX], own[PATH_MAX], path[PATH_MAX], top[PATH_MAX], v[64];

    lim_require_setup();
    lim_apply_ok("lim-apply", 64 * MiB, 32, 500);
    lim_group_dir(NOX_CG_MEMORY, "lim-apply", dir, sizeof(dir));
    /* The limit is read back below our own memory group (dir), and
     * nothing went to the hierarchy root, which would escape the limit
     * our own group is under. */
    ck_assert(lim_own_dir("memory", own, sizeof(own)));
    ck_assert(lim_self_path("memory", path, sizeof(path)));
    size_t ol = strlen(own), pl = strlen(path);
    if (!lim_is_v2(NOX_CG_MEMORY) && strcmp(path, "/") != 0 && ol > pl &&
        strcmp(own + ol - pl, path) == 0) {
        (void)snprintf(top, sizeof(top), "%.*s/noxrunner_%016" PRIx64,
                       (int)(ol - pl), own, lim_fnv1a(lim_base));
        ck_assert_msg(!lim_dir_exists(top), "%s exists", top);
    }
    if (lim_is_v2(NOX_CG_MEMORY))
        lim_read_line(dir, "memory.max", v, sizeof(v));
    else
        lim_read_line(dir, "memory.limit_in_bytes", v, sizeof(v));
    ck_assert_str_eq(v, "67108864");
    lim_group_dir(NOX_CG_PIDS, "lim-apply", dir, sizeof(dir));
    lim_read_line(dir, "pids.max", v, sizeof(v));
    ck_assert_str_eq(v, "32");
    lim_group_dir(NOX_CG_CPU, "lim-apply", dir, sizeof(dir));
    if (lim_is_v2(NOX_CG_CPU)) {
        lim_read_line(dir, "cpu.max", v, sizeof(v));
        ck_assert_str_eq(v, "50000 100000");
    } else {
        lim_read_line(dir, "cpu.cfs_quota_us", v, sizeof(v));
        ck_assert_str_eq(v, "50000");
        lim_read_line(dir, "cpu.cfs_period_us", v, sizeof(v));
        ck_assert_str_eq(v, "100000");
    }
    /* Applying again replaces the limits. */
    lim_apply_ok("lim-apply", 128 * MiB, 64, 1500);
    lim_group_dir(NOX_CG_PIDS, "lim-apply", dir, sizeof(dir));
    lim_read_line(dir, "pids.max", v, sizeof(v));
    ck_assert_str_eq(v, "64");
    ck_assert_int_eq(nox__cgroups_remove(lim_cg, "lim-apply"), 0);
}
END_TEST

/* The child: join every group through fds, then check
 * /proc/self/cgroup. Exit status 0 means it is in the sandbox groups. */
static int
lim_join_child(const int fds[NOX_CG_COUNT], const char *want_mem,
               const char *want_pids)
{
    char got[PATH_MAX];

    for (int c = 0; c < NOX_CG_COUNT; c++)
        if (fds[c] >= 0 && write(fds[c], "0", 1) != 1)
            return 10 + c;
    if (!lim_self_path(lim_is_v2(NOX_CG_MEMORY) ? NULL : "memory", got,
                       sizeof(got)) ||
        strcmp(got, want_mem) != 0)
        return 20;
    if (!lim_self_path(lim_is_v2(NOX_CG_PIDS) ? NULL : "pids", got,
                       sizeof(got)) ||
        strcmp(got, want_pids) != 0)
        return 21;
    return 0;
}

/* The sandbox group's path as /proc/self/cgroup shows it. */
static void
lim_want_path(nox_cg_ctrl_t c, const char *sid, char *out, size_t len)
{
    char own[PATH_MAX];

    ck_assert(
        lim_self_path(lim_is_v2(c) ? NULL : lim_names[c], own, sizeof(own)));
    ck_assert_int_lt(snprintf(out, len, "%s/noxrunner_%016" PRIx64 "/%s",
                              strcmp(own, "/") == 0 ? "" : own,
                              lim_fnv1a(lim_base), sid),
                     (int)len);
}

START_TEST(cgroups_open_procs_lets_a_child_join_the_groups)
{
    char  want_mem[PATH_MAX], want_pids[PATH_MAX];
    int   fds[NOX_CG_COUNT], status;
    pid_t pid;

    lim_require_setup();
    lim_apply_ok("lim-join", 64 * MiB, 32, 500);
    lim_want_path(NOX_CG_MEMORY, "lim-join", want_mem, sizeof(want_mem));
    lim_want_path(NOX_CG_PIDS, "lim-join", want_pids, sizeof(want_pids));
    ck_assert_int_eq(nox__cgroups_open_procs(lim_cg, "lim-join", fds), 3);
    for (int c = 0; c < NOX_CG_COUNT; c++) {
        ck_assert_int_ge(fds[c], 0);
        ck_assert_int_ne(fcntl(fds[c], F_GETFD) & FD_CLOEXEC, 0);
    }
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(lim_join_child(fds, want_mem, want_pids));
    for (int c = 0; c < NOX_CG_COUNT; c++)
        ck_assert_int_eq(close(fds[c]), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status %#x (10+c: join failed, 20: memory, 21: pids "
                  "group not shown in /proc/self/cgroup)",
                  status);
    ck_assert_uint_eq(nox__cgroups_oom_kills(lim_cg, "lim-join"), 0);
    ck_assert_int_eq(nox__cgroups_remove(lim_cg, "lim-join"), 0);
}
END_TEST

START_TEST(cgroups_apply_with_memory_zero_removes_the_memory_group)
{
    char mem[PATH_MAX], pids[PATH_MAX], v[64];
    int  fds[NOX_CG_COUNT];

    lim_require_setup();
    lim_apply_ok("lim-zero", 64 * MiB, 32, 500);
    lim_group_dir(NOX_CG_MEMORY, "lim-zero", mem, sizeof(mem));
    lim_group_dir(NOX_CG_PIDS, "lim-zero", pids, sizeof(pids));
    ck_assert(lim_dir_exists(mem));
    lim_apply_ok("lim-zero", 0, 16, 500);
    if (lim_is_v2(NOX_CG_MEMORY)) {
        /* one shared group: it stays, with the limit lifted */
        lim_read_line(mem, "memory.max", v, sizeof(v));
        ck_assert_str_eq(v, "max");
    } else
        ck_assert_msg(!lim_dir_exists(mem), "%s still exists", mem);
    lim_read_line(pids, "pids.max", v, sizeof(v));
    ck_assert_str_eq(v, "16");
    ck_assert_int_eq(nox__cgroups_oom_kills(lim_cg, "lim-zero"), 0);
    /* With no memory group there is no memory fd to join. */
    int n = nox__cgroups_open_procs(lim_cg, "lim-zero", fds);
    ck_assert_int_eq(n, lim_is_v2(NOX_CG_MEMORY) ? 1 : 2);
    if (!lim_is_v2(NOX_CG_MEMORY))
        ck_assert_int_eq(fds[NOX_CG_MEMORY], -1);
    for (int c = 0; c < NOX_CG_COUNT; c++)
        if (fds[c] >= 0)
            ck_assert_int_eq(close(fds[c]), 0);
    ck_assert_int_eq(nox__cgroups_remove(lim_cg, "lim-zero"), 0);
}
END_TEST

START_TEST(cgroups_remove_deletes_the_groups_and_keeps_the_parent)
{
    char dir[NOX_CG_COUNT][PATH_MAX], parent[PATH_MAX];
    int  fds[NOX_CG_COUNT];

    lim_require_setup();
    lim_apply_ok("lim-remove", 64 * MiB, 32, 500);
    for (int c = 0; c < NOX_CG_COUNT; c++) {
        lim_group_dir((nox_cg_ctrl_t)c, "lim-remove", dir[c], sizeof(dir[c]));
        ck_assert_msg(lim_dir_exists(dir[c]), "%s missing", dir[c]);
    }
    ck_assert_int_eq(nox__cgroups_remove(lim_cg, "lim-remove"), 0);
    for (int c = 0; c < NOX_CG_COUNT; c++) {
        ck_assert_msg(!lim_dir_exists(dir[c]), "%s still exists", dir[c]);
        lim_group_dir((nox_cg_ctrl_t)c, NULL, parent, sizeof(parent));
        ck_assert_msg(lim_dir_exists(parent), "%s removed", parent);
    }
    /* Removing again, or a sandbox that never had groups, is fine. */
    ck_assert_int_eq(nox__cgroups_remove(lim_cg, "lim-remove"), 0);
    ck_assert_int_eq(nox__cgroups_open_procs(lim_cg, "lim-remove", fds), 0);
    for (int c = 0; c < NOX_CG_COUNT; c++)
        ck_assert_int_eq(fds[c], -1);
}
END_TEST

/* Join the memory group, then touch 256 MiB one MiB at a time; in a
 * 32 MiB group the OOM killer must stop this long before the end. */
static void
lim_hog(int memfd)
{
    if (write(memfd, "0", 1) != 1)
        _exit(2);
    for (int i = 0; i < 256; i++) {
        char *p = mmap(NULL, MiB, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            _exit(3);
        memset(p, 0xa5, MiB);
    }
    _exit(0);
}

START_TEST(cgroups_memory_hog_is_oom_killed_and_counted)
{
    int   fds[NOX_CG_COUNT], status;
    pid_t pid;

    lim_require_setup();
    lim_apply_ok("lim-hog", 32 * MiB, 64, 0);
    ck_assert_int_ge(nox__cgroups_open_procs(lim_cg, "lim-hog", fds), 1);
    ck_assert_int_ge(fds[NOX_CG_MEMORY], 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        lim_hog(fds[NOX_CG_MEMORY]);
    for (int c = 0; c < NOX_CG_COUNT; c++)
        if (fds[c] >= 0)
            ck_assert_int_eq(close(fds[c]), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "hog status %#x: not killed by SIGKILL", status);
    ck_assert_uint_ge(nox__cgroups_oom_kills(lim_cg, "lim-hog"), 1);
    ck_assert_int_eq(nox__cgroups_remove(lim_cg, "lim-hog"), 0);
}
END_TEST

/* Needs no privileges: every check fails before touching a group. */
START_TEST(cgroups_refuse_bad_session_ids_and_missing_arguments)
{
    static const char *const bad[] = {"",     ".",   "..", "a/b",
                                      "../x", "a b", "x\n"};
    nox_cg_limits_t          l = {64 * MiB, 32, 500};
    bool                     applied[NOX_CG_COUNT];
    char                     why[NOX_CG_COUNT][160], lng[200];
    nox_status_t             st;
    nox_cgroups_t           *cg = NULL;
    int                      fds[NOX_CG_COUNT];
    const char              *reason = NULL;

    ck_assert_int_eq(nox__cgroups_open(&cg, "/nonexistent/base", &st), NOX_OK);
    for (size_t i = 0; i < N_OF(bad); i++) {
        ck_assert_int_eq(nox__cgroups_apply(cg, bad[i], &l, applied, why, &st),
                         NOX_EINVAL);
        ck_assert_int_eq(nox__cgroups_open_procs(cg, bad[i], fds), 0);
        ck_assert_int_eq(fds[0], -1);
        ck_assert_int_eq(nox__cgroups_remove(cg, bad[i]), 0);
        ck_assert_uint_eq(nox__cgroups_oom_kills(cg, bad[i]), 0);
    }
    memset(lng, 'a', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    ck_assert_int_eq(nox__cgroups_apply(cg, lng, &l, applied, why, &st),
                     NOX_EINVAL);
    ck_assert_int_eq(nox__cgroups_apply(cg, NULL, &l, applied, why, &st),
                     NOX_EINVAL);
    ck_assert_int_eq(nox__cgroups_apply(cg, "ok", NULL, applied, why, &st),
                     NOX_EINVAL);
    ck_assert_int_eq(nox__cgroups_apply(NULL, "ok", &l, applied, why, &st),
                     NOX_EINVAL);
    ck_assert(!nox__cgroups_available(cg, NOX_CG_COUNT, &reason));
    ck_assert_str_eq(reason, "no such controller");
    ck_assert_str_eq(nox__cgroups_version(cg, NOX_CG_COUNT), "none");
    ck_assert(!nox__cgroups_available(NULL, NOX_CG_MEMORY, NULL));
    ck_assert_int_eq(nox__cgroups_open(NULL, "/x", &st), NOX_EINVAL);
    nox__cgroups_close(cg);
    nox__cgroups_close(NULL);
}
END_TEST

/* An unavailable controller is reported per limit, with its reason, and
 * the call still succeeds (the caller reports it). Non-root only: as root
 * every controller is available here. */
START_TEST(cgroups_report_why_a_limit_was_not_applied_for_this_user)
{
    nox_cg_limits_t l = {64 * MiB, 32, 500};
    bool            applied[NOX_CG_COUNT];
    char            why[NOX_CG_COUNT][160];
    nox_status_t    st;
    nox_cgroups_t  *cg = NULL;
    const char     *reason;

    ck_assert_int_eq(nox__cgroups_open(&cg, "/nonexistent/base", &st), NOX_OK);
    ck_assert_int_eq(nox__cgroups_apply(cg, "lim-user", &l, applied, why, &st),
                     NOX_OK);
    for (int c = 0; c < NOX_CG_COUNT; c++) {
        if (nox__cgroups_available(cg, (nox_cg_ctrl_t)c, &reason))
            continue;
        ck_assert(!applied[c]);
        ck_assert_str_eq(why[c], reason);
        ck_assert_str_ne(reason, "");
    }
    nox__cgroups_close(cg);
}
END_TEST

Suite *
limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("cpu quantities");

    tcase_add_loop_test(tc, quantity_parses_cpu_examples_to_exact_millicores, 0,
                        N_OF(cpu_ok));
    tcase_add_loop_test(tc,
                        quantity_rejects_bad_cpu_values_naming_field_and_value,
                        0, N_OF(common_bad));
    tcase_add_test(tc, quantity_rejects_cpu_above_a_million_cores);
    suite_add_tcase(s, tc);

    tc = tcase_create("byte quantities");
    tcase_add_loop_test(tc, quantity_parses_byte_examples_exactly, 0,
                        N_OF(bytes_ok));
    tcase_add_loop_test(tc,
                        quantity_rejects_bad_byte_values_naming_field_and_value,
                        0, N_OF(common_bad));
    tcase_add_test(tc, quantity_rejects_bytes_beyond_uint64);
    tcase_add_test(tc, quantity_rejects_null_and_overlong_strings);
    suite_add_tcase(s, tc);

    tc = tcase_create("cgroup arguments");
    tcase_add_test(tc, cgroups_refuse_bad_session_ids_and_missing_arguments);
    suite_add_tcase(s, tc);

    if (getuid() != 0) {
        printf("check_limits: cgroup group tests skipped: they need root "
               "(uid %ld)\n",
               (long)getuid());
        tc = tcase_create("cgroups as a user");
        tcase_add_test(
            tc, cgroups_report_why_a_limit_was_not_applied_for_this_user);
        suite_add_tcase(s, tc);
        return s;
    }
    tc = tcase_create("cgroups");
    tcase_add_unchecked_fixture(tc, lim_setup, lim_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cgroups_finds_memory_pids_and_cpu_available_as_root);
    tcase_add_test(tc, cgroups_apply_writes_each_limit_below_our_own_group);
    tcase_add_test(tc, cgroups_open_procs_lets_a_child_join_the_groups);
    tcase_add_test(tc, cgroups_apply_with_memory_zero_removes_the_memory_group);
    tcase_add_test(tc, cgroups_remove_deletes_the_groups_and_keeps_the_parent);
    tcase_add_test(tc, cgroups_memory_hog_is_oom_killed_and_counted);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(limits_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
