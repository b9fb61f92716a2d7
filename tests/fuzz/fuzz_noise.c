/* Noise handshakes fed arbitrary messages never crash and never complete with garbage:
 *   mode 0: an IK responder (Cairn's validator handshake) reads an arbitrary first message;
 *   mode 1: it reads a genuine first message XOR a fuzzer-chosen difference (succeeds only when
 *           the difference is all zero);
 *   mode 2: an IK initiator reads an arbitrary reply;
 *   mode 3: an XX responder reads an arbitrary first message (which XX cannot authenticate),
 *           replies, then reads an arbitrary third message, which must fail.
 *   mode 4: after a genuine IK handshake, the responder opens an arbitrary frame body, which
 *           must fail and leave its transport refusing everything;
 * After any failure the state refuses every further call. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/frame.h"
#include "node/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t is[32], rsk[32], ie[32], re[32], rp[32], ip[32];

static void keys(void)
{
    static int done;
    if (done) return;
    if (sodium_init() < 0) abort();
    for (int i = 0; i < 32; i++) {
        is[i] = (uint8_t)(1 + i);
        rsk[i] = (uint8_t)(101 + i);
        ie[i] = (uint8_t)(51 + i);
        re[i] = (uint8_t)(151 + i);
    }
    crypto_scalarmult_base(rp, rsk);
    crypto_scalarmult_base(ip, is);
    done = 1;
}

static const uint8_t PROLOGUE[] = "cairn/1 fuzz";

/* The state must be failed and refuse everything. */
static void check_dead(cairn_noise_handshake *hs, const uint8_t *msg, size_t len)
{
    uint8_t out[256], rs[32];
    size_t n;
    cairn_noise_transport t;
    if (cairn_noise_next_step(hs) != CAIRN_NOISE_STEP_FAILED) abort();
    if (cairn_noise_read_message(hs, out, sizeof out, &n, msg, len) != CAIRN_ENOISE_STATE) abort();
    if (cairn_noise_write_message(hs, out, sizeof out, &n, NULL, 0) != CAIRN_ENOISE_STATE) abort();
    if (cairn_noise_remote_static(hs, rs) != CAIRN_ENOISE_STATE) abort();
    if (cairn_noise_split(hs, &t) != CAIRN_ENOISE_STATE) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    keys();
    int mode = data[0] % 5;
    data++;
    size--;
    static uint8_t payload[CAIRN_NOISE_MSG_MAX + 16];
    uint8_t m[256];
    size_t n, pn;
    cairn_noise_handshake i, r;
    int rc;

    switch (mode) {
    case 0:
        if (cairn_noise_validator_init(&r, 0, rsk, NULL, PROLOGUE, sizeof PROLOGUE, re)) abort();
        rc = cairn_noise_read_message(&r, payload, sizeof payload, &pn, data, size);
        if (rc == 0) abort(); /* would need es and ss with keys the fuzzer does not have */
        check_dead(&r, data, size);
        break;
    case 1: {
        if (cairn_noise_validator_init(&i, 1, is, rp, PROLOGUE, sizeof PROLOGUE, ie)) abort();
        if (cairn_noise_validator_init(&r, 0, rsk, NULL, PROLOGUE, sizeof PROLOGUE, re)) abort();
        if (cairn_noise_write_message(&i, m, sizeof m, &n, (const uint8_t *)"p", 1)) abort();
        int zero = 1;
        for (size_t k = 0; k < size && k < n; k++) {
            m[k] ^= data[k];
            zero &= data[k] == 0;
        }
        size_t len = n;
        if (size > n) len = n - (size - n) % (n + 1); /* longer inputs also truncate */
        if (len != n) zero = 0;
        rc = cairn_noise_read_message(&r, payload, sizeof payload, &pn, m, len);
        if (zero != (rc == 0)) abort();
        if (rc)
            check_dead(&r, m, len);
        else if (pn != 1 || payload[0] != 'p')
            abort();
        break;
    }
    case 2:
        if (cairn_noise_validator_init(&i, 1, is, rp, PROLOGUE, sizeof PROLOGUE, ie)) abort();
        if (cairn_noise_write_message(&i, m, sizeof m, &n, NULL, 0)) abort();
        rc = cairn_noise_read_message(&i, payload, sizeof payload, &pn, data, size);
        if (rc == 0) abort();
        check_dead(&i, data, size);
        break;
    case 4: {
        cairn_noise_transport ti, tr;
        if (cairn_noise_validator_init(&i, 1, is, rp, PROLOGUE, sizeof PROLOGUE, ie)) abort();
        if (cairn_noise_validator_init(&r, 0, rsk, NULL, PROLOGUE, sizeof PROLOGUE, re)) abort();
        if (cairn_noise_write_message(&i, m, sizeof m, &n, NULL, 0)) abort();
        if (cairn_noise_read_message(&r, payload, sizeof payload, &pn, m, n)) abort();
        if (cairn_noise_write_message(&r, m, sizeof m, &n, NULL, 0)) abort();
        if (cairn_noise_read_message(&i, payload, sizeof payload, &pn, m, n)) abort();
        if (cairn_noise_split(&i, &ti) || cairn_noise_split(&r, &tr)) abort();
        rc = cairn_frame_open(&tr, payload, sizeof payload, &pn, data, size);
        if (rc == 0) abort();
        if (rc != CAIRN_ENOSPC && !tr.failed) abort();
        if (rc != CAIRN_ENOSPC &&
            cairn_frame_open(&tr, payload, sizeof payload, &pn, data, size) != CAIRN_ENOISE_STATE)
            abort();
        cairn_noise_transport_wipe(&ti);
        cairn_noise_transport_wipe(&tr);
        break;
    }
    default: {
        cairn_noise_config c = {.protocol_name = "Noise_XX_25519_ChaChaPoly_BLAKE2b",
                                .static_private = rsk,
                                .ephemeral_private = re};
        if (cairn_noise_init(&r, &c)) abort();
        size_t first = size ? data[0] : 0;
        if (first > size - (size ? 1 : 0)) first = size ? size - 1 : 0;
        const uint8_t *m1 = data + (size ? 1 : 0);
        rc = cairn_noise_read_message(&r, payload, sizeof payload, &pn, m1, first);
        if (rc) {
            check_dead(&r, m1, first);
            break;
        }
        rc = cairn_noise_write_message(&r, m, sizeof m, &n, NULL, 0);
        if (rc) {
            /* Only a low-order ephemeral from the peer can make the reply fail. */
            if (rc != CAIRN_ENOISE_DH) abort();
            check_dead(&r, m1, first);
            break;
        }
        const uint8_t *m3 = m1 + first;
        size_t len3 = size - (size ? 1 : 0) - first;
        rc = cairn_noise_read_message(&r, payload, sizeof payload, &pn, m3, len3);
        if (rc == 0) abort();
        check_dead(&r, m3, len3);
        break;
    }
    }
    cairn_noise_handshake_wipe(&i);
    cairn_noise_handshake_wipe(&r);
    return 0;
}
