/*
 * mempool.h — transactions admitted by the API and not yet committed. Thread-safe: the API
 * threads add, the event loop takes batches. Bounded by a transaction count and a byte budget,
 * with fair shares: one signer (device or admin key) may hold at most max_per_signer pending
 * transactions and one client (API peer address) at most max_per_client, so a single chatty
 * device or client cannot fill the pool for everyone. A full pool refuses (CAIRN_EMEMPOOL_FULL)
 * instead of growing; the API answers 503.
 *
 * Life of a transaction: add (queued) -> take (in a batch, still pending: counted against the
 * limits and refused as a duplicate) -> release (its block committed, or it was dropped). Any
 * number of batches may be outstanding. Lookups are O(1) (hash sets keyed by the tx hash).
 */
#ifndef CAIRN_NODE_MEMPOOL_H
#define CAIRN_NODE_MEMPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/log.h"

typedef struct cairn_mempool cairn_mempool;

typedef struct cairn_mempool_limits {
    size_t max_txs, max_bytes;
    size_t max_per_signer; /* 0 = no per-signer limit */
    size_t max_per_client; /* 0 = no per-client limit */
} cairn_mempool_limits;

CAIRN_MUST_CHECK int cairn_mempool_new(cairn_mempool **out, const cairn_mempool_limits *lim);
void cairn_mempool_free(cairn_mempool *mp);

/* Copies raw in. signer: a 32-byte id of the signing key (e.g. its hash); client: a 32-byte id
 * of the submitting client; either may be NULL (not counted). CAIRN_EEXIST if the hash is
 * already pending, CAIRN_EMEMPOOL_FULL if a limit would be exceeded, CAIRN_ENOMEM. */
CAIRN_MUST_CHECK int cairn_mempool_add(cairn_mempool *mp, const uint8_t hash[32],
                                       const uint8_t *raw, size_t len, const uint8_t *signer,
                                       const uint8_t *client);

/* 1 if the hash is pending (queued or taken and not released). */
int cairn_mempool_pending(cairn_mempool *mp, const uint8_t hash[32]);

/* Queued transactions (not counting those taken). */
size_t cairn_mempool_size(cairn_mempool *mp);
/* Pending transactions (queued and taken). */
size_t cairn_mempool_pending_count(cairn_mempool *mp);

/* A batch of taken transactions; the caller owns it (leaves point into its own memory). */
typedef struct cairn_mempool_batch {
    size_t n;
    cairn_log_leaf *txs;
    uint8_t (*hashes)[32];
} cairn_mempool_batch;

/* Takes up to max_txs queued transactions (and at most max_bytes of them, but at least one),
 * oldest first. They stay pending until released. */
CAIRN_MUST_CHECK int cairn_mempool_take(cairn_mempool *mp, size_t max_txs, size_t max_bytes,
                                        cairn_mempool_batch *b);

/* The transactions stop being pending (committed or dropped); unknown hashes are ignored. */
void cairn_mempool_release(cairn_mempool *mp, const uint8_t (*hashes)[32], size_t n);

/* Frees the batch's memory (does not release its hashes). */
void cairn_mempool_batch_free(cairn_mempool_batch *b);

#endif
