#include "ledger/chain.h"

#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec.h"
#include "ledger/lsmidx.h"
#include "ledger/rules.h"
#include "ledger/state.h"
#include "ledger/tx.h"

struct cairn_chain {
    cairn_store *s;
    const cairn_sig_ctx *sig;
    uint8_t genesis_hash[32];
    cairn_genesis g; /* large: the handle lives on the heap */
};

static const char HEAD_KEY[] = "chain.head";
static const char GENESIS_KEY[] = "chain.genesis";
/* The layout of the transaction and anchor indexes; a chain without it predates them. */
static const char INDEX_KEY[] = "chain.index";
static const char INDEX_LAYOUT[] = "lsm-v1";

/* The two hash-keyed indexes (ledger/lsmidx.h, docs/indexes.md): tag = block height. */
static const cairn_lsm_spec TX_INDEX = {.id = 't', .vlen = 20};
static const cairn_lsm_spec ANCHOR_INDEX = {.id = 'a', .vlen = 8};
#define TX_REC     (CAIRN_LSM_KEY_LEN + 20)
#define ANCHOR_REC (CAIRN_LSM_KEY_LEN + 8)

/* The anchor index key of a data digest: uniform and of fixed length, whatever the digest. */
static void anchor_key(uint8_t key[32], const uint8_t *digest, size_t len)
{
    uint8_t buf[65];
    buf[0] = (uint8_t)len;
    memcpy(buf + 1, digest, len);
    cairn_sha256_tagged(key, "CAIRN-ANCHOR-INDEX-V1", buf, len + 1);
}

/* Replay checks at height h need only the records of the expiry window: a transaction that
 * passes the expiry check at h has expiry >= h, so an earlier inclusion of the same body
 * (same expiry) happened at a height >= expiry - CAIRN_MAX_TX_LIFETIME_BLOCKS >= h - that. */
static uint64_t replay_min_height(uint64_t h)
{
    return h > CAIRN_MAX_TX_LIFETIME_BLOCKS ? h - CAIRN_MAX_TX_LIFETIME_BLOCKS : 0;
}

const cairn_genesis *cairn_chain_genesis(const cairn_chain *c)
{
    return &c->g;
}

const uint8_t *cairn_chain_genesis_hash(const cairn_chain *c)
{
    return c->genesis_hash;
}

int cairn_chain_verify_cb(void *ctx, const cairn_pubkey *key, const uint8_t *msg, size_t len,
                          const uint8_t *sig, size_t sig_len)
{
    cairn_sig_item item = {.alg = (cairn_sig_alg)key->alg,
                           .pk = key->key,
                           .pk_len = key->len,
                           .sig = sig,
                           .sig_len = sig_len,
                           .msg = msg,
                           .msg_len = len};
    return cairn_sig_verify(ctx, &item);
}

int cairn_commit_sign(const char *chain_id, uint64_t height, const uint8_t block_hash[32],
                      const uint8_t seed[32], uint8_t sig[64])
{
    uint8_t pk[32], sk[64];
    cairn_buf msg = CAIRN_BUF_INIT;
    cairn_commit_signing_input(&msg, chain_id, height, block_hash);
    int err = cairn_buf_finish(&msg);
    if (!err) {
        crypto_sign_seed_keypair(pk, sk, seed);
        crypto_sign_detached(sig, NULL, msg.p, msg.len, sk);
        sodium_memzero(sk, sizeof sk);
    }
    cairn_buf_free(&msg);
    return err;
}

/* ---- block storage ---- */

static int put_header(cairn_txn *t, const cairn_header *h, uint8_t hash_out[32])
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_header_encode(&b, h);
    int err = cairn_buf_finish(&b);
    uint8_t key[8], hkey[33], hv[8];
    cairn_put_u64be(key, h->height);
    if (!err) {
        cairn_sha256_oneshot(hash_out, b.p, b.len);
        err = cairn_txn_put(t, CAIRN_TABLE_BLOCKS, key, 8, b.p, b.len, 0);
    }
    cairn_buf_free(&b);
    if (err) return err;
    hkey[0] = 'H';
    memcpy(hkey + 1, hash_out, 32);
    cairn_put_u64be(hv, h->height);
    if ((err = cairn_txn_put(t, CAIRN_TABLE_BLOCKS, hkey, 33, hv, 8, 0))) return err;
    return cairn_txn_put(t, CAIRN_TABLE_META, HEAD_KEY, sizeof HEAD_KEY - 1, key, 8, 0);
}

