/*
 * hf_consumer_flight — each lane's two batches: the one being built and the
 * one in flight in the lane's loader thread (load/hf_wh_loader). Submit
 * hands the built batch over with its offsets compare-and-set values; reap
 * and settle collect the outcome and account for it (offsets move, or both
 * of the lane's batches are abandoned, or the run ends); flow control holds
 * or pauses Kafka while a lane's built batch is full and its loader still
 * busy. The lanes and the two-batch scheme are described at the head of
 * hf_consumer.c.
 */
#include "hf_consumer_int.h"

#include <inttypes.h>
#include <stdio.h>

#include "hf_log.h"
#include "hf_time.h"

/* ==== batches ==== */

/* The batch being built is full: it waits for the loader with partitions
 * paused. The byte cap counts what the batch holds (COPY tuples, the raw
 * messages kept for quarantine, per-row bookkeeping: about three times the
 * message bytes), not only the messages, so that it bounds memory. */
bool hf__batch_full(const hf_consumer_t *c, const hf__lane_t *l)
{
    return l->batch_msgs >= c->max_rows || l->batch_bytes >= c->max_bytes ||
           hf_wh_batch_bytes(l->batch) >= c->max_bytes;
}

bool hf__all_eof(const hf_consumer_t *c)
{
    if (c->nparts == 0)
        return false;
    for (size_t i = 0; i < c->nparts; i++)
        if (!c->parts[i].eof)
            return false;
    return true;
}

/* The batch being built should be committed: full, old (batch_max_ms), or
 * caught up: commit now rather than wait out batch_max_ms, but not for
 * every trickle of messages at a steady rate. */
bool hf__batch_ready(const hf_consumer_t *c, const hf__lane_t *l, int64_t now)
{
    return l->batch_msgs &&
           (hf__batch_full(c, l) || now - l->batch_started_ms >= c->max_ms ||
            (hf__all_eof(c) && now - l->batch_started_ms >= c->max_ms / 10));
}

/* Empty lane l's batch being built. */
void hf__batch_reset(hf_consumer_t *c, hf__lane_t *l)
{
    hf_wh_batch_reset(l->batch);
    hf_hashset_clear(l->ids);
    hf__hook_batch_reset(c, l);
    l->batch_msgs = l->batch_bytes = 0;
    l->batch_started_ms = 0;
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].lane == l->idx)
            c->parts[i].in_batch = false;
}

/* Forget both of lane l's batches (the in-flight one must be reaped:
 * l->spare is back): its partitions' positions go back to what PostgreSQL
 * holds. The batch being built always continues the in-flight one, so it
 * is never kept without it. Other lanes are not touched. */
void hf__batch_abandon(hf_consumer_t *c, hf__lane_t *l, size_t flight_msgs, const char *why)
{
    if (l->batch_msgs + flight_msgs)
        hf_log_warn("consume.batch_abandoned", "messages=%zu lane=%u reason=\"%s\"",
                    l->batch_msgs + flight_msgs, l->idx, why);
    hf__hook_abandoned(c, l, flight_msgs);
    for (size_t i = 0; i < c->nparts; i++) {
        hf__part_t *p = &c->parts[i];
        if (p->lane == l->idx && (p->in_batch || p->in_flight)) {
            p->pos = p->committed;
            p->rewind = true;
            p->in_flight = false;
        }
    }
    hf_wh_batch_reset(l->spare);
    hf__batch_reset(c, l);
}

/* The offsets PostgreSQL now holds, committed to Kafka too, asynchronously
 * (advisory: for kafka-consumer-groups, Burrow, kcat; never read back). The
 * outcome arrives in hf__kafka_commit_cb; a failure is logged, never fatal. */
