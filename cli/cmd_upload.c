/*
 * cmd_upload.c - upload SESSION FILE... | --dir D [--dest D].
 *
 * The archive (gzip tar, or as --format says) is built in memory with
 * libarchive and sent in one UploadFiles call. FILE arguments go in by their
 * basename (following a symlink named on the command line, as cp does); --dir
 * sends D's contents with their paths relative to D, storing symlinks as links
 * and never following them, so the walk cannot leave D. Anything else (a
 * FIFO, device or socket) is refused before anything is sent: opening a
 * FIFO would block, and a device could be read for ever.
 */
#include "cli.h"
#include "nox_archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper trees than this are refused (a runaway or hostile tree). */
#define UPLOAD_MAX_DEPTH 128
#define UPLOAD_CHUNK 65536

typedef struct {
    struct archive *ar;
    uint8_t        *data; /* the archive so far (owned) */
    size_t          len, cap;
    size_t          links; /* symlinks stored so far */
    nox_err_t       code;  /* first failure; NOX_OK while none */
    char            msg[512];
} upload_t;

static nox_err_t NOX_CLI_PRINTF(3, 4)
    upload_error(upload_t *u, nox_err_t code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(u->msg, sizeof(u->msg), fmt, ap); /* may truncate */
    va_end(ap);
    u->code = code;
    return code;
}

/* libarchive's write callback: append to the in-memory archive. */
static la_ssize_t
upload_write_cb(struct archive *ar, void *ud, const void *p, size_t n)
{
    upload_t *u = ud;

    if (n > u->cap - u->len) {
        size_t ncap = u->cap ? u->cap : UPLOAD_CHUNK;
        while (ncap - u->len < n && ncap <= SIZE_MAX / 2)
            ncap *= 2;
        uint8_t *np = ncap - u->len >= n ? realloc(u->data, ncap) : NULL;
        if (np == NULL) {
            archive_set_error(ar, ENOMEM, "out of memory");
            return -1;
        }
        u->data = np;
        u->cap = ncap;
    }
    memcpy(u->data + u->len, p, n);
    u->len += n;
    return (la_ssize_t)n;
}

static nox_err_t
upload_archive_error(upload_t *u, const char *name)
{
    const char *why = archive_error_string(u->ar);
    return upload_error(u, NOX_EUNKNOWN, "%s: cannot archive: %s", name,
                        why ? why : "unknown libarchive error");
}

/* Write one header (and, for a regular file, fd's data) as name. */
static nox_err_t
upload_entry(upload_t *u, const char *name, const struct stat *st, int fd,
             const char *link_target)
{
    struct archive_entry *ent = archive_entry_new();
    char                  chunk[UPLOAD_CHUNK];
    nox_err_t             e = NOX_OK;

    if (ent == NULL)
        return upload_error(u, NOX_ERESOURCE, "out of memory");
    archive_entry_set_pathname(ent, name);
    archive_entry_set_filetype(ent, st->st_mode & S_IFMT);
    archive_entry_set_perm(ent, st->st_mode & 0777); /* no set-id bits */
    archive_entry_set_mtime(ent, st->st_mtime, 0);
    archive_entry_set_size(ent, S_ISREG(st->st_mode) ? st->st_size : 0);
    if (link_target != NULL)
        archive_entry_set_symlink(ent, link_target);
    if (archive_write_header(u->ar, ent) != ARCHIVE_OK)
        e = upload_archive_error(u, name);
    while (e == NOX_OK && fd >= 0) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            e = upload_error(u, nox__cli_errno_err(errno), "%s: %s", name,
                             strerror(errno));
        else if (r == 0)
            break;
        else if (archive_write_data(u->ar, chunk, (size_t)r) < 0)
            e = upload_archive_error(u, name);
    }
    archive_entry_free(ent);
    return e;
}

/* What a file of type mode is called in messages when an upload cannot
 * take it; NULL for a regular file, directory or symlink. */
static const char *
upload_odd_type(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
    case S_IFDIR:
    case S_IFLNK:
        return NULL;
    case S_IFIFO:
        return "a FIFO";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFSOCK:
        return "a socket";
    default:
        return "a file of unknown type";
    }
}

static nox_err_t
upload_refuse_type(upload_t *u, const char *path, const char *what)
{
    return upload_error(u, NOX_EINVAL,
                        "%s: %s cannot be uploaded (only regular files, "
                        "directories and symlinks)",
                        path, what);
}

/* A regular file opened as fd (closed here) stored as name. */
static nox_err_t
upload_file_fd(upload_t *u, int fd, const char *path, const char *name)
{
    struct stat st;
    const char *odd;
    nox_err_t   e;

    if (fstat(fd, &st) != 0)
        e = upload_error(u, nox__cli_errno_err(errno), "%s: %s", path,
                         strerror(errno));
    else if ((odd = upload_odd_type(st.st_mode)) != NULL)
        e = upload_refuse_type(u, path, odd);
    else if (!S_ISREG(st.st_mode))
        e = upload_error(u, NOX_EINVAL, "%s: not a regular file%s", path,
                         S_ISDIR(st.st_mode) ? " (use --dir for directories)"
                                             : "");
    else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
        e = upload_error(u, nox__cli_errno_err(errno), "%s: %s", path,
                         strerror(errno));
    else /* blocking again: some filesystems honour it on files */
        e = upload_entry(u, name, &st, fd, NULL);
    (void)close(fd); /* read-only: nothing to lose on close */
    return e;
}

