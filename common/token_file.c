/* token_file.c - reading a bearer token from its file, for noxrunnerd's
 * and noxrc-rpc's --token-file alike. */
#include "nox_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Check the file's type, owner and mode (of the open fd, so that the file
 * read is the file checked). */
static nox_err_t
token_check_file(int fd, const char *path, bool strict, bool *exposed,
                 nox_status_t *st)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0)
        return nox__status_errno(st, NOX_EINVAL, errno, "token file %s", path);
    if (!S_ISREG(sb.st_mode))
        return nox__status_set(st, NOX_EINVAL,
                               "token file %s is not a regular file", path);
    *exposed = (sb.st_mode & (S_IRWXG | S_IRWXO)) != 0;
    if (!strict)
        return NOX_OK;
    /* Whoever owns the file knows the token (and can change its mode). */
    if (sb.st_uid != geteuid())
        return nox__status_set(st, NOX_EINVAL,
                               "token file %s belongs to uid %u, not to this "
                               "user (uid %u)",
                               path, (unsigned)sb.st_uid, (unsigned)geteuid());
    if (*exposed)
        return nox__status_set(st, NOX_EINVAL,
                               "token file %s may be read or changed by "
                               "other users (mode %04o): chmod 600 %s",
                               path, (unsigned)(sb.st_mode & 07777), path);
    return NOX_OK;
}

/* Cut the line end and check what is left. */
static nox_err_t
token_check(char *buf, size_t n, const char *path, nox_status_t *st)
{
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (n == 0)
        return nox__status_set(st, NOX_EINVAL, "token file %s is empty", path);
    if (n > NOX_TOKEN_MAX)
        return nox__status_set(st, NOX_EINVAL,
                               "token file %s: the token is longer than %d "
                               "bytes",
                               path, NOX_TOKEN_MAX);
    for (size_t i = 0; i < n; i++)
        if (buf[i] <= ' ' || buf[i] > '~')
            return nox__status_set(st, NOX_EINVAL,
                                   "token file %s: the token must be one "
                                   "line of printable ASCII without spaces",
                                   path);
    return NOX_OK;
}

nox_err_t
nox__token_file_read(const char *path, bool strict, char **token, bool *exposed,
                     nox_status_t *st)
{
    /* One byte more than a token and its CR LF, to tell "too long". */
    size_t    cap = NOX_TOKEN_MAX + 3;
    char     *buf = calloc(1, cap + 1);
    bool      open_to_others = false;
    int       fd;
    ssize_t   n = 0;
    nox_err_t err;

    if (buf == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        free(buf);
        return nox__status_errno(st, NOX_EINVAL, errno,
                                 "cannot open token file %s", path);
    }
    err = token_check_file(fd, path, strict, &open_to_others, st);
    if (err == NOX_OK) {
        n = nox__read_all(fd, buf, cap);
        if (n < 0)
            err = nox__status_errno(st, NOX_EINVAL, errno,
                                    "cannot read token file %s", path);
    }
    nox__close(fd); /* read-only: nothing to lose */
    if (err == NOX_OK && (size_t)n == cap)
        err = nox__status_set(st, NOX_EINVAL,
                              "token file %s: the token is longer than %d "
                              "bytes",
                              path, NOX_TOKEN_MAX);
    if (err == NOX_OK)
        err = token_check(buf, (size_t)n, path, st);
    if (err != NOX_OK) {
        explicit_bzero(buf, cap);
        free(buf);
        return err;
    }
    if (exposed != NULL)
        *exposed = open_to_others;
    *token = buf;
    return NOX_OK;
}

void
nox__token_free(char *token)
{
    if (token == NULL)
        return;
    explicit_bzero(token, strlen(token));
    free(token);
}
