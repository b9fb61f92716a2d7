/*
 * cairn-bench sigverify — signature verification throughput, all in one run on one machine:
 *
 *   cairn-bench sigverify [--reps R] [--msg-bytes M] [--quick]
 *
 * Rows: libsodium crypto_sign_verify_detached (the baseline), Cairn single, Cairn batch at 1, 8,
 * 64, 256, 1024 and 4096 with raw keys (decoded per signature) and with pre-expanded keys, on
 * one thread (direct calls) and on all threads (the worker pool, cache off); secp256k1 Schnorr
 * and ECDSA and P-256 one by one, on one and all threads.
 *
 * Timing: one-thread rows use the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other
 * processes on a shared machine inflate them less; all-thread rows use wall time, and also report
 * the CPU time of all threads per signature (cpu_us_per_sig): on an otherwise idle machine the
 * wall time approaches cpu_us_per_sig / threads, and cpu_us_per_sig against the one-thread row
 * shows the pool's overhead. Every row is the best of R repetitions (default 5) of at least
 * ~8192 signatures (fewer with --quick).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger/sig.h"
#include "ledger/sigpool.h"
#include "ledger/sigsign.h"
#include "tools/bench.h"
#include "tools/cli_util.h"

#define POOLN 4096

static double proc_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct sigset {
    cairn_sig_alg alg;
    uint8_t (*pk)[CAIRN_SIG_MAX_PK];
    size_t pk_len;
    uint8_t (*sig)[64];
    uint8_t *msg;
    size_t msg_bytes;
    cairn_ed25519_key *keys;
    cairn_sig_item *items;
    cairn_ed25519_item *ed_raw, *ed_exp;
} sigset;

static int make_set(const cairn_sig_ctx *ctx, sigset *s, cairn_sig_alg alg, size_t n, size_t mb)
{
    memset(s, 0, sizeof *s);
    s->alg = alg;
    s->msg_bytes = mb;
    s->pk = malloc(n * sizeof *s->pk);
    s->sig = malloc(n * sizeof *s->sig);
    s->msg = malloc(n * mb + 1);
    s->items = malloc(n * sizeof *s->items);
    if (!s->pk || !s->sig || !s->msg || !s->items) return CAIRN_ENOMEM;
    if (alg == CAIRN_SIG_ED25519) {
        s->keys = malloc(n * sizeof *s->keys);
        s->ed_raw = malloc(n * sizeof *s->ed_raw);
        s->ed_exp = malloc(n * sizeof *s->ed_exp);
        if (!s->keys || !s->ed_raw || !s->ed_exp) return CAIRN_ENOMEM;
    }
    randombytes_buf(s->msg, n * mb);
    for (size_t i = 0; i < n; i++) {
        uint8_t sk[32];
        int err = cairn_sig_keygen(ctx, alg, sk);
        if (!err) err = cairn_sig_pubkey(ctx, alg, s->pk[i], &s->pk_len, sk);
        if (!err) err = cairn_sig_sign(ctx, alg, s->sig[i], sk, s->msg + i * mb, mb);
        if (err) return err;
        s->items[i] =
            (cairn_sig_item){alg, s->pk[i], s->pk_len, s->sig[i], 64, s->msg + i * mb, mb, NULL};
        if (alg == CAIRN_SIG_ED25519) {
            if ((err = cairn_ed25519_key_expand(&s->keys[i], s->pk[i]))) return err;
            s->ed_raw[i] = (cairn_ed25519_item){s->pk[i], NULL, s->sig[i], s->msg + i * mb, mb};
            s->ed_exp[i] = (cairn_ed25519_item){NULL, &s->keys[i], s->sig[i], s->msg + i * mb, mb};
        }
    }
    return 0;
}

static void free_set(sigset *s)
{
    free(s->pk), free(s->sig), free(s->msg), free(s->items), free(s->keys), free(s->ed_raw),
        free(s->ed_exp);
}

typedef struct row {
    const char *alg, *impl, *keys;
    size_t batch;
    unsigned threads;
    double us, cpu_us; /* cpu_us: CPU time of all threads per signature (pool rows), else 0 */
} row;

static double baseline_us;
static row rows[64];
static int nrows;

/* CPU time of the process per signature in the last best_us() call. */
static double last_cpu_us;

static void emit(const char *alg, const char *impl, const char *keys, size_t batch,
                 unsigned threads, double us)
{
    double cpu = threads > 1 ? last_cpu_us : 0;
    rows[nrows++] = (row){alg, impl, keys, batch, threads, us, cpu};
    printf("%-18s %-16s %-9s %6zu %3u %10.2f %8.2fx", alg, impl, keys, batch, threads, us,
           baseline_us / us);
    if (cpu > 0) printf("   (CPU %.2f us/sig over all threads)", cpu);
    printf("\n");
    fflush(stdout);
}

