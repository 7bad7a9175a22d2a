/*
 * Unit: the loader's binary COPY encoder and its helpers (no network):
 * UUID text, station-local event dates (hf_cal_local_day, which
 * hf_normalize gives every row), civil dates and partition periods,
 * fact-table layouts read from the schema files, and the bytes of one
 * encoded row.
 */
#include <avro.h>
#include <criterion/criterion.h>
#include <string.h>

#include "hf_cal.h"
#include "hf_catalog.h"
#include "hf_mem.h"
#include "hf_uuid.h"
#include "hf_wh_int.h"

static int32_t days(int y, unsigned m, unsigned d)
{
    return (int32_t)hf_cal_days_from_civil(y, (int)m, (int)d);
}

Test(load_encode, uuid_text)
{
    unsigned char u[16];
    cr_assert(hf_uuid_parse("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", 36, u));
    cr_assert_eq(u[0], 0x0f);
    cr_assert_eq(u[15], 0xf0);
    cr_assert(hf_uuid_parse("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0", 36, u));
    cr_assert_not(hf_uuid_parse("0f1e2d3c4b5a-6978-8796-a5b4c3d2e1f0", 36, u));
    cr_assert_not(hf_uuid_parse("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1fg", 36, u));
    cr_assert_not(hf_uuid_parse("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f", 35, u));
    /* every byte, both cases; every non-hex character at every digit refused */
    static const unsigned char want[16] = {0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
                                           0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};
    cr_assert(hf_uuid_parse("0f1E2d3C-4b5A-6978-8796-A5b4c3D2e1F0", 36, u));
    cr_assert_eq(memcmp(u, want, 16), 0);
    char t[37] = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    for (size_t i = 0; i < 36; i++) {
        if (t[i] == '-')
            continue;
        char keep = t[i];
        for (int c = 0; c < 256; c++) {
            t[i] = (char)c;
            bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            cr_assert_eq(hf_uuid_parse(t, 36, u), hex, "position %zu, character %d", i, c);
        }
        t[i] = keep;
    }
    cr_assert_not(hf_uuid_parse("0f1e2d3c+4b5a-6978-8796-a5b4c3d2e1f0", 36, u));
    cr_assert_not(hf_uuid_parse("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", 37, u));
    cr_assert_not(hf_uuid_parse(NULL, 36, u));
}

Test(load_encode, civil_dates)
{
    cr_assert_eq(days(1970, 1, 1), 0);
    cr_assert_eq(days(2000, 1, 1), HF__PG_EPOCH_DAYS);
    cr_assert_eq(days(1969, 12, 31), -1);
    cr_assert_eq(days(2024, 3, 1) - days(2024, 2, 28), 2);
    for (int32_t d = -800000; d < 3000000; d += 997) {
        int64_t y;
        int m, dd;
        hf_cal_civil_from_days(d, &y, &m, &dd);
        cr_assert_eq(days(y, m, dd), d);
    }
    cr_assert_eq(hf__wh_period_start(days(2026, 3, 17), false), days(2026, 3, 1));
    cr_assert_eq(hf__wh_period_start(days(2026, 3, 17), true), days(2026, 3, 17));
    cr_assert_eq(hf__wh_period_start(days(1988, 12, 31), false), days(1988, 12, 1));
}

/* The event date a row gets: hf_normalize's hf_cal_local_day (the loader
 * takes it, it does not compute its own); an instant too far out for a
 * date never reaches the loader (hf_normalize's time rules), and a date
 * out of PostgreSQL's range is refused by the encoder (adverse_event_row_bytes). */
Test(load_encode, local_event_date)
{
    int32_t d;
    /* 2026-03-01T20:30Z is 2026-03-02 in UTC+08:00, still 03-01 in UTC-05:00 */
    int64_t t = (int64_t)days(2026, 3, 1) * 86400000000 + INT64_C(73800000000);
    d = hf_cal_local_day(t, 480);
    cr_assert_eq(d, days(2026, 3, 2));
    d = hf_cal_local_day(t, -300);
    cr_assert_eq(d, days(2026, 3, 1));
    d = hf_cal_local_day(t, 0);
    cr_assert_eq(d, days(2026, 3, 1));
    /* before 1970: floor, not truncation */
    d = hf_cal_local_day(-1, 0);
    cr_assert_eq(d, -1);
    /* 1988-06-01 (DST in Asia/Shanghai, offset 540): midnight local is the
     * previous UTC day */
    t = (int64_t)days(1988, 6, 1) * 86400000000 - INT64_C(9) * 3600000000;
    d = hf_cal_local_day(t, 540);
    cr_assert_eq(d, days(1988, 6, 1));
}

