/* extract.c - download_workspace's safe extraction with libarchive.
 *
 * Two passes over the in-memory archive: the first checks every entry and
 * writes nothing, the second writes. Names are joined to the canonical
 * (realpath) local directory instead of chdir-ing into it, which would
 * change the whole process's working directory under other threads. */
#include "extract.h"
#include "nox_archive.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- entry checks ---- */

/* Walk the '/'-separated components of s from depth: ".." goes up one,
 * "." and empty components stay, others go down one. Returns the final
 * depth, or -1 as soon as the walk climbs above depth 0. */
static long
extract_walk(const char *s, long depth)
{
    while (*s != '\0') {
        const char *end = strchrnul(s, '/');
        size_t      n = (size_t)(end - s);

        if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (--depth < 0)
                return -1;
        } else if (n > 1 || (n == 1 && s[0] != '.')) {
            depth++;
        }
        s = *end != '\0' ? end + 1 : end;
    }
    return depth;
}

static bool
extract_has_dotdot(const char *s)
{
    for (const char *p = strstr(s, ".."); p != NULL; p = strstr(p + 2, ".."))
        if ((p == s || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return true;
    return false;
}

/* A symlink's target is resolved from the directory holding it; it must
 * stay inside the extraction root on the way (a purely lexical check,
 * like the server's). */
static nox_err_t
extract_check_link(const char *name, const char *target, nox_status_t *st)
{
    long depth = extract_walk(name, 0);

    if (target == NULL || target[0] == '\0' || depth < 1)
        return nox__status_set(
            st, NOX_EINVAL, "archive entry '%s' is a malformed symlink", name);
    if (target[0] == '/' || extract_walk(target, depth - 1) < 0)
        return nox__status_set(
            st, NOX_EINVAL,
            "archive entry '%s' is a symlink to '%s', outside the directory",
            name, target);
    return NOX_OK;
}

static nox_err_t
extract_check_entry(struct archive_entry *e, nox_status_t *st)
{
    const char *name = archive_entry_pathname(e);

    if (name == NULL || name[0] == '\0')
        return nox__status_set(st, NOX_EINVAL,
                               "archive entry with an empty name");
    if (name[0] == '/')
        return nox__status_set(st, NOX_EINVAL,
                               "archive entry '%s' has an absolute path", name);
    if (extract_has_dotdot(name))
        return nox__status_set(st, NOX_EINVAL,
                               "archive entry '%s' contains '..'", name);
    if (archive_entry_hardlink(e) != NULL)
        return nox__status_set(st, NOX_EINVAL,
                               "archive entry '%s' is a hard link", name);
    switch (archive_entry_filetype(e)) {
    case AE_IFREG:
    case AE_IFDIR:
        return NOX_OK;
    case AE_IFLNK:
        return extract_check_link(name, archive_entry_symlink(e), st);
    default:
        return nox__status_set(
            st, NOX_EINVAL,
            "archive entry '%s' is a device node, FIFO or socket", name);
    }
}

/* The symlinks an archive has created so far (normalized names): a later
 * entry below one of them would be written through it. */
typedef struct {
    char **names;
    size_t n, cap;
} extract_links_t;

static void
extract_links_free(extract_links_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
}

/* name without "." and empty components, so "./d//x" and "d/x" compare
 * equal. false when it does not fit. */
static bool
extract_normalize(const char *name, char *out, size_t size)
{
    size_t len = 0;

    while (*name != '\0') {
        const char *end = strchrnul(name, '/');
        size_t      n = (size_t)(end - name);

        if (n > 1 || (n == 1 && name[0] != '.')) {
            if (len + 1 + n >= size)
                return false;
            if (len > 0)
                out[len++] = '/';
            memcpy(out + len, name, n);
            len += n;
        }
        name = *end != '\0' ? end + 1 : end;
    }
    out[len] = '\0';
    return true;
}

static nox_err_t
extract_remember_link(extract_links_t *l, const char *norm, nox_status_t *st)
{
    char **grown;

    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;

        grown = realloc(l->names, cap * sizeof(*grown));
        if (grown == NULL)
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
        l->names = grown;
        l->cap = cap;
    }
    l->names[l->n] = strdup(norm);
    if (l->names[l->n] == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    l->n++;
    return NOX_OK;
}

/* libarchive would refuse such an entry too (SECURE_SYMLINKS), but only
 * while writing, after the entries before it are on disk. */
static nox_err_t
extract_check_path(extract_links_t *l, struct archive_entry *e,
                   nox_status_t *st)
{
    const char *name = archive_entry_pathname(e);
    char        norm[PATH_MAX];

    if (!extract_normalize(name, norm, sizeof(norm)))
        return nox__status_set(st, NOX_EINVAL,
                               "archive entry '%s': path too long", name);
    for (size_t i = 0; i < l->n; i++) {
        size_t k = strlen(l->names[i]);

        if (strncmp(norm, l->names[i], k) == 0 && norm[k] == '/')
            return nox__status_set(st, NOX_EINVAL,
                                   "archive entry '%s' would be written "
                                   "through the symlink '%s'",
                                   name, l->names[i]);
    }
    if (archive_entry_filetype(e) == AE_IFLNK)
        return extract_remember_link(l, norm, st);
    return NOX_OK;
}

/* ---- reading and writing ---- */

static const char *
extract_errstr(struct archive *a)
{
    const char *s = archive_error_string(a);
    return s != NULL ? s : "unknown error";
}

static nox_err_t
extract_open(struct archive **out, const void *data, size_t len,
             nox_status_t *st)
{
    struct archive *a;

    if (len == 0)
        return nox__status_set(st, NOX_EINVAL, "empty archive");
    a = archive_read_new();
    if (a == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    /* Any of the formats a server sends (gzip, zstd or no compression;
     * the pass-through filter is always on). ARCHIVE_WARN here means "via
     * an external program"; still fine. */
    if (archive_read_support_filter_gzip(a) < ARCHIVE_WARN ||
        archive_read_support_filter_zstd(a) < ARCHIVE_WARN ||
        archive_read_support_format_tar(a) < ARCHIVE_WARN ||
        archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
        nox_err_t err = nox__status_set(st, NOX_EINVAL, "not a tar archive: %s",
                                        extract_errstr(a));
        (void)archive_read_free(a); /* only fails on a bad handle */
        return err;
    }
    *out = a;
    return NOX_OK;
}

/* The first pass: nothing is written unless every entry is acceptable. */
static nox_err_t
extract_check_all(const void *data, size_t len, nox_status_t *st)
{
    extract_links_t       links = {NULL, 0, 0};
    struct archive       *a;
    struct archive_entry *e;
    nox_err_t             err;
    int                   r;

    err = extract_open(&a, data, len, st);
    if (err != NOX_OK)
        return err;
    for (;;) {
        r = archive_read_next_header(a, &e);
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            break;
        err = extract_check_entry(e, st);
        if (err == NOX_OK)
            err = extract_check_path(&links, e, st);
        if (err != NOX_OK)
            break;
    }
    if (err == NOX_OK && r != ARCHIVE_EOF)
        err = nox__status_set(st, NOX_EINVAL, "bad archive: %s",
                              extract_errstr(a));
    extract_links_free(&links);
    (void)archive_read_free(a);
    return err;
}

/* libarchive's own refusals (e.g. a path through a symlink) carry no
 * errno; those are bad input. An errno means the local disk failed. */
static nox_err_t
extract_write_error(struct archive *w, const char *name, nox_status_t *st)
{
    nox_err_t code = archive_errno(w) > 0 ? NOX_EINTERNAL : NOX_EINVAL;

    return nox__status_set(st, code, "cannot extract '%s': %s", name,
                           extract_errstr(w));
}

static nox_err_t
extract_copy_data(struct archive *a, struct archive *w, const char *name,
                  nox_status_t *st)
{
    const void *buf;
    size_t      size;
    la_int64_t  off;
    int         r;

    for (;;) {
        r = archive_read_data_block(a, &buf, &size, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return nox__status_set(st, NOX_EINVAL, "bad archive at '%s': %s",
                                   name, extract_errstr(a));
        if (archive_write_data_block(w, buf, size, off) < ARCHIVE_WARN)
            return extract_write_error(w, name, st);
    }
    return NOX_OK;
}

static nox_err_t
extract_one(struct archive *a, struct archive *w, struct archive_entry *e,
            const char *root, nox_status_t *st)
{
    char      path[PATH_MAX];
    size_t    root_len = strlen(root);
    nox_err_t err;
    int       n;

    /* Checked again so the writer never relies on the first pass having
     * seen the same bytes. */
    err = extract_check_entry(e, st);
    if (err != NOX_OK)
        return err;
    n = snprintf(path, sizeof(path), "%s/%s", root, archive_entry_pathname(e));
    if (n < 0 || (size_t)n >= sizeof(path))
        return nox__status_set(st, NOX_EINVAL,
                               "archive entry '%s': path too long",
                               archive_entry_pathname(e));
    archive_entry_set_pathname(e, path);
    const char *name = path + root_len + 1; /* for messages */
    if (archive_write_header(w, e) < ARCHIVE_WARN)
        return extract_write_error(w, name, st);
    if (archive_entry_filetype(e) == AE_IFREG) {
        err = extract_copy_data(a, w, name, st);
        if (err != NOX_OK)
            return err;
    }
    if (archive_write_finish_entry(w) < ARCHIVE_WARN)
        return extract_write_error(w, name, st);
    return NOX_OK;
}

static struct archive *
extract_disk_writer(void)
{
    struct archive *w = archive_write_disk_new();

    /* No NOABSOLUTEPATHS: every name is joined to the absolute root, and
     * extract_check_entry already refused absolute names. Without
     * ARCHIVE_EXTRACT_PERM/OWNER, modes lose setuid/setgid and get the
     * umask, and owners are ours. */
    if (w != NULL &&
        archive_write_disk_set_options(
            w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                   ARCHIVE_EXTRACT_SECURE_NODOTDOT) != ARCHIVE_OK) {
        (void)archive_write_free(w);
        w = NULL;
    }
    return w;
}

/* The second pass. */
static nox_err_t
extract_write_all(const void *data, size_t len, const char *root,
                  uint64_t *files, nox_status_t *st)
{
    struct archive       *a, *w;
    struct archive_entry *e;
    nox_err_t             err;
    uint64_t              n = 0;
    int                   r;

    err = extract_open(&a, data, len, st);
    if (err != NOX_OK)
        return err;
    w = extract_disk_writer();
    if (w == NULL) {
        err = nox__status_set(st, NOX_ERESOURCE, "out of memory");
        goto out_free_reader;
    }
    for (;;) {
        r = archive_read_next_header(a, &e);
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            break;
        err = extract_one(a, w, e, root, st);
        if (err != NOX_OK)
            break;
        n += archive_entry_filetype(e) == AE_IFREG;
    }
    if (err == NOX_OK && r != ARCHIVE_EOF)
        err = nox__status_set(st, NOX_EINVAL, "bad archive: %s",
                              extract_errstr(a));
    /* Close applies the deferred directory times and modes. */
    if (archive_write_close(w) < ARCHIVE_WARN && err == NOX_OK)
        err = extract_write_error(w, root, st);
    (void)archive_write_free(w);
    if (err == NOX_OK)
        *files = n;
out_free_reader:
    (void)archive_read_free(a);
    return err;
}

/* ---- the local directory ---- */

/* mkdir -p: the caller's directory and its missing parents. */
static nox_err_t
extract_mkdirs(const char *dir, nox_status_t *st)
{
    char   path[PATH_MAX];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(path))
        return nox__status_set(st, NOX_EINVAL, "bad local directory '%s'", dir);
    memcpy(path, dir, n + 1);
    for (char *p = path + 1;; p++) {
        char c = *p;

        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return nox__status_errno(st, NOX_EINTERNAL, errno,
                                     "cannot create '%s'", path);
        *p = c;
        if (c == '\0')
            return NOX_OK;
    }
}

nox_err_t
nox__extract_tar(const void *data, size_t len, const char *local_dir,
                 uint64_t *files, nox_status_t *st)
{
    struct stat sb;
    char       *root;
    nox_err_t   err;
    uint64_t    n = 0;

    err = nox__archive_load(st);
    if (err == NOX_OK)
        err = extract_check_all(data, len, st);
    if (err != NOX_OK)
        return err;
    err = extract_mkdirs(local_dir, st);
    if (err != NOX_OK)
        return err;
    /* The canonical path has no symlink and no "..", so the SECURE flags
     * judge only what the archive adds. */
    root = realpath(local_dir, NULL);
    if (root == NULL)
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot resolve '%s'", local_dir);
    if (stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        err = nox__status_set(st, NOX_EINVAL, "'%s' is not a directory",
                              local_dir);
        goto out_free_root;
    }
    err = extract_write_all(data, len, root, &n, st);
    if (err == NOX_OK && files != NULL)
        *files = n;
out_free_root:
    free(root);
    return err;
}
