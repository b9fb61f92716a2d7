/*
 * smt.c — the stored half of ledger/smt.h: a versioned sparse Merkle tree in LMDB.
 *
 * The binary tree of smt.h is stored in 16-way nodes, one per nibble of the key (Jellyfish
 * Merkle Tree style): a stored node at nibble depth d covers binary levels 4d .. 4d+4 and lists
 * its 16 slots, each empty, a leaf (key, leaf hash, version of the value) or a child node
 * (version of that node, its hash). A node also stores the hashes of its two 8-slot halves
 * (when a half holds at least two keys), so a write that changes one half rehashes only that
 * half (at most 8 hashes instead of 15) and a proof step hashes at most 4; the other binary
 * hashes inside a node are recomputed when needed. A path of log16(n) node reads thus yields a
 * proof of log2(n) hashes.
 *
 * Invariants of a stored tree (checked where cheap; violations are CAIRN_ESTORE_CORRUPT):
 * - every non-root node holds at least two keys in its subtree (a single key is a leaf slot in
 *   its parent; no keys is an empty slot);
 * - a node is written once, under the version that created it, and never modified;
 * - the root node (depth 0) always exists for an applied version, possibly with no slots.
 *
 * Node encoding: u16be slot bitmap || u16be leaf bitmap (a subset) || per slot in nibble order:
 *   leaf:  u64be value version || key(32) || leaf hash(32)
 *   node:  u64be node version  || node hash(32)
 * then, for each half (slots 0-7, then 8-15) that holds two or more keys, its hash(32).
 * Value record (state.values): value_hash(32) || value. Leaves keep their leaf hash, not the
 * value hash, so rewriting a node or proving hashes no leaves; the value hash is needed only for
 * a neighbour leaf in a non-membership proof, which reads it from the record.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/bytes.h"
#include "ledger/smt.h"

enum { K_EMPTY = 0, K_LEAF = 1, K_NODE = 2 };

#define NODE_KEY_MAX (8 + 1 + CAIRN_SMT_KEY_LEN)
#define NODE_VAL_MAX (4 + 16 * (8 + CAIRN_SMT_KEY_LEN + CAIRN_HASH_LEN) + 2 * CAIRN_HASH_LEN)
#define MAX_NIBBLES  (2 * CAIRN_SMT_KEY_LEN)

static const char LATEST_KEY[] = "state.latest";

/* Layout version of nodes, values and roots, the last byte of every root record. */
#define STATE_FORMAT 2u
#define ROOT_REC_LEN (CAIRN_HASH_LEN + 8 + 1)

typedef struct child {
    uint8_t kind;
    uint64_t ver;                   /* leaf: version of its value; node: version of the node */
    uint8_t hash[CAIRN_HASH_LEN];   /* leaf hash or node hash */
    uint8_t key[CAIRN_SMT_KEY_LEN]; /* leaf only */
} child;

typedef struct node {
    child c[16];
    uint8_t half[2][CAIRN_HASH_LEN]; /* hashes of slots 0-7 and 8-15, where half_ok */
    uint8_t half_ok[2];
} node;

/* 1 if the half h of a node with these slot and leaf bitmaps holds two or more keys. */
static int half_is_node(unsigned slots, unsigned leaves, unsigned h)
{
    unsigned m = slots >> (8 * h) & 0xffu;
    if (m == 0) return 0;
    return (m & (m - 1)) != 0 || !(leaves >> (8 * h) & m);
}

/* A binary subtree inside a node: a power-of-two range of slots. */
typedef struct hsub {
    uint8_t kind;
    uint8_t slot; /* for K_LEAF: the slot holding the leaf */
    uint8_t hash[CAIRN_HASH_LEN];
} hsub;

static unsigned nibble(const uint8_t *key, unsigned d)
{
    return d & 1 ? key[d >> 1] & 0xfu : key[d >> 1] >> 4;
}

/* state.nodes key: u64be version || u8 depth || the first depth nibbles of key, packed. */
static size_t node_key(uint8_t out[NODE_KEY_MAX], uint64_t ver, unsigned d, const uint8_t *key)
{
    size_t plen = (d + 1) / 2;
    cairn_put_u64be(out, ver);
    out[8] = (uint8_t)d;
    if (plen) memcpy(out + 9, key, plen);
    if (d & 1) out[9 + plen - 1] &= 0xf0;
    return 9 + plen;
}

