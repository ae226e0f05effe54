/* check_dispatch.c - nox__dispatch: raw envelope bytes in, exact status
 * codes and messages out, against a real engine in a fresh base dir. */
#include "dispatch.h"
#include "nox/server.h"
#include "testenvelope.h"
#include "testutil.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BYTES (1024 * 1024)
#define SANDBOX "/noxrunner.v1.Sandbox/"

/* Fixture state: one engine per test (CK_FORK runs each in a child). */
static char              *base;
static nox_engine_t      *eng;
static nox_dispatch_ctx_t dctx;

static void
setup(void)
{
    base = tu_mkdtemp();
    tu_dispatch_open(&dctx, base, MAX_BYTES);
    eng = dctx.engine;
}

static void
teardown(void)
{
    tu_dispatch_close(&dctx);
    tu_rmtree_free(base);
}

/* ---- helpers ---- */

/* Dispatch raw bytes; returns the unpacked reply (free it). */
static Noxrunner__V1__RpcResponse *
raw(const void *req, size_t len)
{
    return tu_dispatch_raw(&dctx, req, len);
}

/* Call an RPC with a message payload (NULL: empty payload). */
static Noxrunner__V1__RpcResponse *
call_dl(const char *method, const ProtobufCMessage *in, int64_t deadline_ms)
{
    size_t   plen = in ? protobuf_c_message_get_packed_size(in) : 0;
    uint8_t *p = malloc(plen ? plen : 1);
    size_t   len;
    uint8_t *req;
    Noxrunner__V1__RpcResponse *r;

    ck_assert_ptr_nonnull(p);
    if (in != NULL)
        ck_assert_uint_eq(protobuf_c_message_pack(in, p), plen);
    req = tu_envelope(method, p, plen, deadline_ms, &len);
    r = raw(req, len);
    free(req);
    free(p);
    return r;
}

static Noxrunner__V1__RpcResponse *
call(const char *method, const ProtobufCMessage *in)
{
    return call_dl(method, in, 0);
}

/* Assert an error reply: exact code and message, no payload. */
static void
expect_error(Noxrunner__V1__RpcResponse *r, int code, const char *msg)
{
    ck_assert_int_eq(r->code, code);
    if (msg != NULL)
        ck_assert_str_eq(r->message, msg);
    ck_assert_uint_eq(r->payload.len, 0);
    noxrunner__v1__rpc_response__free_unpacked(r, NULL);
}

/* Assert an OK reply and unpack its payload with desc. */
static ProtobufCMessage *
expect_ok(Noxrunner__V1__RpcResponse *r, const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m;

    ck_assert_msg(r->code == 0, "code %d: %s", r->code, r->message);
    ck_assert_str_eq(r->message, "");
    m = protobuf_c_message_unpack(d, NULL, r->payload.len, r->payload.data);
    ck_assert_ptr_nonnull(m);
    noxrunner__v1__rpc_response__free_unpacked(r, NULL);
    return m;
}

static void
create(const char *sid, int expect_created)
{
    Noxrunner__V1__CreateSandboxRequest in =
        NOXRUNNER__V1__CREATE_SANDBOX_REQUEST__INIT;
    Noxrunner__V1__CreateSandboxResponse *out;

    in.session_id = (char *)sid;
    out =
        (void *)expect_ok(call(SANDBOX "CreateSandbox", &in.base),
                          &noxrunner__v1__create_sandbox_response__descriptor);
    ck_assert_int_eq(out->created, expect_created);
    noxrunner__v1__create_sandbox_response__free_unpacked(out, NULL);
}

/* Exec argv (NULL-terminated) in sid; returns the raw reply. */
static Noxrunner__V1__RpcResponse *
exec_dl(const char *sid, const char *const *argv, int64_t deadline_ms)
{
    Noxrunner__V1__ExecRequest in = NOXRUNNER__V1__EXEC_REQUEST__INIT;

    in.session_id = (char *)sid;
    while (argv[in.n_cmd] != NULL)
        in.n_cmd++;
    in.cmd = (char **)argv;
    return call_dl(SANDBOX "Exec", &in.base, deadline_ms);
}

static Noxrunner__V1__ExecResponse *
exec_ok(Noxrunner__V1__RpcResponse *r)
{
    return (void *)expect_ok(r, &noxrunner__v1__exec_response__descriptor);
}

