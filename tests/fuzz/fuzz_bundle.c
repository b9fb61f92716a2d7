/* The offline verifier on arbitrary bytes: cairn_bundle_verify never crashes and never accepts
 * garbage (the genesis here has a fixed validator whose key signs nothing the fuzzer can
 * produce, so acceptance would be a forged certificate). The JSON form is fuzzed too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cairn_genesis *genesis(void)
{
    static cairn_genesis g;
    if (g.n_validators == 0) {
        strcpy(g.chain_id, "fuzz-chain");
        g.policy.approvals_required = 1;
        g.policy.epoch_length_blocks = 10;
        g.n_orgs = 1;
        g.n_validators = 1;
        g.validators[0].key.alg = CAIRN_SIG_ED25519;
        g.validators[0].key.len = 32;
        /* the Ed25519 base point: a real key nobody here holds the secret of */
        static const uint8_t b[32] = {0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                      0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                      0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                      0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};
        memcpy(g.validators[0].key.key, b, 32);
        g.validators[0].power = 1;
    }
    return &g;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cairn_sig_ctx *sig;
    if (!sig && cairn_sig_ctx_new(&sig) != 0) abort();
    char why[128];
    if (size > 0 && data[0] == '{') {
        cairn_buf b = CAIRN_BUF_INIT;
        if (cairn_bundle_from_json((const char *)data, size, &b) == 0 &&
            cairn_bundle_verify(sig, genesis(), b.p, b.len, NULL, why, sizeof why) == 0)
            abort();
        cairn_buf_free(&b);
        return 0;
    }
    if (cairn_bundle_verify(sig, genesis(), data, size, NULL, why, sizeof why) == 0) abort();
    return 0;
}
