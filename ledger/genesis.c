#include "ledger/genesis.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hex.h"

int cairn_chain_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > CAIRN_CHAIN_ID_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return 0;
    }
    return 1;
}

static const char *const alg_names[] = {NULL, "ed25519", "secp256k1-schnorr", "secp256k1-ecdsa",
                                        "p256"};
static const char *const role_names[] = {NULL, "operator", "vendor", "service"};

typedef struct perr {
    char *msg;
    size_t cap;
} perr;

static int fail(perr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(perr *e, const char *fmt, ...)
{
    if (e->msg && e->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, e->cap, fmt, ap);
        va_end(ap);
    }
    return CAIRN_EGENESIS;
}

/* Rejects keys of obj not in the NULL-terminated list. */
static int only_keys(perr *e, json_t *obj, const char *where, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) ok |= strcmp(*a, k) == 0;
        if (!ok) return fail(e, "%s: unknown field \"%s\"", where, k);
    }
    return 0;
}

static int get_str(perr *e, json_t *obj, const char *where, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) return fail(e, "%s: \"%s\" must be a string", where, key);
    *out = json_string_value(v);
    return 0;
}

static int get_u64(perr *e, json_t *obj, const char *where, const char *key, uint64_t *out,
                   int required)
{
    json_t *v = json_object_get(obj, key);
    if (!v && !required) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail(e, "%s: \"%s\" must be a non-negative integer", where, key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_key(perr *e, json_t *obj, const char *where, cairn_pubkey *k)
{
    const char *alg = NULL, *hex = NULL;
    int err;
    if ((err = get_str(e, obj, where, "alg", &alg)) || (err = get_str(e, obj, where, "key", &hex)))
        return err;
    k->alg = 0;
    for (uint8_t i = 1; i < 5; i++)
        if (strcmp(alg, alg_names[i]) == 0) k->alg = i;
    if (!k->alg) return fail(e, "%s: unknown key algorithm \"%s\"", where, alg);
    size_t len;
    if (cairn_hex_decode(k->key, sizeof k->key, &len, hex, strlen(hex)) != 0 || len == 0)
        return fail(e, "%s: \"key\" must be hex of at most %d bytes", where, CAIRN_REC_MAX_KEY);
    k->len = (uint8_t)len;
    return 0;
}

static int parse_org(perr *e, json_t *o, size_t idx, cairn_org *org)
{
    char where[48];
    snprintf(where, sizeof where, "organizations[%zu]", idx);
    static const char *const keys[] = {"name", "roles", "admin_keys", "require_trusted_attestation",
                                       NULL};
    if (!json_is_object(o)) return fail(e, "%s: must be an object", where);
    int err = only_keys(e, o, where, keys);
    if (err) return err;
    const char *name = NULL;
    if ((err = get_str(e, o, where, "name", &name))) return err;
    if (strlen(name) == 0 || cairn_str_set(&org->name, name, strlen(name)) != 0)
        return fail(e, "%s: \"name\" must be 1-%d bytes", where, CAIRN_REC_MAX_NAME);
    cairn_org_id(org->id, name, strlen(name));
    json_t *roles = json_object_get(o, "roles");
    if (!json_is_array(roles) || json_array_size(roles) == 0)
        return fail(e, "%s: \"roles\" must be a non-empty array", where);
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r)
    {
        const char *rn = json_string_value(r);
        unsigned bit = 0;
        for (unsigned k = 1; k < 4 && rn; k++)
            if (strcmp(rn, role_names[k]) == 0) bit = 1u << k;
        if (!bit) return fail(e, "%s: unknown role \"%s\"", where, rn ? rn : "(not a string)");
        org->roles |= bit;
    }
    json_t *admins = json_object_get(o, "admin_keys");
    if (!json_is_array(admins) || json_array_size(admins) == 0 ||
        json_array_size(admins) > CAIRN_REC_MAX_ADMINS)
        return fail(e, "%s: \"admin_keys\" must hold 1-%d keys", where, CAIRN_REC_MAX_ADMINS);
    json_array_foreach(admins, i, r)
    {
        char kw[80];
        snprintf(kw, sizeof kw, "%s.admin_keys[%zu]", where, i);
        static const char *const kkeys[] = {"alg", "key", NULL};
        if (!json_is_object(r)) return fail(e, "%s: must be an object", kw);
        if ((err = only_keys(e, r, kw, kkeys)) || (err = parse_key(e, r, kw, &org->admins[i])))
            return err;
    }
    org->n_admins = (uint8_t)json_array_size(admins);
    json_t *rta = json_object_get(o, "require_trusted_attestation");
    if (rta && !json_is_boolean(rta))
        return fail(e, "%s: \"require_trusted_attestation\" must be true or false", where);
    org->require_trusted_attestation = json_is_true(rta);
    org->active = 1;
    return 0;
}

static int parse_validator(perr *e, json_t *o, size_t idx, cairn_genesis *g, cairn_validator *v)
{
    char where[48];
    snprintf(where, sizeof where, "validators[%zu]", idx);
    static const char *const keys[] = {"org", "alg", "key", "noise_key", "power", "address", NULL};
    if (!json_is_object(o)) return fail(e, "%s: must be an object", where);
    int err = only_keys(e, o, where, keys);
    const char *org = NULL, *noise = NULL, *addr = NULL;
    if (err || (err = get_str(e, o, where, "org", &org)) ||
        (err = parse_key(e, o, where, &v->key)) ||
        (err = get_str(e, o, where, "noise_key", &noise)) ||
        (err = get_str(e, o, where, "address", &addr)) ||
        (err = get_u64(e, o, where, "power", &v->power, 1)))
        return err;
    if (v->key.alg != 1 || v->key.len != 32)
        return fail(e, "%s: consensus keys are 32-byte ed25519 keys", where);
    if (v->power == 0 || v->power > ((uint64_t)1 << 40))
        return fail(e, "%s: \"power\" must be 1..2^40", where);
    cairn_org_id(v->org, org, strlen(org));
    if (!cairn_genesis_org(g, v->org))
        return fail(e, "%s: unknown organization \"%s\"", where, org);
    if (cairn_hex_decode_exact(v->noise_key, 32, noise) != 0)
        return fail(e, "%s: \"noise_key\" must be 32 bytes of hex", where);
    if (cairn_str_set(&v->address, addr, strlen(addr)) != 0)
        return fail(e, "%s: \"address\" too long", where);
    cairn_validator_id(v->id, v->key.key, v->key.len);
    return 0;
}

int cairn_genesis_parse(cairn_genesis *g, const char *text, size_t len, char *msg, size_t msg_cap)
{
    perr e = {msg, msg_cap};
    memset(g, 0, sizeof *g);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (msg) snprintf(msg, msg_cap, "line %d: %s", jerr.line, jerr.text);
        return CAIRN_EJSON;
    }
    int err = 0;
    static const char *const keys[] = {"chain_id",      "genesis_time_ms", "policy",
                                       "organizations", "validators",      NULL};
    static const char *const pkeys[] = {"approvals_required", "epoch_length_blocks", NULL};
    const char *chain = NULL;
    json_t *policy, *orgs, *vals;
    if (!json_is_object(root)) {
        err = fail(&e, "genesis must be a JSON object");
        goto out;
    }
    if ((err = only_keys(&e, root, "genesis", keys)) ||
        (err = get_str(&e, root, "genesis", "chain_id", &chain)) ||
        (err = get_u64(&e, root, "genesis", "genesis_time_ms", &g->genesis_time_ms, 1)))
        goto out;
    if (!cairn_chain_id_valid(chain, strlen(chain))) {
        err = fail(&e, "genesis: \"chain_id\" must be 1-64 characters of [a-z0-9.-]");
        goto out;
    }
    strcpy(g->chain_id, chain);
    policy = json_object_get(root, "policy");
    if (!json_is_object(policy)) {
        err = fail(&e, "genesis: \"policy\" must be an object");
        goto out;
    }
    uint64_t k = 0, epoch = 0;
    if ((err = only_keys(&e, policy, "policy", pkeys)) ||
        (err = get_u64(&e, policy, "policy", "approvals_required", &k, 1)) ||
        (err = get_u64(&e, policy, "policy", "epoch_length_blocks", &epoch, 1)))
        goto out;
    orgs = json_object_get(root, "organizations");
    vals = json_object_get(root, "validators");
    if (!json_is_array(orgs) || json_array_size(orgs) == 0 ||
        json_array_size(orgs) > CAIRN_GENESIS_MAX_ORGS) {
        err = fail(&e, "genesis: \"organizations\" must hold 1-%d organizations",
                   CAIRN_GENESIS_MAX_ORGS);
        goto out;
    }
    if (!json_is_array(vals) || json_array_size(vals) == 0 ||
        json_array_size(vals) > CAIRN_GENESIS_MAX_VALIDATORS) {
        err = fail(&e, "genesis: \"validators\" must hold 1-%d validators",
                   CAIRN_GENESIS_MAX_VALIDATORS);
        goto out;
    }
    if (k == 0 || k > json_array_size(orgs)) {
        err = fail(
            &e, "policy: \"approvals_required\" must be between 1 and the number of organizations");
        goto out;
    }
    if (epoch == 0) {
        err = fail(&e, "policy: \"epoch_length_blocks\" must be positive");
        goto out;
    }
    g->policy.approvals_required = (uint32_t)k;
    g->policy.epoch_length_blocks = epoch;
    size_t i;
    json_t *o;
    json_array_foreach(orgs, i, o)
    {
        if ((err = parse_org(&e, o, i, &g->orgs[i])) != 0) goto out;
        for (size_t j = 0; j < i; j++)
            if (memcmp(g->orgs[j].id, g->orgs[i].id, 32) == 0) {
                err = fail(&e, "organizations[%zu]: duplicate name", i);
                goto out;
            }
        g->n_orgs = i + 1;
    }
    json_array_foreach(vals, i, o)
    {
        if ((err = parse_validator(&e, o, i, g, &g->validators[i])) != 0) goto out;
        for (size_t j = 0; j < i; j++)
            if (memcmp(g->validators[j].id, g->validators[i].id, 32) == 0) {
                err = fail(&e, "validators[%zu]: duplicate key", i);
                goto out;
            }
        g->n_validators = i + 1;
    }
out:
    json_decref(root);
    return err;
}