int cairn_chain_block(cairn_txn *t, uint64_t height, cairn_header *h, uint8_t hash[32])
{
    uint8_t key[8];
    const void *v;
    size_t len;
    cairn_put_u64be(key, height);
    int err = cairn_txn_get(t, CAIRN_TABLE_BLOCKS, key, 8, &v, &len);
    if (err) return err;
    if (cairn_header_decode(h, v, len) != 0) return CAIRN_ESTORE_CORRUPT;
    if (hash) cairn_sha256_oneshot(hash, v, len);
    return 0;
}

int cairn_chain_head(cairn_txn *t, cairn_header *h, uint8_t hash[32])
{
    const void *v;
    size_t len;
    int err = cairn_txn_get(t, CAIRN_TABLE_META, HEAD_KEY, sizeof HEAD_KEY - 1, &v, &len);
    if (err) return err;
    if (len != 8) return CAIRN_ESTORE_CORRUPT;
    err = cairn_chain_block(t, cairn_get_u64be(v), h, hash);
    return err == CAIRN_ENOENT ? CAIRN_ESTORE_CORRUPT : err;
}

int cairn_chain_height_of(cairn_txn *t, const uint8_t hash[32], uint64_t *height)
{
    uint8_t key[33];
    const void *v;
    size_t len;
    key[0] = 'H';
    memcpy(key + 1, hash, 32);
    int err = cairn_txn_get(t, CAIRN_TABLE_BLOCKS, key, 33, &v, &len);
    if (err) return err;
    if (len != 8) return CAIRN_ESTORE_CORRUPT;
    *height = cairn_get_u64be(v);
    return 0;
}

int cairn_chain_certificate(cairn_txn *t, uint64_t height, cairn_certificate *c)
{
    uint8_t key[9];
    const void *v;
    size_t len;
    cairn_put_u64be(key, height);
    key[8] = 1;
    int err = cairn_txn_get(t, CAIRN_TABLE_BLOCKS, key, 9, &v, &len);
    if (err) return err;
    return cairn_certificate_decode(c, v, len) ? CAIRN_ESTORE_CORRUPT : 0;
}

int cairn_chain_put_certificate(cairn_txn *t, const cairn_certificate *c)
{
    cairn_header h;
    int err = cairn_chain_block(t, c->height, &h, NULL);
    if (err) return err;
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_certificate_encode(&b, c);
    uint8_t key[9];
    cairn_put_u64be(key, c->height);
    key[8] = 1;
    err = cairn_buf_finish(&b);
    if (!err) err = cairn_txn_put(t, CAIRN_TABLE_BLOCKS, key, 9, b.p, b.len, 0);
    cairn_buf_free(&b);
    return err;
}

static void tx_status_decode(const uint8_t p[20], cairn_tx_status *st)
{
    st->height = cairn_get_u64be(p);
    st->log_index = cairn_get_u64be(p + 8);
    st->result = (int32_t)cairn_get_u32be(p + 16);
}

int cairn_chain_tx_status(cairn_txn *t, const uint8_t hash[32], cairn_tx_status *st)
{
    uint8_t v[20];
    int err = cairn_lsm_get(t, &TX_INDEX, hash, 0, v);
    if (!err) tx_status_decode(v, st);
    return err;
}

int cairn_chain_anchor_index(cairn_txn *t, const uint8_t *digest, size_t len, uint64_t *log_index)
{
    if (len == 0 || len > 64) return CAIRN_EINVAL;
    uint8_t key[32], v[8];
    anchor_key(key, digest, len);
    int err = cairn_lsm_get(t, &ANCHOR_INDEX, key, 0, v);
    if (!err) *log_index = cairn_get_u64be(v);
    return err;
}

int cairn_chain_stream(cairn_txn *t, const uint8_t device[32], const uint8_t *stream, size_t len,
                       cairn_stream *out)
{
    uint8_t id[32];
    const void *v;
    size_t vl;
    cairn_stream_id(id, device, stream, len);
    int err = cairn_txn_get(t, CAIRN_TABLE_STREAMS, id, 32, &v, &vl);
    if (err) return err;
    return cairn_stream_decode(out, v, vl) ? CAIRN_ESTORE_CORRUPT : 0;
}

