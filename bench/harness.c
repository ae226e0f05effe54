/* harness.c - servers hosted in the bench process (inproc), clients, and the
 * checked calls every group makes. */
#include "bench.h"
#include "server_priv.h"

#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#define HARNESS_READY_MS 10000

int
bench_srv_start(bench_t *b, const char *group, bench_srv_t *s,
                const char *const *urls, size_t n)
{
    nox_engine_opts_t eo = {.base_dir = b->work, .quiet = 1};
    nox_server_opts_t so = {0};
    nox_status_t      st;

    memset(s, 0, sizeof(*s));
    if (nox_isolation_parse(b->iso ? b->iso : "none", &eo.isolation, &st) !=
            NOX_OK ||
        nox_engine_open(&s->engine, &eo, &st) != NOX_OK) {
        bench_fail(b, group, "engine: %s", st.msg);
        return -1;
    }
    so.engine = s->engine;
    so.urls = urls;
    so.n_urls = n;
    /* Workers, message limit and reaper as noxrunnerd's defaults. */
    if (nox_server_start(&s->server, &so, &st) != NOX_OK) {
        bench_fail(b, group, "server: %s", st.msg);
        nox_engine_close(s->engine);
        s->engine = NULL;
        return -1;
    }
    return 0;
}

int
bench_srv_url(bench_srv_t *s, size_t i, char *buf, size_t len)
{
    return nox__server_url(s->server, i, buf, len) == NOX_OK ? 0 : -1;
}

void
bench_srv_stop(bench_srv_t *s)
{
    /* The server borrows the engine: stop it first. */
    nox_server_stop(s->server);
    nox_engine_close(s->engine);
    s->server = NULL;
    s->engine = NULL;
}

nox_client_t *
bench_client(bench_t *b, const char *group, const char *url,
             nox_archive_format_t format)
{
    /* Quiet; default reaper. */
    nox_local_opts_t  lo = {b->work, 0, 1, 0, b->iso ? b->iso : "none"};
    nox_client_opts_t co;
    nox_client_t     *c = NULL;
    char              ebuf[256] = "";
    nox_err_t         err;

    memset(&co, 0, sizeof(co));
    co.archive_format = format;
    co.errbuf = ebuf;
    co.errbuf_len = sizeof(ebuf);
    if (url == NULL)
        err = nox_client_open_local(&c, &lo, &co);
    else
        err = nox_client_open(&c, url, &co);
    if (err != NOX_OK) {
        bench_fail(b, group, "open %s: %s: %s", url ? url : "in-process",
                   nox_strerror(err), ebuf);
        return NULL;
    }
    if ((err = nox_client_wait_ready(c, HARNESS_READY_MS)) != NOX_OK) {
        bench_fail(b, group, "%s not ready: %s", url ? url : "in-process",
                   nox_client_errmsg(c));
        nox_client_close(c);
        return NULL;
    }
    return c;
}

int
bench_create(bench_t *b, const char *group, nox_client_t *c, const char *sid)
{
    nox_sandbox_t sb;
    nox_err_t     err;

    if ((err = nox_client_create(c, sid, NULL, &sb)) != NOX_OK) {
        bench_fail(b, group, "create %s: %s", sid, nox_client_errmsg(c));
        return -1;
    }
    nox_sandbox_free(&sb);
    return 0;
}

void
bench_delete(bench_t *b, const char *group, nox_client_t *c, const char *sid)
{
    bool deleted;

    if (nox_client_delete(c, sid, &deleted) != NOX_OK)
        bench_fail(b, group, "delete %s: %s", sid, nox_client_errmsg(c));
    else if (!deleted)
        bench_fail(b, group, "delete %s: it was not there", sid);
}

nox_err_t
bench_exec(nox_client_t *c, const char *sid, const char *const *argv,
           size_t argc, const char *want_out, char *msg, size_t msglen)
{
    nox_exec_t r;
    nox_err_t  err;

    if ((err = nox_client_exec(c, sid, argv, argc, NULL, &r)) != NOX_OK) {
        (void)snprintf(msg, msglen, "%s", nox_client_errmsg(c));
        return err;
    }
    if (r.exit_code != 0)
        (void)snprintf(msg, msglen, "exit code %d: %s", (int)r.exit_code,
                       (const char *)r.stderr_data);
    else if (want_out != NULL &&
             (r.stdout_len != strlen(want_out) ||
              memcmp(r.stdout_data, want_out, r.stdout_len) != 0))
        (void)snprintf(msg, msglen, "unexpected output '%s'",
                       (const char *)r.stdout_data);
    else
        msg[0] = '\0';
    nox_exec_free(&r);
    return msg[0] == '\0' ? NOX_OK : NOX_EUNKNOWN;
}

int
bench_ipc_url(bench_t *b, const char *group, const char *name, char *buf,
              size_t len)
{
    struct sockaddr_un sun;
    int                n = snprintf(buf, len, "ipc://%s/%s", b->work, name);

    if (n < 0 || (size_t)n >= len ||
        (size_t)n - strlen("ipc://") >= sizeof(sun.sun_path)) {
        bench_fail(b, group, "socket path under %s is too long for ipc://",
                   b->work);
        return -1;
    }
    return 0;
}
