/*
 * wire_strings.c - scan packed protobuf for string fields holding NUL.
 *
 * protobuf-c copies each string field into a NUL-terminated buffer and
 * drops its length (protobuf-c's tracker, #203: by design), so a decoded
 * string that held U+0000 is silently cut at it. Only the wire bytes
 * still know: a length-delimited field whose descriptor says STRING is
 * checked with memchr, one whose descriptor says MESSAGE is scanned the
 * same way with the nested descriptor (a map is a repeated message of
 * key/value entries).
 */
#include "wire_strings.h"

#include "nox_common.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Deeper nesting than any NoxRunner message has; a recursive schema
 * cannot make the scan recurse without bound. */
#define WIRE_MAX_DEPTH 32
#define WIRE_PATH_MAX 160

/* The protobuf wire types (the low three bits of a tag). */
enum {
    WIRE_VARINT = 0,
    WIRE_FIXED64 = 1,
    WIRE_LEN = 2,
    WIRE_FIXED32 = 5,
};

/* One field as it is on the wire. */
typedef struct {
    uint32_t       number;
    unsigned       type;
    const uint8_t *val; /* WIRE_LEN: the field's bytes */
    size_t         len;
} wire_field_t;

/* The fields the scan is inside, outermost first; named only when a NUL
 * is found, so the scan stays linear (finding a repeated field's index
 * means reading its message again from the start). */
typedef struct {
    const ProtobufCFieldDescriptor *fd;
    const uint8_t                  *msg; /* the message holding the field */
    const uint8_t                  *at;  /* where the field starts in it */
} wire_frame_t;

typedef struct {
    wire_frame_t f[WIRE_MAX_DEPTH + 2];
    unsigned     n;
} wire_trail_t;

static bool
wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;

    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t b;

        if (*p == end)
            return false;
        b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false; /* more than ten bytes */
}

/* Read the field at *p, advancing *p past it. False on malformed bytes
 * (truncated, a length past the end, field number 0, groups). */
static bool
wire_next(const uint8_t **p, const uint8_t *end, wire_field_t *f)
{
    uint64_t tag, n;
    size_t   skip;

    if (!wire_varint(p, end, &tag) || (tag >> 3) == 0 ||
        (tag >> 3) > UINT32_MAX)
        return false;
    f->number = (uint32_t)(tag >> 3);
    f->type = (unsigned)(tag & 7);
    f->val = NULL;
    f->len = 0;
    switch (f->type) {
    case WIRE_VARINT:
        return wire_varint(p, end, &n);
    case WIRE_FIXED64:
        skip = 8;
        break;
    case WIRE_FIXED32:
        skip = 4;
        break;
    case WIRE_LEN:
        if (!wire_varint(p, end, &n) || n > (uint64_t)(end - *p))
            return false;
        f->val = *p;
        f->len = (size_t)n;
        skip = (size_t)n;
        break;
    default:
        return false;
    }
    if (skip > (size_t)(end - *p))
        return false;
    *p += skip;
    return true;
}

/* How many fields numbered number come before stop in the message that
 * starts at p: the index of a repeated field's element. */
static size_t
wire_index_of(const uint8_t *p, const uint8_t *stop, uint32_t number)
{
    wire_field_t f;
    size_t       n = 0;

    /* The bytes up to stop were read once already: they parse. */
    while (p < stop && wire_next(&p, stop, &f))
        if (f.number == number)
            n++;
    return n;
}

/* INVALID_ARGUMENT naming the string field at the end of trail as a
 * path, e.g. "env[0].key contains a NUL byte". A path too long is cut. */
static nox_err_t
wire_nul_error(const wire_trail_t *t, nox_status_t *st)
{
    char   path[WIRE_PATH_MAX];
    size_t len = 0;

    path[0] = '\0';
    for (unsigned i = 0; i < t->n && len < sizeof(path) - 1; i++) {
        const wire_frame_t *f = &t->f[i];
        size_t              room = sizeof(path) - len;
        int                 n;

        if (f->fd->label == PROTOBUF_C_LABEL_REPEATED)
            n = snprintf(path + len, room, "%s%s[%zu]", i ? "." : "",
                         f->fd->name, wire_index_of(f->msg, f->at, f->fd->id));
        else
            n = snprintf(path + len, room, "%s%s", i ? "." : "", f->fd->name);
        if (n < 0)
            break;
        len += (size_t)n < room ? (size_t)n : room - 1;
    }
    return nox__status_set(st, NOX_EINVAL, "%s contains a NUL byte", path);
}

static nox_err_t
wire_scan(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
          size_t len, wire_trail_t *t, nox_status_t *st)
{
    const uint8_t *p = data, *end = data + len;

    if (t->n > WIRE_MAX_DEPTH)
        return nox__status_set(st, NOX_EINVAL, "%s nested too deeply",
                               desc->short_name);
    while (p < end) {
        const uint8_t                  *at = p;
        const ProtobufCFieldDescriptor *fd;
        wire_field_t                    f;
        nox_err_t                       rv;

        if (!wire_next(&p, end, &f))
            return nox__status_set(st, NOX_EINVAL, "malformed %s message",
                                   desc->short_name);
        if (f.type != WIRE_LEN)
            continue;
        /* Unknown fields are skipped: nothing reads them as strings. */
        fd = protobuf_c_message_descriptor_get_field(desc, f.number);
        if (fd == NULL)
            continue;
        if (fd->type == PROTOBUF_C_TYPE_STRING &&
            memchr(f.val, '\0', f.len) != NULL) {
            t->f[t->n++] = (wire_frame_t){fd, data, at};
            return wire_nul_error(t, st);
        }
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        t->f[t->n++] = (wire_frame_t){fd, data, at};
        rv = wire_scan(fd->descriptor, f.val, f.len, t, st);
        if (rv != NOX_OK)
            return rv;
        t->n--;
    }
    return NOX_OK;
}

nox_err_t
nox__wire_check_strings(const ProtobufCMessageDescriptor *desc,
                        const uint8_t *data, size_t len, nox_status_t *st)
{
    wire_trail_t trail;

    trail.n = 0;
    if (len == 0)
        return NOX_OK; /* data may be NULL: an all-default message */
    return wire_scan(desc, data, len, &trail, st);
}
