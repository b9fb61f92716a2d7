/*
 * bench.h — cairn-bench sub-benchmarks and timing helpers. Each benchmark prints a human table
 * and one JSON line per result ({"bench":...}).
 */
#ifndef CAIRN_TOOLS_BENCH_H
#define CAIRN_TOOLS_BENCH_H

#include <stdint.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread, in seconds (robust against other processes on the machine). */
static inline double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bench_log(int argc, char **argv);
int bench_ledger(int argc, char **argv);
int bench_state(int argc, char **argv);
int bench_sig(int argc, char **argv);
int bench_consensus(int argc, char **argv);
int bench_cluster(int argc, char **argv);

#endif
