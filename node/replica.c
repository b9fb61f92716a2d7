#include "node/replica.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "consensus/core.h"
#include "consensus/wire.h"
#include "ledger/codec.h"
#include "ledger/hash.h"
#include "ledger/tx.h"
#include "node/h32map.h"
#include "node/net.h"
#include "node/objects.h"
#include "proto/cairn/v1/consensus.pb-c.h"

/* ---- constants ---- */

#define BATCH_INTERVAL_MS 10u /* cut a batch at least this often when txs are queued */
#define BATCH_MAX_BYTES   (1u << 20)
/* Cap of block.interval_ms. Two idle leaders in a row must stay well inside the 1 s base round
 * timeout, or the wait itself times rounds out (seen under bursty load with 500 ms). */
#define IDLE_PROPOSE_MAX_MS  200u
#define REPROPOSE_AFTER_MS   5000u  /* a batch proposed but not committed becomes available again */
#define FETCH_RETRY_MS       300u   /* re-request a missing batch or payload from another peer */
#define MAX_FUTURE_TIME_MS   10000u /* a payload time further ahead of our clock is not voted */
#define CERT_WINDOW          256u   /* ledger heights whose commit signatures are collected */
#define HOUSEKEEPING_MS      50u
#define STEP_DEPTH_CACHED    8
#define SIG_UNCHECKED        1      /* batch_obj.sig_ok: not verified yet (a positive value) */
#define MAX_BATCHES_PER_PEER 1024u  /* uncommitted batches held from one peer (memory bound) */
#define WANT_GIVE_UP_MS      60000u /* stop fetching an object nobody could send */

/* Keys of the consensus table (docs/consensus.md "What the node stores"). */
static const char K_SAFETY[] = "safety";
static const char K_ROOT[] = "root";
static const char K_TREE[] = "tree";
static const char K_EPOCH[] = "epoch"; /* u64be epoch || its genesis seed (32) */
/* The signatures of the persisted safety data's high QC and high TC (certs_record): without them
 * a restarted node could not sign a timeout or proposal that carries either. */
static const char K_CERTS[] = "certs";
/* 'C' || u64be epoch || u64be consensus height -> one-block sync response (block + its QC's and
 * certifying QC's signatures); 'X' || u64be epoch -> the epoch-end proof of that epoch (a sync
 * response); 'P' || digest -> BlockPayload envelope; 'T' || digest -> TxBatch envelope;
 * 'E' || u64be n -> evidence. */
#define PROOF_RESEND_MS 200u  /* a lagging peer gets the epoch-end proof at most this often */
#define SLOT_LINGER_MS  3000u /* a removed validator's link stays this long (proof delivery) */
#define OBSERVE_SYNC_MS 300u  /* an observer asks a validator for blocks this often */
#define NO_SLOT         UINT32_MAX

typedef struct batch_obj {
    uint8_t digest[32];
    uint8_t *env; /* the ConsensusEnvelope{batch} encoding, ready to send and to store */
    size_t env_len;
    Cairn__V1__ConsensusEnvelope *msg; /* decoded: tx bytes point into it */
    uint32_t n;
    uint8_t (*hashes)[32];
    int *sig_ok; /* 0, SIG_UNCHECKED, or the CAIRN_E* code of its decode or signature check */
    int proposed;
    uint64_t proposed_at_ms;
    uint64_t seq;    /* arrival order: the leader proposes oldest first */
    uint32_t origin; /* the peer that sent it, UINT32_MAX for ours or loaded from the store */
    int durable;     /* its 'T' record is in the store (written before our vote, or loaded) */
} batch_obj;

typedef struct body_obj {
    uint8_t digest[32];
    uint8_t *env;
    size_t env_len;
    uint64_t time_ms;
    uint32_t n;
    uint8_t (*batches)[32];
    int durable; /* its 'P' record is in the store */
} body_obj;

typedef struct qc_sigs {
    uint8_t sig[CAIRN_CONS_MAX_VALIDATORS][64];
    uint64_t have;
} qc_sigs;

/* Timeout signatures of one round: a validator may re-send with a higher high-QC round. */
#define TO_PER_SIGNER 4
typedef struct to_sigs {
    uint64_t round;
    struct {
        uint64_t hqc;
        uint8_t sig[64];
        int used;
    } e[CAIRN_CONS_MAX_VALIDATORS][TO_PER_SIGNER];
} to_sigs;
#define TO_ROUNDS 16

typedef struct wait_vote {
    uint8_t block_id[32];
    uint8_t payload[32];
    int used;
} wait_vote;
#define MAX_WAIT_VOTES 16

typedef struct want_item {
    uint8_t digest[32];
    uint64_t since_ms;
    uint64_t asked_at_ms;
    uint32_t next_peer;
} want_item;

typedef struct commit_item {
    cairn_block block;
    cairn_qc qc;
} commit_item;

typedef struct cert_slot {
    uint64_t height;
    int have_local;
    uint8_t local_hash[32];
    int done;
    uint64_t power;
    cairn_certificate cert; /* sigs matching local_hash (or the first hash seen before local) */
    uint8_t seen_hash[32];
    uint64_t signers[2]; /* bitmap of validators whose signature is in cert (128 max) */
    uint64_t local_at_ms, asked_at_ms; /* when we applied it; when we last asked for votes */
} cert_slot;

struct cairn_replica {
    cairn_replica_config c;
    const cairn_genesis *g;
    uint32_t n;           /* validators in the epoch's set (vs->n) */
    uint64_t total_power; /* of vs */
    uint64_t epoch;
    cairn_valset *vs;   /* the epoch's validator set (ledger/chain.h) */
    cairn_valset *prev; /* the previous epoch's set (certifies the epoch-change block) */
    uint32_t self;      /* our index in vs; NO_SLOT when not a member (observer) */
    uint8_t my_id[32], my_noise[32];
    uint8_t epoch_seed[32]; /* cairn_core_genesis seed of the epoch */
    /* Peer links by net slot: a local numbering, stable while the process runs. */
    cairn_net_peer slots[CAIRN_NET_MAX_PEERS];
    uint32_t n_slots, self_slot;
    uint32_t slot_of[CAIRN_CONS_MAX_VALIDATORS];      /* index in vs -> slot */
    uint32_t prev_slot_of[CAIRN_CONS_MAX_VALIDATORS]; /* index in prev -> slot */
    uint32_t cons_of[CAIRN_NET_MAX_PEERS];            /* slot -> index in vs, or NO_SLOT */
    uint64_t slot_empty_at[CAIRN_NET_MAX_PEERS];      /* removed validator: link goes then */
    /* The epoch-end proof of epoch - 1 (what a peer still in it needs to move on). */
    uint8_t *proof;
    size_t proof_len;
    cairn_sync_response *proof_resp;
    cairn_wire_sync_sigs *proof_sigs;
    uint64_t proof_sent_at[CAIRN_NET_MAX_PEERS];
    size_t pending_changes; /* validator changes waiting for the next epoch (ledger) */
    uint8_t last_applied_id[32];
    uint64_t observe_at_ms;
    uint32_t observe_next;
    uint64_t gap_asked_ms; /* last sync request for a response we could not attach */
    int switch_due;        /* the RECONFIG block is applied: start the next epoch */
    cairn_valset *next_vs;
    uint8_t next_seed[32];
    cairn_sync_response *obs_proof; /* observer: the end of the epoch as it saw it */
    uint8_t pk[64], sk[64];         /* Ed25519 expanded secret key (sk) */
    cairn_net *net;
    cairn_core *core;
    cairn_actions *acts_at[STEP_DEPTH_CACHED]; /* per nesting depth of step() */
    unsigned depth;
    cairn_block genesis_block;
    cairn_qc genesis_qc;
    uv_timer_t core_timer, batch_timer, house_timer, idle_timer;
    int timers_init;
    int stopped;
    int in_step;

    h32map batches; /* digest -> batch_obj * (not yet committed) */
    h32map bodies;  /* digest -> body_obj * */
    h32map qcs;     /* block id -> qc_sigs * */
    to_sigs *tos;   /* TO_ROUNDS slots */
    uint64_t batch_seq;
    uint32_t peer_batches[CAIRN_NET_MAX_PEERS]; /* uncommitted batches held per origin slot */
    want_item *wants;
    size_t n_wants, cap_wants;
    wait_vote waits[MAX_WAIT_VOTES];
    commit_item *commits; /* queue of committed blocks waiting to be applied */
    size_t n_commits, cap_commits;
    uint64_t idle_ms;                        /* an idle leader proposes an empty block after this */
    uint64_t logged_round, logged_tc_rounds; /* the debug log's "round" lines */
    uint64_t timer_deadline_ms;              /* the core's requested TICK time (mono_ms clock) */
    int payload_round_pending;
    uint64_t payload_round;
    uint64_t payload_asked_ms;
    cert_slot *certs; /* CERT_WINDOW slots, by height % CERT_WINDOW */
    uint64_t applied_cons_height;
    uint64_t evidence_seq;

    cairn_wire_sync_sigs *sync_sigs; /* scratch */
    cairn_sync_response *sync_resp;  /* scratch */

    _Atomic uint64_t st[sizeof(cairn_replica_stats) / sizeof(uint64_t)];
};

/* Stats are a struct of uint64_t, mirrored in an atomic array. */
#define ST_IDX(field)       (offsetof(cairn_replica_stats, field) / sizeof(uint64_t))
#define ST_ADD(r, field, v) atomic_fetch_add(&(r)->st[ST_IDX(field)], (uint64_t)(v))
#define ST_SET(r, field, v) atomic_store(&(r)->st[ST_IDX(field)], (uint64_t)(v))

