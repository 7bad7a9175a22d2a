/*
 * hf_consumer_hooks — what the consume loop tells operations: the hooks
 * that hf_consumer.c and hf_consumer_flight.c call at their events (a
 * message taken, a batch handed over, committed or abandoned, a rebalance,
 * an error), the once-a-second snapshot of the owned partitions' lag and
 * of the connection states for ingest/hf_consumer_ops, librdkafka's
 * statistics (is a broker connection up?), and SIGHUP's reload of the
 * reloadable keys. Nothing here decides anything about the data.
 */
#include "hf_consumer_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hf_log.h"
#include "hf_mem.h"
#include "hf_time.h"
#include "hf_validate.h"

/* ==== librdkafka statistics ==== */

/* Called from rd_kafka_consumer_poll in the consume thread: a broker
 * connection (not the bootstrap placeholder) is UP. */
static int hf__stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    hf_consumer_t *c = opaque;
    bool up;
    if (!hf_consumer_stats_broker_up(json, len, &up))
        return 0;
    c->kafka_stats_seen = true;
    c->kafka_up = up;
    /* Every broker down after the group was reached: librdkafka 2.12 reports
     * that only as connection failures (never "all brokers down"), so the
     * statistics say it (once per outage; a message arriving clears it). */
    if (!up && c->ever_assigned && !c->broker_down_logged) {
        hf_log_warn("consume.waiting", "msg=\"waiting for the Kafka broker\" err=\"no broker "
                                       "connection is up\"");
        c->broker_down_logged = true;
        hf__hook_error(c, "kafka_transport", 1);
    }
    return 0; /* librdkafka frees json */
}

hf_err_t hf__hook_kafka_conf(hf_consumer_t *c, rd_kafka_conf_t *kc)
{
    char err[256];
    if (rd_kafka_conf_set(kc, "statistics.interval.ms", "1000", err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
        hf_log_error("consume.config", "key=kafka.statistics.interval.ms err=\"%s\"", err);
        return HF_ERR_CONFIG;
    }
    rd_kafka_conf_set_stats_cb(kc, hf__stats_cb);
    (void)c;
    return HF_OK;
}

/* ==== batch events ==== */

void hf__hook_take(hf_consumer_t *c, hf__part_t *p, const rd_kafka_message_t *m)
{
    (void)c;
    if (p->batch_first_ts)
        return;
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    p->batch_first_ts = ts > 0 ? ts : hf_time_wall_us() / 1000;
}

void hf__hook_dup(hf_consumer_t *c, hf__lane_t *l, const hf_event_type_t *et)
{
    (void)c;
    l->batch_dups++;
    et = et ? hf_event_type_find(et->name) : NULL; /* the entry of hf_event_types */
    if (!et)
        return;
    size_t ti = (size_t)(et - hf_event_types);
    if (ti < HF_WH_MAX_TABLES)
        l->batch_dups_type[ti]++;
}

void hf__hook_submitted(hf_consumer_t *c, hf__lane_t *l)
{
    l->flight_dups = l->batch_dups;
    memcpy(l->flight_dups_type, l->batch_dups_type, sizeof(l->flight_dups_type));
    for (size_t i = 0; i < c->nparts; i++) {
        hf__part_t *p = &c->parts[i];
        if (p->in_batch && p->lane == l->idx)
            p->flight_first_ts = p->batch_first_ts;
    }
}

void hf__hook_batch_reset(hf_consumer_t *c, hf__lane_t *l)
{
    l->batch_dups = 0;
    memset(l->batch_dups_type, 0, sizeof(l->batch_dups_type));
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].lane == l->idx)
            c->parts[i].batch_first_ts = 0;
}

size_t hf__hook_committed(hf_consumer_t *c, hf__lane_t *l, const hf_wh_loader_outcome_t *o,
                          size_t msgs)
{
    const hf_wh_stats_t *st = &o->stats;
    size_t dups = st->duplicates + l->flight_dups;
    if (msgs != st->inserted + dups + st->quarantined)
        hf_log_warn("consume.count_mismatch", "messages=%zu inserted=%zu duplicates=%zu "
                    "quarantined=%zu msg=\"a batch's counts do not add up\"", msgs, st->inserted,
                    dups, st->quarantined);
    if (c->ops) {
        hf_consumer_ops_batch_t b = {.messages = msgs, .st = st, .commit_us = o->commit_us,
                                     .build_us = o->started_us - l->flight_started_ms * 1000};
        memcpy(b.batch_dups, l->flight_dups_type, sizeof(b.batch_dups));
        hf_consumer_ops_batch(c->ops, &b);
        hf_consumer_ops_pg(c->ops, true);
    }
    int64_t now = hf_time_mono_ms();
    for (size_t i = 0; i < c->nparts; i++) {
        hf__part_t *p = &c->parts[i];
        if (p->in_flight && p->lane == l->idx) {
            p->flight_first_ts = 0;
            p->progress_ms = now;
        }
    }
    l->flight_dups = 0;
    memset(l->flight_dups_type, 0, sizeof(l->flight_dups_type));
    return dups;
}

void hf__hook_abandoned(hf_consumer_t *c, hf__lane_t *l, size_t flight_msgs)
{
    c->stats.abandoned += l->batch_msgs + flight_msgs;
    if (c->ops && l->batch_msgs + flight_msgs)
        hf_consumer_ops_abandoned(c->ops, l->batch_msgs + flight_msgs);
    l->flight_dups = 0;
    memset(l->flight_dups_type, 0, sizeof(l->flight_dups_type));
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].lane == l->idx)
            c->parts[i].flight_first_ts = 0;
}

