#include "ledger/lsmidx.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/bytes.h"

#define DEFAULT_FANOUT     4u
#define DEFAULT_CHUNK      16368u /* 4 LMDB pages of 4 KiB minus the 16-byte page header */
#define BLOOM_BITS_PER_KEY 10u
#define BLOOM_PROBES       6u  /* 9 bits each from one 64-bit word of the key */
#define BLOOM_BLOCK        64u /* bytes: one cache line per key and run */
#define HDR_FIXED          24u
#define HDR_FORMAT         1u
#define DIR_FIXED          12u
#define DIR_ENTRY          33u
#define KEY                CAIRN_LSM_KEY_LEN

typedef struct dir_entry {
    uint64_t run, records, min_tag, max_tag;
    uint8_t level;
} dir_entry;

/* The directory: runs oldest first (run ids and tags increase). A merge always takes the newest
 * `fanout` runs when they share a level, so runs stay in time order and disjoint in tags. */
typedef struct dir {
    uint64_t next;
    size_t n;
    dir_entry e[CAIRN_LSM_MAX_RUNS];
} dir;

typedef struct params {
    size_t rl;    /* record length */
    uint32_t pc;  /* records per chunk */
    uint32_t fan; /* fanout */
    uint64_t cap; /* largest merge output, records */
    uint8_t id, vlen;
} params;

static int params_of(const cairn_lsm_spec *spec, params *p)
{
    if (spec->vlen == 0 || spec->vlen > CAIRN_LSM_MAX_VLEN || spec->fanout == 1)
        return CAIRN_EINVAL;
    uint32_t cs = spec->chunk_size ? spec->chunk_size : DEFAULT_CHUNK;
    p->id = spec->id;
    p->vlen = spec->vlen;
    p->rl = KEY + spec->vlen;
    p->fan = spec->fanout ? spec->fanout : DEFAULT_FANOUT;
    p->cap = spec->max_run_records ? spec->max_run_records : UINT64_MAX;
    if (cs < p->rl) return CAIRN_EINVAL;
    p->pc = (uint32_t)(cs / p->rl);
    return 0;
}

/* ---- keys of the lsm table ---- */

static void dir_key(uint8_t k[2], uint8_t id)
{
    k[0] = id;
    k[1] = 'D';
}

static void run_key(uint8_t k[10], uint8_t id, uint64_t run)
{
    k[0] = id;
    k[1] = 'R';
    cairn_put_u64be(k + 2, run);
}

static void chunk_key(uint8_t k[14], uint8_t id, uint64_t run, uint32_t chunk)
{
    k[0] = id;
    k[1] = 'C';
    cairn_put_u64be(k + 2, run);
    cairn_put_u32be(k + 10, chunk);
}

/* ---- Bloom filter: blocked, one 64-byte block per key, bits from the (uniform) key ---- */

static uint32_t bloom_blocks_for(uint64_t records)
{
    uint64_t b = (records * BLOOM_BITS_PER_KEY + BLOOM_BLOCK * 8 - 1) / (BLOOM_BLOCK * 8);
    if (b == 0) b = 1;
    return b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
}

/* The block of a key: the key's first 32 bits scaled to [0, blocks) (no division). */
static size_t bloom_block(uint32_t blocks, const uint8_t *key)
{
    return (size_t)(((uint64_t)cairn_get_u32be(key) * blocks) >> 32) * BLOOM_BLOCK;
}

static void bloom_add(uint8_t *bloom, uint32_t blocks, const uint8_t *key)
{
    uint8_t *b = bloom + bloom_block(blocks, key);
    uint64_t h = cairn_get_u64be(key + 8);
    for (unsigned i = 0; i < BLOOM_PROBES; i++, h >>= 9)
        b[(h & 511) >> 3] |= (uint8_t)(1u << (h & 7));
}

static int bloom_maybe(const uint8_t *bloom, uint32_t blocks, unsigned probes, const uint8_t *key)
{
    const uint8_t *b = bloom + bloom_block(blocks, key);
    uint64_t h = cairn_get_u64be(key + 8);
    for (unsigned i = 0; i < probes; i++, h >>= 9)
        if (!(b[(h & 511) >> 3] & (1u << (h & 7)))) return 0;
    return 1;
}