/* Kinds of measured work. */
enum {
    W_SODIUM,
    W_SINGLE,
    W_BATCH_RAW,
    W_BATCH_EXP,
    W_ONE_BY_ONE,
    W_POOL_RAW,
    W_POOL_EXP,
    W_POOL_ITEMS,
    W_BATCH_OPTS
};

typedef struct work {
    int kind;
    const cairn_sig_ctx *ctx;
    cairn_sigpool *pool;
    sigset *s;
    size_t batch;
    int *res;
    cairn_sig_item *scratch;
    cairn_ed25519_batch_opts opts; /* W_BATCH_OPTS */
} work;

/* Verifies `total` signatures in units of w->batch; returns seconds (CPU or wall). Exits on a
 * wrong result: a benchmark of a verifier that rejects valid signatures is meaningless. */
static double run(const work *w, size_t total, int wall)
{
    double t0 = wall ? bench_now() : cpu_now();
    size_t done = 0, off = 0;
    while (done < total) {
        size_t b = w->batch;
        if (off + b > POOLN) off = 0;
        int rc = 0;
        switch (w->kind) {
        case W_SODIUM:
            rc = crypto_sign_verify_detached(w->s->sig[off], w->s->items[off].msg, w->s->msg_bytes,
                                             w->s->pk[off]);
            break;
        case W_SINGLE:
            rc = cairn_ed25519_verify(w->ctx, w->s->pk[off], w->s->items[off].msg, w->s->msg_bytes,
                                      w->s->sig[off]);
            break;
        case W_BATCH_RAW:
            rc = cairn_ed25519_verify_batch(w->ctx, w->res, w->s->ed_raw + off, b);
            break;
        case W_BATCH_EXP:
            rc = cairn_ed25519_verify_batch(w->ctx, w->res, w->s->ed_exp + off, b);
            break;
        case W_ONE_BY_ONE:
            rc = cairn_sig_verify(w->ctx, &w->s->items[off]);
            break;
        case W_BATCH_OPTS:
            rc = cairn_ed25519_verify_batch_opts(w->ctx, w->res, w->s->ed_raw + off, b, &w->opts);
            break;
        case W_POOL_RAW:
        case W_POOL_EXP:
            for (size_t i = 0; i < b; i++) {
                w->scratch[i] = w->s->items[off + i];
                if (w->kind == W_POOL_EXP) {
                    w->scratch[i].pk = NULL;
                    w->scratch[i].ed_key = &w->s->keys[off + i];
                }
            }
            rc = cairn_sigpool_verify(w->pool, w->res, w->scratch, b);
            break;
        case W_POOL_ITEMS:
            rc = cairn_sigpool_verify(w->pool, w->res, w->s->items + off, b);
            break;
        }
        if (rc != 0) {
            fprintf(stderr, "cairn-bench sigverify: valid signature rejected (%s)\n",
                    cairn_err_name(rc));
            exit(3);
        }
        done += b;
        off += b;
    }
    return (wall ? bench_now() : cpu_now()) - t0;
}

static double best_us(const work *w, size_t total, int wall, int reps)
{
    double best = 1e30, best_cpu = 1e30;
    for (int r = 0; r < reps; r++) {
        double c0 = proc_cpu_now();
        double t = run(w, total, wall);
        double c = proc_cpu_now() - c0;
        if (t < best) best = t;
        if (c < best_cpu) best_cpu = c;
    }
    last_cpu_us = best_cpu / (double)total * 1e6;
    return best / (double)total * 1e6;
}

static size_t total_for(size_t batch, size_t want)
{
    size_t t = want < batch ? batch : want;
    return (t + batch - 1) / batch * batch;
}

