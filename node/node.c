#include "node/node.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <uv.h>

#include "ledger/bundle.h"
#include "ledger/chain.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "ledger/smt.h"
#include "ledger/tx.h"
#include "ledger/codec.h"
#include "proto/cairn/v1/api.pb-c.h"
#include "node/admit.h"
#include "node/http.h"
#include "node/mempool.h"
#include "node/replica.h"

#define MEMPOOL_MAX_TXS   100000u
#define MEMPOOL_MAX_BYTES ((size_t)256 << 20)
/* Fair shares: one device (signer key) or one client address holds at most this many pending. */
#define MEMPOOL_MAX_PER_SIGNER (MEMPOOL_MAX_TXS / 16)
#define MEMPOOL_MAX_PER_CLIENT (MEMPOOL_MAX_TXS / 2)
/* Transactions in one POST /v1/txs/batch. */
#define SUBMIT_BATCH_MAX 1000u
/* Submissions waiting for their batched signature check, at most. */
#define ADMIT_MAX_QUEUED 8192u
/* On SIGINT/SIGTERM the node keeps committing what it admitted for at most this long. */
#define DRAIN_MS 3000u

struct cairn_node {
    cairn_config cfg;
    cairn_store *store;
    cairn_sig_ctx *sig;
    cairn_chain *chain;
    cairn_genesis *g;
    cairn_keypair validator;
    uint32_t validator_index;
    uint8_t validator_id[32];
    uint8_t noise_private[32];
    cairn_mempool *mp;
    cairn_admit *admit;
    cairn_replica *rep;
    cairn_http_server *http;
    uv_loop_t loop;
    uv_timer_t drain;
    uv_signal_t sigint, sigterm;
    uv_async_t wake;
    int fatal, draining;
    uint64_t drain_until;
    atomic_ullong submitted, admission_rejected;
};

/* ---- logging: one structured line per event ---- */

static void nlog(const cairn_node *n, cairn_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void nlog(const cairn_node *n, cairn_log_level lvl, const char *fmt, ...)
{
    if (lvl > n->cfg.log_level) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ts=%lld.%03ld level=%s %s\n", (long long)ts.tv_sec, ts.tv_nsec / 1000000,
            cairn_log_level_name(lvl), msg);
}

/* ---- the event loop ---- */

static void halt(void *ctx, int err)
{
    cairn_node *n = ctx;
    nlog(n, CAIRN_LOG_ERROR, "msg=\"halting: cannot apply blocks\" error=%s reason=\"%s\"",
         cairn_err_name(err), cairn_strerror(err));
    n->fatal = err;
    uv_stop(&n->loop);
}

static void on_wake(uv_async_t *a)
{
    cairn_node *n = a->data;
    cairn_replica_kick(n->rep);
}

/* While draining: stop once every admitted transaction is committed, or at the deadline. */
static void on_drain(uv_timer_t *t)
{
    cairn_node *n = t->data;
    if (cairn_mempool_pending_count(n->mp) == 0 || uv_now(&n->loop) >= n->drain_until)
        uv_stop(&n->loop);
}

static void replica_log(void *ctx, cairn_log_level lvl, const char *msg)
{
    nlog(ctx, lvl, "%s", msg);
}

static void on_signal(uv_signal_t *s, int signum)
{
    cairn_node *n = s->data;
    if (n->draining) return;
    nlog(n, CAIRN_LOG_INFO, "msg=\"shutting down\" signal=%d pending=%zu", signum,
         cairn_mempool_pending_count(n->mp));
    /* Stop taking requests (answering those waiting for a signature check 503), then give what
     * was admitted a bounded time to commit. */
    cairn_admit_stop(n->admit, CAIRN_EMEMPOOL_FULL);
    cairn_http_stop(n->http);
    n->http = NULL;
    n->draining = 1;
    n->drain_until = uv_now(&n->loop) + DRAIN_MS;
    uv_timer_start(&n->drain, on_drain, 0, 20);
}

/* ---- API ---- */

static json_t *hex_json(const uint8_t *p, size_t len)
{
    char *h = malloc(2 * len + 1);
    if (!h) return NULL;
    cairn_hex_encode(h, p, len);
    json_t *s = json_string(h);
    free(h);
    return s;
}

static json_t *hashes_json(const uint8_t (*h)[32], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) json_array_append_new(a, hex_json(h[i], 32));
    return a;
}

/* Status for an error from the ledger: storage trouble is the server's, the rest the client's. */
static unsigned status_for(int err)
{
    switch (err) {
    case CAIRN_ENOENT:
    case CAIRN_ELOG_INDEX:
        return 404;
    case CAIRN_EREPLAY:
        return 409;
    case CAIRN_EMEMPOOL_FULL:
    case CAIRN_ESTORE_HALTED:
    case CAIRN_ESTORE_READERS:
        return 503;
    case CAIRN_ENOMEM:
    case CAIRN_EIO:
    case CAIRN_ESTORE_CORRUPT:
    case CAIRN_ESTORE_LMDB:
    case CAIRN_EINTERNAL:
        return 500;
    default:
        return 400;
    }
}

