/*
 * extract.h - safe extraction of a downloaded gzip tar into a local
 * directory (nox_client_download_workspace). Private to libnoxrunner.
 *
 * Thread safety: reentrant; never changes the working directory.
 */
#ifndef NOX_CLIENT_EXTRACT_H
#define NOX_CLIENT_EXTRACT_H

#include "nox_common.h"

#include <stddef.h>
#include <stdint.h>

/* Extract the tar (data, len; gzip, zstd or uncompressed) into local_dir, which
 * is created (with its parents) when missing. Every entry is checked before
 * anything is written; an absolute name, a ".." component, a hard link, a
 * symlink pointing out of local_dir, an entry below a symlink of the archive,
 * or a device node, FIFO or socket refuses the whole archive with NOX_EINVAL
 * naming the entry. Existing files are overwritten; extraction never
 * writes through a symlink, also not one already in local_dir (libarchive
 * refuses that while writing: NOX_EINVAL, and earlier entries stay).
 * Modes are kept minus setuid/setgid and the umask; owners are not.
 * *files (may be NULL) gets the number of regular files written. */
nox_err_t nox__extract_tar(const void *data, size_t len, const char *local_dir,
                           uint64_t *files, nox_status_t *st);

#endif /* NOX_CLIENT_EXTRACT_H */
