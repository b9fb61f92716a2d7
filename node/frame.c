/*
 * frame.c — length-prefixed, Noise-sealed frames and their incremental decoder.
 */
#include "node/frame.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_CT_MAX CAIRN_NOISE_MSG_MAX     /* 65535: a full chunk */
#define CHUNK_PT_MAX CAIRN_NOISE_PAYLOAD_MAX /* 65519: its plaintext */
#define FIRST_ALLOC  65536u

size_t cairn_frame_sealed_len(size_t pt_len)
{
    size_t n = pt_len == 0 ? 1 : (pt_len - 1) / CHUNK_PT_MAX + 1;
    if (pt_len > SIZE_MAX - n * CAIRN_NOISE_TAG_LEN) return SIZE_MAX;
    return pt_len + n * CAIRN_NOISE_TAG_LEN;
}

size_t cairn_frame_plaintext_max(void)
{
    size_t n = (CAIRN_FRAME_MAX + CHUNK_CT_MAX - 1) / CHUNK_CT_MAX;
    size_t last = CAIRN_FRAME_MAX - (n - 1) * CHUNK_CT_MAX;
    /* A last chunk of exactly one tag would be an empty trailing chunk: drop it. */
    if (last == CAIRN_NOISE_TAG_LEN) n--;
    return CAIRN_FRAME_MAX - n * CAIRN_NOISE_TAG_LEN;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int cairn_frame_seal(cairn_noise_transport *t, uint8_t *out, size_t out_cap, size_t *out_len,
                     const uint8_t *pt, size_t pt_len)
{
    if (!t || !out || !out_len || (pt_len && !pt)) return CAIRN_EINVAL;
    *out_len = 0;
    size_t body = cairn_frame_sealed_len(pt_len);
    if (body > CAIRN_FRAME_MAX) return CAIRN_EFRAME_TOO_BIG;
    if (out_cap < CAIRN_FRAME_HEADER_LEN + body) return CAIRN_ENOSPC;

    put_be32(out, (uint32_t)body);
    uint8_t *o = out + CAIRN_FRAME_HEADER_LEN;
    size_t off = 0;
    do {
        size_t n = pt_len - off < CHUNK_PT_MAX ? pt_len - off : CHUNK_PT_MAX;
        int rc = cairn_noise_encrypt(t, o, n + CAIRN_NOISE_TAG_LEN, out, CAIRN_FRAME_HEADER_LEN,
                                     pt ? pt + off : NULL, n);
        if (rc) return rc;
        o += n + CAIRN_NOISE_TAG_LEN;
        off += n;
    } while (off < pt_len);
    *out_len = CAIRN_FRAME_HEADER_LEN + body;
    return 0;
}

int cairn_frame_open(cairn_noise_transport *t, uint8_t *out, size_t out_cap, size_t *out_len,
                     const uint8_t *body, size_t body_len)
{
    uint8_t hdr[CAIRN_FRAME_HEADER_LEN];
    int rc = 0;

    if (!t || !out_len || (body_len && !body) || (out_cap && !out)) return CAIRN_EINVAL;
    *out_len = 0;
    if (t->failed || !t->recv.has_key) return CAIRN_ENOISE_STATE;
    if (body_len > CAIRN_FRAME_MAX) {
        rc = CAIRN_EFRAME_TOO_BIG;
        goto fail;
    }
    size_t n = body_len == 0 ? 1 : (body_len - 1) / CHUNK_CT_MAX + 1;
    size_t last = body_len - (n - 1) * CHUNK_CT_MAX;
    if (last < CAIRN_NOISE_TAG_LEN || (n > 1 && last == CAIRN_NOISE_TAG_LEN)) {
        rc = CAIRN_ENOISE_MESSAGE;
        goto fail;
    }
    size_t pt_len = body_len - n * CAIRN_NOISE_TAG_LEN;
    if (out_cap < pt_len) return CAIRN_ENOSPC;

    put_be32(hdr, (uint32_t)body_len);
    for (size_t i = 0; i < n; i++) {
        size_t ct = i + 1 < n ? CHUNK_CT_MAX : last;
        rc = cairn_noise_decrypt(t, out + i * CHUNK_PT_MAX, ct - CAIRN_NOISE_TAG_LEN, hdr,
                                 sizeof hdr, body + i * CHUNK_CT_MAX, ct);
        if (rc) {
            /* t is already poisoned; do not leave earlier chunks' plaintext behind. */
            memset(out, 0, pt_len);
            return rc;
        }
    }
    *out_len = pt_len;
    return 0;
fail:
    cairn_noise_transport_wipe(t);
    t->failed = 1;
    return rc;
}

void cairn_frame_decoder_init(cairn_frame_decoder *d, size_t max)
{
    memset(d, 0, sizeof *d);
    d->max = (max == 0 || max > CAIRN_FRAME_MAX) ? CAIRN_FRAME_MAX : max;
}

int cairn_frame_decoder_feed(cairn_frame_decoder *d, const uint8_t *in, size_t in_len,
                             size_t *consumed, cairn_frame *frame)
{
    size_t used = 0;

    if (!d || !consumed || !frame || (in_len && !in)) return CAIRN_EINVAL;
    *consumed = 0;
    memset(frame, 0, sizeof *frame);
    if (d->error) return d->error;

    /* Header. */
    while (d->hdr_have < CAIRN_FRAME_HEADER_LEN && used < in_len)
        d->hdr[d->hdr_have++] = in[used++];
    if (d->hdr_have < CAIRN_FRAME_HEADER_LEN) {
        *consumed = used;
        return 0;
    }
    if (d->buf == NULL && d->have == 0) {
        size_t len = ((size_t)d->hdr[0] << 24) | ((size_t)d->hdr[1] << 16) |
                     ((size_t)d->hdr[2] << 8) | d->hdr[3];
        if (len > d->max) {
            d->error = CAIRN_EFRAME_TOO_BIG;
            *consumed = used;
            return d->error;
        }
        d->len = len;
    }

    /* Body: grow the buffer as bytes arrive (at least FIRST_ALLOC, doubling, at most len). */
    size_t take = in_len - used < d->len - d->have ? in_len - used : d->len - d->have;
    if (take > 0 && d->have + take > d->cap) {
        size_t cap = d->cap ? d->cap : FIRST_ALLOC;
        while (cap < d->have + take) cap *= 2;
        if (cap > d->len) cap = d->len;
        uint8_t *nb = realloc(d->buf, cap);
        if (!nb) {
            d->error = CAIRN_ENOMEM;
            *consumed = used;
            return d->error;
        }
        d->buf = nb;
        d->cap = cap;
    }
    if (take > 0) memcpy(d->buf + d->have, in + used, take);
    d->have += take;
    used += take;
    *consumed = used;

    if (d->have == d->len) {
        frame->data = d->buf;
        frame->len = d->len;
        frame->complete = 1;
        d->buf = NULL;
        d->cap = d->have = d->len = 0;
        d->hdr_have = 0;
    }
    return 0;
}

size_t cairn_frame_decoder_pending(const cairn_frame_decoder *d)
{
    return d ? d->hdr_have + d->have : 0;
}

void cairn_frame_decoder_free(cairn_frame_decoder *d)
{
    if (!d) return;
    free(d->buf);
    d->buf = NULL;
    d->cap = d->have = d->len = 0;
    d->hdr_have = 0;
}
