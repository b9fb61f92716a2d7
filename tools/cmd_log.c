/*
 * cairn log ... — drive and inspect a Merkle log store; print and verify RFC 9162 proofs.
 */
#include "tools/commands.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hex.h"
#include "ledger/log.h"
#include "ledger/merkle.h"
#include "ledger/store.h"
#include "tools/cli_util.h"

#define MAX_INPUT_FILE ((size_t)1 << 30)

static void print_hash_array(const uint8_t (*h)[CAIRN_HASH_LEN], size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++) {
        printf("%s\"", i ? "," : "");
        cli_print_hash(stdout, h[i], "\"");
    }
    printf("]");
}

static int open_store(const char *db, int read_only, cairn_store **s)
{
    cairn_store_options opt = {.read_only = read_only};
    int err = cairn_store_open(s, db, &opt);
    if (err) cli_fail(err, db);
    return err;
}

/* cairn log append --db DIR [--hex] [--batch N] FILE|- : one leaf per line. */
static int cmd_append(int argc, char **argv, int *used)
{
    const char *db = cli_opt(argc, argv, "--db", used);
    const char *batch_s = cli_opt(argc, argv, "--batch", used);
    int hex = cli_flag(argc, argv, "--hex", used);
    const char *file = cli_positional(argc, argv, used);
    const char *extra = cli_leftover(argc, argv, used);
    if (!db || !file || extra) {
        fprintf(stderr, "usage: cairn log append --db DIR [--hex] [--batch N] FILE|-\n");
        return CLI_USAGE;
    }
    uint64_t batch = 1000;
    if (batch_s && (cli_parse_u64(batch_s, &batch) || batch == 0))
        return cli_fail(CAIRN_ENUMBER, "--batch");

    char *buf;
    size_t len;
    int err = cli_read_file(file, MAX_INPUT_FILE, &buf, &len);
    if (err) return cli_fail(err, file);

    /* Split into lines; decode hex lines in place (hex halves the length). */
    size_t cap = 1024, n = 0;
    cairn_log_leaf *leaves = malloc(cap * sizeof *leaves);
    char *p = buf, *end = buf + len;
    while (leaves && p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l > 0 && p[l - 1] == '\r') l--;
        if (n == cap) {
            cairn_log_leaf *nv = realloc(leaves, 2 * cap * sizeof *leaves);
            if (!nv) break;
            leaves = nv;
            cap *= 2;
        }
        size_t out_len = l;
        if (hex) {
            err = cairn_hex_decode((uint8_t *)p, l, &out_len, p, l);
            if (err) {
                char where[64];
                snprintf(where, sizeof where, "line %zu", n + 1);
                free(leaves);
                free(buf);
                return cli_fail(err, where);
            }
        }
        leaves[n++] = (cairn_log_leaf){(const uint8_t *)p, out_len};
        p = nl ? nl + 1 : end;
    }
    if (!leaves) {
        free(buf);
        return cli_fail(CAIRN_ENOMEM, NULL);
    }

    cairn_store *s;
    err = open_store(db, 0, &s);
    if (err) {
        free(leaves);
        free(buf);
        return cli_exit_code(err);
    }
    uint64_t size = 0;
    for (size_t off = 0; off < n && !err; off += batch) {
        size_t k = n - off < batch ? n - off : batch;
        err = cairn_log_append_batch(s, leaves + off, k, &size);
    }
    if (!err && n == 0) {
        cairn_txn *t;
        err = cairn_store_read_begin(s, &t);
        if (!err) {
            err = cairn_log_size(t, &size);
            cairn_txn_abort(t);
        }
    }
    int rc = CLI_OK;
    if (err) {
        rc = cli_fail(err, "append");
    } else {
        printf("appended %zu leaves; log size %llu\n", n, (unsigned long long)size);
    }
    cairn_store_close(s);
    free(leaves);
    free(buf);
    return rc;
}

/* Opens the store read-only and a read transaction; reports errors. */
static int begin_read(const char *db, cairn_store **s, cairn_txn **t)
{
    int err = open_store(db, 1, s);
    if (err) return err;
    err = cairn_store_read_begin(*s, t);
    if (err) {
        cli_fail(err, "read");
        cairn_store_close(*s);
    }
    return err;
}

