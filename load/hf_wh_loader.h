/*
 * hf_wh_loader — the loader thread: commits one warehouse batch at a time
 * in the background, so that the caller can build the next batch meanwhile.
 *
 * The caller (the consume loop) owns two batches. It hands one over with
 * hf_wh_loader_submit(), keeps building the other, and collects the outcome
 * with hf_wh_loader_reap() (never blocks) or waits for it with
 * hf_wh_loader_settle() (revoke, shutdown) or hf_wh_loader_wait_healthy()
 * (its next batch is full). One batch at most is in the loader: the next is
 * submitted only after the previous one was reaped, so each batch's
 * compare-and-set value is the offset the previous commit stored.
 *
 * Transient failures (HF_ERR_PG_TRANSIENT and the other retriable codes) are
 * retried on the same batch with capped exponential backoff, reconnecting
 * before each retry, until the commit succeeds, fails permanently, or the
 * caller limits it: `once` (one more attempt at most: revoke, exit) or a
 * deadline (no retry starts after it: shutdown). A COMMIT whose reply was
 * lost is one such transient failure: the retry of the same batch finds out
 * from hf_offsets whether it had committed (see hf_warehouse.h).
 *
 * The commit and the reconnect go through function pointers in the
 * configuration; by default they are hf_wh_batch_commit() and
 * hf_wh_reconnect(), and tests put fakes there. No Kafka here: the caller
 * translates outcomes into seeks and advisory commits.
 *
 * Threads: every function is called from one thread (the owner); the loader
 * thread is internal. While a batch is in the loader (submitted and not yet
 * reaped) the loader thread owns the batch and uses the hf_wh_t (its
 * connection): the owner must not commit, reconnect or read offsets on it
 * then; building another batch from it is allowed (see hf_warehouse.h).
 */
#ifndef HF_WH_LOADER_H
#define HF_WH_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_err.h"
#include "hf_warehouse.h"

typedef struct hf_wh_loader_s hf_wh_loader_t;

/* ==== configuration ==== */

/* Commit b in one transaction; the contract of hf_wh_batch_commit(): stats
 * filled on HF_OK, the batch unchanged by a failed attempt. Runs in the
 * loader thread. */
typedef hf_err_t (*hf_wh_loader_commit_fn)(void *opaque, hf_wh_batch_t *b, hf_wh_stats_t *stats,
                                           char *errstr, size_t errstr_size);
/* Drop and re-open the connection after a transient failure; its error is
 * only logged (the next attempt reports the real one). Loader thread. */
typedef hf_err_t (*hf_wh_loader_reconnect_fn)(void *opaque, char *errstr, size_t errstr_size);

typedef struct hf_wh_loader_conf_s {
    hf_wh_t *wh;                         /* borrowed, must outlive the loader; used by the
                                            default reconnect. NULL only with reconnect set */
    hf_wh_loader_commit_fn commit;       /* NULL: hf_wh_batch_commit */
    hf_wh_loader_reconnect_fn reconnect; /* NULL: hf_wh_reconnect(wh) */
    void *opaque;                        /* passed to commit and reconnect */
    int64_t backoff_initial_ms;          /* first retry delay, doubling; <= 0: 100 */
    int64_t backoff_max_ms;              /* cap of the delay; <= 0: 30000 */
    unsigned lane;                       /* named in its log lines (the consumer's lane) */
} hf_wh_loader_conf_t;

/* ==== lifecycle ==== */

/* Start the loader thread (with every signal blocked: signals stay with the
 * caller's threads). conf is copied. NULL with errstr on failure. */
hf_wh_loader_t *hf_wh_loader_new(const hf_wh_loader_conf_t *conf, char *errstr,
                                 size_t errstr_size);

/* Stop the thread and free. A batch still in the loader gets no further
 * retry; destroy waits for its running attempt and destroys the batch
 * (hf_wh_batch_destroy): reap first to keep it. NULL is a no-op. */
