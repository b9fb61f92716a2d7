/*
 * The objects validators exchange beside consensus messages (node/objects.h): batch and payload
 * digests equal the documented preimages hashed independently here; round trips; every refusal
 * code (wrong kind, tampered digest, empty or oversize, bad lengths, garbage, unknown fields).
 * Also the 32-byte-key hash map (node/h32map.h) against a naive reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/canon.h"
#include "ledger/chain.h"
#include "ledger/hash.h"
#include "node/h32map.h"
#include "node/objects.h"

static void test_batch_digest_and_round_trip(void **state)
{
    (void)state;
    const uint8_t a[] = {1, 2, 3}, b[] = {0xff};
    cairn_log_leaf txs[2] = {{a, sizeof a}, {b, sizeof b}};
    uint8_t *env, digest[32], want[32], got[32];
    size_t len;
    assert_int_equal(cairn_batch_encode(txs, 2, &env, &len, digest), 0);
    /* TAG("CAIRN-BATCH-V1") || u32 2 || u32 3 || 01 02 03 || u32 1 || ff */
    cairn_buf pre = CAIRN_BUF_INIT;
    cairn_buf_tag(&pre, "CAIRN-BATCH-V1");
    cairn_buf_u32(&pre, 2);
    cairn_buf_u32(&pre, 3);
    cairn_buf_put(&pre, a, 3);
    cairn_buf_u32(&pre, 1);
    cairn_buf_put(&pre, b, 1);
    assert_int_equal(cairn_buf_finish(&pre), 0);
    cairn_sha256_oneshot(want, pre.p, pre.len);
    cairn_buf_free(&pre);
    assert_memory_equal(digest, want, 32);

    Cairn__V1__ConsensusEnvelope *e;
    assert_int_equal(cairn_batch_decode(env, len, &e, got), 0);
    assert_memory_equal(got, want, 32);
    assert_int_equal(e->batch->n_txs, 2);
    assert_int_equal(e->batch->txs[0].len, 3);
    assert_memory_equal(e->batch->txs[0].data, a, 3);
    assert_int_equal(e->batch->txs[1].data[0], 0xff);
    protobuf_c_message_free_unpacked(&e->base, NULL);

    /* Flip a byte of a transaction: the carried digest no longer matches. */
    size_t at = (size_t)((uint8_t *)memmem(env, len, a, 3) - env);
    env[at] ^= 1;
    assert_int_equal(cairn_batch_decode(env, len, &e, got), CAIRN_ECONS_BATCH);
    assert_null(e);
    env[at] ^= 1;
    /* Truncations never decode. */
    for (size_t l = 0; l < len; l++) assert_int_not_equal(cairn_batch_decode(env, l, &e, got), 0);
    free(env);

    assert_int_equal(cairn_batch_encode(txs, 0, &env, &len, digest), CAIRN_EINVAL);
}

static void test_batch_refusals(void **state)
{
    (void)state;
    uint8_t got[32], zero32[32] = {0};
    Cairn__V1__ConsensusEnvelope *e;
    /* An empty batch with a 32-byte digest: ECONS_BATCH. */
    Cairn__V1__TxBatch tb = CAIRN__V1__TX_BATCH__INIT;
    tb.digest = (ProtobufCBinaryData){32, zero32};
    Cairn__V1__ConsensusEnvelope env = CAIRN__V1__CONSENSUS_ENVELOPE__INIT;
    env.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_BATCH;
    env.batch = &tb;
    uint8_t buf[256];
    size_t n = cairn__v1__consensus_envelope__pack(&env, buf);
    assert_int_equal(cairn_batch_decode(buf, n, &e, got), CAIRN_ECONS_BATCH);
    /* A 31-byte digest. */
    tb.digest.len = 31;
    n = cairn__v1__consensus_envelope__pack(&env, buf);
    assert_int_equal(cairn_batch_decode(buf, n, &e, got), CAIRN_ECONS_WIRE_ID_LEN);
    /* Another kind of envelope. */
    uint8_t *p;
    size_t len;
    assert_int_equal(cairn_object_request_encode((const uint8_t(*)[32])zero32, 1, &p, &len), 0);
    assert_int_equal(cairn_batch_decode(p, len, &e, got), CAIRN_ECONS_WIRE_KIND);
    uint64_t t;
    uint8_t(*d)[32];
    uint32_t nd;
    assert_int_equal(cairn_payload_decode(p, len, &t, &d, &nd, got), CAIRN_ECONS_WIRE_KIND);
    free(p);
    /* Garbage and an unknown field (number 15, varint). */
    const uint8_t garbage[] = {0xff, 0xff, 0xff};
    assert_int_equal(cairn_batch_decode(garbage, sizeof garbage, &e, got), CAIRN_ECONS_WIRE_DECODE);
    const uint8_t unknown[] = {0x78, 0x01};
    assert_int_equal(cairn_batch_decode(unknown, sizeof unknown, &e, got), CAIRN_ECONS_WIRE_DECODE);
}

