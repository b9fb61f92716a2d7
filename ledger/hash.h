/*
 * hash.h — SHA-256 for every hashed structure in Cairn.
 *
 * Backed by OpenSSL's libcrypto, which uses the CPU's SHA extensions where present; results are
 * identical on every CPU. The context is a plain value: no allocation, may be copied.
 */
#ifndef CAIRN_LEDGER_HASH_H
#define CAIRN_LEDGER_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED
#endif
#include <openssl/sha.h>

#define CAIRN_HASH_LEN 32

typedef struct cairn_sha256 {
    SHA256_CTX c;
} cairn_sha256;

static inline void cairn_sha256_init(cairn_sha256 *h)
{
    SHA256_Init(&h->c);
}
static inline void cairn_sha256_update(cairn_sha256 *h, const void *data, size_t len)
{
    SHA256_Update(&h->c, data, len);
}
static inline void cairn_sha256_final(cairn_sha256 *h, uint8_t out[CAIRN_HASH_LEN])
{
    SHA256_Final(out, &h->c);
}

/* out = SHA-256(data[0..len)). */
void cairn_sha256_oneshot(uint8_t out[CAIRN_HASH_LEN], const void *data, size_t len);

/* Domain-separated hash: out = SHA-256(tag || 0x00 || data), tag a NUL-terminated ASCII string. */
void cairn_sha256_tagged(uint8_t out[CAIRN_HASH_LEN], const char *tag, const void *data,
                         size_t len);

#endif
