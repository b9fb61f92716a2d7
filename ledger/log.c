#include "ledger/log.h"

#include <stdlib.h>
#include <string.h>

/*
 * Tile geometry (docs/log-storage.md). A node is (row r, index j): the perfect subtree of height
 * r over leaves [j << r, (j + 1) << r). Tile level t holds rows 8t..8t+7 of the 256-wide strata
 * above row 8t; tile 0 omits row 0 (leaf hashes), which costs one leaf hash to recompute and
 * keeps a level-0 tile at 254 hashes = 8128 bytes, two 4 KiB LMDB overflow pages.
 */
#define TILE_ROWS      8u
#define TILE_WIDTH     256u
#define TILE_LEVELS    8u /* 8 * 8 = 64 rows: enough for 2^64 leaves */
#define TILE0_HASHES   254u
#define TILEN_HASHES   510u
#define TILE_MAX_BYTES (TILEN_HASHES * CAIRN_HASH_LEN)

static const char SIZE_KEY[] = "log.size";

static size_t tile_hashes(unsigned t)
{
    return t == 0 ? TILE0_HASHES : TILEN_HASHES;
}

/* Locates node (r >= 1, j): tile level, tile index and hash slot within the tile. */
static void node_slot(unsigned r, uint64_t j, unsigned *t, uint64_t *i, size_t *slot)
{
    unsigned tl = r / TILE_ROWS, o = r - tl * TILE_ROWS, width_shift = TILE_ROWS - o;
    uint64_t p = j & (((uint64_t)1 << width_shift) - 1);
    size_t row_off = 2 * TILE_WIDTH - ((2 * TILE_WIDTH) >> o);
    if (tl == 0) row_off -= TILE_WIDTH;
    *t = tl;
    *i = j >> width_shift;
    *slot = row_off + (size_t)p;
}

static void tile_key(uint8_t key[9], unsigned t, uint64_t i)
{
    key[0] = (uint8_t)t;
    cairn_put_u64be(key + 1, i);
}

int cairn_log_size(cairn_txn *t, uint64_t *size)
{
    const void *v;
    size_t vlen;
    int err = cairn_txn_get(t, CAIRN_TABLE_META, SIZE_KEY, sizeof SIZE_KEY - 1, &v, &vlen);
    if (err == CAIRN_ENOENT) {
        *size = 0;
        return 0;
    }
    if (err) return err;
    if (vlen != 8) return CAIRN_ESTORE_CORRUPT;
    *size = cairn_get_u64be(v);
    return 0;
}

int cairn_log_leaf_get(cairn_txn *t, uint64_t index, const uint8_t **leaf, size_t *len)
{
    uint64_t size;
    int err = cairn_log_size(t, &size);
    if (err) return err;
    if (index >= size) return CAIRN_ELOG_INDEX;
    uint8_t key[8];
    cairn_put_u64be(key, index);
    const void *v;
    err = cairn_txn_get(t, CAIRN_TABLE_LOG_LEAVES, key, 8, &v, len);
    if (err == CAIRN_ENOENT) return CAIRN_ESTORE_CORRUPT; /* size says it must exist */
    if (err) return err;
    *leaf = v;
    return 0;
}

/* Node reader for one transaction, remembering the last tile seen at each level. */
typedef struct node_reader {
    cairn_txn *t;
    uint64_t size;
    struct {
        int valid;
        uint64_t index;
        const uint8_t *hashes;
    } tile[TILE_LEVELS];
} node_reader;

