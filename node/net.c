/*
 * net.c — validator peer links over libuv TCP (contract in net.h, design in docs/transport.md).
 *
 * A connection (net_conn) goes through these states:
 *
 *   initiator: CONNECTING -> HANDSHAKE (msg 1 sent, waiting for msg 2) -> ESTABLISHED
 *   responder: HANDSHAKE (waiting for msg 1) -> HELLO (msg 2 sent) -> ESTABLISHED
 *   any:       -> RETIRING (lost the duplicate rule: flush, shut down, wait for EOF) -> CLOSING
 *
 * Handshake messages travel as u16 big-endian length || Noise message. The initiator sends an
 * empty "hello" frame right after the split; the responder counts the link as established only
 * once that first frame authenticates (a replayed message 1 therefore never replaces a live link).
 * A peer (net_peer) has at most one ESTABLISHED connection, `active`, and one queue of plaintext
 * messages that are sealed when written, one batch (one uv_write) in flight per connection.
 */
#include "node/net.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/frame.h"
#include "node/net_testing.h"
#include "node/noise.h"

#define NET_DEFAULT_QUEUE_BYTES   ((size_t)64 << 20)
#define NET_DEFAULT_RECONNECT_MIN 100u  /* ms */
#define NET_DEFAULT_RECONNECT_MAX 5000u /* ms */
#define NET_DEFAULT_HANDSHAKE_MS  5000u
#define NET_HS_LEN_BYTES          2u
#define NET_HS_MSG_MAX            256u /* IK messages with empty payloads are 96 and 48 bytes */
#define NET_READ_BUF              (64u * 1024u)
#define NET_WRITE_BATCH           (256u * 1024u) /* sealed bytes per uv_write (>= one frame) */
#define NET_KEEPALIVE_S           30u
#define NET_PENDING_IN_BASE       64u /* inbound connections not yet established: 64 + 2n */
#define NET_BACKLOG               128

enum conn_state {
    C_CONNECTING = 1,
    C_HANDSHAKE,
    C_HELLO,
    C_ESTABLISHED,
    C_RETIRING,
    C_CLOSING,
};

typedef struct net_msg {
    struct net_msg *next;
    size_t len;
    uint8_t data[];
} net_msg;

typedef struct net_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* handshake deadline, retire deadline, deferred close */
    uv_connect_t connect_req;
    uv_write_t hs_req;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    cairn_net *net;
    struct net_conn *prev, *next;
    int state;
    int initiator;
    int peer; /* -1 until the responder has read message 1 */
    int open_handles;
    int tcp_open;
    int writing;      /* a frame batch is in flight (write_req) */
    int hello_due;    /* initiator: the hello frame is still to be written */
    int corrupt_next; /* test hook */
    uint8_t *wbuf;
    size_t wcost;   /* queue bytes of the batch in flight, released by its callback */
    size_t wframes; /* message frames in it */
    size_t wbytes;  /* plaintext bytes in it */
    cairn_noise_handshake hs;
    cairn_noise_transport tr;
    cairn_frame_decoder dec;
    size_t hs_have;
    uint8_t hs_in[NET_HS_LEN_BYTES + NET_HS_MSG_MAX];
    uint8_t hs_out[NET_HS_LEN_BYTES + NET_HS_MSG_MAX];
    int pending_in; /* counted in net->pending_in */
} net_conn;

/* A DNS lookup in flight; peer is NULL once cairn_net_close has orphaned it (the callback then
 * only frees it). */
typedef struct net_resolve {
    uv_getaddrinfo_t req;
    struct net_peer *peer;
} net_resolve;

typedef struct net_peer {
    cairn_net *net;
    cairn_net_peer addr;
    net_conn *active;  /* the ESTABLISHED link, NULL when down */
    net_conn *dialing; /* our outbound connection before it is established */
    net_resolve *resolving;
    net_msg *head, *tail;
    net_msg *urgent_tail; /* last urgent message: urgent ones sit at the front, in order */
    size_t queued;        /* queue cost of unwritten messages and of batches in flight */
    uv_timer_t timer;
    uint32_t backoff_ms;
    uint32_t index;
} net_peer;

struct cairn_net {
    uv_loop_t *loop;
    uint32_t self;
    size_t n_peers;
    net_peer *peers;
    uint8_t (*keys)[CAIRN_NOISE_DH_LEN];
    uint8_t priv[CAIRN_NOISE_DH_LEN];
    uint8_t *prologue;
    size_t prologue_len;
    size_t max_queue;
    uint32_t rmin, rmax, hs_ms;
    cairn_net_message_cb on_message;
    cairn_net_link_cb on_link;
    void *ctx;
    uv_tcp_t listener;
    int listener_open;
    uint16_t port;
    net_conn *conns;
    size_t pending_in, pending_in_max; /* inbound connections not yet established */
    size_t open_handles;               /* handles whose close callback has not run yet */
    /* One read buffer for all sockets: on Unix libuv calls alloc_cb, read(2) and read_cb in one
     * go for one handle, and conn_consume finishes with the bytes before returning. */
    uint8_t rbuf[NET_READ_BUF];
    int closing;
    cairn_net_stats stats;
};

