/*
 * core.c — the consensus state machine: message handlers, pacemaker, block tree and commits.
 *
 * Structure follows DiemBFT v4 (Baudet et al., 2021) section 4, which is the two-chain Jolteon
 * protocol (Gelashvili et al., FC 2022, section 4):
 *   process_proposal_msg  -> on_proposal     (4.1 "Main loop", 4.2 "make_vote")
 *   process_vote_msg      -> on_vote         (4.1, 4.4 "Block-tree" process_vote)
 *   process_timeout_msg   -> on_timeout      (4.3 "Pacemaker" process_remote_timeout)
 *   process_certificates  -> process_qc/tc   (4.1, 4.3 advance_round_qc / advance_round_tc)
 *   local_timeout_round   -> local_timeout   (4.3)
 *   LeaderElection        -> leader_for, reputation_leader (4.6)
 * The safety rules themselves live in safety.c.
 *
 * Test-only compile definitions (never set in a release build) inject known bugs so the
 * simulator can prove it detects them:
 *   CAIRN_CONS_BUG_NO_PERSIST  send votes, timeouts and proposals before their persist completes;
 *   CAIRN_CONS_BUG_ONE_CHAIN   commit a block as soon as it is certified (one-chain rule).
 */
#include "consensus/core.h"

#include <string.h>

#include "consensus/quorum.h"
#include "ledger/bytes.h"
#include "ledger/hash.h"

/* ---- small helpers ---- */

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static uint64_t power_of(const cairn_core *c, uint64_t signers)
{
    uint64_t p = 0;
    for (uint32_t i = 0; i < c->cfg.n_validators; i++)
        if (signers >> i & 1) p += c->cfg.power[i];
    return p;
}

static uint64_t valid_mask(const cairn_core *c)
{
    return c->cfg.n_validators == 64 ? ~0ULL : (1ULL << c->cfg.n_validators) - 1;
}

static int is_zero32(const uint8_t *p)
{
    for (int i = 0; i < 32; i++)
        if (p[i]) return 0;
    return 1;
}

/* Appends an action; when the output is full, the action goes to a scratch slot and the step
 * reports CAIRN_EINTERNAL (the limits in consts.h make this unreachable). */
static cairn_action *emit(cairn_core *c, cairn_actions *out, int type)
{
    cairn_action *a;
    if (out->n < CAIRN_CONS_MAX_ACTIONS) {
        a = &out->a[out->n++];
    } else {
        c->overflow = 1;
        a = &c->scratch;
    }
    memset(a, 0, sizeof *a);
    a->type = type;
    return a;
}

uint64_t cairn_msg_epoch(const cairn_msg *m)
{
    switch (m->type) {
    case CAIRN_MSG_PROPOSAL:
        return m->u.proposal.block.epoch;
    case CAIRN_MSG_VOTE:
        return m->u.vote.epoch;
    case CAIRN_MSG_TIMEOUT:
        return m->u.timeout.epoch;
    default:
        return m->u.sync_request.epoch;
    }
}

/* ---- block ids and genesis ---- */

void cairn_block_compute_id(const cairn_block *b, uint8_t out[32])
{
    /* Canonical encoding (docs/consensus.md): epoch, round, height (u64 BE), proposer, flags
     * (u32 BE), parent id, payload digest, then the QC's epoch, round, height, block id and
     * signer bitmap (u64 BE). */
    uint8_t buf[3 * 8 + 2 * 4 + 32 + 32 + 3 * 8 + 32 + 8];
    uint8_t *p = buf;
    cairn_put_u64be(p, b->epoch), p += 8;
    cairn_put_u64be(p, b->round), p += 8;
    cairn_put_u64be(p, b->height), p += 8;
    cairn_put_u32be(p, b->proposer), p += 4;
    cairn_put_u32be(p, b->flags), p += 4;
    memcpy(p, b->parent_id, 32), p += 32;
    memcpy(p, b->payload, 32), p += 32;
    cairn_put_u64be(p, b->qc.epoch), p += 8;
    cairn_put_u64be(p, b->qc.round), p += 8;
    cairn_put_u64be(p, b->qc.height), p += 8;
    memcpy(p, b->qc.block_id, 32), p += 32;
    cairn_put_u64be(p, b->qc.signers), p += 8;
    cairn_sha256_tagged(out, "cairn.block.v1", buf, (size_t)(p - buf));
}

void cairn_core_genesis(uint64_t epoch, const uint8_t genesis_seed[32], cairn_block *block,
                        cairn_qc *qc)
{
    memset(block, 0, sizeof *block);
    memset(qc, 0, sizeof *qc);
    block->epoch = epoch;
    memcpy(block->payload, genesis_seed, 32);
    block->qc.epoch = epoch;
    cairn_block_compute_id(block, block->id);
    qc->epoch = epoch;
    memcpy(qc->block_id, block->id, 32);
}

/* ---- block tree ---- */

static cairn_tree_entry *tree_find(cairn_core *c, const uint8_t id[32])
{
    for (size_t i = 0; i < CAIRN_CONS_MAX_TREE_BLOCKS; i++)
        if (c->tree[i].used && memcmp(c->tree[i].b.id, id, 32) == 0) return &c->tree[i];
    return NULL;
}

const cairn_block *cairn_core_find_block(const cairn_core *core, const uint8_t id[32])
{
    if (memcmp(core->root.id, id, 32) == 0) return &core->root;
    cairn_tree_entry *e = tree_find((cairn_core *)core, id);
    return e ? &e->b : NULL;
}

/* Is `id` the root or an ancestor-or-self (within the tree) of block b? */
static int descends_from(const cairn_core *c, const cairn_block *b, const uint8_t id[32])
{
    for (size_t steps = 0; b && steps <= CAIRN_CONS_MAX_TREE_BLOCKS; steps++) {
        if (memcmp(b->id, id, 32) == 0) return 1;
        if (b == &c->root) return 0;
        b = cairn_core_find_block(c, b->parent_id);
    }
    return 0;
}

/* Drops blocks that can no longer commit: at or below the root's height, or not descending
 * from the root. */
static void tree_prune(cairn_core *c)
{
    for (size_t i = 0; i < CAIRN_CONS_MAX_TREE_BLOCKS; i++) {
        cairn_tree_entry *e = &c->tree[i];
        if (!e->used) continue;
        if (e->b.height <= c->root.height || !descends_from(c, &e->b, c->root.id)) e->used = 0;
    }
}

