/*
 * smt_proof.c — the pure half of ledger/smt.h: the tree's hash functions and the strict proof
 * verifier. No storage, no allocation; part of cairn_ledger_core so offline verifiers and
 * consensus can link it without LMDB.
 */
#include <string.h>

#include "ledger/bytes.h"
#include "ledger/smt.h"

/* TAG(x): the ASCII bytes of x and one 0x00 byte (docs/formats.md). */
static const char TAG_VALUE[] = "CAIRN-SMT-VALUE-V1";
static const char TAG_LEAF[] = "CAIRN-SMT-LEAF-V1";
static const char TAG_NODE[] = "CAIRN-SMT-NODE-V1";

static const uint8_t ZERO[CAIRN_HASH_LEN];

void cairn_smt_hash_value(uint8_t out[CAIRN_HASH_LEN], const uint8_t *value, size_t len)
{
    cairn_sha256 h;
    cairn_sha256_init(&h);
    cairn_sha256_update(&h, TAG_VALUE, sizeof TAG_VALUE); /* sizeof includes the NUL */
    if (len) cairn_sha256_update(&h, value, len);
    cairn_sha256_final(&h, out);
}

/*
 * H(tag || a || b) for the 18-byte leaf and node tags: 82 bytes, which with SHA-256's padding
 * (FIPS 180-4, 5.1.1: 0x80, zeros, the bit length as u64be) are exactly two blocks, compressed
 * directly. The result is plain SHA-256 (the known-answer tests pin it); this only skips the
 * buffering of the streaming interface (about 15% of a node hash on the project machine).
 */
#define PAIR_INPUT (18 + 2 * CAIRN_HASH_LEN)
_Static_assert(sizeof TAG_LEAF == 18 && sizeof TAG_NODE == 18, "tags must fill 18 bytes");

static void hash_tag_pair(uint8_t out[CAIRN_HASH_LEN], const char tag[18],
                          const uint8_t a[CAIRN_HASH_LEN], const uint8_t b[CAIRN_HASH_LEN])
{
    uint8_t blk[128];
    memcpy(blk, tag, 18);
    memcpy(blk + 18, a, CAIRN_HASH_LEN);
    memcpy(blk + 18 + CAIRN_HASH_LEN, b, CAIRN_HASH_LEN);
    blk[PAIR_INPUT] = 0x80;
    memset(blk + PAIR_INPUT + 1, 0, 128 - 8 - (PAIR_INPUT + 1));
    cairn_put_u64be(blk + 120, (uint64_t)PAIR_INPUT * 8);
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Transform(&c, blk);
    SHA256_Transform(&c, blk + 64);
    for (int i = 0; i < 8; i++) cairn_put_u32be(out + 4 * i, (uint32_t)c.h[i]);
}

void cairn_smt_hash_leaf(uint8_t out[CAIRN_HASH_LEN], const uint8_t key[CAIRN_SMT_KEY_LEN],
                         const uint8_t value_hash[CAIRN_HASH_LEN])
{
    hash_tag_pair(out, TAG_LEAF, key, value_hash);
}

void cairn_smt_hash_node(uint8_t out[CAIRN_HASH_LEN], const uint8_t left[CAIRN_HASH_LEN],
                         const uint8_t right[CAIRN_HASH_LEN])
{
    hash_tag_pair(out, TAG_NODE, left, right);
}

void cairn_smt_empty_root(uint8_t out[CAIRN_HASH_LEN])
{
    memset(out, 0, CAIRN_HASH_LEN);
}

/* Bit i of a key, most significant bit of key[0] first. */
static unsigned key_bit(const uint8_t *key, unsigned i)
{
    return (unsigned)(key[i >> 3] >> (7 - (i & 7))) & 1u;
}