static void conn_close(net_conn *c);
static int conn_flush(net_conn *c);
static void peer_dial(net_peer *p);

/* What a message occupies in the queue: its frame on the wire (header, ciphertext, tags). */
static size_t msg_cost(size_t len)
{
    return CAIRN_FRAME_HEADER_LEN + cairn_frame_sealed_len(len);
}

static int initiator_index(const net_conn *c)
{
    return c->initiator ? (int)c->net->self : c->peer;
}

/* ---- handles and closing ---- */

static void handle_closed(uv_handle_t *h)
{
    cairn_net *net = h->data;
    net->open_handles--;
}

static void conn_free(net_conn *c)
{
    cairn_net *net = c->net;
    if (c->prev)
        c->prev->next = c->next;
    else
        net->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    cairn_frame_decoder_free(&c->dec);
    free(c->wbuf);
    cairn_noise_handshake_wipe(&c->hs);
    cairn_noise_transport_wipe(&c->tr);
    sodium_memzero(c->hs_in, sizeof c->hs_in);
    free(c);
}

static void conn_handle_closed(uv_handle_t *h)
{
    net_conn *c = h->data;
    c->net->open_handles--;
    if (--c->open_handles == 0) conn_free(c);
}

static void peer_clear_queue(net_peer *p)
{
    while (p->head) {
        net_msg *m = p->head;
        p->head = m->next;
        p->queued -= msg_cost(m->len);
        free(m);
    }
    p->tail = NULL;
    p->urgent_tail = NULL;
}

static void peer_schedule(net_peer *p);

/* The peer's established link is gone: it is down. */
static void peer_down(net_peer *p)
{
    cairn_net *net = p->net;
    p->active = NULL;
    peer_clear_queue(p);
    net->stats.peers_up--;
    if (net->closing) return;
    peer_schedule(p);
    if (net->on_link) net->on_link(net->ctx, p->index, 0);
}

static void timer_close_cb(uv_timer_t *t)
{
    conn_close(t->data);
}

/* Closes c now (idempotent). Down callbacks and reconnects follow from what c was. */
static void conn_close(net_conn *c)
{
    cairn_net *net = c->net;
    if (c->state == C_CLOSING) return;
    int was = c->state;
    c->state = C_CLOSING;
    if (c->pending_in) {
        c->pending_in = 0;
        net->pending_in--;
    }
    if (!net->closing && (was == C_HANDSHAKE || was == C_HELLO)) net->stats.handshakes_failed++;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    if (c->tcp_open) uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    if (c->peer < 0) return;
    net_peer *p = &net->peers[c->peer];
    if (p->dialing == c) {
        p->dialing = NULL;
        if (!p->active && !net->closing) peer_schedule(p);
    }
    if (p->active == c) peer_down(p);
}

/* Closes c from the next loop iteration (from cairn_net_send, which must not call back). */
static void conn_close_later(net_conn *c)
{
    if (c->state == C_CLOSING) return;
    uv_timer_start(&c->timer, timer_close_cb, 0, 0);
}

