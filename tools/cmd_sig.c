/*
 * cairn sig ... — one-off signature checks under Cairn's rules (handy when a device's
 * signatures are rejected), key checks, and test keys and signatures.
 *
 *   cairn sig verify --alg ALG --pubkey HEX --msg HEX --sig HEX   exit 0 valid, 1 invalid
 *   cairn sig check-key --alg ALG --pubkey HEX                     registration rule
 *   cairn sig keygen --alg ALG                                     prints sk and pubkey (hex)
 *   cairn sig sign --alg ALG --sk HEX --msg HEX                    prints the signature
 *
 * ALG: ed25519 | secp256k1-schnorr | secp256k1-ecdsa | p256.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/hex.h"
#include "ledger/sig.h"
#include "ledger/sigsign.h"
#include "tools/cli_util.h"
#include "tools/commands.h"

#define MAX_MSG ((size_t)1 << 20)

/* A short human reason for a verification result, per algorithm. */
static const char *reason(cairn_sig_alg alg, int rc)
{
    int ed = alg == CAIRN_SIG_ED25519;
    switch (rc) {
    case CAIRN_ESIG_S_RANGE:
        return "S >= L";
    case CAIRN_ESIG_POINT:
        return ed ? "R: point not on curve" : "point not on curve";
    case CAIRN_ESIG_KEY:
        return ed ? "public key: point not on curve" : "public key: not a valid point encoding";
    case CAIRN_ESIG_INVALID:
        return ed ? "cofactored equation [8]([S]B - R - [k]A) = 0 does not hold"
                  : "signature does not verify";
    case CAIRN_ESIG_HIGH_S:
        return "high S (s > n/2); Cairn requires low-S for secp256k1 ECDSA";
    case CAIRN_ESIG_SCALAR_RANGE:
        return "r or s is zero or not below the group order n";
    case CAIRN_ESIG_LENGTH:
        return "signature must be 64 bytes";
    case CAIRN_ESIG_KEY_LENGTH:
        return ed                                   ? "public key must be 32 bytes"
               : alg == CAIRN_SIG_SECP256K1_SCHNORR ? "public key must be 32 bytes (x-only)"
                                                    : "public key must be 33 or 65 bytes (SEC1)";
    case CAIRN_ESIG_WEAK_KEY:
        return "key is small-order, non-canonical or outside the prime-order subgroup";
    default:
        return cairn_strerror(rc);
    }
}

static int parse_alg(const char *s, cairn_sig_alg *alg)
{
    if (!s || cairn_sig_alg_parse(alg, s) != 0) {
        fprintf(stderr,
                "error: --alg must be ed25519, secp256k1-schnorr, secp256k1-ecdsa or p256\n");
        return -1;
    }
    return 0;
}

static int parse_hex(const char *s, const char *what, uint8_t **out, size_t *len)
{
    size_t cap = strlen(s) / 2 + 1;
    if (cap > MAX_MSG) return cli_fail(CAIRN_ETOOBIG, what);
    *out = malloc(cap);
    if (!*out) return cli_fail(CAIRN_ENOMEM, what);
    int err = cairn_hex_decode(*out, cap, len, s, strlen(s));
    if (err) {
        free(*out);
        *out = NULL;
        return cli_fail(err, what);
    }
    return 0;
}

static void print_hex(const uint8_t *b, size_t n)
{
    char *h = malloc(2 * n + 1);
    if (!h) return;
    cairn_hex_encode(h, b, n);
    printf("%s\n", h);
    free(h);
}

static int cmd_verify(int argc, char **argv, int *used, cairn_sig_ctx *ctx)
{
    const char *alg_s = cli_opt(argc, argv, "--alg", used);
    const char *pk_s = cli_opt(argc, argv, "--pubkey", used);
    const char *msg_s = cli_opt(argc, argv, "--msg", used);
    const char *sig_s = cli_opt(argc, argv, "--sig", used);
    if (!alg_s || !pk_s || !msg_s || !sig_s || cli_leftover(argc, argv, used)) {
        fprintf(stderr, "usage: cairn sig verify --alg ALG --pubkey HEX --msg HEX --sig HEX\n");
        return CLI_USAGE;
    }
    cairn_sig_alg alg;
    if (parse_alg(alg_s, &alg)) return CLI_USAGE;
    uint8_t *pk = NULL, *msg = NULL, *sig = NULL;
    size_t pk_len, msg_len, sig_len;
    int rc = CLI_USAGE;
    if (parse_hex(pk_s, "--pubkey", &pk, &pk_len) || parse_hex(msg_s, "--msg", &msg, &msg_len) ||
        parse_hex(sig_s, "--sig", &sig, &sig_len))
        goto out;
    cairn_sig_item it = {alg, pk, pk_len, sig, sig_len, msg, msg_len, NULL};
    int v = cairn_sig_verify(ctx, &it);
    if (v == 0) {
        printf("valid\n");
        rc = CLI_OK;
    } else if (v == CAIRN_ENOMEM) {
        rc = cli_fail(v, NULL);
    } else {
        printf("invalid: %s (%s)\n", reason(alg, v), cairn_err_name(v));
        rc = CLI_INVALID;
    }
out:
    free(pk), free(msg), free(sig);
    return rc;
}