/* ---- directory ---- */

/* The stored directory: *p points at its entries, *n of them, *next the next run id. An
 * absent directory is an empty index. */
static int dir_raw(cairn_txn *t, uint8_t id, const uint8_t **p, uint32_t *n, uint64_t *next)
{
    uint8_t k[2];
    const void *v;
    size_t len;
    dir_key(k, id);
    *n = 0;
    *next = 1;
    int err = cairn_txn_get(t, CAIRN_TABLE_LSM, k, 2, &v, &len);
    if (err == CAIRN_ENOENT) return 0;
    if (err) return err;
    const uint8_t *d = v;
    if (len < DIR_FIXED) return CAIRN_ESTORE_CORRUPT;
    *n = cairn_get_u32be(d + 8);
    if (*n > CAIRN_LSM_MAX_RUNS || len != DIR_FIXED + (size_t)*n * DIR_ENTRY)
        return CAIRN_ESTORE_CORRUPT;
    *next = cairn_get_u64be(d);
    *p = d + DIR_FIXED;
    return 0;
}

/* Decodes and checks entry i of a stored directory (prev: entry i - 1, or NULL). */
static int dir_entry_decode(const uint8_t *p, uint64_t next, const dir_entry *prev, dir_entry *e)
{
    e->run = cairn_get_u64be(p);
    e->level = p[8];
    e->records = cairn_get_u64be(p + 9);
    e->min_tag = cairn_get_u64be(p + 17);
    e->max_tag = cairn_get_u64be(p + 25);
    if (e->run >= next || e->records == 0 || e->min_tag > e->max_tag ||
        (prev && (e->run <= prev->run || e->min_tag < prev->max_tag)))
        return CAIRN_ESTORE_CORRUPT;
    return 0;
}

static int dir_load(cairn_txn *t, uint8_t id, dir *d)
{
    const uint8_t *p = NULL;
    uint32_t n;
    int err = dir_raw(t, id, &p, &n, &d->next);
    d->n = 0;
    for (uint32_t i = 0; i < n && !err; i++, p += DIR_ENTRY, d->n++)
        err = dir_entry_decode(p, d->next, i ? &d->e[i - 1] : NULL, &d->e[i]);
    return err;
}

static int dir_save(cairn_txn *t, uint8_t id, const dir *d)
{
    uint8_t k[2], *p;
    dir_key(k, id);
    int err =
        cairn_txn_reserve(t, CAIRN_TABLE_LSM, k, 2, DIR_FIXED + d->n * DIR_ENTRY, (void **)&p);
    if (err) return err;
    cairn_put_u64be(p, d->next);
    cairn_put_u32be(p + 8, (uint32_t)d->n);
    p += DIR_FIXED;
    for (size_t i = 0; i < d->n; i++, p += DIR_ENTRY) {
        const dir_entry *e = &d->e[i];
        cairn_put_u64be(p, e->run);
        p[8] = e->level;
        cairn_put_u64be(p + 9, e->records);
        cairn_put_u64be(p + 17, e->min_tag);
        cairn_put_u64be(p + 25, e->max_tag);
    }
    return 0;
}

/* ---- run headers ---- */

/* Parses a run header into v (pointers into hdr). */
static int header_parse(const params *pp, const uint8_t *hdr, size_t len, cairn_lsm_run_view *v)
{
    if (len < HDR_FIXED || hdr[0] != HDR_FORMAT) return CAIRN_ESTORE_CORRUPT;
    v->probes = hdr[1];
    uint16_t rl = cairn_get_u16be(hdr + 2);
    v->per_chunk = cairn_get_u32be(hdr + 4);
    v->records = cairn_get_u64be(hdr + 8);
    v->chunks = cairn_get_u32be(hdr + 16);
    v->bloom_blocks = cairn_get_u32be(hdr + 20);
    if (rl != pp->rl || v->probes == 0 || v->probes > 7 || v->per_chunk == 0 ||
        v->bloom_blocks == 0 || v->records == 0 ||
        v->chunks != (v->records + v->per_chunk - 1) / v->per_chunk ||
        len != HDR_FIXED + (size_t)v->chunks * KEY + (size_t)v->bloom_blocks * BLOOM_BLOCK)
        return CAIRN_ESTORE_CORRUPT;
    v->fences = hdr + HDR_FIXED;
    v->bloom = v->fences + (size_t)v->chunks * KEY;
    return 0;
}

