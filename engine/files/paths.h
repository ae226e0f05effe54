/*
 * paths.h - session ids and request paths -> fds beneath a sandbox.
 *
 * A request path (workdir, dest, src) is a path as a command in a remote
 * sandbox sees it. "/workspace" and "/workspace/..." map into the workspace;
 * relative paths are relative to /workspace; any other absolute path, and
 * any path that would leave /workspace through ".." or a symlink, is
 * redirected to the workspace root (NoxRunner's documented rule).
 *
 * Resolution never leaves the workspace: it uses openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) relative to the workspace fd, so a symlink a
 * command planted cannot point us at a host path, and there is no
 * check-then-use window.
 */
#ifndef NOX_PATHS_H
#define NOX_PATHS_H

#include "nox_common.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* NOX_OK when sid is 1-128 characters of [A-Za-z0-9._-] and not "." or
 * ".."; otherwise NOX_EINVAL with a message naming the rule broken. NULL is
 * invalid. */
nox_err_t nox__session_id_check(const char *sid, nox_status_t *st);

/* Lexically map a request path to a path relative to the workspace root,
 * written to out ("" for the root; no leading or trailing '/', no "." or
 * ".." components). NULL or "" means the root. *redirected (may be NULL) is
 * set when the redirect rule applied. NOX_EINVAL when the result does not
 * fit in outlen. */
nox_err_t nox__path_normalize(const char *req, char *out, size_t outlen,
                              bool *redirected, nox_status_t *st);

enum {
    NOX_PATH_DIR = 1u << 0,    /* the target must be a directory */
    NOX_PATH_CREATE = 1u << 1, /* create missing directories (0755) */
};

/* Resolve req beneath ws_fd (an fd of the workspace directory) and open it
 * O_RDONLY|O_CLOEXEC|O_NONBLOCK|O_NOCTTY (a FIFO never blocks us).
 * If resolution would escape the workspace through a symlink, the root is
 * used instead (and *redirected set). rel_out (may be NULL) receives the
 * relative path actually opened ("" for the root).
 * Errors: NOX_ENOENT when it does not exist and NOX_PATH_CREATE is not
 * given ("no such file or directory: /workspace/<rel>"); NOX_EINVAL when
 * NOX_PATH_DIR is given and it is not a directory; NOX_EINTERNAL otherwise.
 * On success *fd_out is the new fd (the caller closes it). */
nox_err_t nox__path_open(int ws_fd, const char *req, unsigned flags,
                         int *fd_out, char *rel_out, size_t rel_len,
                         bool *redirected, nox_status_t *st);

/* The directories one nox__path_open_made() call created: path is the
 * deepest (relative to the workspace, "" when none was), and its first
 * keep bytes name what already stood there. */
typedef struct {
    char   path[PATH_MAX];
    size_t keep;
} nox_path_made_t;

/* nox__path_open without rel_out and redirected, also filling *made (never
 * NULL) on success, so the caller can take back what this call created
 * when its later work fails. On failure nothing it created is left. */
nox_err_t nox__path_open_made(int ws_fd, const char *req, unsigned flags,
                              int *fd_out, nox_path_made_t *made,
                              nox_status_t *st);

/* Remove the directories in *made, deepest first, each only while it is
 * still an empty directory reached without any symlink below ws_fd
 * (rmdir semantics: what a command wrote into one keeps it, and the ones
 * above it). Best effort; *made is emptied. */
void nox__path_unmake(int ws_fd, nox_path_made_t *made);

#endif /* NOX_PATHS_H */