int cairn_chain_entry_body(cairn_txn *t, const char *chain_id, uint64_t index,
                           Cairn__V1__TxBody **body)
{
    (void)chain_id;
    const uint8_t *leaf;
    size_t len;
    cairn_entry e;
    int err = cairn_log_leaf_get(t, index, &leaf, &len);
    if (err) return err;
    if (cairn_entry_decode(&e, leaf, len) != 0 || e.kind != CAIRN_ENTRY_TX)
        return CAIRN_ESTORE_CORRUPT;
    ProtobufCMessage *m;
    err = cairn_pb_decode(&cairn__v1__tx_body__descriptor, e.body, e.body_len, CAIRN_TX_MAX_BYTES,
                          &m);
    if (err) return CAIRN_ESTORE_CORRUPT;
    *body = (Cairn__V1__TxBody *)m;
    return 0;
}

/* ---- genesis ---- */

static int init_genesis(cairn_chain *c, cairn_txn *t)
{
    const cairn_genesis *g = &c->g;
    cairn_buf gb = CAIRN_BUF_INIT, leaf = CAIRN_BUF_INIT;
    cairn_genesis_encode(&gb, g);
    int err = cairn_buf_finish(&gb);
    if (err) goto out;
    cairn_entry e = {.kind = CAIRN_ENTRY_GENESIS, .body = gb.p, .body_len = gb.len};
    cairn_entry_encode(&leaf, &e);
    if ((err = cairn_buf_finish(&leaf))) goto out;
    cairn_log_leaf l = {leaf.p, leaf.len};
    uint64_t size;
    if ((err = cairn_log_append(t, &l, 1, &size))) goto out;

    cairn_state *st;
    if ((err = cairn_state_begin(&st, t, 0, 0))) goto out;
    for (size_t i = 0; i < g->n_orgs && !err; i++) err = cairn_state_put_org(st, &g->orgs[i]);
    for (size_t i = 0; i < g->n_validators && !err; i++)
        err = cairn_state_put_validator(st, &g->validators[i]);
    if (!err) err = cairn_state_put_policy(st, &g->policy);
    cairn_header h;
    memset(&h, 0, sizeof h);
    if (!err) err = cairn_state_commit(st, 0, h.state_root);
    cairn_state_free(st);
    if (err) goto out;

    h.version = CAIRN_HEADER_VERSION;
    strcpy(h.chain_id, g->chain_id);
    h.time_ms = g->genesis_time_ms;
    h.log_size = size;
    if ((err = cairn_log_root(t, size, h.log_root))) goto out;
    cairn_genesis_valset_hash(g, h.valset_hash);
    cairn_buf pb = CAIRN_BUF_INIT;
    cairn_buf_tag(&pb, "CAIRN-PAYLOAD-V1");
    cairn_buf_u32(&pb, 0);
    cairn_sha256_oneshot(h.payload_hash, pb.p, pb.len);
    cairn_buf_free(&pb);
    uint8_t hash[32];
    if ((err = put_header(t, &h, hash))) goto out;
    err = cairn_txn_put(t, CAIRN_TABLE_META, GENESIS_KEY, sizeof GENESIS_KEY - 1, c->genesis_hash,
                        32, 0);
    if (!err)
        err = cairn_txn_put(t, CAIRN_TABLE_META, INDEX_KEY, sizeof INDEX_KEY - 1, INDEX_LAYOUT,
                            sizeof INDEX_LAYOUT - 1, 0);
out:
    cairn_buf_free(&gb);
    cairn_buf_free(&leaf);
    return err;
}

static int init_fn(cairn_txn *t, void *arg)
{
    cairn_chain *c = arg;
    uint64_t size;
    int err = cairn_log_size(t, &size);
    if (err) return err;
    if (size > 0) return 0; /* already initialised (a concurrent opener won) */
    return init_genesis(c, t);
}

