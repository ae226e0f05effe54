/* quickstart.c - libnoxrunner in local testing mode: the C twin of
 * NoxRunner's Python example
 *
 *     client = NoxRunnerClient(local_test=True)
 *     client.create_sandbox("my-session")
 *     result = client.exec("my-session", ["echo", "Hello"])
 *     client.delete_sandbox("my-session")
 *
 * The engine runs in-process (no server needed) on $NOXRUNNER_BASE_DIR,
 * else /tmp. Build: cc quickstart.c $(pkg-config --cflags --libs noxrunner)
 */
#include <nox/client.h>

#include <stdio.h>
#include <stdlib.h>

/* Print what failed and why; returns 1 for use as an exit status. */
static int
fail(nox_client_t *c, const char *what, nox_err_t err)
{
    if (c != NULL)
        fprintf(stderr, "quickstart: %s: %s: %s\n", what, nox_strerror(err),
                nox_client_errmsg(c));
    else
        fprintf(stderr, "quickstart: %s: %s\n", what, nox_strerror(err));
    return 1;
}

int
main(void)
{
    nox_local_opts_t  local = {.base_dir = getenv("NOXRUNNER_BASE_DIR"),
                               .quiet = -1}; /* -1: $NOXRUNNER_QUIET */
    nox_client_t     *client;
    nox_sandbox_t     sandbox;
    nox_exec_t        result;
    const char *const argv[] = {"echo", "Hello"};
    nox_err_t         err;
    int               status = 0;

    /* Local testing mode: commands run on this machine, in a sandbox
     * directory under the base dir. */
    err = nox_client_open_local(&client, &local, NULL);
    if (err != NOX_OK)
        return fail(NULL, "open", err);

    err = nox_client_create(client, "my-session", NULL, &sandbox);
    if (err != NOX_OK) {
        status = fail(client, "create", err);
        goto out_close;
    }
    nox_sandbox_free(&sandbox);

    err = nox_client_exec(client, "my-session", argv, 2, NULL, &result);
    if (err != NOX_OK) {
        status = fail(client, "exec", err);
    } else {
        fputs((const char *)result.stdout_data, stdout); /* "Hello\n" */
        status = result.exit_code != 0;
        nox_exec_free(&result);
    }

    /* Clean up even when exec failed. */
    err = nox_client_delete(client, "my-session", NULL);
    if (err != NOX_OK)
        status = fail(client, "delete", err);
out_close:
    nox_client_close(client);
    return status;
}
