/*
 * hf_consumer_ops — the consumer's metrics, readiness and status snapshot
 * behind hf_consumer_ops.h. Counters and histograms live in the metrics
 * registry; what /readyz and /status.json need besides (connection states,
 * the owned partitions, rate samples, newest event per province) is a
 * snapshot under this object's own mutex.
 */
#include "hf_consumer_ops.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "hf_event_types.h"
#include "hf_mem.h"
#include "hf_province.h"
#include "hf_time.h"

#define HF__RATE_SAMPLES 64 /* one per second at most: a minute of history */

typedef struct hf__part_snap_s {
    char *topic;
    hf_consumer_ops_part_t p;
} hf__part_snap_t;

struct hf_consumer_ops_s {
    hf_metrics_t *reg;
    /* metrics */
    hf_metric_t *messages, *abandoned, *rows, *dups, *quar, *batches, *rebalances, *errors,
        *gap_msgs, *batch_rows, *build_s, *commit_s, *copy_s, *latency, *lag_msgs, *lag_s, *hw,
        *committed, *assigned, *paused, *kafka_up, *pg_up, *ready, *last_commit,
        *newest_event, *build_info;
    /* snapshot, under mu */
    pthread_mutex_t mu;
    bool started, stopped, pg, kafka;
    int64_t loop_ms;            /* monotonic ms of the last loop round */
    int64_t stall_ms, silent_after_s;
    hf__part_snap_t *parts;
    size_t nparts, capparts;
    int64_t newest_us[HF_PROVINCE_COUNT];
    struct { int64_t ms; double rows; } rate[HF__RATE_SAMPLES];
    size_t nrate, rate_head;    /* ring: rate_head is the next slot */
    hf_consumer_ops_lag_status_fn lag_status;
    void *lag_status_opaque;
};

/* ==== lifecycle ==== */

static const double hf__dur_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,      2.5,   5,    10,    30,   60};
static const double hf__rows_bounds[] = {1,    10,   100,   500,   1000,  2000,
                                         5000, 10000, 20000, 50000, 100000};
#define HF__N(a) (sizeof(a) / sizeof((a)[0]))

