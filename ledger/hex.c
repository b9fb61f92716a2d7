#include "ledger/hex.h"

#include <string.h>

void cairn_hex_encode(char *out, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cairn_hex_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *hex, size_t hex_len)
{
    if (hex_len % 2 != 0) return CAIRN_EHEX;
    if (hex_len / 2 > out_cap) return CAIRN_ETOOBIG;
    for (size_t i = 0; i < hex_len / 2; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return CAIRN_EHEX;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = hex_len / 2;
    return 0;
}

int cairn_hex_decode_exact(uint8_t *out, size_t n, const char *hex)
{
    size_t len = strlen(hex), got;
    if (len != 2 * n) return CAIRN_EHEX;
    return cairn_hex_decode(out, n, &got, hex, len);
}

int cairn_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 20) return CAIRN_ENUMBER;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return CAIRN_ENUMBER;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return CAIRN_ENUMBER;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
