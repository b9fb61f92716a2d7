/*
 * Consensus core under arbitrary input sequences: one core (validator 3 of 4) is fed proposals,
 * votes, timeouts, sync responses, ticks, persist completions and payloads built from the fuzz
 * bytes, mostly well-formed (ids hash correctly, parents come from a pool of earlier blocks) so
 * the fuzzer reaches deep states. It must never report an internal error, never lower its
 * safety data, and never let a vote, timeout or proposal out before the persist covering it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define POOL 16

typedef struct fz {
    const uint8_t *p;
    size_t n;
} fz;

static uint8_t byte(fz *f)
{
    if (f->n == 0) return 0;
    f->n--;
    return *f->p++;
}

typedef struct state {
    cairn_core core;
    cairn_actions out;
    cairn_block pool[POOL];
    cairn_qc pool_qc[POOL];
    size_t n_pool;
    cairn_safety_data issued[64]; /* by token % 64 */
    uint64_t issued_max;
    uint64_t durable_hvr;
} state;

static cairn_qc make_qc(const cairn_block *b, uint8_t signers)
{
    cairn_qc qc;
    memset(&qc, 0, sizeof qc);
    qc.epoch = b->epoch;
    qc.round = b->round;
    qc.height = b->height;
    memcpy(qc.block_id, b->id, 32);
    qc.signers = signers & 0x1f;
    return qc;
}

