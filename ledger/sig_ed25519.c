/*
 * sig_ed25519.c — ZIP-215 Ed25519 verification, one code path for one signature and for
 * batches.
 *
 * A batch of m signatures (R_i, S_i) on messages M_i under keys A_i, k_i = H(R_i || A_i || M_i),
 * is accepted when
 *
 *     [8] ( sum_i [z_i] R_i + sum_i [z_i k_i] A_i + [-(sum_i z_i S_i)] B ) = 0
 *
 * with independent uniformly random non-zero 128-bit z_i (for m = 1, z_1 = 1, which is exactly
 * the cofactored single equation [8]([S]B - R - [k]A) = 0 up to sign). If every signature
 * satisfies its own cofactored equation, every term [8](...) vanishes and the batch passes for
 * any z; if one does not, the batch passes only with probability about 2^-125 (Bernstein,
 * Doumen, Lange, Oosterwijk, "Faster batch forgery identification", INDOCRYPT 2012, and the
 * ed25519 paper, section 5). A failing batch is bisected with fresh coefficients; a single
 * signature is decided by the single equation, so each signature's result never depends on
 * its batch.
 *
 * Multi-scalar multiplication: Straus' interleaved wNAF method for small batches (width 5
 * tables per point, width 8 precomputed for B), Pippenger's bucket method with signed digits for
 * large ones (Bernstein et al., "Faster batch forgery identification", section 4; the window
 * width is chosen from an operation count).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/sig_internal.h"

/* L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
static const uint8_t sc_L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                 0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                 0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

static const uint8_t base_enc[32] = {
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};

/* s < L, comparing from the most significant byte. */
static int sc_is_canonical(const uint8_t s[32])
{
    for (int i = 31; i >= 0; i--) {
        if (s[i] < sc_L[i]) return 1;
        if (s[i] > sc_L[i]) return 0;
    }
    return 0;
}

static void sc_to_words(uint64_t w[4], const uint8_t s[32])
{
    for (int i = 0; i < 4; i++) w[i] = fe_load64_le(s + 8 * i);
}

/* Bits [pos, pos + n) of a 256-bit scalar (n <= 32), zero beyond bit 255. */
static inline uint32_t sc_bits(const uint64_t w[4], unsigned pos, unsigned n)
{
    if (pos >= 256) return 0;
    unsigned q = pos / 64, r = pos % 64;
    uint64_t v = w[q] >> r;
    if (r + n > 64 && q + 1 < 4) v |= w[q + 1] << (64 - r);
    return (uint32_t)(v & ((1ULL << n) - 1));
}

/* Width-w NAF of a scalar < 2^255: digits odd in (-2^(w-1), 2^(w-1)) or zero. Returns the
 * index of the highest non-zero digit plus one (0 for the zero scalar). */
static int sc_wnaf(int8_t naf[256], const uint8_t s[32], unsigned w)
{
    uint64_t words[4];
    sc_to_words(words, s);
    memset(naf, 0, 256);
    unsigned carry = 0;
    int top = 0;
    for (unsigned pos = 0; pos < 256;) {
        if (sc_bits(words, pos, 1) == carry) {
            pos++;
            continue;
        }
        int v = (int)(sc_bits(words, pos, w) + carry);
        if (v > (1 << (w - 1))) {
            v -= 1 << w;
            carry = 1;
        } else {
            carry = 0;
        }
        naf[pos] = (int8_t)v;
        top = (int)pos + 1;
        pos += w;
    }
    return top;
}

/* ---------------------------------------------------------------------------------------- */
/* Context                                                                                   */

