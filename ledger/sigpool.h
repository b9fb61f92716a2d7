/*
 * sigpool.h — a dedicated pool of signature-verification threads (not libuv's shared pool).
 *
 * A job is a batch of items of mixed algorithms; the pool splits it into chunks, verifies each
 * chunk on some worker (Ed25519 batched, the others one by one, cache first), writes one result
 * per item (0 or a CAIRN_ESIG_* code, exactly what cairn_sig_verify returns) and, after the
 * last chunk, calls job->done(job, job->arg) once on a worker thread. The node wires done to
 * uv_async_send; done must not block and must not call back into the pool.
 *
 * Ownership: the job struct, items (and everything they point to) and results are the
 * caller's and must stay valid and unmodified until done runs. The context must outlive the
 * pool. cairn_sigpool_free waits for every submitted job to finish.
 */
#ifndef CAIRN_LEDGER_SIGPOOL_H
#define CAIRN_LEDGER_SIGPOOL_H

#include <stdatomic.h>
#include <stddef.h>

#include "ledger/error.h"
#include "ledger/sig.h"
#include "ledger/sigcache.h"

typedef struct cairn_sigpool cairn_sigpool;
typedef struct cairn_sigpool_job cairn_sigpool_job;
typedef void (*cairn_sigpool_done_fn)(cairn_sigpool_job *job, void *arg);

struct cairn_sigpool_job {
    const cairn_sig_item *items;
    size_t n;
    int *results;
    cairn_sigpool_done_fn done; /* may be NULL */
    void *arg;
    /* Set when done runs: 0 when all items are valid, CAIRN_ESIG_INVALID when some are not,
     * CAIRN_ENOMEM when the pool could not allocate (results are then incomplete). */
    int status;
    /* Internal to the pool. */
    struct {
        cairn_sigpool_job *next;
        size_t chunk, next_start;
        atomic_size_t chunks_left;
        atomic_int any_invalid, any_error;
    } priv;
};

typedef struct cairn_sigpool_opts {
    unsigned threads;   /* 0: one per online core */
    size_t cache_bytes; /* 0: 64 MiB; (size_t)-1: no cache */
    size_t max_chunk;   /* largest batch one worker takes at once; 0: 2048 */
} cairn_sigpool_opts;

/* Starts the workers. opts may be NULL. CAIRN_ENOMEM, CAIRN_EAGAIN (threads). */
CAIRN_MUST_CHECK int cairn_sigpool_new(cairn_sigpool **out, const cairn_sig_ctx *ctx,
                                       const cairn_sigpool_opts *opts);
/* Finishes the queued jobs, joins the workers, frees. */
void cairn_sigpool_free(cairn_sigpool *pool);

unsigned cairn_sigpool_threads(const cairn_sigpool *pool);
/* The pool's cache, or NULL without one (stats, tests). */
cairn_sigcache *cairn_sigpool_cache(cairn_sigpool *pool);

/* Queues a job (never blocks on verification). CAIRN_EINVAL for a NULL job. */
CAIRN_MUST_CHECK int cairn_sigpool_submit(cairn_sigpool *pool, cairn_sigpool_job *job);

/* Submits and waits: fills results; returns the job status (0, CAIRN_ESIG_INVALID, ENOMEM). */
CAIRN_MUST_CHECK int cairn_sigpool_verify(cairn_sigpool *pool, int *results,
                                          const cairn_sig_item *items, size_t n);

#endif
