/*
 * records.h — the ledger's state records and their canonical encodings.
 *
 * Every record lives in the authenticated state tree (ledger/smt.h) under
 *   key = H(TAG("CAIRN-STATE-KEY-V1") || u8 kind || id(32))
 * and is stored as the canonical bytes below (docs/formats.md, "State records"). The bytes are
 * what the tree hashes; a record is encoded once, by the ledger, and verifiers decode the bytes
 * they were given, so nothing depends on re-encoding. Records are plain fixed-size structs (no
 * allocation); limits are the CAIRN_REC_MAX_* constants and exceeding one is CAIRN_ETOOBIG.
 */
#ifndef CAIRN_LEDGER_RECORDS_H
#define CAIRN_LEDGER_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/canon.h"
#include "ledger/error.h"
#include "ledger/hash.h"

#define CAIRN_REC_MAX_NAME        64  /* names, classes, models, versions: bytes */
#define CAIRN_REC_MAX_KEY         65  /* public key bytes (uncompressed SEC1 is the largest) */
#define CAIRN_REC_MAX_ADMINS      8   /* admin keys per organization */
#define CAIRN_REC_MAX_KEY_HISTORY 16  /* device keys remembered, current included */
#define CAIRN_REC_MAX_IDS         8   /* external identifier commitments per device */
#define CAIRN_REC_MAX_DIGEST      64  /* digest bytes (SHA-512) */
#define CAIRN_REC_MAX_REASON      128 /* revocation / status reasons */
#define CAIRN_REC_MAX_APPROVALS   32  /* organizations approving one proposal */

typedef enum cairn_rec_kind {
    CAIRN_REC_ORG = 1,
    CAIRN_REC_VALIDATOR = 2,
    CAIRN_REC_DEVICE = 3,
    CAIRN_REC_FIRMWARE = 4,
    CAIRN_REC_FW_DIGEST = 5, /* image digest -> release id */
    CAIRN_REC_FW_LINE = 6,   /* (vendor, class) -> highest security version */
    CAIRN_REC_STREAM = 7,    /* reserved: stream counters are in the `streams` table instead */
    CAIRN_REC_PROPOSAL = 8,
    CAIRN_REC_POLICY = 9, /* the governance policy (one record, id = zeros) */
} cairn_rec_kind;

/* State key of a record. */
void cairn_rec_key(uint8_t key[CAIRN_HASH_LEN], cairn_rec_kind kind,
                   const uint8_t id[CAIRN_HASH_LEN]);

typedef struct cairn_pubkey {
    uint8_t alg; /* cairn_sig_alg */
    uint8_t len;
    uint8_t key[CAIRN_REC_MAX_KEY];
} cairn_pubkey;

typedef struct cairn_digest {
    uint8_t alg; /* Digest.Alg of tx.proto */
    uint8_t len;
    uint8_t value[CAIRN_REC_MAX_DIGEST];
} cairn_digest;

typedef struct cairn_str {
    uint8_t len;
    char s[CAIRN_REC_MAX_NAME + 1]; /* NUL-terminated for convenience; len excludes it */
} cairn_str;

enum { CAIRN_ROLE_OPERATOR = 1u << 1, CAIRN_ROLE_VENDOR = 1u << 2, CAIRN_ROLE_SERVICE = 1u << 3 };

typedef struct cairn_org {
    uint8_t id[32];
    cairn_str name;
    uint32_t roles; /* CAIRN_ROLE_* bits */
    uint8_t n_admins;
    cairn_pubkey admins[CAIRN_REC_MAX_ADMINS];
    uint8_t require_trusted_attestation;
    uint8_t active; /* 0 after removal by governance */
} cairn_org;

typedef struct cairn_validator {
    uint8_t id[32];
    uint8_t org[32];
    cairn_pubkey key; /* Ed25519 consensus key */
    uint8_t noise_key[32];
    uint64_t power;
    cairn_str address;
} cairn_validator;

/* Device status: values of tx.proto DeviceStatus. */
enum { CAIRN_DEV_ACTIVE = 1, CAIRN_DEV_SUSPENDED = 2, CAIRN_DEV_REVOKED = 3 };

/* Attestation appraisal. */
typedef enum cairn_appraisal {
    CAIRN_APPRAISAL_NONE = 0, /* never attested */
    CAIRN_APPRAISAL_TRUSTED = 1,
    CAIRN_APPRAISAL_UNKNOWN_FIRMWARE = 2,
    CAIRN_APPRAISAL_REVOKED_FIRMWARE = 3,
    CAIRN_APPRAISAL_STALE = 4,
    CAIRN_APPRAISAL_DEVICE_NOT_ACTIVE = 5,
} cairn_appraisal;

const char *cairn_appraisal_name(cairn_appraisal a);

typedef struct cairn_key_epoch {
    cairn_pubkey key;
    uint64_t since_height; /* first height at which this key signs for the device */
} cairn_key_epoch;

typedef struct cairn_attestation_rec {
    uint64_t height;          /* block of the attestation; 0 = none */
    uint64_t log_index;       /* its log entry */
    uint8_t appraisal;        /* cairn_appraisal */
    uint8_t release_id[32];   /* matched release (zeros if none) */
    cairn_digest measurement; /* the measurement that decided the appraisal */
    cairn_digest evidence;
} cairn_attestation_rec;

