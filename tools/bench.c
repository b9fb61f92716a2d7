/*
 * cairn-bench — Cairn's benchmark programs. Results go to stdout: a human table, then one JSON
 * line per result. Record runs in docs/benchmarks.md with the command, the CPU and the date.
 */
#include <stdio.h>
#include <string.h>

#include "tools/bench.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "log") == 0) return bench_log(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "ledger") == 0) return bench_ledger(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "state") == 0) return bench_state(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "sigverify") == 0) return bench_sig(argc - 2, argv + 2);
    fprintf(stderr, "usage: cairn-bench BENCH [options]\n"
                    "  log [--leaves N] [--batch B] [--proofs P] [--dir DIR]\n"
                    "      durable Merkle log appends, inclusion and consistency proofs\n"
                    "  ledger [--txs N] [--devices D] [--block B] [--bundles K] [--dir DIR]\n"
                    "      block application, provenance bundle generation and verification\n"
                    "  state [--keys N] [--batch B] [--batches K] [--proofs P] [--value-bytes V]\n"
                    "        [--dir DIR]\n"
                    "      authenticated state tree: durable batch updates, proofs, reads\n"
                    "  sigverify [--reps R] [--msg-bytes M] [--quick]\n"
                    "      signature verification: libsodium vs Cairn single, batch, pool\n");
    return 2;
}
