/*
 * test_avro — Parsing Canonical Form, CRC-64-AVRO fingerprints (vectors in
 * tests/fixtures/avro/pcf_cases.txt, from the Avro project's own test data),
 * schema-tree validation, logical types kept in the tree and the resolution
 * rules.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_avro.h"
#include "hf_mem.h"

static char *fixture_path(const char *rel)
{
    const char *dir = getenv("HF_FIXTURES");
    return hf_asprintf("%s/%s", dir ? dir : HF_SOURCE_DIR "/tests/fixtures", rel);
}

typedef struct pcf_case_s {
    char *label, *input, *canonical;
    bool has_fp;
    uint64_t fp;
} pcf_case_t;

static size_t load_cases(pcf_case_t **out)
{
    char *path = fixture_path("avro/pcf_cases.txt");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    hf_free(path);
    pcf_case_t *cases = NULL;
    size_t n = 0;
    char line[8192], label[64] = "";
    pcf_case_t cur = {0};
    for (;;) {
        char *got = fgets(line, sizeof(line), f);
        if (got)
            line[strcspn(line, "\n")] = '\0';
        if (!got || line[0] == '\0') {
            if (cur.input) {
                cr_assert_not_null(cur.canonical, "case %s has no canonical line", label);
                cur.label = hf_strdup(label);
                cases = hf_realloc(cases, (n + 1) * sizeof(*cases));
                cases[n++] = cur;
            }
            memset(&cur, 0, sizeof(cur));
            if (!got)
                break;
            continue;
        }
        if (line[0] == '#') {
            snprintf(label, sizeof(label), "%.60s", line + 2);
        } else if (strncmp(line, "input: ", 7) == 0) {
            cur.input = hf_strdup(line + 7);
        } else if (strncmp(line, "canonical: ", 11) == 0) {
            cur.canonical = hf_strdup(line + 11);
        } else if (strncmp(line, "fingerprint: ", 13) == 0) {
            const char *v = line + 13;
            cur.has_fp = true;
            cur.fp =
                strncmp(v, "0x", 2) == 0 ? strtoull(v, NULL, 16) : (uint64_t)strtoll(v, NULL, 10);
        } else {
            cr_assert_fail("bad fixture line: %s", line);
        }
    }
    fclose(f);
    *out = cases;
    return n;
}

static void free_cases(pcf_case_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hf_free(c[i].label);
        hf_free(c[i].input);
        hf_free(c[i].canonical);
    }
    hf_free(c);
}

Test(avro, crc64_empty_is_the_spec_constant)
{
    cr_assert_eq(hf_avro_crc64("", 0), 0xc15d213aa4d7a795ULL);
    cr_assert_eq(hf_avro_crc64(NULL, 0), HF_AVRO_CRC64_EMPTY);
}

Test(avro, crc64_primitive_vectors)
{
    /* 64-bit Rabin fingerprints of primitive canonical forms, as in the Avro
     * project's schema-tests (Java longs). */
    cr_assert_eq(hf_avro_crc64("\"null\"", 6), (uint64_t)7195948357588979594LL);
    cr_assert_eq(hf_avro_crc64("\"int\"", 5), (uint64_t)8247732601305521295LL);
    cr_assert_eq(hf_avro_crc64("\"string\"", 8), (uint64_t)-8142146995180207161LL);
}

Test(avro, pcf_cases_from_fixture)
{
    pcf_case_t *cases;
    size_t n = load_cases(&cases), nfp = 0;
    cr_assert_geq(n, 39, "expected the 34 Avro cases and hemoflow's own, got %zu", n);
    for (size_t i = 0; i < n; i++) {
        char err[256] = "";
        char *pcf = hf_avro_pcf(cases[i].input, strlen(cases[i].input), err, sizeof(err));
        cr_assert_not_null(pcf, "%s: %s", cases[i].label, err);
        cr_expect_str_eq(pcf, cases[i].canonical, "%s", cases[i].label);
        /* The canonical form is its own canonical form. */
        char *again = hf_avro_pcf(pcf, strlen(pcf), err, sizeof(err));
        cr_assert_not_null(again, "%s: %s", cases[i].label, err);
        cr_expect_str_eq(again, pcf, "%s (idempotence)", cases[i].label);
        if (cases[i].has_fp) {
            nfp++;
            cr_expect_eq(hf_avro_crc64(pcf, strlen(pcf)), cases[i].fp,
                         "%s: fingerprint %016" PRIx64 ", expected %016" PRIx64, cases[i].label,
                         hf_avro_crc64(pcf, strlen(pcf)), cases[i].fp);
            hf_avro_schema_t *s =
                hf_avro_schema_parse(cases[i].input, strlen(cases[i].input), err, sizeof(err));
            if (s) /* NULL only for case 026, whose boolean default is a string */
                cr_expect_eq(hf_avro_schema_fingerprint(s), cases[i].fp, "%s", cases[i].label);
            else
                cr_expect(strstr(err, "default") != NULL, "%s: %s", cases[i].label, err);
            hf_avro_schema_destroy(s);
        }
        hf_free(again);
        hf_free(pcf);
    }
    cr_expect_geq(nfp, 30);
    free_cases(cases, n);
}

