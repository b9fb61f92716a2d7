/*
 * sigcache.h — a bounded cache of signatures already found valid, so a signature checked at
 * mempool admission is not checked again when its block is applied.
 *
 * Keys are SHA-256 over a domain tag, the algorithm, and the length-prefixed public key,
 * signature and message (cairn_sigcache_key). Only valid results are stored. The cache never
 * changes a result: a hit means "this exact (alg, key, sig, msg) verified before", a miss just
 * costs a verification. Memory is fixed at creation (4-way set-associative table of 32-byte
 * keys; the set index is a SipHash of the key under a random per-cache secret, so peers cannot
 * aim evictions at chosen entries). Thread-safe: lookups and inserts lock one of 256 stripes.
 */
#ifndef CAIRN_LEDGER_SIGCACHE_H
#define CAIRN_LEDGER_SIGCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/sig.h"

#define CAIRN_SIGCACHE_DEFAULT_BYTES ((size_t)64 << 20)

typedef struct cairn_sigcache cairn_sigcache;

typedef struct cairn_sigcache_stats {
    uint64_t hits, misses, inserts, evictions;
    size_t capacity; /* entries */
} cairn_sigcache_stats;

/* Creates a cache using about `bytes` of memory (0: 64 MiB; at least 4 KiB). CAIRN_ENOMEM. */
CAIRN_MUST_CHECK int cairn_sigcache_new(cairn_sigcache **out, size_t bytes);
void cairn_sigcache_free(cairn_sigcache *c);

/* The cache key of an item (for Ed25519 with ed_key, the key's encoding is the public key). */
void cairn_sigcache_key(uint8_t key[32], const cairn_sig_item *item);

/* 1 when key is present (the signature verified before), 0 otherwise. */
int cairn_sigcache_lookup(cairn_sigcache *c, const uint8_t key[32]);

/* Remembers key as valid, evicting an entry of its set when full. */
void cairn_sigcache_insert(cairn_sigcache *c, const uint8_t key[32]);

void cairn_sigcache_get_stats(cairn_sigcache *c, cairn_sigcache_stats *out);

#endif
