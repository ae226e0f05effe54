/* sandbox_limits.c - check, apply and report a sandbox's limits. */
#include "engine_impl.h"

#include "sandbox_limits.h"
#include "quantity.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

nox_err_t
nox__limits_parse(const char *cpu, const char *memory, const char *storage,
                  uint64_t pids, nox_limits_t *out, nox_status_t *st)
{
    nox_err_t rv = NOX_OK;

    memset(out, 0, sizeof(*out));
    if (cpu != NULL && cpu[0] != '\0')
        rv = nox__quantity_cpu_millis("cpu_limit", cpu, &out->cpu_millis, st);
    if (rv == NOX_OK && memory != NULL && memory[0] != '\0')
        rv =
            nox__quantity_bytes("memory_limit", memory, &out->memory_bytes, st);
    if (rv == NOX_OK && storage != NULL && storage[0] != '\0')
        rv = nox__quantity_bytes("ephemeral_storage_limit", storage,
                                 &out->storage_bytes, st);
    out->pids = pids;
    return rv;
}

static nox_limit_status_t *
limits_entry(nox_create_report_t *rep, const char *name, const char *value)
{
    nox_limit_status_t *s;

    if (rep == NULL || rep->n_limits >= NOX_LIMITS_MAX)
        return NULL;
    s = &rep->limits[rep->n_limits++];
    memset(s, 0, sizeof(*s));
    s->name = name;
    /* A value too long for the report is cut; it was checked whole. */
    size_t n = strnlen(value, sizeof(s->value) - 1);
    memcpy(s->value, value, n);
    s->value[n] = '\0';
    return s;
}

/* Report a cgroup-enforced limit. */
static void
limits_report_cg(const nox_engine_t *e, nox_create_report_t *rep,
                 const char *name, const char *value, nox_cg_ctrl_t ctrl,
                 const bool applied[NOX_CG_COUNT], char why[NOX_CG_COUNT][160])
{
    static const char *const ctrl_names[] = {"memory", "pids", "cpu"};
    nox_limit_status_t      *s = limits_entry(rep, name, value);
    const char              *unavail = NULL;

    if (s == NULL)
        return;
    s->applied = applied[ctrl];
    if (s->applied)
        (void)snprintf(s->detail, sizeof(s->detail), "%s %s controller",
                       nox__cgroups_version(e->cg, ctrl), ctrl_names[ctrl]);
    else if (!nox__cgroups_available(e->cg, ctrl, &unavail))
        (void)snprintf(s->detail, sizeof(s->detail), "%s",
                       unavail ? unavail : "no cgroup");
    else
        (void)snprintf(s->detail, sizeof(s->detail), "%s", why[ctrl]);
}

void
nox__limits_apply(nox_engine_t *e, const nox_meta_t *m,
                  nox_create_report_t *rep)
{
    nox_limits_t    l;
    nox_cg_limits_t cl;
    bool            applied[NOX_CG_COUNT] = {false, false, false};
    char            why[NOX_CG_COUNT][160] = {"", "", ""};
    char            pids[32];

    /* The metadata was checked when it was written. */
    if (nox__limits_parse(m->cpu_limit, m->memory_limit, m->storage_limit,
                          m->pids_limit, &l, NULL) != NOX_OK)
        return;
    cl.memory_bytes = l.memory_bytes;
    cl.pids_max = l.pids;
    cl.cpu_millis = l.cpu_millis;
    (void)nox__cgroups_apply(e->cg, m->session_id, &cl, applied, why, NULL);
    if (l.cpu_millis != 0)
        limits_report_cg(e, rep, "cpu_limit", m->cpu_limit, NOX_CG_CPU, applied,
                         why);
    if (l.memory_bytes != 0)
        limits_report_cg(e, rep, "memory_limit", m->memory_limit, NOX_CG_MEMORY,
                         applied, why);
    if (l.pids != 0) {
        (void)snprintf(pids, sizeof(pids), "%" PRIu64, l.pids);
        limits_report_cg(e, rep, "pids_limit", pids, NOX_CG_PIDS, applied, why);
    }
    if (l.storage_bytes != 0) {
        nox_limit_status_t *s =
            limits_entry(rep, "ephemeral_storage_limit", m->storage_limit);
        if (s != NULL) {
            s->applied = true;
            (void)snprintf(s->detail, sizeof(s->detail),
                           "partly: no file grows past it (RLIMIT_FSIZE) "
                           "and uploads are checked against it; the total "
                           "commands write is not bounded");
        }
    }
    /* Reported like a limit so a caller who asked for an image learns it
     * did not get one. */
    if (m->image[0] != '\0') {
        nox_limit_status_t *s = limits_entry(rep, "image", m->image);
        if (s != NULL)
            (void)snprintf(s->detail, sizeof(s->detail), "%s",
                           "recorded, not used: local mode runs this "
                           "machine's userland");
    }
}
