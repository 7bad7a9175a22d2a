/*
 * Unit tests for hf_wh_loader: the two-batch handoff driven with a fake
 * commit function (no PostgreSQL). The fake keeps one partition's
 * hf_offsets value and commits like hf_wh_batch_commit: compare-and-set,
 * rows written once, a lost COMMIT that did commit and is recognised from
 * the stored offset on the retry. A gate in the fake holds a commit "in
 * flight" for as long as a test needs; nothing here synchronises by sleeping.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "hf_log.h"
#include "hf_time.h"
#include "hf_wh_loader.h"

/* ==== the fake warehouse ==== */

/* A batch as the fake sees it. The loader never looks inside a batch, so
 * the tests pass these where it takes an hf_wh_batch_t *. */
typedef struct fake_batch_s {
    int id;
    int64_t expected;   /* compare-and-set: the stored offset it continues */
    int64_t next;       /* the stored offset after it */
    int rows;
    bool unknown;       /* its last COMMIT's reply was lost */
} fake_batch_t;

#define AS_BATCH(fb) ((hf_wh_batch_t *)(void *)(fb))

/* Scripted results for successive commit calls; after the script the fake
 * behaves like the warehouse. FAKE_LOST: the COMMIT succeeds, then the
 * connection drops before the reply (HF_ERR_PG_TRANSIENT). */
#define FAKE_LOST (-1)

typedef struct fake_s {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t stored;          /* hf_offsets.next_offset of the one partition; -1 none */
    bool connected;
    int script[8];
    int nscript, at;
    bool hold;               /* a commit call waits here until released */
    bool in_commit;
    int calls, reconnects;
    int order[8], norder;    /* ids of committed batches, in commit order */
    int rows_written;
    int64_t steal_on_reconnect; /* >= 0: another instance stores this meanwhile */
} fake_t;

static fake_t fk;

static void fake_reset(void)
{
    memset(&fk, 0, sizeof(fk));
    pthread_mutex_init(&fk.mu, NULL);
    pthread_cond_init(&fk.cv, NULL);
    fk.stored = -1;
    fk.connected = true;
    fk.steal_on_reconnect = -1;
}

static void fake_script(int n, const int *results)
{
    pthread_mutex_lock(&fk.mu);
    memcpy(fk.script, results, (size_t)n * sizeof(int));
    fk.nscript = n;
    fk.at = 0;
    pthread_mutex_unlock(&fk.mu);
}

static void fake_hold(bool hold)
{
    pthread_mutex_lock(&fk.mu);
    fk.hold = hold;
    pthread_cond_broadcast(&fk.cv);
    pthread_mutex_unlock(&fk.mu);
}

/* Block until the fake has been called n times (the nth call may be held). */
static void fake_wait_calls(int n)
{
    pthread_mutex_lock(&fk.mu);
    while (fk.calls < n)
        pthread_cond_wait(&fk.cv, &fk.mu);
    pthread_mutex_unlock(&fk.mu);
}

/* mu held: the warehouse's transaction (compare-and-set, rows, COMMIT). */
static hf_err_t fake_apply(fake_batch_t *b, hf_wh_stats_t *st, char *errstr, size_t n)
{
    if (fk.stored != b->expected)
        return hf_err_set(HF_ERR_CONFLICT, errstr, n, "offsets are no longer %lld",
                          (long long)b->expected);
    fk.stored = b->next;
    fk.rows_written += b->rows;
    fk.order[fk.norder++] = b->id;
    memset(st, 0, sizeof(*st));
    st->rows = st->inserted = (size_t)b->rows;
    return HF_OK;
}

