/*
 * hf_consumer — the consume loop: poll, decode, normalize, dedupe, batch,
 * hand the batch to the loader (load/hf_wh_loader), then advise Kafka.
 * This file holds partitions, messages, rebalancing and the poll loop; the
 * two batches and the handoff are in hf_consumer_flight.c, the shared state
 * in hf_consumer_int.h.
 *
 * State per owned partition (hf__part_t) tracks two offsets:
 *   committed  the next offset stored in hf_offsets (PostgreSQL's truth),
 *   pos        one past the last message taken into the current batch.
 * A batch covers [committed, pos) of each partition it touched; committing it
 * compare-and-sets committed -> pos in the same transaction as its rows.
 *
 * Two batches alternate so that building and committing overlap: while the
 * loader thread commits batch k (the in-flight batch), this thread polls
 * Kafka and builds batch k+1. Batch k covers [committed, flight_end) of its
 * partitions, batch k+1 [flight_end, pos); k+1 is handed to the loader only
 * after k committed, so its compare-and-set value is always the committed
 * offset. When k fails with a conflict both are stale and both are
 * abandoned.
 *
 * Lanes (consume.loaders): each lane is one loader thread with its own
 * PostgreSQL connection and its own two batches. At assignment every owned
 * partition is given to one lane (round robin), and each message goes to
 * its partition's lane, so the paragraph above holds per lane while the
 * lanes commit in parallel: PostgreSQL runs a COPY on one core per
 * connection. A failure abandons only its lane's batches. The lanes of one
 * instance meet in the warehouse exactly as two instances do.
 *
 * Transient failures (PostgreSQL down, serialization failure): the loader
 * retries the same batch with capped exponential backoff and reconnects;
 * this thread keeps polling Kafka (group membership stays alive) and
 * building the next batch; once that one is full it pauses every owned
 * partition until the loader catches up. Messages that arrive while paused
 * are dropped and their partition rewound afterwards.
 * A rebalance that revokes partitions waits for the in-flight commit (one
 * more attempt at most), then tries one commit of the batch being built, and
 * otherwise abandons what is left: nothing is stored for partitions no longer
 * owned, and the next owner starts from hf_offsets.
 */
#include "hf_consumer.h"
#include "hf_consumer_int.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

/* fetch.queue.backoff.ms, without which a bounded prefetch queue starves
 * the consumer, came with librdkafka 2.2; Debian 12 has 2.0.2. */
#if RD_KAFKA_VERSION < 0x020200ff
#error "librdkafka >= 2.2 required: deploy/librdkafka.sh builds the pinned one"
#endif

#include "hf_event_types.h"
#include "hf_hashset.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_normalize.h"
#include "hf_time.h"
#include "hf_warehouse.h"
#include "hf_wh_loader.h"

/* ==== small helpers ==== */

static bool hf__stopping(const hf_consumer_t *c)
{
    return c->conf.stop && *c->conf.stop;
}

/* A permanent error ends the run (the last one is reported, as before). */
void hf__fatal(hf_consumer_t *c, hf_err_t e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->fatal_msg, sizeof(c->fatal_msg), fmt, ap);
    va_end(ap);
    c->fatal_err = e && !hf_err_retriable(e) ? e : HF_ERR_INTERNAL;
    c->fatal = true;
    hf__hook_error(c, "fatal", 1);
}

hf__part_t *hf__part_find(hf_consumer_t *c, const char *topic, int32_t partition)
{
    hf__part_t *p = c->last_part;
    if (p && p->partition == partition && strcmp(p->topic, topic) == 0)
        return p;
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
            return c->last_part = &c->parts[i];
    return NULL;
}

static void hf__parts_clear(hf_consumer_t *c)
{
    c->last_part = NULL;
    for (size_t i = 0; i < c->nparts; i++)
        hf_free(c->parts[i].topic);
    c->nparts = 0;
}

static rd_kafka_topic_partition_list_t *hf__parts_list(const hf_consumer_t *c)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->nparts + 1);
    for (size_t i = 0; i < c->nparts; i++)
        rd_kafka_topic_partition_list_add(l, c->parts[i].topic, c->parts[i].partition);
    return l;
}

