/*
 * The node's mempool: bounded by count and bytes (a full pool refuses, it never grows), no
 * duplicates, FIFO batches, and "pending" from admission until the batch's block is done.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "node/mempool.h"

static void hash_of(uint8_t h[32], uint8_t i)
{
    memset(h, i, 32);
}

static void test_limits_and_duplicates(void **state)
{
    (void)state;
    cairn_mempool *mp;
    assert_int_equal(cairn_mempool_new(&mp, 3, 100), 0);
    uint8_t h[32], tx[64] = {0};
    hash_of(h, 1);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 40), 0);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 40), CAIRN_EEXIST);
    hash_of(h, 2);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 61),
                     CAIRN_EMEMPOOL_FULL); /* 40 + 61 > 100 bytes */
    assert_int_equal(cairn_mempool_add(mp, h, tx, 30), 0);
    hash_of(h, 3);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 30), 0); /* exactly 100 bytes */
    hash_of(h, 4);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 0), CAIRN_EMEMPOOL_FULL); /* 3 transactions */
    assert_int_equal(cairn_mempool_size(mp), 3);
    assert_int_equal(cairn_mempool_pending(mp, h), 0);
    hash_of(h, 2);
    assert_int_equal(cairn_mempool_pending(mp, h), 1);
    cairn_mempool_free(mp);
}

static void test_batches_in_order(void **state)
{
    (void)state;
    cairn_mempool *mp;
    assert_int_equal(cairn_mempool_new(&mp, 100, 1 << 20), 0);
    uint8_t h[32], tx[8];
    for (uint8_t i = 1; i <= 5; i++) {
        hash_of(h, i);
        memset(tx, i, sizeof tx);
        assert_int_equal(cairn_mempool_add(mp, h, tx, i), 0);
    }
    cairn_mempool_batch b;
    assert_int_equal(cairn_mempool_take(mp, 3, &b), 0);
    assert_int_equal(b.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(b.txs[i].len, i + 1); /* oldest first, bytes copied */
        assert_int_equal(b.txs[i].data[0], i + 1);
        assert_int_equal(b.hashes[i][0], i + 1);
    }
    /* Taken but not done: still pending, no longer queued; a duplicate is still refused. */
    assert_int_equal(cairn_mempool_size(mp), 2);
    hash_of(h, 2);
    assert_int_equal(cairn_mempool_pending(mp, h), 1);
    assert_int_equal(cairn_mempool_add(mp, h, tx, 2), CAIRN_EEXIST);
    cairn_mempool_done(mp, &b);
    assert_int_equal(cairn_mempool_pending(mp, h), 0);
    /* The rest come next, in order; the freed space is usable again. */
    assert_int_equal(cairn_mempool_take(mp, 10, &b), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.hashes[0][0], 4);
    assert_int_equal(b.hashes[1][0], 5);
    cairn_mempool_done(mp, &b);
    assert_int_equal(cairn_mempool_size(mp), 0);
    assert_int_equal(cairn_mempool_take(mp, 10, &b), 0);
    assert_int_equal(b.n, 0);
    cairn_mempool_done(mp, &b);
    cairn_mempool_free(mp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_and_duplicates),
        cmocka_unit_test(test_batches_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