static int fail(cairn_http_response *resp, int err, const char *what)
{
    return cairn_http_error(resp, status_for(err), err, what);
}

static int read_begin(cairn_node *n, cairn_http_response *resp, cairn_txn **t)
{
    int err = cairn_store_read_begin(n->store, t);
    if (err) fail(resp, err, NULL);
    return err;
}

/* The signature check of a submitted transaction is done (verifier thread): answer. */
static void admit_done(void *ctx, cairn_admit_job *job, int err)
{
    cairn_node *n = ctx;
    cairn_http_response *resp = cairn_http_deferred_response(job->deferred);
    if (!err) {
        err = cairn_mempool_add(n->mp, job->hash, job->raw, job->len, job->signer, job->client);
        if (err == CAIRN_EEXIST) err = 0; /* already pending: same answer */
    }
    if (err) {
        atomic_fetch_add(&n->admission_rejected, 1);
        (void)fail(resp, err, NULL);
    } else {
        if (cairn_http_json(resp, 202, json_pack("{s:o}", "tx_hash", hex_json(job->hash, 32))))
            (void)fail(resp, CAIRN_ENOMEM, NULL);
        if (cairn_mempool_size(n->mp) >= n->cfg.block_max_txs) uv_async_send(&n->wake);
    }
    free(job->raw);
    cairn_http_deferred_finish(job->deferred);
}

/* POST /v1/txs: decode and check on this thread, then the signature in a batch with the other
 * submissions waiting (node/admit.h); the answer is deferred until then. */
static int h_submit(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    cairn_node *n = app;
    int err = cairn_http_require_content_type(req, resp, "application/x-protobuf");
    if (err) return err;
    cairn_txn *t;
    if ((err = read_begin(n, resp, &t))) return err;
    cairn_admit_job job = {0};
    uint8_t addr[16];
    atomic_fetch_add(&n->submitted, 1);
    err = cairn_chain_admit_prepare(n->chain, t, req->body, req->body_len, job.hash, job.signer);
    cairn_txn_abort(t);
    if (!err && cairn_mempool_pending(n->mp, job.hash))
        return cairn_http_json(resp, 202, json_pack("{s:o}", "tx_hash", hex_json(job.hash, 32)));
    if (err) {
        atomic_fetch_add(&n->admission_rejected, 1);
        return fail(resp, err, NULL);
    }
    cairn_http_client_addr(req, addr);
    cairn_sha256_oneshot(job.client, addr, sizeof addr);
    job.len = req->body_len;
    job.raw = malloc(job.len ? job.len : 1);
    job.deferred = job.raw ? cairn_http_defer(req) : NULL;
    if (!job.deferred) {
        free(job.raw);
        return fail(resp, CAIRN_ENOMEM, NULL);
    }
    memcpy(job.raw, req->body, job.len);
    if ((err = cairn_admit_submit(n->admit, &job))) admit_done(n, &job, err);
    return 0;
}

/* POST /v1/txs/batch: a gateway's SubmitTxBatch of up to SUBMIT_BATCH_MAX transactions, each
 * checked like POST /v1/txs and answered in order; their signatures are verified together. */
