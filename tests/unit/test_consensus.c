/*
 * Consensus core: the safety rules as exact tables, then the core's behaviour on hand-built
 * inputs (persist before vote, rejections that change nothing, equivocation evidence, restart)
 * and on a zero-delay cluster (two-chain commit latency, capped back-off, sync catch-up, epoch
 * end, leader reputation around a dead validator).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "consensus/core.h"
#include "tests/sim/cluster.h"

/* ---- safety rules ---- */

static void test_safety_vote_rule(void **state)
{
    (void)state;
    cairn_safety_data s;
    memset(&s, 0, sizeof s);
    /* Direct extension of the QC of the previous round. */
    assert_int_equal(cairn_safety_may_vote(&s, 1, 0, NULL), 1);
    assert_int_equal(cairn_safety_may_vote(&s, 2, 0, NULL), 0); /* gap without TC */
    cairn_safety_record_vote(&s, 1, 0, (const uint8_t *)"abcdefghabcdefghabcdefghabcdefgh", 1);
    assert_int_equal(s.highest_vote_round, 1);
    assert_int_equal(s.last_vote_round, 1);
    assert_int_equal(cairn_safety_may_vote(&s, 1, 0, NULL), 0); /* never twice in a round */
    assert_int_equal(cairn_safety_may_vote(&s, 2, 1, NULL), 1);
    /* A TC of round 4 whose highest reported QC is round 3. */
    cairn_tc tc;
    memset(&tc, 0, sizeof tc);
    tc.round = 4;
    tc.signers = 0x7;
    tc.hqc_rounds[0] = 3;
    tc.hqc_rounds[1] = 2;
    tc.hqc_rounds[2] = 1;
    tc.hqc_rounds[5] = 9; /* not a signer: ignored */
    assert_int_equal(cairn_tc_max_hqc_round(&tc), 3);
    assert_int_equal(cairn_safety_may_vote(&s, 5, 3, &tc), 1); /* extends the highest */
    assert_int_equal(cairn_safety_may_vote(&s, 5, 2, &tc), 0); /* skips a reported QC */
    assert_int_equal(cairn_safety_may_vote(&s, 6, 3, &tc), 0); /* TC not of round - 1 */
    assert_int_equal(cairn_safety_may_vote(&s, 5, 4, NULL), 1);
    /* After a timeout in round 7, no vote in round 7. */
    cairn_safety_record_timeout(&s, 7);
    assert_int_equal(s.highest_vote_round, 7);
    assert_int_equal(cairn_safety_may_vote(&s, 7, 6, NULL), 0);
    assert_int_equal(cairn_safety_may_vote(&s, 8, 7, NULL), 1);
}

static void test_safety_timeout_rule(void **state)
{
    (void)state;
    cairn_safety_data s;
    memset(&s, 0, sizeof s);
    s.highest_qc_round = 3;
    s.highest_vote_round = 5;
    cairn_tc tc;
    memset(&tc, 0, sizeof tc);
    tc.round = 5;
    /* Entered round 6 through a TC of round 5, high QC 4. */
    assert_int_equal(cairn_safety_may_timeout(&s, 6, 4, &tc), 1);
    assert_int_equal(cairn_safety_may_timeout(&s, 6, 4, NULL), 0); /* no certificate for 5 */
    assert_int_equal(cairn_safety_may_timeout(&s, 5, 4, NULL), 1); /* round of last vote */
    assert_int_equal(cairn_safety_may_timeout(&s, 4, 3, NULL), 0); /* below last vote - 1 */
    assert_int_equal(cairn_safety_may_timeout(&s, 6, 2, &tc), 0);  /* QC below the lock */
    assert_int_equal(cairn_safety_may_timeout(&s, 4, 4, NULL), 0); /* QC not below round */
}

static void test_safety_commit_rule(void **state)
{
    (void)state;
    assert_int_equal(cairn_safety_commits_parent(8, 7), 1);
    assert_int_equal(cairn_safety_commits_parent(8, 6), 0);
    assert_int_equal(cairn_safety_commits_parent(8, 8), 0);
    assert_int_equal(cairn_safety_commits_parent(1, 0), 1);
}

/* ---- single core on hand-built inputs ---- */

typedef struct one {
    cairn_core core;
    cairn_actions out;
    cairn_block genesis;
    cairn_qc gqc;
    cairn_core_config cfg;
} one;