static int read_node(void *ctx, unsigned r, uint64_t j, uint8_t out[CAIRN_HASH_LEN])
{
    node_reader *nr = ctx;
    if (r >= 64 || j >= (nr->size >> r)) return CAIRN_EINTERNAL; /* not a complete node */
    if (r == 0) {
        uint8_t key[8];
        const void *v;
        size_t len;
        cairn_put_u64be(key, j);
        int err = cairn_txn_get(nr->t, CAIRN_TABLE_LOG_LEAVES, key, 8, &v, &len);
        if (err) return err == CAIRN_ENOENT ? CAIRN_ESTORE_CORRUPT : err;
        cairn_merkle_hash_leaf(out, v, len);
        return 0;
    }
    unsigned tl;
    uint64_t ti;
    size_t slot;
    node_slot(r, j, &tl, &ti, &slot);
    if (!nr->tile[tl].valid || nr->tile[tl].index != ti) {
        uint8_t key[9];
        const void *v;
        size_t len;
        tile_key(key, tl, ti);
        int err = cairn_txn_get(nr->t, CAIRN_TABLE_LOG_TILES, key, 9, &v, &len);
        if (err) return err == CAIRN_ENOENT ? CAIRN_ESTORE_CORRUPT : err;
        if (len != tile_hashes(tl) * CAIRN_HASH_LEN) return CAIRN_ESTORE_CORRUPT;
        nr->tile[tl].valid = 1;
        nr->tile[tl].index = ti;
        nr->tile[tl].hashes = v;
    }
    memcpy(out, nr->tile[tl].hashes + slot * CAIRN_HASH_LEN, CAIRN_HASH_LEN);
    return 0;
}

static int reader_init(node_reader *nr, cairn_txn *t)
{
    memset(nr, 0, sizeof *nr);
    nr->t = t;
    return cairn_log_size(t, &nr->size);
}

int cairn_log_root(cairn_txn *t, uint64_t size, uint8_t root[CAIRN_HASH_LEN])
{
    node_reader nr;
    int err = reader_init(&nr, t);
    if (err) return err;
    if (size > nr.size) return CAIRN_ELOG_SIZE;
    if (size == 0) {
        cairn_merkle_empty_root(root);
        return 0;
    }
    return cairn_merkle_range_hash((cairn_merkle_range){0, size}, read_node, &nr, root);
}

static int hash_ranges(node_reader *nr, const cairn_merkle_range *ranges, size_t n,
                       uint8_t (*out)[CAIRN_HASH_LEN])
{
    for (size_t k = 0; k < n; k++) {
        int err = cairn_merkle_range_hash(ranges[k], read_node, nr, out[k]);
        if (err) return err;
    }
    return 0;
}

int cairn_log_inclusion_proof(cairn_txn *t, uint64_t index, uint64_t size,
                              uint8_t (*path)[CAIRN_HASH_LEN], size_t *n)
{
    node_reader nr;
    int err = reader_init(&nr, t);
    if (err) return err;
    if (size > nr.size) return CAIRN_ELOG_SIZE;
    if (index >= size) return CAIRN_ELOG_INDEX;
    cairn_merkle_range ranges[CAIRN_MERKLE_MAX_PROOF];
    *n = cairn_merkle_inclusion_ranges(index, size, ranges);
    return hash_ranges(&nr, ranges, *n, path);
}

int cairn_log_consistency_proof(cairn_txn *t, uint64_t first, uint64_t second,
                                uint8_t (*proof)[CAIRN_HASH_LEN], size_t *n)
{
    node_reader nr;
    int err = reader_init(&nr, t);
    if (err) return err;
    if (first > second) return CAIRN_ELOG_ORDER;
    if (second > nr.size) return CAIRN_ELOG_SIZE;
    cairn_merkle_range ranges[CAIRN_MERKLE_MAX_PROOF];
    *n = cairn_merkle_consistency_ranges(first, second, ranges);
    return hash_ranges(&nr, ranges, *n, proof);
}

/* The tiles an append is filling, one per tile level; nodes arrive left to right per row. */
typedef struct tile_writer {
    cairn_txn *t;
    struct {
        int loaded, dirty;
        uint64_t index;
        uint8_t hashes[TILE_MAX_BYTES];
    } tile[TILE_LEVELS];
} tile_writer;

static int tile_flush(tile_writer *w, unsigned tl)
{
    if (!w->tile[tl].dirty) return 0;
    uint8_t key[9];
    void *dst;
    size_t bytes = tile_hashes(tl) * CAIRN_HASH_LEN;
    tile_key(key, tl, w->tile[tl].index);
    int err = cairn_txn_reserve(w->t, CAIRN_TABLE_LOG_TILES, key, 9, bytes, &dst);
    if (err) return err;
    memcpy(dst, w->tile[tl].hashes, bytes);
    w->tile[tl].dirty = 0;
    return 0;
}