static int tree_insert(cairn_core *c, const cairn_block *b, cairn_tree_entry **out)
{
    cairn_tree_entry *free_e = NULL, *victim = NULL;
    const cairn_block *hq = cairn_core_find_block(c, c->safety.high_qc.block_id);
    for (size_t i = 0; i < CAIRN_CONS_MAX_TREE_BLOCKS; i++) {
        cairn_tree_entry *e = &c->tree[i];
        if (!e->used) {
            if (!free_e) free_e = e;
            continue;
        }
        /* Eviction candidate: the lowest round not on the path to the highest QC. Evicting
         * costs only a later sync, never safety (safety is decided on rounds alone). */
        if (hq && descends_from(c, hq, e->b.id)) continue;
        if (!victim || e->b.round < victim->b.round) victim = e;
    }
    cairn_tree_entry *e = free_e ? free_e : victim;
    if (!e) return CAIRN_ECONS_FULL;
    memset(e, 0, sizeof *e);
    e->b = *b;
    e->used = 1;
    e->payload_ready = c->cfg.payload_ready_by_default;
    *out = e;
    return 0;
}

/* Inserts a block received from the network and hands it to the node for durable storage. */
static int tree_accept(cairn_core *c, const cairn_block *b, cairn_tree_entry **e,
                       cairn_actions *out)
{
    int err = tree_insert(c, b, e);
    if (err) return err;
    cairn_action *a = emit(c, out, CAIRN_ACT_STORE_BLOCK);
    a->u.commit.block = *b;
    return 0;
}

/* A block whose uncommitted ancestry contains a RECONFIG block belongs to the epoch's suffix:
 * it must carry no payload. */
static int in_reconfig_suffix(const cairn_core *c, const cairn_block *parent)
{
    for (size_t steps = 0; parent && steps <= CAIRN_CONS_MAX_TREE_BLOCKS; steps++) {
        if (parent->flags & CAIRN_BLOCK_F_RECONFIG) return 1;
        if (parent == &c->root) return 0;
        parent = cairn_core_find_block(c, parent->parent_id);
    }
    return 0;
}

size_t cairn_core_certified_chain(const cairn_core *core, cairn_block *out, size_t max,
                                  cairn_qc *tail)
{
    /* path[] is collected highest first. */
    const cairn_block *path[CAIRN_CONS_MAX_TREE_BLOCKS];
    size_t n = 0;
    const cairn_block *b = cairn_core_find_block(core, core->safety.high_qc.block_id);
    while (b && b != &core->root && n < CAIRN_CONS_MAX_TREE_BLOCKS) {
        path[n++] = b;
        b = cairn_core_find_block(core, b->parent_id);
    }
    if (b != &core->root || n == 0 || max == 0) return 0;
    *tail = core->safety.high_qc;
    if (n > max) *tail = path[n - max - 1]->qc; /* the QC on the last returned block */
    size_t k = n < max ? n : max;
    for (size_t i = 0; i < k; i++) out[i] = *path[n - 1 - i];
    return k;
}

size_t cairn_core_epoch_proof(const cairn_core *core, cairn_block *out, size_t max, cairn_qc *tail)
{
    if (!core->ended) return 0;
    const cairn_block *path[CAIRN_CONS_MAX_TREE_BLOCKS];
    size_t n = 0;
    const cairn_block *b = cairn_core_find_block(core, core->end_tip_id);
    while (b && b != &core->root && n < CAIRN_CONS_MAX_TREE_BLOCKS) {
        path[n++] = b;
        b = cairn_core_find_block(core, b->parent_id);
    }
    if (b != &core->root || n + 1 > max) return 0;
    out[0] = core->root; /* the RECONFIG block: the last block of the epoch */
    for (size_t i = 0; i < n; i++) out[1 + i] = *path[n - 1 - i];
    *tail = core->end_tip_qc;
    return n + 1;
}

/* ---- certificates ---- */

static int qc_is_root(const cairn_core *c, const cairn_qc *qc)
{
    return memcmp(qc, &c->root_qc, sizeof *qc) == 0;
}

static int check_qc(const cairn_core *c, const cairn_qc *qc)
{
    if (qc->epoch != c->cfg.epoch) return CAIRN_ECONS_EPOCH;
    if (qc->round == 0) {
        /* The genesis QC: accepted by definition, signed by no one. */
        if (qc->height != 0 || qc->signers != 0 || memcmp(qc->block_id, c->cfg.genesis_id, 32))
            return CAIRN_ECONS_CERT;
        return 0;
    }
    if (qc->signers & ~valid_mask(c)) return CAIRN_ECONS_CERT;
    if (qc->height == 0) return CAIRN_ECONS_CERT;
    if (power_of(c, qc->signers) < c->quorum_power) return CAIRN_ECONS_CERT;
    return 0;
}

static int check_tc(const cairn_core *c, const cairn_tc *tc)
{
    if (tc->epoch != c->cfg.epoch) return CAIRN_ECONS_EPOCH;
    if (tc->signers & ~valid_mask(c)) return CAIRN_ECONS_CERT;
    if (power_of(c, tc->signers) < c->quorum_power) return CAIRN_ECONS_CERT;
    for (uint32_t i = 0; i < c->cfg.n_validators; i++)
        if ((tc->signers >> i & 1) && tc->hqc_rounds[i] >= tc->round) return CAIRN_ECONS_CERT;
    return 0;
}

static int check_block(const cairn_core *c, const cairn_block *b)
{
    if (b->epoch != c->cfg.epoch) return CAIRN_ECONS_EPOCH;
    if (b->proposer >= c->cfg.n_validators) return CAIRN_ECONS_MALFORMED;
    if (b->flags & ~CAIRN_BLOCK_F_RECONFIG) return CAIRN_ECONS_MALFORMED;
    int err = check_qc(c, &b->qc);
    if (err) return err;
    if (memcmp(b->qc.block_id, b->parent_id, 32) != 0) return CAIRN_ECONS_MALFORMED;
    if (b->height != b->qc.height + 1 || b->round <= b->qc.round) return CAIRN_ECONS_MALFORMED;
    uint8_t id[32];
    cairn_block_compute_id(b, id);
    if (memcmp(id, b->id, 32) != 0) return CAIRN_ECONS_BLOCK_ID;
    return 0;
}

/* ---- leader election (DiemBFT v4 section 4.6, evaluated on the proposal's chain) ---- */

/* Chain summary step for the reputation window: the block itself (tree or root) or a committed
 * block remembered in the history ring. */
typedef struct chain_item {
    uint8_t parent_id[32];
    uint32_t proposer;
    uint64_t qc_signers;
    uint64_t height;
    uint64_t round;
    uint64_t qc_round;
} chain_item;

