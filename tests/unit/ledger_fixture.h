/*
 * ledger_fixture.h — a test chain: a temporary store, a genesis with two organizations
 * ("acme": operator + vendor; "beta": operator), one validator, and helpers that build, sign and
 * apply transactions one block at a time.
 */
#ifndef CAIRN_TESTS_LEDGER_FIXTURE_H
#define CAIRN_TESTS_LEDGER_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "ledger/chain.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "ledger/txbuild.h"
#include "test_util.h"

typedef struct lfx {
    char *dir;
    cairn_store *s;
    cairn_sig_ctx *sig;
    cairn_chain *c;
    cairn_genesis *g;
    cairn_keypair acme, beta, validator;
    uint8_t acme_id[32], beta_id[32], validator_id[32];
    uint64_t time_ms;
    uint64_t nonce;
} lfx;

static inline void lfx_seed(uint8_t seed[32], uint8_t b)
{
    memset(seed, b, 32);
}

static inline void lfx_org(cairn_org *o, const char *name, uint32_t roles, const cairn_keypair *kp)
{
    memset(o, 0, sizeof *o);
    if (cairn_str_set(&o->name, name, strlen(name)) != 0) abort();
    cairn_org_id(o->id, name, strlen(name));
    o->roles = roles;
    o->n_admins = 1;
    o->admins[0].alg = (uint8_t)kp->alg;
    o->admins[0].len = (uint8_t)kp->pub_len;
    memcpy(o->admins[0].key, kp->pub, kp->pub_len);
    o->active = 1;
}

/* approvals: the governance policy's k. */
static inline lfx *lfx_open(uint32_t approvals)
{
    lfx *f = calloc(1, sizeof *f);
    uint8_t seed[32];
    f->dir = test_tmpdir();
    f->g = calloc(1, sizeof *f->g);
    if (cairn_sig_ctx_new(&f->sig)) abort();
    lfx_seed(seed, 0xA1);
    if (cairn_keypair_from_seed(&f->acme, f->sig, CAIRN_SIG_ED25519, seed)) abort();
    lfx_seed(seed, 0xB2);
    if (cairn_keypair_from_seed(&f->beta, f->sig, CAIRN_SIG_ED25519, seed)) abort();
    lfx_seed(seed, 0xC3);
    if (cairn_keypair_from_seed(&f->validator, f->sig, CAIRN_SIG_ED25519, seed)) abort();
    cairn_genesis *g = f->g;
    strcpy(g->chain_id, "test-chain");
    g->genesis_time_ms = 1000;
    g->policy.approvals_required = approvals;
    g->policy.epoch_length_blocks = 100;
    g->n_orgs = 2;
    lfx_org(&g->orgs[0], "acme", CAIRN_ROLE_OPERATOR | CAIRN_ROLE_VENDOR, &f->acme);
    lfx_org(&g->orgs[1], "beta", CAIRN_ROLE_OPERATOR, &f->beta);
    memcpy(f->acme_id, g->orgs[0].id, 32);
    memcpy(f->beta_id, g->orgs[1].id, 32);
    g->n_validators = 1;
    cairn_validator *v = &g->validators[0];
    memcpy(v->org, f->acme_id, 32);
    v->key.alg = CAIRN_SIG_ED25519;
    v->key.len = 32;
    memcpy(v->key.key, f->validator.pub, 32);
    v->power = 1;
    if (cairn_str_set(&v->address, "127.0.0.1:7760", 14)) abort();
    cairn_validator_id(v->id, v->key.key, 32);
    memcpy(f->validator_id, v->id, 32);
    f->time_ms = 2000;
    if (cairn_store_open(&f->s, f->dir, NULL) || cairn_chain_open(&f->c, f->s, g, f->sig)) abort();
    return f;
}

static inline void lfx_close(lfx *f)
{
    cairn_chain_close(f->c);
    cairn_store_close(f->s);
    cairn_sig_ctx_free(f->sig);
    test_rmtree(f->dir);
    free(f->dir);
    free(f->g);
    free(f);
}

/* A body with chain id, a fresh nonce and an expiry 100 blocks ahead of the head. */
static inline void lfx_body(lfx *f, Cairn__V1__TxBody *b, uint8_t nonce[8])
{
    cairn__v1__tx_body__init(b);
    b->chain_id = f->g->chain_id;
    cairn_txn *t;
    cairn_header h;
    if (cairn_store_read_begin(f->s, &t) || cairn_chain_head(t, &h, NULL)) abort();
    cairn_txn_abort(t);
    b->expiry_height = h.height + 100;
    uint64_t n = ++f->nonce;
    memcpy(nonce, &n, 8);
    b->nonce = (ProtobufCBinaryData){8, nonce};
}

/* Applies one block of raw transactions; results per tx. Returns the block out. */
static inline cairn_block_out lfx_block(lfx *f, const cairn_buf *txs, size_t n, int32_t *results)
{
    cairn_log_leaf ll[64];
    for (size_t i = 0; i < n; i++) ll[i] = (cairn_log_leaf){txs[i].p, txs[i].len};
    cairn_txn *t;
    cairn_block_out out;
    if (cairn_store_write_begin(f->s, &t)) abort();
    f->time_ms += 1000;
    int err =
        cairn_chain_apply_block(f->c, t, f->time_ms, f->validator_id, ll, n, NULL, &out, results);
    if (err) {
        fprintf(stderr, "apply_block: %s\n", cairn_err_name(err));
        abort();
    }
    cairn_certificate cert = {.height = out.header.height, .n = 1};
    memcpy(cert.block_hash, out.hash, 32);
    if (cairn_commit_sign(f->g->chain_id, out.header.height, out.hash, f->validator.seed,
                          cert.sigs[0].sig) ||
        cairn_chain_put_certificate(t, &cert) || cairn_txn_commit(t))
        abort();
    return out;
}

