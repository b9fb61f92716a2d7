/*
 * The authenticated state tree (ledger/smt.h): known-answer roots computed independently,
 * random batches over many versions against a naive reference (full recomputation of the root
 * from the sorted key set), historical reads and proofs, membership and non-membership proofs,
 * every-byte tampering, deep paths, batch-order independence and bad requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger/hex.h"
#include "ledger/smt.h"
#include "test_util.h"

/* ---- the naive reference: the definition of smt.h, recomputed from scratch ---- */

typedef struct ref_item {
    uint8_t key[32];
    uint8_t vh[32];
} ref_item;

static unsigned bit_of(const uint8_t *key, unsigned i)
{
    return (unsigned)(key[i >> 3] >> (7 - (i & 7))) & 1u;
}

/* Root of the m items (sorted by key) below binary depth b. */
static void ref_root_at(const ref_item *it, size_t m, unsigned b, uint8_t out[32])
{
    if (m == 0) {
        memset(out, 0, 32);
        return;
    }
    if (m == 1) {
        cairn_smt_hash_leaf(out, it[0].key, it[0].vh);
        return;
    }
    size_t split = 0;
    while (split < m && !bit_of(it[split].key, b)) split++;
    uint8_t l[32], r[32];
    ref_root_at(it, split, b + 1, l);
    ref_root_at(it + split, m - split, b + 1, r);
    cairn_smt_hash_node(out, l, r);
}

static int item_cmp(const void *a, const void *b)
{
    return memcmp(((const ref_item *)a)->key, ((const ref_item *)b)->key, 32);
}

/* The model: a pool of keys, each with a value (len < 0: absent). */
#define POOL 200
#define MAXV 48

typedef struct model {
    uint8_t key[POOL][32];
    int len[POOL];
    uint8_t val[POOL][MAXV];
} model;

static void model_root(const model *m, uint8_t out[32])
{
    ref_item *it = malloc(POOL * sizeof *it);
    size_t n = 0;
    for (size_t i = 0; i < POOL; i++) {
        if (m->len[i] < 0) continue;
        memcpy(it[n].key, m->key[i], 32);
        cairn_smt_hash_value(it[n].vh, m->val[i], (size_t)m->len[i]);
        n++;
    }
    qsort(it, n, sizeof *it, item_cmp);
    ref_root_at(it, n, 0, out);
    free(it);
}

/* ---- fixture ---- */

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

static int apply_commit(cairn_store *s, uint64_t version, const cairn_smt_update *u, size_t n,
                        uint8_t root[32])
{
    cairn_txn *t;
    int err = cairn_store_write_begin(s, &t);
    if (err) return err;
    err = cairn_smt_apply(t, version, u, n, root);
    if (err) {
        cairn_txn_abort(t);
        return err;
    }
    return cairn_txn_commit(t);
}