static void end_read(cairn_store *s, cairn_txn *t)
{
    cairn_txn_abort(t);
    cairn_store_close(s);
}

/* An optional size argument defaulting to the log's size. */
static int size_arg(const char *s, cairn_txn *t, uint64_t *size, const char *name)
{
    if (!s) return cairn_log_size(t, size);
    int err = cli_parse_u64(s, size);
    if (err) cli_fail(err, name);
    return err;
}

/* cairn log checkpoint --db DIR [--size N]: {"tree_size","root"} */
static int cmd_checkpoint(int argc, char **argv, int *used)
{
    const char *db = cli_opt(argc, argv, "--db", used);
    const char *size_s = cli_opt(argc, argv, "--size", used);
    if (!db || cli_leftover(argc, argv, used)) {
        fprintf(stderr, "usage: cairn log checkpoint --db DIR [--size N]\n");
        return CLI_USAGE;
    }
    cairn_store *s;
    cairn_txn *t;
    int err = begin_read(db, &s, &t);
    if (err) return cli_exit_code(err);
    uint64_t size;
    uint8_t root[CAIRN_HASH_LEN];
    int rc = CLI_OK;
    err = size_arg(size_s, t, &size, "--size");
    if (err) {
        rc = cli_exit_code(err);
    } else if ((err = cairn_log_root(t, size, root)) != 0) {
        rc = cli_fail(err, NULL);
    } else {
        printf("{\"tree_size\":%llu,\"root\":\"", (unsigned long long)size);
        cli_print_hash(stdout, root, "\"}\n");
    }
    end_read(s, t);
    return rc;
}

/* cairn log leaf --db DIR --index I: the leaf as hex. */
static int cmd_leaf(int argc, char **argv, int *used)
{
    const char *db = cli_opt(argc, argv, "--db", used);
    const char *idx_s = cli_opt(argc, argv, "--index", used);
    if (!db || !idx_s || cli_leftover(argc, argv, used)) {
        fprintf(stderr, "usage: cairn log leaf --db DIR --index I\n");
        return CLI_USAGE;
    }
    uint64_t index;
    if (cli_parse_u64(idx_s, &index)) return cli_fail(CAIRN_ENUMBER, "--index");
    cairn_store *s;
    cairn_txn *t;
    int err = begin_read(db, &s, &t);
    if (err) return cli_exit_code(err);
    const uint8_t *leaf;
    size_t len;
    int rc = CLI_OK;
    err = cairn_log_leaf_get(t, index, &leaf, &len);
    if (err) {
        rc = cli_fail(err, NULL);
    } else {
        char *hex = malloc(2 * len + 1);
        if (!hex) {
            rc = cli_fail(CAIRN_ENOMEM, NULL);
        } else {
            cairn_hex_encode(hex, leaf, len);
            printf("{\"index\":%llu,\"leaf\":\"%s\"}\n", (unsigned long long)index, hex);
            free(hex);
        }
    }
    end_read(s, t);
    return rc;
}

