/* floor.c - the floors: what the work costs done directly in this process,
 * without the service. Spawning a process with captured output (the floor
 * of Exec) and the filesystem steps of a sandbox create+delete. The
 * archive floors of the files group are in groups_files.c. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A small file like a sandbox's metadata. */
#define FLOOR_META_BYTES 256

int
bench_run_checked(const char *const *argv, char *msg, size_t msglen)
{
    int status, rv;

    if ((rv = bench_run(argv, &status)) != 0) {
        (void)snprintf(msg, msglen, "%s: %s", argv[0], strerror(rv));
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        (void)snprintf(msg, msglen, "%s: wait status 0x%x", argv[0], status);
        return -1;
    }
    return 0;
}

int
bench_case_run(void *argv, size_t i, char *msg, size_t msglen)
{
    (void)i; /* every round runs the same command */
    return bench_run_checked(argv, msg, msglen);
}

/* The floor group on its own: the spawn floor, measured first and alone.
 * The exec group measures it again, interleaved with its calls, for its
 * ratios. */
int
bench_group_floor(bench_t *b)
{
    static const char *const f_true[] = {"/bin/true", NULL};
    static const char *const f_echo[] = {"/bin/echo", "hello", NULL};
    bench_case_t             cases[2] = {
                    {"/bin/true", bench_case_run, (void *)f_true, {0}, 0},
                    {"/bin/echo", bench_case_run, (void *)f_echo, {0}, 0},
    };
    bench_stats_t st;

    if (bench_cases_init(cases, 2, b->n_lat) != 0) {
        bench_fail(b, "floor", "out of memory");
        return -1;
    }
    for (size_t k = 0; k < 2; k++) {
        bench_rounds("floor", &cases[k], 1, b->n_warm, b->n_lat);
        bench_case_stats(&cases[k], &st);
        bench_row_lat(b, "floor",
                      k == 0 ? "posix_spawn /bin/true +pipes+wait"
                             : "posix_spawn /bin/echo hello",
                      &st, cases[k].errors, NULL);
    }
    bench_cases_free(cases, 2);
    return 0;
}

int
bench_floor_fs_pair(const char *dir, size_t i, bool layout, char *msg,
                    size_t msglen)
{
    char    tmp[PATH_MAX], fin[PATH_MAX], file[PATH_MAX], sub[PATH_MAX];
    uint8_t meta[FLOOR_META_BYTES];
    int     fd = -1, n1, n2, rv = -1;

    memset(meta, 'm', sizeof(meta));
    n1 = snprintf(tmp, sizeof(tmp), "%s/.creating-%zu", dir, i);
    n2 = snprintf(fin, sizeof(fin), "%s/floor-%zu", dir, i);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(tmp) ||
        (size_t)n2 >= sizeof(fin) ||
        bench_path(file, sizeof(file), tmp, "meta") != 0 ||
        bench_path(sub, sizeof(sub), tmp, "workspace") != 0) {
        (void)snprintf(msg, msglen, "path too long");
        return -1;
    }
    if (mkdir(tmp, 0700) != 0) {
        (void)snprintf(msg, msglen, "mkdir: %s", strerror(errno));
        return -1;
    }
    if (layout && (mkdir(sub, 0755) != 0 ||
                   bench_path(sub, sizeof(sub), tmp, "tmp") != 0 ||
                   mkdir(sub, 0700) != 0)) {
        (void)snprintf(msg, msglen, "mkdir: %s", strerror(errno));
    } else if ((fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                          0600)) < 0 ||
               (errno = nox__write_all(fd, meta, sizeof(meta))) != 0) {
        (void)snprintf(msg, msglen, "write: %s", strerror(errno));
        nox__close(fd);          /* fd < 0 is a no-op */
    } else if (close(fd) != 0) { /* the fd is gone even then */
        (void)snprintf(msg, msglen, "close: %s", strerror(errno));
    } else if (rename(tmp, fin) != 0) {
        (void)snprintf(msg, msglen, "rename: %s", strerror(errno));
    } else {
        rv = 0;
    }
    if (bench_rmtree(rv == 0 ? fin : tmp) != 0 && rv == 0) {
        (void)snprintf(msg, msglen, "remove failed");
        rv = -1;
    }
    return rv;
}
