/* nng_echo.c - the transport floor of an ipc call: one NNG req/rep round
 * trip of a small message between two processes, as between a client and
 * noxrunnerd. The echo side is this program run again with --nng-echo
 * (NNG is not fork-safe, so it is exec'd, not forked). Every call over
 * ipc pays at least this, so it says how much of an ipc Exec is NNG's. */
#include "bench.h"

#include <errno.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ECHO_BYTES 64     /* about an Exec request of "true" */
#define ECHO_DIAL_MS 5000 /* for the echo process to listen */
#define ECHO_STOP_MS 5000
#define ECHO_IO_MS 5000
/* Larger messages are acknowledged with an empty reply, so a transfer is
 * timed one way, as an upload travels. */
#define ECHO_ACK_OVER (64 * 1024)

int
bench_echo_serve(const char *url)
{
    nng_socket s;
    nng_msg   *m;
    int        rv;

    /* Started by bench_start: SIGTERM comes when nox-bench goes. */

    /* No size limit: the files group sends whole archives. */
    if ((rv = nng_rep0_open(&s)) != 0 ||
        (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0)) != 0 ||
        (rv = nng_listen(s, url, NULL, 0)) != 0) {
        (void)fprintf(stderr, "nox-bench --nng-echo %s: %s\n", url,
                      nng_strerror(rv));
        return 1;
    }
    /* Until the bench's SIGTERM ends the process. */
    for (;;) {
        if ((rv = nng_recvmsg(s, &m, 0)) != 0)
            break;
        if (nng_msg_len(m) > ECHO_ACK_OVER)
            nng_msg_clear(m);
        if (nng_sendmsg(s, m, 0) != 0)
            nng_msg_free(m);
    }
    (void)fprintf(stderr, "nox-bench --nng-echo: %s\n", nng_strerror(rv));
    return 1;
}

int
bench_echo_start(bench_t *b, bench_echo_t *e, const char *url, char *msg,
                 size_t msglen)
{
    char        bin[PATH_MAX];
    const char *argv[] = {bin, "--nng-echo", url, NULL};
    int64_t     end = bench_now_ns() + (int64_t)ECHO_DIAL_MS * 1000000;
    int         rv;

    memset(e, 0, sizeof(*e));
    if (bench_path(bin, sizeof(bin), b->bin_dir, "nox-bench") != 0) {
        (void)snprintf(msg, msglen, "path of nox-bench too long");
        return -1;
    }
    if ((rv = bench_start(argv, -1, &e->pid)) != 0) {
        (void)snprintf(msg, msglen, "cannot start %s: %s", bin, strerror(rv));
        return -1;
    }
    if ((rv = nng_req0_open(&e->req)) != 0) {
        (void)snprintf(msg, msglen, "req socket: %s", nng_strerror(rv));
        goto out_stop;
    }
    /* A lost echo fails its round instead of stalling the bench (a req0
     * send with no peer waits for one for ever). */
    if ((rv = nng_socket_set_ms(e->req, NNG_OPT_RECVTIMEO, ECHO_IO_MS)) != 0 ||
        (rv = nng_socket_set_ms(e->req, NNG_OPT_SENDTIMEO, ECHO_IO_MS)) != 0) {
        (void)snprintf(msg, msglen, "req socket: %s", nng_strerror(rv));
        (void)nng_close(e->req);
        goto out_stop;
    }
    /* The child may not listen yet: redial until it does. */
    while ((rv = nng_dial(e->req, url, NULL, 0)) == NNG_ECONNREFUSED ||
           rv == NNG_ENOENT) {
        if (bench_now_ns() >= end)
            break;
        nng_msleep(5);
    }
    if (rv != 0) {
        (void)snprintf(msg, msglen, "dial %s: %s", url, nng_strerror(rv));
        (void)nng_close(e->req);
        goto out_stop;
    }
    e->started = true;
    return 0;
out_stop:
    (void)bench_stop(e->pid, ECHO_STOP_MS, NULL); /* a kill is its end */
    return -1;
}

int
bench_echo_case(void *arg, size_t i, char *msg, size_t msglen)
{
    static const uint8_t x[ECHO_BYTES]; /* zeros; what counts is the size */
    bench_echo_t        *e = arg;

    (void)i; /* every round sends the same message */
    /* One failure ends the case: each round would wait ECHO_IO_MS. */
    if (e->broken) {
        (void)snprintf(msg, msglen, "the echo failed earlier: %s", e->why);
        return -1;
    }
    if (bench_echo_send(e, x, sizeof(x), msg, msglen) == 0)
        return 0;
    e->broken = true;
    (void)snprintf(e->why, sizeof(e->why), "%s", msg);
    return -1;
}

int
bench_echo_send(bench_echo_t *e, const void *data, size_t len, char *msg,
                size_t msglen)
{
    nng_msg *m;
    int      rv;

    if ((rv = nng_msg_alloc(&m, len)) != 0) {
        (void)snprintf(msg, msglen, "alloc: %s", nng_strerror(rv));
        return -1;
    }
    memcpy(nng_msg_body(m), data, len); /* as a client packs a request */
    if ((rv = nng_sendmsg(e->req, m, 0)) != 0) {
        nng_msg_free(m);
        (void)snprintf(msg, msglen, "send: %s", nng_strerror(rv));
        return -1;
    }
    if ((rv = nng_recvmsg(e->req, &m, 0)) != 0) {
        (void)snprintf(msg, msglen, "recv: %s", nng_strerror(rv));
        return -1;
    }
    /* Small messages come back whole, large ones as an empty ack. */
    rv = nng_msg_len(m) == (len > ECHO_ACK_OVER ? 0 : len) ? 0 : -1;
    if (rv != 0)
        (void)snprintf(msg, msglen, "reply of %zu bytes to %zu", nng_msg_len(m),
                       len);
    nng_msg_free(m);
    return rv;
}

void
bench_echo_stop(bench_echo_t *e)
{
    if (!e->started)
        return;
    (void)nng_close(e->req);
    /* SIGTERM ends it by default; how it ended is of no interest. */
    (void)bench_stop(e->pid, ECHO_STOP_MS, NULL);
    e->started = false;
}