static void check_out(state *s)
{
    if (s->out.n > CAIRN_CONS_MAX_ACTIONS) abort();
    for (size_t i = 0; i < s->out.n; i++) {
        const cairn_action *a = &s->out.a[i];
        if (a->type == CAIRN_ACT_PERSIST) {
            if (a->u.persist.token != s->issued_max + 1) abort(); /* tokens in order */
            s->issued_max = a->u.persist.token;
            s->issued[a->u.persist.token % 64] = a->u.persist.data;
        }
        if (a->type == CAIRN_ACT_SEND || a->type == CAIRN_ACT_BROADCAST) {
            const cairn_msg *m = &a->u.msg;
            uint64_t r = m->type == CAIRN_MSG_VOTE       ? m->u.vote.round
                         : m->type == CAIRN_MSG_TIMEOUT  ? m->u.timeout.round
                         : m->type == CAIRN_MSG_PROPOSAL ? m->u.proposal.block.round
                                                         : 0;
            if (r > s->durable_hvr) abort(); /* spoke before the persist completed */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    state *s = calloc(1, sizeof *s);
    if (!s) return 0;
    fz f = {data, size};
    uint8_t seed[32] = {1};
    cairn_block g;
    cairn_qc gqc;
    cairn_core_genesis(1, seed, &g, &gqc);
    cairn_core_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.epoch = 1;
    cfg.n_validators = 4;
    cfg.self = 3;
    for (int i = 0; i < 4; i++) cfg.power[i] = 1;
    memcpy(cfg.genesis_id, g.id, 32);
    cfg.leader_reputation = byte(&f) & 1;
    cfg.payload_ready_by_default = byte(&f) & 1;
    cairn_core_restore rs = {.root = g, .root_qc = gqc};
    if (cairn_core_init(&s->core, &cfg, &rs) != 0) abort();
    s->pool[0] = g;
    s->pool_qc[0] = gqc;
    s->n_pool = 1;
    uint64_t now = 0;
    while (f.n > 0) {
        cairn_input in;
        memset(&in, 0, sizeof in);
        cairn_msg m;
        memset(&m, 0, sizeof m);
        cairn_sync_response *sync = NULL;
        now += byte(&f) * 16u;
        in.now_ms = now;
        uint8_t kind = byte(&f) % 8;
        const cairn_block *parent = &s->pool[byte(&f) % s->n_pool];
        uint8_t signers = byte(&f);
        if (kind == 0 || kind == 1) { /* proposal */
            cairn_block *b = &m.u.proposal.block;
            b->epoch = 1;
            b->round = parent->round + 1 + (byte(&f) % 3);
            b->height = parent->height + 1;
            b->qc = s->pool_qc[parent - s->pool];
            b->qc.signers = parent->round == 0 ? 0 : (signers & 0x1f);
            uint32_t leader = cairn_core_leader(&s->core, b->round, &b->qc);
            b->proposer = kind == 0 && leader < 4 ? leader : byte(&f) % 4;
            memcpy(b->parent_id, parent->id, 32);
            b->payload[0] = byte(&f);
            b->flags = byte(&f) == 0xff ? CAIRN_BLOCK_F_RECONFIG : 0;
            cairn_block_compute_id(b, b->id);
            if (byte(&f) & 1) {
                m.u.proposal.has_tc = 1;
                m.u.proposal.tc.epoch = 1;
                m.u.proposal.tc.round = b->round - 1;
                m.u.proposal.tc.signers = byte(&f) & 0xf;
                for (int i = 0; i < 4; i++)
                    m.u.proposal.tc.hqc_rounds[i] = b->round > 1 ? byte(&f) % (b->round - 1) : 0;
            }
            m.type = CAIRN_MSG_PROPOSAL;
            m.sender = b->proposer;
            if (s->n_pool < POOL) {
                s->pool[s->n_pool] = *b;
                s->pool_qc[s->n_pool] = make_qc(b, 0x0f);
                s->n_pool++;
            } else {
                s->pool[1 + byte(&f) % (POOL - 1)] = *b;
            }
            in.type = CAIRN_IN_MESSAGE;
            in.u.msg = &m;
        } else if (kind == 2) { /* vote */
            m.type = CAIRN_MSG_VOTE;
            m.sender = byte(&f) % 5;
            m.u.vote.epoch = 1;
            m.u.vote.round = parent->round;
            m.u.vote.height = parent->height;
            memcpy(m.u.vote.block_id, parent->id, 32);
            in.type = CAIRN_IN_MESSAGE;
            in.u.msg = &m;
        } else if (kind == 3) { /* timeout */
            m.type = CAIRN_MSG_TIMEOUT;
            m.sender = byte(&f) % 4;
            m.u.timeout.epoch = 1;
            m.u.timeout.round = parent->round + 1 + byte(&f) % 3;
            m.u.timeout.high_qc = s->pool_qc[parent - s->pool];
            in.type = CAIRN_IN_MESSAGE;
            in.u.msg = &m;
        } else if (kind == 4) {
            in.type = CAIRN_IN_TICK;
        } else if (kind == 5) {
            in.type = CAIRN_IN_PERSIST_DONE;
            uint64_t t = s->issued_max ? 1 + byte(&f) % s->issued_max : 0;
            if (t + 64 <= s->issued_max) t = s->issued_max; /* stay within the kept window */
            in.u.token = t;
            /* The data of the newest persist <= t is durable now. */
            if (t > 0 && s->issued[t % 64].highest_vote_round > s->durable_hvr)
                s->durable_hvr = s->issued[t % 64].highest_vote_round;
        } else if (kind == 6) {
            in.type = byte(&f) & 1 ? CAIRN_IN_PAYLOAD : CAIRN_IN_PAYLOAD_READY;
            in.u.payload.round = s->core.round;
            in.u.payload.digest[0] = byte(&f);
            if (in.type == CAIRN_IN_PAYLOAD_READY) memcpy(in.u.block_id, parent->id, 32);
        } else { /* sync response: a pool block and its QC */
            sync = calloc(1, sizeof *sync);
            if (!sync) break;
            sync->epoch = 1;
            sync->n_blocks = 1;
            sync->blocks[0] = *parent;
            sync->tail_qc = s->pool_qc[parent - s->pool];
            in.type = CAIRN_IN_SYNC_RESPONSE;
            in.u.sync.resp = sync;
            in.u.sync.from = byte(&f) % 4;
        }
        uint64_t hvr = s->core.safety.highest_vote_round, lock = s->core.safety.highest_qc_round;
        int err = cairn_core_step(&s->core, &in, &s->out);
        free(sync);
        if (err == CAIRN_EINTERNAL || err == CAIRN_EINVAL) abort();
        if (err > 0) abort();
        if (s->core.safety.highest_vote_round < hvr || s->core.safety.highest_qc_round < lock)
            abort();
        check_out(s);
    }
    free(s);
    return 0;
}
