/*
 * Unit tests for the station API in --offline mode: key file checks, the
 * HMAC pseudonym against vectors computed with `openssl dgst -sha256 -hmac`,
 * deterministic event ids, and every fixture of tests/fixtures/events
 * (CSV and JSONL) submitted, read back from the spool, decoded with the
 * catalogue decoder and checked; rejections with stable reason codes; raw
 * IDs never in the spool.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hf_catalog.h"
#include "hf_decoder.h"
#include "hf_config.h"
#include "hf_csv.h"
#include "hf_event_types.h"
#include "hf_jsonl.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_pseudo.h"
#include "hf_spool.h"
#include "hf_station.h"

#define KEY "hemoflow-unit-test-key-0123456789abcdef"

static char dir[256], keyfile[300], spooldir[300];
static hf_config_t *cfg;

static void write_key(const char *content, mode_t mode)
{
    unlink(keyfile);
    int fd = open(keyfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    cr_assert(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
    close(fd);
    cr_assert_eq(chmod(keyfile, mode), 0);
}

static void setup(void)
{
    hf_log_init(HF_LOG_ERROR, stderr);
    snprintf(dir, sizeof(dir), "/tmp/hf-station-test.XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(keyfile, sizeof(keyfile), "%s/key", dir);
    snprintf(spooldir, sizeof(spooldir), "%s/spool", dir);
    write_key(KEY "\n", 0600);
    cfg = hf_config_new();
    char err[256];
    const char *src = getenv("HF_SOURCE_DIR");
    cr_assert(src, "HF_SOURCE_DIR must be set (CTest sets it)");
    char sd[512];
    snprintf(sd, sizeof(sd), "%s/schemas/avro", src);
    cr_assert_eq(hf_config_set(cfg, "schemas.dir", sd, "test", err, sizeof(err)), HF_OK);
}

static void teardown(void)
{
    hf_config_destroy(cfg);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(pseudo, .init = setup, .fini = teardown);
TestSuite(station, .init = setup, .fini = teardown);

static hf_station_t *offline_station(void)
{
    char err[512];
    hf_station_conf_t c = {.cfg = cfg, .key_file = keyfile, .spool_dir = spooldir, .offline = true};
    hf_station_t *st = hf_station_new(&c, err, sizeof(err));
    cr_assert(st, "station: %s", err);
    return st;
}

/* ==== key file and HMAC ==== */

Test(pseudo, hmac_known_vectors)
{
    hf_err_t e;
    char err[256];
    hf_pseudo_t *p = hf_pseudo_load(keyfile, &e, err, sizeof(err));
    cr_assert(p, "%s", err);
    hf_pseudo_id_t id;
    /* printf '%s' 11010519491231002X | openssl dgst -sha256 -hmac "$KEY" */
    cr_assert_eq(hf_pseudo_id(p, " 11010519491231002x\t", 20, &id), HF_OK);
    cr_assert_str_eq(id.pid, "2a5d81f72ed5423fbfa4dec325abd1890a8d31455658e2bc4d642df2ba1de06a");
    cr_assert_eq(id.format, HF_ID_18);
    cr_assert(id.checksum_valid);
    cr_assert(!id.male);
    cr_assert_eq(hf_pseudo_id(p, "320102199003151239", 18, &id), HF_OK);
    cr_assert_str_eq(id.pid, "3e1765246c2dd704f34ef00c3ad2dfdb2ce3702963c0945a71fc09596af6e8d1");
    cr_assert(id.male);
    /* a legacy 15-digit ID is hashed in its 18-character form 320102196805120318 */
    cr_assert_eq(hf_pseudo_id(p, "320102680512031", 15, &id), HF_OK);
    cr_assert_str_eq(id.pid, "b234455c95747be66eaa78a09c7367947923f8ea10f45d0ab827d7f7c3bb8fbd");
    cr_assert_eq(id.format, HF_ID_15);
    cr_assert(id.has_birth);
    cr_assert_eq(id.birth_days, -599); /* 1968-05-12 */
    /* other formats: trimmed, upper-cased */
    cr_assert_eq(hf_pseudo_id(p, "p1234567x", 9, &id), HF_OK);
    cr_assert_str_eq(id.pid, "1e39349305f477318a7d1532f4da55c47df27ff2aa8556df122c88a3f4bb7758");
    cr_assert_eq(id.format, HF_ID_OTHER);
    cr_assert(!id.checksum_valid);
    cr_assert_eq(hf_pseudo_id(p, "   ", 3, &id), HF_ERR_INVALID);
    hf_pseudo_destroy(p);
}

