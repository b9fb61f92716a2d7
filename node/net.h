/*
 * net.h — validator peer links: libuv TCP, a Noise IK handshake bound to the genesis keys
 * (node/noise.h), length-prefixed encrypted frames (node/frame.h), bounded per-peer send queues,
 * reconnect with capped back-off, and deterministic resolution of duplicate connections.
 *
 *   cairn_net_start(&net, &cfg)        listen and dial every other validator
 *   cairn_net_send(net, peer, msg)     queue one message (opaque bytes) for one peer
 *   cfg.on_message(ctx, peer, msg)     one authenticated message from validator `peer`
 *   cairn_net_close(net)               close every link and the listener
 *
 * Peers are the validators of the set, by index 0..n-1 (self included, never dialled); a slot
 * whose noise_pub is all zero is empty (never dialled, never accepted). Every node
 * dials every other validator at its address (not a peer whose host is "" or whose port is 0);
 * a connection is accepted only if the Noise handshake proves the remote holds the private key of
 * one of the set's noise keys (an unknown key, a wrong responder key or another chain id fails
 * the handshake and the socket is closed before any message is delivered). When two
 * authenticated links to the same peer exist (both sides dialled at once), both ends keep the one
 * initiated by the lower validator index and close the other; a newer link from the same
 * initiator replaces an older one (the peer restarted).
 *
 * On the wire (docs/transport.md): each handshake message is a u16 big-endian length and the
 * Noise message; the initiator's first frame is an empty "hello" that the transport consumes, and
 * the responder counts the link as up only once it authenticates (a replayed message 1 never
 * replaces a live link). A failed dial or a lost link is re-dialled after a back-off
 * (reconnect_min_ms doubling to reconnect_max_ms, reset when a link comes up); a peer is never
 * dialled while a link to it is up.
 *
 * Messages: cairn_net_send copies msg (at most cairn_frame_plaintext_max() bytes) into the
 * peer's queue; it never blocks. The queue is bounded by max_queue_bytes, counting each message
 * as its frame on the wire (4 + cairn_frame_sealed_len(len) bytes, so 20 for an empty one) from
 * cairn_net_send until its write to the socket completed: a message that would exceed it is
 * refused with CAIRN_ENET_QUEUE_FULL and counted, so a slow or stalled peer never makes the node
 * buffer without limit. Messages to one peer are delivered in order while the link stays up;
 * nothing is retransmitted after a link drops (the protocol above retries). A peer that sends a
 * frame that fails to decrypt, is larger than CAIRN_FRAME_MAX, or arrives before the handshake
 * completes is disconnected (and reconnected later with back-off).
 *
 * Threads: everything runs on cfg.loop's thread; callbacks are called from it, never re-entrantly
 * from cairn_net_send (cairn_net_drop does call on_link(peer, 0) before it returns). Callbacks
 * may call cairn_net_send and cairn_net_drop, not cairn_net_close. Ownership: cfg is copied
 * (peers, keys and chain id included); msg passed to on_message is valid only during the
 * callback.
 *
 * Errors: 0 or a negative CAIRN_E* code (ledger/error.h).
 */
#ifndef CAIRN_NODE_NET_H
#define CAIRN_NODE_NET_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ledger/error.h"
#include "node/config.h"

#define CAIRN_NET_MAX_PEERS 64

typedef struct cairn_net cairn_net;

typedef struct cairn_net_peer {
    char host[CAIRN_CONFIG_HOST_MAX]; /* IPv4 literal or DNS name (IPv4 results); "" = never dial */
    uint16_t port;                    /* 0 = never dial (tests set it later: node/net_testing.h) */
    uint8_t noise_pub[32];            /* the validator's genesis noise_key */
} cairn_net_peer;

/* One message from authenticated validator `peer`; msg is valid during the call only. */
typedef void (*cairn_net_message_cb)(void *ctx, uint32_t peer, const uint8_t *msg, size_t len);
/* A link to `peer` came up (up = 1) or went down (up = 0). Not called when the duplicate rule
 * replaces the link of a peer that stays connected. */
typedef void (*cairn_net_link_cb)(void *ctx, uint32_t peer, int up);