void hf__pause_all(hf_consumer_t *c, bool pause)
{
    if (c->paused == pause || c->nparts == 0) {
        c->paused = pause;
        return;
    }
    rd_kafka_topic_partition_list_t *l = hf__parts_list(c);
    rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(c->rk, l)
                                  : rd_kafka_resume_partitions(c->rk, l);
    if (e)
        hf_log_warn("consume.pause", "pause=%d err=\"%s\"", pause, rd_kafka_err2str(e));
    else
        hf_log_info(pause ? "consume.paused" : "consume.resumed", "partitions=%zu", c->nparts);
    rd_kafka_topic_partition_list_destroy(l);
    c->paused = pause;
}

/* Seek partitions whose messages were dropped back to where the batch ends. */
void hf__rewind(hf_consumer_t *c)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < c->nparts; i++) {
        hf__part_t *p = &c->parts[i];
        if (!p->rewind)
            continue;
        int64_t to = p->pos >= 0 ? p->pos : p->committed >= 0 ? p->committed
                                                              : RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = to;
        p->rewind = false;
        p->eof = false;
    }
    if (l->cnt > 0) {
        rd_kafka_error_t *err = rd_kafka_seek_partitions(c->rk, l, 10000);
        if (err) {
            hf_log_warn("consume.rewind", "err=\"%s\"", rd_kafka_error_string(err));
            rd_kafka_error_destroy(err);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* ==== messages ==== */

static void hf__quarantine(hf__lane_t *l, const rd_kafka_message_t *m, const char *event_type,
                           const uint64_t *fp, const char *reason, const char *detail)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    hf_log_info("consume.quarantine", "topic=%s partition=%" PRId32 " offset=%" PRId64
                " reason=%s detail=\"%s\"", topic, m->partition, m->offset, reason, detail);
    hf_wh_quarantine_t q = {.topic = topic, .partition = m->partition, .offset = m->offset,
                            .event_type = event_type, .has_fingerprint = fp != NULL,
                            .fingerprint = fp ? *fp : 0, .reason_code = reason, .detail = detail,
                            .raw = m->payload, .raw_len = m->len};
    char err[256];
    if (hf_wh_batch_add_quarantine(l->batch, &q, err, sizeof(err)) != HF_OK)
        hf_log_error("consume.quarantine_failed", "topic=%s partition=%" PRId32 " offset=%" PRId64
                     " err=\"%s\"", topic, m->partition, m->offset, err);
}

/* A message beyond the next expected offset. Our producers write contiguous
 * offsets, so a gap means librdkafka skipped messages (librdkafka < 2.1 can
 * after pause/resume) or Kafka no longer has them (retention, compaction).
 * Rewind to the expected offset; after three rewinds that did not bring it,
 * ask the broker for the partition's log start offset: only what lies below
 * it is accepted as lost (logged as an error, counted in gaps); anything
 * Kafka still has is rewound to again, however often it takes. */
static bool hf__gap_accepted(hf_consumer_t *c, hf__part_t *p, int64_t offset)
{
    if (p->gap_at != p->pos) {
        p->gap_at = p->pos;
        p->gap_tries = 0;
    }
    if (++p->gap_tries > 3) {
        p->gap_tries = 0;
        int64_t lo = -1, hi = -1;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi, 5000);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && lo > p->pos) {
            int64_t upto = lo < offset ? lo : offset;
            hf_log_error("consume.gap", "topic=%s partition=%" PRId32 " first_missing=%" PRId64
                         " next_available=%" PRId64 " msg=\"messages no longer in Kafka "
                         "(retention or compaction): they cannot be loaded\"", p->topic,
                         p->partition, p->pos, upto);
            c->stats.gaps += (uint64_t)(upto - p->pos);
            hf__hook_gap(c, upto - p->pos);
            p->pos = upto;
            p->gap_at = -1;
            if (upto == offset)
                return true;
            /* Kafka still has [log start, offset): fetch it from the start */
        } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            hf_log_warn("consume.gap", "topic=%s partition=%" PRId32 " expected_offset=%" PRId64
                        " msg=\"cannot read the log start offset: rewinding again\" err=\"%s\"",
                        p->topic, p->partition, p->pos, rd_kafka_err2str(e));
        } else {
            hf_log_warn("consume.gap", "topic=%s partition=%" PRId32 " expected_offset=%" PRId64
                        " log_start=%" PRId64 " msg=\"still in Kafka: rewinding again\"",
                        p->topic, p->partition, p->pos, lo);
        }
    } else {
        hf_log_warn("consume.gap", "topic=%s partition=%" PRId32 " expected_offset=%" PRId64
                    " got_offset=%" PRId64 " msg=\"rewinding\"", p->topic, p->partition, p->pos,
                    offset);
    }
    p->rewind = true;
    c->need_rewind = true;
    return false;
}

