/* nng_echo.c - the transport floor of an ipc call: one NNG req/rep round
 * trip of a small message to an echo thread in this process, where the
 * bench's server runs too. Every call over ipc pays at least this, so it
 * says how much of an ipc Exec is NNG's and how much the service's. */
#include "bench.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <string.h>

#define ECHO_BYTES 64 /* about an Exec request of "true" */

static void *
echo_main(void *arg)
{
    bench_echo_t *e = arg;
    nng_msg      *m;

    /* Ends when stop closes the socket (recv then fails). */
    while (nng_recvmsg(e->rep, &m, 0) == 0)
        if (nng_sendmsg(e->rep, m, 0) != 0)
            nng_msg_free(m);
    return NULL;
}

int
bench_echo_start(bench_echo_t *e, const char *url, char *msg, size_t msglen)
{
    int rv;

    memset(e, 0, sizeof(*e));
    if ((rv = nng_rep0_open(&e->rep)) != 0) {
        (void)snprintf(msg, msglen, "rep socket: %s", nng_strerror(rv));
        return -1;
    }
    if ((rv = nng_listen(e->rep, url, NULL, 0)) != 0 ||
        (rv = nng_req0_open(&e->req)) != 0) {
        (void)snprintf(msg, msglen, "listen %s: %s", url, nng_strerror(rv));
        (void)nng_close(e->rep);
        return -1;
    }
    if ((rv = nng_dial(e->req, url, NULL, 0)) != 0 ||
        (rv = pthread_create(&e->thread, NULL, echo_main, e)) != 0) {
        (void)snprintf(msg, msglen, "dial %s: %s", url,
                       rv > 0 && rv < 1000 ? strerror(rv) : nng_strerror(rv));
        (void)nng_close(e->req);
        (void)nng_close(e->rep);
        return -1;
    }
    e->started = true;
    return 0;
}

int
bench_echo_case(void *arg, size_t i, char *msg, size_t msglen)
{
    bench_echo_t *e = arg;
    nng_msg      *m;
    int           rv;

    (void)i; /* every round sends the same message */
    if ((rv = nng_msg_alloc(&m, ECHO_BYTES)) != 0) {
        (void)snprintf(msg, msglen, "alloc: %s", nng_strerror(rv));
        return -1;
    }
    memset(nng_msg_body(m), 'x', ECHO_BYTES);
    if ((rv = nng_sendmsg(e->req, m, 0)) != 0) {
        nng_msg_free(m);
        (void)snprintf(msg, msglen, "send: %s", nng_strerror(rv));
        return -1;
    }
    if ((rv = nng_recvmsg(e->req, &m, 0)) != 0) {
        (void)snprintf(msg, msglen, "recv: %s", nng_strerror(rv));
        return -1;
    }
    rv = nng_msg_len(m) == ECHO_BYTES ? 0 : -1;
    if (rv != 0)
        (void)snprintf(msg, msglen, "echo of %zu bytes", nng_msg_len(m));
    nng_msg_free(m);
    return rv;
}

void
bench_echo_stop(bench_echo_t *e)
{
    if (!e->started)
        return;
    (void)nng_close(e->req);
    (void)nng_close(e->rep); /* ends echo_main's recv */
    (void)pthread_join(e->thread, NULL);
    e->started = false;
}
