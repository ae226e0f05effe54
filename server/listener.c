/*
 * listener.c - the server's listen URLs, and ipc socket files done safely.
 *
 * nng 1.5.2 has a bug that matters for ipc: a peer that connects to an ipc
 * listener and hangs up before the SP handshake is over makes that
 * listener stop handing connections to the socket, for good (nng issue
 * #1518, fixed in 1.6.0; the transport still completes handshakes, so the
 * socket file looks alive). nng's own check for a stale socket file is
 * such a peer, so merely starting a second server on the path of a live
 * one would silently cut the first one off. Hence:
 *   - before binding an existing socket file we probe it ourselves, with a
 *     complete handshake (harmless to a live listener), and refuse the
 *     path if an SP server answers;
 *   - the server's housekeeping thread calls nox__listener_watch every few
 *     seconds: it connects the same way and expects the listener to hand
 *     that connection to the socket (the pipe callback counts these). When
 *     that does not happen it binds a fresh listener at the same path; the
 *     broken one keeps the connections it has until the server stops.
 * A socket file is identified by device and inode, so we never probe,
 * replace or remove a file that another server has bound since.
 */
#include "server_priv.h"

#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTENER_PROBE_MS 1000 /* an SP peer answers a handshake within */

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
        if ((n = poll(&pfd, 1, (int)left)) < 0 && errno != EINTR)
            return PROBE_ERROR;
        if (n <= 0)
            continue; /* EINTR, or the deadline: checked above */
        if ((r = read(fd, hdr + got, sizeof(hdr) - got)) == 0)
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
 * holds, and anything that is not a socket, which nng's stale-file
 * cleanup would otherwise delete. */
