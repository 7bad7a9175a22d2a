/*
 * hf_consumer_ops — what `hemoflow consume` shows operations: its metrics
 * (registered in an hf_metrics registry), its readiness, and the snapshot
 * behind the status page (per-partition lag, rows per second, quarantine
 * by reason, silent provinces). docs/operations.md lists every metric.
 *
 * It exists before the consumer does (the HTTP endpoint answers /healthz
 * and a 503 /readyz while the consumer still waits for PostgreSQL) and is
 * handed to it in hf_consumer_conf_t. The consumer thread writes (the
 * hf_consumer_ops_* "written by" functions below, called from
 * ingest/hf_consumer_hooks.c); any thread reads (the HTTP handlers).
 *
 * Counts add up: per committed batch, messages = rows inserted + duplicates
 * (dropped within the batch or found in the warehouse) + records
 * quarantined, and the batch's counters are updated together under the
 * registry lock, so every scrape sees
 *   hemoflow_messages_consumed_total = sum(hemoflow_rows_loaded_total)
 *     + sum(hemoflow_duplicates_dropped_total)
 *     + sum(hemoflow_records_quarantined_total).
 * Messages of batches that were abandoned (and are read again) count in
 * hemoflow_messages_abandoned_total only.
 *
 * Lag, as the running consumer sees it, per owned partition:
 *   messages  high watermark (librdkafka's latest fetch response) minus the
 *             committed offset (the next offset in hf_offsets, as the
 *             consumer holds it): messages not yet in the warehouse;
 *   seconds   0 when caught up; else now minus the Kafka timestamp of the
 *             first message not yet committed when the consumer holds it
 *             (it is in the batch being built or in flight), and otherwise
 *             the time since the partition was last caught up or assigned
 *             (a lower bound: that message has not been fetched yet).
 *
 * Thread-safe throughout.
 */
#ifndef HF_CONSUMER_OPS_H
#define HF_CONSUMER_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_buf.h"
#include "hf_config.h"
#include "hf_metrics.h"
#include "hf_warehouse.h"

typedef struct hf_consumer_ops_s hf_consumer_ops_t;

/* ==== lifecycle ==== */

/* Registers the consumer's metrics in reg (borrowed; must outlive it). */
hf_consumer_ops_t *hf_consumer_ops_new(hf_metrics_t *reg);
void hf_consumer_ops_destroy(hf_consumer_ops_t *o); /* NULL is a no-op */

/* Read consume.stall_s and status.silent_after_s (again on SIGHUP). */
void hf_consumer_ops_configure(hf_consumer_ops_t *o, const hf_config_t *cfg);

/* ==== written by the consumer thread ==== */

void hf_consumer_ops_started(hf_consumer_ops_t *o); /* the consume loop runs */
void hf_consumer_ops_stopped(hf_consumer_ops_t *o); /* it is draining or has ended */
void hf_consumer_ops_pg(hf_consumer_ops_t *o, bool connected);
void hf_consumer_ops_kafka(hf_consumer_ops_t *o, bool connected);
/* The loop went round (heartbeat for readiness). */
void hf_consumer_ops_loop(hf_consumer_ops_t *o, int64_t now_ms);

typedef struct hf_consumer_ops_part_s {
    const char *topic;       /* copied */
    int32_t partition;
    int64_t committed;       /* next offset in hf_offsets; -1 none stored */
    int64_t position;        /* next offset to take; -1 none */
    int64_t high_watermark;  /* -1 unknown yet */
    double lag_seconds;
    int64_t progress_ms;     /* monotonic ms its committed offset last moved, it was last
                                caught up, or it was assigned */
    bool paused;
} hf_consumer_ops_part_t;

/* The owned partitions now (replaces the previous set; gauges of
 * partitions no longer owned are removed). */
void hf_consumer_ops_partitions(hf_consumer_ops_t *o, const hf_consumer_ops_part_t *p, size_t n,
                                int64_t now_ms);

typedef struct hf_consumer_ops_batch_s {
    size_t messages;                          /* in the batch */
    size_t batch_dups[HF_WH_MAX_TABLES];      /* dropped within the batch, per event type */
    const hf_wh_stats_t *st;                  /* the commit's */
    int64_t build_us;                         /* first message to hand-over */
    int64_t commit_us;                        /* the successful attempt */
} hf_consumer_ops_batch_t;

void hf_consumer_ops_batch(hf_consumer_ops_t *o, const hf_consumer_ops_batch_t *b);
void hf_consumer_ops_abandoned(hf_consumer_ops_t *o, size_t messages);
void hf_consumer_ops_rebalance(hf_consumer_ops_t *o, bool assign);
/* An error of class cls (a fixed name: docs/operations.md). */
void hf_consumer_ops_error(hf_consumer_ops_t *o, const char *cls, double n);
void hf_consumer_ops_gap(hf_consumer_ops_t *o, int64_t messages);

/* ==== read by any thread ==== */

/* Ready: running, connected to PostgreSQL and Kafka, partitions assigned,
 * the loop alive and no partition with lag whose committed offset has not
 * moved for consume.stall_s. Otherwise false and why in reason. */
bool hf_consumer_ops_ready(hf_consumer_ops_t *o, char *reason, size_t reason_size);

/* The status page's data (GET /status.json), one JSON object; see
 * docs/operations.md. */
void hf_consumer_ops_status_json(hf_consumer_ops_t *o, hf_buf_t *out);

/* The per-partition status column of the status page (Burrow-style OK,
 * WARN, STALL, STOP, REWIND): filled by the lag evaluator of `hemoflow lag`
 * when it is plugged in here; until then the column shows "—" (JSON null).
 * fn returns a static string or NULL; it is called under the snapshot lock
 * from the HTTP thread. */
typedef const char *(*hf_consumer_ops_lag_status_fn)(void *opaque, const char *topic,
                                                     int32_t partition);
void hf_consumer_ops_set_lag_status(hf_consumer_ops_t *o, hf_consumer_ops_lag_status_fn fn,
                                    void *opaque);

#endif /* HF_CONSUMER_OPS_H */
