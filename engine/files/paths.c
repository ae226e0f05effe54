/*
 * paths.c - session ids, lexical request-path mapping, and opening request
 * paths beneath a workspace fd with openat2(RESOLVE_BENEATH).
 *
 * Two layers keep a request inside the workspace. nox__path_normalize()
 * applies NoxRunner's redirect rule to the text alone, so ".." and foreign
 * absolute paths never reach the kernel. nox__path_open() then resolves
 * the result with RESOLVE_BENEATH, which makes the kernel refuse any
 * symlink (or race) that would leave ws_fd; that refusal is turned into
 * the same redirect to the workspace root.
 */
#include "paths.h"

#include "nox/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The first component of an absolute request path that maps into the
 * workspace; "/workspace" itself is the root. */
#define PATHS_WS_NAME "workspace"

/* openat2 may report EAGAIN when it cannot rule out a ".." race (only
 * possible through a symlink here); retrying a few times is what the man
 * page suggests before giving up. */
#define PATHS_EAGAIN_RETRIES 16

/* ------------------------------------------------------------------ */
/* session ids                                                         */
/* ------------------------------------------------------------------ */

static bool
paths_sid_char_ok(char c)
{
    /* Explicit ranges rather than isalnum(): locale-independent. */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

nox_err_t
nox__session_id_check(const char *sid, nox_status_t *st)
{
    size_t n;

    /* The id is never echoed back: it is untrusted and may hold control
     * characters or invalid UTF-8. */
    if (sid == NULL || sid[0] == '\0')
        return nox__status_set(st, NOX_EINVAL,
                               "invalid session id: must not be empty");
    n = strnlen(sid, NOX_SESSION_ID_MAX + 1);
    if (n > NOX_SESSION_ID_MAX)
        return nox__status_set(st, NOX_EINVAL,
                               "invalid session id: longer than %d "
                               "characters",
                               NOX_SESSION_ID_MAX);
    for (size_t i = 0; i < n; i++)
        if (!paths_sid_char_ok(sid[i]))
            return nox__status_set(st, NOX_EINVAL,
                                   "invalid session id: must be 1-%d "
                                   "characters of [A-Za-z0-9._-]",
                                   NOX_SESSION_ID_MAX);
    /* "." and ".." would name the base directory or its parent. */
    if (strcmp(sid, ".") == 0 || strcmp(sid, "..") == 0)
        return nox__status_set(st, NOX_EINVAL,
                               "invalid session id: '.' and '..' are not "
                               "allowed");
    return NOX_OK;
}

/* ------------------------------------------------------------------ */
/* lexical normalization                                               */
/* ------------------------------------------------------------------ */

/* Return the next component of *p (skipping slashes) with its length in
 * *len and advance *p past it; NULL at the end of the string. */
static const char *
paths_next_comp(const char **p, size_t *len)
{
    const char *s = *p;

    while (*s == '/')
        s++;
    if (*s == '\0')
        return NULL;
    *len = strcspn(s, "/");
    *p = s + *len;
    return s;
}

static bool
paths_comp_is(const char *c, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(c, name, len) == 0;
}

/* "/" before a non-empty relative path, so messages read /workspace/a. */
static const char *
paths_sep(const char *rel)
{
    return rel[0] != '\0' ? "/" : "";
}

/* For an absolute request, return the rest after its "workspace"
 * component, or NULL when it names something else (to be redirected).
 * Leading "." and ".." are skipped: at the host root "/.." is "/". */
static const char *
paths_strip_workspace(const char *req)
{
    const char *p = req, *c;
    size_t      len;

    for (;;) {
        c = paths_next_comp(&p, &len);
        if (c == NULL)
            break;
        if (paths_comp_is(c, len, ".") || paths_comp_is(c, len, ".."))
            continue;
        /* A whole-component compare: "/workspacefoo" is not ours. */
        return paths_comp_is(c, len, PATHS_WS_NAME) ? p : NULL;
    }
    return NULL; /* "/" and the like: outside /workspace */
}

/* Resolve the components of p relative to the workspace root into work
 * (which holds at least strlen(p) + 1 bytes; the result is never longer
 * than the input). False when a ".." would climb above the root. */
static bool
paths_resolve(const char *p, char *work)
{
    const char *c;
    size_t      len, wlen = 0;

    for (;;) {
        c = paths_next_comp(&p, &len);
        if (c == NULL)
            break;
        if (paths_comp_is(c, len, "."))
            continue;
        if (paths_comp_is(c, len, "..")) {
            if (wlen == 0)
                return false;
            /* Pop the last component; its '/' goes with it. */
            while (wlen > 0 && work[wlen - 1] != '/')
                wlen--;
            if (wlen > 0)
                wlen--;
            continue;
        }
        if (wlen > 0)
            work[wlen++] = '/';
        memcpy(work + wlen, c, len);
        wlen += len;
    }
    work[wlen] = '\0';
    return true;
}

nox_err_t
nox__path_normalize(const char *req, char *out, size_t outlen, bool *redirected,
                    nox_status_t *st)
{
    char        work[PATH_MAX];
    const char *rest;
    bool        redir = false;
    size_t      n;

    if (req == NULL)
        req = "";
    /* Bounding the input bounds work: resolution only ever shrinks it. */
    if (strnlen(req, PATH_MAX) >= PATH_MAX)
        return nox__status_set(
            st, NOX_EINVAL, "path too long (at most %d bytes)", PATH_MAX - 1);
    rest = req[0] == '/' ? paths_strip_workspace(req) : req;
    if (rest == NULL)
        redir = true;
    if (!redir && !paths_resolve(rest, work))
        redir = true;
    if (redir)
        work[0] = '\0';
    n = strlen(work);
    if (out == NULL || n >= outlen)
        return nox__status_set(st, NOX_EINVAL, "path too long: /workspace%s%s",
                               paths_sep(work), work);
    memcpy(out, work, n + 1);
    if (redirected != NULL)
        *redirected = redir;
    return NOX_OK;
}

/* ------------------------------------------------------------------ */
/* opening beneath the workspace                                       */
/* ------------------------------------------------------------------ */

/* openat2 beneath dirfd; returns the fd or -1 with errno set. The resolve
 * flags are the whole point: no component, symlink target or ".." may
 * leave dirfd, and /proc magic links are refused outright. */
static int
paths_openat2(int dirfd, const char *rel, int oflags)
{
    struct open_how how;
    long            fd;
    int             again = 0;

    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)oflags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    do {
        fd = syscall(SYS_openat2, dirfd, rel[0] != '\0' ? rel : ".", &how,
                     sizeof(how));
    } while (fd < 0 && (errno == EINTR ||
                        (errno == EAGAIN && ++again < PATHS_EAGAIN_RETRIES)));
    return (int)fd;
}

