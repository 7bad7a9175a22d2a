/*
 * Integration: `hemoflow simulate` against the real Kafka broker. Creates
 * the ten topics under a private prefix, simulates ~5000 events with every
 * fault enabled, consumes every topic back and checks, per event type, that
 * the broker holds exactly what the --report says: message counts, distinct
 * valid event_ids (= expected warehouse rows), resends, amendments,
 * retractions, old-schema events, and each injected fault decoded to the
 * error the consumer will quarantine it for (docs/simulate.md).
 */
#define _GNU_SOURCE /* memmem */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "hf_catalog.h"
#include "hf_decoder.h"
#include "hf_event_types.h"
#include "hf_it.h"
#include "hf_mem.h"
#include "hf_validate.h"

#define NT 10

typedef struct got_s {
    uint64_t messages, valid_msgs, distinct, created, amend, retract, old_schema;
    uint64_t bad_magic, truncated, unknown_fp, din_format, din_check, other_err;
    char **ids; /* distinct event_ids seen (linear set; ~5000 per run) */
    size_t nids, capids;
} got_t;

static bool id_add(got_t *g, const char *id)
{
    for (size_t i = 0; i < g->nids; i++)
        if (!strcmp(g->ids[i], id))
            return false;
    if (g->nids == g->capids) {
        g->capids = g->capids ? g->capids * 2 : 256;
        g->ids = hf_realloc(g->ids, g->capids * sizeof(char *));
    }
    g->ids[g->nids++] = hf_strdup(id);
    return true;
}

static const char *str_field(avro_value_t *rec, const char *name)
{
    avro_value_t f, b;
    const char *s = NULL;
    size_t n;
    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        return NULL;
    if (avro_value_get_type(&f) == AVRO_UNION) {
        if (avro_value_get_current_branch(&f, &b) != 0 || avro_value_get_type(&b) == AVRO_NULL)
            return NULL;
        f = b;
    }
    if (avro_value_get_string(&f, &s, &n) != 0)
        return NULL;
    return s;
}

static const char *enum_field(avro_value_t *rec, const char *name)
{
    avro_value_t f;
    int sym;
    if (avro_value_get_by_name(rec, name, &f, NULL) != 0 || avro_value_get_enum(&f, &sym) != 0)
        return NULL;
    return avro_schema_enum_get(avro_value_get_schema(&f), sym);
}

static uint64_t jget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_integer(v), "report has no integer '%s'", k);
    return (uint64_t)json_integer_value(v);
}

static void run(const char *cmd)
{
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

/* The raw donor/patient ID numbers of the run, read from the CSV exports
 * that `simulate --output` writes for the same seed and options. */
typedef struct ids_s {
    char **v;
    size_t n, cap;
} ids_t;

static void raw_ids_from_csv(ids_t *ids, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[4096];
    int col = -1;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        int i = 0;
        char *rest = line;
        for (char *c = strsep(&rest, ","); c; c = strsep(&rest, ","), i++) {
            if (col < 0 && (!strcmp(c, "donor_id") || !strcmp(c, "patient_id")))
                col = i;
            else if (i == col && strlen(c) >= 15) {
                if (ids->n == ids->cap) {
                    ids->cap = ids->cap ? ids->cap * 2 : 1024;
                    ids->v = hf_realloc(ids->v, ids->cap * sizeof(char *));
                }
                ids->v[ids->n++] = hf_strdup(c);
            }
        }
        if (col < 0)
            break; /* no ID column in this file */
    }
    fclose(f);
}

static const char *raw_id_in(const ids_t *ids, const void *p, size_t n)
{
    for (size_t i = 0; i < ids->n; i++)
        if (memmem(p, n, ids->v[i], strlen(ids->v[i])))
            return ids->v[i];
    return NULL;
}