static void hf__kafka_commit_advisory(hf_consumer_t *c)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->nparts + 1);
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].committed >= 0)
            rd_kafka_topic_partition_list_add(l, c->parts[i].topic, c->parts[i].partition)
                ->offset = c->parts[i].committed;
    if (l->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, l, 1 /* async */);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
            hf_log_warn("consume.kafka_commit_failed", "err=\"%s\"", rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* ==== the in-flight batch ==== */

/* Hand lane l's batch being built to its loader; the spare batch becomes
 * the one being built. Only when nothing is in flight in the lane, so every
 * partition's compare-and-set value is its committed offset. once: a single
 * attempt (revoke); deadline_ms: stop retrying then (shutdown), 0 = none. */
void hf__flight_submit(hf_consumer_t *c, hf__lane_t *l, bool once, int64_t deadline_ms)
{
    char err[512];
    for (size_t i = 0; i < c->nparts; i++) {
        hf__part_t *p = &c->parts[i];
        if (!p->in_batch || p->lane != l->idx)
            continue;
        hf_err_t e = hf_wh_batch_set_offsets(l->batch, p->topic, p->partition, p->committed,
                                             p->pos, err, sizeof(err));
        if (e != HF_OK) {
            hf__fatal(c, e, "batch commit failed: %s", err);
            return;
        }
    }
    hf__window_note(c, l);
    hf_err_t e = hf_wh_loader_submit(l->loader, l->batch, once, deadline_ms);
    if (e != HF_OK) {
        hf__fatal(c, HF_ERR_INTERNAL, "batch commit failed: loader refused the batch: %s",
                  hf_err_name(e));
        return;
    }
    for (size_t i = 0; i < c->nparts; i++) {
        hf__part_t *p = &c->parts[i];
        if (p->in_batch && p->lane == l->idx) {
            p->in_flight = true;
            p->flight_end = p->pos;
        }
    }
    l->batch = l->spare; /* empty */
    l->spare = NULL;
    l->flight_msgs = l->batch_msgs;
    l->flight_started_ms = l->batch_started_ms;
    hf__hook_submitted(c, l);
    hf__batch_reset(c, l);
}

/* Lane l's in-flight commit succeeded: its offsets move, stats, log, Kafka
 * advisory commit. */
static void hf__flight_committed(hf_consumer_t *c, hf__lane_t *l,
                                 const hf_wh_loader_outcome_t *o, size_t msgs)
{
    const hf_wh_stats_t *st = &o->stats;
    /* messages = inserted + duplicates + quarantined: duplicates are those
     * dropped within the batch (hf__take) and those found in the warehouse */
    size_t dups = hf__hook_committed(c, l, o, msgs);
    c->stats.messages += msgs;
    c->stats.loaded += st->inserted;
    c->stats.duplicates += dups;
    c->stats.quarantined += st->quarantined;
    c->stats.batches++;
    hf_log_info("consume.batch_committed",
                "messages=%zu inserted=%zu duplicates=%zu quarantined=%zu "
                "partitions_created=%zu build_ms=%" PRId64 " commit_ms=%" PRId64 " lane=%u",
                msgs, st->inserted, dups, st->quarantined, st->partitions_created,
                o->started_us / 1000 - l->flight_started_ms, o->commit_us / 1000, l->idx);
    for (size_t i = 0; i < c->nparts; i++) {
        hf__part_t *p = &c->parts[i];
        if (p->in_flight && p->lane == l->idx) {
            p->committed = p->flight_end;
            p->in_flight = false;
        }
    }
    hf__window_committed(c, l);
    hf__kafka_commit_advisory(c);
}

/* Another instance moved the offsets: re-read the truth for every
 * partition of the lane (its loader is idle, its wh is ours) and start the
 * lane again from it. */
static void hf__flight_conflict(hf_consumer_t *c, hf__lane_t *l,
                                const hf_wh_loader_outcome_t *o, size_t msgs)
{
    char err[512];
    c->stats.conflicts++;
    hf__hook_error(c, "offset_conflict", 1);
    hf_log_warn("consume.conflict", "msg=\"offsets moved under us: another instance "
                "owns a partition; abandoning the batch\" lane=%u detail=\"%s\"", l->idx,
                o->errstr);
    for (size_t i = 0; i < c->nparts; i++) {
        if (c->parts[i].lane != l->idx)
            continue;
        hf_wh_tp_t tp = {.topic = c->parts[i].topic, .partition = c->parts[i].partition};
        if (hf_wh_offsets_get(l->wh, &tp, 1, err, sizeof(err)) == HF_OK)
            c->parts[i].committed = tp.next_offset;
    }
    hf__batch_abandon(c, l, msgs, "offset conflict");
    hf__pause_all(c, false);
    hf__rewind(c);
}

/* Account for a reaped outcome; the batch comes back as the spare.
 * Failure: both batches are abandoned (the one being built continues the
 * failed one); a conflict re-reads hf_offsets first; a permanent error is
 * fatal. revoking: inside the revoke callback, where any failure just
 * abandons. Returns HF_OK (committed, or a conflict handled), HF_ERR_TIMEOUT
 * (the loader gave up retrying), or the failure. */
static hf_err_t hf__flight_account(hf_consumer_t *c, hf__lane_t *l,
                                   const hf_wh_loader_outcome_t *o, bool revoking)
{
    size_t msgs = l->flight_msgs;
    l->flight_msgs = 0;
    c->stats.retries += o->retries;
    hf__hook_error(c, "pg_transient", (double)o->retries);
    l->spare = o->batch;
    hf_err_t e = o->result;
    if (e == HF_OK) {
        hf_wh_batch_reset(l->spare);
        hf__flight_committed(c, l, o, msgs);
        return HF_OK;
    }
    if (revoking) {
        hf__batch_abandon(c, l, msgs, "partitions revoked");
        return e;
    }
    if (e == HF_ERR_CONFLICT) {
        hf__flight_conflict(c, l, o, msgs);
        return HF_OK;
    }
    if (hf_err_retriable(e)) {
        /* The loader gave up retrying: shutdown deadline, or exit. */
        hf__batch_abandon(c, l, msgs, o->late ? "shutdown deadline passed while PostgreSQL "
                                                "was unavailable"
                                              : "PostgreSQL unavailable");
        hf__pause_all(c, false);
        hf__rewind(c);
        return HF_ERR_TIMEOUT;
    }
    hf_wh_batch_reset(l->spare);
    hf__fatal(c, e, "batch commit failed: %s", o->errstr);
    return e;
}

/* Collect and account for lane l's in-flight commit if it has finished,
 * without blocking; false when nothing finished. *e: hf__flight_account's
 * result. */
bool hf__flight_reap(hf_consumer_t *c, hf__lane_t *l, bool revoking, hf_err_t *e)
{
    hf_wh_loader_outcome_t o;
    if (!hf_wh_loader_reap(l->loader, &o))
        return false;
    *e = hf__flight_account(c, l, &o, revoking);
    return true;
}

/* Settle lane l's in-flight batch, if any, blocking: one more attempt at
 * most when once. */
void hf__flight_settle(hf_consumer_t *c, hf__lane_t *l, bool once, bool revoking)
{
    if (!hf_wh_loader_busy(l->loader))
        return;
    if (once)
        hf_wh_loader_limit(l->loader, true, 0);
    hf_err_t e;
    if (hf_wh_loader_settle(l->loader, 0) == HF_OK) /* no deadline: always */
        (void)hf__flight_reap(c, l, revoking, &e);
}

bool hf__flight_any(const hf_consumer_t *c)
{
    for (size_t i = 0; i < c->nlanes; i++)
        if (hf_wh_loader_busy(c->lanes[i].loader))
            return true;
    return false;
}

void hf__lanes_service(hf_consumer_t *c, int64_t now, bool eager)
{
    for (size_t i = 0; i < c->nlanes && !c->fatal; i++) {
        hf__lane_t *l = &c->lanes[i];
        hf_err_t e;
        (void)hf__flight_reap(c, l, false, &e); /* a permanent error sets c->fatal */
        if (!c->fatal && !hf_wh_loader_busy(l->loader) && l->batch_msgs &&
            (eager || hf__batch_ready(c, l, now)))
            hf__flight_submit(c, l, false, 0);
    }
}

/* Serve the group (heartbeats, rebalances) without taking messages until
 * every lane's in-flight batch is settled and reaped; messages that arrive
 * are dropped and their partition rewound later. A rebalance callback may
 * settle them meanwhile. */
void hf__flight_drain_serving(hf_consumer_t *c)
{
    for (;;) {
        hf_err_t e;
        for (size_t i = 0; i < c->nlanes; i++)
            (void)hf__flight_reap(c, &c->lanes[i], false, &e);
        if (!hf__flight_any(c))
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 10);
        if (m) {
            if (!m->err) {
                hf__part_t *p = hf__part_find(c, rd_kafka_topic_name(m->rkt), m->partition);
                if (p)
                    p->rewind = true;
            }
            rd_kafka_message_destroy(m);
        }
    }
}

