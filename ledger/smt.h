/*
 * smt.h — Cairn's authenticated state: a versioned sparse Merkle tree over 32-byte keys, stored
 * in LMDB, with compact membership and non-membership proofs and a pure offline verifier.
 *
 * The tree (docs/state.md): a binary Merkle tree of depth 256 indexed by the key's bits
 * (most significant bit of key[0] first; 0 = left), in which every subtree holding no key is
 * EMPTY (32 zero bytes) and every subtree holding exactly one key is that key's leaf hash, so
 * a key sits as close to the root as its shortest unique prefix allows:
 *
 *   value_hash = H(TAG("CAIRN-SMT-VALUE-V1") || value)
 *   leaf       = H(TAG("CAIRN-SMT-LEAF-V1")  || key || value_hash)
 *   node       = H(TAG("CAIRN-SMT-NODE-V1")  || left || right)   (subtree with >= 2 keys)
 *
 * with TAG(x) = the ASCII bytes of x and one 0x00 byte. The root depends only on the set of
 * (key, value) pairs, never on the order or batching of updates.
 *
 * Versions: cairn_smt_apply writes a new version (the block height) whose root is stored in
 * state.roots. Every version ever applied stays readable: stored nodes are immutable, keyed by
 * the version that wrote them, and a new version writes only the nodes on changed paths.
 * Nothing is ever pruned (docs/state.md says what pruning would take).
 *
 * Storage (tables reserved in ledger/store.h; layout in docs/state.md):
 *   state.nodes   u64be version || u8 depth || packed nibble path -> 16-way node
 *   state.values  u64be version || key(32) -> value_hash(32) || value
 *   state.roots   u64be version -> root(32) || u64be root node version || u8 layout (2)
 *   meta          "state.latest" -> u64be latest applied version
 *
 * Errors: 0 or a negative CAIRN_E* code. Storage errors come from ledger/store.h (and poison a
 * write transaction); CAIRN_ESTATE_VERSION for a version never applied; CAIRN_ESTATE_FORMAT for a
 * tree written in another layout (e.g. by a pre-release build); CAIRN_ESTORE_CORRUPT for
 * stored state that breaks the tree's invariants (a missing or malformed node or value record),
 * which the caller must treat like any storage corruption: stop, never guess.
 *
 * Threads and allocation: no global state. cairn_smt_apply allocates working memory with malloc
 * (about 1 KiB per changed node) and frees it before returning; reads and proofs use the stack
 * only. Any number of read transactions may read and prove while one writer applies.
 */
#ifndef CAIRN_LEDGER_SMT_H
#define CAIRN_LEDGER_SMT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/hash.h"
#include "ledger/store.h"

#define CAIRN_SMT_KEY_LEN 32
/* Largest value the tree stores, in bytes. */
#define CAIRN_SMT_MAX_VALUE ((size_t)64 << 10)
/* Largest possible proof encoding (a leaf 256 levels down with every sibling present); real
 * proofs are about 3 + log2(n)/8 + 32 * log2(n) bytes for n keys (about 700 bytes for 10^6). */
#define CAIRN_SMT_MAX_PROOF (3 + 32 + 64 + 256 * 32)

/* Proof kinds (first byte of an encoded proof). */
#define CAIRN_SMT_PROOF_MEMBER       0 /* the key's own leaf */
#define CAIRN_SMT_PROOF_ABSENT_EMPTY 1 /* the key's path ends in an empty subtree */
#define CAIRN_SMT_PROOF_ABSENT_LEAF  2 /* the key's path ends in another key's leaf */

/* One update of a batch. value == NULL deletes the key (len must be 0); any other value,
 * including an empty one (non-NULL, len 0), is stored. The tree does not keep the pointer. A
 * value must not point into the store (e.g. straight from cairn_smt_get on the same write
 * transaction): LMDB may move such bytes on the first write of the batch; copy them first. */
typedef struct cairn_smt_update {
    uint8_t key[CAIRN_SMT_KEY_LEN];
    const uint8_t *value;
    size_t len;
} cairn_smt_update;

/*
 * Applies a batch as version `version` inside write transaction t and writes the new root to
 * root_out (may be NULL). version must be greater than every version applied before
 * (CAIRN_ESTATE_VERSION_ORDER); gaps are allowed. The batch is sorted by key internally and the
 * last update of a key wins, so the result does not depend on the batch order. Deleting an
 * absent key and putting the value a key already has are no-ops (nothing is written for them);
 * n == 0 records the previous root (the empty root for a first version).
 * CAIRN_EINVAL for a NULL value with len != 0, CAIRN_ETOOBIG for a value over
 * CAIRN_SMT_MAX_VALUE; those are checked before anything is written. Costs O(n log n) node
 * writes and one value write per put. On any error the caller must abort t.
 */
