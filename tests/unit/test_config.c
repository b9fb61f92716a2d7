/*
 * test_config.c — node/config.h: defaults, a full valid file, the default file's exact text,
 * round trips, every kind of invalid input with its exact code and message, loading and writing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/config.h"
#include "node/http.h"
#include "test_util.h"

static const char default_json[] = "{\n"
                                   "  \"api\": {\n"
                                   "    \"listen\": \"127.0.0.1:7750\",\n"
                                   "    \"max_body_bytes\": 65536,\n"
                                   "    \"max_connections\": 64,\n"
                                   "    \"max_connections_per_ip\": 0,\n"
                                   "    \"timeout_s\": 10,\n"
                                   "    \"threads\": 2\n"
                                   "  },\n"
                                   "  \"data_dir\": \"data\",\n"
                                   "  \"genesis\": \"genesis.json\",\n"
                                   "  \"validator_key\": \"validator.key\",\n"
                                   "  \"noise_key\": \"noise.key\",\n"
                                   "  \"block\": {\n"
                                   "    \"interval_ms\": 1000,\n"
                                   "    \"max_txs\": 1000\n"
                                   "  },\n"
                                   "  \"log_level\": \"info\",\n"
                                   "  \"p2p\": {\n"
                                   "    \"listen\": \"127.0.0.1:7751\",\n"
                                   "    \"peers\": []\n"
                                   "  }\n"
                                   "}\n";

static void assert_config_equal(const cairn_config *a, const cairn_config *b)
{
    assert_string_equal(a->api_listen.host, b->api_listen.host);
    assert_int_equal(a->api_listen.port, b->api_listen.port);
    assert_int_equal(a->api_max_body_bytes, b->api_max_body_bytes);
    assert_int_equal(a->api_max_connections, b->api_max_connections);
    assert_int_equal(a->api_max_connections_per_ip, b->api_max_connections_per_ip);
    assert_int_equal(a->api_timeout_s, b->api_timeout_s);
    assert_int_equal(a->api_threads, b->api_threads);
    assert_string_equal(a->data_dir, b->data_dir);
    assert_string_equal(a->genesis, b->genesis);
    assert_string_equal(a->validator_key, b->validator_key);
    assert_string_equal(a->noise_key, b->noise_key);
    assert_int_equal(a->block_interval_ms, b->block_interval_ms);
    assert_int_equal(a->block_max_txs, b->block_max_txs);
    assert_int_equal(a->log_level, b->log_level);
    assert_string_equal(a->p2p_listen.host, b->p2p_listen.host);
    assert_int_equal(a->p2p_listen.port, b->p2p_listen.port);
    assert_int_equal(a->n_peers, b->n_peers);
    for (size_t i = 0; i < a->n_peers; i++) {
        assert_string_equal(a->peers[i].host, b->peers[i].host);
        assert_int_equal(a->peers[i].port, b->peers[i].port);
    }
}

static void parse_ok(const char *json, cairn_config *cfg)
{
    cairn_config_error err;
    int e = cairn_config_parse(cfg, json, strlen(json), &err);
    if (e) fail_msg("parse %s: %s: %s", json, cairn_err_name(e), err.msg);
    assert_string_equal(err.msg, "");
}

static void test_defaults(void **state)
{
    (void)state;
    cairn_config d, c;
    cairn_config_defaults(&d);
    assert_string_equal(d.api_listen.host, "127.0.0.1");
    assert_int_equal(d.api_listen.port, 7750);
    assert_int_equal(d.api_max_body_bytes, 65536);
    assert_int_equal(d.api_max_connections, 64);
    assert_int_equal(d.api_max_connections_per_ip, 0);
    assert_int_equal(d.api_timeout_s, 10);
    assert_int_equal(d.api_threads, 2);
    assert_string_equal(d.data_dir, "data");
    assert_string_equal(d.genesis, "genesis.json");
    assert_string_equal(d.validator_key, "validator.key");
    assert_string_equal(d.noise_key, "noise.key");
    assert_int_equal(d.block_interval_ms, 1000);
    assert_int_equal(d.block_max_txs, 1000);
    assert_int_equal(d.log_level, CAIRN_LOG_INFO);
    assert_string_equal(d.p2p_listen.host, "127.0.0.1");
    assert_int_equal(d.p2p_listen.port, 7751);
    assert_int_equal(d.n_peers, 0);

    /* Every key is optional. */
    parse_ok("{}", &c);
    assert_config_equal(&c, &d);
    parse_ok(" {\"api\": {}, \"block\": {}, \"p2p\": {}} ", &c);
    assert_config_equal(&c, &d);

    /* The default file, byte for byte (docs/configuration.md shows it). */
    char *s = cairn_config_to_json(&d);
    assert_non_null(s);
    assert_string_equal(s, default_json);
    parse_ok(s, &c);
    assert_config_equal(&c, &d);
    free(s);
}

