/*
 * hf_config — the key table, parsing and validation of values, the file
 * and environment loaders, and the kafka.* / pg.* passthrough lists.
 *
 * To add a key: add one row to hf__keys below. Nothing else changes; --help,
 * env overrides and validation follow from the row.
 */
#include "hf_config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "hf_datadir.h"
#include "hf_log.h"
#include "hf_mem.h"

extern char **environ;

/* ==== the key table ==== */

typedef enum { HF_T_STR, HF_T_INT, HF_T_SIZE, HF_T_BOOL, HF_T_DOUBLE, HF_T_ENUM } hf__type_t;

typedef struct hf__key_s {
    const char *name;
    hf__type_t type;
    const char *def;
    int64_t min, max;   /* HF_T_INT / HF_T_SIZE bounds (inclusive) */
    const char *choices; /* HF_T_ENUM: "a|b|c" */
    bool reloadable;     /* SIGHUP may change it */
    const char *doc;
} hf__key_t;

/* A default beginning with HF__DATA is relative to the data folder that
 * hf_datadir_find() picks when the config is created (installed
 * share/hemoflow, or the source checkout for a build-tree binary). */
#define HF__DATA "<data dir>/"
#define HF_SCHEMA_DIR_DEFAULT HF__DATA "schemas/avro"
#define HF_SQL_DIR_DEFAULT HF__DATA "schemas/sql"

