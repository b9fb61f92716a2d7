#include "ledger/rules.h"

#include <string.h>

#include "ledger/chain.h"
#include "ledger/codec.h"
#include "ledger/hash.h"

typedef const cairn_rules_env env_t;

int cairn_rules_is_fatal(int err)
{
    return err == CAIRN_ENOMEM || err == CAIRN_EIO || err == CAIRN_ENOSPC ||
           (err <= -200 && err > -300) || err == CAIRN_EINTERNAL;
}

/* ---- field helpers ---- */

static int id32(ProtobufCBinaryData b, uint8_t out[32])
{
    if (b.len != 32) return CAIRN_EFIELD;
    memcpy(out, b.data, 32);
    return 0;
}

static int str_from(const char *s, cairn_str *out, int required)
{
    size_t len = s ? strlen(s) : 0;
    if ((required && len == 0) || cairn_str_set(out, s ? s : "", len) != 0) return CAIRN_EFIELD;
    return 0;
}

static int pubkey_from(const Cairn__V1__PublicKey *pk, cairn_pubkey *out)
{
    if (!pk || pk->key.len == 0 || pk->key.len > CAIRN_REC_MAX_KEY) return CAIRN_EFIELD;
    if (!cairn_sig_alg_name((cairn_sig_alg)pk->alg)) return CAIRN_ESIG_ALG;
    memset(out, 0, sizeof *out);
    out->alg = (uint8_t)pk->alg;
    out->len = (uint8_t)pk->key.len;
    memcpy(out->key, pk->key.data, pk->key.len);
    return 0;
}

static size_t digest_size(int alg)
{
    switch (alg) {
    case CAIRN__V1__DIGEST__ALG__ALG_SHA256:
    case CAIRN__V1__DIGEST__ALG__ALG_SHA3_256:
        return 32;
    case CAIRN__V1__DIGEST__ALG__ALG_SHA384:
        return 48;
    case CAIRN__V1__DIGEST__ALG__ALG_SHA512:
        return 64;
    default:
        return 0;
    }
}

static int digest_from(const Cairn__V1__Digest *d, cairn_digest *out, int required)
{
    memset(out, 0, sizeof *out);
    if (!d) return required ? CAIRN_EFIELD : 0;
    size_t n = digest_size(d->alg);
    if (n == 0 || d->value.len != n) return CAIRN_EFIELD;
    out->alg = (uint8_t)d->alg;
    out->len = (uint8_t)n;
    memcpy(out->value, d->value.data, n);
    return 0;
}

static int same_key(const cairn_pubkey *k, const cairn_tx *tx)
{
    return k->alg == (uint8_t)tx->env->alg && k->len == tx->env->signer.len &&
           memcmp(k->key, tx->env->signer.data, k->len) == 0;
}

/* Loads an active organization and checks that the transaction is signed by one of its admins. */
static int org_admin(env_t *env, const uint8_t org_id[32], const cairn_tx *tx, cairn_org *org)
{
    int err = cairn_state_get_org(env->st, org_id, org);
    if (err == CAIRN_ENOENT || (!err && !org->active)) return CAIRN_EUNKNOWN_ORG;
    if (err) return err;
    for (unsigned i = 0; i < org->n_admins; i++)
        if (same_key(&org->admins[i], tx)) return 0;
    return CAIRN_ESIGNER;
}

static int load_device(env_t *env, ProtobufCBinaryData id, cairn_device *d)
{
    uint8_t did[32];
    if (id32(id, did)) return CAIRN_EFIELD;
    int err = cairn_state_get_device(env->st, did, d);
    return err == CAIRN_ENOENT ? CAIRN_EUNKNOWN_DEVICE : err;
}

static const cairn_pubkey *device_key(const cairn_device *d)
{
    return &d->keys[d->n_keys - 1].key;
}

/* Proof of possession (docs/formats.md): the new key signs the chain, its owner and itself. */
static int check_pop(env_t *env, const uint8_t owner[32], const cairn_pubkey *key,
                     ProtobufCBinaryData sig)
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_pop_input(&b, env->chain_id, owner, key->alg, key->key, key->len);
    int err = cairn_buf_finish(&b);
    if (!err)
        err = cairn_input_verify(env->sig, (cairn_sig_alg)key->alg, key->key, key->len, b.p, b.len,
                                 sig.data, sig.len) == 0
                  ? 0
                  : CAIRN_EPOP;
    cairn_buf_free(&b);
    return err;
}