static void rlog(cairn_replica *r, cairn_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rlog(cairn_replica *r, cairn_log_level lvl, const char *fmt, ...)
{
    if (!r->c.log || lvl > r->c.cfg->log_level) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->c.log(r->c.ctx, lvl, msg);
}

static uint64_t mono_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t nanos(void)
{
    return uv_hrtime();
}

static void fatal(cairn_replica *r, int err, const char *what)
{
    rlog(r, CAIRN_LOG_ERROR, "msg=\"replica halted\" stage=%s error=%s", what, cairn_err_name(err));
    if (r->c.fatal) r->c.fatal(r->c.ctx, err);
}

/* ---- signing inputs (docs/formats.md "Consensus messages") ---- */

static int sign_input(cairn_buf *b, const char *tag, const char *chain_id, uint64_t epoch,
                      uint64_t round, const uint8_t *id32, uint64_t u)
{
    cairn_buf_tag(b, tag);
    cairn_buf_str8(b, chain_id, strlen(chain_id));
    cairn_buf_u64(b, epoch);
    cairn_buf_u64(b, round);
    if (id32)
        cairn_buf_put(b, id32, 32);
    else
        cairn_buf_u64(b, u);
    return cairn_buf_finish(b);
}

enum { SIG_VOTE, SIG_TIMEOUT, SIG_PROPOSAL };

static int msg_input(const cairn_replica *r, cairn_buf *b, int kind, uint64_t epoch, uint64_t round,
                     const uint8_t *id32, uint64_t hqc)
{
    static const char *tags[] = {"CAIRN-VOTE-V1", "CAIRN-TIMEOUT-V1", "CAIRN-PROPOSAL-V1"};
    return sign_input(b, tags[kind], r->g->chain_id, epoch, round,
                      kind == SIG_TIMEOUT ? NULL : id32, hqc);
}

static int sign_msg(const cairn_replica *r, int kind, uint64_t epoch, uint64_t round,
                    const uint8_t *id32, uint64_t hqc, uint8_t sig[64])
{
    cairn_buf b = CAIRN_BUF_INIT;
    int err = msg_input(r, &b, kind, epoch, round, id32, hqc);
    if (!err) crypto_sign_detached(sig, NULL, b.p, b.len, r->sk);
    cairn_buf_free(&b);
    return err;
}

static int verify_msg(const cairn_replica *r, uint32_t signer, int kind, uint64_t epoch,
                      uint64_t round, const uint8_t *id32, uint64_t hqc, const uint8_t sig[64])
{
    if (signer >= r->n || epoch != r->epoch) return CAIRN_ECONS_SENDER;
    cairn_buf b = CAIRN_BUF_INIT;
    int err = msg_input(r, &b, kind, epoch, round, id32, hqc);
    if (!err)
        err = cairn_ed25519_verify(r->c.sig, r->vs->v[signer].key.key, b.p, b.len, sig)
                  ? CAIRN_ECONS_SIGNATURE
                  : 0;
    cairn_buf_free(&b);
    return err;
}

/* ---- signature caches ---- */

static qc_sigs *qc_get(cairn_replica *r, const uint8_t id[32], int create)
{
    h32map_slot *s = h32map_find(&r->qcs, id);
    if (s) return (qc_sigs *)(uintptr_t)s->val;
    if (!create) return NULL;
    qc_sigs *q = calloc(1, sizeof *q);
    int added;
    if (!q || h32map_put(&r->qcs, id, (uint64_t)(uintptr_t)q, &s, &added)) {
        free(q);
        return NULL;
    }
    return q;
}

static to_sigs *to_get(cairn_replica *r, uint64_t round, int create)
{
    to_sigs *t = &r->tos[round % TO_ROUNDS];
    if (t->round == round) return t;
    if (!create) return NULL;
    memset(t, 0, sizeof *t);
    t->round = round;
    return t;
}

/* Only rounds in [core round - 1, core round + TO_ROUNDS - 2] are kept: no two of them share a
 * slot, so a timeout for an old round (a lagging or reconnecting peer re-sending its stuck
 * timeout, a replay) or for a round far ahead can never evict the signatures of the last TC,
 * which the node's own timeout and proposal must carry (tc_fill). An evicted TC left every node
 * unable to send either, and the cluster stopped for good: docs/fault-tests.md. */
static void to_put(cairn_replica *r, uint64_t round, uint32_t signer, uint64_t hqc,
                   const uint8_t sig[64])
{
    uint64_t cur = r->core->round;
    if (round + 1 < cur || round > cur + TO_ROUNDS - 2) return;
    to_sigs *t = to_get(r, round, 1);
    for (int k = 0; k < TO_PER_SIGNER; k++) {
        if (t->e[signer][k].used && t->e[signer][k].hqc == hqc) return;
    }
    for (int k = 0; k < TO_PER_SIGNER; k++) {
        if (!t->e[signer][k].used) {
            t->e[signer][k].used = 1;
            t->e[signer][k].hqc = hqc;
            memcpy(t->e[signer][k].sig, sig, 64);
            return;
        }
    }
}

static const uint8_t *to_find(cairn_replica *r, uint64_t round, uint32_t signer, uint64_t hqc)
{
    to_sigs *t = to_get(r, round, 0);
    if (!t) return NULL;
    for (int k = 0; k < TO_PER_SIGNER; k++)
        if (t->e[signer][k].used && t->e[signer][k].hqc == hqc) return t->e[signer][k].sig;
    return NULL;
}

/* Fills out with the signatures of qc (none for a QC without signers). Our own is made on the
 * spot if missing (we are in a QC only if we voted). CAIRN_ECONS_SIGNATURE if one is unknown. */
static int qc_fill(cairn_replica *r, const cairn_qc *qc, cairn_wire_cert_sigs *out)
{
    out->n = 0;
    if (!qc->signers) return 0;
    qc_sigs *q = qc_get(r, qc->block_id, 1);
    if (!q) return CAIRN_ENOMEM;
    for (uint32_t i = 0; i < CAIRN_CONS_MAX_VALIDATORS; i++) {
        if (!(qc->signers >> i & 1)) continue;
        if (!(q->have >> i & 1)) {
            if (i != r->self) return CAIRN_ECONS_SIGNATURE;
            int err = sign_msg(r, SIG_VOTE, qc->epoch, qc->round, qc->block_id, 0, q->sig[i]);
            if (err) return err;
            q->have |= 1ull << i;
        }
        memcpy(out->sig[out->n++], q->sig[i], 64);
    }
    return 0;
}

static int tc_fill(cairn_replica *r, const cairn_tc *tc, cairn_wire_cert_sigs *out)
{
    out->n = 0;
    for (uint32_t i = 0; i < CAIRN_CONS_MAX_VALIDATORS; i++) {
        if (!(tc->signers >> i & 1)) continue;
        const uint8_t *s = to_find(r, tc->round, i, tc->hqc_rounds[i]);
        uint8_t mine[64];
        if (!s) {
            if (i != r->self) return CAIRN_ECONS_SIGNATURE;
            int err = sign_msg(r, SIG_TIMEOUT, tc->epoch, tc->round, NULL, tc->hqc_rounds[i], mine);
            if (err) return err;
            to_put(r, tc->round, i, tc->hqc_rounds[i], mine);
            s = mine;
        }
        memcpy(out->sig[out->n++], s, 64);
    }
    return 0;
}

/* Verifies a QC's signatures (cached ones that match are not verified again). */
static int qc_verify(cairn_replica *r, const cairn_qc *qc, const cairn_wire_cert_sigs *sigs)
{
    if (!qc->signers) return 0; /* the genesis QC; the core checks it is one */
    if (sigs->n != (uint32_t)__builtin_popcountll(qc->signers)) return CAIRN_ECONS_SIGNATURE;
    qc_sigs *q = qc_get(r, qc->block_id, 1);
    if (!q) return CAIRN_ENOMEM;
    uint32_t k = 0;
    for (uint32_t i = 0; i < CAIRN_CONS_MAX_VALIDATORS; i++) {
        if (!(qc->signers >> i & 1)) continue;
        const uint8_t *s = sigs->sig[k++];
        if ((q->have >> i & 1) && memcmp(q->sig[i], s, 64) == 0) continue;
        int err = verify_msg(r, i, SIG_VOTE, qc->epoch, qc->round, qc->block_id, 0, s);
        if (err) return err;
        memcpy(q->sig[i], s, 64);
        q->have |= 1ull << i;
    }
    return 0;
}

static int tc_verify(cairn_replica *r, const cairn_tc *tc, const cairn_wire_cert_sigs *sigs)
{
    if (sigs->n != (uint32_t)__builtin_popcountll(tc->signers)) return CAIRN_ECONS_SIGNATURE;
    uint32_t k = 0;
    for (uint32_t i = 0; i < CAIRN_CONS_MAX_VALIDATORS; i++) {
        if (!(tc->signers >> i & 1)) continue;
        const uint8_t *s = sigs->sig[k++];
        const uint8_t *known = to_find(r, tc->round, i, tc->hqc_rounds[i]);
        if (known && memcmp(known, s, 64) == 0) continue;
        int err = verify_msg(r, i, SIG_TIMEOUT, tc->epoch, tc->round, NULL, tc->hqc_rounds[i], s);
        if (err) return err;
        to_put(r, tc->round, i, tc->hqc_rounds[i], s);
    }
    return 0;
}

/* ---- sending ---- */

/* To a net slot. */
static void send_slot(cairn_replica *r, uint32_t slot, const uint8_t *p, size_t len)
{
    if (!r->net || slot >= r->n_slots || slot == r->self_slot) return;
    /* Everything but batches and sync responses (the bulk) goes ahead of the bulk on the link:
     * a proposal queued behind megabytes of batches let its votes overtake it (the next leader
     * then lacked the block its QC certified, and the round timed out). */
    int field = len > 0 ? p[0] >> 3 : 0;
    int bulk = field == CAIRN__V1__CONSENSUS_ENVELOPE__MSG_BATCH ||
               field == CAIRN__V1__CONSENSUS_ENVELOPE__MSG_SYNC_RESPONSE;
    int err =
        bulk ? cairn_net_send(r->net, slot, p, len) : cairn_net_send_urgent(r->net, slot, p, len);
    if (err && err != CAIRN_ENET_DOWN)
        rlog(r, CAIRN_LOG_DEBUG, "msg=\"send failed\" slot=%u error=%s", slot, cairn_err_name(err));
}

/* To validator `to` of the epoch's set. */
static void send_bytes(cairn_replica *r, uint32_t to, const uint8_t *p, size_t len)
{
    if (to >= r->n || to == r->self) return;
    send_slot(r, r->slot_of[to], p, len);
}

static void broadcast_bytes(cairn_replica *r, const uint8_t *p, size_t len)
{
    for (uint32_t i = 0; i < r->n; i++) send_bytes(r, i, p, len);
}

/* To every linked peer, validators of the previous epoch still linked included. */
static void broadcast_slots(cairn_replica *r, const uint8_t *p, size_t len)
{
    for (uint32_t i = 0; i < r->n_slots; i++) send_slot(r, i, p, len);
}

/* Signs and sends one core message (to = UINT32_MAX: everyone; slot: to that net slot). */
static int send_core_msg_to(cairn_replica *r, uint32_t to, uint32_t slot, const cairn_msg *m);

static int send_core_msg(cairn_replica *r, uint32_t to, const cairn_msg *m)
{
    return send_core_msg_to(r, to, NO_SLOT, m);
}

static int send_core_msg_to(cairn_replica *r, uint32_t to, uint32_t slot, const cairn_msg *m)
{
    cairn_wire_sigs *s = calloc(1, sizeof *s);
    if (!s) return CAIRN_ENOMEM;
    int err = 0;
    cairn_msg m2; /* a timeout sent without its unsignable TC */
    switch (m->type) {
    case CAIRN_MSG_PROPOSAL: {
        const cairn_proposal *p = &m->u.proposal;
        s->has_msg = 1;
        if (!(err = sign_msg(r, SIG_PROPOSAL, p->block.epoch, p->block.round, p->block.id, 0,
                             s->msg)) &&
            !(err = qc_fill(r, &p->block.qc, &s->qc)) && p->has_tc)
            err = tc_fill(r, &p->tc, &s->tc);
        break;
    }
    case CAIRN_MSG_VOTE: {
        const cairn_vote *v = &m->u.vote;
        s->has_msg = 1;
        err = sign_msg(r, SIG_VOTE, v->epoch, v->round, v->block_id, 0, s->msg);
        qc_sigs *q = err ? NULL : qc_get(r, v->block_id, 1);
        if (q) {
            memcpy(q->sig[r->self], s->msg, 64);
            q->have |= 1ull << r->self;
        }
        break;
    }
    case CAIRN_MSG_TIMEOUT: {
        const cairn_timeout *t = &m->u.timeout;
        s->has_msg = 1;
        if (!(err = sign_msg(r, SIG_TIMEOUT, t->epoch, t->round, NULL, t->high_qc.round, s->msg))) {
            to_put(r, t->round, r->self, t->high_qc.round, s->msg);
            if (!(err = qc_fill(r, &t->high_qc, &s->qc)) && t->has_tc &&
                tc_fill(r, &t->last_tc, &s->tc) != 0) {
                /* The TC we entered the round by, restored after a restart without its
                 * signatures: send the timeout without it. It only tells lagging peers how we
                 * got here; the timeout itself counts all the same, and 2f+1 of them form the
                 * next TC. Without this, a whole cluster restarted in such a round could never
                 * time out of it (cluster_crash, crash_after_tc). */
                m2 = *m;
                m2.u.timeout.has_tc = 0;
                memset(&m2.u.timeout.last_tc, 0, sizeof m2.u.timeout.last_tc);
                memset(&s->tc, 0, sizeof s->tc);
                m = &m2;
            }
        }
        break;
    }
    default:
        break; /* sync requests travel unsigned on the authenticated link */
    }
    cairn_buf b = CAIRN_BUF_INIT;
    if (!err) err = cairn_wire_encode_msg(m, s, &b);
    if (!err) err = cairn_buf_finish(&b);
    if (!err) {
        if (slot != NO_SLOT)
            send_slot(r, slot, b.p, b.len);
        else if (to == UINT32_MAX)
            broadcast_bytes(r, b.p, b.len);
        else
            send_bytes(r, to, b.p, b.len);
    } else {
        rlog(r, CAIRN_LOG_WARN, "msg=\"cannot send consensus message\" type=%d error=%s", m->type,
             cairn_err_name(err));
    }
    cairn_buf_free(&b);
    free(s);
    return 0; /* a message that cannot be signed is dropped; the protocol retries */
}

/* ---- objects: batches and payload bodies ---- */

static void batch_free(batch_obj *b)
{
    if (!b) return;
    free(b->env);
    if (b->msg) protobuf_c_message_free_unpacked(&b->msg->base, NULL);
    free(b->hashes);
    free(b->sig_ok);
    free(b);
}

static void body_free(body_obj *b)
{
    if (!b) return;
    free(b->env);
    free(b->batches);
    free(b);
}

static batch_obj *batch_find(cairn_replica *r, const uint8_t d[32])
{
    h32map_slot *s = h32map_find(&r->batches, d);
    return s ? (batch_obj *)(uintptr_t)s->val : NULL;
}

static body_obj *body_find(cairn_replica *r, const uint8_t d[32])
{
    h32map_slot *s = h32map_find(&r->bodies, d);
    return s ? (body_obj *)(uintptr_t)s->val : NULL;
}

static int stored(cairn_replica *r, char kind, const uint8_t d[32], uint8_t **out, size_t *len)
{
    uint8_t key[33];
    key[0] = (uint8_t)kind;
    memcpy(key + 1, d, 32);
    cairn_txn *t;
    int err = cairn_store_read_begin(r->c.store, &t);
    if (err) return err;
    const void *v;
    size_t vl;
    err = cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, key, 33, &v, &vl);
    if (!err && out) {
        *out = malloc(vl ? vl : 1);
        if (!*out)
            err = CAIRN_ENOMEM;
        else {
            memcpy(*out, v, vl);
            *len = vl;
        }
    }
    cairn_txn_abort(t);
    return err;
}

/* Decodes a batch envelope, computes its digest and every transaction's hash; signatures are
 * checked later, when a block commits the batch (verify_unchecked). Takes ownership of env.
 * own: the batch was cut from our mempool (signatures checked at admission). */
static int batch_make(cairn_replica *r, uint8_t *env, size_t len, int own, batch_obj **out)
{
    *out = NULL;
    batch_obj *b = calloc(1, sizeof *b);
    if (!b) {
        free(env);
        return CAIRN_ENOMEM;
    }
    b->env = env;
    b->env_len = len;
    int err = cairn_batch_decode(env, len, &b->msg, b->digest);
    if (err) {
        batch_free(b);
        return err;
    }
    const Cairn__V1__TxBatch *tb = b->msg->batch;
    b->n = (uint32_t)tb->n_txs;
    b->hashes = calloc(b->n, 32);
    b->sig_ok = calloc(b->n, sizeof *b->sig_ok);
    if (!b->hashes || !b->sig_ok) err = CAIRN_ENOMEM;
    /* Only the hashes now; signatures are checked when a block commits the batch, all of the
     * block's together (one large batch verification, and none for batches never committed).
     * Our own batches were checked at admission. */
    for (uint32_t i = 0; !err && i < b->n; i++) {
        const ProtobufCBinaryData *raw = &tb->txs[i];
        cairn_tx tx;
        int e = cairn_tx_decode(&tx, raw->data, raw->len, r->g->chain_id);
        if (e == CAIRN_ENOMEM) err = e;
        if (e) {
            b->sig_ok[i] = e;
            cairn_sha256_oneshot(b->hashes[i], raw->data, raw->len);
            continue;
        }
        memcpy(b->hashes[i], tx.hash, 32);
        b->sig_ok[i] = own ? 0 : SIG_UNCHECKED;
        cairn_tx_free(&tx);
    }
    if (err) {
        batch_free(b);
        return err;
    }
    *out = b;
    return 0;
}

static int batch_add(cairn_replica *r, batch_obj *b, uint32_t origin)
{
    h32map_slot *s;
    int added;
    if (origin < CAIRN_NET_MAX_PEERS && r->peer_batches[origin] >= MAX_BATCHES_PER_PEER) {
        batch_free(b);
        return CAIRN_ECONS_FULL;
    }
    int err = h32map_put(&r->batches, b->digest, (uint64_t)(uintptr_t)b, &s, &added);
    if (err || !added) {
        batch_free(b);
        return err;
    }
    b->seq = ++r->batch_seq;
    b->origin = origin;
    if (origin < CAIRN_NET_MAX_PEERS) r->peer_batches[origin]++;
    return 0;
}

/* Removes a batch from memory (committed, or dropped at shutdown). */
static void batch_forget(cairn_replica *r, batch_obj *b)
{
    if (b->origin < CAIRN_NET_MAX_PEERS) r->peer_batches[b->origin]--;
    h32map_del(&r->batches, b->digest);
    batch_free(b);
}

static int body_make(uint8_t *env, size_t len, body_obj **out)
{
    *out = NULL;
    body_obj *b = calloc(1, sizeof *b);
    if (!b) {
        free(env);
        return CAIRN_ENOMEM;
    }
    b->env = env;
    b->env_len = len;
    int err = cairn_payload_decode(env, len, &b->time_ms, &b->batches, &b->n, b->digest);
    if (err) {
        body_free(b);
        return err;
    }
    *out = b;
    return 0;
}

static int body_add(cairn_replica *r, body_obj *b)
{
    h32map_slot *s;
    int added;
    int err = h32map_put(&r->bodies, b->digest, (uint64_t)(uintptr_t)b, &s, &added);
    if (err || !added) body_free(b);
    return err;
}

/* A batch or body from memory, else from the store (written when this node voted for a block that
 * carries it, or when it was applied): for serving or applying. */
static batch_obj *batch_get(cairn_replica *r, const uint8_t d[32])
{
    batch_obj *b = batch_find(r, d);
    if (b) return b;
    uint8_t *env;
    size_t len;
    if (stored(r, 'T', d, &env, &len)) return NULL;
    if (batch_make(r, env, len, 0, &b) || memcmp(b->digest, d, 32) != 0) {
        batch_free(b);
        return NULL;
    }
    b->proposed = 1;
    b->durable = 1;
    return batch_add(r, b, UINT32_MAX) ? NULL : batch_find(r, d);
}

static body_obj *body_get(cairn_replica *r, const uint8_t d[32])
{
    body_obj *b = body_find(r, d);
    if (b) return b;
    uint8_t *env;
    size_t len;
    if (stored(r, 'P', d, &env, &len)) return NULL;
    if (body_make(env, len, &b) || memcmp(b->digest, d, 32) != 0) {
        body_free(b);
        return NULL;
    }
    b->durable = 1;
    return body_add(r, b) ? NULL : body_find(r, d);
}

/* ---- fetching what we lack ---- */

static void want_add(cairn_replica *r, const uint8_t d[32], uint32_t first_peer)
{
    for (size_t i = 0; i < r->n_wants; i++)
        if (memcmp(r->wants[i].digest, d, 32) == 0) return;
    if (r->n_wants == r->cap_wants) {
        size_t cap = r->cap_wants ? r->cap_wants * 2 : 16;
        want_item *nw = realloc(r->wants, cap * sizeof *nw);
        if (!nw) return;
        r->wants = nw;
        r->cap_wants = cap;
    }
    want_item *w = &r->wants[r->n_wants++];
    memcpy(w->digest, d, 32);
    w->asked_at_ms = 0;
    w->since_ms = mono_ms();
    w->next_peer = first_peer;
}

static void want_drop(cairn_replica *r, const uint8_t d[32])
{
    for (size_t i = 0; i < r->n_wants; i++) {
        if (memcmp(r->wants[i].digest, d, 32) == 0) {
            r->wants[i] = r->wants[--r->n_wants];
            return;
        }
    }
}

