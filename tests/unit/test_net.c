/*
 * Validator peer links (node/net.c): several cairn_net instances in one process on one uv loop,
 * on 127.0.0.1 with ephemeral ports. Every net starts with the peers' ports unknown (0 = not
 * dialled); once all listeners are bound the test hands each net the others' ports through
 * cairn_net_testing_set_peer_port (node/net_testing.h), which dials at once, so every pair dials
 * both ways at the same moment and the duplicate rule always runs.
 *
 * Every message sent is recorded per (sender, receiver) pair (length; the content is a function of
 * sender, receiver and sequence number), and the receiving callback checks order, length and every
 * byte. Each test drives the loop with run_until(predicate, timeout) so a bug fails, never hangs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "node/frame.h"
#include "node/net.h"
#include "node/net_testing.h"
#include "node/noise.h"

#define N_MAX    4
#define CHAIN_ID "cairn-test-net"

typedef struct cluster cluster;

typedef struct node {
    cluster *cl;
    cairn_net *net;
    uint32_t index;
    int ups[N_MAX], downs[N_MAX];
    size_t rx[N_MAX]; /* messages delivered from each peer */
} node;

typedef struct pairq {
    size_t *lens; /* lengths of the messages accepted by cairn_net_send, in order */
    size_t n, cap;
    size_t rx; /* next sequence number the receiver expects */
} pairq;

struct cluster {
    uv_loop_t loop;
    uv_timer_t deadline;
    int timed_out;
    size_t n;
    uint8_t priv[N_MAX][32];
    cairn_net_peer peers[N_MAX]; /* the genesis view: 127.0.0.1, port unknown */
    node nodes[N_MAX];
    pairq q[N_MAX][N_MAX]; /* [from][to] */
    int errors;            /* out of order, wrong length or wrong content */
};

/* ---- messages ---- */

static void gen(uint8_t *b, size_t len, uint32_t from, uint32_t to, size_t seq)
{
    uint32_t seed = from * 1000003u + to * 7919u + (uint32_t)seq * 31u;
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(((uint32_t)i * 2654435761u + seed) >> 11) ^ (uint8_t)(i >> 8);
}

static void on_message(void *ctx, uint32_t peer, const uint8_t *msg, size_t len)
{
    node *nd = ctx;
    cluster *cl = nd->cl;
    pairq *q = &cl->q[peer][nd->index];
    nd->rx[peer]++;
    if (q->rx >= q->n) {
        cl->errors++;
        return;
    }
    size_t seq = q->rx++;
    if (q->lens[seq] != len) {
        cl->errors++;
        return;
    }
    uint8_t *want = malloc(len ? len : 1);
    assert_non_null(want);
    gen(want, len, peer, nd->index, seq);
    if (len && memcmp(want, msg, len) != 0) cl->errors++;
    free(want);
}

static void on_link(void *ctx, uint32_t peer, int up)
{
    node *nd = ctx;
    if (up)
        nd->ups[peer]++;
    else
        nd->downs[peer]++;
}

/* Sends message number q->n of (from, to) with the given length; records it if accepted. */
static int send_msg(cluster *cl, uint32_t from, uint32_t to, size_t len)
{
    pairq *q = &cl->q[from][to];
    uint8_t *b = malloc(len ? len : 1);
    assert_non_null(b);
    gen(b, len, from, to, q->n);
    int rc = cairn_net_send(cl->nodes[from].net, to, b, len);
    free(b);
    if (rc == 0) {
        if (q->n == q->cap) {
            q->cap = q->cap ? 2 * q->cap : 64;
            q->lens = realloc(q->lens, q->cap * sizeof *q->lens);
            assert_non_null(q->lens);
        }
        q->lens[q->n++] = len;
    }
    return rc;
}

/* Messages lost with a dropped link: the receiver expects the next one sent from now on. */
static void forget_in_flight(cluster *cl, uint32_t from, uint32_t to)
{
    cl->q[from][to].rx = cl->q[from][to].n;
}

/* ---- the loop ---- */

static void deadline_cb(uv_timer_t *t)
{
    cluster *cl = t->data;
    cl->timed_out = 1;
}

typedef int (*pred_fn)(cluster *cl, void *arg);

/* Runs the loop until pred holds (1) or timeout_ms passes (0). */
static int run_until(cluster *cl, pred_fn pred, void *arg, uint64_t timeout_ms)
{
    cl->timed_out = 0;
    /* Repeating: if the deadline fires in the timer phase that opens a UV_RUN_ONCE iteration,
     * that iteration must still find a timer, or it would poll without a timeout. */
    uv_timer_start(&cl->deadline, deadline_cb, timeout_ms, 5);
    int ok;
    while (!(ok = pred(cl, arg)) && !cl->timed_out) uv_run(&cl->loop, UV_RUN_ONCE);
    uv_timer_stop(&cl->deadline);
    return ok;
}

static int never(cluster *cl, void *arg)
{
    (void)cl;
    (void)arg;
    return 0;
}

static void run_for(cluster *cl, uint64_t ms)
{
    (void)run_until(cl, never, NULL, ms);
}

static cluster *cluster_new(size_t n)
{
    cluster *cl = calloc(1, sizeof *cl);
    assert_non_null(cl);
    assert_int_equal(sodium_init() >= 0, 1);
    assert_int_equal(uv_loop_init(&cl->loop), 0);
    assert_int_equal(uv_timer_init(&cl->loop, &cl->deadline), 0);
    cl->deadline.data = cl;
    cl->n = n;
    for (size_t i = 0; i < N_MAX; i++) {
        for (size_t k = 0; k < 32; k++) cl->priv[i][k] = (uint8_t)(0x40 + 17 * i + k);
        strcpy(cl->peers[i].host, "127.0.0.1");
        cl->peers[i].port = 0;
        assert_int_equal(crypto_scalarmult_base(cl->peers[i].noise_pub, cl->priv[i]), 0);
        cl->nodes[i].cl = cl;
        cl->nodes[i].index = (uint32_t)i;
    }
    return cl;
}