void hf_wh_loader_destroy(hf_wh_loader_t *l);

/* ==== handing over and collecting ==== */

/* Hand b to the loader thread, which starts committing it at once.
 * once: a single attempt (revoke); deadline_ms: start no retry at or after
 * this monotonic ms (hf_time_mono_ms), 0 = none.
 * @remark On HF_OK the loader owns b until hf_wh_loader_reap() gives it back:
 *         do not touch it meanwhile. Errors (b is still the caller's):
 *         HF_ERR_BUSY when a batch is in the loader (reap it first),
 *         HF_ERR_INVALID when b is NULL. */
hf_err_t hf_wh_loader_submit(hf_wh_loader_t *l, hf_wh_batch_t *b, bool once, int64_t deadline_ms)
    __attribute__((warn_unused_result));

/* A batch is in the loader: submitted and not yet reaped. */
bool hf_wh_loader_busy(const hf_wh_loader_t *l);

/* The batch in the loader has failed an attempt and is being retried
 * (PostgreSQL unavailable); false when idle or when its attempts have not
 * failed. For health reporting. */
bool hf_wh_loader_retrying(hf_wh_loader_t *l);

typedef struct hf_wh_loader_outcome_s {
    hf_wh_batch_t *batch; /* the batch submitted: the caller's again, as it was (not reset) */
    hf_err_t result;      /* HF_OK: committed. HF_ERR_CONFLICT: the offsets were not the
                             batch's (another instance owns a partition): nothing was written.
                             Retriable: the loader gave up retrying (once, deadline, destroy):
                             nothing was written. Other: permanent (hf_warehouse.h) */
    char errstr[512];     /* result != HF_OK: why (from the last attempt) */
    hf_wh_stats_t stats;  /* result == HF_OK */
    int64_t started_us;   /* result == HF_OK: start of the successful attempt (monotonic us) */
    int64_t commit_us;    /* result == HF_OK: its length */
    uint64_t retries;     /* transient failures that were retried, or given up on at the
                             deadline (a `once` attempt is not counted) */
    bool late;            /* a deadline was set and had passed when reaped */
} hf_wh_loader_outcome_t;

/* Collect a finished commit without blocking. true: *out is filled and the
 * loader is free for the next submit. false: nothing finished (a commit is
 * running, or nothing was submitted); *out is untouched. */
bool hf_wh_loader_reap(hf_wh_loader_t *l, hf_wh_loader_outcome_t *out)
    __attribute__((warn_unused_result));

/* ==== waiting ==== */

/* Tighten the limits of the batch in the loader: once (after its next failed
 * attempt it gives up, and a running backoff ends now) and/or a deadline
 * (0: unchanged; an earlier deadline wins). No-op when nothing is in it. */
void hf_wh_loader_limit(hf_wh_loader_t *l, bool once, int64_t deadline_ms);

/* Wait for the batch in the loader: no retry starts at or after deadline_ms
 * (as hf_wh_loader_limit), and this blocks until the commit is finished or
 * deadline_ms passes (0: no deadline: until finished; with neither once nor
 * a deadline that means until it succeeds or fails permanently).
 * HF_OK: nothing is running any more (reap the outcome, if one was
 * submitted). HF_ERR_TIMEOUT: the deadline passed while an attempt was still
 * running; the loader still owns the batch and gives up after that attempt
 * if it fails: settle again, or reap later. */
hf_err_t hf_wh_loader_settle(hf_wh_loader_t *l, int64_t deadline_ms)
    __attribute__((warn_unused_result));

/* Block until the commit is finished, an attempt of it has failed (the
 * loader is retrying: PostgreSQL trouble) or until_ms passes; true when
 * finished. For a caller whose next batch is full: a healthy commit is worth
 * waiting for, a retrying one is not. */
bool hf_wh_loader_wait_healthy(hf_wh_loader_t *l, int64_t until_ms);

#endif /* HF_WH_LOADER_H */
