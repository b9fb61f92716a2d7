/* State proof verification (ledger/smt.h) on arbitrary input: no crash, only the documented
 * error codes, verify agrees with the root the proof implies, and a proof that is accepted is
 * rejected after any single-byte change (checked at a few input-chosen positions).
 * Input layout: u8 flags (bit 0: absence claim) || key(32) || root(32) || u8 value_len ||
 * value || proof. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/smt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int documented(int rc)
{
    return rc == 0 || rc == CAIRN_ETRUNCATED || rc == CAIRN_ETRAILING ||
           rc == CAIRN_ESTATE_PROOF_FORMAT || rc == CAIRN_ESTATE_PROOF_KIND ||
           rc == CAIRN_ESTATE_PROOF;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 66) return 0;
    int absent = data[0] & 1;
    const uint8_t *key = data + 1, *root = data + 33;
    size_t vlen = data[65];
    if (size < 66 + vlen) return 0;
    const uint8_t *value = absent ? NULL : data + 66;
    const uint8_t *proof = data + 66 + vlen;
    size_t plen = size - 66 - vlen;

    int rc = cairn_smt_verify(root, key, value, absent ? 0 : vlen, proof, plen);
    if (!documented(rc)) abort();
    uint8_t vh[32], implied[32];
    if (value) cairn_smt_hash_value(vh, value, vlen);
    int rc2 = cairn_smt_proof_root(key, value ? vh : NULL, proof, plen, implied);
    if (rc2 != 0 && rc != rc2) abort();
    if (rc2 == 0 && (rc == 0) != (memcmp(implied, root, 32) == 0)) abort();
    if (rc2 != 0) return 0;

    /* Well-formed: it verifies against the root it implies, and single-byte changes do not. */
    if (cairn_smt_verify(implied, key, value, absent ? 0 : vlen, proof, plen) != 0) abort();
    uint8_t *copy = malloc(plen);
    if (!copy) return 0;
    for (unsigned k = 0; k < 4 && plen; k++) {
        size_t pos = (size_t)(key[k] | key[k + 4] << 8) % plen;
        memcpy(copy, proof, plen);
        copy[pos] ^= (uint8_t)(key[k + 8] | 1);
        int bad = cairn_smt_verify(implied, key, value, absent ? 0 : vlen, copy, plen);
        if (bad == 0 || !documented(bad)) abort();
    }
    free(copy);
    return 0;
}
