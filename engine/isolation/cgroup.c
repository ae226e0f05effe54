/* cgroup.c - per-sandbox cgroups: v2 where delegated to us, else v1. */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CGROUP_WHY_MAX 160
#define CGROUP_PERIOD_US 100000 /* CFS period; cpu_millis is per 100 ms */
#define CGROUP_MIN_MILLIS 10    /* the kernel's minimum quota is 1 ms */
#define CGROUP_RMDIR_TRIES 20   /* 10 ms apart: about 200 ms */
#define CGROUP_SID_MAX 128
#define CGROUP_MEMSW "memory.memsw.limit_in_bytes"
#define CGROUP_STR(x) #x
#define CGROUP_XSTR(x) CGROUP_STR(x) /* CGROUP_PERIOD_US as a string */

/* What each controller is called and which file carries its limit. */
typedef struct {
    const char *name;       /* in /proc/self/cgroup and mount options */
    const char *v1_limit;   /* also proves a v1 parent group usable */
    const char *v1_nolimit; /* what v1_limit takes for "no limit" */
    const char *v2_limit;   /* v2 takes "max" for "no limit" */
} cgroup_info_t;

static const cgroup_info_t cgroup_info[NOX_CG_COUNT] = {
    {"memory", "memory.limit_in_bytes", "-1", "memory.max"},
    {"pids", "pids.max", "max", "pids.max"},
    {"cpu", "cpu.cfs_quota_us", "-1", "cpu.max"},
};

typedef struct {
    int  version; /* 1 or 2; 0 when unavailable */
    int  dirfd;   /* O_PATH fd of the group we are in; -1 if unavailable */
    int  first;   /* lowest controller index with the same directory */
    char dir[PATH_MAX];
    char why[CGROUP_WHY_MAX];
} cgroup_ctrl_t;

struct nox_cgroups {
    char          parent[32]; /* "noxrunner_<key>" */
    cgroup_ctrl_t c[NOX_CG_COUNT];
};

/* 64-bit FNV-1a: stable across builds and machines, so two engines on the
 * same base directory always agree on the parent group's name. */