/* Asks for wanted objects not asked recently, each from the next peer in turn. */
static void fetch_wanted(cairn_replica *r)
{
    uint64_t now = mono_ms();
    for (size_t i = 0; i < r->n_wants; i++) {
        want_item *w = &r->wants[i];
        if (now > w->since_ms + WANT_GIVE_UP_MS) { /* e.g. a Byzantine leader's invented digest */
            r->wants[i--] = r->wants[--r->n_wants];
            continue;
        }
        if (w->asked_at_ms && now < w->asked_at_ms + FETCH_RETRY_MS) continue;
        uint32_t peer = w->next_peer % r->n;
        if (peer == r->self) peer = (peer + 1) % r->n;
        w->next_peer = peer + 1;
        w->asked_at_ms = now;
        if (peer == r->self) continue;
        uint8_t *p;
        size_t len;
        if (cairn_object_request_encode((const uint8_t(*)[32])w->digest, 1, &p, &len) == 0) {
            send_bytes(r, peer, p, len);
            free(p);
        }
        ST_ADD(r, payload_fetches, 1);
    }
}

/* 1 if the payload (body and every batch) is here; otherwise registers what is missing. */
static int payload_ready(cairn_replica *r, const uint8_t payload[32], uint32_t source)
{
    static const uint8_t zero[32];
    if (memcmp(payload, zero, 32) == 0) return 1;
    body_obj *b = body_get(r, payload);
    if (!b) {
        want_add(r, payload, source);
        return 0;
    }
    int ok = 1;
    for (uint32_t i = 0; i < b->n; i++) {
        if (!batch_get(r, b->batches[i])) {
            want_add(r, b->batches[i], source);
            ok = 0;
        }
    }
    return ok;
}

static void mark_proposed(cairn_replica *r, const uint8_t payload[32])
{
    body_obj *b = body_find(r, payload);
    if (!b) return;
    uint64_t now = mono_ms();
    for (uint32_t i = 0; i < b->n; i++) {
        batch_obj *x = batch_find(r, b->batches[i]);
        if (x && !x->proposed) {
            x->proposed = 1;
            x->proposed_at_ms = now;
        }
    }
}

/* ---- the core ---- */

static int step(cairn_replica *r, const cairn_input *in);

static int put_obj(cairn_txn *t, char kind, const uint8_t d[32], const uint8_t *v, size_t len);

/* certs record: u32be n || n signatures of high_qc's signers (index order) || u32be m || m of
 * high_tc's; a count is 0 when a signature is unknown here (the certificate then cannot be sent
 * after a restart until a peer's message carries it again, as before this record existed). */
#define CERTS_RECORD_MAX (8 + 2 * 64 * CAIRN_CONS_MAX_VALIDATORS)

static size_t certs_record(cairn_replica *r, const cairn_safety_data *safety, uint8_t *out)
{
    cairn_wire_cert_sigs *cs = malloc(sizeof *cs);
    size_t len = 0;
    for (int k = 0; k < 2; k++) {
        uint32_t n = 0;
        if (cs && k == 0 && qc_fill(r, &safety->high_qc, cs) == 0) n = cs->n;
        if (cs && k == 1 && safety->has_high_tc && tc_fill(r, &safety->high_tc, cs) == 0) n = cs->n;
        cairn_put_u32be(out + len, n);
        len += 4;
        if (n) memcpy(out + len, cs->sig, (size_t)n * 64);
        len += (size_t)n * 64;
    }
    free(cs);
    return len;
}

/* Puts the certs record's signatures back into the caches (at restart, before the core runs). */
static void certs_restore(cairn_replica *r, const cairn_safety_data *safety, const uint8_t *v,
                          size_t vl)
{
    size_t off = 0;
    for (int k = 0; k < 2; k++) {
        if (off + 4 > vl) return;
        uint32_t n = cairn_get_u32be(v + off);
        off += 4;
        if ((size_t)n * 64 > vl - off) return;
        uint64_t signers = k == 0 ? safety->high_qc.signers : safety->high_tc.signers;
        if (n && n == (uint32_t)__builtin_popcountll(signers)) {
            const uint8_t *sig = v + off;
            qc_sigs *q = k == 0 ? qc_get(r, safety->high_qc.block_id, 1) : NULL;
            to_sigs *ts =
                k == 1 && safety->has_high_tc ? to_get(r, safety->high_tc.round, 1) : NULL;
            for (uint32_t i = 0; i < CAIRN_CONS_MAX_VALIDATORS; i++) {
                if (!(signers >> i & 1)) continue;
                if (q) {
                    memcpy(q->sig[i], sig, 64);
                    q->have |= 1ull << i;
                }
                if (ts) {
                    ts->e[i][0].used = 1;
                    ts->e[i][0].hqc = safety->high_tc.hqc_rounds[i];
                    memcpy(ts->e[i][0].sig, sig, 64);
                }
                sig += 64;
            }
        }
        off += (size_t)n * 64;
    }
}

/* The payload body of the block last voted for, if it has one and it is in memory. */
static body_obj *voted_body(cairn_replica *r, const cairn_safety_data *safety)
{
    static const uint8_t zero[32];
    if (safety->last_vote_round == 0) return NULL;
    const cairn_block *b = cairn_core_find_block(r->core, safety->last_vote_block);
    if (!b || memcmp(b->payload, zero, 32) == 0) return NULL;
    return body_find(r, b->payload);
}

static int persist_step(cairn_replica *r, const cairn_actions *a, uint64_t *token, int *any)
{
    *any = 0;
    *token = 0;
    const cairn_safety_data *safety = NULL;
    for (size_t i = 0; i < a->n; i++) {
        if (a->a[i].type == CAIRN_ACT_PERSIST) {
            safety = &a->a[i].u.persist.data;
            *token = a->a[i].u.persist.token;
            *any = 1;
        } else if (a->a[i].type == CAIRN_ACT_STORE_BLOCK) {
            *any = 1;
        }
    }
    if (!*any) return 0;
    uint64_t t0 = nanos();
    cairn_txn *t;
    int err = cairn_store_write_begin(r->c.store, &t);
    if (err) return err;
    if (safety) { /* u64be epoch || the core's safety data: never reused in another epoch */
        uint8_t rec[8 + sizeof *safety];
        cairn_put_u64be(rec, r->epoch);
        memcpy(rec + 8, safety, sizeof *safety);
        err = cairn_txn_put(t, CAIRN_TABLE_CONSENSUS, K_SAFETY, sizeof K_SAFETY - 1, rec,
                            sizeof rec, 0);
        uint8_t certs[CERTS_RECORD_MAX];
        size_t cl = certs_record(r, safety, certs);
        if (!err)
            err =
                cairn_txn_put(t, CAIRN_TABLE_CONSENSUS, K_CERTS, sizeof K_CERTS - 1, certs, cl, 0);
    }
    /* The payload of the block we vote for becomes durable with the vote: a QC then proves that
     * 2f+1 validators hold the block's batches on disk, so a certified block can always be
     * fetched and applied, even after every validator lost power at once (cluster_crash). */
    body_obj *voted = safety ? voted_body(r, safety) : NULL;
    for (uint32_t i = 0; !err && voted && i < voted->n; i++) {
        batch_obj *b = batch_find(r, voted->batches[i]);
        if (b && !b->durable) err = put_obj(t, 'T', b->digest, b->env, b->env_len);
    }
    if (!err && voted && !voted->durable)
        err = put_obj(t, 'P', voted->digest, voted->env, voted->env_len);
    /* The tree record: every stored block above the committed root, with its QC signatures. */
    if (!err) {
        const void *v = NULL;
        size_t vl = 0;
        int ge = cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, K_TREE, sizeof K_TREE - 1, &v, &vl);
        if (ge && ge != CAIRN_ENOENT) err = ge;
        size_t rec = sizeof(cairn_block) + sizeof(cairn_wire_cert_sigs);
        size_t extra = 0;
        for (size_t i = 0; i < a->n; i++) extra += a->a[i].type == CAIRN_ACT_STORE_BLOCK;
        uint8_t *nv = err ? NULL : malloc(vl + extra * rec + 1);
        if (!err && !nv) err = CAIRN_ENOMEM;
        size_t nl = 0;
        /* Keep only blocks above the last applied one (committed but unapplied blocks stay). */
        for (size_t off = 0; !err && off + rec <= vl; off += rec) {
            cairn_block blk;
            memcpy(&blk, (const uint8_t *)v + off, sizeof blk);
            if (blk.epoch == r->epoch && blk.height > r->applied_cons_height) {
                memcpy(nv + nl, (const uint8_t *)v + off, rec);
                nl += rec;
            }
        }
        for (size_t i = 0; !err && i < a->n; i++) {
            if (a->a[i].type != CAIRN_ACT_STORE_BLOCK) continue;
            const cairn_block *blk = &a->a[i].u.commit.block;
            cairn_wire_cert_sigs cs;
            memset(&cs, 0, sizeof cs);
            (void)qc_fill(r, &blk->qc, &cs); /* known: verified when the block arrived */
            memcpy(nv + nl, blk, sizeof *blk);
            memcpy(nv + nl + sizeof *blk, &cs, sizeof cs);
            nl += rec;
        }
        if (!err)
            err = cairn_txn_put(t, CAIRN_TABLE_CONSENSUS, K_TREE, sizeof K_TREE - 1, nv, nl, 0);
        free(nv);
    }
    if (err) {
        cairn_txn_abort(t);
        return err;
    }
    err = cairn_txn_commit(t);
    for (uint32_t i = 0; !err && voted && i < voted->n; i++) {
        batch_obj *b = batch_find(r, voted->batches[i]);
        if (b) b->durable = 1;
    }
    if (!err && voted) voted->durable = 1;
    ST_ADD(r, persist_ns, nanos() - t0);
    ST_ADD(r, persists, 1);
    return err;
}

static void answer_payload(cairn_replica *r, int force_empty);
static void enqueue_commit(cairn_replica *r, const cairn_block *b, const cairn_qc *qc);
static void drain_commits(cairn_replica *r);
static void record_evidence(cairn_replica *r, const cairn_evidence *ev);

static void on_core_timer(uv_timer_t *t)
{
    cairn_replica *r = t->data;
    uint64_t now = mono_ms();
    if (now < r->timer_deadline_ms) { /* the loop's cached clock ran behind ours: not yet */
        uv_timer_start(&r->core_timer, on_core_timer, r->timer_deadline_ms - now, 0);
        return;
    }
    cairn_input in = {.type = CAIRN_IN_TICK, .now_ms = mono_ms()};
    (void)step(r, &in);
}

/* Handles the actions of one step; may step again (PERSIST_DONE, payload answers). */
static int handle_actions(cairn_replica *r, cairn_actions *a)
{
    uint64_t token;
    int any;
    const uint64_t epoch = r->epoch; /* a nested step may start the next epoch: then stop */
    int err = persist_step(r, a, &token, &any);
    for (int k = 0; err == CAIRN_ESTORE_MAP_FULL && k < 8; k++)
        if (!(err = cairn_store_grow(r->c.store))) err = persist_step(r, a, &token, &any);
    if (err) {
        fatal(r, err, "persist");
        return err;
    }
    /* Copy: stepping again reuses r->acts. */
    size_t n = a->n;
    cairn_action *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy) return CAIRN_ENOMEM;
    memcpy(copy, a->a, n * sizeof *copy);
    for (size_t i = 0; i < n && r->epoch == epoch; i++) {
        cairn_action *x = &copy[i];
        rlog(r, CAIRN_LOG_TRACE, "msg=\"core action\" type=%d to=%u round=%llu msg_type=%d",
             x->type, x->to, (unsigned long long)r->core->round,
             x->type == CAIRN_ACT_SEND || x->type == CAIRN_ACT_BROADCAST ? x->u.msg.type : 0);
        switch (x->type) {
        case CAIRN_ACT_SEND:
        case CAIRN_ACT_SYNC_REQUEST:
            (void)send_core_msg(r, x->to, &x->u.msg);
            break;
        case CAIRN_ACT_BROADCAST:
            (void)send_core_msg(r, UINT32_MAX, &x->u.msg);
            break;
        case CAIRN_ACT_SET_TIMER: {
            uint64_t now = mono_ms();
            uint64_t d = x->u.deadline_ms > now ? x->u.deadline_ms - now : 0;
            r->timer_deadline_ms = x->u.deadline_ms;
            uv_timer_start(&r->core_timer, on_core_timer, d, 0);
            break;
        }
        case CAIRN_ACT_COMMIT:
            enqueue_commit(r, &x->u.commit.block, &x->u.commit.qc);
            break;
        case CAIRN_ACT_NEED_PAYLOAD:
            r->payload_round_pending = 1;
            r->payload_round = x->u.round;
            r->payload_asked_ms = mono_ms();
            break;
        case CAIRN_ACT_FETCH_PAYLOAD: {
            const cairn_block *b = &x->u.commit.block;
            if (payload_ready(r, b->payload, b->proposer)) {
                mark_proposed(r, b->payload);
                cairn_input in = {.type = CAIRN_IN_PAYLOAD_READY, .now_ms = mono_ms()};
                memcpy(in.u.block_id, b->id, 32);
                (void)step(r, &in);
            } else {
                for (int w = 0; w < MAX_WAIT_VOTES; w++) {
                    if (!r->waits[w].used) {
                        r->waits[w].used = 1;
                        memcpy(r->waits[w].block_id, b->id, 32);
                        memcpy(r->waits[w].payload, b->payload, 32);
                        break;
                    }
                }
                fetch_wanted(r);
            }
            break;
        }
        case CAIRN_ACT_EVIDENCE:
            record_evidence(r, &x->u.evidence);
            break;
        case CAIRN_ACT_EPOCH_END:
            /* The RECONFIG block is in the commit queue: applying it rotates the set, keeps the
             * epoch-end proof and starts the next epoch (apply_commit, start_next_epoch). */
            rlog(r, CAIRN_LOG_INFO, "msg=\"epoch ending\" epoch=%llu height=%llu",
                 (unsigned long long)r->epoch, (unsigned long long)x->u.commit.block.height);
            break;
        default:
            break; /* PERSIST, STORE_BLOCK: done above */
        }
    }
    free(copy);
    if (any && token && r->epoch == epoch) {
        cairn_input in = {.type = CAIRN_IN_PERSIST_DONE, .now_ms = mono_ms()};
        in.u.token = token;
        (void)step(r, &in);
    }
    drain_commits(r);
    if (r->payload_round_pending) answer_payload(r, 0);
    if (r->core->round != r->logged_round) {
        rlog(r, CAIRN_LOG_DEBUG, "msg=\"round\" round=%llu by=%s high_qc=%llu leader=%u",
             (unsigned long long)r->core->round,
             r->core->stat_tc_rounds != r->logged_tc_rounds ? "tc" : "qc",
             (unsigned long long)r->core->safety.high_qc.round,
             cairn_core_leader(r->core, r->core->round, NULL));
        r->logged_round = r->core->round;
        r->logged_tc_rounds = r->core->stat_tc_rounds;
    }
    ST_SET(r, round, r->core->round);
    ST_SET(r, qc_rounds, r->core->stat_qc_rounds);
    ST_SET(r, timeouts_rounds, r->core->stat_tc_rounds);
    return 0;
}

/* Steps nest (a PERSIST_DONE or a payload answer steps again while actions are handled), so
 * each depth keeps its own action buffer (168 KiB: allocated once, not per step). */
static int step(cairn_replica *r, const cairn_input *in)
{
    if (r->stopped || r->self == NO_SLOT) return 0; /* an observer runs no core */
    cairn_actions *a;
    if (r->depth < STEP_DEPTH_CACHED) {
        if (!r->acts_at[r->depth] && !(r->acts_at[r->depth] = malloc(sizeof *a)))
            return CAIRN_ENOMEM;
        a = r->acts_at[r->depth];
    } else if (!(a = malloc(sizeof *a))) {
        return CAIRN_ENOMEM;
    }
    r->depth++;
    int err = cairn_core_step(r->core, in, a);
    rlog(r, CAIRN_LOG_TRACE, "msg=\"core step\" input=%d result=%s actions=%zu", in->type,
         err ? cairn_err_name(err) : "ok", a->n);
    int herr = handle_actions(r, a);
    r->depth--;
    if (r->depth >= STEP_DEPTH_CACHED) free(a);
    return err ? err : herr;
}

