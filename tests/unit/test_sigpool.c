/*
 * The worker pool and the verification cache: mixed-algorithm jobs give exactly the
 * per-item results of cairn_sig_verify, with 1 and 3 threads, with and without a cache, with a
 * cache so small it evicts constantly; the completion hook runs exactly once per job; the cache
 * key separates every field. Also key generation and signing round trips for every algorithm.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/sig.h"
#include "ledger/sigcache.h"
#include "ledger/sigpool.h"
#include "ledger/sigsign.h"
#include "test_util.h"

static cairn_sig_ctx *ctx;

#define N 400

typedef struct signed_item {
    uint8_t pk[CAIRN_SIG_MAX_PK], sig[64], msg[40];
    size_t pk_len, msg_len;
} signed_item;

static signed_item store[N];
static cairn_sig_item items[N];
static int expect[N];

static int setup(void **state)
{
    (void)state;
    if (cairn_sig_ctx_new(&ctx)) return -1;
    test_rng rng = test_rng_seeded("sigpool items");
    for (size_t i = 0; i < N; i++) {
        signed_item *s = &store[i];
        cairn_sig_alg alg = (cairn_sig_alg)(1 + (i % 7 < 4 ? 0 : i % 4)); /* mostly Ed25519 */
        uint8_t sk[32];
        if (cairn_sig_keygen(ctx, alg, sk) || cairn_sig_pubkey(ctx, alg, s->pk, &s->pk_len, sk))
            return -1;
        s->msg_len = test_rng_below(&rng, sizeof s->msg + 1);
        for (size_t k = 0; k < s->msg_len; k++) s->msg[k] = (uint8_t)test_rng_next(&rng);
        if (cairn_sig_sign(ctx, alg, s->sig, sk, s->msg, s->msg_len)) return -1;
        if (test_rng_below(&rng, 6) == 0) s->sig[test_rng_below(&rng, 64)] ^= 0x10; /* break */
        items[i] = (cairn_sig_item){alg, s->pk, s->pk_len, s->sig, 64, s->msg, s->msg_len, NULL};
        expect[i] = cairn_sig_verify(ctx, &items[i]);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cairn_sig_ctx_free(ctx);
    return 0;
}

