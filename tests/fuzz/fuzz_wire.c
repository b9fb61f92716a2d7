/*
 * Consensus wire codec (consensus/wire.h) on arbitrary bytes: both decoders must never crash,
 * and whatever decodes must re-encode and decode to an identical struct and identical
 * signatures. Inputs starting with a byte >= 0xc0 instead build a well-formed message from the
 * remaining bytes, encode it and change one byte, so mutations of valid proposals and sync
 * responses (with correct block ids) are exercised too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_msg(const uint8_t *data, size_t size)
{
    cairn_msg m, m2;
    cairn_wire_sigs *s = malloc(sizeof *s), *s2 = malloc(sizeof *s2);
    if (!s || !s2) abort();
    if (cairn_wire_decode_msg(data, size, &m, s) == 0) {
        cairn_buf b = CAIRN_BUF_INIT;
        if (cairn_wire_encode_msg(&m, s, &b) != 0) abort();
        if (cairn_wire_decode_msg(b.p, b.len, &m2, s2) != 0) abort();
        if (memcmp(&m, &m2, sizeof m) != 0 || memcmp(s, s2, sizeof *s) != 0) abort();
        cairn_buf_free(&b);
    }
    free(s);
    free(s2);
}

static void check_sync(const uint8_t *data, size_t size)
{
    cairn_sync_response *r = malloc(sizeof *r);
    if (!r) abort();
    /* Cheap first pass without signatures; the large signature structs only when it decodes. */
    int ok = cairn_wire_decode_sync(data, size, r, NULL) == 0;
    if (ok) {
        cairn_sync_response *r2 = malloc(sizeof *r2);
        cairn_wire_sync_sigs *s = malloc(sizeof *s), *s2 = malloc(sizeof *s2);
        if (!r2 || !s || !s2) abort();
        if (cairn_wire_decode_sync(data, size, r2, s) != 0) abort();
        if (memcmp(r, r2, sizeof *r) != 0) abort();
        cairn_buf b = CAIRN_BUF_INIT;
        if (cairn_wire_encode_sync(r, s, &b) != 0) abort();
        if (cairn_wire_decode_sync(b.p, b.len, r2, s2) != 0) abort();
        if (memcmp(r, r2, sizeof *r) != 0 || memcmp(s, s2, sizeof *s) != 0) abort();
        cairn_buf_free(&b);
        free(r2);
        free(s);
        free(s2);
    }
    free(r);
}

/* Structured mode: a well-formed message built from the fuzz bytes (so the fuzzer reaches
 * proposals, whose block id it could not guess), encoded, with one byte changed, checked as
 * above. */
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

static uint64_t u64(fz *f)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | byte(f);
    return v;
}

static void fill(fz *f, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = byte(f);
}

static void gen_qc(fz *f, cairn_qc *qc)
{
    qc->epoch = byte(f);
    qc->round = u64(f);
    qc->height = byte(f);
    fill(f, qc->block_id, 4);
    qc->signers = u64(f);
}

static void gen_block(fz *f, cairn_block *b)
{
    b->epoch = byte(f);
    b->round = u64(f);
    b->height = byte(f);
    b->proposer = byte(f) % CAIRN_CONS_MAX_VALIDATORS;
    b->flags = byte(f) & CAIRN_BLOCK_F_RECONFIG;
    fill(f, b->parent_id, 4);
    fill(f, b->payload, 4);
    gen_qc(f, &b->qc);
    cairn_block_compute_id(b, b->id);
}

static void structured(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    uint8_t mode = byte(&f);
    uint32_t flip_at = (uint32_t)byte(&f) << 8 | byte(&f);
    uint8_t flip = byte(&f);
    cairn_buf b = CAIRN_BUF_INIT;
    int sync = 0;
    if (mode % 5 == 4) {
        sync = 1;
        cairn_sync_response *r = calloc(1, sizeof *r);
        if (!r) abort();
        r->epoch = byte(&f);
        r->n_blocks = byte(&f) % (CAIRN_CONS_SYNC_MAX_BLOCKS + 1);
        for (uint32_t i = 0; i < r->n_blocks; i++) gen_block(&f, &r->blocks[i]);
        gen_qc(&f, &r->tail_qc);
        if (cairn_wire_encode_sync(r, NULL, &b) != 0) abort();
        free(r);
    } else {
        cairn_msg m;
        memset(&m, 0, sizeof m);
        m.type = CAIRN_MSG_PROPOSAL + mode % 4;
        m.sender = byte(&f) % CAIRN_CONS_MAX_VALIDATORS;
        cairn_tc *tc = NULL;
        if (m.type == CAIRN_MSG_PROPOSAL) {
            gen_block(&f, &m.u.proposal.block);
            m.u.proposal.has_tc = byte(&f) & 1;
            if (m.u.proposal.has_tc) tc = &m.u.proposal.tc;
        } else if (m.type == CAIRN_MSG_TIMEOUT) {
            m.u.timeout.round = u64(&f);
            gen_qc(&f, &m.u.timeout.high_qc);
            m.u.timeout.has_tc = byte(&f) & 1;
            if (m.u.timeout.has_tc) tc = &m.u.timeout.last_tc;
        } else if (m.type == CAIRN_MSG_VOTE) {
            m.u.vote.round = u64(&f);
            fill(&f, m.u.vote.block_id, 4);
        } else {
            m.u.sync_request.from_height = u64(&f);
        }
        if (tc) {
            tc->round = u64(&f);
            tc->signers = u64(&f);
            for (int i = 0; i < CAIRN_CONS_MAX_VALIDATORS; i++)
                if ((tc->signers >> i) & 1u) tc->hqc_rounds[i] = byte(&f);
        }
        if (cairn_wire_encode_msg(&m, NULL, &b) != 0) abort();
    }
    if (b.len > 0 && flip != 0) b.p[flip_at % b.len] ^= flip;
    if (sync)
        check_sync(b.p, b.len);
    else
        check_msg(b.p, b.len);
    cairn_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] >= 0xc0) {
        structured(data + 1, size - 1);
        return 0;
    }
    check_msg(data, size);
    check_sync(data, size);
    return 0;
}
