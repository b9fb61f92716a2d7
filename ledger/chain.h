/*
 * chain.h — the ledger engine: genesis initialisation, block application (transactions in order,
 * log leaves, state, indexes, header, all inside the caller's write transaction), and the lookups
 * the API and the provenance bundles need.
 *
 * Storage (tables of ledger/store.h):
 *   blocks        u64be height            -> header bytes (docs/formats.md)
 *                 u64be height || 0x01    -> commit certificate bytes
 *                 'H' || block hash       -> u64be height
 *   lsm           log-structured indexes (ledger/lsmidx.h, docs/indexes.md), one run per block
 *                 and index, merged size-tiered, tag = block height:
 *                 't': tx hash -> u64be height || u64be log index || i32 result (correctly
 *                      signed transactions only; replay rejection and the status API)
 *                 'a': H(TAG("CAIRN-ANCHOR-INDEX-V1") || u8 len || data digest)
 *                      -> u64be log index of the first anchor of it (smallest value wins)
 *   (tx.index and anchor.index: the B-trees these replaced, no longer used)
 *   device.events device id || u64be log index -> u8 payload kind (lifecycle, not anchors)
 *   streams       stream id (records.h cairn_stream_id) -> stream counters
 *   meta "chain.head" -> u64be height, "chain.genesis" -> genesis hash,
 *        "chain.index" -> "lsm-v1" (a chain without it predates the lsm indexes: refused with
 *        CAIRN_ESTORE_VERSION)
 *        "valset.epoch" -> u64be epoch of the active validator set (absent: 0, the genesis set)
 *        "valset.set" || u64be epoch -> the set of that epoch (cairn_valset, docs/formats.md)
 *        "valset.pending" -> n * validator id: validators changed by governance since the last
 *                            rotation, in the order the changes were applied
 * The state tree's version is the block height; the genesis state is version 0.
 *
 * A cairn_chain handle is immutable after open and may be shared by threads; every function
 * that takes a cairn_txn works within that transaction (read or write as stated).
 */
#ifndef CAIRN_LEDGER_CHAIN_H
#define CAIRN_LEDGER_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/block.h"
#include "ledger/error.h"
#include "ledger/genesis.h"
#include "ledger/log.h"
#include "ledger/sig.h"
#include "ledger/store.h"
#include "proto/cairn/v1/tx.pb-c.h"

/* Largest number of transactions in one block. */
#define CAIRN_BLOCK_MAX_TXS 10000u

typedef struct cairn_chain cairn_chain;

/*
 * Opens the chain in store s for genesis g. A store without a log is initialised with the
 * genesis (leaf 0, state version 0, block 0) in one commit; a store of another genesis is
 * refused with CAIRN_EGENESIS. s, g and sig must outlive the chain; g is copied.
 */
CAIRN_MUST_CHECK int cairn_chain_open(cairn_chain **out, cairn_store *s, const cairn_genesis *g,
                                      const cairn_sig_ctx *sig);
void cairn_chain_close(cairn_chain *c);
const cairn_genesis *cairn_chain_genesis(const cairn_chain *c);
const uint8_t *cairn_chain_genesis_hash(const cairn_chain *c);

/* The latest block, or block `height`; hash may be NULL. CAIRN_ENOENT for a missing height. */
CAIRN_MUST_CHECK int cairn_chain_head(cairn_txn *t, cairn_header *h, uint8_t hash[32]);
CAIRN_MUST_CHECK int cairn_chain_block(cairn_txn *t, uint64_t height, cairn_header *h,
                                       uint8_t hash[32]);
CAIRN_MUST_CHECK int cairn_chain_height_of(cairn_txn *t, const uint8_t hash[32], uint64_t *height);
CAIRN_MUST_CHECK int cairn_chain_certificate(cairn_txn *t, uint64_t height, cairn_certificate *c);
/* Stores a certificate for an existing block (write transaction). */
CAIRN_MUST_CHECK int cairn_chain_put_certificate(cairn_txn *t, const cairn_certificate *c);

typedef struct cairn_tx_status {
    uint64_t height, log_index;
    int32_t result;
} cairn_tx_status;

CAIRN_MUST_CHECK int cairn_chain_tx_status(cairn_txn *t, const uint8_t hash[32],
                                           cairn_tx_status *st);
/* Log index of the first anchor of a data digest. CAIRN_ENOENT if never anchored. */
CAIRN_MUST_CHECK int cairn_chain_anchor_index(cairn_txn *t, const uint8_t *digest, size_t len,
                                              uint64_t *log_index);
/* Counters of a device's anchor stream. CAIRN_ENOENT if it never anchored on it. */
CAIRN_MUST_CHECK int cairn_chain_stream(cairn_txn *t, const uint8_t device[32],
                                        const uint8_t *stream, size_t len, cairn_stream *out);

/* Decodes the TxBody of the transaction logged at index (caller frees with
 * protobuf_c_message_free_unpacked). */
CAIRN_MUST_CHECK int cairn_chain_entry_body(cairn_txn *t, const char *chain_id, uint64_t index,
                                            Cairn__V1__TxBody **body);

