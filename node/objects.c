#include "node/objects.h"

#include <stdlib.h>
#include <string.h>

#include "consensus/wire.h"
#include "ledger/bytes.h"
#include "ledger/chain.h"
#include "ledger/codec.h"
#include "ledger/hash.h"

void cairn_batch_digest(const ProtobufCBinaryData *txs, size_t n, uint8_t out[32])
{
    static const char tag[] = "CAIRN-BATCH-V1"; /* with its NUL, as cairn_buf_tag writes it */
    cairn_sha256 h;
    uint8_t hdr[4];
    cairn_sha256_init(&h);
    cairn_sha256_update(&h, tag, sizeof tag);
    cairn_put_u32be(hdr, (uint32_t)n);
    cairn_sha256_update(&h, hdr, 4);
    for (size_t i = 0; i < n; i++) {
        cairn_put_u32be(hdr, (uint32_t)txs[i].len);
        cairn_sha256_update(&h, hdr, 4);
        cairn_sha256_update(&h, txs[i].data, txs[i].len);
    }
    cairn_sha256_final(&h, out);
}

void cairn_payload_digest(uint64_t time_ms, const uint8_t (*batches)[32], size_t n, uint8_t out[32])
{
    static const char tag[] = "CAIRN-BODY-V1"; /* with its NUL, as cairn_buf_tag writes it */
    cairn_sha256 h;
    uint8_t hdr[8];
    cairn_sha256_init(&h);
    cairn_sha256_update(&h, tag, sizeof tag);
    cairn_put_u64be(hdr, time_ms);
    cairn_sha256_update(&h, hdr, 8);
    cairn_put_u32be(hdr, (uint32_t)n);
    cairn_sha256_update(&h, hdr, 4);
    for (size_t i = 0; i < n; i++) cairn_sha256_update(&h, batches[i], 32);
    cairn_sha256_final(&h, out);
}

static int pack(const Cairn__V1__ConsensusEnvelope *e, uint8_t **out, size_t *len)
{
    size_t n = cairn__v1__consensus_envelope__get_packed_size(e);
    uint8_t *p = malloc(n ? n : 1);
    if (!p) return CAIRN_ENOMEM;
    cairn__v1__consensus_envelope__pack(e, p);
    *out = p;
    *len = n;
    return 0;
}

static int unpack(const uint8_t *p, size_t len, int kind, Cairn__V1__ConsensusEnvelope **out)
{
    *out = NULL;
    ProtobufCMessage *m;
    int err = cairn_pb_decode(&cairn__v1__consensus_envelope__descriptor, p, len,
                              CAIRN_WIRE_MAX_BYTES, &m);
    if (err) return err == CAIRN_ENOMEM ? err : CAIRN_ECONS_WIRE_DECODE;
    Cairn__V1__ConsensusEnvelope *e = (Cairn__V1__ConsensusEnvelope *)m;
    if ((int)e->msg_case != kind) {
        protobuf_c_message_free_unpacked(m, NULL);
        return CAIRN_ECONS_WIRE_KIND;
    }
    *out = e;
    return 0;
}

int cairn_batch_encode(const cairn_log_leaf *txs, size_t n, uint8_t **out, size_t *len,
                       uint8_t digest[32])
{
    if (n == 0 || n > CAIRN_BLOCK_MAX_TXS) return CAIRN_EINVAL;
    ProtobufCBinaryData *b = malloc(n * sizeof *b);
    if (!b) return CAIRN_ENOMEM;
    for (size_t i = 0; i < n; i++) b[i] = (ProtobufCBinaryData){txs[i].len, (uint8_t *)txs[i].data};
    cairn_batch_digest(b, n, digest);
    Cairn__V1__TxBatch tb = CAIRN__V1__TX_BATCH__INIT;
    tb.n_txs = n;
    tb.txs = b;
    tb.digest = (ProtobufCBinaryData){32, digest};
    Cairn__V1__ConsensusEnvelope e = CAIRN__V1__CONSENSUS_ENVELOPE__INIT;
    e.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_BATCH;
    e.batch = &tb;
    int err = pack(&e, out, len);
    free(b);
    return err;
}

int cairn_batch_decode(const uint8_t *p, size_t len, Cairn__V1__ConsensusEnvelope **out,
                       uint8_t digest[32])
{
    *out = NULL;
    Cairn__V1__ConsensusEnvelope *e;
    int err = unpack(p, len, CAIRN__V1__CONSENSUS_ENVELOPE__MSG_BATCH, &e);
    if (err) return err;
    const Cairn__V1__TxBatch *tb = e->batch;
    if (tb->digest.len != 32)
        err = CAIRN_ECONS_WIRE_ID_LEN;
    else if (tb->n_txs == 0 || tb->n_txs > CAIRN_BLOCK_MAX_TXS)
        err = CAIRN_ECONS_BATCH;
    else {
        cairn_batch_digest(tb->txs, tb->n_txs, digest);
        if (memcmp(digest, tb->digest.data, 32) != 0) err = CAIRN_ECONS_BATCH;
    }
    if (err) {
        protobuf_c_message_free_unpacked(&e->base, NULL);
        return err;
    }
    *out = e;
    return 0;
}