static void test_full_valid(void **state)
{
    (void)state;
    const char *json = "{\"api\": {\"listen\": \"0.0.0.0:0\", \"max_body_bytes\": 1024,"
                       " \"max_connections\": 10000, \"max_connections_per_ip\": 10000,"
                       " \"timeout_s\": 3600, \"threads\": 64},"
                       " \"data_dir\": \"/var/lib/cairn\", \"genesis\": \"g/genesis.json\","
                       " \"validator_key\": \"keys/v.key\","
                       " \"block\": {\"interval_ms\": 10, \"max_txs\": 100000},"
                       " \"log_level\": \"trace\","
                       " \"p2p\": {\"listen\": \"10.0.0.1:65535\", \"peers\": [\"10.0.0.2:7751\","
                       " \"node-3.example.org:1\", \"Localhost:7751\"]}}";
    cairn_config c, again;
    parse_ok(json, &c);
    assert_string_equal(c.api_listen.host, "0.0.0.0");
    assert_int_equal(c.api_listen.port, 0);
    assert_int_equal(c.api_max_body_bytes, 1024);
    assert_int_equal(c.api_max_connections, 10000);
    assert_int_equal(c.api_max_connections_per_ip, 10000);
    assert_int_equal(c.api_timeout_s, 3600);
    assert_int_equal(c.api_threads, 64);
    assert_string_equal(c.data_dir, "/var/lib/cairn");
    assert_string_equal(c.genesis, "g/genesis.json");
    assert_string_equal(c.validator_key, "keys/v.key");
    assert_int_equal(c.block_interval_ms, 10);
    assert_int_equal(c.block_max_txs, 100000);
    assert_int_equal(c.log_level, CAIRN_LOG_TRACE);
    assert_string_equal(c.p2p_listen.host, "10.0.0.1");
    assert_int_equal(c.p2p_listen.port, 65535);
    assert_int_equal(c.n_peers, 3);
    assert_string_equal(c.peers[1].host, "node-3.example.org");
    assert_int_equal(c.peers[1].port, 1);
    assert_string_equal(c.peers[2].host, "Localhost");

    char *s = cairn_config_to_json(&c);
    assert_non_null(s);
    parse_ok(s, &again);
    assert_config_equal(&c, &again);
    free(s);

    static const char *const levels[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; i < 5; i++) {
        char j[64];
        snprintf(j, sizeof j, "{\"log_level\": \"%s\"}", levels[i]);
        parse_ok(j, &c);
        assert_int_equal(c.log_level, i);
        assert_string_equal(cairn_log_level_name(c.log_level), levels[i]);
    }
}

static void test_http_settings(void **state)
{
    (void)state;
    cairn_config c;
    parse_ok("{\"api\": {\"listen\": \"10.1.2.3:8080\", \"max_body_bytes\": 2048, "
             "\"max_connections\": 9,"
             " \"max_connections_per_ip\": 3, \"timeout_s\": 7, \"threads\": 4}}",
             &c);
    cairn_http_config h;
    cairn_config_http(&c, &h);
    assert_string_equal(h.bind_addr, "10.1.2.3");
    assert_ptr_equal(h.bind_addr, c.api_listen.host);
    assert_int_equal(h.port, 8080);
    assert_int_equal(h.max_body_bytes, 2048);
    assert_int_equal(h.max_connections, 9);
    assert_int_equal(h.max_connections_per_ip, 3);
    assert_int_equal(h.timeout_s, 7);
    assert_int_equal(h.threads, 4);
    assert_null(h.log);
}

