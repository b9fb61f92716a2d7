/*
 * bundle.h — provenance bundles: one self-contained object proving, for a data digest, the
 * anchor transaction and its inclusion in a certified checkpoint, the signing device with its
 * owner and status at that height, and its latest attestation with the firmware release it
 * matched and that release's status then (docs/provenance.md).
 *
 * cairn_bundle_build reads a node's store; cairn_bundle_verify needs only the genesis: it is
 * the offline verifier behind `cairn verify`. A checkpoint of a later epoch is verified through
 * the chain of validator-set changes the bundle carries, walked from the genesis set.
 */
#ifndef CAIRN_LEDGER_BUNDLE_H
#define CAIRN_LEDGER_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/canon.h"
#include "ledger/chain.h"
#include "ledger/records.h"

/* Builds the bundle for the first anchor of digest, as binary (ProvenanceBundle encoding),
 * appended to out. CAIRN_ENOENT if never anchored, CAIRN_ECERTIFICATE if its block has no
 * certificate yet. */
CAIRN_MUST_CHECK int cairn_bundle_build(const cairn_chain *c, cairn_txn *t, const uint8_t *digest,
                                        size_t digest_len, cairn_buf *out);

/* What a verified bundle proves. */
typedef struct cairn_bundle_summary {
    uint64_t height, log_index, log_size;
    uint64_t epoch; /* validator-set changes walked: the checkpoint's set is that epoch's */
    uint8_t block_hash[32];
    uint32_t signatures; /* commit signatures in the certificate */
    uint8_t data_digest[64];
    size_t data_digest_len;
    uint8_t stream_id[32];
    size_t stream_id_len;
    uint64_t sequence, time_start_ms, time_end_ms;
    cairn_device device; /* as of the anchor's block */
    cairn_org owner;
    int signer_key_index; /* position of the signing key in the device's key history */
    int has_attestation, attestation_after_anchor;
    uint64_t attestation_height;
    int has_release;
    cairn_firmware release; /* status as of the anchor's block */
} cairn_bundle_summary;

/*
 * Verifies a binary bundle against genesis g. 0 when every signature, proof and link holds;
 * else CAIRN_EBUNDLE, CAIRN_ECERTIFICATE, CAIRN_EVALSET_CHANGED (the checkpoint names a set the
 * bundle's changes do not reach: a change was left out), CAIRN_EVALSET_HASH (a change's set is
 * not the one its header names), CAIRN_EDECODE ... and a reason
 * naming the failed check in why (capacity why_cap). summary may be NULL.
 */
CAIRN_MUST_CHECK int cairn_bundle_verify(const cairn_sig_ctx *sig, const cairn_genesis *g,
                                         const uint8_t *bundle, size_t len,
                                         cairn_bundle_summary *summary, char *why, size_t why_cap);

/* JSON <-> binary: the JSON form has the same fields with bytes as lowercase hex. */
CAIRN_MUST_CHECK int cairn_bundle_to_json(const uint8_t *bundle, size_t len, char **json);
CAIRN_MUST_CHECK int cairn_bundle_from_json(const char *json, size_t len, cairn_buf *out);

#endif
