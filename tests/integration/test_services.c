/*
 * Integration: the real services the suite runs against. Produces to and
 * consumes (as a consumer group) from the real Kafka broker with librdkafka,
 * and writes to and reads from the real PostgreSQL server with libpq.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "hf_it.h"

#define N_MSGS 200

static void create_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, NULL, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert(ev, "CreateTopics timed out");
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(rd_kafka_topic_result_error(tr[0]), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 rd_kafka_topic_result_error_string(tr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
}

Test(services, kafka_produce_and_group_consume, .timeout = 120)
{
    const char *bootstrap = hf_it_env("HF_KAFKA_BOOTSTRAP");
    char errstr[512], topic[64], group[80];
    snprintf(topic, sizeof(topic), "hf-it-services-%ld-%d", (long)time(NULL), (int)getpid());
    snprintf(group, sizeof(group), "%s-g", topic);

    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(pc, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)), 0);
    cr_assert_eq(rd_kafka_conf_set(pc, "enable.idempotence", "true", errstr, sizeof(errstr)), 0);
    cr_assert_eq(rd_kafka_conf_set(pc, "compression.codec", "zstd", errstr, sizeof(errstr)), 0);
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof(errstr));
    cr_assert(prod, "%s", errstr);
    create_topic(prod, topic, 3);

    for (int i = 0; i < N_MSGS; i++) {
        char key[16], val[32];
        snprintf(key, sizeof(key), "fac-%d", i % 7);
        snprintf(val, sizeof(val), "event-%d", i);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic),
                                      RD_KAFKA_V_KEY(key, strlen(key)),
                                      RD_KAFKA_V_VALUE(val, strlen(val)),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(prod, 100);
        cr_assert_eq(e, 0, "produce: %s", rd_kafka_err2str(e));
    }
    cr_assert_eq(rd_kafka_flush(prod, 30000), 0, "flush did not complete");

    /* Broker version, for the test log. */
    const struct rd_kafka_metadata *md;
    cr_assert_eq(rd_kafka_metadata(prod, 0, NULL, &md, 10000), 0);
    cr_assert_geq(md->broker_cnt, 1);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(prod);

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    rd_kafka_conf_set(cc, "bootstrap.servers", bootstrap, errstr, sizeof(errstr));
    rd_kafka_conf_set(cc, "group.id", group, errstr, sizeof(errstr));
    rd_kafka_conf_set(cc, "auto.offset.reset", "earliest", errstr, sizeof(errstr));
    rd_kafka_conf_set(cc, "enable.auto.commit", "false", errstr, sizeof(errstr));
    rd_kafka_t *cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof(errstr));
    cr_assert(cons, "%s", errstr);
    rd_kafka_poll_set_consumer(cons);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    cr_assert_eq(rd_kafka_subscribe(cons, sub), 0);
    rd_kafka_topic_partition_list_destroy(sub);

    char seen[N_MSGS] = {0};
    int got = 0;
    time_t deadline = time(NULL) + 60;
    while (got < N_MSGS && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 500);
        if (!m)
            continue;
        if (!m->err) {
            int idx;
            char buf[32];
            size_t l = m->len < sizeof(buf) - 1 ? m->len : sizeof(buf) - 1;
            memcpy(buf, m->payload, l);
            buf[l] = '\0';
            cr_assert_eq(sscanf(buf, "event-%d", &idx), 1, "unexpected payload %s", buf);
            cr_assert(idx >= 0 && idx < N_MSGS);
            cr_assert_eq(seen[idx], 0, "message %d delivered twice", idx);
            seen[idx] = 1;
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    cr_assert_eq(got, N_MSGS, "consumed %d of %d messages", got, N_MSGS);
    cr_assert_eq(rd_kafka_commit(cons, NULL, 0), 0, "group offset commit failed");

    /* The committed offsets add up to what was produced. */
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(3);
    for (int p = 0; p < 3; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p);
    cr_assert_eq(rd_kafka_committed(cons, parts, 10000), 0);
    int64_t total = 0;
    for (int p = 0; p < parts->cnt; p++)
        total += parts->elems[p].offset > 0 ? parts->elems[p].offset : 0;
    cr_assert_eq(total, N_MSGS, "committed offsets sum to %" PRId64, total);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
}

Test(services, postgres_write_and_read, .timeout = 60)
{
    const char *dsn = hf_it_env("HF_PG_DSN");
    PGconn *c = PQconnectdb(dsn);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    cr_assert_geq(PQserverVersion(c), 150000, "PostgreSQL 15 or newer expected");

    PGresult *r = PQexec(c, "CREATE TEMP TABLE it_services (id int PRIMARY KEY, v text)");
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
    PQclear(r);
    const char *params[2];
    for (int i = 0; i < 100; i++) {
        char id[16], v[32];
        snprintf(id, sizeof(id), "%d", i);
        snprintf(v, sizeof(v), "value '%d'", i);
        params[0] = id;
        params[1] = v;
        r = PQexecParams(c, "INSERT INTO it_services VALUES ($1, $2)", 2, NULL, params, NULL,
                         NULL, 0);
        cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
        PQclear(r);
    }
    r = PQexec(c, "SELECT count(*), sum(id), max(v) FROM it_services");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "100");
    cr_assert_str_eq(PQgetvalue(r, 0, 1), "4950");
    cr_assert_str_eq(PQgetvalue(r, 0, 2), "value '99'");
    PQclear(r);
    PQfinish(c);
}