hf_consumer_ops_t *hf_consumer_ops_new(hf_metrics_t *reg)
{
    hf_consumer_ops_t *o = hf_calloc(1, sizeof(*o));
    o->reg = reg;
    pthread_mutex_init(&o->mu, NULL);
    o->stall_ms = 120000;
    o->silent_after_s = 3600;
    o->messages = hf_metrics_counter(
        reg, "hemoflow_messages_consumed_total",
        "Kafka messages in committed batches (= rows loaded + duplicates dropped + records "
        "quarantined).", NULL);
    o->abandoned = hf_metrics_counter(
        reg, "hemoflow_messages_abandoned_total",
        "Messages taken into batches that were abandoned (offset conflict, revocation, "
        "shutdown deadline) and are read again.", NULL);
    o->rows = hf_metrics_counter(reg, "hemoflow_rows_loaded_total",
                                 "Fact rows inserted into the warehouse.", "event_type,province");
    o->dups = hf_metrics_counter(
        reg, "hemoflow_duplicates_dropped_total",
        "Events dropped as duplicates: stage=batch (twice in one batch) or stage=warehouse "
        "(already loaded).", "event_type,stage");
    o->quar = hf_metrics_counter(reg, "hemoflow_records_quarantined_total",
                                 "Records written to hf_quarantine, by event type (unknown when "
                                 "undecodable) and reason code.", "event_type,reason");
    o->batches = hf_metrics_counter(reg, "hemoflow_batches_committed_total",
                                    "Batches committed (PostgreSQL transactions).", NULL);
    o->rebalances = hf_metrics_counter(reg, "hemoflow_rebalances_total",
                                       "Consumer group rebalance events, by kind (assign, revoke).",
                                       "kind");
    o->errors = hf_metrics_counter(reg, "hemoflow_errors_total",
                                   "Errors by class (docs/operations.md).", "class");
    o->gap_msgs = hf_metrics_counter(reg, "hemoflow_gap_messages_total",
                                     "Messages Kafka no longer had when their turn came "
                                     "(retention, compaction): never loaded.", NULL);
    o->batch_rows = hf_metrics_histogram(reg, "hemoflow_batch_rows",
                                         "Messages per committed batch.", NULL, hf__rows_bounds,
                                         HF__N(hf__rows_bounds));
    o->build_s = hf_metrics_histogram(reg, "hemoflow_batch_build_duration_seconds",
                                      "From a batch's first message to its hand-over to the "
                                      "loader.", NULL, hf__dur_bounds, HF__N(hf__dur_bounds));
    o->commit_s = hf_metrics_histogram(reg, "hemoflow_commit_duration_seconds",
                                       "The successful commit attempt of a batch: partitions, "
                                       "COPY, quarantine, completeness, COMMIT.", NULL,
                                       hf__dur_bounds, HF__N(hf__dur_bounds));
    o->copy_s = hf_metrics_histogram(reg, "hemoflow_copy_duration_seconds",
                                     "Loading one fact table's rows of a batch (duplicate probe, "
                                     "binary COPY, slow path, bisection).", "event_type",
                                     hf__dur_bounds, HF__N(hf__dur_bounds));
    o->latency = hf_metrics_histogram(reg, "hemoflow_event_commit_latency_seconds",
                                      "From an event's occurred_at to the COMMIT that made its "
                                      "row visible.", NULL, hf_wh_latency_bounds,
                                      hf_wh_latency_nbounds);
    o->lag_msgs = hf_metrics_gauge(reg, "hemoflow_kafka_partition_lag_messages",
                                   "High watermark minus committed offset, per owned partition.",
                                   "topic,partition");
    o->lag_s = hf_metrics_gauge(reg, "hemoflow_kafka_partition_lag_seconds",
                                "Age of the first message not yet committed (0 when caught up), "
                                "per owned partition.", "topic,partition");
    o->hw = hf_metrics_gauge(reg, "hemoflow_kafka_partition_high_watermark_offset",
                             "High watermark of an owned partition (latest fetch response).",
                             "topic,partition");
    o->committed = hf_metrics_gauge(reg, "hemoflow_kafka_partition_committed_offset",
                                    "Next offset stored in hf_offsets for an owned partition.",
                                    "topic,partition");
    o->assigned = hf_metrics_gauge(reg, "hemoflow_kafka_partitions_assigned",
                                   "Partitions this instance owns.", NULL);
    o->paused = hf_metrics_gauge(reg, "hemoflow_kafka_partitions_paused",
                                 "Owned partitions paused while the loader is behind.", NULL);
    o->kafka_up = hf_metrics_gauge(reg, "hemoflow_kafka_connected",
                                   "1 while a Kafka broker connection is up.", NULL);
    o->pg_up = hf_metrics_gauge(reg, "hemoflow_pg_connected",
                                "1 while the PostgreSQL connection works.", NULL);
    o->ready = hf_metrics_gauge(reg, "hemoflow_ready", "1 while /readyz answers 200.", NULL);
    o->last_commit = hf_metrics_gauge(reg, "hemoflow_last_commit_timestamp_seconds",
                                      "Unix time of the last committed batch.", NULL);
    o->newest_event = hf_metrics_gauge(reg, "hemoflow_province_newest_event_timestamp_seconds",
                                       "Newest event time loaded by this process, per province.",
                                       "province");
    o->build_info = hf_metrics_gauge(reg, "hemoflow_build_info", "Always 1; the version label.",
                                     "version");
    hf_metric_set(o->build_info, HF_LV(HF_VERSION), 1);
    /* Series that should show before their first event. */
    hf_metric_add(o->rebalances, HF_LV("assign"), 0);
    hf_metric_add(o->rebalances, HF_LV("revoke"), 0);
    static const char *const classes[] = {"kafka", "kafka_transport", "pg_transient",
                                          "offset_conflict", "gap", "fatal"};
    for (size_t i = 0; i < HF__N(classes); i++)
        hf_metric_add(o->errors, HF_LV(classes[i]), 0);
    return o;
}

void hf_consumer_ops_destroy(hf_consumer_ops_t *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->nparts; i++)
        hf_free(o->parts[i].topic);
    hf_free(o->parts);
    pthread_mutex_destroy(&o->mu);
    hf_free(o);
}

