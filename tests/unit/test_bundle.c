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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_valid),
        cmocka_unit_test(test_without_attestation),
        cmocka_unit_test(test_every_byte_tampered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