/* ---- envelope errors ---- */

START_TEST(dispatch_rejects_garbage_bytes_as_a_malformed_envelope)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x07, 0x00};

    expect_error(raw(junk, sizeof(junk)), 3, "malformed request envelope");
}
END_TEST

START_TEST(dispatch_answers_an_empty_message_with_unknown_method)
{
    /* Zero bytes are a valid, empty RpcRequest: its method is "". */
    expect_error(raw("", 0), 12, "unknown method: ");
}
END_TEST

START_TEST(dispatch_rejects_a_truncated_envelope)
{
    size_t   len;
    uint8_t *req = tu_envelope(SANDBOX "Health", NULL, 0, 0, &len);

    /* Cut inside the method string: a length prefix overruns the data. */
    expect_error(raw(req, len - 3), 3, "malformed request envelope");
    free(req);
}
END_TEST

START_TEST(dispatch_rejects_an_unknown_method)
{
    expect_error(call(SANDBOX "Nope", NULL), 12,
                 "unknown method: /noxrunner.v1.Sandbox/Nope");
    expect_error(call(SANDBOX "health", NULL), 12,
                 "unknown method: /noxrunner.v1.Sandbox/health");
    expect_error(call(SANDBOX "Health/x", NULL), 12,
                 "unknown method: /noxrunner.v1.Sandbox/Health/x");
}
END_TEST

START_TEST(dispatch_rejects_a_method_of_another_service)
{
    expect_error(call("/other.Service/Exec", NULL), 12,
                 "unknown method: /other.Service/Exec");
    expect_error(call("noxrunner.v1.Sandbox/Health", NULL), 12,
                 "unknown method: noxrunner.v1.Sandbox/Health");
    expect_error(call("/noxrunner.v1.SandboxHealth", NULL), 12,
                 "unknown method: /noxrunner.v1.SandboxHealth");
    expect_error(call("/noxrunner.v1.Sandbox", NULL), 12,
                 "unknown method: /noxrunner.v1.Sandbox");
}
END_TEST

START_TEST(dispatch_keeps_error_messages_valid_utf8)
{
    /* A proto3 string must be UTF-8, or strict clients cannot decode it. */
    expect_error(call("/x\xff\xc3\x01y\xc3\xa9", NULL), 12,
                 "unknown method: /x???y\xc3\xa9");
}
END_TEST

START_TEST(dispatch_answers_a_spent_deadline_with_deadline_exceeded)
{
    expect_error(call_dl(SANDBOX "Health", NULL, -1), 4,
                 "deadline already exceeded");
}
END_TEST

START_TEST(dispatch_rejects_a_malformed_payload)
{
    static const uint8_t bad[] = {0x0a, 0x7f, 'x'}; /* string overruns */
    size_t               len;
    uint8_t *req = tu_envelope(SANDBOX "Exec", bad, sizeof(bad), 0, &len);

    expect_error(raw(req, len), 3, "malformed ExecRequest payload");
    free(req);
}
END_TEST

START_TEST(dispatch_rejects_an_oversized_payload)
{
    size_t   plen = MAX_BYTES + 1, len;
    uint8_t *p = calloc(1, plen);
    uint8_t *req;

    ck_assert_ptr_nonnull(p);
    req = tu_envelope(SANDBOX "Health", p, plen, 0, &len);
    expect_error(raw(req, len), 8,
                 "request payload of 1048577 bytes exceeds the "
                 "max_message_bytes limit of 1048576");
    free(req);
    free(p);
}
END_TEST

START_TEST(dispatch_rejects_an_oversized_reply)
{
    static const char *const    argv[] = {"head", "-c", "2000000", "/dev/zero",
                                          NULL};
    static const char *const    err[] = {"sh", "-c",
                                         "head -c 2000000 /dev/zero >&2", NULL};
    Noxrunner__V1__RpcResponse *r;

    create("big", 1);
    /* 1 MiB of stdout (the output cap) plus framing exceeds 1 MiB. */
    r = exec_dl("big", argv, 0);
    ck_assert_int_eq(r->code, 8);
    ck_assert_msg(strstr(r->message, "exceeds the max_message_bytes limit "
                                     "of 1048576") != NULL,
                  "%s", r->message);
    expect_error(r, 8, NULL);
    expect_error(exec_dl("big", err, 0), 8, NULL);
}
END_TEST

