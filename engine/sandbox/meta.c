/* meta.c - read and atomically replace a sandbox's metadata file. */
#include "meta.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define META_MAX_BYTES 4096

nox_err_t
nox__meta_check_str(const char *field, const char *s, nox_status_t *st)
{
    if (s == NULL)
        return NOX_OK;
    if (strlen(s) >= NOX_META_STR_MAX)
        return nox__status_set(st, NOX_EINVAL, "%s is too long (max %d)", field,
                               NOX_META_STR_MAX - 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return nox__status_set(st, NOX_EINVAL,
                                   "%s contains a control character", field);
    return NOX_OK;
}

static int
meta_format(const nox_meta_t *m, char *buf, size_t len)
{
    return snprintf(buf, len,
                    "version=1\nsession_id=%s\nttl_seconds=%" PRIu32
                    "\ncreated_at=%" PRId64 "\nexpires_at=%" PRId64
                    "\nimage=%s\ncpu_limit=%s\nmemory_limit=%s\n"
                    "storage_limit=%s\npids_limit=%" PRIu64
                    "\nisolation=%s\nallow_network=%d\nran=%d\n",
                    m->session_id, m->ttl_seconds, m->created_at, m->expires_at,
                    m->image, m->cpu_limit, m->memory_limit, m->storage_limit,
                    m->pids_limit, m->namespaces ? "namespaces" : "none",
                    m->allow_network ? 1 : 0, m->ran ? 1 : 0);
}

nox_err_t
nox__meta_write(int sb_fd, const nox_meta_t *m, nox_status_t *st)
{
    char buf[META_MAX_BYTES], tmp[96];
    int  n, fd, err;

    n = meta_format(m, buf, sizeof(buf));
    if (n < 0 || (size_t)n >= sizeof(buf))
        return nox__status_set(st, NOX_EINTERNAL, "metadata too large");
    /* Unique without shared state: writers in other processes differ in
     * pid, in other threads in tid, and one thread's writes in time. */
    (void)snprintf(tmp, sizeof(tmp), NOX_META_FILE ".%ld.%ld.%lld",
                   (long)getpid(), (long)gettid(), (long long)nox__mono_ns());
    fd = openat(sb_fd, tmp,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot write sandbox metadata");
    err = nox__write_all(fd, buf, (size_t)n);
    if (close(fd) != 0 && err == 0)
        err = errno;
    /* No fsync: sandboxes are scratch space; atomicity against concurrent
     * readers is what matters, and rename gives it. */
    if (err == 0 && renameat(sb_fd, tmp, sb_fd, NOX_META_FILE) != 0)
        err = errno;
    if (err != 0) {
        (void)unlinkat(sb_fd, tmp, 0); /* best effort; reported below */
        return nox__status_errno(st, NOX_EINTERNAL, err,
                                 "cannot write sandbox metadata");
    }
    return NOX_OK;
}

static void
meta_copy(char *dst, size_t dstlen, const char *val)
{
    size_t n = strnlen(val, dstlen - 1);
    memcpy(dst, val, n);
    dst[n] = '\0';
}

static int
meta_parse_i64(const char *val, int64_t *out)
{
    char *end;

    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (errno != 0 || end == val || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* Apply one "key=value" line; unknown keys are skipped so that a newer
 * engine's extra fields do not make an older one lose the sandbox. */
static int
meta_apply(nox_meta_t *m, char *line)
{
    char   *eq = strchr(line, '=');
    int64_t v;

    if (eq == NULL)
        return -1;
    *eq = '\0';
    const char *key = line, *val = eq + 1;
    if (strcmp(key, "session_id") == 0)
        meta_copy(m->session_id, sizeof(m->session_id), val);
    else if (strcmp(key, "image") == 0)
        meta_copy(m->image, sizeof(m->image), val);
    else if (strcmp(key, "cpu_limit") == 0)
        meta_copy(m->cpu_limit, sizeof(m->cpu_limit), val);
    else if (strcmp(key, "memory_limit") == 0)
        meta_copy(m->memory_limit, sizeof(m->memory_limit), val);
    else if (strcmp(key, "storage_limit") == 0)
        meta_copy(m->storage_limit, sizeof(m->storage_limit), val);
    else if (strcmp(key, "ttl_seconds") == 0) {
        if (meta_parse_i64(val, &v) != 0 || v < 0 || v > UINT32_MAX)
            return -1;
        m->ttl_seconds = (uint32_t)v;
    } else if (strcmp(key, "created_at") == 0) {
        if (meta_parse_i64(val, &m->created_at) != 0)
            return -1;
    } else if (strcmp(key, "expires_at") == 0) {
        if (meta_parse_i64(val, &m->expires_at) != 0)
            return -1;
    } else if (strcmp(key, "pids_limit") == 0) {
        if (meta_parse_i64(val, &v) != 0 || v < 0)
            return -1;
        m->pids_limit = (uint64_t)v;
    } else if (strcmp(key, "isolation") == 0) {
        /* Absent (a sandbox from before isolation levels) means none. */
        m->namespaces = strcmp(val, "namespaces") == 0;
    } else if (strcmp(key, "allow_network") == 0) {
        m->allow_network = strcmp(val, "1") == 0;
    } else if (strcmp(key, "ran") == 0) {
        m->ran = strcmp(val, "0") != 0;
    }
    return 0;
}

/* NOX_EDATALOSS: the metadata file is there but is not one we wrote. */
static nox_err_t
meta_damaged(nox_status_t *st, const char *what)
{
    return nox__status_set(st, NOX_EDATALOSS, "%s sandbox metadata", what);
}

static nox_err_t
meta_slurp(int sb_fd, char *buf, size_t len, nox_status_t *st)
{
    struct stat fs;
    size_t      got = 0;
    ssize_t     r;
    int         fd;

    /* A command can put anything under the name: O_NOFOLLOW refuses a
     * symlink (ELOOP), O_NONBLOCK keeps a FIFO from stalling us. */
    fd = openat(sb_fd, NOX_META_FILE,
                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return nox__status_set(st, NOX_ENOENT, "sandbox has no metadata");
        if (errno == ELOOP || errno == ENXIO)
            return meta_damaged(st, "not a file:");
        /* The file is in a directory of ours, so only a command can have
         * taken our right to read it: damage, which create repairs (a
         * new file is written beside it and renamed over it). */
        if (errno == EACCES || errno == EPERM)
            return meta_damaged(st, "unreadable:");
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot read sandbox metadata");
    }
    if (fstat(fd, &fs) != 0) {
        int err = errno;
        nox__close(fd);
        return nox__status_errno(st, NOX_EINTERNAL, err,
                                 "cannot read sandbox metadata");
    }
    if (!S_ISREG(fs.st_mode)) {
        nox__close(fd);
        return meta_damaged(st, "not a file:");
    }
    while (got < len - 1) {
        r = read(fd, buf + got, len - 1 - got);
        if (r == 0)
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            nox__close(fd);
            return nox__status_errno(st, NOX_EINTERNAL, err,
                                     "cannot read sandbox metadata");
        }
        got += (size_t)r;
    }
    nox__close(fd);
    buf[got] = '\0';
    return NOX_OK;
}

nox_err_t
nox__meta_read(int sb_fd, nox_meta_t *m, nox_status_t *st)
{
    char      buf[META_MAX_BYTES];
    char     *save = NULL, *line;
    nox_err_t rv;

    rv = meta_slurp(sb_fd, buf, sizeof(buf), st);
    if (rv != NOX_OK)
        return rv;
    memset(m, 0, sizeof(*m));
    m->expires_at = -1;
    m->ran = true; /* unknown: assume a command ran */
    for (line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (meta_apply(m, line) != 0)
            return meta_damaged(st, "malformed");
    }
    if (m->session_id[0] == '\0' || m->expires_at < 0)
        return meta_damaged(st, "incomplete");
    return NOX_OK;
}

nox_err_t
nox__meta_mark(int sb_fd, const char *session_id, nox_status_t *st)
{
    if (fsetxattr(sb_fd, NOX_OWNER_XATTR, session_id, strlen(session_id), 0) ==
            0 ||
        errno == EOPNOTSUPP)
        return NOX_OK;
    return nox__status_errno(st, NOX_EINTERNAL, errno,
                             "cannot mark sandbox directory %s", session_id);
}

bool
nox__meta_marked(int sb_fd, const char *session_id)
{
    char    val[NOX_SESSION_ID_MAX + 1];
    ssize_t n = fgetxattr(sb_fd, NOX_OWNER_XATTR, val, sizeof(val));

    /* The id must be the one in the directory's name: a copy of one of
     * ours (cp -a keeps xattrs) under another id is not ours. */
    return n >= 0 && (size_t)n == strlen(session_id) &&
           memcmp(val, session_id, (size_t)n) == 0;
}