/* cairn log prove-inclusion --db DIR --index I [--size N] [--hex] */
static int cmd_prove_inclusion(int argc, char **argv, int *used)
{
    const char *db = cli_opt(argc, argv, "--db", used);
    const char *idx_s = cli_opt(argc, argv, "--index", used);
    const char *size_s = cli_opt(argc, argv, "--size", used);
    int hex = cli_flag(argc, argv, "--hex", used);
    if (!db || !idx_s || cli_leftover(argc, argv, used)) {
        fprintf(stderr, "usage: cairn log prove-inclusion --db DIR --index I [--size N] [--hex]\n");
        return CLI_USAGE;
    }
    uint64_t index, size;
    if (cli_parse_u64(idx_s, &index)) return cli_fail(CAIRN_ENUMBER, "--index");
    cairn_store *s;
    cairn_txn *t;
    int err = begin_read(db, &s, &t);
    if (err) return cli_exit_code(err);
    int rc = CLI_OK;
    uint8_t path[CAIRN_MERKLE_MAX_PROOF][CAIRN_HASH_LEN], root[CAIRN_HASH_LEN];
    size_t n;
    err = size_arg(size_s, t, &size, "--size");
    if (err) {
        rc = cli_exit_code(err);
    } else if ((err = cairn_log_inclusion_proof(t, index, size, path, &n)) != 0 ||
               (err = cairn_log_root(t, size, root)) != 0) {
        rc = cli_fail(err, NULL);
    } else if (hex) {
        for (size_t i = 0; i < n; i++) cli_print_hash(stdout, path[i], "\n");
    } else {
        printf("{\"leaf_index\":%llu,\"tree_size\":%llu,\"root\":\"", (unsigned long long)index,
               (unsigned long long)size);
        cli_print_hash(stdout, root, "\",\"audit_path\":");
        print_hash_array((const uint8_t(*)[CAIRN_HASH_LEN])path, n);
        printf("}\n");
    }
    end_read(s, t);
    return rc;
}

/* cairn log prove-consistency --db DIR --first M [--second N] [--hex] */
static int cmd_prove_consistency(int argc, char **argv, int *used)
{
    const char *db = cli_opt(argc, argv, "--db", used);
    const char *first_s = cli_opt(argc, argv, "--first", used);
    const char *second_s = cli_opt(argc, argv, "--second", used);
    int hex = cli_flag(argc, argv, "--hex", used);
    if (!db || !first_s || cli_leftover(argc, argv, used)) {
        fprintf(stderr,
                "usage: cairn log prove-consistency --db DIR --first M [--second N] [--hex]\n");
        return CLI_USAGE;
    }
    uint64_t first, second;
    if (cli_parse_u64(first_s, &first)) return cli_fail(CAIRN_ENUMBER, "--first");
    cairn_store *s;
    cairn_txn *t;
    int err = begin_read(db, &s, &t);
    if (err) return cli_exit_code(err);
    int rc = CLI_OK;
    uint8_t proof[CAIRN_MERKLE_MAX_PROOF][CAIRN_HASH_LEN], r1[CAIRN_HASH_LEN], r2[CAIRN_HASH_LEN];
    size_t n;
    err = size_arg(second_s, t, &second, "--second");
    if (err) {
        rc = cli_exit_code(err);
    } else if ((err = cairn_log_consistency_proof(t, first, second, proof, &n)) != 0 ||
               (err = cairn_log_root(t, first, r1)) != 0 ||
               (err = cairn_log_root(t, second, r2)) != 0) {
        rc = cli_fail(err, NULL);
    } else if (hex) {
        for (size_t i = 0; i < n; i++) cli_print_hash(stdout, proof[i], "\n");
    } else {
        printf("{\"first\":%llu,\"second\":%llu,\"first_root\":\"", (unsigned long long)first,
               (unsigned long long)second);
        cli_print_hash(stdout, r1, "\",\"second_root\":\"");
        cli_print_hash(stdout, r2, "\",\"proof\":");
        print_hash_array((const uint8_t(*)[CAIRN_HASH_LEN])proof, n);
        printf("}\n");
    }
    end_read(s, t);
    return rc;
}

/* Reads a JSON proof file: two u64 fields and one array of hashes. */
static int load_json_proof(const char *file, const char *k1, uint64_t *v1, const char *k2,
                           uint64_t *v2, const char *karr, uint8_t (*hashes)[CAIRN_HASH_LEN],
                           size_t *n)
{
    char *buf;
    size_t len;
    int err = cli_read_file(file, 1 << 20, &buf, &len);
    if (err) return cli_fail(err, file);
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, 0, &jerr);
    free(buf);
    if (!root) return cli_fail(CAIRN_EJSON, jerr.text);
    json_t *j1 = json_object_get(root, k1), *j2 = json_object_get(root, k2);
    json_t *arr = json_object_get(root, karr);
    err = 0;
    const char *what = NULL;
    if (!json_is_integer(j1) || json_integer_value(j1) < 0) {
        err = CAIRN_EJSON;
        what = k1;
    } else if (!json_is_integer(j2) || json_integer_value(j2) < 0) {
        err = CAIRN_EJSON;
        what = k2;
    } else if (!json_is_array(arr)) {
        err = CAIRN_EJSON;
        what = karr;
    } else if (json_array_size(arr) > CAIRN_MERKLE_MAX_PROOF) {
        err = CAIRN_EPROOF_LENGTH;
        what = karr;
    } else {
        *v1 = (uint64_t)json_integer_value(j1);
        *v2 = (uint64_t)json_integer_value(j2);
        *n = json_array_size(arr);
        for (size_t i = 0; i < *n && !err; i++) {
            const char *h = json_string_value(json_array_get(arr, i));
            if (!h || cli_parse_hash(h, hashes[i]) != 0) {
                err = CAIRN_EHEX;
                what = karr;
            }
        }
    }
    json_decref(root);
    return err ? cli_fail(err, what) : 0;
}

