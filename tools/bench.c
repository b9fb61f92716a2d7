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
    if (argc >= 2 && strcmp(argv[1], "consensus") == 0) return bench_consensus(argc - 2, argv + 2);
    fprintf(stderr, "usage: cairn-bench BENCH [options]\n"
                    "  log [--leaves N] [--batch B] [--proofs P] [--dir DIR]\n"
                    "      durable Merkle log appends, inclusion and consistency proofs\n"
                    "  consensus [--blocks B] [--reps R] [--sizes 4,7,10,31]\n"
                    "      the consensus core alone in a zero-delay cluster\n");
    return 2;
}