int cairn_genesis_load(cairn_genesis *g, const char *path, char *msg, size_t msg_cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (msg) snprintf(msg, msg_cap, "%s: %s", path, strerror(errno));
        return cairn_err_from_errno(errno);
    }
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    int too_big = buf && n == 1 << 20;
    fclose(f);
    if (!buf) return CAIRN_ENOMEM;
    int err = too_big ? CAIRN_ETOOBIG : cairn_genesis_parse(g, buf, n, msg, msg_cap);
    free(buf);
    return err;
}

static json_t *key_json(const cairn_pubkey *k)
{
    char hex[2 * CAIRN_REC_MAX_KEY + 1];
    cairn_hex_encode(hex, k->key, k->len);
    return json_pack("{s:s,s:s}", "alg",
                     alg_names[k->alg < 5 ? k->alg : 0] ? alg_names[k->alg] : "?", "key", hex);
}

int cairn_genesis_save(const cairn_genesis *g, const char *path)
{
    json_t *orgs = json_array(), *vals = json_array();
    for (size_t i = 0; i < g->n_orgs; i++) {
        const cairn_org *o = &g->orgs[i];
        json_t *roles = json_array(), *admins = json_array();
        for (unsigned r = 1; r < 4; r++)
            if (o->roles & (1u << r)) json_array_append_new(roles, json_string(role_names[r]));
        for (unsigned a = 0; a < o->n_admins; a++)
            json_array_append_new(admins, key_json(&o->admins[a]));
        json_array_append_new(
            orgs, json_pack("{s:s,s:o,s:o,s:b}", "name", o->name.s, "roles", roles, "admin_keys",
                            admins, "require_trusted_attestation", o->require_trusted_attestation));
    }
    for (size_t i = 0; i < g->n_validators; i++) {
        const cairn_validator *v = &g->validators[i];
        const cairn_org *o = cairn_genesis_org(g, v->org);
        char key[65], noise[65];
        cairn_hex_encode(key, v->key.key, v->key.len);
        cairn_hex_encode(noise, v->noise_key, 32);
        json_array_append_new(vals,
                              json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "org", o ? o->name.s : "?",
                                        "alg", "ed25519", "key", key, "noise_key", noise, "power",
                                        (json_int_t)v->power, "address", v->address.s));
    }
    json_t *root = json_pack("{s:s,s:I,s:{s:I,s:I},s:o,s:o}", "chain_id", g->chain_id,
                             "genesis_time_ms", (json_int_t)g->genesis_time_ms, "policy",
                             "approvals_required", (json_int_t)g->policy.approvals_required,
                             "epoch_length_blocks", (json_int_t)g->policy.epoch_length_blocks,
                             "organizations", orgs, "validators", vals);
    if (!root) return CAIRN_ENOMEM;
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return rc == 0 ? 0 : CAIRN_EIO;
}

