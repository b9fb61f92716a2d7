/*
 * Peer-link framing: seal/open across chunk boundaries and at the size limit, the incremental
 * decoder fed every split of a stream (zero-length, small, exactly-max and over-max frames),
 * tampered frames, and the limit checked before allocation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>

#include "node/frame.h"
#include "test_util.h"

/* A fresh pair of transports from an IK handshake (fixed keys). */
static void transports(cairn_noise_transport *ti, cairn_noise_transport *tr)
{
    uint8_t is[32], rsk[32], rp[32], m[256], p[256];
    size_t n, pn;
    cairn_noise_handshake i, r;
    for (int j = 0; j < 32; j++) {
        is[j] = (uint8_t)(3 + j);
        rsk[j] = (uint8_t)(90 + j);
    }
    crypto_scalarmult_base(rp, rsk);
    assert_int_equal(cairn_noise_validator_init(&i, 1, is, rp, NULL, 0, NULL), 0);
    assert_int_equal(cairn_noise_validator_init(&r, 0, rsk, NULL, NULL, 0, NULL), 0);
    assert_int_equal(cairn_noise_write_message(&i, m, sizeof m, &n, NULL, 0), 0);
    assert_int_equal(cairn_noise_read_message(&r, p, sizeof p, &pn, m, n), 0);
    assert_int_equal(cairn_noise_write_message(&r, m, sizeof m, &n, NULL, 0), 0);
    assert_int_equal(cairn_noise_read_message(&i, p, sizeof p, &pn, m, n), 0);
    assert_int_equal(cairn_noise_split(&i, ti), 0);
    assert_int_equal(cairn_noise_split(&r, tr), 0);
}

static void fill(uint8_t *b, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)((i * 2654435761u + seed) >> 13);
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(cairn_frame_sealed_len(0), 16);
    assert_int_equal(cairn_frame_sealed_len(1), 17);
    assert_int_equal(cairn_frame_sealed_len(65519), 65535);
    assert_int_equal(cairn_frame_sealed_len(65520), 65520 + 32);
    assert_int_equal(cairn_frame_plaintext_max(), 4193264);
    assert_int_equal(cairn_frame_sealed_len(cairn_frame_plaintext_max()), CAIRN_FRAME_MAX);
    assert_true(cairn_frame_sealed_len(cairn_frame_plaintext_max() + 1) > CAIRN_FRAME_MAX);
}