Test(pseudo, key_file_permissions_refused)
{
    hf_err_t e;
    char err[512];
    write_key(KEY, 0644);
    cr_assert_null(hf_pseudo_load(keyfile, &e, err, sizeof(err)));
    cr_assert_eq(e, HF_ERR_PERMISSION);
    cr_assert(strstr(err, keyfile) && strstr(err, "0644") && strstr(err, "0600"), "%s", err);
    write_key(KEY, 0640);
    cr_assert_null(hf_pseudo_load(keyfile, &e, err, sizeof(err)));
    cr_assert_eq(e, HF_ERR_PERMISSION);
    write_key(KEY, 0400);
    hf_pseudo_t *p = hf_pseudo_load(keyfile, &e, err, sizeof(err));
    cr_assert(p, "0400 is accepted: %s", err);
    hf_pseudo_destroy(p);
    write_key("short-key\n", 0600);
    cr_assert_null(hf_pseudo_load(keyfile, &e, err, sizeof(err)));
    cr_assert_eq(e, HF_ERR_CONFIG);
    cr_assert(strstr(err, "32"), "%s", err);
    /* a symlink and a folder are refused */
    write_key(KEY, 0600);
    char link[400];
    snprintf(link, sizeof(link), "%s/link", dir);
    cr_assert_eq(symlink(keyfile, link), 0);
    cr_assert_null(hf_pseudo_load(link, &e, err, sizeof(err)));
    cr_assert_eq(e, HF_ERR_PERMISSION);
    cr_assert_null(hf_pseudo_load(dir, &e, err, sizeof(err)));
    cr_assert_null(hf_pseudo_load("/nonexistent/key", &e, err, sizeof(err)));
    cr_assert_eq(e, HF_ERR_NOT_FOUND);
    /* the station refuses to start, saying why */
    write_key(KEY, 0666);
    hf_station_conf_t c = {.cfg = cfg, .key_file = keyfile, .spool_dir = spooldir, .offline = true};
    cr_assert_null(hf_station_new(&c, err, sizeof(err)));
    cr_assert(strstr(err, "0666"), "%s", err);
}

/* ==== event ids ==== */

static const hf_field_t donor_row[] = {
    {"source_system", "XueZhan-BIS 5.2"}, {"facility_id", "32010001"},
    {"province_code", "32"},              {"occurred_at", "2026-03-01T08:42:10+08:00"},
    {"donor_id", "320102199003151239"},   {"birth_date", "1990-03-15"},
    {"sex", "male"},                      {"donor_kind", "blood"},
};

