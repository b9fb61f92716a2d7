/*
 * The ledger engine end to end: genesis, device registration, firmware, attestation appraisal,
 * anchors, status changes, transfers, governance, replay protection, and bad transactions that
 * are logged with their specific result and change no state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger/smt.h"
#include "ledger/state.h"
#include "ledger_fixture.h"

typedef struct dev {
    cairn_keypair kp;
    uint8_t id[32];
} dev;

static int32_t register_device_alg(lfx *f, dev *d, cairn_sig_alg alg, uint8_t seed_byte,
                                   const uint8_t owner[32], const cairn_keypair *signer,
                                   const char *dclass, const char *serial)
{
    uint8_t seed[32], nonce[8], pop[64], salt[32], commit[32];
    lfx_seed(seed, seed_byte);
    assert_int_equal(cairn_keypair_from_seed(&d->kp, f->sig, alg, seed), 0);
    assert_int_equal(cairn_pop_sign(f->g->chain_id, owner, &d->kp, pop), 0);
    memset(salt, 0x5A, 32);
    cairn_ext_id_commitment(commit, CAIRN__V1__ID_SCHEME__ID_SCHEME_DEVID_SERIAL,
                            (const uint8_t *)serial, strlen(serial), salt);
    cairn_device_id(d->id, f->g->chain_id, owner, commit);

    Cairn__V1__TxBody b;
    lfx_body(f, &b, nonce);
    Cairn__V1__DeviceRegister r = CAIRN__V1__DEVICE_REGISTER__INIT;
    Cairn__V1__PublicKey pk = CAIRN__V1__PUBLIC_KEY__INIT;
    Cairn__V1__ExternalIdCommitment id = CAIRN__V1__EXTERNAL_ID_COMMITMENT__INIT, *ids[1] = {&id};
    pk.alg = (Cairn__V1__SigAlg)alg;
    pk.key = (ProtobufCBinaryData){d->kp.pub_len, d->kp.pub};
    id.scheme = CAIRN__V1__ID_SCHEME__ID_SCHEME_DEVID_SERIAL;
    id.commitment = (ProtobufCBinaryData){32, commit};
    r.owner_org = (ProtobufCBinaryData){32, (uint8_t *)owner};
    r.device_key = &pk;
    r.pop_signature = (ProtobufCBinaryData){64, pop};
    r.n_identifiers = 1;
    r.identifiers = ids;
    r.device_class = (char *)dclass;
    r.model = "m1";
    r.manufacturer = "acme";
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_REGISTER;
    b.device_register = &r;
    return lfx_submit(f, &b, signer, NULL);
}

static int32_t register_device(lfx *f, dev *d, uint8_t seed_byte, const uint8_t owner[32],
                               const cairn_keypair *signer, const char *dclass, const char *serial)
{
    return register_device_alg(f, d, CAIRN_SIG_ED25519, seed_byte, owner, signer, dclass, serial);
}

static int32_t publish_fw(lfx *f, const char *dclass, const char *version, uint64_t svn,
                          uint8_t image_byte, uint8_t release_id[32])
{
    uint8_t nonce[8], img[32];
    memset(img, image_byte, 32);
    Cairn__V1__TxBody b;
    lfx_body(f, &b, nonce);
    Cairn__V1__FirmwarePublish p = CAIRN__V1__FIRMWARE_PUBLISH__INIT;
    Cairn__V1__Digest d = CAIRN__V1__DIGEST__INIT;
    d.alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
    d.value = (ProtobufCBinaryData){32, img};
    p.vendor_org = (ProtobufCBinaryData){32, f->acme_id};
    p.device_class = (char *)dclass;
    p.version = (char *)version;
    p.security_version = svn;
    p.image_digest = &d;
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_FIRMWARE_PUBLISH;
    b.firmware_publish = &p;
    cairn_str c, v;
    assert_int_equal(cairn_str_set(&c, dclass, strlen(dclass)), 0);
    assert_int_equal(cairn_str_set(&v, version, strlen(version)), 0);
    cairn_release_id(release_id, f->acme_id, &c, &v);
    return lfx_submit(f, &b, &f->acme, NULL);
}

static int32_t revoke_fw(lfx *f, const uint8_t release_id[32], const cairn_keypair *signer)
{
    uint8_t nonce[8];
    Cairn__V1__TxBody b;
    lfx_body(f, &b, nonce);
    Cairn__V1__FirmwareRevoke r = CAIRN__V1__FIRMWARE_REVOKE__INIT;
    r.release_id = (ProtobufCBinaryData){32, (uint8_t *)release_id};
    r.reason = "CVE-2026-0001";
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_FIRMWARE_REVOKE;
    b.firmware_revoke = &r;
    return lfx_submit(f, &b, signer, NULL);
}

static void head_hash(lfx *f, uint8_t hash[32], uint64_t *height)
{
    cairn_txn *t;
    cairn_header h;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_head(t, &h, hash), 0);
    cairn_txn_abort(t);
    if (height) *height = h.height;
}

static int32_t attest_by(lfx *f, const dev *d, const cairn_keypair *signer, uint8_t image_byte,
                         const uint8_t fresh[32])
{
    uint8_t nonce[8], img[32], ev[32];
    memset(img, image_byte, 32);
    memset(ev, 0xEE, 32);
    Cairn__V1__TxBody b;
    lfx_body(f, &b, nonce);
    Cairn__V1__Attestation a = CAIRN__V1__ATTESTATION__INIT;
    Cairn__V1__Digest m = CAIRN__V1__DIGEST__INIT, e = CAIRN__V1__DIGEST__INIT, *ms[1] = {&m};
    m.alg = e.alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
    m.value = (ProtobufCBinaryData){32, img};
    e.value = (ProtobufCBinaryData){32, ev};
    a.device_id = (ProtobufCBinaryData){32, (uint8_t *)d->id};
    a.n_measurements = 1;
    a.measurements = ms;
    a.evidence_digest = &e;
    a.freshness_block = (ProtobufCBinaryData){32, (uint8_t *)fresh};
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_ATTESTATION;
    b.attestation = &a;
    return lfx_submit(f, &b, signer, NULL);
}

static int32_t attest(lfx *f, const dev *d, uint8_t image_byte, const uint8_t fresh[32])
{
    return attest_by(f, d, &d->kp, image_byte, fresh);
}

static void build_anchor(lfx *f, cairn_buf *out, const dev *d, const cairn_keypair *signer,
                         uint64_t seq, uint8_t data_byte, uint8_t tx_hash[32])
{
    uint8_t nonce[8], dig[32];
    memset(dig, data_byte, 32);
    Cairn__V1__TxBody b;
    lfx_body(f, &b, nonce);
    Cairn__V1__DataAnchor a = CAIRN__V1__DATA_ANCHOR__INIT;
    Cairn__V1__Digest dd = CAIRN__V1__DIGEST__INIT;
    dd.alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
    dd.value = (ProtobufCBinaryData){32, dig};
    a.device_id = (ProtobufCBinaryData){32, (uint8_t *)d->id};
    a.stream_id = (ProtobufCBinaryData){4, (uint8_t *)"temp"};
    a.sequence = seq;
    a.data_digest = &dd;
    a.time_start_ms = 10;
    a.time_end_ms = 20;
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR;
    b.data_anchor = &a;
    assert_int_equal(cairn_tx_build(out, f->g->chain_id, &b, signer, tx_hash), 0);
}

static int32_t anchor(lfx *f, const dev *d, uint64_t seq, uint8_t data_byte)
{
    cairn_buf tx = CAIRN_BUF_INIT;
    build_anchor(f, &tx, d, &d->kp, seq, data_byte, NULL);
    int32_t r;
    lfx_block(f, &tx, 1, &r);
    cairn_buf_free(&tx);
    return r;
}

static cairn_device get_device(lfx *f, const uint8_t id[32])
{
    cairn_txn *t;
    cairn_header h;
    cairn_state *st;
    cairn_device d;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_head(t, &h, NULL), 0);
    assert_int_equal(cairn_state_begin(&st, t, 1, h.height), 0);
    assert_int_equal(cairn_state_get_device(st, id, &d), 0);
    cairn_state_free(st);
    cairn_txn_abort(t);
    return d;
}

static void state_root(lfx *f, uint8_t root[32])
{
    cairn_txn *t;
    cairn_header h;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_head(t, &h, NULL), 0);
    cairn_txn_abort(t);
    memcpy(root, h.state_root, 32);
}

static void test_genesis(void **state)
{
    (void)state;
    lfx *f = lfx_open(1);
    cairn_txn *t;
    cairn_header h;
    uint8_t hash[32];
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_head(t, &h, hash), 0);
    assert_int_equal(h.height, 0);
    assert_int_equal(h.log_size, 1);
    const uint8_t *leaf;
    size_t len;
    cairn_entry e;
    assert_int_equal(cairn_log_leaf_get(t, 0, &leaf, &len), 0);
    assert_int_equal(cairn_entry_decode(&e, leaf, len), 0);
    assert_int_equal(e.kind, CAIRN_ENTRY_GENESIS);
    cairn_buf gb = CAIRN_BUF_INIT;
    cairn_genesis_encode(&gb, f->g);
    assert_int_equal(e.body_len, gb.len);
    assert_memory_equal(e.body, gb.p, gb.len);
    cairn_buf_free(&gb);
    /* The organizations are in the state with proofs against the genesis state root. */
    uint8_t key[32], proof[CAIRN_SMT_MAX_PROOF];
    size_t plen, vlen;
    const uint8_t *val;
    cairn_rec_key(key, CAIRN_REC_ORG, f->acme_id);
    assert_int_equal(cairn_smt_prove(t, 0, key, proof, sizeof proof, &plen, &val, &vlen), 0);
    assert_int_equal(cairn_smt_verify(h.state_root, key, val, vlen, proof, plen), 0);
    cairn_txn_abort(t);
    cairn_chain_close(f->c);
    /* Reopening with the same genesis works; with another one it is refused. */
    assert_int_equal(cairn_chain_open(&f->c, f->s, f->g, f->sig), 0);
    cairn_chain_close(f->c);
    cairn_genesis *other = malloc(sizeof *other);
    *other = *f->g;
    strcpy(other->chain_id, "other-chain");
    assert_int_equal(cairn_chain_open(&f->c, f->s, other, f->sig), CAIRN_EGENESIS);
    free(other);
    /* A chain written before the log-structured indexes (no "chain.index") is refused, as is
     * an unknown index layout: its replay records would not be found. */
    cairn_txn *w;
    assert_int_equal(cairn_store_write_begin(f->s, &w), 0);
    assert_int_equal(cairn_txn_del(w, CAIRN_TABLE_META, "chain.index", 11), 0);
    assert_int_equal(cairn_txn_commit(w), 0);
    assert_int_equal(cairn_chain_open(&f->c, f->s, f->g, f->sig), CAIRN_ESTORE_VERSION);
    assert_int_equal(cairn_store_write_begin(f->s, &w), 0);
    assert_int_equal(cairn_txn_put(w, CAIRN_TABLE_META, "chain.index", 11, "lsm-v9", 6, 0), 0);
    assert_int_equal(cairn_txn_commit(w), 0);
    assert_int_equal(cairn_chain_open(&f->c, f->s, f->g, f->sig), CAIRN_ESTORE_VERSION);
    assert_int_equal(cairn_store_write_begin(f->s, &w), 0);
    assert_int_equal(cairn_txn_put(w, CAIRN_TABLE_META, "chain.index", 11, "lsm-v1", 6, 0), 0);
    assert_int_equal(cairn_txn_commit(w), 0);
    assert_int_equal(cairn_chain_open(&f->c, f->s, f->g, f->sig), 0);
    lfx_close(f);
}

