/* sandbox.c - libnoxrunner's sandbox lifecycle and file RPCs: Create,
 * Touch, Delete, List, Upload, Download and download_workspace. */
#include "client_impl.h"
#include "extract.h"

#include <stdlib.h>
#include <string.h>

/* Copy the reply's limits into s->limits; n_limits counts entries as
 * they are filled, so a partial copy frees with nox_sandbox_free. */
static nox_err_t
sandbox_limits(nox_client_t *c, const Noxrunner__V1__CreateSandboxResponse *r,
               nox_sandbox_t *s)
{
    nox_err_t err = NOX_OK;

    if (r->n_limits == 0)
        return NOX_OK;
    s->limits = calloc(r->n_limits, sizeof(*s->limits));
    if (s->limits == NULL)
        return nox__status_set(&c->last, NOX_ERESOURCE, "out of memory");
    for (size_t i = 0; err == NOX_OK && i < r->n_limits; i++, s->n_limits++) {
        const Noxrunner__V1__LimitStatus *in = r->limits[i];
        nox_client_limit_status_t        *l = &s->limits[i];

        l->applied = in->applied;
        err = nox__client_dup(c, in->name, &l->name);
        if (err == NOX_OK)
            err = nox__client_dup(c, in->value, &l->value);
        if (err == NOX_OK)
            err = nox__client_dup(c, in->detail, &l->detail);
    }
    return err;
}

nox_err_t
nox_client_create(nox_client_t *c, const char *session_id,
                  const nox_create_opts_t *opts, nox_sandbox_t *out)
{
    Noxrunner__V1__CreateSandboxRequest req =
        NOXRUNNER__V1__CREATE_SANDBOX_REQUEST__INIT;
    Noxrunner__V1__CreateSandboxResponse *r;
    ProtobufCMessage                     *resp;
    nox_sandbox_t                         s = {0};
    nox_err_t                             err;

    if (c == NULL)
        return NOX_EINVAL;
    err = nox__client_begin(c, session_id);
    if (err != NOX_OK)
        return err;
    if (out == NULL)
        return nox__client_invalid(c, "create: out is NULL");
    req.session_id = nox__client_str(session_id);
    if (opts != NULL) {
        req.ttl_seconds = opts->ttl_seconds;
        req.image = nox__client_str(opts->image);
        req.cpu_limit = nox__client_str(opts->cpu_limit);
        req.memory_limit = nox__client_str(opts->memory_limit);
        req.ephemeral_storage_limit = nox__client_str(opts->storage_limit);
        req.pids_limit = opts->pids_limit;
        req.allow_network = opts->allow_network;
    }
    err = nox__client_call(c, NOX_RPC_CREATE, &req.base, c->timeout_ms, &resp);
    if (err != NOX_OK)
        return err;
    r = (Noxrunner__V1__CreateSandboxResponse *)resp;
    s.created = r->created;
    err = nox__client_dup(c, r->pod_name, &s.pod_name);
    if (err == NOX_OK)
        err = nox__client_dup(c, r->expires_at, &s.expires_at);
    if (err == NOX_OK)
        err = nox__client_dup(c, r->isolation, &s.isolation);
    if (err == NOX_OK)
        err = sandbox_limits(c, r, &s);
    if (err == NOX_OK)
        *out = s;
    else
        nox_sandbox_free(&s);
    protobuf_c_message_free_unpacked(resp, NULL);
    return err;
}

void
nox_sandbox_free(nox_sandbox_t *s)
{
    if (s == NULL)
        return;
    free(s->pod_name);
    free(s->expires_at);
    free(s->isolation);
    for (size_t i = 0; s->limits != NULL && i < s->n_limits; i++) {
        free(s->limits[i].name);
        free(s->limits[i].value);
        free(s->limits[i].detail);
    }
    free(s->limits);
    memset(s, 0, sizeof(*s));
}

