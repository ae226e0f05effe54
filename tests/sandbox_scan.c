/* sandbox_scan.c - count the symlinks in a sandbox that lead out of it,
 * resolving each one the way the host kernel would. */
#include "sandbox_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCAN_MAX_FOLLOWS 40 /* the kernel's own limit (ELOOP) */
#define SCAN_MAX_DEPTH 512  /* directories below sandbox_dir we descend */

typedef struct {
    char   root[PATH_MAX]; /* sandbox_dir, resolved */
    size_t root_len;
    size_t count;
    char  *first;
    size_t first_len;
} scan_t;

/* Drop the last component of the absolute path in out ("" is "/"). */
static void
scan_pop(char *out)
{
    char *slash = strrchr(out, '/');

    if (slash != NULL)
        *slash = '\0';
}

/* Resolve the absolute path into out (PATH_MAX bytes) one component at a
 * time, following every symlink met, as the kernel does. A component that
 * does not exist is taken as a plain name, and ".." after it simply drops
 * it: where the kernel would fail, we still say where the text leads,
 * which can only count more links as escaping, never fewer. False when
 * the links loop or the result would not fit. */
static bool
scan_resolve(const char *path, char *out)
{
    char        todo[2 * PATH_MAX + 2], next[2 * PATH_MAX + 2];
    char        target[PATH_MAX];
    const char *p = todo;
    int         follows = 0;
    struct stat sb;

    if (strlen(path) >= sizeof(todo))
        return false;
    (void)strcpy(todo, path);
    out[0] = '\0';
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        size_t n = strcspn(p, "/"), len = strlen(out);
        if (n == 1 && p[0] == '.') {
            p += n;
            continue;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            scan_pop(out);
            p += n;
            continue;
        }
        if (len + 1 + n >= PATH_MAX)
            return false;
        out[len] = '/';
        memcpy(out + len + 1, p, n);
        out[len + 1 + n] = '\0';
        p += n;
        if (lstat(out, &sb) != 0 || !S_ISLNK(sb.st_mode))
            continue;
        ssize_t tl = readlink(out, target, sizeof(target) - 1);
        if (tl < 0 || ++follows > SCAN_MAX_FOLLOWS)
            return false;
        target[tl] = '\0';
        if (target[0] == '/')
            out[0] = '\0';
        else
            out[len] = '\0'; /* relative to the link's directory */
        if (snprintf(next, sizeof(next), "%s/%s", target, p) >=
            (int)sizeof(next))
            return false;
        (void)strcpy(todo, next);
        p = todo;
    }
    if (out[0] == '\0')
        (void)strcpy(out, "/");
    return true;
}

static bool
scan_inside(const scan_t *s, const char *resolved)
{
    return strncmp(resolved, s->root, s->root_len) == 0 &&
           (resolved[s->root_len] == '\0' || resolved[s->root_len] == '/' ||
            s->root_len == 1);
}

static void
scan_link(scan_t *s, const char *path)
{
    char resolved[PATH_MAX];

    /* A loop resolves nowhere, so it leads nowhere outside either. */
    if (!scan_resolve(path, resolved) || scan_inside(s, resolved))
        return;
    if (s->count++ == 0 && s->first != NULL)
        (void)snprintf(s->first, s->first_len, "%s -> %s",
                       path + s->root_len + 1, resolved);
}

/* Visit every entry of the directory at path (a real directory: reached
 * without following a link), depth levels below the root. */
static void
scan_dir(scan_t *s, const char *path, int depth)
{
    int            fd;
    DIR           *d;
    struct dirent *de;
    struct stat    sb;
    char           child[PATH_MAX];

    if (depth > SCAN_MAX_DEPTH)
        return;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    d = fdopendir(fd);
    if (d == NULL) {
        (void)close(fd);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (snprintf(child, sizeof(child), "%s/%s", path, de->d_name) >=
                (int)sizeof(child) ||
            fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISLNK(sb.st_mode))
            scan_link(s, child);
        else if (S_ISDIR(sb.st_mode))
            scan_dir(s, child, depth + 1);
    }
    (void)closedir(d); /* read-only: nothing to report */
}

size_t
nox_test_escaping_links(const char *sandbox_dir, char *first, size_t first_len)
{
    scan_t *s = calloc(1, sizeof(*s));
    size_t  count;

    if (s == NULL || realpath(sandbox_dir, s->root) == NULL) {
        free(s);
        return (size_t)-1;
    }
    s->root_len = strlen(s->root);
    s->first = first_len > 0 ? first : NULL;
    s->first_len = first_len;
    if (s->first != NULL)
        s->first[0] = '\0';
    scan_dir(s, s->root, 0);
    count = s->count;
    free(s);
    return count;
}

size_t
nox_test_escaping_links_in_each_sandbox(const char *base_dir, char *first,
                                        size_t first_len)
{
    static const char prefix[] = "noxrunner_sandbox_";
    DIR              *d = opendir(base_dir);
    struct dirent    *de;
    struct stat       sb;
    char              ws[PATH_MAX], one[2 * PATH_MAX + 8];
    size_t            total = 0;

    if (first != NULL && first_len > 0)
        first[0] = '\0';
    if (d == NULL)
        return (size_t)-1;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, sizeof(prefix) - 1) != 0 ||
            fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(sb.st_mode))
            continue;
        if (snprintf(ws, sizeof(ws), "%s/%s/workspace", base_dir, de->d_name) >=
            (int)sizeof(ws)) {
            total = (size_t)-1;
            break;
        }
        /* A workspace that is a link is not one we made: resolving it
         * would scan wherever it leads. */
        if (lstat(ws, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        size_t n = nox_test_escaping_links(ws, one, sizeof(one));
        if (n == (size_t)-1) {
            total = n;
            break;
        }
        if (n > 0 && total == 0 && first != NULL && first_len > 0)
            (void)snprintf(first, first_len, "%s/workspace/%s", de->d_name,
                           one);
        total += n;
    }
    (void)closedir(d); /* read-only: nothing to report */
    return total;
}