static int chain_lookup(const cairn_core *c, const uint8_t id[32], chain_item *it)
{
    const cairn_block *b = cairn_core_find_block(c, id);
    if (b) {
        memcpy(it->parent_id, b->parent_id, 32);
        it->proposer = b->proposer;
        it->qc_signers = b->qc.signers;
        it->height = b->height;
        it->round = b->round;
        it->qc_round = b->qc.round;
        return 1;
    }
    for (size_t i = 0; i < c->hist_len; i++) {
        const cairn_hist_entry *h = &c->hist[i];
        if (memcmp(h->id, id, 32) == 0) {
            memcpy(it->parent_id, h->parent_id, 32);
            it->proposer = h->proposer;
            it->qc_signers = h->qc_signers;
            it->height = h->height;
            it->round = h->round;
            it->qc_round = h->qc_round;
            return 1;
        }
    }
    if (memcmp(id, c->cfg.genesis_id, 32) == 0) { /* known to all: no parent, signers, proposer */
        memset(it, 0, sizeof *it);
        return 1;
    }
    return 0;
}

/* The leader of `round` for a block that extends X, the block certified by qc.
 *   - Round robin without leader reputation, or unless the chain is going well: qc is of the
 *     previous round (round - 1), and X and its parent each carry the QC of the round just
 *     before their own: three consecutive certified rounds (DiemBFT v4 4.6 asks for two; the
 *     third keeps a validator that votes but never proposes from taking every reputation round
 *     right after the round-robin rounds that follow a timeout, which would stop all commits).
 *   - Otherwise the reputation leader: the validators that signed X's QC, minus the proposers of
 *     the last EXCLUDE blocks of X's chain (X included), picked in index order by round.
 * A validator that stops voting (crashed, cut off, or too slow to be among the first quorum of
 * votes) gets no more rounds as soon as a QC without it is formed; after a timeout, round robin
 * gives every validator its turn again, and three consecutive live round-robin leaders are
 * enough to commit and get back to a chain that goes well.
 * A pure function of the chain the proposal itself names, so every node that holds that chain
 * agrees on it, however and whenever it entered the round; a node that lacks part of it gets
 * CAIRN_CONS_NO_LEADER and neither proposes nor accepts a proposal for the round until it has
 * the blocks. */
static uint32_t leader_for(const cairn_core *c, uint64_t round, const cairn_qc *qc)
{
    uint32_t rr = (uint32_t)(round % c->cfg.n_validators);
    if (!c->cfg.leader_reputation || qc->round + 1 != round) return rr;
    chain_item it, parent;
    if (!chain_lookup(c, qc->block_id, &it)) return CAIRN_CONS_NO_LEADER;
    if (it.height == 0 || it.qc_round + 1 != it.round) return rr; /* genesis, or after a TC */
    if (!chain_lookup(c, it.parent_id, &parent)) return CAIRN_CONS_NO_LEADER;
    if (parent.height == 0 || parent.qc_round + 1 != parent.round) return rr;
    uint64_t signers = it.qc_signers & valid_mask(c), excluded = 0;
    const uint8_t *id = qc->block_id;
    uint8_t cur[32];
    for (int k = 0; k < CAIRN_CONS_REPUTATION_EXCLUDE_BLOCKS; k++) {
        if (!chain_lookup(c, id, &it)) return CAIRN_CONS_NO_LEADER;
        excluded |= 1ULL << it.proposer;
        if (it.height == 0) break;
        memcpy(cur, it.parent_id, 32);
        id = cur;
    }
    uint64_t pick = signers & ~excluded;
    if (pick == 0) pick = signers;
    if (pick == 0) return rr;
    unsigned k = (unsigned)(round % (unsigned)__builtin_popcountll(pick));
    for (uint32_t i = 0; i < 64; i++)
        if ((pick >> i & 1) && k-- == 0) return i;
    return CAIRN_CONS_NO_LEADER; /* unreachable: k < popcount(pick) */
}

uint32_t cairn_core_leader(const cairn_core *core, uint64_t round, const cairn_qc *qc)
{
    return leader_for(core, round, qc ? qc : &core->safety.high_qc);
}

/* ---- persist-before-send ---- */

static void persist(cairn_core *c, cairn_actions *out, uint64_t *token)
{
    *token = ++c->next_token;
    cairn_action *a = emit(c, out, CAIRN_ACT_PERSIST);
    a->u.persist.token = *token;
    a->u.persist.data = c->safety;
}

static void handle_self(cairn_core *c, const cairn_msg *m, cairn_actions *out);

/* Queues msg to go out after persist `token` completes (to == UINT32_MAX: broadcast). */
static void send_after_persist(cairn_core *c, cairn_actions *out, uint64_t token, uint32_t to,
                               const cairn_msg *msg)
{
#ifdef CAIRN_CONS_BUG_NO_PERSIST
    (void)token;
    if (to == c->cfg.self) {
        handle_self(c, msg, out);
        return;
    }
    cairn_action *a = emit(c, out, to == UINT32_MAX ? CAIRN_ACT_BROADCAST : CAIRN_ACT_SEND);
    a->to = to;
    a->u.msg = *msg;
    if (to == UINT32_MAX) handle_self(c, msg, out);
    return;
#else
    (void)out;
    if (c->n_pending == CAIRN_CONS_MAX_PENDING_SENDS) {
        /* Drop the oldest: a newer vote or timeout supersedes it for liveness. */
        memmove(&c->pending[0], &c->pending[1], sizeof c->pending[0] * (c->n_pending - 1));
        c->n_pending--;
    }
    cairn_pending_send *p = &c->pending[c->n_pending++];
    p->token = token;
    p->to = to;
    p->msg = *msg;
#endif
}

static void release_pending(cairn_core *c, uint64_t token, cairn_actions *out)
{
    cairn_pending_send ready[CAIRN_CONS_MAX_PENDING_SENDS];
    size_t nr = 0, keep = 0;
    for (size_t i = 0; i < c->n_pending; i++) {
        if (c->pending[i].token <= token)
            ready[nr++] = c->pending[i];
        else
            c->pending[keep++] = c->pending[i];
    }
    c->n_pending = keep;
    if (token > c->durable_token) c->durable_token = token;
    for (size_t i = 0; i < nr; i++) {
        if (ready[i].to != c->cfg.self) {
            cairn_action *a =
                emit(c, out, ready[i].to == UINT32_MAX ? CAIRN_ACT_BROADCAST : CAIRN_ACT_SEND);
            a->to = ready[i].to == UINT32_MAX ? 0 : ready[i].to;
            a->u.msg = ready[i].msg;
        }
        if (ready[i].to == c->cfg.self || ready[i].to == UINT32_MAX)
            handle_self(c, &ready[i].msg, out);
    }
}

