/*
 * sig_ecc.c — secp256k1 (BIP340 Schnorr, low-S ECDSA) through libsecp256k1 and ECDSA P-256
 * through OpenSSL's libcrypto. The rules are in sig.h; docs/signatures.md explains them.
 *
 * P-256 uses OpenSSL's EC_KEY / ECDSA_do_verify interface, deprecated in OpenSSL 3 but several
 * times faster than building an EVP_PKEY per signature; the group object is created once per
 * context and only read afterwards.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/sig_internal.h"

/* The order n of P-256, big-endian. */
static const uint8_t p256_n[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                   0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
/* The order n of secp256k1, big-endian. */
static const uint8_t k1_n[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

/* 1 when 0 < x < n (32-byte big-endian). */
static int scalar_in_range(const uint8_t x[32], const uint8_t n[32])
{
    int nonzero = 0;
    for (int i = 0; i < 32; i++) nonzero |= x[i];
    if (!nonzero) return 0;
    return memcmp(x, n, 32) < 0;
}

int sig_ecc_ctx_init(cairn_sig_ctx *ctx)
{
    ctx->secp = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    ctx->p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    if (!ctx->secp || !ctx->p256) return CAIRN_ENOMEM;
    return 0;
}

void sig_ecc_ctx_clear(cairn_sig_ctx *ctx)
{
    if (ctx->secp) secp256k1_context_destroy(ctx->secp);
    EC_GROUP_free(ctx->p256);
    ctx->secp = NULL;
    ctx->p256 = NULL;
}

int sig_verify_schnorr(const cairn_sig_ctx *ctx, const uint8_t *pk, size_t pk_len,
                       const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    if (pk_len != 32) return CAIRN_ESIG_KEY_LENGTH;
    if (sig_len != 64) return CAIRN_ESIG_LENGTH;
    secp256k1_xonly_pubkey xpk;
    if (!secp256k1_xonly_pubkey_parse(ctx->secp, &xpk, pk)) return CAIRN_ESIG_KEY;
    if (!secp256k1_schnorrsig_verify(ctx->secp, sig, msg_len ? msg : NULL, msg_len, &xpk))
        return CAIRN_ESIG_INVALID;
    return 0;
}

int sig_verify_secp256k1_ecdsa(const cairn_sig_ctx *ctx, const uint8_t *pk, size_t pk_len,
                               const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                               size_t sig_len)
{
    if (pk_len != 33 && pk_len != 65) return CAIRN_ESIG_KEY_LENGTH;
    if (sig_len != 64) return CAIRN_ESIG_LENGTH;
    secp256k1_pubkey pub;
    if (!secp256k1_ec_pubkey_parse(ctx->secp, &pub, pk, pk_len)) return CAIRN_ESIG_KEY;
    if (!scalar_in_range(sig, k1_n) || !scalar_in_range(sig + 32, k1_n))
        return CAIRN_ESIG_SCALAR_RANGE;
    secp256k1_ecdsa_signature es, norm;
    if (!secp256k1_ecdsa_signature_parse_compact(ctx->secp, &es, sig))
        return CAIRN_ESIG_SCALAR_RANGE;
    if (secp256k1_ecdsa_signature_normalize(ctx->secp, &norm, &es)) return CAIRN_ESIG_HIGH_S;
    uint8_t digest[32];
    cairn_sha256_oneshot(digest, msg, msg_len);
    if (!secp256k1_ecdsa_verify(ctx->secp, &es, digest, &pub)) return CAIRN_ESIG_INVALID;
    return 0;
}

int sig_check_key_secp256k1(const cairn_sig_ctx *ctx, cairn_sig_alg alg, const uint8_t *pk,
                            size_t pk_len)
{
    if (alg == CAIRN_SIG_SECP256K1_SCHNORR) {
        if (pk_len != 32) return CAIRN_ESIG_KEY_LENGTH;
        secp256k1_xonly_pubkey xpk;
        return secp256k1_xonly_pubkey_parse(ctx->secp, &xpk, pk) ? 0 : CAIRN_ESIG_POINT;
    }
    if (pk_len != 33 && pk_len != 65) return CAIRN_ESIG_KEY_LENGTH;
    secp256k1_pubkey pub;
    return secp256k1_ec_pubkey_parse(ctx->secp, &pub, pk, pk_len) ? 0 : CAIRN_ESIG_POINT;
}

/* Parses a SEC1 P-256 point into a fresh EC_KEY; NULL with *err set on failure. */
static EC_KEY *p256_key(const cairn_sig_ctx *ctx, const uint8_t *pk, size_t pk_len, int *err)
{
    *err = 0;
    if (pk_len != 33 && pk_len != 65) {
        *err = CAIRN_ESIG_KEY_LENGTH;
        return NULL;
    }
    if (!(pk[0] == 0x04 && pk_len == 65) && !((pk[0] == 0x02 || pk[0] == 0x03) && pk_len == 33)) {
        *err = CAIRN_ESIG_KEY;
        return NULL;
    }
    EC_KEY *key = EC_KEY_new();
    EC_POINT *pt = EC_POINT_new(ctx->p256);
    if (!key || !pt || !EC_KEY_set_group(key, ctx->p256)) {
        *err = CAIRN_ENOMEM;
        goto fail;
    }
    if (!EC_POINT_oct2point(ctx->p256, pt, pk, pk_len, NULL) ||
        EC_POINT_is_at_infinity(ctx->p256, pt) || EC_POINT_is_on_curve(ctx->p256, pt, NULL) != 1 ||
        !EC_KEY_set_public_key(key, pt)) {
        *err = CAIRN_ESIG_POINT;
        goto fail;
    }
    EC_POINT_free(pt);
    return key;
fail:
    EC_POINT_free(pt);
    EC_KEY_free(key);
    return NULL;
}

int sig_check_key_p256(const cairn_sig_ctx *ctx, const uint8_t *pk, size_t pk_len)
{
    int err;
    EC_KEY *key = p256_key(ctx, pk, pk_len, &err);
    EC_KEY_free(key);
    return err;
}

int sig_verify_p256(const cairn_sig_ctx *ctx, const uint8_t *pk, size_t pk_len, const uint8_t *msg,
                    size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    if (pk_len != 33 && pk_len != 65) return CAIRN_ESIG_KEY_LENGTH;
    if (sig_len != 64) return CAIRN_ESIG_LENGTH;
    int err;
    EC_KEY *key = p256_key(ctx, pk, pk_len, &err);
    if (!key) return err;
    if (!scalar_in_range(sig, p256_n) || !scalar_in_range(sig + 32, p256_n)) {
        EC_KEY_free(key);
        return CAIRN_ESIG_SCALAR_RANGE;
    }
    uint8_t digest[32];
    cairn_sha256_oneshot(digest, msg, msg_len);
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    int rc;
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        rc = CAIRN_ENOMEM;
    } else {
        int v = ECDSA_do_verify(digest, 32, es, key);
        rc = v == 1 ? 0 : v == 0 ? CAIRN_ESIG_INVALID : CAIRN_ESIG_INVALID;
    }
    ECDSA_SIG_free(es);
    EC_KEY_free(key);
    return rc;
}
