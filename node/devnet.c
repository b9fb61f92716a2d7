/*
 * devnet.c — development homes: the single-node `cairnd --dev` home (cairn_node_dev_init) and
 * the n-validator devnet (cairn_node_devnet_init). Both build their keys and genesis with the
 * same helpers below; every file is created once and kept afterwards.
 */
#include "node/devnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sodium.h>

#include "ledger/genesis.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "node/config.h"
#include "node/node.h"

#define DEV_ORG       "dev-org"
#define DEV_CHAIN_ID  "cairn-dev"
#define DEV_P2P_ADDR  "127.0.0.1:7751"
#define EPOCH_BLOCKS  1000u
#define HOME_PATH_MAX (CAIRN_CONFIG_PATH_MAX + 32)
#define ADDRESS_MAX   (CAIRN_REC_MAX_NAME + 1)

/* One validator of a generated genesis: its consensus key pair, its X25519 public key, its
 * "host:port" p2p address. */
typedef struct dev_validator {
    cairn_keypair key;
    uint8_t noise_pub[32];
    char address[ADDRESS_MAX];
} dev_validator;

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int say(char *msg, size_t cap, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *msg, size_t cap, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (msg && cap) vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return err;
}

/* Formats a path into buf[HOME_PATH_MAX]; CAIRN_EINVAL when it does not fit. */
static int path_fmt(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int path_fmt(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, HOME_PATH_MAX, fmt, ap);
    va_end(ap);
    return len < 0 || (size_t)len >= HOME_PATH_MAX ? CAIRN_EINVAL : 0;
}

static int ensure_dir(const char *path, char *msg, size_t cap)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
    int e = errno;
    return say(msg, cap, cairn_err_from_errno(e), "%s: %s", path, strerror(e));
}

/* The X25519 static key of a validator's peer links (docs/transport.md): path holds
 * {"alg": "x25519", "private": hex, "public": hex}, mode 0600; created once, reused after. */
static int ensure_noise_key(const char *path, uint8_t pub[32])
{
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    if (o) {
        const char *p = json_string_value(json_object_get(o, "public"));
        int err = p && cairn_hex_decode_exact(pub, 32, p) == 0 ? 0 : CAIRN_EKEYFILE;
        json_decref(o);
        return err;
    }
    uint8_t sk[32];
    char skh[65], pkh[65];
    randombytes_buf(sk, sizeof sk);
    crypto_scalarmult_base(pub, sk);
    cairn_hex_encode(skh, sk, 32);
    cairn_hex_encode(pkh, pub, 32);
    sodium_memzero(sk, sizeof sk);
    json_t *k = json_pack("{s:s,s:s,s:s}", "alg", "x25519", "private", skh, "public", pkh);
    sodium_memzero(skh, sizeof skh);
    int err = k ? cairn_secret_json_save(path, k) : CAIRN_ENOMEM;
    json_decref(k);
    return err;
}

/* Loads the Ed25519 key file at path, or creates it with a fresh random seed. */
static int ensure_key(const char *path, const cairn_sig_ctx *sig, cairn_keypair *kp)
{
    int err = cairn_keyfile_load(path, sig, kp);
    if (err != CAIRN_ENOENT) return err;
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    err = cairn_keypair_from_seed(kp, sig, CAIRN_SIG_ED25519, seed);
    sodium_memzero(seed, sizeof seed);
    return err ? err : cairn_keyfile_save(path, kp);
}

static int ensure_key_at(const char *path, const cairn_sig_ctx *sig, cairn_keypair *kp, char *msg,
                         size_t cap)
{
    int err = ensure_key(path, sig, kp);
    return err ? say(msg, cap, err, "%s: %s", path, cairn_strerror(err)) : 0;
}

static int ensure_noise_key_at(const char *path, uint8_t pub[32], char *msg, size_t cap)
{
    int err = ensure_noise_key(path, pub);
    return err ? say(msg, cap, err, "%s: %s", path, cairn_strerror(err)) : 0;
}

/*
 * Fills g with a development genesis: chain_id, the one organization "dev-org" (operator, vendor,
 * service) administered by admin, approvals 1 of 1, and the n validators of dev-org with power 1.
 */
static int genesis_fill(cairn_genesis *g, const char *chain_id, const cairn_keypair *admin,
                        const dev_validator *vals, size_t n)
{
    if (n == 0 || n > CAIRN_GENESIS_MAX_VALIDATORS) return CAIRN_EINVAL;
    memset(g, 0, sizeof *g);
    strcpy(g->chain_id, chain_id);
    g->genesis_time_ms = wall_ms();
    g->policy.approvals_required = 1;
    g->policy.epoch_length_blocks = EPOCH_BLOCKS;
    g->n_orgs = 1;
    cairn_org *o = &g->orgs[0];
    int err = cairn_str_set(&o->name, DEV_ORG, strlen(DEV_ORG));
    if (err) return err;
    cairn_org_id(o->id, DEV_ORG, strlen(DEV_ORG));
    o->roles = CAIRN_ROLE_OPERATOR | CAIRN_ROLE_VENDOR | CAIRN_ROLE_SERVICE;
    o->n_admins = 1;
    o->admins[0].alg = CAIRN_SIG_ED25519;
    o->admins[0].len = 32;
    memcpy(o->admins[0].key, admin->pub, 32);
    o->active = 1;
    g->n_validators = n;
    for (size_t i = 0; i < n; i++) {
        cairn_validator *v = &g->validators[i];
        memcpy(v->org, o->id, 32);
        v->key.alg = CAIRN_SIG_ED25519;
        v->key.len = 32;
        memcpy(v->key.key, vals[i].key.pub, 32);
        memcpy(v->noise_key, vals[i].noise_pub, 32);
        v->power = 1;
        if ((err = cairn_str_set(&v->address, vals[i].address, strlen(vals[i].address))))
            return err;
        cairn_validator_id(v->id, v->key.key, 32);
    }
    return 0;
}

