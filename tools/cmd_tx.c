/*
 * The ledger's transactions and queries from the command line:
 *
 *   cairn key new --alg ALG --out FILE            a key file (docs: README "Keys")
 *   cairn key show FILE                           algorithm, public key (and validator id)
 *   cairn org id NAME                             an organization's id
 *   cairn device register --key ADMIN --org NAME --device-key FILE --class C --id SCHEME:VALUE
 *                         [--model M] [--manufacturer M] [--salt HEX]
 *   cairn device status --key ADMIN --device ID --status active|suspended|revoked [--reason R]
 *   cairn device rotate --key KEY --device ID --owner NAME --new-key FILE
 *   cairn device show ID
 *   cairn device transfer --key ADMIN --device ID --to ORG        (offer; prints its tx hash)
 *   cairn device accept --key ADMIN --device ID --offer TXHASH    (by the receiving organization)
 *   cairn org rotate-keys --key ADMIN --org NAME --admin-keys FILE[,FILE...]
 *   cairn gov propose --key ADMIN --org NAME ACTION ...           ACTION: add-org --name N
 *                     --roles R[,R] --admin-keys FILE[,FILE] [--require-trusted] | remove-org
 * --name N | add-validator --for-org N --validator-key FILE --noise-key HEX --power P
 *                     --address HOST:PORT | remove-validator --validator-id HEX | set-policy
 * --approvals K cairn gov approve --key ADMIN --org NAME --proposal TXHASH [--reject] cairn
 * firmware publish --key ADMIN --vendor NAME --class C --version V --svn N
 *                          --image-digest HEX [--suit-digest HEX]
 *   cairn firmware revoke --key ADMIN --release ID [--reason R]
 *   cairn attest --key DEVKEY --device ID --measurement HEX [--evidence HEX]
 *   cairn anchor --key DEVKEY --device ID --stream S --seq N --digest HEX [--from-ms T --to-ms T]
 *   cairn tx status HASH
 *   cairn checkpoint
 *   cairn provenance DIGEST [--out FILE] [--format json|protobuf]
 *   cairn verify BUNDLE --genesis FILE [--json]   (offline)
 *
 * Commands that talk to a node take --node URL (default $CAIRN_NODE or http://127.0.0.1:7750)
 * and, for transactions, wait until the transaction is in a block unless --no-wait is given.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "ledger/bundle.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "ledger/records.h"
#include "ledger/tx.h"
#include "ledger/txbuild.h"
#include "proto/cairn/v1/api.pb-c.h"
#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/http_client.h"

#define TIMEOUT_MS   10000
#define WAIT_MS      30000
#define MAX_RESPONSE ((size_t)4 << 20)

typedef struct ctx {
    int argc;
    char **argv;
    int *used;
    const char *node;
    int no_wait;
    const char *sign_only; /* --sign-only FILE: write the signed transaction there, do not submit */
    cairn_sig_ctx *sig;
} ctx;

static const char *opt(ctx *c, const char *name)
{
    return cli_opt(c->argc, c->argv, name, c->used);
}

static int need(const char *v, const char *name)
{
    if (v) return 0;
    fprintf(stderr, "error: missing %s\n", name);
    return CLI_USAGE;
}

/* GET a JSON document from the node. */
static int get_json(ctx *c, const char *path, json_t **out)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", c->node, path);
    int status;
    uint8_t *body;
    size_t len;
    int err = cairn_http_get(url, TIMEOUT_MS, &status, &body, &len);
    if (err) return cli_fail(err, url);
    json_error_t jerr;
    json_t *j = json_loadb((const char *)body, len, 0, &jerr);
    free(body);
    if (!j) return cli_fail(CAIRN_EJSON, url);
    if (status != 200) {
        json_t *e = json_object_get(j, "error");
        fprintf(stderr, "error: %s: %s (HTTP %d)\n", json_string_value(json_object_get(e, "name")),
                json_string_value(json_object_get(e, "message")), status);
        json_decref(j);
        return status == 404 ? CLI_INVALID : CLI_USAGE;
    }
    *out = j;
    return 0;
}

/* chain id and head (height, hash) from the node's checkpoint. */
static int head(ctx *c, char chain[65], uint64_t *height, uint8_t hash[32])
{
    json_t *j;
    int rc = get_json(c, "/v1/checkpoint", &j);
    if (rc) return rc;
    const char *ch = json_string_value(json_object_get(j, "chain_id"));
    const char *bh = json_string_value(json_object_get(j, "block_hash"));
    *height = (uint64_t)json_integer_value(json_object_get(j, "height"));
    rc =
        ch && strlen(ch) <= 64 && bh && cairn_hex_decode_exact(hash, 32, bh) == 0 ? 0 : CLI_FAILURE;
    if (!rc) strcpy(chain, ch);
    json_decref(j);
    if (rc) fprintf(stderr, "error: malformed checkpoint from the node\n");
    return rc;
}

static int load_key(ctx *c, const char *path, cairn_keypair *kp)
{
    int err = cairn_keyfile_load(path, c->sig, kp);
    if (err) return cli_fail(err, path);
    return 0;
}

