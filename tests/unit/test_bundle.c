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
#include "proto/cairn/v1/api.pb-c.h"
#include "ledger_fixture.h"

static void make_bundle(lfx_world *w, cairn_buf *out)
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
    lfx_world w;
    lfx_world_build(&w, 1);
    cairn_buf bundle = CAIRN_BUF_INIT;
    make_bundle(&w, &bundle);
    printf("# bundle: %zu bytes\n", bundle.len);
    cairn_bundle_summary s;
    char why[256] = "";
    assert_int_equal(
        cairn_bundle_verify(w.f->sig, w.f->g, bundle.p, bundle.len, &s, why, sizeof why), 0);
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
    assert_int_equal(
        cairn_bundle_verify(w.f->sig, other, bundle.p, bundle.len, NULL, why, sizeof why),
        CAIRN_ECHAIN_ID);
    /* A genesis with another validator key: the certificate no longer certifies. */
    *other = *w.f->g;
    other->validators[0].key.key[0] ^= 1;
    assert_int_not_equal(
        cairn_bundle_verify(w.f->sig, other, bundle.p, bundle.len, NULL, why, sizeof why), 0);
    free(other);
    cairn_buf_free(&bundle);
    lfx_close(w.f);
}

static void test_every_byte_tampered(void **state)
{
    (void)state;
    lfx_world w;
    lfx_world_build(&w, 1);
    cairn_buf bundle = CAIRN_BUF_INIT;
    make_bundle(&w, &bundle);
    char why[256];
    size_t rejected = 0;
    for (size_t i = 0; i < bundle.len; i++) {
        for (int bit = 0; bit < 8; bit += 7) { /* lowest and highest bit of every byte */
            bundle.p[i] ^= (uint8_t)(1u << bit);
            int err =
                cairn_bundle_verify(w.f->sig, w.f->g, bundle.p, bundle.len, NULL, why, sizeof why);
            if (err == 0) fail_msg("byte %zu bit %d changed and the bundle still verifies", i, bit);
            rejected++;
            bundle.p[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Truncations and an extra byte. */
    for (size_t cut = 0; cut < bundle.len; cut += 7)
        assert_int_not_equal(
            cairn_bundle_verify(w.f->sig, w.f->g, bundle.p, cut, NULL, why, sizeof why), 0);
    cairn_buf_u8(&bundle, 0);
    assert_int_not_equal(
        cairn_bundle_verify(w.f->sig, w.f->g, bundle.p, bundle.len, NULL, why, sizeof why), 0);
    printf("# %zu tampered bundles rejected\n", rejected);
    cairn_buf_free(&bundle);
    lfx_close(w.f);
}

static void test_without_attestation(void **state)
{
    (void)state;
    lfx_world w;
    lfx_world_build(&w, 0);
    cairn_buf bundle = CAIRN_BUF_INIT;
    make_bundle(&w, &bundle);
    cairn_bundle_summary s;
    char why[256];
    assert_int_equal(
        cairn_bundle_verify(w.f->sig, w.f->g, bundle.p, bundle.len, &s, why, sizeof why), 0);
    assert_int_equal(s.has_attestation, 0);
    assert_int_equal(s.has_release, 0);
    cairn_buf_free(&bundle);
    lfx_close(w.f);
}

/* ---- a checkpoint of a later epoch ---- */

/* Replaces the certificate of block `height` with signatures of the given keys at the given
 * indexes of the certifying set. */
static void recertify(lfx *f, uint64_t height, const cairn_keypair *const *keys,
                      const uint32_t *idx, size_t n)
{
    cairn_txn *t;
    cairn_header h;
    cairn_certificate c = {.height = height, .n = (uint32_t)n};
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_block(t, height, &h, c.block_hash), 0);
    for (size_t i = 0; i < n; i++) {
        c.sigs[i].validator = idx[i];
        assert_int_equal(
            cairn_commit_sign(f->g->chain_id, height, c.block_hash, keys[i]->seed, c.sigs[i].sig),
            0);
    }
    assert_int_equal(cairn_chain_put_certificate(t, &c), 0);
    assert_int_equal(cairn_txn_commit(t), 0);
}

static uint64_t head_height(lfx *f)
{
    cairn_txn *t;
    cairn_header h;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_chain_head(t, &h, NULL), 0);
    cairn_txn_abort(t);
    return h.height;
}

static int verify_mod(lfx_world *w, const cairn_buf *bundle,
                      void (*mod)(Cairn__V1__ProvenanceBundle *b, void *arg), void *arg, char *why,
                      size_t cap)
{
    Cairn__V1__ProvenanceBundle *b =
        cairn__v1__provenance_bundle__unpack(NULL, bundle->len, bundle->p);
    assert_non_null(b);
    mod(b, arg);
    size_t n = cairn__v1__provenance_bundle__get_packed_size(b);
    uint8_t *p = malloc(n);
    assert_non_null(p);
    cairn__v1__provenance_bundle__pack(b, p);
    int err = cairn_bundle_verify(w->f->sig, w->f->g, p, n, NULL, why, cap);
    free(p);
    cairn__v1__provenance_bundle__free_unpacked(b, NULL);
    return err;
}

static void drop_changes(Cairn__V1__ProvenanceBundle *b, void *arg)
{
    (void)arg;
    ProtobufCBinaryData *lists[3] = {b->valset_change_headers, b->valset_change_certificates,
                                     b->valset_change_sets};
    size_t ns[3] = {b->n_valset_change_headers, b->n_valset_change_certificates,
                    b->n_valset_change_sets};
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < ns[k]; i++) free(lists[k][i].data);
        free(lists[k]);
    }
    b->valset_change_headers = b->valset_change_certificates = b->valset_change_sets = NULL;
    b->n_valset_change_headers = b->n_valset_change_certificates = b->n_valset_change_sets = 0;
}