static void test_device_lifecycle(void **state)
{
    (void)state;
    lfx *f = lfx_open(1);
    dev d;
    assert_int_equal(register_device(f, &d, 0x11, f->acme_id, &f->acme, "sensor-v1", "SN-1"), 0);
    cairn_device rec = get_device(f, d.id);
    assert_int_equal(rec.status, CAIRN_DEV_ACTIVE);
    assert_memory_equal(rec.owner, f->acme_id, 32);
    assert_int_equal(rec.n_keys, 1);
    assert_int_equal(rec.attestation.appraisal, CAIRN_APPRAISAL_NONE);
    /* The same device again: exists. By an org that is not the owner: signer not authorized. */
    dev d2;
    assert_int_equal(register_device(f, &d2, 0x11, f->acme_id, &f->acme, "sensor-v1", "SN-1"),
                     CAIRN_EDEVICE_EXISTS);
    assert_int_equal(register_device(f, &d2, 0x12, f->acme_id, &f->beta, "sensor-v1", "SN-2"),
                     CAIRN_ESIGNER);
    /* beta is an operator but not a vendor: publishing firmware is refused. */
    uint8_t rid[32], root_before[32], root_after[32];
    assert_int_equal(publish_fw(f, "sensor-v1", "1.0.0", 1, 0x70, rid), 0);
    assert_int_equal(publish_fw(f, "sensor-v1", "1.0.0", 1, 0x71, rid), CAIRN_EFW_EXISTS);
    state_root(f, root_before);
    assert_int_equal(publish_fw(f, "sensor-v1", "0.9.0", 0, 0x72, rid), CAIRN_ESECURITY_VERSION);
    state_root(f, root_after);
    assert_memory_equal(root_before, root_after, 32); /* a rejected tx changes nothing */
    assert_int_equal(publish_fw(f, "sensor-v1", "1.0.0", 1, 0x70, rid), CAIRN_EFW_EXISTS);

    /* Attest with the published image: trusted. */
    uint8_t fresh[32];
    head_hash(f, fresh, NULL);
    assert_int_equal(attest(f, &d, 0x70, fresh), 0);
    rec = get_device(f, d.id);
    assert_int_equal(rec.attestation.appraisal, CAIRN_APPRAISAL_TRUSTED);
    assert_memory_equal(rec.attestation.release_id, rid, 32);
    /* Unknown image. */
    head_hash(f, fresh, NULL);
    assert_int_equal(attest(f, &d, 0x99, fresh), 0);
    assert_int_equal(get_device(f, d.id).attestation.appraisal, CAIRN_APPRAISAL_UNKNOWN_FIRMWARE);
    /* Freshness that is not a block hash: stale. */
    uint8_t bogus[32];
    memset(bogus, 0x42, 32);
    assert_int_equal(attest(f, &d, 0x70, bogus), 0);
    assert_int_equal(get_device(f, d.id).attestation.appraisal, CAIRN_APPRAISAL_STALE);
    /* Revoke the release (beta cannot), attest again: revoked firmware. */
    assert_int_equal(revoke_fw(f, rid, &f->beta), CAIRN_ESIGNER);
    assert_int_equal(revoke_fw(f, rid, &f->acme), 0);
    assert_int_equal(revoke_fw(f, rid, &f->acme), CAIRN_EFW_REVOKED);
    head_hash(f, fresh, NULL);
    assert_int_equal(attest(f, &d, 0x70, fresh), 0);
    assert_int_equal(get_device(f, d.id).attestation.appraisal, CAIRN_APPRAISAL_REVOKED_FIRMWARE);
    /* An attestation signed by anyone but the device itself is refused, and changes nothing. */
    assert_int_equal(attest_by(f, &d, &f->acme, 0x70, fresh), CAIRN_ESIGNER);
    assert_int_equal(get_device(f, d.id).attestation.appraisal, CAIRN_APPRAISAL_REVOKED_FIRMWARE);
    lfx_close(f);
}

