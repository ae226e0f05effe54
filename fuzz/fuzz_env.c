/* fuzz_env.c - the harnesses' temporary tree, engines and leak checks. */
#include "fuzz_env.h"
#include "sandbox_scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_CANARY_FILE "canary.txt"
#define ENV_CANARY_TEXT "written by the fuzz harness; must never change\n"
#define ENV_MAX_ENGINES 4

/* The tree and engines to remove at exit (GLOBAL: atexit has no
 * argument; a harness process has one tree). */
static fuzz_env_t   *env_atexit;
static nox_engine_t *env_engines[ENV_MAX_ENGINES];
static size_t        env_n_engines;

void
fuzz_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)fputs("fuzz: ", stderr);
    (void)vfprintf(stderr, fmt, ap);
    (void)fputc('\n', stderr);
    va_end(ap);
    abort();
}

static void
env_path(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

    if (n < 0 || n >= PATH_MAX)
        fuzz_die("path too long: %s/%s", dir, name);
}

static void
env_cleanup(void)
{
    for (size_t i = 0; i < env_n_engines; i++)
        nox_engine_close(env_engines[i]);
    env_n_engines = 0;
    if (env_atexit == NULL)
        return;
    fuzz_empty_dir(env_atexit->top);
    (void)rmdir(env_atexit->top); /* best effort at exit */
}

