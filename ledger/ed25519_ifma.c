/*
 * ed25519_ifma.c — the optional AVX-512 IFMA backend: the exponentiation z^((p-5)/8) of point
 * decompression for eight field elements at once. This file alone is compiled with
 * -mavx512f -mavx512ifma; sig_ed25519.c calls it only when the CPU reports AVX-512 IFMA at run
 * time (sig_ifma_available) and the context was not created portable-only.
 *
 * Representation: eight lanes, each a field element in radix 2^52 with five limbs (52, 52, 52,
 * 52 and 47 bits when normalised). vpmadd52luq / vpmadd52huq add the low / high 52 bits of a
 * 52 x 52-bit product to a 64-bit accumulator, so every multiplication input must be < 2^52;
 * fe8_mul's outputs are (limbs 0-3 < 2^52, limb 4 < 2^47 + 2^4). Reduction uses
 * 2^260 = 2^5 * 2^255 = 32 * 19 = 608 (mod p) for the upper half of the product and
 * 2^255 = 19 (mod p) for the bits above limb 4's 47.
 *
 * The result is the same field element the portable fe_pow22523 computes (tests compare them on
 * random and edge-case inputs, and the whole verifier both ways), so verdicts are identical.
 */
#include <immintrin.h>

#include "ledger/sig_internal.h"

typedef struct fe8 {
    __m512i l[5];
} fe8;

#define M52 0xfffffffffffffULL
#define M47 0x7fffffffffffULL

/*
 * out = a * b: the 50 partial products (low and high 52-bit halves) accumulate per position;
 * the upper half (positions 5-9, weight 608 * 2^(52k)) is folded without a carry chain: each
 * z = zl + 2^52 zh with zl < 2^52 and zh < 2^4, and both parts are multiplied by 608 with IFMA.
 * Then one normalising carry pass. The loops must be unrolled (this file is built with -O3
 * -funroll-loops) so that the accumulators stay in registers.
 */
static inline void fe8_mul(fe8 *out, const fe8 *a, const fe8 *b)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i z[10];
    for (int k = 0; k < 10; k++) z[k] = zero;
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 5; j++) {
            z[i + j] = _mm512_madd52lo_epu64(z[i + j], a->l[i], b->l[j]);
            z[i + j + 1] = _mm512_madd52hi_epu64(z[i + j + 1], a->l[i], b->l[j]);
        }
    }
    /* Each z[k] < 10 * 2^52. Position k + 5 has weight 2^260 * 2^(52k) = 608 * 2^(52k). */
    const __m512i m52 = _mm512_set1_epi64((long long)M52);
    const __m512i k608 = _mm512_set1_epi64(608);
    __m512i r[5], hi[5], top[5];
    for (int k = 0; k < 5; k++) {
        __m512i lo = _mm512_and_si512(z[k + 5], m52);
        top[k] = _mm512_srli_epi64(z[k + 5], 52); /* < 2^4, weight 608 * 2^(52(k+1)) */
        r[k] = _mm512_madd52lo_epu64(z[k], lo, k608);
        hi[k] = _mm512_madd52hi_epu64(zero, lo, k608); /* < 2^10, weight 2^(52(k+1)) */
    }
    for (int k = 0; k < 4; k++) {
        r[k + 1] = _mm512_add_epi64(r[k + 1], hi[k]);
        r[k + 1] = _mm512_madd52lo_epu64(r[k + 1], top[k], k608);
    }
    /* hi[4] has weight 2^260 = 608; top[4] has weight 2^520 = 608^2. */
    r[0] = _mm512_madd52lo_epu64(r[0], hi[4], k608);
    r[0] = _mm512_madd52lo_epu64(r[0], top[4], _mm512_set1_epi64(608 * 608));
    /* Normalise: bits of limb 4 above 47 have weight 2^255 = 19; then one carry pass. */
    __m512i c = _mm512_srli_epi64(r[4], 47);
    r[4] = _mm512_and_si512(r[4], _mm512_set1_epi64((long long)M47));
    r[0] = _mm512_madd52lo_epu64(r[0], c, _mm512_set1_epi64(19));
    for (int k = 0; k < 4; k++) {
        c = _mm512_srli_epi64(r[k], 52);
        r[k] = _mm512_and_si512(r[k], m52);
        r[k + 1] = _mm512_add_epi64(r[k + 1], c);
    }
    for (int k = 0; k < 5; k++) out->l[k] = r[k];
}