/* Fills chain id, nonce and expiry; signs, submits, and waits for the block. */
static int submit(ctx *c, Cairn__V1__TxBody *b, const cairn_keypair *kp, int32_t *result)
{
    char chain[65];
    uint64_t height;
    uint8_t hh[32], nonce[16], hash[32];
    int rc = head(c, chain, &height, hh);
    if (rc) return rc;
    randombytes_buf(nonce, sizeof nonce);
    b->chain_id = chain;
    b->nonce = (ProtobufCBinaryData){sizeof nonce, nonce};
    b->expiry_height = height + 1000;
    cairn_buf tx = CAIRN_BUF_INIT;
    int err = cairn_tx_build(&tx, chain, b, kp, hash);
    if (err) return cli_fail(err, "building the transaction");
    char url[1024], hex[65];
    if (c->sign_only) { /* for a gateway that submits many devices' transactions at once */
        FILE *f = fopen(c->sign_only, "wb");
        int ok = f && fwrite(tx.p, 1, tx.len, f) == tx.len;
        if (f && fclose(f) != 0) ok = 0;
        cairn_buf_free(&tx);
        if (!ok) return cli_fail(CAIRN_EIO, c->sign_only);
        cairn_hex_encode(hex, hash, 32);
        printf("tx_hash: %s\nwrote %s\n", hex, c->sign_only);
        return 0;
    }
    snprintf(url, sizeof url, "%s/v1/txs", c->node);
    int status;
    uint8_t *resp;
    size_t len;
    err = cairn_http_post(url, "application/x-protobuf", tx.p, tx.len, TIMEOUT_MS, &status, &resp,
                          &len);
    cairn_buf_free(&tx);
    if (err) return cli_fail(err, url);
    if (status != 202) {
        fprintf(stderr, "error: node refused the transaction (HTTP %d): %.*s\n", status, (int)len,
                resp);
        free(resp);
        return CLI_INVALID;
    }
    free(resp);
    cairn_hex_encode(hex, hash, 32);
    printf("tx_hash: %s\n", hex);
    if (c->no_wait) return 0;
    char path[128];
    snprintf(path, sizeof path, "/v1/txs/%s", hex);
    for (int waited = 0; waited < WAIT_MS; waited += 100) {
        json_t *j;
        if ((rc = get_json(c, path, &j))) return rc;
        const char *st = json_string_value(json_object_get(j, "status"));
        if (st && strcmp(st, "pending") != 0) {
            *result = (int32_t)json_integer_value(json_object_get(j, "result"));
            printf("status: %s (height %lld, log index %lld, result %s)\n", st,
                   (long long)json_integer_value(json_object_get(j, "height")),
                   (long long)json_integer_value(json_object_get(j, "log_index")),
                   cairn_err_name(*result));
            json_decref(j);
            if (*result)
                fprintf(stderr, "error: %s: %s\n", cairn_err_name(*result),
                        cairn_strerror(*result));
            return *result ? CLI_INVALID : 0;
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    fprintf(stderr, "error: ETIMEOUT: not in a block after %d s\n", WAIT_MS / 1000);
    return CLI_FAILURE;
}

/* cairn tx submit-batch FILE...: signed transactions (from --sign-only) in one POST /v1/txs/batch;
 * prints the node's answer; exit 0 when every one was accepted. */
static int submit_batch(ctx *c)
{
    enum { MAX_FILES = 1000 };
    ProtobufCBinaryData *txs = calloc(MAX_FILES, sizeof *txs);
    size_t n = 0;
    int rc = txs ? 0 : cli_fail(CAIRN_ENOMEM, NULL);
    for (const char *f; !rc && (f = cli_positional(c->argc, c->argv, c->used));) {
        if (n == MAX_FILES) {
            rc = cli_fail(CAIRN_ETOOBIG, "at most 1000 transactions per batch");
            break;
        }
        FILE *fp = fopen(f, "rb");
        uint8_t *buf = malloc(CAIRN_TX_MAX_BYTES + 1);
        size_t len = fp && buf ? fread(buf, 1, CAIRN_TX_MAX_BYTES + 1, fp) : 0;
        if (fp) fclose(fp);
        if (!fp || !buf) {
            free(buf);
            rc = cli_fail(fp ? CAIRN_ENOMEM : CAIRN_ENOENT, f);
            break;
        }
        txs[n++] = (ProtobufCBinaryData){len, buf};
    }
    if (!rc && n == 0) rc = need(NULL, "FILE...");
    uint8_t *body = NULL, *resp = NULL;
    size_t blen = 0, rlen = 0;
    int status = 0;
    if (!rc) {
        Cairn__V1__SubmitTxBatch b = CAIRN__V1__SUBMIT_TX_BATCH__INIT;
        b.n_txs = n;
        b.txs = txs;
        blen = cairn__v1__submit_tx_batch__get_packed_size(&b);
        if (!(body = malloc(blen ? blen : 1))) rc = cli_fail(CAIRN_ENOMEM, NULL);
        if (body) cairn__v1__submit_tx_batch__pack(&b, body);
    }
    char url[1024];
    snprintf(url, sizeof url, "%s/v1/txs/batch", c->node);
    int err = rc ? 0
                 : cairn_http_post(url, "application/x-protobuf", body, blen, TIMEOUT_MS, &status,
                                   &resp, &rlen);
    if (!rc && err) rc = cli_fail(err, url);
    if (!rc) {
        printf("%.*s\n", (int)rlen, resp);
        json_error_t je;
        json_t *j = json_loadb((const char *)resp, rlen, 0, &je);
        if (status != 200 || !j) {
            fprintf(stderr, "error: node refused the batch (HTTP %d)\n", status);
            rc = CLI_INVALID;
        } else if ((size_t)json_integer_value(json_object_get(j, "accepted")) != n) {
            rc = CLI_INVALID;
        }
        json_decref(j);
    }
    for (size_t i = 0; txs && i < n; i++) free(txs[i].data);
    free(txs);
    free(body);
    free(resp);
    return rc;
}

static int parse_id(const char *hex, uint8_t out[32], const char *name)
{
    if (cairn_hex_decode_exact(out, 32, hex) != 0) return cli_fail(CAIRN_EHEX, name);
    return 0;
}

static void org_id_of(const char *name, uint8_t out[32])
{
    cairn_org_id(out, name, strlen(name));
}

/* A SHA-256 digest argument (32 bytes of hex). */
static int digest_arg(const char *hex, uint8_t buf[32], Cairn__V1__Digest *d, const char *name)
{
    if (cairn_hex_decode_exact(buf, 32, hex) != 0) return cli_fail(CAIRN_EHEX, name);
    d->alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
    d->value = (ProtobufCBinaryData){32, buf};
    return 0;
}

static void print_hex(const char *label, const uint8_t *p, size_t len)
{
    char hex[2 * 64 + 1];
    cairn_hex_encode(hex, p, len);
    printf("%s: %s\n", label, hex);
}

/* ---- key, org ---- */

static int key_cmd(ctx *c, const char *sub)
{
    if (strcmp(sub, "new") == 0) {
        const char *alg_s = opt(c, "--alg"), *out = opt(c, "--out");
        if (need(alg_s, "--alg") || need(out, "--out")) return CLI_USAGE;
        cairn_sig_alg alg;
        if (cairn_sig_alg_parse(&alg, alg_s)) return cli_fail(CAIRN_ESIG_ALG, alg_s);
        uint8_t seed[32];
        cairn_keypair kp;
        int err;
        do { /* a seed that is not a valid scalar has probability ~2^-128 */
            randombytes_buf(seed, sizeof seed);
            err = cairn_keypair_from_seed(&kp, c->sig, alg, seed);
        } while (err == CAIRN_ESIG_KEY);
        sodium_memzero(seed, sizeof seed);
        if (!err) err = cairn_keyfile_save(out, &kp);
        if (err) return cli_fail(err, out);
        printf("alg: %s\n", alg_s);
        print_hex("public", kp.pub, kp.pub_len);
        cairn_keypair_wipe(&kp);
        return 0;
    }
    if (strcmp(sub, "show") == 0) {
        const char *file = cli_positional(c->argc, c->argv, c->used);
        cairn_keypair kp;
        if (need(file, "FILE") || load_key(c, file, &kp)) return CLI_USAGE;
        printf("alg: %s\n", cairn_sig_alg_name(kp.alg));
        print_hex("public", kp.pub, kp.pub_len);
        if (kp.alg == CAIRN_SIG_ED25519) { /* as a validator key: what remove-validator takes */
            uint8_t vid[32];
            cairn_validator_id(vid, kp.pub, kp.pub_len);
            print_hex("validator_id", vid, 32);
        }
        cairn_keypair_wipe(&kp);
        return 0;
    }
    return CLI_USAGE;
}

/* ---- devices ---- */

static int scheme_parse(const char *s, size_t len)
{
    static const char *const names[] = {NULL, "ueid", "devid", "epc", "oid", "did", "handle"};
    for (int i = 1; i < 7; i++)
        if (strlen(names[i]) == len && strncmp(s, names[i], len) == 0) return i;
    return 0;
}

static int device_register(ctx *c)
{
    const char *key = opt(c, "--key"), *org = opt(c, "--org"), *dkey = opt(c, "--device-key");
    const char *cls = opt(c, "--class"), *id = opt(c, "--id"), *salt_s = opt(c, "--salt");
    const char *model = opt(c, "--model"), *maker = opt(c, "--manufacturer");
    if (need(key, "--key") || need(org, "--org") || need(dkey, "--device-key") ||
        need(cls, "--class") || need(id, "--id"))
        return CLI_USAGE;
    const char *colon = strchr(id, ':');
    int scheme = colon ? scheme_parse(id, (size_t)(colon - id)) : 0;
    if (!scheme) {
        fprintf(stderr, "error: --id must be SCHEME:VALUE with SCHEME one of ueid, devid, epc, "
                        "oid, did, handle\n");
        return CLI_USAGE;
    }
    cairn_keypair admin, dev;
    if (load_key(c, key, &admin) || load_key(c, dkey, &dev)) return CLI_USAGE;
    uint8_t owner[32], salt[32], commit[32], device_id[32], pop[64];
    org_id_of(org, owner);
    if (salt_s) {
        if (parse_id(salt_s, salt, "--salt")) return CLI_USAGE;
    } else {
        randombytes_buf(salt, sizeof salt);
    }
    /* The identifier itself never leaves this machine: only its salted commitment. */
    cairn_ext_id_commitment(commit, (uint8_t)scheme, (const uint8_t *)colon + 1, strlen(colon + 1),
                            salt);
    char chain[65];
    uint64_t h;
    uint8_t hh[32];
    int rc = head(c, chain, &h, hh);
    if (rc) return rc;
    cairn_device_id(device_id, chain, owner, commit);
    int err = cairn_pop_sign(chain, owner, &dev, pop);
    if (err) return cli_fail(err, "proof of possession");
    Cairn__V1__TxBody b = CAIRN__V1__TX_BODY__INIT;
    Cairn__V1__DeviceRegister r = CAIRN__V1__DEVICE_REGISTER__INIT;
    Cairn__V1__PublicKey pk = CAIRN__V1__PUBLIC_KEY__INIT;
    Cairn__V1__ExternalIdCommitment ic = CAIRN__V1__EXTERNAL_ID_COMMITMENT__INIT, *ics[1] = {&ic};
    pk.alg = (Cairn__V1__SigAlg)dev.alg;
    pk.key = (ProtobufCBinaryData){dev.pub_len, dev.pub};
    ic.scheme = (Cairn__V1__IdScheme)scheme;
    ic.commitment = (ProtobufCBinaryData){32, commit};
    r.owner_org = (ProtobufCBinaryData){32, owner};
    r.device_key = &pk;
    r.pop_signature = (ProtobufCBinaryData){64, pop};
    r.n_identifiers = 1;
    r.identifiers = ics;
    r.device_class = (char *)cls;
    r.model = (char *)(model ? model : "");
    r.manufacturer = (char *)(maker ? maker : "");
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_REGISTER;
    b.device_register = &r;
    print_hex("device_id", device_id, 32);
    print_hex("id_salt", salt, 32); /* keep it: it proves the link to the external identifier */
    int32_t result = 0;
    rc = submit(c, &b, &admin, &result);
    cairn_keypair_wipe(&admin);
    cairn_keypair_wipe(&dev);
    return rc;
}

static int device_status(ctx *c)
{
    const char *key = opt(c, "--key"), *dev = opt(c, "--device"), *st = opt(c, "--status");
    const char *reason = opt(c, "--reason");
    if (need(key, "--key") || need(dev, "--device") || need(st, "--status")) return CLI_USAGE;
    int status = strcmp(st, "active") == 0      ? 1
                 : strcmp(st, "suspended") == 0 ? 2
                 : strcmp(st, "revoked") == 0   ? 3
                                                : 0;
    if (!status) return cli_fail(CAIRN_EINVAL, "--status must be active, suspended or revoked");
    cairn_keypair kp;
    uint8_t id[32];
    if (parse_id(dev, id, "--device") || load_key(c, key, &kp)) return CLI_USAGE;
    Cairn__V1__TxBody b = CAIRN__V1__TX_BODY__INIT;
    Cairn__V1__DeviceStatusChange s = CAIRN__V1__DEVICE_STATUS_CHANGE__INIT;
    s.device_id = (ProtobufCBinaryData){32, id};
    s.status = (Cairn__V1__DeviceStatus)status;
    s.reason = (char *)(reason ? reason : "");
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_STATUS;
    b.device_status = &s;
    int32_t result;
    return submit(c, &b, &kp, &result);
}

static int device_rotate(ctx *c)
{
    const char *key = opt(c, "--key"), *dev = opt(c, "--device"), *nk = opt(c, "--new-key");
    const char *owner = opt(c, "--owner");
    if (need(key, "--key") || need(dev, "--device") || need(nk, "--new-key") ||
        need(owner, "--owner"))
        return CLI_USAGE;
    cairn_keypair kp, nkp;
    uint8_t id[32], org[32], pop[64];
    if (parse_id(dev, id, "--device") || load_key(c, key, &kp) || load_key(c, nk, &nkp))
        return CLI_USAGE;
    org_id_of(owner, org);
    char chain[65];
    uint64_t h;
    uint8_t hh[32];
    int rc = head(c, chain, &h, hh);
    if (rc) return rc;
    int err = cairn_pop_sign(chain, org, &nkp, pop);
    if (err) return cli_fail(err, "proof of possession");
    Cairn__V1__TxBody b = CAIRN__V1__TX_BODY__INIT;
    Cairn__V1__DeviceKeyRotate r = CAIRN__V1__DEVICE_KEY_ROTATE__INIT;
    Cairn__V1__PublicKey pk = CAIRN__V1__PUBLIC_KEY__INIT;
    pk.alg = (Cairn__V1__SigAlg)nkp.alg;
    pk.key = (ProtobufCBinaryData){nkp.pub_len, nkp.pub};
    r.device_id = (ProtobufCBinaryData){32, id};
    r.new_key = &pk;
    r.pop_signature = (ProtobufCBinaryData){64, pop};
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_KEY_ROTATE;
    b.device_key_rotate = &r;
    int32_t result;
    return submit(c, &b, &kp, &result);
}

static int show_json(ctx *c, const char *path)
{
    json_t *j;
    int rc = get_json(c, path, &j);
    if (rc) return rc;
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s) return cli_fail(CAIRN_ENOMEM, NULL);
    printf("%s\n", s);
    free(s);
    return 0;
}

static int device_transfer(ctx *c, int accept);

static int device_cmd(ctx *c, const char *sub)
{
    if (strcmp(sub, "register") == 0) return device_register(c);
    if (strcmp(sub, "status") == 0) return device_status(c);
    if (strcmp(sub, "rotate") == 0) return device_rotate(c);
    if (strcmp(sub, "transfer") == 0) return device_transfer(c, 0);
    if (strcmp(sub, "accept") == 0) return device_transfer(c, 1);
    if (strcmp(sub, "show") == 0) {
        const char *id = cli_positional(c->argc, c->argv, c->used);
        uint8_t b[32];
        if (need(id, "DEVICE_ID") || parse_id(id, b, "DEVICE_ID")) return CLI_USAGE;
        char path[128];
        snprintf(path, sizeof path, "/v1/devices/%s", id);
        return show_json(c, path);
    }
    return CLI_USAGE;
}

/* ---- transfers, organizations, governance ---- */

static int device_transfer(ctx *c, int accept)
{
    const char *key = opt(c, "--key"), *dev = opt(c, "--device");
    const char *to = accept ? NULL : opt(c, "--to"), *offer = accept ? opt(c, "--offer") : NULL;
    if (need(key, "--key") || need(dev, "--device") || (!accept && need(to, "--to")) ||
        (accept && need(offer, "--offer")))
        return CLI_USAGE;
    uint8_t id[32], org[32], off[32];
    cairn_keypair kp;
    if (parse_id(dev, id, "--device") || (accept && parse_id(offer, off, "--offer")) ||
        load_key(c, key, &kp))
        return CLI_USAGE;
    Cairn__V1__TxBody b = CAIRN__V1__TX_BODY__INIT;
    Cairn__V1__DeviceTransferOffer o = CAIRN__V1__DEVICE_TRANSFER_OFFER__INIT;
    Cairn__V1__DeviceTransferAccept a = CAIRN__V1__DEVICE_TRANSFER_ACCEPT__INIT;
    if (accept) {
        a.device_id = (ProtobufCBinaryData){32, id};
        a.offer_tx = (ProtobufCBinaryData){32, off};
        b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_TRANSFER_ACCEPT;
        b.device_transfer_accept = &a;
    } else {
        org_id_of(to, org);
        o.device_id = (ProtobufCBinaryData){32, id};
        o.to_org = (ProtobufCBinaryData){32, org};
        b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_TRANSFER_OFFER;
        b.device_transfer_offer = &o;
    }
    int32_t result;
    return submit(c, &b, &kp, &result);
}

/* Loads a comma-separated list of key files into PublicKey messages (at most 8). */
typedef struct keylist {
    size_t n;
    cairn_keypair kp[8];
    Cairn__V1__PublicKey pk[8];
    Cairn__V1__PublicKey *ptr[8];
} keylist;

static int load_keylist(ctx *c, const char *files, keylist *kl)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", files);
    kl->n = 0;
    for (char *save = NULL, *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        if (kl->n == 8) return cli_fail(CAIRN_ETOOBIG, "at most 8 admin keys");
        if (load_key(c, f, &kl->kp[kl->n])) return CLI_USAGE;
        cairn__v1__public_key__init(&kl->pk[kl->n]);
        kl->pk[kl->n].alg = (Cairn__V1__SigAlg)kl->kp[kl->n].alg;
        kl->pk[kl->n].key = (ProtobufCBinaryData){kl->kp[kl->n].pub_len, kl->kp[kl->n].pub};
        kl->ptr[kl->n] = &kl->pk[kl->n];
        kl->n++;
    }
    return kl->n ? 0 : cli_fail(CAIRN_EINVAL, "no key files");
}

