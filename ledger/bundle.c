#include "ledger/bundle.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec.h"
#include "ledger/pbjson.h"
#include "ledger/smt.h"
#include "ledger/tx.h"
#include "proto/cairn/v1/api.pb-c.h"

#define BUNDLE_VERSION   1u
#define BUNDLE_MAX_BYTES ((size_t)256 << 10)

/* ---- building ---- */

typedef struct owned {
    uint8_t proof[3][CAIRN_MERKLE_MAX_PROOF][32];
    ProtobufCBinaryData paths[2][CAIRN_MERKLE_MAX_PROOF];
    uint8_t smt[3][CAIRN_SMT_MAX_PROOF];
    cairn_buf header, cert;
    size_t n_changes;
    cairn_buf *changes;                /* 3 per change: header, certificate, set */
    ProtobufCBinaryData *change_parts; /* 3 arrays of n_changes */
} owned;

/* The canonical bytes of a validator set: u32 n || n * (u32 len || validator record). */
static void valset_encode(cairn_buf *b, const cairn_validator *v, size_t n)
{
    cairn_buf one = CAIRN_BUF_INIT;
    cairn_buf_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        one.len = 0;
        cairn_validator_encode(&one, &v[i]);
        cairn_buf_u32(b, (uint32_t)one.len);
        cairn_buf_put(b, one.p, one.len);
    }
    if (one.err && !b->err) b->err = one.err;
    cairn_buf_free(&one);
}

static int valset_decode(cairn_validator *v, size_t cap, size_t *n, const uint8_t *p, size_t len)
{
    if (len < 4) return CAIRN_EDECODE;
    uint32_t k = cairn_get_u32be(p);
    size_t off = 4;
    if (k == 0 || k > cap) return CAIRN_EDECODE;
    for (uint32_t i = 0; i < k; i++) {
        if (len - off < 4) return CAIRN_EDECODE;
        uint32_t l = cairn_get_u32be(p + off);
        off += 4;
        if (len - off < l || cairn_validator_decode(&v[i], p + off, l) != 0) return CAIRN_EDECODE;
        off += l;
    }
    if (off != len) return CAIRN_EDECODE;
    *n = k;
    return 0;
}

/* The epoch changes at or below `height`: for each, the change block's header and certificate
 * and the new set (chain.h keeps every epoch's set). */
static int add_changes(const cairn_chain *c, cairn_txn *t, uint64_t height, owned *o,
                       Cairn__V1__ProvenanceBundle *b)
{
    cairn_valset *vs = malloc(sizeof *vs);
    if (!vs) return CAIRN_ENOMEM;
    int err = cairn_chain_valset(c, t, vs);
    uint64_t last = err ? 0 : vs->epoch;
    if (!err && last > 0) {
        o->changes = calloc(3 * last, sizeof *o->changes);
        o->change_parts = calloc(3 * last, sizeof *o->change_parts);
        if (!o->changes || !o->change_parts) err = CAIRN_ENOMEM;
    }
    for (uint64_t e = 1; !err && e <= last; e++) {
        if ((err = cairn_chain_valset_at(c, t, e, vs))) break;
        if (vs->since_height > height) break; /* after the checkpoint */
        cairn_header h;
        cairn_certificate cert;
        if ((err = cairn_chain_block(t, vs->since_height, &h, NULL))) break;
        if ((err = cairn_chain_certificate(t, vs->since_height, &cert))) {
            if (err == CAIRN_ENOENT) err = CAIRN_ECERTIFICATE; /* not certified yet */
            break;
        }
        size_t k = o->n_changes;
        cairn_buf *hb = &o->changes[3 * k], *cb = hb + 1, *sb = hb + 2;
        cairn_header_encode(hb, &h);
        cairn_certificate_encode(cb, &cert);
        valset_encode(sb, vs->v, vs->n);
        if ((err = cairn_buf_finish(hb)) || (err = cairn_buf_finish(cb)) ||
            (err = cairn_buf_finish(sb)))
            break;
        o->change_parts[k] = (ProtobufCBinaryData){hb->len, hb->p};
        o->change_parts[last + k] = (ProtobufCBinaryData){cb->len, cb->p};
        o->change_parts[2 * last + k] = (ProtobufCBinaryData){sb->len, sb->p};
        o->n_changes++;
    }
    if (!err && o->n_changes) {
        b->n_valset_change_headers = b->n_valset_change_certificates = b->n_valset_change_sets =
            o->n_changes;
        b->valset_change_headers = o->change_parts;
        b->valset_change_certificates = o->change_parts + last;
        b->valset_change_sets = o->change_parts + 2 * last;
    }
    free(vs);
    return err;
}