/* The leaf hash from --leaf-hex, --leaf-text or --leaf-hash. */
static int leaf_hash_arg(int argc, char **argv, int *used, uint8_t out[CAIRN_HASH_LEN])
{
    const char *lh = cli_opt(argc, argv, "--leaf-hex", used);
    const char *lt = cli_opt(argc, argv, "--leaf-text", used);
    const char *lhash = cli_opt(argc, argv, "--leaf-hash", used);
    if (!!lh + !!lt + !!lhash != 1) return CAIRN_EINVAL;
    if (lt) {
        cairn_merkle_hash_leaf(out, lt, strlen(lt));
        return 0;
    }
    if (lhash) return cli_parse_hash(lhash, out);
    size_t l = strlen(lh), got;
    uint8_t *b = malloc(l / 2 + 1);
    if (!b) return CAIRN_ENOMEM;
    int err = cairn_hex_decode(b, l / 2 + 1, &got, lh, l);
    if (!err) cairn_merkle_hash_leaf(out, b, got);
    free(b);
    return err;
}

static int report_verify(int err, const char *what)
{
    if (err) return cli_fail(err, what);
    printf("OK: %s verified\n", what);
    return CLI_OK;
}

/* cairn log verify-inclusion --root HEX (--leaf-hex|--leaf-text|--leaf-hash X)
 *   (--proof FILE | --index I --size N --path H1,H2,...) */
static int cmd_verify_inclusion(int argc, char **argv, int *used)
{
    const char *root_s = cli_opt(argc, argv, "--root", used);
    const char *proof_f = cli_opt(argc, argv, "--proof", used);
    const char *idx_s = cli_opt(argc, argv, "--index", used);
    const char *size_s = cli_opt(argc, argv, "--size", used);
    const char *path_s = cli_opt(argc, argv, "--path", used);
    uint8_t leaf[CAIRN_HASH_LEN], root[CAIRN_HASH_LEN];
    int lerr = leaf_hash_arg(argc, argv, used, leaf);
    if (!root_s || (!proof_f && (!idx_s || !size_s || !path_s)) || lerr == CAIRN_EINVAL ||
        cli_leftover(argc, argv, used)) {
        fprintf(stderr, "usage: cairn log verify-inclusion --root HEX "
                        "(--leaf-hex HEX | --leaf-text STR | --leaf-hash HEX)\n"
                        "         (--proof FILE | --index I --size N --path HEX,HEX,...)\n");
        return CLI_USAGE;
    }
    if (lerr) return cli_fail(lerr, "leaf");
    if (cli_parse_hash(root_s, root)) return cli_fail(CAIRN_EHEX, "--root");
    uint64_t index, size;
    uint8_t path[CAIRN_MERKLE_MAX_PROOF][CAIRN_HASH_LEN];
    size_t n;
    int err;
    if (proof_f) {
        if (load_json_proof(proof_f, "leaf_index", &index, "tree_size", &size, "audit_path", path,
                            &n))
            return CLI_USAGE;
    } else {
        if (cli_parse_u64(idx_s, &index)) return cli_fail(CAIRN_ENUMBER, "--index");
        if (cli_parse_u64(size_s, &size)) return cli_fail(CAIRN_ENUMBER, "--size");
        if ((err = cli_parse_hash_list(path_s, path, CAIRN_MERKLE_MAX_PROOF, &n)) != 0)
            return cli_fail(err == CAIRN_ETOOBIG ? CAIRN_EPROOF_LENGTH : err, "--path");
    }
    err = cairn_merkle_verify_inclusion(leaf, index, size, (const uint8_t(*)[CAIRN_HASH_LEN])path,
                                        n, root);
    return report_verify(err, "inclusion proof");
}

