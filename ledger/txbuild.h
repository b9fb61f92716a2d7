/*
 * txbuild.h — building and signing transactions on the client side (CLI, tests, benchmarks).
 * The body is encoded once here; what travels and is signed are those exact bytes.
 */
#ifndef CAIRN_LEDGER_TXBUILD_H
#define CAIRN_LEDGER_TXBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/canon.h"
#include "ledger/error.h"
#include "ledger/keys.h"
#include "proto/cairn/v1/tx.pb-c.h"

/*
 * Encodes body, signs it under chain_id with kp, and writes the SignedTx encoding to out (an
 * empty buffer) and its hash to tx_hash (may be NULL).
 */
CAIRN_MUST_CHECK int cairn_tx_build(cairn_buf *out, const char *chain_id,
                                    const Cairn__V1__TxBody *body, const cairn_keypair *kp,
                                    uint8_t tx_hash[32]);

/* Signs a signing input under the algorithm's convention (ledger/tx.h cairn_signed_message). */
CAIRN_MUST_CHECK int cairn_input_sign(const cairn_keypair *kp, const uint8_t *input, size_t len,
                                      uint8_t sig[64]);

/* The proof-of-possession signature of kp for a device owned by owner. */
CAIRN_MUST_CHECK int cairn_pop_sign(const char *chain_id, const uint8_t owner[32],
                                    const cairn_keypair *kp, uint8_t sig[64]);

#endif
