#include "ledger/keys.h"

#include <sodium.h>
#include <string.h>

#include "ledger/sigsign.h"

int cairn_keypair_from_seed(cairn_keypair *kp, const cairn_sig_ctx *ctx, cairn_sig_alg alg,
                            const uint8_t seed[32])
{
    memset(kp, 0, sizeof *kp);
    kp->ctx = ctx;
    kp->alg = alg;
    memcpy(kp->seed, seed, 32);
    int err = cairn_sig_pubkey(ctx, alg, kp->pub, &kp->pub_len, seed);
    if (err) cairn_keypair_wipe(kp);
    return err;
}

int cairn_keypair_sign(const cairn_keypair *kp, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    return cairn_sig_sign(kp->ctx, kp->alg, sig, kp->seed, msg, len);
}

void cairn_keypair_wipe(cairn_keypair *kp)
{
    sodium_memzero(kp, sizeof *kp);
}
