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

/* A table of slots (open addressing, at most half full). */
typedef struct table {
    slot *slots;
    size_t cap, n;
} table;

struct cairn_state {
    cairn_txn *t;
    int has_base;
    uint64_t base;
    table w;  /* the block's writes */
    table rc; /* copies of records read from the base version (len SIZE_MAX: absent) */
};

#define ABSENT SIZE_MAX

static int table_init(table *tb)
{
    tb->cap = 256;
    tb->n = 0;
    tb->slots = calloc(tb->cap, sizeof *tb->slots);
    return tb->slots ? 0 : CAIRN_ENOMEM;
}

static void table_free(table *tb)
{
    for (size_t i = 0; tb->slots && i < tb->cap; i++) free(tb->slots[i].val);
    free(tb->slots);
}

int cairn_state_begin(cairn_state **out, cairn_txn *t, int has_base, uint64_t base)
{
    cairn_state *s = calloc(1, sizeof *s);
    if (!s) return CAIRN_ENOMEM;
    s->t = t;
    s->has_base = has_base;
    s->base = base;
    if (table_init(&s->w) || table_init(&s->rc)) {
        cairn_state_free(s);
        return CAIRN_ENOMEM;
    }
    *out = s;
    return 0;
}

void cairn_state_free(cairn_state *s)
{
    if (!s) return;
    table_free(&s->w);
    table_free(&s->rc);
    free(s);
}

static slot *find(slot *slots, size_t cap, const uint8_t key[32])
{
    size_t i = (size_t)cairn_get_u64be(key) & (cap - 1);
    while (slots[i].used && memcmp(slots[i].key, key, 32) != 0) i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* Makes room for one more key. */
static int reserve(table *tb)
{
    if ((tb->n + 1) * 2 <= tb->cap) return 0;
    size_t cap = tb->cap * 2;
    slot *ns = calloc(cap, sizeof *ns);
    if (!ns) return CAIRN_ENOMEM;
    for (size_t i = 0; i < tb->cap; i++)
        if (tb->slots[i].used) *find(ns, cap, tb->slots[i].key) = tb->slots[i];
    free(tb->slots);
    tb->slots = ns;
    tb->cap = cap;
    return 0;
}

int cairn_state_get(cairn_state *s, const uint8_t key[32], const uint8_t **val, size_t *len)
{
    slot *sl = find(s->w.slots, s->w.cap, key);
    if (!sl->used) sl = find(s->rc.slots, s->rc.cap, key);
    if (sl->used) {
        if (sl->len == ABSENT) return CAIRN_ENOENT;
        *val = sl->val;
        *len = sl->len;
        return 0;
    }
    if (!s->has_base) return CAIRN_ENOENT;
    /* The base version never changes during the block: remember what was read (a record such
     * as an organization is read by many of a block's transactions). */
    const uint8_t *v;
    size_t l;
    int err = cairn_smt_get(s->t, s->base, key, &v, &l);
    if (err && err != CAIRN_ENOENT) return err;
    uint8_t *copy = NULL;
    if (reserve(&s->rc) || (!err && !(copy = malloc(l ? l : 1)))) return CAIRN_ENOMEM;
    sl = find(s->rc.slots, s->rc.cap, key);
    sl->used = 1;
    memcpy(sl->key, key, 32);
    sl->val = copy;
    sl->len = err ? ABSENT : l;
    s->rc.n++;
    if (err) return err;
    memcpy(copy, v, l);
    *val = copy;
    *len = l;
    return 0;
}

int cairn_state_put(cairn_state *s, const uint8_t key[32], const uint8_t *val, size_t len)
{
    if (len > CAIRN_SMT_MAX_VALUE) return CAIRN_ETOOBIG;
    int err = reserve(&s->w);
    if (err) return err;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return CAIRN_ENOMEM;
    memcpy(copy, val, len);
    slot *sl = find(s->w.slots, s->w.cap, key);
    if (!sl->used) {
        sl->used = 1;
        memcpy(sl->key, key, 32);
        s->w.n++;
    }
    free(sl->val);
    sl->val = copy;
    sl->len = len;
    return 0;
}

int cairn_state_commit(cairn_state *s, uint64_t version, uint8_t root[32])
{
    cairn_smt_update *ups = calloc(s->w.n ? s->w.n : 1, sizeof *ups);
    if (!ups) return CAIRN_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < s->w.cap; i++) {
        const slot *sl = &s->w.slots[i];
        if (!sl->used) continue;
        memcpy(ups[k].key, sl->key, 32);
        ups[k].value = sl->val;
        ups[k].len = sl->len;
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
