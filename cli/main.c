/*
 * main.c - noxrc-rpc: parse the command line, read the subcommand's local
 * inputs, open the client (a server URL or the in-process engine), run
 * the subcommand, exit with its status.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int
main_run(const nox__cli_args_t *args)
{
    nox__cli_ctx_t ctx = {.args = args};
    int            rc = 0;

    /* Local inputs before the connection: see nox__cli_command. */
    if (args->cmd->prepare != NULL)
        rc = args->cmd->prepare(&ctx);
    if (rc == 0)
        rc = nox__cli_open(&ctx);
    if (rc == 0) {
        rc = args->cmd->run(&ctx);
        nox_client_close(ctx.client);
    }
    free(ctx.input);
    return rc;
}

int
main(int argc, char **argv)
{
    nox__cli_args_t args;
    char            err[512] = "";
    int rc = nox__cli_args_parse(argc, argv, &args, err, sizeof(err));

    if (args.help) {
        if (args.cmd != NULL)
            nox__cli_command_help(args.cmd);
        else
            nox__cli_usage();
        rc = 0;
    } else if (args.version) {
        (void)puts(NOX_CLI_NAME " " NOX_CLI_VERSION);
        rc = 0;
    } else if (rc != 0) {
        rc = nox__cli_fail_usage(
            args.json || nox__cli_argv_wants_json(argc, argv), err);
    } else {
        rc = main_run(&args);
    }
    nox__cli_args_free(&args);
    /* Output is buffered: a full disk or closed pipe shows up here. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        (void)fprintf(stderr, NOX_CLI_NAME ": cannot write output: %s\n",
                      strerror(errno));
        if (rc == 0)
            rc = NOX_CLI_EXIT_SOFTWARE;
    }
    return rc;
}
