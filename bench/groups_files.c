/* groups_files.c - the files group: UploadFiles and DownloadFiles of one
 * big file and of many 1 KiB files, in each archive format, through the
 * in-process engine and over ipc (the big tar.gz also over http, to
 * noxrunnerd's REST gateway), against the floor of the same work done
 * directly: libarchive unpacking (packing) the same archive in memory
 * plus writing (reading) the same files on the same base directory. The
 * disk part of the floor is measured in the same rounds as the transfers:
 * small-file creation on a busy disk drifts by 2x within a minute. */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FILES_SMALL_BYTES 1024
#define FILES_NFORMATS 3
#define FILES_URL_MAX 160
#define FILES_WARM 1 /* the first upload also asks the server its limit */

static const struct {
    nox_archive_format_t f;
    const char          *name;
} files_formats[FILES_NFORMATS] = {
    {NOX_ARCHIVE_TAR_GZ, "tar.gz"},
    {NOX_ARCHIVE_TAR, "tar"},
    {NOX_ARCHIVE_TAR_ZSTD, "tar.zst"},
};

/* One payload, its archives and its in-memory floors. */
typedef struct {
    const char     *label; /* "10 MiB", "1000x1KiB" */
    const char     *tag;   /* "big", "many" */
    bool            many;  /* rate in files/s, else MB/s */
    bench_fileset_t fs;
    nox_buf_t       tar[FILES_NFORMATS];    /* the archives */
    bench_stats_t   pack[FILES_NFORMATS];   /* libarchive write, in memory */
    bench_stats_t   unpack[FILES_NFORMATS]; /* libarchive read, in memory */
} files_set_t;

/* What the cases of a round work on: a payload in one format, the
 * directories <base>-<i> the floor writes, and (for transfers) a client
 * and a sandbox. */
typedef struct {
    files_set_t  *set;
    size_t        f;
    char          base[PATH_MAX];
    const char   *base_parent; /* the work directory */
    nox_client_t *c;
    const char   *sid;
} files_io_t;

/* Pseudo-random bytes (xorshift64): incompressible, like real uploads of
 * binaries, and cheap to make. */
static void
files_fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

/* Record a throughput row: rate from the p50, ratio to floor (NULL:
 * none). */
static void
files_row(bench_t *b, const files_set_t *set, const char *name,
          const bench_stats_t *st, size_t errors, const bench_stats_t *floor)
{
    double      sec = st->p50_us / 1e6;
    double      total = (double)set->fs.n_files * (double)set->fs.file_size;
    bench_row_t r;

    bench_row_init(&r, "files", name);
    r.n = st->n;
    r.errors = errors;
    r.p50_us = st->p50_us;
    r.p99_us = st->p99_us;
    r.unit = set->many ? "files/s" : "MB/s";
    if (st->n > 0)
        r.value = set->many ? (double)set->fs.n_files / sec : total / 1e6 / sec;
    if (floor != NULL && st->n > 0 && floor->n > 0) {
        r.ratio50 = st->p50_us / floor->p50_us;
        r.ratio99 = st->p99_us / floor->p99_us;
        r.floor_p50_us = floor->p50_us;
        r.floor_p99_us = floor->p99_us;
    }
    bench_row(b, &r);
}

/* <base>-<i> into buf; -1 (with msg) when it does not fit. */
static int
files_dir(const files_io_t *io, size_t i, char *buf, size_t len, char *msg,
          size_t msglen)
{
    int n = snprintf(buf, len, "%s-%zu", io->base, i);

    if (n < 0 || (size_t)n >= len) {
        (void)snprintf(msg, msglen, "path too long");
        return -1;
    }
    return 0;
}

/* ---- the cases ---- */

static int
files_pack(void *arg, size_t i, char *msg, size_t msglen)
{
    files_io_t *io = arg;
    nox_buf_t   out = NOX_BUF_INIT;
    int         rv;

    (void)i;
    rv = bench_tar_write(&io->set->fs, files_formats[io->f].f, &out);
    nox__buf_free(&out);
    if (rv != 0)
        (void)snprintf(msg, msglen, "libarchive write failed");
    return rv;
}