static int header_get(cairn_txn *t, const params *pp, uint64_t run, const uint8_t **hdr,
                      size_t *len, cairn_lsm_run_view *v)
{
    uint8_t k[10];
    const void *p;
    run_key(k, pp->id, run);
    int err = cairn_txn_get(t, CAIRN_TABLE_LSM, k, 10, &p, len);
    if (err) return err == CAIRN_ENOENT ? CAIRN_ESTORE_CORRUPT : err;
    *hdr = p;
    return header_parse(pp, p, *len, v);
}

/* Number of records in chunk c of run v. */
static uint32_t chunk_records(const cairn_lsm_run_view *v, uint32_t c)
{
    uint64_t before = (uint64_t)c * v->per_chunk;
    uint64_t left = v->records - before;
    return left < v->per_chunk ? (uint32_t)left : v->per_chunk;
}

static int chunk_get(cairn_txn *t, const params *pp, const cairn_lsm_run_view *v, uint32_t c,
                     const uint8_t **recs, uint32_t *n)
{
    uint8_t k[14];
    const void *p;
    size_t len;
    chunk_key(k, pp->id, v->run, c);
    int err = cairn_txn_get(t, CAIRN_TABLE_LSM, k, 14, &p, &len);
    if (err) return err == CAIRN_ENOENT ? CAIRN_ESTORE_CORRUPT : err;
    *n = chunk_records(v, c);
    if (len != (size_t)*n * pp->rl) return CAIRN_ESTORE_CORRUPT;
    *recs = p;
    return 0;
}

/* ---- reads ---- */

void cairn_lsm_reader_close(cairn_lsm_reader *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->runs[i].copy);
        r->runs[i].copy = NULL;
    }
    r->n = 0;
}

int cairn_lsm_reader_open(cairn_lsm_reader *r, cairn_txn *t, const cairn_lsm_spec *spec,
                          uint64_t min_tag)
{
    params pp;
    r->t = t;
    r->spec = *spec;
    r->n = 0;
    int err = params_of(spec, &pp);
    if (err) return err;
    const uint8_t *p = NULL;
    uint32_t n;
    uint64_t next;
    dir_entry prev, cur;
    if ((err = dir_raw(t, pp.id, &p, &n, &next))) return err;
    for (uint32_t i = 0; i < n; i++, p += DIR_ENTRY, prev = cur) {
        const dir_entry *e = &cur;
        if ((err = dir_entry_decode(p, next, i ? &prev : NULL, &cur))) goto out;
        if (e->max_tag < min_tag) continue;
        cairn_lsm_run_view *v = &r->runs[r->n];
        memset(v, 0, sizeof *v);
        const uint8_t *hdr;
        size_t len;
        if ((err = header_get(t, &pp, e->run, &hdr, &len, v))) goto out;
        if (v->records != e->records) {
            err = CAIRN_ESTORE_CORRUPT;
            goto out;
        }
        v->run = e->run;
        v->level = e->level;
        v->min_tag = e->min_tag;
        v->max_tag = e->max_tag;
        if (cairn_txn_table_written(t, CAIRN_TABLE_LSM)) {
            /* Possibly written in this transaction: later updates may move it; keep a copy. */
            if (!(v->copy = malloc(len))) {
                err = CAIRN_ENOMEM;
                goto out;
            }
            memcpy(v->copy, hdr, len);
            v->fences = v->copy + HDR_FIXED;
            v->bloom = v->fences + (size_t)v->chunks * KEY;
        }
        r->n++;
    }
out:
    if (err) cairn_lsm_reader_close(r);
    return err;
}

/* memcmp(a, b, KEY), deciding on the first 8 bytes when they differ (almost always). */
static int key_cmp(const uint8_t *a, const uint8_t *b)
{
    uint64_t x = cairn_get_u64be(a), y = cairn_get_u64be(b);
    if (x != y) return x < y ? -1 : 1;
    return memcmp(a + 8, b + 8, KEY - 8);
}

