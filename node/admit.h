/*
 * admit.h — batched signature checks for transactions submitted to the API.
 *
 * An API thread decodes a transaction and runs the stateless and replay checks
 * (cairn_chain_admit_prepare), then hands it here with a deferred HTTP answer (node/http.h)
 * instead of verifying its signature alone. One verifier thread takes every queued transaction
 * at once (up to CAIRN_ADMIT_BATCH), checks their signatures together with the signature
 * engine's batch verification, and calls done() for each with the result; done() answers the
 * client (and on success adds the transaction to the mempool). Under load, batches grow with
 * the number of clients waiting, which is where batch verification pays (docs/signatures.md).
 *
 * Bounded: at most max_queued transactions wait; cairn_admit_submit refuses beyond that with
 * CAIRN_EMEMPOOL_FULL (answered 503 at once). cairn_admit_stop finishes every waiting job with
 * the caller's cancel code.
 *
 * Threads: submit from any thread; done() runs on the verifier thread (or in
 * cairn_admit_stop's caller for jobs cancelled at shutdown).
 */
#ifndef CAIRN_NODE_ADMIT_H
#define CAIRN_NODE_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"
#include "ledger/sig.h"

#define CAIRN_ADMIT_BATCH 1024

typedef struct cairn_admit cairn_admit;

/* A transaction waiting for its signature check. raw is owned by the job. */
typedef struct cairn_admit_job {
    void *deferred; /* the caller's handle (e.g. cairn_http_deferred) */
    uint8_t *raw;
    size_t len;
    uint8_t hash[32], signer[32], client[32];
} cairn_admit_job;

/* err: 0 when the signature is valid, else its CAIRN_ESIG_* code, or cancel_err at shutdown.
 * done owns job->raw from here (free it or keep it). */
typedef void (*cairn_admit_done_fn)(void *ctx, cairn_admit_job *job, int err);

CAIRN_MUST_CHECK int cairn_admit_start(cairn_admit **out, const cairn_sig_ctx *sig,
                                       const char *chain_id, size_t max_queued,
                                       cairn_admit_done_fn done, void *ctx);

/* Queues a copy of *job (raw ownership passes on success). CAIRN_EMEMPOOL_FULL when
 * max_queued are waiting, CAIRN_ENOMEM. On failure the caller still owns job->raw. */
CAIRN_MUST_CHECK int cairn_admit_submit(cairn_admit *a, const cairn_admit_job *job);

/* Stops the verifier; every job still queued gets done(cancel_err); later submits fail with
 * CAIRN_EMEMPOOL_FULL. Idempotent. The handle stays valid (submits may still race in). */
void cairn_admit_stop(cairn_admit *a, int cancel_err);

/* Stops (if needed) and frees. Only once no thread can call submit any more. NULL: no-op. */
void cairn_admit_free(cairn_admit *a);

#endif
