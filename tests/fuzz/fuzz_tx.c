/* Transaction and log-entry decoding on arbitrary bytes: cairn_tx_decode (strict protobuf, shape
 * checks) and cairn_entry_decode never crash, return only their documented codes, and a decoded
 * transaction's hash is a function of its body. The first input byte picks the decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/block.h"
#include "ledger/records.h"
#include "ledger/tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: {
        cairn_tx tx;
        int err = cairn_tx_decode(&tx, p, n, "fuzz-chain");
        if (err == 0) {
            uint8_t h[32];
            cairn_tx_hash(h, "fuzz-chain", tx.env->body.data, tx.env->body.len);
            if (memcmp(h, tx.hash, 32) != 0) abort();
            cairn_tx_free(&tx);
        } else if (err != CAIRN_EDECODE && err != CAIRN_ETOOBIG && err != CAIRN_ESIG_ALG &&
                   err != CAIRN_ESIG_KEY && err != CAIRN_ESIG_LENGTH && err != CAIRN_ECHAIN_ID &&
                   err != CAIRN_EFIELD && err != CAIRN_ENO_PAYLOAD) {
            abort();
        }
        break;
    }
    case 1: {
        cairn_entry e;
        int err = cairn_entry_decode(&e, p, n);
        if (err == 0) {
            cairn_buf b = CAIRN_BUF_INIT;
            cairn_entry_encode(&b, &e);
            /* Canonical: re-encoding gives the same bytes. */
            if (cairn_buf_finish(&b) || b.len != n || memcmp(b.p, p, n) != 0) abort();
            cairn_buf_free(&b);
        }
        break;
    }
    case 2: {
        cairn_device d;
        if (cairn_device_decode(&d, p, n) == 0) {
            cairn_buf b = CAIRN_BUF_INIT;
            cairn_device_encode(&b, &d);
            if (cairn_buf_finish(&b) || b.len != n || memcmp(b.p, p, n) != 0) abort();
            cairn_buf_free(&b);
        }
        break;
    }
    default: {
        cairn_header h;
        if (cairn_header_decode(&h, p, n) == 0) {
            cairn_buf b = CAIRN_BUF_INIT;
            cairn_header_encode(&b, &h);
            if (cairn_buf_finish(&b) || b.len != n || memcmp(b.p, p, n) != 0) abort();
            cairn_buf_free(&b);
        }
        break;
    }
    }
    return 0;
}
