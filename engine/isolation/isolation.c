/*
 * isolation.c - the engine's isolation level (settled at open by a probe)
 * and its table of sandbox holders. See isolation.h.
 */
#include "engine_impl.h"

#include "fsutil.h"

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long a delete waits for another process's holder to die. */
#define ISO_KILL_WAIT_MS 2000

/* ------------------------------------------------------------------ */
/* Level names                                                         */
/* ------------------------------------------------------------------ */

const char *
nox_isolation_name(nox_isolation_t level)
{
    switch (level) {
    case NOX_ISOLATION_NAMESPACES:
        return "namespaces";
    case NOX_ISOLATION_NONE:
        return "none";
    default:
        return "auto";
    }
}

nox_err_t
nox_isolation_parse(const char *s, nox_isolation_t *out, nox_status_t *st)
{
    static const nox_isolation_t all[] = {
        NOX_ISOLATION_AUTO, NOX_ISOLATION_NAMESPACES, NOX_ISOLATION_NONE};

    for (size_t i = 0; s != NULL && i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(s, nox_isolation_name(all[i])) == 0) {
            *out = all[i];
            return NOX_OK;
        }
    }
    return nox__status_set(st, NOX_EINVAL,
                           "unknown isolation level '%s' (use auto, "
                           "namespaces or none)",
                           s ? s : "");
}

nox_isolation_t
nox_engine_isolation(const nox_engine_t *e, const char **detail)
{
    if (detail != NULL)
        *detail = e->iso.detail;
    return e->iso.level;
}

/* ------------------------------------------------------------------ */
/* The probe                                                           */
/* ------------------------------------------------------------------ */

/* Start and stop a holder that shows the base directory itself as its
 * workspace and tmp (in its own mount namespace only: nothing is written
 * on disk): the same namespaces, id maps and mounts a sandbox needs, so
 * the answer is the real one. */
static nox_err_t
iso_probe(nox_engine_t *e, nox_status_t *st)
{
    nox_holder_t h = NOX_HOLDER_INIT;
    nox_err_t    rv;

    rv = nox__holder_spawn(e->iso.root, false, e->iso.lifeline[0], &h, st);
    if (rv == NOX_OK)
        rv = nox__holder_assign(&h, e->base_dir, e->base_dir, st);
    if (rv == NOX_OK) {
        /* Tearing its namespaces down takes a few ms; nobody needs to
         * wait for that. It is reaped later (iso_reap_probe). */
        (void)pidfd_send_signal(h.pidfd, SIGKILL, NULL, 0);
        e->iso.probe = h;
    }
    return rv;
}

/* Reap the probe's holder once it is gone; wait for it only when
 * closing. */
static void
iso_reap_probe(nox_iso_t *iso, bool wait)
{
    siginfo_t si;

    if (iso->probe.pidfd < 0)
        return;
    memset(&si, 0, sizeof(si));
    if (!wait &&
        (waitid(P_PIDFD, (id_t)iso->probe.pidfd, &si, WEXITED | WNOHANG) != 0 ||
         si.si_pid == 0))
        return;                    /* not yet */
    nox__holder_stop(&iso->probe); /* reaps (again: a no-op) and closes */
}

/* The empty directory every holder of this engine mounts its tmpfs root
 * on, each in its own mount namespace: <base_dir>/.noxrunner_root. */
