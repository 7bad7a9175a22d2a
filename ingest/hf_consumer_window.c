/*
 * hf_consumer_window — what the consumer tells the outside about its
 * progress besides the rows: the commit-window entries it adds to each
 * batch (load/hf_wh_window.h; judged by `hemoflow lag`), and the outcome of
 * the advisory Kafka commit that follows each PostgreSQL commit
 * (hf_consumer_flight.c). PostgreSQL stays the truth: a failed Kafka commit
 * is logged and otherwise ignored.
 */
#include "hf_consumer_int.h"

#include <inttypes.h>

#include "hf_log.h"
#include "hf_wh_window.h"

/* The log-end offset of p as librdkafka last heard it (no request is
 * made), -1 when unknown. */
static int64_t hf__log_end(hf_consumer_t *c, const hf__part_t *p)
{
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi) ||
        hi < 0)
        return p->eof && p->pos >= 0 ? p->pos : -1;
    return hi;
}

/* One window entry per owned partition in the batch about to be handed to
 * the loader: where its offset will stand once the batch commits (the
 * batch's end for partitions it covers, the stored offset for the others)
 * and the log-end offset then. Partitions with nothing stored yet and not
 * in the batch have no entry. */
void hf__window_note(hf_consumer_t *c)
{
    char err[256];
    for (size_t i = 0; i < c->nparts; i++) {
        const hf__part_t *p = &c->parts[i];
        int64_t next = p->in_batch ? p->pos : p->committed;
        if (next < 0)
            continue;
        if (hf_wh_batch_window_add(c->batch, p->topic, p->partition, next, hf__log_end(c, p), err,
                                   sizeof(err)) != HF_OK)
            hf_log_warn("consume.window", "topic=%s partition=%" PRId32 " err=\"%s\"", p->topic,
                        p->partition, err);
    }
}

/* librdkafka's offset-commit callback (served by rd_kafka_consumer_poll):
 * the advisory commit's outcome. */
void hf__kafka_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    if (err) {
        hf_log_warn("consume.kafka_commit_failed", "partitions=%d err=\"%s\" msg=\"advisory "
                    "only: hf_offsets in PostgreSQL stays the truth\"",
                    offsets ? offsets->cnt : 0, rd_kafka_err2str(err));
        return;
    }
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        if (tp->err)
            hf_log_warn("consume.kafka_commit_failed", "topic=%s partition=%" PRId32
                        " offset=%" PRId64 " err=\"%s\"", tp->topic, tp->partition, tp->offset,
                        rd_kafka_err2str(tp->err));
    }
    hf_log_debug("consume.kafka_committed", "partitions=%d", offsets ? offsets->cnt : 0);
}
