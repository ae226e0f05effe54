/* auth.c - the bearer token compared in constant time (its file is read
 * by common/token_file.c), and who may listen where. */
#include "auth.h"

#include <arpa/inet.h>
#include <nng/nng.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

bool
nox__token_equal(const char *expected, const char *given, size_t len)
{
    size_t                 elen = strlen(expected);
    volatile unsigned char diff = (unsigned char)(elen != len);

    if (given == NULL)
        return false;
    /* Every byte of given is looked at, against expected's byte or (past
     * its end) against itself, so the time says nothing about where the
     * first difference is. */
    for (size_t i = 0; i < len; i++) {
        unsigned char e =
            i < elen ? (unsigned char)expected[i] : (unsigned char)given[i];
        diff |= (unsigned char)(e ^ (unsigned char)given[i]);
    }
    return diff == 0;
}

bool
nox__host_is_loopback(const char *host)
{
    struct in_addr  a4;
    struct in6_addr a6;

    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

/* ---- the token on the wire ---- */

/* Read a varint at *pos (at most 10 bytes); false past the end. */
static bool
auth_wire_varint(const uint8_t *req, size_t len, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 70 && *pos < len; shift += 7) {
        uint8_t b = req[(*pos)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0)
            return true;
    }
    return false;
}

bool
nox__envelope_token(const uint8_t *req, size_t len, const uint8_t **tok,
                    size_t *tok_len)
{
    size_t pos = 0;

    *tok = NULL;
    *tok_len = 0;
    while (pos < len) {
        uint64_t key, v;

        if (!auth_wire_varint(req, len, &pos, &key) || (key >> 3) == 0)
            return false;
        switch (key & 7) {
        case 0: /* varint */
            if (!auth_wire_varint(req, len, &pos, &v))
                return false;
            break;
        case 1: /* 64 bits */
        case 5: /* 32 bits */
            v = (key & 7) == 1 ? 8 : 4;
            if (len - pos < v)
                return false;
            pos += (size_t)v;
            break;
        case 2: /* length-delimited */
            if (!auth_wire_varint(req, len, &pos, &v) || v > len - pos)
                return false;
            if ((key >> 3) == 4) {
                *tok = req + pos;
                *tok_len = (size_t)v;
            }
            pos += (size_t)v;
            break;
        default: /* groups and reserved wire types: not in an envelope */
            return false;
        }
    }
    return true;
}

/* ---- listen addresses ---- */

nox_err_t
nox__url_host(const char *url, char *host, size_t len)
{
    const char *p = strstr(url, "://");
    const char *end;

    p = p != NULL ? p + 3 : url;
    if (*p == '[') {
        p++;
        end = strchr(p, ']');
        if (end == NULL)
            return NOX_EINVAL;
    } else {
        end = p + strcspn(p, ":/");
    }
    if ((size_t)(end - p) >= len)
        return NOX_EINVAL;
    memcpy(host, p, (size_t)(end - p));
    host[end - p] = '\0';
    return NOX_OK;
}

nox_err_t
nox__url_info(const char *url, nox__url_info_t *info)
{
    static const char *const tls[] = {"tls+tcp", "tls+tcp4", "tls+tcp6", "wss",
                                      "wss4",    "wss6",     "https"};
    nng_url                 *u;
    nox_err_t                err = NOX_OK;

    memset(info, 0, sizeof(*info));
    info->kind = NOX_URL_NETWORK;
    if (strstr(url, "://") == NULL) /* "HOST:PORT" */
        return nox__url_host(url, info->host, sizeof(info->host));
    if (nng_url_parse(&u, url) != 0)
        return NOX_EINVAL;
    if (strcmp(u->u_scheme, "inproc") == 0) {
        info->kind = NOX_URL_INPROC;
    } else if (strcmp(u->u_scheme, "ipc") == 0 ||
               strcmp(u->u_scheme, "unix") == 0) {
        info->kind = NOX_URL_IPC;
        info->path = strstr(url, "://") + 3; /* NNG's u_path, in url */
    } else if (strcmp(u->u_scheme, "abstract") == 0) {
        info->kind = NOX_URL_ABSTRACT;
    } else {
        const char *h = u->u_hostname != NULL ? u->u_hostname : "";
        for (size_t i = 0; i < sizeof(tls) / sizeof(tls[0]); i++)
            info->tls |= strcmp(u->u_scheme, tls[i]) == 0;
        if (strlen(h) < sizeof(info->host))
            memcpy(info->host, h, strlen(h) + 1);
        else
            err = NOX_EINVAL;
    }
    nng_url_free(u);
    return err;
}

bool
nox__url_is_network(const char *url)
{
    nox__url_info_t info;

    (void)nox__url_info(url, &info); /* unreadable: network */
    return info.kind == NOX_URL_NETWORK;
}

/* The warning for a network address served without a token on purpose:
 * bold red on a terminal (unless NO_COLOR), one write so that it stays
 * whole. Not silenced by NOXRUNNER_QUIET: this one is about who may run
 * commands, not about local mode. */
static void
auth_warn_open(const char *url)
{
    const char *nc = getenv("NO_COLOR");
    bool        color = isatty(STDERR_FILENO) && (nc == NULL || nc[0] == '\0');
    char        buf[1024];
    int         n;

    n = snprintf(buf, sizeof(buf),
                 "%sWARNING: noxrunnerd serves %s without a token "
                 "(--insecure-no-auth): anyone who can reach it can run "
                 "commands on this machine as this user.%s\n",
                 color ? "\033[1;31m" : "", url, color ? "\033[0m" : "");
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = (int)sizeof(buf) - 1;
    /* A warning that cannot be written has nowhere else to go. */
    (void)nox__write_all(STDERR_FILENO, buf, (size_t)n);
}

nox_err_t
nox__auth_refuse_open(const char *url, bool has_token, bool insecure_no_auth,
                      nox_status_t *st)
{
    nox__url_info_t info;

    /* An address that cannot be read counts as network and not loopback. */
    if (has_token ||
        (nox__url_info(url, &info) == NOX_OK &&
         (info.kind != NOX_URL_NETWORK || nox__host_is_loopback(info.host))))
        return NOX_OK;
    if (!insecure_no_auth)
        return nox__status_set(st, NOX_EINVAL,
                               "refusing to serve %s without a token: anyone "
                               "who reaches it could run commands here (use "
                               "--token-file, or --insecure-no-auth)",
                               url);
    auth_warn_open(url);
    return NOX_OK;
}
