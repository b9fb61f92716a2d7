/*
 * sig.h — Cairn's signature verification rules: Ed25519 under ZIP-215 (single and batch, one
 * rule set), BIP340 Schnorr and low-S ECDSA over secp256k1, ECDSA over P-256.
 *
 * Validity (docs/signatures.md has the full rules and the reasons):
 *   ed25519            pk 32 bytes, sig 64 bytes R || S. ZIP-215: S < L; A and R decoded as
 *                      ZIP-215 says (non-canonical y accepted, x = 0 with sign bit 1 accepted,
 *                      small and mixed order accepted); k = SHA-512(R || A || M) mod L over the
 *                      bytes as received; valid iff [8]([S]B - R - [k]A) = 0.
 *   secp256k1-schnorr  BIP340: pk 32 bytes (x-only), sig 64 bytes, message of any length.
 *   secp256k1-ecdsa    pk 33 (compressed) or 65 (uncompressed) bytes, sig 64 bytes r || s with
 *                      0 < r, s < n and s <= n/2 (low-S, as Bitcoin); the digest is SHA-256(msg).
 *   p256               pk 33 or 65 bytes SEC1, sig 64 bytes r || s with 0 < r, s < n; high S
 *                      is accepted (secure elements do not normalise S, and ECDSA P-256 is not
 *                      malleability-critical for Cairn because transaction ids hash the body,
 *                      not the signature); the digest is SHA-256(msg).
 *
 * Results are 0 (valid) or a negative CAIRN_ESIG_* code naming the first rule that failed; the
 * code of an invalid Ed25519 signature is the same whether it was verified alone or in a batch
 * (a batch that fails is bisected, and each invalid signature is finally checked alone).
 *
 * Threading: a cairn_sig_ctx is immutable after cairn_sig_ctx_new and may be shared by any
 * number of threads. Everything here is variable-time: it handles public data only.
 */
#ifndef CAIRN_LEDGER_SIG_H
#define CAIRN_LEDGER_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"

typedef enum cairn_sig_alg {
    CAIRN_SIG_ED25519 = 1,
    CAIRN_SIG_SECP256K1_SCHNORR = 2,
    CAIRN_SIG_SECP256K1_ECDSA = 3,
    CAIRN_SIG_P256 = 4,
} cairn_sig_alg;

/* "ed25519", "secp256k1-schnorr", "secp256k1-ecdsa", "p256"; NULL for unknown values. */
const char *cairn_sig_alg_name(cairn_sig_alg alg);
/* Parses a name as above into *alg; CAIRN_ESIG_ALG when unknown. */
CAIRN_MUST_CHECK int cairn_sig_alg_parse(cairn_sig_alg *alg, const char *name);

typedef struct cairn_sig_ctx cairn_sig_ctx;

/*
 * Ed25519 backends. The portable C backend is always built and always tested; AUTO adds the
 * AVX-512 IFMA backend for point decompression when the build has it and the CPU reports it at
 * run time. Verdicts are identical (the IFMA code computes the same field elements); only the
 * speed differs.
 */
typedef enum cairn_sig_backend {
    CAIRN_SIG_BACKEND_AUTO = 0,
    CAIRN_SIG_BACKEND_PORTABLE = 1,
} cairn_sig_backend;

/* Creates a context (precomputed base-point tables, library contexts) with the AUTO backend.
 * CAIRN_ENOMEM. */
CAIRN_MUST_CHECK int cairn_sig_ctx_new(cairn_sig_ctx **out);
/* Same, with a chosen backend. */
CAIRN_MUST_CHECK int cairn_sig_ctx_new_backend(cairn_sig_ctx **out, cairn_sig_backend backend);
/* "portable" or "avx512ifma": what the context actually uses. */
const char *cairn_sig_ctx_backend_name(const cairn_sig_ctx *ctx);
void cairn_sig_ctx_free(cairn_sig_ctx *ctx);

/*
 * A pre-expanded Ed25519 public key: the ZIP-215 decoding done once. Plain data, caller-owned,
 * may be copied and shared read-only between threads.
 */
typedef struct cairn_ed25519_key {
    uint8_t enc[32];      /* the encoding as received; hashed into k */
    uint64_t xy[2][5];    /* internal: affine coordinates */
    uint64_t niels[3][5]; /* internal: (y + x, y - x, 2dxy) */
} cairn_ed25519_key;