static const hf__key_t hf__keys[] = {
    /* general */
    {"log.level", HF_T_ENUM, "info", 0, 0, "debug|info|warn|error", true,
     "Lowest level logged."},
    {"log.file", HF_T_STR, "", 0, 0, NULL, true,
     "Append log lines to this file instead of stderr (consume reopens it on SIGHUP, for log "
     "rotation); empty: stderr."},
    {"schemas.dir", HF_T_STR, HF_SCHEMA_DIR_DEFAULT, 0, 0, NULL, false,
     "Folder of Avro schemas (<EventType>.v<N>.avsc); every version ever published."},
    {"topic.prefix", HF_T_STR, "hemoflow.", 0, 0, NULL, false,
     "Topic name prefix; topics are <prefix><snake_case_event_type>."},
    /* kafka (also passed through) */
    {"kafka.bootstrap.servers", HF_T_STR, "127.0.0.1:9092", 0, 0, NULL, false,
     "Kafka bootstrap servers; every other kafka.* key goes to librdkafka unchanged."},
    /* validation */
    {"validate.clock_skew_s", HF_T_INT, "300", 0, 30 * 86400, NULL, true,
     "How far in the future an event time may be, in seconds, before it is rejected."},
    {"validate.time_floor", HF_T_STR, "1990-01-01", 0, 0, NULL, true,
     "Event times before this date (YYYY-MM-DD, UTC) are rejected."},
    {"validate.whole_blood_ml", HF_T_STR, "200,300,400", 0, 0, NULL, true,
     "Allowed whole-blood donation volumes in mL, comma-separated."},
    {"validate.apheresis_platelets_max_ml", HF_T_INT, "500", 1, 5000, NULL, true,
     "Largest plausible apheresis platelet collection, mL."},
    {"validate.plasma_max_g", HF_T_INT, "600", 1, 5000, NULL, true,
     "Largest plasma donation including anticoagulant, grams."},
    /* publish (station side) */
    {"publish.key_file", HF_T_STR, "", 0, 0, NULL, false,
     "HMAC-SHA256 key file for pseudonymizing donor/patient IDs; must be mode 0600."},
    {"publish.spool_dir", HF_T_STR, "hemoflow-spool", 0, 0, NULL, false,
     "Durable local spool folder; events stay here until the broker acknowledges them."},
    {"publish.spool_segment_bytes", HF_T_SIZE, "16M", 4096, INT64_C(1) << 32, NULL, false,
     "Spool segment file size before a new segment is started."},
    {"publish.max_record_bytes", HF_T_SIZE, "1M", 1024, 64 << 20, NULL, false,
     "Longest accepted input line/record."},
    {"publish.delivery_timeout_ms", HF_T_INT, "30000", 1000, 3600000, NULL, false,
     "How long the producer retries one send before the event is left in the spool."},
    {"publish.source_system", HF_T_STR, "hemoflow-publish", 0, 0, NULL, false,
     "source_system of records whose export has no source_system column."},
    /* consume */
    {"consume.group_id", HF_T_STR, "hemoflow-loader", 0, 0, NULL, false,
     "Kafka consumer group of the loader instances."},
    {"consume.batch_max_rows", HF_T_INT, "20000", 1, 1000000, NULL, true,
     "A batch is loaded when it holds this many records..."},
    {"consume.batch_max_bytes", HF_T_SIZE, "16M", 1024, INT64_C(1) << 30, NULL, true,
     "...or this many bytes of messages..."},
    {"consume.batch_max_ms", HF_T_INT, "500", 1, 600000, NULL, true,
     "...or when its first record has waited this long."},
    {"consume.loaders", HF_T_INT, "2", 1, 8, NULL, false,
     "Loader connections (lanes): each commits the batches of its share of the owned "
     "partitions in parallel with the others."},
    {"consume.memory_max_bytes", HF_T_SIZE, "40M", 1 << 20, INT64_C(1) << 34, NULL, false,
     "Memory budget: a quarter is librdkafka's prefetch (one queue for all partitions, "
     "plus the fetch response on top), half the batches (two per loader, one built while "
     "the other commits; each caps consume.batch_max_bytes at a 16th divided by "
     "consume.loaders: a batch's footprint is ~4x its bytes)."},
    {"consume.max_message_bytes", HF_T_SIZE, "1M", 64, 64 << 20, NULL, false,
     "Larger messages are quarantined (reason oversize) without decoding."},
    {"consume.shutdown_deadline_ms", HF_T_INT, "10000", 0, 600000, NULL, true,
     "On SIGTERM/SIGINT, how long the in-flight batch may take to finish."},
    {"consume.retry_backoff_max_ms", HF_T_INT, "30000", 10, 600000, NULL, false,
     "Longest wait between retries of a transient PostgreSQL/Kafka error."},
    {"consume.stall_s", HF_T_INT, "120", 5, 86400, NULL, true,
     "/readyz reports a stall when a partition with lag has not committed for this long, "
     "in seconds."},
    /* operations endpoint (consume) */
    {"http.enabled", HF_T_BOOL, "true", 0, 0, NULL, false,
     "Serve /metrics, /healthz, /readyz, /status.json and the status page / while consume "
     "runs."},
    {"http.address", HF_T_STR, "127.0.0.1", 0, 0, NULL, false,
     "Numeric IPv4 or IPv6 address the endpoint listens on (0.0.0.0 or :: for every "
     "interface)."},
    {"http.port", HF_T_INT, "9471", 0, 65535, NULL, false,
     "Port of the endpoint; 0 picks a free one (logged in http.listening)."},
    {"http.max_connections", HF_T_INT, "32", 1, 1024, NULL, false,
     "Connections served at once; further ones are closed."},
    {"http.max_request_bytes", HF_T_SIZE, "16K", 4096, 1 << 20, NULL, false,
     "Largest request line plus headers; larger requests are refused (431)."},
    {"http.timeout_s", HF_T_INT, "10", 1, 3600, NULL, false,
     "Idle connections are closed after this many seconds."},
    {"http.silent_province_s", HF_T_INT, "3600", 60, 90 * 86400, NULL, true,
     "The status page flags a province silent when its newest loaded event is older than "
     "this many seconds."},
    /* warehouse */
    {"warehouse.sql_dir", HF_T_STR, HF_SQL_DIR_DEFAULT, 0, 0, NULL, false,
     "Folder of versioned SQL migrations (NNNN_name.sql)."},
    {"warehouse.partition_granularity", HF_T_ENUM, "month", 0, 0, "month|day", false,
     "Width of each event-date range partition."},
    {"warehouse.partitions_ahead", HF_T_INT, "3", 0, 366, NULL, false,
     "How many months (or days) of partitions are created ahead of today."},
    {"warehouse.migrate_connections", HF_T_INT, "4", 1, 64, NULL, false,
     "Connections migrate and partitions use to create partitions side by side (one "
     "statement per fact table and province in flight on each)."},
    {"warehouse.loader_role", HF_T_STR, "hemoflow_loader", 0, 0, NULL, false,
     "Role that may only write fact and control tables."},
    {"warehouse.analyst_role", HF_T_STR, "hemoflow_analyst", 0, 0, NULL, false,
     "Role that may only read: the published indicator views and reference tables."},
    {"warehouse.analyst_raw_access", HF_T_BOOL, "false", 0, 0, NULL, false,
     "Also let the analyst role read the fact tables, _current views, hf_completeness and "
     "hf_quarantine (raw, unsuppressed); applied by migrate."},
    /* indicators (copied into hemoflow.hf_settings by migrate and refresh) */
    {"indicators.suppress_max", HF_T_INT, "7", 0, 1000000, NULL, true,
     "Published counts from 1 to this are suppressed (shown as *); 0 turns suppression off."},
    {"indicators.suppress_round", HF_T_INT, "5", 1, 1000000, NULL, true,
     "Other published counts are rounded to the nearest multiple of this; 1 = exact."},
    {"indicators.plasma_min_gap_days", HF_T_INT, "14", 0, 366, NULL, true,
     "Whole days required between two plasma donations (14: 1 March, then 16 March at the "
     "earliest)."},
    {"indicators.plasma_max_per_year", HF_T_INT, "24", 1, 366, NULL, true,
     "Most plasma donations a donor may give in any 365 days."},
    /* operations: the commit window, `hemoflow lag`, `hemoflow completeness` */
    {"lag.window_commits", HF_T_INT, "10", 2, 1000, NULL, false,
     "Commits kept per partition in hemoflow.hf_commit_window (the window the Burrow-style "
     "status is judged over)."},
    {"lag.window_min_interval_ms", HF_T_INT, "1000", 0, 3600000, NULL, false,
     "A commit sooner than this after a partition's newest window entry replaces that "
     "entry's offsets (keeping its time) instead of adding one."},
    {"lag.stop_min_ms", HF_T_INT, "10000", 0, 86400000, NULL, false,
     "STOP needs at least this long without a commit, besides Burrow's rule (longer than "
     "the window spans)."},
    {"lag.kafka_timeout_ms", HF_T_INT, "10000", 100, 600000, NULL, false,
     "How long `hemoflow lag` waits for each Kafka request (metadata, watermarks, the first "
     "unconsumed message)."},
    {"completeness.silent_after_s", HF_T_INT, "43200", 60, 30 * 86400, NULL, false,
     "A province whose newest loaded event happened longer ago than this (seconds) is "
     "flagged silent."},
};

