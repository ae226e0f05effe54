/* tarmem.c - the files group's payloads: tar archives built and read in
 * memory with libarchive, and the same files written to and read from
 * disk (the floors of UploadFiles and DownloadFiles). */
#include "bench.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define TARMEM_NAME_MAX 96
#define TARMEM_READ_CHUNK (256 * 1024)

static void
tarmem_name(const bench_fileset_t *fs, size_t i, char *buf, size_t len)
{
    (void)snprintf(buf, len, "%s%04zu", fs->prefix, i); /* fits: short */
}

/* libarchive's write callback: append to the nox_buf_t. */
static la_ssize_t
tarmem_sink(struct archive *a, void *arg, const void *p, size_t n)
{
    if (nox__buf_append(arg, p, n) != NOX_OK) {
        archive_set_error(a, ENOMEM, "out of memory");
        return -1;
    }
    return (la_ssize_t)n;
}

/* The same compression choices as the engine's packer (tar_pack.c):
 * libarchive's default levels. */
static int
tarmem_filter(struct archive *a, nox_archive_format_t format)
{
    switch (format) {
    case NOX_ARCHIVE_TAR_GZ:
        return archive_write_add_filter_gzip(a);
    case NOX_ARCHIVE_TAR_ZSTD:
        return archive_write_add_filter_zstd(a);
    case NOX_ARCHIVE_TAR:
        return archive_write_add_filter_none(a);
    }
    return ARCHIVE_FATAL;
}

static int
tarmem_add(struct archive *a, struct archive_entry *e,
           const bench_fileset_t *fs, size_t i)
{
    char           name[TARMEM_NAME_MAX];
    const uint8_t *p = fs->data + i * fs->file_size;

    tarmem_name(fs, i, name, sizeof(name));
    archive_entry_clear(e);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)fs->file_size);
    archive_entry_set_mtime(e, 1700000000, 0);
    if (archive_write_header(a, e) != ARCHIVE_OK)
        return -1;
    if (fs->file_size > 0 &&
        archive_write_data(a, p, fs->file_size) != (la_ssize_t)fs->file_size)
        return -1;
    return archive_write_finish_entry(a) == ARCHIVE_OK ? 0 : -1;
}

int
bench_tar_write(const bench_fileset_t *fs, nox_archive_format_t format,
                nox_buf_t *out)
{
    struct archive       *a;
    struct archive_entry *e = NULL;
    int                   rv = -1;

    out->len = 0; /* reuse the storage of an earlier archive */
    if ((a = archive_write_new()) == NULL)
        return -1;
    if ((e = archive_entry_new()) == NULL ||
        tarmem_filter(a, format) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open(a, out, NULL, tarmem_sink, NULL) != ARCHIVE_OK)
        goto out_free;
    for (size_t i = 0; i < fs->n_files; i++)
        if (tarmem_add(a, e, fs, i) != 0)
            goto out_free;
    if (archive_write_close(a) == ARCHIVE_OK)
        rv = 0;
out_free:
    if (rv != 0)
        (void)fprintf(stderr, "nox-bench: archive: %s\n",
                      archive_error_string(a) ? archive_error_string(a)
                                              : "out of memory");
    archive_entry_free(e);       /* NULL is a no-op */
    (void)archive_write_free(a); /* closed above, or abandoned */
    return rv;
}

int
bench_tar_read(const void *p, size_t len, size_t *files, size_t *bytes)
{
    struct archive       *a;
    struct archive_entry *e;
    const void           *buf;
    size_t                size, nf = 0, nb = 0;
    la_int64_t            off;
    int                   r, rv = -1;

    if ((a = archive_read_new()) == NULL)
        return -1;
    if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
        archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
        archive_read_support_format_tar(a) != ARCHIVE_OK ||
        archive_read_open_memory(a, p, len) != ARCHIVE_OK)
        goto out_free;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        nf++;
        while ((r = archive_read_data_block(a, &buf, &size, &off)) ==
               ARCHIVE_OK)
            nb += size;
        if (r != ARCHIVE_EOF)
            goto out_free;
    }
    if (r == ARCHIVE_EOF) {
        *files = nf;
        *bytes = nb;
        rv = 0;
    }
out_free:
    if (rv != 0)
        (void)fprintf(stderr, "nox-bench: archive: %s\n",
                      archive_error_string(a) ? archive_error_string(a)
                                              : "cannot read");
    (void)archive_read_free(a); /* read-only: nothing to lose */
    return rv;
}

int
bench_files_write(const bench_fileset_t *fs, const char *dir)
{
    char name[TARMEM_NAME_MAX];
    int  dfd, fd, rv = 0;

    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -1;
    for (size_t i = 0; rv == 0 && i < fs->n_files; i++) {
        tarmem_name(fs, i, name, sizeof(name));
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 ||
            nox__write_all(fd, fs->data + i * fs->file_size, fs->file_size))
            rv = -1;
        if (fd >= 0 && close(fd) != 0)
            rv = -1; /* a failed close can mean lost data */
    }
    nox__close(dfd);
    return rv;
}

int
bench_files_read(const bench_fileset_t *fs, const char *dir)
{
    char     name[TARMEM_NAME_MAX];
    uint8_t *buf;
    int      dfd, fd, rv = 0;

    if ((buf = malloc(TARMEM_READ_CHUNK)) == NULL)
        return -1;
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        free(buf);
        return -1;
    }
    for (size_t i = 0; rv == 0 && i < fs->n_files; i++) {
        ssize_t n;

        tarmem_name(fs, i, name, sizeof(name));
        if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC)) < 0) {
            rv = -1;
            break;
        }
        while ((n = read(fd, buf, TARMEM_READ_CHUNK)) != 0)
            if (n < 0 && errno != EINTR) {
                rv = -1;
                break;
            }
        nox__close(fd);
    }
    nox__close(dfd);
    free(buf);
    return rv;
}