/* Decodes pk under ZIP-215. CAIRN_ESIG_POINT when it is not a curve point. */
CAIRN_MUST_CHECK int cairn_ed25519_key_expand(cairn_ed25519_key *key, const uint8_t pk[32]);

/*
 * The registration rule for keys stored on the ledger (stricter than verification): the
 * encoding is canonical (y < p, no x = 0 with sign bit 1), the point is not of small order and
 * lies in the prime-order subgroup. CAIRN_ESIG_POINT or CAIRN_ESIG_WEAK_KEY.
 */
CAIRN_MUST_CHECK int cairn_ed25519_key_check_registration(const cairn_sig_ctx *ctx,
                                                          const uint8_t pk[32]);

/* One Ed25519 signature. */
CAIRN_MUST_CHECK int cairn_ed25519_verify(const cairn_sig_ctx *ctx, const uint8_t pk[32],
                                          const uint8_t *msg, size_t msg_len,
                                          const uint8_t sig[64]);

/* One item of a batch: pk may be NULL when key (pre-expanded) is given. Pointers are borrowed. */
typedef struct cairn_ed25519_item {
    const uint8_t *pk;
    const cairn_ed25519_key *key;
    const uint8_t *sig;
    const uint8_t *msg;
    size_t msg_len;
} cairn_ed25519_item;

/*
 * Verifies n items; results[i] gets 0 or the item's CAIRN_ESIG_* code (the same code
 * cairn_ed25519_verify returns). Returns 0 when all are valid, CAIRN_ESIG_INVALID when at least
 * one is not, CAIRN_ENOMEM (results then undefined). Random 128-bit coefficients come from
 * libsodium's CSPRNG; a batch whose signatures are all valid always passes.
 */
CAIRN_MUST_CHECK int cairn_ed25519_verify_batch(const cairn_sig_ctx *ctx, int *results,
                                                const cairn_ed25519_item *items, size_t n);

/* Tuning and testing knobs for the batch engine; 0 means automatic. Not thread-safe. */
typedef struct cairn_ed25519_batch_opts {
    size_t straus_max;    /* batches of at most this many signatures use Straus (default 0: auto) */
    int pippenger_window; /* force the Pippenger window width (0: auto) */
} cairn_ed25519_batch_opts;
CAIRN_MUST_CHECK int cairn_ed25519_verify_batch_opts(const cairn_sig_ctx *ctx, int *results,
                                                     const cairn_ed25519_item *items, size_t n,
                                                     const cairn_ed25519_batch_opts *opts);

/* A signature of any algorithm. ed_key optionally replaces pk for Ed25519. Borrowed pointers. */
typedef struct cairn_sig_item {
    cairn_sig_alg alg;
    const uint8_t *pk;
    size_t pk_len;
    const uint8_t *sig;
    size_t sig_len;
    const uint8_t *msg;
    size_t msg_len;
    const cairn_ed25519_key *ed_key;
} cairn_sig_item;

/* Verifies one item of any algorithm: 0 or CAIRN_ESIG_*. */
CAIRN_MUST_CHECK int cairn_sig_verify(const cairn_sig_ctx *ctx, const cairn_sig_item *item);

/*
 * Verifies n items of mixed algorithms: Ed25519 items are batched, the others verified one by
 * one. results[i] as cairn_sig_verify; returns 0 when all valid, CAIRN_ESIG_INVALID, or
 * CAIRN_ENOMEM.
 */
CAIRN_MUST_CHECK int cairn_sig_verify_many(const cairn_sig_ctx *ctx, int *results,
                                           const cairn_sig_item *items, size_t n);

/*
 * Key registration for any algorithm: Ed25519 as cairn_ed25519_key_check_registration; secp256k1
 * and P-256 keys must parse as curve points (SEC1 compressed/uncompressed, or x-only for
 * Schnorr). 0, CAIRN_ESIG_LENGTH, CAIRN_ESIG_POINT, CAIRN_ESIG_WEAK_KEY or CAIRN_ESIG_ALG.
 */
CAIRN_MUST_CHECK int cairn_sig_key_check(const cairn_sig_ctx *ctx, cairn_sig_alg alg,
                                         const uint8_t *pk, size_t pk_len);

#endif
