/* check_error.c - nox_err_t names, texts and the wire round trip; the
 * codes errno values become. */
#include "nox/error.h"
#include "nox_common.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

START_TEST(error_codes_equal_grpc_status_codes)
{
    ck_assert_int_eq(NOX_OK, 0);
    ck_assert_int_eq(NOX_EINVAL, 3);
    ck_assert_int_eq(NOX_ETIMEDOUT, 4);
    ck_assert_int_eq(NOX_ENOENT, 5);
    ck_assert_int_eq(NOX_EDENIED, 7);
    ck_assert_int_eq(NOX_ERESOURCE, 8);
    ck_assert_int_eq(NOX_ENOTSUP, 12);
    ck_assert_int_eq(NOX_EINTERNAL, 13);
    ck_assert_int_eq(NOX_EUNAVAIL, 14);
}
END_TEST

START_TEST(error_round_trips_every_code_through_the_wire)
{
    for (int32_t c = 0; c <= 16; c++) {
        nox_err_t e = nox_err_from_wire(c);
        ck_assert_int_eq(nox_err_to_wire(e), c);
    }
}
END_TEST

START_TEST(error_maps_out_of_range_wire_codes_to_unknown)
{
    ck_assert_int_eq(nox_err_from_wire(-1), NOX_EUNKNOWN);
    ck_assert_int_eq(nox_err_from_wire(17), NOX_EUNKNOWN);
    ck_assert_int_eq(nox_err_from_wire(1000), NOX_EUNKNOWN);
}
END_TEST

START_TEST(error_names_and_texts_are_the_documented_ones)
{
    ck_assert_str_eq(nox_err_name(NOX_ENOENT), "NOT_FOUND");
    ck_assert_str_eq(nox_err_name(NOX_EDENIED), "PERMISSION_DENIED");
    ck_assert_str_eq(nox_strerror(NOX_OK), "success");
    ck_assert_str_eq(nox_strerror(NOX_ENOENT), "not found");
    ck_assert_str_eq(nox_strerror((nox_err_t)99), "unknown error code");
    ck_assert_str_eq(nox_err_name((nox_err_t)-5), "UNKNOWN");
}
END_TEST

START_TEST(status_errno_makes_too_many_open_files_resource_exhausted)
{
    static const int short_of[] = {EMFILE, ENFILE, ENOMEM};

    for (size_t i = 0; i < sizeof(short_of) / sizeof(short_of[0]); i++) {
        nox_status_t st;
        nox_err_t    rv =
            nox__status_errno(&st, NOX_EINTERNAL, short_of[i], "cannot open");

        ck_assert_int_eq(rv, NOX_ERESOURCE);
        ck_assert_int_eq(st.code, NOX_ERESOURCE);
        ck_assert(!st.no_space); /* the disk is not what is short */
        ck_assert_int_eq(
            nox__status_errno(NULL, NOX_EINTERNAL, short_of[i], "x"),
            NOX_ERESOURCE);
    }
    nox_status_t st;
    (void)nox__status_errno(&st, NOX_EINTERNAL, EMFILE, "cannot open %s", "f");
    ck_assert_str_eq(st.msg, "cannot open f: Too many open files");
    (void)nox__status_errno(&st, NOX_EINTERNAL, ENFILE, "cannot open");
    ck_assert_str_eq(st.msg, "cannot open: Too many open files in system");
}
END_TEST

START_TEST(status_errno_keeps_the_code_for_other_errors)
{
    nox_status_t st;

    ck_assert_int_eq(nox__status_errno(&st, NOX_EINTERNAL, EIO, "x"),
                     NOX_EINTERNAL);
    ck_assert_int_eq(nox__status_errno(&st, NOX_EPRECOND, EACCES, "x"),
                     NOX_EPRECOND);
    ck_assert_int_eq(nox__status_errno(&st, NOX_EINTERNAL, ENOSPC, "x"),
                     NOX_ERESOURCE);
    ck_assert(st.no_space);
}
END_TEST

static Suite *
error_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("codes");

    tcase_add_test(tc, error_codes_equal_grpc_status_codes);
    tcase_add_test(tc, error_round_trips_every_code_through_the_wire);
    tcase_add_test(tc, error_maps_out_of_range_wire_codes_to_unknown);
    tcase_add_test(tc, error_names_and_texts_are_the_documented_ones);
    suite_add_tcase(s, tc);
    tc = tcase_create("status from errno");
    tcase_add_test(tc,
                   status_errno_makes_too_many_open_files_resource_exhausted);
    tcase_add_test(tc, status_errno_keeps_the_code_for_other_errors);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(error_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