/* A key the ledger will store must pass the registration check. */
static int check_new_key(env_t *env, const cairn_pubkey *k)
{
    return cairn_sig_key_check(env->sig, (cairn_sig_alg)k->alg, k->key, k->len);
}

/* ---- devices ---- */

static int device_register(env_t *env, const cairn_tx *tx, const Cairn__V1__DeviceRegister *m,
                           cairn_tx_effects *fx)
{
    cairn_device d;
    memset(&d, 0, sizeof d);
    cairn_org org;
    int err;
    if ((err = id32(m->owner_org, d.owner)) || (err = org_admin(env, d.owner, tx, &org)))
        return err;
    if (!(org.roles & CAIRN_ROLE_OPERATOR)) return CAIRN_EROLE;
    cairn_pubkey key;
    if ((err = pubkey_from(m->device_key, &key)) || (err = check_new_key(env, &key))) return err;
    if ((err = check_pop(env, d.owner, &key, m->pop_signature))) return err;
    if (m->n_identifiers == 0 || m->n_identifiers > CAIRN_REC_MAX_IDS) return CAIRN_EFIELD;
    for (size_t i = 0; i < m->n_identifiers; i++) {
        const Cairn__V1__ExternalIdCommitment *c = m->identifiers[i];
        if (c->scheme < CAIRN__V1__ID_SCHEME__ID_SCHEME_UEID ||
            c->scheme > CAIRN__V1__ID_SCHEME__ID_SCHEME_HANDLE || c->commitment.len != 32)
            return CAIRN_EFIELD;
        d.ids[i].scheme = (uint8_t)c->scheme;
        memcpy(d.ids[i].commitment, c->commitment.data, 32);
    }
    d.n_ids = (uint8_t)m->n_identifiers;
    if ((err = str_from(m->device_class, &d.device_class, 1)) ||
        (err = str_from(m->model, &d.model, 0)) ||
        (err = str_from(m->manufacturer, &d.manufacturer, 0)) ||
        (err = digest_from(m->metadata_digest, &d.metadata, 0)))
        return err;
    cairn_device_id(d.id, env->chain_id, d.owner, d.ids[0].commitment);
    cairn_device existing;
    err = cairn_state_get_device(env->st, d.id, &existing);
    if (err == 0) return CAIRN_EDEVICE_EXISTS;
    if (err != CAIRN_ENOENT) return err;
    d.status = CAIRN_DEV_ACTIVE;
    d.n_keys = 1;
    d.keys[0].key = key;
    d.keys[0].since_height = env->height;
    d.registered_height = env->height;
    fx->has_device = 1;
    memcpy(fx->device_id, d.id, 32);
    return cairn_state_put_device(env->st, &d);
}

/* The device's current key, or an admin of its owner, signed the transaction. */
static int device_or_owner(env_t *env, const cairn_device *d, const cairn_tx *tx)
{
    if (same_key(device_key(d), tx)) return 0;
    cairn_org org;
    return org_admin(env, d->owner, tx, &org);
}

static int device_key_rotate(env_t *env, const cairn_tx *tx, const Cairn__V1__DeviceKeyRotate *m,
                             cairn_tx_effects *fx)
{
    cairn_device d;
    int err;
    if ((err = load_device(env, m->device_id, &d)) || (err = device_or_owner(env, &d, tx)))
        return err;
    if (d.status == CAIRN_DEV_REVOKED) return CAIRN_EDEVICE_NOT_ACTIVE;
    cairn_pubkey key;
    if ((err = pubkey_from(m->new_key, &key)) || (err = check_new_key(env, &key)) ||
        (err = check_pop(env, d.owner, &key, m->pop_signature)))
        return err;
    for (unsigned i = 0; i < d.n_keys; i++)
        if (d.keys[i].key.alg == key.alg && d.keys[i].key.len == key.len &&
            memcmp(d.keys[i].key.key, key.key, key.len) == 0)
            return CAIRN_EFIELD; /* a key is never reused */
    if (d.n_keys == CAIRN_REC_MAX_KEY_HISTORY) return CAIRN_EKEY_HISTORY_FULL;
    d.keys[d.n_keys].key = key;
    d.keys[d.n_keys].since_height = env->height;
    d.n_keys++;
    fx->has_device = 1;
    memcpy(fx->device_id, d.id, 32);
    return cairn_state_put_device(env->st, &d);
}

