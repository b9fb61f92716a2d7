/*
 * net_testing.h — hooks into node/net.c for tests/unit/test_net.c only. The daemon never calls
 * them. They let one test process run several cairn_net instances on ephemeral ports and reach
 * states (a stalled reader, a corrupted frame) that are otherwise hard to produce on loopback.
 */
#ifndef CAIRN_NODE_NET_TESTING_H
#define CAIRN_NODE_NET_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "node/net.h"

/* Sets the port of peer (whose config had port 0 = "not dialled yet", e.g. because its listener
 * was not bound yet) and dials it now, unless a link to it is up or a dial is in progress.
 * CAIRN_ENET_PEER for self or an index out of range. */
int cairn_net_testing_set_peer_port(cairn_net *net, uint32_t peer, uint16_t port);

/* Connections open to peer in any state (handshaking, up, or being retired by the duplicate
 * rule), not counting ones already closing. */
size_t cairn_net_testing_links(const cairn_net *net, uint32_t peer);

/* Every connection object net still owns (including handles whose close is pending). */
size_t cairn_net_testing_conns(const cairn_net *net);

/* The validator index that initiated the up link to peer, or -1 when it is down. */
int cairn_net_testing_initiator(const cairn_net *net, uint32_t peer);

/* Stops (paused = 1) or resumes reading the up link to peer: a stalled reader. */
void cairn_net_testing_pause_reading(cairn_net *net, uint32_t peer, int paused);

/* Flips one ciphertext byte of the next message frame written on the up link to peer. */
void cairn_net_testing_corrupt_next(cairn_net *net, uint32_t peer);

/* Runs the responder side on an already connected socket (e.g. one end of a socketpair), as if
 * the listener had accepted it; net closes it like any connection. For the fuzz target. */
int cairn_net_testing_adopt(cairn_net *net, uv_os_sock_t sock);

#endif
