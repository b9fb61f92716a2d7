/* The frame decoder fed arbitrary chunks (as TCP delivers them): never reads or writes out of
 * bounds, never yields a frame above its limit, and yields exactly the frames a naive parser of the
 * concatenated stream finds, stopping with EFRAME_TOO_BIG where that parser finds an oversize
 * header. Input: byte 0 picks the limit, then (chunk length byte, chunk bytes)*. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const size_t limits[4] = {0, 1, 16, 300};
    size_t max = limits[data[0] & 3];
    if (max == 0) max = CAIRN_FRAME_MAX;
    data++;
    size_t len = size - 1;

    /* The byte stream the chunks deliver, in order. */
    uint8_t *stream = malloc(len + 1);
    size_t slen = 0;
    for (size_t i = 0; i < len;) {
        size_t c = data[i++];
        if (c > len - i) c = len - i;
        memcpy(stream + slen, data + i, c);
        slen += c;
        i += c;
    }

    cairn_frame_decoder d;
    cairn_frame_decoder_init(&d, data[-1] & 3 ? max : 0);
    size_t ref = 0; /* the naive parser's position in stream */
    int failed = 0;
    size_t delivered = 0;
    for (size_t i = 0; i < len && !failed;) {
        size_t c = data[i++];
        if (c > len - i) c = len - i;
        const uint8_t *p = data + i;
        size_t rem = c;
        i += c;
        do {
            size_t used;
            cairn_frame f;
            int rc = cairn_frame_decoder_feed(&d, p, rem, &used, &f);
            if (used > rem) abort();
            p += used;
            rem -= used;
            delivered += used;
            if (rc) {
                /* The naive parser must see an oversize header ending exactly here. */
                if (rc != CAIRN_EFRAME_TOO_BIG || slen - ref < 4 || delivered != ref + 4) abort();
                size_t l = (size_t)stream[ref] << 24 | (size_t)stream[ref + 1] << 16 |
                           (size_t)stream[ref + 2] << 8 | stream[ref + 3];
                if (l <= max || d.buf != NULL) abort();
                failed = 1;
                break;
            }
            if (f.complete) {
                if (f.len > max || slen - ref < 4) abort();
                size_t l = (size_t)stream[ref] << 24 | (size_t)stream[ref + 1] << 16 |
                           (size_t)stream[ref + 2] << 8 | stream[ref + 3];
                if (l != f.len || delivered != ref + 4 + l) abort();
                if (l && memcmp(f.data, stream + ref + 4, l) != 0) abort();
                if (!l && f.data) abort();
                ref += 4 + l;
                free(f.data);
            } else if (rem != 0) {
                abort();
            }
        } while (rem > 0);
    }
    if (!failed && cairn_frame_decoder_pending(&d) != delivered - ref) abort();
    cairn_frame_decoder_free(&d);
    free(stream);
    return 0;
}
