/*
 * Unit tests for hf_normalize: real Avro frames (encoded with the catalogue,
 * decoded with the decoder) checked by the consumer-side rules.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hf_catalog.h"
#include "hf_decoder.h"
#include "hf_normalize.h"

static hf_catalog_t *cat;
static hf_decoder_t *dec;
static hf_normalizer_t *norm;
static hf_buf_t frame;

#define NOW_US INT64_C(1780000000000000) /* 2026-05-28 */

static void setup(void)
{
    char err[512];
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/schemas/avro", getenv("HF_SOURCE_DIR"));
    cat = hf_catalog_load(dir, err, sizeof(err));
    cr_assert(cat, "%s", err);
    dec = hf_decoder_new(cat);
    hf_validate_rules_t rules;
    hf_validate_rules_default(&rules);
    norm = hf_normalizer_new(cat, &rules);
}

static void teardown(void)
{
    hf_buf_free(&frame);
    hf_normalizer_destroy(norm);
    hf_decoder_destroy(dec);
    hf_catalog_destroy(cat);
}

TestSuite(normalize, .init = setup, .fini = teardown);

static void set_str(avro_value_t *rec, const char *name, const char *v)
{
    avro_value_t f, b;
    cr_assert_eq(avro_value_get_by_name(rec, name, &f, NULL), 0, "no field %s", name);
    if (avro_value_get_type(&f) == AVRO_UNION) {
        if (!v) {
            cr_assert_eq(avro_value_set_branch(&f, 0, &b), 0);
            avro_value_set_null(&b);
            return;
        }
        cr_assert_eq(avro_value_set_branch(&f, 1, &b), 0);
        f = b;
    }
    cr_assert_eq(avro_value_set_string(&f, v), 0);
}

static void set_long(avro_value_t *rec, const char *name, int64_t v)
{
    avro_value_t f, b;
    cr_assert_eq(avro_value_get_by_name(rec, name, &f, NULL), 0, "no field %s", name);
    if (avro_value_get_type(&f) == AVRO_UNION) {
        cr_assert_eq(avro_value_set_branch(&f, 1, &b), 0);
        f = b;
    }
    if (avro_value_get_type(&f) == AVRO_INT32)
        cr_assert_eq(avro_value_set_int(&f, (int32_t)v), 0);
    else
        cr_assert_eq(avro_value_set_long(&f, v), 0);
}

static void set_enum(avro_value_t *rec, const char *name, const char *sym)
{
    avro_value_t f;
    cr_assert_eq(avro_value_get_by_name(rec, name, &f, NULL), 0, "no field %s", name);
    int idx = avro_schema_enum_get_by_name(avro_value_get_schema(&f), sym);
    cr_assert_geq(idx, 0, "no symbol %s", sym);
    cr_assert_eq(avro_value_set_enum(&f, idx), 0);
}

/* Fill the envelope every event type shares. */
static void envelope(avro_value_t *rec, const char *event_type)
{
    set_str(rec, "event_id", "0b9f5c3e-8d7a-4e21-9c3b-2a1f0e6d5c4b");
    set_str(rec, "event_type", event_type);
    set_long(rec, "schema_version", 1);
    set_str(rec, "source_system", "test");
    set_str(rec, "facility_id", "32010001");
    set_str(rec, "province_code", "32");
    /* 2026-03-01T23:30:00+08:00 = 2026-03-01T15:30:00Z */
    set_long(rec, "occurred_at", INT64_C(1772379000000000));
    set_long(rec, "utc_offset_minutes", 480);
    set_long(rec, "reported_at", INT64_C(1772379000000000));
    set_long(rec, "revision", 0);
    set_str(rec, "supersedes_event_id", NULL);
    set_enum(rec, "op", "create");
}

/* Encode rec with the newest schema of its type, decode, normalize. */
static hf_err_t roundtrip(avro_value_t *rec, uint64_t fp, hf_norm_t *out)
{
    char err[256];
    hf_buf_reset(&frame);
    cr_assert_eq(hf_catalog_encode(cat, rec, fp, &frame, err, sizeof(err)), HF_OK, "%s", err);
    hf_decoded_t d;
    cr_assert_eq(hf_decoder_decode(dec, frame.data, frame.len, 0, &d, err, sizeof(err)), HF_OK,
                 "%s", err);
    return hf_normalize(norm, &d, NOW_US, out);
}

