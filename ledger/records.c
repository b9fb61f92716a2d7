#include "ledger/records.h"

#include <string.h>

void cairn_rec_key(uint8_t key[CAIRN_HASH_LEN], cairn_rec_kind kind,
                   const uint8_t id[CAIRN_HASH_LEN])
{
    uint8_t buf[33];
    buf[0] = (uint8_t)kind;
    memcpy(buf + 1, id, 32);
    cairn_sha256_tagged(key, "CAIRN-STATE-KEY-V1", buf, sizeof buf);
}

const char *cairn_appraisal_name(cairn_appraisal a)
{
    switch (a) {
    case CAIRN_APPRAISAL_NONE:
        return "none";
    case CAIRN_APPRAISAL_TRUSTED:
        return "trusted";
    case CAIRN_APPRAISAL_UNKNOWN_FIRMWARE:
        return "unknown_firmware";
    case CAIRN_APPRAISAL_REVOKED_FIRMWARE:
        return "revoked_firmware";
    case CAIRN_APPRAISAL_STALE:
        return "stale";
    case CAIRN_APPRAISAL_DEVICE_NOT_ACTIVE:
        return "device_not_active";
    }
    return "invalid";
}

int cairn_str_set(cairn_str *s, const char *text, size_t len)
{
    if (len > CAIRN_REC_MAX_NAME) return CAIRN_ETOOBIG;
    memcpy(s->s, text, len);
    s->s[len] = '\0';
    s->len = (uint8_t)len;
    return 0;
}

static void str_put(cairn_buf *b, const cairn_str *s)
{
    cairn_buf_str8(b, s->s, s->len);
}

static void str_get(cairn_rd *r, cairn_str *s)
{
    size_t len;
    const uint8_t *p = cairn_rd_str8(r, &len);
    if (len > CAIRN_REC_MAX_NAME && !r->err) r->err = CAIRN_ETOOBIG;
    if (r->err) {
        memset(s, 0, sizeof *s);
        return;
    }
    memcpy(s->s, p, len);
    s->s[len] = '\0';
    s->len = (uint8_t)len;
}

void cairn_pubkey_put(cairn_buf *b, const cairn_pubkey *k)
{
    cairn_buf_u8(b, k->alg);
    cairn_buf_bytes16(b, k->key, k->len);
}

void cairn_pubkey_get(cairn_rd *r, cairn_pubkey *k)
{
    k->alg = cairn_rd_u8(r);
    size_t len;
    const uint8_t *p = cairn_rd_bytes16(r, &len, CAIRN_REC_MAX_KEY);
    k->len = (uint8_t)len;
    if (p) memcpy(k->key, p, len);
}

void cairn_digest_put(cairn_buf *b, const cairn_digest *d)
{
    cairn_buf_u8(b, d->alg);
    cairn_buf_str8(b, d->value, d->len);
}

void cairn_digest_get(cairn_rd *r, cairn_digest *d)
{
    d->alg = cairn_rd_u8(r);
    size_t len;
    const uint8_t *p = cairn_rd_str8(r, &len);
    if (len > CAIRN_REC_MAX_DIGEST && !r->err) r->err = CAIRN_ETOOBIG;
    d->len = r->err ? 0 : (uint8_t)len;
    if (p && !r->err) memcpy(d->value, p, len);
}

/* A count prefix checked against its array bound. */
static uint8_t count_get(cairn_rd *r, unsigned max)
{
    uint8_t n = cairn_rd_u8(r);
    if (n > max && !r->err) r->err = CAIRN_ETOOBIG;
    return r->err ? 0 : n;
}

static int rd_done(cairn_rd *r, void *rec, size_t size)
{
    int err = cairn_rd_finish(r);
    if (err) memset(rec, 0, size);
    return err;
}

void cairn_org_encode(cairn_buf *b, const cairn_org *o)
{
    cairn_buf_tag(b, "CAIRN-ORG-V1");
    cairn_buf_put(b, o->id, 32);
    str_put(b, &o->name);
    cairn_buf_u32(b, o->roles);
    cairn_buf_u8(b, o->n_admins);
    for (unsigned i = 0; i < o->n_admins; i++) cairn_pubkey_put(b, &o->admins[i]);
    cairn_buf_u8(b, o->require_trusted_attestation);
    cairn_buf_u8(b, o->active);
}