static hf_catalog_t *cat_load(void)
{
    char err[512];
    char *dir = hf_asprintf("%s/schemas/avro", getenv("HF_SOURCE_DIR"));
    hf_catalog_t *cat = hf_catalog_load(dir, err, sizeof(err));
    hf_free(dir);
    cr_assert(cat, "%s", err);
    return cat;
}

static void table_for(hf__table_t *t, const hf_catalog_t *cat, const char *type)
{
    const hf_event_type_t *et = hf_event_type_find(type);
    cr_assert(et, "no event type %s", type);
    int version = 0;
    const hf_avro_schema_t *tree = hf_catalog_reader_tree(cat, et, &version);
    cr_assert(tree, "no schema for %s", type);
    char err[256];
    cr_assert_eq(hf__wh_table_from_tree(t, et, version, tree, err, sizeof(err)), HF_OK, "%s",
                 err);
}

Test(load_encode, layouts_follow_logical_types)
{
    hf_catalog_t *cat = cat_load();
    hf__table_t t;
    table_for(&t, cat, "DonationCollected");
    cr_assert_eq(t.version, 2);
    cr_assert_eq(t.nfields, 21);
    cr_assert_str_eq(t.fields[0].name, "event_id");
    cr_assert_eq(t.fields[0].kind, HF__COL_UUID);
    cr_assert_eq(t.fields[6].kind, HF__COL_TSTZ);
    cr_assert_eq(t.fields[10].kind, HF__COL_UUID);
    cr_assert(t.fields[10].nullable);
    cr_assert(t.fields[11].is_enum);
    cr_assert_str_eq(t.fields[20].name, "anticoagulant_ml");
    cr_assert_eq(t.fields[20].kind, HF__COL_INT4);
    cr_assert(strstr(t.copy_sql, "COPY hemoflow.donation_collected (event_date, event_id,"));
    cr_assert(strstr(t.copy_sql, "anticoagulant_ml, kafka_partition, kafka_offset) FROM STDIN"));
    hf__wh_table_clear(&t);
    table_for(&t, cat, "DonorRegistered");
    cr_assert_eq(t.fields[15].kind, HF__COL_DATE); /* birth_date */
    hf__wh_table_clear(&t);
    table_for(&t, cat, "AdverseEventReported");
    cr_assert_eq(t.fields[13].kind, HF__COL_TEXTARR); /* dins */
    cr_assert_str_eq(hf__wh_pgtype(t.fields[13].kind), "text[]");
    hf__wh_table_clear(&t);
    hf_catalog_destroy(cat);
}

/* ==== one row, byte by byte ==== */

static const unsigned char *field_at(const hf_buf_t *b, int n, int32_t *len)
{
    const unsigned char *p = b->data + 2;
    for (int i = 0;; i++) {
        int32_t l = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
                              p[3]);
        if (i == n) {
            *len = l;
            return p + 4;
        }
        p += 4 + (l > 0 ? l : 0);
    }
}

static int64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return n == 4 ? (int64_t)(int32_t)v : (int64_t)v;
}

/* Lay out an inline schema; HF_OK or the error with its message in err. */
static hf_err_t layout_of(const char *json, hf__table_t *t, char *err, size_t errsz)
{
    char perr[256];
    hf_avro_schema_t *s = hf_avro_schema_parse(json, strlen(json), perr, sizeof(perr));
    cr_assert(s, "%s", perr);
    hf_err_t e = hf__wh_table_from_tree(t, hf_event_type_find("DonationCollected"), 7, s, err,
                                        errsz);
    hf_avro_schema_destroy(s);
    return e;
}

#define ENVELOPE                                                                                \
    "{\"name\":\"province_code\",\"type\":\"string\"},"                                   \
    "{\"name\":\"occurred_at\",\"type\":{\"type\":\"long\","                            \
    "\"logicalType\":\"timestamp-micros\"}},"                                               \
    "{\"name\":\"utc_offset_minutes\",\"type\":\"int\"}"

