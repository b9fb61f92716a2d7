/*
 * The consensus wire codec (consensus/wire.h): every message type round-trips exactly with random
 * field values and signatures; every truncation is rejected; malformed encodings (wrong id
 * lengths, too many items, inconsistent signer bitmaps, missing submessages, wrong kinds, size)
 * are rejected with their exact codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/wire.h"
#include "proto/cairn/v1/consensus.pb-c.h"
#include "test_util.h"

static unsigned popc(uint64_t x)
{
    unsigned n = 0;
    for (; x; x &= x - 1) n++;
    return n;
}

static void rand_bytes(test_rng *r, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)test_rng_next(r);
}

static uint64_t rand_signers(test_rng *r)
{
    switch (test_rng_below(r, 4)) {
    case 0:
        return 0;
    case 1:
        return ~(uint64_t)0;
    default:
        return test_rng_next(r);
    }
}

static void rand_cert_sigs(test_rng *r, uint64_t signers, cairn_wire_cert_sigs *s)
{
    memset(s, 0, sizeof *s);
    if (test_rng_below(r, 2)) return;
    s->n = popc(signers);
    for (uint32_t k = 0; k < s->n; k++) rand_bytes(r, s->sig[k], CAIRN_WIRE_SIG_LEN);
}

static void rand_qc(test_rng *r, cairn_qc *qc)
{
    qc->epoch = test_rng_next(r);
    qc->round = test_rng_next(r);
    qc->height = test_rng_below(r, 3) ? test_rng_below(r, 1000) : test_rng_next(r);
    rand_bytes(r, qc->block_id, 32);
    qc->signers = rand_signers(r);
}

static void rand_tc(test_rng *r, cairn_tc *tc)
{
    memset(tc, 0, sizeof *tc);
    tc->epoch = test_rng_next(r);
    tc->round = test_rng_next(r);
    tc->signers = rand_signers(r);
    for (int i = 0; i < 64; i++)
        if ((tc->signers >> i) & 1u) tc->hqc_rounds[i] = test_rng_next(r);
}

static void rand_block(test_rng *r, cairn_block *b, cairn_wire_cert_sigs *qs)
{
    memset(b, 0, sizeof *b);
    b->epoch = test_rng_next(r);
    b->round = test_rng_next(r);
    b->height = test_rng_next(r);
    b->proposer = (uint32_t)test_rng_below(r, CAIRN_CONS_MAX_VALIDATORS);
    b->flags = (uint32_t)test_rng_below(r, 2);
    rand_bytes(r, b->parent_id, 32);
    rand_bytes(r, b->payload, 32);
    rand_qc(r, &b->qc);
    cairn_block_compute_id(b, b->id);
    rand_cert_sigs(r, b->qc.signers, qs);
}

static void rand_msg(test_rng *r, int type, cairn_msg *m, cairn_wire_sigs *s)
{
    memset(m, 0, sizeof *m);
    memset(s, 0, sizeof *s);
    m->type = type;
    m->sender = (uint32_t)test_rng_below(r, CAIRN_CONS_MAX_VALIDATORS);
    if (type != CAIRN_MSG_SYNC_REQUEST && test_rng_below(r, 4)) {
        s->has_msg = 1;
        rand_bytes(r, s->msg, CAIRN_WIRE_SIG_LEN);
    }
    switch (type) {
    case CAIRN_MSG_PROPOSAL:
        rand_block(r, &m->u.proposal.block, &s->qc);
        if (test_rng_below(r, 2)) {
            m->u.proposal.has_tc = 1;
            rand_tc(r, &m->u.proposal.tc);
            rand_cert_sigs(r, m->u.proposal.tc.signers, &s->tc);
        }
        break;
    case CAIRN_MSG_VOTE:
        m->u.vote.epoch = test_rng_next(r);
        m->u.vote.round = test_rng_next(r);
        m->u.vote.height = test_rng_next(r);
        rand_bytes(r, m->u.vote.block_id, 32);
        break;
    case CAIRN_MSG_TIMEOUT:
        m->u.timeout.epoch = test_rng_next(r);
        m->u.timeout.round = test_rng_next(r);
        rand_qc(r, &m->u.timeout.high_qc);
        rand_cert_sigs(r, m->u.timeout.high_qc.signers, &s->qc);
        if (test_rng_below(r, 2)) {
            m->u.timeout.has_tc = 1;
            rand_tc(r, &m->u.timeout.last_tc);
            rand_cert_sigs(r, m->u.timeout.last_tc.signers, &s->tc);
        }
        break;
    default:
        m->u.sync_request.epoch = test_rng_next(r);
        m->u.sync_request.from_height = test_rng_next(r);
        break;
    }
}

/* n_blocks: that many blocks, or a random count if > CAIRN_CONS_SYNC_MAX_BLOCKS. */
static void rand_sync(test_rng *r, cairn_sync_response *resp, cairn_wire_sync_sigs *s,
                      uint32_t n_blocks)
{
    memset(resp, 0, sizeof *resp);
    memset(s, 0, sizeof *s);
    resp->epoch = test_rng_next(r);
    resp->n_blocks = n_blocks <= CAIRN_CONS_SYNC_MAX_BLOCKS
                         ? n_blocks
                         : (uint32_t)test_rng_below(r, CAIRN_CONS_SYNC_MAX_BLOCKS + 1);
    for (uint32_t i = 0; i < resp->n_blocks; i++) rand_block(r, &resp->blocks[i], &s->block_qc[i]);
    rand_qc(r, &resp->tail_qc);
    rand_cert_sigs(r, resp->tail_qc.signers, &s->tail_qc);
}