nox_err_t
nox_client_touch(nox_client_t *c, const char *session_id, char **expires_at)
{
    Noxrunner__V1__TouchRequest req = NOXRUNNER__V1__TOUCH_REQUEST__INIT;
    ProtobufCMessage           *resp;
    nox_err_t                   err;

    if (c == NULL)
        return NOX_EINVAL;
    err = nox__client_begin(c, session_id);
    if (err != NOX_OK)
        return err;
    if (expires_at == NULL)
        return nox__client_invalid(c, "touch: expires_at is NULL");
    req.session_id = nox__client_str(session_id);
    err = nox__client_call(c, NOX_RPC_TOUCH, &req.base, c->timeout_ms, &resp);
    if (err != NOX_OK)
        return err;
    err = nox__client_dup(c, ((Noxrunner__V1__TouchResponse *)resp)->expires_at,
                          expires_at);
    protobuf_c_message_free_unpacked(resp, NULL);
    return err;
}

nox_err_t
nox_client_delete(nox_client_t *c, const char *session_id, bool *deleted)
{
    Noxrunner__V1__DeleteSandboxRequest req =
        NOXRUNNER__V1__DELETE_SANDBOX_REQUEST__INIT;
    ProtobufCMessage *resp;
    nox_err_t         err;

    if (c == NULL)
        return NOX_EINVAL;
    err = nox__client_begin(c, session_id);
    if (err != NOX_OK)
        return err;
    req.session_id = nox__client_str(session_id);
    err = nox__client_call(c, NOX_RPC_DELETE, &req.base, c->timeout_ms, &resp);
    if (err != NOX_OK)
        return err;
    if (deleted != NULL)
        *deleted = ((Noxrunner__V1__DeleteSandboxResponse *)resp)->deleted;
    protobuf_c_message_free_unpacked(resp, NULL);
    return NOX_OK;
}

static nox_err_t
sandbox_list_entry(nox_client_t *c, const Noxrunner__V1__SandboxInfo *in,
                   nox_sandbox_info_entry_t *e)
{
    nox_err_t err;

    err = nox__client_dup(c, in->session_id, &e->session_id);
    if (err == NOX_OK)
        err = nox__client_dup(c, in->pod_name, &e->pod_name);
    if (err == NOX_OK)
        err = nox__client_dup(c, in->expires_at, &e->expires_at);
    if (err == NOX_OK)
        err = nox__client_dup(c, in->path, &e->path);
    return err;
}

nox_err_t
nox_client_list(nox_client_t *c, nox_sandbox_list_t *out)
{
    Noxrunner__V1__ListSandboxesRequest req =
        NOXRUNNER__V1__LIST_SANDBOXES_REQUEST__INIT;
    Noxrunner__V1__ListSandboxesResponse *r;
    ProtobufCMessage                     *resp;
    nox_sandbox_list_t                    l = {0};
    nox_err_t                             err = NOX_OK;

    if (c == NULL)
        return NOX_EINVAL;
    if (out == NULL)
        return nox__client_invalid(c, "list: out is NULL");
    err = nox__client_call(c, NOX_RPC_LIST, &req.base, c->timeout_ms, &resp);
    if (err != NOX_OK)
        return err;
    r = (Noxrunner__V1__ListSandboxesResponse *)resp;
    if (r->n_sandboxes > 0) {
        l.items = calloc(r->n_sandboxes, sizeof(*l.items));
        if (l.items == NULL)
            err = nox__status_set(&c->last, NOX_ERESOURCE, "out of memory");
    }
    /* len counts entries as they are filled, so a partial list frees. */
    for (size_t i = 0; err == NOX_OK && i < r->n_sandboxes; i++, l.len++)
        err = sandbox_list_entry(c, r->sandboxes[i], &l.items[i]);
    if (err == NOX_OK)
        *out = l;
    else
        nox_sandbox_list_free(&l);
    protobuf_c_message_free_unpacked(resp, NULL);
    return err;
}

