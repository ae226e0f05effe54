/*
 * meta.h - the metadata file of a sandbox, the source of truth on disk.
 *
 * Each sandbox directory holds ".noxrunner.meta", a small "key=value" text
 * file. It is replaced atomically (written under a unique temporary name,
 * then renamed over the old one), so a reader in any process sees either
 * the old or the new version, never a torn one. Read-modify-write cycles
 * are serialised by the caller with flock() on the sandbox directory.
 */
#ifndef NOX_META_H
#define NOX_META_H

#include "nox/engine.h"

#include <stdbool.h>
#include <stdint.h>

#define NOX_META_FILE ".noxrunner.meta"
/* The sandbox directory's second proof of ownership (value: its session
 * id), which outlives the metadata file: a command at isolation none can
 * unlink the file one directory up from its workspace. */
#define NOX_OWNER_XATTR "user.noxrunner.sandbox"
#define NOX_META_STR_MAX 256 /* image and limit strings */

typedef struct {
    char     session_id[NOX_SESSION_ID_MAX + 1];
    uint32_t ttl_seconds;
    int64_t  created_at; /* seconds since the epoch */
    int64_t  expires_at; /* last activity + ttl_seconds */
    char     image[NOX_META_STR_MAX];
    char     cpu_limit[NOX_META_STR_MAX];
    char     memory_limit[NOX_META_STR_MAX];
    char     storage_limit[NOX_META_STR_MAX];
    uint64_t pids_limit;    /* 0: none */
    bool     namespaces;    /* isolation level: namespaces, else none */
    bool     allow_network; /* namespaces: keep the host's network */
    /* A command may have been started here: a delete must look for its
     * leftovers (procs.h). false only from a create until the first Exec;
     * metadata without the key (older engines) reads as true. */
    bool ran;
} nox_meta_t;

/* NOX_OK when s fits a metadata string: shorter than NOX_META_STR_MAX and
 * free of control characters; else NOX_EINVAL naming field. NULL is ok. */
nox_err_t nox__meta_check_str(const char *field, const char *s,
                              nox_status_t *st);

/* Replace the metadata of the sandbox at sb_fd with m. */
nox_err_t nox__meta_write(int sb_fd, const nox_meta_t *m, nox_status_t *st);

/* Read the metadata of the sandbox at sb_fd. NOX_ENOENT when there is no
 * metadata file; NOX_EDATALOSS when what is there is damaged (malformed,
 * incomplete, not a regular file, or made unreadable to us). Any other failure
 * to read it (too many open files, out of memory, an I/O error) says nothing
 * about the sandbox: it is that error (nox__status_errno: NOX_ERESOURCE or
 * NOX_EINTERNAL). */
nox_err_t nox__meta_read(int sb_fd, nox_meta_t *m, nox_status_t *st);

/* Mark the sandbox directory at sb_fd as ours for session_id (the
 * NOX_OWNER_XATTR attribute). A filesystem without user xattrs (tmpfs
 * before Linux 6.6) is no error: there the metadata file is the only
 * proof. */
nox_err_t nox__meta_mark(int sb_fd, const char *session_id, nox_status_t *st);

/* true when the directory at sb_fd carries the mark of session_id. */
bool nox__meta_marked(int sb_fd, const char *session_id);

#endif /* NOX_META_H */