void cairn_genesis_encode(cairn_buf *b, const cairn_genesis *g)
{
    cairn_buf_tag(b, "CAIRN-GENESIS-V1");
    cairn_buf_str8(b, g->chain_id, strlen(g->chain_id));
    cairn_buf_u64(b, g->genesis_time_ms);
    cairn_policy_encode(b, &g->policy);
    cairn_buf_u32(b, (uint32_t)g->n_orgs);
    for (size_t i = 0; i < g->n_orgs; i++) cairn_org_encode(b, &g->orgs[i]);
    cairn_buf_u32(b, (uint32_t)g->n_validators);
    for (size_t i = 0; i < g->n_validators; i++) cairn_validator_encode(b, &g->validators[i]);
}

void cairn_valset_hash(const cairn_validator *v, size_t n, uint8_t out[32])
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_buf_tag(&b, "CAIRN-VALSET-V1");
    cairn_buf_u32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        cairn_buf_put(&b, v[i].id, 32);
        cairn_buf_u64(&b, v[i].power);
        cairn_pubkey_put(&b, &v[i].key);
    }
    cairn_sha256_oneshot(out, b.p, b.len);
    cairn_buf_free(&b);
}

void cairn_genesis_valset_hash(const cairn_genesis *g, uint8_t out[32])
{
    cairn_valset_hash(g->validators, g->n_validators, out);
}

const cairn_org *cairn_genesis_org(const cairn_genesis *g, const uint8_t id[32])
{
    for (size_t i = 0; i < g->n_orgs; i++)
        if (memcmp(g->orgs[i].id, id, 32) == 0) return &g->orgs[i];
    return NULL;
}
