#include "ledger/hash.h"

#include <string.h>

void cairn_sha256_oneshot(uint8_t out[CAIRN_HASH_LEN], const void *data, size_t len)
{
    cairn_sha256 h;
    cairn_sha256_init(&h);
    cairn_sha256_update(&h, data, len);
    cairn_sha256_final(&h, out);
}

void cairn_sha256_tagged(uint8_t out[CAIRN_HASH_LEN], const char *tag, const void *data, size_t len)
{
    cairn_sha256 h;
    cairn_sha256_init(&h);
    cairn_sha256_update(&h, tag, strlen(tag) + 1); /* includes the NUL separator */
    cairn_sha256_update(&h, data, len);
    cairn_sha256_final(&h, out);
}
