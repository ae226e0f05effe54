/* token.c - --token-file: the bearer token noxrc-rpc sends to a server
 * that requires one (tcp://, tls+tcp://, http://, https://). */
#include "cli.h"

#include <stdlib.h>

char *
nox__cli_token_read(const char *path, char *err, size_t errlen)
{
    nox_status_t st;
    char        *token;
    bool         exposed;

    /* A client only reads its copy: a file others can read is worth a
     * warning (they can call the server too), not a refusal as on the
     * server, whose file decides who gets in. */
    if (nox__token_file_read(path, false, &token, &exposed, &st) != NOX_OK) {
        (void)snprintf(err, errlen, "%s", st.msg);
        return NULL;
    }
    if (exposed)
        (void)fprintf(stderr,
                      NOX_CLI_NAME ": warning: token file %s may be read by "
                                   "other users: chmod 600 %s\n",
                      path, path);
    return token;
}
