/*
 * fuzz_wire.h - protobuf wire format, read field by field, for the
 * dispatcher harness.
 *
 * protobuf-c hands strings over as C strings, so what it decodes cannot
 * tell "ab" from "ab\0cd"; the harness reads the wire itself to know what
 * the request really carried, and rewrites an Exec request's argv[0]
 * byte-exactly (every other byte of the request is kept).
 *
 * Thread safety: reentrant, no shared state.
 */
#ifndef NOX_FUZZ_WIRE_H
#define NOX_FUZZ_WIRE_H

#include "nox_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t       number; /* field number */
    unsigned       type;   /* wire type: 0 varint, 1 i64, 2 len, 5 i32 */
    uint64_t       varint; /* type 0 */
    const uint8_t *data;   /* type 2: the bytes; else NULL */
    size_t         len;    /* type 2: their length */
    size_t         start;  /* offset of the tag */
    size_t         end;    /* offset just past the field */
} fuzz_field_t;

/* Read the field at *pos of buf/len into *f and advance *pos. Returns 1
 * for a field, 0 at the end, -1 when the bytes are not valid protobuf
 * (groups included: no message of ours has them). */
int fuzz_wire_next(const uint8_t *buf, size_t len, size_t *pos,
                   fuzz_field_t *f);

/* True when the whole of buf/len parses as protobuf fields. */
bool fuzz_wire_valid(const uint8_t *buf, size_t len);

/* The last length-delimited occurrence of field number in buf/len (the one
 * a decoder keeps for a singular field), or false when there is none. */
bool fuzz_wire_last(const uint8_t *buf, size_t len, uint32_t number,
                    fuzz_field_t *f);

/* True when the bytes contain a NUL. */
bool fuzz_wire_has_nul(const uint8_t *p, size_t n);

/* Append a varint, a tag, or a length-delimited field to b. */
nox_err_t fuzz_wire_put_varint(nox_buf_t *b, uint64_t v);
nox_err_t fuzz_wire_put_bytes(nox_buf_t *b, uint32_t number, const void *p,
                              size_t n);

/* The argv[0] every fuzzed Exec runs: the only program the harness lets
 * the engine start. */
#define FUZZ_TRUE_PATH "/bin/true"

/* Rewrite an ExecRequest: its first cmd entry becomes FUZZ_TRUE_PATH
 * followed by whatever the original held from its first NUL on (so a NUL
 * still reaches the server); all else is copied as it was. A payload
 * that is not valid protobuf becomes empty (an Exec of nothing), so
 * nothing this parser misreads can run. The result replaces *out. */
nox_err_t fuzz_wire_exec_harmless(const uint8_t *p, size_t n, nox_buf_t *out);

#endif /* NOX_FUZZ_WIRE_H */
