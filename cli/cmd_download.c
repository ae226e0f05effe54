/*
 * cmd_download.c - download SESSION [--src D] [--output F | --extract DIR].
 *
 * --output writes the archive (gzip tar, or as --format says) as it came.
 * Otherwise the archive is extracted into DIR (default: the current directory)
 * by nox_client_download_workspace, whose extraction refuses absolute names,
 * "..", escaping links and device nodes: the tool never unpacks a server's
 * archive with its own, less careful code.
 */
#include "cli.h"
#include "nox_archive.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Write the archive to path (created 0644 or truncated). 0 or errno. */
static int
download_save(const char *path, const uint8_t *p, size_t n)
{
    int fd =
        open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
    int err = 0;

    if (fd < 0)
        return errno;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            err = errno;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    /* close can report a delayed write error (NFS, full disk). */
    if (close(fd) != 0 && err == 0)
        err = errno;
    return err;
}

/* Regular files in the archive p[0..n), for the report; what could not
 * be read is not counted (the archive is saved as it came either way). */
static uint64_t
download_count_files(const uint8_t *p, size_t n)
{
    struct archive       *ar;
    struct archive_entry *ent;
    uint64_t              files = 0;

    nox_status_t st;

    if (nox__archive_load(&st) != NOX_OK) {
        /* The archive is saved all the same; only the count is missing. */
        (void)fprintf(stderr, "noxrc-rpc: not counting files: %s\n", st.msg);
        return 0;
    }
    ar = archive_read_new();
    if (ar == NULL)
        return 0;
    if (archive_read_support_filter_gzip(ar) == ARCHIVE_OK &&
        archive_read_support_filter_zstd(ar) == ARCHIVE_OK &&
        archive_read_support_format_tar(ar) == ARCHIVE_OK &&
        archive_read_open_memory(ar, p, n) == ARCHIVE_OK) {
        while (archive_read_next_header(ar, &ent) == ARCHIVE_OK)
            files += archive_entry_filetype(ent) == AE_IFREG;
    }
    (void)archive_read_free(ar); /* reading only: nothing to flush */
    return files;
}

static int
download_report(const nox__cli_ctx_t *ctx, const char *key, const char *where,
                size_t bytes, uint64_t files)
{
    const nox__cli_args_t *a = ctx->args;
    const char            *src = a->src ? a->src : "/workspace";

    if (a->json) {
        cJSON *o = cJSON_CreateObject();
        bool   ok = (bytes == SIZE_MAX ||
                   cJSON_AddNumberToObject(o, "bytes", (double)bytes)) &&
                  cJSON_AddStringToObject(o, key, where) &&
                  cJSON_AddNumberToObject(o, "files", (double)files);
        return nox__cli_emit_json(ctx, o, ok);
    }
    if (bytes == SIZE_MAX)
        (void)printf("extracted %llu file%s from %s:%s into %s\n",
                     (unsigned long long)files, files == 1 ? "" : "s",
                     a->session, src, where);
    else
        (void)printf("downloaded %s:%s to %s (%zu bytes, %llu file%s)\n",
                     a->session, src, where, bytes, (unsigned long long)files,
                     files == 1 ? "" : "s");
    return 0;
}

static int
download_to_file(nox__cli_ctx_t *ctx)
{
    const nox__cli_args_t *a = ctx->args;
    uint8_t               *data = NULL;
    size_t                 len = 0;
    int64_t                t0 = nox__cli_now_ms();
    nox_err_t              e =
        nox_client_download(ctx->client, a->session, a->src, &data, &len);

    nox__cli_trace(ctx, "download", a->session, t0, e, "%zu bytes", len);
    if (e != NOX_OK)
        return nox__cli_fail_call(ctx, e);
    int err = download_save(a->output, data, len);
    int rc;
    if (err != 0)
        rc = nox__cli_fail(ctx, nox__cli_errno_err(err), "%s: %s", a->output,
                           strerror(err));
    else
        rc = download_report(ctx, "output", a->output, len,
                             download_count_files(data, len));
    free(data);
    return rc;
}

static int
download_extract(nox__cli_ctx_t *ctx, const char *dir)
{
    const nox__cli_args_t *a = ctx->args;
    uint64_t               files = 0;
    int64_t                t0 = nox__cli_now_ms();
    nox_err_t e = nox_client_download_workspace(ctx->client, a->session, a->src,
                                                dir, &files);

    nox__cli_trace(ctx, "download", a->session, t0, e, "%llu files extracted",
                   (unsigned long long)files);
    if (e != NOX_OK)
        return nox__cli_fail_call(ctx, e);
    /* SIZE_MAX: the byte count is not known after extraction. */
    return download_report(ctx, "extractedTo", dir, SIZE_MAX, files);
}

/* 0 when path can be created or overwritten as a file, else errno. Only
 * a check ahead, for a prompt message: the real open decides. */
static int
download_writable(const char *path)
{
    struct stat sb;
    char       *copy;
    int         err = 0;

    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return EISDIR;
        return access(path, W_OK) == 0 ? 0 : errno;
    }
    if (errno != ENOENT)
        return errno;
    copy = strdup(path); /* dirname may modify its argument */
    if (copy == NULL)
        return ENOMEM;
    if (access(dirname(copy), W_OK | X_OK) != 0)
        err = errno;
    free(copy);
    return err;
}

int
nox__cli_prep_download(nox__cli_ctx_t *ctx)
{
    const nox__cli_args_t *a = ctx->args;
    const char            *dir = a->extract ? a->extract : ".";
    struct stat            sb;
    int                    err;

    if (a->output != NULL) {
        err = download_writable(a->output);
        if (err != 0)
            return nox__cli_fail(ctx, nox__cli_errno_err(err), "%s: %s",
                                 a->output, strerror(err));
        return 0;
    }
    /* A missing directory is fine: extraction creates it. */
    if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return nox__cli_fail(ctx, NOX_EINVAL, "%s: %s", dir, strerror(ENOTDIR));
    return 0;
}

int
nox__cli_cmd_download(nox__cli_ctx_t *ctx)
{
    if (ctx->args->output != NULL)
        return download_to_file(ctx);
    return download_extract(ctx, ctx->args->extract ? ctx->args->extract : ".");
}