static int write_node(tile_writer *w, unsigned r, uint64_t j, const uint8_t h[CAIRN_HASH_LEN])
{
    unsigned tl;
    uint64_t ti;
    size_t slot;
    node_slot(r, j, &tl, &ti, &slot);
    if (!w->tile[tl].loaded || w->tile[tl].index != ti) {
        int err = tile_flush(w, tl);
        if (err) return err;
        size_t bytes = tile_hashes(tl) * CAIRN_HASH_LEN;
        uint8_t key[9];
        const void *v;
        size_t len;
        tile_key(key, tl, ti);
        err = cairn_txn_get(w->t, CAIRN_TABLE_LOG_TILES, key, 9, &v, &len);
        if (err == CAIRN_ENOENT) {
            memset(w->tile[tl].hashes, 0, bytes);
        } else if (err) {
            return err;
        } else if (len != bytes) {
            return CAIRN_ESTORE_CORRUPT;
        } else {
            memcpy(w->tile[tl].hashes, v, bytes);
        }
        w->tile[tl].loaded = 1;
        w->tile[tl].index = ti;
    }
    memcpy(w->tile[tl].hashes + slot * CAIRN_HASH_LEN, h, CAIRN_HASH_LEN);
    w->tile[tl].dirty = 1;
    return 0;
}

int cairn_log_append(cairn_txn *t, const cairn_log_leaf *leaves, size_t n, uint64_t *new_size)
{
    if (!cairn_txn_is_write(t)) return CAIRN_EINVAL;
    for (size_t k = 0; k < n; k++)
        if (leaves[k].len > CAIRN_LOG_MAX_LEAF) return CAIRN_ETOOBIG;

    node_reader nr;
    int err = reader_init(&nr, t);
    if (err) return err;
    uint64_t size = nr.size;
    if (n > UINT64_MAX - size) return CAIRN_ERANGE;

    /* The frontier: hash of the perfect subtree for each set bit of size (RFC 9162 compact
     * range of [0, size)). Appending a leaf merges equal-height subtrees like binary carry. */
    uint8_t frontier[64][CAIRN_HASH_LEN];
    for (unsigned r = 0; r < 64; r++) {
        if (size >> r & 1) {
            err = read_node(&nr, r, (size >> r) - 1, frontier[r]);
            if (err) return err;
        }
    }

    tile_writer *w = calloc(1, sizeof *w);
    if (!w) return CAIRN_ENOMEM;
    w->t = t;
    for (size_t k = 0; k < n && !err; k++, size++) {
        uint8_t key[8];
        cairn_put_u64be(key, size);
        err = cairn_txn_put(t, CAIRN_TABLE_LOG_LEAVES, key, 8, leaves[k].data, leaves[k].len, 1);
        if (err) break;
        uint8_t h[CAIRN_HASH_LEN];
        cairn_merkle_hash_leaf(h, leaves[k].data, leaves[k].len);
        uint64_t j = size;
        for (unsigned r = 0;; r++, j >>= 1) {
            if (r >= 1 && (err = write_node(w, r, j, h)) != 0) break;
            if (!(j & 1)) {
                memcpy(frontier[r], h, CAIRN_HASH_LEN);
                break;
            }
            cairn_merkle_hash_children(h, frontier[r], h);
        }
    }
    for (unsigned tl = 0; tl < TILE_LEVELS && !err; tl++) err = tile_flush(w, tl);
    free(w);
    if (err) return err;

    uint8_t sz[8];
    cairn_put_u64be(sz, size);
    err = cairn_txn_put(t, CAIRN_TABLE_META, SIZE_KEY, sizeof SIZE_KEY - 1, sz, 8, 0);
    if (err) return err;
    if (new_size) *new_size = size;
    return 0;
}

typedef struct append_args {
    const cairn_log_leaf *leaves;
    size_t n;
    uint64_t *new_size;
} append_args;

static int append_fn(cairn_txn *t, void *arg)
{
    append_args *a = arg;
    return cairn_log_append(t, a->leaves, a->n, a->new_size);
}

int cairn_log_append_batch(cairn_store *s, const cairn_log_leaf *leaves, size_t n,
                           uint64_t *new_size)
{
    append_args a = {leaves, n, new_size};
    return cairn_store_write(s, append_fn, &a);
}
