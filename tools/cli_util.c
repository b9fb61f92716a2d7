#include "tools/cli_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hex.h"

int cli_parse_u64(const char *s, uint64_t *out)
{
    return cairn_parse_u64(s, out);
}

int cli_parse_hash(const char *s, uint8_t out[CAIRN_HASH_LEN])
{
    return cairn_hex_decode_exact(out, CAIRN_HASH_LEN, s);
}

int cli_parse_hash_list(const char *s, uint8_t (*out)[CAIRN_HASH_LEN], size_t cap, size_t *n)
{
    *n = 0;
    if (!*s) return 0;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (*n == cap) return CAIRN_ETOOBIG;
        size_t got;
        if (len != 2 * CAIRN_HASH_LEN) return CAIRN_EHEX;
        int err = cairn_hex_decode(out[*n], CAIRN_HASH_LEN, &got, s, len);
        if (err) return err;
        (*n)++;
        if (!comma) return 0;
        s = comma + 1;
    }
}

int cli_read_file(const char *path, size_t max, char **buf, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return cairn_err_from_errno(errno);
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    int err = 0;
    while (b) {
        if (n == cap) {
            if (cap >= max) {
                err = CAIRN_ETOOBIG;
                break;
            }
            cap = cap * 2 > max ? max : cap * 2;
            char *nb = realloc(b, cap + 1);
            if (!nb) break;
            b = nb;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) err = CAIRN_EIO;
            break;
        }
    }
    if (f != stdin) fclose(f);
    if (!b) return CAIRN_ENOMEM;
    if (err) {
        free(b);
        return err;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

int cli_exit_code(int err)
{
    switch (err) {
    case 0:
        return CLI_OK;
    case CAIRN_EPROOF_MISMATCH:
    case CAIRN_EPROOF_LENGTH:
    case CAIRN_ESIG_INVALID:
        return CLI_INVALID;
    case CAIRN_ESTORE_CORRUPT:
    case CAIRN_ESTORE_HALTED:
    case CAIRN_ESTORE_LMDB:
    case CAIRN_ESTORE_MAP_FULL:
    case CAIRN_EIO:
    case CAIRN_ENOMEM:
    case CAIRN_ENOSPC:
        return CLI_FAILURE;
    default:
        return CLI_USAGE;
    }
}

int cli_fail(int err, const char *detail)
{
    if (detail)
        fprintf(stderr, "error: %s: %s: %s\n", cairn_err_name(err), cairn_strerror(err), detail);
    else
        fprintf(stderr, "error: %s: %s\n", cairn_err_name(err), cairn_strerror(err));
    return cli_exit_code(err);
}

void cli_print_hash(FILE *f, const uint8_t h[CAIRN_HASH_LEN], const char *suffix)
{
    char hex[2 * CAIRN_HASH_LEN + 1];
    cairn_hex_encode(hex, h, CAIRN_HASH_LEN);
    fprintf(f, "%s%s", hex, suffix);
}

const char *cli_opt(int argc, char **argv, const char *name, int *used)
{
    for (int i = 0; i < argc - 1; i++) {
        if (!used[i] && strcmp(argv[i], name) == 0) {
            used[i] = used[i + 1] = 1;
            return argv[i + 1];
        }
    }
    return NULL;
}

int cli_flag(int argc, char **argv, const char *name, int *used)
{
    for (int i = 0; i < argc; i++) {
        if (!used[i] && strcmp(argv[i], name) == 0) {
            used[i] = 1;
            return 1;
        }
    }
    return 0;
}

const char *cli_positional(int argc, char **argv, int *used)
{
    for (int i = 0; i < argc; i++) {
        if (!used[i] && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
            used[i] = 1;
            return argv[i];
        }
    }
    return NULL;
}

const char *cli_leftover(int argc, char **argv, const int *used)
{
    for (int i = 0; i < argc; i++)
        if (!used[i]) return argv[i];
    return NULL;
}
