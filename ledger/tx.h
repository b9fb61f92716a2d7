/*
 * tx.h — transactions: strict decoding, the signing input, the transaction hash and the
 * stateless checks every node runs before a transaction may enter a block.
 *
 * A transaction is SignedTx { body, alg, signer, signature } (proto/cairn/v1/tx.proto); the
 * body bytes are kept exactly as received (docs/formats.md, "Transactions").
 */
#ifndef CAIRN_LEDGER_TX_H
#define CAIRN_LEDGER_TX_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/canon.h"
#include "ledger/error.h"
#include "ledger/sig.h"
#include "proto/cairn/v1/tx.pb-c.h"

#define CAIRN_TX_MAX_BYTES           ((size_t)64 << 10) /* an encoded SignedTx, at most */
#define CAIRN_TX_MAX_NONCE           32                 /* nonce bytes */
#define CAIRN_MAX_TX_LIFETIME_BLOCKS 14400u /* expiry at most this far above the height */

typedef struct cairn_tx {
    Cairn__V1__SignedTx *env; /* owned */
    Cairn__V1__TxBody *body;  /* owned */
    uint8_t hash[32];         /* tx_hash = H(signing input) */
} cairn_tx;

/*
 * Decodes raw (a SignedTx encoding) strictly and checks its shape: size, known algorithm, key and
 * signature lengths, chain id, nonce size, expiry present, a payload present. Does not verify the
 * signature. On success tx owns the decoded messages (cairn_tx_free). Errors: CAIRN_ETOOBIG,
 * CAIRN_EDECODE, CAIRN_ESIG_ALG, CAIRN_ESIG_LENGTH, CAIRN_ECHAIN_ID, CAIRN_EFIELD,
 * CAIRN_ENO_PAYLOAD.
 */
CAIRN_MUST_CHECK int cairn_tx_decode(cairn_tx *tx, const uint8_t *raw, size_t len,
                                     const char *chain_id);

void cairn_tx_free(cairn_tx *tx);

/* TAG("CAIRN-TX-V1") || str8(chain_id) || body. */
void cairn_tx_signing_input(cairn_buf *b, const char *chain_id, const uint8_t *body, size_t len);

/*
 * The message an algorithm signs for a signing input (transactions, proofs of possession): the
 * input itself for Ed25519 and for ECDSA (whose engine hashes it with SHA-256), SHA-256(input)
 * for BIP340 Schnorr. *msg points into input or into digest (caller storage).
 */
void cairn_signed_message(cairn_sig_alg alg, const uint8_t *input, size_t len, uint8_t digest[32],
                          const uint8_t **msg, size_t *msg_len);

/* Verifies sig by key over a signing input under the convention above: 0 or CAIRN_ESIG_*. */
CAIRN_MUST_CHECK int cairn_input_verify(const cairn_sig_ctx *ctx, cairn_sig_alg alg,
                                        const uint8_t *key, size_t key_len, const uint8_t *input,
                                        size_t len, const uint8_t *sig, size_t sig_len);

/* Proof-of-possession input: TAG("CAIRN-POP-V1") || str8(chain_id) || owner || u8 alg ||
 * bytes16(key). */
void cairn_pop_input(cairn_buf *b, const char *chain_id, const uint8_t owner[32], uint8_t alg,
                     const uint8_t *key, size_t key_len);

/* Verifies the transaction's signature with its claimed signer key: 0 or CAIRN_ESIG_*. */
CAIRN_MUST_CHECK int cairn_tx_verify(const cairn_sig_ctx *ctx, const cairn_tx *tx,
                                     const char *chain_id);

/* The same check from a log entry's fields (used by offline verifiers). */
CAIRN_MUST_CHECK int cairn_tx_verify_parts(const cairn_sig_ctx *ctx, const char *chain_id,
                                           const uint8_t *body, size_t body_len, uint8_t alg,
                                           const uint8_t *signer, size_t signer_len,
                                           const uint8_t *sig, size_t sig_len);

/*
 * Decodes and verifies n transactions (raw[i], len[i]) together, Ed25519 signatures in one batch
 * (cairn_sig_verify_many): results[i] = 0, the decode error, or the CAIRN_ESIG_* code. Returns
 * 0 or CAIRN_ENOMEM (then results are unspecified).
 */
CAIRN_MUST_CHECK int cairn_tx_verify_many(const cairn_sig_ctx *ctx, const char *chain_id,
                                          const uint8_t *const *raw, const size_t *len, size_t n,
                                          int *results);

/* tx_hash of a body. */
void cairn_tx_hash(uint8_t out[32], const char *chain_id, const uint8_t *body, size_t len);

#endif
