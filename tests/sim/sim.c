/*
 * sim.c — the deterministic cluster simulator (see sim.h).
 */
#include "sim.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/core.h"
#include "ledger/hash.h"

#define MAX_INST   (CAIRN_CONS_MAX_VALIDATORS + 8)
#define GROUP_NONE 0xff

/* Liveness: after GST every honest node must commit this many new blocks within the bound. */
#define LIVE_COMMITS  3
#define LIVE_BOUND_MS 120000u
#define TWINS_MAX_RND 64

enum ev_kind {
    EV_MSG = 1,
    EV_SYNC_RESP,
    EV_TIMER,
    EV_PERSIST,
    EV_PAYLOAD,
    EV_PAYLOAD_READY,
    EV_CRASH,
    EV_RESTART,
    EV_STORE,
    EV_NEXT_EPOCH,
};

typedef struct ev {
    uint64_t time, seq;
    int kind;
    uint32_t inst;
    uint64_t incarnation; /* events for an older incarnation are dropped */
    uint64_t arg;         /* token, round, timer generation */
    uint32_t from_inst;
    cairn_msg msg;
    cairn_sync_response *sync;
    cairn_safety_data safety; /* EV_PERSIST: the data that becomes durable */
    uint8_t id[32];
} ev;

typedef struct ledger_entry {
    cairn_block block;
    cairn_qc qc;
    uint64_t time;
} ledger_entry;

enum byz_flags {
    BYZ_EQUIVOCATE = 1,
    BYZ_DOUBLE_VOTE = 2,
    BYZ_WITHHOLD = 4,
    BYZ_BAD_CERTS = 8,
};

typedef struct node {
    uint32_t validator;
    int honest; /* invariants apply */
    int byz;    /* enum byz_flags */
    int up;
    int dead; /* never starts */
    uint64_t incarnation;
    cairn_core *core;
    cairn_safety_data durable;
    int has_durable;
    uint64_t disk_busy_until;
    uint64_t timer_gen;
    ledger_entry *ledger; /* ledger[h - 1] = block at height h */
    uint64_t n_ledger, cap_ledger;
    uint64_t commits_after_gst;
    uint64_t tc_at_gst, qc_at_gst;
    int have_round_stats;
    uint64_t epoch;       /* current epoch (1, or 2 after the reconfiguration) */
    uint64_t base;        /* ledger entries before the current epoch's genesis */
    cairn_block egenesis; /* the current epoch's genesis */
    cairn_qc egenesis_qc;
    cairn_sync_response *proof; /* epoch-end proof, re-sent to peers still in epoch 1 */
    uint64_t proof_sent_at[MAX_INST];
    cairn_block *stored; /* durable blocks from STORE_BLOCK */
    size_t n_stored, cap_stored;
    cairn_proposal old_proposal; /* for stale replays */
    int has_old_proposal;
} node;

/* Per validator (honest ones), across restarts: what it has said. */
typedef struct said {
    uint64_t epoch; /* rounds restart with each epoch */
    uint64_t max_prop_round;
    uint8_t max_prop_block[32];
    uint64_t max_vote_round;
    uint8_t max_vote_block[32];
    uint64_t max_timeout_round;
} said;

typedef struct sim {
    uint64_t rng;
    int check_persist; /* persist-before-speak checked directly (off: only its consequences) */
    int scenario;
    uint32_t n;      /* validators */
    uint32_t n_inst; /* instances (n + twins) */
    node nodes[MAX_INST];
    said said_by[CAIRN_CONS_MAX_VALIDATORS];
    cairn_core_config cfg;
    cairn_core_config cfg2; /* epoch 2: validator 0's power doubled */
    uint64_t reconfig_round;
    cairn_block genesis;
    cairn_qc genesis_qc;
    /* Network. */
    uint64_t now, seq, gst;
    uint32_t dmin, dmax; /* ms, before GST */
    uint32_t loss_pct, dup_pct;
    uint32_t disk_max_ms;
    uint32_t crash_after_speak_pct; /* crash right after a vote leaves, before its persist */
    uint32_t crashes_left;
    uint8_t part_group[MAX_INST]; /* current random partition before GST */
    uint64_t part_until;
    uint8_t twins_group[TWINS_MAX_RND][MAX_INST];
    int twins;
    /* Event queue: binary min-heap of pointers. */
    ev **heap;
    size_t heap_n, heap_cap;
    /* Agreement: committed[h - 1] = id at height h by the first honest node. */
    uint8_t (*committed)[32];
    uint64_t n_committed, cap_committed;
    sim_result *res;
    FILE *trace;
    cairn_actions acts;
} sim;

/* ---- utilities ---- */

static uint64_t rnd(sim *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(sim *s, uint64_t n)
{
    return n ? rnd(s) % n : 0;
}

static int chance(sim *s, uint32_t pct)
{
    return rnd_below(s, 100) < pct;
}

static void violation(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violation(sim *s, const char *fmt, ...)
{
    if (s->res->violation) return;
    s->res->violation = 1;
    va_list ap;
    va_start(ap, fmt);
    char buf[200];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    snprintf(s->res->what, sizeof s->res->what, "t=%llu ms: %s", (unsigned long long)s->now, buf);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "sim: out of memory\n");
        abort();
    }
    return q;
}

/* ---- event queue ---- */

