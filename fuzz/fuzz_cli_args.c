/*
 * fuzz_cli_args.c - libFuzzer harness: noxrc-rpc's command-line parser
 * (cli/args.c), which returns a status rather than exiting.
 *
 * Input: the words after the program name, separated by NUL bytes (at
 * most CLI_MAX_WORDS). Checked: the parser returns 0 or the usage status
 * with a message; on success a command was given (unless --help or
 * --version) and the positionals and env entries fit their arrays and
 * point into argv; nox__cli_argv_wants_json agrees with a plain scan.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define CLI_MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
cli_die(const char *msg)
{
    (void)fprintf(stderr, "fuzz: %s\n", msg);
    abort();
}

/* True when p is one of the words of argv. */
static bool
cli_in_argv(const char *p, int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (argv[i] == p)
            return true;
    return false;
}

static void
cli_check(int argc, char **argv)
{
    nox__cli_args_t a;
    char            err[256] = "";
    int             rc = nox__cli_args_parse(argc, argv, &a, err, sizeof(err));

    if (rc != 0 && rc != NOX_CLI_EXIT_USAGE)
        cli_die("the parser returned neither 0 nor the usage status");
    if (rc != 0 && err[0] == '\0')
        cli_die("a usage error without a message");
    if (rc == 0) {
        if (a.cmd == NULL && !a.help && !a.version)
            cli_die("accepted without a command");
        if (a.rest_len >= (size_t)argc || a.env_len >= (size_t)argc)
            cli_die("more positionals or env entries than words");
        if (a.session != NULL && !cli_in_argv(a.session, argc, argv))
            cli_die("the session is not a word of argv");
        for (size_t i = 0; i < a.rest_len; i++)
            if (!cli_in_argv(a.rest[i], argc, argv))
                cli_die("a positional is not a word of argv");
        for (size_t i = 0; i < a.env_len; i++)
            if (strchr(a.env[i], '=') == NULL || a.env[i][0] == '=')
                cli_die("an env entry without KEY=");
    }
    nox__cli_args_free(&a);

    bool json = false;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
            break;
        }
    if (nox__cli_argv_wants_json(argc, argv) != json)
        cli_die("--json detection disagrees with a plain scan");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    char *argv[CLI_MAX_WORDS + 2];
    int   argc = 0;

    if (buf == NULL)
        cli_die("out of memory");
    memcpy(buf, data, size);
    buf[size] = '\0';
    argv[argc++] = (char *)NOX_CLI_NAME;
    for (size_t i = 0; i <= size && argc <= CLI_MAX_WORDS;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;
    /* No input is no word at all, as when the tool is run bare. */
    cli_check(size == 0 ? 1 : argc, argv);
    free(buf);
    return 0;
}
