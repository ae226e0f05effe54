/* files.c - UploadFiles and DownloadFiles: resolve the path, then tar_*.c
 * does the checking and the I/O. */
#include "engine_impl.h"

#include "tar.h"
#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

nox_err_t
nox_engine_upload(nox_engine_t *e, const char *sid, const char *dest,
                  nox_tar_format_t format, const void *data, size_t len,
                  uint64_t *files_written, nox_status_t *st)
{
    nox_live_sandbox_t sb;
    char               rel[PATH_MAX];
    int                ws_fd = -1, dest_fd = -1;
    uint64_t           n = 0;
    nox_err_t          rv;

    rv = nox__sandbox_open(e, sid, false, &sb, st);
    if (rv != NOX_OK)
        return rv;
    rv = nox__sandbox_workspace(&sb, &ws_fd, st);
    if (rv == NOX_OK)
        rv = nox__path_open(ws_fd, dest, NOX_PATH_DIR | NOX_PATH_CREATE,
                            &dest_fd, rel, sizeof(rel), NULL, st);
    if (rv != NOX_OK)
        goto out;
    rv = nox__tar_extract(dest_fd, rel, format, data, len, &n, st);
    if (rv == NOX_OK && files_written != NULL)
        *files_written = n;
out:
    nox__close(dest_fd);
    nox__close(ws_fd);
    nox__sandbox_close(&sb);
    return rv;
}

nox_err_t
nox_engine_download(nox_engine_t *e, const char *sid, const char *src,
                    nox_tar_format_t format, size_t max_bytes, nox_buf_t *out,
                    nox_status_t *st)
{
    nox_live_sandbox_t sb;
    char               rel[PATH_MAX];
    int                ws_fd = -1, src_fd = -1;
    nox_err_t          rv;

    rv = nox__sandbox_open(e, sid, false, &sb, st);
    if (rv != NOX_OK)
        return rv;
    rv = nox__sandbox_workspace(&sb, &ws_fd, st);
    if (rv == NOX_OK)
        rv = nox__path_open(ws_fd, src, 0, &src_fd, rel, sizeof(rel), NULL, st);
    if (rv != NOX_OK)
        goto out;
    /* A file source is archived under its own name. */
    const char *slash = strrchr(rel, '/');
    const char *name = slash ? slash + 1 : rel;
    rv = nox__tar_pack(src_fd, name[0] ? name : "workspace", format, max_bytes,
                       out, st);
out:
    nox__close(src_fd);
    nox__close(ws_fd);
    nox__sandbox_close(&sb);
    return rv;
}
