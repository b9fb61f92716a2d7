/*
 * cairn-bench cluster — end-to-end throughput and latency of a real Cairn devnet on this
 * machine, beside a 3-member etcd cluster doing durable replicated writes of the same size:
 *
 *   cairn-bench cluster [--validators V] [--devices D] [--seconds S] [--connections C]
 *                       [--window W] [--gateway G] [--etcd-connections E] [--skip-etcd]
 *
 * Defaults: 4 validators, 2,000 devices, 20 s per run, 16 connections per validator, window
 * 4,000 transactions, 32 etcd connections per member. --gateway G (2..250) makes every request a
 * POST /v1/txs/batch of G transactions (a gateway in front of its devices) instead of one
 * POST /v1/txs per transaction.
 *
 * 1. Writes a V-validator devnet (cairn_node_devnet_init) into a temporary directory on free
 *    loopback ports and starts one `cairnd --home` per validator (the cairnd beside this
 *    binary); waits until every node is healthy.
 * 2. Registers D Ed25519 devices (DeviceRegister signed by the devnet's admin key, submitted in
 *    windows of 1,000).
 * 3. Load: C keep-alive HTTP/1.1 connections per validator (one thread each, one request in
 *    flight per connection) POST pre-signed DataAnchor transactions of the devices; device d is
 *    always sent on connection d mod (C * V) so its anchors keep their sequence order. Every
 *    transaction is signed before the timed phase. A follower thread reads every block of node0
 *    (GET /v1/blocks/{height}) and maps its tx hashes to their submit times: commit time is when
 *    the follower saw the block. At most W transactions are submitted and not yet committed
 *    (bounded outstanding).
 *      - warm-up:    2 s at full speed (not reported);
 *      - saturation: S seconds as fast as the window allows;
 *      - half:       S seconds paced at half the saturation rate (open loop).
 *    committed_per_s counts the run's transactions committed while it was submitting, divided
 *    by the submitting time; p50/p99 are over all of the run's committed transactions
 *    (submit -> seen in a block), after a drain of at most 30 s.
 * 4. The machine's bound: every validator verifies every transaction's Ed25519 signature once,
 *    so at most cores / (V * verify_cost) transactions per second, with verify_cost the
 *    project's single Ed25519 verification (cairn_ed25519_verify) timed in this run.
 * 5. etcd (Debian's etcd-server, 3.4): 3 members on loopback in the temporary directory, the
 *    cairnd nodes stopped first; E keep-alive connections per member PUT values of the anchor
 *    transaction's size through the v3 JSON gateway (POST /v3/kv/put) for S seconds: each PUT
 *    returns once it is committed by a quorum and fsynced.
 *
 * Output: a human table, then one JSON line per run (exit 0); 1 when the cluster stalled
 * (nothing committed for 10 s with transactions outstanding: the node heights are printed and
 * the work directory is kept), 130 after SIGINT/SIGTERM/SIGHUP, 2 for bad arguments; other
 * failures exit with the CLI's code for their error (README "Exit codes"). Every child process gets
 * SIGTERM (then SIGKILL after 10 s) when the benchmark ends, also on errors and signals (a sigwait
 * thread turns those into an orderly stop); a child also gets SIGTERM if the benchmark dies anyway
 * (PR_SET_PDEATHSIG). --keep keeps the work directory (node logs, etcd logs).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/genesis.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "ledger/records.h"
#include "ledger/sig.h"
#include "ledger/txbuild.h"
#include "node/devnet.h"
#include "proto/cairn/v1/api.pb-c.h"
#include "tools/bench.h"
#include "tools/cli_util.h"
#include "tools/http_client.h"

#define HOST               "127.0.0.1"
#define MAX_VALIDATORS     16u
#define MAX_CHILDREN       (MAX_VALIDATORS + 3u)
#define MAX_CONNS          256u
#define MAX_CONNS_PER_NODE 60u /* below api.max_connections (64): room for the follower */
#define ETCD_MEMBERS       3u
#define MAX_ETCD_CONNS     128u /* per member */
#define REG_WINDOW         1000u
#define PROBE_S            2.0
#define PROBE_POOL         40000u
#define MAX_POOL           2000000u
#define STALL_S            10.0
#define DRAIN_S            30.0
#define HEALTH_WAIT_S      20.0
#define IO_TIMEOUT_S       15
#define EXPIRY_BLOCKS      10000u
#define FOLLOW_RETRIES     50 /* consecutive failed block reads, 0.1 s apart */
#define VERIFY_SAMPLES     2000u
#define RESP_MAX           ((size_t)8 << 20)

/* ---- child processes ---- */

typedef struct children {
    pid_t pid[MAX_CHILDREN];
    size_t n;
} children;

/* Starts argv[0] with stdout and stderr appended to log; the child dies with us. */
static int spawn(children *ch, char *const argv[], const char *log)
{
    if (ch->n == MAX_CHILDREN) return CAIRN_EINVAL;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return cairn_err_from_errno(errno);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fd);
        return cairn_err_from_errno(e);
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        /* The benchmark blocks its stop signals (the watcher thread takes them): not so here. */
        if (sigprocmask(SIG_SETMASK, &none, NULL) != 0 || signal(SIGPIPE, SIG_DFL) == SIG_ERR ||
            prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(127);
        if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd);
    ch->pid[ch->n++] = pid;
    return 0;
}

/* 0 once child i has exited (it is reaped then, and forgotten: its pid becomes -1). */
static int child_alive(children *ch, size_t i)
{
    int st;
    if (ch->pid[i] <= 0) return 0;
    if (waitpid(ch->pid[i], &st, WNOHANG) == 0) return 1;
    ch->pid[i] = -1;
    return 0;
}

/* SIGTERM to every child, SIGKILL to those still there after 10 s; reaps them all. */
static void stop_children(children *ch)
{
    for (size_t i = 0; i < ch->n; i++)
        if (ch->pid[i] > 0) kill(ch->pid[i], SIGTERM);
    double deadline = bench_now() + 10;
    for (size_t i = 0; i < ch->n; i++) {
        int st;
        while (ch->pid[i] > 0 && waitpid(ch->pid[i], &st, WNOHANG) == 0) {
            if (bench_now() > deadline) {
                kill(ch->pid[i], SIGKILL);
                waitpid(ch->pid[i], &st, 0);
                break;
            }
            usleep(20000);
        }
    }
    ch->n = 0;
}

/* ---- ports ---- */

static int port_free(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, HOST, &a.sin_addr);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A base port with n free consecutive ports after it, in 20000..59999. */
static int find_ports(unsigned n, unsigned *base)
{
    uint32_t r = randombytes_uniform(40000 - n);
    for (unsigned tries = 0; tries < 400; tries++) {
        unsigned b = 20000 + (r + tries * 97) % (40000 - n), k = 0;
        while (k < n && port_free(b + k)) k++;
        if (k == n) {
            *base = b;
            return 0;
        }
    }
    return CAIRN_EAGAIN;
}

/* ---- a keep-alive HTTP/1.1 client connection (one request in flight) ---- */

typedef struct kconn {
    int fd;
    unsigned port;
    uint8_t *buf;
    size_t cap;
} kconn;

static void kc_close(kconn *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

static int kc_connect(kconn *c)
{
    kc_close(c);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return cairn_err_from_errno(errno);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    inet_pton(AF_INET, HOST, &a.sin_addr);
    int one = 1;
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        return e == ECONNREFUSED ? CAIRN_ECONNECT : cairn_err_from_errno(e);
    }
    c->fd = fd;
    return 0;
}

static int kc_init(kconn *c, unsigned port)
{
    c->fd = -1;
    c->port = port;
    c->cap = 64 << 10;
    c->buf = malloc(c->cap);
    return c->buf ? 0 : CAIRN_ENOMEM;
}

