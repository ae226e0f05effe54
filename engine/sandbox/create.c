/*
 * create.c - CreateSandbox: build a sandbox under a temporary name and
 * rename it into place, or refresh (or repair) the one that is there.
 */
#include "engine_impl.h"

#include "fsutil.h"
#include "sandbox_limits.h"
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Create rounds before giving up: losing a race to a concurrent create
 * costs one round, a concurrent delete another; each round lost is
 * another process's progress, so only an endless churn on one id gets
 * near this. */
#define CREATE_ROUNDS 1000

static nox_err_t
create_check(const nox_create_req_t *r, nox_status_t *st)
{
    static const char *const names[] = {"image", "cpu_limit", "memory_limit",
                                        "ephemeral_storage_limit"};
    const char *const values[] = {r->image, r->cpu_limit, r->memory_limit,
                                  r->storage_limit};
    nox_err_t         rv = nox__session_id_check(r->session_id, st);
    nox_limits_t      l;

    for (size_t i = 0; rv == NOX_OK && i < 4; i++)
        rv = nox__meta_check_str(names[i], values[i], st);
    if (rv == NOX_OK)
        rv = nox__limits_parse(r->cpu_limit, r->memory_limit, r->storage_limit,
                               r->pids_limit, &l, st);
    return rv;
}

static uint32_t
create_ttl(const nox_create_req_t *r)
{
    return r->ttl_seconds ? r->ttl_seconds : NOX_DEFAULT_TTL_SECONDS;
}

/* The limits of r into m (lengths were checked by create_check). */
static void
create_meta_limits(nox_meta_t *m, const nox_create_req_t *r)
{
    (void)snprintf(m->cpu_limit, sizeof(m->cpu_limit), "%s",
                   r->cpu_limit ? r->cpu_limit : "");
    (void)snprintf(m->memory_limit, sizeof(m->memory_limit), "%s",
                   r->memory_limit ? r->memory_limit : "");
    (void)snprintf(m->storage_limit, sizeof(m->storage_limit), "%s",
                   r->storage_limit ? r->storage_limit : "");
    m->pids_limit = r->pids_limit;
}

static void
create_meta(const nox_engine_t *e, nox_meta_t *m, const nox_create_req_t *r)
{
    memset(m, 0, sizeof(*m));
    (void)snprintf(m->session_id, sizeof(m->session_id), "%s", r->session_id);
    m->ttl_seconds = create_ttl(r);
    m->created_at = nox__now();
    m->expires_at = m->created_at + m->ttl_seconds;
    (void)snprintf(m->image, sizeof(m->image), "%s", r->image ? r->image : "");
    create_meta_limits(m, r);
    m->namespaces = e->iso.level == NOX_ISOLATION_NAMESPACES;
    m->allow_network = r->allow_network;
    m->ran = false; /* nothing has run in a new sandbox */
}

/* Give dir_fd the sandbox layout; existing parts are kept. A namespaced
 * sandbox made by root hands workspace/ and tmp/ to the id its commands
 * run as (holder.h); the sandbox directory itself stays root's. */
static nox_err_t
create_layout(int dir_fd, bool namespaces, nox_status_t *st)
{
    if ((mkdirat(dir_fd, "workspace", 0755) != 0 && errno != EEXIST) ||
        (mkdirat(dir_fd, "tmp", 0700) != 0 && errno != EEXIST))
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot create sandbox directory");
    if (namespaces && nox__holder_drops_to_nobody() &&
        (fchownat(dir_fd, "workspace", NOX_SANDBOX_UID, NOX_SANDBOX_GID,
                  AT_SYMLINK_NOFOLLOW) != 0 ||
         fchownat(dir_fd, "tmp", NOX_SANDBOX_UID, NOX_SANDBOX_GID,
                  AT_SYMLINK_NOFOLLOW) != 0))
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot hand the workspace to the sandbox "
                                 "user");
    return NOX_OK;
}

/* Build the sandbox under a temporary name and rename it into place.
 * NOX_EEXIST when another creator won the race. On success sb->sb_fd is
 * the new sandbox, locked since before the rename, so no delete can come
 * between its creation and create_finish. */
static nox_err_t
create_build(nox_engine_t *e, nox_live_sandbox_t *sb, nox_status_t *st)
{
    char      tmp[sizeof(NOX_CREATING_PREFIX) + NOX_SESSION_ID_MAX + 64];
    char      uniq[NOX_UNIQUE_LEN];
    nox_err_t rv;
    int       fd;

    (void)snprintf(tmp, sizeof(tmp), NOX_CREATING_PREFIX "%s.%s",
                   sb->meta.session_id, nox__engine_unique(e, uniq));
    if (mkdirat(e->base_fd, tmp, 0700) != 0)
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "cannot create sandbox directory");
    fd = openat(e->base_fd, tmp,
                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        rv = nox__status_errno(st, NOX_EINTERNAL, errno,
                               "cannot create sandbox directory");
    else if (flock(fd, LOCK_EX) != 0) /* new: nobody else can hold it */
        rv = nox__status_errno(st, NOX_EINTERNAL, errno, "cannot lock sandbox");
    else
        rv = create_layout(fd, sb->meta.namespaces, st);
    if (rv == NOX_OK)
        rv = nox__meta_mark(fd, sb->meta.session_id, st);
    if (rv == NOX_OK)
        rv = nox__meta_write(fd, &sb->meta, st);
    if (rv == NOX_OK &&
        renameat2(e->base_fd, tmp, e->base_fd, sb->name, RENAME_NOREPLACE) != 0)
        rv = errno == EEXIST ? NOX_EEXIST
                             : nox__status_errno(st, NOX_EINTERNAL, errno,
                                                 "cannot create sandbox");
    if (rv == NOX_OK) {
        sb->sb_fd = fd;
        sb->state = NOX_SB_LIVE;
        return NOX_OK;
    }
    (void)nox__rmtree_at(e->base_fd, tmp, NULL); /* else the reaper */
    nox__close(fd);
    return rv;
}

