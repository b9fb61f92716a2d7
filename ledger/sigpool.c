/*
 * sigpool.c — see sigpool.h. One mutex protects a FIFO of jobs; a worker takes the next chunk
 * of the head job (jobs are split into ceil(n / threads) sized chunks, capped, so one large
 * batch keeps every core busy), verifies it without the lock and counts the job's chunks down;
 * the worker that finishes the last chunk calls done.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/sigpool.h"

struct cairn_sigpool {
    const cairn_sig_ctx *ctx;
    cairn_sigcache *cache;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cairn_sigpool_job *head, *tail;
    int stopping;
    unsigned nthreads, started;
    size_t max_chunk;
    pthread_t *threads;
};

/* Verifies items[0..n) into results, through the cache. Returns 0, CAIRN_ESIG_INVALID or
 * CAIRN_ENOMEM. */
static int verify_chunk(cairn_sigpool *p, const cairn_sig_item *items, size_t n, int *results)
{
    if (!p->cache) return cairn_sig_verify_many(p->ctx, results, items, n);
    uint8_t(*keys)[32] = malloc(n * sizeof *keys);
    cairn_sig_item *miss = malloc(n * sizeof *miss);
    size_t *pos = malloc(n * sizeof *pos);
    int *mres = malloc(n * sizeof *mres);
    int rc = 0;
    if (!keys || !miss || !pos || !mres) {
        rc = CAIRN_ENOMEM;
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        cairn_sigcache_key(keys[i], &items[i]);
        if (cairn_sigcache_lookup(p->cache, keys[i])) {
            results[i] = 0;
        } else {
            miss[m] = items[i];
            pos[m++] = i;
        }
    }
    if (m) {
        rc = cairn_sig_verify_many(p->ctx, mres, miss, m);
        if (rc == CAIRN_ENOMEM) goto out;
        for (size_t j = 0; j < m; j++) {
            results[pos[j]] = mres[j];
            if (mres[j] == 0) cairn_sigcache_insert(p->cache, keys[pos[j]]);
        }
    }
out:
    free(keys), free(miss), free(pos), free(mres);
    return rc;
}

static void *worker(void *arg)
{
    cairn_sigpool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
        if (!p->head) break; /* stopping and drained */
        cairn_sigpool_job *job = p->head;
        size_t start = job->priv.next_start;
        size_t len = job->n - start < job->priv.chunk ? job->n - start : job->priv.chunk;
        job->priv.next_start += len;
        if (job->priv.next_start >= job->n) {
            p->head = job->priv.next;
            if (!p->head) p->tail = NULL;
        }
        pthread_mutex_unlock(&p->mu);

        int rc = verify_chunk(p, job->items + start, len, job->results + start);
        if (rc == CAIRN_ESIG_INVALID) atomic_store(&job->priv.any_invalid, 1);
        if (rc == CAIRN_ENOMEM) atomic_store(&job->priv.any_error, 1);
        if (atomic_fetch_sub(&job->priv.chunks_left, 1) == 1) {
            job->status = atomic_load(&job->priv.any_error)     ? CAIRN_ENOMEM
                          : atomic_load(&job->priv.any_invalid) ? CAIRN_ESIG_INVALID
                                                                : 0;
            if (job->done) job->done(job, job->arg);
        }
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int cairn_sigpool_new(cairn_sigpool **out, const cairn_sig_ctx *ctx, const cairn_sigpool_opts *opts)
{
    *out = NULL;
    cairn_sigpool_opts o = {0, 0, 0};
    if (opts) o = *opts;
    if (o.threads == 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = nc > 0 ? (unsigned)nc : 1;
    }
    if (o.max_chunk == 0) o.max_chunk = 1024;
    cairn_sigpool *p = calloc(1, sizeof *p);
    if (!p) return CAIRN_ENOMEM;
    p->ctx = ctx;
    p->nthreads = o.threads;
    p->max_chunk = o.max_chunk;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    int rc = 0;
    if (o.cache_bytes != (size_t)-1) rc = cairn_sigcache_new(&p->cache, o.cache_bytes);
    p->threads = calloc(o.threads, sizeof *p->threads);
    if (rc == 0 && !p->threads) rc = CAIRN_ENOMEM;
    for (unsigned i = 0; rc == 0 && i < o.threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
            rc = CAIRN_EAGAIN;
        else
            p->started++;
    }
    if (rc) {
        cairn_sigpool_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void cairn_sigpool_free(cairn_sigpool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++) pthread_join(p->threads[i], NULL);
    free(p->threads);
    cairn_sigcache_free(p->cache);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

unsigned cairn_sigpool_threads(const cairn_sigpool *p)
{
    return p->nthreads;
}

cairn_sigcache *cairn_sigpool_cache(cairn_sigpool *p)
{
    return p->cache;
}

int cairn_sigpool_submit(cairn_sigpool *p, cairn_sigpool_job *job)
{
    if (!p || !job) return CAIRN_EINVAL;
    job->status = 0;
    if (job->n == 0) {
        if (job->done) job->done(job, job->arg);
        return 0;
    }
    size_t chunk = (job->n + p->nthreads - 1) / p->nthreads;
    if (chunk > p->max_chunk) chunk = p->max_chunk;
    if (chunk < 1) chunk = 1;
    job->priv.chunk = chunk;
    job->priv.next_start = 0;
    job->priv.next = NULL;
    atomic_init(&job->priv.chunks_left, (job->n + chunk - 1) / chunk);
    atomic_init(&job->priv.any_invalid, 0);
    atomic_init(&job->priv.any_error, 0);
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->priv.next = job;
    else
        p->head = job;
    p->tail = job;
    /* Wake one worker per chunk (a one-chunk job wakes one thread, not the whole pool). */
    if (atomic_load(&job->priv.chunks_left) == 1)
        pthread_cond_signal(&p->cv);
    else
        pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} waiter;

static void wake(cairn_sigpool_job *job, void *arg)
{
    (void)job;
    waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int cairn_sigpool_verify(cairn_sigpool *p, int *results, const cairn_sig_item *items, size_t n)
{
    waiter w = {.done = 0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    cairn_sigpool_job job;
    memset(&job, 0, sizeof job);
    job.items = items;
    job.n = n;
    job.results = results;
    job.done = wake;
    job.arg = &w;
    int rc = cairn_sigpool_submit(p, &job);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = job.status;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}
