/*
 * Integration: the warehouse against the real PostgreSQL of deploy/test.sh —
 * migrations, roles, partitions (ahead, on demand, daily, concurrent), and
 * the loader's batch commit: fast path, resends found by the probe or the
 * slow path, in-batch repeats, a racing loader, quarantine of
 * rows PostgreSQL refuses, offsets compare-and-set, transient errors and
 * reconnect, the _current views. Every test works in its own database
 * (hf_it_wh_<test>), which the suite's fixture creates and drops; counts
 * are asserted exactly.
 */
#include <avro.h>
#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hf_cal.h"
#include "hf_catalog.h"
#include "hf_config.h"
#include "hf_it.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_migrate.h"
#include "hf_normalize.h"
#include "hf_uuid.h"
#include "hf_warehouse.h"
#include "hf_wh_int.h" /* the probe's test hook */
#include "hf_wh_window.h"

#define US_PER_DAY INT64_C(86400000000)

/* ==== databases ==== */

static char *dsn_for(const char *db)
{
    const char *dsn = hf_it_env("HF_PG_DSN");
    return hf_asprintf("%s dbname=%s", dsn, db);
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static PGconn *conn_for(const char *db)
{
    char *dsn = dsn_for(db);
    PGconn *c = PQconnectdb(dsn);
    hf_free(dsn);
    cr_assert(PQstatus(c) == CONNECTION_OK, "connect %s: %s", db, PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    cr_assert(s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    PQclear(r);
}

/* The SQLSTATE sql fails with ("" when it succeeds). */
static const char *exec_state(PGconn *c, const char *sql)
{
    static char st[6];
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    const char *e = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(st, sizeof(st), "%s", (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) ? "" : e);
    PQclear(r);
    return st;
}

static long long q1(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
              PQresultErrorMessage(r));
    long long v = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static char *q1s(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
              PQresultErrorMessage(r));
    char *v = hf_strdup(PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void db_recreate(const char *db)
{
    PGconn *c = conn_for("postgres");
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    exec_ok(c, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    exec_ok(c, sql);
    PQfinish(c);
}

static void db_drop(const char *db)
{
    PGconn *c = conn_for("postgres");
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    exec_ok(c, sql);
    PQfinish(c);
}

static void set_ok(hf_config_t *cfg, const char *k, const char *v)
{
    char err[256];
    cr_assert_eq(hf_config_set(cfg, k, v, "test", err, sizeof(err)), HF_OK, "%s", err);
}

/* Config for database db: the pg.* of HF_PG_DSN with another dbname. */
static hf_config_t *cfg_for(const char *db, const char *granularity, int ahead)
{
    hf_log_init(HF_LOG_WARN, stderr);
    hf_config_t *cfg = hf_config_new();
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(hf_it_env("HF_PG_DSN"), &perr);
    cr_assert(opts, "HF_PG_DSN: %s", perr ? perr : "?");
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val && *o->val && strcmp(o->keyword, "dbname") != 0) {
            char key[64];
            snprintf(key, sizeof(key), "pg.%s", o->keyword);
            set_ok(cfg, key, o->val);
        }
    }
    PQconninfoFree(opts);
    set_ok(cfg, "pg.dbname", db);
    set_ok(cfg, "warehouse.partition_granularity", granularity);
    char a[16];
    snprintf(a, sizeof(a), "%d", ahead);
    set_ok(cfg, "warehouse.partitions_ahead", a);
    return cfg;
}

static void migrate_ok(const hf_config_t *cfg)
{
    char err[1024];
    hf_err_t e = hf_migrate_run(cfg, false, NULL, err, sizeof(err));
    cr_assert_eq(e, HF_OK, "migrate: %s: %s", hf_err_name(e), err);
}

/* ==== events ==== */

typedef struct ev_s {
    hf_catalog_t *cat;
    const hf_event_type_t *et;
    avro_value_iface_t *iface;
    avro_value_t val;
    uint64_t fp;
    hf_decoded_t dec;
    hf_norm_t norm; /* the key hf_normalize would give: from ev_make's values */
    hf_buf_t raw;
} ev_t;

static hf_catalog_t *catalog(void)
{
    char err[512];
    char *dir = hf_asprintf("%s/schemas/avro", hf_it_env("HF_SOURCE_DIR"));
    hf_catalog_t *cat = hf_catalog_load(dir, err, sizeof(err));
    hf_free(dir);
    cr_assert(cat, "catalogue: %s", err);
    return cat;
}

static void ev_init(ev_t *e, hf_catalog_t *cat, const char *type)
{
    memset(e, 0, sizeof(*e));
    e->cat = cat;
    e->et = hf_event_type_find(type);
    avro_schema_t s = hf_catalog_schema(cat, type, 0, &e->fp);
    cr_assert(s && e->et, "schema %s", type);
    e->iface = avro_generic_class_from_schema(s);
    cr_assert_eq(avro_generic_value_new(e->iface, &e->val), 0);
    e->dec.event_type = e->et;
    e->dec.fingerprint = e->fp;
    e->dec.value = &e->val;
}

static void ev_free(ev_t *e)
{
    avro_value_decref(&e->val);
    avro_value_iface_decref(e->iface);
    hf_buf_free(&e->raw);
}

static avro_value_t fld(ev_t *e, const char *name)
{
    avro_value_t f;
    cr_assert_eq(avro_value_get_by_name(&e->val, name, &f, NULL), 0, "no field %s", name);
    return f;
}

static void set_str(ev_t *e, const char *name, const char *v)
{
    avro_value_t f = fld(e, name), b;
    if (avro_value_get_type(&f) == AVRO_UNION) {
        if (!v) {
            cr_assert_eq(avro_value_set_branch(&f, 0, &b), 0);
            avro_value_set_null(&b);
            return;
        }
        cr_assert_eq(avro_value_set_branch(&f, 1, &b), 0);
        f = b;
    }
    cr_assert_eq(avro_value_set_string(&f, v), 0, "%s", name);
}

static void set_enum(ev_t *e, const char *name, const char *sym)
{
    avro_value_t f = fld(e, name);
    int idx = avro_schema_enum_get_by_name(avro_value_get_schema(&f), sym);
    cr_assert(idx >= 0, "%s: no symbol %s", name, sym);
    cr_assert_eq(avro_value_set_enum(&f, idx), 0);
}

/* Fill every field with a plausible value of its type. */
static void fill_value(avro_value_t *v, const char *name)
{
    avro_value_t b;
    switch (avro_value_get_type(v)) {
    case AVRO_STRING: avro_value_set_string(v, "x"); break;
    case AVRO_INT32: avro_value_set_int(v, 400); break;
    case AVRO_INT64: avro_value_set_long(v, INT64_C(1772329800000000)); break;
    case AVRO_BOOLEAN: avro_value_set_boolean(v, 1); break;
    case AVRO_DOUBLE: avro_value_set_double(v, 61.5); break;
    case AVRO_ENUM: avro_value_set_enum(v, 0); break;
    case AVRO_UNION:
        avro_value_set_branch(v, 0, &b);
        avro_value_set_null(&b);
        break;
    case AVRO_ARRAY:
        avro_value_reset(v);
        for (int i = 0; i < 2; i++) {
            avro_value_append(v, &b, NULL);
            avro_value_set_string(&b, i ? "J320126000102" : "J320126000101");
        }
        break;
    default: cr_assert_fail("field %s: type not handled by the test filler", name);
    }
}

static uint64_t g_seq;

/* Build event number id of e's type: province, occurred_at, op. e->norm
 * gets the key consume's hf_normalize derives from these values (the test
 * events' other fields would not pass its checks). */
static void ev_make(ev_t *e, unsigned id, const char *prov, int64_t occurred_us, const char *op,
                    unsigned supersedes)
{
    size_t n;
    avro_value_get_size(&e->val, &n);
    for (size_t i = 0; i < n; i++) {
        avro_value_t f;
        const char *name;
        avro_value_get_by_index(&e->val, i, &f, &name);
        fill_value(&f, name);
    }
    char uuid[40];
    snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012x", id);
    set_str(e, "event_id", uuid);
    memset(&e->norm, 0, sizeof(e->norm));
    cr_assert(hf_uuid_parse(uuid, strlen(uuid), e->norm.event_id));
    snprintf(e->norm.province, sizeof(e->norm.province), "%s", prov);
    e->norm.event_date = hf_cal_local_day(occurred_us, 480);
    e->norm.occurred_at_us = occurred_us;
    set_str(e, "event_type", e->et->name);
    set_str(e, "province_code", prov);
    char fac[16];
    snprintf(fac, sizeof(fac), "%.2s010001", prov);
    set_str(e, "facility_id", fac);
    avro_value_t f = fld(e, "occurred_at");
    avro_value_set_long(&f, occurred_us);
    f = fld(e, "utc_offset_minutes");
    avro_value_set_int(&f, 480);
    f = fld(e, "schema_version");
    avro_value_set_int(&f, 1);
    if (supersedes) {
        snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012x", supersedes);
        set_str(e, "supersedes_event_id", uuid);
    }
    set_enum(e, "op", op ? op : "create");
    hf_buf_reset(&e->raw);
    char err[256];
    cr_assert_eq(hf_catalog_encode(e->cat, &e->val, e->fp, &e->raw, err, sizeof(err)), HF_OK,
                 "encode: %s", err);
    g_seq++;
}

static void add_ok(hf_wh_batch_t *b, ev_t *e, const char *topic, int32_t part, int64_t off)
{
    char err[512];
    hf_err_t r = hf_wh_batch_add_event(b, &e->dec, &e->norm, topic, part, off, e->raw.data,
                                       e->raw.len, err, sizeof(err));
    cr_assert_eq(r, HF_OK, "add_event: %s", err);
}

static void offsets_ok(hf_wh_batch_t *b, const char *topic, int32_t part, int64_t exp,
                       int64_t next)
{
    char err[256];
    cr_assert_eq(hf_wh_batch_set_offsets(b, topic, part, exp, next, err, sizeof(err)), HF_OK,
                 "%s", err);
}

static hf_wh_t *wh_open(const hf_config_t *cfg, const hf_catalog_t *cat)
{
    hf_wh_t *wh = NULL;
    char err[1024];
    hf_err_t e = hf_wh_open(cfg, cat, &wh, err, sizeof(err));
    cr_assert_eq(e, HF_OK, "hf_wh_open: %s: %s", hf_err_name(e), err);
    return wh;
}

static void commit_ok(hf_wh_batch_t *b, hf_wh_stats_t *st)
{
    char err[1024];
    hf_err_t e = hf_wh_batch_commit(b, st, err, sizeof(err));
    cr_assert_eq(e, HF_OK, "commit: %s: %s", hf_err_name(e), err);
}

/* 2026-03-01T09:30:00+08:00 */
#define T0 INT64_C(1772328600000000)
#define DC_TOPIC "hemoflow.donation_collected"
#define DC 2 /* index of donation_collected in hf_event_types */

static void window_ok(hf_wh_batch_t *b, int32_t part, int64_t next, int64_t log_end)
{
    char err[256];
    cr_assert_eq(hf_wh_batch_window_add(b, DC_TOPIC, part, next, log_end, err, sizeof(err)),
                 HF_OK, "%s", err);
}

/* n DonationCollected events with ids base.., offsets off0..; province and
 * time follow from the id (three provinces, 40 days over two months), so
 * adding an id again is an exact resend. */
static void add_dc(hf_wh_batch_t *b, ev_t *e, unsigned base, unsigned n, int64_t off0)
{
    static const char *const provs[] = {"32", "51", "11"};
    for (unsigned i = 0; i < n; i++) {
        unsigned id = base + i;
        int64_t t = T0 + (int64_t)(id % 40) * US_PER_DAY + (int64_t)id * 1000000;
        ev_make(e, id, provs[id % 3], t, "create", 0);
        add_ok(b, e, DC_TOPIC, 0, off0 + i);
    }
}

/* ==== fixtures ==== */

/* What a test starts from. Criterion runs every test in a process of its
 * own, so this is per-test state: the suite's setup fills the database part,
 * the test's .init (migrated, loading, ...) adds the rest, and the suite's
 * teardown frees whatever is set, also after a failed assertion. */
static struct {
    char db[64];       /* hf_it_wh_<test name>: created by setup, dropped by teardown */
    hf_config_t *cfg;  /* pg.* for db; granularity and partitions ahead as migrated */
    PGconn *c;         /* the test's own connection to db, as the superuser */
    hf_catalog_t *cat; /* schemas/avro, from fx_migrate */
    hf_wh_t *wh;       /* a loader on cfg, from fx_open_loader */
    hf_wh_batch_t *b;  /* a batch of wh, empty at the start */
    ev_t e;            /* a DonationCollected event (e.iface is NULL until then) */
} fx;

/* Every test: its own empty database (no hemoflow schema), a config for it
 * (month, no partitions ahead) and a connection. */
static void setup(void)
{
    const char *test = criterion_current_test->name;
    int n = snprintf(fx.db, sizeof(fx.db), "hf_it_wh_%s", test);
    cr_assert(n > 0 && (size_t)n < sizeof(fx.db), "database name for test %s too long", test);
    db_recreate(fx.db);
    fx.cfg = cfg_for(fx.db, "month", 0);
    fx.c = conn_for(fx.db);
}

static void teardown(void)
{
    hf_wh_batch_destroy(fx.b);
    hf_wh_destroy(fx.wh);
    if (fx.e.iface)
        ev_free(&fx.e);
    hf_catalog_destroy(fx.cat);
    PQfinish(fx.c);
    hf_config_destroy(fx.cfg);
    db_drop(fx.db);
}

TestSuite(warehouse, .init = setup, .fini = teardown);

/* The warehouse migrated with this granularity and partitions ahead, and
 * the catalogue. */
static void fx_migrate(const char *granularity, int ahead)
{
    char a[16];
    snprintf(a, sizeof(a), "%d", ahead);
    set_ok(fx.cfg, "warehouse.partition_granularity", granularity);
    set_ok(fx.cfg, "warehouse.partitions_ahead", a);
    migrate_ok(fx.cfg);
    fx.cat = catalog();
}

/* A loader on fx.cfg as it is now, a DonationCollected event, an empty batch. */
static void fx_open_loader(void)
{
    fx.wh = wh_open(fx.cfg, fx.cat);
    ev_init(&fx.e, fx.cat, "DonationCollected");
    fx.b = hf_wh_batch_new(fx.wh);
}

/* .init of the tests: a migrated warehouse (month, nothing ahead) ... */
static void migrated(void)
{
    fx_migrate("month", 0);
}

/* ... and a loader on it. */
static void loading(void)
{
    fx_migrate("month", 0);
    fx_open_loader();
}

/* ==== migrations ==== */

/* How many migration files schemas/sql holds (NNNN_name.sql), and the
 * newest number: other work adds files, these tests must not care. */
static int sql_files(int *newest)
{
    char *path = hf_asprintf("%s/schemas/sql", hf_it_env("HF_SOURCE_DIR"));
    DIR *d = opendir(path);
    cr_assert(d, "%s", path);
    int n = 0, hi = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 9 && e->d_name[4] == '_' && strcmp(e->d_name + len - 4, ".sql") == 0) {
            n++;
            if (atoi(e->d_name) > hi)
                hi = atoi(e->d_name);
        }
    }
    closedir(d);
    hf_free(path);
    if (newest)
        *newest = hi;
    return n;
}

Test(warehouse, migrate_from_empty_then_idempotent, .timeout = 300)
{
    set_ok(fx.cfg, "warehouse.partitions_ahead", "3");
    migrate_ok(fx.cfg);
    int newest = 0, nfiles = sql_files(&newest);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_schema_migrations"), nfiles);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_fact_tables"), 10);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid ="
                          " c.relnamespace WHERE nspname = 'hemoflow' AND relkind = 'v'"
                          " AND relname LIKE '%\\_current'"),
                 10);
    const char *leaves = "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid ="
                         " c.relnamespace WHERE nspname = 'hemoflow' AND relkind = 'r'"
                         " AND relispartition";
    cr_assert_eq(q1(fx.c, leaves), 10 * 31 * 4);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid ="
                          " c.relnamespace WHERE nspname = 'hemoflow' AND relkind = 'p'"
                          " AND relispartition"),
                 10 * 31);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_settings WHERE key ="
                          " 'partition_granularity' AND value = 'month'"),
                 1);
    /* the current month's partition exists for every table and province */
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_p__\\_' ||"
                          " to_char(current_date, 'YYYY_MM')"),
                 310);

    /* second run: nothing applied, nothing created */
    char out[4096] = "";
    FILE *f = fmemopen(out, sizeof(out), "w");
    char err[1024];
    cr_assert_eq(hf_migrate_run(fx.cfg, false, f, err, sizeof(err)), HF_OK, "%s", err);
    fclose(f);
    char want[64];
    snprintf(want, sizeof(want), "up to date at version %04d", newest);
    cr_assert(strstr(out, want), "%s", out);
    cr_assert(strstr(out, ": 0 created"), "%s", out);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_schema_migrations"), nfiles);
    cr_assert_eq(q1(fx.c, leaves), 10 * 31 * 4);

    /* migrate refuses a granularity change */
    set_ok(fx.cfg, "warehouse.partition_granularity", "day");
    cr_assert_eq(hf_migrate_run(fx.cfg, false, NULL, err, sizeof(err)), HF_ERR_CONFIG);
    cr_assert(strstr(err, "granularity"), "%s", err);
}

