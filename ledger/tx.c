#include "ledger/tx.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/canon.h"
#include "ledger/codec.h"
#include "ledger/hash.h"

void cairn_tx_signing_input(cairn_buf *b, const char *chain_id, const uint8_t *body, size_t len)
{
    cairn_buf_tag(b, "CAIRN-TX-V1");
    cairn_buf_str8(b, chain_id, strlen(chain_id));
    cairn_buf_put(b, body, len);
}

void cairn_tx_hash(uint8_t out[32], const char *chain_id, const uint8_t *body, size_t len)
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_tx_signing_input(&b, chain_id, body, len);
    cairn_sha256_oneshot(out, b.p, b.len);
    cairn_buf_free(&b);
}

void cairn_signed_message(cairn_sig_alg alg, const uint8_t *input, size_t len, uint8_t digest[32],
                          const uint8_t **msg, size_t *msg_len)
{
    if (alg == CAIRN_SIG_SECP256K1_SCHNORR) {
        cairn_sha256_oneshot(digest, input, len);
        *msg = digest;
        *msg_len = 32;
    } else {
        *msg = input;
        *msg_len = len;
    }
}

int cairn_input_verify(const cairn_sig_ctx *ctx, cairn_sig_alg alg, const uint8_t *key,
                       size_t key_len, const uint8_t *input, size_t len, const uint8_t *sig,
                       size_t sig_len)
{
    uint8_t digest[32];
    cairn_sig_item item = {
        .alg = alg, .pk = key, .pk_len = key_len, .sig = sig, .sig_len = sig_len};
    cairn_signed_message(alg, input, len, digest, &item.msg, &item.msg_len);
    return cairn_sig_verify(ctx, &item);
}

void cairn_pop_input(cairn_buf *b, const char *chain_id, const uint8_t owner[32], uint8_t alg,
                     const uint8_t *key, size_t key_len)
{
    cairn_buf_tag(b, "CAIRN-POP-V1");
    cairn_buf_str8(b, chain_id, strlen(chain_id));
    cairn_buf_put(b, owner, 32);
    cairn_buf_u8(b, alg);
    cairn_buf_bytes16(b, key, key_len);
}

static int key_len_ok(cairn_sig_alg alg, size_t len)
{
    switch (alg) {
    case CAIRN_SIG_ED25519:
    case CAIRN_SIG_SECP256K1_SCHNORR:
        return len == 32;
    case CAIRN_SIG_SECP256K1_ECDSA:
    case CAIRN_SIG_P256:
        return len == 33 || len == 65;
    }
    return 0;
}

int cairn_tx_decode(cairn_tx *tx, const uint8_t *raw, size_t len, const char *chain_id)
{
    memset(tx, 0, sizeof *tx);
    ProtobufCMessage *m;
    int err = cairn_pb_decode(&cairn__v1__signed_tx__descriptor, raw, len, CAIRN_TX_MAX_BYTES, &m);
    if (err) return err;
    tx->env = (Cairn__V1__SignedTx *)m;
    cairn_sig_alg alg = (cairn_sig_alg)tx->env->alg;
    if (!cairn_sig_alg_name(alg)) {
        err = CAIRN_ESIG_ALG;
        goto fail;
    }
    if (!key_len_ok(alg, tx->env->signer.len)) {
        err = CAIRN_ESIG_KEY;
        goto fail;
    }
    if (tx->env->signature.len != 64) {
        err = CAIRN_ESIG_LENGTH;
        goto fail;
    }
    err = cairn_pb_decode(&cairn__v1__tx_body__descriptor, tx->env->body.data, tx->env->body.len,
                          CAIRN_TX_MAX_BYTES, &m);
    if (err) goto fail;
    tx->body = (Cairn__V1__TxBody *)m;
    if (!tx->body->chain_id || strcmp(tx->body->chain_id, chain_id) != 0) {
        err = CAIRN_ECHAIN_ID;
        goto fail;
    }
    if (tx->body->nonce.len > CAIRN_TX_MAX_NONCE || tx->body->expiry_height == 0) {
        err = CAIRN_EFIELD;
        goto fail;
    }
    if (tx->body->payload_case == CAIRN__V1__TX_BODY__PAYLOAD__NOT_SET) {
        err = CAIRN_ENO_PAYLOAD;
        goto fail;
    }
    cairn_tx_hash(tx->hash, chain_id, tx->env->body.data, tx->env->body.len);
    return 0;
fail:
    cairn_tx_free(tx);
    return err;
}

