/*
 * policy.c - the command blocklist, looking through wrapper commands, and
 * environment variable names.
 *
 * The wrappers (env, nice, timeout, ...) are modelled as getopt tables
 * taken from their GNU implementations, all of which stop parsing options
 * at the first operand ("+" optstrings), so a scan from left to right
 * finds exactly the word they would execute. Where we cannot know (an
 * unknown option, an ambiguous abbreviation) we guess in the direction
 * that looks at more words, so a mistake tends to refuse rather than
 * allow. This is a guard rail, not a boundary: "sh -c 'rm x'" passes.
 */
#include "policy.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* env -S strings may themselves hold -S; each level is a fresh argv. */
#define POLICY_MAX_SPLIT_DEPTH 16

/* ------------------------------------------------------------------ */
/* names                                                               */
/* ------------------------------------------------------------------ */

static const char *const policy_blocked[] = {
    "rm",     "rmdir", "unlink",   "sudo", "su",      "chmod", "chown",
    "chgrp",  "mount", "umount",   "mkfs", "dd",      "fdisk", "shutdown",
    "reboot", "halt",  "poweroff", "init", "killall",
};

/* ASCII-only case folding: strcasecmp() depends on the locale, and in a
 * Turkish one "I" would not match "i". */
static char
policy_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool
policy_prefix_ci(const char *s, const char *prefix)
{
    for (; *prefix != '\0'; s++, prefix++)
        if (policy_lower(*s) != *prefix)
            return false;
    return true;
}

static bool
policy_eq_ci(const char *s, const char *lower)
{
    return policy_prefix_ci(s, lower) && s[strlen(lower)] == '\0';
}