static void test_anchors_and_replay(void **state)
{
    (void)state;
    lfx *f = lfx_open(1);
    dev d;
    assert_int_equal(register_device(f, &d, 0x21, f->acme_id, &f->acme, "cam", "SN-9"), 0);
    assert_int_equal(anchor(f, &d, 1, 0xD1), 0);
    assert_int_equal(anchor(f, &d, 1, 0xD2), CAIRN_EANCHOR_SEQUENCE); /* repeat */
    assert_int_equal(anchor(f, &d, 5, 0xD3), 0);                      /* gap: recorded */
    assert_int_equal(anchor(f, &d, 4, 0xD4), CAIRN_EANCHOR_SEQUENCE); /* going back */
    {
        cairn_txn *rt;
        cairn_stream sc;
        assert_int_equal(cairn_store_read_begin(f->s, &rt), 0);
        assert_int_equal(cairn_chain_stream(rt, d.id, (const uint8_t *)"temp", 4, &sc), 0);
        assert_int_equal(sc.last_sequence, 5);
        assert_int_equal(sc.anchors, 2);
        assert_int_equal(sc.gaps, 1);
        assert_int_equal(cairn_chain_stream(rt, d.id, (const uint8_t *)"other", 5, &sc),
                         CAIRN_ENOENT);
        cairn_txn_abort(rt);
    }

    /* The same signed transaction twice: replay, in a later block and within one block. */
    cairn_buf tx = CAIRN_BUF_INIT;
    uint8_t h[32];
    build_anchor(f, &tx, &d, &d.kp, 6, 0xD5, h);
    int32_t r[2];
    cairn_buf two[2] = {tx, tx};
    lfx_block(f, two, 2, r);
    assert_int_equal(r[0], 0);
    assert_int_equal(r[1], CAIRN_EREPLAY);
    lfx_block(f, &tx, 1, r);
    assert_int_equal(r[0], CAIRN_EREPLAY);
    cairn_txn *t;
    cairn_tx_status st;
    uint64_t idx;
    uint8_t dig[32];
    memset(dig, 0xD5, 32);
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_tx_status(t, h, &st), 0);
    assert_int_equal(st.result, 0); /* the original keeps its index entry */
    assert_int_equal(cairn_chain_anchor_index(t, dig, 32, &idx), 0);
    assert_int_equal(idx, st.log_index);
    memset(dig, 0xD2, 32);
    assert_int_equal(cairn_chain_anchor_index(t, dig, 32, &idx), CAIRN_ENOENT); /* rejected */
    cairn_txn_abort(t);

    /* 41 blocks later (the index runs have been merged into higher levels several times), the
     * first anchor of a digest is still the answer after another device anchored it again, and
     * the old transaction is still a replay, at admission and in a block. */
    dev d2;
    assert_int_equal(register_device(f, &d2, 0x22, f->acme_id, &f->acme, "cam", "SN-10"), 0);
    for (uint64_t k = 1; k <= 40; k++)
        assert_int_equal(anchor(f, &d2, k, k == 20 ? 0xD5 : (uint8_t)(0x100 - k)), 0);
    uint8_t h2[32];
    memset(dig, 0xD5, 32);
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_anchor_index(t, dig, 32, &idx), 0);
    assert_int_equal(idx, st.log_index);
    assert_int_equal(cairn_chain_tx_status(t, h, &st), 0);
    assert_int_equal(st.log_index, idx);
    assert_int_equal(cairn_chain_admit(f->c, t, tx.p, tx.len, h2), CAIRN_EREPLAY);
    assert_memory_equal(h2, h, 32);
    memset(dig, 0xD9, 32); /* anchored by d2 at k = 39 */
    assert_int_equal(cairn_chain_anchor_index(t, dig, 32, &idx), 0);
    assert_true(idx > st.log_index);
    cairn_txn_abort(t);
    lfx_block(f, &tx, 1, r);
    assert_int_equal(r[0], CAIRN_EREPLAY);
    cairn_buf_free(&tx);

    /* An anchor signed by the owner's admin instead of the device: wrong signer. */
    build_anchor(f, &tx, &d, &f->acme, 7, 0xD6, NULL);
    lfx_block(f, &tx, 1, r);
    assert_int_equal(r[0], CAIRN_ESIGNER);
    cairn_buf_free(&tx);

    /* Suspend: anchors refused; reactivate: accepted; revoke: final. */
    uint8_t nonce[8];
    Cairn__V1__TxBody b;
    Cairn__V1__DeviceStatusChange sc = CAIRN__V1__DEVICE_STATUS_CHANGE__INIT;
    sc.device_id = (ProtobufCBinaryData){32, d.id};
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_STATUS;
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_STATUS;
    b.device_status = &sc;
    sc.status = CAIRN__V1__DEVICE_STATUS__DEVICE_STATUS_SUSPENDED;
    assert_int_equal(lfx_submit(f, &b, &f->acme, NULL), 0);
    assert_int_equal(anchor(f, &d, 8, 0xD7), CAIRN_EDEVICE_NOT_ACTIVE);
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_STATUS;
    b.device_status = &sc;
    sc.status = CAIRN__V1__DEVICE_STATUS__DEVICE_STATUS_ACTIVE;
    assert_int_equal(lfx_submit(f, &b, &f->acme, NULL), 0);
    assert_int_equal(anchor(f, &d, 9, 0xD8), 0);
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_STATUS;
    b.device_status = &sc;
    sc.status = CAIRN__V1__DEVICE_STATUS__DEVICE_STATUS_REVOKED;
    assert_int_equal(lfx_submit(f, &b, &f->beta, NULL), CAIRN_ESIGNER);
    /* The same body again, now signed by the owner: its hash is taken (a replay). */
    assert_int_equal(lfx_submit(f, &b, &f->acme, NULL), CAIRN_EREPLAY);
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_STATUS;
    b.device_status = &sc;
    assert_int_equal(lfx_submit(f, &b, &f->acme, NULL), 0);
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_STATUS;
    b.device_status = &sc;
    sc.status = CAIRN__V1__DEVICE_STATUS__DEVICE_STATUS_ACTIVE;
    assert_int_equal(lfx_submit(f, &b, &f->acme, NULL), CAIRN_ESTATUS_TRANSITION);
    assert_int_equal(anchor(f, &d, 10, 0xD9), CAIRN_EDEVICE_NOT_ACTIVE);
    lfx_close(f);
}