void cairn_tx_free(cairn_tx *tx)
{
    if (tx->body) protobuf_c_message_free_unpacked(&tx->body->base, NULL);
    if (tx->env) protobuf_c_message_free_unpacked(&tx->env->base, NULL);
    tx->body = NULL;
    tx->env = NULL;
}

int cairn_tx_verify_parts(const cairn_sig_ctx *ctx, const char *chain_id, const uint8_t *body,
                          size_t body_len, uint8_t alg, const uint8_t *signer, size_t signer_len,
                          const uint8_t *sig, size_t sig_len)
{
    cairn_buf in = CAIRN_BUF_INIT;
    cairn_tx_signing_input(&in, chain_id, body, body_len);
    int err = cairn_buf_finish(&in);
    if (!err)
        err = cairn_input_verify(ctx, (cairn_sig_alg)alg, signer, signer_len, in.p, in.len, sig,
                                 sig_len);
    cairn_buf_free(&in);
    return err;
}

int cairn_tx_verify(const cairn_sig_ctx *ctx, const cairn_tx *tx, const char *chain_id)
{
    return cairn_tx_verify_parts(ctx, chain_id, tx->env->body.data, tx->env->body.len,
                                 (uint8_t)tx->env->alg, tx->env->signer.data, tx->env->signer.len,
                                 tx->env->signature.data, tx->env->signature.len);
}

int cairn_tx_verify_many(const cairn_sig_ctx *ctx, const char *chain_id, const uint8_t *const *raw,
                         const size_t *len, size_t n, int *results)
{
    if (n == 0) return 0;
    cairn_tx *txs = calloc(n, sizeof *txs);
    cairn_buf *in = calloc(n, sizeof *in);
    cairn_sig_item *items = calloc(n, sizeof *items);
    uint8_t(*dig)[32] = calloc(n, 32);
    int *res = calloc(n, sizeof *res);
    size_t *which = calloc(n, sizeof *which);
    size_t k = 0;
    int err = txs && in && items && dig && res && which ? 0 : CAIRN_ENOMEM;
    for (size_t i = 0; !err && i < n; i++) {
        if ((results[i] = cairn_tx_decode(&txs[i], raw[i], len[i], chain_id))) {
            if (results[i] == CAIRN_ENOMEM) err = CAIRN_ENOMEM;
            continue;
        }
        cairn_tx_signing_input(&in[i], chain_id, txs[i].env->body.data, txs[i].env->body.len);
        if ((err = cairn_buf_finish(&in[i]))) break;
        cairn_sig_item *it = &items[k];
        it->alg = (cairn_sig_alg)txs[i].env->alg;
        it->pk = txs[i].env->signer.data;
        it->pk_len = txs[i].env->signer.len;
        it->sig = txs[i].env->signature.data;
        it->sig_len = txs[i].env->signature.len;
        cairn_signed_message(it->alg, in[i].p, in[i].len, dig[i], &it->msg, &it->msg_len);
        which[k++] = i;
    }
    if (!err && k && cairn_sig_verify_many(ctx, res, items, k) == CAIRN_ENOMEM) err = CAIRN_ENOMEM;
    for (size_t j = 0; !err && j < k; j++) results[which[j]] = res[j];
    for (size_t i = 0; i < n; i++) {
        if (txs && txs[i].env) cairn_tx_free(&txs[i]);
        if (in) cairn_buf_free(&in[i]);
    }
    free(txs);
    free(in);
    free(items);
    free(dig);
    free(res);
    free(which);
    return err;
}
