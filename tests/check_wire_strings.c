/* check_wire_strings.c - string fields holding a NUL byte: the wire scan
 * that finds them (nox__wire_check_strings), and the dispatcher refusing
 * every request that carries one, with nothing done on disk. */
#include "dispatch.h"
#include "wire_strings.h"
#include "testenvelope.h"
#include "testutil.h"

#include "noxrunner/v1/sandbox.pb-c.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BYTES (1024 * 1024)
#define SANDBOX "/noxrunner.v1.Sandbox/"
#define INVALID_ARGUMENT 3

/* ---- helpers ---- */

/* Pack msg into a malloc'd buffer (*len: its size) and put the NUL of
 * marker in it (marker NULL: none). */
static uint8_t *
pack_nul(const ProtobufCMessage *msg, const char *marker, size_t *len)
{
    uint8_t *p;

    *len = protobuf_c_message_get_packed_size(msg);
    p = malloc(*len ? *len : 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(protobuf_c_message_pack(msg, p), *len);
    if (marker != NULL)
        tu_put_nul(p, *len, marker);
    return p;
}

/* Scan msg, packed with the NUL of marker put in; returns the status. */
static nox_err_t
scan(const ProtobufCMessage *msg, const char *marker, nox_status_t *st)
{
    size_t    len;
    uint8_t  *p = pack_nul(msg, marker, &len);
    nox_err_t rv;

    nox__status_clear(st);
    rv = nox__wire_check_strings(msg->descriptor, p, len, st);
    free(p);
    return rv;
}

static void
expect_scan_error(const ProtobufCMessage *msg, const char *marker,
                  const char *want)
{
    nox_status_t st;

    ck_assert_int_eq(scan(msg, marker, &st), NOX_EINVAL);
    ck_assert_int_eq(st.code, NOX_EINVAL);
    ck_assert_str_eq(st.msg, want);
}

/* An ExecRequest with two env entries; its strings live in *e. */
typedef struct {
    Noxrunner__V1__ExecRequest            req;
    Noxrunner__V1__ExecRequest__EnvEntry  entries[2];
    Noxrunner__V1__ExecRequest__EnvEntry *ptrs[2];
} exec_msg_t;

static void
exec_msg(exec_msg_t *e, char **cmd, size_t n_cmd, const char *k0,
         const char *v0, const char *k1, const char *v1)
{
    noxrunner__v1__exec_request__init(&e->req);
    e->req.session_id = (char *)"sess";
    e->req.cmd = cmd;
    e->req.n_cmd = n_cmd;
    e->req.workdir = (char *)"sub/dir";
    for (size_t i = 0; i < 2; i++) {
        noxrunner__v1__exec_request__env_entry__init(&e->entries[i]);
        e->ptrs[i] = &e->entries[i];
    }
    e->entries[0].key = (char *)k0;
    e->entries[0].value = (char *)v0;
    e->entries[1].key = (char *)k1;
    e->entries[1].value = (char *)v1;
    e->req.env = e->ptrs;
    e->req.n_env = 2;
}

/* ---- the scan ---- */

START_TEST(wire_accepts_strings_without_nul_and_nul_in_bytes_fields)
{
    char        *cmd[] = {(char *)"true", (char *)"a b"};
    exec_msg_t   e;
    nox_status_t st;

    exec_msg(&e, cmd, 2, "A", "1", "B", "x\ny");
    e.req.stdin.data = (uint8_t *)"in#put";
    e.req.stdin.len = 6;
    /* stdin is bytes: its NUL is data, not a cut. */
    ck_assert_int_eq(scan(&e.req.base, "in#put", &st), NOX_OK);
    ck_assert_int_eq(scan(&e.req.base, NULL, &st), NOX_OK);
    /* An empty message is zero bytes, possibly at NULL. */
    ck_assert_int_eq(
        nox__wire_check_strings(&noxrunner__v1__exec_request__descriptor, NULL,
                                0, &st),
        NOX_OK);
}
END_TEST

START_TEST(wire_names_a_string_field_holding_nul)
{
    Noxrunner__V1__CreateSandboxRequest c =
        NOXRUNNER__V1__CREATE_SANDBOX_REQUEST__INIT;

    c.session_id = (char *)"zz#evil!";
    c.memory_limit = (char *)"1Gi#";
    expect_scan_error(&c.base, "zz#evil!", "session_id contains a NUL byte");
    expect_scan_error(&c.base, "1Gi#", "memory_limit contains a NUL byte");
}
END_TEST

START_TEST(wire_names_the_element_of_a_repeated_string)
{
    char      *cmd[] = {(char *)"ls", (char *)"-l", (char *)"b#c"};
    exec_msg_t e;

    exec_msg(&e, cmd, 3, "A", "1", "B", "2");
    expect_scan_error(&e.req.base, "b#c", "cmd[2] contains a NUL byte");
    cmd[0] = (char *)"l#s";
    cmd[2] = (char *)"bc";
    expect_scan_error(&e.req.base, "l#s", "cmd[0] contains a NUL byte");
}
END_TEST

START_TEST(wire_names_the_key_or_value_of_a_map_entry)
{
    char      *cmd[] = {(char *)"true"};
    exec_msg_t e;

    exec_msg(&e, cmd, 1, "K#", "1", "B", "2");
    expect_scan_error(&e.req.base, "K#", "env[0].key contains a NUL byte");
    exec_msg(&e, cmd, 1, "A", "1", "B", "x#y");
    expect_scan_error(&e.req.base, "x#y", "env[1].value contains a NUL byte");
}
END_TEST

/* A request of 100,000 env entries (1.5 MB: well under the message
 * limit) is scanned in one pass: naming a repeated field's element
 * re-reads its message, which the scan does only for the field it
 * reports. Before, every entry was named on the way in, and this took
 * about 30 s; the bound is generous for slow machines. */
START_TEST(wire_scans_many_map_entries_in_linear_time)
{
    enum { N = 100000 };
    Noxrunner__V1__ExecRequest            req;
    Noxrunner__V1__ExecRequest__EnvEntry *entries = calloc(N, sizeof(*entries));
    Noxrunner__V1__ExecRequest__EnvEntry **ptrs = calloc(N, sizeof(*ptrs));
    char                                  *cmd[] = {(char *)"true"};
    nox_status_t                           st;
    int64_t                                t0;

    ck_assert_ptr_nonnull(entries);
    ck_assert_ptr_nonnull(ptrs);
    noxrunner__v1__exec_request__init(&req);
    req.session_id = (char *)"sess";
    req.cmd = cmd;
    req.n_cmd = 1;
    for (size_t i = 0; i < N; i++) {
        noxrunner__v1__exec_request__env_entry__init(&entries[i]);
        entries[i].key = (char *)"K";
        entries[i].value = (char *)"v";
        ptrs[i] = &entries[i];
    }
    entries[N - 1].value = (char *)"las#";
    req.env = ptrs;
    req.n_env = N;
    t0 = nox__mono_ms();
    ck_assert_int_eq(scan(&req.base, NULL, &st), NOX_OK);
    expect_scan_error(&req.base, "las#",
                      "env[99999].value contains a NUL byte");
    ck_assert_int_lt(nox__mono_ms() - t0, 5000);
    free(ptrs);
    free(entries);
}
END_TEST

START_TEST(wire_skips_unknown_fields_whatever_they_hold)
{
    /* session_id "s", then field 99 (length-delimited) holding "a\0b": a
     * newer client's field, which protobuf-c keeps aside unread. */
    static const uint8_t msg[] = {0x0a, 0x01, 's',  0x9a, 0x06,
                                  0x03, 'a',  0x00, 'b'};
    nox_status_t         st;

    ck_assert_int_eq(
        nox__wire_check_strings(&noxrunner__v1__touch_request__descriptor, msg,
                                sizeof(msg), &st),
        NOX_OK);
}
END_TEST

START_TEST(wire_rejects_malformed_bytes_without_reading_past_them)
{
    static const struct {
        uint8_t bytes[12];
        size_t  len;
    } bad[] = {
        {{0x0a, 0x05, 's'}, 3},  /* length > rest */
        {{0x0a}, 1},             /* no length */
        {{0x08, 0xff, 0xff}, 3}, /* varint cut */
        {{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0x01},
         12},                                    /* 11-byte varint */
        {{0x0b, 0x0c}, 2},                       /* group */
        {{0x00, 0x00}, 2},                       /* field 0 */
        {{0x11, 0x01, 0x02}, 3},                 /* fixed64 cut */
        {{0x22, 0x04, 0x0a, 0x05, 'k', 'v'}, 6}, /* nested cut */
    };
    nox_status_t st;
    /* Each input sits at the end of its own allocation, so ASan sees any
     * read past it. */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *p = malloc(bad[i].len);

        ck_assert_ptr_nonnull(p);
        memcpy(p, bad[i].bytes, bad[i].len);
        ck_assert_int_eq(
            nox__wire_check_strings(&noxrunner__v1__exec_request__descriptor, p,
                                    bad[i].len, &st),
            NOX_EINVAL);
        ck_assert_msg(strcmp(st.msg, "malformed ExecRequest message") == 0 ||
                          strcmp(st.msg, "malformed EnvEntry message") == 0,
                      "input %zu: %s", i, st.msg);
        free(p);
    }
}
END_TEST

