/*
 * noise.c — Noise Protocol Framework revision 34 (https://noiseprotocol.org/noise.html), written
 * from the specification: section numbers below refer to it.
 */
#include "node/noise.h"

#include <stdbool.h>
#include <string.h>

#include <sodium.h>

/* Message-pattern tokens (spec 7.1, 9). */
enum { T_E = 1, T_S, T_EE, T_ES, T_SE, T_SS, T_PSK };

/*
 * The handshake patterns of spec 7.4 (one-way), 7.5 (fundamental interactive) and 18
 * (deferred). pre_i / pre_r are the initiator's and responder's pre-messages ("" or "s"); msgs
 * lists the handshake messages separated by ';', alternating from the initiator ("->") and the
 * responder ("<-").
 */
typedef struct pattern_def {
    const char *name;
    const char *pre_i;
    const char *pre_r;
    const char *msgs;
} pattern_def;

static const pattern_def PATTERNS[] = {
    /* one-way (7.4) */
    {"N", "", "s", "e,es"},
    {"K", "s", "s", "e,es,ss"},
    {"X", "", "s", "e,es,s,ss"},
    /* fundamental interactive (7.5) */
    {"NN", "", "", "e;e,ee"},
    {"NK", "", "s", "e,es;e,ee"},
    {"NX", "", "", "e;e,ee,s,es"},
    {"KN", "s", "", "e;e,ee,se"},
    {"KK", "s", "s", "e,es,ss;e,ee,se"},
    {"KX", "s", "", "e;e,ee,se,s,es"},
    {"XN", "", "", "e;e,ee;s,se"},
    {"XK", "", "s", "e,es;e,ee;s,se"},
    {"XX", "", "", "e;e,ee,s,es;s,se"},
    {"IN", "", "", "e,s;e,ee,se"},
    {"IK", "", "s", "e,es,s,ss;e,ee,se"},
    {"IX", "", "", "e,s;e,ee,se,s,es"},
    /* deferred (18.2) */
    {"NK1", "", "s", "e;e,ee,es"},
    {"NX1", "", "", "e;e,ee,s;es"},
    {"X1N", "", "", "e;e,ee;s;se"},
    {"X1K", "", "s", "e,es;e,ee;s;se"},
    {"XK1", "", "s", "e;e,ee,es;s,se"},
    {"X1K1", "", "s", "e;e,ee,es;s;se"},
    {"X1X", "", "", "e;e,ee,s,es;s;se"},
    {"XX1", "", "", "e;e,ee,s;es,s,se"},
    {"X1X1", "", "", "e;e,ee,s;es,s;se"},
    {"K1N", "s", "", "e;e,ee;se"},
    {"K1K", "s", "s", "e,es;e,ee;se"},
    {"KK1", "s", "s", "e;e,ee,se,es"},
    {"K1K1", "s", "s", "e;e,ee,es;se"},
    {"K1X", "s", "", "e;e,ee,s,es;se"},
    {"KX1", "s", "", "e;e,ee,se,s;es"},
    {"K1X1", "s", "", "e;e,ee,s;se,es"},
    {"I1N", "", "", "e,s;e,ee;se"},
    {"I1K", "", "s", "e,es,s;e,ee;se"},
    {"IK1", "", "s", "e,s;e,ee,se,es"},
    {"I1K1", "", "s", "e,s;e,ee,es;se"},
    {"I1X", "", "", "e,s;e,ee,s,es;se"},
    {"IX1", "", "", "e,s;e,ee,se,s;es"},
    {"I1X1", "", "", "e,s;e,ee,s;se,es"},
};

/* ---------------------------------------------------------------------------------------------
 * Hash functions (spec 4.3): HASH, HMAC-HASH (RFC 2104) and HKDF as the spec defines it.
 */

typedef union hash_ctx {
    crypto_hash_sha256_state sha256;
    crypto_hash_sha512_state sha512;
    crypto_generichash_state blake2b;
} hash_ctx;

static size_t hash_len(uint8_t alg)
{
    return alg == CAIRN_NOISE_SHA256 ? 32 : 64;
}

static size_t block_len(uint8_t alg)
{
    return alg == CAIRN_NOISE_SHA256 ? 64 : 128;
}

static void hash_init(hash_ctx *c, uint8_t alg)
{
    switch (alg) {
    case CAIRN_NOISE_SHA256:
        crypto_hash_sha256_init(&c->sha256);
        break;
    case CAIRN_NOISE_SHA512:
        crypto_hash_sha512_init(&c->sha512);
        break;
    default:
        crypto_generichash_init(&c->blake2b, NULL, 0, 64);
        break;
    }
}

static void hash_update(hash_ctx *c, uint8_t alg, const uint8_t *d, size_t n)
{
    if (n == 0) return;
    switch (alg) {
    case CAIRN_NOISE_SHA256:
        crypto_hash_sha256_update(&c->sha256, d, n);
        break;
    case CAIRN_NOISE_SHA512:
        crypto_hash_sha512_update(&c->sha512, d, n);
        break;
    default:
        crypto_generichash_update(&c->blake2b, d, n);
        break;
    }
}

