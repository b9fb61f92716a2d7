#include "node/mempool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint8_t hash[32];
    uint8_t *raw;
    size_t len;
    int queued; /* 0 once taken into a batch */
} entry;

struct cairn_mempool {
    pthread_mutex_t mu;
    size_t max_txs, max_bytes, bytes;
    entry *e; /* FIFO: queued entries first in order of admission, taken ones anywhere */
    size_t n, cap, queued;
};

int cairn_mempool_new(cairn_mempool **out, size_t max_txs, size_t max_bytes)
{
    cairn_mempool *mp = calloc(1, sizeof *mp);
    if (!mp) return CAIRN_ENOMEM;
    pthread_mutex_init(&mp->mu, NULL);
    mp->max_txs = max_txs;
    mp->max_bytes = max_bytes;
    *out = mp;
    return 0;
}

void cairn_mempool_free(cairn_mempool *mp)
{
    if (!mp) return;
    for (size_t i = 0; i < mp->n; i++) free(mp->e[i].raw);
    free(mp->e);
    pthread_mutex_destroy(&mp->mu);
    free(mp);
}

static entry *find(cairn_mempool *mp, const uint8_t hash[32])
{
    for (size_t i = 0; i < mp->n; i++)
        if (memcmp(mp->e[i].hash, hash, 32) == 0) return &mp->e[i];
    return NULL;
}

int cairn_mempool_add(cairn_mempool *mp, const uint8_t hash[32], const uint8_t *raw, size_t len)
{
    int err = 0;
    pthread_mutex_lock(&mp->mu);
    if (find(mp, hash)) {
        err = CAIRN_EEXIST;
    } else if (mp->n >= mp->max_txs || mp->bytes + len > mp->max_bytes) {
        err = CAIRN_EMEMPOOL_FULL;
    } else {
        if (mp->n == mp->cap) {
            size_t cap = mp->cap ? mp->cap * 2 : 64;
            entry *ne = realloc(mp->e, cap * sizeof *ne);
            if (!ne)
                err = CAIRN_ENOMEM;
            else {
                mp->e = ne;
                mp->cap = cap;
            }
        }
        uint8_t *copy = err ? NULL : malloc(len ? len : 1);
        if (!err && !copy) err = CAIRN_ENOMEM;
        if (!err) {
            memcpy(copy, raw, len);
            entry *e = &mp->e[mp->n++];
            memcpy(e->hash, hash, 32);
            e->raw = copy;
            e->len = len;
            e->queued = 1;
            mp->bytes += len;
            mp->queued++;
        }
    }
    pthread_mutex_unlock(&mp->mu);
    return err;
}

int cairn_mempool_pending(cairn_mempool *mp, const uint8_t hash[32])
{
    pthread_mutex_lock(&mp->mu);
    int found = find(mp, hash) != NULL;
    pthread_mutex_unlock(&mp->mu);
    return found;
}

size_t cairn_mempool_size(cairn_mempool *mp)
{
    pthread_mutex_lock(&mp->mu);
    size_t n = mp->queued;
    pthread_mutex_unlock(&mp->mu);
    return n;
}

int cairn_mempool_take(cairn_mempool *mp, size_t max, cairn_mempool_batch *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_lock(&mp->mu);
    size_t n = mp->queued < max ? mp->queued : max;
    b->txs = calloc(n ? n : 1, sizeof *b->txs);
    b->hashes = calloc(n ? n : 1, 32);
    int err = b->txs && b->hashes ? 0 : CAIRN_ENOMEM;
    for (size_t i = 0; i < mp->n && b->n < n && !err; i++) {
        entry *e = &mp->e[i];
        if (!e->queued) continue;
        e->queued = 0;
        mp->queued--;
        b->txs[b->n] = (cairn_log_leaf){e->raw, e->len};
        memcpy(b->hashes[b->n], e->hash, 32);
        b->n++;
    }
    pthread_mutex_unlock(&mp->mu);
    if (err) {
        free(b->txs);
        free(b->hashes);
        memset(b, 0, sizeof *b);
    }
    return err;
}

void cairn_mempool_done(cairn_mempool *mp, cairn_mempool_batch *b)
{
    pthread_mutex_lock(&mp->mu);
    /* One batch is in flight at a time, so the taken entries are exactly those not queued. */
    size_t w = 0;
    for (size_t i = 0; i < mp->n; i++) {
        entry *e = &mp->e[i];
        if (!e->queued) {
            mp->bytes -= e->len;
            free(e->raw);
        } else {
            mp->e[w++] = *e;
        }
    }
    mp->n = w;
    pthread_mutex_unlock(&mp->mu);
    free(b->txs);
    free(b->hashes);
    memset(b, 0, sizeof *b);
}
