/*
 * pbjson.h — JSON form of flat v1 messages (scalars, strings, bytes, repeated bytes): the same
 * field names, bytes as lowercase hex, 64-bit integers as JSON numbers. Used for API bodies and
 * provenance bundles. Unknown JSON fields and wrong types are rejected (CAIRN_EJSON).
 */
#ifndef CAIRN_LEDGER_PBJSON_H
#define CAIRN_LEDGER_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "ledger/error.h"

/* A new JSON object for m (NULL on allocation failure or an unsupported field type). */
json_t *cairn_pb_to_json(const ProtobufCMessage *m);

/* Parses obj into a freshly allocated message of type d (free with
 * protobuf_c_message_free_unpacked(m, NULL)). */
CAIRN_MUST_CHECK int cairn_pb_from_json(const ProtobufCMessageDescriptor *d, json_t *obj,
                                        ProtobufCMessage **out);

#endif