static void test_roundtrip_messages(void **state)
{
    (void)state;
    test_rng r = test_rng_seeded("test_wire messages");
    cairn_msg m, d;
    cairn_wire_sigs *s = malloc(sizeof *s), *ds = malloc(sizeof *ds);
    assert_non_null(s);
    assert_non_null(ds);
    for (int it = 0; it < 400; it++) {
        int type = CAIRN_MSG_PROPOSAL + it % 4;
        rand_msg(&r, type, &m, s);
        cairn_buf b = CAIRN_BUF_INIT;
        assert_int_equal(cairn_wire_encode_msg(&m, s, &b), 0);
        assert_int_equal(cairn_wire_decode_msg(b.p, b.len, &d, ds), 0);
        assert_memory_equal(&m, &d, sizeof m);
        assert_memory_equal(s, ds, sizeof *s);
        /* Without signatures: the same struct, no signatures. */
        assert_int_equal(cairn_wire_decode_msg(b.p, b.len, &d, NULL), 0);
        assert_memory_equal(&m, &d, sizeof m);
        cairn_buf_free(&b);
        cairn_buf b2 = CAIRN_BUF_INIT;
        assert_int_equal(cairn_wire_encode_msg(&m, NULL, &b2), 0);
        assert_int_equal(cairn_wire_decode_msg(b2.p, b2.len, &d, ds), 0);
        assert_memory_equal(&m, &d, sizeof m);
        assert_int_equal(ds->has_msg, 0);
        assert_int_equal(ds->qc.n, 0);
        assert_int_equal(ds->tc.n, 0);
        cairn_buf_free(&b2);
    }
    free(s);
    free(ds);
}

static void test_roundtrip_sync(void **state)
{
    (void)state;
    test_rng r = test_rng_seeded("test_wire sync");
    cairn_sync_response *m = malloc(sizeof *m), *d = malloc(sizeof *d);
    cairn_wire_sync_sigs *s = malloc(sizeof *s), *ds = malloc(sizeof *ds);
    assert_true(m && d && s && ds);
    for (int it = 0; it < 40; it++) {
        rand_sync(&r, m, s, it == 0 ? CAIRN_CONS_SYNC_MAX_BLOCKS : UINT32_MAX);
        cairn_buf b = CAIRN_BUF_INIT;
        assert_int_equal(cairn_wire_encode_sync(m, s, &b), 0);
        assert_int_equal(cairn_wire_decode_sync(b.p, b.len, d, ds), 0);
        assert_memory_equal(m, d, sizeof *m);
        assert_memory_equal(s, ds, sizeof *s);
        cairn_buf_free(&b);
    }
    m->n_blocks = CAIRN_CONS_SYNC_MAX_BLOCKS + 1;
    cairn_buf b = CAIRN_BUF_INIT;
    assert_int_equal(cairn_wire_encode_sync(m, NULL, &b), CAIRN_EINVAL);
    cairn_buf_free(&b);
    free(m);
    free(d);
    free(s);
    free(ds);
}

/* Every strict prefix of a valid envelope is rejected (the envelope is one length-delimited
 * field, so no prefix is itself a valid message). */