Test(simulate_it, broker_holds_exactly_the_report, .timeout = 600)
{
    const char *bootstrap = hf_it_env("HF_KAFKA_BOOTSTRAP");
    const char *bin = hf_it_env("HF_BIN");
    const char *src = hf_it_env("HF_SOURCE_DIR");
    char dir[] = "/tmp/hf-it-simulate-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char prefix[96];
    snprintf(prefix, sizeof(prefix), "hf-it-sim-%ld-%d.", (long)time(NULL), (int)getpid());

    /* key file: 32 random bytes as hex, mode 0600 */
    char *key = hf_asprintf("%s/key", dir);
    FILE *kf = fopen(key, "w");
    cr_assert_not_null(kf);
    srand((unsigned)getpid()); /* only for the test key; the simulator never uses rand() */
    char keyhex[65];
    for (int i = 0; i < 32; i++)
        snprintf(keyhex + 2 * i, 3, "%02x", rand() & 0xff);
    fputs(keyhex, kf);
    fclose(kf);
    chmod(key, 0600);
    hf_it_register_secret("test_simulate HMAC key", keyhex);

    char *common = hf_asprintf("'%s' --set kafka.bootstrap.servers=%s --set topic.prefix=%s", bin,
                               bootstrap, prefix);
    char *cmd = hf_asprintf("%s topics --partitions 3 >%s/topics.out 2>&1", common, dir);
    run(cmd);
    hf_free(cmd);
    const char *args = "--count 5000 --days 5 --end-date 2026-03-15 --seed 77 "
                       "--dup-rate 0.05 --late-rate 0.03 --amend-rate 0.02 --retract-rate 0.02 "
                       "--malformed-rate 0.01 --unknown-fp-rate 0.01 --bad-din-rate 0.01 "
                       "--old-schema-rate 0.2";
    cmd = hf_asprintf("%s simulate %s -k %s -d %s/spool --timeout 60000 "
                      "--report %s/report.json >%s/sim.out 2>%s/sim.err",
                      common, args, key, dir, dir, dir, dir);
    run(cmd);
    hf_free(cmd);
    /* the same traffic as CSV (dry run): its raw IDs must not be in Kafka,
     * and its report must equal the published run's */
    cmd = hf_asprintf("%s simulate %s --output %s/csv --report %s/dry.json >/dev/null 2>&1", common,
                      args, dir, dir);
    run(cmd);
    hf_free(cmd);
    ids_t raw = {0};
    for (size_t t = 0; t < NT; t++) {
        char *p = hf_asprintf("%s/csv/%s.csv", dir, hf_event_types[t].name);
        raw_ids_from_csv(&raw, p);
        hf_free(p);
    }
    char *p1 = hf_asprintf("%s/csv/DonationCollected.v1.csv", dir);
    raw_ids_from_csv(&raw, p1);
    hf_free(p1);
    cr_assert_gt(raw.n, 500, "too few raw IDs in the CSV exports");
    cmd = hf_asprintf("cmp -s %s/report.json %s/dry.json", dir, dir);
    run(cmd);
    hf_free(cmd);

    char *rpath = hf_asprintf("%s/report.json", dir);
    json_error_t je;
    json_t *rep = json_load_file(rpath, 0, &je);
    cr_assert_not_null(rep, "report: %s", je.text);
    json_t *types = json_object_get(rep, "event_types");
    uint64_t total = jget(json_object_get(rep, "totals"), "messages");
    cr_assert(total > 4000 && total < 6500, "messages %" PRIu64 " far from --count", total);
    cr_assert_eq(jget(json_object_get(rep, "totals"), "rejected"), 0);

    /* consume everything back */
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)), 0);
    cr_assert_eq(rd_kafka_conf_set(conf, "group.id", prefix, err, sizeof(err)), 0);
    cr_assert_eq(rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)), 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    cr_assert_not_null(rk, "%s", err);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(NT * 3);
    int64_t expected_total = 0;
    for (size_t t = 0; t < NT; t++) {
        char topic[160];
        snprintf(topic, sizeof(topic), "%s%s", prefix, hf_event_types[t].snake);
        for (int p = 0; p < 3; p++) {
            int64_t lo, hi;
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
            cr_assert_eq(e, 0, "watermarks %s/%d: %s", topic, p, rd_kafka_err2str(e));
            expected_total += hi - lo;
            rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
    }
    cr_assert_eq((uint64_t)expected_total, total,
                 "broker holds %" PRId64 " messages, report %" PRIu64, expected_total, total);
    cr_assert_eq(rd_kafka_assign(rk, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);

    char *sdir = hf_asprintf("%s/schemas/avro", src);
    hf_catalog_t *cat = hf_catalog_load(sdir, err, sizeof(err));
    cr_assert_not_null(cat, "%s", err);
    hf_decoder_t *dec = hf_decoder_new(cat);
    got_t got[NT];
    memset(got, 0, sizeof(got));
    int64_t seen = 0;
    time_t deadline = time(NULL) + 120;
    size_t plen = strlen(prefix);
    while (seen < expected_total && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        seen++;
        const char *tn = rd_kafka_topic_name(m->rkt) + plen;
        const hf_event_type_t *et = hf_event_type_find(tn);
        cr_assert_not_null(et, "topic %s", tn);
        got_t *g = &got[et - hf_event_types];
        g->messages++;
        hf_decoded_t d;
        hf_err_t e = hf_decoder_decode(dec, m->payload, m->len, 1 << 20, &d, err, sizeof(err));
        if (e == HF_ERR_BAD_MAGIC)
            g->bad_magic++;
        else if (e == HF_ERR_TRUNCATED)
            g->truncated++;
        else if (e == HF_ERR_UNKNOWN_FINGERPRINT)
            g->unknown_fp++;
        else if (e != HF_OK)
            g->other_err++;
        else {
            cr_assert_eq(d.event_type, et, "frame of %s on topic %s", d.event_type->name, tn);
            const char *leak = raw_id_in(&raw, m->payload, m->len);
            cr_assert_null(leak, "raw ID number %s reached Kafka", leak);
            const char *din = str_field(d.value, "din");
            const char *why = din ? hf_validate_din_reason(din, strlen(din)) : NULL;
            if (din && (why || strlen(din) != 13)) {
                if (why && !strcmp(why, HF_VR_DIN_CHECK))
                    g->din_check++;
                else
                    g->din_format++;
            } else {
                g->valid_msgs++;
                const char *id = str_field(d.value, "event_id");
                cr_assert_not_null(id);
                if (id_add(g, id)) {
                    g->distinct++;
                    const char *op = enum_field(d.value, "op");
                    cr_assert_not_null(op);
                    if (!strcmp(op, "amend"))
                        g->amend++;
                    else if (!strcmp(op, "retract"))
                        g->retract++;
                    else
                        g->created++;
                    if (d.writer_version != d.reader_version)
                        g->old_schema++;
                }
                const char *pid = str_field(d.value, "donor_pid");
                if (!pid)
                    pid = str_field(d.value, "patient_pid");
                if (pid)
                    cr_assert_eq(strlen(pid), 64, "pid is not an HMAC-SHA256 hex: %s", pid);
            }
        }
        rd_kafka_message_destroy(m);
    }
    cr_assert_eq(seen, expected_total, "consumed %" PRId64 " of %" PRId64, seen, expected_total);

    json_t *rows = json_object_get(rep, "expected_warehouse_rows");
    json_t *qd = json_object_get(rep, "expected_quarantine_detail");
    uint64_t bad_magic = 0, truncated = 0, unknown = 0, din_format = 0, din_check = 0;
    for (size_t t = 0; t < NT; t++) {
        const char *n = hf_event_types[t].name;
        json_t *o = json_object_get(types, n);
        got_t *g = &got[t];
        cr_assert_eq(g->other_err, 0, "%s: unexpected decode errors", n);
        cr_assert_eq(g->messages, jget(o, "messages"), "%s messages", n);
        cr_assert_eq(g->distinct, jget(rows, hf_event_types[t].snake), "%s distinct event_ids", n);
        cr_assert_eq(g->created, jget(o, "created"), "%s created", n);
        cr_assert_eq(g->amend, jget(o, "amendments"), "%s amendments", n);
        cr_assert_eq(g->retract, jget(o, "retractions"), "%s retractions", n);
        cr_assert_eq(g->valid_msgs - g->distinct, jget(o, "resends"), "%s resends", n);
        cr_assert_eq(g->old_schema, jget(o, "old_schema"), "%s old schema", n);
        cr_assert_eq(g->bad_magic, jget(o, "malformed_bad_magic"), "%s bad magic", n);
        cr_assert_eq(g->truncated, jget(o, "malformed_truncated"), "%s truncated", n);
        cr_assert_eq(g->unknown_fp, jget(o, "unknown_fingerprint"), "%s unknown fp", n);
        cr_assert_eq(g->din_format + g->din_check, jget(o, "bad_din"), "%s bad DIN", n);
        bad_magic += g->bad_magic;
        truncated += g->truncated;
        unknown += g->unknown_fp;
        din_format += g->din_format;
        din_check += g->din_check;
        for (size_t i = 0; i < g->nids; i++)
            hf_free(g->ids[i]);
        hf_free(g->ids);
    }
    cr_assert_eq(bad_magic, jget(qd, "bad_magic"));
    cr_assert_eq(truncated, jget(qd, "truncated"));
    cr_assert_eq(unknown, jget(qd, "unknown_fingerprint"));
    cr_assert_eq(din_format, jget(qd, "din_format"));
    cr_assert_eq(din_check, jget(qd, "din_check"));
    /* every fault kind was exercised */
    cr_assert(bad_magic && truncated && unknown && din_format + din_check > 0);
    cr_assert_gt(got[2].old_schema, 0);

    for (size_t i = 0; i < raw.n; i++)
        hf_free(raw.v[i]);
    hf_free(raw.v);
    hf_decoder_destroy(dec);
    hf_catalog_destroy(cat);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    json_decref(rep);
    cmd = hf_asprintf("rm -rf '%s'", dir);
    run(cmd);
    hf_free(cmd);
    hf_free(sdir);
    hf_free(rpath);
    hf_free(common);
    hf_free(key);
}