static void test_sign_roundtrip(void **state)
{
    (void)state;
    for (int a = 1; a <= 4; a++) {
        cairn_sig_alg alg = (cairn_sig_alg)a;
        uint8_t sk[32], pk[CAIRN_SIG_MAX_PK], sig[64];
        size_t pk_len;
        const uint8_t msg[] = "attestation";
        assert_int_equal(cairn_sig_keygen(ctx, alg, sk), 0);
        assert_int_equal(cairn_sig_pubkey(ctx, alg, pk, &pk_len, sk), 0);
        assert_int_equal(cairn_sig_key_check(ctx, alg, pk, pk_len), 0);
        assert_int_equal(cairn_sig_sign(ctx, alg, sig, sk, msg, sizeof msg), 0);
        cairn_sig_item it = {alg, pk, pk_len, sig, 64, msg, sizeof msg, NULL};
        assert_int_equal(cairn_sig_verify(ctx, &it), 0);
        it.msg_len--;
        assert_int_equal(cairn_sig_verify(ctx, &it), CAIRN_ESIG_INVALID);
        it.msg_len++;
        it.sig_len = 63;
        assert_int_equal(cairn_sig_verify(ctx, &it), CAIRN_ESIG_LENGTH);
        it.sig_len = 64;
        it.pk_len = 31;
        assert_int_equal(cairn_sig_verify(ctx, &it), CAIRN_ESIG_KEY_LENGTH);
        const char *name = cairn_sig_alg_name(alg);
        cairn_sig_alg back;
        assert_int_equal(cairn_sig_alg_parse(&back, name), 0);
        assert_int_equal(back, alg);
    }
    cairn_sig_alg x;
    assert_int_equal(cairn_sig_alg_parse(&x, "rsa"), CAIRN_ESIG_ALG);
    /* A high-S secp256k1 ECDSA signature is rejected with its own code; P-256 accepts high S. */
    uint8_t sk[32], pk[CAIRN_SIG_MAX_PK], sig[64];
    size_t pk_len;
    static const uint8_t n_k1[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                     0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                     0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    static const uint8_t n_p256[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                                       0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    for (int a = 0; a < 2; a++) {
        cairn_sig_alg alg = a ? CAIRN_SIG_P256 : CAIRN_SIG_SECP256K1_ECDSA;
        const uint8_t *n = a ? n_p256 : n_k1;
        assert_int_equal(cairn_sig_keygen(ctx, alg, sk), 0);
        assert_int_equal(cairn_sig_pubkey(ctx, alg, pk, &pk_len, sk), 0);
        assert_int_equal(cairn_sig_sign(ctx, alg, sig, sk, (const uint8_t *)"m", 1), 0);
        /* s' = n - s */
        int borrow = 0;
        for (int i = 31; i >= 0; i--) {
            int v = n[i] - sig[32 + i] - borrow;
            borrow = v < 0;
            sig[32 + i] = (uint8_t)(v + (borrow ? 256 : 0));
        }
        cairn_sig_item it = {alg, pk, pk_len, sig, 64, (const uint8_t *)"m", 1, NULL};
        int rc = cairn_sig_verify(ctx, &it);
        assert_int_equal(rc, a ? 0 : CAIRN_ESIG_HIGH_S);
        memset(sig + 32, 0, 32);
        assert_int_equal(cairn_sig_verify(ctx, &it), CAIRN_ESIG_SCALAR_RANGE);
    }
}

static void run_pool(unsigned threads, size_t cache_bytes, size_t max_chunk)
{
    cairn_sigpool *pool;
    cairn_sigpool_opts o = {threads, cache_bytes, max_chunk};
    assert_int_equal(cairn_sigpool_new(&pool, ctx, &o), 0);
    assert_int_equal(cairn_sigpool_threads(pool), threads);
    int res[N];
    int any = 0;
    for (size_t i = 0; i < N; i++) any |= expect[i] != 0;
    assert_true(any);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < N; i++) res[i] = 777;
        assert_int_equal(cairn_sigpool_verify(pool, res, items, N), CAIRN_ESIG_INVALID);
        for (size_t i = 0; i < N; i++) assert_int_equal(res[i], expect[i]);
        /* Sub-ranges, including all-valid prefixes. */
        size_t k = 0;
        while (k < N && expect[k] == 0) k++;
        assert_int_equal(cairn_sigpool_verify(pool, res, items, k), 0);
    }
    cairn_sigcache *c = cairn_sigpool_cache(pool);
    if (cache_bytes == (size_t)-1) {
        assert_null(c);
    } else {
        cairn_sigcache_stats st;
        cairn_sigcache_get_stats(c, &st);
        assert_true(st.inserts > 0);
        if (cache_bytes == 0) {
            /* Big cache: rounds 2 and 3 hit every valid signature. */
            size_t valid = 0;
            for (size_t i = 0; i < N; i++) valid += expect[i] == 0;
            assert_int_equal(st.inserts, valid);
            assert_true(st.hits >= 2 * valid);
            assert_int_equal(st.evictions, 0);
        } else {
            assert_true(st.evictions > 0);
        }
    }
    cairn_sigpool_free(pool);
}

static void test_pool_one_thread(void **state)
{
    (void)state;
    run_pool(1, (size_t)-1, 0);
}

static void test_pool_threads_cache(void **state)
{
    (void)state;
    run_pool(3, 0, 0);
    run_pool(2, 0, 7);
}

static void test_pool_tiny_cache(void **state)
{
    (void)state;
    run_pool(2, 4096, 16); /* 128 entries for ~330 valid signatures */
}

/* Many jobs in flight at once: each completion hook runs exactly once. */
typedef struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls[64];
    int total;
} counter;

static counter cnt;

static void on_done(cairn_sigpool_job *job, void *arg)
{
    int idx = (int)(intptr_t)arg;
    (void)job;
    pthread_mutex_lock(&cnt.mu);
    cnt.calls[idx]++;
    cnt.total++;
    pthread_cond_broadcast(&cnt.cv);
    pthread_mutex_unlock(&cnt.mu);
}

