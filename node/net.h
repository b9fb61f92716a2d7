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
 * Peers are the validators of the set, by index 0..n-1 (self included, never dialled). Every node
 * dials every other validator at its address; a connection is accepted only if the Noise
 * handshake proves the remote holds the private key of one of the set's noise keys (an unknown
 * key, a wrong responder key or another chain id fails the handshake and the socket is closed
 * before any message is delivered). When two authenticated links to the same peer exist (both
 * sides dialled at once), both ends keep the one initiated by the lower validator index and close
 * the other; a newer link from the same initiator replaces an older one (the peer restarted).
 *
 * Messages: cairn_net_send copies msg (at most cairn_frame_plaintext_max() bytes) into the
 * peer's queue; it never blocks. The queue is bounded by max_queue_bytes (plaintext bytes queued
 * and not yet written to the socket): a message that would exceed it is refused with
 * CAIRN_ENET_QUEUE_FULL and counted, so a slow or stalled peer never makes the node buffer
 * without limit. Messages to one peer are delivered in order while the link stays up; nothing is
 * retransmitted after a link drops (the protocol above retries). A peer that sends a frame that
 * fails to decrypt, is larger than CAIRN_FRAME_MAX, or arrives before the handshake completes is
 * disconnected (and reconnected later with back-off).
 *
 * Threads: everything runs on cfg.loop's thread; callbacks are called from it, never re-entrantly
 * from cairn_net_send. Ownership: cfg is copied (peers, keys and chain id included); msg passed to
 * on_message is valid only during the callback.
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
    char host[CAIRN_CONFIG_HOST_MAX]; /* IPv4 literal or DNS name; "" = never dial this peer */
    uint16_t port;
    uint8_t noise_pub[32]; /* the validator's genesis noise_key */
} cairn_net_peer;

/* One message from authenticated validator `peer`; msg is valid during the call only. */
typedef void (*cairn_net_message_cb)(void *ctx, uint32_t peer, const uint8_t *msg, size_t len);
/* A link to `peer` came up (up = 1) or went down (up = 0). */
typedef void (*cairn_net_link_cb)(void *ctx, uint32_t peer, int up);

typedef struct cairn_net_config {
    uv_loop_t *loop;
    const char *chain_id; /* bound into the handshake prologue */
    uint32_t self;        /* our index in peers */
    size_t n_peers;       /* 1..CAIRN_NET_MAX_PEERS, self included */
    const cairn_net_peer *peers;
    const uint8_t *noise_private; /* 32 bytes: our X25519 static private key */
    const char *listen_host;      /* IPv4 literal, e.g. "127.0.0.1" or "0.0.0.0" */
    uint16_t listen_port;         /* 0 = ephemeral (cairn_net_port tells) */
    size_t max_queue_bytes;       /* per peer; 0 = default 64 MiB */
    uint32_t reconnect_min_ms;    /* 0 = default 100 */
    uint32_t reconnect_max_ms;    /* 0 = default 5000 (back-off doubles up to this cap) */
    uint32_t handshake_timeout_ms; /* 0 = default 5000: an unfinished handshake is dropped */
    cairn_net_message_cb on_message;
    cairn_net_link_cb on_link; /* may be NULL */
    void *ctx;
} cairn_net_config;

typedef struct cairn_net_stats {
    uint64_t frames_in, frames_out;
    uint64_t bytes_in, bytes_out; /* plaintext */
    uint64_t handshakes_ok, handshakes_failed;
    uint64_t queue_full_drops; /* sends refused with CAIRN_ENET_QUEUE_FULL */
    uint64_t bad_frames;       /* links dropped for an oversize or undecryptable frame */
    uint64_t duplicate_links;  /* links closed by the duplicate rule */
    uint32_t peers_up;
} cairn_net_stats;

/* Binds the listener and starts dialling. CAIRN_EINVAL for a bad config, CAIRN_ECONNECT when the
 * listen address cannot be bound. */
CAIRN_MUST_CHECK int cairn_net_start(cairn_net **out, const cairn_net_config *cfg);

/* The bound listen port. */
uint16_t cairn_net_port(const cairn_net *net);

/* Queues a copy of msg for peer. CAIRN_ENET_PEER (index out of range or self), CAIRN_ENET_DOWN
 * (no authenticated link), CAIRN_ENET_QUEUE_FULL, CAIRN_EFRAME_TOO_BIG, CAIRN_ENOMEM. */
CAIRN_MUST_CHECK int cairn_net_send(cairn_net *net, uint32_t peer, const uint8_t *msg, size_t len);

/* 1 if an authenticated link to peer is up. */
int cairn_net_is_up(const cairn_net *net, uint32_t peer);

/* Plaintext bytes queued for peer and not yet written. */
size_t cairn_net_queued_bytes(const cairn_net *net, uint32_t peer);

/* Closes the link to peer (e.g. it sent a message that does not decode); it is re-dialled later
 * with back-off. */
void cairn_net_drop(cairn_net *net, uint32_t peer);

void cairn_net_get_stats(const cairn_net *net, cairn_net_stats *out);

/* Closes every link, the listener and the timers, runs cfg.loop with UV_RUN_NOWAIT until their
 * own close callbacks have run (other handles on the loop are left alone), and frees net. NULL is
 * a no-op. */
void cairn_net_close(cairn_net *net);

#endif