Test(avro, invalid_schemas_are_rejected_with_a_reason)
{
    static const char *bad[] = {
        "",
        "{",
        "\"nosuchtype\"",
        "42",
        "{\"type\":\"record\",\"fields\":[]}",
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
        "{\"name\":\"a\",\"type\":\"long\"}]}",
        "{\"type\":\"record\",\"name\":\"1r\",\"fields\":[]}",
        "{\"type\":\"enum\",\"name\":\"e\",\"symbols\":[\"A\",\"A\"]}",
        "{\"type\":\"enum\",\"name\":\"e\",\"symbols\":[\"A\"],\"default\":\"B\"}",
        "[\"int\",\"int\"]",
        "[\"null\",[\"int\"]]",
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":[\"null\","
        "\"int\"],\"default\":3}]}",
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":\"int\","
        "\"default\":\"x\"}]}",
        "{\"type\":\"fixed\",\"name\":\"f\",\"size\":-1}",
        "{\"type\":\"array\"}",
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":\"r2\"}]}",
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":"
        "\"enum\",\"name\":\"r\",\"symbols\":[\"X\"]}}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        hf_avro_schema_t *s = hf_avro_schema_parse(bad[i], strlen(bad[i]), err, sizeof(err));
        cr_expect_null(s, "accepted: %s -> %s", bad[i], s ? hf_avro_schema_pcf(s) : "");
        cr_expect_neq(err[0], '\0', "no reason for: %s", bad[i]);
        hf_avro_schema_destroy(s);
    }
}

static hf_avro_schema_t *parse(const char *json)
{
    char err[256] = "";
    hf_avro_schema_t *s = hf_avro_schema_parse(json, strlen(json), err, sizeof(err));
    cr_assert_not_null(s, "%s: %s", json, err);
    return s;
}

static size_t check(const char *w, const char *r, char **why)
{
    hf_avro_schema_t *sw = parse(w), *sr = parse(r);
    hf_buf_t b = {0};
    size_t n = hf_avro_check(hf_avro_schema_root(sw), hf_avro_schema_root(sr), &b);
    hf_buf_append(&b, "", 1);
    *why = (char *)b.data;
    hf_avro_schema_destroy(sw);
    hf_avro_schema_destroy(sr);
    return n;
}

#define EXPECT_COMPAT(w, r)                                                                        \
    do {                                                                                           \
        char *why_;                                                                                \
        cr_expect_eq(check(w, r, &why_), 0, "%s -> %s: %s", w, r, why_);                           \
        hf_free(why_);                                                                             \
    } while (0)
#define EXPECT_INCOMPAT(w, r, needle)                                                              \
    do {                                                                                           \
        char *why_;                                                                                \
        cr_expect_gt(check(w, r, &why_), 0, "%s -> %s accepted", w, r);                            \
        cr_expect(strstr(why_, needle) != NULL, "%s -> %s: '%s' lacks '%s'", w, r, why_, needle);  \
        hf_free(why_);                                                                             \
    } while (0)

