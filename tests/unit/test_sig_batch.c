/*
 * Ed25519 batch properties, many seeds: a signature's result is the same alone, as a batch of
 * one and anywhere inside mixed batches of every size 1..300 with invalid signatures at random
 * positions (speccheck cases, torsion components, S >= L, points off the curve, wrong messages);
 * bisection returns exactly the invalid set; a batch of valid signatures always passes. And a
 * naive reference: libsodium's signer and (cofactorless) verifier, which must agree wherever
 * the two rule sets coincide (canonical encodings, prime-order points).
 *
 * CAIRN_TEST_SEED replays a run; CAIRN_SIG_BATCH_SEEDS sets how many extra seeds run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ed25519_ge.h"
#include "ledger/hex.h"
#include "ledger/sig.h"
#include "test_util.h"

static cairn_sig_ctx *ctx;      /* AUTO: the IFMA backend where the CPU has it */
static cairn_sig_ctx *ctx_port; /* the portable backend */

/* A signature with the result it must have under ZIP-215. */
typedef struct case_t {
    uint8_t pk[32], sig[64], msg[48];
    size_t msg_len;
    int expect; /* 0 or the expected CAIRN_ESIG_* code */
    cairn_ed25519_key key;
    int has_key;
} case_t;

#define POOL 600
static case_t pool[POOL];
static size_t pool_valid[POOL], n_valid;
static size_t pool_invalid[POOL], n_invalid;

static void unhex_fixed(uint8_t *out, size_t n, const char *h)
{
    size_t len;
    assert_int_equal(cairn_hex_decode(out, n, &len, h, strlen(h)), 0);
    assert_int_equal(len, n);
}

/* p + q for encodings (test-only helper over the internal point arithmetic). */
static void point_add(uint8_t out[32], const uint8_t p[32], const uint8_t q[32])
{
    fe x, y;
    ge_p3 a, b;
    ge_cached bc;
    ge_p1p1 t;
    assert_int_equal(ge_decode_zip215(&x, &y, p), 0);
    ge_p3_from_xy(&a, &x, &y);
    assert_int_equal(ge_decode_zip215(&x, &y, q), 0);
    ge_p3_from_xy(&b, &x, &y);
    ge_p3_to_cached(&bc, &b);
    ge_add(&t, &a, &bc);
    ge_p1p1_to_p3(&a, &t);
    ge_p3_tobytes(out, &a);
}

/* A point of order 8 (speccheck's small-order key). */
static uint8_t T8[32];

static void k_of(uint8_t k[32], const uint8_t r[32], const uint8_t a[32], const uint8_t *m,
                 size_t mlen)
{
    crypto_hash_sha512_state h;
    uint8_t d[64];
    crypto_hash_sha512_init(&h);
    crypto_hash_sha512_update(&h, r, 32);
    crypto_hash_sha512_update(&h, a, 32);
    crypto_hash_sha512_update(&h, m, mlen);
    crypto_hash_sha512_final(&h, d);
    crypto_core_ed25519_scalar_reduce(k, d);
}

/*
 * A signature whose A and R carry torsion components (A' = aB + T8, R = rB + [j]T8): valid
 * under the cofactored equation, rejected by cofactorless verifiers. With bad = 1, S is off by
 * one (invalid under every rule).
 */
static void torsion_case(case_t *c, test_rng *rng, int bad)
{
    uint8_t a[32], r[32], A[32], R[32], k[32], ka[32], S[32];
    crypto_core_ed25519_scalar_random(a);
    crypto_core_ed25519_scalar_random(r);
    assert_int_equal(crypto_scalarmult_ed25519_base_noclamp(A, a), 0);
    assert_int_equal(crypto_scalarmult_ed25519_base_noclamp(R, r), 0);
    point_add(c->pk, A, T8);
    uint8_t tj[32];
    memcpy(tj, T8, 32);
    int j = (int)test_rng_below(rng, 8);
    for (int i = 0; i < j; i++) point_add(tj, tj, T8);
    point_add(R, R, tj);
    c->msg_len = 1 + test_rng_below(rng, sizeof c->msg - 1);
    for (size_t i = 0; i < c->msg_len; i++) c->msg[i] = (uint8_t)test_rng_next(rng);
    k_of(k, R, c->pk, c->msg, c->msg_len);
    crypto_core_ed25519_scalar_mul(ka, k, a);
    crypto_core_ed25519_scalar_add(S, r, ka);
    if (bad) {
        uint8_t one[32] = {1};
        crypto_core_ed25519_scalar_add(S, S, one);
    }
    memcpy(c->sig, R, 32);
    memcpy(c->sig + 32, S, 32);
    c->expect = bad ? CAIRN_ESIG_INVALID : 0;
}

