#include "node/mempool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "node/h32map.h"

typedef struct entry {
    uint8_t hash[32];
    uint8_t signer[32], client[32];
    uint8_t *raw; /* owned while queued; moves to the batch when taken */
    size_t len;
    uint8_t has_signer, has_client;
    uint8_t dead; /* released while queued: dropped (and freed) when it reaches the queue head */
} entry;

struct cairn_mempool {
    pthread_mutex_t mu;
    cairn_mempool_limits lim;
    size_t bytes;
    h32map txs;     /* tx hash -> entry * */
    h32map signers; /* signer id -> pending count */
    h32map clients; /* client id -> pending count */
    entry **q;      /* FIFO of queued entries: ring buffer */
    size_t q_head, q_len, q_cap;
    size_t q_live; /* queued entries not dead */
};

int cairn_mempool_new(cairn_mempool **out, const cairn_mempool_limits *lim)
{
    *out = NULL;
    if (!lim || lim->max_txs == 0) return CAIRN_EINVAL;
    cairn_mempool *mp = calloc(1, sizeof *mp);
    if (!mp) return CAIRN_ENOMEM;
    pthread_mutex_init(&mp->mu, NULL);
    mp->lim = *lim;
    *out = mp;
    return 0;
}

void cairn_mempool_free(cairn_mempool *mp)
{
    if (!mp) return;
    /* Dead entries are only in the queue; live ones are in the map (queued ones in both). */
    for (size_t i = 0; i < mp->q_len; i++) {
        entry *e = mp->q[(mp->q_head + i) % mp->q_cap];
        if (e->dead) free(e);
    }
    for (size_t i = 0; i < mp->txs.cap; i++) {
        if (!mp->txs.s[i].used) continue;
        entry *e = (entry *)(uintptr_t)mp->txs.s[i].val;
        free(e->raw);
        free(e);
    }
    h32map_free(&mp->txs);
    h32map_free(&mp->signers);
    h32map_free(&mp->clients);
    free(mp->q);
    pthread_mutex_destroy(&mp->mu);
    free(mp);
}

static uint64_t count_of(const h32map *m, const uint8_t *key)
{
    h32map_slot *s = h32map_find(m, key);
    return s ? s->val : 0;
}

/* Adds delta (+1 or -1) to key's count, removing it at zero. */
static int count_add(h32map *m, const uint8_t *key, int delta)
{
    h32map_slot *s;
    int added;
    int err = h32map_put(m, key, 0, &s, &added);
    if (err) return err;
    s->val = (uint64_t)((int64_t)s->val + delta);
    if (s->val == 0) h32map_del(m, key);
    return 0;
}

static int q_push(cairn_mempool *mp, entry *e)
{
    if (mp->q_len == mp->q_cap) {
        size_t cap = mp->q_cap ? mp->q_cap * 2 : 256;
        entry **nq = malloc(cap * sizeof *nq);
        if (!nq) return CAIRN_ENOMEM;
        for (size_t i = 0; i < mp->q_len; i++) nq[i] = mp->q[(mp->q_head + i) % mp->q_cap];
        free(mp->q);
        mp->q = nq;
        mp->q_cap = cap;
        mp->q_head = 0;
    }
    mp->q[(mp->q_head + mp->q_len++) % mp->q_cap] = e;
    mp->q_live++;
    return 0;
}

