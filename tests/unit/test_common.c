/*
 * Unit tests for the common runtime: error classification, logging format
 * and level filtering (including librdkafka's callback), the byte buffer.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hf_err.h"
#include "hf_log.h"
#include "hf_mem.h"

Test(err, retriable_and_permanent_classes)
{
    cr_assert(hf_err_retriable(HF_ERR_PG_TRANSIENT));
    cr_assert(hf_err_retriable(HF_ERR_KAFKA_TRANSIENT));
    cr_assert(hf_err_retriable(HF_ERR_TIMEOUT));
    cr_assert_not(hf_err_retriable(HF_OK));
    cr_assert_not(hf_err_retriable(HF_ERR_PG_DATA));
    cr_assert_not(hf_err_retriable(HF_ERR_DECODE));
    cr_assert_not(hf_err_retriable(HF_ERR_CONFLICT));
    cr_assert_not(hf_err_retriable(HF_ERR__COUNT));
    for (int e = 0; e < HF_ERR__COUNT; e++) {
        cr_assert(strncmp(hf_err_name((hf_err_t)e), "HF_", 3) == 0, "code %d has no name", e);
        cr_assert_str_neq(hf_err_str((hf_err_t)e), "unknown error", "code %d undescribed", e);
    }
    cr_assert_str_eq(hf_err_name((hf_err_t)999), "HF_ERR_UNKNOWN");
    char buf[16];
    cr_assert_eq(hf_err_set(HF_ERR_IO, buf, sizeof(buf), "open %s failed", "/a/very/long/path"),
                 HF_ERR_IO);
    cr_assert_eq(strlen(buf), sizeof(buf) - 1, "errstr must be truncated, NUL-terminated");
}

static char *read_all(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = hf_calloc((size_t)n + 1, 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

Test(log, key_value_lines_and_levels)
{
    FILE *f = tmpfile();
    cr_assert(f);
    hf_log_init(HF_LOG_INFO, f);
    hf_log_debug("test.hidden", "x=%d", 1);
    hf_log_info("test.shown", "topic=%s partition=%d msg=\"two\nlines\"", "hemoflow.x", 3);
    hf_log_error("test.err", "code=%s", "E1");
    hf_log_rdkafka_cb(NULL, 7, "FETCH", "debug from librdkafka"); /* LOG_DEBUG: filtered */
    hf_log_rdkafka_cb(NULL, 4, "FAIL", "broker down");           /* LOG_WARNING */
    char *s = read_all(f);
    hf_log_init(HF_LOG_INFO, NULL);
    fclose(f);
    cr_assert_null(strstr(s, "test.hidden"));
    cr_assert_null(strstr(s, "debug from librdkafka"));
    cr_assert(strstr(s, "level=info event=test.shown topic=hemoflow.x partition=3 msg=\"two lines\"\n"),
              "%s", s);
    cr_assert(strstr(s, "level=error event=test.err code=E1\n"), "%s", s);
    cr_assert(strstr(s, "level=warn event=rdkafka.FAIL client=- msg=\"broker down\"\n"), "%s", s);
    /* every line starts with an ISO-8601 UTC timestamp */
    int lines = 0;
    for (char *l = s; *l; l = strchr(l, '\n') + 1, lines++)
        cr_assert(strncmp(l, "ts=20", 5) == 0 && l[26] == 'Z', "bad line start: %.40s", l);
    cr_assert_eq(lines, 3);
    hf_free(s);
}

Test(log, level_names)
{
    hf_log_level_t l;
    cr_assert(hf_log_level_parse("WARN", &l) && l == HF_LOG_WARN);
    cr_assert(hf_log_level_parse("warning", &l) && l == HF_LOG_WARN);
    cr_assert_not(hf_log_level_parse("loud", &l));
}

Test(mem, buffer_grows_and_resets)
{
    hf_buf_t b = {0};
    for (int i = 0; i < 10000; i++)
        hf_buf_append(&b, "abc", 3);
    cr_assert_eq(b.len, 30000);
    cr_assert_eq(memcmp(b.data + 29997, "abc", 3), 0);
    hf_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_geq(b.cap, 30000);
    hf_buf_free(&b);
    cr_assert_null(b.data);
    char *p = hf_asprintf("%s-%d", "x", 42);
    cr_assert_str_eq(p, "x-42");
    hf_free(p);
}

/* The inline big-endian puts (growing from empty, across the 256-byte first
 * allocation) and the decimal writer against printf's %lld. */
Test(mem, buffer_puts_and_decimals)
{
    hf_buf_t b = {0};
    for (int i = 0; i < 100; i++) {
        hf_buf_put_u16(&b, 0x0102);
        hf_buf_put_u32(&b, 0x03040506u);
        hf_buf_put_u64(&b, UINT64_C(0x0708090a0b0c0d0e));
    }
    cr_assert_eq(b.len, 1400);
    static const unsigned char want[14] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    for (size_t i = 0; i < 100; i++)
        cr_assert_eq(memcmp(b.data + i * 14, want, 14), 0, "record %zu", i);
    cr_assert_eq(hf_be32_load(b.data + 1388), 0x03040506u);
    hf_buf_free(&b);

    static const int64_t v[] = {0, 1, -1, 9, 10, -10, 20261207, -2440588, INT64_MAX, INT64_MIN,
                                INT64_C(1795000000000000)};
    char text[32];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        hf_buf_reset(&b);
        hf_buf_append(&b, "{", 1);
        hf_buf_put_dec(&b, v[i]);
        snprintf(text, sizeof(text), "{%lld", (long long)v[i]);
        cr_assert_eq(b.len, strlen(text));
        cr_assert_eq(memcmp(b.data, text, b.len), 0, "%s", text);
    }
    hf_buf_free(&b);
}