int cairn_org_decode(cairn_org *o, const uint8_t *p, size_t len)
{
    memset(o, 0, sizeof *o);
    cairn_rd r = cairn_rd_init(p, len);
    cairn_rd_tag(&r, "CAIRN-ORG-V1");
    cairn_rd_copy(&r, o->id, 32);
    str_get(&r, &o->name);
    o->roles = cairn_rd_u32(&r);
    o->n_admins = count_get(&r, CAIRN_REC_MAX_ADMINS);
    for (unsigned i = 0; i < o->n_admins; i++) cairn_pubkey_get(&r, &o->admins[i]);
    o->require_trusted_attestation = cairn_rd_u8(&r);
    o->active = cairn_rd_u8(&r);
    return rd_done(&r, o, sizeof *o);
}

void cairn_validator_encode(cairn_buf *b, const cairn_validator *v)
{
    cairn_buf_tag(b, "CAIRN-VALIDATOR-REC-V1");
    cairn_buf_put(b, v->id, 32);
    cairn_buf_put(b, v->org, 32);
    cairn_pubkey_put(b, &v->key);
    cairn_buf_put(b, v->noise_key, 32);
    cairn_buf_u64(b, v->power);
    str_put(b, &v->address);
}

int cairn_validator_decode(cairn_validator *v, const uint8_t *p, size_t len)
{
    memset(v, 0, sizeof *v);
    cairn_rd r = cairn_rd_init(p, len);
    cairn_rd_tag(&r, "CAIRN-VALIDATOR-REC-V1");
    cairn_rd_copy(&r, v->id, 32);
    cairn_rd_copy(&r, v->org, 32);
    cairn_pubkey_get(&r, &v->key);
    cairn_rd_copy(&r, v->noise_key, 32);
    v->power = cairn_rd_u64(&r);
    str_get(&r, &v->address);
    return rd_done(&r, v, sizeof *v);
}

static void attestation_put(cairn_buf *b, const cairn_attestation_rec *a)
{
    cairn_buf_u64(b, a->height);
    cairn_buf_u64(b, a->log_index);
    cairn_buf_u8(b, a->appraisal);
    cairn_buf_put(b, a->release_id, 32);
    cairn_digest_put(b, &a->measurement);
    cairn_digest_put(b, &a->evidence);
}

static void attestation_get(cairn_rd *r, cairn_attestation_rec *a)
{
    a->height = cairn_rd_u64(r);
    a->log_index = cairn_rd_u64(r);
    a->appraisal = cairn_rd_u8(r);
    cairn_rd_copy(r, a->release_id, 32);
    cairn_digest_get(r, &a->measurement);
    cairn_digest_get(r, &a->evidence);
}

void cairn_device_encode(cairn_buf *b, const cairn_device *d)
{
    cairn_buf_tag(b, "CAIRN-DEVICE-V1");
    cairn_buf_put(b, d->id, 32);
    cairn_buf_put(b, d->owner, 32);
    cairn_buf_u8(b, d->status);
    str_put(b, &d->status_reason);
    str_put(b, &d->device_class);
    str_put(b, &d->model);
    str_put(b, &d->manufacturer);
    cairn_digest_put(b, &d->metadata);
    cairn_buf_u8(b, d->n_ids);
    for (unsigned i = 0; i < d->n_ids; i++) {
        cairn_buf_u8(b, d->ids[i].scheme);
        cairn_buf_put(b, d->ids[i].commitment, 32);
    }
    cairn_buf_u8(b, d->n_keys);
    for (unsigned i = 0; i < d->n_keys; i++) {
        cairn_pubkey_put(b, &d->keys[i].key);
        cairn_buf_u64(b, d->keys[i].since_height);
    }
    cairn_buf_u64(b, d->registered_height);
    cairn_buf_put(b, d->transfer_to, 32);
    cairn_buf_put(b, d->transfer_offer, 32);
    attestation_put(b, &d->attestation);
}

