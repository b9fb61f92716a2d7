#include "ledger/store.h"

#include <dirent.h>
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define GIB                  ((size_t)1 << 30)
#define DEFAULT_MAP_SIZE     GIB
#define DEFAULT_MAX_MAP_SIZE ((size_t)1 << 40)
#define DEFAULT_MAX_READERS  126u

static const char STORE_MAGIC[] = "cairn-store";
static const char *const table_names[CAIRN_TABLE_COUNT] = {
#define CAIRN_XX_NAME(id, name) name,
    CAIRN_TABLE_MAP(CAIRN_XX_NAME)
#undef CAIRN_XX_NAME
};

struct cairn_store {
    MDB_env *env;
    MDB_dbi dbi[CAIRN_TABLE_COUNT];
    /* Transactions hold it shared; resizing the map holds it exclusively (LMDB requires that no
     * transaction of this process is active while the map size changes). */
    pthread_rwlock_t map_lock;
    atomic_int write_open;
    atomic_int halted;
    atomic_int inject; /* LMDB code the next operation reports instead of running (tests) */
    size_t max_map_size;
    int read_only;
    cairn_store_fatal_fn on_fatal;
    void *fatal_ctx;
};

struct cairn_txn {
    cairn_store *s;
    MDB_txn *txn;
    int write;
    int poisoned;     /* first error seen in this write transaction, 0 if none */
    uint64_t written; /* bit i: table i was updated in this transaction */
};

static void default_fatal(void *ctx, int err, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "cairn: FATAL storage error (%s): %s; the store is halted\n",
            cairn_err_name(err), msg);
}

/* Halts the store once, telling the operator why. Returns CAIRN_ESTORE_HALTED. */
static int halt(cairn_store *s, int err, const char *what, int mdb_rc)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&s->halted, &expected, err)) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: %s", what, mdb_strerror(mdb_rc));
        s->on_fatal(s->fatal_ctx, err, msg);
    }
    return CAIRN_ESTORE_HALTED;
}

/* Maps an LMDB return code to a Cairn code, halting the store on fatal conditions. */
static int map_rc(cairn_store *s, int rc, const char *what)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return CAIRN_ENOENT;
    case MDB_MAP_FULL:
        return CAIRN_ESTORE_MAP_FULL;
    case MDB_READERS_FULL:
        return CAIRN_ESTORE_READERS;
    case MDB_BAD_VALSIZE:
        return CAIRN_ETOOBIG;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_PANIC:
    case MDB_INVALID:
        return halt(s, CAIRN_ESTORE_CORRUPT, what, rc);
    case EIO:
    case ENOSPC:
    case EROFS:
    case EFBIG:
        return halt(s, cairn_err_from_errno(rc), what, rc);
    case ENOMEM:
        return CAIRN_ENOMEM;
    default:
        return CAIRN_ESTORE_LMDB;
    }
}

void cairn_store_inject_fault(cairn_store *s, int err)
{
    int rc = err == CAIRN_ESTORE_CORRUPT    ? MDB_CORRUPTED
             : err == CAIRN_EIO             ? EIO
             : err == CAIRN_ESTORE_MAP_FULL ? MDB_MAP_FULL
                                            : 0;
    atomic_store(&s->inject, rc);
}

/* The injected LMDB code, consumed, or 0. */
static int injected(cairn_store *s)
{
    return atomic_exchange(&s->inject, 0);
}

/* 1 if dir holds nothing but LMDB's lock file and possibly data.mdb. */
static int dir_holds_only_lmdb(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int only = 1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "lock.mdb") &&
            strcmp(e->d_name, "data.mdb")) {
            only = 0;
            break;
        }
    }
    closedir(d);
    return only;
}

/*
 * Opens every table and checks (or, for a new store, writes) the identity record. An LMDB file
 * whose main database is empty holds nothing: it is a store whose creation was interrupted
 * (for instance by a crash), and is initialised like a new one.
 */
