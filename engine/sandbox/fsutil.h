/*
 * fsutil.h - filesystem helpers that never follow symlinks.
 */
#ifndef NOX_FSUTIL_H
#define NOX_FSUTIL_H

#include "nox_common.h"

#include <stdbool.h>
#include <stdint.h>

/* Remove name (a file, symlink or directory tree) in dir_fd. Walks with
 * O_NOFOLLOW|O_DIRECTORY and unlinkat(), so a symlink inside the tree is
 * removed, never followed. A tree of any depth goes, with a bounded number
 * of fds: parts too deep are first moved up into name itself (under names
 * .nox-rmtree-N). A missing name is NOX_OK. Entries that vanish
 * while walking (a concurrent remover) are fine; entries that appear
 * (a concurrent writer) can leave a directory that will not go:
 * NOX_EABORTED then, and another pass may succeed. */
nox_err_t nox__rmtree_at(int dir_fd, const char *name, nox_status_t *st);

/* Add to *bytes the sizes of the regular files under name in dir_fd, at
 * any depth (never following symlinks; one directory open at a time).
 * Files that vanish meanwhile are skipped. Returns 0 or an errno value. */
int nox__du_at(int dir_fd, const char *name, uint64_t *bytes);

/* Make this thread create and access files as the sandbox's user
 * (setfsuid/setfsgid, which are per thread) when on is true and the
 * sandbox is namespaced under root, where commands run as nobody and must
 * own what the engine writes for them; back to our own ids when on is
 * false. Returns whether it switched (pass that back when switching off). */
bool nox__fs_as_sandbox_user(bool namespaces, bool on);

/* When rv failed because a device was full (st->no_space: ENOSPC or
 * EDQUOT, see nox__status_errno), st becomes NOX_ERESOURCE "no space left
 * on the device holding <base_dir>" and that is returned; otherwise rv and
 * st are passed through. Only for results of filesystem work under
 * base_dir: ENOSPC from clone() means a namespace limit, not a disk. */
nox_err_t nox__fs_no_space(const char *base_dir, nox_err_t rv,
                           nox_status_t *st);

#endif /* NOX_FSUTIL_H */
