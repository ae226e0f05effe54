/*
 * tar_impl.h - what tar_check.c, tar_extract.c and tar_pack.c share.
 * Private to engine/files/tar_*.c; the module's API is tar.h.
 *
 * Extraction reads the archive twice: tar_check.c is pass 1 (names,
 * the path tree, every entry checked, nothing written) and owns the
 * reading helpers both passes use; tar_extract.c is pass 2 (writing).
 * tar_pack.c only needs the copy-buffer size.
 */
#ifndef NOX_TAR_IMPL_H
#define NOX_TAR_IMPL_H

#include "tar.h"
#include "nox_archive.h"

#include <sys/stat.h>

#define NOX_TAR_IO_SIZE (64 * 1024) /* copy buffer, both directions */
#define NOX_TAR_TMP_LEN 32          /* ".nox-tmp-<16 hex digits>" */
#define NOX_TAR_SHOW_MAX 200 /* bytes of an entry name quoted in a message */

/* ---- entry names (tar_check.c) ---- */

/* Copy name into out for a message: at most NOX_TAR_SHOW_MAX bytes, control
 * characters replaced, "..." appended when cut. */
void nox__tar_show(const char *name, char out[NOX_TAR_SHOW_MAX + 4]);

/* NOX_EINVAL with "archive entry '<name>' rejected: <why>" in st. */
nox_err_t nox__tar_reject(nox_status_t *st, const char *name, const char *why);

/* The entry's name, or a symlink entry's target, as bytes; borrowed from e.
 * NULL when it has none. */
const char *nox__tar_entry_name(struct archive_entry *e);
const char *nox__tar_entry_target(struct archive_entry *e);

/* Normalise name into out (PATH_MAX bytes): "./a//b/" becomes "a/b", "./"
 * becomes "". Returns why the name is refused (a static string), or NULL. */
const char *nox__tar_normalize(const char *name, char *out);

/* ---- reading (tar_check.c) ---- */

/* NOX_EINVAL "corrupt archive: <libarchive's reason>". */
nox_err_t nox__tar_corrupt(struct archive *a, nox_status_t *st);

/* Open data/len for reading; only a tar in the given format is accepted
 * (else NOX_EINVAL). On success *out is owned by the caller
 * (archive_read_free). */
nox_err_t nox__tar_open(nox_tar_format_t format, const void *data, size_t len,
                        struct archive **out, nox_status_t *st);

/* Next header into *e (borrowed from a); NOX_OK with *e NULL at the end. */
nox_err_t nox__tar_next(struct archive *a, struct archive_entry **e,
                        nox_status_t *st);

/* ---- pass 1 (tar_check.c) ---- */

/* Check where dest_fd is below root_fd and every entry of data/len against
 * the rules in tar.h and against what is already under dest_fd; writes
 * nothing. Errors as for nox__tar_extract_limited (max_bytes 0: no
 * budget), except that I/O errors are only those of inspecting the
 * destination. */
nox_err_t nox__tar_validate(int root_fd, int dest_fd, nox_tar_format_t format,
                            const void *data, size_t len, uint64_t max_bytes,
                            nox_status_t *st);

/* ---- undoing pass 2 (tar_undo.c) ---- */

/* What a step did below the destination. */
enum {
    NOX_TAR_UNDO_CREATED = 1, /* a file or symlink where nothing was */
    NOX_TAR_UNDO_MKDIR,       /* a directory where nothing was */
    NOX_TAR_UNDO_REPLACED,    /* a file or symlink over an entry, which now
                                 waits under the step's backup name */
};

typedef struct nox_tar_undo_step nox_tar_undo_step_t;

/* The steps of one extraction, in order. Zero-initialise; release with
 * nox__tar_undo_free. */
typedef struct {
    nox_tar_undo_step_t *steps;
    size_t               n, cap;
} nox_tar_undo_t;

/* Record a step on parent/name (parent "" for the destination itself;
 * backup only for NOX_TAR_UNDO_REPLACED). own (NULL for
 * NOX_TAR_UNDO_MKDIR) is the entry the step puts at the name: the
 * rollback touches the name only while it still holds that very entry
 * (st_dev, st_ino), so what a concurrent writer put there after us stays.
 * Push before doing the step and pop if it then fails, so a step done is
 * always recorded. NOX_ERESOURCE when memory runs out (nothing
 * recorded). */
nox_err_t nox__tar_undo_push(nox_tar_undo_t *u, uint8_t kind,
                             const char *parent, const char *name,
                             const char *backup, const struct stat *own);

/* Forget the last step pushed. */
void nox__tar_undo_pop(nox_tar_undo_t *u);

/* The extraction failed: undo every step, newest first (best effort). */
void nox__tar_undo_rollback(nox_tar_undo_t *u, int dest_fd);

/* The extraction succeeded: remove the replaced entries' backups. */
void nox__tar_undo_commit(nox_tar_undo_t *u, int dest_fd);

void nox__tar_undo_free(nox_tar_undo_t *u);

#endif /* NOX_TAR_IMPL_H */