static nox_err_t
listener_check_free(const char *url, const char *path, nox_status_t *st)
{
    struct stat sb;

    if (lstat(path, &sb) != 0)
        return NOX_OK; /* nothing there (or unreachable: nng will say) */
    if (!S_ISSOCK(sb.st_mode))
        return nox__status_set(st, NOX_EUNAVAIL,
                               "cannot listen on %s: the file exists and "
                               "is not a socket",
                               url);
    switch (listener_probe(path)) {
    case PROBE_ABSENT:
        return NOX_OK; /* stale: nng replaces it */
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

/* ---- the listener ---- */

void
nox__listener_init(nox__listener_t *sl)
{
    atomic_init(&sl->id, -1);
    atomic_init(&sl->accepts, 0);
}

bool
nox__listener_is_ipc(const nox__listener_t *sl)
{
    return sl->ipc_path != NULL;
}

nox_err_t
nox__listener_start(nox__listener_t *sl, nng_socket sock, const char *url,
                    nox_status_t *st)
{
    nox_err_t rv;
    int       err;

    if ((sl->url = strdup(url)) == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    if (strncmp(url, "ipc://", 6) == 0) {
        if ((sl->ipc_path = strdup(url + 6)) == NULL)
            return nox__status_set(st, NOX_ERESOURCE, "out of memory");
        if ((rv = listener_check_free(url, sl->ipc_path, st)) != NOX_OK)
            return rv;
    }
    if ((err = nng_listen(sock, url, &sl->l, 0)) != 0)
        return nox__status_set(
            st,
            err == NNG_EADDRINVAL || err == NNG_ENOTSUP || err == NNG_EINVAL
                ? NOX_EINVAL
                : NOX_EUNAVAIL,
            "cannot listen on %s: %s", url, nng_strerror(err));
    sl->started = true;
    atomic_store(&sl->id, nng_listener_id(sl->l));
    if (sl->ipc_path != NULL)
        listener_note_file(sl);
    return NOX_OK;
}

void
nox__listener_count_pipe(nox__listener_t *v, size_t n, nng_pipe p)
{
    int id = nng_listener_id(nng_pipe_listener(p));

    for (size_t i = 0; id > 0 && i < n; i++)
        if (atomic_load(&v[i].id) == id)
            atomic_fetch_add(&v[i].accepts, 1);
}

/* Does sl still hand new connections to the socket? A handshake alone
 * does not show it (see the top of this file); the pipe count going up
 * does, whether for our probe or for any other client. */
static bool
listener_accepts(nox__listener_t *sl)
{
    unsigned before = atomic_load(&sl->accepts);
    int64_t  end;

    if (listener_probe(sl->ipc_path) != PROBE_LIVE)
        return false;
    end = nox__mono_ms() + LISTENER_PROBE_MS;
    while (atomic_load(&sl->accepts) == before) {
        if (nox__mono_ms() >= end)
            return false;
        nng_msleep(10);
    }
    return true;
}

/* Bind a fresh listener at sl's path. The old one is kept, not closed:
 * closing it would drop the connections it still serves. */
static void
listener_rebind(nox__listener_t *sl, nng_socket sock, pthread_mutex_t *mu)
{
    nng_listener  nl;
    nng_listener *grown;

    grown = realloc(sl->retired, (sl->n_retired + 1) * sizeof(*grown));
    if (grown == NULL)
        return; /* try again at the next watch */
    sl->retired = grown;
    /* Our own file: nng would probe it with a bare connect and take the
     * broken listener for a live one. Removing it makes the bind clean. */
    if (listener_file_is_ours(sl))
        (void)unlink(sl->ipc_path); /* a failure shows as a bind error */
    if (nng_listen(sock, sl->url, &nl, 0) != 0)
        return; /* e.g. another server took the path: try again later */
    (void)pthread_mutex_lock(mu); /* cannot fail: valid, not owned */
    sl->retired[sl->n_retired++] = sl->l;
    sl->l = nl;
    (void)pthread_mutex_unlock(mu);
    atomic_store(&sl->id, nng_listener_id(nl));
    listener_note_file(sl);
}

void
nox__listener_watch(nox__listener_t *sl, nng_socket sock, pthread_mutex_t *mu)
{
    struct stat sb;

    if (!sl->started || sl->ipc_path == NULL)
        return;
    if (listener_file_is_ours(sl)) {
        if (!listener_accepts(sl))
            listener_rebind(sl, sock, mu);
    } else if (lstat(sl->ipc_path, &sb) != 0 && errno == ENOENT) {
        listener_rebind(sl, sock, mu); /* our file was deleted */
    }
    /* Else another process owns the path now: leave it alone. */
}

nox_err_t
nox__listener_url(nox__listener_t *sl, pthread_mutex_t *mu, char *buf,
                  size_t len)
{
    nox_err_t rv = NOX_OK;
    char     *url = NULL;
    size_t    n;

    if (!sl->started)
        return NOX_EINVAL;
    (void)pthread_mutex_lock(mu); /* a rebind may swap the listener */
    if (nng_listener_get_string(sl->l, NNG_OPT_URL, &url) != 0)
        rv = NOX_EINTERNAL;
    (void)pthread_mutex_unlock(mu);
    if (rv != NOX_OK)
        return rv;
    if ((n = strlen(url)) < len)
        memcpy(buf, url, n + 1);
    else
        rv = NOX_EINVAL;
    nng_strfree(url);
    return rv;
}

void
nox__listener_close(nox__listener_t *sl)
{
    /* Only NNG_ECLOSED is possible: the socket closed them already. */
    for (size_t i = 0; i < sl->n_retired; i++)
        (void)nng_listener_close(sl->retired[i]);
    if (sl->started)
        (void)nng_listener_close(sl->l);
    /* nng removes the file itself; this covers versions that do not. */
    if (sl->started && sl->ipc_path != NULL && listener_file_is_ours(sl))
        (void)unlink(sl->ipc_path); /* best effort; gone is fine */
    free(sl->retired);
    free(sl->ipc_path);
    free(sl->url);
    sl->retired = NULL;
    sl->ipc_path = sl->url = NULL;
    sl->started = false;
}
