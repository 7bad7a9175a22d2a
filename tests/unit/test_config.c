/*
 * Unit tests for hf_config: file parsing (good, bad key, bad value, bad
 * syntax), environment overrides, passthrough namespaces and precedence.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hf_config.h"
#include "hf_mem.h"

static char path_buf[1024];

static const char *fixture(const char *name)
{
    const char *dir = getenv("HF_FIXTURES");
    cr_assert(dir, "HF_FIXTURES must point at tests/fixtures (set by CTest)");
    snprintf(path_buf, sizeof(path_buf), "%s/config/%s", dir, name);
    return path_buf;
}

static hf_err_t collect_kafka(void *opaque, const char *name, const char *value)
{
    char *out = opaque;
    strcat(out, name);
    strcat(out, "=");
    strcat(out, value);
    strcat(out, ";");
    return HF_OK;
}

Test(config, defaults_are_documented_values)
{
    hf_config_t *cfg = hf_config_new();
    cr_assert_str_eq(hf_config_str(cfg, "log.level"), "info");
    cr_assert_eq(hf_config_int(cfg, "consume.batch_max_rows"), 20000);
    cr_assert_eq(hf_config_int(cfg, "consume.batch_max_bytes"), 16 * 1024 * 1024);
    cr_assert_str_eq(hf_config_str(cfg, "warehouse.partition_granularity"), "month");
    char *ci = hf_config_pg_conninfo(cfg);
    cr_assert_str_eq(ci, "");
    hf_free(ci);
    hf_config_destroy(cfg);
}

Test(config, good_file)
{
    hf_config_t *cfg = hf_config_new();
    char err[512] = "";
    cr_assert_eq(hf_config_load_file(cfg, fixture("good.conf"), err, sizeof(err)), HF_OK, "%s",
                 err);
    cr_assert_str_eq(hf_config_str(cfg, "log.level"), "debug");
    cr_assert_eq(hf_config_int(cfg, "consume.batch_max_rows"), 5000);
    cr_assert_eq(hf_config_int(cfg, "consume.batch_max_bytes"), 8 * 1024 * 1024);
    cr_assert_str_eq(hf_config_str(cfg, "warehouse.partition_granularity"), "day");

    char kv[512] = "";
    cr_assert_eq(hf_config_each_kafka(cfg, collect_kafka, kv), HF_OK);
    cr_assert_str_eq(kv, "bootstrap.servers=127.0.0.1:29092;security.protocol=plaintext;");

    char *ci = hf_config_pg_conninfo(cfg);
    cr_assert_str_eq(ci, "host='127.0.0.1' application_name='hemoflow \\'test\\''");
    hf_free(ci);
    hf_config_destroy(cfg);
}

static void expect_file_error(const char *name, const char *needle1, const char *needle2)
{
    hf_config_t *cfg = hf_config_new();
    char err[512] = "";
    cr_assert_eq(hf_config_load_file(cfg, fixture(name), err, sizeof(err)), HF_ERR_CONFIG,
                 "%s should be rejected", name);
    cr_assert(strstr(err, needle1), "error '%s' lacks '%s'", err, needle1);
    cr_assert(strstr(err, needle2), "error '%s' lacks '%s'", err, needle2);
    hf_config_destroy(cfg);
}

Test(config, bad_key_names_key_and_line)
{
    expect_file_error("bad_key.conf", "bad_key.conf:3", "consume.batch_max_rowz");
}

Test(config, bad_value_names_key_and_line)
{
    expect_file_error("bad_value.conf", "bad_value.conf:2", "consume.batch_max_rows");
    expect_file_error("bad_value.conf", "many", "integer");
}

Test(config, out_of_range_value)
{
    expect_file_error("bad_range.conf", "bad_range.conf:1", "[1, 1000000]");
}

Test(config, bad_enum_value)
{
    expect_file_error("bad_enum.conf", "warehouse.partition_granularity", "month|day");
}

Test(config, unknown_kafka_property_rejected_by_librdkafka)
{
    expect_file_error("bad_kafka.conf", "bad_kafka.conf:1", "kafka.no.such.property");
}

Test(config, unknown_pg_keyword)
{
    expect_file_error("bad_pg.conf", "bad_pg.conf:1", "pg.hots");
}

Test(config, syntax_error)
{
    expect_file_error("bad_syntax.conf", "bad_syntax.conf:1", "key = value");
}

Test(config, missing_file)
{
    hf_config_t *cfg = hf_config_new();
    char err[512] = "";
    cr_assert_eq(hf_config_load_file(cfg, "/nonexistent/hemoflow.conf", err, sizeof(err)),
                 HF_ERR_NOT_FOUND);
    cr_assert(strstr(err, "/nonexistent/hemoflow.conf"));
    hf_config_destroy(cfg);
}

Test(config, env_overrides_file)
{
    hf_config_t *cfg = hf_config_new();
    char err[512] = "";
    cr_assert_eq(hf_config_load_file(cfg, fixture("good.conf"), err, sizeof(err)), HF_OK);
    char *env[] = {
        "PATH=/usr/bin",
        "HEMOFLOW_CONSUME_BATCH_MAX_ROWS=777",
        "HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=10.0.0.1:9092",
        "HEMOFLOW_KAFKA_SOCKET_TIMEOUT_MS=5000",
        "HEMOFLOW_PG_CONNECT_TIMEOUT=7",
        NULL,
    };
    cr_assert_eq(hf_config_load_env(cfg, env, err, sizeof(err)), HF_OK, "%s", err);
    cr_assert_eq(hf_config_int(cfg, "consume.batch_max_rows"), 777);
    cr_assert_str_eq(hf_config_str(cfg, "kafka.bootstrap.servers"), "10.0.0.1:9092");
    char kv[512] = "";
    cr_assert_eq(hf_config_each_kafka(cfg, collect_kafka, kv), HF_OK);
    cr_assert_str_eq(kv, "bootstrap.servers=10.0.0.1:9092;security.protocol=plaintext;"
                         "socket.timeout.ms=5000;");
    char *ci = hf_config_pg_conninfo(cfg);
    cr_assert(strstr(ci, "connect_timeout='7'"), "%s", ci);
    hf_free(ci);
    hf_config_destroy(cfg);
}

Test(config, env_bad_value_and_unknown_key)
{
    hf_config_t *cfg = hf_config_new();
    char err[512] = "";
    char *bad_val[] = {"HEMOFLOW_CONSUME_BATCH_MAX_MS=soon", NULL};
    cr_assert_eq(hf_config_load_env(cfg, bad_val, err, sizeof(err)), HF_ERR_CONFIG);
    cr_assert(strstr(err, "HEMOFLOW_CONSUME_BATCH_MAX_MS"), "%s", err);
    cr_assert(strstr(err, "consume.batch_max_ms"), "%s", err);
    char *bad_key[] = {"HEMOFLOW_NO_SUCH_KEY=1", NULL};
    cr_assert_eq(hf_config_load_env(cfg, bad_key, err, sizeof(err)), HF_ERR_CONFIG);
    cr_assert(strstr(err, "HEMOFLOW_NO_SUCH_KEY"), "%s", err);
    hf_config_destroy(cfg);
}

Test(config, set_wins_and_sizes_parse)
{
    hf_config_t *cfg = hf_config_new();
    char err[512] = "";
    cr_assert_eq(hf_config_set(cfg, "consume.memory_max_bytes", "32MiB", "--set", err, sizeof(err)),
                 HF_OK, "%s", err);
    cr_assert_eq(hf_config_int(cfg, "consume.memory_max_bytes"), 32 * 1024 * 1024);
    cr_assert_eq(hf_config_set(cfg, "consume.memory_max_bytes", "32Q", "--set", err, sizeof(err)),
                 HF_ERR_CONFIG);
    /* a rejected value leaves the previous one in place */
    cr_assert_eq(hf_config_int(cfg, "consume.memory_max_bytes"), 32 * 1024 * 1024);
    hf_config_destroy(cfg);
}

