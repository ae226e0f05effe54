/*
 * rest_impl.h - what the rest/ files share: percent-encoding, archive
 * format names and the RPC indices. Private to rest/.
 */
#ifndef NOX_REST_IMPL_H
#define NOX_REST_IMPL_H

#include "rest.h"

#include <cjson/cJSON.h>

#include "noxrunner/v1/sandbox.pb-c.h"

/* Positions of the rpcs in service Sandbox (.proto order; the client's
 * client_impl.h has the same list). */
enum {
    REST_RPC_HEALTH,
    REST_RPC_CREATE,
    REST_RPC_TOUCH,
    REST_RPC_EXEC,
    REST_RPC_UPLOAD,
    REST_RPC_DOWNLOAD,
    REST_RPC_DELETE,
    REST_RPC_LIST,
};

/* The next "\u" escape at or after from in the JSON text p[0..n) (its
 * backslash not itself escaped) that cJSON reads as a NUL byte, ending
 * the C string it makes there: "\u0000", or one whose next four
 * characters are not all hex digits (*malformed then; cJSON's hex reader
 * gives 0 for those). n when there is none. */
size_t nox__rest_json_nul_escape(const uint8_t *p, size_t n, size_t from,
                                 bool *malformed);

/* Append s percent-encoded (all but A-Z a-z 0-9 - . _ ~) to b. */
nox_err_t nox__rest_pct_append(nox_buf_t *b, const char *s);

/* The ArchiveFormat named by s ("tar.gz", "tgz", "gzip", "gz", "tar",
 * "zstd", "zst", "tar.zst", "tar.zstd"); -1 when unknown. */
int nox__rest_format_parse(const char *s);

/* The name clients send for format f ("tar.gz", "tar", "zstd"). */
const char *nox__rest_format_name(int f);

/* Print j (consumed; NULL: out of memory) as out's owned JSON body with
 * status; a bare 500 and NOX_ERESOURCE when memory runs out. */
nox_err_t nox__rest_json_body(cJSON *j, int status, nox_rest_http_t *out);

#endif /* NOX_REST_IMPL_H */
