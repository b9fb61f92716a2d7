#include "node/admit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/tx.h"

struct cairn_admit {
    const cairn_sig_ctx *sig;
    char *chain_id;
    size_t max_queued;
    cairn_admit_done_fn done;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    cairn_admit_job *q; /* FIFO ring */
    size_t head, len;
};

/* Verifies jobs[0..n) together and reports each. */
static void verify_batch(cairn_admit *a, cairn_admit_job *jobs, size_t n)
{
    const uint8_t **raw = malloc(n * sizeof *raw);
    size_t *len = malloc(n * sizeof *len);
    int *res = malloc(n * sizeof *res);
    int err = raw && len && res ? 0 : CAIRN_ENOMEM;
    for (size_t i = 0; !err && i < n; i++) {
        raw[i] = jobs[i].raw;
        len[i] = jobs[i].len;
    }
    if (!err) err = cairn_tx_verify_many(a->sig, a->chain_id, raw, len, n, res);
    for (size_t i = 0; i < n; i++) a->done(a->ctx, &jobs[i], err ? err : res[i]);
    free(raw);
    free(len);
    free(res);
}

static void *run(void *arg)
{
    cairn_admit *a = arg;
    cairn_admit_job *batch = malloc(CAIRN_ADMIT_BATCH * sizeof *batch);
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (!a->stopping && a->len == 0) pthread_cond_wait(&a->cv, &a->mu);
        if (a->stopping || !batch) {
            pthread_mutex_unlock(&a->mu);
            break;
        }
        size_t n = a->len < CAIRN_ADMIT_BATCH ? a->len : CAIRN_ADMIT_BATCH;
        for (size_t i = 0; i < n; i++) batch[i] = a->q[(a->head + i) % a->max_queued];
        a->head = (a->head + n) % a->max_queued;
        a->len -= n;
        pthread_mutex_unlock(&a->mu);
        verify_batch(a, batch, n);
    }
    free(batch);
    return NULL;
}

int cairn_admit_start(cairn_admit **out, const cairn_sig_ctx *sig, const char *chain_id,
                      size_t max_queued, cairn_admit_done_fn done, void *ctx)
{
    *out = NULL;
    if (!sig || !chain_id || !done || max_queued == 0) return CAIRN_EINVAL;
    cairn_admit *a = calloc(1, sizeof *a);
    if (!a) return CAIRN_ENOMEM;
    a->sig = sig;
    a->max_queued = max_queued;
    a->done = done;
    a->ctx = ctx;
    a->chain_id = strdup(chain_id);
    a->q = calloc(max_queued, sizeof *a->q);
    if (!a->chain_id || !a->q) {
        free(a->chain_id);
        free(a->q);
        free(a);
        return CAIRN_ENOMEM;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->thread, NULL, run, a) != 0) {
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        free(a->chain_id);
        free(a->q);
        free(a);
        return CAIRN_ENOMEM;
    }
    *out = a;
    return 0;
}

int cairn_admit_submit(cairn_admit *a, const cairn_admit_job *job)
{
    int err = 0;
    pthread_mutex_lock(&a->mu);
    if (a->stopping || a->len == a->max_queued)
        err = CAIRN_EMEMPOOL_FULL;
    else {
        a->q[(a->head + a->len) % a->max_queued] = *job;
        a->len++;
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return err;
}

void cairn_admit_stop(cairn_admit *a, int cancel_err)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    int was = a->stopping;
    a->stopping = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (was) return;
    pthread_join(a->thread, NULL);
    /* Submits now fail (stopping), so the queue no longer changes. */
    for (size_t i = 0; i < a->len; i++)
        a->done(a->ctx, &a->q[(a->head + i) % a->max_queued], cancel_err);
    a->len = 0;
}

void cairn_admit_free(cairn_admit *a)
{
    if (!a) return;
    cairn_admit_stop(a, CAIRN_EMEMPOOL_FULL);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->chain_id);
    free(a->q);
    free(a);
}