static int org_rotate(ctx *c)
{
    const char *key = opt(c, "--key"), *org = opt(c, "--org"), *files = opt(c, "--admin-keys");
    if (need(key, "--key") || need(org, "--org") || need(files, "--admin-keys")) return CLI_USAGE;
    cairn_keypair kp;
    keylist kl;
    uint8_t id[32];
    if (load_key(c, key, &kp) || load_keylist(c, files, &kl)) return CLI_USAGE;
    org_id_of(org, id);
    Cairn__V1__TxBody b = CAIRN__V1__TX_BODY__INIT;
    Cairn__V1__OrgKeyRotate r = CAIRN__V1__ORG_KEY_ROTATE__INIT;
    r.org_id = (ProtobufCBinaryData){32, id};
    r.n_admin_keys = kl.n;
    r.admin_keys = kl.ptr;
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_ORG_KEY_ROTATE;
    b.org_key_rotate = &r;
    int32_t result;
    return submit(c, &b, &kp, &result);
}

static int gov_propose(ctx *c)
{
    const char *key = opt(c, "--key"), *org = opt(c, "--org");
    const char *action = cli_positional(c->argc, c->argv, c->used);
    if (need(key, "--key") || need(org, "--org") || need(action, "ACTION")) return CLI_USAGE;
    cairn_keypair kp;
    if (load_key(c, key, &kp)) return CLI_USAGE;
    uint8_t proposer[32], id[32], noise[32];
    org_id_of(org, proposer);
    Cairn__V1__GovProposal p = CAIRN__V1__GOV_PROPOSAL__INIT;
    Cairn__V1__AddOrganization ao = CAIRN__V1__ADD_ORGANIZATION__INIT;
    Cairn__V1__Organization o = CAIRN__V1__ORGANIZATION__INIT;
    Cairn__V1__RemoveOrganization ro = CAIRN__V1__REMOVE_ORGANIZATION__INIT;
    Cairn__V1__AddValidator av = CAIRN__V1__ADD_VALIDATOR__INIT;
    Cairn__V1__Validator v = CAIRN__V1__VALIDATOR__INIT;
    Cairn__V1__PublicKey vk = CAIRN__V1__PUBLIC_KEY__INIT;
    Cairn__V1__RemoveValidator rv = CAIRN__V1__REMOVE_VALIDATOR__INIT;
    Cairn__V1__SetPolicy sp = CAIRN__V1__SET_POLICY__INIT;
    keylist kl;
    cairn_keypair valkp;
    Cairn__V1__OrgRole roles[3];
    p.proposer_org = (ProtobufCBinaryData){32, proposer};
    if (!strcmp(action, "add-org")) {
        const char *name = opt(c, "--name"), *rl = opt(c, "--roles"),
                   *files = opt(c, "--admin-keys");
        if (need(name, "--name") || need(rl, "--roles") || need(files, "--admin-keys") ||
            load_keylist(c, files, &kl))
            return CLI_USAGE;
        size_t nr = 0;
        char buf[128];
        snprintf(buf, sizeof buf, "%s", rl);
        for (char *save = NULL, *r = strtok_r(buf, ",", &save); r && nr < 3;
             r = strtok_r(NULL, ",", &save)) {
            int role = !strcmp(r, "operator")  ? 1
                       : !strcmp(r, "vendor")  ? 2
                       : !strcmp(r, "service") ? 3
                                               : 0;
            if (!role) return cli_fail(CAIRN_EINVAL, "--roles: operator, vendor, service");
            roles[nr++] = (Cairn__V1__OrgRole)role;
        }
        o.name = (char *)name;
        o.n_roles = nr;
        o.roles = roles;
        o.n_admin_keys = kl.n;
        o.admin_keys = kl.ptr;
        o.require_trusted_attestation = cli_flag(c->argc, c->argv, "--require-trusted", c->used);
        ao.org = &o;
        p.action_case = CAIRN__V1__GOV_PROPOSAL__ACTION_ADD_ORG;
        p.add_org = &ao;
    } else if (!strcmp(action, "remove-org")) {
        const char *name = opt(c, "--name");
        if (need(name, "--name")) return CLI_USAGE;
        org_id_of(name, id);
        ro.org_id = (ProtobufCBinaryData){32, id};
        p.action_case = CAIRN__V1__GOV_PROPOSAL__ACTION_REMOVE_ORG;
        p.remove_org = &ro;
    } else if (!strcmp(action, "add-validator")) {
        const char *forg = opt(c, "--for-org"), *vf = opt(c, "--validator-key"),
                   *nk = opt(c, "--noise-key");
        const char *pw = opt(c, "--power"), *addr = opt(c, "--address");
        uint64_t power;
        if (need(forg, "--for-org") || need(vf, "--validator-key") || need(nk, "--noise-key") ||
            need(pw, "--power") || need(addr, "--address") || load_key(c, vf, &valkp))
            return CLI_USAGE;
        if (cli_parse_u64(pw, &power)) return cli_fail(CAIRN_ENUMBER, "--power");
        if (parse_id(nk, noise, "--noise-key")) return CLI_USAGE;
        org_id_of(forg, id);
        vk.alg = (Cairn__V1__SigAlg)valkp.alg;
        vk.key = (ProtobufCBinaryData){valkp.pub_len, valkp.pub};
        v.org_id = (ProtobufCBinaryData){32, id};
        v.consensus_key = &vk;
        v.noise_key = (ProtobufCBinaryData){32, noise};
        v.voting_power = power;
        v.address = (char *)addr;
        av.validator = &v;
        p.action_case = CAIRN__V1__GOV_PROPOSAL__ACTION_ADD_VALIDATOR;
        p.add_validator = &av;
    } else if (!strcmp(action, "remove-validator")) {
        const char *vid = opt(c, "--validator-id");
        if (need(vid, "--validator-id") || parse_id(vid, id, "--validator-id")) return CLI_USAGE;
        rv.validator_id = (ProtobufCBinaryData){32, id};
        p.action_case = CAIRN__V1__GOV_PROPOSAL__ACTION_REMOVE_VALIDATOR;
        p.remove_validator = &rv;
    } else if (!strcmp(action, "set-policy")) {
        const char *k = opt(c, "--approvals");
        uint64_t kv;
        if (need(k, "--approvals")) return CLI_USAGE;
        if (cli_parse_u64(k, &kv) || kv == 0 || kv > 64)
            return cli_fail(CAIRN_ENUMBER, "--approvals");
        sp.approvals_required = (uint32_t)kv;
        p.action_case = CAIRN__V1__GOV_PROPOSAL__ACTION_SET_POLICY;
        p.set_policy = &sp;
    } else {
        return cli_fail(CAIRN_EINVAL,
                        "ACTION: add-org, remove-org, add-validator, remove-validator, set-policy");
    }
    Cairn__V1__TxBody b = CAIRN__V1__TX_BODY__INIT;
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_GOV_PROPOSAL;
    b.gov_proposal = &p;
    printf("proposal_id is the tx_hash below\n");
    int32_t result;
    return submit(c, &b, &kp, &result);
}

