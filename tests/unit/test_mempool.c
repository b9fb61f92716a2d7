/*
 * The node's mempool: bounded by count and bytes (a full pool refuses, it never grows), fair
 * shares per signer and per client, no duplicates, FIFO batches (several in flight), "pending"
 * from admission until released, and release of a transaction still queued (it was committed
 * through another validator's batch) drops it from the queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "node/mempool.h"

static void hash_of(uint8_t h[32], uint32_t i)
{
    memset(h, 0x5a, 32);
    memcpy(h, &i, sizeof i); /* the map hashes the first 8 bytes: keep them distinct */
}

static cairn_mempool *pool(size_t max_txs, size_t max_bytes, size_t per_signer, size_t per_client)
{
    cairn_mempool *mp;
    cairn_mempool_limits l = {max_txs, max_bytes, per_signer, per_client};
    assert_int_equal(cairn_mempool_new(&mp, &l), 0);
    return mp;
}

static void test_limits_and_duplicates(void **state)
{
    (void)state;
    cairn_mempool *mp = pool(3, 100, 0, 0);
    uint8_t h[32], tx[100] = {0};
    hash_of(h, 1);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 40, NULL, NULL), 0);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 40, NULL, NULL), CAIRN_EEXIST);
    hash_of(h, 2);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 61, NULL, NULL), CAIRN_EMEMPOOL_FULL);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 30, NULL, NULL), 0);
    hash_of(h, 3);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 30, NULL, NULL), 0); /* exactly 100 bytes */
    hash_of(h, 4);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 0, NULL, NULL), CAIRN_EMEMPOOL_FULL);
    assert_int_equal(cairn_mempool_size(mp), 3);
    assert_int_equal(cairn_mempool_pending(mp, h), 0);
    hash_of(h, 3);
    assert_int_equal(cairn_mempool_pending(mp, h), 1);
    cairn_mempool_free(mp);
}

static void test_fair_shares(void **state)
{
    (void)state;
    cairn_mempool *mp = pool(100, 1 << 20, 2, 3);
    uint8_t h[32], tx[8] = {0}, dev_a[32], dev_b[32], cl_x[32], cl_y[32];
    memset(dev_a, 0xa, 32), memset(dev_b, 0xb, 32), memset(cl_x, 0x1, 32), memset(cl_y, 0x2, 32);
    hash_of(h, 1);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 8, dev_a, cl_x), 0);
    hash_of(h, 2);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 8, dev_a, cl_x), 0);
    hash_of(h, 3); /* device a holds its share of 2 */
    assert_int_equal(cairn_mempool_add(mp, h, tx, 8, dev_a, cl_y), CAIRN_EMEMPOOL_FULL);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 8, dev_b, cl_x), 0);
    hash_of(h, 4); /* client x holds its share of 3 */
    assert_int_equal(cairn_mempool_add(mp, h, tx, 8, dev_b, cl_x), CAIRN_EMEMPOOL_FULL);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 8, dev_b, cl_y), 0);
    assert_int_equal(cairn_mempool_pending_count(mp), 4);
    /* Shares free up only when transactions are released, not when taken. */
    cairn_mempool_batch b;
    assert_int_equal(cairn_mempool_take(mp, 10, 1 << 20, &b), 0);
    assert_int_equal(b.n, 4);
    hash_of(h, 5);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 8, dev_a, cl_y), CAIRN_EMEMPOOL_FULL);
    cairn_mempool_release(mp, (const uint8_t(*)[32])b.hashes, 1); /* tx 1: dev a, client x */
    assert_int_equal(cairn_mempool_add(mp, h, tx, 8, dev_a, cl_y), 0);
    hash_of(h, 6);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 8, dev_b, cl_x), CAIRN_EMEMPOOL_FULL); /* dev b */
    assert_int_equal(cairn_mempool_pending_count(mp), 4);
    cairn_mempool_batch_free(&b);
    cairn_mempool_free(mp);
}

