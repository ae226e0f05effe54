/*
 * exec.c - Exec: request checks, the command's clean environment and
 * confinement, and what happens around a run: the sandbox it runs in is
 * held (workspace lock) from the start until the runner (runner.c) says
 * the command is done.
 */
#include "engine_impl.h"

#include "fsutil.h"
#include "sandbox_limits.h"
#include "paths.h"
#include "policy.h"
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXEC_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define EXEC_BASE_ENV 6 /* PATH HOME PWD TMPDIR LANG NOXRUNNER_SESSION_ID */

/* ------------------------------------------------------------------ */
/* One Exec from start to done                                         */
/* ------------------------------------------------------------------ */

/* What an Exec keeps while its command runs. */
typedef struct {
    nox_engine_t      *engine;
    nox_live_sandbox_t sb;
    int                ws_fd; /* holds the shared lock: busy for reapers */
    bool               memory_limit; /* watch for OOM kills */
    uint64_t           oom_before;
    nox_exec_done_fn   done;
    void              *arg;
    atomic_bool vanished; /* exec_on_start killed it: the sandbox is gone */
} exec_job_t;

/* Runs as soon as the command exists and is registered with the runner.
 * Checking then that the sandbox still stands closes the race with a
 * concurrent DeleteSandbox: either the delete sees the registration and
 * kills the group (a command killed while running: SIGNALED), or we see
 * the rename and kill it ourselves: then it never ran in a sandbox that
 * existed, and the caller hears NOT_FOUND (exec_on_done). */
static void
exec_on_start(void *arg, pid_t pgid)
{
    exec_job_t *j = arg;
    struct stat now, then;

    if (fstatat(j->engine->base_fd, j->sb.name, &now, AT_SYMLINK_NOFOLLOW) !=
            0 ||
        fstat(j->sb.sb_fd, &then) != 0 || now.st_ino != then.st_ino ||
        now.st_dev != then.st_dev) {
        atomic_store(&j->vanished, true);
        (void)kill(-pgid, SIGKILL);
    }
}

static void
exec_job_free(exec_job_t *j)
{
    nox__close(j->ws_fd); /* releases the busy lock */
    nox__sandbox_close(&j->sb);
    free(j);
}

/* The runner's done function (on its event thread). */
static void
exec_on_done(void *arg, nox_err_t rv, nox_exec_result_t *res,
             const nox_status_t *st)
{
    exec_job_t   *j = arg;
    nox_engine_t *e = j->engine;
    nox_status_t  fin = *st;

    /* Its sandbox was deleted before the command got going: the kill is
     * ours, not an outcome of the command. */
    if (rv == NOX_OK && atomic_load(&j->vanished)) {
        nox_exec_result_free(res);
        *res = (nox_exec_result_t)NOX_EXEC_RESULT_INIT;
        rv = nox__status_set(&fin, NOX_ENOENT,
                             "sandbox not found: %s (deleted meanwhile)",
                             j->sb.meta.session_id);
    }
    /* A SIGKILL while the sandbox's memory group counted an OOM kill is
     * the memory limit (a concurrent command of the same sandbox could
     * be the victim instead; the counter cannot tell them apart). */
    if (rv == NOX_OK && j->memory_limit && res->cause == NOX_CAUSE_SIGNALED &&
        res->term_signal == SIGKILL &&
        nox__cgroups_oom_kills(e->cg, j->sb.meta.session_id) > j->oom_before)
        res->cause = NOX_CAUSE_OOM_KILLED;
    /* A command is activity until it ends: the TTL restarts then. */
    if (rv == NOX_OK)
        nox__sandbox_extend(e, &j->sb);
    /* A run that failed in a sandbox deleted meanwhile: it is gone. */
    if (rv != NOX_OK)
        rv = nox__sandbox_finish(e, &j->sb, rv, &fin);
    nox_exec_done_fn done = j->done;
    void            *done_arg = j->arg;
    exec_job_free(j);
    done(done_arg, rv, res, &fin);
}

/* ------------------------------------------------------------------ */
/* Environment                                                         */
/* ------------------------------------------------------------------ */

static nox_err_t
exec_check_env(const nox_exec_req_t *r, nox_status_t *st)
{
    nox_err_t rv;

    for (size_t i = 0; i < r->env_len; i++) {
        rv = nox__policy_check_env_name(r->env[i].name, st);
        if (rv != NOX_OK)
            return rv;
        if (strcmp(r->env[i].name, "NOXRUNNER_SESSION_ID") == 0)
            return nox__status_set(st, NOX_EINVAL,
                                   "environment variable "
                                   "NOXRUNNER_SESSION_ID is reserved");
        if (r->env[i].value == NULL)
            return nox__status_set(st, NOX_EINVAL,
                                   "environment variable '%s' has no value",
                                   r->env[i].name);
    }
    return NOX_OK;
}

