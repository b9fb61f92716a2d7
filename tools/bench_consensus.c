/*
 * cairn-bench consensus — the consensus core alone, in the zero-delay cluster of the simulator
 * (tests/sim/cluster.h): no network, no disk, no signatures, so the numbers are the cost of the
 * protocol logic itself, to compare with verifying a block's signatures.
 *
 *   cairn-bench consensus [--blocks B] [--reps R] [--sizes 4,7,10,31]
 *
 * For each validator count N, all N cores run on one CPU core until every node has committed B
 * blocks. Reported: rounds per second and messages per second processed by the whole cluster,
 * the cost per committed block of one validator's core (cluster time / blocks / N) and of the
 * whole cluster, and the commit latency measured at validator 0 in rounds and in message delays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "consensus/quorum.h"
#include "tests/sim/cluster.h"
#include "tools/bench.h"
#include "tools/cli_util.h"

int bench_consensus(int argc, char **argv)
{
    uint64_t blocks = 2000, reps = 5;
    uint32_t sizes[8] = {4, 7, 10, 31};
    size_t n_sizes = 4;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--blocks") == 0 && cli_parse_u64(argv[i + 1], &blocks) == 0 &&
            blocks > 0 && blocks < CL_MAX_HEIGHT)
            continue;
        if (strcmp(argv[i], "--reps") == 0 && cli_parse_u64(argv[i + 1], &reps) == 0 && reps > 0 &&
            reps <= 100)
            continue;
        if (strcmp(argv[i], "--sizes") == 0) {
            n_sizes = 0;
            char *save = NULL, *dup = strdup(argv[i + 1]);
            for (char *t = strtok_r(dup, ",", &save); t && n_sizes < 8;
                 t = strtok_r(NULL, ",", &save)) {
                long v = strtol(t, NULL, 10);
                if (v < 1 || v > CAIRN_CONS_MAX_VALIDATORS) {
                    free(dup);
                    fprintf(stderr, "cairn-bench consensus: sizes must be 1..%d\n",
                            CAIRN_CONS_MAX_VALIDATORS);
                    return 2;
                }
                sizes[n_sizes++] = (uint32_t)v;
            }
            free(dup);
            continue;
        }
        fprintf(stderr, "cairn-bench consensus: bad option %s (--blocks 1..%d, --sizes LIST)\n",
                argv[i], CL_MAX_HEIGHT - 1);
        return 2;
    }
    printf("%-10s %12s %14s %13s %16s %14s %14s\n", "validators", "rounds/s", "messages/s",
           "us/block/node", "us/block/cluster", "latency_rounds", "latency_delays");
    char json[8][512];
    for (size_t k = 0; k < n_sizes; k++) {
        uint32_t n = sizes[k];
        cluster *c = NULL;
        double secs = 0;
        for (uint64_t rep = 0; rep < reps; rep++) {
            cluster *r = calloc(1, sizeof *r);
            if (!r) return 3;
            cl_init(r, n, 1);
            double t0 = bench_now();
            cl_start(r);
            int ok = cl_run_until(r, blocks, UINT64_MAX);
            double t = bench_now() - t0;
            if (!ok || r->step_error) {
                fprintf(stderr, "cairn-bench consensus: cluster of %u stalled (error %d)\n", n,
                        r->step_error);
                cl_free(r);
                free(r);
                return 1;
            }
            if (!c || t < secs) {
                if (c) {
                    cl_free(c);
                    free(c);
                }
                c = r;
                secs = t;
            } else {
                cl_free(r);
                free(r);
            }
        }
        uint64_t rounds = c->nodes[0].core.round;
        double rps = (double)rounds / secs, mps = (double)c->msg_steps / secs;
        double us_cluster = secs * 1e6 / (double)blocks, us_node = us_cluster / n;
        double lat_r = (double)c->commit_round_sum / (double)c->commit_samples;
        double lat_d = (double)c->commit_depth_sum / (double)c->commit_samples;
        printf("%-10u %12.0f %14.0f %13.2f %16.2f %14.2f %14.2f\n", n, rps, mps, us_node,
               us_cluster, lat_r, lat_d);
        snprintf(json[k], sizeof json[k],
                 "{\"bench\":\"consensus\",\"validators\":%u,\"blocks\":%llu,\"rounds_per_s\":%.0f,"
                 "\"messages_per_s\":%.0f,\"us_per_block\":%.3f,\"cluster_us_per_block\":%.3f,"
                 "\"commit_latency_rounds\":%.2f,\"commit_latency_message_delays\":%.2f,"
                 "\"timeout_rounds\":%llu}",
                 n, (unsigned long long)blocks, rps, mps, us_node, us_cluster, lat_r, lat_d,
                 (unsigned long long)c->nodes[0].core.stat_tc_rounds);
        cl_free(c);
        free(c);
    }
    /* For scale: one Ed25519 verification (libsodium's, the baseline; the consensus verifier
     * is ZIP-215 but of the same order) times the 2f+1 signatures of a QC at the largest size. */
    if (sodium_init() < 0) return 3;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char sig[crypto_sign_BYTES], msg[96] = {1};
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    const int sigs = 4000;
    double t0 = bench_now();
    for (int i = 0; i < sigs; i++)
        if (crypto_sign_verify_detached(sig, msg, sizeof msg, pk) != 0) return 1;
    double us_sig = (bench_now() - t0) * 1e6 / sigs;
    uint32_t nmax = sizes[n_sizes - 1];
    uint64_t qsigs = cairn_quorum_power(nmax);
    printf("for scale: one Ed25519 verify (libsodium) %.1f us; a QC of %llu signatures at %u "
           "validators %.0f us\n",
           us_sig, (unsigned long long)qsigs, nmax, us_sig * (double)qsigs);
    for (size_t k = 0; k < n_sizes; k++) printf("%s\n", json[k]);
    printf("{\"bench\":\"ed25519_verify_libsodium\",\"us\":%.2f,\"qc_signatures\":%llu,"
           "\"qc_verify_us\":%.1f}\n",
           us_sig, (unsigned long long)qsigs, us_sig * (double)qsigs);
    return 0;
}
