/* token.c - --token-file: the bearer token noxrc-rpc sends to a server
 * that requires one (tcp://, tls+tcp://, http://, https://). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The longest token read, as noxrunnerd's --token-file. */
#define TOKEN_MAX 4096

/* A client only reads its copy: a file others can read is worth a
 * warning (they can call the server too), not a refusal as on the
 * server, whose file decides who gets in. */
static bool
token_check_file(int fd, const char *path, char *err, size_t errlen)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0) {
        (void)snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
        return false;
    }
    if (!S_ISREG(sb.st_mode)) {
        (void)snprintf(err, errlen, "token file %s is not a regular file",
                       path);
        return false;
    }
    if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        (void)fprintf(stderr,
                      NOX_CLI_NAME ": warning: token file %s may be read by "
                                   "other users (mode %04o): chmod 600 %s\n",
                      path, (unsigned)(sb.st_mode & 07777), path);
    return true;
}

/* Read up to cap bytes; -1 on a read error. */
static ssize_t
token_read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;

    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -1 : (ssize_t)got;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* One line of printable ASCII without spaces; the line end is cut. */
static bool
token_check(char *buf, size_t n, const char *path, char *err, size_t errlen)
{
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (n == 0) {
        (void)snprintf(err, errlen, "token file %s is empty", path);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (buf[i] <= ' ' || buf[i] > '~') {
            (void)snprintf(err, errlen,
                           "token file %s: the token must be one line of "
                           "printable ASCII without spaces",
                           path);
            return false;
        }
    }
    return true;
}

char *
nox__cli_token_read(const char *path, char *err, size_t errlen)
{
    size_t  cap = TOKEN_MAX + 3; /* a token, CR LF, one byte to tell */
    char   *buf = calloc(1, cap + 1);
    int     fd;
    ssize_t n = -1;
    bool    ok;

    if (buf == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        (void)snprintf(err, errlen, "cannot open token file %s: %s", path,
                       strerror(errno));
        free(buf);
        return NULL;
    }
    ok = token_check_file(fd, path, err, errlen);
    if (ok) {
        n = token_read_all(fd, buf, cap);
        if (n < 0)
            (void)snprintf(err, errlen, "cannot read token file %s: %s", path,
                           strerror(errno));
        else if ((size_t)n == cap)
            (void)snprintf(err, errlen,
                           "token file %s: the token is longer than %d bytes",
                           path, TOKEN_MAX);
        ok = n >= 0 && (size_t)n < cap &&
             token_check(buf, (size_t)n, path, err, errlen);
    }
    (void)close(fd); /* read-only: nothing to lose */
    if (!ok) {
        explicit_bzero(buf, cap);
        free(buf);
        return NULL;
    }
    return buf;
}
