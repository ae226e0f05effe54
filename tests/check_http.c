/* check_http.c - NoxRunner's REST API served by noxrunnerd's gateway, over
 * a real socket with libcurl: every endpoint of the specification and our
 * additions, and every error status the gateway can produce, each with
 * its exact status, content type and body. Connection behaviour (keep-
 * alive, stalled and garbage clients, limits, TLS, start-up checks) is in
 * check_http_conn.c. */
#include "httptest.h"
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON "application/json"

/* The reply's body as JSON, after checking status and content type. */
static cJSON *
json_reply(const ht_res_t *r, long status)
{
    cJSON *j;

    ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status,
                  status, r->body);
    ck_assert_str_eq(r->content_type, JSON);
    j = cJSON_Parse(r->body);
    ck_assert_msg(j != NULL && cJSON_IsObject(j), "not a JSON object: %s",
                  r->body);
    return j;
}

/* Assert an error reply: status, {"error": msg, "code": code} exactly. */
static void
assert_error(const ht_res_t *r, long status, const char *msg, int code)
{
    cJSON *j = json_reply(r, status);

    ck_assert_int_eq(cJSON_GetArraySize(j), 2);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "error")),
                     msg);
    ck_assert_int_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "code")),
                     code);
    cJSON_Delete(j);
}

static const char *
str_of(const cJSON *j, const char *name)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(j, name));

    ck_assert_msg(s != NULL, "no string member %s", name);
    return s;
}

static double
num_of(const cJSON *j, const char *name)
{
    const cJSON *n = cJSON_GetObjectItem(j, name);

    ck_assert_msg(cJSON_IsNumber(n), "no number member %s", name);
    return cJSON_GetNumberValue(n);
}

static void
create(const char *id)
{
    ht_res_t r;
    char     path[256];

    (void)snprintf(path, sizeof(path), "/v1/sandboxes/%s", id);
    ck_assert_int_eq(ht_req(NULL, "PUT", path, NULL, NULL, 0, NULL, &r), 200);
    ht_res_free(&r);
}

/* POST body to /v1/sandboxes/id/exec. */
static long
exec_json(const char *id, const char *body, ht_res_t *r)
{
    char path[256];

    (void)snprintf(path, sizeof(path), "/v1/sandboxes/%s/exec", id);
    return ht_req(NULL, "POST", path, JSON, body, strlen(body), NULL, r);
}

/* ---- endpoints ---- */

START_TEST(http_healthz_answers_ok_as_text)
{
    ht_res_t r;

    ck_assert_int_eq(ht_req(NULL, "GET", "/healthz", NULL, NULL, 0, NULL, &r),
                     200);
    ck_assert_str_eq(r.content_type, "text/plain");
    ck_assert_str_eq(r.body, "OK");
    ht_res_free(&r);
    /* Ours: the whole health report. */
    ck_assert_int_eq(ht_req(NULL, "GET", "/v1/health", NULL, NULL, 0, NULL, &r),
                     200);
    cJSON *j = json_reply(&r, 200);
    ck_assert_str_eq(str_of(j, "status"), "SERVING");
    ck_assert_str_eq(str_of(j, "isolation"), "none");
    ck_assert_int_eq(num_of(j, "maxMessageBytes"), HT_MAX_BYTES);
    cJSON_Delete(j);
    ht_res_free(&r);
}
END_TEST

START_TEST(http_create_with_an_empty_body_uses_the_defaults)
{
    ht_res_t r;
    cJSON   *j;

    ht_req(NULL, "PUT", "/v1/sandboxes/s1", NULL, NULL, 0, NULL, &r);
    j = json_reply(&r, 200);
    ck_assert_str_eq(str_of(j, "podName"), "local-s1");
    ck_assert_uint_eq(strlen(str_of(j, "expiresAt")), 20);
    ck_assert_str_eq(str_of(j, "isolation"), "none");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "limits")), 0);
    cJSON_Delete(j);
    ht_res_free(&r);
    ck_assert(tu_exists(ht_base, "noxrunner_sandbox_s1"));
}
END_TEST