Test(load_encode, layout_from_an_inline_tree)
{
    hf__table_t t;
    char err[256];
    const char *ok = "{\"type\":\"record\",\"name\":\"X\",\"fields\":[" ENVELOPE
                     ",{\"name\":\"d\",\"type\":[\"null\",{\"type\":\"int\","
                     "\"logicalType\":\"date\"}]},"
                     "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
                     "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
                     "\"symbols\":[\"A\"]}}]}";
    cr_assert_eq(layout_of(ok, &t, err, sizeof(err)), HF_OK, "%s", err);
    cr_assert_eq(t.version, 7);
    cr_assert_eq(t.nfields, 6);
    cr_assert_eq(t.i_province, 0);
    cr_assert_eq(t.i_occurred, 1);
    cr_assert_eq(t.i_utc_offset, 2);
    cr_assert_eq(t.fields[1].kind, HF__COL_TSTZ);
    cr_assert_eq(t.fields[3].kind, HF__COL_DATE);
    cr_assert(t.fields[3].nullable);
    cr_assert_eq(t.fields[4].kind, HF__COL_TEXTARR);
    cr_assert_eq(t.fields[5].kind, HF__COL_TEXT);
    cr_assert(t.fields[5].is_enum);
    cr_assert_str_eq(t.columns, "event_date, province_code, occurred_at, utc_offset_minutes, d, "
                                "tags, e, kafka_partition, kafka_offset");
    hf__wh_table_clear(&t);

    const char *union_last = "{\"type\":\"record\",\"name\":\"X\",\"fields\":[" ENVELOPE
                             ",{\"name\":\"u\",\"type\":[\"string\",\"null\"]}]}";
    cr_assert_eq(layout_of(union_last, &t, err, sizeof(err)), HF_ERR_SCHEMA);
    cr_assert(strstr(err, "DonationCollected v7: field u: only"), "%s", err);
    const char *bytes = "{\"type\":\"record\",\"name\":\"X\",\"fields\":[" ENVELOPE
                        ",{\"name\":\"b\",\"type\":\"bytes\"}]}";
    cr_assert_eq(layout_of(bytes, &t, err, sizeof(err)), HF_ERR_SCHEMA);
    cr_assert(strstr(err, "field b: type has no warehouse column mapping"), "%s", err);
    const char *int_array = "{\"type\":\"record\",\"name\":\"X\",\"fields\":[" ENVELOPE
                            ",{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"}}]}";
    cr_assert_eq(layout_of(int_array, &t, err, sizeof(err)), HF_ERR_SCHEMA);
    /* occurred_at as a plain long (no logical type) is no envelope field */
    const char *no_ts = "{\"type\":\"record\",\"name\":\"X\",\"fields\":["
                        "{\"name\":\"province_code\",\"type\":\"string\"},"
                        "{\"name\":\"occurred_at\",\"type\":\"long\"},"
                        "{\"name\":\"utc_offset_minutes\",\"type\":\"int\"}]}";
    cr_assert_eq(layout_of(no_ts, &t, err, sizeof(err)), HF_ERR_SCHEMA);
    cr_assert(strstr(err, "envelope fields"), "%s", err);
    cr_assert_eq(t.fields, NULL); /* cleared on failure */
}

