/*
 * cmd_lag — `hemoflow lag`: per topic partition the committed offset (from
 * hf_offsets, the truth), the log-end offset, the lag in messages and in
 * seconds, and the Burrow-style status of each partition and of the group
 * (load/hf_lag.h), as a table, JSON, or refreshed every N seconds. Works
 * with or without a running consumer: it reads PostgreSQL and Kafka only.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hf_cal.h"
#include "hf_lag.h"
#include "hf_lag_kafka.h"
#include "hf_mem.h"
#include "hf_pg.h"
#include "hf_time.h"

static void hf__lag_help(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow lag [--json] [--watch N]\n"
            "\n"
            "For every partition of the hemoflow.* topics: the committed offset (from\n"
            "hemoflow.hf_offsets, the truth), the log-end offset, the lag in messages, the\n"
            "lag in seconds (now minus the Kafka timestamp of the first unconsumed message;\n"
            "0 when caught up) and a Burrow-style status judged over the commit window the\n"
            "loader records in PostgreSQL: OK, WARN (falling behind), STALL (committing\n"
            "without moving), STOP (no commits for longer than the window spans), REWIND\n"
            "(the offset went backwards). The group's status is its worst partition's.\n"
            "Needs PostgreSQL (pg.*) and Kafka (kafka.*); no consumer has to run.\n"
            "\n"
            "  -j, --json       one JSON document (with --watch: one per line)\n"
            "  -w, --watch N    refresh every N seconds (1-3600) until SIGINT/SIGTERM\n"
            "  -h, --help       this help\n"
            "\n"
            "Exit status: 0 OK, 4 WARN, 5 STALL, 6 STOP, 7 REWIND (the group's status; with\n"
            "--watch the last one), 1 PostgreSQL or Kafka unreachable, 2 usage/config error.\n");
}

/* ==== exit codes ==== */

static int hf__exit_for(hf_lag_status_t s)
{
    switch (s) {
    case HF_LAG_OK: return HF_EXIT_OK;
    case HF_LAG_WARN: return 4;
    case HF_LAG_STALL: return 5;
    case HF_LAG_STOP: return 6;
    case HF_LAG_REWIND: return 7;
    }
    return HF_EXIT_FAIL;
}

/* ==== output ==== */

static void hf__iso_ms(int64_t ms, char out[HF_CAL_TIME_LEN])
{
    hf_cal_time_format(ms * 1000, 0, out);
}

static void hf__print_text(FILE *out, const hf_cli_t *cli, const hf_lag_report_t *r)
{
    char at[HF_CAL_TIME_LEN];
    hf__iso_ms(r->wall_ms, at);
    fprintf(out, "group %s: %s  partitions=%zu", hf_config_str(cli->cfg, "consume.group_id"),
            hf_lag_status_name(r->status), r->n);
    for (int s = 0; s < HF_LAG_NSTATUS; s++)
        if (r->count[s])
            fprintf(out, " %s=%zu", hf_lag_status_name((hf_lag_status_t)s), r->count[s]);
    fprintf(out, "  lag=%" PRId64 " max_lag_s=%.1f  at %s\n", r->total_lag, r->max_lag_seconds,
            at);
    int tw = 5;
    for (size_t i = 0; i < r->n; i++)
        if ((int)strlen(r->parts[i].topic) > tw)
            tw = (int)strlen(r->parts[i].topic);
    fprintf(out, "%-*s %9s %12s %12s %10s %9s  %-6s %7s  %s\n", tw, "TOPIC", "PARTITION",
            "COMMITTED", "LOG-END", "LAG", "LAG-S", "STATUS", "COMMITS", "REASON");
    for (size_t i = 0; i < r->n; i++) {
        const hf_lag_part_t *p = &r->parts[i];
        char committed[24] = "-", end[24] = "-", lag[24] = "-", secs[24] = "-";
        if (p->committed >= 0)
            snprintf(committed, sizeof(committed), "%" PRId64, p->committed);
        if (p->log_end >= 0)
            snprintf(end, sizeof(end), "%" PRId64, p->log_end);
        if (p->lag >= 0)
            snprintf(lag, sizeof(lag), "%" PRId64, p->lag);
        if (p->lag_seconds >= 0)
            snprintf(secs, sizeof(secs), "%.1f", p->lag_seconds);
        fprintf(out, "%-*s %9" PRId32 " %12s %12s %10s %9s  %-6s %7zu  %s\n", tw, p->topic,
                p->partition, committed, end, lag, secs, hf_lag_status_name(p->status),
                p->nwindow, p->reason);
    }
}

