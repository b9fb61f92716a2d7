#include "ledger/merkle.h"

#include <string.h>

void cairn_merkle_hash_leaf(uint8_t out[CAIRN_HASH_LEN], const void *leaf, size_t len)
{
    static const uint8_t prefix = 0x00;
    cairn_sha256 h;
    cairn_sha256_init(&h);
    cairn_sha256_update(&h, &prefix, 1);
    cairn_sha256_update(&h, leaf, len);
    cairn_sha256_final(&h, out);
}

void cairn_merkle_hash_children(uint8_t out[CAIRN_HASH_LEN], const uint8_t left[CAIRN_HASH_LEN],
                                const uint8_t right[CAIRN_HASH_LEN])
{
    uint8_t buf[1 + 2 * CAIRN_HASH_LEN];
    buf[0] = 0x01;
    memcpy(buf + 1, left, CAIRN_HASH_LEN);
    memcpy(buf + 1 + CAIRN_HASH_LEN, right, CAIRN_HASH_LEN);
    cairn_sha256_oneshot(out, buf, sizeof buf);
}

void cairn_merkle_empty_root(uint8_t out[CAIRN_HASH_LEN])
{
    cairn_sha256_oneshot(out, "", 0);
}

/* Largest power of two strictly less than n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/* RFC 9162 2.1.3.1 PATH(m, D[begin:end]), emitted leaf-first. */
static size_t path_ranges(uint64_t m, uint64_t begin, uint64_t end, cairn_merkle_range *out)
{
    size_t n = 0;
    cairn_merkle_range stack[CAIRN_MERKLE_MAX_PROOF];
    /* Walk from the root down, remembering siblings; emit them in reverse (leaf first). */
    while (end - begin > 1) {
        uint64_t k = split_point(end - begin);
        if (m - begin < k) {
            stack[n++] = (cairn_merkle_range){begin + k, end};
            end = begin + k;
        } else {
            stack[n++] = (cairn_merkle_range){begin, begin + k};
            begin += k;
        }
    }
    for (size_t i = 0; i < n; i++) out[i] = stack[n - 1 - i];
    return n;
}

size_t cairn_merkle_inclusion_ranges(uint64_t index, uint64_t size, cairn_merkle_range *out)
{
    return path_ranges(index, 0, size, out);
}

/* RFC 9162 2.1.4.1 SUBPROOF(m, D[begin:end], b). */
size_t cairn_merkle_consistency_ranges(uint64_t first, uint64_t second, cairn_merkle_range *out)
{
    if (first == 0 || first >= second) return 0;
    cairn_merkle_range stack[CAIRN_MERKLE_MAX_PROOF];
    size_t n = 0;
    uint64_t m = first, begin = 0, end = second;
    int whole = 1; /* the b flag: true while D[0:m] is the whole of the original first tree */
    for (;;) {
        uint64_t len = end - begin;
        if (m == len) {
            if (!whole) stack[n++] = (cairn_merkle_range){begin, end};
            break;
        }
        uint64_t k = split_point(len);
        if (m <= k) {
            stack[n++] = (cairn_merkle_range){begin + k, end};
            end = begin + k;
        } else {
            stack[n++] = (cairn_merkle_range){begin, begin + k};
            m -= k;
            begin += k;
            whole = 0;
        }
    }
    for (size_t i = 0; i < n; i++) out[i] = stack[n - 1 - i];
    return n;
}

size_t cairn_merkle_inclusion_len(uint64_t index, uint64_t size)
{
    cairn_merkle_range r[CAIRN_MERKLE_MAX_PROOF];
    return index < size ? cairn_merkle_inclusion_ranges(index, size, r) : 0;
}

size_t cairn_merkle_consistency_len(uint64_t first, uint64_t second)
{
    cairn_merkle_range r[CAIRN_MERKLE_MAX_PROOF];
    return cairn_merkle_consistency_ranges(first, second, r);
}