#define HF__NKEYS (sizeof(hf__keys) / sizeof(hf__keys[0]))

/* ==== state ==== */

typedef struct hf__kv_s {
    char *name;  /* without the kafka./pg. prefix */
    char *value;
} hf__kv_t;

typedef struct hf__kvlist_s {
    hf__kv_t *v;
    size_t n, cap;
} hf__kvlist_t;

struct hf_config_s {
    char *val[HF__NKEYS];     /* current text value of each table key, owned */
    int64_t ival[HF__NKEYS];  /* parsed value for INT/SIZE/BOOL */
    double dval[HF__NKEYS];   /* parsed value for DOUBLE */
    hf__kvlist_t kafka;       /* kafka.* passthrough, in order set */
    hf__kvlist_t pg;          /* pg.* passthrough */
};

/* ==== helpers ==== */

static const hf__key_t *hf__find(const char *name, size_t *idx)
{
    for (size_t i = 0; i < HF__NKEYS; i++) {
        if (strcmp(hf__keys[i].name, name) == 0) {
            if (idx)
                *idx = i;
            return &hf__keys[i];
        }
    }
    return NULL;
}

static bool hf__parse_int(const char *s, bool sizes, int64_t *out)
{
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return false;
    if (sizes && *end) {
        int64_t mul = 1;
        switch (toupper((unsigned char)*end)) {
        case 'K': mul = 1024; break;
        case 'M': mul = 1024 * 1024; break;
        case 'G': mul = INT64_C(1024) * 1024 * 1024; break;
        default: return false;
        }
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (v > INT64_MAX / mul || v < INT64_MIN / mul)
            return false;
        v *= mul;
    }
    if (*end)
        return false;
    *out = v;
    return true;
}