/* Set name=value in envp (n entries): replace an entry with the same name
 * or append. Returns NULL when out of memory. */
static char *
exec_env_entry(const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    char  *s = malloc(nl + vl + 2);

    if (s == NULL)
        return NULL;
    memcpy(s, name, nl);
    s[nl] = '=';
    memcpy(s + nl + 1, value, vl + 1);
    return s;
}

static void
exec_env_free(char **envp)
{
    if (envp == NULL)
        return;
    for (char **p = envp; *p != NULL; p++)
        free(*p);
    free(envp);
}

/* Build the clean environment: the base set, then the request's entries
 * (which replace base entries of the same name). NULL when out of memory
 * or when a path does not fit. */
static char **
exec_env_build(const nox_live_sandbox_t *sb, const char *cwd_rel,
               const nox_exec_req_t *r)
{
    char   home[NOX_SANDBOX_PATH_MAX + 16], tmpdir[NOX_SANDBOX_PATH_MAX + 16];
    char   pwd[NOX_SANDBOX_PATH_MAX + PATH_MAX + 16];
    size_t n = 0, total = EXEC_BASE_ENV + r->env_len + 1;
    char **envp;
    int    lh, lt, lp;

    /* Inside namespaces the command sees the sandbox at /workspace and
     * /tmp; on the host, at their real paths. */
    if (sb->meta.namespaces) {
        lh = snprintf(home, sizeof(home), "/workspace");
        lt = snprintf(tmpdir, sizeof(tmpdir), "/tmp");
    } else {
        lh = snprintf(home, sizeof(home), "%s/workspace", sb->path);
        lt = snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", sb->path);
    }
    lp = snprintf(pwd, sizeof(pwd), "%s%s%s", home, cwd_rel[0] ? "/" : "",
                  cwd_rel);
    if (lh < 0 || (size_t)lh >= sizeof(home) || lt < 0 ||
        (size_t)lt >= sizeof(tmpdir) || lp < 0 || (size_t)lp >= sizeof(pwd))
        return NULL;
    envp = calloc(total, sizeof(*envp));
    if (envp == NULL)
        return NULL;
    const char *base[EXEC_BASE_ENV][2] = {
        {"PATH", EXEC_DEFAULT_PATH},
        {"HOME", home},
        {"PWD", pwd},
        {"TMPDIR", tmpdir},
        {"LANG", "C.UTF-8"},
        {"NOXRUNNER_SESSION_ID", sb->meta.session_id},
    };
    for (size_t i = 0; i < EXEC_BASE_ENV; i++) {
        envp[n] = exec_env_entry(base[i][0], base[i][1]);
        if (envp[n] == NULL)
            goto fail; /* n is not used past here */
        n++;
    }
    for (size_t i = 0; i < r->env_len; i++) {
        size_t nl = strlen(r->env[i].name), j;
        for (j = 0; j < n; j++)
            if (strncmp(envp[j], r->env[i].name, nl) == 0 && envp[j][nl] == '=')
                break;
        char *ent = exec_env_entry(r->env[i].name, r->env[i].value);
        if (ent == NULL)
            goto fail;
        if (j < n)
            free(envp[j]);
        else
            n++;
        envp[j] = ent;
    }
    return envp;
fail:
    exec_env_free(envp);
    return NULL;
}