/* ---- RPCs ---- */

START_TEST(dispatch_health_reports_serving_version_and_limit)
{
    Noxrunner__V1__HealthResponse *h =
        (void *)expect_ok(call(SANDBOX "Health", NULL),
                          &noxrunner__v1__health_response__descriptor);

    ck_assert_str_eq(h->status, "SERVING");
    ck_assert_str_eq(h->version, NOX_VERSION);
    ck_assert_uint_eq(h->max_message_bytes, MAX_BYTES);
    noxrunner__v1__health_response__free_unpacked(h, NULL);
}
END_TEST

START_TEST(dispatch_runs_a_sandbox_lifecycle)
{
    static const char *const            echo[] = {"echo", "hello", NULL};
    Noxrunner__V1__CreateSandboxRequest cr =
        NOXRUNNER__V1__CREATE_SANDBOX_REQUEST__INIT;
    Noxrunner__V1__CreateSandboxResponse *c;
    Noxrunner__V1__ExecResponse          *x;

    cr.session_id = "s1";
    cr.ttl_seconds = 60;
    c = (void *)expect_ok(call(SANDBOX "CreateSandbox", &cr.base),
                          &noxrunner__v1__create_sandbox_response__descriptor);
    ck_assert_str_eq(c->pod_name, "local-s1");
    ck_assert_int_eq(c->created, 1);
    ck_assert_uint_eq(strlen(c->expires_at), 20); /* 2026-01-02T12:34:56Z */
    ck_assert_int_eq(c->expires_at[10], 'T');
    ck_assert_int_eq(c->expires_at[19], 'Z');
    noxrunner__v1__create_sandbox_response__free_unpacked(c, NULL);
    create("s1", 0); /* idempotent */

    x = exec_ok(exec_dl("s1", echo, 0));
    ck_assert_int_eq(x->exit_code, 0);
    ck_assert_uint_eq(x->stdout.len, 6);
    ck_assert_mem_eq(x->stdout.data, "hello\n", 6);
    ck_assert_uint_eq(x->stderr.len, 0);
    ck_assert(!x->timed_out && !x->stdout_truncated && !x->stderr_truncated);
    noxrunner__v1__exec_response__free_unpacked(x, NULL);
}
END_TEST

START_TEST(dispatch_touches_lists_and_deletes)
{
    static const char *const            echo[] = {"echo", "hello", NULL};
    Noxrunner__V1__TouchRequest         t = NOXRUNNER__V1__TOUCH_REQUEST__INIT;
    Noxrunner__V1__DeleteSandboxRequest d =
        NOXRUNNER__V1__DELETE_SANDBOX_REQUEST__INIT;
    Noxrunner__V1__TouchResponse         *tr;
    Noxrunner__V1__ListSandboxesResponse *l;
    Noxrunner__V1__DeleteSandboxResponse *dr;
    char                                  path[1100];

    create("s1", 1);
    create("s0", 1);
    t.session_id = "s1";
    tr = (void *)expect_ok(call(SANDBOX "Touch", &t.base),
                           &noxrunner__v1__touch_response__descriptor);
    ck_assert_uint_eq(strlen(tr->expires_at), 20);
    noxrunner__v1__touch_response__free_unpacked(tr, NULL);

    l = (void *)expect_ok(call(SANDBOX "ListSandboxes", NULL),
                          &noxrunner__v1__list_sandboxes_response__descriptor);
    ck_assert_uint_eq(l->n_sandboxes, 2);
    ck_assert_str_eq(l->sandboxes[0]->session_id, "s0"); /* sorted */
    ck_assert_str_eq(l->sandboxes[1]->session_id, "s1");
    ck_assert_str_eq(l->sandboxes[1]->pod_name, "local-s1");
    ck_assert_uint_eq(strlen(l->sandboxes[1]->expires_at), 20);
    (void)snprintf(path, sizeof(path), "%s/noxrunner_sandbox_s1", base);
    ck_assert_str_eq(l->sandboxes[1]->path, path);
    noxrunner__v1__list_sandboxes_response__free_unpacked(l, NULL);

    d.session_id = "s1";
    dr = (void *)expect_ok(call(SANDBOX "DeleteSandbox", &d.base),
                           &noxrunner__v1__delete_sandbox_response__descriptor);
    ck_assert_int_eq(dr->deleted, 1);
    noxrunner__v1__delete_sandbox_response__free_unpacked(dr, NULL);
    expect_error(exec_dl("s1", echo, 0), 5, NULL);
    expect_error(call(SANDBOX "Touch", &t.base), 5, NULL);
    dr = (void *)expect_ok(call(SANDBOX "DeleteSandbox", &d.base),
                           &noxrunner__v1__delete_sandbox_response__descriptor);
    ck_assert_int_eq(dr->deleted, 0);
    noxrunner__v1__delete_sandbox_response__free_unpacked(dr, NULL);
}
END_TEST

