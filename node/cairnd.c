/*
 * cairnd — the Cairn validator node.
 *
 *   cairnd --dev [--home DIR] [--port N]   development node: creates DIR (default ./cairn-dev)
 *                                          with keys, a genesis and a config on first run
 *   cairnd --home DIR                      runs from DIR/config.json (docs/configuration.md)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "node/config.h"
#include "node/node.h"

static int usage(FILE *f, int rc)
{
    fprintf(f, "usage: cairnd --dev [--home DIR] [--port N]\n"
               "       cairnd --home DIR\n"
               "       cairnd --version\n");
    return rc;
}

int main(int argc, char **argv)
{
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
