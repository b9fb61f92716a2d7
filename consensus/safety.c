/*
 * safety.c — the safety rules (see safety.h for the paper references). Every refusal here is
 * what keeps two honest validators from certifying conflicting blocks at one height.
 */
#include "consensus/safety.h"

#include <string.h>

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

uint64_t cairn_tc_max_hqc_round(const cairn_tc *tc)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < 64; i++)
        if (tc->signers >> i & 1) m = max_u64(m, tc->hqc_rounds[i]);
    return m;
}

/* consecutive(block_round, round) of DiemBFT v4 4.2. */
static int consecutive(uint64_t later, uint64_t earlier)
{
    return earlier + 1 == later;
}

/* safe_to_extend: the block follows a TC of the previous round and extends a QC at least as
 * high as every QC reported in that TC, so it cannot skip a block that might have committed. */
static int safe_to_extend(uint64_t block_round, uint64_t qc_round, const cairn_tc *tc)
{
    return tc && consecutive(block_round, tc->round) && qc_round >= cairn_tc_max_hqc_round(tc);
}

int cairn_safety_may_vote(const cairn_safety_data *s, uint64_t block_round, uint64_t qc_round,
                          const cairn_tc *tc)
{
    if (block_round <= max_u64(s->highest_vote_round, qc_round)) return 0;
    return consecutive(block_round, qc_round) || safe_to_extend(block_round, qc_round, tc);
}

void cairn_safety_record_vote(cairn_safety_data *s, uint64_t block_round, uint64_t qc_round,
                              const uint8_t block_id[32], uint64_t height)
{
    s->highest_qc_round = max_u64(s->highest_qc_round, qc_round);
    s->highest_vote_round = max_u64(s->highest_vote_round, block_round);
    s->last_vote_round = block_round;
    memcpy(s->last_vote_block, block_id, 32);
    s->last_vote_height = height;
}

int cairn_safety_may_timeout(const cairn_safety_data *s, uint64_t round, uint64_t qc_round,
                             const cairn_tc *tc)
{
    if (qc_round < s->highest_qc_round) return 0;
    /* round > max(highest_vote_round - 1, qc_round), written without unsigned underflow. */
    if (round + 1 <= s->highest_vote_round || round <= qc_round) return 0;
    return consecutive(round, qc_round) || (tc && consecutive(round, tc->round));
}

void cairn_safety_record_timeout(cairn_safety_data *s, uint64_t round)
{
    s->highest_vote_round = max_u64(s->highest_vote_round, round);
}

int cairn_safety_commits_parent(uint64_t certified_round, uint64_t parent_round)
{
    return consecutive(certified_round, parent_round);
}