static void test_pool_async_jobs(void **state)
{
    (void)state;
    cairn_sigpool *pool;
    cairn_sigpool_opts o = {2, 0, 32};
    assert_int_equal(cairn_sigpool_new(&pool, ctx, &o), 0);
    pthread_mutex_init(&cnt.mu, NULL);
    pthread_cond_init(&cnt.cv, NULL);
    static cairn_sigpool_job jobs[64];
    static int res[64][N];
    test_rng rng = test_rng_seeded("async jobs");
    size_t off[64], len[64];
    for (int j = 0; j < 64; j++) {
        off[j] = test_rng_below(&rng, N);
        len[j] = test_rng_below(&rng, N - off[j] + 1); /* includes empty jobs */
        memset(&jobs[j], 0, sizeof jobs[j]);
        jobs[j].items = items + off[j];
        jobs[j].n = len[j];
        jobs[j].results = res[j];
        jobs[j].done = on_done;
        jobs[j].arg = (void *)(intptr_t)j;
        assert_int_equal(cairn_sigpool_submit(pool, &jobs[j]), 0);
    }
    pthread_mutex_lock(&cnt.mu);
    while (cnt.total < 64) pthread_cond_wait(&cnt.cv, &cnt.mu);
    pthread_mutex_unlock(&cnt.mu);
    for (int j = 0; j < 64; j++) {
        assert_int_equal(cnt.calls[j], 1);
        int any = 0;
        for (size_t i = 0; i < len[j]; i++) {
            assert_int_equal(res[j][i], expect[off[j] + i]);
            any |= expect[off[j] + i] != 0;
        }
        assert_int_equal(jobs[j].status, any ? CAIRN_ESIG_INVALID : 0);
    }
    assert_int_equal(cairn_sigpool_submit(pool, NULL), CAIRN_EINVAL);
    cairn_sigpool_free(pool);
    pthread_cond_destroy(&cnt.cv);
    pthread_mutex_destroy(&cnt.mu);
}

static void test_cache_key_fields(void **state)
{
    (void)state;
    uint8_t pk[33] = {2, 1}, sig[64] = {3}, msg[4] = {4};
    cairn_sig_item base = {CAIRN_SIG_P256, pk, 33, sig, 64, msg, 4, NULL};
    uint8_t k0[32], k[32];
    cairn_sigcache_key(k0, &base);
    cairn_sig_item v = base;
    v.alg = CAIRN_SIG_SECP256K1_ECDSA;
    cairn_sigcache_key(k, &v);
    assert_memory_not_equal(k, k0, 32);
    v = base, v.pk_len = 32;
    cairn_sigcache_key(k, &v);
    assert_memory_not_equal(k, k0, 32);
    v = base, v.msg_len = 3;
    cairn_sigcache_key(k, &v);
    assert_memory_not_equal(k, k0, 32);
    /* Moving a byte between fields changes the key (lengths are bound). */
    v = base, v.sig_len = 63;
    cairn_sigcache_key(k, &v);
    assert_memory_not_equal(k, k0, 32);
    uint8_t sig2[64] = {3};
    sig2[63] = 1;
    v = base, v.sig = sig2;
    cairn_sigcache_key(k, &v);
    assert_memory_not_equal(k, k0, 32);
    cairn_sigcache_key(k, &base);
    assert_memory_equal(k, k0, 32);
    /* Ed25519 with an expanded key hashes the key's encoding, like the raw key. */
    uint8_t epk[CAIRN_SIG_MAX_PK], esk[32];
    size_t len;
    assert_int_equal(cairn_sig_keygen(ctx, CAIRN_SIG_ED25519, esk), 0);
    assert_int_equal(cairn_sig_pubkey(ctx, CAIRN_SIG_ED25519, epk, &len, esk), 0);
    cairn_ed25519_key ek;
    assert_int_equal(cairn_ed25519_key_expand(&ek, epk), 0);
    cairn_sig_item e1 = {CAIRN_SIG_ED25519, epk, 32, sig, 64, msg, 4, NULL};
    cairn_sig_item e2 = {CAIRN_SIG_ED25519, NULL, 0, sig, 64, msg, 4, &ek};
    cairn_sigcache_key(k0, &e1);
    cairn_sigcache_key(k, &e2);
    assert_memory_equal(k, k0, 32);

    cairn_sigcache *c;
    assert_int_equal(cairn_sigcache_new(&c, 0), 0);
    assert_int_equal(cairn_sigcache_lookup(c, k0), 0);
    cairn_sigcache_insert(c, k0);
    cairn_sigcache_insert(c, k0);
    assert_int_equal(cairn_sigcache_lookup(c, k0), 1);
    cairn_sigcache_stats st;
    cairn_sigcache_get_stats(c, &st);
    assert_int_equal(st.inserts, 1);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.capacity, (size_t)2 << 20); /* 64 MiB of 32-byte entries */
    cairn_sigcache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_roundtrip),  cmocka_unit_test(test_cache_key_fields),
        cmocka_unit_test(test_pool_one_thread), cmocka_unit_test(test_pool_threads_cache),
        cmocka_unit_test(test_pool_tiny_cache), cmocka_unit_test(test_pool_async_jobs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
