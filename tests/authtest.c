/* authtest.c - the authentication suites' fixture (authtest.h). */
#include "authtest.h"

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

char         *at_base;
nox_engine_t *at_eng;
nox_server_t *at_srv;
char          at_sock_path[PATH_MAX];
char          at_ipc_url[PATH_MAX + 8];

void
at_setup(void)
{
    at_base = tu_mkdtemp();
    /* Other users (nobody, in the uid tests) must reach the socket. */
    ck_assert_int_eq(chmod(at_base, 0711), 0);
    ck_assert_int_lt(
        snprintf(at_sock_path, sizeof(at_sock_path), "%s/s.sock", at_base),
        (int)sizeof(at_sock_path));
    (void)snprintf(at_ipc_url, sizeof(at_ipc_url), "ipc://%s", at_sock_path);
    ck_assert_int_eq(unsetenv("NOXRUNNER_TOKEN"), 0);
    ck_assert_int_eq(unsetenv("NOXRUNNER_CA_FILE"), 0);
    at_eng = NULL;
    at_srv = NULL;
}

void
at_teardown(void)
{
    nox_server_stop(at_srv);
    nox_engine_close(at_eng);
    tu_rmtree_free(at_base);
}

nox_err_t
at_start(nox_server_opts_t *o, nox_status_t *st)
{
    nox_engine_opts_t eo = {.quiet = 1, .isolation = NOX_ISOLATION_NONE};
    char              dir[PATH_MAX];

    if (at_eng == NULL) {
        (void)snprintf(dir, sizeof(dir), "%s/sandboxes", at_base);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
        eo.base_dir = dir;
        ck_assert_int_eq(nox_engine_open(&at_eng, &eo, st), NOX_OK);
    }
    o->engine = at_eng;
    if (o->workers == 0)
        o->workers = 2;
    o->reap_interval_ms = -1;
    return nox_server_start(&at_srv, o, st);
}