typedef struct opts {
    const uint8_t *priv;         /* NULL: the genesis key of the index */
    const cairn_net_peer *peers; /* NULL: cl->peers */
    const char *chain_id;        /* NULL: CHAIN_ID */
    uint16_t port;
    size_t max_queue;
    uint32_t rmin, rmax, hs_ms;
} opts;

static int node_start(cluster *cl, uint32_t i, const opts *o)
{
    static const opts none;
    if (!o) o = &none;
    node *nd = &cl->nodes[i];
    memset(nd->ups, 0, sizeof nd->ups);
    memset(nd->downs, 0, sizeof nd->downs);
    memset(nd->rx, 0, sizeof nd->rx);
    cairn_net_config cfg = {
        .loop = &cl->loop,
        .chain_id = o->chain_id ? o->chain_id : CHAIN_ID,
        .self = i,
        .n_peers = cl->n,
        .peers = o->peers ? o->peers : cl->peers,
        .noise_private = o->priv ? o->priv : cl->priv[i],
        .listen_host = "127.0.0.1",
        .listen_port = o->port,
        .max_queue_bytes = o->max_queue,
        .reconnect_min_ms = o->rmin,
        .reconnect_max_ms = o->rmax,
        .handshake_timeout_ms = o->hs_ms,
        .on_message = on_message,
        .on_link = on_link,
        .ctx = nd,
    };
    return cairn_net_start(&nd->net, &cfg);
}

/* Tells every running net the ports of the others (each call dials at once). */
static void connect_all(cluster *cl)
{
    for (uint32_t i = 0; i < cl->n; i++) {
        if (!cl->nodes[i].net) continue;
        for (uint32_t j = 0; j < cl->n; j++) {
            if (j == i || !cl->nodes[j].net) continue;
            assert_int_equal(cairn_net_testing_set_peer_port(cl->nodes[i].net, j,
                                                             cairn_net_port(cl->nodes[j].net)),
                             0);
        }
    }
}

static cairn_net_stats stats(cluster *cl, uint32_t i)
{
    cairn_net_stats s;
    cairn_net_get_stats(cl->nodes[i].net, &s);
    return s;
}

/* Nodes [0, *k) all linked to each other by exactly one connection each. */
static int pairs_settled(cluster *cl, void *arg)
{
    size_t k = *(size_t *)arg;
    for (uint32_t i = 0; i < k; i++) {
        if (stats(cl, i).peers_up != k - 1) return 0;
        for (uint32_t j = 0; j < k; j++)
            if (j != i && cairn_net_testing_links(cl->nodes[i].net, j) != 1) return 0;
    }
    return 1;
}

static int all_delivered(cluster *cl, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < cl->n; i++)
        for (size_t j = 0; j < cl->n; j++)
            if (cl->q[i][j].rx != cl->q[i][j].n) return 0;
    return 1;
}

static void cluster_free(cluster *cl)
{
    for (size_t i = 0; i < N_MAX; i++) cairn_net_close(cl->nodes[i].net);
    uv_close((uv_handle_t *)&cl->deadline, NULL);
    uv_run(&cl->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&cl->loop), 0); /* no handle left behind */
    for (size_t i = 0; i < N_MAX; i++)
        for (size_t j = 0; j < N_MAX; j++) free(cl->q[i][j].lens);
    free(cl);
}

/* Both directions of every pair carry messages in order, byte for byte. */
static void exchange(cluster *cl, size_t k)
{
    static const size_t sizes[] = {0, 1, 100, 65519, 65520, 200000, 0, 7};
    for (uint32_t i = 0; i < k; i++)
        for (uint32_t j = 0; j < k; j++)
            if (i != j)
                for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
                    assert_int_equal(send_msg(cl, i, j, sizes[s]), 0);
    assert_true(run_until(cl, all_delivered, NULL, 5000));
    assert_int_equal(cl->errors, 0);
}

/* ---- 1 and 4: links, delivery, duplicates ---- */

