/*
 * listener.c - the server's listen URLs, and ipc socket files done safely.
 *
 * nng 1.5.2 has a bug that matters for ipc: when a peer connects to an ipc
 * listener and hangs up before NNG has written its half of the SP
 * handshake, the write fails with EPIPE, the transport hands that on as
 * NNG_ECLOSED, and the core takes it for "listener closed": it never asks
 * that listener for a connection again (NNG bug #1518, fixed in 1.6.0).
 * The transport goes on accepting and completing handshakes, so the file
 * looks alive, but each later connection waits in the transport for good.
 * nng never frees such a connection, not even when the listener is closed
 * (nothing reaps a connection whose handshake finished there; about 2 KB
 * and a file descriptor each, and the listener's own as long as one is
 * left). No listener option avoids the path: any peer that is gone before
 * NNG's first write takes it (`nc -U`, a script, nng's own stale-file
 * check, a client closed right after a background dial). TCP is not
 * affected: a write after the peer's FIN succeeds.
 *
 * So nothing should connect to a broken listener, and that rules out
 * finding one by connecting to it. The housekeeping thread calls
 * nox__listener_watch instead (every 20 ms or so for a second after
 * connections came or went, every 2 s when quiet: server.c), which reads
 * the listener's NNG statistics: the break counts one "other" error, as
 * does every connection that closes. A rise in errors that closing
 * connections (our pipe callback counts them) do not explain means a peer
 * hung up in a handshake. That is rare and may have broken the listener,
 * so we bind a fresh one at once. A needless rebind (the hang-up did no
 * harm, or a reply failed on a closed connection) costs nothing but the
 * rebind. (nng_stat_find_listener cannot be used: in 1.5.2 it returns the
 * first listener's statistics for any listener.) A handshake probe, which
 * sticks in a broken listener, runs every few seconds as a backstop, and
 * as the only check when NNG keeps no statistics.
 *
 * Each listener binds a fresh name next to the path and is renamed onto
 * it: rename() replaces the old file in one step, so clients always find
 * a socket there, and the name nng unlinks when it closes that listener
 * (nng 1.5.2 unlinks its bind path, whatever file is there by then) is
 * gone already. A replaced listener stays open while connections it
 * handed to the socket are (closing it would cut them off) and is closed
 * once they are gone, which frees it, unless connections got stuck in it
 * in between: those are cut off then (their clients see the connection
 * close instead of waiting out their timeouts) and nng keeps their memory.
 *
 * Before binding an existing socket file we probe it with a complete
 * handshake (harmless to a live listener) and refuse the path if an SP
 * server answers. A socket file is identified by device and inode, so we
 * never probe, replace or remove a file that another server has bound
 * since.
 *
 * The watch is compiled only for the NNG versions with the bug
 * (NOX_NNG_IPC_LISTENER_BUG, server_priv.h); with a fixed NNG
 * nox__listener_watch does nothing.
 */
#include "server_priv.h"

#include "auth.h"
#include "nng_auth.h"

#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LISTENER_PROBE_MS 1000 /* an SP peer answers a handshake within */
/* How often the handshake probe runs: as a backstop, and when NNG keeps
 * no statistics (then it is the only check). */
#define LISTENER_PROBE_EVERY_MS 2000
#define LISTENER_PROBE_NO_STATS_MS 100
/* A healthy listener hands a connection whose handshake is done to the
 * socket within a millisecond or two. */
#define LISTENER_VERDICT_MS 50
/* How often the watch looks at the socket file (deleted, or taken). */
#define LISTENER_FILE_EVERY_MS 200
/* A closing connection counts its error a moment before our callback
 * hears of the close: wait this long before judging unexplained errors. */
#define LISTENER_SETTLE_MS 2
/* A replaced listener may still be finishing handshakes it started before
 * its file was replaced; give them this long before judging it idle. */
#define LISTENER_GRACE_MS 20

