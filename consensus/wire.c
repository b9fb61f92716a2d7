/*
 * wire.c — consensus structs <-> ConsensusEnvelope (see wire.h for the rules).
 */
#include "consensus/wire.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/codec.h"
#include "proto/cairn/v1/consensus.pb-c.h"

#define BITMAP_LEN 8

/* ---- encoding ---------------------------------------------------------------------------- */

typedef struct qc_enc {
    Cairn__V1__QuorumCert m;
    uint8_t bitmap[BITMAP_LEN];
    ProtobufCBinaryData sigs[CAIRN_CONS_MAX_VALIDATORS];
} qc_enc;

typedef struct tc_enc {
    Cairn__V1__TimeoutCert m;
    Cairn__V1__TimeoutSignature ts[CAIRN_CONS_MAX_VALIDATORS];
    Cairn__V1__TimeoutSignature *tp[CAIRN_CONS_MAX_VALIDATORS];
} tc_enc;

typedef struct block_enc {
    Cairn__V1__ConsensusBlock m;
    qc_enc qc;
} block_enc;

static unsigned popcount64(uint64_t x)
{
    unsigned n = 0;
    for (; x; x &= x - 1) n++;
    return n;
}

static ProtobufCBinaryData bin(const uint8_t *p, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)p};
    return b;
}

static int qc_fill(qc_enc *e, const cairn_qc *qc, const cairn_wire_cert_sigs *s)
{
    cairn__v1__quorum_cert__init(&e->m);
    e->m.epoch = qc->epoch;
    e->m.round = qc->round;
    e->m.height = qc->height;
    e->m.block_id = bin(qc->block_id, 32);
    for (size_t i = 0; i < BITMAP_LEN; i++) e->bitmap[i] = (uint8_t)(qc->signers >> (8 * i));
    e->m.signer_bitmap = bin(e->bitmap, BITMAP_LEN);
    if (s && s->n > 0) {
        if (s->n != popcount64(qc->signers)) return CAIRN_EINVAL;
        for (uint32_t k = 0; k < s->n; k++) e->sigs[k] = bin(s->sig[k], CAIRN_WIRE_SIG_LEN);
        e->m.n_signatures = s->n;
        e->m.signatures = e->sigs;
    }
    return 0;
}

static int tc_fill(tc_enc *e, const cairn_tc *tc, const cairn_wire_cert_sigs *s)
{
    cairn__v1__timeout_cert__init(&e->m);
    e->m.epoch = tc->epoch;
    e->m.round = tc->round;
    int with_sigs = s && s->n > 0;
    if (with_sigs && s->n != popcount64(tc->signers)) return CAIRN_EINVAL;
    size_t k = 0;
    for (uint32_t i = 0; i < CAIRN_CONS_MAX_VALIDATORS; i++) {
        if (!((tc->signers >> i) & 1u)) continue;
        cairn__v1__timeout_signature__init(&e->ts[k]);
        e->ts[k].validator_index = i;
        e->ts[k].high_qc_round = tc->hqc_rounds[i];
        if (with_sigs) e->ts[k].signature = bin(s->sig[k], CAIRN_WIRE_SIG_LEN);
        e->tp[k] = &e->ts[k];
        k++;
    }
    e->m.n_signatures = k;
    e->m.signatures = e->tp;
    return 0;
}

static int block_fill(block_enc *e, const cairn_block *b, const cairn_wire_cert_sigs *qc_sigs)
{
    cairn__v1__consensus_block__init(&e->m);
    e->m.epoch = b->epoch;
    e->m.round = b->round;
    e->m.height = b->height;
    e->m.proposer_index = b->proposer;
    e->m.flags = b->flags;
    e->m.parent_id = bin(b->parent_id, 32);
    e->m.payload_digest = bin(b->payload, 32);
    e->m.id = bin(b->id, 32);
    int rc = qc_fill(&e->qc, &b->qc, qc_sigs);
    e->m.qc = &e->qc.m;
    return rc;
}

static int pack_env(const Cairn__V1__ConsensusEnvelope *env, cairn_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(&env->base);
    if (n > CAIRN_WIRE_MAX_BYTES) return CAIRN_ECONS_WIRE_TOO_BIG;
    uint8_t *tmp = malloc(n ? n : 1);
    if (!tmp) return CAIRN_ENOMEM;
    size_t w = protobuf_c_message_pack(&env->base, tmp);
    int rc = 0;
    if (w != n) {
        rc = CAIRN_EINTERNAL;
    } else {
        cairn_buf_put(out, tmp, n);
        rc = cairn_buf_finish(out);
    }
    free(tmp);
    return rc;
}