/* Re-checks blocks waiting for their payload before the vote. */
static void recheck_waits(cairn_replica *r)
{
    for (int w = 0; w < MAX_WAIT_VOTES; w++) {
        if (!r->waits[w].used) continue;
        if (!payload_ready(r, r->waits[w].payload, 0)) continue;
        r->waits[w].used = 0;
        mark_proposed(r, r->waits[w].payload);
        cairn_input in = {.type = CAIRN_IN_PAYLOAD_READY, .now_ms = mono_ms()};
        memcpy(in.u.block_id, r->waits[w].block_id, 32);
        (void)step(r, &in);
    }
}

/* ---- proposing ---- */

static int tree_has_payload(const cairn_replica *r)
{
    static const uint8_t zero[32];
    for (size_t i = 0; i < CAIRN_CONS_MAX_TREE_BLOCKS; i++) {
        const cairn_tree_entry *e = &r->core->tree[i];
        if (e->used && e->b.height > r->core->root.height && memcmp(e->b.payload, zero, 32) != 0)
            return 1;
    }
    for (size_t i = 0; i < r->n_commits; i++)
        if (memcmp(r->commits[i].block.payload, zero, 32) != 0) return 1;
    return 0;
}

/* A RECONFIG block proposed and not yet committed (then the epoch's suffix follows). */
static int tree_has_reconfig(const cairn_replica *r)
{
    for (size_t i = 0; i < CAIRN_CONS_MAX_TREE_BLOCKS; i++) {
        const cairn_tree_entry *e = &r->core->tree[i];
        if (e->used && e->b.height > r->core->root.height && (e->b.flags & CAIRN_BLOCK_F_RECONFIG))
            return 1;
    }
    for (size_t i = 0; i < r->n_commits; i++)
        if (r->commits[i].block.flags & CAIRN_BLOCK_F_RECONFIG) return 1;
    return 0;
}

static int cmp_seq(const void *a, const void *b)
{
    const batch_obj *x = *(batch_obj *const *)a, *y = *(batch_obj *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void on_idle(uv_timer_t *t)
{
    answer_payload(t->data, 1);
}

/* Answers the core's NEED_PAYLOAD: the batches nobody proposed yet, oldest first, up to a
 * ledger block's limit; or waits (up to idle_ms) when there are none. */
static void answer_payload(cairn_replica *r, int force_empty)
{
    if (!r->payload_round_pending) return;
    uint64_t now = mono_ms();
    int reconfig = tree_has_reconfig(r);
    if (r->pending_changes > 0 || reconfig) {
        /* Validator changes wait in the ledger: end the epoch with an empty RECONFIG block
         * (docs/consensus.md "Epochs in the node"); its suffix carries empty payloads. */
        cairn_input in = {.type = CAIRN_IN_PAYLOAD, .now_ms = now};
        in.u.payload.round = r->payload_round;
        in.u.payload.flags = reconfig ? 0 : CAIRN_BLOCK_F_RECONFIG;
        r->payload_round_pending = 0;
        uv_timer_stop(&r->idle_timer);
        if (!reconfig)
            rlog(r, CAIRN_LOG_INFO, "msg=\"proposing the epoch change\" epoch=%llu round=%llu",
                 (unsigned long long)r->epoch, (unsigned long long)in.u.payload.round);
        (void)step(r, &in);
        return;
    }
    batch_obj **avail = NULL;
    size_t na = 0;
    if (r->batches.n && !(avail = malloc(r->batches.n * sizeof *avail)))
        rlog(r, CAIRN_LOG_WARN, "msg=\"out of memory: proposing an empty block\"");
    for (size_t i = 0; avail && i < r->batches.cap; i++) {
        if (!r->batches.s[i].used) continue;
        batch_obj *b = (batch_obj *)(uintptr_t)r->batches.s[i].val;
        if (b->proposed && now > b->proposed_at_ms + REPROPOSE_AFTER_MS) b->proposed = 0;
        if (!b->proposed) avail[na++] = b;
    }
    /* A round entered by a timeout certificate is proposed at once: the cluster is recovering. */
    if (na == 0 && !force_empty && !tree_has_payload(r) && !r->core->has_last_tc &&
        now < r->payload_asked_ms + r->idle_ms) {
        free(avail);
        uv_timer_start(&r->idle_timer, on_idle, r->payload_asked_ms + r->idle_ms - now, 0);
        return;
    }
    if (na > 1) qsort(avail, na, sizeof *avail, cmp_seq); /* avail is NULL when na == 0 */
    cairn_input in = {.type = CAIRN_IN_PAYLOAD, .now_ms = now};
    in.u.payload.round = r->payload_round;
    size_t take = 0, txs = 0;
    while (take < na && txs + avail[take]->n <= CAIRN_BLOCK_MAX_TXS) txs += avail[take++]->n;
    if (take > 0) {
        uint8_t(*d)[32] = malloc(take * 32);
        body_obj *body = calloc(1, sizeof *body);
        int err = d && body ? 0 : CAIRN_ENOMEM;
        if (!err) {
            for (size_t i = 0; i < take; i++) memcpy(d[i], avail[i]->digest, 32);
            body->time_ms = wall_ms();
            body->n = (uint32_t)take;
            body->batches = d;
            d = NULL;
            err = cairn_payload_encode(body->time_ms, (const uint8_t(*)[32])body->batches, body->n,
                                       &body->env, &body->env_len, body->digest);
        }
        if (!err) {
            memcpy(in.u.payload.digest, body->digest, 32);
            broadcast_bytes(r, body->env, body->env_len); /* before the proposal, same links */
            err = body_add(r, body);
            body = NULL;
            mark_proposed(r, in.u.payload.digest);
        }
        free(d);
        body_free(body);
        if (err) memset(in.u.payload.digest, 0, 32);
    }
    rlog(r, CAIRN_LOG_DEBUG,
         "msg=\"proposing\" round=%llu batches=%zu of %zu txs=%zu waited_ms=%llu",
         (unsigned long long)in.u.payload.round, take, na, txs,
         (unsigned long long)(now - r->payload_asked_ms));
    free(avail);
    r->payload_round_pending = 0;
    uv_timer_stop(&r->idle_timer);
    (void)step(r, &in);
}

/* ---- commit certificates ---- */

/* The set that certifies ledger block `height`: the one named by its parent (chain.h). */
static const cairn_valset *cert_set(const cairn_replica *r, uint64_t height)
{
    return r->prev && height <= r->vs->since_height ? r->prev : r->vs;
}

static uint64_t set_power(const cairn_valset *vs)
{
    uint64_t p = 0;
    for (size_t i = 0; i < vs->n; i++) p += vs->v[i].power;
    return p;
}

/* Our index in vs, or NO_SLOT. */
static uint32_t set_index(const cairn_valset *vs, const uint8_t id[32])
{
    for (size_t i = 0; i < vs->n; i++)
        if (memcmp(vs->v[i].id, id, 32) == 0) return (uint32_t)i;
    return NO_SLOT;
}

static void cert_write(cairn_replica *r, cert_slot *s)
{
    if (s->done || !s->have_local || s->power * 3 <= set_power(cert_set(r, s->height)) * 2) return;
    cairn_certificate c = s->cert;
    /* Canonical order: ascending validator index. */
    for (uint32_t i = 1; i < c.n; i++)
        for (uint32_t j = i; j > 0 && c.sigs[j - 1].validator > c.sigs[j].validator; j--) {
            cairn_cert_sig x = c.sigs[j];
            c.sigs[j] = c.sigs[j - 1];
            c.sigs[j - 1] = x;
        }
    cairn_txn *t;
    int err = cairn_store_write_begin(r->c.store, &t);
    if (!err && (err = cairn_chain_put_certificate(t, &c))) cairn_txn_abort(t);
    if (!err) err = cairn_txn_commit(t);
    if (err) {
        fatal(r, err, "certificate");
        return;
    }
    s->done = 1;
    uint64_t cur = atomic_load(&r->st[ST_IDX(certified_height)]);
    if (s->height > cur) ST_SET(r, certified_height, s->height);
    rlog(r, CAIRN_LOG_DEBUG, "msg=\"block certified\" height=%llu signers=%u",
         (unsigned long long)s->height, c.n);
}

static cert_slot *cert_slot_for(cairn_replica *r, uint64_t height)
{
    cert_slot *s = &r->certs[height % CERT_WINDOW];
    if (s->height != height) {
        memset(s, 0, sizeof *s);
        s->height = height;
        s->cert.height = height;
    }
    return s;
}

static void cert_add(cairn_replica *r, uint64_t height, const uint8_t hash[32], uint32_t v,
                     const uint8_t sig[64])
{
    cert_slot *s = cert_slot_for(r, height);
    const cairn_valset *set = cert_set(r, height);
    if (s->done || v >= set->n || (s->signers[v / 64] >> (v % 64) & 1)) return;
    const uint8_t *want = s->have_local ? s->local_hash : (s->cert.n ? s->seen_hash : NULL);
    if (want && memcmp(want, hash, 32) != 0) {
        rlog(r, CAIRN_LOG_WARN,
             "msg=\"commit signature for another block hash\" height=%llu "
             "validator=%u",
             (unsigned long long)height, v);
        return;
    }
    if (!want) {
        memcpy(s->seen_hash, hash, 32);
        memcpy(s->cert.block_hash, hash, 32);
    }
    s->cert.sigs[s->cert.n].validator = v;
    memcpy(s->cert.sigs[s->cert.n].sig, sig, 64);
    s->cert.n++;
    s->signers[v / 64] |= 1ull << (v % 64);
    s->power += set->v[v].power;
    cert_write(r, s);
}

/* Our own block: keep the signatures that match it, add ours, tell everyone. */
static void cert_local(cairn_replica *r, uint64_t height, const uint8_t hash[32])
{
    cert_slot *s = cert_slot_for(r, height);
    if (s->cert.n && memcmp(s->seen_hash, hash, 32) != 0) {
        uint64_t h = s->height;
        memset(s, 0, sizeof *s);
        s->height = h;
        s->cert.height = h;
    }
    s->have_local = 1;
    s->local_at_ms = mono_ms();
    memcpy(s->local_hash, hash, 32);
    memcpy(s->cert.block_hash, hash, 32);
    uint8_t sig[64];
    uint32_t me = set_index(cert_set(r, height), r->my_id);
    if (me == NO_SLOT) return; /* not in the certifying set: we collect, we do not sign */
    if (cairn_commit_sign(r->g->chain_id, height, hash, r->c.seed, sig)) return;
    cert_add(r, height, hash, me, sig);
    cert_write(r, s);

    cairn_commit_vote cv = {.height = height, .validator = me};
    memcpy(cv.block_hash, hash, 32);
    memcpy(cv.sig, sig, 64);
    uint8_t *p;
    size_t len;
    if (cairn_commit_vote_encode(&cv, &p, &len) == 0) {
        broadcast_slots(r, p, len);
        free(p);
    }
}

/* Asks again for the votes of recent blocks still uncertified here half a second after we
 * applied them (we were away when their votes went round, or votes were lost). */
static void ask_missing_votes(cairn_replica *r)
{
    uint64_t cur = atomic_load(&r->st[ST_IDX(ledger_height)]), now = mono_ms();
    for (uint64_t h = cur; h > 0 && h + 8 > cur; h--) {
        cert_slot *s = &r->certs[h % CERT_WINDOW];
        if (s->height != h || !s->have_local || s->done || now < s->local_at_ms + 500 ||
            (s->asked_at_ms && now < s->asked_at_ms + 1000))
            continue;
        s->asked_at_ms = now;
        uint8_t *p;
        size_t len;
        if (cairn_commit_vote_request_encode(h, &p, &len) == 0) {
            broadcast_slots(r, p, len); /* the previous set certifies the epoch-change block */
            free(p);
        }
    }
}

/* A peer asks for our vote on ledger block `height`: sign it again (Ed25519 is deterministic,
 * so this is the same signature) and send it. */
static int on_commit_vote_request(cairn_replica *r, uint32_t peer, const uint8_t *p, size_t len)
{
    uint64_t h;
    int err = cairn_commit_vote_request_decode(p, len, &h);
    if (err) return err;
    cairn_txn *t;
    cairn_commit_vote cv = {.height = h, .validator = set_index(cert_set(r, h), r->my_id)};
    if (cv.validator == NO_SLOT) return 0; /* we do not certify that block */
    if ((err = cairn_store_read_begin(r->c.store, &t))) return err;
    cairn_header hdr;
    err = cairn_chain_block(t, h, &hdr, cv.block_hash);
    cairn_txn_abort(t);
    if (err) return err == CAIRN_ENOENT ? 0 : err; /* not applied here yet */
    if ((err = cairn_commit_sign(r->g->chain_id, h, cv.block_hash, r->c.seed, cv.sig))) return err;
    uint8_t *out;
    size_t olen;
    if ((err = cairn_commit_vote_encode(&cv, &out, &olen))) return err;
    send_slot(r, peer, out, olen);
    free(out);
    return 0;
}

static int on_commit_vote(cairn_replica *r, uint32_t peer, const uint8_t *p, size_t len)
{
    cairn_commit_vote cv;
    int err = cairn_commit_vote_decode(p, len, &cv);
    if (err) return err;
    uint64_t cur = atomic_load(&r->st[ST_IDX(ledger_height)]);
    const cairn_valset *set = cert_set(r, cv.height);
    /* The signer is the validator of the certifying set whose noise key the link proved. */
    if (cv.validator >= set->n || peer >= r->n_slots ||
        memcmp(set->v[cv.validator].noise_key, r->slots[peer].noise_pub, 32) != 0)
        return CAIRN_ECONS_SENDER;
    if (cv.height == 0 || cv.height + CERT_WINDOW / 2 < cur || cv.height > cur + CERT_WINDOW / 2)
        return CAIRN_ECONS_STALE;
    cert_slot *s = cert_slot_for(r, cv.height);
    if (s->done) return 0;
    cairn_buf b = CAIRN_BUF_INIT;
    cairn_commit_signing_input(&b, r->g->chain_id, cv.height, cv.block_hash);
    err = cairn_buf_finish(&b);
    if (!err && cairn_ed25519_verify(r->c.sig, set->v[cv.validator].key.key, b.p, b.len, cv.sig))
        err = CAIRN_ECONS_SIGNATURE;
    cairn_buf_free(&b);
    if (!err) cert_add(r, cv.height, cv.block_hash, cv.validator, cv.sig);
    return err;
}

/* ---- epochs (docs/consensus.md "Epochs in the node") ---- */

static int parse_hostport(const char *s, size_t len, cairn_net_peer *p);
static void key_h(uint8_t key[9], char kind, uint64_t h);
static int start_core(cairn_replica *r, const cairn_core_restore *rs);
static int net_start(cairn_replica *r);
static void start_next_epoch(cairn_replica *r);

/* The link address of validator v: the config's peer list when it lists the genesis set and v
 * is a genesis validator, else the address in v's ledger record. */
static int slot_addr(const cairn_replica *r, const cairn_validator *v, cairn_net_peer *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->noise_pub, v->noise_key, 32);
    if (r->c.cfg->n_peers == r->g->n_validators) {
        for (size_t i = 0; i < r->g->n_validators; i++) {
            if (memcmp(r->g->validators[i].id, v->id, 32) != 0) continue;
            snprintf(out->host, sizeof out->host, "%s", r->c.cfg->peers[i].host);
            out->port = r->c.cfg->peers[i].port;
            return 0;
        }
    }
    return parse_hostport(v->address.s, v->address.len, out);
}

/* Maps the epoch's set onto net slots: a validator keeps its slot across epochs (found by noise
 * key), a new one takes a free slot, one no longer in the set keeps its link SLOT_LINGER_MS (so
 * the epoch-end proof reaches it) and then its slot is emptied: its key no longer passes the
 * handshake. */
static int install_set(cairn_replica *r)
{
    static const uint8_t zero[32];
    if (r->vs->n == 0 || r->vs->n > CAIRN_CONS_MAX_VALIDATORS) return CAIRN_EUNSUPPORTED;
    r->n = (uint32_t)r->vs->n;
    r->total_power = set_power(r->vs);
    r->self = set_index(r->vs, r->my_id);
    uint8_t member[CAIRN_NET_MAX_PEERS] = {0};
    for (uint32_t s = 0; s < CAIRN_NET_MAX_PEERS; s++) r->cons_of[s] = NO_SLOT;
    for (uint32_t i = 0; i < r->n; i++) {
        const cairn_validator *v = &r->vs->v[i];
        uint32_t slot = NO_SLOT, free_slot = NO_SLOT;
        for (uint32_t s = 0; s < r->n_slots && slot == NO_SLOT; s++)
            if (memcmp(r->slots[s].noise_pub, v->noise_key, 32) == 0) slot = s;
        if (slot == NO_SLOT) {
            for (uint32_t s = 0; s < r->n_slots && free_slot == NO_SLOT; s++)
                if (s != r->self_slot && memcmp(r->slots[s].noise_pub, zero, 32) == 0)
                    free_slot = s;
            if (free_slot == NO_SLOT && r->n_slots < CAIRN_NET_MAX_PEERS) free_slot = r->n_slots++;
            if (free_slot == NO_SLOT) return CAIRN_EUNSUPPORTED;
            cairn_net_peer a;
            int err = slot_addr(r, v, &a);
            if (err) {
                rlog(r, CAIRN_LOG_WARN, "msg=\"validator address is not host:port\" index=%u", i);
                memset(&a, 0, sizeof a);
                memcpy(a.noise_pub, v->noise_key, 32); /* accepted, never dialled */
            }
            slot = free_slot;
            r->slots[slot] = a;
            if (r->net && (err = cairn_net_set_peer(r->net, slot, &a))) return err;
        }
        r->slot_of[i] = slot;
        r->cons_of[slot] = i;
        r->slot_empty_at[slot] = 0;
        member[slot] = 1;
    }
    uint64_t now = mono_ms();
    for (uint32_t s = 0; s < r->n_slots; s++)
        if (!member[s] && s != r->self_slot && memcmp(r->slots[s].noise_pub, zero, 32) != 0 &&
            !r->slot_empty_at[s])
            r->slot_empty_at[s] = now + SLOT_LINGER_MS;
    ST_SET(r, epoch, r->epoch);
    ST_SET(r, validators, r->n);
    ST_SET(r, voter, r->self != NO_SLOT);
    return 0;
}

/* Empties the slots of removed validators once their linger time passed. */
static void expire_slots(cairn_replica *r)
{
    uint64_t now = mono_ms();
    for (uint32_t s = 0; s < r->n_slots; s++) {
        if (!r->slot_empty_at[s] || now < r->slot_empty_at[s]) continue;
        r->slot_empty_at[s] = 0;
        memset(&r->slots[s], 0, sizeof r->slots[s]);
        if (r->net && cairn_net_set_peer(r->net, s, NULL) == 0)
            rlog(r, CAIRN_LOG_INFO, "msg=\"removed validator unlinked\" slot=%u", s);
    }
}

static void proof_free(cairn_replica *r)
{
    free(r->proof);
    free(r->proof_resp);
    free(r->proof_sigs);
    r->proof = NULL;
    r->proof_resp = NULL;
    r->proof_sigs = NULL;
    r->proof_len = 0;
}

/* Keeps the epoch-end proof (encoded sync response): decoded for serving, bytes for sending. */
static int proof_set(cairn_replica *r, const uint8_t *p, size_t len)
{
    proof_free(r);
    r->proof = malloc(len ? len : 1);
    r->proof_resp = calloc(1, sizeof *r->proof_resp);
    r->proof_sigs = calloc(1, sizeof *r->proof_sigs);
    if (!r->proof || !r->proof_resp || !r->proof_sigs) {
        proof_free(r);
        return CAIRN_ENOMEM;
    }
    memcpy(r->proof, p, len);
    r->proof_len = len;
    int err = cairn_wire_decode_sync(p, len, r->proof_resp, r->proof_sigs);
    if (err) proof_free(r);
    return err;
}

/* The stored end proof of an older epoch (NULL if none): a copy of its encoding. */
static uint8_t *stored_proof(cairn_replica *r, uint64_t epoch, size_t *len)
{
    uint8_t key[9];
    key_h(key, 'X', epoch);
    cairn_txn *t;
    const void *v;
    uint8_t *out = NULL;
    if (cairn_store_read_begin(r->c.store, &t)) return NULL;
    if (cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, key, 9, &v, len) == 0 && (out = malloc(*len)))
        memcpy(out, v, *len);
    cairn_txn_abort(t);
    return out;
}