Test(warehouse, migrate_dry_run_changes_nothing, .timeout = 120)
{
    char out[1024] = "", err[1024];
    FILE *f = fmemopen(out, sizeof(out), "w");
    cr_assert_eq(hf_migrate_run(fx.cfg, true, f, err, sizeof(err)), HF_OK, "%s", err);
    fclose(f);
    cr_assert(strstr(out, "would apply 0001_warehouse.sql"), "%s", out);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM pg_namespace WHERE nspname = 'hemoflow'"), 0);
}

Test(warehouse, migrate_refuses_newer_database, .init = migrated, .timeout = 120)
{
    exec_ok(fx.c, "INSERT INTO hemoflow.hf_schema_migrations (version, name, sha256)"
                  " VALUES (9999, 'from_the_future', 'x')");
    char err[1024];
    cr_assert_eq(hf_migrate_run(fx.cfg, false, NULL, err, sizeof(err)), HF_ERR_SCHEMA);
    cr_assert(strstr(err, "9999_from_the_future") && strstr(err, "newer"), "%s", err);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_schema_migrations"),
                 sql_files(NULL) + 1);
}

static void copy_file(const char *from, const char *to, const char *append)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out, "copy %s -> %s", from, to);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        fwrite(buf, 1, n, out);
    if (append)
        fputs(append, out);
    fclose(in);
    fclose(out);
}

