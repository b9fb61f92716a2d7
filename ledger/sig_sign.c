/*
 * sig_sign.c — see sigsign.h. libsodium for Ed25519, libsecp256k1 for secp256k1, OpenSSL's
 * EC_KEY interface for P-256 (deprecated in OpenSSL 3 but simple and fast; see sig_ecc.c).
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/sig_internal.h"
#include "ledger/sigsign.h"

static EC_KEY *p256_from_sk(const cairn_sig_ctx *ctx, const uint8_t sk[32])
{
    EC_KEY *key = EC_KEY_new();
    BIGNUM *d = BN_bin2bn(sk, 32, NULL);
    EC_POINT *pub = EC_POINT_new(ctx->p256);
    int ok = key && d && pub && EC_KEY_set_group(key, ctx->p256) && !BN_is_zero(d) &&
             BN_cmp(d, EC_GROUP_get0_order(ctx->p256)) < 0 && EC_KEY_set_private_key(key, d) &&
             EC_POINT_mul(ctx->p256, pub, d, NULL, NULL, NULL) && EC_KEY_set_public_key(key, pub);
    BN_clear_free(d);
    EC_POINT_free(pub);
    if (!ok) {
        EC_KEY_free(key);
        return NULL;
    }
    return key;
}

int cairn_sig_pubkey(const cairn_sig_ctx *ctx, cairn_sig_alg alg, uint8_t pk[CAIRN_SIG_MAX_PK],
                     size_t *pk_len, const uint8_t sk[32])
{
    switch (alg) {
    case CAIRN_SIG_ED25519: {
        uint8_t esk[64];
        crypto_sign_seed_keypair(pk, esk, sk);
        sodium_memzero(esk, sizeof esk);
        *pk_len = 32;
        return 0;
    }
    case CAIRN_SIG_SECP256K1_SCHNORR: {
        secp256k1_keypair kp;
        secp256k1_xonly_pubkey x;
        if (!secp256k1_keypair_create(ctx->secp, &kp, sk)) return CAIRN_ESIG_KEY;
        if (!secp256k1_keypair_xonly_pub(ctx->secp, &x, NULL, &kp)) return CAIRN_EINTERNAL;
        secp256k1_xonly_pubkey_serialize(ctx->secp, pk, &x);
        *pk_len = 32;
        return 0;
    }
    case CAIRN_SIG_SECP256K1_ECDSA: {
        secp256k1_pubkey p;
        if (!secp256k1_ec_pubkey_create(ctx->secp, &p, sk)) return CAIRN_ESIG_KEY;
        size_t len = 33;
        secp256k1_ec_pubkey_serialize(ctx->secp, pk, &len, &p, SECP256K1_EC_COMPRESSED);
        *pk_len = len;
        return 0;
    }
    case CAIRN_SIG_P256: {
        EC_KEY *key = p256_from_sk(ctx, sk);
        if (!key) return CAIRN_ESIG_KEY;
        size_t len = EC_POINT_point2oct(ctx->p256, EC_KEY_get0_public_key(key),
                                        POINT_CONVERSION_COMPRESSED, pk, CAIRN_SIG_MAX_PK, NULL);
        EC_KEY_free(key);
        if (len != 33) return CAIRN_EINTERNAL;
        *pk_len = len;
        return 0;
    }
    }
    return CAIRN_ESIG_ALG;
}

int cairn_sig_keygen(const cairn_sig_ctx *ctx, cairn_sig_alg alg, uint8_t sk[32])
{
    if (!cairn_sig_alg_name(alg)) return CAIRN_ESIG_ALG;
    for (int tries = 0; tries < 64; tries++) {
        randombytes_buf(sk, 32);
        uint8_t pk[CAIRN_SIG_MAX_PK];
        size_t len;
        if (cairn_sig_pubkey(ctx, alg, pk, &len, sk) == 0) return 0;
    }
    return CAIRN_EINTERNAL;
}

int cairn_sig_sign(const cairn_sig_ctx *ctx, cairn_sig_alg alg, uint8_t sig[64],
                   const uint8_t sk[32], const uint8_t *msg, size_t msg_len)
{
    switch (alg) {
    case CAIRN_SIG_ED25519: {
        uint8_t pk[32], esk[64];
        crypto_sign_seed_keypair(pk, esk, sk);
        crypto_sign_detached(sig, NULL, msg, msg_len, esk);
        sodium_memzero(esk, sizeof esk);
        return 0;
    }
    case CAIRN_SIG_SECP256K1_SCHNORR: {
        secp256k1_keypair kp;
        uint8_t aux[32];
        randombytes_buf(aux, sizeof aux);
        secp256k1_schnorrsig_extraparams ep = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
        ep.ndata = aux;
        if (!secp256k1_keypair_create(ctx->secp, &kp, sk)) return CAIRN_ESIG_KEY;
        int ok = secp256k1_schnorrsig_sign_custom(ctx->secp, sig, msg_len ? msg : NULL, msg_len,
                                                  &kp, &ep);
        memset(&kp, 0, sizeof kp);
        return ok ? 0 : CAIRN_EINTERNAL;
    }
    case CAIRN_SIG_SECP256K1_ECDSA: {
        uint8_t digest[32];
        cairn_sha256_oneshot(digest, msg, msg_len);
        secp256k1_ecdsa_signature es;
        if (!secp256k1_ecdsa_sign(ctx->secp, &es, digest, sk, NULL, NULL)) return CAIRN_ESIG_KEY;
        secp256k1_ecdsa_signature_serialize_compact(ctx->secp, sig, &es);
        return 0;
    }
    case CAIRN_SIG_P256: {
        EC_KEY *key = p256_from_sk(ctx, sk);
        if (!key) return CAIRN_ESIG_KEY;
        uint8_t digest[32];
        cairn_sha256_oneshot(digest, msg, msg_len);
        ECDSA_SIG *es = ECDSA_do_sign(digest, 32, key);
        EC_KEY_free(key);
        if (!es) return CAIRN_EINTERNAL;
        const BIGNUM *r, *s;
        ECDSA_SIG_get0(es, &r, &s);
        int ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32;
        ECDSA_SIG_free(es);
        return ok ? 0 : CAIRN_EINTERNAL;
    }
    }
    return CAIRN_ESIG_ALG;
}
