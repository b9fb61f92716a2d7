/* The decoders of batches, payloads and commit votes (node/objects.h) on arbitrary bytes: never
 * crash or leak; whatever decodes re-encodes to something that decodes to the same values and
 * the same digest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/objects.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t d1[32], d2[32];
    Cairn__V1__ConsensusEnvelope *e;
    if (cairn_batch_decode(data, size, &e, d1) == 0) {
        size_t n = e->batch->n_txs;
        cairn_log_leaf *txs = malloc(n * sizeof *txs);
        if (!txs) abort();
        for (size_t i = 0; i < n; i++)
            txs[i] = (cairn_log_leaf){e->batch->txs[i].data, e->batch->txs[i].len};
        uint8_t *p;
        size_t len;
        if (cairn_batch_encode(txs, n, &p, &len, d2) != 0 || memcmp(d1, d2, 32) != 0) abort();
        Cairn__V1__ConsensusEnvelope *e2;
        if (cairn_batch_decode(p, len, &e2, d2) != 0 || memcmp(d1, d2, 32) != 0 ||
            e2->batch->n_txs != n)
            abort();
        protobuf_c_message_free_unpacked(&e2->base, NULL);
        free(p);
        free(txs);
        protobuf_c_message_free_unpacked(&e->base, NULL);
    }
    uint64_t t, t2;
    uint8_t(*b)[32], (*b2)[32];
    uint32_t n, n2;
    if (cairn_payload_decode(data, size, &t, &b, &n, d1) == 0) {
        uint8_t *p;
        size_t len;
        if (cairn_payload_encode(t, (const uint8_t(*)[32])b, n, &p, &len, d2) != 0 ||
            memcmp(d1, d2, 32) != 0)
            abort();
        if (cairn_payload_decode(p, len, &t2, &b2, &n2, d2) != 0 || t2 != t || n2 != n ||
            memcmp(b, b2, (size_t)n * 32) != 0 || memcmp(d1, d2, 32) != 0)
            abort();
        free(b2);
        free(p);
        free(b);
    }
    cairn_commit_vote v, w;
    if (cairn_commit_vote_decode(data, size, &v) == 0) {
        uint8_t *p;
        size_t len;
        if (cairn_commit_vote_encode(&v, &p, &len) != 0 ||
            cairn_commit_vote_decode(p, len, &w) != 0 || memcmp(&v, &w, sizeof v) != 0)
            abort();
        free(p);
    }
    uint64_t h, h2;
    if (cairn_commit_vote_request_decode(data, size, &h) == 0) {
        uint8_t *p;
        size_t len;
        if (h == 0 || cairn_commit_vote_request_encode(h, &p, &len) != 0 ||
            cairn_commit_vote_request_decode(p, len, &h2) != 0 || h2 != h)
            abort();
        free(p);
    }
    return 0;
}