static const char *
exec_env_get(char **envp, const char *name)
{
    size_t nl = strlen(name);

    for (char **p = envp; *p != NULL; p++)
        if (strncmp(*p, name, nl) == 0 && (*p)[nl] == '=')
            return *p + nl + 1;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Exec                                                                */
/* ------------------------------------------------------------------ */

static nox_err_t
exec_check(const nox_exec_req_t *r, nox_status_t *st)
{
    nox_err_t rv;

    rv = nox__session_id_check(r->session_id, st);
    if (rv == NOX_OK)
        rv = nox__policy_check_argv(r->argv, r->argc, st);
    if (rv == NOX_OK)
        rv = exec_check_env(r, st);
    if (rv != NOX_OK)
        return rv;
    for (size_t i = 0; i < r->argc; i++)
        if (r->argv[i] == NULL)
            return nox__status_set(st, NOX_EINVAL, "argv[%zu] is NULL", i);
    return NOX_OK;
}

/* What a command of sb runs under besides its argv: the holder to join
 * (namespaced sandboxes), its cgroups, its file-size limit. */
typedef struct {
    int      pidfd;     /* -1: not namespaced */
    int      cg_fds[3]; /* cgroup.procs of the sandbox's groups */
    size_t   n_cg;
    int      cg_late[1]; /* namespaces: the memory group, after execve */
    size_t   n_cg_late;
    uint64_t fsize;        /* RLIMIT_FSIZE; 0: none */
    bool     memory_limit; /* watch for OOM kills */
    uint64_t oom_before;
} exec_confine_t;

static nox_err_t
exec_confine(nox_engine_t *e, const nox_live_sandbox_t *sb, exec_confine_t *c,
             nox_status_t *st)
{
    nox_limits_t l;
    int          fds[NOX_CG_COUNT];
    int          n;

    memset(c, 0, sizeof(*c));
    c->pidfd = -1;
    if (nox__limits_parse(sb->meta.cpu_limit, sb->meta.memory_limit,
                          sb->meta.storage_limit, sb->meta.pids_limit, &l,
                          NULL) == NOX_OK) {
        c->fsize = l.storage_bytes;
        c->memory_limit = l.memory_bytes != 0;
    }
    /* A sandbox without cgroup limits has no groups: no lookups then. */
    bool grouped = l.cpu_millis != 0 || l.memory_bytes != 0 || l.pids != 0;
    n = grouped ? nox__cgroups_open_procs(e->cg, sb->meta.session_id, fds) : 0;
    /* Groups are removed when idle at engine close; rebuild them from the
     * metadata when the sandbox has limits they carry. */
    if (grouped && n == 0) {
        nox__limits_apply(e, &sb->meta, NULL);
        n = nox__cgroups_open_procs(e->cg, sb->meta.session_id, fds);
    }
    /* Namespaced commands join the memory group after their execve
     * (spawn_child.c says why). */
    for (int i = 0; n > 0 && i < NOX_CG_COUNT; i++) {
        if (fds[i] < 0)
            continue;
        if (sb->meta.namespaces && i == NOX_CG_MEMORY)
            c->cg_late[c->n_cg_late++] = fds[i];
        else
            c->cg_fds[c->n_cg++] = fds[i];
    }
    if (c->memory_limit)
        c->oom_before = nox__cgroups_oom_kills(e->cg, sb->meta.session_id);
    if (!sb->meta.namespaces)
        return NOX_OK;
    return nox__iso_holder_pidfd(e, sb->meta.session_id, sb->sb_fd, sb->path,
                                 sb->meta.allow_network, &c->pidfd, st);
}

static void
exec_unconfine(exec_confine_t *c)
{
    for (size_t i = 0; i < c->n_cg; i++)
        nox__close(c->cg_fds[i]);
    for (size_t i = 0; i < c->n_cg_late; i++)
        nox__close(c->cg_late[i]);
    c->n_cg = c->n_cg_late = 0;
    nox__close(c->pidfd);
    c->pidfd = -1;
}

/* Start the command of r in the opened sandbox of j. */
static nox_err_t
exec_launch(exec_job_t *j, int cwd_fd, const char *cwd_rel,
            const nox_exec_req_t *r, nox_status_t *st)
{
    nox_engine_t       *e = j->engine;
    nox_live_sandbox_t *sb = &j->sb;
    exec_confine_t      c;
    nox_err_t           rv;
    char              **envp = exec_env_build(sb, cwd_rel, r);
    const char        **argv = calloc(r->argc + 1, sizeof(*argv));

    rv = exec_confine(e, sb, &c, st);
    if (rv != NOX_OK)
        goto out;
    if (envp == NULL || argv == NULL) {
        rv = nox__status_set(st, NOX_ERESOURCE, "out of memory");
        goto out;
    }
    memcpy(argv, r->argv, r->argc * sizeof(*argv));
    nox_spawn_opts_t o = {
        .argv = argv,
        .envp = (const char *const *)envp,
        .path_env = exec_env_get(envp, "PATH"),
        .cwd_fd = cwd_fd,
        .stdin_data = r->stdin_data,
        .stdin_len = r->stdin_data ? r->stdin_len : 0,
        .timeout_ms =
            r->timeout_ms > 0 ? r->timeout_ms : NOX_DEFAULT_TIMEOUT_MS,
        .output_cap = e->output_cap,
        .output_kill = e->output_kill,
        .cg_fds = c.cg_fds,
        .n_cg = c.n_cg,
        .cg_late_fds = c.cg_late,
        .n_cg_late = c.n_cg_late,
        .fsize_limit = c.fsize,
        .isolate = c.pidfd >= 0,
        .ns_pidfd = c.pidfd,
        .join_net = !sb->meta.allow_network,
        .drop_to_nobody = nox__holder_drops_to_nobody(),
        .cwd_rel = cwd_rel,
    };
    j->memory_limit = c.memory_limit;
    j->oom_before = c.oom_before;
    nox__warn_exec(&e->warn, sb->meta.session_id, r->argv, r->argc);
    /* The command has its own copies of everything but stdin once
     * started: the confinement fds, argv and envp go now. */
    rv = nox__runner_start(e->runner, &o, sb->meta.session_id, exec_on_start,
                           exec_on_done, j, st);
out:
    exec_unconfine(&c);
    free(argv);
    exec_env_free(envp);
    return rv;
}

nox_err_t
nox_engine_exec_start(nox_engine_t *e, const nox_exec_req_t *r,
                      nox_exec_done_fn done, void *arg, nox_status_t *st)
{
    char        rel[PATH_MAX];
    int         cwd_fd = -1;
    exec_job_t *j;
    nox_err_t   rv = exec_check(r, st);

    if (rv != NOX_OK)
        return rv;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    j->engine = e;
    j->ws_fd = -1;
    atomic_init(&j->vanished, false);
    j->done = done;
    j->arg = arg;
    rv = nox__sandbox_open(e, r->session_id, NOX_SB_EXTEND | NOX_SB_RUN, &j->sb,
                           st);
    if (rv != NOX_OK) {
        free(j);
        return rv;
    }
    rv = nox__sandbox_workspace(&j->sb, &j->ws_fd, st);
    if (rv == NOX_OK) {
        /* A workdir the engine creates belongs to the command's user. */
        bool as = nox__fs_as_sandbox_user(j->sb.meta.namespaces, true);
        rv =
            nox__path_open(j->ws_fd, r->workdir, NOX_PATH_DIR | NOX_PATH_CREATE,
                           &cwd_fd, rel, sizeof(rel), NULL, st);
        if (as)
            (void)nox__fs_as_sandbox_user(true, false);
    }
    if (rv == NOX_OK) {
        /* The shared lock marks the sandbox busy for reapers in any
         * process (nox__sandbox_busy) until ws_fd is closed. Without it
         * the reaper could expire a sandbox under a long command; failing
         * to take it only loses that protection. */
        (void)flock(j->ws_fd, LOCK_SH);
        rv = exec_launch(j, cwd_fd, rel, r, st);
    }
    nox__close(cwd_fd);
    if (rv != NOX_OK) { /* done is never called then */
        nox__close(j->ws_fd);
        rv = nox__sandbox_finish(e, &j->sb, rv, st);
        free(j);
    }
    return rv;
}

/* The synchronous Exec: start, then wait for done. */
typedef struct {
    pthread_mutex_t   mu;
    pthread_cond_t    cv;
    bool              finished;
    nox_err_t         rv;
    nox_exec_result_t res;
    nox_status_t      st;
} exec_wait_t;

static void
exec_wait_done(void *arg, nox_err_t rv, nox_exec_result_t *res,
               const nox_status_t *st)
{
    exec_wait_t *w = arg;

    (void)pthread_mutex_lock(&w->mu);
    w->rv = rv;
    w->res = *res;
    w->st = *st;
    w->finished = true;
    (void)pthread_cond_signal(&w->cv);
    (void)pthread_mutex_unlock(&w->mu);
}

nox_err_t
nox_engine_exec(nox_engine_t *e, const nox_exec_req_t *r,
                nox_exec_result_t *res, nox_status_t *st)
{
    exec_wait_t w = {.finished = false};
    nox_err_t   rv;
    int         err = pthread_mutex_init(&w.mu, NULL);

    if (err == 0) {
        err = pthread_cond_init(&w.cv, NULL);
        if (err != 0)
            (void)pthread_mutex_destroy(&w.mu);
    }
    if (err != 0)
        return nox__status_errno(st, NOX_ERESOURCE, err, "exec: wait");
    rv = nox_engine_exec_start(e, r, exec_wait_done, &w, st);
    if (rv == NOX_OK) {
        (void)pthread_mutex_lock(&w.mu);
        while (!w.finished)
            (void)pthread_cond_wait(&w.cv, &w.mu);
        (void)pthread_mutex_unlock(&w.mu);
        rv = w.rv;
        if (rv == NOX_OK)
            *res = w.res;
        else if (st != NULL)
            *st = w.st;
    }
    (void)pthread_cond_destroy(&w.cv);
    (void)pthread_mutex_destroy(&w.mu);
    return rv;
}

void
nox_exec_result_free(nox_exec_result_t *r)
{
    if (r == NULL)
        return;
    nox__buf_free(&r->out);
    nox__buf_free(&r->err);
}
