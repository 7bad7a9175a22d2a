/*
 * Unit tests for hf_consumer_ops (no network): readiness and its reasons
 * in order (starting, PostgreSQL, Kafka, no partitions, stalled partition,
 * stopping), a committed batch's counters adding up in the exposition and
 * in /status.json, lag gauges of partitions no longer owned removed, and
 * the Burrow status column hook.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hf_consumer_ops.h"
#include "hf_event_types.h"
#include "hf_log.h"
#include "hf_time.h"

static char *render(hf_metrics_t *r)
{
    hf_buf_t b = {0};
    hf_metrics_render(r, &b);
    return (char *)b.data;
}

static double metric(const char *text, const char *line_prefix)
{
    const char *p = strstr(text, line_prefix);
    cr_assert(p, "no line %s", line_prefix);
    return strtod(p + strlen(line_prefix), NULL);
}

static void expect_not_ready(hf_consumer_ops_t *o, const char *reason_prefix)
{
    char reason[256];
    cr_assert_not(hf_consumer_ops_ready(o, reason, sizeof(reason)), "ready, expected '%s'",
                  reason_prefix);
    cr_assert(strncmp(reason, reason_prefix, strlen(reason_prefix)) == 0, "reason '%s', want '%s'",
              reason, reason_prefix);
}

Test(consumer_ops, readiness_reasons_in_order)
{
    hf_log_init(HF_LOG_OFF, NULL);
    hf_metrics_t *reg = hf_metrics_new();
    hf_consumer_ops_t *o = hf_consumer_ops_new(reg);
    hf_config_t *cfg = hf_config_new();
    char err[256];
    cr_assert_eq(hf_config_set(cfg, "consume.stall_s", "5", "test", err, sizeof(err)), HF_OK);
    hf_consumer_ops_configure(o, cfg);
    expect_not_ready(o, "starting");
    hf_consumer_ops_started(o);
    expect_not_ready(o, "PostgreSQL not connected");
    hf_consumer_ops_pg(o, true);
    expect_not_ready(o, "Kafka not connected");
    hf_consumer_ops_kafka(o, true);
    expect_not_ready(o, "no partitions assigned");
    int64_t now = hf_time_mono_ms();
    hf_consumer_ops_part_t p[2] = {
        {.topic = "t", .partition = 0, .committed = 10, .position = 10, .high_watermark = 10,
         .progress_ms = now - 60000},
        {.topic = "t", .partition = 3, .committed = 5, .position = 15, .high_watermark = 15,
         .lag_seconds = 2.5, .progress_ms = now - 1000},
    };
    hf_consumer_ops_partitions(o, p, 2, now);
    char reason[256];
    cr_assert(hf_consumer_ops_ready(o, reason, sizeof(reason)), "%s", reason);
    /* lag and no commit for longer than consume.stall_s */
    p[1].progress_ms = now - 9000;
    hf_consumer_ops_partitions(o, p, 2, now);
    expect_not_ready(o, "stalled: t [3] has 10 messages of lag and no commit for 9 s");
    char *out = render(reg);
    cr_assert(strstr(out, "\nhemoflow_ready 0\n"), "%s", out);
    cr_assert(strstr(out, "hemoflow_kafka_partition_lag_messages{topic=\"t\",partition=\"3\"} 10\n"));
    cr_assert(strstr(out, "hemoflow_kafka_partition_lag_seconds{topic=\"t\",partition=\"3\"} 2.5\n"));
    cr_assert(strstr(out, "\nhemoflow_kafka_partitions_assigned 2\n"));
    free(out);
    /* a partition given up: its gauges go */
    hf_consumer_ops_partitions(o, p, 1, now);
    out = render(reg);
    cr_assert_null(strstr(out, "partition=\"3\""), "%s", out);
    cr_assert(strstr(out, "hemoflow_kafka_partition_lag_messages{topic=\"t\",partition=\"0\"} 0\n"));
    free(out);
    cr_assert(hf_consumer_ops_ready(o, reason, sizeof(reason)), "%s", reason);
    hf_consumer_ops_pg(o, false);
    expect_not_ready(o, "PostgreSQL not connected");
    hf_consumer_ops_pg(o, true);
    hf_consumer_ops_stopped(o);
    expect_not_ready(o, "stopping");
    hf_config_destroy(cfg);
    hf_consumer_ops_destroy(o);
    hf_metrics_destroy(reg);
}

static const char *lag_status(void *opaque, const char *topic, int32_t partition)
{
    (void)opaque;
    return strcmp(topic, "t") == 0 && partition == 1 ? "WARN" : NULL;
}

