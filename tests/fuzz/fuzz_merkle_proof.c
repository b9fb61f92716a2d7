/* RFC 9162 proof verification on arbitrary input: no crash, only the documented error codes,
 * and inclusion verification agrees with the root it implies. Input layout: u64 a, u64 b,
 * 32-byte leaf/first root, 32-byte root, then 32-byte proof hashes; the first byte picks the
 * proof kind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/bytes.h"
#include "ledger/merkle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 + 16 + 64) return 0;
    int kind = data[0] & 1;
    uint64_t a = cairn_get_u64be(data + 1), b = cairn_get_u64be(data + 9);
    /* Keep sizes small often, so that valid shapes are reachable. */
    if (data[0] & 2) {
        a %= 4096;
        b %= 4096;
    }
    const uint8_t *h1 = data + 17, *h2 = data + 49;
    size_t n = (size - 81) / 32;
    if (n > CAIRN_MERKLE_MAX_PROOF) n = CAIRN_MERKLE_MAX_PROOF;
    uint8_t proof[CAIRN_MERKLE_MAX_PROOF][32];
    memcpy(proof, data + 81, n * 32);
    if (kind == 0) {
        int rc = cairn_merkle_verify_inclusion(h1, a, b, (const uint8_t(*)[32])proof, n, h2);
        uint8_t implied[32];
        int rc2 =
            cairn_merkle_root_from_inclusion(h1, a, b, (const uint8_t(*)[32])proof, n, implied);
        if (rc != 0 && rc != CAIRN_ELOG_INDEX && rc != CAIRN_EPROOF_LENGTH &&
            rc != CAIRN_EPROOF_MISMATCH)
            abort();
        if (rc2 == 0 && (rc == 0) != (memcmp(implied, h2, 32) == 0)) abort();
        if (rc2 != 0 && rc != rc2) abort();
        if (rc == 0 && n != cairn_merkle_inclusion_len(a, b)) abort();
    } else {
        int rc = cairn_merkle_verify_consistency(a, b, h1, h2, (const uint8_t(*)[32])proof, n);
        if (rc != 0 && rc != CAIRN_ELOG_ORDER && rc != CAIRN_EPROOF_LENGTH &&
            rc != CAIRN_EPROOF_MISMATCH)
            abort();
        if (rc == 0 && a > 0 && a < b && n != cairn_merkle_consistency_len(a, b)) abort();
    }
    return 0;
}