static int init_tables(cairn_store *s)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (rc) return map_rc(s, rc, "begin init transaction");

    int err = 0;
    MDB_dbi main_dbi;
    MDB_stat st;
    rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (!rc) rc = mdb_stat(txn, main_dbi, &st);
    if (rc) {
        err = map_rc(s, rc, "open main database");
        goto out;
    }
    int is_new = st.ms_entries == 0;
    if (is_new && s->read_only) {
        err = CAIRN_ESTORE_NOT_CAIRN;
        goto out;
    }
    if (!is_new) {
        /* An LMDB file that has no "meta" table is somebody else's database. */
        MDB_dbi meta;
        rc = mdb_dbi_open(txn, table_names[CAIRN_TABLE_META], 0, &meta);
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
            err = CAIRN_ESTORE_NOT_CAIRN;
            goto out;
        }
        if (rc) {
            err = map_rc(s, rc, "open meta table");
            goto out;
        }
    }
    for (int i = 0; i < CAIRN_TABLE_COUNT; i++) {
        rc = mdb_dbi_open(txn, table_names[i], s->read_only ? 0 : MDB_CREATE, &s->dbi[i]);
        if (rc == MDB_NOTFOUND) {
            err = CAIRN_ESTORE_NOT_CAIRN;
            goto out;
        }
        if (rc) {
            err = map_rc(s, rc, "open table");
            goto out;
        }
    }
    MDB_val k = {.mv_size = 5, .mv_data = "magic"}, v;
    rc = mdb_get(txn, s->dbi[CAIRN_TABLE_META], &k, &v);
    if (rc == MDB_NOTFOUND && is_new) {
        uint8_t ver[4];
        cairn_put_u32be(ver, CAIRN_STORE_FORMAT_VERSION);
        MDB_val mv = {.mv_size = sizeof STORE_MAGIC, .mv_data = (void *)STORE_MAGIC};
        MDB_val fk = {.mv_size = 6, .mv_data = "format"}, fv = {.mv_size = 4, .mv_data = ver};
        rc = mdb_put(txn, s->dbi[CAIRN_TABLE_META], &k, &mv, 0);
        if (!rc) rc = mdb_put(txn, s->dbi[CAIRN_TABLE_META], &fk, &fv, 0);
        if (rc) {
            err = map_rc(s, rc, "write store identity");
            goto out;
        }
    } else if (rc) {
        err = rc == MDB_NOTFOUND ? CAIRN_ESTORE_NOT_CAIRN : map_rc(s, rc, "read store identity");
        goto out;
    } else {
        if (v.mv_size != sizeof STORE_MAGIC || memcmp(v.mv_data, STORE_MAGIC, v.mv_size) != 0) {
            err = CAIRN_ESTORE_NOT_CAIRN;
            goto out;
        }
        MDB_val fk = {.mv_size = 6, .mv_data = "format"};
        rc = mdb_get(txn, s->dbi[CAIRN_TABLE_META], &fk, &v);
        if (rc || v.mv_size != 4) {
            err = rc && rc != MDB_NOTFOUND ? map_rc(s, rc, "read format") : CAIRN_ESTORE_NOT_CAIRN;
            goto out;
        }
        if (cairn_get_u32be(v.mv_data) > CAIRN_STORE_FORMAT_VERSION) {
            err = CAIRN_ESTORE_VERSION;
            goto out;
        }
    }
out:
    if (err) {
        mdb_txn_abort(txn);
        return err;
    }
    rc = mdb_txn_commit(txn);
    return rc ? map_rc(s, rc, "commit init transaction") : 0;
}

int cairn_store_open(cairn_store **out, const char *dir, const cairn_store_options *opt)
{
    cairn_store_options o = {0};
    if (opt) o = *opt;
    if (!o.initial_map_size) o.initial_map_size = DEFAULT_MAP_SIZE;
    if (!o.max_map_size) o.max_map_size = DEFAULT_MAX_MAP_SIZE;
    if (!o.max_readers) o.max_readers = DEFAULT_MAX_READERS;
    if (o.initial_map_size > o.max_map_size) o.initial_map_size = o.max_map_size;

    *out = NULL;
    /* A missing directory is created; an existing one must hold a store, or nothing but the
     * files an interrupted creation leaves (then data.mdb, if any, is empty or LMDB's). */
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || o.read_only) return cairn_err_from_errno(errno);
        if (mkdir(dir, 0700) != 0) return cairn_err_from_errno(errno);
    } else if (!S_ISDIR(st.st_mode)) {
        return CAIRN_ESTORE_NOT_CAIRN;
    } else {
        char path[4096];
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        int has_data = stat(path, &st) == 0;
        if (!has_data && (o.read_only || !dir_holds_only_lmdb(dir))) return CAIRN_ESTORE_NOT_CAIRN;
        if (has_data && st.st_size == 0 && (o.read_only || !dir_holds_only_lmdb(dir)))
            return CAIRN_ESTORE_NOT_CAIRN;
    }

    cairn_store *s = calloc(1, sizeof *s);
    if (!s) return CAIRN_ENOMEM;
    s->max_map_size = o.max_map_size;
    s->read_only = o.read_only;
    s->on_fatal = o.on_fatal ? o.on_fatal : default_fatal;
    s->fatal_ctx = o.fatal_ctx;
    pthread_rwlock_init(&s->map_lock, NULL);

    int err;
    int rc = mdb_env_create(&s->env);
    if (rc) {
        err = CAIRN_ENOMEM;
        goto fail;
    }
    mdb_env_set_maxdbs(s->env, CAIRN_TABLE_COUNT + 4);
    mdb_env_set_mapsize(s->env, o.initial_map_size);
    mdb_env_set_maxreaders(s->env, o.max_readers);
    rc =
        mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NORDAHEAD | (o.read_only ? MDB_RDONLY : 0), 0600);
    if (rc) {
        err = rc == MDB_INVALID            ? CAIRN_ESTORE_NOT_CAIRN
              : rc == MDB_VERSION_MISMATCH ? CAIRN_ESTORE_VERSION
                                           : map_rc(s, rc, "open environment");
        goto fail;
    }
    err = init_tables(s);
    if (err) goto fail;
    *out = s;
    return 0;
