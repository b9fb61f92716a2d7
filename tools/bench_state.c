/*
 * cairn-bench state — the authenticated state tree (ledger/smt.h): durable batch updates,
 * reads and proofs against a large tree.
 *
 *   cairn-bench state [--keys N] [--batch B] [--batches K] [--proofs P] [--value-bytes V]
 *                     [--dir DIR]
 *
 * Builds a tree of N keys (key i = SHA-256(u64be i), values of V bytes) in durable batches of
 * 10,000, then measures K durable batches (one version and one LMDB commit with fsync each) of
 * B random keys: first updates of existing keys, then inserts of new keys. Then P membership
 * proofs of random existing keys and P non-membership proofs of random absent keys, each in its
 * own read transaction on one core, their average size, verification of the proofs, and P reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/bytes.h"
#include "ledger/smt.h"
#include "tools/bench.h"
#include "tools/cli_util.h"

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void key_of(uint64_t i, uint8_t key[32])
{
    uint8_t b[8];
    cairn_put_u64be(b, i);
    cairn_sha256_oneshot(key, b, 8);
}

typedef struct batch_arg {
    uint64_t version;
    const cairn_smt_update *u;
    size_t n;
    double apply_s; /* time inside cairn_smt_apply, accumulated */
} batch_arg;

static int batch_fn(cairn_txn *t, void *arg)
{
    batch_arg *a = arg;
    double t0 = bench_now();
    int err = cairn_smt_apply(t, a->version, a->u, a->n, NULL);
    a->apply_s += bench_now() - t0;
    return err;
}