static void one_init(one *o, uint32_t self, const cairn_safety_data *safety)
{
    memset(o, 0, sizeof *o);
    uint8_t seed[32] = {7};
    cairn_core_genesis(1, seed, &o->genesis, &o->gqc);
    o->cfg.epoch = 1;
    o->cfg.n_validators = 4;
    o->cfg.self = self;
    for (int i = 0; i < 4; i++) o->cfg.power[i] = 1;
    memcpy(o->cfg.genesis_id, o->genesis.id, 32);
    o->cfg.payload_ready_by_default = 1;
    cairn_core_restore rs = {.safety = safety, .root = o->genesis, .root_qc = o->gqc};
    assert_int_equal(cairn_core_init(&o->core, &o->cfg, &rs), 0);
    cairn_input tick = {.type = CAIRN_IN_TICK, .now_ms = 0};
    assert_int_equal(cairn_core_step(&o->core, &tick, &o->out), 0);
}

static int step_msg(one *o, const cairn_msg *m)
{
    cairn_input in = {.type = CAIRN_IN_MESSAGE, .now_ms = 10};
    in.u.msg = m;
    return cairn_core_step(&o->core, &in, &o->out);
}

static size_t count(const cairn_actions *a, int type)
{
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++) k += a->a[i].type == type;
    return k;
}

static const cairn_action *find(const cairn_actions *a, int type)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->a[i].type == type) return &a->a[i];
    return NULL;
}

/* A proposal for round 1 by its leader (validator 1), extending genesis. */
static cairn_msg proposal_r1(const one *o, uint8_t payload)
{
    cairn_msg m;
    memset(&m, 0, sizeof m);
    m.type = CAIRN_MSG_PROPOSAL;
    m.sender = 1;
    cairn_block *b = &m.u.proposal.block;
    b->epoch = 1;
    b->round = 1;
    b->height = 1;
    b->proposer = 1;
    b->qc = o->gqc;
    memcpy(b->parent_id, o->gqc.block_id, 32);
    b->payload[0] = payload;
    cairn_block_compute_id(b, b->id);
    return m;
}

static void test_vote_waits_for_persist(void **state)
{
    (void)state;
    one *o = calloc(1, sizeof *o);
    one_init(o, 3, NULL);
    assert_int_equal(o->core.round, 1);
    assert_int_equal(count(&o->out, CAIRN_ACT_SET_TIMER), 1);
    assert_int_equal(find(&o->out, CAIRN_ACT_SET_TIMER)->u.deadline_ms,
                     CAIRN_CONS_ROUND_TIMEOUT_BASE_MS);
    cairn_msg p = proposal_r1(o, 1);
    assert_int_equal(step_msg(o, &p), 0);
    /* Store the block, persist the vote, and send nothing yet. */
    assert_int_equal(count(&o->out, CAIRN_ACT_STORE_BLOCK), 1);
    assert_int_equal(count(&o->out, CAIRN_ACT_PERSIST), 1);
    assert_int_equal(count(&o->out, CAIRN_ACT_SEND) + count(&o->out, CAIRN_ACT_BROADCAST), 0);
    const cairn_action *pa = find(&o->out, CAIRN_ACT_PERSIST);
    uint64_t token = pa->u.persist.token;
    assert_int_equal(pa->u.persist.data.highest_vote_round, 1);
    assert_int_equal(pa->u.persist.data.last_vote_round, 1);
    assert_memory_equal(pa->u.persist.data.last_vote_block, p.u.proposal.block.id, 32);
    /* A tick before the persist completes releases nothing. */
    cairn_input tick = {.type = CAIRN_IN_TICK, .now_ms = 20};
    assert_int_equal(cairn_core_step(&o->core, &tick, &o->out), 0);
    assert_int_equal(count(&o->out, CAIRN_ACT_SEND), 0);
    cairn_input done = {.type = CAIRN_IN_PERSIST_DONE, .now_ms = 30};
    done.u.token = token;
    assert_int_equal(cairn_core_step(&o->core, &done, &o->out), 0);
    assert_int_equal(o->out.n, 1);
    const cairn_action *s = &o->out.a[0];
    assert_int_equal(s->type, CAIRN_ACT_SEND);
    assert_int_equal(s->to, 2); /* the leader of round 2 */
    assert_int_equal(s->u.msg.type, CAIRN_MSG_VOTE);
    assert_int_equal(s->u.msg.sender, 3);
    assert_int_equal(s->u.msg.u.vote.round, 1);
    assert_int_equal(s->u.msg.u.vote.height, 1);
    assert_memory_equal(s->u.msg.u.vote.block_id, p.u.proposal.block.id, 32);
    /* The same proposal again: no second vote. */
    assert_int_equal(step_msg(o, &p), 0);
    assert_int_equal(count(&o->out, CAIRN_ACT_PERSIST), 0);
    free(o);
}