typedef struct msg_enc {
    Cairn__V1__ConsensusEnvelope env;
    Cairn__V1__Proposal prop;
    Cairn__V1__Vote vote;
    Cairn__V1__Timeout to;
    Cairn__V1__SyncRequest sr;
    block_enc blk;
    qc_enc qc;
    tc_enc tc;
} msg_enc;

int cairn_wire_encode_msg(const cairn_msg *m, const cairn_wire_sigs *sigs, cairn_buf *out)
{
    if (!m || !out) return CAIRN_EINVAL;
    msg_enc *e = calloc(1, sizeof *e);
    if (!e) return CAIRN_ENOMEM;
    cairn__v1__consensus_envelope__init(&e->env);
    const cairn_wire_cert_sigs *qs = sigs ? &sigs->qc : NULL;
    const cairn_wire_cert_sigs *ts = sigs ? &sigs->tc : NULL;
    ProtobufCBinaryData msig = {0, NULL};
    if (sigs && sigs->has_msg) msig = bin(sigs->msg, CAIRN_WIRE_SIG_LEN);
    int rc = 0;
    switch (m->type) {
    case CAIRN_MSG_PROPOSAL: {
        const cairn_proposal *p = &m->u.proposal;
        cairn__v1__proposal__init(&e->prop);
        e->prop.epoch = p->block.epoch;
        e->prop.round = p->block.round;
        e->prop.proposer_index = m->sender;
        e->prop.signature = msig;
        rc = block_fill(&e->blk, &p->block, qs);
        e->prop.consensus_block = &e->blk.m;
        if (rc == 0 && p->has_tc) {
            rc = tc_fill(&e->tc, &p->tc, ts);
            e->prop.last_round_tc = &e->tc.m;
        }
        e->env.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_PROPOSAL;
        e->env.proposal = &e->prop;
        break;
    }
    case CAIRN_MSG_VOTE: {
        const cairn_vote *v = &m->u.vote;
        cairn__v1__vote__init(&e->vote);
        e->vote.epoch = v->epoch;
        e->vote.round = v->round;
        e->vote.height = v->height;
        e->vote.block_id = bin(v->block_id, 32);
        e->vote.voter_index = m->sender;
        e->vote.signature = msig;
        e->env.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_VOTE;
        e->env.vote = &e->vote;
        break;
    }
    case CAIRN_MSG_TIMEOUT: {
        const cairn_timeout *t = &m->u.timeout;
        cairn__v1__timeout__init(&e->to);
        e->to.epoch = t->epoch;
        e->to.round = t->round;
        e->to.sender_index = m->sender;
        e->to.signature = msig;
        rc = qc_fill(&e->qc, &t->high_qc, qs);
        e->to.high_qc = &e->qc.m;
        if (rc == 0 && t->has_tc) {
            rc = tc_fill(&e->tc, &t->last_tc, ts);
            e->to.last_tc = &e->tc.m;
        }
        e->env.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_TIMEOUT;
        e->env.timeout = &e->to;
        break;
    }
    case CAIRN_MSG_SYNC_REQUEST: {
        const cairn_sync_request *s = &m->u.sync_request;
        cairn__v1__sync_request__init(&e->sr);
        e->sr.epoch = s->epoch;
        e->sr.from_height = s->from_height;
        e->sr.sender_index = m->sender;
        e->env.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_SYNC_REQUEST;
        e->env.sync_request = &e->sr;
        break;
    }
    default:
        rc = CAIRN_EINVAL;
    }
    if (rc == 0) rc = pack_env(&e->env, out);
    free(e);
    return rc;
}

typedef struct sync_enc {
    Cairn__V1__ConsensusEnvelope env;
    Cairn__V1__SyncResponse sr;
    Cairn__V1__CertifiedBlock cb[CAIRN_CONS_SYNC_MAX_BLOCKS];
    Cairn__V1__CertifiedBlock *cbp[CAIRN_CONS_SYNC_MAX_BLOCKS];
    block_enc blk[CAIRN_CONS_SYNC_MAX_BLOCKS];
    qc_enc tail;
} sync_enc;