static inline void fe8_sqn(fe8 *r, const fe8 *a, int n)
{
    fe8_mul(r, a, a);
    for (int i = 1; i < n; i++) fe8_mul(r, r, r);
}

/* r = z^(2^252 - 3), the same addition chain as fe_pow22523. */
static void fe8_pow22523(fe8 *r, const fe8 *z)
{
    fe8 z2, z9, z11, t, u, v;
    fe8_mul(&z2, z, z);
    fe8_sqn(&t, &z2, 2);
    fe8_mul(&z9, &t, z);
    fe8_mul(&z11, &z9, &z2);
    fe8_mul(&t, &z11, &z11);
    fe8_mul(&u, &t, &z9); /* 2^5 - 1 */
    fe8_sqn(&t, &u, 5);
    fe8_mul(&u, &t, &u); /* 2^10 - 1 */
    fe8_sqn(&t, &u, 10);
    fe8_mul(&v, &t, &u); /* 2^20 - 1 */
    fe8_sqn(&t, &v, 20);
    fe8_mul(&t, &t, &v); /* 2^40 - 1 */
    fe8_sqn(&t, &t, 10);
    fe8_mul(&u, &t, &u); /* 2^50 - 1 */
    fe8_sqn(&t, &u, 50);
    fe8_mul(&v, &t, &u); /* 2^100 - 1 */
    fe8_sqn(&t, &v, 100);
    fe8_mul(&t, &t, &v); /* 2^200 - 1 */
    fe8_sqn(&t, &t, 50);
    fe8_mul(&t, &t, &u); /* 2^250 - 1 */
    fe8_sqn(&t, &t, 2);
    fe8_mul(r, &t, z); /* 2^252 - 3 */
}

/* Bits [pos, pos + n) of a 256-bit little-endian value in four words (n <= 52). */
static inline uint64_t bits_of(const uint64_t w[4], unsigned pos, unsigned n)
{
    unsigned q = pos / 64, s = pos % 64;
    uint64_t v = w[q] >> s;
    if (s + n > 64 && q + 1 < 4) v |= w[q + 1] << (64 - s);
    return v & ((1ULL << n) - 1);
}

void sig_ifma_pow22523_x8(fe out[8], const fe in[8])
{
    uint64_t lanes[5][8] __attribute__((aligned(64)));
    for (int j = 0; j < 8; j++) {
        uint8_t b[32];
        uint64_t w[4];
        fe_tobytes(b, &in[j]);
        for (int i = 0; i < 4; i++) w[i] = fe_load64_le(b + 8 * i);
        for (int k = 0; k < 4; k++) lanes[k][j] = bits_of(w, 52u * (unsigned)k, 52);
        lanes[4][j] = bits_of(w, 208, 47);
    }
    fe8 z, r;
    for (int k = 0; k < 5; k++) z.l[k] = _mm512_load_si512((const void *)lanes[k]);
    fe8_pow22523(&r, &z);
    for (int k = 0; k < 5; k++) _mm512_store_si512((void *)lanes[k], r.l[k]);
    for (int j = 0; j < 8; j++) {
        const uint64_t l0 = lanes[0][j], l1 = lanes[1][j], l2 = lanes[2][j], l3 = lanes[3][j],
                       l4 = lanes[4][j];
        /* Limbs are < 2^52 (limb 4 < 2^48), so these ORs do not overlap. */
        uint64_t w0 = l0 | (l1 << 52);
        uint64_t w1 = (l1 >> 12) | (l2 << 40);
        uint64_t w2 = (l2 >> 24) | (l3 << 28);
        uint64_t w3 = (l3 >> 36) | (l4 << 16);
        out[j].v[0] = w0 & FE_MASK51;
        out[j].v[1] = ((w0 >> 51) | (w1 << 13)) & FE_MASK51;
        out[j].v[2] = ((w1 >> 38) | (w2 << 26)) & FE_MASK51;
        out[j].v[3] = ((w2 >> 25) | (w3 << 39)) & FE_MASK51;
        out[j].v[4] = w3 >> 12;
    }
}
