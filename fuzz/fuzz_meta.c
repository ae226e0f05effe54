/*
 * fuzz_meta.c - libFuzzer harness: the sandbox metadata file
 * (engine/meta.c). At isolation level none a command can rewrite it
 * (README "Security model"), so its contents are untrusted.
 *
 * Input: the file's bytes. Two uses of each input:
 *  1. nox__meta_read on it directly: on success the session id is set,
 *     expires_at >= 0, every string ends inside its array, and writing
 *     the result and reading it back gives the same metadata;
 *  2. the file of sandbox "fm", as a command would leave it, then Touch,
 *     List, Download, Create (a refresh), Reap and Delete on the engine:
 *     each fails, if at all, with a message; sandbox "other" is left as
 *     it was whatever "fm"'s metadata claims; nothing outside changes.
 */
#include "fuzz_env.h"
#include "meta.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_SID "fm"
#define META_OTHER "other"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GLOBAL: libFuzzer's entry point takes no context. */
static fuzz_env_t    meta_env;
static nox_engine_t *meta_engine;
static char          meta_other_file[PATH_MAX];
static char          meta_other_text[4096]; /* its metadata file */
static ssize_t       meta_other_len;

static ssize_t
meta_slurp(const char *path, char *buf, size_t len)
{
    int     fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, len);
    (void)close(fd);
    return n;
}

/* The state every input starts from: both sandboxes, nothing else. */
static void
meta_start(void)
{
    fuzz_sandbox_create(meta_engine, META_OTHER);
    fuzz_sandbox_create(meta_engine, META_SID);
    meta_other_len =
        meta_slurp(meta_other_file, meta_other_text, sizeof(meta_other_text));
    if (meta_other_len <= 0)
        fuzz_die("cannot read %s", meta_other_file);
}

static void
meta_setup(void)
{
    fuzz_env_init(&meta_env);
    meta_engine = fuzz_engine_open(&meta_env, NOX_ISOLATION_NONE);
    (void)snprintf(meta_other_file, sizeof(meta_other_file),
                   "%s/" NOX_SANDBOX_PREFIX META_OTHER "/" NOX_META_FILE,
                   meta_env.base);
    meta_start();
}

