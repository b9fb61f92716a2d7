/*
 * store.h — Cairn's LMDB-backed storage: one environment, a fixed set of tables, one write
 * transaction at a time, any number of concurrent read transactions.
 *
 * Rules this module enforces:
 * - A directory is opened only if it is empty/new (then it is initialised) or holds a Cairn
 *   store of a format version this build understands (CAIRN_ESTORE_NOT_CAIRN,
 * CAIRN_ESTORE_VERSION).
 * - Commits are durable (fsync) before cairn_txn_commit returns.
 * - A failed operation inside a write transaction poisons it: every later call on it returns
 *   CAIRN_ETXN_POISONED and commit refuses, so a half-done batch can only be aborted.
 * - Corruption and I/O errors halt the store: the fatal hook is called once with a clear message
 *   and every later call returns CAIRN_ESTORE_HALTED. The store never guesses.
 * - The map grows (doubling, up to max_map_size) when it is 80% used at the start of a write,
 *   or when a write hit the map's end (cairn_store_write then retries the batch).
 *
 * Threads: a store handle may be shared by threads. Read transactions may be used from any one
 * thread at a time; the write transaction belongs to the thread that began it.
 */
#ifndef CAIRN_LEDGER_STORE_H
#define CAIRN_LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/bytes.h"
#include "ledger/error.h"

/* On-disk format version written by this build. A store with a higher version is refused.
 * 2: the transaction and anchor indexes moved to the "lsm" table (docs/indexes.md). */
#define CAIRN_STORE_FORMAT_VERSION 2u

/* Every table of the store. Names are persistent: never rename one. */
#define CAIRN_TABLE_MAP(XX)                                                                        \
    XX(META, "meta")                   /* store identity, format version, module metadata */       \
    XX(LOG_LEAVES, "log.leaves")       /* u64be leaf index -> leaf bytes */                        \
    XX(LOG_TILES, "log.tiles")         /* u8 tile level || u64be tile index -> node hashes */      \
    XX(STATE_NODES, "state.nodes")     /* u64be version || depth || path -> node (ledger/smt.h) */ \
    XX(STATE_VALUES, "state.values")   /* u64be version || key -> value hash || value (smt.h) */   \
    XX(STATE_ROOTS, "state.roots")     /* u64be version -> root || root node version (smt.h) */    \
    XX(BLOCKS, "blocks")               /* u64be height -> block record */                          \
    XX(TX_INDEX, "tx.index")           /* unused since format 2 (now in "lsm") */                  \
    XX(ANCHOR_INDEX, "anchor.index")   /* unused since format 2 (now in "lsm") */                  \
    XX(DEVICE_EVENTS, "device.events") /* device id || u64be log index -> event kind */            \
    XX(REPLAY, "replay")               /* replay-protection records */                             \
    XX(CONSENSUS, "consensus")         /* consensus safety data and certified blocks */            \
    XX(STREAMS, "streams")             /* anchor stream id -> counters (not in the state tree) */  \
    XX(LSM, "lsm")                     /* log-structured indexes: runs of records (lsmidx.h) */

typedef enum cairn_table {
#define CAIRN_XX_TABLE(id, name) CAIRN_TABLE_##id,
    CAIRN_TABLE_MAP(CAIRN_XX_TABLE)
#undef CAIRN_XX_TABLE
        CAIRN_TABLE_COUNT
} cairn_table;

typedef struct cairn_store cairn_store;
typedef struct cairn_txn cairn_txn;

/* Called once when the store halts; msg is valid only during the call. */
typedef void (*cairn_store_fatal_fn)(void *ctx, int err, const char *msg);

typedef struct cairn_store_options {
    size_t initial_map_size;       /* bytes; 0 = 1 GiB */
    size_t max_map_size;           /* bytes; 0 = 1 TiB */
    unsigned max_readers;          /* 0 = 126 */
    int read_only;                 /* open without creating or writing */
    cairn_store_fatal_fn on_fatal; /* NULL = print to stderr */
    void *fatal_ctx;
} cairn_store_options;

