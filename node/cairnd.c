/*
 * cairnd — the Cairn validator node.
 *
 *   cairnd --dev [--home DIR] [--port N]   development node: creates DIR (default ./cairn-dev)
 *                                          with keys, a genesis and a config on first run
 *   cairnd --home DIR                      runs from DIR/config.json (docs/configuration.md)
 *   cairnd --init-devnet DIR [--validators N] [--base-port P] [--host H | --hosts H0,H1,...]
 *                                          writes an N-validator devnet (node/devnet.h) into
 *                                          DIR (default 4 validators, ports from 7750, host
 *                                          127.0.0.1; --hosts: one IPv4 address per validator,
 *                                          e.g. one per network namespace) and exits; run each
 *                                          DIR/node<i> with --home
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "node/config.h"
#include "node/devnet.h"
#include "node/node.h"

static int usage(FILE *f, int rc)
{
    fprintf(f, "usage: cairnd --dev [--home DIR] [--port N]\n"
               "       cairnd --home DIR\n"
               "       cairnd --init-devnet DIR [--validators N] [--base-port P]\n"
               "                            [--host H | --hosts H0,H1,...]\n"
               "       cairnd --version\n");
    return rc;
}

static int parse_num(const char *s, const char *name, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "cairnd: %s must be %ld..%ld\n", name, lo, hi);
        return 2;
    }
    *out = v;
    return 0;
}

/* Splits "h0,h1,..." (a copy in buf) into exactly n hosts; 2 with a message otherwise. */
static int split_hosts(const char *list, long n, char *buf, size_t cap, const char **hosts)
{
    if (strlen(list) >= cap) {
        fprintf(stderr, "cairnd: --hosts is too long\n");
        return 2;
    }
    strcpy(buf, list);
    long k = 0;
    for (char *p = buf, *comma; p; p = comma ? comma + 1 : NULL) {
        comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (k < n) hosts[k] = p;
        k++;
    }
    if (k != n) {
        fprintf(stderr, "cairnd: --hosts lists %ld hosts for %ld validators\n", k, n);
        return 2;
    }
    return 0;
}

/* cairnd --init-devnet: writes the devnet and prints where everything is. */
static int init_devnet(const char *dir, long n, long base_port, const char *const *hosts)
{
    char msg[512] = "";
    int err =
        cairn_node_devnet_init_hosts(dir, (unsigned)n, hosts, (unsigned)base_port, msg, sizeof msg);
    if (err) {
        fprintf(stderr, "cairnd: cannot create the devnet %s: %s (%s)\n", dir,
                msg[0] ? msg : cairn_strerror(err), cairn_err_name(err));
        return 1;
    }
    printf("cairnd: devnet    %s (%ld validators, chain %s)\n", dir, n, CAIRN_DEVNET_CHAIN_ID);
    printf("cairnd: genesis   %s/genesis.json\n", dir);
    printf("cairnd: admin key %s/admin.key (organization dev-org)\n", dir);
    for (long i = 0; i < n; i++)
        printf("cairnd: node%ld     home %s/node%ld  API http://%s:%u  p2p %s:%u\n", i, dir, i,
               hosts[i], cairn_devnet_api_port((unsigned)base_port, (unsigned)i), hosts[i],
               cairn_devnet_p2p_port((unsigned)base_port, (unsigned)i));
    printf("cairnd: start each node with: cairnd --home %s/node<i>\n", dir);
    return 0;
}

