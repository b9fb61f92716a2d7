/* Hex decoding: never reads or writes out of bounds; accepts exactly even-length hex digits and
 * round-trips through the encoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t out[2048];
    size_t n;
    int err = cairn_hex_decode(out, sizeof out, &n, (const char *)data, size);
    if (err == 0) {
        char *again = malloc(2 * n + 1);
        cairn_hex_encode(again, out, n);
        /* Decoding accepts upper case; the encoder writes lower case. */
        for (size_t i = 0; i < size; i++) {
            char c = (char)data[i];
            if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
            if (again[i] != c) abort();
        }
        free(again);
    } else if (err != CAIRN_EHEX && err != CAIRN_ETOOBIG) {
        abort();
    }
    return 0;
}
