/*
 * hf_consumer — `hemoflow consume`: the consumer-group loop that moves
 * events from every hemoflow.* topic into the warehouse exactly once.
 *
 * Guarantee: a message's effect (a fact row, a quarantine row, or nothing
 * for a duplicate) and the partition's next offset are committed in one
 * PostgreSQL transaction; on assignment the consumer seeks to the offsets
 * stored in hemoflow.hf_offsets, and the offsets update is a compare-and-set,
 * so a restarted, rebalanced or zombie instance can neither skip nor repeat a
 * message. Kafka's own committed offsets follow after each PostgreSQL commit,
 * for lag tools only.
 */
#ifndef HF_CONSUMER_H
#define HF_CONSUMER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_catalog.h"
#include "hf_config.h"
#include "hf_err.h"

typedef struct hf_consumer_s hf_consumer_t;

typedef struct hf_consumer_conf_s {
    const hf_config_t *cfg;            /* borrowed; kafka.*, pg.*, consume.*, validate.* */
    const hf_catalog_t *cat;           /* borrowed; must outlive the consumer */
    int64_t idle_exit_ms;              /* > 0: return once every assigned partition is at its
                                          end and nothing arrived for this long */
    volatile sig_atomic_t *stop;       /* set by a signal handler: drain and return */
    struct hf_consumer_ops_s *ops;     /* optional: metrics, readiness, status page (borrowed) */
    volatile sig_atomic_t *reload;     /* optional: set by SIGHUP; the loop clears it and calls
                                          reload_fn */
    /* Returns the configuration to apply (borrowed: must outlive the
     * consumer), or NULL to keep the current one (the reason is logged by
     * reload_fn). The consumer applies its reloadable keys
     * (hf_consumer_apply_config). */
    const hf_config_t *(*reload_fn)(void *opaque);
    void *reload_opaque;
} hf_consumer_conf_t;

/* Connects to PostgreSQL (verifying the warehouse schema) and creates the
 * Kafka consumer. NULL with errstr on failure. */
hf_consumer_t *hf_consumer_new(const hf_consumer_conf_t *conf, char *errstr, size_t errstr_size);

/* Runs until *stop is set (the in-flight batch is committed within
 * consume.shutdown_deadline_ms) or the idle condition holds. HF_OK on a clean
 * stop; otherwise the permanent error that ended it (errstr says why):
 * HF_ERR_SCHEMA (an event does not fit its fact table: run `hemoflow
 * migrate`), HF_ERR_PG (PostgreSQL refused a commit or the offsets read for
 * good), HF_ERR_INVALID or HF_ERR_INTERNAL (a bug). Transient errors are
 * retried inside, never returned. */
hf_err_t hf_consumer_run(hf_consumer_t *c, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

typedef struct hf_consumer_stats_s {
    uint64_t messages;     /* Kafka messages in committed batches:
                              = loaded + duplicates + quarantined */
    uint64_t loaded;       /* fact rows inserted */
    uint64_t duplicates;   /* skipped: already in the warehouse or repeated in a batch */
    uint64_t quarantined;  /* rows written to hf_quarantine */
    uint64_t batches;      /* committed transactions */
    uint64_t retries;      /* transient failures retried */
    uint64_t conflicts;    /* batches abandoned because another instance owned a partition */
    uint64_t gaps;         /* messages Kafka no longer had when their turn came (retention) */
    uint64_t abandoned;    /* messages of abandoned batches (read again later) */
} hf_consumer_stats_t;

void hf_consumer_stats(const hf_consumer_t *c, hf_consumer_stats_t *out);

/* Apply the reloadable consume.* and validate.* keys of cfg (borrowed: must
 * outlive the consumer) to a running consumer: batch limits, shutdown
 * deadline, retry backoff cap, validation rules. Consumer thread only
 * (the run loop calls it on SIGHUP). HF_ERR_CONFIG (nothing changed) when
 * the validation rules do not parse. */
hf_err_t hf_consumer_apply_config(hf_consumer_t *c, const hf_config_t *cfg, char *errstr,
                                  size_t errstr_size);

/* ==== librdkafka's prefetch, sized from consume.memory_max_bytes ==== */

/* What hf_consumer_new sets (kafka.* keys override each). With a
 * subscribed consumer whose partitions all feed one queue, librdkafka
 * (>= 1.x, checked in 2.12) applies queued.min.messages and
 * queued.max.messages.kbytes to that whole queue, not per partition; it
 * counts only message values against the byte limit, and one fetch
 * response per broker (up to fetch.max.bytes, decompressed) comes on top.
 * The sizes keep queue + response + per-message overhead within a quarter
 * of the budget whatever the partition count; fetch.queue.backoff.ms (>= 2.2)
 * keeps a queue that hit its limit from idling for a second. */
typedef struct hf_consumer_prefetch_s {
    int64_t queue_kbytes;          /* queued.max.messages.kbytes */
    int64_t queue_messages;        /* queued.min.messages */
    int64_t fetch_max_bytes;       /* fetch.max.bytes */
    int64_t partition_fetch_bytes; /* max.partition.fetch.bytes */
    int64_t message_max_bytes;     /* message.max.bytes: librdkafka refuses a fetch.max.bytes
                                      below it (a consumer produces nothing) */
    int64_t queue_backoff_ms;      /* fetch.queue.backoff.ms */
} hf_consumer_prefetch_t;

/* Fills *out for a memory budget of memory_max_bytes (>= 1 MiB, the key's
 * lower bound). */
void hf_consumer_prefetch_size(int64_t memory_max_bytes, hf_consumer_prefetch_t *out);

/* librdkafka's statistics JSON (len bytes, not NUL-terminated): *up is
 * true when some broker of the cluster (nodeid >= 0, not the bootstrap
 * placeholder) has state "UP". Reads only the "brokers" object, without
 * building the document (ingest/hf_consumer_stats.c). False, with *up
 * false, when the document is malformed. */
bool hf_consumer_stats_broker_up(const char *json, size_t len, bool *up);

/* Closes the group membership (revoking cleanly) and frees; NULL no-op. */
void hf_consumer_destroy(hf_consumer_t *c);

#endif /* HF_CONSUMER_H */
