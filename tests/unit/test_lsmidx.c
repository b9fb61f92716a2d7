/*
 * The log-structured index (ledger/lsmidx.h): exact lookups across many blocks and merges,
 * duplicates resolving to the smallest value, missing keys, tag filtering, aborted and failed
 * write transactions leaving nothing behind, reopening (filters and fences are stored, nothing
 * is rebuilt), views inside a write transaction, corrupt records, and a seeded property test
 * against a naive reference over thousands of blocks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger/bytes.h"
#include "ledger/hash.h"
#include "ledger/lsmidx.h"
#include "test_util.h"

typedef struct fx {
    char *dir;
    cairn_store *s;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f || !(f->dir = test_tmpdir())) return -1;
    if (cairn_store_open(&f->s, f->dir, NULL)) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    cairn_store_close(f->s);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void key_of(uint64_t i, uint8_t key[32])
{
    uint8_t b[8];
    cairn_put_u64be(b, i);
    cairn_sha256_oneshot(key, b, 8);
}

/* A record: key_of(k), value = u64be v (vlen 8). */
static void rec(uint8_t *out, uint64_t k, uint64_t v)
{
    key_of(k, out);
    cairn_put_u64be(out + 32, v);
}

static int append(cairn_store *s, const cairn_lsm_spec *spec, uint8_t *recs, size_t n, uint64_t tag)
{
    cairn_txn *t;
    int err = cairn_store_write_begin(s, &t);
    if (err) return err;
    if ((err = cairn_lsm_append(t, spec, recs, n, tag))) {
        cairn_txn_abort(t);
        return err;
    }
    return cairn_txn_commit(t);
}

/* Looks key_of(k) up in a read transaction; *v = the value. */
static int lookup(cairn_store *s, const cairn_lsm_spec *spec, uint64_t k, uint64_t min_tag,
                  uint64_t *v)
{
    cairn_txn *t;
    uint8_t key[32], val[8];
    int err = cairn_store_read_begin(s, &t);
    if (err) return err;
    key_of(k, key);
    err = cairn_lsm_get(t, spec, key, min_tag, val);
    cairn_txn_abort(t);
    if (!err) *v = cairn_get_u64be(val);
    return err;
}

static cairn_lsm_stats stats(cairn_store *s, const cairn_lsm_spec *spec)
{
    cairn_txn *t;
    cairn_lsm_stats st;
    assert_int_equal(cairn_store_read_begin(s, &t), 0);
    assert_int_equal(cairn_lsm_stats_get(t, spec, &st), 0);
    cairn_txn_abort(t);
    return st;
}

/* Small chunks and fanout 3, so a few hundred records already make many chunks and levels. */
static const cairn_lsm_spec SMALL = {.id = 'x', .vlen = 8, .fanout = 3, .chunk_size = 200};

static void test_lookups_across_merges(void **state)
{
    fx *f = *state;
    enum { BLOCKS = 250, PER = 37 };
    uint8_t recs[PER * 40];
    for (uint64_t b = 0; b < BLOCKS; b++) {
        for (uint64_t i = 0; i < PER; i++) rec(recs + i * 40, b * PER + i, 1000000 + b * PER + i);
        assert_int_equal(append(f->s, &SMALL, recs, PER, b + 1), 0);
    }
    cairn_lsm_stats st = stats(f->s, &SMALL);
    assert_int_equal(st.records, BLOCKS * PER);
    /* 250 in base 3 is 100021: 1 + 2 runs remain, at levels 0, 1 and 5. */
    assert_int_equal(st.runs, 4);
    assert_int_equal(st.levels, 6);
    for (uint64_t k = 0; k < BLOCKS * PER; k++) {
        uint64_t v = 0;
        assert_int_equal(lookup(f->s, &SMALL, k, 0, &v), 0);
        assert_int_equal(v, 1000000 + k);
    }
    for (uint64_t k = BLOCKS * PER; k < BLOCKS * PER + 2000; k++) {
        uint64_t v;
        assert_int_equal(lookup(f->s, &SMALL, k, 0, &v), CAIRN_ENOENT);
    }
    /* Another index in the same table is independent. */
    cairn_lsm_spec other = SMALL;
    other.id = 'y';
    uint64_t v;
    assert_int_equal(lookup(f->s, &other, 5, 0, &v), CAIRN_ENOENT);
    assert_int_equal(stats(f->s, &other).runs, 0);
}