Test(warehouse, migrate_refuses_edited_and_applies_new, .timeout = 120)
{
    char dir[] = "/tmp/hf-it-sql.XXXXXX";
    cr_assert(mkdtemp(dir));
    char *src = hf_asprintf("%s/schemas/sql/0001_warehouse.sql", hf_it_env("HF_SOURCE_DIR"));
    char *dst = hf_asprintf("%s/0001_warehouse.sql", dir);
    char *dst2 = hf_asprintf("%s/0002_extra.sql", dir);
    copy_file(src, dst, NULL);
    set_ok(fx.cfg, "warehouse.sql_dir", dir);
    migrate_ok(fx.cfg);

    /* a new migration is applied once */
    FILE *f = fopen(dst2, "w");
    fputs("CREATE TABLE hemoflow.extra (id int);\n", f);
    fclose(f);
    migrate_ok(fx.cfg);
    migrate_ok(fx.cfg);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_schema_migrations"), 2);

    /* editing an applied file is refused, nothing changes */
    copy_file(src, dst, "-- an innocent-looking edit\n");
    char err[1024];
    cr_assert_eq(hf_migrate_run(fx.cfg, false, NULL, err, sizeof(err)), HF_ERR_SCHEMA);
    cr_assert(strstr(err, "0001_warehouse.sql was changed"), "%s", err);

    /* a failing migration rolls back and is not recorded */
    copy_file(src, dst, NULL);
    char *dst3 = hf_asprintf("%s/0003_broken.sql", dir);
    f = fopen(dst3, "w");
    fputs("CREATE TABLE hemoflow.extra3 (id int);\nSELECT 1/0;\n", f);
    fclose(f);
    cr_assert_eq(hf_migrate_run(fx.cfg, false, NULL, err, sizeof(err)), HF_ERR_PG);
    cr_assert(strstr(err, "0003_broken.sql"), "%s", err);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_schema_migrations"), 2);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM pg_class WHERE relname = 'extra3'"), 0);
    unlink(dst3);
    unlink(dst2);
    unlink(dst);
    rmdir(dir);
    hf_free(dst3);
    hf_free(dst2);
    hf_free(dst);
    hf_free(src);
}

/* ==== roles ==== */

Test(warehouse, roles_privileges, .init = migrated, .timeout = 120)
{
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM pg_roles WHERE rolname IN ('hemoflow_loader',"
                          " 'hemoflow_analyst')"),
                 2);
    exec_ok(fx.c, "SET ROLE hemoflow_loader");
    cr_assert_str_eq(exec_state(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), "");
    cr_assert_str_eq(exec_state(fx.c, "SELECT hemoflow.hf_ensure_partition('unit_moved', '46',"
                                      " '2021-06-15')"),
                     "");
    /* offsets only through the forward-only compare-and-set (0005) */
    cr_assert_str_eq(exec_state(fx.c, "INSERT INTO hemoflow.hf_offsets VALUES ('t', 0, 5, now())"),
                     "42501");
    cr_assert_str_eq(exec_state(fx.c, "UPDATE hemoflow.hf_offsets SET next_offset = 6"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "SELECT hemoflow.hf_offsets_advance('t', 0, -1, 5)"), "");
    cr_assert_str_eq(exec_state(fx.c, "SELECT hemoflow.hf_offsets_advance('t', 0, 5, 6)"), "");
    cr_assert_str_eq(exec_state(fx.c, "SELECT hemoflow.hf_offsets_advance('t', 0, 6, 2)"),
                     "22023");
    cr_assert_str_eq(exec_state(fx.c, "INSERT INTO hemoflow.hf_quarantine (topic, kafka_partition,"
                                      " kafka_offset, reason_code, raw) VALUES ('t', 0, 1, 'x',"
                                      " '\\x00')"),
                     "");
    cr_assert_str_eq(exec_state(fx.c, "SELECT count(*) FROM hemoflow.hf_quarantine"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "SELECT * FROM hemoflow.donation_collected_current"),
                     "42501");
    cr_assert_str_eq(exec_state(fx.c, "DELETE FROM hemoflow.donation_collected"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "UPDATE hemoflow.donation_collected SET revision = 1"),
                     "42501");
    cr_assert_str_eq(exec_state(fx.c, "DELETE FROM hemoflow.hf_offsets"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "TRUNCATE hemoflow.hf_completeness"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "DROP TABLE hemoflow.donation_collected"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "CREATE TABLE hemoflow.evil (x int)"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "UPDATE hemoflow.hf_settings SET value = 'day'"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "SELECT hemoflow.hf_ensure_partition('hf_offsets', '11',"
                                      " '2026-01-01')"),
                     "42P01");
    exec_ok(fx.c, "RESET ROLE");
    /* by default the analyst reads the published views only (docs/indicators.md) */
    exec_ok(fx.c, "SET ROLE hemoflow_analyst");
    cr_assert_str_eq(exec_state(fx.c, "SELECT count(*) FROM hemoflow.ind_donation_rate"), "");
    cr_assert_str_eq(exec_state(fx.c, "SELECT count(*) FROM hemoflow.hf_population"), "");
    cr_assert_str_eq(exec_state(fx.c, "SELECT count(*) FROM hemoflow.hf_ind_donations"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "SELECT count(*) FROM"
                                      " hemoflow.adverse_event_reported_current"),
                     "42501");
    cr_assert_str_eq(exec_state(fx.c, "SELECT count(*) FROM hemoflow.hf_completeness"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "SELECT reason_code FROM hemoflow.hf_quarantine"), "42501");
    exec_ok(fx.c, "RESET ROLE");
    /* warehouse.analyst_raw_access grants the raw facts too */
    set_ok(fx.cfg, "warehouse.analyst_raw_access", "true");
    migrate_ok(fx.cfg);
    exec_ok(fx.c, "SET ROLE hemoflow_analyst");
    cr_assert_str_eq(exec_state(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), "");
    cr_assert_str_eq(exec_state(fx.c, "SELECT count(*) FROM"
                                      " hemoflow.adverse_event_reported_current"),
                     "");
    cr_assert_str_eq(exec_state(fx.c, "SELECT count(*) FROM hemoflow.hf_completeness"), "");
    cr_assert_str_eq(exec_state(fx.c, "SELECT reason_code, detail FROM hemoflow.hf_quarantine"),
                     "");
    cr_assert_str_eq(exec_state(fx.c, "SELECT raw FROM hemoflow.hf_quarantine"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "SELECT * FROM hemoflow.hf_offsets"), "42501");
    cr_assert_str_eq(exec_state(fx.c, "INSERT INTO hemoflow.hf_completeness VALUES ('11',"
                                      " '2026-01-01', 'X', 1, now(), now())"),
                     "42501");
    cr_assert_str_eq(exec_state(fx.c, "SELECT hemoflow.hf_ensure_partition('unit_moved', '46',"
                                      " '2021-07-15')"),
                     "42501");
    exec_ok(fx.c, "RESET ROLE");
}

/* The role is the cluster's, not the test database's: whatever the test
 * did, it cannot log in afterwards. */
static void loader_role_nologin(void)
{
    exec_ok(fx.c, "ALTER ROLE hemoflow_loader NOLOGIN");
}

/* The loader role has every privilege the loader needs: on-demand
 * partitions, the slow path's temp tables, quarantine, offsets. */