static void test_truncations(void **state)
{
    (void)state;
    test_rng r = test_rng_seeded("test_wire truncations");
    cairn_msg m, d;
    cairn_wire_sigs *s = malloc(sizeof *s);
    assert_non_null(s);
    for (int type = CAIRN_MSG_PROPOSAL; type <= CAIRN_MSG_SYNC_REQUEST; type++) {
        rand_msg(&r, type, &m, s);
        cairn_buf b = CAIRN_BUF_INIT;
        assert_int_equal(cairn_wire_encode_msg(&m, s, &b), 0);
        for (size_t n = 0; n < b.len; n++) {
            uint8_t *cp = malloc(n ? n : 1);
            memcpy(cp, b.p, n);
            int rc = cairn_wire_decode_msg(cp, n, &d, s);
            assert_true(rc == CAIRN_ECONS_WIRE_DECODE || (n == 0 && rc == CAIRN_ECONS_WIRE_KIND));
            free(cp);
        }
        cairn_buf_free(&b);
    }
    cairn_sync_response *sr = malloc(sizeof *sr), *sd = malloc(sizeof *sd);
    cairn_wire_sync_sigs *ss = malloc(sizeof *ss);
    assert_true(sr && sd && ss);
    rand_sync(&r, sr, ss, 3);
    cairn_buf b = CAIRN_BUF_INIT;
    assert_int_equal(cairn_wire_encode_sync(sr, ss, &b), 0);
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *cp = malloc(n ? n : 1);
        memcpy(cp, b.p, n);
        int rc = cairn_wire_decode_sync(cp, n, sd, ss);
        assert_true(rc == CAIRN_ECONS_WIRE_DECODE || (n == 0 && rc == CAIRN_ECONS_WIRE_KIND));
        free(cp);
    }
    cairn_buf_free(&b);
    free(sr);
    free(sd);
    free(ss);
    free(s);
}

/* ---- malformed encodings: unpack a valid envelope, change one thing, repack, decode ---- */

static Cairn__V1__ConsensusEnvelope *valid_env(int type, cairn_wire_sigs *s, int tc)
{
    test_rng r = {0x1234u + (uint64_t)type};
    cairn_msg m;
    do {
        rand_msg(&r, type, &m, s);
    } while ((type == CAIRN_MSG_PROPOSAL && m.u.proposal.has_tc != tc) ||
             (type == CAIRN_MSG_TIMEOUT && m.u.timeout.has_tc != tc));
    /* Full signatures everywhere, at least one signer. */
    uint64_t *qs =
        type == CAIRN_MSG_PROPOSAL ? &m.u.proposal.block.qc.signers : &m.u.timeout.high_qc.signers;
    uint64_t *ts =
        type == CAIRN_MSG_PROPOSAL ? &m.u.proposal.tc.signers : &m.u.timeout.last_tc.signers;
    if (type == CAIRN_MSG_PROPOSAL || type == CAIRN_MSG_TIMEOUT) {
        *qs = 0x0f0full;
        s->qc.n = popc(*qs);
        if (tc) {
            *ts = 0x7ull;
            s->tc.n = 3;
        }
        if (type == CAIRN_MSG_PROPOSAL)
            cairn_block_compute_id(&m.u.proposal.block, m.u.proposal.block.id);
    }
    s->has_msg = type != CAIRN_MSG_SYNC_REQUEST;
    cairn_buf b = CAIRN_BUF_INIT;
    assert_int_equal(cairn_wire_encode_msg(&m, s, &b), 0);
    Cairn__V1__ConsensusEnvelope *e = cairn__v1__consensus_envelope__unpack(NULL, b.len, b.p);
    assert_non_null(e);
    cairn_buf_free(&b);
    return e;
}

static int redecode(const Cairn__V1__ConsensusEnvelope *e, int sync)
{
    size_t n = cairn__v1__consensus_envelope__get_packed_size(e);
    uint8_t *p = malloc(n ? n : 1);
    assert_int_equal(cairn__v1__consensus_envelope__pack(e, p), n);
    int rc;
    if (sync) {
        cairn_sync_response *d = malloc(sizeof *d);
        rc = cairn_wire_decode_sync(p, n, d, NULL);
        free(d);
    } else {
        cairn_msg d;
        cairn_wire_sigs *s = malloc(sizeof *s);
        rc = cairn_wire_decode_msg(p, n, &d, s);
        free(s);
    }
    free(p);
    return rc;
}