static int h_submit_batch(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    cairn_node *n = app;
    int err = cairn_http_require_content_type(req, resp, "application/x-protobuf");
    if (err) return err;
    ProtobufCMessage *m;
    if ((err = cairn_pb_decode(&cairn__v1__submit_tx_batch__descriptor, req->body, req->body_len,
                               req->body_len, &m)))
        return fail(resp, CAIRN_EDECODE, "body is not a SubmitTxBatch");
    const Cairn__V1__SubmitTxBatch *b = (const Cairn__V1__SubmitTxBatch *)m;
    size_t k = b->n_txs;
    if (k == 0 || k > SUBMIT_BATCH_MAX) {
        protobuf_c_message_free_unpacked(m, NULL);
        return cairn_http_errorf(resp, 400, CAIRN_EFIELD, "a batch holds 1..%u transactions",
                                 SUBMIT_BATCH_MAX);
    }
    uint8_t(*hash)[32] = calloc(k, 32), (*signer)[32] = calloc(k, 32);
    int *res = calloc(k, sizeof *res), *vres = calloc(k, sizeof *vres);
    const uint8_t **raw = calloc(k, sizeof *raw);
    size_t *len = calloc(k, sizeof *len), *which = calloc(k, sizeof *which), nv = 0;
    cairn_txn *t = NULL;
    if (!hash || !signer || !res || !vres || !raw || !len || !which)
        err = CAIRN_ENOMEM;
    else
        err = cairn_store_read_begin(n->store, &t);
    for (size_t i = 0; !err && i < k; i++) {
        res[i] = cairn_chain_admit_prepare(n->chain, t, b->txs[i].data, b->txs[i].len, hash[i],
                                           signer[i]);
        if (res[i] == 0 && cairn_mempool_pending(n->mp, hash[i])) continue; /* already pending */
        if (res[i] == 0) {
            raw[nv] = b->txs[i].data;
            len[nv] = b->txs[i].len;
            which[nv++] = i;
        }
    }
    cairn_txn_abort(t);
    if (!err) err = cairn_tx_verify_many(n->sig, n->g->chain_id, raw, len, nv, vres);
    uint8_t addr[16], client[32];
    cairn_http_client_addr(req, addr);
    cairn_sha256_oneshot(client, addr, sizeof addr);
    for (size_t j = 0; !err && j < nv; j++) {
        size_t i = which[j];
        res[i] = vres[j];
        if (res[i] == 0)
            res[i] = cairn_mempool_add(n->mp, hash[i], raw[j], len[j], signer[i], client);
        if (res[i] == CAIRN_EEXIST) res[i] = 0;
    }
    json_t *out = err ? NULL : json_array();
    size_t accepted = 0;
    for (size_t i = 0; out && i < k; i++) {
        /* A transaction that does not decode has no hash (hash[i] stays as calloc left it). */
        int hashed = !sodium_is_zero(hash[i], 32);
        json_t *o = json_pack("{s:o}", "tx_hash", hashed ? hex_json(hash[i], 32) : json_null());
        if (o && res[i])
            json_object_set_new(
                o, "error", json_pack("{s:i,s:s}", "code", res[i], "name", cairn_err_name(res[i])));
        accepted += res[i] == 0;
        if (!o || json_array_append_new(out, o) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    atomic_fetch_add(&n->submitted, k);
    atomic_fetch_add(&n->admission_rejected, k - accepted);
    protobuf_c_message_free_unpacked(m, NULL);
    free(hash);
    free(signer);
    free(res);
    free(vres);
    free(raw);
    free(len);
    free(which);
    if (err || !out) return fail(resp, err ? err : CAIRN_ENOMEM, NULL);
    if (cairn_mempool_size(n->mp) >= n->cfg.block_max_txs) uv_async_send(&n->wake);
    return cairn_http_json(
        resp, 200, json_pack("{s:I,s:o}", "accepted", (json_int_t)accepted, "results", out));
}

static int h_tx(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    cairn_node *n = app;
    uint8_t hash[32];
    int err = cairn_http_param_hex(req, resp, hash, 32);
    if (err) return err;
    cairn_txn *t;
    if ((err = read_begin(n, resp, &t))) return err;
    cairn_tx_status st;
    err = cairn_chain_tx_status(t, hash, &st);
    cairn_txn_abort(t);
    if (err == CAIRN_ENOENT) {
        if (cairn_mempool_pending(n->mp, hash))
            return cairn_http_json(
                resp, 200,
                json_pack("{s:o,s:s}", "tx_hash", hex_json(hash, 32), "status", "pending"));
        return fail(resp, err, "unknown transaction");
    }
    if (err) return fail(resp, err, NULL);
    return cairn_http_json(resp, 200,
                           json_pack("{s:o,s:s,s:I,s:I,s:i,s:s}", "tx_hash", hex_json(hash, 32),
                                     "status", st.result == 0 ? "committed" : "rejected", "height",
                                     (json_int_t)st.height, "log_index", (json_int_t)st.log_index,
                                     "result", st.result, "result_name",
                                     cairn_err_name(st.result)));
}

static int h_checkpoint(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)req;
    cairn_node *n = app;
    cairn_txn *t;
    int err = read_begin(n, resp, &t);
    if (err) return err;
    cairn_header h;
    cairn_certificate c;
    uint8_t hash[32];
    cairn_buf hb = CAIRN_BUF_INIT, cb = CAIRN_BUF_INIT;
    err = cairn_chain_head(t, &h, hash);
    /* The latest certified block: the genesis block needs none. */
    while (!err && h.height > 0 && (err = cairn_chain_certificate(t, h.height, &c)) == CAIRN_ENOENT)
        err = cairn_chain_block(t, h.height - 1, &h, hash);
    cairn_txn_abort(t);
    if (err) return fail(resp, err, NULL);
    cairn_header_encode(&hb, &h);
    if (h.height > 0) cairn_certificate_encode(&cb, &c);
    if ((err = cairn_buf_finish(&hb)) || (err = cairn_buf_finish(&cb))) {
        cairn_buf_free(&hb);
        cairn_buf_free(&cb);
        return fail(resp, err, NULL);
    }
    json_t *j =
        json_pack("{s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:s,s:I,s:o,s:I}", "height", (json_int_t)h.height,
                  "log_size", (json_int_t)h.log_size, "log_root", hex_json(h.log_root, 32),
                  "state_root", hex_json(h.state_root, 32), "block_hash", hex_json(hash, 32),
                  "header", hex_json(hb.p, hb.len), "certificate", hex_json(cb.p, cb.len),
                  "chain_id", h.chain_id, "epoch", (json_int_t)h.epoch, "valset_hash",
                  hex_json(h.valset_hash, 32), "signers", (json_int_t)(h.height > 0 ? c.n : 0));
    cairn_buf_free(&hb);
    cairn_buf_free(&cb);
    return cairn_http_json(resp, 200, j);
}

static int h_entry(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    cairn_node *n = app;
    uint64_t index;
    int err = cairn_http_param_u64(req, resp, &index);
    if (err) return err;
    cairn_txn *t;
    if ((err = read_begin(n, resp, &t))) return err;
    const uint8_t *leaf;
    size_t len;
    json_t *j = NULL;
    err = cairn_log_leaf_get(t, index, &leaf, &len);
    if (!err) j = json_pack("{s:I,s:o}", "index", (json_int_t)index, "leaf", hex_json(leaf, len));
    cairn_txn_abort(t);
    if (err) return fail(resp, err, NULL);
    return cairn_http_json(resp, 200, j);
}

static int h_inclusion(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    cairn_node *n = app;
    uint64_t index, size;
    cairn_txn *t;
    int err = cairn_http_query_u64(req, resp, "index", &index);
    if (err || (err = read_begin(n, resp, &t))) return err;
    uint64_t log_size;
    uint8_t path[CAIRN_MERKLE_MAX_PROOF][32];
    size_t np;
    if (!(err = cairn_log_size(t, &log_size)) &&
        !(err = cairn_http_query_u64_opt(req, resp, "tree_size", log_size, &size)))
        err = cairn_log_inclusion_proof(t, index, size, path, &np);
    cairn_txn_abort(t);
    if (err == CAIRN_EHTTP_QUERY) return err;
    if (err)
        return cairn_http_error(resp, status_for(err) == 404 ? 400 : status_for(err), err, NULL);
    return cairn_http_json(resp, 200,
                           json_pack("{s:I,s:I,s:o}", "leaf_index", (json_int_t)index, "tree_size",
                                     (json_int_t)size, "audit_path",
                                     hashes_json((const uint8_t(*)[32])path, np)));
}

static int h_consistency(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    cairn_node *n = app;
    uint64_t first, second, log_size;
    cairn_txn *t;
    int err = cairn_http_query_u64(req, resp, "first", &first);
    if (err || (err = read_begin(n, resp, &t))) return err;
    uint8_t proof[CAIRN_MERKLE_MAX_PROOF][32];
    size_t np;
    if (!(err = cairn_log_size(t, &log_size)) &&
        !(err = cairn_http_query_u64_opt(req, resp, "second", log_size, &second)))
        err = cairn_log_consistency_proof(t, first, second, proof, &np);
    cairn_txn_abort(t);
    if (err == CAIRN_EHTTP_QUERY) return err;
    if (err) return fail(resp, err, NULL);
    return cairn_http_json(resp, 200,
                           json_pack("{s:I,s:I,s:o}", "first", (json_int_t)first, "second",
                                     (json_int_t)second, "proof",
                                     hashes_json((const uint8_t(*)[32])proof, np)));
}

static const char *status_name(uint8_t s)
{
    return s == 1 ? "active" : s == 2 ? "suspended" : s == 3 ? "revoked" : "invalid";
}

static int h_device(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    cairn_node *n = app;
    uint8_t id[32], key[32];
    int err = cairn_http_param_hex(req, resp, id, 32);
    if (err) return err;
    cairn_txn *t;
    if ((err = read_begin(n, resp, &t))) return err;
    cairn_header h;
    uint8_t *proof = malloc(CAIRN_SMT_MAX_PROOF);
    const uint8_t *val = NULL;
    size_t plen = 0, vlen = 0;
    cairn_device d;
    json_t *j = NULL;
    cairn_rec_key(key, CAIRN_REC_DEVICE, id);
    err = proof ? cairn_chain_head(t, &h, NULL) : CAIRN_ENOMEM;
    if (!err)
        err = cairn_smt_prove(t, h.height, key, proof, CAIRN_SMT_MAX_PROOF, &plen, &val, &vlen);
    if (!err && !val) err = CAIRN_ENOENT;
    if (!err && cairn_device_decode(&d, val, vlen) != 0) err = CAIRN_ESTORE_CORRUPT;
    if (!err) {
        json_t *keys = json_array();
        for (unsigned i = 0; i < d.n_keys; i++)
            json_array_append_new(keys,
                                  json_pack("{s:s,s:o,s:I}", "alg",
                                            cairn_sig_alg_name((cairn_sig_alg)d.keys[i].key.alg),
                                            "key", hex_json(d.keys[i].key.key, d.keys[i].key.len),
                                            "since_height", (json_int_t)d.keys[i].since_height));
        const cairn_attestation_rec *a = &d.attestation;
        j = json_pack("{s:o,s:I,s:o,s:o,s:s,s:s,s:o,s:{s:s,s:I,s:I,s:o},s:o,s:o}", "device_id",
                      hex_json(id, 32), "height", (json_int_t)h.height, "state_root",
                      hex_json(h.state_root, 32), "owner", hex_json(d.owner, 32), "status",
                      status_name(d.status), "device_class", d.device_class.s, "keys", keys,
                      "attestation", "appraisal",
                      cairn_appraisal_name((cairn_appraisal)a->appraisal), "height",
                      (json_int_t)a->height, "log_index", (json_int_t)a->log_index, "release_id",
                      hex_json(a->release_id, 32), "record", hex_json(val, vlen), "proof",
                      hex_json(proof, plen));
    }
    cairn_txn_abort(t);
    free(proof);
    if (err) return fail(resp, err, err == CAIRN_ENOENT ? "unknown device" : NULL);
    return cairn_http_json(resp, 200, j);
}

static int h_provenance(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    cairn_node *n = app;
    uint8_t digest[64];
    size_t dlen;
    if (!req->param ||
        cairn_hex_decode(digest, sizeof digest, &dlen, req->param, strlen(req->param)) != 0 ||
        dlen == 0)
        return cairn_http_error(resp, 400, CAIRN_EHEX, "digest must be 1-64 bytes of hex");
    const char *format = cairn_http_query(req, "format");
    if (format && strcmp(format, "json") != 0 && strcmp(format, "protobuf") != 0)
        return cairn_http_error(resp, 400, CAIRN_EHTTP_QUERY, "format must be json or protobuf");
    cairn_txn *t;
    int err = read_begin(n, resp, &t);
    if (err) return err;
    cairn_buf b = CAIRN_BUF_INIT;
    err = cairn_bundle_build(n->chain, t, digest, dlen, &b);
    cairn_txn_abort(t);
    if (err) {
        cairn_buf_free(&b);
        return fail(resp, err, err == CAIRN_ENOENT ? "digest was never anchored" : NULL);
    }
    if (format && strcmp(format, "protobuf") == 0) {
        err = cairn_http_respond(resp, 200, "application/x-protobuf", b.p, b.len);
    } else {
        char *json;
        err = cairn_bundle_to_json(b.p, b.len, &json);
        if (!err) {
            err = cairn_http_respond(resp, 200, "application/json", json, strlen(json));
            free(json);
        }
    }
    cairn_buf_free(&b);
    return err;
}

static int h_health(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)req;
    cairn_node *n = app;
    int halted = cairn_store_halted(n->store);
    if (halted || n->fatal)
        return cairn_http_error(resp, 503, halted ? CAIRN_ESTORE_HALTED : n->fatal, "node halted");
    cairn_txn *t;
    cairn_header h;
    int err = read_begin(n, resp, &t);
    if (err) return err;
    err = cairn_chain_head(t, &h, NULL);
    cairn_txn_abort(t);
    if (err) return fail(resp, err, NULL);
    return cairn_http_json(resp, 200,
                           json_pack("{s:s,s:s,s:I,s:I}", "status", "ok", "chain_id",
                                     n->g->chain_id, "height", (json_int_t)h.height, "mempool",
                                     (json_int_t)cairn_mempool_size(n->mp)));
}