int cairn_wire_encode_sync(const cairn_sync_response *r, const cairn_wire_sync_sigs *sigs,
                           cairn_buf *out)
{
    if (!r || !out || r->n_blocks > CAIRN_CONS_SYNC_MAX_BLOCKS) return CAIRN_EINVAL;
    sync_enc *e = calloc(1, sizeof *e);
    if (!e) return CAIRN_ENOMEM;
    cairn__v1__consensus_envelope__init(&e->env);
    cairn__v1__sync_response__init(&e->sr);
    e->sr.epoch = r->epoch;
    int rc = 0;
    for (uint32_t i = 0; i < r->n_blocks && rc == 0; i++) {
        cairn__v1__certified_block__init(&e->cb[i]);
        rc = block_fill(&e->blk[i], &r->blocks[i], sigs ? &sigs->block_qc[i] : NULL);
        e->cb[i].consensus_block = &e->blk[i].m;
        e->cbp[i] = &e->cb[i];
    }
    e->sr.n_blocks = r->n_blocks;
    e->sr.blocks = e->cbp;
    if (rc == 0) rc = qc_fill(&e->tail, &r->tail_qc, sigs ? &sigs->tail_qc : NULL);
    e->sr.tail_qc = &e->tail.m;
    e->env.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_SYNC_RESPONSE;
    e->env.sync_response = &e->sr;
    if (rc == 0) rc = pack_env(&e->env, out);
    free(e);
    return rc;
}

/* ---- decoding ---------------------------------------------------------------------------- */

static int dec_id(const ProtobufCBinaryData *b, uint8_t out[32])
{
    if (b->len != 32) return CAIRN_ECONS_WIRE_ID_LEN;
    memcpy(out, b->data, 32);
    return 0;
}

static int dec_index(uint32_t idx, uint32_t *out)
{
    if (idx >= CAIRN_CONS_MAX_VALIDATORS) return CAIRN_ECONS_SENDER;
    *out = idx;
    return 0;
}

/* Message signature: absent (empty) or CAIRN_WIRE_SIG_LEN bytes. */
static int dec_msg_sig(const ProtobufCBinaryData *b, cairn_wire_sigs *s)
{
    if (b->len == 0) return 0;
    if (b->len != CAIRN_WIRE_SIG_LEN) return CAIRN_ECONS_WIRE_SIG_LEN;
    if (s) {
        s->has_msg = 1;
        memcpy(s->msg, b->data, CAIRN_WIRE_SIG_LEN);
    }
    return 0;
}

static int dec_qc(const Cairn__V1__QuorumCert *m, cairn_qc *qc, cairn_wire_cert_sigs *s)
{
    if (!m) return CAIRN_ECONS_WIRE_MISSING;
    qc->epoch = m->epoch;
    qc->round = m->round;
    qc->height = m->height;
    int rc = dec_id(&m->block_id, qc->block_id);
    if (rc) return rc;
    if (m->signer_bitmap.len != BITMAP_LEN) return CAIRN_ECONS_WIRE_SIGNERS;
    uint64_t signers = 0;
    for (size_t i = 0; i < BITMAP_LEN; i++)
        signers |= (uint64_t)m->signer_bitmap.data[i] << (8 * i);
    qc->signers = signers;
    if (m->n_signatures > CAIRN_CONS_MAX_VALIDATORS) return CAIRN_ECONS_WIRE_TOO_MANY;
    if (m->n_signatures != 0 && m->n_signatures != popcount64(signers))
        return CAIRN_ECONS_WIRE_SIGNERS;
    for (size_t k = 0; k < m->n_signatures; k++) {
        if (m->signatures[k].len != CAIRN_WIRE_SIG_LEN) return CAIRN_ECONS_WIRE_SIG_LEN;
        if (s) memcpy(s->sig[k], m->signatures[k].data, CAIRN_WIRE_SIG_LEN);
    }
    if (s) s->n = (uint32_t)m->n_signatures;
    return 0;
}