static void test_duplicates_smallest_value(void **state)
{
    fx *f = *state;
    uint8_t recs[6 * 40];
    /* Within one block: three values of key 1, smallest in the middle. */
    rec(recs, 1, 50);
    rec(recs + 40, 1, 7);
    rec(recs + 80, 1, 90);
    rec(recs + 120, 2, 3);
    assert_int_equal(append(f->s, &SMALL, recs, 4, 1), 0);
    uint64_t v;
    assert_int_equal(lookup(f->s, &SMALL, 1, 0, &v), 0);
    assert_int_equal(v, 7);
    /* Later blocks: larger values do not win, a smaller one does; before and after merges. */
    for (uint64_t b = 2; b < 40; b++) {
        rec(recs, 1, 7 + b);
        rec(recs + 40, 2, b == 20 ? 1 : 100 + b);
        rec(recs + 80, 100 + b, b);
        assert_int_equal(append(f->s, &SMALL, recs, 3, b), 0);
        assert_int_equal(lookup(f->s, &SMALL, 1, 0, &v), 0);
        assert_int_equal(v, 7);
        assert_int_equal(lookup(f->s, &SMALL, 2, 0, &v), 0);
        assert_int_equal(v, b >= 20 ? 1 : 3);
    }
    /* Merges dropped the duplicates: 4 - 1 + 38 * 3 records at most, minus merged ones. */
    assert_true(stats(f->s, &SMALL).records < 3 + 38 * 3);
}

static void test_tags(void **state)
{
    fx *f = *state;
    const cairn_lsm_spec big = {.id = 'z', .vlen = 8, .fanout = 100};
    uint8_t r[40];
    for (uint64_t b = 1; b <= 10; b++) {
        rec(r, b, b);
        assert_int_equal(append(f->s, &big, r, 1, b * 10), 0);
    }
    uint64_t v;
    /* Runs wholly before min_tag are skipped; runs at or after it are searched. */
    assert_int_equal(lookup(f->s, &big, 3, 0, &v), 0);
    assert_int_equal(lookup(f->s, &big, 3, 30, &v), 0);
    assert_int_equal(lookup(f->s, &big, 3, 31, &v), CAIRN_ENOENT);
    assert_int_equal(lookup(f->s, &big, 10, 100, &v), 0);
    /* Tags may repeat but not go back. */
    rec(r, 11, 11);
    assert_int_equal(append(f->s, &big, r, 1, 100), 0);
    assert_int_equal(append(f->s, &big, r, 1, 99), CAIRN_EINVAL);
    /* Nothing to add writes nothing. */
    assert_int_equal(append(f->s, &big, r, 0, 1), 0);
    assert_int_equal(stats(f->s, &big).runs, 11);
    /* Bad specs. */
    cairn_lsm_spec bad = big;
    bad.vlen = 0;
    assert_int_equal(lookup(f->s, &bad, 1, 0, &v), CAIRN_EINVAL);
    bad.vlen = CAIRN_LSM_MAX_VLEN + 1;
    assert_int_equal(append(f->s, &bad, r, 1, 200), CAIRN_EINVAL);
    bad = big;
    bad.fanout = 1;
    assert_int_equal(append(f->s, &bad, r, 1, 200), CAIRN_EINVAL);
    bad = big;
    bad.chunk_size = 10;
    assert_int_equal(append(f->s, &bad, r, 1, 200), CAIRN_EINVAL);
    /* Appending in a read transaction is refused. */
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    assert_int_equal(cairn_lsm_append(t, &big, r, 1, 300), CAIRN_EINVAL);
    cairn_txn_abort(t);
}

