/*
 * sig.c — the algorithm-independent face of the signature engine: context, names, dispatch,
 * mixed batches.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/sig_internal.h"

static const char *const alg_names[] = {NULL, "ed25519", "secp256k1-schnorr", "secp256k1-ecdsa",
                                        "p256"};

const char *cairn_sig_alg_name(cairn_sig_alg alg)
{
    if ((int)alg < 1 || (int)alg > 4) return NULL;
    return alg_names[alg];
}

int cairn_sig_alg_parse(cairn_sig_alg *alg, const char *name)
{
    for (int i = 1; i <= 4; i++) {
        if (strcmp(name, alg_names[i]) == 0) {
            *alg = (cairn_sig_alg)i;
            return 0;
        }
    }
    return CAIRN_ESIG_ALG;
}

int cairn_sig_ctx_new(cairn_sig_ctx **out)
{
    return cairn_sig_ctx_new_backend(out, CAIRN_SIG_BACKEND_AUTO);
}

const char *cairn_sig_ctx_backend_name(const cairn_sig_ctx *ctx)
{
    return ctx->use_ifma ? "avx512ifma" : "portable";
}

int cairn_sig_ctx_new_backend(cairn_sig_ctx **out, cairn_sig_backend backend)
{
    *out = NULL;
    if (sodium_init() < 0) return CAIRN_EINTERNAL;
    cairn_sig_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return CAIRN_ENOMEM;
    ctx->use_ifma = backend == CAIRN_SIG_BACKEND_AUTO && sig_ifma_available();
    int rc = sig_ed25519_ctx_init(ctx);
    if (rc == 0) rc = sig_ecc_ctx_init(ctx);
    if (rc) {
        cairn_sig_ctx_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void cairn_sig_ctx_free(cairn_sig_ctx *ctx)
{
    if (!ctx) return;
    sig_ecc_ctx_clear(ctx);
    free(ctx);
}

int cairn_sig_verify(const cairn_sig_ctx *ctx, const cairn_sig_item *it)
{
    switch (it->alg) {
    case CAIRN_SIG_ED25519: {
        if (it->sig_len != 64) return CAIRN_ESIG_LENGTH;
        if (!it->ed_key && it->pk_len != 32) return CAIRN_ESIG_KEY_LENGTH;
        cairn_ed25519_item e = {it->pk, it->ed_key, it->sig, it->msg, it->msg_len};
        int result = 0;
        int rc = cairn_ed25519_verify_batch(ctx, &result, &e, 1);
        return rc == CAIRN_ENOMEM ? rc : result;
    }
    case CAIRN_SIG_SECP256K1_SCHNORR:
        return sig_verify_schnorr(ctx, it->pk, it->pk_len, it->msg, it->msg_len, it->sig,
                                  it->sig_len);
    case CAIRN_SIG_SECP256K1_ECDSA:
        return sig_verify_secp256k1_ecdsa(ctx, it->pk, it->pk_len, it->msg, it->msg_len, it->sig,
                                          it->sig_len);
    case CAIRN_SIG_P256:
        return sig_verify_p256(ctx, it->pk, it->pk_len, it->msg, it->msg_len, it->sig, it->sig_len);
    }
    return CAIRN_ESIG_ALG;
}

int cairn_sig_verify_many(const cairn_sig_ctx *ctx, int *results, const cairn_sig_item *items,
                          size_t n)
{
    cairn_ed25519_item *ed = malloc((n ? n : 1) * sizeof *ed);
    size_t *pos = malloc((n ? n : 1) * sizeof *pos);
    int *edres = malloc((n ? n : 1) * sizeof *edres);
    int rc = 0;
    if (!ed || !pos || !edres) {
        rc = CAIRN_ENOMEM;
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const cairn_sig_item *it = &items[i];
        if (it->alg == CAIRN_SIG_ED25519 && it->sig_len == 64 && (it->ed_key || it->pk_len == 32)) {
            ed[m] = (cairn_ed25519_item){it->pk, it->ed_key, it->sig, it->msg, it->msg_len};
            pos[m++] = i;
            results[i] = 0;
        } else {
            results[i] = cairn_sig_verify(ctx, it);
            if (results[i] == CAIRN_ENOMEM) {
                rc = CAIRN_ENOMEM;
                goto out;
            }
        }
    }
    if (m) {
        int erc = cairn_ed25519_verify_batch(ctx, edres, ed, m);
        if (erc == CAIRN_ENOMEM) {
            rc = erc;
            goto out;
        }
        for (size_t j = 0; j < m; j++) results[pos[j]] = edres[j];
    }
    for (size_t i = 0; i < n; i++)
        if (results[i]) rc = CAIRN_ESIG_INVALID;
out:
    free(ed);
    free(pos);
    free(edres);
    return rc;
}

int cairn_sig_key_check(const cairn_sig_ctx *ctx, cairn_sig_alg alg, const uint8_t *pk,
                        size_t pk_len)
{
    switch (alg) {
    case CAIRN_SIG_ED25519:
        if (pk_len != 32) return CAIRN_ESIG_KEY_LENGTH;
        return cairn_ed25519_key_check_registration(ctx, pk);
    case CAIRN_SIG_SECP256K1_SCHNORR:
    case CAIRN_SIG_SECP256K1_ECDSA:
        return sig_check_key_secp256k1(ctx, alg, pk, pk_len);
    case CAIRN_SIG_P256:
        return sig_check_key_p256(ctx, pk, pk_len);
    }
    return CAIRN_ESIG_ALG;
}