static int gov_approve(ctx *c)
{
    const char *key = opt(c, "--key"), *org = opt(c, "--org"), *prop = opt(c, "--proposal");
    if (need(key, "--key") || need(org, "--org") || need(prop, "--proposal")) return CLI_USAGE;
    uint8_t pid[32], oid[32];
    cairn_keypair kp;
    if (parse_id(prop, pid, "--proposal") || load_key(c, key, &kp)) return CLI_USAGE;
    org_id_of(org, oid);
    Cairn__V1__GovApproval a = CAIRN__V1__GOV_APPROVAL__INIT;
    a.proposal_id = (ProtobufCBinaryData){32, pid};
    a.approver_org = (ProtobufCBinaryData){32, oid};
    a.approve = !cli_flag(c->argc, c->argv, "--reject", c->used);
    Cairn__V1__TxBody b = CAIRN__V1__TX_BODY__INIT;
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_GOV_APPROVAL;
    b.gov_approval = &a;
    int32_t result;
    return submit(c, &b, &kp, &result);
}

/* ---- firmware ---- */

static int firmware_cmd(ctx *c, const char *sub)
{
    const char *key = opt(c, "--key");
    if (need(key, "--key")) return CLI_USAGE;
    cairn_keypair kp;
    Cairn__V1__TxBody b = CAIRN__V1__TX_BODY__INIT;
    int32_t result;
    if (strcmp(sub, "publish") == 0) {
        const char *vendor = opt(c, "--vendor"), *cls = opt(c, "--class"),
                   *ver = opt(c, "--version");
        const char *svn_s = opt(c, "--svn"), *img = opt(c, "--image-digest"),
                   *suit = opt(c, "--suit-digest");
        uint64_t svn;
        if (need(vendor, "--vendor") || need(cls, "--class") || need(ver, "--version") ||
            need(svn_s, "--svn") || need(img, "--image-digest"))
            return CLI_USAGE;
        if (cli_parse_u64(svn_s, &svn)) return cli_fail(CAIRN_ENUMBER, "--svn");
        uint8_t vid[32], ib[32], sb[32], rid[32];
        Cairn__V1__FirmwarePublish p = CAIRN__V1__FIRMWARE_PUBLISH__INIT;
        Cairn__V1__Digest id = CAIRN__V1__DIGEST__INIT, sd = CAIRN__V1__DIGEST__INIT;
        if (digest_arg(img, ib, &id, "--image-digest") ||
            (suit && digest_arg(suit, sb, &sd, "--suit-digest")))
            return CLI_USAGE;
        if (load_key(c, key, &kp)) return CLI_USAGE;
        org_id_of(vendor, vid);
        p.vendor_org = (ProtobufCBinaryData){32, vid};
        p.device_class = (char *)cls;
        p.version = (char *)ver;
        p.security_version = svn;
        p.image_digest = &id;
        if (suit) p.suit_manifest_digest = &sd;
        cairn_str cs, vs;
        if (cairn_str_set(&cs, cls, strlen(cls)) || cairn_str_set(&vs, ver, strlen(ver)))
            return cli_fail(CAIRN_ETOOBIG, "--class/--version");
        cairn_release_id(rid, vid, &cs, &vs);
        print_hex("release_id", rid, 32);
        b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_FIRMWARE_PUBLISH;
        b.firmware_publish = &p;
        return submit(c, &b, &kp, &result);
    }
    if (strcmp(sub, "revoke") == 0) {
        const char *rel = opt(c, "--release"), *reason = opt(c, "--reason");
        uint8_t rid[32];
        if (need(rel, "--release") || parse_id(rel, rid, "--release") || load_key(c, key, &kp))
            return CLI_USAGE;
        Cairn__V1__FirmwareRevoke r = CAIRN__V1__FIRMWARE_REVOKE__INIT;
        r.release_id = (ProtobufCBinaryData){32, rid};
        r.reason = (char *)(reason ? reason : "");
        b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_FIRMWARE_REVOKE;
        b.firmware_revoke = &r;
        return submit(c, &b, &kp, &result);
    }
    return CLI_USAGE;
}

