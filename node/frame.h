/*
 * frame.h — the wire framing of validator peer links (docs/transport.md).
 *
 *   frame = u32 big-endian L || body[L],  L <= CAIRN_FRAME_MAX
 *   body  = chunk_1 || ... || chunk_n,    chunk_i = Noise transport message (ciphertext || tag)
 *
 * A Noise message is at most 65535 bytes, so the plaintext is cut into pieces of
 * CAIRN_NOISE_PAYLOAD_MAX (65519) bytes, each sealed under the next send nonce with the 4-byte
 * header as associated data; every chunk is therefore 65535 bytes except the last (16 to 65535
 * bytes), and the receiver recovers the boundaries from L alone. An empty plaintext is one 16-byte
 * chunk. L counts ciphertext bytes and is checked against the limit before any allocation.
 *
 * Pure code: no sockets, no clock. The decoder is fed whatever byte chunks TCP delivers and yields
 * complete bodies; it allocates (malloc) only the body of a frame whose length passed the limit,
 * and grows that buffer as bytes arrive, so memory tracks what the peer actually sent.
 */
#ifndef CAIRN_NODE_FRAME_H
#define CAIRN_NODE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "node/noise.h"

#define CAIRN_FRAME_HEADER_LEN 4
#define CAIRN_FRAME_MAX        (4u * 1024u * 1024u) /* body bytes (after the header), 4 MiB */

/* Body length (L) of a frame carrying pt_len plaintext bytes; SIZE_MAX on overflow. */
size_t cairn_frame_sealed_len(size_t pt_len);

/* The largest plaintext whose sealed body fits CAIRN_FRAME_MAX (4,193,264 bytes). */
size_t cairn_frame_plaintext_max(void);

/*
 * Writes header and body for pt[0..pt_len) into out[0..*out_len), using t's send cipher (one nonce
 * per chunk). CAIRN_EFRAME_TOO_BIG when the body would exceed CAIRN_FRAME_MAX; CAIRN_ENOSPC when
 * out_cap < HEADER_LEN + cairn_frame_sealed_len(pt_len); errors of cairn_noise_encrypt otherwise
 * (after a CAIRN_ENOISE_NONCE mid-frame the link must be closed). out must not overlap pt.
 */
CAIRN_MUST_CHECK int cairn_frame_seal(cairn_noise_transport *t, uint8_t *out, size_t out_cap,
                                      size_t *out_len, const uint8_t *pt, size_t pt_len);

/*
 * Opens a frame body (as yielded by the decoder, without its header) into out[0..*out_len) with
 * t's receive cipher. CAIRN_EFRAME_TOO_BIG for body_len > CAIRN_FRAME_MAX; CAIRN_ENOISE_MESSAGE
 * when the chunk layout is impossible (a last chunk shorter than a tag, or an empty trailing
 * chunk); CAIRN_ENOISE_DECRYPT when a chunk fails authentication. Every error except CAIRN_ENOSPC
 * (out_cap < plaintext length) poisons t. out must not overlap body.
 */
CAIRN_MUST_CHECK int cairn_frame_open(cairn_noise_transport *t, uint8_t *out, size_t out_cap,
                                      size_t *out_len, const uint8_t *body, size_t body_len);

/* Incremental decoder state; caller-allocated, owns the partial body buffer. */
typedef struct cairn_frame_decoder {
    uint8_t hdr[CAIRN_FRAME_HEADER_LEN];
    uint8_t hdr_have;
    int error;    /* sticky: once set, every feed returns it */
    size_t max;   /* limit on L */
    uint8_t *buf; /* body being received, malloc'd */
    size_t len;   /* L of the frame being received */
    size_t have;  /* body bytes received */
    size_t cap;   /* allocated size of buf */
} cairn_frame_decoder;

/* A complete frame body. data is malloc'd and owned by the caller (free() it); NULL when len is 0.
 */
typedef struct cairn_frame {
    uint8_t *data;
    size_t len;
    int complete; /* non-zero when a frame was produced by this feed call */
} cairn_frame;

/* Initializes d with a limit of max body bytes (0 or anything above CAIRN_FRAME_MAX means
 * CAIRN_FRAME_MAX). */
void cairn_frame_decoder_init(cairn_frame_decoder *d, size_t max);

/*
 * Consumes bytes from in[0..in_len) up to the end of at most one frame; *consumed says how many.
 * When a frame completes, *frame receives it (complete = 1) and the caller calls again with the
 * rest of the input; otherwise all input was consumed and frame->complete is 0.
 * CAIRN_EFRAME_TOO_BIG when a header announces more than the limit (detected from the header alone,
 * before anything is allocated); CAIRN_ENOMEM. Errors are sticky: the decoder stays failed and the
 * link must be closed.
 */
CAIRN_MUST_CHECK int cairn_frame_decoder_feed(cairn_frame_decoder *d, const uint8_t *in,
                                              size_t in_len, size_t *consumed, cairn_frame *frame);

/* Bytes of the partial frame held by d (header and body), for accounting. */
size_t cairn_frame_decoder_pending(const cairn_frame_decoder *d);

/* Frees the partial body; d may be re-initialized afterwards. */
void cairn_frame_decoder_free(cairn_frame_decoder *d);

#endif
