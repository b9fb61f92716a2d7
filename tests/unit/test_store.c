/*
 * The LMDB wrapper: creation and identity checks, refusal of foreign and newer stores,
 * poisoning, single writer, snapshot reads, map growth, and halting on storage faults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "ledger/store.h"
#include "test_util.h"

typedef struct fatal_log {
    int calls, last_err;
    char msg[256];
} fatal_log;

static void on_fatal(void *ctx, int err, const char *msg)
{
    fatal_log *f = ctx;
    f->calls++;
    f->last_err = err;
    snprintf(f->msg, sizeof f->msg, "%s", msg);
}

static int put_str(cairn_store *s, const char *k, const char *v)
{
    cairn_txn *t;
    int err = cairn_store_write_begin(s, &t);
    if (err) return err;
    err = cairn_txn_put(t, CAIRN_TABLE_META, k, strlen(k), v, strlen(v), 0);
    if (err) {
        cairn_txn_abort(t);
        return err;
    }
    return cairn_txn_commit(t);
}

static int get_str(cairn_store *s, const char *k, char *out, size_t cap)
{
    cairn_txn *t;
    int err = cairn_store_read_begin(s, &t);
    if (err) return err;
    const void *v;
    size_t len;
    err = cairn_txn_get(t, CAIRN_TABLE_META, k, strlen(k), &v, &len);
    if (!err) snprintf(out, cap, "%.*s", (int)len, (const char *)v);
    cairn_txn_abort(t);
    return err;
}

static void test_create_reopen(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char sub[600];
    snprintf(sub, sizeof sub, "%s/new", dir);
    cairn_store *s;
    assert_int_equal(cairn_store_open(&s, sub, NULL), 0);
    assert_int_equal(put_str(s, "k", "v1"), 0);
    cairn_store_close(s);
    assert_int_equal(cairn_store_open(&s, sub, NULL), 0);
    char buf[16];
    assert_int_equal(get_str(s, "k", buf, sizeof buf), 0);
    assert_string_equal(buf, "v1");
    assert_int_equal(get_str(s, "missing", buf, sizeof buf), CAIRN_ENOENT);
    cairn_store_close(s);
    /* Read-only: reads work, writes are refused. */
    cairn_store_options ro = {.read_only = 1};
    assert_int_equal(cairn_store_open(&s, sub, &ro), 0);
    assert_int_equal(get_str(s, "k", buf, sizeof buf), 0);
    cairn_txn *t;
    assert_int_equal(cairn_store_write_begin(s, &t), CAIRN_EACCES);
    cairn_store_close(s);
    /* Read-only open of a missing store does not create it. */
    snprintf(sub, sizeof sub, "%s/absent", dir);
    assert_int_equal(cairn_store_open(&s, sub, &ro), CAIRN_ENOENT);
    struct stat st;
    assert_int_not_equal(stat(sub, &st), 0);
    test_rmtree(dir);
    free(dir);
}

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void test_refuses_foreign(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char p[600], f[700];
    cairn_store *s = NULL;
    /* A directory with other files and no data.mdb. */
    snprintf(p, sizeof p, "%s/other", dir);
    mkdir(p, 0700);
    snprintf(f, sizeof f, "%s/notes.txt", p);
    write_file(f, "hello");
    assert_int_equal(cairn_store_open(&s, p, NULL), CAIRN_ESTORE_NOT_CAIRN);
    assert_null(s);
    /* A data.mdb that is not an LMDB file at all. */
    snprintf(p, sizeof p, "%s/garbage", dir);
    mkdir(p, 0700);
    snprintf(f, sizeof f, "%s/data.mdb", p);
    char junk[9000];
    memset(junk, 'x', sizeof junk - 1);
    junk[sizeof junk - 1] = 0;
    write_file(f, junk);
    assert_int_equal(cairn_store_open(&s, p, NULL), CAIRN_ESTORE_NOT_CAIRN);
    /* An empty data.mdb beside other files. */
    snprintf(p, sizeof p, "%s/empty", dir);
    mkdir(p, 0700);
    snprintf(f, sizeof f, "%s/data.mdb", p);
    write_file(f, "");
    char other[700];
    snprintf(other, sizeof other, "%s/README", p);
    write_file(other, "mine");
    assert_int_equal(cairn_store_open(&s, p, NULL), CAIRN_ESTORE_NOT_CAIRN);
    /* Alone, an empty data.mdb is what a crash during creation leaves: it is initialised. */
    unlink(other);
    assert_int_equal(cairn_store_open(&s, p, &(cairn_store_options){.read_only = 1}),
                     CAIRN_ESTORE_NOT_CAIRN);
    assert_int_equal(cairn_store_open(&s, p, NULL), 0);
    cairn_store_close(s);
    assert_int_equal(cairn_store_open(&s, p, NULL), 0);
    cairn_store_close(s);
    /* A regular file where the directory should be. */
    assert_int_equal(cairn_store_open(&s, f, NULL), CAIRN_ESTORE_NOT_CAIRN);
    /* A Cairn store whose identity record is gone. */
    snprintf(p, sizeof p, "%s/nomagic", dir);
    assert_int_equal(cairn_store_open(&s, p, NULL), 0);
    cairn_txn *t;
    assert_int_equal(cairn_store_write_begin(s, &t), 0);
    assert_int_equal(cairn_txn_del(t, CAIRN_TABLE_META, "magic", 5), 0);
    assert_int_equal(cairn_txn_commit(t), 0);
    cairn_store_close(s);
    assert_int_equal(cairn_store_open(&s, p, NULL), CAIRN_ESTORE_NOT_CAIRN);
    test_rmtree(dir);
    free(dir);
}

