/*
 * runner.c - the registry of running commands and the event thread that
 * drives them (runner.h says what for).
 *
 * Jobs live in one list under mu. A job is "active" once its starter
 * hands it over; the event thread then registers its fds in the epoll set
 * itself, so no event of a command can be handled while its starter is
 * still setting it up, and only the event thread ever touches a job's
 * nox__spawn_t: spawn's state needs no lock. mu guards the list, the
 * flags and the pgid that kills read. A job leaves the list
 * before its command is reaped, so a kill never signals a group whose
 * leader may have been reaped and its pid reused.
 */
#include "runner.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#define RUNNER_EVENTS 64 /* epoll events taken per wakeup */
/* A running command holds up to six of the engine's fds (pipes, pidfd,
 * workspace lock) while it runs; the process keeps this many for
 * everything else (connections, sandboxes being opened, libraries). */
#define RUNNER_FDS_PER_JOB 8
#define RUNNER_FDS_RESERVED 256
#define RUNNER_MIN_JOBS 16

typedef struct runner_job {
    struct runner_job  *next, *prev;
    nox__spawn_t       *sp; /* NULL: never ran, res holds the outcome */
    char                sid[NOX_SESSION_ID_MAX + 1];
    pid_t               pgid;    /* 0: no process */
    bool                active;  /* handed to the event thread */
    bool                watched; /* its fds are in the epoll set */
    nox_exec_result_t   res;
    nox__runner_done_fn done;
    void               *arg;
} runner_job_t;

struct nox__runner {
    pthread_mutex_t mu;
    runner_job_t    jobs; /* list head; guarded by mu */
    size_t          n_jobs;
    bool            stopping;
    bool            aborted; /* nox__runner_abort: no command may run */
    pid_t           owner;   /* the process the thread belongs to */
    bool            thread_started;
    pthread_t       thread;
    int             epfd;
    int             wake_fd; /* eventfd: the job list changed */
};

/* ---- the list ---- */

static void
runner_link(nox__runner_t *r, runner_job_t *j)
{
    j->next = &r->jobs;
    j->prev = r->jobs.prev;
    r->jobs.prev->next = j;
    r->jobs.prev = j;
    r->n_jobs++;
}

static void
runner_unlink(nox__runner_t *r, runner_job_t *j)
{
    j->prev->next = j->next;
    j->next->prev = j->prev;
    j->next = j->prev = NULL;
    r->n_jobs--;
}

static void
runner_wake(nox__runner_t *r)
{
    uint64_t one = 1;

    /* Fails only when the counter is about to overflow, and then the
     * thread is awake anyway. */
    (void)!write(r->wake_fd, &one, sizeof(one));
}

/* ---- the event thread ---- */

/* Tick every active job; move the finished ones to *done. Returns the
 * epoll timeout until the nearest due time (-1: none). */