static void test_mesh(void **state)
{
    (void)state;
    const size_t n = 4;
    cluster *cl = cluster_new(n);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(node_start(cl, i, NULL), 0);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_not_equal(cairn_net_port(cl->nodes[i].net), 0);
        assert_int_equal(stats(cl, i).peers_up, 0);
        assert_int_equal(cairn_net_send(cl->nodes[i].net, (i + 1) % n, NULL, 0), CAIRN_ENET_DOWN);
    }
    connect_all(cl);
    size_t k = n;
    assert_true(run_until(cl, pairs_settled, &k, 3000));
    run_for(cl, 100); /* nothing may change once settled */
    assert_true(pairs_settled(cl, &k));
    for (uint32_t i = 0; i < n; i++) {
        cairn_net_stats s = stats(cl, i);
        /* Every pair dialled both ways at once: each end completed two handshakes and both
         * closed the same one, the link initiated by the lower index. */
        assert_int_equal(s.handshakes_ok, 2 * (n - 1));
        assert_int_equal(s.duplicate_links, n - 1);
        assert_int_equal(s.handshakes_failed, 0);
        assert_int_equal(s.bad_frames, 0);
        assert_int_equal(cairn_net_testing_conns(cl->nodes[i].net), n - 1);
        for (uint32_t j = 0; j < n; j++) {
            if (j == i) continue;
            assert_int_equal(cl->nodes[i].ups[j], 1);
            assert_int_equal(cl->nodes[i].downs[j], 0);
            assert_true(cairn_net_is_up(cl->nodes[i].net, j));
            assert_int_equal(cairn_net_testing_initiator(cl->nodes[i].net, j), i < j ? i : j);
        }
    }

    exchange(cl, n);
    /* The largest message and an empty one, both ways; one byte more is refused. */
    size_t max = cairn_frame_plaintext_max();
    assert_int_equal(send_msg(cl, 0, 1, max), 0);
    assert_int_equal(send_msg(cl, 0, 1, 0), 0);
    assert_int_equal(send_msg(cl, 1, 0, max), 0);
    assert_int_equal(send_msg(cl, 3, 2, 0), 0);
    assert_int_equal(send_msg(cl, 2, 3, max + 1), CAIRN_EFRAME_TOO_BIG);
    assert_int_equal(cairn_net_send(cl->nodes[0].net, 0, NULL, 0), CAIRN_ENET_PEER);
    assert_int_equal(cairn_net_send(cl->nodes[0].net, (uint32_t)n, NULL, 0), CAIRN_ENET_PEER);
    assert_true(run_until(cl, all_delivered, NULL, 5000));
    assert_int_equal(cl->errors, 0);
    run_for(cl, 20);

    for (uint32_t i = 0; i < n; i++) {
        cairn_net_stats s = stats(cl, i);
        uint64_t out = 0, in = 0, bout = 0, bin = 0;
        for (uint32_t j = 0; j < n; j++) {
            out += cl->q[i][j].n;
            in += cl->q[j][i].n;
            for (size_t m = 0; m < cl->q[i][j].n; m++) bout += cl->q[i][j].lens[m];
            for (size_t m = 0; m < cl->q[j][i].n; m++) bin += cl->q[j][i].lens[m];
            assert_int_equal(cl->nodes[i].rx[j], cl->q[j][i].n);
            if (j != i) assert_int_equal(cairn_net_queued_bytes(cl->nodes[i].net, j), 0);
        }
        assert_int_equal(s.frames_out, out);
        assert_int_equal(s.frames_in, in);
        assert_int_equal(s.bytes_out, bout);
        assert_int_equal(s.bytes_in, bin);
        assert_int_equal(s.queue_full_drops, 0);
        assert_int_equal(s.bad_frames, 0);
    }
    cluster_free(cl);
}

/* ---- 2: impostors ---- */

static int impostors_failed(cluster *cl, void *arg)
{
    (void)arg;
    size_t two = 2;
    return pairs_settled(cl, &two) && stats(cl, 0).handshakes_failed == 4 &&
           stats(cl, 1).handshakes_failed == 4 && stats(cl, 2).handshakes_failed == 6 &&
           stats(cl, 3).handshakes_failed == 6;
}

static void test_impostors(void **state)
{
    (void)state;
    cluster *cl = cluster_new(4);
    /* Long back-off: each failed dial is retried only after the test, so counts are exact. */
    opts o = {.rmin = 30000, .rmax = 60000};
    uint8_t fake[32];
    for (size_t k = 0; k < 32; k++) fake[k] = (uint8_t)(0xA0 + k);

    /* A private key that is not the genesis key of the index is refused at start. */
    opts bad = o;
    bad.priv = fake;
    assert_int_equal(node_start(cl, 2, &bad), CAIRN_EINVAL);
    assert_null(cl->nodes[2].net);

    assert_int_equal(node_start(cl, 0, &o), 0);
    assert_int_equal(node_start(cl, 1, &o), 0);
    /* Node 2 is an impostor: it believes its own key is in genesis at index 2. */
    cairn_net_peer forged[N_MAX];
    memcpy(forged, cl->peers, sizeof forged);
    assert_int_equal(crypto_scalarmult_base(forged[2].noise_pub, fake), 0);
    opts imp = o;
    imp.priv = fake;
    imp.peers = forged;
    assert_int_equal(node_start(cl, 2, &imp), 0);
    /* Node 3 holds the right key but is on another chain. */
    opts other = o;
    other.chain_id = "another-chain";
    assert_int_equal(node_start(cl, 3, &other), 0);
    connect_all(cl);

    /* 0 and 1 each fail twice against 2 and twice against 3 (their dial and the inbound one);
     * 2 and 3 fail against everyone in both directions. */
    assert_true(run_until(cl, impostors_failed, NULL, 3000));
    run_for(cl, 200);
    assert_true(impostors_failed(cl, NULL));
    for (uint32_t i = 0; i < 4; i++) {
        cairn_net_stats s = stats(cl, i);
        assert_int_equal(s.handshakes_ok, i < 2 ? 2 : 0);
        assert_int_equal(s.peers_up, i < 2 ? 1 : 0);
        assert_int_equal(s.frames_in, 0);
        for (uint32_t j = 2; j < 4; j++) {
            assert_int_equal(cl->nodes[i].ups[j], 0);
            assert_false(cairn_net_is_up(cl->nodes[i].net, j));
        }
    }
    /* Nothing can be sent to or from them. */
    assert_int_equal(cairn_net_send(cl->nodes[0].net, 2, NULL, 0), CAIRN_ENET_DOWN);
    assert_int_equal(cairn_net_send(cl->nodes[2].net, 0, NULL, 0), CAIRN_ENET_DOWN);
    assert_int_equal(cairn_net_send(cl->nodes[3].net, 1, NULL, 0), CAIRN_ENET_DOWN);
    exchange(cl, 2); /* the genuine pair still works */
    for (uint32_t i = 0; i < 2; i++)
        for (uint32_t j = 2; j < 4; j++) assert_int_equal(cl->nodes[i].rx[j], 0);
    cluster_free(cl);
}

/* ---- 3: raw TCP clients ---- */

typedef struct raw {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_write_t w;
    uint8_t out[256];
    size_t out_len;
    int connected, closed;
    size_t bytes_in; /* the first sizeof in bytes are kept in in */
    uint64_t t_connect, t_closed;
    uint8_t in[4096];
    uint8_t scratch[4096];
} raw;

static void raw_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)s;
    raw *r = h->data;
    if (r->bytes_in < sizeof r->in)
        *b = uv_buf_init((char *)r->in + r->bytes_in, (unsigned)(sizeof r->in - r->bytes_in));
    else
        *b = uv_buf_init((char *)r->scratch, sizeof r->scratch);
}