static void test_refuses_newer_version(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    cairn_store *s;
    assert_int_equal(cairn_store_open(&s, dir, NULL), 0);
    cairn_txn *t;
    uint8_t v[4];
    cairn_put_u32be(v, CAIRN_STORE_FORMAT_VERSION + 1);
    assert_int_equal(cairn_store_write_begin(s, &t), 0);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_META, "format", 6, v, 4, 0), 0);
    assert_int_equal(cairn_txn_commit(t), 0);
    cairn_store_close(s);
    s = NULL;
    assert_int_equal(cairn_store_open(&s, dir, NULL), CAIRN_ESTORE_VERSION);
    assert_null(s);
    /* Read-only opens refuse it as well. */
    assert_int_equal(cairn_store_open(&s, dir, &(cairn_store_options){.read_only = 1}),
                     CAIRN_ESTORE_VERSION);
    test_rmtree(dir);
    free(dir);
}

static void test_poison_and_single_writer(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    cairn_store *s;
    assert_int_equal(cairn_store_open(&s, dir, NULL), 0);
    cairn_txn *t, *t2;
    assert_int_equal(cairn_store_write_begin(s, &t), 0);
    assert_int_equal(cairn_store_write_begin(s, &t2), CAIRN_ETXN_BUSY);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_META, "a", 1, "1", 1, 0), 0);
    /* LMDB keys are limited to 511 bytes: this put fails and poisons the transaction. */
    char bigkey[600];
    memset(bigkey, 'k', sizeof bigkey);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_META, bigkey, sizeof bigkey, "x", 1, 0),
                     CAIRN_ETOOBIG);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_META, "b", 1, "2", 1, 0), CAIRN_ETXN_POISONED);
    const void *v;
    size_t len;
    assert_int_equal(cairn_txn_get(t, CAIRN_TABLE_META, "a", 1, &v, &len), CAIRN_ETXN_POISONED);
    assert_int_equal(cairn_txn_commit(t), CAIRN_ETXN_POISONED);
    /* Nothing of the poisoned transaction landed, and the writer slot is free again. */
    char buf[8];
    assert_int_equal(get_str(s, "a", buf, sizeof buf), CAIRN_ENOENT);
    assert_int_equal(put_str(s, "a", "ok"), 0);
    assert_int_equal(get_str(s, "a", buf, sizeof buf), 0);
    assert_string_equal(buf, "ok");
    /* A missing key on delete is reported but does not poison. */
    assert_int_equal(cairn_store_write_begin(s, &t), 0);
    assert_int_equal(cairn_txn_del(t, CAIRN_TABLE_META, "zz", 2), CAIRN_ENOENT);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_META, "c", 1, "3", 1, 0), 0);
    assert_int_equal(cairn_txn_commit(t), 0);
    assert_int_equal(get_str(s, "c", buf, sizeof buf), 0);
    /* Writes through a read transaction are refused. */
    assert_int_equal(cairn_store_read_begin(s, &t), 0);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_META, "d", 1, "4", 1, 0), CAIRN_EINVAL);
    cairn_txn_abort(t);
    cairn_store_close(s);
    test_rmtree(dir);
    free(dir);
}

