/*
 * evil_peer — a Byzantine validator for tests/cluster/test_cluster_byzantine.sh. It holds the keys
 * of one validator of a devnet (its home: config.json, validator.key, noise.key) and attacks the
 * other validators at their genesis addresses.
 *
 *   evil_peer raw HOME          (a) raw TCP, once per honest validator: garbage instead of the
 *                               handshake; an oversize frame header instead of the handshake; a
 *                               valid Noise IK handshake followed by an undecryptable frame; a
 *                               valid handshake and hello followed by an oversize frame header.
 *                               Each connection must be closed by the node within 8 s (exit 1
 *                               otherwise).
 *   evil_peer net HOME SECONDS  (b) over authenticated links (node/net.h, as the validator):
 *                               votes with invalid signatures, replays of messages received from
 *                               other validators, malformed envelopes (garbage, truncated and
 *                               bit-flipped copies of real messages), and, for the future rounds
 *                               this validator leads by round robin, two different proposals each
 *                               signed with its key (plus two different votes for one round), and
 *                               its own validly signed timeouts for the 16 rounds R - 17 .. R - 32
 *                               (stale rounds: a lagging or reconnecting validator re-sending its
 *                               stuck timeout looks the same). It votes for the honest proposals
 *                               it receives, so leader reputation keeps giving it rounds, and
 *                               never proposes in them: they end by timeout certificates.
 *                               Exit 1 if no proposal was received to build the attacks on.
 *
 * Future rounds: the core stores a proposal as the round's first proposal only if its proposer
 * leads the round (consensus/core.c on_proposal); a proposal whose QC is older than the previous
 * round is led by round robin (cairn_core_leader), so a proposal for a round >= R + 3 (R: the
 * round of the latest honest proposal seen, whose QC it carries) with round % n == self is
 * recorded, and a second, different one for that round is equivocation evidence on every honest
 * node that receives both. Neither is voted on (the round is ahead), so liveness is untouched.
 *
 * Output: one line per phase with what was sent ("# evil: ..."). Never used outside tests.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "consensus/core.h"
#include "consensus/wire.h"
#include "ledger/bytes.h"
#include "ledger/canon.h"
#include "ledger/genesis.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "node/config.h"
#include "node/frame.h"
#include "node/net.h"
#include "node/noise.h"

#define RING         64   /* received core messages kept for replays */
#define TICK_MS      100u /* one round of invalid votes, replays and malformed envelopes */
#define CLOSE_WAIT_S 8    /* the node must close a bad raw connection within this */

typedef struct stored_msg {
    uint8_t *p;
    size_t len;
    uint32_t from;
} stored_msg;

typedef struct evil {
    cairn_config cfg;
    cairn_genesis *g;
    cairn_sig_ctx *sig;
    cairn_keypair key;
    uint8_t noise_priv[32];
    uint32_t self, n;
    cairn_net_peer peers[CAIRN_NET_MAX_PEERS];
    cairn_net *net;
    uv_loop_t loop;
    uv_timer_t tick, stop;
    /* the latest proposal received (its block QC and the QC's signatures are reused) */
    int have_prop;
    cairn_msg *prop;
    cairn_wire_sigs *prop_sigs;
    uint64_t last_equiv_round;
    stored_msg ring[RING];
    size_t ring_n, ring_next;
    uint64_t msgs_in, bad_sig_votes, replays, malformed, equiv_pairs, vote_pairs, stale_timeouts;
    uint64_t send_errors;
} evil;

/* ---- keys and addresses ---- */

static int load_noise_key(const char *path, uint8_t priv[32], const uint8_t want_pub[32])
{
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    if (!o) return CAIRN_EKEYFILE;
    const char *p = json_string_value(json_object_get(o, "private"));
    int err = p && cairn_hex_decode_exact(priv, 32, p) == 0 ? 0 : CAIRN_EKEYFILE;
    json_decref(o);
    uint8_t pub[32];
    if (!err && (crypto_scalarmult_base(pub, priv) != 0 || memcmp(pub, want_pub, 32) != 0))
        err = CAIRN_EKEYFILE;
    return err;
}