static int
runner_tick_all(nox__runner_t *r, runner_job_t *done)
{
    int64_t now = nox__mono_ms(), next = INT64_MAX;

    (void)pthread_mutex_lock(&r->mu);
    for (runner_job_t *j = r->jobs.next, *n; j != &r->jobs; j = n) {
        int64_t at = INT64_MAX;
        n = j->next;
        if (!j->active)
            continue;
        if (j->sp != NULL && !j->watched) {
            /* A failure ends the run at this first tick: spawn kills
             * the command then, and done says why. */
            (void)nox__spawn_watch(j->sp, r->epfd);
            j->watched = true;
        }
        if (j->sp == NULL || nox__spawn_tick(j->sp, now, &at)) {
            runner_unlink(r, j);
            j->next = done->next; /* singly linked from here */
            done->next = j;
            continue;
        }
        if (at < next)
            next = at;
    }
    (void)pthread_mutex_unlock(&r->mu);
    if (done->next != NULL)
        return 0; /* their done functions may take a while */
    if (next == INT64_MAX)
        return -1;
    return next <= now ? 0 : next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

/* Reap the finished jobs and call their done functions, without mu. */
static void
runner_finish(runner_job_t *done)
{
    runner_job_t *j = done->next, *n;

    for (; j != NULL; j = n) {
        nox_status_t st;
        nox_err_t    rv = NOX_OK;

        n = j->next;
        nox__status_clear(&st);
        if (j->sp != NULL)
            rv = nox__spawn_finish(j->sp, &j->res, &st);
        j->done(j->arg, rv, &j->res, &st);
        free(j);
    }
    done->next = NULL;
}

static void
runner_handle(nox__runner_t *r, const struct epoll_event *ev, int n)
{
    uint64_t count;

    for (int i = 0; i < n; i++) {
        if (ev[i].data.ptr == NULL) {
            /* Only EAGAIN: already drained. */
            (void)!read(r->wake_fd, &count, sizeof(count));
            continue;
        }
        nox__spawn_event(ev[i].data.ptr, ev[i].events);
    }
}

static void *
runner_main(void *arg)
{
    nox__runner_t     *r = arg;
    struct epoll_event ev[RUNNER_EVENTS];
    runner_job_t       done = {0};

    for (;;) {
        int timeout = runner_tick_all(r, &done);
        runner_finish(&done);
        if (timeout != 0) {
            (void)pthread_mutex_lock(&r->mu);
            bool over = r->stopping && r->n_jobs == 0;
            (void)pthread_mutex_unlock(&r->mu);
            if (over)
                break;
        }
        int n = epoll_wait(r->epfd, ev, RUNNER_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            /* Cannot happen with a valid epoll fd; do not spin. */
            (void)usleep(1000);
            continue;
        }
        runner_handle(r, ev, n > 0 ? n : 0);
    }
    return NULL;
}

/* With mu held. Every signal is blocked in the thread: it must never run
 * a handler of the embedding program, and SIGPIPE from a stdin write is
 * taken care of by spawn. */
static int
runner_start_thread(nox__runner_t *r)
{
    sigset_t all, old;
    int      e;

    if (r->thread_started)
        return 0;
    (void)sigfillset(&all);
    e = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (e != 0)
        return e;
    e = pthread_create(&r->thread, NULL, runner_main, r);
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL); /* restoring */
    if (e == 0)
        r->thread_started = true;
    return e;
}

/* ---- the API ---- */

nox_err_t
nox__runner_open(nox__runner_t **out, nox_status_t *st)
{
    nox__runner_t     *r = calloc(1, sizeof(*r));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    int                e;

    if (r == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    r->jobs.next = r->jobs.prev = &r->jobs;
    r->owner = getpid();
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->epfd < 0 || r->wake_fd < 0 ||
        epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->wake_fd, &ev) != 0) {
        e = errno;
        goto out_fail;
    }
    e = pthread_mutex_init(&r->mu, NULL);
    if (e != 0)
        goto out_fail;
    *out = r;
    return NOX_OK;

out_fail:
    nox__close(r->epfd);
    nox__close(r->wake_fd);
    free(r);
    return nox__status_errno(st, NOX_EINTERNAL, e, "command event loop");
}

void
nox__runner_close(nox__runner_t *r)
{
    if (r == NULL)
        return;
    (void)pthread_mutex_lock(&r->mu);
    r->stopping = true;
    (void)pthread_mutex_unlock(&r->mu);
    nox__runner_kill(r, NULL);
    if (r->thread_started) {
        runner_wake(r);
        (void)pthread_join(r->thread, NULL); /* joinable, not us */
    }
    (void)pthread_mutex_destroy(&r->mu);
    nox__close(r->epfd);
    nox__close(r->wake_fd);
    free(r);
}

void
nox__runner_kill(nox__runner_t *r, const char *sid)
{
    (void)pthread_mutex_lock(&r->mu);
    for (runner_job_t *j = r->jobs.next; j != &r->jobs; j = j->next) {
        if (j->pgid > 0 && (sid == NULL || strcmp(j->sid, sid) == 0))
            (void)kill(-j->pgid, SIGKILL); /* unreaped: cannot be reused */
    }
    (void)pthread_mutex_unlock(&r->mu);
}