static void hash_final(hash_ctx *c, uint8_t alg, uint8_t *out)
{
    switch (alg) {
    case CAIRN_NOISE_SHA256:
        crypto_hash_sha256_final(&c->sha256, out);
        break;
    case CAIRN_NOISE_SHA512:
        crypto_hash_sha512_final(&c->sha512, out);
        break;
    default:
        crypto_generichash_final(&c->blake2b, out, 64);
        break;
    }
    sodium_memzero(c, sizeof *c);
}

/* out = HASH(a || b). out may alias a or b. */
static void hash2(uint8_t alg, uint8_t *out, const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen)
{
    hash_ctx c;
    hash_init(&c, alg);
    hash_update(&c, alg, a, alen);
    hash_update(&c, alg, b, blen);
    hash_final(&c, alg, out);
}

/* out = HMAC-HASH(key, d1 || d2), key of HASHLEN bytes (<= BLOCKLEN). */
static void hmac(uint8_t alg, uint8_t *out, const uint8_t *key, const uint8_t *d1, size_t n1,
                 const uint8_t *d2, size_t n2)
{
    size_t hl = hash_len(alg), bl = block_len(alg);
    uint8_t pad[128], inner[CAIRN_NOISE_HASH_MAX];
    hash_ctx c;

    memset(pad, 0x36, bl);
    for (size_t i = 0; i < hl; i++) pad[i] ^= key[i];
    hash_init(&c, alg);
    hash_update(&c, alg, pad, bl);
    hash_update(&c, alg, d1, n1);
    hash_update(&c, alg, d2, n2);
    hash_final(&c, alg, inner);

    memset(pad, 0x5c, bl);
    for (size_t i = 0; i < hl; i++) pad[i] ^= key[i];
    hash_init(&c, alg);
    hash_update(&c, alg, pad, bl);
    hash_update(&c, alg, inner, hl);
    hash_final(&c, alg, out);

    sodium_memzero(pad, sizeof pad);
    sodium_memzero(inner, sizeof inner);
}

/* HKDF(chaining_key, ikm, 2 or 3) of spec 4.3; out3 NULL for two outputs. */
static void hkdf(uint8_t alg, const uint8_t *ck, const uint8_t *ikm, size_t ikm_len, uint8_t *out1,
                 uint8_t *out2, uint8_t *out3)
{
    size_t hl = hash_len(alg);
    uint8_t temp_key[CAIRN_NOISE_HASH_MAX];
    const uint8_t one = 1, two = 2, three = 3;

    hmac(alg, temp_key, ck, ikm, ikm_len, NULL, 0);
    hmac(alg, out1, temp_key, &one, 1, NULL, 0);
    hmac(alg, out2, temp_key, out1, hl, &two, 1);
    if (out3) hmac(alg, out3, temp_key, out2, hl, &three, 1);
    sodium_memzero(temp_key, sizeof temp_key);
}

/* ---------------------------------------------------------------------------------------------
 * CipherState (spec 5.1) with ChaChaPoly (spec 12.3): 96-bit nonce = 32 zero bits || LE64(n).
 */

static void nonce_bytes(uint8_t nonce[12], uint64_t n)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

static void cipher_init_key(cairn_noise_cipher *cs, const uint8_t *k)
{
    memcpy(cs->k, k, CAIRN_NOISE_KEY_LEN);
    cs->n = 0;
    cs->has_key = 1;
}

/* EncryptWithAd: out = pt (no key) or ENCRYPT(k, n++, ad, pt) || tag. out may alias pt. */
static int cipher_encrypt(cairn_noise_cipher *cs, uint8_t *out, const uint8_t *ad, size_t ad_len,
                          const uint8_t *pt, size_t pt_len)
{
    uint8_t nonce[12];

    if (!cs->has_key) {
        if (out != pt && pt_len) memmove(out, pt, pt_len);
        return 0;
    }
    if (cs->n == UINT64_MAX) return CAIRN_ENOISE_NONCE;
    nonce_bytes(nonce, cs->n);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, pt_len, ad, ad_len, NULL, nonce,
                                              cs->k);
    cs->n++;
    return 0;
}

/* DecryptWithAd: ct_len >= TAG_LEN when keyed. The nonce advances only on success. */
static int cipher_decrypt(cairn_noise_cipher *cs, uint8_t *out, const uint8_t *ad, size_t ad_len,
                          const uint8_t *ct, size_t ct_len)
{
    uint8_t nonce[12];

    if (!cs->has_key) {
        if (out != ct && ct_len) memmove(out, ct, ct_len);
        return 0;
    }
    if (ct_len < CAIRN_NOISE_TAG_LEN) return CAIRN_ENOISE_MESSAGE;
    if (cs->n == UINT64_MAX) return CAIRN_ENOISE_NONCE;
    nonce_bytes(nonce, cs->n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ct_len, ad, ad_len, nonce,
                                                  cs->k) != 0)
        return CAIRN_ENOISE_DECRYPT;
    cs->n++;
    return 0;
}