Test(warehouse, loader_runs_as_loader_role, .init = migrated, .fini = loader_role_nologin,
     .timeout = 120)
{
    exec_ok(fx.c, "ALTER ROLE hemoflow_loader LOGIN");
    set_ok(fx.cfg, "pg.user", "hemoflow_loader");
    set_ok(fx.cfg, "lag.window_commits", "2");
    set_ok(fx.cfg, "lag.window_min_interval_ms", "0");
    fx_open_loader();
    for (int round = 0; round < 2; round++) {
        hf_wh_batch_reset(fx.b);
        ev_make(&fx.e, 1, "65", T0 - 700 * US_PER_DAY, "create", 0);
        add_ok(fx.b, &fx.e, DC_TOPIC, 0, round * 2);
        ev_make(&fx.e, 2, "32", T0, "create", 0);
        add_ok(fx.b, &fx.e, DC_TOPIC, 0, round * 2 + 1);
        hf_wh_quarantine_t q = {.topic = DC_TOPIC, .partition = 0, .offset = 100 + round,
                                .reason_code = "decode", .raw = "\x01", .raw_len = 1};
        char err[256];
        cr_assert_eq(hf_wh_batch_add_quarantine(fx.b, &q, err, sizeof(err)), HF_OK);
        offsets_ok(fx.b, DC_TOPIC, 0, round ? 2 : -1, round * 2 + 2);
        window_ok(fx.b, 0, round * 2 + 2, 10);
        hf_wh_stats_t st;
        commit_ok(fx.b, &st);
        cr_assert_eq(st.inserted, round ? 0 : 2);
        cr_assert_eq(st.duplicates, round ? 2 : 0);
        cr_assert_eq(st.quarantined, 1);
    }
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 2);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_quarantine"), 2);
    cr_assert_eq(q1(fx.c, "SELECT next_offset FROM hemoflow.hf_offsets"), 4);
    /* the commit window is the loader role's to write and trim too: a third
     * commit (offsets only) leaves the newest two entries */
    hf_wh_batch_reset(fx.b);
    offsets_ok(fx.b, DC_TOPIC, 0, 4, 4);
    window_ok(fx.b, 0, 4, 10);
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);
    char *w = q1s(fx.c, "SELECT string_agg(seq || ':' || next_offset, ',' ORDER BY seq)"
                        " FROM hemoflow.hf_commit_window");
    cr_assert_str_eq(w, "2:4,3:4");
    hf_free(w);
}

/* ==== partitions ==== */

/* Partitions for this month and the next. */
static void loading_one_month_ahead(void)
{
    fx_migrate("month", 1);
    fx_open_loader();
}

Test(warehouse, partitions_on_demand_and_backfill, .init = loading_one_month_ahead,
     .timeout = 120)
{
    long long before = q1(fx.c, "SELECT count(*) FROM pg_class WHERE relispartition"
                                " AND relkind = 'r'");
    cr_assert_eq(before, 10 * 31 * 2);
    /* three years back, a province/month with no partition yet, and a
     * station-local date across midnight UTC: 2023-03-31T20:30Z +08:00 is
     * 2023-04-01 locally */
    int64_t t3 = INT64_C(1680294600000000);
    ev_make(&fx.e, 1, "54", t3, "create", 0);
    add_ok(fx.b, &fx.e, DC_TOPIC, 0, 0);
    ev_make(&fx.e, 2, "54", t3 + 10 * US_PER_DAY, "create", 0);
    add_ok(fx.b, &fx.e, DC_TOPIC, 0, 1);
    ev_make(&fx.e, 3, "63", t3 - 400 * US_PER_DAY, "create", 0);
    add_ok(fx.b, &fx.e, DC_TOPIC, 0, 2);
    offsets_ok(fx.b, DC_TOPIC, 0, -1, 3);
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 3);
    cr_assert_eq(st.partitions_created, 2); /* 54/2023-04 and 63/2022-02 (+ their provinces) */
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM pg_class WHERE relispartition AND relkind = 'r'"),
                 before + 2);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected_p54_2023_04"), 2);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected_p63_2022_02"), 1);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected WHERE event_date ="
                          " '2023-04-01'"),
                 1);
    /* the same keys again: known to the cache, no call */
    hf_wh_batch_reset(fx.b);
    ev_make(&fx.e, 4, "54", t3 + 5 * US_PER_DAY, "create", 0);
    add_ok(fx.b, &fx.e, DC_TOPIC, 0, 3);
    offsets_ok(fx.b, DC_TOPIC, 0, 3, 4);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.partitions_created, 0);
    cr_assert_eq(st.inserted, 1);

    /* a partition dropped behind the loader's back is recreated */
    exec_ok(fx.c, "DROP TABLE hemoflow.donation_collected_p54_2023_04");
    hf_wh_batch_reset(fx.b);
    ev_make(&fx.e, 5, "54", t3 + 6 * US_PER_DAY, "create", 0);
    add_ok(fx.b, &fx.e, DC_TOPIC, 0, 4);
    offsets_ok(fx.b, DC_TOPIC, 0, 4, 5);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 1);
    cr_assert_eq(st.rejected, 0);
    cr_assert_eq(st.attempts, 2);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_quarantine"), 0);

    /* hemoflow partitions --from/--to */
    size_t created = 0;
    char err[512];
    cr_assert_eq(hf_migrate_partitions(fx.cfg, -1, "2019-12-20", "2020-01-05", NULL, &created, err,
                                       sizeof(err)),
                 HF_OK, "%s", err);
    cr_assert_eq(created, 10 * 31 * 2);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_2019\\_12'"), 310);
    cr_assert_eq(hf_migrate_partitions(fx.cfg, -1, "2020-02-30", "2020-03-01", NULL, &created, err,
                                       sizeof(err)),
                 HF_ERR_USAGE);
}

/* Daily partitions, today's and the next two days'. */
static void loading_daily(void)
{
    fx_migrate("day", 2);
    fx_open_loader();
}

Test(warehouse, daily_granularity, .init = loading_daily, .timeout = 120)
{
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM pg_class WHERE relispartition AND relkind = 'r'"),
                 10 * 31 * 3);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM pg_class WHERE relname = 'unit_moved_p11_' ||"
                          " to_char(current_date + 2, 'YYYY_MM_DD')"),
                 1);
    for (unsigned i = 0; i < 5; i++) {
        ev_make(&fx.e, i + 1, "32", T0 + (int64_t)i * US_PER_DAY, "create", 0);
        add_ok(fx.b, &fx.e, DC_TOPIC, 0, i);
    }
    offsets_ok(fx.b, DC_TOPIC, 0, -1, 5);
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 5);
    cr_assert_eq(st.partitions_created, 5);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected_p32_2026_03_03"), 1);
    char *bound = q1s(fx.c, "SELECT pg_get_expr(relpartbound, oid) FROM pg_class"
                            " WHERE relname = 'donation_collected_p32_2026_03_03'");
    cr_assert_str_eq(bound, "FOR VALUES FROM ('2026-03-03') TO ('2026-03-04')");
    hf_free(bound);
    hf_wh_batch_destroy(fx.b);
    fx.b = NULL;
    hf_wh_destroy(fx.wh);
    fx.wh = NULL;

    /* a loader configured for months refuses this warehouse */
    hf_config_t *monthly = cfg_for(fx.db, "month", 0);
    hf_wh_t *bad = NULL;
    char err[512];
    cr_assert_eq(hf_wh_open(monthly, fx.cat, &bad, err, sizeof(err)), HF_ERR_CONFIG);
    cr_assert_null(bad);
    cr_assert(strstr(err, "granularity"), "%s", err);
    hf_config_destroy(monthly);
}

Test(warehouse, concurrent_ensure_partition, .init = migrated, .timeout = 120)
{
    PGconn *b = conn_for(fx.db); /* a second session; fx.c is the first, "a" below */
    const char *sql = "SELECT hemoflow.hf_ensure_partition('screening_result_recorded', '13',"
                      " '2020-05-05')";
    exec_ok(fx.c, "BEGIN");
    char *ra = q1s(fx.c, sql); /* a holds the locks until it commits */
    cr_assert_str_eq(ra, "t");
    cr_assert_eq(PQsendQuery(b, sql), 1);
    usleep(300 * 1000);
    PQconsumeInput(b);
    cr_assert_eq(PQisBusy(b), 1, "b should wait for a");
    exec_ok(fx.c, "COMMIT");
    PGresult *r = PQgetResult(b);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "f");
    PQclear(r);
    while ((r = PQgetResult(b)) != NULL)
        PQclear(r);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM pg_class WHERE relname LIKE"
                          " 'screening_result_recorded_p13%' AND relkind IN ('r', 'p')"),
                 3); /* p13, the current month, 2020_05 */
    hf_free(ra);
    PQfinish(b);
}

/* ==== loading ==== */