void
nox__runner_abort(nox__runner_t *r)
{
    (void)pthread_mutex_lock(&r->mu);
    r->aborted = true;
    (void)pthread_mutex_unlock(&r->mu);
    nox__runner_kill(r, NULL);
}

size_t
nox__runner_count(nox__runner_t *r)
{
    size_t n;

    (void)pthread_mutex_lock(&r->mu);
    n = r->n_jobs;
    (void)pthread_mutex_unlock(&r->mu);
    return n;
}

/* How many commands may run at once: as many as the process's open file
 * limit leaves room for, so that a flood of Execs (clients that send and
 * hang up cost nothing) is refused with a clear error instead of
 * starving every other call of fds. */
static size_t
runner_max_jobs(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    if (rl.rlim_cur <=
        RUNNER_FDS_RESERVED + RUNNER_FDS_PER_JOB * RUNNER_MIN_JOBS)
        return RUNNER_MIN_JOBS;
    return (size_t)(rl.rlim_cur - RUNNER_FDS_RESERVED) / RUNNER_FDS_PER_JOB;
}

/* Hand j to the event thread. */
static void
runner_activate(nox__runner_t *r, runner_job_t *j)
{
    (void)pthread_mutex_lock(&r->mu);
    j->active = true;
    (void)pthread_mutex_unlock(&r->mu);
    runner_wake(r);
}

nox_err_t
nox__runner_start(nox__runner_t *r, const nox_spawn_opts_t *o, const char *sid,
                  nox__runner_started_fn started, nox__runner_done_fn done,
                  void *arg, nox_status_t *st)
{
    const nox_exec_result_t empty = NOX_EXEC_RESULT_INIT;
    runner_job_t           *j = calloc(1, sizeof(*j));
    nox_err_t               rv;
    int                     e;

    /* A forked child has the runner's memory but not its thread: its
     * commands would never be waited for. */
    if (getpid() != r->owner) {
        free(j);
        return nox__status_set(st, NOX_EPRECOND,
                               "this engine was opened by another process "
                               "(before a fork): open one in this process");
    }
    if (j == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    j->res = empty;
    j->done = done;
    j->arg = arg;
    (void)snprintf(j->sid, sizeof(j->sid), "%s", sid);
    size_t max = runner_max_jobs(), running;
    (void)pthread_mutex_lock(&r->mu);
    running = r->n_jobs;
    e = r->aborted       ? ECANCELED
        : running >= max ? EMFILE
                         : runner_start_thread(r);
    (void)pthread_mutex_unlock(&r->mu);
    if (e == ECANCELED) {
        free(j);
        return nox__status_set(st, NOX_EUNAVAIL, "the engine is shutting down");
    }
    if (e == EMFILE) {
        free(j);
        return nox__status_set(st, NOX_ERESOURCE,
                               "too many commands running (%zu): each needs "
                               "file descriptors, and the open file limit "
                               "allows %zu at once",
                               running, max);
    }
    if (e != 0) {
        free(j);
        return nox__status_errno(st, NOX_ERESOURCE, e,
                                 "cannot start the command event thread");
    }
    rv = nox__spawn_start(o, &j->sp, &j->res, st);
    if (rv != NOX_OK) {
        free(j);
        return rv;
    }
    (void)pthread_mutex_lock(&r->mu);
    j->pgid = j->sp != NULL ? nox__spawn_pid(j->sp) : 0;
    runner_link(r, j);
    /* An abort that came while this command was being started did not
     * see it: it dies now, and its done function says so. */
    if (r->aborted && j->pgid > 0)
        (void)kill(-j->pgid, SIGKILL);
    (void)pthread_mutex_unlock(&r->mu);
    if (j->sp != NULL && started != NULL)
        started(arg, j->pgid);
    runner_activate(r, j);
    return NOX_OK;
}