static void test_every_key_algorithm(void **state)
{
    (void)state;
    lfx *f = lfx_open(1);
    static const cairn_sig_alg algs[] = {CAIRN_SIG_ED25519, CAIRN_SIG_SECP256K1_SCHNORR,
                                         CAIRN_SIG_SECP256K1_ECDSA, CAIRN_SIG_P256};
    for (size_t i = 0; i < 4; i++) {
        dev d;
        char serial[16];
        snprintf(serial, sizeof serial, "ALG-%zu", i);
        assert_int_equal(register_device_alg(f, &d, algs[i], (uint8_t)(0x61 + i), f->acme_id,
                                             &f->acme, "multi", serial),
                         0);
        assert_int_equal(get_device(f, d.id).keys[0].key.alg, algs[i]);
        assert_int_equal(anchor(f, &d, 1, (uint8_t)(0xE0 + i)), 0);
        assert_int_equal(anchor(f, &d, 2, (uint8_t)(0xF0 + i)), 0);
    }
    lfx_close(f);
}

/* Registration refuses keys an honest device never has: small order, non-canonical. */
static void test_weak_device_keys_refused(void **state)
{
    (void)state;
    lfx *f = lfx_open(1);
    static const uint8_t identity[32] = {1}; /* the neutral point: small order */
    uint8_t noncanonical[32];                /* y = p + 1 (>= p): non-canonical encoding */
    memset(noncanonical, 0xff, 32);
    noncanonical[0] = 0xee;
    noncanonical[31] = 0x7f;
    const uint8_t *keys[2] = {identity, noncanonical};
    for (int i = 0; i < 2; i++) {
        uint8_t nonce[8], pop[64] = {0}, commit[32];
        memset(commit, 0x40 + i, 32);
        Cairn__V1__TxBody b;
        lfx_body(f, &b, nonce);
        Cairn__V1__DeviceRegister r = CAIRN__V1__DEVICE_REGISTER__INIT;
        Cairn__V1__PublicKey pk = CAIRN__V1__PUBLIC_KEY__INIT;
        Cairn__V1__ExternalIdCommitment id = CAIRN__V1__EXTERNAL_ID_COMMITMENT__INIT,
                                        *ids[1] = {&id};
        pk.alg = CAIRN__V1__SIG_ALG__SIG_ALG_ED25519;
        pk.key = (ProtobufCBinaryData){32, (uint8_t *)keys[i]};
        id.scheme = CAIRN__V1__ID_SCHEME__ID_SCHEME_OID;
        id.commitment = (ProtobufCBinaryData){32, commit};
        r.owner_org = (ProtobufCBinaryData){32, f->acme_id};
        r.device_key = &pk;
        r.pop_signature = (ProtobufCBinaryData){64, pop};
        r.n_identifiers = 1;
        r.identifiers = ids;
        r.device_class = "x";
        b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_REGISTER;
        b.device_register = &r;
        int32_t res = lfx_submit(f, &b, &f->acme, NULL);
        printf("# weak key %d: %s\n", i, cairn_err_name(res));
        assert_int_equal(res, CAIRN_ESIG_WEAK_KEY);
    }
    /* A good key with a proof of possession by another key: EPOP. */
    dev d, other;
    uint8_t seed[32], nonce[8], pop[64], commit[32];
    lfx_seed(seed, 0x71);
    assert_int_equal(cairn_keypair_from_seed(&d.kp, f->sig, CAIRN_SIG_ED25519, seed), 0);
    lfx_seed(seed, 0x72);
    assert_int_equal(cairn_keypair_from_seed(&other.kp, f->sig, CAIRN_SIG_ED25519, seed), 0);
    assert_int_equal(cairn_pop_sign(f->g->chain_id, f->acme_id, &other.kp, pop), 0);
    memset(commit, 0x55, 32);
    Cairn__V1__TxBody b;
    lfx_body(f, &b, nonce);
    Cairn__V1__DeviceRegister r = CAIRN__V1__DEVICE_REGISTER__INIT;
    Cairn__V1__PublicKey pk = CAIRN__V1__PUBLIC_KEY__INIT;
    Cairn__V1__ExternalIdCommitment id = CAIRN__V1__EXTERNAL_ID_COMMITMENT__INIT, *ids[1] = {&id};
    pk.alg = CAIRN__V1__SIG_ALG__SIG_ALG_ED25519;
    pk.key = (ProtobufCBinaryData){32, d.kp.pub};
    id.scheme = CAIRN__V1__ID_SCHEME__ID_SCHEME_OID;
    id.commitment = (ProtobufCBinaryData){32, commit};
    r.owner_org = (ProtobufCBinaryData){32, f->acme_id};
    r.device_key = &pk;
    r.pop_signature = (ProtobufCBinaryData){64, pop};
    r.n_identifiers = 1;
    r.identifiers = ids;
    r.device_class = "x";
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_REGISTER;
    b.device_register = &r;
    assert_int_equal(lfx_submit(f, &b, &f->acme, NULL), CAIRN_EPOP);
    lfx_close(f);
}