void hf_consumer_ops_configure(hf_consumer_ops_t *o, const hf_config_t *cfg)
{
    pthread_mutex_lock(&o->mu);
    o->stall_ms = hf_config_int(cfg, "consume.stall_s") * 1000;
    o->silent_after_s = hf_config_int(cfg, "http.silent_province_s");
    pthread_mutex_unlock(&o->mu);
}

void hf_consumer_ops_set_lag_status(hf_consumer_ops_t *o, hf_consumer_ops_lag_status_fn fn,
                                    void *opaque)
{
    pthread_mutex_lock(&o->mu);
    o->lag_status = fn;
    o->lag_status_opaque = opaque;
    pthread_mutex_unlock(&o->mu);
}

/* ==== written by the consumer thread ==== */

void hf_consumer_ops_started(hf_consumer_ops_t *o)
{
    pthread_mutex_lock(&o->mu);
    o->started = true;
    o->loop_ms = hf_time_mono_ms();
    pthread_mutex_unlock(&o->mu);
}

void hf_consumer_ops_stopped(hf_consumer_ops_t *o)
{
    pthread_mutex_lock(&o->mu);
    o->stopped = true;
    pthread_mutex_unlock(&o->mu);
}

void hf_consumer_ops_pg(hf_consumer_ops_t *o, bool connected)
{
    pthread_mutex_lock(&o->mu);
    o->pg = connected;
    pthread_mutex_unlock(&o->mu);
    hf_metric_set(o->pg_up, NULL, connected);
}

void hf_consumer_ops_kafka(hf_consumer_ops_t *o, bool connected)
{
    pthread_mutex_lock(&o->mu);
    o->kafka = connected;
    pthread_mutex_unlock(&o->mu);
    hf_metric_set(o->kafka_up, NULL, connected);
}

void hf_consumer_ops_loop(hf_consumer_ops_t *o, int64_t now_ms)
{
    pthread_mutex_lock(&o->mu);
    o->loop_ms = now_ms;
    pthread_mutex_unlock(&o->mu);
}

static void hf__part_lv(const hf_consumer_ops_part_t *p, char *pbuf, size_t n)
{
    snprintf(pbuf, n, "%" PRId32, p->partition);
}

void hf_consumer_ops_partitions(hf_consumer_ops_t *o, const hf_consumer_ops_part_t *p, size_t n,
                                int64_t now_ms)
{
    char pb[16];
    hf_metrics_lock(o->reg);
    pthread_mutex_lock(&o->mu);
    /* gauges of partitions no longer owned go away */
    for (size_t i = 0; i < o->nparts; i++) {
        bool still = false;
        for (size_t j = 0; j < n && !still; j++)
            still = p[j].partition == o->parts[i].p.partition &&
                    strcmp(p[j].topic, o->parts[i].topic) == 0;
        if (still)
            continue;
        hf__part_lv(&o->parts[i].p, pb, sizeof(pb));
        const char *const *lv = HF_LV(o->parts[i].topic, pb);
        hf_metric_remove(o->lag_msgs, lv);
        hf_metric_remove(o->lag_s, lv);
        hf_metric_remove(o->hw, lv);
        hf_metric_remove(o->committed, lv);
    }
    for (size_t i = 0; i < o->nparts; i++)
        hf_free(o->parts[i].topic);
    if (n > o->capparts) {
        o->capparts = n;
        o->parts = hf_realloc(o->parts, n * sizeof(*o->parts));
    }
    size_t npaused = 0;
    for (size_t i = 0; i < n; i++) {
        o->parts[i].topic = hf_strdup(p[i].topic);
        o->parts[i].p = p[i];
        o->parts[i].p.topic = o->parts[i].topic;
        npaused += p[i].paused;
        hf__part_lv(&p[i], pb, sizeof(pb));
        const char *const *lv = HF_LV(p[i].topic, pb);
        int64_t lag = p[i].high_watermark >= 0
                          ? p[i].high_watermark - (p[i].committed >= 0 ? p[i].committed : 0)
                          : 0;
        hf_metric_set(o->lag_msgs, lv, (double)(lag > 0 ? lag : 0));
        hf_metric_set(o->lag_s, lv, p[i].lag_seconds);
        hf_metric_set(o->hw, lv, (double)p[i].high_watermark);
        hf_metric_set(o->committed, lv, (double)p[i].committed);
    }
    o->nparts = n;
    hf_metric_set(o->assigned, NULL, (double)n);
    hf_metric_set(o->paused, NULL, (double)npaused);
    /* a rate sample */
    if (!o->nrate || now_ms - o->rate[(o->rate_head + HF__RATE_SAMPLES - 1) %
                                      HF__RATE_SAMPLES].ms >= 1000) {
        o->rate[o->rate_head].ms = now_ms;
        o->rate[o->rate_head].rows = hf_metric_sum(o->rows);
        o->rate_head = (o->rate_head + 1) % HF__RATE_SAMPLES;
        if (o->nrate < HF__RATE_SAMPLES)
            o->nrate++;
    }
    pthread_mutex_unlock(&o->mu);
    hf_metrics_unlock(o->reg);
}