static void test_table_written(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    cairn_store *s;
    cairn_txn *t;
    assert_int_equal(cairn_store_open(&s, dir, NULL), 0);
    assert_int_equal(cairn_store_write_begin(s, &t), 0);
    for (int i = 0; i < CAIRN_TABLE_COUNT; i++)
        assert_int_equal(cairn_txn_table_written(t, (cairn_table)i), 0);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_LSM, "k", 1, "v", 1, 0), 0);
    assert_int_equal(cairn_txn_del(t, CAIRN_TABLE_STREAMS, "absent", 6), CAIRN_ENOENT);
    void *p;
    assert_int_equal(cairn_txn_reserve(t, CAIRN_TABLE_BLOCKS, "r", 1, 4, &p), 0);
    memset(p, 0, 4);
    assert_int_equal(cairn_txn_table_written(t, CAIRN_TABLE_LSM), 1);
    assert_int_equal(cairn_txn_table_written(t, CAIRN_TABLE_STREAMS), 1);
    assert_int_equal(cairn_txn_table_written(t, CAIRN_TABLE_BLOCKS), 1);
    assert_int_equal(cairn_txn_table_written(t, CAIRN_TABLE_META), 0);
    assert_int_equal(cairn_txn_commit(t), 0);
    assert_int_equal(cairn_store_read_begin(s, &t), 0);
    assert_int_equal(cairn_txn_table_written(t, CAIRN_TABLE_LSM), 0);
    cairn_txn_abort(t);
    cairn_store_close(s);
    test_rmtree(dir);
    free(dir);
}

static void test_snapshot_reads(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    cairn_store *s;
    assert_int_equal(cairn_store_open(&s, dir, NULL), 0);
    assert_int_equal(put_str(s, "k", "old"), 0);
    cairn_txn *r1, *r2;
    assert_int_equal(cairn_store_read_begin(s, &r1), 0);
    assert_int_equal(put_str(s, "k", "new"), 0);
    assert_int_equal(cairn_store_read_begin(s, &r2), 0);
    const void *v;
    size_t len;
    assert_int_equal(cairn_txn_get(r1, CAIRN_TABLE_META, "k", 1, &v, &len), 0);
    assert_memory_equal(v, "old", 3);
    assert_int_equal(cairn_txn_get(r2, CAIRN_TABLE_META, "k", 1, &v, &len), 0);
    assert_memory_equal(v, "new", 3);
    cairn_txn_abort(r1);
    assert_int_equal(cairn_txn_commit(r2), 0); /* ending a read transaction */
    cairn_store_close(s);
    test_rmtree(dir);
    free(dir);
}

typedef struct fill_args {
    int round;
    size_t bytes;
} fill_args;

static int fill(cairn_txn *t, void *arg)
{
    fill_args *a = arg;
    static uint8_t blob[64 * 1024];
    for (size_t off = 0; off < a->bytes; off += sizeof blob) {
        uint8_t key[12];
        cairn_put_u32be(key, (uint32_t)a->round);
        cairn_put_u64be(key + 4, off);
        int err = cairn_txn_put(t, CAIRN_TABLE_META, key, sizeof key, blob, sizeof blob, 0);
        if (err) return err;
    }
    return 0;
}