static void tamper_set(Cairn__V1__ProvenanceBundle *b, void *arg)
{
    (void)arg;
    /* u32 n, u32 len, "CAIRN-VALIDATOR-REC-V1" 0x00, then the first validator's id: another
     * validator (its key, hence its id, is what the set hash covers with its power). */
    ProtobufCBinaryData *s = &b->valset_change_sets[0];
    s->data[4 + 4 + 23] ^= 1;
}

static void swap_certificate(Cairn__V1__ProvenanceBundle *b, void *arg)
{
    /* The change block's certificate replaced by one the new set signed (the unpacked message
     * owns its bytes: swap in a copy). */
    const ProtobufCBinaryData *c = arg;
    ProtobufCBinaryData *dst = &b->valset_change_certificates[0];
    free(dst->data);
    dst->data = malloc(c->len);
    assert_non_null(dst->data);
    memcpy(dst->data, c->data, c->len);
    dst->len = c->len;
}

static void test_across_epochs(void **state)
{
    (void)state;
    lfx_world w;
    lfx_world_build(&w, 1); /* anchors w.digest in epoch 0 */
    lfx *f = w.f;
    cairn_keypair vb;
    uint8_t seed[32], nonce[8], noise[32];
    lfx_seed(seed, 0x7B);
    memset(noise, 0x4E, 32);
    assert_int_equal(cairn_keypair_from_seed(&vb, f->sig, CAIRN_SIG_ED25519, seed), 0);

    /* Governance adds validator B; the epoch-change block installs {A, B}, certified by {A}. */
    Cairn__V1__TxBody body;
    Cairn__V1__GovProposal p = CAIRN__V1__GOV_PROPOSAL__INIT;
    Cairn__V1__AddValidator av = CAIRN__V1__ADD_VALIDATOR__INIT;
    Cairn__V1__Validator v = CAIRN__V1__VALIDATOR__INIT;
    Cairn__V1__PublicKey pk = CAIRN__V1__PUBLIC_KEY__INIT;
    pk.alg = CAIRN__V1__SIG_ALG__SIG_ALG_ED25519;
    pk.key = (ProtobufCBinaryData){32, vb.pub};
    v.consensus_key = &pk;
    v.org_id = (ProtobufCBinaryData){32, f->beta_id};
    v.noise_key = (ProtobufCBinaryData){32, noise};
    v.voting_power = 1;
    v.address = "127.0.0.1:7762";
    av.validator = &v;
    p.proposer_org = (ProtobufCBinaryData){32, f->acme_id};
    p.action_case = CAIRN__V1__GOV_PROPOSAL__ACTION_ADD_VALIDATOR;
    p.add_validator = &av;
    lfx_body(f, &body, nonce);
    body.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_GOV_PROPOSAL;
    body.gov_proposal = &p;
    assert_int_equal(lfx_submit(f, &body, &f->acme, NULL), 0);
    cairn_txn *t;
    cairn_block_out eo;
    cairn_valset *next = calloc(1, sizeof *next);
    assert_non_null(next);
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    f->time_ms += 1000;
    assert_int_equal(cairn_chain_apply_epoch_block(f->c, t, f->time_ms, f->validator_id, &eo, next),
                     0);
    assert_int_equal(cairn_txn_commit(t), 0);
    assert_int_equal(next->n, 2);
    const cairn_keypair *a_only[1] = {&f->validator}, *both[2] = {&f->validator, &vb};
    const cairn_keypair *b_only[1] = {&vb};
    uint32_t idx0[1] = {0}, idx01[2] = {0, 1}, idx1[1] = {1};
    recertify(f, eo.header.height, a_only, idx0, 1);

    /* The bundle of the epoch-0 anchor carries no change. */
    cairn_buf old = CAIRN_BUF_INIT;
    make_bundle(&w, &old);
    char why[256];
    cairn_bundle_summary s;
    assert_int_equal(cairn_bundle_verify(f->sig, f->g, old.p, old.len, &s, why, sizeof why), 0);
    assert_int_equal(s.epoch, 0);

    /* The device anchors again in epoch 1; {A, B} certify the block. */
    uint8_t d2[32];
    memset(d2, 0xDB, 32);
    Cairn__V1__Digest dd = CAIRN__V1__DIGEST__INIT;
    dd.alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
    dd.value = (ProtobufCBinaryData){32, d2};
    Cairn__V1__DataAnchor an = CAIRN__V1__DATA_ANCHOR__INIT;
    an.device_id = (ProtobufCBinaryData){32, w.device_id};
    an.stream_id = (ProtobufCBinaryData){3, (uint8_t *)"kwh"};
    an.sequence = 2;
    an.data_digest = &dd;
    lfx_body(f, &body, nonce);
    body.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR;
    body.data_anchor = &an;
    assert_int_equal(lfx_submit(f, &body, &w.dev, NULL), 0);
    uint64_t h2 = head_height(f);
    recertify(f, h2, both, idx01, 2);
    memcpy(w.digest, d2, 32);
    cairn_buf bundle = CAIRN_BUF_INIT;
    make_bundle(&w, &bundle);
    assert_int_equal(cairn_bundle_verify(f->sig, f->g, bundle.p, bundle.len, &s, why, sizeof why),
                     0);
    assert_int_equal(s.epoch, 1);
    assert_int_equal(s.height, h2);
    assert_int_equal(s.signatures, 2);

    /* JSON round trip keeps the changes. */
    char *json;
    cairn_buf back = CAIRN_BUF_INIT;
    assert_int_equal(cairn_bundle_to_json(bundle.p, bundle.len, &json), 0);
    assert_non_null(strstr(json, "valset_change_sets"));
    assert_int_equal(cairn_bundle_from_json(json, strlen(json), &back), 0);
    assert_int_equal(cairn_bundle_verify(f->sig, f->g, back.p, back.len, NULL, why, sizeof why), 0);
    free(json);
    cairn_buf_free(&back);

    /* A left-out change: the checkpoint names a set the verifier does not have. */
    assert_int_equal(verify_mod(&w, &bundle, drop_changes, NULL, why, sizeof why),
                     CAIRN_EVALSET_CHANGED);
    /* A tampered set: not the one the change block names. */
    assert_int_equal(verify_mod(&w, &bundle, tamper_set, NULL, why, sizeof why),
                     CAIRN_EVALSET_HASH);
    /* The change block certified by the new set instead of the old one. */
    recertify(f, eo.header.height, b_only, idx1, 1);
    cairn_txn *rt;
    cairn_certificate c;
    cairn_buf cb = CAIRN_BUF_INIT;
    assert_int_equal(cairn_store_read_begin(f->s, &rt), 0);
    assert_int_equal(cairn_chain_certificate(rt, eo.header.height, &c), 0);
    cairn_txn_abort(rt);
    cairn_certificate_encode(&cb, &c);
    assert_int_equal(cairn_buf_finish(&cb), 0);
    ProtobufCBinaryData swapped = {cb.len, cb.p};
    assert_int_equal(verify_mod(&w, &bundle, swap_certificate, &swapped, why, sizeof why),
                     CAIRN_ECERTIFICATE);
    assert_non_null(strstr(why, "change 0"));
    /* The checkpoint certified by A alone: 1 of 2 is not more than 2/3. */
    recertify(f, eo.header.height, a_only, idx0, 1);
    recertify(f, h2, a_only, idx0, 1);
    cairn_buf weak = CAIRN_BUF_INIT;
    make_bundle(&w, &weak);
    assert_int_equal(cairn_bundle_verify(f->sig, f->g, weak.p, weak.len, NULL, why, sizeof why),
                     CAIRN_ECERTIFICATE);
    cairn_buf_free(&cb);
    cairn_buf_free(&weak);
    cairn_buf_free(&bundle);
    cairn_buf_free(&old);
    free(next);
    lfx_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_valid),
        cmocka_unit_test(test_across_epochs),
        cmocka_unit_test(test_without_attestation),
        cmocka_unit_test(test_every_byte_tampered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
