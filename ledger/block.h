/*
 * block.h — block headers, commit certificates and log entries: their canonical bytes
 * (docs/formats.md), hashes and checks. Pure: no storage.
 */
#ifndef CAIRN_LEDGER_BLOCK_H
#define CAIRN_LEDGER_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/canon.h"
#include "ledger/error.h"
#include "ledger/genesis.h"

#define CAIRN_HEADER_VERSION 1u

typedef struct cairn_header {
    uint32_t version;
    char chain_id[CAIRN_CHAIN_ID_MAX + 1];
    uint64_t height, epoch, round;
    uint8_t parent[32];
    uint64_t time_ms;
    uint8_t proposer[32];
    uint64_t log_size;
    uint8_t log_root[32], state_root[32], valset_hash[32], payload_hash[32];
} cairn_header;

void cairn_header_encode(cairn_buf *b, const cairn_header *h);
CAIRN_MUST_CHECK int cairn_header_decode(cairn_header *h, const uint8_t *p, size_t len);
/* block_hash = H(header bytes). */
void cairn_header_hash(const cairn_header *h, uint8_t out[32]);

typedef struct cairn_cert_sig {
    uint32_t validator; /* index in the validator set */
    uint8_t sig[64];
} cairn_cert_sig;

typedef struct cairn_certificate {
    uint64_t height;
    uint8_t block_hash[32];
    uint32_t n;
    cairn_cert_sig sigs[CAIRN_GENESIS_MAX_VALIDATORS];
} cairn_certificate;

/* TAG("CAIRN-CERT-V1") || u64 height || block_hash || u32 n || n * (u32 validator || sig(64)). */
void cairn_certificate_encode(cairn_buf *b, const cairn_certificate *c);
CAIRN_MUST_CHECK int cairn_certificate_decode(cairn_certificate *c, const uint8_t *p, size_t len);

/* TAG("CAIRN-COMMIT-V1") || str8(chain_id) || u64 height || block_hash. */
void cairn_commit_signing_input(cairn_buf *b, const char *chain_id, uint64_t height,
                                const uint8_t block_hash[32]);

/*
 * Signature check for one commit signature: fn(ctx, validator key, msg, sig) returns 0 when
 * valid. Kept as a callback so this module stays free of the signature engine's context.
 */
typedef int (*cairn_verify_fn)(void *ctx, const cairn_pubkey *key, const uint8_t *msg,
                               size_t msg_len, const uint8_t *sig, size_t sig_len);

/*
 * Checks that c certifies (height, block_hash) under the validator set of g: distinct, in-range
 * validator indexes, every signature valid, and signed power * 3 > total power * 2.
 * CAIRN_ECERTIFICATE otherwise.
 */
CAIRN_MUST_CHECK int cairn_certificate_verify(const cairn_certificate *c, const cairn_genesis *g,
                                              uint64_t height, const uint8_t block_hash[32],
                                              cairn_verify_fn verify, void *verify_ctx);

/* Log entries (leaves). */
enum { CAIRN_ENTRY_GENESIS = 0, CAIRN_ENTRY_TX = 1 };

typedef struct cairn_entry {
    uint8_t kind;
    uint64_t height;
    uint32_t position;
    int32_t result;
    /* genesis: body = genesis bytes. tx: body, alg, signer, signature. Pointers into the leaf. */
    const uint8_t *body;
    size_t body_len;
    uint8_t alg;
    const uint8_t *signer;
    size_t signer_len;
    const uint8_t *sig;
    size_t sig_len;
} cairn_entry;

void cairn_entry_encode(cairn_buf *b, const cairn_entry *e);
/* Parses a leaf; pointers in e point into p. */
CAIRN_MUST_CHECK int cairn_entry_decode(cairn_entry *e, const uint8_t *p, size_t len);

#endif