void hf_consumer_ops_batch(hf_consumer_ops_t *o, const hf_consumer_ops_batch_t *b)
{
    const hf_wh_stats_t *st = b->st;
    hf_metrics_lock(o->reg); /* one batch's counts appear together */
    hf_metric_add(o->messages, NULL, (double)b->messages);
    hf_metric_add(o->batches, NULL, 1);
    for (size_t ti = 0; ti < hf_event_types_count && ti < HF_WH_MAX_TABLES; ti++) {
        const char *et = hf_event_types[ti].name;
        for (size_t pi = 0; pi < HF_PROVINCE_COUNT; pi++)
            if (st->inserted_by_province[ti][pi])
                hf_metric_add(o->rows, HF_LV(et, hf_provinces[pi].code),
                              st->inserted_by_province[ti][pi]);
        if (b->batch_dups[ti])
            hf_metric_add(o->dups, HF_LV(et, "batch"), (double)b->batch_dups[ti]);
        if (st->table[ti].duplicates)
            hf_metric_add(o->dups, HF_LV(et, "warehouse"), (double)st->table[ti].duplicates);
        if (st->table[ti].rows)
            hf_metric_observe(o->copy_s, HF_LV(et), (double)st->table[ti].load_us / 1e6);
    }
    for (size_t i = 0; i < st->nqtally; i++) {
        int ei = st->qtally[i].event_type;
        hf_metric_add(o->quar,
                      HF_LV(ei >= 0 ? hf_event_types[ei].name : "unknown", st->qtally[i].reason),
                      (double)st->qtally[i].n);
    }
    hf_metric_observe(o->batch_rows, NULL, (double)b->messages);
    hf_metric_observe(o->build_s, NULL, (double)b->build_us / 1e6);
    hf_metric_observe(o->commit_s, NULL, (double)b->commit_us / 1e6);
    hf_metric_merge(o->latency, NULL, &st->latency);
    hf_metric_set(o->last_commit, NULL, (double)hf_time_wall_us() / 1e6);
    pthread_mutex_lock(&o->mu);
    for (size_t pi = 0; pi < HF_PROVINCE_COUNT; pi++) {
        if (st->newest_event_us[pi] > o->newest_us[pi]) {
            o->newest_us[pi] = st->newest_event_us[pi];
            hf_metric_set(o->newest_event, HF_LV(hf_provinces[pi].code),
                          (double)o->newest_us[pi] / 1e6);
        }
    }
    pthread_mutex_unlock(&o->mu);
    hf_metrics_unlock(o->reg);
}

void hf_consumer_ops_abandoned(hf_consumer_ops_t *o, size_t messages)
{
    hf_metric_add(o->abandoned, NULL, (double)messages);
}

void hf_consumer_ops_rebalance(hf_consumer_ops_t *o, bool assign)
{
    hf_metric_add(o->rebalances, HF_LV(assign ? "assign" : "revoke"), 1);
}

void hf_consumer_ops_error(hf_consumer_ops_t *o, const char *cls, double n)
{
    hf_metric_add(o->errors, HF_LV(cls), n);
}

