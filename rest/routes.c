/* routes.c - the endpoints of the REST contract and their matching, with
 * the percent-encoding both sides need. */
#include "rest_impl.h"

#include <stdlib.h>
#include <string.h>

#define REST_PREFIX "/v1/sandboxes/"

/* The specification's endpoints, then ours. The order matters only for
 * nox__rest_route_of, which takes the first route of an rpc that fits. */
static const nox_rest_route_t rest_routes[] = {
    {REST_RPC_HEALTH, "GET", "/v1/health", NULL, NOX_REST_BODY_NONE,
     NOX_REST_BODY_JSON, 200, false},
    {REST_RPC_HEALTH, "GET", "/healthz", NULL, NOX_REST_BODY_NONE,
     NOX_REST_BODY_TEXT, 200, true},
    {REST_RPC_CREATE, "PUT", NULL, "", NOX_REST_BODY_JSON, NOX_REST_BODY_JSON,
     200, true},
    {REST_RPC_TOUCH, "POST", NULL, "/touch", NOX_REST_BODY_NONE,
     NOX_REST_BODY_JSON, 200, true},
    {REST_RPC_EXEC, "POST", NULL, "/exec", NOX_REST_BODY_JSON,
     NOX_REST_BODY_JSON, 200, true},
    {REST_RPC_UPLOAD, "POST", NULL, "/files/upload", NOX_REST_BODY_ARCHIVE,
     NOX_REST_BODY_JSON, 200, true},
    {REST_RPC_DOWNLOAD, "GET", NULL, "/files/download", NOX_REST_BODY_NONE,
     NOX_REST_BODY_ARCHIVE, 200, true},
    {REST_RPC_DELETE, "DELETE", NULL, "", NOX_REST_BODY_NONE,
     NOX_REST_BODY_NONE, 204, true},
    {REST_RPC_LIST, "GET", "/v1/sandboxes", NULL, NOX_REST_BODY_NONE,
     NOX_REST_BODY_JSON, 200, false},
};
#define REST_N_ROUTES (sizeof(rest_routes) / sizeof(rest_routes[0]))

/* The Allow header of each path shape. */
#define REST_ALLOW_SANDBOX "PUT, DELETE"

const nox_rest_route_t *
nox__rest_route_of(unsigned rpc, bool spec_only)
{
    for (size_t i = 0; i < REST_N_ROUTES; i++)
        if (rest_routes[i].rpc == rpc && (!spec_only || rest_routes[i].in_spec))
            return &rest_routes[i];
    return NULL;
}

/* ---- percent-encoding ---- */

static int
rest_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
nox__rest_pct_decode(const char *s, size_t n, bool plus_is_space, char **out)
{
    char  *d = malloc(n + 1);
    size_t o = 0;

    if (d == NULL)
        return -2;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n) {
                free(d);
                return -1;
            }
            h = rest_hex(s[i + 1]);
            l = rest_hex(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(d);
                return -1;
            }
            d[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            d[o++] = ' ';
        } else if (s[i] == '\0') {
            free(d);
            return -1;
        } else {
            d[o++] = s[i];
        }
    }
    d[o] = '\0';
    *out = d;
    return 0;
}

nox_err_t
nox__rest_pct_append(nox_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char          e[3] = {'%', hex[c >> 4], hex[c & 15]};
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                     c == '_' || c == '~';
        nox_err_t err =
            plain ? nox__buf_append(b, s, 1) : nox__buf_append(b, e, sizeof(e));
        if (err != NOX_OK)
            return err;
    }
    return NOX_OK;
}

/* ---- JSON text ---- */

static bool
rest_is_hex(uint8_t c)
{
    return rest_hex((char)c) >= 0;
}

size_t
nox__rest_json_nul_escape(const uint8_t *p, size_t n, size_t from,
                          bool *malformed)
{
    for (size_t i = from; i + 1 < n; i++) {
        if (p[i] != '\\')
            continue;
        if (p[i + 1] == 'u') {
            bool hex = i + 5 < n && rest_is_hex(p[i + 2]) &&
                       rest_is_hex(p[i + 3]) && rest_is_hex(p[i + 4]) &&
                       rest_is_hex(p[i + 5]);
            if (!hex || memcmp(p + i + 2, "0000", 4) == 0) {
                *malformed = !hex;
                return i;
            }
        }
        i++; /* the escaped character, a backslash too */
    }
    return n;
}

