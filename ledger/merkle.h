/*
 * merkle.h — RFC 9162 Merkle tree hashing, proof shapes and strict proof verification.
 *
 * Pure functions: no storage, no allocation. Section numbers refer to RFC 9162 (Certificate
 * Transparency v2.0). A "range" [begin, end) names MTH(D[begin:end]), the Merkle Tree Hash of
 * leaves begin..end-1; every range in an RFC 9162 proof has begin aligned to a power of two that
 * is >= its length, so its hash is a fold of at most 64 perfect subtrees.
 */
#ifndef CAIRN_LEDGER_MERKLE_H
#define CAIRN_LEDGER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/hash.h"

/* An inclusion proof has at most 64 hashes, a consistency proof at most 65 (2^64 leaves). */
#define CAIRN_MERKLE_MAX_PROOF 66

typedef struct cairn_merkle_range {
    uint64_t begin, end;
} cairn_merkle_range;

/* Leaf hash, RFC 9162 2.1.1: SHA-256(0x00 || leaf). */
void cairn_merkle_hash_leaf(uint8_t out[CAIRN_HASH_LEN], const void *leaf, size_t len);

/* Interior node hash, RFC 9162 2.1.1: SHA-256(0x01 || left || right). out may alias an input. */
void cairn_merkle_hash_children(uint8_t out[CAIRN_HASH_LEN], const uint8_t left[CAIRN_HASH_LEN],
                                const uint8_t right[CAIRN_HASH_LEN]);

/* Root of the empty tree: SHA-256 of the empty string. */
void cairn_merkle_empty_root(uint8_t out[CAIRN_HASH_LEN]);

/*
 * Proof shapes. Write the ranges whose hashes form the proof, in the order RFC 9162 lists them
 * (2.1.3.1 PATH: from the leaf upward; 2.1.4.1 PROOF), to out (capacity CAIRN_MERKLE_MAX_PROOF)
 * and return their number. Preconditions are the caller's: index < size; 0 < first <= second.
 */
size_t cairn_merkle_inclusion_ranges(uint64_t index, uint64_t size, cairn_merkle_range *out);
size_t cairn_merkle_consistency_ranges(uint64_t first, uint64_t second, cairn_merkle_range *out);

/*
 * Callback that returns the hash of the perfect subtree of height `level` whose leftmost leaf is
 * index << level. Returns 0 or a negative CAIRN_E* code.
 */
typedef int (*cairn_merkle_node_fn)(void *ctx, unsigned level, uint64_t index,
                                    uint8_t out[CAIRN_HASH_LEN]);

/*
 * MTH(D[r.begin:r.end]) from perfect-subtree hashes supplied by node_fn. The range must be
 * non-empty with begin aligned as described above (CAIRN_EINVAL otherwise).
 */
CAIRN_MUST_CHECK int cairn_merkle_range_hash(cairn_merkle_range r, cairn_merkle_node_fn node_fn,
                                             void *ctx, uint8_t out[CAIRN_HASH_LEN]);

/*
 * Inclusion verification, RFC 9162 2.1.3.2. Returns 0 when path proves leaf_hash at index in
 * the tree of `size` leaves with root `root`; CAIRN_ELOG_INDEX if index >= size,
 * CAIRN_EPROOF_LENGTH for a path with a hash too many or too few, CAIRN_EPROOF_MISMATCH when
 * the recomputed root differs.
 */
CAIRN_MUST_CHECK int cairn_merkle_verify_inclusion(const uint8_t leaf_hash[CAIRN_HASH_LEN],
                                                   uint64_t index, uint64_t size,
                                                   const uint8_t (*path)[CAIRN_HASH_LEN],
                                                   size_t path_len,
                                                   const uint8_t root[CAIRN_HASH_LEN]);

/* The root the path implies (same checks as above, except the final comparison). */
CAIRN_MUST_CHECK int cairn_merkle_root_from_inclusion(const uint8_t leaf_hash[CAIRN_HASH_LEN],
                                                      uint64_t index, uint64_t size,
                                                      const uint8_t (*path)[CAIRN_HASH_LEN],
                                                      size_t path_len,
                                                      uint8_t root_out[CAIRN_HASH_LEN]);

/*
 * Consistency verification, RFC 9162 2.1.4.2. first == second needs an empty proof and equal
 * roots; first == 0 needs an empty proof (the empty tree is a prefix of every tree). Returns
 * 0, CAIRN_ELOG_ORDER if first > second, CAIRN_EPROOF_LENGTH, or CAIRN_EPROOF_MISMATCH.
 */
CAIRN_MUST_CHECK int cairn_merkle_verify_consistency(uint64_t first, uint64_t second,
                                                     const uint8_t first_root[CAIRN_HASH_LEN],
                                                     const uint8_t second_root[CAIRN_HASH_LEN],
                                                     const uint8_t (*proof)[CAIRN_HASH_LEN],
                                                     size_t proof_len);

/* Expected proof lengths, for strict length checks before any hashing. */
size_t cairn_merkle_inclusion_len(uint64_t index, uint64_t size);
size_t cairn_merkle_consistency_len(uint64_t first, uint64_t second);

#endif
