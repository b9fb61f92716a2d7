/*
 * sim — runs the consensus simulator over many seeds.
 *
 *   sim [--scenario NAME|all] [--seeds N] [--first S] [--seed S] [--trace] [--expect-violation]
 *
 * --seeds N runs seeds first..first+N-1 (default first 1); with --scenario all, seed k runs
 * scenario k mod 6. --seed S runs exactly one seed (replay; add --trace for an event log).
 * Exit status: 0 when every run held every invariant, 1 on the first violation (its seed and
 * scenario are printed so it can be replayed). --expect-violation inverts this: exit 0 only if
 * some run violated an invariant (used to prove the injected-bug builds are caught).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

int main(int argc, char **argv)
{
    int scenario = -1; /* all */
    uint64_t seeds = 100, first = 1;
    int single = 0, trace = 0, expect = 0, flags = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--scenario") == 0 && v) {
            scenario = strcmp(v, "all") == 0 ? -1 : sim_scenario_parse(v);
            if (strcmp(v, "all") != 0 && scenario < 0) {
                fprintf(stderr, "sim: unknown scenario %s\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--seeds") == 0 && v) {
            seeds = strtoull(v, NULL, 0);
            i++;
        } else if (strcmp(a, "--first") == 0 && v) {
            first = strtoull(v, NULL, 0);
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            first = strtoull(v, NULL, 0);
            seeds = 1;
            single = 1;
            i++;
        } else if (strcmp(a, "--trace") == 0) {
            trace = 1;
        } else if (strcmp(a, "--expect-violation") == 0) {
            expect = 1;
        } else if (strcmp(a, "--no-persist-check") == 0) {
            flags |= SIM_NO_PERSIST_CHECK;
        } else {
            fprintf(stderr, "usage: sim [--scenario NAME|all] [--seeds N] [--first S] [--seed S] "
                            "[--trace] [--expect-violation] [--no-persist-check]\n"
                            "scenarios: happy lossy crash byzantine twins dead epoch all\n");
            return 2;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t events = 0, commits = 0, evidence = 0, violations = 0;
    for (uint64_t k = 0; k < seeds; k++) {
        uint64_t seed = first + k;
        int sc = scenario >= 0 ? scenario : (int)(seed % SIM_N_SCENARIOS);
        sim_result r;
        sim_run(seed, sc, flags, trace && single ? stdout : NULL, &r);
        events += r.events;
        commits += r.commits;
        evidence += r.evidence;
        if (single || r.violation)
            printf("%s seed=%" PRIu64 " scenario=%s: %s (commits %" PRIu64 ", end %" PRIu64
                   " ms, %" PRIu64 " events)\n",
                   r.violation ? "VIOLATION" : "ok", seed, sim_scenario_name(sc),
                   r.violation ? r.what : "all invariants held", r.commits, r.end_ms, r.events);
        if (r.violation) {
            violations++;
            if (!expect) {
                printf("replay: sim --scenario %s --seed %" PRIu64 " --trace\n",
                       sim_scenario_name(sc), seed);
                return 1;
            }
            break; /* expected: one detection suffices */
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("sim: scenario=%s seeds=%" PRIu64 "..%" PRIu64 " violations=%" PRIu64 " events=%" PRIu64
           " commits=%" PRIu64 " evidence=%" PRIu64 " wall=%.1fs\n",
           scenario >= 0 ? sim_scenario_name(scenario) : "all", first, first + seeds - 1,
           violations, events, commits, evidence, secs);
    if (expect) {
        if (violations == 0) {
            printf("sim: expected the injected bug to be detected, but every run passed\n");
            return 1;
        }
        return 0;
    }
    return 0;
}
