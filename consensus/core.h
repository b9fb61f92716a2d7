/*
 * core.h — the BFT consensus core: a two-chain chained HotStuff (Jolteon / DiemBFT v4) as a pure
 * state machine.
 *
 *   cairn_core_init(core, cfg, restored)     caller-allocated handle, no allocation inside
 *   cairn_core_step(core, input, actions)    one input in, zero or more actions out
 *
 * The core performs no I/O, reads no clock and no random source and has no globals: every
 * input carries the caller's current time (now_ms), so several cores run in one process and a
 * run is reproducible from its inputs. The caller (node/, tests/sim/) verifies every signature
 * before an input reaches the core: a message's `sender` is authenticated, a QC's signer bitmap
 * and a TC's (signer, high-QC round) pairs are backed by valid signatures. The core still checks
 * everything it can without keys (epoch, quorum power, index ranges, block ids, heights).
 *
 * Persist before speak (ARCHITECTURE rule 4): every vote or timeout is preceded by a
 * CAIRN_ACT_PERSIST action carrying the new safety data and a token; the message itself is
 * emitted only in the step that receives CAIRN_IN_PERSIST_DONE with that token (or a later one:
 * persists complete in token order). The caller must write the safety data durably before
 * reporting it done, and pass the last durable copy to cairn_core_init after a restart.
 * Likewise every block the core accepts into its tree is handed out once as
 * CAIRN_ACT_STORE_BLOCK; the caller writes it in order with the persists (so a block is durable
 * before any vote for it is reported persisted) and passes the stored blocks above the committed
 * root back at restart: without them a certified block known only to restarted nodes could not
 * be extended, and the cluster would stall.
 *
 * Errors: cairn_core_step returns 0 or a negative CAIRN_E* code (ledger/error.h). A rejected
 * input changes no state, except that equivocation evidence and sync requests it triggered are
 * still emitted in `out` (they are valid whatever the return value). CAIRN_EINVAL means misuse
 * (a NULL pointer, a bad config).
 *
 * Lifetimes: the core keeps no pointer to anything the caller passes; inputs may be freed when
 * step returns. Pointers returned by the query functions stay valid until the next step.
 */
#ifndef CAIRN_CONSENSUS_CORE_H
#define CAIRN_CONSENSUS_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/consts.h"
#include "consensus/safety.h"
#include "ledger/error.h"

/* Block flags. A RECONFIG block changes the validator set: when it commits the epoch ends
 * (CAIRN_ACT_EPOCH_END) and the node starts a new core for epoch + 1. Its descendants in the same
 * epoch must carry an all-zero payload (they are never executed). */
#define CAIRN_BLOCK_F_RECONFIG 1u

/* A block as the core sees it. id = SHA-256("cairn.block.v1" 0x00 || canonical fields), see
 * cairn_block_compute_id; qc certifies the parent (qc.block_id == parent_id). */
typedef struct cairn_block {
    uint64_t epoch;
    uint64_t round;
    uint64_t height;
    uint32_t proposer;
    uint32_t flags;
    uint8_t parent_id[32];
    uint8_t payload[32]; /* digest of the block's batches, supplied by the node */
    cairn_qc qc;
    uint8_t id[32];
} cairn_block;

typedef struct cairn_proposal {
    cairn_block block;
    int has_tc; /* the previous round ended by timeout: tc.round == block.round - 1 */
    cairn_tc tc;
} cairn_proposal;

typedef struct cairn_vote {
    uint64_t epoch;
    uint64_t round;
    uint64_t height;
    uint8_t block_id[32];
} cairn_vote;

typedef struct cairn_timeout {
    uint64_t epoch;
    uint64_t round;
    cairn_qc high_qc;
    int has_tc; /* how the sender entered `round` if not by high_qc */
    cairn_tc last_tc;
} cairn_timeout;

typedef struct cairn_sync_request {
    uint64_t epoch;
    uint64_t from_height; /* first height wanted: the requester's committed height + 1 */
} cairn_sync_request;

/* Certified blocks in ascending height order, each the parent of the next; tail_qc certifies the
 * last one. blocks[0]'s parent must be known to the receiver. */