/* Record order: key, then value (so the smallest value of a key comes first). */
static int rec_cmp(const uint8_t *a, const uint8_t *b, size_t rl)
{
    int c = key_cmp(a, b);
    return c ? c : memcmp(a + KEY, b + KEY, rl - KEY);
}

/*
 * Number of elements <= key in a sorted array of n elements of `stride` bytes, each starting
 * with its key. Keys are uniform, so the search starts where interpolation puts the key and
 * gallops from there: it reads memory near the answer (about one page of a chunk or of the
 * fences) instead of bisecting across the whole array, and is still O(log n) at worst.
 */
static size_t count_le(const uint8_t *a, size_t stride, size_t n, const uint8_t *key)
{
    if (n == 0) return 0;
    uint64_t k = cairn_get_u64be(key), first = cairn_get_u64be(a);
    uint64_t last = cairn_get_u64be(a + (n - 1) * stride);
    size_t g = 0;
    if (k >= last)
        g = n - 1;
    else if (k > first)
        g = (size_t)((double)(k - first) / (double)(last - first) * (double)(n - 1));
    if (g >= n) g = n - 1;
    /* Invariant: elements [0, lo) are <= key, elements [hi, n) are > key. */
    size_t lo, hi, step = 1;
    if (key_cmp(a + g * stride, key) <= 0) {
        lo = g + 1;
        for (size_t b = lo;; step *= 2) {
            if (b >= n) {
                hi = n;
                break;
            }
            if (key_cmp(a + b * stride, key) > 0) {
                hi = b;
                break;
            }
            lo = b + 1;
            b = lo + step;
        }
    } else {
        hi = g;
        for (;; step *= 2) {
            size_t b = hi > step ? hi - step : 0;
            if (key_cmp(a + b * stride, key) <= 0) {
                lo = b + 1;
                break;
            }
            hi = b;
            if (b == 0) {
                lo = 0;
                break;
            }
        }
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(a + mid * stride, key) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Index of the last fence <= key, or -1. */
static long fence_find(const cairn_lsm_run_view *v, const uint8_t *key)
{
    return (long)count_le(v->fences, KEY, v->chunks, key) - 1;
}

/* Looks key up in one run; on a hit, keeps the value in val if it is smaller (or the first).
 * check_bloom 0: the caller has checked the run's Bloom filter already. */
static int run_probe(cairn_txn *t, const params *pp, const cairn_lsm_run_view *v,
                     const uint8_t *key, uint8_t *val, int *found, int check_bloom)
{
    if (check_bloom && !bloom_maybe(v->bloom, v->bloom_blocks, v->probes, key)) return 0;
    long c = fence_find(v, key);
    if (c < 0) return 0;
    const uint8_t *recs;
    uint32_t n;
    int err = chunk_get(t, pp, v, (uint32_t)c, &recs, &n);
    if (err) return err;
    size_t i = count_le(recs, pp->rl, n, key);
    if (i > 0 && key_cmp(recs + (i - 1) * pp->rl, key) == 0) {
        const uint8_t *value = recs + (i - 1) * pp->rl + KEY;
        if (!*found || memcmp(value, val, pp->vlen) < 0) memcpy(val, value, pp->vlen);
        *found = 1;
    }
    return 0;
}

int cairn_lsm_reader_get(cairn_lsm_reader *r, const uint8_t key[CAIRN_LSM_KEY_LEN], uint8_t *val)
{
    params pp;
    int err = params_of(&r->spec, &pp), found = 0;
    if (err) return err;
    /* Each run's filter block is a likely cache miss: ask for all of them first, so the misses
     * overlap instead of following one another. */
    for (size_t i = 0; i < r->n; i++)
        __builtin_prefetch(r->runs[i].bloom + bloom_block(r->runs[i].bloom_blocks, key));
    for (size_t i = 0; i < r->n && !err; i++) {
        const cairn_lsm_run_view *v = &r->runs[i];
        if (bloom_maybe(v->bloom, v->bloom_blocks, v->probes, key))
            err = run_probe(r->t, &pp, v, key, val, &found, 0);
    }
    return err ? err : found ? 0 : CAIRN_ENOENT;
}

int cairn_lsm_get(cairn_txn *t, const cairn_lsm_spec *spec, const uint8_t key[CAIRN_LSM_KEY_LEN],
                  uint64_t min_tag, uint8_t *val)
{
    /* Without a reader: each run's header is used right after it is read, nothing is kept. */
    params pp;
    int err = params_of(spec, &pp), found = 0;
    if (err) return err;
    const uint8_t *p = NULL;
    uint32_t n;
    uint64_t next;
    dir_entry prev, cur;
    if ((err = dir_raw(t, pp.id, &p, &n, &next))) return err;
    for (uint32_t i = 0; i < n && !err; i++, p += DIR_ENTRY, prev = cur) {
        if ((err = dir_entry_decode(p, next, i ? &prev : NULL, &cur))) break;
        if (cur.max_tag < min_tag) continue;
        cairn_lsm_run_view v = {.run = cur.run};
        const uint8_t *hdr;
        size_t len;
        if ((err = header_get(t, &pp, cur.run, &hdr, &len, &v))) break;
        if (v.records != cur.records) {
            err = CAIRN_ESTORE_CORRUPT;
            break;
        }
        err = run_probe(t, &pp, &v, key, val, &found, 1);
    }
    return err ? err : found ? 0 : CAIRN_ENOENT;
}

int cairn_lsm_stats_get(cairn_txn *t, const cairn_lsm_spec *spec, cairn_lsm_stats *st)
{
    params pp;
    int err = params_of(spec, &pp);
    if (err) return err;
    dir *d = malloc(sizeof *d);
    if (!d) return CAIRN_ENOMEM;
    memset(st, 0, sizeof *st);
    if (!(err = dir_load(t, pp.id, d))) {
        st->runs = d->n;
        for (size_t i = 0; i < d->n; i++) {
            st->records += d->e[i].records;
            if (d->e[i].level + 1u > st->levels) st->levels = (uint8_t)(d->e[i].level + 1);
        }
    }
    free(d);
    return err;
}

/* ---- writes ---- */

/* Builds one run: sorted records in, chunks out, then the header. Drops a record whose key
 * equals the previous one (callers feed the smallest value of a key first). */
typedef struct run_writer {
    cairn_txn *t;
    const params *pp;
    uint64_t run, records;
    uint8_t *chunk, *fences, *bloom;
    uint32_t in_chunk, chunks, fence_cap, blocks;
    int has_last;
    uint8_t last[KEY];
} run_writer;

static void writer_free(run_writer *w)
{
    free(w->chunk);
    free(w->fences);
    free(w->bloom);
}

static int writer_init(run_writer *w, cairn_txn *t, const params *pp, uint64_t run,
                       uint64_t max_records)
{
    memset(w, 0, sizeof *w);
    w->t = t;
    w->pp = pp;
    w->run = run;
    w->blocks = bloom_blocks_for(max_records);
    uint64_t chunks = (max_records + pp->pc - 1) / pp->pc;
    if (chunks > UINT32_MAX) return CAIRN_ETOOBIG;
    w->fence_cap = chunks ? (uint32_t)chunks : 1;
    w->chunk = malloc((size_t)pp->pc * pp->rl);
    w->fences = malloc((size_t)w->fence_cap * KEY);
    w->bloom = calloc(w->blocks, BLOOM_BLOCK);
    if (!w->chunk || !w->fences || !w->bloom) {
        writer_free(w);
        return CAIRN_ENOMEM;
    }
    return 0;
}

static int writer_flush(run_writer *w)
{
    if (w->in_chunk == 0) return 0;
    uint8_t k[14];
    chunk_key(k, w->pp->id, w->run, w->chunks - 1);
    int err =
        cairn_txn_put(w->t, CAIRN_TABLE_LSM, k, 14, w->chunk, (size_t)w->in_chunk * w->pp->rl, 0);
    w->in_chunk = 0;
    return err;
}

static int writer_add(run_writer *w, const uint8_t *rec)
{
    if (w->has_last && key_cmp(w->last, rec) == 0) return 0;
    memcpy(w->last, rec, KEY);
    w->has_last = 1;
    if (w->in_chunk == 0) {
        if (w->chunks == w->fence_cap) return CAIRN_EINTERNAL;
        memcpy(w->fences + (size_t)w->chunks * KEY, rec, KEY);
        w->chunks++;
    }
    memcpy(w->chunk + (size_t)w->in_chunk * w->pp->rl, rec, w->pp->rl);
    bloom_add(w->bloom, w->blocks, rec);
    w->records++;
    if (++w->in_chunk == w->pp->pc) return writer_flush(w);
    return 0;
}

static int writer_finish(run_writer *w)
{
    int err = writer_flush(w);
    if (err) return err;
    if (w->records == 0) return CAIRN_EINTERNAL;
    uint8_t k[10], *p;
    run_key(k, w->pp->id, w->run);
    size_t len = HDR_FIXED + (size_t)w->chunks * KEY + (size_t)w->blocks * BLOOM_BLOCK;
    if ((err = cairn_txn_reserve(w->t, CAIRN_TABLE_LSM, k, 10, len, (void **)&p))) return err;
    p[0] = HDR_FORMAT;
    p[1] = BLOOM_PROBES;
    cairn_put_u16be(p + 2, (uint16_t)w->pp->rl);
    cairn_put_u32be(p + 4, w->pp->pc);
    cairn_put_u64be(p + 8, w->records);
    cairn_put_u32be(p + 16, w->chunks);
    cairn_put_u32be(p + 20, w->blocks);
    memcpy(p + HDR_FIXED, w->fences, (size_t)w->chunks * KEY);
    memcpy(p + HDR_FIXED + (size_t)w->chunks * KEY, w->bloom, (size_t)w->blocks * BLOOM_BLOCK);
    return 0;
}

/* Deletes a run's chunks and header. */
static int run_delete(cairn_txn *t, const params *pp, uint64_t run)
{
    cairn_lsm_run_view v = {.run = run};
    const uint8_t *hdr;
    size_t len;
    int err = header_get(t, pp, run, &hdr, &len, &v);
    if (err) return err;
    uint32_t chunks = v.chunks;
    for (uint32_t c = 0; c < chunks; c++) {
        uint8_t k[14];
        chunk_key(k, pp->id, run, c);
        if ((err = cairn_txn_del(t, CAIRN_TABLE_LSM, k, 14)))
            return err == CAIRN_ENOENT ? CAIRN_ESTORE_CORRUPT : err;
    }
    uint8_t k[10];
    run_key(k, pp->id, run);
    err = cairn_txn_del(t, CAIRN_TABLE_LSM, k, 10);
    return err == CAIRN_ENOENT ? CAIRN_ESTORE_CORRUPT : err;
}

/* One input of a merge: a copy of its current chunk (later writes may move stored records). */
typedef struct merge_in {
    cairn_lsm_run_view v;
    uint8_t *buf;
    uint32_t chunk, n, pos;
} merge_in;

static int merge_load(cairn_txn *t, const params *pp, merge_in *in)
{
    const uint8_t *recs;
    int err = chunk_get(t, pp, &in->v, in->chunk, &recs, &in->n);
    if (err) return err;
    memcpy(in->buf, recs, (size_t)in->n * pp->rl);
    in->pos = 0;
    return 0;
}

/* Merges the runs d->e[first..d->n) into one run of level `level`, replacing them. */
static int merge_tail(cairn_txn *t, const params *pp, dir *d, size_t first, uint8_t level)
{
    size_t k = d->n - first;
    merge_in *in = calloc(k, sizeof *in);
    run_writer w;
    int have_writer = 0, err = 0;
    if (!in) return CAIRN_ENOMEM;
    uint64_t total = 0, min_tag = UINT64_MAX, max_tag = 0;
    for (size_t i = 0; i < k; i++) {
        const dir_entry *e = &d->e[first + i];
        const uint8_t *hdr;
        size_t len;
        in[i].v.run = e->run;
        if ((err = header_get(t, pp, e->run, &hdr, &len, &in[i].v))) goto out;
        in[i].v.fences = in[i].v.bloom = NULL; /* only the counts are used */
        if (!(in[i].buf = malloc((size_t)pp->pc * pp->rl))) {
            err = CAIRN_ENOMEM;
            goto out;
        }
        if ((err = merge_load(t, pp, &in[i]))) goto out;
        total += in[i].v.records;
        if (e->min_tag < min_tag) min_tag = e->min_tag;
        if (e->max_tag > max_tag) max_tag = e->max_tag;
    }
    uint64_t run = d->next;
    if ((err = writer_init(&w, t, pp, run, total))) goto out;
    have_writer = 1;
    for (;;) {
        merge_in *best = NULL;
        for (size_t i = 0; i < k; i++) {
            if (in[i].pos == in[i].n) continue;
            if (!best || rec_cmp(in[i].buf + (size_t)in[i].pos * pp->rl,
                                 best->buf + (size_t)best->pos * pp->rl, pp->rl) < 0)
                best = &in[i];
        }
        if (!best) break;
        if ((err = writer_add(&w, best->buf + (size_t)best->pos * pp->rl))) goto out;
        if (++best->pos == best->n && best->chunk + 1 < best->v.chunks) {
            best->chunk++;
            if ((err = merge_load(t, pp, best))) goto out;
        }
    }
    if ((err = writer_finish(&w))) goto out;
    for (size_t i = 0; i < k; i++)
        if ((err = run_delete(t, pp, in[i].v.run))) goto out;
    d->n = first + 1;
    d->e[first] = (dir_entry){
        .run = run, .records = w.records, .min_tag = min_tag, .max_tag = max_tag, .level = level};
    d->next = run + 1;
out:
    if (have_writer) writer_free(&w);
    for (size_t i = 0; i < k; i++) free(in[i].buf);
    free(in);
    return err;
}

/* qsort_r order: key, then value, so the smallest value of a key comes first. */
static int rec_cmp_len(const void *a, const void *b, void *len)
{
    return rec_cmp(a, b, *(const size_t *)len);
}

int cairn_lsm_append(cairn_txn *t, const cairn_lsm_spec *spec, uint8_t *recs, size_t n,
                     uint64_t tag)
{
    params pp;
    int err = params_of(spec, &pp);
    if (err) return err;
    if (!cairn_txn_is_write(t)) return CAIRN_EINVAL;
    if (n == 0) return 0;
    dir *d = malloc(sizeof *d);
    if (!d) return CAIRN_ENOMEM;
    run_writer w;
    int have_writer = 0;
    if ((err = dir_load(t, pp.id, d))) goto out;
    if (d->n > 0 && tag < d->e[d->n - 1].max_tag) {
        err = CAIRN_EINVAL;
        goto out;
    }
    if (d->n == CAIRN_LSM_MAX_RUNS) {
        err = CAIRN_ENOSPC;
        goto out;
    }
    qsort_r(recs, n, pp.rl, rec_cmp_len, &pp.rl);
    uint64_t run = d->next;
    if ((err = writer_init(&w, t, &pp, run, n))) goto out;
    have_writer = 1;
    for (size_t i = 0; i < n && !err; i++) err = writer_add(&w, recs + i * pp.rl);
    if (err || (err = writer_finish(&w))) goto out;
    d->e[d->n++] =
        (dir_entry){.run = run, .records = w.records, .min_tag = tag, .max_tag = tag, .level = 0};
    d->next = run + 1;
    /* Size-tiered merging, like a base-`fanout` counter: a level that reaches fanout runs becomes
     * one run of the next level, which may carry on upward. */
    for (;;) {
        uint8_t level = d->e[d->n - 1].level;
        size_t first = d->n;
        while (first > 0 && d->e[first - 1].level == level) first--;
        if (d->n - first < pp.fan || level == UINT8_MAX) break;
        first = d->n - pp.fan; /* more than fanout only when a merge was too big (below) */
        uint64_t sum = 0;
        for (size_t i = first; i < d->n; i++) sum += d->e[i].records;
        if (sum > pp.cap) break;
        if ((err = merge_tail(t, &pp, d, first, (uint8_t)(level + 1)))) goto out;
    }
    err = dir_save(t, pp.id, d);
out:
    if (have_writer) writer_free(&w);
    free(d);
    return err;
}
