/*
 * hex.h — text encodings: lowercase hex encoding, strict hex and decimal decoding.
 */
#ifndef CAIRN_LEDGER_HEX_H
#define CAIRN_LEDGER_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"

/* Writes 2*len lowercase hex digits and a NUL to out (capacity >= 2*len+1). */
void cairn_hex_encode(char *out, const uint8_t *in, size_t len);

/*
 * Decodes hex (upper or lower case, even length, no prefix, no spaces) into out.
 * Returns 0 and sets *out_len, CAIRN_EHEX for a non-hex digit or odd length, CAIRN_ETOOBIG when
 * the result would not fit in out_cap. On error out's contents are unspecified.
 */
CAIRN_MUST_CHECK int cairn_hex_decode(uint8_t *out, size_t out_cap, size_t *out_len,
                                      const char *hex, size_t hex_len);

/* Strict decimal u64: digits only (no sign, space or prefix), no overflow. CAIRN_ENUMBER otherwise.
 */
CAIRN_MUST_CHECK int cairn_parse_u64(const char *s, uint64_t *out);

/* Decodes exactly n bytes; any other length is CAIRN_EHEX. */
CAIRN_MUST_CHECK int cairn_hex_decode_exact(uint8_t *out, size_t n, const char *hex);

#endif