typedef struct cairn_sync_response {
    uint64_t epoch;
    uint32_t n_blocks;
    cairn_block blocks[CAIRN_CONS_SYNC_MAX_BLOCKS];
    cairn_qc tail_qc;
} cairn_sync_response;

enum cairn_msg_type {
    CAIRN_MSG_PROPOSAL = 1,
    CAIRN_MSG_VOTE,
    CAIRN_MSG_TIMEOUT,
    CAIRN_MSG_SYNC_REQUEST,
};

/* A message between cores. Sync responses are large and travel only as inputs (by pointer). */
typedef struct cairn_msg {
    int type;        /* enum cairn_msg_type */
    uint32_t sender; /* authenticated validator index */
    union {
        cairn_proposal proposal;
        cairn_vote vote;
        cairn_timeout timeout;
        cairn_sync_request sync_request;
    } u;
} cairn_msg;

enum cairn_input_type {
    CAIRN_IN_MESSAGE = 1,  /* msg */
    CAIRN_IN_TICK,         /* only now_ms */
    CAIRN_IN_PERSIST_DONE, /* token */
    CAIRN_IN_PAYLOAD,      /* payload for the round the core asked about (CAIRN_ACT_NEED_PAYLOAD) */
    CAIRN_IN_PAYLOAD_READY, /* the batches of block_id are available locally: the core may vote */
    CAIRN_IN_SYNC_RESPONSE, /* sync */
};

typedef struct cairn_input {
    int type;        /* enum cairn_input_type */
    uint64_t now_ms; /* caller's monotonic clock, never decreasing */
    union {
        const cairn_msg *msg;
        uint64_t token;
        struct {
            uint64_t round;
            uint8_t digest[32];
            uint32_t flags; /* CAIRN_BLOCK_F_RECONFIG if the payload changes the validator set */
        } payload;
        uint8_t block_id[32];
        struct {
            const cairn_sync_response *resp;
            uint32_t from; /* authenticated validator that sent it */
        } sync;
    } u;
} cairn_input;

typedef struct cairn_evidence {
    int kind; /* CAIRN_MSG_PROPOSAL or CAIRN_MSG_VOTE */
    uint32_t offender;
    uint64_t epoch;
    uint64_t round;
    cairn_block blocks[2]; /* kind == PROPOSAL: two different blocks for one round */
    cairn_vote votes[2];   /* kind == VOTE: two different votes for one round */
} cairn_evidence;

enum cairn_action_type {
    CAIRN_ACT_SEND = 1,      /* to, msg */
    CAIRN_ACT_BROADCAST,     /* msg, to every validator except self */
    CAIRN_ACT_PERSIST,       /* persist.token, persist.data: write durably, then PERSIST_DONE */
    CAIRN_ACT_SET_TIMER,     /* deadline_ms: deliver a TICK at or after it (replaces earlier) */
    CAIRN_ACT_COMMIT,        /* commit.block with commit.qc certifying it, in height order */
    CAIRN_ACT_NEED_PAYLOAD,  /* round: answer with CAIRN_IN_PAYLOAD */
    CAIRN_ACT_FETCH_PAYLOAD, /* commit.block: make its batches available, answer PAYLOAD_READY */
    CAIRN_ACT_SYNC_REQUEST,  /* to, msg (a SYNC_REQUEST); the node serves it, see core docs */
    CAIRN_ACT_EVIDENCE,      /* evidence */
    CAIRN_ACT_EPOCH_END,     /* commit.block: the committed RECONFIG block; the core stops.
                                The node then sends every peer the proof of the epoch's end
                                (cairn_core_epoch_proof), since peers that missed the last QC
                                would otherwise wait forever. */
    CAIRN_ACT_STORE_BLOCK,   /* commit.block: store durably, in order with PERSIST actions */
};

typedef struct cairn_action {
    int type; /* enum cairn_action_type */
    uint32_t to;
    union {
        cairn_msg msg;
        struct {
            uint64_t token;
            cairn_safety_data data;
        } persist;
        uint64_t deadline_ms;
        struct {
            cairn_block block;
            cairn_qc qc;
        } commit;
        uint64_t round;
        cairn_evidence evidence;
    } u;
} cairn_action;