static bool hf__choice_ok(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == vl && strncmp(p, v, len) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

/* Validate `value` for table key k; on success store it in cfg slot idx. */
static hf_err_t hf__set_table(hf_config_t *cfg, size_t idx, const char *value, const char *origin,
                              char *errstr, size_t errstr_size)
{
    const hf__key_t *k = &hf__keys[idx];
    int64_t iv = 0;
    double dv = 0;
    switch (k->type) {
    case HF_T_STR:
        break;
    case HF_T_INT:
    case HF_T_SIZE:
        if (!hf__parse_int(value, k->type == HF_T_SIZE, &iv) || iv < k->min || iv > k->max)
            return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                              "%s: key '%s': expected %s in [%lld, %lld], got '%s'", origin,
                              k->name, k->type == HF_T_SIZE ? "a size (e.g. 16M)" : "an integer",
                              (long long)k->min, (long long)k->max, value);
        break;
    case HF_T_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes") ||
            !strcmp(value, "on"))
            iv = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no") ||
                 !strcmp(value, "off"))
            iv = 0;
        else
            return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                              "%s: key '%s': expected true or false, got '%s'", origin, k->name,
                              value);
        break;
    case HF_T_DOUBLE: {
        char *end;
        errno = 0;
        dv = strtod(value, &end);
        if (errno || end == value || *end)
            return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                              "%s: key '%s': expected a number, got '%s'", origin, k->name, value);
        break;
    }
    case HF_T_ENUM:
        if (!hf__choice_ok(k->choices, value))
            return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                              "%s: key '%s': expected one of %s, got '%s'", origin, k->name,
                              k->choices, value);
        break;
    }
    hf_free(cfg->val[idx]);
    cfg->val[idx] = hf_strdup(value);
    cfg->ival[idx] = iv;
    cfg->dval[idx] = dv;
    return HF_OK;
}

static void hf__kv_put(hf__kvlist_t *l, const char *name, const char *value)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].name, name) == 0) {
            hf_free(l->v[i].value);
            l->v[i].value = hf_strdup(value);
            return;
        }
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = hf_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n].name = hf_strdup(name);
    l->v[l->n].value = hf_strdup(value);
    l->n++;
}

static void hf__kv_free(hf__kvlist_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        hf_free(l->v[i].name);
        hf_free(l->v[i].value);
    }
    hf_free(l->v);
    memset(l, 0, sizeof(*l));
}

/* librdkafka itself decides whether a kafka.* property exists and whether
 * its value is acceptable; ask it on a scratch conf so errors surface at
 * load time with the file and line, not at first connect. */
static hf_err_t hf__check_kafka(const char *prop, const char *value, const char *origin,
                                char *errstr, size_t errstr_size)
{
    char kerr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, prop, value, kerr, sizeof(kerr));
    rd_kafka_conf_destroy(conf);
    if (r != RD_KAFKA_CONF_OK)
        return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size, "%s: key 'kafka.%s': %s", origin,
                          prop, kerr);
    return HF_OK;
}

static hf_err_t hf__check_pg(const char *kw, const char *origin, char *errstr, size_t errstr_size)
{
    PQconninfoOption *opts = PQconndefaults();
    bool found = false;
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, kw) == 0) {
            found = true;
            break;
        }
    }
    PQconninfoFree(opts);
    if (!found)
        return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                          "%s: key 'pg.%s': not a libpq connection keyword", origin, kw);
    return HF_OK;
}

/* ==== public ==== */

/* k's default with HF__DATA resolved; caller frees with hf_free(). */
static char *hf__default(const hf__key_t *k)
{
    if (strncmp(k->def, HF__DATA, sizeof(HF__DATA) - 1) != 0)
        return hf_strdup(k->def);
    char *data = hf_datadir_find();
    char *v = hf_asprintf("%s/%s", data, k->def + sizeof(HF__DATA) - 1);
    hf_free(data);
    return v;
}

