#define OPENSSL_SUPPRESS_DEPRECATED
#include "ledger/keys.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <string.h>

#include "ledger/hash.h"

/* P-256 key from a seed scalar; NULL if the scalar is 0 or >= n. */
static EC_KEY *p256_key(const uint8_t seed[32])
{
    EC_KEY *k = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *d = BN_bin2bn(seed, 32, NULL);
    EC_POINT *pub = NULL;
    const EC_GROUP *g = k ? EC_KEY_get0_group(k) : NULL;
    int ok = k && d && !BN_is_zero(d) && BN_cmp(d, EC_GROUP_get0_order(g)) < 0;
    if (ok) ok = (pub = EC_POINT_new(g)) != NULL && EC_POINT_mul(g, pub, d, NULL, NULL, NULL) &&
                 EC_KEY_set_private_key(k, d) && EC_KEY_set_public_key(k, pub);
    EC_POINT_free(pub);
    BN_clear_free(d);
    if (!ok) {
        EC_KEY_free(k);
        return NULL;
    }
    return k;
}

int cairn_keypair_from_seed(cairn_keypair *kp, cairn_sig_alg alg, const uint8_t seed[32])
{
    memset(kp, 0, sizeof *kp);
    kp->alg = alg;
    memcpy(kp->seed, seed, 32);
    int err = 0;
    switch (alg) {
    case CAIRN_SIG_ED25519: {
        uint8_t sk[64];
        crypto_sign_seed_keypair(kp->pub, sk, seed);
        sodium_memzero(sk, sizeof sk);
        kp->pub_len = 32;
        break;
    }
    case CAIRN_SIG_SECP256K1_SCHNORR:
    case CAIRN_SIG_SECP256K1_ECDSA: {
        secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
        secp256k1_keypair kpair;
        if (!ctx || !secp256k1_keypair_create(ctx, &kpair, seed)) {
            err = CAIRN_ESIG_KEY;
        } else if (alg == CAIRN_SIG_SECP256K1_SCHNORR) {
            secp256k1_xonly_pubkey x;
            if (!secp256k1_keypair_xonly_pub(ctx, &x, NULL, &kpair) ||
                !secp256k1_xonly_pubkey_serialize(ctx, kp->pub, &x))
                err = CAIRN_ESIG_KEY;
            kp->pub_len = 32;
        } else {
            secp256k1_pubkey pk;
            size_t len = 33;
            if (!secp256k1_keypair_pub(ctx, &pk, &kpair) ||
                !secp256k1_ec_pubkey_serialize(ctx, kp->pub, &len, &pk, SECP256K1_EC_COMPRESSED))
                err = CAIRN_ESIG_KEY;
            kp->pub_len = len;
        }
        memset(&kpair, 0, sizeof kpair);
        if (ctx) secp256k1_context_destroy(ctx);
        break;
    }
    case CAIRN_SIG_P256: {
        EC_KEY *k = p256_key(seed);
        if (!k) {
            err = CAIRN_ESIG_KEY;
            break;
        }
        kp->pub_len = EC_POINT_point2oct(EC_KEY_get0_group(k), EC_KEY_get0_public_key(k),
                                         POINT_CONVERSION_COMPRESSED, kp->pub, sizeof kp->pub, NULL);
        EC_KEY_free(k);
        if (kp->pub_len != 33) err = CAIRN_ESIG_KEY;
        break;
    }
    default:
        err = CAIRN_ESIG_ALG;
    }
    if (err) cairn_keypair_wipe(kp);
    return err;
}

int cairn_keypair_sign(const cairn_keypair *kp, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    uint8_t digest[32];
    cairn_sha256_oneshot(digest, msg, len);
    switch (kp->alg) {
    case CAIRN_SIG_ED25519: {
        uint8_t pk[32], sk[64];
        crypto_sign_seed_keypair(pk, sk, kp->seed);
        crypto_sign_detached(sig, NULL, msg, len, sk);
        sodium_memzero(sk, sizeof sk);
        return 0;
    }
    case CAIRN_SIG_SECP256K1_SCHNORR:
    case CAIRN_SIG_SECP256K1_ECDSA: {
        secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
        int ok = ctx != NULL;
        if (ok && kp->alg == CAIRN_SIG_SECP256K1_SCHNORR) {
            secp256k1_keypair kpair;
            ok = secp256k1_keypair_create(ctx, &kpair, kp->seed) &&
                 secp256k1_schnorrsig_sign_custom(ctx, sig, msg, len, &kpair, NULL);
            memset(&kpair, 0, sizeof kpair);
        } else if (ok) {
            secp256k1_ecdsa_signature s;
            ok = secp256k1_ecdsa_sign(ctx, &s, digest, kp->seed, NULL, NULL) &&
                 secp256k1_ecdsa_signature_serialize_compact(ctx, sig, &s); /* low S */
        }
        if (ctx) secp256k1_context_destroy(ctx);
        return ok ? 0 : CAIRN_ESIG_KEY;
    }
    case CAIRN_SIG_P256: {
        EC_KEY *k = p256_key(kp->seed);
        ECDSA_SIG *s = k ? ECDSA_do_sign(digest, 32, k) : NULL;
        const BIGNUM *r = NULL, *ss = NULL;
        if (s) ECDSA_SIG_get0(s, &r, &ss);
        int ok = s && BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(ss, sig + 32, 32) == 32;
        ECDSA_SIG_free(s);
        EC_KEY_free(k);
        return ok ? 0 : CAIRN_ESIG_KEY;
    }
    default:
        return CAIRN_ESIG_ALG;
    }
}

void cairn_keypair_wipe(cairn_keypair *kp)
{
    sodium_memzero(kp, sizeof *kp);
}