/* The syntax libinih reads, as docs/configuration.md describes it. */
Test(config, file_syntax_sections_comments_indent)
{
    hf_config_t *cfg = hf_config_new();
    char err[512] = "";
    cr_assert_eq(hf_config_load_file(cfg, fixture("syntax.conf"), err, sizeof(err)), HF_OK, "%s",
                 err);
    /* no inline comments: `;` and `#` after a value belong to it */
    cr_assert_str_eq(hf_config_str(cfg, "topic.prefix"), "a ; b # c");
    /* an indented line is a key of its own, not a continuation */
    cr_assert_str_eq(hf_config_str(cfg, "log.level"), "warn");
    /* [section] prefixes its keys; `:` separates like `=` */
    cr_assert_eq(hf_config_int(cfg, "consume.batch_max_rows"), 1234);
    char kv[512] = "";
    cr_assert_eq(hf_config_each_kafka(cfg, collect_kafka, kv), HF_OK);
    cr_assert(strstr(kv, ";client.id=x;"), "%s", kv); /* quotes stripped */
    hf_config_destroy(cfg);
}

Test(config, section_key_named_with_section_and_line)
{
    expect_file_error("bad_section.conf", "bad_section.conf:3", "consume.batch_max_rowz");
}

Test(config, long_line_refused_with_line)
{
    expect_file_error("too_long.conf", "too_long.conf:2", "line too long");
}
