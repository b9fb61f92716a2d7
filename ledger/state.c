#include "ledger/state.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/bytes.h"
#include "ledger/smt.h"

/* Open addressing over 32-byte keys; keys are hashes, so their first bytes spread well. */
typedef struct slot {
    int used;
    uint8_t key[32];
    uint8_t *val;
    size_t len;
} slot;

struct cairn_state {
    cairn_txn *t;
    int has_base;
    uint64_t base;
    slot *slots;
    size_t cap, n;
};

int cairn_state_begin(cairn_state **out, cairn_txn *t, int has_base, uint64_t base)
{
    cairn_state *s = calloc(1, sizeof *s);
    if (!s) return CAIRN_ENOMEM;
    s->t = t;
    s->has_base = has_base;
    s->base = base;
    s->cap = 256;
    s->slots = calloc(s->cap, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return CAIRN_ENOMEM;
    }
    *out = s;
    return 0;
}

void cairn_state_free(cairn_state *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->cap; i++) free(s->slots[i].val);
    free(s->slots);
    free(s);
}

static slot *find(slot *slots, size_t cap, const uint8_t key[32])
{
    size_t i = (size_t)cairn_get_u64be(key) & (cap - 1);
    while (slots[i].used && memcmp(slots[i].key, key, 32) != 0) i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int grow(cairn_state *s)
{
    size_t cap = s->cap * 2;
    slot *ns = calloc(cap, sizeof *ns);
    if (!ns) return CAIRN_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].used) *find(ns, cap, s->slots[i].key) = s->slots[i];
    free(s->slots);
    s->slots = ns;
    s->cap = cap;
    return 0;
}

int cairn_state_get(cairn_state *s, const uint8_t key[32], const uint8_t **val, size_t *len)
{
    slot *sl = find(s->slots, s->cap, key);
    if (sl->used) {
        *val = sl->val;
        *len = sl->len;
        return 0;
    }
    if (!s->has_base) return CAIRN_ENOENT;
    return cairn_smt_get(s->t, s->base, key, val, len);
}

int cairn_state_put(cairn_state *s, const uint8_t key[32], const uint8_t *val, size_t len)
{
    if (len > CAIRN_SMT_MAX_VALUE) return CAIRN_ETOOBIG;
    if ((s->n + 1) * 2 > s->cap) {
        int err = grow(s);
        if (err) return err;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return CAIRN_ENOMEM;
    memcpy(copy, val, len);
    slot *sl = find(s->slots, s->cap, key);
    if (!sl->used) {
        sl->used = 1;
        memcpy(sl->key, key, 32);
        s->n++;
    }
    free(sl->val);
    sl->val = copy;
    sl->len = len;
    return 0;
}

int cairn_state_commit(cairn_state *s, uint64_t version, uint8_t root[32])
{
    cairn_smt_update *ups = calloc(s->n ? s->n : 1, sizeof *ups);
    if (!ups) return CAIRN_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i].used) continue;
        memcpy(ups[k].key, s->slots[i].key, 32);
        ups[k].value = s->slots[i].val;
        ups[k].len = s->slots[i].len;
        k++;
    }
    int err = cairn_smt_apply(s->t, version, ups, k, root);
    free(ups);
    return err;
}

/* Encodes with enc and stores under (kind, id). */
#define PUT_REC(s, kind, id, enc, rec)                                                             \
    do {                                                                                           \
        cairn_buf b_ = CAIRN_BUF_INIT;                                                             \
        enc(&b_, rec);                                                                             \
        int e_ = cairn_buf_finish(&b_);                                                            \
        uint8_t k_[32];                                                                            \
        cairn_rec_key(k_, kind, id);                                                               \
        if (!e_) e_ = cairn_state_put(s, k_, b_.p, b_.len);                                        \
        cairn_buf_free(&b_);                                                                       \
        return e_;                                                                                 \
    } while (0)

#define GET_REC(s, kind, id, dec, rec)                                                             \
    do {                                                                                           \
        uint8_t k_[32];                                                                            \
        const uint8_t *v_;                                                                         \
        size_t l_;                                                                                 \
        cairn_rec_key(k_, kind, id);                                                               \
        int e_ = cairn_state_get(s, k_, &v_, &l_);                                                 \
        if (e_) return e_;                                                                         \
        e_ = dec(rec, v_, l_);                                                                     \
        return e_ ? CAIRN_ESTORE_CORRUPT : 0;                                                      \
    } while (0)