void hf_consumer_ops_gap(hf_consumer_ops_t *o, int64_t messages)
{
    hf_metrics_lock(o->reg);
    hf_metric_add(o->errors, HF_LV("gap"), 1);
    hf_metric_add(o->gap_msgs, NULL, (double)messages);
    hf_metrics_unlock(o->reg);
}

/* ==== read by any thread ==== */

/* Under mu. */
static bool hf__ready_locked(hf_consumer_ops_t *o, int64_t now, char *reason, size_t n)
{
    if (!o->started) {
        snprintf(reason, n, "starting: connecting to PostgreSQL and Kafka");
        return false;
    }
    if (o->stopped) {
        snprintf(reason, n, "stopping");
        return false;
    }
    if (!o->pg) {
        snprintf(reason, n, "PostgreSQL not connected");
        return false;
    }
    if (!o->kafka) {
        snprintf(reason, n, "Kafka not connected");
        return false;
    }
    if (!o->nparts) {
        snprintf(reason, n, "no partitions assigned");
        return false;
    }
    if (now - o->loop_ms > 30000) {
        snprintf(reason, n, "stalled: the consume loop has not run for %" PRId64 " s",
                 (now - o->loop_ms) / 1000);
        return false;
    }
    for (size_t i = 0; i < o->nparts; i++) {
        const hf_consumer_ops_part_t *p = &o->parts[i].p;
        int64_t lag = p->high_watermark - (p->committed >= 0 ? p->committed : 0);
        if (p->high_watermark >= 0 && lag > 0 && now - p->progress_ms > o->stall_ms) {
            snprintf(reason, n,
                     "stalled: %s [%" PRId32 "] has %" PRId64 " messages of lag and no commit "
                     "for %" PRId64 " s",
                     p->topic, p->partition, lag, (now - p->progress_ms) / 1000);
            return false;
        }
    }
    snprintf(reason, n, "ready");
    return true;
}

bool hf_consumer_ops_ready(hf_consumer_ops_t *o, char *reason, size_t reason_size)
{
    pthread_mutex_lock(&o->mu);
    bool ok = hf__ready_locked(o, hf_time_mono_ms(), reason, reason_size);
    pthread_mutex_unlock(&o->mu);
    hf_metric_set(o->ready, NULL, ok);
    return ok;
}

/* Rows per second over the last `secs` seconds of samples (under mu);
 * includes the current total. */
static double hf__rate_locked(hf_consumer_ops_t *o, int64_t now, double rows_now, int secs)
{
    if (!o->nrate)
        return 0;
    size_t pick = (o->rate_head + HF__RATE_SAMPLES - o->nrate) % HF__RATE_SAMPLES; /* oldest */
    for (size_t k = 0; k < o->nrate; k++) {
        size_t i = (o->rate_head + HF__RATE_SAMPLES - o->nrate + k) % HF__RATE_SAMPLES;
        if (now - o->rate[i].ms <= (int64_t)secs * 1000) {
            pick = i;
            break;
        }
    }
    double dt = (double)(now - o->rate[pick].ms) / 1000;
    return dt >= 0.5 ? (rows_now - o->rate[pick].rows) / dt : 0;
}

typedef struct hf__qsum_s {
    json_t *by_reason; /* reason -> count */
} hf__qsum_t;

static void hf__qvisit(void *opaque, const char *const *lv, double value)
{
    hf__qsum_t *q = opaque;
    json_t *cur = json_object_get(q->by_reason, lv[1]);
    double v = value + (cur ? json_number_value(cur) : 0);
    json_object_set_new(q->by_reason, lv[1], json_integer((json_int_t)v));
}

