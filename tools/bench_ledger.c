/*
 * cairn-bench ledger — the ledger's own costs, signature checks excluded (the signature engine
 * measures those: cairn-bench sigverify).
 *
 *   cairn-bench ledger [--txs N] [--devices D] [--block B] [--bundles K] [--lookups L]
 *                      [--dir DIR]
 *
 * Registers D devices, then applies N anchor transactions in blocks of B (each block one durable
 * LMDB commit: log leaves, state, indexes, header, certificate), with the signature results
 * supplied as already verified. Then builds K provenance bundles for random anchors, looks up
 * the status of L transactions by hash (GET /v1/txs/{hash}'s storage work: present ones in
 * random order, then as many absent ones; each in its own read transaction), and times the
 * offline verification of one bundle (cairn verify's work, including its signature checks).
 * Also reports the slowest block (index merges happen inside block transactions).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/bundle.h"
#include "ledger/chain.h"
#include "ledger/keys.h"
#include "ledger/tx.h"
#include "ledger/txbuild.h"
#include "tools/bench.h"
#include "tools/cli_util.h"

typedef struct bench {
    cairn_store *s;
    cairn_sig_ctx *sig;
    cairn_chain *c;
    cairn_genesis *g;
    cairn_keypair admin, validator;
    uint8_t org[32], validator_id[32];
    uint64_t time_ms;
} bench;

typedef struct apply_ctx {
    bench *b;
    const cairn_log_leaf *txs;
    size_t n;
    const int *sig_ok;
    int32_t *results;
} apply_ctx;

/* One block and its certificate; cairn_store_write reruns it after growing a full map. */
static int apply_fn(cairn_txn *t, void *arg)
{
    apply_ctx *a = arg;
    bench *b = a->b;
    cairn_block_out out;
    int err = cairn_chain_apply_block(b->c, t, b->time_ms, b->validator_id, a->txs, a->n, a->sig_ok,
                                      &out, a->results);
    if (err) return err;
    cairn_certificate cert = {.height = out.header.height, .n = 1};
    memcpy(cert.block_hash, out.hash, 32);
    if ((err = cairn_commit_sign(b->g->chain_id, out.header.height, out.hash, b->validator.seed,
                                 cert.sigs[0].sig)))
        return err;
    return cairn_chain_put_certificate(t, &cert);
}

static int apply(bench *b, const cairn_log_leaf *txs, size_t n, const int *sig_ok, int32_t *results)
{
    apply_ctx a = {b, txs, n, sig_ok, results};
    b->time_ms += 1000;
    return cairn_store_write(b->s, apply_fn, &a);
}

/* This process's write counters from /proc/self/io: bytes passed to write calls and bytes sent
 * to the block layer (0 where not available). */
static void io_counters(double *wchar, double *write_bytes)
{
    *wchar = *write_bytes = 0;
    FILE *f = fopen("/proc/self/io", "r");
    if (!f) return;
    char line[128];
    unsigned long long v;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "wchar: %llu", &v) == 1) *wchar = (double)v;
        if (sscanf(line, "write_bytes: %llu", &v) == 1) *write_bytes = (double)v;
    }
    fclose(f);
}

static void digest_of(uint64_t i, uint8_t out[32])
{
    cairn_sha256_oneshot(out, &i, sizeof i);
}