static int device_status(env_t *env, const cairn_tx *tx, const Cairn__V1__DeviceStatusChange *m,
                         cairn_tx_effects *fx)
{
    cairn_device d;
    cairn_org org;
    int err;
    if ((err = load_device(env, m->device_id, &d)) || (err = org_admin(env, d.owner, tx, &org)))
        return err;
    int to = m->status;
    if (to < CAIRN_DEV_ACTIVE || to > CAIRN_DEV_REVOKED) return CAIRN_EFIELD;
    /* Revocation is final; a change must change something. */
    if (d.status == CAIRN_DEV_REVOKED || d.status == to) return CAIRN_ESTATUS_TRANSITION;
    if ((err = str_from(m->reason, &d.status_reason, 0))) return err;
    d.status = (uint8_t)to;
    fx->has_device = 1;
    memcpy(fx->device_id, d.id, 32);
    return cairn_state_put_device(env->st, &d);
}

static int transfer_offer(env_t *env, const cairn_tx *tx, const Cairn__V1__DeviceTransferOffer *m,
                          cairn_tx_effects *fx)
{
    cairn_device d;
    cairn_org org, to;
    uint8_t to_id[32];
    int err;
    if ((err = load_device(env, m->device_id, &d)) || (err = org_admin(env, d.owner, tx, &org)) ||
        (err = id32(m->to_org, to_id)))
        return err;
    if (d.status == CAIRN_DEV_REVOKED) return CAIRN_EDEVICE_NOT_ACTIVE;
    err = cairn_state_get_org(env->st, to_id, &to);
    if (err == CAIRN_ENOENT || (!err && !to.active)) return CAIRN_EUNKNOWN_ORG;
    if (err) return err;
    if (!(to.roles & CAIRN_ROLE_OPERATOR)) return CAIRN_EROLE;
    if (memcmp(to_id, d.owner, 32) == 0) return CAIRN_ETRANSFER;
    memcpy(d.transfer_to, to_id, 32);
    memcpy(d.transfer_offer, tx->hash, 32);
    fx->has_device = 1;
    memcpy(fx->device_id, d.id, 32);
    return cairn_state_put_device(env->st, &d);
}

static int transfer_accept(env_t *env, const cairn_tx *tx, const Cairn__V1__DeviceTransferAccept *m,
                           cairn_tx_effects *fx)
{
    static const uint8_t zero[32];
    cairn_device d;
    cairn_org to;
    int err;
    if ((err = load_device(env, m->device_id, &d))) return err;
    if (memcmp(d.transfer_to, zero, 32) == 0 || m->offer_tx.len != 32 ||
        memcmp(m->offer_tx.data, d.transfer_offer, 32) != 0)
        return CAIRN_ETRANSFER;
    if ((err = org_admin(env, d.transfer_to, tx, &to))) return err;
    memcpy(d.owner, d.transfer_to, 32);
    memset(d.transfer_to, 0, 32);
    memset(d.transfer_offer, 0, 32);
    fx->has_device = 1;
    memcpy(fx->device_id, d.id, 32);
    return cairn_state_put_device(env->st, &d);
}

/* ---- firmware ---- */

static void digest_id(uint8_t out[32], const cairn_digest *d)
{
    cairn_id_pair(out, "CAIRN-FW-DIGEST-V1", &d->alg, 1, d->value, d->len);
}

