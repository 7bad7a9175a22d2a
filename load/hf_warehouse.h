/*
 * hf_warehouse — the loader: the PostgreSQL side of exactly-once delivery.
 *
 * One hf_wh_t is one loader connection (one per consume thread). It checks
 * at connect time that every fact table has exactly the columns of the
 * newest Avro schema of its event type, and that the warehouse partition
 * granularity (fixed by the first `hemoflow migrate`) equals the
 * configuration's.
 *
 * A batch (hf_wh_batch_t) collects decoded events, converted on add into
 * PostgreSQL binary COPY rows kept per fact table, plus quarantine records
 * and the offsets range of every (topic, partition) it covers. A row's
 * partition key (province, station-local event date) and instant are the
 * ones hf_normalize (transform/) decided for the event, passed in with it;
 * the loader does not derive them again. Committing it
 * is ONE transaction: offsets compare-and-set first (a zombie that lost its
 * partitions gets HF_ERR_CONFLICT and writes nothing), then per table:
 * rows whose key this connection may have committed before (a Bloom filter
 * of recently committed keys) are looked up in the primary-key index and
 * dropped when present (station resends); the rest go in with one binary
 * COPY sorted by (province_code, event_date) under a savepoint; if that COPY
 * still hits a unique violation (a resend the filter did not know) the table
 * goes through a temporary staging table and INSERT ... ON CONFLICT DO
 * NOTHING; rows PostgreSQL
 * rejects (22xxx/23xxx) are found by bisection and quarantined; then
 * quarantine rows, hf_completeness, COMMIT. Missing partitions are created
 * before the transaction, each in its own short autocommit transaction.
 *
 * Errors: HF_ERR_PG_TRANSIENT (connection lost, 40001, 40P01, 53xxx, 57P0x,
 * 57014, 08xxx) — call hf_wh_reconnect() and commit the SAME batch again;
 * the batch is unchanged by a failed attempt, and a commit whose outcome was
 * unknown (connection lost during COMMIT) is recognised from hf_offsets on
 * the retry. HF_ERR_CONFLICT — the offsets were not what the batch expected:
 * another instance owns the partition; drop the batch and re-seek.
 * HF_ERR_PG / HF_ERR_SCHEMA / HF_ERR_CONFIG — permanent, stop.
 *
 * Data reaches PostgreSQL only through COPY and bound parameters; SQL text
 * holds only identifiers from the fixed fact-table list.
 *
 * Threads: an hf_wh_t and its batches belong to one thread at a time, with
 * one exception: hf_wh_batch_add_event, _add_quarantine, _reset, _rows and
 * _bytes on a batch that is not being committed may run in another thread
 * than a commit, reconnect or offsets read on the same hf_wh_t. They read
 * only the table layouts, which hf_wh_open fixes and nothing changes later
 * (the partition cache, Bloom filter and connection are the commit's).
 */
#ifndef HF_WAREHOUSE_H
#define HF_WAREHOUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_catalog.h"
#include "hf_config.h"
#include "hf_err.h"
#include "hf_metrics.h"
#include "hf_normalize.h"
#include "hf_province.h"

typedef struct hf_wh_s hf_wh_t;
typedef struct hf_wh_batch_s hf_wh_batch_t;

/* Upper bound on fact tables (event types); hf_event_types_count <= this. */
#define HF_WH_MAX_TABLES 16

/* ==== connection ==== */

/* Connect with the pg.* settings of cfg (application_name=hemoflow-loader
 * unless pg.application_name is set), verify every fact table against the
 * newest schema of its event type in cat, check the partition granularity,
 * create the session's staging tables. cfg and cat are borrowed: cat must
 * outlive the hf_wh_t; cfg is read only during the call.
 * On success *out owns a new hf_wh_t. Errors: HF_ERR_PG_TRANSIENT (server
 * unreachable: retry later), HF_ERR_SCHEMA (a table does not match its
 * schema: run `hemoflow migrate`; errstr names table and column),
 * HF_ERR_CONFIG (granularity differs), HF_ERR_PG. */