int bench_sig(int argc, char **argv)
{
    uint64_t reps = 5, msg_bytes = 100;
    int quick = 0, crossover = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--crossover") == 0) {
            crossover = 1;
        } else if (i + 1 < argc && strcmp(argv[i], "--reps") == 0 &&
                   cli_parse_u64(argv[i + 1], &reps) == 0 && reps > 0) {
            i++;
        } else if (i + 1 < argc && strcmp(argv[i], "--msg-bytes") == 0 &&
                   cli_parse_u64(argv[i + 1], &msg_bytes) == 0 && msg_bytes <= 4096) {
            i++;
        } else {
            fprintf(stderr, "usage: cairn-bench sigverify [--reps R] [--msg-bytes M] [--quick] "
                            "[--crossover]\n");
            return 2;
        }
    }
    size_t want = quick ? 1024 : 8192;
    if (quick) reps = reps > 2 ? 2 : reps;
    cairn_sig_ctx *ctx;
    int err = cairn_sig_ctx_new(&ctx);
    if (err) return cli_fail(err, NULL);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned all = ncpu > 0 ? (unsigned)ncpu : 1;
    cairn_sigpool *pool;
    cairn_sigpool_opts po = {all, (size_t)-1, 0};
    if ((err = cairn_sigpool_new(&pool, ctx, &po))) return cli_fail(err, "pool");

    sigset ed;
    if ((err = make_set(ctx, &ed, CAIRN_SIG_ED25519, POOLN, msg_bytes)))
        return cli_fail(err, "keys");
    int *res = malloc(POOLN * sizeof *res);
    cairn_sig_item *scratch = malloc(POOLN * sizeof *scratch);
    if (!res || !scratch) return cli_fail(CAIRN_ENOMEM, NULL);

    work w = {W_SODIUM, ctx, pool, &ed, 1, res, scratch, {0, 0}};
    if (crossover) {
        /* Straus against Pippenger (automatic window) across the crossover, one thread. */
        static const size_t xs[] = {2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256};
        baseline_us = 1;
        for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) {
            w.kind = W_BATCH_OPTS;
            w.batch = xs[k];
            w.opts = (cairn_ed25519_batch_opts){100000, 0};
            double st = best_us(&w, total_for(xs[k], want / 2), 0, (int)reps);
            w.opts = (cairn_ed25519_batch_opts){1, 0};
            double pp = best_us(&w, total_for(xs[k], want / 2), 0, (int)reps);
            printf("batch %4zu  straus %8.2f us/sig  pippenger %8.2f us/sig  %s\n", xs[k], st, pp,
                   st <= pp ? "straus" : "pippenger");
            printf("{\"bench\":\"sigverify_crossover\",\"batch\":%zu,\"straus_us_per_sig\":%.3f,"
                   "\"pippenger_us_per_sig\":%.3f}\n",
                   xs[k], st, pp);
        }
        free(res), free(scratch);
        free_set(&ed);
        cairn_sigpool_free(pool);
        cairn_sig_ctx_free(ctx);
        return 0;
    }
    printf("# cairn-bench sigverify: %zu distinct signatures per algorithm, %llu-byte messages, "
           "best of %llu, %u threads available\n",
           (size_t)POOLN, (unsigned long long)msg_bytes, (unsigned long long)reps, all);
    printf("%-18s %-16s %-9s %6s %3s %10s %9s\n", "alg", "impl", "keys", "batch", "thr", "us/sig",
           "vs sodium");

    baseline_us = best_us(&w, want / 2, 0, (int)reps);
    emit("ed25519", "libsodium", "raw", 1, 1, baseline_us);
    w.kind = W_SINGLE;
    emit("ed25519", "cairn-single", "raw", 1, 1, best_us(&w, want / 2, 0, (int)reps));

    static const size_t sizes[] = {1, 8, 64, 256, 1024, 4096};
    for (int e = 0; e < 2; e++) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            w.kind = e ? W_BATCH_EXP : W_BATCH_RAW;
            w.batch = sizes[k];
            emit("ed25519", "cairn-batch", e ? "expanded" : "raw", sizes[k], 1,
                 best_us(&w, total_for(sizes[k], sizes[k] < 64 ? want / 2 : want), 0, (int)reps));
        }
    }
    if (all > 1) {
        for (int e = 0; e < 2; e++) {
            for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
                w.kind = e ? W_POOL_EXP : W_POOL_RAW;
                w.batch = sizes[k];
                emit("ed25519", "cairn-pool", e ? "expanded" : "raw", sizes[k], all,
                     best_us(&w, total_for(sizes[k], want), 1, (int)reps));
            }
        }
    }

    static const struct {
        cairn_sig_alg alg;
        const char *name;
    } others[] = {{CAIRN_SIG_SECP256K1_SCHNORR, "secp256k1-schnorr"},
                  {CAIRN_SIG_SECP256K1_ECDSA, "secp256k1-ecdsa"},
                  {CAIRN_SIG_P256, "p256"}};
    size_t nother = quick ? 512 : POOLN;
    for (size_t a = 0; a < 3; a++) {
        sigset s;
        if ((err = make_set(ctx, &s, others[a].alg, POOLN, msg_bytes)))
            return cli_fail(err, others[a].name);
        work wo = {W_ONE_BY_ONE, ctx, pool, &s, 1, res, scratch, {0, 0}};
        emit(others[a].name, "cairn-single", "raw", 1, 1, best_us(&wo, nother / 2, 0, (int)reps));
        if (all > 1) {
            wo.kind = W_POOL_ITEMS;
            wo.batch = 1024;
            emit(others[a].name, "cairn-pool", "raw", 1024, all,
                 best_us(&wo, total_for(1024, nother), 1, (int)reps));
        }
        free_set(&s);
    }

    for (int i = 0; i < nrows; i++)
        printf(
            "{\"bench\":\"sigverify\",\"alg\":\"%s\",\"impl\":\"%s\",\"keys\":\"%s\",\"batch\":%zu,"
            "\"threads\":%u,\"us_per_sig\":%.3f,\"speedup_vs_libsodium\":%.3f}\n",
            rows[i].alg, rows[i].impl, rows[i].keys, rows[i].batch, rows[i].threads, rows[i].us,
            baseline_us / rows[i].us);
    free(res), free(scratch);
    free_set(&ed);
    cairn_sigpool_free(pool);
    cairn_sig_ctx_free(ctx);
    return 0;
}