START_TEST(dispatch_lists_nothing_in_an_empty_base_dir)
{
    Noxrunner__V1__ListSandboxesResponse *l =
        (void *)expect_ok(call(SANDBOX "ListSandboxes", NULL),
                          &noxrunner__v1__list_sandboxes_response__descriptor);

    ck_assert_uint_eq(l->n_sandboxes, 0);
    noxrunner__v1__list_sandboxes_response__free_unpacked(l, NULL);
}
END_TEST

START_TEST(dispatch_refuses_a_blocked_command)
{
    static const char *const rm[] = {"rm", "-rf", "x", NULL};

    create("s1", 1);
    expect_error(exec_dl("s1", rm, 0), 7, "command not allowed: rm");
}
END_TEST

START_TEST(dispatch_rejects_an_invalid_session_id)
{
    static const char *const            echo[] = {"echo", NULL};
    Noxrunner__V1__CreateSandboxRequest in =
        NOXRUNNER__V1__CREATE_SANDBOX_REQUEST__INIT;

    in.session_id = "../x";
    expect_error(call(SANDBOX "CreateSandbox", &in.base), 3, NULL);
    expect_error(exec_dl("a/b", echo, 0), 3, NULL);
    expect_error(exec_dl("", echo, 0), 3, NULL);
}
END_TEST

START_TEST(dispatch_rejects_an_empty_command)
{
    static const char *const none[] = {NULL};

    create("s1", 1);
    expect_error(exec_dl("s1", none, 0), 3, NULL);
}
END_TEST

START_TEST(dispatch_passes_env_and_stdin_without_a_shell)
{
    static const char *const             argv[] = {"sh", "-c",
                                                   "printf '%s|' \"$X\" \"$Y\"; cat", NULL};
    static const char *const             echo[] = {"echo", "$X", NULL};
    Noxrunner__V1__ExecRequest           in = NOXRUNNER__V1__EXEC_REQUEST__INIT;
    Noxrunner__V1__ExecRequest__EnvEntry e1 =
        NOXRUNNER__V1__EXEC_REQUEST__ENV_ENTRY__INIT;
    Noxrunner__V1__ExecRequest__EnvEntry e2 =
        NOXRUNNER__V1__EXEC_REQUEST__ENV_ENTRY__INIT;
    Noxrunner__V1__ExecRequest__EnvEntry *env[] = {&e1, &e2};
    Noxrunner__V1__ExecResponse          *x;

    create("s1", 1);
    e1.key = "X";
    e1.value = "1";
    e2.key = "Y";
    e2.value = "two words";
    in.session_id = "s1";
    in.cmd = (char **)argv;
    in.n_cmd = 3;
    in.env = env;
    in.n_env = 2;
    in.stdin.data = (uint8_t *)"abc";
    in.stdin.len = 3;
    x = exec_ok(call(SANDBOX "Exec", &in.base));
    ck_assert_int_eq(x->exit_code, 0);
    ck_assert_uint_eq(x->stdout.len, 15);
    ck_assert_mem_eq(x->stdout.data, "1|two words|abc", 15);
    noxrunner__v1__exec_response__free_unpacked(x, NULL);

    x = exec_ok(exec_dl("s1", echo, 0));
    ck_assert_uint_eq(x->stdout.len, 3);
    ck_assert_mem_eq(x->stdout.data, "$X\n", 3);
    noxrunner__v1__exec_response__free_unpacked(x, NULL);
}
END_TEST