/* Caller-allocated output of one step (large: allocate it once, reuse it). */
typedef struct cairn_actions {
    size_t n;
    cairn_action a[CAIRN_CONS_MAX_ACTIONS];
} cairn_actions;

typedef struct cairn_core_config {
    uint64_t epoch;
    uint32_t n_validators; /* 1..CAIRN_CONS_MAX_VALIDATORS */
    uint32_t self;         /* this node's index */
    uint64_t power[CAIRN_CONS_MAX_VALIDATORS];
    uint8_t genesis_id[32]; /* the epoch's genesis block: its QC (round 0, no signers) is valid */
    int leader_reputation;  /* 1: exclude validators that stopped signing (DiemBFT v4 4.6) */
    int payload_ready_by_default; /* 1: vote without waiting for CAIRN_IN_PAYLOAD_READY */
} cairn_core_config;

/* What survives a restart: the durable safety data and the last committed block with the QC
 * that certified it (the genesis block with its genesis QC at the start of an epoch). */
typedef struct cairn_core_restore {
    const cairn_safety_data *safety; /* NULL: fresh validator */
    cairn_block root;
    cairn_qc root_qc;
    const cairn_block *blocks; /* blocks stored by CAIRN_ACT_STORE_BLOCK above root, any order */
    size_t n_blocks;
    /* Optional: committed blocks just below root (root's parent, its parent, ...), any order;
     * up to CAIRN_CONS_HISTORY_BLOCKS are kept. Leader reputation reads the last blocks of the
     * chain; without them a restarted node may know no leader until blocks commit again. */
    const cairn_block *history;
    size_t n_history;
} cairn_core_restore;

typedef struct cairn_vote_slot {
    uint64_t round;
    uint64_t height;
    uint8_t block_id[32];
    uint64_t signers;
    uint64_t power;
    int used;
} cairn_vote_slot;

typedef struct cairn_timeout_slot {
    uint64_t round;
    uint64_t signers;
    uint64_t power;
    uint64_t hqc_rounds[CAIRN_CONS_MAX_VALIDATORS];
    int used;
} cairn_timeout_slot;

typedef struct cairn_tree_entry {
    cairn_block b;
    int used;
    int payload_ready;
} cairn_tree_entry;

typedef struct cairn_pending_send {
    uint64_t token;
    uint32_t to; /* UINT32_MAX: broadcast; self: handled internally */
    cairn_msg msg;
} cairn_pending_send;

typedef struct cairn_hist_entry {
    uint8_t id[32];
    uint8_t parent_id[32];
    uint64_t height;
    uint64_t round;
    uint64_t qc_round;   /* round of the QC this block carries (on its parent) */
    uint64_t qc_signers; /* and its signers */
    uint32_t proposer;
} cairn_hist_entry;