static void kc_free(kconn *c)
{
    kc_close(c);
    free(c->buf);
    c->buf = NULL;
}

static int send_all(int fd, const void *p, size_t len)
{
    const uint8_t *b = p;
    while (len) {
        ssize_t k = send(fd, b, len, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return CAIRN_EIO;
        b += k;
        len -= (size_t)k;
    }
    return 0;
}

/* One exchange on the open connection. CAIRN_ECONNECT when the server had closed it before
 * answering anything (the caller reconnects and retries). */
static int kc_exchange(kconn *c, const char *head, size_t head_len, const void *body, size_t len,
                       int *status, uint8_t **resp, size_t *resp_len)
{
    if (send_all(c->fd, head, head_len) || (len && send_all(c->fd, body, len)))
        return CAIRN_ECONNECT;
    size_t have = 0;
    for (;;) {
        if (have == c->cap) {
            if (c->cap >= RESP_MAX) return CAIRN_EHTTP_RESPONSE_TOO_BIG;
            uint8_t *nb = realloc(c->buf, c->cap * 2);
            if (!nb) return CAIRN_ENOMEM;
            c->buf = nb;
            c->cap *= 2;
        }
        ssize_t k = recv(c->fd, c->buf + have, c->cap - have, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? CAIRN_ETIMEOUT : CAIRN_EIO;
        if (k == 0) {
            if (have == 0) return CAIRN_ECONNECT;
            return cairn_http_response_parse(c->buf, have, 1, RESP_MAX, status, resp, resp_len);
        }
        have += (size_t)k;
        int err = cairn_http_response_parse(c->buf, have, 0, RESP_MAX, status, resp, resp_len);
        if (err != CAIRN_EAGAIN) return err;
    }
}

/* method path [body of content_type]; *resp is heap (caller frees). Reconnects once. */
static int kc_request(kconn *c, const char *method, const char *path, const char *content_type,
                      const void *body, size_t len, int *status, uint8_t **resp, size_t *resp_len)
{
    char head[512];
    int hl = content_type ? snprintf(head, sizeof head,
                                     "%s %s HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: %s\r\n"
                                     "Content-Length: %zu\r\n\r\n",
                                     method, path, HOST, c->port, content_type, len)
                          : snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s:%u\r\n\r\n",
                                     method, path, HOST, c->port);
    if (hl < 0 || (size_t)hl >= sizeof head) return CAIRN_EINVAL;
    int err = CAIRN_ECONNECT;
    for (int attempt = 0; attempt < 2 && err == CAIRN_ECONNECT; attempt++) {
        if (c->fd < 0 && (err = kc_connect(c))) return err;
        err = kc_exchange(c, head, (size_t)hl, body, len, status, resp, resp_len);
        if (err) kc_close(c);
    }
    return err;
}

/* ---- transactions, the follower and the load ---- */

typedef struct txpool {
    size_t n;
    uint8_t **raw;
    size_t *len;
    uint8_t (*hash)[32];
    uint32_t *conn; /* connection that sends it */
    _Atomic uint64_t *submit_ns, *commit_ns;
    int32_t *result;
    uint32_t *table; /* tx hash -> index + 1, open addressing */
    size_t table_mask;
} txpool;

typedef struct device {
    cairn_keypair kp;
    uint8_t id[32];
    uint64_t next_seq;
} device;

typedef struct cluster {
    /* options */
    unsigned validators, conns_per_validator, window, etcd_conns;
    unsigned gateway; /* > 1: each request is a POST /v1/txs/batch of this many transactions */
    uint64_t devices, seconds;
    int skip_etcd, keep;
    /* environment */
    char dir[64], cairnd[PATH_MAX];
    int dir_made;
    unsigned base_port;
    children ch;
    cairn_sig_ctx *sig;
    cairn_keypair admin;
    uint8_t org[32];
    char chain_id[CAIRN_CHAIN_ID_MAX + 1];
    uint64_t start_height; /* head when transactions are signed */
    device *dev;
    uint64_t nonce;
    /* the current run; pool is swapped under lock, which the follower holds while it stamps */
    pthread_mutex_t lock;
    pthread_cond_t room; /* broadcast under lock when the follower frees window room */
    txpool *pool;
    double rate;      /* paced transactions per second; 0 = as fast as the window allows */
    double t0, t_end; /* submitting window (bench_now seconds) */
    _Atomic int stop_senders, stop_follower;
    _Atomic int interrupted; /* SIGINT, SIGTERM or SIGHUP arrived: wind down and clean up */
    sigset_t sigs;           /* those, and SIGUSR1 (the watcher's "done") */
    _Atomic int64_t outstanding;
    _Atomic uint64_t submitted, admitted, refused, committed;
    _Atomic int follower_err;
    uint64_t next_height; /* the follower's next block */
    _Atomic unsigned senders_done;
    _Atomic uint64_t last_commit_ns; /* when the follower last stamped a transaction */
} cluster;

static uint64_t now_ns(void)
{
    return (uint64_t)(bench_now() * 1e9);
}

static size_t hash_slot(const txpool *p, const uint8_t h[32])
{
    uint64_t k;
    memcpy(&k, h, 8);
    return (size_t)k & p->table_mask;
}

static void pool_free(txpool *p)
{
    if (!p) return;
    for (size_t i = 0; p->raw && i < p->n; i++) free(p->raw[i]);
    free(p->raw);
    free(p->len);
    free(p->hash);
    free(p->conn);
    free((void *)p->submit_ns);
    free((void *)p->commit_ns);
    free(p->result);
    free(p->table);
    free(p);
}

static int pool_new(txpool **out, size_t n)
{
    txpool *p = calloc(1, sizeof *p);
    if (!p) return CAIRN_ENOMEM;
    p->n = n;
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    p->table_mask = cap - 1;
    p->raw = calloc(n, sizeof *p->raw);
    p->len = calloc(n, sizeof *p->len);
    p->hash = calloc(n, sizeof *p->hash);
    p->conn = calloc(n, sizeof *p->conn);
    p->submit_ns = calloc(n, sizeof *p->submit_ns);
    p->commit_ns = calloc(n, sizeof *p->commit_ns);
    p->result = calloc(n, sizeof *p->result);
    p->table = calloc(cap, sizeof *p->table);
    if (!p->raw || !p->len || !p->hash || !p->conn || !p->submit_ns || !p->commit_ns ||
        !p->result || !p->table) {
        pool_free(p);
        return CAIRN_ENOMEM;
    }
    *out = p;
    return 0;
}

static void pool_index(txpool *p)
{
    for (size_t i = 0; i < p->n; i++) {
        size_t s = hash_slot(p, p->hash[i]);
        while (p->table[s]) s = (s + 1) & p->table_mask;
        p->table[s] = (uint32_t)i + 1;
    }
}

static long pool_find(const txpool *p, const uint8_t h[32])
{
    for (size_t s = hash_slot(p, h); p->table[s]; s = (s + 1) & p->table_mask)
        if (memcmp(p->hash[p->table[s] - 1], h, 32) == 0) return (long)p->table[s] - 1;
    return -1;
}

static unsigned total_conns(const cluster *b)
{
    return b->validators * b->conns_per_validator;
}

/* Keeps the transaction's bytes and hash in slot i of the pool. */
static int pool_put(txpool *p, size_t i, const Cairn__V1__TxBody *body, const char *chain_id,
                    const cairn_keypair *kp)
{
    cairn_buf tx = CAIRN_BUF_INIT;
    int err = cairn_tx_build(&tx, chain_id, body, kp, p->hash[i]);
    if (err) {
        cairn_buf_free(&tx);
        return err;
    }
    p->raw[i] = malloc(tx.len);
    if (!p->raw[i]) {
        cairn_buf_free(&tx);
        return CAIRN_ENOMEM;
    }
    memcpy(p->raw[i], tx.p, tx.len);
    p->len[i] = tx.len;
    cairn_buf_free(&tx);
    return 0;
}

static void set_common(cluster *b, Cairn__V1__TxBody *body, uint8_t nonce[8], uint64_t n)
{
    memcpy(nonce, &n, 8);
    body->chain_id = b->chain_id;
    body->nonce = (ProtobufCBinaryData){8, nonce};
    body->expiry_height = b->start_height + EXPIRY_BLOCKS;
}

/* Registration of device d (signed by the admin key). */
static int build_register(cluster *b, txpool *p, size_t i, uint64_t d)
{
    device *dv = &b->dev[d];
    uint8_t commit[32], pop[64], nonce[8];
    cairn_sha256_oneshot(commit, &d, sizeof d);
    cairn_device_id(dv->id, b->chain_id, b->org, commit);
    int err = cairn_pop_sign(b->chain_id, b->org, &dv->kp, pop);
    if (err) return err;
    Cairn__V1__TxBody body = CAIRN__V1__TX_BODY__INIT;
    Cairn__V1__DeviceRegister r = CAIRN__V1__DEVICE_REGISTER__INIT;
    Cairn__V1__PublicKey pk = CAIRN__V1__PUBLIC_KEY__INIT;
    Cairn__V1__ExternalIdCommitment ic = CAIRN__V1__EXTERNAL_ID_COMMITMENT__INIT, *ics[1] = {&ic};
    pk.alg = CAIRN__V1__SIG_ALG__SIG_ALG_ED25519;
    pk.key = (ProtobufCBinaryData){32, dv->kp.pub};
    ic.scheme = CAIRN__V1__ID_SCHEME__ID_SCHEME_UEID;
    ic.commitment = (ProtobufCBinaryData){32, commit};
    r.owner_org = (ProtobufCBinaryData){32, b->org};
    r.device_key = &pk;
    r.pop_signature = (ProtobufCBinaryData){64, pop};
    r.n_identifiers = 1;
    r.identifiers = ics;
    r.device_class = "bench-sensor";
    set_common(b, &body, nonce, b->nonce++);
    body.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DEVICE_REGISTER;
    body.device_register = &r;
    p->conn[i] = (uint32_t)(d % total_conns(b));
    return pool_put(p, i, &body, b->chain_id, &b->admin);
}

/* An anchor of device d with its next sequence number and the given nonce. */
static int build_anchor(cluster *b, txpool *p, size_t i, uint64_t d, uint64_t seq, uint64_t nonce)
{
    uint8_t dig[32], nb[8];
    uint64_t x[2] = {nonce, d};
    cairn_sha256_oneshot(dig, x, sizeof x);
    Cairn__V1__TxBody body = CAIRN__V1__TX_BODY__INIT;
    Cairn__V1__DataAnchor a = CAIRN__V1__DATA_ANCHOR__INIT;
    Cairn__V1__Digest dd = CAIRN__V1__DIGEST__INIT;
    dd.alg = CAIRN__V1__DIGEST__ALG__ALG_SHA256;
    dd.value = (ProtobufCBinaryData){32, dig};
    a.device_id = (ProtobufCBinaryData){32, b->dev[d].id};
    a.stream_id = (ProtobufCBinaryData){5, (uint8_t *)"bench"};
    a.sequence = seq;
    a.data_digest = &dd;
    set_common(b, &body, nb, nonce);
    body.payload_case = CAIRN__V1__TX_BODY__PAYLOAD_DATA_ANCHOR;
    body.data_anchor = &a;
    p->conn[i] = (uint32_t)(d % total_conns(b));
    return pool_put(p, i, &body, b->chain_id, &b->dev[d].kp);
}

typedef struct sign_job {
    cluster *b;
    txpool *p;
    size_t lo, hi;
    uint64_t first; /* anchor number of slot 0 */
    int err;
} sign_job;

static void *sign_worker(void *arg)
{
    sign_job *j = arg;
    cluster *b = j->b;
    for (size_t i = j->lo; i < j->hi && !j->err; i++) {
        if (atomic_load(&b->interrupted)) {
            j->err = CAIRN_EAGAIN;
            break;
        }
        uint64_t k = j->first + i, d = k % b->devices;
        /* Anchor k is device d's (k / D + 1)-th anchor overall: sequences only grow. */
        j->err = build_anchor(b, j->p, i, d, k / b->devices + 1, b->nonce + i);
    }
    return NULL;
}

/* Signs n anchors, the next ones of every device in turn, on every core. */
static int pool_anchors(cluster *b, size_t n, uint64_t *anchor_counter, txpool **out)
{
    txpool *p;
    int err = pool_new(&p, n);
    if (err) return err;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = cores > 1 ? (size_t)(cores > 8 ? 8 : cores) : 1;
    sign_job jobs[8];
    pthread_t th[8];
    size_t started = 0;
    for (size_t t = 0; t < nt; t++) {
        jobs[t] = (sign_job){b, p, n * t / nt, n * (t + 1) / nt, *anchor_counter, 0};
        if (pthread_create(&th[t], NULL, sign_worker, &jobs[t]) != 0) {
            err = CAIRN_ENOMEM;
            break;
        }
        started++;
    }
    for (size_t t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        if (!err) err = jobs[t].err;
    }
    if (err) {
        pool_free(p);
        return err;
    }
    *anchor_counter += n;
    b->nonce += n;
    pool_index(p);
    *out = p;
    return 0;
}

/* The follower: reads node0's blocks in order and stamps the pool's transactions. */
static void *follower(void *arg)
{
    cluster *b = arg;
    kconn c;
    if (kc_init(&c, cairn_devnet_api_port(b->base_port, 0))) {
        atomic_store(&b->follower_err, CAIRN_ENOMEM);
        return NULL;
    }
    char path[64];
    unsigned failures = 0;
    while (!atomic_load(&b->stop_follower)) {
        snprintf(path, sizeof path, "/v1/blocks/%llu", (unsigned long long)b->next_height);
        int status;
        uint8_t *body;
        size_t len;
        int err = kc_request(&c, "GET", path, NULL, NULL, 0, &status, &body, &len);
        if (err && ++failures <= FOLLOW_RETRIES) {
            fprintf(stderr, "cairn-bench cluster: GET %s from node0: %s (retrying)\n", path,
                    cairn_err_name(err));
            usleep(100000);
            continue;
        }
        if (err) {
            atomic_store(&b->follower_err, err);
            break;
        }
        failures = 0;
        uint64_t seen = now_ns();
        if (status == 404) {
            free(body);
            usleep(2000);
            continue;
        }
        json_error_t jerr;
        json_t *j = status == 200 ? json_loadb((const char *)body, len, 0, &jerr) : NULL;
        free(body);
        json_t *hashes = json_object_get(j, "tx_hashes"), *results = json_object_get(j, "results");
        if (!json_is_array(hashes) || !json_is_array(results)) {
            json_decref(j);
            atomic_store(&b->follower_err, CAIRN_EHTTP_RESPONSE);
            break;
        }
        pthread_mutex_lock(&b->lock);
        txpool *p = b->pool;
        for (size_t i = 0; p && i < json_array_size(hashes); i++) {
            uint8_t h[32];
            const char *hx = json_string_value(json_array_get(hashes, i));
            if (!hx || cairn_hex_decode_exact(h, 32, hx) != 0) continue;
            long k = pool_find(p, h);
            /* Only this thread stamps: the result is written before the commit time. */
            if (k < 0 || atomic_load(&p->commit_ns[k]) != 0) continue;
            p->result[k] = (int32_t)json_integer_value(json_array_get(results, i));
            atomic_store(&p->commit_ns[k], seen);
            atomic_store(&b->last_commit_ns, seen);
            atomic_fetch_add(&b->committed, 1);
            atomic_fetch_sub(&b->outstanding, 1);
        }
        pthread_cond_broadcast(&b->room);
        pthread_mutex_unlock(&b->lock);
        json_decref(j);
        b->next_height++;
    }
    kc_free(&c);
    return NULL;
}

typedef struct sender {
    cluster *b;
    unsigned conn;
    uint32_t *mine; /* indexes of the pool this connection sends, in order */
    size_t n_mine;
    int err;
} sender;

static void *send_worker(void *arg)
{
    sender *s = arg;
    cluster *b = s->b;
    txpool *p = b->pool;
    kconn c;
    if ((s->err = kc_init(&c, cairn_devnet_api_port(b->base_port, s->conn % b->validators)))) {
        atomic_fetch_add(&b->senders_done, 1);
        return NULL;
    }
    double interval = b->rate > 0 ? (double)total_conns(b) / b->rate : 0;
    for (size_t k = 0; k < s->n_mine && !atomic_load(&b->stop_senders); k++) {
        if (interval > 0) {
            double at = b->t0 + (double)k * interval + interval * s->conn / total_conns(b);
            double wait = at - bench_now();
            if (wait > 0) usleep((useconds_t)(wait * 1e6));
        }
        if (atomic_load(&b->outstanding) >= (int64_t)b->window) {
            /* Sleep until the follower frees room: polling here cost the validators a quarter of
             * the machine's CPU at saturation (64 threads waking every 200 us). */
            pthread_mutex_lock(&b->lock);
            while (atomic_load(&b->outstanding) >= (int64_t)b->window && bench_now() < b->t_end &&
                   !atomic_load(&b->follower_err) && !atomic_load(&b->stop_senders)) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 50 * 1000000L; /* bounded: t_end and errors are seen within 50 ms */
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                (void)pthread_cond_timedwait(&b->room, &b->lock, &ts);
            }
            pthread_mutex_unlock(&b->lock);
        }
        if (atomic_load(&b->follower_err)) break;
        if (bench_now() >= b->t_end) break;
        if (b->gateway > 1) {
            /* A gateway: the next G of this connection's transactions in one request. */
            size_t g = s->n_mine - k < b->gateway ? s->n_mine - k : b->gateway;
            ProtobufCBinaryData txs[250];
            for (size_t j = 0; j < g; j++) {
                size_t i = s->mine[k + j];
                txs[j] = (ProtobufCBinaryData){p->len[i], p->raw[i]};
                atomic_store(&p->submit_ns[i], now_ns());
            }
            atomic_fetch_add(&b->outstanding, (int64_t)g);
            atomic_fetch_add(&b->submitted, g);
            Cairn__V1__SubmitTxBatch sb = CAIRN__V1__SUBMIT_TX_BATCH__INIT;
            sb.n_txs = g;
            sb.txs = txs;
            uint8_t body[65536];
            size_t blen = cairn__v1__submit_tx_batch__get_packed_size(&sb);
            if (blen > sizeof body) {
                s->err = CAIRN_ETOOBIG;
                break;
            }
            cairn__v1__submit_tx_batch__pack(&sb, body);
            int status;
            uint8_t *resp;
            size_t len;
            int err = kc_request(&c, "POST", "/v1/txs/batch", "application/x-protobuf", body, blen,
                                 &status, &resp, &len);
            if (err) {
                fprintf(stderr, "cairn-bench cluster: POST /v1/txs/batch to node%u (port %u): %s\n",
                        s->conn % b->validators, c.port, cairn_err_name(err));
                s->err = err;
                atomic_fetch_sub(&b->outstanding, (int64_t)g);
                break;
            }
            json_error_t je;
            json_t *j = status == 200 ? json_loadb((const char *)resp, len, 0, &je) : NULL;
            size_t acc = j ? (size_t)json_integer_value(json_object_get(j, "accepted")) : 0;
            json_decref(j);
            free(resp);
            if (acc > g) acc = g;
            atomic_fetch_add(&b->admitted, acc);
            atomic_fetch_add(&b->refused, g - acc);
            atomic_fetch_sub(&b->outstanding, (int64_t)(g - acc));
            k += g - 1;
            continue;
        }
        size_t i = s->mine[k];
        atomic_fetch_add(&b->outstanding, 1);
        atomic_store(&p->submit_ns[i], now_ns());
        atomic_fetch_add(&b->submitted, 1);
        int status;
        uint8_t *resp;
        size_t len;
        int err = kc_request(&c, "POST", "/v1/txs", "application/x-protobuf", p->raw[i], p->len[i],
                             &status, &resp, &len);
        if (err) {
            fprintf(stderr, "cairn-bench cluster: POST /v1/txs to node%u (port %u): %s\n",
                    s->conn % b->validators, c.port, cairn_err_name(err));
            s->err = err;
            atomic_fetch_sub(&b->outstanding, 1);
            break;
        }
        free(resp);
        if (status == 202) {
            atomic_fetch_add(&b->admitted, 1);
        } else {
            /* Refused at admission (e.g. 503 EMEMPOOL_FULL): it will never commit. */
            atomic_fetch_add(&b->refused, 1);
            atomic_fetch_sub(&b->outstanding, 1);
        }
    }
    kc_free(&c);
    atomic_fetch_add(&b->senders_done, 1);
    return NULL;
}