/* A valid event of type et: the envelope, then fill sets its own fields,
 * then tweak adjusts them; encoded, decoded and normalized. */
static hf_err_t event(const char *et, void (*fill)(avro_value_t *),
                      void (*tweak)(avro_value_t *), hf_norm_t *out)
{
    uint64_t fp;
    avro_schema_t s = hf_catalog_schema(cat, et, 0, &fp);
    cr_assert(s);
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t rec;
    avro_generic_value_new(iface, &rec);
    envelope(&rec, et);
    fill(&rec);
    if (tweak)
        tweak(&rec);
    hf_err_t e = roundtrip(&rec, fp, out);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    return e;
}

/* DonationCollected: whole blood, 400 ml. */
static void donation_fields(avro_value_t *rec)
{
    set_str(rec, "din", "G123498654321");
    set_str(rec, "donor_pid", "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592");
    set_enum(rec, "procedure", "whole_blood");
    set_enum(rec, "collection_type", "volunteer");
    set_long(rec, "volume_ml", 400);
    set_str(rec, "plasma_g", NULL);
    set_str(rec, "interval_days_since_last", NULL);
    set_str(rec, "anticoagulant_ml", NULL);
}

/* UnitMoved: a transfer from province 32 to 34. */
static void unit_moved_fields(avro_value_t *rec)
{
    set_str(rec, "din", "G123498654321");
    set_str(rec, "product_code", "E0336V00");
    set_enum(rec, "movement", "transfer");
    set_str(rec, "from_facility_id", "32010001");
    set_str(rec, "to_facility_id", "34010002");
    set_str(rec, "from_province_code", "32");
    set_str(rec, "to_province_code", "34");
}

static hf_err_t donation(void (*tweak)(avro_value_t *), hf_norm_t *out)
{
    return event("DonationCollected", donation_fields, tweak, out);
}

static hf_err_t unit_moved(void (*tweak)(avro_value_t *), hf_norm_t *out)
{
    return event("UnitMoved", unit_moved_fields, tweak, out);
}

Test(normalize, valid_event_gives_key_and_local_date)
{
    hf_norm_t n;
    cr_assert_eq(unit_moved(NULL, &n), HF_OK, "%s %s", n.reason, n.detail);
    cr_assert_str_eq(n.province, "32");
    /* local date 2026-03-01 = day 20513 since 1970-01-01 (UTC date would be the same) */
    cr_assert_eq(n.event_date, 20513);
    static const uint8_t id[16] = {0x0b, 0x9f, 0x5c, 0x3e, 0x8d, 0x7a, 0x4e, 0x21,
                                   0x9c, 0x3b, 0x2a, 0x1f, 0x0e, 0x6d, 0x5c, 0x4b};
    cr_assert_arr_eq(n.event_id, id, 16);
}

static void late_evening_utc(avro_value_t *r)
{
    /* 2026-03-01T20:30:00Z = 2026-03-02T04:30+08:00: the station's date is the 2nd */
    set_long(r, "occurred_at", INT64_C(1772397000000000));
}

Test(normalize, event_date_is_the_stations_local_date)
{
    hf_norm_t n;
    cr_assert_eq(unit_moved(late_evening_utc, &n), HF_OK);
    cr_assert_eq(n.event_date, 20514);
}

