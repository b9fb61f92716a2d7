#include "ledger/canon.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/bytes.h"

void cairn_buf_put(cairn_buf *b, const void *data, size_t len)
{
    if (b->err || len == 0) return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + len) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->err = CAIRN_ENOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

void cairn_buf_u8(cairn_buf *b, uint8_t v)
{
    cairn_buf_put(b, &v, 1);
}

void cairn_buf_u16(cairn_buf *b, uint16_t v)
{
    uint8_t t[2];
    cairn_put_u16be(t, v);
    cairn_buf_put(b, t, 2);
}

void cairn_buf_u32(cairn_buf *b, uint32_t v)
{
    uint8_t t[4];
    cairn_put_u32be(t, v);
    cairn_buf_put(b, t, 4);
}

void cairn_buf_u64(cairn_buf *b, uint64_t v)
{
    uint8_t t[8];
    cairn_put_u64be(t, v);
    cairn_buf_put(b, t, 8);
}

void cairn_buf_i32(cairn_buf *b, int32_t v)
{
    cairn_buf_u32(b, (uint32_t)v);
}

void cairn_buf_tag(cairn_buf *b, const char *tag)
{
    cairn_buf_put(b, tag, strlen(tag) + 1);
}

void cairn_buf_str8(cairn_buf *b, const void *s, size_t len)
{
    if (len > UINT8_MAX) {
        if (!b->err) b->err = CAIRN_ETOOBIG;
        return;
    }
    cairn_buf_u8(b, (uint8_t)len);
    cairn_buf_put(b, s, len);
}

void cairn_buf_bytes16(cairn_buf *b, const void *s, size_t len)
{
    if (len > UINT16_MAX) {
        if (!b->err) b->err = CAIRN_ETOOBIG;
        return;
    }
    cairn_buf_u16(b, (uint16_t)len);
    cairn_buf_put(b, s, len);
}

void cairn_buf_bytes32(cairn_buf *b, const void *s, size_t len)
{
    if (len > UINT32_MAX) {
        if (!b->err) b->err = CAIRN_ETOOBIG;
        return;
    }
    cairn_buf_u32(b, (uint32_t)len);
    cairn_buf_put(b, s, len);
}

int cairn_buf_finish(const cairn_buf *b)
{
    return b->err;
}

void cairn_buf_free(cairn_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Returns a pointer to the next n bytes and advances, or NULL (sticky ETRUNCATED). */
static const uint8_t *take(cairn_rd *r, size_t n)
{
    if (r->err) return NULL;
    if (n > r->len - r->off) {
        r->err = CAIRN_ETRUNCATED;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

uint8_t cairn_rd_u8(cairn_rd *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

uint16_t cairn_rd_u16(cairn_rd *r)
{
    const uint8_t *p = take(r, 2);
    return p ? cairn_get_u16be(p) : 0;
}

uint32_t cairn_rd_u32(cairn_rd *r)
{
    const uint8_t *p = take(r, 4);
    return p ? cairn_get_u32be(p) : 0;
}

uint64_t cairn_rd_u64(cairn_rd *r)
{
    const uint8_t *p = take(r, 8);
    return p ? cairn_get_u64be(p) : 0;
}

int32_t cairn_rd_i32(cairn_rd *r)
{
    return (int32_t)cairn_rd_u32(r);
}

void cairn_rd_copy(cairn_rd *r, void *out, size_t n)
{
    const uint8_t *p = take(r, n);
    if (p)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

static const uint8_t *rd_var(cairn_rd *r, size_t n, size_t max, size_t *len)
{
    *len = 0;
    if (r->err) return NULL;
    if (n > max) {
        r->err = CAIRN_ETOOBIG;
        return NULL;
    }
    const uint8_t *p = take(r, n);
    if (p) *len = n;
    return p;
}

const uint8_t *cairn_rd_str8(cairn_rd *r, size_t *len)
{
    size_t n = cairn_rd_u8(r);
    return rd_var(r, n, UINT8_MAX, len);
}

const uint8_t *cairn_rd_bytes16(cairn_rd *r, size_t *len, size_t max)
{
    size_t n = cairn_rd_u16(r);
    return rd_var(r, n, max, len);
}

const uint8_t *cairn_rd_bytes32(cairn_rd *r, size_t *len, size_t max)
{
    size_t n = cairn_rd_u32(r);
    return rd_var(r, n, max, len);
}

void cairn_rd_tag(cairn_rd *r, const char *tag)
{
    size_t n = strlen(tag) + 1;
    const uint8_t *p = take(r, n);
    if (p && memcmp(p, tag, n) != 0) r->err = CAIRN_EDECODE;
}

int cairn_rd_finish(const cairn_rd *r)
{
    if (r->err) return r->err;
    return r->off == r->len ? 0 : CAIRN_ETRAILING;
}