static int h_metrics(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)req;
    cairn_node *n = app;
    cairn_txn *t;
    cairn_header h = {0};
    size_t map, used;
    if (cairn_store_read_begin(n->store, &t) == 0) {
        if (cairn_chain_head(t, &h, NULL) != 0) memset(&h, 0, sizeof h);
        cairn_txn_abort(t);
    }
    cairn_store_usage(n->store, &map, &used);
    cairn_replica_stats st;
    cairn_replica_get_stats(n->rep, &st);
    const double ms = 1e-6;
    char body[4096];
    int len = snprintf(
        body, sizeof body,
        "# TYPE cairn_height gauge\ncairn_height %llu\n"
        "# TYPE cairn_certified_height gauge\ncairn_certified_height %llu\n"
        "# TYPE cairn_log_size gauge\ncairn_log_size %llu\n"
        "# TYPE cairn_consensus_epoch gauge\ncairn_consensus_epoch %llu\n"
        "# TYPE cairn_consensus_validators gauge\ncairn_consensus_validators %llu\n"
        "# TYPE cairn_consensus_voter gauge\ncairn_consensus_voter %llu\n"
        "# TYPE cairn_consensus_round gauge\ncairn_consensus_round %llu\n"
        "# TYPE cairn_consensus_height gauge\ncairn_consensus_height %llu\n"
        "# TYPE cairn_commits_total counter\ncairn_commits_total %llu\n"
        "# TYPE cairn_empty_commits_total counter\ncairn_empty_commits_total %llu\n"
        "# TYPE cairn_rounds_qc_total counter\ncairn_rounds_qc_total %llu\n"
        "# TYPE cairn_rounds_timeout_total counter\ncairn_rounds_timeout_total %llu\n"
        "# TYPE cairn_txs_committed_total counter\ncairn_txs_committed_total %llu\n"
        "# TYPE cairn_txs_rejected_total counter\ncairn_txs_rejected_total %llu\n"
        "# TYPE cairn_txs_duplicate_total counter\ncairn_txs_duplicate_total %llu\n"
        "# TYPE cairn_txs_submitted_total counter\ncairn_txs_submitted_total %llu\n"
        "# TYPE cairn_txs_admission_rejected_total counter\n"
        "cairn_txs_admission_rejected_total %llu\n"
        "# TYPE cairn_mempool_size gauge\ncairn_mempool_size %zu\n"
        "# TYPE cairn_mempool_pending gauge\ncairn_mempool_pending %zu\n"
        "# TYPE cairn_batches_made_total counter\ncairn_batches_made_total %llu\n"
        "# TYPE cairn_batches_received_total counter\ncairn_batches_received_total %llu\n"
        "# TYPE cairn_payload_fetches_total counter\ncairn_payload_fetches_total %llu\n"
        "# TYPE cairn_peers_up gauge\ncairn_peers_up %llu\n"
        "# TYPE cairn_peer_messages_total counter\ncairn_peer_messages_total %llu\n"
        "# TYPE cairn_peer_messages_refused_total counter\ncairn_peer_messages_refused_total %llu\n"
        "# TYPE cairn_peer_handshakes_failed_total counter\n"
        "cairn_peer_handshakes_failed_total %llu\n"
        "# TYPE cairn_peer_bad_frames_total counter\ncairn_peer_bad_frames_total %llu\n"
        "# TYPE cairn_equivocation_evidence_total counter\n"
        "cairn_equivocation_evidence_total %llu\n"
        "# TYPE cairn_sync_served_total counter\ncairn_sync_served_total %llu\n"
        "# TYPE cairn_sync_applied_total counter\ncairn_sync_applied_total %llu\n"
        "# TYPE cairn_tx_sigs_verified_total counter\ncairn_tx_sigs_verified_total %llu\n"
        "# TYPE cairn_tx_sig_verify_seconds_total counter\n"
        "cairn_tx_sig_verify_seconds_total %.6f\n"
        "# TYPE cairn_persist_seconds_total counter\ncairn_persist_seconds_total %.6f\n"
        "# TYPE cairn_persists_total counter\ncairn_persists_total %llu\n"
        "# TYPE cairn_apply_seconds_total counter\ncairn_apply_seconds_total %.6f\n"
        "# TYPE cairn_applies_total counter\ncairn_applies_total %llu\n"
        "# TYPE cairn_store_used_bytes gauge\ncairn_store_used_bytes %zu\n"
        "# TYPE cairn_store_map_bytes gauge\ncairn_store_map_bytes %zu\n",
        (unsigned long long)h.height, (unsigned long long)st.certified_height,
        (unsigned long long)h.log_size, (unsigned long long)st.epoch,
        (unsigned long long)st.validators, (unsigned long long)st.voter,
        (unsigned long long)st.round, (unsigned long long)st.cons_height,
        (unsigned long long)st.commits, (unsigned long long)st.empty_commits,
        (unsigned long long)st.qc_rounds, (unsigned long long)st.timeouts_rounds,
        (unsigned long long)st.txs_committed, (unsigned long long)st.txs_rejected,
        (unsigned long long)st.txs_duplicate, (unsigned long long)atomic_load(&n->submitted),
        (unsigned long long)atomic_load(&n->admission_rejected), cairn_mempool_size(n->mp),
        cairn_mempool_pending_count(n->mp), (unsigned long long)st.batches_made,
        (unsigned long long)st.batches_received, (unsigned long long)st.payload_fetches,
        (unsigned long long)st.peers_up, (unsigned long long)st.msgs_in,
        (unsigned long long)st.msgs_bad, (unsigned long long)st.net_handshakes_failed,
        (unsigned long long)st.net_bad_frames, (unsigned long long)st.evidence,
        (unsigned long long)st.sync_requests_served, (unsigned long long)st.sync_responses_applied,
        (unsigned long long)st.sigs_verified, (double)st.sig_verify_ns * ms * 1e-3,
        (double)st.persist_ns * ms * 1e-3, (unsigned long long)st.persists,
        (double)st.apply_ns * ms * 1e-3, (unsigned long long)st.applies, used, map);
    if (len < 0 || (size_t)len >= sizeof body) return fail(resp, CAIRN_ETOOBIG, NULL);
    return cairn_http_respond(resp, 200, "text/plain; version=0.0.4", body, (size_t)len);
}

