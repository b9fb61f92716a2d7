/*
 * cairn-bench — Cairn's benchmark programs. Results go to stdout: a human table, then one JSON
 * line per result. Record runs in docs/benchmarks.md with the command, the CPU and the date.
 */
#include <stdio.h>
#include <string.h>

#include "tools/bench.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} benches[] = {
    {"log", bench_log,
     "log [--leaves N] [--batch B] [--proofs P] [--dir DIR]\n"
     "      durable Merkle log appends, inclusion and consistency proofs"},
    {"ledger", bench_ledger,
     "ledger [--txs N] [--devices D] [--block B] [--bundles K] [--dir DIR]\n"
     "      block application, provenance bundle generation and verification"},
    {"state", bench_state,
     "state [--keys N] [--batch B] [--batches K] [--proofs P] [--value-bytes V] [--dir DIR]\n"
     "      authenticated state tree: durable batch updates, proofs, reads"},
    {"sigverify", bench_sig,
     "sigverify [--reps R] [--msg-bytes M] [--quick] [--crossover]\n"
     "      signature verification: libsodium vs Cairn single, batch, pool"},
    {"consensus", bench_consensus,
     "consensus [--blocks B] [--reps R] [--sizes 4,7,10,31]\n"
     "      the consensus core alone in a zero-delay cluster"},
    {"cluster", bench_cluster,
     "cluster [--validators V] [--devices D] [--seconds S] [--connections C] [--window W]\n"
     "        [--etcd-connections E] [--skip-etcd]\n"
     "      a real devnet of cairnd processes under HTTP load (committed tx/s, submit-to-commit\n"
     "      latency) beside the machine's signature bound and a 3-member etcd cluster"},
};

int main(int argc, char **argv)
{
    for (size_t i = 0; argc >= 2 && i < sizeof benches / sizeof benches[0]; i++)
        if (strcmp(argv[1], benches[i].name) == 0) return benches[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "usage: cairn-bench BENCH [options]\n");
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        fprintf(stderr, "  %s\n", benches[i].usage);
    return 2;
}
