/*
 * h32map.h — an open-addressing hash map from 32-byte keys (hashes, digests, key hashes) to a
 * uint64_t value: linear probing, backward-shift deletion (no tombstones), load factor <= 1/2.
 * Keys are uniformly random already (SHA-256 outputs), so the first 8 bytes are the hash; a key
 * that is not a hash must be hashed by the caller first.
 *
 * Not thread-safe. The map owns its slot array; h32map_free releases it. Errors: 0 or
 * CAIRN_ENOMEM (the map is unchanged).
 */
#ifndef CAIRN_NODE_H32MAP_H
#define CAIRN_NODE_H32MAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/error.h"

typedef struct h32map_slot {
    uint8_t key[32];
    uint64_t val;
    int used;
} h32map_slot;

typedef struct h32map {
    h32map_slot *s;
    size_t cap; /* power of two, or 0 */
    size_t n;
} h32map;

static inline size_t h32map_home(const h32map *m, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, 8);
    return (size_t)h & (m->cap - 1);
}

/* The slot holding key, or NULL. */
static inline h32map_slot *h32map_find(const h32map *m, const uint8_t key[32])
{
    if (m->n == 0) return NULL;
    for (size_t i = h32map_home(m, key);; i = (i + 1) & (m->cap - 1)) {
        h32map_slot *sl = &m->s[i];
        if (!sl->used) return NULL;
        if (memcmp(sl->key, key, 32) == 0) return sl;
    }
}

static inline int h32map_grow(h32map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    h32map_slot *ns = calloc(cap, sizeof *ns);
    if (!ns) return CAIRN_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->s[i].used) continue;
        size_t j;
        uint64_t h;
        memcpy(&h, m->s[i].key, 8);
        for (j = (size_t)h & (cap - 1); ns[j].used; j = (j + 1) & (cap - 1)) {
        }
        ns[j] = m->s[i];
    }
    free(m->s);
    m->s = ns;
    m->cap = cap;
    return 0;
}

/* Inserts key with value val, or finds it. *slot receives the slot; *added says which. */
static inline int h32map_put(h32map *m, const uint8_t key[32], uint64_t val, h32map_slot **slot,
                             int *added)
{
    h32map_slot *f = h32map_find(m, key);
    if (f) {
        *slot = f;
        *added = 0;
        return 0;
    }
    if ((m->n + 1) * 2 > m->cap) {
        int err = h32map_grow(m);
        if (err) return err;
    }
    size_t i = h32map_home(m, key);
    while (m->s[i].used) i = (i + 1) & (m->cap - 1);
    memcpy(m->s[i].key, key, 32);
    m->s[i].val = val;
    m->s[i].used = 1;
    m->n++;
    *slot = &m->s[i];
    *added = 1;
    return 0;
}

/* Removes key; returns 1 if it was present. Invalidates slot pointers. */
static inline int h32map_del(h32map *m, const uint8_t key[32])
{
    h32map_slot *f = h32map_find(m, key);
    if (!f) return 0;
    size_t i = (size_t)(f - m->s);
    size_t mask = m->cap - 1;
    for (size_t j = (i + 1) & mask; m->s[j].used; j = (j + 1) & mask) {
        size_t home = h32map_home(m, m->s[j].key);
        /* Move j back into the hole at i unless its home lies cyclically in (i, j]. */
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            m->s[i] = m->s[j];
            i = j;
        }
    }
    memset(&m->s[i], 0, sizeof m->s[i]);
    m->n--;
    return 1;
}

static inline void h32map_free(h32map *m)
{
    free(m->s);
    memset(m, 0, sizeof *m);
}

#endif