START_TEST(dispatch_reports_exit_codes_and_stderr)
{
    static const char *const     argv[] = {"sh", "-c", "echo oops >&2; exit 3",
                                           NULL};
    static const char *const     nf[] = {"no-such-command-x", NULL};
    Noxrunner__V1__ExecResponse *x;

    create("s1", 1);
    x = exec_ok(exec_dl("s1", argv, 0));
    ck_assert_int_eq(x->exit_code, 3);
    ck_assert_uint_eq(x->stderr.len, 5);
    ck_assert_mem_eq(x->stderr.data, "oops\n", 5);
    noxrunner__v1__exec_response__free_unpacked(x, NULL);
    x = exec_ok(exec_dl("s1", nf, 0));
    ck_assert_int_eq(x->exit_code, 127);
    noxrunner__v1__exec_response__free_unpacked(x, NULL);
}
END_TEST

START_TEST(dispatch_applies_the_exec_timeout)
{
    static const char *const     argv[] = {"sleep", "10", NULL};
    Noxrunner__V1__ExecRequest   in = NOXRUNNER__V1__EXEC_REQUEST__INIT;
    Noxrunner__V1__ExecResponse *x;

    create("s1", 1);
    in.session_id = "s1";
    in.cmd = (char **)argv;
    in.n_cmd = 2;
    in.timeout_seconds = 1;
    x = exec_ok(call(SANDBOX "Exec", &in.base));
    ck_assert_int_eq(x->exit_code, 124);
    ck_assert(x->timed_out);
    ck_assert_uint_ge(x->duration_ms, 900);
    ck_assert_uint_lt(x->duration_ms, 3000);
    noxrunner__v1__exec_response__free_unpacked(x, NULL);
}
END_TEST

START_TEST(dispatch_clamps_the_exec_timeout_to_the_deadline)
{
    static const char *const     argv[] = {"sleep", "10", NULL};
    Noxrunner__V1__ExecResponse *x;
    int64_t                      t0;

    create("s1", 1);
    t0 = nox__mono_ms();
    /* 500 ms budget, margin 50 ms: the command gets about 450 ms. */
    x = exec_ok(exec_dl("s1", argv, 500));
    ck_assert_int_lt(nox__mono_ms() - t0, 1500);
    ck_assert_int_eq(x->exit_code, 124);
    ck_assert(x->timed_out);
    ck_assert_uint_ge(x->duration_ms, 400);
    ck_assert_uint_lt(x->duration_ms, 1000);
    noxrunner__v1__exec_response__free_unpacked(x, NULL);
}
END_TEST

/* Download a tree from one sandbox and upload it into another: the
 * archive the engine packs is one it accepts. */
START_TEST(dispatch_uploads_and_downloads_files)
{
    static const char *const mk[] = {
        "sh", "-c", "mkdir -p src && printf hi > src/a.txt", NULL};
    static const char *const          cat[] = {"cat", "sub/a.txt", NULL};
    Noxrunner__V1__UploadFilesRequest up =
        NOXRUNNER__V1__UPLOAD_FILES_REQUEST__INIT;
    Noxrunner__V1__DownloadFilesRequest down =
        NOXRUNNER__V1__DOWNLOAD_FILES_REQUEST__INIT;
    Noxrunner__V1__UploadFilesResponse   *u;
    Noxrunner__V1__DownloadFilesResponse *dl;
    Noxrunner__V1__ExecResponse          *x;

    create("s1", 1);
    create("s2", 1);
    x = exec_ok(exec_dl("s1", mk, 0));
    ck_assert_int_eq(x->exit_code, 0);
    noxrunner__v1__exec_response__free_unpacked(x, NULL);

    down.session_id = "s1";
    down.src = "/workspace/src";
    dl = (void *)expect_ok(call(SANDBOX "DownloadFiles", &down.base),
                           &noxrunner__v1__download_files_response__descriptor);
    ck_assert_uint_gt(dl->tar_gz.len, 2);
    ck_assert_int_eq(dl->tar_gz.data[0], 0x1f); /* gzip magic */
    ck_assert_int_eq(dl->tar_gz.data[1], 0x8b);

    up.session_id = "s2";
    up.dest = "/workspace/sub";
    up.tar_gz = dl->tar_gz;
    u = (void *)expect_ok(call(SANDBOX "UploadFiles", &up.base),
                          &noxrunner__v1__upload_files_response__descriptor);
    ck_assert_uint_eq(u->files_written, 1);
    noxrunner__v1__upload_files_response__free_unpacked(u, NULL);
    tu_assert_no_link_out_of_a_workspace(base);
    noxrunner__v1__download_files_response__free_unpacked(dl, NULL);

    x = exec_ok(exec_dl("s2", cat, 0));
    ck_assert_int_eq(x->exit_code, 0);
    ck_assert_uint_eq(x->stdout.len, 2);
    ck_assert_mem_eq(x->stdout.data, "hi", 2);
    noxrunner__v1__exec_response__free_unpacked(x, NULL);

    down.src = "/workspace/missing";
    expect_error(call(SANDBOX "DownloadFiles", &down.base), 5, NULL);
}
END_TEST

