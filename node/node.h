/*
 * node.h — a Cairn node: storage, the chain, the mempool, the validator replica (consensus over
 * the peer links, node/replica.h) and the HTTP API. A one-validator genesis (`cairnd --dev`)
 * runs the same replica with no peers.
 *
 * Threads: the event loop (libuv) runs the replica (consensus, batches, block application); the
 * API threads decode and check submitted transactions and serve reads from LMDB read
 * transactions; one admission thread (node/admit.h) verifies submitted signatures in batches.
 */
#ifndef CAIRN_NODE_NODE_H
#define CAIRN_NODE_NODE_H

#include "ledger/error.h"
#include "node/config.h"

typedef struct cairn_node cairn_node;

/*
 * Opens the node described by cfg (paths resolved): loads the genesis and the validator key,
 * opens the store and the chain, starts the API. The validator key must belong to a genesis
 * validator. msg gets a reason on failure.
 */
CAIRN_MUST_CHECK int cairn_node_open(cairn_node **out, const cairn_config *cfg, char *msg,
                                     size_t msg_cap);

/* Runs the event loop until SIGINT/SIGTERM or a fatal storage error; returns 0 after a clean
 * shutdown (pending transactions are committed first), else the error. */
CAIRN_MUST_CHECK int cairn_node_run(cairn_node *n);

/* The API's bound port. */
unsigned cairn_node_api_port(const cairn_node *n);

void cairn_node_close(cairn_node *n);

/*
 * Creates a development home in dir on first use: a validator key, an admin key for the one
 * organization, a genesis and the default config (API on api_port). Existing files are kept.
 */
CAIRN_MUST_CHECK int cairn_node_dev_init(const char *dir, unsigned api_port, char *msg,
                                         size_t msg_cap);

#endif
