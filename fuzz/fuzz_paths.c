/*
 * fuzz_paths.c - libFuzzer harness: the session-id check and the request
 * path resolver (engine/paths.c).
 *
 * Input: one flag byte (bit 0 NOX_PATH_DIR, bit 1 NOX_PATH_CREATE, bit 2 a
 * 16-byte output buffer for nox__path_normalize), then the string (up to
 * its first NUL, as the C functions see it).
 *
 * Checked:
 *  - nox__session_id_check accepts exactly 1-128 characters of
 *    [A-Za-z0-9._-] other than "." and "..";
 *  - nox__path_normalize's result has no leading or trailing '/', no empty,
 *    "." or ".." component, fits its buffer, and normalises to itself;
 *  - nox__path_open, on a workspace holding directories, a file, a FIFO
 *    and symlinks (up, out to the canary, to itself, dangling), opens
 *    something inside the workspace, a directory when asked, and the
 *    relative path it reports leads there; nothing outside changes.
 */
#include "fuzz_env.h"
#include "paths.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATHS_SMALL_OUT 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GLOBAL: libFuzzer's entry point takes no context. */
static fuzz_env_t paths_env;
static char       paths_ws[PATH_MAX];
static int        paths_ws_fd = -1;

/* The workspace every input starts from. */
static void
paths_fixture(void)
{
    static const char *const dirs[] = {"a", "a/b", "workspace", "d"};
    static const char *const links[][2] = {
        {"up", ".."},          {"upup", "../.."},
        {"self", "."},         {"loop", "loop"},
        {"ab", "a/b"},         {"dangling", "nothere"},
        {"a/b/back", "../.."}, {"d/esc", "../../../.."},
    };
    char canary_link[PATH_MAX];
    int  fd;

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (mkdirat(paths_ws_fd, dirs[i], 0755) != 0)
            fuzz_die("cannot make %s", dirs[i]);
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        if (symlinkat(links[i][1], paths_ws_fd, links[i][0]) != 0)
            fuzz_die("cannot make link %s", links[i][0]);
    (void)snprintf(canary_link, sizeof(canary_link), "%s", paths_env.canary);
    if (symlinkat(canary_link, paths_ws_fd, "abs") != 0 ||
        mkfifoat(paths_ws_fd, "fifo", 0600) != 0)
        fuzz_die("cannot make the fixture");
    fd = openat(paths_ws_fd, "a/f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                0600);
    if (fd < 0 || close(fd) != 0)
        fuzz_die("cannot make a/f");
}

static void
paths_setup(void)
{
    fuzz_env_init(&paths_env);
    if (snprintf(paths_ws, sizeof(paths_ws), "%s/ws", paths_env.base) >=
            (int)sizeof(paths_ws) ||
        mkdir(paths_ws, 0700) != 0)
        fuzz_die("cannot make the workspace");
    paths_ws_fd = open(paths_ws, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (paths_ws_fd < 0)
        fuzz_die("cannot open the workspace");
    paths_fixture();
}

static bool
paths_sid_expected(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > NOX_SESSION_ID_MAX || strcmp(s, ".") == 0 ||
        strcmp(s, "..") == 0)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._-") == n;
}

static void
paths_check_sid(const char *s)
{
    nox_status_t st;
    bool         ok = nox__session_id_check(s, &st) == NOX_OK;

    if (ok != paths_sid_expected(s))
        fuzz_die("session id check %s '%s'", ok ? "accepted" : "refused", s);
    if (!ok && (st.code != NOX_EINVAL || st.msg[0] == '\0'))
        fuzz_die("session id refused without EINVAL and a message");
}

/* A normalised relative path: no leading or trailing '/', components
 * neither empty nor "." nor "..". */
static bool
paths_is_normal(const char *p)
{
    if (p[0] == '\0')
        return true;
    if (p[0] == '/' || p[strlen(p) - 1] == '/' || strstr(p, "//") != NULL)
        return false;
    for (const char *c = p; c != NULL;) {
        size_t len = strcspn(c, "/");
        if ((len == 1 && c[0] == '.') ||
            (len == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c = c[len] == '/' ? c + len + 1 : NULL;
    }
    return true;
}

static void
paths_check_normalize(const char *s, bool small)
{
    char         out[PATH_MAX], again[PATH_MAX];
    size_t       outlen = small ? PATHS_SMALL_OUT : sizeof(out);
    nox_status_t st;
    bool         redirected = false, redirected2 = true;

    if (nox__path_normalize(s, out, outlen, &redirected, &st) != NOX_OK) {
        if (st.code != NOX_EINVAL || st.msg[0] == '\0')
            fuzz_die("normalize failed without EINVAL and a message");
        return;
    }
    if (strlen(out) >= outlen || !paths_is_normal(out))
        fuzz_die("normalize('%s') gave '%s'", s, out);
    if (nox__path_normalize(out, again, sizeof(again), &redirected2, &st) !=
            NOX_OK ||
        strcmp(again, out) != 0 || redirected2)
        fuzz_die("normalize('%s') is not stable", out);
}

/* Where fd really is, from /proc. */
static void
paths_fd_path(int fd, char *out)
{
    char    proc[64];
    ssize_t n;

    (void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    n = readlink(proc, out, PATH_MAX - 1);
    if (n < 0)
        fuzz_die("cannot read %s", proc);
    out[n] = '\0';
}

static void
paths_check_open(const char *s, unsigned flags)
{
    char rel[PATH_MAX], at[PATH_MAX], via_rel[2 * PATH_MAX], real[PATH_MAX];
    nox_status_t st;
    struct stat  sb;
    int          fd = -1;

    if (nox__path_open(paths_ws_fd, s, flags, &fd, rel, sizeof(rel), NULL,
                       &st) != NOX_OK) {
        if (st.msg[0] == '\0')
            fuzz_die("path_open failed without a message");
        return;
    }
    paths_fd_path(fd, at);
    if (!fuzz_path_within(at, paths_ws))
        fuzz_die("path_open('%s') opened %s, outside the workspace", s, at);
    if (fstat(fd, &sb) != 0)
        fuzz_die("fstat failed");
    if ((flags & NOX_PATH_DIR) && !S_ISDIR(sb.st_mode))
        fuzz_die("path_open('%s') with NOX_PATH_DIR gave a non-directory", s);
    (void)snprintf(via_rel, sizeof(via_rel), "%s/%s", paths_ws, rel);
    if (realpath(via_rel, real) == NULL || strcmp(real, at) != 0)
        fuzz_die("path_open('%s') reported '%s' but opened %s", s, rel, at);
    (void)close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char    *s;
    unsigned flags = 0;

    if (paths_ws_fd < 0)
        paths_setup();
    if (size == 0)
        return 0;
    if (data[0] & 1)
        flags |= NOX_PATH_DIR;
    if (data[0] & 2)
        flags |= NOX_PATH_CREATE;
    s = malloc(size);
    if (s == NULL)
        fuzz_die("out of memory");
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    paths_check_sid(s);
    paths_check_normalize(s, (data[0] & 4) != 0);
    paths_check_open(s, flags);
    free(s);
    fuzz_check_outside(&paths_env, "after path_open");
    if (flags & NOX_PATH_CREATE) {
        fuzz_empty_dir(paths_ws);
        paths_fixture();
    }
    return 0;
}
