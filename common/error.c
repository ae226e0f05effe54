/* error.c - nox_err_t names and descriptions, generated from NOX_ERRORS. */
#include "nox/error.h"

#include <stddef.h>

struct error_entry {
    const char *name;
    const char *text;
};

static const struct error_entry error_table[] = {
#define ERROR_ROW_(name, code, grpc, text) [code] = {grpc, text},
    NOX_ERRORS(ERROR_ROW_)
#undef ERROR_ROW_
};

#define ERROR_COUNT (sizeof(error_table) / sizeof(error_table[0]))

static const struct error_entry *
error_lookup(nox_err_t e)
{
    if ((unsigned)e >= ERROR_COUNT || error_table[e].name == NULL)
        return NULL;
    return &error_table[e];
}

const char *
nox_strerror(nox_err_t e)
{
    const struct error_entry *ent = error_lookup(e);
    return ent ? ent->text : "unknown error code";
}

const char *
nox_err_name(nox_err_t e)
{
    const struct error_entry *ent = error_lookup(e);
    return ent ? ent->name : "UNKNOWN";
}

int32_t
nox_err_to_wire(nox_err_t e)
{
    return (int32_t)e;
}

nox_err_t
nox_err_from_wire(int32_t code)
{
    if (code < 0 || (size_t)code >= ERROR_COUNT)
        return NOX_EUNKNOWN;
    return (nox_err_t)code;
}