CAIRN_MUST_CHECK int cairn_smt_apply(cairn_txn *t, uint64_t version, const cairn_smt_update *ups,
                                     size_t n, uint8_t root_out[CAIRN_HASH_LEN]);

/* The latest applied version; CAIRN_ENOENT if none was ever applied. */
CAIRN_MUST_CHECK int cairn_smt_latest(cairn_txn *t, uint64_t *version);

/* The root of `version`; CAIRN_ESTATE_VERSION if that version was never applied. */
CAIRN_MUST_CHECK int cairn_smt_root(cairn_txn *t, uint64_t version, uint8_t root[CAIRN_HASH_LEN]);

/*
 * The value of key as of `version`. On success *val points into the store and stays valid until
 * the next update in t or t's end. CAIRN_ENOENT if the key was absent at that version,
 * CAIRN_ESTATE_VERSION if the version was never applied.
 */
CAIRN_MUST_CHECK int cairn_smt_get(cairn_txn *t, uint64_t version,
                                   const uint8_t key[CAIRN_SMT_KEY_LEN], const uint8_t **val,
                                   size_t *len);

/*
 * A proof for key against the root of `version`: membership when the key was present, else
 * non-membership. Writes *proof_len bytes to proof (capacity cap; CAIRN_ENOSPC if too small,
 * CAIRN_SMT_MAX_PROOF always suffices). If val is not NULL it receives the value as in
 * cairn_smt_get, or NULL (with *len = 0) when the key was absent; len may be NULL only if val
 * is. CAIRN_ESTATE_VERSION if the version was never applied.
 */
CAIRN_MUST_CHECK int cairn_smt_prove(cairn_txn *t, uint64_t version,
                                     const uint8_t key[CAIRN_SMT_KEY_LEN], uint8_t *proof,
                                     size_t cap, size_t *proof_len, const uint8_t **val,
                                     size_t *len);

/*
 * Pure proof verification (cairn_ledger_core: no storage, no allocation). Returns 0 when proof
 * shows key -> value (value != NULL; value_len bytes, possibly 0) or that key is absent
 * (value == NULL) in the tree with this root. Errors:
 *   CAIRN_ETRUNCATED        the proof is shorter than its header announces
 *   CAIRN_ETRAILING         bytes after the proof
 *   CAIRN_ESTATE_PROOF_FORMAT  malformed or non-canonical encoding (unknown kind, depth > 256,
 *                           nonzero padding bits, an explicit empty sibling, a missing deepest
 *                           sibling, a neighbour leaf off the key's path)
 *   CAIRN_ESTATE_PROOF_KIND a membership proof for an absence claim or vice versa
 *   CAIRN_ETOOBIG           value_len > CAIRN_SMT_MAX_VALUE
 *   CAIRN_ESTATE_PROOF      well-formed, but it does not lead to root
 * Encoding (docs/state.md): u8 kind || u16be depth || bitmap (ceil(depth/8) bytes, bit i, most
 * significant first, set when the sibling at depth i is not empty) || [kind 2: neighbour key ||
 * neighbour value_hash] || the non-empty siblings, 32 bytes each, from the root downward.
 */
CAIRN_MUST_CHECK int cairn_smt_verify(const uint8_t root[CAIRN_HASH_LEN],
                                      const uint8_t key[CAIRN_SMT_KEY_LEN], const uint8_t *value,
                                      size_t value_len, const uint8_t *proof, size_t proof_len);

/*
 * The root a well-formed proof implies for key and value_hash (NULL for an absence claim):
 * the same checks as cairn_smt_verify except the final comparison. Lets a verifier that holds a
 * value's hash, not the value, check a proof.
 */
CAIRN_MUST_CHECK int cairn_smt_proof_root(const uint8_t key[CAIRN_SMT_KEY_LEN],
                                          const uint8_t *value_hash, const uint8_t *proof,
                                          size_t proof_len, uint8_t root_out[CAIRN_HASH_LEN]);

/* value_hash = H(TAG("CAIRN-SMT-VALUE-V1") || value). */
void cairn_smt_hash_value(uint8_t out[CAIRN_HASH_LEN], const uint8_t *value, size_t len);

/* leaf = H(TAG("CAIRN-SMT-LEAF-V1") || key || value_hash). */
void cairn_smt_hash_leaf(uint8_t out[CAIRN_HASH_LEN], const uint8_t key[CAIRN_SMT_KEY_LEN],
                         const uint8_t value_hash[CAIRN_HASH_LEN]);

/* node = H(TAG("CAIRN-SMT-NODE-V1") || left || right). out may alias an input. */
void cairn_smt_hash_node(uint8_t out[CAIRN_HASH_LEN], const uint8_t left[CAIRN_HASH_LEN],
                         const uint8_t right[CAIRN_HASH_LEN]);

/* The root of the empty tree: 32 zero bytes. */
void cairn_smt_empty_root(uint8_t out[CAIRN_HASH_LEN]);

#endif