/* Rekey (spec 4.2 REKEY): k = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros[32]). */
static void cipher_rekey(cairn_noise_cipher *cs)
{
    uint8_t zeros[CAIRN_NOISE_KEY_LEN] = {0}, out[CAIRN_NOISE_KEY_LEN + CAIRN_NOISE_TAG_LEN];
    uint8_t nonce[12];

    nonce_bytes(nonce, UINT64_MAX);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, zeros, sizeof zeros, NULL, 0, NULL, nonce,
                                              cs->k);
    memcpy(cs->k, out, CAIRN_NOISE_KEY_LEN);
    sodium_memzero(out, sizeof out);
}

/* ---------------------------------------------------------------------------------------------
 * SymmetricState (spec 5.2).
 */

static void ss_mix_hash(cairn_noise_symmetric *ss, const uint8_t *data, size_t len)
{
    hash2(ss->hash_alg, ss->h, ss->h, ss->hash_len, data, len);
}

static void ss_mix_key(cairn_noise_symmetric *ss, const uint8_t *ikm, size_t len)
{
    uint8_t temp_k[CAIRN_NOISE_HASH_MAX];
    hkdf(ss->hash_alg, ss->ck, ikm, len, ss->ck, temp_k, NULL);
    cipher_init_key(&ss->cs, temp_k); /* truncated to 32 bytes when HASHLEN is 64 */
    sodium_memzero(temp_k, sizeof temp_k);
}

static void ss_mix_key_and_hash(cairn_noise_symmetric *ss, const uint8_t *ikm, size_t len)
{
    uint8_t temp_h[CAIRN_NOISE_HASH_MAX], temp_k[CAIRN_NOISE_HASH_MAX];
    hkdf(ss->hash_alg, ss->ck, ikm, len, ss->ck, temp_h, temp_k);
    ss_mix_hash(ss, temp_h, ss->hash_len);
    cipher_init_key(&ss->cs, temp_k);
    sodium_memzero(temp_h, sizeof temp_h);
    sodium_memzero(temp_k, sizeof temp_k);
}

/* EncryptAndHash: out gets pt_len (+ TAG_LEN when keyed) bytes; out must not alias pt. */
static int ss_encrypt_and_hash(cairn_noise_symmetric *ss, uint8_t *out, const uint8_t *pt,
                               size_t pt_len)
{
    size_t ct_len = pt_len + (ss->cs.has_key ? CAIRN_NOISE_TAG_LEN : 0);
    int rc = cipher_encrypt(&ss->cs, out, ss->h, ss->hash_len, pt, pt_len);
    if (rc == 0) ss_mix_hash(ss, out, ct_len);
    return rc;
}