/* To a peer still in an ended epoch (rate-limited per link): that epoch's end proof. */
static void send_proof(cairn_replica *r, uint32_t slot, uint64_t epoch)
{
    uint64_t now = mono_ms();
    if (slot >= CAIRN_NET_MAX_PEERS || epoch >= r->epoch) return;
    if (r->proof_sent_at[slot] && now < r->proof_sent_at[slot] + PROOF_RESEND_MS) return;
    r->proof_sent_at[slot] = now;
    if (epoch + 1 == r->epoch) {
        if (r->proof) send_slot(r, slot, r->proof, r->proof_len);
        return;
    }
    size_t len;
    uint8_t *p = stored_proof(r, epoch, &len);
    if (p) send_slot(r, slot, p, len);
    free(p);
}

/* Records of the epoch's end, in the transaction that applies its RECONFIG block `blk`: the
 * proof ('X' || epoch), the next epoch (K_EPOCH), its genesis as the root; the epoch's safety
 * data and stored tree are deleted, so nothing of them is ever reused. */
static int end_epoch_records(cairn_replica *r, cairn_txn *t, const cairn_block *blk)
{
    cairn_sync_response *resp = calloc(1, sizeof *resp);
    cairn_wire_sync_sigs *sigs = calloc(1, sizeof *sigs);
    cairn_buf b = CAIRN_BUF_INIT;
    int err = resp && sigs ? 0 : CAIRN_ENOMEM;
    if (!err && r->self != NO_SLOT) {
        resp->epoch = r->epoch;
        resp->n_blocks = (uint32_t)cairn_core_epoch_proof(
            r->core, resp->blocks, CAIRN_CONS_SYNC_MAX_BLOCKS, &resp->tail_qc);
    } else if (!err && r->obs_proof) {
        *resp = *r->obs_proof;
    }
    int have = !err && resp->n_blocks > 0 && memcmp(resp->blocks[0].id, blk->id, 32) == 0;
    for (uint32_t i = 0; have && i < resp->n_blocks; i++)
        have = qc_fill(r, &resp->blocks[i].qc, &sigs->block_qc[i]) == 0;
    if (have) have = qc_fill(r, &resp->tail_qc, &sigs->tail_qc) == 0;
    if (have) err = cairn_wire_encode_sync(resp, sigs, &b);
    if (have && !err) err = cairn_buf_finish(&b);
    uint8_t key[9];
    key_h(key, 'X', r->epoch);
    if (have && !err) err = cairn_txn_put(t, CAIRN_TABLE_CONSENSUS, key, 9, b.p, b.len, 0);
    if (have && !err) err = proof_set(r, b.p, b.len);
    if (!err && !have) {
        /* Never expected (the core keeps the two-chain); peers still in the epoch then catch up
         * from the stored blocks only. The epoch still ends: every node applies this block. */
        rlog(r, CAIRN_LOG_WARN, "msg=\"no proof of the epoch's end to keep\" epoch=%llu",
             (unsigned long long)r->epoch);
        proof_free(r);
    }
    uint8_t ep[40];
    cairn_put_u64be(ep, r->epoch + 1);
    memcpy(ep + 8, blk->id, 32);
    if (!err) err = cairn_txn_put(t, CAIRN_TABLE_CONSENSUS, K_EPOCH, sizeof K_EPOCH - 1, ep, 40, 0);
    const char *gone[] = {K_SAFETY, K_TREE};
    for (int i = 0; !err && i < 2; i++) {
        err = cairn_txn_del(t, CAIRN_TABLE_CONSENSUS, gone[i], strlen(gone[i]));
        if (err == CAIRN_ENOENT) err = 0;
    }
    if (!err) {
        cairn_block g;
        cairn_qc gq;
        cairn_core_genesis(r->epoch + 1, blk->id, &g, &gq);
        uint8_t root[sizeof g + sizeof gq];
        memcpy(root, &g, sizeof g);
        memcpy(root + sizeof g, &gq, sizeof gq);
        err = cairn_txn_put(t, CAIRN_TABLE_CONSENSUS, K_ROOT, sizeof K_ROOT - 1, root, sizeof root,
                            0);
    }
    cairn_buf_free(&b);
    free(resp);
    free(sigs);
    return err;
}

/* The RECONFIG block is applied (the ledger holds the new set): tell the old epoch's peers, then
 * run the next epoch with the new set, as a voter or (not in it) as an observer. */
static void start_next_epoch(cairn_replica *r)
{
    r->switch_due = 0;
    uint32_t old_self = r->self, old_n = r->n;
    memcpy(r->prev_slot_of, r->slot_of, sizeof r->slot_of);
    for (uint32_t i = 0; i < old_n; i++)
        if (i != old_self) {
            r->proof_sent_at[r->prev_slot_of[i]] = 0;
            if (r->proof) send_slot(r, r->prev_slot_of[i], r->proof, r->proof_len);
        }
    cairn_valset *old = r->prev;
    r->prev = r->vs;
    r->vs = r->next_vs;
    r->next_vs = old;
    r->epoch = r->vs->epoch;
    memcpy(r->epoch_seed, r->next_seed, 32);
    free(r->obs_proof);
    r->obs_proof = NULL;
    int err = install_set(r);
    if (!err && !r->net && r->n > 1) err = net_start(r); /* a one-validator chain grew */
    if (err) {
        fatal(r, err, "epoch set");
        return;
    }
    /* Nothing of the old epoch's core carries over. */
    r->n_commits = 0;
    memset(r->waits, 0, sizeof r->waits);
    r->payload_round_pending = 0;
    if (r->timers_init) {
        uv_timer_stop(&r->idle_timer);
        uv_timer_stop(&r->core_timer);
    }
    memset(r->tos, 0, TO_ROUNDS * sizeof *r->tos);
    r->applied_cons_height = 0;
    ST_SET(r, cons_height, 0);
    /* Commit signatures gathered for blocks after the change were checked against the old set. */
    for (uint32_t i = 0; i < CERT_WINDOW; i++)
        if (r->certs[i].height > r->vs->since_height && !r->certs[i].done)
            memset(&r->certs[i], 0, sizeof r->certs[i]);
    cairn_block g;
    cairn_qc gq;
    cairn_core_genesis(r->epoch, r->epoch_seed, &g, &gq);
    memcpy(r->last_applied_id, g.id, 32);
    rlog(r, CAIRN_LOG_INFO,
         "msg=\"epoch started\" epoch=%llu validators=%u self=%d change_height=%llu",
         (unsigned long long)r->epoch, r->n, r->self == NO_SLOT ? -1 : (int)r->self,
         (unsigned long long)r->vs->since_height);
    if (r->self == NO_SLOT) return; /* observer: follows by sync (observe_tick) */
    cairn_core_restore rs;
    memset(&rs, 0, sizeof rs);
    rs.root = g;
    rs.root_qc = gq;
    if ((err = start_core(r, &rs))) fatal(r, err, "epoch core");
}

static void on_message(void *ctx, uint32_t peer, const uint8_t *p, size_t len);
static void on_link(void *ctx, uint32_t peer, int up);

/* Binds the peer listener and dials the slots (CAIRN_NET_MAX_PEERS slots, unused ones empty). */
static int net_start(cairn_replica *r)
{
    cairn_net_config nc = {
        .loop = r->c.loop,
        .chain_id = r->g->chain_id,
        .self = r->self_slot,
        .n_peers = CAIRN_NET_MAX_PEERS,
        .peers = r->slots,
        .noise_private = r->c.noise_private,
        .listen_host = r->c.cfg->p2p_listen.host,
        .listen_port = r->c.cfg->p2p_listen.port,
        .on_message = on_message,
        .on_link = on_link,
        .ctx = r,
    };
    return cairn_net_start(&r->net, &nc);
}

/* Starts the epoch's core over rs and steps the first TICK. */
static int start_core(cairn_replica *r, const cairn_core_restore *rs)
{
    cairn_core_config cc = {.epoch = r->epoch,
                            .n_validators = r->n,
                            .self = r->self,
                            .leader_reputation = 1,
                            .payload_ready_by_default = 0};
    for (uint32_t i = 0; i < r->n; i++) cc.power[i] = r->vs->v[i].power;
    cairn_block g;
    cairn_qc gq;
    cairn_core_genesis(r->epoch, r->epoch_seed, &g, &gq);
    memcpy(cc.genesis_id, g.id, 32);
    memset(r->core, 0, sizeof *r->core);
    int err = cairn_core_init(r->core, &cc, rs);
    if (err) return err;
    if (r->timers_init) {
        cairn_input in = {.type = CAIRN_IN_TICK, .now_ms = mono_ms()};
        (void)step(r, &in);
    }
    return 0;
}

/* ---- observing: a node outside the epoch's set follows the chain by sync ---- */

static int qc_has_quorum(const cairn_replica *r, const cairn_qc *qc, const cairn_block *b)
{
    if (qc->epoch != r->epoch || qc->round != b->round || qc->height != b->height ||
        memcmp(qc->block_id, b->id, 32) != 0 || (r->n < 64 && (qc->signers >> r->n)))
        return 0;
    uint64_t p = 0;
    for (uint32_t i = 0; i < r->n; i++)
        if (qc->signers >> i & 1) p += r->vs->v[i].power;
    return p * 3 > r->total_power * 2;
}

/* A sync response (signatures verified) that extends our last applied block: its blocks up to
 * the last one the two-chain rule commits (a certified child in the next round) are committed
 * and queued for application, exactly as a validator's core would commit them. */
static void observe_response(cairn_replica *r, const cairn_sync_response *resp)
{
    uint32_t k = resp->n_blocks;
    if (k < 2 || memcmp(resp->blocks[0].parent_id, r->last_applied_id, 32) != 0 ||
        resp->blocks[0].height != r->applied_cons_height + 1)
        return;
    for (uint32_t i = 0; i < k; i++) {
        const cairn_block *b = &resp->blocks[i];
        const cairn_qc *cert = i + 1 < k ? &resp->blocks[i + 1].qc : &resp->tail_qc;
        if (b->epoch != r->epoch || memcmp(b->qc.block_id, b->parent_id, 32) != 0 ||
            !qc_has_quorum(r, cert, b))
            return;
        if (i > 0 && (b->height != resp->blocks[i - 1].height + 1 ||
                      memcmp(b->parent_id, resp->blocks[i - 1].id, 32) != 0))
            return;
    }
    uint32_t last = NO_SLOT; /* highest index committed by a direct two-chain */
    for (uint32_t j = 0; j + 1 < k; j++)
        if (resp->blocks[j + 1].round == resp->blocks[j].round + 1) last = j;
    if (last == NO_SLOT) return;
    for (uint32_t i = 0; i <= last && r->n_commits < 4 * CAIRN_CONS_SYNC_MAX_BLOCKS; i++) {
        const cairn_block *b = &resp->blocks[i];
        if (b->height <= r->applied_cons_height) continue;
        if (r->n_commits && r->commits[r->n_commits - 1].block.height >= b->height) continue;
        enqueue_commit(r, b, i + 1 < k ? &resp->blocks[i + 1].qc : &resp->tail_qc);
        if (b->flags & CAIRN_BLOCK_F_RECONFIG) {
            /* The rest of the response is the epoch's end: keep it as the proof. */
            free(r->obs_proof);
            r->obs_proof = calloc(1, sizeof *r->obs_proof);
            if (r->obs_proof) {
                r->obs_proof->epoch = r->epoch;
                for (uint32_t m = i; m < k; m++)
                    r->obs_proof->blocks[r->obs_proof->n_blocks++] = resp->blocks[m];
                r->obs_proof->tail_qc = resp->tail_qc;
            }
            break;
        }
    }
    drain_commits(r);
}

