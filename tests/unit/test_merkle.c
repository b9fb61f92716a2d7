/*
 * RFC 9162 Merkle math: the public vectors, a naive recursive reference (the RFC's MTH, PATH
 * and SUBPROOF definitions, written independently here) for every size up to 1,000, and
 * tampering of every proof byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "ledger/hex.h"
#include "ledger/merkle.h"
#include "merkle_ref.h"
#include "test_util.h"

#define MAXN 1000

static hash_t leaf_hashes[MAXN];

static void make_leaf(uint64_t i, uint8_t buf[32], size_t *len)
{
    /* Varying lengths, including the empty leaf. */
    *len = (size_t)(i % 17 == 0 ? 0 : 1 + i % 16);
    /* All 16 bytes are filled (only the first *len are the leaf): a loop bounded by *len made
     * gcc 12 -O3 report a false -Wstringop-overflow. */
    for (size_t k = 0; k < 16; k++) buf[k] = (uint8_t)(i * 31 + k);
}

static int setup(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < MAXN; i++) {
        uint8_t b[32]; /* 16 used; the slack silences a gcc 12 -O3 false positive */
        size_t len;
        make_leaf(i, b, &len);
        cairn_merkle_hash_leaf(leaf_hashes[i], b, len);
    }
    return 0;
}

/* ---- the code under test, fed by an in-memory node source ---- */

static int mem_node(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    const hash_t *lh = ctx;
    ref_mth(lh, index << level, (index + 1) << level, out);
    return 0;
}

static size_t prod_inclusion(const hash_t *lh, uint64_t m, uint64_t n, hash_t *out)
{
    cairn_merkle_range r[CAIRN_MERKLE_MAX_PROOF];
    size_t k = cairn_merkle_inclusion_ranges(m, n, r);
    for (size_t i = 0; i < k; i++)
        assert_int_equal(cairn_merkle_range_hash(r[i], mem_node, (void *)lh, out[i]), 0);
    return k;
}

static size_t prod_consistency(const hash_t *lh, uint64_t m, uint64_t n, hash_t *out)
{
    cairn_merkle_range r[CAIRN_MERKLE_MAX_PROOF];
    size_t k = cairn_merkle_consistency_ranges(m, n, r);
    for (size_t i = 0; i < k; i++)
        assert_int_equal(cairn_merkle_range_hash(r[i], mem_node, (void *)lh, out[i]), 0);
    return k;
}

/* ---- vectors ---- */

static json_t *load_vectors(void)
{
    json_error_t err;
    json_t *v = json_load_file(CAIRN_VECTORS_DIR "/rfc9162_merkle_vectors.json", 0, &err);
    if (!v) fail_msg("cannot load vectors: %s", err.text);
    return v;
}

static void hex32(const char *s, uint8_t out[32])
{
    assert_int_equal(cairn_hex_decode_exact(out, 32, s), 0);
}