hf_err_t hf_wh_open(const hf_config_t *cfg, const hf_catalog_t *cat, hf_wh_t **out, char *errstr,
                    size_t errstr_size) __attribute__((warn_unused_result));
/* Close the connection and free everything. Batches made from wh must be
 * destroyed first. NULL is a no-op. */
void hf_wh_destroy(hf_wh_t *wh);

/* This connection loads one of `share` disjoint sets of partitions (the
 * consumer's lanes): its filter of recently committed keys uses 1/share of
 * its memory and keys, so that the lanes' filters together take what one
 * connection's takes, at the same false-positive rate. Forgets what the
 * filter held (call before the first commit). share 0 or 1: the whole. */
void hf_wh_seen_share(hf_wh_t *wh, unsigned share);

/* Drop the connection (if any) and connect again, re-running the checks of
 * hf_wh_open. Call after HF_ERR_PG_TRANSIENT. Batches stay valid. */
hf_err_t hf_wh_reconnect(hf_wh_t *wh, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* True while the connection is up (as far as libpq knows). */
bool hf_wh_connected(const hf_wh_t *wh);

/* The backend process id of the current connection (0 when none); for
 * logs and tests. */
int hf_wh_backend_pid(const hf_wh_t *wh);

/* ==== offsets ==== */

typedef struct hf_wh_tp_s {
    const char *topic;   /* borrowed */
    int32_t partition;
    int64_t next_offset; /* out: stored next offset, -1 when none stored */
} hf_wh_tp_t;

/* Fill tps[i].next_offset from hf_offsets for n (topic, partition) pairs,
 * in one query. Call on partition assignment and seek there. */
hf_err_t hf_wh_offsets_get(hf_wh_t *wh, hf_wh_tp_t *tps, size_t n, char *errstr,
                           size_t errstr_size) __attribute__((warn_unused_result));

/* ==== batch ==== */

/* An empty batch for wh's tables. Never NULL. wh is borrowed and must
 * outlive the batch. */
hf_wh_batch_t *hf_wh_batch_new(hf_wh_t *wh);
void hf_wh_batch_destroy(hf_wh_batch_t *b); /* NULL is a no-op */
/* Empty the batch for reuse (keeps its memory). */
void hf_wh_batch_reset(hf_wh_batch_t *b);

/* Add one decoded event read from topic/partition/offset. key is what
 * hf_normalize produced for ev: the row's event_date column and partition
 * key are key->event_date and key->province, its instant (completeness)
 * key->occurred_at_us. raw/raw_len is the Kafka message value (kept in the
 * batch, for quarantine if PostgreSQL rejects the row). ev, key, topic and
 * raw are only read during the call.
 * A value the loader itself finds bad (e.g. event_id not a UUID, a time out
 * of range) is not an error: it becomes a quarantine record (reason_code
 * 'pg_data', SQLSTATE as PostgreSQL would report it) and HF_OK is returned.
 * Errors: HF_ERR_SCHEMA when ev->value does not have the shape of its fact
 * table (the decoder and the verified tables disagree: a bug, or a catalogue
 * newer than the warehouse); HF_ERR_INVALID when the batch is committed and
 * not yet reset. */
hf_err_t hf_wh_batch_add_event(hf_wh_batch_t *b, const hf_decoded_t *ev, const hf_norm_t *key,
                               const char *topic, int32_t partition, int64_t offset,
                               const void *raw, size_t raw_len, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

typedef struct hf_wh_quarantine_s {
    const char *topic;        /* required */
    int32_t partition;
    int64_t offset;
    const char *event_type;   /* Avro name, or NULL when unknown */
    bool has_fingerprint;
    uint64_t fingerprint;     /* writer schema fingerprint, stored as 16 hex digits */
    const char *reason_code;  /* required, e.g. "truncated", "unknown_fingerprint", "din_format"
                                 (docs/consume.md lists them) */
    const char *sqlstate;     /* NULL unless PostgreSQL said it */
    const char *detail;       /* human-readable; may be NULL */
    const void *raw;          /* message value; may be NULL when raw_len is 0 */
    size_t raw_len;
} hf_wh_quarantine_t;

/* Add a quarantine record (copied; q is only read during the call).
 * HF_ERR_INVALID when topic or reason_code is missing. */
hf_err_t hf_wh_batch_add_quarantine(hf_wh_batch_t *b, const hf_wh_quarantine_t *q, char *errstr,
                                    size_t errstr_size) __attribute__((warn_unused_result));

/* The batch covers topic/partition from expected_next (the next_offset
 * stored in hf_offsets, or -1 when none is stored) up to new_next (the
 * offset after the batch's last message). Setting the same pair again
 * replaces it. HF_ERR_INVALID when new_next < 0 or expected_next < -1. */
hf_err_t hf_wh_batch_set_offsets(hf_wh_batch_t *b, const char *topic, int32_t partition,
                                 int64_t expected_next, int64_t new_next, char *errstr,
                                 size_t errstr_size) __attribute__((warn_unused_result));

/* Events and bytes held (for the consumer's memory bound). */
size_t hf_wh_batch_rows(const hf_wh_batch_t *b);
size_t hf_wh_batch_bytes(const hf_wh_batch_t *b);

/* ==== commit ==== */

typedef struct hf_wh_table_stats_s {
    size_t rows;        /* events added */
    size_t inserted;    /* rows now in the warehouse */
    size_t duplicates;  /* already in the warehouse, or twice in the batch */
    size_t rejected;    /* refused by PostgreSQL (or the encoder): quarantined */
    bool slow_path;     /* went through staging + ON CONFLICT DO NOTHING */
    int64_t load_us;    /* probe, COPY, slow path and bisection of the table's rows */
} hf_wh_table_stats_t;

/* Quarantine records of one commit by (event type, reason). The decoder
 * alone has some twenty reasons (no event type) and the normalizer a dozen
 * per event type: 64 pairs keep a batch of mixed hostile input exact. */
#define HF_WH_MAX_QTALLY 64
typedef struct hf_wh_qtally_s {
    int event_type;     /* index into hf_event_types; -1 unknown */
    char reason[32];    /* reason_code (cut at 31 bytes); "other" collects overflow */
    size_t n;
} hf_wh_qtally_t;

/* Bucket bounds (seconds) of hf_wh_stats_t.latency: from an event's
 * occurred_at to the COMMIT that made its row visible. */
extern const double hf_wh_latency_bounds[];
extern const size_t hf_wh_latency_nbounds;

typedef struct hf_wh_stats_s {
    size_t rows, inserted, duplicates, rejected; /* sums over tables */
    size_t quarantined;        /* hf_quarantine rows written (added + rejected) */
    size_t partitions_created; /* by this commit, before its transaction */
    size_t attempts;           /* transactions it took (1 unless a partition vanished) */
    hf_wh_table_stats_t table[HF_WH_MAX_TABLES]; /* indexed like hf_event_types */
    /* For metrics, filled after COMMIT (load/hf_wh_obs.c): */
    uint32_t inserted_by_province[HF_WH_MAX_TABLES][HF_PROVINCE_COUNT]; /* per table, per
                                                              hf_provinces index */
    int64_t newest_event_us[HF_PROVINCE_COUNT]; /* newest occurred_at inserted; 0 none */
    hf_wh_qtally_t qtally[HF_WH_MAX_QTALLY];   /* every quarantine record written */
    size_t nqtally;
    hf_hist_acc_t latency;     /* event time -> COMMIT of every inserted row, seconds
                                  (hf_wh_latency_bounds) */
} hf_wh_stats_t;

/* Commit the batch in one transaction (see the top of this file). stats
 * (may be NULL) is filled on HF_OK. After HF_OK the batch must be reset
 * before it is filled again; after any error it is unchanged and may be
 * committed again (after hf_wh_reconnect for HF_ERR_PG_TRANSIENT).
 * Errors: HF_ERR_PG_TRANSIENT, HF_ERR_CONFLICT, HF_ERR_PG, HF_ERR_INVALID
 * (already committed). */
hf_err_t hf_wh_batch_commit(hf_wh_batch_t *b, hf_wh_stats_t *stats, char *errstr,
                            size_t errstr_size) __attribute__((warn_unused_result));

#endif /* HF_WAREHOUSE_H */