/* ---- device transactions ---- */

static int attest_cmd(ctx *c)
{
    const char *key = opt(c, "--key"), *dev = opt(c, "--device"), *m = opt(c, "--measurement");
    const char *ev = opt(c, "--evidence");
    if (need(key, "--key") || need(dev, "--device") || need(m, "--measurement")) return CLI_USAGE;
    uint8_t id[32], mb[32], eb[32], fresh[32];
    Cairn__V1__Digest md = CAIRN__V1__DIGEST__INIT, ed = CAIRN__V1__DIGEST__INIT, *ms[1] = {&md};
    cairn_keypair kp;
    if (parse_id(dev, id, "--device") || digest_arg(m, mb, &md, "--measurement") ||
        (ev && digest_arg(ev, eb, &ed, "--evidence")) || load_key(c, key, &kp))
        return CLI_USAGE;
    char chain[65];
    uint64_t h;
    int rc = head(c, chain, &h, fresh); /* freshness: the latest block's hash */
    if (rc) return rc;
    Cairn__V1__TxBody b = CAIRN__V1__TX_BODY__INIT;
    Cairn__V1__Attestation a = CAIRN__V1__ATTESTATION__INIT;
    a.device_id = (ProtobufCBinaryData){32, id};
    a.n_measurements = 1;
    a.measurements = ms;
    if (ev) a.evidence_digest = &ed;
    a.freshness_block = (ProtobufCBinaryData){32, fresh};
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_ATTESTATION;
    b.attestation = &a;
    int32_t result;
    rc = submit(c, &b, &kp, &result);
    if (rc == 0 && !c->no_wait) {
        char path[128];
        json_t *j;
        snprintf(path, sizeof path, "/v1/devices/%s", dev);
        if (get_json(c, path, &j) == 0) {
            printf("appraisal: %s\n", json_string_value(json_object_get(
                                          json_object_get(j, "attestation"), "appraisal")));
            json_decref(j);
        }
    }
    return rc;
}

