/* check_sandbox_scan.c - the test helper that finds links leading out of
 * a sandbox's workspace, on a base directory laid out by hand: links
 * between sandboxes, or from a workspace to its own metadata file or
 * tmp/, stay under base_dir but still escape the workspace. */
#include "sandbox_scan.h"
#include "testutil.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *base;

static void
setup(void)
{
    base = tu_mkdtemp();
}

static void
teardown(void)
{
    tu_rmtree_free(base);
}

/* base/rel, which must fit. */
static void
join(char *out, size_t len, const char *rel)
{
    ck_assert_int_lt(snprintf(out, len, "%s/%s", base, rel), (int)len);
}

static void
make_dir(const char *rel)
{
    char path[PATH_MAX];

    join(path, sizeof(path), rel);
    ck_assert_int_eq(mkdir(path, 0700), 0);
}

static void
make_link(const char *target, const char *rel)
{
    char path[PATH_MAX];

    join(path, sizeof(path), rel);
    ck_assert_int_eq(symlink(target, path), 0);
}

/* A sandbox directory as the engine lays it out. */
static void
make_sandbox(const char *name)
{
    char rel[256], dir[PATH_MAX];

    make_dir(name);
    (void)snprintf(rel, sizeof(rel), "%s/workspace", name);
    make_dir(rel);
    (void)snprintf(rel, sizeof(rel), "%s/workspace/sub", name);
    make_dir(rel);
    (void)snprintf(rel, sizeof(rel), "%s/tmp", name);
    make_dir(rel);
    join(dir, sizeof(dir), name);
    tu_write_file(dir, ".noxrunner.meta", "version=1\n", 10);
}

START_TEST(scan_counts_links_out_of_each_workspace_that_stay_under_base)
{
    char first[2 * PATH_MAX];

    make_sandbox("noxrunner_sandbox_a");
    make_sandbox("noxrunner_sandbox_b");
    make_link("../../noxrunner_sandbox_b/workspace",
              "noxrunner_sandbox_a/workspace/other");
    make_link("../.noxrunner.meta", "noxrunner_sandbox_a/workspace/meta");
    make_link("../../tmp", "noxrunner_sandbox_b/workspace/sub/tmp");
    make_link("sub", "noxrunner_sandbox_b/workspace/inside");
    make_link("../sub/../sub", "noxrunner_sandbox_b/workspace/sub/self");
    /* Every one of these resolves under base: a scan of all of base
     * sees no escape. */
    ck_assert_uint_eq(nox_test_escaping_links(base, NULL, 0), 0);
    ck_assert_uint_eq(
        nox_test_escaping_links_in_each_sandbox(base, first, sizeof(first)), 3);
    ck_assert_msg(strncmp(first, "noxrunner_sandbox_", 18) == 0 &&
                      strstr(first, "/workspace/") != NULL &&
                      strstr(first, " -> ") != NULL,
                  "first: %s", first);
}
END_TEST

START_TEST(scan_reads_only_sandbox_workspaces_never_through_a_link)
{
    char first[2 * PATH_MAX] = "stale";

    make_sandbox("noxrunner_sandbox_ok");
    make_link("sub", "noxrunner_sandbox_ok/workspace/in");
    /* Not sandboxes: a tombstone, another name, a link to a sandbox and a
     * sandbox whose workspace is a link; none is walked. */
    make_sandbox(".noxrunner_deleting_x.1");
    make_link("/etc", ".noxrunner_deleting_x.1/workspace/etc");
    make_dir("elsewhere");
    make_link("/etc", "elsewhere/etc");
    make_link("noxrunner_sandbox_ok", "noxrunner_sandbox_alias");
    make_dir("noxrunner_sandbox_wl");
    make_link("/etc", "noxrunner_sandbox_wl/workspace");
    ck_assert_uint_eq(
        nox_test_escaping_links_in_each_sandbox(base, first, sizeof(first)), 0);
    ck_assert_str_eq(first, "");
}
END_TEST

START_TEST(scan_of_a_missing_base_says_so)
{
    char missing[PATH_MAX];

    join(missing, sizeof(missing), "nope");
    ck_assert_uint_eq(nox_test_escaping_links_in_each_sandbox(missing, NULL, 0),
                      (size_t)-1);
}
END_TEST

static Suite *
scan_suite(void)
{
    Suite *s = suite_create("sandbox_scan");
    TCase *tc = tcase_create("each sandbox");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(
        tc, scan_counts_links_out_of_each_workspace_that_stay_under_base);
    tcase_add_test(tc, scan_reads_only_sandbox_workspaces_never_through_a_link);
    tcase_add_test(tc, scan_of_a_missing_base_says_so);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(scan_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
