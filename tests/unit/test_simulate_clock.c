/*
 * Unit tests for simulate's wall-clock cap (no network): the generator runs
 * with an injected clock at each of the 24 hours of a day, several seeds
 * and every fault option on, into an offline station whose clock is the
 * same injected one. Every time and date of every record must be at or
 * before the cap (now - 60 s), except the two fields that name a planned
 * future (a component's expires_at, a deferral's deferral_until), and the
 * station's own validation must accept every record the generator meant to
 * be valid (and every fault record it sends with skip_validation).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hf_catalog.h"
#include "hf_config.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_simulate.h"
#include "hf_station.h"
#include "hf_time.h"
#include "hf_validate.h"

#define SEC INT64_C(1000000)
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)

static char dir[256], keyfile[300], spooldir[300];
static hf_config_t *cfg;
static hf_catalog_t *cat; /* the simulator's fingerprints */

static void setup(void)
{
    hf_log_init(HF_LOG_ERROR, stderr);
    snprintf(dir, sizeof(dir), "/tmp/hf-simclock-test.XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(keyfile, sizeof(keyfile), "%s/key", dir);
    snprintf(spooldir, sizeof(spooldir), "%s/spool", dir);
    int fd = open(keyfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    const char *key = "hemoflow-unit-test-key-0123456789abcdef\n";
    cr_assert(write(fd, key, strlen(key)) == (ssize_t)strlen(key));
    close(fd);
    cfg = hf_config_new();
    char err[256], sd[512];
    const char *src = getenv("HF_SOURCE_DIR");
    cr_assert(src, "HF_SOURCE_DIR must be set (CTest sets it)");
    snprintf(sd, sizeof(sd), "%s/schemas/avro", src);
    cr_assert_eq(hf_config_set(cfg, "schemas.dir", sd, "test", err, sizeof(err)), HF_OK);
    cat = hf_catalog_load(sd, err, sizeof(err));
    cr_assert_not_null(cat, "%s", err);
}

static void teardown(void)
{
    hf_catalog_destroy(cat);
    hf_config_destroy(cfg);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(simulate_clock, .init = setup, .fini = teardown);

/* ==== the checking sink ==== */

typedef struct chk_s {
    hf_station_t *st;
    int64_t now_us;   /* the injected clock, also the station's */
    int64_t cap_us;   /* now - 60 s */
    uint64_t records; /* validated records */
    uint64_t faulty;  /* records sent with skip_validation (bad DINs) */
    uint64_t times;   /* time/date fields checked */
    uint64_t raw;
} chk_t;

static int64_t clock_of(void *opaque)
{
    return ((const chk_t *)opaque)->now_us;
}

static bool is_planned(const char *name)
{
    return !strcmp(name, "expires_at") || !strcmp(name, "deferral_until");
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static hf_err_t chk_submit(void *o, const char *type, const hf_field_t *f, size_t n,
                           const hf_submit_opts_t *opts, hf_reject_t *rej)
{
    chk_t *c = o;
    int64_t occurred = INT64_MIN;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].name, "occurred_at") && f[i].value)
            cr_assert(hf_cal_time_parse(f[i].value, strlen(f[i].value), &occurred, &(int){0}));
    cr_assert_neq(occurred, INT64_MIN, "%s without occurred_at", type);
    for (size_t i = 0; i < n; i++) {
        const char *name = f[i].name, *v = f[i].value;
        if (!v)
            continue;
        int64_t us;
        if (ends_with(name, "_at")) {
            int off;
            cr_assert(hf_cal_time_parse(v, strlen(v), &us, &off), "%s %s='%s'", type, name, v);
        } else if (ends_with(name, "_date") || ends_with(name, "_until")) {
            int32_t day;
            cr_assert(hf_cal_date_parse(v, strlen(v), &day), "%s %s='%s'", type, name, v);
            us = (int64_t)day * DAY - 8 * HOUR; /* local midnight (UTC+08:00) */
        } else {
            continue;
        }
        c->times++;
        if (is_planned(name))
            cr_assert_geq(us, occurred - DAY, "%s %s=%s before the event", type, name, v);
        else
            cr_assert_leq(us, c->cap_us, "%s %s=%s is after the cap (now %lld)", type, name, v,
                          (long long)c->now_us);
    }
    hf_submit_opts_t so = *opts;
    so.defer_sync = true;
    hf_err_t e = hf_station_submit(c->st, type, f, n, &so, rej);
    cr_assert_eq(e, HF_OK, "station refused a generated %s%s: %s %s %s", type,
                 opts->skip_validation ? " (fault)" : "", rej->reason ? rej->reason : "?",
                 rej->field, rej->detail);
    if (opts->skip_validation)
        c->faulty++;
    else
        c->records++;
    return e;
}

static hf_err_t chk_raw(void *o, const char *type, const char *key, const void *p, size_t len)
{
    chk_t *c = o;
    c->raw++;
    return hf_station_submit_raw(c->st, type, key, p, len);
}

/* ==== one run ==== */

static void run_at(chk_t *c, int64_t now_us, int32_t end_date, uint64_t seed,
                   hf_sim_report_t *rep)
{
    hf_sim_conf_t conf;
    hf_sim_conf_default(&conf);
    conf.seed = seed;
    conf.count = 2000;
    conf.days = 7; /* chains start 21 days before the window: keep the warm-up small */
    conf.end_date = end_date;
    conf.now_us = now_us;
    conf.catalog = cat;
    conf.dup_rate = conf.late_rate = conf.amend_rate = conf.retract_rate = 0.03;
    conf.malformed_rate = conf.unknown_fp_rate = conf.bad_din_rate = 0.02;
    conf.old_schema_rate = 0.2;
    c->now_us = now_us;
    c->cap_us = now_us - 60 * SEC;
    hf_sim_sink_t sink = {c, chk_submit, chk_raw};
    char err[256];
    cr_assert_eq(hf_sim_run(&conf, &sink, rep, err, sizeof(err)), HF_OK, "%s", err);
    cr_assert_eq(rep->messages_total > 0, true);
    for (size_t t = 0; t < HF_SIM_NTYPES; t++)
        cr_assert_eq(rep->type[t].rejected, 0);
}

static hf_station_t *offline_station(chk_t *c)
{
    char err[512];
    hf_station_conf_t sc = {.cfg = cfg,
                            .key_file = keyfile,
                            .spool_dir = spooldir,
                            .offline = true,
                            .clock_us = clock_of,
                            .clock_opaque = c};
    hf_station_t *st = hf_station_new(&sc, err, sizeof(err));
    cr_assert(st, "station: %s", err);
    return st;
}

/* Today in UTC+08:00, as `hemoflow simulate` computes its default --end-date. */
static int32_t local_today(int64_t now_us)
{
    int64_t t = now_us / SEC + 8 * 3600;
    return (int32_t)(t / 86400);
}

Test(simulate_clock, cap_holds_at_every_hour_and_the_station_accepts_everything)
{
    chk_t c = {0};
    c.st = offline_station(&c);
    int32_t day;
    cr_assert(hf_cal_date_parse("2026-12-02", 10, &day));
    int64_t midnight_utc = (int64_t)day * DAY;
    static const uint64_t seeds[] = {20261202};
    uint64_t capped_late = 0; /* records within the last hour before the cap */
    for (int h = 0; h < 24; h++) {
        int64_t now = midnight_utc + h * HOUR + 17 * 60 * SEC;
        for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
            hf_sim_report_t rep;
            uint64_t before = c.records;
            run_at(&c, now, local_today(now), seeds[k] + (uint64_t)h, &rep);
            cr_assert_gt(c.records, before, "hour %d seed %llu sent nothing", h,
                         (unsigned long long)seeds[k]);
            capped_late += rep.messages_total;
        }
        /* an --end-date in the past is below the cap: same rules */
        hf_sim_report_t rep;
        run_at(&c, now, local_today(now) - 1 - h % 3, 5 + (uint64_t)h, &rep);
    }
    cr_assert_gt(c.faulty, 0, "no bad-DIN record was produced");
    cr_assert_gt(c.raw, 0, "no raw fault frame was produced");
    cr_assert_gt(c.times, 2 * c.records, "time fields were not checked");
    cr_assert_gt(capped_late, 0);
    hf_station_destroy(c.st);
}

