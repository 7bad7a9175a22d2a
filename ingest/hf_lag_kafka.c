/*
 * hf_lag_kafka — metadata, watermarks and first-unconsumed-message reads for
 * `hemoflow lag` (hf_lag_kafka.h).
 */
#include "hf_lag_kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "hf_event_types.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_time.h"

struct hf_lag_kafka_s {
    rd_kafka_t *rk;
    int timeout_ms;
    char *prefix;  /* topic.prefix */
};

static hf_err_t hf__set(void *opaque, const char *name, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(opaque, name, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        hf_log_error("lag.config", "key=kafka.%s err=\"%s\"", name, err);
        return HF_ERR_CONFIG;
    }
    return HF_OK;
}

hf_lag_kafka_t *hf_lag_kafka_new(const hf_config_t *cfg, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    hf_err_t e = HF_OK;
    /* A group.id of its own: never joined, never committed to. */
    e = e ? e : hf__set(kc, "group.id", "hemoflow-lag-probe");
    e = e ? e : hf__set(kc, "enable.auto.commit", "false");
    e = e ? e : hf__set(kc, "enable.auto.offset.store", "false");
    e = e ? e : hf__set(kc, "enable.partition.eof", "true");
    e = e ? e : hf__set(kc, "client.id", "hemoflow-lag");
    /* one message per partition is all it reads */
    e = e ? e : hf__set(kc, "queued.max.messages.kbytes", "1024");
    e = e ? e : hf__set(kc, "max.partition.fetch.bytes", "65536");
    e = e ? e : hf__set(kc, "fetch.max.bytes", "1048576");
    e = e ? e : hf_config_each_kafka(cfg, hf__set, kc); /* user settings (TLS, SASL...) win */
    if (e) {
        rd_kafka_conf_destroy(kc);
        hf_err_set(HF_ERR_CONFIG, errstr, errstr_size, "invalid kafka.* setting (see log)");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(kc, hf_log_rdkafka_cb);
    char kerr[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, kerr, sizeof(kerr));
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        hf_err_set(HF_ERR_KAFKA, errstr, errstr_size, "creating the Kafka client: %s", kerr);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    hf_lag_kafka_t *k = hf_calloc(1, sizeof(*k));
    k->rk = rk;
    k->timeout_ms = (int)hf_config_int(cfg, "lag.kafka_timeout_ms");
    k->prefix = hf_strdup(hf_config_str(cfg, "topic.prefix"));
    return k;
}

void hf_lag_kafka_destroy(hf_lag_kafka_t *k)
{
    if (!k)
        return;
    rd_kafka_consumer_close(k->rk);
    rd_kafka_destroy(k->rk);
    hf_free(k->prefix);
    hf_free(k);
}

static bool hf__ours(const hf_lag_kafka_t *k, const char *topic)
{
    size_t pl = strlen(k->prefix);
    if (strncmp(topic, k->prefix, pl) != 0)
        return false;
    for (size_t i = 0; i < hf_event_types_count; i++)
        if (strcmp(topic + pl, hf_event_types[i].snake) == 0)
            return true;
    return false;
}

/* Read one message at each wanted partition's first unconsumed offset. */
static void hf__first_messages(hf_lag_kafka_t *k, hf_lag_report_t *r)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (size_t i = 0; i < r->n; i++) {
        hf_lag_part_t *p = &r->parts[i];
        p->first_offset = p->first_ts_ms = -1;
        int64_t from = hf_lag_part_from(p);
        if (p->log_end < 0 || from >= p->log_end)
            continue;
        if (p->log_start > from)
            from = p->log_start; /* retention removed the rest: the oldest one left */
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = from;
    }
    if (l->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(k->rk, l);
    if (e) {
        hf_log_warn("lag.assign", "err=\"%s\"", rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    int left = l->cnt;
    int64_t deadline = hf_time_mono_ms() + k->timeout_ms;
    while (left > 0 && hf_time_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 100);
        if (!m)
            continue;
        hf_lag_part_t *p = m->rkt ? hf_lag_report_part(r, rd_kafka_topic_name(m->rkt),
                                                       m->partition)
                                  : NULL;
        if (p && p->first_offset < 0 && (!m->err || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)) {
            /* EOF: the messages were gone by the time we looked (compaction,
             * retention): nothing to time. */
            p->first_offset = m->offset;
            if (!m->err) {
                rd_kafka_timestamp_type_t tt;
                p->first_ts_ms = rd_kafka_message_timestamp(m, &tt);
            }
            left--;
        } else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            hf_log_debug("lag.fetch", "err=\"%s\"", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    if (left > 0)
        hf_log_warn("lag.first_message", "partitions=%d msg=\"no message read in time; their lag "
                    "in seconds is unknown\"", left);
    (void)rd_kafka_assign(k->rk, NULL);
    rd_kafka_topic_partition_list_destroy(l);
}

hf_err_t hf_lag_kafka_fill(hf_lag_kafka_t *k, hf_lag_report_t *r, char *errstr,
                           size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 1, NULL, &md, k->timeout_ms);
    if (e)
        return hf_err_set(HF_ERR_KAFKA_TRANSIENT, errstr, errstr_size,
                          "reading the Kafka cluster's metadata: %s", rd_kafka_err2str(e));
    for (int t = 0; t < md->topic_cnt; t++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[t];
        if (mt->err || !hf__ours(k, mt->topic))
            continue;
        for (int i = 0; i < mt->partition_cnt; i++) {
            hf_lag_part_t *p = hf_lag_report_part(r, mt->topic, mt->partitions[i].id);
            p->in_kafka = true;
            int64_t lo = -1, hi = -1;
            e = rd_kafka_query_watermark_offsets(k->rk, mt->topic, mt->partitions[i].id, &lo, &hi,
                                                 k->timeout_ms);
            if (e) {
                hf_log_warn("lag.watermarks", "topic=%s partition=%" PRId32 " err=\"%s\"",
                            mt->topic, mt->partitions[i].id, rd_kafka_err2str(e));
                lo = hi = -1;
            }
            p->log_start = lo;
            p->log_end = hi;
        }
    }
    rd_kafka_metadata_destroy(md);
    hf__first_messages(k, r);
    return HF_OK;
}
