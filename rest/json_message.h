/*
 * json_message.h - a protobuf-c message as a JSON object and back, by its
 * descriptor: the REST bodies of every RPC without a hand-written
 * serializer per message.
 *
 * Mapping (proto3's JSON mapping, with the REST contract's choices):
 *   names     lowerCamelCase of the field name (ttl_seconds: ttlSeconds);
 *             reading accepts the field name as written too
 *   integers  JSON numbers (64-bit ones as well: the contract's
 *             durationMs is a number); reading wants an integral number in
 *             the field's range
 *   bytes     a UTF-8 string (stdout, stderr): invalid sequences become
 *             U+FFFD when writing
 *   enums     the value's name without the enum's prefix
 *             (EXEC_CAUSE_TIMED_OUT: "TIMED_OUT"); reading takes that, the
 *             full name or the number
 *   repeated  arrays; map<string,string> an object of strings
 *   messages  nested objects
 * Reading ignores unknown members and null values (forward compatible),
 * and names the field of the first wrong type: "field cmd: expected an
 * array of strings".
 */
#ifndef NOX_JSON_MESSAGE_H
#define NOX_JSON_MESSAGE_H

#include "nox_common.h"

#include <cjson/cJSON.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

/* m as a new JSON object (release: cJSON_Delete) with every field but
 * those named in skip (a NULL-terminated list of field names; may be
 * NULL), and, when omit_defaults, but those at their default value (0,
 * false, "", empty: what a request leaves to the server). NULL when
 * memory runs out. */
cJSON *nox__json_from_message(const ProtobufCMessage *m,
                              const char *const *skip, bool omit_defaults);

/* A new message of type d from the JSON object o (NULL: all defaults),
 * leaving the fields named in skip at their defaults. Release:
 * protobuf_c_message_free_unpacked(*out, NULL). NOX_EINVAL naming the
 * field for a wrong type or out-of-range number; NOX_ERESOURCE. */
nox_err_t nox__json_to_message(const cJSON                      *o,
                               const ProtobufCMessageDescriptor *d,
                               const char *const *skip, ProtobufCMessage **out,
                               nox_status_t *st);

#endif /* NOX_JSON_MESSAGE_H */