static int leaf_with_proof(cairn_txn *t, uint64_t index, uint64_t size, ProtobufCBinaryData *leaf,
                           uint8_t (*proof)[32], ProtobufCBinaryData *paths, size_t *n)
{
    const uint8_t *l;
    size_t len;
    int err = cairn_log_leaf_get(t, index, &l, &len);
    if (err || (err = cairn_log_inclusion_proof(t, index, size, proof, n))) return err;
    *leaf = (ProtobufCBinaryData){len, (uint8_t *)l};
    for (size_t i = 0; i < *n; i++) paths[i] = (ProtobufCBinaryData){32, proof[i]};
    return 0;
}

static int record_with_proof(cairn_txn *t, uint64_t version, cairn_rec_kind kind,
                             const uint8_t id[32], ProtobufCBinaryData *rec, uint8_t *proof,
                             ProtobufCBinaryData *pb)
{
    uint8_t key[32];
    const uint8_t *v;
    size_t vlen, plen;
    cairn_rec_key(key, kind, id);
    int err = cairn_smt_prove(t, version, key, proof, CAIRN_SMT_MAX_PROOF, &plen, &v, &vlen);
    if (err) return err;
    if (!v) return CAIRN_ESTORE_CORRUPT; /* the ledger says it exists */
    *rec = (ProtobufCBinaryData){vlen, (uint8_t *)v};
    *pb = (ProtobufCBinaryData){plen, proof};
    return 0;
}

