/*
 * test_devnet.c — node/devnet.h and the --dev home: a 4-validator devnet loads as a genesis whose
 * validators are exactly the keys in the node homes (consensus and noise keys, addresses, config
 * ports), keys are distinct and private (0600), a rerun changes no byte, bad arguments and a
 * mismatching rerun are refused without writing anything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ledger/genesis.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "node/config.h"
#include "node/devnet.h"
#include "node/node.h"
#include "test_util.h"

#define N_VAL     4u
#define BASE_PORT 27750u
#define MAX_FILES 32

typedef struct snapshot {
    size_t n;
    char path[MAX_FILES][600];
    char *data[MAX_FILES];
    size_t len[MAX_FILES];
} snapshot;

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 16);
    size_t n = buf ? fread(buf, 1, 1 << 16, f) : 0;
    fclose(f);
    *len = n;
    return buf;
}

static void snap_add(snapshot *s, const char *path)
{
    assert_true(s->n < MAX_FILES);
    snprintf(s->path[s->n], sizeof s->path[s->n], "%s", path);
    s->data[s->n] = read_all(path, &s->len[s->n]);
    assert_non_null(s->data[s->n]);
    s->n++;
}

static void snap_devnet(snapshot *s, const char *dir, unsigned n)
{
    static const char *const node_files[] = {"validator.key", "noise.key", "config.json"};
    char p[600];
    s->n = 0;
    snprintf(p, sizeof p, "%s/genesis.json", dir);
    snap_add(s, p);
    snprintf(p, sizeof p, "%s/admin.key", dir);
    snap_add(s, p);
    for (unsigned i = 0; i < n; i++)
        for (size_t k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "%s/node%u/%s", dir, i, node_files[k]);
            snap_add(s, p);
        }
}

static void snap_same(const snapshot *a, const snapshot *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->path[i], b->path[i]);
        assert_int_equal(a->len[i], b->len[i]);
        assert_memory_equal(a->data[i], b->data[i], a->len[i]);
    }
}

static void snap_free(snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->data[i]);
    s->n = 0;
}

static void assert_mode_0600(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* The public half of an X25519 key file, checked against its private half. */
static void noise_pub(const char *path, uint8_t pub[32])
{
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "alg")), "x25519");
    uint8_t sk[32], derived[32];
    assert_int_equal(
        cairn_hex_decode_exact(sk, 32, json_string_value(json_object_get(o, "private"))), 0);
    assert_int_equal(
        cairn_hex_decode_exact(pub, 32, json_string_value(json_object_get(o, "public"))), 0);
    assert_int_equal(crypto_scalarmult_base(derived, sk), 0);
    assert_memory_equal(derived, pub, 32);
    json_decref(o);
}

