/*
 * hf_lag_kafka — the Kafka half of `hemoflow lag`: which partitions the
 * hemoflow.* topics have, their watermarks (log start and log end), and the
 * timestamp of each partition's first unconsumed message, read as one
 * message at the committed offset. Nothing is committed and no group is
 * joined: the probe uses manual assignment under its own group.id, so it
 * works whether or not a consumer is running and never disturbs one.
 */
#ifndef HF_LAG_KAFKA_H
#define HF_LAG_KAFKA_H

#include <stddef.h>

#include "hf_config.h"
#include "hf_err.h"
#include "hf_lag.h"

typedef struct hf_lag_kafka_s hf_lag_kafka_t;

/* A probe with the kafka.* settings of cfg (lag.kafka_timeout_ms per
 * request). NULL with errstr when librdkafka refuses the settings. */
hf_lag_kafka_t *hf_lag_kafka_new(const hf_config_t *cfg, char *errstr, size_t errstr_size);
void hf_lag_kafka_destroy(hf_lag_kafka_t *k); /* NULL is a no-op */

/* For every topic <topic.prefix><event type> in the cluster: add each of its
 * partitions to r (in_kafka set) with its watermarks, then read the first
 * unconsumed message (at hf_lag_part_from) of every partition that has one,
 * for first_offset and first_ts_ms. Call after hf_lag_report_read_pg, so the
 * committed offsets are known. Topics missing from the cluster are skipped.
 * Errors: HF_ERR_KAFKA_TRANSIENT (no broker answered in time). A partition
 * whose watermarks or message could not be read keeps -1 there. */
hf_err_t hf_lag_kafka_fill(hf_lag_kafka_t *k, hf_lag_report_t *r, char *errstr,
                           size_t errstr_size) __attribute__((warn_unused_result));

#endif /* HF_LAG_KAFKA_H */
