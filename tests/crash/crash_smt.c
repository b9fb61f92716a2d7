/*
 * Crash safety of the state tree: a child process applies a deterministic schedule of batches
 * (one version and one durable commit each) and reports each committed version on a pipe; the
 * parent kills it with SIGKILL at random moments. After every kill the store must hold exactly
 * the versions 1..L, with L covering every acknowledged version and at most one more, every
 * version's root must equal the reference root of the schedule (recomputed naively from the
 * key set), reads and proofs at sampled versions must agree with the reference, and a new child
 * must be able to continue.
 *
 * usage: crash_smt [--kills N] [--dir DIR]      (parent)
 *        crash_smt --child DIR                  (internal)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/bytes.h"
#include "ledger/smt.h"
#include "crash_util.h"
#include "test_util.h"

#define POOL         1500
#define MAX_BATCH    200
#define MAX_VERSIONS 100000

/* Batch of version v (v >= 1): its length, and update j: key index, delete flag, value. */
static size_t batch_len(uint64_t v)
{
    return 1 + (size_t)(crash_mix(v) % MAX_BATCH);
}

static unsigned upd_key(uint64_t v, size_t j)
{
    return (unsigned)(crash_mix(v * 1000003u + j) % POOL);
}

static int upd_is_delete(uint64_t v, size_t j)
{
    return crash_mix(v * 7u + j * 13u + 5u) % 5 == 0;
}

static size_t upd_value(uint64_t v, size_t j, uint8_t buf[64])
{
    size_t len = (size_t)((v + j) % 48);
    for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)(crash_mix(v ^ (j << 20) ^ (k << 40)));
    return len;
}

static int child(const char *dir)
{
    cairn_store *s;
    int err = cairn_store_open(&s, dir, NULL);
    if (err) {
        fprintf(stderr, "child: open: %s\n", cairn_strerror(err));
        return 1;
    }
    cairn_txn *t;
    uint64_t v = 0;
    if (cairn_store_read_begin(s, &t)) return 1;
    err = cairn_smt_latest(t, &v);
    cairn_txn_abort(t);
    if (err && err != CAIRN_ENOENT) return 1;
    static cairn_smt_update ups[MAX_BATCH];
    static uint8_t vals[MAX_BATCH][64];
    for (v = v + 1;; v++) {
        size_t n = batch_len(v);
        for (size_t j = 0; j < n; j++) {
            crash_pool_key(upd_key(v, j), ups[j].key);
            int del = upd_is_delete(v, j);
            ups[j].len = del ? 0 : upd_value(v, j, vals[j]);
            ups[j].value = del ? NULL : vals[j];
        }
        if ((err = cairn_store_write_begin(s, &t)) != 0 ||
            (err = cairn_smt_apply(t, v, ups, n, NULL)) != 0 || (err = cairn_txn_commit(t)) != 0) {
            fprintf(stderr, "child: apply %llu: %s\n", (unsigned long long)v, cairn_strerror(err));
            return 1;
        }
        /* Acknowledge only after the durable commit returned. */
        if (write(1, &v, sizeof v) != sizeof v) return 1;
    }
}

/* The reference: the schedule replayed in memory, with each version's root remembered. */
typedef struct reference {
    uint8_t key[POOL][32];
    int len[POOL]; /* -1: absent */
    uint8_t val[POOL][64];
    uint64_t version; /* replayed up to here */
    uint8_t (*roots)[32];
} reference;

typedef struct item {
    uint8_t key[32], vh[32];
} item;

static unsigned bit_of(const uint8_t *k, unsigned i)
{
    return (unsigned)(k[i >> 3] >> (7 - (i & 7))) & 1u;
}

static void ref_root_at(const item *it, size_t m, unsigned b, uint8_t out[32])
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
    return memcmp(((const item *)a)->key, ((const item *)b)->key, 32);
}

/* Replays the schedule up to version `to`, recording roots. */
static void ref_advance(reference *r, uint64_t to)
{
    static item it[POOL];
    while (r->version < to) {
        uint64_t v = ++r->version;
        for (size_t j = 0; j < batch_len(v); j++) {
            unsigned k = upd_key(v, j);
            r->len[k] = upd_is_delete(v, j) ? -1 : (int)upd_value(v, j, r->val[k]);
        }
        size_t n = 0;
        for (unsigned k = 0; k < POOL; k++) {
            if (r->len[k] < 0) continue;
            memcpy(it[n].key, r->key[k], 32);
            cairn_smt_hash_value(it[n].vh, r->val[k], (size_t)r->len[k]);
            n++;
        }
        qsort(it, n, sizeof *it, item_cmp);
        ref_root_at(it, n, 0, r->roots[v]);
    }
}