static net_conn *conn_new(cairn_net *net, int initiator, int peer)
{
    net_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->net = net;
    c->initiator = initiator;
    c->peer = peer;
    if (uv_tcp_init(net->loop, &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    uv_timer_init(net->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->tcp_open = 1;
    c->open_handles = 2;
    net->open_handles += 2;
    cairn_frame_decoder_init(&c->dec, CAIRN_FRAME_MAX);
    c->next = net->conns;
    if (net->conns) net->conns->prev = c;
    net->conns = c;
    return c;
}

/* ---- reconnect ---- */

static void peer_timer_cb(uv_timer_t *t)
{
    peer_dial(t->data);
}

static int key_is_zero(const uint8_t k[CAIRN_NOISE_DH_LEN])
{
    uint8_t acc = 0;
    for (size_t i = 0; i < CAIRN_NOISE_DH_LEN; i++) acc |= k[i];
    return acc == 0;
}

static int peer_dialable(const net_peer *p)
{
    return p->index != p->net->self && p->addr.host[0] != '\0' && p->addr.port != 0 &&
           !key_is_zero(p->addr.noise_pub);
}

/* Arms the reconnect timer with the current back-off (minus up to a quarter of jitter) and doubles
 * the back-off up to the cap. */
static void peer_schedule(net_peer *p)
{
    cairn_net *net = p->net;
    if (net->closing || !peer_dialable(p) || p->active || p->dialing || p->resolving) return;
    if (uv_is_active((uv_handle_t *)&p->timer)) return;
    uint32_t delay = p->backoff_ms - randombytes_uniform(p->backoff_ms / 4 + 1);
    uv_timer_start(&p->timer, peer_timer_cb, delay, 0);
    p->backoff_ms = p->backoff_ms > net->rmax / 2 ? net->rmax : p->backoff_ms * 2;
}

/* ---- writing ---- */

static void hs_write_cb(uv_write_t *req, int status)
{
    net_conn *c = req->data;
    if (status < 0 && c->state != C_CLOSING) conn_close(c);
}

/* Writes one handshake message (u16 length prefix) from c->hs. */
static int conn_write_hs(net_conn *c)
{
    size_t n = 0;
    int err = cairn_noise_write_message(&c->hs, c->hs_out + NET_HS_LEN_BYTES, NET_HS_MSG_MAX, &n,
                                        NULL, 0);
    if (err) return err;
    c->hs_out[0] = (uint8_t)(n >> 8);
    c->hs_out[1] = (uint8_t)n;
    uv_buf_t b = uv_buf_init((char *)c->hs_out, (unsigned)(n + NET_HS_LEN_BYTES));
    c->hs_req.data = c;
    if (uv_write(&c->hs_req, (uv_stream_t *)&c->tcp, &b, 1, hs_write_cb) != 0)
        return CAIRN_ECONNECT;
    return 0;
}

static void write_cb(uv_write_t *req, int status)
{
    net_conn *c = req->data;
    cairn_net *net = c->net;
    net_peer *p = &net->peers[c->peer];
    free(c->wbuf);
    c->wbuf = NULL;
    c->writing = 0;
    p->queued -= c->wcost;
    if (status == 0) {
        net->stats.frames_out += c->wframes;
        net->stats.bytes_out += c->wbytes;
    }
    c->wcost = c->wframes = c->wbytes = 0;
    if (c->state == C_CLOSING) return;
    if (status < 0 || conn_flush(c) != 0) conn_close(c);
}

/* Seals what is due on c into one buffer and writes it: the hello frame first (initiator), then,
 * if c is the peer's active link, queued messages up to NET_WRITE_BATCH bytes (at least one). */
static int conn_flush(net_conn *c)
{
    cairn_net *net = c->net;
    if (c->writing || c->state == C_CLOSING || c->peer < 0) return 0;
    net_peer *p = &net->peers[c->peer];
    int msgs = (c == p->active);
    size_t total = c->hello_due ? msg_cost(0) : 0, count = 0;
    for (net_msg *m = msgs ? p->head : NULL; m; m = m->next) {
        size_t cost = msg_cost(m->len);
        if (count > 0 && total + cost > NET_WRITE_BATCH) break;
        total += cost;
        count++;
    }
    if (total == 0) return 0;
    uint8_t *buf = malloc(total);
    if (!buf) return CAIRN_ENOMEM;
    size_t off = 0, n = 0;
    int err = 0;
    if (c->hello_due) {
        if ((err = cairn_frame_seal(&c->tr, buf, total, &n, NULL, 0))) goto fail;
        off += n;
        c->hello_due = 0;
    }
    c->wcost = c->wframes = c->wbytes = 0;
    for (size_t i = 0; i < count; i++) {
        net_msg *m = p->head;
        p->head = m->next;
        if (!p->head) p->tail = NULL;
        if (m == p->urgent_tail) p->urgent_tail = NULL;
        c->wcost += msg_cost(m->len);
        c->wframes++;
        c->wbytes += m->len;
        err = cairn_frame_seal(&c->tr, buf + off, total - off, &n, m->data, m->len);
        free(m);
        if (err) goto fail;
        off += n;
    }
    if (count > 0 && c->corrupt_next) {
        buf[off - 1] ^= 0x01; /* last tag byte of the last frame */
        c->corrupt_next = 0;
    }
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)off);
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
        err = CAIRN_ECONNECT;
        goto fail;
    }
    c->wbuf = buf;
    c->writing = 1;
    return 0;
fail:
    p->queued -= c->wcost;
    c->wcost = c->wframes = c->wbytes = 0;
    free(buf);
    return err;
}

/* ---- establishing and the duplicate rule ---- */

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    net_conn *c = req->data;
    if (status < 0 && c->state != C_CLOSING) conn_close(c);
}

/* c lost the duplicate rule: write what is due (the hello), half-close, keep reading (and
 * discarding) until the peer closes too, or until the handshake timeout. */