hf_config_t *hf_config_new(void)
{
    hf_config_t *cfg = hf_calloc(1, sizeof(*cfg));
    char err[256];
    for (size_t i = 0; i < HF__NKEYS; i++) {
        char *def = hf__default(&hf__keys[i]);
        hf_err_t e = hf__set_table(cfg, i, def, "default", err, sizeof(err));
        hf_free(def);
        if (e != HF_OK) {
            hf_log_error("config.default", "msg=\"%s\"", err);
            abort(); /* a bad default in the table is a bug */
        }
    }
    return cfg;
}

void hf_config_destroy(hf_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < HF__NKEYS; i++)
        hf_free(cfg->val[i]);
    hf__kv_free(&cfg->kafka);
    hf__kv_free(&cfg->pg);
    hf_free(cfg);
}

hf_err_t hf_config_set(hf_config_t *cfg, const char *key, const char *value, const char *origin,
                       char *errstr, size_t errstr_size)
{
    size_t idx;
    hf_err_t err;
    if (hf__find(key, &idx)) {
        err = hf__set_table(cfg, idx, value, origin, errstr, errstr_size);
        if (err)
            return err;
        if (strncmp(key, "kafka.", 6) == 0)
            hf__kv_put(&cfg->kafka, key + 6, value);
        return HF_OK;
    }
    if (strncmp(key, "kafka.", 6) == 0 && key[6]) {
        if ((err = hf__check_kafka(key + 6, value, origin, errstr, errstr_size)))
            return err;
        hf__kv_put(&cfg->kafka, key + 6, value);
        return HF_OK;
    }
    if (strncmp(key, "pg.", 3) == 0 && key[3]) {
        if ((err = hf__check_pg(key + 3, origin, errstr, errstr_size)))
            return err;
        hf__kv_put(&cfg->pg, key + 3, value);
        return HF_OK;
    }
    return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                      "%s: unknown key '%s' (see `hemoflow --help-config`)", origin, key);
}

/* ==== the file loader (syntax by libinih) ==== */

/* State of one hf_config_load_file() call, shared by the reader and the
 * handler that libinih calls back. libinih reads through hf__ini_read, one
 * physical line per call, and calls hf__ini_key for that line's key before
 * it reads the next one, so `lineno` is the line of the key being handled. */
typedef struct hf__ini_s {
    hf_config_t *cfg;
    FILE *f;
    const char *path;
    unsigned lineno;   /* lines handed to libinih so far */
    char line[256];    /* the current line as read (for syntax errors) */
    hf_err_t err;      /* first error; parsing stops there */
    char *errstr;
    size_t errstr_size;
} hf__ini_t;

static void hf__ini_origin(const hf__ini_t *x, char *buf, size_t size)
{
    snprintf(buf, size, "config %s:%u", x->path, x->lineno);
}

/* fgets-style reader for ini_parse_stream(). libinih (Debian's build) parses
 * in a fixed buffer of `num` bytes and would cut a longer line in two,
 * parsing the rest as a line of its own; refuse such a line instead. */
static char *hf__ini_read(char *buf, int num, void *opaque)
{
    hf__ini_t *x = opaque;
    if (x->err || !fgets(buf, num, x->f))
        return NULL;
    x->lineno++;
    snprintf(x->line, sizeof(x->line), "%s", buf);
    size_t len = strlen(buf);
    if (len == (size_t)num - 1 && buf[len - 1] != '\n' && !feof(x->f)) {
        char origin[512];
        hf__ini_origin(x, origin, sizeof(origin));
        x->err = hf_err_set(HF_ERR_CONFIG, x->errstr, x->errstr_size,
                            "%s: line too long (at most %d characters; give longer values "
                            "through the environment or --set)",
                            origin, num - 2);
        return NULL;
    }
    return buf;
}

/* libinih's handler: one `key = value` (already trimmed). A [section]
 * heading prefixes its keys: `[kafka]` then `acks = all` is kafka.acks.
 * Returns 0 to stop parsing. */
