/*
 * cmd_completeness — `hemoflow completeness`: has province P sent its data
 * for day D? Events and the newest event time per province, station-local
 * date and event type from hemoflow.hf_completeness, and the provinces that
 * are silent (load/hf_completeness.h).
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hf_cal.h"
#include "hf_completeness.h"
#include "hf_mem.h"
#include "hf_pg.h"
#include "hf_time.h"

static void hf__completeness_help(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow completeness [--date YYYY-MM-DD] [--province NN] [--json]\n"
            "                             [--at TIME]\n"
            "\n"
            "Events loaded and the newest event time per province, station-local event\n"
            "date and event type (hemoflow.hf_completeness), then the provinces that are\n"
            "silent: no event at all, or none newer than completeness.silent_after_s\n"
            "seconds. With --date, provinces without any event that day are listed too.\n"
            "\n"
            "  -d, --date DATE      only that station-local event date\n"
            "  -p, --province NN    only that province (two-digit GB/T 2260 code)\n"
            "  -a, --at TIME        judge silence as of TIME (ISO 8601 with offset), not now\n"
            "  -j, --json           one JSON document\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 (also when provinces are silent: see the output), 1 PostgreSQL\n"
            "unreachable, 2 usage/config error.\n");
}

static void hf__iso(int64_t us, char out[HF_CAL_TIME_LEN])
{
    if (us < 0)
        snprintf(out, HF_CAL_TIME_LEN, "-");
    else
        hf_cal_time_format(us, 0, out);
}

/* "3d 4h", "5h 10m", "12m", "40s" */
static void hf__ago(int64_t us, char *out, size_t n)
{
    int64_t s = us / HF_CAL_US_PER_S;
    if (s < 0)
        s = 0;
    if (s >= 86400)
        snprintf(out, n, "%" PRId64 "d %" PRId64 "h", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, n, "%" PRId64 "h %" PRId64 "m", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, n, "%" PRId64 "m", s / 60);
    else
        snprintf(out, n, "%" PRId64 "s", s);
}

static const char *hf__pname(const char *code)
{
    int k = hf_province_index(code);
    return k >= 0 ? hf_provinces[k].name : "?";
}

typedef struct hf__view_s {
    int32_t date;                 /* -1: every date */
    const char *province;         /* NULL: every province */
    int64_t now_us;
    int64_t silent_after_s;
    hf_compl_row_t *rows;
    size_t nrows;
    hf_compl_province_t prov[HF_PROVINCE_COUNT];
    size_t nsilent;
    bool missing[HF_PROVINCE_COUNT]; /* --date: no row that day */
} hf__view_t;

static bool hf__selected(const hf__view_t *v, size_t i)
{
    return !v->province || strcmp(v->province, hf_provinces[i].code) == 0;
}

static void hf__print_text(FILE *out, const hf__view_t *v)
{
    char at[HF_CAL_TIME_LEN], d[11] = "every";
    hf__iso(v->now_us, at);
    if (v->date >= 0)
        hf_cal_date_format(v->date, d);
    fprintf(out, "date %s, province %s: %zu rows; silent after %" PRId64 " s, at %s\n", d,
            v->province ? v->province : "every", v->nrows, v->silent_after_s, at);
    fprintf(out, "%-22s %-10s %-24s %10s  %-20s  %s\n", "PROVINCE", "DATE", "EVENT TYPE",
            "EVENTS", "NEWEST EVENT (UTC)", "LOADED (UTC)");
    for (size_t i = 0; i < v->nrows; i++) {
        const hf_compl_row_t *r = &v->rows[i];
        char p[64], date[11], newest[HF_CAL_TIME_LEN], loaded[HF_CAL_TIME_LEN];
        snprintf(p, sizeof(p), "%.2s %.40s", r->province, hf__pname(r->province));
        hf_cal_date_format(r->event_date, date);
        hf__iso(r->newest_event_us, newest);
        hf__iso(r->loaded_us, loaded);
        fprintf(out, "%-22s %-10s %-24s %10" PRId64 "  %-20s  %s\n", p, date, r->event_type,
                r->events, newest, loaded);
    }
    for (size_t i = 0; v->date >= 0 && i < HF_PROVINCE_COUNT; i++) {
        if (!v->missing[i])
            continue;
        char p[64];
        snprintf(p, sizeof(p), "%.2s %.40s", hf_provinces[i].code, hf_provinces[i].name);
        fprintf(out, "%-22s %-10s %-24s %10d  %-20s  %s\n", p, d, "(no events)", 0, "-",
                "-");
    }
    size_t shown = 0;
    for (size_t i = 0; i < HF_PROVINCE_COUNT; i++)
        shown += hf__selected(v, i) && v->prov[i].silent;
    if (!shown) {
        fprintf(out, "silent provinces: none\n");
        return;
    }
    fprintf(out, "silent provinces (%zu):\n", shown);
    for (size_t i = 0; i < HF_PROVINCE_COUNT; i++) {
        const hf_compl_province_t *p = &v->prov[i];
        if (!hf__selected(v, i) || !p->silent)
            continue;
        if (p->newest_event_us < 0) {
            fprintf(out, "  %s %-16s never sent an event\n", p->code, p->name);
            continue;
        }
        char newest[HF_CAL_TIME_LEN], ago[32];
        hf__iso(p->newest_event_us, newest);
        hf__ago(v->now_us - p->newest_event_us, ago, sizeof(ago));
        fprintf(out, "  %s %-16s newest event %s (%s ago)\n", p->code, p->name, newest, ago);
    }
}