static void bad_din(avro_value_t *r) { set_str(r, "din", "O123498654321"); }
static void din_bad_check(avro_value_t *r) { set_str(r, "din", "G123498654321X"); }
static void din_good_check(avro_value_t *r) { set_str(r, "din", "G123498654321H"); }
static void bad_uuid(avro_value_t *r) { set_str(r, "event_id", "not-a-uuid"); }
static void bad_province(avro_value_t *r) { set_str(r, "province_code", "99"); }
static void bad_to_province(avro_value_t *r) { set_str(r, "to_province_code", "00"); }
static void bad_product(avro_value_t *r) { set_str(r, "product_code", "E03"); }
static void future(avro_value_t *r) { set_long(r, "occurred_at", NOW_US + INT64_C(86400000000)); }
static void ancient(avro_value_t *r) { set_long(r, "occurred_at", 0); }
static void bad_offset(avro_value_t *r) { set_long(r, "utc_offset_minutes", 481); }
static void wrong_type(avro_value_t *r) { set_str(r, "event_type", "UnitDiscarded"); }
static void bad_supersedes(avro_value_t *r) { set_str(r, "supersedes_event_id", "xyz"); }

static void expect_reason(void (*tweak)(avro_value_t *), const char *reason)
{
    hf_norm_t n;
    cr_assert_eq(unit_moved(tweak, &n), HF_ERR_INVALID, "expected %s", reason);
    cr_assert_str_eq(n.reason, reason);
}

Test(normalize, rejections_have_stable_reasons)
{
    expect_reason(bad_din, "din_format");
    expect_reason(din_bad_check, "din_check");
    expect_reason(din_good_check, "din_format"); /* the contract carries 13 characters */
    expect_reason(bad_uuid, "event_id_format");
    expect_reason(bad_province, "province_unknown");
    expect_reason(bad_to_province, "province_unknown");
    expect_reason(bad_product, "product_code_format");
    expect_reason(future, "time_future");
    expect_reason(ancient, "time_before_floor");
    expect_reason(bad_offset, "utc_offset_step");
    expect_reason(wrong_type, "event_type_mismatch");
    expect_reason(bad_supersedes, "supersedes_format");
}

Test(normalize, uuid_parse)
{
    uint8_t id[16];
    cr_assert(hf_uuid_parse("0B9F5C3E-8D7A-4E21-9C3B-2A1F0E6D5C4B", 36, id));
    cr_assert_not(hf_uuid_parse("0b9f5c3e-8d7a-4e21-9c3b-2a1f0e6d5c4", 35, id));
    cr_assert_not(hf_uuid_parse("0b9f5c3e88d7a-4e21-9c3b-2a1f0e6d5c4b", 36, id));
    cr_assert_not(hf_uuid_parse("0b9f5c3e-8d7a-4e21-9c3b-2a1f0e6d5c4g", 36, id));
    cr_assert_not(hf_uuid_parse(NULL, 36, id));
}

static void proc_unknown(avro_value_t *r) { set_enum(r, "procedure", "unknown"); }
static void proc_unknown_huge(avro_value_t *r)
{
    set_enum(r, "procedure", "unknown");
    set_long(r, "volume_ml", 5000);
}
static void whole_blood_huge(avro_value_t *r) { set_long(r, "volume_ml", 5000); }

/* The consumer keeps a donation whose procedure is "unknown", without a
 * volume check: Avro resolution gives a newer writer's procedure symbol this
 * reader's default, "unknown", and such a record is valid data. The station
 * (hf_validate_volume in publish) refuses "unknown" for its own exports:
 * docs/validation.md. */
Test(normalize, unknown_procedure_is_kept_without_a_volume_check)
{
    hf_norm_t n;
    cr_assert_eq(donation(NULL, &n), HF_OK, "%s %s", n.reason, n.detail);
    cr_assert_eq(donation(proc_unknown, &n), HF_OK, "%s %s", n.reason, n.detail);
    cr_assert_eq(donation(proc_unknown_huge, &n), HF_OK, "%s %s", n.reason, n.detail);
    cr_assert_eq(donation(whole_blood_huge, &n), HF_ERR_INVALID);
    cr_assert_str_eq(n.reason, "volume_not_allowed");
    const char *why = NULL;
    hf_validate_rules_t rules;
    hf_validate_rules_default(&rules);
    cr_assert_eq(hf_validate_volume(&rules, HF_PROC_UNKNOWN, 400, -1, &why), HF_ERR_INVALID);
    cr_assert_str_eq(why, "procedure_unknown");
}
