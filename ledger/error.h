/*
 * error.h — the one error convention of Cairn.
 *
 * Every fallible function returns int: 0 on success, a negative CAIRN_E* code on failure.
 * Codes are stable numbers (they appear in log entries, HTTP error bodies and CLI output), so a
 * code is never renumbered or reused; new codes take the next free number in their block.
 * errno is converted once, at the system call (cairn_err_from_errno).
 *
 * Blocks: 1-99 general, 100-199 encoding and input, 200-299 storage, 300-399 Merkle log,
 * 400-499 signatures, 500-599 ledger rules, 600-699 consensus, 700-799 network and API,
 * 800-899 authenticated state.
 */
#ifndef CAIRN_LEDGER_ERROR_H
#define CAIRN_LEDGER_ERROR_H

#define CAIRN_ERRNO_MAP(XX)                                                                        \
    /* general */                                                                                  \
    XX(EINVAL, 1, "invalid argument")                                                              \
    XX(ENOMEM, 2, "out of memory")                                                                 \
    XX(EIO, 3, "input/output error")                                                               \
    XX(ENOENT, 4, "not found")                                                                     \
    XX(EEXIST, 5, "already exists")                                                                \
    XX(ERANGE, 6, "value out of range")                                                            \
    XX(ENOSPC, 7, "no space left")                                                                 \
    XX(EACCES, 8, "permission denied")                                                             \
    XX(EINTERNAL, 9, "internal invariant violated")                                                \
    XX(EAGAIN, 10, "resource temporarily unavailable")                                             \
    XX(EBUSY, 11, "resource busy")                                                                 \
    XX(EUNSUPPORTED, 12, "operation not supported")                                                \
    /* encoding and input */                                                                       \
    XX(EHEX, 100, "malformed hex string")                                                          \
    XX(EDECODE, 101, "malformed encoding")                                                         \
    XX(ETOOBIG, 102, "input exceeds size limit")                                                   \
    XX(ETRUNCATED, 103, "input truncated")                                                         \
    XX(EJSON, 104, "malformed JSON")                                                               \
    XX(ENUMBER, 105, "malformed number")                                                           \
    XX(ETRAILING, 106, "trailing bytes after encoding")                                            \
    /* storage */                                                                                  \
    XX(ESTORE_NOT_CAIRN, 200, "directory is not a Cairn store")                                    \
    XX(ESTORE_VERSION, 201, "store was written by a newer format version")                         \
    XX(ESTORE_CORRUPT, 202, "store is corrupted")                                                  \
    XX(ESTORE_MAP_FULL, 203, "store map is full")                                                  \
    XX(ESTORE_HALTED, 204, "store halted after a fatal storage error")                             \
    XX(ETXN_POISONED, 205, "write transaction failed earlier and must be aborted")                 \
    XX(ETXN_BUSY, 206, "another write transaction is open")                                        \
    XX(ESTORE_LMDB, 207, "unexpected storage engine error")                                        \
    XX(ESTORE_READERS, 208, "too many concurrent readers")                                         \
    /* Merkle log */                                                                               \
    XX(ELOG_INDEX, 300, "leaf index is not below tree size")                                       \
    XX(ELOG_SIZE, 301, "tree size is beyond the log")                                              \
    XX(ELOG_ORDER, 302, "first tree size is greater than second")                                  \
    XX(EPROOF_LENGTH, 303, "proof has the wrong number of hashes")                                 \
    XX(EPROOF_MISMATCH, 304, "proof does not reproduce the expected root")                         \
    XX(ELOG_ZERO_SIZE, 306, "tree size must be positive")                                          \
    /* signatures */                                                                               \
    XX(ESIG_INVALID, 400, "signature is invalid")                                                  \
    XX(ESIG_ALG, 401, "unknown signature algorithm")                                               \
    XX(ESIG_KEY, 402, "malformed public key")                                                      \
    XX(ESIG_S_RANGE, 403, "signature scalar S is not below the group order")                       \
    XX(ESIG_POINT, 404, "point not on curve")                                                      \
    XX(ESIG_WEAK_KEY, 405,                                                                         \
       "key is small-order, non-canonical or outside the prime-order subgroup")                    \
    XX(ESIG_LENGTH, 406, "signature has the wrong length")                                         \
    XX(ESIG_HIGH_S, 407, "ECDSA signature S is above n/2 (high-S)")                                \
    XX(ESIG_SCALAR_RANGE, 408, "ECDSA signature r or s is zero or not below the group order")      \
    XX(ESIG_KEY_LENGTH, 409, "public key has the wrong length")                                    \
    /* ledger rules (500-599) */                                                                   \
    XX(ECHAIN_ID, 500, "wrong chain id")                                                           \
    XX(EGENESIS, 501, "invalid genesis")                                                           \
    XX(EREPLAY, 502, "transaction already recorded (replay)")                                      \
    XX(EEXPIRED, 503, "transaction expired")                                                       \
    XX(EEXPIRY_TOO_FAR, 504, "expiry height too far in the future")                                \
    XX(ESIGNER, 505, "signer is not authorized for this transaction")                              \
    XX(EUNKNOWN_ORG, 506, "unknown organization")                                                  \
    XX(EUNKNOWN_DEVICE, 507, "unknown device")                                                     \
    XX(EDEVICE_EXISTS, 508, "device already registered")                                           \
    XX(EDEVICE_NOT_ACTIVE, 509, "device is not active")                                            \
    XX(EROLE, 510, "organization lacks the role for this transaction")                             \
    XX(EPOP, 511, "proof of possession does not verify")                                           \
    XX(EFIELD, 512, "missing or invalid transaction field")                                        \
    XX(EFW_EXISTS, 513, "firmware release already published")                                      \
    XX(EFW_UNKNOWN, 514, "unknown firmware release")                                               \
    XX(EFW_REVOKED, 515, "firmware release already revoked")                                       \
    XX(ESECURITY_VERSION, 516, "security version lower than a published release")                  \
    XX(EANCHOR_SEQUENCE, 517, "anchor sequence number not above the stream's last")                \
    XX(EATTESTATION_REQUIRED, 518, "owner requires a trusted attestation before anchors")          \
    XX(ESTATUS_TRANSITION, 519, "device status change not allowed")                                \
    XX(ETRANSFER, 520, "no matching transfer offer")                                               \
    XX(EPROPOSAL, 521, "proposal unknown, closed or already voted")                                \
    XX(EORG_EXISTS, 522, "organization already exists")                                            \
    XX(EKEY_HISTORY_FULL, 523, "device key history is full")                                       \
    XX(ENO_PAYLOAD, 524, "transaction has no payload")                                             \
    XX(EBLOCK, 525, "invalid block")                                                               \
    XX(EBUNDLE, 526, "provenance bundle does not verify")                                          \
    XX(ECERTIFICATE, 527, "commit certificate does not verify")                                    \
    XX(EVALSET_CHANGED, 528, "validator set differs from genesis")                                 \
    XX(EVALSET_HASH, 529, "validator set does not hash to its header's valset_hash")               \
    /* consensus (600-699) */                                                                      \
    XX(ECONS_EPOCH, 600, "message from another epoch")                                             \
    XX(ECONS_MALFORMED, 601, "malformed consensus message")                                        \
    XX(ECONS_CERT, 602, "certificate lacks a quorum or is inconsistent")                           \
    XX(ECONS_NOT_LEADER, 603, "proposal from a validator that does not lead the round")            \
    XX(ECONS_BLOCK_ID, 604, "block id does not match the block's contents")                        \
    XX(ECONS_STALE, 605, "message for a round that is already over")                               \
    XX(ECONS_UNKNOWN_PARENT, 606, "block extends a block this node does not have")                 \
    XX(ECONS_EQUIVOCATION, 607, "conflicting message for the same round and epoch")                \
    XX(ECONS_FULL, 608, "consensus buffer is full")                                                \
    XX(ECONS_SENDER, 609, "sender is not a validator of the epoch")                                \
    XX(ECONS_WIRE_DECODE, 610, "consensus message is not a valid encoding")                        \
    XX(ECONS_WIRE_TOO_BIG, 611, "consensus message exceeds the size limit")                        \
    XX(ECONS_WIRE_KIND, 612, "unknown or unexpected consensus envelope kind")                      \
    XX(ECONS_WIRE_MISSING, 613, "consensus message lacks a required submessage")                   \
    XX(ECONS_WIRE_ID_LEN, 614, "consensus id or digest is not 32 bytes")                           \
    XX(ECONS_WIRE_SIG_LEN, 615, "consensus signature has the wrong length")                        \
    XX(ECONS_WIRE_TOO_MANY, 616, "consensus message has more items than the limits allow")         \
    XX(ECONS_WIRE_SIGNERS, 617, "signer bitmap or indices are inconsistent")                       \
    XX(ECONS_WIRE_MISMATCH, 618, "duplicated consensus fields disagree")                           \
    XX(ECONS_WIRE_FIELD, 619, "consensus message carries a field it must not carry")               \
    XX(ECONS_SIGNATURE, 620, "consensus signature is missing or invalid")                          \
    XX(ECONS_BATCH, 621, "transaction batch or payload does not match its digest")                 \
    /* network and API (700-799) */                                                                \
    XX(EFRAME_TOO_BIG, 700, "frame exceeds the size limit")                                        \
    XX(EHTTP_METHOD, 701, "method not allowed for this path")                                      \
    XX(EHTTP_ROUTE, 702, "no such route")                                                          \
    XX(EHTTP_BODY_TOO_BIG, 703, "request body exceeds the size limit")                             \
    XX(EHTTP_CONTENT_TYPE, 704, "unsupported content type")                                        \
    XX(EHTTP_QUERY, 705, "missing or malformed query parameter")                                   \
    XX(EHTTP_STATUS, 706, "unexpected HTTP status")                                                \
    XX(ECONNECT, 707, "connection failed")                                                         \
    XX(ETIMEOUT, 708, "operation timed out")                                                       \
    XX(EHTTP_RESPONSE, 709, "malformed HTTP response")                                             \
    XX(EHTTP_RESPONSE_TOO_BIG, 710, "HTTP response exceeds the size limit")                        \
    XX(EHTTP_URL, 711, "malformed or unsupported URL")                                             \
    XX(ECONFIG, 712, "invalid configuration")                                                      \
    XX(EMEMPOOL_FULL, 750, "mempool is full, retry later")                                         \
    XX(EKEYFILE, 751, "malformed key file")                                                        \
    XX(ENOISE_DECRYPT, 760, "Noise message failed authentication")                                 \
    XX(ENOISE_STATE, 761, "Noise handshake or transport used out of turn or after a failure")      \
    XX(ENOISE_PEER_KEY, 762, "peer static key is unknown or not the expected one")                 \
    XX(ENOISE_NONCE, 763, "Noise nonce exhausted, the link must be re-established")                \
    XX(ENOISE_PROTOCOL, 764, "unsupported Noise protocol name")                                    \
    XX(ENOISE_DH, 765, "Noise Diffie-Hellman produced an all-zero (low-order) result")             \
    XX(ENOISE_MESSAGE, 766, "Noise message has an invalid length")                                 \
    XX(ENET_DOWN, 770, "no link to that peer is up")                                               \
    XX(ENET_QUEUE_FULL, 771, "the peer's send queue is full")                                      \
    XX(ENET_PEER, 772, "unknown peer index")                                                       \
    /* authenticated state (800-899) */                                                            \
    XX(ESTATE_PROOF, 800, "state proof does not verify")                                           \
    XX(ESTATE_PROOF_FORMAT, 801, "malformed or non-canonical state proof")                         \
    XX(ESTATE_PROOF_KIND, 802, "state proof kind does not match the claim")                        \
    XX(ESTATE_VERSION, 803, "state version was never applied")                                     \
    XX(ESTATE_VERSION_ORDER, 804, "state version is not after the latest applied version")         \
    XX(ESTATE_FORMAT, 805, "state tree was written in an unsupported layout")

enum {
    CAIRN_OK = 0,
#define CAIRN_XX_ENUM(name, num, msg) CAIRN_##name = -(num),
    CAIRN_ERRNO_MAP(CAIRN_XX_ENUM)
#undef CAIRN_XX_ENUM
};

/* Returns a static, human-readable message for err ("unknown error" for unknown codes). */
const char *cairn_strerror(int err);

/* Returns the static symbolic name without prefix, e.g. "ELOG_INDEX"; "OK" for 0. */
const char *cairn_err_name(int err);

/* Maps a positive errno value to a CAIRN_E* code. */
int cairn_err_from_errno(int errnum);

#if defined(__GNUC__)
#define CAIRN_MUST_CHECK __attribute__((warn_unused_result))
#else
#define CAIRN_MUST_CHECK
#endif

#endif