/* How long this thread, a lane's batch full, waits for a healthy loader
 * without polling Kafka (the sequential loop blocked in the commit as
 * long), and in what slices: between them the other lanes' finished
 * commits are reaped and their batches submitted. */
#define HF__HOLD_WAIT_MS 1000
#define HF__HOLD_SLICE_MS 2

/* A lane whose batch being built is full while its loader is still busy,
 * or NULL. */
static hf__lane_t *hf__lane_held(hf_consumer_t *c)
{
    for (size_t i = 0; i < c->nlanes; i++) {
        hf__lane_t *l = &c->lanes[i];
        if (hf_wh_loader_busy(l->loader) && l->batch_msgs && hf__batch_full(c, l))
            return l;
    }
    return NULL;
}

/* A lane's batch being built is full while its loader is still busy. A
 * healthy commit ends soon: wait for it without polling, because pausing
 * drops the prefetched messages and refetching them after the rewind costs
 * far more than the wait (measured: ~0.7 s per batch). Meanwhile any other
 * lane whose loader is free gets its batch, full or not: nothing is being
 * added to it while this thread waits. Once a loader is retrying (or slow),
 * pause every owned partition and keep serving the group; resume (and
 * rewind what was dropped) when the batch has gone to the loader. */
void hf__flow_control(hf_consumer_t *c)
{
    hf__lane_t *held = hf__lane_held(c);
    if (held && !c->paused) {
        int64_t until = hf_time_mono_ms() + HF__HOLD_WAIT_MS;
        while (held && !c->fatal) {
            int64_t now = hf_time_mono_ms();
            if (now >= until)
                break;
            int64_t slice = now + HF__HOLD_SLICE_MS < until ? now + HF__HOLD_SLICE_MS : until;
            if (!hf_wh_loader_wait_healthy(held->loader, slice) &&
                hf_wh_loader_retrying(held->loader))
                break; /* PostgreSQL trouble: pause */
            hf__lanes_service(c, hf_time_mono_ms(), true);
            held = hf__lane_held(c);
        }
        if (c->fatal)
            return;
    }
    if (held && !c->paused) {
        hf__pause_all(c, true);
    } else if (!held && c->paused) {
        hf__pause_all(c, false);
        hf__rewind(c);
    }
}