static int dec_tc(const Cairn__V1__TimeoutCert *m, cairn_tc *tc, cairn_wire_cert_sigs *s)
{
    if (!m) return CAIRN_ECONS_WIRE_MISSING;
    tc->epoch = m->epoch;
    tc->round = m->round;
    if (m->n_signatures > CAIRN_CONS_MAX_VALIDATORS) return CAIRN_ECONS_WIRE_TOO_MANY;
    size_t with_sig = 0;
    for (size_t k = 0; k < m->n_signatures; k++) {
        const Cairn__V1__TimeoutSignature *t = m->signatures[k];
        if (t->validator_index >= CAIRN_CONS_MAX_VALIDATORS) return CAIRN_ECONS_WIRE_SIGNERS;
        if (k > 0 && t->validator_index <= m->signatures[k - 1]->validator_index)
            return CAIRN_ECONS_WIRE_SIGNERS; /* unsorted or duplicate signer */
        tc->signers |= (uint64_t)1 << t->validator_index;
        tc->hqc_rounds[t->validator_index] = t->high_qc_round;
        if (t->signature.len == 0) continue;
        if (t->signature.len != CAIRN_WIRE_SIG_LEN) return CAIRN_ECONS_WIRE_SIG_LEN;
        if (s) memcpy(s->sig[k], t->signature.data, CAIRN_WIRE_SIG_LEN);
        with_sig++;
    }
    if (with_sig != 0 && with_sig != m->n_signatures) return CAIRN_ECONS_WIRE_SIGNERS;
    if (s) s->n = (uint32_t)with_sig;
    return 0;
}

static int dec_block(const Cairn__V1__ConsensusBlock *m, cairn_block *b, cairn_wire_cert_sigs *qs)
{
    if (!m) return CAIRN_ECONS_WIRE_MISSING;
    b->epoch = m->epoch;
    b->round = m->round;
    b->height = m->height;
    int rc = dec_index(m->proposer_index, &b->proposer);
    if (rc) return rc;
    if (m->flags & ~(uint32_t)CAIRN_BLOCK_F_RECONFIG) return CAIRN_ECONS_MALFORMED;
    b->flags = m->flags;
    if ((rc = dec_id(&m->parent_id, b->parent_id)) != 0) return rc;
    if ((rc = dec_id(&m->payload_digest, b->payload)) != 0) return rc;
    if ((rc = dec_qc(m->qc, &b->qc, qs)) != 0) return rc;
    if ((rc = dec_id(&m->id, b->id)) != 0) return rc;
    uint8_t want[32];
    cairn_block_compute_id(b, want);
    if (memcmp(want, b->id, 32) != 0) return CAIRN_ECONS_BLOCK_ID;
    return 0;
}

static int unpack_env(const uint8_t *p, size_t len, Cairn__V1__ConsensusEnvelope **env)
{
    ProtobufCMessage *m = NULL;
    if (!p && len > 0) return CAIRN_EINVAL;
    static const uint8_t empty[1] = {0};
    int rc = cairn_pb_decode(&cairn__v1__consensus_envelope__descriptor, p ? p : empty, len,
                             CAIRN_WIRE_MAX_BYTES, &m);
    if (rc == CAIRN_ETOOBIG) return CAIRN_ECONS_WIRE_TOO_BIG;
    if (rc == CAIRN_EDECODE) return CAIRN_ECONS_WIRE_DECODE;
    if (rc) return rc;
    *env = (Cairn__V1__ConsensusEnvelope *)m;
    return 0;
}

static int dec_proposal(const Cairn__V1__Proposal *m, cairn_msg *out, cairn_wire_sigs *s)
{
    cairn_proposal *p = &out->u.proposal;
    if (m->block || m->high_qc) return CAIRN_ECONS_WIRE_FIELD;
    int rc = dec_index(m->proposer_index, &out->sender);
    if (rc == 0) rc = dec_msg_sig(&m->signature, s);
    if (rc == 0) rc = dec_block(m->consensus_block, &p->block, s ? &s->qc : NULL);
    if (rc) return rc;
    if (m->epoch != p->block.epoch || m->round != p->block.round) return CAIRN_ECONS_WIRE_MISMATCH;
    if (m->last_round_tc) {
        p->has_tc = 1;
        rc = dec_tc(m->last_round_tc, &p->tc, s ? &s->tc : NULL);
    }
    return rc;
}

static int dec_vote(const Cairn__V1__Vote *m, cairn_msg *out, cairn_wire_sigs *s)
{
    cairn_vote *v = &out->u.vote;
    int rc = dec_index(m->voter_index, &out->sender);
    if (rc == 0) rc = dec_msg_sig(&m->signature, s);
    if (rc == 0) rc = dec_id(&m->block_id, v->block_id);
    v->epoch = m->epoch;
    v->round = m->round;
    v->height = m->height;
    return rc;
}