static int anchor_cmd(ctx *c)
{
    const char *key = opt(c, "--key"), *dev = opt(c, "--device"), *stream = opt(c, "--stream");
    const char *seq_s = opt(c, "--seq"), *dig = opt(c, "--digest");
    const char *from_s = opt(c, "--from-ms"), *to_s = opt(c, "--to-ms");
    if (need(key, "--key") || need(dev, "--device") || need(stream, "--stream") ||
        need(seq_s, "--seq") || need(dig, "--digest"))
        return CLI_USAGE;
    uint64_t seq, from = 0, to = 0;
    if (cli_parse_u64(seq_s, &seq)) return cli_fail(CAIRN_ENUMBER, "--seq");
    if (from_s && cli_parse_u64(from_s, &from)) return cli_fail(CAIRN_ENUMBER, "--from-ms");
    if (to_s && cli_parse_u64(to_s, &to)) return cli_fail(CAIRN_ENUMBER, "--to-ms");
    if (!to_s) to = from;
    if (strlen(stream) > 32) return cli_fail(CAIRN_ETOOBIG, "--stream (at most 32 bytes)");
    uint8_t id[32], db[32];
    Cairn__V1__Digest dd = CAIRN__V1__DIGEST__INIT;
    cairn_keypair kp;
    if (parse_id(dev, id, "--device") || digest_arg(dig, db, &dd, "--digest") ||
        load_key(c, key, &kp))
        return CLI_USAGE;
    Cairn__V1__TxBody b = CAIRN__V1__TX_BODY__INIT;
    Cairn__V1__DataAnchor a = CAIRN__V1__DATA_ANCHOR__INIT;
    a.device_id = (ProtobufCBinaryData){32, id};
    a.stream_id = (ProtobufCBinaryData){strlen(stream), (uint8_t *)stream};
    a.sequence = seq;
    a.data_digest = &dd;
    a.time_start_ms = from;
    a.time_end_ms = to;
    b.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR;
    b.data_anchor = &a;
    int32_t result;
    return submit(c, &b, &kp, &result);
}

