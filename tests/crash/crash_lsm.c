/*
 * Crash safety of the log-structured index (ledger/lsmidx.h): a child process appends a
 * deterministic schedule of blocks (one run, its cascade of merges and a block counter in one
 * durable commit each) and reports each committed block on a pipe; the parent kills it with
 * SIGKILL at random moments. After every kill the store must hold exactly the blocks 1..L, with
 * L covering every acknowledged block and at most one more, and every key of the pool must look
 * up to the smallest value the schedule gave it up to L (or be absent); then a new child goes on.
 * Small chunks and fanout 3 make merges of several levels frequent, so kills land in them too.
 *
 * usage: crash_lsm [--kills N] [--dir DIR]      (parent)
 *        crash_lsm --child DIR                  (internal)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/bytes.h"
#include "ledger/hash.h"
#include "ledger/lsmidx.h"
#include "crash_util.h"
#include "test_util.h"

#define POOL      4000
#define MAX_BLOCK 300
#define REC       40

static const cairn_lsm_spec SPEC = {.id = 'k', .vlen = 8, .fanout = 3, .chunk_size = 2000};
static const char COUNTER[] = "crash.block";

/* Block b (b >= 1): its size, and record j's key index and value. */
static size_t block_len(uint64_t b)
{
    return 1 + (size_t)(crash_mix(b) % MAX_BLOCK);
}

static unsigned rec_key(uint64_t b, size_t j)
{
    return (unsigned)(crash_mix(b * 1000003u + j) % POOL);
}

static uint64_t rec_value(uint64_t b, size_t j)
{
    return crash_mix(b * 7919u + j) % 1000000000u;
}

static int read_counter(cairn_txn *t, uint64_t *b)
{
    const void *v;
    size_t len;
    int err = cairn_txn_get(t, CAIRN_TABLE_META, COUNTER, sizeof COUNTER - 1, &v, &len);
    if (err == CAIRN_ENOENT) {
        *b = 0;
        return 0;
    }
    if (err) return err;
    if (len != 8) return CAIRN_ESTORE_CORRUPT;
    *b = cairn_get_u64be(v);
    return 0;
}

static int child(const char *dir)
{
    cairn_store *s;
    cairn_txn *t;
    uint64_t b;
    if (cairn_store_open(&s, dir, NULL) || cairn_store_read_begin(s, &t)) return 1;
    int err = read_counter(t, &b);
    cairn_txn_abort(t);
    if (err) return 1;
    static uint8_t recs[MAX_BLOCK * REC];
    for (b = b + 1;; b++) {
        size_t n = block_len(b);
        for (size_t j = 0; j < n; j++) {
            crash_pool_key(rec_key(b, j), recs + j * REC);
            cairn_put_u64be(recs + j * REC + 32, rec_value(b, j));
        }
        uint8_t cb[8];
        cairn_put_u64be(cb, b);
        if ((err = cairn_store_write_begin(s, &t)) != 0) return 1;
        if ((err = cairn_lsm_append(t, &SPEC, recs, n, b)) != 0 ||
            (err = cairn_txn_put(t, CAIRN_TABLE_META, COUNTER, sizeof COUNTER - 1, cb, 8, 0)) !=
                0) {
            cairn_txn_abort(t);
            fprintf(stderr, "child: block %llu: %s\n", (unsigned long long)b, cairn_strerror(err));
            return 1;
        }
        if ((err = cairn_txn_commit(t)) != 0) return 1;
        /* Acknowledge only after the durable commit returned. */
        if (write(1, &b, sizeof b) != sizeof b) return 1;
    }
}

/* The reference: the smallest value of every pool key over blocks 1..block. */
typedef struct reference {
    uint64_t min[POOL];
    int present[POOL];
    uint64_t block;
} reference;

static void ref_advance(reference *r, uint64_t to)
{
    while (r->block < to) {
        uint64_t b = ++r->block;
        for (size_t j = 0; j < block_len(b); j++) {
            unsigned k = rec_key(b, j);
            uint64_t v = rec_value(b, j);
            if (!r->present[k] || v < r->min[k]) r->min[k] = v;
            r->present[k] = 1;
        }
    }
}

static int fail(const char *msg, unsigned long long a, unsigned long long b)
{
    fprintf(stderr, "crash_lsm: FAIL: %s (%llu, %llu)\n", msg, a, b);
    return 1;
}

static int verify(const char *dir, uint64_t acked, reference *ref, uint64_t *out)
{
    cairn_store *s;
    cairn_txn *t;
    int err = cairn_store_open(&s, dir, NULL);
    if (err) return fail(cairn_strerror(err), 0, 0);
    if (cairn_store_read_begin(s, &t)) return fail("read", 0, 0);
    uint64_t latest;
    if ((err = read_counter(t, &latest))) return fail("counter", (unsigned long long)-err, 0);
    if (latest < acked) return fail("acknowledged blocks lost", latest, acked);
    if (latest > acked + 1) return fail("more than one unacknowledged block", latest, acked);
    ref_advance(ref, latest);
    cairn_lsm_reader *r = malloc(sizeof *r);
    if (!r || cairn_lsm_reader_open(r, t, &SPEC, 0)) return fail("view", 0, 0);
    for (unsigned k = 0; k < POOL; k++) {
        uint8_t key[32], val[8];
        crash_pool_key(k, key);
        int rc = cairn_lsm_reader_get(r, key, val);
        if (ref->present[k] ? rc != 0 || cairn_get_u64be(val) != ref->min[k] : rc != CAIRN_ENOENT)
            return fail("lookup differs from the reference", k, latest);
    }
    if (latest > 0 && (r->n == 0 || r->runs[r->n - 1].max_tag != latest))
        return fail("newest run is not the newest block", r->n, latest);
    cairn_lsm_reader_close(r);
    free(r);
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
    test_rng rng = test_rng_seeded("crash_lsm");
    char *dir = dir_arg ? strdup(dir_arg) : test_tmpdir();
    char store[600];
    snprintf(store, sizeof store, "%s/store", dir);
    reference *ref = calloc(1, sizeof *ref);
    if (!dir || !ref) return fail("out of memory", 0, 0);
    uint64_t acked = 0, latest = 0, mid_kills = 0;
    for (int round = 0; round < kills; round++) {
        if (crash_round(argv[0], store, &rng, &acked) != 0)
            return fail("child did not die by SIGKILL (it exited early)", 0, 0);
        uint64_t before = latest;
        if (verify(store, acked, ref, &latest) != 0) {
            fprintf(stderr, "crash_lsm: round %d, store kept in %s\n", round, dir);
            return 1;
        }
        if (latest > acked) mid_kills++;
        printf("round %2d: acked %6llu  on disk %6llu  (+%llu this round)\n", round,
               (unsigned long long)acked, (unsigned long long)latest,
               (unsigned long long)(latest - before));
        acked = latest; /* what is on disk now is durable, acknowledged or not */
    }
    if (latest == 0) return fail("no progress at all", 0, 0);
    printf("crash_lsm: %d kills, %llu blocks, %llu kills landed after a commit and before its "
           "ack: OK\n",
           kills, (unsigned long long)latest, (unsigned long long)mid_kills);
    if (!dir_arg) test_rmtree(dir);
    free(ref);
    free(dir);
    return 0;
}