/* ---- pacemaker (DiemBFT v4 section 4.3; Jolteon section 4) ---- */

static uint64_t round_timeout_ms(uint64_t consecutive_timeouts)
{
    uint64_t d = consecutive_timeouts < CAIRN_CONS_BACKOFF_MAX_DOUBLINGS
                     ? consecutive_timeouts
                     : CAIRN_CONS_BACKOFF_MAX_DOUBLINGS;
    uint64_t t = (uint64_t)CAIRN_CONS_ROUND_TIMEOUT_BASE_MS << d;
    return t < CAIRN_CONS_ROUND_TIMEOUT_MAX_MS ? t : CAIRN_CONS_ROUND_TIMEOUT_MAX_MS;
}

static void set_timer(cairn_core *c, cairn_actions *out, uint64_t deadline)
{
    c->round_deadline_ms = deadline;
    cairn_action *a = emit(c, out, CAIRN_ACT_SET_TIMER);
    a->u.deadline_ms = deadline;
}

/* A leader asks the node for its payload once per round, as soon as it knows it leads: on
 * entering the round, or later when the block of its highest QC arrives (the votes that formed
 * the QC can overtake the proposal they vote for). */
static void maybe_ask_payload(cairn_core *c, cairn_actions *out)
{
    if (c->payload_asked || c->proposed || c->timed_out ||
        !cairn_core_find_block(c, c->safety.high_qc.block_id) ||
        leader_for(c, c->round, &c->safety.high_qc) != c->cfg.self)
        return;
    c->payload_asked = 1;
    cairn_action *a = emit(c, out, CAIRN_ACT_NEED_PAYLOAD);
    a->u.round = c->round;
}

static void enter_round(cairn_core *c, uint64_t round, cairn_actions *out)
{
    c->round = round;
    c->timed_out = 0;
    c->timeout_sent = 0;
    c->proposed = 0;
    c->vote_wait = 0;
    c->has_last_tc = c->has_last_tc && c->last_tc.round + 1 == round;
    set_timer(c, out, c->now_ms + round_timeout_ms(c->consecutive_timeouts));
    /* Votes of round - 1 are still useful to the leader of round; older slots are dropped. */
    for (size_t i = 0; i < CAIRN_CONS_MAX_VOTE_SLOTS; i++)
        if (c->votes[i].used && c->votes[i].round + 1 < round) c->votes[i].used = 0;
    for (size_t i = 0; i < CAIRN_CONS_MAX_TIMEOUT_SLOTS; i++)
        if (c->timeouts[i].used && c->timeouts[i].round < round) c->timeouts[i].used = 0;
    c->payload_asked = 0;
    maybe_ask_payload(c, out);
}

static void request_sync(cairn_core *c, uint32_t from, cairn_actions *out)
{
    if (from == c->cfg.self || from >= c->cfg.n_validators) return;
    uint64_t h = c->root.height + 1;
    if (h <= c->sync_requested_height &&
        c->now_ms < c->sync_requested_at_ms + CAIRN_CONS_SYNC_RETRY_MS)
        return;
    c->sync_requested_height = h;
    c->sync_requested_at_ms = c->now_ms;
    cairn_action *a = emit(c, out, CAIRN_ACT_SYNC_REQUEST);
    a->to = from;
    a->u.msg.type = CAIRN_MSG_SYNC_REQUEST;
    a->u.msg.sender = c->cfg.self;
    a->u.msg.u.sync_request.epoch = c->cfg.epoch;
    a->u.msg.u.sync_request.from_height = h;
}

/* Commits b and its uncommitted ancestors, oldest first. */
static void commit_chain(cairn_core *c, const cairn_block *b, const cairn_qc *top_qc,
                         cairn_actions *out)
{
    if (b->height <= c->root.height) return;
    cairn_block chain[CAIRN_CONS_MAX_TREE_BLOCKS];
    size_t n = 0;
    const cairn_block *x = b;
    while (x != &c->root) {
        if (!x || n == CAIRN_CONS_MAX_TREE_BLOCKS) return; /* gap: wait for sync */
        chain[n++] = *x;
        x = cairn_core_find_block(c, x->parent_id);
    }
    for (size_t i = n; i-- > 0;) {
        const cairn_block *cb = &chain[i];
        cairn_action *a = emit(c, out, CAIRN_ACT_COMMIT);
        a->u.commit.block = *cb;
        /* The QC on a committed block is carried by its child, or is top_qc for b itself. */
        a->u.commit.qc = i > 0 ? chain[i - 1].qc : *top_qc;
        c->root_qc = a->u.commit.qc;
        cairn_hist_entry *h = &c->hist[c->hist_head];
        memcpy(h->id, cb->id, 32);
        memcpy(h->parent_id, cb->parent_id, 32);
        h->proposer = cb->proposer;
        h->qc_signers = cb->qc.signers;
        h->height = cb->height;
        h->round = cb->round;
        h->qc_round = cb->qc.round;
        c->hist_head = (c->hist_head + 1) % CAIRN_CONS_HISTORY_BLOCKS;
        if (c->hist_len < CAIRN_CONS_HISTORY_BLOCKS) c->hist_len++;
        c->root = *cb;
        if (cb->flags & CAIRN_BLOCK_F_RECONFIG) {
            cairn_action *e = emit(c, out, CAIRN_ACT_EPOCH_END);
            e->u.commit = a->u.commit;
            c->ended = 1;
            break;
        }
    }
    tree_prune(c);
}

static void process_qc(cairn_core *c, const cairn_qc *qc, uint32_t from, cairn_actions *out)
{
    if (qc->round > c->safety.high_qc.round) {
        c->safety.high_qc = *qc;
        c->high_qc_from = from;
    }
    cairn_tree_entry *e = tree_find(c, qc->block_id);
    if (e) {
        const cairn_block *parent = cairn_core_find_block(c, e->b.parent_id);
        if (parent && cairn_safety_commits_parent(e->b.round, parent->round)) {
            /* Two-chain commit rule (safety.h): the certified block and its parent in
             * consecutive rounds commit the parent. */
            if (!c->ended) commit_chain(c, parent, &e->b.qc, out);
            if (c->ended) {
                /* Keep what proves the epoch's end: this block and the QC on it. */
                memcpy(c->end_tip_id, e->b.id, 32);
                c->end_tip_qc = *qc;
            }
        }
#ifdef CAIRN_CONS_BUG_ONE_CHAIN
        if (!c->ended) commit_chain(c, &e->b, qc, out); /* injected bug: one-chain commit */
#endif
    } else if (qc->height > c->root.height && !qc_is_root(c, qc)) {
        request_sync(c, from, out);
    }
    if (c->ended) return;
    /* advance_round_qc */
    if (qc->round + 1 > c->round) {
        c->consecutive_timeouts = 0;
        c->stat_qc_rounds++;
        enter_round(c, qc->round + 1, out);
    }
}