int cairn_merkle_range_hash(cairn_merkle_range r, cairn_merkle_node_fn node_fn, void *ctx,
                            uint8_t out[CAIRN_HASH_LEN])
{
    if (r.end <= r.begin) return CAIRN_EINVAL;
    uint64_t len = r.end - r.begin;
    unsigned top = 63 - (unsigned)__builtin_clzll(len); /* height of the largest piece */
    if (len & (len - 1)) top++;                         /* the range's own height */
    if (top < 64 && (r.begin & (((uint64_t)1 << top) - 1)) != 0) return CAIRN_EINVAL;

    /* Decompose into perfect subtrees, largest first, then fold from the right. */
    uint8_t pieces[64][CAIRN_HASH_LEN];
    size_t np = 0;
    uint64_t pos = r.begin;
    for (int level = 63; level >= 0; level--) {
        if (len & ((uint64_t)1 << level)) {
            int rc = node_fn(ctx, (unsigned)level, pos >> level, pieces[np]);
            if (rc != 0) return rc;
            np++;
            pos += (uint64_t)1 << level;
        }
    }
    memcpy(out, pieces[np - 1], CAIRN_HASH_LEN);
    for (size_t i = np - 1; i-- > 0;) cairn_merkle_hash_children(out, pieces[i], out);
    return 0;
}

int cairn_merkle_root_from_inclusion(const uint8_t leaf_hash[CAIRN_HASH_LEN], uint64_t index,
                                     uint64_t size, const uint8_t (*path)[CAIRN_HASH_LEN],
                                     size_t path_len, uint8_t root_out[CAIRN_HASH_LEN])
{
    if (index >= size) return CAIRN_ELOG_INDEX;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[CAIRN_HASH_LEN];
    memcpy(r, leaf_hash, CAIRN_HASH_LEN);
    for (size_t i = 0; i < path_len; i++) {
        if (sn == 0) return CAIRN_EPROOF_LENGTH; /* a hash too many */
        if ((fn & 1) || fn == sn) {
            cairn_merkle_hash_children(r, path[i], r);
            if (!(fn & 1)) {
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            cairn_merkle_hash_children(r, r, path[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) return CAIRN_EPROOF_LENGTH; /* a hash too few */
    memcpy(root_out, r, CAIRN_HASH_LEN);
    return 0;
}

int cairn_merkle_verify_inclusion(const uint8_t leaf_hash[CAIRN_HASH_LEN], uint64_t index,
                                  uint64_t size, const uint8_t (*path)[CAIRN_HASH_LEN],
                                  size_t path_len, const uint8_t root[CAIRN_HASH_LEN])
{
    uint8_t got[CAIRN_HASH_LEN];
    int rc = cairn_merkle_root_from_inclusion(leaf_hash, index, size, path, path_len, got);
    if (rc != 0) return rc;
    return memcmp(got, root, CAIRN_HASH_LEN) == 0 ? 0 : CAIRN_EPROOF_MISMATCH;
}

int cairn_merkle_verify_consistency(uint64_t first, uint64_t second,
                                    const uint8_t first_root[CAIRN_HASH_LEN],
                                    const uint8_t second_root[CAIRN_HASH_LEN],
                                    const uint8_t (*proof)[CAIRN_HASH_LEN], size_t proof_len)
{
    if (first > second) return CAIRN_ELOG_ORDER;
    if (first == 0 || first == second) {
        if (proof_len != 0) return CAIRN_EPROOF_LENGTH;
        if (first == 0) return 0;
        return memcmp(first_root, second_root, CAIRN_HASH_LEN) == 0 ? 0 : CAIRN_EPROOF_MISMATCH;
    }
    /* RFC 9162 2.1.4.2 step 1: a non-trivial proof is never empty. */
    if (proof_len == 0) return CAIRN_EPROOF_LENGTH;

    /* Step 2: when first is a power of two, first_root is the proof's implicit first element. */
    size_t i = 0;
    const uint8_t *seed;
    if ((first & (first - 1)) == 0) {
        seed = first_root;
    } else {
        seed = proof[0];
        i = 1;
    }
    uint64_t fn = first - 1, sn = second - 1;
    while (fn & 1) { /* step 4 */
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[CAIRN_HASH_LEN], sr[CAIRN_HASH_LEN];
    memcpy(fr, seed, CAIRN_HASH_LEN);
    memcpy(sr, seed, CAIRN_HASH_LEN);
    for (; i < proof_len; i++) {
        if (sn == 0) return CAIRN_EPROOF_LENGTH;
        if ((fn & 1) || fn == sn) {
            cairn_merkle_hash_children(fr, proof[i], fr);
            cairn_merkle_hash_children(sr, proof[i], sr);
            if (!(fn & 1)) {
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            cairn_merkle_hash_children(sr, sr, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) return CAIRN_EPROOF_LENGTH;
    if (memcmp(fr, first_root, CAIRN_HASH_LEN) != 0 || memcmp(sr, second_root, CAIRN_HASH_LEN) != 0)
        return CAIRN_EPROOF_MISMATCH;
    return 0;
}