static void test_vectors(void **state)
{
    (void)state;
    json_t *v = load_vectors();
    json_t *leaves = json_object_get(v, "leaves");
    size_t nl = json_array_size(leaves);
    assert_int_equal(nl, 8);
    hash_t lh[8];
    for (size_t i = 0; i < nl; i++) {
        uint8_t buf[64];
        size_t len;
        const char *s = json_string_value(json_array_get(leaves, i));
        assert_int_equal(cairn_hex_decode(buf, sizeof buf, &len, s, strlen(s)), 0);
        cairn_merkle_hash_leaf(lh[i], buf, len);
    }
    json_t *roots = json_object_get(v, "roots_by_size");
    assert_int_equal(json_array_size(roots), 9);
    hash_t root[9];
    for (size_t n = 0; n <= 8; n++) {
        hex32(json_string_value(json_array_get(roots, n)), root[n]);
        uint8_t got[32];
        if (n == 0)
            cairn_merkle_empty_root(got);
        else
            assert_int_equal(cairn_merkle_range_hash((cairn_merkle_range){0, n}, mem_node, lh, got),
                             0);
        assert_memory_equal(got, root[n], 32);
    }

    size_t idx;
    json_t *c;
    size_t checked = 0;
    json_array_foreach(json_object_get(v, "inclusion"), idx, c)
    {
        uint64_t m = (uint64_t)json_integer_value(json_object_get(c, "leaf_index"));
        uint64_t n = (uint64_t)json_integer_value(json_object_get(c, "tree_size"));
        json_t *path = json_object_get(c, "path");
        hash_t want[CAIRN_MERKLE_MAX_PROOF], got[CAIRN_MERKLE_MAX_PROOF];
        size_t np = json_array_size(path);
        for (size_t i = 0; i < np; i++) hex32(json_string_value(json_array_get(path, i)), want[i]);
        size_t k = prod_inclusion(lh, m, n, got);
        assert_int_equal(k, np);
        assert_int_equal(cairn_merkle_inclusion_len(m, n), np);
        for (size_t i = 0; i < k; i++) assert_memory_equal(got[i], want[i], 32);
        assert_int_equal(
            cairn_merkle_verify_inclusion(lh[m], m, n, (const hash_t *)want, np, root[n]), 0);
        checked++;
    }
    assert_int_equal(checked, 36);
    checked = 0;
    json_array_foreach(json_object_get(v, "consistency"), idx, c)
    {
        uint64_t m = (uint64_t)json_integer_value(json_object_get(c, "first"));
        uint64_t n = (uint64_t)json_integer_value(json_object_get(c, "second"));
        json_t *proof = json_object_get(c, "proof");
        hash_t want[CAIRN_MERKLE_MAX_PROOF], got[CAIRN_MERKLE_MAX_PROOF];
        size_t np = json_array_size(proof);
        for (size_t i = 0; i < np; i++) hex32(json_string_value(json_array_get(proof, i)), want[i]);
        size_t k = prod_consistency(lh, m, n, got);
        assert_int_equal(k, np);
        for (size_t i = 0; i < k; i++) assert_memory_equal(got[i], want[i], 32);
        assert_int_equal(
            cairn_merkle_verify_consistency(m, n, root[m], root[n], (const hash_t *)want, np), 0);
        checked++;
    }
    assert_int_equal(checked, 36);
    json_decref(v);
}

/* ---- every size up to MAXN against the reference, with tampering ---- */

static void tamper_inclusion(test_rng *rng, uint64_t m, uint64_t n, hash_t *p, size_t k,
                             const uint8_t root[32], int every_byte)
{
    /* Every byte of every hash (or one random byte per hash), one bit flipped. */
    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < 32; j++) {
            size_t jj = every_byte ? j : (size_t)test_rng_below(rng, 32);
            uint8_t bit = (uint8_t)(1u << test_rng_below(rng, 8));
            p[i][jj] ^= bit;
            assert_int_equal(
                cairn_merkle_verify_inclusion(leaf_hashes[m], m, n, (const hash_t *)p, k, root),
                CAIRN_EPROOF_MISMATCH);
            p[i][jj] ^= bit;
            if (!every_byte) break;
        }
        /* A whole hash replaced. */
        hash_t saved;
        memcpy(saved, p[i], 32);
        for (size_t j = 0; j < 32; j++) p[i][j] = (uint8_t)~saved[j];
        assert_int_equal(
            cairn_merkle_verify_inclusion(leaf_hashes[m], m, n, (const hash_t *)p, k, root),
            CAIRN_EPROOF_MISMATCH);
        memcpy(p[i], saved, 32);
    }
    /* Tampered leaf and root. */
    uint8_t bad[32];
    memcpy(bad, leaf_hashes[m], 32);
    bad[test_rng_below(rng, 32)] ^= 0x80;
    assert_int_equal(cairn_merkle_verify_inclusion(bad, m, n, (const hash_t *)p, k, root),
                     CAIRN_EPROOF_MISMATCH);
    memcpy(bad, root, 32);
    bad[test_rng_below(rng, 32)] ^= 0x01;
    assert_int_equal(cairn_merkle_verify_inclusion(leaf_hashes[m], m, n, (const hash_t *)p, k, bad),
                     CAIRN_EPROOF_MISMATCH);
    /* A hash too few, a hash too many. */
    if (k > 0)
        assert_int_equal(
            cairn_merkle_verify_inclusion(leaf_hashes[m], m, n, (const hash_t *)p, k - 1, root),
            CAIRN_EPROOF_LENGTH);
    memcpy(p[k], leaf_hashes[0], 32);
    assert_int_equal(
        cairn_merkle_verify_inclusion(leaf_hashes[m], m, n, (const hash_t *)p, k + 1, root),
        CAIRN_EPROOF_LENGTH);
    /* Wrong position claims. */
    if (n > 1) {
        uint64_t other = (m + 1) % n;
        assert_int_not_equal(
            cairn_merkle_verify_inclusion(leaf_hashes[m], other, n, (const hash_t *)p, k, root), 0);
    }
    /* The size is bound to the root by the checkpoint, not by the path: a path proves nothing
     * against the root of another size. */
    if (n < MAXN) {
        uint8_t other_root[32];
        ref_mth(leaf_hashes, 0, n + 1, other_root);
        assert_int_not_equal(cairn_merkle_verify_inclusion(leaf_hashes[m], m, n + 1,
                                                           (const hash_t *)p, k, other_root),
                             0);
    }
    assert_int_equal(
        cairn_merkle_verify_inclusion(leaf_hashes[m], n, n, (const hash_t *)p, k, root),
        CAIRN_ELOG_INDEX);
}