/* ---- the dispatcher ---- */

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

/* Dispatch raw bytes; returns the unpacked reply (free it). */
static Noxrunner__V1__RpcResponse *
raw(const uint8_t *req, size_t len)
{
    return tu_dispatch_raw(&dctx, req, len);
}

/* Call method with msg as payload, the NUL of marker put in (NULL: none). */
static Noxrunner__V1__RpcResponse *
call_nul(const char *method, const ProtobufCMessage *msg, const char *marker)
{
    size_t                      plen, len;
    uint8_t                    *p = pack_nul(msg, marker, &plen);
    uint8_t                    *req = tu_envelope(method, p, plen, 0, &len);
    Noxrunner__V1__RpcResponse *r = raw(req, len);

    free(req);
    free(p);
    return r;
}

static void
expect_code(Noxrunner__V1__RpcResponse *r, int code, const char *msg)
{
    ck_assert_msg(r->code == code, "code %d: %s", r->code, r->message);
    ck_assert_str_eq(r->message, msg);
    noxrunner__v1__rpc_response__free_unpacked(r, NULL);
}

static void
create(const char *sid)
{
    Noxrunner__V1__CreateSandboxRequest c =
        NOXRUNNER__V1__CREATE_SANDBOX_REQUEST__INIT;

    c.session_id = (char *)sid;
    expect_code(call_nul(SANDBOX "CreateSandbox", &c.base, NULL), 0, "");
}