Test(station, derived_event_id_is_deterministic)
{
    hf_station_t *st = offline_station();
    hf_reject_t rej;
    char a[37], b[37], c[37];
    cr_assert_eq(hf_station_submit(st, "DonorRegistered", donor_row, 8, NULL, &rej), HF_OK,
                 "%s %s", rej.reason, rej.detail);
    snprintf(a, sizeof(a), "%s", hf_station_last_event_id(st));
    cr_assert_eq(hf_station_submit(st, "donor_registered", donor_row, 8, NULL, &rej), HF_OK);
    snprintf(b, sizeof(b), "%s", hf_station_last_event_id(st));
    cr_assert_str_eq(a, b, "same row, same id");
    cr_assert_eq(a[14], '5', "version 5 UUID: %s", a);
    cr_assert(strchr("89ab", a[19]), "RFC 4122 variant: %s", a);
    hf_field_t changed[8];
    memcpy(changed, donor_row, sizeof(changed));
    changed[7].value = "plasma";
    cr_assert_eq(hf_station_submit(st, "DonorRegistered", changed, 8, NULL, &rej), HF_OK);
    snprintf(c, sizeof(c), "%s", hf_station_last_event_id(st));
    cr_assert_str_neq(a, c);
    /* JSON-ish rendering of the same values (spaces, 15-digit form of nothing) gives the same id */
    memcpy(changed, donor_row, sizeof(changed));
    changed[4].value = " 320102199003151239 ";
    cr_assert_eq(hf_station_submit(st, "DonorRegistered", changed, 8, NULL, &rej), HF_OK);
    cr_assert_str_eq(hf_station_last_event_id(st), a);
    hf_station_destroy(st);
}

/* ==== every fixture, submitted and decoded back ==== */

typedef struct seen_s {
    char id[37];
    char type[40];
} seen_t;

static size_t submit_file(hf_station_t *st, const char *type, const char *path, bool jsonl,
                          seen_t *seen, size_t n)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    hf_reject_t rej;
    if (!jsonl) {
        hf_csv_t *c = hf_csv_new(f, 1 << 20);
        hf_csv_row_t r;
        char err[256];
        cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
        size_t nh = r.ncells;
        char **hdr = hf_calloc(nh, sizeof(char *));
        for (size_t i = 0; i < nh; i++) {
            hdr[i] = hf_strdup(r.cells[i]);
            cr_assert(hf_station_column_known(st, type, 0, hdr[i]), "%s: %s", path, hdr[i]);
        }
        hf_field_t fl[32];
        while (hf_csv_next(c, &r, err, sizeof(err)) == HF_OK) {
            cr_assert_eq(r.ncells, nh);
            for (size_t i = 0; i < nh; i++)
                fl[i] = (hf_field_t){hdr[i], r.cells[i]};
            cr_assert_eq(hf_station_submit(st, type, fl, nh, NULL, &rej), HF_OK,
                         "%s:%lu: %s field=%s %s", path, r.line, rej.reason, rej.field,
                         rej.detail);
            snprintf(seen[n].id, 37, "%s", hf_station_last_event_id(st));
            snprintf(seen[n].type, sizeof(seen[n].type), "%s", type);
            n++;
        }
        for (size_t i = 0; i < nh; i++)
            hf_free(hdr[i]);
        hf_free(hdr);
        hf_csv_destroy(c);
    } else {
        hf_jsonl_lines_t *l = hf_jsonl_lines_new(f, 1 << 20);
        const char *line;
        size_t len;
        unsigned long no;
        while (hf_jsonl_lines_next(l, &line, &len, &no) == HF_OK) {
            hf_jsonl_row_t row;
            cr_assert_eq(hf_jsonl_render(line, len, &row, &rej), HF_OK);
            cr_assert_eq(hf_station_submit(st, type, row.fields, row.n, NULL, &rej), HF_OK,
                         "%s:%lu: %s field=%s %s", path, no, rej.reason, rej.field, rej.detail);
            snprintf(seen[n].id, 37, "%s", hf_station_last_event_id(st));
            snprintf(seen[n].type, sizeof(seen[n].type), "%s", type);
            n++;
            hf_jsonl_row_free(&row);
        }
        hf_jsonl_lines_destroy(l);
    }
    fclose(f);
    return n;
}

