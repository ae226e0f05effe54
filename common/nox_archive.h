/*
 * nox_archive.h - libarchive, loaded when first needed.
 *
 * Debian's libarchive brings 24 more shared libraries with it (libxml2,
 * ICU, libstdc++, nettle, lzma, ...): mapping them costs every process
 * that links it about 4 ms at start-up, most of a CLI run that never
 * touches an archive (noxrc-rpc exec). So nothing links libarchive: it is
 * dlopen()ed by soname the first time an archive is made or read.
 *
 * Use: include this header instead of <archive.h> and <archive_entry.h>,
 * call nox__archive_load() before the first libarchive call of an entry
 * point, and call libarchive by its own names. The macros at the end of
 * this header send each name through a table of pointers whose types are
 * taken from libarchive's own declarations (__typeof__), so a call that
 * does not match the installed headers still fails to compile. A function
 * missing from the table fails to link (it is declared, never defined).
 *
 * Thread safety: nox__archive_load may be called from any thread; the
 * table is written once, before any load returns NOX_OK.
 */
#ifndef NOX_ARCHIVE_H
#define NOX_ARCHIVE_H

#include "nox_common.h"

#include <archive.h>
#include <archive_entry.h>

/* Every libarchive function the project calls. */
#define NOX_ARCHIVE_FUNCS(X)                                                   \
    X(archive_entry_clear)                                                     \
    X(archive_entry_filetype)                                                  \
    X(archive_entry_free)                                                      \
    X(archive_entry_hardlink)                                                  \
    X(archive_entry_mtime)                                                     \
    X(archive_entry_mtime_is_set)                                              \
    X(archive_entry_new)                                                       \
    X(archive_entry_pathname)                                                  \
    X(archive_entry_pathname_utf8)                                             \
    X(archive_entry_perm)                                                      \
    X(archive_entry_set_filetype)                                              \
    X(archive_entry_set_gid)                                                   \
    X(archive_entry_set_mtime)                                                 \
    X(archive_entry_set_pathname)                                              \
    X(archive_entry_set_perm)                                                  \
    X(archive_entry_set_size)                                                  \
    X(archive_entry_set_symlink)                                               \
    X(archive_entry_set_uid)                                                   \
    X(archive_entry_size)                                                      \
    X(archive_entry_symlink)                                                   \
    X(archive_entry_symlink_utf8)                                              \
    X(archive_errno)                                                           \
    X(archive_error_string)                                                    \
    X(archive_filter_code)                                                     \
    X(archive_read_data)                                                       \
    X(archive_read_data_block)                                                 \
    X(archive_read_free)                                                       \
    X(archive_read_new)                                                        \
    X(archive_read_next_header)                                                \
    X(archive_read_open_memory)                                                \
    X(archive_read_support_filter_gzip)                                        \
    X(archive_read_support_filter_zstd)                                        \
    X(archive_read_support_format_tar)                                         \
    X(archive_set_error)                                                       \
    X(archive_write_add_filter_gzip)                                           \
    X(archive_write_add_filter_none)                                           \
    X(archive_write_add_filter_zstd)                                           \
    X(archive_write_close)                                                     \
    X(archive_write_data)                                                      \
    X(archive_write_data_block)                                                \
    X(archive_write_disk_new)                                                  \
    X(archive_write_disk_set_options)                                          \
    X(archive_write_finish_entry)                                              \
    X(archive_write_free)                                                      \
    X(archive_write_header)                                                    \
    X(archive_write_new)                                                       \
    X(archive_write_open)                                                      \
    X(archive_write_set_bytes_in_last_block)                                   \
    X(archive_write_set_format_pax_restricted)

typedef struct {
#define NOX_ARCHIVE_FIELD(f) __typeof__(f) *f;
    NOX_ARCHIVE_FUNCS(NOX_ARCHIVE_FIELD)
#undef NOX_ARCHIVE_FIELD
} nox_archive_api_t;

/* The table; filled by the first successful nox__archive_load. */
extern nox_archive_api_t nox__archive_api;

/* Load libarchive (NOX_LIBARCHIVE_SONAME) and fill the table, once per
 * process. NOX_OK when it is ready; otherwise NOX_EINTERNAL with
 * "cannot load libarchive.so.13: <dlerror>" in st, and the same error on
 * every later call. */
nox_err_t nox__archive_load(nox_status_t *st);

/* Route each call through the table (see the top of this file). The
 * loader itself needs the plain names (to look them up). */
