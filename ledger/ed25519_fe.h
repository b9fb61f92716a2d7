/*
 * ed25519_fe.h — internal: arithmetic in GF(2^255 - 19), radix 2^51 (five 64-bit limbs,
 * 128-bit products). Not a public header; only the ed25519_*.c files include it.
 *
 * Representation: v = l0 + 2^51 l1 + 2^102 l2 + 2^153 l3 + 2^204 l4, not necessarily reduced.
 * Invariants the callers rely on:
 *   - fe_mul / fe_sq / fe_sub / fe_carry outputs have limbs < 2^52;
 *   - fe_add of two such values has limbs < 2^53 and may be fed to mul/sq/sub, but is not
 *     added again before a reduction.
 * fe_mul accepts limbs < 2^54. Everything here is variable-time-safe only for public data: the
 * signature engine processes public keys and signatures exclusively.
 */
#ifndef CAIRN_LEDGER_ED25519_FE_H
#define CAIRN_LEDGER_ED25519_FE_H

#include <stdint.h>
#include <string.h>

typedef struct fe {
    uint64_t v[5];
} fe;

typedef unsigned __int128 fe_u128;

#if defined(__GNUC__)
#define FE_INLINE static inline __attribute__((always_inline))
#else
#define FE_INLINE static inline
#endif

#define FE_MASK51 ((uint64_t)0x7ffffffffffffULL)

