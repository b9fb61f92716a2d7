/*
 * cairn-bench log — durable Merkle log appends and proof serving.
 *
 *   cairn-bench log [--leaves N] [--batch B] [--proofs P] [--leaf-bytes L] [--dir DIR]
 *
 * Appends N leaves of L bytes (default 200) in durable batches of B (one LMDB commit with fsync
 * each), then serves P random inclusion proofs (index < N, tree size N) and P consistency proofs
 * (random first, second N), each in its own read transaction, on one core. Measured in the same
 * run: the cost of one SHA-256 node hash (the floor) and the bytes on disk per leaf beyond the
 * leaf itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ledger/log.h"
#include "tools/bench.h"
#include "tools/cli_util.h"

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int bench_log(int argc, char **argv)
{
    uint64_t leaves = 1000000, batch = 1000, proofs = 200000, leaf_bytes = 200;
    const char *dir = NULL;
    for (int i = 0; i + 1 < argc; i += 2) {
        uint64_t *dst = strcmp(argv[i], "--leaves") == 0       ? &leaves
                        : strcmp(argv[i], "--batch") == 0      ? &batch
                        : strcmp(argv[i], "--proofs") == 0     ? &proofs
                        : strcmp(argv[i], "--leaf-bytes") == 0 ? &leaf_bytes
                                                               : NULL;
        if (strcmp(argv[i], "--dir") == 0) {
            dir = argv[i + 1];
        } else if (!dst || cli_parse_u64(argv[i + 1], dst) != 0) {
            fprintf(stderr, "cairn-bench log: bad option %s\n", argv[i]);
            return 2;
        }
    }
    if (batch == 0 || leaves == 0 || leaf_bytes > 4096) {
        fprintf(stderr,
                "cairn-bench log: --leaves and --batch must be positive, --leaf-bytes <= 4096\n");
        return 2;
    }
    char tmpl[] = "/tmp/cairn-bench-log-XXXXXX";
    char path[512];
    if (!dir) {
        if (!mkdtemp(tmpl)) return 3;
        snprintf(path, sizeof path, "%s/store", tmpl);
    } else {
        snprintf(path, sizeof path, "%s", dir);
    }

    /* The floor: one RFC 9162 interior node hash. */
    uint8_t a[32] = {1}, b[32] = {2};
    const int hashes = 2000000;
    double t0 = bench_now();
    for (int i = 0; i < hashes; i++) cairn_merkle_hash_children(a, a, b);
    double ns_per_hash = (bench_now() - t0) / hashes * 1e9;
    uint8_t leaf[4096];
    memset(leaf, 0xab, sizeof leaf);
    t0 = bench_now();
    for (int i = 0; i < hashes; i++) cairn_merkle_hash_leaf(a, leaf, (size_t)leaf_bytes);
    double ns_per_leaf_hash = (bench_now() - t0) / hashes * 1e9;

    cairn_store *s;
    int err = cairn_store_open(&s, path, NULL);
    if (err) return cli_fail(err, path);

    /* Appends. */
    cairn_log_leaf *ls = malloc(batch * sizeof *ls);
    uint8_t *buf = malloc(batch * leaf_bytes + 1);
    uint64_t size = 0;
    t0 = bench_now();
    while (size < leaves && !err) {
        uint64_t n = leaves - size < batch ? leaves - size : batch;
        for (uint64_t i = 0; i < n; i++) {
            uint8_t *p = buf + i * leaf_bytes;
            memset(p, (int)(size + i), (size_t)leaf_bytes);
            if (leaf_bytes >= 8) memcpy(p, &(uint64_t){size + i}, 8);
            ls[i] = (cairn_log_leaf){p, (size_t)leaf_bytes};
        }
        err = cairn_log_append_batch(s, ls, (size_t)n, &size);
    }
    double append_s = bench_now() - t0;
    free(ls);
    free(buf);
    if (err) return cli_fail(err, "append");

    size_t map, used;
    cairn_store_usage(s, &map, &used);
    char data_path[600];
    snprintf(data_path, sizeof data_path, "%s/data.mdb", path);
    struct stat st;
    double file_bytes = stat(data_path, &st) == 0 ? (double)st.st_blocks * 512.0 : 0;
    double overhead = ((double)used - (double)leaves * (double)leaf_bytes) / (double)leaves;

    /* Inclusion proofs, one read transaction each. */
    uint64_t rs = 0x9e3779b97f4a7c15ULL;
    uint8_t p[CAIRN_MERKLE_MAX_PROOF][CAIRN_HASH_LEN], root[CAIRN_HASH_LEN];
    size_t np;
    cairn_txn *t;
    if ((err = cairn_store_read_begin(s, &t)) != 0 || (err = cairn_log_root(t, size, root)) != 0)
        return cli_fail(err, "root");
    cairn_txn_abort(t);
    size_t proof_hashes = 0;
    t0 = bench_now();
    for (uint64_t i = 0; i < proofs && !err; i++) {
        uint64_t m = rng_next(&rs) % size;
        err = cairn_store_read_begin(s, &t);
        if (!err) err = cairn_log_inclusion_proof(t, m, size, p, &np);
        cairn_txn_abort(t);
        proof_hashes += np;
    }
    double incl_s = bench_now() - t0;
    if (err) return cli_fail(err, "inclusion proof");

    t0 = bench_now();
    for (uint64_t i = 0; i < proofs && !err; i++) {
        uint64_t m = 1 + rng_next(&rs) % size;
        err = cairn_store_read_begin(s, &t);
        if (!err) err = cairn_log_consistency_proof(t, m, size, p, &np);
        cairn_txn_abort(t);
    }
    double cons_s = bench_now() - t0;
    if (err) return cli_fail(err, "consistency proof");

    /* Sanity: the last inclusion proof of leaf 0 verifies against the root. */
    if (cairn_store_read_begin(s, &t) == 0) {
        const uint8_t *l0;
        size_t l0len;
        uint8_t lh[32];
        if (cairn_log_inclusion_proof(t, 0, size, p, &np) == 0 &&
            cairn_log_leaf_get(t, 0, &l0, &l0len) == 0) {
            cairn_merkle_hash_leaf(lh, l0, l0len);
            if (cairn_merkle_verify_inclusion(lh, 0, size, (const uint8_t(*)[32])p, np, root) !=
                0) {
                fprintf(stderr, "cairn-bench log: proof did not verify\n");
                return 1;
            }
        }
        cairn_txn_abort(t);
    }
    cairn_store_close(s);
    if (!dir) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpl);
    }

    double append_per_s = (double)leaves / append_s;
    double incl_per_s = (double)proofs / incl_s, cons_per_s = (double)proofs / cons_s;
    printf("Merkle log: %llu leaves of %llu bytes, batches of %llu (durable commits)\n",
           (unsigned long long)leaves, (unsigned long long)leaf_bytes, (unsigned long long)batch);
    printf("  %-34s %14.1f ns\n", "SHA-256 node hash (floor)", ns_per_hash);
    printf("  %-34s %14.1f ns\n", "SHA-256 leaf hash", ns_per_leaf_hash);
    printf("  %-34s %14.0f leaves/s  (%.2f s)\n", "append, durable", append_per_s, append_s);
    printf("  %-34s %14.0f proofs/s  (%.2f hashes each)\n", "inclusion proof, 1 core", incl_per_s,
           (double)proof_hashes / (double)proofs);
    printf("  %-34s %14.0f proofs/s\n", "consistency proof, 1 core", cons_per_s);
    printf("  %-34s %14.1f bytes  (data file %.0f MB used, %.0f MB allocated)\n",
           "disk beyond leaf bytes, per leaf", overhead, (double)used / 1e6, file_bytes / 1e6);
    printf("{\"bench\":\"sha256_node_hash\",\"ns\":%.1f}\n", ns_per_hash);
    printf("{\"bench\":\"log_append\",\"leaves\":%llu,\"batch\":%llu,\"per_s\":%.0f}\n",
           (unsigned long long)leaves, (unsigned long long)batch, append_per_s);
    printf("{\"bench\":\"log_inclusion_proof\",\"leaves\":%llu,\"per_s\":%.0f}\n",
           (unsigned long long)leaves, incl_per_s);
    printf("{\"bench\":\"log_consistency_proof\",\"leaves\":%llu,\"per_s\":%.0f}\n",
           (unsigned long long)leaves, cons_per_s);
    printf("{\"bench\":\"log_tree_overhead\",\"leaves\":%llu,\"bytes_per_leaf\":%.1f}\n",
           (unsigned long long)leaves, overhead);
    return 0;
}