static void test_abort_and_fault_leave_nothing(void **state)
{
    fx *f = *state;
    uint8_t recs[20 * 40];
    /* 8 committed blocks: 8 = 22 in base 3, two runs at level 1 and two at level 0. */
    for (uint64_t b = 0; b < 8; b++) {
        for (uint64_t i = 0; i < 20; i++) rec(recs + i * 40, b * 20 + i, b);
        assert_int_equal(append(f->s, &SMALL, recs, 20, b), 0);
    }
    cairn_lsm_stats before = stats(f->s, &SMALL);
    /* A transaction that appends (the 9th block cascades merges through two levels), reads its
     * own writes, writes another table, and is aborted: nothing of it is visible. */
    cairn_txn *t;
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    for (uint64_t i = 0; i < 20; i++) rec(recs + i * 40, 1000 + i, 1);
    assert_int_equal(cairn_lsm_append(t, &SMALL, recs, 20, 9), 0);
    cairn_lsm_reader r;
    uint8_t key[32], val[8];
    assert_int_equal(cairn_lsm_reader_open(&r, t, &SMALL, 0), 0);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_META, "junk", 4, "x", 1, 0), 0);
    key_of(1005, key);
    assert_int_equal(cairn_lsm_reader_get(&r, key, val), 0);
    assert_int_equal(cairn_get_u64be(val), 1);
    key_of(15, key);
    assert_int_equal(cairn_lsm_reader_get(&r, key, val), 0);
    cairn_lsm_reader_close(&r);
    assert_int_equal(cairn_lsm_stats_get(t, &SMALL, &(cairn_lsm_stats){0}), 0);
    cairn_txn_abort(t);
    uint64_t v;
    assert_int_equal(lookup(f->s, &SMALL, 1005, 0, &v), CAIRN_ENOENT);
    cairn_lsm_stats after = stats(f->s, &SMALL);
    assert_int_equal(after.runs, before.runs);
    assert_int_equal(after.records, before.records);
    /* A storage fault during an append (alone, or after another append in the same
     * transaction): the error is reported, the transaction is poisoned and aborted, and the
     * committed index is intact. */
    for (int nth = 0; nth < 2; nth++) {
        assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
        for (uint64_t i = 0; i < 20; i++) rec(recs + i * 40, 2000 + i, 1);
        if (nth > 0) {
            uint8_t r1[40];
            rec(r1, 3000, 1);
            assert_int_equal(cairn_lsm_append(t, &SMALL, r1, 1, 9), 0);
        }
        cairn_store_inject_fault(f->s, CAIRN_ESTORE_MAP_FULL);
        assert_int_equal(cairn_lsm_append(t, &SMALL, recs, 20, 9), CAIRN_ESTORE_MAP_FULL);
        cairn_store_inject_fault(f->s, 0);
        assert_int_equal(cairn_txn_commit(t), CAIRN_ETXN_POISONED);
    }
    /* Reopen and check the committed state. */
    cairn_store_close(f->s);
    assert_int_equal(cairn_store_open(&f->s, f->dir, NULL), 0);
    after = stats(f->s, &SMALL);
    assert_int_equal(after.runs, before.runs);
    assert_int_equal(after.records, before.records);
    for (uint64_t k = 0; k < 160; k++) {
        assert_int_equal(lookup(f->s, &SMALL, k, 0, &v), 0);
        assert_int_equal(v, k / 20);
    }
    assert_int_equal(lookup(f->s, &SMALL, 2005, 0, &v), CAIRN_ENOENT);
    assert_int_equal(lookup(f->s, &SMALL, 3000, 0, &v), CAIRN_ENOENT);
}