fail:
    if (s->env) mdb_env_close(s->env);
    pthread_rwlock_destroy(&s->map_lock);
    free(s);
    return err;
}

void cairn_store_close(cairn_store *s)
{
    if (!s) return;
    mdb_env_close(s->env);
    pthread_rwlock_destroy(&s->map_lock);
    free(s);
}

int cairn_store_halted(const cairn_store *s)
{
    return atomic_load(&((cairn_store *)s)->halted);
}

void cairn_store_usage(cairn_store *s, size_t *map_size, size_t *used_bytes)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &st);
    if (map_size) *map_size = info.me_mapsize;
    if (used_bytes) *used_bytes = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
}

/*
 * Grows the map when it is more than 80% used (force: unconditionally). Needs the map lock
 * exclusively; when force is 0 and another transaction is active, it simply tries next time.
 */
static int maybe_grow(cairn_store *s, int force)
{
    size_t map, used;
    cairn_store_usage(s, &map, &used);
    if (!force && used <= map / 10 * 8) return 0;
    if (map >= s->max_map_size)
        return force ? halt(s, CAIRN_ESTORE_MAP_FULL, "grow map", MDB_MAP_FULL) : 0;
    size_t next = map * 2 > s->max_map_size ? s->max_map_size : map * 2;
    if (force) {
        pthread_rwlock_wrlock(&s->map_lock);
    } else if (pthread_rwlock_trywrlock(&s->map_lock) != 0) {
        return 0;
    }
    int rc = mdb_env_set_mapsize(s->env, next);
    pthread_rwlock_unlock(&s->map_lock);
    return rc ? map_rc(s, rc, "grow map") : 0;
}

static int txn_begin(cairn_store *s, int write, cairn_txn **out)
{
    *out = NULL;
    if (atomic_load(&s->halted)) return CAIRN_ESTORE_HALTED;
    if (write) {
        if (s->read_only) return CAIRN_EACCES;
        int expected = 0;
        if (!atomic_compare_exchange_strong(&s->write_open, &expected, 1)) return CAIRN_ETXN_BUSY;
        int err = maybe_grow(s, 0);
        if (err) {
            atomic_store(&s->write_open, 0);
            return err;
        }
    }
    cairn_txn *t = calloc(1, sizeof *t);
    if (!t) {
        if (write) atomic_store(&s->write_open, 0);
        return CAIRN_ENOMEM;
    }
    t->s = s;
    t->write = write;
    pthread_rwlock_rdlock(&s->map_lock);
    int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc) {
        pthread_rwlock_unlock(&s->map_lock);
        if (write) atomic_store(&s->write_open, 0);
        free(t);
        return map_rc(s, rc, "begin transaction");
    }
    *out = t;
    return 0;
}

int cairn_store_write_begin(cairn_store *s, cairn_txn **out)
{
    return txn_begin(s, 1, out);
}

int cairn_store_read_begin(cairn_store *s, cairn_txn **out)
{
    return txn_begin(s, 0, out);
}

static void txn_free(cairn_txn *t)
{
    pthread_rwlock_unlock(&t->s->map_lock);
    if (t->write) atomic_store(&t->s->write_open, 0);
    free(t);
}

