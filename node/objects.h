/*
 * objects.h — the objects validators exchange beside consensus messages (docs/consensus.md
 * "The node"): transaction batches, block payloads and commit votes, each one ConsensusEnvelope
 * (proto/cairn/v1/consensus.proto). Pure code: no I/O, no state.
 *
 *   batch digest   = H(TAG("CAIRN-BATCH-V1") || u32 n || n * (u32 len || tx bytes))
 *   payload digest = H(TAG("CAIRN-BODY-V1") || u64 time_ms || u32 n || n * batch digest)
 *
 * Decoding is strict (ledger/codec.h: no unknown fields) and checks the kind, the limits and,
 * for a batch, that the digest it carries is the digest of its transactions.
 * Errors: 0 or CAIRN_ECONS_WIRE_DECODE (not a valid encoding, or over CAIRN_WIRE_MAX_BYTES),
 * CAIRN_ECONS_WIRE_KIND (another envelope kind), CAIRN_ECONS_BATCH (a batch without
 * transactions, more than CAIRN_BLOCK_MAX_TXS of them, or a digest that does not match; a payload
 * without batches or with more than CAIRN_BLOCK_MAX_TXS), CAIRN_ECONS_WIRE_ID_LEN (a digest not
 * 32 bytes), CAIRN_ECONS_MALFORMED (a commit vote with a hash or signature of the wrong length),
 * CAIRN_ENOMEM.
 *
 * On failure a decoder leaves *out NULL (and *batches NULL).
 * Ownership: decoders return a heap envelope (free with protobuf_c_message_free_unpacked) whose
 * byte fields point into it; encoders return malloc'd bytes the caller frees.
 */
#ifndef CAIRN_NODE_OBJECTS_H
#define CAIRN_NODE_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/log.h"
#include "proto/cairn/v1/consensus.pb-c.h"

void cairn_batch_digest(const ProtobufCBinaryData *txs, size_t n, uint8_t out[32]);
void cairn_payload_digest(uint64_t time_ms, const uint8_t (*batches)[32], size_t n,
                          uint8_t out[32]);

/* Encodes the batch of txs[0..n) (n >= 1) with its digest. */
CAIRN_MUST_CHECK int cairn_batch_encode(const cairn_log_leaf *txs, size_t n, uint8_t **out,
                                        size_t *len, uint8_t digest[32]);
/* Decodes a batch envelope; *digest is its (checked) digest. */
CAIRN_MUST_CHECK int cairn_batch_decode(const uint8_t *p, size_t len,
                                        Cairn__V1__ConsensusEnvelope **out, uint8_t digest[32]);

/* Encodes a block payload (n >= 1 batch digests). */
CAIRN_MUST_CHECK int cairn_payload_encode(uint64_t time_ms, const uint8_t (*batches)[32], size_t n,
                                          uint8_t **out, size_t *len, uint8_t digest[32]);
/* Decodes a payload envelope into time, a malloc'd array of n digests, and its digest. */
CAIRN_MUST_CHECK int cairn_payload_decode(const uint8_t *p, size_t len, uint64_t *time_ms,
                                          uint8_t (**batches)[32], uint32_t *n, uint8_t digest[32]);

/* A commit vote: validator's signature over a ledger block (height, hash). */
typedef struct cairn_commit_vote {
    uint64_t height;
    uint8_t block_hash[32];
    uint32_t validator;
    uint8_t sig[64];
} cairn_commit_vote;

CAIRN_MUST_CHECK int cairn_commit_vote_encode(const cairn_commit_vote *v, uint8_t **out,
                                              size_t *len);
CAIRN_MUST_CHECK int cairn_commit_vote_decode(const uint8_t *p, size_t len, cairn_commit_vote *v);

/* A request for validators' commit votes on ledger block `height` (height >= 1). */
CAIRN_MUST_CHECK int cairn_commit_vote_request_encode(uint64_t height, uint8_t **out, size_t *len);
CAIRN_MUST_CHECK int cairn_commit_vote_request_decode(const uint8_t *p, size_t len,
                                                      uint64_t *height);

/* Encodes a request for objects by digest (batches or payloads). */
CAIRN_MUST_CHECK int cairn_object_request_encode(const uint8_t (*digests)[32], size_t n,
                                                 uint8_t **out, size_t *len);

#endif