int cairn_chain_open(cairn_chain **out, cairn_store *s, const cairn_genesis *g,
                     const cairn_sig_ctx *sig)
{
    *out = NULL;
    cairn_chain *c = calloc(1, sizeof *c);
    if (!c) return CAIRN_ENOMEM;
    c->s = s;
    c->sig = sig;
    c->g = *g;
    cairn_buf gb = CAIRN_BUF_INIT;
    cairn_genesis_encode(&gb, g);
    int err = cairn_buf_finish(&gb);
    if (!err) cairn_sha256_oneshot(c->genesis_hash, gb.p, gb.len);
    cairn_buf_free(&gb);
    if (err) goto fail;

    cairn_txn *t;
    if ((err = cairn_store_read_begin(s, &t))) goto fail;
    uint64_t size;
    err = cairn_log_size(t, &size);
    const void *v = NULL;
    size_t len = 0;
    if (!err && size > 0) {
        err = cairn_txn_get(t, CAIRN_TABLE_META, GENESIS_KEY, sizeof GENESIS_KEY - 1, &v, &len);
        if (err == CAIRN_ENOENT) err = CAIRN_EGENESIS; /* a log that is not a chain */
        if (!err && (len != 32 || memcmp(v, c->genesis_hash, 32) != 0)) err = CAIRN_EGENESIS;
        /* A chain written before the log-structured indexes: its tx.index and anchor.index
         * B-trees are not read any more, so replays would go unnoticed. Refused. */
        if (!err) {
            err = cairn_txn_get(t, CAIRN_TABLE_META, INDEX_KEY, sizeof INDEX_KEY - 1, &v, &len);
            if (err == CAIRN_ENOENT ||
                (!err && (len != sizeof INDEX_LAYOUT - 1 || memcmp(v, INDEX_LAYOUT, len) != 0)))
                err = CAIRN_ESTORE_VERSION;
        }
    }
    cairn_txn_abort(t);
    if (err) goto fail;
    if (size == 0 && (err = cairn_store_write(s, init_fn, c))) goto fail;
    *out = c;
    return 0;
fail:
    free(c);
    return err;
}

void cairn_chain_close(cairn_chain *c)
{
    free(c);
}

/* ---- admission and blocks ---- */

/* Expiry window and replay, against the block at `height`; r: a view of the tx index opened
 * with min tag replay_min_height(height) (block application), or NULL for a lookup of its own. */
static int check_fresh(cairn_txn *t, cairn_lsm_reader *r, const cairn_tx *tx, uint64_t height)
{
    uint64_t exp = tx->body->expiry_height;
    if (exp < height) return CAIRN_EEXPIRED;
    if (exp - height > CAIRN_MAX_TX_LIFETIME_BLOCKS) return CAIRN_EEXPIRY_TOO_FAR;
    uint8_t v[20];
    int err = r ? cairn_lsm_reader_get(r, tx->hash, v)
                : cairn_lsm_get(t, &TX_INDEX, tx->hash, replay_min_height(height), v);
    if (err == 0) return CAIRN_EREPLAY;
    return err == CAIRN_ENOENT ? 0 : err;
}

int cairn_chain_admit(const cairn_chain *c, cairn_txn *t, const uint8_t *raw, size_t len,
                      uint8_t tx_hash[32])
{
    return cairn_chain_admit_signer(c, t, raw, len, tx_hash, NULL);
}

static int admit(const cairn_chain *c, cairn_txn *t, const uint8_t *raw, size_t len,
                 uint8_t tx_hash[32], uint8_t signer_id[32], int verify)
{
    cairn_tx tx;
    int err = cairn_tx_decode(&tx, raw, len, c->g.chain_id);
    if (err) return err;
    memcpy(tx_hash, tx.hash, 32);
    if (signer_id) cairn_sha256_oneshot(signer_id, tx.env->signer.data, tx.env->signer.len);
    cairn_header head;
    if (!(err = cairn_chain_head(t, &head, NULL)) &&
        !(err = check_fresh(t, NULL, &tx, head.height + 1)) && verify)
        err = cairn_tx_verify(c->sig, &tx, c->g.chain_id);
    cairn_tx_free(&tx);
    return err;
}

int cairn_chain_admit_signer(const cairn_chain *c, cairn_txn *t, const uint8_t *raw, size_t len,
                             uint8_t tx_hash[32], uint8_t signer_id[32])
{
    return admit(c, t, raw, len, tx_hash, signer_id, 1);
}

int cairn_chain_admit_prepare(const cairn_chain *c, cairn_txn *t, const uint8_t *raw, size_t len,
                              uint8_t tx_hash[32], uint8_t signer_id[32])
{
    return admit(c, t, raw, len, tx_hash, signer_id, 0);
}

/* A set of 32-byte hashes (open addressing), for duplicates within one block. */
typedef struct hashset {
    uint8_t (*k)[32];
    uint8_t *used;
    size_t cap;
} hashset;

static int hashset_insert(hashset *s, const uint8_t h[32])
{
    size_t i = (size_t)cairn_get_u64be(h) & (s->cap - 1);
    while (s->used[i]) {
        if (memcmp(s->k[i], h, 32) == 0) return 1;
        i = (i + 1) & (s->cap - 1);
    }
    s->used[i] = 1;
    memcpy(s->k[i], h, 32);
    return 0;
}

/* The block's index records, written as one run per index at the end of the block. */
typedef struct index_recs {
    uint8_t *tx, *anchor;
    size_t n_tx, n_anchor;
} index_recs;

