/*
 * sim.h — the deterministic cluster simulator for the consensus core.
 *
 * One run = one seed + one scenario. N validator instances (plus Twins: a second instance for up
 * to f validator keys) run unmodified cores in one process against a virtual clock, an
 * in-memory network (per-link delay, loss, duplication, reordering, partitions, per-round Twins
 * partitions), an in-memory disk whose persists complete after a delay, and crash-restart (a
 * restarted node keeps only its completed persists and its committed ledger). Everything random
 * comes from the seed, events are ordered by (virtual time, sequence number), so a run replays
 * exactly from its seed.
 *
 * Invariants are checked after every step (see sim.c check_*): agreement on committed blocks,
 * one chain per node, no honest double vote or vote against the node's safety data (tracked
 * across restarts), persist before speak, no honest validator accused of equivocation, no
 * honest message rejected as malformed, and liveness after the global stabilization time.
 */
#ifndef CAIRN_TESTS_SIM_H
#define CAIRN_TESTS_SIM_H

#include <stdint.h>
#include <stdio.h>

enum sim_scenario {
    SIM_HAPPY,     /* small delays, no faults */
    SIM_LOSSY,     /* loss, duplication, reordering, partitions before GST */
    SIM_CRASH,     /* crash-restart with slow disks, plus lossy links */
    SIM_BYZANTINE, /* f Byzantine validators: equivocation, double votes, withheld votes,
                      stale and malformed certificates */
    SIM_TWINS,     /* f duplicated keys with scripted per-round partitions */
    SIM_DEAD,      /* one validator never starts; leader reputation keeps rounds fast */
    SIM_EPOCH,     /* lossy, and a validator-set change (new voting powers) commits: every node
                      must move to epoch 2 at that block and keep committing there */
    SIM_N_SCENARIOS
};

typedef struct sim_result {
    int violation;                /* 0: all invariants held */
    char what[256];               /* description of the first violation */
    uint64_t commits;             /* blocks committed by the slowest honest node */
    uint64_t end_ms;              /* virtual time at the end */
    uint64_t events;              /* events processed */
    uint64_t evidence;            /* equivocation evidence actions emitted by honest nodes */
    uint64_t tc_rounds_after_gst; /* rounds ended by timeout after GST (slowest node) */
    uint64_t rounds_after_gst;
} sim_result;

const char *sim_scenario_name(int scenario);
int sim_scenario_parse(const char *name); /* -1 if unknown */

/* Run flags. SIM_NO_PERSIST_CHECK turns off the direct persist-before-speak check, so only its
 * consequences (double votes after a crash) can reveal a core that speaks too early. */
#define SIM_NO_PERSIST_CHECK 1

/* Runs one seed. trace: if non-NULL, one line per delivered event. */
void sim_run(uint64_t seed, int scenario, int flags, FILE *trace, sim_result *res);

#endif