static void test_seal_open(void **state)
{
    (void)state;
    cairn_noise_transport ti, tr;
    transports(&ti, &tr);
    size_t maxpt = cairn_frame_plaintext_max();
    uint8_t *pt = malloc(maxpt + 1), *frame = malloc(CAIRN_FRAME_MAX + 64), *out = malloc(maxpt);
    assert_non_null(pt);
    assert_non_null(frame);
    assert_non_null(out);
    fill(pt, maxpt + 1, 7);
    memset(frame, 0, CAIRN_FRAME_MAX + 64);

    const size_t sizes[] = {0, 1, 100, 65518, 65519, 65520, 2 * 65519, 2 * 65519 + 1, maxpt};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t len, olen;
        assert_int_equal(cairn_frame_seal(&ti, frame, CAIRN_FRAME_MAX + 64, &len, pt, sizes[s]), 0);
        size_t body = cairn_frame_sealed_len(sizes[s]);
        assert_int_equal(len, 4 + body);
        assert_int_equal(
            ((size_t)frame[0] << 24 | (size_t)frame[1] << 16 | (size_t)frame[2] << 8 | frame[3]),
            body);
        assert_int_equal(cairn_frame_open(&tr, out, maxpt, &olen, frame + 4, body), 0);
        assert_int_equal(olen, sizes[s]);
        if (sizes[s]) assert_memory_equal(out, pt, sizes[s]);
    }
    size_t len;
    assert_int_equal(cairn_frame_seal(&ti, frame, CAIRN_FRAME_MAX + 64, &len, pt, maxpt + 1),
                     CAIRN_EFRAME_TOO_BIG);
    assert_int_equal(cairn_frame_seal(&ti, frame, 4 + 16 + 9, &len, pt, 10), CAIRN_ENOSPC);

    /* Tampering with any byte of a two-chunk frame, including its header, is caught. */
    size_t n = 65519 + 10, body = cairn_frame_sealed_len(n);
    const size_t positions[] = {0, 1, 2, 3, 4, 100, 4 + 65534, 4 + 65535, 4 + body - 1};
    for (size_t k = 0; k < sizeof positions / sizeof positions[0]; k++) {
        cairn_noise_transport a = ti, b = tr;
        size_t olen;
        assert_int_equal(cairn_frame_seal(&a, frame, CAIRN_FRAME_MAX + 64, &len, pt, n), 0);
        frame[positions[k]] ^= 0x20;
        /* A changed header changes the body length the receiver takes as well. */
        size_t l =
            (size_t)frame[0] << 24 | (size_t)frame[1] << 16 | (size_t)frame[2] << 8 | frame[3];
        int rc = cairn_frame_open(&b, out, maxpt, &olen, frame + 4, l);
        assert_true(rc == CAIRN_ENOISE_DECRYPT || rc == CAIRN_ENOISE_MESSAGE ||
                    (positions[k] < 4 && rc == CAIRN_EFRAME_TOO_BIG));
        assert_int_equal(cairn_frame_open(&b, out, maxpt, &olen, frame + 4, body),
                         CAIRN_ENOISE_STATE);
    }
    /* A header rewritten to match a truncated body fails authentication (bound as AD). */
    {
        cairn_noise_transport a = ti, b = tr;
        size_t olen;
        assert_int_equal(cairn_frame_seal(&a, frame, CAIRN_FRAME_MAX + 64, &len, pt, 100), 0);
        assert_int_equal(cairn_frame_open(&b, out, maxpt, &olen, frame + 4, 100 + 15),
                         CAIRN_ENOISE_DECRYPT);
    }
    /* Impossible layouts. */
    {
        cairn_noise_transport b = tr;
        size_t olen;
        assert_int_equal(cairn_frame_open(&b, out, maxpt, &olen, frame + 4, 15),
                         CAIRN_ENOISE_MESSAGE);
        assert_int_equal(b.failed, 1);
        b = tr;
        assert_int_equal(cairn_frame_open(&b, out, maxpt, &olen, frame + 4, 65535 + 16),
                         CAIRN_ENOISE_MESSAGE);
        b = tr;
        assert_int_equal(cairn_frame_open(&b, out, maxpt, &olen, frame + 4, 65535 + 15),
                         CAIRN_ENOISE_MESSAGE);
        b = tr;
        assert_int_equal(cairn_frame_open(&b, out, maxpt, &olen, frame, CAIRN_FRAME_MAX + 1),
                         CAIRN_EFRAME_TOO_BIG);
        b = tr;
        assert_int_equal(cairn_frame_open(&b, out, 9, &olen, frame + 4, 26), CAIRN_ENOSPC);
        assert_int_equal(b.failed, 0);
    }
    free(pt);
    free(frame);
    free(out);
}

/* A stream of frames with bodies of the given lengths (content derived from the index). */
static size_t build_stream(uint8_t *buf, const size_t *lens, size_t n)
{
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t l = (uint32_t)lens[i];
        buf[off++] = (uint8_t)(l >> 24);
        buf[off++] = (uint8_t)(l >> 16);
        buf[off++] = (uint8_t)(l >> 8);
        buf[off++] = (uint8_t)l;
        fill(buf + off, lens[i], (uint32_t)i);
        off += lens[i];
    }
    return off;
}

