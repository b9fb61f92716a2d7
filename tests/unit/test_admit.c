/*
 * Batched admission (node/admit.h): transactions submitted from several threads are verified
 * together and each gets exactly its own result (valid: 0; a corrupted signature: ESIG_INVALID);
 * every job is reported exactly once; a full queue refuses; stop cancels what waits with the
 * caller's code and later submits fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/keys.h"
#include "ledger/txbuild.h"
#include "node/admit.h"

#define CHAIN "admit-test"
#define N     600

typedef struct ctx {
    int want[N]; /* expected result per job index */
    _Atomic int got[N];
    _Atomic int calls;
} ctx;

static void done(void *c, cairn_admit_job *job, int err)
{
    ctx *x = c;
    size_t i = (size_t)(uintptr_t)job->deferred;
    atomic_store(&x->got[i], err == 0 ? 1 : err);
    atomic_fetch_add(&x->calls, 1);
    free(job->raw);
}

static void make_tx(const cairn_keypair *kp, uint32_t i, int corrupt, cairn_buf *out)
{
    uint8_t nonce[8] = {0}, dig[32], dev[32];
    memcpy(nonce, &i, 4);
    memset(dig, (int)i, 32);
    memset(dev, 7, 32);
    Cairn__V1__TxBody b = CAIRN__V1__TX_BODY__INIT;
    b.chain_id = CHAIN;
    b.expiry_height = 100;
    b.nonce = (ProtobufCBinaryData){8, nonce};
    Cairn__V1__DataAnchor a = CAIRN__V1__DATA_ANCHOR__INIT;
    Cairn__V1__Digest dd = CAIRN__V1__DIGEST__INIT;
    dd.alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
    dd.value = (ProtobufCBinaryData){32, dig};
    a.device_id = (ProtobufCBinaryData){32, dev};
    a.stream_id = (ProtobufCBinaryData){1, (uint8_t *)"s"};
    a.sequence = i + 1;
    a.data_digest = &dd;
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR;
    b.data_anchor = &a;
    assert_int_equal(cairn_tx_build(out, CHAIN, &b, kp, NULL), 0);
    if (corrupt) out->p[out->len - 5] ^= 0x40; /* inside the trailing signature field */
}

typedef struct thr {
    cairn_admit *a;
    cairn_buf *txs;
    ctx *x;
    uint32_t from, step;
} thr;

static void *submitter(void *arg)
{
    thr *t = arg;
    for (uint32_t i = t->from; i < N; i += t->step) {
        cairn_admit_job job = {.deferred = (void *)(uintptr_t)i, .len = t->txs[i].len};
        job.raw = malloc(job.len);
        memcpy(job.raw, t->txs[i].p, job.len);
        while (cairn_admit_submit(t->a, &job) == CAIRN_EMEMPOOL_FULL) usleep(100);
    }
    return NULL;
}

static void test_batched_results(void **state)
{
    (void)state;
    cairn_sig_ctx *sig;
    assert_int_equal(cairn_sig_ctx_new(&sig), 0);
    cairn_keypair kp;
    uint8_t seed[32];
    memset(seed, 0x42, 32);
    assert_int_equal(cairn_keypair_from_seed(&kp, sig, CAIRN_SIG_ED25519, seed), 0);
    static cairn_buf txs[N];
    ctx *x = calloc(1, sizeof *x);
    for (uint32_t i = 0; i < N; i++) {
        txs[i] = (cairn_buf)CAIRN_BUF_INIT;
        int corrupt = i % 7 == 3;
        make_tx(&kp, i, corrupt, &txs[i]);
        x->want[i] = corrupt ? CAIRN_ESIG_INVALID : 1;
    }
    cairn_admit *a;
    assert_int_equal(cairn_admit_start(&a, sig, CHAIN, 64, done, x), 0);
    pthread_t th[4];
    thr args[4];
    for (uint32_t k = 0; k < 4; k++) {
        args[k] = (thr){a, txs, x, k, 4};
        assert_int_equal(pthread_create(&th[k], NULL, submitter, &args[k]), 0);
    }
    for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
    for (int w = 0; w < 2000 && atomic_load(&x->calls) < N; w++) usleep(1000);
    assert_int_equal(atomic_load(&x->calls), N);
    for (uint32_t i = 0; i < N; i++) assert_int_equal(atomic_load(&x->got[i]), x->want[i]);
    cairn_admit_free(a);
    assert_int_equal(atomic_load(&x->calls), N); /* nothing reported twice */
    for (uint32_t i = 0; i < N; i++) cairn_buf_free(&txs[i]);
    free(x);
    cairn_keypair_wipe(&kp);
    cairn_sig_ctx_free(sig);
}

/* Undecodable jobs through a tiny queue: some refused (full), each queued one reported exactly once
 * and never as a success; after stop, submits are refused. */
static void test_full_and_stop(void **state)
{
    (void)state;
    cairn_sig_ctx *sig;
    assert_int_equal(cairn_sig_ctx_new(&sig), 0);
    ctx *x = calloc(1, sizeof *x);
    cairn_admit *a;
    assert_int_equal(cairn_admit_start(&a, sig, CHAIN, 2, done, x), 0);
    /* Garbage bytes: the verifier reports a decode error, never a success. */
    int refused = 0, queued = 0;
    for (uint32_t i = 0; i < 50; i++) {
        cairn_admit_job job = {.deferred = (void *)(uintptr_t)i, .len = 3};
        job.raw = malloc(3);
        memcpy(job.raw, "abc", 3);
        int err = cairn_admit_submit(a, &job);
        if (err) {
            assert_int_equal(err, CAIRN_EMEMPOOL_FULL);
            free(job.raw);
            refused++;
        } else {
            queued++;
        }
    }
    assert_int_equal(refused + queued, 50);
    cairn_admit_stop(a, CAIRN_EMEMPOOL_FULL);
    assert_int_equal(atomic_load(&x->calls), queued);
    for (int i = 0; i < 50; i++) assert_int_not_equal(atomic_load(&x->got[i]), 1);
    cairn_admit_job job = {.deferred = 0, .len = 1, .raw = malloc(1)};
    assert_int_equal(cairn_admit_submit(a, &job), CAIRN_EMEMPOOL_FULL);
    free(job.raw);
    cairn_admit_free(a);
    free(x);
    cairn_sig_ctx_free(sig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batched_results),
        cmocka_unit_test(test_full_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