START_TEST(http_create_takes_the_json_fields_and_reports_limits)
{
    const char *body = "{\"ttlSeconds\": 60, \"image\": \"python:3.11\", "
                       "\"cpuLimit\": \"1\", \"memoryLimit\": \"256Mi\", "
                       "\"pidsLimit\": 64, \"allowNetwork\": false}";
    ht_res_t    r;
    cJSON      *j, *limits;

    ht_req(NULL, "PUT", "/v1/sandboxes/s2", JSON, body, strlen(body), NULL, &r);
    j = json_reply(&r, 200);
    ck_assert_str_eq(str_of(j, "podName"), "local-s2");
    limits = cJSON_GetObjectItem(j, "limits");
    ck_assert_int_eq(cJSON_GetArraySize(limits), 4);
    ck_assert_str_eq(str_of(cJSON_GetArrayItem(limits, 0), "name"),
                     "cpu_limit");
    ck_assert(cJSON_IsBool(
        cJSON_GetObjectItem(cJSON_GetArrayItem(limits, 0), "applied")));
    /* The image is recorded but local mode cannot use it, and says so. */
    cJSON *img = cJSON_GetArrayItem(limits, 3);
    ck_assert_str_eq(str_of(img, "name"), "image");
    ck_assert_str_eq(str_of(img, "value"), "python:3.11");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(img, "applied")));
    ck_assert_str_eq(str_of(img, "detail"),
                     "recorded, not used: local mode runs this machine's "
                     "userland");
    cJSON_Delete(j);
    ht_res_free(&r);
}
END_TEST

START_TEST(http_touch_answers_the_new_expiry)
{
    ht_res_t r;
    cJSON   *j;

    create("t1");
    ht_req(NULL, "POST", "/v1/sandboxes/t1/touch", NULL, NULL, 0, NULL, &r);
    j = json_reply(&r, 200);
    ck_assert_uint_eq(strlen(str_of(j, "expiresAt")), 20);
    cJSON_Delete(j);
    ht_res_free(&r);
}
END_TEST

START_TEST(http_exec_runs_with_workdir_env_and_timeout)
{
    const char *body =
        "{\"cmd\": [\"sh\", \"-c\", \"basename $PWD; echo $GREETING; "
        "echo oops >&2; exit 3\"], \"workdir\": \"sub/dir\", "
        "\"env\": {\"GREETING\": \"hi there\"}, \"timeoutSeconds\": 10}";
    ht_res_t r;
    cJSON   *j;

    create("e1");
    exec_json("e1", body, &r);
    j = json_reply(&r, 200);
    ck_assert_int_eq(num_of(j, "exitCode"), 3);
    ck_assert_str_eq(str_of(j, "stdout"), "dir\nhi there\n");
    ck_assert_str_eq(str_of(j, "stderr"), "oops\n");
    ck_assert(num_of(j, "durationMs") >= 0);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "timedOut")));
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "stdoutTruncated")));
    ck_assert_str_eq(str_of(j, "cause"), "EXITED");
    ck_assert_int_eq(num_of(j, "signal"), 0);
    cJSON_Delete(j);
    ht_res_free(&r);
    /* A command over its timeout: still 200, the record says so. */
    body = "{\"cmd\": [\"sleep\", \"5\"], \"timeoutSeconds\": 1}";
    exec_json("e1", body, &r);
    j = json_reply(&r, 200);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "timedOut")));
    ck_assert_str_eq(str_of(j, "cause"), "TIMED_OUT");
    ck_assert_int_eq(num_of(j, "exitCode"), 124);
    cJSON_Delete(j);
    ht_res_free(&r);
}
END_TEST

/* A gzip tar holding name with text, in memory (free() it). */
static void *
tar_gz_of(const char *name, const char *text, size_t *len)
{
    size_t                cap = 1 << 16, used = 0;
    void                 *buf = malloc(cap);
    struct archive       *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();

    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)strlen(text));
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_data(a, text, strlen(text)),
                     (la_ssize_t)strlen(text));
    archive_entry_free(e);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_free(a), ARCHIVE_OK);
    *len = used;
    return buf;
}