static hf_err_t fake_commit(void *opaque, hf_wh_batch_t *hb, hf_wh_stats_t *st, char *errstr,
                            size_t n)
{
    (void)opaque;
    fake_batch_t *b = (fake_batch_t *)(void *)hb;
    pthread_mutex_lock(&fk.mu);
    fk.calls++;
    fk.in_commit = true;
    pthread_cond_broadcast(&fk.cv);
    while (fk.hold)
        pthread_cond_wait(&fk.cv, &fk.mu);
    hf_err_t e;
    if (!fk.connected) {
        e = hf_err_set(HF_ERR_PG_TRANSIENT, errstr, n, "not connected");
    } else if (b->unknown && fk.stored == b->next) {
        b->unknown = false; /* it had committed: report it, write nothing again */
        memset(st, 0, sizeof(*st));
        st->rows = st->inserted = (size_t)b->rows;
        e = HF_OK;
    } else if (b->unknown && fk.stored != b->expected) {
        e = hf_err_set(HF_ERR_CONFLICT, errstr, n, "after a lost COMMIT reply: moved");
    } else if (fk.at < fk.nscript && fk.script[fk.at] == FAKE_LOST) {
        fk.at++;
        e = fake_apply(b, st, errstr, n); /* the tests lose only committable batches */
        if (e == HF_OK) {
            b->unknown = true;
            fk.connected = false;
            e = hf_err_set(HF_ERR_PG_TRANSIENT, errstr, n, "COMMIT: server closed the connection");
        }
    } else if (fk.at < fk.nscript) {
        e = (hf_err_t)fk.script[fk.at++];
        hf_err_set(e, errstr, n, "scripted %s", hf_err_name(e));
    } else {
        b->unknown = false;
        e = fake_apply(b, st, errstr, n);
    }
    fk.in_commit = false;
    pthread_cond_broadcast(&fk.cv);
    pthread_mutex_unlock(&fk.mu);
    return e;
}

static hf_err_t fake_reconnect(void *opaque, char *errstr, size_t n)
{
    (void)opaque;
    (void)errstr;
    (void)n;
    pthread_mutex_lock(&fk.mu);
    fk.reconnects++;
    fk.connected = true;
    if (fk.steal_on_reconnect >= 0)
        fk.stored = fk.steal_on_reconnect;
    pthread_mutex_unlock(&fk.mu);
    return HF_OK;
}

/* ==== helpers ==== */

static void setup(void)
{
    hf_log_init(HF_LOG_OFF, stderr);
    fake_reset();
}

TestSuite(wh_loader, .init = setup, .timeout = 60);

static hf_wh_loader_t *new_loader(int64_t backoff_initial_ms)
{
    char err[256];
    hf_wh_loader_conf_t conf = {.commit = fake_commit, .reconnect = fake_reconnect,
                                .backoff_initial_ms = backoff_initial_ms,
                                .backoff_max_ms = backoff_initial_ms * 4};
    hf_wh_loader_t *l = hf_wh_loader_new(&conf, err, sizeof(err));
    cr_assert(l, "loader: %s", err);
    return l;
}

static void submit(hf_wh_loader_t *l, fake_batch_t *b, bool once, int64_t deadline_ms)
{
    cr_assert_eq(hf_wh_loader_submit(l, AS_BATCH(b), once, deadline_ms), HF_OK);
    cr_assert(hf_wh_loader_busy(l));
}

/* Settle with no deadline and reap: the outcome of the batch in the loader. */
static hf_wh_loader_outcome_t settle_reap(hf_wh_loader_t *l)
{
    hf_wh_loader_outcome_t o;
    cr_assert_eq(hf_wh_loader_settle(l, 0), HF_OK);
    cr_assert(hf_wh_loader_reap(l, &o), "settled but nothing to reap");
    cr_assert_not(hf_wh_loader_busy(l));
    return o;
}

/* ==== tests ==== */

Test(wh_loader, conf_needs_a_connection_or_a_reconnect)
{
    char err[256] = "";
    hf_wh_loader_conf_t conf = {.commit = fake_commit};
    cr_assert_null(hf_wh_loader_new(&conf, err, sizeof(err)));
    cr_assert(strlen(err) > 0);
    hf_wh_loader_destroy(NULL);
}

/* Batch 1 [0, 10) commits while batch 2 [10, 25) is built; batch 2 goes to
 * the loader only after batch 1 is reaped, with batch 1's end as its
 * compare-and-set value. */