static void test_inclusion_against_reference(void **state)
{
    (void)state;
    test_rng rng = test_rng_seeded("inclusion");
    static hash_t roots[MAXN + 1];
    for (uint64_t n = 0; n <= MAXN; n++) ref_mth(leaf_hashes, 0, n, roots[n]);
    size_t proofs = 0;
    for (uint64_t n = 1; n <= MAXN; n++) {
        uint64_t picks[12];
        size_t np = 0;
        picks[np++] = 0;
        picks[np++] = n - 1;
        for (int i = 0; i < 6; i++) picks[np++] = test_rng_below(&rng, n);
        for (size_t pi = 0; pi < np; pi++) {
            uint64_t m = picks[pi];
            hash_t want[CAIRN_MERKLE_MAX_PROOF], got[CAIRN_MERKLE_MAX_PROOF + 1];
            size_t nw = 0;
            ref_path(leaf_hashes, m, 0, n, want, &nw);
            size_t ng = prod_inclusion(leaf_hashes, m, n, got);
            assert_int_equal(ng, nw);
            for (size_t i = 0; i < ng; i++) assert_memory_equal(got[i], want[i], 32);
            assert_int_equal(cairn_merkle_verify_inclusion(leaf_hashes[m], m, n,
                                                           (const hash_t *)got, ng, roots[n]),
                             0);
            uint8_t implied[32];
            assert_int_equal(cairn_merkle_root_from_inclusion(leaf_hashes[m], m, n,
                                                              (const hash_t *)got, ng, implied),
                             0);
            assert_memory_equal(implied, roots[n], 32);
            if (pi < 3) tamper_inclusion(&rng, m, n, got, ng, roots[n], n <= 64 || n % 97 == 0);
            proofs++;
        }
    }
    printf("# %zu inclusion proofs checked\n", proofs);
}