static int
paths_oflags(unsigned flags)
{
    /* O_NONBLOCK: opening a FIFO a command planted must not hang us;
     * O_NOCTTY: nor may a tty become our controlling terminal. */
    int of = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

    return (flags & NOX_PATH_DIR) ? of | O_DIRECTORY : of;
}

/* Map an openat2/mkdirat failure on rel to a status. */
static nox_err_t
paths_fail(int err, const char *rel, nox_status_t *st)
{
    switch (err) {
    case ENOENT:
        return nox__status_set(st, NOX_ENOENT,
                               "no such file or directory: /workspace%s%s",
                               paths_sep(rel), rel);
    case ENOTDIR:
        /* Either the target (with NOX_PATH_DIR) or a component on the way
         * is not a directory: a bad request either way, not our fault. */
        return nox__status_set(st, NOX_EINVAL,
                               "not a directory: /workspace%s%s",
                               paths_sep(rel), rel);
    case ENAMETOOLONG:
        return nox__status_set(st, NOX_EINVAL, "path too long: /workspace%s%s",
                               paths_sep(rel), rel);
    default:
        return nox__status_errno(st, NOX_EINTERNAL, err,
                                 "cannot open /workspace%s%s", paths_sep(rel),
                                 rel);
    }
}

/* The redirect target: the workspace root itself. */
static nox_err_t
paths_open_root(int ws_fd, unsigned flags, int *fd_out, nox_status_t *st)
{
    int fd = paths_openat2(ws_fd, "", paths_oflags(flags | NOX_PATH_DIR));

    if (fd < 0)
        return paths_fail(errno, "", st);
    *fd_out = fd;
    return NOX_OK;
}