static void test_reopen(void **state)
{
    fx *f = *state;
    const cairn_lsm_spec spec = {.id = 'r', .vlen = 20}; /* the defaults, as the chain uses */
    uint8_t recs[1000 * 52];
    for (uint64_t b = 0; b < 20; b++) {
        for (uint64_t i = 0; i < 1000; i++) {
            key_of(b * 1000 + i, recs + i * 52);
            memset(recs + i * 52 + 32, (int)b, 20);
        }
        assert_int_equal(append(f->s, &spec, recs, 1000, b), 0);
    }
    cairn_store_close(f->s);
    assert_int_equal(cairn_store_open(&f->s, f->dir, NULL), 0);
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
    cairn_lsm_reader r;
    assert_int_equal(cairn_lsm_reader_open(&r, t, &spec, 0), 0);
    assert_int_equal(r.n, 2); /* 20 = 110 in base 4: runs of 16 and 4 blocks */
    uint8_t key[32], val[20], want[20];
    for (uint64_t k = 0; k < 20000; k++) {
        key_of(k, key);
        assert_int_equal(cairn_lsm_reader_get(&r, key, val), 0);
        memset(want, (int)(k / 1000), 20);
        assert_memory_equal(val, want, 20);
    }
    /* Absent keys: the Bloom filters answer almost all of them without reading a chunk; the
     * answer is exact either way. */
    for (uint64_t k = 20000; k < 40000; k++) {
        key_of(k, key);
        assert_int_equal(cairn_lsm_reader_get(&r, key, val), CAIRN_ENOENT);
    }
    cairn_lsm_reader_close(&r);
    cairn_txn_abort(t);
}

static void test_corrupt(void **state)
{
    fx *f = *state;
    uint8_t recs[3 * 40];
    for (uint64_t i = 0; i < 3; i++) rec(recs + i * 40, i, i);
    assert_int_equal(append(f->s, &SMALL, recs, 3, 1), 0);
    uint64_t v;
    cairn_txn *t;
    /* A directory of the wrong length. */
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_LSM, "xD", 2, "short", 5, 0), 0);
    assert_int_equal(cairn_txn_commit(t), 0);
    assert_int_equal(lookup(f->s, &SMALL, 1, 0, &v), CAIRN_ESTORE_CORRUPT);
    /* A directory naming a run that does not exist. */
    uint8_t d[12 + 33] = {0};
    cairn_put_u64be(d, 10);
    cairn_put_u32be(d + 8, 1);
    cairn_put_u64be(d + 12, 7);
    cairn_put_u64be(d + 21, 3);
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_LSM, "xD", 2, d, sizeof d, 0), 0);
    assert_int_equal(cairn_txn_commit(t), 0);
    assert_int_equal(lookup(f->s, &SMALL, 1, 0, &v), CAIRN_ESTORE_CORRUPT);
    /* Pointing it at the real run (id 1) works again; a damaged header does not. */
    cairn_put_u64be(d + 12, 1);
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_LSM, "xD", 2, d, sizeof d, 0), 0);
    assert_int_equal(cairn_txn_commit(t), 0);
    assert_int_equal(lookup(f->s, &SMALL, 1, 0, &v), 0);
    assert_int_equal(v, 1);
    uint8_t hk[10] = {'x', 'R', 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    assert_int_equal(
        cairn_txn_put(t, CAIRN_TABLE_LSM, hk, 10, "\x02garbage-header-garbage!!", 25, 0), 0);
    assert_int_equal(cairn_txn_commit(t), 0);
    assert_int_equal(lookup(f->s, &SMALL, 1, 0, &v), CAIRN_ESTORE_CORRUPT);
}

static void test_run_cap(void **state)
{
    fx *f = *state;
    /* Blocks of 10 records, fanout 2, runs of at most 40 records: 10+10 and 20+20 merge, two
     * runs of 40 would make 80 and stay apart. */
    const cairn_lsm_spec capped = {
        .id = 'c', .vlen = 8, .fanout = 2, .chunk_size = 200, .max_run_records = 40};
    uint8_t recs[10 * 40];
    for (uint64_t b = 0; b < 100; b++) {
        for (uint64_t i = 0; i < 10; i++) rec(recs + i * 40, b * 10 + i, b);
        assert_int_equal(append(f->s, &capped, recs, 10, b), 0);
    }
    cairn_lsm_stats st = stats(f->s, &capped);
    assert_int_equal(st.records, 1000);
    assert_int_equal(st.runs, 25);
    assert_int_equal(st.levels, 3);
    for (uint64_t k = 0; k < 1000; k++) {
        uint64_t v;
        assert_int_equal(lookup(f->s, &capped, k, 0, &v), 0);
        assert_int_equal(v, k / 10);
    }
    /* Runs that can never merge fill the directory: CAIRN_ENOSPC, not a broken store. */
    const cairn_lsm_spec single = {.id = 's', .vlen = 8, .max_run_records = 1};
    cairn_txn *t;
    assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
    uint64_t b = 0;
    for (; b < CAIRN_LSM_MAX_RUNS; b++) {
        rec(recs, b, b);
        assert_int_equal(cairn_lsm_append(t, &single, recs, 1, b), 0);
    }
    rec(recs, b, b);
    assert_int_equal(cairn_lsm_append(t, &single, recs, 1, b), CAIRN_ENOSPC);
    cairn_txn_abort(t);
}