static void conn_retire(net_conn *c)
{
    cairn_net *net = c->net;
    net->stats.duplicate_links++;
    c->state = C_RETIRING;
    if (conn_flush(c) != 0) {
        conn_close(c);
        return;
    }
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, timer_close_cb, net->hs_ms, 0);
}

/* The handshake of c is complete (initiator: message 2 read; responder: hello authenticated). */
static void conn_established(net_conn *c)
{
    cairn_net *net = c->net;
    net_peer *p = &net->peers[c->peer];
    c->state = C_ESTABLISHED;
    uv_timer_stop(&c->timer);
    net->stats.handshakes_ok++;
    if (c->pending_in) {
        c->pending_in = 0;
        net->pending_in--;
    }
    p->backoff_ms = net->rmin;
    uv_timer_stop(&p->timer);
    if (p->dialing == c) p->dialing = NULL;
    if (c->initiator) c->hello_due = 1;

    net_conn *old = p->active;
    if (old) {
        /* Both ends keep the link initiated by the lower index; with the same initiator, the
         * newer link wins (the initiator restarted or re-dialled). */
        if (initiator_index(c) > initiator_index(old)) {
            conn_retire(c);
            return;
        }
        p->active = c; /* the queue moves to c with the peer; nothing is reported */
        conn_retire(old);
        if (conn_flush(c) != 0) conn_close(c);
        return;
    }
    p->active = c;
    net->stats.peers_up++;
    if (conn_flush(c) != 0) {
        conn_close(c);
        return;
    }
    if (net->on_link) net->on_link(net->ctx, p->index, 1);
}

/* ---- reading ---- */

/* Handles one complete handshake message in c->hs_in. */
static int conn_hs_message(net_conn *c, const uint8_t *msg, size_t len)
{
    cairn_net *net = c->net;
    uint8_t payload[NET_HS_MSG_MAX];
    size_t plen = 0;
    int err = cairn_noise_read_message(&c->hs, payload, sizeof payload, &plen, msg, len);
    if (err) return err;
    if (plen != 0) return CAIRN_ENOISE_MESSAGE; /* Cairn's handshake payloads are empty */
    if (c->initiator) {
        if ((err = cairn_noise_split(&c->hs, &c->tr))) return err;
        conn_established(c);
        return 0;
    }
    size_t idx = 0;
    if ((err = cairn_noise_check_remote_static(
             &c->hs, (const uint8_t(*)[CAIRN_NOISE_DH_LEN])net->keys, net->n_peers, &idx)))
        return err;
    if (idx == net->self || key_is_zero(net->keys[idx])) return CAIRN_ENOISE_PEER_KEY;
    c->peer = (int)idx;
    if ((err = conn_write_hs(c))) return err;
    if ((err = cairn_noise_split(&c->hs, &c->tr))) return err;
    c->state = C_HELLO;
    /* The first frame must be the empty hello: nothing larger is buffered before it. */
    cairn_frame_decoder_free(&c->dec);
    cairn_frame_decoder_init(&c->dec, cairn_frame_sealed_len(0));
    return 0;
}

/* Handles one frame body (owned by the caller). 0 or an error that closes the link. */
static int conn_frame(net_conn *c, const uint8_t *body, size_t len)
{
    cairn_net *net = c->net;
    uint8_t *pt = malloc(len ? len : 1);
    if (!pt) return CAIRN_ENOMEM;
    size_t n = 0;
    int err = cairn_frame_open(&c->tr, pt, len, &n, body, len);
    if (err) {
        free(pt);
        if (c->state == C_ESTABLISHED) net->stats.bad_frames++;
        return err;
    }
    if (c->state == C_HELLO) {
        free(pt);
        if (n != 0) return CAIRN_ENOISE_MESSAGE;
        cairn_frame_decoder_free(&c->dec); /* between frames: nothing partial is lost */
        cairn_frame_decoder_init(&c->dec, CAIRN_FRAME_MAX);
        conn_established(c);
        return 0;
    }
    net->stats.frames_in++;
    net->stats.bytes_in += n;
    net->on_message(net->ctx, (uint32_t)c->peer, pt, n);
    free(pt);
    return 0;
}