/* Writes cfg to path unless the file exists (then it is kept as it is). */
static int config_create(const cairn_config *cfg, const char *path, char *msg, size_t cap)
{
    int err = cairn_config_write(cfg, path, 0);
    if (err == CAIRN_EEXIST) return 0;
    return err ? say(msg, cap, err, "%s: %s", path, cairn_strerror(err)) : 0;
}

int cairn_node_dev_init(const char *dir, unsigned api_port, char *msg, size_t msg_cap)
{
    char path[HOME_PATH_MAX];
    int err = ensure_dir(dir, msg, msg_cap);
    if (err) return err;
    if (path_fmt(path, "%s/genesis.json", dir))
        return say(msg, msg_cap, CAIRN_EINVAL, "%s: path too long", dir);
    cairn_sig_ctx *sig;
    if ((err = cairn_sig_ctx_new(&sig))) return err;
    cairn_keypair admin = {0};
    dev_validator val = {0};
    cairn_genesis *g = calloc(1, sizeof *g);
    if (!g) err = CAIRN_ENOMEM;
    if (!err && !(err = path_fmt(path, "%s/validator.key", dir)))
        err = ensure_key_at(path, sig, &val.key, msg, msg_cap);
    if (!err && !(err = path_fmt(path, "%s/admin.key", dir)))
        err = ensure_key_at(path, sig, &admin, msg, msg_cap);
    struct stat st;
    if (!err && !(err = path_fmt(path, "%s/genesis.json", dir)) && stat(path, &st) != 0) {
        /* The peer-link key is made with the genesis that publishes its public half. */
        strcpy(val.address, DEV_P2P_ADDR);
        if (!(err = path_fmt(path, "%s/noise.key", dir)))
            err = ensure_noise_key_at(path, val.noise_pub, msg, msg_cap);
        if (!err) err = genesis_fill(g, DEV_CHAIN_ID, &admin, &val, 1);
        if (!err && !(err = path_fmt(path, "%s/genesis.json", dir)) &&
            (err = cairn_genesis_save(g, path)))
            say(msg, msg_cap, err, "%s: cannot write", path);
    }
    if (!err) {
        cairn_config cfg;
        cairn_config_defaults(&cfg);
        cfg.api_listen.port = (uint16_t)api_port;
        if (!(err = path_fmt(path, "%s/config.json", dir)))
            err = config_create(&cfg, path, msg, msg_cap);
    }
    cairn_keypair_wipe(&val.key);
    cairn_keypair_wipe(&admin);
    free(g);
    cairn_sig_ctx_free(sig);
    return err;
}

/* An existing devnet genesis must list exactly the validators whose keys are in the homes. */
static int genesis_check(const cairn_genesis *g, const char *path, const dev_validator *vals,
                         size_t n, char *msg, size_t cap)
{
    if (g->n_validators != n)
        return say(msg, cap, CAIRN_EGENESIS, "%s has %zu validators, not %zu", path,
                   g->n_validators, n);
    for (size_t i = 0; i < n; i++) {
        const cairn_validator *v = &g->validators[i];
        if (v->key.len != 32 || memcmp(v->key.key, vals[i].key.pub, 32) != 0)
            return say(msg, cap, CAIRN_EGENESIS,
                       "%s: validator %zu is not the key in node%zu/validator.key", path, i, i);
        if (memcmp(v->noise_key, vals[i].noise_pub, 32) != 0)
            return say(msg, cap, CAIRN_EGENESIS,
                       "%s: validator %zu's noise_key is not node%zu/noise.key", path, i, i);
        if (strcmp(v->address.s, vals[i].address) != 0)
            return say(msg, cap, CAIRN_EGENESIS,
                       "%s: validator %zu's address is %s, not %s (another --base-port or host?)",
                       path, i, v->address.s, vals[i].address);
    }
    return 0;
}

int cairn_node_devnet_init(const char *dir, unsigned n_validators, const char *host,
                           unsigned base_port, char *msg, size_t msg_cap)
{
    const char *hosts[CAIRN_DEVNET_MAX_VALIDATORS];
    if (n_validators == 0 || n_validators > CAIRN_DEVNET_MAX_VALIDATORS)
        return say(msg, msg_cap, CAIRN_EINVAL, "validators must be 1..%u",
                   CAIRN_DEVNET_MAX_VALIDATORS);
    for (unsigned i = 0; i < n_validators; i++) hosts[i] = host;
    return cairn_node_devnet_init_hosts(dir, n_validators, hosts, base_port, msg, msg_cap);
}