/* Refresh an existing live sandbox's TTL, or repair one whose metadata is
 * damaged (its files are kept). NOX_ENOENT when there is none; an expired
 * one is destroyed first; NOX_EPRECOND when a directory we did not make
 * has the name. On success sb stays locked for create_finish. */
static nox_err_t
create_refresh(nox_engine_t *e, const nox_create_req_t *r,
               nox_live_sandbox_t *sb, nox_status_t *st)
{
    nox_err_t rv = nox__sandbox_lock(e, r->session_id, sb, st);

    if (rv != NOX_OK)
        return rv;
    switch (sb->state) {
    case NOX_SB_FOREIGN:
        return nox__sandbox_foreign(sb, st);
    case NOX_SB_EXPIRED:
        rv = nox__sandbox_destroy(e, sb, st);
        return rv == NOX_OK ? NOX_ENOENT : rv;
    case NOX_SB_BROKEN:
        create_meta(e, &sb->meta, r);
        sb->meta.ran = true; /* its old commands may still run */
        rv = create_layout(sb->sb_fd, sb->meta.namespaces, st);
        break;
    case NOX_SB_LIVE:
        /* Its isolation and network stay as created; TTL and limits are
         * what this request says. */
        sb->meta.ttl_seconds = create_ttl(r);
        sb->meta.expires_at = nox__now() + sb->meta.ttl_seconds;
        create_meta_limits(&sb->meta, r);
        break;
    }
    /* Also marks a sandbox made before the mark existed. */
    if (rv == NOX_OK)
        rv = nox__meta_mark(sb->sb_fd, r->session_id, st);
    if (rv == NOX_OK)
        rv = nox__meta_write(sb->sb_fd, &sb->meta, st);
    if (rv != NOX_OK)
        nox__sandbox_close(sb);
    return rv;
}

/* The sandbox stands, locked: apply its limits, start its holder (so the
 * first Exec pays nothing extra and a failure shows here), fill the
 * report. */
static nox_err_t
create_finish(nox_engine_t *e, nox_live_sandbox_t *sb,
              const nox_create_req_t *r, nox_create_report_t *rep,
              nox_status_t *st)
{
    nox_create_report_t scratch;
    nox_err_t           rv;
    int                 pidfd = -1;

    if (rep == NULL)
        rep = &scratch;
    memset(rep, 0, sizeof(*rep));
    rep->isolation =
        sb->meta.namespaces ? NOX_ISOLATION_NAMESPACES : NOX_ISOLATION_NONE;
    nox__limits_apply(e, &sb->meta, rep);
    if (!sb->meta.namespaces)
        return NOX_OK;
    rv = nox__iso_holder_pidfd(e, r->session_id, sb->sb_fd, sb->path,
                               sb->meta.allow_network, &pidfd, st);
    nox__close(pidfd);
    return rv;
}

/* The sandbox stands (made now when is_new), locked: finish it, release
 * it and answer. */
static nox_err_t
create_done(nox_engine_t *e, nox_live_sandbox_t *sb, const nox_create_req_t *r,
            bool is_new, nox_sandbox_info_t *info, bool *created,
            nox_create_report_t *rep, nox_status_t *st)
{
    nox_err_t rv = create_finish(e, sb, r, rep, st);

    nox__sandbox_close(sb);
    if (rv != NOX_OK)
        return rv;
    nox__sandbox_info(sb, info);
    *created = is_new;
    return NOX_OK;
}

nox_err_t
nox_engine_create(nox_engine_t *e, const nox_create_req_t *r,
                  nox_sandbox_info_t *info, bool *created,
                  nox_create_report_t *rep, nox_status_t *st)
{
    nox_live_sandbox_t sb;
    nox_err_t          rv = create_check(r, st);

    for (int round = 0; rv == NOX_OK && round < CREATE_ROUNDS; round++) {
        /* Both are filesystem work under base_dir (create_done, which
         * may start a namespace holder, is not). */
        rv = nox__fs_no_space(e->base_dir, create_refresh(e, r, &sb, st), st);
        if (rv == NOX_OK)
            return create_done(e, &sb, r, false, info, created, rep, st);
        if (rv != NOX_ENOENT)
            return rv;
        nox__status_clear(st);
        create_meta(e, &sb.meta, r);
        rv = nox__fs_no_space(e->base_dir, create_build(e, &sb, st), st);
        if (rv == NOX_OK)
            return create_done(e, &sb, r, true, info, created, rep, st);
        if (rv == NOX_EEXIST)
            rv = NOX_OK; /* another creator won: refresh theirs */
    }
    if (rv != NOX_OK)
        return rv;
    return nox__status_set(st, NOX_EABORTED,
                           "sandbox %s is being created and deleted "
                           "concurrently; retry",
                           r->session_id);
}
