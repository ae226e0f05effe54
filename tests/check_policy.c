/* check_policy.c - the command blocklist, wrappers, and env names. */
#include "policy.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGV_MAX 12

/* A NULL-terminated argv and, for refusals, the name in the message. */
typedef struct {
    const char *argv[ARGV_MAX];
    const char *name;
} policy_case_t;

static size_t
argv_len(const char *const *argv)
{
    size_t n = 0;

    while (n < ARGV_MAX && argv[n] != NULL)
        n++;
    return n;
}

/* The argv as one line, for failure messages. */
static const char *
argv_str(const char *const *argv, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; argv[i] != NULL && i < ARGV_MAX; i++) {
        int n =
            snprintf(buf + used, len - used, "%s[%s]", i ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    return buf;
}

static void
assert_denied(const char *const *argv, const char *name)
{
    nox_status_t st;
    char         want[128], line[512];
    nox_err_t    rv = nox__policy_check_argv(argv, argv_len(argv), &st);

    (void)snprintf(want, sizeof(want), "command not allowed: %s", name);
    ck_assert_msg(rv == NOX_EDENIED, "%s: rv %d (%s)",
                  argv_str(argv, line, sizeof(line)), rv,
                  rv ? st.msg : "allowed");
    ck_assert_int_eq(st.code, NOX_EDENIED);
    ck_assert_str_eq(st.msg, want);
}

static void
assert_allowed(const char *const *argv)
{
    nox_status_t st;
    char         line[512];
    nox_err_t    rv = nox__policy_check_argv(argv, argv_len(argv), &st);

    ck_assert_msg(rv == NOX_OK, "%s: rv %d (%s)",
                  argv_str(argv, line, sizeof(line)), rv, st.msg);
}

/* ------------------------------------------------------------------ */
/* direct commands                                                     */
/* ------------------------------------------------------------------ */

static const char *const blocked_names[] = {
    "rm",     "rmdir", "unlink",   "sudo", "su",      "chmod",     "chown",
    "chgrp",  "mount", "umount",   "mkfs", "dd",      "fdisk",     "shutdown",
    "reboot", "halt",  "poweroff", "init", "killall", "mkfs.ext4", "mkfs.vfat",
};

START_TEST(policy_denies_each_blocked_name)
{
    const char *argv[] = {blocked_names[_i], "arg", NULL};

    assert_denied(argv, blocked_names[_i]);
}
END_TEST

static const policy_case_t direct_cases[] = {
    {{"/bin/rm", "-rf", "x", NULL}, "rm"},
    {{"RM", NULL}, "RM"},
    {{"Rm", NULL}, "Rm"},
    {{"/usr/bin/SUDO", "id", NULL}, "SUDO"},
    {{"./chmod", "777", "x", NULL}, "chmod"},
    {{"MKFS.EXT4", "/dev/x", NULL}, "MKFS.EXT4"},
};

START_TEST(policy_denies_paths_and_any_case_naming_the_basename_as_written)
{
    assert_denied(direct_cases[_i].argv, direct_cases[_i].name);
}
END_TEST

/* ------------------------------------------------------------------ */
/* wrappers                                                            */
/* ------------------------------------------------------------------ */

static const policy_case_t wrapped_cases[] = {
    /* env */
    {{"env", "rm", NULL}, "rm"},
    {{"env", "-i", "FOO=1", "rm", NULL}, "rm"},
    {{"env", "-u", "X", "rm", NULL}, "rm"},
    {{"env", "-uX", "rm", NULL}, "rm"},
    {{"env", "--unset=X", "rm", NULL}, "rm"},
    {{"env", "--unset", "X", "rm", NULL}, "rm"},
    {{"env", "--uns", "X", "rm", NULL}, "rm"}, /* getopt abbreviation */
    {{"env", "-iu", "X", "rm", NULL}, "rm"},   /* option cluster */
    {{"env", "-C", "/tmp", "rm", NULL}, "rm"},
    {{"env", "--chdir=/tmp", "-0v", "rm", NULL}, "rm"},
    {{"env", "-", "A=1", "B=2", "rm", NULL}, "rm"},
    {{"env", "--", "rm", NULL}, "rm"},
    {{"env", "--block-signal", "--ignore-signal=PIPE", "rm", NULL}, "rm"},
    {{"env", "-Z", "rm", NULL}, "rm"}, /* unknown option: a flag */
    {{"env", "-S", "rm -rf x", NULL}, "rm"},
    {{"env", "-Srm -rf x", NULL}, "rm"},
    {{"env", "--split-string=rm -rf x", NULL}, "rm"},
    {{"env", "--split-string", "  rm", NULL}, "rm"},
    {{"env", "-S", "-i FOO=1 nice -n 5 rm", NULL}, "rm"},
    {{"env", "-S", "-u", "rm", "sudo", NULL}, "sudo"}, /* -S words + rest */
    {{"env", "-S", "'/bin/rm' x", NULL}, "rm"},
    {{"env", "-S", "\"RM\"", NULL}, "RM"},
    {{"env", "-S", "FOO=bar\\_rm", NULL}, "rm"},
    {{"env", "-S", "-S'env rm'", NULL}, "rm"}, /* -S inside -S */
    /* nice */
    {{"nice", "-n", "5", "rm", NULL}, "rm"},
    {{"nice", "-n5", "rm", NULL}, "rm"},
    {{"nice", "-n", "-5", "rm", NULL}, "rm"},
    {{"nice", "-5", "rm", NULL}, "rm"},
    {{"nice", "--5", "rm", NULL}, "rm"},
    {{"nice", "--adjustment=5", "rm", NULL}, "rm"},
    {{"nice", "--adjustment", "5", "rm", NULL}, "rm"},
    /* nohup */
    {{"nohup", "rm", NULL}, "rm"},
    {{"nohup", "--", "rm", NULL}, "rm"},
    /* timeout */
    {{"timeout", "5", "rm", NULL}, "rm"},
    {{"timeout", "-s", "KILL", "5", "rm", NULL}, "rm"},
    {{"timeout", "-sKILL", "5s", "rm", NULL}, "rm"},
    {{"timeout", "--signal=KILL", "-k", "1", "5", "rm", NULL}, "rm"},
    {{"timeout", "--kill-after", "1", "--preserve-status", "--foreground", "-v",
      "5", "rm", NULL},
     "rm"},
    /* xargs */
    {{"xargs", "rm", NULL}, "rm"},
    {{"xargs", "-n", "1", "rm", NULL}, "rm"},
    {{"xargs", "-0", "-I", "{}", "rm", "{}", NULL}, "rm"},
    {{"xargs", "-i", "rm", NULL}, "rm"},
    {{"xargs", "-l1", "-eEOF", "rm", NULL}, "rm"},
    {{"xargs", "--max-args=1", "--max-procs", "4", "rm", NULL}, "rm"},
    {{"xargs", "-a", "list", "-d", "\\n", "-P4", "-rtx", "rm", NULL}, "rm"},
    /* stdbuf */
    {{"stdbuf", "-oL", "rm", NULL}, "rm"},
    {{"stdbuf", "-o", "L", "-e", "0", "rm", NULL}, "rm"},
    {{"stdbuf", "--output=L", "--input", "0", "rm", NULL}, "rm"},
    /* command, exec, busybox */
    {{"command", "rm", NULL}, "rm"},
    {{"command", "-p", "rm", NULL}, "rm"},
    {{"exec", "rm", NULL}, "rm"},
    {{"exec", "-a", "name", "-cl", "rm", NULL}, "rm"},
    {{"busybox", "rm", "-rf", "/", NULL}, "rm"},
    {{"/bin/busybox", "RM", NULL}, "RM"},
    /* nesting, and wrappers in any case or by path */
    {{"env", "nice", "nohup", "rm", NULL}, "rm"},
    {{"ENV", "NICE", "-n", "1", "/bin/rm", NULL}, "rm"},
    {{"/usr/bin/env", "timeout", "5", "xargs", "-0", "sudo", NULL}, "sudo"},
    {{"busybox", "env", "-i", "nohup", "dd", NULL}, "dd"},
    {{"stdbuf", "-oL", "command", "exec", "killall", NULL}, "killall"},
};

START_TEST(policy_denies_blocked_commands_behind_wrappers)
{
    assert_denied(wrapped_cases[_i].argv, wrapped_cases[_i].name);
}
END_TEST

/* ------------------------------------------------------------------ */
/* allowed                                                             */
/* ------------------------------------------------------------------ */

static const policy_case_t allowed_cases[] = {
    {{"echo", "rm", NULL}, NULL},
    {{"ls", NULL}, NULL},
    {{"cat", "/etc/passwd", NULL}, NULL},
    {{"rmate", NULL}, NULL}, /* only starts with "rm" */
    {{"rmdir2", NULL}, NULL},
    {{"ddrescue", NULL}, NULL},
    {{"mkfsx", NULL}, NULL},
    {{"/bin/rm/ls", NULL}, NULL}, /* the basename is what runs */
    {{"python3", "-c", "x", NULL}, NULL},
    /* Not caught, by design: the shell runs rm (policy.h: guard rail). */
    {{"sh", "-c", "rm x", NULL}, NULL},
    {{"env", NULL}, NULL},
    {{"env", "-i", NULL}, NULL},
    {{"env", "FOO=1", "echo", "hi", NULL}, NULL},
    {{"env", "FOO=rm", NULL}, NULL},
    {{"env", "-u", "rm", "ls", NULL}, NULL},
    {{"env", "-S", "", NULL}, NULL},
    {{"env", "-S", "# rm", NULL}, NULL},       /* a comment */
    {{"env", "-S", "echo\\c rm", NULL}, NULL}, /* \c ends the string */
    {{"env", "-S", "echo 'rm'", NULL}, NULL},
    {{"nice", NULL}, NULL},
    {{"nice", "-n", "5", NULL}, NULL},
    {{"nohup", "sleep", "1", NULL}, NULL},
    {{"timeout", NULL}, NULL},
    {{"timeout", "5", NULL}, NULL},
    {{"timeout", "5", "sleep", "1", NULL}, NULL},
    {{"timeout", "-s", "rm", "5", "ls", NULL}, NULL},
    {{"xargs", NULL}, NULL},
    {{"xargs", "-0", NULL}, NULL},
    {{"xargs", "-I", "rm", "echo", NULL}, NULL},
    {{"stdbuf", "-oL", NULL}, NULL},
    {{"command", "-v", "ls", NULL}, NULL},
    {{"exec", "-a", "rm", "ls", NULL}, NULL},
    {{"busybox", NULL}, NULL},
    {{"busybox", "--list", NULL}, NULL},
    {{"busybox", "ls", "rm", NULL}, NULL},
};

START_TEST(policy_allows_other_commands)
{
    assert_allowed(allowed_cases[_i].argv);
}
END_TEST

/* ------------------------------------------------------------------ */
/* bad input                                                           */
/* ------------------------------------------------------------------ */

START_TEST(policy_rejects_an_empty_command)
{
    nox_status_t st;
    const char  *empty[] = {"", "rm", NULL};
    const char  *nul[] = {NULL};

    ck_assert_int_eq(nox__policy_check_argv(NULL, 0, &st), NOX_EINVAL);
    ck_assert_str_eq(
        st.msg,
        "cmd is empty: the command must be a non-empty array of strings");
    ck_assert_int_eq(nox__policy_check_argv(empty, 2, &st), NOX_EINVAL);
    ck_assert_int_eq(st.code, NOX_EINVAL);
    ck_assert_str_eq(
        st.msg,
        "cmd is empty: the command must be a non-empty array of strings");
    ck_assert_int_eq(nox__policy_check_argv(empty, 0, &st), NOX_EINVAL);
    ck_assert_str_eq(
        st.msg,
        "cmd is empty: the command must be a non-empty array of strings");
    ck_assert_int_eq(nox__policy_check_argv(nul, 1, &st), NOX_EINVAL);
    ck_assert_str_eq(
        st.msg,
        "cmd is empty: the command must be a non-empty array of strings");
    ck_assert_int_eq(nox__policy_check_argv(NULL, 0, NULL), NOX_EINVAL);
}
END_TEST

START_TEST(policy_stops_at_argc_and_at_a_null_entry)
{
    nox_status_t st;
    const char  *argv[] = {"env", "nice", "rm", NULL};
    const char  *holed[] = {"env", NULL, "rm"};

    /* Only the first argc words count: "env nice" runs no rm. */
    ck_assert_int_eq(nox__policy_check_argv(argv, 2, &st), NOX_OK);
    ck_assert_int_eq(nox__policy_check_argv(holed, 3, &st), NOX_OK);
    ck_assert_int_eq(nox__policy_check_argv(argv, 3, NULL), NOX_EDENIED);
}
END_TEST

START_TEST(policy_rejects_env_split_strings_nested_too_deeply)
{
    char         split[256] = "";
    const char  *argv[] = {"env", "-S", split, NULL};
    nox_status_t st;

    /* Each "-S" in the string becomes one more level of splitting. */
    for (int i = 0; i < 40; i++)
        (void)strcat(split, "-S ");
    (void)strcat(split, "ls");
    ck_assert_int_eq(nox__policy_check_argv(argv, 3, &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg, "env -S nested too deeply");
}
END_TEST

/* ------------------------------------------------------------------ */
/* environment names                                                   */
/* ------------------------------------------------------------------ */

START_TEST(policy_accepts_valid_env_names)
{
    nox_status_t st;

    ck_assert_int_eq(nox__policy_check_env_name("PATH", &st), NOX_OK);
    ck_assert_int_eq(nox__policy_check_env_name("FOO_BAR1", &st), NOX_OK);
    ck_assert_int_eq(nox__policy_check_env_name("x", NULL), NOX_OK);
}
END_TEST

START_TEST(policy_rejects_empty_env_names_and_names_with_equals)
{
    nox_status_t st;

    ck_assert_int_eq(nox__policy_check_env_name("", &st), NOX_EINVAL);
    ck_assert_int_eq(st.code, NOX_EINVAL);
    ck_assert_str_eq(st.msg, "invalid environment variable name: ''");
    ck_assert_int_eq(nox__policy_check_env_name(NULL, &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg, "invalid environment variable name: ''");
    ck_assert_int_eq(nox__policy_check_env_name("A=B", &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg, "invalid environment variable name: 'A=B'");
    ck_assert_int_eq(nox__policy_check_env_name("=", &st), NOX_EINVAL);
    ck_assert_str_eq(st.msg, "invalid environment variable name: '='");
}
END_TEST

START_TEST(policy_rejects_env_names_with_a_newline_or_control_character)
{
    /* The message quotes the name with its control characters escaped:
     * it reaches terminals and logs. */
    static const char *const bad[][2] = {
        {"A\nB", "A\\x0aB"},     {"A\rB", "A\\x0dB"}, {"A\tB", "A\\x09B"},
        {"\nPATH", "\\x0aPATH"}, {"X\x7f", "X\\x7f"}, {"\x1b[0m", "\\x1b[0m"},
        {"A=B", "A=B"}};
    nox_status_t st;
    char         want[64];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(nox__policy_check_env_name(bad[i][0], &st),
                         NOX_EINVAL);
        snprintf(want, sizeof(want), "invalid environment variable name: '%s'",
                 bad[i][1]);
        ck_assert_str_eq(st.msg, want);
    }
    /* Anything else is a name, as execve sees it. */
    ck_assert_int_eq(nox__policy_check_env_name("a.b-c d\xc3\xa9", &st),
                     NOX_OK);
}
END_TEST

/* ------------------------------------------------------------------ */
/* suite                                                               */
/* ------------------------------------------------------------------ */

#define N_OF(a) ((int)(sizeof(a) / sizeof(*(a))))

static Suite *
policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("blocklist");

    tcase_add_loop_test(tc, policy_denies_each_blocked_name, 0,
                        N_OF(blocked_names));
    tcase_add_loop_test(
        tc, policy_denies_paths_and_any_case_naming_the_basename_as_written, 0,
        N_OF(direct_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("wrappers");
    tcase_add_loop_test(tc, policy_denies_blocked_commands_behind_wrappers, 0,
                        N_OF(wrapped_cases));
    tcase_add_test(tc, policy_rejects_env_split_strings_nested_too_deeply);
    suite_add_tcase(s, tc);

    tc = tcase_create("allowed");
    tcase_add_loop_test(tc, policy_allows_other_commands, 0,
                        N_OF(allowed_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("bad input");
    tcase_add_test(tc, policy_rejects_an_empty_command);
    tcase_add_test(tc, policy_stops_at_argc_and_at_a_null_entry);
    suite_add_tcase(s, tc);

    tc = tcase_create("env names");
    tcase_add_test(tc, policy_accepts_valid_env_names);
    tcase_add_test(tc, policy_rejects_empty_env_names_and_names_with_equals);
    tcase_add_test(
        tc, policy_rejects_env_names_with_a_newline_or_control_character);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(policy_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
