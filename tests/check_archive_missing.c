/* check_archive_missing.c - an engine whose libarchive cannot be loaded
 * (this test links a loader built for a soname that does not exist):
 * archive calls fail with a clear error, nothing crashes, and everything
 * else still works. */
#include "nox/engine.h"
#include "testutil.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define MISSING "libnoxrunner-test-missing.so.0" /* tests/CMakeLists.txt */

static char         *base;
static nox_engine_t *eng;

static void
setup(void)
{
    nox_engine_opts_t  eo = {.quiet = 1, .isolation = NOX_ISOLATION_NONE};
    nox_create_req_t   r = {.session_id = "s"};
    nox_sandbox_info_t info;
    nox_status_t       st;
    bool               created;

    base = tu_mkdtemp();
    eo.base_dir = base;
    ck_assert_int_eq(nox_engine_open(&eng, &eo, &st), NOX_OK);
    ck_assert_int_eq(nox_engine_create(eng, &r, &info, &created, NULL, &st),
                     NOX_OK);
}

static void
teardown(void)
{
    nox_engine_close(eng);
    tu_rmtree_free(base);
}

START_TEST(download_without_libarchive_is_a_clear_error)
{
    nox_buf_t    tar = NOX_BUF_INIT;
    nox_status_t st;

    for (int i = 0; i < 2; i++) { /* the second call must not differ */
        ck_assert_int_eq(
            nox_engine_download(eng, "s", NULL, NOX_TAR_GZ, 0, &tar, &st),
            NOX_EINTERNAL);
        ck_assert_msg(strstr(st.msg, "cannot load " MISSING) != NULL,
                      "message: %s", st.msg);
        ck_assert_uint_eq(tar.len, 0);
    }
}
END_TEST

START_TEST(upload_without_libarchive_is_a_clear_error)
{
    static const char junk[] = "not even an archive";
    nox_status_t      st;
    uint64_t          files = 7;

    ck_assert_int_eq(nox_engine_upload(eng, "s", NULL, NOX_TAR_PLAIN, junk,
                                       sizeof(junk), &files, &st),
                     NOX_EINTERNAL);
    ck_assert_msg(strstr(st.msg, "cannot load " MISSING) != NULL, "message: %s",
                  st.msg);
    ck_assert_uint_eq(files, 7);
}
END_TEST

START_TEST(exec_works_without_libarchive)
{
    const char       *argv[] = {"echo", "fine"};
    nox_exec_req_t    r = {.session_id = "s", .argv = argv, .argc = 2};
    nox_exec_result_t res = NOX_EXEC_RESULT_INIT;
    nox_status_t      st;

    ck_assert_int_eq(nox_engine_exec(eng, &r, &res, &st), NOX_OK);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_uint_eq(res.out.len, 5);
    ck_assert_int_eq(memcmp(res.out.data, "fine\n", 5), 0);
    nox_exec_result_free(&res);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("archive_missing");
    TCase *tc = tcase_create("missing");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, download_without_libarchive_is_a_clear_error);
    tcase_add_test(tc, upload_without_libarchive_is_a_clear_error);
    tcase_add_test(tc, exec_works_without_libarchive);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