int cairn_state_get_org(cairn_state *s, const uint8_t id[32], cairn_org *o)
{
    GET_REC(s, CAIRN_REC_ORG, id, cairn_org_decode, o);
}
int cairn_state_put_org(cairn_state *s, const cairn_org *o)
{
    PUT_REC(s, CAIRN_REC_ORG, o->id, cairn_org_encode, o);
}
int cairn_state_get_device(cairn_state *s, const uint8_t id[32], cairn_device *d)
{
    GET_REC(s, CAIRN_REC_DEVICE, id, cairn_device_decode, d);
}
int cairn_state_put_device(cairn_state *s, const cairn_device *d)
{
    PUT_REC(s, CAIRN_REC_DEVICE, d->id, cairn_device_encode, d);
}
int cairn_state_get_firmware(cairn_state *s, const uint8_t id[32], cairn_firmware *f)
{
    GET_REC(s, CAIRN_REC_FIRMWARE, id, cairn_firmware_decode, f);
}
int cairn_state_put_firmware(cairn_state *s, const cairn_firmware *f)
{
    PUT_REC(s, CAIRN_REC_FIRMWARE, f->id, cairn_firmware_encode, f);
}
int cairn_state_get_validator(cairn_state *s, const uint8_t id[32], cairn_validator *v)
{
    GET_REC(s, CAIRN_REC_VALIDATOR, id, cairn_validator_decode, v);
}
int cairn_state_put_validator(cairn_state *s, const cairn_validator *v)
{
    PUT_REC(s, CAIRN_REC_VALIDATOR, v->id, cairn_validator_encode, v);
}
int cairn_state_get_gov_proposal(cairn_state *s, const uint8_t id[32], cairn_gov_proposal *p)
{
    GET_REC(s, CAIRN_REC_PROPOSAL, id, cairn_gov_proposal_decode, p);
}
int cairn_state_put_gov_proposal(cairn_state *s, const cairn_gov_proposal *p)
{
    PUT_REC(s, CAIRN_REC_PROPOSAL, p->id, cairn_gov_proposal_encode, p);
}
static const uint8_t zero_id[32];
int cairn_state_get_policy(cairn_state *s, cairn_policy *p)
{
    GET_REC(s, CAIRN_REC_POLICY, zero_id, cairn_policy_decode, p);
}
int cairn_state_put_policy(cairn_state *s, const cairn_policy *p)
{
    PUT_REC(s, CAIRN_REC_POLICY, zero_id, cairn_policy_encode, p);
}

int cairn_state_get_id(cairn_state *s, cairn_rec_kind kind, const uint8_t id[32], uint8_t out[32])
{
    uint8_t k[32];
    const uint8_t *v;
    size_t l;
    cairn_rec_key(k, kind, id);
    int err = cairn_state_get(s, k, &v, &l);
    if (err) return err;
    if (l != 32) return CAIRN_ESTORE_CORRUPT;
    memcpy(out, v, 32);
    return 0;
}

int cairn_state_put_id(cairn_state *s, cairn_rec_kind kind, const uint8_t id[32],
                       const uint8_t val[32])
{
    uint8_t k[32];
    cairn_rec_key(k, kind, id);
    return cairn_state_put(s, k, val, 32);
}

int cairn_state_get_u64(cairn_state *s, cairn_rec_kind kind, const uint8_t id[32], uint64_t *out)
{
    uint8_t k[32];
    const uint8_t *v;
    size_t l;
    cairn_rec_key(k, kind, id);
    int err = cairn_state_get(s, k, &v, &l);
    if (err) return err;
    if (l != 8) return CAIRN_ESTORE_CORRUPT;
    *out = cairn_get_u64be(v);
    return 0;
}

int cairn_state_put_u64(cairn_state *s, cairn_rec_kind kind, const uint8_t id[32], uint64_t val)
{
    uint8_t k[32], v[8];
    cairn_rec_key(k, kind, id);
    cairn_put_u64be(v, val);
    return cairn_state_put(s, k, v, 8);
}
