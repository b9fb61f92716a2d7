/*
 * config.c — strict parsing and writing of config.json (see config.h, docs/configuration.md).
 */
#include "node/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/http.h"

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

const char *cairn_log_level_name(cairn_log_level level)
{
    if ((unsigned)level >= sizeof level_names / sizeof level_names[0]) return "unknown";
    return level_names[level];
}

void cairn_config_addr_format(const cairn_config_addr *a, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s:%u", a->host, (unsigned)a->port);
}

void cairn_config_defaults(cairn_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->api_listen.host, sizeof cfg->api_listen.host, "127.0.0.1");
    cfg->api_listen.port = 7750;
    cfg->api_max_body_bytes = CAIRN_HTTP_DEFAULT_MAX_BODY_BYTES;
    cfg->api_max_connections = CAIRN_HTTP_DEFAULT_MAX_CONNECTIONS;
    cfg->api_timeout_s = CAIRN_HTTP_DEFAULT_TIMEOUT_S;
    cfg->api_threads = CAIRN_HTTP_DEFAULT_THREADS;
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "data");
    snprintf(cfg->genesis, sizeof cfg->genesis, "genesis.json");
    snprintf(cfg->validator_key, sizeof cfg->validator_key, "validator.key");
    snprintf(cfg->noise_key, sizeof cfg->noise_key, "noise.key");
    cfg->block_interval_ms = 1000;
    cfg->block_max_txs = 1000;
    cfg->log_level = CAIRN_LOG_INFO;
    snprintf(cfg->p2p_listen.host, sizeof cfg->p2p_listen.host, "127.0.0.1");
    cfg->p2p_listen.port = 7751;
}

/* ---- errors ---- */

static int fail(cairn_config_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(cairn_config_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* Keys and values come from the file: keep the message printable. */
        for (char *p = err->msg; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
    }
    return code;
}

/* ---- field parsers ---- */

static int get_u32(const json_t *v, const char *key, uint32_t lo, uint32_t hi, uint32_t *out,
                   cairn_config_error *err)
{
    if (!json_is_integer(v))
        return fail(err, CAIRN_ECONFIG, "%s: must be an integer in %u..%u", key, lo, hi);
    json_int_t n = json_integer_value(v);
    if (n < (json_int_t)lo || n > (json_int_t)hi)
        return fail(err, CAIRN_ECONFIG, "%s: must be an integer in %u..%u", key, lo, hi);
    *out = (uint32_t)n;
    return 0;
}

static int get_path(const json_t *v, const char *key, char *out, size_t cap,
                    cairn_config_error *err)
{
    if (!json_is_string(v)) return fail(err, CAIRN_ECONFIG, "%s: must be a string", key);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n != strlen(s) || n >= cap)
        return fail(err, CAIRN_ECONFIG, "%s: must be a non-empty path shorter than %zu bytes", key,
                    cap);
    memcpy(out, s, n + 1);
    return 0;
}

static int valid_dns_name(const char *h, size_t n)
{
    if (n == 0 || n > 253) return 0;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-') return 0;
            label = 0;
            continue;
        }
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && label > 0)) return 0;
        if (++label > 63) return 0;
    }
    return label > 0 && h[n - 1] != '-';
}

/*
 * "host:port". listen: host must be an IPv4 literal and port may be 0; otherwise host may also be
 * a DNS name and port is 1..65535.
 */