typedef struct run_result {
    double seconds, committed_per_s, p50_ms, p99_ms;
    uint64_t submitted, admitted, refused, committed, committed_in_window, failed;
    int stalled; /* nothing committed for STALL_S seconds with transactions outstanding */
} run_result;

/* 1 when transactions are outstanding and none committed for STALL_S seconds. */
static int stalled(cluster *b)
{
    uint64_t now = now_ns(), last = atomic_load(&b->last_commit_ns);
    return atomic_load(&b->outstanding) > 0 && now > last && now - last > (uint64_t)(STALL_S * 1e9);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sends the pool (paced at rate, or as fast as the window allows) for at most seconds, drains,
 * and measures. The follower must be running. */
static int run_pool(cluster *b, txpool *p, double rate, double seconds, run_result *r)
{
    unsigned nc = total_conns(b);
    sender *s = calloc(nc, sizeof *s);
    pthread_t *th = calloc(nc, sizeof *th);
    uint32_t *idx = malloc(p->n * sizeof *idx);
    size_t *count = calloc(nc, sizeof *count);
    uint64_t *lat = malloc(p->n * sizeof *lat);
    int err = s && th && idx && count && lat ? 0 : CAIRN_ENOMEM;
    size_t started = 0;
    if (!err) {
        for (size_t i = 0; i < p->n; i++) count[p->conn[i]]++;
        size_t off = 0;
        for (unsigned c = 0; c < nc; c++) {
            s[c] = (sender){.b = b, .conn = c, .mine = idx + off};
            off += count[c];
        }
        for (size_t i = 0; i < p->n; i++) s[p->conn[i]].mine[s[p->conn[i]].n_mine++] = (uint32_t)i;
        pthread_mutex_lock(&b->lock);
        b->pool = p;
        pthread_mutex_unlock(&b->lock);
        b->rate = rate;
        atomic_store(&b->outstanding, 0);
        atomic_store(&b->submitted, 0);
        atomic_store(&b->admitted, 0);
        atomic_store(&b->refused, 0);
        atomic_store(&b->committed, 0);
        atomic_store(&b->stop_senders, atomic_load(&b->interrupted));
        atomic_store(&b->senders_done, 0);
        b->t0 = bench_now() + 0.05;
        atomic_store(&b->last_commit_ns, (uint64_t)(b->t0 * 1e9));
        b->t_end = b->t0 + seconds;
        for (unsigned c = 0; c < nc && !err; c++) {
            if (pthread_create(&th[c], NULL, send_worker, &s[c]) != 0)
                err = CAIRN_ENOMEM;
            else
                started++;
        }
    }
    if (err) atomic_store(&b->stop_senders, 1);
    int stall = 0;
    while (!err && atomic_load(&b->senders_done) < started && !atomic_load(&b->follower_err)) {
        if (stalled(b)) {
            stall = 1;
            atomic_store(&b->stop_senders, 1);
            break;
        }
        usleep(20000);
    }
    for (size_t c = 0; c < started; c++) {
        pthread_join(th[c], NULL);
        if (!err && s[c].err) err = s[c].err;
    }
    double t_stop = bench_now();
    if (t_stop > b->t_end) t_stop = b->t_end;
    /* Drain: wait for what was admitted to commit. */
    double drain_end = bench_now() + DRAIN_S;
    while (!err && !stall && atomic_load(&b->outstanding) > 0 && bench_now() < drain_end &&
           !atomic_load(&b->interrupted) && !atomic_load(&b->follower_err)) {
        stall = stalled(b);
        usleep(2000);
    }
    if (!err) err = atomic_load(&b->follower_err);
    if (!err) {
        memset(r, 0, sizeof *r);
        r->stalled = stall;
        r->seconds = t_stop - b->t0;
        r->submitted = atomic_load(&b->submitted);
        r->admitted = atomic_load(&b->admitted);
        r->refused = atomic_load(&b->refused);
        size_t nl = 0;
        uint64_t stop_ns = (uint64_t)(t_stop * 1e9);
        for (size_t i = 0; i < p->n; i++) {
            uint64_t c = atomic_load(&p->commit_ns[i]), sub = atomic_load(&p->submit_ns[i]);
            if (!c || !sub) continue;
            r->committed++;
            if (p->result[i] != 0) r->failed++;
            if (c <= stop_ns) r->committed_in_window++;
            lat[nl++] = c > sub ? c - sub : 0;
        }
        qsort(lat, nl, sizeof *lat, cmp_u64);
        r->committed_per_s = r->seconds > 0 ? (double)r->committed_in_window / r->seconds : 0;
        r->p50_ms = nl ? (double)lat[nl / 2] / 1e6 : 0;
        r->p99_ms = nl ? (double)lat[(nl * 99) / 100 < nl ? (nl * 99) / 100 : nl - 1] / 1e6 : 0;
    }
    pthread_mutex_lock(&b->lock);
    b->pool = NULL; /* the follower ignores later blocks; p may be freed */
    pthread_mutex_unlock(&b->lock);
    free(s);
    free(th);
    free(idx);
    free(count);
    free(lat);
    return err;
}

/* ---- setup ---- */

static int wait_healthy(cluster *b, unsigned port, size_t child)
{
    char url[64];
    snprintf(url, sizeof url, "http://%s:%u/healthz", HOST, port);
    double end = bench_now() + HEALTH_WAIT_S;
    while (bench_now() < end && !atomic_load(&b->interrupted)) {
        int status;
        uint8_t *body;
        size_t len;
        int got = cairn_http_get(url, 2000, &status, &body, &len) == 0;
        if (got) free(body);
        /* Alive after answering: not another process's node on a port taken in between. */
        int alive = child_alive(&b->ch, child);
        if (got && status == 200 && alive) return 0;
        if (!alive) {
            fprintf(stderr, "cairn-bench cluster: the process for %s exited (see %s)\n", url,
                    b->dir);
            return CAIRN_ECONNECT;
        }
        usleep(50000);
    }
    fprintf(stderr, "cairn-bench cluster: %s not healthy after %.0f s\n", url, HEALTH_WAIT_S);
    return CAIRN_ETIMEOUT;
}

static int start_devnet(cluster *b)
{
    char msg[512] = "", home[128], log[160];
    int err = find_ports(2 * b->validators, &b->base_port);
    if (err) return cli_fail(err, "no free loopback ports");
    char net[96];
    snprintf(net, sizeof net, "%s/devnet", b->dir);
    if ((err = cairn_node_devnet_init(net, b->validators, HOST, b->base_port, msg, sizeof msg)))
        return cli_fail(err, msg);
    for (unsigned i = 0; i < b->validators; i++) {
        snprintf(home, sizeof home, "%s/node%u", net, i);
        snprintf(log, sizeof log, "%s/cairnd.log", home);
        char *argv[] = {b->cairnd, "--home", home, NULL};
        if ((err = spawn(&b->ch, argv, log))) return cli_fail(err, b->cairnd);
    }
    for (unsigned i = 0; i < b->validators; i++)
        if ((err = wait_healthy(b, cairn_devnet_api_port(b->base_port, i), i))) return err;
    snprintf(home, sizeof home, "%s/admin.key", net);
    if ((err = cairn_keyfile_load(home, b->sig, &b->admin))) return cli_fail(err, home);
    cairn_org_id(b->org, "dev-org", 7);
    return 0;
}

/* Chain id and height from node0's checkpoint. */
static int read_head(cluster *b)
{
    char url[96];
    snprintf(url, sizeof url, "http://%s:%u/v1/checkpoint", HOST,
             cairn_devnet_api_port(b->base_port, 0));
    int status;
    uint8_t *body;
    size_t len;
    int err = cairn_http_get(url, 5000, &status, &body, &len);
    if (err) return cli_fail(err, url);
    json_error_t jerr;
    json_t *j = json_loadb((const char *)body, len, 0, &jerr);
    free(body);
    const char *c = json_string_value(json_object_get(j, "chain_id"));
    err = status == 200 && c && strlen(c) <= CAIRN_CHAIN_ID_MAX ? 0 : CAIRN_EHTTP_RESPONSE;
    if (!err) {
        strcpy(b->chain_id, c);
        b->start_height = (uint64_t)json_integer_value(json_object_get(j, "height"));
    }
    json_decref(j);
    return err ? cli_fail(err, url) : 0;
}

static int register_devices(cluster *b)
{
    b->dev = calloc(b->devices, sizeof *b->dev);
    if (!b->dev) return CAIRN_ENOMEM;
    txpool *p;
    int err = pool_new(&p, b->devices);
    if (err) return err;
    for (uint64_t d = 0; d < b->devices && !err; d++) {
        uint8_t seed[32] = {0xbe, 0x9c};
        memcpy(seed + 8, &d, 8);
        if (!(err = cairn_keypair_from_seed(&b->dev[d].kp, b->sig, CAIRN_SIG_ED25519, seed)))
            err = build_register(b, p, d, d);
    }
    if (!err) pool_index(p);
    unsigned window = b->window;
    b->window = REG_WINDOW;
    run_result r;
    double t = bench_now();
    if (!err) err = run_pool(b, p, 0, 1e9, &r);
    b->window = window;
    if (!err && (r.committed != b->devices || r.failed)) {
        fprintf(stderr,
                "cairn-bench cluster: %llu of %llu registrations committed, %llu failed, %llu "
                "refused\n",
                (unsigned long long)r.committed, (unsigned long long)b->devices,
                (unsigned long long)r.failed, (unsigned long long)r.refused);
        err = CAIRN_EINTERNAL;
    }
    if (!err)
        printf("registered %llu devices in %.1f s\n", (unsigned long long)b->devices,
               bench_now() - t);
    pool_free(p);
    return err;
}

/* Seconds per cairn_ed25519_verify, best of 3 passes over VERIFY_SAMPLES signatures of
 * anchor-sized messages, in this thread's CPU time. */
static int verify_cost(const cluster *b, double *out)
{
    uint8_t(*pk)[32] = malloc(VERIFY_SAMPLES * 32), (*sg)[64] = malloc(VERIFY_SAMPLES * 64);
    uint8_t(*msg)[160] = malloc(VERIFY_SAMPLES * 160);
    int err = pk && sg && msg ? 0 : CAIRN_ENOMEM;
    for (size_t i = 0; i < VERIFY_SAMPLES && !err; i++) {
        cairn_keypair kp;
        uint8_t seed[32] = {0x51};
        memcpy(seed + 8, &i, sizeof i);
        randombytes_buf(msg[i], 160);
        if (!(err = cairn_keypair_from_seed(&kp, b->sig, CAIRN_SIG_ED25519, seed)) &&
            !(err = cairn_keypair_sign(&kp, msg[i], 160, sg[i])))
            memcpy(pk[i], kp.pub, 32);
        cairn_keypair_wipe(&kp);
    }
    double best = 1e9;
    for (int rep = 0; rep < 3 && !err; rep++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        for (size_t i = 0; i < VERIFY_SAMPLES && !err; i++)
            if (cairn_ed25519_verify(b->sig, pk[i], msg[i], 160, sg[i]) != 0) err = CAIRN_EINTERNAL;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        if (s / VERIFY_SAMPLES < best) best = s / VERIFY_SAMPLES;
    }
    free(pk);
    free(sg);
    free(msg);
    *out = best;
    return err;
}

/* ---- etcd ---- */

typedef struct etcd_worker {
    unsigned port, id;
    double t_end;
    _Atomic int *stop;
    size_t value_bytes;
    uint64_t ok, failed;
    uint64_t *lat; /* ns, capacity lat_cap */
    size_t n_lat, lat_cap;
    int err;
} etcd_worker;

static void *etcd_put_worker(void *arg)
{
    etcd_worker *w = arg;
    kconn c;
    if ((w->err = kc_init(&c, w->port))) return NULL;
    uint8_t *val = malloc(w->value_bytes);
    char *vb64 = malloc(sodium_base64_ENCODED_LEN(w->value_bytes, sodium_base64_VARIANT_ORIGINAL));
    char *body = malloc(w->value_bytes * 2 + 256);
    if (!val || !vb64 || !body) w->err = CAIRN_ENOMEM;
    if (!w->err) {
        randombytes_buf(val, w->value_bytes);
        sodium_bin2base64(vb64,
                          sodium_base64_ENCODED_LEN(w->value_bytes, sodium_base64_VARIANT_ORIGINAL),
                          val, w->value_bytes, sodium_base64_VARIANT_ORIGINAL);
    }
    for (uint64_t k = 0; !w->err && bench_now() < w->t_end && !atomic_load(w->stop); k++) {
        char key[64], kb64[96];
        int kl = snprintf(key, sizeof key, "bench/%u/%llu", w->id, (unsigned long long)k);
        sodium_bin2base64(kb64, sizeof kb64, (const uint8_t *)key, (size_t)kl,
                          sodium_base64_VARIANT_ORIGINAL);
        int bl = snprintf(body, w->value_bytes * 2 + 256, "{\"key\":\"%s\",\"value\":\"%s\"}", kb64,
                          vb64);
        int status;
        uint8_t *resp;
        size_t len;
        uint64_t t0 = now_ns();
        int err = kc_request(&c, "POST", "/v3/kv/put", "application/json", body, (size_t)bl,
                             &status, &resp, &len);
        uint64_t t1 = now_ns();
        if (err) {
            w->err = err;
            break;
        }
        free(resp);
        if (status != 200) {
            w->failed++;
            continue;
        }
        w->ok++;
        if (w->n_lat < w->lat_cap) w->lat[w->n_lat++] = t1 - t0;
    }
    free(val);
    free(vb64);
    free(body);
    kc_free(&c);
    return NULL;
}

typedef struct etcd_result {
    double writes_per_s, p50_ms, p99_ms;
    char version[64];
} etcd_result;

static int etcd_bench(cluster *b, size_t value_bytes, etcd_result *out)
{
    unsigned base;
    int err = find_ports(2 * ETCD_MEMBERS, &base);
    if (err) return cli_fail(err, "no free loopback ports for etcd");
    char cluster_s[512] = "";
    for (unsigned m = 0; m < ETCD_MEMBERS; m++) {
        size_t l = strlen(cluster_s);
        snprintf(cluster_s + l, sizeof cluster_s - l, "%se%u=http://%s:%u", m ? "," : "", m, HOST,
                 base + 2 * m + 1);
    }
    size_t first_child = b->ch.n;
    for (unsigned m = 0; m < ETCD_MEMBERS && !err; m++) {
        char name[16], data[128], log[160], client[64], peer[64];
        snprintf(name, sizeof name, "e%u", m);
        snprintf(data, sizeof data, "%s/etcd%u", b->dir, m);
        snprintf(log, sizeof log, "%s/etcd%u.log", b->dir, m);
        snprintf(client, sizeof client, "http://%s:%u", HOST, base + 2 * m);
        snprintf(peer, sizeof peer, "http://%s:%u", HOST, base + 2 * m + 1);
        char *argv[] = {"/usr/bin/etcd",
                        "--name",
                        name,
                        "--data-dir",
                        data,
                        "--listen-client-urls",
                        client,
                        "--advertise-client-urls",
                        client,
                        "--listen-peer-urls",
                        peer,
                        "--initial-advertise-peer-urls",
                        peer,
                        "--initial-cluster",
                        cluster_s,
                        "--initial-cluster-state",
                        "new",
                        "--initial-cluster-token",
                        "cairn-bench",
                        "--log-level",
                        "warn",
                        NULL};
        err = spawn(&b->ch, argv, log);
        if (err) return cli_fail(err, "/usr/bin/etcd (apt-get install etcd-server)");
    }
    /* Healthy when a write goes through (the cluster has a leader). */
    double end = bench_now() + HEALTH_WAIT_S;
    for (;;) {
        char url[96];
        snprintf(url, sizeof url, "http://%s:%u/health", HOST, base);
        int status = 0;
        uint8_t *body = NULL;
        size_t len;
        if (cairn_http_get(url, 2000, &status, &body, &len) == 0 && status == 200 &&
            strstr((const char *)body, "true")) {
            free(body);
            break;
        }
        free(body);
        for (size_t i = first_child; i < b->ch.n; i++)
            if (!child_alive(&b->ch, i)) {
                fprintf(stderr, "cairn-bench cluster: etcd exited (see %s/etcd*.log)\n", b->dir);
                return CAIRN_ECONNECT;
            }
        if (bench_now() > end || atomic_load(&b->interrupted))
            return cli_fail(CAIRN_ETIMEOUT, "etcd cluster not healthy");
        usleep(100000);
    }
    {
        char url[96];
        snprintf(url, sizeof url, "http://%s:%u/version", HOST, base);
        int status;
        uint8_t *body;
        size_t len;
        strcpy(out->version, "?");
        if (cairn_http_get(url, 2000, &status, &body, &len) == 0) {
            json_error_t jerr;
            json_t *j = json_loadb((const char *)body, len, 0, &jerr);
            const char *v = json_string_value(json_object_get(j, "etcdserver"));
            if (v) snprintf(out->version, sizeof out->version, "%s", v);
            json_decref(j);
            free(body);
        }
    }
    unsigned nw = ETCD_MEMBERS * b->etcd_conns;
    etcd_worker *w = calloc(nw, sizeof *w);
    pthread_t *th = calloc(nw, sizeof *th);
    if (!w || !th) err = CAIRN_ENOMEM;
    double t0 = bench_now(), t_end = t0 + (double)b->seconds;
    size_t started = 0;
    for (unsigned i = 0; i < nw && !err; i++) {
        w[i] = (etcd_worker){.stop = &b->interrupted,
                             .port = base + 2 * (i % ETCD_MEMBERS),
                             .id = i,
                             .t_end = t_end,
                             .value_bytes = value_bytes,
                             .lat_cap = 1 << 18};
        w[i].lat = malloc(w[i].lat_cap * sizeof *w[i].lat);
        if (!w[i].lat || pthread_create(&th[i], NULL, etcd_put_worker, &w[i]) != 0) {
            free(w[i].lat);
            err = CAIRN_ENOMEM;
            break;
        }
        started++;
    }
    uint64_t ok = 0, failed = 0;
    size_t nl = 0;
    for (size_t i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        if (!err && w[i].err) err = w[i].err;
        ok += w[i].ok;
        failed += w[i].failed;
        nl += w[i].n_lat;
    }
    double secs = bench_now() - t0;
    uint64_t *lat = err ? NULL : malloc((nl ? nl : 1) * sizeof *lat);
    if (!err && !lat) err = CAIRN_ENOMEM;
    if (!err) {
        size_t k = 0;
        for (size_t i = 0; i < started; i++) {
            memcpy(lat + k, w[i].lat, w[i].n_lat * sizeof *lat);
            k += w[i].n_lat;
        }
        qsort(lat, nl, sizeof *lat, cmp_u64);
        out->writes_per_s = (double)ok / secs;
        out->p50_ms = nl ? (double)lat[nl / 2] / 1e6 : 0;
        out->p99_ms = nl ? (double)lat[nl * 99 / 100] / 1e6 : 0;
        if (failed)
            fprintf(stderr, "cairn-bench cluster: %llu etcd PUTs failed\n",
                    (unsigned long long)failed);
    }
    for (size_t i = 0; i < started; i++) free(w[i].lat);
    free(lat);
    free(w);
    free(th);
    if (err) return cli_fail(err, "etcd PUT load");
    return 0;
}

/* ---- main ---- */

/* The signal thread: SIGINT, SIGTERM or SIGHUP stop the load, and the benchmark ends through its
 * normal cleanup (children stopped, work directory removed); SIGUSR1 is the benchmark's "done". */
static void *signal_watch(void *arg)
{
    cluster *b = arg;
    int sig = 0;
    if (sigwait(&b->sigs, &sig) == 0 && sig != SIGUSR1) {
        fprintf(stderr, "cairn-bench cluster: signal %d: stopping\n", sig);
        atomic_store(&b->interrupted, 1);
        atomic_store(&b->stop_senders, 1);
    }
    return NULL;
}

static int parse_args(cluster *b, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        uint64_t v;
        if (!strcmp(argv[i], "--skip-etcd") || !strcmp(argv[i], "--keep")) {
            *(argv[i][2] == 's' ? &b->skip_etcd : &b->keep) = 1;
            continue;
        }
        if (i + 1 >= argc || cli_parse_u64(argv[i + 1], &v)) goto bad;
        if (!strcmp(argv[i], "--validators") && v >= 1 && v <= MAX_VALIDATORS)
            b->validators = (unsigned)v;
        else if (!strcmp(argv[i], "--devices") && v >= 1 && v <= 1000000)
            b->devices = v;
        else if (!strcmp(argv[i], "--seconds") && v >= 1 && v <= 3600)
            b->seconds = v;
        else if (!strcmp(argv[i], "--connections") && v >= 1 && v <= MAX_CONNS_PER_NODE)
            b->conns_per_validator = (unsigned)v;
        else if (!strcmp(argv[i], "--window") && v >= 1 && v <= 1000000)
            b->window = (unsigned)v;
        else if (!strcmp(argv[i], "--gateway") && v >= 1 && v <= 250)
            b->gateway = (unsigned)v;
        else if (!strcmp(argv[i], "--etcd-connections") && v >= 1 && v <= MAX_ETCD_CONNS)
            b->etcd_conns = (unsigned)v;
        else
            goto bad;
        i++;
    }
    if (b->validators * b->conns_per_validator > MAX_CONNS) goto bad;
    return 0;
bad:
    fprintf(stderr,
            "usage: cairn-bench cluster [--validators 1..%u] [--devices D] [--seconds S] "
            "[--connections C per validator] [--window W] [--gateway G txs per request] "
            "[--etcd-connections E per member] [--skip-etcd]\n",
            MAX_VALIDATORS);
    return 2;
}

