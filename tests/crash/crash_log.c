/*
 * Crash safety of the Merkle log: a child process appends batches (one durable commit each) and
 * reports each committed size on a pipe; the parent kills it with SIGKILL at random moments.
 * After every kill the store must hold exactly a prefix of whole batches that includes every
 * acknowledged batch, every leaf must be intact, the root must recompute from the leaves, and
 * a new child must be able to continue appending.
 *
 * usage: crash_log [--kills N] [--seed S] [--dir DIR]      (parent)
 *        crash_log --child DIR                              (internal)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/log.h"
#include "merkle_ref.h"
#include "crash_util.h"
#include "test_util.h"

#define MAX_BATCH 400

/* Deterministic batch schedule: batch k has this many leaves. */
static uint64_t batch_len(uint64_t k)
{
    return 1 + (k * 7919 + 13) % MAX_BATCH;
}

static size_t leaf_bytes(uint64_t i, uint8_t buf[200])
{
    size_t len = 40 + (size_t)(i % 160);
    for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)(i ^ (i >> 8) ^ (k * 29));
    memcpy(buf, &i, sizeof i);
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
    uint64_t size;
    if (cairn_store_read_begin(s, &t) || cairn_log_size(t, &size)) return 1;
    cairn_txn_abort(t);
    uint64_t k = 0, b = 0;
    while (b < size) b += batch_len(k++);
    if (b != size) {
        fprintf(stderr, "child: size %llu is not a batch boundary\n", (unsigned long long)size);
        return 1;
    }
    static uint8_t bufs[MAX_BATCH][200];
    cairn_log_leaf leaves[MAX_BATCH];
    for (;; k++) {
        uint64_t n = batch_len(k);
        for (uint64_t j = 0; j < n; j++)
            leaves[j] = (cairn_log_leaf){bufs[j], leaf_bytes(size + j, bufs[j])};
        err = cairn_log_append_batch(s, leaves, n, &size);
        if (err) {
            fprintf(stderr, "child: append: %s\n", cairn_strerror(err));
            return 1;
        }
        /* Acknowledge only after the durable commit returned. */
        if (write(1, &size, sizeof size) != sizeof size) return 1;
    }
}

static int fail(const char *msg, unsigned long long a, unsigned long long b)
{
    fprintf(stderr, "crash_log: FAIL: %s (%llu, %llu)\n", msg, a, b);
    return 1;
}

/* Checks the store after a kill; returns 0 if it is exactly as required. */
static int verify(const char *dir, uint64_t acked, test_rng *rng, uint64_t *size_out)
{
    cairn_store *s;
    int err = cairn_store_open(&s, dir, NULL);
    if (err) return fail(cairn_strerror(err), 0, 0);
    cairn_txn *t;
    uint64_t size;
    if (cairn_store_read_begin(s, &t) || cairn_log_size(t, &size)) return fail("size", 0, 0);
    /* A prefix of whole batches, containing every acknowledged one and at most one more. */
    uint64_t k = 0, b = 0;
    while (b < size) b += batch_len(k++);
    if (b != size) return fail("size is not a batch boundary", size, b);
    if (size < acked) return fail("acknowledged leaves lost", size, acked);
    if (acked > 0 || size > 0) {
        uint64_t next = acked, kk = 0, bb = 0;
        while (bb < acked) bb += batch_len(kk++);
        next = bb + batch_len(kk);
        if (size > next) return fail("more than one unacknowledged batch", size, next);
    }
    hash_t *lh = malloc((size ? size : 1) * sizeof *lh);
    for (uint64_t i = 0; i < size; i++) {
        uint8_t want[200];
        size_t wl = leaf_bytes(i, want), gl;
        const uint8_t *got;
        if (cairn_log_leaf_get(t, i, &got, &gl) || gl != wl || memcmp(got, want, wl) != 0)
            return fail("leaf differs", i, gl);
        cairn_merkle_hash_leaf(lh[i], got, gl);
    }
    uint8_t want_root[32], got_root[32];
    ref_mth(lh, 0, size, want_root);
    if (cairn_log_root(t, size, got_root) || memcmp(want_root, got_root, 32) != 0)
        return fail("root does not recompute", size, 0);
    if (size > 0) {
        uint64_t m = test_rng_below(rng, size);
        uint8_t p[CAIRN_MERKLE_MAX_PROOF][32];
        size_t n;
        if (cairn_log_inclusion_proof(t, m, size, p, &n) ||
            cairn_merkle_verify_inclusion(lh[m], m, size, (const hash_t *)p, n, want_root))
            return fail("inclusion proof", m, size);
    }
    free(lh);
    cairn_txn_abort(t);
    cairn_store_close(s);
    *size_out = size;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0) return child(argv[2]);
    int kills = 25;
    const char *dir_arg = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--kills") == 0) kills = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--dir") == 0) dir_arg = argv[i + 1];
    }
    test_rng rng = test_rng_seeded("crash_log");
    char *dir = dir_arg ? strdup(dir_arg) : test_tmpdir();
    char store[600];
    snprintf(store, sizeof store, "%s/store", dir);

    uint64_t acked = 0, size = 0, mid_batch_kills = 0;
    for (int round = 0; round < kills; round++) {
        if (crash_round(argv[0], store, &rng, &acked) != 0)
            return fail("child did not die by SIGKILL (it exited early)", 0, 0);
        uint64_t before = size;
        if (verify(store, acked, &rng, &size) != 0) {
            fprintf(stderr, "crash_log: round %d, store kept in %s\n", round, dir);
            return 1;
        }
        if (size > acked) mid_batch_kills++;
        printf("round %2d: acked %8llu  on disk %8llu  (+%llu this round)\n", round,
               (unsigned long long)acked, (unsigned long long)size,
               (unsigned long long)(size - before));
        acked = size; /* what is on disk now is durable, acknowledged or not */
    }
    if (size == 0) return fail("no progress at all", 0, 0);
    printf("crash_log: %d kills, %llu leaves, %llu kills landed after a commit and before its "
           "ack: OK\n",
           kills, (unsigned long long)size, (unsigned long long)mid_batch_kills);
    if (!dir_arg) test_rmtree(dir);
    free(dir);
    return 0;
}