Test(wh_loader, two_batches_chain)
{
    hf_wh_loader_t *l = new_loader(1);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    fake_batch_t b2 = {.id = 2, .rows = 15};
    hf_wh_loader_outcome_t o;

    fake_hold(true);
    cr_assert_eq(hf_wh_loader_reap(l, &o), false, "nothing submitted yet");
    submit(l, &b1, false, 0);
    fake_wait_calls(1);
    /* Batch 1 is in flight: batch 2 is being built, and cannot go yet. */
    cr_assert_eq(hf_wh_loader_reap(l, &o), false);
    cr_assert_eq(hf_wh_loader_submit(l, AS_BATCH(&b2), false, 0), HF_ERR_BUSY);
    fake_hold(false);

    o = settle_reap(l);
    cr_assert_eq(o.result, HF_OK);
    cr_assert_eq(o.batch, AS_BATCH(&b1), "the batch comes back to its owner");
    cr_assert_eq(o.stats.inserted, 10);
    cr_assert_eq(o.retries, 0);
    cr_assert_not(o.late);
    cr_assert_eq(fk.stored, 10);
    cr_assert_eq(hf_wh_loader_reap(l, &o), false, "reaped once only");

    b2.expected = b1.next; /* the consumer's committed offset after batch 1 */
    b2.next = 25;
    submit(l, &b2, false, 0);
    o = settle_reap(l);
    cr_assert_eq(o.result, HF_OK);
    cr_assert_eq(o.batch, AS_BATCH(&b2));
    cr_assert_eq(fk.stored, 25);
    cr_assert_eq(fk.norder, 2);
    cr_assert_eq(fk.order[0], 1);
    cr_assert_eq(fk.order[1], 2);
    cr_assert_eq(fk.rows_written, 25);
    cr_assert_eq(fk.calls, 2);
    cr_assert_eq(fk.reconnects, 0);
    hf_wh_loader_destroy(l);
}

static void *release_later(void *arg)
{
    (void)arg;
    fake_wait_calls(1);
    fake_hold(false);
    return NULL;
}

/* A revoke while batch 1 commits: settle returns only once the commit has
 * finished; then the batch being built gets its single attempt. Nothing is
 * lost: the stored offset covers both. */
Test(wh_loader, revoke_waits_for_the_commit_in_flight)
{
    hf_wh_loader_t *l = new_loader(1);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    fake_batch_t b2 = {.id = 2, .expected = 10, .next = 18, .rows = 8};

    fake_hold(true);
    submit(l, &b1, false, 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, release_later, NULL), 0);
    hf_wh_loader_limit(l, true, 0); /* the revoke: one more attempt at most */
    cr_assert_eq(hf_wh_loader_settle(l, 0), HF_OK);
    cr_assert_not(fk.in_commit, "settle returned while the commit was running");
    cr_assert_eq(fk.stored, 10);
    hf_wh_loader_outcome_t o;
    cr_assert(hf_wh_loader_reap(l, &o));
    cr_assert_eq(o.result, HF_OK);
    pthread_join(t, NULL);

    submit(l, &b2, true, 0);
    o = settle_reap(l);
    cr_assert_eq(o.result, HF_OK);
    cr_assert_eq(fk.stored, 18);
    cr_assert_eq(fk.rows_written, 18);
    cr_assert_eq(fk.calls, 2);
    hf_wh_loader_destroy(l);
}

/* A revoke while PostgreSQL fails: once means one attempt and no retry, no
 * reconnect; the outcome is the transient error, which the consumer turns
 * into abandoning the batch (nothing was written). */
Test(wh_loader, revoke_gives_up_after_one_failed_attempt)
{
    hf_wh_loader_t *l = new_loader(1);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    int script[] = {HF_ERR_PG_TRANSIENT, HF_ERR_PG_TRANSIENT, HF_ERR_PG_TRANSIENT};
    fake_script(3, script);
    submit(l, &b1, true, 0);
    hf_wh_loader_outcome_t o = settle_reap(l);
    cr_assert_eq(o.result, HF_ERR_PG_TRANSIENT);
    cr_assert_eq(o.retries, 0, "a revoke's single try is not a retry");
    cr_assert_eq(fk.calls, 1);
    cr_assert_eq(fk.reconnects, 0);
    cr_assert_eq(fk.stored, -1);
    cr_assert_eq(fk.rows_written, 0);
    hf_wh_loader_destroy(l);
}

