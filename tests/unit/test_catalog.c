/*
 * test_catalog — catalogue loading and its rejections, fingerprint
 * stability, encode -> decode round trips with real Avro bytes (ours and
 * fastavro's), v1 -> v2 resolution, every decode error, a bounded fuzz run,
 * and `schemas check` on good and bad candidates.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hf_avro.h"
#include "hf_catalog.h"
#include "hf_decoder.h"
#include "hf_frame.h"
#include "hf_mem.h"

/* ==== helpers ==== */

static char *src_path(const char *rel)
{
    const char *dir = getenv("HF_SOURCE_DIR");
    return hf_asprintf("%s/%s", dir ? dir : HF_SOURCE_DIR, rel);
}

static char *fixture_path(const char *rel)
{
    const char *dir = getenv("HF_FIXTURES");
    return hf_asprintf("%s/%s", dir ? dir : HF_SOURCE_DIR "/tests/fixtures", rel);
}

static hf_catalog_t *load_real(void)
{
    char *dir = src_path("schemas/avro");
    char err[1024] = "";
    hf_catalog_t *cat = hf_catalog_load(dir, err, sizeof(err));
    cr_assert_not_null(cat, "load %s: %s", dir, err);
    hf_free(dir);
    return cat;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = hf_malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_all(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "create %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* A fresh copy of schemas/avro in /tmp; caller removes it with rm_tree. */
static char *copy_schemas(void)
{
    char tmpl[] = "/tmp/hf_catalog_test_XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    char *src = src_path("schemas/avro");
    DIR *d = opendir(src);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *from = hf_asprintf("%s/%s", src, de->d_name);
        char *to = hf_asprintf("%s/%s", tmpl, de->d_name);
        size_t len;
        char *data = read_all(from, &len);
        write_all(to, data, len);
        hf_free(data);
        hf_free(from);
        hf_free(to);
    }
    closedir(d);
    hf_free(src);
    return hf_strdup(tmpl);
}

static void rm_tree(char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *p = hf_asprintf("%s/%s", dir, de->d_name);
        unlink(p);
        hf_free(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    hf_free(dir);
}

/* Load dir and expect failure with every needle in errstr. */
static void expect_load_error(const char *dir, const char *needle1, const char *needle2)
{
    char err[2048] = "";
    hf_catalog_t *cat = hf_catalog_load(dir, err, sizeof(err));
    cr_expect_null(cat, "loaded although it should fail with '%s'", needle1);
    hf_catalog_destroy(cat);
    cr_expect(strstr(err, needle1) != NULL, "'%s' lacks '%s'", err, needle1);
    if (needle2)
        cr_expect(strstr(err, needle2) != NULL, "'%s' lacks '%s'", err, needle2);
}

static void field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    cr_assert_eq(avro_value_get_by_name(rec, name, out, NULL), 0, "no field %s", name);
}

static void set_str(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f;
    field(rec, name, &f);
    cr_assert_eq(avro_value_set_string(&f, s), 0);
}

static void set_enum(avro_value_t *rec, const char *name, const char *sym)
{
    avro_value_t f;
    field(rec, name, &f);
    int idx = avro_schema_enum_get_by_name(avro_value_get_schema(&f), sym);
    cr_assert_geq(idx, 0, "%s has no symbol %s", name, sym);
    cr_assert_eq(avro_value_set_enum(&f, idx), 0);
}

/* union ["null", T]: NULL -> null branch */
static void set_opt_int(avro_value_t *rec, const char *name, const int *v)
{
    avro_value_t f, b;
    field(rec, name, &f);
    cr_assert_eq(avro_value_set_branch(&f, v ? 1 : 0, &b), 0);
    cr_assert_eq(v ? avro_value_set_int(&b, *v) : avro_value_set_null(&b), 0);
}

static void fill_donation(avro_value_t *v, int version)
{
    avro_value_t f, b;
    set_str(v, "event_id", "0f8fad5b-d9cb-469f-a165-70867728950e");
    set_str(v, "event_type", "DonationCollected");
    field(v, "schema_version", &f);
    avro_value_set_int(&f, version);
    set_str(v, "source_system", "XueZhan-LIS 5.2 \xe8\xa1\x80"); /* non-ASCII UTF-8 */
    set_str(v, "facility_id", "32010001");
    set_str(v, "province_code", "32");
    field(v, "occurred_at", &f);
    avro_value_set_long(&f, 1764325200123456LL);
    field(v, "utc_offset_minutes", &f);
    avro_value_set_int(&f, -480);
    field(v, "reported_at", &f);
    avro_value_set_long(&f, INT64_MAX);
    field(v, "revision", &f);
    avro_value_set_int(&f, INT32_MIN);
    field(v, "supersedes_event_id", &f);
    avro_value_set_branch(&f, 1, &b);
    avro_value_set_string(&b, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
    set_enum(v, "op", "amend");
    set_str(v, "din", "W123426000001");
    set_str(v, "donor_pid", "");
    set_enum(v, "procedure", version >= 2 ? "apheresis_red_cells" : "apheresis_plasma");
    set_enum(v, "collection_type", "paid");
    int vol = 400, pg = 580;
    set_opt_int(v, "volume_ml", &vol);
    set_opt_int(v, "plasma_g", &pg);
    set_opt_int(v, "interval_days_since_last", NULL);
    field(v, "incomplete", &f);
    avro_value_set_boolean(&f, 1);
    if (version >= 2) {
        int ac = 63;
        set_opt_int(v, "anticoagulant_ml", &ac);
    }
}

/* Encode a filled DonationCollected of `version` into out. */
static uint64_t encode_donation(const hf_catalog_t *cat, int version, hf_buf_t *out)
{
    uint64_t fp = 0;
    avro_schema_t s = hf_catalog_schema(cat, "DonationCollected", version, &fp);
    cr_assert_not_null(s);
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t v;
    cr_assert_eq(avro_generic_value_new(iface, &v), 0);
    fill_donation(&v, version);
    char err[256] = "";
    cr_assert_eq(hf_catalog_encode(cat, &v, fp, out, err, sizeof(err)), HF_OK, "%s", err);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    return fp;
}

static const char *get_str(avro_value_t *rec, const char *name)
{
    avro_value_t f;
    const char *s = NULL;
    size_t n = 0;
    field(rec, name, &f);
    cr_assert_eq(avro_value_get_string(&f, &s, &n), 0, "%s is not a string", name);
    cr_assert_eq(strlen(s) + 1, n, "%s: size includes exactly one NUL", name);
    return s;
}

static const char *get_enum(avro_value_t *rec, const char *name)
{
    avro_value_t f;
    int idx = -1;
    field(rec, name, &f);
    cr_assert_eq(avro_value_get_enum(&f, &idx), 0);
    return avro_schema_enum_get(avro_value_get_schema(&f), idx);
}

/* union ["null", int]: returns 1 and *out when set, 0 when null */
static int get_opt_int(avro_value_t *rec, const char *name, int *out)
{
    avro_value_t f, b;
    int disc = -1;
    field(rec, name, &f);
    cr_assert_eq(avro_value_get_discriminant(&f, &disc), 0);
    cr_assert_eq(avro_value_get_current_branch(&f, &b), 0);
    if (disc == 0) {
        cr_assert_eq(avro_value_get_type(&b), AVRO_NULL);
        return 0;
    }
    int32_t v;
    cr_assert_eq(avro_value_get_int(&b, &v), 0);
    *out = v;
    return 1;
}

static void expect_common_fields(avro_value_t *v)
{
    avro_value_t f, b;
    int32_t i;
    int64_t l;
    int bo, disc;
    const char *s;
    size_t n;
    cr_expect_str_eq(get_str(v, "event_id"), "0f8fad5b-d9cb-469f-a165-70867728950e");
    cr_expect_str_eq(get_str(v, "source_system"), "XueZhan-LIS 5.2 \xe8\xa1\x80");
    cr_expect_str_eq(get_str(v, "donor_pid"), "");
    field(v, "occurred_at", &f);
    avro_value_get_long(&f, &l);
    cr_expect_eq(l, 1764325200123456LL);
    field(v, "reported_at", &f);
    avro_value_get_long(&f, &l);
    cr_expect_eq(l, INT64_MAX);
    field(v, "utc_offset_minutes", &f);
    avro_value_get_int(&f, &i);
    cr_expect_eq(i, -480);
    field(v, "revision", &f);
    avro_value_get_int(&f, &i);
    cr_expect_eq(i, INT32_MIN);
    field(v, "supersedes_event_id", &f);
    avro_value_get_discriminant(&f, &disc);
    cr_expect_eq(disc, 1);
    avro_value_get_current_branch(&f, &b);
    avro_value_get_string(&b, &s, &n);
    cr_expect_str_eq(s, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
    cr_expect_str_eq(get_enum(v, "op"), "amend");
    cr_expect_str_eq(get_enum(v, "collection_type"), "paid");
    int x = 0;
    cr_expect_eq(get_opt_int(v, "volume_ml", &x), 1);
    cr_expect_eq(x, 400);
    cr_expect_eq(get_opt_int(v, "interval_days_since_last", &x), 0);
    field(v, "incomplete", &f);
    avro_value_get_boolean(&f, &bo);
    cr_expect_eq(bo, 1);
}

/* ==== loading ==== */

Test(catalog, loads_the_real_schemas)
{
    hf_catalog_t *cat = load_real();
    size_t n = hf_catalog_count(cat), newest = 0;
    cr_assert_geq(n, hf_event_types_count + 1);
    const hf_event_type_t *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        hf_catalog_info_t info;
        cr_assert_eq(hf_catalog_entry(cat, i, &info), HF_OK);
        cr_expect_not_null(info.event_type);
        cr_expect_geq(info.version, 1);
        cr_expect_not_null(strstr(info.path, info.event_type->name));
        cr_expect_eq(hf_avro_crc64(info.canonical, strlen(info.canonical)), info.fingerprint);
        cr_expect(prev == NULL || prev <= info.event_type, "entries ordered by event type");
        prev = info.event_type;
        newest += info.is_newest;
        hf_catalog_info_t again;
        cr_assert_eq(hf_catalog_find(cat, info.fingerprint, &again), HF_OK);
        cr_expect_eq(again.version, info.version);
    }
    cr_expect_eq(newest, hf_event_types_count);
    hf_catalog_info_t info;
    cr_expect_eq(hf_catalog_entry(cat, n, &info), HF_ERR_NOT_FOUND);
    cr_expect_eq(hf_catalog_find(cat, 0x1234, &info), HF_ERR_UNKNOWN_FINGERPRINT);

    uint64_t fp1, fp2, fpn;
    cr_expect_not_null(hf_catalog_schema(cat, "DonationCollected", 1, &fp1));
    cr_expect_not_null(hf_catalog_schema(cat, "donation_collected", 2, &fp2));
    cr_expect_not_null(hf_catalog_schema(cat, "DonationCollected", 0, &fpn));
    cr_expect_eq(fpn, fp2, "version 0 is the newest");
    cr_expect_neq(fp1, fp2);
    cr_expect_null(hf_catalog_schema(cat, "DonationCollected", 99, NULL));
    cr_expect_null(hf_catalog_schema(cat, "NoSuchEvent", 0, NULL));
    const hf_event_type_t *dc = hf_event_type_find("DonationCollected");
    cr_expect_eq(hf_catalog_field_index(cat, dc, "event_id"), 0);
    cr_expect_gt(hf_catalog_field_index(cat, dc, "anticoagulant_ml"), 0);
    cr_expect_eq(hf_catalog_field_index(cat, dc, "nope"), -1);
    hf_catalog_destroy(cat);
    hf_catalog_destroy(NULL);
}

Test(catalog, reader_tree_is_the_newest_schema_of_each_type)
{
    hf_catalog_t *cat = load_real();
    for (size_t t = 0; t < hf_event_types_count; t++) {
        const hf_event_type_t *et = &hf_event_types[t];
        hf_catalog_info_t newest = {0}, info;
        for (size_t i = 0; i < hf_catalog_count(cat); i++)
            if (hf_catalog_entry(cat, i, &info) == HF_OK && info.event_type == et &&
                info.is_newest)
                newest = info;
        int version = -1;
        const hf_avro_schema_t *tree = hf_catalog_reader_tree(cat, et, &version);
        cr_assert_not_null(tree, "%s", et->name);
        cr_expect_eq(version, newest.version, "%s", et->name);
        cr_expect_eq(hf_avro_schema_fingerprint(tree), newest.fingerprint, "%s", et->name);
        cr_expect_str_eq(hf_avro_schema_pcf(tree), newest.canonical);
        const hf_avro_node_t *root = hf_avro_schema_root(tree);
        cr_assert_eq(root->type, HF_AVRO_RECORD);
        cr_expect_str_eq(root->name, et->name);
        for (size_t i = 0; i < root->n; i++)
            cr_expect_eq(hf_catalog_field_index(cat, et, root->fields[i].name), (int)i,
                         "%s.%s: field order is the decoded value's", et->name,
                         root->fields[i].name);
        cr_expect_eq(hf_catalog_reader_tree(cat, et, NULL), tree);
    }

    /* what a column layout needs: names, types, nullability, logical types */
    const hf_event_type_t *dc = hf_event_type_find("DonationCollected");
    int version = 0;
    const hf_avro_node_t *root = hf_avro_schema_root(hf_catalog_reader_tree(cat, dc, &version));
    cr_expect_eq(version, 2);
    const hf_avro_field_t *f = &root->fields[hf_catalog_field_index(cat, dc, "occurred_at")];
    cr_expect_eq(f->type->type, HF_AVRO_LONG);
    cr_expect_str_eq(f->type->logical_type, "timestamp-micros");
    f = &root->fields[hf_catalog_field_index(cat, dc, "supersedes_event_id")];
    cr_assert_eq(f->type->type, HF_AVRO_UNION);
    cr_assert_eq(f->type->n, 2);
    cr_expect_eq(f->type->branches[0]->type, HF_AVRO_NULL);
    cr_expect_eq(f->type->branches[1]->type, HF_AVRO_STRING);
    cr_expect_str_eq(f->type->branches[1]->logical_type, "uuid");
    f = &root->fields[hf_catalog_field_index(cat, dc, "procedure")];
    cr_expect_eq(f->type->type, HF_AVRO_ENUM);
    cr_expect_null(f->type->logical_type);
    f = &root->fields[hf_catalog_field_index(cat, dc, "anticoagulant_ml")];
    cr_expect_eq(f->type->type, HF_AVRO_UNION, "added in v2: the reader tree is v2");

    /* a decoded v1 value has the reader tree's fields */
    hf_decoder_t *dec = hf_decoder_new(cat);
    hf_buf_t buf = {0};
    encode_donation(cat, 1, &buf);
    hf_decoded_t d;
    char err[512] = "";
    cr_assert_eq(hf_decoder_decode(dec, buf.data, buf.len, 0, &d, err, sizeof(err)), HF_OK, "%s",
                 err);
    size_t nfields = 0;
    cr_expect_eq(avro_value_get_size(d.value, &nfields), 0);
    cr_expect_eq(nfields, root->n);
    hf_buf_free(&buf);
    hf_decoder_destroy(dec);

    hf_event_type_t stray = *dc;
    cr_expect_null(hf_catalog_reader_tree(cat, NULL, &version));
    cr_expect_null(hf_catalog_reader_tree(cat, &stray, NULL), "not an entry of hf_event_types");
    hf_catalog_destroy(cat);
}

Test(catalog, fingerprints_are_stable)
{
    /* 1. pinned values, computed independently with fastavro */
    hf_catalog_t *cat = load_real();
    char *path = fixture_path("avro/schema_fingerprints.txt");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[512];
    size_t pinned = 0;
    while (fgets(line, sizeof(line), f)) {
        char name[256];
        unsigned long long fp;
        if (line[0] == '#' || sscanf(line, "%255s 0x%llx", name, &fp) != 2)
            continue;
        pinned++;
        hf_catalog_info_t info;
        cr_expect_eq(hf_catalog_find(cat, fp, &info), HF_OK, "%s %016llx not in the catalogue",
                     name, fp);
        if (hf_catalog_find(cat, fp, &info) == HF_OK)
            cr_expect(strstr(info.path, name) != NULL, "%016llx is %s, not %s", fp, info.path,
                      name);
    }
    fclose(f);
    hf_free(path);
    cr_expect_eq(pinned, hf_catalog_count(cat), "every schema file has a pinned fingerprint");

    /* 2. formatting, key order and docs do not change the fingerprint */
    for (size_t i = 0; i < hf_catalog_count(cat); i++) {
        hf_catalog_info_t info;
        cr_assert_eq(hf_catalog_entry(cat, i, &info), HF_OK);
        json_error_t je;
        json_t *doc = json_load_file(info.path, 0, &je);
        cr_assert_not_null(doc);
        json_object_set_new(doc, "doc", json_string("changed"));
        char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        char err[256];
        char *pcf = hf_avro_pcf(text, strlen(text), err, sizeof(err));
        cr_assert_not_null(pcf, "%s", err);
        cr_expect_str_eq(pcf, info.canonical);
        cr_expect_eq(hf_avro_crc64(pcf, strlen(pcf)), info.fingerprint, "%s", info.path);
        hf_free(pcf);
        free(text);
        json_decref(doc);
    }
    hf_catalog_destroy(cat);
}

Test(catalog, load_rejects_bad_folders)
{
    char err[512];
    cr_expect_null(hf_catalog_load("/nonexistent/hf", err, sizeof(err)));
    cr_expect(strstr(err, "/nonexistent/hf") != NULL, "%s", err);

    char *dir = copy_schemas();
    char *p = hf_asprintf("%s/DonationCollected.v3.avsc", dir);

    write_all(p, "{ \"type\": \"record\", ", 20);
    expect_load_error(dir, "DonationCollected.v3.avsc", "not a valid Avro schema");

    size_t len;
    char *um = src_path("schemas/avro/UnitMoved.v1.avsc");
    char *text = read_all(um, &len);
    write_all(p, text, len);
    expect_load_error(dir, "DonationCollected.v3.avsc", "file name says record DonationCollected");
    hf_free(text);
    hf_free(um);

    char *v2 = src_path("schemas/avro/DonationCollected.v2.avsc");
    text = read_all(v2, &len);
    write_all(p, text, len);
    expect_load_error(dir, "same fingerprint", "DonationCollected.v3.avsc");
    hf_free(text);
    hf_free(v2);

    char *bad = fixture_path("avro/check_no_default/DonationCollected.v3.avsc");
    text = read_all(bad, &len);
    write_all(p, text, len);
    expect_load_error(dir, "cannot be read by the newest version", "bag_lot");
    hf_free(text);
    hf_free(bad);
    unlink(p);

    char *q = hf_asprintf("%s/DonationCollected.v01.avsc", dir);
    write_all(q, "\"int\"", 5);
    expect_load_error(dir, "DonationCollected.v01.avsc", "file name must be");
    unlink(q);
    hf_free(q);

    q = hf_asprintf("%s/Foo.v1.avsc", dir);
    const char *foo = "{\"type\":\"record\",\"name\":\"Foo\",\"fields\":[]}";
    write_all(q, foo, strlen(foo));
    expect_load_error(dir, "'Foo' is not a hemoflow event type", NULL);
    unlink(q);
    hf_free(q);

    q = hf_asprintf("%s/UnitMoved.v1.avsc", dir);
    unlink(q);
    expect_load_error(dir, "no version of: UnitMoved", NULL);
    hf_free(q);

    hf_free(p);
    rm_tree(dir);
}

/* ==== encode / decode ==== */

Test(catalog, round_trip_v2)
{
    hf_catalog_t *cat = load_real();
    hf_decoder_t *dec = hf_decoder_new(cat);
    hf_buf_t buf = {0};
    uint64_t fp = encode_donation(cat, 2, &buf);
    cr_assert_eq(buf.data[0], 0xC3);
    cr_assert_eq(buf.data[1], 0x01);
    for (int i = 0; i < 8; i++)
        cr_expect_eq(buf.data[2 + i], (uint8_t)(fp >> (8 * i)), "little-endian fingerprint");

    hf_decoded_t d;
    char err[512] = "";
    cr_assert_eq(hf_decoder_decode(dec, buf.data, buf.len, 0, &d, err, sizeof(err)), HF_OK, "%s",
                 err);
    cr_expect_str_eq(d.event_type->name, "DonationCollected");
    cr_expect_eq(d.fingerprint, fp);
    cr_expect_eq(d.writer_version, 2);
    cr_expect_eq(d.reader_version, 2);
    expect_common_fields(d.value);
    cr_expect_str_eq(get_enum(d.value, "procedure"), "apheresis_red_cells");
    int x = 0;
    cr_expect_eq(get_opt_int(d.value, "anticoagulant_ml", &x), 1);
    cr_expect_eq(x, 63);

    /* The decoded value re-encodes to the same bytes. */
    hf_buf_t again = {0};
    cr_assert_eq(hf_catalog_encode(cat, d.value, fp, &again, err, sizeof(err)), HF_OK, "%s", err);
    cr_expect_eq(again.len, buf.len);
    cr_expect_arr_eq(again.data, buf.data, buf.len);

    hf_buf_free(&again);
    hf_buf_free(&buf);
    hf_decoder_destroy(dec);
    hf_catalog_destroy(cat);
}

Test(catalog, v1_written_is_read_as_v2)
{
    hf_catalog_t *cat = load_real();
    hf_decoder_t *dec = hf_decoder_new(cat);
    hf_buf_t buf = {0};
    uint64_t fp1 = encode_donation(cat, 1, &buf);
    hf_decoded_t d;
    char err[512] = "";
    /* decode twice: the second run reuses the cached reader value */
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(hf_decoder_decode(dec, buf.data, buf.len, 4096, &d, err, sizeof(err)), HF_OK,
                     "%s", err);
        cr_expect_eq(d.fingerprint, fp1);
        cr_expect_eq(d.writer_version, 1);
        cr_expect_eq(d.reader_version, 2);
        cr_expect_eq(avro_value_get_schema(d.value),
                     hf_catalog_schema(cat, "DonationCollected", 2, NULL));
        expect_common_fields(d.value);
        cr_expect_str_eq(get_enum(d.value, "procedure"), "apheresis_plasma",
                         "symbols map by name: index 1 in both, but by name");
        int x = 12345;
        cr_expect_eq(get_opt_int(d.value, "anticoagulant_ml", &x), 0,
                     "field absent in v1 gets its default, null");
    }
    hf_buf_free(&buf);
    hf_decoder_destroy(dec);
    hf_catalog_destroy(cat);
}

Test(catalog, decodes_frames_written_by_fastavro)
{
    hf_catalog_t *cat = load_real();
    hf_decoder_t *dec = hf_decoder_new(cat);
    for (int v = 1; v <= 2; v++) {
        char *rel = hf_asprintf("avro/fastavro_DonationCollected.v%d.bin", v);
        char *path = fixture_path(rel);
        size_t len;
        char *bytes = read_all(path, &len);
        hf_decoded_t d;
        char err[512] = "";
        cr_assert_eq(hf_decoder_decode(dec, bytes, len, 0, &d, err, sizeof(err)), HF_OK, "%s: %s",
                     path, err);
        cr_expect_eq(d.writer_version, v);
        cr_expect_str_eq(get_str(d.value, "event_id"), "0f8fad5b-d9cb-469f-a165-70867728950e");
        cr_expect_str_eq(get_str(d.value, "donor_pid"),
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        cr_expect_str_eq(get_enum(d.value, "op"), "amend");
        cr_expect_str_eq(get_enum(d.value, "procedure"),
                         v == 1 ? "apheresis_plasma" : "apheresis_red_cells");
        int x = 0;
        cr_expect_eq(get_opt_int(d.value, "volume_ml", &x), 0);
        cr_expect_eq(get_opt_int(d.value, "plasma_g", &x), 1);
        cr_expect_eq(x, 580);
        cr_expect_eq(get_opt_int(d.value, "interval_days_since_last", &x), 1);
        cr_expect_eq(x, -14);
        cr_expect_eq(get_opt_int(d.value, "anticoagulant_ml", &x), v == 2);
        avro_value_t f;
        int64_t l;
        field(d.value, "occurred_at", &f);
        avro_value_get_long(&f, &l);
        cr_expect_eq(l, 1764325200123456LL);
        hf_free(bytes);
        hf_free(path);
        hf_free(rel);
    }
    hf_decoder_destroy(dec);
    hf_catalog_destroy(cat);
}

/* Found by fuzzing (tests/fuzz, the reproducer is in its corpus): an error
 * inside an array item was overwritten by the next block count, read from
 * wherever the item stopped, so the rest of the body could still "decode".
 * Here the second DIN of a real AdverseEventReported frame has length -1
 * and is followed by 00, which reads as the end of the array: the event
 * decoded with a half-built `dins` list instead of being quarantined. */
Test(catalog, an_array_item_that_does_not_decode_fails_the_frame)
{
    hf_catalog_t *cat = load_real();
    hf_decoder_t *dec = hf_decoder_new(cat);
    char *path = fixture_path("avro/AdverseEventReported.v1.dins_negative_length.bin");
    size_t len;
    char *bytes = read_all(path, &len);
    hf_decoded_t d;
    char err[512] = "";
    cr_expect_eq(hf_decoder_decode(dec, bytes, len, 0, &d, err, sizeof(err)), HF_ERR_DECODE,
                 "%s", err);
    cr_expect(strstr(err, "dins") != NULL && strstr(err, "negative length -1") != NULL, "%s",
              err);
    cr_expect_null(d.value);
    hf_free(bytes);
    hf_free(path);
    hf_decoder_destroy(dec);
    hf_catalog_destroy(cat);
}

/* The same defect where a writer field the reader dropped is skipped: an
 * error inside an array item of the skipped value was overwritten. The
 * fuzzers' synthetic history (tests/fuzz/schemas/UnitMoved.v1-v3) drops a
 * map of arrays of unions; this body (the fuzz corpus' reproducer) has one
 * entry whose array's item has union index -6, then 00 00. */
Test(catalog, an_item_error_inside_a_skipped_field_fails_the_frame)
{
    char *dir = copy_schemas();
    for (int v = 1; v <= 3; v++) {
        char *rel = hf_asprintf("tests/fuzz/schemas/UnitMoved.v%d.avsc", v);
        char *from = src_path(rel);
        char *to = hf_asprintf("%s/UnitMoved.v%d.avsc", dir, v);
        size_t len;
        char *data = read_all(from, &len);
        write_all(to, data, len);
        hf_free(data);
        hf_free(to);
        hf_free(from);
        hf_free(rel);
    }
    char err[1024] = "";
    hf_catalog_t *cat = hf_catalog_load(dir, err, sizeof(err));
    cr_assert_not_null(cat, "%s", err);
    uint64_t fp = 0;
    cr_assert_not_null(hf_catalog_schema(cat, "UnitMoved", 1, &fp));
    char *path = src_path("tests/fuzz/corpus/decoder/repro-skipped-array-item-error-swallowed");
    size_t len;
    char *body = read_all(path, &len); /* byte 0 picks the version for the fuzzer */
    hf_buf_t frame = {0};
    uint8_t hdr[HF_FRAME_HEADER_LEN];
    hf_frame_header(hdr, fp);
    hf_buf_append(&frame, hdr, sizeof(hdr));
    hf_buf_append(&frame, body + 1, len - 1);
    hf_decoder_t *dec = hf_decoder_new(cat);
    hf_decoded_t d;
    cr_expect_eq(hf_decoder_decode(dec, frame.data, frame.len, 0, &d, err, sizeof(err)),
                 HF_ERR_DECODE, "%s", err);
    cr_expect(strstr(err, "j_removed") != NULL && strstr(err, "union index -6") != NULL, "%s",
              err);
    /* the same body without the bad entry decodes */
    hf_buf_reset(&frame);
    hf_buf_append(&frame, hdr, sizeof(hdr));
    hf_buf_append(&frame, body + 1, 12);
    hf_buf_append(&frame, "", 1); /* empty map */
    hf_buf_append(&frame, body + 1 + 12 + 7, len - 1 - 12 - 7);
    cr_expect_eq(hf_decoder_decode(dec, frame.data, frame.len, 0, &d, err, sizeof(err)), HF_OK,
                 "%s", err);
    hf_buf_free(&frame);
    hf_decoder_destroy(dec);
    hf_catalog_destroy(cat);
    hf_free(body);
    hf_free(path);
    rm_tree(dir); /* frees dir */
}

Test(catalog, decode_errors)
{
    hf_catalog_t *cat = load_real();
    hf_decoder_t *dec = hf_decoder_new(cat);
    hf_buf_t buf = {0};
    encode_donation(cat, 2, &buf);
    hf_decoded_t d;
    char err[512];

    cr_expect_eq(hf_decoder_decode(dec, NULL, 0, 0, &d, err, sizeof(err)), HF_ERR_TRUNCATED);
    cr_expect_eq(hf_decoder_decode(dec, buf.data, 1, 0, &d, err, sizeof(err)), HF_ERR_TRUNCATED);
    cr_expect_eq(hf_decoder_decode(dec, buf.data, 9, 0, &d, err, sizeof(err)), HF_ERR_TRUNCATED);
    cr_expect_eq(hf_decoder_decode(dec, buf.data, 10, 0, &d, err, sizeof(err)), HF_ERR_TRUNCATED);
    cr_expect_eq(hf_decoder_decode(dec, buf.data, buf.len, buf.len - 1, &d, err, sizeof(err)),
                 HF_ERR_OVERSIZE);
    cr_expect_eq(hf_decoder_decode(dec, buf.data, buf.len, buf.len, &d, err, sizeof(err)), HF_OK);

    /* body cut short */
    cr_expect_eq(hf_decoder_decode(dec, buf.data, buf.len - 1, 0, &d, err, sizeof(err)),
                 HF_ERR_TRUNCATED);
    cr_expect(strstr(err, "DonationCollected.") != NULL, "error names the field: %s", err);

    /* trailing bytes */
    hf_buf_t longer = {0};
    hf_buf_append(&longer, buf.data, buf.len);
    hf_buf_append(&longer, "\0", 1);
    cr_expect_eq(hf_decoder_decode(dec, longer.data, longer.len, 0, &d, err, sizeof(err)),
                 HF_ERR_TRAILING);
    cr_expect(strstr(err, "1 bytes left") != NULL, "%s", err);
    hf_buf_free(&longer);

    /* wrong magic */
    buf.data[1] = 0x02;
    cr_expect_eq(hf_decoder_decode(dec, buf.data, buf.len, 0, &d, err, sizeof(err)),
                 HF_ERR_BAD_MAGIC);
    buf.data[1] = 0x01;

    /* unknown fingerprint */
    buf.data[5] ^= 0xff;
    cr_expect_eq(hf_decoder_decode(dec, buf.data, buf.len, 0, &d, err, sizeof(err)),
                 HF_ERR_UNKNOWN_FINGERPRINT);
    cr_expect(strstr(err, "not in the catalogue") != NULL, "%s", err);
    buf.data[5] ^= 0xff;

    /* a body that does not decode: event_id length -1 (zigzag 0x01) */
    uint8_t b0 = buf.data[10];
    buf.data[10] = 0x01;
    cr_expect_eq(hf_decoder_decode(dec, buf.data, buf.len, 0, &d, err, sizeof(err)), HF_ERR_DECODE);
    cr_expect(strstr(err, "event_id") != NULL, "%s", err);
    buf.data[10] = b0;

    /* still fine afterwards */
    cr_expect_eq(hf_decoder_decode(dec, buf.data, buf.len, 0, &d, err, sizeof(err)), HF_OK, "%s",
                 err);
    hf_buf_free(&buf);
    hf_decoder_destroy(dec);
    hf_decoder_destroy(NULL);
    hf_catalog_destroy(cat);
}

/* One failed decode: the error, and the fingerprint exactly when the frame
 * header was there. */
static void expect_fail(hf_decoder_t *dec, const void *buf, size_t len, size_t max_len,
                        hf_err_t want, bool want_fp, uint64_t fp, const char *label)
{
    hf_decoded_t d;
    memset(&d, 0xa5, sizeof(d)); /* stale contents must not survive */
    char err[512] = "";
    cr_expect_eq(hf_decoder_decode(dec, buf, len, max_len, &d, err, sizeof(err)), want,
                 "%s: %s", label, err);
    cr_expect_eq(d.has_fingerprint, want_fp, "%s", label);
    cr_expect_eq(d.fingerprint, want_fp ? fp : 0, "%s: %016llx", label,
                 (unsigned long long)d.fingerprint);
    cr_expect_null(d.event_type, "%s", label);
    cr_expect_null(d.value, "%s", label);
}

Test(catalog, decode_failures_report_the_fingerprint_when_a_header_was_read)
{
    hf_catalog_t *cat = load_real();
    hf_decoder_t *dec = hf_decoder_new(cat);
    hf_buf_t buf = {0};
    uint64_t fp = encode_donation(cat, 2, &buf);

    /* no header: too short, bad magic */
    expect_fail(dec, NULL, 0, 0, HF_ERR_TRUNCATED, false, 0, "empty");
    expect_fail(dec, buf.data, 1, 0, HF_ERR_TRUNCATED, false, 0, "1 byte");
    expect_fail(dec, buf.data, 9, 0, HF_ERR_TRUNCATED, false, 0, "9 bytes");
    buf.data[1] = 0x02;
    expect_fail(dec, buf.data, buf.len, 0, HF_ERR_BAD_MAGIC, false, 0, "bad magic");
    expect_fail(dec, buf.data, 5, 0, HF_ERR_BAD_MAGIC, false, 0, "short, bad magic");
    buf.data[1] = 0x01;

    /* a header: everything else */
    expect_fail(dec, buf.data, 10, 0, HF_ERR_TRUNCATED, true, fp, "header only");
    expect_fail(dec, buf.data, buf.len, buf.len - 1, HF_ERR_OVERSIZE, true, fp, "oversize");
    expect_fail(dec, buf.data, buf.len - 1, 0, HF_ERR_TRUNCATED, true, fp, "truncated body");
    hf_buf_t longer = {0};
    hf_buf_append(&longer, buf.data, buf.len);
    hf_buf_append(&longer, "\0", 1);
    expect_fail(dec, longer.data, longer.len, 0, HF_ERR_TRAILING, true, fp, "trailing bytes");
    hf_buf_free(&longer);
    uint8_t b0 = buf.data[10];
    buf.data[10] = 0x01; /* event_id length -1 */
    expect_fail(dec, buf.data, buf.len, 0, HF_ERR_DECODE, true, fp, "body does not decode");
    buf.data[10] = b0;
    buf.data[5] ^= 0xff;
    expect_fail(dec, buf.data, buf.len, 0, HF_ERR_UNKNOWN_FINGERPRINT, true,
                fp ^ ((uint64_t)0xff << 24), "unknown fingerprint");
    buf.data[5] ^= 0xff;

    hf_decoded_t d;
    char err[512] = "";
    cr_assert_eq(hf_decoder_decode(dec, buf.data, buf.len, 0, &d, err, sizeof(err)), HF_OK, "%s",
                 err);
    cr_expect(d.has_fingerprint);
    cr_expect_eq(d.fingerprint, fp);
    hf_buf_free(&buf);
    hf_decoder_destroy(dec);
    hf_catalog_destroy(cat);
}

Test(catalog, encode_rejects_a_value_of_another_schema)
{
    hf_catalog_t *cat = load_real();
    uint64_t fp1, fp2;
    hf_catalog_schema(cat, "DonationCollected", 1, &fp1);
    avro_schema_t s2 = hf_catalog_schema(cat, "DonationCollected", 2, &fp2);
    avro_value_iface_t *iface = avro_generic_class_from_schema(s2);
    avro_value_t v;
    avro_generic_value_new(iface, &v);
    fill_donation(&v, 2);
    hf_buf_t out = {0};
    char err[256];
    cr_expect_eq(hf_catalog_encode(cat, &v, fp1, &out, err, sizeof(err)), HF_ERR_SCHEMA);
    cr_expect_eq(hf_catalog_encode(cat, &v, 42, &out, err, sizeof(err)),
                 HF_ERR_UNKNOWN_FINGERPRINT);
    cr_expect_eq(out.len, 0);
    /* two frames appended to one buffer */
    cr_expect_eq(hf_catalog_encode(cat, &v, fp2, &out, err, sizeof(err)), HF_OK, "%s", err);
    size_t one = out.len;
    cr_expect_eq(hf_catalog_encode(cat, &v, fp2, &out, err, sizeof(err)), HF_OK, "%s", err);
    cr_expect_eq(out.len, 2 * one);
    hf_buf_free(&out);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    hf_catalog_destroy(cat);
}

Test(catalog, avro_c_resolver_limitation_is_still_there)
{
    /* Why hf_catalog has its own resolving decoder: Avro C 1.11's resolved
     * writer refuses a reader field the writer lacks, even with a default.
     * If this starts passing a newer Avro C, the workaround could go. */
    hf_catalog_t *cat = load_real();
    avro_schema_t s1 = hf_catalog_schema(cat, "DonationCollected", 1, NULL);
    avro_schema_t s2 = hf_catalog_schema(cat, "DonationCollected", 2, NULL);
    avro_value_iface_t *r = avro_resolved_writer_new(s1, s2);
    cr_expect_null(r, "Avro C now resolves v1 -> v2 itself");
    if (r)
        avro_value_iface_decref(r);
    else
        cr_expect(strstr(avro_strerror(), "anticoagulant_ml") != NULL, "%s", avro_strerror());
    hf_catalog_destroy(cat);
}

/* ==== fuzz ==== */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(catalog, random_and_damaged_frames_never_crash, .timeout = 60)
{
    hf_catalog_t *cat = load_real();
    hf_decoder_t *dec = hf_decoder_new(cat);
    hf_buf_t good[2] = {{0}, {0}};
    encode_donation(cat, 1, &good[0]);
    encode_donation(cat, 2, &good[1]);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    uint8_t work[512];
    size_t counts[HF_ERR__COUNT] = {0};
    clock_t start = clock();
    size_t iters = 0;
    for (; iters < 200000 && clock() - start < 2 * CLOCKS_PER_SEC; iters++) {
        const hf_buf_t *g = &good[rnd(&seed) & 1];
        size_t len = g->len;
        memcpy(work, g->data, len);
        switch (rnd(&seed) % 5) {
        case 0: /* truncate */
            len = rnd(&seed) % (g->len + 1);
            break;
        case 1: /* flip 1-4 bits anywhere (marker, fingerprint, body) */
            for (int k = 0, n = 1 + (int)(rnd(&seed) % 4); k < n; k++) {
                size_t at = rnd(&seed) % len;
                work[at] ^= (uint8_t)(1u << (rnd(&seed) % 8));
            }
            break;
        case 2: /* random body behind a valid header */
            len = 10 + rnd(&seed) % (sizeof(work) - 10);
            for (size_t k = 10; k < len; k++)
                work[k] = (uint8_t)rnd(&seed);
            break;
        case 3: /* overwrite a run with 0xff (huge varints, lengths) */
            for (size_t at = 10 + rnd(&seed) % (len - 10), k = 0; k < 12 && at + k < len; k++)
                work[at + k] = 0xff;
            break;
        default: /* anything at all */
            len = rnd(&seed) % 64;
            for (size_t k = 0; k < len; k++)
                work[k] = (uint8_t)rnd(&seed);
        }
        hf_decoded_t d;
        char err[256];
        /* decode from an exact-size heap copy so ASan sees any overread */
        uint8_t *exact = hf_malloc(len ? len : 1);
        memcpy(exact, work, len);
        hf_err_t e = hf_decoder_decode(dec, exact, len, 0, &d, err, sizeof(err));
        hf_free(exact);
        cr_assert_lt((unsigned)e, (unsigned)HF_ERR__COUNT);
        counts[e]++;
        if (e == HF_OK) {
            size_t n;
            cr_assert_eq(avro_value_get_size(d.value, &n), 0);
        }
    }
    cr_log_info("fuzz: %zu frames: ok=%zu truncated=%zu decode=%zu trailing=%zu magic=%zu "
                "unknown_fp=%zu",
                iters, counts[HF_OK], counts[HF_ERR_TRUNCATED], counts[HF_ERR_DECODE],
                counts[HF_ERR_TRAILING], counts[HF_ERR_BAD_MAGIC],
                counts[HF_ERR_UNKNOWN_FINGERPRINT]);
    cr_expect_gt(iters, 1000);
    cr_expect_gt(counts[HF_ERR_TRUNCATED], 0);
    cr_expect_gt(counts[HF_ERR_DECODE] + counts[HF_ERR_TRAILING], 0);
    cr_expect_gt(counts[HF_ERR_UNKNOWN_FINGERPRINT], 0);
    /* the decoder still works after all that */
    hf_decoded_t d;
    char err[256];
    cr_expect_eq(hf_decoder_decode(dec, good[0].data, good[0].len, 0, &d, err, sizeof(err)), HF_OK,
                 "%s", err);
    hf_buf_free(&good[0]);
    hf_buf_free(&good[1]);
    hf_decoder_destroy(dec);
    hf_catalog_destroy(cat);
}

/* ==== compatibility ==== */

static hf_err_t run_check(const hf_catalog_t *cat, const char *rel, char **report)
{
    char *path = fixture_path(rel);
    hf_buf_t r = {0};
    hf_err_t e = hf_catalog_check(cat, path, &r);
    cr_assert_not_null(r.data);
    cr_assert_eq(strlen((char *)r.data), r.len);
    *report = (char *)r.data;
    hf_free(path);
    return e;
}

Test(catalog, check_good_candidate)
{
    hf_catalog_t *cat = load_real();
    char *rep;
    cr_expect_eq(run_check(cat, "avro/check_good/DonationCollected.v3.avsc", &rep), HF_OK, "%s",
                 rep);
    cr_expect(strstr(rep, "v1 data read with candidate v3 (backward): OK") != NULL, "%s", rep);
    cr_expect(strstr(rep, "candidate v3 data read with v2 (forward): OK") != NULL, "%s", rep);
    cr_expect(strstr(rep, "result: compatible (2 older versions compared)") != NULL, "%s", rep);
    hf_free(rep);
    hf_catalog_destroy(cat);
}

Test(catalog, check_bad_candidates)
{
    hf_catalog_t *cat = load_real();
    static const struct {
        const char *rel, *needle1, *needle2;
    } cases[] = {
        {"avro/check_no_default/DonationCollected.v3.avsc",
         "DonationCollected.bag_lot: reader field 'bag_lot' (string) is not in the writer and has "
         "no default",
         "backward): INCOMPATIBLE"},
        {"avro/check_enum_removed/DonationCollected.v3.avsc",
         "writer symbol 'apheresis_plasma' is not in reader enum cn.hemoflow.events.Procedure, "
         "which has no default",
         "DonationCollected.procedure"},
        {"avro/check_type_changed/DonationCollected.v3.avsc",
         "DonationCollected.revision: writer type int cannot be read as string",
         "DonationCollected.revision: writer type string cannot be read as int"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *rep;
        cr_expect_eq(run_check(cat, cases[i].rel, &rep), HF_ERR_SCHEMA, "%s", rep);
        cr_expect(strstr(rep, cases[i].needle1) != NULL, "%s\nlacks: %s", rep, cases[i].needle1);
        cr_expect(strstr(rep, cases[i].needle2) != NULL, "%s\nlacks: %s", rep, cases[i].needle2);
        cr_expect(strstr(rep, "result: incompatible") != NULL, "%s", rep);
        hf_free(rep);
    }
    hf_catalog_destroy(cat);
}

Test(catalog, check_published_version_and_invalid_files)
{
    hf_catalog_t *cat = load_real();
    char *rep;
    /* the catalogue's own v2: identical, compatible with v1 */
    cr_expect_eq(run_check(cat, "../../schemas/avro/DonationCollected.v2.avsc", &rep), HF_OK, "%s",
                 rep);
    cr_expect(strstr(rep, "v2: identical") != NULL, "%s", rep);
    hf_free(rep);

    /* an edited v2: published versions never change */
    char *dir = copy_schemas();
    char *good = fixture_path("avro/check_good/DonationCollected.v3.avsc");
    size_t len;
    char *text = read_all(good, &len);
    char *p = hf_asprintf("%s/DonationCollected.v2.avsc", dir);
    write_all(p, text, len);
    hf_buf_t r = {0};
    cr_expect_eq(hf_catalog_check(cat, p, &r), HF_ERR_SCHEMA, "%s", (char *)r.data);
    cr_expect(strstr((char *)r.data, "a published version never changes: use v3") != NULL, "%s",
              (char *)r.data);
    hf_buf_reset(&r);

    char *q = hf_asprintf("%s/Donation.avsc", dir);
    write_all(q, text, len);
    cr_expect_eq(hf_catalog_check(cat, q, &r), HF_ERR_INVALID);
    cr_expect(strstr((char *)r.data, "file name must be") != NULL, "%s", (char *)r.data);
    hf_buf_reset(&r);
    hf_free(q);

    q = hf_asprintf("%s/DonationCollected.v9.avsc", dir);
    cr_expect_eq(hf_catalog_check(cat, q, &r), HF_ERR_NOT_FOUND, "%s", (char *)r.data);
    hf_free(q);

    hf_buf_free(&r);
    hf_free(p);
    hf_free(text);
    hf_free(good);
    rm_tree(dir);
    hf_catalog_destroy(cat);
}
