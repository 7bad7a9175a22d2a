/*
 * hf_station — the station API: records in, durable spool, idempotent
 * producer out, acknowledgements back into the spool.
 *
 * Delivery runs in one of two modes:
 *   live     each accepted record is produced right after it is spooled;
 *   backlog  records are only spooled; a replay pass (a spool cursor) feeds
 *            the unacknowledged records to the producer in spool order,
 *            at most HF__WINDOW_MSGS / HF__WINDOW_BYTES in flight, and
 *            switches back to live when it reaches the end of the spool.
 * Backlog starts when the spool holds records from an earlier run, when a
 * delivery fails, and when librdkafka reports every broker down. A pass
 * starts only when nothing is in flight, so a record is never in flight
 * twice; a failed delivery aborts the pass and the next pass re-sends it.
 * librdkafka itself retries each message until message.timeout.ms
 * (publish.delivery_timeout_ms), so a pass fails only after that long.
 */
#include "hf_station.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <avro.h>
#include <librdkafka/rdkafka.h>

#include "hf_catalog.h"
#include "hf_event_types.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_pseudo.h"
#include "hf_record.h"
#include "hf_spool.h"
#include "hf_time.h"
#include "hf_validate.h"

#define HF__WINDOW_MSGS 20000
#define HF__WINDOW_BYTES (64u << 20)
#define HF__ACK_SYNC_US 200000 /* fsync acks at most this often */
#define HF__PASS_BACKOFF_US 1000000

typedef struct hf__val_s {
    const hf_event_type_t *type;
    int version;          /* as requested (0 = newest) */
    int actual_version;   /* resolved */
    uint64_t fp;
    avro_schema_t schema; /* borrowed from the catalogue */
    avro_value_iface_t *iface;
    avro_value_t value;
} hf__val_t;

struct hf_station_s {
    const hf_config_t *cfg;
    hf_catalog_t *cat;
    hf_pseudo_t *pseudo;        /* NULL when drain_only */
    hf_validate_rules_t rules;
    hf_spool_t *spool;
    rd_kafka_t *rk;             /* NULL when offline */
    bool offline;
    int64_t (*clock_us)(void *opaque); /* NULL = hf_time_wall_us */
    void *clock_opaque;
    char *prefix;               /* topic.prefix */
    char *source_system;
    int timeout_ms;             /* publish.delivery_timeout_ms */
    size_t max_record;          /* publish.max_record_bytes */
    hf__val_t *vals;            /* cached generic values per (type, version) */
    size_t nvals;
    hf_buf_t frame;
    hf_buf_t topic;
    char last_event_id[37];
    /* delivery */
    uint64_t inflight, inflight_bytes;
    bool live;
    hf_spool_cursor_t *cur;     /* replay pass in progress */
    bool pass_abort;            /* a delivery failed: stop the pass, start over */
    int64_t next_pass_us;       /* no pass before this (after a failure) */
    bool broker_up;
    bool fatal;                 /* idempotent producer raised a fatal error */
    bool renew;                 /* deliveries timed out: a new producer for the next pass */
    uint64_t renewals;          /* producers recreated after timeouts */
    bool failure_logged;
    int64_t last_ack_sync_us;
    /* stats */
    uint64_t accepted, rejected, delivered;
};

/* ==== helpers ==== */

static const char *hf__topic(hf_station_t *st, const hf_event_type_t *t)
{
    hf_buf_reset(&st->topic);
    hf_buf_append(&st->topic, st->prefix, strlen(st->prefix));
    hf_buf_append(&st->topic, t->snake, strlen(t->snake));
    hf_buf_append(&st->topic, "", 1);
    return (const char *)st->topic.data;
}

static void hf__broker_down(hf_station_t *st, const char *why)
{
    st->live = false;
    if (!st->broker_up)
        return;
    st->broker_up = false;
    hf_log_warn("publish.broker_down",
                "msg=\"broker unreachable, spooling\" reason=\"%s\" pending=%llu spool=%s", why,
                (unsigned long long)hf_spool_pending(st->spool), hf_spool_dir(st->spool));
}

static void hf__broker_up(hf_station_t *st)
{
    if (st->broker_up)
        return;
    st->broker_up = true;
    hf_log_warn("publish.broker_up", "msg=\"broker back, draining %llu\" pending=%llu",
                (unsigned long long)hf_spool_pending(st->spool),
                (unsigned long long)hf_spool_pending(st->spool));
}