typedef struct cairn_device {
    uint8_t id[32];
    uint8_t owner[32];
    uint8_t status;
    cairn_str status_reason;
    cairn_str device_class, model, manufacturer;
    cairn_digest metadata;
    uint8_t n_ids;
    struct {
        uint8_t scheme;
        uint8_t commitment[32];
    } ids[CAIRN_REC_MAX_IDS];
    uint8_t n_keys; /* key history, oldest first; the last is current */
    cairn_key_epoch keys[CAIRN_REC_MAX_KEY_HISTORY];
    uint64_t registered_height;
    uint8_t transfer_to[32]; /* pending transfer offer (zeros: none) */
    uint8_t transfer_offer[32];
    cairn_attestation_rec attestation; /* the latest */
} cairn_device;

enum { CAIRN_FW_PUBLISHED = 1, CAIRN_FW_REVOKED = 2 };

typedef struct cairn_firmware {
    uint8_t id[32];
    uint8_t vendor[32];
    cairn_str device_class, version;
    uint64_t security_version;
    cairn_digest image, suit;
    uint8_t status;
    uint64_t published_height, revoked_height;
    char reason[CAIRN_REC_MAX_REASON + 1];
    uint8_t reason_len;
} cairn_firmware;

typedef struct cairn_stream {
    uint64_t last_sequence;
    uint64_t anchors;
    uint64_t gaps; /* anchors that skipped sequence numbers */
} cairn_stream;

enum { CAIRN_PROPOSAL_OPEN = 1, CAIRN_PROPOSAL_APPLIED = 2, CAIRN_PROPOSAL_REJECTED = 3 };

typedef struct cairn_gov_proposal {
    uint8_t id[32]; /* tx hash of the proposal */
    uint8_t proposer[32];
    uint8_t status;
    uint8_t n_approvals, n_rejections;
    uint8_t approvals[CAIRN_REC_MAX_APPROVALS][32];
    uint8_t rejections[CAIRN_REC_MAX_APPROVALS][32];
    uint32_t action_len; /* the GovProposal bytes, re-read to apply the action */
    uint8_t action[1024];
} cairn_gov_proposal;

typedef struct cairn_policy {
    uint32_t approvals_required;
    uint64_t epoch_length_blocks;
} cairn_policy;

/* Encoders append the canonical bytes to b; decoders parse exactly one record (trailing bytes,
 * truncation and over-limit lengths are errors). */
void cairn_org_encode(cairn_buf *b, const cairn_org *o);
CAIRN_MUST_CHECK int cairn_org_decode(cairn_org *o, const uint8_t *p, size_t len);
void cairn_validator_encode(cairn_buf *b, const cairn_validator *v);
CAIRN_MUST_CHECK int cairn_validator_decode(cairn_validator *v, const uint8_t *p, size_t len);
void cairn_device_encode(cairn_buf *b, const cairn_device *d);
CAIRN_MUST_CHECK int cairn_device_decode(cairn_device *d, const uint8_t *p, size_t len);
void cairn_firmware_encode(cairn_buf *b, const cairn_firmware *f);
CAIRN_MUST_CHECK int cairn_firmware_decode(cairn_firmware *f, const uint8_t *p, size_t len);
void cairn_stream_encode(cairn_buf *b, const cairn_stream *s);
CAIRN_MUST_CHECK int cairn_stream_decode(cairn_stream *s, const uint8_t *p, size_t len);
void cairn_gov_proposal_encode(cairn_buf *b, const cairn_gov_proposal *p);
CAIRN_MUST_CHECK int cairn_gov_proposal_decode(cairn_gov_proposal *p, const uint8_t *in,
                                               size_t len);
void cairn_policy_encode(cairn_buf *b, const cairn_policy *p);
CAIRN_MUST_CHECK int cairn_policy_decode(cairn_policy *p, const uint8_t *in, size_t len);

/* Field helpers shared with the transaction and bundle code. */
CAIRN_MUST_CHECK int cairn_str_set(cairn_str *s, const char *text, size_t len);
void cairn_pubkey_put(cairn_buf *b, const cairn_pubkey *k);
void cairn_pubkey_get(cairn_rd *r, cairn_pubkey *k);
void cairn_digest_put(cairn_buf *b, const cairn_digest *d);
void cairn_digest_get(cairn_rd *r, cairn_digest *d);

/* Identifiers (docs/formats.md "Identifiers"). */
void cairn_org_id(uint8_t out[32], const char *name, size_t len);
void cairn_validator_id(uint8_t out[32], const uint8_t *key, size_t len);
void cairn_device_id(uint8_t out[32], const char *chain_id, const uint8_t owner[32],
                     const uint8_t first_id_commitment[32]);
void cairn_release_id(uint8_t out[32], const uint8_t vendor[32], const cairn_str *device_class,
                      const cairn_str *version);
/* H(TAG(tag) || u16 len(a) || a || b): ids derived from two parts (docs/formats.md). */
void cairn_id_pair(uint8_t out[32], const char *tag, const uint8_t *a, size_t alen,
                   const uint8_t *b, size_t blen);
/* The id of a device's anchor stream: cairn_id_pair("CAIRN-STREAM-ID-V1", device, stream). */
void cairn_stream_id(uint8_t out[32], const uint8_t device[32], const uint8_t *stream, size_t len);
void cairn_ext_id_commitment(uint8_t out[32], uint8_t scheme, const uint8_t *value, size_t len,
                             const uint8_t salt[32]);

#endif