/* ---- provenance ---- */

static int provenance_cmd(ctx *c)
{
    const char *dig = cli_positional(c->argc, c->argv, c->used);
    const char *out = opt(c, "--out"), *format = opt(c, "--format");
    if (need(dig, "DIGEST")) return CLI_USAGE;
    if (format && strcmp(format, "json") && strcmp(format, "protobuf"))
        return cli_fail(CAIRN_EINVAL, "--format must be json or protobuf");
    uint8_t tmp[64];
    size_t tl;
    if (cairn_hex_decode(tmp, sizeof tmp, &tl, dig, strlen(dig)) || tl == 0)
        return cli_fail(CAIRN_EHEX, "DIGEST");
    char url[1024];
    snprintf(url, sizeof url, "%s/v1/provenance/%s?format=%s", c->node, dig,
             format ? format : "json");
    int status;
    uint8_t *body;
    size_t len;
    int err = cairn_http_get(url, TIMEOUT_MS, &status, &body, &len);
    if (err) return cli_fail(err, url);
    if (status != 200) {
        fprintf(stderr, "error: HTTP %d: %.*s\n", status, (int)len, body);
        free(body);
        return status == 404 ? CLI_INVALID : CLI_USAGE;
    }
    FILE *f = out ? fopen(out, "wb") : stdout;
    int rc = 0;
    if (!f || fwrite(body, 1, len, f) != len) rc = cli_fail(CAIRN_EIO, out);
    if (f && f != stdout) fclose(f);
    if (out && !rc) fprintf(stderr, "wrote %zu bytes to %s\n", len, out);
    free(body);
    return rc;
}

static const char *status_word(uint8_t s)
{
    return s == 1 ? "active" : s == 2 ? "suspended" : s == 3 ? "revoked" : "?";
}