static size_t node_encode(uint8_t out[NODE_VAL_MAX], const node *nd)
{
    uint16_t slots = 0, leaves = 0;
    size_t p = 4;
    for (unsigned i = 0; i < 16; i++) {
        const child *c = &nd->c[i];
        if (c->kind == K_EMPTY) continue;
        slots |= (uint16_t)(1u << i);
        cairn_put_u64be(out + p, c->ver);
        p += 8;
        if (c->kind == K_LEAF) {
            leaves |= (uint16_t)(1u << i);
            memcpy(out + p, c->key, CAIRN_SMT_KEY_LEN);
            memcpy(out + p + CAIRN_SMT_KEY_LEN, c->hash, CAIRN_HASH_LEN);
            p += CAIRN_SMT_KEY_LEN + CAIRN_HASH_LEN;
        } else {
            memcpy(out + p, c->hash, CAIRN_HASH_LEN);
            p += CAIRN_HASH_LEN;
        }
    }
    for (unsigned h = 0; h < 2; h++) {
        if (!half_is_node(slots, leaves, h)) continue;
        memcpy(out + p, nd->half[h], CAIRN_HASH_LEN); /* finalize computed it */
        p += CAIRN_HASH_LEN;
    }
    cairn_put_u16be(out, slots);
    cairn_put_u16be(out + 2, leaves);
    return p;
}

static int node_decode(node *nd, const uint8_t *v, size_t len)
{
    if (len < 4) return CAIRN_ESTORE_CORRUPT;
    unsigned slots = cairn_get_u16be(v), leaves = cairn_get_u16be(v + 2);
    if (leaves & ~slots) return CAIRN_ESTORE_CORRUPT;
    size_t p = 4;
    for (unsigned i = 0; i < 16; i++) {
        child *c = &nd->c[i];
        if (!(slots >> i & 1)) {
            c->kind = K_EMPTY;
            continue;
        }
        int leaf = leaves >> i & 1;
        size_t need = 8 + (leaf ? CAIRN_SMT_KEY_LEN + CAIRN_HASH_LEN : CAIRN_HASH_LEN);
        if (len - p < need) return CAIRN_ESTORE_CORRUPT;
        c->ver = cairn_get_u64be(v + p);
        p += 8;
        if (leaf) {
            c->kind = K_LEAF;
            memcpy(c->key, v + p, CAIRN_SMT_KEY_LEN);
            memcpy(c->hash, v + p + CAIRN_SMT_KEY_LEN, CAIRN_HASH_LEN);
            p += CAIRN_SMT_KEY_LEN + CAIRN_HASH_LEN;
        } else {
            c->kind = K_NODE;
            memcpy(c->hash, v + p, CAIRN_HASH_LEN);
            p += CAIRN_HASH_LEN;
        }
    }
    for (unsigned h = 0; h < 2; h++) {
        nd->half_ok[h] = (uint8_t)half_is_node(slots, leaves, h);
        if (!nd->half_ok[h]) continue;
        if (len - p < CAIRN_HASH_LEN) return CAIRN_ESTORE_CORRUPT;
        memcpy(nd->half[h], v + p, CAIRN_HASH_LEN);
        p += CAIRN_HASH_LEN;
    }
    return p == len ? 0 : CAIRN_ESTORE_CORRUPT;
}

/* The stored bytes of node (ver, depth d on key's path). */
static int node_raw(cairn_txn *t, uint64_t ver, unsigned d, const uint8_t *key, const uint8_t **v,
                    size_t *len)
{
    uint8_t k[NODE_KEY_MAX];
    size_t klen = node_key(k, ver, d, key);
    const void *p;
    int err = cairn_txn_get(t, CAIRN_TABLE_STATE_NODES, k, klen, &p, len);
    if (err == CAIRN_ENOENT) return CAIRN_ESTORE_CORRUPT; /* a parent points at it */
    if (err) return err;
    *v = p;
    return 0;
}