static int firmware_publish(env_t *env, const cairn_tx *tx, const Cairn__V1__FirmwarePublish *m)
{
    cairn_firmware f;
    memset(&f, 0, sizeof f);
    cairn_org org;
    int err;
    if ((err = id32(m->vendor_org, f.vendor)) || (err = org_admin(env, f.vendor, tx, &org)))
        return err;
    if (!(org.roles & CAIRN_ROLE_VENDOR)) return CAIRN_EROLE;
    if ((err = str_from(m->device_class, &f.device_class, 1)) ||
        (err = str_from(m->version, &f.version, 1)) ||
        (err = digest_from(m->image_digest, &f.image, 1)) ||
        (err = digest_from(m->suit_manifest_digest, &f.suit, 0)))
        return err;
    cairn_release_id(f.id, f.vendor, &f.device_class, &f.version);
    cairn_firmware old;
    err = cairn_state_get_firmware(env->st, f.id, &old);
    if (err == 0) return CAIRN_EFW_EXISTS;
    if (err != CAIRN_ENOENT) return err;
    uint8_t did[32], line[32], other[32];
    digest_id(did, &f.image);
    err = cairn_state_get_id(env->st, CAIRN_REC_FW_DIGEST, did, other);
    if (err == 0) return CAIRN_EFW_EXISTS; /* one image is one release */
    if (err != CAIRN_ENOENT) return err;
    cairn_id_pair(line, "CAIRN-FW-LINE-V1", f.vendor, 32, (const uint8_t *)f.device_class.s,
                  f.device_class.len);
    uint64_t max_svn = 0;
    err = cairn_state_get_u64(env->st, CAIRN_REC_FW_LINE, line, &max_svn);
    if (err && err != CAIRN_ENOENT) return err;
    if (err == 0 && m->security_version < max_svn) return CAIRN_ESECURITY_VERSION;
    f.security_version = m->security_version;
    f.status = CAIRN_FW_PUBLISHED;
    f.published_height = env->height;
    if ((err = cairn_state_put_firmware(env->st, &f)) ||
        (err = cairn_state_put_id(env->st, CAIRN_REC_FW_DIGEST, did, f.id)))
        return err;
    return cairn_state_put_u64(env->st, CAIRN_REC_FW_LINE, line, f.security_version);
}

static int firmware_revoke(env_t *env, const cairn_tx *tx, const Cairn__V1__FirmwareRevoke *m)
{
    uint8_t id[32];
    cairn_firmware f;
    cairn_org org;
    int err;
    if ((err = id32(m->release_id, id))) return err;
    err = cairn_state_get_firmware(env->st, id, &f);
    if (err == CAIRN_ENOENT) return CAIRN_EFW_UNKNOWN;
    if (err || (err = org_admin(env, f.vendor, tx, &org))) return err;
    if (f.status == CAIRN_FW_REVOKED) return CAIRN_EFW_REVOKED;
    size_t rl = m->reason ? strlen(m->reason) : 0;
    if (rl > CAIRN_REC_MAX_REASON) return CAIRN_EFIELD;
    memcpy(f.reason, m->reason ? m->reason : "", rl);
    f.reason_len = (uint8_t)rl;
    f.status = CAIRN_FW_REVOKED;
    f.revoked_height = env->height;
    return cairn_state_put_firmware(env->st, &f);
}

/* ---- attestations and anchors ---- */

