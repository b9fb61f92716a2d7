/*
 * mempool.h — transactions admitted by the API and not yet in a block. Thread-safe: the API
 * threads add, the event loop takes batches for blocks. Bounded by a transaction count and a byte
 * budget; a full pool refuses (CAIRN_EMEMPOOL_FULL) instead of growing. A transaction stays
 * "pending" from admission until the block holding it is committed (cairn_mempool_done).
 */
#ifndef CAIRN_NODE_MEMPOOL_H
#define CAIRN_NODE_MEMPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/log.h"

typedef struct cairn_mempool cairn_mempool;

CAIRN_MUST_CHECK int cairn_mempool_new(cairn_mempool **out, size_t max_txs, size_t max_bytes);
void cairn_mempool_free(cairn_mempool *mp);

/* Copies raw in. CAIRN_EEXIST if the hash is already pending, CAIRN_EMEMPOOL_FULL if full. */
CAIRN_MUST_CHECK int cairn_mempool_add(cairn_mempool *mp, const uint8_t hash[32],
                                       const uint8_t *raw, size_t len);

/* 1 if the hash is pending (queued or in a block being made). */
int cairn_mempool_pending(cairn_mempool *mp, const uint8_t hash[32]);

/* Queued transactions (not counting those taken). */
size_t cairn_mempool_size(cairn_mempool *mp);

/* A batch taken for a block: the leaves point into memory the batch owns. */
typedef struct cairn_mempool_batch {
    size_t n;
    cairn_log_leaf *txs;
    uint8_t (*hashes)[32];
} cairn_mempool_batch;

/* Takes up to max queued transactions, oldest first. At most one batch may be outstanding
 * (taken and not yet done) at a time. */
CAIRN_MUST_CHECK int cairn_mempool_take(cairn_mempool *mp, size_t max, cairn_mempool_batch *b);

/* The batch's block was committed (or dropped): its hashes stop being pending; frees b. */
void cairn_mempool_done(cairn_mempool *mp, cairn_mempool_batch *b);

#endif
