/*
 * fsutil.h - filesystem helpers that never follow symlinks.
 */
#ifndef NOX_FSUTIL_H
#define NOX_FSUTIL_H

#include "nox_common.h"

/* Remove name (a file, symlink or directory tree) in dir_fd. Walks with
 * O_NOFOLLOW|O_DIRECTORY and unlinkat(), so a symlink inside the tree is
 * removed, never followed. A missing name is NOX_OK. Entries that vanish
 * while walking (a concurrent remover) are fine. */
nox_err_t nox__rmtree_at(int dir_fd, const char *name, nox_status_t *st);

#endif /* NOX_FSUTIL_H */