/* Signs body with kp and applies it alone in a block; returns its result. */
static inline int32_t lfx_submit(lfx *f, const Cairn__V1__TxBody *body, const cairn_keypair *kp,
                                 uint8_t tx_hash[32])
{
    cairn_buf tx = CAIRN_BUF_INIT;
    if (cairn_tx_build(&tx, f->g->chain_id, body, kp, tx_hash)) abort();
    int32_t r;
    lfx_block(f, &tx, 1, &r);
    cairn_buf_free(&tx);
    return r;
}

typedef struct lfx_world {
    lfx *f;
    cairn_keypair dev;
    uint8_t device_id[32], release_id[32], digest[32];
} lfx_world;

static inline void lfx_world_submit(lfx_world *w, Cairn__V1__TxBody *b, const cairn_keypair *kp)
{
    if (lfx_submit(w->f, b, kp, NULL) != 0) abort();
}

/* A chain for provenance tests: registers a device, publishes its firmware, attests (trusted) and
 * anchors `digest`. */
static inline void lfx_world_build(lfx_world *w, int with_attestation)
{
    lfx *f = w->f = lfx_open(1);
    uint8_t seed[32], nonce[8], pop[64], commit[32], img[32];
    lfx_seed(seed, 0x51);
    if ((cairn_keypair_from_seed(&w->dev, f->sig, CAIRN_SIG_ED25519, seed)) != 0) abort();
    memset(commit, 0x33, 32);
    cairn_device_id(w->device_id, f->g->chain_id, f->acme_id, commit);
    if ((cairn_pop_sign(f->g->chain_id, f->acme_id, &w->dev, pop)) != 0) abort();
    Cairn__V1__TxBody b;
    lfx_body(f, &b, nonce);
    Cairn__V1__DeviceRegister r = CAIRN__V1__DEVICE_REGISTER__INIT;
    Cairn__V1__PublicKey pk = CAIRN__V1__PUBLIC_KEY__INIT;
    Cairn__V1__ExternalIdCommitment id = CAIRN__V1__EXTERNAL_ID_COMMITMENT__INIT, *ids[1] = {&id};
    pk.alg = CAIRN__V1__SIG_ALG__SIG_ALG_ED25519;
    pk.key = (ProtobufCBinaryData){32, w->dev.pub};
    id.scheme = CAIRN__V1__ID_SCHEME__ID_SCHEME_UEID;
    id.commitment = (ProtobufCBinaryData){32, commit};
    r.owner_org = (ProtobufCBinaryData){32, f->acme_id};
    r.device_key = &pk;
    r.pop_signature = (ProtobufCBinaryData){64, pop};
    r.n_identifiers = 1;
    r.identifiers = ids;
    r.device_class = "meter";
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_REGISTER;
    b.device_register = &r;
    lfx_world_submit(w, &b, &f->acme);

    memset(img, 0x77, 32);
    Cairn__V1__Digest d = CAIRN__V1__DIGEST__INIT, *ms[1] = {&d};
    d.alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
    d.value = (ProtobufCBinaryData){32, img};
    Cairn__V1__FirmwarePublish fw = CAIRN__V1__FIRMWARE_PUBLISH__INIT;
    fw.vendor_org = (ProtobufCBinaryData){32, f->acme_id};
    fw.device_class = "meter";
    fw.version = "2.1.0";
    fw.security_version = 3;
    fw.image_digest = &d;
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_FIRMWARE_PUBLISH;
    b.firmware_publish = &fw;
    lfx_world_submit(w, &b, &f->acme);
    cairn_str c, v;
    if ((cairn_str_set(&c, "meter", 5)) != 0) abort();
    if ((cairn_str_set(&v, "2.1.0", 5)) != 0) abort();
    cairn_release_id(w->release_id, f->acme_id, &c, &v);

    if (with_attestation) {
        cairn_txn *t;
        cairn_header h;
        uint8_t fresh[32];
        if ((cairn_store_read_begin(f->s, &t)) != 0) abort();
        if ((cairn_chain_head(t, &h, fresh)) != 0) abort();
        cairn_txn_abort(t);
        Cairn__V1__Attestation at = CAIRN__V1__ATTESTATION__INIT;
        at.device_id = (ProtobufCBinaryData){32, w->device_id};
        at.n_measurements = 1;
        at.measurements = ms;
        at.freshness_block = (ProtobufCBinaryData){32, fresh};
        lfx_body(f, &b, nonce);
        b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_ATTESTATION;
        b.attestation = &at;
        lfx_world_submit(w, &b, &w->dev);
    }
    memset(w->digest, 0xDA, 32);
    Cairn__V1__Digest dd = CAIRN__V1__DIGEST__INIT;
    dd.alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
    dd.value = (ProtobufCBinaryData){32, w->digest};
    Cairn__V1__DataAnchor an = CAIRN__V1__DATA_ANCHOR__INIT;
    an.device_id = (ProtobufCBinaryData){32, w->device_id};
    an.stream_id = (ProtobufCBinaryData){3, (uint8_t *)"kwh"};
    an.sequence = 1;
    an.data_digest = &dd;
    an.time_start_ms = 100;
    an.time_end_ms = 200;
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR;
    b.data_anchor = &an;
    lfx_world_submit(w, &b, &w->dev);
}

#endif