static uint64_t
cgroup_fnv1a(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* The caller validates session ids already; checking again here is cheap
 * and keeps "..", "/" or an empty name from ever reaching mkdirat. */
static bool
cgroup_sid_ok(const char *sid)
{
    size_t n = sid != NULL ? strlen(sid) : 0;

    if (n == 0 || n > CGROUP_SID_MAX || strcmp(sid, ".") == 0 ||
        strcmp(sid, "..") == 0)
        return false;
    return strspn(sid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789._-") == n;
}

/* Whether tok is one of the items of list (separated by any of seps). */
static bool
cgroup_has_token(const char *list, const char *tok, const char *seps)
{
    size_t tl = strlen(tok);

    while (*list != '\0') {
        size_t n = strcspn(list, seps);
        if (n == tl && strncmp(list, tok, tl) == 0)
            return true;
        list += n;
        list += strspn(list, seps);
    }
    return false;
}

/* Read a small control file into buf, NUL-terminated; 0 or errno. The
 * files read here (cgroup.controllers, memory.events, ...) are far below
 * a page, which cgroupfs returns in one read. */
static int
cgroup_read(int dfd, const char *path, char *buf, size_t len)
{
    int     fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), err;
    ssize_t r;

    if (fd < 0)
        return errno;
    do
        r = read(fd, buf, len - 1);
    while (r < 0 && errno == EINTR);
    err = r < 0 ? errno : 0;
    nox__close(fd);
    buf[r > 0 ? r : 0] = '\0';
    return err;
}

/* Write val to a control file; cgroupfs takes a value in one write. */
static int
cgroup_write(int dfd, const char *path, const char *val)
{
    int fd = openat(dfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), err;

    if (fd < 0)
        return errno;
    err = nox__write_all(fd, val, strlen(val));
    if (close(fd) != 0 && err == 0 && errno != EINTR)
        err = errno;
    return err;
}

/* why = "<what>: <strerror(err)>", truncated to fit (it is for people). */
static void
cgroup_why(char *why, const char *what, int err)
{
    char ebuf[96];

    /* GNU strerror_r returns the string (maybe not ebuf); thread-safe. */
    if (snprintf(why, CGROUP_WHY_MAX, "%s: %s", what,
                 strerror_r(err, ebuf, sizeof(ebuf))) < 0)
        why[0] = '\0';
}

/* Decode mountinfo's octal escapes (\040 for a space) in place. */
static void
cgroup_unescape(char *s)
{
    char *w = s;

    for (; *s != '\0'; s++, w++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
            s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *w = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else
            *w = *s;
    }
    *w = '\0';
}

/* Our group's path in the hierarchy of ctrl (NULL: cgroup2), from the
 * "id:controllers:path" lines of /proc/self/cgroup ("0::path" for v2). */
static bool
cgroup_self_path(const char *ctrl, char *out, size_t len)
{
    FILE  *f = fopen("/proc/self/cgroup", "re");
    char  *line = NULL;
    size_t cap = 0;
    bool   hit = false;

    if (f == NULL)
        return false;
    while (!hit && getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c1 = *c2 = '\0';
        if (ctrl == NULL)
            hit = strcmp(line, "0") == 0 && c1[1] == '\0';
        else
            hit = cgroup_has_token(c1 + 1, ctrl, ",");
        if (hit && snprintf(out, len, "%s", c2 + 1) >= (int)len)
            hit = false;
    }
    free(line);
    (void)fclose(f); /* read-only: nothing to lose */
    return hit;
}

/* Does the mountinfo line show ctrl's hierarchy (NULL: cgroup2) with our
 * group path inside it? Then dir = mount point + path below mount root.
 * Fields: id parent dev root point opts [optional..] - type source sopts */
static bool
cgroup_mount_dir(char *line, const char *ctrl, const char *path, char *dir,
                 size_t len, bool *at_root)
{
    char        root[PATH_MAX], point[PATH_MAX], type[16], sopts[256];
    const char *dash = strstr(line, " - "), *rel = path;
    size_t      rl;

    if (dash == NULL ||
        sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) != 2 ||
        sscanf(dash + 3, "%15s %*s %255s", type, sopts) != 2)
        return false;
    if (ctrl == NULL ? strcmp(type, "cgroup2") != 0
                     : strcmp(type, "cgroup") != 0 ||
                           !cgroup_has_token(sopts, ctrl, ","))
        return false;
    cgroup_unescape(root);
    cgroup_unescape(point);
    rl = strlen(root);
    if (strcmp(root, "/") != 0) {
        if (strncmp(path, root, rl) != 0 ||
            (path[rl] != '\0' && path[rl] != '/'))
            return false; /* this mount shows another part of the tree */
        rel = path + rl;
    }
    if (strcmp(rel, "/") == 0)
        rel = "";
    *at_root = rel[0] == '\0' && strcmp(root, "/") == 0;
    int n = snprintf(dir, len, "%s%s", point, rel);
    return n >= 0 && (size_t)n < len;
}

/* The directory of our group in ctrl's hierarchy (NULL: cgroup2). Never
 * the hierarchy's root unless we are in it: a group created above our
 * own would escape the limits we are under. */
static bool
cgroup_locate(const char *ctrl, char *dir, size_t len, bool *at_root)
{
    char   path[PATH_MAX], *line = NULL;
    size_t cap = 0;
    bool   hit = false;
    FILE  *f;

    if (!cgroup_self_path(ctrl, path, sizeof(path)))
        return false;
    f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL)
        return false;
    while (!hit && getline(&line, &cap, f) > 0)
        hit = cgroup_mount_dir(line, ctrl, path, dir, len, at_root);
    free(line);
    (void)fclose(f); /* read-only: nothing to lose */
    return hit;
}

/* Record ctrl as usable when its parent directory is writable; keep an fd
 * on it so later operations are relative and never re-resolve the path. */
