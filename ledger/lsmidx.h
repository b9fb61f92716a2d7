/*
 * lsmidx.h — a log-structured (LSM) index of fixed-size records kept inside the store's `lsm`
 * table, so that it commits in the caller's write transaction with everything else.
 *
 * Why: a B-tree keyed by hashes dirties one random leaf page per insert; with millions of keys
 * every block then writes (and fsyncs) hundreds of scattered pages. Here a block's records
 * become one sorted, immutable run written as a few large values, and runs are merged
 * (size-tiered: the newest `fanout` runs, when they are of one level, become one run of the
 * next level, unless it would exceed max_run_records), so every byte is written sequentially,
 * about log_fanout(records / block) times. Merges happen inside the append's transaction.
 * docs/indexes.md has the design and the measurements.
 *
 * Records: a 32-byte key, which must be uniformly distributed (a SHA-256 output: the Bloom
 * filters take their bits from it), and a value of spec->vlen bytes (1..CAIRN_LSM_MAX_VLEN).
 * A key may be added any number of times; a lookup returns the smallest value (memcmp order)
 * ever added for it, so a big-endian position makes "first occurrence" lookups. Merges keep
 * only that smallest value.
 *
 * Runs carry a tag range (the caller's block heights: tags must not decrease from one append to
 * the next), so a lookup can skip runs written before a given tag (replay checks only need the
 * expiry window).
 *
 * Storage (table CAIRN_TABLE_LSM, all keys prefixed by the index id spec->id):
 *   id 'D'                         -> directory: u64 next run id, u32 runs, per run (oldest
 *                                     first) u64 run id, u8 level, u64 records, u64 min tag,
 *                                     u64 max tag
 *   id 'R' u64be run                -> run header: u8 format (1), u8 bloom probes, u16 record
 *                                     length, u32 records per chunk, u64 records, u32 chunks,
 *                                     u32 bloom blocks, the first key of every chunk (32 bytes
 *                                     each), the Bloom filter (64-byte blocks)
 *   id 'C' u64be run u32be chunk    -> up to `records per chunk` sorted records (key || value)
 * All integers big-endian. Runs are immutable; a merge writes a new run and deletes its inputs.
 *
 * Threads and lifetimes: no state outside the store; a reader is a caller-owned value tied to
 * one transaction (see cairn_lsm_reader_open).
 */
#ifndef CAIRN_LEDGER_LSMIDX_H
#define CAIRN_LEDGER_LSMIDX_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/store.h"

#define CAIRN_LSM_KEY_LEN  32
#define CAIRN_LSM_MAX_VLEN 32
/* Most runs an index may have: appending beyond it fails with CAIRN_ENOSPC. Without
 * max_run_records that is never reached (fanout - 1 runs per level); with it, runs too large to
 * merge accumulate: about records / (max_run_records / fanout) of them at most. */
#define CAIRN_LSM_MAX_RUNS 1024

typedef struct cairn_lsm_spec {
    uint8_t id;               /* index id, the first byte of every key in the lsm table */
    uint8_t vlen;             /* value length in bytes */
    uint8_t fanout;           /* runs of one level that are merged into one (>= 2); 0 = 4 */
    uint32_t chunk_size;      /* bytes per chunk value; 0 = 16,368 (four 4 KiB pages in LMDB) */
    uint64_t max_run_records; /* no merge makes a run of more records; 0 = no limit */
} cairn_lsm_spec;

typedef struct cairn_lsm_run_view {
    uint64_t run, records, min_tag, max_tag;
    const uint8_t *fences, *bloom; /* into the store, or into `copy` */
    uint8_t *copy;                 /* heap copy of a header written in this transaction */
    uint32_t chunks, per_chunk, bloom_blocks;
    uint8_t level, probes;
} cairn_lsm_run_view;

/* A consistent view of one index in one transaction. Owned by the caller (about 74 KiB: the
 * chain allocates it once per block); cairn_lsm_reader_close frees what it allocated. */
typedef struct cairn_lsm_reader {
    cairn_txn *t;
    cairn_lsm_spec spec;
    size_t n;
    cairn_lsm_run_view runs[CAIRN_LSM_MAX_RUNS];
} cairn_lsm_reader;

/*
 * Opens a view of the index in t, considering only runs whose max tag is >= min_tag (0: all).
 * The view stays valid until t ends or the index is appended to in t (cairn_lsm_append); other
 * updates of t (other tables, other indexes) do not affect it. It points into the store's pages
 * (run headers: fences and Bloom filters), except when t had already updated the lsm table
 * when the view was opened: then it copies the headers (cairn_txn_table_written). Returns 0 or
 * a storage error (CAIRN_ESTORE_CORRUPT for a malformed directory or run header).
 */
CAIRN_MUST_CHECK int cairn_lsm_reader_open(cairn_lsm_reader *r, cairn_txn *t,
                                           const cairn_lsm_spec *spec, uint64_t min_tag);
void cairn_lsm_reader_close(cairn_lsm_reader *r);

/*
 * Looks key up: copies the smallest value stored for it into val (spec->vlen bytes). Returns 0,
 * CAIRN_ENOENT, or a storage error.
 */
CAIRN_MUST_CHECK int cairn_lsm_reader_get(cairn_lsm_reader *r, const uint8_t key[CAIRN_LSM_KEY_LEN],
                                          uint8_t *val);

/* One lookup in its own view: cairn_lsm_reader_open, cairn_lsm_reader_get, close. */
CAIRN_MUST_CHECK int cairn_lsm_get(cairn_txn *t, const cairn_lsm_spec *spec,
                                   const uint8_t key[CAIRN_LSM_KEY_LEN], uint64_t min_tag,
                                   uint8_t *val);

/*
 * Adds n records (recs: n * (32 + vlen) bytes, key then value; sorted in place) as one new run
 * tagged `tag`, then merges runs as the fanout requires, all in write transaction t. tag must be
 * >= the tag of every earlier append (CAIRN_EINVAL otherwise). n == 0 writes nothing. Returns 0
 * or an error; after an error t must be aborted.
 */
CAIRN_MUST_CHECK int cairn_lsm_append(cairn_txn *t, const cairn_lsm_spec *spec, uint8_t *recs,
                                      size_t n, uint64_t tag);

typedef struct cairn_lsm_stats {
    size_t runs;
    uint64_t records; /* stored, duplicates not yet merged away included */
    uint8_t levels;   /* highest level + 1 */
} cairn_lsm_stats;

CAIRN_MUST_CHECK int cairn_lsm_stats_get(cairn_txn *t, const cairn_lsm_spec *spec,
                                         cairn_lsm_stats *st);

#endif