static void test_batches_in_order(void **state)
{
    (void)state;
    cairn_mempool *mp = pool(100, 1 << 20, 0, 0);
    uint8_t h[32], tx[16];
    for (uint32_t i = 1; i <= 5; i++) {
        hash_of(h, i);
        memset(tx, (int)i, sizeof tx);
        assert_int_equal(cairn_mempool_add(mp, h, tx, i, NULL, NULL), 0);
    }
    cairn_mempool_batch b, b2;
    assert_int_equal(cairn_mempool_take(mp, 3, 1 << 20, &b), 0);
    assert_int_equal(b.n, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(b.txs[i].len, i + 1);
        assert_int_equal(b.txs[i].data[0], i + 1);
        hash_of(h, i + 1);
        assert_memory_equal(b.hashes[i], h, 32);
    }
    assert_int_equal(cairn_mempool_size(mp), 2);
    hash_of(h, 2);
    assert_int_equal(cairn_mempool_pending(mp, h), 1); /* taken, not released */
    assert_int_equal(cairn_mempool_add(mp, h, tx, 2, NULL, NULL), CAIRN_EEXIST);
    /* A second batch while the first is out; the byte cap stops it after tx 4 (4 + 5 > 8). */
    assert_int_equal(cairn_mempool_take(mp, 10, 8, &b2), 0);
    assert_int_equal(b2.n, 1);
    assert_int_equal(b2.txs[0].len, 4);
    cairn_mempool_release(mp, (const uint8_t(*)[32])b.hashes, b.n);
    assert_int_equal(cairn_mempool_pending(mp, h), 0);
    assert_int_equal(cairn_mempool_pending_count(mp), 2);
    cairn_mempool_batch_free(&b);
    cairn_mempool_batch_free(&b2);
    /* A batch of at least one even if that one exceeds max_bytes. */
    assert_int_equal(cairn_mempool_take(mp, 10, 1, &b), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.txs[0].len, 5);
    cairn_mempool_batch_free(&b);
    assert_int_equal(cairn_mempool_take(mp, 10, 1, &b), 0);
    assert_int_equal(b.n, 0);
    cairn_mempool_batch_free(&b);
    cairn_mempool_free(mp);
}

static void test_release_while_queued(void **state)
{
    (void)state;
    cairn_mempool *mp = pool(100, 1 << 20, 0, 0);
    uint8_t h[3][32], tx[4] = {1, 2, 3, 4};
    for (uint32_t i = 0; i < 3; i++) {
        hash_of(h[i], i + 10);
        assert_int_equal(cairn_mempool_add(mp, h[i], tx, 4, NULL, NULL), 0);
    }
    cairn_mempool_release(mp, (const uint8_t(*)[32]) & h[0], 2); /* committed elsewhere */
    assert_int_equal(cairn_mempool_size(mp), 1);
    assert_int_equal(cairn_mempool_pending(mp, h[0]), 0);
    assert_int_equal(cairn_mempool_add(mp, h[0], tx, 4, NULL, NULL), 0); /* may come again */
    cairn_mempool_batch b;
    assert_int_equal(cairn_mempool_take(mp, 10, 1 << 20, &b), 0);
    assert_int_equal(b.n, 2);
    assert_memory_equal(b.hashes[0], h[2], 32);
    assert_memory_equal(b.hashes[1], h[0], 32);
    cairn_mempool_batch_free(&b);
    cairn_mempool_free(mp); /* taken entries never released: freed with the pool */
}

static void test_many(void **state)
{
    (void)state;
    enum { N = 20000 };
    cairn_mempool *mp = pool(N, (size_t)N * 8, 0, 0);
    uint8_t h[32], tx[8] = {0};
    for (uint32_t i = 0; i < N; i++) {
        hash_of(h, i * 2654435761u);
        assert_int_equal(cairn_mempool_add(mp, h, tx, 8, NULL, NULL), 0);
    }
    hash_of(h, 12345u * 2654435761u);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 8, NULL, NULL), CAIRN_EEXIST);
    size_t total = 0;
    for (;;) {
        cairn_mempool_batch b;
        assert_int_equal(cairn_mempool_take(mp, 777, 1 << 20, &b), 0);
        if (b.n == 0) {
            cairn_mempool_batch_free(&b);
            break;
        }
        total += b.n;
        cairn_mempool_release(mp, (const uint8_t(*)[32])b.hashes, b.n);
        cairn_mempool_batch_free(&b);
    }
    assert_int_equal(total, N);
    assert_int_equal(cairn_mempool_pending_count(mp), 0);
    cairn_mempool_free(mp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_and_duplicates),
        cmocka_unit_test(test_fair_shares),
        cmocka_unit_test(test_batches_in_order),
        cmocka_unit_test(test_release_while_queued),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
