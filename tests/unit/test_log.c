/*
 * The stored Merkle log: the RFC 9162 vectors through the store, every size up to 1,000 against
 * the naive reference (roots, inclusion and consistency proofs, historical sizes), deep trees
 * crossing tile levels, and bad requests that change nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "ledger/hex.h"
#include "ledger/log.h"
#include "merkle_ref.h"
#include "test_util.h"

static void make_leaf(uint64_t i, uint8_t *buf, size_t *len)
{
    *len = (size_t)(i % 13 == 0 ? 0 : 1 + (i * 7) % 40);
    for (size_t k = 0; k < *len; k++) buf[k] = (uint8_t)(i * 131 + k * 7 + (i >> 8));
}

typedef struct fixture {
    char *dir;
    cairn_store *s;
} fixture;

static int fx_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    if (!f->dir || cairn_store_open(&f->s, f->dir, NULL) != 0) return -1;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;
    cairn_store_close(f->s);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Appends leaves [from, to) built by make_leaf in one batch. */
static void append_range(cairn_store *s, uint64_t from, uint64_t to)
{
    size_t n = (size_t)(to - from);
    cairn_log_leaf *l = calloc(n ? n : 1, sizeof *l);
    uint8_t *buf = malloc(n * 64 + 1);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        make_leaf(from + i, buf + i * 64, &len);
        l[i] = (cairn_log_leaf){buf + i * 64, len};
    }
    uint64_t size;
    assert_int_equal(cairn_log_append_batch(s, l, n, &size), 0);
    assert_int_equal(size, to);
    free(l);
    free(buf);
}

static void test_empty_log(void **state)
{
    fixture *f = *state;
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    uint64_t size = 99;
    assert_int_equal(cairn_log_size(t, &size), 0);
    assert_int_equal(size, 0);
    uint8_t root[32], empty[32];
    assert_int_equal(cairn_log_root(t, 0, root), 0);
    cairn_merkle_empty_root(empty);
    assert_memory_equal(root, empty, 32);
    assert_int_equal(cairn_log_root(t, 1, root), CAIRN_ELOG_SIZE);
    uint8_t p[CAIRN_MERKLE_MAX_PROOF][32];
    size_t n;
    assert_int_equal(cairn_log_inclusion_proof(t, 0, 0, p, &n), CAIRN_ELOG_INDEX);
    assert_int_equal(cairn_log_consistency_proof(t, 0, 0, p, &n), 0);
    assert_int_equal(n, 0);
    const uint8_t *leaf;
    size_t len;
    assert_int_equal(cairn_log_leaf_get(t, 0, &leaf, &len), CAIRN_ELOG_INDEX);
    /* Appending through a read transaction is refused. */
    cairn_log_leaf l = {(const uint8_t *)"x", 1};
    assert_int_equal(cairn_log_append(t, &l, 1, NULL), CAIRN_EINVAL);
    cairn_txn_abort(t);
}