/* Consumes bytes read from c; stops when c closes or retires. */
static void conn_consume(net_conn *c, const uint8_t *in, size_t n)
{
    while (n > 0) {
        if (c->state == C_HANDSHAKE) {
            /* u16 big-endian length, then that many bytes of Noise message. */
            size_t want = NET_HS_LEN_BYTES, mlen = 0;
            if (c->hs_have >= NET_HS_LEN_BYTES) {
                mlen = ((size_t)c->hs_in[0] << 8) | c->hs_in[1];
                want += mlen;
            }
            size_t take = want - c->hs_have < n ? want - c->hs_have : n;
            memcpy(c->hs_in + c->hs_have, in, take);
            c->hs_have += take;
            in += take;
            n -= take;
            if (c->hs_have == NET_HS_LEN_BYTES && mlen == 0) {
                mlen = ((size_t)c->hs_in[0] << 8) | c->hs_in[1];
                if (mlen == 0 || mlen > NET_HS_MSG_MAX) goto fail; /* before buffering more */
            } else if (c->hs_have == want) {
                c->hs_have = 0;
                if (conn_hs_message(c, c->hs_in + NET_HS_LEN_BYTES, mlen)) goto fail;
            }
        } else if (c->state == C_HELLO || c->state == C_ESTABLISHED) {
            size_t used = 0;
            cairn_frame f = {0};
            int err = cairn_frame_decoder_feed(&c->dec, in, n, &used, &f);
            if (err) {
                if (c->state == C_ESTABLISHED) c->net->stats.bad_frames++;
                goto fail;
            }
            in += used;
            n -= used;
            if (f.complete) {
                err = conn_frame(c, f.data, f.len);
                free(f.data);
                if (err) goto fail;
            }
        } else {
            return; /* RETIRING (discard) or CLOSING */
        }
    }
    return;
fail:
    conn_close(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    net_conn *c = h->data;
    *buf = uv_buf_init((char *)c->net->rbuf, sizeof c->net->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    net_conn *c = s->data;
    (void)buf;
    if (c->state == C_CLOSING) return;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    conn_consume(c, c->net->rbuf, (size_t)nread);
}

static int conn_start_io(net_conn *c)
{
    (void)uv_tcp_nodelay(&c->tcp, 1);
    (void)uv_tcp_keepalive(&c->tcp, 1, NET_KEEPALIVE_S);
    return uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0 ? 0 : CAIRN_ECONNECT;
}

/* ---- dialling and accepting ---- */

static void connect_cb(uv_connect_t *req, int status)
{
    net_conn *c = req->data;
    if (c->state == C_CLOSING) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->state = C_HANDSHAKE;
    if (conn_start_io(c) != 0 || conn_write_hs(c) != 0) conn_close(c);
}

/* Opens an outbound connection to p at sa. */
static void peer_connect(net_peer *p, const struct sockaddr_in *sa)
{
    cairn_net *net = p->net;
    if (net->closing || p->active || p->dialing) return;
    net_conn *c = conn_new(net, 1, (int)p->index);
    if (!c) {
        peer_schedule(p);
        return;
    }
    c->state = C_CONNECTING;
    p->dialing = c;
    c->connect_req.data = c;
    if (cairn_noise_validator_init(&c->hs, 1, net->priv, p->addr.noise_pub, net->prologue,
                                   net->prologue_len, NULL) != 0 ||
        uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)sa, connect_cb) != 0) {
        conn_close(c); /* schedules the retry */
        return;
    }
    uv_timer_start(&c->timer, timer_close_cb, net->hs_ms, 0);
}

static void resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    net_resolve *r = req->data;
    net_peer *p = r->peer;
    struct sockaddr_in sa;
    int found = 0;
    for (struct addrinfo *ai = status == 0 ? res : NULL; ai && !found; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof sa) {
            memcpy(&sa, ai->ai_addr, sizeof sa);
            found = 1;
        }
    }
    uv_freeaddrinfo(res);
    free(r);
    if (!p) return; /* orphaned by cairn_net_close */
    p->resolving = NULL;
    if (!found) {
        peer_schedule(p);
        return;
    }
    sa.sin_port = htons(p->addr.port);
    peer_connect(p, &sa);
}