static void test_rejections_change_nothing(void **state)
{
    (void)state;
    one *o = calloc(1, sizeof *o);
    one_init(o, 3, NULL);
    cairn_core before = o->core;
    cairn_msg p = proposal_r1(o, 1);

    cairn_msg m = p;
    m.u.proposal.block.payload[1] = 9; /* id no longer matches */
    assert_int_equal(step_msg(o, &m), CAIRN_ECONS_BLOCK_ID);
    m = p;
    m.u.proposal.block.epoch = 2;
    cairn_block_compute_id(&m.u.proposal.block, m.u.proposal.block.id);
    assert_int_equal(step_msg(o, &m), CAIRN_ECONS_EPOCH);
    m = p;
    m.sender = 2;
    m.u.proposal.block.proposer = 2; /* validator 2 does not lead round 1 */
    cairn_block_compute_id(&m.u.proposal.block, m.u.proposal.block.id);
    assert_int_equal(step_msg(o, &m), CAIRN_ECONS_NOT_LEADER);
    m = p;
    m.sender = 4;
    assert_int_equal(step_msg(o, &m), CAIRN_ECONS_SENDER);
    m = p;
    m.sender = 0; /* sender is not the block's proposer */
    assert_int_equal(step_msg(o, &m), CAIRN_ECONS_MALFORMED);

    /* A round-2 proposal whose QC on round 1 has too few signers (quorum of 4 is 3). */
    cairn_msg q;
    memset(&q, 0, sizeof q);
    q.type = CAIRN_MSG_PROPOSAL;
    q.sender = 2;
    cairn_block *b = &q.u.proposal.block;
    b->epoch = 1;
    b->round = 2;
    b->height = 2;
    b->proposer = 2;
    b->qc.epoch = 1;
    b->qc.round = 1;
    b->qc.height = 1;
    memcpy(b->qc.block_id, p.u.proposal.block.id, 32);
    memcpy(b->parent_id, b->qc.block_id, 32);
    b->qc.signers = 0x3;
    cairn_block_compute_id(b, b->id);
    assert_int_equal(step_msg(o, &q), CAIRN_ECONS_CERT);
    b->qc.signers = 0x7 | 1ULL << 4; /* a signer beyond the set */
    cairn_block_compute_id(b, b->id);
    assert_int_equal(step_msg(o, &q), CAIRN_ECONS_CERT);
    b->qc.signers = 0x7;
    b->height = 3; /* not qc.height + 1 */
    cairn_block_compute_id(b, b->id);
    assert_int_equal(step_msg(o, &q), CAIRN_ECONS_MALFORMED);

    /* A timeout whose QC is not below its round, one with a weak TC. */
    cairn_msg t;
    memset(&t, 0, sizeof t);
    t.type = CAIRN_MSG_TIMEOUT;
    t.sender = 0;
    t.u.timeout.epoch = 1;
    t.u.timeout.round = 1;
    t.u.timeout.high_qc = b->qc;
    assert_int_equal(step_msg(o, &t), CAIRN_ECONS_MALFORMED);
    t.u.timeout.round = 3;
    t.u.timeout.has_tc = 1;
    t.u.timeout.last_tc.epoch = 1;
    t.u.timeout.last_tc.round = 2;
    t.u.timeout.last_tc.signers = 0x1;
    assert_int_equal(step_msg(o, &t), CAIRN_ECONS_CERT);

    assert_int_equal(o->out.n, 0);
    assert_int_equal(o->core.round, before.round);
    assert_memory_equal(&o->core.safety, &before.safety, sizeof before.safety);
    assert_memory_equal(o->core.tree, before.tree, sizeof before.tree);
    free(o);
}

static void test_equivocation_evidence(void **state)
{
    (void)state;
    one *o = calloc(1, sizeof *o);
    one_init(o, 3, NULL);
    cairn_msg a = proposal_r1(o, 1), b = proposal_r1(o, 2);
    assert_int_equal(step_msg(o, &a), 0);
    assert_int_equal(step_msg(o, &b), CAIRN_ECONS_EQUIVOCATION);
    assert_int_equal(o->out.n, 1);
    const cairn_evidence *ev = &o->out.a[0].u.evidence;
    assert_int_equal(o->out.a[0].type, CAIRN_ACT_EVIDENCE);
    assert_int_equal(ev->kind, CAIRN_MSG_PROPOSAL);
    assert_int_equal(ev->offender, 1);
    assert_int_equal(ev->round, 1);
    assert_memory_equal(ev->blocks[0].id, a.u.proposal.block.id, 32);
    assert_memory_equal(ev->blocks[1].id, b.u.proposal.block.id, 32);

    /* Two votes of validator 0 for round 1, different blocks. */
    cairn_msg v;
    memset(&v, 0, sizeof v);
    v.type = CAIRN_MSG_VOTE;
    v.sender = 0;
    v.u.vote.epoch = 1;
    v.u.vote.round = 1;
    v.u.vote.height = 1;
    memcpy(v.u.vote.block_id, a.u.proposal.block.id, 32);
    assert_int_equal(step_msg(o, &v), 0);
    assert_int_equal(step_msg(o, &v), 0); /* a duplicate is not evidence */
    assert_int_equal(o->out.n, 0);
    cairn_msg v2 = v;
    memcpy(v2.u.vote.block_id, b.u.proposal.block.id, 32);
    assert_int_equal(step_msg(o, &v2), CAIRN_ECONS_EQUIVOCATION);
    assert_int_equal(o->out.n, 1);
    assert_int_equal(o->out.a[0].u.evidence.kind, CAIRN_MSG_VOTE);
    assert_int_equal(o->out.a[0].u.evidence.offender, 0);
    assert_memory_equal(&o->out.a[0].u.evidence.votes[0], &v.u.vote, sizeof v.u.vote);
    assert_memory_equal(&o->out.a[0].u.evidence.votes[1], &v2.u.vote, sizeof v2.u.vote);
    free(o);
}

