/*
 * genesis.h — the consortium's genesis: chain id, organizations, validators and policy.
 *
 * The genesis file is JSON (docs/genesis.md) so that people can read and review it; what is
 * hashed and logged is its canonical encoding (docs/formats.md): leaf 0 of every node's log is
 * the genesis entry, so every log starts from the same provable trust root. A verifier holding
 * the file recomputes the same bytes.
 */
#ifndef CAIRN_LEDGER_GENESIS_H
#define CAIRN_LEDGER_GENESIS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/canon.h"
#include "ledger/error.h"
#include "ledger/records.h"

#define CAIRN_GENESIS_MAX_ORGS       64
#define CAIRN_GENESIS_MAX_VALIDATORS 128
#define CAIRN_CHAIN_ID_MAX           64

typedef struct cairn_genesis {
    char chain_id[CAIRN_CHAIN_ID_MAX + 1];
    uint64_t genesis_time_ms;
    cairn_policy policy;
    size_t n_orgs, n_validators;
    cairn_org orgs[CAIRN_GENESIS_MAX_ORGS];
    cairn_validator validators[CAIRN_GENESIS_MAX_VALIDATORS];
} cairn_genesis;

/* 1 if s is a valid chain id: 1-64 bytes of [a-z0-9.-]. */
int cairn_chain_id_valid(const char *s, size_t len);

/*
 * Parses genesis JSON (text of len bytes). On failure returns CAIRN_EJSON (syntax) or
 * CAIRN_EGENESIS (a missing, unknown or invalid field) and writes a message naming the field
 * into msg (capacity msg_cap) when msg is not NULL. g is caller-allocated (it is large: heap).
 */
CAIRN_MUST_CHECK int cairn_genesis_parse(cairn_genesis *g, const char *text, size_t len, char *msg,
                                         size_t msg_cap);

/* Reads and parses a genesis file. */
CAIRN_MUST_CHECK int cairn_genesis_load(cairn_genesis *g, const char *path, char *msg,
                                        size_t msg_cap);

/* Writes g as genesis JSON to path (mode 0644). */
CAIRN_MUST_CHECK int cairn_genesis_save(const cairn_genesis *g, const char *path);

/* The canonical genesis bytes (the payload of log leaf 0). */
void cairn_genesis_encode(cairn_buf *b, const cairn_genesis *g);

/* H(TAG("CAIRN-VALSET-V1") || u32 n || per validator: id || u64 power || u8 alg || bytes16(key)).
 */
void cairn_genesis_valset_hash(const cairn_genesis *g, uint8_t out[32]);
/* The same hash over any ordered validator list (the set of a later epoch, ledger/chain.h). */
void cairn_valset_hash(const cairn_validator *v, size_t n, uint8_t out[32]);

/* Finds an organization by id; NULL if absent. */
const cairn_org *cairn_genesis_org(const cairn_genesis *g, const uint8_t id[32]);

#endif
