/*
 * check_isolation.c - the escape corpus. Each case is something a command
 * in a namespaced sandbox tries against the host. It asserts the exact
 * refusal the command gets (exit code, cause, the kernel's or the tool's
 * message), then checks from the host that nothing changed there.
 *
 * The corpus runs twice. TCase "root": the engine runs as root and
 * commands run as nobody. TCase "rootless": the fixture first drops the
 * forked test process to uid/gid 65534, so commands run as uid 0 inside,
 * which is 65534 outside. Rootless there is no writable cgroup, so the
 * memory and pids cases assert that the limit is reported as not applied.
 *
 * Tests create files only in mkdtemp directories under /tmp, connect only
 * to 127.0.0.1 and stop every process they start.
 */
#include "nox/engine.h"

#include "holder.h"    /* NOX_SANDBOX_UID */
#include "isolation.h" /* NOX_HOLDER_FILE_PREFIX */
#include "sandbox_scan.h"
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define ISO_MIB (UINT64_C(1) << 20)
#define ISO_NOBODY 65534
#define ISO_TIMEOUT_MS 30000

/* main() puts this secret into the environment block the process was
 * exec'd with, which is what /proc/<pid>/environ shows. The fixture also
 * setenv()s the second one before it opens the engine. */
#define ISO_BOOT_SECRET_VAR "NOX_ISO_BOOT_SECRET"
#define ISO_BOOT_SECRET "nox-iso-boot-secret-5e1f0c"
#define ISO_SECRET_VAR "NOX_ISO_SECRET"
#define ISO_SECRET "nox-iso-setenv-secret-9b27d4"

/* Python that makes one privileged system call directly, so the refusal
 * we see is the kernel's and not a tool's own uid check. */
#define ISO_PY_SYSCALL                                                         \
    "import ctypes, os, sys\n"                                                 \
    "libc = ctypes.CDLL(None, use_errno=True)\n"                               \
    "calls = {\n"                                                              \
    "  'mount': lambda: libc.mount(b'none', b'/workspace', b'tmpfs', 0, "      \
    "None),\n"                                                                 \
    "  'umount2': lambda: libc.umount2(b'/usr', 2),\n"                         \
    "  'remount': lambda: libc.mount(None, b'/usr', None, 0x1020, None),\n"    \
    "  'chroot': lambda: libc.chroot(b'/'),\n"                                 \
    "  'sethostname': lambda: libc.sethostname(b'evil', 4),\n"                 \
    "}\n"                                                                      \
    "op = sys.argv[1]\n"                                                       \
    "if calls[op]() != 0:\n"                                                   \
    "    sys.exit(op + ': ' + os.strerror(ctypes.get_errno()))\n"              \
    "print(op + ': succeeded')\n"

/* ------------------------------------------------------------------ */
/* State and fixtures                                                  */
/* ------------------------------------------------------------------ */

static char         *base;     /* the engine's base directory */
static nox_engine_t *eng;      /* opened on base by the fixture */
static bool          rootless; /* which TCase runs (set by its fixture) */
static char          uniq[64]; /* "nox-iso-<pid>": no host path has it */

/* A fresh 0700 directory under /tmp. Always /tmp, whatever $TMPDIR says:
 * the cases rely on host temp dirs being invisible inside, where /tmp is
 * the sandbox's own. */
static char *
iso_mkdtemp(void)
{
    char tmpl[] = "/tmp/nox-iso-XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    char *p = strdup(tmpl);
    ck_assert_ptr_nonnull(p);
    return p;
}

static nox_engine_t *
iso_open_engine(void)
{
    nox_engine_opts_t o = {
        .base_dir = base, .quiet = 1, .isolation = NOX_ISOLATION_NAMESPACES};
    nox_engine_t *e = NULL;
    nox_status_t  st;
    nox_err_t     rv = nox_engine_open(&e, &o, &st);

    ck_assert_msg(rv == NOX_OK, "engine open: %s", st.msg);
    return e;
}

static void
iso_setup(void)
{
    (void)snprintf(uniq, sizeof(uniq), "nox-iso-%ld", (long)getpid());
    ck_assert_int_eq(setenv(ISO_SECRET_VAR, ISO_SECRET, 1), 0);
    base = iso_mkdtemp();
    eng = iso_open_engine();
}

static void
iso_root_setup(void)
{
    ck_assert_int_eq(geteuid(), 0);
    rootless = false;
    iso_setup();
}

/* Become an ordinary user before anything else happens in this (forked)
 * test process. Changing ids leaves the process non-dumpable, as a
 * service that drops root is; the engine must cope (its holders make
 * themselves dumpable so their id maps can be written), so this stays so
 * on purpose. */
static void
iso_rootless_setup(void)
{
    if (geteuid() == 0) {
        ck_assert_int_eq(setgroups(0, NULL), 0);
        ck_assert_int_eq(setresgid(ISO_NOBODY, ISO_NOBODY, ISO_NOBODY), 0);
        ck_assert_int_eq(setresuid(ISO_NOBODY, ISO_NOBODY, ISO_NOBODY), 0);
        ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    }
    ck_assert_int_ne(geteuid(), 0);
    rootless = true;
    iso_setup();
}

static void
iso_teardown(void)
{
    nox_engine_close(eng);
    tu_rmtree_free(base);
}

/* ------------------------------------------------------------------ */
/* Running commands                                                    */
/* ------------------------------------------------------------------ */

/* Run argv in sid; the engine call itself must succeed. */
static void
iso_run(const char *sid, const char *const *argv, size_t argc,
        int64_t timeout_ms, nox_exec_result_t *res)
{
    nox_exec_req_t r = {.session_id = sid,
                        .argv = argv,
                        .argc = argc,
                        .timeout_ms = timeout_ms};
    nox_status_t   st;

    *res = (nox_exec_result_t)NOX_EXEC_RESULT_INIT;
    nox_err_t rv = nox_engine_exec(eng, &r, res, &st);
    ck_assert_msg(rv == NOX_OK, "exec '%s': %s", argv[argc - 1], st.msg);
}

static void
iso_sh(const char *sid, const char *script, nox_exec_result_t *res)
{
    const char *argv[] = {"sh", "-c", script};

    iso_run(sid, argv, 3, ISO_TIMEOUT_MS, res);
}

/* A NUL-terminated copy of b (stops at an embedded NUL; see memmem). */
static char *
iso_text(const nox_buf_t *b)
{
    char *s = strndup(b->data ? (const char *)b->data : "", b->len);

    ck_assert_ptr_nonnull(s);
    return s;
}

/* The command exited with code, wrote exactly want_err to stderr and, if
 * want_out is not NULL, exactly want_out to stdout. On a mismatch the
 * message shows what the command did say. */
static void
iso_expect(const char *what, const nox_exec_result_t *res, int code,
           const char *want_err, const char *want_out)
{
    char *out = iso_text(&res->out), *err = iso_text(&res->err);

    ck_assert_msg(res->cause == NOX_CAUSE_EXITED && res->exit_code == code &&
                      strcmp(err, want_err) == 0 &&
                      (want_out == NULL || strcmp(out, want_out) == 0),
                  "%s: cause %d exit %d (want %d)\nstderr [%s]\nwant   [%s]\n"
                  "stdout [%s]\nwant   [%s]",
                  what, res->cause, res->exit_code, code, err, want_err, out,
                  want_out ? want_out : "(any)");
    free(out);
    free(err);
}

/* Run script in sid and expect as above. */
static void
iso_sh_expect(const char *sid, const char *script, int code,
              const char *want_err, const char *want_out)
{
    nox_exec_result_t res;

    iso_sh(sid, script, &res);
    iso_expect(script, &res, code, want_err, want_out);
    nox_exec_result_free(&res);
}

/* The namespaces a command of sid runs in, against this process's: all
 * new, except the network namespace with allow_network. Checked after
 * every create, so that a broken engine fails here, before a case runs
 * "hostname evil" or a mount as root on the host itself. */
static void
iso_guard(const char *sid, bool host_net)
{
    static const char *const ns[] = {"user", "mnt", "pid",   "uts",
                                     "ipc",  "net", "cgroup"};
    char                     script[512] = "readlink", mine[64], path[64];
    size_t                   n = strlen(script);
    nox_exec_result_t        res;

    for (size_t i = 0; i < N_OF(ns); i++)
        n += (size_t)snprintf(script + n, sizeof(script) - n,
                              " /proc/self/ns/%s", ns[i]);
    iso_sh(sid, script, &res);
    char *out = iso_text(&res.out), *line = out;
    ck_assert_msg(res.exit_code == 0, "%s: %s", script, out);
    for (size_t i = 0; i < N_OF(ns); i++) {
        char   *nl = strchr(line, '\n');
        ssize_t len;
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        (void)snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
        len = readlink(path, mine, sizeof(mine) - 1);
        ck_assert_int_gt(len, 0);
        mine[len] = '\0';
        bool same = strcmp(line, mine) == 0;
        bool want_same = host_net && strcmp(ns[i], "net") == 0;
        ck_assert_msg(same == want_same, "sandbox %s: %s namespace %s, ours %s",
                      sid, ns[i], line, mine);
        line = nl + 1;
    }
    free(out);
    nox_exec_result_free(&res);
}

static void
iso_create(const nox_create_req_t *r, nox_sandbox_info_t *info,
           nox_create_report_t *rep)
{
    nox_status_t st;
    bool         created = false;
    nox_err_t    rv = nox_engine_create(eng, r, info, &created, rep, &st);

    ck_assert_msg(rv == NOX_OK, "create %s: %s", r->session_id, st.msg);
    ck_assert(created);
    iso_guard(r->session_id, r->allow_network);
}

/* A sandbox with no limits and a long TTL. */
static void
iso_create_plain(const char *sid, nox_sandbox_info_t *info)
{
    nox_create_req_t r = {.session_id = sid, .ttl_seconds = 600};

    iso_create(&r, info, NULL);
}