static void test_map_growth_and_full(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    fatal_log fl = {0};
    cairn_store_options o = {.initial_map_size = 1 << 20,
                             .max_map_size = 64 << 20,
                             .on_fatal = on_fatal,
                             .fatal_ctx = &fl};
    cairn_store *s;
    assert_int_equal(cairn_store_open(&s, dir, &o), 0);
    size_t map0, used;
    cairn_store_usage(s, &map0, &used);
    assert_int_equal(map0, 1 << 20);
    /* 2 MiB in one transaction: the first attempt fills the 1 MiB map, the retry succeeds. */
    for (int r = 0; r < 8; r++) {
        fill_args a = {r, 2 << 20};
        assert_int_equal(cairn_store_write(s, fill, &a), 0);
    }
    size_t map1;
    cairn_store_usage(s, &map1, &used);
    assert_true(map1 > map0);
    assert_true(used >= (size_t)16 << 20);
    assert_int_equal(fl.calls, 0);
    /* Beyond the maximum: the store halts and says so, once. */
    fill_args big = {100, 80 << 20};
    assert_int_equal(cairn_store_write(s, fill, &big), CAIRN_ESTORE_HALTED);
    assert_int_equal(cairn_store_halted(s), CAIRN_ESTORE_MAP_FULL);
    assert_int_equal(fl.calls, 1);
    cairn_txn *t;
    assert_int_equal(cairn_store_read_begin(s, &t), CAIRN_ESTORE_HALTED);
    assert_int_equal(fl.calls, 1);
    cairn_store_close(s);
    /* Everything committed before the halt is intact. */
    assert_int_equal(cairn_store_open(&s, dir, &o), 0);
    assert_int_equal(cairn_store_read_begin(s, &t), 0);
    uint8_t key[12];
    cairn_put_u32be(key, 7);
    cairn_put_u64be(key + 4, 0);
    const void *v;
    size_t len;
    assert_int_equal(cairn_txn_get(t, CAIRN_TABLE_META, key, 12, &v, &len), 0);
    assert_int_equal(len, 64 * 1024);
    cairn_txn_abort(t);
    cairn_store_close(s);
    test_rmtree(dir);
    free(dir);
}

static void test_faults_halt(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    fatal_log fl = {0};
    cairn_store_options o = {.on_fatal = on_fatal, .fatal_ctx = &fl};
    cairn_store *s;
    assert_int_equal(cairn_store_open(&s, dir, &o), 0);
    assert_int_equal(put_str(s, "k", "v"), 0);

    /* Corruption seen by a reader halts the store. */
    cairn_store_inject_fault(s, CAIRN_ESTORE_CORRUPT);
    char buf[8];
    assert_int_equal(get_str(s, "k", buf, sizeof buf), CAIRN_ESTORE_HALTED);
    assert_int_equal(cairn_store_halted(s), CAIRN_ESTORE_CORRUPT);
    assert_int_equal(fl.calls, 1);
    assert_non_null(strstr(fl.msg, "get"));
    assert_int_equal(put_str(s, "k2", "v"), CAIRN_ESTORE_HALTED);
    cairn_store_close(s);

    /* An I/O error at commit halts too, and the batch is not applied. */
    assert_int_equal(cairn_store_open(&s, dir, &o), 0);
    cairn_txn *t;
    assert_int_equal(cairn_store_write_begin(s, &t), 0);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_META, "k3", 2, "v", 1, 0), 0);
    cairn_store_inject_fault(s, CAIRN_EIO);
    assert_int_equal(cairn_txn_commit(t), CAIRN_ESTORE_HALTED);
    assert_int_equal(cairn_store_halted(s), CAIRN_EIO);
    assert_int_equal(fl.calls, 2);
    cairn_store_close(s);
    assert_int_equal(cairn_store_open(&s, dir, &o), 0);
    assert_int_equal(get_str(s, "k3", buf, sizeof buf), CAIRN_ENOENT);
    assert_int_equal(get_str(s, "k", buf, sizeof buf), 0);
    /* A map-full fault inside a write poisons the transaction without halting. */
    assert_int_equal(cairn_store_write_begin(s, &t), 0);
    cairn_store_inject_fault(s, CAIRN_ESTORE_MAP_FULL);
    assert_int_equal(cairn_txn_put(t, CAIRN_TABLE_META, "k4", 2, "v", 1, 0), CAIRN_ESTORE_MAP_FULL);
    assert_int_equal(cairn_txn_commit(t), CAIRN_ETXN_POISONED);
    assert_int_equal(cairn_store_halted(s), 0);
    cairn_store_close(s);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_reopen),
        cmocka_unit_test(test_refuses_foreign),
        cmocka_unit_test(test_refuses_newer_version),
        cmocka_unit_test(test_poison_and_single_writer),
        cmocka_unit_test(test_snapshot_reads),
        cmocka_unit_test(test_table_written),
        cmocka_unit_test(test_map_growth_and_full),
        cmocka_unit_test(test_faults_halt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
