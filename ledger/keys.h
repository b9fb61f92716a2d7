/*
 * keys.h — signing keys for clients, tests and the dev-mode node: a key pair derived from a
 * 32-byte seed, for each of Cairn's algorithms, and signing with the same message conventions
 * the verifier (ledger/sig.h) applies: Ed25519 signs the message; ECDSA (secp256k1, P-256) signs
 * SHA-256(message), secp256k1 with low S; BIP340 Schnorr signs the message as given (Cairn passes
 * 32-byte digests). Deterministic: same seed and message, same signature (RFC 6979 nonces for
 * ECDSA; BIP340 with no auxiliary randomness).
 *
 * A keypair holds the secret seed (wipe it with cairn_keypair_wipe when done) and borrows the
 * signature context it was made with, which must outlive it. The arithmetic is the signature
 * engine's (ledger/sigsign.h); this wrapper only keeps key and algorithm together.
 */
#ifndef CAIRN_LEDGER_KEYS_H
#define CAIRN_LEDGER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/error.h"
#include "ledger/sig.h"

typedef struct cairn_keypair {
    const cairn_sig_ctx *ctx;
    cairn_sig_alg alg;
    uint8_t seed[32];
    uint8_t pub[65]; /* Ed25519 32, Schnorr 32 (x-only), ECDSA 33 (compressed SEC1) */
    size_t pub_len;
} cairn_keypair;

/* Derives the key pair. CAIRN_ESIG_ALG for an unknown algorithm, CAIRN_ESIG_KEY if the seed is
 * not a valid secret scalar for the curve (probability ~2^-128). */
CAIRN_MUST_CHECK int cairn_keypair_from_seed(cairn_keypair *kp, const cairn_sig_ctx *ctx,
                                             cairn_sig_alg alg, const uint8_t seed[32]);

/* Signs msg; writes the 64-byte signature. */
CAIRN_MUST_CHECK int cairn_keypair_sign(const cairn_keypair *kp, const uint8_t *msg, size_t len,
                                        uint8_t sig[64]);

void cairn_keypair_wipe(cairn_keypair *kp);

/*
 * Key files: JSON {"alg": "ed25519", "seed": "<64 hex>", "public": "<hex>"}, mode 0600.
 * Save refuses to overwrite an existing file (CAIRN_EEXIST). Load checks that the public key
 * matches the seed (CAIRN_EKEYFILE otherwise, also for malformed files).
 */
CAIRN_MUST_CHECK int cairn_keyfile_save(const char *path, const cairn_keypair *kp);

/*
 * Writes doc (a JSON object holding secrets; the reference stays the caller's) to a new file
 * with mode 0600 and fsyncs it; the serialized text is wiped. CAIRN_EEXIST if path exists.
 */
CAIRN_MUST_CHECK int cairn_secret_json_save(const char *path, json_t *doc);
CAIRN_MUST_CHECK int cairn_keyfile_load(const char *path, const cairn_sig_ctx *ctx,
                                        cairn_keypair *kp);

#endif