typedef struct cairn_net_config {
    uv_loop_t *loop;
    const char *chain_id; /* bound into the handshake prologue */
    uint32_t self;        /* our index in peers */
    size_t n_peers;       /* 1..CAIRN_NET_MAX_PEERS, self included */
    const cairn_net_peer *peers;
    const uint8_t *noise_private;  /* 32 bytes: our X25519 static private key */
    const char *listen_host;       /* IPv4 literal, e.g. "127.0.0.1" or "0.0.0.0" */
    uint16_t listen_port;          /* 0 = ephemeral (cairn_net_port tells) */
    size_t max_queue_bytes;        /* per peer, framed bytes (see above); 0 = default 64 MiB */
    uint32_t reconnect_min_ms;     /* 0 = default 100 */
    uint32_t reconnect_max_ms;     /* 0 = default 5000 (back-off doubles up to this cap) */
    uint32_t handshake_timeout_ms; /* 0 = default 5000: connect + handshake + hello, else dropped */
    cairn_net_message_cb on_message;
    cairn_net_link_cb on_link; /* may be NULL */
    void *ctx;
} cairn_net_config;

typedef struct cairn_net_stats {
    uint64_t frames_in, frames_out;
    uint64_t bytes_in, bytes_out; /* plaintext */
    uint64_t handshakes_ok;       /* links established (both of a duplicate pair count) */
    uint64_t handshakes_failed;   /* TCP connected but never established (bad/unknown/timeout) */
    uint64_t queue_full_drops;    /* sends refused with CAIRN_ENET_QUEUE_FULL */
    uint64_t bad_frames;          /* links dropped for an oversize or undecryptable frame */
    uint64_t duplicate_links;     /* links closed by the duplicate rule */
    uint32_t peers_up;
} cairn_net_stats;

/* Binds the listener and starts dialling. CAIRN_EINVAL for a bad config (including a
 * noise_private whose public key is not peers[self].noise_pub, or two peers with one noise key),
 * CAIRN_ECONNECT when the listen address cannot be bound. */
CAIRN_MUST_CHECK int cairn_net_start(cairn_net **out, const cairn_net_config *cfg);

/* The bound listen port. */
uint16_t cairn_net_port(const cairn_net *net);

/* Queues a copy of msg for peer. CAIRN_ENET_PEER (index out of range or self), CAIRN_ENET_DOWN
 * (no authenticated link), CAIRN_ENET_QUEUE_FULL, CAIRN_EFRAME_TOO_BIG, CAIRN_ENOMEM. */
CAIRN_MUST_CHECK int cairn_net_send(cairn_net *net, uint32_t peer, const uint8_t *msg, size_t len);

/* The same, but the message goes ahead of every non-urgent message still queued for peer (urgent
 * ones keep their order among themselves): small consensus messages must not wait behind
 * megabytes of transaction batches. Same errors and accounting as cairn_net_send. */
CAIRN_MUST_CHECK int cairn_net_send_urgent(cairn_net *net, uint32_t peer, const uint8_t *msg,
                                           size_t len);

/* 1 if an authenticated link to peer is up. */
int cairn_net_is_up(const cairn_net *net, uint32_t peer);

/* Bytes queued for peer (framed, as counted against max_queue_bytes) and not yet written. */
size_t cairn_net_queued_bytes(const cairn_net *net, uint32_t peer);

/* Replaces the peer of slot `peer` (not self) while the net runs: its address and noise key.
 * addr NULL or an all-zero noise_pub empties the slot. When the key changes, every link of the
 * slot is closed (on_link(peer, 0) is called before this returns if one was up) and its queue is
 * dropped; from then on only the new key passes the handshake for this slot, and the slot is
 * dialled at the new address. A key that another slot holds is refused (CAIRN_EINVAL);
 * CAIRN_ENET_PEER for an index out of range or self. The validator set of a new epoch is
 * installed this way (docs/transport.md "Changing the peers"). */
CAIRN_MUST_CHECK int cairn_net_set_peer(cairn_net *net, uint32_t peer, const cairn_net_peer *addr);

/* Closes the link to peer (e.g. it sent a message that does not decode); it is re-dialled later
 * with back-off. */
void cairn_net_drop(cairn_net *net, uint32_t peer);

void cairn_net_get_stats(const cairn_net *net, cairn_net_stats *out);

/* Closes every link, the listener and the timers, runs cfg.loop with UV_RUN_NOWAIT until their
 * own close callbacks have run (other handles on the loop are left alone), and frees net (secrets
 * wiped). Call it outside the loop's callbacks (e.g. after uv_run returned): it runs the loop. No
 * callback of net is called from it. A DNS lookup still in flight is orphaned and frees itself
 * when it completes. NULL is a no-op. */
void cairn_net_close(cairn_net *net);

#endif