static void raw_closed(uv_handle_t *h)
{
    raw *r = h->data;
    r->closed = 1;
    r->t_closed = uv_now(h->loop);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    raw *r = s->data;
    if (n > 0) r->bytes_in += (size_t)n;
    if (n < 0) uv_close((uv_handle_t *)s, raw_closed);
}

typedef struct raw_write {
    uv_write_t w;
    uint8_t data[];
} raw_write;

static void raw_sent(uv_write_t *w, int status)
{
    (void)status; /* the node may have closed the socket already */
    free(w);
}

static void raw_send(raw *r, const uint8_t *data, size_t len)
{
    raw_write *w = malloc(sizeof *w + len);
    assert_non_null(w);
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    assert_int_equal(uv_write(&w->w, (uv_stream_t *)&r->tcp, &b, 1, raw_sent), 0);
}

static void raw_written(uv_write_t *w, int status)
{
    (void)w;
    assert_int_equal(status, 0);
}

static void raw_connected(uv_connect_t *c, int status)
{
    raw *r = c->data;
    assert_int_equal(status, 0);
    r->connected = 1;
    r->t_connect = uv_now(c->handle->loop);
    assert_int_equal(uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read), 0);
    if (r->out_len) {
        uv_buf_t b = uv_buf_init((char *)r->out, (unsigned)r->out_len);
        assert_int_equal(uv_write(&r->w, (uv_stream_t *)&r->tcp, &b, 1, raw_written), 0);
    }
}

static void raw_start(cluster *cl, raw *r, uint16_t port, const uint8_t *out, size_t len)
{
    memset(r, 0, sizeof *r);
    if (len) memcpy(r->out, out, len);
    r->out_len = len;
    struct sockaddr_in sa;
    assert_int_equal(uv_ip4_addr("127.0.0.1", port, &sa), 0);
    assert_int_equal(uv_tcp_init(&cl->loop, &r->tcp), 0);
    r->tcp.data = r;
    r->conn.data = r;
    assert_int_equal(uv_tcp_connect(&r->conn, &r->tcp, (const struct sockaddr *)&sa, raw_connected),
                     0);
}

static int raws_closed(cluster *cl, void *arg)
{
    (void)cl;
    raw *r = arg;
    for (int i = 0; i < 4; i++)
        if (!r[i].closed) return 0;
    return 1;
}

static void test_raw_clients(void **state)
{
    (void)state;
    cluster *cl = cluster_new(2);
    opts o = {.hs_ms = 1000};
    assert_int_equal(node_start(cl, 0, &o), 0); /* peer 1's port stays 0: never dialled */
    uint16_t port = cairn_net_port(cl->nodes[0].net);

    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    uint8_t fake1[2 + 96];
    fake1[0] = 0;
    fake1[1] = 96; /* the length of a genuine IK message 1 */
    for (size_t k = 2; k < sizeof fake1; k++) fake1[k] = (uint8_t)(k * 7);
    static const uint8_t zero_len[] = {0, 0, 1, 2, 3};

    raw *r = calloc(4, sizeof *r);
    assert_non_null(r);
    raw_start(cl, &r[0], port, (const uint8_t *)http, sizeof http - 1);
    raw_start(cl, &r[1], port, fake1, sizeof fake1);
    raw_start(cl, &r[2], port, zero_len, sizeof zero_len);
    raw_start(cl, &r[3], port, NULL, 0); /* silent */
    assert_true(run_until(cl, raws_closed, r, 3000));
    for (int i = 0; i < 4; i++) {
        assert_true(r[i].connected);
        assert_int_equal(r[i].bytes_in, 0); /* no message 2 for anyone */
    }
    /* Garbage is refused at once; the silent one only at the handshake timeout. */
    for (int i = 0; i < 3; i++) assert_true(r[i].t_closed - r[i].t_connect < 700);
    assert_true(r[3].t_closed - r[3].t_connect >= 900);
    run_for(cl, 20);
    cairn_net_stats s = stats(cl, 0);
    assert_int_equal(s.handshakes_failed, 4);
    assert_int_equal(s.handshakes_ok, 0);
    assert_int_equal(s.frames_in, 0);
    assert_int_equal(s.peers_up, 0);
    assert_int_equal(cl->nodes[0].ups[1], 0);
    assert_int_equal(cairn_net_testing_conns(cl->nodes[0].net), 0);
    cluster_free(cl);
    free(r);
}

/* At most 64 + 2n unauthenticated inbound connections are held; more are closed at once. */
#define N_SILENT 70

static int closed_count(cluster *cl, void *arg)
{
    (void)cl;
    raw *r = arg;
    int n = 0;
    for (int i = 0; i < N_SILENT; i++) n += r[i].closed;
    return n;
}

static int some_closed(cluster *cl, void *arg)
{
    return closed_count(cl, arg) >= N_SILENT - 68;
}

static int all_closed(cluster *cl, void *arg)
{
    return closed_count(cl, arg) == N_SILENT;
}

static void test_pending_cap(void **state)
{
    (void)state;
    cluster *cl = cluster_new(2);
    opts o = {.hs_ms = 1000};
    assert_int_equal(node_start(cl, 0, &o), 0);
    uint16_t port = cairn_net_port(cl->nodes[0].net);
    raw *r = calloc(N_SILENT, sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < N_SILENT; i++) raw_start(cl, &r[i], port, NULL, 0);
    assert_true(run_until(cl, some_closed, r, 900));
    run_for(cl, 50);
    assert_int_equal(closed_count(cl, r), N_SILENT - 68); /* 64 + 2 * 2 are held */
    assert_int_equal(cairn_net_testing_conns(cl->nodes[0].net), 68);
    assert_true(run_until(cl, all_closed, r, 3000)); /* the rest at the handshake timeout */
    run_for(cl, 20);
    assert_int_equal(stats(cl, 0).handshakes_failed, N_SILENT);
    assert_int_equal(cairn_net_testing_conns(cl->nodes[0].net), 0);
    cluster_free(cl);
    free(r);
}

