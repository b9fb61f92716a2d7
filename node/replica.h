/*
 * replica.h — a validator in the cluster: drives the consensus core (consensus/core.h) from the
 * event loop, over the peer links (node/net.h), and applies committed blocks to the ledger.
 *
 *   batches   the node cuts its mempool into transaction batches, verifies the signatures of
 *             batches it receives (batched Ed25519, once per transaction) and sends its own to
 *             every validator, independently of consensus;
 *   payloads  a leader proposes a payload: its time and the digests of the batches it has that
 *             no block took yet (BlockPayload, sent before the proposal); a validator votes only
 *             once it holds the payload and all its batches, fetching what it lacks;
 *   safety    every PERSIST and STORE_BLOCK of a step is written in one LMDB transaction before
 *             the core hears PERSIST_DONE (persist before speak);
 *   commit    a committed block's transactions (duplicates removed) are applied as one ledger
 *             block with the proposer's time; each validator signs the resulting header and
 *             gossips the signature; > 2/3 of the power forms the block's commit certificate;
 *   sync      committed consensus blocks are kept with their quorum certificates, so a peer that
 *             restarts or falls behind fetches them (and their payloads) and catches up.
 * docs/consensus.md ("The node") describes the messages and what is stored.
 *
 * Threads: everything runs on the loop thread, except cairn_replica_stats (any thread).
 * Ownership: the replica borrows every pointer in its config (they must outlive it).
 */
#ifndef CAIRN_NODE_REPLICA_H
#define CAIRN_NODE_REPLICA_H

#include <stdint.h>
#include <uv.h>

#include "ledger/chain.h"
#include "node/config.h"
#include "node/mempool.h"

typedef struct cairn_replica cairn_replica;

typedef void (*cairn_replica_log_fn)(void *ctx, cairn_log_level level, const char *msg);
/* A storage error the replica cannot continue after (the node halts). */
typedef void (*cairn_replica_fatal_fn)(void *ctx, int err);

typedef struct cairn_replica_config {
    uv_loop_t *loop;
    cairn_store *store;
    cairn_chain *chain;
    const cairn_genesis *g;
    const cairn_sig_ctx *sig;
    cairn_mempool *mp;
    const cairn_config *cfg;      /* p2p listen, block limits */
    uint32_t self;                /* unused: the index comes from seed's key in each epoch's set */
    const uint8_t *seed;          /* 32-byte Ed25519 seed of the validator key */
    const uint8_t *noise_private; /* 32-byte X25519 key of the peer links */
    cairn_replica_log_fn log;
    cairn_replica_fatal_fn fatal;
    void *ctx;
} cairn_replica_config;

/* Counters for /metrics (monotonic unless noted). */
typedef struct cairn_replica_stats {
    uint64_t round, cons_height; /* current round, committed consensus height (gauges) */
    uint64_t ledger_height, certified_height; /* gauges */
    uint64_t commits, empty_commits, timeouts_rounds, qc_rounds;
    uint64_t txs_committed, txs_rejected, txs_duplicate;
    uint64_t batches_made, batches_received, batches_fetched, payload_fetches;
    uint64_t sigs_verified, sig_verify_ns; /* transaction signatures verified from peers */
    uint64_t msgs_in, msgs_bad, evidence;
    uint64_t peers_up;                                /* gauge */
    uint64_t persist_ns, persists, apply_ns, applies; /* stage latencies (sums) */
    uint64_t sync_requests_served, sync_responses_applied;
    uint64_t epoch, validators, voter; /* gauges: epoch, size of its set, 1 if we vote in it */
    /* Peer links (node/net.h), copied from the loop thread every housekeeping tick: connections
     * closed during the handshake (garbage, unknown key, timeout) and established links dropped
     * for an oversize or undecryptable frame. */
    uint64_t net_handshakes_failed, net_bad_frames;
} cairn_replica_stats;

/* Restores the consensus state from the store, binds the peer listener and starts. */
CAIRN_MUST_CHECK int cairn_replica_start(cairn_replica **out, const cairn_replica_config *cfg,
                                         char *msg, size_t msg_cap);

/* New transactions are in the mempool: cut a batch now if enough are queued (loop thread). */
void cairn_replica_kick(cairn_replica *r);

/* Consistent enough snapshot for metrics (any thread). */
void cairn_replica_get_stats(const cairn_replica *r, cairn_replica_stats *out);

/* Stops timers and links (loop thread); NULL is a no-op. Pending work is dropped: what was
 * committed is on disk, what was admitted and not committed is lost from this node only. */
void cairn_replica_stop(cairn_replica *r);

#endif
