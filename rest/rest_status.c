/* rest_status.c - gRPC codes and HTTP statuses, both ways, and the JSON
 * error body {"error": message, "code": code}. */
#include "rest_impl.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

int
nox__rest_http_status(nox_err_t code, const char *msg)
{
    switch (code) {
    case NOX_OK:
        return 200;
    case NOX_EINVAL:
    case NOX_ERANGE:
        return 400;
    case NOX_EAUTH:
        return 401;
    case NOX_EDENIED:
        return 403;
    case NOX_ENOENT:
        return 404;
    case NOX_EEXIST:
    case NOX_EPRECOND:
    case NOX_EABORTED:
        return 409;
    case NOX_ERESOURCE:
        /* The engine's message carries strerror(ENOSPC/EDQUOT). */
        if (msg != NULL && (strstr(msg, "No space left on device") != NULL ||
                            strstr(msg, "Disk quota exceeded") != NULL))
            return 507;
        return 429;
    case NOX_ECANCELED:
        return 499; /* the client closed the request (nginx's code) */
    case NOX_ENOTSUP:
        return 501;
    case NOX_EUNAVAIL:
        return 503;
    case NOX_ETIMEDOUT:
        return 504;
    default:
        return 500;
    }
}

nox_err_t
nox__rest_err_of_status(int status)
{
    if (status >= 200 && status < 300)
        return NOX_OK;
    switch (status) {
    case 400:
        return NOX_EINVAL;
    case 401:
        return NOX_EAUTH;
    case 403:
        return NOX_EDENIED;
    case 404:
        return NOX_ENOENT;
    case 405:
    case 501:
        return NOX_ENOTSUP;
    case 408:
    case 504:
        return NOX_ETIMEDOUT;
    case 409:
        return NOX_EPRECOND;
    case 413:
    case 429:
    case 507:
        return NOX_ERESOURCE;
    case 499:
        return NOX_ECANCELED;
    case 502:
    case 503:
        return NOX_EUNAVAIL;
    default:
        return status >= 500 ? NOX_EINTERNAL : NOX_EINVAL;
    }
}

/* What is sent when even the error body cannot be made. */
static const char rest_oom_body[] =
    "{\"error\": \"out of memory\", \"code\": 8}";

void
nox__rest_http_free(nox_rest_http_t *out)
{
    if (out->owned != NULL && out->owned_free != NULL)
        out->owned_free(out->owned);
    out->owned = NULL;
    out->owned_free = NULL;
    out->body = NULL;
    out->len = 0;
}

/* Print j into out as its owned body; consumes j. */
nox_err_t
nox__rest_json_body(cJSON *j, int status, nox_rest_http_t *out)
{
    char *text = j != NULL ? cJSON_PrintUnformatted(j) : NULL;

    cJSON_Delete(j);
    if (text == NULL) {
        out->status = 500;
        out->content_type = "application/json";
        out->body = (const uint8_t *)rest_oom_body;
        out->len = sizeof(rest_oom_body) - 1;
        return NOX_ERESOURCE;
    }
    out->status = status;
    out->content_type = "application/json";
    out->owned = text;
    out->owned_free = cJSON_free;
    out->body = (const uint8_t *)text;
    out->len = strlen(text);
    return NOX_OK;
}

nox_err_t
nox__rest_error(nox_err_t code, int http_status, const char *msg,
                nox_rest_http_t *out)
{
    cJSON      *j = cJSON_CreateObject();
    char       *clean = nox__utf8_sanitize((const uint8_t *)(msg ? msg : ""),
                                     msg ? strlen(msg) : 0);
    const char *text =
        clean != NULL && clean[0] != '\0' ? clean : nox_strerror(code);

    memset(out, 0, sizeof(*out));
    if (j != NULL && (cJSON_AddStringToObject(j, "error", text) == NULL ||
                      cJSON_AddNumberToObject(j, "code", code) == NULL)) {
        cJSON_Delete(j);
        j = NULL;
    }
    free(clean);
    return nox__rest_json_body(
        j, http_status != 0 ? http_status : nox__rest_http_status(code, msg),
        out);
}
