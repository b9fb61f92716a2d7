/*
 * sigsign.h — key generation and signing for every algorithm of sig.h, for the CLI (device
 * debugging), tests and benchmarks. Nodes never sign transactions with these keys; validator
 * vote signing lives with the node's key store. Secret keys are 32 bytes for every algorithm
 * (Ed25519: the RFC 8032 seed; secp256k1 and P-256: the scalar, big-endian). Public keys come
 * out in the form sig.h verifies: Ed25519 32 bytes, Schnorr 32 bytes x-only, ECDSA secp256k1
 * and P-256 33 bytes compressed SEC1. Signatures: 64 bytes; ECDSA over SHA-256(msg), low-S.
 */
#ifndef CAIRN_LEDGER_SIGSIGN_H
#define CAIRN_LEDGER_SIGSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/sig.h"

#define CAIRN_SIG_MAX_PK 65

/* Derives the public key of sk; *pk_len gets its length. CAIRN_ESIG_KEY for an invalid sk. */
CAIRN_MUST_CHECK int cairn_sig_pubkey(const cairn_sig_ctx *ctx, cairn_sig_alg alg,
                                      uint8_t pk[CAIRN_SIG_MAX_PK], size_t *pk_len,
                                      const uint8_t sk[32]);

/* Fresh random secret key (valid for alg). */
CAIRN_MUST_CHECK int cairn_sig_keygen(const cairn_sig_ctx *ctx, cairn_sig_alg alg, uint8_t sk[32]);

/* Signs msg with sk. */
CAIRN_MUST_CHECK int cairn_sig_sign(const cairn_sig_ctx *ctx, cairn_sig_alg alg, uint8_t sig[64],
                                    const uint8_t sk[32], const uint8_t *msg, size_t msg_len);

#endif
