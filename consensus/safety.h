/*
 * safety.h — the safety rules of the two-chain protocol, kept small so they can be audited alone.
 *
 * Follows DiemBFT v4 (Baudet et al., "State Machine Replication in the Diem Blockchain", 2021),
 * section 4.2 "Safety", which is the two-chain Jolteon rule set (Gelashvili et al., "Jolteon and
 * Ditto: Network-Adaptive Efficient Consensus with Asynchronous Fallback", FC 2022, section 4,
 * Figure 2 "voting rule" and "timeout rule"). Only round numbers are compared; signatures were
 * checked by the caller.
 *
 * All functions are pure and total: they read or update one cairn_safety_data value and never
 * fail; the "may" functions answer 1 (allowed) or 0 (refused).
 */
#ifndef CAIRN_CONSENSUS_SAFETY_H
#define CAIRN_CONSENSUS_SAFETY_H

#include <stdint.h>

/* Quorum certificate: >= 2f+1 power voted for (epoch, round, block_id, height). */
typedef struct cairn_qc {
    uint64_t epoch;
    uint64_t round;
    uint64_t height;
    uint8_t block_id[32];
    uint64_t signers; /* bit i = validator i */
} cairn_qc;

/* Timeout certificate: >= 2f+1 power timed out in `round`; hqc_rounds[i] is the round of the
 * highest QC validator i reported (meaningful only where its signer bit is set). */
typedef struct cairn_tc {
    uint64_t epoch;
    uint64_t round;
    uint64_t signers;
    uint64_t hqc_rounds[64];
} cairn_tc;

/* The data that must be durable before a vote or timeout leaves the node. */
typedef struct cairn_safety_data {
    uint64_t epoch;
    uint64_t highest_vote_round; /* highest round voted or timed out in */
    uint64_t highest_qc_round;   /* highest QC round seen in a voted block (the "lock") */
    uint64_t last_vote_round;    /* the last vote, re-sent verbatim after a restart */
    uint8_t last_vote_block[32];
    uint64_t last_vote_height;
    cairn_qc high_qc; /* highest QC known when persisted: a restarted node resumes from it */
    int has_high_tc;  /* and the highest TC, so it can still time out in the round it was in */
    cairn_tc high_tc;
} cairn_safety_data;

/* Maximum reported high-QC round in a TC (0 for an empty signer set). */
uint64_t cairn_tc_max_hqc_round(const cairn_tc *tc);

/* Voting rule (DiemBFT v4 4.2 safe_to_vote, Jolteon Fig. 2): vote for a block of block_round
 * whose QC has qc_round only if block_round > max(highest_vote_round, qc_round) and either the
 * block directly follows its QC (block_round == qc_round + 1) or it follows a TC of round
 * block_round - 1 whose highest reported QC round is <= qc_round (safe_to_extend). tc may be
 * NULL. */
int cairn_safety_may_vote(const cairn_safety_data *s, uint64_t block_round, uint64_t qc_round,
                          const cairn_tc *tc);

/* Records a vote (make_vote): raises highest_vote_round and the lock, stores the vote. */
void cairn_safety_record_vote(cairn_safety_data *s, uint64_t block_round, uint64_t qc_round,
                              const uint8_t block_id[32], uint64_t height);

/* Timeout rule (DiemBFT v4 4.2 safe_to_timeout): time out in round with a high QC of qc_round
 * only if qc_round >= highest_qc_round, round > max(highest_vote_round - 1, qc_round), and the
 * node entered round through that QC (round == qc_round + 1) or through a TC of round - 1. */
int cairn_safety_may_timeout(const cairn_safety_data *s, uint64_t round, uint64_t qc_round,
                             const cairn_tc *tc);

/* Records a timeout (make_timeout): no vote in round afterwards. */
void cairn_safety_record_timeout(cairn_safety_data *s, uint64_t round);

/* Two-chain commit rule (DiemBFT v4 4.2 commit_state_id_candidate; Jolteon section 4 "commit
 * rule"): a QC on a block of certified_round commits that block's parent iff the parent's round
 * is certified_round - 1. Returns 1 if the parent commits. */
int cairn_safety_commits_parent(uint64_t certified_round, uint64_t parent_round);

#endif