static inline uint64_t fe_load64_le(const uint8_t *p)
{
    uint64_t r;
    memcpy(&r, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    r = __builtin_bswap64(r);
#endif
    return r;
}

static inline void fe_0(fe *h)
{
    memset(h, 0, sizeof *h);
}

static inline void fe_1(fe *h)
{
    memset(h, 0, sizeof *h);
    h->v[0] = 1;
}

/* Loads 32 little-endian bytes ignoring bit 255; values >= p are kept (and behave as v mod p). */
static inline void fe_frombytes(fe *h, const uint8_t s[32])
{
    h->v[0] = fe_load64_le(s) & FE_MASK51;
    h->v[1] = (fe_load64_le(s + 6) >> 3) & FE_MASK51;
    h->v[2] = (fe_load64_le(s + 12) >> 6) & FE_MASK51;
    h->v[3] = (fe_load64_le(s + 19) >> 1) & FE_MASK51;
    h->v[4] = (fe_load64_le(s + 24) >> 12) & FE_MASK51;
}

/* Weak reduction: limbs < 2^51 + 2^13 (input limbs < 2^63). */
FE_INLINE void fe_carry(fe *h)
{
    uint64_t c;
    c = h->v[0] >> 51, h->v[0] &= FE_MASK51, h->v[1] += c;
    c = h->v[1] >> 51, h->v[1] &= FE_MASK51, h->v[2] += c;
    c = h->v[2] >> 51, h->v[2] &= FE_MASK51, h->v[3] += c;
    c = h->v[3] >> 51, h->v[3] &= FE_MASK51, h->v[4] += c;
    c = h->v[4] >> 51, h->v[4] &= FE_MASK51, h->v[0] += c * 19;
}

/* Canonical 32-byte encoding (fully reduced mod p). */
static inline void fe_tobytes(uint8_t s[32], const fe *f)
{
    fe h = *f;
    fe_carry(&h);
    fe_carry(&h);
    /* Now h < 2^255 + small; subtract p once if h >= p. */
    uint64_t q = (h.v[0] + 19) >> 51;
    q = (h.v[1] + q) >> 51;
    q = (h.v[2] + q) >> 51;
    q = (h.v[3] + q) >> 51;
    q = (h.v[4] + q) >> 51;
    h.v[0] += 19 * q;
    uint64_t c;
    c = h.v[0] >> 51, h.v[0] &= FE_MASK51, h.v[1] += c;
    c = h.v[1] >> 51, h.v[1] &= FE_MASK51, h.v[2] += c;
    c = h.v[2] >> 51, h.v[2] &= FE_MASK51, h.v[3] += c;
    c = h.v[3] >> 51, h.v[3] &= FE_MASK51, h.v[4] += c;
    h.v[4] &= FE_MASK51;
    uint64_t w[4];
    w[0] = h.v[0] | (h.v[1] << 51);
    w[1] = (h.v[1] >> 13) | (h.v[2] << 38);
    w[2] = (h.v[2] >> 26) | (h.v[3] << 25);
    w[3] = (h.v[3] >> 39) | (h.v[4] << 12);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) s[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

FE_INLINE void fe_add(fe *h, const fe *f, const fe *g)
{
    for (int i = 0; i < 5; i++) h->v[i] = f->v[i] + g->v[i];
}

/* h = f - g, computed as f + 8p - g (g limbs < 2^54 - 152), then weakly reduced. */
FE_INLINE void fe_sub(fe *h, const fe *f, const fe *g)
{
    h->v[0] = (f->v[0] + 0x3fffffffffff68ULL) - g->v[0];
    h->v[1] = (f->v[1] + 0x3ffffffffffff8ULL) - g->v[1];
    h->v[2] = (f->v[2] + 0x3ffffffffffff8ULL) - g->v[2];
    h->v[3] = (f->v[3] + 0x3ffffffffffff8ULL) - g->v[3];
    h->v[4] = (f->v[4] + 0x3ffffffffffff8ULL) - g->v[4];
    fe_carry(h);
}

static inline void fe_neg(fe *h, const fe *f)
{
    fe z;
    fe_0(&z);
    fe_sub(h, &z, f);
}

/*
 * Carries the five 128-bit column sums into limbs < 2^52. Two carry chains run side by side
 * (t0 -> t1 -> t2 -> t3 and t3 -> t4 -> t0 -> t1), which shortens the dependency chain of a
 * squaring by about a fifth compared with one sequential pass. Bounds, for inputs < 2^54:
 * every t_i < 2^114, so each carry out of t2 and t4 fits in 64 bits (t4 >> 51 < 2^59.4, and
 * 19 times it plus r0 < 2^64); the final single-step carries leave r1, r4 < 2^51 + 2^13.
 */
FE_INLINE void fe_reduce128(fe *h, fe_u128 t0, fe_u128 t1, fe_u128 t2, fe_u128 t3, fe_u128 t4)
{
    uint64_t r0, r1, r2, r3, r4;
    t1 += (uint64_t)(t0 >> 51);
    r0 = (uint64_t)t0 & FE_MASK51;
    t4 += (uint64_t)(t3 >> 51);
    r3 = (uint64_t)t3 & FE_MASK51;
    t2 += (uint64_t)(t1 >> 51);
    r1 = (uint64_t)t1 & FE_MASK51;
    uint64_t c4 = (uint64_t)(t4 >> 51);
    r4 = (uint64_t)t4 & FE_MASK51;
    r0 += c4 * 19;
    uint64_t c2 = (uint64_t)(t2 >> 51);
    r2 = (uint64_t)t2 & FE_MASK51;
    r3 += c2;
    r1 += r0 >> 51;
    r0 &= FE_MASK51;
    r4 += r3 >> 51;
    r3 &= FE_MASK51;
    h->v[0] = r0, h->v[1] = r1, h->v[2] = r2, h->v[3] = r3, h->v[4] = r4;
}

FE_INLINE void fe_mul(fe *h, const fe *f, const fe *g)
{
    const uint64_t a0 = f->v[0], a1 = f->v[1], a2 = f->v[2], a3 = f->v[3], a4 = f->v[4];
    const uint64_t b0 = g->v[0], b1 = g->v[1], b2 = g->v[2], b3 = g->v[3], b4 = g->v[4];
    const uint64_t b1_19 = 19 * b1, b2_19 = 19 * b2, b3_19 = 19 * b3, b4_19 = 19 * b4;
    fe_u128 t0 = (fe_u128)a0 * b0 + (fe_u128)a1 * b4_19 + (fe_u128)a2 * b3_19 +
                 (fe_u128)a3 * b2_19 + (fe_u128)a4 * b1_19;
    fe_u128 t1 = (fe_u128)a0 * b1 + (fe_u128)a1 * b0 + (fe_u128)a2 * b4_19 + (fe_u128)a3 * b3_19 +
                 (fe_u128)a4 * b2_19;
    fe_u128 t2 = (fe_u128)a0 * b2 + (fe_u128)a1 * b1 + (fe_u128)a2 * b0 + (fe_u128)a3 * b4_19 +
                 (fe_u128)a4 * b3_19;
    fe_u128 t3 = (fe_u128)a0 * b3 + (fe_u128)a1 * b2 + (fe_u128)a2 * b1 + (fe_u128)a3 * b0 +
                 (fe_u128)a4 * b4_19;
    fe_u128 t4 = (fe_u128)a0 * b4 + (fe_u128)a1 * b3 + (fe_u128)a2 * b2 + (fe_u128)a3 * b1 +
                 (fe_u128)a4 * b0;
    fe_reduce128(h, t0, t1, t2, t3, t4);
}

FE_INLINE void fe_sq(fe *h, const fe *f)
{
    const uint64_t a0 = f->v[0], a1 = f->v[1], a2 = f->v[2], a3 = f->v[3], a4 = f->v[4];
    const uint64_t d0 = 2 * a0, d1 = 2 * a1, d2 = 2 * a2, d3 = 2 * a3;
    const uint64_t a3_19 = 19 * a3, a4_19 = 19 * a4;
    fe_u128 t0 = (fe_u128)a0 * a0 + (fe_u128)d1 * a4_19 + (fe_u128)d2 * a3_19;
    fe_u128 t1 = (fe_u128)d0 * a1 + (fe_u128)d2 * a4_19 + (fe_u128)a3 * a3_19;
    fe_u128 t2 = (fe_u128)d0 * a2 + (fe_u128)a1 * a1 + (fe_u128)d3 * a4_19;
    fe_u128 t3 = (fe_u128)d0 * a3 + (fe_u128)d1 * a2 + (fe_u128)a4 * a4_19;
    fe_u128 t4 = (fe_u128)d0 * a4 + (fe_u128)d1 * a3 + (fe_u128)a2 * a2;
    fe_reduce128(h, t0, t1, t2, t3, t4);
}

/* h = f^(2^n), n >= 1. */
static inline void fe_sqn(fe *h, const fe *f, int n)
{
    fe_sq(h, f);
    for (int i = 1; i < n; i++) fe_sq(h, h);
}

static inline int fe_iszero(const fe *f)
{
    uint8_t s[32];
    fe_tobytes(s, f);
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++) acc |= s[i];
    return acc == 0;
}

static inline int fe_eq(const fe *f, const fe *g)
{
    fe t;
    fe_sub(&t, f, g);
    return fe_iszero(&t);
}

/* The low bit of the canonical encoding ("negative" in RFC 8032 terms). */
static inline int fe_isneg(const fe *f)
{
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1;
}

/* Sets t0 = z^(2^250 - 1) and z11 = z^11 (shared by inversion and the square root). */
static inline void fe_pow_2_250_1(fe *t0, fe *z11, const fe *z)
{
    fe z2, z9, t, u, v;
    fe_sq(&z2, z);         /* 2 */
    fe_sqn(&t, &z2, 2);    /* 8 */
    fe_mul(&z9, &t, z);    /* 9 */
    fe_mul(z11, &z9, &z2); /* 11 */
    fe_sq(&t, z11);        /* 22 */
    fe_mul(&u, &t, &z9);   /* 31 = 2^5 - 1 */
    fe_sqn(&t, &u, 5);
    fe_mul(&u, &t, &u); /* 2^10 - 1 */
    fe_sqn(&t, &u, 10);
    fe_mul(&v, &t, &u); /* 2^20 - 1 */
    fe_sqn(&t, &v, 20);
    fe_mul(&t, &t, &v); /* 2^40 - 1 */
    fe_sqn(&t, &t, 10);
    fe_mul(&u, &t, &u); /* 2^50 - 1 */
    fe_sqn(&t, &u, 50);
    fe_mul(&v, &t, &u); /* 2^100 - 1 */
    fe_sqn(&t, &v, 100);
    fe_mul(&t, &t, &v); /* 2^200 - 1 */
    fe_sqn(&t, &t, 50);
    fe_mul(t0, &t, &u); /* 2^250 - 1 */
}

/* h = z^(p - 2) = 1/z (0 for z = 0). */
static inline void fe_invert(fe *h, const fe *z)
{
    fe t, z11;
    fe_pow_2_250_1(&t, &z11, z);
    fe_sqn(&t, &t, 5); /* 2^255 - 32 */
    fe_mul(h, &t, &z11);
}

/* h = z^((p - 5) / 8) = z^(2^252 - 3). */
static inline void fe_pow22523(fe *h, const fe *z)
{
    fe t, z11;
    fe_pow_2_250_1(&t, &z11, z);
    fe_sqn(&t, &t, 2); /* 2^252 - 4 */
    fe_mul(h, &t, z);
}

/* Curve constants. */
static const fe fe_d = {{0x34dca135978a3ULL, 0x1a8283b156ebdULL, 0x5e7a26001c029ULL,
                         0x739c663a03cbbULL, 0x52036cee2b6ffULL}};
static const fe fe_d2 = {{0x69b9426b2f159ULL, 0x35050762add7aULL, 0x3cf44c0038052ULL,
                          0x6738cc7407977ULL, 0x2406d9dc56dffULL}};
static const fe fe_sqrtm1 = {{0x61b274a0ea0b0ULL, 0xd5a5fc8f189dULL, 0x7ef5e9cbd0c60ULL,
                              0x78595a6804c9eULL, 0x2b8324804fc1dULL}};

#endif