static void test_restart_keeps_vote(void **state)
{
    (void)state;
    one *o = calloc(1, sizeof *o);
    one_init(o, 3, NULL);
    cairn_msg a = proposal_r1(o, 1);
    assert_int_equal(step_msg(o, &a), 0);
    cairn_safety_data durable = find(&o->out, CAIRN_ACT_PERSIST)->u.persist.data;
    /* Crash after the persist; restart from the durable data. */
    one_init(o, 3, &durable);
    assert_int_equal(o->core.round, 1);
    assert_int_equal(o->core.safety.highest_vote_round, 1);
    assert_int_equal(step_msg(o, &a), 0);
    assert_int_equal(count(&o->out, CAIRN_ACT_PERSIST), 0); /* no second vote */
    assert_int_equal(count(&o->out, CAIRN_ACT_SEND), 0);
    free(o);
}

/* The votes for a block can reach the next leader before the block does (they travel on
 * other links). The leader forms the QC and enters the round, but it cannot propose on a block
 * it lacks: it asks for its payload only when the block arrives, and keeps that block although
 * its round is over. */
static void test_votes_overtake_proposal(void **state)
{
    (void)state;
    one *o = calloc(1, sizeof *o);
    one_init(o, 2, NULL); /* round robin: validator 2 leads round 2 */
    cairn_msg p = proposal_r1(o, 1);
    const cairn_block *b1 = &p.u.proposal.block;
    for (uint32_t v = 0; v < 4; v++) {
        if (v == 2) continue;
        cairn_msg m;
        memset(&m, 0, sizeof m);
        m.type = CAIRN_MSG_VOTE;
        m.sender = v;
        m.u.vote = (cairn_vote){.epoch = 1, .round = 1, .height = 1};
        memcpy(m.u.vote.block_id, b1->id, 32);
        assert_int_equal(step_msg(o, &m), 0);
    }
    assert_int_equal(o->core.round, 2);
    assert_int_equal(o->core.safety.high_qc.round, 1);
    assert_int_equal(count(&o->out, CAIRN_ACT_NEED_PAYLOAD), 0); /* block 1 unknown */
    /* The proposal arrives a round late: stored, not voted on, and the leader now proposes. */
    assert_int_equal(step_msg(o, &p), 0);
    assert_int_equal(count(&o->out, CAIRN_ACT_STORE_BLOCK), 1);
    assert_int_equal(count(&o->out, CAIRN_ACT_PERSIST), 0);
    assert_int_equal(count(&o->out, CAIRN_ACT_SEND), 0);
    const cairn_action *a = find(&o->out, CAIRN_ACT_NEED_PAYLOAD);
    assert_non_null(a);
    assert_int_equal(a->u.round, 2);
    assert_non_null(cairn_core_find_block(&o->core, b1->id));
    /* A second copy is stale; it asks for nothing again. */
    assert_int_equal(step_msg(o, &p), CAIRN_ECONS_STALE);
    assert_int_equal(o->out.n, 0);
    cairn_input in = {.type = CAIRN_IN_PAYLOAD, .now_ms = 20};
    in.u.payload.round = 2;
    in.u.payload.digest[0] = 9;
    assert_int_equal(cairn_core_step(&o->core, &in, &o->out), 0);
    a = find(&o->out, CAIRN_ACT_PERSIST);
    assert_non_null(a);
    cairn_input done = {.type = CAIRN_IN_PERSIST_DONE, .now_ms = 20};
    done.u.token = a->u.persist.token;
    assert_int_equal(cairn_core_step(&o->core, &done, &o->out), 0);
    a = find(&o->out, CAIRN_ACT_BROADCAST);
    assert_non_null(a);
    assert_int_equal(a->u.msg.type, CAIRN_MSG_PROPOSAL);
    assert_int_equal(a->u.msg.u.proposal.block.round, 2);
    assert_memory_equal(a->u.msg.u.proposal.block.parent_id, b1->id, 32);
    free(o);
}