START_TEST(dispatch_rejects_a_bad_archive)
{
    Noxrunner__V1__UploadFilesRequest up =
        NOXRUNNER__V1__UPLOAD_FILES_REQUEST__INIT;

    create("s1", 1);
    up.session_id = "s1";
    up.tar_gz.data = (uint8_t *)"not a tarball";
    up.tar_gz.len = 13;
    expect_error(call(SANDBOX "UploadFiles", &up.base), 3, NULL);
}
END_TEST

/* An ArchiveFormat value this server does not know (a newer client's) is
 * refused, not guessed at. */
START_TEST(dispatch_rejects_an_unknown_archive_format)
{
    Noxrunner__V1__UploadFilesRequest up =
        NOXRUNNER__V1__UPLOAD_FILES_REQUEST__INIT;
    Noxrunner__V1__DownloadFilesRequest down =
        NOXRUNNER__V1__DOWNLOAD_FILES_REQUEST__INIT;

    create("s1", 1);
    up.session_id = "s1";
    up.tar_gz.data = (uint8_t *)"x";
    up.tar_gz.len = 1;
    up.format = (Noxrunner__V1__ArchiveFormat)7;
    expect_error(call(SANDBOX "UploadFiles", &up.base), 3,
                 "unknown archive format 7");
    down.session_id = "s1";
    down.format = (Noxrunner__V1__ArchiveFormat)5;
    expect_error(call(SANDBOX "DownloadFiles", &down.base), 3,
                 "unknown archive format 5");
}
END_TEST

static Suite *
dispatch_suite(void)
{
    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("envelope");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, dispatch_rejects_garbage_bytes_as_a_malformed_envelope);
    tcase_add_test(tc, dispatch_answers_an_empty_message_with_unknown_method);
    tcase_add_test(tc, dispatch_rejects_a_truncated_envelope);
    tcase_add_test(tc, dispatch_rejects_an_unknown_method);
    tcase_add_test(tc, dispatch_rejects_a_method_of_another_service);
    tcase_add_test(tc, dispatch_keeps_error_messages_valid_utf8);
    tcase_add_test(tc,
                   dispatch_answers_a_spent_deadline_with_deadline_exceeded);
    tcase_add_test(tc, dispatch_rejects_a_malformed_payload);
    tcase_add_test(tc, dispatch_rejects_an_oversized_payload);
    tcase_add_test(tc, dispatch_rejects_an_oversized_reply);
    suite_add_tcase(s, tc);

    tc = tcase_create("rpcs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, dispatch_health_reports_serving_version_and_limit);
    tcase_add_test(tc, dispatch_runs_a_sandbox_lifecycle);
    tcase_add_test(tc, dispatch_touches_lists_and_deletes);
    tcase_add_test(tc, dispatch_lists_nothing_in_an_empty_base_dir);
    tcase_add_test(tc, dispatch_refuses_a_blocked_command);
    tcase_add_test(tc, dispatch_rejects_an_invalid_session_id);
    tcase_add_test(tc, dispatch_rejects_an_empty_command);
    tcase_add_test(tc, dispatch_passes_env_and_stdin_without_a_shell);
    tcase_add_test(tc, dispatch_reports_exit_codes_and_stderr);
    tcase_add_test(tc, dispatch_applies_the_exec_timeout);
    tcase_add_test(tc, dispatch_clamps_the_exec_timeout_to_the_deadline);
    tcase_add_test(tc, dispatch_uploads_and_downloads_files);
    tcase_add_test(tc, dispatch_rejects_a_bad_archive);
    tcase_add_test(tc, dispatch_rejects_an_unknown_archive_format);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(dispatch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