static void test_bad_transactions_change_nothing(void **state)
{
    (void)state;
    lfx *f = lfx_open(1);
    dev d;
    assert_int_equal(register_device(f, &d, 0x31, f->acme_id, &f->acme, "cam", "SN-3"), 0);
    uint8_t root[32], after[32];
    state_root(f, root);
    cairn_buf txs[6];
    for (int i = 0; i < 6; i++) txs[i] = (cairn_buf)CAIRN_BUF_INIT;
    /* 0: garbage bytes. */
    cairn_buf_put(&txs[0], "\xff\xff\xff garbage", 12);
    /* 1: wrong chain id. */
    {
        uint8_t nonce[8];
        Cairn__V1__TxBody b;
        lfx_body(f, &b, nonce);
        b.chain_id = "another-chain";
        Cairn__V1__DataAnchor a = CAIRN__V1__DATA_ANCHOR__INIT;
        b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR;
        b.data_anchor = &a;
        assert_int_equal(cairn_tx_build(&txs[1], "another-chain", &b, &d.kp, NULL), 0);
    }
    /* 2: a valid anchor whose signature is corrupted (last byte of the encoding is in it). */
    build_anchor(f, &txs[2], &d, &d.kp, 1, 0xAA, NULL);
    txs[2].p[txs[2].len - 1] ^= 0x01;
    /* 3: unknown device. */
    dev ghost;
    memset(&ghost, 0, sizeof ghost);
    ghost.kp = d.kp;
    memset(ghost.id, 0x77, 32);
    build_anchor(f, &txs[3], &ghost, &d.kp, 1, 0xAB, NULL);
    /* 4: expired. */
    {
        uint8_t nonce[8], dig[32] = {1};
        Cairn__V1__TxBody b;
        lfx_body(f, &b, nonce);
        b.expiry_height = 1;
        Cairn__V1__DataAnchor a = CAIRN__V1__DATA_ANCHOR__INIT;
        Cairn__V1__Digest dd = CAIRN__V1__DIGEST__INIT;
        dd.alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
        dd.value = (ProtobufCBinaryData){32, dig};
        a.device_id = (ProtobufCBinaryData){32, d.id};
        a.sequence = 1;
        a.data_digest = &dd;
        b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR;
        b.data_anchor = &a;
        assert_int_equal(cairn_tx_build(&txs[4], f->g->chain_id, &b, &d.kp, NULL), 0);
    }
    /* 5: no payload. */
    {
        uint8_t nonce[8];
        Cairn__V1__TxBody b;
        lfx_body(f, &b, nonce);
        assert_int_equal(cairn_tx_build(&txs[5], f->g->chain_id, &b, &d.kp, NULL), 0);
    }
    /* Admission gives the same verdicts before anything is ordered. */
    cairn_txn *t;
    uint8_t h[32];
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_admit(f->c, t, txs[0].p, txs[0].len, h), CAIRN_EDECODE);
    assert_int_equal(cairn_chain_admit(f->c, t, txs[1].p, txs[1].len, h), CAIRN_ECHAIN_ID);
    assert_int_equal(cairn_chain_admit(f->c, t, txs[2].p, txs[2].len, h), CAIRN_ESIG_INVALID);
    assert_int_equal(cairn_chain_admit(f->c, t, txs[4].p, txs[4].len, h), CAIRN_EEXPIRED);
    assert_int_equal(cairn_chain_admit(f->c, t, txs[5].p, txs[5].len, h), CAIRN_ENO_PAYLOAD);
    cairn_txn_abort(t);
    int32_t r[6];
    cairn_block_out out = lfx_block(f, txs, 6, r);
    assert_int_equal(r[0], CAIRN_EDECODE);
    assert_int_equal(r[1], CAIRN_ECHAIN_ID);
    assert_int_equal(r[2], CAIRN_ESIG_INVALID);
    assert_int_equal(r[3], CAIRN_EUNKNOWN_DEVICE);
    assert_int_equal(r[4], CAIRN_EEXPIRED);
    assert_int_equal(r[5], CAIRN_ENO_PAYLOAD);
    state_root(f, after);
    assert_memory_equal(root, after, 32);
    /* Every one is in the log with its result. */
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    for (int i = 0; i < 6; i++) {
        const uint8_t *leaf;
        size_t len;
        cairn_entry e;
        assert_int_equal(cairn_log_leaf_get(t, out.first_log_index + (uint64_t)i, &leaf, &len), 0);
        assert_int_equal(cairn_entry_decode(&e, leaf, len), 0);
        assert_int_equal(e.result, r[i]);
        assert_int_equal(e.position, i);
    }
    /* The badly signed anchor did not claim its hash: the correctly signed one still goes in. */
    cairn_buf good = CAIRN_BUF_INIT;
    txs[2].p[txs[2].len - 1] ^= 0x01;
    assert_int_equal(cairn_chain_admit(f->c, t, txs[2].p, txs[2].len, h), 0);
    cairn_txn_abort(t);
    cairn_buf_put(&good, txs[2].p, txs[2].len);
    lfx_block(f, &good, 1, r);
    assert_int_equal(r[0], 0);
    cairn_buf_free(&good);
    for (int i = 0; i < 6; i++) cairn_buf_free(&txs[i]);
    lfx_close(f);
}