/* An observer asks the next validator of the set for the blocks after its last applied one. */
static void observe_tick(cairn_replica *r)
{
    uint64_t now = mono_ms();
    if (r->self != NO_SLOT || now < r->observe_at_ms || r->n_commits) return;
    r->observe_at_ms = now + OBSERVE_SYNC_MS;
    for (uint32_t tries = 0; tries < r->n; tries++) {
        uint32_t i = r->observe_next++ % r->n;
        if (!r->net || !cairn_net_is_up(r->net, r->slot_of[i])) continue;
        cairn_msg m;
        memset(&m, 0, sizeof m);
        m.type = CAIRN_MSG_SYNC_REQUEST;
        m.u.sync_request.epoch = r->epoch;
        m.u.sync_request.from_height = r->applied_cons_height + 1;
        (void)send_core_msg_to(r, i, r->slot_of[i], &m);
        return;
    }
}

/* ---- applying committed blocks ---- */

static void enqueue_commit(cairn_replica *r, const cairn_block *b, const cairn_qc *qc)
{
    if (b->height <= r->applied_cons_height) return;
    for (size_t i = 0; i < r->n_commits; i++)
        if (r->commits[i].block.height == b->height) return;
    if (r->n_commits == r->cap_commits) {
        size_t cap = r->cap_commits ? r->cap_commits * 2 : 16;
        commit_item *nc = realloc(r->commits, cap * sizeof *nc);
        if (!nc) {
            fatal(r, CAIRN_ENOMEM, "commit queue");
            return;
        }
        r->commits = nc;
        r->cap_commits = cap;
    }
    r->commits[r->n_commits].block = *b;
    r->commits[r->n_commits].qc = *qc;
    r->n_commits++;
    (void)payload_ready(r, b->payload, b->proposer);
}

static void key_h(uint8_t key[9], char kind, uint64_t h)
{
    key[0] = (uint8_t)kind;
    cairn_put_u64be(key + 1, h);
}

/* 'C' || u64be epoch || u64be height. */
static void key_c(uint8_t key[17], uint64_t epoch, uint64_t h)
{
    key[0] = 'C';
    cairn_put_u64be(key + 1, epoch);
    cairn_put_u64be(key + 9, h);
}

static int put_obj(cairn_txn *t, char kind, const uint8_t d[32], const uint8_t *v, size_t len)
{
    uint8_t key[33];
    key[0] = (uint8_t)kind;
    memcpy(key + 1, d, 32);
    return cairn_txn_put(t, CAIRN_TABLE_CONSENSUS, key, 33, v, len, 0);
}

/* The committed block with its QC signatures, as a one-block sync response (for serving). */
static int put_committed(cairn_replica *r, cairn_txn *t, const cairn_block *b, const cairn_qc *qc)
{
    cairn_sync_response *resp = calloc(1, sizeof *resp);
    cairn_wire_sync_sigs *sigs = calloc(1, sizeof *sigs);
    int err = resp && sigs ? 0 : CAIRN_ENOMEM;
    cairn_buf buf = CAIRN_BUF_INIT;
    if (!err) {
        resp->epoch = b->epoch;
        resp->n_blocks = 1;
        resp->blocks[0] = *b;
        resp->tail_qc = *qc;
        if (qc_fill(r, &b->qc, &sigs->block_qc[0]) || qc_fill(r, qc, &sigs->tail_qc))
            memset(sigs, 0, sizeof *sigs); /* unknown signatures: stored unsigned */
        err = cairn_wire_encode_sync(resp, sigs, &buf);
        if (!err) err = cairn_buf_finish(&buf);
    }
    uint8_t key[17];
    key_c(key, b->epoch, b->height);
    if (!err) err = cairn_txn_put(t, CAIRN_TABLE_CONSENSUS, key, 17, buf.p, buf.len, 0);
    if (!err) {
        uint8_t root[sizeof *b + sizeof *qc];
        memcpy(root, b, sizeof *b);
        memcpy(root + sizeof *b, qc, sizeof *qc);
        err = cairn_txn_put(t, CAIRN_TABLE_CONSENSUS, K_ROOT, sizeof K_ROOT - 1, root, sizeof root,
                            0);
    }
    cairn_buf_free(&buf);
    free(resp);
    free(sigs);
    return err;
}

/* Verifies, in one batch, the signatures of the block's transactions not checked yet. */
static int verify_unchecked(cairn_replica *r, const cairn_log_leaf *leaves, int *sig_ok, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += sig_ok[i] == SIG_UNCHECKED;
    if (k == 0) return 0;
    const uint8_t **raw = malloc(k * sizeof *raw);
    size_t *len = malloc(k * sizeof *len), *which = malloc(k * sizeof *which);
    int *res = malloc(k * sizeof *res);
    int err = raw && len && which && res ? 0 : CAIRN_ENOMEM;
    for (size_t i = 0, j = 0; !err && i < n; i++) {
        if (sig_ok[i] != SIG_UNCHECKED) continue;
        raw[j] = leaves[i].data;
        len[j] = leaves[i].len;
        which[j++] = i;
    }
    uint64_t t0 = nanos();
    if (!err) err = cairn_tx_verify_many(r->c.sig, r->g->chain_id, raw, len, k, res);
    for (size_t j = 0; !err && j < k; j++) sig_ok[which[j]] = res[j];
    if (!err) {
        ST_ADD(r, sigs_verified, k);
        ST_ADD(r, sig_verify_ns, nanos() - t0);
    }
    free(raw);
    free(len);
    free(which);
    free(res);
    return err;
}

/* Applies one committed block: its transactions (without duplicates) as one ledger block. */
static int apply_commit(cairn_replica *r, const commit_item *ci)
{
    static const uint8_t zero[32];
    const cairn_block *blk = &ci->block;
    uint64_t t0 = nanos();
    body_obj *body = NULL;
    size_t total = 0;
    if (memcmp(blk->payload, zero, 32) != 0) {
        body = body_get(r, blk->payload);
        if (!body) return CAIRN_ENOENT;
        for (uint32_t i = 0; i < body->n; i++) {
            batch_obj *b = batch_get(r, body->batches[i]);
            if (!b) return CAIRN_ENOENT;
            total += b->n;
        }
    }
    cairn_log_leaf *leaves = calloc(total + 1, sizeof *leaves);
    int *sig_ok = calloc(total + 1, sizeof *sig_ok);
    int32_t *results = calloc(total + 1, sizeof *results);
    uint8_t(*rel)[32] = calloc(total + 1, 32);
    h32map seen = {0};
    size_t n = 0, nrel = 0, dups = 0;
    cairn_txn *t = NULL;
    int err = leaves && sig_ok && results && rel ? 0 : CAIRN_ENOMEM;
    if (!err) err = cairn_store_write_begin(r->c.store, &t);
    int ledger_block = 0;
    cairn_block_out out;
    for (uint32_t i = 0; !err && body && i < body->n; i++) {
        batch_obj *b = batch_get(r, body->batches[i]);
        uint8_t key[33] = {'K'};
        memcpy(key + 1, b->digest, 32);
        const void *v;
        size_t vl;
        int ge = cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, key, 33, &v, &vl);
        if (ge == 0) { /* the batch was committed in an earlier block */
            dups += b->n;
            continue;
        }
        if (ge != CAIRN_ENOENT) {
            err = ge;
            break;
        }
        for (uint32_t j = 0; !err && j < b->n; j++) {
            memcpy(rel[nrel++], b->hashes[j], 32);
            h32map_slot *sl;
            int added;
            if ((err = h32map_put(&seen, b->hashes[j], 0, &sl, &added))) break;
            cairn_tx_status st;
            int se = added ? cairn_chain_tx_status(t, b->hashes[j], &st) : 0;
            if (!added || se == 0) {
                dups++;
                continue;
            }
            if (se != CAIRN_ENOENT) {
                err = se;
                break;
            }
            const ProtobufCBinaryData *raw = &b->msg->batch->txs[j];
            leaves[n] = (cairn_log_leaf){raw->data, raw->len};
            sig_ok[n] = b->sig_ok[j];
            n++;
        }
        if (!err && !b->durable) err = put_obj(t, 'T', b->digest, b->env, b->env_len);
        if (!err) err = put_obj(t, 'K', b->digest, (const uint8_t *)"\1", 1); /* committed */
    }
    if (!err && body && !body->durable)
        err = put_obj(t, 'P', body->digest, body->env, body->env_len);
    const uint8_t *proposer = blk->proposer < r->n ? r->vs->v[blk->proposer].id : zero;
    if (!err && n > 0) err = verify_unchecked(r, leaves, sig_ok, n);
    if (!err && n > 0) {
        cairn_header head;
        err = cairn_chain_head(t, &head, NULL);
        uint64_t time_ms = body->time_ms > head.time_ms ? body->time_ms : head.time_ms;
        if (!err)
            err = cairn_chain_apply_block(r->c.chain, t, time_ms, proposer, leaves, n, sig_ok, &out,
                                          results);
        ledger_block = !err;
    }
    if (!err) err = put_committed(r, t, blk, &ci->qc);
    int reconfig = !err && (blk->flags & CAIRN_BLOCK_F_RECONFIG);
    if (reconfig) {
        /* The epoch-change block (ledger/chain.h), in this same transaction: the rotated set,
         * the next epoch's identity, the proof of this epoch's end; the old safety data and
         * stored blocks go (docs/consensus.md "Epochs in the node"). */
        cairn_header head;
        if (!r->next_vs && !(r->next_vs = malloc(sizeof *r->next_vs))) err = CAIRN_ENOMEM;
        if (!err) err = cairn_chain_head(t, &head, NULL);
        if (!err)
            err = cairn_chain_apply_epoch_block(r->c.chain, t, head.time_ms, proposer, &out,
                                                r->next_vs);
        ledger_block = !err;
        if (!err) err = end_epoch_records(r, t, blk);
    }
    if (!err) {
        size_t np = 0;
        err = cairn_chain_valset_pending(t, &np);
        r->pending_changes = np;
    }
    if (!err) {
        err = cairn_txn_commit(t);
        t = NULL;
    }
    cairn_txn_abort(t);
    h32map_free(&seen);
    if (!err) {
        r->applied_cons_height = blk->height;
        if (!reconfig) memcpy(r->last_applied_id, blk->id, 32);
        if (reconfig) {
            r->switch_due = 1;
            memcpy(r->next_seed, blk->id, 32);
        }
        cairn_mempool_release(r->c.mp, (const uint8_t(*)[32])rel, nrel);
        for (uint32_t i = 0; body && i < body->n; i++) {
            batch_obj *b = batch_find(r, body->batches[i]);
            if (b) batch_forget(r, b);
        }
        if (body) {
            h32map_del(&r->bodies, body->digest);
            body_free(body);
        }
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) ok += results[i] == 0;
        ST_ADD(r, commits, 1);
        if (!n) ST_ADD(r, empty_commits, 1);
        ST_ADD(r, txs_committed, ok);
        ST_ADD(r, txs_rejected, n - ok);
        ST_ADD(r, txs_duplicate, dups);
        ST_SET(r, cons_height, blk->height);
        ST_ADD(r, apply_ns, nanos() - t0);
        ST_ADD(r, applies, 1);
        if (ledger_block) {
            ST_SET(r, ledger_height, out.header.height);
            rlog(r, CAIRN_LOG_INFO,
                 "msg=\"block committed\" height=%llu round=%llu txs=%zu applied=%zu "
                 "duplicates=%zu log_size=%llu",
                 (unsigned long long)out.header.height, (unsigned long long)blk->round, n, ok, dups,
                 (unsigned long long)out.header.log_size);
            cert_local(r, out.header.height, out.hash);
        }
    }
    free(leaves);
    free(sig_ok);
    free(results);
    free(rel);
    return err;
}

static void drain_commits(cairn_replica *r)
{
    size_t done = 0;
    while (done < r->n_commits && !r->stopped && !r->switch_due) {
        commit_item *ci = &r->commits[done];
        if (!payload_ready(r, ci->block.payload, ci->block.proposer)) {
            fetch_wanted(r);
            break;
        }
        int err = apply_commit(r, ci);
        /* Index merges can fill the map: grow it and apply again (nothing was kept). */
        for (int k = 0; err == CAIRN_ESTORE_MAP_FULL && k < 8; k++)
            if (!(err = cairn_store_grow(r->c.store))) err = apply_commit(r, ci);
        if (err == CAIRN_ENOENT) break;
        if (err) {
            fatal(r, err, "apply");
            break;
        }
        done++;
    }
    if (done) {
        memmove(r->commits, r->commits + done, (r->n_commits - done) * sizeof *r->commits);
        r->n_commits -= done;
    }
    if (r->switch_due && !r->stopped) start_next_epoch(r);
}

static void record_evidence(cairn_replica *r, const cairn_evidence *ev)
{
    ST_ADD(r, evidence, 1);
    rlog(r, CAIRN_LOG_WARN,
         "msg=\"equivocation evidence\" kind=%s offender=%u epoch=%llu round=%llu",
         ev->kind == CAIRN_MSG_PROPOSAL ? "proposal" : "vote", ev->offender,
         (unsigned long long)ev->epoch, (unsigned long long)ev->round);
    uint8_t key[9];
    key_h(key, 'E', ++r->evidence_seq);
    cairn_txn *t;
    int err = cairn_store_write_begin(r->c.store, &t);
    if (!err && (err = cairn_txn_put(t, CAIRN_TABLE_CONSENSUS, key, 9, ev, sizeof *ev, 0)))
        cairn_txn_abort(t);
    if (!err) err = cairn_txn_commit(t);
    if (err) fatal(r, err, "evidence");
}

/* ---- batches from our mempool ---- */

static void cut_batches(cairn_replica *r)
{
    for (int k = 0; k < 16 && cairn_mempool_size(r->c.mp) > 0; k++) {
        cairn_mempool_batch mb;
        if (cairn_mempool_take(r->c.mp, r->c.cfg->block_max_txs, BATCH_MAX_BYTES, &mb) || !mb.n) {
            cairn_mempool_batch_free(&mb);
            return;
        }
        uint8_t digest[32];
        uint8_t *env = NULL;
        size_t len = 0;
        int err = cairn_batch_encode(mb.txs, mb.n, &env, &len, digest);
        batch_obj *b = NULL;
        if (!err) err = batch_make(r, env, len, 1, &b);
        if (!err) {
            broadcast_bytes(r, b->env, b->env_len);
            err = batch_add(r, b, UINT32_MAX);
            ST_ADD(r, batches_made, 1);
        }
        if (err) {
            /* Out of memory: the transactions are dropped (their clients see them pending, then
             * unknown) rather than kept in a pool the node cannot batch. */
            cairn_mempool_release(r->c.mp, (const uint8_t(*)[32])mb.hashes, mb.n);
            rlog(r, CAIRN_LOG_WARN, "msg=\"cannot make a batch\" error=%s", cairn_err_name(err));
        }
        cairn_mempool_batch_free(&mb);
    }
    if (r->payload_round_pending) answer_payload(r, 0);
}

static void on_batch_timer(uv_timer_t *t)
{
    cut_batches(t->data);
}