/* Errors that mean "resolving this would leave the workspace": EXDEV from
 * RESOLVE_BENEATH, ELOOP from a magic link or a symlink loop. */
static bool
paths_is_escape(int err)
{
    return err == EXDEV || err == ELOOP;
}

/* Open the directory prefix (relative to ws_fd), creating its last
 * component name in parent_fd when missing. *fd_out is -1 when the
 * prefix cannot be reached without leaving the workspace (the caller
 * redirects). */
static nox_err_t
paths_mkdir_step(int ws_fd, int parent_fd, const char *prefix, const char *name,
                 const char *rel, int *fd_out, nox_path_made_t *made,
                 nox_status_t *st)
{
    int dflags = paths_oflags(NOX_PATH_DIR);
    int fd = paths_openat2(ws_fd, prefix, dflags);
    int err = fd < 0 ? errno : 0;

    if (err == ENOENT) {
        /* mkdirat never follows a final symlink: a dangling link here
         * gives EEXIST and nothing is created at its target. EEXIST from
         * a concurrent creator is just as fine. */
        if (mkdirat(parent_fd, name, 0755) == 0) {
            if (made->path[0] == '\0')
                made->keep = (size_t)(name - prefix);
            memcpy(made->path, prefix, strlen(prefix) + 1);
        } else if (errno != EEXIST) {
            return nox__status_errno(st, NOX_EINTERNAL, errno,
                                     "cannot create directory "
                                     "/workspace/%s",
                                     prefix);
        }
        fd = paths_openat2(ws_fd, prefix, dflags);
        err = fd < 0 ? errno : 0;
        /* Still missing after mkdir: a dangling symlink (or it was
         * removed under us). Treat it like an escape. */
        if (err == ENOENT)
            err = EXDEV;
    }
    if (err != 0 && !paths_is_escape(err))
        return paths_fail(err, rel, st);
    *fd_out = fd; /* -1 on an escape */
    return NOX_OK;
}

/* Create the missing directories of rel one component at a time. Each
 * prefix is reopened beneath ws_fd, so a symlink swapped in by a command
 * between steps is caught by RESOLVE_BENEATH like any other. A failure
 * removes again what this call created. */
static nox_err_t
paths_create(int ws_fd, const char *rel, unsigned flags, int *fd_out,
             bool *escaped, nox_path_made_t *made, nox_status_t *st)
{
    char      prefix[PATH_MAX];
    size_t    n = strlen(rel), pos = 0, end;
    int       parent_fd = -1, fd = -1;
    nox_err_t rv;

    rv = paths_open_root(ws_fd, flags, &parent_fd, st);
    if (rv != NOX_OK)
        return rv;
    while (pos < n) {
        end = pos + strcspn(rel + pos, "/");
        memcpy(prefix, rel, end); /* rel is shorter than PATH_MAX */
        prefix[end] = '\0';
        rv = paths_mkdir_step(ws_fd, parent_fd, prefix, prefix + pos, rel, &fd,
                              made, st);
        nox__close(parent_fd);
        if (rv != NOX_OK) {
            nox__path_unmake(ws_fd, made);
            return rv;
        }
        if (fd < 0) {
            *escaped = true;
            return paths_open_root(ws_fd, flags, fd_out, st);
        }
        parent_fd = fd;
        pos = end + 1;
    }
    *fd_out = parent_fd;
    return NOX_OK;
}

