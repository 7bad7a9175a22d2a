/*
 * hf_wh_loader — the loader thread behind hf_wh_loader.h: one batch at a
 * time, committed with retries, backoff and reconnects, handed back to the
 * owner thread through a small state machine under one mutex.
 */
#include "hf_wh_loader.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "hf_log.h"
#include "hf_mem.h"
#include "hf_time.h"

/* ==== state ==== */

/* Who owns the batch (and uses the hf_wh_t) follows `state`, read and
 * written under mu only:
 *   IDLE     nothing in the loader: the owner thread has everything.
 *   RUNNING  the loader thread commits `batch`, retries and reconnects; the
 *            owner may only tighten once/deadline_ms and wait on cv.
 *   DONE     the loader thread is finished with it; `out` holds the outcome
 *            until the owner reaps it (DONE -> IDLE).
 * Only the owner moves IDLE -> RUNNING (submit) and DONE -> IDLE (reap);
 * only the loader thread moves RUNNING -> DONE. */
typedef enum hf__ldstate_e { HF__LD_IDLE, HF__LD_RUNNING, HF__LD_DONE } hf__ldstate_t;

struct hf_wh_loader_s {
    hf_wh_loader_conf_t conf;  /* commit/reconnect filled with the defaults when NULL */
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* broadcast on every change below (CLOCK_MONOTONIC) */
    pthread_t thread;
    bool thread_started;
    /* guarded by mu */
    hf__ldstate_t state;
    bool once;                 /* give up after the next failed attempt (revoke, exit) */
    bool quit;                 /* the thread ends (after its batch's running attempt) */
    int64_t deadline_ms;       /* start no retry at or after this monotonic ms; 0 = none */
    uint64_t retries;          /* transient failures retried for the batch in the loader */
    hf_wh_batch_t *batch;      /* RUNNING, DONE: the batch in the loader */
    hf_wh_loader_outcome_t out;/* DONE: result, errstr, stats, times (batch, retries and
                                  late are filled at reap) */
    /* owner thread only */
    bool busy;                 /* submitted and not yet reaped (state != IDLE) */
};

/* ==== defaults ==== */

static hf_err_t hf__commit_default(void *opaque, hf_wh_batch_t *b, hf_wh_stats_t *stats,
                                   char *errstr, size_t errstr_size)
{
    (void)opaque;
    return hf_wh_batch_commit(b, stats, errstr, errstr_size);
}

static hf_err_t hf__reconnect(hf_wh_loader_t *l, char *errstr, size_t errstr_size)
{
    if (l->conf.reconnect)
        return l->conf.reconnect(l->conf.opaque, errstr, errstr_size);
    return hf_wh_reconnect(l->conf.wh, errstr, errstr_size);
}

/* ==== the loader thread ==== */

static void hf__cond_wait_until(hf_wh_loader_t *l, int64_t until_ms)
{
    struct timespec ts = {until_ms / 1000, (until_ms % 1000) * 1000000};
    (void)pthread_cond_timedwait(&l->cv, &l->mu, &ts);
}

/* Sleep the backoff; once, quit or the deadline cut it short. */
static void hf__backoff(hf_wh_loader_t *l, int64_t backoff_ms)
{
    pthread_mutex_lock(&l->mu);
    int64_t until = hf_time_mono_ms() + backoff_ms;
    for (;;) {
        int64_t end = l->deadline_ms && l->deadline_ms < until ? l->deadline_ms : until;
        if (l->once || l->quit || hf_time_mono_ms() >= end)
            break;
        hf__cond_wait_until(l, end);
    }
    pthread_mutex_unlock(&l->mu);
}

/* State RUNNING: commit l->batch, retrying transient failures with backoff
 * (reconnecting before each retry) until it succeeds, fails otherwise, or
 * the owner asks it to stop retrying (once, quit, the deadline); then store
 * the outcome. */
