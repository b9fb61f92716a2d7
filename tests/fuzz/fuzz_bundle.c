/*
 * The offline verifier against forgeries. At start-up a real chain (tests/unit/ledger_fixture.h)
 * produces a valid bundle B for a known genesis. Each input then either is a bundle itself
 * (first byte 0: raw bytes or, if it starts with '{', JSON) or edits B (first byte 1: byte
 * flips at offsets; 2: a splice of the input into B). Whatever cairn_bundle_verify accepts must
 * prove exactly what B proves (same digest, anchor, device record, checkpoint): the verifier
 * never accepts a forgery, and never crashes on anything.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/bundle.h"
#include "ledger_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lfx_world world;
static cairn_buf bundle = CAIRN_BUF_INIT;
static cairn_bundle_summary want;

static void cleanup(void)
{
    cairn_buf_free(&bundle);
    lfx_close(world.f); /* removes the temporary store */
}

static void init(void)
{
    if (bundle.len) return;
    lfx_world_build(&world, 1);
    atexit(cleanup);
    cairn_txn *t;
    if (cairn_store_read_begin(world.f->s, &t) ||
        cairn_bundle_build(world.f->c, t, world.digest, 32, &bundle))
        abort();
    cairn_txn_abort(t);
    char why[128];
    if (cairn_bundle_verify(world.f->sig, world.f->g, bundle.p, bundle.len, &want, why, sizeof why))
        abort();
}

static void check(const uint8_t *b, size_t len)
{
    cairn_bundle_summary got;
    char why[128];
    if (cairn_bundle_verify(world.f->sig, world.f->g, b, len, &got, why, sizeof why) != 0) return;
    if (memcmp(got.block_hash, want.block_hash, 32) != 0 || got.log_index != want.log_index ||
        got.data_digest_len != want.data_digest_len ||
        memcmp(got.data_digest, want.data_digest, want.data_digest_len) != 0 ||
        memcmp(&got.device, &want.device, sizeof got.device) != 0 ||
        memcmp(&got.owner, &want.owner, sizeof got.owner) != 0 ||
        got.has_release != want.has_release || got.attestation_height != want.attestation_height)
        abort(); /* accepted something that proves something else */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (size < 1) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        if (n > 0 && p[0] == '{') {
            cairn_buf b = CAIRN_BUF_INIT;
            if (cairn_bundle_from_json((const char *)p, n, &b) == 0) check(b.p, b.len);
            cairn_buf_free(&b);
        } else {
            check(p, n);
        }
        break;
    case 1: { /* (u16 offset, u8 xor) edits of the valid bundle */
        uint8_t *b = malloc(bundle.len);
        memcpy(b, bundle.p, bundle.len);
        for (size_t i = 0; i + 3 <= n; i += 3)
            b[((size_t)p[i] << 8 | p[i + 1]) % bundle.len] ^= p[i + 2];
        check(b, bundle.len);
        free(b);
        break;
    }
    default: { /* replace bundle[off, off + cut) by the rest of the input */
        if (n < 4) break;
        size_t off = ((size_t)p[0] << 8 | p[1]) % (bundle.len + 1);
        size_t cut = ((size_t)p[2] << 8 | p[3]) % (bundle.len - off + 1);
        size_t ins = n - 4, len = bundle.len - cut + ins;
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, bundle.p, off);
        memcpy(b + off, p + 4, ins);
        memcpy(b + off + ins, bundle.p + off + cut, bundle.len - off - cut);
        check(b, len);
        free(b);
        break;
    }
    }
    return 0;
}