static void process_tc(cairn_core *c, const cairn_tc *tc, cairn_actions *out)
{
    /* advance_round_tc */
    if (!c->safety.has_high_tc || tc->round > c->safety.high_tc.round) {
        c->safety.high_tc = *tc;
        c->safety.has_high_tc = 1;
    }
    if (tc->round + 1 > c->round) {
        c->last_tc = *tc;
        c->has_last_tc = 1;
        c->consecutive_timeouts++;
        c->stat_tc_rounds++;
        enter_round(c, tc->round + 1, out);
    }
}

/* ---- voting ---- */

static void try_vote(cairn_core *c, const cairn_block *b, const cairn_tc *tc, cairn_actions *out)
{
    if (b->round != c->round || c->timed_out) return;
    if (!cairn_safety_may_vote(&c->safety, b->round, b->qc.round, tc)) return;
    cairn_safety_record_vote(&c->safety, b->round, b->qc.round, b->id, b->height);
    uint64_t token;
    persist(c, out, &token);
    cairn_msg m;
    memset(&m, 0, sizeof m);
    m.type = CAIRN_MSG_VOTE;
    m.sender = c->cfg.self;
    m.u.vote.epoch = c->cfg.epoch;
    m.u.vote.round = b->round;
    m.u.vote.height = b->height;
    memcpy(m.u.vote.block_id, b->id, 32);
    /* Votes go to the next leader (Jolteon section 4, linear steady state). */
    cairn_qc next = {.epoch = b->epoch, .round = b->round, .height = b->height};
    memcpy(next.block_id, b->id, 32);
    uint32_t to = leader_for(c, b->round + 1, &next); /* b is in the tree: known */
    send_after_persist(c, out, token, to == CAIRN_CONS_NO_LEADER ? UINT32_MAX : to, &m);
}

static int on_proposal(cairn_core *c, const cairn_msg *m, cairn_actions *out)
{
    const cairn_proposal *p = &m->u.proposal;
    const cairn_block *b = &p->block;
    int err = check_block(c, b);
    if (err) return err;
    if (b->proposer != m->sender) return CAIRN_ECONS_MALFORMED;
    if (p->has_tc) {
        if ((err = check_tc(c, &p->tc))) return err;
        if (p->tc.round + 1 != b->round) return CAIRN_ECONS_MALFORMED;
    }
    if (b->round > c->round + CAIRN_CONS_MAX_ROUND_AHEAD) return CAIRN_ECONS_STALE;

    /* Equivocation: a second, different proposal by the same proposer for one round. */
    if (c->last_proposal.valid && c->last_proposal.round == b->round &&
        c->last_proposal.block.proposer == b->proposer &&
        memcmp(c->last_proposal.block.id, b->id, 32) != 0) {
        cairn_action *a = emit(c, out, CAIRN_ACT_EVIDENCE);
        a->u.evidence.kind = CAIRN_MSG_PROPOSAL;
        a->u.evidence.offender = b->proposer;
        a->u.evidence.epoch = b->epoch;
        a->u.evidence.round = b->round;
        a->u.evidence.blocks[0] = c->last_proposal.block;
        a->u.evidence.blocks[1] = *b;
        return CAIRN_ECONS_EQUIVOCATION;
    }

    /* process_certificates (DiemBFT v4 4.1). */
    process_qc(c, &b->qc, m->sender, out);
    if (c->ended) return 0;
    if (p->has_tc) process_tc(c, &p->tc, out);

    uint32_t leader = leader_for(c, b->round, &b->qc);
    if (leader == CAIRN_CONS_NO_LEADER) {
        if (!cairn_core_find_block(c, b->parent_id))
            request_sync(c, m->sender == c->cfg.self ? c->high_qc_from : m->sender, out);
        return CAIRN_ECONS_UNKNOWN_PARENT;
    }
    if (b->proposer != leader) return CAIRN_ECONS_NOT_LEADER;
    if (!c->last_proposal.valid || b->round >= c->last_proposal.round) {
        c->last_proposal.valid = 1;
        c->last_proposal.round = b->round;
        c->last_proposal.block = *b;
    }
    if (b->height <= c->root.height) return CAIRN_ECONS_STALE;
    /* After its certificates, an honest proposal is for the current round: a later round is not
     * justified by them, an earlier one can no longer be voted on (should its block be certified
     * after all, sync fetches it). Neither is stored, so a Byzantine leader cannot fill the
     * tree with blocks for rounds it leads. */
    if (b->round > c->round) return CAIRN_ECONS_MALFORMED;
    if (b->round < c->round) {
        /* Too late to vote on; but if our highest QC certifies it (its votes overtook it), the
         * next proposal extends it: keep it, and lead the round if it makes us the leader. */
        if (memcmp(b->id, c->safety.high_qc.block_id, 32) != 0 || tree_find(c, b->id))
            return CAIRN_ECONS_STALE;
        const cairn_block *parent = cairn_core_find_block(c, b->parent_id);
        if (!parent || parent->height + 1 != b->height || parent->round >= b->round)
            return CAIRN_ECONS_STALE;
        if (in_reconfig_suffix(c, parent) && (!is_zero32(b->payload) || b->flags))
            return CAIRN_ECONS_MALFORMED;
        cairn_tree_entry *e;
        if ((err = tree_accept(c, b, &e, out))) return err;
        maybe_ask_payload(c, out);
        return 0;
    }

    cairn_tree_entry *e = tree_find(c, b->id);
    if (!e) {
        const cairn_block *parent = cairn_core_find_block(c, b->parent_id);
        if (!parent) {
            request_sync(c, m->sender == c->cfg.self ? c->high_qc_from : m->sender, out);
            return CAIRN_ECONS_UNKNOWN_PARENT;
        }
        if (parent->height + 1 != b->height || parent->round >= b->round)
            return CAIRN_ECONS_MALFORMED;
        if (in_reconfig_suffix(c, parent) && (!is_zero32(b->payload) || b->flags))
            return CAIRN_ECONS_MALFORMED;
        if ((err = tree_accept(c, b, &e, out))) return err;
    }
    if (c->proposed && b->proposer == c->cfg.self) e->payload_ready = 1; /* our own payload */
    if (e->payload_ready) {
        try_vote(c, &e->b, p->has_tc ? &p->tc : NULL, out);
    } else {
        c->vote_wait = 1;
        memcpy(c->vote_wait_id, b->id, 32);
        c->has_tc_for_vote_wait = p->has_tc;
        if (p->has_tc) c->vote_wait_tc = p->tc;
        cairn_action *a = emit(c, out, CAIRN_ACT_FETCH_PAYLOAD);
        a->u.commit.block = *b;
    }
    return 0;
}

