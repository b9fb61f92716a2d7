/*
 * wire.h — the codec between the consensus core's structs (consensus/core.h) and the wire schema
 * proto/cairn/v1/consensus.proto (ConsensusEnvelope). Pure: no I/O, no globals, no keys.
 *
 *   cairn_wire_encode_msg / cairn_wire_decode_msg     proposal, vote, timeout, sync request
 *   cairn_wire_encode_sync / cairn_wire_decode_sync   sync response (large, caller-allocated)
 *
 * Decoding is strict and happens before any signature is checked: the bytes must be a valid
 * encoding without unknown fields (ledger/codec.h), at most CAIRN_WIRE_MAX_BYTES long, every id
 * and digest exactly 32 bytes, every signature empty-or-CAIRN_WIRE_SIG_LEN bytes, counts within
 * the core's limits (consts.h), signer bitmaps 8 bytes, TC signers strictly ascending below
 * CAIRN_CONS_MAX_VALIDATORS, and every block id equal to cairn_block_compute_id of its fields
 * (the wire carries the id; a mismatch is CAIRN_ECONS_BLOCK_ID). Checking signatures, quorum
 * power and that the sender index is the authenticated peer is the node's job.
 *
 * Signatures travel beside the structs in cairn_wire_sigs (the core's structs carry none). A QC
 * carries either no signatures or exactly one per signer, in bitmap order; a TC either none or
 * one per signer. Encoding with sigs == NULL writes none; decoding with sigs == NULL drops them.
 *
 * Lossy corners (by design, documented in docs/consensus.md): a TC's hqc_rounds[i] travels only
 * for signers (non-signer entries decode as 0); has_tc decodes as 0 or 1; SyncRequest.max_blocks
 * is checked (<= CAIRN_CONS_SYNC_MAX_BLOCKS) but not kept.
 *
 * Errors: 0 or a negative CAIRN_E* code: CAIRN_EINVAL (NULL argument, unknown msg type on encode),
 * CAIRN_ENOMEM, and the consensus wire codes 610-619 of ledger/error.h plus CAIRN_ECONS_BLOCK_ID,
 * CAIRN_ECONS_SENDER (validator index >= CAIRN_CONS_MAX_VALIDATORS) and CAIRN_ECONS_MALFORMED
 * (unknown block flag bits). On failure decode zeroes *out and *sigs; encode appends nothing (an
 * allocation failure inside out stays sticky in out->err, see ledger/canon.h).
 *
 * The encoder does not validate what the decoder checks (it encodes what the core produced): it
 * fails only on misuse (CAIRN_EINVAL: a NULL pointer, an unknown type, a signature count that is
 * neither 0 nor the signer count, more than CAIRN_CONS_SYNC_MAX_BLOCKS blocks) or when the result
 * would exceed CAIRN_WIRE_MAX_BYTES (CAIRN_ECONS_WIRE_TOO_BIG).
 *
 * Lifetimes: nothing is kept; encode appends to the caller's cairn_buf (free with cairn_buf_free),
 * decode fills caller-allocated structs that hold no pointers.
 */
#ifndef CAIRN_CONSENSUS_WIRE_H
#define CAIRN_CONSENSUS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/core.h"
#include "ledger/canon.h"
#include "ledger/error.h"

/* Largest envelope accepted or produced. */
#define CAIRN_WIRE_MAX_BYTES (4u * 1024u * 1024u)
/* Ed25519 signature length. */
#define CAIRN_WIRE_SIG_LEN 64

/* Signatures of one certificate: n == 0 (unsigned) or n == popcount(signers), sig[k] belonging
 * to the k-th signer in ascending index order. */
typedef struct cairn_wire_cert_sigs {
    uint32_t n;
    uint8_t sig[CAIRN_CONS_MAX_VALIDATORS][CAIRN_WIRE_SIG_LEN];
} cairn_wire_cert_sigs;

/* Signatures of one message (about 8 KiB). qc: the proposal's block QC or the timeout's high QC;
 * tc: the proposal's or timeout's TC. Votes and sync requests use only msg. */
typedef struct cairn_wire_sigs {
    int has_msg; /* 1: msg holds the sender's signature */
    uint8_t msg[CAIRN_WIRE_SIG_LEN];
    cairn_wire_cert_sigs qc;
    cairn_wire_cert_sigs tc;
} cairn_wire_sigs;

/* Signatures of a sync response's QCs (about 135 KiB: allocate once). */
typedef struct cairn_wire_sync_sigs {
    cairn_wire_cert_sigs block_qc[CAIRN_CONS_SYNC_MAX_BLOCKS]; /* blocks[i].qc */
    cairn_wire_cert_sigs tail_qc;
} cairn_wire_sync_sigs;

/* Appends the ConsensusEnvelope of m (with sigs, may be NULL) to out. */
CAIRN_MUST_CHECK int cairn_wire_encode_msg(const cairn_msg *m, const cairn_wire_sigs *sigs,
                                           cairn_buf *out);

/* Decodes a ConsensusEnvelope holding a proposal, vote, timeout or sync request into *out and,
 * if sigs != NULL, its signatures into *sigs. Any other kind: CAIRN_ECONS_WIRE_KIND. */
CAIRN_MUST_CHECK int cairn_wire_decode_msg(const uint8_t *p, size_t len, cairn_msg *out,
                                           cairn_wire_sigs *sigs);

/* Appends the ConsensusEnvelope (sync_response) of r to out; r->n_blocks <= the limit. */
CAIRN_MUST_CHECK int cairn_wire_encode_sync(const cairn_sync_response *r,
                                            const cairn_wire_sync_sigs *sigs, cairn_buf *out);

/* Decodes a ConsensusEnvelope holding a sync response; any other kind: CAIRN_ECONS_WIRE_KIND. */
CAIRN_MUST_CHECK int cairn_wire_decode_sync(const uint8_t *p, size_t len, cairn_sync_response *out,
                                            cairn_wire_sync_sigs *sigs);

#endif