/* ==== librdkafka callbacks (served from rd_kafka_poll in this thread) ==== */

static void hf__dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    hf_station_t *st = opaque;
    uint64_t seq = (uint64_t)(uintptr_t)m->_private;
    st->inflight--;
    st->inflight_bytes -= m->len;
    if (!m->err) {
        char err[512];
        if (hf_spool_ack(st->spool, seq, err, sizeof(err)) != HF_OK)
            hf_log_error("publish.ack", "seq=%llu msg=\"%s\"", (unsigned long long)seq, err);
        st->delivered++;
        st->failure_logged = false;
        hf__broker_up(st);
        return;
    }
    /* Kept in the spool; the next replay pass re-sends it. */
    st->live = false;
    st->pass_abort = true;
    if (m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT || m->err == RD_KAFKA_RESP_ERR__TRANSPORT ||
        m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        hf__broker_down(st, rd_kafka_err2str(m->err));
    /* A producer whose deliveries timed out may stay stuck after the broker
     * is back (librdkafka 2.12.1 was seen keeping partition leaders unknown
     * after a broker restart until every delivery timed out, pass after
     * pass): the next pass starts with a new one (fresh metadata). */
    if (m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
        st->renew = true;
    if (!st->failure_logged && m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
        m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
        st->failure_logged = true;
        hf_log_warn("publish.delivery_failed",
                    "topic=%s seq=%llu err=\"%s\" msg=\"kept in the spool, will be re-sent\"",
                    m->rkt ? rd_kafka_topic_name(m->rkt) : "-", (unsigned long long)seq,
                    rd_kafka_err2str(m->err));
    }
}

static void hf__error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    hf_station_t *st = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT) {
        hf__broker_down(st, reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t fe = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        hf_log_error("publish.producer_fatal",
                     "err=\"%s\" msg=\"%s; recreating the producer, events stay spooled\"",
                     rd_kafka_err2name(fe), buf);
        st->fatal = true;
        st->live = false;
        return;
    }
    hf_log_warn("publish.kafka_error", "err=%s msg=\"%s\"",
                rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* ==== producer ==== */

typedef struct hf__kconf_s {
    rd_kafka_conf_t *conf;
    char *errstr;
    size_t errstr_size;
} hf__kconf_t;

static hf_err_t hf__kset(void *opaque, const char *name, const char *value)
{
    hf__kconf_t *k = opaque;
    char e[256];
    if (rd_kafka_conf_set(k->conf, name, value, e, sizeof(e)) != RD_KAFKA_CONF_OK)
        return hf_err_set(HF_ERR_CONFIG, k->errstr, k->errstr_size, "kafka.%s: %s", name, e);
    return HF_OK;
}

static rd_kafka_t *hf__producer_new(hf_station_t *st, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    hf__kconf_t k = {conf, errstr, errstr_size};
    char tmo[32];
    snprintf(tmo, sizeof(tmo), "%d", st->timeout_ms);
    /* defaults a kafka.* key may override ... */
    if (hf__kset(&k, "compression.codec", "zstd") || hf__kset(&k, "linger.ms", "20") ||
        hf__kset(&k, "client.id", "hemoflow-publish") ||
        /* after a broker restart librdkafka 2.12 can cache "leader -1" and
         * hold the messages until the next periodic refresh (default 5 min,
         * past message.timeout.ms): refresh every 10 s */
        hf__kset(&k, "topic.metadata.refresh.interval.ms", "10000") ||
        hf_config_each_kafka(st->cfg, hf__kset, &k) ||
        /* ... and the delivery guarantee, which it may not */
        hf__kset(&k, "enable.idempotence", "true") || hf__kset(&k, "acks", "all") ||
        hf__kset(&k, "message.timeout.ms", tmo)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_conf_set_dr_msg_cb(conf, hf__dr_cb);
    rd_kafka_conf_set_error_cb(conf, hf__error_cb);
    rd_kafka_conf_set_log_cb(conf, hf_log_rdkafka_cb);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        hf_err_set(HF_ERR_KAFKA, errstr, errstr_size, "kafka producer: %s", e);
    }
    return rk;
}

/* Drop everything librdkafka holds (it is all still in the spool). */
static void hf__producer_drop(hf_station_t *st)
{
    if (!st->rk)
        return;
    rd_kafka_purge(st->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(st->rk, 0); /* serve the purge reports: inflight drops to 0 */
    rd_kafka_destroy(st->rk);
    st->rk = NULL;
    st->inflight = st->inflight_bytes = 0;
}

/* Hand one spooled record to librdkafka. HF_OK, HF_ERR_BUSY (queue full:
 * poll and retry), or HF_ERR_KAFKA (refused: stays spooled). */
static hf_err_t hf__produce(hf_station_t *st, uint64_t seq, const char *topic, const char *key,
                            size_t key_len, const void *payload, size_t len)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(
        st->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        st->inflight++;
        st->inflight_bytes += len;
        return HF_OK;
    }
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return HF_ERR_BUSY;
    if (!st->failure_logged) {
        st->failure_logged = true;
        hf_log_warn("publish.produce_failed", "topic=%s seq=%llu err=\"%s\" msg=\"kept in the "
                    "spool, will be re-sent\"", topic, (unsigned long long)seq,
                    rd_kafka_err2str(e));
    }
    st->live = false;
    st->pass_abort = true;
    return HF_ERR_KAFKA;
}

static bool hf__window_full(const hf_station_t *st)
{
    return st->inflight >= HF__WINDOW_MSGS || st->inflight_bytes >= HF__WINDOW_BYTES;
}

/* Advance the backlog: recreate a fatally failed producer, start or
 * continue a replay pass, switch to live at the end of the spool. */
static void hf__pump(hf_station_t *st)
{
    if (!st->rk && !st->fatal)
        return;
    if (st->fatal) {
        hf_spool_cursor_destroy(st->cur);
        st->cur = NULL;
        hf__producer_drop(st);
        char err[512];
        st->rk = hf__producer_new(st, err, sizeof(err));
        if (!st->rk) {
            hf_log_error("publish.producer", "msg=\"%s\"", err);
            return; /* stays fatal; retried on the next poll */
        }
        st->fatal = false;
        st->renew = false;
        st->live = false;
    }
    if (st->live)
        return;
    if (st->pass_abort) {
        hf_spool_cursor_destroy(st->cur);
        st->cur = NULL;
        st->pass_abort = false;
        st->next_pass_us = hf_time_mono_us() + HF__PASS_BACKOFF_US;
    }
    if (!st->cur) {
        if (st->inflight > 0 || hf_time_mono_us() < st->next_pass_us)
            return;
        if (st->renew) {
            char err[512];
            hf__producer_drop(st); /* nothing in flight: drops nothing */
            st->rk = hf__producer_new(st, err, sizeof(err));
            if (!st->rk) {
                hf_log_error("publish.producer", "msg=\"%s\"", err);
                st->fatal = true; /* retried on the next poll */
                return;
            }
            st->renew = false;
            st->renewals++;
            hf_log_info("publish.producer_renewed", "msg=\"deliveries timed out: new producer "
                        "for the next pass\" pending=%llu",
                        (unsigned long long)hf_spool_pending(st->spool));
        }
        st->cur = hf_spool_cursor_new(st->spool);
        st->failure_logged = false;
        hf_log_debug("publish.pass", "pending=%llu", (unsigned long long)hf_spool_pending(st->spool));
    }
    while (st->cur && !st->pass_abort && !hf__window_full(st)) {
        hf_spool_rec_t r;
        char err[512];
        hf_err_t e = hf_spool_cursor_next(st->cur, &r, err, sizeof(err));
        if (e == HF_ERR_NOT_FOUND) { /* everything spooled has been handed over */
            hf_spool_cursor_destroy(st->cur);
            st->cur = NULL;
            st->live = true;
            return;
        }
        if (e != HF_OK) {
            hf_log_error("publish.spool_read", "msg=\"%s\"", err);
            st->pass_abort = true;
            return;
        }
        hf_err_t pe;
        while ((pe = hf__produce(st, r.seq, r.topic, r.key, r.key_len, r.payload, r.len)) ==
               HF_ERR_BUSY)
            rd_kafka_poll(st->rk, 50);
        if (pe != HF_OK)
            return;
    }
}

static void hf__ack_sync(hf_station_t *st, bool force)
{
    int64_t now = hf_time_mono_us();
    if (!force && now - st->last_ack_sync_us < HF__ACK_SYNC_US)
        return;
    st->last_ack_sync_us = now;
    char err[512];
    if (hf_spool_sync(st->spool, err, sizeof(err)) != HF_OK)
        hf_log_error("publish.spool_sync", "msg=\"%s\"", err);
}

/* ==== lifecycle ==== */

hf_station_t *hf_station_new(const hf_station_conf_t *conf, char *errstr, size_t errstr_size)
{
    hf_station_t *st = hf_calloc(1, sizeof(*st));
    const hf_config_t *cfg = conf->cfg;
    st->cfg = cfg;
    st->offline = conf->offline;
    st->clock_us = conf->clock_us;
    st->clock_opaque = conf->clock_opaque;
    st->prefix = hf_strdup(hf_config_str(cfg, "topic.prefix"));
    st->source_system = hf_strdup(hf_config_str(cfg, "publish.source_system"));
    st->timeout_ms = (int)hf_config_int(cfg, "publish.delivery_timeout_ms");
    st->max_record = (size_t)hf_config_int(cfg, "publish.max_record_bytes");
    st->broker_up = true;
    hf_err_t e;
    if (!conf->drain_only) {
        const char *kf = conf->key_file ? conf->key_file : hf_config_str(cfg, "publish.key_file");
        if (!(st->pseudo = hf_pseudo_load(kf, &e, errstr, errstr_size)))
            goto fail;
        if (hf_validate_rules_from_config(&st->rules, cfg, errstr, errstr_size) != HF_OK)
            goto fail;
        if (!(st->cat = hf_catalog_load(hf_config_str(cfg, "schemas.dir"), errstr, errstr_size)))
            goto fail;
    }
    const char *dir = conf->spool_dir ? conf->spool_dir : hf_config_str(cfg, "publish.spool_dir");
    hf_spool_opts_t so = {.segment_bytes = (uint64_t)hf_config_int(cfg, "publish.spool_segment_bytes")};
    if (!(st->spool = hf_spool_open(dir, &so, &e, errstr, errstr_size)))
        goto fail;
    uint64_t pending = hf_spool_pending(st->spool);
    st->live = pending == 0;
    if (pending)
        hf_log_info("publish.spool_replay",
                    "spool=%s pending=%llu msg=\"%s\"", dir, (unsigned long long)pending,
                    conf->offline ? "unsent events from an earlier run stay spooled (offline)"
                                  : "re-sending events from an earlier run first");
    if (!conf->offline) {
        if (!(st->rk = hf__producer_new(st, errstr, errstr_size)))
            goto fail;
        hf__pump(st);
    }
    return st;
fail:
    hf_station_destroy(st);
    return NULL;
}

void hf_station_destroy(hf_station_t *st)
{
    if (!st)
        return;
    if (st->rk) {
        /* give what is in flight a chance, unless the broker is known down */
        if (st->inflight > 0 && st->broker_up && !st->fatal)
            rd_kafka_flush(st->rk, st->timeout_ms);
        hf_spool_cursor_destroy(st->cur);
        st->cur = NULL;
        hf__producer_drop(st);
    }
    hf_spool_cursor_destroy(st->cur);
    if (st->spool && hf_spool_pending(st->spool))
        hf_log_info("publish.spooled", "spool=%s pending=%llu msg=\"kept for the next run\"",
                    hf_spool_dir(st->spool), (unsigned long long)hf_spool_pending(st->spool));
    hf_spool_close(st->spool);
    for (size_t i = 0; i < st->nvals; i++) {
        avro_value_decref(&st->vals[i].value);
        avro_value_iface_decref(st->vals[i].iface);
    }
    hf_free(st->vals);
    hf_catalog_destroy(st->cat);
    hf_pseudo_destroy(st->pseudo);
    hf_buf_free(&st->frame);
    hf_buf_free(&st->topic);
    hf_free(st->prefix);
    hf_free(st->source_system);
    hf_free(st);
}

/* ==== submitting ==== */

static hf__val_t *hf__val(hf_station_t *st, const hf_event_type_t *t, int version)
{
    for (size_t i = 0; i < st->nvals; i++)
        if (st->vals[i].type == t && st->vals[i].version == version)
            return &st->vals[i];
    uint64_t fp;
    avro_schema_t s = hf_catalog_schema(st->cat, t->name, version, &fp);
    if (!s)
        return NULL;
    hf_catalog_info_t info;
    int actual = version;
    if (hf_catalog_find(st->cat, fp, &info) == HF_OK)
        actual = info.version;
    st->vals = hf_realloc(st->vals, (st->nvals + 1) * sizeof(*st->vals));
    hf__val_t *v = &st->vals[st->nvals++];
    v->type = t;
    v->version = version;
    v->actual_version = actual;
    v->fp = fp;
    v->schema = s;
    v->iface = avro_generic_class_from_schema(s);
    if (!v->iface || avro_generic_value_new(v->iface, &v->value) != 0) {
        hf_log_error("publish.avro", "type=%s msg=\"%s\"", t->name, avro_strerror());
        abort();
    }
    return v;
}

static int hf__version_of(const hf_field_t *fields, size_t n, const hf_submit_opts_t *opts)
{
    if (opts && opts->schema_version > 0)
        return opts->schema_version;
    for (size_t i = 0; i < n; i++) {
        if (fields[i].name && !strcmp(fields[i].name, "schema_version") && fields[i].value &&
            *fields[i].value) {
            char *end;
            long v = strtol(fields[i].value, &end, 10);
            return (*end || v <= 0 || v > 1000) ? -1 : (int)v;
        }
    }
    return 0;
}

static hf_err_t hf__reject(hf_reject_t *rej, const char *reason, const char *field,
                           const char *detail)
{
    rej->reason = reason;
    snprintf(rej->field, sizeof(rej->field), "%s", field);
    snprintf(rej->detail, sizeof(rej->detail), "%s", detail);
    return HF_ERR_INVALID;
}

/* Spool (and, in live mode, produce) one frame. */
static hf_err_t hf__accept(hf_station_t *st, const char *topic, const char *key, size_t key_len,
                           const void *payload, size_t len, bool sync, hf_reject_t *rej)
{
    uint64_t seq;
    hf_err_t e = hf_spool_append(st->spool, topic, key, key_len, payload, len, sync, &seq,
                                 rej->detail, sizeof(rej->detail));
    if (e) {
        rej->reason = "local_error";
        rej->field[0] = '\0';
        hf_log_error("publish.spool_append", "msg=\"%s\"", rej->detail);
        return e;
    }
    st->accepted++;
    if (!st->rk)
        return HF_OK;
    if (st->live) {
        while (st->live && hf__window_full(st))
            rd_kafka_poll(st->rk, 50);
        hf_err_t pe;
        while (st->live &&
               (pe = hf__produce(st, seq, topic, key, key_len, payload, len)) == HF_ERR_BUSY)
            rd_kafka_poll(st->rk, 50);
    }
    rd_kafka_poll(st->rk, 0);
    hf__pump(st);
    hf__ack_sync(st, false);
    return HF_OK;
}

hf_err_t hf_station_submit(hf_station_t *st, const char *event_type, const hf_field_t *fields,
                           size_t nfields, const hf_submit_opts_t *opts, hf_reject_t *reject)
{
    hf_reject_t dummy;
    if (!reject)
        reject = &dummy;
    memset(reject, 0, sizeof(*reject));
    reject->reason = "";
    if (!st->cat) {
        reject->reason = "local_error";
        snprintf(reject->detail, sizeof(reject->detail),
                 "station opened with drain_only: it cannot submit records");
        return HF_ERR_USAGE;
    }
    const hf_event_type_t *t = event_type ? hf_event_type_find(event_type) : NULL;
    if (!t) {
        st->rejected++;
        return hf__reject(reject, "event_type_unknown", "event_type",
                          "not one of the ten hemoflow event types");
    }
    int version = hf__version_of(fields, nfields, opts);
    hf__val_t *v = version < 0 ? NULL : hf__val(st, t, version);
    if (!v) {
        st->rejected++;
        return hf__reject(reject, HF_RR_SCHEMA_VERSION, "schema_version",
                          "no such schema version in schemas.dir");
    }
    avro_value_reset(&v->value);
    hf_record_ctx_t ctx = {.pseudo = st->pseudo, .rules = &st->rules,
                           .source_system = st->source_system, .now_us = st->clock_us ? st->clock_us(st->clock_opaque)
                                                 : hf_time_wall_us(),
                           .skip_validation = opts && opts->skip_validation};
    char event_id[37];
    hf_err_t e = hf__record_build(&ctx, t->name, v->actual_version, v->schema, &v->value, fields,
                                  nfields, reject, event_id);
    if (e) {
        st->rejected++;
        return e;
    }
    char err[256];
    hf_buf_reset(&st->frame);
    if ((e = hf_catalog_encode(st->cat, &v->value, v->fp, &st->frame, err, sizeof(err)))) {
        st->rejected++;
        return hf__reject(reject, "encode_failed", "", err);
    }
    if (st->frame.len > st->max_record) {
        st->rejected++;
        snprintf(err, sizeof(err), "encoded event is %zu bytes, more than publish.max_record_bytes",
                 st->frame.len);
        return hf__reject(reject, HF_RR_TOO_LARGE, "", err);
    }
    avro_value_t fac;
    const char *key = "";
    size_t key_size = 1;
    if (avro_value_get_by_name(&v->value, "facility_id", &fac, NULL) == 0)
        avro_value_get_string(&fac, &key, &key_size);
    e = hf__accept(st, hf__topic(st, t), key, key_size ? key_size - 1 : 0, st->frame.data,
                   st->frame.len, !(opts && opts->defer_sync), reject);
    if (!e)
        memcpy(st->last_event_id, event_id, sizeof(event_id));
    return e;
}

hf_err_t hf_station_submit_raw(hf_station_t *st, const char *event_type, const char *key,
                               const void *payload, size_t len)
{
    const hf_event_type_t *t = event_type ? hf_event_type_find(event_type) : NULL;
    if (!t)
        return HF_ERR_INVALID;
    if (len > HF_SPOOL_RECORD_MAX)
        return HF_ERR_OVERSIZE;
    hf_reject_t rej;
    return hf__accept(st, hf__topic(st, t), key ? key : "", key ? strlen(key) : 0, payload, len,
                      true, &rej);
}

const char *hf_station_last_event_id(const hf_station_t *st)
{
    return st->last_event_id;
}

bool hf_station_column_known(hf_station_t *st, const char *event_type, int schema_version,
                             const char *column)
{
    const hf_event_type_t *t = event_type ? hf_event_type_find(event_type) : NULL;
    if (!t || !st->cat)
        return false;
    hf__val_t *v = hf__val(st, t, schema_version);
    return v && (!strcmp(column, "event_id") || hf__record_column_known(v->schema, column));
}

hf_err_t hf_station_sync(hf_station_t *st, char *errstr, size_t errstr_size)
{
    hf_err_t e = hf_spool_sync(st->spool, errstr, errstr_size);
    if (!e)
        st->last_ack_sync_us = hf_time_mono_us();
    return e;
}

/* ==== delivery ==== */

void hf_station_poll(hf_station_t *st, int timeout_ms)
{
    if (!st->rk && !st->fatal) {
        hf__ack_sync(st, false);
        return;
    }
    if (st->rk)
        rd_kafka_poll(st->rk, timeout_ms);
    hf__pump(st);
    if (st->rk)
        rd_kafka_poll(st->rk, 0);
    hf__ack_sync(st, false);
}

hf_err_t hf_station_flush(hf_station_t *st, int timeout_ms)
{
    int64_t deadline = hf_time_mono_us() + (int64_t)timeout_ms * 1000;
    while (hf_spool_pending(st->spool) > 0) {
        if (st->offline)
            break;
        int64_t left = (deadline - hf_time_mono_us()) / 1000;
        if (left <= 0)
            break;
        hf_station_poll(st, left < 100 ? (int)left : 100);
    }
    hf__ack_sync(st, true);
    return hf_spool_pending(st->spool) ? HF_ERR_TIMEOUT : HF_OK;
}

void hf_station_stats(const hf_station_t *st, hf_station_stats_t *out)
{
    out->accepted = st->accepted;
    out->rejected = st->rejected;
    out->delivered = st->delivered;
    out->pending = hf_spool_pending(st->spool);
    out->broker_up = st->broker_up;
}
