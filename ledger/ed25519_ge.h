/*
 * ed25519_ge.h — internal: points of the twisted Edwards curve -x^2 + y^2 = 1 + d x^2 y^2 over
 * GF(2^255 - 19) (RFC 8032 section 5.1), in the coordinate systems of Hisil, Wong, Carter and
 * Dawson, "Twisted Edwards Curves Revisited" (ASIACRYPT 2008), section 3 (a = -1):
 *
 *   ge_p3     extended:  (X : Y : Z : T), x = X/Z, y = Y/Z, xy = T/Z
 *   ge_p2     projective: (X : Y : Z)
 *   ge_p1p1   completed: ((X : Z), (Y : T)), x = X/Z, y = Y/T; the output of add and double
 *   ge_cached (Y+X, Y-X, Z, 2dT), the second operand of an addition
 *   ge_niels  affine (y+x, y-x, 2dxy), the second operand of a mixed addition
 *
 * The unified addition and the doubling are complete on this curve (d is not a square), so they
 * are correct for every point on the curve, including small-order and mixed-order points.
 * Everything is variable time; it only ever touches public data.
 */
#ifndef CAIRN_LEDGER_ED25519_GE_H
#define CAIRN_LEDGER_ED25519_GE_H

#include "ledger/ed25519_fe.h"

typedef struct ge_p2 {
    fe X, Y, Z;
} ge_p2;
typedef struct ge_p3 {
    fe X, Y, Z, T;
} ge_p3;
typedef struct ge_p1p1 {
    fe X, Y, Z, T;
} ge_p1p1;
typedef struct ge_cached {
    fe YplusX, YminusX, Z, T2d;
} ge_cached;
typedef struct ge_niels {
    fe yplusx, yminusx, xy2d;
} ge_niels;

static inline void ge_p3_0(ge_p3 *h)
{
    fe_0(&h->X);
    fe_1(&h->Y);
    fe_1(&h->Z);
    fe_0(&h->T);
}

static inline void ge_p1p1_to_p2(ge_p2 *r, const ge_p1p1 *p)
{
    fe_mul(&r->X, &p->X, &p->T);
    fe_mul(&r->Y, &p->Y, &p->Z);
    fe_mul(&r->Z, &p->Z, &p->T);
}

static inline void ge_p1p1_to_p3(ge_p3 *r, const ge_p1p1 *p)
{
    fe_mul(&r->X, &p->X, &p->T);
    fe_mul(&r->Y, &p->Y, &p->Z);
    fe_mul(&r->Z, &p->Z, &p->T);
    fe_mul(&r->T, &p->X, &p->Y);
}

static inline void ge_p3_to_cached(ge_cached *r, const ge_p3 *p)
{
    fe_add(&r->YplusX, &p->Y, &p->X);
    fe_sub(&r->YminusX, &p->Y, &p->X);
    r->Z = p->Z;
    fe_mul(&r->T2d, &p->T, &fe_d2);
}

/* Doubling (HWCD dbl-2008-hwcd with a = -1, signs folded): 4S + 0M into completed form. */
static inline void ge_p2_dbl(ge_p1p1 *r, const ge_p2 *p)
{
    fe xx, yy, b, a, aa;
    fe_sq(&xx, &p->X);
    fe_sq(&yy, &p->Y);
    fe_sq(&b, &p->Z);
    fe_add(&b, &b, &b);
    fe_add(&a, &p->X, &p->Y);
    fe_sq(&aa, &a);
    fe_add(&r->Y, &yy, &xx);   /* H = YY + XX */
    fe_sub(&r->Z, &yy, &xx);   /* G = YY - XX */
    fe_sub(&r->X, &aa, &r->Y); /* E = 2XY */
    fe_sub(&r->T, &b, &r->Z);  /* F = 2Z^2 - G */
    /* completed: x = E / G, y = H / F */
}

static inline void ge_p3_dbl(ge_p1p1 *r, const ge_p3 *p)
{
    ge_p2 q = {p->X, p->Y, p->Z};
    ge_p2_dbl(r, &q);
}

/* r = p + q. */
static inline void ge_add(ge_p1p1 *r, const ge_p3 *p, const ge_cached *q)
{
    fe a, b, c, d, t;
    fe_add(&t, &p->Y, &p->X);
    fe_mul(&a, &t, &q->YplusX);
    fe_sub(&t, &p->Y, &p->X);
    fe_mul(&b, &t, &q->YminusX);
    fe_mul(&c, &q->T2d, &p->T);
    fe_mul(&t, &p->Z, &q->Z);
    fe_add(&d, &t, &t);
    fe_sub(&r->X, &a, &b);
    fe_add(&r->Y, &a, &b);
    fe_add(&r->Z, &d, &c);
    fe_sub(&r->T, &d, &c);
}

/* r = p - q. */
static inline void ge_sub(ge_p1p1 *r, const ge_p3 *p, const ge_cached *q)
{
    fe a, b, c, d, t;
    fe_add(&t, &p->Y, &p->X);
    fe_mul(&a, &t, &q->YminusX);
    fe_sub(&t, &p->Y, &p->X);
    fe_mul(&b, &t, &q->YplusX);
    fe_mul(&c, &q->T2d, &p->T);
    fe_mul(&t, &p->Z, &q->Z);
    fe_add(&d, &t, &t);
    fe_sub(&r->X, &a, &b);
    fe_add(&r->Y, &a, &b);
    fe_sub(&r->Z, &d, &c);
    fe_add(&r->T, &d, &c);
}