static int dec_timeout(const Cairn__V1__Timeout *m, cairn_msg *out, cairn_wire_sigs *s)
{
    cairn_timeout *t = &out->u.timeout;
    int rc = dec_index(m->sender_index, &out->sender);
    if (rc == 0) rc = dec_msg_sig(&m->signature, s);
    if (rc == 0) rc = dec_qc(m->high_qc, &t->high_qc, s ? &s->qc : NULL);
    if (rc) return rc;
    t->epoch = m->epoch;
    t->round = m->round;
    if (m->last_tc) {
        t->has_tc = 1;
        rc = dec_tc(m->last_tc, &t->last_tc, s ? &s->tc : NULL);
    }
    return rc;
}

static int dec_sync_request(const Cairn__V1__SyncRequest *m, cairn_msg *out)
{
    if (m->max_blocks > CAIRN_CONS_SYNC_MAX_BLOCKS) return CAIRN_ECONS_WIRE_TOO_MANY;
    out->u.sync_request.epoch = m->epoch;
    out->u.sync_request.from_height = m->from_height;
    return dec_index(m->sender_index, &out->sender);
}

int cairn_wire_decode_msg(const uint8_t *p, size_t len, cairn_msg *out, cairn_wire_sigs *sigs)
{
    if (!out) return CAIRN_EINVAL;
    memset(out, 0, sizeof *out);
    if (sigs) memset(sigs, 0, sizeof *sigs);
    Cairn__V1__ConsensusEnvelope *env = NULL;
    int rc = unpack_env(p, len, &env);
    if (rc) return rc;
    switch (env->msg_case) {
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_PROPOSAL:
        out->type = CAIRN_MSG_PROPOSAL;
        rc = dec_proposal(env->proposal, out, sigs);
        break;
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_VOTE:
        out->type = CAIRN_MSG_VOTE;
        rc = dec_vote(env->vote, out, sigs);
        break;
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_TIMEOUT:
        out->type = CAIRN_MSG_TIMEOUT;
        rc = dec_timeout(env->timeout, out, sigs);
        break;
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_SYNC_REQUEST:
        out->type = CAIRN_MSG_SYNC_REQUEST;
        rc = dec_sync_request(env->sync_request, out);
        break;
    default:
        rc = CAIRN_ECONS_WIRE_KIND;
    }
    protobuf_c_message_free_unpacked(&env->base, NULL);
    if (rc) {
        memset(out, 0, sizeof *out);
        if (sigs) memset(sigs, 0, sizeof *sigs);
    }
    return rc;
}

static int dec_sync(const Cairn__V1__SyncResponse *m, cairn_sync_response *r,
                    cairn_wire_sync_sigs *s)
{
    if (m->n_blocks > CAIRN_CONS_SYNC_MAX_BLOCKS) return CAIRN_ECONS_WIRE_TOO_MANY;
    r->epoch = m->epoch;
    for (size_t i = 0; i < m->n_blocks; i++) {
        const Cairn__V1__CertifiedBlock *cb = m->blocks[i];
        if (cb->block || cb->qc) return CAIRN_ECONS_WIRE_FIELD;
        int rc = dec_block(cb->consensus_block, &r->blocks[i], s ? &s->block_qc[i] : NULL);
        if (rc) return rc;
    }
    r->n_blocks = (uint32_t)m->n_blocks;
    return dec_qc(m->tail_qc, &r->tail_qc, s ? &s->tail_qc : NULL);
}

int cairn_wire_decode_sync(const uint8_t *p, size_t len, cairn_sync_response *out,
                           cairn_wire_sync_sigs *sigs)
{
    if (!out) return CAIRN_EINVAL;
    memset(out, 0, sizeof *out);
    if (sigs) memset(sigs, 0, sizeof *sigs);
    Cairn__V1__ConsensusEnvelope *env = NULL;
    int rc = unpack_env(p, len, &env);
    if (rc) return rc;
    if (env->msg_case == CAIRN__V1__CONSENSUS_ENVELOPE__MSG_SYNC_RESPONSE)
        rc = dec_sync(env->sync_response, out, sigs);
    else
        rc = CAIRN_ECONS_WIRE_KIND;
    protobuf_c_message_free_unpacked(&env->base, NULL);
    if (rc) {
        memset(out, 0, sizeof *out);
        if (sigs) memset(sigs, 0, sizeof *sigs);
    }
    return rc;
}