Test(consumer_ops, batch_counts_add_up)
{
    hf_log_init(HF_LOG_OFF, NULL);
    hf_metrics_t *reg = hf_metrics_new();
    hf_consumer_ops_t *o = hf_consumer_ops_new(reg);
    /* 100 messages: 80 inserted (DonationCollected 50 in 11, 20 in 65; UnitMoved 10 in 11),
     * 6 duplicates in the batch, 4 in the warehouse, 10 quarantined */
    hf_wh_stats_t st;
    memset(&st, 0, sizeof(st));
    size_t dc = (size_t)(hf_event_type_find("DonationCollected") - hf_event_types);
    size_t um = (size_t)(hf_event_type_find("UnitMoved") - hf_event_types);
    st.inserted = 80;
    st.inserted_by_province[dc][0] = 50;  /* 11 */
    st.inserted_by_province[dc][30] = 20; /* 65 */
    st.inserted_by_province[um][0] = 10;
    st.table[dc].rows = 72;
    st.table[dc].duplicates = 2;
    st.table[um].rows = 12;
    st.table[um].duplicates = 2;
    st.duplicates = 4;
    st.quarantined = 10;
    st.nqtally = 2;
    st.qtally[0] = (hf_wh_qtally_t){.event_type = -1, .reason = "bad_magic", .n = 7};
    st.qtally[1] = (hf_wh_qtally_t){.event_type = (int)dc, .reason = "invalid_din", .n = 3};
    st.newest_event_us[0] = INT64_C(1700000000) * 1000000;
    hf_hist_acc_observe(&st.latency, hf_wh_latency_bounds, hf_wh_latency_nbounds, 3);
    hf_consumer_ops_batch_t b = {.messages = 100, .st = &st, .build_us = 200000,
                                 .commit_us = 50000};
    b.batch_dups[dc] = 5;
    b.batch_dups[um] = 1;
    hf_consumer_ops_batch(o, &b);
    hf_consumer_ops_batch(o, &b);
    char *out = render(reg);
    cr_assert_eq(metric(out, "\nhemoflow_messages_consumed_total "), 200);
    cr_assert_eq(metric(out, "hemoflow_rows_loaded_total{event_type=\"DonationCollected\","
                             "province=\"65\"} "), 40);
    cr_assert_eq(metric(out, "hemoflow_duplicates_dropped_total{event_type=\"DonationCollected\","
                             "stage=\"batch\"} "), 10);
    cr_assert_eq(metric(out, "hemoflow_duplicates_dropped_total{event_type=\"UnitMoved\","
                             "stage=\"warehouse\"} "), 4);
    cr_assert_eq(metric(out, "hemoflow_records_quarantined_total{event_type=\"unknown\","
                             "reason=\"bad_magic\"} "), 14);
    cr_assert_eq(metric(out, "\nhemoflow_batch_rows_count "), 2);
    cr_assert_eq(metric(out, "\nhemoflow_commit_duration_seconds_sum "), 0.1);
    cr_assert_eq(metric(out, "hemoflow_copy_duration_seconds_count{event_type=\"UnitMoved\"} "), 2);
    cr_assert_eq(metric(out, "hemoflow_province_newest_event_timestamp_seconds{province=\"11\"} "),
                 1700000000);
    free(out);

    hf_consumer_ops_part_t p = {.topic = "t", .partition = 1, .committed = -1, .position = -1,
                                .high_watermark = 0, .progress_ms = hf_time_mono_ms()};
    hf_consumer_ops_partitions(o, &p, 1, hf_time_mono_ms());
    hf_buf_t js = {0};
    hf_consumer_ops_status_json(o, &js);
    json_error_t je;
    json_t *j = json_loads((const char *)js.data, 0, &je);
    cr_assert(j, "status json: %s", je.text);
    json_t *t = json_object_get(j, "totals");
    json_int_t msgs = json_integer_value(json_object_get(t, "messages"));
    json_int_t sum = json_integer_value(json_object_get(t, "rows_loaded")) +
                     json_integer_value(json_object_get(t, "duplicates")) +
                     json_integer_value(json_object_get(t, "quarantined"));
    cr_assert_eq(msgs, 200);
    cr_assert_eq(sum, msgs, "totals: %s", (const char *)js.data);
    json_t *part = json_array_get(json_object_get(j, "partitions"), 0);
    cr_assert(json_is_null(json_object_get(part, "status")), "no evaluator: status null");
    cr_assert_eq(json_array_size(json_object_get(j, "provinces")), 31);
    cr_assert_eq(json_array_size(json_object_get(j, "quarantine")), 2);
    json_decref(j);
    hf_buf_free(&js);

    hf_consumer_ops_set_lag_status(o, lag_status, NULL);
    hf_consumer_ops_status_json(o, &js);
    j = json_loads((const char *)js.data, 0, &je);
    part = json_array_get(json_object_get(j, "partitions"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(part, "status")), "WARN");
    json_decref(j);
    hf_buf_free(&js);
    hf_consumer_ops_destroy(o);
    hf_metrics_destroy(reg);
}