/* ---- hello, replayed message 1, replacement by a newer link ---- */

/* A hand-driven IK initiator (node/noise.c) on a raw socket, playing validator `as`. */
typedef struct nclient {
    raw r;
    cairn_noise_handshake hs;
    cairn_noise_transport tr;
    uint8_t msg1[2 + 96];
} nclient;

typedef struct want_bytes {
    raw *r;
    size_t n;
} want_bytes;

static int got_bytes(cluster *cl, void *arg)
{
    (void)cl;
    want_bytes *w = arg;
    return w->r->bytes_in >= w->n || w->r->closed;
}

static int raw_is_closed(cluster *cl, void *arg)
{
    (void)cl;
    return ((raw *)arg)->closed;
}

/* Connects and runs the handshake to the split; with replay, sends that message 1 instead and
 * only waits for the answer. */
static void nc_handshake(cluster *cl, nclient *c, uint16_t port, uint32_t as, uint32_t to,
                         const uint8_t *replay)
{
    uint8_t pro[64];
    size_t plen = strlen(CAIRN_NOISE_PROLOGUE_PREFIX);
    memcpy(pro, CAIRN_NOISE_PROLOGUE_PREFIX, plen);
    memcpy(pro + plen, CHAIN_ID, strlen(CHAIN_ID));
    plen += strlen(CHAIN_ID);
    size_t n = 0, pn = 0;
    uint8_t p[64];
    assert_int_equal(cairn_noise_validator_init(&c->hs, 1, cl->priv[as], cl->peers[to].noise_pub,
                                                pro, plen, NULL),
                     0);
    assert_int_equal(cairn_noise_write_message(&c->hs, c->msg1 + 2, 96, &n, NULL, 0), 0);
    assert_int_equal(n, 96);
    c->msg1[0] = 0;
    c->msg1[1] = 96;
    if (replay) memcpy(c->msg1, replay, sizeof c->msg1);
    raw_start(cl, &c->r, port, c->msg1, sizeof c->msg1);
    want_bytes w = {&c->r, 2 + 48};
    assert_true(run_until(cl, got_bytes, &w, 2000));
    assert_int_equal(c->r.bytes_in, 2 + 48); /* message 2, nothing else */
    assert_int_equal(c->r.in[0], 0);
    assert_int_equal(c->r.in[1], 48);
    if (replay) return;
    assert_int_equal(cairn_noise_read_message(&c->hs, p, sizeof p, &pn, c->r.in + 2, 48), 0);
    assert_int_equal(cairn_noise_split(&c->hs, &c->tr), 0);
}

static void nc_frame(nclient *c, const uint8_t *pt, size_t len)
{
    size_t cap = 4 + cairn_frame_sealed_len(len), n = 0;
    uint8_t *f = malloc(cap);
    assert_non_null(f);
    assert_int_equal(cairn_frame_seal(&c->tr, f, cap, &n, pt, len), 0);
    raw_send(&c->r, f, n);
    free(f);
}

/* Sends the next message of (from, to) over c and records it. */
static void nc_message(cluster *cl, nclient *c, uint32_t from, uint32_t to, size_t len)
{
    pairq *q = &cl->q[from][to];
    uint8_t b[512];
    assert_true(len <= sizeof b);
    gen(b, len, from, to, q->n);
    nc_frame(c, b, len);
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 64;
        q->lens = realloc(q->lens, q->cap * sizeof *q->lens);
        assert_non_null(q->lens);
    }
    q->lens[q->n++] = len;
}

static void test_hello_and_replacement(void **state)
{
    (void)state;
    cluster *cl = cluster_new(2);
    opts o = {.hs_ms = 300};
    assert_int_equal(node_start(cl, 1, &o), 0); /* peer 0's port stays 0: never dialled */
    uint16_t port = cairn_net_port(cl->nodes[1].net);
    node *n1 = &cl->nodes[1];
    nclient *c = calloc(4, sizeof *c);
    assert_non_null(c);

    /* A: a genuine handshake, but the first frame is not the empty hello: closed, not up. */
    nc_handshake(cl, &c[0], port, 0, 1, NULL);
    run_for(cl, 20);
    assert_false(cairn_net_is_up(n1->net, 0)); /* not before the hello */
    assert_int_equal(cairn_net_send(n1->net, 0, NULL, 0), CAIRN_ENET_DOWN);
    static const uint8_t five[5] = {1, 2, 3, 4, 5};
    nc_frame(&c[0], five, sizeof five);
    assert_true(run_until(cl, raw_is_closed, &c[0].r, 2000));
    assert_int_equal(stats(cl, 1).handshakes_failed, 1);
    assert_int_equal(n1->ups[0], 0);
    assert_int_equal(n1->rx[0], 0);

    /* B: hello, then a message: up and delivered; node 1 answers over B. */
    nc_handshake(cl, &c[1], port, 0, 1, NULL);
    nc_frame(&c[1], NULL, 0);
    nc_message(cl, &c[1], 0, 1, 300);
    assert_true(run_until(cl, all_delivered, NULL, 2000));
    assert_int_equal(cl->errors, 0);
    assert_int_equal(n1->ups[0], 1);
    assert_true(cairn_net_is_up(n1->net, 0));
    static const uint8_t hi[] = "hi from 1";
    assert_int_equal(cairn_net_send(n1->net, 0, hi, sizeof hi), 0);
    want_bytes w = {&c[1].r, 2 + 48 + 4 + sizeof hi + 16};
    assert_true(run_until(cl, got_bytes, &w, 2000));
    uint8_t pt[64];
    size_t ptn = 0;
    assert_int_equal(c[1].r.bytes_in, w.n);
    assert_int_equal(
        cairn_frame_open(&c[1].tr, pt, sizeof pt, &ptn, c[1].r.in + 2 + 48 + 4, sizeof hi + 16), 0);
    assert_int_equal(ptn, sizeof hi);
    assert_memory_equal(pt, hi, sizeof hi);

    /* C replays B's message 1: node 1 answers (it cannot tell), but C can never send the hello,
     * so B stays the link and C is dropped at the handshake timeout. */
    nc_handshake(cl, &c[2], port, 0, 1, c[1].msg1);
    assert_true(run_until(cl, raw_is_closed, &c[2].r, 2000));
    assert_int_equal(stats(cl, 1).handshakes_failed, 2);
    assert_false(c[1].r.closed);
    assert_int_equal(n1->ups[0], 1);
    assert_int_equal(n1->downs[0], 0);

    /* D: a newer authenticated link from the same initiator replaces B, silently. */
    nc_handshake(cl, &c[3], port, 0, 1, NULL);
    nc_frame(&c[3], NULL, 0);
    assert_true(run_until(cl, raw_is_closed, &c[1].r, 2000));
    assert_int_equal(stats(cl, 1).duplicate_links, 1);
    assert_int_equal(n1->ups[0], 1);
    assert_int_equal(n1->downs[0], 0);
    nc_message(cl, &c[3], 0, 1, 0);
    nc_message(cl, &c[3], 0, 1, 500);
    assert_true(run_until(cl, all_delivered, NULL, 2000));
    assert_int_equal(cl->errors, 0);
    assert_int_equal(stats(cl, 1).handshakes_ok, 2);

    /* D goes away: the link is down. */
    uv_close((uv_handle_t *)&c[3].r.tcp, raw_closed);
    assert_true(run_until(cl, raw_is_closed, &c[3].r, 2000));
    run_for(cl, 20);
    assert_int_equal(n1->downs[0], 1);
    assert_false(cairn_net_is_up(n1->net, 0));
    assert_int_equal(cairn_net_testing_conns(n1->net), 0);
    for (int i = 0; i < 4; i++) {
        cairn_noise_handshake_wipe(&c[i].hs);
        cairn_noise_transport_wipe(&c[i].tr);
    }
    cluster_free(cl);
    free(c);
}