int bench_state(int argc, char **argv)
{
    uint64_t keys = 1000000, batch = 1000, batches = 100, proofs = 100000, value_bytes = 100;
    const char *dir = NULL;
    for (int i = 0; i + 1 < argc; i += 2) {
        uint64_t *dst = strcmp(argv[i], "--keys") == 0          ? &keys
                        : strcmp(argv[i], "--batch") == 0       ? &batch
                        : strcmp(argv[i], "--batches") == 0     ? &batches
                        : strcmp(argv[i], "--proofs") == 0      ? &proofs
                        : strcmp(argv[i], "--value-bytes") == 0 ? &value_bytes
                                                                : NULL;
        if (strcmp(argv[i], "--dir") == 0) {
            dir = argv[i + 1];
        } else if (!dst || cli_parse_u64(argv[i + 1], dst) != 0) {
            fprintf(stderr, "cairn-bench state: bad option %s\n", argv[i]);
            return 2;
        }
    }
    if (keys == 0 || batch == 0 || batch > 1000000 || value_bytes > 4096 || proofs == 0) {
        fprintf(stderr, "cairn-bench state: --keys, --batch (<= 10^6) and --proofs must be "
                        "positive, --value-bytes <= 4096\n");
        return 2;
    }
    char tmpl[] = "/tmp/cairn-bench-state-XXXXXX";
    char path[512];
    if (!dir) {
        if (!mkdtemp(tmpl)) return 3;
        snprintf(path, sizeof path, "%s/store", tmpl);
    } else {
        snprintf(path, sizeof path, "%s", dir);
    }
    cairn_store *s;
    int err = cairn_store_open(&s, path, NULL);
    if (err) return cli_fail(err, path);

    const size_t fill_batch = 10000;
    size_t cap = batch > fill_batch ? (size_t)batch : fill_batch;
    cairn_smt_update *u = calloc(cap, sizeof *u);
    uint8_t *vals = malloc(cap * (size_t)value_bytes + 1);
    if (!u || !vals) return cli_fail(CAIRN_ENOMEM, "bench");
    uint64_t version = 0, rs = 0x9e3779b97f4a7c15ULL;

    /* Fill. */
    double t0 = bench_now();
    for (uint64_t done = 0; done < keys && !err;) {
        size_t n = keys - done < fill_batch ? (size_t)(keys - done) : fill_batch;
        for (size_t i = 0; i < n; i++) {
            key_of(done + i, u[i].key);
            uint8_t *v = vals + i * value_bytes;
            memset(v, (int)(done + i), (size_t)value_bytes);
            u[i].value = v;
            u[i].len = (size_t)value_bytes;
        }
        batch_arg a = {++version, u, n, 0};
        err = cairn_store_write(s, batch_fn, &a);
        done += n;
    }
    double fill_s = bench_now() - t0;
    if (err) return cli_fail(err, "fill");
    size_t map0, used0;
    cairn_store_usage(s, &map0, &used0);

    /* Durable batches: updates of random existing keys, then inserts of new keys. */
    double upd_s = 0, ins_s = 0, apply_s[2] = {0, 0};
    uint64_t next_new = keys;
    for (int phase = 0; phase < 2 && !err; phase++) {
        t0 = bench_now();
        for (uint64_t b = 0; b < batches && !err; b++) {
            for (size_t i = 0; i < batch; i++) {
                uint64_t k = phase == 0 ? rng_next(&rs) % keys : next_new++;
                key_of(k, u[i].key);
                uint8_t *v = vals + i * value_bytes;
                memset(v, (int)(b + i), (size_t)value_bytes);
                u[i].value = v;
                u[i].len = (size_t)value_bytes;
            }
            batch_arg a = {++version, u, (size_t)batch, 0};
            err = cairn_store_write(s, batch_fn, &a);
            apply_s[phase] += a.apply_s;
        }
        if (phase == 0)
            upd_s = bench_now() - t0;
        else
            ins_s = bench_now() - t0;
    }
    if (err) return cli_fail(err, "batches");
    uint64_t total = next_new;
    size_t map1, used1;
    cairn_store_usage(s, &map1, &used1);

    /* Proofs: membership, then non-membership, each in its own read transaction. */
    uint8_t root[32], *proof = malloc(CAIRN_SMT_MAX_PROOF);
    cairn_txn *t;
    if ((err = cairn_store_read_begin(s, &t)) != 0 || (err = cairn_smt_root(t, version, root)))
        return cli_fail(err, "root");
    cairn_txn_abort(t);
    double prove_s[2], verify_s[2];
    double bytes[2] = {0, 0};
    for (int kind = 0; kind < 2 && !err; kind++) {
        uint8_t key[32];
        size_t plen;
        t0 = bench_now();
        for (uint64_t i = 0; i < proofs && !err; i++) {
            key_of(kind == 0 ? rng_next(&rs) % total : total + rng_next(&rs) % (1ull << 40), key);
            if ((err = cairn_store_read_begin(s, &t)) != 0) break;
            err = cairn_smt_prove(t, version, key, proof, CAIRN_SMT_MAX_PROOF, &plen, NULL, NULL);
            cairn_txn_abort(t);
            bytes[kind] += (double)plen;
        }
        prove_s[kind] = bench_now() - t0;
        /* Verification of one proof, repeated (the verifier is pure). */
        const uint8_t *val;
        size_t vlen;
        key_of(kind == 0 ? 12345 % total : total + 12345, key);
        if (!err && (err = cairn_store_read_begin(s, &t)) == 0) {
            err = cairn_smt_prove(t, version, key, proof, CAIRN_SMT_MAX_PROOF, &plen, &val, &vlen);
            uint8_t vcopy[4096];
            if (!err && val) memcpy(vcopy, val, vlen);
            cairn_txn_abort(t);
            t0 = bench_now();
            for (uint64_t i = 0; i < proofs && !err; i++)
                err = cairn_smt_verify(root, key, val ? vcopy : NULL, vlen, proof, plen);
            verify_s[kind] = bench_now() - t0;
        }
    }
    if (err) return cli_fail(err, "proofs");

    /* Reads of random existing keys, one read transaction each. */
    t0 = bench_now();
    for (uint64_t i = 0; i < proofs && !err; i++) {
        uint8_t key[32];
        const uint8_t *val;
        size_t vlen;
        key_of(rng_next(&rs) % total, key);
        if ((err = cairn_store_read_begin(s, &t)) != 0) break;
        err = cairn_smt_get(t, version, key, &val, &vlen);
        cairn_txn_abort(t);
    }
    double get_s = bench_now() - t0;
    if (err) return cli_fail(err, "get");
    cairn_store_close(s);
    if (!dir) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpl);
    }
    free(u);
    free(vals);
    free(proof);

    double nb = (double)(batches * batch);
    double upd_per_s = nb / upd_s, ins_per_s = nb / ins_s;
    double prove_per_s = (double)proofs / prove_s[0], absent_per_s = (double)proofs / prove_s[1];
    double verify_per_s = (double)proofs / verify_s[0];
    double avg_bytes = bytes[0] / (double)proofs, avg_absent = bytes[1] / (double)proofs;
    double get_per_s = (double)proofs / get_s;
    double growth = ((double)used1 - (double)used0) / (2 * nb); /* both phases */
    printf(
        "State tree: %llu keys (%llu after inserts), %llu-byte values, durable batches of %llu\n",
        (unsigned long long)keys, (unsigned long long)total, (unsigned long long)value_bytes,
        (unsigned long long)batch);
    printf("  %-36s %12.0f keys/s  (%.1f s)\n", "fill, batches of 10,000", (double)keys / fill_s,
           fill_s);
    printf("  %-36s %12.0f keys/s  (%.1f ms per batch, %.1f ms in apply)\n",
           "update existing keys, durable", upd_per_s, upd_s / (double)batches * 1e3,
           apply_s[0] / (double)batches * 1e3);
    printf("  %-36s %12.0f keys/s  (%.1f ms per batch, %.1f ms in apply)\n",
           "insert new keys, durable", ins_per_s, ins_s / (double)batches * 1e3,
           apply_s[1] / (double)batches * 1e3);
    printf("  %-36s %12.0f proofs/s (%.0f bytes average)\n", "membership proof, 1 core",
           prove_per_s, avg_bytes);
    printf("  %-36s %12.0f proofs/s (%.0f bytes average)\n", "non-membership proof, 1 core",
           absent_per_s, avg_absent);
    printf("  %-36s %12.0f proofs/s\n", "verify membership proof", verify_per_s);
    printf("  %-36s %12.0f reads/s\n", "get, 1 core", get_per_s);
    printf("  %-36s %12.0f bytes  (store %.0f MB after fill)\n", "store growth per batch key",
           growth, (double)used0 / 1e6);
    printf("{\"bench\":\"state_update\",\"keys\":%llu,\"batch\":%llu,\"per_s\":%.0f,"
           "\"apply_ms\":%.2f}\n",
           (unsigned long long)keys, (unsigned long long)batch, upd_per_s,
           apply_s[0] / (double)batches * 1e3);
    printf("{\"bench\":\"state_insert\",\"keys\":%llu,\"batch\":%llu,\"per_s\":%.0f,"
           "\"apply_ms\":%.2f}\n",
           (unsigned long long)keys, (unsigned long long)batch, ins_per_s,
           apply_s[1] / (double)batches * 1e3);
    printf("{\"bench\":\"state_prove\",\"keys\":%llu,\"per_s\":%.0f,\"avg_bytes\":%.1f}\n",
           (unsigned long long)total, prove_per_s, avg_bytes);
    printf("{\"bench\":\"state_prove_absent\",\"keys\":%llu,\"per_s\":%.0f,\"avg_bytes\":%.1f}\n",
           (unsigned long long)total, absent_per_s, avg_absent);
    printf("{\"bench\":\"state_verify\",\"per_s\":%.0f}\n", verify_per_s);
    printf("{\"bench\":\"state_get\",\"keys\":%llu,\"per_s\":%.0f}\n", (unsigned long long)total,
           get_per_s);
    printf("{\"bench\":\"state_store_growth\",\"bytes_per_key\":%.1f}\n", growth);
    return 0;
}