static bool
cgroup_take(cgroup_ctrl_t *c, int version, const char *name)
{
    int fd;

    if (access(c->dir, W_OK) != 0) {
        if (errno == EACCES || errno == EPERM || errno == EROFS)
            (void)snprintf(c->why, sizeof(c->why),
                           "no writable %s cgroup for this user", name);
        else
            cgroup_why(c->why, c->dir, errno);
        return false;
    }
    fd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        cgroup_why(c->why, c->dir, errno);
        return false;
    }
    c->dirfd = fd;
    c->version = version;
    return true;
}

/* v2 only when our group passes ctrl on to its children (it is in our
 * cgroup.subtree_control), so noxrunner_<key> has it to pass on to the
 * sandbox groups. Enabling it in our own group would fail anyway while
 * we are a member (the "no internal processes" rule). */
static bool
cgroup_try_v2(cgroup_ctrl_t *c, const char *name)
{
    char buf[256];
    bool at_root;

    if (!cgroup_locate(NULL, c->dir, sizeof(c->dir), &at_root))
        return false;
    int  dfd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    bool listed =
        dfd >= 0 &&
        cgroup_read(dfd, "cgroup.controllers", buf, sizeof(buf)) == 0 &&
        cgroup_has_token(buf, name, " \n");
    bool passed =
        listed &&
        cgroup_read(dfd, "cgroup.subtree_control", buf, sizeof(buf)) == 0 &&
        cgroup_has_token(buf, name, " \n");
    nox__close(dfd);
    if (listed && !passed)
        (void)snprintf(c->why, sizeof(c->why),
                       "cgroup v2 %s controller not delegated to child groups",
                       name);
    return passed && cgroup_take(c, 2, name);
}

static void
cgroup_try_v1(cgroup_ctrl_t *c, const cgroup_info_t *info)
{
    char probe[PATH_MAX + 32];
    bool at_root;

    if (!cgroup_locate(info->name, c->dir, sizeof(c->dir), &at_root)) {
        if (c->why[0] == '\0') /* a v2 reason says more */
            (void)snprintf(c->why, sizeof(c->why),
                           "cgroup v1 %s controller not mounted", info->name);
        return;
    }
    /* A hierarchy's root group has no pids.* files (the kernel does not
     * limit the root), so there the mount itself is the proof. */
    const char *file = at_root && strcmp(info->name, "pids") == 0
                           ? "cgroup.procs"
                           : info->v1_limit;
    int         n = snprintf(probe, sizeof(probe), "%s/%s", c->dir, file);
    if (n < 0 || (size_t)n >= sizeof(probe) || access(probe, F_OK) != 0) {
        (void)snprintf(c->why, sizeof(c->why),
                       "cgroup v1 %s controller lacks %s", info->name, file);
        return;
    }
    c->why[0] = '\0';
    (void)cgroup_take(c, 1, info->name); /* sets why on failure */
}

nox_err_t
nox__cgroups_open(nox_cgroups_t **out, const char *base_dir, nox_status_t *st)
{
    nox_cgroups_t *cg;

    if (out == NULL || base_dir == NULL)
        return nox__status_set(st, NOX_EINVAL, "cgroups: no base directory");
    cg = calloc(1, sizeof(*cg));
    if (cg == NULL)
        return nox__status_set(st, NOX_ERESOURCE, "cgroups: out of memory");
    (void)snprintf(cg->parent, sizeof(cg->parent), "noxrunner_%016" PRIx64,
                   cgroup_fnv1a(base_dir));
    for (int i = 0; i < NOX_CG_COUNT; i++) {
        cgroup_ctrl_t *c = &cg->c[i];

        c->dirfd = -1;
        c->first = i;
        if (!cgroup_try_v2(c, cgroup_info[i].name))
            cgroup_try_v1(c, &cgroup_info[i]);
        /* Controllers in one directory (v2, or v1 co-mounted) share one
         * group: it is created, joined and removed once. */
        for (int j = 0; j < i && c->version != 0; j++)
            if (cg->c[j].version == c->version &&
                strcmp(cg->c[j].dir, c->dir) == 0) {
                c->first = j;
                break;
            }
    }
    *out = cg;
    return NOX_OK;
}