static void hf__take(hf_consumer_t *c, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    hf__part_t *p = hf__part_find(c, topic, m->partition);
    if (!p)
        return; /* not ours (any more) */
    if (c->paused) {
        p->rewind = true; /* arrived while waiting for PostgreSQL: take it later */
        return;
    }
    if (p->pos >= 0 && m->offset < p->pos)
        return; /* already taken (a seek replayed it) */
    if (p->pos >= 0 && m->offset > p->pos && !hf__gap_accepted(c, p, m->offset))
        return; /* rewound to p->pos: the skipped messages come again */
    hf__lane_t *l = hf__lane_of(c, p);
    if (l->batch_msgs == 0)
        l->batch_started_ms = hf_time_mono_ms();
    hf__hook_take(c, p, m);
    p->pos = m->offset + 1;
    p->in_batch = true;
    p->eof = false;
    l->batch_msgs++;
    l->batch_bytes += m->len;

    char err[256];
    hf_decoded_t d;
    hf_err_t e = hf_decoder_decode(c->dec, m->payload, m->len, c->max_msg_bytes, &d, err,
                                   sizeof(err));
    if (e) {
        hf__quarantine(l, m, NULL, d.has_fingerprint ? &d.fingerprint : NULL,
                       d.reason ? d.reason : HF_DR_DECODE, err);
        return;
    }
    hf_norm_t n;
    if (hf_normalize(c->norm, &d, hf_time_wall_us(), &n) != HF_OK ||
        hf_normalize_key(c->norm, &d, m->key, m->key_len, &n) != HF_OK) {
        hf__quarantine(l, m, d.event_type->name, &d.fingerprint, n.reason, n.detail);
        return;
    }
    if (!hf_hashset_insert(l->ids, n.event_id)) {
        hf__hook_dup(c, l, d.event_type); /* counted when the batch commits */
        return; /* the same event twice in one batch: keep the first */
    }
    e = hf_wh_batch_add_event(l->batch, &d, &n, topic, m->partition, m->offset, m->payload,
                              m->len, err, sizeof(err));
    if (e)
        hf__fatal(c, e, "event does not fit its table (run `hemoflow migrate`?): %s", err);
}

/* ==== rebalancing ==== */