static int write_indexes(cairn_txn *t, index_recs *ir, const uint8_t hash[32], uint64_t height,
                         uint64_t index, int32_t result, const cairn_tx_effects *fx, uint8_t kind)
{
    uint8_t *v = ir->tx + ir->n_tx++ * TX_REC;
    memcpy(v, hash, 32);
    cairn_put_u64be(v + 32, height);
    cairn_put_u64be(v + 40, index);
    cairn_put_u32be(v + 48, (uint32_t)result);
    if (result != 0) return 0;
    /* Device events are the device's lifecycle (registration, keys, status, transfers,
     * attestations); its anchors are found by digest (the anchor index) and per stream. */
    if (fx->has_device && !fx->has_anchor) {
        uint8_t k[40];
        memcpy(k, fx->device_id, 32);
        cairn_put_u64be(k + 32, index);
        int err = cairn_txn_put(t, CAIRN_TABLE_DEVICE_EVENTS, k, 40, &kind, 1, 0);
        if (err) return err;
    }
    if (fx->has_anchor) {
        /* Several anchors of one digest: the index keeps the smallest log index, the first. */
        uint8_t *a = ir->anchor + ir->n_anchor++ * ANCHOR_REC;
        anchor_key(a, fx->anchor_digest, fx->anchor_digest_len);
        cairn_put_u64be(a + 32, index);
    }
    return 0;
}

static int valset_pending_add(cairn_txn *t, const uint8_t id[32]);
static int valset_rotate(const cairn_chain *c, cairn_txn *t, cairn_state *st, uint64_t height,
                         cairn_valset *next);

