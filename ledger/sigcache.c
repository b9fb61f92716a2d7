/*
 * sigcache.c — see sigcache.h.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/sigcache.h"

#define WAYS    4
#define STRIPES 256

typedef struct entry {
    uint8_t key[32]; /* all zero: empty (SHA-256 never yields zero in practice) */
} entry;

struct cairn_sigcache {
    entry *sets;  /* nsets * WAYS */
    size_t nsets; /* power of two */
    uint8_t secret[crypto_shorthash_KEYBYTES];
    pthread_mutex_t locks[STRIPES];
    uint64_t hits[STRIPES], misses[STRIPES], inserts[STRIPES], evictions[STRIPES];
};

static const uint8_t zero_key[32];

int cairn_sigcache_new(cairn_sigcache **out, size_t bytes)
{
    *out = NULL;
    if (sodium_init() < 0) return CAIRN_EINTERNAL;
    if (bytes == 0) bytes = CAIRN_SIGCACHE_DEFAULT_BYTES;
    if (bytes < 4096) bytes = 4096;
    size_t nsets = 1;
    while (nsets * 2 * WAYS * sizeof(entry) <= bytes) nsets *= 2;
    cairn_sigcache *c = calloc(1, sizeof *c);
    if (!c) return CAIRN_ENOMEM;
    c->sets = calloc(nsets * WAYS, sizeof(entry));
    if (!c->sets) {
        free(c);
        return CAIRN_ENOMEM;
    }
    c->nsets = nsets;
    randombytes_buf(c->secret, sizeof c->secret);
    for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&c->locks[i], NULL);
    *out = c;
    return 0;
}

void cairn_sigcache_free(cairn_sigcache *c)
{
    if (!c) return;
    for (int i = 0; i < STRIPES; i++) pthread_mutex_destroy(&c->locks[i]);
    free(c->sets);
    free(c);
}

static void put_u64(cairn_sha256 *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (56 - 8 * i));
    cairn_sha256_update(h, b, 8);
}

void cairn_sigcache_key(uint8_t key[32], const cairn_sig_item *it)
{
    static const char tag[] = "cairn/sigcache/v1";
    const uint8_t *pk = it->pk;
    size_t pk_len = it->pk_len;
    if (it->alg == CAIRN_SIG_ED25519 && it->ed_key) pk = it->ed_key->enc, pk_len = 32;
    cairn_sha256 h;
    cairn_sha256_init(&h);
    cairn_sha256_update(&h, tag, sizeof tag);
    put_u64(&h, (uint64_t)it->alg);
    put_u64(&h, pk_len);
    cairn_sha256_update(&h, pk, pk_len);
    put_u64(&h, it->sig_len);
    cairn_sha256_update(&h, it->sig, it->sig_len);
    put_u64(&h, it->msg_len);
    cairn_sha256_update(&h, it->msg, it->msg_len);
    cairn_sha256_final(&h, key);
    if (memcmp(key, zero_key, 32) == 0) key[0] = 1; /* keep "empty" unambiguous */
}

static uint64_t slot_hash(const cairn_sigcache *c, const uint8_t key[32])
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, key, 32, c->secret);
    uint64_t v;
    memcpy(&v, out, 8);
    return v;
}

int cairn_sigcache_lookup(cairn_sigcache *c, const uint8_t key[32])
{
    uint64_t hv = slot_hash(c, key);
    size_t set = (size_t)hv & (c->nsets - 1);
    size_t stripe = set % STRIPES;
    int hit = 0;
    pthread_mutex_lock(&c->locks[stripe]);
    entry *e = &c->sets[set * WAYS];
    for (int w = 0; w < WAYS; w++)
        if (memcmp(e[w].key, key, 32) == 0) hit = 1;
    if (hit)
        c->hits[stripe]++;
    else
        c->misses[stripe]++;
    pthread_mutex_unlock(&c->locks[stripe]);
    return hit;
}

void cairn_sigcache_insert(cairn_sigcache *c, const uint8_t key[32])
{
    uint64_t hv = slot_hash(c, key);
    size_t set = (size_t)hv & (c->nsets - 1);
    size_t stripe = set % STRIPES;
    pthread_mutex_lock(&c->locks[stripe]);
    entry *e = &c->sets[set * WAYS];
    int free_way = -1;
    for (int w = 0; w < WAYS; w++) {
        if (memcmp(e[w].key, key, 32) == 0) goto out;
        if (free_way < 0 && memcmp(e[w].key, zero_key, 32) == 0) free_way = w;
    }
    if (free_way < 0) {
        /* Evict a way chosen by the keyed hash's high bits (unpredictable to peers). */
        free_way = (int)((hv >> 60) % WAYS);
        c->evictions[stripe]++;
    }
    memcpy(e[free_way].key, key, 32);
    c->inserts[stripe]++;
out:
    pthread_mutex_unlock(&c->locks[stripe]);
}

void cairn_sigcache_get_stats(cairn_sigcache *c, cairn_sigcache_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&c->locks[i]);
        out->hits += c->hits[i];
        out->misses += c->misses[i];
        out->inserts += c->inserts[i];
        out->evictions += c->evictions[i];
        pthread_mutex_unlock(&c->locks[i]);
    }
    out->capacity = c->nsets * WAYS;
}