Test(avro, resolution_rules_primitives_and_promotions)
{
    EXPECT_COMPAT("\"int\"", "\"long\"");
    EXPECT_COMPAT("\"int\"", "\"float\"");
    EXPECT_COMPAT("\"int\"", "\"double\"");
    EXPECT_COMPAT("\"long\"", "\"double\"");
    EXPECT_COMPAT("\"float\"", "\"double\"");
    EXPECT_COMPAT("\"string\"", "\"bytes\"");
    EXPECT_COMPAT("\"bytes\"", "\"string\"");
    EXPECT_INCOMPAT("\"long\"", "\"int\"", "cannot be read as int");
    EXPECT_INCOMPAT("\"double\"", "\"float\"", "cannot be read as float");
    EXPECT_INCOMPAT("\"int\"", "\"string\"", "cannot be read as string");
}

Test(avro, resolution_rules_records_enums_unions)
{
    const char *w = "{\"type\":\"record\",\"name\":\"a.R\",\"fields\":[{\"name\":\"x\",\"type\":"
                    "\"int\"},{\"name\":\"gone\",\"type\":\"string\"}]}";
    /* names match unqualified; writer-only fields are ignored; new field with default */
    EXPECT_COMPAT(w, "{\"type\":\"record\",\"name\":\"b.R\",\"fields\":[{\"name\":\"x\",\"type\":"
                     "\"long\"},{\"name\":\"n\",\"type\":[\"null\",\"int\"],\"default\":null}]}");
    EXPECT_INCOMPAT(w,
                    "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"n\",\"type\":"
                    "\"int\"}]}",
                    "reader field 'n' (int) is not in the writer and has no default");
    EXPECT_INCOMPAT(w, "{\"type\":\"record\",\"name\":\"S\",\"fields\":[]}",
                    "have different names");

    const char *e3 = "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}";
    EXPECT_INCOMPAT(e3, "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}",
                    "writer symbol 'C' is not in reader enum E, which has no default");
    EXPECT_COMPAT(e3,
                  "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"],\"default\":\"A\"}");
    EXPECT_COMPAT("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"B\"]}", e3);

    EXPECT_COMPAT("\"int\"", "[\"null\",\"long\"]");
    EXPECT_COMPAT("[\"null\",\"int\"]", "[\"int\",\"null\",\"string\"]");
    EXPECT_INCOMPAT("[\"null\",\"string\"]", "[\"null\",\"int\"]", "matches no branch");
    EXPECT_INCOMPAT("[\"null\",\"int\"]", "\"int\"", "writer type null cannot be read as int");
    EXPECT_COMPAT("{\"type\":\"array\",\"items\":\"int\"}",
                  "{\"type\":\"array\",\"items\":\"long\"}");
    EXPECT_INCOMPAT("{\"type\":\"map\",\"values\":\"long\"}",
                    "{\"type\":\"map\",\"values\":\"int\"}", "{}");
    EXPECT_INCOMPAT("{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}",
                    "{\"type\":\"fixed\",\"name\":\"F\",\"size\":8}", "writer size 4");
}

Test(avro, resolution_of_recursive_schemas_terminates)
{
    const char *list = "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\",\"type\":"
                       "\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}";
    const char *list2 = "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\",\"type\":"
                        "\"long\"},{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}";
    EXPECT_COMPAT(list, list2);
    EXPECT_INCOMPAT(list2, list, "L.v");
}

Test(avro, default_validation)
{
    hf_avro_schema_t *s = parse("{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}");
    hf_avro_schema_destroy(s);
    /* bytes/fixed defaults are strings of codepoints 0-255 */
    char err[256];
    const char *ok =
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"b\",\"type\":"
        "{\"type\":\"fixed\",\"name\":\"F\",\"size\":2},\"default\":\"\\u00ff\\u0000\"}]}";
    const char *bad = "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"b\",\"type\":"
                      "{\"type\":\"fixed\",\"name\":\"F\",\"size\":2},\"default\":\"\\u0100x\"}]}";
    s = hf_avro_schema_parse(ok, strlen(ok), err, sizeof(err));
    cr_expect_not_null(s, "%s", err);
    hf_avro_schema_destroy(s);
    s = hf_avro_schema_parse(bad, strlen(bad), err, sizeof(err));
    cr_expect_null(s);
    hf_avro_schema_destroy(s);
}

/* ==== logical types ==== */

static const hf_avro_field_t *field_named(const hf_avro_node_t *rec, const char *name)
{
    for (size_t i = 0; i < rec->n; i++)
        if (strcmp(rec->fields[i].name, name) == 0)
            return &rec->fields[i];
    cr_assert_fail("no field %s in %s", name, rec->fullname);
    return NULL;
}