static void test_devnet_four(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    assert_non_null(dir);
    char msg[512] = "", p[600];
    assert_int_equal(cairn_node_devnet_init(dir, N_VAL, "127.0.0.1", BASE_PORT, msg, sizeof msg),
                     0);

    cairn_genesis *g = calloc(1, sizeof *g);
    cairn_sig_ctx *sig;
    assert_non_null(g);
    assert_int_equal(cairn_sig_ctx_new(&sig), 0);
    snprintf(p, sizeof p, "%s/genesis.json", dir);
    assert_int_equal(cairn_genesis_load(g, p, msg, sizeof msg), 0);
    assert_string_equal(g->chain_id, "cairn-devnet");
    assert_int_equal(g->policy.approvals_required, 1);
    assert_int_equal(g->n_orgs, 1);
    assert_string_equal(g->orgs[0].name.s, "dev-org");
    assert_int_equal(g->n_validators, N_VAL);

    cairn_keypair admin;
    snprintf(p, sizeof p, "%s/admin.key", dir);
    assert_int_equal(cairn_keyfile_load(p, sig, &admin), 0);
    assert_mode_0600(p);
    assert_int_equal(g->orgs[0].n_admins, 1);
    assert_memory_equal(g->orgs[0].admins[0].key, admin.pub, 32);

    uint8_t keys[N_VAL][32], noise[N_VAL][32];
    for (unsigned i = 0; i < N_VAL; i++) {
        const cairn_validator *v = &g->validators[i];
        cairn_keypair kp;
        snprintf(p, sizeof p, "%s/node%u/validator.key", dir, i);
        assert_int_equal(cairn_keyfile_load(p, sig, &kp), 0);
        assert_mode_0600(p);
        assert_int_equal(v->key.len, 32);
        assert_memory_equal(v->key.key, kp.pub, 32);
        memcpy(keys[i], kp.pub, 32);
        cairn_keypair_wipe(&kp);
        snprintf(p, sizeof p, "%s/node%u/noise.key", dir, i);
        noise_pub(p, noise[i]);
        assert_mode_0600(p);
        assert_memory_equal(v->noise_key, noise[i], 32);
        assert_int_equal(v->power, 1);
        assert_memory_equal(v->org, g->orgs[0].id, 32);
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%u", BASE_PORT + 2 * i + 1);
        assert_string_equal(v->address.s, addr);

        cairn_config cfg;
        cairn_config_error cerr;
        snprintf(p, sizeof p, "%s/node%u", dir, i);
        assert_int_equal(cairn_config_load(&cfg, p, &cerr), 0);
        assert_string_equal(cfg.api_listen.host, "127.0.0.1");
        assert_int_equal(cfg.api_listen.port, BASE_PORT + 2 * i);
        assert_int_equal(cairn_devnet_api_port(BASE_PORT, i), BASE_PORT + 2 * i);
        assert_string_equal(cfg.p2p_listen.host, "127.0.0.1");
        assert_int_equal(cfg.p2p_listen.port, BASE_PORT + 2 * i + 1);
        assert_int_equal(cairn_devnet_p2p_port(BASE_PORT, i), BASE_PORT + 2 * i + 1);
        snprintf(p, sizeof p, "%s/node%u/../genesis.json", dir, i);
        assert_string_equal(cfg.genesis, p);
        snprintf(p, sizeof p, "%s/node%u/data", dir, i);
        assert_string_equal(cfg.data_dir, p);
        snprintf(p, sizeof p, "%s/node%u/validator.key", dir, i);
        assert_string_equal(cfg.validator_key, p);
        snprintf(p, sizeof p, "%s/node%u/noise.key", dir, i);
        assert_string_equal(cfg.noise_key, p);
    }
    for (unsigned i = 0; i < N_VAL; i++) {
        assert_memory_not_equal(keys[i], admin.pub, 32);
        for (unsigned k = i + 1; k < N_VAL; k++) {
            assert_memory_not_equal(keys[i], keys[k], 32);
            assert_memory_not_equal(noise[i], noise[k], 32);
        }
    }
    cairn_keypair_wipe(&admin);

    /* A rerun is a no-op that succeeds: not one byte changes. */
    snapshot *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    assert_true(a && b);
    snap_devnet(a, dir, N_VAL);
    assert_int_equal(cairn_node_devnet_init(dir, N_VAL, "127.0.0.1", BASE_PORT, msg, sizeof msg),
                     0);
    snap_devnet(b, dir, N_VAL);
    snap_same(a, b);
    snap_free(b);

    /* A rerun for another devnet shape is refused and writes nothing. */
    assert_int_equal(
        cairn_node_devnet_init(dir, N_VAL + 1, "127.0.0.1", BASE_PORT, msg, sizeof msg),
        CAIRN_EGENESIS);
    assert_non_null(strstr(msg, "validators"));
    struct stat st;
    snprintf(p, sizeof p, "%s/node%u", dir, N_VAL);
    assert_int_not_equal(stat(p, &st), 0);
    assert_int_equal(
        cairn_node_devnet_init(dir, N_VAL, "127.0.0.1", BASE_PORT + 10, msg, sizeof msg),
        CAIRN_EGENESIS);
    assert_non_null(strstr(msg, "address"));
    snap_devnet(b, dir, N_VAL);
    snap_same(a, b);
    snap_free(a);
    snap_free(b);
    free(a);
    free(b);

    cairn_sig_ctx_free(sig);
    free(g);
    test_rmtree(dir);
    free(dir);
}

static void test_devnet_bad_args(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    assert_non_null(dir);
    char msg[512], p[600];
    snprintf(p, sizeof p, "%s/net", dir);
    assert_int_equal(cairn_node_devnet_init(p, 0, "127.0.0.1", 7750, msg, sizeof msg),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_node_devnet_init(p, CAIRN_DEVNET_MAX_VALIDATORS + 1, "127.0.0.1", 7750,
                                            msg, sizeof msg),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_node_devnet_init(p, 4, "localhost", 7750, msg, sizeof msg),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_node_devnet_init(p, 4, "127.0.0.1", 0, msg, sizeof msg), CAIRN_EINVAL);
    assert_int_equal(cairn_node_devnet_init(p, 4, "127.0.0.1", 65530, msg, sizeof msg),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_node_devnet_init(p, 3, "127.0.0.1", 65530, msg, sizeof msg), 0);
    struct stat st;
    snprintf(p, sizeof p, "%s/net/node2/config.json", dir);
    assert_int_equal(stat(p, &st), 0);
    test_rmtree(dir);
    free(dir);
}

/* One host per validator (--hosts): each node listens on, and is known in genesis by, its own
 * address; one bad host refuses the whole devnet before anything is written. */