static int ev_less(const ev *a, const ev *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static ev *ev_new(sim *s, uint64_t time, int kind, uint32_t inst)
{
    ev *e = calloc(1, sizeof *e);
    if (!e) abort();
    e->time = time;
    e->seq = s->seq++;
    e->kind = kind;
    e->inst = inst;
    e->incarnation = s->nodes[inst].incarnation;
    return e;
}

static void ev_push(sim *s, ev *e)
{
    if (s->heap_n == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 1024;
        s->heap = xrealloc(s->heap, s->heap_cap * sizeof *s->heap);
    }
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_less(e, s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
}

static ev *ev_pop(sim *s)
{
    if (s->heap_n == 0) return NULL;
    ev *top = s->heap[0];
    ev *last = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const ev *best = last;
        if (l < s->heap_n && ev_less(s->heap[l], best)) m = l, best = s->heap[l];
        if (r < s->heap_n && ev_less(s->heap[r], best)) m = r;
        if (m == i) break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (s->heap_n) s->heap[i] = last;
    return top;
}

static void ev_free(ev *e)
{
    free(e->sync);
    free(e);
}

/* ---- network ---- */

static uint64_t msg_round(const cairn_msg *m)
{
    switch (m->type) {
    case CAIRN_MSG_PROPOSAL:
        return m->u.proposal.block.round;
    case CAIRN_MSG_VOTE:
        return m->u.vote.round;
    case CAIRN_MSG_TIMEOUT:
        return m->u.timeout.round;
    default:
        return 0;
    }
}

/* Can a message of `round` go from instance a to instance b now? */
static int link_up(sim *s, uint32_t a, uint32_t b, uint64_t round)
{
    if (a == b) return 1;
    if (s->now >= s->gst) return 1;
    if (s->twins && round > 0 && round < TWINS_MAX_RND)
        return s->twins_group[round][a] == s->twins_group[round][b];
    if (s->now < s->part_until && s->part_group[a] != s->part_group[b]) return 0;
    return 1;
}

static uint64_t link_delay(sim *s)
{
    if (s->now >= s->gst) return 1 + rnd_below(s, 10);
    uint64_t d = s->dmin + rnd_below(s, s->dmax - s->dmin + 1);
    if (s->scenario != SIM_HAPPY && chance(s, 3)) d += rnd_below(s, 1500); /* spike */
    return d;
}

static void deliver_to_inst(sim *s, uint32_t from, uint32_t to, const cairn_msg *m)
{
    if (!link_up(s, from, to, msg_round(m))) return;
    int copies = 1;
    if (s->now < s->gst) {
        if (chance(s, s->loss_pct)) return;
        if (chance(s, s->dup_pct)) copies = 2;
    }
    for (int k = 0; k < copies; k++) {
        ev *e = ev_new(s, s->now + link_delay(s), EV_MSG, to);
        e->from_inst = from;
        e->msg = *m;
        ev_push(s, e);
    }
}

/* Sends to every instance holding validator index v (Twins: both copies). */
static void send_to_validator(sim *s, uint32_t from, uint32_t v, const cairn_msg *m)
{
    for (uint32_t i = 0; i < s->n_inst; i++)
        if (s->nodes[i].validator == v) deliver_to_inst(s, from, i, m);
}

static void broadcast(sim *s, uint32_t from, const cairn_msg *m)
{
    for (uint32_t i = 0; i < s->n_inst; i++)
        if (i != from) deliver_to_inst(s, from, i, m);
}

/* ---- invariants ---- */

static void check_commit(sim *s, uint32_t i, const cairn_block *b, const cairn_qc *qc)
{
    node *nd = &s->nodes[i];
    /* One chain per node: heights advance by one and each block extends the previous. */
    const uint8_t *prev =
        nd->n_ledger > nd->base ? nd->ledger[nd->n_ledger - 1].block.id : nd->egenesis.id;
    if (b->epoch != nd->epoch || nd->base + b->height != nd->n_ledger + 1 ||
        memcmp(b->parent_id, prev, 32) != 0)
        violation(s, "node %u committed height %llu out of chain (ledger at %llu)", i,
                  (unsigned long long)b->height, (unsigned long long)nd->n_ledger);
    if (memcmp(qc->block_id, b->id, 32) != 0)
        violation(s, "node %u commit carries a QC for another block", i);
    if (nd->n_ledger == nd->cap_ledger) {
        nd->cap_ledger = nd->cap_ledger ? nd->cap_ledger * 2 : 64;
        nd->ledger = xrealloc(nd->ledger, nd->cap_ledger * sizeof *nd->ledger);
    }
    nd->ledger[nd->n_ledger].block = *b;
    nd->ledger[nd->n_ledger].qc = *qc;
    nd->ledger[nd->n_ledger].time = s->now;
    nd->n_ledger++;
    if (s->now >= s->gst && (s->scenario != SIM_EPOCH || nd->epoch == 2)) nd->commits_after_gst++;
    if (!nd->honest) return;
    /* Agreement: no two honest nodes commit different blocks at one height (heights count
     * across epochs: every honest node ends epoch 1 at the same block). */
    uint64_t h = nd->n_ledger;
    if (h <= s->n_committed) {
        if (memcmp(s->committed[h - 1], b->id, 32) != 0)
            violation(s, "SAFETY: honest nodes committed different blocks at height %llu",
                      (unsigned long long)h);
    } else if (h == s->n_committed + 1) {
        if (s->n_committed == s->cap_committed) {
            s->cap_committed = s->cap_committed ? s->cap_committed * 2 : 64;
            s->committed = xrealloc(s->committed, s->cap_committed * 32);
        }
        memcpy(s->committed[s->n_committed++], b->id, 32);
    }
}

/* Called when an honest instance's message leaves it. */
static void check_speech(sim *s, uint32_t i, const cairn_msg *m)
{
    node *nd = &s->nodes[i];
    if (!nd->honest) return;
    said *sd = &s->said_by[nd->validator];
    if (sd->epoch != cairn_msg_epoch(m)) {
        if (sd->epoch > cairn_msg_epoch(m))
            violation(s, "node %u spoke in epoch %llu after epoch %llu", i,
                      (unsigned long long)cairn_msg_epoch(m), (unsigned long long)sd->epoch);
        memset(sd, 0, sizeof *sd);
        sd->epoch = cairn_msg_epoch(m);
    }
    if (m->type == CAIRN_MSG_VOTE) {
        const cairn_vote *v = &m->u.vote;
        if (s->check_persist && (!nd->has_durable || nd->durable.highest_vote_round < v->round))
            violation(s, "node %u sent a vote for round %llu before persisting it", i,
                      (unsigned long long)v->round);
        if (v->round < sd->max_vote_round ||
            (v->round == sd->max_vote_round && memcmp(v->block_id, sd->max_vote_block, 32)))
            violation(s, "SAFETY: validator %u voted twice or backwards (round %llu after %llu)",
                      nd->validator, (unsigned long long)v->round,
                      (unsigned long long)sd->max_vote_round);
        if (v->round <= sd->max_timeout_round)
            violation(s, "SAFETY: validator %u voted in round %llu after timing out in %llu",
                      nd->validator, (unsigned long long)v->round,
                      (unsigned long long)sd->max_timeout_round);
        sd->max_vote_round = v->round;
        memcpy(sd->max_vote_block, v->block_id, 32);
        if (s->crashes_left && s->now < s->gst && chance(s, s->crash_after_speak_pct)) {
            /* The most dangerous instant: the vote is out, its persist may not be done. */
            s->crashes_left--;
            ev_push(s, ev_new(s, s->now, EV_CRASH, i));
            ev_push(s, ev_new(s, s->now + 1 + rnd_below(s, 30), EV_RESTART, i));
        }
    } else if (m->type == CAIRN_MSG_PROPOSAL) {
        const cairn_block *b = &m->u.proposal.block;
        if (s->check_persist && (!nd->has_durable || nd->durable.highest_vote_round < b->round))
            violation(s, "node %u sent a proposal for round %llu before persisting its vote", i,
                      (unsigned long long)b->round);
        if (b->round < sd->max_prop_round ||
            (b->round == sd->max_prop_round && memcmp(b->id, sd->max_prop_block, 32)))
            violation(s, "validator %u proposed twice in round %llu", nd->validator,
                      (unsigned long long)b->round);
        sd->max_prop_round = b->round;
        memcpy(sd->max_prop_block, b->id, 32);
    } else if (m->type == CAIRN_MSG_TIMEOUT) {
        const cairn_timeout *t = &m->u.timeout;
        if (s->check_persist && (!nd->has_durable || nd->durable.highest_vote_round < t->round))
            violation(s, "node %u sent a timeout for round %llu before persisting it", i,
                      (unsigned long long)t->round);
        if (t->round < sd->max_vote_round)
            violation(s, "validator %u timed out in round %llu after voting in %llu", nd->validator,
                      (unsigned long long)t->round, (unsigned long long)sd->max_vote_round);
        if (t->round > sd->max_timeout_round) sd->max_timeout_round = t->round;
    }
}

static int node_is_honest_validator(const sim *s, uint32_t v)
{
    for (uint32_t i = 0; i < s->n_inst; i++)
        if (s->nodes[i].validator == v && !s->nodes[i].honest) return 0;
    return 1;
}

/* ---- Byzantine behaviours (applied to the honest core's output) ---- */

static void byz_send(sim *s, uint32_t i, uint32_t to, const cairn_msg *m)
{
    node *nd = &s->nodes[i];
    if (m->type == CAIRN_MSG_VOTE && (nd->byz & BYZ_WITHHOLD)) return;
    if (to == UINT32_MAX)
        broadcast(s, i, m);
    else
        send_to_validator(s, i, to, m);
    if (m->type == CAIRN_MSG_VOTE && (nd->byz & BYZ_DOUBLE_VOTE)) {
        cairn_msg m2 = *m;
        m2.u.vote.block_id[0] ^= 0x5a; /* a vote for another block in the same round */
        for (uint32_t v = 0; v < s->n; v++)
            if (chance(s, 50)) send_to_validator(s, i, v, &m2);
    }
    if (m->type == CAIRN_MSG_PROPOSAL && (nd->byz & BYZ_EQUIVOCATE)) {
        cairn_msg m2 = *m;
        m2.u.proposal.block.payload[0] ^= 0xa5;
        cairn_block_compute_id(&m2.u.proposal.block, m2.u.proposal.block.id);
        for (uint32_t v = 0; v < s->n; v++)
            if (v != nd->validator && chance(s, 40)) send_to_validator(s, i, v, &m2);
    }
    if (nd->byz & BYZ_BAD_CERTS) {
        cairn_msg m3 = *m;
        int kind = (int)rnd_below(s, 4);
        if (m->type == CAIRN_MSG_PROPOSAL) {
            cairn_block *b = &m3.u.proposal.block;
            if (kind == 0) b->qc.signers = 1;           /* no quorum */
            if (kind == 1) b->qc.signers |= 1ULL << 63; /* signer beyond n */
            if (kind == 2) b->qc.height += 1;           /* inconsistent height */
            if (kind == 3) b->epoch += 1;               /* other epoch */
            cairn_block_compute_id(b, b->id);
            broadcast(s, i, &m3);
            nd->old_proposal = m->u.proposal;
            nd->has_old_proposal = 1;
        } else if (m->type == CAIRN_MSG_TIMEOUT) {
            cairn_timeout *t = &m3.u.timeout;
            if (kind == 0) t->high_qc = s->genesis_qc; /* stale certificate */
            if (kind == 1 && t->has_tc) t->last_tc.signers = 1;
            if (kind == 2) t->high_qc.round = t->round; /* QC not below the round */
            if (kind == 3) t->epoch += 7;
            broadcast(s, i, &m3);
            if (nd->has_old_proposal) { /* replay an old proposal */
                cairn_msg old = {.type = CAIRN_MSG_PROPOSAL, .sender = nd->validator};
                old.u.proposal = nd->old_proposal;
                broadcast(s, i, &old);
            }
        }
    }
}

/* ---- nodes ---- */

static void serve_sync(sim *s, uint32_t server, uint32_t to_inst, uint64_t from_height)
{
    node *nd = &s->nodes[server];
    cairn_sync_response *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->epoch = nd->epoch;
    for (uint64_t h = from_height;
         nd->base + h <= nd->n_ledger && r->n_blocks < CAIRN_CONS_SYNC_MAX_BLOCKS; h++) {
        r->blocks[r->n_blocks++] = nd->ledger[nd->base + h - 1].block;
        r->tail_qc = nd->ledger[nd->base + h - 1].qc;
    }
    if (r->n_blocks < CAIRN_CONS_SYNC_MAX_BLOCKS) {
        cairn_block chain[CAIRN_CONS_SYNC_MAX_BLOCKS];
        cairn_qc tail;
        size_t k = cairn_core_certified_chain(nd->core, chain,
                                              CAIRN_CONS_SYNC_MAX_BLOCKS - r->n_blocks, &tail);
        size_t first = 0;
        while (first < k && chain[first].height < from_height) first++;
        if (first < k &&
            (r->n_blocks > 0 || chain[first].height == from_height || r->n_blocks == 0)) {
            for (size_t j = first; j < k; j++) r->blocks[r->n_blocks++] = chain[j];
            r->tail_qc = tail;
        }
    }
    if (r->n_blocks == 0) {
        free(r);
        return;
    }
    if (!link_up(s, server, to_inst, 0) || (s->now < s->gst && chance(s, s->loss_pct))) {
        free(r);
        return;
    }
    ev *e = ev_new(s, s->now + link_delay(s), EV_SYNC_RESP, to_inst);
    e->from_inst = server;
    e->sync = r;
    ev_push(s, e);
}

/* Sends node `from`'s epoch-end proof to instance `to`, a peer still in the old epoch (at most
 * every 200 ms per peer): the old epoch's blocks from the peer's committed height + 1 (which its
 * sync request carries) up to the RECONFIG block, then the certified child and its QC. */
static void send_proof(sim *s, uint32_t from, uint32_t to)
{
    node *nd = &s->nodes[from];
    if (!nd->proof) return;
    if (nd->proof_sent_at[to] && s->now < nd->proof_sent_at[to] + 200) return;
    nd->proof_sent_at[to] = s->now + 1;
    if (!link_up(s, from, to, 0) || (s->now < s->gst && chance(s, s->loss_pct))) return;
    /* The proof's first block is the RECONFIG block: ledger entry base - 1 of the old epoch. */
    uint64_t end = nd->epoch == 2 ? nd->base : nd->n_ledger; /* entries of epoch 1 */
    uint64_t first = s->nodes[to].n_ledger; /* index of the first block the peer lacks */
    cairn_sync_response *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->epoch = 1;
    for (uint64_t k = first; k < end && r->n_blocks < CAIRN_CONS_SYNC_MAX_BLOCKS - 2; k++) {
        r->blocks[r->n_blocks++] = nd->ledger[k].block;
        r->tail_qc = nd->ledger[k].qc;
    }
    if (first + r->n_blocks >= end) {
        /* Reached the RECONFIG block: add its certified descendants and their QC. */
        for (uint32_t k = 1; k < nd->proof->n_blocks && r->n_blocks < CAIRN_CONS_SYNC_MAX_BLOCKS;
             k++)
            r->blocks[r->n_blocks++] = nd->proof->blocks[k];
        r->tail_qc = nd->proof->tail_qc;
        if (r->n_blocks == 0) *r = *nd->proof;
    }
    ev *e = ev_new(s, s->now + link_delay(s), EV_SYNC_RESP, to);
    e->from_inst = from;
    e->sync = r;
    ev_push(s, e);
}

static void apply_actions(sim *s, uint32_t i)
{
    node *nd = &s->nodes[i];
    cairn_actions *out = &s->acts;
    for (size_t k = 0; k < out->n; k++) {
        const cairn_action *a = &out->a[k];
        switch (a->type) {
        case CAIRN_ACT_SEND:
        case CAIRN_ACT_BROADCAST: {
            uint32_t to = a->type == CAIRN_ACT_SEND ? a->to : UINT32_MAX;
            if (s->trace)
                fprintf(s->trace, "  send inst=%u to=%d type=%d round=%llu id=%02x%02x\n", i,
                        (int)to, a->u.msg.type, (unsigned long long)msg_round(&a->u.msg),
                        a->u.msg.u.proposal.block.id[0], a->u.msg.u.proposal.block.id[1]);
            check_speech(s, i, &a->u.msg);
            if (nd->byz)
                byz_send(s, i, to, &a->u.msg);
            else if (to == UINT32_MAX)
                broadcast(s, i, &a->u.msg);
            else
                send_to_validator(s, i, to, &a->u.msg);
            break;
        }
        case CAIRN_ACT_PERSIST: {
            uint64_t start = s->now > nd->disk_busy_until ? s->now : nd->disk_busy_until;
            uint64_t done = start + rnd_below(s, s->disk_max_ms + 1);
            nd->disk_busy_until = done;
            ev *e = ev_new(s, done, EV_PERSIST, i);
            e->arg = a->u.persist.token;
            e->safety = a->u.persist.data;
            ev_push(s, e);
            break;
        }
        case CAIRN_ACT_SET_TIMER: {
            ev *e = ev_new(s, a->u.deadline_ms, EV_TIMER, i);
            e->arg = ++nd->timer_gen;
            ev_push(s, e);
            break;
        }
        case CAIRN_ACT_COMMIT:
            check_commit(s, i, &a->u.commit.block, &a->u.commit.qc);
            break;
        case CAIRN_ACT_NEED_PAYLOAD: {
            ev *e = ev_new(s, s->now + rnd_below(s, 3), EV_PAYLOAD, i);
            e->arg = a->u.round;
            ev_push(s, e);
            break;
        }
        case CAIRN_ACT_FETCH_PAYLOAD: {
            ev *e = ev_new(s, s->now + rnd_below(s, 20), EV_PAYLOAD_READY, i);
            memcpy(e->id, a->u.commit.block.id, 32);
            ev_push(s, e);
            break;
        }
        case CAIRN_ACT_SYNC_REQUEST: {
            /* The request travels to the server, which answers from its ledger and tree. */
            for (uint32_t j = 0; j < s->n_inst; j++) {
                node *sv = &s->nodes[j];
                if (sv->validator != a->to || !sv->up || !link_up(s, i, j, 0)) continue;
                if (sv->epoch == nd->epoch)
                    serve_sync(s, j, i, a->u.msg.u.sync_request.from_height);
                else if (sv->epoch > nd->epoch)
                    send_proof(s, j, i); /* a peer past the epoch answers with its proof */
            }
            break;
        }
        case CAIRN_ACT_EVIDENCE:
            if (s->trace)
                fprintf(s->trace,
                        "  evidence inst=%u kind=%d offender=%u round=%llu a=%02x/%llu "
                        "b=%02x/%llu\n",
                        i, a->u.evidence.kind, a->u.evidence.offender,
                        (unsigned long long)a->u.evidence.round, a->u.evidence.blocks[0].id[0],
                        (unsigned long long)a->u.evidence.blocks[0].round,
                        a->u.evidence.blocks[1].id[0],
                        (unsigned long long)a->u.evidence.blocks[1].round);
            if (nd->honest) {
                s->res->evidence++;
                if (node_is_honest_validator(s, a->u.evidence.offender))
                    violation(s,
                              "node %u accused honest validator %u of equivocation "
                              "(kind %d, round %llu)",
                              i, a->u.evidence.offender, a->u.evidence.kind,
                              (unsigned long long)a->u.evidence.round);
            }
            break;
        case CAIRN_ACT_EPOCH_END: {
            /* Keep the proof (the RECONFIG block, its certified child and the QC on it) while
             * the old core still holds the child, send it to every peer, then switch. */
            if (nd->epoch != 1 || s->scenario != SIM_EPOCH) {
                violation(s, "node %u ended epoch %llu unexpectedly", i,
                          (unsigned long long)nd->epoch);
                break;
            }
            cairn_sync_response *r = calloc(1, sizeof *r);
            if (!r) abort();
            r->epoch = nd->epoch;
            r->n_blocks = (uint32_t)cairn_core_epoch_proof(nd->core, r->blocks,
                                                           CAIRN_CONS_SYNC_MAX_BLOCKS, &r->tail_qc);
            if (r->n_blocks == 0 || memcmp(r->blocks[0].id, a->u.commit.block.id, 32) != 0)
                violation(s, "node %u: no epoch-end proof", i);
            free(nd->proof);
            nd->proof = r;
            for (uint32_t j = 0; j < s->n_inst; j++)
                if (j != i) send_proof(s, i, j);
            ev_push(s, ev_new(s, s->now, EV_NEXT_EPOCH, i));
            break;
        }
        case CAIRN_ACT_STORE_BLOCK: {
            uint64_t start = s->now > nd->disk_busy_until ? s->now : nd->disk_busy_until;
            uint64_t done = start + rnd_below(s, s->disk_max_ms + 1);
            nd->disk_busy_until = done;
            ev *e = ev_new(s, done, EV_STORE, i);
            e->msg.u.proposal.block = a->u.commit.block;
            ev_push(s, e);
            break;
        }
        default:
            violation(s, "node %u emitted unknown action %d", i, a->type);
        }
    }
}

static void node_step(sim *s, uint32_t i, const cairn_input *in, uint32_t from_inst)
{
    node *nd = &s->nodes[i];
    int err = cairn_core_step(nd->core, in, &s->acts);
    if (s->trace && err) fprintf(s->trace, "  step inst=%u err=%s\n", i, cairn_err_name(err));
    if (err == CAIRN_EINTERNAL || err == CAIRN_EINVAL)
        violation(s, "node %u: core returned %s", i, cairn_err_name(err));
    /* An honest sender's message is never malformed. */
    if (in->type == CAIRN_IN_MESSAGE && s->nodes[from_inst].honest && nd->honest &&
        cairn_msg_epoch(in->u.msg) == nd->epoch &&
        (err == CAIRN_ECONS_MALFORMED || err == CAIRN_ECONS_CERT || err == CAIRN_ECONS_BLOCK_ID ||
         err == CAIRN_ECONS_EPOCH))
        violation(s, "node %u rejected honest node %u's message type %d: %s", i, from_inst,
                  in->u.msg->type, cairn_err_name(err));
    if (in->type == CAIRN_IN_SYNC_RESPONSE && s->nodes[from_inst].honest && nd->honest &&
        in->u.sync.resp->epoch == nd->epoch &&
        (err == CAIRN_ECONS_MALFORMED || err == CAIRN_ECONS_CERT || err == CAIRN_ECONS_BLOCK_ID))
        violation(s, "node %u rejected honest sync response: %s", i, cairn_err_name(err));
    apply_actions(s, i);
}

static void node_start(sim *s, uint32_t i)
{
    node *nd = &s->nodes[i];
    cairn_core_config cfg = nd->epoch == 2 ? s->cfg2 : s->cfg;
    cfg.self = nd->validator;
    memcpy(cfg.genesis_id, nd->egenesis.id, 32);
    cairn_core_restore rs;
    memset(&rs, 0, sizeof rs);
    rs.safety = nd->has_durable ? &nd->durable : NULL;
    rs.blocks = nd->stored;
    rs.n_blocks = nd->n_stored;
    if (nd->n_ledger > nd->base) {
        rs.root = nd->ledger[nd->n_ledger - 1].block;
        rs.root_qc = nd->ledger[nd->n_ledger - 1].qc;
    } else {
        rs.root = nd->egenesis;
        rs.root_qc = nd->egenesis_qc;
    }
    if (cairn_core_init(nd->core, &cfg, &rs) != 0) violation(s, "node %u: init failed", i);
    nd->up = 1;
    nd->incarnation++;
    nd->disk_busy_until = s->now;
    cairn_input in = {.type = CAIRN_IN_TICK, .now_ms = s->now};
    node_step(s, i, &in, i);
}

static void handle_event(sim *s, ev *e)
{
    node *nd = &s->nodes[e->inst];
    if (e->kind == EV_RESTART) {
        if (!nd->up && !nd->dead) node_start(s, e->inst);
        return;
    }
    if (!nd->up || e->incarnation != nd->incarnation) {
        /* A message in flight reaches a node that restarted: still delivered (the network does
         * not know about incarnations); local events of an old incarnation are lost. */
        if (!nd->up || e->kind != EV_MSG) return;
    }
    cairn_input in;
    memset(&in, 0, sizeof in);
    in.now_ms = s->now;
    switch (e->kind) {
    case EV_MSG:
        /* A peer still in the old epoch gets the proof that the epoch ended. */
        if (cairn_msg_epoch(&e->msg) < nd->epoch) send_proof(s, e->inst, e->from_inst);
        in.type = CAIRN_IN_MESSAGE;
        in.u.msg = &e->msg;
        node_step(s, e->inst, &in, e->from_inst);
        break;
    case EV_NEXT_EPOCH: {
        /* Epoch 2 starts from a genesis every honest node derives from the RECONFIG block. */
        const cairn_block *last = &nd->ledger[nd->n_ledger - 1].block;
        nd->epoch = 2;
        nd->base = nd->n_ledger;
        cairn_core_genesis(2, last->id, &nd->egenesis, &nd->egenesis_qc);
        nd->has_durable = 0; /* the safety data of epoch 1 does not apply to epoch 2 */
        nd->n_stored = 0;
        nd->up = 0;
        node_start(s, e->inst);
        break;
    }
    case EV_SYNC_RESP:
        if (s->trace) {
            fprintf(s->trace, "  sync to=%u epoch=%llu n=%u:", e->inst,
                    (unsigned long long)e->sync->epoch, e->sync->n_blocks);
            for (uint32_t k = 0; k < e->sync->n_blocks; k++)
                fprintf(s->trace, " h%llu/r%llu/f%u", (unsigned long long)e->sync->blocks[k].height,
                        (unsigned long long)e->sync->blocks[k].round, e->sync->blocks[k].flags);
            fprintf(s->trace, " tail r%llu\n", (unsigned long long)e->sync->tail_qc.round);
        }
        in.type = CAIRN_IN_SYNC_RESPONSE;
        in.u.sync.resp = e->sync;
        in.u.sync.from = s->nodes[e->from_inst].validator;
        node_step(s, e->inst, &in, e->from_inst);
        break;
    case EV_TIMER:
        if (e->arg != nd->timer_gen) return;
        in.type = CAIRN_IN_TICK;
        node_step(s, e->inst, &in, e->inst);
        break;
    case EV_PERSIST:
        nd->durable = e->safety;
        nd->has_durable = 1;
        in.type = CAIRN_IN_PERSIST_DONE;
        in.u.token = e->arg;
        node_step(s, e->inst, &in, e->inst);
        break;
    case EV_PAYLOAD: {
        in.type = CAIRN_IN_PAYLOAD;
        in.u.payload.round = e->arg;
        uint8_t seed[16];
        memcpy(seed, &e->arg, 8);
        memcpy(seed + 8, &e->inst, 4);
        memcpy(seed + 12, &s->seq, 4);
        cairn_sha256_oneshot(in.u.payload.digest, seed, sizeof seed);
        if (s->scenario == SIM_EPOCH && nd->epoch == 1 && e->arg >= s->reconfig_round)
            in.u.payload.flags = CAIRN_BLOCK_F_RECONFIG;
        node_step(s, e->inst, &in, e->inst);
        break;
    }
    case EV_PAYLOAD_READY:
        in.type = CAIRN_IN_PAYLOAD_READY;
        memcpy(in.u.block_id, e->id, 32);
        node_step(s, e->inst, &in, e->inst);
        break;
    case EV_STORE: {
        /* Durable now; blocks at or below the committed height are dropped on the way. */
        size_t keep = 0;
        for (size_t k = 0; k < nd->n_stored; k++)
            if (nd->stored[k].height > nd->n_ledger) nd->stored[keep++] = nd->stored[k];
        nd->n_stored = keep;
        if (nd->n_stored == nd->cap_stored) {
            nd->cap_stored = nd->cap_stored ? nd->cap_stored * 2 : 32;
            nd->stored = xrealloc(nd->stored, nd->cap_stored * sizeof *nd->stored);
        }
        nd->stored[nd->n_stored++] = e->msg.u.proposal.block;
        break;
    }
    case EV_CRASH:
        if (nd->up) {
            nd->up = 0;
            nd->incarnation++; /* drops its timers, persists in flight and payload answers */
        }
        break;
    default:
        break;
    }
}

/* ---- scenarios ---- */

static const char *const names[SIM_N_SCENARIOS] = {"happy", "lossy", "crash", "byzantine",
                                                   "twins", "dead",  "epoch"};

const char *sim_scenario_name(int scenario)
{
    return scenario >= 0 && scenario < SIM_N_SCENARIOS ? names[scenario] : "?";
}

int sim_scenario_parse(const char *name)
{
    for (int i = 0; i < SIM_N_SCENARIOS; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

static void setup(sim *s, uint64_t seed, int scenario)
{
    s->rng = seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL;
    if (s->rng == 0) s->rng = 1;
    for (int k = 0; k < 4; k++) rnd(s);
    s->scenario = scenario;
    static const uint32_t sizes[] = {4, 4, 7, 10};
    s->n = sizes[rnd_below(s, 4)];
    uint32_t f = (s->n - 1) / 3;
    memset(&s->cfg, 0, sizeof s->cfg);
    s->cfg.epoch = 1;
    s->cfg.n_validators = s->n;
    for (uint32_t v = 0; v < s->n; v++) s->cfg.power[v] = 1;
    s->cfg.leader_reputation = scenario == SIM_DEAD ? 1 : (int)rnd_below(s, 2);
    s->cfg.payload_ready_by_default = (int)rnd_below(s, 2);
    uint8_t gseed[32] = {0};
    memcpy(gseed, &seed, sizeof seed);
    cairn_core_genesis(1, gseed, &s->genesis, &s->genesis_qc);
    memcpy(s->cfg.genesis_id, s->genesis.id, 32);

    s->dmin = 1;
    s->dmax = 20;
    s->loss_pct = 0;
    s->dup_pct = 0;
    s->disk_max_ms = 5;
    s->gst = 1000 + rnd_below(s, 2000);
    if (scenario != SIM_HAPPY && scenario != SIM_DEAD) {
        s->dmax = 20 + (uint32_t)rnd_below(s, 300);
        s->loss_pct = (uint32_t)rnd_below(s, 25);
        s->dup_pct = (uint32_t)rnd_below(s, 10);
        s->gst = 2000 + rnd_below(s, 8000);
    }
    if (scenario == SIM_CRASH) {
        s->disk_max_ms = 10 + (uint32_t)rnd_below(s, 300);
    }

    s->n_inst = s->n;
    for (uint32_t v = 0; v < s->n; v++) {
        s->nodes[v].validator = v;
        s->nodes[v].honest = 1;
    }
    if (scenario == SIM_EPOCH) {
        s->cfg2 = s->cfg;
        s->cfg2.epoch = 2;
        s->cfg2.power[0] = 2;
        s->reconfig_round = 2 + rnd_below(s, 30);
    }
    if (scenario == SIM_CRASH) {
        s->crash_after_speak_pct = (uint32_t)rnd_below(s, 10);
        s->crashes_left = 6;
    }
    if (scenario == SIM_CRASH && f > 0 && chance(s, 50)) {
        /* Half the crash runs add one equivocating leader, so a node that lost its safety data
         * in a crash would meet a second block for a round it already voted in. */
        uint32_t v = (uint32_t)rnd_below(s, s->n);
        s->nodes[v].honest = 0;
        s->nodes[v].byz = BYZ_EQUIVOCATE;
    }
    if (scenario == SIM_BYZANTINE) {
        for (uint32_t k = 0; k < f; k++) {
            uint32_t v = (uint32_t)rnd_below(s, s->n);
            s->nodes[v].honest = 0;
            s->nodes[v].byz = 1 + (int)rnd_below(s, 15);
        }
    }
    if (scenario == SIM_TWINS) {
        s->twins = 1;
        uint32_t t = 1 + (uint32_t)rnd_below(s, f);
        for (uint32_t k = 0; k < t; k++) {
            uint32_t v = (uint32_t)rnd_below(s, s->n);
            if (!s->nodes[v].honest) continue;
            s->nodes[v].honest = 0;
            node *tw = &s->nodes[s->n_inst++];
            tw->validator = v;
            tw->honest = 0;
        }
        /* Scripted partitions: for each round, every instance lands in one of two groups. */
        for (int r = 0; r < TWINS_MAX_RND; r++)
            for (uint32_t i = 0; i < s->n_inst; i++)
                s->twins_group[r][i] = (uint8_t)rnd_below(s, 2);
        s->gst = 3000 + rnd_below(s, 6000);
    }
    if (scenario == SIM_DEAD) {
        uint32_t v = (uint32_t)rnd_below(s, s->n);
        s->nodes[v].dead = 1;
        s->nodes[v].honest = 0;
        s->gst = 0;
    }
    for (uint32_t i = 0; i < s->n_inst; i++) {
        s->nodes[i].core = calloc(1, sizeof(cairn_core));
        if (!s->nodes[i].core) abort();
        s->nodes[i].epoch = 1;
        s->nodes[i].egenesis = s->genesis;
        s->nodes[i].egenesis_qc = s->genesis_qc;
    }
    /* Start times spread over the first 50 ms. */
    for (uint32_t i = 0; i < s->n_inst; i++) {
        if (s->nodes[i].dead) continue;
        ev *e = ev_new(s, rnd_below(s, 50), EV_RESTART, i);
        ev_push(s, e);
    }
    if (scenario == SIM_CRASH) {
        uint32_t crashes = 1 + (uint32_t)rnd_below(s, 2 * s->n);
        for (uint32_t k = 0; k < crashes; k++) {
            uint32_t i = (uint32_t)rnd_below(s, s->n);
            uint64_t at = 60 + rnd_below(s, s->gst);
            uint64_t back = at + 1 + rnd_below(s, 2000);
            if (back >= s->gst) back = s->gst;
            ev_push(s, ev_new(s, at, EV_CRASH, i));
            ev_push(s, ev_new(s, back, EV_RESTART, i));
        }
    }
}

static void reshuffle_partition(sim *s)
{
    if (s->twins || s->scenario == SIM_HAPPY || s->scenario == SIM_DEAD) return;
    if (s->now < s->part_until || s->now >= s->gst) return;
    if (!chance(s, 2)) return;
    for (uint32_t i = 0; i < s->n_inst; i++) s->part_group[i] = (uint8_t)rnd_below(s, 2);
    s->part_until = s->now + 100 + rnd_below(s, 1500);
}

static int live_done(sim *s)
{
    if (s->now < s->gst) return 0;
    for (uint32_t i = 0; i < s->n_inst; i++)
        if (s->nodes[i].honest && s->nodes[i].commits_after_gst < LIVE_COMMITS) return 0;
    return 1;
}

void sim_run(uint64_t seed, int scenario, int flags, FILE *trace, sim_result *res)
{
    memset(res, 0, sizeof *res);
    sim *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->check_persist = !(flags & SIM_NO_PERSIST_CHECK);
    s->res = res;
    s->trace = trace;
    setup(s, seed, scenario);
    int gst_marked = 0;
    ev *e;
    while (!res->violation && (e = ev_pop(s))) {
        s->now = e->time;
        if (!gst_marked && s->now >= s->gst) {
            gst_marked = 1;
            for (uint32_t i = 0; i < s->n_inst; i++) {
                s->nodes[i].tc_at_gst = s->nodes[i].core->stat_tc_rounds;
                s->nodes[i].qc_at_gst = s->nodes[i].core->stat_qc_rounds;
            }
        }
        if (s->now > s->gst + LIVE_BOUND_MS) {
            violation(s,
                      "LIVENESS: an honest node committed fewer than %d blocks within %u ms "
                      "after GST",
                      LIVE_COMMITS, LIVE_BOUND_MS);
            ev_free(e);
            break;
        }
        reshuffle_partition(s);
        if (trace)
            fprintf(trace, "%llu ev=%d inst=%u from=%u msg=%d round=%llu\n",
                    (unsigned long long)s->now, e->kind, e->inst, e->from_inst,
                    e->kind == EV_MSG ? e->msg.type : 0,
                    (unsigned long long)(e->kind == EV_MSG ? msg_round(&e->msg) : e->arg));
        handle_event(s, e);
        ev_free(e);
        res->events++;
        if (live_done(s)) break;
    }
    if (!res->violation && !live_done(s))
        violation(s, "LIVENESS: event queue drained before every honest node committed");
    res->end_ms = s->now;
    if (trace)
        for (uint32_t i = 0; i < s->n_inst; i++)
            fprintf(trace, "node %u: epoch %llu ledger %llu (base %llu) round %llu honest %d\n", i,
                    (unsigned long long)s->nodes[i].epoch, (unsigned long long)s->nodes[i].n_ledger,
                    (unsigned long long)s->nodes[i].base,
                    (unsigned long long)s->nodes[i].core->round, s->nodes[i].honest);
    res->commits = UINT64_MAX;
    for (uint32_t i = 0; i < s->n_inst; i++) {
        node *nd = &s->nodes[i];
        if (nd->honest) {
            if (nd->n_ledger < res->commits) res->commits = nd->n_ledger;
            uint64_t tcr = nd->core->stat_tc_rounds - nd->tc_at_gst;
            uint64_t all = tcr + nd->core->stat_qc_rounds - nd->qc_at_gst;
            if (tcr > res->tc_rounds_after_gst) res->tc_rounds_after_gst = tcr;
            if (all > res->rounds_after_gst) res->rounds_after_gst = all;
        }
    }
    while ((e = ev_pop(s))) ev_free(e);
    for (uint32_t i = 0; i < s->n_inst; i++) {
        free(s->nodes[i].core);
        free(s->nodes[i].ledger);
        free(s->nodes[i].stored);
        free(s->nodes[i].proof);
    }
    free(s->heap);
    free(s->committed);
    free(s);
}
