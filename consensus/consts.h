/*
 * consts.h — every protocol constant and limit of the consensus core, with units in the names.
 *
 * Changing a limit changes the size of caller-allocated structures (cairn_core, cairn_actions);
 * changing a timeout changes only liveness, never safety.
 */
#ifndef CAIRN_CONSENSUS_CONSTS_H
#define CAIRN_CONSENSUS_CONSTS_H

/* Validator set: indexes 0..n-1, signer sets are 64-bit bitmaps. */
#define CAIRN_CONS_MAX_VALIDATORS 64

/* Pacemaker (Jolteon section 4 "pacemaker"; DiemBFT v4 section 4.3): the round timeout starts at
 * the base and doubles after every round that ended by timeout, capped at the maximum. A round
 * that ends with a QC resets the back-off. A node that has timed out re-broadcasts its timeout
 * every CAIRN_CONS_TIMEOUT_RESEND_MS so a lost timeout cannot stall a round forever. */
#define CAIRN_CONS_ROUND_TIMEOUT_BASE_MS 1000u
#define CAIRN_CONS_ROUND_TIMEOUT_MAX_MS  8000u
#define CAIRN_CONS_BACKOFF_MAX_DOUBLINGS 3u
#define CAIRN_CONS_TIMEOUT_RESEND_MS     1000u

/* Block tree: uncommitted blocks held above the committed root. */
#define CAIRN_CONS_MAX_TREE_BLOCKS 128
/* Proposals more than this many rounds ahead of the local round are ignored (not stored). */
#define CAIRN_CONS_MAX_ROUND_AHEAD 1000u
/* Vote aggregation slots (distinct (round, block) pairs collected at once). */
#define CAIRN_CONS_MAX_VOTE_SLOTS 8
/* Timeout aggregation slots (distinct rounds collected at once). */
#define CAIRN_CONS_MAX_TIMEOUT_SLOTS 4
/* Outgoing messages held back until their persist completes. */
#define CAIRN_CONS_MAX_PENDING_SENDS 8
/* Actions one step may emit; cairn_core_step never emits more. The worst step is a sync
 * response: a STORE_BLOCK per block plus the commits it unlocks (at most a tree's worth). */
#define CAIRN_CONS_MAX_ACTIONS (CAIRN_CONS_MAX_TREE_BLOCKS + 2 * CAIRN_CONS_SYNC_MAX_BLOCKS + 32)
/* A sync request for the same height is not repeated sooner than this. */
#define CAIRN_CONS_SYNC_RETRY_MS 200u
/* Blocks carried by one sync response. */
#define CAIRN_CONS_SYNC_MAX_BLOCKS 32

/* Leader reputation (DiemBFT v4 section 4.6 "LeaderElection", core.c leader_for): when the
 * chain goes well, the leader of round r, for a proposal extending a block X of round r - 1, is
 * one of the signers of X's QC other than the proposers of the last EXCLUDE blocks of X's chain.
 * NO_LEADER: that chain is not known to this node. */
#define CAIRN_CONS_REPUTATION_EXCLUDE_BLOCKS 2
#define CAIRN_CONS_NO_LEADER                 0xffffffffu
/* Committed blocks remembered for leader reputation after they leave the tree. */
#define CAIRN_CONS_HISTORY_BLOCKS 8

#endif