static int node_load(cairn_txn *t, uint64_t ver, unsigned d, const uint8_t *key, node *nd)
{
    const uint8_t *v;
    size_t len;
    int err = node_raw(t, ver, d, key, &v, &len);
    return err ? err : node_decode(nd, v, len);
}

#define LEAF_SLOT (8 + CAIRN_SMT_KEY_LEN + CAIRN_HASH_LEN)
#define NODE_SLOT (8 + CAIRN_HASH_LEN)

/*
 * Slot i of a stored node read in place (the whole-node length is still checked): its kind,
 * version and, for a leaf, a pointer to its key within v.
 */
static int node_slot(const uint8_t *v, size_t len, unsigned i, unsigned *kind, uint64_t *ver,
                     const uint8_t **key)
{
    if (len < 4) return CAIRN_ESTORE_CORRUPT;
    unsigned slots = cairn_get_u16be(v), leaves = cairn_get_u16be(v + 2), nodes = slots & ~leaves;
    if (leaves & ~slots) return CAIRN_ESTORE_CORRUPT;
    size_t halves = (size_t)(half_is_node(slots, leaves, 0) + half_is_node(slots, leaves, 1));
    if (len != 4 + (size_t)__builtin_popcount(leaves) * LEAF_SLOT +
                   (size_t)__builtin_popcount(nodes) * NODE_SLOT + halves * CAIRN_HASH_LEN)
        return CAIRN_ESTORE_CORRUPT;
    if (!(slots >> i & 1)) {
        *kind = K_EMPTY;
        return 0;
    }
    unsigned below = (1u << i) - 1;
    size_t off = 4 + (size_t)__builtin_popcount(leaves & below) * LEAF_SLOT +
                 (size_t)__builtin_popcount(nodes & below) * NODE_SLOT;
    *ver = cairn_get_u64be(v + off);
    *kind = leaves >> i & 1 ? K_LEAF : K_NODE;
    *key = v + off + 8;
    return 0;
}

/* Slots of nd that are occupied (bit i = slot i). */
static unsigned occupied(const node *nd)
{
    unsigned m = 0;
    for (unsigned i = 0; i < 16; i++)
        if (nd->c[i].kind != K_EMPTY) m |= 1u << i;
    return m;
}

/*
 * Kind of the slot range [lo, lo + size) under the compressed-tree rule, from occupancy alone:
 * no slot is empty, one leaf slot is that leaf, anything else is a node. *slot gets the leaf.
 */
static unsigned range_kind(const node *nd, unsigned occ, unsigned lo, unsigned size, unsigned *slot)
{
    unsigned m = occ >> lo & ((1u << size) - 1);
    if (m == 0) return K_EMPTY;
    if ((m & (m - 1)) == 0) {
        unsigned i = lo + (unsigned)__builtin_ctz(m);
        if (nd->c[i].kind == K_LEAF) {
            *slot = i;
            return K_LEAF;
        }
    }
    return K_NODE;
}

/* Hash of the slot range [lo, lo + size): EMPTY, the single leaf, or the nodes above. */
static void range_hash(const node *nd, unsigned occ, unsigned lo, unsigned size, hsub *out)
{
    unsigned slot = 0;
    out->kind = (uint8_t)range_kind(nd, occ, lo, size, &slot);
    if (out->kind == K_EMPTY) {
        memset(out->hash, 0, CAIRN_HASH_LEN);
    } else if (out->kind == K_LEAF) {
        out->slot = (uint8_t)slot;
        memcpy(out->hash, nd->c[slot].hash, CAIRN_HASH_LEN);
    } else if (size == 1) {
        memcpy(out->hash, nd->c[lo].hash, CAIRN_HASH_LEN);
    } else if (size == 8 && nd->half_ok[lo / 8]) {
        memcpy(out->hash, nd->half[lo / 8], CAIRN_HASH_LEN);
    } else {
        hsub l, r;
        range_hash(nd, occ, lo, size / 2, &l);
        range_hash(nd, occ, lo + size / 2, size / 2, &r);
        cairn_smt_hash_node(out->hash, l.hash, r.hash);
    }
}

/* ---- roots ---- */