static void hex32(uint8_t out[32], const char *hex)
{
    for (int i = 0; i < 32; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* Proves key at version and checks the proof against the root (value NULL: absent). */
static void check_proof(cairn_txn *t, uint64_t version, const uint8_t key[32], const uint8_t *value,
                        size_t len)
{
    uint8_t root[32], proof[CAIRN_SMT_MAX_PROOF + 1];
    size_t plen, vlen = 99;
    const uint8_t *v = (const uint8_t *)"x";
    assert_int_equal(cairn_smt_root(t, version, root), 0);
    assert_int_equal(cairn_smt_prove(t, version, key, proof, sizeof proof, &plen, &v, &vlen), 0);
    if (value) {
        assert_int_equal(proof[0], CAIRN_SMT_PROOF_MEMBER);
        assert_non_null(v);
        assert_int_equal(vlen, len);
        if (len) assert_memory_equal(v, value, len);
        assert_int_equal(cairn_smt_verify(root, key, value, len, proof, plen), 0);
        assert_int_equal(cairn_smt_verify(root, key, NULL, 0, proof, plen),
                         CAIRN_ESTATE_PROOF_KIND);
    } else {
        assert_int_not_equal(proof[0], CAIRN_SMT_PROOF_MEMBER);
        assert_null(v);
        assert_int_equal(vlen, 0);
        assert_int_equal(cairn_smt_verify(root, key, NULL, 0, proof, plen), 0);
        assert_int_equal(cairn_smt_verify(root, key, (const uint8_t *)"", 0, proof, plen),
                         CAIRN_ESTATE_PROOF_KIND);
    }
    /* Exact length: a byte short is truncated, a byte more is trailing. */
    assert_int_equal(cairn_smt_verify(root, key, value, len, proof, plen - 1), CAIRN_ETRUNCATED);
    proof[plen] = 0;
    assert_int_equal(cairn_smt_verify(root, key, value, len, proof, plen + 1), CAIRN_ETRAILING);
}

/* ---- tests ---- */

static void test_empty_tree(void **state)
{
    fixture *f = *state;
    uint8_t root[32], zero[32] = {0}, key[32] = {7};
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    uint64_t latest;
    assert_int_equal(cairn_smt_latest(t, &latest), CAIRN_ENOENT);
    assert_int_equal(cairn_smt_root(t, 0, root), CAIRN_ESTATE_VERSION);
    cairn_txn_abort(t);

    assert_int_equal(apply_commit(f->s, 0, NULL, 0, root), 0);
    assert_memory_equal(root, zero, 32);
    cairn_smt_empty_root(root);
    assert_memory_equal(root, zero, 32);

    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_smt_latest(t, &latest), 0);
    assert_int_equal(latest, 0);
    const uint8_t *v;
    size_t len;
    assert_int_equal(cairn_smt_get(t, 0, key, &v, &len), CAIRN_ENOENT);
    assert_int_equal(cairn_smt_get(t, 1, key, &v, &len), CAIRN_ESTATE_VERSION);
    uint8_t proof[CAIRN_SMT_MAX_PROOF];
    size_t plen;
    assert_int_equal(cairn_smt_prove(t, 0, key, proof, sizeof proof, &plen, NULL, NULL), 0);
    const uint8_t expect[3] = {CAIRN_SMT_PROOF_ABSENT_EMPTY, 0, 0};
    assert_int_equal(plen, 3);
    assert_memory_equal(proof, expect, 3);
    check_proof(t, 0, key, NULL, 0);
    assert_int_equal(cairn_smt_prove(t, 0, key, proof, 2, &plen, NULL, NULL), CAIRN_ENOSPC);
    cairn_txn_abort(t);

    /* An empty batch keeps the root; deleting an absent key too. */
    cairn_smt_update del = {.key = {7}};
    assert_int_equal(apply_commit(f->s, 5, &del, 1, root), 0);
    assert_memory_equal(root, zero, 32);
    assert_int_equal(apply_commit(f->s, 6, NULL, 0, root), 0);
    assert_memory_equal(root, zero, 32);
}

/* Roots computed independently (Python hashlib) from the definition in smt.h. */
static void test_known_answers(void **state)
{
    fixture *f = *state;
    uint8_t k1[32] = {0}, k2[32] = {0x80}, k3[32] = {0}, root[32], expect[32];
    k3[31] = 1;
    uint8_t vh[32];
    cairn_smt_hash_value(vh, NULL, 0);
    hex32(expect, "47f1e8b1eaaf683d0ab5c0d907ac8ca52bb3e0bf33d8dff0babc7efb08ae3051");
    assert_memory_equal(vh, expect, 32);

    cairn_smt_update u[3];
    memset(u, 0, sizeof u);
    memcpy(u[0].key, k1, 32);
    u[0].value = (const uint8_t *)"a";
    u[0].len = 1;
    assert_int_equal(apply_commit(f->s, 1, u, 1, root), 0);
    hex32(expect, "8954555bad2e03fc151fb14ad74b22ccfa4941b68dbcffc8a17e808fd762835c");
    assert_memory_equal(root, expect, 32);

    memcpy(u[1].key, k2, 32);
    u[1].value = (const uint8_t *)"b";
    u[1].len = 1;
    memcpy(u[2].key, k3, 32);
    u[2].value = (const uint8_t *)"";
    u[2].len = 0;
    assert_int_equal(apply_commit(f->s, 2, u + 1, 2, root), 0);
    hex32(expect, "e04b4da568c5a5c77f4156bff980e9dc57df118dfe7d1c4a0418745e6233a421");
    assert_memory_equal(root, expect, 32);

    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    /* k3 sits 256 levels down: sibling leaf(k2) at depth 0, leaf(k1) at depth 255. */
    uint8_t proof[CAIRN_SMT_MAX_PROOF];
    size_t plen;
    assert_int_equal(cairn_smt_prove(t, 2, k3, proof, sizeof proof, &plen, NULL, NULL), 0);
    assert_int_equal(plen, 3 + 32 + 64);
    assert_int_equal(proof[0], CAIRN_SMT_PROOF_MEMBER);
    assert_int_equal(proof[1], 1);
    assert_int_equal(proof[2], 0);
    assert_int_equal(proof[3], 0x80);
    for (int i = 4; i < 34; i++) assert_int_equal(proof[i], 0);
    assert_int_equal(proof[34], 0x01);
    uint8_t l1[32], l2[32];
    cairn_smt_hash_value(vh, (const uint8_t *)"b", 1);
    cairn_smt_hash_leaf(l2, k2, vh);
    cairn_smt_hash_value(vh, (const uint8_t *)"a", 1);
    cairn_smt_hash_leaf(l1, k1, vh);
    assert_memory_equal(proof + 35, l2, 32);
    assert_memory_equal(proof + 67, l1, 32);
    check_proof(t, 2, k3, (const uint8_t *)"", 0);
    check_proof(t, 2, k1, (const uint8_t *)"a", 1);
    check_proof(t, 2, k2, (const uint8_t *)"b", 1);
    /* Absent keys: in an empty subtree (0x40...) and next to a leaf (0xc0... shares k2's bit 0,
     * the path ends at k2's leaf at depth 1). */
    uint8_t a1[32] = {0x40}, a2[32] = {0xc0};
    check_proof(t, 2, a1, NULL, 0);
    check_proof(t, 2, a2, NULL, 0);
    assert_int_equal(cairn_smt_prove(t, 2, a2, proof, sizeof proof, &plen, NULL, NULL), 0);
    assert_int_equal(proof[0], CAIRN_SMT_PROOF_ABSENT_LEAF);
    assert_int_equal(plen, 3 + 1 + 64 + 32);
    /* Historical version 1: one key at the root. */
    assert_int_equal(cairn_smt_prove(t, 1, k1, proof, sizeof proof, &plen, NULL, NULL), 0);
    assert_int_equal(plen, 3);
    check_proof(t, 1, k1, (const uint8_t *)"a", 1);
    check_proof(t, 1, k3, NULL, 0);
    cairn_txn_abort(t);

    /* Deleting everything returns to the empty root. */
    cairn_smt_update d[3];
    memset(d, 0, sizeof d);
    memcpy(d[0].key, k1, 32);
    memcpy(d[1].key, k2, 32);
    memcpy(d[2].key, k3, 32);
    assert_int_equal(apply_commit(f->s, 3, d, 3, root), 0);
    uint8_t zero[32] = {0};
    assert_memory_equal(root, zero, 32);
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    check_proof(t, 3, k1, NULL, 0);
    check_proof(t, 2, k1, (const uint8_t *)"a", 1); /* history stays */
    cairn_txn_abort(t);
}

static void random_key(test_rng *r, uint8_t key[32])
{
    for (int i = 0; i < 32; i += 8) {
        uint64_t x = test_rng_next(r);
        memcpy(key + i, &x, 8);
    }
}

/* Random batches over many versions, checked against the reference after every version, then
 * reads and proofs at every old version. */
static void test_random_versions(void **state)
{
    fixture *f = *state;
    test_rng r = test_rng_seeded("test_random_versions");
    enum { VERSIONS = 60 };
    model *hist = calloc(VERSIONS, sizeof *hist);
    model *m = calloc(1, sizeof *m);
    for (int i = 0; i < POOL; i++) {
        random_key(&r, m->key[i]);
        /* Some keys share long prefixes, so deep paths and collapses are exercised. */
        if (i % 10 == 1) {
            memcpy(m->key[i], m->key[i - 1], 32);
            m->key[i][31 - (i / 10) % 32] ^= (uint8_t)(1u << (i % 8));
        }
        m->len[i] = -1;
    }
    cairn_smt_update *u = calloc(120, sizeof *u);
    uint8_t(*vals)[MAXV] = calloc(120, MAXV);
    uint64_t versions[VERSIONS];
    uint64_t version = 3;
    for (int k = 0; k < VERSIONS; k++) {
        size_t n = (size_t)test_rng_below(&r, k < 5 ? 100 : 40);
        if (k == 20 || k == 40) n = 120; /* mass deletions */
        for (size_t i = 0; i < n; i++) {
            size_t p = (size_t)test_rng_below(&r, POOL);
            memcpy(u[i].key, m->key[p], 32);
            int del = k == 20 || k == 40 ? test_rng_below(&r, 4) != 0 : test_rng_below(&r, 4) == 0;
            if (del) {
                u[i].value = NULL;
                u[i].len = 0;
                m->len[p] = -1;
            } else {
                size_t len = (size_t)test_rng_below(&r, MAXV + 1);
                for (size_t b = 0; b < len; b++) vals[i][b] = (uint8_t)test_rng_next(&r);
                u[i].value = vals[i];
                u[i].len = len;
                m->len[p] = (int)len;
                memcpy(m->val[p], vals[i], len);
            }
        }
        version += 1 + test_rng_below(&r, 3);
        versions[k] = version;
        uint8_t root[32], expect[32];
        assert_int_equal(apply_commit(f->s, version, u, n, root), 0);
        model_root(m, expect);
        assert_memory_equal(root, expect, 32);
        hist[k] = *m;
    }

    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    uint64_t latest;
    assert_int_equal(cairn_smt_latest(t, &latest), 0);
    assert_int_equal(latest, version);
    for (int k = 0; k < VERSIONS; k++) {
        const model *h = &hist[k];
        uint8_t root[32], expect[32];
        assert_int_equal(cairn_smt_root(t, versions[k], root), 0);
        model_root(h, expect);
        assert_memory_equal(root, expect, 32);
        /* A version in a gap was never applied. */
        if (k > 0 && versions[k] - versions[k - 1] > 1)
            assert_int_equal(cairn_smt_root(t, versions[k] - 1, root), CAIRN_ESTATE_VERSION);
        for (int i = 0; i < POOL; i += (k % 10 == 0 ? 1 : 7)) {
            const uint8_t *v;
            size_t len;
            int rc = cairn_smt_get(t, versions[k], h->key[i], &v, &len);
            if (h->len[i] < 0) {
                assert_int_equal(rc, CAIRN_ENOENT);
                check_proof(t, versions[k], h->key[i], NULL, 0);
            } else {
                assert_int_equal(rc, 0);
                assert_int_equal(len, (size_t)h->len[i]);
                if (len) assert_memory_equal(v, h->val[i], len);
                check_proof(t, versions[k], h->key[i], h->val[i], len);
            }
        }
        uint8_t other[32];
        random_key(&r, other);
        check_proof(t, versions[k], other, NULL, 0);
    }
    cairn_txn_abort(t);
    free(u);
    free(vals);
    free(m);
    free(hist);
}

/* The root depends on the final key set only: batch order, duplicates and batching. */
static void test_order_independence(void **state)
{
    (void)state;
    test_rng r = test_rng_seeded("test_order_independence");
    enum { N = 300 };
    cairn_smt_update *u = calloc(N, sizeof *u);
    uint8_t vals[N][8];
    for (size_t i = 0; i < N; i++) {
        random_key(&r, u[i].key);
        for (int b = 0; b < 8; b++) vals[i][b] = (uint8_t)test_rng_next(&r);
        u[i].value = vals[i];
        u[i].len = 1 + i % 8;
    }
    uint8_t roots[4][32];
    for (int trial = 0; trial < 4; trial++) {
        char *dir = test_tmpdir();
        cairn_store *s;
        assert_int_equal(cairn_store_open(&s, dir, NULL), 0);
        if (trial == 0) {
            assert_int_equal(apply_commit(s, 1, u, N, roots[trial]), 0);
        } else if (trial == 1) {
            /* Reversed, with an earlier overwritten value and a deleted extra key in front. */
            cairn_smt_update *w = calloc(N + 3, sizeof *w);
            memcpy(w[0].key, u[5].key, 32);
            w[0].value = (const uint8_t *)"old";
            w[0].len = 3;
            random_key(&r, w[1].key);
            w[1].value = (const uint8_t *)"gone";
            w[1].len = 4;
            memcpy(w[2].key, w[1].key, 32); /* deleted again: the last update wins */
            for (size_t i = 0; i < N; i++) w[3 + i] = u[N - 1 - i];
            assert_int_equal(apply_commit(s, 1, w, N + 3, roots[trial]), 0);
            free(w);
        } else if (trial == 2) {
            /* One key at a time over N versions. */
            for (size_t i = 0; i < N; i++)
                assert_int_equal(apply_commit(s, 10 + i, &u[(i * 7) % N], 1, roots[trial]), 0);
        } else {
            /* Everything, then deletions and re-insertions of half of it. */
            assert_int_equal(apply_commit(s, 1, u, N, roots[trial]), 0);
            cairn_smt_update *d = calloc(N / 2, sizeof *d);
            for (size_t i = 0; i < N / 2; i++) memcpy(d[i].key, u[2 * i].key, 32);
            assert_int_equal(apply_commit(s, 2, d, N / 2, roots[trial]), 0);
            for (size_t i = 0; i < N / 2; i++) d[i] = u[2 * i];
            assert_int_equal(apply_commit(s, 3, d, N / 2, roots[trial]), 0);
            free(d);
        }
        cairn_store_close(s);
        test_rmtree(dir);
        free(dir);
    }
    for (int trial = 1; trial < 4; trial++) assert_memory_equal(roots[trial], roots[0], 32);
    free(u);
}

/* Flipping any bit of any byte of a valid proof, or checking it for another key or value, is
 * rejected; so is every truncation. */
static void tamper_all(const uint8_t root[32], const uint8_t key[32], const uint8_t *value,
                       size_t len, const uint8_t *proof, size_t plen)
{
    uint8_t buf[CAIRN_SMT_MAX_PROOF + 1];
    assert_int_equal(cairn_smt_verify(root, key, value, len, proof, plen), 0);
    for (size_t i = 0; i < plen; i++) {
        for (unsigned b = 0; b < 8; b++) {
            memcpy(buf, proof, plen);
            buf[i] ^= (uint8_t)(1u << b);
            assert_int_not_equal(cairn_smt_verify(root, key, value, len, buf, plen), 0);
        }
    }
    for (size_t l = 0; l < plen; l++)
        assert_int_not_equal(cairn_smt_verify(root, key, value, len, proof, l), 0);
    /* Another key: a membership proof names one key; an absence proof covers the whole subtree
     * where the path ends, so only a key leaving that subtree (a bit above depth) fails. */
    uint8_t k2[32], r2[32];
    unsigned depth = (unsigned)proof[1] << 8 | proof[2];
    for (unsigned bit = 0; bit < 256; bit++) {
        memcpy(k2, key, 32);
        k2[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
        int rc = cairn_smt_verify(root, k2, value, len, proof, plen);
        if (value || bit < depth)
            assert_int_not_equal(rc, 0);
        else if (proof[0] == CAIRN_SMT_PROOF_ABSENT_EMPTY)
            assert_int_equal(rc, 0);
    }
    for (int i = 0; i < 32; i++) {
        memcpy(r2, root, 32);
        r2[i] ^= 0x80;
        assert_int_equal(cairn_smt_verify(r2, key, value, len, proof, plen), CAIRN_ESTATE_PROOF);
    }
    if (value) {
        uint8_t v2[64];
        memcpy(v2, value, len);
        v2[len] = 0;
        assert_int_equal(cairn_smt_verify(root, key, v2, len + 1, proof, plen), CAIRN_ESTATE_PROOF);
        if (len) {
            v2[0] ^= 1;
            assert_int_equal(cairn_smt_verify(root, key, v2, len, proof, plen), CAIRN_ESTATE_PROOF);
        }
    }
}

static void test_tampering(void **state)
{
    fixture *f = *state;
    test_rng r = test_rng_seeded("test_tampering");
    enum { N = 500 };
    cairn_smt_update *u = calloc(N, sizeof *u);
    for (size_t i = 0; i < N; i++) {
        random_key(&r, u[i].key);
        u[i].value = (const uint8_t *)"value-bytes";
        u[i].len = 1 + i % 10;
    }
    uint8_t root[32];
    assert_int_equal(apply_commit(f->s, 1, u, N, root), 0);
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    int kinds[3] = {0};
    for (int k = 0; k < 80; k++) {
        uint8_t key[32], proof[CAIRN_SMT_MAX_PROOF];
        size_t plen, vlen;
        const uint8_t *v;
        if (k % 2 == 0) {
            memcpy(key, u[(size_t)k * 11 % N].key, 32);
        } else {
            random_key(&r, key);
            if (k % 4 == 1) { /* share a long prefix with a stored key: ends at its leaf */
                memcpy(key, u[k].key, 32);
                key[31] ^= 0x40;
            }
        }
        assert_int_equal(cairn_smt_prove(t, 1, key, proof, sizeof proof, &plen, &v, &vlen), 0);
        kinds[proof[0]]++;
        tamper_all(root, key, v, vlen, proof, plen);
    }
    /* Paths of random absent keys end at a leaf more often than in an empty subtree: make sure
     * both absence kinds are covered. */
    for (int tries = 0; kinds[CAIRN_SMT_PROOF_ABSENT_EMPTY] < 5 && tries < 2000; tries++) {
        uint8_t key[32], proof[CAIRN_SMT_MAX_PROOF];
        size_t plen;
        random_key(&r, key);
        assert_int_equal(cairn_smt_prove(t, 1, key, proof, sizeof proof, &plen, NULL, NULL), 0);
        if (proof[0] != CAIRN_SMT_PROOF_ABSENT_EMPTY) continue;
        kinds[proof[0]]++;
        tamper_all(root, key, NULL, 0, proof, plen);
    }
    assert_true(kinds[0] >= 5 && kinds[1] >= 5 && kinds[2] >= 5);
    cairn_txn_abort(t);
    free(u);
}

/* Malformed encodings get their specific codes. */
static void test_proof_format(void **state)
{
    (void)state;
    uint8_t root[32] = {0}, key[32] = {0}, p[200];
    memset(p, 0, sizeof p);
    assert_int_equal(cairn_smt_verify(root, key, NULL, 0, p, 0), CAIRN_ETRUNCATED);
    assert_int_equal(cairn_smt_verify(root, key, NULL, 0, p, 2), CAIRN_ETRUNCATED);
    p[0] = 1;
    assert_int_equal(cairn_smt_verify(root, key, NULL, 0, p, 3), 0); /* the empty tree */
    assert_int_equal(cairn_smt_verify(root, key, (const uint8_t *)"v", 1, p, 3),
                     CAIRN_ESTATE_PROOF_KIND);
    p[0] = 3;
    assert_int_equal(cairn_smt_verify(root, key, NULL, 0, p, 3), CAIRN_ESTATE_PROOF_FORMAT);
    p[0] = 1;
    p[1] = 0x01;
    p[2] = 0x01; /* depth 257 */
    assert_int_equal(cairn_smt_verify(root, key, NULL, 0, p, 40), CAIRN_ESTATE_PROOF_FORMAT);
    /* depth 3: bitmap 1 byte, only the top 3 bits may be set; the deepest must be. */
    p[1] = 0;
    p[2] = 3;
    p[3] = 0x20;
    memset(p + 4, 0xaa, 32);
    uint8_t implied[32];
    assert_int_equal(cairn_smt_proof_root(key, NULL, p, 36, implied), 0);
    assert_int_equal(cairn_smt_verify(implied, key, NULL, 0, p, 36), 0);
    p[3] = 0x30; /* padding bit */
    assert_int_equal(cairn_smt_verify(implied, key, NULL, 0, p, 36), CAIRN_ESTATE_PROOF_FORMAT);
    p[3] = 0x40; /* deepest sibling missing */
    assert_int_equal(cairn_smt_verify(implied, key, NULL, 0, p, 36), CAIRN_ESTATE_PROOF_FORMAT);
    p[3] = 0x20;
    memset(p + 4, 0, 32); /* an explicit empty sibling */
    assert_int_equal(cairn_smt_verify(implied, key, NULL, 0, p, 36), CAIRN_ESTATE_PROOF_FORMAT);
    /* Kind 2: the neighbour must differ from key and share the first depth bits. */
    p[0] = 2;
    p[1] = 0;
    p[2] = 1;
    p[3] = 0x80;
    memset(p + 4, 0, 64);
    memset(p + 68, 0xbb, 32);
    assert_int_equal(cairn_smt_verify(root, key, NULL, 0, p, 100), CAIRN_ESTATE_PROOF_FORMAT);
    p[4] = 0x80; /* differs in bit 0, which the path fixed */
    assert_int_equal(cairn_smt_verify(root, key, NULL, 0, p, 100), CAIRN_ESTATE_PROOF_FORMAT);
    p[4] = 0x40;
    assert_int_equal(cairn_smt_proof_root(key, NULL, p, 100, implied), 0);
    assert_int_equal(cairn_smt_verify(implied, key, NULL, 0, p, 100), 0);
    assert_int_equal(cairn_smt_verify(implied, key, NULL, 0, p, 99), CAIRN_ETRUNCATED);
    assert_int_equal(cairn_smt_verify(implied, key, NULL, 0, p, 101), CAIRN_ETRAILING);
    uint8_t big[1];
    assert_int_equal(cairn_smt_verify(implied, key, big, CAIRN_SMT_MAX_VALUE + 1, p, 100),
                     CAIRN_ETOOBIG);
}

/* Bad requests change nothing and leave the transaction usable. */
static void test_bad_requests(void **state)
{
    fixture *f = *state;
    uint8_t root[32];
    cairn_smt_update u = {.key = {1}, .value = (const uint8_t *)"a", .len = 1};
    assert_int_equal(apply_commit(f->s, 10, &u, 1, root), 0);
    cairn_txn *t;
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    assert_int_equal(cairn_smt_apply(t, 10, &u, 1, NULL), CAIRN_ESTATE_VERSION_ORDER);
    assert_int_equal(cairn_smt_apply(t, 9, &u, 1, NULL), CAIRN_ESTATE_VERSION_ORDER);
    cairn_smt_update bad = {.key = {2}, .value = NULL, .len = 3};
    assert_int_equal(cairn_smt_apply(t, 11, &bad, 1, NULL), CAIRN_EINVAL);
    uint8_t *big = calloc(1, CAIRN_SMT_MAX_VALUE + 1);
    bad.value = big;
    bad.len = CAIRN_SMT_MAX_VALUE + 1;
    assert_int_equal(cairn_smt_apply(t, 11, &bad, 1, NULL), CAIRN_ETOOBIG);
    bad.len = CAIRN_SMT_MAX_VALUE; /* the largest value is fine */
    uint8_t r2[32];
    assert_int_equal(cairn_smt_apply(t, 11, &bad, 1, r2), 0);
    assert_int_equal(cairn_txn_commit(t), 0);
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    const uint8_t *v;
    size_t len;
    assert_int_equal(cairn_smt_get(t, 11, bad.key, &v, &len), 0);
    assert_int_equal(len, CAIRN_SMT_MAX_VALUE);
    assert_int_equal(cairn_smt_get(t, 10, bad.key, &v, &len), CAIRN_ENOENT);
    assert_int_equal(cairn_smt_get(t, 11, u.key, &v, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(cairn_smt_apply(t, 12, &u, 1, NULL), CAIRN_EINVAL); /* read-only txn */
    cairn_txn_abort(t);
    free(big);
}

typedef struct apply_arg {
    uint64_t version;
    const cairn_smt_update *u;
    size_t n;
    uint8_t root[32];
    int calls;
} apply_arg;

static int apply_fn(cairn_txn *t, void *arg)
{
    apply_arg *a = arg;
    a->calls++;
    return cairn_smt_apply(t, a->version, a->u, a->n, a->root);
}

/* A full map makes cairn_store_write grow the map and run the batch again: same result. */
static void test_map_full_retry(void **state)
{
    fixture *f = *state;
    test_rng r = test_rng_seeded("test_map_full_retry");
    enum { N = 64 };
    cairn_smt_update u[N];
    memset(u, 0, sizeof u);
    model *m = calloc(1, sizeof *m);
    for (int i = 0; i < POOL; i++) m->len[i] = -1;
    for (int i = 0; i < N; i++) {
        random_key(&r, m->key[i]);
        memcpy(u[i].key, m->key[i], 32);
        m->val[i][0] = (uint8_t)i;
        m->len[i] = 1;
        u[i].value = m->val[i];
        u[i].len = 1;
    }
    apply_arg a = {.version = 1, .u = u, .n = N};
    cairn_store_inject_fault(f->s, CAIRN_ESTORE_MAP_FULL);
    assert_int_equal(cairn_store_write(f->s, apply_fn, &a), 0);
    assert_int_equal(a.calls, 2);
    uint8_t expect[32];
    model_root(m, expect);
    assert_memory_equal(a.root, expect, 32);
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    for (int i = 0; i < N; i += 5) check_proof(t, 1, m->key[i], m->val[i], 1);
    cairn_txn_abort(t);
    free(m);
}

/* Stored state that breaks the tree's invariants is reported, never guessed around. */
static void test_corruption(void **state)
{
    fixture *f = *state;
    cairn_smt_update u[3];
    memset(u, 0, sizeof u);
    for (int i = 0; i < 3; i++) {
        u[i].key[0] = (uint8_t)(i << 4); /* three slots of the root node */
        u[i].value = (const uint8_t *)"v";
        u[i].len = 1;
    }
    uint8_t root[32];
    assert_int_equal(apply_commit(f->s, 1, u, 3, root), 0);
    cairn_smt_update w = u[0];
    w.value = (const uint8_t *)"w";
    assert_int_equal(apply_commit(f->s, 2, &w, 1, root), 0);
    /* Version 1's value record of key 1 goes missing; version 2's root node is truncated. */
    cairn_txn *t;
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    uint8_t vk[40];
    memset(vk, 0, sizeof vk);
    vk[7] = 1;
    memcpy(vk + 8, u[1].key, 32);
    assert_int_equal(cairn_txn_del(t, CAIRN_TABLE_STATE_VALUES, vk, sizeof vk), 0);
    uint8_t nk[9] = {0, 0, 0, 0, 0, 0, 0, 2, 0};
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_STATE_NODES, nk, sizeof nk, "\xff\xff\0", 3, 0),
                     0);
    assert_int_equal(cairn_txn_commit(t), 0);

    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    const uint8_t *v;
    size_t len;
    uint8_t proof[CAIRN_SMT_MAX_PROOF];
    size_t plen;
    assert_int_equal(cairn_smt_get(t, 1, u[0].key, &v, &len), 0);
    assert_int_equal(cairn_smt_get(t, 1, u[1].key, &v, &len), CAIRN_ESTORE_CORRUPT);
    assert_int_equal(cairn_smt_prove(t, 1, u[1].key, proof, sizeof proof, &plen, &v, &len),
                     CAIRN_ESTORE_CORRUPT);
    assert_int_equal(cairn_smt_get(t, 2, u[0].key, &v, &len), CAIRN_ESTORE_CORRUPT);
    assert_int_equal(cairn_smt_prove(t, 2, u[0].key, proof, sizeof proof, &plen, NULL, NULL),
                     CAIRN_ESTORE_CORRUPT);
    cairn_txn_abort(t);
    assert_int_equal(apply_commit(f->s, 3, u, 1, root), CAIRN_ESTORE_CORRUPT);

    /* Root records of another layout: a pre-release 40-byte record, layout 1 (before the half
     * hashes in nodes), an unknown layout byte. */
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    uint8_t rk[8] = {0, 0, 0, 0, 0, 0, 0, 1}, rec[41];
    const void *rv;
    size_t rlen;
    assert_int_equal(cairn_txn_get(t, CAIRN_TABLE_STATE_ROOTS, rk, 8, &rv, &rlen), 0);
    assert_int_equal(rlen, 41);
    assert_int_equal(((const uint8_t *)rv)[40], 2);
    memcpy(rec, rv, 41);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_STATE_ROOTS, rk, 8, rec, 40, 0), 0);
    assert_int_equal(cairn_smt_root(t, 1, root), CAIRN_ESTATE_FORMAT);
    rec[40] = 1;
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_STATE_ROOTS, rk, 8, rec, 41, 0), 0);
    assert_int_equal(cairn_smt_get(t, 1, u[0].key, &v, &len), CAIRN_ESTATE_FORMAT);
    rec[40] = 3;
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_STATE_ROOTS, rk, 8, rec, 41, 0), 0);
    assert_int_equal(cairn_smt_root(t, 1, root), CAIRN_ESTATE_FORMAT);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_STATE_ROOTS, rk, 8, rec, 39, 0), 0);
    assert_int_equal(cairn_smt_root(t, 1, root), CAIRN_ESTORE_CORRUPT);
    cairn_txn_abort(t);
}

