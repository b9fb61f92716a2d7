/*
 * config.h — the node's configuration file (DIR/config.json for `cairnd --home DIR`).
 *
 * The schema, defaults and ranges are documented in docs/configuration.md; this header is the
 * contract for code. Parsing is strict: every key is optional (a missing key keeps its default),
 * but an unknown key, a wrong JSON type, an out-of-range value, a duplicate key or a malformed
 * address is an error whose message names the key (e.g. "api.max_body_bytes: must be an integer
 * in 1024..16777216").
 *
 * A cairn_config is a plain value (no heap pointers): copy it freely. All functions are
 * reentrant; none keeps state between calls.
 */
#ifndef CAIRN_NODE_CONFIG_H
#define CAIRN_NODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"

#define CAIRN_CONFIG_FILE      "config.json"
#define CAIRN_CONFIG_MAX_BYTES (1024u * 1024u) /* a larger config file is refused (ETOOBIG) */
#define CAIRN_CONFIG_PATH_MAX  1024u           /* bytes, including the NUL, after resolution */
#define CAIRN_CONFIG_HOST_MAX  254u            /* DNS name (253) + NUL */
#define CAIRN_CONFIG_MAX_PEERS 64u

typedef enum cairn_log_level {
    CAIRN_LOG_ERROR = 0,
    CAIRN_LOG_WARN = 1,
    CAIRN_LOG_INFO = 2,
    CAIRN_LOG_DEBUG = 3,
    CAIRN_LOG_TRACE = 4,
} cairn_log_level;

/* "host:port". Listen addresses have an IPv4 literal host; peers may use a DNS name. */
typedef struct cairn_config_addr {
    char host[CAIRN_CONFIG_HOST_MAX];
    uint16_t port;
} cairn_config_addr;

typedef struct cairn_config {
    /* "api" */
    cairn_config_addr api_listen;        /* default 127.0.0.1:7750; port 0 = ephemeral */
    uint32_t api_max_body_bytes;         /* default 65536, range 1024..16777216 */
    uint32_t api_max_connections;        /* default 64, range 1..10000 */
    uint32_t api_max_connections_per_ip; /* default 0 (no limit), range 0..10000 */
    uint32_t api_timeout_s;              /* default 10, range 1..3600 */
    uint32_t api_threads;                /* default 2, range 1..64 */
    /* paths; relative ones are resolved against the home directory by cairn_config_load */
    char data_dir[CAIRN_CONFIG_PATH_MAX];      /* default "data" */
    char genesis[CAIRN_CONFIG_PATH_MAX];       /* default "genesis.json" */
    char validator_key[CAIRN_CONFIG_PATH_MAX]; /* default "validator.key" */
    char noise_key[CAIRN_CONFIG_PATH_MAX];     /* default "noise.key" (peer-link X25519 key) */
    /* "block" */
    uint32_t block_interval_ms; /* default 1000, range 10..3600000 */
    uint32_t block_max_txs;     /* default 1000, range 1..100000 */
    cairn_log_level log_level;  /* default info */
    /* "p2p": the listen address; peers are dialled at their genesis addresses unless
     * p2p.peers lists validator addresses to use instead (same order as genesis validators) */
    cairn_config_addr p2p_listen; /* default 127.0.0.1:7751 */
    size_t n_peers;
    cairn_config_addr peers[CAIRN_CONFIG_MAX_PEERS]; /* distinct; port 1..65535 */
} cairn_config;

/* A human-readable reason for a failed parse or load, always NUL-terminated. */
typedef struct cairn_config_error {
    char msg[256];
} cairn_config_error;

/* Fills cfg with the defaults (the config `cairnd --dev` writes). */
void cairn_config_defaults(cairn_config *cfg);

/*
 * Parses a config document (len bytes of JSON, need not be NUL-terminated) into cfg, starting
 * from the defaults. Paths are stored as written. Returns 0; CAIRN_EJSON for malformed JSON
 * (message has line and column); CAIRN_ECONFIG for a schema violation (message names the key);
 * CAIRN_ETOOBIG for more than CAIRN_CONFIG_MAX_BYTES; CAIRN_ENOMEM. err may be NULL. On error
 * cfg's contents are unspecified.
 */
CAIRN_MUST_CHECK int cairn_config_parse(cairn_config *cfg, const char *json, size_t len,
                                        cairn_config_error *err);

/*
 * Reads home/config.json, parses it and resolves relative paths against home. Returns 0, the
 * codes of cairn_config_parse, CAIRN_ENOENT when the file is missing, CAIRN_EIO and friends for
 * read errors, CAIRN_ECONFIG when a resolved path is too long.
 */
CAIRN_MUST_CHECK int cairn_config_load(cairn_config *cfg, const char *home,
                                       cairn_config_error *err);

/*
 * Serializes cfg as the documented JSON (two-space indent, schema key order, trailing newline).
 * Returns a heap string the caller frees, or NULL on out of memory. cairn_config_parse of the
 * result gives back an equal config.
 */
char *cairn_config_to_json(const cairn_config *cfg);

/*
 * Writes cfg to path atomically (temporary file, fsync, then rename or link). With
 * overwrite == 0 an existing file is left alone and CAIRN_EEXIST is returned (how `cairnd --dev`
 * writes its default config only on first run). Returns 0 or a CAIRN_E* I/O code.
 */
CAIRN_MUST_CHECK int cairn_config_write(const cairn_config *cfg, const char *path, int overwrite);

struct cairn_http_config;

/*
 * Fills the HTTP server settings from cfg's "api" section. out->bind_addr points into cfg, so cfg
 * must outlive the use of out (cairn_http_start copies what it needs). Sets no log sink.
 */
void cairn_config_http(const cairn_config *cfg, struct cairn_http_config *out);

/* "error", "warn", "info", "debug", "trace". */
const char *cairn_log_level_name(cairn_log_level level);

/* Formats "host:port" into buf (cap >= CAIRN_CONFIG_HOST_MAX + 6 always suffices). */
void cairn_config_addr_format(const cairn_config_addr *a, char *buf, size_t cap);

#endif
