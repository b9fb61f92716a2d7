/*
 * sig_internal.h — internal: the signature context shared by sig_ed25519.c and sig_ecc.c.
 * Not a public header.
 */
#ifndef CAIRN_LEDGER_SIG_INTERNAL_H
#define CAIRN_LEDGER_SIG_INTERNAL_H

#include <openssl/ec.h>
#include <secp256k1.h>

#include "ledger/ed25519_ge.h"
#include "ledger/sig.h"

/* Width of the base point's wNAF table: odd multiples B, 3B, ..., (2^(W-1) - 1)B. */
#define SIG_BASE_WNAF_W 8
#define SIG_BASE_TABLE  (1 << (SIG_BASE_WNAF_W - 2))

struct cairn_sig_ctx {
    ge_niels base_table[SIG_BASE_TABLE];
    ge_niels base_niels; /* B itself, affine */
    int use_ifma;        /* decompress with the AVX-512 IFMA backend (ed25519_ifma.c) */
    secp256k1_context *secp;
    EC_GROUP *p256; /* read-only after init */
};

/* 1 when this build has the IFMA backend and the CPU supports AVX-512F and IFMA. */
int sig_ifma_available(void);
/* out[i] = in[i]^((p-5)/8) for eight elements, with AVX-512 IFMA (only if available). */
void sig_ifma_pow22523_x8(fe out[8], const fe in[8]);

/* The ed25519 half of cairn_sig_ctx_new / cairn_sig_verify (sig_ed25519.c). */
int sig_ed25519_ctx_init(cairn_sig_ctx *ctx);

/* The secp256k1 / P-256 verifiers (sig_ecc.c). */
int sig_ecc_ctx_init(cairn_sig_ctx *ctx);
void sig_ecc_ctx_clear(cairn_sig_ctx *ctx);
int sig_verify_schnorr(const cairn_sig_ctx *ctx, const uint8_t *pk, size_t pk_len,
                       const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len);
int sig_verify_secp256k1_ecdsa(const cairn_sig_ctx *ctx, const uint8_t *pk, size_t pk_len,
                               const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                               size_t sig_len);
int sig_verify_p256(const cairn_sig_ctx *ctx, const uint8_t *pk, size_t pk_len, const uint8_t *msg,
                    size_t msg_len, const uint8_t *sig, size_t sig_len);
int sig_check_key_secp256k1(const cairn_sig_ctx *ctx, cairn_sig_alg alg, const uint8_t *pk,
                            size_t pk_len);
int sig_check_key_p256(const cairn_sig_ctx *ctx, const uint8_t *pk, size_t pk_len);

#endif