/* ---- 5: back-pressure ---- */

static void test_back_pressure(void **state)
{
    (void)state;
    cluster *cl = cluster_new(2);
    const size_t budget = 256 * 1024, msg = 64 * 1024;
    opts o = {.max_queue = budget};
    assert_int_equal(node_start(cl, 0, &o), 0);
    assert_int_equal(node_start(cl, 1, &o), 0);
    connect_all(cl);
    size_t two = 2;
    assert_true(run_until(cl, pairs_settled, &two, 3000));

    cairn_net_testing_pause_reading(cl->nodes[1].net, 0, 1);
    /* Send until the kernel buffers are full and the queue no longer drains. */
    size_t refused = 0, accepted = 0, stalled_rounds = 0;
    for (int round = 0; round < 400 && stalled_rounds < 5; round++) {
        int rc;
        size_t sent_now = 0;
        while ((rc = send_msg(cl, 0, 1, msg)) == 0) {
            accepted++;
            sent_now++;
            assert_true(cairn_net_queued_bytes(cl->nodes[0].net, 1) <= budget);
            assert_true(accepted < 100000);
        }
        assert_int_equal(rc, CAIRN_ENET_QUEUE_FULL);
        refused++;
        stalled_rounds = sent_now == 0 ? stalled_rounds + 1 : 0;
        run_for(cl, 10);
        assert_true(cairn_net_queued_bytes(cl->nodes[0].net, 1) <= budget);
    }
    assert_int_equal(stalled_rounds, 5); /* stalled: nothing was accepted for 5 rounds */
    size_t q = cairn_net_queued_bytes(cl->nodes[0].net, 1);
    assert_true(q <= budget && q + msg + 64 > budget);
    cairn_net_stats s = stats(cl, 0);
    assert_int_equal(s.queue_full_drops, refused);
    /* Small messages still fit the remaining room; nothing is delivered yet. */
    assert_int_equal(cl->nodes[1].rx[0], 0);
    assert_true(cairn_net_is_up(cl->nodes[0].net, 1));
    assert_true(cairn_net_is_up(cl->nodes[1].net, 0));

    /* The reader resumes: everything accepted arrives, in order, and the queue drains. */
    cairn_net_testing_pause_reading(cl->nodes[1].net, 0, 0);
    assert_true(run_until(cl, all_delivered, NULL, 5000));
    assert_int_equal(cl->errors, 0);
    assert_int_equal(cl->nodes[1].rx[0], accepted);
    run_for(cl, 20);
    assert_int_equal(cairn_net_queued_bytes(cl->nodes[0].net, 1), 0);
    assert_int_equal(stats(cl, 0).frames_out, accepted);
    for (size_t m = 0; m < 3; m++) {
        assert_int_equal(send_msg(cl, 0, 1, 1000 * m), 0);
        assert_int_equal(send_msg(cl, 1, 0, 1000 * m), 0);
    }
    assert_true(run_until(cl, all_delivered, NULL, 5000));
    assert_int_equal(cl->errors, 0);
    cluster_free(cl);
}

/* ---- 6: restart and reconnect ---- */

static int node2_down(cluster *cl, void *arg)
{
    (void)arg;
    return cl->nodes[0].downs[2] == 1 && cl->nodes[1].downs[2] == 1;
}