static json_t *hf__time_or_null(int64_t us)
{
    if (us < 0)
        return json_null();
    char t[HF_CAL_TIME_LEN];
    hf__iso(us, t);
    return json_string(t);
}

static void hf__print_json(FILE *out, const hf__view_t *v)
{
    json_t *doc = json_object();
    char d[11];
    json_object_set_new(doc, "at", hf__time_or_null(v->now_us));
    json_object_set_new(doc, "silent_after_s", json_integer(v->silent_after_s));
    if (v->date >= 0)
        hf_cal_date_format(v->date, d);
    json_object_set_new(doc, "date", v->date >= 0 ? json_string(d) : json_null());
    json_object_set_new(doc, "province", v->province ? json_string(v->province) : json_null());
    json_t *rows = json_array();
    for (size_t i = 0; i < v->nrows; i++) {
        const hf_compl_row_t *r = &v->rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "province", json_string(r->province));
        json_object_set_new(o, "province_name", json_string(hf__pname(r->province)));
        hf_cal_date_format(r->event_date, d);
        json_object_set_new(o, "date", json_string(d));
        json_object_set_new(o, "event_type", json_string(r->event_type));
        json_object_set_new(o, "events", json_integer(r->events));
        json_object_set_new(o, "newest_event", hf__time_or_null(r->newest_event_us));
        json_object_set_new(o, "loaded", hf__time_or_null(r->loaded_us));
        json_array_append_new(rows, o);
    }
    json_object_set_new(doc, "rows", rows);
    json_t *missing = json_array(), *silent = json_array(), *provs = json_array();
    for (size_t i = 0; i < HF_PROVINCE_COUNT; i++) {
        const hf_compl_province_t *p = &v->prov[i];
        if (v->date >= 0 && v->missing[i])
            json_array_append_new(missing, json_string(p->code));
        if (!hf__selected(v, i))
            continue;
        if (p->silent)
            json_array_append_new(silent, json_string(p->code));
        json_t *o = json_object();
        json_object_set_new(o, "province", json_string(p->code));
        json_object_set_new(o, "name", json_string(p->name));
        json_object_set_new(o, "events", json_integer(p->events));
        json_object_set_new(o, "newest_event", hf__time_or_null(p->newest_event_us));
        json_object_set_new(o, "last_loaded", hf__time_or_null(p->last_loaded_us));
        json_object_set_new(o, "silent", json_boolean(p->silent));
        json_array_append_new(provs, o);
    }
    json_object_set_new(doc, "no_events_on_date", missing);
    json_object_set_new(doc, "provinces", provs);
    json_object_set_new(doc, "silent", silent);
    char *s = json_dumps(doc, JSON_COMPACT);
    fprintf(out, "%s\n", s ? s : "{}");
    free(s);
    json_decref(doc);
}

int hf_cmd_completeness(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"date", required_argument, NULL, 'd'},
        {"province", required_argument, NULL, 'p'},
        {"at", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    hf__view_t v = {.date = -1, .now_us = hf_time_wall_us()};
    bool json = false;
    int c, off;
    while ((c = getopt_long(argc, argv, "d:p:a:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (!hf_cal_date_parse(optarg, strlen(optarg), &v.date))
                return hf_cli_usage_error("completeness", "--date expects YYYY-MM-DD, got '%s'",
                                          optarg);
            break;
        case 'p':
            if (strlen(optarg) != 2 || hf_province_index(optarg) < 0)
                return hf_cli_usage_error("completeness",
                                          "--province expects a two-digit province code "
                                          "(11-65), got '%s'", optarg);
            v.province = optarg;
            break;
        case 'a':
            if (!hf_cal_time_parse(optarg, strlen(optarg), &v.now_us, &off))
                return hf_cli_usage_error("completeness", "--at expects an ISO 8601 time with "
                                          "an offset (2026-11-20T12:00:00Z), got '%s'", optarg);
            break;
        case 'j': json = true; break;
        case 'h': hf__completeness_help(stdout); return HF_EXIT_OK;
        default: hf__completeness_help(stderr); return HF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return hf_cli_usage_error("completeness", "unexpected argument '%s'", argv[optind]);
    v.silent_after_s = hf_config_int(cli->cfg, "completeness.silent_after_s");

    char err[512];
    char *ci = hf_config_pg_conninfo(cli->cfg);
    PGconn *pg = NULL;
    hf_err_t e = hf__pg_connect(ci, "hemoflow-completeness", &pg, err, sizeof(err));
    hf_free(ci);
    if (!e)
        e = hf_compl_rows(pg, v.date, v.province, &v.rows, &v.nrows, err, sizeof(err));
    if (!e)
        e = hf_compl_provinces(pg, v.now_us, v.silent_after_s, v.prov, &v.nsilent, err,
                               sizeof(err));
    PQfinish(pg);
    if (e) {
        fprintf(stderr, "hemoflow completeness: %s\n", err);
        hf_free(v.rows);
        return HF_EXIT_FAIL;
    }
    for (size_t i = 0; i < HF_PROVINCE_COUNT; i++)
        v.missing[i] = hf__selected(&v, i);
    for (size_t i = 0; i < v.nrows; i++) {
        int k = hf_province_index(v.rows[i].province);
        if (k >= 0)
            v.missing[k] = false;
    }
    if (json)
        hf__print_json(stdout, &v);
    else
        hf__print_text(stdout, &v);
    hf_free(v.rows);
    return HF_EXIT_OK;
}