static void test_transfer_and_governance(void **state)
{
    (void)state;
    lfx *f = lfx_open(2);
    dev d;
    assert_int_equal(register_device(f, &d, 0x41, f->acme_id, &f->acme, "cam", "SN-4"), 0);
    uint8_t nonce[8], offer[32];
    Cairn__V1__TxBody b;
    Cairn__V1__DeviceTransferOffer o = CAIRN__V1__DEVICE_TRANSFER_OFFER__INIT;
    o.device_id = (ProtobufCBinaryData){32, d.id};
    o.to_org = (ProtobufCBinaryData){32, f->beta_id};
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_TRANSFER_OFFER;
    b.device_transfer_offer = &o;
    assert_int_equal(lfx_submit(f, &b, &f->acme, offer), 0);
    Cairn__V1__DeviceTransferAccept a = CAIRN__V1__DEVICE_TRANSFER_ACCEPT__INIT;
    a.device_id = (ProtobufCBinaryData){32, d.id};
    a.offer_tx = (ProtobufCBinaryData){32, offer};
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_TRANSFER_ACCEPT;
    b.device_transfer_accept = &a;
    assert_int_equal(lfx_submit(f, &b, &f->acme, NULL), CAIRN_ESIGNER); /* needs the receiver */
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_TRANSFER_ACCEPT;
    b.device_transfer_accept = &a;
    assert_int_equal(lfx_submit(f, &b, &f->beta, NULL), 0);
    assert_memory_equal(get_device(f, d.id).owner, f->beta_id, 32);
    /* The device id did not change, and the new owner now manages it. */
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_TRANSFER_ACCEPT;
    b.device_transfer_accept = &a;
    assert_int_equal(lfx_submit(f, &b, &f->beta, NULL), CAIRN_ETRANSFER); /* offer consumed */

    /* Governance, 2 of 2: add an organization. */
    uint8_t seed[32], pid[32];
    cairn_keypair gamma;
    lfx_seed(seed, 0x66);
    assert_int_equal(cairn_keypair_from_seed(&gamma, f->sig, CAIRN_SIG_ED25519, seed), 0);
    Cairn__V1__GovProposal p = CAIRN__V1__GOV_PROPOSAL__INIT;
    Cairn__V1__AddOrganization ao = CAIRN__V1__ADD_ORGANIZATION__INIT;
    Cairn__V1__Organization org = CAIRN__V1__ORGANIZATION__INIT;
    Cairn__V1__PublicKey pk = CAIRN__V1__PUBLIC_KEY__INIT, *pks[1] = {&pk};
    Cairn__V1__OrgRole roles[1] = {CAIRN__V1__ORG_ROLE__ORG_ROLE_VENDOR};
    pk.alg = CAIRN__V1__SIG_ALG__SIG_ALG_ED25519;
    pk.key = (ProtobufCBinaryData){32, gamma.pub};
    org.name = "gamma";
    org.n_roles = 1;
    org.roles = roles;
    org.n_admin_keys = 1;
    org.admin_keys = pks;
    ao.org = &org;
    p.proposer_org = (ProtobufCBinaryData){32, f->acme_id};
    p.action_case = CAIRN__V1__GOV_PROPOSAL__ACTION_ADD_ORG;
    p.add_org = &ao;
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_GOV_PROPOSAL;
    b.gov_proposal = &p;
    assert_int_equal(lfx_submit(f, &b, &f->acme, pid), 0);
    uint8_t gamma_id[32];
    cairn_org_id(gamma_id, "gamma", 5);
    cairn_txn *t;
    cairn_state *st;
    cairn_org got;
    cairn_header h;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_head(t, &h, NULL), 0);
    assert_int_equal(cairn_state_begin(&st, t, 1, h.height), 0);
    assert_int_equal(cairn_state_get_org(st, gamma_id, &got), CAIRN_ENOENT); /* 1 of 2 */
    cairn_state_free(st);
    cairn_txn_abort(t);
    Cairn__V1__GovApproval ap = CAIRN__V1__GOV_APPROVAL__INIT;
    ap.proposal_id = (ProtobufCBinaryData){32, pid};
    ap.approver_org = (ProtobufCBinaryData){32, f->acme_id};
    ap.approve = 1;
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_GOV_APPROVAL;
    b.gov_approval = &ap;
    assert_int_equal(lfx_submit(f, &b, &f->acme, NULL), CAIRN_EPROPOSAL); /* voted already */
    ap.approver_org = (ProtobufCBinaryData){32, f->beta_id};
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_GOV_APPROVAL;
    b.gov_approval = &ap;
    assert_int_equal(lfx_submit(f, &b, &f->beta, NULL), 0);
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_head(t, &h, NULL), 0);
    assert_int_equal(cairn_state_begin(&st, t, 1, h.height), 0);
    assert_int_equal(cairn_state_get_org(st, gamma_id, &got), 0);
    assert_string_equal(got.name.s, "gamma");
    assert_int_equal(got.roles, CAIRN_ROLE_VENDOR);
    cairn_state_free(st);
    cairn_txn_abort(t);
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_GOV_APPROVAL;
    b.gov_approval = &ap;
    assert_int_equal(lfx_submit(f, &b, &f->beta, NULL), CAIRN_EPROPOSAL); /* closed */
    lfx_close(f);
}