static void sodium_case(case_t *c, test_rng *rng)
{
    uint8_t sk[64];
    crypto_sign_keypair(c->pk, sk);
    c->msg_len = test_rng_below(rng, sizeof c->msg + 1);
    for (size_t i = 0; i < c->msg_len; i++) c->msg[i] = (uint8_t)test_rng_next(rng);
    crypto_sign_detached(c->sig, NULL, c->msg, c->msg_len, sk);
    c->expect = 0;
}

static int setup(void **state)
{
    (void)state;
    if (cairn_sig_ctx_new(&ctx) != 0) return -1;
    if (cairn_sig_ctx_new_backend(&ctx_port, CAIRN_SIG_BACKEND_PORTABLE) != 0) return -1;
    printf("# backends: %s and %s\n", cairn_sig_ctx_backend_name(ctx),
           cairn_sig_ctx_backend_name(ctx_port));
    unhex_fixed(T8, 32, "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
    test_rng rng = test_rng_seeded("test_sig_batch pool");
    size_t n = 0;
    /* The twelve speccheck cases with their ZIP-215 results (test_sig.c checks them alone). */
    char path[1024];
    snprintf(path, sizeof path, "%s/ed25519_speccheck_cases.json", CAIRN_VECTORS_DIR);
    json_t *j = json_load_file(path, 0, NULL);
    if (!j) return -1;
    static const int zip215_valid[12] = {1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1};
    static const int zip215_code[12] = {
        0, 0, 0, 0, 0, 0, CAIRN_ESIG_S_RANGE, CAIRN_ESIG_S_RANGE, CAIRN_ESIG_INVALID, 0, 0, 0};
    for (size_t i = 0; i < 12; i++) {
        json_t *c = json_array_get(j, i);
        case_t *p = &pool[n++];
        unhex_fixed(p->pk, 32, json_string_value(json_object_get(c, "pub_key")));
        unhex_fixed(p->sig, 64, json_string_value(json_object_get(c, "signature")));
        unhex_fixed(p->msg, 32, json_string_value(json_object_get(c, "message")));
        p->msg_len = 32;
        p->expect = zip215_valid[i] ? 0 : zip215_code[i];
    }
    json_decref(j);
    /* Torsion components, valid and invalid. */
    for (int i = 0; i < 40; i++) torsion_case(&pool[n++], &rng, i % 4 == 3);
    /* Valid libsodium signatures and mutations of them. */
    while (n < POOL) {
        case_t *c = &pool[n++];
        sodium_case(c, &rng);
        switch (test_rng_below(&rng, 8)) {
        case 0: /* wrong message */
            c->msg[0] ^= 1;
            if (c->msg_len == 0) c->msg_len = 1;
            c->expect = CAIRN_ESIG_INVALID;
            break;
        case 1: /* S + L: same residue, out of range */
        {
            uint8_t L[32];
            unhex_fixed(L, 32, "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
            unsigned carry = 0;
            for (int b = 0; b < 32; b++) {
                unsigned v = c->sig[32 + b] + L[b] + carry;
                c->sig[32 + b] = (uint8_t)v;
                carry = v >> 8;
            }
            c->expect = CAIRN_ESIG_S_RANGE;
            break;
        }
        case 2: /* R replaced by an encoding that is not on the curve (y = 2) */
            memset(c->sig, 0, 32);
            c->sig[0] = 2;
            c->expect = CAIRN_ESIG_POINT;
            break;
        case 3: /* S changed but still < L */
            c->sig[32] ^= 4;
            c->expect = CAIRN_ESIG_INVALID;
            break;
        default: /* valid; half of them with a pre-expanded key */
            if (test_rng_below(&rng, 2)) {
                assert_int_equal(cairn_ed25519_key_expand(&c->key, c->pk), 0);
                c->has_key = 1;
            }
            break;
        }
    }
    for (size_t i = 0; i < POOL; i++) {
        if (pool[i].expect == 0)
            pool_valid[n_valid++] = i;
        else
            pool_invalid[n_invalid++] = i;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cairn_sig_ctx_free(ctx);
    cairn_sig_ctx_free(ctx_port);
    return 0;
}

static cairn_ed25519_item item_of(const case_t *c)
{
    return (cairn_ed25519_item){c->has_key ? NULL : c->pk, c->has_key ? &c->key : NULL, c->sig,
                                c->msg, c->msg_len};
}

/* Every case alone, as a batch of one, and through the algorithm-generic entry. */
static void test_single_equals_batch_of_one(void **state)
{
    (void)state;
    for (size_t i = 0; i < POOL; i++) {
        const case_t *c = &pool[i];
        int single = cairn_ed25519_verify(ctx, c->pk, c->msg, c->msg_len, c->sig);
        assert_int_equal(cairn_ed25519_verify(ctx_port, c->pk, c->msg, c->msg_len, c->sig), single);
        if (single != c->expect)
            fail_msg("pool case %zu: got %s, expected %s", i, cairn_err_name(single),
                     cairn_err_name(c->expect));
        cairn_ed25519_item it = item_of(c);
        int r = 1;
        int rc = cairn_ed25519_verify_batch(ctx, &r, &it, 1);
        assert_int_equal(r, c->expect);
        assert_int_equal(rc, c->expect ? CAIRN_ESIG_INVALID : 0);
        cairn_sig_item g = {CAIRN_SIG_ED25519, c->pk, 32, c->sig, 64, c->msg, c->msg_len, NULL};
        assert_int_equal(cairn_sig_verify(ctx, &g), c->expect);
    }
}

/* One mixed batch of size n: invalid items at random positions with probability p/16. Odd
 * sizes run on the portable backend, even sizes on AUTO. */
static void run_batch(test_rng *rng, size_t n, unsigned p16, const cairn_ed25519_batch_opts *opts)
{
    const cairn_sig_ctx *cx = (n & 1) ? ctx_port : ctx;
    cairn_ed25519_item *items = malloc(n * sizeof *items);
    int *expect = malloc(n * sizeof *expect), *res = malloc(n * sizeof *res);
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        int bad = test_rng_below(rng, 16) < p16;
        size_t k = bad ? pool_invalid[test_rng_below(rng, n_invalid)]
                       : pool_valid[test_rng_below(rng, n_valid)];
        items[i] = item_of(&pool[k]);
        expect[i] = pool[k].expect;
        res[i] = 12345;
        any |= expect[i] != 0;
    }
    int rc = cairn_ed25519_verify_batch_opts(cx, res, items, n, opts);
    assert_int_equal(rc, any ? CAIRN_ESIG_INVALID : 0);
    for (size_t i = 0; i < n; i++)
        if (res[i] != expect[i])
            fail_msg("batch of %zu, item %zu: got %s, expected %s", n, i, cairn_err_name(res[i]),
                     cairn_err_name(expect[i]));
    free(items), free(expect), free(res);
}

static void test_mixed_batches_every_size(void **state)
{
    (void)state;
    test_rng rng = test_rng_seeded("mixed batches 1..300");
    for (size_t n = 1; n <= 300; n++) run_batch(&rng, n, (unsigned)(n % 5), NULL);
}

static void test_more_seeds(void **state)
{
    (void)state;
    const char *env = getenv("CAIRN_SIG_BATCH_SEEDS");
    int seeds = env ? atoi(env) : 12;
    test_rng base = test_rng_seeded("more seeds");
    for (int s = 0; s < seeds; s++) {
        test_rng rng = {test_rng_next(&base) | 1};
        /* Both multi-scalar methods, several Pippenger windows, sizes across the crossover. */
        cairn_ed25519_batch_opts o = {0, 0};
        switch (s % 4) {
        case 1:
            o.straus_max = 1000;
            break;
        case 2:
            o.straus_max = 1, o.pippenger_window = 3 + (int)test_rng_below(&rng, 8);
            break;
        default:
            break;
        }
        size_t n = 1 + test_rng_below(&rng, 300);
        run_batch(&rng, n, (unsigned)test_rng_below(&rng, 4), &o);
        run_batch(&rng, n, 0, &o); /* all valid: must pass */
    }
}

/* A batch with every invalid kind at once and a batch of all-valid torsion cases. */
static void test_all_valid_never_fails(void **state)
{
    (void)state;
    cairn_ed25519_item items[POOL];
    int res[POOL];
    size_t n = 0;
    for (size_t i = 0; i < n_valid; i++) items[n++] = item_of(&pool[pool_valid[i]]);
    for (int rep = 0; rep < 4; rep++) {
        assert_int_equal(cairn_ed25519_verify_batch(rep & 1 ? ctx_port : ctx, res, items, n), 0);
        for (size_t i = 0; i < n; i++) assert_int_equal(res[i], 0);
    }
    n = 0;
    for (size_t i = 0; i < n_invalid; i++) items[n++] = item_of(&pool[pool_invalid[i]]);
    assert_int_equal(cairn_ed25519_verify_batch(ctx, res, items, n), CAIRN_ESIG_INVALID);
    for (size_t i = 0; i < n; i++) assert_int_equal(res[i], pool[pool_invalid[i]].expect);
}

/* libsodium as the naive reference, where the rules coincide. */
static void test_libsodium_reference(void **state)
{
    (void)state;
    test_rng rng = test_rng_seeded("libsodium reference");
    int agreed = 0, compared = 0;
    for (int iter = 0; iter < 1500; iter++) {
        case_t c;
        memset(&c, 0, sizeof c);
        sodium_case(&c, &rng);
        assert_int_equal(cairn_ed25519_verify(ctx, c.pk, c.msg, c.msg_len, c.sig), 0);
        /* Mutate one random bit of the key, the signature or the message. */
        size_t total = 32 + 64 + c.msg_len;
        size_t bit = test_rng_below(&rng, total * 8);
        size_t byte = bit / 8;
        uint8_t mask = (uint8_t)(1u << (bit % 8));
        if (byte < 32)
            c.pk[byte] ^= mask;
        else if (byte < 96)
            c.sig[byte - 32] ^= mask;
        else
            c.msg[byte - 96] ^= mask;
        int ours = cairn_ed25519_verify(ctx, c.pk, c.msg, c.msg_len, c.sig);
        int theirs = crypto_sign_verify_detached(c.sig, c.msg, c.msg_len, c.pk);
        /* Compare only where ZIP-215 and libsodium's rules coincide: canonical, prime-order
         * A and R (is_valid_point checks exactly that, and rejects small order). */
        if (crypto_core_ed25519_is_valid_point(c.pk) && crypto_core_ed25519_is_valid_point(c.sig)) {
            compared++;
            if ((ours == 0) != (theirs == 0))
                fail_msg("iteration %d: ours %s, libsodium %d", iter, cairn_err_name(ours), theirs);
            agreed++;
        } else {
            /* Outside the common ground a mutated signature is still invalid here: a random
             * bit flip does not produce a valid signature. */
            assert_int_not_equal(ours, 0);
        }
    }
    printf("# libsodium reference: %d compared, %d agreed\n", compared, agreed);
    assert_true(compared > 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_equals_batch_of_one),
        cmocka_unit_test(test_all_valid_never_fails),
        cmocka_unit_test(test_mixed_batches_every_size),
        cmocka_unit_test(test_more_seeds),
        cmocka_unit_test(test_libsodium_reference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