/* Feeds the pieces [0,a), [a,b), [b,len) and checks every frame comes out intact, in order. */
static void feed_split(cairn_frame_decoder *d, const uint8_t *stream, size_t len, size_t a,
                       size_t b, const size_t *lens, size_t n)
{
    size_t cuts[4] = {0, a, b, len}, got = 0;
    size_t biggest = 1;
    for (size_t i = 0; i < n; i++) biggest = lens[i] > biggest ? lens[i] : biggest;
    uint8_t *expect = malloc(biggest);
    assert_non_null(expect);
    for (int piece = 0; piece < 3; piece++) {
        const uint8_t *p = stream + cuts[piece];
        size_t rem = cuts[piece + 1] - cuts[piece];
        do {
            size_t used;
            cairn_frame f;
            assert_int_equal(cairn_frame_decoder_feed(d, p, rem, &used, &f), 0);
            assert_true(used <= rem);
            p += used;
            rem -= used;
            if (f.complete) {
                assert_true(got < n);
                assert_int_equal(f.len, lens[got]);
                fill(expect, lens[got], (uint32_t)got);
                if (f.len)
                    assert_memory_equal(f.data, expect, f.len);
                else
                    assert_null(f.data);
                free(f.data);
                got++;
            } else {
                assert_int_equal(rem, 0);
            }
        } while (rem > 0);
    }
    assert_int_equal(got, n);
    assert_int_equal(cairn_frame_decoder_pending(d), 0);
    free(expect);
}

static void test_decoder_every_split(void **state)
{
    (void)state;
    const size_t lens[] = {0, 1, 0, 37, 300, 0};
    size_t n = sizeof lens / sizeof lens[0];
    uint8_t stream[1024];
    size_t len = build_stream(stream, lens, n);
    cairn_frame_decoder d;
    cairn_frame_decoder_init(&d, 0);
    /* Every pair of cut points (two splits anywhere, including empty pieces). */
    for (size_t a = 0; a <= len; a++)
        for (size_t b = a; b <= len; b++) feed_split(&d, stream, len, a, b, lens, n);
    /* One byte at a time. */
    size_t got = 0;
    for (size_t i = 0; i < len; i++) {
        size_t used;
        cairn_frame f;
        assert_int_equal(cairn_frame_decoder_feed(&d, stream + i, 1, &used, &f), 0);
        assert_int_equal(used, 1);
        if (f.complete) {
            assert_int_equal(f.len, lens[got++]);
            free(f.data);
        }
    }
    assert_int_equal(got, n);
    /* An empty feed does nothing. */
    size_t used;
    cairn_frame f;
    assert_int_equal(cairn_frame_decoder_feed(&d, NULL, 0, &used, &f), 0);
    assert_false(f.complete);
    cairn_frame_decoder_free(&d);
}

/* A decoder limit: exactly max passes at every split, max + 1 fails on the header alone. */
static void test_decoder_limit(void **state)
{
    (void)state;
    const size_t max = 200;
    const size_t ok[] = {max, 0, max};
    uint8_t stream[1024];
    size_t len = build_stream(stream, ok, 3);
    cairn_frame_decoder d;
    cairn_frame_decoder_init(&d, max);
    for (size_t a = 0; a <= len; a++) feed_split(&d, stream, len, a, a, ok, 3);

    const size_t too_big[] = {max + 1};
    len = build_stream(stream, too_big, 1);
    for (size_t a = 0; a <= 4; a++) {
        cairn_frame_decoder_init(&d, max);
        size_t used;
        cairn_frame f;
        int rc = cairn_frame_decoder_feed(&d, stream, a, &used, &f);
        if (a < 4) {
            assert_int_equal(rc, 0);
            rc = cairn_frame_decoder_feed(&d, stream + a, len - a, &used, &f);
            assert_int_equal(used, 4 - a); /* only the header was consumed */
        } else {
            assert_int_equal(used, 4); /* refused on the header alone */
        }
        assert_int_equal(rc, CAIRN_EFRAME_TOO_BIG);
        assert_null(d.buf); /* nothing was allocated */
        assert_false(f.complete);
        /* Sticky. */
        assert_int_equal(cairn_frame_decoder_feed(&d, stream, len, &used, &f),
                         CAIRN_EFRAME_TOO_BIG);
        assert_int_equal(used, 0);
        cairn_frame_decoder_free(&d);
    }
    /* The hard maximum: 0xffffffff and CAIRN_FRAME_MAX + 1 are refused by a default decoder. */
    const uint8_t huge[2][4] = {{0xff, 0xff, 0xff, 0xff}, {0x00, 0x40, 0x00, 0x01}};
    for (int i = 0; i < 2; i++) {
        cairn_frame_decoder_init(&d, 0);
        size_t used;
        cairn_frame f;
        assert_int_equal(cairn_frame_decoder_feed(&d, huge[i], 4, &used, &f), CAIRN_EFRAME_TOO_BIG);
        assert_null(d.buf);
        cairn_frame_decoder_free(&d);
    }
}

