/* fuzz_wire.c - reading and rewriting protobuf fields byte-exactly. */
#include "fuzz_wire.h"

#include <string.h>

/* A varint of at most max_bytes bytes at *pos. */
static bool
wire_varint(const uint8_t *buf, size_t len, size_t *pos, size_t max_bytes,
            uint64_t *v)
{
    uint64_t r = 0;

    for (size_t i = 0; i < max_bytes && *pos < len; i++) {
        uint8_t b = buf[(*pos)++];
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *v = r;
            return true;
        }
    }
    return false;
}

int
fuzz_wire_next(const uint8_t *buf, size_t len, size_t *pos, fuzz_field_t *f)
{
    uint64_t tag, n;

    if (*pos >= len)
        return 0;
    memset(f, 0, sizeof(*f));
    f->start = *pos;
    /* A tag is at most 5 bytes and 32 bits: anything a decoder might read
     * differently is refused, so our idea of a field number is always the
     * decoder's. */
    if (!wire_varint(buf, len, pos, 5, &tag) || tag > UINT32_MAX ||
        (tag >> 3) == 0)
        return -1;
    f->number = (uint32_t)(tag >> 3);
    f->type = (unsigned)(tag & 7);
    switch (f->type) {
    case 0:
        if (!wire_varint(buf, len, pos, 10, &f->varint))
            return -1;
        break;
    case 1:
    case 5:
        n = f->type == 1 ? 8 : 4;
        if (len - *pos < n)
            return -1;
        *pos += n;
        break;
    case 2:
        if (!wire_varint(buf, len, pos, 10, &n) || n > len - *pos)
            return -1;
        f->data = buf + *pos;
        f->len = (size_t)n;
        *pos += (size_t)n;
        break;
    default:
        return -1; /* groups (3, 4) and the unused 6, 7 */
    }
    f->end = *pos;
    return 1;
}

bool
fuzz_wire_valid(const uint8_t *buf, size_t len)
{
    size_t       pos = 0;
    fuzz_field_t f;
    int          rc;

    while ((rc = fuzz_wire_next(buf, len, &pos, &f)) == 1)
        ;
    return rc == 0;
}

bool
fuzz_wire_last(const uint8_t *buf, size_t len, uint32_t number, fuzz_field_t *f)
{
    size_t       pos = 0;
    fuzz_field_t cur;
    bool         found = false;

    while (fuzz_wire_next(buf, len, &pos, &cur) == 1) {
        if (cur.number == number && cur.type == 2) {
            *f = cur;
            found = true;
        }
    }
    return found;
}

bool
fuzz_wire_has_nul(const uint8_t *p, size_t n)
{
    return n > 0 && memchr(p, '\0', n) != NULL;
}

nox_err_t
fuzz_wire_put_varint(nox_buf_t *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t  n = 0;

    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v != 0)
            tmp[n] |= 0x80;
        n++;
    } while (v != 0);
    return nox__buf_append(b, tmp, n);
}

nox_err_t
fuzz_wire_put_bytes(nox_buf_t *b, uint32_t number, const void *p, size_t n)
{
    nox_err_t rv = fuzz_wire_put_varint(b, ((uint64_t)number << 3) | 2);

    if (rv == NOX_OK)
        rv = fuzz_wire_put_varint(b, n);
    if (rv == NOX_OK && n > 0)
        rv = nox__buf_append(b, p, n);
    return rv;
}

/* ExecRequest.cmd is field 2 (proto/noxrunner/v1/sandbox.proto). */
#define WIRE_EXEC_CMD 2

nox_err_t
fuzz_wire_exec_harmless(const uint8_t *p, size_t n, nox_buf_t *out)
{
    size_t       pos = 0, keep;
    fuzz_field_t f;
    bool         first = true;
    nox_err_t    rv = NOX_OK;
    int          rc;

    out->len = 0;
    if (!fuzz_wire_valid(p, n))
        return NOX_OK; /* empty: an Exec without a command */
    while (rv == NOX_OK && (rc = fuzz_wire_next(p, n, &pos, &f)) == 1) {
        if (f.number != WIRE_EXEC_CMD || f.type != 2 || !first) {
            rv = nox__buf_append(out, p + f.start, f.end - f.start);
            continue;
        }
        first = false;
        /* From the first NUL on, the original bytes stay. */
        const uint8_t *nul = f.len > 0 ? memchr(f.data, '\0', f.len) : NULL;
        keep = nul != NULL ? f.len - (size_t)(nul - f.data) : 0;
        size_t total = strlen(FUZZ_TRUE_PATH) + keep;
        rv = fuzz_wire_put_varint(out, ((uint64_t)WIRE_EXEC_CMD << 3) | 2);
        if (rv == NOX_OK)
            rv = fuzz_wire_put_varint(out, total);
        if (rv == NOX_OK)
            rv = nox__buf_append(out, FUZZ_TRUE_PATH, strlen(FUZZ_TRUE_PATH));
        if (rv == NOX_OK && keep > 0)
            rv = nox__buf_append(out, nul, keep);
    }
    return rv;
}