int cairn_bundle_build(const cairn_chain *c, cairn_txn *t, const uint8_t *digest, size_t digest_len,
                       cairn_buf *out)
{
    uint64_t index;
    int err = cairn_chain_anchor_index(t, digest, digest_len, &index);
    if (err) return err;
    owned *o = calloc(1, sizeof *o);
    if (!o) return CAIRN_ENOMEM;
    Cairn__V1__ProvenanceBundle b = CAIRN__V1__PROVENANCE_BUNDLE__INIT;
    cairn_header h;
    cairn_certificate cert;
    cairn_entry e;
    cairn_device dev;
    uint8_t block_hash[32];
    size_t n;
    Cairn__V1__TxBody *body = NULL;

    b.version = BUNDLE_VERSION;
    b.chain_id = (char *)cairn_chain_genesis(c)->chain_id;
    b.data_digest = (ProtobufCBinaryData){digest_len, (uint8_t *)digest};
    b.anchor_index = index;
    const uint8_t *leaf;
    size_t leaf_len;
    if ((err = cairn_log_leaf_get(t, index, &leaf, &leaf_len))) goto out;
    if (cairn_entry_decode(&e, leaf, leaf_len) != 0) {
        err = CAIRN_ESTORE_CORRUPT;
        goto out;
    }
    if ((err = cairn_chain_block(t, e.height, &h, block_hash))) goto out;
    if ((err = cairn_chain_certificate(t, e.height, &cert))) {
        if (err == CAIRN_ENOENT) err = CAIRN_ECERTIFICATE;
        goto out;
    }
    cairn_header_encode(&o->header, &h);
    cairn_certificate_encode(&o->cert, &cert);
    if ((err = cairn_buf_finish(&o->header)) || (err = cairn_buf_finish(&o->cert))) goto out;
    b.header = (ProtobufCBinaryData){o->header.len, o->header.p};
    b.certificate = (ProtobufCBinaryData){o->cert.len, o->cert.p};
    if ((err = add_changes(c, t, h.height, o, &b))) goto out;
    if ((err = leaf_with_proof(t, index, h.log_size, &b.anchor_leaf, o->proof[0], o->paths[0], &n)))
        goto out;
    b.n_anchor_proof = n;
    b.anchor_proof = o->paths[0];

    if ((err = cairn_chain_entry_body(t, b.chain_id, index, &body))) goto out;
    if (body->payload_case != CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR ||
        body->data_anchor->device_id.len != 32) {
        err = CAIRN_ESTORE_CORRUPT;
        goto out;
    }
    if ((err = record_with_proof(t, e.height, CAIRN_REC_DEVICE, body->data_anchor->device_id.data,
                                 &b.device_record, o->smt[0], &b.device_proof)))
        goto out;
    if (cairn_device_decode(&dev, b.device_record.data, b.device_record.len) != 0) {
        err = CAIRN_ESTORE_CORRUPT;
        goto out;
    }
    if ((err = record_with_proof(t, e.height, CAIRN_REC_ORG, dev.owner, &b.owner_record, o->smt[1],
                                 &b.owner_proof)))
        goto out;
    if (dev.attestation.height > 0) {
        b.attestation_index = dev.attestation.log_index;
        if ((err = leaf_with_proof(t, dev.attestation.log_index, h.log_size, &b.attestation_leaf,
                                   o->proof[1], o->paths[1], &n)))
            goto out;
        b.n_attestation_proof = n;
        b.attestation_proof = o->paths[1];
        static const uint8_t zero[32];
        if (memcmp(dev.attestation.release_id, zero, 32) != 0 &&
            (err = record_with_proof(t, e.height, CAIRN_REC_FIRMWARE, dev.attestation.release_id,
                                     &b.release_record, o->smt[2], &b.release_proof)))
            goto out;
    }
    size_t len = cairn__v1__provenance_bundle__get_packed_size(&b);
    uint8_t *buf = malloc(len);
    if (!buf) {
        err = CAIRN_ENOMEM;
        goto out;
    }
    cairn__v1__provenance_bundle__pack(&b, buf);
    cairn_buf_put(out, buf, len);
    free(buf);
    err = cairn_buf_finish(out);
out:
    if (body) protobuf_c_message_free_unpacked(&body->base, NULL);
    cairn_buf_free(&o->header);
    cairn_buf_free(&o->cert);
    for (size_t i = 0; o->changes && i < 3 * o->n_changes; i++) cairn_buf_free(&o->changes[i]);
    free(o->changes);
    free(o->change_parts);
    free(o);
    return err;
}

/* ---- verifying ---- */

typedef struct vctx {
    char *why;
    size_t cap;
} vctx;

