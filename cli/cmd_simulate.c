/*
 * cmd_simulate — `hemoflow simulate`: generate realistic national traffic
 * (hf_simulate) and publish it through the station path (hf_station_submit,
 * the same validation, pseudonymization, spool and idempotent producer as
 * `hemoflow publish`), or write it as station CSV exports (--output DIR), or
 * only count it (--dry-run). Prints what was sent and injected; --report
 * writes the exact counts as JSON. Model and report: docs/simulate.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "hf_catalog.h"
#include "hf_time.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_simulate.h"
#include "hf_station.h"
#include "hf_validate.h"

#define HF__SYNC_ROWS 2000 /* group commit: fsync the spool every N records... */
#define HF__SYNC_US 200000 /* ...or every 200 ms */

static void hf__simulate_help(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow simulate [OPTIONS]\n"
            "\n"
            "Generates realistic, reproducible blood-data traffic for the 31 mainland\n"
            "provinces (donors, donations, screening, components, movements, discards,\n"
            "transfusions, adverse events, daily inventory) and publishes it like\n"
            "'hemoflow publish' does, optionally with injected faults. See docs/simulate.md.\n"
            "\n"
            "Traffic:\n"
            "  -n, --count N           messages to produce, faults included (approximate;\n"
            "                          default 10000)\n"
            "      --rate N            messages per second, 0 = as fast as possible (default 0)\n"
            "      --days N            days of traffic (default 7)\n"
            "      --end-date DATE     last day, YYYY-MM-DD in UTC+08:00 (default today; pass\n"
            "                          a past date for a reproducible run)\n"
            "      --seed S            PRNG seed (default 1); same options + seed = same events\n"
            "      --types LIST        only these event types (comma-separated, Avro or\n"
            "                          snake_case names)\n"
            "Faults (rates 0..1, default 0):\n"
            "      --dup-rate R        resend created events unchanged (same event_id)\n"
            "      --late-rate R       report created events 1.5-30 days late\n"
            "      --amend-rate R      amend created events later (op=amend)\n"
            "      --retract-rate R    retract created events later (op=retract)\n"
            "      --malformed-rate R  per created event, one garbage/truncated frame\n"
            "      --unknown-fp-rate R per created event, one frame with an unknown fingerprint\n"
            "      --bad-din-rate R    send DIN-carrying events with an invalid DIN\n"
            "      --old-schema-rate R write DonationCollected with schema v1\n"
            "Output:\n"
            "  -k, --key-file F        HMAC key file, mode 0600 (default publish.key_file)\n"
            "  -d, --spool-dir D       spool folder (default publish.spool_dir)\n"
            "      --offline           spool only, do not contact the broker\n"
            "      --timeout MS        how long to wait for delivery at the end\n"
            "                          (default publish.delivery_timeout_ms)\n"
            "      --dry-run           generate and count only: no station, no broker\n"
            "  -o, --output DIR        with --dry-run (implied): write <EventType>.csv station\n"
            "                          exports (raw IDs: keep them on this machine) and\n"
            "                          raw_frames.jsonl\n"
            "  -r, --report FILE       write the exact counts as JSON\n"
            "  -h, --help              this help\n"
            "Exit status: 0 ok, 1 failure or undelivered events, 2 usage, 3 some records\n"
            "were rejected by station validation (a generator bug).\n");
}

static bool hf__parse_rate(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v <= 1))
        return false;
    *out = v;
    return true;
}

static bool hf__parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* ==== the station sink ==== */

typedef struct hf__simctx_s {
    hf_station_t *st;           /* NULL for --dry-run */
    const hf_sim_sink_t *inner; /* CSV sink for --output, or NULL */
    double rate;                /* messages/s, 0 = unlimited */
    int64_t t0_us;
    uint64_t sent;
    uint64_t unsynced;
    int64_t last_sync_us;
    hf_err_t local_err;
    char errmsg[320];
} hf__simctx_t;

