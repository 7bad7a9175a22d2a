/*
 * test_avro — Parsing Canonical Form, CRC-64-AVRO fingerprints (vectors in
 * tests/fixtures/avro/pcf_cases.txt, from the Avro project's own test data),
 * schema-tree validation and the resolution rules.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
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