/* A revoke while the loader sits in a long backoff: the backoff ends at
 * once, the loader reconnects and makes its one more attempt. */
Test(wh_loader, revoke_cuts_a_backoff_short)
{
    hf_wh_loader_t *l = new_loader(60000);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    int script[] = {HF_ERR_PG_TRANSIENT, HF_ERR_PG_TRANSIENT, HF_ERR_PG_TRANSIENT};
    fake_script(3, script);
    int64_t t0 = hf_time_mono_ms();
    submit(l, &b1, false, 0);
    /* Returns false as soon as the first attempt has failed (retrying). */
    cr_assert_not(hf_wh_loader_wait_healthy(l, t0 + 30000));
    cr_assert(hf_time_mono_ms() - t0 < 30000, "wait_healthy missed the failed attempt");
    hf_wh_loader_limit(l, true, 0);
    hf_wh_loader_outcome_t o = settle_reap(l);
    cr_assert(hf_time_mono_ms() - t0 < 30000, "the 60 s backoff was not cut short");
    cr_assert_eq(o.result, HF_ERR_PG_TRANSIENT);
    cr_assert_eq(o.retries, 1);
    cr_assert_eq(fk.calls, 2);
    cr_assert_eq(fk.reconnects, 1);
    cr_assert_eq(fk.rows_written, 0);
    hf_wh_loader_destroy(l);
}

/* Shutdown: settle gives up at its deadline while the attempt still runs
 * (HF_ERR_TIMEOUT, the loader keeps the batch); when that attempt then
 * fails, no retry starts after the deadline and the outcome says so. */
Test(wh_loader, shutdown_deadline_passes_while_the_commit_runs)
{
    hf_wh_loader_t *l = new_loader(1);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    int script[] = {HF_ERR_PG_TRANSIENT};
    fake_script(1, script);
    fake_hold(true);
    submit(l, &b1, false, 0);
    fake_wait_calls(1);
    int64_t deadline = hf_time_mono_ms() + 50;
    cr_assert_eq(hf_wh_loader_settle(l, deadline), HF_ERR_TIMEOUT);
    cr_assert(hf_time_mono_ms() >= deadline, "settle returned before its deadline");
    hf_wh_loader_outcome_t o;
    cr_assert_eq(hf_wh_loader_reap(l, &o), false, "the attempt is still running");
    cr_assert(hf_wh_loader_busy(l));
    cr_assert(fk.in_commit);

    fake_hold(false);
    o = settle_reap(l);
    cr_assert_eq(o.result, HF_ERR_PG_TRANSIENT);
    cr_assert(o.late, "the outcome must say the deadline passed");
    cr_assert_eq(o.retries, 1, "the failure at the deadline is counted as before");
    cr_assert_eq(fk.calls, 1, "no retry after the deadline");
    cr_assert_eq(fk.reconnects, 0);
    cr_assert_eq(fk.stored, -1);
    hf_wh_loader_destroy(l);
}

/* The attempt that outlives the deadline may still succeed: then the batch
 * is committed (late, but nothing to abandon). */
Test(wh_loader, shutdown_commit_finishing_after_the_deadline_counts)
{
    hf_wh_loader_t *l = new_loader(1);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    fake_hold(true);
    submit(l, &b1, false, 0);
    fake_wait_calls(1);
    cr_assert_eq(hf_wh_loader_settle(l, hf_time_mono_ms() + 20), HF_ERR_TIMEOUT);
    fake_hold(false);
    hf_wh_loader_outcome_t o = settle_reap(l);
    cr_assert_eq(o.result, HF_OK);
    cr_assert(o.late);
    cr_assert_eq(fk.stored, 10);
    cr_assert_eq(fk.rows_written, 10);
    hf_wh_loader_destroy(l);
}