static int verify_cmd(ctx *c)
{
    const char *file = cli_positional(c->argc, c->argv, c->used), *gen = opt(c, "--genesis");
    if (need(file, "BUNDLE") || need(gen, "--genesis")) return CLI_USAGE;
    cairn_genesis *g = malloc(sizeof *g);
    char msg[256] = "";
    if (!g) return cli_fail(CAIRN_ENOMEM, NULL);
    int err = cairn_genesis_load(g, gen, msg, sizeof msg);
    if (err) {
        free(g);
        return cli_fail(err, msg);
    }
    char *text;
    size_t len;
    if ((err = cli_read_file(file, (size_t)16 << 20, &text, &len))) {
        free(g);
        return cli_fail(err, file);
    }
    /* JSON (first non-space byte '{') or binary. */
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
        i++;
    cairn_buf bin = CAIRN_BUF_INIT;
    if (i < len && text[i] == '{')
        err = cairn_bundle_from_json(text, len, &bin);
    else
        cairn_buf_put(&bin, text, len), err = cairn_buf_finish(&bin);
    free(text);
    cairn_bundle_summary s;
    char why[256] = "";
    if (!err) err = cairn_bundle_verify(c->sig, g, bin.p, bin.len, &s, why, sizeof why);
    cairn_buf_free(&bin);
    free(g);
    if (err) {
        fprintf(stderr, "INVALID: %s: %s\n", cairn_err_name(err),
                why[0] ? why : cairn_strerror(err));
        return CLI_INVALID;
    }
    char hex[129];
    printf("VALID provenance bundle\n");
    cairn_hex_encode(hex, s.data_digest, s.data_digest_len);
    printf("  data digest       %s\n", hex);
    printf("  anchored          stream \"%.*s\" sequence %llu, time %llu..%llu ms\n",
           (int)s.stream_id_len, (const char *)s.stream_id, (unsigned long long)s.sequence,
           (unsigned long long)s.time_start_ms, (unsigned long long)s.time_end_ms);
    cairn_hex_encode(hex, s.block_hash, 32);
    printf("  checkpoint        height %llu, block %s, log size %llu, %u commit signature(s)\n",
           (unsigned long long)s.height, hex, (unsigned long long)s.log_size, s.signatures);
    if (s.epoch)
        printf("  validator set     epoch %llu, reached through %llu certified set change(s)\n",
               (unsigned long long)s.epoch, (unsigned long long)s.epoch);
    printf("  log entry         %llu (inclusion proof verified)\n",
           (unsigned long long)s.log_index);
    cairn_hex_encode(hex, s.device.id, 32);
    printf("  device            %s (%s, class %s), status %s\n", hex,
           cairn_sig_alg_name((cairn_sig_alg)s.device.keys[s.signer_key_index].key.alg),
           s.device.device_class.s, status_word(s.device.status));
    printf("  owner             %s\n", s.owner.name.s);
    if (s.has_attestation) {
        printf("  attestation       height %llu, appraisal %s%s\n",
               (unsigned long long)s.attestation_height,
               cairn_appraisal_name((cairn_appraisal)s.device.attestation.appraisal),
               s.attestation_after_anchor ? " (recorded after the anchor, same block)" : "");
        if (s.has_release)
            printf("  firmware          %s %s (security version %llu), %s\n",
                   s.release.device_class.s, s.release.version.s,
                   (unsigned long long)s.release.security_version,
                   s.release.status == 2 ? "REVOKED" : "published");
    } else {
        printf("  attestation       none\n");
    }
    return 0;
}

int cmd_tx(const char *group, int argc, char **argv)
{
    ctx c = {.argc = argc, .argv = argv};
    c.used = calloc((size_t)argc + 1, sizeof *c.used);
    if (!c.used || cairn_sig_ctx_new(&c.sig)) return cli_fail(CAIRN_ENOMEM, NULL);
    c.node = opt(&c, "--node");
    if (!c.node) c.node = getenv("CAIRN_NODE");
    if (!c.node) c.node = "http://127.0.0.1:7750";
    c.no_wait = cli_flag(argc, argv, "--no-wait", c.used);
    c.sign_only = opt(&c, "--sign-only");
    int rc = CLI_USAGE;
    const char *sub = NULL;
    int grouped = !strcmp(group, "key") || !strcmp(group, "device") || !strcmp(group, "firmware") ||
                  !strcmp(group, "org") || !strcmp(group, "tx") || !strcmp(group, "gov");
    if (grouped) sub = cli_positional(argc, argv, c.used);
    if (grouped && !sub) {
        fprintf(stderr, "usage: cairn %s SUBCOMMAND ... (see `cairn help`)\n", group);
    } else if (!strcmp(group, "key")) {
        rc = key_cmd(&c, sub);
    } else if (!strcmp(group, "org") && !strcmp(sub, "id")) {
        const char *name = cli_positional(argc, argv, c.used);
        uint8_t id[32];
        if (!need(name, "NAME")) {
            org_id_of(name, id);
            print_hex("org_id", id, 32);
            rc = 0;
        }
    } else if (!strcmp(group, "org") && !strcmp(sub, "rotate-keys")) {
        rc = org_rotate(&c);
    } else if (!strcmp(group, "gov") && !strcmp(sub, "propose")) {
        rc = gov_propose(&c);
    } else if (!strcmp(group, "gov") && !strcmp(sub, "approve")) {
        rc = gov_approve(&c);
    } else if (!strcmp(group, "device")) {
        rc = device_cmd(&c, sub);
    } else if (!strcmp(group, "firmware")) {
        rc = firmware_cmd(&c, sub);
    } else if (!strcmp(group, "tx") && !strcmp(sub, "submit-batch")) {
        rc = submit_batch(&c);
    } else if (!strcmp(group, "tx") && !strcmp(sub, "status")) {
        const char *h = cli_positional(argc, argv, c.used);
        uint8_t b[32];
        char path[128];
        if (!need(h, "HASH") && !parse_id(h, b, "HASH")) {
            snprintf(path, sizeof path, "/v1/txs/%s", h);
            rc = show_json(&c, path);
        }
    } else if (!strcmp(group, "attest")) {
        rc = attest_cmd(&c);
    } else if (!strcmp(group, "anchor")) {
        rc = anchor_cmd(&c);
    } else if (!strcmp(group, "checkpoint")) {
        rc = show_json(&c, "/v1/checkpoint");
    } else if (!strcmp(group, "provenance")) {
        rc = provenance_cmd(&c);
    } else if (!strcmp(group, "verify")) {
        rc = verify_cmd(&c);
    }
    const char *left = rc == 0 ? cli_leftover(argc, argv, c.used) : NULL;
    if (left) {
        fprintf(stderr, "error: unexpected argument '%s'\n", left);
        rc = CLI_USAGE;
    }
    cairn_sig_ctx_free(c.sig);
    free(c.used);
    return rc;
}