static void test_consistency_against_reference(void **state)
{
    (void)state;
    test_rng rng = test_rng_seeded("consistency");
    static hash_t roots[MAXN + 1];
    for (uint64_t n = 0; n <= MAXN; n++) ref_mth(leaf_hashes, 0, n, roots[n]);
    size_t proofs = 0;
    for (uint64_t n = 1; n <= MAXN; n++) {
        uint64_t picks[12];
        size_t np = 0;
        picks[np++] = 1;
        picks[np++] = n;
        picks[np++] = n > 1 ? n - 1 : 1;
        for (int i = 0; i < 5; i++) picks[np++] = 1 + test_rng_below(&rng, n);
        for (size_t pi = 0; pi < np; pi++) {
            uint64_t m = picks[pi];
            hash_t want[CAIRN_MERKLE_MAX_PROOF], got[CAIRN_MERKLE_MAX_PROOF + 1];
            size_t nw = 0;
            if (m < n) ref_subproof(leaf_hashes, m, 0, n, 1, want, &nw);
            size_t ng = prod_consistency(leaf_hashes, m, n, got);
            assert_int_equal(ng, nw);
            assert_int_equal(cairn_merkle_consistency_len(m, n), nw);
            for (size_t i = 0; i < ng; i++) assert_memory_equal(got[i], want[i], 32);
            assert_int_equal(
                cairn_merkle_verify_consistency(m, n, roots[m], roots[n], (const hash_t *)got, ng),
                0);
            proofs++;
            if (m == n) {
                /* Equal sizes: empty proof, equal roots only. */
                assert_int_equal(cairn_merkle_verify_consistency(m, n, roots[m], roots[n - 1],
                                                                 (const hash_t *)got, 0),
                                 CAIRN_EPROOF_MISMATCH);
                memcpy(got[0], roots[n], 32);
                assert_int_equal(cairn_merkle_verify_consistency(m, n, roots[m], roots[n],
                                                                 (const hash_t *)got, 1),
                                 CAIRN_EPROOF_LENGTH);
                continue;
            }
            if (pi >= 4) continue;
            int every = n <= 64 || n % 89 == 0;
            for (size_t i = 0; i < ng; i++) {
                for (size_t j = 0; j < 32; j++) {
                    size_t jj = every ? j : (size_t)test_rng_below(&rng, 32);
                    got[i][jj] ^= 0x10;
                    assert_int_not_equal(cairn_merkle_verify_consistency(m, n, roots[m], roots[n],
                                                                         (const hash_t *)got, ng),
                                         0);
                    got[i][jj] ^= 0x10;
                    if (!every) break;
                }
            }
            uint8_t bad[32];
            memcpy(bad, roots[m], 32);
            bad[0] ^= 1;
            assert_int_equal(
                cairn_merkle_verify_consistency(m, n, bad, roots[n], (const hash_t *)got, ng),
                CAIRN_EPROOF_MISMATCH);
            memcpy(bad, roots[n], 32);
            bad[31] ^= 1;
            assert_int_equal(
                cairn_merkle_verify_consistency(m, n, roots[m], bad, (const hash_t *)got, ng),
                CAIRN_EPROOF_MISMATCH);
            assert_int_equal(cairn_merkle_verify_consistency(m, n, roots[m], roots[n],
                                                             (const hash_t *)got, ng - 1),
                             CAIRN_EPROOF_LENGTH);
            memcpy(got[ng], leaf_hashes[1], 32);
            assert_int_equal(cairn_merkle_verify_consistency(m, n, roots[m], roots[n],
                                                             (const hash_t *)got, ng + 1),
                             CAIRN_EPROOF_LENGTH);
            assert_int_equal(
                cairn_merkle_verify_consistency(n, m, roots[n], roots[m], (const hash_t *)got, ng),
                CAIRN_ELOG_ORDER);
        }
    }
    printf("# %zu consistency proofs checked\n", proofs);
}

static void test_edge_cases(void **state)
{
    (void)state;
    hash_t p[2];
    uint8_t root[32];
    memcpy(root, leaf_hashes[0], 32);
    /* Size-1 tree: the root is the leaf hash; no path. */
    assert_int_equal(
        cairn_merkle_verify_inclusion(leaf_hashes[0], 0, 1, (const hash_t *)p, 0, root), 0);
    assert_int_equal(
        cairn_merkle_verify_inclusion(leaf_hashes[0], 0, 0, (const hash_t *)p, 0, root),
        CAIRN_ELOG_INDEX);
    assert_int_equal(cairn_merkle_verify_inclusion(leaf_hashes[0], UINT64_MAX, UINT64_MAX,
                                                   (const hash_t *)p, 0, root),
                     CAIRN_ELOG_INDEX);
    /* From the empty tree: only the empty proof. */
    assert_int_equal(cairn_merkle_verify_consistency(0, 5, root, root, (const hash_t *)p, 0), 0);
    assert_int_equal(cairn_merkle_verify_consistency(0, 5, root, root, (const hash_t *)p, 1),
                     CAIRN_EPROOF_LENGTH);
    /* A non-trivial consistency proof is never empty. */
    assert_int_equal(cairn_merkle_verify_consistency(3, 5, root, root, (const hash_t *)p, 0),
                     CAIRN_EPROOF_LENGTH);
    /* Range hashing refuses unaligned and empty ranges. */
    uint8_t out[32];
    assert_int_equal(
        cairn_merkle_range_hash((cairn_merkle_range){1, 3}, mem_node, leaf_hashes, out),
        CAIRN_EINVAL);
    assert_int_equal(
        cairn_merkle_range_hash((cairn_merkle_range){4, 4}, mem_node, leaf_hashes, out),
        CAIRN_EINVAL);
    assert_int_equal(
        cairn_merkle_range_hash((cairn_merkle_range){4, 7}, mem_node, leaf_hashes, out), 0);
    /* Proof lengths at the extremes of the 64-bit range. */
    assert_int_equal(cairn_merkle_inclusion_len(0, (uint64_t)1 << 63), 63);
    assert_int_equal(cairn_merkle_inclusion_len(0, UINT64_MAX), 64);
    assert_int_equal(cairn_merkle_inclusion_len(UINT64_MAX - 1, UINT64_MAX), 63);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_inclusion_against_reference),
        cmocka_unit_test(test_consistency_against_reference),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