static void test_sync_response_checked_first(void **state)
{
    (void)state;
    one *o = calloc(1, sizeof *o);
    cairn_sync_response *r = calloc(1, sizeof *r);
    one_init(o, 3, NULL);
    cairn_core before = o->core;
    cairn_msg p1 = proposal_r1(o, 1);
    /* Block 2 (round 2, leader 2) on block 1, certified by 3 of 4. */
    cairn_block b2;
    memset(&b2, 0, sizeof b2);
    b2.epoch = 1;
    b2.round = 2;
    b2.height = 2;
    b2.proposer = 2;
    b2.qc.epoch = 1;
    b2.qc.round = 1;
    b2.qc.height = 1;
    b2.qc.signers = 0x7;
    memcpy(b2.qc.block_id, p1.u.proposal.block.id, 32);
    memcpy(b2.parent_id, b2.qc.block_id, 32);
    cairn_block_compute_id(&b2, b2.id);
    r->epoch = 1;
    r->n_blocks = 2;
    r->blocks[0] = p1.u.proposal.block;
    r->blocks[1] = b2;
    r->tail_qc.epoch = 1;
    r->tail_qc.round = 2;
    r->tail_qc.height = 2;
    r->tail_qc.signers = 0xb;
    memcpy(r->tail_qc.block_id, b2.id, 32);
    cairn_input in = {.type = CAIRN_IN_SYNC_RESPONSE, .now_ms = 5};
    in.u.sync.resp = r;
    in.u.sync.from = 1;

    /* Broken link, bad id, wrong order, weak tail QC, tail QC on another block, unknown sender:
     * rejected, nothing changes. */
    r->blocks[1].parent_id[0] ^= 1;
    assert_int_equal(cairn_core_step(&o->core, &in, &o->out), CAIRN_ECONS_MALFORMED);
    r->blocks[1] = b2;
    r->blocks[1].payload[0] ^= 1;
    assert_int_equal(cairn_core_step(&o->core, &in, &o->out), CAIRN_ECONS_BLOCK_ID);
    r->blocks[1] = b2;
    r->blocks[0] = b2; /* blocks out of order */
    r->blocks[1] = p1.u.proposal.block;
    assert_int_equal(cairn_core_step(&o->core, &in, &o->out), CAIRN_ECONS_MALFORMED);
    r->blocks[0] = p1.u.proposal.block;
    r->blocks[1] = b2;
    r->tail_qc.signers = 0x3;
    assert_int_equal(cairn_core_step(&o->core, &in, &o->out), CAIRN_ECONS_CERT);
    r->tail_qc.signers = 0xb;
    r->tail_qc.block_id[0] ^= 1;
    assert_int_equal(cairn_core_step(&o->core, &in, &o->out), CAIRN_ECONS_CERT);
    r->tail_qc.block_id[0] ^= 1;
    in.u.sync.from = 4;
    assert_int_equal(cairn_core_step(&o->core, &in, &o->out), CAIRN_ECONS_SENDER);
    assert_int_equal(o->out.n, 0);
    assert_memory_equal(&o->core.safety, &before.safety, sizeof before.safety);
    assert_memory_equal(o->core.tree, before.tree, sizeof before.tree);

    /* The valid response: both blocks stored, round 3 entered, nothing committed yet (rounds 1
     * and 2 are consecutive, so block 1 commits only once block 2's QC is processed: it is). */
    in.u.sync.from = 1;
    assert_int_equal(cairn_core_step(&o->core, &in, &o->out), 0);
    assert_int_equal(count(&o->out, CAIRN_ACT_STORE_BLOCK), 2);
    assert_int_equal(count(&o->out, CAIRN_ACT_COMMIT), 1);
    assert_memory_equal(find(&o->out, CAIRN_ACT_COMMIT)->u.commit.block.id, p1.u.proposal.block.id,
                        32);
    assert_int_equal(o->core.round, 3);
    assert_int_equal(o->core.safety.high_qc.round, 2);
    assert_int_equal(o->core.root.height, 1);
    free(r);
    free(o);
}

