/*
 * Unit tests for hf_consumer_prefetch_size (no network): librdkafka's
 * prefetch settings stay within half of consume.memory_max_bytes for every
 * budget the key allows within its quarter of it, whatever the partition count (no setting scales
 * with partitions), and librdkafka creates a consumer with them unchanged
 * (it refuses, or silently adjusts, some combinations).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <librdkafka/rdkafka.h>

#include "hf_consumer.h"

/* queue values + per-message overhead + one response overshooting + the
 * responses queued messages pin: the four quarters of the prefetch's share
 * (fetch.max.bytes is compressed: its quarter holds it decompressed) */
static int64_t worst_case(const hf_consumer_prefetch_t *p)
{
    return p->queue_kbytes * 1024 + p->queue_messages * 512 + 2 * 8 * p->fetch_max_bytes;
}

static void set(rd_kafka_conf_t *kc, const char *name, int64_t v)
{
    char s[32], err[256];
    snprintf(s, sizeof(s), "%" PRId64, v);
    cr_assert_eq(rd_kafka_conf_set(kc, name, s, err, sizeof(err)), RD_KAFKA_CONF_OK, "%s=%s: %s",
                 name, s, err);
}

static void expect_kept(const rd_kafka_conf_t *kc, const char *name, int64_t v)
{
    char got[64];
    size_t n = sizeof(got);
    cr_assert_eq(rd_kafka_conf_get(kc, name, got, &n), RD_KAFKA_CONF_OK, "%s", name);
    cr_expect_eq(strtoll(got, NULL, 10), v, "%s: librdkafka uses %s, hemoflow set %" PRId64, name,
                 got, v);
}

/* A consumer (no bootstrap servers: it connects nowhere) with the settings,
 * as hf_consumer_new sets them; librdkafka validates and adjusts in
 * rd_kafka_new. */
static void consumer_accepts(const hf_consumer_prefetch_t *p)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    set(kc, "queued.max.messages.kbytes", p->queue_kbytes);
    set(kc, "queued.min.messages", p->queue_messages);
    set(kc, "fetch.max.bytes", p->fetch_max_bytes);
    set(kc, "max.partition.fetch.bytes", p->partition_fetch_bytes);
    set(kc, "fetch.queue.backoff.ms", p->queue_backoff_ms);
    set(kc, "message.max.bytes", p->message_max_bytes);
    char err[256];
    cr_assert_eq(rd_kafka_conf_set(kc, "group.id", "unit", err, sizeof(err)), RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(kc, "log_level", "0", err, sizeof(err)), RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
    cr_assert(rk, "rd_kafka_new refused fetch.max.bytes=%" PRId64 ": %s", p->fetch_max_bytes, err);
    const rd_kafka_conf_t *eff = rd_kafka_conf(rk);
    expect_kept(eff, "queued.max.messages.kbytes", p->queue_kbytes);
    expect_kept(eff, "queued.min.messages", p->queue_messages);
    expect_kept(eff, "fetch.max.bytes", p->fetch_max_bytes);
    expect_kept(eff, "max.partition.fetch.bytes", p->partition_fetch_bytes);
    expect_kept(eff, "fetch.queue.backoff.ms", p->queue_backoff_ms);
    rd_kafka_destroy(rk);
}

Test(prefetch, default_budget)
{
    hf_consumer_prefetch_t p;
    hf_consumer_prefetch_size(INT64_C(48) << 20, &p);
    cr_expect_eq(p.queue_kbytes, 3072);
    cr_expect_eq(p.queue_messages, 6144);
    cr_expect_eq(p.fetch_max_bytes, INT64_C(384) << 10); /* compressed: ~8x decompressed */
    cr_expect_eq(p.partition_fetch_bytes, INT64_C(96) << 10);
    cr_expect_eq(p.message_max_bytes, INT64_C(384) << 10);
    cr_expect_eq(p.queue_backoff_ms, 10);
    cr_expect_leq(worst_case(&p), INT64_C(12) << 20);
    consumer_accepts(&p);
}

Test(prefetch, every_budget_within_its_share)
{
    for (int64_t mem = INT64_C(1) << 20; mem <= INT64_C(1) << 34; mem = mem * 3 / 2) {
        hf_consumer_prefetch_t p;
        hf_consumer_prefetch_size(mem, &p);
        /* the floors (64 KiB queue, 32 KiB fetch, 256 messages) need ~1 MiB */
        int64_t share = mem / 4 > (INT64_C(5) << 18) ? mem / 4 : (INT64_C(5) << 18);
        cr_expect_leq(worst_case(&p), share, "budget %" PRId64, mem);
        cr_expect_leq(p.partition_fetch_bytes, p.fetch_max_bytes, "budget %" PRId64, mem);
        cr_expect_gt(p.queue_messages, 0);
        cr_expect_gt(p.queue_backoff_ms, 0);
        cr_expect_lt(p.queue_backoff_ms, 1000, "the default that starves a bounded queue");
        cr_expect_leq(p.message_max_bytes, p.fetch_max_bytes);
        consumer_accepts(&p);
    }
}

Test(prefetch, grows_with_the_budget)
{
    hf_consumer_prefetch_t a, b;
    hf_consumer_prefetch_size(INT64_C(48) << 20, &a);
    hf_consumer_prefetch_size(INT64_C(96) << 20, &b);
    cr_expect_eq(b.queue_kbytes, 2 * a.queue_kbytes);
    cr_expect_eq(b.queue_messages, 2 * a.queue_messages);
    cr_expect_eq(b.fetch_max_bytes, 2 * a.fetch_max_bytes);
}