/* Open rel beneath ws_fd; *escaped is set when the root was opened
 * instead because rel leads out of the workspace. */
static nox_err_t
paths_open_rel(int ws_fd, const char *rel, unsigned flags, int *fd_out,
               bool *escaped, nox_path_made_t *made, nox_status_t *st)
{
    int fd, err;

    fd = paths_openat2(ws_fd, rel, paths_oflags(flags));
    if (fd >= 0) {
        *fd_out = fd;
        return NOX_OK;
    }
    err = errno;
    if (paths_is_escape(err)) {
        *escaped = true;
        return paths_open_root(ws_fd, flags, fd_out, st);
    }
    if (err == ENOENT && (flags & NOX_PATH_CREATE))
        return paths_create(ws_fd, rel, flags, fd_out, escaped, made, st);
    return paths_fail(err, rel, st);
}

static nox_err_t
paths_open(int ws_fd, const char *req, unsigned flags, int *fd_out,
           char *rel_out, size_t rel_len, bool *redirected,
           nox_path_made_t *made, nox_status_t *st)
{
    char      rel[PATH_MAX];
    bool      redir = false, escaped = false;
    int       fd = -1;
    nox_err_t rv;

    made->path[0] = '\0';
    made->keep = 0;

    rv = nox__path_normalize(req, rel, sizeof(rel), &redir, st);
    if (rv != NOX_OK)
        return rv;
    /* Checked before opening so that a failure creates nothing. */
    if (rel_out != NULL && strlen(rel) >= rel_len)
        return nox__status_set(st, NOX_EINVAL, "path too long: /workspace%s%s",
                               paths_sep(rel), rel);
    rv = paths_open_rel(ws_fd, rel, flags, &fd, &escaped, made, st);
    if (rv != NOX_OK)
        return rv;
    if (escaped)
        rel[0] = '\0';
    if (rel_out != NULL)
        memcpy(rel_out, rel, strlen(rel) + 1);
    if (redirected != NULL)
        *redirected = redir || escaped;
    *fd_out = fd;
    return NOX_OK;
}

nox_err_t
nox__path_open(int ws_fd, const char *req, unsigned flags, int *fd_out,
               char *rel_out, size_t rel_len, bool *redirected,
               nox_status_t *st)
{
    nox_path_made_t made;

    return paths_open(ws_fd, req, flags, fd_out, rel_out, rel_len, redirected,
                      &made, st);
}

nox_err_t
nox__path_open_made(int ws_fd, const char *req, unsigned flags, int *fd_out,
                    nox_path_made_t *made, nox_status_t *st)
{
    return paths_open(ws_fd, req, flags, fd_out, NULL, 0, NULL, made, st);
}

void
nox__path_unmake(int ws_fd, nox_path_made_t *made)
{
    struct open_how how;
    char           *slash;
    int             fd;

    memset(&how, 0, sizeof(how));
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    /* No symlink at all on the way: one a command swapped in must not
     * point the removal at another directory. */
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
    while (strlen(made->path) > made->keep) {
        slash = strrchr(made->path, '/');
        if (slash != NULL)
            *slash = '\0';
        fd = (int)syscall(SYS_openat2, ws_fd, slash != NULL ? made->path : ".",
                          &how, sizeof(how));
        /* rmdir semantics: a directory a command has written into since
         * stays, and so then do the ones above it. */
        bool gone =
            fd >= 0 && unlinkat(fd, slash != NULL ? slash + 1 : made->path,
                                AT_REMOVEDIR) == 0;
        nox__close(fd);
        if (!gone || slash == NULL)
            break;
    }
    made->path[0] = '\0';
    made->keep = 0;
}