int cairn_node_devnet_init_hosts(const char *dir, unsigned n_validators, const char *const *hosts,
                                 unsigned base_port, char *msg, size_t msg_cap)
{
    struct in_addr ia;
    if (n_validators == 0 || n_validators > CAIRN_DEVNET_MAX_VALIDATORS)
        return say(msg, msg_cap, CAIRN_EINVAL, "validators must be 1..%u",
                   CAIRN_DEVNET_MAX_VALIDATORS);
    for (unsigned i = 0; i < n_validators; i++) {
        const char *host = hosts ? hosts[i] : NULL;
        if (!host || strlen(host) >= CAIRN_CONFIG_HOST_MAX || inet_pton(AF_INET, host, &ia) != 1)
            return say(msg, msg_cap, CAIRN_EINVAL, "host of validator %u must be an IPv4 address",
                       i);
    }
    if (base_port == 0 || base_port + 2 * n_validators - 1 > 65535)
        return say(msg, msg_cap, CAIRN_EINVAL, "ports %u..%u are not all in 1..65535", base_port,
                   base_port + 2 * n_validators - 1);
    char path[HOME_PATH_MAX], gpath[HOME_PATH_MAX];
    if (path_fmt(gpath, "%s/node%u/validator.key", dir, n_validators))
        return say(msg, msg_cap, CAIRN_EINVAL, "%s: path too long", dir);
    if (path_fmt(gpath, "%s/genesis.json", dir)) return CAIRN_EINVAL;
    int err = ensure_dir(dir, msg, msg_cap);
    if (err) return err;
    cairn_sig_ctx *sig;
    if ((err = cairn_sig_ctx_new(&sig))) return err;
    cairn_keypair admin = {0};
    cairn_genesis *g = calloc(1, sizeof *g);
    dev_validator *vals = calloc(n_validators, sizeof *vals);
    if (!g || !vals) err = CAIRN_ENOMEM;
    /* An existing genesis is checked before anything is added beside it. */
    struct stat st;
    int have_genesis = stat(gpath, &st) == 0;
    if (!err && have_genesis) {
        char why[256] = "";
        if ((err = cairn_genesis_load(g, gpath, why, sizeof why)))
            say(msg, msg_cap, err, "%s: %s", gpath, why);
        else if (g->n_validators != n_validators)
            err = say(msg, msg_cap, CAIRN_EGENESIS,
                      "%s exists with %zu validators, not %u: use another directory", gpath,
                      g->n_validators, n_validators);
    }
    if (!err && !(err = path_fmt(path, "%s/admin.key", dir)))
        err = ensure_key_at(path, sig, &admin, msg, msg_cap);
    for (unsigned i = 0; i < n_validators && !err; i++) {
        snprintf(vals[i].address, sizeof vals[i].address, "%s:%u", hosts[i],
                 cairn_devnet_p2p_port(base_port, i));
        if ((err = path_fmt(path, "%s/node%u", dir, i)) || (err = ensure_dir(path, msg, msg_cap)) ||
            (err = path_fmt(path, "%s/node%u/validator.key", dir, i)) ||
            (err = ensure_key_at(path, sig, &vals[i].key, msg, msg_cap)) ||
            (err = path_fmt(path, "%s/node%u/noise.key", dir, i)))
            break;
        err = ensure_noise_key_at(path, vals[i].noise_pub, msg, msg_cap);
    }
    if (!err && have_genesis) {
        err = genesis_check(g, gpath, vals, n_validators, msg, msg_cap);
    } else if (!err) {
        if ((err = genesis_fill(g, CAIRN_DEVNET_CHAIN_ID, &admin, vals, n_validators)))
            say(msg, msg_cap, err, "building the genesis: %s", cairn_strerror(err));
        else if ((err = cairn_genesis_save(g, gpath)))
            say(msg, msg_cap, err, "%s: cannot write", gpath);
    }
    for (unsigned i = 0; i < n_validators && !err; i++) {
        cairn_config cfg;
        cairn_config_defaults(&cfg);
        strcpy(cfg.api_listen.host, hosts[i]);
        cfg.api_listen.port = (uint16_t)cairn_devnet_api_port(base_port, i);
        strcpy(cfg.p2p_listen.host, hosts[i]);
        cfg.p2p_listen.port = (uint16_t)cairn_devnet_p2p_port(base_port, i);
        strcpy(cfg.genesis, "../genesis.json");
        strcpy(cfg.data_dir, "data");
        if (!(err = path_fmt(path, "%s/node%u/config.json", dir, i)))
            err = config_create(&cfg, path, msg, msg_cap);
    }
    for (unsigned i = 0; vals && i < n_validators; i++) cairn_keypair_wipe(&vals[i].key);
    cairn_keypair_wipe(&admin);
    free(vals);
    free(g);
    cairn_sig_ctx_free(sig);
    return err;
}
