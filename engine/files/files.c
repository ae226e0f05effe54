/* files.c - UploadFiles and DownloadFiles: resolve the path, then tar_*.c
 * does the checking and the I/O. */
#include "engine_impl.h"

#include "fsutil.h"
#include "paths.h"
#include "sandbox_limits.h"
#include "tar.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

/* What an upload may still add under the sandbox's storage limit: the
 * limit less what workspace/ and tmp/ hold now. 0 when there is no limit;
 * NOX_ERESOURCE when nothing is left. */
static nox_err_t
files_budget(const nox_live_sandbox_t *sb, uint64_t *budget, nox_status_t *st)
{
    nox_limits_t l;
    uint64_t     used = 0;
    int          e;

    *budget = 0;
    if (nox__limits_parse(NULL, NULL, sb->meta.storage_limit, 0, &l, NULL) !=
            NOX_OK ||
        l.storage_bytes == 0)
        return NOX_OK;
    e = nox__du_at(sb->sb_fd, "workspace", &used);
    if (e == 0)
        e = nox__du_at(sb->sb_fd, "tmp", &used);
    if (e != 0)
        return nox__status_errno(st, NOX_EINTERNAL, e,
                                 "cannot measure the sandbox's disk use");
    if (used >= l.storage_bytes)
        return nox__status_set(st, NOX_ERESOURCE,
                               "sandbox %s holds %llu bytes, at its "
                               "ephemeral_storage_limit %s",
                               sb->meta.session_id, (unsigned long long)used,
                               sb->meta.storage_limit);
    *budget = l.storage_bytes - used;
    return NOX_OK;
}

nox_err_t
nox_engine_upload(nox_engine_t *e, const char *sid, const char *dest,
                  nox_tar_format_t format, const void *data, size_t len,
                  uint64_t *files_written, nox_status_t *st)
{
    nox_live_sandbox_t sb;
    nox_path_made_t    made;
    int                ws_fd = -1, dest_fd = -1;
    uint64_t           n = 0, budget = 0;
    nox_err_t          rv;

    rv = nox__sandbox_open(e, sid, NOX_SB_READ, &sb, st);
    if (rv != NOX_OK)
        return rv;
    rv = files_budget(&sb, &budget, st);
    if (rv == NOX_OK)
        rv = nox__sandbox_workspace(&sb, &ws_fd, st);
    if (rv != NOX_OK)
        goto out;
    /* What the engine writes for a namespaced sandbox's commands belongs
     * to their user (fsutil.h); path checks hold either way. */
    bool as = nox__fs_as_sandbox_user(sb.meta.namespaces, true);
    /* Where dest_fd really is, not the path that reached it, is what
     * extraction judges symlink targets by: hence the workspace fd. */
    rv = nox__path_open_made(ws_fd, dest, NOX_PATH_DIR | NOX_PATH_CREATE,
                             &dest_fd, &made, st);
    if (rv == NOX_OK) {
        rv = nox__tar_extract_limited(ws_fd, dest_fd, format, data, len, budget,
                                      &n, st);
        /* The call is undone as a whole, the destination directories it
         * created included. */
        if (rv != NOX_OK)
            nox__path_unmake(ws_fd, &made);
    }
    if (as)
        (void)nox__fs_as_sandbox_user(true, false);
    if (rv == NOX_OK && files_written != NULL)
        *files_written = n;
    /* A full disk: what this call wrote is undone (tar.h). */
    rv = nox__fs_no_space(e->base_dir, rv, st);
out:
    nox__close(dest_fd);
    nox__close(ws_fd);
    return nox__sandbox_finish(e, &sb, rv, st);
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

    rv = nox__sandbox_open(e, sid, NOX_SB_READ, &sb, st);
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
    return nox__sandbox_finish(e, &sb, rv, st);
}