/* ---- formats ---- */

int
nox__rest_format_parse(const char *s)
{
    static const struct {
        const char *name;
        int         format;
    } names[] = {
        {"tar.gz", NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_GZ},
        {"tgz", NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_GZ},
        {"gzip", NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_GZ},
        {"gz", NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_GZ},
        {"tar", NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR},
        {"zstd", NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_ZSTD},
        {"zst", NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_ZSTD},
        {"tar.zst", NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_ZSTD},
        {"tar.zstd", NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_ZSTD},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i].name, s) == 0)
            return names[i].format;
    return -1;
}

const char *
nox__rest_format_name(int f)
{
    switch (f) {
    case NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR:
        return "tar";
    case NOXRUNNER__V1__ARCHIVE_FORMAT__ARCHIVE_FORMAT_TAR_ZSTD:
        return "zstd";
    default:
        return "tar.gz";
    }
}

/* ---- matching ---- */

/* The verbs the routes of one sandbox path take, for 405's Allow (every
 * fixed path takes GET only). */
static const char *
rest_allow(const char *suffix)
{
    if (suffix[0] == '\0')
        return REST_ALLOW_SANDBOX;
    return strcmp(suffix, "/files/download") == 0 ? "GET" : "POST";
}

static int
rest_fixed(const char *verb, const char *path, const nox_rest_route_t **route,
           const char **allow, nox_status_t *st)
{
    bool known = false;

    for (size_t i = 0; i < REST_N_ROUTES; i++) {
        const nox_rest_route_t *r = &rest_routes[i];
        if (r->path == NULL || strcmp(r->path, path) != 0)
            continue;
        known = true;
        if (strcmp(r->verb, verb) == 0) {
            *route = r;
            return 0;
        }
    }
    if (!known) {
        (void)nox__status_set(st, NOX_ENOENT, "no such endpoint: %s", path);
        return 404;
    }
    *allow = "GET";
    (void)nox__status_set(st, NOX_ENOTSUP, "method %s not allowed on %s", verb,
                          path);
    return 405;
}

int
nox__rest_route(const char *verb, const char *path,
                const nox_rest_route_t **route, char **session_id,
                const char **allow, nox_status_t *st)
{
    const char *id, *suffix;
    bool        known = false;
    int         rv;

    *route = NULL;
    *session_id = NULL;
    *allow = NULL;
    if (strncmp(path, REST_PREFIX, strlen(REST_PREFIX)) != 0)
        return rest_fixed(verb, path, route, allow, st);
    id = path + strlen(REST_PREFIX);
    suffix = strchr(id, '/');
    if (suffix == NULL)
        suffix = id + strlen(id);
    for (size_t i = 0; i < REST_N_ROUTES; i++) {
        const nox_rest_route_t *r = &rest_routes[i];
        if (r->suffix == NULL || strcmp(r->suffix, suffix) != 0)
            continue;
        known = true;
        if (strcmp(r->verb, verb) == 0) {
            *route = r;
            break;
        }
    }
    if (!known) {
        (void)nox__status_set(st, NOX_ENOENT, "no such endpoint: %s", path);
        return 404;
    }
    if (*route == NULL || strcmp((*route)->verb, verb) != 0) {
        *route = NULL;
        *allow = rest_allow(suffix);
        (void)nox__status_set(st, NOX_ENOTSUP, "method %s not allowed on %s",
                              verb, path);
        return 405;
    }
    rv = nox__rest_pct_decode(id, (size_t)(suffix - id), false, session_id);
    if (rv == -2) {
        (void)nox__status_set(st, NOX_ERESOURCE, "out of memory");
        return 500;
    }
    if (rv != 0) {
        (void)nox__status_set(st, NOX_EINVAL,
                              "invalid session_id: bad percent-encoding");
        return 400;
    }
    return 0;
}