static void test_payload(void **state)
{
    (void)state;
    uint8_t d[3][32], digest[32], want[32], got[32];
    for (int i = 0; i < 3; i++) memset(d[i], 0x10 + i, 32);
    uint8_t *env;
    size_t len;
    assert_int_equal(cairn_payload_encode(1234567, (const uint8_t(*)[32])d, 3, &env, &len, digest),
                     0);
    cairn_buf pre = CAIRN_BUF_INIT;
    cairn_buf_tag(&pre, "CAIRN-BODY-V1");
    cairn_buf_u64(&pre, 1234567);
    cairn_buf_u32(&pre, 3);
    for (int i = 0; i < 3; i++) cairn_buf_put(&pre, d[i], 32);
    assert_int_equal(cairn_buf_finish(&pre), 0);
    cairn_sha256_oneshot(want, pre.p, pre.len);
    cairn_buf_free(&pre);
    assert_memory_equal(digest, want, 32);
    uint64_t t;
    uint8_t(*out)[32];
    uint32_t n;
    assert_int_equal(cairn_payload_decode(env, len, &t, &out, &n, got), 0);
    assert_int_equal(t, 1234567);
    assert_int_equal(n, 3);
    assert_memory_equal(out, d, sizeof d);
    assert_memory_equal(got, want, 32);
    free(out);
    free(env);
    /* A different time is a different payload. */
    assert_int_equal(cairn_payload_encode(1234568, (const uint8_t(*)[32])d, 3, &env, &len, got), 0);
    assert_memory_not_equal(got, want, 32);
    free(env);
    assert_int_equal(cairn_payload_encode(1, (const uint8_t(*)[32])d, 0, &env, &len, got),
                     CAIRN_EINVAL);
}

static void test_commit_vote(void **state)
{
    (void)state;
    cairn_commit_vote v = {.height = 77, .validator = 3}, w;
    memset(v.block_hash, 0xab, 32);
    memset(v.sig, 0xcd, 64);
    uint8_t *p;
    size_t len;
    assert_int_equal(cairn_commit_vote_encode(&v, &p, &len), 0);
    assert_int_equal(cairn_commit_vote_decode(p, len, &w), 0);
    assert_memory_equal(&v, &w, sizeof v);
    free(p);
    /* A 63-byte signature. */
    Cairn__V1__CommitVote cv = CAIRN__V1__COMMIT_VOTE__INIT;
    cv.block_hash = (ProtobufCBinaryData){32, v.block_hash};
    cv.signature = (ProtobufCBinaryData){63, v.sig};
    Cairn__V1__ConsensusEnvelope e = CAIRN__V1__CONSENSUS_ENVELOPE__INIT;
    e.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_COMMIT_VOTE;
    e.commit_vote = &cv;
    uint8_t buf[256];
    size_t n = cairn__v1__consensus_envelope__pack(&e, buf);
    assert_int_equal(cairn_commit_vote_decode(buf, n, &w), CAIRN_ECONS_MALFORMED);
}

static void test_commit_vote_request(void **state)
{
    (void)state;
    uint8_t *p;
    size_t len;
    uint64_t h;
    assert_int_equal(cairn_commit_vote_request_encode(123456789, &p, &len), 0);
    assert_int_equal(cairn_commit_vote_request_decode(p, len, &h), 0);
    assert_int_equal(h, 123456789);
    assert_int_equal(cairn_commit_vote_decode(p, len, &(cairn_commit_vote){0}),
                     CAIRN_ECONS_WIRE_KIND);
    free(p);
    assert_int_equal(cairn_commit_vote_request_encode(0, &p, &len), 0);
    assert_int_equal(cairn_commit_vote_request_decode(p, len, &h), CAIRN_ECONS_MALFORMED);
    free(p);
}

/* The map against a naive array under random puts and deletes. */
static void test_h32map_reference(void **state)
{
    (void)state;
    enum { KEYS = 3000 };
    static uint8_t keys[KEYS][32];
    static uint64_t ref[KEYS];
    static int present[KEYS];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < KEYS; i++) {
        for (int j = 0; j < 32; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            keys[i][j] = (uint8_t)x;
        }
        keys[i][0] = (uint8_t)(i & 7); /* cluster the home slots: long probe runs */
        memset(keys[i] + 1, 0, 7);
        keys[i][1] = (uint8_t)(i >> 3);
    }
    h32map m = {0};
    for (int step = 0; step < 60000; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int k = (int)(x % KEYS);
        if (x >> 40 & 1) {
            h32map_slot *s = NULL;
            int added = -1;
            assert_int_equal(h32map_put(&m, keys[k], (uint64_t)step, &s, &added), 0);
            assert_int_equal(added, !present[k]);
            if (added) ref[k] = (uint64_t)step;
            present[k] = 1;
            assert_int_equal(s->val, ref[k]);
        } else {
            assert_int_equal(h32map_del(&m, keys[k]), present[k]);
            present[k] = 0;
        }
        if (step % 5000 == 0) {
            size_t count = 0;
            for (int i = 0; i < KEYS; i++) {
                h32map_slot *s = h32map_find(&m, keys[i]);
                assert_int_equal(s != NULL, present[i]);
                if (s) assert_int_equal(s->val, ref[i]);
                count += (size_t)present[i];
            }
            assert_int_equal(m.n, count);
        }
    }
    h32map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_digest_and_round_trip),
        cmocka_unit_test(test_batch_refusals),
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_commit_vote),
        cmocka_unit_test(test_commit_vote_request),
        cmocka_unit_test(test_h32map_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