static void hf__on_assign(hf_consumer_t *c, rd_kafka_topic_partition_list_t *l)
{
    char err[512];
    int64_t backoff = 100;
    /* A lane's wh is its loader's while a commit is in flight (normally none
     * is: the revocation before this assignment settled it). */
    for (size_t k = 0; k < c->nlanes; k++)
        hf__flight_settle(c, &c->lanes[k], false, false);
    hf_wh_t *wh = c->lanes[0].wh;
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        hf_wh_tp_t q = {.topic = tp->topic, .partition = tp->partition, .next_offset = -1};
        hf_err_t e;
        while ((e = hf_wh_offsets_get(wh, &q, 1, err, sizeof(err))) &&
               hf_err_retriable(e) && !hf__stopping(c)) {
            hf_log_warn("consume.waiting", "msg=\"waiting for PostgreSQL to read stored offsets\" "
                        "topic=%s partition=%" PRId32 " err=\"%s\"", tp->topic, tp->partition, err);
            hf__hook_pg(c, false);
            struct timespec ts = {backoff / 1000, (backoff % 1000) * 1000000};
            nanosleep(&ts, NULL);
            backoff = backoff * 2 > c->backoff_max_ms ? c->backoff_max_ms : backoff * 2;
            if (hf_wh_reconnect(wh, err, sizeof(err)) != HF_OK)
                hf_log_debug("consume.reconnect", "err=\"%s\"", err);
        }
        if (e) {
            /* Cannot know where to start: take nothing from it. */
            hf_log_error("consume.assign", "topic=%s partition=%" PRId32 " err=\"%s\"", tp->topic,
                         tp->partition, err);
            tp->offset = RD_KAFKA_OFFSET_END;
            if (!hf_err_retriable(e))
                hf__fatal(c, e, "reading offsets: %s", err);
            continue;
        }
        hf__hook_pg(c, true);
        int64_t next = q.next_offset;
        tp->offset = next >= 0 ? next : RD_KAFKA_OFFSET_BEGINNING;
        if (c->nparts == c->capparts) {
            c->capparts = c->capparts ? c->capparts * 2 : 16;
            c->parts = hf_realloc(c->parts, c->capparts * sizeof(*c->parts));
            c->last_part = NULL;
        }
        unsigned lane = (unsigned)(c->nparts % c->nlanes);
        c->parts[c->nparts++] = (hf__part_t){.topic = hf_strdup(tp->topic),
                                             .partition = tp->partition,
                                             .committed = next, .pos = next,
                                             .gap_at = -1, .progress_ms = hf_time_mono_ms(),
                                             .caught_up_wall_ms = hf_time_wall_us() / 1000,
                                             .lane = lane};
        hf_log_info("consume.assigned", "topic=%s partition=%" PRId32 " start_offset=%" PRId64
                    " lane=%u", tp->topic, tp->partition, next, lane);
    }
    rd_kafka_assign(c->rk, l);
    c->ever_assigned = true;
    /* librdkafka keeps a partition's pause flag across revoke and
     * re-assignment (librdkafka issue #1849): a partition that flow control
     * paused before a rebalance and that comes back to this member would
     * never be fetched again. Every assignment starts resumed. */
    rd_kafka_resp_err_t re = rd_kafka_resume_partitions(c->rk, l);
    if (re)
        hf_log_warn("consume.pause", "pause=0 err=\"%s\"", rd_kafka_err2str(re));
    c->paused = false;
    hf__hook_rebalance(c, true);
}

static void hf__on_revoke(hf_consumer_t *c)
{
    /* Still the owner until we return: in each lane the in-flight commit
     * finishes (one more attempt at most when it is failing), then the
     * batch being built gets one try; whatever fails is abandoned. */
    for (size_t k = 0; k < c->nlanes; k++)
        hf__flight_settle(c, &c->lanes[k], true, true);
    for (size_t k = 0; k < c->nlanes && !c->fatal; k++)
        if (c->lanes[k].batch_msgs)
            hf__flight_submit(c, &c->lanes[k], true, 0);
    for (size_t k = 0; k < c->nlanes; k++)
        hf__flight_settle(c, &c->lanes[k], true, true);
    hf_log_info("consume.revoked", "partitions=%zu", c->nparts);
    hf__parts_clear(c);
    rd_kafka_assign(c->rk, NULL);
    c->paused = false;
    hf__hook_rebalance(c, false);
}

static void hf__rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *l, void *opaque)
{
    (void)rk;
    hf_consumer_t *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        hf__on_assign(c, l);
    else
        hf__on_revoke(c);
}

/* A Kafka error, from a consumed message or from the error callback. All
 * brokers down is waited out (logged once until a message arrives again); a
 * dropped connection alone is routine (librdkafka reconnects) and logged at
 * debug level. Before the first assignment a transport error is the same
 * wait: librdkafka >= 2.x reports an unreachable bootstrap broker only as
 * connection failures, never as "all brokers down". */
static void hf__kafka_error(hf_consumer_t *c, rd_kafka_resp_err_t err, const char *reason)
{
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
        (err == RD_KAFKA_RESP_ERR__TRANSPORT && !c->ever_assigned)) {
        if (!c->broker_down_logged)
            hf_log_warn("consume.waiting", "msg=\"waiting for the Kafka broker\" err=\"%s\"",
                        reason);
        c->broker_down_logged = true;
        hf__hook_error(c, "kafka_transport", 1);
    } else if (err == RD_KAFKA_RESP_ERR__TRANSPORT) {
        hf_log_debug("consume.kafka_transport", "err=\"%s\"", reason);
        hf__hook_error(c, "kafka_transport", 1);
    } else {
        hf_log_warn("consume.kafka_error", "err=\"%s\"", reason);
        hf__hook_error(c, "kafka", 1);
    }
}