/* Pace to --rate and stop on a signal. */
static hf_err_t hf__pace(hf__simctx_t *c)
{
    if (hf_cli_stop)
        return HF_ERR_STOPPED;
    c->sent++;
    if (c->rate <= 0)
        return HF_OK;
    int64_t due = c->t0_us + (int64_t)((double)c->sent * 1e6 / c->rate);
    for (;;) {
        int64_t now = hf_time_mono_us();
        if (now >= due || hf_cli_stop)
            break;
        int64_t wait = due - now;
        if (c->st) {
            hf_station_poll(c->st, (int)(wait > 100000 ? 100 : (wait + 999) / 1000));
        } else {
            struct timespec ts = {.tv_sec = 0,
                                  .tv_nsec = (long)(wait > 100000 ? 100000 : wait) * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return hf_cli_stop ? HF_ERR_STOPPED : HF_OK;
}

static hf_err_t hf__sync(hf__simctx_t *c, bool force)
{
    if (!c->st || !c->unsynced)
        return HF_OK;
    int64_t now = hf_time_mono_us();
    if (!force && c->unsynced < HF__SYNC_ROWS && now - c->last_sync_us < HF__SYNC_US)
        return HF_OK;
    if (hf_station_sync(c->st, c->errmsg, sizeof(c->errmsg)) != HF_OK)
        return c->local_err = HF_ERR_IO;
    c->unsynced = 0;
    c->last_sync_us = now;
    return HF_OK;
}

static hf_err_t hf__sim_submit(void *opaque, const char *event_type, const hf_field_t *fields,
                               size_t nfields, const hf_submit_opts_t *opts, hf_reject_t *reject)
{
    hf__simctx_t *c = opaque;
    hf_err_t e = hf__pace(c);
    if (e)
        return e;
    if (c->inner)
        e = c->inner->submit(c->inner->opaque, event_type, fields, nfields, opts, reject);
    else if (c->st) {
        hf_submit_opts_t o = *opts;
        o.defer_sync = true;
        e = hf_station_submit(c->st, event_type, fields, nfields, &o, reject);
        if (e == HF_ERR_INVALID) {
            hf_log_warn("simulate.rejected", "type=%s reason=%s field=%s detail=\"%s\"", event_type,
                        reject->reason ? reject->reason : "", reject->field, reject->detail);
        } else if (e) {
            snprintf(c->errmsg, sizeof(c->errmsg), "%s", reject->detail);
            c->local_err = e;
        } else {
            c->unsynced++;
            e = hf__sync(c, false);
        }
    }
    return e;
}

static hf_err_t hf__sim_raw(void *opaque, const char *event_type, const char *key,
                            const void *payload, size_t len)
{
    hf__simctx_t *c = opaque;
    hf_err_t e = hf__pace(c);
    if (e)
        return e;
    if (c->inner)
        return c->inner->submit_raw(c->inner->opaque, event_type, key, payload, len);
    if (!c->st)
        return HF_OK;
    e = hf_station_submit_raw(c->st, event_type, key, payload, len);
    if (e && e != HF_ERR_INVALID) {
        snprintf(c->errmsg, sizeof(c->errmsg), "raw submit: %s", hf_err_str(e));
        c->local_err = e;
    }
    return e;
}

/* ==== entry ==== */

enum {
    O_RATE = 256,
    O_DAYS,
    O_END,
    O_SEED,
    O_TYPES,
    O_DUP,
    O_LATE,
    O_AMEND,
    O_RETRACT,
    O_MALFORMED,
    O_UNKFP,
    O_BADDIN,
    O_OLDSCHEMA,
    O_OFFLINE,
    O_TIMEOUT,
    O_DRY
};

int hf_cmd_simulate(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, O_RATE},
        {"days", required_argument, NULL, O_DAYS},
        {"end-date", required_argument, NULL, O_END},
        {"seed", required_argument, NULL, O_SEED},
        {"types", required_argument, NULL, O_TYPES},
        {"dup-rate", required_argument, NULL, O_DUP},
        {"late-rate", required_argument, NULL, O_LATE},
        {"amend-rate", required_argument, NULL, O_AMEND},
        {"retract-rate", required_argument, NULL, O_RETRACT},
        {"malformed-rate", required_argument, NULL, O_MALFORMED},
        {"unknown-fp-rate", required_argument, NULL, O_UNKFP},
        {"bad-din-rate", required_argument, NULL, O_BADDIN},
        {"old-schema-rate", required_argument, NULL, O_OLDSCHEMA},
        {"key-file", required_argument, NULL, 'k'},
        {"spool-dir", required_argument, NULL, 'd'},
        {"offline", no_argument, NULL, O_OFFLINE},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"dry-run", no_argument, NULL, O_DRY},
        {"output", required_argument, NULL, 'o'},
        {"report", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    hf_sim_conf_t conf;
    hf_sim_conf_default(&conf);
    int64_t now_us = hf_time_wall_us();
    conf.end_date = (int32_t)((now_us / 1000000 + 8 * 3600) / 86400); /* today, UTC+08:00 */
    conf.now_us = now_us;
    const char *key_file = NULL, *spool_dir = NULL, *output = NULL, *report = NULL;
    bool offline = false, dry = false;
    double rate = 0;
    long timeout_ms = (long)hf_config_int(cli->cfg, "publish.delivery_timeout_ms");
    char err[512];
    uint64_t u;
    int c, li = 0;
    while ((c = getopt_long(argc, argv, "n:k:d:o:r:h", opts, &li)) != -1) {
        double *r = NULL;
        switch (c) {
        case 'n':
            if (!hf__parse_u64(optarg, 0, UINT64_C(1) << 40, &conf.count))
                return hf_cli_usage_error("simulate", "--count expects a number, got '%s'", optarg);
            break;
        case O_RATE: {
            char *end;
            errno = 0;
            rate = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(rate >= 0 && rate <= 1e9))
                return hf_cli_usage_error("simulate", "--rate expects events/s, got '%s'", optarg);
            break;
        }
        case O_DAYS:
            if (!hf__parse_u64(optarg, 1, 3660, &u))
                return hf_cli_usage_error("simulate", "--days expects 1-3660, got '%s'", optarg);
            conf.days = (int)u;
            break;
        case O_END:
            if (!hf_cal_date_parse(optarg, strlen(optarg), &conf.end_date))
                return hf_cli_usage_error("simulate", "--end-date expects YYYY-MM-DD, got '%s'",
                                          optarg);
            break;
        case O_SEED:
            if (!hf__parse_u64(optarg, 0, UINT64_MAX, &conf.seed))
                return hf_cli_usage_error("simulate", "--seed expects a number, got '%s'", optarg);
            break;
        case O_TYPES:
            if (hf_sim_parse_types(optarg, &conf.types_mask, err, sizeof(err)) != HF_OK)
                return hf_cli_usage_error("simulate", "--types: %s", err);
            break;
        case O_DUP:
            r = &conf.dup_rate;
            break;
        case O_LATE:
            r = &conf.late_rate;
            break;
        case O_AMEND:
            r = &conf.amend_rate;
            break;
        case O_RETRACT:
            r = &conf.retract_rate;
            break;
        case O_MALFORMED:
            r = &conf.malformed_rate;
            break;
        case O_UNKFP:
            r = &conf.unknown_fp_rate;
            break;
        case O_BADDIN:
            r = &conf.bad_din_rate;
            break;
        case O_OLDSCHEMA:
            r = &conf.old_schema_rate;
            break;
        case 'k':
            key_file = optarg;
            break;
        case 'd':
            spool_dir = optarg;
            break;
        case O_OFFLINE:
            offline = true;
            break;
        case O_TIMEOUT:
            if (!hf__parse_u64(optarg, 0, 86400000, &u))
                return hf_cli_usage_error("simulate", "--timeout expects milliseconds, got '%s'",
                                          optarg);
            timeout_ms = (long)u;
            break;
        case O_DRY:
            dry = true;
            break;
        case 'o':
            output = optarg;
            dry = true;
            break;
        case 'r':
            report = optarg;
            break;
        case 'h':
            hf__simulate_help(stdout);
            return HF_EXIT_OK;
        default:
            hf__simulate_help(stderr);
            return HF_EXIT_USAGE;
        }
        if (r && !hf__parse_rate(optarg, r))
            return hf_cli_usage_error("simulate", "--%s expects a rate in 0..1, got '%s'",
                                      opts[li].name, optarg);
    }
    if (optind < argc)
        return hf_cli_usage_error("simulate", "unexpected argument '%s'", argv[optind]);
    if (conf.amend_rate + conf.retract_rate > 1)
        return hf_cli_usage_error("simulate", "--amend-rate + --retract-rate must not exceed 1");
    if (dry && (offline || key_file || spool_dir))
        return hf_cli_usage_error("simulate",
                                  "--dry-run/--output do not use a station: drop --offline, "
                                  "--key-file and --spool-dir");

    hf_catalog_t *cat = hf_catalog_load(hf_config_str(cli->cfg, "schemas.dir"), err, sizeof(err));
    if (!cat) {
        fprintf(stderr, "hemoflow simulate: schemas: %s\n", err);
        return HF_EXIT_FAIL;
    }
    conf.catalog = cat;

    hf_cli_install_signals();
    hf__simctx_t ctx = {.rate = rate, .t0_us = hf_time_mono_us(), .last_sync_us = hf_time_mono_us()};
    hf_sim_csv_t *csv = NULL;
    hf_sim_sink_t csv_sink;
    if (output) {
        if (!(csv = hf_sim_csv_new(output, err, sizeof(err)))) {
            fprintf(stderr, "hemoflow simulate: %s\n", err);
            hf_catalog_destroy(cat);
            return HF_EXIT_FAIL;
        }
        hf_sim_csv_sink(csv, &csv_sink);
        ctx.inner = &csv_sink;
    }
    if (!dry) {
        hf_station_conf_t sc = {
            .cfg = cli->cfg, .key_file = key_file, .spool_dir = spool_dir, .offline = offline};
        if (!(ctx.st = hf_station_new(&sc, err, sizeof(err)))) {
            fprintf(stderr, "hemoflow simulate: %s\n", err);
            hf_catalog_destroy(cat);
            return HF_EXIT_FAIL;
        }
    }
    char ed[11];
    hf_cal_date_format(conf.end_date, ed);
    hf_log_info("simulate.start",
                "count=%" PRIu64 " days=%d end_date=%s seed=%" PRIu64 " rate=%g mode=%s",
                conf.count, conf.days, ed, conf.seed, rate,
                output    ? "csv"
                : dry     ? "dry-run"
                : offline ? "offline"
                          : "publish");

    hf_sim_sink_t sink = {&ctx, hf__sim_submit, hf__sim_raw};
    hf_sim_report_t rep;
    int64_t t0 = hf_time_mono_us();
    hf_err_t e = hf_sim_run(&conf, &sink, &rep, err, sizeof(err));
    double gen_s = (double)(hf_time_mono_us() - t0) / 1e6;
    int rc = HF_EXIT_OK;
    if (e == HF_ERR_USAGE) {
        fprintf(stderr, "hemoflow simulate: %s\n", err);
        rc = HF_EXIT_USAGE;
    } else if (e == HF_ERR_STOPPED) {
        fprintf(stderr, "hemoflow simulate: interrupted; the report covers what was sent\n");
        rc = HF_EXIT_FAIL;
    } else if (e) {
        fprintf(stderr, "hemoflow simulate: %s%s%s\n", err, ctx.errmsg[0] ? ": " : "", ctx.errmsg);
        rc = HF_EXIT_FAIL;
    }
    if (ctx.st && hf__sync(&ctx, true) != HF_OK) {
        fprintf(stderr, "hemoflow simulate: spool sync: %s\n", ctx.errmsg);
        rc = HF_EXIT_FAIL;
    }
    if (csv && hf_sim_csv_close(csv, err, sizeof(err)) != HF_OK) {
        fprintf(stderr, "hemoflow simulate: %s\n", err);
        rc = HF_EXIT_FAIL;
    }

    hf_sim_report_print(&rep, stdout);
    printf("generated in %.2f s (%.0f messages/s)\n", gen_s,
           gen_s > 0 ? (double)rep.messages_total / gen_s : 0.0);
    if (ctx.st) {
        hf_err_t w = HF_OK;
        if (!offline && rc != HF_EXIT_USAGE) {
            hf_cli_stop = 0; /* a second signal interrupts the wait */
            w = hf_cli_station_wait(ctx.st, timeout_ms);
        }
        hf_station_stats_t s;
        hf_station_stats(ctx.st, &s);
        printf("station: accepted=%" PRIu64 " rejected=%" PRIu64 " delivered=%" PRIu64
               " still_spooled=%" PRIu64 "\n",
               s.accepted, s.rejected, s.delivered, s.pending);
        if (s.pending && !offline) {
            fprintf(stderr,
                    "hemoflow simulate: %" PRIu64 " events are still in the spool (%s); "
                    "'hemoflow publish --drain' sends them\n",
                    s.pending, w == HF_ERR_STOPPED ? "interrupted" : "broker unreachable");
            if (!rc)
                rc = HF_EXIT_FAIL;
        }
        hf_station_destroy(ctx.st);
    }
    fflush(stdout);
    if (report && rc != HF_EXIT_USAGE &&
        hf_sim_report_write(&rep, &conf, report, err, sizeof(err)) != HF_OK) {
        fprintf(stderr, "hemoflow simulate: %s\n", err);
        rc = HF_EXIT_FAIL;
    }
    if (!rc) {
        uint64_t rejected = 0;
        for (size_t i = 0; i < HF_SIM_NTYPES; i++)
            rejected += rep.type[i].rejected;
        if (rejected) {
            fprintf(stderr,
                    "hemoflow simulate: %" PRIu64 " generated records were rejected "
                    "(first: %s)\n",
                    rejected, rep.first_reject);
            rc = HF_EXIT_REJECTS;
        }
    }
    hf_catalog_destroy(cat);
    return rc;
}