/* The drain submits the batch being built with the shutdown deadline: the
 * loader retries until then and gives up; every failed attempt counts. */
Test(wh_loader, shutdown_retries_stop_at_the_deadline)
{
    hf_wh_loader_t *l = new_loader(5);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    int script[8];
    for (int i = 0; i < 8; i++)
        script[i] = HF_ERR_PG_TRANSIENT;
    fake_script(8, script);
    submit(l, &b1, false, hf_time_mono_ms() + 40);
    hf_wh_loader_outcome_t o = settle_reap(l);
    cr_assert_eq(o.result, HF_ERR_PG_TRANSIENT);
    cr_assert(o.late);
    cr_assert(fk.calls >= 1 && fk.calls < 8, "calls=%d", fk.calls);
    cr_assert_eq(o.retries, (uint64_t)fk.calls);
    cr_assert_eq(fk.reconnects, fk.calls - 1, "a reconnect before every retry");
    cr_assert_eq(fk.rows_written, 0);
    hf_wh_loader_destroy(l);
}

/* Another instance stored offset 15 while batch [10, 20) waited: the
 * compare-and-set fails, nothing is written, no retry. The consumer drops
 * the batch (and the one built after it), re-reads the offset and goes on
 * from there. */
Test(wh_loader, conflict_is_not_retried)
{
    hf_wh_loader_t *l = new_loader(1);
    fake_batch_t b1 = {.id = 1, .expected = 10, .next = 20, .rows = 10};
    fk.stored = 15;
    submit(l, &b1, false, 0);
    hf_wh_loader_outcome_t o = settle_reap(l);
    cr_assert_eq(o.result, HF_ERR_CONFLICT);
    cr_assert_eq(o.batch, AS_BATCH(&b1));
    cr_assert(strstr(o.errstr, "no longer 10"), "errstr: %s", o.errstr);
    cr_assert_eq(o.retries, 0);
    cr_assert_eq(fk.calls, 1);
    cr_assert_eq(fk.reconnects, 0);
    cr_assert_eq(fk.stored, 15);
    cr_assert_eq(fk.rows_written, 0);

    fake_batch_t b2 = {.id = 2, .expected = fk.stored, .next = 20, .rows = 5};
    submit(l, &b2, false, 0);
    o = settle_reap(l);
    cr_assert_eq(o.result, HF_OK);
    cr_assert_eq(fk.stored, 20);
    cr_assert_eq(fk.rows_written, 5);
    hf_wh_loader_destroy(l);
}

/* A permanent error ends the batch at once. */
Test(wh_loader, permanent_error_is_not_retried)
{
    hf_wh_loader_t *l = new_loader(1);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    int script[] = {HF_ERR_PG};
    fake_script(1, script);
    submit(l, &b1, false, 0);
    hf_wh_loader_outcome_t o = settle_reap(l);
    cr_assert_eq(o.result, HF_ERR_PG);
    cr_assert(strstr(o.errstr, "HF_ERR_PG"), "errstr: %s", o.errstr);
    cr_assert_eq(fk.calls, 1);
    cr_assert_eq(fk.reconnects, 0);
    hf_wh_loader_destroy(l);
}

/* The connection drops during COMMIT after the server committed: the loader
 * reconnects and commits the same batch again, which finds its new offset
 * stored and reports success without writing twice; the chain goes on. */
Test(wh_loader, lost_commit_is_resolved_on_the_retry)
{
    hf_wh_loader_t *l = new_loader(1);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    int script[] = {FAKE_LOST};
    fake_script(1, script);
    submit(l, &b1, false, 0);
    hf_wh_loader_outcome_t o = settle_reap(l);
    cr_assert_eq(o.result, HF_OK);
    cr_assert_eq(o.batch, AS_BATCH(&b1));
    cr_assert_eq(o.stats.inserted, 10);
    cr_assert_eq(o.retries, 1);
    cr_assert_eq(fk.calls, 2, "the same batch, committed again");
    cr_assert_eq(fk.reconnects, 1, "reconnected before the retry");
    cr_assert_eq(fk.stored, 10);
    cr_assert_eq(fk.rows_written, 10, "written once");
    cr_assert_eq(fk.norder, 1);

    fake_batch_t b2 = {.id = 2, .expected = 10, .next = 20, .rows = 10};
    submit(l, &b2, false, 0);
    o = settle_reap(l);
    cr_assert_eq(o.result, HF_OK);
    cr_assert_eq(fk.stored, 20);
    cr_assert_eq(fk.rows_written, 20);
    hf_wh_loader_destroy(l);
}