/* Open a FILE argument (following a symlink, as cp does) without ever
 * blocking or touching a device: what stat says is a FIFO, device or
 * socket is refused unopened (opening a device can act: a tape rewinds,
 * a watchdog arms). O_NONBLOCK covers a file swapped for a FIFO after the
 * stat, which upload_file_fd then refuses; a regular file's reads ignore
 * the flag. */
static int
upload_open_arg(upload_t *u, const char *path)
{
    struct stat st;
    const char *odd;
    int         fd, err;

    if (stat(path, &st) == 0 && (odd = upload_odd_type(st.st_mode)) != NULL) {
        (void)upload_refuse_type(u, path, odd);
        return -1;
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0)
        return fd;
    err = errno;
    (void)upload_error(u, nox__cli_errno_err(err), "%s: %s", path,
                       strerror(err));
    return -1;
}

/* The name a FILE argument is stored under: its last component. */
static const char *
upload_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

static nox_err_t
upload_files(upload_t *u, const char *const *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = upload_basename(files[i]);
        if (name[0] == '\0' || strcmp(name, ".") == 0 ||
            strcmp(name, "..") == 0)
            return upload_error(u, NOX_EINVAL,
                                "%s: not a file name (use --dir for "
                                "directories)",
                                files[i]);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(upload_basename(files[j]), name) == 0)
                return upload_error(u, NOX_EINVAL,
                                    "%s and %s would both be uploaded as %s",
                                    files[j], files[i], name);
        }
        int fd = upload_open_arg(u, files[i]);
        if (fd < 0)
            return u->code;
        if (upload_file_fd(u, fd, files[i], name) != NOX_OK)
            return u->code;
    }
    return NOX_OK;
}

static nox_err_t upload_walk(upload_t *u, int dfd, char *rel, size_t rel_len,
                             unsigned depth);

/* The symlink dfd/name stored as a link to its target, never followed.
 * Its own frame keeps the target buffer off the recursive walk's stack. */
static nox_err_t
upload_symlink(upload_t *u, int dfd, const char *name, const char *rel,
               const struct stat *st)
{
    char    target[PATH_MAX];
    ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

    if (n < 0)
        return upload_error(u, nox__cli_errno_err(errno), "%s: %s", rel,
                            strerror(errno));
    target[n] = '\0';
    u->links++;
    return upload_entry(u, rel, st, -1, target);
}

/* One directory entry of the --dir walk: dfd/name, stored as rel (a
 * PATH_MAX buffer already holding the entry's relative path). */
static nox_err_t
upload_walk_entry(upload_t *u, int dfd, const char *name, char *rel,
                  size_t rel_len, unsigned depth)
{
    struct stat st;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return upload_error(u, nox__cli_errno_err(errno), "%s: %s", rel,
                            strerror(errno));
    if (S_ISLNK(st.st_mode))
        return upload_symlink(u, dfd, name, rel, &st);
    if (upload_odd_type(st.st_mode) != NULL)
        return upload_refuse_type(u, rel, upload_odd_type(st.st_mode));
    if (S_ISREG(st.st_mode)) {
        /* O_NONBLOCK: if a FIFO took its place meanwhile, the open
         * returns and upload_file_fd refuses it. */
        int fd =
            openat(dfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            return upload_error(u, nox__cli_errno_err(errno), "%s: %s", rel,
                                strerror(errno));
        return upload_file_fd(u, fd, rel, rel);
    }
    if (upload_entry(u, rel, &st, -1, NULL) != NOX_OK)
        return u->code;
    int cfd =
        openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cfd < 0)
        return upload_error(u, nox__cli_errno_err(errno), "%s: %s", rel,
                            strerror(errno));
    nox_err_t e = upload_walk(u, cfd, rel, rel_len, depth + 1);
    (void)close(cfd); /* read-only directory fd */
    return e;
}

/* Add everything under the directory dfd (not closed here), whose
 * relative path is rel[0..rel_len) ("" for the top). */