static int
files_unpack(void *arg, size_t i, char *msg, size_t msglen)
{
    files_io_t        *io = arg;
    const files_set_t *set = io->set;
    size_t             nf, nb;

    (void)i;
    if (bench_tar_read(set->tar[io->f].data, set->tar[io->f].len, &nf, &nb) !=
            0 ||
        nf != set->fs.n_files || nb != set->fs.n_files * set->fs.file_size) {
        (void)snprintf(msg, msglen, "libarchive read failed");
        return -1;
    }
    return 0;
}

/* Write the files into a fresh <base>-<i>. */
static int
files_write(void *arg, size_t i, char *msg, size_t msglen)
{
    files_io_t *io = arg;
    char        dir[PATH_MAX];

    if (files_dir(io, i, dir, sizeof(dir), msg, msglen) != 0)
        return -1;
    if (mkdir(dir, 0700) != 0 || bench_files_write(&io->set->fs, dir) != 0) {
        (void)snprintf(msg, msglen, "write %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Read the files of <base>-<i> back. */
static int
files_read(void *arg, size_t i, char *msg, size_t msglen)
{
    files_io_t *io = arg;
    char        dir[PATH_MAX];

    if (files_dir(io, i, dir, sizeof(dir), msg, msglen) != 0)
        return -1;
    if (bench_files_read(&io->set->fs, dir) != 0) {
        (void)snprintf(msg, msglen, "read %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Remove <base>-<i> and write back what the round wrote (a step whose
 * time is not reported): on ext4 the dirty data of earlier rounds would
 * otherwise throttle the writes of later ones, by 5x and more. */
static int
files_cleanup(void *arg, size_t i, char *msg, size_t msglen)
{
    files_io_t *io = arg;
    char        dir[PATH_MAX];

    if (files_dir(io, i, dir, sizeof(dir), msg, msglen) != 0)
        return -1;
    if (bench_rmtree(dir) != 0) {
        (void)snprintf(msg, msglen, "cannot remove %s", dir);
        return -1;
    }
    if (bench_syncfs(io->base_parent) != 0) {
        (void)snprintf(msg, msglen, "syncfs: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Upload into a fresh directory up-<i> of the sandbox: new files, as the
 * floor writes them. */
static int
files_upload(void *arg, size_t i, char *msg, size_t msglen)
{
    files_io_t        *io = arg;
    const files_set_t *set = io->set;
    uint64_t           written;
    char               dest[32];

    (void)snprintf(dest, sizeof(dest), "up-%zu", i); /* fits */
    if (nox_client_upload(io->c, io->sid, dest, set->tar[io->f].data,
                          set->tar[io->f].len, &written) != NOX_OK) {
        (void)snprintf(msg, msglen, "%s", nox_client_errmsg(io->c));
        return -1;
    }
    if (written != set->fs.n_files) {
        (void)snprintf(msg, msglen, "files_written %llu",
                       (unsigned long long)written);
        return -1;
    }
    return 0;
}

/* Download up-<i>; its contents are checked in the warm-up round only,
 * so the check is never timed. */
static int
files_download(void *arg, size_t i, char *msg, size_t msglen)
{
    files_io_t        *io = arg;
    const files_set_t *set = io->set;
    uint8_t           *got;
    size_t             len, nf, nb;
    char               src[32];
    int                rv = 0;

    (void)snprintf(src, sizeof(src), "up-%zu", i); /* fits */
    if (nox_client_download(io->c, io->sid, src, &got, &len) != NOX_OK) {
        (void)snprintf(msg, msglen, "%s", nox_client_errmsg(io->c));
        return -1;
    }
    if (i < FILES_WARM &&
        (bench_tar_read(got, len, &nf, &nb) != 0 || nf != set->fs.n_files ||
         nb != set->fs.n_files * set->fs.file_size)) {
        (void)snprintf(msg, msglen, "wrong contents");
        rv = -1;
    }
    free(got);
    return rv;
}

/* ---- floors and transfers ---- */

/* The sum of two floors, quantile by quantile (an upper bound of the
 * quantiles of the sum, which is what the service has to beat). */
static void
files_sum(const bench_stats_t *a, const bench_stats_t *c, bench_stats_t *out)
{
    *out = *a;
    out->n = a->n < c->n ? a->n : c->n;
    out->p50_us = a->p50_us + c->p50_us;
    out->p99_us = a->p99_us + c->p99_us;
}

/* Build the archives; measure libarchive in memory for every format and,
 * for the table, writing and reading the files on the base directory. */
static int
files_floors(bench_t *b, files_set_t *set)
{
    files_io_t    io[FILES_NFORMATS];
    bench_case_t  cases[2 * FILES_NFORMATS + 3];
    size_t        nc = 2 * FILES_NFORMATS;
    char          name[72];
    bench_stats_t st;

    memset(cases, 0, sizeof(cases));
    for (size_t f = 0; f < FILES_NFORMATS; f++) {
        if (bench_tar_write(&set->fs, files_formats[f].f, &set->tar[f]) != 0) {
            bench_fail(b, "files", "cannot build the %s archive",
                       files_formats[f].name);
            return -1;
        }
        io[f] = (files_io_t){set, f, "", b->work, NULL, NULL};
        cases[2 * f] = (bench_case_t){"pack", files_pack, &io[f], {0}, 0};
        cases[2 * f + 1] =
            (bench_case_t){"unpack", files_unpack, &io[f], {0}, 0};
    }
    (void)snprintf(name, sizeof(name), "floor-%s", set->tag); /* fits */
    if (bench_path(io[0].base, sizeof(io[0].base), b->work, name) != 0) {
        bench_fail(b, "files", "path too long under %s", b->work);
        return -1;
    }
    cases[nc] = (bench_case_t){"write files", files_write, &io[0], {0}, 0};
    cases[nc + 1] = (bench_case_t){"read files", files_read, &io[0], {0}, 0};
    cases[nc + 2] = (bench_case_t){"cleanup", files_cleanup, &io[0], {0}, 0};
    if (bench_cases_init(cases, nc + 3, b->n_file_reps) != 0) {
        bench_fail(b, "files", "out of memory");
        return -1;
    }
    bench_rounds("files", cases, nc + 3, 0, b->n_file_reps);
    for (size_t k = 0; k < nc + 2; k++) {
        bench_stats_t *dst = &st;

        if (k < nc) {
            dst = k % 2 ? &set->unpack[k / 2] : &set->pack[k / 2];
            (void)snprintf(name, sizeof(name), "floor %s %s %s", set->label,
                           files_formats[k / 2].name,
                           k % 2 ? "unpack in mem" : "pack in mem");
        } else {
            (void)snprintf(name, sizeof(name), "floor %s %s files", set->label,
                           k == nc ? "write" : "read");
        }
        bench_case_stats(&cases[k], dst);
        files_row(b, set, name, dst, cases[k].errors, NULL);
    }
    b->errors += cases[nc + 2].errors;
    bench_cases_free(cases, nc + 3);
    return 0;
}

/* Rounds of: write the files (floor), upload, read the files (floor),
 * download, clean up; rows for the upload and the download, each against
 * its in-memory floor plus the disk floor of the same rounds. */
static void
files_rounds(bench_t *b, files_io_t *io, const char *tname, bench_stats_t *up,
             bench_stats_t *down)
{
    files_set_t *set = io->set;
    bench_case_t cases[5] = {
        {"write files", files_write, io, {0}, 0},
        {"upload", files_upload, io, {0}, 0},
        {"read files", files_read, io, {0}, 0},
        {"download", files_download, io, {0}, 0},
        {"cleanup", files_cleanup, io, {0}, 0},
    };
    bench_stats_t w, r, floor;
    char          name[72];

    if (bench_cases_init(cases, 5, b->n_file_reps) != 0) {
        bench_fail(b, "files", "out of memory");
        return;
    }
    bench_rounds("files", cases, 5, FILES_WARM, b->n_file_reps);
    bench_case_stats(&cases[0], &w);
    bench_case_stats(&cases[1], up);
    bench_case_stats(&cases[2], &r);
    bench_case_stats(&cases[3], down);
    (void)snprintf(name, sizeof(name), "%s up %s %s", tname, set->label,
                   files_formats[io->f].name);
    files_sum(&set->unpack[io->f], &w, &floor);
    files_row(b, set, name, up, cases[1].errors + cases[0].errors, &floor);
    (void)snprintf(name, sizeof(name), "%s down %s %s", tname, set->label,
                   files_formats[io->f].name);
    files_sum(&set->pack[io->f], &r, &floor);
    files_row(b, set, name, down, cases[3].errors + cases[2].errors, &floor);
    b->errors += cases[4].errors;
    bench_cases_free(cases, 5);
}

/* The first nf formats of set through one transport (url NULL:
 * in-process). up[f]/down[f] get the figures. */
static void
files_transport(bench_t *b, files_set_t *set, const char *tname,
                const char *url, size_t nf, bench_stats_t *up,
                bench_stats_t *down)
{
    files_io_t io;
    char       sid[64], name[72];

    for (size_t f = 0; f < nf; f++) {
        up[f].n = down[f].n = 0;
        (void)snprintf(sid, sizeof(sid), "files-%s-%s-%zu", tname, set->tag, f);
        io = (files_io_t){set, f, "", b->work, NULL, sid};
        (void)snprintf(name, sizeof(name), "fl-%s", sid); /* fits */
        if (bench_path(io.base, sizeof(io.base), b->work, name) != 0) {
            bench_fail(b, "files", "path too long under %s", b->work);
            return;
        }
        if ((io.c = bench_client(b, "files", url, files_formats[f].f)) == NULL)
            continue;
        if (bench_create(b, "files", io.c, sid) == 0) {
            files_rounds(b, &io, tname, &up[f], &down[f]);
            bench_delete(b, "files", io.c, sid);
        }
        nox_client_close(io.c);
    }
}

/* ---- targets and the group ---- */

/* The row recorded last with this name, or NULL. */
static const bench_row_t *
files_find(const bench_t *b, const char *name)
{
    for (size_t i = b->n_rows; i-- > 0;)
        if (strcmp(b->rows[i].name, name) == 0)
            return &b->rows[i];
    return NULL;
}

/* Target: the ratio (to its floor) of the row named
 * "ipc <up|down> <label> tar.gz". */
static void
files_target_ratio(bench_t *b, const files_set_t *set, bool up, double limit)
{
    const bench_row_t *row;
    char               rname[72], name[96];

    (void)snprintf(rname, sizeof(rname), "ipc %s %s tar.gz", up ? "up" : "down",
                   set->label);
    (void)snprintf(name, sizeof(name), "files: %s tar.gz ipc %s / floor",
                   set->tag, up ? "upload" : "download");
    row = files_find(b, rname);
    bench_target(b, name, row != NULL ? row->ratio50 : NAN, limit, "x", false,
                 NULL);
}

static void
files_targets(bench_t *b, const files_set_t *sets,
              bench_stats_t (*ipc)[2][FILES_NFORMATS])
{
    double mb = (double)sets[0].fs.file_size / 1e6;

    files_target_ratio(b, &sets[0], true, 1.2);
    files_target_ratio(b, &sets[0], false, 1.2);
    bench_target(b, "files: big plain tar ipc upload",
                 ipc[0][0][1].n ? mb / (ipc[0][0][1].p50_us / 1e6) : NAN, 500,
                 "MB/s", true, NULL);
    bench_target(b, "files: big plain tar ipc download",
                 ipc[0][1][1].n ? mb / (ipc[0][1][1].p50_us / 1e6) : NAN, 500,
                 "MB/s", true, NULL);
    files_target_ratio(b, &sets[1], true, 1.3);
    files_target_ratio(b, &sets[1], false, 1.3);
}

static void
files_set_free(files_set_t *set)
{
    free((void *)set->fs.data);
    for (size_t f = 0; f < FILES_NFORMATS; f++)
        nox__buf_free(&set->tar[f]);
}

/* Make a payload of n files of size bytes each. 0 or -1. */
static int
files_set_init(files_set_t *set, const char *label, size_t n, size_t size)
{
    uint8_t *data;

    memset(set, 0, sizeof(*set));
    if ((data = calloc(n, size)) == NULL)
        return -1;
    files_fill(data, n * size, 0x9e3779b97f4a7c15u + n);
    set->label = label;
    set->tag = n > 1 ? "many" : "big";
    set->many = n > 1;
    set->fs.n_files = n;
    set->fs.file_size = size;
    set->fs.data = data;
    set->fs.prefix = n > 1 ? "f" : "big";
    return 0;
}

/* The transport floor of a large ipc upload: the 10 MiB tar.gz sent one
 * way as a bare NNG message to an echo process. */
typedef struct {
    bench_echo_t    *echo;
    const nox_buf_t *tar;
} files_nng_t;

static int
files_nng_case(void *arg, size_t i, char *msg, size_t msglen)
{
    files_nng_t *x = arg;

    (void)i; /* every round sends the same archive */
    return bench_echo_send(x->echo, x->tar->data, x->tar->len, msg, msglen);
}

static void
files_nng_floor(bench_t *b, const files_set_t *big)
{
    bench_echo_t  echo;
    files_nng_t   x = {&echo, &big->tar[0]};
    bench_case_t  c = {"NNG transfer", files_nng_case, &x, {0}, 0};
    bench_stats_t st;
    char          url[FILES_URL_MAX], msg[160], name[72];

    if (bench_ipc_url(b, "files", "echo.sock", url, sizeof(url)) != 0)
        return;
    if (bench_echo_start(b, &echo, url, msg, sizeof(msg)) != 0) {
        bench_fail(b, "files", "NNG echo: %s", msg);
        return;
    }
    if (bench_cases_init(&c, 1, b->n_file_reps) == 0) {
        bench_rounds("files", &c, 1, 1, b->n_file_reps);
        bench_case_stats(&c, &st);
        (void)snprintf(name, sizeof(name), "floor NNG ipc send %s %s",
                       big->label, files_formats[0].name);
        files_row(b, big, name, &st, c.errors, NULL);
        bench_cases_free(&c, 1);
    } else {
        bench_fail(b, "files", "out of memory");
    }
    bench_echo_stop(&echo);
}

int
bench_group_files(bench_t *b)
{
    files_set_t    sets[2];
    bench_stats_t  ipc[2][2][FILES_NFORMATS], local[2][FILES_NFORMATS];
    bench_stats_t  http[2][1];
    char           big_label[32], many_label[32], url[FILES_URL_MAX];
    const char    *urls[2] = {url, "http://127.0.0.1:0"};
    bench_daemon_t daemon;
    int            rv = -1;

    (void)snprintf(big_label, sizeof(big_label), "%zu MiB", b->big_bytes >> 20);
    (void)snprintf(many_label, sizeof(many_label), "%zux1KiB", b->n_small);
    memset(&sets[1], 0, sizeof(sets[1]));
    if (files_set_init(&sets[0], big_label, 1, b->big_bytes) != 0 ||
        files_set_init(&sets[1], many_label, b->n_small, FILES_SMALL_BYTES)) {
        bench_fail(b, "files", "out of memory");
        goto out_free;
    }
    if (files_floors(b, &sets[0]) != 0 || files_floors(b, &sets[1]) != 0)
        goto out_free;
    if (bench_ipc_url(b, "files", "files.sock", url, sizeof(url)) != 0 ||
        bench_daemon_start(b, "files", urls, 2, &daemon) != 0)
        goto out_free;
    for (int k = 0; k < 2; k++) {
        files_transport(b, &sets[k], "in-proc", NULL, FILES_NFORMATS, local[0],
                        local[1]);
        files_transport(b, &sets[k], "ipc", url, FILES_NFORMATS, ipc[k][0],
                        ipc[k][1]);
    }
    /* NoxRunner's REST API: the specification's gzip tar. */
    files_transport(b, &sets[0], "http", daemon.urls[1], 1, http[0], http[1]);
    bench_daemon_stop(b, "files", &daemon);
    files_nng_floor(b, &sets[0]);
    files_targets(b, sets, ipc);
    rv = 0;
out_free:
    files_set_free(&sets[0]);
    files_set_free(&sets[1]);
    return rv;
}