static int bad(vctx *v, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(vctx *v, int err, const char *fmt, ...)
{
    if (v->why && v->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->why, v->cap, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Inclusion of leaf at index in the header's log. */
static int check_inclusion(vctx *v, const char *what, const cairn_header *h, uint64_t index,
                           ProtobufCBinaryData leaf, ProtobufCBinaryData *path, size_t n)
{
    uint8_t lh[32], p[CAIRN_MERKLE_MAX_PROOF][32];
    if (n > CAIRN_MERKLE_MAX_PROOF) return bad(v, CAIRN_EBUNDLE, "%s: proof too long", what);
    for (size_t i = 0; i < n; i++) {
        if (path[i].len != 32)
            return bad(v, CAIRN_EBUNDLE, "%s: proof hash %zu is not 32 bytes", what, i);
        memcpy(p[i], path[i].data, 32);
    }
    cairn_merkle_hash_leaf(lh, leaf.data, leaf.len);
    int err = cairn_merkle_verify_inclusion(lh, index, h->log_size, (const uint8_t(*)[32])p, n,
                                            h->log_root);
    if (err)
        return bad(v, CAIRN_EBUNDLE, "%s: log inclusion proof does not verify (%s)", what,
                   cairn_err_name(err));
    return 0;
}

static int check_record(vctx *v, const char *what, const cairn_header *h, cairn_rec_kind kind,
                        const uint8_t id[32], ProtobufCBinaryData rec, ProtobufCBinaryData proof)
{
    uint8_t key[32];
    cairn_rec_key(key, kind, id);
    int err = cairn_smt_verify(h->state_root, key, rec.data, rec.len, proof.data, proof.len);
    if (err)
        return bad(v, CAIRN_EBUNDLE, "%s: state proof does not verify (%s)", what,
                   cairn_err_name(err));
    return 0;
}

/* Decodes a transaction entry, checks its shape and signature, and returns its body. */
static int check_tx_entry(vctx *v, const char *what, const cairn_sig_ctx *sig, const char *chain,
                          ProtobufCBinaryData leaf, cairn_entry *e, Cairn__V1__TxBody **body)
{
    *body = NULL;
    if (cairn_entry_decode(e, leaf.data, leaf.len) != 0 || e->kind != CAIRN_ENTRY_TX)
        return bad(v, CAIRN_EBUNDLE, "%s: malformed log entry", what);
    if (e->result != 0)
        return bad(v, CAIRN_EBUNDLE, "%s: the ledger rejected it (%s)", what,
                   cairn_err_name(e->result));
    ProtobufCMessage *m;
    if (cairn_pb_decode(&cairn__v1__tx_body__descriptor, e->body, e->body_len, CAIRN_TX_MAX_BYTES,
                        &m))
        return bad(v, CAIRN_EBUNDLE, "%s: malformed transaction body", what);
    *body = (Cairn__V1__TxBody *)m;
    if (!(*body)->chain_id || strcmp((*body)->chain_id, chain) != 0)
        return bad(v, CAIRN_EBUNDLE, "%s: transaction of another chain", what);
    int err = cairn_tx_verify_parts(sig, chain, e->body, e->body_len, e->alg, e->signer,
                                    e->signer_len, e->sig, e->sig_len);
    if (err)
        return bad(v, CAIRN_EBUNDLE, "%s: signature does not verify (%s)", what,
                   cairn_err_name(err));
    return 0;
}

/* Position of the entry's signer in the device's key history (valid at height), or -1. */
static int signer_key(const cairn_device *d, const cairn_entry *e, uint64_t height)
{
    for (int i = 0; i < d->n_keys; i++) {
        const cairn_pubkey *k = &d->keys[i].key;
        if (k->alg == e->alg && k->len == e->signer_len && memcmp(k->key, e->signer, k->len) == 0 &&
            d->keys[i].since_height <= height)
            return i;
    }
    return -1;
}

static int verify_cb(void *ctx, const cairn_pubkey *key, const uint8_t *msg, size_t len,
                     const uint8_t *sig, size_t sig_len)
{
    return cairn_chain_verify_cb(ctx, key, msg, len, sig, sig_len);
}

int cairn_bundle_verify(const cairn_sig_ctx *sig, const cairn_genesis *g, const uint8_t *bundle,
                        size_t len, cairn_bundle_summary *summary, char *why, size_t why_cap)
{
    vctx v = {why, why_cap};
    cairn_bundle_summary local, *s = summary ? summary : &local;
    memset(s, 0, sizeof *s);
    ProtobufCMessage *m;
    Cairn__V1__TxBody *abody = NULL, *tbody = NULL;
    cairn_genesis *set = NULL; /* the validator set in force: g's, then each change's */
    int err = cairn_pb_decode(&cairn__v1__provenance_bundle__descriptor, bundle, len,
                              BUNDLE_MAX_BYTES, &m);
    if (err) return bad(&v, err, "not a provenance bundle encoding");
    Cairn__V1__ProvenanceBundle *b = (Cairn__V1__ProvenanceBundle *)m;
    cairn_header h;
    cairn_certificate cert;
    cairn_entry ae, te;

    if (b->version != BUNDLE_VERSION) {
        err = bad(&v, CAIRN_EBUNDLE, "unsupported bundle version %u", b->version);
        goto out;
    }
    if (!b->chain_id || strcmp(b->chain_id, g->chain_id) != 0) {
        err = bad(&v, CAIRN_ECHAIN_ID, "bundle is for chain \"%s\", genesis is \"%s\"",
                  b->chain_id ? b->chain_id : "", g->chain_id);
        goto out;
    }
    /* 1. The validator-set changes, walked from the genesis set: each change block certified by
     * the set in force, naming (valset_hash) the set it installs (ledger/chain.h). */
    if (!(set = malloc(sizeof *set))) {
        err = CAIRN_ENOMEM;
        goto out;
    }
    *set = *g;
    uint64_t last_change = 0;
    size_t nc = b->n_valset_change_headers;
    if (b->n_valset_change_certificates != nc || b->n_valset_change_sets != nc) {
        err =
            bad(&v, CAIRN_EBUNDLE, "validator-set changes: %zu headers, %zu certificates, %zu sets",
                nc, b->n_valset_change_certificates, b->n_valset_change_sets);
        goto out;
    }
    for (size_t i = 0; i < nc; i++) {
        cairn_header ch;
        uint8_t ch_hash[32], set_hash[32];
        if (cairn_header_decode(&ch, b->valset_change_headers[i].data,
                                b->valset_change_headers[i].len) != 0 ||
            strcmp(ch.chain_id, g->chain_id) != 0 || ch.epoch != i + 1 ||
            ch.height <= last_change) {
            err = bad(&v, CAIRN_EBUNDLE,
                      "validator-set change %zu: not the header of epoch %zu's change block", i,
                      i + 1);
            goto out;
        }
        cairn_header_hash(&ch, ch_hash);
        if (cairn_certificate_decode(&cert, b->valset_change_certificates[i].data,
                                     b->valset_change_certificates[i].len) != 0 ||
            cairn_certificate_verify(&cert, set, ch.height, ch_hash, verify_cb, (void *)sig) != 0) {
            err = bad(&v, CAIRN_ECERTIFICATE,
                      "validator-set change %zu (height %llu): not certified by more than 2/3 of "
                      "the set of epoch %zu",
                      i, (unsigned long long)ch.height, i);
            goto out;
        }
        size_t n;
        if (valset_decode(set->validators, CAIRN_GENESIS_MAX_VALIDATORS, &n,
                          b->valset_change_sets[i].data, b->valset_change_sets[i].len) != 0) {
            err = bad(&v, CAIRN_EBUNDLE, "validator-set change %zu: malformed set", i);
            goto out;
        }
        set->n_validators = n;
        cairn_valset_hash(set->validators, n, set_hash);
        if (memcmp(set_hash, ch.valset_hash, 32) != 0) {
            err = bad(&v, CAIRN_EVALSET_HASH,
                      "validator-set change %zu: the set is not the one its header names", i);
            goto out;
        }
        last_change = ch.height;
    }
    s->epoch = nc;

    /* 2. The checkpoint: header signed by more than two thirds of the set in force. */
    if (cairn_header_decode(&h, b->header.data, b->header.len) != 0 ||
        strcmp(h.chain_id, g->chain_id) != 0) {
        err = bad(&v, CAIRN_EBUNDLE, "malformed checkpoint header");
        goto out;
    }
    uint8_t valset[32];
    cairn_valset_hash(set->validators, set->n_validators, valset);
    if (memcmp(valset, h.valset_hash, 32) != 0 || h.height <= last_change) {
        err = bad(&v, CAIRN_EVALSET_CHANGED,
                  nc ? "checkpoint names a validator set the bundle's %zu change(s) do not reach"
                     : "checkpoint's validator set is not the genesis set (%zu changes given)",
                  nc);
        goto out;
    }
    cairn_header_hash(&h, s->block_hash);
    if (cairn_certificate_decode(&cert, b->certificate.data, b->certificate.len) != 0) {
        err = bad(&v, CAIRN_ECERTIFICATE, "malformed commit certificate");
        goto out;
    }
    if ((err = cairn_certificate_verify(&cert, set, h.height, s->block_hash, verify_cb,
                                        (void *)sig))) {
        err = bad(&v, err,
                  "commit certificate does not certify the checkpoint with more than 2/3 of the "
                  "voting power");
        goto out;
    }
    s->height = h.height;
    s->log_size = h.log_size;
    s->signatures = cert.n;

    /* 3. The anchor: in the checkpoint's log, in that block, applied, signed, for this digest. */
    if ((err = check_inclusion(&v, "anchor", &h, b->anchor_index, b->anchor_leaf, b->anchor_proof,
                               b->n_anchor_proof)) ||
        (err = check_tx_entry(&v, "anchor", sig, g->chain_id, b->anchor_leaf, &ae, &abody)))
        goto out;
    if (ae.height != h.height) {
        err = bad(&v, CAIRN_EBUNDLE, "anchor is not in the checkpoint's block");
        goto out;
    }
    const Cairn__V1__DataAnchor *a = abody->data_anchor;
    if (abody->payload_case != CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR || !a->data_digest ||
        a->device_id.len != 32) {
        err = bad(&v, CAIRN_EBUNDLE, "anchor entry is not a data anchor");
        goto out;
    }
    if (a->data_digest->value.len != b->data_digest.len || b->data_digest.len == 0 ||
        b->data_digest.len > sizeof s->data_digest ||
        memcmp(a->data_digest->value.data, b->data_digest.data, b->data_digest.len) != 0) {
        err = bad(&v, CAIRN_EBUNDLE, "anchor is for another digest");
        goto out;
    }
    s->log_index = b->anchor_index;
    memcpy(s->data_digest, b->data_digest.data, b->data_digest.len);
    s->data_digest_len = b->data_digest.len;
    s->stream_id_len = a->stream_id.len > 32 ? 32 : a->stream_id.len;
    memcpy(s->stream_id, a->stream_id.data, s->stream_id_len);
    s->sequence = a->sequence;
    s->time_start_ms = a->time_start_ms;
    s->time_end_ms = a->time_end_ms;

    /* 4. The device and its owner, as of the checkpoint. */
    if ((err = check_record(&v, "device", &h, CAIRN_REC_DEVICE, a->device_id.data, b->device_record,
                            b->device_proof)))
        goto out;
    if (cairn_device_decode(&s->device, b->device_record.data, b->device_record.len) != 0 ||
        memcmp(s->device.id, a->device_id.data, 32) != 0) {
        err = bad(&v, CAIRN_EBUNDLE, "device record does not match the anchor's device");
        goto out;
    }
    s->signer_key_index = signer_key(&s->device, &ae, h.height);
    if (s->signer_key_index < 0) {
        err = bad(&v, CAIRN_EBUNDLE, "anchor was not signed by a key of the device");
        goto out;
    }
    if ((err = check_record(&v, "owner", &h, CAIRN_REC_ORG, s->device.owner, b->owner_record,
                            b->owner_proof)))
        goto out;
    if (cairn_org_decode(&s->owner, b->owner_record.data, b->owner_record.len) != 0 ||
        memcmp(s->owner.id, s->device.owner, 32) != 0) {
        err = bad(&v, CAIRN_EBUNDLE, "owner record does not match the device's owner");
        goto out;
    }

    /* 5. The latest attestation and the release it matched. */
    const cairn_attestation_rec *at = &s->device.attestation;
    static const uint8_t zero[32];
    if (at->height == 0) {
        if (b->attestation_index || b->attestation_leaf.len || b->n_attestation_proof ||
            b->release_record.len || b->release_proof.len) {
            err = bad(&v, CAIRN_EBUNDLE,
                      "bundle carries an attestation the device record does not name");
            goto out;
        }
    } else {
        if (b->attestation_index != at->log_index) {
            err = bad(&v, CAIRN_EBUNDLE, "attestation is not the device's latest");
            goto out;
        }
        if ((err = check_inclusion(&v, "attestation", &h, b->attestation_index, b->attestation_leaf,
                                   b->attestation_proof, b->n_attestation_proof)) ||
            (err = check_tx_entry(&v, "attestation", sig, g->chain_id, b->attestation_leaf, &te,
                                  &tbody)))
            goto out;
        if (tbody->payload_case != CAIRN__V1__TX_BODY__PAYLOAD_ATTESTATION ||
            tbody->attestation->device_id.len != 32 ||
            memcmp(tbody->attestation->device_id.data, s->device.id, 32) != 0 ||
            te.height != at->height || signer_key(&s->device, &te, te.height) < 0) {
            err = bad(&v, CAIRN_EBUNDLE, "attestation entry is not the device's own attestation");
            goto out;
        }
        s->has_attestation = 1;
        s->attestation_height = at->height;
        s->attestation_after_anchor = b->attestation_index > b->anchor_index;
        if (memcmp(at->release_id, zero, 32) != 0) {
            if ((err = check_record(&v, "release", &h, CAIRN_REC_FIRMWARE, at->release_id,
                                    b->release_record, b->release_proof)))
                goto out;
            if (cairn_firmware_decode(&s->release, b->release_record.data, b->release_record.len) !=
                    0 ||
                memcmp(s->release.id, at->release_id, 32) != 0) {
                err = bad(&v, CAIRN_EBUNDLE, "release record does not match the attestation");
                goto out;
            }
            s->has_release = 1;
        } else if (b->release_record.len || b->release_proof.len) {
            err = bad(&v, CAIRN_EBUNDLE, "bundle carries a release the attestation did not match");
            goto out;
        }
    }
    err = 0;
out:
    if (abody) protobuf_c_message_free_unpacked(&abody->base, NULL);
    if (tbody) protobuf_c_message_free_unpacked(&tbody->base, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    free(set);
    return err;
}

int cairn_bundle_to_json(const uint8_t *bundle, size_t len, char **json)
{
    ProtobufCMessage *m;
    int err = cairn_pb_decode(&cairn__v1__provenance_bundle__descriptor, bundle, len,
                              BUNDLE_MAX_BYTES, &m);
    if (err) return err;
    json_t *o = cairn_pb_to_json(m);
    protobuf_c_message_free_unpacked(m, NULL);
    if (!o) return CAIRN_ENOMEM;
    *json = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return *json ? 0 : CAIRN_ENOMEM;
}

int cairn_bundle_from_json(const char *json, size_t len, cairn_buf *out)
{
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) return CAIRN_EJSON;
    ProtobufCMessage *m;
    int err = cairn_pb_from_json(&cairn__v1__provenance_bundle__descriptor, o, &m);
    json_decref(o);
    if (err) return err;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        protobuf_c_message_free_unpacked(m, NULL);
        return CAIRN_ENOMEM;
    }
    protobuf_c_message_pack(m, buf);
    protobuf_c_message_free_unpacked(m, NULL);
    cairn_buf_put(out, buf, n);
    free(buf);
    return cairn_buf_finish(out);
}