void
nox__cgroups_close(nox_cgroups_t *cg)
{
    if (cg == NULL)
        return;
    for (int i = 0; i < NOX_CG_COUNT; i++)
        nox__close(cg->c[i].dirfd);
    free(cg);
}

bool
nox__cgroups_available(const nox_cgroups_t *cg, nox_cg_ctrl_t ctrl,
                       const char **why)
{
    const char *reason = "no such controller";

    if (cg != NULL && ctrl >= 0 && ctrl < NOX_CG_COUNT) {
        if (cg->c[ctrl].version != 0)
            return true;
        reason = cg->c[ctrl].why;
    }
    if (why != NULL)
        *why = reason;
    return false;
}

const char *
nox__cgroups_version(const nox_cgroups_t *cg, nox_cg_ctrl_t ctrl)
{
    if (cg == NULL || ctrl < 0 || ctrl >= NOX_CG_COUNT ||
        cg->c[ctrl].version == 0)
        return "none";
    return cg->c[ctrl].version == 2 ? "cgroup v2" : "cgroup v1";
}

/* ---- per-sandbox groups ---- */

/* "noxrunner_<key>/<sid>[/file]", relative to a controller's dirfd. */
static bool
cgroup_rel(const nox_cgroups_t *cg, const char *sid, const char *file,
           char *out, size_t len)
{
    int n = snprintf(out, len, "%s/%s%s%s", cg->parent, sid,
                     file != NULL ? "/" : "", file != NULL ? file : "");
    return n >= 0 && (size_t)n < len;
}