/* The handle. Plain data: no interior pointers, may be copied (the simulator does not). */
typedef struct cairn_core {
    cairn_core_config cfg;
    uint64_t total_power;
    uint64_t quorum_power;
    uint64_t validity_power;
    int ended;   /* epoch ended: inputs are ignored */
    int started; /* the first step entered the first round */
    int overflow;
    cairn_action scratch;

    cairn_safety_data safety; /* in memory; durable once persisted */
    uint64_t next_token;
    uint64_t durable_token; /* highest token reported done */
    cairn_pending_send pending[CAIRN_CONS_MAX_PENDING_SENDS];
    size_t n_pending;

    /* Pacemaker. */
    uint64_t round;
    uint64_t round_deadline_ms;
    uint64_t consecutive_timeouts;
    int timed_out;    /* gave up on `round`: no more votes in it */
    int timeout_sent; /* and queued a timeout message (timeout_token) */
    uint64_t timeout_token;
    int has_last_tc; /* last_tc.round == round - 1 */
    cairn_tc last_tc;
    int proposed;      /* proposed in `round` (leader) */
    int payload_asked; /* asked the node for the payload of `round` (NEED_PAYLOAD) */
    uint64_t now_ms;

    /* Block tree above the committed root. */
    cairn_block root;
    cairn_qc root_qc;
    cairn_tree_entry tree[CAIRN_CONS_MAX_TREE_BLOCKS];
    cairn_hist_entry hist[CAIRN_CONS_HISTORY_BLOCKS]; /* committed chain, newest at hist_head */
    size_t hist_len;
    size_t hist_head;
    uint8_t vote_wait_id[32]; /* proposal of `round` waiting for its payload before voting */
    int vote_wait;
    int has_tc_for_vote_wait;
    cairn_tc vote_wait_tc;

    /* Aggregation and equivocation detection. */
    cairn_vote_slot votes[CAIRN_CONS_MAX_VOTE_SLOTS];
    cairn_timeout_slot timeouts[CAIRN_CONS_MAX_TIMEOUT_SLOTS];
    struct {
        uint64_t round;
        cairn_vote vote;
        int valid;
    } last_vote_from[CAIRN_CONS_MAX_VALIDATORS];
    struct {
        uint64_t round;
        cairn_block block;
        int valid;
    } last_proposal; /* first proposal seen for its round */

    uint32_t high_qc_from;  /* who gave us the highest QC: asked for its block when missing */
    uint8_t end_tip_id[32]; /* after the epoch ended: the certified block whose QC ended it */
    cairn_qc end_tip_qc;
    uint64_t sync_requested_height; /* highest from_height asked, to avoid request storms */
    uint64_t sync_requested_at_ms;

    /* Statistics (read-only for callers). */
    uint64_t stat_qc_rounds; /* rounds ended by a QC */
    uint64_t stat_tc_rounds; /* rounds ended by a TC */
} cairn_core;

/* The epoch a message belongs to (every type carries one). */
uint64_t cairn_msg_epoch(const cairn_msg *m);

/* Computes the canonical block id from b's fields (everything except b->id). */
void cairn_block_compute_id(const cairn_block *b, uint8_t out[32]);

/* The genesis block of an epoch (round 0, height 0, id from genesis_seed) and its QC, signed by
 * no one and accepted by definition. */
void cairn_core_genesis(uint64_t epoch, const uint8_t genesis_seed[32], cairn_block *block,
                        cairn_qc *qc);

/* Initializes core. restore->root must be the genesis block (with fresh safety) or the last
 * block this node committed. Emits nothing; the caller then steps a TICK, which starts the first
 * round. Returns CAIRN_EINVAL for a bad config (n out of range, zero power, self >= n). */
CAIRN_MUST_CHECK int cairn_core_init(cairn_core *core, const cairn_core_config *cfg,
                                     const cairn_core_restore *restore);

/* Processes one input; out->n is reset to 0 and then filled. */
CAIRN_MUST_CHECK int cairn_core_step(cairn_core *core, const cairn_input *in, cairn_actions *out);

/* The leader of `round` for a proposal extending the block that qc certifies (NULL: the core's
 * highest QC): round robin when qc->round + 1 < round or reputation is off, else the reputation
 * leader over that block's chain; CAIRN_CONS_NO_LEADER when that chain is not known here. */
uint32_t cairn_core_leader(const cairn_core *core, uint64_t round, const cairn_qc *qc);

/* The block with this id in the tree or the committed root, or NULL. */
const cairn_block *cairn_core_find_block(const cairn_core *core, const uint8_t id[32]);

/* For serving sync: fills out[] with the uncommitted chain from the root's child up to the block
 * of the highest QC (at most max blocks, lowest first) and *tail with that QC. Returns the count
 * (0 if the QC's block or one of its ancestors is missing). */
size_t cairn_core_certified_chain(const cairn_core *core, cairn_block *out, size_t max,
                                  cairn_qc *tail);

/* After CAIRN_ACT_EPOCH_END: fills out[] with the proof that the epoch ended, as the blocks of a
 * sync response: the RECONFIG block (out[0]), its descendants up to the block whose QC committed
 * it (the two-chain), lowest first, and *tail with that QC. Returns the count, 0 if the epoch
 * has not ended or max is too small. A peer still in the epoch that has the RECONFIG block's
 * parent commits it on receipt; a peer further behind needs the older blocks first (the node
 * prepends them from its ledger). */
size_t cairn_core_epoch_proof(const cairn_core *core, cairn_block *out, size_t max, cairn_qc *tail);

#endif
