/*
 * main.c - nox-bench: options, the machine and the base directory, the
 * groups in order, the report, and cleaning up everything we created.
 *
 * Exit status: 0 when every group ran without a failed call, 1 when some
 * call or setup failed (the figures are still printed), 2 for bad usage.
 * Missed performance targets never change the exit status.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#define MAIN_USAGE_EXIT 2
#define MAIN_NGROUPS 8

static const struct {
    const char *name;
    int (*run)(bench_t *b);
} main_groups[MAIN_NGROUPS] = {
    {"floor", bench_group_floor},
    {"exec", bench_group_exec},
    {"concurrency", bench_group_concurrency},
    {"busy", bench_group_busy},
    {"lifecycle", bench_group_lifecycle},
    {"files", bench_group_files},
    {"scale", bench_group_scale},
    {"cli", bench_group_cli},
};

static void
main_usage(FILE *f)
{
    (void)fprintf(
        f,
        "usage: nox-bench [--quick] [--only GROUP] [--base-dir DIR] [--json]\n"
        "Measure NoxRunner against the floor of the same work done directly.\n"
        "\n"
        "  --base-dir DIR  file system to measure on; a fresh directory is\n"
        "                  made in it and removed at the end (default /tmp)\n"
        "  --quick         tiny sample sizes: checks that everything runs\n"
        "  --only GROUP    floor, exec, concurrency, busy, lifecycle, files,\n"
        "                  scale or cli\n"
        "  --json          one JSON object on stdout instead of the table\n"
        "  --help\n");
}

/* The sizes of a full run, or of a quick one. */
static void
main_sizes(bench_t *b)
{
    bool q = b->quick;

    b->n_lat = q ? 10 : 300;
    b->n_warm = q ? 2 : 10;
    b->n_conc = q ? 10 : 300;
    b->n_scale = q ? 50 : 10000;
    b->n_scale_lat = q ? 10 : 300;
    b->big_bytes = (q ? 1 : 10) * (size_t)1024 * 1024;
    b->n_small = q ? 20 : 1000;
    b->n_file_reps = q ? 2 : 10;
    b->n_cli = q ? 10 : 300;
}

static bool
main_group_known(const char *name)
{
    for (size_t i = 0; i < MAIN_NGROUPS; i++)
        if (strcmp(name, main_groups[i].name) == 0)
            return true;
    return false;
}

/* Parse argv into b. Returns -1 to go on, else the exit status. */
static int
main_args(int argc, char **argv, bench_t *b)
{
    static const struct option longopts[] = {
        {"base-dir", required_argument, NULL, 'd'},
        {"quick", no_argument, NULL, 'q'},
        {"only", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, n;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            n = snprintf(b->base_dir, sizeof(b->base_dir), "%s", optarg);
            if (n < 0 || (size_t)n >= sizeof(b->base_dir) - 32) {
                (void)fprintf(stderr, "nox-bench: --base-dir too long\n");
                return MAIN_USAGE_EXIT;
            }
            b->base_given = true;
            break;
        case 'q':
            b->quick = true;
            break;
        case 'o':
            if (!main_group_known(optarg)) {
                (void)fprintf(stderr, "nox-bench: unknown group '%s'\n",
                              optarg);
                return MAIN_USAGE_EXIT;
            }
            b->only = optarg;
            break;
        case 'j':
            b->json = true;
            break;
        case 'h':
            main_usage(stdout);
            return 0;
        default:
            main_usage(stderr);
            return MAIN_USAGE_EXIT;
        }
    }
    if (optind < argc) {
        (void)fprintf(stderr, "nox-bench: unexpected argument '%s'\n",
                      argv[optind]);
        return MAIN_USAGE_EXIT;
    }
    return -1;
}

/* The name of a file system type from statfs(2). */
static const char *
main_fs_name(long type)
{
    switch (type) {
    case EXT4_SUPER_MAGIC:
        return "ext2/3/4";
    case TMPFS_MAGIC:
        return "tmpfs";
    case XFS_SUPER_MAGIC:
        return "xfs";
    case BTRFS_SUPER_MAGIC:
        return "btrfs";
    case OVERLAYFS_SUPER_MAGIC:
        return "overlayfs";
    case NFS_SUPER_MAGIC:
        return "nfs";
    case F2FS_SUPER_MAGIC:
        return "f2fs";
    case V9FS_MAGIC:
        return "9p";
    case FUSE_SUPER_MAGIC:
        return "fuse";
    }
    return NULL;
}

/* The file system type of path as the mount table names it ("ext4"):
 * the entry of /proc/self/mountinfo with path's device. false when not
 * found (statfs's magic number is the fallback). */
static bool
main_mount_type(const char *path, char *out, size_t len)
{
    struct stat sb;
    char        line[4096], type[32], *sep;
    unsigned    maj, min;
    bool        found = false;
    FILE       *f;

    if (stat(path, &sb) != 0 ||
        (f = fopen("/proc/self/mountinfo", "re")) == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        /* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 ..." */
        if (sscanf(line, "%*s %*s %u:%u", &maj, &min) != 2 ||
            makedev(maj, min) != sb.st_dev ||
            (sep = strstr(line, " - ")) == NULL ||
            sscanf(sep + 3, "%31s", type) != 1)
            continue;
        found = snprintf(out, len, "%s", type) < (int)len;
    }
    (void)fclose(f); /* read-only: nothing to lose */
    return found;
}

