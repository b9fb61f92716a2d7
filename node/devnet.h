/*
 * devnet.h — local development networks: n validator homes sharing one genesis, on one host.
 *
 * Layout written by cairn_node_devnet_init(dir, n, host, base_port):
 *   DIR/genesis.json        chain "cairn-devnet", organization "dev-org" (operator, vendor,
 *                           service; admin key DIR/admin.key), approvals_required 1, n validators
 *                           of power 1, validator i at address host:(base_port + 2i + 1)
 *   DIR/admin.key           the organization's Ed25519 admin key (ledger/keys.h key file, 0600)
 *   DIR/node<i>/validator.key, DIR/node<i>/noise.key     (0600; noise.key as in cairnd --dev)
 *   DIR/node<i>/config.json api.listen host:(base_port + 2i), p2p.listen host:(base_port + 2i + 1),
 *                           genesis "../genesis.json", data_dir "data", other keys default
 * Run node i with `cairnd --home DIR/node<i>`. The single-node `cairnd --dev` home
 * (cairn_node_dev_init in node/node.h) is built by the same code with a flat layout.
 */
#ifndef CAIRN_NODE_DEVNET_H
#define CAIRN_NODE_DEVNET_H

#include <stddef.h>

#include "ledger/error.h"

#define CAIRN_DEVNET_CHAIN_ID       "cairn-devnet"
#define CAIRN_DEVNET_MAX_VALIDATORS 64u

/*
 * Creates the devnet above in dir on first use. Existing files are kept: a rerun with the same
 * arguments changes nothing and succeeds (so restarting keeps every node's ledger). A rerun
 * against a genesis that does not list exactly these n validators with the keys found in the
 * node homes fails with CAIRN_EGENESIS. host must be an IPv4 literal; n in
 * 1..CAIRN_DEVNET_MAX_VALIDATORS; base_port >= 1 with base_port + 2n - 1 <= 65535 (else
 * CAIRN_EINVAL). I/O errors are CAIRN_E* codes; msg (capacity msg_cap) gets the reason and the
 * path on any failure.
 */
CAIRN_MUST_CHECK int cairn_node_devnet_init(const char *dir, unsigned n_validators,
                                            const char *host, unsigned base_port, char *msg,
                                            size_t msg_cap);

/*
 * The same with one host per validator (hosts[i], an IPv4 literal, for node i's API listen, p2p
 * listen and genesis address; ports as above), for devnets spread over several hosts or network
 * namespaces (tests/cluster/test_cluster_netns.sh). cairn_node_devnet_init(dir, n, h, ...) is this
 * with every hosts[i] = h. Errors as above; every host is checked before anything is written.
 */
CAIRN_MUST_CHECK int cairn_node_devnet_init_hosts(const char *dir, unsigned n_validators,
                                                  const char *const *hosts, unsigned base_port,
                                                  char *msg, size_t msg_cap);

/* The API port of node i of a devnet generated with base_port: base_port + 2i. */
static inline unsigned cairn_devnet_api_port(unsigned base_port, unsigned i)
{
    return base_port + 2 * i;
}

/* The p2p port of node i (its genesis address): base_port + 2i + 1. */
static inline unsigned cairn_devnet_p2p_port(unsigned base_port, unsigned i)
{
    return base_port + 2 * i + 1;
}

#endif