#ifndef NOX_ARCHIVE_LOADER
#define archive_entry_clear (*nox__archive_api.archive_entry_clear)
#define archive_entry_filetype (*nox__archive_api.archive_entry_filetype)
#define archive_entry_free (*nox__archive_api.archive_entry_free)
#define archive_entry_hardlink (*nox__archive_api.archive_entry_hardlink)
#define archive_entry_mtime (*nox__archive_api.archive_entry_mtime)
#define archive_entry_mtime_is_set                                             \
    (*nox__archive_api.archive_entry_mtime_is_set)
#define archive_entry_new (*nox__archive_api.archive_entry_new)
#define archive_entry_pathname (*nox__archive_api.archive_entry_pathname)
#define archive_entry_pathname_utf8                                            \
    (*nox__archive_api.archive_entry_pathname_utf8)
#define archive_entry_perm (*nox__archive_api.archive_entry_perm)
#define archive_entry_set_filetype                                             \
    (*nox__archive_api.archive_entry_set_filetype)
#define archive_entry_set_gid (*nox__archive_api.archive_entry_set_gid)
#define archive_entry_set_mtime (*nox__archive_api.archive_entry_set_mtime)
#define archive_entry_set_pathname                                             \
    (*nox__archive_api.archive_entry_set_pathname)
#define archive_entry_set_perm (*nox__archive_api.archive_entry_set_perm)
#define archive_entry_set_size (*nox__archive_api.archive_entry_set_size)
#define archive_entry_set_symlink (*nox__archive_api.archive_entry_set_symlink)
#define archive_entry_set_uid (*nox__archive_api.archive_entry_set_uid)
#define archive_entry_size (*nox__archive_api.archive_entry_size)
#define archive_entry_symlink (*nox__archive_api.archive_entry_symlink)
#define archive_entry_symlink_utf8                                             \
    (*nox__archive_api.archive_entry_symlink_utf8)
#define archive_errno (*nox__archive_api.archive_errno)
#define archive_error_string (*nox__archive_api.archive_error_string)
#define archive_filter_code (*nox__archive_api.archive_filter_code)
#define archive_read_data (*nox__archive_api.archive_read_data)
#define archive_read_data_block (*nox__archive_api.archive_read_data_block)
#define archive_read_free (*nox__archive_api.archive_read_free)
#define archive_read_new (*nox__archive_api.archive_read_new)
#define archive_read_next_header (*nox__archive_api.archive_read_next_header)
#define archive_read_open_memory (*nox__archive_api.archive_read_open_memory)
#define archive_read_support_filter_gzip                                       \
    (*nox__archive_api.archive_read_support_filter_gzip)
#define archive_read_support_filter_zstd                                       \
    (*nox__archive_api.archive_read_support_filter_zstd)
#define archive_read_support_format_tar                                        \
    (*nox__archive_api.archive_read_support_format_tar)
#define archive_set_error (*nox__archive_api.archive_set_error)
#define archive_write_add_filter_gzip                                          \
    (*nox__archive_api.archive_write_add_filter_gzip)
#define archive_write_add_filter_none                                          \
    (*nox__archive_api.archive_write_add_filter_none)
#define archive_write_add_filter_zstd                                          \
    (*nox__archive_api.archive_write_add_filter_zstd)
#define archive_write_close (*nox__archive_api.archive_write_close)
#define archive_write_data (*nox__archive_api.archive_write_data)
#define archive_write_data_block (*nox__archive_api.archive_write_data_block)
#define archive_write_disk_new (*nox__archive_api.archive_write_disk_new)
#define archive_write_disk_set_options                                         \
    (*nox__archive_api.archive_write_disk_set_options)
#define archive_write_finish_entry                                             \
    (*nox__archive_api.archive_write_finish_entry)
#define archive_write_free (*nox__archive_api.archive_write_free)
#define archive_write_header (*nox__archive_api.archive_write_header)
#define archive_write_new (*nox__archive_api.archive_write_new)
#define archive_write_open (*nox__archive_api.archive_write_open)
#define archive_write_set_bytes_in_last_block                                  \
    (*nox__archive_api.archive_write_set_bytes_in_last_block)
#define archive_write_set_format_pax_restricted                                \
    (*nox__archive_api.archive_write_set_format_pax_restricted)
#endif /* NOX_ARCHIVE_LOADER */

#endif /* NOX_ARCHIVE_H */