/*
 * Opens (creating when the directory is missing or empty, unless read_only) the store in dir.
 * opt may be NULL for defaults. On success *out owns the store until cairn_store_close.
 */
CAIRN_MUST_CHECK int cairn_store_open(cairn_store **out, const char *dir,
                                      const cairn_store_options *opt);

/* Closes the store. No transaction may be open. NULL is allowed. */
void cairn_store_close(cairn_store *s);

/* 0 while the store is healthy; the error that halted it otherwise. */
int cairn_store_halted(const cairn_store *s);

/* Current map size and bytes of the data file in use (pages up to the last used page). */
void cairn_store_usage(cairn_store *s, size_t *map_size, size_t *used_bytes);

/* Begins the write transaction. CAIRN_ETXN_BUSY if this handle already has one open. */
CAIRN_MUST_CHECK int cairn_store_write_begin(cairn_store *s, cairn_txn **out);

/* Begins a read transaction: a consistent snapshot of the last commit. */
CAIRN_MUST_CHECK int cairn_store_read_begin(cairn_store *s, cairn_txn **out);

/*
 * Looks up key in tbl. On success *val points into the map and stays valid until the next
 * update in this transaction or its end. CAIRN_ENOENT if absent.
 */
CAIRN_MUST_CHECK int cairn_txn_get(cairn_txn *t, cairn_table tbl, const void *key, size_t klen,
                                   const void **val, size_t *vlen);

/*
 * 1 if write transaction t has updated table tbl (put, reserve or delete) so far, else 0 (always
 * 0 for a read transaction). A record read from a table that t has not updated lies in pages of
 * the last commit: it stays valid and unchanged until t ends, whatever t writes afterwards
 * (LMDB copies a page before changing it, and reuses the original only after t commits).
 */
int cairn_txn_table_written(const cairn_txn *t, cairn_table tbl);

/* Stores key -> val. append=1 promises key sorts after every key in tbl (faster). */
CAIRN_MUST_CHECK int cairn_txn_put(cairn_txn *t, cairn_table tbl, const void *key, size_t klen,
                                   const void *val, size_t vlen, int append);

/* Reserves vlen bytes for key and returns a pointer to fill before the next update or commit. */
CAIRN_MUST_CHECK int cairn_txn_reserve(cairn_txn *t, cairn_table tbl, const void *key, size_t klen,
                                       size_t vlen, void **val);

/* Deletes key from tbl. CAIRN_ENOENT if absent (which does not poison the transaction). */
CAIRN_MUST_CHECK int cairn_txn_del(cairn_txn *t, cairn_table tbl, const void *key, size_t klen);

/* Commits durably and frees t (also on failure). A read transaction is simply ended. */
CAIRN_MUST_CHECK int cairn_txn_commit(cairn_txn *t);

/* Abandons t and frees it. NULL is allowed. */
void cairn_txn_abort(cairn_txn *t);

/* Returns 1 for a write transaction. */
int cairn_txn_is_write(const cairn_txn *t);

/*
 * Runs fn(txn, arg) inside a write transaction and commits. If the map filled up, the map is
 * doubled and fn runs again on a fresh transaction (fn must therefore depend only on arg and
 * the store); at the maximum map size the store halts instead. Any other error from fn aborts
 * the transaction and is returned.
 */
typedef int (*cairn_store_write_fn)(cairn_txn *t, void *arg);
CAIRN_MUST_CHECK int cairn_store_write(cairn_store *s, cairn_store_write_fn fn, void *arg);

/* What cairn_store_write does after CAIRN_ESTORE_MAP_FULL, for callers that run their own write
 * transaction and retry it (no transaction may be open): doubles the map, or halts the store at
 * its maximum size (then returns the halt error). */
CAIRN_MUST_CHECK int cairn_store_grow(cairn_store *s);

/*
 * Fault injection for tests (SQLite-style): the next get/put/commit on this store fails as if
 * the storage engine had reported `err` (CAIRN_ESTORE_CORRUPT, CAIRN_EIO or
 * CAIRN_ESTORE_MAP_FULL). 0 clears it.
 */
void cairn_store_inject_fault(cairn_store *s, int err);

#endif