/* cairn log verify-consistency --first-root HEX --second-root HEX
 *   (--proof FILE | --first M --second N --path H1,...) */
static int cmd_verify_consistency(int argc, char **argv, int *used)
{
    const char *r1_s = cli_opt(argc, argv, "--first-root", used);
    const char *r2_s = cli_opt(argc, argv, "--second-root", used);
    const char *proof_f = cli_opt(argc, argv, "--proof", used);
    const char *first_s = cli_opt(argc, argv, "--first", used);
    const char *second_s = cli_opt(argc, argv, "--second", used);
    const char *path_s = cli_opt(argc, argv, "--path", used);
    if (!r1_s || !r2_s || (!proof_f && (!first_s || !second_s || !path_s)) ||
        cli_leftover(argc, argv, used)) {
        fprintf(stderr, "usage: cairn log verify-consistency --first-root HEX --second-root HEX\n"
                        "         (--proof FILE | --first M --second N --path HEX,HEX,...)\n");
        return CLI_USAGE;
    }
    uint8_t r1[CAIRN_HASH_LEN], r2[CAIRN_HASH_LEN], proof[CAIRN_MERKLE_MAX_PROOF][CAIRN_HASH_LEN];
    if (cli_parse_hash(r1_s, r1)) return cli_fail(CAIRN_EHEX, "--first-root");
    if (cli_parse_hash(r2_s, r2)) return cli_fail(CAIRN_EHEX, "--second-root");
    uint64_t first, second;
    size_t n;
    int err;
    if (proof_f) {
        if (load_json_proof(proof_f, "first", &first, "second", &second, "proof", proof, &n))
            return CLI_USAGE;
    } else {
        if (cli_parse_u64(first_s, &first)) return cli_fail(CAIRN_ENUMBER, "--first");
        if (cli_parse_u64(second_s, &second)) return cli_fail(CAIRN_ENUMBER, "--second");
        if ((err = cli_parse_hash_list(path_s, proof, CAIRN_MERKLE_MAX_PROOF, &n)) != 0)
            return cli_fail(err == CAIRN_ETOOBIG ? CAIRN_EPROOF_LENGTH : err, "--path");
    }
    err = cairn_merkle_verify_consistency(first, second, r1, r2,
                                          (const uint8_t(*)[CAIRN_HASH_LEN])proof, n);
    return report_verify(err, "consistency proof");
}

int cmd_log(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **, int *);
        const char *help;
    } subs[] = {
        {"append", cmd_append, "append leaves (one per line) from a file, in durable batches"},
        {"checkpoint", cmd_checkpoint, "print the tree size and root"},
        {"leaf", cmd_leaf, "print one leaf"},
        {"prove-inclusion", cmd_prove_inclusion, "print an inclusion proof"},
        {"prove-consistency", cmd_prove_consistency, "print a consistency proof"},
        {"verify-inclusion", cmd_verify_inclusion, "verify an inclusion proof offline"},
        {"verify-consistency", cmd_verify_consistency, "verify a consistency proof offline"},
    };
    if (argc >= 1) {
        for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
            if (strcmp(argv[0], subs[i].name) == 0) {
                int *used = calloc((size_t)argc, sizeof *used);
                if (!used) return cli_fail(CAIRN_ENOMEM, NULL);
                int rc = subs[i].fn(argc - 1, argv + 1, used);
                free(used);
                return rc;
            }
        }
    }
    fprintf(stderr, "usage: cairn log COMMAND ...\n");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        fprintf(stderr, "  %-20s %s\n", subs[i].name, subs[i].help);
    return CLI_USAGE;
}