static void test_reconnect(void **state)
{
    (void)state;
    cluster *cl = cluster_new(3);
    opts o = {.rmin = 50, .rmax = 1000};
    for (uint32_t i = 0; i < 3; i++) assert_int_equal(node_start(cl, i, &o), 0);
    connect_all(cl);
    size_t three = 3;
    assert_true(run_until(cl, pairs_settled, &three, 3000));
    exchange(cl, 3);

    uint16_t port2 = cairn_net_port(cl->nodes[2].net);
    cairn_net_close(cl->nodes[2].net);
    cl->nodes[2].net = NULL;
    assert_true(run_until(cl, node2_down, NULL, 2000));
    assert_false(cairn_net_is_up(cl->nodes[0].net, 2));
    assert_int_equal(cairn_net_send(cl->nodes[0].net, 2, NULL, 0), CAIRN_ENET_DOWN);
    run_for(cl, 500); /* a few failed dials: the back-off grows to 800 ms */

    /* The same validator comes back on the same port. It does not know the others' ports (0:
     * never dialled), so the links come back only through their reconnects. */
    opts again = o;
    again.port = port2;
    assert_int_equal(node_start(cl, 2, &again), 0);
    assert_int_equal(cairn_net_port(cl->nodes[2].net), port2);
    uint64_t t0 = uv_now(&cl->loop);
    assert_true(run_until(cl, pairs_settled, &three, 3000));
    assert_true(uv_now(&cl->loop) - t0 <= 1500); /* back-off capped at 1000 ms */
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(cl->nodes[i].ups[2], 2);
        assert_int_equal(cl->nodes[i].downs[2], 1);
        assert_int_equal(cairn_net_testing_initiator(cl->nodes[i].net, 2), i);
        forget_in_flight(cl, i, 2);
        forget_in_flight(cl, 2, i);
    }
    exchange(cl, 3);

    /* The successful handshake reset the back-off: after a drop, node 0 re-dials within the
     * minimum (50 ms), not after the 400 ms or more it had reached. */
    cairn_net_drop(cl->nodes[0].net, 2);
    assert_int_equal(cl->nodes[0].downs[2], 2); /* reported before cairn_net_drop returns */
    assert_false(cairn_net_is_up(cl->nodes[0].net, 2));
    t0 = uv_now(&cl->loop);
    assert_true(run_until(cl, pairs_settled, &three, 3000));
    assert_true(uv_now(&cl->loop) - t0 < 300);
    assert_int_equal(cl->nodes[0].ups[2], 3);
    forget_in_flight(cl, 0, 2);
    forget_in_flight(cl, 2, 0);
    exchange(cl, 3);
    cluster_free(cl);
}

/* ---- a peer found by DNS name, dialled one way only ---- */

static void test_dns_one_way(void **state)
{
    (void)state;
    cluster *cl = cluster_new(2);
    cairn_net_peer by_name[N_MAX];
    memcpy(by_name, cl->peers, sizeof by_name);
    strcpy(by_name[1].host, "localhost");
    opts o0 = {.peers = by_name};
    assert_int_equal(node_start(cl, 0, &o0), 0);
    assert_int_equal(node_start(cl, 1, NULL), 0); /* never dials 0 (port unknown) */
    assert_int_equal(
        cairn_net_testing_set_peer_port(cl->nodes[0].net, 1, cairn_net_port(cl->nodes[1].net)), 0);
    size_t two = 2;
    assert_true(run_until(cl, pairs_settled, &two, 3000));
    for (uint32_t i = 0; i < 2; i++) {
        cairn_net_stats s = stats(cl, i);
        assert_int_equal(s.handshakes_ok, 1);
        assert_int_equal(s.duplicate_links, 0);
        assert_int_equal(s.handshakes_failed, 0);
        assert_int_equal(cairn_net_testing_initiator(cl->nodes[i].net, 1 - i), 0);
    }
    exchange(cl, 2);
    cluster_free(cl);
}

/* ---- 7: a frame that fails to decrypt ---- */

static int dropped_and_back(cluster *cl, void *arg)
{
    (void)arg;
    size_t two = 2;
    return cl->nodes[1].downs[0] == 1 && cl->nodes[0].downs[1] == 1 && pairs_settled(cl, &two);
}

static void test_bad_frame(void **state)
{
    (void)state;
    cluster *cl = cluster_new(2);
    opts o = {.rmin = 50, .rmax = 400};
    assert_int_equal(node_start(cl, 0, &o), 0);
    assert_int_equal(node_start(cl, 1, &o), 0);
    connect_all(cl);
    size_t two = 2;
    assert_true(run_until(cl, pairs_settled, &two, 3000));
    exchange(cl, 2);
    size_t before = cl->nodes[1].rx[0];

    cairn_net_testing_corrupt_next(cl->nodes[0].net, 1);
    assert_int_equal(send_msg(cl, 0, 1, 1000), 0);
    assert_true(run_until(cl, dropped_and_back, NULL, 3000));
    assert_int_equal(cl->nodes[1].rx[0], before); /* the tampered message was not delivered */
    assert_int_equal(stats(cl, 1).bad_frames, 1);
    assert_int_equal(stats(cl, 0).bad_frames, 0);
    assert_int_equal(cl->nodes[0].ups[1], 2);
    assert_int_equal(cl->nodes[1].ups[0], 2);
    forget_in_flight(cl, 0, 1);
    exchange(cl, 2);
    assert_int_equal(cl->errors, 0);
    cluster_free(cl);
}

/* ---- changing the peers at an epoch boundary (cairn_net_set_peer) ---- */

static int link_0_2_down(cluster *cl, void *arg)
{
    (void)arg;
    return !cairn_net_is_up(cl->nodes[2].net, 0) && stats(cl, 0).handshakes_failed >= 2;
}

/* Urgent messages overtake the queued bulk but keep their own order; the message already being
 * written is not interrupted. Expected delivery order: 0 (in flight), 1, 2 (urgent), 3, 4. */