typedef enum {
    PROBE_LIVE,   /* an SP peer completed the handshake */
    PROBE_ABSENT, /* no file, or nobody accepting on it */
    PROBE_SILENT, /* connected, but no handshake in time */
    PROBE_ERROR   /* something else (not SP, out of fds, ...) */
} listener_probe_t;

/* ---- probing a socket file ---- */

/* Read the peer's 8-byte SP header within LISTENER_PROBE_MS. Reading it
 * before hanging up is what keeps the probe harmless to a live listener:
 * the connection has then completed its handshake, like any client's. */
static listener_probe_t
listener_probe_read(int fd)
{
    uint8_t       hdr[8];
    size_t        got = 0;
    int64_t       end = nox__mono_ms() + LISTENER_PROBE_MS;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    while (got < sizeof(hdr)) {
        int64_t left = end - nox__mono_ms();
        int     n;
        ssize_t r;

        if (left <= 0)
            return PROBE_SILENT;
        n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno != EINTR)
            return PROBE_ERROR;
        if (n <= 0)
            continue; /* EINTR, or the deadline: checked above */
        r = read(fd, hdr + got, sizeof(hdr) - got);
        if (r == 0)
            return PROBE_ERROR; /* hung up on us: not an SP listener */
        if (r < 0 && errno != EINTR && errno != EAGAIN)
            return PROBE_ERROR;
        if (r > 0)
            got += (size_t)r;
    }
    return memcmp(hdr, "\0SP\0", 4) == 0 ? PROBE_LIVE : PROBE_ERROR;
}

/* Connect to the socket file at path and perform the SP handshake as a
 * req0 peer (what a rep0 server expects), then hang up. */
static listener_probe_t
listener_probe(const char *path)
{
    /* SP header: "\0SP\0", the protocol id (big-endian), 2 reserved. */
    static const uint8_t hello[8] = {0, 'S', 'P', 0, 0, NNG_REP0_PEER, 0, 0};
    struct sockaddr_un   sa = {.sun_family = AF_UNIX};
    listener_probe_t     rv;
    int                  fd;

    if (strlen(path) >= sizeof(sa.sun_path))
        return PROBE_ERROR;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return PROBE_ERROR;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        /* EAGAIN: a full backlog, i.e. nobody has been accepting. */
        rv = errno == ECONNREFUSED || errno == ENOENT ? PROBE_ABSENT
             : errno == EAGAIN                        ? PROBE_SILENT
                                                      : PROBE_ERROR;
        nox__close(fd);
        return rv;
    }
    /* 8 bytes into a new, empty socket buffer: never a short write. */
    if (send(fd, hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t)sizeof(hello))
        rv = PROBE_ERROR;
    else
        rv = listener_probe_read(fd);
    nox__close(fd);
    return rv;
}

/* Before binding an ipc path: refuse one that a live (or hung) server
 * holds, and anything that is not a socket. A stale socket file is
 * replaced. */
static nox_err_t
listener_check_free(const char *url, const char *path, nox_status_t *st)
{
    struct stat sb;

    if (lstat(path, &sb) != 0)
        return NOX_OK; /* nothing there (or unreachable: the bind says) */
    if (!S_ISSOCK(sb.st_mode))
        return nox__status_set(st, NOX_EUNAVAIL,
                               "cannot listen on %s: the file exists and "
                               "is not a socket",
                               url);
    switch (listener_probe(path)) {
    case PROBE_ABSENT:
        return NOX_OK; /* stale: our rename replaces it */
    case PROBE_LIVE:
        return nox__status_set(st, NOX_EUNAVAIL, "cannot listen on %s: %s", url,
                               nng_strerror(NNG_EADDRINUSE));
    default:
        return nox__status_set(st, NOX_EUNAVAIL,
                               "cannot listen on %s: %s (its owner does "
                               "not answer)",
                               url, nng_strerror(NNG_EADDRINUSE));
    }
}