int cairn_device_decode(cairn_device *d, const uint8_t *p, size_t len)
{
    memset(d, 0, sizeof *d);
    cairn_rd r = cairn_rd_init(p, len);
    cairn_rd_tag(&r, "CAIRN-DEVICE-V1");
    cairn_rd_copy(&r, d->id, 32);
    cairn_rd_copy(&r, d->owner, 32);
    d->status = cairn_rd_u8(&r);
    str_get(&r, &d->status_reason);
    str_get(&r, &d->device_class);
    str_get(&r, &d->model);
    str_get(&r, &d->manufacturer);
    cairn_digest_get(&r, &d->metadata);
    d->n_ids = count_get(&r, CAIRN_REC_MAX_IDS);
    for (unsigned i = 0; i < d->n_ids; i++) {
        d->ids[i].scheme = cairn_rd_u8(&r);
        cairn_rd_copy(&r, d->ids[i].commitment, 32);
    }
    d->n_keys = count_get(&r, CAIRN_REC_MAX_KEY_HISTORY);
    for (unsigned i = 0; i < d->n_keys; i++) {
        cairn_pubkey_get(&r, &d->keys[i].key);
        d->keys[i].since_height = cairn_rd_u64(&r);
    }
    d->registered_height = cairn_rd_u64(&r);
    cairn_rd_copy(&r, d->transfer_to, 32);
    cairn_rd_copy(&r, d->transfer_offer, 32);
    attestation_get(&r, &d->attestation);
    int err = rd_done(&r, d, sizeof *d);
    if (!err && d->n_keys == 0) err = CAIRN_EDECODE; /* a device always has a key */
    return err;
}

void cairn_firmware_encode(cairn_buf *b, const cairn_firmware *f)
{
    cairn_buf_tag(b, "CAIRN-FIRMWARE-V1");
    cairn_buf_put(b, f->id, 32);
    cairn_buf_put(b, f->vendor, 32);
    str_put(b, &f->device_class);
    str_put(b, &f->version);
    cairn_buf_u64(b, f->security_version);
    cairn_digest_put(b, &f->image);
    cairn_digest_put(b, &f->suit);
    cairn_buf_u8(b, f->status);
    cairn_buf_u64(b, f->published_height);
    cairn_buf_u64(b, f->revoked_height);
    cairn_buf_str8(b, f->reason, f->reason_len);
}

int cairn_firmware_decode(cairn_firmware *f, const uint8_t *p, size_t len)
{
    memset(f, 0, sizeof *f);
    cairn_rd r = cairn_rd_init(p, len);
    cairn_rd_tag(&r, "CAIRN-FIRMWARE-V1");
    cairn_rd_copy(&r, f->id, 32);
    cairn_rd_copy(&r, f->vendor, 32);
    str_get(&r, &f->device_class);
    str_get(&r, &f->version);
    f->security_version = cairn_rd_u64(&r);
    cairn_digest_get(&r, &f->image);
    cairn_digest_get(&r, &f->suit);
    f->status = cairn_rd_u8(&r);
    f->published_height = cairn_rd_u64(&r);
    f->revoked_height = cairn_rd_u64(&r);
    size_t rl;
    const uint8_t *reason = cairn_rd_str8(&r, &rl);
    if (rl > CAIRN_REC_MAX_REASON && !r.err) r.err = CAIRN_ETOOBIG;
    if (reason && !r.err) {
        memcpy(f->reason, reason, rl);
        f->reason_len = (uint8_t)rl;
    }
    return rd_done(&r, f, sizeof *f);
}

void cairn_stream_encode(cairn_buf *b, const cairn_stream *s)
{
    cairn_buf_tag(b, "CAIRN-STREAM-V1");
    cairn_buf_u64(b, s->last_sequence);
    cairn_buf_u64(b, s->anchors);
    cairn_buf_u64(b, s->gaps);
}

int cairn_stream_decode(cairn_stream *s, const uint8_t *p, size_t len)
{
    cairn_rd r = cairn_rd_init(p, len);
    cairn_rd_tag(&r, "CAIRN-STREAM-V1");
    s->last_sequence = cairn_rd_u64(&r);
    s->anchors = cairn_rd_u64(&r);
    s->gaps = cairn_rd_u64(&r);
    return rd_done(&r, s, sizeof *s);
}

void cairn_gov_proposal_encode(cairn_buf *b, const cairn_gov_proposal *p)
{
    cairn_buf_tag(b, "CAIRN-PROPOSAL-V1");
    cairn_buf_put(b, p->id, 32);
    cairn_buf_put(b, p->proposer, 32);
    cairn_buf_u8(b, p->status);
    cairn_buf_u8(b, p->n_approvals);
    for (unsigned i = 0; i < p->n_approvals; i++) cairn_buf_put(b, p->approvals[i], 32);
    cairn_buf_u8(b, p->n_rejections);
    for (unsigned i = 0; i < p->n_rejections; i++) cairn_buf_put(b, p->rejections[i], 32);
    cairn_buf_bytes16(b, p->action, p->action_len);
}