static int apply_block(const cairn_chain *c, cairn_txn *t, uint64_t time_ms,
                       const uint8_t proposer[32], const cairn_log_leaf *txs, size_t n,
                       const int *sig_results, cairn_block_out *out, int32_t *results,
                       cairn_valset *next)
{
    if (n > CAIRN_BLOCK_MAX_TXS) return CAIRN_EBLOCK;
    cairn_header parent;
    uint8_t parent_hash[32];
    int err = cairn_chain_head(t, &parent, parent_hash);
    if (err) return err;
    if (time_ms < parent.time_ms) return CAIRN_EBLOCK;
    uint64_t height = parent.height + 1, base_index;
    if ((err = cairn_log_size(t, &base_index))) return err;

    cairn_state *st = NULL;
    cairn_buf *leaves = calloc(n ? n : 1, sizeof *leaves);
    cairn_log_leaf *ll = calloc(n ? n : 1, sizeof *ll);
    hashset seen = {NULL, NULL, 16};
    while (seen.cap < 2 * n) seen.cap *= 2;
    seen.k = malloc(seen.cap * 32);
    seen.used = calloc(seen.cap, 1);
    cairn_buf payload = CAIRN_BUF_INIT;
    index_recs ir = {malloc((n ? n : 1) * TX_REC), malloc((n ? n : 1) * ANCHOR_REC), 0, 0};
    cairn_lsm_reader *replay = malloc(sizeof *replay);
    int replay_open = 0;
    if (!leaves || !ll || !seen.k || !seen.used || !ir.tx || !ir.anchor || !replay) {
        err = CAIRN_ENOMEM;
        goto out;
    }
    if ((err = cairn_state_begin(&st, t, 1, parent.height))) goto out;
    if ((err = cairn_lsm_reader_open(replay, t, &TX_INDEX, replay_min_height(height)))) goto out;
    replay_open = 1;
    cairn_buf_tag(&payload, "CAIRN-PAYLOAD-V1");
    cairn_buf_u32(&payload, (uint32_t)n);

    cairn_rules_env env = {
        .chain_id = c->g.chain_id, .height = height, .st = st, .t = t, .sig = c->sig};
    for (size_t i = 0; i < n; i++) {
        cairn_tx tx;
        cairn_tx_effects fx = {0};
        cairn_entry e = {.kind = CAIRN_ENTRY_TX, .height = height, .position = (uint32_t)i};
        uint8_t hash[32];
        int claims = 0; /* a valid signature: the hash is recorded */
        int32_t result = cairn_tx_decode(&tx, txs[i].data, txs[i].len, c->g.chain_id);
        if (result) {
            /* Undecodable: logged as received, with the reason. */
            cairn_sha256_oneshot(hash, txs[i].data, txs[i].len);
            e.body = txs[i].data;
            e.body_len = txs[i].len;
        } else {
            memcpy(hash, tx.hash, 32);
            e.body = tx.env->body.data;
            e.body_len = tx.env->body.len;
            e.alg = (uint8_t)tx.env->alg;
            e.signer = tx.env->signer.data;
            e.signer_len = tx.env->signer.len;
            e.sig = tx.env->signature.data;
            e.sig_len = tx.env->signature.len;
            /* Only a correctly signed transaction claims its hash: otherwise anyone could
             * front-run a device's transaction with a garbage signature and make the real one
             * a "replay". */
            if ((result = check_fresh(t, replay, &tx, height)) == 0)
                result = sig_results ? sig_results[i] : cairn_tx_verify(c->sig, &tx, c->g.chain_id);
            if (result == 0) {
                claims = 1;
                if (hashset_insert(&seen, tx.hash)) {
                    result = CAIRN_EREPLAY;
                    claims = 0;
                } else {
                    env.log_index = base_index + i;
                    result = cairn_rules_apply(&env, &tx, &fx);
                    if (result == 0 && fx.has_validator)
                        result = valset_pending_add(t, fx.validator_id);
                }
            }
            if (cairn_rules_is_fatal(result)) {
                err = result;
                cairn_tx_free(&tx);
                goto out;
            }
        }
        e.result = result;
        cairn_entry_encode(&leaves[i], &e);
        cairn_buf_put(&payload, hash, 32);
        err = cairn_buf_finish(&leaves[i]);
        if (!err && claims)
            err = write_indexes(t, &ir, hash, height, base_index + i, result, &fx,
                                tx.body ? (uint8_t)tx.body->payload_case : 0);
        if (tx.body || tx.env) cairn_tx_free(&tx);
        if (err) goto out;
        ll[i] = (cairn_log_leaf){leaves[i].p, leaves[i].len};
        if (results) results[i] = result;
    }

    cairn_header *h = &out->header;
    memset(h, 0, sizeof *h);
    h->version = CAIRN_HEADER_VERSION;
    strcpy(h->chain_id, c->g.chain_id);
    h->height = height;
    memcpy(h->parent, parent_hash, 32);
    h->time_ms = time_ms;
    memcpy(h->proposer, proposer, 32);
    memcpy(h->valset_hash, parent.valset_hash, 32);
    h->epoch = parent.epoch;
    if (next) { /* the epoch-change block names the new set (chain.h) */
        if ((err = valset_rotate(c, t, st, height, next))) goto out;
        h->epoch = next->epoch;
        memcpy(h->valset_hash, next->hash, 32);
    }
    if ((err = cairn_buf_finish(&payload))) goto out;
    cairn_sha256_oneshot(h->payload_hash, payload.p, payload.len);
    cairn_lsm_reader_close(replay);
    replay_open = 0;
    if ((err = cairn_lsm_append(t, &TX_INDEX, ir.tx, ir.n_tx, height)) ||
        (err = cairn_lsm_append(t, &ANCHOR_INDEX, ir.anchor, ir.n_anchor, height)) ||
        (err = cairn_log_append(t, ll, n, &h->log_size)) ||
        (err = cairn_log_root(t, h->log_size, h->log_root)) ||
        (err = cairn_state_commit(st, height, h->state_root)) ||
        (err = put_header(t, h, out->hash)))
        goto out;
    out->first_log_index = base_index;
out:
    cairn_state_free(st);
    for (size_t i = 0; leaves && i < n; i++) cairn_buf_free(&leaves[i]);
    free(leaves);
    free(ll);
    free(seen.k);
    free(seen.used);
    cairn_buf_free(&payload);
    if (replay && replay_open) cairn_lsm_reader_close(replay);
    free(replay);
    free(ir.tx);
    free(ir.anchor);
    return err;
}

int cairn_chain_apply_block(const cairn_chain *c, cairn_txn *t, uint64_t time_ms,
                            const uint8_t proposer[32], const cairn_log_leaf *txs, size_t n,
                            const int *sig_results, cairn_block_out *out, int32_t *results)
{
    return apply_block(c, t, time_ms, proposer, txs, n, sig_results, out, results, NULL);
}

/* ---- validator sets and epochs (chain.h) ---- */

static const char VS_EPOCH_KEY[] = "valset.epoch";
static const char VS_SET_KEY[] = "valset.set"; /* || u64be epoch */
static const char VS_PENDING_KEY[] = "valset.pending";