static int attestation(env_t *env, const cairn_tx *tx, const Cairn__V1__Attestation *m,
                       cairn_tx_effects *fx)
{
    cairn_device d;
    int err;
    if ((err = load_device(env, m->device_id, &d))) return err;
    if (!same_key(device_key(&d), tx)) return CAIRN_ESIGNER;
    if (m->n_measurements == 0 || m->n_measurements > 8 || m->freshness_block.len != 32)
        return CAIRN_EFIELD;
    cairn_digest meas[8], evidence;
    for (size_t i = 0; i < m->n_measurements; i++)
        if ((err = digest_from(m->measurements[i], &meas[i], 1))) return err;
    if ((err = digest_from(m->evidence_digest, &evidence, 0))) return err;

    cairn_attestation_rec a;
    memset(&a, 0, sizeof a);
    a.height = env->height;
    a.log_index = env->log_index;
    a.evidence = evidence;
    a.measurement = meas[0];
    uint64_t fresh_height;
    err = cairn_chain_height_of(env->t, m->freshness_block.data, &fresh_height);
    if (err && err != CAIRN_ENOENT) return err;
    if (d.status != CAIRN_DEV_ACTIVE) {
        a.appraisal = CAIRN_APPRAISAL_DEVICE_NOT_ACTIVE;
    } else if (err == CAIRN_ENOENT || fresh_height >= env->height ||
               env->height - fresh_height > CAIRN_ATTEST_FRESHNESS_BLOCKS) {
        a.appraisal = CAIRN_APPRAISAL_STALE;
    } else {
        /* Trusted if any measurement is a published, unrevoked release for the device's class;
         * else revoked if one matched a revoked release; else unknown. */
        a.appraisal = CAIRN_APPRAISAL_UNKNOWN_FIRMWARE;
        for (size_t i = 0; i < m->n_measurements; i++) {
            uint8_t did[32], rid[32];
            cairn_firmware f;
            digest_id(did, &meas[i]);
            err = cairn_state_get_id(env->st, CAIRN_REC_FW_DIGEST, did, rid);
            if (err == CAIRN_ENOENT) continue;
            if (err || (err = cairn_state_get_firmware(env->st, rid, &f))) return err;
            if (f.device_class.len != d.device_class.len ||
                memcmp(f.device_class.s, d.device_class.s, f.device_class.len) != 0)
                continue;
            int trusted = f.status == CAIRN_FW_PUBLISHED;
            if (trusted || a.appraisal != CAIRN_APPRAISAL_REVOKED_FIRMWARE) {
                a.appraisal = trusted ? CAIRN_APPRAISAL_TRUSTED : CAIRN_APPRAISAL_REVOKED_FIRMWARE;
                memcpy(a.release_id, rid, 32);
                a.measurement = meas[i];
            }
            if (trusted) break;
        }
    }
    d.attestation = a;
    fx->has_device = 1;
    memcpy(fx->device_id, d.id, 32);
    return cairn_state_put_device(env->st, &d);
}

static int data_anchor(env_t *env, const cairn_tx *tx, const Cairn__V1__DataAnchor *m,
                       cairn_tx_effects *fx)
{
    cairn_device d;
    cairn_org owner;
    cairn_digest dig;
    int err;
    if ((err = load_device(env, m->device_id, &d))) return err;
    if (!same_key(device_key(&d), tx)) return CAIRN_ESIGNER;
    if (d.status != CAIRN_DEV_ACTIVE) return CAIRN_EDEVICE_NOT_ACTIVE;
    if ((err = cairn_state_get_org(env->st, d.owner, &owner)))
        return err == CAIRN_ENOENT ? CAIRN_EUNKNOWN_ORG : err;
    if (owner.require_trusted_attestation && d.attestation.appraisal != CAIRN_APPRAISAL_TRUSTED)
        return CAIRN_EATTESTATION_REQUIRED;
    if (m->stream_id.len > 32 || m->sequence == 0 || m->time_start_ms > m->time_end_ms)
        return CAIRN_EFIELD;
    if ((err = digest_from(m->data_digest, &dig, 1))) return err;
    uint8_t sid[32];
    cairn_stream_id(sid, d.id, m->stream_id.data, m->stream_id.len);
    /* Stream counters live in a plain table, not in the state tree: they are updated by every
     * anchor, a verifier never needs to prove them, and any divergence between nodes would
     * still show in the log root (every leaf carries its result). */
    cairn_stream st = {0, 0, 0};
    const void *sv;
    size_t svl;
    err = cairn_txn_get(env->t, CAIRN_TABLE_STREAMS, sid, 32, &sv, &svl);
    if (!err && cairn_stream_decode(&st, sv, svl) != 0) err = CAIRN_ESTORE_CORRUPT;
    if (err && err != CAIRN_ENOENT) return err;
    if (m->sequence <= st.last_sequence) return CAIRN_EANCHOR_SEQUENCE;
    if (m->sequence != st.last_sequence + 1) st.gaps++;
    st.last_sequence = m->sequence;
    st.anchors++;
    fx->has_device = 1;
    memcpy(fx->device_id, d.id, 32);
    fx->has_anchor = 1;
    memcpy(fx->anchor_digest, dig.value, dig.len);
    fx->anchor_digest_len = dig.len;
    cairn_buf sb = CAIRN_BUF_INIT;
    cairn_stream_encode(&sb, &st);
    err = cairn_buf_finish(&sb);
    if (!err) err = cairn_txn_put(env->t, CAIRN_TABLE_STREAMS, sid, 32, sb.p, sb.len, 0);
    cairn_buf_free(&sb);
    return err;
}