static int on_payload_ready(cairn_core *c, const uint8_t id[32], cairn_actions *out)
{
    cairn_tree_entry *e = tree_find(c, id);
    if (!e) return CAIRN_ENOENT;
    e->payload_ready = 1;
    if (c->vote_wait && memcmp(c->vote_wait_id, id, 32) == 0) {
        c->vote_wait = 0;
        try_vote(c, &e->b, c->has_tc_for_vote_wait ? &c->vote_wait_tc : NULL, out);
    }
    return 0;
}

/* The leader builds its proposal once the node supplies the payload (DiemBFT v4 4.1
 * process_new_round_event): it extends the highest QC, carrying the TC if the round was
 * entered by timeout. */
static int on_payload(cairn_core *c, const cairn_input *in, cairn_actions *out)
{
    if (in->u.payload.round != c->round || c->proposed || c->timed_out ||
        leader_for(c, c->round, &c->safety.high_qc) != c->cfg.self ||
        c->safety.highest_vote_round >= c->round)
        return CAIRN_ECONS_STALE;
    cairn_msg m;
    memset(&m, 0, sizeof m);
    m.type = CAIRN_MSG_PROPOSAL;
    m.sender = c->cfg.self;
    cairn_proposal *p = &m.u.proposal;
    cairn_block *b = &p->block;
    b->epoch = c->cfg.epoch;
    b->round = c->round;
    b->height = c->safety.high_qc.height + 1;
    b->proposer = c->cfg.self;
    b->qc = c->safety.high_qc;
    memcpy(b->parent_id, b->qc.block_id, 32);
    const cairn_block *parent = cairn_core_find_block(c, b->parent_id);
    if (!(parent && in_reconfig_suffix(c, parent))) {
        memcpy(b->payload, in->u.payload.digest, 32);
        b->flags = in->u.payload.flags & CAIRN_BLOCK_F_RECONFIG;
    }
    cairn_block_compute_id(b, b->id);
    if (c->has_last_tc && c->last_tc.round + 1 == c->round && b->qc.round + 1 != c->round) {
        p->has_tc = 1;
        p->tc = c->last_tc;
    }
    c->proposed = 1;
    /* The leader votes for its own block first; the proposal leaves together with that vote,
     * after its persist, so a leader that crashes and restarts can never propose a second,
     * different block for the round (it would be reported as equivocation). */
    int err = on_proposal(c, &m, out);
    if (err) return err;
    if (c->safety.last_vote_round == b->round && memcmp(c->safety.last_vote_block, b->id, 32) == 0)
        send_after_persist(c, out, c->next_token, UINT32_MAX, &m);
    return 0;
}

static int on_vote(cairn_core *c, const cairn_msg *m, cairn_actions *out)
{
    const cairn_vote *v = &m->u.vote;
    uint32_t s = m->sender;
    if (v->epoch != c->cfg.epoch) return CAIRN_ECONS_EPOCH;
    if (v->round == 0 || v->height == 0) return CAIRN_ECONS_MALFORMED;
    /* Equivocation: two different votes from one validator for one round. */
    if (c->last_vote_from[s].valid && c->last_vote_from[s].round == v->round) {
        if (memcmp(&c->last_vote_from[s].vote, v, sizeof *v) != 0) {
            cairn_action *a = emit(c, out, CAIRN_ACT_EVIDENCE);
            a->u.evidence.kind = CAIRN_MSG_VOTE;
            a->u.evidence.offender = s;
            a->u.evidence.epoch = v->epoch;
            a->u.evidence.round = v->round;
            a->u.evidence.votes[0] = c->last_vote_from[s].vote;
            a->u.evidence.votes[1] = *v;
            return CAIRN_ECONS_EQUIVOCATION;
        }
    } else if (!c->last_vote_from[s].valid || v->round > c->last_vote_from[s].round) {
        c->last_vote_from[s].valid = 1;
        c->last_vote_from[s].round = v->round;
        c->last_vote_from[s].vote = *v;
    }
    if (v->round + 1 < c->round || v->round <= c->safety.high_qc.round) return CAIRN_ECONS_STALE;

    /* Aggregate (DiemBFT v4 4.4 process_vote). */
    cairn_vote_slot *slot = NULL, *free_s = NULL, *oldest = NULL;
    for (size_t i = 0; i < CAIRN_CONS_MAX_VOTE_SLOTS; i++) {
        cairn_vote_slot *x = &c->votes[i];
        if (!x->used) {
            if (!free_s) free_s = x;
            continue;
        }
        if (x->round == v->round && x->height == v->height &&
            memcmp(x->block_id, v->block_id, 32) == 0) {
            slot = x;
            break;
        }
        if (!oldest || x->round < oldest->round) oldest = x;
    }
    if (!slot) {
        slot = free_s ? free_s : oldest;
        memset(slot, 0, sizeof *slot);
        slot->used = 1;
        slot->round = v->round;
        slot->height = v->height;
        memcpy(slot->block_id, v->block_id, 32);
    }
    if (slot->signers >> s & 1) return 0;
    slot->signers |= 1ULL << s;
    slot->power += c->cfg.power[s];
    if (slot->power >= c->quorum_power) {
        cairn_qc qc;
        memset(&qc, 0, sizeof qc);
        qc.epoch = c->cfg.epoch;
        qc.round = slot->round;
        qc.height = slot->height;
        memcpy(qc.block_id, slot->block_id, 32);
        qc.signers = slot->signers;
        slot->used = 0;
        process_qc(c, &qc, s, out);
    }
    return 0;
}