/* Keys that are not uniform (shared prefixes, a skewed spread) cost more but stay exact: the
 * interpolated starting point of a search is only a hint. */
static void skewed_key(uint64_t i, int family, uint8_t key[32])
{
    key_of(i, key);
    if (family == 0) {
        memset(key, 0x42, 12); /* one shared 12-byte prefix */
    } else {
        uint64_t x = i * i * i * i; /* crowded at the low end */
        cairn_put_u64be(key, x);
    }
}

static void test_nonuniform_keys(void **state)
{
    fx *f = *state;
    for (int family = 0; family < 2; family++) {
        const cairn_lsm_spec spec = {
            .id = (uint8_t)('m' + family), .vlen = 8, .fanout = 3, .chunk_size = 400};
        uint8_t recs[50 * 40];
        for (uint64_t b = 0; b < 30; b++) {
            for (uint64_t i = 0; i < 50; i++) {
                uint64_t k = 2 * (i * 30 + b); /* even: stored; odd: absent */
                skewed_key(k, family, recs + i * 40);
                cairn_put_u64be(recs + i * 40 + 32, k);
            }
            assert_int_equal(append(f->s, &spec, recs, 50, b), 0);
        }
        cairn_txn *t;
        assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
        for (uint64_t k = 0; k < 3001; k++) {
            uint8_t key[32], val[8];
            skewed_key(k, family, key);
            int err = cairn_lsm_get(t, &spec, key, 0, val);
            if (k % 2 == 0 && k < 3000) {
                assert_int_equal(err, 0);
                assert_int_equal(cairn_get_u64be(val), k);
            } else {
                assert_int_equal(err, CAIRN_ENOENT);
            }
        }
        cairn_txn_abort(t);
    }
}

/* The reference: for each key of a pool, every (value, tag) ever added. */
typedef struct ref_entry {
    uint64_t min_all;
    int present;
    uint64_t *vals, *tags;
    size_t n, cap;
} ref_entry;