/* Governance changes the validator records at once and the consensus set only at the epoch
 * boundary: the epoch-change block names the rotated set (exact order, hash, pending cleared). */
static int32_t gov_validator(lfx *f, const cairn_keypair *kp, uint8_t noise_byte, int remove,
                             const uint8_t remove_id[32])
{
    uint8_t nonce[8], noise[32];
    memset(noise, noise_byte, 32);
    Cairn__V1__TxBody b;
    Cairn__V1__GovProposal p = CAIRN__V1__GOV_PROPOSAL__INIT;
    Cairn__V1__AddValidator av = CAIRN__V1__ADD_VALIDATOR__INIT;
    Cairn__V1__RemoveValidator rv = CAIRN__V1__REMOVE_VALIDATOR__INIT;
    Cairn__V1__Validator v = CAIRN__V1__VALIDATOR__INIT;
    Cairn__V1__PublicKey pk = CAIRN__V1__PUBLIC_KEY__INIT;
    p.proposer_org = (ProtobufCBinaryData){32, f->acme_id};
    if (remove) {
        rv.validator_id = (ProtobufCBinaryData){32, (uint8_t *)remove_id};
        p.action_case = CAIRN__V1__GOV_PROPOSAL__ACTION_REMOVE_VALIDATOR;
        p.remove_validator = &rv;
    } else {
        pk.alg = CAIRN__V1__SIG_ALG__SIG_ALG_ED25519;
        pk.key = (ProtobufCBinaryData){32, (uint8_t *)kp->pub};
        v.consensus_key = &pk;
        v.org_id = (ProtobufCBinaryData){32, f->beta_id};
        v.noise_key = (ProtobufCBinaryData){32, noise};
        v.voting_power = noise_byte;
        v.address = "127.0.0.1:7761";
        av.validator = &v;
        p.action_case = CAIRN__V1__GOV_PROPOSAL__ACTION_ADD_VALIDATOR;
        p.add_validator = &av;
    }
    lfx_body(f, &b, nonce);
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_GOV_PROPOSAL;
    b.gov_proposal = &p;
    return lfx_submit(f, &b, &f->acme, NULL);
}

static size_t pending_changes(lfx *f)
{
    cairn_txn *t;
    size_t n = 99;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_valset_pending(t, &n), 0);
    cairn_txn_abort(t);
    return n;
}

static void get_valset(lfx *f, int64_t epoch, cairn_valset *vs)
{
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    if (epoch < 0)
        assert_int_equal(cairn_chain_valset(f->c, t, vs), 0);
    else
        assert_int_equal(cairn_chain_valset_at(f->c, t, (uint64_t)epoch, vs), 0);
    cairn_txn_abort(t);
}

static cairn_block_out epoch_block(lfx *f, cairn_valset *next)
{
    cairn_txn *t;
    cairn_block_out out;
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    f->time_ms += 1000;
    assert_int_equal(
        cairn_chain_apply_epoch_block(f->c, t, f->time_ms, f->validator_id, &out, next), 0);
    assert_int_equal(cairn_txn_commit(t), 0);
    return out;
}

