/*
 * Provenance bundles: built from a chain with a device, a firmware release, an attestation and
 * an anchor; verified offline against the genesis alone; every single-byte change rejected;
 * JSON and binary forms equivalent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger/bundle.h"
#include "ledger_fixture.h"

typedef struct world {
    lfx *f;
    cairn_keypair dev;
    uint8_t device_id[32], release_id[32], digest[32];
} world;

static void submit_payload(world *w, Cairn__V1__TxBody *b, const cairn_keypair *kp)
{
    assert_int_equal(lfx_submit(w->f, b, kp, NULL), 0);
}

/* Registers a device, publishes its firmware, attests (trusted) and anchors `digest`. */
static void build_world(world *w, int with_attestation)
{
    lfx *f = w->f = lfx_open(1);
    uint8_t seed[32], nonce[8], pop[64], commit[32], img[32];
    lfx_seed(seed, 0x51);
    assert_int_equal(cairn_keypair_from_seed(&w->dev, f->sig, CAIRN_SIG_ED25519, seed), 0);
    memset(commit, 0x33, 32);
    cairn_device_id(w->device_id, f->g->chain_id, f->acme_id, commit);
    assert_int_equal(cairn_pop_sign(f->g->chain_id, f->acme_id, &w->dev, pop), 0);
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
    submit_payload(w, &b, &f->acme);

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
    submit_payload(w, &b, &f->acme);
    cairn_str c, v;
    assert_int_equal(cairn_str_set(&c, "meter", 5), 0);
    assert_int_equal(cairn_str_set(&v, "2.1.0", 5), 0);
    cairn_release_id(w->release_id, f->acme_id, &c, &v);

    if (with_attestation) {
        cairn_txn *t;
        cairn_header h;
        uint8_t fresh[32];
        assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
        assert_int_equal(cairn_chain_head(t, &h, fresh), 0);
        cairn_txn_abort(t);
        Cairn__V1__Attestation at = CAIRN__V1__ATTESTATION__INIT;
        at.device_id = (ProtobufCBinaryData){32, w->device_id};
        at.n_measurements = 1;
        at.measurements = ms;
        at.freshness_block = (ProtobufCBinaryData){32, fresh};
        lfx_body(f, &b, nonce);
        b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_ATTESTATION;
        b.attestation = &at;
        submit_payload(w, &b, &w->dev);
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
    submit_payload(w, &b, &w->dev);
}

static void make_bundle(world *w, cairn_buf *out)
{
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(w->f->s, &t), 0);
    assert_int_equal(cairn_bundle_build(w->f->c, t, w->digest, 32, out), 0);
    uint8_t other[32];
    memset(other, 0x01, 32);
    cairn_buf none = CAIRN_BUF_INIT;
    assert_int_equal(cairn_bundle_build(w->f->c, t, other, 32, &none), CAIRN_ENOENT);
    cairn_txn_abort(t);
}

static void test_verify_valid(void **state)
{
    (void)state;
    world w;
    build_world(&w, 1);
    cairn_buf bundle = CAIRN_BUF_INIT;
    make_bundle(&w, &bundle);
    printf("# bundle: %zu bytes\n", bundle.len);
    cairn_bundle_summary s;
    char why[256] = "";
    assert_int_equal(cairn_bundle_verify(w.f->sig, w.f->g, bundle.p, bundle.len, &s, why, sizeof why), 0);
    assert_memory_equal(s.device.id, w.device_id, 32);
    assert_int_equal(s.device.status, CAIRN_DEV_ACTIVE);
    assert_string_equal(s.owner.name.s, "acme");
    assert_int_equal(s.has_attestation, 1);
    assert_int_equal(s.attestation_after_anchor, 0);
    assert_int_equal(s.device.attestation.appraisal, CAIRN_APPRAISAL_TRUSTED);
    assert_int_equal(s.has_release, 1);
    assert_string_equal(s.release.version.s, "2.1.0");
    assert_int_equal(s.release.status, CAIRN_FW_PUBLISHED);
    assert_int_equal(s.sequence, 1);
    assert_int_equal(s.time_end_ms, 200);
    assert_int_equal(s.signatures, 1);
    assert_int_equal(s.signer_key_index, 0);
    assert_memory_equal(s.data_digest, w.digest, 32);
    /* JSON round trip gives back the same bytes, and verifies the same. */
    char *json;
    assert_int_equal(cairn_bundle_to_json(bundle.p, bundle.len, &json), 0);
    cairn_buf back = CAIRN_BUF_INIT;
    assert_int_equal(cairn_bundle_from_json(json, strlen(json), &back), 0);
    assert_int_equal(back.len, bundle.len);
    assert_memory_equal(back.p, bundle.p, bundle.len);
    free(json);
    cairn_buf_free(&back);
    /* Another chain's genesis refuses it. */
    cairn_genesis *other = malloc(sizeof *other);
    *other = *w.f->g;
    strcpy(other->chain_id, "other");
    assert_int_equal(cairn_bundle_verify(w.f->sig, other, bundle.p, bundle.len, NULL, why, sizeof why),
                     CAIRN_ECHAIN_ID);
    /* A genesis with another validator key: the certificate no longer certifies. */
    *other = *w.f->g;
    other->validators[0].key.key[0] ^= 1;
    assert_int_not_equal(cairn_bundle_verify(w.f->sig, other, bundle.p, bundle.len, NULL, why, sizeof why), 0);
    free(other);
    cairn_buf_free(&bundle);
    lfx_close(w.f);
}

static void test_every_byte_tampered(void **state)
{
    (void)state;
    world w;
    build_world(&w, 1);
    cairn_buf bundle = CAIRN_BUF_INIT;
    make_bundle(&w, &bundle);
    char why[256];
    size_t rejected = 0;
    for (size_t i = 0; i < bundle.len; i++) {
        for (int bit = 0; bit < 8; bit += 7) { /* lowest and highest bit of every byte */
            bundle.p[i] ^= (uint8_t)(1u << bit);
            int err = cairn_bundle_verify(w.f->sig, w.f->g, bundle.p, bundle.len, NULL, why, sizeof why);
            if (err == 0) fail_msg("byte %zu bit %d changed and the bundle still verifies", i, bit);
            rejected++;
            bundle.p[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Truncations and an extra byte. */
    for (size_t cut = 0; cut < bundle.len; cut += 7)
        assert_int_not_equal(cairn_bundle_verify(w.f->sig, w.f->g, bundle.p, cut, NULL, why, sizeof why), 0);
    cairn_buf_u8(&bundle, 0);
    assert_int_not_equal(cairn_bundle_verify(w.f->sig, w.f->g, bundle.p, bundle.len, NULL, why, sizeof why), 0);
    printf("# %zu tampered bundles rejected\n", rejected);
    cairn_buf_free(&bundle);
    lfx_close(w.f);
}

static void test_without_attestation(void **state)
{
    (void)state;
    world w;
    build_world(&w, 0);
    cairn_buf bundle = CAIRN_BUF_INIT;
    make_bundle(&w, &bundle);
    cairn_bundle_summary s;
    char why[256];
    assert_int_equal(cairn_bundle_verify(w.f->sig, w.f->g, bundle.p, bundle.len, &s, why, sizeof why), 0);
    assert_int_equal(s.has_attestation, 0);
    assert_int_equal(s.has_release, 0);
    cairn_buf_free(&bundle);
    lfx_close(w.f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_valid),
        cmocka_unit_test(test_without_attestation),
        cmocka_unit_test(test_every_byte_tampered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