static int get_addr(const json_t *v, const char *key, int listen, cairn_config_addr *out,
                    cairn_config_error *err)
{
    const char *what = listen ? "an \"IPv4:port\" string" : "a \"host:port\" string";
    if (!json_is_string(v)) return fail(err, CAIRN_ECONFIG, "%s: must be %s", key, what);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    const char *colon = strrchr(s, ':');
    if (n != strlen(s) || !colon) return fail(err, CAIRN_ECONFIG, "%s: must be %s", key, what);
    size_t hl = (size_t)(colon - s);
    const char *ps = colon + 1;
    size_t pl = strlen(ps);
    unsigned long port = 0;
    if (pl == 0 || pl > 5) return fail(err, CAIRN_ECONFIG, "%s: malformed port", key);
    for (size_t i = 0; i < pl; i++) {
        if (ps[i] < '0' || ps[i] > '9') return fail(err, CAIRN_ECONFIG, "%s: malformed port", key);
        port = port * 10 + (unsigned long)(ps[i] - '0');
    }
    if (port > 65535 || (!listen && port == 0))
        return fail(err, CAIRN_ECONFIG, "%s: port must be in %d..65535", key, listen ? 0 : 1);
    if (hl == 0 || hl >= CAIRN_CONFIG_HOST_MAX)
        return fail(err, CAIRN_ECONFIG, "%s: must be %s", key, what);
    char host[CAIRN_CONFIG_HOST_MAX];
    memcpy(host, s, hl);
    host[hl] = '\0';
    struct in_addr ia;
    int is_ipv4 = inet_pton(AF_INET, host, &ia) == 1;
    if (listen && !is_ipv4)
        return fail(err, CAIRN_ECONFIG, "%s: host must be an IPv4 address", key);
    if (!is_ipv4 && !valid_dns_name(host, hl))
        return fail(err, CAIRN_ECONFIG, "%s: host must be an IPv4 address or a DNS name", key);
    memcpy(out->host, host, hl + 1);
    out->port = (uint16_t)port;
    return 0;
}

/* ---- sections ---- */

static int parse_api(const json_t *obj, cairn_config *cfg, cairn_config_error *err)
{
    if (!json_is_object(obj)) return fail(err, CAIRN_ECONFIG, "api: must be an object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int e;
        if (strcmp(k, "listen") == 0)
            e = get_addr(v, "api.listen", 1, &cfg->api_listen, err);
        else if (strcmp(k, "max_body_bytes") == 0)
            e = get_u32(v, "api.max_body_bytes", 1024, CAIRN_HTTP_MAX_BODY_LIMIT,
                        &cfg->api_max_body_bytes, err);
        else if (strcmp(k, "max_connections") == 0)
            e = get_u32(v, "api.max_connections", 1, 10000, &cfg->api_max_connections, err);
        else if (strcmp(k, "max_connections_per_ip") == 0)
            e = get_u32(v, "api.max_connections_per_ip", 0, 10000, &cfg->api_max_connections_per_ip,
                        err);
        else if (strcmp(k, "timeout_s") == 0)
            e = get_u32(v, "api.timeout_s", 1, 3600, &cfg->api_timeout_s, err);
        else if (strcmp(k, "threads") == 0)
            e = get_u32(v, "api.threads", 1, 64, &cfg->api_threads, err);
        else
            e = fail(err, CAIRN_ECONFIG, "unknown key \"api.%.64s\"", k);
        if (e) return e;
    }
    return 0;
}

static int parse_block(const json_t *obj, cairn_config *cfg, cairn_config_error *err)
{
    if (!json_is_object(obj)) return fail(err, CAIRN_ECONFIG, "block: must be an object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int e;
        if (strcmp(k, "interval_ms") == 0)
            e = get_u32(v, "block.interval_ms", 10, 3600000, &cfg->block_interval_ms, err);
        else if (strcmp(k, "max_txs") == 0)
            e = get_u32(v, "block.max_txs", 1, 100000, &cfg->block_max_txs, err);
        else
            e = fail(err, CAIRN_ECONFIG, "unknown key \"block.%.64s\"", k);
        if (e) return e;
    }
    return 0;
}

static int parse_peers(const json_t *arr, cairn_config *cfg, cairn_config_error *err)
{
    if (!json_is_array(arr))
        return fail(err, CAIRN_ECONFIG, "p2p.peers: must be an array of \"host:port\" strings");
    if (json_array_size(arr) > CAIRN_CONFIG_MAX_PEERS)
        return fail(err, CAIRN_ECONFIG, "p2p.peers: at most %u peers", CAIRN_CONFIG_MAX_PEERS);
    cfg->n_peers = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        char key[32];
        snprintf(key, sizeof key, "p2p.peers[%zu]", i);
        cairn_config_addr a;
        int e = get_addr(v, key, 0, &a, err);
        if (e) return e;
        for (size_t j = 0; j < cfg->n_peers; j++)
            if (cfg->peers[j].port == a.port && strcasecmp(cfg->peers[j].host, a.host) == 0)
                return fail(err, CAIRN_ECONFIG, "%s: duplicate of p2p.peers[%zu]", key, j);
        cfg->peers[cfg->n_peers++] = a;
    }
    return 0;
}