/* A lost COMMIT, and another instance stores its own offset before the
 * retry: the retry reports the conflict (the consumer drops and re-seeks). */
Test(wh_loader, lost_commit_then_taken_over_is_a_conflict)
{
    hf_wh_loader_t *l = new_loader(1);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    int script[] = {FAKE_LOST};
    fake_script(1, script);
    fk.steal_on_reconnect = 30;
    submit(l, &b1, false, 0);
    hf_wh_loader_outcome_t o = settle_reap(l);
    cr_assert_eq(o.result, HF_ERR_CONFLICT);
    cr_assert_eq(fk.calls, 2);
    cr_assert_eq(fk.reconnects, 1);
    cr_assert_eq(fk.stored, 30);
    hf_wh_loader_destroy(l);
}

/* A lost COMMIT during a revoke's single attempt: the loader gives up (the
 * outcome is the transient error and the consumer abandons the batch), but
 * the stored offset shows the commit, so the next owner neither loses nor
 * repeats it. */
Test(wh_loader, lost_commit_on_revoke_is_left_to_hf_offsets)
{
    hf_wh_loader_t *l = new_loader(1);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    int script[] = {FAKE_LOST};
    fake_script(1, script);
    submit(l, &b1, true, 0);
    hf_wh_loader_outcome_t o = settle_reap(l);
    cr_assert_eq(o.result, HF_ERR_PG_TRANSIENT);
    cr_assert_eq(fk.calls, 1);
    cr_assert_eq(fk.reconnects, 0);
    cr_assert_eq(fk.stored, 10, "the next owner starts after the batch");
    cr_assert_eq(fk.rows_written, 10);
    hf_wh_loader_destroy(l);
}

/* count_lines(f, needle): lines of the log file f that contain needle */
static int count_lines(FILE *f, const char *needle)
{
    char line[1024];
    int n = 0;
    rewind(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    return n;
}

/* A long outage (five failed attempts) is one warning, each retry a debug
 * line, the first failed reconnect once, and one line when it is over. */
Test(wh_loader, an_outage_is_logged_once)
{
    FILE *log = tmpfile();
    cr_assert(log);
    hf_log_init(HF_LOG_INFO, log);
    hf_wh_loader_t *l = new_loader(1);
    fake_batch_t b1 = {.id = 1, .expected = -1, .next = 10, .rows = 10};
    int script[] = {HF_ERR_PG_TRANSIENT, HF_ERR_PG_TRANSIENT, HF_ERR_PG_TRANSIENT,
                    HF_ERR_PG_TRANSIENT, HF_ERR_PG_TRANSIENT};
    fake_script(5, script);
    submit(l, &b1, false, 0);
    hf_wh_loader_outcome_t o = settle_reap(l);
    cr_assert_eq(o.result, HF_OK, "result %s: %s", hf_err_name(o.result), o.errstr);
    cr_assert_eq(o.retries, 5);
    cr_assert_eq(fk.calls, 6);
    hf_wh_loader_destroy(l);
    fflush(log);
    cr_assert_eq(count_lines(log, "msg=\"waiting for PostgreSQL\""), 1);
    cr_assert_eq(count_lines(log, "event=consume.retry"), 0, "retries are debug lines");
    cr_assert_eq(count_lines(log, "event=consume.pg_back"), 1);
    cr_assert_eq(count_lines(log, "attempts=6"), 1);
    hf_log_init(HF_LOG_OFF, stderr);
    fclose(log);
}