/* tmpl with each "{U}" replaced by uniq and each "{H}" by h (a host path
 * or a number; may be NULL when tmpl has none). Returns malloc'd text.
 * A placeholder rather than printf formats: the tables hold the
 * templates, and formats must be literals. */
static char *
iso_fill(const char *tmpl, const char *h)
{
    size_t cap = strlen(tmpl) + 1, n = 0;
    char  *s;

    for (const char *p = tmpl; (p = strchr(p, '{')) != NULL; p++)
        cap += strlen(uniq) + (h ? strlen(h) : 0);
    s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    for (const char *p = tmpl; *p != '\0';) {
        const char *put = NULL;
        if (strncmp(p, "{U}", 3) == 0)
            put = uniq;
        else if (strncmp(p, "{H}", 3) == 0)
            put = h;
        if (put == NULL) {
            s[n++] = *p++;
            continue;
        }
        memcpy(s + n, put, strlen(put));
        n += strlen(put);
        p += 3;
    }
    s[n] = '\0';
    return s;
}

/* ------------------------------------------------------------------ */
/* The host's view                                                     */
/* ------------------------------------------------------------------ */

static bool
iso_host_exists(const char *path)
{
    struct stat sb;

    return lstat(path, &sb) == 0;
}

/* Entries of a host directory, "." and ".." aside. */
static int
iso_dir_count(const char *dir)
{
    DIR           *d = opendir(dir);
    struct dirent *de;
    int            n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    ck_assert_int_eq(closedir(d), 0);
    return n;
}

/* The state letter of /proc/<pid>/stat, or 0 when there is no such pid. */
static char
iso_proc_state(long pid)
{
    char  path[64], buf[512];
    char  state = 0;
    FILE *f;

    (void)snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "re");
    if (f == NULL)
        return 0;
    if (fgets(buf, sizeof(buf), f) != NULL) {
        const char *p = strrchr(buf, ')');
        if (p != NULL && sscanf(p + 1, " %c", &state) != 1)
            state = 0;
    }
    (void)fclose(f);
    return state;
}

/* Read /proc/<pid>/<file> into buf (procfs reports size 0, so read to
 * EOF); returns the length. */
static size_t
iso_read_proc(long pid, const char *file, char *buf, size_t cap)
{
    char    path[64];
    size_t  len = 0;
    ssize_t n = 1;
    int     fd;

    (void)snprintf(path, sizeof(path), "/proc/%ld/%s", pid, file);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
    while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)n;
    ck_assert_msg(n >= 0, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(close(fd), 0);
    return len;
}

static bool
iso_proc_alive(long pid)
{
    char s = iso_proc_state(pid);

    return s != 0 && s != 'Z' && s != 'X';
}

/* The number of live processes whose command line is exactly argv. */
static int
iso_count_procs(const char *const *argv, size_t argc)
{
    char           want[256], got[sizeof(want) + 1];
    size_t         wlen = 0;
    DIR           *d = opendir("/proc");
    struct dirent *de;
    int            n = 0;

    for (size_t i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]) + 1;
        ck_assert_uint_le(wlen + l, sizeof(want));
        memcpy(want + wlen, argv[i], l);
        wlen += l;
    }
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        char    path[300];
        long    pid = strtol(de->d_name, NULL, 10);
        int     fd;
        ssize_t len;

        if (pid <= 0)
            continue;
        (void)snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* gone meanwhile */
        len = read(fd, got, sizeof(got));
        (void)close(fd);
        if (len == (ssize_t)wlen && memcmp(got, want, wlen) == 0 &&
            iso_proc_alive(pid))
            n++;
    }
    ck_assert_int_eq(closedir(d), 0);
    return n;
}

/* Poll (10 ms steps, up to ms) until iso_count_procs is want; returns the
 * last count. */
static int
iso_await_count(const char *const *argv, size_t argc, int want, int ms)
{
    int n = iso_count_procs(argv, argc);

    for (int t = 0; n != want && t < ms; t += 10) {
        usleep(10 * 1000);
        n = iso_count_procs(argv, argc);
    }
    return n;
}

/* A sandbox's holder as its note names it: pid and pid namespace. */
typedef struct {
    long               pid;
    unsigned long long ns;
} iso_holder_t;

/* Whether pid is alive and still the holder of that pid namespace. */
static bool
iso_holder_alive(const iso_holder_t *h)
{
    char        path[64];
    struct stat sb;

    (void)snprintf(path, sizeof(path), "/proc/%ld/ns/pid", h->pid);
    return stat(path, &sb) == 0 && sb.st_ino == h->ns && iso_proc_alive(h->pid);
}

/* The live holder among the notes in sandbox directory sb_path. */
static iso_holder_t
iso_find_holder(const char *sb_path)
{
    DIR           *d = opendir(sb_path);
    struct dirent *de;
    iso_holder_t   h = {0, 0};

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        iso_holder_t c;
        if (sscanf(de->d_name, NOX_HOLDER_FILE_PREFIX "%ld.%llu", &c.pid,
                   &c.ns) == 2 &&
            iso_holder_alive(&c))
            h = c;
    }
    ck_assert_int_eq(closedir(d), 0);
    ck_assert_msg(h.pid > 0, "no live holder noted in %s", sb_path);
    return h;
}

static char *
iso_hostname(void)
{
    char name[256];

    ck_assert_int_eq(gethostname(name, sizeof(name)), 0);
    name[sizeof(name) - 1] = '\0';
    return strdup(name);
}

/* A TCP listener on 127.0.0.1 at an ephemeral port. */
static int
iso_listen(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t          alen = sizeof(a);
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Whether a connection waits on the listener (without waiting for one). */
static bool
iso_pending(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};

    return poll(&p, 1, 0) == 1;
}

/* ------------------------------------------------------------------ */
/* Archives                                                            */
/* ------------------------------------------------------------------ */

/* A plain tar of one regular file name holding data, in out (cap bytes);
 * *len gets its size. */
static void
iso_tar_one(const char *name, const char *data, char *out, size_t cap,
            size_t *len)
{
    struct archive       *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    size_t                n = strlen(data);

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, out, cap, len), ARCHIVE_OK);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)n);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_data(a, data, n), (la_ssize_t)n);
    archive_entry_free(e);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_free(a), ARCHIVE_OK);
}

/* A plain tar of one symlink entry name -> target. */
static void
iso_tar_link(const char *name, const char *target, char *out, size_t cap,
             size_t *len)
{
    struct archive       *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, out, cap, len), ARCHIVE_OK);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_perm(e, 0777);
    archive_entry_set_symlink(e, target);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_free(e);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_free(a), ARCHIVE_OK);
}

static void
iso_upload_one(const char *sid, const char *dest, const char *name,
               const char *data, nox_err_t want, nox_status_t *st)
{
    static char tar[16384];
    size_t      len = 0;

    iso_tar_one(name, data, tar, sizeof(tar), &len);
    nox_err_t rv =
        nox_engine_upload(eng, sid, dest, NOX_TAR_PLAIN, tar, len, NULL, st);
    ck_assert_msg(rv == want, "upload %s to '%s': %d (want %d): %s", name,
                  dest ? dest : "", rv, want, st->msg);
}

/* What an archive holds: the entry called name, if any, and whether any
 * entry's data contains needle. */
typedef struct {
    bool   found;
    mode_t type; /* AE_IF* */
    char   link[PATH_MAX];
    bool   has_needle;
} iso_tar_scan_t;