/* ---- organizations and governance ---- */

static int org_from_pb(env_t *env, const Cairn__V1__Organization *m, cairn_org *o)
{
    memset(o, 0, sizeof *o);
    int err;
    if (!m || (err = str_from(m->name, &o->name, 1))) return CAIRN_EFIELD;
    cairn_org_id(o->id, o->name.s, o->name.len);
    for (size_t i = 0; i < m->n_roles; i++) {
        if (m->roles[i] < CAIRN__V1__ORG_ROLE__ORG_ROLE_OPERATOR ||
            m->roles[i] > CAIRN__V1__ORG_ROLE__ORG_ROLE_SERVICE)
            return CAIRN_EFIELD;
        o->roles |= 1u << m->roles[i];
    }
    if (m->n_admin_keys == 0 || m->n_admin_keys > CAIRN_REC_MAX_ADMINS || o->roles == 0)
        return CAIRN_EFIELD;
    for (size_t i = 0; i < m->n_admin_keys; i++)
        if ((err = pubkey_from(m->admin_keys[i], &o->admins[i])) ||
            (err = check_new_key(env, &o->admins[i])))
            return err;
    o->n_admins = (uint8_t)m->n_admin_keys;
    o->require_trusted_attestation = m->require_trusted_attestation ? 1 : 0;
    o->active = 1;
    return 0;
}

static int org_key_rotate(env_t *env, const cairn_tx *tx, const Cairn__V1__OrgKeyRotate *m)
{
    uint8_t id[32];
    cairn_org org;
    int err;
    if ((err = id32(m->org_id, id)) || (err = org_admin(env, id, tx, &org))) return err;
    if (m->n_admin_keys == 0 || m->n_admin_keys > CAIRN_REC_MAX_ADMINS) return CAIRN_EFIELD;
    cairn_pubkey keys[CAIRN_REC_MAX_ADMINS];
    for (size_t i = 0; i < m->n_admin_keys; i++)
        if ((err = pubkey_from(m->admin_keys[i], &keys[i])) || (err = check_new_key(env, &keys[i])))
            return err;
    memcpy(org.admins, keys, m->n_admin_keys * sizeof keys[0]);
    org.n_admins = (uint8_t)m->n_admin_keys;
    return cairn_state_put_org(env->st, &org);
}