static int find_cairnd(cluster *b)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) return cairn_err_from_errno(errno);
    self[n] = 0;
    int len = snprintf(b->cairnd, sizeof b->cairnd, "%s/cairnd", dirname(self));
    if (len < 0 || (size_t)len >= sizeof b->cairnd) return CAIRN_EINVAL;
    return access(b->cairnd, X_OK) == 0 ? 0 : CAIRN_ENOENT;
}

static void print_json(const cluster *b, const char *load, const run_result *r, double bound,
                       const etcd_result *e)
{
    char etcd[32] = "null";
    if (e) snprintf(etcd, sizeof etcd, "%.0f", e->writes_per_s);
    printf("{\"bench\":\"cluster\",\"validators\":%u,\"load\":\"%s\",\"committed_per_s\":%.0f,"
           "\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"bound_per_s\":%.0f,\"etcd_writes_per_s\":%s,"
           "\"txs_per_request\":%u}\n",
           b->validators, load, r->committed_per_s, r->p50_ms, r->p99_ms, bound, etcd,
           b->gateway > 1 ? b->gateway : 1);
}

static void print_run(const char *load, double target, const run_result *r)
{
    char t[32] = "max";
    if (target > 0) snprintf(t, sizeof t, "%.0f/s", target);
    printf("%-11s %-9s %12.0f %9.1f %9.1f %10llu %10llu %9llu %9llu %7.1f\n", load, t,
           r->committed_per_s, r->p50_ms, r->p99_ms, (unsigned long long)r->submitted,
           (unsigned long long)r->committed, (unsigned long long)r->failed,
           (unsigned long long)r->refused, r->seconds);
}

