/*
 * cluster.h — a minimal zero-delay cluster of consensus cores (header-only), shared by the unit
 * tests and `cairn-bench consensus`.
 *
 * Messages go through one FIFO with no delay and no loss; persists and payload requests complete
 * immediately (as FIFO items, so the persist-before-send ordering is still exercised); when the
 * FIFO is empty, virtual time jumps to the earliest timer. Filters let a test drop messages
 * (a dead validator, an isolated node, lost proposals). Every core's commits are kept so tests
 * can compare ledgers; causal depth (message delays) is tracked for commit latency.
 *
 * Not thread-safe; all memory is owned by the cluster (cl_free).
 */
#ifndef CAIRN_TESTS_SIM_CLUSTER_H
#define CAIRN_TESTS_SIM_CLUSTER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/core.h"

#define CL_MAX_NODES  64
#define CL_MAX_HEIGHT 4096

enum { CL_IT_MSG = 1, CL_IT_PERSIST, CL_IT_PAYLOAD, CL_IT_SYNC };

typedef struct cl_item {
    int kind;
    uint32_t to, from;
    uint64_t arg;
    uint64_t depth; /* message delays since the start */
    cairn_msg msg;
    cairn_sync_response *sync;
} cl_item;

typedef struct cl_node {
    cairn_core core;
    uint64_t timer;
    int has_timer;
    uint64_t depth;      /* depth of the input being processed */
    cairn_block *ledger; /* ledger[h - 1] */
    cairn_qc *ledger_qc;
    uint64_t n_ledger;
    int epoch_ended;
    uint64_t persists;
} cl_node;

typedef struct cluster {
    uint32_t n;
    cl_node *nodes;
    cairn_actions acts;
    cl_item *q;
    size_t q_head, q_len, q_cap;
    uint64_t now;
    uint64_t steps, msg_steps;
    /* Filters. */
    uint64_t dead;     /* never stepped, all traffic to and from it dropped */
    uint64_t isolated; /* traffic to and from it dropped while set */
    int drop_proposals;
    uint64_t silent;         /* proposals from these are dropped: they vote but never propose */
    uint32_t reconfig_round; /* leader of this round marks its payload RECONFIG (0: never) */
    /* Measurements. */
    uint64_t prop_depth[1024]; /* by round % 1024: depth at which the proposal left */
    uint64_t commit_depth_sum, commit_round_sum, commit_samples;
    int step_error; /* first unexpected error */
    cairn_block genesis;
    cairn_qc genesis_qc;
} cluster;

static inline void cl_push(cluster *c, const cl_item *it)
{
    if (c->q_len == c->q_cap) {
        size_t ncap = c->q_cap ? c->q_cap * 2 : 256;
        cl_item *nq = malloc(ncap * sizeof *nq);
        if (!nq) abort();
        for (size_t i = 0; i < c->q_len; i++) nq[i] = c->q[(c->q_head + i) % c->q_cap];
        free(c->q);
        c->q = nq;
        c->q_cap = ncap;
        c->q_head = 0;
    }
    c->q[(c->q_head + c->q_len++) % c->q_cap] = *it;
}

static inline int cl_dropped(const cluster *c, uint32_t a, uint32_t b)
{
    uint64_t m = c->dead | c->isolated;
    return (m >> a & 1) || (m >> b & 1);
}

static inline void cl_serve_sync(cluster *c, uint32_t server, uint32_t to, uint64_t from_h,
                                 uint64_t depth)
{
    cl_node *s = &c->nodes[server];
    cairn_sync_response *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->epoch = c->genesis.epoch;
    for (uint64_t h = from_h; h <= s->n_ledger && r->n_blocks < CAIRN_CONS_SYNC_MAX_BLOCKS; h++) {
        r->blocks[r->n_blocks++] = s->ledger[h - 1];
        r->tail_qc = s->ledger_qc[h - 1];
    }
    if (r->n_blocks < CAIRN_CONS_SYNC_MAX_BLOCKS) {
        cairn_block chain[CAIRN_CONS_SYNC_MAX_BLOCKS];
        cairn_qc tail;
        size_t k = cairn_core_certified_chain(&s->core, chain,
                                              CAIRN_CONS_SYNC_MAX_BLOCKS - r->n_blocks, &tail);
        size_t first = 0;
        while (first < k && chain[first].height < from_h) first++;
        if (first < k) {
            for (size_t j = first; j < k; j++) r->blocks[r->n_blocks++] = chain[j];
            r->tail_qc = tail;
        }
    }
    if (r->n_blocks == 0) {
        free(r);
        return;
    }
    cl_item it = {.kind = CL_IT_SYNC, .to = to, .from = server, .depth = depth + 1, .sync = r};
    cl_push(c, &it);
}