/* Assert no entry of dir has a name holding part. */
static void
expect_no_entry_named(const char *dir, const char *part)
{
    DIR           *d = opendir(dir);
    struct dirent *de;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        ck_assert_msg(strstr(de->d_name, part) == NULL, "%s/%s exists", dir,
                      de->d_name);
    ck_assert_int_eq(closedir(d), 0);
}

START_TEST(dispatch_refuses_a_session_id_holding_nul_and_creates_nothing)
{
    Noxrunner__V1__CreateSandboxRequest c =
        NOXRUNNER__V1__CREATE_SANDBOX_REQUEST__INIT;

    c.session_id = (char *)"zz#evil!";
    expect_code(call_nul(SANDBOX "CreateSandbox", &c.base, "zz#evil!"),
                INVALID_ARGUMENT, "session_id contains a NUL byte");
    expect_no_entry_named(base, "zz");
}
END_TEST

START_TEST(dispatch_refuses_nul_in_every_create_string)
{
    static const char *const markers[] = {"ub#untu", "50#0m", "1G#i", "2M#i"};
    static const char *const fields[] = {"image", "cpu_limit", "memory_limit",
                                         "ephemeral_storage_limit"};
    char                     want[96];

    for (size_t i = 0; i < 4; i++) {
        Noxrunner__V1__CreateSandboxRequest c =
            NOXRUNNER__V1__CREATE_SANDBOX_REQUEST__INIT;
        char **slot[] = {&c.image, &c.cpu_limit, &c.memory_limit,
                         &c.ephemeral_storage_limit};

        c.session_id = (char *)"lim";
        *slot[i] = (char *)markers[i];
        snprintf(want, sizeof(want), "%s contains a NUL byte", fields[i]);
        expect_code(call_nul(SANDBOX "CreateSandbox", &c.base, markers[i]),
                    INVALID_ARGUMENT, want);
    }
    expect_no_entry_named(base, "lim");
}
END_TEST