/* A run in which the cluster stopped committing: what it did, each node's height, and the logs
 * are kept. */
static void report_stall(cluster *b, const char *load, double target, const run_result *r)
{
    printf("\nload        target    committed/s    p50 ms    p99 ms  submitted  committed"
           "  rejected   refused  secs\n");
    print_run(load, target, r);
    fprintf(stderr,
            "cairn-bench cluster: STALLED: the %s run committed nothing for %.0f s with %lld "
            "transactions outstanding\n",
            load, STALL_S, (long long)atomic_load(&b->outstanding));
    for (unsigned i = 0; i < b->validators; i++) {
        char url[96];
        snprintf(url, sizeof url, "http://%s:%u/healthz", HOST,
                 cairn_devnet_api_port(b->base_port, i));
        int status;
        uint8_t *body;
        size_t len;
        if (cairn_http_get(url, 2000, &status, &body, &len) == 0) {
            fprintf(stderr, "  node%u: %.*s\n", i, (int)len, (const char *)body);
            free(body);
        } else {
            fprintf(stderr, "  node%u: no answer\n", i);
        }
    }
    b->keep = 1; /* the node logs are the evidence */
}

/* Transactions to sign for a run of seconds at rate (5% and the window to spare). */
static size_t pool_size(double rate, double seconds, unsigned window)
{
    double n = rate * seconds * 1.05 + window + 1000;
    return n > MAX_POOL ? MAX_POOL : (size_t)n;
}