static int fail(const char *msg, unsigned long long a, unsigned long long b)
{
    fprintf(stderr, "crash_smt: FAIL: %s (%llu, %llu)\n", msg, a, b);
    return 1;
}

/* Checks the store after a kill; returns 0 if it is exactly as required. */
static int verify(const char *dir, uint64_t acked, reference *ref, test_rng *rng, uint64_t *out)
{
    cairn_store *s;
    int err = cairn_store_open(&s, dir, NULL);
    if (err) return fail(cairn_strerror(err), 0, 0);
    cairn_txn *t;
    uint64_t latest = 0;
    if (cairn_store_read_begin(s, &t)) return fail("read", 0, 0);
    err = cairn_smt_latest(t, &latest);
    if (err && err != CAIRN_ENOENT) return fail("latest", (unsigned long long)-err, 0);
    if (latest < acked) return fail("acknowledged versions lost", latest, acked);
    if (latest > acked + 1) return fail("more than one unacknowledged version", latest, acked);
    if (latest >= MAX_VERSIONS) return fail("too many versions", latest, 0);
    ref_advance(ref, latest);
    uint8_t root[32];
    for (uint64_t v = 1; v <= latest; v++)
        if (cairn_smt_root(t, v, root) != 0 || memcmp(root, ref->roots[v], 32) != 0)
            return fail("root differs from the reference", v, latest);
    if (cairn_smt_root(t, latest + 1, root) != CAIRN_ESTATE_VERSION)
        return fail("a version beyond the latest", latest + 1, 0);
    /* Reads and proofs at the latest version, against the reference state. */
    for (int i = 0; i < 50 && latest > 0; i++) {
        unsigned k = (unsigned)test_rng_below(rng, POOL);
        const uint8_t *val;
        size_t len;
        uint8_t proof[CAIRN_SMT_MAX_PROOF];
        size_t plen;
        int rc = cairn_smt_get(t, latest, ref->key[k], &val, &len);
        if (ref->len[k] < 0 ? rc != CAIRN_ENOENT
                            : rc != 0 || len != (size_t)ref->len[k] ||
                                  (len && memcmp(val, ref->val[k], len) != 0))
            return fail("read differs from the reference", k, latest);
        if (cairn_smt_prove(t, latest, ref->key[k], proof, sizeof proof, &plen, NULL, NULL) != 0 ||
            cairn_smt_verify(ref->roots[latest], ref->key[k], ref->len[k] < 0 ? NULL : ref->val[k],
                             ref->len[k] < 0 ? 0 : (size_t)ref->len[k], proof, plen) != 0)
            return fail("proof does not verify", k, latest);
    }
    cairn_txn_abort(t);
    cairn_store_close(s);
    *out = latest;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0) return child(argv[2]);
    int kills = 20;
    const char *dir_arg = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--kills") == 0) kills = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--dir") == 0) dir_arg = argv[i + 1];
    }
    test_rng rng = test_rng_seeded("crash_smt");
    char *dir = dir_arg ? strdup(dir_arg) : test_tmpdir();
    char store[600];
    snprintf(store, sizeof store, "%s/store", dir);

    reference *ref = calloc(1, sizeof *ref);
    ref->roots = calloc(MAX_VERSIONS, sizeof *ref->roots);
    for (unsigned k = 0; k < POOL; k++) {
        crash_pool_key(k, ref->key[k]);
        ref->len[k] = -1;
    }
    uint64_t acked = 0, latest = 0, mid_kills = 0;
    for (int round = 0; round < kills; round++) {
        if (crash_round(argv[0], store, &rng, &acked) != 0)
            return fail("child did not die by SIGKILL (it exited early)", 0, 0);
        uint64_t before = latest;
        if (verify(store, acked, ref, &rng, &latest) != 0) {
            fprintf(stderr, "crash_smt: round %d, store kept in %s\n", round, dir);
            return 1;
        }
        if (latest > acked) mid_kills++;
        printf("round %2d: acked %6llu  on disk %6llu  (+%llu this round)\n", round,
               (unsigned long long)acked, (unsigned long long)latest,
               (unsigned long long)(latest - before));
        acked = latest; /* what is on disk now is durable, acknowledged or not */
    }
    if (latest == 0) return fail("no progress at all", 0, 0);
    printf("crash_smt: %d kills, %llu versions, %llu kills landed after a commit and before its "
           "ack: OK\n",
           kills, (unsigned long long)latest, (unsigned long long)mid_kills);
    if (!dir_arg) test_rmtree(dir);
    free(ref->roots);
    free(ref);
    free(dir);
    return 0;
}