/* GET /v1/blocks/{height}: the header's fields and the block's transactions, read back from its
 * log leaves (first_log_index = the parent's log_size). Height 0 is the genesis block: one
 * genesis leaf, no transactions, trusted without a certificate. */
static int h_block(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    cairn_node *n = app;
    uint64_t height, first = 0;
    int err = cairn_http_param_u64(req, resp, &height);
    if (err) return err;
    cairn_txn *t;
    if ((err = read_begin(n, resp, &t))) return err;
    cairn_header h, parent;
    cairn_certificate *cert = malloc(sizeof *cert);
    uint8_t hash[32];
    json_t *txs = json_array(), *results = json_array(), *j = NULL;
    int certified = height == 0;
    err = cert && txs && results ? cairn_chain_block(t, height, &h, hash) : CAIRN_ENOMEM;
    if (!err && height > 0 && !(err = cairn_chain_block(t, height - 1, &parent, NULL)))
        first = parent.log_size;
    if (!err && height > 0) {
        err = cairn_chain_certificate(t, height, cert);
        certified = err == 0;
        if (err == CAIRN_ENOENT) err = 0;
    }
    for (uint64_t i = first; !err && i < h.log_size; i++) {
        const uint8_t *leaf;
        size_t len;
        cairn_entry e;
        uint8_t tx_hash[32];
        if ((err = cairn_log_leaf_get(t, i, &leaf, &len))) break;
        if (cairn_entry_decode(&e, leaf, len) != 0) {
            err = CAIRN_ESTORE_CORRUPT;
            break;
        }
        if (e.kind != CAIRN_ENTRY_TX) continue;
        cairn_tx_hash(tx_hash, n->g->chain_id, e.body, e.body_len);
        if (json_array_append_new(txs, hex_json(tx_hash, 32)) ||
            json_array_append_new(results, json_integer(e.result)))
            err = CAIRN_ENOMEM;
    }
    cairn_txn_abort(t);
    free(cert);
    if (!err)
        j = json_pack("{s:I,s:o,s:I,s:o,s:I,s:I,s:I,s:O,s:O,s:b}", "height", (json_int_t)height,
                      "hash", hex_json(hash, 32), "time_ms", (json_int_t)h.time_ms, "proposer",
                      hex_json(h.proposer, 32), "log_size", (json_int_t)h.log_size,
                      "first_log_index", (json_int_t)first, "tx_count",
                      (json_int_t)json_array_size(txs), "tx_hashes", txs, "results", results,
                      "certified", certified);
    json_decref(txs);
    json_decref(results);
    if (err) return fail(resp, err, err == CAIRN_ENOENT ? "no block at this height" : NULL);
    return cairn_http_json(resp, 200, j);
}