int cairn_payload_encode(uint64_t time_ms, const uint8_t (*batches)[32], size_t n, uint8_t **out,
                         size_t *len, uint8_t digest[32])
{
    if (n == 0 || n > CAIRN_BLOCK_MAX_TXS) return CAIRN_EINVAL;
    ProtobufCBinaryData *d = malloc(n * sizeof *d);
    if (!d) return CAIRN_ENOMEM;
    for (size_t i = 0; i < n; i++) d[i] = (ProtobufCBinaryData){32, (uint8_t *)batches[i]};
    Cairn__V1__BlockPayload bp = CAIRN__V1__BLOCK_PAYLOAD__INIT;
    bp.time_ms = time_ms;
    bp.n_batch_digests = n;
    bp.batch_digests = d;
    Cairn__V1__ConsensusEnvelope e = CAIRN__V1__CONSENSUS_ENVELOPE__INIT;
    e.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_PAYLOAD;
    e.payload = &bp;
    int err = pack(&e, out, len);
    free(d);
    if (!err) cairn_payload_digest(time_ms, batches, n, digest);
    return err;
}

int cairn_payload_decode(const uint8_t *p, size_t len, uint64_t *time_ms, uint8_t (**batches)[32],
                         uint32_t *n, uint8_t digest[32])
{
    *batches = NULL;
    *n = 0;
    Cairn__V1__ConsensusEnvelope *e;
    int err = unpack(p, len, CAIRN__V1__CONSENSUS_ENVELOPE__MSG_PAYLOAD, &e);
    if (err) return err;
    const Cairn__V1__BlockPayload *bp = e->payload;
    uint8_t(*d)[32] = NULL;
    if (bp->n_batch_digests == 0 || bp->n_batch_digests > CAIRN_BLOCK_MAX_TXS)
        err = CAIRN_ECONS_BATCH;
    else if (!(d = malloc(bp->n_batch_digests * 32)))
        err = CAIRN_ENOMEM;
    for (size_t i = 0; !err && i < bp->n_batch_digests; i++) {
        if (bp->batch_digests[i].len != 32)
            err = CAIRN_ECONS_WIRE_ID_LEN;
        else
            memcpy(d[i], bp->batch_digests[i].data, 32);
    }
    if (!err) {
        *time_ms = bp->time_ms;
        *n = (uint32_t)bp->n_batch_digests;
        cairn_payload_digest(*time_ms, (const uint8_t(*)[32])d, *n, digest);
        *batches = d;
    } else {
        free(d);
    }
    protobuf_c_message_free_unpacked(&e->base, NULL);
    return err;
}

int cairn_commit_vote_encode(const cairn_commit_vote *v, uint8_t **out, size_t *len)
{
    Cairn__V1__CommitVote cv = CAIRN__V1__COMMIT_VOTE__INIT;
    cv.height = v->height;
    cv.block_hash = (ProtobufCBinaryData){32, (uint8_t *)v->block_hash};
    cv.validator_index = v->validator;
    cv.signature = (ProtobufCBinaryData){64, (uint8_t *)v->sig};
    Cairn__V1__ConsensusEnvelope e = CAIRN__V1__CONSENSUS_ENVELOPE__INIT;
    e.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_COMMIT_VOTE;
    e.commit_vote = &cv;
    return pack(&e, out, len);
}

int cairn_commit_vote_decode(const uint8_t *p, size_t len, cairn_commit_vote *v)
{
    memset(v, 0, sizeof *v);
    Cairn__V1__ConsensusEnvelope *e;
    int err = unpack(p, len, CAIRN__V1__CONSENSUS_ENVELOPE__MSG_COMMIT_VOTE, &e);
    if (err) return err;
    const Cairn__V1__CommitVote *cv = e->commit_vote;
    if (cv->block_hash.len != 32 || cv->signature.len != 64) {
        err = CAIRN_ECONS_MALFORMED;
    } else {
        v->height = cv->height;
        memcpy(v->block_hash, cv->block_hash.data, 32);
        v->validator = cv->validator_index;
        memcpy(v->sig, cv->signature.data, 64);
    }
    protobuf_c_message_free_unpacked(&e->base, NULL);
    return err;
}

int cairn_object_request_encode(const uint8_t (*digests)[32], size_t n, uint8_t **out, size_t *len)
{
    ProtobufCBinaryData *d = malloc((n ? n : 1) * sizeof *d);
    if (!d) return CAIRN_ENOMEM;
    for (size_t i = 0; i < n; i++) d[i] = (ProtobufCBinaryData){32, (uint8_t *)digests[i]};
    Cairn__V1__BatchRequest req = CAIRN__V1__BATCH_REQUEST__INIT;
    req.n_digests = n;
    req.digests = d;
    Cairn__V1__ConsensusEnvelope e = CAIRN__V1__CONSENSUS_ENVELOPE__INIT;
    e.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_BATCH_REQUEST;
    e.batch_request = &req;
    int err = pack(&e, out, len);
    free(d);
    return err;
}

int cairn_commit_vote_request_encode(uint64_t height, uint8_t **out, size_t *len)
{
    Cairn__V1__CommitVoteRequest rq = CAIRN__V1__COMMIT_VOTE_REQUEST__INIT;
    rq.height = height;
    Cairn__V1__ConsensusEnvelope e = CAIRN__V1__CONSENSUS_ENVELOPE__INIT;
    e.msg_case = CAIRN__V1__CONSENSUS_ENVELOPE__MSG_COMMIT_VOTE_REQUEST;
    e.commit_vote_request = &rq;
    return pack(&e, out, len);
}

int cairn_commit_vote_request_decode(const uint8_t *p, size_t len, uint64_t *height)
{
    *height = 0;
    Cairn__V1__ConsensusEnvelope *e;
    int err = unpack(p, len, CAIRN__V1__CONSENSUS_ENVELOPE__MSG_COMMIT_VOTE_REQUEST, &e);
    if (err) return err;
    if (e->commit_vote_request->height == 0)
        err = CAIRN_ECONS_MALFORMED;
    else
        *height = e->commit_vote_request->height;
    protobuf_c_message_free_unpacked(&e->base, NULL);
    return err;
}