static nox_err_t
upload_walk(upload_t *u, int dfd, char *rel, size_t rel_len, unsigned depth)
{
    if (depth > UPLOAD_MAX_DEPTH)
        return upload_error(u, NOX_EINVAL, "%s: directory tree too deep", rel);
    /* fdopendir takes over its fd, so give it a fresh one. */
    int       fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR      *d = fd >= 0 ? fdopendir(fd) : NULL;
    nox_err_t e = NOX_OK;
    if (d == NULL) {
        e = upload_error(u, nox__cli_errno_err(errno), "%s: %s",
                         rel_len ? rel : ".", strerror(errno));
        if (fd >= 0)
            (void)close(fd);
        return e;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                e = upload_error(u, nox__cli_errno_err(errno), "%s: %s",
                                 rel_len ? rel : ".", strerror(errno));
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int n = snprintf(rel + rel_len, PATH_MAX - rel_len, "%s%s",
                         rel_len ? "/" : "", de->d_name);
        if (n < 0 || (size_t)n >= PATH_MAX - rel_len) {
            e = upload_error(u, NOX_EINVAL, "%s/%s: path too long", rel,
                             de->d_name);
            break;
        }
        e = upload_walk_entry(u, dfd, de->d_name, rel, rel_len + (size_t)n,
                              depth);
        rel[rel_len] = '\0';
        if (e != NOX_OK)
            break;
    }
    (void)closedir(d); /* read-only directory stream */
    return e;
}

static nox_err_t
upload_dir(upload_t *u, const char *dir)
{
    char rel[PATH_MAX] = "";
    int  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dfd < 0)
        return upload_error(u, nox__cli_errno_err(errno), "%s: %s", dir,
                            strerror(errno));
    nox_err_t e = upload_walk(u, dfd, rel, 0, 0);
    (void)close(dfd); /* read-only directory fd */
    return e;
}

static int
upload_filter(struct archive *ar, nox_archive_format_t format)
{
    switch (format) {
    case NOX_ARCHIVE_TAR_GZ:
        return archive_write_add_filter_gzip(ar);
    case NOX_ARCHIVE_TAR_ZSTD:
        return archive_write_add_filter_zstd(ar);
    case NOX_ARCHIVE_TAR:
        return archive_write_add_filter_none(ar);
    }
    return ARCHIVE_FATAL;
}

/* Build the whole archive into u->data/u->len, compressed as --format
 * says. */
static nox_err_t
upload_build(upload_t *u, const nox__cli_args_t *a)
{
    nox_status_t st;
    nox_err_t    e = nox__archive_load(&st);

    if (e != NOX_OK)
        return upload_error(u, e, "%s", st.msg);
    u->ar = archive_write_new();
    if (u->ar == NULL)
        return upload_error(u, NOX_ERESOURCE, "out of memory");
    if (upload_filter(u->ar, a->format) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(u->ar) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(u->ar, 1) != ARCHIVE_OK ||
        archive_write_open(u->ar, u, NULL, upload_write_cb, NULL) !=
            ARCHIVE_OK) {
        e = upload_archive_error(u, "archive");
        goto out_free;
    }
    e = a->dir != NULL ? upload_dir(u, a->dir)
                       : upload_files(u, a->rest, a->rest_len);
    if (archive_write_close(u->ar) != ARCHIVE_OK && e == NOX_OK)
        e = upload_archive_error(u, "archive");
out_free:
    (void)archive_write_free(u->ar); /* already closed */
    u->ar = NULL;
    return e;
}

int
nox__cli_prep_upload(nox__cli_ctx_t *ctx)
{
    upload_t u = {0};

    if (upload_build(&u, ctx->args) != NOX_OK) {
        free(u.data);
        return nox__cli_fail(ctx, u.code, "%s", u.msg);
    }
    ctx->input = u.data;
    ctx->input_len = u.len;
    ctx->input_links = u.links;
    return 0;
}

/* Send the archive the prepare step built. */
int
nox__cli_cmd_upload(nox__cli_ctx_t *ctx)
{
    const nox__cli_args_t *a = ctx->args;
    uint64_t               written = 0;
    int                    rc;
    int64_t                t0 = nox__cli_now_ms();
    nox_err_t e = nox_client_upload(ctx->client, a->session, a->dest,
                                    ctx->input, ctx->input_len, &written);

    nox__cli_trace(ctx, "upload", a->session, t0, e,
                   "%zu bytes, %llu files written", ctx->input_len,
                   (unsigned long long)written);
    if (e != NOX_OK)
        return nox__cli_fail_call(ctx, e);
    if (a->json) {
        cJSON *o = cJSON_CreateObject();
        bool ok = cJSON_AddNumberToObject(o, "filesWritten", (double)written) !=
                      NULL &&
                  cJSON_AddNumberToObject(o, "linksWritten",
                                          (double)ctx->input_links) != NULL;
        rc = nox__cli_emit_json(ctx, o, ok);
    } else {
        /* The server counts regular files only; the links are those this
         * archive carried, all written once the upload succeeded. */
        char links[64] = "";
        if (ctx->input_links > 0)
            (void)snprintf(links, sizeof(links), ", %zu link%s",
                           ctx->input_links, ctx->input_links == 1 ? "" : "s");
        (void)printf("uploaded %llu file%s%s to %s:%s\n",
                     (unsigned long long)written, written == 1 ? "" : "s",
                     links, a->session, a->dest ? a->dest : "/workspace");
        rc = 0;
    }
    return rc;
}