static void test_vectors_through_store(void **state)
{
    fixture *f = *state;
    json_error_t jerr;
    json_t *v = json_load_file(CAIRN_VECTORS_DIR "/rfc9162_merkle_vectors.json", 0, &jerr);
    assert_non_null(v);
    json_t *leaves = json_object_get(v, "leaves"), *roots = json_object_get(v, "roots_by_size");
    uint8_t bufs[8][64];
    /* One leaf per batch: every size is a committed state. */
    for (size_t i = 0; i < json_array_size(leaves); i++) {
        const char *h = json_string_value(json_array_get(leaves, i));
        size_t len;
        assert_int_equal(cairn_hex_decode(bufs[i], 64, &len, h, strlen(h)), 0);
        cairn_log_leaf l = {bufs[i], len};
        uint64_t size;
        assert_int_equal(cairn_log_append_batch(f->s, &l, 1, &size), 0);
        assert_int_equal(size, i + 1);
    }
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    for (size_t n = 0; n <= 8; n++) {
        uint8_t want[32], got[32];
        assert_int_equal(
            cairn_hex_decode_exact(want, 32, json_string_value(json_array_get(roots, n))), 0);
        assert_int_equal(cairn_log_root(t, n, got), 0);
        assert_memory_equal(got, want, 32);
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(v, "inclusion"), i, c)
    {
        uint64_t m = (uint64_t)json_integer_value(json_object_get(c, "leaf_index"));
        uint64_t n = (uint64_t)json_integer_value(json_object_get(c, "tree_size"));
        json_t *path = json_object_get(c, "path");
        uint8_t p[CAIRN_MERKLE_MAX_PROOF][32], want[32];
        size_t np;
        assert_int_equal(cairn_log_inclusion_proof(t, m, n, p, &np), 0);
        assert_int_equal(np, json_array_size(path));
        for (size_t k = 0; k < np; k++) {
            assert_int_equal(
                cairn_hex_decode_exact(want, 32, json_string_value(json_array_get(path, k))), 0);
            assert_memory_equal(p[k], want, 32);
        }
    }
    json_array_foreach(json_object_get(v, "consistency"), i, c)
    {
        uint64_t m = (uint64_t)json_integer_value(json_object_get(c, "first"));
        uint64_t n = (uint64_t)json_integer_value(json_object_get(c, "second"));
        json_t *proof = json_object_get(c, "proof");
        uint8_t p[CAIRN_MERKLE_MAX_PROOF][32], want[32];
        size_t np;
        assert_int_equal(cairn_log_consistency_proof(t, m, n, p, &np), 0);
        assert_int_equal(np, json_array_size(proof));
        for (size_t k = 0; k < np; k++) {
            assert_int_equal(
                cairn_hex_decode_exact(want, 32, json_string_value(json_array_get(proof, k))), 0);
            assert_memory_equal(p[k], want, 32);
        }
    }
    cairn_txn_abort(t);
    json_decref(v);
}

#define MAXN 1000

static void check_against_reference(cairn_store *s, const hash_t *lh, uint64_t size, test_rng *rng,
                                    int all_roots)
{
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(s, &t), 0);
    uint64_t got_size;
    assert_int_equal(cairn_log_size(t, &got_size), 0);
    assert_int_equal(got_size, size);
    uint8_t want[32], got[32];
    for (uint64_t n = all_roots ? 0 : size; n <= size; n++) {
        ref_mth(lh, 0, n, want);
        assert_int_equal(cairn_log_root(t, n, got), 0);
        assert_memory_equal(got, want, 32);
    }
    for (int k = 0; k < 8 && size > 0; k++) {
        uint64_t n = 1 + test_rng_below(rng, size), m = test_rng_below(rng, n);
        if (k == 0) n = size, m = size - 1;
        hash_t wp[CAIRN_MERKLE_MAX_PROOF], gp[CAIRN_MERKLE_MAX_PROOF];
        size_t wn = 0, gn;
        ref_path(lh, m, 0, n, wp, &wn);
        assert_int_equal(cairn_log_inclusion_proof(t, m, n, gp, &gn), 0);
        assert_int_equal(gn, wn);
        for (size_t i = 0; i < gn; i++) assert_memory_equal(gp[i], wp[i], 32);
        ref_mth(lh, 0, n, want);
        assert_int_equal(cairn_merkle_verify_inclusion(lh[m], m, n, (const hash_t *)gp, gn, want),
                         0);

        uint64_t first = 1 + test_rng_below(rng, n);
        wn = 0;
        if (first < n) ref_subproof(lh, first, 0, n, 1, wp, &wn);
        assert_int_equal(cairn_log_consistency_proof(t, first, n, gp, &gn), 0);
        assert_int_equal(gn, wn);
        for (size_t i = 0; i < gn; i++) assert_memory_equal(gp[i], wp[i], 32);
        uint8_t r1[32];
        ref_mth(lh, 0, first, r1);
        assert_int_equal(
            cairn_merkle_verify_consistency(first, n, r1, want, (const hash_t *)gp, gn), 0);
    }
    /* Leaves come back byte for byte. */
    if (size > 0) {
        uint64_t i = test_rng_below(rng, size);
        uint8_t buf[64];
        size_t len, glen;
        const uint8_t *leaf;
        make_leaf(i, buf, &len);
        assert_int_equal(cairn_log_leaf_get(t, i, &leaf, &glen), 0);
        assert_int_equal(glen, len);
        if (len) assert_memory_equal(leaf, buf, len);
    }
    cairn_txn_abort(t);
}

