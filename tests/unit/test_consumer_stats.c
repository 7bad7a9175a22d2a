/*
 * Unit tests for hf_consumer_stats_broker_up (no network): librdkafka's own
 * statistics, from a consumer of librdkafka's in-process mock cluster with
 * 240 partitions, brokers up and then all set down, are read the same way
 * as a full jansson parse reads them (the oracle); every truncation of a
 * real document is refused or read within its bounds (ASan checks the
 * copies are never overrun); and hand-written documents cover what
 * librdkafka does not send (escapes, the bootstrap placeholder, nesting).
 */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "hf_consumer.h"

/* What the consumer did before: a whole-document parse. -1 unparseable. */
static int oracle(const char *json, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(json, len, 0, &je);
    if (!j)
        return -1;
    int up = 0;
    const char *k;
    json_t *b;
    json_object_foreach(json_object_get(j, "brokers"), k, b)
    {
        json_t *id = json_object_get(b, "nodeid");
        const char *st = json_string_value(json_object_get(b, "state"));
        if (json_is_integer(id) && json_integer_value(id) >= 0 && st && strcmp(st, "UP") == 0)
            up = 1;
    }
    json_decref(j);
    return up;
}

typedef struct samples_s {
    char *v[4096];
    size_t len[4096];
    size_t n;
} samples_t;

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    samples_t *s = opaque;
    if (s->n < sizeof(s->v) / sizeof(s->v[0])) {
        s->v[s->n] = malloc(len); /* exactly len bytes: ASan sees any read past them */
        memcpy(s->v[s->n], json, len);
        s->len[s->n++] = len;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void conf_set(rd_kafka_conf_t *kc, const char *k, const char *v)
{
    char err[256];
    cr_assert_eq(rd_kafka_conf_set(kc, k, v, err, sizeof(err)), RD_KAFKA_CONF_OK, "%s: %s", k,
                 err);
}

/* A consumer of a 3-broker mock cluster, subscribed to a topic of
 * `partitions` partitions, collecting statistics every 100 ms. */
static rd_kafka_t *mock_consumer(samples_t *s, int partitions, rd_kafka_mock_cluster_t **mc)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    conf_set(kc, "test.mock.num.brokers", "3");
    conf_set(kc, "group.id", "unit-stats");
    conf_set(kc, "statistics.interval.ms", "100");
    conf_set(kc, "log_level", "0");
    conf_set(kc, "reconnect.backoff.max.ms", "200");
    rd_kafka_conf_set_stats_cb(kc, stats_cb);
    rd_kafka_conf_set_opaque(kc, s);
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
    cr_assert(rk, "rd_kafka_new: %s", err);
    *mc = rd_kafka_handle_mock_cluster(rk);
    cr_assert(*mc, "no mock cluster");
    cr_assert_eq(rd_kafka_mock_topic_create(*mc, "unit-stats", partitions, 1),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, "unit-stats", RD_KAFKA_PARTITION_UA);
    cr_assert_eq(rd_kafka_subscribe(rk, t), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(t);
    return rk;
}

/* Polls until a collected sample reads `want` per the oracle (or 30 s):
 * its index, or -1. */
static long poll_until(rd_kafka_t *rk, samples_t *s, int want)
{
    double end = now_s() + 30;
    size_t seen = s->n;
    while (now_s() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (m)
            rd_kafka_message_destroy(m);
        for (; seen < s->n; seen++)
            if (oracle(s->v[seen], s->len[seen]) == want)
                return (long)seen;
    }
    return -1;
}

static void samples_free(samples_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

static void expect_agree(const samples_t *s, size_t from)
{
    for (size_t i = from; i < s->n; i++) {
        bool up;
        int want = oracle(s->v[i], s->len[i]);
        cr_assert_neq(want, -1, "librdkafka's statistics %zu are not JSON", i);
        cr_assert(hf_consumer_stats_broker_up(s->v[i], s->len[i], &up), "sample %zu refused", i);
        cr_assert_eq(up, want == 1, "sample %zu (%zu bytes): scanner says %d, jansson %d", i,
                     s->len[i], up, want);
    }
}

Test(consumer_stats, agrees_with_a_full_parse_up_and_down)
{
    samples_t *s = calloc(1, sizeof(*s));
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_t *rk = mock_consumer(s, 240, &mc);
    cr_assert_geq(poll_until(rk, s, 1), 0, "no statistics with a broker UP within 30 s");
    /* the group joined: the statistics now hold the 240 partitions */
    size_t big = 0;
    for (double end = now_s() + 30; big <= 100000 && now_s() < end;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (m)
            rd_kafka_message_destroy(m);
        for (size_t i = 0; i < s->n; i++)
            if (s->len[i] > big && oracle(s->v[i], s->len[i]) == 1)
                big = s->len[i];
    }
    cr_assert_gt(big, 100000, "largest sample with a broker up: %zu bytes (the 240 "
                              "partitions' statistics are not there to be skipped)", big);
    size_t up_samples = s->n;
    for (int id = 1; id <= 3; id++)
        cr_assert_eq(rd_kafka_mock_broker_set_down(mc, id), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_geq(poll_until(rk, s, 0), 0, "no statistics with every broker down within 30 s");
    expect_agree(s, 0);
    cr_expect_gt(s->n, up_samples, "no sample after the brokers went down");
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    samples_free(s);
    free(s);
}

Test(consumer_stats, every_truncation_is_refused_or_read_in_bounds)
{
    samples_t *s = calloc(1, sizeof(*s));
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_t *rk = mock_consumer(s, 1, &mc);
    long at = poll_until(rk, s, 1);
    cr_assert_geq(at, 0, "no statistics with a broker UP within 30 s");
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    const char *doc = s->v[at];
    size_t len = s->len[at];
    /* where the "brokers" object ends: a prefix that holds it reads UP */
    const char *b = memmem(doc, len, "\"brokers\":", 10);
    cr_assert(b, "no brokers object in a real sample");
    size_t refused = 0, read = 0;
    for (size_t n = 0; n < len; n++) {
        char *cut = malloc(n ? n : 1);
        memcpy(cut, doc, n);
        bool up = true;
        if (hf_consumer_stats_broker_up(cut, n, &up)) {
            read++;
            cr_assert(n > (size_t)(b - doc), "a prefix of %zu bytes, before the brokers, read", n);
            cr_assert(up, "a prefix of %zu bytes that holds the brokers read as down", n);
        } else {
            refused++;
            cr_assert(!up, "a refused prefix left *up set");
        }
        free(cut);
    }
    cr_expect_gt(refused, 0);
    cr_expect_gt(read, 0, "no prefix holding the whole brokers object was read");
    samples_free(s);
    free(s);
}

static int scan(const char *doc)
{
    bool up = true;
    if (!hf_consumer_stats_broker_up(doc, strlen(doc), &up))
        return -1;
    return up;
}

Test(consumer_stats, hand_written_documents)
{
    /* the bootstrap placeholder (nodeid -1) does not count */
    cr_expect_eq(scan("{\"brokers\":{\"b:9092/bootstrap\":{\"nodeid\":-1,\"state\":\"UP\"}}}"), 0);
    cr_expect_eq(scan("{\"brokers\":{\"b:9092/1\":{\"nodeid\":1,\"state\":\"UP\"}}}"), 1);
    cr_expect_eq(scan("{\"brokers\":{\"b:9092/1\":{\"state\":\"UP\",\"nodeid\":1}}}"), 1);
    cr_expect_eq(scan("{\"brokers\":{\"b:9092/1\":{\"nodeid\":1,\"state\":\"DOWN\"}}}"), 0);
    cr_expect_eq(scan("{\"brokers\":{\"b:9092/1\":{\"state\":\"UP\"}}}"), 0, "no nodeid");
    cr_expect_eq(scan("{\"brokers\":{}}"), 0);
    cr_expect_eq(scan("{\"name\":\"x\",\"topics\":{}}"), 0, "no brokers object");
    cr_expect_eq(scan("{}"), 0);
    /* escapes, nesting, whitespace and other members on the way */
    cr_expect_eq(scan(" {\n \"na\\\"me\" : \"a\\\\\" , \"ts\":12 ,\"x\":[1,[2,{\"y\":\"}]\"}]],"
                      "\"brokers\" : { \"a\\\"b\" : { \"toppars\":{\"t-0\":{\"topic\":\"t\"}},"
                      "\"int_latency\":{\"min\":0,\"max\":0},\"nodeid\" : 3 , \"state\" : \"UP\" } "
                      "} }"),
                 1);
    cr_expect_eq(scan("{\"brokers\":{\"a\":{\"nodeid\":0,\"state\":\"INIT\"},"
                      "\"b\":{\"nodeid\":2,\"state\":\"UP\"}}}"),
                 1, "the second broker is up");
    /* a state that is not a string is skipped, not read */
    cr_expect_eq(scan("{\"brokers\":{\"a\":{\"nodeid\":1,\"state\":[\"UP\"]}}}"), 0);
    /* malformed */
    cr_expect_eq(scan(""), -1);
    cr_expect_eq(scan("[]"), -1);
    cr_expect_eq(scan("{\"brokers\":[]}"), -1);
    cr_expect_eq(scan("{\"brokers\":{\"a\":{\"nodeid\":\"1\",\"state\":\"UP\"}}}"), -1);
    cr_expect_eq(scan("{\"brokers\":{\"a\":{\"nodeid\":123456789012345678901234,"
                      "\"state\":\"UP\"}}}"),
                 -1);
    cr_expect_eq(scan("{\"brokers\":{\"a\":{\"nodeid\":1 \"state\":\"UP\"}}}"), -1);
    cr_expect_eq(scan("{\"x\":\"unterminated}"), -1);
    cr_expect_eq(scan("{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[}"), -1);
    /* deep nesting is counted, not recursed into */
    size_t depth = 1000000;
    char *deep = malloc(2 * depth + 64);
    size_t n = 0;
    n += (size_t)sprintf(deep, "{\"x\":");
    memset(deep + n, '[', depth);
    n += depth;
    memset(deep + n, ']', depth);
    n += depth;
    n += (size_t)sprintf(deep + n, ",\"brokers\":{\"a\":{\"nodeid\":1,\"state\":\"UP\"}}}");
    bool up = false;
    cr_expect(hf_consumer_stats_broker_up(deep, n, &up));
    cr_expect(up);
    free(deep);
}