int cairn_chain_valset_pending(cairn_txn *t, size_t *pending)
{
    const void *v;
    size_t len;
    int err =
        cairn_txn_get(t, CAIRN_TABLE_META, VS_PENDING_KEY, sizeof VS_PENDING_KEY - 1, &v, &len);
    *pending = 0;
    if (err == CAIRN_ENOENT) return 0;
    if (err) return err;
    if (len % 32) return CAIRN_ESTORE_CORRUPT;
    *pending = len / 32;
    return 0;
}

static int valset_pending_add(cairn_txn *t, const uint8_t id[32])
{
    const void *v = NULL;
    size_t len = 0;
    int err =
        cairn_txn_get(t, CAIRN_TABLE_META, VS_PENDING_KEY, sizeof VS_PENDING_KEY - 1, &v, &len);
    if (err && err != CAIRN_ENOENT) return err;
    if (len % 32) return CAIRN_ESTORE_CORRUPT;
    for (size_t i = 0; i < len; i += 32)
        if (memcmp((const uint8_t *)v + i, id, 32) == 0)
            return 0; /* first change keeps its place */
    uint8_t *nv = malloc(len + 32);
    if (!nv) return CAIRN_ENOMEM;
    if (len) memcpy(nv, v, len);
    memcpy(nv + len, id, 32);
    err = cairn_txn_put(t, CAIRN_TABLE_META, VS_PENDING_KEY, sizeof VS_PENDING_KEY - 1, nv,
                        len + 32, 0);
    free(nv);
    return err;
}

static void valset_key(uint8_t key[sizeof VS_SET_KEY - 1 + 8], uint64_t epoch)
{
    memcpy(key, VS_SET_KEY, sizeof VS_SET_KEY - 1);
    cairn_put_u64be(key + sizeof VS_SET_KEY - 1, epoch);
}

/* u64 epoch || u64 since_height || u32 n || n * (u32 len || validator record bytes). */
static int valset_put(cairn_txn *t, const cairn_valset *vs)
{
    cairn_buf b = CAIRN_BUF_INIT, one = CAIRN_BUF_INIT;
    cairn_buf_u64(&b, vs->epoch);
    cairn_buf_u64(&b, vs->since_height);
    cairn_buf_u32(&b, (uint32_t)vs->n);
    for (size_t i = 0; i < vs->n; i++) {
        one.len = 0;
        cairn_validator_encode(&one, &vs->v[i]);
        cairn_buf_u32(&b, (uint32_t)one.len);
        cairn_buf_put(&b, one.p, one.len);
    }
    int err = cairn_buf_finish(&one);
    if (!err) err = cairn_buf_finish(&b);
    uint8_t key[sizeof VS_SET_KEY - 1 + 8], ev[8];
    valset_key(key, vs->epoch);
    cairn_put_u64be(ev, vs->epoch);
    if (!err) err = cairn_txn_put(t, CAIRN_TABLE_META, key, sizeof key, b.p, b.len, 0);
    if (!err)
        err = cairn_txn_put(t, CAIRN_TABLE_META, VS_EPOCH_KEY, sizeof VS_EPOCH_KEY - 1, ev, 8, 0);
    cairn_buf_free(&b);
    cairn_buf_free(&one);
    return err;
}

static int valset_decode(cairn_valset *vs, const uint8_t *p, size_t len)
{
    if (len < 20) return CAIRN_ESTORE_CORRUPT;
    vs->epoch = cairn_get_u64be(p);
    vs->since_height = cairn_get_u64be(p + 8);
    uint32_t n = cairn_get_u32be(p + 16);
    if (n > CAIRN_VALSET_MAX) return CAIRN_ESTORE_CORRUPT;
    vs->n = n;
    size_t off = 20;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < 4) return CAIRN_ESTORE_CORRUPT;
        uint32_t l = cairn_get_u32be(p + off);
        off += 4;
        if (len - off < l || cairn_validator_decode(&vs->v[i], p + off, l))
            return CAIRN_ESTORE_CORRUPT;
        off += l;
    }
    if (off != len) return CAIRN_ESTORE_CORRUPT;
    cairn_valset_hash(vs->v, vs->n, vs->hash);
    return 0;
}

int cairn_chain_valset_at(const cairn_chain *c, cairn_txn *t, uint64_t epoch, cairn_valset *out)
{
    memset(out, 0, offsetof(cairn_valset, v));
    if (epoch == 0) {
        out->n = c->g.n_validators;
        memcpy(out->v, c->g.validators, c->g.n_validators * sizeof out->v[0]);
        cairn_valset_hash(out->v, out->n, out->hash);
        return 0;
    }
    uint8_t key[sizeof VS_SET_KEY - 1 + 8];
    valset_key(key, epoch);
    const void *v;
    size_t len;
    int err = cairn_txn_get(t, CAIRN_TABLE_META, key, sizeof key, &v, &len);
    if (err) return err;
    if ((err = valset_decode(out, v, len))) return err;
    return out->epoch == epoch ? 0 : CAIRN_ESTORE_CORRUPT;
}