static inline void cl_apply(cluster *c, uint32_t i)
{
    cl_node *nd = &c->nodes[i];
    for (size_t k = 0; k < c->acts.n; k++) {
        const cairn_action *a = &c->acts.a[k];
        cl_item it;
        memset(&it, 0, sizeof it);
        it.from = i;
        it.depth = nd->depth + 1;
        switch (a->type) {
        case CAIRN_ACT_SEND:
        case CAIRN_ACT_BROADCAST:
            it.kind = CL_IT_MSG;
            it.msg = a->u.msg;
            if (a->u.msg.type == CAIRN_MSG_PROPOSAL)
                c->prop_depth[a->u.msg.u.proposal.block.round % 1024] = nd->depth;
            for (uint32_t j = 0; j < c->n; j++) {
                if (j == i || (a->type == CAIRN_ACT_SEND && j != a->to)) continue;
                if (cl_dropped(c, i, j)) continue;
                if ((c->drop_proposals || (c->silent >> i & 1)) &&
                    a->u.msg.type == CAIRN_MSG_PROPOSAL)
                    continue;
                it.to = j;
                cl_push(c, &it);
            }
            break;
        case CAIRN_ACT_PERSIST:
            nd->persists++;
            it.kind = CL_IT_PERSIST;
            it.to = i;
            it.arg = a->u.persist.token;
            it.depth = nd->depth; /* local: not a message delay */
            cl_push(c, &it);
            break;
        case CAIRN_ACT_SET_TIMER:
            nd->timer = a->u.deadline_ms;
            nd->has_timer = 1;
            break;
        case CAIRN_ACT_COMMIT:
            if (nd->n_ledger < CL_MAX_HEIGHT) {
                nd->ledger[nd->n_ledger] = a->u.commit.block;
                nd->ledger_qc[nd->n_ledger] = a->u.commit.qc;
                nd->n_ledger++;
            }
            if (i == 0) {
                c->commit_depth_sum += nd->depth - c->prop_depth[a->u.commit.block.round % 1024];
                c->commit_round_sum += nd->core.round - a->u.commit.block.round;
                c->commit_samples++;
            }
            break;
        case CAIRN_ACT_NEED_PAYLOAD:
            it.kind = CL_IT_PAYLOAD;
            it.to = i;
            it.arg = a->u.round;
            it.depth = nd->depth;
            cl_push(c, &it);
            break;
        case CAIRN_ACT_SYNC_REQUEST:
            if (!cl_dropped(c, i, a->to))
                cl_serve_sync(c, a->to, i, a->u.msg.u.sync_request.from_height, nd->depth);
            break;
        case CAIRN_ACT_EPOCH_END:
            nd->epoch_ended = 1;
            /* Hand every peer the proof that the epoch ended. */
            for (uint32_t j = 0; j < c->n; j++) {
                if (j == i || cl_dropped(c, i, j)) continue;
                cairn_sync_response *r = calloc(1, sizeof *r);
                if (!r) abort();
                r->epoch = a->u.commit.block.epoch;
                r->n_blocks = (uint32_t)cairn_core_epoch_proof(
                    &nd->core, r->blocks, CAIRN_CONS_SYNC_MAX_BLOCKS, &r->tail_qc);
                if (r->n_blocks == 0 && !c->step_error) c->step_error = CAIRN_EINTERNAL;
                cl_item pr = {
                    .kind = CL_IT_SYNC, .to = j, .from = i, .depth = nd->depth + 1, .sync = r};
                cl_push(c, &pr);
            }
            break;
        default: /* STORE_BLOCK, FETCH_PAYLOAD (payload is ready by default), EVIDENCE */
            break;
        }
    }
}

static inline int cl_step(cluster *c, uint32_t i, const cairn_input *in, uint64_t depth)
{
    cl_node *nd = &c->nodes[i];
    nd->depth = depth;
    int err = cairn_core_step(&nd->core, in, &c->acts);
    c->steps++;
    if (in->type == CAIRN_IN_MESSAGE) c->msg_steps++;
    if ((err == CAIRN_EINTERNAL || err == CAIRN_EINVAL || err == CAIRN_ECONS_MALFORMED ||
         err == CAIRN_ECONS_CERT || err == CAIRN_ECONS_BLOCK_ID || err == CAIRN_ECONS_FULL) &&
        !c->step_error)
        c->step_error = err;
    cl_apply(c, i);
    return err;
}