int cairn_mempool_add(cairn_mempool *mp, const uint8_t hash[32], const uint8_t *raw, size_t len,
                      const uint8_t *signer, const uint8_t *client)
{
    entry *e = calloc(1, sizeof *e);
    uint8_t *copy = malloc(len ? len : 1);
    if (!e || !copy) {
        free(e);
        free(copy);
        return CAIRN_ENOMEM;
    }
    memcpy(copy, raw, len);
    memcpy(e->hash, hash, 32);
    e->raw = copy;
    e->len = len;
    if (signer) memcpy(e->signer, signer, 32), e->has_signer = 1;
    if (client) memcpy(e->client, client, 32), e->has_client = 1;

    int err = 0;
    pthread_mutex_lock(&mp->mu);
    const cairn_mempool_limits *L = &mp->lim;
    if (h32map_find(&mp->txs, hash))
        err = CAIRN_EEXIST;
    else if (mp->txs.n >= L->max_txs || mp->bytes + len > L->max_bytes ||
             (signer && L->max_per_signer && count_of(&mp->signers, signer) >= L->max_per_signer) ||
             (client && L->max_per_client && count_of(&mp->clients, client) >= L->max_per_client))
        err = CAIRN_EMEMPOOL_FULL;
    h32map_slot *s = NULL;
    int added = 0;
    if (!err) err = h32map_put(&mp->txs, hash, (uint64_t)(uintptr_t)e, &s, &added);
    if (!err && (err = q_push(mp, e))) h32map_del(&mp->txs, hash);
    if (!err && signer) err = count_add(&mp->signers, signer, 1);
    if (!err && client && (err = count_add(&mp->clients, client, 1)) && signer)
        (void)count_add(&mp->signers, signer, -1);
    if (err && added && err != CAIRN_EEXIST) {
        /* Undo (only ENOMEM gets here after insertion): the entry is the last queued. */
        h32map_del(&mp->txs, hash);
        if (mp->q_len && mp->q[(mp->q_head + mp->q_len - 1) % mp->q_cap] == e) {
            mp->q_len--;
            mp->q_live--;
        }
    }
    if (!err) mp->bytes += len;
    pthread_mutex_unlock(&mp->mu);
    if (err) {
        free(copy);
        free(e);
    }
    return err;
}

int cairn_mempool_pending(cairn_mempool *mp, const uint8_t hash[32])
{
    pthread_mutex_lock(&mp->mu);
    int found = h32map_find(&mp->txs, hash) != NULL;
    pthread_mutex_unlock(&mp->mu);
    return found;
}

size_t cairn_mempool_size(cairn_mempool *mp)
{
    pthread_mutex_lock(&mp->mu);
    size_t n = mp->q_live;
    pthread_mutex_unlock(&mp->mu);
    return n;
}

size_t cairn_mempool_pending_count(cairn_mempool *mp)
{
    pthread_mutex_lock(&mp->mu);
    size_t n = mp->txs.n;
    pthread_mutex_unlock(&mp->mu);
    return n;
}

int cairn_mempool_take(cairn_mempool *mp, size_t max_txs, size_t max_bytes, cairn_mempool_batch *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_lock(&mp->mu);
    size_t n = mp->q_live < max_txs ? mp->q_live : max_txs;
    b->txs = calloc(n ? n : 1, sizeof *b->txs);
    b->hashes = calloc(n ? n : 1, 32);
    int err = b->txs && b->hashes ? 0 : CAIRN_ENOMEM;
    size_t bytes = 0;
    while (!err && b->n < n) {
        entry *e = mp->q[mp->q_head];
        if (e->dead) {
            mp->q_head = (mp->q_head + 1) % mp->q_cap;
            mp->q_len--;
            free(e);
            continue;
        }
        if (b->n > 0 && bytes + e->len > max_bytes) break;
        mp->q_head = (mp->q_head + 1) % mp->q_cap;
        mp->q_len--;
        mp->q_live--;
        bytes += e->len;
        b->txs[b->n] = (cairn_log_leaf){e->raw, e->len};
        memcpy(b->hashes[b->n], e->hash, 32);
        e->raw = NULL;
        b->n++;
    }
    pthread_mutex_unlock(&mp->mu);
    if (err) cairn_mempool_batch_free(b);
    return err;
}

void cairn_mempool_release(cairn_mempool *mp, const uint8_t (*hashes)[32], size_t n)
{
    pthread_mutex_lock(&mp->mu);
    for (size_t i = 0; i < n; i++) {
        h32map_slot *s = h32map_find(&mp->txs, hashes[i]);
        if (!s) continue;
        entry *e = (entry *)(uintptr_t)s->val;
        h32map_del(&mp->txs, hashes[i]);
        mp->bytes -= e->len;
        if (e->has_signer) (void)count_add(&mp->signers, e->signer, -1);
        if (e->has_client) (void)count_add(&mp->clients, e->client, -1);
        if (e->raw) { /* still queued (committed through another node's batch) */
            free(e->raw);
            e->raw = NULL;
            e->dead = 1;
            mp->q_live--;
        } else {
            free(e);
        }
    }
    pthread_mutex_unlock(&mp->mu);
}

void cairn_mempool_batch_free(cairn_mempool_batch *b)
{
    for (size_t i = 0; i < b->n; i++) free((void *)b->txs[i].data);
    free(b->txs);
    free(b->hashes);
    memset(b, 0, sizeof *b);
}