Test(warehouse, fast_path_then_resend_slow_path, .init = loading, .timeout = 300)
{
    ev_t ae;
    ev_init(&ae, fx.cat, "AdverseEventReported");
    add_dc(fx.b, &fx.e, 1, 3000, 0);
    for (unsigned i = 0; i < 50; i++) {
        ev_make(&ae, 100000 + i, "44", T0 + i, "create", 0);
        add_ok(fx.b, &ae, "hemoflow.adverse_event_reported", 1, i);
    }
    offsets_ok(fx.b, DC_TOPIC, 0, -1, 3000);
    offsets_ok(fx.b, "hemoflow.adverse_event_reported", 1, -1, 50);
    cr_assert_eq(hf_wh_batch_rows(fx.b), 3050);
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);
    cr_assert_eq(st.rows, 3050);
    cr_assert_eq(st.inserted, 3050);
    cr_assert_eq(st.duplicates, 0);
    cr_assert_eq(st.quarantined, 0);
    cr_assert_eq(st.table[DC].inserted, 3000);
    cr_assert(!st.table[DC].slow_path);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 3000);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.adverse_event_reported"
                          " WHERE cardinality(dins) = 2"),
                 50);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 3050);
    cr_assert_eq(q1(fx.c, "SELECT events FROM hemoflow.hf_completeness WHERE province_code = '32'"
                          " AND event_date = '2026-03-01' AND event_type = 'DonationCollected'"),
                 25);
    cr_assert_eq(q1(fx.c, "SELECT next_offset FROM hemoflow.hf_offsets WHERE topic ="
                          " 'hemoflow.donation_collected' AND kafka_partition = 0"),
                 3000);
    /* the values arrive intact */
    char *row = q1s(fx.c, "SELECT concat_ws('|', event_id, event_date, occurred_at AT TIME ZONE"
                          " 'UTC', province_code, procedure, volume_ml, plasma_g, incomplete,"
                          " kafka_offset) FROM hemoflow.donation_collected WHERE event_id ="
                          " '00000000-0000-4000-8000-000000000001'");
    cr_assert_str_eq(row, "00000000-0000-4000-8000-000000000001|2026-03-02|2026-03-02 01:30:01|"
                          "51|whole_blood|t|0");
    hf_free(row);
    row = q1s(fx.c, "SELECT max_occurred_at AT TIME ZONE 'UTC' FROM hemoflow.hf_completeness WHERE"
                    " province_code = '44'");
    cr_assert_str_eq(row, "2026-03-01 01:30:00.000049");
    hf_free(row);

    /* the stored offsets come back */
    hf_wh_tp_t tps[3] = {{DC_TOPIC, 0, 0}, {"hemoflow.adverse_event_reported", 1, 0},
                         {DC_TOPIC, 7, 0}};
    char err[512];
    cr_assert_eq(hf_wh_offsets_get(fx.wh, tps, 3, err, sizeof(err)), HF_OK, "%s", err);
    cr_assert_eq(tps[0].next_offset, 3000);
    cr_assert_eq(tps[1].next_offset, 50);
    cr_assert_eq(tps[2].next_offset, -1);

    /* a station resends everything: slow path, nothing new, no error */
    hf_wh_batch_reset(fx.b);
    add_dc(fx.b, &fx.e, 1, 3000, 3000);
    offsets_ok(fx.b, DC_TOPIC, 0, 3000, 6000);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 0);
    cr_assert_eq(st.duplicates, 3000);
    cr_assert(!st.table[DC].slow_path); /* found by the probe: nothing was sent */
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 3000);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 3050);

    /* some old, some new, one new twice in the batch */
    hf_wh_batch_reset(fx.b);
    add_dc(fx.b, &fx.e, 2995, 10, 6000); /* 2995..3000 old (6), 3001..3004 new (4) */
    add_dc(fx.b, &fx.e, 5000, 1, 6010);
    add_dc(fx.b, &fx.e, 5000, 1, 6011);
    offsets_ok(fx.b, DC_TOPIC, 0, 6000, 6012);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.rows, 12);
    cr_assert_eq(st.inserted, 5);
    cr_assert_eq(st.duplicates, 7);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 3005);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected WHERE event_id ="
                          " '00000000-0000-4000-8000-000000001388'"),
                 1);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 3055);
    ev_free(&ae);
}

/* A batch where 5 % of the rows are resends of rows this loader committed:
 * the probe finds them, the rest takes the fast path, counts are exact;
 * a rejected row in the same batch is still isolated by bisection. */
Test(warehouse, resends_found_by_probe, .init = loading, .timeout = 120)
{
    add_dc(fx.b, &fx.e, 1, 2000, 0);
    offsets_ok(fx.b, DC_TOPIC, 0, -1, 2000);
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 2000);

    /* 100 resends spread over the batch, 1899 new rows, one row with no
     * partition */
    hf_wh_batch_reset(fx.b);
    int64_t off = 2000;
    unsigned next = 10001, resent = 0;
    for (unsigned i = 0; i < 2000; i++) {
        if (i == 1234) {
            ev_make(&fx.e, 9999, "XX", T0, "create", 0);
            add_ok(fx.b, &fx.e, DC_TOPIC, 0, off++);
        } else if (i % 20 == 3) {
            add_dc(fx.b, &fx.e, 1 + resent++ * 19, 1, off++);
        } else {
            add_dc(fx.b, &fx.e, next++, 1, off++);
        }
    }
    cr_assert_eq(resent, 100);
    offsets_ok(fx.b, DC_TOPIC, 0, 2000, off);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.rows, 2000);
    cr_assert_eq(st.inserted, 1899);
    cr_assert_eq(st.duplicates, 100);
    cr_assert_eq(st.rejected, 1);
    cr_assert_eq(st.quarantined, 1);
    cr_assert(!st.table[DC].slow_path);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 3899);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 3899);
    /* the resent rows were not touched: still the first load's offsets */
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected WHERE event_id <"
                          " '00000000-0000-4000-8000-000000002711' AND kafka_offset >= 2000"),
                 0);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_quarantine WHERE sqlstate = '23514'"),
                 1);

    /* a loader that did not commit the originals (a restart): the COPY meets
     * them, the slow path skips them; counts stay exact */
    hf_wh_batch_destroy(fx.b);
    fx.b = NULL;
    hf_wh_destroy(fx.wh);
    fx.wh = NULL;
    fx.wh = wh_open(fx.cfg, fx.cat);
    fx.b = hf_wh_batch_new(fx.wh);
    add_dc(fx.b, &fx.e, 1, 50, off);          /* old */
    add_dc(fx.b, &fx.e, 20001, 50, off + 50); /* new */
    offsets_ok(fx.b, DC_TOPIC, 0, off, off + 100);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 50);
    cr_assert_eq(st.duplicates, 50);
    cr_assert(st.table[DC].slow_path);
    off += 100;
    /* the next batch without duplicates takes the fast path again */
    hf_wh_batch_reset(fx.b);
    add_dc(fx.b, &fx.e, 30001, 50, off);
    offsets_ok(fx.b, DC_TOPIC, 0, off, off + 50);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 50);
    cr_assert(!st.table[DC].slow_path);
    /* ... and this loader now knows the keys of both batches */
    hf_wh_batch_reset(fx.b);
    add_dc(fx.b, &fx.e, 1, 10, off + 50);     /* resent to it before */
    add_dc(fx.b, &fx.e, 30001, 10, off + 60); /* committed by it */
    add_dc(fx.b, &fx.e, 40001, 10, off + 70); /* new */
    offsets_ok(fx.b, DC_TOPIC, 0, off + 50, off + 80);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 10);
    cr_assert_eq(st.duplicates, 20);
    cr_assert(!st.table[DC].slow_path);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 3899 + 50 + 50 + 10);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 3899 + 50 + 50 + 10);
}

/* A lane's filter (hf_wh_seen_share): a quarter of the memory, the same
 * answers for what its connection committed; sharing forgets. */
Test(warehouse, resends_found_by_probe_with_shared_filter, .init = loading, .timeout = 120)
{
    hf_wh_seen_share(fx.wh, 3); /* rounded up to 4 */
    add_dc(fx.b, &fx.e, 1, 3000, 0);
    offsets_ok(fx.b, DC_TOPIC, 0, -1, 3000);
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 3000);

    /* every 10th of the first 3000 again among 700 new: the probe finds them */
    hf_wh_batch_reset(fx.b);
    int64_t off = 3000;
    for (unsigned i = 0; i < 300; i++)
        add_dc(fx.b, &fx.e, 1 + i * 10, 1, off++);
    add_dc(fx.b, &fx.e, 5001, 700, off);
    off += 700;
    offsets_ok(fx.b, DC_TOPIC, 0, 3000, off);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 700);
    cr_assert_eq(st.duplicates, 300);
    cr_assert(!st.table[DC].slow_path, "the shared filter missed keys its connection committed");

    /* a few resends (at most HF__PROBE_SMALL keys: one lookup per key) */
    hf_wh_batch_reset(fx.b);
    int64_t from = off;
    for (unsigned i = 0; i < 7; i++)
        add_dc(fx.b, &fx.e, 2 + i * 97, 1, off++);
    add_dc(fx.b, &fx.e, 6001, 40, off);
    off += 40;
    offsets_ok(fx.b, DC_TOPIC, 0, from, off);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 40);
    cr_assert_eq(st.duplicates, 7);
    cr_assert(!st.table[DC].slow_path, "the few-key probe missed resends");

    /* sharing again forgets: the same resends now meet the COPY, the slow
     * path skips them; counts stay exact */
    hf_wh_seen_share(fx.wh, 2);
    hf_wh_batch_reset(fx.b);
    add_dc(fx.b, &fx.e, 1, 50, off);
    add_dc(fx.b, &fx.e, 7001, 50, off + 50);
    offsets_ok(fx.b, DC_TOPIC, 0, off, off + 100);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 50);
    cr_assert_eq(st.duplicates, 50);
    cr_assert(st.table[DC].slow_path);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 3790);
}