static void test_wrong_id_lengths(void **state)
{
    (void)state;
    cairn_wire_sigs *s = malloc(sizeof *s);
    Cairn__V1__ConsensusEnvelope *e = valid_env(CAIRN_MSG_VOTE, s, 0);
    assert_int_equal(redecode(e, 0), 0);
    e->vote->block_id.len = 31;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_ID_LEN);
    e->vote->block_id.len = 0;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_ID_LEN);
    e->vote->block_id.len = 32;
    e->vote->signature.len = 63;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_SIG_LEN);
    e->vote->signature.len = 0; /* unsigned: accepted, no signature reported */
    assert_int_equal(redecode(e, 0), 0);
    e->vote->signature.len = 64;
    cairn__v1__consensus_envelope__free_unpacked(e, NULL);

    e = valid_env(CAIRN_MSG_PROPOSAL, s, 0);
    Cairn__V1__ConsensusBlock *b = e->proposal->consensus_block;
    uint8_t big[33] = {0};
    ProtobufCBinaryData save = b->parent_id;
    b->parent_id.data = big;
    b->parent_id.len = 33;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_ID_LEN);
    b->parent_id = save;
    b->payload_digest.len = 16;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_ID_LEN);
    b->payload_digest.len = 32;
    b->id.len = 0;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_ID_LEN);
    b->id.len = 32;
    b->qc->block_id.len = 1;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_ID_LEN);
    b->qc->block_id.len = 32;
    /* A wrong id, correct length: recomputed with cairn_block_compute_id and compared. */
    b->id.data[0] ^= 1;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_BLOCK_ID);
    b->id.data[0] ^= 1;
    b->height++;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_BLOCK_ID);
    b->height--;
    assert_int_equal(redecode(e, 0), 0);
    cairn__v1__consensus_envelope__free_unpacked(e, NULL);
    free(s);
}

static void test_bad_signers(void **state)
{
    (void)state;
    cairn_wire_sigs *s = malloc(sizeof *s);
    Cairn__V1__ConsensusEnvelope *e = valid_env(CAIRN_MSG_TIMEOUT, s, 1);
    assert_int_equal(redecode(e, 0), 0);
    Cairn__V1__QuorumCert *qc = e->timeout->high_qc;
    qc->signer_bitmap.len = 7;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_SIGNERS);
    qc->signer_bitmap.len = 8;
    qc->n_signatures--; /* one signature short of the bitmap */
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_SIGNERS);
    qc->n_signatures = 0; /* unsigned QC: allowed */
    assert_int_equal(redecode(e, 0), 0);
    qc->n_signatures = 8;
    uint8_t long_sig[65] = {0};
    ProtobufCBinaryData sig_save = qc->signatures[3];
    qc->signatures[3].data = long_sig;
    qc->signatures[3].len = 65;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_SIG_LEN);
    qc->signatures[3] = sig_save;
    qc->signer_bitmap.data[0] = 0x1f; /* 9 signers, 8 signatures */
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_SIGNERS);
    qc->signer_bitmap.data[0] = 0x0f;

    Cairn__V1__TimeoutCert *tc = e->timeout->last_tc;
    assert_int_equal(tc->n_signatures, 3);
    tc->signatures[1]->validator_index = 0; /* duplicate signer */
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_SIGNERS);
    tc->signatures[1]->validator_index = 5; /* unsorted (5 then 2) */
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_SIGNERS);
    tc->signatures[1]->validator_index = 1;
    tc->signatures[2]->validator_index = 64; /* outside any validator set */
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_SIGNERS);
    tc->signatures[2]->validator_index = 2;
    tc->signatures[2]->signature.len = 0; /* some signed, some not */
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_SIGNERS);
    tc->signatures[2]->signature.len = 10;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_SIG_LEN);
    tc->signatures[2]->signature.len = 64;
    assert_int_equal(redecode(e, 0), 0);
    e->timeout->sender_index = CAIRN_CONS_MAX_VALIDATORS;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_SENDER);
    cairn__v1__consensus_envelope__free_unpacked(e, NULL);
    free(s);
}