/* Carries out an approved proposal's action. */
static int apply_action(env_t *env, const Cairn__V1__GovProposal *g, cairn_tx_effects *fx)
{
    int err;
    switch (g->action_case) {
    case CAIRN__V1__GOV_PROPOSAL__ACTION_ADD_ORG: {
        cairn_org o, old;
        if ((err = org_from_pb(env, g->add_org ? g->add_org->org : NULL, &o))) return err;
        err = cairn_state_get_org(env->st, o.id, &old);
        if (err == 0) return CAIRN_EORG_EXISTS;
        if (err != CAIRN_ENOENT) return err;
        return cairn_state_put_org(env->st, &o);
    }
    case CAIRN__V1__GOV_PROPOSAL__ACTION_REMOVE_ORG: {
        uint8_t id[32];
        cairn_org o;
        if (!g->remove_org || id32(g->remove_org->org_id, id)) return CAIRN_EFIELD;
        err = cairn_state_get_org(env->st, id, &o);
        if (err == CAIRN_ENOENT || (!err && !o.active)) return CAIRN_EUNKNOWN_ORG;
        if (err) return err;
        o.active = 0;
        return cairn_state_put_org(env->st, &o);
    }
    case CAIRN__V1__GOV_PROPOSAL__ACTION_ADD_VALIDATOR: {
        const Cairn__V1__Validator *v = g->add_validator ? g->add_validator->validator : NULL;
        cairn_validator val;
        memset(&val, 0, sizeof val);
        cairn_org o;
        if (!v || v->voting_power == 0 || (err = pubkey_from(v->consensus_key, &val.key)) ||
            val.key.alg != CAIRN_SIG_ED25519 || (err = check_new_key(env, &val.key)) ||
            id32(v->org_id, val.org) || v->noise_key.len != 32 ||
            str_from(v->address, &val.address, 1))
            return CAIRN_EFIELD;
        err = cairn_state_get_org(env->st, val.org, &o);
        if (err == CAIRN_ENOENT || (!err && !o.active)) return CAIRN_EUNKNOWN_ORG;
        if (err) return err;
        memcpy(val.noise_key, v->noise_key.data, 32);
        val.power = v->voting_power;
        cairn_validator_id(val.id, val.key.key, val.key.len);
        fx->has_validator = 1; /* the next epoch's set changes (chain.h) */
        memcpy(fx->validator_id, val.id, 32);
        return cairn_state_put_validator(env->st, &val);
    }
    case CAIRN__V1__GOV_PROPOSAL__ACTION_REMOVE_VALIDATOR: {
        uint8_t id[32];
        cairn_validator val;
        if (!g->remove_validator || id32(g->remove_validator->validator_id, id))
            return CAIRN_EFIELD;
        err = cairn_state_get_validator(env->st, id, &val);
        if (err) return err == CAIRN_ENOENT ? CAIRN_EFIELD : err;
        val.power = 0; /* takes effect at the next epoch boundary */
        fx->has_validator = 1;
        memcpy(fx->validator_id, val.id, 32);
        return cairn_state_put_validator(env->st, &val);
    }
    case CAIRN__V1__GOV_PROPOSAL__ACTION_SET_POLICY: {
        cairn_policy p;
        if (!g->set_policy || g->set_policy->approvals_required == 0) return CAIRN_EFIELD;
        if ((err = cairn_state_get_policy(env->st, &p))) return err;
        p.approvals_required = g->set_policy->approvals_required;
        return cairn_state_put_policy(env->st, &p);
    }
    default:
        return CAIRN_EFIELD;
    }
}

/* Reads the GovProposal of a proposal record back from its log entry. */
static int load_action(env_t *env, const cairn_gov_proposal *p, Cairn__V1__TxBody **body)
{
    if (p->action_len != 8) return CAIRN_ESTORE_CORRUPT;
    uint64_t index = cairn_get_u64be(p->action);
    return cairn_chain_entry_body(env->t, env->chain_id, index, body);
}

static int gov_proposal(env_t *env, const cairn_tx *tx, const Cairn__V1__GovProposal *m,
                        cairn_tx_effects *fx)
{
    cairn_gov_proposal p;
    memset(&p, 0, sizeof p);
    cairn_org org;
    cairn_policy pol;
    int err;
    if ((err = id32(m->proposer_org, p.proposer)) || (err = org_admin(env, p.proposer, tx, &org)))
        return err;
    if (m->action_case == CAIRN__V1__GOV_PROPOSAL__ACTION__NOT_SET) return CAIRN_EFIELD;
    if ((err = cairn_state_get_policy(env->st, &pol))) return err;
    memcpy(p.id, tx->hash, 32);
    p.status = CAIRN_PROPOSAL_OPEN;
    p.n_approvals = 1;
    memcpy(p.approvals[0], p.proposer, 32);
    p.action_len = 8;
    cairn_put_u64be(p.action, env->log_index);
    if (pol.approvals_required <= 1) {
        if ((err = apply_action(env, m, fx))) return err;
        p.status = CAIRN_PROPOSAL_APPLIED;
    }
    return cairn_state_put_gov_proposal(env->st, &p);
}

