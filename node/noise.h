/*
 * noise.h — the Noise Protocol Framework (revision 34) for validator peer links.
 *
 * Implements the CipherState, SymmetricState and HandshakeState objects of the specification
 * (sections 5.1-5.3) for DH 25519, cipher ChaChaPoly and hashes SHA256, SHA512 and BLAKE2b, with a
 * generic message-pattern interpreter (tokens e, s, ee, es, se, ss, psk; pre-messages; prologue)
 * and every fundamental, one-way and deferred pattern of sections 7.4-7.5 plus the pskN modifiers
 * (section 9). All crypto is libsodium. Pure code: no sockets, no clock; randomness only when the
 * caller does not supply the ephemeral key (randombytes_buf).
 *
 * Cairn's validator links use Noise_IK_25519_ChaChaPoly_BLAKE2b (docs/transport.md says why):
 * cairn_noise_validator_init() sets it up; the generic cairn_noise_init() serves the test vectors.
 *
 * Ownership: every struct is caller-allocated and holds no pointers into caller memory after the
 * call that filled it returns (inputs are copied), so it may be moved or copied with memcpy. The
 * structs contain secret keys: call cairn_noise_handshake_wipe() / cairn_noise_transport_wipe()
 * when done with them. No function allocates.
 *
 * Failure: a handshake or transport that fails to authenticate a message (or suffers any other
 * error while reading) is poisoned: its keys are wiped and every later call returns
 * CAIRN_ENOISE_STATE. The connection must then be closed; there is no retry with a bad state.
 */
#ifndef CAIRN_NODE_NOISE_H
#define CAIRN_NODE_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"

#define CAIRN_NOISE_DH_LEN      32    /* X25519 public and private keys */
#define CAIRN_NOISE_KEY_LEN     32    /* ChaChaPoly key */
#define CAIRN_NOISE_TAG_LEN     16    /* Poly1305 tag added by every keyed encryption */
#define CAIRN_NOISE_HASH_MAX    64    /* the largest HASHLEN (SHA512, BLAKE2b) */
#define CAIRN_NOISE_MSG_MAX     65535 /* spec section 3: every Noise message is at most this */
#define CAIRN_NOISE_PSK_MAX     4     /* pre-shared keys a handshake may consume */
#define CAIRN_NOISE_MAX_MSGS    8     /* handshake messages in a pattern */
#define CAIRN_NOISE_MAX_TOKENS  8     /* tokens in one handshake message */
#define CAIRN_NOISE_PAYLOAD_MAX (CAIRN_NOISE_MSG_MAX - CAIRN_NOISE_TAG_LEN)

/* The protocol Cairn uses for validator links, and the prologue prefix its links bind in before
 * the chain id: prologue = "cairn/1 peer" || chain_id (docs/transport.md). */
#define CAIRN_NOISE_VALIDATOR_PROTOCOL "Noise_IK_25519_ChaChaPoly_BLAKE2b"
#define CAIRN_NOISE_PROLOGUE_PREFIX    "cairn/1 peer"

typedef enum cairn_noise_hash_alg {
    CAIRN_NOISE_SHA256 = 1,
    CAIRN_NOISE_SHA512 = 2,
    CAIRN_NOISE_BLAKE2B = 3,
} cairn_noise_hash_alg;

/* CipherState (spec 5.1): a key, whether it is set, and the next nonce. */
typedef struct cairn_noise_cipher {
    uint8_t k[CAIRN_NOISE_KEY_LEN];
    uint64_t n;
    uint8_t has_key;
} cairn_noise_cipher;

/* SymmetricState (spec 5.2): chaining key, handshake hash and the CipherState. */
typedef struct cairn_noise_symmetric {
    cairn_noise_cipher cs;
    uint8_t ck[CAIRN_NOISE_HASH_MAX];
    uint8_t h[CAIRN_NOISE_HASH_MAX];
    uint8_t hash_alg; /* cairn_noise_hash_alg */
    uint8_t hash_len; /* HASHLEN: 32 or 64 */
} cairn_noise_symmetric;

/* What a handshake expects next. */
typedef enum cairn_noise_step {
    CAIRN_NOISE_STEP_WRITE = 1, /* call cairn_noise_write_message */
    CAIRN_NOISE_STEP_READ = 2,  /* call cairn_noise_read_message */
    CAIRN_NOISE_STEP_SPLIT = 3, /* all messages done: call cairn_noise_split */
    CAIRN_NOISE_STEP_DONE = 4,  /* split already taken: only the public results remain */
    CAIRN_NOISE_STEP_FAILED = 5 /* poisoned: close the connection */
} cairn_noise_step;

/* HandshakeState (spec 5.3). Treat the fields as private; they are public only so the caller can
 * allocate the struct. */
