/*
 * rules.h — the transaction rules: what each ordered transaction may change, and the result code
 * when it may not. Deterministic: the outcome depends only on the transaction, the state before
 * it and the block's height (docs/ledger-rules.md lists every rule).
 *
 * A rule handler reads and checks everything first and writes to the state only when the
 * transaction is valid, so a rejected transaction changes nothing.
 */
#ifndef CAIRN_LEDGER_RULES_H
#define CAIRN_LEDGER_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/sig.h"
#include "ledger/state.h"
#include "ledger/store.h"
#include "ledger/tx.h"

/* An attestation's freshness block must be one of the last this many blocks. */
#define CAIRN_ATTEST_FRESHNESS_BLOCKS 100u

typedef struct cairn_rules_env {
    const char *chain_id;
    uint64_t height;    /* the block being applied */
    uint64_t log_index; /* this transaction's log index */
    cairn_state *st;
    cairn_txn *t; /* for block-hash lookups (attestation freshness) */
    const cairn_sig_ctx *sig;
} cairn_rules_env;

/* What an applied transaction touched, for the indexes. */
typedef struct cairn_tx_effects {
    int has_device;
    uint8_t device_id[32];
    int has_anchor;
    uint8_t anchor_digest[64];
    size_t anchor_digest_len;
    int has_validator; /* an approved governance action added or removed this validator */
    uint8_t validator_id[32];
} cairn_tx_effects;

/*
 * Applies tx (decoded, signature already verified against its signer key) at env->height.
 * Returns 0 when applied, else the rule's CAIRN_E* code (the state is then unchanged). Storage
 * errors are returned as-is; the caller must tell them apart (cairn_rules_is_fatal) and abort
 * the block instead of logging them as a rule result.
 */
CAIRN_MUST_CHECK int cairn_rules_apply(const cairn_rules_env *env, const cairn_tx *tx,
                                       cairn_tx_effects *fx);

/* 1 for errors that mean the node cannot apply blocks (storage, memory), not a bad tx. */
int cairn_rules_is_fatal(int err);

#endif