static const cairn_http_route routes[] = {
    {"POST", "/v1/txs", h_submit},
    {"POST", "/v1/txs/batch", h_submit_batch},
    {"GET", "/v1/txs/{tx_hash}", h_tx},
    {"GET", "/v1/checkpoint", h_checkpoint},
    {"GET", "/v1/blocks/{height}", h_block},
    {"GET", "/v1/log/entries/{index}", h_entry},
    {"GET", "/v1/proofs/inclusion", h_inclusion},
    {"GET", "/v1/proofs/consistency", h_consistency},
    {"GET", "/v1/devices/{device_id}", h_device},
    {"GET", "/v1/provenance/{digest}", h_provenance},
    {"GET", "/healthz", h_health},
    {"GET", "/metrics", h_metrics},
};

static void http_log(void *ctx, const char *msg)
{
    nlog(ctx, CAIRN_LOG_DEBUG, "msg=\"http\" detail=\"%s\"", msg);
}

/* ---- lifecycle ---- */

static void store_fatal(void *ctx, int err, const char *msg)
{
    nlog(ctx, CAIRN_LOG_ERROR, "msg=\"storage halted\" error=%s detail=\"%s\"", cairn_err_name(err),
         msg);
}

static int load_noise_key(const char *path, uint8_t priv[32], const uint8_t want_pub[32]);

