/* tar_check.c - extraction pass 1: entry names are normalised and every
 * entry is checked against the rules in tar.h, and against what is already
 * on disk, before pass 2 (tar_extract.c) writes anything. Also the reading
 * helpers both passes share. */
#include "tar_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Distinct paths (entries plus the directories they imply) remembered in
 * pass 1; bounds memory when an archive names deep, distinct trees. */
#define TREE_MAX_NODES (4 * NOX_TAR_MAX_ENTRIES)

/* ======================== entry names ======================== */

/* Copy name into out for a message: at most NOX_TAR_SHOW_MAX bytes, control
 * characters replaced, so a hostile name cannot drive a terminal. */
void
nox__tar_show(const char *name, char out[NOX_TAR_SHOW_MAX + 4])
{
    size_t i;

    for (i = 0; name[i] != '\0' && i < NOX_TAR_SHOW_MAX; i++) {
        unsigned char c = (unsigned char)name[i];
        out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[i] = '\0';
    if (name[i] != '\0')
        (void)strcpy(out + i, "...");
}

nox_err_t
nox__tar_reject(nox_status_t *st, const char *name, const char *why)
{
    char show[NOX_TAR_SHOW_MAX + 4];

    nox__tar_show(name, show);
    return nox__status_set(st, NOX_EINVAL, "archive entry '%s' rejected: %s",
                           show, why);
}

/* The entry's name as bytes; libarchive keeps the raw name, or the UTF-8
 * one when it could not convert it to the locale. NULL when neither. */
const char *
nox__tar_entry_name(struct archive_entry *e)
{
    const char *n = archive_entry_pathname(e);

    return n != NULL ? n : archive_entry_pathname_utf8(e);
}

const char *
nox__tar_entry_target(struct archive_entry *e)
{
    const char *t = archive_entry_symlink(e);

    return t != NULL ? t : archive_entry_symlink_utf8(e);
}

/* Normalise name into out (PATH_MAX bytes): components joined by '/',
 * without empty or "." components, so "./a//b/" becomes "a/b" and "./"
 * becomes "". Returns why the name is refused, or NULL. */
const char *
nox__tar_normalize(const char *name, char *out)
{
    size_t len = 0;

    if (name[0] == '/')
        return "absolute path";
    while (*name != '\0') {
        size_t n = strcspn(name, "/");
        if (n == 2 && name[0] == '.' && name[1] == '.')
            return "path leaves the destination";
        if (n > NAME_MAX || len + n + 2 > PATH_MAX)
            return "name too long";
        if (n > 0 && !(n == 1 && name[0] == '.')) {
            if (len > 0)
                out[len++] = '/';
            memcpy(out + len, name, n);
            len += n;
        }
        name += n;
        name += *name == '/';
    }
    out[len] = '\0';
    return NULL;
}

/* How many directories dest_fd lies below root_fd, found by climbing ".."
 * from dest_fd until root_fd's directory: the real depth, whatever path
 * (through "d -> ." links, say) reached dest_fd. A command renaming
 * directories meanwhile can change it, but a command can plant any link
 * itself; what matters is that an upload never plants one leading out. */
static nox_err_t
tar_real_depth(int root_fd, int dest_fd, long *depth, nox_status_t *st)
{
    struct stat root, here, up;
    int         fd, nfd, err = 0;

    if (fstat(root_fd, &root) != 0)
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot inspect the workspace");
    fd = openat(dest_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot open the destination");
    /* A path of n directories takes at least 2n bytes. */
    for (long n = 0; n <= PATH_MAX / 2; n++) {
        if (fstat(fd, &here) != 0) {
            err = errno;
            break;
        }
        if (here.st_dev == root.st_dev && here.st_ino == root.st_ino) {
            nox__close(fd);
            *depth = n;
            return NOX_OK;
        }
        nfd = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (nfd < 0) {
            err = errno;
            break;
        }
        nox__close(fd);
        fd = nfd;
        if (fstat(fd, &up) != 0) {
            err = errno;
            break;
        }
        if (up.st_dev == here.st_dev && up.st_ino == here.st_ino)
            break; /* the filesystem's root, and root_fd was not met */
    }
    nox__close(fd);
    if (err != 0)
        return nox__status_errno(st, NOX_EINTERNAL, err,
                                 "cannot find where the destination is");
    return nox__status_set(st, NOX_EINVAL,
                           "destination is outside the workspace");
}

/* ======================== pass 1: the path tree ========================
 * Every path the archive names, and every directory those paths imply, is
 * a node keyed by (parent node, component). Walking it costs O(length) per
 * entry, however deep the names. */

enum { TREE_DIR = 1, TREE_FILE, TREE_LINK };

typedef struct {
    char    *name;   /* one component, owned; NULL for the root */
    uint32_t parent; /* node index; node 0 is the destination itself */
    uint8_t  kind;   /* TREE_* */
    bool     absent; /* known not to exist on disk */
} tree_node_t;

typedef struct {
    tree_node_t *nodes;
    uint32_t     n, cap;
    uint32_t    *slots;  /* node index per hash slot, 0 = empty */
    uint32_t     nslots; /* a power of two, more than twice n */
} tree_t;

static uint32_t
tree_hash(uint32_t parent, const char *name, size_t len)
{
    uint32_t h = 2166136261u ^ parent; /* FNV-1a */

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

static uint32_t
tree_find(const tree_t *t, uint32_t parent, const char *name, size_t len)
{
    uint32_t i = tree_hash(parent, name, len) & (t->nslots - 1);

    for (; t->slots[i] != 0; i = (i + 1) & (t->nslots - 1)) {
        const tree_node_t *nd = &t->nodes[t->slots[i]];
        if (nd->parent == parent && strncmp(nd->name, name, len) == 0 &&
            nd->name[len] == '\0')
            return t->slots[i];
    }
    return 0;
}

static void
tree_free(tree_t *t)
{
    for (uint32_t i = 1; i < t->n; i++)
        free(t->nodes[i].name);
    free(t->nodes);
    free(t->slots);
}

/* Double the slot table and re-insert every node. */
static nox_err_t
tree_rehash(tree_t *t)
{
    uint32_t  ns = t->nslots ? t->nslots * 2 : 1024;
    uint32_t *s = calloc(ns, sizeof(*s));

    if (s == NULL)
        return NOX_ERESOURCE;
    for (uint32_t k = 1; k < t->n; k++) {
        const tree_node_t *nd = &t->nodes[k];
        uint32_t i = tree_hash(nd->parent, nd->name, strlen(nd->name));
        for (i &= ns - 1; s[i] != 0; i = (i + 1) & (ns - 1))
            ;
        s[i] = k;
    }
    free(t->slots);
    t->slots = s;
    t->nslots = ns;
    return NOX_OK;
}

static nox_err_t
tree_init(tree_t *t)
{
    memset(t, 0, sizeof(*t));
    t->nodes = calloc(64, sizeof(*t->nodes));
    if (t->nodes == NULL)
        return NOX_ERESOURCE;
    t->cap = 64;
    t->n = 1;
    t->nodes[0].kind = TREE_DIR;
    return tree_rehash(t);
}

/* Add a node (not yet present) and return its index in *idx. */
static nox_err_t
tree_add(tree_t *t, uint32_t parent, const char *name, size_t len, uint8_t kind,
         bool absent, uint32_t *idx)
{
    tree_node_t *nodes = t->nodes;
    uint32_t     i;

    if (t->n >= TREE_MAX_NODES)
        return NOX_ERESOURCE;
    if (t->n == t->cap) {
        nodes = reallocarray(t->nodes, t->cap, 2 * sizeof(*nodes));
        if (nodes == NULL)
            return NOX_ERESOURCE;
        t->nodes = nodes;
        t->cap *= 2;
    }
    if ((size_t)(t->n + 1) * 2 > t->nslots && tree_rehash(t) != NOX_OK)
        return NOX_ERESOURCE;
    nodes[t->n].name = strndup(name, len);
    if (nodes[t->n].name == NULL)
        return NOX_ERESOURCE;
    nodes[t->n].parent = parent;
    nodes[t->n].kind = kind;
    nodes[t->n].absent = absent;
    i = tree_hash(parent, name, len) & (t->nslots - 1);
    for (; t->slots[i] != 0; i = (i + 1) & (t->nslots - 1))
        ;
    t->slots[i] = t->n;
    *idx = t->n++;
    return NOX_OK;
}

/* ======================== pass 1: checking entries ======================== */

typedef struct {
    int           dest_fd;
    long          base_depth; /* the destination's real depth */
    tree_t        tree;
    uint64_t      entries;
    uint64_t      bytes;     /* declared sizes of regular files */
    uint64_t      max_bytes; /* the caller's budget; 0: none */
    const char   *raw;       /* the current entry's name, for messages */
    nox_status_t *st;
} tar_check_t;

/* lstat norm[0..end) below the destination. *found is false when it does
 * not exist. Earlier components were checked to be real directories. */
static nox_err_t
check_on_disk(tar_check_t *c, char *norm, size_t end, struct stat *sb,
              bool *found)
{
    char saved = norm[end];
    int  rc, err;

    norm[end] = '\0';
    rc = fstatat(c->dest_fd, norm, sb, AT_SYMLINK_NOFOLLOW);
    err = errno;
    norm[end] = saved;
    *found = rc == 0;
    if (rc == 0 || err == ENOENT)
        return NOX_OK;
    return nox__status_errno(c->st, NOX_EINTERNAL, err,
                             "cannot inspect the destination for '%s'", c->raw);
}

/* A directory component of the entry's path, ending at norm + end: it must
 * not be a non-directory, neither earlier in the archive nor on disk. */
static nox_err_t
check_parent(tar_check_t *c, uint32_t *cur, char *norm, size_t start,
             size_t end)
{
    uint32_t    idx = tree_find(&c->tree, *cur, norm + start, end - start);
    bool        found = false;
    struct stat sb;
    nox_err_t   rv;

    if (idx != 0 && c->tree.nodes[idx].kind == TREE_LINK)
        return nox__tar_reject(c->st, c->raw,
                               "path goes through a symlink in the archive");
    if (idx != 0 && c->tree.nodes[idx].kind != TREE_DIR)
        return nox__tar_reject(c->st, c->raw,
                               "path goes through a file in the archive");
    if (idx != 0) {
        *cur = idx;
        return NOX_OK;
    }
    if (!c->tree.nodes[*cur].absent) {
        rv = check_on_disk(c, norm, end, &sb, &found);
        if (rv != NOX_OK)
            return rv;
    }
    if (found && S_ISLNK(sb.st_mode))
        return nox__tar_reject(c->st, c->raw,
                               "path goes through a symlink on disk");
    if (found && !S_ISDIR(sb.st_mode))
        return nox__tar_reject(c->st, c->raw,
                               "path goes through a non-directory on disk");
    if (tree_add(&c->tree, *cur, norm + start, end - start, TREE_DIR, !found,
                 cur) != NOX_OK)
        return nox__status_set(c->st, NOX_ERESOURCE,
                               "archive names too many paths");
    return NOX_OK;
}

/* The entry's own name: a directory and a non-directory may not share it,
 * in the archive or on disk (a file is never renamed over a directory). */
static nox_err_t
check_leaf(tar_check_t *c, uint32_t cur, char *norm, size_t start, uint8_t kind)
{
    size_t      end = strlen(norm);
    uint32_t    idx = tree_find(&c->tree, cur, norm + start, end - start);
    bool        found = false;
    struct stat sb;
    nox_err_t   rv;

    if (idx != 0) {
        uint8_t had = c->tree.nodes[idx].kind;
        if ((had == TREE_DIR) != (kind == TREE_DIR))
            return nox__tar_reject(
                c->st, c->raw,
                "a directory and a non-directory share the name");
        c->tree.nodes[idx].kind = kind;
        return NOX_OK;
    }
    if (!c->tree.nodes[cur].absent) {
        rv = check_on_disk(c, norm, end, &sb, &found);
        if (rv != NOX_OK)
            return rv;
    }
    if (found && S_ISDIR(sb.st_mode) && kind != TREE_DIR)
        return nox__tar_reject(c->st, c->raw,
                               "a directory exists at that name");
    if (found && !S_ISDIR(sb.st_mode) && kind == TREE_DIR)
        return nox__tar_reject(c->st, c->raw,
                               "a non-directory exists at that name");
    if (tree_add(&c->tree, cur, norm + start, end - start, kind, !found,
                 &idx) != NOX_OK)
        return nox__status_set(c->st, NOX_ERESOURCE,
                               "archive names too many paths");
    return NOX_OK;
}

static nox_err_t
check_path(tar_check_t *c, char *norm, uint8_t kind)
{
    uint32_t  cur = 0;
    size_t    start = 0;
    char     *slash;
    nox_err_t rv;

    for (;;) {
        slash = strchr(norm + start, '/');
        if (slash == NULL)
            break;
        size_t end = (size_t)(slash - norm);
        rv = check_parent(c, &cur, norm, start, end);
        if (rv != NOX_OK)
            return rv;
        start = end + 1;
    }
    return check_leaf(c, cur, norm, start, kind);
}

/* A symlink's target may climb with leading ".." components, from the
 * real depth of the entry's directory (a real directory: entries never go
 * through links, and the destination's depth is its real one), but not
 * above the workspace root, and then only descend by names. A ".." after
 * a name is refused: if that name is a link (in this archive, on disk, or
 * made later) "d/.." is not where it reads, e.g. with "d -> ." the
 * target "d/d/../.." climbs two levels above its directory. */
static nox_err_t
check_link(tar_check_t *c, struct archive_entry *e, const char *norm)
{
    const char *target = nox__tar_entry_target(e), *p;
    long        depth = c->base_depth;
    bool        named = false;

    if (target == NULL || target[0] == '\0')
        return nox__tar_reject(c->st, c->raw, "symlink without a target");
    if (target[0] == '/')
        return nox__tar_reject(c->st, c->raw, "symlink target is absolute");
    if (strlen(target) >= PATH_MAX)
        return nox__tar_reject(c->st, c->raw, "symlink target too long");
    for (p = norm; *p != '\0'; p++)
        depth += *p == '/';
    for (p = target; *p != '\0';) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (named)
                return nox__tar_reject(c->st, c->raw,
                                       "symlink target has '..' after a name");
            if (--depth < 0)
                return nox__tar_reject(c->st, c->raw,
                                       "symlink target leaves the workspace");
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            named = true;
        }
        p += n;
        p += *p == '/';
    }
    return NOX_OK;
}

/* Everything about one entry except what the filesystem will say. */
static nox_err_t
check_entry(tar_check_t *c, struct archive_entry *e, char *norm)
{
    mode_t      type = archive_entry_filetype(e);
    const char *why;
    int64_t     size;
    nox_err_t   rv;

    if (++c->entries > NOX_TAR_MAX_ENTRIES)
        return nox__status_set(c->st, NOX_ERESOURCE,
                               "archive has more than %d entries",
                               NOX_TAR_MAX_ENTRIES);
    c->raw = nox__tar_entry_name(e);
    if (c->raw == NULL)
        return nox__status_set(c->st, NOX_EINVAL,
                               "archive entry without a readable name");
    why = nox__tar_normalize(c->raw, norm);
    if (why != NULL)
        return nox__tar_reject(c->st, c->raw, why);
    if (archive_entry_hardlink(e) != NULL)
        return nox__tar_reject(c->st, c->raw, "hard links are not allowed");
    if (norm[0] == '\0' && type == AE_IFDIR)
        return NOX_OK; /* the destination itself */
    if (norm[0] == '\0')
        return nox__tar_reject(c->st, c->raw, "empty name");
    switch (type) {
    case AE_IFREG:
        size = archive_entry_size(e);
        c->bytes += size > 0 ? (uint64_t)size : 0;
        if (c->bytes > NOX_TAR_MAX_BYTES)
            return nox__status_set(c->st, NOX_ERESOURCE,
                                   "archive unpacks to more than %llu bytes",
                                   (unsigned long long)NOX_TAR_MAX_BYTES);
        if (c->max_bytes != 0 && c->bytes > c->max_bytes)
            return nox__status_set(
                c->st, NOX_ERESOURCE,
                "archive unpacks to more than the %llu bytes left under "
                "the sandbox's ephemeral_storage_limit",
                (unsigned long long)c->max_bytes);
        return check_path(c, norm, TREE_FILE);
    case AE_IFDIR:
        return check_path(c, norm, TREE_DIR);
    case AE_IFLNK:
        rv = check_link(c, e, norm);
        if (rv != NOX_OK)
            return rv;
        return check_path(c, norm, TREE_LINK);
    default:
        return nox__tar_reject(
            c->st, c->raw, "device nodes, FIFOs and sockets are not allowed");
    }
}

/* ======================== reading ======================== */

nox_err_t
nox__tar_corrupt(struct archive *a, nox_status_t *st)
{
    const char *msg = archive_error_string(a);

    return nox__status_set(st, NOX_EINVAL, "corrupt archive: %s",
                           msg != NULL ? msg : "unknown error");
}

/* What each format is called in messages, and its libarchive filter
 * code. */
static const struct {
    const char *name;
    int         filter;
} tar_formats[] = {
    [NOX_TAR_GZ] = {"gzip tar", ARCHIVE_FILTER_GZIP},
    [NOX_TAR_PLAIN] = {"tar", ARCHIVE_FILTER_NONE},
    [NOX_TAR_ZSTD] = {"zstd tar", ARCHIVE_FILTER_ZSTD},
};

/* Enable reading the format's compression (plain tar needs none). */
static int
tar_enable_filter(struct archive *a, nox_tar_format_t format)
{
    switch (format) {
    case NOX_TAR_GZ:
        return archive_read_support_filter_gzip(a);
    case NOX_TAR_ZSTD:
        return archive_read_support_filter_zstd(a);
    default:
        return ARCHIVE_OK;
    }
}

/* Open data/len for reading; only a tar with the format's compression is
 * accepted, so a caller's mislabelled archive is a clear error. */
nox_err_t
nox__tar_open(nox_tar_format_t format, const void *data, size_t len,
              struct archive **out, nox_status_t *st)
{
    struct archive *a;
    const char     *msg, *name;
    nox_err_t       rv;

    if (!NOX_TAR_FORMAT_VALID(format))
        return nox__status_set(st, NOX_EINVAL, "unknown archive format %d",
                               (int)format);
    name = tar_formats[format].name;
    if (data == NULL || len == 0)
        return nox__status_set(st, NOX_EINVAL, "not a %s archive: empty input",
                               name);
    a = archive_read_new();
    if (a == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    if (tar_enable_filter(a, format) != ARCHIVE_OK ||
        archive_read_support_format_tar(a) != ARCHIVE_OK) {
        (void)archive_read_free(a); /* nothing read; nothing to report */
        return nox__status_set(st, NOX_EINTERNAL, "libarchive lacks %s", name);
    }
    /* The pass-through filter is always available, so any tar opens here;
     * the filter code tells us whether the expected compression was
     * found. */
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK ||
        archive_filter_code(a, 0) != tar_formats[format].filter) {
        msg = archive_error_string(a);
        rv = nox__status_set(st, NOX_EINVAL, "not a %s archive: %s", name,
                             msg != NULL ? msg : "wrong compression");
        (void)archive_read_free(a); /* after msg, which it owns, is used */
        return rv;
    }
    *out = a;
    return NOX_OK;
}

/* Next header into *e; NOX_OK with *e NULL at the end. */
nox_err_t
nox__tar_next(struct archive *a, struct archive_entry **e, nox_status_t *st)
{
    int r = archive_read_next_header(a, e);

    if (r == ARCHIVE_EOF) {
        *e = NULL;
        return NOX_OK;
    }
    /* ARCHIVE_WARN: e.g. a name not convertible to the locale; the entry
     * itself is usable. */
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return nox__tar_corrupt(a, st);
    return NOX_OK;
}

/* ======================== pass 1 ======================== */

nox_err_t
nox__tar_validate(int root_fd, int dest_fd, nox_tar_format_t format,
                  const void *data, size_t len, uint64_t max_bytes,
                  nox_status_t *st)
{
    tar_check_t     c = {.dest_fd = dest_fd, .max_bytes = max_bytes, .st = st};
    struct archive *a;
    struct archive_entry *e;
    char                  norm[PATH_MAX];
    nox_err_t             rv;

    /* Symlink targets are judged by their real depth below the workspace
     * root, so the destination's own real depth is the starting point. */
    rv = tar_real_depth(root_fd, dest_fd, &c.base_depth, st);
    if (rv != NOX_OK)
        return rv;
    rv = nox__tar_open(format, data, len, &a, st);
    if (rv != NOX_OK)
        return rv;
    /* Reading the next header skips the data, so a truncated or corrupt
     * body is found here, before anything is written. */
    if (tree_init(&c.tree) != NOX_OK) {
        rv = nox__status_set(st, NOX_ERESOURCE, "out of memory");
    } else {
        for (;;) {
            rv = nox__tar_next(a, &e, st);
            if (rv != NOX_OK || e == NULL)
                break;
            rv = check_entry(&c, e, norm);
            if (rv != NOX_OK)
                break;
        }
    }
    tree_free(&c.tree);         /* fine on a half-initialised tree */
    (void)archive_read_free(a); /* reading memory: nothing to flush */
    return rv;
}