/* r = p + q, q affine. */
static inline void ge_madd(ge_p1p1 *r, const ge_p3 *p, const ge_niels *q)
{
    fe a, b, c, d, t;
    fe_add(&t, &p->Y, &p->X);
    fe_mul(&a, &t, &q->yplusx);
    fe_sub(&t, &p->Y, &p->X);
    fe_mul(&b, &t, &q->yminusx);
    fe_mul(&c, &q->xy2d, &p->T);
    fe_add(&d, &p->Z, &p->Z);
    fe_sub(&r->X, &a, &b);
    fe_add(&r->Y, &a, &b);
    fe_add(&r->Z, &d, &c);
    fe_sub(&r->T, &d, &c);
}

/* r = p - q, q affine. */
static inline void ge_msub(ge_p1p1 *r, const ge_p3 *p, const ge_niels *q)
{
    fe a, b, c, d, t;
    fe_add(&t, &p->Y, &p->X);
    fe_mul(&a, &t, &q->yminusx);
    fe_sub(&t, &p->Y, &p->X);
    fe_mul(&b, &t, &q->yplusx);
    fe_mul(&c, &q->xy2d, &p->T);
    fe_add(&d, &p->Z, &p->Z);
    fe_sub(&r->X, &a, &b);
    fe_add(&r->Y, &a, &b);
    fe_sub(&r->Z, &d, &c);
    fe_add(&r->T, &d, &c);
}

/* Affine (x, y) to niels form. */
static inline void ge_niels_from_xy(ge_niels *r, const fe *x, const fe *y)
{
    fe t;
    fe_add(&r->yplusx, y, x);
    fe_sub(&r->yminusx, y, x);
    fe_mul(&t, x, y);
    fe_mul(&r->xy2d, &t, &fe_d2);
}

/* Extended point from affine (x, y). */
static inline void ge_p3_from_xy(ge_p3 *r, const fe *x, const fe *y)
{
    r->X = *x;
    r->Y = *y;
    fe_1(&r->Z);
    fe_mul(&r->T, x, y);
}

/* True when p is the neutral element (0, 1). */
static inline int ge_p3_is_identity(const ge_p3 *p)
{
    return fe_iszero(&p->X) && fe_eq(&p->Y, &p->Z);
}

/* Canonical RFC 8032 encoding of p. */
static inline void ge_p3_tobytes(uint8_t s[32], const ge_p3 *p)
{
    fe zi, x, y;
    fe_invert(&zi, &p->Z);
    fe_mul(&x, &p->X, &zi);
    fe_mul(&y, &p->Y, &zi);
    fe_tobytes(s, &y);
    s[31] ^= (uint8_t)(fe_isneg(&x) << 7);
}

/*
 * ZIP-215 decoding (https://zips.z.cash/zip-0215): y is the low 255 bits taken as an integer
 * and reduced mod p (non-canonical y >= p accepted); x is recovered as in RFC 8032 section
 * 5.1.3 step 3 (x = u v^3 (u v^7)^((p-5)/8)); the sign bit selects the root, and sign bit 1 with
 * x = 0 is accepted (giving x = 0). Returns 0, or -1 when u/v is not a square (not on the curve).
 * Outputs the affine coordinates.
 *
 * Split in three so that a vector backend can run the exponentiation (the only expensive step)
 * for several points at once: ge_decode_pre computes y, u = y^2 - 1, v = d y^2 + 1, v^3 and the
 * base u v^7; the caller raises the base to (p-5)/8; ge_decode_post finishes.
 */
typedef struct ge_decode_state {
    fe y, u, v, v3, base;
} ge_decode_state;

static inline void ge_decode_pre(ge_decode_state *st, const uint8_t s[32])
{
    fe one, t;
    fe_frombytes(&st->y, s);
    fe_1(&one);
    fe_sq(&st->u, &st->y);
    fe_mul(&st->v, &st->u, &fe_d);
    fe_sub(&st->u, &st->u, &one); /* u = y^2 - 1 */
    fe_add(&st->v, &st->v, &one); /* v = d y^2 + 1 */
    fe_carry(&st->v);
    fe_sq(&st->v3, &st->v);
    fe_mul(&st->v3, &st->v3, &st->v); /* v^3 */
    fe_sq(&t, &st->v3);
    fe_mul(&t, &t, &st->v);
    fe_mul(&st->base, &t, &st->u); /* u v^7 */
}

/* pw = base^((p-5)/8). */
static inline int ge_decode_post(fe *x_out, fe *y_out, const ge_decode_state *st, const fe *pw,
                                 const uint8_t s[32])
{
    fe x, vxx, t, y = st->y;
    fe_mul(&x, pw, &st->v3);
    fe_mul(&x, &x, &st->u); /* u v^3 (u v^7)^((p-5)/8) */
    fe_sq(&vxx, &x);
    fe_mul(&vxx, &vxx, &st->v);
    fe_sub(&t, &vxx, &st->u);
    if (!fe_iszero(&t)) {
        fe_add(&t, &vxx, &st->u);
        fe_carry(&t);
        if (!fe_iszero(&t)) return -1;
        fe_mul(&x, &x, &fe_sqrtm1);
    }
    if (fe_isneg(&x) != (s[31] >> 7)) fe_neg(&x, &x);
    fe_carry(&y);
    *x_out = x;
    *y_out = y;
    return 0;
}

static inline int ge_decode_zip215(fe *x_out, fe *y_out, const uint8_t s[32])
{
    ge_decode_state st;
    fe pw;
    ge_decode_pre(&st, s);
    fe_pow22523(&pw, &st.base);
    return ge_decode_post(x_out, y_out, &st, &pw, s);
}

#endif