typedef struct cairn_noise_handshake {
    cairn_noise_symmetric ss;
    uint8_t s_priv[CAIRN_NOISE_DH_LEN], s_pub[CAIRN_NOISE_DH_LEN];
    uint8_t e_priv[CAIRN_NOISE_DH_LEN], e_pub[CAIRN_NOISE_DH_LEN];
    uint8_t rs[CAIRN_NOISE_DH_LEN], re[CAIRN_NOISE_DH_LEN];
    uint8_t expected_rs[CAIRN_NOISE_DH_LEN];
    uint8_t psks[CAIRN_NOISE_PSK_MAX][CAIRN_NOISE_KEY_LEN];
    uint8_t tokens[CAIRN_NOISE_MAX_MSGS][CAIRN_NOISE_MAX_TOKENS];
    uint8_t ntokens[CAIRN_NOISE_MAX_MSGS];
    uint8_t nmsgs, msg_index;
    uint8_t psk_count, psk_used, psk_mode;
    uint8_t has_s, has_e, has_rs, has_re, has_expected_rs;
    uint8_t initiator, one_way;
    uint8_t step; /* cairn_noise_step */
} cairn_noise_handshake;

/* The two CipherStates after Split(), oriented for this side, plus the handshake's public results.
 * For a one-way pattern the responder cannot send and the initiator cannot receive. */
typedef struct cairn_noise_transport {
    cairn_noise_cipher send, recv;
    uint8_t handshake_hash[CAIRN_NOISE_HASH_MAX];
    uint8_t remote_static[CAIRN_NOISE_DH_LEN];
    uint8_t hash_len, has_remote_static;
    uint8_t failed;
} cairn_noise_transport;

/*
 * Handshake parameters. Every pointer is read during cairn_noise_init only (the data is copied).
 *   protocol_name  full name, e.g. "Noise_XXpsk3_25519_ChaChaPoly_SHA256".
 *   initiator      non-zero for the side that writes the first message.
 *   prologue       bound into the handshake hash (may be NULL when prologue_len is 0).
 *   static_private our 32-byte X25519 static private key, or NULL if the pattern needs none.
 *   ephemeral_private  NULL in production (generated with randombytes_buf when first needed);
 *                  tests pass a fixed key to reproduce vectors.
 *   remote_static  the peer's static public key: required when the pattern has it as a pre-message
 *                  (the "<- s" of IK/NK/KK...); for a pattern that transmits it (XX...), optional:
 *                  when given, the handshake fails with CAIRN_ENOISE_PEER_KEY as soon as the peer
 *                  reveals a different key.
 *   psks           psk_count 32-byte pre-shared keys, consumed in the order the pattern uses them.
 */
typedef struct cairn_noise_config {
    const char *protocol_name;
    int initiator;
    const uint8_t *prologue;
    size_t prologue_len;
    const uint8_t *static_private;
    const uint8_t *ephemeral_private;
    const uint8_t *remote_static;
    const uint8_t (*psks)[CAIRN_NOISE_KEY_LEN];
    size_t psk_count;
} cairn_noise_config;

/*
 * Initializes hs for cfg (spec 5.3 Initialize). CAIRN_ENOISE_PROTOCOL for a name this module does
 * not support (unknown pattern, DH, cipher or hash, e.g. BLAKE2s); CAIRN_EINVAL when a key the
 * pattern needs is missing, a key it cannot use is given, or psk_count does not match the pattern.
 * On error hs is wiped.
 */
CAIRN_MUST_CHECK int cairn_noise_init(cairn_noise_handshake *hs, const cairn_noise_config *cfg);

/*
 * Cairn's validator link (Noise_IK_25519_ChaChaPoly_BLAKE2b): the initiator must pass the
 * responder's static key from genesis as remote_static; the responder passes NULL and, after
 * reading the first message, checks cairn_noise_remote_static() against the genesis set before
 * writing its reply. prologue binds the link to the chain (docs/transport.md). ephemeral_private is
 * NULL outside tests.
 */
CAIRN_MUST_CHECK int cairn_noise_validator_init(cairn_noise_handshake *hs, int initiator,
                                                const uint8_t static_private[CAIRN_NOISE_DH_LEN],
                                                const uint8_t *remote_static,
                                                const uint8_t *prologue, size_t prologue_len,
                                                const uint8_t *ephemeral_private);

/* What hs expects next (a cairn_noise_step value). */
cairn_noise_step cairn_noise_next_step(const cairn_noise_handshake *hs);

/*
 * Writes the next handshake message carrying payload into out[0..*out_len) (spec WriteMessage).
 * CAIRN_ENOISE_STATE when it is not this side's turn or hs failed; CAIRN_ETOOBIG when the message
 * would exceed CAIRN_NOISE_MSG_MAX; CAIRN_ENOSPC when out_cap is too small (hs is unchanged by
 * these three); CAIRN_ENOISE_DH if a DH result is all zero (hs is then poisoned).
 * out must not overlap payload.
 */
CAIRN_MUST_CHECK int cairn_noise_write_message(cairn_noise_handshake *hs, uint8_t *out,
                                               size_t out_cap, size_t *out_len,
                                               const uint8_t *payload, size_t payload_len);