static void test_init_rejects_bad_config(void **state)
{
    (void)state;
    one *o = calloc(1, sizeof *o);
    one_init(o, 0, NULL);
    cairn_core_restore rs = {.root = o->genesis, .root_qc = o->gqc};
    cairn_core_config cfg = o->cfg;
    cfg.n_validators = 0;
    assert_int_equal(cairn_core_init(&o->core, &cfg, &rs), CAIRN_EINVAL);
    cfg = o->cfg;
    cfg.self = 4;
    assert_int_equal(cairn_core_init(&o->core, &cfg, &rs), CAIRN_EINVAL);
    cfg = o->cfg;
    cfg.power[2] = 0;
    assert_int_equal(cairn_core_init(&o->core, &cfg, &rs), CAIRN_EINVAL);
    cfg = o->cfg;
    cfg.epoch = 2; /* root from another epoch */
    assert_int_equal(cairn_core_init(&o->core, &cfg, &rs), CAIRN_EINVAL);
    free(o);
}

/* ---- zero-delay clusters ---- */

/* Every live node has committed the same first `height` blocks. */
static void assert_same_ledgers(const cluster *c, uint64_t height)
{
    uint32_t ref = 0;
    while (ref < c->n && (c->dead >> ref & 1)) ref++;
    assert_true(ref < c->n);
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->dead >> i & 1) continue;
        assert_true(c->nodes[i].n_ledger >= height);
        for (uint64_t h = 0; h < height; h++) {
            assert_int_equal(c->nodes[i].ledger[h].height, h + 1);
            assert_memory_equal(c->nodes[i].ledger[h].id, c->nodes[ref].ledger[h].id, 32);
        }
    }
}

/* With leader reputation every node derives a round's leader from the chain the proposal
 * extends, so all agree on it whenever they entered the round: a synchronous run has no
 * timeout, as with round robin, and the leaders are those the chain names. */
static void test_cluster_reputation_agrees(void **state)
{
    (void)state;
    cluster c;
    cl_init(&c, 4, 1);
    cl_start(&c);
    assert_int_equal(cl_run_until(&c, 60, 1000000), 1);
    assert_int_equal(c.step_error, 0);
    assert_same_ledgers(&c, 60);
    for (uint32_t i = 0; i < 4; i++) assert_int_equal(c.nodes[i].core.stat_tc_rounds, 0);
    for (uint64_t h = 0; h < 60; h++) assert_int_equal(c.nodes[0].ledger[h].round, h + 1);
    /* From round 3 on the window excludes the proposers of the last two blocks: nobody leads
     * two rounds of three in a row. */
    for (uint64_t h = 2; h < 60; h++) {
        uint32_t p = c.nodes[0].ledger[h].proposer;
        assert_int_not_equal(p, c.nodes[0].ledger[h - 1].proposer);
        assert_int_not_equal(p, c.nodes[0].ledger[h - 2].proposer);
    }
    /* Every node computes the same leader for the next round from the same QC. */
    uint32_t l0 = cairn_core_leader(&c.nodes[0].core, c.nodes[0].core.round, NULL);
    assert_true(l0 < 4);
    for (uint32_t i = 1; i < 4; i++) {
        assert_int_equal(c.nodes[i].core.round, c.nodes[0].core.round);
        assert_int_equal(cairn_core_leader(&c.nodes[i].core, c.nodes[i].core.round, NULL), l0);
    }
    /* After a timeout (QC older than the previous round) the leader is round robin. */
    cairn_qc old = c.nodes[0].core.safety.high_qc;
    old.round = c.nodes[0].core.round - 2;
    assert_int_equal(cairn_core_leader(&c.nodes[0].core, c.nodes[0].core.round, &old),
                     c.nodes[0].core.round % 4);
    /* A chain this node does not hold: no leader. */
    cairn_qc unknown = c.nodes[0].core.safety.high_qc;
    unknown.block_id[0] ^= 1;
    assert_int_equal(cairn_core_leader(&c.nodes[0].core, c.nodes[0].core.round, &unknown),
                     CAIRN_CONS_NO_LEADER);
    /* A restart from the root alone cannot name the reputation leader; with the committed
     * blocks below the root (cairn_core_restore.history) it names the same one. */
    const cl_node *n0 = &c.nodes[0];
    const cairn_block *root = &n0->core.root;
    const cairn_qc *root_qc = &n0->core.root_qc;
    uint32_t want = cairn_core_leader(&n0->core, root->round + 1, root_qc);
    assert_true(want < 4);
    cairn_core *k = calloc(1, sizeof *k);
    assert_non_null(k);
    cairn_core_restore rs = {.root = *root, .root_qc = *root_qc};
    assert_int_equal(cairn_core_init(k, &n0->core.cfg, &rs), 0);
    assert_int_equal(cairn_core_leader(k, root->round + 1, root_qc), CAIRN_CONS_NO_LEADER);
    rs.history = &n0->ledger[root->height - 1 - CAIRN_CONS_HISTORY_BLOCKS];
    rs.n_history = CAIRN_CONS_HISTORY_BLOCKS;
    assert_int_equal(cairn_core_init(k, &n0->core.cfg, &rs), 0);
    assert_int_equal(cairn_core_leader(k, root->round + 1, root_qc), want);
    free(k);
    cl_free(&c);
}

