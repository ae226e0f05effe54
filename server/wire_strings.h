/*
 * wire_strings.h - find the string fields protobuf-c would silently cut.
 *
 * A proto3 string may hold U+0000, but protobuf-c hands every string out
 * as a NUL-terminated C string and keeps no length: "zz\0evil!" arrives
 * as "zz", and a session id, path or argv word names something else than
 * the caller sent. The unpacked message cannot tell, so the packed bytes
 * are scanned with the message's descriptor instead.
 *
 * Thread safety: pure functions of their arguments.
 */
#ifndef NOX_WIRE_STRINGS_H
#define NOX_WIRE_STRINGS_H

#include "nox_common.h"

#include <protobuf-c/protobuf-c.h>

#include <stddef.h>
#include <stdint.h>

/* Check that no string field of the packed message data/len (a desc),
 * nor of any message nested in it (map entries included), holds a 0x00
 * byte. Bytes fields and unknown fields are not strings and may hold
 * anything. Returns NOX_OK, or NOX_EINVAL with st naming the field as a
 * path: "session_id contains a NUL byte", "cmd[1] ...", "env[0].key ...".
 * Bytes that are not well-formed protobuf also give NOX_EINVAL. */
nox_err_t nox__wire_check_strings(const ProtobufCMessageDescriptor *desc,
                                  const uint8_t *data, size_t len,
                                  nox_status_t *st);

#endif /* NOX_WIRE_STRINGS_H */
