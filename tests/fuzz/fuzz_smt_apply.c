/* The stored state tree (ledger/smt.h) against a naive reference, driven by arbitrary input:
 * each input is a sequence of batches of puts and deletes over 256 keys chosen to share long
 * prefixes (so paths run deep and nodes collapse), applied as versions to a fresh store. After
 * every version the root must equal the reference root; at the end every version's root, reads
 * and proofs of a few keys are checked against the reference history.
 *
 * Input: a sequence of ops, 2 bytes each: op (bit 7: end the batch after this op; bits 0-1:
 * 0 = delete, else put with a value of op >> 2 & 31 bytes), key selector. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/smt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NKEYS  256
#define MAXVER 12
#define MAXOPS 256

typedef struct ref {
    int len[NKEYS]; /* -1: absent */
    uint8_t val[NKEYS][32];
} ref;

typedef struct item {
    uint8_t key[32], vh[32];
} item;

/* Key families: differ in the first byte, in the last byte, in byte 15, or hashed. */
static void make_key(unsigned sel, uint8_t key[32])
{
    memset(key, 0x5a, 32);
    unsigned v = sel & 63;
    switch (sel >> 6) {
    case 0:
        key[0] = (uint8_t)(v << 2);
        break;
    case 1:
        key[31] = (uint8_t)v;
        break;
    case 2:
        key[15] = (uint8_t)(v * 5);
        break;
    default:
        cairn_sha256_oneshot(key, &sel, sizeof sel);
        break;
    }
}

static unsigned bit_of(const uint8_t *k, unsigned i)
{
    return (unsigned)(k[i >> 3] >> (7 - (i & 7))) & 1u;
}

static void ref_root_at(const item *it, size_t m, unsigned b, uint8_t out[32])
{
    if (m == 0) {
        memset(out, 0, 32);
        return;
    }
    if (m == 1) {
        cairn_smt_hash_leaf(out, it[0].key, it[0].vh);
        return;
    }
    size_t split = 0;
    while (split < m && !bit_of(it[split].key, b)) split++;
    uint8_t l[32], r[32];
    ref_root_at(it, split, b + 1, l);
    ref_root_at(it + split, m - split, b + 1, r);
    cairn_smt_hash_node(out, l, r);
}

static int item_cmp(const void *a, const void *b)
{
    return memcmp(((const item *)a)->key, ((const item *)b)->key, 32);
}

static void ref_root(const ref *r, const uint8_t (*keys)[32], uint8_t out[32])
{
    item it[NKEYS];
    size_t n = 0;
    for (size_t i = 0; i < NKEYS; i++) {
        if (r->len[i] < 0) continue;
        memcpy(it[n].key, keys[i], 32);
        cairn_smt_hash_value(it[n].vh, r->val[i], (size_t)r->len[i]);
        n++;
    }
    qsort(it, n, sizeof *it, item_cmp);
    ref_root_at(it, n, 0, out);
}

static void check_key(cairn_txn *t, uint64_t version, const uint8_t root[32], const uint8_t *key,
                      int len, const uint8_t *val)
{
    const uint8_t *v;
    size_t vlen;
    int rc = cairn_smt_get(t, version, key, &v, &vlen);
    if (len < 0 ? rc != CAIRN_ENOENT : rc != 0 || vlen != (size_t)len || memcmp(v, val, vlen))
        abort();
    uint8_t proof[CAIRN_SMT_MAX_PROOF];
    size_t plen;
    if (cairn_smt_prove(t, version, key, proof, sizeof proof, &plen, &v, &vlen) != 0) abort();
    if ((len < 0) != (v == NULL)) abort();
    if (cairn_smt_verify(root, key, len < 0 ? NULL : val, len < 0 ? 0 : (size_t)len, proof, plen) !=
        0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * MAXOPS) return 0;
    static uint8_t keys[NKEYS][32];
    for (unsigned i = 0; i < NKEYS; i++) make_key(i, keys[i]);

    /* tmpfs when there is one: every commit syncs, and the input, not the disk, is under test. */
    char dir[] = "/dev/shm/cairn-fuzz-smt-XXXXXX";
    if (!mkdtemp(dir)) {
        snprintf(dir, sizeof dir, "%s", "/tmp/cairn-fuzz-smt-XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    cairn_store *s;
    cairn_store_options opt = {.initial_map_size = (size_t)64 << 20};
    if (cairn_store_open(&s, dir, &opt) != 0) abort();

    ref *hist = calloc(MAXVER, sizeof *hist);
    ref cur;
    for (int i = 0; i < NKEYS; i++) cur.len[i] = -1;
    uint8_t roots[MAXVER][32];
    cairn_smt_update ups[MAXOPS];
    uint8_t vals[MAXOPS][32];
    size_t n = 0, versions = 0, nops = size / 2;
    for (size_t i = 0; i <= nops && versions < MAXVER; i++) {
        int end = i == nops; /* the last batch ends with the input */
        if (!end) {
            unsigned op = data[2 * i], sel = data[2 * i + 1];
            memcpy(ups[n].key, keys[sel], 32);
            if ((op & 3) == 0) {
                ups[n].value = NULL;
                ups[n].len = 0;
                cur.len[sel] = -1;
            } else {
                size_t len = op >> 2 & 31;
                memset(vals[n], (int)(op ^ sel), len);
                ups[n].value = vals[n];
                ups[n].len = len;
                cur.len[sel] = (int)len;
                memcpy(cur.val[sel], vals[n], len);
            }
            n++;
            end = (op & 0x80) != 0;
        }
        if (!end) continue;
        cairn_txn *t;
        uint8_t root[32], expect[32];
        if (cairn_store_write_begin(s, &t) != 0) abort();
        if (cairn_smt_apply(t, 2 * versions + 1, ups, n, root) != 0) abort();
        if (cairn_txn_commit(t) != 0) abort();
        ref_root(&cur, (const uint8_t(*)[32])keys, expect);
        if (memcmp(root, expect, 32) != 0) abort();
        memcpy(roots[versions], root, 32);
        hist[versions++] = cur;
        n = 0;
    }

    cairn_txn *t;
    if (cairn_store_read_begin(s, &t) != 0) abort();
    for (size_t k = 0; k < versions; k++) {
        uint8_t root[32];
        if (cairn_smt_root(t, 2 * k + 1, root) != 0 || memcmp(root, roots[k], 32) != 0) abort();
        if (cairn_smt_root(t, 2 * k + 2, root) != CAIRN_ESTATE_VERSION) abort();
        /* The keys this input touched, plus a fixed sample of the others. */
        for (size_t p = 0; p + 1 < size; p += 2) {
            unsigned sel = data[p + 1];
            check_key(t, 2 * k + 1, roots[k], keys[sel], hist[k].len[sel], hist[k].val[sel]);
        }
        for (unsigned sel = 0; sel < NKEYS; sel += 37)
            check_key(t, 2 * k + 1, roots[k], keys[sel], hist[k].len[sel], hist[k].val[sel]);
    }
    cairn_txn_abort(t);
    cairn_store_close(s);
    free(hist);
    char path[80];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    if (rmdir(dir) != 0) abort();
    return 0;
}