void cairn_replica_kick(cairn_replica *r)
{
    if (r && cairn_mempool_size(r->c.mp) >= r->c.cfg->block_max_txs) cut_batches(r);
}

/* ---- serving sync ---- */

/* Answers a sync request for `epoch` from the link in `slot`: committed blocks from the store;
 * for the current epoch continued by the core's certified chain, for the previous one by the
 * epoch-end proof (a peer still in it crosses the boundary with it). */
static void serve_sync(cairn_replica *r, uint32_t slot, uint64_t epoch, uint64_t from)
{
    cairn_sync_response *resp = r->sync_resp, *one = calloc(1, sizeof *one), *old_resp = NULL;
    cairn_wire_sync_sigs *sigs = r->sync_sigs, *one_sigs = calloc(1, sizeof *one_sigs);
    cairn_wire_sync_sigs *old_sigs = NULL, *psigs = r->proof_sigs;
    if (!one || !one_sigs) goto out;
    memset(resp, 0, sizeof *resp);
    memset(sigs, 0, sizeof *sigs);
    resp->epoch = epoch;
    cairn_txn *t;
    if (from == 0) from = 1;
    uint64_t top = epoch == r->epoch ? r->applied_cons_height : UINT64_MAX;
    if (cairn_store_read_begin(r->c.store, &t) == 0) {
        for (uint64_t h = from; h <= top && resp->n_blocks < CAIRN_CONS_SYNC_MAX_BLOCKS; h++) {
            uint8_t key[17];
            key_c(key, epoch, h);
            const void *v;
            size_t vl;
            if (cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, key, 17, &v, &vl)) break;
            if (cairn_wire_decode_sync(v, vl, one, one_sigs) || one->n_blocks != 1) break;
            resp->blocks[resp->n_blocks] = one->blocks[0];
            sigs->block_qc[resp->n_blocks] = one_sigs->block_qc[0];
            resp->tail_qc = one->tail_qc;
            sigs->tail_qc = one_sigs->tail_qc;
            resp->n_blocks++;
        }
        cairn_txn_abort(t);
    }
    const cairn_sync_response *pr = epoch + 1 == r->epoch ? r->proof_resp : NULL;
    if (epoch + 1 < r->epoch) { /* a peer two or more epochs behind */
        size_t plen;
        uint8_t *p = stored_proof(r, epoch, &plen);
        old_resp = p ? calloc(1, sizeof *old_resp) : NULL;
        old_sigs = old_resp ? calloc(1, sizeof *old_sigs) : NULL;
        if (old_sigs && cairn_wire_decode_sync(p, plen, old_resp, old_sigs) == 0) {
            pr = old_resp;
            psigs = old_sigs;
        }
        free(p);
    }
    if (pr && pr->n_blocks > 0) {
        if (resp->n_blocks == 0 && from > pr->blocks[0].height) {
            *resp = *pr; /* it has the RECONFIG block's parent at least */
            *sigs = *psigs;
        } else if (resp->n_blocks > 0 &&
                   memcmp(resp->blocks[resp->n_blocks - 1].id, pr->blocks[0].id, 32) == 0) {
            uint32_t room = CAIRN_CONS_SYNC_MAX_BLOCKS - resp->n_blocks;
            if (pr->n_blocks - 1 <= room) {
                for (uint32_t i = 1; i < pr->n_blocks; i++) {
                    resp->blocks[resp->n_blocks] = pr->blocks[i];
                    sigs->block_qc[resp->n_blocks++] = psigs->block_qc[i];
                }
                resp->tail_qc = pr->tail_qc;
                sigs->tail_qc = psigs->tail_qc;
            }
        }
    } else if (epoch == r->epoch && r->self != NO_SLOT &&
               resp->n_blocks < CAIRN_CONS_SYNC_MAX_BLOCKS) {
        cairn_block chain[CAIRN_CONS_SYNC_MAX_BLOCKS];
        cairn_qc tail;
        size_t k = cairn_core_certified_chain(r->core, chain, CAIRN_CONS_SYNC_MAX_BLOCKS, &tail);
        const uint8_t *last = resp->n_blocks ? resp->blocks[resp->n_blocks - 1].id : NULL;
        uint64_t next_h = resp->n_blocks ? resp->blocks[resp->n_blocks - 1].height + 1 : from;
        size_t j = 0;
        while (j < k && chain[j].height < next_h) j++;
        if (j < k && chain[j].height == next_h &&
            (!last || memcmp(chain[j].parent_id, last, 32) == 0)) {
            size_t start = resp->n_blocks;
            for (; j < k && resp->n_blocks < CAIRN_CONS_SYNC_MAX_BLOCKS; j++) {
                if (qc_fill(r, &chain[j].qc, &sigs->block_qc[resp->n_blocks])) break;
                resp->blocks[resp->n_blocks++] = chain[j];
            }
            if (j == k && resp->n_blocks > start && qc_fill(r, &tail, &sigs->tail_qc) == 0)
                resp->tail_qc = tail;
            else
                resp->n_blocks = (uint32_t)start; /* keep only the committed part */
        }
    }
    if (resp->n_blocks == 0) goto out;
    cairn_buf b = CAIRN_BUF_INIT;
    if (cairn_wire_encode_sync(resp, sigs, &b) == 0 && cairn_buf_finish(&b) == 0) {
        send_slot(r, slot, b.p, b.len);
        ST_ADD(r, sync_requests_served, 1);
    }
    cairn_buf_free(&b);
out:
    free(old_resp);
    free(old_sigs);
    free(one);
    free(one_sigs);
}

/* ---- receiving ---- */

static int on_core_message(cairn_replica *r, uint32_t slot, const uint8_t *p, size_t len)
{
    cairn_msg *m = malloc(sizeof *m);
    cairn_wire_sigs *s = malloc(sizeof *s);
    int err = m && s ? 0 : CAIRN_ENOMEM;
    if (!err) err = cairn_wire_decode_msg(p, len, m, s);
    uint32_t peer = slot < CAIRN_NET_MAX_PEERS ? r->cons_of[slot] : NO_SLOT;
    if (!err) {
        uint64_t e = cairn_msg_epoch(m);
        if (m->type == CAIRN_MSG_SYNC_REQUEST && e <= r->epoch) {
            /* Any authenticated link may sync (observers, peers of the previous epoch). */
            serve_sync(r, slot, e, m->u.sync_request.from_height);
            goto done;
        }
        if (e < r->epoch) { /* a peer still in an ended epoch: it needs the proof */
            send_proof(r, slot, e);
            err = CAIRN_ECONS_STALE;
        } else if (e > r->epoch || r->self == NO_SLOT) {
            err = CAIRN_ECONS_STALE; /* we lag (our own messages fetch the proof) or observe */
        }
    }
    if (!err && (peer == NO_SLOT || m->sender != peer)) err = CAIRN_ECONS_SENDER;
    if (!err && m->type != CAIRN_MSG_SYNC_REQUEST && !s->has_msg) err = CAIRN_ECONS_SIGNATURE;
    if (!err) {
        switch (m->type) {
        case CAIRN_MSG_PROPOSAL: {
            const cairn_proposal *pr = &m->u.proposal;
            err = verify_msg(r, peer, SIG_PROPOSAL, pr->block.epoch, pr->block.round, pr->block.id,
                             0, s->msg);
            if (!err) err = qc_verify(r, &pr->block.qc, &s->qc);
            if (!err && pr->has_tc) err = tc_verify(r, &pr->tc, &s->tc);
            break;
        }
        case CAIRN_MSG_VOTE: {
            const cairn_vote *v = &m->u.vote;
            err = verify_msg(r, peer, SIG_VOTE, v->epoch, v->round, v->block_id, 0, s->msg);
            qc_sigs *q = err ? NULL : qc_get(r, v->block_id, 1);
            if (q) {
                memcpy(q->sig[peer], s->msg, 64);
                q->have |= 1ull << peer;
            }
            break;
        }
        case CAIRN_MSG_TIMEOUT: {
            const cairn_timeout *to = &m->u.timeout;
            err = verify_msg(r, peer, SIG_TIMEOUT, to->epoch, to->round, NULL, to->high_qc.round,
                             s->msg);
            if (!err) to_put(r, to->round, peer, to->high_qc.round, s->msg);
            if (!err) err = qc_verify(r, &to->high_qc, &s->qc);
            if (!err && to->has_tc) err = tc_verify(r, &to->last_tc, &s->tc);
            break;
        }
        default:
            err = CAIRN_ECONS_MALFORMED;
        }
    }
    if (!err) {
        cairn_input in = {.type = CAIRN_IN_MESSAGE, .now_ms = mono_ms()};
        in.u.msg = m;
        int se = step(r, &in);
        if (se && se != CAIRN_ECONS_STALE)
            rlog(r, CAIRN_LOG_DEBUG, "msg=\"consensus input refused\" peer=%u type=%d error=%s",
                 peer, m->type, cairn_err_name(se));
    }
done:
    free(m);
    free(s);
    return err;
}

static int on_sync_response(cairn_replica *r, uint32_t slot, const uint8_t *p, size_t len)
{
    cairn_sync_response *resp = r->sync_resp;
    cairn_wire_sync_sigs *sigs = r->sync_sigs;
    int err = cairn_wire_decode_sync(p, len, resp, sigs);
    uint32_t peer = slot < CAIRN_NET_MAX_PEERS ? r->cons_of[slot] : NO_SLOT;
    if (!err && resp->epoch != r->epoch) err = CAIRN_ECONS_STALE;
    if (!err && peer == NO_SLOT && r->self != NO_SLOT) err = CAIRN_ECONS_SENDER;
    for (uint32_t i = 0; !err && i < resp->n_blocks; i++)
        err = qc_verify(r, &resp->blocks[i].qc, &sigs->block_qc[i]);
    if (!err) err = qc_verify(r, &resp->tail_qc, &sigs->tail_qc);
    if (err) return err;
    cairn_sync_response *copy = malloc(sizeof *copy);
    if (!copy) return CAIRN_ENOMEM;
    *copy = *resp; /* the scratch may be reused while stepping */
    if (r->self == NO_SLOT) {
        observe_response(r, copy);
        free(copy);
        ST_ADD(r, sync_responses_applied, 1);
        return 0;
    }
    cairn_input in = {.type = CAIRN_IN_SYNC_RESPONSE, .now_ms = mono_ms()};
    in.u.sync.resp = copy;
    in.u.sync.from = peer;
    int se = step(r, &in);
    if (!se) ST_ADD(r, sync_responses_applied, 1);
    uint64_t now = mono_ms();
    if (se == CAIRN_ECONS_UNKNOWN_PARENT && r->epoch == copy->epoch &&
        now >= r->gap_asked_ms + PROOF_RESEND_MS) {
        /* An epoch-end proof (or a response) we cannot attach: ask its sender for the blocks
         * after our committed root first; it serves them from storage (serve_sync). */
        r->gap_asked_ms = now;
        cairn_msg m;
        memset(&m, 0, sizeof m);
        m.type = CAIRN_MSG_SYNC_REQUEST;
        m.sender = r->self;
        m.u.sync_request.epoch = r->epoch;
        m.u.sync_request.from_height = r->core->root.height + 1;
        (void)send_core_msg_to(r, peer, slot, &m);
    }
    free(copy);
    return 0;
}

static void objects_arrived(cairn_replica *r)
{
    recheck_waits(r);
    drain_commits(r);
    if (r->payload_round_pending) answer_payload(r, 0);
}

static int on_envelope(cairn_replica *r, uint32_t peer, const uint8_t *p, size_t len, int field)
{
    int err = 0;
    if (field == CAIRN__V1__CONSENSUS_ENVELOPE__MSG_BATCH) {
        uint8_t *env = malloc(len);
        if (!env) return CAIRN_ENOMEM;
        memcpy(env, p, len);
        batch_obj *b;
        if ((err = batch_make(r, env, len, 0, &b))) return err;
        uint8_t d[32];
        memcpy(d, b->digest, 32);
        if ((err = batch_add(r, b, peer))) return err;
        ST_ADD(r, batches_received, 1);
        want_drop(r, d);
        objects_arrived(r);
        return 0;
    }
    if (field == CAIRN__V1__CONSENSUS_ENVELOPE__MSG_PAYLOAD) {
        uint8_t *env = malloc(len);
        if (!env) return CAIRN_ENOMEM;
        memcpy(env, p, len);
        body_obj *b;
        if ((err = body_make(env, len, &b))) return err;
        uint8_t d[32];
        memcpy(d, b->digest, 32);
        if ((err = body_add(r, b))) return err;
        want_drop(r, d);
        objects_arrived(r);
        return 0;
    }
    ProtobufCMessage *m;
    if (cairn_pb_decode(&cairn__v1__consensus_envelope__descriptor, p, len, CAIRN_WIRE_MAX_BYTES,
                        &m))
        return CAIRN_ECONS_WIRE_DECODE;
    Cairn__V1__ConsensusEnvelope *e = (Cairn__V1__ConsensusEnvelope *)m;
    if (e->msg_case == CAIRN__V1__CONSENSUS_ENVELOPE__MSG_BATCH_REQUEST) {
        for (size_t i = 0; i < e->batch_request->n_digests && i < 64; i++) {
            const ProtobufCBinaryData *d = &e->batch_request->digests[i];
            if (d->len != 32) {
                err = CAIRN_ECONS_WIRE_ID_LEN;
                break;
            }
            /* From memory, else from the committed store (without caching it). */
            batch_obj *b = batch_find(r, d->data);
            body_obj *bo = b ? NULL : body_find(r, d->data);
            uint8_t *env = NULL;
            size_t elen = 0;
            if (b)
                send_bytes(r, peer, b->env, b->env_len);
            else if (bo)
                send_bytes(r, peer, bo->env, bo->env_len);
            else if (stored(r, 'T', d->data, &env, &elen) == 0 ||
                     stored(r, 'P', d->data, &env, &elen) == 0)
                send_bytes(r, peer, env, elen);
            free(env);
            ST_ADD(r, batches_fetched, 1);
        }
    } else {
        err = CAIRN_ECONS_WIRE_KIND;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return err;
}

static void on_message(void *ctx, uint32_t peer, const uint8_t *p, size_t len)
{
    cairn_replica *r = ctx;
    if (r->stopped) return;
    ST_ADD(r, msgs_in, 1);
    int err = CAIRN_ECONS_WIRE_DECODE;
    /* The envelope is one oneof field: its first byte is the tag (field << 3 | 2). */
    int field = len > 0 && (p[0] & 7) == 2 ? p[0] >> 3 : 0;
    switch (field) {
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_PROPOSAL:
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_VOTE:
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_TIMEOUT:
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_SYNC_REQUEST:
        err = on_core_message(r, peer, p, len);
        break;
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_SYNC_RESPONSE:
        err = on_sync_response(r, peer, p, len);
        break;
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_BATCH:
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_BATCH_REQUEST:
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_PAYLOAD:
        err = on_envelope(r, peer, p, len, field);
        break;
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_COMMIT_VOTE:
        err = on_commit_vote(r, peer, p, len);
        break;
    case CAIRN__V1__CONSENSUS_ENVELOPE__MSG_COMMIT_VOTE_REQUEST:
        err = on_commit_vote_request(r, peer, p, len);
        break;
    default:
        break;
    }
    if (err && err != CAIRN_ECONS_STALE) {
        ST_ADD(r, msgs_bad, 1);
        rlog(r, CAIRN_LOG_DEBUG, "msg=\"peer message refused\" peer=%u kind=%d error=%s", peer,
             field, cairn_err_name(err));
    }
}

static void on_link(void *ctx, uint32_t peer, int up)
{
    cairn_replica *r = ctx;
    if (up)
        ST_ADD(r, peers_up, 1);
    else
        atomic_fetch_sub(&r->st[ST_IDX(peers_up)], 1);
    rlog(r, CAIRN_LOG_INFO, "msg=\"peer link %s\" peer=%u", up ? "up" : "down", peer);
}

/* ---- housekeeping ---- */

static void prune_qcs(cairn_replica *r)
{
    if (r->qcs.n < 4096) return;
    /* Drop every cached QC signature set except those of the tree's blocks and the high QC. */
    h32map keep = {0};
    for (size_t i = 0; r->self != NO_SLOT && i < CAIRN_CONS_MAX_TREE_BLOCKS; i++) {
        const cairn_tree_entry *e = &r->core->tree[i];
        if (!e->used) continue;
        const uint8_t *ids[2] = {e->b.id, e->b.qc.block_id};
        for (int k = 0; k < 2; k++) {
            h32map_slot *s = h32map_find(&r->qcs, ids[k]), *ns;
            int added;
            if (s && h32map_put(&keep, ids[k], s->val, &ns, &added) == 0 && added) s->val = 0;
        }
    }
    for (size_t i = 0; i < r->qcs.cap; i++)
        if (r->qcs.s[i].used) free((void *)(uintptr_t)r->qcs.s[i].val);
    h32map_free(&r->qcs);
    r->qcs = keep;
}

static void on_house(uv_timer_t *t)
{
    cairn_replica *r = t->data;
    expire_slots(r);
    observe_tick(r);
    cairn_net_stats ns;
    cairn_net_get_stats(r->net, &ns);
    ST_SET(r, net_handshakes_failed, ns.handshakes_failed);
    ST_SET(r, net_bad_frames, ns.bad_frames);
    fetch_wanted(r);
    objects_arrived(r);
    prune_qcs(r);
    ask_missing_votes(r);
}

/* ---- lifecycle ---- */

static int parse_hostport(const char *s, size_t len, cairn_net_peer *p)
{
    const char *colon = memrchr(s, ':', len);
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof p->host) return CAIRN_EGENESIS;
    memcpy(p->host, s, (size_t)(colon - s));
    p->host[colon - s] = 0;
    uint64_t port = 0;
    for (const char *c = colon + 1; c < s + len; c++) {
        if (*c < '0' || *c > '9' || (port = port * 10 + (uint64_t)(*c - '0')) > 65535)
            return CAIRN_EGENESIS;
    }
    if (port == 0) return CAIRN_EGENESIS;
    p->port = (uint16_t)port;
    return 0;
}