int cairn_smt_latest(cairn_txn *t, uint64_t *version)
{
    const void *v;
    size_t len;
    int err = cairn_txn_get(t, CAIRN_TABLE_META, LATEST_KEY, sizeof LATEST_KEY - 1, &v, &len);
    if (err) return err;
    if (len != 8) return CAIRN_ESTORE_CORRUPT;
    *version = cairn_get_u64be(v);
    return 0;
}

/* Root record of version: root hash and the version of the stored root node. */
static int root_get(cairn_txn *t, uint64_t version, uint8_t hash[CAIRN_HASH_LEN], uint64_t *ver)
{
    uint8_t k[8];
    const void *v;
    size_t len;
    cairn_put_u64be(k, version);
    int err = cairn_txn_get(t, CAIRN_TABLE_STATE_ROOTS, k, 8, &v, &len);
    if (err == CAIRN_ENOENT) return CAIRN_ESTATE_VERSION;
    if (err) return err;
    /* Pre-release builds wrote 40-byte records in an older node and value layout. */
    if (len == CAIRN_HASH_LEN + 8) return CAIRN_ESTATE_FORMAT;
    if (len != ROOT_REC_LEN) return CAIRN_ESTORE_CORRUPT;
    if (((const uint8_t *)v)[ROOT_REC_LEN - 1] != STATE_FORMAT) return CAIRN_ESTATE_FORMAT;
    memcpy(hash, v, CAIRN_HASH_LEN);
    *ver = cairn_get_u64be((const uint8_t *)v + CAIRN_HASH_LEN);
    if (*ver > version) return CAIRN_ESTORE_CORRUPT;
    return 0;
}

int cairn_smt_root(cairn_txn *t, uint64_t version, uint8_t root[CAIRN_HASH_LEN])
{
    uint64_t ver;
    return root_get(t, version, root, &ver);
}

/* ---- reads ---- */

/* The value record of key written at ver: its value hash (if vh) and the value. */
static int value_get(cairn_txn *t, const uint8_t *key, uint64_t ver, uint8_t *vh,
                     const uint8_t **val, size_t *len)
{
    uint8_t k[8 + CAIRN_SMT_KEY_LEN];
    cairn_put_u64be(k, ver);
    memcpy(k + 8, key, CAIRN_SMT_KEY_LEN);
    const void *v;
    size_t vlen;
    int err = cairn_txn_get(t, CAIRN_TABLE_STATE_VALUES, k, sizeof k, &v, &vlen);
    if (err == CAIRN_ENOENT) return CAIRN_ESTORE_CORRUPT; /* a leaf points at it */
    if (err) return err;
    if (vlen < CAIRN_HASH_LEN) return CAIRN_ESTORE_CORRUPT;
    if (vh) memcpy(vh, v, CAIRN_HASH_LEN);
    *val = (const uint8_t *)v + CAIRN_HASH_LEN;
    *len = vlen - CAIRN_HASH_LEN;
    return 0;
}

int cairn_smt_get(cairn_txn *t, uint64_t version, const uint8_t key[CAIRN_SMT_KEY_LEN],
                  const uint8_t **val, size_t *len)
{
    uint8_t root[CAIRN_HASH_LEN];
    uint64_t ver;
    int err = root_get(t, version, root, &ver);
    if (err) return err;
    for (unsigned d = 0; d < MAX_NIBBLES; d++) {
        const uint8_t *v, *lkey;
        size_t vlen;
        unsigned kind;
        uint64_t cver;
        if ((err = node_raw(t, ver, d, key, &v, &vlen)) != 0) return err;
        if ((err = node_slot(v, vlen, nibble(key, d), &kind, &cver, &lkey)) != 0) return err;
        if (kind == K_EMPTY) return CAIRN_ENOENT;
        if (cver > ver) return CAIRN_ESTORE_CORRUPT; /* nothing below is newer */
        if (kind == K_LEAF) {
            if (memcmp(lkey, key, CAIRN_SMT_KEY_LEN) != 0) return CAIRN_ENOENT;
            return value_get(t, key, cver, NULL, val, len);
        }
        ver = cver;
    }
    return CAIRN_ESTORE_CORRUPT;
}