/*
 * Reads the next handshake message msg and writes its decrypted payload to
 * payload[0..*payload_len) (spec ReadMessage). payload_cap >= msg_len always suffices.
 * CAIRN_ENOISE_STATE when it is not this side's turn or hs failed earlier (hs unchanged).
 * Otherwise any failure poisons hs: CAIRN_ENOISE_MESSAGE (too short, too long),
 * CAIRN_ENOISE_DECRYPT (authentication failed: tampered, or keys that do not match, e.g. a wrong
 * responder static key in IK), CAIRN_ENOISE_DH (low-order peer key), CAIRN_ENOISE_PEER_KEY (peer
 * revealed a static key other than the expected one), CAIRN_ENOSPC (payload_cap too small). On
 * failure payload is zeroed. payload must not overlap msg; it may be NULL when payload_cap is 0.
 */
CAIRN_MUST_CHECK int cairn_noise_read_message(cairn_noise_handshake *hs, uint8_t *payload,
                                              size_t payload_cap, size_t *payload_len,
                                              const uint8_t *msg, size_t msg_len);

/*
 * The peer's static public key, once known (from a pre-message or after the message that carries
 * it has been read and authenticated). CAIRN_ENOISE_STATE if not known (yet) or hs failed. Remains
 * readable after cairn_noise_split.
 */
CAIRN_MUST_CHECK int cairn_noise_remote_static(const cairn_noise_handshake *hs,
                                               uint8_t out[CAIRN_NOISE_DH_LEN]);

/*
 * The genesis check: looks the peer's static key up in allowed[0..n_allowed) (e.g. the noise_key
 * of every validator of the epoch) and sets *index (may be NULL) to its position. Call it as soon
 * as the key is known: for Cairn's IK, on the responder right after reading message 1, before
 * writing message 2. CAIRN_ENOISE_STATE when the key is not known yet (hs unchanged) or hs failed;
 * CAIRN_ENOISE_PEER_KEY when the key is not in the set: hs is then poisoned, so the handshake can
 * neither continue nor ever yield transport keys.
 */
CAIRN_MUST_CHECK int cairn_noise_check_remote_static(cairn_noise_handshake *hs,
                                                     const uint8_t (*allowed)[CAIRN_NOISE_DH_LEN],
                                                     size_t n_allowed, size_t *index);

/* Copies the handshake hash h (HASHLEN bytes, returned in *len) into out. Meaningful for channel
 * binding once the handshake is complete. CAIRN_ENOISE_STATE if hs failed. */
CAIRN_MUST_CHECK int cairn_noise_handshake_hash(const cairn_noise_handshake *hs,
                                                uint8_t out[CAIRN_NOISE_HASH_MAX], size_t *len);

/*
 * Split() (spec 5.2) once every handshake message is done: fills t with this side's send and
 * receive CipherStates, the handshake hash and the remote static key, then wipes every secret in
 * hs (its public results stay readable). CAIRN_ENOISE_STATE before completion or after failure.
 */
CAIRN_MUST_CHECK int cairn_noise_split(cairn_noise_handshake *hs, cairn_noise_transport *t);

/*
 * Transport encryption: out[0..pt_len + CAIRN_NOISE_TAG_LEN) = ENCRYPT(k, n++, ad, pt).
 * CAIRN_ETOOBIG when pt_len > CAIRN_NOISE_PAYLOAD_MAX; CAIRN_ENOSPC when out_cap is too small;
 * CAIRN_ENOISE_NONCE when the nonce reached 2^64-1 (spec 5.1: that nonce is never used; the link
 * must be re-established); CAIRN_ENOISE_STATE when t has no send key or failed.
 * out and pt may be the same buffer (in-place).
 */
CAIRN_MUST_CHECK int cairn_noise_encrypt(cairn_noise_transport *t, uint8_t *out, size_t out_cap,
                                         const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                                         size_t pt_len);

/*
 * Transport decryption of ct (ct_len >= CAIRN_NOISE_TAG_LEN) into out[0..ct_len - TAG_LEN).
 * CAIRN_ENOISE_DECRYPT when authentication fails: t is poisoned (every later call returns
 * CAIRN_ENOISE_STATE) and out is zeroed. CAIRN_ENOISE_MESSAGE (too short or too long) and
 * CAIRN_ENOISE_NONCE poison t as well. out and ct may be the same buffer.
 */
CAIRN_MUST_CHECK int cairn_noise_decrypt(cairn_noise_transport *t, uint8_t *out, size_t out_cap,
                                         const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                                         size_t ct_len);

/* Rekey() (spec 11.3) of the send or receive cipher; both sides must agree when to call it. */
CAIRN_MUST_CHECK int cairn_noise_rekey_send(cairn_noise_transport *t);
CAIRN_MUST_CHECK int cairn_noise_rekey_recv(cairn_noise_transport *t);

/* Wipes every byte of the struct (sodium_memzero). Safe on a zeroed or failed struct. */
void cairn_noise_handshake_wipe(cairn_noise_handshake *hs);
void cairn_noise_transport_wipe(cairn_noise_transport *t);

#endif