static void test_every_size_against_reference(void **state)
{
    fixture *f = *state;
    test_rng rng = test_rng_seeded("log reference");
    static hash_t lh[MAXN];
    for (uint64_t i = 0; i < MAXN; i++) {
        uint8_t buf[64];
        size_t len;
        make_leaf(i, buf, &len);
        cairn_merkle_hash_leaf(lh[i], buf, len);
    }
    /* Random batch sizes, so batch boundaries fall everywhere, including on tile edges. */
    uint64_t size = 0;
    while (size < MAXN) {
        uint64_t b = 1 + test_rng_below(&rng, size < 300 ? 7 : 60);
        if (size + b > MAXN) b = MAXN - size;
        append_range(f->s, size, size + b);
        size += b;
        check_against_reference(f->s, lh, size, &rng, 0);
    }
    /* Every historical root, after the fact. */
    check_against_reference(f->s, lh, size, &rng, 1);
}

static void test_deep_tree(void **state)
{
    fixture *f = *state;
    test_rng rng = test_rng_seeded("log deep");
    /* 70,000 leaves: tiles on levels 0, 1 and 2 (rows up to 16). */
    const uint64_t N = 70000;
    hash_t *lh = malloc(N * sizeof *lh);
    for (uint64_t i = 0; i < N; i++) {
        uint8_t buf[64];
        size_t len;
        make_leaf(i, buf, &len);
        cairn_merkle_hash_leaf(lh[i], buf, len);
    }
    uint64_t size = 0;
    const uint64_t cuts[] = {255, 256, 257, 65535, 65536, 65537, N};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        append_range(f->s, size, cuts[c]);
        size = cuts[c];
        check_against_reference(f->s, lh, size, &rng, 0);
    }
    free(lh);
}

static void test_bad_requests_change_nothing(void **state)
{
    fixture *f = *state;
    append_range(f->s, 0, 10);
    cairn_txn *t;
    uint8_t p[CAIRN_MERKLE_MAX_PROOF][32], root_before[32], root[32];
    size_t n;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_log_root(t, 10, root_before), 0);
    assert_int_equal(cairn_log_inclusion_proof(t, 10, 10, p, &n), CAIRN_ELOG_INDEX);
    assert_int_equal(cairn_log_inclusion_proof(t, 3, 11, p, &n), CAIRN_ELOG_SIZE);
    assert_int_equal(cairn_log_inclusion_proof(t, UINT64_MAX, UINT64_MAX, p, &n), CAIRN_ELOG_SIZE);
    assert_int_equal(cairn_log_consistency_proof(t, 5, 4, p, &n), CAIRN_ELOG_ORDER);
    assert_int_equal(cairn_log_consistency_proof(t, 5, 11, p, &n), CAIRN_ELOG_SIZE);
    assert_int_equal(cairn_log_root(t, 11, root), CAIRN_ELOG_SIZE);
    cairn_txn_abort(t);

    /* An oversized leaf in a batch rejects the whole batch. */
    uint8_t *big = calloc(1, CAIRN_LOG_MAX_LEAF + 1);
    cairn_log_leaf l[2] = {{(const uint8_t *)"ok", 2}, {big, CAIRN_LOG_MAX_LEAF + 1}};
    uint64_t size;
    assert_int_equal(cairn_log_append_batch(f->s, l, 2, &size), CAIRN_ETOOBIG);
    free(big);
    /* An aborted batch leaves nothing behind. */
    cairn_txn *w;
    assert_int_equal(cairn_store_write_begin(f->s, &w), 0);
    assert_int_equal(cairn_log_append(w, l, 1, &size), 0);
    assert_int_equal(size, 11);
    cairn_txn_abort(w);

    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_log_size(t, &size), 0);
    assert_int_equal(size, 10);
    assert_int_equal(cairn_log_root(t, 10, root), 0);
    assert_memory_equal(root, root_before, 32);
    cairn_txn_abort(t);
    /* And appends continue from the committed state. */
    append_range(f->s, 10, 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_log, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_vectors_through_store, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_every_size_against_reference, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_deep_tree, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests_change_nothing, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
