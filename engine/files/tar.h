/*
 * tar.h - tar.gz in and out of a sandbox, with libarchive.
 *
 * Extraction checks every entry before writing any: an entry with an
 * absolute name or a ".." component, a hard link, a device node, FIFO or
 * socket, a symlink whose target would leave the workspace (judged from
 * where its directory really is, however the destination was reached) or
 * has a ".." after a name, or an entry that would be written through a
 * symlink (in the archive or already on disk) rejects the whole archive.
 * Writing then goes through directory fds with O_NOFOLLOW, and each file is
 * written under a temporary name and renamed into place, so neither a symlink
 * nor a hard link a command planted is ever written through.
 *
 * Thread safety: no global state; concurrent calls are independent.
 */
#ifndef NOX_TAR_H
#define NOX_TAR_H

#include "nox/engine.h"
#include "nox_common.h"

#include <stddef.h>
#include <stdint.h>

#define NOX_TAR_MAX_ENTRIES 100000
#define NOX_TAR_MAX_BYTES (4ULL << 30) /* unpacked; against gzip bombs */
#define NOX_TAR_MAX_DEPTH 256          /* directory nesting that packs */

/* Extract the tar archive in data/len (compressed as format says) into
 * dest_fd, a directory at or below root_fd, the workspace. Symlink targets
 * are judged from dest_fd's real place below root_fd (found by climbing
 * ".." from dest_fd), never from the path the caller used to reach it.
 * Modes are kept minus setuid, setgid and sticky bits. On success
 * *files_written (may be NULL) is the number of regular files written.
 * Errors: NOX_EINVAL for a corrupt, truncated or non-gzip-tar archive, a
 * rejected entry (the message names it), or a dest_fd not below root_fd;
 * nothing is written then. NOX_ERESOURCE past NOX_TAR_MAX_ENTRIES or
 * NOX_TAR_MAX_BYTES, or when the device is full (st->no_space set).
 * NOX_EABORTED when a directory the call made or opened was removed or
 * renamed meanwhile (a command changed the workspace). NOX_EINTERNAL for
 * other I/O errors while writing. A failure while writing undoes the call:
 * what it created is removed and what it replaced is put back (replaced
 * entries wait under a temporary name until the end, so the device needs
 * room for both meanwhile); only the modes of directories that already
 * existed stay changed. A name someone else wrote after this call (a
 * concurrent upload) keeps their entry: the call's own is not there to
 * undo, and what it replaced is dropped (so when that other upload fails
 * too, it puts back this call's entry, not the original); a name removed
 * meanwhile gets what this call replaced back. On a filesystem without
 * renameat2's RENAME_NOREPLACE and RENAME_EXCHANGE (NFS, some FUSE) a
 * plain rename is used: new entries are still undone, but a file or
 * symlink the call replaced stays replaced. */
nox_err_t nox__tar_extract(int root_fd, int dest_fd, nox_tar_format_t format,
                           const void *data, size_t len,
                           uint64_t *files_written, nox_status_t *st);

/* nox__tar_extract, refusing (NOX_ERESOURCE, nothing written) an archive
 * whose regular files declare more than max_bytes in all (0: only the
 * NOX_TAR_MAX_BYTES cap). For the storage budget of a sandbox. */
nox_err_t nox__tar_extract_limited(int root_fd, int dest_fd,
                                   nox_tar_format_t format, const void *data,
                                   size_t len, uint64_t max_bytes,
                                   uint64_t *files_written, nox_status_t *st);

/* Pack src_fd as a tar (pax format), compressed as format says, into
 * out. src_fd is a directory
 * (entries named relative to it, recursively, symlinks stored as links and
 * never followed, sockets and FIFOs skipped) or a regular file (one entry
 * named file_name).
 * Ownership: *out is replaced, not appended to: whatever it held is freed
 * first (pass NOX_BUF_INIT or a buffer you own), on success it owns the
 * archive (release: nox__buf_free()), and on failure it is left empty.
 * Errors: NOX_ERESOURCE when the archive grows past max_bytes (0:
 * unlimited), the tree nests deeper than NOX_TAR_MAX_DEPTH directories, or
 * memory runs out. NOX_EINVAL when src_fd is neither a file nor a
 * directory, or is a file and file_name is NULL or "". NOX_EINTERNAL for
 * I/O errors while reading. */
nox_err_t nox__tar_pack(int src_fd, const char *file_name,
                        nox_tar_format_t format, size_t max_bytes,
                        nox_buf_t *out, nox_status_t *st);

#endif /* NOX_TAR_H */
