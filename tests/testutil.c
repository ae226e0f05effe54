/* testutil.c - temporary directories and file helpers for the suites. */
#include "testutil.h"

#include "fsutil.h"
#include "sandbox_scan.h"

#include <check.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *
tu_mkdtemp(void)
{
    const char *tmp = getenv("TMPDIR");
    char        buf[PATH_MAX];

    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    ck_assert_int_lt(snprintf(buf, sizeof(buf), "%s/nox-test-XXXXXX", tmp),
                     (int)sizeof(buf));
    ck_assert_ptr_nonnull(mkdtemp(buf));
    char *p = strdup(buf);
    ck_assert_ptr_nonnull(p);
    return p;
}

void
tu_rmtree_free(char *path)
{
    if (path == NULL)
        return;
    /* Removal is relative to "/" with the absolute path's parts, so no
     * symlink in the tree is followed. */
    (void)nox__rmtree_at(AT_FDCWD, path, NULL);
    free(path);
}

void
tu_write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX];

    ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name),
                     (int)sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
}

char *
tu_read_file(const char *dir, const char *name, size_t *len_out)
{
    char        path[PATH_MAX];
    struct stat sb;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return NULL;
    }
    char  *buf = malloc((size_t)sb.st_size + 1);
    size_t got = 0;
    while (buf != NULL && got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (buf == NULL)
        return NULL;
    buf[got] = '\0';
    if (len_out != NULL)
        *len_out = got;
    return buf;
}

int
tu_exists(const char *dir, const char *name)
{
    char        path[PATH_MAX];
    struct stat sb;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return 0;
    return lstat(path, &sb) == 0;
}

void
tu_assert_no_link_out_of_a_workspace(const char *base_dir)
{
    char first[2 * PATH_MAX + 64];

    ck_assert_msg(nox_test_escaping_links_in_each_sandbox(base_dir, first,
                                                          sizeof(first)) == 0,
                  "a link leads out of a workspace: %s", first);
}

extern char **environ;

void
tu_make_cert(const char *cert_path, const char *key_path)
{
    char                      *argv[] = {"openssl",
                                         "req",
                                         "-x509",
                                         "-newkey",
                                         "ec",
                                         "-pkeyopt",
                                         "ec_paramgen_curve:prime256v1",
                                         "-nodes",
                                         "-days",
                                         "1",
                                         "-subj",
                                         "/CN=127.0.0.1",
                                         "-addext",
                                         "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost",
                                         "-keyout",
                                         (char *)key_path,
                                         "-out",
                                         (char *)cert_path,
                                         NULL};
    posix_spawn_file_actions_t fa;
    pid_t                      pid;
    int                        status;

    ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
    ck_assert_int_eq(
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0), 0);
    ck_assert_int_eq(
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0), 0);
    ck_assert_int_eq(posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "openssl req failed");
}