static nox_err_t
iso_root_dir(nox_engine_t *e, nox_status_t *st)
{
    struct stat sb;

    (void)snprintf(e->iso.root, sizeof(e->iso.root), "%s/" NOX_ROOT_DIR,
                   e->base_dir); /* fits: base_dir is bounded */
    if (mkdirat(e->base_fd, NOX_ROOT_DIR, 0700) != 0 && errno != EEXIST)
        return nox__status_errno(st, NOX_EINTERNAL, errno,
                                 "namespaces: cannot create %s", e->iso.root);
    if (fstatat(e->base_fd, NOX_ROOT_DIR, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(sb.st_mode))
        return nox__status_set(st, NOX_EINTERNAL,
                               "namespaces: %s is not a directory",
                               e->iso.root);
    return NOX_OK;
}

nox_err_t
nox__iso_init(nox_engine_t *e, nox_isolation_t requested, nox_status_t *st)
{
    nox_iso_t   *iso = &e->iso;
    nox_status_t why;
    const char  *env = getenv("NOXRUNNER_ISOLATION");
    int          err;

    iso->lifeline[0] = iso->lifeline[1] = -1;
    iso->spare = (nox_holder_t)NOX_HOLDER_INIT;
    iso->probe = (nox_holder_t)NOX_HOLDER_INIT;
    if (requested == NOX_ISOLATION_AUTO && env != NULL && env[0] != '\0' &&
        nox_isolation_parse(env, &requested, st) != NOX_OK)
        return nox__status_set(st, NOX_EINVAL,
                               "NOXRUNNER_ISOLATION: unknown level '%s' "
                               "(use auto, namespaces or none)",
                               env);
    err = pthread_mutex_init(&iso->lock, NULL);
    if (err != 0)
        return nox__status_errno(st, NOX_EINTERNAL, err, "mutex");
    err = pthread_cond_init(&iso->cond, NULL);
    if (err != 0) {
        (void)pthread_mutex_destroy(&iso->lock);
        return nox__status_errno(st, NOX_EINTERNAL, err, "condvar");
    }
    if (requested == NOX_ISOLATION_NONE) {
        iso->level = NOX_ISOLATION_NONE;
        (void)snprintf(iso->detail, sizeof(iso->detail),
                       "isolation none was asked for");
        return NOX_OK;
    }
    if (pipe2(iso->lifeline, O_CLOEXEC) != 0) {
        err = errno;
        nox__iso_fini(e);
        return nox__status_errno(st, NOX_ERESOURCE, err, "pipe");
    }
    nox__status_clear(&why);
    if (iso_root_dir(e, &why) == NOX_OK && iso_probe(e, &why) == NOX_OK) {
        iso->level = NOX_ISOLATION_NAMESPACES;
        iso->detail[0] = '\0';
        return NOX_OK;
    }
    if (requested == NOX_ISOLATION_NAMESPACES) {
        nox__iso_fini(e);
        return nox__status_set(st, NOX_EPRECOND,
                               "isolation namespaces is not available "
                               "here: %s",
                               why.msg);
    }
    iso->level = NOX_ISOLATION_NONE;
    (void)snprintf(iso->detail, sizeof(iso->detail), "%s", why.msg);
    return NOX_OK;
}

void
nox__iso_fini(nox_engine_t *e)
{
    nox_iso_t *iso = &e->iso;

    if (iso->filler_on) {
        (void)pthread_mutex_lock(&iso->lock);
        iso->stopping = true;
        (void)pthread_cond_signal(&iso->cond);
        (void)pthread_mutex_unlock(&iso->lock);
        (void)pthread_join(iso->filler, NULL);
        iso->filler_on = false;
    }
    nox__holder_stop(&iso->spare);
    iso_reap_probe(iso, true);
    for (size_t i = 0; i < iso->n; i++)
        nox__holder_stop(&iso->holders[i].h);
    free(iso->holders);
    iso->holders = NULL;
    iso->n = iso->cap = 0;
    nox__close(iso->lifeline[0]);
    nox__close(iso->lifeline[1]);
    iso->lifeline[0] = iso->lifeline[1] = -1;
    (void)pthread_cond_destroy(&iso->cond);
    (void)pthread_mutex_destroy(&iso->lock);
}

/* ------------------------------------------------------------------ */
/* Holders                                                             */
/* ------------------------------------------------------------------ */

/* Leave a note in the sandbox directory naming the holder and its pid
 * namespace, for deletes from other processes. A note that cannot be
 * written loses only that: the holder still dies with this process. */
static void
iso_note_holder(int sb_fd, const nox_holder_t *h)
{
    char        proc[64], note[128];
    struct stat ns;
    int         fd;

    (void)snprintf(proc, sizeof(proc), "/proc/%ld/ns/pid", (long)h->pid);
    if (stat(proc, &ns) != 0)
        return;
    (void)snprintf(note, sizeof(note), NOX_HOLDER_FILE_PREFIX "%ld.%llu",
                   (long)h->pid, (unsigned long long)ns.st_ino);
    fd = openat(sb_fd, note, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    nox__close(fd);
}

static nox_holder_entry_t *
iso_find(nox_iso_t *iso, const char *sid)
{
    for (size_t i = 0; i < iso->n; i++)
        if (strcmp(iso->holders[i].sid, sid) == 0)
            return &iso->holders[i];
    return NULL;
}

static void
iso_drop(nox_iso_t *iso, nox_holder_entry_t *ent)
{
    nox__holder_stop(&ent->h);
    *ent = iso->holders[--iso->n];
}

/* The spare filler: keeps one holder with its namespaces made and ids
 * mapped, waiting for a sandbox, so CreateSandbox only pays for building
 * the view (creating a network namespace alone costs ~0.5-1 ms). It runs
 * once this engine has made two namespaced holders: a one-shot CLI run
 * never starts it. */
static void *
iso_filler(void *arg)
{
    nox_engine_t *e = arg;
    nox_iso_t    *iso = &e->iso;
    nox_holder_t  h;
    nox_status_t  st;

    (void)pthread_mutex_lock(&iso->lock);
    while (!iso->stopping) {
        if (iso->spare.pidfd >= 0) {
            (void)pthread_cond_wait(&iso->cond, &iso->lock);
            continue;
        }
        (void)pthread_mutex_unlock(&iso->lock);
        h = (nox_holder_t)NOX_HOLDER_INIT;
        nox_err_t rv =
            nox__holder_spawn(iso->root, false, iso->lifeline[0], &h, &st);
        (void)pthread_mutex_lock(&iso->lock);
        if (rv != NOX_OK)
            break; /* starts are done in the request path then */
        if (iso->stopping || iso->spare.pidfd >= 0)
            nox__holder_stop(&h);
        else
            iso->spare = h;
    }
    (void)pthread_mutex_unlock(&iso->lock);
    return NULL;
}

/* Start the sandbox's holder: from the spare when there is one (not for
 * a sandbox with the host's network: the spare has a network namespace),
 * else from scratch. Called with iso->lock held. */
static nox_err_t
iso_start(nox_engine_t *e, const char *sb_path, bool host_net, nox_holder_t *h,
          nox_status_t *st)
{
    nox_iso_t       *iso = &e->iso;
    nox_holder_cfg_t c = {iso->root, sb_path, host_net, iso->lifeline[0]};
    char             ws[NOX_HOLDER_PATH_MAX], tmp[NOX_HOLDER_PATH_MAX];
    nox_err_t        rv;

    if (!host_net && iso->started++ == 1 && !iso->filler_on &&
        pthread_create(&iso->filler, NULL, iso_filler, e) == 0)
        iso->filler_on = true; /* else no spares: only slower */
    if (host_net || iso->spare.pidfd < 0)
        return nox__holder_start(&c, h, st);
    *h = iso->spare;
    iso->spare = (nox_holder_t)NOX_HOLDER_INIT;
    (void)pthread_cond_signal(&iso->cond);
    rv = nox__holder_sandbox_paths(sb_path, ws, tmp, st);
    if (rv != NOX_OK) {
        nox__holder_stop(h);
        return rv;
    }
    return nox__holder_assign(h, ws, tmp, st);
}

static nox_err_t
iso_add(nox_engine_t *e, const char *sid, const struct stat *dir, int sb_fd,
        const char *sb_path, bool host_net, nox_holder_entry_t **out,
        nox_status_t *st)
{
    nox_iso_t         *iso = &e->iso;
    nox_holder_entry_t ent;
    nox_err_t          rv;

    if (iso->n == iso->cap) {
        size_t ncap = iso->cap ? iso->cap * 2 : 16;
        void  *p = reallocarray(iso->holders, ncap, sizeof(*iso->holders));
        if (p == NULL)
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
        iso->holders = p;
        iso->cap = ncap;
    }
    memset(&ent, 0, sizeof(ent));
    ent.h = (nox_holder_t)NOX_HOLDER_INIT;
    rv = iso_start(e, sb_path, host_net, &ent.h, st);
    if (rv != NOX_OK)
        return rv;
    (void)snprintf(ent.sid, sizeof(ent.sid), "%s", sid);
    ent.dev = dir->st_dev;
    ent.ino = dir->st_ino;
    iso_note_holder(sb_fd, &ent.h);
    iso->holders[iso->n] = ent;
    *out = &iso->holders[iso->n++];
    return NOX_OK;
}

nox_err_t
nox__iso_holder_pidfd(nox_engine_t *e, const char *sid, int sb_fd,
                      const char *sb_path, bool host_net, int *pidfd,
                      nox_status_t *st)
{
    nox_iso_t          *iso = &e->iso;
    nox_holder_entry_t *ent;
    struct stat         dir;
    nox_err_t           rv = NOX_OK;

    if (iso->level != NOX_ISOLATION_NAMESPACES)
        return nox__status_set(st, NOX_EPRECOND,
                               "sandbox %s was created with isolation "
                               "namespaces, which this engine does not "
                               "have (%s); delete and create it again",
                               sid, iso->detail);
    if (fstat(sb_fd, &dir) != 0)
        return nox__status_errno(st, NOX_EINTERNAL, errno, "fstat");
    /* One lock over lookup and start: a start takes ~1-2 ms, and two
     * callers must not both start a holder for the same sandbox. */
    (void)pthread_mutex_lock(&iso->lock);
    iso_reap_probe(iso, false);
    ent = iso_find(iso, sid);
    if (ent != NULL && (ent->dev != dir.st_dev || ent->ino != dir.st_ino ||
                        !nox__holder_alive(&ent->h))) {
        iso_drop(iso, ent); /* a dead holder, or an older sandbox's */
        ent = NULL;
    }
    if (ent == NULL)
        rv = iso_add(e, sid, &dir, sb_fd, sb_path, host_net, &ent, st);
    if (rv == NOX_OK) {
        *pidfd = fcntl(ent->h.pidfd, F_DUPFD_CLOEXEC, 0);
        if (*pidfd < 0)
            rv = nox__status_errno(st, NOX_ERESOURCE, errno, "dup");
    }
    (void)pthread_mutex_unlock(&iso->lock);
    return rv;
}

/* Kill the holder a note names, if the pid still runs that pid
 * namespace (else the pid was reused: not ours), and wait until it is
 * gone, with every process of its namespace: the caller removes the
 * files next. The pidfd taken before the check makes the kill safe from
 * reuse. */
static void
iso_kill_noted(const char *note)
{
    struct pollfd      pfd = {-1, POLLIN, 0};
    long               pid;
    unsigned long long ino;
    char               proc[64];
    struct stat        ns;

    if (sscanf(note, NOX_HOLDER_FILE_PREFIX "%ld.%llu", &pid, &ino) != 2 ||
        pid <= 1)
        return;
    pfd.fd = pidfd_open((pid_t)pid, 0);
    if (pfd.fd < 0)
        return; /* gone already */
    (void)snprintf(proc, sizeof(proc), "/proc/%ld/ns/pid", pid);
    if (stat(proc, &ns) == 0 && ns.st_ino == (ino_t)ino &&
        pidfd_send_signal(pfd.fd, SIGKILL, NULL, 0) == 0) {
        /* Not our child: the pidfd turns readable when it has exited. */
        while (poll(&pfd, 1, ISO_KILL_WAIT_MS) < 0 && errno == EINTR)
            ;
    }
    nox__close(pfd.fd);
}

void
nox__iso_kill_sandbox(nox_engine_t *e, const char *sid, const char *dir_path)
{
    nox_iso_t          *iso = &e->iso;
    nox_holder_entry_t *ent;
    DIR                *d;
    struct dirent      *de;

    if (iso->lifeline[0] >= 0) {
        (void)pthread_mutex_lock(&iso->lock);
        ent = iso_find(iso, sid);
        if (ent != NULL)
            iso_drop(iso, ent);
        (void)pthread_mutex_unlock(&iso->lock);
    }
    d = opendir(dir_path);
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, NOX_HOLDER_FILE_PREFIX,
                    sizeof(NOX_HOLDER_FILE_PREFIX) - 1) == 0)
            iso_kill_noted(de->d_name);
    (void)closedir(d);
}
