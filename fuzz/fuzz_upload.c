/*
 * fuzz_upload.c - libFuzzer harness: UploadFiles archives into a sandbox,
 * with what a command could have left in the workspace before them.
 *
 * Input: one byte choosing the sandbox (bit 0: the namespaces-level one,
 * when this machine has namespaces; else the none-level one), then up to
 * UPLOAD_MAX_RECORDS records:
 *   kind (1 byte)  bits 0-1: 0 tar.gz, 1 tar, 2 tar.zst upload;
 *                            3 plant a symlink, as a command could
 *   name           NUL-terminated: the upload's dest, or the link's name
 *                  (one component, made in the workspace root)
 *   length (2 bytes, little-endian), then that many bytes (fewer if the
 *                  input ends): the archive, or the link's target
 * A planted target is relative and must resolve inside the workspace, or
 * "@canary..." for a path in the canary directory (fuzz_env.h): a link out
 * that the engine must neither write through nor be blamed for. Other
 * targets are not planted.
 *
 * After every record: nothing beside the base directory changed, and the
 * only symlinks in the workspace that resolve outside it are planted
 * canary links, still as planted. The workspace is emptied after each
 * input.
 */
#include "fuzz_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UPLOAD_MAX_RECORDS 4
#define UPLOAD_KIND_LINK 3
#define UPLOAD_CANARY "@canary"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GLOBAL: libFuzzer's entry point takes no context. */
static fuzz_env_t upload_env;
static struct {
    nox_engine_t *engine;
    const char   *sid;
    char          ws[PATH_MAX]; /* its workspace, a real path */
} upload_sb[2];                 /* [0] level none, [1] namespaces */
static size_t upload_n_sb;
/* The canary links planted by this input. */
static struct {
    char path[PATH_MAX];
    char target[PATH_MAX];
} upload_out[UPLOAD_MAX_RECORDS];
static size_t upload_n_out;

static void
upload_add(nox_engine_t *e, const char *sid)
{
    char ws[PATH_MAX];

    fuzz_sandbox_create(e, sid);
    fuzz_workspace_path(&upload_env, sid, ws);
    upload_sb[upload_n_sb].engine = e;
    upload_sb[upload_n_sb].sid = sid;
    if (realpath(ws, upload_sb[upload_n_sb].ws) == NULL)
        fuzz_die("cannot resolve %s", ws);
    upload_n_sb++;
}

static void
upload_setup(void)
{
    nox_engine_t *ns;

    fuzz_env_init(&upload_env);
    upload_add(fuzz_engine_open(&upload_env, NOX_ISOLATION_NONE), "fz");
    /* Extraction is the same code at both levels, but at namespaces it
     * runs with the sandbox user's file system identity when we are root. */
    ns = fuzz_engine_open(&upload_env, NOX_ISOLATION_AUTO);
    if (nox_engine_isolation(ns, NULL) == NOX_ISOLATION_NAMESPACES)
        upload_add(ns, "fzn");
}

/* How many planted canary links are still there as planted. */
static size_t
upload_out_intact(void)
{
    char    target[PATH_MAX];
    size_t  n = 0;
    ssize_t len;

    for (size_t i = 0; i < upload_n_out; i++) {
        len = readlink(upload_out[i].path, target, sizeof(target) - 1);
        if (len < 0)
            continue;
        target[len] = '\0';
        if (strcmp(target, upload_out[i].target) == 0)
            n++;
    }
    return n;
}

/* Plant name -> target in the workspace ws as a command could: see the
 * file comment for the targets allowed. A relative target is planted,
 * then removed again if it leads out of the workspace. */