static int ss_decrypt_and_hash(cairn_noise_symmetric *ss, uint8_t *out, const uint8_t *ct,
                               size_t ct_len)
{
    int rc = cipher_decrypt(&ss->cs, out, ss->h, ss->hash_len, ct, ct_len);
    if (rc == 0) ss_mix_hash(ss, ct, ct_len);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Protocol names (spec 8): Noise_<pattern><modifiers>_25519_ChaChaPoly_<hash>.
 */

static int parse_token(const char *s, size_t n)
{
    if (n == 1 && s[0] == 'e') return T_E;
    if (n == 1 && s[0] == 's') return T_S;
    if (n == 2 && !memcmp(s, "ee", 2)) return T_EE;
    if (n == 2 && !memcmp(s, "es", 2)) return T_ES;
    if (n == 2 && !memcmp(s, "se", 2)) return T_SE;
    if (n == 2 && !memcmp(s, "ss", 2)) return T_SS;
    return 0;
}

/* Fills the token tables of hs from def and the psk modifiers in mods ("psk0+psk2" or ""). */
static int load_pattern(cairn_noise_handshake *hs, const pattern_def *def, const char *mods,
                        size_t mods_len)
{
    const char *p = def->msgs;
    size_t m = 0;

    for (;;) {
        const char *end = p;
        while (*end && *end != ',' && *end != ';') end++;
        int t = parse_token(p, (size_t)(end - p));
        if (!t || m >= CAIRN_NOISE_MAX_MSGS || hs->ntokens[m] >= CAIRN_NOISE_MAX_TOKENS)
            return CAIRN_EINTERNAL;
        hs->tokens[m][hs->ntokens[m]++] = (uint8_t)t;
        if (*end == '\0') break;
        if (*end == ';') m++;
        p = end + 1;
    }
    hs->nmsgs = (uint8_t)(m + 1);

    /* Modifiers: psk0 puts a psk token first in message 1; pskN last in message N (spec 9.2). */
    size_t i = 0;
    while (i < mods_len) {
        if (mods_len - i < 4 || memcmp(mods + i, "psk", 3) != 0) return CAIRN_ENOISE_PROTOCOL;
        i += 3;
        unsigned num = 0;
        size_t digits = 0;
        while (i < mods_len && mods[i] >= '0' && mods[i] <= '9' && digits < 2) {
            num = num * 10 + (unsigned)(mods[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0 || num > hs->nmsgs) return CAIRN_ENOISE_PROTOCOL;
        size_t msg = num == 0 ? 0 : num - 1;
        if (hs->ntokens[msg] >= CAIRN_NOISE_MAX_TOKENS) return CAIRN_ENOISE_PROTOCOL;
        if (num == 0) {
            memmove(&hs->tokens[0][1], &hs->tokens[0][0], hs->ntokens[0]);
            hs->tokens[0][0] = T_PSK;
        } else {
            hs->tokens[msg][hs->ntokens[msg]] = T_PSK;
        }
        hs->ntokens[msg]++;
        hs->psk_mode = 1;
        if (i < mods_len) {
            if (mods[i] != '+') return CAIRN_ENOISE_PROTOCOL;
            i++;
            if (i == mods_len) return CAIRN_ENOISE_PROTOCOL;
        }
    }
    return 0;
}

static int parse_protocol(cairn_noise_handshake *hs, const char *name, const pattern_def **def)
{
    static const char prefix[] = "Noise_";
    static const char mid[] = "_25519_ChaChaPoly_";
    size_t len = strlen(name);

    if (len < sizeof prefix - 1 || memcmp(name, prefix, sizeof prefix - 1) != 0)
        return CAIRN_ENOISE_PROTOCOL;
    const char *pat = name + sizeof prefix - 1;
    const char *us = strchr(pat, '_');
    if (!us || strncmp(us, mid, sizeof mid - 1) != 0) return CAIRN_ENOISE_PROTOCOL;
    const char *hash = us + sizeof mid - 1;
    if (!strcmp(hash, "SHA256"))
        hs->ss.hash_alg = CAIRN_NOISE_SHA256;
    else if (!strcmp(hash, "SHA512"))
        hs->ss.hash_alg = CAIRN_NOISE_SHA512;
    else if (!strcmp(hash, "BLAKE2b"))
        hs->ss.hash_alg = CAIRN_NOISE_BLAKE2B;
    else
        return CAIRN_ENOISE_PROTOCOL;
    hs->ss.hash_len = (uint8_t)hash_len(hs->ss.hash_alg);

    size_t pat_len = (size_t)(us - pat);
    size_t base_len = 0;
    while (base_len + 3 <= pat_len && memcmp(pat + base_len, "psk", 3) != 0) base_len++;
    if (base_len + 3 > pat_len) base_len = pat_len;
    for (size_t i = 0; i < sizeof PATTERNS / sizeof PATTERNS[0]; i++) {
        if (strlen(PATTERNS[i].name) == base_len && !memcmp(PATTERNS[i].name, pat, base_len)) {
            *def = &PATTERNS[i];
            return load_pattern(hs, *def, pat + base_len, pat_len - base_len);
        }
    }
    return CAIRN_ENOISE_PROTOCOL;
}

/* ---------------------------------------------------------------------------------------------
 * HandshakeState (spec 5.3).
 */

static void hs_poison(cairn_noise_handshake *hs)
{
    sodium_memzero(hs, sizeof *hs);
    hs->step = CAIRN_NOISE_STEP_FAILED;
}

static void hs_advance(cairn_noise_handshake *hs)
{
    hs->msg_index++;
    if (hs->msg_index == hs->nmsgs)
        hs->step = CAIRN_NOISE_STEP_SPLIT;
    else
        hs->step = ((hs->msg_index % 2 == 0) == (hs->initiator != 0)) ? CAIRN_NOISE_STEP_WRITE
                                                                      : CAIRN_NOISE_STEP_READ;
}

/* Whether any message sent by the initiator (from_initiator) or responder carries token t. */
static bool pattern_sends(const cairn_noise_handshake *hs, int from_initiator, uint8_t t)
{
    for (size_t m = (from_initiator ? 0 : 1); m < hs->nmsgs; m += 2)
        for (size_t i = 0; i < hs->ntokens[m]; i++)
            if (hs->tokens[m][i] == t) return true;
    return false;
}

int cairn_noise_init(cairn_noise_handshake *hs, const cairn_noise_config *cfg)
{
    const pattern_def *def = NULL;
    int rc;

    if (!hs || !cfg || !cfg->protocol_name || (cfg->prologue_len && !cfg->prologue))
        return CAIRN_EINVAL;
    memset(hs, 0, sizeof *hs);
    if (sodium_init() < 0) {
        rc = CAIRN_EINTERNAL;
        goto out;
    }
    rc = parse_protocol(hs, cfg->protocol_name, &def);
    if (rc) goto out;
    hs->initiator = cfg->initiator ? 1 : 0;
    hs->one_way = hs->nmsgs == 1;

    /* Which keys this side needs. */
    const char *my_pre = hs->initiator ? def->pre_i : def->pre_r;
    const char *peer_pre = hs->initiator ? def->pre_r : def->pre_i;
    bool need_s = my_pre[0] == 's' || pattern_sends(hs, hs->initiator, T_S);
    bool peer_sends_s = pattern_sends(hs, !hs->initiator, T_S);
    size_t psk_needed = 0;
    for (size_t m = 0; m < hs->nmsgs; m++)
        for (size_t i = 0; i < hs->ntokens[m]; i++) psk_needed += hs->tokens[m][i] == T_PSK;

    rc = CAIRN_EINVAL;
    if (need_s != (cfg->static_private != NULL)) goto out;
    if (peer_pre[0] == 's' && !cfg->remote_static) goto out;
    if (cfg->remote_static && peer_pre[0] != 's' && !peer_sends_s) goto out;
    if (cfg->psk_count != psk_needed || psk_needed > CAIRN_NOISE_PSK_MAX ||
        (psk_needed && !cfg->psks))
        goto out;

    if (cfg->static_private) {
        memcpy(hs->s_priv, cfg->static_private, CAIRN_NOISE_DH_LEN);
        crypto_scalarmult_base(hs->s_pub, hs->s_priv);
        hs->has_s = 1;
    }
    if (cfg->ephemeral_private) {
        memcpy(hs->e_priv, cfg->ephemeral_private, CAIRN_NOISE_DH_LEN);
        crypto_scalarmult_base(hs->e_pub, hs->e_priv);
        hs->has_e = 1;
    }
    if (cfg->remote_static) {
        if (peer_pre[0] == 's') {
            memcpy(hs->rs, cfg->remote_static, CAIRN_NOISE_DH_LEN);
            hs->has_rs = 1;
        } else {
            memcpy(hs->expected_rs, cfg->remote_static, CAIRN_NOISE_DH_LEN);
            hs->has_expected_rs = 1;
        }
    }
    for (size_t i = 0; i < psk_needed; i++) memcpy(hs->psks[i], cfg->psks[i], CAIRN_NOISE_KEY_LEN);
    hs->psk_count = (uint8_t)psk_needed;

    /* InitializeSymmetric(protocol_name), MixHash(prologue), pre-message keys (spec 5.3). */
    size_t name_len = strlen(cfg->protocol_name);
    if (name_len <= hs->ss.hash_len) {
        memcpy(hs->ss.h, cfg->protocol_name, name_len);
    } else {
        hash2(hs->ss.hash_alg, hs->ss.h, (const uint8_t *)cfg->protocol_name, name_len, NULL, 0);
    }
    memcpy(hs->ss.ck, hs->ss.h, hs->ss.hash_len);
    ss_mix_hash(&hs->ss, cfg->prologue, cfg->prologue_len);
    if (def->pre_i[0] == 's') ss_mix_hash(&hs->ss, hs->initiator ? hs->s_pub : hs->rs, 32);
    if (def->pre_r[0] == 's') ss_mix_hash(&hs->ss, hs->initiator ? hs->rs : hs->s_pub, 32);

    hs->msg_index = 0;
    hs->step = hs->initiator ? CAIRN_NOISE_STEP_WRITE : CAIRN_NOISE_STEP_READ;
    rc = 0;
out:
    if (rc) sodium_memzero(hs, sizeof *hs);
    return rc;
}

int cairn_noise_validator_init(cairn_noise_handshake *hs, int initiator,
                               const uint8_t static_private[CAIRN_NOISE_DH_LEN],
                               const uint8_t *remote_static, const uint8_t *prologue,
                               size_t prologue_len, const uint8_t *ephemeral_private)
{
    if (!static_private || (initiator && !remote_static) || (!initiator && remote_static))
        return CAIRN_EINVAL;
    cairn_noise_config cfg = {
        .protocol_name = CAIRN_NOISE_VALIDATOR_PROTOCOL,
        .initiator = initiator,
        .prologue = prologue,
        .prologue_len = prologue_len,
        .static_private = static_private,
        .ephemeral_private = ephemeral_private,
        .remote_static = remote_static,
    };
    return cairn_noise_init(hs, &cfg);
}

cairn_noise_step cairn_noise_next_step(const cairn_noise_handshake *hs)
{
    return hs && hs->step ? (cairn_noise_step)hs->step : CAIRN_NOISE_STEP_FAILED;
}

/* DH for a two-key token; the keys are known to be present by pattern validation at runtime. */
static int hs_dh(cairn_noise_handshake *hs, uint8_t t)
{
    const uint8_t *priv, *pub;
    bool have;
    uint8_t shared[CAIRN_NOISE_DH_LEN];
    bool init = hs->initiator;

    switch (t) {
    case T_EE:
        priv = hs->e_priv, pub = hs->re, have = hs->has_e && hs->has_re;
        break;
    case T_SS:
        priv = hs->s_priv, pub = hs->rs, have = hs->has_s && hs->has_rs;
        break;
    case T_ES:
        priv = init ? hs->e_priv : hs->s_priv;
        pub = init ? hs->rs : hs->re;
        have = init ? hs->has_e && hs->has_rs : hs->has_s && hs->has_re;
        break;
    default: /* T_SE */
        priv = init ? hs->s_priv : hs->e_priv;
        pub = init ? hs->re : hs->rs;
        have = init ? hs->has_s && hs->has_re : hs->has_e && hs->has_rs;
        break;
    }
    if (!have) return CAIRN_EINTERNAL;
    if (crypto_scalarmult(shared, priv, pub) != 0) {
        sodium_memzero(shared, sizeof shared);
        return CAIRN_ENOISE_DH;
    }
    ss_mix_key(&hs->ss, shared, sizeof shared);
    sodium_memzero(shared, sizeof shared);
    return 0;
}

/* Length of the next message this side writes with a payload of payload_len bytes. */
static size_t write_len(const cairn_noise_handshake *hs, size_t payload_len)
{
    bool keyed = hs->ss.cs.has_key;
    size_t len = 0;
    size_t m = hs->msg_index;
    for (size_t i = 0; i < hs->ntokens[m]; i++) {
        switch (hs->tokens[m][i]) {
        case T_E:
            len += CAIRN_NOISE_DH_LEN;
            if (hs->psk_mode) keyed = true;
            break;
        case T_S:
            len += CAIRN_NOISE_DH_LEN + (keyed ? CAIRN_NOISE_TAG_LEN : 0);
            break;
        default:
            keyed = true;
            break;
        }
    }
    return len + payload_len + (keyed ? CAIRN_NOISE_TAG_LEN : 0);
}

int cairn_noise_write_message(cairn_noise_handshake *hs, uint8_t *out, size_t out_cap,
                              size_t *out_len, const uint8_t *payload, size_t payload_len)
{
    int rc = 0;

    if (!hs || !out_len || (payload_len && !payload)) return CAIRN_EINVAL;
    *out_len = 0;
    if (hs->step != CAIRN_NOISE_STEP_WRITE) return CAIRN_ENOISE_STATE;
    if (payload_len > CAIRN_NOISE_MSG_MAX) return CAIRN_ETOOBIG;
    size_t need = write_len(hs, payload_len);
    if (need > CAIRN_NOISE_MSG_MAX) return CAIRN_ETOOBIG;
    if (need > out_cap || !out) return CAIRN_ENOSPC;

    uint8_t *p = out;
    size_t m = hs->msg_index;
    for (size_t i = 0; i < hs->ntokens[m] && rc == 0; i++) {
        uint8_t t = hs->tokens[m][i];
        switch (t) {
        case T_E:
            if (!hs->has_e) {
                randombytes_buf(hs->e_priv, sizeof hs->e_priv);
                crypto_scalarmult_base(hs->e_pub, hs->e_priv);
                hs->has_e = 1;
            }
            memcpy(p, hs->e_pub, CAIRN_NOISE_DH_LEN);
            p += CAIRN_NOISE_DH_LEN;
            ss_mix_hash(&hs->ss, hs->e_pub, CAIRN_NOISE_DH_LEN);
            if (hs->psk_mode) ss_mix_key(&hs->ss, hs->e_pub, CAIRN_NOISE_DH_LEN);
            break;
        case T_S: {
            size_t n = CAIRN_NOISE_DH_LEN + (hs->ss.cs.has_key ? CAIRN_NOISE_TAG_LEN : 0);
            rc = ss_encrypt_and_hash(&hs->ss, p, hs->s_pub, CAIRN_NOISE_DH_LEN);
            p += n;
            break;
        }
        case T_PSK:
            if (hs->psk_used >= hs->psk_count) {
                rc = CAIRN_EINTERNAL;
                break;
            }
            ss_mix_key_and_hash(&hs->ss, hs->psks[hs->psk_used++], CAIRN_NOISE_KEY_LEN);
            break;
        default:
            rc = hs_dh(hs, t);
            break;
        }
    }
    if (rc == 0) rc = ss_encrypt_and_hash(&hs->ss, p, payload, payload_len);
    if (rc) {
        sodium_memzero(out, need);
        hs_poison(hs);
        return rc;
    }
    *out_len = need;
    hs_advance(hs);
    return 0;
}

int cairn_noise_read_message(cairn_noise_handshake *hs, uint8_t *payload, size_t payload_cap,
                             size_t *payload_len, const uint8_t *msg, size_t msg_len)
{
    int rc = 0;
    uint8_t rs[CAIRN_NOISE_DH_LEN];

    if (!hs || !payload_len || (msg_len && !msg) || (payload_cap && !payload)) return CAIRN_EINVAL;
    *payload_len = 0;
    if (hs->step != CAIRN_NOISE_STEP_READ) return CAIRN_ENOISE_STATE;
    if (msg_len > CAIRN_NOISE_MSG_MAX) {
        rc = CAIRN_ENOISE_MESSAGE;
        goto out;
    }

    const uint8_t *p = msg;
    size_t rem = msg_len;
    size_t m = hs->msg_index;
    for (size_t i = 0; i < hs->ntokens[m] && rc == 0; i++) {
        uint8_t t = hs->tokens[m][i];
        switch (t) {
        case T_E:
            if (rem < CAIRN_NOISE_DH_LEN) {
                rc = CAIRN_ENOISE_MESSAGE;
                break;
            }
            memcpy(hs->re, p, CAIRN_NOISE_DH_LEN);
            hs->has_re = 1;
            p += CAIRN_NOISE_DH_LEN;
            rem -= CAIRN_NOISE_DH_LEN;
            ss_mix_hash(&hs->ss, hs->re, CAIRN_NOISE_DH_LEN);
            if (hs->psk_mode) ss_mix_key(&hs->ss, hs->re, CAIRN_NOISE_DH_LEN);
            break;
        case T_S: {
            size_t n = CAIRN_NOISE_DH_LEN + (hs->ss.cs.has_key ? CAIRN_NOISE_TAG_LEN : 0);
            if (rem < n) {
                rc = CAIRN_ENOISE_MESSAGE;
                break;
            }
            rc = ss_decrypt_and_hash(&hs->ss, rs, p, n);
            if (rc) break;
            if (hs->has_expected_rs && sodium_memcmp(rs, hs->expected_rs, sizeof rs) != 0) {
                rc = CAIRN_ENOISE_PEER_KEY;
                break;
            }
            memcpy(hs->rs, rs, sizeof rs);
            hs->has_rs = 1;
            p += n;
            rem -= n;
            break;
        }
        case T_PSK:
            if (hs->psk_used >= hs->psk_count) {
                rc = CAIRN_EINTERNAL;
                break;
            }
            ss_mix_key_and_hash(&hs->ss, hs->psks[hs->psk_used++], CAIRN_NOISE_KEY_LEN);
            break;
        default:
            rc = hs_dh(hs, t);
            break;
        }
    }
    if (rc) goto out;

    size_t overhead = hs->ss.cs.has_key ? CAIRN_NOISE_TAG_LEN : 0;
    if (rem < overhead) {
        rc = CAIRN_ENOISE_MESSAGE;
        goto out;
    }
    if (rem - overhead > payload_cap) {
        rc = CAIRN_ENOSPC;
        goto out;
    }
    /* An empty payload may come with payload == NULL: decrypt into a local byte then. */
    uint8_t none[1];
    rc = ss_decrypt_and_hash(&hs->ss, payload ? payload : none, p, rem);
    if (rc) goto out;
    *payload_len = rem - overhead;
    hs_advance(hs);
out:
    sodium_memzero(rs, sizeof rs);
    if (rc) {
        if (payload_cap) sodium_memzero(payload, payload_cap < msg_len ? payload_cap : msg_len);
        hs_poison(hs);
    }
    return rc;
}

int cairn_noise_remote_static(const cairn_noise_handshake *hs, uint8_t out[CAIRN_NOISE_DH_LEN])
{
    if (!hs || !out) return CAIRN_EINVAL;
    if (hs->step == 0 || hs->step == CAIRN_NOISE_STEP_FAILED || !hs->has_rs)
        return CAIRN_ENOISE_STATE;
    memcpy(out, hs->rs, CAIRN_NOISE_DH_LEN);
    return 0;
}

int cairn_noise_check_remote_static(cairn_noise_handshake *hs,
                                    const uint8_t (*allowed)[CAIRN_NOISE_DH_LEN], size_t n_allowed,
                                    size_t *index)
{
    if (!hs || (n_allowed && !allowed)) return CAIRN_EINVAL;
    if (hs->step == 0 || hs->step == CAIRN_NOISE_STEP_FAILED || !hs->has_rs)
        return CAIRN_ENOISE_STATE;
    for (size_t i = 0; i < n_allowed; i++) {
        if (sodium_memcmp(allowed[i], hs->rs, CAIRN_NOISE_DH_LEN) == 0) {
            if (index) *index = i;
            return 0;
        }
    }
    hs_poison(hs);
    return CAIRN_ENOISE_PEER_KEY;
}

int cairn_noise_handshake_hash(const cairn_noise_handshake *hs, uint8_t out[CAIRN_NOISE_HASH_MAX],
                               size_t *len)
{
    if (!hs || !out || !len) return CAIRN_EINVAL;
    if (hs->step == 0 || hs->step == CAIRN_NOISE_STEP_FAILED) return CAIRN_ENOISE_STATE;
    memcpy(out, hs->ss.h, hs->ss.hash_len);
    *len = hs->ss.hash_len;
    return 0;
}

int cairn_noise_split(cairn_noise_handshake *hs, cairn_noise_transport *t)
{
    uint8_t k1[CAIRN_NOISE_HASH_MAX], k2[CAIRN_NOISE_HASH_MAX];

    if (!hs || !t) return CAIRN_EINVAL;
    if (hs->step != CAIRN_NOISE_STEP_SPLIT) return CAIRN_ENOISE_STATE;
    memset(t, 0, sizeof *t);
    hkdf(hs->ss.hash_alg, hs->ss.ck, NULL, 0, k1, k2, NULL);
    /* c1 carries initiator-to-responder traffic, c2 the reverse (spec 5.2 Split). */
    cipher_init_key(hs->initiator ? &t->send : &t->recv, k1);
    cipher_init_key(hs->initiator ? &t->recv : &t->send, k2);
    if (hs->one_way)
        sodium_memzero(hs->initiator ? &t->recv : &t->send, sizeof(cairn_noise_cipher));
    memcpy(t->handshake_hash, hs->ss.h, hs->ss.hash_len);
    t->hash_len = hs->ss.hash_len;
    if (hs->has_rs) {
        memcpy(t->remote_static, hs->rs, CAIRN_NOISE_DH_LEN);
        t->has_remote_static = 1;
    }

    /* Keep only the public results (h, rs) in hs. */
    sodium_memzero(&hs->ss.cs, sizeof hs->ss.cs);
    sodium_memzero(hs->ss.ck, sizeof hs->ss.ck);
    sodium_memzero(hs->s_priv, sizeof hs->s_priv);
    sodium_memzero(hs->e_priv, sizeof hs->e_priv);
    sodium_memzero(hs->psks, sizeof hs->psks);
    hs->has_s = hs->has_e = 0;
    hs->step = CAIRN_NOISE_STEP_DONE;
    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
    return 0;
}

static void transport_poison(cairn_noise_transport *t)
{
    sodium_memzero(t, sizeof *t);
    t->failed = 1;
}

int cairn_noise_encrypt(cairn_noise_transport *t, uint8_t *out, size_t out_cap, const uint8_t *ad,
                        size_t ad_len, const uint8_t *pt, size_t pt_len)
{
    if (!t || !out || (pt_len && !pt) || (ad_len && !ad)) return CAIRN_EINVAL;
    if (t->failed || !t->send.has_key) return CAIRN_ENOISE_STATE;
    if (pt_len > CAIRN_NOISE_PAYLOAD_MAX) return CAIRN_ETOOBIG;
    if (out_cap < pt_len + CAIRN_NOISE_TAG_LEN) return CAIRN_ENOSPC;
    return cipher_encrypt(&t->send, out, ad, ad_len, pt, pt_len);
}

int cairn_noise_decrypt(cairn_noise_transport *t, uint8_t *out, size_t out_cap, const uint8_t *ad,
                        size_t ad_len, const uint8_t *ct, size_t ct_len)
{
    int rc;

    if (!t || (ct_len && !ct) || (ad_len && !ad) || (out_cap && !out)) return CAIRN_EINVAL;
    if (t->failed || !t->recv.has_key) return CAIRN_ENOISE_STATE;
    if (ct_len < CAIRN_NOISE_TAG_LEN || ct_len > CAIRN_NOISE_MSG_MAX) {
        rc = CAIRN_ENOISE_MESSAGE;
        goto out;
    }
    if (out_cap < ct_len - CAIRN_NOISE_TAG_LEN) return CAIRN_ENOSPC;
    rc = cipher_decrypt(&t->recv, out, ad, ad_len, ct, ct_len);
out:
    if (rc) {
        if (out_cap) sodium_memzero(out, out_cap < ct_len ? out_cap : ct_len);
        transport_poison(t);
    }
    return rc;
}

int cairn_noise_rekey_send(cairn_noise_transport *t)
{
    if (!t) return CAIRN_EINVAL;
    if (t->failed || !t->send.has_key) return CAIRN_ENOISE_STATE;
    cipher_rekey(&t->send);
    return 0;
}

int cairn_noise_rekey_recv(cairn_noise_transport *t)
{
    if (!t) return CAIRN_EINVAL;
    if (t->failed || !t->recv.has_key) return CAIRN_ENOISE_STATE;
    cipher_rekey(&t->recv);
    return 0;
}

void cairn_noise_handshake_wipe(cairn_noise_handshake *hs)
{
    if (hs) sodium_memzero(hs, sizeof *hs);
}

void cairn_noise_transport_wipe(cairn_noise_transport *t)
{
    if (t) sodium_memzero(t, sizeof *t);
}