/* librdkafka reports broker-level trouble (all brokers down, a lost
 * connection) through this callback, not as consumed messages. The main
 * queue is forwarded to the consumer queue, so it runs inside
 * rd_kafka_consumer_poll, on the poll loop's thread. */
static void hf__error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    hf__kafka_error(opaque, (rd_kafka_resp_err_t)err, reason);
}

/* ==== lifecycle ==== */

static hf_err_t hf__kafka_set(void *opaque, const char *name, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(opaque, name, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        hf_log_error("consume.config", "key=kafka.%s err=\"%s\"", name, err);
        return HF_ERR_CONFIG;
    }
    return HF_OK;
}

static hf_err_t hf__kafka_set_int(rd_kafka_conf_t *kc, const char *name, int64_t value)
{
    char v[32];
    snprintf(v, sizeof(v), "%" PRId64, value);
    return hf__kafka_set(kc, name, v);
}

/* consume.batch_max_bytes, capped so that every lane's two batches (one
 * built while the other commits) stay within their half of
 * consume.memory_max_bytes. The cap counts hf_wh_batch_bytes (COPY tuples +
 * raw messages + rows); a batch's resident footprint measured ~4x that (the
 * loader's send, probe and sort buffers, allocator slack), so with one lane
 * each gets a 16th, with L lanes a (16 L)th. Smaller batches cost
 * throughput on one connection: below ~6 k rows per-batch costs dominate
 * (docs/benchmarks.md). */
size_t hf__batch_cap(const hf_config_t *cfg, int64_t memory_max, size_t lanes)
{
    size_t cap = (size_t)hf_config_int(cfg, "consume.batch_max_bytes");
    size_t mem = (size_t)memory_max / 16 / lanes;
    return cap < mem ? cap : mem;
}

static int64_t hf__clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Budget (a quarter of consume.memory_max_bytes): a quarter of it is queued
 * message values (queued.max.messages.kbytes), a quarter the per-message
 * overhead the byte limit does not see (librdkafka's op per message, ~0.5
 * KiB with key and headers: queued.min.messages caps the count), a quarter
 * the fetch response that overshoots the queue, a quarter the responses
 * queued messages still pin (a message keeps its whole response buffer).
 * fetch.max.bytes counts compressed bytes and a response is decompressed
 * whole before the queue limits are looked at again: zstd on our Avro
 * events expands up to ~8x (measured: docs/benchmarks.md), so it is an
 * eighth of its quarter. max.partition.fetch.bytes only shapes a response:
 * the broker fills at most fetch.max.bytes whatever the partition count. */
void hf_consumer_prefetch_size(int64_t memory_max_bytes, hf_consumer_prefetch_t *out)
{
    int64_t quarter = memory_max_bytes / 4 / 4;
    out->queue_kbytes = hf__clamp(quarter / 1024, 64, INT32_MAX / 1024);
    out->queue_messages = hf__clamp(quarter / 512, 256, 10000000);
    /* a larger response than 64 MiB gains nothing */
    out->fetch_max_bytes = hf__clamp(quarter / 8, 32 * 1024, 64 * 1024 * 1024);
    out->partition_fetch_bytes = out->fetch_max_bytes / 4 < 1024 * 1024
                                     ? out->fetch_max_bytes / 4
                                     : 1024 * 1024;
    out->message_max_bytes = out->fetch_max_bytes < 1000000 ? out->fetch_max_bytes : 1000000;
    out->queue_backoff_ms = 10;
}

/* Open a warehouse connection, waiting for PostgreSQL (retrying with
 * backoff) unless the failure is permanent or the run is stopping. */