/* mkdir that tolerates an existing group, then an fd on it; -1 + errno. */
static int
cgroup_mkdir_open(int dfd, const char *name)
{
    if (mkdirat(dfd, name, 0755) != 0 && errno != EEXIST)
        return -1;
    return openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Write limit v (0: lift the limit) of controller i into the sandbox
 * group sfd. Returns 0 or errno; *file names the file that failed. */
static int
cgroup_write_limit(int sfd, int i, int version, uint64_t v, const char **file)
{
    const cgroup_info_t *info = &cgroup_info[i];
    char                 val[48];
    int                  err;

    if (i == NOX_CG_CPU)
        v *= CGROUP_PERIOD_US / 1000; /* millis -> quota; caller bounds v */
    if (v == 0)
        (void)snprintf(val, sizeof(val), "%s",
                       version == 2 ? "max" : info->v1_nolimit);
    else if (version == 2 && i == NOX_CG_CPU)
        (void)snprintf(val, sizeof(val), "%" PRIu64 " %d", v, CGROUP_PERIOD_US);
    else
        (void)snprintf(val, sizeof(val), "%" PRIu64, v);
    /* Swap would let a sandbox run on past its limit instead of being
     * OOM-killed. The swap files exist only with swap accounting, so
     * their failures are ignored. v1 also demands memsw >= limit at every
     * step: writing memsw both before (succeeds when raising) and after
     * the limit (succeeds when lowering) covers either direction. */
    if (i == NOX_CG_MEMORY && version == 2)
        (void)cgroup_write(sfd, "memory.swap.max", v == 0 ? "max" : "0");
    if (i == NOX_CG_MEMORY && version == 1)
        (void)cgroup_write(sfd, CGROUP_MEMSW, val);
    /* v1 keeps period and quota apart; a quota means nothing without the
     * period it was computed for. */
    if (i == NOX_CG_CPU && version == 1) {
        *file = "cpu.cfs_period_us";
        err = cgroup_write(sfd, *file, CGROUP_XSTR(CGROUP_PERIOD_US));
        if (err != 0)
            return err;
    }
    *file = version == 2 ? info->v2_limit : info->v1_limit;
    err = cgroup_write(sfd, *file, val);
    if (err == 0 && i == NOX_CG_MEMORY && version == 1)
        (void)cgroup_write(sfd, CGROUP_MEMSW, val);
    return err;
}

/* Create noxrunner_<key>/<sid> for controller i and write limit v. */
static bool
cgroup_set(const nox_cgroups_t *cg, const char *sid, int i, uint64_t v,
           char *why)
{
    const cgroup_ctrl_t *c = &cg->c[i];
    const char          *file;
    char                 enable[16];
    int                  pfd, sfd, err = 0;

    if (i == NOX_CG_CPU && (v < CGROUP_MIN_MILLIS || v > UINT64_MAX / 100)) {
        (void)snprintf(why, CGROUP_WHY_MAX,
                       "cpu limit %" PRIu64 "m is outside what CFS can "
                       "enforce (10m and up)",
                       v);
        return false;
    }
    pfd = cgroup_mkdir_open(c->dirfd, cg->parent);
    if (pfd < 0) {
        cgroup_why(why, cg->parent, errno);
        return false;
    }
    /* v2: the sandbox group gets the controller only if its parent passes
     * it on; other sandboxes' writes of the same "+ctrl" are harmless. */
    (void)snprintf(enable, sizeof(enable), "+%s", cgroup_info[i].name);
    if (c->version == 2)
        err = cgroup_write(pfd, "cgroup.subtree_control", enable);
    if (err != 0) {
        cgroup_why(why, "cgroup.subtree_control", err);
        goto out_close_parent;
    }
    sfd = cgroup_mkdir_open(pfd, sid);
    if (sfd < 0) {
        err = errno;
        cgroup_why(why, sid, err);
        goto out_close_parent;
    }
    err = cgroup_write_limit(sfd, i, c->version, v, &file);
    if (err != 0)
        cgroup_why(why, file, err);
    nox__close(sfd);
out_close_parent:
    nox__close(pfd);
    return err == 0;
}

/* Limit 0 for controller i: remove the sandbox's group, unless another
 * controller with a limit shares it (v2) or members still live in it;
 * then lifting the limit is the next best thing. */
static void
cgroup_unset(const nox_cgroups_t *cg, const char *sid, int i,
             const uint64_t lim[NOX_CG_COUNT], char *why)
{
    const cgroup_ctrl_t *c = &cg->c[i];
    const char          *file;
    char                 rel[256];
    bool                 shared = false;
    int                  sfd, err;

    for (int j = 0; j < NOX_CG_COUNT; j++)
        if (j != i && cg->c[j].version != 0 && cg->c[j].first == c->first &&
            lim[j] != 0)
            shared = true;
    if (!cgroup_rel(cg, sid, NULL, rel, sizeof(rel)))
        return;
    if (!shared &&
        (unlinkat(c->dirfd, rel, AT_REMOVEDIR) == 0 || errno == ENOENT))
        return;
    sfd = openat(c->dirfd, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) {
        if (errno != ENOENT)
            cgroup_why(why, rel, errno);
        return;
    }
    err = cgroup_write_limit(sfd, i, c->version, 0, &file);
    if (err != 0)
        cgroup_why(why, file, err);
    nox__close(sfd);
}

nox_err_t
nox__cgroups_apply(const nox_cgroups_t *cg, const char *sid,
                   const nox_cg_limits_t *l, bool applied[NOX_CG_COUNT],
                   char why[NOX_CG_COUNT][160], nox_status_t *st)
{
    if (cg == NULL || l == NULL || applied == NULL || why == NULL)
        return nox__status_set(st, NOX_EINVAL, "cgroups: missing argument");
    if (!cgroup_sid_ok(sid))
        return nox__status_set(st, NOX_EINVAL, "cgroups: invalid session id");
    const uint64_t lim[NOX_CG_COUNT] = {l->memory_bytes, l->pids_max,
                                        l->cpu_millis};
    for (int i = 0; i < NOX_CG_COUNT; i++) {
        applied[i] = false;
        why[i][0] = '\0';
    }
    for (int i = 0; i < NOX_CG_COUNT; i++) {
        if (lim[i] == 0) {
            if (cg->c[i].version != 0)
                cgroup_unset(cg, sid, i, lim, why[i]);
        } else if (cg->c[i].version == 0)
            (void)snprintf(why[i], CGROUP_WHY_MAX, "%s", cg->c[i].why);
        else
            applied[i] = cgroup_set(cg, sid, i, lim[i], why[i]);
    }
    return NOX_OK;
}

int
nox__cgroups_open_procs(const nox_cgroups_t *cg, const char *sid,
                        int fds[NOX_CG_COUNT])
{
    char rel[256];
    int  n = 0;

    if (fds == NULL)
        return 0;
    for (int i = 0; i < NOX_CG_COUNT; i++)
        fds[i] = -1;
    if (cg == NULL || !cgroup_sid_ok(sid) ||
        !cgroup_rel(cg, sid, "cgroup.procs", rel, sizeof(rel)))
        return 0;
    for (int i = 0; i < NOX_CG_COUNT; i++) {
        const cgroup_ctrl_t *c = &cg->c[i];
        if (c->version == 0 || c->first != i)
            continue; /* unavailable, or one fd serves the shared group */
        fds[i] = openat(c->dirfd, rel, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fds[i] >= 0)
            n++;
    }
    return n;
}

uint64_t
nox__cgroups_oom_kills(const nox_cgroups_t *cg, const char *sid)
{
    const cgroup_ctrl_t *c;
    const char          *p, *file;
    char                 rel[256], buf[512];

    if (cg == NULL || !cgroup_sid_ok(sid))
        return 0;
    c = &cg->c[NOX_CG_MEMORY];
    file = c->version == 2 ? "memory.events" : "memory.oom_control";
    if (c->version == 0 || !cgroup_rel(cg, sid, file, rel, sizeof(rel)) ||
        cgroup_read(c->dirfd, rel, buf, sizeof(buf)) != 0)
        return 0;
    for (p = buf; p != NULL; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, "oom_kill ", 9) == 0)
            return strtoull(p + 9, NULL, 10);
    }
    return 0;
}