int cairn_node_open(cairn_node **out, const cairn_config *cfg, char *msg, size_t msg_cap)
{
    *out = NULL;
    cairn_node *n = calloc(1, sizeof *n);
    if (!n || !(n->g = calloc(1, sizeof *n->g))) {
        free(n);
        return CAIRN_ENOMEM;
    }
    n->cfg = *cfg;
    int err = cairn_sig_ctx_new(&n->sig);
    if (err) goto fail;
    if ((err = cairn_genesis_load(n->g, cfg->genesis, msg, msg_cap))) goto fail;
    if ((err = cairn_keyfile_load(cfg->validator_key, n->sig, &n->validator))) {
        snprintf(msg, msg_cap, "%s: %s", cfg->validator_key, cairn_strerror(err));
        goto fail;
    }
    /* A key outside the genesis set is a validator that governance adds later: the node
     * observes (syncs) until an epoch whose set holds it (docs/consensus.md). */
    int in_genesis = 0;
    if (n->validator.alg != CAIRN_SIG_ED25519 || n->validator.pub_len != 32) {
        snprintf(msg, msg_cap, "%s: a validator key must be Ed25519", cfg->validator_key);
        err = CAIRN_EKEYFILE;
        goto fail;
    }
    cairn_validator_id(n->validator_id, n->validator.pub, 32);
    for (size_t i = 0; i < n->g->n_validators; i++) {
        const cairn_validator *v = &n->g->validators[i];
        if (v->key.len == n->validator.pub_len &&
            memcmp(v->key.key, n->validator.pub, v->key.len) == 0) {
            n->validator_index = (uint32_t)i;
            in_genesis = 1;
        }
    }
    if ((err =
             load_noise_key(cfg->noise_key, n->noise_private,
                            in_genesis ? n->g->validators[n->validator_index].noise_key : NULL))) {
        snprintf(msg, msg_cap, "%s: %s", cfg->noise_key,
                 err == CAIRN_EKEYFILE ? "not this validator's genesis noise_key, or malformed"
                                       : cairn_strerror(err));
        goto fail;
    }
    cairn_store_options so = {.on_fatal = store_fatal, .fatal_ctx = n};
    if ((err = cairn_store_open(&n->store, cfg->data_dir, &so))) {
        snprintf(msg, msg_cap, "%s: %s", cfg->data_dir, cairn_strerror(err));
        goto fail;
    }
    if ((err = cairn_chain_open(&n->chain, n->store, n->g, n->sig))) {
        snprintf(msg, msg_cap, "%s: %s", cfg->data_dir, cairn_strerror(err));
        goto fail;
    }
    cairn_mempool_limits ml = {MEMPOOL_MAX_TXS, MEMPOOL_MAX_BYTES, MEMPOOL_MAX_PER_SIGNER,
                               MEMPOOL_MAX_PER_CLIENT};
    if ((err = cairn_mempool_new(&n->mp, &ml))) goto fail;
    uv_loop_init(&n->loop);
    uv_timer_init(&n->loop, &n->drain);
    uv_signal_init(&n->loop, &n->sigint);
    uv_signal_init(&n->loop, &n->sigterm);
    uv_async_init(&n->loop, &n->wake, on_wake);
    n->drain.data = n->sigint.data = n->sigterm.data = n->wake.data = n;
    cairn_replica_config rc = {
        .loop = &n->loop,
        .store = n->store,
        .chain = n->chain,
        .g = n->g,
        .sig = n->sig,
        .mp = n->mp,
        .cfg = &n->cfg,
        .self = n->validator_index,
        .seed = n->validator.seed,
        .noise_private = n->noise_private,
        .log = replica_log,
        .fatal = halt,
        .ctx = n,
    };
    if ((err = cairn_replica_start(&n->rep, &rc, msg, msg_cap))) goto fail;
    if ((err =
             cairn_admit_start(&n->admit, n->sig, n->g->chain_id, ADMIT_MAX_QUEUED, admit_done, n)))
        goto fail;
    cairn_http_config hc;
    cairn_config_http(cfg, &hc);
    hc.log = http_log;
    hc.log_ctx = n;
    if ((err = cairn_http_start(&n->http, &hc, routes, sizeof routes / sizeof routes[0], n))) {
        char a[80];
        cairn_config_addr_format(&cfg->api_listen, a, sizeof a);
        snprintf(msg, msg_cap, "cannot serve the API on %s", a);
        goto fail;
    }
    *out = n;
    return 0;
fail:
    cairn_node_close(n);
    return err;
}

