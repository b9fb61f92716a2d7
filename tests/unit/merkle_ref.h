/*
 * merkle_ref.h — the naive reference for the Merkle tests: RFC 9162 2.1.1 MTH, 2.1.3.1 PATH and
 * 2.1.4.1 SUBPROOF written recursively straight from the RFC, over an array of leaf hashes.
 * Deliberately slow and simple; the code under test must agree with it exactly.
 */
#ifndef CAIRN_TESTS_MERKLE_REF_H
#define CAIRN_TESTS_MERKLE_REF_H

#include <stdint.h>
#include <string.h>

#include "ledger/merkle.h"

typedef uint8_t hash_t[CAIRN_HASH_LEN];

/* ---- the reference: RFC 9162 2.1.1 MTH, 2.1.3.1 PATH, 2.1.4.1 SUBPROOF, recursively ---- */

static inline uint64_t ref_k(uint64_t n)
{
    uint64_t k = 1;
    while (k * 2 < n) k *= 2;
    return k;
}

static inline void ref_mth(const hash_t *lh, uint64_t a, uint64_t b, uint8_t out[32])
{
    if (b - a == 0) {
        cairn_merkle_empty_root(out);
    } else if (b - a == 1) {
        memcpy(out, lh[a], 32);
    } else {
        uint64_t k = ref_k(b - a);
        uint8_t l[32], r[32], buf[65];
        ref_mth(lh, a, a + k, l);
        ref_mth(lh, a + k, b, r);
        buf[0] = 1;
        memcpy(buf + 1, l, 32);
        memcpy(buf + 33, r, 32);
        cairn_sha256_oneshot(out, buf, 65);
    }
}

static inline void ref_path(const hash_t *lh, uint64_t m, uint64_t a, uint64_t b, hash_t *out,
                            size_t *n)
{
    if (b - a <= 1) return;
    uint64_t k = ref_k(b - a);
    if (m - a < k) {
        ref_path(lh, m, a, a + k, out, n);
        ref_mth(lh, a + k, b, out[(*n)++]);
    } else {
        ref_path(lh, m, a + k, b, out, n);
        ref_mth(lh, a, a + k, out[(*n)++]);
    }
}

static inline void ref_subproof(const hash_t *lh, uint64_t m, uint64_t a, uint64_t b, int whole,
                                hash_t *out, size_t *n)
{
    if (m == b - a) {
        if (!whole) ref_mth(lh, a, b, out[(*n)++]);
        return;
    }
    uint64_t k = ref_k(b - a);
    if (m <= k) {
        ref_subproof(lh, m, a, a + k, whole, out, n);
        ref_mth(lh, a + k, b, out[(*n)++]);
    } else {
        ref_subproof(lh, m - k, a + k, b, 0, out, n);
        ref_mth(lh, a, a + k, out[(*n)++]);
    }
}

#endif