int cairn_smt_prove(cairn_txn *t, uint64_t version, const uint8_t key[CAIRN_SMT_KEY_LEN],
                    uint8_t *proof, size_t cap, size_t *proof_len, const uint8_t **val, size_t *len)
{
    uint8_t root[CAIRN_HASH_LEN];
    uint64_t ver;
    int err = root_get(t, version, root, &ver);
    if (err) return err;

    uint8_t sib[8 * CAIRN_SMT_KEY_LEN][CAIRN_HASH_LEN];
    uint8_t bitmap[CAIRN_SMT_KEY_LEN] = {0};
    unsigned depth = 0, nsib = 0;
    const child *end = NULL; /* the leaf the path ends in; NULL for an empty subtree */
    node nd;
    for (unsigned d = 0;; d++) {
        if (d >= MAX_NIBBLES) return CAIRN_ESTORE_CORRUPT;
        if ((err = node_load(t, ver, d, key, &nd)) != 0) return err;
        unsigned occ = occupied(&nd), nib = nibble(key, d), slot = 0;
        unsigned kind = range_kind(&nd, occ, 0, 16, &slot);
        if (d > 0 && kind != K_NODE) return CAIRN_ESTORE_CORRUPT; /* < 2 keys below */
        /* Down the 4 binary levels of the node: the sibling range at each level, until the
         * key's own range is empty, a single leaf, or (after 4 levels) a child node. */
        for (unsigned l = 1; l <= 4 && kind == K_NODE; l++) {
            unsigned size = 16u >> l, idx = nib >> (4 - l);
            hsub s;
            range_hash(&nd, occ, (idx ^ 1u) * size, size, &s);
            if (s.kind != K_EMPTY) {
                memcpy(sib[nsib++], s.hash, CAIRN_HASH_LEN);
                bitmap[depth >> 3] |= (uint8_t)(0x80u >> (depth & 7));
            }
            depth++;
            kind = range_kind(&nd, occ, idx * size, size, &slot);
        }
        if (kind == K_EMPTY) break;
        if (kind == K_LEAF) {
            end = &nd.c[slot];
            break;
        }
        const child *c = &nd.c[nib]; /* the key's slot holds a child node */
        if (c->ver > ver) return CAIRN_ESTORE_CORRUPT;
        ver = c->ver;
    }

    int member = end && memcmp(end->key, key, CAIRN_SMT_KEY_LEN) == 0;
    unsigned kind = !end     ? CAIRN_SMT_PROOF_ABSENT_EMPTY
                    : member ? CAIRN_SMT_PROOF_MEMBER
                             : CAIRN_SMT_PROOF_ABSENT_LEAF;
    size_t bm_len = (depth + 7) / 8;
    size_t need =
        3 + bm_len + (kind == CAIRN_SMT_PROOF_ABSENT_LEAF ? 64 : 0) + (size_t)nsib * CAIRN_HASH_LEN;
    if (need > cap) return CAIRN_ENOSPC;
    const uint8_t *v = NULL;
    size_t vlen = 0;
    uint8_t nvh[CAIRN_HASH_LEN];
    if (member && val && (err = value_get(t, key, end->ver, NULL, &v, &vlen)) != 0) return err;
    if (kind == CAIRN_SMT_PROOF_ABSENT_LEAF &&
        (err = value_get(t, end->key, end->ver, nvh, &v, &vlen)) != 0)
        return err;
    proof[0] = (uint8_t)kind;
    cairn_put_u16be(proof + 1, (uint16_t)depth);
    memcpy(proof + 3, bitmap, bm_len);
    size_t p = 3 + bm_len;
    if (kind == CAIRN_SMT_PROOF_ABSENT_LEAF) {
        memcpy(proof + p, end->key, CAIRN_SMT_KEY_LEN);
        memcpy(proof + p + CAIRN_SMT_KEY_LEN, nvh, CAIRN_HASH_LEN);
        p += 64;
    }
    memcpy(proof + p, sib, (size_t)nsib * CAIRN_HASH_LEN);
    *proof_len = need;
    if (val) {
        *val = member ? v : NULL;
        *len = member ? vlen : 0;
    }
    return 0;
}

/* ---- apply ---- */