static void test_validator_set_rotation(void **state)
{
    (void)state;
    lfx *f = lfx_open(1);
    cairn_valset *vs = calloc(1, sizeof *vs), *next = calloc(1, sizeof *next);
    cairn_keypair a, b, c;
    uint8_t seed[32];
    lfx_seed(seed, 0x71);
    assert_int_equal(cairn_keypair_from_seed(&a, f->sig, CAIRN_SIG_ED25519, seed), 0);
    lfx_seed(seed, 0x72);
    assert_int_equal(cairn_keypair_from_seed(&b, f->sig, CAIRN_SIG_ED25519, seed), 0);
    lfx_seed(seed, 0x73);
    assert_int_equal(cairn_keypair_from_seed(&c, f->sig, CAIRN_SIG_ED25519, seed), 0);
    uint8_t ida[32], idb[32], idc[32];
    cairn_validator_id(ida, a.pub, 32);
    cairn_validator_id(idb, b.pub, 32);
    cairn_validator_id(idc, c.pub, 32);

    /* Epoch 0: the genesis set, named by block 0. */
    get_valset(f, -1, vs);
    assert_int_equal(vs->epoch, 0);
    assert_int_equal(vs->n, 1);
    uint8_t gh[32];
    cairn_genesis_valset_hash(f->g, gh);
    assert_memory_equal(vs->hash, gh, 32);
    assert_int_equal(pending_changes(f), 0);

    /* Added in the order B, A: recorded, pending, consensus set unchanged. */
    assert_int_equal(gov_validator(f, &b, 2, 0, NULL), 0);
    assert_int_equal(gov_validator(f, &a, 3, 0, NULL), 0);
    assert_int_equal(gov_validator(f, &a, 3, 0, NULL), 0); /* again: keeps its place */
    assert_int_equal(pending_changes(f), 2);
    get_valset(f, -1, vs);
    assert_int_equal(vs->epoch, 0);
    assert_int_equal(vs->n, 1);
    cairn_header h;
    uint8_t hh[32];
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_head(t, &h, hh), 0);
    cairn_txn_abort(t);
    assert_memory_equal(h.valset_hash, gh, 32);
    assert_int_equal(h.epoch, 0);

    /* The epoch-change block: genesis set in order, then B, A (order of application). */
    cairn_block_out eo = epoch_block(f, next);
    assert_int_equal(eo.header.height, h.height + 1);
    assert_memory_equal(eo.header.parent, hh, 32);
    assert_int_equal(eo.header.log_size, h.log_size); /* no transactions */
    assert_memory_equal(eo.header.state_root, h.state_root, 32);
    assert_int_equal(next->epoch, 1);
    assert_int_equal(next->since_height, eo.header.height);
    assert_int_equal(next->n, 3);
    assert_memory_equal(next->v[0].id, f->validator_id, 32);
    assert_memory_equal(next->v[1].id, idb, 32);
    assert_memory_equal(next->v[2].id, ida, 32);
    assert_int_equal(next->v[1].power, 2);
    assert_int_equal(next->v[2].power, 3);
    cairn_validator expect[3] = {f->g->validators[0], next->v[1], next->v[2]};
    uint8_t eh[32];
    cairn_valset_hash(expect, 3, eh);
    assert_memory_equal(next->hash, eh, 32);
    assert_memory_equal(eo.header.valset_hash, eh, 32);
    assert_int_equal(eo.header.epoch, 1);
    assert_int_equal(pending_changes(f), 0);
    get_valset(f, -1, vs);
    assert_int_equal(vs->epoch, 1);
    assert_memory_equal(vs->hash, eh, 32);

    /* Later blocks keep naming the set and the epoch. */
    assert_int_equal(gov_validator(f, NULL, 0, 1, idb), 0); /* remove B */
    assert_int_equal(gov_validator(f, &c, 4, 0, NULL), 0);  /* add C */
    assert_int_equal(gov_validator(f, NULL, 0, 1, f->validator_id), 0);
    assert_int_equal(pending_changes(f), 3);
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_head(t, &h, NULL), 0);
    cairn_txn_abort(t);
    assert_memory_equal(h.valset_hash, eh, 32);
    assert_int_equal(h.epoch, 1);

    /* Epoch 2: [A, C]; epoch 1's set stays readable. */
    eo = epoch_block(f, next);
    assert_int_equal(next->epoch, 2);
    assert_int_equal(next->n, 2);
    assert_memory_equal(next->v[0].id, ida, 32);
    assert_memory_equal(next->v[1].id, idc, 32);
    assert_int_equal(eo.header.epoch, 2);
    assert_memory_equal(eo.header.valset_hash, next->hash, 32);
    get_valset(f, 1, vs);
    assert_int_equal(vs->n, 3);
    assert_memory_equal(vs->hash, eh, 32);
    get_valset(f, 0, vs);
    assert_memory_equal(vs->hash, gh, 32);
    assert_int_equal(pending_changes(f), 0);

    /* Nothing pending: the set carries over into the next epoch. */
    uint8_t h2[32];
    memcpy(h2, next->hash, 32);
    eo = epoch_block(f, next);
    assert_int_equal(next->epoch, 3);
    assert_memory_equal(next->hash, h2, 32);
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_valset_at(f->c, t, 9, vs), CAIRN_ENOENT);
    cairn_txn_abort(t);
    free(vs);
    free(next);
    lfx_close(f);
}

/* A block retried by cairn_store_write after a full map (as the node does) leaves exactly one
 * copy of its effects: the indexes keep no state outside the transaction. */
typedef struct retry_ctx {
    lfx *f;
    cairn_log_leaf leaf;
    int32_t result;
    int runs;
} retry_ctx;

static int apply_retry_fn(cairn_txn *t, void *arg)
{
    retry_ctx *r = arg;
    cairn_block_out out;
    if (++r->runs == 1) cairn_store_inject_fault(r->f->s, CAIRN_ESTORE_MAP_FULL);
    return cairn_chain_apply_block(r->f->c, t, r->f->time_ms, r->f->validator_id, &r->leaf, 1, NULL,
                                   &out, &r->result);
}

static void test_block_retried_after_map_full(void **state)
{
    (void)state;
    lfx *f = lfx_open(1);
    dev d;
    assert_int_equal(register_device(f, &d, 0x31, f->acme_id, &f->acme, "cam", "SN-31"), 0);
    cairn_buf tx = CAIRN_BUF_INIT;
    uint8_t h[32];
    build_anchor(f, &tx, &d, &d.kp, 1, 0xE1, h);
    retry_ctx r = {.f = f, .leaf = {tx.p, tx.len}};
    f->time_ms += 1000;
    assert_int_equal(cairn_store_write(f->s, apply_retry_fn, &r), 0);
    assert_int_equal(r.runs, 2);
    assert_int_equal(r.result, 0);
    cairn_txn *t;
    cairn_tx_status st;
    uint64_t idx;
    uint8_t dig[32];
    memset(dig, 0xE1, 32);
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_tx_status(t, h, &st), 0);
    assert_int_equal(cairn_chain_anchor_index(t, dig, 32, &idx), 0);
    assert_int_equal(idx, st.log_index);
    cairn_txn_abort(t);
    /* And the same transaction again is a replay. */
    int32_t res;
    lfx_block(f, &tx, 1, &res);
    assert_int_equal(res, CAIRN_EREPLAY);
    cairn_buf_free(&tx);
    lfx_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_genesis),
        cmocka_unit_test(test_device_lifecycle),
        cmocka_unit_test(test_anchors_and_replay),
        cmocka_unit_test(test_every_key_algorithm),
        cmocka_unit_test(test_weak_device_keys_refused),
        cmocka_unit_test(test_bad_transactions_change_nothing),
        cmocka_unit_test(test_transfer_and_governance),
        cmocka_unit_test(test_validator_set_rotation),
        cmocka_unit_test(test_block_retried_after_map_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