static void expect_err(const char *json, int code, const char *msg)
{
    cairn_config c;
    cairn_config_error err;
    int e = cairn_config_parse(&c, json, strlen(json), &err);
    if (e != code || strcmp(err.msg, msg) != 0)
        fail_msg("parse %s:\n got  %s %s\n want %s %s", json, cairn_err_name(e), err.msg,
                 cairn_err_name(code), msg);
    /* A NULL error sink gives the same code. */
    assert_int_equal(cairn_config_parse(&c, json, strlen(json), NULL), code);
}

/* Malformed JSON: the code is exact; the wording is jansson's, so only "line L column C: ". */
static void expect_json_err(const char *json, const char *where)
{
    cairn_config c;
    cairn_config_error err;
    int e = cairn_config_parse(&c, json, strlen(json), &err);
    if (e != CAIRN_EJSON || strncmp(err.msg, where, strlen(where)) != 0)
        fail_msg("parse %s: got %s %s, want EJSON %s...", json, cairn_err_name(e), err.msg, where);
}

static void test_invalid(void **state)
{
    (void)state;
    const int C = CAIRN_ECONFIG;
    /* Not JSON, or not an object. */
    expect_json_err("", "line 1 column ");
    expect_json_err("{\"api\": ", "line 1 column ");
    expect_json_err("{} x", "line 1 column ");
    expect_err("[]", C, "the config must be a JSON object");
    expect_json_err("{\"log_level\": \"info\", \"log_level\": \"warn\"}", "line 1 column ");
    /* Unknown keys, named with their section. */
    expect_err("{\"api_listen\": \"127.0.0.1:1\"}", C, "unknown key \"api_listen\"");
    expect_err("{\"api\": {\"lisen\": \"127.0.0.1:1\"}}", C, "unknown key \"api.lisen\"");
    expect_err("{\"block\": {\"interval\": 5}}", C, "unknown key \"block.interval\"");
    expect_err("{\"p2p\": {\"peer\": []}}", C, "unknown key \"p2p.peer\"");
    expect_err("{\"Data_dir\": \"x\"}", C, "unknown key \"Data_dir\"");
    /* Wrong types. */
    expect_err("{\"api\": []}", C, "api: must be an object");
    expect_err("{\"block\": 1}", C, "block: must be an object");
    expect_err("{\"p2p\": null}", C, "p2p: must be an object");
    expect_err("{\"api\": {\"max_body_bytes\": \"65536\"}}", C,
               "api.max_body_bytes: must be an integer in 1024..16777216");
    expect_err("{\"api\": {\"max_body_bytes\": 65536.0}}", C,
               "api.max_body_bytes: must be an integer in 1024..16777216");
    expect_err("{\"api\": {\"threads\": true}}", C, "api.threads: must be an integer in 1..64");
    expect_err("{\"data_dir\": 5}", C, "data_dir: must be a string");
    expect_err("{\"genesis\": null}", C, "genesis: must be a string");
    expect_err("{\"validator_key\": [\"a\"]}", C, "validator_key: must be a string");
    expect_err("{\"log_level\": 2}", C,
               "log_level: must be one of \"error\", \"warn\", \"info\", \"debug\", \"trace\"");
    expect_err("{\"p2p\": {\"peers\": \"10.0.0.1:1\"}}", C,
               "p2p.peers: must be an array of \"host:port\" strings");
    expect_err("{\"p2p\": {\"peers\": [7751]}}", C, "p2p.peers[0]: must be a \"host:port\" string");
    expect_err("{\"api\": {\"listen\": 7750}}", C, "api.listen: must be an \"IPv4:port\" string");
    /* Out of range. */
    expect_err("{\"api\": {\"max_body_bytes\": 1023}}", C,
               "api.max_body_bytes: must be an integer in 1024..16777216");
    expect_err("{\"api\": {\"max_body_bytes\": 16777217}}", C,
               "api.max_body_bytes: must be an integer in 1024..16777216");
    expect_err("{\"api\": {\"max_connections\": 0}}", C,
               "api.max_connections: must be an integer in 1..10000");
    expect_err("{\"api\": {\"max_connections_per_ip\": 10001}}", C,
               "api.max_connections_per_ip: must be an integer in 0..10000");
    expect_err("{\"api\": {\"timeout_s\": -1}}", C, "api.timeout_s: must be an integer in 1..3600");
    expect_err("{\"api\": {\"threads\": 65}}", C, "api.threads: must be an integer in 1..64");
    expect_err("{\"api\": {\"threads\": 8, \"max_connections\": 7}}", C,
               "api.max_connections: must be at least api.threads (8)");
    expect_err("{\"api\": {\"max_connections\": 1}}", C,
               "api.max_connections: must be at least api.threads (2)");
    expect_err("{\"block\": {\"interval_ms\": 9}}", C,
               "block.interval_ms: must be an integer in 10..3600000");
    expect_err("{\"block\": {\"max_txs\": 4294967297}}", C,
               "block.max_txs: must be an integer in 1..100000");
    expect_json_err("{\"block\": {\"max_txs\": 99999999999999999999}}", "line 1 column ");
    expect_err("{\"log_level\": \"INFO\"}", C,
               "log_level: must be one of \"error\", \"warn\", \"info\", \"debug\", \"trace\"");
    /* Paths. */
    expect_err("{\"data_dir\": \"\"}", C,
               "data_dir: must be a non-empty path shorter than 1024 bytes");
    char longp[1200];
    memset(longp, 0, sizeof longp);
    strcpy(longp, "{\"genesis\": \"");
    memset(longp + strlen(longp), 'a', 1024);
    strcat(longp, "\"}");
    expect_err(longp, C, "genesis: must be a non-empty path shorter than 1024 bytes");
    expect_json_err("{\"data_dir\": \"a\\u0000b\"}", "line 1 column ");
    /* Addresses. */
    expect_err("{\"api\": {\"listen\": \"localhost:7750\"}}", C,
               "api.listen: host must be an IPv4 address");
    expect_err("{\"api\": {\"listen\": \"127.0.0.1\"}}", C,
               "api.listen: must be an \"IPv4:port\" string");
    expect_err("{\"api\": {\"listen\": \"127.0.0.1:\"}}", C, "api.listen: malformed port");
    expect_err("{\"api\": {\"listen\": \"127.0.0.1:65536\"}}", C,
               "api.listen: port must be in 0..65535");
    expect_err("{\"api\": {\"listen\": \"127.0.0.1:-1\"}}", C, "api.listen: malformed port");
    expect_err("{\"api\": {\"listen\": \"127.0.0.1:123456\"}}", C, "api.listen: malformed port");
    expect_err("{\"api\": {\"listen\": \":7750\"}}", C,
               "api.listen: must be an \"IPv4:port\" string");
    expect_err("{\"api\": {\"listen\": \"127.0.0.256:7750\"}}", C,
               "api.listen: host must be an IPv4 address");
    expect_err("{\"api\": {\"listen\": \"[::1]:7750\"}}", C,
               "api.listen: host must be an IPv4 address");
    expect_err("{\"p2p\": {\"listen\": \"x:1\"}}", C, "p2p.listen: host must be an IPv4 address");
    expect_err("{\"p2p\": {\"peers\": [\"10.0.0.1:0\"]}}", C,
               "p2p.peers[0]: port must be in 1..65535");
    expect_err("{\"p2p\": {\"peers\": [\"10.0.0.1:1\", \"bad_host:1\"]}}", C,
               "p2p.peers[1]: host must be an IPv4 address or a DNS name");
    expect_err("{\"p2p\": {\"peers\": [\"-a.b:1\"]}}", C,
               "p2p.peers[0]: host must be an IPv4 address or a DNS name");
    expect_err("{\"p2p\": {\"peers\": [\"a..b:1\"]}}", C,
               "p2p.peers[0]: host must be an IPv4 address or a DNS name");
    expect_err("{\"p2p\": {\"peers\": [\"a.b.:1\"]}}", C,
               "p2p.peers[0]: host must be an IPv4 address or a DNS name");
    expect_err("{\"p2p\": {\"peers\": [\"a:1\", \"b:2\", \"A:1\"]}}", C,
               "p2p.peers[2]: duplicate of p2p.peers[0]");
    char many[4096] = "{\"p2p\": {\"peers\": [";
    for (int i = 0; i <= 64; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s\"10.0.0.1:%d\"", i ? "," : "",
                 i + 1);
    strcat(many, "]}}");
    expect_err(many, C, "p2p.peers: at most 64 peers");
    /* Non-printable key names are not echoed raw. */
    expect_err("{\"a\\u0007b\": 1}", C, "unknown key \"a?b\"");
    /* Oversize documents. */
    size_t big = CAIRN_CONFIG_MAX_BYTES + 1;
    char *b = malloc(big);
    assert_non_null(b);
    memset(b, ' ', big);
    b[0] = '{';
    b[big - 1] = '}';
    cairn_config c;
    cairn_config_error err;
    assert_int_equal(cairn_config_parse(&c, b, big, &err), CAIRN_ETOOBIG);
    assert_int_equal(cairn_config_parse(&c, b + 1, big - 1, &err), CAIRN_EJSON);
    free(b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static void test_load_and_write(void **state)
{
    (void)state;
    char *home = test_tmpdir();
    assert_non_null(home);
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", home);
    cairn_config c, d;
    cairn_config_error err;

    assert_int_equal(cairn_config_load(&c, home, &err), CAIRN_ENOENT);
    assert_non_null(strstr(err.msg, "config.json"));

    /* --dev: write the defaults once; a second write leaves the file alone. */
    cairn_config_defaults(&d);
    assert_int_equal(cairn_config_write(&d, path, 0), 0);
    d.block_max_txs = 5;
    assert_int_equal(cairn_config_write(&d, path, 0), CAIRN_EEXIST);
    assert_int_equal(cairn_config_load(&c, home, &err), 0);
    assert_int_equal(c.block_max_txs, 1000);
    char want[600];
    snprintf(want, sizeof want, "%s/data", home);
    assert_string_equal(c.data_dir, want);
    snprintf(want, sizeof want, "%s/genesis.json", home);
    assert_string_equal(c.genesis, want);
    snprintf(want, sizeof want, "%s/validator.key", home);
    assert_string_equal(c.validator_key, want);
    snprintf(want, sizeof want, "%s/noise.key", home);
    assert_string_equal(c.noise_key, want);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* Overwrite. */
    assert_int_equal(cairn_config_write(&d, path, 1), 0);
    assert_int_equal(cairn_config_load(&c, home, &err), 0);
    assert_int_equal(c.block_max_txs, 5);

    /* Absolute paths stay as written. */
    write_file(path, "{\"data_dir\": \"/srv/cairn\", \"genesis\": \"/etc/cairn/genesis.json\"}");
    assert_int_equal(cairn_config_load(&c, home, &err), 0);
    assert_string_equal(c.data_dir, "/srv/cairn");
    assert_string_equal(c.genesis, "/etc/cairn/genesis.json");

    /* Errors from the file carry through. */
    write_file(path, "{\"api\": {\"listen\": \"127.0.0.1:77500\"}}");
    assert_int_equal(cairn_config_load(&c, home, &err), CAIRN_ECONFIG);
    assert_string_equal(err.msg, "api.listen: port must be in 0..65535");
    write_file(path, "{");
    assert_int_equal(cairn_config_load(&c, home, &err), CAIRN_EJSON);

    /* A relative path that no longer fits once joined to the home. */
    char longp[1100] = "{\"genesis\": \"";
    memset(longp + strlen(longp), 'g', 1020);
    strcat(longp, "\"}");
    write_file(path, longp);
    assert_int_equal(cairn_config_load(&c, home, &err), CAIRN_ECONFIG);
    assert_string_equal(err.msg, "genesis: path too long once resolved against the home");

    /* Writing into a missing directory fails with the errno mapping. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope/config.json", home);
    assert_int_equal(cairn_config_write(&d, missing, 0), CAIRN_ENOENT);

    test_rmtree(home);
    free(home);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),       cmocka_unit_test(test_full_valid),
        cmocka_unit_test(test_invalid),        cmocka_unit_test(test_http_settings),
        cmocka_unit_test(test_load_and_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