static void make_timeout_msg(const cairn_core *c, cairn_msg *m)
{
    memset(m, 0, sizeof *m);
    m->type = CAIRN_MSG_TIMEOUT;
    m->sender = c->cfg.self;
    m->u.timeout.epoch = c->cfg.epoch;
    m->u.timeout.round = c->round;
    m->u.timeout.high_qc = c->safety.high_qc;
    if (c->has_last_tc && c->last_tc.round + 1 == c->round) {
        m->u.timeout.has_tc = 1;
        m->u.timeout.last_tc = c->last_tc;
    }
}

/* local_timeout_round (DiemBFT v4 4.3): stop voting in the round and broadcast a timeout that
 * carries the highest QC, if the timeout rule allows it. */
static void local_timeout(cairn_core *c, cairn_actions *out)
{
    c->timed_out = 1;
    c->vote_wait = 0;
    const cairn_tc *tc = c->has_last_tc && c->last_tc.round + 1 == c->round ? &c->last_tc : NULL;
    if (cairn_safety_may_timeout(&c->safety, c->round, c->safety.high_qc.round, tc)) {
        cairn_safety_record_timeout(&c->safety, c->round);
        uint64_t token;
        persist(c, out, &token);
        cairn_msg m;
        make_timeout_msg(c, &m);
        c->timeout_sent = 1;
        c->timeout_token = token;
        send_after_persist(c, out, token, UINT32_MAX, &m);
    }
    set_timer(c, out, c->now_ms + CAIRN_CONS_TIMEOUT_RESEND_MS);
}

static int on_timeout(cairn_core *c, const cairn_msg *m, cairn_actions *out)
{
    const cairn_timeout *t = &m->u.timeout;
    uint32_t s = m->sender;
    if (t->epoch != c->cfg.epoch) return CAIRN_ECONS_EPOCH;
    int err = check_qc(c, &t->high_qc);
    if (err) return err;
    if (t->high_qc.round >= t->round) return CAIRN_ECONS_MALFORMED;
    if (t->has_tc) {
        if ((err = check_tc(c, &t->last_tc))) return err;
        if (t->last_tc.round >= t->round) return CAIRN_ECONS_MALFORMED;
    }
    /* process_certificates */
    process_qc(c, &t->high_qc, s, out);
    if (c->ended) return 0;
    if (t->has_tc) process_tc(c, &t->last_tc, out);
    if (t->round < c->round) return CAIRN_ECONS_STALE;

    cairn_timeout_slot *slot = NULL, *free_s = NULL, *oldest = NULL;
    for (size_t i = 0; i < CAIRN_CONS_MAX_TIMEOUT_SLOTS; i++) {
        cairn_timeout_slot *x = &c->timeouts[i];
        if (!x->used) {
            if (!free_s) free_s = x;
            continue;
        }
        if (x->round == t->round) {
            slot = x;
            break;
        }
        if (!oldest || x->round > oldest->round) oldest = x; /* evict the furthest round */
    }
    if (!slot) {
        slot = free_s ? free_s : oldest;
        memset(slot, 0, sizeof *slot);
        slot->used = 1;
        slot->round = t->round;
    }
    if (slot->signers >> s & 1) return 0;
    slot->signers |= 1ULL << s;
    slot->power += c->cfg.power[s];
    slot->hqc_rounds[s] = t->high_qc.round;
    /* Bracha-style join (DiemBFT v4 4.3 process_remote_timeout): f + 1 timeouts for the current
     * round mean at least one honest node gave up on it. */
    if (t->round == c->round && !c->timed_out && slot->power >= c->validity_power)
        local_timeout(c, out);
    if (slot->power >= c->quorum_power) {
        cairn_tc tc;
        memset(&tc, 0, sizeof tc);
        tc.epoch = c->cfg.epoch;
        tc.round = slot->round;
        tc.signers = slot->signers;
        memcpy(tc.hqc_rounds, slot->hqc_rounds, sizeof tc.hqc_rounds);
        process_tc(c, &tc, out);
    }
    return 0;
}

static void on_tick(cairn_core *c, cairn_actions *out)
{
    if (c->now_ms < c->round_deadline_ms) return;
    if (!c->timed_out) {
        local_timeout(c, out);
        return;
    }
    /* Still stuck: re-send the durable timeout (safety data unchanged, nothing to persist). */
    if (c->timeout_sent && c->timeout_token <= c->durable_token) {
        cairn_msg m;
        make_timeout_msg(c, &m);
        cairn_action *a = emit(c, out, CAIRN_ACT_BROADCAST);
        a->u.msg = m;
    }
    set_timer(c, out, c->now_ms + CAIRN_CONS_TIMEOUT_RESEND_MS);
}

static int on_sync_response(cairn_core *c, const cairn_sync_response *r, uint32_t from,
                            cairn_actions *out)
{
    if (r->epoch != c->cfg.epoch) return CAIRN_ECONS_EPOCH;
    if (r->n_blocks == 0 || r->n_blocks > CAIRN_CONS_SYNC_MAX_BLOCKS) return CAIRN_ECONS_MALFORMED;
    int err;
    /* Check everything before changing anything. */
    for (uint32_t i = 0; i < r->n_blocks; i++) {
        if ((err = check_block(c, &r->blocks[i]))) return err;
        if (i > 0 && memcmp(r->blocks[i].parent_id, r->blocks[i - 1].id, 32) != 0)
            return CAIRN_ECONS_MALFORMED;
    }
    if ((err = check_qc(c, &r->tail_qc))) return err;
    const cairn_block *last = &r->blocks[r->n_blocks - 1];
    if (memcmp(r->tail_qc.block_id, last->id, 32) != 0 || r->tail_qc.height != last->height ||
        r->tail_qc.round != last->round)
        return CAIRN_ECONS_CERT;
    uint32_t first = 0;
    while (first < r->n_blocks && !cairn_core_find_block(c, r->blocks[first].parent_id)) first++;
    if (first == r->n_blocks) return CAIRN_ECONS_UNKNOWN_PARENT;
    for (uint32_t i = first; i < r->n_blocks && !c->ended; i++) {
        const cairn_block *b = &r->blocks[i];
        if (b->height > c->root.height && !tree_find(c, b->id)) {
            const cairn_block *parent = cairn_core_find_block(c, b->parent_id);
            if (!parent) break;
            if (parent->height + 1 != b->height || parent->round >= b->round)
                return CAIRN_ECONS_MALFORMED;
            cairn_tree_entry *e;
            if ((err = tree_accept(c, b, &e, out))) return err;
        }
        process_qc(c, &b->qc, from, out);
    }
    if (!c->ended) process_qc(c, &r->tail_qc, from, out);
    if (!c->ended) maybe_ask_payload(c, out); /* the block of our high QC may have come */
    return 0;
}