static int parse_hostport(const cairn_str *a, cairn_net_peer *p)
{
    const char *colon = strrchr(a->s, ':');
    if (!colon || colon == a->s || (size_t)(colon - a->s) >= sizeof p->host) return CAIRN_EGENESIS;
    memcpy(p->host, a->s, (size_t)(colon - a->s));
    p->host[colon - a->s] = 0;
    long port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535) return CAIRN_EGENESIS;
    p->port = (uint16_t)port;
    return 0;
}

static int evil_open(evil *e, const char *home)
{
    cairn_config_error cerr;
    char msg[256] = "";
    int err = cairn_config_load(&e->cfg, home, &cerr);
    if (err) {
        fprintf(stderr, "evil_peer: %s/config.json: %s\n", home, cerr.msg);
        return err;
    }
    if (!(e->g = calloc(1, sizeof *e->g))) return CAIRN_ENOMEM;
    if ((err = cairn_genesis_load(e->g, e->cfg.genesis, msg, sizeof msg))) {
        fprintf(stderr, "evil_peer: %s: %s\n", e->cfg.genesis, msg);
        return err;
    }
    if ((err = cairn_sig_ctx_new(&e->sig))) return err;
    if ((err = cairn_keyfile_load(e->cfg.validator_key, e->sig, &e->key))) {
        fprintf(stderr, "evil_peer: %s: %s\n", e->cfg.validator_key, cairn_strerror(err));
        return err;
    }
    e->n = (uint32_t)e->g->n_validators;
    e->self = UINT32_MAX;
    for (uint32_t i = 0; i < e->n; i++) {
        const cairn_validator *v = &e->g->validators[i];
        if (v->key.len == 32 && memcmp(v->key.key, e->key.pub, 32) == 0) e->self = i;
        memcpy(e->peers[i].noise_pub, v->noise_key, 32);
        if ((err = parse_hostport(&v->address, &e->peers[i]))) {
            fprintf(stderr, "evil_peer: validator %u: bad address\n", i);
            return err;
        }
    }
    if (e->self == UINT32_MAX || e->n > CAIRN_NET_MAX_PEERS) {
        fprintf(stderr, "evil_peer: %s is not a validator key of the genesis\n",
                e->cfg.validator_key);
        return CAIRN_EGENESIS;
    }
    if ((err = load_noise_key(e->cfg.noise_key, e->noise_priv,
                              e->g->validators[e->self].noise_key))) {
        fprintf(stderr, "evil_peer: %s: not this validator's noise key\n", e->cfg.noise_key);
        return err;
    }
    return 0;
}

static void evil_close(evil *e)
{
    for (size_t i = 0; i < RING; i++) free(e->ring[i].p);
    free(e->prop);
    free(e->prop_sigs);
    cairn_keypair_wipe(&e->key);
    sodium_memzero(e->noise_priv, sizeof e->noise_priv);
    cairn_sig_ctx_free(e->sig);
    free(e->g);
}

static size_t prologue(const evil *e, uint8_t *out, size_t cap)
{
    size_t a = strlen(CAIRN_NOISE_PROLOGUE_PREFIX), b = strlen(e->g->chain_id);
    if (a + b > cap) return 0;
    memcpy(out, CAIRN_NOISE_PROLOGUE_PREFIX, a);
    memcpy(out + a, e->g->chain_id, b);
    return a + b;
}

/* ---- (a) raw connections ---- */