START_TEST(dispatch_refuses_touch_and_delete_of_a_session_id_cut_at_nul)
{
    Noxrunner__V1__TouchRequest         t = NOXRUNNER__V1__TOUCH_REQUEST__INIT;
    Noxrunner__V1__DeleteSandboxRequest d =
        NOXRUNNER__V1__DELETE_SANDBOX_REQUEST__INIT;

    create("bi");
    t.session_id = (char *)"bi#x";
    expect_code(call_nul(SANDBOX "Touch", &t.base, "bi#x"), INVALID_ARGUMENT,
                "session_id contains a NUL byte");
    d.session_id = (char *)"bi#x";
    expect_code(call_nul(SANDBOX "DeleteSandbox", &d.base, "bi#x"),
                INVALID_ARGUMENT, "session_id contains a NUL byte");
    ck_assert(tu_exists(base, "noxrunner_sandbox_bi/workspace"));
}
END_TEST

START_TEST(dispatch_refuses_nul_in_exec_session_argv_workdir_and_env)
{
    char      *cmd[] = {(char *)"touch", (char *)"made"};
    exec_msg_t e;

    create("sess");
    exec_msg(&e, cmd, 2, "A", "1", "B", "2");
    /* The cut names would all work: sandbox "sess", argv "touch made",
     * workdir "sub" (made here), env A and B. */
    e.req.workdir = (char *)"sub";
    expect_code(call_nul(SANDBOX "Exec", &e.req.base, NULL), 0, "");
    ck_assert(tu_exists(base, "noxrunner_sandbox_sess/workspace/sub/made"));
    e.req.workdir = (char *)"sub#dir";
    expect_code(call_nul(SANDBOX "Exec", &e.req.base, "sub#dir"),
                INVALID_ARGUMENT, "workdir contains a NUL byte");
    e.req.workdir = (char *)"";
    e.req.session_id = (char *)"sess#2";
    expect_code(call_nul(SANDBOX "Exec", &e.req.base, "sess#2"),
                INVALID_ARGUMENT, "session_id contains a NUL byte");
    e.req.session_id = (char *)"sess";
    cmd[1] = (char *)"x#y";
    expect_code(call_nul(SANDBOX "Exec", &e.req.base, "x#y"), INVALID_ARGUMENT,
                "cmd[1] contains a NUL byte");
    cmd[1] = (char *)"made";
    exec_msg(&e, cmd, 2, "A", "1", "B#C", "2");
    expect_code(call_nul(SANDBOX "Exec", &e.req.base, "B#C"), INVALID_ARGUMENT,
                "env[1].key contains a NUL byte");
    exec_msg(&e, cmd, 2, "A", "1#0", "B", "2");
    expect_code(call_nul(SANDBOX "Exec", &e.req.base, "1#0"), INVALID_ARGUMENT,
                "env[0].value contains a NUL byte");
    ck_assert(!tu_exists(base, "noxrunner_sandbox_sess/workspace/made"));
}
END_TEST