static const char *get_str(avro_value_t *rec, const char *name)
{
    avro_value_t f, br;
    cr_assert_eq(avro_value_get_by_name(rec, name, &f, NULL), 0, "field %s", name);
    if (avro_value_get_type(&f) == AVRO_UNION) {
        int d;
        avro_value_get_discriminant(&f, &d);
        if (d == 0)
            return NULL;
        avro_value_get_current_branch(&f, &br);
        f = br;
    }
    if (avro_value_get_type(&f) == AVRO_ENUM) {
        int i;
        avro_value_get_enum(&f, &i);
        avro_schema_t es = avro_value_get_schema(&f);
        return avro_schema_enum_get(es, i);
    }
    const char *s;
    size_t sz;
    cr_assert_eq(avro_value_get_string(&f, &s, &sz), 0, "string field %s", name);
    return s;
}

static int64_t get_num(avro_value_t *rec, const char *name)
{
    avro_value_t f, br;
    cr_assert_eq(avro_value_get_by_name(rec, name, &f, NULL), 0, "field %s", name);
    if (avro_value_get_type(&f) == AVRO_UNION) {
        avro_value_get_current_branch(&f, &br);
        f = br;
    }
    int32_t i;
    int64_t l;
    if (avro_value_get_type(&f) == AVRO_INT32) {
        avro_value_get_int(&f, &i);
        return i;
    }
    int b;
    if (avro_value_get_type(&f) == AVRO_BOOLEAN) {
        avro_value_get_boolean(&f, &b);
        return b;
    }
    avro_value_get_long(&f, &l);
    return l;
}