static void test_urgent(void **state)
{
    (void)state;
    cluster *cl = cluster_new(2);
    assert_int_equal(node_start(cl, 0, NULL), 0);
    assert_int_equal(node_start(cl, 1, NULL), 0);
    connect_all(cl);
    size_t two = 2;
    assert_true(run_until(cl, pairs_settled, &two, 3000));
    pairq *q = &cl->q[0][1];
    q->rx = q->n = 0;
    q->cap = 8;
    q->lens = realloc(q->lens, q->cap * sizeof *q->lens);
    assert_non_null(q->lens);
    const size_t lens[5] = {cairn_frame_plaintext_max(), 10, 20, 30000, 40};
    const int send_order[5] = {0, 3, 4, 1, 2}; /* seq numbers, in the order they are sent */
    for (size_t i = 0; i < 5; i++) q->lens[q->n++] = lens[i];
    for (size_t k = 0; k < 5; k++) {
        size_t seq = (size_t)send_order[k];
        uint8_t *b = malloc(lens[seq]);
        assert_non_null(b);
        gen(b, lens[seq], 0, 1, seq);
        int urgent = seq == 1 || seq == 2;
        assert_int_equal(urgent ? cairn_net_send_urgent(cl->nodes[0].net, 1, b, lens[seq])
                                : cairn_net_send(cl->nodes[0].net, 1, b, lens[seq]),
                         0);
        free(b);
    }
    assert_true(run_until(cl, all_delivered, NULL, 5000));
    assert_int_equal(cl->nodes[1].rx[0], 5);
    assert_int_equal(cl->errors, 0); /* every message arrived at its expected position */
    assert_int_equal(cairn_net_queued_bytes(cl->nodes[0].net, 1), 0);
    cluster_free(cl);
}

static void test_set_peer(void **state)
{
    (void)state;
    cluster *cl = cluster_new(3);
    /* Nodes 0 and 1 start with slot 2 empty (all-zero key): validator 2 joins later. */
    cairn_net_peer without2[N_MAX];
    memcpy(without2, cl->peers, sizeof without2);
    memset(without2[2].noise_pub, 0, 32);
    opts o = {.peers = without2, .rmin = 50, .rmax = 200, .hs_ms = 1000};
    opts o2 = {.rmin = 50, .rmax = 200, .hs_ms = 1000};
    assert_int_equal(node_start(cl, 0, &o), 0);
    assert_int_equal(node_start(cl, 1, &o), 0);
    assert_int_equal(node_start(cl, 2, &o2), 0);
    /* Node 2 dials both: its key is in no slot of theirs, so every handshake fails. */
    assert_int_equal(
        cairn_net_testing_set_peer_port(cl->nodes[0].net, 1, cairn_net_port(cl->nodes[1].net)), 0);
    for (uint32_t j = 0; j < 2; j++)
        assert_int_equal(
            cairn_net_testing_set_peer_port(cl->nodes[2].net, j, cairn_net_port(cl->nodes[j].net)),
            0);
    size_t two = 2;
    assert_true(run_until(cl, pairs_settled, &two, 3000));
    run_for(cl, 300);
    assert_false(cairn_net_is_up(cl->nodes[2].net, 0));
    assert_false(cairn_net_is_up(cl->nodes[2].net, 1));
    assert_true(stats(cl, 0).handshakes_failed >= 1);
    assert_int_equal(cl->nodes[0].ups[2], 0);
    assert_int_equal(cairn_net_send(cl->nodes[0].net, 2, NULL, 0), CAIRN_ENET_DOWN);

    /* Misuse: self, out of range, a key another slot holds. */
    cairn_net_peer p2 = cl->peers[2];
    p2.port = cairn_net_port(cl->nodes[2].net);
    assert_int_equal(cairn_net_set_peer(cl->nodes[0].net, 0, &p2), CAIRN_ENET_PEER);
    assert_int_equal(cairn_net_set_peer(cl->nodes[0].net, 3, &p2), CAIRN_ENET_PEER);
    cairn_net_peer dup = cl->peers[1];
    assert_int_equal(cairn_net_set_peer(cl->nodes[0].net, 2, &dup), CAIRN_EINVAL);

    /* The new epoch admits validator 2: links come up both ways and carry messages. */
    assert_int_equal(cairn_net_set_peer(cl->nodes[0].net, 2, &p2), 0);
    assert_int_equal(cairn_net_set_peer(cl->nodes[1].net, 2, &p2), 0);
    size_t three = 3;
    assert_true(run_until(cl, pairs_settled, &three, 3000));
    for (uint32_t i = 0; i < 3; i++)
        for (uint32_t j = 0; j < 3; j++) forget_in_flight(cl, i, j);
    exchange(cl, 3);

    /* Node 0's next epoch removes validator 2: its link goes at once (reported before the call
     * returns) and its re-dials fail the handshake; 0 and 1 stay linked. */
    assert_int_equal(cairn_net_set_peer(cl->nodes[0].net, 2, NULL), 0);
    assert_int_equal(cl->nodes[0].downs[2], 1);
    assert_false(cairn_net_is_up(cl->nodes[0].net, 2));
    assert_int_equal(cairn_net_send(cl->nodes[0].net, 2, NULL, 0), CAIRN_ENET_DOWN);
    uint64_t failed = stats(cl, 0).handshakes_failed;
    assert_true(run_until(cl, link_0_2_down, NULL, 2000));
    run_for(cl, 400);
    assert_true(stats(cl, 0).handshakes_failed > failed);
    assert_false(cairn_net_is_up(cl->nodes[0].net, 2));
    assert_int_equal(cl->nodes[0].ups[2], 1);
    assert_true(cairn_net_is_up(cl->nodes[0].net, 1));
    for (uint32_t i = 0; i < 3; i++)
        for (uint32_t j = 0; j < 3; j++) forget_in_flight(cl, i, j);
    exchange(cl, 2);
    cluster_free(cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mesh),
        cmocka_unit_test(test_impostors),
        cmocka_unit_test(test_raw_clients),
        cmocka_unit_test(test_pending_cap),
        cmocka_unit_test(test_hello_and_replacement),
        cmocka_unit_test(test_back_pressure),
        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_dns_one_way),
        cmocka_unit_test(test_bad_frame),
        cmocka_unit_test(test_set_peer),
        cmocka_unit_test(test_urgent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