static void test_cluster_two_chain_latency(void **state)
{
    (void)state;
    cluster c;
    cl_init(&c, 4, 0);
    cl_start(&c);
    assert_int_equal(cl_run_until(&c, 50, 1000000), 1);
    assert_int_equal(c.step_error, 0);
    assert_same_ledgers(&c, 50);
    /* No timeouts in a synchronous run: block h has round h; a block commits two rounds after
     * its own, five message delays after its proposal left. */
    for (uint64_t h = 0; h < 50; h++) assert_int_equal(c.nodes[0].ledger[h].round, h + 1);
    assert_int_equal(c.nodes[0].core.stat_tc_rounds, 0);
    assert_int_equal(c.commit_round_sum, 2 * c.commit_samples);
    /* Five delays at a follower, four at the leader of round r + 2, which commits when it
     * forms the QC of round r + 1: node 0 leads rounds 4, 8, ..., 52, i.e. 13 of the 50. */
    assert_int_equal(c.commit_samples, 50);
    assert_int_equal(c.commit_depth_sum, 5 * 50 - 13);
    assert_int_equal(c.now, 0); /* no timer ever fired */
    cl_free(&c);
}

static void test_cluster_backoff_capped(void **state)
{
    (void)state;
    cluster c;
    cl_init(&c, 4, 0);
    c.drop_proposals = 1;
    cl_start(&c);
    /* Every round ends by TC; record when node 0 enters each round. */
    uint64_t entered[12] = {0}, r0 = c.nodes[0].core.round;
    size_t k = 0;
    while (k < 12 && cl_run_one(&c)) {
        if (c.nodes[0].core.round != r0) {
            r0 = c.nodes[0].core.round;
            entered[k++] = c.now;
        }
    }
    assert_int_equal(k, 12);
    assert_int_equal(c.step_error, 0);
    uint64_t expect[11] = {2000, 4000, 8000, 8000, 8000, 8000, 8000, 8000, 8000, 8000, 8000};
    assert_int_equal(entered[0], 1000);
    for (size_t i = 0; i < 11; i++) assert_int_equal(entered[i + 1] - entered[i], expect[i]);
    assert_int_equal(c.nodes[0].n_ledger, 0);
    /* Rounds that end with a QC reset the back-off. */
    c.drop_proposals = 0;
    assert_int_equal(cl_run_until(&c, 5, 1000000), 1);
    uint64_t t = c.now;
    assert_int_equal(cl_run_until(&c, 30, 1000000), 1);
    assert_int_equal(c.now, t);
    cl_free(&c);
}

static void test_cluster_sync_catch_up(void **state)
{
    (void)state;
    cluster c;
    cl_init(&c, 4, 0);
    c.isolated = 1ULL << 3;
    cl_start(&c);
    for (int k = 0; k < 200000 && c.nodes[0].n_ledger < 40; k++)
        assert_int_equal(cl_run_one(&c), 1);
    assert_int_equal(c.nodes[3].n_ledger, 0);
    c.isolated = 0;
    assert_int_equal(cl_run_until(&c, 80, 1000000), 1);
    assert_int_equal(c.step_error, 0);
    assert_same_ledgers(&c, 80);
    cl_free(&c);
}

static void test_cluster_epoch_end(void **state)
{
    (void)state;
    cluster c;
    cl_init(&c, 4, 0);
    c.reconfig_round = 5;
    cl_start(&c);
    while (cl_run_one(&c)) {
        int all = 1;
        for (uint32_t i = 0; i < 4; i++) all &= c.nodes[i].epoch_ended;
        if (all) break;
    }
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(c.nodes[i].epoch_ended, 1);
        assert_int_equal(c.nodes[i].core.ended, 1);
        /* The epoch's last block is the RECONFIG block at height 5. */
        assert_int_equal(c.nodes[i].n_ledger, 5);
        assert_int_equal(c.nodes[i].ledger[4].flags, CAIRN_BLOCK_F_RECONFIG);
    }
    assert_same_ledgers(&c, 5);
    /* An ended core ignores input. */
    cairn_input tick = {.type = CAIRN_IN_TICK, .now_ms = c.now + 100000};
    assert_int_equal(cairn_core_step(&c.nodes[0].core, &tick, &c.acts), 0);
    assert_int_equal(c.acts.n, 0);
    cl_free(&c);
}

/* Rounds that ended by timeout while 100 blocks commit with validator 3 dead; *late gets those
 * after the first 20 blocks. */
