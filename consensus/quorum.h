/*
 * quorum.h — voting-power thresholds of the BFT protocol.
 *
 * With total voting power n = 3f + 1 (or any n), a quorum is the smallest power strictly greater
 * than two thirds of n: any two quorums intersect in more than n/3, so in at least one honest
 * validator when faulty power is at most f = floor((n - 1) / 3).
 */
#ifndef CAIRN_CONSENSUS_QUORUM_H
#define CAIRN_CONSENSUS_QUORUM_H

#include <stdint.h>

/* Smallest power q with 3q > 2n: floor(2n / 3) + 1. n must be at most UINT64_MAX / 2. */
static inline uint64_t cairn_quorum_power(uint64_t total)
{
    return total * 2 / 3 + 1;
}

/* Largest faulty power tolerated: floor((n - 1) / 3); 0 for n == 0. */
static inline uint64_t cairn_max_faulty_power(uint64_t total)
{
    return total == 0 ? 0 : (total - 1) / 3;
}

/* Power that guarantees at least one honest member: f + 1. */
static inline uint64_t cairn_validity_power(uint64_t total)
{
    return cairn_max_faulty_power(total) + 1;
}

#endif