static int hf__ini_key(void *opaque, const char *section, const char *name, const char *value)
{
    hf__ini_t *x = opaque;
    char origin[512], key[512], val[256];
    hf__ini_origin(x, origin, sizeof(origin));
    if (!*name) {
        x->err = hf_err_set(HF_ERR_CONFIG, x->errstr, x->errstr_size, "%s: empty key", origin);
        return 0;
    }
    snprintf(key, sizeof(key), "%s%s%s", section, *section ? "." : "", name);
    /* optional "double quotes" around the value; inih keeps them */
    size_t vl = strlen(value);
    if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"')
        snprintf(val, sizeof(val), "%.*s", (int)(vl - 2), value + 1);
    else
        snprintf(val, sizeof(val), "%s", value);
    x->err = hf_config_set(x->cfg, key, val, origin, x->errstr, x->errstr_size);
    return x->err == HF_OK;
}

static char *hf__trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

hf_err_t hf_config_load_file(hf_config_t *cfg, const char *path, char *errstr, size_t errstr_size)
{
    hf__ini_t x = {.cfg = cfg, .path = path, .errstr = errstr, .errstr_size = errstr_size};
    if (!(x.f = fopen(path, "r")))
        return hf_err_set(errno == ENOENT ? HF_ERR_NOT_FOUND : HF_ERR_IO, errstr, errstr_size,
                          "config %s: %s", path, strerror(errno));
    /* Debian's libinih turns its compile-time options into process-wide
     * variables. hemoflow is their only user; these keep the file syntax
     * hemoflow always had (docs/configuration.md): an indented line is a
     * line of its own, not the continuation of the previous value; `;` or
     * `#` after a value is part of the value; the first error stops. */
    ini_allow_multiline = false;
    ini_allow_inline_comments = false;
    ini_stop_on_first_error = true;
    int bad_line = ini_parse_stream(hf__ini_read, &x, hf__ini_key, &x);
    hf_err_t err = x.err;
    if (!err && ferror(x.f))
        err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "config %s: read error", path);
    else if (!err && bad_line < 0)
        err = hf_err_set(HF_ERR_CONFIG, errstr, errstr_size, "config %s: cannot parse (inih %d)",
                         path, bad_line);
    else if (!err && bad_line > 0) /* a line that is no key, comment or [section] */
        err = hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                         "config %s:%d: expected 'key = value', got '%.64s'", path, bad_line,
                         hf__trim(x.line));
    fclose(x.f);
    return err;
}

hf_err_t hf_config_load_env(hf_config_t *cfg, char *const *envp, char *errstr, size_t errstr_size)
{
    static const char pfx[] = "HEMOFLOW_";
    if (!envp)
        envp = environ;
    for (char *const *e = envp; e && *e; e++) {
        if (strncmp(*e, pfx, sizeof(pfx) - 1) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char var[256];
        size_t vlen = (size_t)(eq - *e);
        if (vlen >= sizeof(var))
            return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size, "environment: name too long");
        memcpy(var, *e, vlen);
        var[vlen] = '\0';
        const char *rest = var + sizeof(pfx) - 1;
        char origin[300];
        snprintf(origin, sizeof(origin), "environment %s", var);

        /* Table keys first: exact mapping of dots and underscores. */
        const char *key = NULL;
        for (size_t i = 0; i < HF__NKEYS && !key; i++) {
            const char *n = hf__keys[i].name;
            size_t j = 0;
            for (; n[j] && rest[j]; j++) {
                char c = n[j] == '.' ? '_' : (char)toupper((unsigned char)n[j]);
                if (c != rest[j])
                    break;
            }
            if (!n[j] && !rest[j])
                key = n;
        }
        char buf[300];
        if (!key) {
            bool kafka = strncmp(rest, "KAFKA_", 6) == 0;
            bool pg = strncmp(rest, "PG_", 3) == 0;
            if (!kafka && !pg)
                return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                                  "%s: unknown key (see `hemoflow --help-config`)", origin);
            const char *p = rest + (kafka ? 6 : 3);
            size_t o = (size_t)snprintf(buf, sizeof(buf), "%s", kafka ? "kafka." : "pg.");
            for (; *p && o < sizeof(buf) - 1; p++)
                buf[o++] = (kafka && *p == '_') ? '.' : (char)tolower((unsigned char)*p);
            buf[o] = '\0';
            key = buf;
        }
        hf_err_t err = hf_config_set(cfg, key, eq + 1, origin, errstr, errstr_size);
        if (err)
            return err;
    }
    return HF_OK;
}