int main(int argc, char **argv)
{
    const char *devnet = NULL, *host = "127.0.0.1", *host_list = NULL;
    long validators = 4, base_port = 7750;
    int devnet_opt = 0; /* --validators, --base-port, --host or --hosts seen */
    int host_given = 0;
    const char *home = NULL;
    int dev = 0;
    long port = 7750;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("cairnd 0.1.0 (libuv %s)\n", uv_version_string());
            return 0;
        } else if (strcmp(argv[i], "--help") == 0) {
            return usage(stdout, 0);
        } else if (strcmp(argv[i], "--dev") == 0) {
            dev = 1;
        } else if (strcmp(argv[i], "--init-devnet") == 0 && i + 1 < argc) {
            devnet = argv[++i];
        } else if (strcmp(argv[i], "--validators") == 0 && i + 1 < argc) {
            devnet_opt = 1;
            if (parse_num(argv[++i], "--validators", 1, CAIRN_DEVNET_MAX_VALIDATORS, &validators))
                return 2;
        } else if (strcmp(argv[i], "--base-port") == 0 && i + 1 < argc) {
            devnet_opt = 1;
            if (parse_num(argv[++i], "--base-port", 1, 65535, &base_port)) return 2;
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            devnet_opt = host_given = 1;
            host = argv[++i];
        } else if (strcmp(argv[i], "--hosts") == 0 && i + 1 < argc) {
            devnet_opt = 1;
            host_list = argv[++i];
        } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            home = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            port = strtol(argv[++i], &end, 10);
            if (*end || port < 0 || port > 65535) {
                fprintf(stderr, "cairnd: --port must be 0..65535\n");
                return 2;
            }
        } else {
            fprintf(stderr, "cairnd: unknown argument '%s'\n", argv[i]);
            return usage(stderr, 2);
        }
    }
    if (devnet) {
        if (dev || home) {
            fprintf(stderr, "cairnd: --init-devnet takes no --dev or --home\n");
            return usage(stderr, 2);
        }
        const char *hosts[CAIRN_DEVNET_MAX_VALIDATORS];
        char buf[CAIRN_DEVNET_MAX_VALIDATORS * 16 + 1];
        for (long k = 0; k < validators; k++) hosts[k] = host;
        if (host_list && host_given) {
            fprintf(stderr, "cairnd: give --host or --hosts, not both\n");
            return usage(stderr, 2);
        }
        if (host_list && split_hosts(host_list, validators, buf, sizeof buf, hosts)) return 2;
        return init_devnet(devnet, validators, base_port, hosts);
    }
    if (devnet_opt) {
        fprintf(stderr,
                "cairnd: --validators, --base-port, --host and --hosts go with --init-devnet\n");
        return usage(stderr, 2);
    }
    if (!dev && !home) return usage(stderr, 2);
    if (dev && !home) home = "cairn-dev";

    char msg[512] = "";
    int err;
    if (dev && (err = cairn_node_dev_init(home, (unsigned)port, msg, sizeof msg)) != 0) {
        fprintf(stderr, "cairnd: cannot create the dev home %s: %s (%s)\n", home, msg,
                cairn_err_name(err));
        return 1;
    }
    cairn_config cfg;
    cairn_config_error cerr;
    if ((err = cairn_config_load(&cfg, home, &cerr)) != 0) {
        fprintf(stderr, "cairnd: %s/config.json: %s (%s)\n", home, cerr.msg, cairn_err_name(err));
        return 1;
    }
    /* CAIRN_LOG_LEVEL (error, warn, info, debug, trace) overrides the config's log_level, e.g. to
     * trace nodes a benchmark or test started. */
    const char *lv = getenv("CAIRN_LOG_LEVEL");
    if (lv) {
        int found = 0;
        for (int l = CAIRN_LOG_ERROR; l <= CAIRN_LOG_TRACE; l++)
            if (strcmp(lv, cairn_log_level_name((cairn_log_level)l)) == 0)
                cfg.log_level = l, found = 1;
        if (!found) {
            fprintf(stderr, "cairnd: CAIRN_LOG_LEVEL must be error, warn, info, debug or trace "
                            "(ECONFIG)\n");
            return 1;
        }
    }
    /* A write to a peer link or API connection whose other end is gone must fail with EPIPE,
     * not kill the process: libuv writes with write(2), and the default SIGPIPE action
     * terminated a validator when a peer was killed (tests/cluster/test_cluster_crash.sh). */
    signal(SIGPIPE, SIG_IGN);
    cairn_node *n;
    if ((err = cairn_node_open(&n, &cfg, msg, sizeof msg)) != 0) {
        fprintf(stderr, "cairnd: %s (%s)\n", msg[0] ? msg : cairn_strerror(err),
                cairn_err_name(err));
        return 1;
    }
    printf("cairnd: home      %s\n", home);
    printf("cairnd: genesis   %s\n", cfg.genesis);
    printf("cairnd: validator %s\n", cfg.validator_key);
    if (dev) printf("cairnd: admin key %s/admin.key\n", home);
    printf("cairnd: data      %s\n", cfg.data_dir);
    printf("cairnd: API       http://%s:%u\n", cfg.api_listen.host, cairn_node_api_port(n));
    fflush(stdout);
    err = cairn_node_run(n);
    cairn_node_close(n);
    if (err) {
        fprintf(stderr, "cairnd: stopped: %s (%s)\n", cairn_strerror(err), cairn_err_name(err));
        return 1;
    }
    return 0;
}