static int tcp_dial(const cairn_net_peer *p)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(p->port);
    if (inet_pton(AF_INET, p->host, &sa.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {.tv_sec = CLOSE_WAIT_S};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

static int recv_all(int fd, uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t k = recv(fd, p, len, 0);
        if (k <= 0) return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* 1 if the node closes the connection (EOF or reset) within CLOSE_WAIT_S; whatever it sends
 * before (nothing, normally) is discarded. */
static int closed_by_peer(int fd)
{
    uint8_t buf[4096];
    for (;;) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k == 0) return 1;
        if (k < 0) return errno == ECONNRESET || errno == EPIPE;
    }
}

/* Runs a Noise IK handshake as the initiator over fd; *t gets the transport keys. */
static int raw_handshake(const evil *e, int fd, uint32_t to, cairn_noise_transport *t)
{
    uint8_t pro[128], buf[2 + 256], payload[256];
    size_t plen = prologue(e, pro, sizeof pro), n = 0;
    cairn_noise_handshake hs;
    int err =
        cairn_noise_validator_init(&hs, 1, e->noise_priv, e->peers[to].noise_pub, pro, plen, NULL);
    if (!err) err = cairn_noise_write_message(&hs, buf + 2, 256, &n, NULL, 0);
    if (err) return err;
    buf[0] = (uint8_t)(n >> 8);
    buf[1] = (uint8_t)n;
    if (send_all(fd, buf, n + 2) || recv_all(fd, buf, 2)) return CAIRN_ECONNECT;
    n = (size_t)buf[0] << 8 | buf[1];
    if (n == 0 || n > 256 || recv_all(fd, buf + 2, n)) return CAIRN_ECONNECT;
    size_t got = 0;
    if ((err = cairn_noise_read_message(&hs, payload, sizeof payload, &got, buf + 2, n)))
        return err;
    err = cairn_noise_split(&hs, t);
    cairn_noise_handshake_wipe(&hs);
    return err;
}

enum { RAW_GARBAGE, RAW_OVERSIZE_BEFORE, RAW_BAD_FRAME_AFTER, RAW_OVERSIZE_AFTER, RAW_CASES };
static const char *const raw_names[RAW_CASES] = {
    "garbage instead of the handshake", "oversize frame header before the handshake",
    "undecryptable frame after the handshake", "oversize frame header after handshake and hello"};

/* One raw attack on validator `to`: 0 if the node closed the connection as it must. */
static int raw_case(const evil *e, uint32_t to, int which)
{
    int fd = tcp_dial(&e->peers[to]);
    if (fd < 0) {
        fprintf(stderr, "evil_peer: cannot connect to validator %u (%s:%u)\n", to,
                e->peers[to].host, e->peers[to].port);
        return -1;
    }
    uint8_t buf[512];
    int err = 0;
    cairn_noise_transport t;
    memset(&t, 0, sizeof t);
    switch (which) {
    case RAW_GARBAGE: /* a plausible message-1 length (96), then 96 random bytes */
        buf[0] = 0;
        buf[1] = 96;
        randombytes_buf(buf + 2, 96);
        err = send_all(fd, buf, 98);
        break;
    case RAW_OVERSIZE_BEFORE: /* a 4 GiB frame header where the handshake belongs */
        memset(buf, 0xff, 4);
        err = send_all(fd, buf, 4);
        break;
    case RAW_BAD_FRAME_AFTER: /* handshake, then a frame of random bytes instead of the hello */
        err = raw_handshake(e, fd, to, &t);
        if (!err) {
            cairn_put_u32be(buf, 100);
            randombytes_buf(buf + 4, 100);
            err = send_all(fd, buf, 104);
        }
        break;
    case RAW_OVERSIZE_AFTER: { /* handshake, hello (the link is up), then L = 4 MiB + 1 */
        size_t n = 0;
        err = raw_handshake(e, fd, to, &t);
        if (!err) err = cairn_frame_seal(&t, buf, sizeof buf, &n, NULL, 0);
        if (!err) err = send_all(fd, buf, n);
        if (!err) {
            cairn_put_u32be(buf, CAIRN_FRAME_MAX + 1);
            err = send_all(fd, buf, 4);
        }
        break;
    }
    default:
        err = -1;
    }
    int closed = closed_by_peer(fd);
    close(fd);
    cairn_noise_transport_wipe(&t);
    printf("# evil: validator %u, %s: %s\n", to, raw_names[which],
           err      ? "could not send"
           : closed ? "connection closed by the node"
                    : "NOT closed");
    return err || !closed ? -1 : 0;
}

static int run_raw(evil *e)
{
    int failed = 0;
    for (uint32_t to = 0; to < e->n; to++) {
        if (to == e->self) continue;
        for (int k = 0; k < RAW_CASES; k++) failed |= raw_case(e, to, k) != 0;
    }
    return failed ? 1 : 0;
}

/* ---- (b) authenticated links ---- */

static void send_to_honest(evil *e, const uint8_t *p, size_t len)
{
    for (uint32_t i = 0; i < e->n; i++) {
        if (i == e->self) continue;
        int err = cairn_net_send(e->net, i, p, len);
        if (err) e->send_errors++;
    }
}

/* docs/formats.md "Consensus messages": TAG || str8(chain_id) || u64 epoch || u64 round || id
 * (votes, proposals) or u64 high_qc_round (timeouts: id == NULL). */
static int sign_consensus(const evil *e, const char *tag, uint64_t epoch, uint64_t round,
                          const uint8_t id[32], uint8_t sig[64])
{
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_buf_tag(&b, tag);
    cairn_buf_str8(&b, e->g->chain_id, strlen(e->g->chain_id));
    cairn_buf_u64(&b, epoch);
    cairn_buf_u64(&b, round);
    if (id)
        cairn_buf_put(&b, id, 32);
    else
        cairn_buf_u64(&b, 0);
    int err = cairn_buf_finish(&b);
    if (!err) err = cairn_keypair_sign(&e->key, b.p, b.len, sig);
    cairn_buf_free(&b);
    return err;
}

static void send_msg(evil *e, const cairn_msg *m, const cairn_wire_sigs *s)
{
    cairn_buf b = CAIRN_BUF_INIT;
    int err = cairn_wire_encode_msg(m, s, &b);
    if (!err) err = cairn_buf_finish(&b);
    if (!err)
        send_to_honest(e, b.p, b.len);
    else
        e->send_errors++;
    cairn_buf_free(&b);
}

/* Two different blocks for one future round this validator leads by round robin, both signed;
 * then two different votes for the round after it. */
static void equivocate(evil *e)
{
    const cairn_block *seen = &e->prop->u.proposal.block;
    uint64_t r = seen->round + 3;
    while (r % e->n != e->self) r++;
    if (r <= e->last_equiv_round) return;
    e->last_equiv_round = r;
    cairn_msg *m = calloc(1, sizeof *m);
    cairn_wire_sigs *s = calloc(1, sizeof *s);
    if (!m || !s) goto out;
    for (int k = 0; k < 2; k++) {
        memset(m, 0, sizeof *m);
        m->type = CAIRN_MSG_PROPOSAL;
        m->sender = e->self;
        cairn_block *b = &m->u.proposal.block;
        b->epoch = seen->epoch;
        b->round = r;
        b->qc = seen->qc; /* a genuine QC, with its genuine signatures */
        b->height = b->qc.height + 1;
        b->proposer = e->self;
        memcpy(b->parent_id, b->qc.block_id, 32);
        randombytes_buf(b->payload, 32); /* the two blocks differ here */
        cairn_block_compute_id(b, b->id);
        memset(s, 0, sizeof *s);
        s->has_msg = 1;
        s->qc = e->prop_sigs->qc;
        if (sign_consensus(e, "CAIRN-PROPOSAL-V1", b->epoch, r, b->id, s->msg)) goto out;
        send_msg(e, m, s);
    }
    e->equiv_pairs++;
    for (int k = 0; k < 2; k++) {
        memset(m, 0, sizeof *m);
        m->type = CAIRN_MSG_VOTE;
        m->sender = e->self;
        cairn_vote *v = &m->u.vote;
        v->epoch = seen->epoch;
        v->round = r + 1;
        v->height = seen->height + 1;
        randombytes_buf(v->block_id, 32);
        memset(s, 0, sizeof *s);
        s->has_msg = 1;
        if (sign_consensus(e, "CAIRN-VOTE-V1", v->epoch, v->round, v->block_id, s->msg)) goto out;
        send_msg(e, m, s);
    }
    e->vote_pairs++;
out:
    free(m);
    free(s);
}

/* A timeout of ours, validly signed, for a round long over (high QC: none, round 0). The core
 * refuses it; what matters is what the node does with its signature before that. */
static void stale_timeout(evil *e, uint64_t epoch, uint64_t round)
{
    cairn_msg *m = calloc(1, sizeof *m);
    cairn_wire_sigs *s = calloc(1, sizeof *s);
    if (m && s) {
        m->type = CAIRN_MSG_TIMEOUT;
        m->sender = e->self;
        m->u.timeout.epoch = epoch;
        m->u.timeout.round = round;
        m->u.timeout.high_qc.epoch = epoch;
        s->has_msg = 1;
        if (sign_consensus(e, "CAIRN-TIMEOUT-V1", epoch, round, NULL, s->msg) == 0) {
            send_msg(e, m, s);
            e->stale_timeouts++;
        }
    }
    free(m);
    free(s);
}

/* A genuine vote for an honest proposal: it puts this validator in QCs, so leader reputation
 * keeps giving it rounds, which it never proposes in (they end by timeout certificates, the
 * rounds the stale timeouts aim at). */
static void vote_for(evil *e, const cairn_block *b)
{
    cairn_msg *m = calloc(1, sizeof *m);
    cairn_wire_sigs *s = calloc(1, sizeof *s);
    if (m && s) {
        m->type = CAIRN_MSG_VOTE;
        m->sender = e->self;
        m->u.vote.epoch = b->epoch;
        m->u.vote.round = b->round;
        m->u.vote.height = b->height;
        memcpy(m->u.vote.block_id, b->id, 32);
        s->has_msg = 1;
        if (sign_consensus(e, "CAIRN-VOTE-V1", b->epoch, b->round, b->id, s->msg) == 0)
            send_msg(e, m, s);
    }
    free(m);
    free(s);
}

static void on_message(void *ctx, uint32_t peer, const uint8_t *p, size_t len)
{
    evil *e = ctx;
    e->msgs_in++;
    cairn_msg *m = malloc(sizeof *m);
    cairn_wire_sigs *s = malloc(sizeof *s);
    if (m && s && cairn_wire_decode_msg(p, len, m, s) == 0 && m->type != CAIRN_MSG_SYNC_REQUEST) {
        stored_msg *st = &e->ring[e->ring_next];
        uint8_t *copy = malloc(len);
        if (copy) {
            memcpy(copy, p, len);
            free(st->p);
            *st = (stored_msg){copy, len, peer};
            e->ring_next = (e->ring_next + 1) % RING;
            if (e->ring_n < RING) e->ring_n++;
        }
        if (m->type == CAIRN_MSG_PROPOSAL &&
            (!e->have_prop || m->u.proposal.block.round > e->prop->u.proposal.block.round)) {
            free(e->prop);
            free(e->prop_sigs);
            e->prop = m;
            e->prop_sigs = s;
            e->have_prop = 1;
            m = NULL;
            s = NULL;
            vote_for(e, &e->prop->u.proposal.block);
            equivocate(e);
        }
    }
    free(m);
    free(s);
}

/* One round of the cheap attacks on every honest validator. */
static void on_tick(uv_timer_t *t)
{
    evil *e = t->data;
    if (!e->have_prop) return;
    const cairn_block *seen = &e->prop->u.proposal.block;
    /* A vote for the latest block, with a random signature. */
    cairn_msg *m = calloc(1, sizeof *m);
    cairn_wire_sigs *s = calloc(1, sizeof *s);
    if (m && s) {
        m->type = CAIRN_MSG_VOTE;
        m->sender = e->self;
        m->u.vote.epoch = seen->epoch;
        m->u.vote.round = seen->round;
        m->u.vote.height = seen->height;
        memcpy(m->u.vote.block_id, seen->id, 32);
        s->has_msg = 1;
        randombytes_buf(s->msg, 64);
        send_msg(e, m, s);
        e->bad_sig_votes++;
    }
    free(m);
    free(s);
    /* Stale timeouts: one for each of the 16 rounds R - 17 .. R - 32 (every residue mod 16). */
    for (uint64_t k = 17; seen->round > 32 && k <= 32; k++)
        stale_timeout(e, seen->epoch, seen->round - k);
    /* A replay: a message another validator sent us, to everyone (its sender is not us). */
    if (e->ring_n) {
        const stored_msg *st = &e->ring[randombytes_uniform((uint32_t)e->ring_n)];
        send_to_honest(e, st->p, st->len);
        e->replays++;
    }
    /* Malformed envelopes: garbage behind a proposal tag, a truncated and a bit-flipped copy. */
    uint8_t junk[300];
    randombytes_buf(junk, sizeof junk);
    junk[0] = 0x0a;
    send_to_honest(e, junk, sizeof junk);
    e->malformed++;
    if (e->ring_n) {
        const stored_msg *st = &e->ring[randombytes_uniform((uint32_t)e->ring_n)];
        uint8_t *c = malloc(st->len);
        if (c && st->len > 8) {
            memcpy(c, st->p, st->len);
            send_to_honest(e, c, st->len / 2);
            c[st->len / 2] ^= 0x40;
            send_to_honest(e, c, st->len);
            e->malformed += 2;
        }
        free(c);
    }
}

static void on_stop(uv_timer_t *t)
{
    evil *e = t->data;
    uv_stop(&e->loop);
}

static int run_net(evil *e, unsigned seconds)
{
    uv_loop_init(&e->loop);
    cairn_net_config nc = {
        .loop = &e->loop,
        .chain_id = e->g->chain_id,
        .self = e->self,
        .n_peers = e->n,
        .peers = e->peers,
        .noise_private = e->noise_priv,
        .listen_host = e->cfg.p2p_listen.host,
        .listen_port = e->cfg.p2p_listen.port,
        .reconnect_max_ms = 500,
        .on_message = on_message,
        .ctx = e,
    };
    int err = cairn_net_start(&e->net, &nc);
    if (err) {
        fprintf(stderr, "evil_peer: cannot start the peer links: %s\n", cairn_strerror(err));
        uv_loop_close(&e->loop);
        return 1;
    }
    uv_timer_init(&e->loop, &e->tick);
    uv_timer_init(&e->loop, &e->stop);
    e->tick.data = e->stop.data = e;
    uv_timer_start(&e->tick, on_tick, TICK_MS, TICK_MS);
    uv_timer_start(&e->stop, on_stop, (uint64_t)seconds * 1000u, 0);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    cairn_net_stats ns;
    cairn_net_get_stats(e->net, &ns);
    cairn_net_close(e->net);
    uv_close((uv_handle_t *)&e->tick, NULL);
    uv_close((uv_handle_t *)&e->stop, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&e->loop);
    printf("# evil: %llu messages received (%u links up at the end); sent %llu invalid-signature "
           "votes, %llu replays, %llu malformed envelopes, %llu equivocating proposal pairs "
           "(last round %llu), %llu double votes, %llu stale timeouts; %llu sends failed\n",
           (unsigned long long)e->msgs_in, ns.peers_up, (unsigned long long)e->bad_sig_votes,
           (unsigned long long)e->replays, (unsigned long long)e->malformed,
           (unsigned long long)e->equiv_pairs, (unsigned long long)e->last_equiv_round,
           (unsigned long long)e->vote_pairs, (unsigned long long)e->stale_timeouts,
           (unsigned long long)e->send_errors);
    if (!e->have_prop || e->equiv_pairs == 0) {
        fprintf(stderr, "evil_peer: no proposal received: nothing to equivocate on\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "raw") != 0 && strcmp(argv[1], "net") != 0) ||
        (strcmp(argv[1], "net") == 0 && argc != 4)) {
        fprintf(stderr, "usage: evil_peer raw HOME | evil_peer net HOME SECONDS\n");
        return 2;
    }
    if (sodium_init() < 0) return 1;
    signal(SIGPIPE, SIG_IGN); /* as cairnd: a closed link is an EPIPE, not the end of us */
    setvbuf(stdout, NULL, _IOLBF, 0);
    evil *e = calloc(1, sizeof *e);
    if (!e) return 1;
    int rc = evil_open(e, argv[2]) ? 1 : 0;
    if (!rc) rc = strcmp(argv[1], "raw") == 0 ? run_raw(e) : run_net(e, (unsigned)atoi(argv[3]));
    evil_close(e);
    free(e);
    return rc;
}