/* The same key more than once in one batch, new and resent: the first copy
 * is kept, the others are duplicates. */
Test(warehouse, in_batch_repeats, .init = loading, .timeout = 120)
{
    add_dc(fx.b, &fx.e, 1, 100, 0);
    offsets_ok(fx.b, DC_TOPIC, 0, -1, 100);
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);
    hf_wh_batch_reset(fx.b);
    add_dc(fx.b, &fx.e, 101, 100, 100); /* new, offsets 100..199 */
    add_dc(fx.b, &fx.e, 150, 1, 200);   /* new and repeated, twice */
    add_dc(fx.b, &fx.e, 150, 1, 201);
    add_dc(fx.b, &fx.e, 5, 1, 202); /* resent, twice */
    add_dc(fx.b, &fx.e, 5, 1, 203);
    offsets_ok(fx.b, DC_TOPIC, 0, 100, 204);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.rows, 104);
    cr_assert_eq(st.inserted, 100);
    cr_assert_eq(st.duplicates, 4);
    cr_assert_eq(st.rejected, 0);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 200);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 200);
    cr_assert_eq(q1(fx.c, "SELECT kafka_offset FROM hemoflow.donation_collected WHERE event_id ="
                          " '00000000-0000-4000-8000-000000000096'"),
                 149);
    cr_assert_eq(q1(fx.c, "SELECT kafka_offset FROM hemoflow.donation_collected WHERE event_id ="
                          " '00000000-0000-4000-8000-000000000005'"),
                 4);
    /* only repeats, all of keys the loader committed */
    hf_wh_batch_reset(fx.b);
    add_dc(fx.b, &fx.e, 7, 1, 204);
    add_dc(fx.b, &fx.e, 7, 1, 205);
    add_dc(fx.b, &fx.e, 7, 1, 206);
    offsets_ok(fx.b, DC_TOPIC, 0, 204, 207);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 0);
    cr_assert_eq(st.duplicates, 3);
    cr_assert(!st.table[DC].slow_path);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 200);
}

typedef struct race_s {
    hf_wh_batch_t *other; /* a second loader's batch, committed from the hook */
    int fired;
} race_t;

static void race_hook(void *arg, size_t table)
{
    race_t *r = arg;
    if (table != DC || r->fired++)
        return;
    hf_wh_stats_t st;
    commit_ok(r->other, &st);
    cr_assert_eq(st.inserted, 1);
}

/* Another loader inserts one of the batch's new keys between the probe and
 * the COPY: the COPY fails, the staging + ON CONFLICT path loads the rest,
 * and the row counts once, for the loader that inserted it. */
Test(warehouse, dup_race_falls_back_to_on_conflict, .init = loading, .timeout = 120)
{
    hf_wh_t *wh2 = wh_open(fx.cfg, fx.cat);
    add_dc(fx.b, &fx.e, 1, 10, 0);
    offsets_ok(fx.b, DC_TOPIC, 0, -1, 10);
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);

    race_t race = {.other = hf_wh_batch_new(wh2)};
    add_dc(race.other, &fx.e, 1005, 1, 77); /* the same event, another loader's offsets */
    offsets_ok(race.other, DC_TOPIC, 9, -1, 78);
    hf_wh_batch_reset(fx.b);
    add_dc(fx.b, &fx.e, 3, 1, 10);     /* a resend this loader knows: it probes */
    add_dc(fx.b, &fx.e, 1001, 10, 11); /* new, one of them raced in by wh2 */
    offsets_ok(fx.b, DC_TOPIC, 0, 10, 21);
    fx.wh->probe_hook = race_hook;
    fx.wh->probe_hook_arg = &race;
    commit_ok(fx.b, &st);
    fx.wh->probe_hook = NULL;
    cr_assert_eq(race.fired, 1);
    cr_assert_eq(st.rows, 11);
    cr_assert_eq(st.inserted, 9);
    cr_assert_eq(st.duplicates, 2);
    cr_assert(st.table[DC].slow_path);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 20);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 20);
    cr_assert_eq(q1(fx.c, "SELECT kafka_offset FROM hemoflow.donation_collected WHERE event_id ="
                          " '00000000-0000-4000-8000-0000000003ed'"),
                 77); /* wh2's copy */
    cr_assert_eq(q1(fx.c, "SELECT next_offset FROM hemoflow.hf_offsets WHERE kafka_partition = 0"),
                 21);
    hf_wh_batch_destroy(race.other);
    hf_wh_destroy(wh2);
}

Test(warehouse, every_event_type_loads, .init = loading, .timeout = 120)
{
    for (size_t t = 0; t < hf_event_types_count; t++) {
        ev_t e;
        ev_init(&e, fx.cat, hf_event_types[t].name);
        for (unsigned i = 0; i < 3; i++) {
            ev_make(&e, (unsigned)(t * 100 + i), "33", T0 + i, "create", 0);
            add_ok(fx.b, &e, "hemoflow.mixed", (int32_t)t, i);
        }
        ev_free(&e);
    }
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 3 * hf_event_types_count);
    for (size_t t = 0; t < hf_event_types_count; t++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM hemoflow.%s_current",
                 hf_event_types[t].snake);
        cr_assert_eq(q1(fx.c, sql), 3, "%s", sql);
        cr_assert_eq(st.table[t].inserted, 3);
    }
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donor_eligibility_assessed"
                          " WHERE weight_kg IS NULL AND first_time"),
                 3);
}

Test(warehouse, rejected_rows_are_quarantined, .init = loading, .timeout = 120)
{
    hf_buf_t raw37 = {0};
    for (unsigned i = 0; i < 100; i++) {
        ev_make(&fx.e, i + 1, i == 37 ? "XX" : "32", T0 + i, "create", 0);
        if (i == 37) {
            /* consume's hf_normalize stops this event before the loader;
             * given to the loader anyway (with the key "XX"), PostgreSQL
             * refuses it and the loader quarantines it */
            hf_validate_rules_t rules;
            hf_validate_rules_default(&rules);
            hf_normalizer_t *nz = hf_normalizer_new(fx.cat, &rules);
            hf_norm_t nk;
            cr_assert_eq(hf_normalize(nz, &fx.e.dec, T0 + US_PER_DAY, &nk), HF_ERR_INVALID);
            cr_assert_str_eq(nk.reason, HF_VR_PROVINCE_UNKNOWN);
            hf_normalizer_destroy(nz);
        }
        if (i == 60)
            set_str(&fx.e, "event_id", "not-a-uuid");
        if (i == 80)
            set_str(&fx.e, "donor_pid", "bad \xff\xfe utf8");
        if (i == 37 || i == 60 || i == 80) {
            hf_buf_reset(&fx.e.raw);
            char err[256];
            cr_assert_eq(
                hf_catalog_encode(fx.cat, &fx.e.val, fx.e.fp, &fx.e.raw, err, sizeof(err)), HF_OK);
        }
        if (i == 37)
            hf_buf_append(&raw37, fx.e.raw.data, fx.e.raw.len);
        add_ok(fx.b, &fx.e, DC_TOPIC, 3, 500 + i);
    }
    hf_wh_quarantine_t q = {.topic = DC_TOPIC, .partition = 3, .offset = 600,
                            .event_type = NULL, .reason_code = "decode",
                            .detail = "truncated body", .raw = "\xc3\x01\x00", .raw_len = 3};
    char err[256];
    cr_assert_eq(hf_wh_batch_add_quarantine(fx.b, &q, err, sizeof(err)), HF_OK);
    offsets_ok(fx.b, DC_TOPIC, 3, -1, 601);
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);
    cr_assert_eq(st.rows, 100);
    cr_assert_eq(st.inserted, 97);
    cr_assert_eq(st.rejected, 3);
    cr_assert_eq(st.quarantined, 4);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 97);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 97);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_quarantine"), 4);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_quarantine WHERE kafka_offset = 537"
                          " AND reason_code = 'pg_constraint' AND sqlstate = '23514'"
                          " AND event_type = 'DonationCollected' AND fingerprint ~ '^[0-9a-f]{16}$'"
                          " AND kafka_partition = 3"),
                 1);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_quarantine WHERE kafka_offset = 560"
                          " AND reason_code = 'pg_data' AND sqlstate = '22P02'"),
                 1);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_quarantine WHERE kafka_offset = 580"
                          " AND reason_code = 'pg_data' AND sqlstate = '22021'"),
                 1);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_quarantine WHERE kafka_offset = 600"
                          " AND reason_code = 'decode' AND sqlstate IS NULL AND fingerprint IS NULL"
                          " AND raw = '\\xc30100'"),
                 1);
    /* the raw bytes of a rejected row are the message, unchanged */
    hf_buf_t hex = {0};
    for (size_t i = 0; i < raw37.len; i++) {
        char h[3];
        snprintf(h, sizeof(h), "%02x", raw37.data[i]);
        hf_buf_append(&hex, h, 2);
    }
    hf_buf_append(&hex, "", 1);
    char *got = q1s(fx.c, "SELECT encode(raw, 'hex') FROM hemoflow.hf_quarantine"
                          " WHERE kafka_offset = 537");
    cr_assert_str_eq(got, (char *)hex.data);
    hf_free(got);
    hf_buf_free(&hex);
    hf_buf_free(&raw37);
}