static int cmd_check_key(int argc, char **argv, int *used, cairn_sig_ctx *ctx)
{
    const char *alg_s = cli_opt(argc, argv, "--alg", used);
    const char *pk_s = cli_opt(argc, argv, "--pubkey", used);
    if (!alg_s || !pk_s || cli_leftover(argc, argv, used)) {
        fprintf(stderr, "usage: cairn sig check-key --alg ALG --pubkey HEX\n");
        return CLI_USAGE;
    }
    cairn_sig_alg alg;
    if (parse_alg(alg_s, &alg)) return CLI_USAGE;
    uint8_t *pk;
    size_t pk_len;
    if (parse_hex(pk_s, "--pubkey", &pk, &pk_len)) return CLI_USAGE;
    int v = cairn_sig_key_check(ctx, alg, pk, pk_len);
    free(pk);
    if (v == 0) {
        printf("ok\n");
        return CLI_OK;
    }
    printf("rejected: %s (%s)\n", reason(alg, v), cairn_err_name(v));
    return CLI_INVALID;
}

static int cmd_keygen(int argc, char **argv, int *used, cairn_sig_ctx *ctx)
{
    const char *alg_s = cli_opt(argc, argv, "--alg", used);
    if (!alg_s || cli_leftover(argc, argv, used)) {
        fprintf(stderr, "usage: cairn sig keygen --alg ALG\n");
        return CLI_USAGE;
    }
    cairn_sig_alg alg;
    if (parse_alg(alg_s, &alg)) return CLI_USAGE;
    uint8_t sk[32], pk[CAIRN_SIG_MAX_PK];
    size_t pk_len;
    int err = cairn_sig_keygen(ctx, alg, sk);
    if (!err) err = cairn_sig_pubkey(ctx, alg, pk, &pk_len, sk);
    if (err) return cli_fail(err, NULL);
    printf("sk ");
    print_hex(sk, 32);
    printf("pubkey ");
    print_hex(pk, pk_len);
    return CLI_OK;
}

static int cmd_sign(int argc, char **argv, int *used, cairn_sig_ctx *ctx)
{
    const char *alg_s = cli_opt(argc, argv, "--alg", used);
    const char *sk_s = cli_opt(argc, argv, "--sk", used);
    const char *msg_s = cli_opt(argc, argv, "--msg", used);
    if (!alg_s || !sk_s || !msg_s || cli_leftover(argc, argv, used)) {
        fprintf(stderr, "usage: cairn sig sign --alg ALG --sk HEX --msg HEX\n");
        return CLI_USAGE;
    }
    cairn_sig_alg alg;
    if (parse_alg(alg_s, &alg)) return CLI_USAGE;
    uint8_t *sk = NULL, *msg = NULL;
    size_t sk_len, msg_len;
    int rc = CLI_USAGE;
    if (parse_hex(sk_s, "--sk", &sk, &sk_len) || parse_hex(msg_s, "--msg", &msg, &msg_len))
        goto out;
    if (sk_len != 32) {
        rc = cli_fail(CAIRN_ESIG_KEY, "--sk must be 32 bytes");
        goto out;
    }
    uint8_t sig[64];
    int err = cairn_sig_sign(ctx, alg, sig, sk, msg, msg_len);
    if (err) {
        rc = cli_fail(err, NULL);
        goto out;
    }
    print_hex(sig, 64);
    rc = CLI_OK;
out:
    free(sk), free(msg);
    return rc;
}

int cmd_sig(int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr,
                "usage: cairn sig verify|check-key|keygen|sign ...\n"
                "  verify --alg ALG --pubkey HEX --msg HEX --sig HEX  (exit 0 valid, 1 invalid)\n"
                "  check-key --alg ALG --pubkey HEX                    (ledger registration rule)\n"
                "  keygen --alg ALG\n"
                "  sign --alg ALG --sk HEX --msg HEX\n"
                "ALG: ed25519 | secp256k1-schnorr | secp256k1-ecdsa | p256\n");
        return CLI_USAGE;
    }
    int *used = calloc((size_t)argc, sizeof *used);
    if (!used) return cli_fail(CAIRN_ENOMEM, NULL);
    used[0] = 1;
    cairn_sig_ctx *ctx;
    int err = cairn_sig_ctx_new(&ctx);
    if (err) {
        free(used);
        return cli_fail(err, NULL);
    }
    int rc;
    if (strcmp(argv[0], "verify") == 0)
        rc = cmd_verify(argc, argv, used, ctx);
    else if (strcmp(argv[0], "check-key") == 0)
        rc = cmd_check_key(argc, argv, used, ctx);
    else if (strcmp(argv[0], "keygen") == 0)
        rc = cmd_keygen(argc, argv, used, ctx);
    else if (strcmp(argv[0], "sign") == 0)
        rc = cmd_sign(argc, argv, used, ctx);
    else {
        fprintf(stderr, "error: unknown sig subcommand '%s'\n", argv[0]);
        rc = CLI_USAGE;
    }
    cairn_sig_ctx_free(ctx);
    free(used);
    return rc;
}
