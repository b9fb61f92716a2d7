#include "ledger/block.h"

#include <string.h>

void cairn_header_encode(cairn_buf *b, const cairn_header *h)
{
    cairn_buf_tag(b, "CAIRN-HDR-V1");
    cairn_buf_u32(b, h->version);
    cairn_buf_str8(b, h->chain_id, strlen(h->chain_id));
    cairn_buf_u64(b, h->height);
    cairn_buf_u64(b, h->epoch);
    cairn_buf_u64(b, h->round);
    cairn_buf_put(b, h->parent, 32);
    cairn_buf_u64(b, h->time_ms);
    cairn_buf_put(b, h->proposer, 32);
    cairn_buf_u64(b, h->log_size);
    cairn_buf_put(b, h->log_root, 32);
    cairn_buf_put(b, h->state_root, 32);
    cairn_buf_put(b, h->valset_hash, 32);
    cairn_buf_put(b, h->payload_hash, 32);
}

int cairn_header_decode(cairn_header *h, const uint8_t *p, size_t len)
{
    memset(h, 0, sizeof *h);
    cairn_rd r = cairn_rd_init(p, len);
    cairn_rd_tag(&r, "CAIRN-HDR-V1");
    h->version = cairn_rd_u32(&r);
    size_t cl;
    const uint8_t *c = cairn_rd_str8(&r, &cl);
    if (c && !cairn_chain_id_valid((const char *)c, cl) && !r.err) r.err = CAIRN_ECHAIN_ID;
    if (c && !r.err) memcpy(h->chain_id, c, cl);
    h->height = cairn_rd_u64(&r);
    h->epoch = cairn_rd_u64(&r);
    h->round = cairn_rd_u64(&r);
    cairn_rd_copy(&r, h->parent, 32);
    h->time_ms = cairn_rd_u64(&r);
    cairn_rd_copy(&r, h->proposer, 32);
    h->log_size = cairn_rd_u64(&r);
    cairn_rd_copy(&r, h->log_root, 32);
    cairn_rd_copy(&r, h->state_root, 32);
    cairn_rd_copy(&r, h->valset_hash, 32);
    cairn_rd_copy(&r, h->payload_hash, 32);
    int err = cairn_rd_finish(&r);
    if (!err && h->version != CAIRN_HEADER_VERSION) err = CAIRN_EDECODE;
    return err;
}

void cairn_header_hash(const cairn_header *h, uint8_t out[32])
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_header_encode(&b, h);
    cairn_sha256_oneshot(out, b.p, b.len);
    cairn_buf_free(&b);
}

void cairn_certificate_encode(cairn_buf *b, const cairn_certificate *c)
{
    cairn_buf_tag(b, "CAIRN-CERT-V1");
    cairn_buf_u64(b, c->height);
    cairn_buf_put(b, c->block_hash, 32);
    cairn_buf_u32(b, c->n);
    for (uint32_t i = 0; i < c->n; i++) {
        cairn_buf_u32(b, c->sigs[i].validator);
        cairn_buf_put(b, c->sigs[i].sig, 64);
    }
}

int cairn_certificate_decode(cairn_certificate *c, const uint8_t *p, size_t len)
{
    memset(c, 0, sizeof *c);
    cairn_rd r = cairn_rd_init(p, len);
    cairn_rd_tag(&r, "CAIRN-CERT-V1");
    c->height = cairn_rd_u64(&r);
    cairn_rd_copy(&r, c->block_hash, 32);
    c->n = cairn_rd_u32(&r);
    if (c->n > CAIRN_GENESIS_MAX_VALIDATORS && !r.err) r.err = CAIRN_ETOOBIG;
    for (uint32_t i = 0; i < c->n && !r.err; i++) {
        c->sigs[i].validator = cairn_rd_u32(&r);
        cairn_rd_copy(&r, c->sigs[i].sig, 64);
    }
    return cairn_rd_finish(&r);
}

void cairn_commit_signing_input(cairn_buf *b, const char *chain_id, uint64_t height,
                                const uint8_t block_hash[32])
{
    cairn_buf_tag(b, "CAIRN-COMMIT-V1");
    cairn_buf_str8(b, chain_id, strlen(chain_id));
    cairn_buf_u64(b, height);
    cairn_buf_put(b, block_hash, 32);
}

int cairn_certificate_verify(const cairn_certificate *c, const cairn_genesis *g, uint64_t height,
                             const uint8_t block_hash[32], cairn_verify_fn verify, void *verify_ctx)
{
    if (c->height != height || memcmp(c->block_hash, block_hash, 32) != 0)
        return CAIRN_ECERTIFICATE;
    uint64_t total = 0, signed_power = 0;
    for (size_t i = 0; i < g->n_validators; i++) total += g->validators[i].power;
    uint8_t seen[CAIRN_GENESIS_MAX_VALIDATORS] = {0};
    cairn_buf msg = CAIRN_BUF_INIT;
    cairn_commit_signing_input(&msg, g->chain_id, height, block_hash);
    int err = cairn_buf_finish(&msg);
    for (uint32_t i = 0; i < c->n && !err; i++) {
        uint32_t v = c->sigs[i].validator;
        if (v >= g->n_validators || seen[v]) {
            err = CAIRN_ECERTIFICATE;
            break;
        }
        seen[v] = 1;
        if (verify(verify_ctx, &g->validators[v].key, msg.p, msg.len, c->sigs[i].sig, 64) != 0) {
            err = CAIRN_ECERTIFICATE;
            break;
        }
        signed_power += g->validators[v].power;
    }
    cairn_buf_free(&msg);
    if (err) return err;
    return signed_power * 3 > total * 2 ? 0 : CAIRN_ECERTIFICATE;
}

void cairn_entry_encode(cairn_buf *b, const cairn_entry *e)
{
    cairn_buf_u8(b, 1); /* entry format */
    cairn_buf_u8(b, e->kind);
    cairn_buf_u64(b, e->height);
    cairn_buf_u32(b, e->position);
    cairn_buf_i32(b, e->result);
    cairn_buf_bytes32(b, e->body, e->body_len);
    if (e->kind == CAIRN_ENTRY_TX) {
        cairn_buf_u8(b, e->alg);
        cairn_buf_bytes16(b, e->signer, e->signer_len);
        cairn_buf_bytes16(b, e->sig, e->sig_len);
    }
}

int cairn_entry_decode(cairn_entry *e, const uint8_t *p, size_t len)
{
    memset(e, 0, sizeof *e);
    cairn_rd r = cairn_rd_init(p, len);
    if (cairn_rd_u8(&r) != 1 && !r.err) r.err = CAIRN_EDECODE;
    e->kind = cairn_rd_u8(&r);
    if (e->kind > CAIRN_ENTRY_TX && !r.err) r.err = CAIRN_EDECODE;
    e->height = cairn_rd_u64(&r);
    e->position = cairn_rd_u32(&r);
    e->result = cairn_rd_i32(&r);
    e->body = cairn_rd_bytes32(&r, &e->body_len, (size_t)1 << 20);
    if (e->kind == CAIRN_ENTRY_TX) {
        e->alg = cairn_rd_u8(&r);
        e->signer = cairn_rd_bytes16(&r, &e->signer_len, 1024);
        e->sig = cairn_rd_bytes16(&r, &e->sig_len, 1024);
    }
    return cairn_rd_finish(&r);
}