static void property_vs_reference(fx *f, const cairn_lsm_spec spec)
{
    test_rng rng = test_rng_seeded("lsmidx property");
    enum { POOL = 6000, BLOCKS = 3000, MAXPER = 24 };
    ref_entry *ref = calloc(POOL, sizeof *ref);
    assert_non_null(ref);
    uint8_t recs[MAXPER * 40];
    uint64_t total = 0;
    for (uint64_t b = 1; b <= BLOCKS;) {
        /* Sometimes several blocks in one transaction (views must then copy what this
         * transaction wrote). */
        cairn_txn *t;
        assert_int_equal(cairn_store_write_begin(f->s, &t), 0);
        int per_txn = (int)test_rng_below(&rng, 3) + 1;
        for (int j = 0; j < per_txn && b <= BLOCKS; j++, b++) {
            size_t n = (size_t)test_rng_below(&rng, MAXPER + 1);
            for (size_t i = 0; i < n; i++) {
                uint64_t k = test_rng_below(&rng, POOL), v = test_rng_below(&rng, 1000000);
                rec(recs + i * 40, k, v);
                ref_entry *e = &ref[k];
                if (e->n == e->cap) {
                    e->cap = e->cap ? e->cap * 2 : 4;
                    e->vals = realloc(e->vals, e->cap * sizeof *e->vals);
                    e->tags = realloc(e->tags, e->cap * sizeof *e->tags);
                    assert_true(e->vals && e->tags);
                }
                e->vals[e->n] = v;
                e->tags[e->n++] = b;
                if (!e->present || v < e->min_all) e->min_all = v;
                e->present = 1;
            }
            total += n;
            assert_int_equal(cairn_lsm_append(t, &spec, recs, n, b), 0);
        }
        assert_int_equal(cairn_txn_commit(t), 0);
        /* Lookups of random keys, present or not, without and with a tag bound. */
        cairn_lsm_reader r;
        assert_int_equal(cairn_store_read_begin(f->s, &t), 0);
        uint64_t last = b - 1;
        uint64_t min_tag = last > 200 ? last - test_rng_below(&rng, 200) : 0;
        assert_int_equal(cairn_lsm_reader_open(&r, t, &spec, 0), 0);
        cairn_lsm_reader rt;
        assert_int_equal(cairn_lsm_reader_open(&rt, t, &spec, min_tag), 0);
        for (int q = 0; q < 20; q++) {
            uint64_t k = test_rng_below(&rng, POOL + 500);
            uint8_t key[32], val[8];
            key_of(k, key);
            int err = cairn_lsm_reader_get(&r, key, val);
            if (k < POOL && ref[k].present) {
                assert_int_equal(err, 0);
                assert_int_equal(cairn_get_u64be(val), ref[k].min_all);
            } else {
                assert_int_equal(err, CAIRN_ENOENT);
            }
            /* With a tag bound: every record at or after min_tag is seen (so the answer is at
             * most their minimum); records before it may be seen too (a run spans tags). */
            err = cairn_lsm_reader_get(&rt, key, val);
            int must = 0;
            uint64_t min_recent = UINT64_MAX;
            for (size_t i = 0; k < POOL && i < ref[k].n; i++)
                if (ref[k].tags[i] >= min_tag) {
                    must = 1;
                    if (ref[k].vals[i] < min_recent) min_recent = ref[k].vals[i];
                }
            if (must) {
                assert_int_equal(err, 0);
                assert_true(cairn_get_u64be(val) <= min_recent);
                assert_true(cairn_get_u64be(val) >= ref[k].min_all);
            } else if (err == 0) {
                assert_true(cairn_get_u64be(val) >= ref[k].min_all);
            } else {
                assert_int_equal(err, CAIRN_ENOENT);
            }
        }
        cairn_lsm_reader_close(&rt);
        cairn_lsm_reader_close(&r);
        cairn_txn_abort(t);
    }
    /* Finally every key of the pool, after reopening. */
    cairn_store_close(f->s);
    assert_int_equal(cairn_store_open(&f->s, f->dir, NULL), 0);
    for (uint64_t k = 0; k < POOL; k++) {
        uint64_t v = 0;
        int err = lookup(f->s, &spec, k, 0, &v);
        if (ref[k].present) {
            assert_int_equal(err, 0);
            assert_int_equal(v, ref[k].min_all);
        } else {
            assert_int_equal(err, CAIRN_ENOENT);
        }
        free(ref[k].vals);
        free(ref[k].tags);
    }
    cairn_lsm_stats st = stats(f->s, &spec);
    assert_true(st.records <= total);
    size_t fan = spec.fanout ? spec.fanout : 4;
    if (!spec.max_run_records) assert_true(st.runs <= (fan - 1) * (size_t)st.levels);
    free(ref);
}

static void test_property_vs_reference(void **state)
{
    property_vs_reference(*state, (cairn_lsm_spec){.id = 'p', .vlen = 8, .chunk_size = 400});
}

/* The same with fanout 3 and runs capped at 150 records, which therefore accumulate. */
static void test_property_capped(void **state)
{
    property_vs_reference(
        *state, (cairn_lsm_spec){
                    .id = 'q', .vlen = 8, .fanout = 3, .chunk_size = 400, .max_run_records = 150});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lookups_across_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_smallest_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_and_fault_leave_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonuniform_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_property_vs_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_property_capped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