static json_t *hf__int_or_null(int64_t v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

static void hf__print_json(FILE *out, const hf_cli_t *cli, const hf_lag_report_t *r)
{
    char at[HF_CAL_TIME_LEN];
    json_t *doc = json_object();
    json_object_set_new(doc, "group", json_string(hf_config_str(cli->cfg, "consume.group_id")));
    json_object_set_new(doc, "status", json_string(hf_lag_status_name(r->status)));
    hf__iso_ms(r->wall_ms, at);
    json_object_set_new(doc, "at", json_string(at));
    hf__iso_ms(r->now_ms, at);
    json_object_set_new(doc, "window_clock", json_string(at));
    json_object_set_new(doc, "partitions_total", json_integer((json_int_t)r->n));
    json_t *counts = json_object();
    for (int s = 0; s < HF_LAG_NSTATUS; s++)
        json_object_set_new(counts, hf_lag_status_name((hf_lag_status_t)s),
                            json_integer((json_int_t)r->count[s]));
    json_object_set_new(doc, "partitions_by_status", counts);
    json_object_set_new(doc, "lag_messages", json_integer(r->total_lag));
    json_object_set_new(doc, "lag_seconds_max", json_real(r->max_lag_seconds));
    json_t *parts = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const hf_lag_part_t *p = &r->parts[i];
        json_t *o = json_object();
        json_object_set_new(o, "topic", json_string(p->topic));
        json_object_set_new(o, "partition", json_integer(p->partition));
        json_object_set_new(o, "committed_offset", hf__int_or_null(p->committed));
        json_object_set_new(o, "log_start_offset", hf__int_or_null(p->log_start));
        json_object_set_new(o, "log_end_offset", hf__int_or_null(p->log_end));
        json_object_set_new(o, "lag_messages", hf__int_or_null(p->lag));
        json_object_set_new(o, "lag_seconds",
                            p->lag_seconds >= 0 ? json_real(p->lag_seconds) : json_null());
        json_object_set_new(o, "first_unconsumed_offset", hf__int_or_null(p->first_offset));
        if (p->first_ts_ms >= 0) {
            hf__iso_ms(p->first_ts_ms, at);
            json_object_set_new(o, "first_unconsumed_timestamp", json_string(at));
            json_object_set_new(o, "first_unconsumed_timestamp_ms", json_integer(p->first_ts_ms));
        } else {
            json_object_set_new(o, "first_unconsumed_timestamp", json_null());
            json_object_set_new(o, "first_unconsumed_timestamp_ms", json_null());
        }
        json_object_set_new(o, "status", json_string(hf_lag_status_name(p->status)));
        json_object_set_new(o, "reason", json_string(p->reason));
        json_t *w = json_array();
        for (size_t k = 0; k < p->nwindow; k++) {
            json_t *c = json_object();
            hf__iso_ms(p->window[k].at_ms, at);
            json_object_set_new(c, "at", json_string(at));
            json_object_set_new(c, "offset", json_integer(p->window[k].offset));
            json_object_set_new(c, "lag", hf__int_or_null(p->window[k].lag));
            json_array_append_new(w, c);
        }
        json_object_set_new(o, "window", w);
        json_array_append_new(parts, o);
    }
    json_object_set_new(doc, "partitions", parts);
    char *s = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(6));
    fprintf(out, "%s\n", s ? s : "{}");
    free(s);
    json_decref(doc);
}

/* ==== the command ==== */

/* Sleep up to s seconds; false when a signal asked to stop. */
static bool hf__nap(long s)
{
    int64_t until = hf_time_mono_ms() + s * 1000;
    while (!hf_cli_stop && hf_time_mono_ms() < until) {
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    return !hf_cli_stop;
}

int hf_cmd_lag(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"watch", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    long watch = 0;
    int c;
    while ((c = getopt_long(argc, argv, "jw:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'w': {
            char *end;
            watch = strtol(optarg, &end, 10);
            if (!*optarg || *end || watch < 1 || watch > 3600)
                return hf_cli_usage_error("lag", "--watch expects 1-3600 seconds, got '%s'",
                                          optarg);
            break;
        }
        case 'h': hf__lag_help(stdout); return HF_EXIT_OK;
        default: hf__lag_help(stderr); return HF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return hf_cli_usage_error("lag", "unexpected argument '%s'", argv[optind]);

    char err[512];
    char *ci = hf_config_pg_conninfo(cli->cfg);
    PGconn *pg = NULL;
    hf_err_t e = hf__pg_connect(ci, "hemoflow-lag", &pg, err, sizeof(err));
    hf_free(ci);
    if (e) {
        fprintf(stderr, "hemoflow lag: %s\n", err);
        return HF_EXIT_FAIL;
    }
    hf_lag_kafka_t *k = hf_lag_kafka_new(cli->cfg, err, sizeof(err));
    if (!k) {
        fprintf(stderr, "hemoflow lag: %s\n", err);
        PQfinish(pg);
        return HF_EXIT_USAGE;
    }
    if (watch)
        hf_cli_install_signals();
    hf_lag_rules_t rules = {.stop_min_ms = hf_config_int(cli->cfg, "lag.stop_min_ms")};
    const char *prefix = hf_config_str(cli->cfg, "topic.prefix");
    bool tty = isatty(STDOUT_FILENO);
    hf_lag_report_t r = {0};
    int rc = HF_EXIT_OK;
    for (;;) {
        hf_lag_report_clear(&r);
        if (PQstatus(pg) != CONNECTION_OK)
            PQreset(pg);
        e = hf_lag_report_read_pg(&r, pg, prefix, err, sizeof(err));
        r.wall_ms = hf_time_wall_us() / 1000;
        if (!e)
            e = hf_lag_kafka_fill(k, &r, err, sizeof(err));
        if (e) {
            fprintf(stderr, "hemoflow lag: %s\n", err);
            rc = e == HF_ERR_SCHEMA ? HF_EXIT_USAGE : HF_EXIT_FAIL;
            if (!watch || e == HF_ERR_SCHEMA)
                break;
        } else {
            hf_lag_report_evaluate(&r, &rules);
            rc = hf__exit_for(r.status);
            if (watch && !json && tty)
                fputs("\033[H\033[2J", stdout);
            if (json)
                hf__print_json(stdout, cli, &r);
            else
                hf__print_text(stdout, cli, &r);
            fflush(stdout);
        }
        if (!watch || !hf__nap(watch))
            break;
    }
    hf_lag_report_free(&r);
    hf_lag_kafka_destroy(k);
    PQfinish(pg);
    return rc;
}
