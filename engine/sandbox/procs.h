/*
 * procs.h - finding and killing a sandbox's processes from any process.
 *
 * Without namespaces a sandbox's processes are ordinary host processes. The
 * engine that started a command kills its process group; a different
 * process (a CLI run deleting a sandbox another run created, a restarted
 * server) recognises them by the environment every command starts with:
 * NOXRUNNER_SESSION_ID=<sid> plus a HOME/TMPDIR/PWD inside the sandbox
 * directory, or by a working directory inside it. A process that both
 * clears its environment and leaves the sandbox directory escapes this
 * scan; the security model in README.md says so.
 */
#ifndef NOX_PROCS_H
#define NOX_PROCS_H

/* SIGKILL every process (other than the caller) that belongs to sandbox
 * sid: its initial environment carries NOXRUNNER_SESSION_ID=<sid> and a
 * path inside the sandbox, or its working directory is inside the sandbox
 * (under sb_path, or under moved_path where the sandbox directory has been
 * renamed to; may be NULL). Repeats a few rounds so that children forked
 * meanwhile are caught too. Returns the number of processes signalled. */
int nox__procs_kill_sandbox(const char *sid, const char *sb_path,
                            const char *moved_path);

#endif /* NOX_PROCS_H */