int cairn_smt_proof_root(const uint8_t key[CAIRN_SMT_KEY_LEN], const uint8_t *value_hash,
                         const uint8_t *proof, size_t proof_len, uint8_t root_out[CAIRN_HASH_LEN])
{
    /* Decode: the header fixes the exact length before anything is hashed. */
    if (proof_len < 3) return CAIRN_ETRUNCATED;
    unsigned kind = proof[0], depth = cairn_get_u16be(proof + 1);
    if (kind > CAIRN_SMT_PROOF_ABSENT_LEAF || depth > 8 * CAIRN_SMT_KEY_LEN)
        return CAIRN_ESTATE_PROOF_FORMAT;
    size_t bm_len = (depth + 7) / 8;
    if (proof_len < 3 + bm_len) return CAIRN_ETRUNCATED;
    const uint8_t *bm = proof + 3;
    if (depth % 8 && (bm[bm_len - 1] & (0xffu >> (depth % 8))) != 0)
        return CAIRN_ESTATE_PROOF_FORMAT; /* padding bits must be zero */
    size_t present = 0;
    for (size_t i = 0; i < bm_len; i++) present += (size_t)__builtin_popcount(bm[i]);
    /* In the canonical tree the deepest sibling is never empty: otherwise the subtree above it
     * would hold the same keys and the path would have ended one level higher. */
    if (depth > 0 && !key_bit(bm, depth - 1)) return CAIRN_ESTATE_PROOF_FORMAT;
    size_t extra = kind == CAIRN_SMT_PROOF_ABSENT_LEAF ? CAIRN_SMT_KEY_LEN + CAIRN_HASH_LEN : 0;
    size_t need = 3 + bm_len + extra + present * CAIRN_HASH_LEN;
    if (proof_len < need) return CAIRN_ETRUNCATED;
    if (proof_len > need) return CAIRN_ETRAILING;
    if ((value_hash != NULL) != (kind == CAIRN_SMT_PROOF_MEMBER)) return CAIRN_ESTATE_PROOF_KIND;

    const uint8_t *sib = proof + 3 + bm_len + extra;
    for (size_t i = 0; i < present; i++)
        if (memcmp(sib + i * CAIRN_HASH_LEN, ZERO, CAIRN_HASH_LEN) == 0)
            return CAIRN_ESTATE_PROOF_FORMAT; /* an empty sibling is encoded by its bit only */

    uint8_t h[CAIRN_HASH_LEN];
    if (kind == CAIRN_SMT_PROOF_MEMBER) {
        cairn_smt_hash_leaf(h, key, value_hash);
    } else if (kind == CAIRN_SMT_PROOF_ABSENT_EMPTY) {
        memset(h, 0, sizeof h);
    } else {
        const uint8_t *nkey = proof + 3 + bm_len;
        if (memcmp(nkey, key, CAIRN_SMT_KEY_LEN) == 0) return CAIRN_ESTATE_PROOF_FORMAT;
        for (unsigned i = 0; i < depth; i++)
            if (key_bit(nkey, i) != key_bit(key, i)) return CAIRN_ESTATE_PROOF_FORMAT;
        cairn_smt_hash_leaf(h, nkey, nkey + CAIRN_SMT_KEY_LEN);
    }

    /* Fold from the deepest level up to the root. */
    const uint8_t *next = sib + present * CAIRN_HASH_LEN;
    for (unsigned i = depth; i-- > 0;) {
        const uint8_t *s = ZERO;
        if (key_bit(bm, i)) {
            next -= CAIRN_HASH_LEN;
            s = next;
        }
        if (key_bit(key, i))
            cairn_smt_hash_node(h, s, h);
        else
            cairn_smt_hash_node(h, h, s);
    }
    memcpy(root_out, h, CAIRN_HASH_LEN);
    return 0;
}

int cairn_smt_verify(const uint8_t root[CAIRN_HASH_LEN], const uint8_t key[CAIRN_SMT_KEY_LEN],
                     const uint8_t *value, size_t value_len, const uint8_t *proof, size_t proof_len)
{
    uint8_t vh[CAIRN_HASH_LEN], implied[CAIRN_HASH_LEN];
    if (value) {
        if (value_len > CAIRN_SMT_MAX_VALUE) return CAIRN_ETOOBIG;
        cairn_smt_hash_value(vh, value, value_len);
    }
    int err = cairn_smt_proof_root(key, value ? vh : NULL, proof, proof_len, implied);
    if (err) return err;
    return memcmp(implied, root, CAIRN_HASH_LEN) == 0 ? 0 : CAIRN_ESTATE_PROOF;
}