int sig_ed25519_ctx_init(cairn_sig_ctx *ctx)
{
    fe x, y;
    if (ge_decode_zip215(&x, &y, base_enc) != 0) return CAIRN_EINTERNAL;
    ge_niels_from_xy(&ctx->base_niels, &x, &y);
    ge_p3 b, b2, cur;
    ge_p3_from_xy(&b, &x, &y);
    ge_p1p1 t;
    ge_p3_dbl(&t, &b);
    ge_p1p1_to_p3(&b2, &t);
    ge_cached b2c;
    ge_p3_to_cached(&b2c, &b2);
    cur = b;
    for (int i = 0; i < SIG_BASE_TABLE; i++) {
        fe zi, ax, ay;
        fe_invert(&zi, &cur.Z);
        fe_mul(&ax, &cur.X, &zi);
        fe_mul(&ay, &cur.Y, &zi);
        ge_niels_from_xy(&ctx->base_table[i], &ax, &ay);
        ge_add(&t, &cur, &b2c);
        ge_p1p1_to_p3(&cur, &t);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Keys                                                                                      */

static void key_store(cairn_ed25519_key *key, const fe *x, const fe *y)
{
    ge_niels n;
    ge_niels_from_xy(&n, x, y);
    memcpy(key->xy[0], x->v, sizeof x->v);
    memcpy(key->xy[1], y->v, sizeof y->v);
    memcpy(key->niels[0], n.yplusx.v, sizeof n.yplusx.v);
    memcpy(key->niels[1], n.yminusx.v, sizeof n.yminusx.v);
    memcpy(key->niels[2], n.xy2d.v, sizeof n.xy2d.v);
}

int cairn_ed25519_key_expand(cairn_ed25519_key *key, const uint8_t pk[32])
{
    fe x, y;
    if (ge_decode_zip215(&x, &y, pk) != 0) return CAIRN_ESIG_KEY;
    memcpy(key->enc, pk, 32);
    key_store(key, &x, &y);
    return 0;
}

/* r = [s]p, variable time, width-5 wNAF. */
static void ge_scalarmult_vartime(ge_p3 *r, const ge_p3 *p, const uint8_t s[32])
{
    int8_t naf[256];
    int top = sc_wnaf(naf, s, 5);
    ge_cached tbl[8];
    ge_p1p1 t;
    ge_p3 p2, u;
    ge_p3_to_cached(&tbl[0], p);
    ge_p3_dbl(&t, p);
    ge_p1p1_to_p3(&p2, &t);
    for (int i = 1; i < 8; i++) {
        ge_add(&t, &p2, &tbl[i - 1]);
        ge_p1p1_to_p3(&u, &t);
        ge_p3_to_cached(&tbl[i], &u);
    }
    ge_p3_0(r);
    for (int i = top - 1; i >= 0; i--) {
        ge_p3_dbl(&t, r);
        ge_p1p1_to_p3(r, &t);
        if (naf[i] > 0) {
            ge_add(&t, r, &tbl[naf[i] / 2]);
            ge_p1p1_to_p3(r, &t);
        } else if (naf[i] < 0) {
            ge_sub(&t, r, &tbl[-naf[i] / 2]);
            ge_p1p1_to_p3(r, &t);
        }
    }
}

int cairn_ed25519_key_check_registration(const cairn_sig_ctx *ctx, const uint8_t pk[32])
{
    (void)ctx;
    fe x, y;
    if (ge_decode_zip215(&x, &y, pk) != 0) return CAIRN_ESIG_POINT;
    ge_p3 p, q;
    ge_p3_from_xy(&p, &x, &y);
    uint8_t enc[32];
    ge_p3_tobytes(enc, &p);
    if (memcmp(enc, pk, 32) != 0) return CAIRN_ESIG_WEAK_KEY; /* non-canonical encoding */
    ge_p1p1 t;
    q = p;
    for (int i = 0; i < 3; i++) {
        ge_p3_dbl(&t, &q);
        ge_p1p1_to_p3(&q, &t);
    }
    if (ge_p3_is_identity(&q)) return CAIRN_ESIG_WEAK_KEY; /* small order */
    ge_scalarmult_vartime(&q, &p, sc_L);
    if (!ge_p3_is_identity(&q)) return CAIRN_ESIG_WEAK_KEY; /* torsion component */
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Batch preparation                                                                         */

typedef struct prep {
    ge_niels A, R;
    fe Ax, Ay, Rx, Ry;
    uint8_t k[32];
    uint8_t S[32];
} prep;

/* A point to decode: its encoding, where the result goes, and the item's failure flag. */
typedef struct decode_job {
    const uint8_t *enc;
    fe *x, *y;
    int *result;
    int code;
} decode_job;

static void run_decode_jobs(decode_job *jobs, size_t nj)
{
    for (size_t j = 0; j < nj; j++)
        if (jobs[j].result[0] == 0 && ge_decode_zip215(jobs[j].x, jobs[j].y, jobs[j].enc) != 0)
            jobs[j].result[0] = jobs[j].code;
}

/*
 * The per-signature checks that need no curve equation, in a fixed order: S < L, then A
 * decodes, then R decodes. results[i] gets 0 or the first failing rule's code. jobs is
 * scratch for 2n entries.
 */
static void prepare_all(prep *pre, int *results, const cairn_ed25519_item *items, size_t n,
                        decode_job *jobs)
{
    size_t nj = 0;
    for (size_t i = 0; i < n; i++) {
        const cairn_ed25519_item *it = &items[i];
        prep *p = &pre[i];
        results[i] = 0;
        if (!sc_is_canonical(it->sig + 32)) {
            results[i] = CAIRN_ESIG_S_RANGE;
            continue;
        }
        if (it->key) {
            memcpy(p->Ax.v, it->key->xy[0], sizeof p->Ax.v);
            memcpy(p->Ay.v, it->key->xy[1], sizeof p->Ay.v);
            memcpy(p->A.yplusx.v, it->key->niels[0], sizeof p->A.yplusx.v);
            memcpy(p->A.yminusx.v, it->key->niels[1], sizeof p->A.yminusx.v);
            memcpy(p->A.xy2d.v, it->key->niels[2], sizeof p->A.xy2d.v);
        } else {
            jobs[nj++] = (decode_job){it->pk, &p->Ax, &p->Ay, &results[i], CAIRN_ESIG_KEY};
        }
        jobs[nj++] = (decode_job){it->sig, &p->Rx, &p->Ry, &results[i], CAIRN_ESIG_POINT};
    }
    run_decode_jobs(jobs, nj);
    for (size_t i = 0; i < n; i++) {
        if (results[i]) continue;
        const cairn_ed25519_item *it = &items[i];
        prep *p = &pre[i];
        const uint8_t *aenc = it->key ? it->key->enc : it->pk;
        if (!it->key) ge_niels_from_xy(&p->A, &p->Ax, &p->Ay);
        ge_niels_from_xy(&p->R, &p->Rx, &p->Ry);
        memcpy(p->S, it->sig + 32, 32);
        crypto_hash_sha512_state h;
        uint8_t digest[64];
        crypto_hash_sha512_init(&h);
        crypto_hash_sha512_update(&h, it->sig, 32);
        crypto_hash_sha512_update(&h, aenc, 32);
        crypto_hash_sha512_update(&h, it->msg, it->msg_len);
        crypto_hash_sha512_final(&h, digest);
        crypto_core_ed25519_scalar_reduce(p->k, digest);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Scalars of one equation                                                                   */

/* acc (8 words) += a (2 words, z) * b (4 words). */
static void mac_128x256(uint64_t acc[8], const uint64_t a[2], const uint64_t b[4])
{
    for (int i = 0; i < 2; i++) {
        fe_u128 carry = 0;
        for (int j = 0; j < 4; j++) {
            fe_u128 t = (fe_u128)a[i] * b[j] + acc[i + j] + carry;
            acc[i + j] = (uint64_t)t;
            carry = t >> 64;
        }
        for (int k = i + 4; k < 8 && carry; k++) {
            fe_u128 t = (fe_u128)acc[k] + carry;
            acc[k] = (uint64_t)t;
            carry = t >> 64;
        }
    }
}

static void words_to_bytes(uint8_t *out, const uint64_t *w, int nw)
{
    for (int i = 0; i < nw; i++)
        for (int j = 0; j < 8; j++) out[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

/* Computes the per-term scalars: zr[i] = z_i, za[i] = z_i k_i mod L, and b = -(sum z_i S_i). */
static void equation_scalars(uint8_t (*zr)[32], uint8_t (*za)[32], uint8_t b[32], prep *const *ps,
                             size_t m)
{
    uint64_t acc[8] = {0};
    /* All coefficients in one CSPRNG call, packed at the start of za: z_i at bytes
     * [16i, 16i + 16). Going downwards, za[i] (bytes [32i, 32i + 32)) only overwrites
     * coefficients already consumed. */
    if (m > 1) randombytes_buf(za, 16 * m);
    for (size_t i = m; i-- > 0;) {
        uint64_t z[2] = {1, 0};
        if (m > 1) {
            z[0] = fe_load64_le((const uint8_t *)za + 16 * i);
            z[1] = fe_load64_le((const uint8_t *)za + 16 * i + 8);
            while (z[0] == 0 && z[1] == 0) randombytes_buf(z, sizeof z);
        }
        memset(zr[i], 0, 32);
        words_to_bytes(zr[i], z, 2);
        uint64_t kw[4], sw[4], prod[8] = {0};
        sc_to_words(kw, ps[i]->k);
        sc_to_words(sw, ps[i]->S);
        mac_128x256(prod, z, kw);
        uint8_t wide[64];
        words_to_bytes(wide, prod, 8);
        crypto_core_ed25519_scalar_reduce(za[i], wide);
        mac_128x256(acc, z, sw);
    }
    uint8_t wide[64], s[32];
    words_to_bytes(wide, acc, 8);
    crypto_core_ed25519_scalar_reduce(s, wide);
    crypto_core_ed25519_scalar_negate(b, s);
}

/* ---------------------------------------------------------------------------------------- */
/* Straus                                                                                    */

#define STRAUS_W   5
#define STRAUS_TBL (1 << (STRAUS_W - 2))

static void table_from_xy(ge_cached tbl[STRAUS_TBL], const fe *x, const fe *y)
{
    ge_p3 p, p2, u;
    ge_p1p1 t;
    ge_p3_from_xy(&p, x, y);
    ge_p3_to_cached(&tbl[0], &p);
    ge_p3_dbl(&t, &p);
    ge_p1p1_to_p3(&p2, &t);
    for (int i = 1; i < STRAUS_TBL; i++) {
        ge_add(&t, &p2, &tbl[i - 1]);
        ge_p1p1_to_p3(&u, &t);
        ge_p3_to_cached(&tbl[i], &u);
    }
}

static int msm_straus(const cairn_sig_ctx *ctx, ge_p3 *out, prep *const *ps, size_t m,
                      uint8_t (*zr)[32], uint8_t (*za)[32], const uint8_t b[32])
{
    size_t np = 2 * m;
    ge_cached(*tbl)[STRAUS_TBL] = malloc(np * sizeof *tbl);
    int8_t(*naf)[256] = malloc((np + 1) * sizeof *naf);
    if (!tbl || !naf) {
        free(tbl);
        free(naf);
        return CAIRN_ENOMEM;
    }
    int top = sc_wnaf(naf[np], b, SIG_BASE_WNAF_W);
    for (size_t i = 0; i < m; i++) {
        int t1 = sc_wnaf(naf[2 * i], za[i], STRAUS_W);
        int t2 = sc_wnaf(naf[2 * i + 1], zr[i], STRAUS_W);
        if (t1 > top) top = t1;
        if (t2 > top) top = t2;
        table_from_xy(tbl[2 * i], &ps[i]->Ax, &ps[i]->Ay);
        if (m == 1 && zr[i][0] == 1) {
            /* z = 1: the R term is a single digit at position 0, no table needed. */
            ge_p3 r;
            ge_p3_from_xy(&r, &ps[i]->Rx, &ps[i]->Ry);
            ge_p3_to_cached(&tbl[2 * i + 1][0], &r);
        } else {
            table_from_xy(tbl[2 * i + 1], &ps[i]->Rx, &ps[i]->Ry);
        }
    }
    /* r is kept projective (p2) across doublings and extended (p3) only around additions. */
    ge_p2 r2;
    ge_p3 r;
    ge_p1p1 t;
    ge_p3_0(&r);
    r2 = (ge_p2){r.X, r.Y, r.Z};
    for (int i = top - 1; i >= 0; i--) {
        ge_p2_dbl(&t, &r2);
        for (size_t j = 0; j < np; j++) {
            int d = naf[j][i];
            if (d > 0) {
                ge_p1p1_to_p3(&r, &t);
                ge_add(&t, &r, &tbl[j][d / 2]);
            } else if (d < 0) {
                ge_p1p1_to_p3(&r, &t);
                ge_sub(&t, &r, &tbl[j][-d / 2]);
            }
        }
        int d = naf[np][i];
        if (d > 0) {
            ge_p1p1_to_p3(&r, &t);
            ge_madd(&t, &r, &ctx->base_table[d / 2]);
        } else if (d < 0) {
            ge_p1p1_to_p3(&r, &t);
            ge_msub(&t, &r, &ctx->base_table[-d / 2]);
        }
        if (i > 0)
            ge_p1p1_to_p2(&r2, &t);
        else
            ge_p1p1_to_p3(&r, &t);
    }
    if (top == 0) ge_p3_0(&r);
    *out = r;
    free(tbl);
    free(naf);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Pippenger                                                                                 */

/* Operation-count model: additions into buckets plus two additions per bucket per window. */
static int pippenger_window(size_t m)
{
    int best = 4;
    double best_cost = 0;
    for (int c = 4; c <= 16; c++) {
        double wa = 253.0 / c + 1, wr = 129.0 / c + 1;
        double cost = wa * (double)(m + 1) + wr * (double)m + wa * (double)(1 << c);
        if (c == 4 || cost < best_cost) best = c, best_cost = cost;
    }
    return best;
}

/* Signed radix-2^c digits of a scalar < 2^253: dig[j] in [-2^(c-1), 2^(c-1)], nw windows. */
static void sc_signed_digits(int16_t *dig, size_t stride, const uint8_t s[32], int c, int nw)
{
    uint64_t w[4];
    sc_to_words(w, s);
    uint32_t carry = 0;
    for (int j = 0; j < nw; j++) {
        int32_t v = (int32_t)(sc_bits(w, (unsigned)(j * c), (unsigned)c) + carry);
        if (v > (1 << (c - 1))) {
            v -= 1 << c;
            carry = 1;
        } else {
            carry = 0;
        }
        dig[(size_t)j * stride] = (int16_t)v;
    }
}

static int msm_pippenger(const cairn_sig_ctx *ctx, ge_p3 *out, prep *const *ps, size_t m,
                         uint8_t (*zr)[32], uint8_t (*za)[32], const uint8_t b[32], int c)
{
    if (c <= 0) c = pippenger_window(m);
    if (c < 2) c = 2;
    if (c > 16) c = 16;
    const int nw = 253 / c + 1;  /* windows of the full-size scalars */
    const int nwr = 129 / c + 1; /* windows of the 128-bit z_i */
    const size_t np = 2 * m + 1; /* A_0..A_{m-1}, B, R_0..R_{m-1} */
    const size_t nlong = m + 1;  /* points with full-size scalars come first */
    const size_t nb = (size_t)1 << (c - 1);
    const ge_niels **pts = malloc(np * sizeof *pts);
    int16_t *dig = malloc((size_t)nw * np * sizeof *dig);
    ge_p3 *bk = malloc(nb * sizeof *bk);
    if (!pts || !dig || !bk) {
        free(pts);
        free(dig);
        free(bk);
        return CAIRN_ENOMEM;
    }
    memset(dig, 0, (size_t)nw * np * sizeof *dig);
    for (size_t i = 0; i < m; i++) {
        pts[i] = &ps[i]->A;
        sc_signed_digits(dig + i, np, za[i], c, nw);
        pts[m + 1 + i] = &ps[i]->R;
        sc_signed_digits(dig + m + 1 + i, np, zr[i], c, nwr);
    }
    pts[m] = &ctx->base_niels;
    sc_signed_digits(dig + m, np, b, c, nw);

    ge_p3 acc;
    ge_p1p1 t;
    ge_cached cc;
    ge_p3_0(&acc);
    for (int j = nw - 1; j >= 0; j--) {
        if (j != nw - 1) {
            ge_p2 a2 = {acc.X, acc.Y, acc.Z};
            for (int k = 0; k < c; k++) {
                ge_p2_dbl(&t, &a2);
                if (k + 1 < c) ge_p1p1_to_p2(&a2, &t);
            }
            ge_p1p1_to_p3(&acc, &t);
        }
        for (size_t k = 0; k < nb; k++) ge_p3_0(&bk[k]);
        const int16_t *row = dig + (size_t)j * np;
        size_t lim = j < nwr ? np : nlong;
        for (size_t i = 0; i < lim; i++) {
            int d = row[i];
            if (d > 0) {
                ge_madd(&t, &bk[d - 1], pts[i]);
                ge_p1p1_to_p3(&bk[d - 1], &t);
            } else if (d < 0) {
                ge_msub(&t, &bk[-d - 1], pts[i]);
                ge_p1p1_to_p3(&bk[-d - 1], &t);
            }
        }
        /* sum_k (k + 1) bk[k] by running sums, top down. */
        ge_p3 run, sum;
        ge_p3_0(&run);
        ge_p3_0(&sum);
        for (size_t k = nb; k-- > 0;) {
            ge_p3_to_cached(&cc, &bk[k]);
            ge_add(&t, &run, &cc);
            ge_p1p1_to_p3(&run, &t);
            ge_p3_to_cached(&cc, &run);
            ge_add(&t, &sum, &cc);
            ge_p1p1_to_p3(&sum, &t);
        }
        ge_p3_to_cached(&cc, &sum);
        ge_add(&t, &acc, &cc);
        ge_p1p1_to_p3(&acc, &t);
    }
    *out = acc;
    free(pts);
    free(dig);
    free(bk);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Equation, bisection                                                                       */

typedef struct batch_run {
    const cairn_sig_ctx *ctx;
    size_t straus_max;
    int window;
} batch_run;

/* 1 when the batch equation holds for ps[0..m), 0 when not, or a negative error. */
static int equation_holds(const batch_run *br, prep *const *ps, size_t m)
{
    uint8_t(*zr)[32] = malloc(m * sizeof *zr);
    uint8_t(*za)[32] = malloc(m * sizeof *za);
    int rc;
    if (!zr || !za) {
        rc = CAIRN_ENOMEM;
        goto out;
    }
    uint8_t b[32];
    equation_scalars(zr, za, b, ps, m);
    ge_p3 r;
    if (m <= br->straus_max)
        rc = msm_straus(br->ctx, &r, ps, m, zr, za, b);
    else
        rc = msm_pippenger(br->ctx, &r, ps, m, zr, za, b, br->window);
    if (rc) goto out;
    ge_p1p1 t;
    for (int i = 0; i < 3; i++) {
        ge_p3_dbl(&t, &r);
        ge_p1p1_to_p3(&r, &t);
    }
    rc = ge_p3_is_identity(&r);
out:
    free(zr);
    free(za);
    return rc;
}

/* Decides ps[0..m) (indices idx into results): bisects on failure. */
static int decide(const batch_run *br, int *results, prep *const *ps, const size_t *idx, size_t m)
{
    if (m == 0) return 0;
    int ok = equation_holds(br, ps, m);
    if (ok < 0) return ok;
    if (ok) {
        for (size_t i = 0; i < m; i++) results[idx[i]] = 0;
        return 0;
    }
    if (m == 1) {
        results[idx[0]] = CAIRN_ESIG_INVALID;
        return 0;
    }
    size_t h = m / 2;
    int rc = decide(br, results, ps, idx, h);
    if (rc) return rc;
    return decide(br, results, ps + h, idx + h, m - h);
}

/* Measured on the reference machine with `cairn-bench sigverify --crossover`
 * (docs/benchmarks.md): Straus is faster up to 64 signatures, Pippenger from 96. */
#define STRAUS_MAX_DEFAULT 64

int cairn_ed25519_verify_batch_opts(const cairn_sig_ctx *ctx, int *results,
                                    const cairn_ed25519_item *items, size_t n,
                                    const cairn_ed25519_batch_opts *opts)
{
    if (n == 0) return 0;
    batch_run br = {ctx, STRAUS_MAX_DEFAULT, 0};
    if (opts && opts->straus_max) br.straus_max = opts->straus_max;
    if (opts && opts->pippenger_window) br.window = opts->pippenger_window;
    prep *pre = malloc(n * sizeof *pre);
    prep **ps = calloc(n, sizeof *ps);
    size_t *idx = calloc(n, sizeof *idx);
    decode_job *jobs = malloc(2 * n * sizeof *jobs);
    int rc = 0;
    if (!pre || !ps || !idx || !jobs) {
        rc = CAIRN_ENOMEM;
        goto out;
    }
    prepare_all(pre, results, items, n, jobs);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (results[i] == 0) {
            ps[m] = &pre[i];
            idx[m] = i;
            m++;
        }
    }
    rc = decide(&br, results, ps, idx, m);
    if (rc == 0)
        for (size_t i = 0; i < n; i++)
            if (results[i]) rc = CAIRN_ESIG_INVALID;
out:
    free(pre);
    free(ps);
    free(idx);
    free(jobs);
    return rc;
}

int cairn_ed25519_verify_batch(const cairn_sig_ctx *ctx, int *results,
                               const cairn_ed25519_item *items, size_t n)
{
    return cairn_ed25519_verify_batch_opts(ctx, results, items, n, NULL);
}

int cairn_ed25519_verify(const cairn_sig_ctx *ctx, const uint8_t pk[32], const uint8_t *msg,
                         size_t msg_len, const uint8_t sig[64])
{
    cairn_ed25519_item it = {pk, NULL, sig, msg, msg_len};
    int result = 0;
    int rc = cairn_ed25519_verify_batch_opts(ctx, &result, &it, 1, NULL);
    if (rc == CAIRN_ENOMEM) return rc;
    return result;
}