static hf_err_t hf__wh_open_wait(hf_consumer_t *c, hf_wh_t **wh, char *errstr,
                                 size_t errstr_size)
{
    int64_t backoff = 100;
    hf_err_t we;
    for (int attempt = 1;
         (we = hf_wh_open(c->conf.cfg, c->conf.cat, wh, errstr, errstr_size)) != HF_OK;
         attempt++) {
        if (!hf_err_retriable(we) || hf__stopping(c))
            return we;
        if (attempt == 1) /* once per outage; each retry at debug level */
            hf_log_warn("consume.waiting", "msg=\"waiting for PostgreSQL\" err=\"%s\"", errstr);
        else
            hf_log_debug("consume.retry", "attempt=%d err=\"%s\"", attempt, errstr);
        struct timespec ts = {backoff / 1000, (backoff % 1000) * 1000000};
        nanosleep(&ts, NULL);
        backoff = backoff * 2 > c->backoff_max_ms ? c->backoff_max_ms : backoff * 2;
    }
    return HF_OK;
}

hf_consumer_t *hf_consumer_new(const hf_consumer_conf_t *conf, char *errstr, size_t errstr_size)
{
    const hf_config_t *cfg = conf->cfg;
    hf_consumer_t *c = hf_calloc(1, sizeof(*c));
    c->conf = *conf;
    c->ops = conf->ops;
    hf__window_init(c);
    c->max_rows = (size_t)hf_config_int(cfg, "consume.batch_max_rows");
    c->max_ms = hf_config_int(cfg, "consume.batch_max_ms");
    c->max_msg_bytes = (size_t)hf_config_int(cfg, "consume.max_message_bytes");
    c->backoff_max_ms = hf_config_int(cfg, "consume.retry_backoff_max_ms");
    c->deadline_ms = hf_config_int(cfg, "consume.shutdown_deadline_ms");
    c->memory_max = hf_config_int(cfg, "consume.memory_max_bytes");
    c->nlanes = (size_t)hf_config_int(cfg, "consume.loaders");
    if (c->nlanes < 1 || c->nlanes > HF__MAX_LANES) {
        hf_err_set(HF_ERR_CONFIG, errstr, errstr_size, "consume.loaders must be 1..%d",
                   HF__MAX_LANES);
        c->nlanes = 0;
        hf_consumer_destroy(c);
        return NULL;
    }
    c->max_bytes = hf__batch_cap(cfg, c->memory_max, c->nlanes);
    for (size_t k = 0; k < c->nlanes; k++) {
        c->lanes[k].idx = (unsigned)k;
        c->lanes[k].ids = hf_hashset_new(16, c->max_rows); /* no growth within a batch */
    }

    hf_validate_rules_t rules;
    if (hf_validate_rules_from_config(&rules, cfg, errstr, errstr_size) != HF_OK) {
        hf_consumer_destroy(c);
        return NULL;
    }
    c->norm = hf_normalizer_new(conf->cat, &rules);
    c->dec = hf_decoder_new(conf->cat);
    for (size_t k = 0; k < c->nlanes; k++) {
        hf__lane_t *l = &c->lanes[k];
        if (hf__wh_open_wait(c, &l->wh, errstr, errstr_size) != HF_OK) {
            hf_consumer_destroy(c);
            return NULL;
        }
        hf_wh_seen_share(l->wh, (unsigned)c->nlanes); /* each lane sees 1/L of the keys */
        l->batch = hf_wh_batch_new(l->wh);
        l->spare = hf_wh_batch_new(l->wh);
        hf_wh_loader_conf_t lc = {.wh = l->wh, .backoff_max_ms = c->backoff_max_ms,
                                  .lane = l->idx};
        l->loader = hf_wh_loader_new(&lc, errstr, errstr_size);
        if (!l->loader) {
            hf_consumer_destroy(c);
            return NULL;
        }
    }
    hf__hook_pg(c, true);

    /* librdkafka's prefetch, within a quarter of consume.memory_max_bytes
     * whatever the partition count (hf_consumer_prefetch_size, measured in
     * docs/benchmarks.md). kafka.* keys override all of these. */
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    hf_consumer_prefetch_t pf;
    hf_consumer_prefetch_size(hf_config_int(cfg, "consume.memory_max_bytes"), &pf);
    hf_err_t e = HF_OK;
    e = e ? e : hf__kafka_set_int(kc, "queued.max.messages.kbytes", pf.queue_kbytes);
    e = e ? e : hf__kafka_set_int(kc, "queued.min.messages", pf.queue_messages);
    e = e ? e : hf__kafka_set_int(kc, "fetch.max.bytes", pf.fetch_max_bytes);
    e = e ? e : hf__kafka_set_int(kc, "max.partition.fetch.bytes", pf.partition_fetch_bytes);
    e = e ? e : hf__kafka_set_int(kc, "fetch.queue.backoff.ms", pf.queue_backoff_ms);
    e = e ? e : hf__kafka_set_int(kc, "message.max.bytes", pf.message_max_bytes);
    e = e ? e : hf__kafka_set(kc, "group.id", hf_config_str(cfg, "consume.group_id"));
    e = e ? e : hf__kafka_set(kc, "enable.auto.commit", "false");
    e = e ? e : hf__kafka_set(kc, "enable.auto.offset.store", "false");
    e = e ? e : hf__kafka_set(kc, "auto.offset.reset", "earliest");
    e = e ? e : hf__kafka_set(kc, "enable.partition.eof", "true");
    e = e ? e : hf__kafka_set(kc, "client.id", "hemoflow-consume");
    e = e ? e : hf__hook_kafka_conf(c, kc);
    e = e ? e : hf_config_each_kafka(cfg, hf__kafka_set, kc); /* user settings win */
    if (e) {
        rd_kafka_conf_destroy(kc);
        hf_err_set(HF_ERR_CONFIG, errstr, errstr_size, "invalid kafka.* setting (see log)");
        hf_consumer_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(kc, hf_log_rdkafka_cb);
    rd_kafka_conf_set_rebalance_cb(kc, hf__rebalance_cb);
    rd_kafka_conf_set_error_cb(kc, hf__error_cb);
    rd_kafka_conf_set_offset_commit_cb(kc, hf__kafka_commit_cb);
    rd_kafka_conf_set_opaque(kc, c);
    char kerr[256];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, kerr, sizeof(kerr));
    if (!c->rk) {
        rd_kafka_conf_destroy(kc);
        hf_err_set(HF_ERR_KAFKA, errstr, errstr_size, "creating the Kafka consumer: %s", kerr);
        hf_consumer_destroy(c);
        return NULL;
    }
    rd_kafka_poll_set_consumer(c->rk);

    /* Subscribe to every event type's topic. */
    const char *prefix = hf_config_str(cfg, "topic.prefix");
    rd_kafka_topic_partition_list_t *sub =
        rd_kafka_topic_partition_list_new((int)hf_event_types_count);
    for (size_t i = 0; i < hf_event_types_count; i++) {
        char topic[256];
        snprintf(topic, sizeof(topic), "%s%s", prefix, hf_event_types[i].snake);
        rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t ke = rd_kafka_subscribe(c->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (ke) {
        hf_err_set(HF_ERR_KAFKA, errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(ke));
        hf_consumer_destroy(c);
        return NULL;
    }
    return c;
}

/* ==== the loop ==== */

/* Stopping: in every lane in flight first, then the batch being built, all
 * within consume.shutdown_deadline_ms, serving the group meanwhile; a
 * failure of a lane's first abandons its second. */
static void hf__drain(hf_consumer_t *c)
{
    size_t msgs = 0;
    for (size_t k = 0; k < c->nlanes; k++)
        msgs += c->lanes[k].batch_msgs + c->lanes[k].flight_msgs;
    hf_log_info("consume.stopping", "msg=\"draining the in-flight batch\" messages=%zu", msgs);
    int64_t deadline = hf_time_mono_ms() + c->deadline_ms;
    for (size_t k = 0; k < c->nlanes; k++)
        hf_wh_loader_limit(c->lanes[k].loader, false, deadline); /* no-op when idle */
    hf__flight_drain_serving(c);
    for (size_t k = 0; k < c->nlanes && !c->fatal; k++)
        if (c->lanes[k].batch_msgs)
            hf__flight_submit(c, &c->lanes[k], false, deadline);
    hf__flight_drain_serving(c);
}

/* Poll no longer than a batch being built may wait, and briefly while a
 * commit is in flight, to notice it finishing soon. */
static int hf__poll_timeout(const hf_consumer_t *c, int64_t now)
{
    int timeout = 100;
    for (size_t k = 0; k < c->nlanes; k++) {
        const hf__lane_t *l = &c->lanes[k];
        if (l->batch_msgs) {
            int64_t left = l->batch_started_ms + c->max_ms - now;
            timeout = left < 0 ? 0 : left < timeout ? (int)left : timeout;
        }
    }
    if (hf__flight_any(c) && timeout > 10)
        timeout = 10;
    return timeout;
}

/* A partition's end, a Kafka error (the broker being down is waited out), or
 * a message to take. */
static void hf__on_message(hf_consumer_t *c, const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        hf__part_t *p = hf__part_find(c, rd_kafka_topic_name(m->rkt), m->partition);
        if (p && !p->rewind && (p->pos < 0 || m->offset >= p->pos))
            p->eof = true;
    } else if (m->err) {
        hf__kafka_error(c, m->err, rd_kafka_message_errstr(m));
    } else {
        c->broker_down_logged = false;
        c->last_msg_ms = hf_time_mono_ms();
        hf__take(c, m);
        if (c->need_rewind && !c->paused) {
            hf__rewind(c);
            c->need_rewind = false;
        }
    }
}

/* Caught up and quiet for idle_exit_ms, nothing left to commit. */
static bool hf__idle_done(const hf_consumer_t *c, int64_t now)
{
    if (c->conf.idle_exit_ms <= 0 || hf__flight_any(c))
        return false;
    for (size_t k = 0; k < c->nlanes; k++)
        if (c->lanes[k].batch_msgs)
            return false;
    return hf__all_eof(c) && now - c->last_msg_ms >= c->conf.idle_exit_ms;
}

hf_err_t hf_consumer_run(hf_consumer_t *c, char *errstr, size_t errstr_size)
{
    hf_log_info("consume.start", "group=%s batch_max_rows=%zu batch_max_ms=%" PRId64,
                hf_config_str(c->conf.cfg, "consume.group_id"), c->max_rows, c->max_ms);
    c->last_msg_ms = hf_time_mono_ms();
    c->broker_down_logged = false;
    if (c->ops)
        hf_consumer_ops_started(c->ops);
    while (!c->fatal) {
        if (hf__stopping(c)) {
            if (c->ops)
                hf_consumer_ops_stopped(c->ops);
            hf__drain(c);
            break;
        }
        hf__hook_reload(c);
        int timeout = hf__poll_timeout(c, hf_time_mono_ms());
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout);
        if (m) {
            hf__on_message(c, m);
            rd_kafka_message_destroy(m);
        }
        int64_t now = hf_time_mono_ms();
        hf__lanes_service(c, now, false); /* a permanent failure sets c->fatal */
        if (c->fatal)
            break;
        hf__flow_control(c);
        hf__hook_tick(c, now);
        if (hf__idle_done(c, now)) {
            hf_log_info("consume.idle", "msg=\"all partitions at their end; exiting\"");
            break;
        }
    }
    /* Nothing stays in flight once run returns (a fatal error elsewhere). */
    for (size_t k = 0; k < c->nlanes; k++)
        hf__flight_settle(c, &c->lanes[k], true, false);
    if (c->ops)
        hf_consumer_ops_stopped(c->ops);
    if (c->fatal)
        return hf_err_set(c->fatal_err, errstr, errstr_size, "%s", c->fatal_msg);
    return HF_OK;
}

void hf_consumer_stats(const hf_consumer_t *c, hf_consumer_stats_t *out)
{
    *out = c->stats;
}

void hf_consumer_destroy(hf_consumer_t *c)
{
    if (!c)
        return;
    if (c->rk) {
        rd_kafka_consumer_close(c->rk); /* revokes: the rebalance callback runs */
        rd_kafka_destroy(c->rk);
    }
    hf__window_free(c); /* after the revoke's last commit */
    for (size_t k = 0; k < c->nlanes; k++) {
        hf__lane_t *l = &c->lanes[k];
        hf_wh_loader_destroy(l->loader); /* destroys a batch still in it (none normally) */
        hf_wh_batch_destroy(l->batch);
        hf_wh_batch_destroy(l->spare);
        hf_wh_destroy(l->wh);
        hf_hashset_destroy(l->ids);
    }
    hf__parts_clear(c);
    hf_free(c->parts);
    hf_decoder_destroy(c->dec);
    hf_normalizer_destroy(c->norm);
    hf_free(c);
}