static void hf__commit(hf_wh_loader_t *l)
{
    char err[sizeof(l->out.errstr)] = "";
    hf_wh_stats_t st;
    int64_t backoff = l->conf.backoff_initial_ms, t0 = 0, commit_us = 0, waited_from = 0;
    hf_err_t e;
    int attempt;
    bool reconnect_failed = false;
    for (attempt = 1;; attempt++) {
        t0 = hf_time_mono_us();
        e = l->conf.commit(l->conf.opaque, l->batch, &st, err, sizeof(err));
        commit_us = hf_time_mono_us() - t0;
        if (e == HF_OK || !hf_err_retriable(e))
            break;
        pthread_mutex_lock(&l->mu);
        bool once = l->once || l->quit;
        bool late = l->deadline_ms && hf_time_mono_ms() >= l->deadline_ms;
        if (!once)
            l->retries++; /* a revoke's single try is not a retry */
        pthread_cond_broadcast(&l->cv); /* hf_wh_loader_wait_healthy */
        pthread_mutex_unlock(&l->mu);
        if (once || late)
            break; /* the owner abandons the batch */
        /* One warning per outage (per loader), however long; each retry at
         * debug level. */
        if (attempt == 1) {
            waited_from = t0;
            hf_log_warn("consume.waiting", "msg=\"waiting for PostgreSQL\" retry_in_ms=%" PRId64
                        " lane=%u err=\"%s\"", backoff, l->conf.lane, err);
        } else {
            hf_log_debug("consume.retry", "attempt=%d retry_in_ms=%" PRId64 " err=\"%s\"",
                         attempt, backoff, err);
        }
        hf__backoff(l, backoff);
        backoff = backoff * 2 > l->conf.backoff_max_ms ? l->conf.backoff_max_ms : backoff * 2;
        char rerr[512];
        if (hf__reconnect(l, rerr, sizeof(rerr)) != HF_OK) {
            if (!reconnect_failed) /* why the wait goes on, once */
                hf_log_warn("consume.reconnect", "msg=\"cannot reconnect to PostgreSQL yet\" "
                            "lane=%u err=\"%s\"", l->conf.lane, rerr);
            else
                hf_log_debug("consume.reconnect", "err=\"%s\"", rerr);
            reconnect_failed = true;
        }
    }
    if (e == HF_OK && waited_from)
        hf_log_info("consume.pg_back", "msg=\"PostgreSQL is back; batch committed\" attempts=%d "
                    "waited_ms=%" PRId64 " lane=%u", attempt,
                    (hf_time_mono_us() - waited_from) / 1000, l->conf.lane);
    pthread_mutex_lock(&l->mu);
    l->out.result = e;
    memcpy(l->out.errstr, err, sizeof(l->out.errstr));
    if (e == HF_OK) {
        l->out.stats = st;
        l->out.started_us = t0;
        l->out.commit_us = commit_us;
    }
    pthread_mutex_unlock(&l->mu);
}

static void *hf__main(void *arg)
{
    hf_wh_loader_t *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (l->state != HF__LD_RUNNING && !l->quit)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->state != HF__LD_RUNNING)
            break; /* quit */
        pthread_mutex_unlock(&l->mu);
        hf__commit(l);
        pthread_mutex_lock(&l->mu);
        l->state = HF__LD_DONE;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ==== lifecycle ==== */

hf_wh_loader_t *hf_wh_loader_new(const hf_wh_loader_conf_t *conf, char *errstr,
                                 size_t errstr_size)
{
    if (!conf->wh && !conf->reconnect) {
        hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "loader: no hf_wh_t and no reconnect");
        return NULL;
    }
    hf_wh_loader_t *l = hf_calloc(1, sizeof(*l));
    l->conf = *conf;
    if (!l->conf.commit)
        l->conf.commit = hf__commit_default;
    if (l->conf.backoff_initial_ms <= 0)
        l->conf.backoff_initial_ms = 100;
    if (l->conf.backoff_max_ms <= 0)
        l->conf.backoff_max_ms = 30000;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* hf_time_mono_ms() deadlines */
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int pe = pthread_create(&l->thread, NULL, hf__main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pe != 0) {
        hf_err_set(HF_ERR_INTERNAL, errstr, errstr_size, "starting the loader thread: %s",
                   strerror(pe));
        hf_wh_loader_destroy(l);
        return NULL;
    }
    l->thread_started = true;
    return l;
}