int cairn_gov_proposal_decode(cairn_gov_proposal *p, const uint8_t *in, size_t len)
{
    memset(p, 0, sizeof *p);
    cairn_rd r = cairn_rd_init(in, len);
    cairn_rd_tag(&r, "CAIRN-PROPOSAL-V1");
    cairn_rd_copy(&r, p->id, 32);
    cairn_rd_copy(&r, p->proposer, 32);
    p->status = cairn_rd_u8(&r);
    p->n_approvals = count_get(&r, CAIRN_REC_MAX_APPROVALS);
    for (unsigned i = 0; i < p->n_approvals; i++) cairn_rd_copy(&r, p->approvals[i], 32);
    p->n_rejections = count_get(&r, CAIRN_REC_MAX_APPROVALS);
    for (unsigned i = 0; i < p->n_rejections; i++) cairn_rd_copy(&r, p->rejections[i], 32);
    size_t al;
    const uint8_t *a = cairn_rd_bytes16(&r, &al, sizeof p->action);
    if (a) {
        memcpy(p->action, a, al);
        p->action_len = (uint32_t)al;
    }
    return rd_done(&r, p, sizeof *p);
}

void cairn_policy_encode(cairn_buf *b, const cairn_policy *p)
{
    cairn_buf_tag(b, "CAIRN-POLICY-V1");
    cairn_buf_u32(b, p->approvals_required);
    cairn_buf_u64(b, p->epoch_length_blocks);
}

int cairn_policy_decode(cairn_policy *p, const uint8_t *in, size_t len)
{
    cairn_rd r = cairn_rd_init(in, len);
    cairn_rd_tag(&r, "CAIRN-POLICY-V1");
    p->approvals_required = cairn_rd_u32(&r);
    p->epoch_length_blocks = cairn_rd_u64(&r);
    return rd_done(&r, p, sizeof *p);
}

void cairn_org_id(uint8_t out[32], const char *name, size_t len)
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_buf_tag(&b, "CAIRN-ORG-ID-V1");
    cairn_buf_str8(&b, name, len > 255 ? 255 : len);
    cairn_sha256_oneshot(out, b.p, b.len);
    cairn_buf_free(&b);
}

void cairn_validator_id(uint8_t out[32], const uint8_t *key, size_t len)
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_buf_tag(&b, "CAIRN-VALIDATOR-V1");
    cairn_buf_bytes16(&b, key, len);
    cairn_sha256_oneshot(out, b.p, b.len);
    cairn_buf_free(&b);
}

void cairn_device_id(uint8_t out[32], const char *chain_id, const uint8_t owner[32],
                     const uint8_t first_id_commitment[32])
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_buf_tag(&b, "CAIRN-DEVICE-ID-V1");
    cairn_buf_str8(&b, chain_id, strlen(chain_id));
    cairn_buf_put(&b, owner, 32);
    cairn_buf_put(&b, first_id_commitment, 32);
    cairn_sha256_oneshot(out, b.p, b.len);
    cairn_buf_free(&b);
}

void cairn_release_id(uint8_t out[32], const uint8_t vendor[32], const cairn_str *device_class,
                      const cairn_str *version)
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_buf_tag(&b, "CAIRN-FW-ID-V1");
    cairn_buf_put(&b, vendor, 32);
    str_put(&b, device_class);
    str_put(&b, version);
    cairn_sha256_oneshot(out, b.p, b.len);
    cairn_buf_free(&b);
}

void cairn_ext_id_commitment(uint8_t out[32], uint8_t scheme, const uint8_t *value, size_t len,
                             const uint8_t salt[32])
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_buf_tag(&b, "CAIRN-EXTID-V1");
    cairn_buf_u8(&b, scheme);
    cairn_buf_bytes16(&b, value, len);
    cairn_buf_put(&b, salt, 32);
    cairn_sha256_oneshot(out, b.p, b.len);
    cairn_buf_free(&b);
}

void cairn_id_pair(uint8_t out[32], const char *tag, const uint8_t *a, size_t alen,
                   const uint8_t *b, size_t blen)
{
    cairn_sha256 h;
    cairn_sha256_init(&h);
    cairn_sha256_update(&h, tag, strlen(tag) + 1);
    uint8_t l[2] = {(uint8_t)(alen >> 8), (uint8_t)alen};
    cairn_sha256_update(&h, l, 2);
    cairn_sha256_update(&h, a, alen);
    cairn_sha256_update(&h, b, blen);
    cairn_sha256_final(&h, out);
}

void cairn_stream_id(uint8_t out[32], const uint8_t device[32], const uint8_t *stream, size_t len)
{
    cairn_id_pair(out, "CAIRN-STREAM-ID-V1", device, 32, stream, len);
}
