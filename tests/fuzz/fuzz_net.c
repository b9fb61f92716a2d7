/* The peer-link responder of node/net.c fed arbitrary bytes through a real socket (one end of a
 * socketpair adopted as an inbound connection): the u16 length prefix of the handshake messages,
 * Noise message 1, and, past a genuine message 1, the frames that must start with the hello. No
 * input may bring a link up or deliver a message (that needs a private key of the set and the
 * responder's fresh ephemeral), every connection must close at EOF, and nothing may leak.
 * Input: byte 0 bit 0 = prefix the rest with a genuine message 1 from validator 1; then the bytes
 * the "initiator" sends before closing its side. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sodium.h>
#include <uv.h>

#include "node/net.h"
#include "node/net_testing.h"
#include "node/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static uv_loop_t loop;
static cairn_net *net;
static uint64_t delivered, ups;
static uint8_t msg1[2 + 96];

static void on_message(void *ctx, uint32_t peer, const uint8_t *msg, size_t len)
{
    (void)ctx;
    (void)peer;
    (void)msg;
    (void)len;
    delivered++;
}

static void on_link(void *ctx, uint32_t peer, int up)
{
    (void)ctx;
    (void)peer;
    if (up) ups++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char chain[] = "fuzz-chain";
    uint8_t priv[2][32], eph[32], pro[64];
    cairn_net_peer peers[2];
    memset(peers, 0, sizeof peers); /* no host: never dialled */
    if (sodium_init() < 0 || uv_loop_init(&loop) != 0) abort();
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 32; k++) priv[i][k] = (uint8_t)(7 * i + k + 1);
        if (crypto_scalarmult_base(peers[i].noise_pub, priv[i]) != 0) abort();
    }
    for (int k = 0; k < 32; k++) eph[k] = (uint8_t)(0x55 ^ k);
    cairn_net_config cfg = {
        .loop = &loop,
        .chain_id = chain,
        .self = 0,
        .n_peers = 2,
        .peers = peers,
        .noise_private = priv[0],
        .listen_host = "127.0.0.1",
        .on_message = on_message,
        .on_link = on_link,
    };
    if (cairn_net_start(&net, &cfg) != 0) abort();
    /* A genuine message 1 from validator 1 (fixed ephemeral: the responder cannot tell a replay).
     */
    size_t plen = strlen(CAIRN_NOISE_PROLOGUE_PREFIX), n = 0;
    memcpy(pro, CAIRN_NOISE_PROLOGUE_PREFIX, plen);
    memcpy(pro + plen, chain, strlen(chain));
    plen += strlen(chain);
    cairn_noise_handshake hs;
    if (cairn_noise_validator_init(&hs, 1, priv[1], peers[0].noise_pub, pro, plen, eph) != 0 ||
        cairn_noise_write_message(&hs, msg1 + 2, sizeof msg1 - 2, &n, NULL, 0) != 0 || n != 96)
        abort();
    msg1[0] = 0;
    msg1[1] = 96;
    cairn_noise_handshake_wipe(&hs);
    return 0;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) abort(); /* inputs are far below the socket buffer */
        p += w;
        n -= (size_t)w;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) return 0;
    int genuine = data[0] & 1;
    data++;
    size--;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) abort();
    if (genuine) write_all(sv[1], msg1, sizeof msg1);
    write_all(sv[1], data, size);
    if (shutdown(sv[1], SHUT_WR) != 0) abort();
    if (cairn_net_testing_adopt(net, sv[0]) != 0) abort();
    /* Every connection ends at EOF at the latest; nothing else is on the loop. */
    for (int i = 0; cairn_net_testing_conns(net) > 0; i++) {
        if (i > 100000) abort();
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    close(sv[1]);
    cairn_net_stats s;
    cairn_net_get_stats(net, &s);
    if (delivered != 0 || ups != 0 || s.handshakes_ok != 0 || s.peers_up != 0 || s.frames_in != 0)
        abort();
    return 0;
}