Test(warehouse, offsets_compare_and_set, .init = loading, .timeout = 120)
{
    hf_wh_t *wh2 = wh_open(fx.cfg, fx.cat);
    hf_wh_batch_t *b2 = hf_wh_batch_new(wh2);
    add_dc(fx.b, &fx.e, 1, 100, 0);
    offsets_ok(fx.b, DC_TOPIC, 0, -1, 100);
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);

    /* a zombie that still believes nothing was stored */
    add_dc(b2, &fx.e, 1001, 100, 0);
    hf_wh_quarantine_t q = {.topic = DC_TOPIC, .partition = 0, .offset = 42,
                            .reason_code = "validate", .raw = "x", .raw_len = 1};
    char err[512];
    cr_assert_eq(hf_wh_batch_add_quarantine(b2, &q, err, sizeof(err)), HF_OK);
    offsets_ok(b2, DC_TOPIC, 0, -1, 100);
    cr_assert_eq(hf_wh_batch_commit(b2, &st, err, sizeof(err)), HF_ERR_CONFLICT);
    cr_assert(strstr(err, "another instance"), "%s", err);
    /* ... or a stale offset */
    offsets_ok(b2, DC_TOPIC, 0, 50, 150);
    cr_assert_eq(hf_wh_batch_commit(b2, &st, err, sizeof(err)), HF_ERR_CONFLICT);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 100);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_quarantine"), 0);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 100);
    cr_assert_eq(q1(fx.c, "SELECT next_offset FROM hemoflow.hf_offsets"), 100);

    /* two live committers with the same expectation: exactly one wins */
    hf_wh_batch_reset(fx.b);
    add_dc(fx.b, &fx.e, 2001, 10, 100);
    offsets_ok(fx.b, DC_TOPIC, 0, 100, 110);
    offsets_ok(b2, DC_TOPIC, 0, 100, 200);
    commit_ok(fx.b, &st);
    cr_assert_eq(hf_wh_batch_commit(b2, &st, err, sizeof(err)), HF_ERR_CONFLICT);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 110);
    cr_assert_eq(q1(fx.c, "SELECT next_offset FROM hemoflow.hf_offsets"), 110);
    /* the right expectation goes through, the same batch object */
    offsets_ok(b2, DC_TOPIC, 0, 110, 210);
    commit_ok(b2, &st);
    cr_assert_eq(st.inserted, 100);
    cr_assert_eq(st.quarantined, 1);
    cr_assert_eq(hf_wh_batch_commit(b2, &st, err, sizeof(err)), HF_ERR_INVALID);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 210);
    hf_wh_batch_destroy(b2);
    hf_wh_destroy(wh2);
}

/* The compare-and-set of all of a batch's partitions is one statement: one
 * stale partition among several loses the whole batch and moves none. */
Test(warehouse, offsets_compare_and_set_many_partitions, .init = loading, .timeout = 120)
{
    hf_wh_stats_t st;
    char err[512];
    add_dc(fx.b, &fx.e, 1, 30, 0);
    for (int32_t p = 0; p < 3; p++)
        offsets_ok(fx.b, DC_TOPIC, p, -1, 10 + p);
    commit_ok(fx.b, &st);
    const char *offs = "SELECT string_agg(kafka_partition || ':' || next_offset, ','"
                       " ORDER BY kafka_partition) FROM hemoflow.hf_offsets";
    char *got = q1s(fx.c, offs);
    cr_assert_str_eq(got, "0:10,1:11,2:12");
    hf_free(got);

    /* partition 1 stale (expects 9, holds 11) between two good ones */
    hf_wh_batch_reset(fx.b);
    add_dc(fx.b, &fx.e, 101, 6, 30);
    offsets_ok(fx.b, DC_TOPIC, 0, 10, 20);
    offsets_ok(fx.b, DC_TOPIC, 1, 9, 21);
    offsets_ok(fx.b, DC_TOPIC, 2, 12, 22);
    cr_assert_eq(hf_wh_batch_commit(fx.b, &st, err, sizeof(err)), HF_ERR_CONFLICT);
    cr_assert(strstr(err, "[1]") && strstr(err, "no longer 9"), "%s", err);
    got = q1s(fx.c, offs);
    cr_assert_str_eq(got, "0:10,1:11,2:12", "the good partitions moved: %s", got);
    hf_free(got);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 30);

    /* one partition asked to move back (refused inside the statement, 22023) */
    offsets_ok(fx.b, DC_TOPIC, 1, 11, 5);
    cr_assert_eq(hf_wh_batch_commit(fx.b, &st, err, sizeof(err)), HF_ERR_CONFLICT);
    cr_assert(strstr(err, "another instance"), "%s", err);
    got = q1s(fx.c, offs);
    cr_assert_str_eq(got, "0:10,1:11,2:12");
    hf_free(got);

    /* all three right: all move, in one commit */
    offsets_ok(fx.b, DC_TOPIC, 1, 11, 21);
    commit_ok(fx.b, &st);
    got = q1s(fx.c, offs);
    cr_assert_str_eq(got, "0:20,1:21,2:22");
    hf_free(got);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 36);
}

/* A loader keeping 3 window entries per partition, none replaced. */
static void loading_window3(void)
{
    fx_migrate("month", 0);
    set_ok(fx.cfg, "lag.window_commits", "3");
    set_ok(fx.cfg, "lag.window_min_interval_ms", "0");
    fx_open_loader();
}

Test(warehouse, commit_window_in_the_batch_transaction, .init = loading_window3, .timeout = 120)
{
    const char *rows = "SELECT string_agg(kafka_partition || ':' || seq || ':' || next_offset"
                       " || ':' || coalesce(log_end_offset::text, '-'), ','"
                       " ORDER BY kafka_partition, seq) FROM hemoflow.hf_commit_window";
    hf_wh_stats_t st;
    char err[512];
    /* partition 0 is in the batch; partition 1 has no stored offset (nothing recorded) */
    add_dc(fx.b, &fx.e, 1, 10, 0);
    offsets_ok(fx.b, DC_TOPIC, 0, -1, 10);
    window_ok(fx.b, 0, 10, 50);
    window_ok(fx.b, 1, 7, 9);
    window_ok(fx.b, 0, 10, 60); /* the same partition again replaces its entry */
    cr_assert_eq(hf_wh_batch_window_count(fx.b), 2);
    commit_ok(fx.b, &st);
    char *got = q1s(fx.c, rows);
    cr_assert_str_eq(got, "0:1:10:60");
    hf_free(got);

    /* a batch that loses its compare-and-set records nothing */
    hf_wh_t *wh2 = wh_open(fx.cfg, fx.cat);
    hf_wh_batch_t *b2 = hf_wh_batch_new(wh2);
    add_dc(b2, &fx.e, 101, 5, 0);
    offsets_ok(b2, DC_TOPIC, 0, -1, 5);
    window_ok(b2, 0, 5, 60);
    cr_assert_eq(hf_wh_batch_commit(b2, &st, err, sizeof(err)), HF_ERR_CONFLICT);
    hf_wh_batch_destroy(b2);
    hf_wh_destroy(wh2);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_commit_window"), 1);

    /* partition 1 gets a stored offset of its own; an instance with a stale
     * view of it (6, not 7) records nothing for it, the true one does */
    exec_ok(fx.c, "INSERT INTO hemoflow.hf_offsets VALUES ('" DC_TOPIC "', 1, 7, now())");
    for (int k = 1; k <= 4; k++) {
        hf_wh_batch_reset(fx.b);
        add_dc(fx.b, &fx.e, 1000 + (unsigned)k * 10, 10, k * 10);
        offsets_ok(fx.b, DC_TOPIC, 0, k * 10, k * 10 + 10);
        window_ok(fx.b, 0, k * 10 + 10, -1); /* log end unknown */
        window_ok(fx.b, 1, k == 1 ? 6 : 7, 9);
        commit_ok(fx.b, &st);
    }
    /* bounded: the newest 3 entries of each partition */
    got = q1s(fx.c, rows);
    cr_assert_str_eq(got, "0:3:30:-,0:4:40:-,0:5:50:-,1:1:7:9,1:2:7:9,1:3:7:9");
    hf_free(got);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.hf_commit_window WHERE"
                          " committed_at > clock_timestamp()"), 0);

    /* a warehouse without the window (not migrated to 0002) is refused at connect */
    exec_ok(fx.c, "DROP FUNCTION hemoflow.hf_window_record(text[], integer[], bigint[], bigint[],"
                  " integer, integer)");
    hf_wh_t *wh3 = NULL;
    cr_assert_eq(hf_wh_open(fx.cfg, fx.cat, &wh3, err, sizeof(err)), HF_ERR_SCHEMA);
    cr_assert(strstr(err, "hemoflow migrate"), "%s", err);
    cr_assert_null(wh3);
}