static int gov_approval(env_t *env, const cairn_tx *tx, const Cairn__V1__GovApproval *m,
                        cairn_tx_effects *fx)
{
    uint8_t pid[32], org_id[32];
    cairn_gov_proposal p;
    cairn_org org;
    cairn_policy pol;
    int err;
    if ((err = id32(m->proposal_id, pid)) || (err = id32(m->approver_org, org_id))) return err;
    err = cairn_state_get_gov_proposal(env->st, pid, &p);
    if (err == CAIRN_ENOENT || (!err && p.status != CAIRN_PROPOSAL_OPEN)) return CAIRN_EPROPOSAL;
    if (err || (err = org_admin(env, org_id, tx, &org)) ||
        (err = cairn_state_get_policy(env->st, &pol)))
        return err;
    for (unsigned i = 0; i < p.n_approvals; i++)
        if (memcmp(p.approvals[i], org_id, 32) == 0) return CAIRN_EPROPOSAL;
    for (unsigned i = 0; i < p.n_rejections; i++)
        if (memcmp(p.rejections[i], org_id, 32) == 0) return CAIRN_EPROPOSAL;
    if (p.n_approvals + p.n_rejections >= CAIRN_REC_MAX_APPROVALS) return CAIRN_EPROPOSAL;
    if (!m->approve) {
        memcpy(p.rejections[p.n_rejections++], org_id, 32);
        return cairn_state_put_gov_proposal(env->st, &p);
    }
    memcpy(p.approvals[p.n_approvals++], org_id, 32);
    if (p.n_approvals >= pol.approvals_required) {
        Cairn__V1__TxBody *body;
        if ((err = load_action(env, &p, &body))) return err;
        err = body->payload_case == CAIRN__V1__TX_BODY__PAYLOAD_GOV_PROPOSAL
                  ? apply_action(env, body->gov_proposal, fx)
                  : CAIRN_ESTORE_CORRUPT;
        protobuf_c_message_free_unpacked(&body->base, NULL);
        if (err) return err;
        p.status = CAIRN_PROPOSAL_APPLIED;
    }
    return cairn_state_put_gov_proposal(env->st, &p);
}

static int evidence(env_t *env, const Cairn__V1__EquivocationEvidence *m)
{
    (void)env;
    if (m->validator_id.len != 32 || m->message_a.len == 0 || m->message_b.len == 0 ||
        (m->message_a.len == m->message_b.len &&
         memcmp(m->message_a.data, m->message_b.data, m->message_a.len) == 0))
        return CAIRN_EFIELD;
    return 0; /* recorded in the log; the consensus layer acts on it */
}

int cairn_rules_apply(const cairn_rules_env *env, const cairn_tx *tx, cairn_tx_effects *fx)
{
    memset(fx, 0, sizeof *fx);
    const Cairn__V1__TxBody *b = tx->body;
    switch (b->payload_case) {
    case CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_REGISTER:
        return device_register(env, tx, b->device_register, fx);
    case CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_KEY_ROTATE:
        return device_key_rotate(env, tx, b->device_key_rotate, fx);
    case CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_STATUS:
        return device_status(env, tx, b->device_status, fx);
    case CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_TRANSFER_OFFER:
        return transfer_offer(env, tx, b->device_transfer_offer, fx);
    case CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_TRANSFER_ACCEPT:
        return transfer_accept(env, tx, b->device_transfer_accept, fx);
    case CAIRN__V1__TX_BODY__PAYLOAD_FIRMWARE_PUBLISH:
        return firmware_publish(env, tx, b->firmware_publish);
    case CAIRN__V1__TX_BODY__PAYLOAD_FIRMWARE_REVOKE:
        return firmware_revoke(env, tx, b->firmware_revoke);
    case CAIRN__V1__TX_BODY__PAYLOAD_ATTESTATION:
        return attestation(env, tx, b->attestation, fx);
    case CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR:
        return data_anchor(env, tx, b->data_anchor, fx);
    case CAIRN__V1__TX_BODY__PAYLOAD_GOV_PROPOSAL:
        return gov_proposal(env, tx, b->gov_proposal, fx);
    case CAIRN__V1__TX_BODY__PAYLOAD_GOV_APPROVAL:
        return gov_approval(env, tx, b->gov_approval, fx);
    case CAIRN__V1__TX_BODY__PAYLOAD_ORG_KEY_ROTATE:
        return org_key_rotate(env, tx, b->org_key_rotate);
    case CAIRN__V1__TX_BODY__PAYLOAD_EVIDENCE:
        return evidence(env, b->evidence);
    default:
        return CAIRN_ENO_PAYLOAD;
    }
}