static void test_devnet_hosts(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    assert_non_null(dir);
    char msg[512] = "", p[600];
    static const char *const hosts[N_VAL] = {"10.77.0.1", "10.77.1.2", "10.77.2.3", "10.77.3.4"};
    static const char *const bad[N_VAL] = {"10.77.0.1", "10.77.1.2", "host3", "10.77.3.4"};
    snprintf(p, sizeof p, "%s/bad", dir);
    assert_int_equal(cairn_node_devnet_init_hosts(p, N_VAL, bad, BASE_PORT, msg, sizeof msg),
                     CAIRN_EINVAL);
    assert_non_null(strstr(msg, "validator 2"));
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0);
    assert_int_equal(cairn_node_devnet_init_hosts(p, N_VAL, NULL, BASE_PORT, msg, sizeof msg),
                     CAIRN_EINVAL);

    snprintf(p, sizeof p, "%s/net", dir);
    assert_int_equal(cairn_node_devnet_init_hosts(p, N_VAL, hosts, BASE_PORT, msg, sizeof msg), 0);
    cairn_genesis *g = calloc(1, sizeof *g);
    assert_non_null(g);
    snprintf(p, sizeof p, "%s/net/genesis.json", dir);
    assert_int_equal(cairn_genesis_load(g, p, msg, sizeof msg), 0);
    assert_int_equal(g->n_validators, N_VAL);
    for (unsigned i = 0; i < N_VAL; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "%s:%u", hosts[i], BASE_PORT + 2 * i + 1);
        assert_string_equal(g->validators[i].address.s, addr);
        cairn_config cfg;
        cairn_config_error cerr;
        snprintf(p, sizeof p, "%s/net/node%u", dir, i);
        assert_int_equal(cairn_config_load(&cfg, p, &cerr), 0);
        assert_string_equal(cfg.api_listen.host, hosts[i]);
        assert_int_equal(cfg.api_listen.port, BASE_PORT + 2 * i);
        assert_string_equal(cfg.p2p_listen.host, hosts[i]);
        assert_int_equal(cfg.p2p_listen.port, BASE_PORT + 2 * i + 1);
    }
    /* A rerun with the same hosts is a no-op; with one host changed it is refused. */
    snapshot *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    assert_true(a && b);
    snprintf(p, sizeof p, "%s/net", dir);
    snap_devnet(a, p, N_VAL);
    assert_int_equal(cairn_node_devnet_init_hosts(p, N_VAL, hosts, BASE_PORT, msg, sizeof msg), 0);
    assert_int_equal(cairn_node_devnet_init(p, N_VAL, "10.77.0.1", BASE_PORT, msg, sizeof msg),
                     CAIRN_EGENESIS);
    assert_non_null(strstr(msg, "address"));
    snap_devnet(b, p, N_VAL);
    snap_same(a, b);
    snap_free(a);
    snap_free(b);
    free(a);
    free(b);
    free(g);
    test_rmtree(dir);
    free(dir);
}

/* The --dev home keeps its flat layout and its one-validator genesis, built by the same code. */
static void test_dev_home(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    assert_non_null(dir);
    char msg[512] = "", p[600];
    snprintf(p, sizeof p, "%s/home", dir);
    assert_int_equal(cairn_node_dev_init(p, 7790, msg, sizeof msg), 0);
    cairn_genesis *g = calloc(1, sizeof *g);
    cairn_sig_ctx *sig;
    assert_non_null(g);
    assert_int_equal(cairn_sig_ctx_new(&sig), 0);
    snprintf(p, sizeof p, "%s/home/genesis.json", dir);
    assert_int_equal(cairn_genesis_load(g, p, msg, sizeof msg), 0);
    assert_string_equal(g->chain_id, "cairn-dev");
    assert_int_equal(g->n_validators, 1);
    assert_string_equal(g->validators[0].address.s, "127.0.0.1:7751");
    cairn_keypair kp;
    snprintf(p, sizeof p, "%s/home/validator.key", dir);
    assert_int_equal(cairn_keyfile_load(p, sig, &kp), 0);
    assert_memory_equal(g->validators[0].key.key, kp.pub, 32);
    cairn_keypair_wipe(&kp);
    snprintf(p, sizeof p, "%s/home/admin.key", dir);
    assert_int_equal(cairn_keyfile_load(p, sig, &kp), 0);
    assert_memory_equal(g->orgs[0].admins[0].key, kp.pub, 32);
    cairn_keypair_wipe(&kp);
    uint8_t pub[32];
    snprintf(p, sizeof p, "%s/home/noise.key", dir);
    noise_pub(p, pub);
    assert_mode_0600(p);
    assert_memory_equal(g->validators[0].noise_key, pub, 32);
    cairn_config cfg;
    cairn_config_error cerr;
    snprintf(p, sizeof p, "%s/home", dir);
    assert_int_equal(cairn_config_load(&cfg, p, &cerr), 0);
    assert_int_equal(cfg.api_listen.port, 7790);

    snapshot *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    assert_true(a && b);
    static const char *const files[] = {"genesis.json", "admin.key", "validator.key", "noise.key",
                                        "config.json"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/home/%s", dir, files[i]);
        snap_add(a, p);
    }
    snprintf(p, sizeof p, "%s/home", dir);
    assert_int_equal(cairn_node_dev_init(p, 7790, msg, sizeof msg), 0);
    for (size_t i = 0; i < 5; i++) snap_add(b, a->path[i]);
    snap_same(a, b);
    snap_free(a);
    snap_free(b);
    free(a);
    free(b);
    cairn_sig_ctx_free(sig);
    free(g);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devnet_four),
        cmocka_unit_test(test_devnet_bad_args),
        cmocka_unit_test(test_devnet_hosts),
        cmocka_unit_test(test_dev_home),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