START_TEST(dispatch_refuses_env_keys_with_a_newline_or_equals)
{
    char      *cmd[] = {(char *)"true"};
    exec_msg_t e;

    create("envs");
    exec_msg(&e, cmd, 1, "A\nB", "1", "C", "2");
    e.req.session_id = (char *)"envs";
    /* The message shows the name's control characters escaped. */
    expect_code(call_nul(SANDBOX "Exec", &e.req.base, NULL), INVALID_ARGUMENT,
                "invalid environment variable name: 'A\\x0aB'");
    exec_msg(&e, cmd, 1, "A", "1", "C=D", "2");
    e.req.session_id = (char *)"envs";
    expect_code(call_nul(SANDBOX "Exec", &e.req.base, NULL), INVALID_ARGUMENT,
                "invalid environment variable name: 'C=D'");
}
END_TEST

START_TEST(dispatch_refuses_nul_in_upload_dest_and_download_src)
{
    Noxrunner__V1__UploadFilesRequest u =
        NOXRUNNER__V1__UPLOAD_FILES_REQUEST__INIT;
    Noxrunner__V1__DownloadFilesRequest d =
        NOXRUNNER__V1__DOWNLOAD_FILES_REQUEST__INIT;

    create("files");
    u.session_id = (char *)"files";
    u.dest = (char *)"d#x";
    expect_code(call_nul(SANDBOX "UploadFiles", &u.base, "d#x"),
                INVALID_ARGUMENT, "dest contains a NUL byte");
    ck_assert(!tu_exists(base, "noxrunner_sandbox_files/workspace/d"));
    d.session_id = (char *)"files";
    d.src = (char *)".#x";
    expect_code(call_nul(SANDBOX "DownloadFiles", &d.base, ".#x"),
                INVALID_ARGUMENT, "src contains a NUL byte");
}
END_TEST

START_TEST(dispatch_refuses_a_method_name_cut_at_nul)
{
    size_t   len;
    uint8_t *req = tu_envelope(SANDBOX "Health#trailer", NULL, 0, 0, &len);

    tu_put_nul(req, len, "Health#trailer");
    expect_code(raw(req, len), INVALID_ARGUMENT, "method contains a NUL byte");
    free(req);
}
END_TEST

Suite *
wire_strings_suite(void)
{
    Suite *s = suite_create("wire_strings");
    TCase *tc = tcase_create("scan");

    tcase_add_test(tc,
                   wire_accepts_strings_without_nul_and_nul_in_bytes_fields);
    tcase_add_test(tc, wire_names_a_string_field_holding_nul);
    tcase_add_test(tc, wire_names_the_element_of_a_repeated_string);
    tcase_add_test(tc, wire_scans_many_map_entries_in_linear_time);
    tcase_add_test(tc, wire_names_the_key_or_value_of_a_map_entry);
    tcase_add_test(tc, wire_skips_unknown_fields_whatever_they_hold);
    tcase_add_test(tc, wire_rejects_malformed_bytes_without_reading_past_them);
    suite_add_tcase(s, tc);

    tc = tcase_create("dispatch");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(
        tc, dispatch_refuses_a_session_id_holding_nul_and_creates_nothing);
    tcase_add_test(tc, dispatch_refuses_nul_in_every_create_string);
    tcase_add_test(
        tc, dispatch_refuses_touch_and_delete_of_a_session_id_cut_at_nul);
    tcase_add_test(tc,
                   dispatch_refuses_nul_in_exec_session_argv_workdir_and_env);
    tcase_add_test(tc, dispatch_refuses_env_keys_with_a_newline_or_equals);
    tcase_add_test(tc, dispatch_refuses_nul_in_upload_dest_and_download_src);
    tcase_add_test(tc, dispatch_refuses_a_method_name_cut_at_nul);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(wire_strings_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