/* Remember which file the ipc listener bound. */
static void
listener_note_file(nox__listener_t *sl)
{
    struct stat sb;

    sl->have_ino = false;
    if (lstat(sl->ipc_path, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
        sl->dev = sb.st_dev;
        sl->ino = sb.st_ino;
        sl->have_ino = true;
    }
}

/* 1 when the path still names the socket file this listener bound. */
static int
listener_file_is_ours(const nox__listener_t *sl)
{
    struct stat sb;

    return sl->have_ino && lstat(sl->ipc_path, &sb) == 0 &&
           S_ISSOCK(sb.st_mode) && sb.st_dev == sl->dev && sb.st_ino == sl->ino;
}

/* ---- connection counts ---- */

nox_err_t
nox__listener_init(nox__listener_t *sl, nox_status_t *st)
{
    int rv = pthread_mutex_init(&sl->pipes_mu, NULL);

    sl->id = -1;
    if (rv != 0)
        return nox__status_errno(st, NOX_EINTERNAL, rv, "mutex init");
    sl->mu_init = true;
    return NOX_OK;
}

/* Count one event of a pipe of listener id, if it is sl's current or a
 * replaced one. Called with pipes_mu held. */
static bool
listener_count_locked(nox__listener_t *sl, int id, nng_pipe_ev ev)
{
    unsigned *live = NULL;

    if (sl->id == id) {
        live = &sl->live;
        if (ev == NNG_PIPE_EV_ADD_PRE)
            sl->accepts++;
        else
            sl->closed++;
    }
    for (size_t i = 0; live == NULL && i < sl->n_old; i++)
        if (sl->old[i].id == id)
            live = &sl->old[i].live;
    if (live == NULL)
        return false;
    if (ev == NNG_PIPE_EV_ADD_PRE)
        (*live)++;
    else if (*live > 0)
        (*live)--;
    return true;
}

void
nox__listener_pipe_event(nox__listener_t *v, size_t n, nng_pipe p,
                         nng_pipe_ev ev)
{
    /* NNG reports REM_POST for every pipe that saw ADD_PRE, also one
     * closed before ADD_POST, so this pairing keeps the counts balanced.
     * The pipe still knows its listener during REM_POST. */
    int  id = nng_listener_id(nng_pipe_listener(p));
    bool found = false;

    if (ev != NNG_PIPE_EV_ADD_PRE && ev != NNG_PIPE_EV_REM_POST)
        return;
    for (size_t i = 0; id > 0 && !found && i < n; i++) {
        if (!v[i].mu_init)
            continue;
        (void)pthread_mutex_lock(&v[i].pipes_mu); /* cannot fail */
        found = listener_count_locked(&v[i], id, ev);
        (void)pthread_mutex_unlock(&v[i].pipes_mu);
    }
}

size_t
nox__listener_open_count(nox__listener_t *sl)
{
    size_t n;

    if (!sl->mu_init)
        return 0;
    (void)pthread_mutex_lock(&sl->pipes_mu);
    n = sl->n_old + (sl->started ? 1 : 0);
    (void)pthread_mutex_unlock(&sl->pipes_mu);
    return n;
}

/* ---- binding ---- */

bool
nox__listener_is_ipc(const nox__listener_t *sl)
{
    return sl->ipc_path != NULL;
}

static nox_err_t
listener_error(const char *url, int err, nox_status_t *st)
{
    nox_err_t code =
        err == NNG_EADDRINVAL || err == NNG_ENOTSUP || err == NNG_EINVAL
            ? NOX_EINVAL
            : NOX_EUNAVAIL;

    return nox__status_set(st, code, "cannot listen on %s: %s", url,
                           nng_strerror(err));
}

/* Create (not start) an NNG listener for sl on sock. For ipc it binds a
 * fresh name next to the path, written to tmp (tmp_len bytes), which
 * listener_publish then moves onto the path; tmp is "" when the path is
 * too long for a longer name, and the listener binds the path itself. 0
 * or an NNG error. */
static int
listener_create(nox__listener_t *sl, nng_socket sock, nng_listener *l,
                char *tmp, size_t tmp_len)
{
    char url[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
    int  n;
    int  err;

    tmp[0] = '\0';
    if (sl->ipc_path == NULL) {
        err = nng_listener_create(l, sock, sl->url);
    } else {
        n = snprintf(tmp, tmp_len, "%s.%ld.%u", sl->ipc_path, (long)getpid(),
                     ++sl->binds);
        if (n < 0 || (size_t)n >= tmp_len ||
            (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            tmp[0] = '\0';
            err = nng_listener_create(l, sock, sl->url);
        } else {
            (void)unlink(tmp); /* ours from an earlier run with this pid */
            (void)snprintf(url, sizeof(url), "ipc://%s", tmp); /* fits */
            err = nng_listener_create(l, sock, url);
        }
    }
    if (err != 0)
        return err;
    err = nox__nng_auth_listener(sl->auth, *l, sl->url);
    if (err != 0)
        (void)nng_listener_close(*l); /* never started */
    return err;
}

/* Move a started listener's socket file from tmp onto sl's path, where it
 * replaces whatever is there in one step. NNG_ESYSERR if that fails. */
static int
listener_publish(nox__listener_t *sl, const char *tmp)
{
    if (tmp[0] != '\0' && rename(tmp, sl->ipc_path) != 0)
        return NNG_ESYSERR + errno;
    listener_note_file(sl);
    return 0;
}

nox_err_t
nox__listener_start(nox__listener_t *sl, nng_socket sock, const char *url,
                    const struct nox__nng_auth *auth, nox_status_t *st)
{
    char            tmp[sizeof(((struct sockaddr_un *)0)->sun_path)];
    nng_listener    l;
    nox__url_info_t info;
    nox_err_t       rv;
    int             err;

    sl->auth = auth;
    sl->url = strdup(url);
    if (sl->url == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    if (nox__url_info(url, &info) == NOX_OK && info.kind == NOX_URL_IPC) {
        sl->ipc_path = strdup(info.path);
        if (sl->ipc_path == NULL)
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
        rv = listener_check_free(url, sl->ipc_path, st);
        if (rv != NOX_OK)
            return rv;
    }
    err = listener_create(sl, sock, &l, tmp, sizeof(tmp));
    if (err != 0)
        return listener_error(url, err, st);
    /* Note the id before starting, so that the pipe callback counts the
     * very first connection. */
    (void)pthread_mutex_lock(&sl->pipes_mu);
    sl->id = nng_listener_id(l);
    sl->at_path = tmp[0] == '\0';
    (void)pthread_mutex_unlock(&sl->pipes_mu);
    err = nng_listener_start(l, 0);
    if (err == 0 && sl->ipc_path != NULL)
        err = listener_publish(sl, tmp);
    if (err != 0) {
        (void)nng_listener_close(l); /* removes tmp too */
        return listener_error(url, err, st);
    }
    sl->l = l;
    sl->started = true;
    sl->probe_ms = nox__mono_ms();
    return NOX_OK;
}

#if NOX_NNG_IPC_LISTENER_BUG
/* ---- is it broken? ---- */

/* 1 when nothing is at the path (our file was deleted). */
static int
listener_file_is_gone(const nox__listener_t *sl)
{
    struct stat sb;

    return lstat(sl->ipc_path, &sb) != 0 && errno == ENOENT;
}

static unsigned
listener_accepts_now(nox__listener_t *sl)
{
    unsigned n;

    (void)pthread_mutex_lock(&sl->pipes_mu);
    n = sl->accepts;
    (void)pthread_mutex_unlock(&sl->pipes_mu);
    return n;
}

/* Connections of the current listener closed since the last check. */
static unsigned
listener_closed_now(nox__listener_t *sl)
{
    unsigned n;

    (void)pthread_mutex_lock(&sl->pipes_mu);
    n = sl->closed;
    (void)pthread_mutex_unlock(&sl->pipes_mu);
    return n;
}

static int64_t
listener_now_us(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail */
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The statistics of listener id in the snapshot all, or NULL. */
static nng_stat *
listener_stats_of(nng_stat *all, int id)
{
    for (nng_stat *s = nng_stat_child(all); s != NULL; s = nng_stat_next(s)) {
        nng_stat *sid;

        if (strcmp(nng_stat_name(s), "listener") != 0)
            continue;
        sid = nng_stat_find(s, "id");
        if (sid != NULL && nng_stat_value(sid) == (uint64_t)id)
            return s;
    }
    return NULL;
}

/* The errors NNG counted for sl's current listener that can mean a
 * broken one ("other" holds NNG_ECLOSED, "canceled" NNG_ECANCELED).
 * Adds the time taken to *cost_us. false when NNG keeps no statistics. */
static bool
listener_errors(nox__listener_t *sl, uint64_t *out, int64_t *cost_us)
{
    static const char *const names[] = {"other", "canceled"};
    int64_t                  t0 = listener_now_us();
    nng_stat                *all;
    nng_stat                *ls;
    uint64_t                 n = 0;

    if (nng_stats_get(&all) != 0)
        return false;
    ls = listener_stats_of(all, nng_listener_id(sl->l));
    for (size_t i = 0; ls != NULL && i < sizeof(names) / sizeof(names[0]);
         i++) {
        nng_stat *s = nng_stat_find(ls, names[i]);
        n += s != NULL ? nng_stat_value(s) : 0;
    }
    nng_stats_free(all);
    *cost_us += listener_now_us() - t0;
    *out = n;
    return ls != NULL;
}

/* Did the current listener count an error that no closed connection
 * explains since the last check? (See the top of this file.) */
static bool
listener_unexplained(nox__listener_t *sl, int64_t *cost_us)
{
    uint64_t errs;
    unsigned closed;
    int64_t  excess;

    sl->no_stats = !listener_errors(sl, &errs, cost_us);
    if (sl->no_stats)
        return false;
    closed = listener_closed_now(sl);
    excess = (int64_t)(errs - sl->errs) - (int64_t)closed;
    if (excess > 0) {
        nng_msleep(LISTENER_SETTLE_MS); /* let closing connections report */
        if (listener_errors(sl, &errs, cost_us)) {
            closed = listener_closed_now(sl);
            excess = (int64_t)(errs - sl->errs) - (int64_t)closed;
        }
    }
    /* Start the next check from here. A surplus of closes (a peer that
     * spoke the wrong protocol closes without an error) is forgotten, so
     * it cannot hide a later break. */
    (void)pthread_mutex_lock(&sl->pipes_mu);
    sl->closed -= closed;
    (void)pthread_mutex_unlock(&sl->pipes_mu);
    sl->errs = errs;
    return excess > 0;
}

/* Does sl still hand new connections to the socket? A handshake alone
 * does not show it (see the top of this file); the accept count going up
 * does, whether for our probe or for any other client. If sl is broken,
 * the probe's connection stays stuck in it. */
static bool
listener_accepts(nox__listener_t *sl)
{
    unsigned before = listener_accepts_now(sl);
    int64_t  end;

    sl->probe_ms = nox__mono_ms();
    if (listener_probe(sl->ipc_path) != PROBE_LIVE)
        return false;
    end = nox__mono_ms() + LISTENER_VERDICT_MS;
    while (listener_accepts_now(sl) == before) {
        if (nox__mono_ms() >= end)
            return false;
        nng_msleep(1);
    }
    return true;
}

/* Should the current listener be replaced: (possibly) broken, or its
 * file deleted? The statistics are read at every call; the file, and the
 * probe, are looked at less often. A path that another process owns now
 * is left alone. */
static bool
listener_needs_rebind(nox__listener_t *sl, bool quiet, int64_t *cost_us)
{
    int64_t now = nox__mono_ms();
    int64_t every =
        sl->no_stats ? LISTENER_PROBE_NO_STATS_MS : LISTENER_PROBE_EVERY_MS;

    if (listener_unexplained(sl, cost_us))
        return listener_file_is_ours(sl);
    if (now - sl->file_ms >= LISTENER_FILE_EVERY_MS) {
        sl->file_ms = now;
        if (!listener_file_is_ours(sl))
            return listener_file_is_gone(sl);
    }
    /* The probe is a connection itself: a quiet server that has the
     * statistics to go by is left in peace. */
    if (quiet && !sl->no_stats)
        return false;
    return now - sl->probe_ms >= every && listener_file_is_ours(sl) &&
           !listener_accepts(sl);
}

/* ---- replacing ---- */

/* Make nl, created but not started, sl's current listener; the old one
 * moves to sl->old, still counted. false when out of memory. */
static bool
listener_retire(nox__listener_t *sl, nng_listener nl, bool at_path)
{
    nox__listener_old_t *grown = sl->old;
    bool                 ok = true;

    (void)pthread_mutex_lock(&sl->pipes_mu);
    if (sl->n_old == sl->cap_old) {
        size_t cap = sl->cap_old ? sl->cap_old * 2 : 4;
        grown = realloc(sl->old, cap * sizeof(*grown));
        if (grown != NULL) {
            sl->old = grown;
            sl->cap_old = cap;
        }
    }
    if (grown == NULL) {
        ok = false;
    } else {
        sl->old[sl->n_old++] = (nox__listener_old_t){
            .l = sl->l,
            .id = sl->id,
            .live = sl->live,
            .at_path = sl->at_path,
            .retired_ms = nox__mono_ms(),
        };
        sl->id = nng_listener_id(nl);
        sl->live = 0;
        sl->closed = 0;
        sl->at_path = at_path;
    }
    (void)pthread_mutex_unlock(&sl->pipes_mu);
    return ok;
}

/* Undo listener_retire: the last replaced listener is current again. */
static void
listener_unretire(nox__listener_t *sl)
{
    (void)pthread_mutex_lock(&sl->pipes_mu);
    sl->n_old--;
    sl->id = sl->old[sl->n_old].id;
    sl->live = sl->old[sl->n_old].live;
    sl->at_path = sl->old[sl->n_old].at_path;
    (void)pthread_mutex_unlock(&sl->pipes_mu);
}

/* Bind a fresh listener at sl's path. The old one is kept, not closed:
 * closing it would drop the connections it still serves. false when that
 * failed (tried again at the next watch). */
static bool
listener_rebind(nox__listener_t *sl, nng_socket sock, pthread_mutex_t *mu)
{
    char         tmp[sizeof(((struct sockaddr_un *)0)->sun_path)];
    nng_listener nl;
    int          err;

    /* Binding the path itself (a path too long for a second name) needs
     * it free, and nng's check for a stale file would connect to the old
     * listener and hang up. */
    err = listener_create(sl, sock, &nl, tmp, sizeof(tmp));
    if (err == 0 && tmp[0] == '\0' && listener_file_is_ours(sl))
        (void)unlink(sl->ipc_path); /* a failure shows as a bind error */
    if (err != 0)
        return false;
    if (!listener_retire(sl, nl, tmp[0] == '\0')) {
        (void)nng_listener_close(nl); /* never started */
        return false;
    }
    err = nng_listener_start(nl, 0);
    if (err == 0)
        err = listener_publish(sl, tmp);
    if (err != 0) {
        listener_unretire(sl);
        (void)nng_listener_close(nl); /* removes tmp too */
        return false;
    }
    (void)pthread_mutex_lock(mu); /* cannot fail: valid, not owned */
    sl->l = nl;
    (void)pthread_mutex_unlock(mu);
    sl->errs = 0; /* a new listener counts from 0 */
    return true;
}

/* Take a replaced listener that has no connection left (and has had its
 * grace period) off sl->old into *out. One bound at the path itself is
 * kept until the end: nng would unlink the current file when closing it.
 * false when there is none. */
static bool
listener_take_idle(nox__listener_t *sl, nng_listener *out)
{
    int64_t now = nox__mono_ms();
    bool    found = false;

    (void)pthread_mutex_lock(&sl->pipes_mu);
    for (size_t i = 0; !found && i < sl->n_old; i++) {
        nox__listener_old_t *o = &sl->old[i];
        if (o->live == 0 && !o->at_path &&
            now - o->retired_ms >= LISTENER_GRACE_MS) {
            *out = o->l;
            *o = sl->old[--sl->n_old]; /* order does not matter */
            found = true;
        }
    }
    (void)pthread_mutex_unlock(&sl->pipes_mu);
    return found;
}

int64_t
nox__listener_watch(nox__listener_t *sl, nng_socket sock, pthread_mutex_t *mu,
                    bool quiet)
{
    int64_t      cost_us = 0;
    nng_listener idle;

    if (!sl->started || sl->ipc_path == NULL)
        return 0;
    if (listener_needs_rebind(sl, quiet, &cost_us))
        (void)listener_rebind(sl, sock, mu); /* else retried next time */
    /* This frees the replaced listener and cuts off the connections stuck
     * in it (nng keeps their memory, see the top). */
    while (listener_take_idle(sl, &idle))
        (void)nng_listener_close(idle); /* only NNG_ECLOSED: gone */
    return cost_us;
}

#else /* an NNG without the bug: nothing to watch */

int64_t
nox__listener_watch(nox__listener_t *sl, nng_socket sock, pthread_mutex_t *mu,
                    bool quiet)
{
    (void)sl;
    (void)sock;
    (void)mu;
    (void)quiet;
    return 0;
}

#endif /* NOX_NNG_IPC_LISTENER_BUG */

/* ---- the rest ---- */

nox_err_t
nox__listener_url(nox__listener_t *sl, pthread_mutex_t *mu, char *buf,
                  size_t len)
{
    nox_err_t rv = NOX_OK;
    char     *url = NULL;
    size_t    n;

    if (!sl->started)
        return NOX_EINVAL;
    if (sl->ipc_path != NULL) {
        /* NNG would name the file the listener was bound at first. */
        n = strlen(sl->url);
        if (n >= len)
            return NOX_EINVAL;
        memcpy(buf, sl->url, n + 1);
        return NOX_OK;
    }
    (void)pthread_mutex_lock(mu); /* a rebind may swap the listener */
    if (nng_listener_get_string(sl->l, NNG_OPT_URL, &url) != 0)
        rv = NOX_EINTERNAL;
    (void)pthread_mutex_unlock(mu);
    if (rv != NOX_OK)
        return rv;
    n = strlen(url);
    if (n < len)
        memcpy(buf, url, n + 1);
    else
        rv = NOX_EINVAL;
    nng_strfree(url);
    return rv;
}

void
nox__listener_unpublish(nox__listener_t *sl)
{
    if (sl->started && sl->ipc_path != NULL && listener_file_is_ours(sl))
        (void)unlink(sl->ipc_path); /* best effort; gone is fine */
}

void
nox__listener_close(nox__listener_t *sl)
{
    bool ours =
        sl->started && sl->ipc_path != NULL && listener_file_is_ours(sl);

    /* The housekeeping thread is gone, so nothing changes sl->old but us;
     * the pipe callback only updates counts. nng unlinks the names these
     * listeners were bound at: moved away already, but for the path
     * itself (too long for a second name), and then the file is ours or
     * another's anyway. Only NNG_ECLOSED is possible: the socket closed
     * them already. */
    for (size_t i = 0; i < sl->n_old; i++)
        (void)nng_listener_close(sl->old[i].l);
    if (sl->started)
        (void)nng_listener_close(sl->l);
    if (ours && listener_file_is_ours(sl))
        (void)unlink(sl->ipc_path); /* best effort; gone is fine */
    if (!sl->mu_init)
        return;
    (void)pthread_mutex_lock(&sl->pipes_mu);
    sl->n_old = 0;
    sl->started = false;
    (void)pthread_mutex_unlock(&sl->pipes_mu);
}

void
nox__listener_fini(nox__listener_t *sl)
{
    if (sl->mu_init)
        (void)pthread_mutex_destroy(&sl->pipes_mu); /* no callback left */
    free(sl->old);
    free(sl->ipc_path);
    free(sl->url);
    sl->old = NULL;
    sl->n_old = sl->cap_old = 0;
    sl->ipc_path = sl->url = NULL;
    sl->mu_init = false;
}
