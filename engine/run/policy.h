/*
 * policy.h - which commands may run, and which environment names are valid.
 *
 * The blocklist (rm, rmdir, unlink, sudo, su, chmod, chown, chgrp, mount,
 * umount, mkfs, dd, fdisk, shutdown, reboot, halt, poweroff, init, killall)
 * is matched against the basename of argv[0], case-insensitively, also
 * when the command is reached through a wrapper (env, nice, nohup,
 * timeout, xargs, stdbuf, command, exec, busybox, with their options). It
 * is a guard rail against accidents, not a security boundary: a shell or
 * an interpreter can still do anything the user running the engine can.
 */
#ifndef NOX_POLICY_H
#define NOX_POLICY_H

#include "nox_common.h"

#include <stddef.h>

/* NOX_OK when argv may run. NOX_EINVAL "cmd is empty: ..." when argc is 0 or
 * argv[0] is "". NOX_EDENIED "command not allowed: <name>" (name as the
 * caller wrote its basename) when a blocked command would run, directly or
 * through wrappers. */
nox_err_t nox__policy_check_argv(const char *const *argv, size_t argc,
                                 nox_status_t *st);

/* NOX_OK when name is a valid environment variable name for a command:
 * non-empty, no '=', no control character (newline, tab, ...). Otherwise
 * NOX_EINVAL naming it. */
nox_err_t nox__policy_check_env_name(const char *name, nox_status_t *st);

#endif /* NOX_POLICY_H */
