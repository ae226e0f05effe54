/*
 * cgroup.h - per-sandbox control groups for memory, pids and cpu limits.
 *
 * At engine open the module finds, per controller (memory, pids, cpu),
 * where this process may create child groups: cgroup v2 when the unified
 * hierarchy has that controller enabled for our group's children (listed
 * in our group's cgroup.subtree_control), else the cgroup v1 hierarchy of
 * that controller, under the group this process is in (read from
 * /proc/self/cgroup and /proc/self/mountinfo; never higher up, e.g. at the
 * hierarchy root while we are in a nested group, which would escape limits
 * our own group is under). A controller that is absent, not writable, or
 * not delegated is "unavailable" with a reason, which CreateSandbox
 * reports instead of applying the limit.
 *
 * A sandbox's group is <controller dir>/noxrunner_<key>/<session id>,
 * where key is 16 hex digits of the 64-bit FNV-1a hash of the engine's
 * base directory string (so two engines on different base dirs never
 * share a group, and two engines on the same base dir find each other's).
 * It is created at CreateSandbox and removed at delete; commands join it
 * before execve by writing "0" to cgroup.procs through fds opened
 * beforehand (joining is a write, ~40 us).
 *
 * Thread safety: nox_cgroups_t is immutable after open; calls on
 * different or the same sandboxes may run concurrently.
 */
#ifndef NOX_CGROUP_H
#define NOX_CGROUP_H

#include "nox_common.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    NOX_CG_MEMORY = 0,
    NOX_CG_PIDS = 1,
    NOX_CG_CPU = 2,
    NOX_CG_COUNT = 3,
} nox_cg_ctrl_t;

typedef struct nox_cgroups nox_cgroups_t;

/* Limits to apply; 0 means "no limit" for that controller. */
typedef struct {
    uint64_t memory_bytes;
    uint64_t pids_max;
    uint64_t cpu_millis; /* CFS quota per 100 ms period */
} nox_cg_limits_t;

/* Find the controllers (never fails for want of them: an unavailable
 * controller is recorded with its reason). base_dir keys the group names.
 * NOX_ERESOURCE when out of memory, NOX_EINVAL when out or base_dir is
 * NULL. On success *out owns the result (release: nox__cgroups_close). */
nox_err_t nox__cgroups_open(nox_cgroups_t **out, const char *base_dir,
                            nox_status_t *st);
void      nox__cgroups_close(nox_cgroups_t *cg); /* NULL: no-op */

/* Whether ctrl can be used; when not, *why (may be NULL) gets a static or
 * cg-owned reason such as "no writable memory cgroup for this user" or
 * "cgroup v1 pids controller not mounted". */
bool nox__cgroups_available(const nox_cgroups_t *cg, nox_cg_ctrl_t ctrl,
                            const char **why);

/* "cgroup v1" or "cgroup v2": the hierarchy ctrl uses (for reports);
 * "none" when ctrl is unavailable. */
const char *nox__cgroups_version(const nox_cgroups_t *cg, nox_cg_ctrl_t ctrl);

/* Create (or reuse) the sandbox's group in every available controller
 * that has a non-zero limit in l and write that limit, replacing an
 * earlier one; a controller whose limit is 0 gets its group removed if
 * there is one. applied[ctrl] is set true for each limit written; for a
 * limit that could not be applied, why[ctrl] (160 bytes) gets the reason
 * (e.g. "memory.limit_in_bytes: Device or resource busy"), and an
 * unavailable controller's reason is copied there; why[ctrl] is "" for
 * the rest. A group that cannot be removed because members still live in
 * it (or, in v2, that other limits share) gets its limit lifted instead.
 * A cpu limit below 10 millis is not applied (CFS needs 1 ms per period).
 * Returns NOX_OK even when some limits were not applied (the caller
 * reports them); NOX_EINVAL only for bad arguments: a NULL pointer, or a
 * sid that is empty, longer than 128, "." or "..", or has a character
 * outside [A-Za-z0-9._-]. The same sids make the calls below no-ops. */
nox_err_t nox__cgroups_apply(const nox_cgroups_t *cg, const char *sid,
                             const nox_cg_limits_t *l,
                             bool                   applied[NOX_CG_COUNT],
                             char why[NOX_CG_COUNT][160], nox_status_t *st);

/* Open the sandbox's cgroup.procs files (O_WRONLY|O_CLOEXEC) for every
 * controller where the sandbox has a group; fds[ctrl] is -1 where it has
 * none. v2 controllers share one group, so only one fd is opened for them
 * (the others are -1). Returns how many fds were opened. The caller closes
 * them. */
int nox__cgroups_open_procs(const nox_cgroups_t *cg, const char *sid,
                            int fds[NOX_CG_COUNT]);

/* Number of OOM kills recorded in the sandbox's memory group so far
 * (v1: memory.oom_control "oom_kill"; v2: memory.events "oom_kill"); 0
 * when it has no memory group or the counter cannot be read. */
uint64_t nox__cgroups_oom_kills(const nox_cgroups_t *cg, const char *sid);

/* Remove the sandbox's groups (after its processes are dead: rmdir fails
 * with EBUSY while a member lives, so this retries for up to ~200 ms).
 * Best effort: returns the number of groups that could not be removed. */
int nox__cgroups_remove(const nox_cgroups_t *cg, const char *sid);

/* Remove every sandbox group of this base directory that has no member
 * left, and the noxrunner_<key> parent if that empties it. The engine
 * calls this when it closes, so throwaway base directories leave no
 * groups behind; groups are rebuilt from a sandbox's metadata the next
 * time a command runs in it (exec.c). Returns how many groups stayed. */
int nox__cgroups_remove_idle(const nox_cgroups_t *cg);

#endif /* NOX_CGROUP_H */