/*
 * Mempool admission: decodes raw, runs the stateless checks and the signature check, and checks
 * expiry and replay against the latest block in t. Writes the tx hash as soon as the transaction
 * decodes (also on a replay, so the caller can answer with it), never before. 0 when the
 * transaction may be proposed.
 */
CAIRN_MUST_CHECK int cairn_chain_admit(const cairn_chain *c, cairn_txn *t, const uint8_t *raw,
                                       size_t len, uint8_t tx_hash[32]);
/* The same, also writing signer_id = SHA-256(signer public key) (for per-device fair shares). */
CAIRN_MUST_CHECK int cairn_chain_admit_signer(const cairn_chain *c, cairn_txn *t,
                                              const uint8_t *raw, size_t len, uint8_t tx_hash[32],
                                              uint8_t signer_id[32]);
/* Everything cairn_chain_admit_signer checks except the signature (checked afterwards in a
 * batch: node/admit.h). */
CAIRN_MUST_CHECK int cairn_chain_admit_prepare(const cairn_chain *c, cairn_txn *t,
                                               const uint8_t *raw, size_t len, uint8_t tx_hash[32],
                                               uint8_t signer_id[32]);

typedef struct cairn_block_out {
    cairn_header header;
    uint8_t hash[32];
    uint64_t first_log_index;
} cairn_block_out;

/*
 * Applies the next block in write transaction t: the raw SignedTx encodings in order, at time
 * time_ms (not before the parent's) by proposer. sig_results, if not NULL, holds each
 * transaction's signature result from the signature engine (verified once, at admission); NULL
 * verifies here. Each transaction gets a log leaf with its result (results[i], if not NULL); a
 * rejected one changes no state. Returns 0, CAIRN_EBLOCK for an invalid block (too many txs,
 * time going back), or a storage error (then t must be aborted).
 */
CAIRN_MUST_CHECK int cairn_chain_apply_block(const cairn_chain *c, cairn_txn *t, uint64_t time_ms,
                                             const uint8_t proposer[32], const cairn_log_leaf *txs,
                                             size_t n, const int *sig_results, cairn_block_out *out,
                                             int32_t *results);

/*
 * Validator sets and epochs. Governance (ledger/rules.c) changes validator records at once, but
 * the set that runs consensus and certifies blocks changes only at an epoch boundary: the node
 * applies an epoch-change block (cairn_chain_apply_epoch_block) when the consensus RECONFIG
 * block commits. The set of epoch e+1 is the set of epoch e in order, minus the validators whose
 * record now has power 0, plus the pending validators with power > 0 that are not in it, in the
 * order their changes were applied; the pending list is cleared.
 *
 * Certification rule: block h is certified by the set named (valset_hash) in the header of
 * block h-1; block 0 names the genesis set. The epoch-change block names the NEW set (and the
 * new epoch in header.epoch), so it is still certified by the old set, and every later block
 * by the new one.
 */
#define CAIRN_VALSET_MAX CAIRN_GENESIS_MAX_VALIDATORS

typedef struct cairn_valset {
    uint64_t epoch;
    uint64_t since_height; /* ledger height of the block that named it (0 for the genesis set) */
    size_t n;
    uint8_t hash[32]; /* cairn_valset_hash of v[0..n) */
    cairn_validator v[CAIRN_VALSET_MAX];
} cairn_valset;

/* The active set (read transaction is enough). out is large: allocate it on the heap. */
CAIRN_MUST_CHECK int cairn_chain_valset(const cairn_chain *c, cairn_txn *t, cairn_valset *out);
/* The set of an earlier (or the current) epoch; CAIRN_ENOENT for an epoch never reached. */
CAIRN_MUST_CHECK int cairn_chain_valset_at(const cairn_chain *c, cairn_txn *t, uint64_t epoch,
                                           cairn_valset *out);
/* *pending = number of validator changes waiting for the next epoch boundary. */
CAIRN_MUST_CHECK int cairn_chain_valset_pending(cairn_txn *t, size_t *pending);

/*
 * Applies the epoch-change block in write transaction t: a block with no transactions (state and
 * log unchanged) whose header carries epoch + 1 and the hash of the rotated set, written to
 * *next (may be NULL). Returns what cairn_chain_apply_block returns.
 */
CAIRN_MUST_CHECK int cairn_chain_apply_epoch_block(const cairn_chain *c, cairn_txn *t,
                                                   uint64_t time_ms, const uint8_t proposer[32],
                                                   cairn_block_out *out, cairn_valset *next);

/* Signs the commit of (height, block hash) with a 32-byte Ed25519 seed (the dev-mode producer
 * and tests; validators do this in the consensus layer). */
CAIRN_MUST_CHECK int cairn_commit_sign(const char *chain_id, uint64_t height,
                                       const uint8_t block_hash[32], const uint8_t seed[32],
                                       uint8_t sig[64]);

/* The certificate verifier callback for cairn_certificate_verify, ctx = cairn_sig_ctx. */
int cairn_chain_verify_cb(void *ctx, const cairn_pubkey *key, const uint8_t *msg, size_t len,
                          const uint8_t *sig, size_t sig_len);

#endif