static int parse_p2p(const json_t *obj, cairn_config *cfg, cairn_config_error *err)
{
    if (!json_is_object(obj)) return fail(err, CAIRN_ECONFIG, "p2p: must be an object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int e;
        if (strcmp(k, "listen") == 0)
            e = get_addr(v, "p2p.listen", 1, &cfg->p2p_listen, err);
        else if (strcmp(k, "peers") == 0)
            e = parse_peers(v, cfg, err);
        else
            e = fail(err, CAIRN_ECONFIG, "unknown key \"p2p.%.64s\"", k);
        if (e) return e;
    }
    return 0;
}

static int parse_log_level(const json_t *v, cairn_config *cfg, cairn_config_error *err)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
            if (strcmp(s, level_names[i]) == 0 && strlen(s) == json_string_length(v)) {
                cfg->log_level = (cairn_log_level)i;
                return 0;
            }
        }
    }
    return fail(err, CAIRN_ECONFIG,
                "log_level: must be one of \"error\", \"warn\", \"info\", \"debug\", \"trace\"");
}

int cairn_config_parse(cairn_config *cfg, const char *json, size_t len, cairn_config_error *err)
{
    cairn_config_defaults(cfg);
    if (err) err->msg[0] = '\0';
    if (len > CAIRN_CONFIG_MAX_BYTES)
        return fail(err, CAIRN_ETOOBIG, "config is larger than %u bytes", CAIRN_CONFIG_MAX_BYTES);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (json_error_code(&je) == json_error_out_of_memory) return CAIRN_ENOMEM;
        return fail(err, CAIRN_EJSON, "line %d column %d: %s", je.line, je.column, je.text);
    }
    int e = 0;
    if (!json_is_object(root)) {
        e = fail(err, CAIRN_ECONFIG, "the config must be a JSON object");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "api") == 0)
            e = parse_api(v, cfg, err);
        else if (strcmp(k, "data_dir") == 0)
            e = get_path(v, "data_dir", cfg->data_dir, sizeof cfg->data_dir, err);
        else if (strcmp(k, "genesis") == 0)
            e = get_path(v, "genesis", cfg->genesis, sizeof cfg->genesis, err);
        else if (strcmp(k, "validator_key") == 0)
            e = get_path(v, "validator_key", cfg->validator_key, sizeof cfg->validator_key, err);
        else if (strcmp(k, "noise_key") == 0)
            e = get_path(v, "noise_key", cfg->noise_key, sizeof cfg->noise_key, err);
        else if (strcmp(k, "block") == 0)
            e = parse_block(v, cfg, err);
        else if (strcmp(k, "log_level") == 0)
            e = parse_log_level(v, cfg, err);
        else if (strcmp(k, "p2p") == 0)
            e = parse_p2p(v, cfg, err);
        else
            e = fail(err, CAIRN_ECONFIG, "unknown key \"%.64s\"", k);
        if (e) goto out;
    }
    if (cfg->api_max_connections < cfg->api_threads)
        e = fail(err, CAIRN_ECONFIG, "api.max_connections: must be at least api.threads (%u)",
                 cfg->api_threads);
out:
    json_decref(root);
    return e;
}

/* ---- loading ---- */

static int resolve(char *path, size_t cap, const char *home, const char *key,
                   cairn_config_error *err)
{
    if (path[0] == '/') return 0;
    char buf[CAIRN_CONFIG_PATH_MAX];
    int n = snprintf(buf, sizeof buf, "%s/%s", home, path);
    if (n < 0 || (size_t)n >= sizeof buf || (size_t)n >= cap)
        return fail(err, CAIRN_ECONFIG, "%s: path too long once resolved against the home", key);
    memcpy(path, buf, (size_t)n + 1);
    return 0;
}