unsigned cairn_node_api_port(const cairn_node *n)
{
    return cairn_http_port(n->http);
}

int cairn_node_run(cairn_node *n)
{
    uv_signal_start(&n->sigint, on_signal, SIGINT);
    uv_signal_start(&n->sigterm, on_signal, SIGTERM);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    cairn_admit_stop(n->admit, CAIRN_EMEMPOOL_FULL);
    cairn_http_stop(n->http);
    n->http = NULL;
    return n->fatal;
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

void cairn_node_close(cairn_node *n)
{
    if (!n) return;
    cairn_admit_stop(n->admit, CAIRN_EMEMPOOL_FULL);
    cairn_http_stop(n->http);
    cairn_admit_free(n->admit);
    cairn_replica_stop(n->rep);
    if (n->mp) {
        uv_close((uv_handle_t *)&n->drain, close_cb);
        uv_close((uv_handle_t *)&n->sigint, close_cb);
        uv_close((uv_handle_t *)&n->sigterm, close_cb);
        uv_close((uv_handle_t *)&n->wake, close_cb);
        uv_run(&n->loop, UV_RUN_DEFAULT);
        uv_loop_close(&n->loop);
    }
    cairn_mempool_free(n->mp);
    cairn_chain_close(n->chain);
    cairn_store_close(n->store);
    cairn_keypair_wipe(&n->validator);
    sodium_memzero(n->noise_private, sizeof n->noise_private);
    cairn_sig_ctx_free(n->sig);
    free(n->g);
    free(n);
}

/* Reads this validator's peer-link key (DIR/noise.key) and checks its public half is the one in
 * genesis (want_pub; NULL for a validator outside the genesis set, whose key the ledger's record
 * names). CAIRN_EKEYFILE when malformed or another key. */
static int load_noise_key(const char *path, uint8_t priv[32], const uint8_t want_pub[32])
{
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    if (!o) return access(path, F_OK) == 0 ? CAIRN_EKEYFILE : CAIRN_ENOENT;
    const char *p = json_string_value(json_object_get(o, "private"));
    uint8_t pub[32];
    int err = p && cairn_hex_decode_exact(priv, 32, p) == 0 ? 0 : CAIRN_EKEYFILE;
    json_decref(o);
    if (!err) {
        crypto_scalarmult_base(pub, priv);
        if (want_pub && sodium_memcmp(pub, want_pub, 32) != 0) err = CAIRN_EKEYFILE;
    }
    if (err) sodium_memzero(priv, 32);
    return err;
}