Test(load_encode, adverse_event_row_bytes)
{
    hf_catalog_t *cat = cat_load();
    hf__table_t t;
    table_for(&t, cat, "AdverseEventReported");
    avro_value_iface_t *iface =
        avro_generic_class_from_schema(hf_catalog_schema(cat, "AdverseEventReported", 0, NULL));
    avro_value_t v, f, b;
    cr_assert_eq(avro_generic_value_new(iface, &v), 0);
    size_t n;
    avro_value_get_size(&v, &n);
    for (size_t i = 0; i < n; i++) {
        avro_value_get_by_index(&v, i, &f, NULL);
        switch (avro_value_get_type(&f)) {
        case AVRO_STRING: avro_value_set_string(&f, "ab"); break;
        case AVRO_INT32: avro_value_set_int(&f, 480); break;
        case AVRO_INT64: avro_value_set_long(&f, INT64_C(946684800000001)); break;
        case AVRO_ENUM: avro_value_set_enum(&f, 1); break;
        case AVRO_UNION:
            avro_value_set_branch(&f, 0, &b);
            avro_value_set_null(&b);
            break;
        case AVRO_ARRAY:
            avro_value_append(&f, &b, NULL);
            avro_value_set_string(&b, "J320126000101");
            break;
        default: break;
        }
    }
    avro_value_get_by_name(&v, "event_id", &f, NULL);
    avro_value_set_string(&f, "00000000-0000-4000-8000-000000000abc");
    avro_value_get_by_name(&v, "province_code", &f, NULL);
    avro_value_set_string(&f, "32");

    hf_buf_t out = {0};
    /* the event date hf_normalize gives this value */
    int32_t date = hf_cal_local_day(INT64_C(946684800000001), 480);
    char st[6], err[256];
    cr_assert_eq(hf__wh_encode_row(&t, &v, date, 7, 123456789012, &out, st, err, sizeof(err)),
                 HF__ENC_OK, "%s", err);
    cr_assert_eq(be(out.data, 2), 20 + 3);
    int32_t len;
    const unsigned char *p = field_at(&out, 6, &len); /* province_code */
    cr_assert_eq(len, 2);
    cr_assert_eq(memcmp(p, "32", 2), 0);
    p = field_at(&out, 0, &len); /* event_date */
    cr_assert_eq(len, 4);
    /* 2000-01-01T00:00:00.000001Z + 480 min = 2000-01-01 local: PG day 0 */
    cr_assert_eq(be(p, 4), 0);
    p = field_at(&out, 1, &len); /* event_id */
    cr_assert_eq(len, 16);
    cr_assert_eq(p[14], 0x0a);
    cr_assert_eq(p[15], 0xbc);
    p = field_at(&out, 2, &len); /* event_type: text without Avro C's NUL */
    cr_assert_eq(len, 2);
    cr_assert_eq(memcmp(p, "ab", 2), 0);
    p = field_at(&out, 7, &len); /* occurred_at: µs since 2000 */
    cr_assert_eq(len, 8);
    cr_assert_eq(be(p, 8), 1);
    field_at(&out, 11, &len); /* supersedes_event_id */
    cr_assert_eq(len, -1);
    p = field_at(&out, 12, &len); /* op: enum symbol */
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(p, "amend", 5), 0);
    p = field_at(&out, 14, &len); /* dins: 1-dim text[] */
    cr_assert_eq(len, 20 + 4 + 13);
    cr_assert_eq(be(p, 4), 1);     /* ndim */
    cr_assert_eq(be(p + 4, 4), 0); /* no nulls */
    cr_assert_eq(be(p + 8, 4), 25);
    cr_assert_eq(be(p + 12, 4), 1); /* size */
    cr_assert_eq(be(p + 16, 4), 1); /* lower bound */
    cr_assert_eq(be(p + 20, 4), 13);
    p = field_at(&out, 21, &len); /* kafka_partition */
    cr_assert_eq(be(p, 4), 7);
    p = field_at(&out, 22, &len); /* kafka_offset */
    cr_assert_eq(be(p, 8), 123456789012);
    cr_assert_eq((size_t)(p + 8 - out.data), out.len);

    /* a bad UUID is data (22P02) and leaves out unchanged */
    size_t before = out.len;
    avro_value_get_by_name(&v, "event_id", &f, NULL);
    avro_value_set_string(&f, "not-a-uuid");
    cr_assert_eq(hf__wh_encode_row(&t, &v, date, 7, 1, &out, st, err, sizeof(err)),
                 HF__ENC_DATA);
    cr_assert_str_eq(st, "22P02");
    cr_assert_eq(out.len, before);

    /* an event date PostgreSQL cannot hold is data (22008) too */
    cr_assert_eq(hf__wh_encode_row(&t, &v, INT32_MAX, 7, 1, &out, st, err, sizeof(err)),
                 HF__ENC_DATA);
    cr_assert_str_eq(st, "22008");
    cr_assert_eq(out.len, before);

    /* a record of another event type does not fit */
    hf__table_t dc;
    table_for(&dc, cat, "DonationCollected");
    cr_assert_eq(hf__wh_encode_row(&dc, &v, date, 7, 1, &out, st, err, sizeof(err)),
                 HF__ENC_SHAPE);
    cr_assert_eq(out.len, before);

    hf__wh_table_clear(&dc);
    hf_buf_free(&out);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    hf__wh_table_clear(&t);
    hf_catalog_destroy(cat);
}