static uint64_t dead_validator_timeouts(int reputation, uint64_t *late)
{
    cluster c;
    cl_init(&c, 4, reputation);
    c.dead = 1ULL << 3;
    cl_start(&c);
    assert_int_equal(cl_run_until(&c, 20, 10000000), 1);
    uint64_t early = c.nodes[0].core.stat_tc_rounds;
    assert_int_equal(cl_run_until(&c, 100, 10000000), 1);
    assert_int_equal(c.step_error, 0);
    assert_same_ledgers(&c, 100);
    uint64_t tcs = c.nodes[1].core.stat_tc_rounds;
    *late = tcs - early;
    cl_free(&c);
    return tcs;
}

static void test_cluster_reputation_skips_dead(void **state)
{
    (void)state;
    uint64_t rr_late, rep_late;
    uint64_t rr = dead_validator_timeouts(0, &rr_late);
    uint64_t rep = dead_validator_timeouts(1, &rep_late);
    printf("# timeouts with a dead validator over 100 blocks: round robin %llu, reputation %llu\n",
           (unsigned long long)rr, (unsigned long long)rep);
    /* Round robin: per 4 rounds the dead leader's round and the round whose votes go to it
     * both end by timeout, and 2 blocks commit: one timeout per block. */
    assert_int_equal(rr, 100);
    /* Reputation: only validators that signed the last QC lead while the chain goes well. */
    assert_true(rep <= 2);
    assert_int_equal(rep_late, 0);
    assert_true(rr_late > 70);
}

/* A validator that dies while it leads in turn with the others: the first QC without it takes
 * it out of the rotation, so its death costs at most one round that ends by timeout (whichever
 * validator dies), and the chain goes on. */
/* A validator that votes (validator 0: the simulator delivers its votes first, so it is in every
 * QC) but never proposes: the round-robin rounds after each timeout commit, and its turns cost
 * one timeout each, not the chain (21 timeouts for 60 blocks when written). */
static void test_cluster_reputation_silent_leader(void **state)
{
    (void)state;
    cluster c;
    cl_init(&c, 4, 1);
    c.silent = 1ULL << 0;
    cl_start(&c);
    assert_int_equal(cl_run_until(&c, 60, 10000000), 1);
    assert_int_equal(c.step_error, 0);
    assert_same_ledgers(&c, 60);
    uint64_t tcs = c.nodes[1].core.stat_tc_rounds;
    printf("# a silent validator: %llu rounds ended by timeout for 60 blocks\n",
           (unsigned long long)tcs);
    assert_true(tcs <= 30);
    for (uint64_t h = 0; h < 60; h++) assert_int_not_equal(c.nodes[1].ledger[h].proposer, 0);
    cl_free(&c);
}

static void test_cluster_reputation_death_midway(void **state)
{
    (void)state;
    for (uint32_t d = 0; d < 4; d++) {
        cluster c;
        cl_init(&c, 4, 1);
        cl_start(&c);
        assert_int_equal(cl_run_until(&c, 30, 10000000), 1);
        const cairn_core *k = &c.nodes[(d + 1) % 4].core;
        assert_int_equal(k->stat_tc_rounds, 0);
        c.dead = 1ULL << d;
        assert_int_equal(cl_run_until(&c, 130, 10000000), 1);
        assert_int_equal(c.step_error, 0);
        assert_true(k->stat_tc_rounds <= 1);
        assert_same_ledgers(&c, 130);
        /* Blocks 40 and later: nobody proposed for the dead validator. */
        for (uint64_t h = 40; h < 130; h++)
            assert_int_not_equal(c.nodes[(d + 1) % 4].ledger[h].proposer, d);
        cl_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safety_vote_rule),
        cmocka_unit_test(test_safety_timeout_rule),
        cmocka_unit_test(test_safety_commit_rule),
        cmocka_unit_test(test_vote_waits_for_persist),
        cmocka_unit_test(test_rejections_change_nothing),
        cmocka_unit_test(test_equivocation_evidence),
        cmocka_unit_test(test_restart_keeps_vote),
        cmocka_unit_test(test_sync_response_checked_first),
        cmocka_unit_test(test_init_rejects_bad_config),
        cmocka_unit_test(test_cluster_two_chain_latency),
        cmocka_unit_test(test_cluster_backoff_capped),
        cmocka_unit_test(test_cluster_sync_catch_up),
        cmocka_unit_test(test_cluster_epoch_end),
        cmocka_unit_test(test_cluster_reputation_skips_dead),
        cmocka_unit_test(test_cluster_reputation_agrees),
        cmocka_unit_test(test_cluster_reputation_death_midway),
        cmocka_unit_test(test_cluster_reputation_silent_leader),
        cmocka_unit_test(test_votes_overtake_proposal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