static void
iso_tar_scan(const nox_buf_t *b, const char *name, const char *needle,
             iso_tar_scan_t *out)
{
    struct archive       *a = archive_read_new();
    struct archive_entry *e;
    char                  data[65536];
    la_ssize_t            n;

    memset(out, 0, sizeof(*out));
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(archive_read_support_format_all(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_read_support_filter_all(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_read_open_memory(a, b->data, b->len), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        if (strcmp(archive_entry_pathname(e), name) == 0) {
            const char *l = archive_entry_symlink(e);
            out->found = true;
            out->type = archive_entry_filetype(e);
            (void)snprintf(out->link, sizeof(out->link), "%s", l ? l : "");
        }
        while ((n = archive_read_data(a, data, sizeof(data))) > 0)
            if (memmem(data, (size_t)n, needle, strlen(needle)) != NULL)
                out->has_needle = true;
        ck_assert_int_ge(n, 0);
    }
    ck_assert_int_eq(archive_read_free(a), ARCHIVE_OK);
}

/* ------------------------------------------------------------------ */
/* 1. Host system directories are read-only                            */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *script; /* {U}: a name no host path has */
    int         exit_code;
    const char *err;       /* exact stderr */
    const char *host_path; /* must not exist on the host afterwards */
} iso_ro_case_t;

static const iso_ro_case_t iso_ro_cases[] = {
    {"echo x > /etc/{U}", 2,
     "sh: 1: cannot create /etc/{U}: Read-only file system\n", "/etc/{U}"},
    {"echo x > /usr/{U}", 2,
     "sh: 1: cannot create /usr/{U}: Read-only file system\n", "/usr/{U}"},
    {"echo x > /{U}", 2, "sh: 1: cannot create /{U}: Read-only file system\n",
     "/{U}"},
    {"echo x > /bin/{U}", 2,
     "sh: 1: cannot create /bin/{U}: Read-only file system\n", "/bin/{U}"},
    {"touch /usr/lib/{U}", 1,
     "touch: cannot touch '/usr/lib/{U}': Read-only file system\n",
     "/usr/lib/{U}"},
    {"echo x > /proc/self/root/etc/{U}", 2,
     "sh: 1: cannot create /proc/self/root/etc/{U}: Read-only file system\n",
     "/etc/{U}"},
};

START_TEST(iso_writes_to_host_system_dirs_fail_read_only)
{
    const iso_ro_case_t *c = &iso_ro_cases[_i];
    nox_sandbox_info_t   info;
    char                *script = iso_fill(c->script, NULL);
    char                *err = iso_fill(c->err, NULL);
    char                *host = iso_fill(c->host_path, NULL);

    iso_create_plain("ro", &info);
    iso_sh_expect("ro", script, c->exit_code, err, "");
    ck_assert_msg(!iso_host_exists(host), "%s exists on the host", host);
    free(script);
    free(err);
    free(host);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 2. Host directories outside the sandbox are invisible               */
/* ------------------------------------------------------------------ */

START_TEST(iso_host_temp_dir_is_invisible_inside)
{
    char              *host = iso_mkdtemp();
    nox_sandbox_info_t info;
    char               in_tmp[PATH_MAX];

    ck_assert_int_eq(chmod(host, 0777), 0);
    iso_create_plain("hd", &info);
    char *s1 = iso_fill("echo x > {H}/f", host);
    char *e1 =
        iso_fill("sh: 1: cannot create {H}/f: Directory nonexistent\n", host);
    iso_sh_expect("hd", s1, 2, e1, "");
    char *s2 = iso_fill("ls {H}", host);
    char *e2 =
        iso_fill("ls: cannot access '{H}': No such file or directory\n", host);
    iso_sh_expect("hd", s2, 2, e2, "");
    /* Made inside, the same path is the sandbox's own /tmp. */
    char *s3 = iso_fill("mkdir -p {H} && echo x > {H}/f && cat {H}/f", host);
    iso_sh_expect("hd", s3, 0, "", "x\n");
    ck_assert_int_eq(iso_dir_count(host), 0);
    /* host is /tmp/<name>: inside, that is the sandbox's tmp/<name>. */
    (void)snprintf(in_tmp, sizeof(in_tmp), "%s/tmp/%s/f", info.path,
                   host + strlen("/tmp/"));
    ck_assert_msg(iso_host_exists(in_tmp), "%s missing", in_tmp);
    free(s1);
    free(e1);
    free(s2);
    free(e2);
    free(s3);
    tu_rmtree_free(host);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 3. /proc/1/root is the sandbox's root, and closed to commands       */
/* ------------------------------------------------------------------ */

START_TEST(iso_proc_1_root_leads_only_to_the_sandbox)
{
    nox_sandbox_info_t info;
    char               root[64];

    iso_create_plain("pr", &info);
    char *s1 = iso_fill("echo x > /proc/1/root/etc/{U}", NULL);
    char *e1 = iso_fill(
        "sh: 1: cannot create /proc/1/root/etc/{U}: Permission denied\n", NULL);
    iso_sh_expect("pr", s1, 2, e1, "");
    char *host = iso_fill("/etc/{U}", NULL);
    ck_assert(!iso_host_exists(host));
    /* pid 1 is the holder: its root may not even be looked at... */
    iso_sh_expect("pr", "ls /proc/1/root", 2,
                  "ls: cannot access '/proc/1/root': Permission denied\n", "");
    /* ...but a command's own root shows the sandbox, not the host. */
    nox_exec_result_t res;
    iso_sh("pr", "ls /proc/self/root", &res);
    char *out = iso_text(&res.out);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_msg(strstr(out, "workspace\n") != NULL &&
                      strstr(out, "var\n") == NULL &&
                      strstr(out, "home\n") == NULL,
                  "ls /proc/self/root: [%s]", out);
    free(out);
    nox_exec_result_free(&res);
    /* From the host, the holder's root is that same sandbox root. */
    iso_holder_t h = iso_find_holder(info.path);
    (void)snprintf(root, sizeof(root), "/proc/%ld/root", h.pid);
    ck_assert(tu_exists(root, "workspace"));
    ck_assert(!tu_exists(root, "var"));
    free(s1);
    free(e1);
    free(host);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 4. Mounts, chroot and the hostname are refused                      */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *argv[5]; /* NULL-terminated */
    int         exit_code;
    const char *err;          /* exact stderr as root */
    const char *err_rootless; /* NULL: same as err */
} iso_priv_case_t;

/* util-linux refuses unprivileged users itself ("must be superuser");
 * rootless we are uid 0 inside, so it tries and reports the kernel's
 * EPERM. The python rows make the system calls directly. */
#define ISO_MOUNT_HINT                                                         \
    "       dmesg(1) may have more information after failed mount system "     \
    "call.\n"

static const iso_priv_case_t iso_priv_cases[] = {
    {{"sh", "-c", "mount -t tmpfs none /workspace", NULL},
     32,
     "mount: /workspace: must be superuser to use mount.\n" ISO_MOUNT_HINT,
     "mount: /workspace: permission denied.\n" ISO_MOUNT_HINT},
    {{"sh", "-c", "umount /usr", NULL},
     32,
     "umount: /usr: must be superuser to unmount.\n",
     NULL},
    {{"sh", "-c", "mount -o remount,rw /usr", NULL},
     32,
     "mount: /usr: must be superuser to use mount.\n" ISO_MOUNT_HINT,
     "mount: /usr: permission denied.\n" ISO_MOUNT_HINT},
    {{"sh", "-c", "/usr/sbin/chroot / true", NULL},
     125,
     "/usr/sbin/chroot: cannot change root directory to '/': Operation not "
     "permitted\n",
     NULL},
    {{"sh", "-c", "hostname evil", NULL},
     1,
     "hostname: you must be root to change the host name\n",
     NULL},
    {{"sh", "-c", "echo evil > /proc/sys/kernel/hostname", NULL},
     2,
     "sh: 1: cannot create /proc/sys/kernel/hostname: Read-only file "
     "system\n",
     NULL},
    {{"python3", "-c", ISO_PY_SYSCALL, "mount", NULL},
     1,
     "mount: Operation not permitted\n",
     NULL},
    {{"python3", "-c", ISO_PY_SYSCALL, "umount2", NULL},
     1,
     "umount2: Operation not permitted\n",
     NULL},
    {{"python3", "-c", ISO_PY_SYSCALL, "remount", NULL},
     1,
     "remount: Operation not permitted\n",
     NULL},
    {{"python3", "-c", ISO_PY_SYSCALL, "chroot", NULL},
     1,
     "chroot: Operation not permitted\n",
     NULL},
    {{"python3", "-c", ISO_PY_SYSCALL, "sethostname", NULL},
     1,
     "sethostname: Operation not permitted\n",
     NULL},
};

START_TEST(iso_mount_chroot_and_hostname_are_refused)
{
    const iso_priv_case_t *c = &iso_priv_cases[_i];
    const char *want = rootless && c->err_rootless ? c->err_rootless : c->err;
    char       *before = iso_hostname();
    nox_sandbox_info_t info;
    nox_exec_result_t  res;
    size_t             argc = 0;

    while (c->argv[argc] != NULL)
        argc++;
    iso_create_plain("pv", &info);
    iso_sh_expect("pv", "echo kept > /workspace/marker", 0, "", "");
    iso_run("pv", c->argv, argc, ISO_TIMEOUT_MS, &res);
    iso_expect(c->argv[argc - 1], &res, c->exit_code, want, "");
    nox_exec_result_free(&res);
    char *after = iso_hostname();
    ck_assert_str_eq(after, before);
    /* The view is what it was: the workspace is still the workspace, /usr
     * still read-only, the hostname still the sandbox's. */
    char *script = iso_fill("cat /workspace/marker; hostname; echo x > "
                            "/usr/{U}",
                            NULL);
    char *err = iso_fill(
        "sh: 1: cannot create /usr/{U}: Read-only file system\n", NULL);
    iso_sh_expect("pv", script, 2, err, "kept\nnoxrunner\n");
    free(script);
    free(err);
    free(before);
    free(after);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 5. Host processes cannot be signalled; pid 1 shrugs off kill -9     */
/* ------------------------------------------------------------------ */

START_TEST(iso_host_processes_cannot_be_signalled)
{
    nox_sandbox_info_t info;
    char               pid_s[32];
    int                status;
    pid_t              pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Dies with the test even if an assertion ends it early. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0)
            execl("/bin/sleep", "sleep", "60", (char *)NULL);
        _exit(127);
    }
    (void)snprintf(pid_s, sizeof(pid_s), "%ld", (long)pid);
    iso_create_plain("sig", &info);
    char *s0 = iso_fill("kill -0 {H}", pid_s);
    char *s9 = iso_fill("kill -9 {H}", pid_s);
    iso_sh_expect("sig", s0, 1, "sh: 1: kill: No such process\n\n", "");
    iso_sh_expect("sig", s9, 1, "sh: 1: kill: No such process\n\n", "");
    ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
    ck_assert_int_eq(kill(pid, 0), 0);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    free(s0);
    free(s9);
}
END_TEST

/* As nobody the holder is another user's process; rootless it is ours
 * (uid 0 inside) but the kernel drops signals to a pid namespace's init
 * that it has no handler for. Either way the sandbox goes on. */
START_TEST(iso_pid_1_survives_kill_from_inside)
{
    nox_sandbox_info_t info;

    iso_create_plain("k1", &info);
    iso_holder_t h = iso_find_holder(info.path);
    if (rootless)
        iso_sh_expect("k1", "kill -9 1", 0, "", "");
    else
        iso_sh_expect("k1", "kill -9 1", 1,
                      "sh: 1: kill: Operation not permitted\n\n", "");
    usleep(100 * 1000);
    ck_assert(iso_holder_alive(&h));
    iso_sh_expect("k1", "echo alive", 0, "", "alive\n");
}
END_TEST

/* ------------------------------------------------------------------ */
/* 6. Network: loopback only, unless allow_network                     */
/* ------------------------------------------------------------------ */

START_TEST(iso_host_loopback_listener_is_unreachable)
{
    nox_sandbox_info_t info;
    char               port_s[16];
    int                port = 0, fd = iso_listen(&port);

    (void)snprintf(port_s, sizeof(port_s), "%d", port);
    iso_create_plain("net", &info);
    char *script = iso_fill("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{H}'", port_s);
    char *err = iso_fill("bash: connect: Connection refused\n"
                         "bash: line 1: /dev/tcp/127.0.0.1/{H}: Connection "
                         "refused\n",
                         port_s);
    iso_sh_expect("net", script, 1, err, "");
    ck_assert(!iso_pending(fd));
    iso_sh_expect("net",
                  "python3 -c 'import socket; "
                  "print([n for _, n in socket.if_nameindex()])'",
                  0, "", "['lo']\n");
    ck_assert_int_eq(close(fd), 0);
    free(script);
    free(err);
}
END_TEST

START_TEST(iso_allow_network_reaches_the_host_listener)
{
    nox_create_req_t r = {
        .session_id = "wan", .ttl_seconds = 600, .allow_network = true};
    nox_sandbox_info_t info;
    char               port_s[16];
    int                port = 0, fd = iso_listen(&port);

    (void)snprintf(port_s, sizeof(port_s), "%d", port);
    iso_create(&r, &info, NULL);
    char *script = iso_fill("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{H}'", port_s);
    iso_sh_expect("wan", script, 0, "", "");
    ck_assert(iso_pending(fd));
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(c, 0);
    ck_assert_int_eq(close(c), 0);
    ck_assert_int_eq(close(fd), 0);
    free(script);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 7. The engine's environment does not leak through /proc             */
/* ------------------------------------------------------------------ */

static bool
iso_buf_has(const nox_buf_t *b, const char *needle)
{
    return b->len > 0 &&
           memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

START_TEST(iso_engine_environment_is_unreadable_through_proc)
{
    nox_sandbox_info_t info;
    nox_exec_result_t  res;
    static char        env[65536];

    ck_assert_str_eq(getenv(ISO_SECRET_VAR), ISO_SECRET);
    iso_create_plain("env", &info);
    /* The holder is a copy of this process, so its environment and argv
     * blocks held the boot secret; it wipes them (its /proc/1/cmdline is
     * world-readable inside). Seen from the host, the secret is gone. */
    iso_holder_t h = iso_find_holder(info.path);
    size_t       len = iso_read_proc(h.pid, "environ", env, sizeof(env));
    ck_assert_ptr_null(
        memmem(env, len, ISO_BOOT_SECRET, strlen(ISO_BOOT_SECRET)));
    len = iso_read_proc(h.pid, "cmdline", env, sizeof(env));
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(env[i], '\0');
    iso_sh("env", "cat /proc/*/environ /proc/1/cmdline 2>/dev/null", &res);
    ck_assert_uint_gt(res.out.len, 0); /* its own environ at least */
    ck_assert(!iso_buf_has(&res.out, ISO_BOOT_SECRET));
    ck_assert(!iso_buf_has(&res.out, ISO_SECRET));
    ck_assert(!iso_buf_has(&res.out, ISO_SECRET_VAR));
    nox_exec_result_free(&res);
    iso_sh_expect("env", "cat /proc/1/environ", 1,
                  "cat: /proc/1/environ: Permission denied\n", "");
}
END_TEST

/* The same wipe seen from inside: pid 1's command line (world-readable,
 * unlike its environ) holds nothing but NUL bytes, if anything. */
START_TEST(iso_proc_1_cmdline_shows_nothing_of_the_engine)
{
    nox_sandbox_info_t info;

    iso_create_plain("cmd", &info);
    iso_sh_expect("cmd", "tr -d '\\000' < /proc/1/cmdline | wc -c", 0, "",
                  "0\n");
}
END_TEST

/* ------------------------------------------------------------------ */
/* 8. A planted symlink to a host path                                 */
/* ------------------------------------------------------------------ */

#define ISO_HOST_SECRET "host file content, not for the sandbox\n"

/* A host dir with secret (known content) and drop/ (0777, empty), and
 * links to both planted by a command: /workspace/link, .../droplink. */
static char *
iso_plant_links(const char *sid, nox_sandbox_info_t *info)
{
    char *host = iso_mkdtemp();
    char  drop[PATH_MAX];

    tu_write_file(host, "secret", ISO_HOST_SECRET, strlen(ISO_HOST_SECRET));
    (void)snprintf(drop, sizeof(drop), "%s/drop", host);
    ck_assert_int_eq(mkdir(drop, 0777), 0);
    ck_assert_int_eq(chmod(drop, 0777), 0);
    iso_create_plain(sid, info);
    char *s = iso_fill("ln -s {H}/secret /workspace/link && "
                       "ln -s {H}/drop /workspace/droplink",
                       host);
    iso_sh_expect(sid, s, 0, "", "");
    free(s);
    return host;
}

static void
iso_assert_host_untouched(const char *host)
{
    char drop[PATH_MAX];

    char *secret = tu_read_file(host, "secret", NULL);
    ck_assert_ptr_nonnull(secret);
    ck_assert_str_eq(secret, ISO_HOST_SECRET);
    free(secret);
    ck_assert_int_eq(iso_dir_count(host), 2);
    (void)snprintf(drop, sizeof(drop), "%s/drop", host);
    ck_assert_int_eq(iso_dir_count(drop), 0);
}

START_TEST(iso_planted_symlink_shows_nothing_of_the_host)
{
    nox_sandbox_info_t info;
    char              *host = iso_plant_links("ln", &info);

    iso_sh_expect("ln", "cat /workspace/link", 1,
                  "cat: /workspace/link: No such file or directory\n", "");
    iso_sh_expect("ln", "echo x > /workspace/droplink/f", 2,
                  "sh: 1: cannot create /workspace/droplink/f: Directory "
                  "nonexistent\n",
                  "");
    iso_assert_host_untouched(host);
    tu_rmtree_free(host);
}
END_TEST

/* A destination through a link that leaves the workspace is redirected
 * to the workspace root (engine/files/paths.h: the documented rule), a member
 * through it rejects the archive, and a member named like the link
 * replaces the link instead of writing through it. */
START_TEST(iso_uploads_never_write_through_a_planted_symlink)
{
    nox_sandbox_info_t info;
    nox_status_t       st;
    char               ws[PATH_MAX];
    struct stat        sb;
    char              *host = iso_plant_links("up", &info);

    (void)snprintf(ws, sizeof(ws), "%s/workspace", info.path);
    iso_upload_one("up", "droplink", "evil.txt", "x\n", NOX_OK, &st);
    ck_assert(tu_exists(ws, "evil.txt"));
    iso_upload_one("up", NULL, "droplink/evil2.txt", "x\n", NOX_EINVAL, &st);
    ck_assert_str_eq(st.msg, "archive entry 'droplink/evil2.txt' rejected: "
                             "path goes through a symlink on disk");
    iso_upload_one("up", "/workspace/droplink/sub", "evil3.txt", "x\n", NOX_OK,
                   &st);
    ck_assert(tu_exists(ws, "evil3.txt"));
    iso_upload_one("up", NULL, "link", "replaced\n", NOX_OK, &st);
    char *got = tu_read_file(ws, "link", NULL);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "replaced\n");
    free(got);
    (void)snprintf(ws, sizeof(ws), "%s/workspace/link", info.path);
    ck_assert_int_eq(lstat(ws, &sb), 0);
    ck_assert(S_ISREG(sb.st_mode));
    iso_assert_host_untouched(host);
    /* The command's own droplink is the one link leading out. */
    (void)snprintf(ws, sizeof(ws), "%s/workspace", info.path);
    ck_assert_uint_eq(nox_test_escaping_links(ws, NULL, 0), 1);
    tu_rmtree_free(host);
}
END_TEST

/* No link in the workspace of the sandbox at path leads out of it (to
 * its metadata or tmp/ neither: uploads write only into the
 * workspace). */
static void
iso_assert_no_escaping_link(const char *path)
{
    char first[2 * PATH_MAX], ws[PATH_MAX];

    ck_assert_int_lt(snprintf(ws, sizeof(ws), "%s/workspace", path),
                     (int)sizeof(ws));
    ck_assert_msg(nox_test_escaping_links(ws, first, sizeof(first)) == 0,
                  "a link leads out of the workspace: %s", first);
}

/* The isolation levels the dot-link case runs at. */
static const nox_isolation_t iso_levels[] = {NOX_ISOLATION_NAMESPACES,
                                             NOX_ISOLATION_NONE};

/* A command makes d -> . in the workspace, so the destination
 * d/d/d/d/d/d/d/d/d/d/x is really /workspace/x, one level down: a link
 * there climbing ten levels would lead to the host's /etc, and is refused
 * (at both isolation levels), and nothing in the sandbox leads out. */
START_TEST(iso_upload_through_a_dot_link_cannot_plant_a_link_out)
{
    nox_engine_opts_t  o = {.quiet = 1, .isolation = iso_levels[_i]};
    nox_create_req_t   r = {.session_id = "dot", .ttl_seconds = 600};
    nox_engine_t      *e = eng;
    nox_sandbox_info_t info;
    nox_exec_result_t  res = NOX_EXEC_RESULT_INIT;
    nox_status_t       st;
    bool               created = false;
    char              *b = NULL, x[PATH_MAX];
    const char        *ln[] = {"ln", "-s", ".", "d"};
    nox_exec_req_t     er = {.session_id = "dot", .argv = ln, .argc = 4};
    static char        tar[16384];
    size_t             len = 0;

    if (iso_levels[_i] == NOX_ISOLATION_NONE) {
        b = iso_mkdtemp();
        o.base_dir = b;
        ck_assert_int_eq(nox_engine_open(&e, &o, &st), NOX_OK);
    }
    ck_assert_msg(nox_engine_create(e, &r, &info, &created, NULL, &st) ==
                      NOX_OK,
                  "create: %s", st.msg);
    ck_assert_int_eq(nox_engine_exec(e, &er, &res, &st), NOX_OK);
    iso_expect("ln -s . d", &res, 0, "", "");
    nox_exec_result_free(&res);
    iso_tar_link("l", "../../../../../../../../../../etc", tar, sizeof(tar),
                 &len);
    ck_assert_int_eq(nox_engine_upload(e, "dot", "d/d/d/d/d/d/d/d/d/d/x",
                                       NOX_TAR_PLAIN, tar, len, NULL, &st),
                     NOX_EINVAL);
    ck_assert_str_eq(st.msg, "archive entry 'l' rejected: symlink target "
                             "leaves the workspace");
    (void)snprintf(x, sizeof(x), "%s/workspace/x", info.path);
    ck_assert_int_eq(iso_dir_count(x), 0);
    iso_assert_no_escaping_link(info.path);
    if (e != eng)
        nox_engine_close(e);
    tu_rmtree_free(b);
}
END_TEST

/* The source leaves the workspace through the link, so (the redirect
 * rule again) the workspace root is packed: the link is in it as a link,
 * and no byte of the host file is. */
START_TEST(iso_download_keeps_a_planted_symlink_a_link)
{
    nox_sandbox_info_t info;
    nox_status_t       st;
    nox_buf_t          tar = NOX_BUF_INIT;
    iso_tar_scan_t     scan;
    char               want[PATH_MAX];
    char              *host = iso_plant_links("dl", &info);

    nox_err_t rv =
        nox_engine_download(eng, "dl", "link", NOX_TAR_PLAIN, 0, &tar, &st);
    ck_assert_msg(rv == NOX_OK, "download: %s", st.msg);
    iso_tar_scan(&tar, "link", "host file content", &scan);
    ck_assert(scan.found);
    ck_assert_uint_eq(scan.type, AE_IFLNK);
    (void)snprintf(want, sizeof(want), "%s/secret", host);
    ck_assert_str_eq(scan.link, want);
    ck_assert(!scan.has_needle);
    nox__buf_free(&tar);
    iso_assert_host_untouched(host);
    tu_rmtree_free(host);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 9-12. Limits                                                        */
/* ------------------------------------------------------------------ */

static const nox_limit_status_t *
iso_limit(const nox_create_report_t *rep, const char *name)
{
    for (size_t i = 0; i < rep->n_limits; i++)
        if (strcmp(rep->limits[i].name, name) == 0)
            return &rep->limits[i];
    ck_abort_msg("limit %s not in the report", name);
    return NULL;
}

/* Root: applied through the cgroup controller. Rootless: not applied,
 * and the reason says why (no cgroup this user may write). Returns
 * whether it was applied. */
static bool
iso_cgroup_limit_reported(const nox_create_report_t *rep, const char *name,
                          const char *ctrl)
{
    const nox_limit_status_t *l = iso_limit(rep, name);
    char                      want[64];

    if (rootless) {
        ck_assert_msg(!l->applied, "%s applied rootless: %s", name, l->detail);
        ck_assert_msg(strstr(l->detail, "cgroup") != NULL, "%s: %s", name,
                      l->detail);
        return false;
    }
    /* v1 here; a host with a delegated v2 tree says v2. */
    (void)snprintf(want, sizeof(want), " %s controller", ctrl);
    ck_assert_msg(l->applied, "%s not applied: %s", name, l->detail);
    ck_assert_msg((strncmp(l->detail, "cgroup v1", 9) == 0 ||
                   strncmp(l->detail, "cgroup v2", 9) == 0) &&
                      strcmp(l->detail + 9, want) == 0,
                  "%s: %s", name, l->detail);
    return true;
}

START_TEST(iso_fork_bomb_stops_at_the_pids_limit)
{
    nox_create_req_t r = {
        .session_id = "bomb", .ttl_seconds = 600, .pids_limit = 64};
    nox_sandbox_info_t  info;
    nox_create_report_t rep;
    nox_exec_result_t   res;
    nox_status_t        st;
    char                secs[32], script[256];
    bool                deleted = false;

    iso_create(&r, &info, &rep);
    ck_assert_int_eq(rep.isolation, NOX_ISOLATION_NAMESPACES);
    if (!iso_cgroup_limit_reported(&rep, "pids_limit", "pids"))
        return; /* not enforced rootless: nothing to bomb */
    /* A duration no other process on the host sleeps. */
    (void)snprintf(secs, sizeof(secs), "30.%ld", (long)getpid());
    const char *sleeper[] = {"sleep", secs};
    (void)snprintf(script, sizeof(script),
                   "i=0; while [ $i -lt 300 ]; do sleep %s & i=$((i+1)); "
                   "done; wait",
                   secs);
    const char *argv[] = {"sh", "-c", script};
    iso_run("bomb", argv, 3, 10000, &res);
    char *err = iso_text(&res.err);
    /* dash gives up at the first failed fork. */
    ck_assert_msg(res.cause == NOX_CAUSE_EXITED && res.exit_code == 2 &&
                      strcmp(err, "sh: 0: Cannot fork\n") == 0,
                  "cause %d exit %d stderr [%s]", res.cause, res.exit_code,
                  err);
    free(err);
    nox_exec_result_free(&res);
    usleep(200 * 1000); /* let the last forks exec */
    int n = iso_count_procs(sleeper, 2);
    ck_assert_msg(n >= 1 && n < 64, "%d sleepers", n);
    ck_assert_int_eq(nox_engine_delete(eng, "bomb", &deleted, &st), NOX_OK);
    ck_assert(deleted);
    ck_assert_int_eq(iso_await_count(sleeper, 2, 0, 2000), 0);
}
END_TEST

START_TEST(iso_memory_hog_is_oom_killed)
{
    nox_create_req_t r = {
        .session_id = "hog", .ttl_seconds = 600, .memory_limit = "64Mi"};
    nox_sandbox_info_t  info;
    nox_create_report_t rep;
    nox_exec_result_t   res;
    /* The hog is the command itself (no shell in between), so the
     * process the OOM killer picks is the one whose status we get. */
    const char *argv[] = {"python3", "-c", "a = bytearray(512 * 1024 * 1024)"};

    iso_create(&r, &info, &rep);
    if (!iso_cgroup_limit_reported(&rep, "memory_limit", "memory"))
        return;
    iso_run("hog", argv, 3, ISO_TIMEOUT_MS, &res);
    ck_assert_int_eq(res.cause, NOX_CAUSE_OOM_KILLED);
    ck_assert_int_eq(res.term_signal, SIGKILL);
    ck_assert_int_eq(res.exit_code, 137);
    /* Killed long before it had the 512 MiB it asked for. (Not "under
     * 64 MiB": RSS counts shared library pages charged elsewhere.) */
    ck_assert_int_lt(res.max_rss_kb, 256 * 1024);
    nox_exec_result_free(&res);
    iso_sh_expect("hog", "echo after", 0, "", "after\n");
}
END_TEST

START_TEST(iso_file_size_hog_is_stopped_by_sigxfsz)
{
    nox_create_req_t r = {
        .session_id = "big", .ttl_seconds = 600, .storage_limit = "1Mi"};
    nox_sandbox_info_t  info;
    nox_create_report_t rep;
    nox_exec_result_t   res;
    nox_status_t        st;
    struct stat         sb;
    char                path[PATH_MAX];
    const char *dd[] = {"dd", "if=/dev/zero", "of=/workspace/big", "bs=1M",
                        "count=5"};
    /* dd is on the blocklist, so the shell execs it: dd is still the
     * command's own process. */
    const char *argv[] = {"sh", "-c",
                          "exec dd if=/dev/zero of=/workspace/big bs=1M "
                          "count=5"};

    iso_create(&r, &info, &rep);
    const nox_limit_status_t *l = iso_limit(&rep, "ephemeral_storage_limit");
    ck_assert(l->applied);
    ck_assert_ptr_nonnull(strstr(l->detail, "RLIMIT_FSIZE"));
    res = (nox_exec_result_t)NOX_EXEC_RESULT_INIT;
    nox_exec_req_t denied = {.session_id = "big", .argv = dd, .argc = 5};
    ck_assert_int_eq(nox_engine_exec(eng, &denied, &res, &st), NOX_EDENIED);
    iso_run("big", argv, 3, ISO_TIMEOUT_MS, &res);
    ck_assert_int_eq(res.cause, NOX_CAUSE_SIGNALED);
    ck_assert_int_eq(res.term_signal, SIGXFSZ);
    ck_assert_int_eq(res.exit_code, 128 + SIGXFSZ);
    nox_exec_result_free(&res);
    (void)snprintf(path, sizeof(path), "%s/workspace/big", info.path);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_le(sb.st_size, (off_t)ISO_MIB);
}
END_TEST

START_TEST(iso_stdout_flood_is_killed_at_the_output_limit)
{
    nox_sandbox_info_t info;
    nox_exec_result_t  res;
    const char        *argv[] = {"head", "-c", "1G", "/dev/zero"};

    iso_create_plain("flood", &info);
    iso_run("flood", argv, 4, 60000, &res);
    ck_assert_int_eq(res.cause, NOX_CAUSE_OUTPUT_LIMIT);
    ck_assert_int_eq(res.term_signal, SIGKILL);
    ck_assert_int_eq(res.exit_code, 137);
    ck_assert_uint_eq(res.out.len, NOX_DEFAULT_OUTPUT_CAP);
    ck_assert(res.out_truncated);
    ck_assert_uint_ge(res.out_total, NOX_DEFAULT_OUTPUT_KILL);
    ck_assert_uint_lt(res.out_total, 1024 * ISO_MIB);
    nox_exec_result_free(&res);
    iso_sh_expect("flood", "echo still here", 0, "", "still here\n");
}
END_TEST

/* ------------------------------------------------------------------ */
/* 13. Delete and expiry end every process                             */
/* ------------------------------------------------------------------ */

/* Start three background sleepers in sid, one in a session of its own.
 * They outlive the command (their output goes to /dev/null, so the exec
 * does not wait for them). */
static void
iso_start_sleepers(const char *sid, const char *secs)
{
    char script[256];

    (void)snprintf(script, sizeof(script),
                   "exec >/dev/null 2>&1; sleep %s & sleep %s & "
                   "setsid sleep %s &",
                   secs, secs, secs);
    iso_sh_expect(sid, script, 0, "", "");
}

START_TEST(iso_delete_leaves_no_process_behind)
{
    nox_sandbox_info_t info;
    nox_status_t       st;
    char               secs[32];
    bool               deleted = false;

    (void)snprintf(secs, sizeof(secs), "300.%ld", (long)getpid());
    const char *sleeper[] = {"sleep", secs};
    iso_create_plain("del", &info);
    iso_holder_t h = iso_find_holder(info.path);
    iso_start_sleepers("del", secs);
    ck_assert_int_eq(iso_await_count(sleeper, 2, 3, 2000), 3);
    ck_assert_int_eq(nox_engine_delete(eng, "del", &deleted, &st), NOX_OK);
    ck_assert(deleted);
    ck_assert_int_eq(iso_await_count(sleeper, 2, 0, 2000), 0);
    ck_assert(!iso_holder_alive(&h));
    ck_assert(!iso_host_exists(info.path));
}
END_TEST

START_TEST(iso_ttl_expiry_leaves_no_process_behind)
{
    nox_create_req_t   r = {.session_id = "ttl", .ttl_seconds = 1};
    nox_sandbox_info_t info;
    nox_status_t       st;
    char               secs[32];
    size_t             reaped = 0;

    (void)snprintf(secs, sizeof(secs), "300.%ld", (long)getpid());
    const char *sleeper[] = {"sleep", secs};
    iso_create(&r, &info, NULL);
    iso_holder_t h = iso_find_holder(info.path);
    iso_start_sleepers("ttl", secs);
    ck_assert_int_eq(iso_await_count(sleeper, 2, 3, 2000), 3);
    usleep(2200 * 1000); /* the exec restarted the 1 s TTL */
    ck_assert_int_eq(nox_engine_reap(eng, &reaped, &st), NOX_OK);
    ck_assert_uint_eq(reaped, 1);
    ck_assert_int_eq(iso_await_count(sleeper, 2, 0, 2000), 0);
    ck_assert(!iso_holder_alive(&h));
    ck_assert(!iso_host_exists(info.path));
}
END_TEST

/* ------------------------------------------------------------------ */
/* 14. A killed engine                                                 */
/* ------------------------------------------------------------------ */

/* In a fork of the test: open an engine on base, create sid, write
 * /workspace/f, say so on fd and wait for SIGKILL. No Check assertions
 * in here; an exit code tells the parent what failed. */
static _Noreturn void
iso_doomed_engine(const char *sid, int fd)
{
    nox_engine_opts_t o = {
        .base_dir = base, .quiet = 1, .isolation = NOX_ISOLATION_NAMESPACES};
    nox_create_req_t   r = {.session_id = sid, .ttl_seconds = 600};
    const char        *argv[] = {"sh", "-c", "echo survived > /workspace/f"};
    nox_exec_req_t     x = {.session_id = sid, .argv = argv, .argc = 3};
    nox_exec_result_t  res = NOX_EXEC_RESULT_INIT;
    nox_engine_t      *e = NULL;
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created;

    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 ||
        nox_engine_open(&e, &o, &st) != NOX_OK ||
        nox_engine_create(e, &r, &info, &created, NULL, &st) != NOX_OK)
        _exit(1);
    if (nox_engine_exec(e, &x, &res, &st) != NOX_OK || res.exit_code != 0)
        _exit(2);
    if (write(fd, "r", 1) != 1)
        _exit(3);
    for (;;)
        pause();
}

START_TEST(iso_sandbox_outlives_a_killed_engine)
{
    char              sb_path[PATH_MAX];
    char              ready = 0;
    int               sync[2], status;
    nox_exec_result_t res;

    ck_assert_int_eq(pipe2(sync, O_CLOEXEC), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        (void)close(sync[0]);
        iso_doomed_engine("K", sync[1]);
    }
    ck_assert_int_eq(close(sync[1]), 0);
    ssize_t n = read(sync[0], &ready, 1);
    ck_assert_int_eq(close(sync[0]), 0);
    if (n != 1) { /* it died before the handshake: say how */
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_abort_msg("engine child failed: status %d", status);
    }
    (void)snprintf(sb_path, sizeof(sb_path), "%s/" NOX_SANDBOX_PREFIX "K",
                   base);
    iso_holder_t old = iso_find_holder(sb_path);
    ck_assert_int_eq(kill(child, SIGKILL), 0);
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    for (int t = 0; t < 2000 && iso_holder_alive(&old); t += 10)
        usleep(10 * 1000);
    ck_assert_msg(!iso_holder_alive(&old), "holder %ld outlived its engine",
                  old.pid);
    /* A new engine picks the sandbox up: files kept, a new holder. */
    nox_engine_close(eng);
    eng = iso_open_engine();
    const char *cat[] = {"cat", "/workspace/f"};
    iso_run("K", cat, 2, ISO_TIMEOUT_MS, &res);
    iso_expect("cat /workspace/f", &res, 0, "", "survived\n");
    nox_exec_result_free(&res);
    iso_holder_t now = iso_find_holder(sb_path);
    ck_assert(now.pid != old.pid || now.ns != old.ns);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 15. Fidelity: what a command sees is what a pod would show          */
/* ------------------------------------------------------------------ */

START_TEST(iso_python_script_runs_as_in_a_pod)
{
    nox_sandbox_info_t info;
    nox_exec_result_t  res;
    nox_status_t       st;
    const char        *argv[] = {"python3", "/workspace/script.py"};

    iso_create_plain("py", &info);
    iso_upload_one("py", NULL, "script.py", "print(\"hello from\", __file__)\n",
                   NOX_OK, &st);
    iso_run("py", argv, 2, ISO_TIMEOUT_MS, &res);
    iso_expect("python3 script.py", &res, 0, "",
               "hello from /workspace/script.py\n");
    nox_exec_result_free(&res);
    iso_assert_no_escaping_link(info.path);
}
END_TEST

START_TEST(iso_commands_run_unprivileged_in_the_workspace)
{
    nox_sandbox_info_t info;
    nox_exec_result_t  res;
    struct stat        sb;
    char               path[PATH_MAX], want[512];
    const char        *pwd[] = {"pwd"};
    const char        *where[] = {"sh", "-c", "pwd; echo \"$PWD\""};
    nox_exec_req_t     sub = {
            .session_id = "fid", .argv = where, .argc = 3, .workdir = "sub"};
    nox_status_t st;

    iso_create_plain("fid", &info);
    iso_run("fid", pwd, 1, ISO_TIMEOUT_MS, &res);
    iso_expect("pwd", &res, 0, "", "/workspace\n");
    nox_exec_result_free(&res);
    res = (nox_exec_result_t)NOX_EXEC_RESULT_INIT;
    ck_assert_int_eq(nox_engine_exec(eng, &sub, &res, &st), NOX_OK);
    iso_expect("pwd in sub", &res, 0, "", "/workspace/sub\n/workspace/sub\n");
    nox_exec_result_free(&res);
    (void)snprintf(want, sizeof(want),
                   "/workspace /tmp noxrunner\n%d\n"
                   "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n"
                   "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n"
                   "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\n",
                   rootless ? 0 : NOX_SANDBOX_UID);
    iso_sh_expect("fid",
                  "echo \"$HOME $TMPDIR $(hostname)\"; id -u; "
                  "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' "
                  "/proc/self/status; echo mine > /workspace/owned",
                  0, "", want);
    /* On the host, what commands write belongs to the id they run as:
     * nobody as root, the engine's own user rootless. */
    (void)snprintf(path, sizeof(path), "%s/workspace/owned", info.path);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_uid, rootless ? geteuid() : NOX_SANDBOX_UID);
}
END_TEST

START_TEST(iso_sandboxes_do_not_see_each_other)
{
    nox_sandbox_info_t a, b;

    iso_create_plain("A", &a);
    iso_create_plain("B", &b);
    char *put = iso_fill("echo a > /tmp/{U} && echo a > /workspace/{U}", NULL);
    iso_sh_expect("A", put, 0, "", "");
    char *look = iso_fill("ls /tmp/{U} /workspace/{U}", NULL);
    char *err = iso_fill("ls: cannot access '/tmp/{U}': No such file or "
                         "directory\n"
                         "ls: cannot access '/workspace/{U}': No such file or "
                         "directory\n",
                         NULL);
    iso_sh_expect("B", look, 2, err, "");
    iso_sh_expect("A", look, 0, "", NULL);
    free(put);
    free(look);
    free(err);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 16. The level in force                                              */
/* ------------------------------------------------------------------ */

START_TEST(iso_engine_reports_namespaces_without_detail)
{
    const char *detail = NULL;

    ck_assert_int_eq(nox_engine_isolation(eng, &detail),
                     NOX_ISOLATION_NAMESPACES);
    ck_assert_ptr_nonnull(detail);
    ck_assert_str_eq(detail, "");
}
END_TEST

/* ------------------------------------------------------------------ */
/* 17. No terminal and no keys of the engine's                         */
/* ------------------------------------------------------------------ */

/* dash's read runs in the shell itself: the shell is the leader of its
 * own session and process group, with no terminal (tty_nr 0); then the
 * terminal the engine has is asked for. */
#define ISO_TTY_SCRIPT                                                         \
    "read -r pid comm state ppid pgrp sid tty rest < /proc/self/stat; "        \
    "[ \"$pid\" = $$ ] && [ \"$pgrp\" = $$ ] && [ \"$sid\" = $$ ] && "         \
    "echo \"session leader, tty_nr $tty\"; exec 3</dev/tty"

/* What iso_tty_engine reports: these, then out_len bytes of stdout and
 * err_len of stderr. */
typedef struct {
    int    exit_code;
    int    cause;
    size_t out_len;
    size_t err_len;
} iso_tty_report_t;

/* In a fork of the test (a process group leader under Check, so it cannot
 * start a session itself): start a session whose controlling terminal is
 * the pty at pts, as an engine started from a shell has, open an engine
 * on base, run ISO_TTY_SCRIPT in sid and send the result over fd. No
 * Check assertions in here; an exit code tells the parent what failed. */
static _Noreturn void
iso_tty_engine(const char *pts, const char *sid, int fd)
{
    nox_engine_opts_t o = {
        .base_dir = base, .quiet = 1, .isolation = NOX_ISOLATION_NAMESPACES};
    nox_create_req_t   r = {.session_id = sid, .ttl_seconds = 600};
    const char        *argv[] = {"sh", "-c", ISO_TTY_SCRIPT};
    nox_exec_req_t     x = {.session_id = sid,
                            .argv = argv,
                            .argc = 3,
                            .timeout_ms = ISO_TIMEOUT_MS};
    nox_exec_result_t  res = NOX_EXEC_RESULT_INIT;
    nox_engine_t      *e = NULL;
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created, deleted;

    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || setsid() < 0)
        _exit(1);
    /* A session leader without a terminal acquires the first it opens. */
    if (open(pts, O_RDWR | O_CLOEXEC) < 0 ||
        open("/dev/tty", O_RDWR | O_CLOEXEC) < 0)
        _exit(2);
    if (nox_engine_open(&e, &o, &st) != NOX_OK ||
        nox_engine_create(e, &r, &info, &created, NULL, &st) != NOX_OK)
        _exit(3);
    if (nox_engine_exec(e, &x, &res, &st) != NOX_OK)
        _exit(4);
    iso_tty_report_t rep = {res.exit_code, res.cause, res.out.len, res.err.len};
    if (write(fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep) ||
        (rep.out_len > 0 &&
         write(fd, res.out.data, rep.out_len) != (ssize_t)rep.out_len) ||
        (rep.err_len > 0 &&
         write(fd, res.err.data, rep.err_len) != (ssize_t)rep.err_len))
        _exit(5);
    nox_exec_result_free(&res);
    if (nox_engine_delete(e, sid, &deleted, &st) != NOX_OK)
        _exit(6);
    nox_engine_close(e);
    _exit(0);
}

/* Read fd to EOF into buf (cap bytes); returns the length. */
static size_t
iso_read_all(int fd, char *buf, size_t cap)
{
    size_t  len = 0;
    ssize_t n = 1;

    while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)n;
    ck_assert_msg(n >= 0, "read: %s", strerror(errno));
    return len;
}

START_TEST(iso_command_is_a_session_leader_without_a_terminal)
{
    static char      buf[8192];
    char             pts[64];
    int              sync[2], status;
    iso_tty_report_t rep;
    int              m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

    ck_assert_int_ge(m, 0);
    ck_assert_int_eq(grantpt(m), 0);
    ck_assert_int_eq(unlockpt(m), 0);
    ck_assert_int_eq(ptsname_r(m, pts, sizeof(pts)), 0);
    ck_assert_int_eq(pipe2(sync, O_CLOEXEC), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        (void)close(sync[0]);
        iso_tty_engine(pts, "tty", sync[1]);
    }
    ck_assert_int_eq(close(sync[1]), 0);
    size_t len = iso_read_all(sync[0], buf, sizeof(buf));
    ck_assert_int_eq(close(sync[0]), 0);
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "engine on a terminal failed: status %#x", status);
    ck_assert_uint_ge(len, sizeof(rep));
    memcpy(&rep, buf, sizeof(rep));
    ck_assert_uint_eq(len, sizeof(rep) + rep.out_len + rep.err_len);
    char *out = strndup(buf + sizeof(rep), rep.out_len);
    char *err = strndup(buf + sizeof(rep) + rep.out_len, rep.err_len);
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(rep.cause == NOX_CAUSE_EXITED && rep.exit_code == 2 &&
                      strcmp(out, "session leader, tty_nr 0\n") == 0 &&
                      strcmp(err, "sh: 1: cannot open /dev/tty: No such "
                                  "device or address\n") == 0,
                  "cause %d exit %d\nstdout [%s]\nstderr [%s]", rep.cause,
                  rep.exit_code, out, err);
    free(out);
    free(err);
    ck_assert_int_eq(close(m), 0);
}
END_TEST

/* Looks for the key the test holds: the session keyring's id against
 * ours (argv[1]), a search and a request_key by description (argv[3]),
 * a read by id (argv[2]). Errors as the kernel names them. */
#define ISO_PY_KEYS                                                            \
    "import ctypes, os, sys\n"                                                 \
    "libc = ctypes.CDLL(None, use_errno=True)\n"                               \
    "L = ctypes.c_long\n"                                                      \
    "def res(r):\n"                                                            \
    "    return 'found' if r >= 0 else os.strerror(ctypes.get_errno())\n"      \
    "ring = libc.syscall(L(250), L(0), L(-3), L(0))\n"                         \
    "print('session keyring:', 'ours' if ring == int(sys.argv[1]) else "       \
    "'its own')\n"                                                             \
    "desc = sys.argv[3].encode()\n"                                            \
    "print('search:', res(libc.syscall(L(250), L(10), L(-3), b'user', "        \
    "desc, L(0))))\n"                                                          \
    "print('request_key:', res(libc.syscall(L(249), b'user', desc, None, "     \
    "L(0))))\n"                                                                \
    "buf = ctypes.create_string_buffer(64)\n"                                  \
    "print('read:', res(libc.syscall(L(250), L(11), L(int(sys.argv[2])), "     \
    "buf, L(64))))\n"

/* Adds a "user" key described argv[1] to the session keyring; prints its
 * id. */
#define ISO_PY_ADD_KEY                                                         \
    "import ctypes, sys\n"                                                     \
    "libc = ctypes.CDLL(None, use_errno=True)\n"                               \
    "print(libc.syscall(ctypes.c_long(248), b'user', sys.argv[1].encode(), "   \
    "b'x', ctypes.c_size_t(1), ctypes.c_long(-3)))\n"

#define ISO_KEYS_UNSEEN                                                        \
    "session keyring: its own\nsearch: Required key not available\n"           \
    "request_key: Required key not available\nread: Permission denied\n"

/* A key whose keyring went with the command that made it may already be
 * collected by the kernel when read: unreadable either way. */
#define ISO_KEYS_GONE                                                          \
    "session keyring: its own\nsearch: Required key not available\n"           \
    "request_key: Required key not available\n"                                \
    "read: Required key not available\n"

/* Run ISO_PY_KEYS in sid for key (described desc) against ring; with
 * may_be_gone the key may also have been collected meanwhile. */
static void
iso_keys_expect_unseen(const char *sid, long ring, long key, const char *desc,
                       bool may_be_gone)
{
    char        ring_s[32], key_s[32];
    const char *argv[] = {"python3", "-c", ISO_PY_KEYS, ring_s, key_s, desc};
    nox_exec_result_t res;

    (void)snprintf(ring_s, sizeof(ring_s), "%ld", ring);
    (void)snprintf(key_s, sizeof(key_s), "%ld", key);
    iso_run(sid, argv, N_OF(argv), ISO_TIMEOUT_MS, &res);
    char *out = iso_text(&res.out);
    bool  gone = may_be_gone && strcmp(out, ISO_KEYS_GONE) == 0;
    free(out);
    iso_expect("look for the key", &res, 0, "",
               gone ? ISO_KEYS_GONE : ISO_KEYS_UNSEEN);
    nox_exec_result_free(&res);
}

/* The test joins a session keyring of its own (a forked Check test may
 * share its parent's) and puts a key in it: the command starts with
 * another session keyring, where the key cannot be found, and without
 * possessing it may not read it by id. Nor does a key one command adds
 * reach the next command. */
START_TEST(iso_command_does_not_share_the_engine_session_keyring)
{
    nox_sandbox_info_t info;
    nox_exec_result_t  res;
    char               desc[96], desc2[96];

    (void)snprintf(desc, sizeof(desc), "%s-engine-key", uniq);
    (void)snprintf(desc2, sizeof(desc2), "%s-command-key", uniq);
    long ring = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
    ck_assert_int_gt(ring, 0);
    long key = syscall(SYS_add_key, "user", desc, ISO_SECRET,
                       strlen(ISO_SECRET), KEY_SPEC_SESSION_KEYRING);
    ck_assert_int_gt(key, 0);
    ck_assert_int_eq(
        syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0),
        ring);
    ck_assert_int_eq(syscall(SYS_keyctl, KEYCTL_SEARCH,
                             KEY_SPEC_SESSION_KEYRING, "user", desc, 0),
                     key);
    iso_create_plain("keys", &info);
    iso_keys_expect_unseen("keys", ring, key, desc, false);
    const char *add[] = {"python3", "-c", ISO_PY_ADD_KEY, desc2};
    iso_run("keys", add, N_OF(add), ISO_TIMEOUT_MS, &res);
    char *out = iso_text(&res.out);
    long  key2 = strtol(out, NULL, 10);
    ck_assert_msg(res.exit_code == 0 && key2 > 0, "add_key inside: [%s]", out);
    free(out);
    nox_exec_result_free(&res);
    iso_keys_expect_unseen("keys", ring, key2, desc2, true);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 18. Nested namespaces and /dev/shm are bounded                      */
/* ------------------------------------------------------------------ */

#define ISO_PY_UNSHARE                                                         \
    "import ctypes, os\n"                                                      \
    "libc = ctypes.CDLL(None, use_errno=True)\n"                               \
    "if libc.unshare(0x10000000) != 0:\n" /* CLONE_NEWUSER */                  \
    "    print('unshare(CLONE_NEWUSER): ' + "                                  \
    "os.strerror(ctypes.get_errno()))\n"

/* The first line of a /proc/sys file of this process, malloc'd. */
static char *
iso_read_sysctl(const char *path)
{
    char  line[128] = "";
    FILE *f = fopen(path, "re");

    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_int_eq(fclose(f), 0);
    char *s = strdup(line);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Each user namespace counts against the engine user's quota on the host:
 * the sandbox's own limit is 0, which it cannot raise, and the host's is
 * untouched. */
START_TEST(iso_nested_user_namespaces_fail_with_no_space_left)
{
    nox_sandbox_info_t info;
    nox_exec_result_t  res;
    const char        *py[] = {"python3", "-c", ISO_PY_UNSHARE};
    char *before = iso_read_sysctl("/proc/sys/user/max_user_namespaces");

    iso_create_plain("userns", &info);
    iso_sh_expect("userns", "unshare -U true", 1,
                  "unshare: unshare failed: No space left on device\n", "");
    iso_run("userns", py, N_OF(py), ISO_TIMEOUT_MS, &res);
    iso_expect("unshare(CLONE_NEWUSER)", &res, 0, "",
               "unshare(CLONE_NEWUSER): No space left on device\n");
    nox_exec_result_free(&res);
    iso_sh_expect("userns",
                  "cat /proc/sys/user/max_user_namespaces; "
                  "echo 100 > /proc/sys/user/max_user_namespaces",
                  2,
                  "sh: 1: cannot create /proc/sys/user/max_user_namespaces: "
                  "Read-only file system\n",
                  "0\n");
    char *after = iso_read_sysctl("/proc/sys/user/max_user_namespaces");
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
}
END_TEST

/* /dev/shm is RAM: a private tmpfs of 64 MiB, which a 100 MiB write
 * fills and no more. */
START_TEST(iso_dev_shm_is_bounded_to_64_mib)
{
    nox_sandbox_info_t info;

    iso_create_plain("shm", &info);
    iso_sh_expect("shm",
                  "python3 -c 'import os; s = os.statvfs(\"/dev/shm\"); "
                  "print(s.f_blocks * s.f_frsize)'",
                  0, "", "67108864\n");
    iso_sh_expect("shm", "head -c 100M /dev/zero > /dev/shm/big", 1,
                  "head: error writing 'standard output': No space left on "
                  "device\n",
                  "");
    iso_sh_expect("shm", "stat -c %s /dev/shm/big && rm /dev/shm/big", 0, "",
                  "67108864\n");
}
END_TEST

/* ------------------------------------------------------------------ */
/* 19. A sandbox that stops its own processes cannot hang the engine   */
/* ------------------------------------------------------------------ */

/* SIGSTOP every other process of the sandbox, over and over: each Exec's
 * command too, before or after its execve. Skips pid 1, itself and its
 * parent (the command that started it, so that that Exec ends). */
#define ISO_STOPPER_LOOP                                                       \
    "while :; do for p in /proc/[0-9]*; do p=${p#/proc/}; "                    \
    "[ $p = 1 ] || [ $p = $$ ] || [ $p = $PPID ] || kill -STOP $p; "           \
    "done; done"
#define ISO_STOP_TIMEOUT_MS 2000
#define ISO_NOT_STARTED                                                        \
    "spawn: the command did not start within 2000 ms (a process in the "       \
    "sandbox stopped it before its execve)"

static int64_t
iso_now_ms(void)
{
    struct timespec ts;

    ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The number of live processes in pid namespace ns (its inode). */
static int
iso_count_in_pidns(unsigned long long ns)
{
    DIR           *d = opendir("/proc");
    struct dirent *de;
    int            n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        long        pid = strtol(de->d_name, NULL, 10);
        char        path[64];
        struct stat sb;

        if (pid <= 0)
            continue;
        (void)snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
        if (stat(path, &sb) == 0 && sb.st_ino == ns && iso_proc_alive(pid))
            n++;
    }
    ck_assert_int_eq(closedir(d), 0);
    return n;
}

/* An Exec of a command that the stopper may freeze before its execve (the
 * engine gives up on it at the timeout) or after (it is killed at the
 * timeout): either way it ends within the timeout and a margin. */
static void
iso_exec_despite_stopper(const char *sid)
{
    const char       *argv[] = {"sleep", "5"};
    nox_exec_req_t    r = {.session_id = sid,
                           .argv = argv,
                           .argc = 2,
                           .timeout_ms = ISO_STOP_TIMEOUT_MS};
    nox_exec_result_t res = NOX_EXEC_RESULT_INIT;
    nox_status_t      st;
    int64_t           t0 = iso_now_ms();
    nox_err_t         rv = nox_engine_exec(eng, &r, &res, &st);
    int64_t           ms = iso_now_ms() - t0;

    ck_assert_msg(ms < 3 * ISO_STOP_TIMEOUT_MS, "exec took %lld ms",
                  (long long)ms);
    if (rv == NOX_OK)
        ck_assert_msg(res.cause == NOX_CAUSE_TIMED_OUT && res.exit_code == 124,
                      "cause %d exit %d", res.cause, res.exit_code);
    else
        ck_assert_msg(rv == NOX_ETIMEDOUT &&
                          strcmp(st.msg, ISO_NOT_STARTED) == 0,
                      "exec: %d: %s", rv, st.msg);
    nox_exec_result_free(&res);
}

START_TEST(iso_stopping_sandbox_processes_cannot_hang_the_engine)
{
    nox_sandbox_info_t info, calm;
    nox_exec_result_t  res;
    nox_status_t       st;
    bool               deleted = false;
    const char        *stopper[] = {"sh", "-c", ISO_STOPPER_LOOP};
    const char        *echo[] = {"echo", "calm"};

    iso_create_plain("stop", &info);
    iso_create_plain("calm", &calm);
    iso_holder_t h = iso_find_holder(info.path);
    iso_sh_expect("stop",
                  "setsid sh -c '" ISO_STOPPER_LOOP "' >/dev/null 2>&1 &", 0,
                  "", "");
    ck_assert_int_eq(iso_await_count(stopper, 3, 1, 2000), 1);
    for (int i = 0; i < 3; i++)
        iso_exec_despite_stopper("stop");
    /* The engine still serves everyone else at once. */
    int64_t t0 = iso_now_ms();
    iso_run("calm", echo, 2, ISO_TIMEOUT_MS, &res);
    ck_assert_int_lt(iso_now_ms() - t0, 2000);
    iso_expect("echo calm", &res, 0, "", "calm\n");
    nox_exec_result_free(&res);
    ck_assert_int_eq(nox_engine_delete(eng, "stop", &deleted, &st), NOX_OK);
    ck_assert(deleted);
    /* Killed with their pid namespace; on a loaded machine the kernel
     * can take a while to tear a stopped process down. */
    ck_assert_int_eq(iso_await_count(stopper, 3, 0, 10000), 0);
    ck_assert(!iso_holder_alive(&h));
    ck_assert_int_eq(iso_count_in_pidns(h.ns), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The suite                                                           */
/* ------------------------------------------------------------------ */

static TCase *
iso_tcase(const char *name, void (*setup)(void))
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, iso_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, iso_writes_to_host_system_dirs_fail_read_only, 0,
                        N_OF(iso_ro_cases));
    tcase_add_test(tc, iso_host_temp_dir_is_invisible_inside);
    tcase_add_test(tc, iso_proc_1_root_leads_only_to_the_sandbox);
    tcase_add_loop_test(tc, iso_mount_chroot_and_hostname_are_refused, 0,
                        N_OF(iso_priv_cases));
    tcase_add_test(tc, iso_host_processes_cannot_be_signalled);
    tcase_add_test(tc, iso_pid_1_survives_kill_from_inside);
    tcase_add_test(tc, iso_host_loopback_listener_is_unreachable);
    tcase_add_test(tc, iso_allow_network_reaches_the_host_listener);
    tcase_add_test(tc, iso_engine_environment_is_unreadable_through_proc);
    tcase_add_test(tc, iso_proc_1_cmdline_shows_nothing_of_the_engine);
    tcase_add_test(tc, iso_planted_symlink_shows_nothing_of_the_host);
    tcase_add_test(tc, iso_uploads_never_write_through_a_planted_symlink);
    tcase_add_loop_test(tc,
                        iso_upload_through_a_dot_link_cannot_plant_a_link_out,
                        0, N_OF(iso_levels));
    tcase_add_test(tc, iso_download_keeps_a_planted_symlink_a_link);
    tcase_add_test(tc, iso_fork_bomb_stops_at_the_pids_limit);
    tcase_add_test(tc, iso_memory_hog_is_oom_killed);
    tcase_add_test(tc, iso_file_size_hog_is_stopped_by_sigxfsz);
    tcase_add_test(tc, iso_stdout_flood_is_killed_at_the_output_limit);
    tcase_add_test(tc, iso_delete_leaves_no_process_behind);
    tcase_add_test(tc, iso_ttl_expiry_leaves_no_process_behind);
    tcase_add_test(tc, iso_sandbox_outlives_a_killed_engine);
    tcase_add_test(tc, iso_python_script_runs_as_in_a_pod);
    tcase_add_test(tc, iso_commands_run_unprivileged_in_the_workspace);
    tcase_add_test(tc, iso_sandboxes_do_not_see_each_other);
    tcase_add_test(tc, iso_engine_reports_namespaces_without_detail);
    tcase_add_test(tc, iso_command_is_a_session_leader_without_a_terminal);
    tcase_add_test(tc, iso_command_does_not_share_the_engine_session_keyring);
    tcase_add_test(tc, iso_nested_user_namespaces_fail_with_no_space_left);
    tcase_add_test(tc, iso_dev_shm_is_bounded_to_64_mib);
    tcase_add_test(tc, iso_stopping_sandbox_processes_cannot_hang_the_engine);
    return tc;
}

static Suite *
isolation_suite(void)
{
    Suite *s = suite_create("isolation");

    /* The root corpus needs root; rootless runs as whoever we are. */
    if (geteuid() == 0)
        suite_add_tcase(s, iso_tcase("root", iso_root_setup));
    else
        fprintf(stderr, "check_isolation: not root, TCase root skipped\n");
    suite_add_tcase(s, iso_tcase("rootless", iso_rootless_setup));
    return s;
}

int
main(int argc, char **argv)
{
    (void)argc;
    /* Case 7 needs a secret in the environment block this process was
     * exec'd with: setenv() only changes a heap copy, which
     * /proc/<pid>/environ never shows. So re-exec once with it set. */
    if (getenv(ISO_BOOT_SECRET_VAR) == NULL) {
        if (setenv(ISO_BOOT_SECRET_VAR, ISO_BOOT_SECRET, 1) != 0) {
            perror("setenv");
            return EXIT_FAILURE;
        }
        execv("/proc/self/exe", argv);
        perror("re-exec");
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(isolation_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