void hf_consumer_ops_status_json(hf_consumer_ops_t *o, hf_buf_t *out)
{
    json_t *j = json_object();
    int64_t now = hf_time_mono_ms();
    double wall = (double)hf_time_wall_us() / 1e6;
    char reason[256];
    hf_metrics_lock(o->reg);
    double rows_total = hf_metric_sum(o->rows);
    json_t *totals = json_object();
    json_object_set_new(totals, "messages", json_integer((json_int_t)hf_metric_sum(o->messages)));
    json_object_set_new(totals, "rows_loaded", json_integer((json_int_t)rows_total));
    json_object_set_new(totals, "duplicates", json_integer((json_int_t)hf_metric_sum(o->dups)));
    json_object_set_new(totals, "quarantined", json_integer((json_int_t)hf_metric_sum(o->quar)));
    json_object_set_new(totals, "batches", json_integer((json_int_t)hf_metric_sum(o->batches)));
    json_object_set_new(totals, "abandoned",
                        json_integer((json_int_t)hf_metric_sum(o->abandoned)));
    hf__qsum_t qs = {json_object()};
    hf_metric_each(o->quar, hf__qvisit, &qs);
    pthread_mutex_lock(&o->mu);
    bool ok = hf__ready_locked(o, now, reason, sizeof(reason));
    json_object_set_new(j, "version", json_string(HF_VERSION));
    json_object_set_new(j, "now", json_real(wall));
    json_object_set_new(j, "ready", json_boolean(ok));
    json_object_set_new(j, "reason", json_string(reason));
    json_object_set_new(j, "kafka_connected", json_boolean(o->kafka));
    json_object_set_new(j, "pg_connected", json_boolean(o->pg));
    json_object_set_new(j, "totals", totals);
    json_t *rate = json_object();
    json_object_set_new(rate, "last_10s", json_real(hf__rate_locked(o, now, rows_total, 10)));
    json_object_set_new(rate, "last_60s", json_real(hf__rate_locked(o, now, rows_total, 60)));
    json_object_set_new(j, "rows_per_second", rate);
    json_t *parts = json_array();
    for (size_t i = 0; i < o->nparts; i++) {
        const hf_consumer_ops_part_t *p = &o->parts[i].p;
        json_t *e = json_object();
        int64_t lag = p->high_watermark >= 0
                          ? p->high_watermark - (p->committed >= 0 ? p->committed : 0)
                          : 0;
        json_object_set_new(e, "topic", json_string(p->topic));
        json_object_set_new(e, "partition", json_integer(p->partition));
        json_object_set_new(e, "committed", json_integer(p->committed));
        json_object_set_new(e, "position", json_integer(p->position));
        json_object_set_new(e, "high_watermark", json_integer(p->high_watermark));
        json_object_set_new(e, "lag_messages", json_integer(lag > 0 ? lag : 0));
        json_object_set_new(e, "lag_seconds", json_real(p->lag_seconds));
        json_object_set_new(e, "paused", json_boolean(p->paused));
        /* BURROW STATUS: filled by the lag evaluator (hf_consumer_ops_set_lag_status). */
        const char *status =
            o->lag_status ? o->lag_status(o->lag_status_opaque, p->topic, p->partition) : NULL;
        json_object_set_new(e, "status", status ? json_string(status) : json_null());
        json_array_append_new(parts, e);
    }
    json_object_set_new(j, "partitions", parts);
    json_t *quar = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(qs.by_reason, k, v)
    {
        json_t *e = json_object();
        json_object_set_new(e, "reason", json_string(k));
        json_object_set_new(e, "count", json_integer(json_integer_value(v)));
        json_array_append_new(quar, e);
    }
    json_decref(qs.by_reason);
    json_object_set_new(j, "quarantine", quar);
    json_t *provs = json_array();
    for (size_t pi = 0; pi < HF_PROVINCE_COUNT; pi++) {
        json_t *e = json_object();
        json_object_set_new(e, "code", json_string(hf_provinces[pi].code));
        json_object_set_new(e, "name", json_string(hf_provinces[pi].name));
        double newest = (double)o->newest_us[pi] / 1e6;
        json_object_set_new(e, "newest_event", o->newest_us[pi] ? json_real(newest) : json_null());
        json_object_set_new(e, "silent",
                            json_boolean(!o->newest_us[pi] || wall - newest > (double)o->silent_after_s));
        json_array_append_new(provs, e);
    }
    json_object_set_new(j, "provinces", provs);
    json_object_set_new(j, "silent_after_seconds", json_integer(o->silent_after_s));
    pthread_mutex_unlock(&o->mu);
    hf_metrics_unlock(o->reg);
    char *s = json_dumps(j, JSON_COMPACT);
    hf_buf_append_str(out, s ? s : "{}");
    hf_buf_append(out, "", 1);
    out->len--; /* a NUL follows the text */
    free(s);
    json_decref(j);
}