void hf_wh_loader_destroy(hf_wh_loader_t *l)
{
    if (!l)
        return;
    if (l->thread_started) {
        pthread_mutex_lock(&l->mu);
        l->quit = true;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    if (l->state != HF__LD_IDLE)
        hf_wh_batch_destroy(l->batch);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    hf_free(l);
}

/* ==== handing over and collecting ==== */

hf_err_t hf_wh_loader_submit(hf_wh_loader_t *l, hf_wh_batch_t *b, bool once, int64_t deadline_ms)
{
    if (!b)
        return HF_ERR_INVALID;
    pthread_mutex_lock(&l->mu);
    if (l->state != HF__LD_IDLE) {
        pthread_mutex_unlock(&l->mu);
        return HF_ERR_BUSY;
    }
    l->batch = b;
    l->once = once;
    l->deadline_ms = deadline_ms;
    l->retries = 0;
    l->state = HF__LD_RUNNING;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    l->busy = true;
    return HF_OK;
}

bool hf_wh_loader_busy(const hf_wh_loader_t *l)
{
    return l->busy;
}

bool hf_wh_loader_retrying(hf_wh_loader_t *l)
{
    pthread_mutex_lock(&l->mu);
    bool r = l->state == HF__LD_RUNNING && l->retries > 0;
    pthread_mutex_unlock(&l->mu);
    return r;
}

bool hf_wh_loader_reap(hf_wh_loader_t *l, hf_wh_loader_outcome_t *out)
{
    pthread_mutex_lock(&l->mu);
    if (l->state != HF__LD_DONE) {
        pthread_mutex_unlock(&l->mu);
        return false;
    }
    *out = l->out;
    out->batch = l->batch;
    out->retries = l->retries;
    out->late = l->deadline_ms && hf_time_mono_ms() >= l->deadline_ms;
    memset(&l->out, 0, sizeof(l->out));
    l->batch = NULL;
    l->retries = 0;
    l->once = false;
    l->deadline_ms = 0;
    l->state = HF__LD_IDLE;
    pthread_mutex_unlock(&l->mu);
    l->busy = false;
    return true;
}

/* ==== waiting ==== */

/* mu held. */
static void hf__limit_locked(hf_wh_loader_t *l, bool once, int64_t deadline_ms)
{
    if (l->state != HF__LD_RUNNING)
        return;
    if (once)
        l->once = true;
    if (deadline_ms && (!l->deadline_ms || deadline_ms < l->deadline_ms))
        l->deadline_ms = deadline_ms;
    pthread_cond_broadcast(&l->cv);
}

void hf_wh_loader_limit(hf_wh_loader_t *l, bool once, int64_t deadline_ms)
{
    pthread_mutex_lock(&l->mu);
    hf__limit_locked(l, once, deadline_ms);
    pthread_mutex_unlock(&l->mu);
}

hf_err_t hf_wh_loader_settle(hf_wh_loader_t *l, int64_t deadline_ms)
{
    pthread_mutex_lock(&l->mu);
    hf__limit_locked(l, false, deadline_ms);
    while (l->state == HF__LD_RUNNING && (!deadline_ms || hf_time_mono_ms() < deadline_ms)) {
        if (deadline_ms)
            hf__cond_wait_until(l, deadline_ms);
        else
            pthread_cond_wait(&l->cv, &l->mu);
    }
    bool running = l->state == HF__LD_RUNNING;
    pthread_mutex_unlock(&l->mu);
    return running ? HF_ERR_TIMEOUT : HF_OK;
}

bool hf_wh_loader_wait_healthy(hf_wh_loader_t *l, int64_t until_ms)
{
    pthread_mutex_lock(&l->mu);
    while (l->state == HF__LD_RUNNING && l->retries == 0 && hf_time_mono_ms() < until_ms)
        hf__cond_wait_until(l, until_ms);
    bool done = l->state == HF__LD_DONE;
    pthread_mutex_unlock(&l->mu);
    return done;
}