static size_t hf__idx(const char *key)
{
    size_t idx;
    if (!hf__find(key, &idx)) {
        hf_log_error("config.bug", "msg=\"unknown config key requested\" key=%s", key);
        abort();
    }
    return idx;
}

const char *hf_config_str(const hf_config_t *cfg, const char *key)
{
    return cfg->val[hf__idx(key)];
}

int64_t hf_config_int(const hf_config_t *cfg, const char *key)
{
    return cfg->ival[hf__idx(key)];
}

double hf_config_double(const hf_config_t *cfg, const char *key)
{
    return cfg->dval[hf__idx(key)];
}

bool hf_config_bool(const hf_config_t *cfg, const char *key)
{
    return cfg->ival[hf__idx(key)] != 0;
}

hf_err_t hf_config_each_kafka(const hf_config_t *cfg, hf_config_kv_fn fn, void *opaque)
{
    /* bootstrap.servers always has a value (table default). */
    hf_err_t err = fn(opaque, "bootstrap.servers", hf_config_str(cfg, "kafka.bootstrap.servers"));
    for (size_t i = 0; !err && i < cfg->kafka.n; i++) {
        if (strcmp(cfg->kafka.v[i].name, "bootstrap.servers") == 0)
            continue;
        err = fn(opaque, cfg->kafka.v[i].name, cfg->kafka.v[i].value);
    }
    return err;
}

char *hf_config_pg_conninfo(const hf_config_t *cfg)
{
    hf_buf_t b = {0};
    for (size_t i = 0; i < cfg->pg.n; i++) {
        if (b.len)
            hf_buf_append(&b, " ", 1);
        hf_buf_append(&b, cfg->pg.v[i].name, strlen(cfg->pg.v[i].name));
        hf_buf_append(&b, "='", 2);
        for (const char *p = cfg->pg.v[i].value; *p; p++) {
            if (*p == '\'' || *p == '\\')
                hf_buf_append(&b, "\\", 1);
            hf_buf_append(&b, p, 1);
        }
        hf_buf_append(&b, "'", 1);
    }
    hf_buf_append(&b, "", 1);
    return (char *)b.data;
}

void hf_config_print_help(FILE *out)
{
    static const char *const tn[] = {"string", "int", "size", "bool", "number", "enum"};
    fprintf(out, "Configuration keys (file `key = value`, env HEMOFLOW_<KEY>, or --set key=value):\n");
    for (size_t i = 0; i < HF__NKEYS; i++) {
        const hf__key_t *k = &hf__keys[i];
        char *def = hf__default(k);
        fprintf(out, "  %-36s %-6s default=%s%s\n", k->name,
                k->type == HF_T_ENUM ? k->choices : tn[k->type], *def ? def : "\"\"",
                k->reloadable ? "  (reloadable: SIGHUP)" : "");
        hf_free(def);
        fprintf(out, "      %s\n", k->doc);
    }
    fprintf(out, "  %-36s passed to librdkafka (e.g. kafka.security.protocol)\n", "kafka.<property>");
    fprintf(out, "  %-36s added to the libpq connection string (e.g. pg.host, pg.sslmode)\n",
            "pg.<keyword>");
}

bool hf_config_reloadable(const char *key)
{
    const hf__key_t *k = hf__find(key, NULL);
    return k && k->reloadable;
}

static bool hf__kv_same(const hf__kvlist_t *a, const hf__kvlist_t *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].name, b->v[i].name) || strcmp(a->v[i].value, b->v[i].value))
            return false;
    return true;
}

void hf_config_each_change(const hf_config_t *a, const hf_config_t *b, hf_config_change_fn fn,
                           void *opaque)
{
    for (size_t i = 0; i < HF__NKEYS; i++)
        if (strcmp(a->val[i], b->val[i]) != 0)
            fn(opaque, hf__keys[i].name, hf__keys[i].reloadable);
    if (!hf__kv_same(&a->kafka, &b->kafka))
        fn(opaque, "kafka.*", false);
    if (!hf__kv_same(&a->pg, &b->pg))
        fn(opaque, "pg.*", false);
}