void hf__hook_error(hf_consumer_t *c, const char *cls, double n)
{
    if (c->ops && n > 0)
        hf_consumer_ops_error(c->ops, cls, n);
}

void hf__hook_gap(hf_consumer_t *c, int64_t messages)
{
    if (c->ops)
        hf_consumer_ops_gap(c->ops, messages);
}

void hf__hook_rebalance(hf_consumer_t *c, bool assign)
{
    if (!c->ops)
        return;
    hf_consumer_ops_rebalance(c->ops, assign);
    c->tick_ms = 0; /* a fresh snapshot at the next round */
}

void hf__hook_pg(hf_consumer_t *c, bool up)
{
    if (c->ops)
        hf_consumer_ops_pg(c->ops, up);
}

/* ==== the snapshot ==== */

static void hf__snapshot(hf_consumer_t *c, int64_t now)
{
    int64_t wall_ms = hf_time_wall_us() / 1000;
    hf_consumer_ops_part_t *v = hf_calloc(c->nparts + 1, sizeof(*v));
    for (size_t i = 0; i < c->nparts; i++) {
        hf__part_t *p = &c->parts[i];
        int64_t lo = -1, hi = -1;
        if (rd_kafka_get_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            lo = hi = -1;
        /* nothing stored yet: the consumer starts at the low watermark */
        int64_t from = p->committed >= 0 ? p->committed : lo >= 0 ? lo : 0;
        double lag_s = 0;
        if (hi >= 0 && hi <= from) {
            p->caught_up_wall_ms = wall_ms;
            p->progress_ms = now;
        } else if (hi >= 0) {
            int64_t first = p->in_flight ? p->flight_first_ts
                          : p->in_batch  ? p->batch_first_ts
                                         : 0;
            int64_t since = first > 0 ? first : p->caught_up_wall_ms;
            lag_s = since > 0 && wall_ms > since ? (double)(wall_ms - since) / 1000 : 0;
        }
        v[i] = (hf_consumer_ops_part_t){.topic = p->topic, .partition = p->partition,
                                        .committed = p->committed, .position = p->pos,
                                        .high_watermark = hi, .lag_seconds = lag_s,
                                        .progress_ms = p->progress_ms, .paused = c->paused};
    }
    hf_consumer_ops_partitions(c->ops, v, c->nparts, now);
    hf_free(v);
    /* PostgreSQL: a loader retrying means down; when it is idle the
     * connection is this thread's to look at. Up when every lane's is. */
    bool pg = true;
    for (size_t i = 0; i < c->nlanes; i++) {
        hf__lane_t *l = &c->lanes[i];
        pg = pg && (hf_wh_loader_busy(l->loader) ? !hf_wh_loader_retrying(l->loader)
                                                 : hf_wh_connected(l->wh));
    }
    hf_consumer_ops_pg(c->ops, pg);
    bool kafka = c->kafka_stats_seen ? c->kafka_up : !c->broker_down_logged && c->nparts > 0;
    hf_consumer_ops_kafka(c->ops, kafka);
}

void hf__hook_tick(hf_consumer_t *c, int64_t now_ms)
{
    if (!c->ops)
        return;
    if (now_ms - c->beat_ms >= 100) {
        hf_consumer_ops_loop(c->ops, now_ms);
        c->beat_ms = now_ms;
    }
    if (now_ms - c->tick_ms >= 1000) {
        hf__snapshot(c, now_ms);
        hf__window_judge(c, now_ms); /* the status column (hf_consumer_window.c) */
        c->tick_ms = now_ms;
    }
}

/* ==== SIGHUP ==== */

hf_err_t hf_consumer_apply_config(hf_consumer_t *c, const hf_config_t *cfg, char *errstr,
                                  size_t errstr_size)
{
    hf_validate_rules_t rules;
    if (hf_validate_rules_from_config(&rules, cfg, errstr, errstr_size) != HF_OK)
        return HF_ERR_CONFIG;
    hf_normalizer_t *norm = hf_normalizer_new(c->conf.cat, &rules);
    hf_normalizer_destroy(c->norm);
    c->norm = norm;
    c->max_rows = (size_t)hf_config_int(cfg, "consume.batch_max_rows");
    c->max_bytes = hf__batch_cap(cfg, c->memory_max, c->nlanes);
    c->max_ms = hf_config_int(cfg, "consume.batch_max_ms");
    c->deadline_ms = hf_config_int(cfg, "consume.shutdown_deadline_ms");
    c->conf.cfg = cfg;
    hf_log_info("consume.reconfigured", "batch_max_rows=%zu batch_max_bytes=%zu "
                "batch_max_ms=%" PRId64 " shutdown_deadline_ms=%" PRId64, c->max_rows,
                c->max_bytes, c->max_ms, c->deadline_ms);
    return HF_OK;
}

void hf__hook_reload(hf_consumer_t *c)
{
    if (!c->conf.reload || !*c->conf.reload)
        return;
    *c->conf.reload = 0;
    const hf_config_t *cfg = c->conf.reload_fn ? c->conf.reload_fn(c->conf.reload_opaque) : NULL;
    if (!cfg)
        return;
    char err[512];
    if (hf_consumer_apply_config(c, cfg, err, sizeof(err)) != HF_OK) {
        hf_log_error("config.reload_failed", "err=\"%s\" msg=\"keeping the running "
                     "configuration\"", err);
        return;
    }
    if (c->ops)
        hf_consumer_ops_configure(c->ops, cfg);
}
