#include "ledger/txbuild.h"

#include <stdlib.h>

#include "ledger/hash.h"
#include "ledger/tx.h"

int cairn_input_sign(const cairn_keypair *kp, const uint8_t *input, size_t len, uint8_t sig[64])
{
    uint8_t digest[32];
    const uint8_t *msg;
    size_t mlen;
    cairn_signed_message(kp->alg, input, len, digest, &msg, &mlen);
    return cairn_keypair_sign(kp, msg, mlen, sig);
}

int cairn_pop_sign(const char *chain_id, const uint8_t owner[32], const cairn_keypair *kp,
                   uint8_t sig[64])
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_pop_input(&b, chain_id, owner, (uint8_t)kp->alg, kp->pub, kp->pub_len);
    int err = cairn_buf_finish(&b);
    if (!err) err = cairn_input_sign(kp, b.p, b.len, sig);
    cairn_buf_free(&b);
    return err;
}

int cairn_tx_build(cairn_buf *out, const char *chain_id, const Cairn__V1__TxBody *body,
                   const cairn_keypair *kp, uint8_t tx_hash[32])
{
    size_t blen = cairn__v1__tx_body__get_packed_size(body);
    uint8_t *bbytes = malloc(blen ? blen : 1);
    if (!bbytes) return CAIRN_ENOMEM;
    cairn__v1__tx_body__pack(body, bbytes);
    cairn_buf in = CAIRN_BUF_INIT;
    cairn_tx_signing_input(&in, chain_id, bbytes, blen);
    uint8_t sig[64];
    int err = cairn_buf_finish(&in);
    if (!err) err = cairn_input_sign(kp, in.p, in.len, sig);
    if (!err && tx_hash) cairn_sha256_oneshot(tx_hash, in.p, in.len);
    cairn_buf_free(&in);
    if (!err) {
        Cairn__V1__SignedTx env = CAIRN__V1__SIGNED_TX__INIT;
        env.body = (ProtobufCBinaryData){blen, bbytes};
        env.alg = (Cairn__V1__SigAlg)kp->alg;
        env.signer = (ProtobufCBinaryData){kp->pub_len, (uint8_t *)kp->pub};
        env.signature = (ProtobufCBinaryData){64, sig};
        size_t elen = cairn__v1__signed_tx__get_packed_size(&env);
        uint8_t *e = malloc(elen);
        if (!e) {
            err = CAIRN_ENOMEM;
        } else {
            cairn__v1__signed_tx__pack(&env, e);
            cairn_buf_put(out, e, elen);
            err = cairn_buf_finish(out);
            free(e);
        }
    }
    free(bbytes);
    return err;
}