Test(station, every_fixture_round_trips, .timeout = 60)
{
    const char *fx = getenv("HF_FIXTURES");
    cr_assert(fx);
    hf_station_t *st = offline_station();
    static seen_t seen[400];
    size_t n = 0;
    for (size_t t = 0; t < hf_event_types_count; t++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/events/%s.csv", fx, hf_event_types[t].name);
        n = submit_file(st, hf_event_types[t].name, path, false, seen, n);
        snprintf(path, sizeof(path), "%s/events/%s.jsonl", fx, hf_event_types[t].name);
        n = submit_file(st, hf_event_types[t].name, path, true, seen, n);
    }
    hf_station_stats_t s;
    hf_station_stats(st, &s);
    cr_assert_eq(s.accepted, n);
    cr_assert_eq(s.pending, n);
    cr_assert_eq(hf_station_flush(st, 10), HF_ERR_TIMEOUT, "offline: stays spooled");
    hf_station_destroy(st);

    /* read the spool back and decode every frame */
    char err[512];
    hf_catalog_t *cat = hf_catalog_load(hf_config_str(cfg, "schemas.dir"), err, sizeof(err));
    cr_assert(cat, "%s", err);
    hf_decoder_t *dec = hf_decoder_new(cat);
    hf_err_t e;
    hf_spool_t *sp = hf_spool_open(spooldir, NULL, &e, err, sizeof(err));
    cr_assert(sp, "%s", err);
    hf_spool_cursor_t *c = hf_spool_cursor_new(sp);
    hf_spool_rec_t r;
    size_t i = 0;
    int checked = 0;
    while (hf_spool_cursor_next(c, &r, err, sizeof(err)) == HF_OK) {
        cr_assert_lt(i, n);
        /* raw ID numbers never reach the spool */
        static const char *raw[] = {"320102199003151239", "11010519491231002X",
                                    "320102680512031", "511321197806300354"};
        for (size_t k = 0; k < 4; k++)
            cr_assert_null(memmem(r.payload, r.len, raw[k], strlen(raw[k])), "raw ID in spool");
        hf_decoded_t d;
        cr_assert_eq(hf_decoder_decode(dec, r.payload, r.len, 0, &d, err, sizeof(err)), HF_OK,
                     "%s", err);
        cr_assert_str_eq(d.event_type->name, seen[i].type);
        char topic[80];
        snprintf(topic, sizeof(topic), "hemoflow.%s", d.event_type->snake);
        cr_assert_str_eq(r.topic, topic);
        cr_assert_str_eq(get_str(d.value, "event_id"), seen[i].id);
        cr_assert_str_eq(get_str(d.value, "event_type"), seen[i].type);
        cr_assert_eq(r.key_len, 8);
        cr_assert(!memcmp(r.key, get_str(d.value, "facility_id"), 8));
        const char *id = seen[i].id;
        if (!strcmp(id, "ccbccc2d-aeea-5c16-8bc6-99f3cf92f645")) { /* DonationCollected row 1 */
            cr_assert_eq(get_num(d.value, "volume_ml"), 400);
            cr_assert_eq(get_num(d.value, "occurred_at"), INT64_C(1772328600000000));
            cr_assert_eq(get_num(d.value, "utc_offset_minutes"), 480);
            cr_assert_str_eq(get_str(d.value, "donor_pid"),
                             "3e1765246c2dd704f34ef00c3ad2dfdb2ce3702963c0945a71fc09596af6e8d1");
            cr_assert_eq(get_num(d.value, "reported_at"), INT64_C(1772328662000000));
            checked++;
        } else if (!strcmp(id, "1d14d241-3db7-5d9f-bf9b-0e5309be4277")) { /* 待定 */
            cr_assert_str_eq(get_str(d.value, "abo"), "unknown");
            cr_assert_str_eq(get_str(d.value, "rhd"), "unknown");
            cr_assert_str_eq(get_str(d.value, "abo_rhd_source"), "\xe5\xbe\x85\xe5\xae\x9a");
            checked++;
        } else if (!strcmp(id, "861f4c02-7b91-52a1-8f8a-166cb0732688")) { /* 88 */
            cr_assert_str_eq(get_str(d.value, "abo"), "ab");
            cr_assert_str_eq(get_str(d.value, "rhd"), "unspecified");
            cr_assert_null(get_str(d.value, "abo_rhd_source"));
            checked++;
        } else if (!strcmp(id, "a39601ca-4957-50d0-b69c-43344e5f2e04")) { /* Z time */
            cr_assert_eq(get_num(d.value, "utc_offset_minutes"), 0);
            checked++;
        } else if (!strcmp(id, "f4feee52-c23a-5268-8605-387f7802bf04")) { /* amendment */
            cr_assert_str_eq(get_str(d.value, "op"), "amend");
            cr_assert_eq(get_num(d.value, "revision"), 1);
            cr_assert_str_eq(get_str(d.value, "supersedes_event_id"),
                             "e9880fd1-9d4f-5ffb-bcb1-540ce127e82b");
            checked++;
        } else if (!strcmp(id, "f1a0a38a-5aa5-535c-a794-e5593beaaeaa")) { /* empty dins */
            avro_value_t dins;
            size_t cnt = 99;
            avro_value_get_by_name(d.value, "dins", &dins, NULL);
            avro_value_get_size(&dins, &cnt);
            cr_assert_eq(cnt, 0);
            checked++;
        }
        if (!strcmp(seen[i].type, "DonorRegistered") &&
            !strcmp(get_str(d.value, "donor_pid"),
                    "b234455c95747be66eaa78a09c7367947923f8ea10f45d0ab827d7f7c3bb8fbd")) {
            cr_assert_str_eq(get_str(d.value, "id_format"), "id15");
            cr_assert_eq(get_num(d.value, "id_checksum_valid"), 1);
            cr_assert_eq(get_num(d.value, "birth_date"), -599);
            checked++;
        }
        i++;
    }
    cr_assert_eq(i, n);
    cr_assert_eq(checked, 6 * 2 + 2, "every spot check ran (CSV and JSONL)");
    /* CSV and JSONL hold the same rows: DonorRegistered ids (derived) agree */
    for (size_t k = 0; k < n; k++)
        if (!strcmp(seen[k].type, "DonorRegistered")) {
            size_t rows = 0;
            while (k + rows < n && !strcmp(seen[k + rows].type, "DonorRegistered"))
                rows++;
            cr_assert_eq(rows % 2, 0);
            for (size_t m = 0; m < rows / 2; m++)
                cr_assert_str_eq(seen[k + m].id, seen[k + rows / 2 + m].id,
                                 "CSV and JSONL rows derive the same event_id");
            break;
        }
    hf_spool_cursor_destroy(c);
    hf_spool_close(sp);
    hf_decoder_destroy(dec);
    hf_catalog_destroy(cat);
}