int cairn_chain_valset(const cairn_chain *c, cairn_txn *t, cairn_valset *out)
{
    const void *v;
    size_t len;
    int err = cairn_txn_get(t, CAIRN_TABLE_META, VS_EPOCH_KEY, sizeof VS_EPOCH_KEY - 1, &v, &len);
    if (err == CAIRN_ENOENT) return cairn_chain_valset_at(c, t, 0, out);
    if (err) return err;
    if (len != 8) return CAIRN_ESTORE_CORRUPT;
    err = cairn_chain_valset_at(c, t, cairn_get_u64be(v), out);
    return err == CAIRN_ENOENT ? CAIRN_ESTORE_CORRUPT : err;
}

/* Computes and stores the next set (see chain.h), clears the pending list. */
static int valset_rotate(const cairn_chain *c, cairn_txn *t, cairn_state *st, uint64_t height,
                         cairn_valset *next)
{
    cairn_valset *cur = malloc(sizeof *cur);
    uint8_t *ids = NULL;
    size_t n_ids = 0;
    int err = cur ? cairn_chain_valset(c, t, cur) : CAIRN_ENOMEM;
    if (!err) {
        const void *v = NULL;
        size_t len = 0;
        err =
            cairn_txn_get(t, CAIRN_TABLE_META, VS_PENDING_KEY, sizeof VS_PENDING_KEY - 1, &v, &len);
        if (err == CAIRN_ENOENT) err = 0;
        if (!err && len % 32) err = CAIRN_ESTORE_CORRUPT;
        if (!err && len && !(ids = malloc(len))) err = CAIRN_ENOMEM;
        if (!err && len) memcpy(ids, v, len);
        n_ids = len / 32;
    }
    if (err) goto out; /* st: the records as of the parent (this block changes no state) */
    memset(next, 0, offsetof(cairn_valset, v));
    next->epoch = cur->epoch + 1;
    next->since_height = height;
    for (size_t i = 0; i < cur->n && !err; i++) {
        cairn_validator rec;
        err = cairn_state_get_validator(st, cur->v[i].id, &rec);
        if (err == CAIRN_ENOENT) { /* a genesis validator is always recorded */
            err = CAIRN_ESTORE_CORRUPT;
            break;
        }
        if (!err && rec.power > 0) next->v[next->n++] = rec;
    }
    for (size_t k = 0; k < n_ids && !err; k++) {
        const uint8_t *id = ids + 32 * k;
        int present = 0;
        for (size_t i = 0; i < next->n; i++) present |= memcmp(next->v[i].id, id, 32) == 0;
        for (size_t i = 0; i < cur->n; i++) present |= memcmp(cur->v[i].id, id, 32) == 0;
        if (present) continue; /* kept or removed above */
        cairn_validator rec;
        if ((err = cairn_state_get_validator(st, id, &rec))) break;
        if (rec.power == 0) continue;
        if (next->n == CAIRN_VALSET_MAX) {
            err = CAIRN_EBLOCK;
            break;
        }
        next->v[next->n++] = rec;
    }
    if (!err && next->n == 0) err = CAIRN_EBLOCK; /* governance removed every validator */
    if (err) goto out;
    cairn_valset_hash(next->v, next->n, next->hash);
    if ((err = valset_put(t, next))) goto out;
    err = cairn_txn_del(t, CAIRN_TABLE_META, VS_PENDING_KEY, sizeof VS_PENDING_KEY - 1);
    if (err == CAIRN_ENOENT) err = 0;
out:
    free(ids);
    free(cur);
    return err;
}

int cairn_chain_apply_epoch_block(const cairn_chain *c, cairn_txn *t, uint64_t time_ms,
                                  const uint8_t proposer[32], cairn_block_out *out,
                                  cairn_valset *next)
{
    cairn_valset *tmp = next ? NULL : malloc(sizeof *tmp);
    if (!next && !tmp) return CAIRN_ENOMEM;
    int err = apply_block(c, t, time_ms, proposer, NULL, 0, NULL, out, NULL, next ? next : tmp);
    free(tmp);
    return err;
}