/* Checks that t may still be used; returns the error to report otherwise. */
static int txn_usable(cairn_txn *t)
{
    if (atomic_load(&t->s->halted)) return CAIRN_ESTORE_HALTED;
    if (t->poisoned) return CAIRN_ETXN_POISONED;
    return 0;
}

/* Records a failure of a write operation: the transaction can now only be aborted. */
static int txn_fail(cairn_txn *t, int err)
{
    if (t->write && !t->poisoned) t->poisoned = err;
    return err;
}

int cairn_txn_get(cairn_txn *t, cairn_table tbl, const void *key, size_t klen, const void **val,
                  size_t *vlen)
{
    int err = txn_usable(t);
    if (err) return err;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
    int rc = injected(t->s);
    if (!rc) rc = mdb_get(t->txn, t->s->dbi[tbl], &k, &v);
    if (rc == MDB_NOTFOUND) return CAIRN_ENOENT;
    if (rc) return txn_fail(t, map_rc(t->s, rc, "get"));
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

_Static_assert(CAIRN_TABLE_COUNT <= 64, "cairn_txn.written has one bit per table");

int cairn_txn_table_written(const cairn_txn *t, cairn_table tbl)
{
    return (int)(t->written >> tbl & 1u);
}

int cairn_txn_put(cairn_txn *t, cairn_table tbl, const void *key, size_t klen, const void *val,
                  size_t vlen, int append)
{
    if (!t->write) return CAIRN_EINVAL;
    int err = txn_usable(t);
    if (err) return err;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    t->written |= (uint64_t)1 << tbl;
    int rc = injected(t->s);
    if (!rc) rc = mdb_put(t->txn, t->s->dbi[tbl], &k, &v, append ? MDB_APPEND : 0);
    return rc ? txn_fail(t, map_rc(t->s, rc, "put")) : 0;
}

int cairn_txn_reserve(cairn_txn *t, cairn_table tbl, const void *key, size_t klen, size_t vlen,
                      void **val)
{
    if (!t->write) return CAIRN_EINVAL;
    int err = txn_usable(t);
    if (err) return err;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v = {.mv_size = vlen};
    t->written |= (uint64_t)1 << tbl;
    int rc = injected(t->s);
    if (!rc) rc = mdb_put(t->txn, t->s->dbi[tbl], &k, &v, MDB_RESERVE);
    if (rc) return txn_fail(t, map_rc(t->s, rc, "reserve"));
    *val = v.mv_data;
    return 0;
}

int cairn_txn_del(cairn_txn *t, cairn_table tbl, const void *key, size_t klen)
{
    if (!t->write) return CAIRN_EINVAL;
    int err = txn_usable(t);
    if (err) return err;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    t->written |= (uint64_t)1 << tbl;
    int rc = mdb_del(t->txn, t->s->dbi[tbl], &k, NULL);
    if (rc == MDB_NOTFOUND) return CAIRN_ENOENT;
    return rc ? txn_fail(t, map_rc(t->s, rc, "delete")) : 0;
}

int cairn_txn_commit(cairn_txn *t)
{
    if (!t->write) {
        mdb_txn_abort(t->txn);
        txn_free(t);
        return 0;
    }
    int err = txn_usable(t);
    if (err) {
        mdb_txn_abort(t->txn);
        txn_free(t);
        return err;
    }
    int rc = injected(t->s);
    if (rc)
        mdb_txn_abort(t->txn);
    else
        rc = mdb_txn_commit(t->txn); /* frees the LMDB transaction, success or not */
    cairn_store *s = t->s;
    txn_free(t);
    return rc ? map_rc(s, rc, "commit") : 0;
}

void cairn_txn_abort(cairn_txn *t)
{
    if (!t) return;
    mdb_txn_abort(t->txn);
    txn_free(t);
}

int cairn_txn_is_write(const cairn_txn *t)
{
    return t->write;
}

int cairn_store_grow(cairn_store *s)
{
    return maybe_grow(s, 1);
}

int cairn_store_write(cairn_store *s, cairn_store_write_fn fn, void *arg)
{
    for (;;) {
        cairn_txn *t;
        int err = cairn_store_write_begin(s, &t);
        if (err) return err;
        err = fn(t, arg);
        if (err) {
            cairn_txn_abort(t);
        } else {
            err = cairn_txn_commit(t);
        }
        if (err != CAIRN_ESTORE_MAP_FULL) return err;
        /* Doubles the map, or halts the store once it is at its maximum. */
        err = maybe_grow(s, 1);
        if (err) return err;
    }
}