/* ==== rejections ==== */

static const char *reject_reason(hf_station_t *st, const char *type, hf_field_t *f, size_t n,
                                 hf_reject_t *rej)
{
    hf_err_t e = hf_station_submit(st, type, f, n, NULL, rej);
    cr_assert_eq(e, HF_ERR_INVALID);
    return rej->reason;
}

Test(station, rejections_have_stable_reasons)
{
    hf_station_t *st = offline_station();
    hf_field_t f[8];
    hf_reject_t rej;
    struct {
        size_t idx;
        const char *value;
        const char *reason;
        const char *field;
    } cases[] = {
        {2, "99", "province_unknown", "province_code"},
        {3, "2026-03-01T08:42:10", "time_format", "occurred_at"},
        {3, "2099-03-01T08:42:10+08:00", "time_future", "occurred_at"},
        {3, "2026-03-01T08:42:10+08:07", "utc_offset_step", "occurred_at"},
        {4, NULL, "required_missing", "donor_id"},
        {5, "1990-02-30", "date_format", "birth_date"},
        {6, "M", "enum_value", "sex"},
        {1, NULL, "required_missing", "facility_id"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        memcpy(f, donor_row, sizeof(f));
        f[cases[k].idx].value = cases[k].value;
        cr_assert_str_eq(reject_reason(st, "DonorRegistered", f, 8, &rej), cases[k].reason,
                         "case %zu: %s", k, rej.detail);
        cr_assert_str_eq(rej.field, cases[k].field, "case %zu", k);
        cr_assert_null(strstr(rej.detail, "320102199003151239"), "raw ID in a reject detail");
    }
    memcpy(f, donor_row, sizeof(donor_row));
    f[7] = (hf_field_t){"nickname", "x"};
    cr_assert_str_eq(reject_reason(st, "DonorRegistered", f, 8, &rej), "unknown_column");
    cr_assert_str_eq(rej.field, "nickname");
    f[7] = (hf_field_t){"sex", "male"};
    cr_assert_str_eq(reject_reason(st, "DonorRegistered", f, 8, &rej), "duplicate_column");
    f[7] = (hf_field_t){"donor_pid", "abc"};
    cr_assert_str_eq(reject_reason(st, "DonorRegistered", f, 8, &rej), "id_and_pid");
    f[7] = (hf_field_t){"source_system", "\xff\xfe"};
    f[0] = (hf_field_t){"donor_kind", "blood"};
    cr_assert_str_eq(reject_reason(st, "DonorRegistered", f, 8, &rej), "utf8_invalid");

    hf_field_t dc[] = {
        {"facility_id", "32010001"}, {"province_code", "32"},
        {"occurred_at", "2026-03-01T09:30:00+08:00"}, {"din", "O320126000101"},
        {"donor_id", "320102199003151239"}, {"procedure", "whole_blood"},
        {"collection_type", "volunteer"}, {"volume_ml", "400"}, {"incomplete", "false"},
    };
    cr_assert_str_eq(reject_reason(st, "DonationCollected", dc, 9, &rej), "din_format");
    dc[3].value = "J320126000101";
    dc[7].value = "350";
    cr_assert_str_eq(reject_reason(st, "DonationCollected", dc, 9, &rej), "volume_not_allowed");
    cr_assert_str_eq(rej.field, "volume_ml");
    dc[7].value = "4OO";
    cr_assert_str_eq(reject_reason(st, "DonationCollected", dc, 9, &rej), "not_integer");
    dc[7].value = "400";
    dc[8].value = "maybe";
    cr_assert_str_eq(reject_reason(st, "DonationCollected", dc, 9, &rej), "not_boolean");
    dc[8].value = "true";
    dc[7].value = "150"; /* incomplete: no volume rule */
    cr_assert_eq(hf_station_submit(st, "DonationCollected", dc, 9, NULL, &rej), HF_OK, "%s",
                 rej.detail);
    dc[3].value = "J320126000101U"; /* with check character: accepted, stored as 13 */
    cr_assert_eq(hf_station_submit(st, "DonationCollected", dc, 9, NULL, &rej), HF_OK, "%s",
                 rej.detail);
    hf_submit_opts_t o = {.schema_version = 7};
    cr_assert_eq(hf_station_submit(st, "DonationCollected", dc, 9, &o, &rej), HF_ERR_INVALID);
    cr_assert_str_eq(rej.reason, "schema_version_unknown");
    o.schema_version = 1;
    cr_assert_eq(hf_station_submit(st, "DonationCollected", dc, 9, &o, &rej), HF_OK);
    cr_assert_eq(hf_station_submit(st, "NoSuchEvent", dc, 9, NULL, &rej), HF_ERR_INVALID);
    cr_assert_str_eq(rej.reason, "event_type_unknown");
    /* fault injection encodes what validation would refuse */
    dc[3].value = "not-a-din";
    o = (hf_submit_opts_t){.skip_validation = true};
    cr_assert_eq(hf_station_submit(st, "DonationCollected", dc, 9, &o, &rej), HF_OK, "%s",
                 rej.detail);
    cr_assert_eq(hf_station_submit_raw(st, "UnitMoved", "32010001", "\x00\x01", 2), HF_OK);
    hf_station_stats_t s;
    hf_station_stats(st, &s);
    cr_assert_eq(s.accepted, 5);
    hf_station_destroy(st);
}

/* A double field takes a decimal number; NaN and the infinities, spelled or
 * reached by overflow, are refused as the consumer would quarantine them
 * (not_finite), anything else that is no number as not_number. */
Test(station, doubles_must_be_finite)
{
    hf_station_t *st = offline_station();
    hf_reject_t rej;
    hf_field_t de[] = {
        {"facility_id", "32010001"}, {"province_code", "32"},
        {"occurred_at", "2026-03-02T09:00:00+08:00"}, {"donor_id", "320102199003151239"},
        {"outcome", "accepted"}, {"hb_g_per_l", "140"}, {"weight_kg", "60.0"},
        {"first_time", "true"},
    };
    cr_assert_eq(hf_station_submit(st, "DonorEligibilityAssessed", de, 8, NULL, &rej), HF_OK,
                 "%s %s", rej.reason, rej.detail);
    de[6].value = "1.7976931348623157e308"; /* the largest double */
    cr_assert_eq(hf_station_submit(st, "DonorEligibilityAssessed", de, 8, NULL, &rej), HF_OK,
                 "%s %s", rej.reason, rej.detail);
    const char *not_finite[] = {"nan", "NaN", "-nan", "inf", "+Inf", "-inf", "infinity",
                                "-INFINITY", "1e999", "-1e999", "1.8e308"};
    for (size_t k = 0; k < sizeof(not_finite) / sizeof(not_finite[0]); k++) {
        de[6].value = not_finite[k];
        cr_assert_str_eq(reject_reason(st, "DonorEligibilityAssessed", de, 8, &rej), "not_finite",
                         "%s: %s", not_finite[k], rej.detail);
        cr_assert_str_eq(rej.field, "weight_kg");
    }
    const char *not_number[] = {"0x1p3", "nanx", "in", "6O", "1e", "--1"};
    for (size_t k = 0; k < sizeof(not_number) / sizeof(not_number[0]); k++) {
        de[6].value = not_number[k];
        cr_assert_str_eq(reject_reason(st, "DonorEligibilityAssessed", de, 8, &rej), "not_number",
                         "'%s': %s", not_number[k], rej.detail);
    }
    hf_field_t sr[] = {
        {"facility_id", "32010001"},   {"province_code", "32"},
        {"occurred_at", "2026-03-02T09:00:00+08:00"}, {"din", "J320126000101"},
        {"marker", "hbsag"},           {"method", "elisa"},
        {"result", "non_reactive"},     {"value", "-Infinity"},
        {"is_final", "true"},
    };
    cr_assert_str_eq(reject_reason(st, "ScreeningResultRecorded", sr, 9, &rej), "not_finite",
                     "%s", rej.detail);
    cr_assert_str_eq(rej.field, "value");
    sr[7].value = "0.12";
    cr_assert_eq(hf_station_submit(st, "ScreeningResultRecorded", sr, 9, NULL, &rej), HF_OK,
                 "%s %s", rej.reason, rej.detail);
    hf_station_destroy(st);
}

/* The text and array limits the consumer applies too (hf_validate.h): the
 * station refuses what the decoder would quarantine. */
Test(station, text_and_array_limits)
{
    hf_station_t *st = offline_station();
    hf_reject_t rej;
    char text[HF_VALIDATE_MAX_STRING_BYTES + 2];
    memset(text, 's', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    hf_field_t dc[] = {
        {"facility_id", "32010001"}, {"province_code", "32"},
        {"occurred_at", "2026-03-01T09:30:00+08:00"}, {"din", "J320126000101"},
        {"donor_id", "320102199003151239"}, {"procedure", "whole_blood"},
        {"collection_type", "volunteer"}, {"volume_ml", "400"}, {"incomplete", "false"},
        {"source_system", text},
    };
    cr_assert_str_eq(reject_reason(st, "DonationCollected", dc, 10, &rej), "string_too_long");
    cr_assert_str_eq(rej.field, "source_system");
    /* facility_id: at most 64 bytes, as the consumer requires */
    dc[0].value = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"; /* 64 */
    dc[9].value = "hostile";
    cr_assert_eq(hf_station_submit(st, "DonationCollected", dc, 10, NULL, &rej), HF_OK, "%s",
                 rej.detail);
    dc[0].value = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"; /* 65 */
    cr_assert_str_eq(reject_reason(st, "DonationCollected", dc, 10, &rej), "facility_id_format");
    dc[0].value = "32010001";
    dc[9].value = text;
    text[HF_VALIDATE_MAX_STRING_BYTES] = '\0'; /* exactly at the limit */
    cr_assert_eq(hf_station_submit(st, "DonationCollected", dc, 10, NULL, &rej), HF_OK, "%s",
                 rej.detail);

    /* 10 001 DINs are refused before any DIN is looked at; 10 000 pass */
    hf_buf_t dins = {0};
    for (int i = 0; i < HF_VALIDATE_MAX_ARRAY_ITEMS + 1; i++)
        hf_buf_printf(&dins, "%sJ3201260%05d", i ? "|" : "", i % 100000);
    hf_buf_append(&dins, "", 1);
    hf_field_t ae[] = {
        {"facility_id", "32010203"}, {"province_code", "32"},
        {"occurred_at", "2026-03-03T15:05:00+08:00"}, {"subject", "recipient"},
        {"dins", (const char *)dins.data}, {"category", "allergic"},
        {"severity", "non_severe"}, {"imputability", "likely"}, {"outcome", "resolved"},
        {"report_status", "final"},
    };
    cr_assert_str_eq(reject_reason(st, "AdverseEventReported", ae, 10, &rej), "array_too_long");
    cr_assert_str_eq(rej.field, "dins");
    ((char *)dins.data)[dins.len - 1 - 14] = '\0'; /* drop the last "|J3201260xxxxx" */
    cr_assert_eq(hf_station_submit(st, "AdverseEventReported", ae, 10, NULL, &rej), HF_OK,
                 "10 000 DINs: %s %s", rej.reason, rej.detail);
    hf_buf_free(&dins);
    hf_station_destroy(st);
}