int cairn_config_load(cairn_config *cfg, const char *home, cairn_config_error *err)
{
    if (err) err->msg[0] = '\0';
    char path[CAIRN_CONFIG_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", home, CAIRN_CONFIG_FILE);
    if (n < 0 || (size_t)n >= sizeof path)
        return fail(err, CAIRN_ECONFIG, "home directory path is too long");
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = cairn_err_from_errno(errno);
        return fail(err, e, "%s: %s", path, strerror(errno));
    }
    size_t cap = CAIRN_CONFIG_MAX_BYTES + 1;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return CAIRN_ENOMEM;
    }
    size_t len = fread(buf, 1, cap, f);
    int rerr = ferror(f);
    fclose(f);
    int e;
    if (rerr)
        e = fail(err, CAIRN_EIO, "%s: read error", path);
    else if (len > CAIRN_CONFIG_MAX_BYTES)
        e = fail(err, CAIRN_ETOOBIG, "%s: larger than %u bytes", path, CAIRN_CONFIG_MAX_BYTES);
    else
        e = cairn_config_parse(cfg, buf, len, err);
    free(buf);
    if (e) return e;
    if ((e = resolve(cfg->data_dir, sizeof cfg->data_dir, home, "data_dir", err)) != 0 ||
        (e = resolve(cfg->genesis, sizeof cfg->genesis, home, "genesis", err)) != 0 ||
        (e = resolve(cfg->validator_key, sizeof cfg->validator_key, home, "validator_key", err)) ||
        (e = resolve(cfg->noise_key, sizeof cfg->noise_key, home, "noise_key", err)))
        return e;
    return 0;
}

void cairn_config_http(const cairn_config *cfg, cairn_http_config *out)
{
    memset(out, 0, sizeof *out);
    out->bind_addr = cfg->api_listen.host;
    out->port = cfg->api_listen.port;
    out->max_body_bytes = cfg->api_max_body_bytes;
    out->max_connections = cfg->api_max_connections;
    out->max_connections_per_ip = cfg->api_max_connections_per_ip;
    out->timeout_s = cfg->api_timeout_s;
    out->threads = cfg->api_threads;
}

/* ---- writing ---- */

char *cairn_config_to_json(const cairn_config *cfg)
{
    char api_listen[CAIRN_CONFIG_HOST_MAX + 8], p2p_listen[CAIRN_CONFIG_HOST_MAX + 8];
    cairn_config_addr_format(&cfg->api_listen, api_listen, sizeof api_listen);
    cairn_config_addr_format(&cfg->p2p_listen, p2p_listen, sizeof p2p_listen);
    json_t *peers = json_array();
    for (size_t i = 0; peers && i < cfg->n_peers; i++) {
        char a[CAIRN_CONFIG_HOST_MAX + 8];
        cairn_config_addr_format(&cfg->peers[i], a, sizeof a);
        if (json_array_append_new(peers, json_string(a)) != 0) {
            json_decref(peers);
            peers = NULL;
        }
    }
    if (!peers) return NULL;
    json_t *root = json_pack(
        "{s:{s:s,s:I,s:I,s:I,s:I,s:I},s:s,s:s,s:s,s:s,s:{s:I,s:I},s:s,s:{s:s,s:o}}", "api",
        "listen", api_listen, "max_body_bytes", (json_int_t)cfg->api_max_body_bytes,
        "max_connections", (json_int_t)cfg->api_max_connections, "max_connections_per_ip",
        (json_int_t)cfg->api_max_connections_per_ip, "timeout_s", (json_int_t)cfg->api_timeout_s,
        "threads", (json_int_t)cfg->api_threads, "data_dir", cfg->data_dir, "genesis", cfg->genesis,
        "validator_key", cfg->validator_key, "noise_key", cfg->noise_key, "block", "interval_ms",
        (json_int_t)cfg->block_interval_ms, "max_txs", (json_int_t)cfg->block_max_txs, "log_level",
        cairn_log_level_name(cfg->log_level), "p2p", "listen", p2p_listen, "peers", peers);
    if (!root) return NULL;
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return NULL;
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    return t;
}

int cairn_config_write(const cairn_config *cfg, const char *path, int overwrite)
{
    char *text = cairn_config_to_json(cfg);
    if (!text) return CAIRN_ENOMEM;
    char tmp[CAIRN_CONFIG_PATH_MAX + 16];
    int e = 0, fd = -1;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        e = CAIRN_EINVAL;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        e = cairn_err_from_errno(errno);
        goto out;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            e = cairn_err_from_errno(errno);
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        e = cairn_err_from_errno(errno);
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        e = cairn_err_from_errno(errno);
        goto out;
    }
    fd = -1;
    /* link() fails with EEXIST instead of replacing: atomic create-if-absent. */
    if ((overwrite ? rename(tmp, path) : link(tmp, path)) != 0)
        e = errno == EEXIST ? CAIRN_EEXIST : cairn_err_from_errno(errno);
out:
    if (fd >= 0) close(fd);
    if (n > 0 && (size_t)n < sizeof tmp) unlink(tmp); /* after rename: ENOENT, harmless */
    free(text);
    return e;
}
