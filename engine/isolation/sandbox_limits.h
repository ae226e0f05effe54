/*
 * sandbox_limits.h - a sandbox's resource limits: checking their syntax,
 * applying them at CreateSandbox (cgroups, see cgroup.h) and reporting each one
 * as applied or ignored with the reason, never silently dropped.
 *
 * cpu_limit, memory_limit and pids_limit are enforced by the sandbox's
 * cgroups where this process may create them. ephemeral_storage_limit is
 * enforced where it can be: every command runs with RLIMIT_FSIZE at the
 * limit (no single file grows past it) and UploadFiles refuses an archive
 * that would take the workspace past it; what commands write in total is
 * not bounded (that needs a quota-capable filesystem).
 */
#ifndef NOX_SANDBOX_LIMITS_H
#define NOX_SANDBOX_LIMITS_H

#include "nox/engine.h"
#include "meta.h"

#include <stdint.h>

/* The parsed limits of a sandbox; 0 means none. */
typedef struct {
    uint64_t cpu_millis;
    uint64_t memory_bytes;
    uint64_t storage_bytes;
    uint64_t pids;
} nox_limits_t;

/* Parse the limits of a request or of a sandbox's metadata. NOX_EINVAL
 * (naming the field) for bad syntax. */
nox_err_t nox__limits_parse(const char *cpu, const char *memory,
                            const char *storage, uint64_t pids,
                            nox_limits_t *out, nox_status_t *st);

/* Apply the limits of m to the sandbox's cgroups and describe each
 * requested one in rep (may be NULL), and the image, which is not used. */
void nox__limits_apply(nox_engine_t *e, const nox_meta_t *m,
                       nox_create_report_t *rep);

#endif /* NOX_SANDBOX_LIMITS_H */