static void
upload_plant(const char *ws, const char *name, const char *target)
{
    char path[PATH_MAX], real_target[PATH_MAX], found[2 * PATH_MAX + 8];
    int  n;

    if (name[0] == '\0' || strchr(name, '/') != NULL ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || target[0] == '\0')
        return;
    bool out = strncmp(target, UPLOAD_CANARY, strlen(UPLOAD_CANARY)) == 0;
    if (out)
        n = snprintf(real_target, sizeof(real_target), "%s%s",
                     upload_env.canary, target + strlen(UPLOAD_CANARY));
    else if (target[0] == '/')
        return;
    else
        n = snprintf(real_target, sizeof(real_target), "%s", target);
    if (n < 0 || (size_t)n >= sizeof(real_target))
        return;
    n = snprintf(path, sizeof(path), "%s/%s", ws, name);
    if (n < 0 || (size_t)n >= sizeof(path) || symlink(real_target, path) != 0)
        return; /* an existing name, say: the command's ln failed */
    if (out) {
        if (!fuzz_path_within(real_target, upload_env.canary) ||
            strstr(real_target, "/..") != NULL)
            goto undo; /* "@canary..x", "@canary/../x" */
        strcpy(upload_out[upload_n_out].path, path);
        strcpy(upload_out[upload_n_out].target, real_target);
        upload_n_out++;
        return;
    }
    if (fuzz_escaping_links(ws, found, sizeof(found)) <= upload_out_intact())
        return;
undo:
    if (unlink(path) != 0)
        fuzz_die("cannot remove %s: %s", path, strerror(errno));
}

static void
upload_check(const char *ws, const char *what)
{
    char   found[2 * PATH_MAX + 8];
    size_t n, planted;

    fuzz_check_outside(&upload_env, what);
    n = fuzz_escaping_links(ws, found, sizeof(found));
    planted = upload_out_intact();
    if (n > planted)
        fuzz_die("%s: %zu symlinks lead out of the workspace, %zu of them "
                 "planted; the first: %s",
                 what, n, planted, found);
}

/* One record at data[*pos]; false when the input has no more. */
static bool
upload_record(size_t sbi, const uint8_t *data, size_t size, size_t *pos)
{
    char           name[PATH_MAX], target[PATH_MAX];
    size_t         p = *pos, len;
    const uint8_t *nul;
    nox_status_t   st;
    uint64_t       written;

    if (p >= size)
        return false;
    unsigned kind = data[p++] & 3;
    nul = memchr(data + p, '\0', size - p);
    if (nul == NULL || (size_t)(nul - (data + p)) >= sizeof(name))
        return false;
    memcpy(name, data + p, (size_t)(nul - (data + p)) + 1);
    p = (size_t)(nul - data) + 1;
    len = p + 2 <= size ? (size_t)data[p] | (size_t)data[p + 1] << 8 : 0;
    p = p + 2 <= size ? p + 2 : size;
    if (len > size - p)
        len = size - p;
    *pos = p + len;
    if (kind == UPLOAD_KIND_LINK) {
        size_t n = len < sizeof(target) - 1 ? len : sizeof(target) - 1;
        memcpy(target, data + p, n);
        target[n] = '\0'; /* a command's target ends at a NUL too */
        upload_plant(upload_sb[sbi].ws, name, target);
        return true;
    }
    if (nox_engine_upload(upload_sb[sbi].engine, upload_sb[sbi].sid, name,
                          (nox_tar_format_t)kind, data + p, len, &written,
                          &st) != NOX_OK &&
        st.msg[0] == '\0')
        fuzz_die("upload failed (code %d) without a message", (int)st.code);
    upload_check(upload_sb[sbi].ws, "after an upload");
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 1, sbi;

    if (upload_n_sb == 0)
        upload_setup();
    if (size == 0)
        return 0;
    sbi = (data[0] & 1) && upload_n_sb > 1 ? 1 : 0;
    upload_n_out = 0;
    for (int i = 0; i < UPLOAD_MAX_RECORDS; i++)
        if (!upload_record(sbi, data, size, &pos))
            break;
    upload_check(upload_sb[sbi].ws, "after the input");
    fuzz_empty_dir(upload_sb[sbi].ws);
    return 0;
}