/* Dials p: an IPv4 literal at once, a DNS name after an asynchronous lookup (IPv4 only). */
static void peer_dial(net_peer *p)
{
    cairn_net *net = p->net;
    if (net->closing || !peer_dialable(p) || p->active || p->dialing || p->resolving) return;
    struct sockaddr_in sa;
    if (uv_ip4_addr(p->addr.host, p->addr.port, &sa) == 0) {
        peer_connect(p, &sa);
        return;
    }
    net_resolve *r = malloc(sizeof *r);
    if (!r) {
        peer_schedule(p);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    r->peer = p;
    r->req.data = r;
    if (uv_getaddrinfo(net->loop, &r->req, resolved_cb, p->addr.host, NULL, &hints) != 0) {
        free(r);
        peer_schedule(p);
        return;
    }
    p->resolving = r;
}

static void reject_closed(uv_handle_t *h)
{
    free(h);
}

/* c holds an accepted (or adopted) socket, unless taken is 0: run the responder side. */
static void conn_inbound(net_conn *c, int taken)
{
    cairn_net *net = c->net;
    c->state = C_HANDSHAKE;
    c->pending_in = 1;
    net->pending_in++;
    if (!taken ||
        cairn_noise_validator_init(&c->hs, 0, net->priv, NULL, net->prologue, net->prologue_len,
                                   NULL) != 0 ||
        conn_start_io(c) != 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, timer_close_cb, net->hs_ms, 0);
}

static void on_connection(uv_stream_t *server, int status)
{
    cairn_net *net = server->data;
    if (status < 0 || net->closing) return;
    net_conn *c = NULL;
    if (net->pending_in < net->pending_in_max)
        c = conn_new(net, 0, -1);
    else
        net->stats.handshakes_failed++;
    if (!c) {
        /* Too many unauthenticated connections, or out of memory: accept into a bare handle and
         * close it at once (not accepting would stall the listener). */
        uv_tcp_t *t = malloc(sizeof *t);
        if (!t) return;
        if (uv_tcp_init(net->loop, t) != 0) {
            free(t);
            return;
        }
        (void)uv_accept(server, (uv_stream_t *)t);
        uv_close((uv_handle_t *)t, reject_closed);
        return;
    }
    conn_inbound(c, uv_accept(server, (uv_stream_t *)&c->tcp) == 0);
}

/* ---- public API ---- */

static int config_valid(const cairn_net_config *cfg)
{
    if (!cfg || !cfg->loop || !cfg->chain_id || !cfg->peers || !cfg->noise_private ||
        !cfg->listen_host || !cfg->on_message)
        return 0;
    if (cfg->n_peers < 1 || cfg->n_peers > CAIRN_NET_MAX_PEERS || cfg->self >= cfg->n_peers)
        return 0;
    uint32_t rmin = cfg->reconnect_min_ms ? cfg->reconnect_min_ms : NET_DEFAULT_RECONNECT_MIN;
    uint32_t rmax = cfg->reconnect_max_ms ? cfg->reconnect_max_ms : NET_DEFAULT_RECONNECT_MAX;
    if (rmin > rmax) return 0;
    for (size_t i = 0; i < cfg->n_peers; i++) {
        if (!memchr(cfg->peers[i].host, '\0', sizeof cfg->peers[i].host)) return 0;
        for (size_t j = 0; j < i && !key_is_zero(cfg->peers[i].noise_pub); j++)
            if (memcmp(cfg->peers[i].noise_pub, cfg->peers[j].noise_pub, CAIRN_NOISE_DH_LEN) == 0)
                return 0; /* one key, two indexes: the responder could not tell them apart */
    }
    /* Our private key must be the one of our own genesis noise_key. */
    uint8_t pub[CAIRN_NOISE_DH_LEN];
    if (crypto_scalarmult_base(pub, cfg->noise_private) != 0) return 0;
    int ok = sodium_memcmp(pub, cfg->peers[cfg->self].noise_pub, sizeof pub) == 0;
    sodium_memzero(pub, sizeof pub);
    return ok;
}

int cairn_net_start(cairn_net **out, const cairn_net_config *cfg)
{
    if (!out) return CAIRN_EINVAL;
    *out = NULL;
    if (sodium_init() < 0) return CAIRN_EINTERNAL;
    if (!config_valid(cfg)) return CAIRN_EINVAL;
    struct sockaddr_in sa;
    if (uv_ip4_addr(cfg->listen_host, cfg->listen_port, &sa) != 0) return CAIRN_EINVAL;

    cairn_net *net = calloc(1, sizeof *net);
    if (!net) return CAIRN_ENOMEM;
    net->loop = cfg->loop;
    net->self = cfg->self;
    net->n_peers = cfg->n_peers;
    memcpy(net->priv, cfg->noise_private, sizeof net->priv);
    net->max_queue = cfg->max_queue_bytes ? cfg->max_queue_bytes : NET_DEFAULT_QUEUE_BYTES;
    net->rmin = cfg->reconnect_min_ms ? cfg->reconnect_min_ms : NET_DEFAULT_RECONNECT_MIN;
    net->rmax = cfg->reconnect_max_ms ? cfg->reconnect_max_ms : NET_DEFAULT_RECONNECT_MAX;
    net->hs_ms = cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : NET_DEFAULT_HANDSHAKE_MS;
    net->pending_in_max = NET_PENDING_IN_BASE + 2 * cfg->n_peers;
    net->on_message = cfg->on_message;
    net->on_link = cfg->on_link;
    net->ctx = cfg->ctx;
    size_t prefix = strlen(CAIRN_NOISE_PROLOGUE_PREFIX), id = strlen(cfg->chain_id);
    net->prologue_len = prefix + id;
    net->prologue = malloc(net->prologue_len);
    net->peers = calloc(cfg->n_peers, sizeof *net->peers);
    net->keys = calloc(cfg->n_peers, sizeof *net->keys);
    if (!net->prologue || !net->peers || !net->keys) {
        cairn_net_close(net);
        return CAIRN_ENOMEM;
    }
    memcpy(net->prologue, CAIRN_NOISE_PROLOGUE_PREFIX, prefix);
    memcpy(net->prologue + prefix, cfg->chain_id, id);
    for (size_t i = 0; i < cfg->n_peers; i++) {
        net_peer *p = &net->peers[i];
        p->net = net;
        p->index = (uint32_t)i;
        p->addr = cfg->peers[i];
        p->backoff_ms = net->rmin;
        memcpy(net->keys[i], p->addr.noise_pub, CAIRN_NOISE_DH_LEN);
        uv_timer_init(net->loop, &p->timer);
        p->timer.data = p;
        net->open_handles++;
    }
    int err = CAIRN_ECONNECT;
    if (uv_tcp_init(net->loop, &net->listener) != 0) goto fail;
    net->listener.data = net;
    net->listener_open = 1;
    net->open_handles++;
    if (uv_tcp_bind(&net->listener, (const struct sockaddr *)&sa, 0) != 0) goto fail;
    if (uv_listen((uv_stream_t *)&net->listener, NET_BACKLOG, on_connection) != 0) goto fail;
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getsockname(&net->listener, (struct sockaddr *)&ss, &sl) != 0) goto fail;
    net->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    for (size_t i = 0; i < cfg->n_peers; i++) peer_dial(&net->peers[i]);
    *out = net;
    return 0;
fail:
    cairn_net_close(net);
    return err;
}

