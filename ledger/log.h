/*
 * log.h — the append-only RFC 9162 Merkle log, stored in LMDB.
 *
 * The log holds opaque leaf byte strings. Every function works inside a caller's transaction, so
 * a block can append leaves, state and indexes in one durable commit; the log keeps no state of
 * its own between calls (its size lives in the store), so an aborted transaction leaves nothing
 * to undo. Layout and costs: docs/log-storage.md.
 *
 * Storage:
 *   log.leaves  u64be index -> leaf bytes
 *   log.tiles   u8 tile level t || u64be tile index i -> packed hashes of the perfect subtree
 *               rows 8t+1 .. 8t+7 (t = 0; leaf hashes are recomputed from the leaves) or
 *               8t .. 8t+7 (t >= 1) under tile i. A tile is written in full width; nodes not yet
 *               complete are zero.
 *   meta "log.size" u64be number of leaves.
 */
#ifndef CAIRN_LEDGER_LOG_H
#define CAIRN_LEDGER_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/merkle.h"
#include "ledger/store.h"

/* Largest leaf the log accepts, in bytes. */
#define CAIRN_LOG_MAX_LEAF ((size_t)1 << 20)

typedef struct cairn_log_leaf {
    const uint8_t *data;
    size_t len;
} cairn_log_leaf;

/* Number of leaves in the log as seen by t. */
CAIRN_MUST_CHECK int cairn_log_size(cairn_txn *t, uint64_t *size);

/*
 * Appends n leaves in write transaction t and returns the new size in *new_size (may be NULL).
 * Hashing is O(1) amortized per leaf. On error the transaction is poisoned or unchanged.
 */
CAIRN_MUST_CHECK int cairn_log_append(cairn_txn *t, const cairn_log_leaf *leaves, size_t n,
                                      uint64_t *new_size);

/*
 * Appends n leaves in their own durable commit (one batch). Returns the new size.
 */
CAIRN_MUST_CHECK int cairn_log_append_batch(cairn_store *s, const cairn_log_leaf *leaves, size_t n,
                                            uint64_t *new_size);

/* The leaf at index; *leaf points into the store, valid until t ends or is next updated. */
CAIRN_MUST_CHECK int cairn_log_leaf_get(cairn_txn *t, uint64_t index, const uint8_t **leaf,
                                        size_t *len);

/* RFC 9162 root of the first `size` leaves (size <= log size; size 0 gives the empty root). */
CAIRN_MUST_CHECK int cairn_log_root(cairn_txn *t, uint64_t size, uint8_t root[CAIRN_HASH_LEN]);

/*
 * Inclusion proof of leaf `index` in the tree of `size` leaves: writes *n hashes to path
 * (capacity CAIRN_MERKLE_MAX_PROOF). CAIRN_ELOG_INDEX if index >= size, CAIRN_ELOG_SIZE if size
 * exceeds the log.
 */
CAIRN_MUST_CHECK int cairn_log_inclusion_proof(cairn_txn *t, uint64_t index, uint64_t size,
                                               uint8_t (*path)[CAIRN_HASH_LEN], size_t *n);

/*
 * Consistency proof between tree sizes first and second: CAIRN_ELOG_ORDER if first > second,
 * CAIRN_ELOG_SIZE if second exceeds the log. first == 0 or first == second gives an empty proof.
 */
CAIRN_MUST_CHECK int cairn_log_consistency_proof(cairn_txn *t, uint64_t first, uint64_t second,
                                                 uint8_t (*proof)[CAIRN_HASH_LEN], size_t *n);

#endif