/* The content of entry name in the gzip tar (malloc'd), or NULL. */
static char *
tar_gz_entry(const void *tgz, size_t len, const char *name)
{
    struct archive       *a = archive_read_new();
    struct archive_entry *e;
    char                 *out = NULL;

    ck_assert_int_eq(archive_read_support_filter_gzip(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_read_support_format_tar(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_read_open_memory(a, tgz, len), ARCHIVE_OK);
    while (out == NULL && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(e);
        if (strcmp(p, name) != 0 &&
            !(strncmp(p, "./", 2) == 0 && strcmp(p + 2, name) == 0))
            continue;
        size_t n = (size_t)archive_entry_size(e);
        out = calloc(1, n + 1);
        ck_assert_ptr_nonnull(out);
        ck_assert_int_eq(archive_read_data(a, out, n), (la_ssize_t)n);
    }
    archive_read_free(a);
    return out;
}

START_TEST(http_upload_then_download_round_trips_a_file)
{
    size_t   len;
    void    *tgz = tar_gz_of("hello.txt", "hello over http\n", &len);
    ht_res_t r;
    cJSON   *j;
    char    *got;

    create("f1");
    /* "+" in a query value is a space, %2F a slash. */
    ht_req(NULL, "POST", "/v1/sandboxes/f1/files/upload?dest=in+here%2Fsub",
           "application/x-tar", tgz, len, NULL, &r);
    j = json_reply(&r, 200);
    ck_assert_int_eq(num_of(j, "filesWritten"), 1);
    cJSON_Delete(j);
    ht_res_free(&r);
    free(tgz);
    ck_assert_int_eq(ht_req(NULL, "GET",
                            "/v1/sandboxes/f1/files/download?src=in%20here/sub",
                            NULL, NULL, 0, NULL, &r),
                     200);
    ck_assert_str_eq(r.content_type, "application/x-tar");
    ck_assert_uint_gt(r.len, 2);
    ck_assert_int_eq((unsigned char)r.body[0], 0x1f); /* gzip */
    ck_assert_int_eq((unsigned char)r.body[1], 0x8b);
    got = tar_gz_entry(r.body, r.len, "hello.txt");
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "hello over http\n");
    free(got);
    ht_res_free(&r);
}
END_TEST

START_TEST(http_delete_answers_204_and_says_whether_it_deleted)
{
    ht_res_t r;

    create("d1");
    ck_assert_int_eq(
        ht_req(NULL, "DELETE", "/v1/sandboxes/d1", NULL, NULL, 0, NULL, &r),
        204);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_str_eq(r.deleted, "true");
    ht_res_free(&r);
    ck_assert(!tu_exists(ht_base, "noxrunner_sandbox_d1"));
    /* Unknown: nothing to delete, still 204 (the specification allows
     * 204 or 404; README says which). */
    ck_assert_int_eq(
        ht_req(NULL, "DELETE", "/v1/sandboxes/d1", NULL, NULL, 0, NULL, &r),
        204);
    ck_assert_str_eq(r.deleted, "false");
    ht_res_free(&r);
}
END_TEST

START_TEST(http_list_names_every_sandbox)
{
    ht_res_t r;
    cJSON   *j, *list;

    create("l1");
    create("l2");
    ht_req(NULL, "GET", "/v1/sandboxes", NULL, NULL, 0, NULL, &r);
    j = json_reply(&r, 200);
    list = cJSON_GetObjectItem(j, "sandboxes");
    ck_assert_int_eq(cJSON_GetArraySize(list), 2);
    ck_assert_str_eq(str_of(cJSON_GetArrayItem(list, 0), "sessionId"), "l1");
    ck_assert_str_eq(str_of(cJSON_GetArrayItem(list, 1), "sessionId"), "l2");
    cJSON_Delete(j);
    ht_res_free(&r);
}
END_TEST

/* ---- errors ---- */

START_TEST(http_answers_400_for_bad_json_and_bad_fields)
{
    ht_res_t r;

    create("b1");
    exec_json("b1", "{\"cmd\": [\"echo\"", &r);
    assert_error(&r, 400, "malformed JSON body (near byte 14)", 3);
    ht_res_free(&r);
    exec_json("b1", "{\"cmd\": \"echo hi\"}", &r);
    assert_error(&r, 400, "field cmd: expected an array", 3);
    ht_res_free(&r);
    exec_json("b1", "{\"cmd\": []}", &r);
    assert_error(
        &r, 400,
        "cmd is empty: the command must be a non-empty array of strings", 3);
    ht_res_free(&r);
    exec_json("b1", "{\"cmd\": [\"echo\", 7]}", &r);
    assert_error(&r, 400, "field cmd: expected an array of strings", 3);
    ht_res_free(&r);
    exec_json("b1", "{\"cmd\": [\"true\"], \"timeoutSeconds\": \"ten\"}", &r);
    assert_error(&r, 400,
                 "field timeoutSeconds: expected a non-negative 32-bit integer",
                 3);
    ht_res_free(&r);
    ht_req(NULL, "PUT", "/v1/sandboxes/b2", JSON, "[1]", 3, NULL, &r);
    assert_error(&r, 400, "the body must be a JSON object", 3);
    ht_res_free(&r);
}
END_TEST

START_TEST(http_answers_400_for_bad_session_ids)
{
    const char *bad_chars =
        "invalid session id: must be 1-128 characters of [A-Za-z0-9._-]";
    char     path[300];
    ht_res_t r;

    /* %2F decodes to a slash inside one segment: refused, not routed. */
    ht_req(NULL, "PUT", "/v1/sandboxes/a%2Fb", NULL, NULL, 0, NULL, &r);
    assert_error(&r, 400, bad_chars, 3);
    ht_res_free(&r);
    ht_req(NULL, "PUT", "/v1/sandboxes/%2E%2E", NULL, NULL, 0, NULL, &r);
    assert_error(&r, 400, "invalid session id: '.' and '..' are not allowed",
                 3);
    ht_res_free(&r);
    (void)snprintf(path, sizeof(path), "/v1/sandboxes/%0129d", 0);
    ht_req(NULL, "PUT", path, NULL, NULL, 0, NULL, &r);
    assert_error(&r, 400, "invalid session id: longer than 128 characters", 3);
    ht_res_free(&r);
    ht_req(NULL, "PUT", "/v1/sandboxes/a%zz", NULL, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.status, 400);
    ht_res_free(&r);
    ck_assert(!tu_exists(ht_base, "noxrunner_sandbox_a"));
}
END_TEST

START_TEST(http_answers_403_for_a_blocked_command)
{
    ht_res_t r;

    create("p1");
    exec_json("p1", "{\"cmd\": [\"rm\", \"-rf\", \"x\"]}", &r);
    assert_error(&r, 403, "command not allowed: rm", 7);
    ht_res_free(&r);
}
END_TEST

START_TEST(http_answers_404_for_unknown_sandboxes_and_paths)
{
    ht_res_t r;

    exec_json("nope", "{\"cmd\": [\"true\"]}", &r);
    assert_error(&r, 404, "sandbox not found: nope", 5);
    ht_res_free(&r);
    ht_req(NULL, "POST", "/v1/sandboxes/nope/touch", NULL, NULL, 0, NULL, &r);
    assert_error(&r, 404, "sandbox not found: nope", 5);
    ht_res_free(&r);
    ht_req(NULL, "GET", "/v2/anything", NULL, NULL, 0, NULL, &r);
    assert_error(&r, 404, "no such endpoint: /v2/anything", 5);
    ht_res_free(&r);
}
END_TEST

START_TEST(http_answers_405_with_allow_for_a_wrong_method)
{
    ht_res_t r;

    ht_req(NULL, "POST", "/v1/sandboxes/x", NULL, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(r.allow, "PUT, DELETE");
    ck_assert_str_eq(r.content_type, JSON);
    ht_res_free(&r);
    ht_req(NULL, "DELETE", "/healthz", NULL, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(r.allow, "GET, HEAD");
    ht_res_free(&r);
    ht_req(NULL, "POST", "/v1/sandboxes/x/files/download", NULL, NULL, 0, NULL,
           &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(r.allow, "GET, HEAD");
    ht_res_free(&r);
    ht_req(NULL, "HEAD", "/v1/sandboxes/x/exec", NULL, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(r.allow, "POST");
    ht_res_free(&r);
}
END_TEST

/* HEAD is GET without the body (libmicrohttpd leaves it out). */
START_TEST(http_serves_head_where_it_serves_get)
{
    ht_res_t r;

    ck_assert_int_eq(ht_req(NULL, "HEAD", "/healthz", NULL, NULL, 0, NULL, &r),
                     200);
    ck_assert_str_eq(r.content_type, "text/plain");
    ck_assert_uint_eq(r.len, 0);
    ht_res_free(&r);
    create("h1");
    ck_assert_int_eq(
        ht_req(NULL, "HEAD", "/v1/sandboxes", NULL, NULL, 0, NULL, &r), 200);
    ck_assert_str_eq(r.content_type, JSON);
    ck_assert_uint_eq(r.len, 0);
    ht_res_free(&r);
    ck_assert_int_eq(ht_req(NULL, "HEAD",
                            "/v1/sandboxes/h1/files/download?src=/workspace",
                            NULL, NULL, 0, NULL, &r),
                     200);
    ck_assert_str_eq(r.content_type, "application/x-tar");
    ck_assert_uint_eq(r.len, 0);
    ht_res_free(&r);
    ck_assert_int_eq(ht_req(NULL, "HEAD", "/v1/sandboxes/nope/files/download",
                            NULL, NULL, 0, NULL, &r),
                     404);
    ht_res_free(&r);
}
END_TEST

START_TEST(http_answers_413_for_a_body_over_the_limit)
{
    size_t   n = HT_MAX_BYTES + 1;
    char    *big = malloc(n);
    ht_res_t r;

    ck_assert_ptr_nonnull(big);
    memset(big, 'a', n);
    create("u1");
    ht_req(NULL, "POST", "/v1/sandboxes/u1/files/upload", "application/x-tar",
           big, n, NULL, &r);
    assert_error(&r, 413,
                 "request body over the server's limit "
                 "(--max-message-bytes)",
                 8);
    ht_res_free(&r);
    free(big);
    /* The server goes on. */
    ck_assert_int_eq(ht_req(NULL, "GET", "/healthz", NULL, NULL, 0, NULL, &r),
                     200);
    ht_res_free(&r);
}
END_TEST

/* The body is wrapped with the session id and the destination before
 * the dispatcher's own check of --max-message-bytes: a body at the limit
 * or just under is still 413, never RESOURCE_EXHAUSTED's 429. */
START_TEST(http_answers_413_for_a_body_at_or_just_under_the_limit)
{
    size_t   sizes[] = {HT_MAX_BYTES, HT_MAX_BYTES - 10};
    char    *big = malloc(HT_MAX_BYTES);
    ht_res_t r;

    ck_assert_ptr_nonnull(big);
    memset(big, 'a', HT_MAX_BYTES);
    create("u1");
    for (size_t i = 0; i < 2; i++) {
        ht_req(NULL, "POST", "/v1/sandboxes/u1/files/upload?dest=d",
               "application/x-tar", big, sizes[i], NULL, &r);
        printf("body of %zu bytes: %ld\n", sizes[i], r.status);
        assert_error(&r, 413,
                     "request body over the server's limit "
                     "(--max-message-bytes)",
                     8);
        ht_res_free(&r);
    }
    free(big);
}
END_TEST

static Suite *
http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *ep = tcase_create("endpoints");
    TCase *err = tcase_create("errors");

    tcase_add_checked_fixture(ep, ht_setup, ht_teardown);
    tcase_set_timeout(ep, 60);
    tcase_add_test(ep, http_healthz_answers_ok_as_text);
    tcase_add_test(ep, http_create_with_an_empty_body_uses_the_defaults);
    tcase_add_test(ep, http_create_takes_the_json_fields_and_reports_limits);
    tcase_add_test(ep, http_touch_answers_the_new_expiry);
    tcase_add_test(ep, http_exec_runs_with_workdir_env_and_timeout);
    tcase_add_test(ep, http_upload_then_download_round_trips_a_file);
    tcase_add_test(ep, http_delete_answers_204_and_says_whether_it_deleted);
    tcase_add_test(ep, http_list_names_every_sandbox);
    tcase_add_test(ep, http_serves_head_where_it_serves_get);
    suite_add_tcase(s, ep);

    tcase_add_checked_fixture(err, ht_setup, ht_teardown);
    tcase_set_timeout(err, 60);
    tcase_add_test(err, http_answers_400_for_bad_json_and_bad_fields);
    tcase_add_test(err, http_answers_400_for_bad_session_ids);
    tcase_add_test(err, http_answers_403_for_a_blocked_command);
    tcase_add_test(err, http_answers_404_for_unknown_sandboxes_and_paths);
    tcase_add_test(err, http_answers_405_with_allow_for_a_wrong_method);
    tcase_add_test(err, http_answers_413_for_a_body_over_the_limit);
    tcase_add_test(err, http_answers_413_for_a_body_at_or_just_under_the_limit);
    suite_add_tcase(s, err);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(http_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
