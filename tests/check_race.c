/* check_race.c - many processes cycling create, exec, upload, touch,
 * download, delete, list and reap on one session id: every call must end in one
 * of the outcomes engine.h documents for a race, never in an internal error,
 * and no tombstone may outlive the next reap. */
#include "nox/engine.h"
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* Processes and cycles: enough to hit each race many times on 2 busy
 * cores in a few seconds per level. */
#define RACE_PROCS 16
#define RACE_CYCLES 80
#define RACE_SID "same"

/* How often each documented outcome came up, summed over the children
 * (shared memory): printed, so a run shows the races were hit. */
enum {
    RACE_CREATED,
    RACE_EXISTED,
    RACE_EXEC_RAN,
    RACE_EXEC_NOT_FOUND,
    RACE_DELETED,
    RACE_NOTHING_DELETED,
    RACE_COUNTERS
};
static unsigned long *counts;

static char *base; /* the engines' base directory */
static char *logs; /* where the children write what went wrong */

static void
setup(void)
{
    base = tu_mkdtemp();
    logs = tu_mkdtemp();
    counts = mmap(NULL, RACE_COUNTERS * sizeof(*counts), PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(counts, MAP_FAILED);
}

static void
teardown(void)
{
    (void)munmap(counts, RACE_COUNTERS * sizeof(*counts));
    tu_rmtree_free(base);
    tu_rmtree_free(logs);
}

/* Append one line about an undocumented outcome to the child's log. */
static void
race_report(int log_fd, const char *op, nox_err_t rv, const nox_status_t *st)
{
    char line[512];
    int  n = snprintf(line, sizeof(line), "%s: %s: %s\n", op, nox_err_name(rv),
                      st->msg);

    if (n > 0)
        (void)!write(log_fd, line,
                     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* One cycle of calls; returns how many ended undocumented. ok_enoent:
 * whether NOT_FOUND is a documented outcome of that call in a race. */
static int
race_check(int log_fd, const char *op, nox_err_t rv, bool ok_enoent,
           const nox_status_t *st)
{
    if (rv == NOX_OK || (ok_enoent && rv == NOX_ENOENT))
        return 0;
    race_report(log_fd, op, rv, st);
    return 1;
}

static void
race_count(int which)
{
    (void)__atomic_fetch_add(&counts[which], 1, __ATOMIC_RELAXED);
}

/* A plain tar of a directory with a few files, in buf (malloc'd); what
 * each upload writes, so a delete meets files appearing under it. NULL
 * on failure (the child reports it). */
#define RACE_TAR_MAX (64 * 1024)
static void *
race_tar(size_t *len)
{
    struct archive *a = archive_write_new();
    void           *buf = malloc(RACE_TAR_MAX);
    bool            ok =
        a != NULL && buf != NULL &&
        archive_write_set_format_pax_restricted(a) == ARCHIVE_OK &&
        archive_write_open_memory(a, buf, RACE_TAR_MAX, len) == ARCHIVE_OK;

    for (int i = 0; ok && i < 6; i++) {
        struct archive_entry *ent = archive_entry_new();
        char                  name[16];
        (void)snprintf(name, sizeof(name), i == 0 ? "d" : "d/f%d", i);
        ok = ent != NULL;
        if (ok) {
            archive_entry_set_pathname(ent, name);
            archive_entry_set_filetype(ent, i == 0 ? AE_IFDIR : AE_IFREG);
            archive_entry_set_perm(ent, i == 0 ? 0755 : 0644);
            archive_entry_set_size(ent, i == 0 ? 0 : 3);
            ok = archive_write_header(a, ent) == ARCHIVE_OK &&
                 (i == 0 || archive_write_data(a, "abc", 3) == 3);
        }
        archive_entry_free(ent);
    }
    ok = ok && archive_write_close(a) == ARCHIVE_OK;
    if (a != NULL)
        (void)archive_write_free(a);
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int
race_cycle(nox_engine_t *e, int log_fd, const void *tar_in, size_t tar_len)
{
    nox_create_req_t   cr = {.session_id = RACE_SID, .ttl_seconds = 60};
    const char        *argv[] = {"true"};
    nox_exec_req_t     xr = {.session_id = RACE_SID, .argv = argv, .argc = 1};
    nox_exec_result_t  res = NOX_EXEC_RESULT_INIT;
    nox_sandbox_info_t info, *list = NULL;
    nox_buf_t          tar = NOX_BUF_INIT;
    nox_status_t       st;
    int64_t            exp;
    size_t             n;
    bool               flag;
    int                bad = 0;

    nox_err_t rv;

    rv = nox_engine_create(e, &cr, &info, &flag, NULL, &st);
    if (rv == NOX_OK)
        race_count(flag ? RACE_CREATED : RACE_EXISTED);
    bad += race_check(log_fd, "create", rv, false, &st);
    rv = nox_engine_exec(e, &xr, &res, &st);
    if (rv == NOX_OK || rv == NOX_ENOENT)
        race_count(rv == NOX_OK ? RACE_EXEC_RAN : RACE_EXEC_NOT_FOUND);
    bad += race_check(log_fd, "exec", rv, true, &st);
    nox_exec_result_free(&res);
    bad += race_check(log_fd, "upload",
                      nox_engine_upload(e, RACE_SID, NULL, NOX_TAR_PLAIN,
                                        tar_in, tar_len, NULL, &st),
                      true, &st);
    bad += race_check(log_fd, "touch", nox_engine_touch(e, RACE_SID, &exp, &st),
                      true, &st);
    bad += race_check(
        log_fd, "download",
        nox_engine_download(e, RACE_SID, NULL, NOX_TAR_PLAIN, 0, &tar, &st),
        true, &st);
    nox__buf_free(&tar);
    bad += race_check(log_fd, "list", nox_engine_list(e, &list, &n, &st), false,
                      &st);
    free(list);
    rv = nox_engine_delete(e, RACE_SID, &flag, &st);
    if (rv == NOX_OK)
        race_count(flag ? RACE_DELETED : RACE_NOTHING_DELETED);
    bad += race_check(log_fd, "delete", rv, false, &st);
    bad +=
        race_check(log_fd, "reap", nox_engine_reap(e, NULL, &st), false, &st);
    return bad;
}

/* A child: its own engine, like one noxrc-rpc --local-test run after
 * another; exits 0 when every outcome was documented. */
static void
race_child(nox_isolation_t level, int idx)
{
    nox_engine_opts_t o = {.base_dir = base, .quiet = 1, .isolation = level};
    nox_engine_t     *e = NULL;
    nox_status_t      st;
    char              name[32];
    int               bad = 0, log_fd, dir_fd = open(logs, O_PATH | O_CLOEXEC);

    (void)snprintf(name, sizeof(name), "child%d", idx);
    log_fd =
        openat(dir_fd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    size_t tar_len = 0;
    void  *tar_in = race_tar(&tar_len);

    if (dir_fd < 0 || log_fd < 0 || tar_in == NULL)
        _exit(2);
    for (int i = 0; i < RACE_CYCLES; i++) {
        /* Reopen now and then: engines start and stop mid-race too. */
        if (e == NULL && nox_engine_open(&e, &o, &st) != NOX_OK) {
            race_report(log_fd, "open", NOX_EINTERNAL, &st);
            _exit(1);
        }
        bad += race_cycle(e, log_fd, tar_in, tar_len);
        if (i % 8 == 7) {
            nox_engine_close(e);
            e = NULL;
        }
    }
    nox_engine_close(e);
    _exit(bad == 0 ? 0 : 1);
}

/* Every child's log, concatenated (malloc'd; "" when all were empty). */
static char *
race_logs(void)
{
    size_t cap = 1, len = 0;
    char  *all = calloc(1, cap);

    ck_assert_ptr_nonnull(all);
    for (int i = 0; i < RACE_PROCS; i++) {
        char name[32], *s;
        (void)snprintf(name, sizeof(name), "child%d", i);
        s = tu_read_file(logs, name, NULL);
        if (s == NULL)
            continue;
        size_t n = strlen(s);
        char  *p = realloc(all, cap + n);
        ck_assert_ptr_nonnull(p);
        all = p;
        memcpy(all + len, s, n + 1);
        len += n;
        cap += n;
        free(s);
    }
    return all;
}

/* Names under base that only an unfinished create or delete leaves. */
static int
race_leftovers(void)
{
    DIR           *d = opendir(base);
    struct dirent *de;
    int            n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ".noxrunner_deleting_", 20) == 0 ||
            strncmp(de->d_name, ".noxrunner_creating_", 20) == 0) {
            fprintf(stderr, "check_race: leftover %s\n", de->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

static void
race_run(nox_isolation_t level)
{
    pid_t             pids[RACE_PROCS];
    int               failed = 0;
    nox_engine_t     *e = NULL;
    nox_engine_opts_t o = {.base_dir = base, .quiet = 1, .isolation = level};
    nox_status_t      st;
    struct timespec   t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < RACE_PROCS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0)
            race_child(level, i);
    }
    for (int i = 0; i < RACE_PROCS; i++) {
        int status;
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("check_race: %s: %d processes x %d cycles in %.1f s\n",
           nox_isolation_name(level), RACE_PROCS, RACE_CYCLES,
           (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    printf("check_race: %s: create %lu created, %lu existed; exec %lu ran, "
           "%lu not found; delete %lu deleted, %lu nothing deleted\n",
           nox_isolation_name(level), counts[RACE_CREATED],
           counts[RACE_EXISTED], counts[RACE_EXEC_RAN],
           counts[RACE_EXEC_NOT_FOUND], counts[RACE_DELETED],
           counts[RACE_NOTHING_DELETED]);
    char *all = race_logs();
    ck_assert_msg(failed == 0 && all[0] == '\0',
                  "%d processes saw undocumented outcomes:\n%.3000s", failed,
                  all);
    free(all);
    /* The next reap clears what the race left; then nothing remains. */
    ck_assert_int_eq(nox_engine_open(&e, &o, &st), NOX_OK);
    ck_assert_int_eq(nox_engine_reap(e, NULL, &st), NOX_OK);
    ck_assert_int_eq(race_leftovers(), 0);
    bool deleted;
    ck_assert_int_eq(nox_engine_delete(e, RACE_SID, &deleted, &st), NOX_OK);
    nox_engine_close(e);
}

START_TEST(race_same_id_cycles_end_documented_at_level_none)
{
    race_run(NOX_ISOLATION_NONE);
}
END_TEST

START_TEST(race_same_id_cycles_end_documented_at_level_namespaces)
{
    race_run(NOX_ISOLATION_NAMESPACES);
}
END_TEST

static Suite *
race_suite(void)
{
    Suite *s = suite_create("race");
    TCase *same = tcase_create("same id");

    tcase_add_checked_fixture(same, setup, teardown);
    tcase_set_timeout(same, 140);
    tcase_add_test(same, race_same_id_cycles_end_documented_at_level_none);
    tcase_add_test(same,
                   race_same_id_cycles_end_documented_at_level_namespaces);
    suite_add_tcase(s, same);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(race_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