/* Putting the value a key already has changes nothing: no node, no value record, same root. */
static void test_unchanged_put(void **state)
{
    fixture *f = *state;
    cairn_smt_update u[2];
    memset(u, 0, sizeof u);
    u[0].key[0] = 0x10;
    u[1].key[0] = 0x20;
    u[0].value = u[1].value = (const uint8_t *)"same";
    u[0].len = u[1].len = 4;
    uint8_t r1[32], r2[32], r3[32];
    assert_int_equal(apply_commit(f->s, 1, u, 2, r1), 0);
    assert_int_equal(apply_commit(f->s, 2, u, 2, r2), 0);
    assert_memory_equal(r1, r2, 32);
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    const void *v;
    size_t len;
    uint8_t nk[9] = {0, 0, 0, 0, 0, 0, 0, 2, 0}, vk[40] = {0, 0, 0, 0, 0, 0, 0, 2};
    memcpy(vk + 8, u[0].key, 32);
    assert_int_equal(cairn_txn_get(t, CAIRN_TABLE_STATE_NODES, nk, 9, &v, &len), CAIRN_ENOENT);
    assert_int_equal(cairn_txn_get(t, CAIRN_TABLE_STATE_VALUES, vk, 40, &v, &len), CAIRN_ENOENT);
    check_proof(t, 2, u[0].key, (const uint8_t *)"same", 4);
    cairn_txn_abort(t);
    /* A changed value in the same batch as an unchanged one writes only what changed. */
    u[1].value = (const uint8_t *)"diff";
    assert_int_equal(apply_commit(f->s, 3, u, 2, r3), 0);
    assert_memory_not_equal(r3, r1, 32);
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    vk[7] = 3;
    assert_int_equal(cairn_txn_get(t, CAIRN_TABLE_STATE_VALUES, vk, 40, &v, &len), CAIRN_ENOENT);
    memcpy(vk + 8, u[1].key, 32);
    assert_int_equal(cairn_txn_get(t, CAIRN_TABLE_STATE_VALUES, vk, 40, &v, &len), 0);
    check_proof(t, 3, u[0].key, (const uint8_t *)"same", 4);
    check_proof(t, 3, u[1].key, (const uint8_t *)"diff", 4);
    check_proof(t, 1, u[1].key, (const uint8_t *)"same", 4);
    cairn_txn_abort(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_tree, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_known_answers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_random_versions, fx_setup, fx_teardown),
        cmocka_unit_test(test_order_independence),
        cmocka_unit_test_setup_teardown(test_tampering, fx_setup, fx_teardown),
        cmocka_unit_test(test_proof_format),
        cmocka_unit_test_setup_teardown(test_bad_requests, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_map_full_retry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_corruption, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_put, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
