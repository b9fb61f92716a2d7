/*
 * canon.h — writer and reader for Cairn's canonical binary encodings (docs/formats.md):
 * big-endian fixed-width integers, 32-byte hashes, and length-prefixed strings and byte strings.
 *
 * Both carry a sticky error: after the first failure every later call is a no-op, and the error is
 * reported once at the end (cairn_buf_finish / cairn_rd_finish), so encoders and decoders read as a
 * straight list of fields.
 */
#ifndef CAIRN_LEDGER_CANON_H
#define CAIRN_LEDGER_CANON_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"

/* A growable output buffer. Zero-initialise (CAIRN_BUF_INIT); free the bytes with cairn_buf_free.
 */
typedef struct cairn_buf {
    uint8_t *p;
    size_t len, cap;
    int err;
} cairn_buf;

#define CAIRN_BUF_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

void cairn_buf_put(cairn_buf *b, const void *data, size_t len);
void cairn_buf_u8(cairn_buf *b, uint8_t v);
void cairn_buf_u16(cairn_buf *b, uint16_t v);
void cairn_buf_u32(cairn_buf *b, uint32_t v);
void cairn_buf_u64(cairn_buf *b, uint64_t v);
void cairn_buf_i32(cairn_buf *b, int32_t v);
/* TAG: the ASCII tag and one 0x00 byte. */
void cairn_buf_tag(cairn_buf *b, const char *tag);
/* str8 / bytes16 / bytes32: length prefix then bytes; too long sets CAIRN_ETOOBIG. */
void cairn_buf_str8(cairn_buf *b, const void *s, size_t len);
void cairn_buf_bytes16(cairn_buf *b, const void *s, size_t len);
void cairn_buf_bytes32(cairn_buf *b, const void *s, size_t len);
/* Returns the sticky error (0 if every write succeeded). */
CAIRN_MUST_CHECK int cairn_buf_finish(const cairn_buf *b);
void cairn_buf_free(cairn_buf *b);

/* A bounds-checked reader over bytes the caller keeps alive. */
typedef struct cairn_rd {
    const uint8_t *p;
    size_t len, off;
    int err;
} cairn_rd;

static inline cairn_rd cairn_rd_init(const uint8_t *p, size_t len)
{
    cairn_rd r = {p, len, 0, 0};
    return r;
}

uint8_t cairn_rd_u8(cairn_rd *r);
uint16_t cairn_rd_u16(cairn_rd *r);
uint32_t cairn_rd_u32(cairn_rd *r);
uint64_t cairn_rd_u64(cairn_rd *r);
int32_t cairn_rd_i32(cairn_rd *r);
/* Copies n bytes to out (zero-filled on error). */
void cairn_rd_copy(cairn_rd *r, void *out, size_t n);
/* Length-prefixed fields: returns a pointer into the input (valid while the input is) and the
 * length; NULL with length 0 on error. max bounds the accepted length (CAIRN_ETOOBIG beyond). */
const uint8_t *cairn_rd_str8(cairn_rd *r, size_t *len);
const uint8_t *cairn_rd_bytes16(cairn_rd *r, size_t *len, size_t max);
const uint8_t *cairn_rd_bytes32(cairn_rd *r, size_t *len, size_t max);
/* Expects the tag; CAIRN_EDECODE if it differs. */
void cairn_rd_tag(cairn_rd *r, const char *tag);
/* Sticky error, or CAIRN_ETRAILING if bytes are left over. */
CAIRN_MUST_CHECK int cairn_rd_finish(const cairn_rd *r);

#endif