/* rmdir, waiting out EBUSY: members that were just killed leave the group
 * only after they finish exiting. An absent group counts as removed. */
static bool
cgroup_rmdir(int dfd, const char *rel)
{
    const struct timespec pause = {0, 10 * 1000 * 1000};

    for (int t = 1;; t++) {
        if (unlinkat(dfd, rel, AT_REMOVEDIR) == 0 || errno == ENOENT)
            return true;
        if (errno != EBUSY || t >= CGROUP_RMDIR_TRIES)
            return false;
        (void)nanosleep(&pause, NULL); /* EINTR only shortens a wait */
    }
}

int
nox__cgroups_remove(const nox_cgroups_t *cg, const char *sid)
{
    char rel[256];
    int  left = 0;

    if (cg == NULL || !cgroup_sid_ok(sid) ||
        !cgroup_rel(cg, sid, NULL, rel, sizeof(rel)))
        return 0;
    /* The noxrunner_<key> parent stays: other sandboxes live in it. */
    for (int i = 0; i < NOX_CG_COUNT; i++)
        if (cg->c[i].version != 0 && cg->c[i].first == i &&
            !cgroup_rmdir(cg->c[i].dirfd, rel))
            left++;
    return left;
}

int
nox__cgroups_remove_idle(const nox_cgroups_t *cg)
{
    int left = 0;

    if (cg == NULL)
        return 0;
    for (int i = 0; i < NOX_CG_COUNT; i++) {
        const cgroup_ctrl_t *c = &cg->c[i];
        struct dirent       *de;
        DIR                 *d;
        int                  fd;

        if (c->version == 0 || c->first != i)
            continue;
        fd = openat(c->dirfd, cg->parent,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue; /* none made under this base directory */
        d = fdopendir(fd);
        if (d == NULL) {
            (void)close(fd);
            continue;
        }
        while ((de = readdir(d)) != NULL) {
            if (de->d_type != DT_DIR || !cgroup_sid_ok(de->d_name))
                continue;
            /* EBUSY: a command of another process still runs there. */
            if (unlinkat(fd, de->d_name, AT_REMOVEDIR) != 0)
                left++;
        }
        (void)closedir(d);                                  /* closes fd */
        (void)unlinkat(c->dirfd, cg->parent, AT_REMOVEDIR); /* if empty */
    }
    return left;
}