/* A new directory in the base directory, opened. */
static int
meta_mkdir(const char *name)
{
    char path[PATH_MAX];
    int  fd;

    (void)snprintf(path, sizeof(path), "%s/%s", meta_env.base, name);
    if (mkdir(path, 0700) != 0 ||
        (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        fuzz_die("cannot make %s: %s", path, strerror(errno));
    return fd;
}

static void
meta_write_file(int dir_fd, const char *name, const uint8_t *data, size_t size)
{
    int fd =
        openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0 || nox__write_all(fd, data, size) != 0 || close(fd) != 0)
        fuzz_die("cannot write %s: %s", name, strerror(errno));
}

static void
meta_check_str(const char *field, const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        fuzz_die("metadata %s is not terminated in its %zu bytes", field, cap);
}

/* Abort naming the first field that differs. */
static void
meta_compare(const nox_meta_t *a, const nox_meta_t *b)
{
#define META_SAME_STR(f)                                                       \
    if (strcmp(a->f, b->f) != 0)                                               \
        fuzz_die("metadata %s changed in a write and read: '%s' -> '%s'", #f,  \
                 a->f, b->f);
#define META_SAME_NUM(f)                                                       \
    if (a->f != b->f)                                                          \
        fuzz_die("metadata %s changed in a write and read: %lld -> %lld", #f,  \
                 (long long)a->f, (long long)b->f);
    META_SAME_STR(session_id)
    META_SAME_STR(image)
    META_SAME_STR(cpu_limit)
    META_SAME_STR(memory_limit)
    META_SAME_STR(storage_limit)
    META_SAME_NUM(ttl_seconds)
    META_SAME_NUM(created_at)
    META_SAME_NUM(expires_at)
    META_SAME_NUM(pids_limit)
    META_SAME_NUM(namespaces)
    META_SAME_NUM(allow_network)
    META_SAME_NUM(ran)
#undef META_SAME_STR
#undef META_SAME_NUM
}

/* Use 1: the parser, and its round trip. */
static void
meta_use_parser(int dir_fd, int copy_fd, const uint8_t *data, size_t size)
{
    nox_meta_t   m, again;
    nox_status_t st;

    meta_write_file(dir_fd, NOX_META_FILE, data, size);
    if (nox__meta_read(dir_fd, &m, &st) != NOX_OK) {
        if (st.msg[0] == '\0')
            fuzz_die("metadata refused without a message");
        return;
    }
    meta_check_str("session_id", m.session_id, sizeof(m.session_id));
    meta_check_str("image", m.image, sizeof(m.image));
    meta_check_str("cpu_limit", m.cpu_limit, sizeof(m.cpu_limit));
    meta_check_str("memory_limit", m.memory_limit, sizeof(m.memory_limit));
    meta_check_str("storage_limit", m.storage_limit, sizeof(m.storage_limit));
    if (m.session_id[0] == '\0' || m.expires_at < 0)
        fuzz_die("incomplete metadata accepted");
    if (nox__meta_write(copy_fd, &m, &st) != NOX_OK)
        fuzz_die("cannot write back metadata it read: %s", st.msg);
    if (nox__meta_read(copy_fd, &again, &st) != NOX_OK)
        fuzz_die("cannot read back metadata it wrote: %s", st.msg);
    meta_compare(&m, &again);
}

static void
meta_expect(const char *call, nox_err_t rv, const nox_status_t *st)
{
    if (rv != NOX_OK && st->msg[0] == '\0')
        fuzz_die("%s failed (code %d) without a message", call, (int)rv);
}

/* Use 2: the engine on a sandbox with these metadata. */
static void
meta_use_engine(const uint8_t *data, size_t size)
{
    char                path[PATH_MAX], other[sizeof(meta_other_text)];
    nox_status_t        st;
    int64_t             expires;
    nox_sandbox_info_t *list = NULL, info;
    size_t              n = 0;
    nox_buf_t           tar = NOX_BUF_INIT;
    nox_create_req_t    r;
    bool                flag;

    (void)snprintf(path, sizeof(path), "%s/" NOX_SANDBOX_PREFIX META_SID,
                   meta_env.base);
    int sb_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sb_fd < 0)
        fuzz_die("cannot open %s", path);
    meta_write_file(sb_fd, NOX_META_FILE, data, size);
    (void)close(sb_fd);

    meta_expect("touch", nox_engine_touch(meta_engine, META_SID, &expires, &st),
                &st);
    meta_expect("list", nox_engine_list(meta_engine, &list, &n, &st), &st);
    free(list);
    meta_expect("download",
                nox_engine_download(meta_engine, META_SID, NULL, NOX_TAR_PLAIN,
                                    0, &tar, &st),
                &st);
    nox__buf_free(&tar);
    memset(&r, 0, sizeof(r));
    r.session_id = META_SID;
    meta_expect("create",
                nox_engine_create(meta_engine, &r, &info, &flag, NULL, &st),
                &st);
    meta_expect("reap", nox_engine_reap(meta_engine, NULL, &st), &st);
    meta_expect("delete", nox_engine_delete(meta_engine, META_SID, &flag, &st),
                &st);

    fuzz_check_outside(&meta_env, "after the engine calls");
    if (meta_slurp(meta_other_file, other, sizeof(other)) != meta_other_len ||
        memcmp(other, meta_other_text, (size_t)meta_other_len) != 0)
        fuzz_die("sandbox '" META_OTHER "' was changed or removed");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int dir_fd, copy_fd;

    if (meta_engine == NULL)
        meta_setup();
    meta_use_engine(data, size);
    fuzz_empty_dir(meta_env.base);
    dir_fd = meta_mkdir("parse");
    copy_fd = meta_mkdir("copy");
    meta_use_parser(dir_fd, copy_fd, data, size);
    (void)close(dir_fd);
    (void)close(copy_fd);
    fuzz_empty_dir(meta_env.base);
    meta_start();
    return 0;
}