static void test_too_many(void **state)
{
    (void)state;
    cairn_wire_sigs *s = malloc(sizeof *s);
    Cairn__V1__ConsensusEnvelope *e = valid_env(CAIRN_MSG_PROPOSAL, s, 1);
    assert_int_equal(redecode(e, 0), 0);
    /* 65 TC entries and 65 QC signatures. */
    Cairn__V1__TimeoutCert *tc = e->proposal->last_round_tc;
    Cairn__V1__TimeoutSignature ts[65], *tp[65];
    for (uint32_t i = 0; i < 65; i++) {
        ts[i] = *tc->signatures[0];
        ts[i].validator_index = i;
        tp[i] = &ts[i];
    }
    size_t n_save = tc->n_signatures;
    Cairn__V1__TimeoutSignature **p_save = tc->signatures;
    tc->n_signatures = 65;
    tc->signatures = tp;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_TOO_MANY);
    tc->n_signatures = n_save;
    tc->signatures = p_save;
    Cairn__V1__QuorumCert *qc = e->proposal->consensus_block->qc;
    ProtobufCBinaryData sigs[65];
    for (int i = 0; i < 65; i++) sigs[i] = qc->signatures[0];
    size_t qn = qc->n_signatures;
    ProtobufCBinaryData *qp = qc->signatures;
    qc->n_signatures = 65;
    qc->signatures = sigs;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_TOO_MANY);
    qc->n_signatures = qn;
    qc->signatures = qp;
    assert_int_equal(redecode(e, 0), 0);
    cairn__v1__consensus_envelope__free_unpacked(e, NULL);

    e = valid_env(CAIRN_MSG_SYNC_REQUEST, s, 0);
    e->sync_request->max_blocks = CAIRN_CONS_SYNC_MAX_BLOCKS;
    assert_int_equal(redecode(e, 0), 0);
    e->sync_request->max_blocks = CAIRN_CONS_SYNC_MAX_BLOCKS + 1;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_TOO_MANY);
    cairn__v1__consensus_envelope__free_unpacked(e, NULL);

    /* A sync response with one block more than CAIRN_CONS_SYNC_MAX_BLOCKS. */
    test_rng r = {99};
    cairn_sync_response *sr = malloc(sizeof *sr);
    cairn_wire_sync_sigs *ss = malloc(sizeof *ss);
    rand_sync(&r, sr, ss, CAIRN_CONS_SYNC_MAX_BLOCKS);
    cairn_buf b = CAIRN_BUF_INIT;
    assert_int_equal(cairn_wire_encode_sync(sr, ss, &b), 0);
    e = cairn__v1__consensus_envelope__unpack(NULL, b.len, b.p);
    assert_non_null(e);
    cairn_buf_free(&b);
    assert_int_equal(redecode(e, 1), 0);
    Cairn__V1__SyncResponse *resp = e->sync_response;
    Cairn__V1__CertifiedBlock *cbp[CAIRN_CONS_SYNC_MAX_BLOCKS + 1];
    for (size_t i = 0; i <= CAIRN_CONS_SYNC_MAX_BLOCKS; i++) cbp[i] = resp->blocks[0];
    Cairn__V1__CertifiedBlock **bsave = resp->blocks;
    resp->blocks = cbp;
    resp->n_blocks = CAIRN_CONS_SYNC_MAX_BLOCKS + 1;
    assert_int_equal(redecode(e, 1), CAIRN_ECONS_WIRE_TOO_MANY);
    resp->blocks = bsave;
    resp->n_blocks = CAIRN_CONS_SYNC_MAX_BLOCKS;
    /* Missing tail QC, missing block, legacy fields. */
    Cairn__V1__QuorumCert *tail = resp->tail_qc;
    resp->tail_qc = NULL;
    assert_int_equal(redecode(e, 1), CAIRN_ECONS_WIRE_MISSING);
    resp->tail_qc = tail;
    Cairn__V1__ConsensusBlock *cb = resp->blocks[5]->consensus_block;
    resp->blocks[5]->consensus_block = NULL;
    assert_int_equal(redecode(e, 1), CAIRN_ECONS_WIRE_MISSING);
    resp->blocks[5]->consensus_block = cb;
    resp->blocks[5]->qc = tail;
    assert_int_equal(redecode(e, 1), CAIRN_ECONS_WIRE_FIELD);
    resp->blocks[5]->qc = NULL;
    assert_int_equal(redecode(e, 1), 0);
    /* A sync response is not a message and vice versa. */
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_KIND);
    cairn__v1__consensus_envelope__free_unpacked(e, NULL);
    e = valid_env(CAIRN_MSG_VOTE, s, 0);
    assert_int_equal(redecode(e, 1), CAIRN_ECONS_WIRE_KIND);
    cairn__v1__consensus_envelope__free_unpacked(e, NULL);
    free(sr);
    free(ss);
    free(s);
}