typedef struct upd {
    const uint8_t *key;
    const uint8_t *value; /* NULL: delete */
    size_t len;
    size_t idx;    /* position in the caller's batch: the last one of a key wins */
    int unchanged; /* a put of the value the key already has: nothing to write */
    uint8_t vh[CAIRN_HASH_LEN];
    uint8_t lh[CAIRN_HASH_LEN];
} upd;

typedef struct entry {
    const uint8_t *key, *lh;
    uint64_t ver;
} entry;

typedef struct out_node {
    uint8_t key[NODE_KEY_MAX];
    uint8_t klen;
    size_t off, len;
} out_node;

typedef struct apply_ctx {
    cairn_txn *t;
    uint64_t version;
    entry *scratch; /* n + 1 entries for one leaf merge at a time */
    uint8_t *arena;
    size_t arena_len, arena_cap;
    out_node *outs;
    size_t nout, out_cap;
} apply_ctx;

static int upd_cmp(const void *a, const void *b)
{
    const upd *x = a, *y = b;
    int c = memcmp(x->key, y->key, CAIRN_SMT_KEY_LEN);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int out_cmp(const void *a, const void *b)
{
    const out_node *x = a, *y = b;
    size_t m = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, m);
    if (c) return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* Queues node nd at depth d on key's path for writing under this version. */
static int emit(apply_ctx *c, unsigned d, const uint8_t *key, const node *nd)
{
    if (c->nout == c->out_cap) {
        size_t cap = c->out_cap ? 2 * c->out_cap : 256;
        out_node *o = realloc(c->outs, cap * sizeof *o);
        if (!o) return CAIRN_ENOMEM;
        c->outs = o;
        c->out_cap = cap;
    }
    if (c->arena_cap - c->arena_len < NODE_VAL_MAX) {
        size_t cap = c->arena_cap ? 2 * c->arena_cap : 64 * NODE_VAL_MAX;
        uint8_t *a = realloc(c->arena, cap);
        if (!a) return CAIRN_ENOMEM;
        c->arena = a;
        c->arena_cap = cap;
    }
    out_node *o = &c->outs[c->nout++];
    o->klen = (uint8_t)node_key(o->key, c->version, d, key);
    o->off = c->arena_len;
    o->len = node_encode(c->arena + c->arena_len, nd);
    c->arena_len += o->len;
    return 0;
}

/*
 * The child that node nw (new contents at depth d on key's path) becomes: a non-root node with
 * no keys is an empty slot, with one leaf slot and nothing else that leaf; otherwise the node is
 * written under this version.
 */
static int finalize(apply_ctx *c, node *nw, unsigned d, const uint8_t *key, int is_root, child *out)
{
    if (!is_root) {
        unsigned count = 0, last = 0;
        for (unsigned i = 0; i < 16; i++)
            if (nw->c[i].kind != K_EMPTY) count++, last = i;
        if (count == 0) {
            memset(out, 0, sizeof *out);
            return 0;
        }
        if (count == 1 && nw->c[last].kind == K_LEAF) {
            *out = nw->c[last];
            return 0;
        }
    }
    unsigned occ = occupied(nw);
    for (unsigned i = 0; i < 2; i++) {
        if (nw->half_ok[i]) continue;
        hsub hh;
        range_hash(nw, occ, 8 * i, 8, &hh);
        if (hh.kind != K_NODE) continue; /* EMPTY or a single leaf: not stored */
        memcpy(nw->half[i], hh.hash, CAIRN_HASH_LEN);
        nw->half_ok[i] = 1;
    }
    hsub h;
    range_hash(nw, occ, 0, 16, &h);
    int err = emit(c, d, key, nw);
    if (err) return err;
    memset(out, 0, sizeof *out);
    out->kind = K_NODE;
    out->ver = c->version;
    memcpy(out->hash, h.hash, CAIRN_HASH_LEN); /* the root's may be EMPTY or a leaf */
    return 0;
}

/* The subtree at depth d holding exactly the m sorted entries e. */
static int build(apply_ctx *c, const entry *e, size_t m, unsigned d, child *out)
{
    memset(out, 0, sizeof *out);
    if (m == 0) return 0;
    if (m == 1) {
        out->kind = K_LEAF;
        out->ver = e[0].ver;
        memcpy(out->key, e[0].key, CAIRN_SMT_KEY_LEN);
        memcpy(out->hash, e[0].lh, CAIRN_HASH_LEN);
        return 0;
    }
    if (d >= MAX_NIBBLES) return CAIRN_EINTERNAL; /* distinct keys differ before that */
    node nw;
    memset(&nw, 0, sizeof nw);
    for (size_t i = 0; i < m;) {
        unsigned nib = nibble(e[i].key, d);
        size_t j = i + 1;
        while (j < m && nibble(e[j].key, d) == nib) j++;
        int err = build(c, e + i, j - i, d + 1, &nw.c[nib]);
        if (err) return err;
        i = j;
    }
    return finalize(c, &nw, d, e[0].key, 0, out);
}

static int same_child(const child *a, const child *b)
{
    if (a->kind != b->kind) return 0;
    if (a->kind == K_EMPTY) return 1;
    if (a->ver != b->ver || memcmp(a->hash, b->hash, CAIRN_HASH_LEN) != 0) return 0;
    return a->kind != K_LEAF || memcmp(a->key, b->key, CAIRN_SMT_KEY_LEN) == 0;
}

static int update_child(apply_ctx *c, const child *old, unsigned d, upd *u, size_t n, child *out);

/* Applies the sorted updates u (all on nd's path at depth d) to node nd. */
static int update_node(apply_ctx *c, const node *nd, unsigned d, upd *u, size_t n, int is_root,
                       int force, const child *old, child *out)
{
    node nw = *nd;
    int changed = force;
    for (size_t i = 0; i < n;) {
        unsigned nib = nibble(u[i].key, d);
        size_t j = i + 1;
        while (j < n && nibble(u[j].key, d) == nib) j++;
        int err = update_child(c, &nd->c[nib], d + 1, u + i, j - i, &nw.c[nib]);
        if (err) return err;
        if (!same_child(&nw.c[nib], &nd->c[nib])) {
            changed = 1;
            nw.half_ok[nib >> 3] = 0;
        }
        i = j;
    }
    if (!changed) {
        *out = *old;
        return 0;
    }
    return finalize(c, &nw, d, n ? u[0].key : NULL, is_root, out);
}

static int update_child(apply_ctx *c, const child *old, unsigned d, upd *u, size_t n, child *out)
{
    if (old->kind == K_NODE) {
        if (d >= MAX_NIBBLES) return CAIRN_ESTORE_CORRUPT;
        node nd;
        int err = node_load(c->t, old->ver, d, u[0].key, &nd);
        if (err) return err;
        return update_node(c, &nd, d, u, n, 0, 0, old, out);
    }
    /* An empty or single-leaf subtree: merge the old leaf (unless updated) with the puts. */
    size_t m = 0;
    int pending = old->kind == K_LEAF;
    entry ol = {old->key, old->hash, old->ver};
    for (size_t i = 0; i < n; i++) {
        if (pending) {
            int cmp = memcmp(old->key, u[i].key, CAIRN_SMT_KEY_LEN);
            if (cmp <= 0) pending = 0;
            if (cmp < 0) c->scratch[m++] = ol;
            if (cmp == 0 && u[i].value && memcmp(old->hash, u[i].lh, CAIRN_HASH_LEN) == 0) {
                u[i].unchanged = 1; /* same key and value: keep the leaf and its version */
                c->scratch[m++] = ol;
                continue;
            }
        }
        if (u[i].value) c->scratch[m++] = (entry){u[i].key, u[i].lh, c->version};
    }
    if (pending) c->scratch[m++] = ol;
    return build(c, c->scratch, m, d, out);
}

/* Value records, keyed by version first and written in key order: every put appends. */
static int write_values(apply_ctx *c, const upd *u, size_t n)
{
    size_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (u[i].value && u[i].len > max) max = u[i].len;
    uint8_t *rec = malloc(CAIRN_HASH_LEN + max);
    if (!rec) return CAIRN_ENOMEM;
    uint8_t k[8 + CAIRN_SMT_KEY_LEN];
    cairn_put_u64be(k, c->version);
    int err = 0;
    for (size_t i = 0; i < n && !err; i++) {
        if (!u[i].value || u[i].unchanged) continue;
        memcpy(k + 8, u[i].key, CAIRN_SMT_KEY_LEN);
        memcpy(rec, u[i].vh, CAIRN_HASH_LEN);
        if (u[i].len) memcpy(rec + CAIRN_HASH_LEN, u[i].value, u[i].len);
        err = cairn_txn_put(c->t, CAIRN_TABLE_STATE_VALUES, k, sizeof k, rec,
                            CAIRN_HASH_LEN + u[i].len, 1);
    }
    free(rec);
    return err;
}

int cairn_smt_apply(cairn_txn *t, uint64_t version, const cairn_smt_update *ups, size_t n,
                    uint8_t root_out[CAIRN_HASH_LEN])
{
    if (!cairn_txn_is_write(t) || (n && !ups)) return CAIRN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!ups[i].value && ups[i].len) return CAIRN_EINVAL;
        if (ups[i].len > CAIRN_SMT_MAX_VALUE) return CAIRN_ETOOBIG;
    }
    uint64_t latest;
    int first = 0;
    int err = cairn_smt_latest(t, &latest);
    if (err == CAIRN_ENOENT) {
        first = 1;
    } else if (err) {
        return err;
    } else if (version <= latest) {
        return CAIRN_ESTATE_VERSION_ORDER;
    }

    apply_ctx c = {.t = t, .version = version};
    upd *u = malloc((n ? n : 1) * sizeof *u);
    c.scratch = malloc((n + 1) * sizeof *c.scratch);
    if (!u || !c.scratch) {
        err = CAIRN_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        u[i] = (upd){.key = ups[i].key, .value = ups[i].value, .len = ups[i].len, .idx = i};
    qsort(u, n, sizeof *u, upd_cmp);
    size_t m = 0; /* dedupe: keep the last update of each key */
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && memcmp(u[i].key, u[i + 1].key, CAIRN_SMT_KEY_LEN) == 0) continue;
        u[m] = u[i];
        if (u[m].value) {
            cairn_smt_hash_value(u[m].vh, u[m].value, u[m].len);
            cairn_smt_hash_leaf(u[m].lh, u[m].key, u[m].vh);
        }
        m++;
    }

    /* The previous root, as a child descriptor. */
    child old;
    node nd;
    memset(&old, 0, sizeof old);
    memset(&nd, 0, sizeof nd);
    if (!first) {
        old.kind = K_NODE;
        if ((err = root_get(t, latest, old.hash, &old.ver)) != 0) goto out;
        if ((err = node_load(t, old.ver, 0, NULL, &nd)) != 0) goto out;
    }
    child nr;
    if ((err = update_node(&c, &nd, 0, u, m, 1, first, &old, &nr)) != 0) goto out;
    if ((err = write_values(&c, u, m)) != 0) goto out;

    /* New nodes sort after every stored one (their version is the largest): append in order. */
    if (c.nout) qsort(c.outs, c.nout, sizeof *c.outs, out_cmp);
    for (size_t i = 0; i < c.nout && !err; i++)
        err = cairn_txn_put(t, CAIRN_TABLE_STATE_NODES, c.outs[i].key, c.outs[i].klen,
                            c.arena + c.outs[i].off, c.outs[i].len, 1);
    if (err) goto out;

    uint8_t k[8], rec[ROOT_REC_LEN];
    cairn_put_u64be(k, version);
    memcpy(rec, nr.hash, CAIRN_HASH_LEN);
    cairn_put_u64be(rec + CAIRN_HASH_LEN, nr.ver);
    rec[ROOT_REC_LEN - 1] = STATE_FORMAT;
    if ((err = cairn_txn_put(t, CAIRN_TABLE_STATE_ROOTS, k, 8, rec, sizeof rec, 1)) != 0) goto out;
    if ((err = cairn_txn_put(t, CAIRN_TABLE_META, LATEST_KEY, sizeof LATEST_KEY - 1, k, 8, 0)) != 0)
        goto out;
    if (root_out) memcpy(root_out, nr.hash, CAIRN_HASH_LEN);
out:
    free(u);
    free(c.scratch);
    free(c.arena);
    free(c.outs);
    return err;
}
