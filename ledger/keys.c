#include "ledger/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/hex.h"

#include "ledger/sigsign.h"

int cairn_keypair_from_seed(cairn_keypair *kp, const cairn_sig_ctx *ctx, cairn_sig_alg alg,
                            const uint8_t seed[32])
{
    memset(kp, 0, sizeof *kp);
    kp->ctx = ctx;
    kp->alg = alg;
    memcpy(kp->seed, seed, 32);
    int err = cairn_sig_pubkey(ctx, alg, kp->pub, &kp->pub_len, seed);
    if (err) cairn_keypair_wipe(kp);
    return err;
}

int cairn_keypair_sign(const cairn_keypair *kp, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    return cairn_sig_sign(kp->ctx, kp->alg, sig, kp->seed, msg, len);
}

void cairn_keypair_wipe(cairn_keypair *kp)
{
    sodium_memzero(kp, sizeof *kp);
}

int cairn_secret_json_save(const char *path, json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) return CAIRN_ENOMEM;
    int err = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        err = cairn_err_from_errno(errno);
    } else {
        size_t len = strlen(text);
        if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) != 0)
            err = CAIRN_EIO;
        close(fd);
    }
    sodium_memzero(text, strlen(text));
    free(text);
    return err;
}

int cairn_keyfile_save(const char *path, const cairn_keypair *kp)
{
    char seed[65], pub[2 * sizeof kp->pub + 1];
    cairn_hex_encode(seed, kp->seed, 32);
    cairn_hex_encode(pub, kp->pub, kp->pub_len);
    json_t *o =
        json_pack("{s:s,s:s,s:s}", "alg", cairn_sig_alg_name(kp->alg), "seed", seed, "public", pub);
    sodium_memzero(seed, sizeof seed);
    int err = o ? cairn_secret_json_save(path, o) : CAIRN_ENOMEM;
    json_decref(o);
    return err;
}

int cairn_keyfile_load(const char *path, const cairn_sig_ctx *ctx, cairn_keypair *kp)
{
    json_error_t jerr;
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        FILE *f = fopen(path, "r");
        if (!f) return cairn_err_from_errno(errno);
        fclose(f);
        return CAIRN_EKEYFILE;
    }
    const char *alg_s = json_string_value(json_object_get(o, "alg"));
    const char *seed_s = json_string_value(json_object_get(o, "seed"));
    const char *pub_s = json_string_value(json_object_get(o, "public"));
    cairn_sig_alg alg;
    uint8_t seed[32], pub[65];
    size_t pub_len = 0;
    int err = CAIRN_EKEYFILE;
    if (alg_s && seed_s && pub_s && json_object_size(o) == 3 &&
        cairn_sig_alg_parse(&alg, alg_s) == 0 && cairn_hex_decode_exact(seed, 32, seed_s) == 0 &&
        cairn_hex_decode(pub, sizeof pub, &pub_len, pub_s, strlen(pub_s)) == 0 &&
        cairn_keypair_from_seed(kp, ctx, alg, seed) == 0) {
        err = kp->pub_len == pub_len && memcmp(kp->pub, pub, pub_len) == 0 ? 0 : CAIRN_EKEYFILE;
        if (err) cairn_keypair_wipe(kp);
    }
    sodium_memzero(seed, sizeof seed);
    json_decref(o);
    return err;
}
