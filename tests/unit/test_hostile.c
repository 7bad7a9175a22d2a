/*
 * Hostile input on the consume side, on real bytes: every message of
 * tests/fixtures/hostile/cases.tsv (written by make_cases.py from the schema
 * files, not by this code) goes through what the consumer does with a Kafka
 * message (decode with consume.max_message_bytes = 65536, normalize, check
 * the key) and must end with its expected reason code, or be accepted.
 * tests/integration/test_hostile.sh sends the same messages through the
 * real broker into a real warehouse.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_buf.h"
#include "hf_catalog.h"
#include "hf_decoder.h"
#include "hf_normalize.h"

#define MAX_MSG 65536
#define NOW_US INT64_C(1796083200000000) /* 2026-12-01T00:00:00Z: a fixed clock */

static hf_catalog_t *cat;
static hf_decoder_t *dec;
static hf_normalizer_t *norm;

static void setup(void)
{
    char err[512], dir[1024];
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
    hf_normalizer_destroy(norm);
    hf_decoder_destroy(dec);
    hf_catalog_destroy(cat);
}

TestSuite(hostile, .init = setup, .fini = teardown);

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The value column: parts joined by '+', each HEX or HEX*N. */
static void parse_value(const char *v, hf_buf_t *out)
{
    while (*v) {
        const char *end = strchr(v, '+');
        size_t n = end ? (size_t)(end - v) : strlen(v);
        const char *star = memchr(v, '*', n);
        size_t hexlen = star ? (size_t)(star - v) : n;
        long times = star ? strtol(star + 1, NULL, 10) : 1;
        cr_assert(hexlen % 2 == 0 && times > 0, "bad value part %.*s", (int)n, v);
        hf_buf_t part = {0};
        for (size_t i = 0; i < hexlen; i += 2) {
            int hi = hexval(v[i]), lo = hexval(v[i + 1]);
            cr_assert(hi >= 0 && lo >= 0, "bad hex in %.*s", (int)n, v);
            uint8_t b = (uint8_t)(hi << 4 | lo);
            hf_buf_append(&part, &b, 1);
        }
        for (long k = 0; k < times; k++)
            hf_buf_append(out, part.data, part.len);
        hf_buf_free(&part);
        v += n + (end ? 1 : 0);
    }
}

/* What the consumer would do with the message: the reason, or "accepted". */
static const char *consume_one(const char *key, const void *val, size_t len, char *err,
                               size_t errsz)
{
    hf_decoded_t d;
    if (hf_decoder_decode(dec, val, len, MAX_MSG, &d, err, errsz) != HF_OK) {
        cr_assert_not_null(d.reason, "a decode error without a reason: %s", err);
        return d.reason;
    }
    cr_assert_null(d.reason);
    hf_norm_t n;
    if (hf_normalize(norm, &d, NOW_US, &n) != HF_OK ||
        hf_normalize_key(norm, &d, key, key ? strlen(key) : 0, &n) != HF_OK) {
        snprintf(err, errsz, "%s", n.detail);
        return n.reason;
    }
    return "accepted";
}

Test(hostile, every_case_gets_its_reason)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/hostile/cases.tsv", getenv("HF_FIXTURES"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    int cases = 0, hostile = 0;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&buf, &cap, f)) > 0) {
        if (buf[0] == '#' || buf[0] == '\n')
            continue;
        buf[strcspn(buf, "\n")] = '\0';
        char *col[5], *save = NULL, *p = buf;
        for (int i = 0; i < 5; i++, p = NULL) {
            col[i] = strtok_r(p, "\t", &save);
            cr_assert_not_null(col[i], "short line in %s", path);
        }
        const char *name = col[0], *key = col[2], *value = col[3], *want = col[4];
        if (!strcmp(key, "<none>"))
            key = NULL;
        hf_buf_t v = {0};
        const void *data = NULL;
        if (strcmp(value, "<null>") != 0) {
            if (strcmp(value, "<empty>") != 0)
                parse_value(value, &v);
            data = v.data ? (const void *)v.data : (const void *)"";
        }
        /* An unterminated heap copy of exactly len bytes: ASan sees any
         * read past the message. */
        void *copy = v.len ? malloc(v.len) : NULL;
        if (copy)
            memcpy(copy, v.data, v.len);
        char err[512] = "";
        const char *reason = consume_one(key, copy ? copy : data, v.len, err, sizeof(err));
        /* 'loaded' and 'duplicate' are accepted here; pg_data is refused
         * later, by the loader's row encoder (see the integration test). */
        const char *expect = !strcmp(want, "loaded") || !strcmp(want, "duplicate") ||
                                     !strcmp(want, "pg_data")
                                 ? "accepted"
                                 : want;
        cr_expect_str_eq(reason, expect, "case %s: got %s (%s), want %s", name, reason, err,
                         want);
        if (strcmp(expect, "accepted") != 0)
            hostile++;
        cases++;
        free(copy);
        hf_buf_free(&v);
    }
    free(buf);
    fclose(f);
    cr_assert_geq(cases, 40, "only %d cases read from %s", cases, path);
    cr_assert_geq(hostile, 30, "only %d hostile cases", hostile);
}

/* The limits at their edges, directly on the shared validator. */
Test(hostile, text_limits)
{
    char s[HF_VALIDATE_MAX_STRING_BYTES + 1];
    memset(s, 'a', sizeof(s));
    cr_assert_null(hf_validate_text_reason(s, HF_VALIDATE_MAX_STRING_BYTES));
    cr_assert_str_eq(hf_validate_text_reason(s, HF_VALIDATE_MAX_STRING_BYTES + 1),
                     HF_VR_STRING_TOO_LONG);
    cr_assert_str_eq(hf_validate_text_reason("a\0b", 3), HF_VR_NUL_BYTE);
    cr_assert_null(hf_validate_text_reason("", 0));
    cr_assert_null(hf_validate_text_reason("\xe8\xa1\x80\xf0\x9f\xa9\xb8", 7)); /* 血 🩸 */
    static const char *bad[] = {"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80",
                                "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xe8\xa1", "\xff"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_str_eq(hf_validate_text_reason(bad[i], strlen(bad[i])), HF_VR_UTF8_INVALID,
                         "case %zu", i);
}