Test(warehouse, transient_error_reconnect_recommit, .init = loading, .timeout = 120)
{
    add_dc(fx.b, &fx.e, 1, 500, 0);
    add_dc(fx.b, &fx.e, 1, 1, 500); /* a duplicate in the batch: the slow path too */
    offsets_ok(fx.b, DC_TOPIC, 0, -1, 501);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)::int", hf_wh_backend_pid(fx.wh));
    cr_assert_eq(q1(fx.c, sql), 1);
    usleep(100 * 1000);
    hf_wh_stats_t st;
    char err[512];
    hf_err_t r = hf_wh_batch_commit(fx.b, &st, err, sizeof(err));
    cr_assert_eq(r, HF_ERR_PG_TRANSIENT, "%s: %s", hf_err_name(r), err);
    cr_assert(hf_err_retriable(r));
    cr_assert(!hf_wh_connected(fx.wh));
    /* still not connected: the same answer */
    cr_assert_eq(hf_wh_batch_commit(fx.b, &st, err, sizeof(err)), HF_ERR_PG_TRANSIENT);
    cr_assert_eq(hf_wh_reconnect(fx.wh, err, sizeof(err)), HF_OK, "%s", err);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 500);
    cr_assert_eq(st.duplicates, 1);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 500);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 500);
    cr_assert_eq(q1(fx.c, "SELECT next_offset FROM hemoflow.hf_offsets"), 501);

    /* killed in the middle of a slow-path batch (while waiting on a lock) */
    hf_wh_batch_reset(fx.b);
    add_dc(fx.b, &fx.e, 1, 10, 501);
    add_dc(fx.b, &fx.e, 9001, 10, 511);
    offsets_ok(fx.b, DC_TOPIC, 0, 501, 521);
    PGconn *locker = conn_for(fx.db);
    exec_ok(locker, "BEGIN");
    exec_ok(locker, "LOCK TABLE hemoflow.hf_completeness IN EXCLUSIVE MODE");
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(%d)::int FROM pg_sleep(1)", hf_wh_backend_pid(fx.wh));
    cr_assert_eq(PQsendQuery(fx.c, sql), 1);
    r = hf_wh_batch_commit(fx.b, &st, err, sizeof(err));
    cr_assert_eq(r, HF_ERR_PG_TRANSIENT, "%s: %s", hf_err_name(r), err);
    PGresult *res;
    while ((res = PQgetResult(fx.c)) != NULL)
        PQclear(res);
    exec_ok(locker, "COMMIT");
    PQfinish(locker);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 500);
    cr_assert_eq(hf_wh_reconnect(fx.wh, err, sizeof(err)), HF_OK, "%s", err);
    commit_ok(fx.b, &st);
    cr_assert_eq(st.inserted, 10);
    cr_assert_eq(st.duplicates, 10);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 510);
    cr_assert_eq(q1(fx.c, "SELECT sum(events) FROM hemoflow.hf_completeness"), 510);
    cr_assert_eq(q1(fx.c, "SELECT next_offset FROM hemoflow.hf_offsets"), 521);
}

Test(warehouse, current_views_after_amend_and_retract, .init = loading, .timeout = 120)
{
    ev_make(&fx.e, 1, "32", T0, "create", 0);
    add_ok(fx.b, &fx.e, DC_TOPIC, 0, 0);
    ev_make(&fx.e, 2, "32", T0, "create", 0);
    add_ok(fx.b, &fx.e, DC_TOPIC, 0, 1);
    ev_make(&fx.e, 3, "51", T0, "create", 0);
    add_ok(fx.b, &fx.e, DC_TOPIC, 0, 2);
    offsets_ok(fx.b, DC_TOPIC, 0, -1, 3);
    hf_wh_stats_t st;
    commit_ok(fx.b, &st);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected_current"), 3);
    /* amend 1, then amend the amendment; retract 2 */
    hf_wh_batch_reset(fx.b);
    ev_make(&fx.e, 4, "32", T0, "amend", 1);
    avro_value_t f = fld(&fx.e, "volume_ml"), br;
    avro_value_set_branch(&f, 1, &br);
    avro_value_set_int(&br, 300);
    hf_buf_reset(&fx.e.raw);
    char err[256];
    cr_assert_eq(hf_catalog_encode(fx.cat, &fx.e.val, fx.e.fp, &fx.e.raw, err, sizeof(err)), HF_OK);
    add_ok(fx.b, &fx.e, DC_TOPIC, 0, 3);
    ev_make(&fx.e, 5, "32", T0, "amend", 4);
    add_ok(fx.b, &fx.e, DC_TOPIC, 0, 4);
    ev_make(&fx.e, 6, "32", T0, "retract", 2);
    add_ok(fx.b, &fx.e, DC_TOPIC, 0, 5);
    offsets_ok(fx.b, DC_TOPIC, 0, 3, 6);
    commit_ok(fx.b, &st);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected"), 6);
    cr_assert_eq(q1(fx.c, "SELECT count(*) FROM hemoflow.donation_collected_current"), 2);
    char *ids = q1s(fx.c, "SELECT string_agg(right(event_id::text, 1), ',' ORDER BY event_id)"
                          " FROM hemoflow.donation_collected_current");
    cr_assert_str_eq(ids, "3,5");
    hf_free(ids);
}

Test(warehouse, loader_refuses_table_not_matching_schema, .init = migrated, .timeout = 120)
{
    hf_wh_t *wh = NULL;
    char err[1024];
    /* nullability */
    exec_ok(fx.c, "ALTER TABLE hemoflow.unit_moved ALTER COLUMN din DROP NOT NULL");
    cr_assert_eq(hf_wh_open(fx.cfg, fx.cat, &wh, err, sizeof(err)), HF_ERR_SCHEMA);
    cr_assert_null(wh);
    cr_assert(strstr(err, "hemoflow.unit_moved") && strstr(err, "'din'"), "%s", err);
    exec_ok(fx.c, "ALTER TABLE hemoflow.unit_moved ALTER COLUMN din SET NOT NULL");
    /* a newer schema version without its migration */
    exec_ok(fx.c, "DROP VIEW hemoflow.donation_collected_current CASCADE"); /* and the indicators */
    exec_ok(fx.c, "ALTER TABLE hemoflow.donation_collected DROP COLUMN anticoagulant_ml");
    cr_assert_eq(hf_wh_open(fx.cfg, fx.cat, &wh, err, sizeof(err)), HF_ERR_SCHEMA);
    cr_assert(strstr(err, "hemoflow.donation_collected") && strstr(err, "anticoagulant_ml") &&
                  strstr(err, "DonationCollected v2"),
              "%s", err);
    /* the migration of a new field: ADD COLUMN (after the load columns) is enough */
    exec_ok(fx.c, "ALTER TABLE hemoflow.donation_collected ADD COLUMN anticoagulant_ml integer");
    hf_err_t r = hf_wh_open(fx.cfg, fx.cat, &wh, err, sizeof(err));
    cr_assert_eq(r, HF_OK, "%s", err);
    hf_wh_destroy(wh);
    wh = NULL;
    /* right columns, wrong order */
    exec_ok(fx.c, "ALTER TABLE hemoflow.donation_collected DROP COLUMN incomplete");
    exec_ok(fx.c, "ALTER TABLE hemoflow.donation_collected ADD COLUMN incomplete boolean NOT NULL");
    cr_assert_eq(hf_wh_open(fx.cfg, fx.cat, &wh, err, sizeof(err)), HF_ERR_SCHEMA);
    cr_assert(strstr(err, "column 21 is 'anticoagulant_ml'") && strstr(err, "'incomplete'"),
              "%s", err);
}