/* Where our binaries are, what the base directory is on, and our own
 * directory in it. 0 or -1 (said on stderr). */
static int
main_setup(bench_t *b)
{
    struct statfs sfs;
    char          exe[PATH_MAX], *slash;
    ssize_t       n;
    const char   *fs;

    if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0) {
        (void)fprintf(stderr, "nox-bench: /proc/self/exe: %s\n",
                      strerror(errno));
        return -1;
    }
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')) != NULL)
        *slash = '\0';
    (void)snprintf(b->bin_dir, sizeof(b->bin_dir), "%s", exe); /* fits */
    if (statfs(b->base_dir, &sfs) != 0) {
        (void)fprintf(stderr, "nox-bench: %s: %s\n", b->base_dir,
                      strerror(errno));
        return -1;
    }
    /* The mount table tells ext4 from ext2; statfs's magic does not. */
    if (main_mount_type(b->base_dir, b->fs_type, sizeof(b->fs_type))) {
    } else if ((fs = main_fs_name((long)sfs.f_type)) != NULL) {
        (void)snprintf(b->fs_type, sizeof(b->fs_type), "%s", fs);
    } else {
        (void)snprintf(b->fs_type, sizeof(b->fs_type), "magic 0x%lx",
                       (unsigned long)sfs.f_type);
    }
    if (bench_path(b->work, sizeof(b->work), b->base_dir, "nox-bench-XXXXXX") !=
        0) {
        (void)fprintf(stderr, "nox-bench: base directory name too long\n");
        return -1;
    }
    if (mkdtemp(b->work) == NULL) {
        (void)fprintf(stderr,
                      "nox-bench: cannot create a directory in %s: "
                      "%s\n",
                      b->base_dir, strerror(errno));
        return -1;
    }
    return 0;
}

void
bench_machine(char *kernel, size_t klen, char *cpu, size_t clen, long *ncpu)
{
    struct utsname u;
    char           line[512], *p;
    FILE          *f;

    *ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (uname(&u) == 0)
        (void)snprintf(kernel, klen, "%s %s %s", u.sysname, u.release,
                       u.machine);
    else
        (void)snprintf(kernel, klen, "unknown kernel");
    (void)snprintf(cpu, clen, "unknown CPU");
    if ((f = fopen("/proc/cpuinfo", "re")) == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "model name", 10) != 0 ||
            (p = strchr(line, ':')) == NULL)
            continue;
        p += strspn(p + 1, " \t") + 1;
        p[strcspn(p, "\n")] = '\0';
        (void)snprintf(cpu, clen, "%s", p);
        break;
    }
    (void)fclose(f); /* read-only: nothing to lose */
}

static void
main_run_groups(bench_t *b)
{
    for (size_t i = 0; i < MAIN_NGROUPS; i++) {
        int64_t t0 = bench_now_ns();

        if (b->only != NULL && strcmp(b->only, main_groups[i].name) != 0)
            continue;
        (void)fprintf(stderr, "nox-bench: %s ...\n", main_groups[i].name);
        /* Each group starts without the writeback of the one before. */
        if (bench_syncfs(b->work) != 0)
            bench_fail(b, main_groups[i].name, "syncfs: %s", strerror(errno));
        if (main_groups[i].run(b) != 0)
            (void)fprintf(stderr, "nox-bench: %s: group incomplete\n",
                          main_groups[i].name);
        (void)fprintf(stderr, "nox-bench: %s done in %.1f s\n",
                      main_groups[i].name, (double)(bench_now_ns() - t0) / 1e9);
    }
}

int
main(int argc, char **argv)
{
    bench_t b;
    int     rv;

    /* Not an option for people: the exec group runs nox-bench again as
     * the far end of its NNG round-trip floor (nng_echo.c). */
    if (argc == 3 && strcmp(argv[1], "--nng-echo") == 0)
        return bench_echo_serve(argv[2]);
    memset(&b, 0, sizeof(b));
    (void)snprintf(b.base_dir, sizeof(b.base_dir), "/tmp");
    if ((rv = main_args(argc, argv, &b)) >= 0)
        return rv;
    main_sizes(&b);
    /* Before any engine or thread starts: no local-mode warnings. */
    if (setenv("NOXRUNNER_QUIET", "1", 1) != 0 || main_setup(&b) != 0)
        return EXIT_FAILURE;
    main_run_groups(&b);
    rv = b.json ? bench_print_json(&b) : bench_print_table(&b);
    if (rv != 0)
        (void)fprintf(stderr, "nox-bench: cannot write the report\n");
    if (bench_rmtree(b.work) != 0) /* says why */
        rv = -1;
    rv = rv == 0 && b.errors == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    bench_results_free(&b);
    return rv;
}