/* The name a path would execute: everything after the last '/'. */
static const char *
policy_basename(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

static bool
policy_is_blocked(const char *name)
{
    for (size_t i = 0; i < sizeof(policy_blocked) / sizeof(*policy_blocked);
         i++)
        if (policy_eq_ci(name, policy_blocked[i]))
            return true;
    /* mkfs.ext4, mkfs.vfat, ...: mkfs front ends for each filesystem. */
    return policy_prefix_ci(name, "mkfs.");
}

/* ------------------------------------------------------------------ */
/* wrapper tables                                                      */
/* ------------------------------------------------------------------ */

enum { POLICY_NOARG, POLICY_REQARG, POLICY_OPTARG };

typedef struct {
    const char *name;    /* without "--"; NULL ends a table */
    int         has_arg; /* POLICY_NOARG / REQARG / OPTARG */
    bool        split;   /* env --split-string: the argument is an argv */
} policy_longopt_t;

typedef struct {
    const char             *name;      /* basename, lower case */
    const char             *shortopts; /* getopt: "x:" needs, "x::" may */
    char                    split_opt; /* short form of split, or 0 */
    const policy_longopt_t *longopts;
    unsigned                operands;    /* words before the command */
    bool                    assignments; /* NAME=VALUE words (env) */
    bool                    dash;        /* a lone "-" operand (env) */
    bool                    numeric;     /* "-5" is an option (nice) */
} policy_wrapper_t;

#define POLICY_STD_LONGOPTS                                                    \
    {"help", POLICY_NOARG, false}, {"version", POLICY_NOARG, false},           \
    {                                                                          \
        NULL, 0, false                                                         \
    }

static const policy_longopt_t policy_env_long[] = {
    {"ignore-environment", POLICY_NOARG, false},
    {"null", POLICY_NOARG, false},
    {"unset", POLICY_REQARG, false},
    {"chdir", POLICY_REQARG, false},
    {"default-signal", POLICY_OPTARG, false},
    {"ignore-signal", POLICY_OPTARG, false},
    {"block-signal", POLICY_OPTARG, false},
    {"list-signal-handling", POLICY_NOARG, false},
    {"debug", POLICY_NOARG, false},
    {"split-string", POLICY_REQARG, true},
    {"argv0", POLICY_REQARG, false}, /* coreutils >= 9.5: -a NAME */
    POLICY_STD_LONGOPTS,
};

static const policy_longopt_t policy_nice_long[] = {
    {"adjustment", POLICY_REQARG, false},
    POLICY_STD_LONGOPTS,
};

static const policy_longopt_t policy_timeout_long[] = {
    {"foreground", POLICY_NOARG, false},
    {"kill-after", POLICY_REQARG, false},
    {"preserve-status", POLICY_NOARG, false},
    {"signal", POLICY_REQARG, false},
    {"verbose", POLICY_NOARG, false},
    POLICY_STD_LONGOPTS,
};

static const policy_longopt_t policy_xargs_long[] = {
    {"null", POLICY_NOARG, false},
    {"arg-file", POLICY_REQARG, false},
    {"delimiter", POLICY_REQARG, false},
    {"eof", POLICY_OPTARG, false},
    {"replace", POLICY_OPTARG, false},
    {"max-lines", POLICY_OPTARG, false},
    {"max-args", POLICY_REQARG, false},
    {"open-tty", POLICY_NOARG, false},
    {"interactive", POLICY_NOARG, false},
    {"no-run-if-empty", POLICY_NOARG, false},
    {"max-chars", POLICY_REQARG, false},
    {"verbose", POLICY_NOARG, false},
    {"show-limits", POLICY_NOARG, false},
    {"exit", POLICY_NOARG, false},
    {"max-procs", POLICY_REQARG, false},
    {"process-slot-var", POLICY_REQARG, false},
    POLICY_STD_LONGOPTS,
};

static const policy_longopt_t policy_stdbuf_long[] = {
    {"input", POLICY_REQARG, false},
    {"output", POLICY_REQARG, false},
    {"error", POLICY_REQARG, false},
    POLICY_STD_LONGOPTS,
};

static const policy_longopt_t policy_std_long[] = {POLICY_STD_LONGOPTS};

/* name, shortopts, split_opt, longopts, operands, assignments, dash,
 * numeric. busybox: its first operand is the applet, i.e. the command. */
static const policy_wrapper_t policy_wrappers[] = {
    {"env", "C:iS:u:v0a:", 'S', policy_env_long, 0, true, true, false},
    {"nice", "n:", 0, policy_nice_long, 0, false, false, true},
    {"nohup", "", 0, policy_std_long, 0, false, false, false},
    {"timeout", "k:s:v", 0, policy_timeout_long, 1, false, false, false},
    {"xargs", "0a:E:e::i::I:l::L:n:prs:txP:d:o", 0, policy_xargs_long, 0, false,
     false, false},
    {"stdbuf", "i:o:e:", 0, policy_stdbuf_long, 0, false, false, false},
    {"command", "pvV", 0, policy_std_long, 0, false, false, false},
    {"exec", "a:cl", 0, policy_std_long, 0, false, false, false},
    {"busybox", "", 0, policy_std_long, 0, false, false, false},
};

static const policy_wrapper_t *
policy_find_wrapper(const char *name)
{
    for (size_t i = 0; i < sizeof(policy_wrappers) / sizeof(*policy_wrappers);
         i++)
        if (policy_eq_ci(name, policy_wrappers[i].name))
            return &policy_wrappers[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* option scanning                                                     */
/* ------------------------------------------------------------------ */

typedef struct {
    size_t      next;  /* index of the first word after the options */
    const char *split; /* the env -S argument, when one ended the scan */
} policy_scan_t;

/* How option c takes an argument in a getopt optstring. Unknown options
 * are flags: the wrapper would reject them and run nothing, and taking
 * no argument means the next word still gets checked. */
static int
policy_short_arg(const char *optstring, char c)
{
    const char *p;

    p = c != ':' ? strchr(optstring, c) : NULL;
    if (p == NULL)
        return POLICY_NOARG;
    if (p[1] != ':')
        return POLICY_NOARG;
    return p[2] == ':' ? POLICY_OPTARG : POLICY_REQARG;
}

/* Scan one cluster of short options ("-iu", "-n5", "-S rm") at argv[i];
 * returns the index after it and its argument. */
static size_t
policy_scan_short(const policy_wrapper_t *w, const char *const *argv,
                  size_t argc, size_t i, policy_scan_t *sc)
{
    const char *a = argv[i], *arg;

    for (size_t j = 1; a[j] != '\0'; j++) {
        int kind = policy_short_arg(w->shortopts, a[j]);

        if (kind == POLICY_NOARG)
            continue;
        if (kind == POLICY_OPTARG) /* only ever attached: "-l1" */
            return i + 1;
        if (a[j + 1] != '\0')
            arg = a + j + 1;
        else if (i + 1 < argc)
            arg = argv[++i]; /* "-u NAME": the next word */
        else
            arg = NULL; /* missing: the wrapper fails, nothing runs */
        if (a[j] == w->split_opt)
            sc->split = arg;
        return i + 1;
    }
    return i + 1;
}

/* getopt_long semantics: an exact name wins, else a unique prefix. */
static const policy_longopt_t *
policy_find_long(const policy_longopt_t *lo, const char *name, size_t len)
{
    const policy_longopt_t *found = NULL;
    size_t                  n = 0;

    for (; lo->name != NULL; lo++) {
        if (strncmp(lo->name, name, len) != 0)
            continue;
        if (lo->name[len] == '\0')
            return lo;
        found = lo;
        n++;
    }
    /* Ambiguous or unknown: a flag, for the reason given above. */
    return n == 1 ? found : NULL;
}

/* Scan one long option ("--unset=X", "--unset X") at argv[i]. */
static size_t
policy_scan_long(const policy_wrapper_t *w, const char *const *argv,
                 size_t argc, size_t i, policy_scan_t *sc)
{
    const char             *name = argv[i] + 2, *arg = NULL;
    size_t                  len = strcspn(name, "=");
    const policy_longopt_t *lo = policy_find_long(w->longopts, name, len);

    if (lo == NULL || lo->has_arg == POLICY_NOARG)
        return i + 1;
    if (name[len] == '=')
        arg = name + len + 1;
    else if (lo->has_arg == POLICY_REQARG && i + 1 < argc)
        arg = argv[++i]; /* a required argument may be the next word */
    if (lo->split)
        sc->split = arg;
    return i + 1;
}

/* nice's historic "-5", "--5", "-+5" adjustment syntax. */
static bool
policy_is_numeric_opt(const char *a)
{
    char c = a[1 + (a[1] == '-' || a[1] == '+')];

    return c >= '0' && c <= '9';
}

/* Skip w's options starting at argv[i]; stops at the first operand, after
 * "--", or at an env -S (whose string replaces the words scanned). */
static void
policy_scan_options(const policy_wrapper_t *w, const char *const *argv,
                    size_t argc, size_t i, policy_scan_t *sc)
{
    sc->split = NULL;
    while (i < argc && sc->split == NULL) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') /* "-" is an operand */
            break;
        if (w->numeric && policy_is_numeric_opt(a))
            i++;
        else if (a[1] == '-')
            i = policy_scan_long(w, argv, argc, i, sc);
        else
            i = policy_scan_short(w, argv, argc, i, sc);
    }
    sc->next = i;
}

/* Skip the words between w's options and the command it runs. */
static size_t
policy_skip_operands(const policy_wrapper_t *w, const char *const *argv,
                     size_t argc, size_t i)
{
    /* env: "-" means -i; then every word holding '=' is an assignment. */
    if (w->dash && i < argc && strcmp(argv[i], "-") == 0)
        i++;
    if (w->assignments)
        while (i < argc && strchr(argv[i], '=') != NULL)
            i++;
    for (unsigned k = 0; k < w->operands && i < argc; k++)
        i++;
    return i;
}

/* ------------------------------------------------------------------ */
/* env -S: split a string into words the way GNU env does              */
/* ------------------------------------------------------------------ */

typedef struct {
    char        *buf; /* word bytes, each word NUL-terminated */
    size_t       blen;
    const char **words; /* start of each word in buf */
    size_t       nwords;
    bool         sep; /* the next byte starts a new word */
} policy_split_t;

static void
policy_split_start(policy_split_t *sp)
{
    if (!sp->sep)
        return;
    if (sp->nwords > 0)
        sp->buf[sp->blen++] = '\0';
    sp->words[sp->nwords++] = sp->buf + sp->blen;
    sp->sep = false;
}

static void
policy_split_byte(policy_split_t *sp, char c)
{
    policy_split_start(sp);
    sp->buf[sp->blen++] = c;
}

/* The character a backslash sequence stands for (env's -S escapes). */
static char
policy_unescape(char c, bool dq)
{
    switch (c) {
    case '_':
        return dq ? ' ' : c; /* outside "": handled as a separator */
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'v':
        return '\v';
    default:
        return c; /* \" \# \$ \' \\; env rejects the rest anyway */
    }
}

/* Quotes, backslash escapes, "#" comments and "\c" as in coreutils'
 * build_argv(). ${VAR} is kept literally: the value is not known here,
 * one of the limits of a guard rail. Malformed strings (an open quote)
 * make env fail, so splitting them loosely is harmless. */
static void
policy_split_words(const char *s, policy_split_t *sp)
{
    bool sq = false, dq = false;
    char c;

    sp->sep = true;
    for (; *s != '\0'; s++) {
        c = *s;
        if ((c == '\'' && !dq) || (c == '"' && !sq)) {
            if (c == '\'')
                sq = !sq;
            else
                dq = !dq;
            policy_split_start(sp); /* '' is an empty word */
            continue;
        }
        if (!sq && !dq && strchr(" \t\n\v\f\r", c) != NULL) {
            sp->sep = true;
            continue;
        }
        if (c == '#' && sp->sep)
            break; /* a comment to the end */
        if (c == '\\' && (!sq || s[1] == '\\' || s[1] == '\'')) {
            c = *++s;
            if (c == '\0' || c == 'c')
                break; /* "\c" ends the string */
            if (c == '_' && !dq) {
                sp->sep = true;
                continue;
            }
            c = policy_unescape(c, dq);
        }
        policy_split_byte(sp, c);
    }
    if (sp->nwords > 0)
        sp->buf[sp->blen++] = '\0';
}

/* ------------------------------------------------------------------ */
/* the check                                                           */
/* ------------------------------------------------------------------ */

static nox_err_t policy_check_from(const char *const *argv, size_t argc,
                                   unsigned depth, nox_status_t *st);

/* GNU env rebuilds its argv as {env, split words..., rest...} and parses
 * options again from the start, so that is exactly what we check. */
static nox_err_t
policy_check_split(const char *split, const char *const *rest, size_t nrest,
                   unsigned depth, nox_status_t *st)
{
    size_t         len = strlen(split), nargv;
    policy_split_t sp = {NULL, 0, NULL, 0, true};
    const char   **argv;
    nox_err_t      rv;

    if (depth >= POLICY_MAX_SPLIT_DEPTH)
        return nox__status_set(st, NOX_EINVAL, "env -S nested too deeply");
    /* Words <= len + 1 and bytes <= 2 * len + 2 (each word adds at most
     * one NUL); one extra slot for "env". calloc checks the product. */
    if (len > SIZE_MAX / 4 || nrest > SIZE_MAX / 4)
        return nox__status_set(st, NOX_ERESOURCE, "out of memory");
    argv = calloc(len + 2 + nrest, sizeof(*argv));
    sp.buf = malloc(2 * len + 2);
    if (argv == NULL || sp.buf == NULL) {
        rv = nox__status_set(st, NOX_ERESOURCE, "out of memory");
        goto out_free;
    }
    argv[0] = "env";
    sp.words = argv + 1;
    policy_split_words(split, &sp);
    nargv = 1 + sp.nwords;
    if (nrest > 0)
        memcpy(argv + nargv, rest, nrest * sizeof(*argv));
    rv = policy_check_from(argv, nargv + nrest, depth + 1, st);
out_free:
    free(sp.buf);
    free(argv);
    return rv;
}

/* Walk from argv[0] through any wrappers to the command that would run. */
static nox_err_t
policy_check_from(const char *const *argv, size_t argc, unsigned depth,
                  nox_status_t *st)
{
    size_t i = 0;

    while (i < argc) {
        const char             *name = policy_basename(argv[i]);
        const policy_wrapper_t *w;
        policy_scan_t           sc;

        if (policy_is_blocked(name))
            return nox__status_set(st, NOX_EDENIED, "command not allowed: %s",
                                   name);
        w = policy_find_wrapper(name);
        if (w == NULL)
            return NOX_OK;
        policy_scan_options(w, argv, argc, i + 1, &sc);
        if (sc.split != NULL)
            return policy_check_split(sc.split, argv + sc.next, argc - sc.next,
                                      depth, st);
        /* Each step moves right, so this loop ends. A wrapper with no
         * command left (plain "env", "nice") runs nothing we block. */
        i = policy_skip_operands(w, argv, argc, sc.next);
    }
    return NOX_OK;
}

nox_err_t
nox__policy_check_argv(const char *const *argv, size_t argc, nox_status_t *st)
{
    size_t n = 0;

    /* A NULL entry ends the vector, as it would for execve(). */
    while (argv != NULL && n < argc && argv[n] != NULL)
        n++;
    if (n == 0 || argv[0][0] == '\0')
        return nox__status_set(
            st, NOX_EINVAL,
            "cmd is empty: the command must be a non-empty array of strings");
    return policy_check_from(argv, n, 0, st);
}

/* A name is any non-empty run of bytes without '=' (execve's separator)
 * and without control characters: a newline in a name makes one variable
 * read as two to whatever parses the environment line by line
 * (/proc/<pid>/environ dumps, `env` output, sh's export lists). */
nox_err_t
nox__policy_check_env_name(const char *name, nox_status_t *st)
{
    const unsigned char *p = (const unsigned char *)name;

    if (name == NULL || name[0] == '\0')
        return nox__status_set(st, NOX_EINVAL,
                               "invalid environment variable name: ''");
    for (; *p != '\0'; p++) {
        if (*p == '=' || *p < 0x20 || *p == 0x7f) {
            /* Quoted with its control characters escaped: the message
             * reaches terminals and logs. */
            char   quoted[NOX_MSG_MAX / 2];
            size_t len = 0;

            quoted[0] = '\0';
            nox__append_escaped(quoted, sizeof(quoted), &len, name);
            return nox__status_set(st, NOX_EINVAL,
                                   "invalid environment variable name: '%s'",
                                   quoted);
        }
    }
    return NOX_OK;
}
