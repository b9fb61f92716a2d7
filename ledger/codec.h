/*
 * codec.h — strict decoding of v1 wire messages (protobuf-c).
 *
 * protobuf-c's unpack is lenient: it keeps unknown fields (even the invalid field number 0).
 * Cairn refuses them, at every nesting level, so two nodes can never read one encoding
 * differently and nothing unexamined rides along in a signed body.
 */
#ifndef CAIRN_LEDGER_CODEC_H
#define CAIRN_LEDGER_CODEC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"

/*
 * Decodes buf as message type d. Returns 0 and *out (free with protobuf_c_message_free_unpacked),
 * CAIRN_ETOOBIG if len > max_len, CAIRN_EDECODE if the bytes are not a valid encoding or carry
 * unknown fields.
 */
CAIRN_MUST_CHECK int cairn_pb_decode(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
                                     size_t len, size_t max_len, ProtobufCMessage **out);

/* 1 if m or any message inside it has unknown fields. */
int cairn_pb_has_unknown(const ProtobufCMessage *m);

#endif
