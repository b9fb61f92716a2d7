/*
 * Differential Ed25519 target: for up to 8 signatures built from the input (raw bytes, or a
 * valid libsodium signature from an input seed with input-chosen bit flips and torsion added
 * to A or R), the single path, the batch path (Straus or Pippenger, input-chosen window, every
 * batch composition) and a naive reference of the ZIP-215 rules (double-and-add, no batching)
 * must give the same verdict; libsodium's verifier must agree wherever the rule sets coincide
 * (canonical, prime-order A and R). Also the other algorithms must never crash on raw input.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ed25519_ge.h"
#include "ledger/sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cairn_sig_ctx *ctx;

/* ---- naive reference ---- */

static const uint8_t L_le[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                 0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                 0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

static void dbl_add(ge_p3 *r, const ge_p3 *p, const uint8_t s[32])
{
    ge_cached pc;
    ge_p1p1 t;
    ge_p3_to_cached(&pc, p);
    ge_p3_0(r);
    for (int i = 255; i >= 0; i--) {
        ge_p3_dbl(&t, r);
        ge_p1p1_to_p3(r, &t);
        if ((s[i / 8] >> (i % 8)) & 1) {
            ge_add(&t, r, &pc);
            ge_p1p1_to_p3(r, &t);
        }
    }
}

/* 1 valid, 0 invalid under ZIP-215. */
static int ref_verify(const uint8_t pk[32], const uint8_t *msg, size_t len, const uint8_t sig[64])
{
    int lt = 0;
    for (int i = 31; i >= 0; i--) {
        if (sig[32 + i] != L_le[i]) {
            lt = sig[32 + i] < L_le[i];
            break;
        }
    }
    if (!lt) return 0;
    fe x, y;
    ge_p3 A, R, B, sb, ka, acc;
    if (ge_decode_zip215(&x, &y, pk)) return 0;
    ge_p3_from_xy(&A, &x, &y);
    if (ge_decode_zip215(&x, &y, sig)) return 0;
    ge_p3_from_xy(&R, &x, &y);
    uint8_t benc[32];
    memset(benc, 0x66, 32);
    benc[0] = 0x58;
    if (ge_decode_zip215(&x, &y, benc)) abort();
    ge_p3_from_xy(&B, &x, &y);
    uint8_t h[64], k[32];
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, sig, 32);
    crypto_hash_sha512_update(&st, pk, 32);
    crypto_hash_sha512_update(&st, msg, len);
    crypto_hash_sha512_final(&st, h);
    crypto_core_ed25519_scalar_reduce(k, h);
    dbl_add(&sb, &B, sig + 32);
    dbl_add(&ka, &A, k);
    ge_cached c;
    ge_p1p1 t;
    ge_p3_to_cached(&c, &R);
    ge_sub(&t, &sb, &c);
    ge_p1p1_to_p3(&acc, &t);
    ge_p3_to_cached(&c, &ka);
    ge_sub(&t, &acc, &c);
    ge_p1p1_to_p3(&acc, &t);
    for (int i = 0; i < 3; i++) {
        ge_p3_dbl(&t, &acc);
        ge_p1p1_to_p3(&acc, &t);
    }
    return ge_p3_is_identity(&acc);
}

/* ---- input parsing ---- */

typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static uint8_t take8(rd *r)
{
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

static void take(rd *r, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = take8(r);
}

static void add_point(uint8_t out[32], const uint8_t p[32], const uint8_t q[32])
{
    fe x, y;
    ge_p3 a, b;
    ge_cached bc;
    ge_p1p1 t;
    if (ge_decode_zip215(&x, &y, p)) return;
    ge_p3_from_xy(&a, &x, &y);
    if (ge_decode_zip215(&x, &y, q)) return;
    ge_p3_from_xy(&b, &x, &y);
    ge_p3_to_cached(&bc, &b);
    ge_add(&t, &a, &bc);
    ge_p1p1_to_p3(&a, &t);
    ge_p3_tobytes(out, &a);
}

#define MAXI 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx) {
        if (sodium_init() < 0 || cairn_sig_ctx_new(&ctx)) abort();
    }
    static const uint8_t T8[32] = {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
                                   0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
                                   0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a};
    rd r = {data, size};
    uint8_t mode = take8(&r);
    size_t n = 1 + mode % MAXI;
    uint8_t pk[MAXI][32], sig[MAXI][64], msg[MAXI][64];
    size_t mlen[MAXI];
    for (size_t i = 0; i < n; i++) {
        uint8_t kind = take8(&r);
        mlen[i] = take8(&r) % 65;
        take(&r, msg[i], mlen[i]);
        if (kind & 1) {
            uint8_t seed[32], sk[64];
            take(&r, seed, 32);
            crypto_sign_seed_keypair(pk[i], sk, seed);
            crypto_sign_detached(sig[i], NULL, msg[i], mlen[i], sk);
            if (kind & 2) add_point(pk[i], pk[i], T8);   /* torsion in A: k changes, S stale */
            if (kind & 4) add_point(sig[i], sig[i], T8); /* torsion in R */
            if (kind & 8) {                              /* flip one bit somewhere */
                uint8_t pos = take8(&r);
                if (pos < 32)
                    pk[i][pos] ^= (uint8_t)(1u << (take8(&r) % 8));
                else if (pos < 96)
                    sig[i][pos - 32] ^= (uint8_t)(1u << (take8(&r) % 8));
            }
        } else {
            take(&r, pk[i], 32);
            take(&r, sig[i], 64);
        }
    }
    int single[MAXI], batch[MAXI];
    cairn_ed25519_item items[MAXI];
    for (size_t i = 0; i < n; i++) {
        single[i] = cairn_ed25519_verify(ctx, pk[i], msg[i], mlen[i], sig[i]);
        int ref = ref_verify(pk[i], msg[i], mlen[i], sig[i]);
        if ((single[i] == 0) != ref) abort();
        if (crypto_core_ed25519_is_valid_point(pk[i]) &&
            crypto_core_ed25519_is_valid_point(sig[i])) {
            int so = crypto_sign_verify_detached(sig[i], msg[i], mlen[i], pk[i]) == 0;
            if (so != (single[i] == 0)) abort();
        }
        items[i] = (cairn_ed25519_item){pk[i], NULL, sig[i], msg[i], mlen[i]};
    }
    cairn_ed25519_batch_opts o = {(mode & 0x80) ? 1000 : 1, 2 + (mode >> 3) % 10};
    int rc = cairn_ed25519_verify_batch_opts(ctx, batch, items, n, &o);
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (batch[i] != single[i]) abort();
        any |= single[i] != 0;
    }
    if (rc != (any ? CAIRN_ESIG_INVALID : 0)) abort();

    /* The other algorithms on raw bytes: no crash, a defined code. */
    uint8_t sec1[33];
    sec1[0] = (uint8_t)(2 + (mode & 1));
    memcpy(sec1 + 1, pk[0], 32);
    for (int a = 2; a <= 4; a++) {
        cairn_sig_item it = {(cairn_sig_alg)a,
                             a == 2 ? pk[0] : sec1,
                             a == 2 ? 32 : 33,
                             sig[0],
                             64,
                             msg[0],
                             mlen[0],
                             NULL};
        int v = cairn_sig_verify(ctx, &it);
        if (v > 0 || (v != 0 && cairn_err_name(v)[0] != 'E')) abort();
    }
    return 0;
}