/* Remove every "logicalType", "precision" and "scale" attribute. */
static void strip_logical(json_t *j)
{
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            strip_logical(json_array_get(j, i));
    } else if (json_is_object(j)) {
        json_object_del(j, "logicalType");
        json_object_del(j, "precision");
        json_object_del(j, "scale");
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            strip_logical(v);
        }
    }
}

/* The canonical form and fingerprint of json with and without its logical
 * types are the same. */
static void expect_pcf_ignores_logical(const char *json, const char *label)
{
    json_error_t je;
    json_t *doc = json_loads(json, 0, &je);
    cr_assert_not_null(doc, "%s: %s", label, je.text);
    strip_logical(doc);
    char *plain = json_dumps(doc, JSON_COMPACT);
    hf_avro_schema_t *with = parse(json), *without = parse(plain);
    cr_expect_str_eq(hf_avro_schema_pcf(with), hf_avro_schema_pcf(without), "%s", label);
    cr_expect_eq(hf_avro_schema_fingerprint(with), hf_avro_schema_fingerprint(without), "%s",
                 label);
    cr_expect_null(strstr(hf_avro_schema_pcf(with), "logicalType"), "%s", label);
    hf_avro_schema_destroy(with);
    hf_avro_schema_destroy(without);
    free(plain);
    json_decref(doc);
}

Test(avro, logical_types_are_kept)
{
    const char *json =
        "{\"type\":\"record\",\"name\":\"r\",\"namespace\":\"n\",\"fields\":["
        "{\"name\":\"id\",\"type\":{\"type\":\"string\",\"logicalType\":\"uuid\"}},"
        "{\"name\":\"at\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}},"
        "{\"name\":\"day\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
        "{\"name\":\"amount\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\","
        "\"precision\":10,\"scale\":2}},"
        "{\"name\":\"price\",\"type\":{\"type\":\"fixed\",\"name\":\"Price\",\"size\":8,"
        "\"logicalType\":\"decimal\",\"precision\":18}},"
        "{\"name\":\"price2\",\"type\":\"Price\"},"
        "{\"name\":\"seen\",\"type\":[\"null\",{\"type\":\"long\","
        "\"logicalType\":\"timestamp-millis\"}],\"default\":null},"
        "{\"name\":\"odd\",\"type\":{\"type\":\"string\",\"logicalType\":\"not-a-type\"}},"
        "{\"name\":\"plain\",\"type\":\"long\"},"
        "{\"name\":\"plain_obj\",\"type\":{\"type\":\"long\",\"doc\":\"no logical type\"}}]}";
    hf_avro_schema_t *s = parse(json);
    const hf_avro_node_t *root = hf_avro_schema_root(s);
    cr_expect_null(root->logical_type);

    const hf_avro_node_t *t = field_named(root, "id")->type;
    cr_expect_eq(t->type, HF_AVRO_STRING);
    cr_expect_str_eq(t->logical_type, "uuid");
    cr_expect_eq(t->min_size, 1, "a logical type keeps the primitive's encoding");
    t = field_named(root, "at")->type;
    cr_expect_eq(t->type, HF_AVRO_LONG);
    cr_expect_str_eq(t->logical_type, "timestamp-micros");
    t = field_named(root, "day")->type;
    cr_expect_eq(t->type, HF_AVRO_INT);
    cr_expect_str_eq(t->logical_type, "date");
    t = field_named(root, "amount")->type;
    cr_expect_eq(t->type, HF_AVRO_BYTES);
    cr_expect_str_eq(t->logical_type, "decimal");
    cr_expect_eq(t->precision, 10);
    cr_expect_eq(t->scale, 2);
    t = field_named(root, "price")->type;
    cr_expect_eq(t->type, HF_AVRO_FIXED);
    cr_expect_str_eq(t->logical_type, "decimal");
    cr_expect_eq(t->precision, 18);
    cr_expect_eq(t->scale, 0, "scale defaults to 0");
    cr_expect_eq(field_named(root, "price2")->type, t, "a reference is the same node");
    t = field_named(root, "seen")->type;
    cr_assert_eq(t->type, HF_AVRO_UNION);
    cr_expect_null(t->logical_type);
    cr_expect_null(t->branches[0]->logical_type);
    cr_expect_eq(t->branches[1]->type, HF_AVRO_LONG);
    cr_expect_str_eq(t->branches[1]->logical_type, "timestamp-millis");
    t = field_named(root, "odd")->type;
    cr_expect_eq(t->type, HF_AVRO_STRING);
    cr_expect_str_eq(t->logical_type, "not-a-type", "kept as written, not validated");
    cr_expect_null(field_named(root, "plain")->type->logical_type);
    cr_expect_null(field_named(root, "plain_obj")->type->logical_type);
    cr_expect_eq(field_named(root, "plain")->type->precision, 0);

    /* a logical type does not change how data resolves */
    hf_avro_schema_t *plain = parse("{\"type\":\"record\",\"name\":\"r\",\"namespace\":\"n\","
                                    "\"fields\":[{\"name\":\"at\",\"type\":\"long\"}]}");
    cr_expect_eq(hf_avro_check(root, hf_avro_schema_root(plain), NULL), 0);
    cr_expect_eq(hf_avro_check(hf_avro_schema_root(plain), root, NULL), 8,
                 "reader fields without default: id day amount price price2 odd plain plain_obj");
    hf_avro_schema_destroy(plain);
    hf_avro_schema_destroy(s);

    expect_pcf_ignores_logical(json, "inline schema");
    /* a bare primitive with a logical type */
    s = parse("{\"type\":\"int\",\"logicalType\":\"date\"}");
    cr_expect_str_eq(hf_avro_schema_root(s)->logical_type, "date");
    cr_expect_str_eq(hf_avro_schema_pcf(s), "\"int\"");
    hf_avro_schema_destroy(s);
}