void
fuzz_env_init(fuzz_env_t *env)
{
    static fuzz_env_t keep; /* outlives the caller's frame for atexit */
    const char       *tmp = getenv("TMPDIR");
    char              templ[PATH_MAX];
    int               fd;

    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        fuzz_die("cannot ignore SIGPIPE");
    env_path(templ, tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp",
             "noxfuzz.XXXXXX");
    if (mkdtemp(templ) == NULL || realpath(templ, env->top) == NULL)
        fuzz_die("cannot make a temporary directory: %s", strerror(errno));
    env_path(env->base, env->top, "base");
    env_path(env->canary, env->top, "canary");
    if (mkdir(env->base, 0700) != 0 || mkdir(env->canary, 0700) != 0)
        fuzz_die("cannot make %s: %s", env->top, strerror(errno));
    fd = openat(AT_FDCWD, env->canary, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        fuzz_die("cannot open %s: %s", env->canary, strerror(errno));
    int file = openat(fd, ENV_CANARY_FILE,
                      O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (file < 0 ||
        nox__write_all(file, ENV_CANARY_TEXT, strlen(ENV_CANARY_TEXT)) != 0 ||
        close(file) != 0)
        fuzz_die("cannot write the canary: %s", strerror(errno));
    (void)close(fd);
    env->base_fd = open(env->base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (env->base_fd < 0)
        fuzz_die("cannot open %s: %s", env->base, strerror(errno));
    keep = *env;
    env_atexit = &keep;
    if (atexit(env_cleanup) != 0)
        fuzz_die("atexit failed");
}

nox_isolation_t
fuzz_isolation(nox_isolation_t dflt)
{
    const char     *s = getenv("NOX_FUZZ_ISOLATION");
    nox_isolation_t level;

    if (s == NULL || s[0] == '\0')
        return dflt;
    if (nox_isolation_parse(s, &level, NULL) != NOX_OK)
        fuzz_die("NOX_FUZZ_ISOLATION: not auto, namespaces or none: %s", s);
    return level;
}

nox_engine_t *
fuzz_engine_open(const fuzz_env_t *env, nox_isolation_t level)
{
    nox_engine_opts_t o;
    nox_engine_t     *e;
    nox_status_t      st;

    if (env_n_engines == ENV_MAX_ENGINES)
        fuzz_die("too many engines");
    memset(&o, 0, sizeof(o));
    o.base_dir = env->base;
    o.quiet = 1;
    o.isolation = level;
    if (nox_engine_open(&e, &o, &st) != NOX_OK)
        fuzz_die("cannot open an engine on %s: %s", env->base, st.msg);
    env_engines[env_n_engines++] = e;
    return e;
}

void
fuzz_sandbox_create(nox_engine_t *e, const char *sid)
{
    nox_create_req_t   r;
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created;

    memset(&r, 0, sizeof(r));
    r.session_id = sid;
    r.ttl_seconds = UINT32_MAX; /* never expires during a run */
    if (nox_engine_create(e, &r, &info, &created, NULL, &st) != NOX_OK)
        fuzz_die("cannot create sandbox %s: %s", sid, st.msg);
}

void
fuzz_workspace_path(const fuzz_env_t *env, const char *sid, char *out)
{
    int n = snprintf(out, PATH_MAX, "%s/" NOX_SANDBOX_PREFIX "%s/workspace",
                     env->base, sid);

    if (n < 0 || n >= PATH_MAX)
        fuzz_die("workspace path too long");
}

/* ---- the outside checks ---- */

static void
env_check_canary(const fuzz_env_t *env, const char *what)
{
    char        path[PATH_MAX], buf[sizeof(ENV_CANARY_TEXT) + 1];
    struct stat sb;
    ssize_t     n;
    int         fd;

    if (lstat(env->canary, &sb) != 0 || !S_ISDIR(sb.st_mode))
        fuzz_die("%s: the canary directory %s was replaced or removed", what,
                 env->canary);
    DIR *d = opendir(env->canary);
    if (d == NULL)
        fuzz_die("%s: cannot list %s: %s", what, env->canary, strerror(errno));
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            strcmp(de->d_name, ENV_CANARY_FILE) != 0)
            fuzz_die("%s: something was written beside the base directory: "
                     "%s/%s",
                     what, env->canary, de->d_name);
    }
    (void)closedir(d);
    env_path(path, env->canary, ENV_CANARY_FILE);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        fuzz_die("%s: the canary file is gone: %s", what, strerror(errno));
    n = read(fd, buf, sizeof(buf));
    (void)close(fd);
    if (n != (ssize_t)strlen(ENV_CANARY_TEXT) ||
        memcmp(buf, ENV_CANARY_TEXT, (size_t)n) != 0)
        fuzz_die("%s: the canary file was changed", what);
}

void
fuzz_check_outside(const fuzz_env_t *env, const char *what)
{
    struct stat sb;
    DIR        *d = opendir(env->top);

    if (d == NULL)
        fuzz_die("%s: cannot list %s: %s", what, env->top, strerror(errno));
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        const char *n = de->d_name;
        if (strcmp(n, ".") != 0 && strcmp(n, "..") != 0 &&
            strcmp(n, "base") != 0 && strcmp(n, "canary") != 0)
            fuzz_die("%s: something appeared beside the base directory: "
                     "%s/%s",
                     what, env->top, n);
    }
    (void)closedir(d);
    if (lstat(env->base, &sb) != 0 || !S_ISDIR(sb.st_mode))
        fuzz_die("%s: the base directory was replaced or removed", what);
    env_check_canary(env, what);
}

/* ---- removal ---- */

static int
env_rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    if (ftw->level == 0)
        return 0; /* the directory itself stays */
    if (remove(path) != 0 && errno != ENOENT)
        fuzz_die("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

/* Directories an upload left without write or search permission cannot
 * be emptied by a non-root harness: give them back first. */
static int
env_chmod_one(const char *path, const struct stat *sb, int type,
              struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_D || type == FTW_DNR)
        (void)chmod(path, (sb->st_mode & 07777) | 0700); /* retried below */
    return 0;
}

void
fuzz_empty_dir(const char *dir)
{
    if (getuid() != 0 && nftw(dir, env_chmod_one, 32, FTW_PHYS) != 0)
        fuzz_die("cannot walk %s: %s", dir, strerror(errno));
    if (nftw(dir, env_rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0)
        fuzz_die("cannot empty %s: %s", dir, strerror(errno));
}

/* ---- symlinks ---- */

bool
fuzz_path_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

size_t
fuzz_escaping_links(const char *dir, char *first, size_t first_len)
{
    size_t n = nox_test_escaping_links(dir, first, first_len);

    if (n == (size_t)-1)
        fuzz_die("cannot resolve %s", dir);
    return n;
}
