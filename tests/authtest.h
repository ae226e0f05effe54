/*
 * authtest.h - the fixture the authentication suites share: a temporary
 * directory with room for an ipc socket, and one server started per test
 * (by the test itself: the uid tests fork before any thread exists).
 */
#ifndef NOX_AUTHTEST_H
#define NOX_AUTHTEST_H

#include "nox/engine.h"
#include "nox/server.h"

#include <limits.h>

/* Fixture state (CK_FORK: one copy per test process). */
extern char         *at_base; /* the test's directory, mode 0711 */
extern nox_engine_t *at_eng;  /* NULL until at_start */
extern nox_server_t *at_srv;  /* NULL until at_start succeeds */
extern char          at_sock_path[PATH_MAX];   /* at_base/s.sock */
extern char          at_ipc_url[PATH_MAX + 8]; /* ipc://at_sock_path */

/* Checked fixture: a fresh directory, no token or CA from the
 * environment. */
void at_setup(void);
void at_teardown(void);

/* Start the server with o (o->engine is filled in; the engine, at
 * isolation none, is opened on the first call; o->workers 0 becomes 2; no
 * reaper). */
nox_err_t at_start(nox_server_opts_t *o, nox_status_t *st);

#endif /* NOX_AUTHTEST_H */
