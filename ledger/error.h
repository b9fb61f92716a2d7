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
    XX(ESIG_WEAK_KEY, 405, "key is small-order, non-canonical or outside the prime-order subgroup")\
    XX(ESIG_LENGTH, 406, "signature has the wrong length")                                         \
    /* ledger rules (500-599) */                                                                   \
    XX(ECHAIN_ID, 500, "wrong chain id")                                                           \
    /* consensus (600-699) */                                                                      \
    XX(ECONS_EPOCH, 600, "message from another epoch")                                             \
    /* network and API (700-799) */                                                                \
    XX(EFRAME_TOO_BIG, 700, "frame exceeds the size limit")                                        \
    /* authenticated state (800-899) */                                                            \
    XX(ESTATE_PROOF, 800, "state proof does not verify")                                          \
    XX(ESTATE_PROOF_FORMAT, 801, "malformed or non-canonical state proof")                         \
    XX(ESTATE_PROOF_KIND, 802, "state proof kind does not match the claim")                        \
    XX(ESTATE_VERSION, 803, "state version was never applied")                                     \
    XX(ESTATE_VERSION_ORDER, 804, "state version is not after the latest applied version")        \
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