/* FNV-1a over every sink call: field names, values, raw bytes. */
static void fnv(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ c[i]) * UINT64_C(1099511628211);
}

static hf_err_t hash_submit(void *o, const char *type, const hf_field_t *f, size_t n,
                            const hf_submit_opts_t *opts, hf_reject_t *rej)
{
    (void)rej;
    uint64_t *h = o;
    fnv(h, type, strlen(type) + 1);
    for (size_t i = 0; i < n; i++) {
        fnv(h, f[i].name, strlen(f[i].name) + 1);
        fnv(h, f[i].value ? f[i].value : "\\N", strlen(f[i].value ? f[i].value : "\\N") + 1);
    }
    fnv(h, opts, sizeof(*opts));
    return HF_OK;
}

static hf_err_t hash_raw(void *o, const char *type, const char *key, const void *p, size_t len)
{
    uint64_t *h = o;
    fnv(h, type, strlen(type) + 1);
    fnv(h, key, strlen(key) + 1);
    fnv(h, p, len);
    return HF_OK;
}

Test(simulate_clock, a_past_end_date_gives_the_same_records_at_any_hour)
{
    /* reproducibility: a window that ends before the cap does not depend on
     * the hour the run starts */
    int32_t day;
    cr_assert(hf_cal_date_parse("2026-11-20", 10, &day));
    uint64_t first = 0;
    for (int h = 0; h < 24; h += 5) {
        hf_sim_conf_t conf;
        hf_sim_conf_default(&conf);
        conf.seed = 9;
        conf.count = 3000;
        conf.days = 3;
        conf.end_date = day;
        conf.now_us = (int64_t)(day + 1) * DAY + h * HOUR; /* the next day, UTC */
        conf.catalog = cat;
        conf.dup_rate = conf.late_rate = conf.amend_rate = 0.03;
        conf.malformed_rate = conf.bad_din_rate = 0.02;
        uint64_t hash = UINT64_C(1469598103934665603);
        hf_sim_sink_t sink = {&hash, hash_submit, hash_raw};
        hf_sim_report_t rep;
        char err[256];
        cr_assert_eq(hf_sim_run(&conf, &sink, &rep, err, sizeof(err)), HF_OK, "%s", err);
        cr_assert_gt(rep.messages_total, 1000);
        if (h == 0)
            first = hash;
        else
            cr_assert_eq(hash, first, "the records changed with the hour of the run (%d h)", h);
    }
}