int bench_cluster(int argc, char **argv)
{
    cluster *b = calloc(1, sizeof *b);
    if (!b) return cli_fail(CAIRN_ENOMEM, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines as they happen, also into a file */
    b->validators = 4;
    b->conns_per_validator = 16; /* admission answers per batch: keep enough in flight */
    b->devices = 2000;
    b->seconds = 20;
    b->window = 4000;
    b->etcd_conns = 32;
    int rc = parse_args(b, argc, argv);
    if (rc) {
        free(b);
        return rc;
    }
    if (b->devices < total_conns(b)) b->devices = total_conns(b);
    pthread_t fth;
    int follower_started = 0, err = 0;
    txpool *p = NULL;
    run_result probe, sat, half;
    etcd_result etcd = {0};
    double vcost = 0, bound = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t anchors = 0;
    if (sodium_init() < 0 || cairn_sig_ctx_new(&b->sig)) {
        free(b);
        return cli_fail(CAIRN_ENOMEM, NULL);
    }
    strcpy(b->dir, "/tmp/cairn-bench-cluster-XXXXXX");
    pthread_t wth;
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigemptyset(&ign.sa_mask);
    sigemptyset(&b->sigs);
    sigaddset(&b->sigs, SIGINT);
    sigaddset(&b->sigs, SIGTERM);
    sigaddset(&b->sigs, SIGHUP);
    sigaddset(&b->sigs, SIGUSR1);
    /* Every thread created from here on inherits the mask; stdout may be a closed pipe. */
    if (pthread_mutex_init(&b->lock, NULL) != 0 || pthread_cond_init(&b->room, NULL) != 0 ||
        sigaction(SIGPIPE, &ign, NULL) != 0 || pthread_sigmask(SIG_BLOCK, &b->sigs, NULL) != 0 ||
        pthread_create(&wth, NULL, signal_watch, b) != 0) {
        cairn_sig_ctx_free(b->sig);
        free(b);
        return cli_fail(CAIRN_ENOMEM, "signal setup");
    }
    if (!mkdtemp(b->dir)) {
        rc = cli_fail(cairn_err_from_errno(errno), "mkdtemp");
        goto out;
    }
    b->dir_made = 1;
    if ((err = find_cairnd(b))) {
        rc = cli_fail(err, "cairnd beside cairn-bench");
        goto out;
    }
    if ((err = verify_cost(b, &vcost))) {
        rc = cli_fail(err, "timing Ed25519 verification");
        goto out;
    }
    bound = (double)cores / ((double)b->validators * vcost);
    printf("cairn-bench cluster: %u validators, %llu devices, %u connections per validator, "
           "window %u, %llu s per run, work dir %s\n",
           b->validators, (unsigned long long)b->devices, b->conns_per_validator, b->window,
           (unsigned long long)b->seconds, b->dir);
    if ((err = start_devnet(b)) || (err = read_head(b))) {
        rc = 3;
        goto out;
    }
    b->next_height = b->start_height + 1;
    if (pthread_create(&fth, NULL, follower, b) != 0) {
        rc = cli_fail(CAIRN_ENOMEM, "follower thread");
        goto out;
    }
    follower_started = 1;
    if ((err = register_devices(b))) {
        rc = cli_fail(err, "registering devices");
        goto out;
    }
    if ((err = read_head(b))) {
        rc = 3;
        goto out;
    }
    /* Warm-up, then saturation, then half of the saturation rate. */
    if ((err = pool_anchors(b, b->seconds < 2 ? PROBE_POOL / 2 : PROBE_POOL, &anchors, &p)) ||
        (err = run_pool(b, p, 0, PROBE_S, &probe)))
        goto load_failed;
    if (probe.stalled) goto stall_probe;
    size_t anchor_bytes = p->len[0];
    pool_free(p);
    p = NULL;
    double t_sign = bench_now();
    /* The bound is what the machine can verify at most, so the pool outlasts the run (unless
     * MAX_POOL caps it: then the run ends when the pool is sent, and secs says so). */
    if ((err = pool_anchors(b, pool_size(bound, (double)b->seconds, b->window), &anchors, &p)))
        goto load_failed;
    printf("warm-up: %.0f tx/s; signed %zu anchors (%zu bytes each) in %.1f s\n",
           probe.committed_per_s, p->n, anchor_bytes, bench_now() - t_sign);
    if ((err = run_pool(b, p, 0, (double)b->seconds, &sat))) goto load_failed;
    if (sat.stalled) goto stall_sat;
    pool_free(p);
    p = NULL;
    double half_rate = sat.committed_per_s / 2;
    if (half_rate < 1) half_rate = 1;
    if ((err = pool_anchors(b, pool_size(half_rate, (double)b->seconds, 0), &anchors, &p)) ||
        (err = run_pool(b, p, half_rate, (double)b->seconds, &half)))
        goto load_failed;
    if (half.stalled) goto stall_half;
    pool_free(p);
    p = NULL;
    atomic_store(&b->stop_follower, 1);
    pthread_join(fth, NULL);
    follower_started = 0;
    stop_children(&b->ch); /* etcd gets the machine to itself */
    if (!b->skip_etcd && (err = etcd_bench(b, anchor_bytes, &etcd))) {
        rc = 3;
        goto out;
    }

    printf("\nload        target    committed/s    p50 ms    p99 ms  submitted  committed"
           "  rejected   refused  secs\n");
    print_run("saturation", 0, &sat);
    print_run("half", half_rate, &half);
    printf("bound: cores / (validators * ed25519_verify) = %ld / (%u * %.2f us) = %.0f tx/s\n",
           cores, b->validators, vcost * 1e6, bound);
    if (!b->skip_etcd)
        printf("etcd %s, %u members, %u-byte values, %u connections: %.0f writes/s "
               "(p50 %.1f ms, p99 %.1f ms)\n",
               etcd.version, ETCD_MEMBERS, (unsigned)anchor_bytes, ETCD_MEMBERS * b->etcd_conns,
               etcd.writes_per_s, etcd.p50_ms, etcd.p99_ms);
    print_json(b, "saturation", &sat, bound, b->skip_etcd ? NULL : &etcd);
    print_json(b, "half", &half, bound, b->skip_etcd ? NULL : &etcd);
    rc = 0;
    goto out;
stall_probe:
    report_stall(b, "warm-up", 0, &probe);
    rc = 1;
    goto out;
stall_sat:
    report_stall(b, "saturation", 0, &sat);
    rc = 1;
    goto out;
stall_half:
    report_stall(b, "half", half_rate, &half);
    rc = 1;
    goto out;
load_failed:
    rc = atomic_load(&b->interrupted) ? 130 : cli_fail(err, "load run");
    for (size_t i = 0; i < b->ch.n; i++) {
        int st;
        if (b->ch.pid[i] > 0 && waitpid(b->ch.pid[i], &st, WNOHANG) == b->ch.pid[i]) {
            fprintf(
                stderr,
                "cairn-bench cluster: cairnd node%zu %s %d (log %s/devnet/node%zu/cairnd.log)\n", i,
                WIFSIGNALED(st) ? "was killed by signal" : "exited with",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), b->dir, i);
            b->ch.pid[i] = -1; /* reaped */
            b->keep = 1;       /* its log is the evidence */
        }
    }
out:
    if (atomic_load(&b->interrupted)) rc = 130;
    if (follower_started) {
        atomic_store(&b->stop_follower, 1);
        pthread_join(fth, NULL);
    }
    stop_children(&b->ch);
    pool_free(p);
    for (uint64_t d = 0; b->dev && d < b->devices; d++) cairn_keypair_wipe(&b->dev[d].kp);
    free(b->dev);
    cairn_keypair_wipe(&b->admin);
    cairn_sig_ctx_free(b->sig);
    if (b->dir_made && b->keep) {
        fprintf(stderr, "cairn-bench cluster: kept %s\n", b->dir);
    } else if (b->dir_made) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", b->dir);
    }
    pthread_kill(wth, SIGUSR1);
    pthread_join(wth, NULL);
    pthread_cond_destroy(&b->room);
    pthread_mutex_destroy(&b->lock);
    free(b);
    return rc;
}