/* Reads the epoch (K_EPOCH, else 0 with the chain's genesis as seed), its validator set and the
 * previous one from the ledger, and the previous epoch's end proof. */
static int restore_epoch(cairn_replica *r, cairn_txn *t)
{
    const void *v;
    size_t vl;
    r->epoch = 0;
    memcpy(r->epoch_seed, cairn_chain_genesis_hash(r->c.chain), 32);
    int err = cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, K_EPOCH, sizeof K_EPOCH - 1, &v, &vl);
    if (err == 0) {
        if (vl != 40) return CAIRN_ESTORE_CORRUPT;
        r->epoch = cairn_get_u64be(v);
        memcpy(r->epoch_seed, (const uint8_t *)v + 8, 32);
    } else if (err != CAIRN_ENOENT) {
        return err;
    }
    if ((err = cairn_chain_valset(r->c.chain, t, r->vs))) return err;
    if (r->vs->epoch != r->epoch) return CAIRN_ESTORE_CORRUPT; /* written in one transaction */
    if (r->epoch == 0) return 0;
    if (!(r->prev = malloc(sizeof *r->prev))) return CAIRN_ENOMEM;
    if ((err = cairn_chain_valset_at(r->c.chain, t, r->epoch - 1, r->prev))) return err;
    uint8_t key[9];
    key_h(key, 'X', r->epoch - 1);
    err = cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, key, 9, &v, &vl);
    if (err == CAIRN_ENOENT) return 0; /* see end_epoch_records */
    return err ? err : proof_set(r, v, vl);
}

static int restore(cairn_replica *r, cairn_core_restore *rs, cairn_safety_data *safety,
                   cairn_block **blocks)
{
    *blocks = NULL;
    memset(rs, 0, sizeof *rs);
    cairn_txn *t;
    int err = cairn_store_read_begin(r->c.store, &t);
    if (err) return err;
    if ((err = restore_epoch(r, t))) {
        cairn_txn_abort(t);
        return err;
    }
    cairn_core_genesis(r->epoch, r->epoch_seed, &rs->root, &rs->root_qc);
    const void *v;
    size_t vl;
    if ((err = cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, K_SAFETY, sizeof K_SAFETY - 1, &v, &vl)) ==
        0) {
        if (vl != 8 + sizeof *safety)
            err = CAIRN_ESTORE_CORRUPT;
        else if (cairn_get_u64be(v) == r->epoch) { /* another epoch's is never reused */
            memcpy(safety, (const uint8_t *)v + 8, sizeof *safety);
            rs->safety = safety;
            if (cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, K_CERTS, sizeof K_CERTS - 1, &v, &vl) == 0)
                certs_restore(r, safety, v, vl);
        }
    } else if (err == CAIRN_ENOENT)
        err = 0;
    if (!err &&
        (err = cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, K_ROOT, sizeof K_ROOT - 1, &v, &vl)) == 0) {
        if (vl != sizeof(cairn_block) + sizeof(cairn_qc))
            err = CAIRN_ESTORE_CORRUPT;
        else {
            cairn_block b; /* LMDB values are not aligned for the struct */
            memcpy(&b, v, sizeof b);
            if (b.epoch == r->epoch) {
                rs->root = b;
                memcpy(&rs->root_qc, (const uint8_t *)v + sizeof b, sizeof(cairn_qc));
            }
        }
    } else if (err == CAIRN_ENOENT)
        err = 0;
    memcpy(r->last_applied_id, rs->root.id, 32);
    if (!err &&
        (err = cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, K_TREE, sizeof K_TREE - 1, &v, &vl)) == 0) {
        size_t rec = sizeof(cairn_block) + sizeof(cairn_wire_cert_sigs);
        size_t n = vl / rec;
        *blocks = calloc(n + 1, sizeof **blocks);
        if (!*blocks) err = CAIRN_ENOMEM;
        for (size_t i = 0; !err && i < n; i++) {
            cairn_block b;
            cairn_wire_cert_sigs cs;
            memcpy(&b, (const uint8_t *)v + i * rec, sizeof b);
            memcpy(&cs, (const uint8_t *)v + i * rec + sizeof b, sizeof cs);
            if (b.epoch != r->epoch || b.height <= rs->root.height) continue;
            (*blocks)[rs->n_blocks++] = b;
            qc_sigs *q = cs.n ? qc_get(r, b.qc.block_id, 1) : NULL;
            for (uint32_t k = 0, s = 0; q && k < CAIRN_CONS_MAX_VALIDATORS && s < cs.n; k++) {
                if (!(b.qc.signers >> k & 1)) continue;
                memcpy(q->sig[k], cs.sig[s++], 64);
                q->have |= 1ull << k;
            }
        }
        rs->blocks = *blocks;
    } else if (err == CAIRN_ENOENT)
        err = 0;
    /* The committed blocks just below the root, for leader reputation (core.h). */
    cairn_block *all =
        err ? NULL : realloc(*blocks, (rs->n_blocks + CAIRN_CONS_HISTORY_BLOCKS + 1) * sizeof *all);
    cairn_sync_response *one = all ? calloc(1, sizeof *one) : NULL;
    cairn_wire_sync_sigs *one_sigs = one ? calloc(1, sizeof *one_sigs) : NULL;
    if (!err && !one_sigs) err = CAIRN_ENOMEM;
    if (all) {
        *blocks = all;
        rs->blocks = all;
    }
    for (uint64_t k = 1; !err && k <= CAIRN_CONS_HISTORY_BLOCKS && k < rs->root.height; k++) {
        uint8_t key[17];
        key_c(key, r->epoch, rs->root.height - k);
        if (cairn_txn_get(t, CAIRN_TABLE_CONSENSUS, key, 17, &v, &vl) ||
            cairn_wire_decode_sync(v, vl, one, one_sigs) || one->n_blocks != 1)
            break; /* a gap only delays reputation leaders until blocks commit again */
        all[rs->n_blocks + rs->n_history++] = one->blocks[0];
    }
    if (all) rs->history = all + rs->n_blocks;
    free(one);
    free(one_sigs);
    cairn_header head;
    if (!err && (err = cairn_chain_head(t, &head, NULL)) == 0) {
        ST_SET(r, ledger_height, head.height);
        uint64_t h = head.height;
        cairn_certificate c;
        while (h > 0 && cairn_chain_certificate(t, h, &c) == CAIRN_ENOENT) h--;
        ST_SET(r, certified_height, h);
    }
    size_t np = 0;
    if (!err) err = cairn_chain_valset_pending(t, &np);
    r->pending_changes = np;
    cairn_txn_abort(t);
    return err;
}

/* Frees everything the replica owns (its net and timers must be closed already). */
static void replica_free(cairn_replica *r)
{
    for (size_t i = 0; i < r->batches.cap; i++)
        if (r->batches.s[i].used) batch_free((batch_obj *)(uintptr_t)r->batches.s[i].val);
    for (size_t i = 0; i < r->bodies.cap; i++)
        if (r->bodies.s[i].used) body_free((body_obj *)(uintptr_t)r->bodies.s[i].val);
    for (size_t i = 0; i < r->qcs.cap; i++)
        if (r->qcs.s[i].used) free((void *)(uintptr_t)r->qcs.s[i].val);
    h32map_free(&r->batches);
    h32map_free(&r->bodies);
    h32map_free(&r->qcs);
    for (unsigned i = 0; i < STEP_DEPTH_CACHED; i++) free(r->acts_at[i]);
    free(r->wants);
    free(r->commits);
    free(r->core);
    free(r->tos);
    free(r->certs);
    free(r->sync_resp);
    free(r->sync_sigs);
    free(r->vs);
    free(r->prev);
    free(r->next_vs);
    free(r->obs_proof);
    proof_free(r);
    sodium_memzero(r->sk, sizeof r->sk);
    free(r);
}

int cairn_replica_start(cairn_replica **out, const cairn_replica_config *cfg, char *msg,
                        size_t msg_cap)
{
    *out = NULL;
    cairn_replica *r = calloc(1, sizeof *r);
    if (!r) return CAIRN_ENOMEM;
    r->c = *cfg;
    r->g = cfg->g;
    int err = 0;
    crypto_sign_seed_keypair(r->pk, r->sk, cfg->seed);
    cairn_validator_id(r->my_id, r->pk, 32);
    if (crypto_scalarmult_base(r->my_noise, cfg->noise_private) != 0) {
        snprintf(msg, msg_cap, "bad noise key");
        free(r);
        return CAIRN_EINVAL;
    }
    r->idle_ms = cfg->cfg->block_interval_ms < IDLE_PROPOSE_MAX_MS ? cfg->cfg->block_interval_ms
                                                                   : IDLE_PROPOSE_MAX_MS;
    if (cfg->cfg->n_peers != 0 && cfg->cfg->n_peers != cfg->g->n_validators) {
        snprintf(msg, msg_cap,
                 "p2p.peers lists %zu addresses; it must be empty (dial the genesis addresses) or "
                 "list one per genesis validator, in order (%zu)",
                 cfg->cfg->n_peers, cfg->g->n_validators);
        free(r);
        return CAIRN_ECONFIG;
    }
    r->core = calloc(1, sizeof *r->core);
    r->tos = calloc(TO_ROUNDS, sizeof *r->tos);
    r->certs = calloc(CERT_WINDOW, sizeof *r->certs);
    r->sync_resp = calloc(1, sizeof *r->sync_resp);
    r->sync_sigs = calloc(1, sizeof *r->sync_sigs);
    r->vs = calloc(1, sizeof *r->vs);
    cairn_block *blocks = NULL;
    if (!r->core || !r->tos || !r->certs || !r->sync_resp || !r->sync_sigs || !r->vs) {
        err = CAIRN_ENOMEM;
        goto fail;
    }
    cairn_core_restore rs;
    cairn_safety_data safety;
    if ((err = restore(r, &rs, &safety, &blocks))) {
        snprintf(msg, msg_cap, "cannot restore the consensus state: %s", cairn_strerror(err));
        goto fail;
    }
    r->applied_cons_height = rs.root.height;
    ST_SET(r, cons_height, rs.root.height);
    /* Slots: the epoch's set in order, then ourselves if we are not in it. */
    r->self_slot = NO_SLOT;
    for (size_t i = 0; i < r->vs->n && i < CAIRN_NET_MAX_PEERS; i++)
        if (memcmp(r->vs->v[i].id, r->my_id, 32) == 0) r->self_slot = (uint32_t)i;
    if ((err = install_set(r))) {
        snprintf(msg, msg_cap, "epoch %llu: the set has more than %d validators or bad addresses",
                 (unsigned long long)r->epoch, CAIRN_CONS_MAX_VALIDATORS);
        goto fail;
    }
    if (r->self_slot == NO_SLOT) {
        if (r->n_slots >= CAIRN_NET_MAX_PEERS) {
            err = CAIRN_EUNSUPPORTED;
            snprintf(msg, msg_cap, "no peer slot left for this node");
            goto fail;
        }
        r->self_slot = r->n_slots++;
    }
    memcpy(r->slots[r->self_slot].noise_pub, r->my_noise, 32);
    if (r->self != NO_SLOT && (err = start_core(r, &rs))) {
        snprintf(msg, msg_cap, "cannot start the consensus core: %s", cairn_strerror(err));
        goto fail;
    }
    if (r->self == NO_SLOT)
        rlog(r, CAIRN_LOG_INFO,
             "msg=\"not a validator of epoch %llu: observing (sync from the validators)\"",
             (unsigned long long)r->epoch);
    /* A single-validator chain whose set never changed needs no links. */
    if ((r->n > 1 || r->self == NO_SLOT || r->epoch > 0) && (err = net_start(r))) {
        char a[CAIRN_CONFIG_HOST_MAX + 8];
        cairn_config_addr_format(&cfg->cfg->p2p_listen, a, sizeof a);
        snprintf(msg, msg_cap, "cannot listen for peers on %s: %s", a, cairn_strerror(err));
        goto fail;
    }
    uv_timer_init(cfg->loop, &r->core_timer);
    uv_timer_init(cfg->loop, &r->batch_timer);
    uv_timer_init(cfg->loop, &r->house_timer);
    uv_timer_init(cfg->loop, &r->idle_timer);
    r->core_timer.data = r->batch_timer.data = r->house_timer.data = r->idle_timer.data = r;
    r->timers_init = 1;
    uv_timer_start(&r->batch_timer, on_batch_timer, BATCH_INTERVAL_MS, BATCH_INTERVAL_MS);
    uv_timer_start(&r->house_timer, on_house, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    free(blocks);
    *out = r;
    cairn_input in = {.type = CAIRN_IN_TICK, .now_ms = mono_ms()};
    (void)step(r, &in);
    return 0;
fail:
    free(blocks);
    cairn_net_close(r->net);
    replica_free(r);
    return err;
}

void cairn_replica_get_stats(const cairn_replica *r, cairn_replica_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r) return;
    uint64_t *o = (uint64_t *)out;
    for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++) o[i] = atomic_load(&r->st[i]);
}

static void close_noop(uv_handle_t *h)
{
    (void)h;
}

void cairn_replica_stop(cairn_replica *r)
{
    if (!r) return;
    r->stopped = 1;
    cairn_net_close(r->net);
    if (r->timers_init) {
        uv_close((uv_handle_t *)&r->core_timer, close_noop);
        uv_close((uv_handle_t *)&r->batch_timer, close_noop);
        uv_close((uv_handle_t *)&r->house_timer, close_noop);
        uv_close((uv_handle_t *)&r->idle_timer, close_noop);
        uv_run(r->c.loop, UV_RUN_NOWAIT); /* runs the close callbacks */
    }
    replica_free(r);
}