Test(avro, logical_types_in_the_real_schemas)
{
    char *dir = hf_asprintf("%s/schemas/avro",
                            getenv("HF_SOURCE_DIR") ? getenv("HF_SOURCE_DIR") : HF_SOURCE_DIR);
    char *path = hf_asprintf("%s/DonationCollected.v2.avsc", dir);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    cr_assert_not_null(doc, "%s: %s", path, je.text);
    char *text = json_dumps(doc, JSON_COMPACT);
    hf_avro_schema_t *s = parse(text);
    const hf_avro_node_t *root = hf_avro_schema_root(s);
    cr_expect_str_eq(field_named(root, "event_id")->type->logical_type, "uuid");
    cr_expect_str_eq(field_named(root, "occurred_at")->type->logical_type, "timestamp-micros");
    cr_expect_str_eq(field_named(root, "reported_at")->type->logical_type, "timestamp-micros");
    cr_expect_null(field_named(root, "event_type")->type->logical_type);
    cr_expect_null(field_named(root, "utc_offset_minutes")->type->logical_type);
    const hf_avro_node_t *sup = field_named(root, "supersedes_event_id")->type;
    cr_assert_eq(sup->type, HF_AVRO_UNION);
    cr_expect_str_eq(sup->branches[1]->logical_type, "uuid");
    cr_expect_null(field_named(root, "op")->type->logical_type);
    hf_avro_schema_destroy(s);
    free(text);
    json_decref(doc);
    hf_free(path);

    /* every schema file: the canonical form does not see the logical types,
     * and the "date" ones (there are some) are kept */
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *de;
    size_t files = 0, dates = 0;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".avsc") != 0)
            continue;
        path = hf_asprintf("%s/%s", dir, de->d_name);
        doc = json_load_file(path, 0, &je);
        cr_assert_not_null(doc, "%s: %s", path, je.text);
        text = json_dumps(doc, JSON_COMPACT);
        expect_pcf_ignores_logical(text, path);
        s = parse(text);
        root = hf_avro_schema_root(s);
        for (size_t i = 0; i < root->n; i++) {
            const hf_avro_node_t *t = root->fields[i].type;
            if (t->type == HF_AVRO_UNION && t->n == 2)
                t = t->branches[1];
            if (t->logical_type && strcmp(t->logical_type, "date") == 0) {
                cr_expect_eq(t->type, HF_AVRO_INT, "%s: %s", path, root->fields[i].name);
                dates++;
            }
        }
        hf_avro_schema_destroy(s);
        free(text);
        json_decref(doc);
        hf_free(path);
        files++;
    }
    closedir(d);
    cr_expect_geq(files, 11);
    cr_expect_eq(dates, 2, "the schema files have two date fields");
    hf_free(dir);
}