/* A CAIRN_FRAME_MAX body through the default decoder in a few splits; memory grows with input. */
static void test_decoder_max_frame(void **state)
{
    (void)state;
    const size_t lens[] = {CAIRN_FRAME_MAX, 0};
    uint8_t *stream = malloc(CAIRN_FRAME_MAX + 8);
    assert_non_null(stream);
    size_t len = build_stream(stream, lens, 2);
    cairn_frame_decoder d;
    cairn_frame_decoder_init(&d, 0);
    const size_t cuts[] = {0,
                           1,
                           3,
                           4,
                           5,
                           65536,
                           65537,
                           CAIRN_FRAME_MAX / 2,
                           CAIRN_FRAME_MAX + 3,
                           CAIRN_FRAME_MAX + 4,
                           CAIRN_FRAME_MAX + 5,
                           len};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        feed_split(&d, stream, len, cuts[i], cuts[i], lens, 2);

    /* After 100 body bytes of a 4 MiB frame, the buffer is far below 4 MiB. */
    size_t used;
    cairn_frame f;
    assert_int_equal(cairn_frame_decoder_feed(&d, stream, 104, &used, &f), 0);
    assert_true(d.cap <= 65536);
    assert_int_equal(cairn_frame_decoder_pending(&d), 104);
    cairn_frame_decoder_free(&d);
    free(stream);
}

/* Sealed frames through the decoder, delivered in random pieces. */
static void test_sealed_stream(void **state)
{
    (void)state;
    cairn_noise_transport ti, tr;
    transports(&ti, &tr);
    test_rng rng = test_rng_seeded("test_frame sealed stream");
    static uint8_t wire[400000];
    static uint8_t pt[200000], out[200000];
    const size_t sizes[] = {0, 5, 65519, 65520, 150000, 1};
    size_t off = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len;
        fill(pt, sizes[i], (uint32_t)(100 + i));
        assert_int_equal(cairn_frame_seal(&ti, wire + off, sizeof wire - off, &len, pt, sizes[i]),
                         0);
        off += len;
    }
    cairn_frame_decoder d;
    cairn_frame_decoder_init(&d, 0);
    size_t pos = 0, got = 0;
    while (pos < off) {
        size_t chunk = 1 + (size_t)test_rng_below(&rng, 70000);
        if (chunk > off - pos) chunk = off - pos;
        const uint8_t *p = wire + pos;
        size_t rem = chunk;
        while (rem > 0) {
            size_t used, olen;
            cairn_frame f;
            assert_int_equal(cairn_frame_decoder_feed(&d, p, rem, &used, &f), 0);
            p += used;
            rem -= used;
            if (f.complete) {
                assert_int_equal(cairn_frame_open(&tr, out, sizeof out, &olen, f.data, f.len), 0);
                assert_int_equal(olen, sizes[got]);
                fill(pt, sizes[got], (uint32_t)(100 + got));
                if (olen) assert_memory_equal(out, pt, olen);
                free(f.data);
                got++;
            }
        }
        pos += chunk;
    }
    assert_int_equal(got, sizeof sizes / sizeof sizes[0]);
    cairn_frame_decoder_free(&d);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_decoder_every_split),
        cmocka_unit_test(test_decoder_limit),
        cmocka_unit_test(test_decoder_max_frame),
        cmocka_unit_test(test_sealed_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