/* Builds an n-validator cluster (power 1 each). */
static inline void cl_init(cluster *c, uint32_t n, int reputation)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    c->nodes = calloc(n, sizeof *c->nodes);
    if (!c->nodes) abort();
    uint8_t seed[32] = {0x42};
    cairn_core_genesis(1, seed, &c->genesis, &c->genesis_qc);
    for (uint32_t i = 0; i < n; i++) {
        cairn_core_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.epoch = 1;
        cfg.n_validators = n;
        cfg.self = i;
        for (uint32_t v = 0; v < n; v++) cfg.power[v] = 1;
        memcpy(cfg.genesis_id, c->genesis.id, 32);
        cfg.leader_reputation = reputation;
        cfg.payload_ready_by_default = 1;
        cairn_core_restore rs = {.safety = NULL, .root = c->genesis, .root_qc = c->genesis_qc};
        if (cairn_core_init(&c->nodes[i].core, &cfg, &rs) != 0) abort();
        c->nodes[i].ledger = calloc(CL_MAX_HEIGHT, sizeof(cairn_block));
        c->nodes[i].ledger_qc = calloc(CL_MAX_HEIGHT, sizeof(cairn_qc));
        if (!c->nodes[i].ledger || !c->nodes[i].ledger_qc) abort();
    }
}

static inline void cl_free(cluster *c)
{
    for (size_t k = 0; k < c->q_len; k++) free(c->q[(c->q_head + k) % c->q_cap].sync);
    for (uint32_t i = 0; i < c->n; i++) {
        free(c->nodes[i].ledger);
        free(c->nodes[i].ledger_qc);
    }
    free(c->nodes);
    free(c->q);
}

/* Processes one queued item or, if none, fires the earliest timer. Returns 0 when idle. */
static inline int cl_run_one(cluster *c)
{
    cairn_input in;
    memset(&in, 0, sizeof in);
    if (c->q_len) {
        cl_item it = c->q[c->q_head];
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_len--;
        if (c->dead >> it.to & 1) {
            free(it.sync);
            return 1;
        }
        in.now_ms = c->now;
        switch (it.kind) {
        case CL_IT_MSG:
            if (cl_dropped(c, it.from, it.to)) return 1;
            in.type = CAIRN_IN_MESSAGE;
            in.u.msg = &it.msg;
            break;
        case CL_IT_PERSIST:
            in.type = CAIRN_IN_PERSIST_DONE;
            in.u.token = it.arg;
            break;
        case CL_IT_PAYLOAD:
            in.type = CAIRN_IN_PAYLOAD;
            in.u.payload.round = it.arg;
            memcpy(in.u.payload.digest, &it.arg, sizeof it.arg);
            in.u.payload.flags =
                c->reconfig_round && it.arg == c->reconfig_round ? CAIRN_BLOCK_F_RECONFIG : 0;
            break;
        case CL_IT_SYNC:
            in.type = CAIRN_IN_SYNC_RESPONSE;
            in.u.sync.resp = it.sync;
            in.u.sync.from = it.from;
            break;
        }
        (void)cl_step(c, it.to, &in, it.depth);
        free(it.sync);
        return 1;
    }
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < c->n; i++) {
        if ((c->dead >> i & 1) || !c->nodes[i].has_timer) continue;
        if (best == UINT32_MAX || c->nodes[i].timer < c->nodes[best].timer) best = i;
    }
    if (best == UINT32_MAX) return 0;
    if (c->nodes[best].timer > c->now) c->now = c->nodes[best].timer;
    c->nodes[best].has_timer = 0;
    in.type = CAIRN_IN_TICK;
    in.now_ms = c->now;
    (void)cl_step(c, best, &in, c->nodes[best].depth);
    return 1;
}

/* Starts every live core (one TICK at time 0). */
static inline void cl_start(cluster *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->dead >> i & 1) continue;
        cairn_input in = {.type = CAIRN_IN_TICK, .now_ms = c->now};
        (void)cl_step(c, i, &in, 0);
    }
}

/* Runs until every live node has committed `height` blocks or max_steps items ran. Returns 1 if
 * the height was reached. */
static inline int cl_run_until(cluster *c, uint64_t height, uint64_t max_steps)
{
    for (uint64_t k = 0; k < max_steps; k++) {
        int done = 1;
        for (uint32_t i = 0; i < c->n; i++)
            if (!(c->dead >> i & 1) && c->nodes[i].n_ledger < height) done = 0;
        if (done) return 1;
        if (!cl_run_one(c)) return 0;
    }
    return 0;
}

#endif