uint16_t cairn_net_port(const cairn_net *net)
{
    return net ? net->port : 0;
}

static int net_send(cairn_net *net, uint32_t peer, const uint8_t *msg, size_t len, int urgent)
{
    if (!net || (!msg && len)) return CAIRN_EINVAL;
    if (peer >= net->n_peers || peer == net->self) return CAIRN_ENET_PEER;
    if (len > cairn_frame_plaintext_max()) return CAIRN_EFRAME_TOO_BIG;
    net_peer *p = &net->peers[peer];
    if (!p->active) return CAIRN_ENET_DOWN;
    size_t cost = msg_cost(len);
    if (p->queued > net->max_queue || cost > net->max_queue - p->queued) {
        net->stats.queue_full_drops++;
        return CAIRN_ENET_QUEUE_FULL;
    }
    net_msg *m = malloc(sizeof *m + len);
    if (!m) return CAIRN_ENOMEM;
    m->next = NULL;
    m->len = len;
    if (len) memcpy(m->data, msg, len);
    if (urgent) { /* after the urgent messages already queued, before every other one */
        net_msg **at = p->urgent_tail ? &p->urgent_tail->next : &p->head;
        m->next = *at;
        *at = m;
        if (!m->next) p->tail = m;
        p->urgent_tail = m;
    } else {
        if (p->tail)
            p->tail->next = m;
        else
            p->head = m;
        p->tail = m;
    }
    p->queued += cost;
    if (conn_flush(p->active) != 0) conn_close_later(p->active);
    return 0;
}

int cairn_net_send(cairn_net *net, uint32_t peer, const uint8_t *msg, size_t len)
{
    return net_send(net, peer, msg, len, 0);
}

int cairn_net_send_urgent(cairn_net *net, uint32_t peer, const uint8_t *msg, size_t len)
{
    return net_send(net, peer, msg, len, 1);
}

int cairn_net_is_up(const cairn_net *net, uint32_t peer)
{
    return net && peer < net->n_peers && net->peers[peer].active != NULL;
}

size_t cairn_net_queued_bytes(const cairn_net *net, uint32_t peer)
{
    return net && peer < net->n_peers ? net->peers[peer].queued : 0;
}

void cairn_net_drop(cairn_net *net, uint32_t peer)
{
    if (!net || peer >= net->n_peers || !net->peers[peer].active) return;
    conn_close(net->peers[peer].active);
}