int bench_ledger(int argc, char **argv)
{
    uint64_t n_txs = 200000, n_dev = 1000, block = 1000, n_bundles = 20000, n_lookups = 100000;
    const char *dir = NULL;
    for (int i = 0; i + 1 < argc; i += 2) {
        uint64_t *dst = !strcmp(argv[i], "--txs")       ? &n_txs
                        : !strcmp(argv[i], "--devices") ? &n_dev
                        : !strcmp(argv[i], "--block")   ? &block
                        : !strcmp(argv[i], "--bundles") ? &n_bundles
                        : !strcmp(argv[i], "--lookups") ? &n_lookups
                                                        : NULL;
        if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!dst || cli_parse_u64(argv[i + 1], dst)) {
            fprintf(stderr, "cairn-bench ledger: bad option %s\n", argv[i]);
            return 2;
        }
    }
    if (!n_dev || !block || block > CAIRN_BLOCK_MAX_TXS || n_txs < n_dev) {
        fprintf(stderr, "cairn-bench ledger: need devices > 0, 0 < block <= %u, txs >= devices\n",
                CAIRN_BLOCK_MAX_TXS);
        return 2;
    }
    char tmpl[] = "/tmp/cairn-bench-ledger-XXXXXX", path[600];
    if (!dir && !mkdtemp(tmpl)) return 3;
    snprintf(path, sizeof path, "%s/store", dir ? dir : tmpl);

    bench b = {.time_ms = 1000};
    b.g = calloc(1, sizeof *b.g);
    uint8_t seed[32];
    int err = cairn_sig_ctx_new(&b.sig);
    memset(seed, 1, 32);
    if (!err) err = cairn_keypair_from_seed(&b.admin, b.sig, CAIRN_SIG_ED25519, seed);
    memset(seed, 2, 32);
    if (!err) err = cairn_keypair_from_seed(&b.validator, b.sig, CAIRN_SIG_ED25519, seed);
    if (err) return cli_fail(err, "keys");
    cairn_genesis *g = b.g;
    strcpy(g->chain_id, "bench");
    g->policy.approvals_required = 1;
    g->policy.epoch_length_blocks = 1000;
    g->n_orgs = 1;
    cairn_org *o = &g->orgs[0];
    if (cairn_str_set(&o->name, "bench-org", 9)) return 3;
    cairn_org_id(o->id, "bench-org", 9);
    memcpy(b.org, o->id, 32);
    o->roles = CAIRN_ROLE_OPERATOR | CAIRN_ROLE_VENDOR;
    o->n_admins = 1;
    o->admins[0] = (cairn_pubkey){.alg = CAIRN_SIG_ED25519, .len = 32};
    memcpy(o->admins[0].key, b.admin.pub, 32);
    o->active = 1;
    g->n_validators = 1;
    cairn_validator *v = &g->validators[0];
    memcpy(v->org, o->id, 32);
    v->key = (cairn_pubkey){.alg = CAIRN_SIG_ED25519, .len = 32};
    memcpy(v->key.key, b.validator.pub, 32);
    v->power = 1;
    cairn_validator_id(v->id, v->key.key, 32);
    memcpy(b.validator_id, v->id, 32);
    if ((err = cairn_store_open(&b.s, path, NULL)) || (err = cairn_chain_open(&b.c, b.s, g, b.sig)))
        return cli_fail(err, path);

    /* Devices (registered with real signatures; not timed). */
    cairn_keypair *devs = calloc(n_dev, sizeof *devs);
    uint8_t(*dev_ids)[32] = calloc(n_dev, 32);
    cairn_buf *txb = calloc(block, sizeof *txb);
    cairn_log_leaf *ll = calloc(block, sizeof *ll);
    int *sig_ok = calloc(block, sizeof *sig_ok);
    int32_t *results = calloc(block, sizeof *results);
    uint64_t height = 0;
    for (uint64_t i = 0; i < n_dev && !err;) {
        size_t k = 0;
        for (; k < block && i < n_dev; k++, i++) {
            uint8_t s2[32] = {3}, commit[32], pop[64], nonce[8];
            memcpy(s2 + 8, &i, 8);
            if ((err = cairn_keypair_from_seed(&devs[i], b.sig, CAIRN_SIG_ED25519, s2))) break;
            cairn_sha256_oneshot(commit, &i, sizeof i);
            cairn_device_id(dev_ids[i], g->chain_id, b.org, commit);
            if ((err = cairn_pop_sign(g->chain_id, b.org, &devs[i], pop))) break;
            Cairn__V1__TxBody body = CAIRN__V1__TX_BODY__INIT;
            Cairn__V1__DeviceRegister r = CAIRN__V1__DEVICE_REGISTER__INIT;
            Cairn__V1__PublicKey pk = CAIRN__V1__PUBLIC_KEY__INIT;
            Cairn__V1__ExternalIdCommitment ic = CAIRN__V1__EXTERNAL_ID_COMMITMENT__INIT,
                                            *ics[1] = {&ic};
            pk.alg = CAIRN__V1__SIG_ALG__SIG_ALG_ED25519;
            pk.key = (ProtobufCBinaryData){32, devs[i].pub};
            ic.scheme = CAIRN__V1__ID_SCHEME__ID_SCHEME_UEID;
            ic.commitment = (ProtobufCBinaryData){32, commit};
            r.owner_org = (ProtobufCBinaryData){32, b.org};
            r.device_key = &pk;
            r.pop_signature = (ProtobufCBinaryData){64, pop};
            r.n_identifiers = 1;
            r.identifiers = ics;
            r.device_class = "sensor";
            body.chain_id = g->chain_id;
            memcpy(nonce, &i, 8);
            body.nonce = (ProtobufCBinaryData){8, nonce};
            body.expiry_height = height + 100;
            body.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_REGISTER;
            body.device_register = &r;
            txb[k] = (cairn_buf)CAIRN_BUF_INIT;
            if ((err = cairn_tx_build(&txb[k], g->chain_id, &body, &b.admin, NULL))) break;
            ll[k] = (cairn_log_leaf){txb[k].p, txb[k].len};
        }
        if (!err) err = apply(&b, ll, k, NULL, results);
        height++;
        for (size_t j = 0; j < k; j++) {
            if (!err && results[j]) err = results[j];
            cairn_buf_free(&txb[j]);
        }
    }
    if (err) return cli_fail(err, "registering devices");
    /* Hashes of every stride-th anchor, for the status lookups. */
    uint64_t stride = n_lookups && n_txs > n_lookups ? n_txs / n_lookups : 1;
    size_t n_sample = 0;
    uint8_t(*sample)[32] = calloc(n_lookups ? n_lookups : 1, 32);
    if (!sample) return cli_fail(CAIRN_ENOMEM, "lookups");

    /* Anchors: device i % D, sequence i / D + 1. Signatures are not checked here (sig_ok = 0
     * for every tx), so only the last block's are real — the bundles verified below. */
    double encode_s = 0, apply_s = 0, worst_s = 0, apply_cpu_s = 0, wchar0, wbytes0, wchar1,
           wbytes1;
    io_counters(&wchar0, &wbytes0);
    uint64_t applied = 0;
    for (uint64_t i = 0; i < n_txs && !err;) {
        size_t k = 0;
        int last = n_txs - i <= block;
        double t0 = bench_now();
        for (; k < block && i < n_txs; k++, i++) {
            uint8_t dig[32], nonce[8];
            digest_of(i, dig);
            Cairn__V1__TxBody body = CAIRN__V1__TX_BODY__INIT;
            Cairn__V1__DataAnchor a = CAIRN__V1__DATA_ANCHOR__INIT;
            Cairn__V1__Digest dd = CAIRN__V1__DIGEST__INIT;
            dd.alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
            dd.value = (ProtobufCBinaryData){32, dig};
            a.device_id = (ProtobufCBinaryData){32, dev_ids[i % n_dev]};
            a.stream_id = (ProtobufCBinaryData){1, (uint8_t *)"s"};
            a.sequence = i / n_dev + 1;
            a.data_digest = &dd;
            body.chain_id = g->chain_id;
            memcpy(nonce, &i, 8);
            body.nonce = (ProtobufCBinaryData){8, nonce};
            body.expiry_height = height + 100;
            body.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR;
            body.data_anchor = &a;
            txb[k] = (cairn_buf)CAIRN_BUF_INIT;
            uint8_t *want = i % stride == 0 && n_sample < n_lookups ? sample[n_sample++] : NULL;
            if (last) {
                err = cairn_tx_build(&txb[k], g->chain_id, &body, &devs[i % n_dev], want);
            } else {
                /* A well-formed envelope with a placeholder signature. */
                size_t bl = cairn__v1__tx_body__get_packed_size(&body);
                uint8_t bb[512], sigz[64] = {0};
                cairn__v1__tx_body__pack(&body, bb);
                if (want) cairn_tx_hash(want, g->chain_id, bb, bl);
                Cairn__V1__SignedTx env = CAIRN__V1__SIGNED_TX__INIT;
                env.body = (ProtobufCBinaryData){bl, bb};
                env.alg = CAIRN__V1__SIG_ALG__SIG_ALG_ED25519;
                env.signer = (ProtobufCBinaryData){32, devs[i % n_dev].pub};
                env.signature = (ProtobufCBinaryData){64, sigz};
                uint8_t eb[700];
                size_t el = cairn__v1__signed_tx__pack(&env, eb);
                cairn_buf_put(&txb[k], eb, el);
                err = cairn_buf_finish(&txb[k]);
            }
            if (err) break;
            ll[k] = (cairn_log_leaf){txb[k].p, txb[k].len};
        }
        double t1 = bench_now(), c1 = bench_cpu_now();
        if (!err) err = apply(&b, ll, k, sig_ok, results);
        double t2 = bench_now();
        apply_cpu_s += bench_cpu_now() - c1;
        encode_s += t1 - t0;
        apply_s += t2 - t1;
        if (t2 - t1 > worst_s) worst_s = t2 - t1;
        height++;
        for (size_t j = 0; j < k; j++) {
            if (!err && results[j] == 0) applied++;
            cairn_buf_free(&txb[j]);
        }
    }
    if (err) return cli_fail(err, "applying anchors");
    io_counters(&wchar1, &wbytes1);
    double wchar_tx = (wchar1 - wchar0) / (double)n_txs,
           wbytes_tx = (wbytes1 - wbytes0) / (double)n_txs;
    if (applied != n_txs) {
        fprintf(stderr, "cairn-bench ledger: only %llu of %llu anchors applied\n",
                (unsigned long long)applied, (unsigned long long)n_txs);
        return 1;
    }

    /* The anchor lookups alone (the first step of every bundle), for the same digests. */
    uint64_t rs = 0x1234567;
    double a0 = bench_now(), ac0 = bench_cpu_now();
    for (uint64_t k = 0; k < n_bundles && !err; k++) {
        rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
        uint8_t dig[32];
        uint64_t idx;
        digest_of(rs % n_txs, dig);
        cairn_txn *rt;
        if (!(err = cairn_store_read_begin(b.s, &rt))) {
            err = cairn_chain_anchor_index(rt, dig, 32, &idx);
            cairn_txn_abort(rt);
        }
    }
    double anchor_us = n_bundles ? (bench_now() - a0) / (double)n_bundles * 1e6 : 0;
    double anchor_cpu_us = n_bundles ? (bench_cpu_now() - ac0) / (double)n_bundles * 1e6 : 0;
    if (err) return cli_fail(err, "anchor lookups");

    /* Provenance bundles for random anchors (the same ones). */
    rs = 0x1234567;
    size_t total_bytes = 0;
    cairn_txn *t;
    double t0 = bench_now(), c0 = bench_cpu_now();
    for (uint64_t k = 0; k < n_bundles && !err; k++) {
        rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
        uint8_t dig[32];
        digest_of(rs % n_txs, dig);
        cairn_buf out = CAIRN_BUF_INIT;
        if (!(err = cairn_store_read_begin(b.s, &t))) {
            err = cairn_bundle_build(b.c, t, dig, 32, &out);
            cairn_txn_abort(t);
        }
        total_bytes += out.len;
        cairn_buf_free(&out);
    }
    double bundle_s = bench_now() - t0, bundle_cpu_s = bench_cpu_now() - c0;
    if (err) return cli_fail(err, "bundles");

    /* Status lookups by hash: the sampled ones in random order, then absent hashes. */
    for (size_t k = n_sample; k > 1; k--) {
        rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
        size_t j = (size_t)(rs % k);
        uint8_t tmp[32];
        memcpy(tmp, sample[k - 1], 32);
        memcpy(sample[k - 1], sample[j], 32);
        memcpy(sample[j], tmp, 32);
    }
    /* Twice: the first pass also pays for mapping the pages it reads for the first time (the
     * apply loop wrote them with pwrite), the second shows a node whose index pages are mapped. */
    double hit_us = 0, hit2_us = 0, hit_cpu_us = 0;
    for (int pass = 0; pass < 2; pass++) {
        t0 = bench_now();
        c0 = bench_cpu_now();
        for (size_t k = 0; k < n_sample && !err; k++) {
            cairn_tx_status st;
            if (!(err = cairn_store_read_begin(b.s, &t))) {
                err = cairn_chain_tx_status(t, sample[k], &st);
                cairn_txn_abort(t);
            }
            if (!err && st.result != 0) err = CAIRN_EINTERNAL;
        }
        *(pass ? &hit2_us : &hit_us) = n_sample ? (bench_now() - t0) / (double)n_sample * 1e6 : 0;
        if (pass == 0 && n_sample) hit_cpu_us = (bench_cpu_now() - c0) / (double)n_sample * 1e6;
    }
    t0 = bench_now();
    for (size_t k = 0; k < n_sample && !err; k++) {
        cairn_tx_status st;
        uint8_t absent[32];
        uint64_t kk = k + (1ull << 62);
        cairn_sha256_oneshot(absent, &kk, sizeof kk);
        if (!(err = cairn_store_read_begin(b.s, &t))) {
            err = cairn_chain_tx_status(t, absent, &st);
            cairn_txn_abort(t);
        }
        err = err == CAIRN_ENOENT ? 0 : err ? err : CAIRN_EINTERNAL;
    }
    double miss_us = n_sample ? (bench_now() - t0) / (double)n_sample * 1e6 : 0;
    if (err) return cli_fail(err, "status lookups");

    /* Verify one bundle of the last (really signed) block, many times. */
    uint8_t dig[32];
    digest_of(n_txs - 1, dig);
    cairn_buf one = CAIRN_BUF_INIT;
    if ((err = cairn_store_read_begin(b.s, &t))) return cli_fail(err, "read");
    err = cairn_bundle_build(b.c, t, dig, 32, &one);
    uint64_t log_size;
    if (!err) err = cairn_log_size(t, &log_size);
    cairn_txn_abort(t);
    if (err) return cli_fail(err, "bundle");
    char why[256];
    const int verifies = 2000;
    t0 = bench_now();
    for (int k = 0; k < verifies && !err; k++)
        err = cairn_bundle_verify(b.sig, g, one.p, one.len, NULL, why, sizeof why);
    double verify_us = (bench_now() - t0) / verifies * 1e6;
    if (err) return cli_fail(err, why);

    double tx_per_s = (double)n_txs / apply_s, bundles_per_s = (double)n_bundles / bundle_s;
    printf("Ledger: %llu anchors from %llu devices in blocks of %llu (durable commit per block), "
           "log size %llu\n",
           (unsigned long long)n_txs, (unsigned long long)n_dev, (unsigned long long)block,
           (unsigned long long)log_size);
    printf("  %-40s %12.0f tx/s  (%.2f s; CPU %.2f us/tx; encoding the txs, untimed: %.2f s)\n",
           "apply anchors (no signature checks)", tx_per_s, apply_s,
           apply_cpu_s / (double)n_txs * 1e6, encode_s);
    printf("  %-40s %12.1f ms\n", "slowest block (apply + commit)", worst_s * 1e3);
    printf("  %-40s %12.0f B    (to the block layer: %.0f B)\n", "written per tx (write calls)",
           wchar_tx, wbytes_tx);
    printf("  %-40s %12.0f /s   (CPU %.1f us each; average %.0f bytes)\n",
           "provenance bundle generation", bundles_per_s,
           n_bundles ? bundle_cpu_s / (double)n_bundles * 1e6 : 0,
           (double)total_bytes / (double)n_bundles);
    printf("  %-40s %12.2f us   (CPU %.2f us; then in bundles)\n", "anchor lookup by digest",
           anchor_us, anchor_cpu_us);
    printf("  %-40s %12.2f us   (CPU %.2f us; second pass %.2f us; absent hash: %.2f us; %zu "
           "each)\n",
           "tx status lookup by hash", hit_us, hit_cpu_us, hit2_us, miss_us, n_sample);
    printf("  %-40s %12.1f us   (%zu bytes)\n", "offline verification of one bundle", verify_us,
           one.len);
    printf("{\"bench\":\"ledger_apply\",\"txs\":%llu,\"block\":%llu,\"tx_per_s\":%.0f,"
           "\"cpu_us_per_tx\":%.2f,\"worst_block_ms\":%.1f,\"written_per_tx\":%.0f,"
           "\"block_layer_per_tx\":%.0f}\n",
           (unsigned long long)n_txs, (unsigned long long)block, tx_per_s,
           apply_cpu_s / (double)n_txs * 1e6, worst_s * 1e3, wchar_tx, wbytes_tx);
    printf("{\"bench\":\"tx_status\",\"log_size\":%llu,\"us\":%.2f,\"cpu_us\":%.2f,"
           "\"second_pass_us\":%.2f,\"absent_us\":%.2f}\n",
           (unsigned long long)log_size, hit_us, hit_cpu_us, hit2_us, miss_us);
    printf("{\"bench\":\"anchor_lookup\",\"log_size\":%llu,\"us\":%.2f,\"cpu_us\":%.2f}\n",
           (unsigned long long)log_size, anchor_us, anchor_cpu_us);
    printf("{\"bench\":\"bundle_build\",\"log_size\":%llu,\"per_s\":%.0f,\"cpu_us\":%.1f}\n",
           (unsigned long long)log_size, bundles_per_s,
           n_bundles ? bundle_cpu_s / (double)n_bundles * 1e6 : 0);
    printf("{\"bench\":\"bundle_verify\",\"log_size\":%llu,\"us\":%.1f,\"bytes\":%zu}\n",
           (unsigned long long)log_size, verify_us, one.len);
    cairn_buf_free(&one);
    cairn_chain_close(b.c);
    cairn_store_close(b.s);
    cairn_sig_ctx_free(b.sig);
    if (!dir) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpl);
    }
    free(sample);
    free(devs);
    free(dev_ids);
    free(txb);
    free(ll);
    free(sig_ok);
    free(results);
    free(g);
    return 0;
}