void
nox_sandbox_list_free(nox_sandbox_list_t *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; l->items != NULL && i < l->len; i++) {
        free(l->items[i].session_id);
        free(l->items[i].pod_name);
        free(l->items[i].expires_at);
        free(l->items[i].path);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* ---- files ---- */

nox_err_t
nox_client_upload(nox_client_t *c, const char *session_id, const char *dest,
                  const void *tar_gz, size_t len, uint64_t *files_written)
{
    Noxrunner__V1__UploadFilesRequest req =
        NOXRUNNER__V1__UPLOAD_FILES_REQUEST__INIT;
    ProtobufCMessage *resp;
    nox_err_t         err;

    if (c == NULL)
        return NOX_EINVAL;
    err = nox__client_begin(c, session_id);
    if (err != NOX_OK)
        return err;
    if (tar_gz == NULL && len > 0)
        return nox__client_invalid(c, "upload: tar_gz is NULL");
    req.session_id = nox__client_str(session_id);
    req.dest = nox__client_str(dest);
    req.tar_gz.data = (uint8_t *)tar_gz;
    req.tar_gz.len = tar_gz != NULL ? len : 0;
    req.format = (Noxrunner__V1__ArchiveFormat)c->archive_format;
    err = nox__client_call(c, NOX_RPC_UPLOAD, &req.base, c->timeout_ms, &resp);
    if (err != NOX_OK)
        return err;
    if (files_written != NULL)
        *files_written =
            ((Noxrunner__V1__UploadFilesResponse *)resp)->files_written;
    protobuf_c_message_free_unpacked(resp, NULL);
    return NOX_OK;
}

static nox_err_t
sandbox_download(nox_client_t *c, const char *session_id, const char *src,
                 uint8_t **data, size_t *len)
{
    Noxrunner__V1__DownloadFilesRequest req =
        NOXRUNNER__V1__DOWNLOAD_FILES_REQUEST__INIT;
    ProtobufCBinaryData *b;
    ProtobufCMessage    *resp;
    nox_err_t            err;

    req.session_id = nox__client_str(session_id);
    req.src = nox__client_str(src);
    req.format = (Noxrunner__V1__ArchiveFormat)c->archive_format;
    err =
        nox__client_call(c, NOX_RPC_DOWNLOAD, &req.base, c->timeout_ms, &resp);
    if (err != NOX_OK)
        return err;
    b = &((Noxrunner__V1__DownloadFilesResponse *)resp)->tar_gz;
    /* Take the bytes rather than copy up to max_message_bytes: unpack
     * with the default (NULL) allocator uses malloc, so free() fits, and
     * free_unpacked skips a NULL field. */
    *data = b->data != NULL ? b->data : malloc(1);
    *len = b->len;
    b->data = NULL;
    b->len = 0;
    protobuf_c_message_free_unpacked(resp, NULL);
    if (*data == NULL)
        return nox__status_set(&c->last, NOX_ERESOURCE, "out of memory");
    return NOX_OK;
}

nox_err_t
nox_client_download(nox_client_t *c, const char *session_id, const char *src,
                    uint8_t **tar_gz, size_t *len)
{
    uint8_t  *data;
    size_t    n;
    nox_err_t err;

    if (c == NULL)
        return NOX_EINVAL;
    err = nox__client_begin(c, session_id);
    if (err != NOX_OK)
        return err;
    if (tar_gz == NULL || len == NULL)
        return nox__client_invalid(c, "download: tar_gz or len is NULL");
    err = sandbox_download(c, session_id, src, &data, &n);
    if (err != NOX_OK)
        return err;
    *tar_gz = data;
    *len = n;
    return NOX_OK;
}

nox_err_t
nox_client_download_workspace(nox_client_t *c, const char *session_id,
                              const char *src, const char *local_dir,
                              uint64_t *files)
{
    uint8_t  *data;
    size_t    n;
    nox_err_t err;

    if (c == NULL)
        return NOX_EINVAL;
    err = nox__client_begin(c, session_id);
    if (err != NOX_OK)
        return err;
    if (local_dir == NULL || local_dir[0] == '\0')
        return nox__client_invalid(c, "download_workspace: local_dir is empty");
    err = sandbox_download(c, session_id, src, &data, &n);
    if (err != NOX_OK)
        return err;
    err = nox__extract_tar(data, n, local_dir, files, &c->last);
    free(data);
    return err;
}