static void test_missing_and_mismatch(void **state)
{
    (void)state;
    cairn_wire_sigs *s = malloc(sizeof *s);
    Cairn__V1__ConsensusEnvelope *e = valid_env(CAIRN_MSG_PROPOSAL, s, 0);
    Cairn__V1__ConsensusBlock *cb = e->proposal->consensus_block;
    e->proposal->consensus_block = NULL;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_MISSING);
    e->proposal->consensus_block = cb;
    Cairn__V1__QuorumCert *qc = cb->qc;
    cb->qc = NULL;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_MISSING);
    cb->qc = qc;
    e->proposal->high_qc = qc; /* the legacy high_qc field must stay empty */
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_FIELD);
    e->proposal->high_qc = NULL;
    e->proposal->round++;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_MISMATCH);
    e->proposal->round--;
    e->proposal->epoch++;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_MISMATCH);
    e->proposal->epoch--;
    uint32_t flags = cb->flags;
    cb->flags = 2;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_MALFORMED);
    cb->flags = flags;
    uint32_t prop = cb->proposer_index;
    cb->proposer_index = 1000;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_SENDER);
    cb->proposer_index = prop;
    assert_int_equal(redecode(e, 0), 0);
    cairn__v1__consensus_envelope__free_unpacked(e, NULL);

    e = valid_env(CAIRN_MSG_TIMEOUT, s, 0);
    qc = e->timeout->high_qc;
    e->timeout->high_qc = NULL;
    assert_int_equal(redecode(e, 0), CAIRN_ECONS_WIRE_MISSING);
    e->timeout->high_qc = qc;
    cairn__v1__consensus_envelope__free_unpacked(e, NULL);

    /* Other envelope kinds and an empty envelope. */
    Cairn__V1__ConsensusEnvelope env = CAIRN__V1__CONSENSUS_ENVELOPE__INIT;
    assert_int_equal(redecode(&env, 0), CAIRN_ECONS_WIRE_KIND);
    assert_int_equal(redecode(&env, 1), CAIRN_ECONS_WIRE_KIND);
    Cairn__V1__TxBatch batch = CAIRN__V1__TX_BATCH__INIT;
    env.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_BATCH;
    env.batch = &batch;
    assert_int_equal(redecode(&env, 0), CAIRN_ECONS_WIRE_KIND);
    free(s);
}

static void test_size_and_garbage(void **state)
{
    (void)state;
    cairn_msg d;
    size_t n = CAIRN_WIRE_MAX_BYTES + 1;
    uint8_t *big = calloc(1, n);
    assert_int_equal(cairn_wire_decode_msg(big, n, &d, NULL), CAIRN_ECONS_WIRE_TOO_BIG);
    cairn_sync_response *sd = malloc(sizeof *sd);
    assert_int_equal(cairn_wire_decode_sync(big, n, sd, NULL), CAIRN_ECONS_WIRE_TOO_BIG);
    free(sd);
    free(big);
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(cairn_wire_decode_msg(junk, sizeof junk, &d, NULL), CAIRN_ECONS_WIRE_DECODE);
    /* A valid vote followed by an unknown field 99 (varint 1). */
    cairn_wire_sigs *s = malloc(sizeof *s);
    test_rng r = {7};
    cairn_msg m;
    rand_msg(&r, CAIRN_MSG_VOTE, &m, s);
    cairn_buf b = CAIRN_BUF_INIT;
    assert_int_equal(cairn_wire_encode_msg(&m, s, &b), 0);
    const uint8_t unknown[] = {0x98, 0x06, 0x01};
    cairn_buf_put(&b, unknown, sizeof unknown);
    assert_int_equal(cairn_wire_decode_msg(b.p, b.len, &d, s), CAIRN_ECONS_WIRE_DECODE);
    cairn_buf_free(&b);
    assert_int_equal(cairn_wire_decode_msg(NULL, 0, &d, NULL), CAIRN_ECONS_WIRE_KIND);
    assert_int_equal(cairn_wire_decode_msg(junk, 1, NULL, NULL), CAIRN_EINVAL);
    m.type = 99;
    assert_int_equal(cairn_wire_encode_msg(&m, NULL, &b), CAIRN_EINVAL);
    cairn_buf_free(&b);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_messages),   cmocka_unit_test(test_roundtrip_sync),
        cmocka_unit_test(test_truncations),          cmocka_unit_test(test_wrong_id_lengths),
        cmocka_unit_test(test_bad_signers),          cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_missing_and_mismatch), cmocka_unit_test(test_size_and_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