static void handle_self(cairn_core *c, const cairn_msg *m, cairn_actions *out)
{
    int err = 0;
    switch (m->type) {
    case CAIRN_MSG_VOTE:
        err = on_vote(c, m, out);
        break;
    case CAIRN_MSG_TIMEOUT:
        err = on_timeout(c, m, out);
        break;
    default:
        break;
    }
    (void)err; /* own messages are well-formed; a stale own vote is simply dropped */
}

/* ---- public entry points ---- */

int cairn_core_init(cairn_core *core, const cairn_core_config *cfg,
                    const cairn_core_restore *restore)
{
    if (!core || !cfg || !restore) return CAIRN_EINVAL;
    if (cfg->n_validators == 0 || cfg->n_validators > CAIRN_CONS_MAX_VALIDATORS ||
        cfg->self >= cfg->n_validators)
        return CAIRN_EINVAL;
    memset(core, 0, sizeof *core);
    core->cfg = *cfg;
    for (uint32_t i = 0; i < cfg->n_validators; i++) {
        if (cfg->power[i] == 0 || cfg->power[i] > (UINT64_MAX / 2) / CAIRN_CONS_MAX_VALIDATORS)
            return CAIRN_EINVAL;
        core->total_power += cfg->power[i];
    }
    core->quorum_power = cairn_quorum_power(core->total_power);
    core->validity_power = cairn_validity_power(core->total_power);
    if (restore->root.epoch != cfg->epoch || restore->root_qc.epoch != cfg->epoch ||
        memcmp(restore->root_qc.block_id, restore->root.id, 32) != 0)
        return CAIRN_EINVAL;
    core->root = restore->root;
    core->root_qc = restore->root_qc;
    core->safety.epoch = cfg->epoch;
    core->safety.high_qc = restore->root_qc;
    if (restore->safety && restore->safety->epoch == cfg->epoch) {
        core->safety = *restore->safety;
        if (core->safety.high_qc.round < restore->root_qc.round)
            core->safety.high_qc = restore->root_qc;
    }
    core->round = core->safety.high_qc.round + 1;
    if (core->safety.has_high_tc && core->safety.high_tc.round + 1 > core->round) {
        core->round = core->safety.high_tc.round + 1;
        core->last_tc = core->safety.high_tc;
        core->has_last_tc = 1;
    }
    core->high_qc_from = cfg->self;
    /* The committed chain below the root, oldest first, as commit_chain would have left it. */
    const uint8_t *want = restore->root.parent_id;
    cairn_hist_entry below[CAIRN_CONS_HISTORY_BLOCKS];
    size_t nb = 0;
    while (nb < CAIRN_CONS_HISTORY_BLOCKS && restore->root.height > nb) {
        const cairn_block *h = NULL;
        for (size_t i = 0; i < restore->n_history && !h; i++)
            if (memcmp(restore->history[i].id, want, 32) == 0 &&
                restore->history[i].epoch == cfg->epoch)
                h = &restore->history[i];
        if (!h || check_block(core, h) != 0) break;
        cairn_hist_entry *e = &below[nb++];
        memcpy(e->id, h->id, 32);
        memcpy(e->parent_id, h->parent_id, 32);
        e->height = h->height;
        e->round = h->round;
        e->qc_round = h->qc.round;
        e->proposer = h->proposer;
        e->qc_signers = h->qc.signers;
        want = e->parent_id;
    }
    for (size_t i = nb; i-- > 0;) {
        core->hist[core->hist_head] = below[i];
        core->hist_head = (core->hist_head + 1) % CAIRN_CONS_HISTORY_BLOCKS;
        core->hist_len++;
    }
    /* Re-insert the stored blocks that chain to the root, lowest first (n passes at most). */
    int progress = 1;
    while (progress) {
        progress = 0;
        for (size_t i = 0; i < restore->n_blocks; i++) {
            const cairn_block *b = &restore->blocks[i];
            cairn_tree_entry *e;
            if (b->epoch != cfg->epoch || b->height <= core->root.height) continue;
            if (tree_find(core, b->id) || !cairn_core_find_block(core, b->parent_id)) continue;
            if (check_block(core, b) != 0) continue;
            if (tree_insert(core, b, &e) != 0) return CAIRN_ECONS_FULL;
            e->payload_ready = 1;
            progress = 1;
        }
    }
    return 0;
}

int cairn_core_step(cairn_core *c, const cairn_input *in, cairn_actions *out)
{
    if (!c || !in || !out) return CAIRN_EINVAL;
    out->n = 0;
    c->overflow = 0;
    if (c->ended) return 0;
    c->now_ms = max_u64(c->now_ms, in->now_ms);
    if (!c->started) {
        c->started = 1;
        enter_round(c, c->round, out);
    }
    int err = 0;
    switch (in->type) {
    case CAIRN_IN_MESSAGE: {
        const cairn_msg *m = in->u.msg;
        if (!m) return CAIRN_EINVAL;
        if (m->sender >= c->cfg.n_validators) return CAIRN_ECONS_SENDER;
        switch (m->type) {
        case CAIRN_MSG_PROPOSAL:
            err = on_proposal(c, m, out);
            break;
        case CAIRN_MSG_VOTE:
            err = on_vote(c, m, out);
            break;
        case CAIRN_MSG_TIMEOUT:
            err = on_timeout(c, m, out);
            break;
        case CAIRN_MSG_SYNC_REQUEST:
            err = CAIRN_EUNSUPPORTED; /* served by the node from its ledger, see core.h */
            break;
        default:
            err = CAIRN_ECONS_MALFORMED;
        }
        break;
    }
    case CAIRN_IN_TICK:
        on_tick(c, out);
        break;
    case CAIRN_IN_PERSIST_DONE:
        release_pending(c, in->u.token, out);
        break;
    case CAIRN_IN_PAYLOAD:
        err = on_payload(c, in, out);
        break;
    case CAIRN_IN_PAYLOAD_READY:
        err = on_payload_ready(c, in->u.block_id, out);
        break;
    case CAIRN_IN_SYNC_RESPONSE:
        if (!in->u.sync.resp) return CAIRN_EINVAL;
        if (in->u.sync.from >= c->cfg.n_validators) return CAIRN_ECONS_SENDER;
        err = on_sync_response(c, in->u.sync.resp, in->u.sync.from, out);
        break;
    default:
        err = CAIRN_EINVAL;
    }
    if (c->overflow) return CAIRN_EINTERNAL;
    return err;
}