int cairn_net_set_peer(cairn_net *net, uint32_t peer, const cairn_net_peer *addr)
{
    if (!net || net->closing) return CAIRN_EINVAL;
    if (peer >= net->n_peers || peer == net->self) return CAIRN_ENET_PEER;
    static const cairn_net_peer empty;
    if (!addr) addr = &empty;
    if (!memchr(addr->host, '\0', sizeof addr->host)) return CAIRN_EINVAL;
    if (!key_is_zero(addr->noise_pub))
        for (size_t j = 0; j < net->n_peers; j++)
            if (j != peer && memcmp(net->keys[j], addr->noise_pub, CAIRN_NOISE_DH_LEN) == 0)
                return CAIRN_EINVAL;
    net_peer *p = &net->peers[peer];
    if (memcmp(p->addr.noise_pub, addr->noise_pub, CAIRN_NOISE_DH_LEN) != 0) {
        /* Another identity in this slot: every link authenticated as the old key goes. */
        memcpy(net->keys[peer], addr->noise_pub, CAIRN_NOISE_DH_LEN);
        memcpy(p->addr.noise_pub, addr->noise_pub, CAIRN_NOISE_DH_LEN);
        for (net_conn *c = net->conns; c; c = c->next)
            if (c->peer == (int)peer) conn_close(c);
        peer_clear_queue(p);
    }
    if (p->resolving) {
        p->resolving->peer = NULL;
        (void)uv_cancel((uv_req_t *)&p->resolving->req);
        p->resolving = NULL;
    }
    p->addr = *addr;
    uv_timer_stop(&p->timer);
    p->backoff_ms = net->rmin;
    peer_dial(p);
    return 0;
}

void cairn_net_get_stats(const cairn_net *net, cairn_net_stats *out)
{
    if (!out) return;
    if (!net) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = net->stats;
}

void cairn_net_close(cairn_net *net)
{
    if (!net) return;
    net->closing = 1;
    if (net->listener_open) uv_close((uv_handle_t *)&net->listener, handle_closed);
    net->listener_open = 0;
    for (net_conn *c = net->conns; c; c = c->next) conn_close(c);
    if (net->peers) {
        for (size_t i = 0; i < net->n_peers; i++) {
            net_peer *p = &net->peers[i];
            if (!p->net) continue; /* start failed before this peer was set up */
            if (p->resolving) {
                p->resolving->peer = NULL;
                (void)uv_cancel((uv_req_t *)&p->resolving->req);
                p->resolving = NULL;
            }
            uv_timer_stop(&p->timer);
            p->timer.data = net;
            uv_close((uv_handle_t *)&p->timer, handle_closed);
        }
    }
    while (net->open_handles > 0) uv_run(net->loop, UV_RUN_NOWAIT);
    if (net->peers) {
        for (size_t i = 0; i < net->n_peers; i++) peer_clear_queue(&net->peers[i]);
        free(net->peers);
    }
    free(net->keys);
    free(net->prologue);
    sodium_memzero(net->priv, sizeof net->priv);
    free(net);
}

/* ---- test hooks (node/net_testing.h) ---- */

int cairn_net_testing_set_peer_port(cairn_net *net, uint32_t peer, uint16_t port)
{
    if (!net || peer >= net->n_peers || peer == net->self) return CAIRN_ENET_PEER;
    net_peer *p = &net->peers[peer];
    p->addr.port = port;
    if (!p->active && !p->dialing && !p->resolving) {
        uv_timer_stop(&p->timer);
        p->backoff_ms = net->rmin;
        peer_dial(p);
    }
    return 0;
}

size_t cairn_net_testing_links(const cairn_net *net, uint32_t peer)
{
    size_t n = 0;
    for (const net_conn *c = net->conns; c; c = c->next)
        if (c->peer == (int)peer && c->state != C_CLOSING) n++;
    return n;
}

size_t cairn_net_testing_conns(const cairn_net *net)
{
    size_t n = 0;
    for (const net_conn *c = net->conns; c; c = c->next) n++;
    return n;
}

int cairn_net_testing_initiator(const cairn_net *net, uint32_t peer)
{
    if (!net || peer >= net->n_peers || !net->peers[peer].active) return -1;
    return initiator_index(net->peers[peer].active);
}

void cairn_net_testing_pause_reading(cairn_net *net, uint32_t peer, int paused)
{
    if (!net || peer >= net->n_peers || !net->peers[peer].active) return;
    uv_stream_t *s = (uv_stream_t *)&net->peers[peer].active->tcp;
    if (paused)
        uv_read_stop(s);
    else
        (void)uv_read_start(s, alloc_cb, read_cb);
}

void cairn_net_testing_corrupt_next(cairn_net *net, uint32_t peer)
{
    if (!net || peer >= net->n_peers || !net->peers[peer].active) return;
    net->peers[peer].active->corrupt_next = 1;
}

int cairn_net_testing_adopt(cairn_net *net, uv_os_sock_t sock)
{
    if (!net || net->closing) return CAIRN_EINVAL;
    net_conn *c = conn_new(net, 0, -1);
    if (!c) return CAIRN_ENOMEM;
    conn_inbound(c, uv_tcp_open(&c->tcp, sock) == 0);
    return 0;
}
