/*
 * cmd_publish — `hemoflow publish`: read station exports (CSV or JSON
 * Lines), hand each row to the station API (validate, pseudonymize, spool,
 * produce), report rejected rows as FILE:LINE lines, and wait for the broker
 * to acknowledge what was accepted. `--drain` only empties the spool.
 * docs/publish.md is the user's manual.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hf_time.h"
#include "hf_csv.h"
#include "hf_event_types.h"
#include "hf_jsonl.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_station.h"

#define HF__SYNC_ROWS 512     /* group commit: fsync the spool at least this often... */
#define HF__SYNC_US 100000    /* ...or this often */

typedef struct hf__pub_s {
    hf_station_t *st;
    const char *type;
    int schema_version;
    size_t max_record;
    FILE *progress_log;  /* --progress-log: durable progress for tools and tests */
    bool bar;            /* stderr is a terminal */
    /* counters over all files */
    uint64_t read, accepted, rejected;
    bool failed;         /* a local error or an unreadable file */
    /* group commit */
    uint64_t unsynced;
    int64_t last_sync_us;
    const char *file;
    unsigned long last_line; /* line of the last accepted row */
    /* progress bar */
    int64_t last_bar_us;
    off_t size;
    FILE *in;
} hf__pub_t;

static void hf__publish_help(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow publish --type EVENT_TYPE [OPTIONS] FILE...\n"
            "       hemoflow publish --drain [--spool-dir D] [--timeout MS]\n"
            "\n"
            "Validates station exports (CSV with a header row, or JSON Lines), replaces raw\n"
            "donor/patient ID numbers by HMAC-SHA256 pseudonyms, writes each accepted event\n"
            "to the durable spool and produces it to Kafka (topic <topic.prefix><event_type>,\n"
            "key facility_id). Events stay in the spool until the broker acknowledges them.\n"
            "\n"
            "  -t, --type T            event type of every FILE (DonationCollected or\n"
            "                          donation_collected)\n"
            "  -f, --format F          csv or jsonl (default: from the extension .csv /\n"
            "                          .jsonl .ndjson .json)\n"
            "  -k, --key-file F        HMAC key file, mode 0600 (default publish.key_file)\n"
            "  -d, --spool-dir D       spool folder (default publish.spool_dir)\n"
            "      --schema-version N  writer schema version (default: the newest)\n"
            "      --offline           spool only; send later with --drain\n"
            "      --drain             only send what the spool holds; exit 0 when empty\n"
            "      --timeout MS        how long to wait for the broker at the end\n"
            "                          (default publish.delivery_timeout_ms)\n"
            "      --progress-log F    append 'line=L accepted=N file=F' each time accepted\n"
            "                          rows are fsync'ed into the spool\n"
            "  -h, --help              this help\n"
            "\n"
            "Rejected rows: 'FILE:LINE: rejected reason=CODE field=F DETAIL' on stderr.\n"
            "Exit: 0 all accepted (events still spooled when the broker is unreachable are\n"
            "safe and reported), 3 some rows rejected, 1 failure (I/O, unknown column,\n"
            "interrupted, --drain timed out), 2 usage.\n");
}

static int hf__parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* ==== progress ==== */

static void hf__bar(hf__pub_t *p, bool final)
{
    if (!p->bar || p->size <= (1 << 20))
        return;
    int64_t now = hf_time_mono_us();
    if (!final && now - p->last_bar_us < 100000)
        return;
    p->last_bar_us = now;
    off_t pos = ftello(p->in);
    int pct = pos > 0 ? (int)(100.0 * (double)pos / (double)p->size) : 0;
    if (pct > 100)
        pct = 100;
    char bar[31];
    int fill = pct * 30 / 100;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %3d%% rows=%llu rejected=%llu%s", bar, pct,
            (unsigned long long)p->read, (unsigned long long)p->rejected, final ? "\n" : "");
}

static hf_err_t hf__sync(hf__pub_t *p, bool force)
{
    if (!p->unsynced)
        return HF_OK;
    int64_t now = hf_time_mono_us();
    if (!force && p->unsynced < HF__SYNC_ROWS && now - p->last_sync_us < HF__SYNC_US)
        return HF_OK;
    char err[512];
    if (hf_station_sync(p->st, err, sizeof(err)) != HF_OK) {
        fprintf(stderr, "hemoflow publish: %s\n", err);
        return HF_ERR_IO;
    }
    p->unsynced = 0;
    p->last_sync_us = now;
    if (p->progress_log) {
        fprintf(p->progress_log, "line=%lu accepted=%llu file=%s\n", p->last_line,
                (unsigned long long)p->accepted, p->file);
        fflush(p->progress_log);
    }
    return HF_OK;
}

/* ==== one row ==== */

static void hf__print_reject(const hf__pub_t *p, unsigned long line, const hf_reject_t *r)
{
    fprintf(stderr, "%s:%lu: rejected reason=%s field=%s %s\n", p->file, line,
            r->reason && *r->reason ? r->reason : "invalid", r->field[0] ? r->field : "-",
            r->detail);
}

/* HF_OK (accepted or rejected) or a local error that stops the run. */
static hf_err_t hf__row(hf__pub_t *p, unsigned long line, const hf_field_t *fields, size_t n)
{
    hf_submit_opts_t o = {.schema_version = p->schema_version, .defer_sync = true};
    hf_reject_t r;
    p->read++;
    hf_err_t e = hf_station_submit(p->st, p->type, fields, n, &o, &r);
    if (e == HF_ERR_INVALID) {
        p->rejected++;
        hf__print_reject(p, line, &r);
    } else if (e) {
        fprintf(stderr, "%s:%lu: error: %s\n", p->file, line, r.detail);
        return e;
    } else {
        p->accepted++;
        p->unsynced++;
        p->last_line = line;
    }
    hf__bar(p, false);
    return hf__sync(p, false);
}

static void hf__reject_line(hf__pub_t *p, unsigned long line, const char *reason,
                            const char *detail)
{
    hf_reject_t r = {.reason = reason};
    snprintf(r.detail, sizeof(r.detail), "%s", detail);
    p->read++;
    p->rejected++;
    hf__print_reject(p, line, &r);
}

/* ==== files ==== */

static void hf__csv_file(hf__pub_t *p, FILE *in)
{
    hf_csv_t *csv = hf_csv_new(in, p->max_record);
    hf_csv_row_t row;
    char err[256];
    hf_err_t e = hf_csv_next(csv, &row, err, sizeof(err));
    if (e) {
        fprintf(stderr, "%s:%lu: %s\n", p->file, row.line,
                e == HF_ERR_NOT_FOUND ? "empty file: a header row is required" : err);
        p->failed = true;
        hf_csv_destroy(csv);
        return;
    }
    size_t nh = row.ncells;
    char **hdr = hf_calloc(nh, sizeof(char *));
    bool bad = false;
    for (size_t i = 0; i < nh; i++) {
        hdr[i] = hf_strdup(row.cells[i]);
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            dup = dup || !strcmp(hdr[j], hdr[i]);
        if (dup || !hf_station_column_known(p->st, p->type, p->schema_version, hdr[i])) {
            fprintf(stderr, "%s:%lu: %s column '%s' in the header%s; the file is not "
                    "published\n", p->file, row.line, dup ? "duplicate" : "unknown", hdr[i],
                    dup ? "" : " (see docs/publish.md for the columns of each event type)");
            bad = true;
        }
    }
    hf_field_t *fields = hf_calloc(nh ? nh : 1, sizeof(*fields));
    while (!bad && !hf_cli_stop) {
        e = hf_csv_next(csv, &row, err, sizeof(err));
        if (e == HF_ERR_NOT_FOUND)
            break;
        if (e == HF_ERR_IO) {
            fprintf(stderr, "%s:%lu: %s\n", p->file, row.line, err);
            p->failed = true;
            break;
        }
        if (e) {
            hf__reject_line(p, row.line, e == HF_ERR_OVERSIZE ? "line_too_long" : "csv_syntax",
                            err);
            continue;
        }
        if (row.ncells != nh) {
            char d[128];
            snprintf(d, sizeof(d), "%zu cells where the header has %zu", row.ncells, nh);
            hf__reject_line(p, row.line, "cell_count", d);
            continue;
        }
        for (size_t i = 0; i < nh; i++) {
            fields[i].name = hdr[i];
            fields[i].value = row.cells[i];
        }
        if (hf__row(p, row.line, fields, nh) != HF_OK) {
            p->failed = true;
            break;
        }
    }
    if (bad)
        p->failed = true;
    hf_free(fields);
    for (size_t i = 0; i < nh; i++)
        hf_free(hdr[i]);
    hf_free(hdr);
    hf_csv_destroy(csv);
}

static void hf__jsonl_file(hf__pub_t *p, FILE *in)
{
    hf_jsonl_lines_t *lr = hf_jsonl_lines_new(in, p->max_record);
    const char *line;
    size_t len;
    unsigned long no = 0;
    while (!hf_cli_stop) {
        hf_err_t e = hf_jsonl_lines_next(lr, &line, &len, &no);
        if (e == HF_ERR_NOT_FOUND)
            break;
        if (e == HF_ERR_IO) {
            fprintf(stderr, "%s: read error: %s\n", p->file, strerror(errno));
            p->failed = true;
            break;
        }
        if (e == HF_ERR_OVERSIZE) {
            hf__reject_line(p, no, "line_too_long",
                            "line longer than publish.max_record_bytes");
            continue;
        }
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == len)
            continue; /* blank line */
        hf_jsonl_row_t row;
        hf_reject_t r;
        if (hf_jsonl_render(line, len, &row, &r) != HF_OK) {
            p->read++;
            p->rejected++;
            hf__print_reject(p, no, &r);
            continue;
        }
        e = hf__row(p, no, row.fields, row.n);
        hf_jsonl_row_free(&row);
        if (e) {
            p->failed = true;
            break;
        }
    }
    hf_jsonl_lines_destroy(lr);
}

static bool hf__ends(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void hf__file(hf__pub_t *p, const char *path, const char *format)
{
    bool jsonl;
    if (format)
        jsonl = !strcmp(format, "jsonl");
    else if (hf__ends(path, ".csv") || hf__ends(path, ".CSV"))
        jsonl = false;
    else if (hf__ends(path, ".jsonl") || hf__ends(path, ".ndjson") || hf__ends(path, ".json"))
        jsonl = true;
    else {
        fprintf(stderr, "hemoflow publish: %s: cannot tell the format from the extension; "
                "use --format csv|jsonl\n", path);
        p->failed = true;
        return;
    }
    FILE *in = fopen(path, "rb");
    if (!in) {
        fprintf(stderr, "hemoflow publish: %s: %s\n", path, strerror(errno));
        p->failed = true;
        return;
    }
    struct stat st;
    p->size = fstat(fileno(in), &st) == 0 ? st.st_size : 0;
    p->in = in;
    p->file = path;
    p->last_bar_us = 0;
    if (jsonl)
        hf__jsonl_file(p, in);
    else
        hf__csv_file(p, in);
    hf__bar(p, true);
    if (hf__sync(p, true) != HF_OK)
        p->failed = true;
    fclose(in);
    p->in = NULL;
}

/* ==== waiting for the broker ==== */

static int hf__drain(hf_cli_t *cli, const char *spool_dir, long timeout_ms)
{
    char err[512];
    hf_station_conf_t conf = {.cfg = cli->cfg, .spool_dir = spool_dir, .drain_only = true};
    hf_station_t *st = hf_station_new(&conf, err, sizeof(err));
    if (!st) {
        fprintf(stderr, "hemoflow publish: %s\n", err);
        return HF_EXIT_FAIL;
    }
    hf_station_stats_t s;
    hf_station_stats(st, &s);
    uint64_t before = s.pending;
    hf_err_t e = hf_cli_station_wait(st, timeout_ms);
    hf_station_stats(st, &s);
    printf("publish --drain: spooled_before=%llu delivered=%llu still_spooled=%llu\n",
           (unsigned long long)before, (unsigned long long)s.delivered,
           (unsigned long long)s.pending);
    fflush(stdout);
    if (e)
        fprintf(stderr, "hemoflow publish --drain: %llu events are still in the spool (%s); "
                "they are safe, run --drain again when the broker is reachable\n",
                (unsigned long long)s.pending,
                e == HF_ERR_STOPPED ? "interrupted" : "broker unreachable past --timeout");
    hf_station_destroy(st);
    return e ? HF_EXIT_FAIL : HF_EXIT_OK;
}

/* ==== entry ==== */

int hf_cmd_publish(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'},
        {"format", required_argument, NULL, 'f'},
        {"key-file", required_argument, NULL, 'k'},
        {"spool-dir", required_argument, NULL, 'd'},
        {"schema-version", required_argument, NULL, 'V'},
        {"offline", no_argument, NULL, 'O'},
        {"drain", no_argument, NULL, 'D'},
        {"timeout", required_argument, NULL, 'T'},
        {"progress-log", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *type = NULL, *format = NULL, *key_file = NULL, *spool_dir = NULL,
               *progress = NULL;
    bool offline = false, drain = false;
    long timeout_ms = hf_config_int(cli->cfg, "publish.delivery_timeout_ms"), version = 0;
    int c;
    while ((c = getopt_long(argc, argv, "t:f:k:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': type = optarg; break;
        case 'f':
            if (strcmp(optarg, "csv") && strcmp(optarg, "jsonl"))
                return hf_cli_usage_error("publish", "--format expects csv or jsonl, got '%s'",
                                          optarg);
            format = optarg;
            break;
        case 'k': key_file = optarg; break;
        case 'd': spool_dir = optarg; break;
        case 'V':
            if (hf__parse_int(optarg, 1, 1000, &version) < 0)
                return hf_cli_usage_error("publish", "--schema-version expects 1-1000, got '%s'",
                                          optarg);
            break;
        case 'O': offline = true; break;
        case 'D': drain = true; break;
        case 'T':
            if (hf__parse_int(optarg, 0, 86400000, &timeout_ms) < 0)
                return hf_cli_usage_error("publish", "--timeout expects milliseconds, got '%s'",
                                          optarg);
            break;
        case 'P': progress = optarg; break;
        case 'h': hf__publish_help(stdout); return HF_EXIT_OK;
        default: hf__publish_help(stderr); return HF_EXIT_USAGE;
        }
    }
    hf_cli_install_signals();
    if (drain) {
        if (optind < argc || type || offline)
            return hf_cli_usage_error("publish", "--drain takes no files, --type or --offline");
        return hf__drain(cli, spool_dir, timeout_ms);
    }
    if (!type)
        return hf_cli_usage_error("publish", "--type is required");
    const hf_event_type_t *et = hf_event_type_find(type);
    if (!et)
        return hf_cli_usage_error("publish", "unknown event type '%s'", type);
    if (optind >= argc)
        return hf_cli_usage_error("publish", "no input FILE given");

    hf__pub_t p = {.type = et->name, .schema_version = (int)version,
                   .max_record = (size_t)hf_config_int(cli->cfg, "publish.max_record_bytes"),
                   .bar = isatty(STDERR_FILENO) != 0, .last_sync_us = hf_time_mono_us()};
    if (progress && !(p.progress_log = fopen(progress, "a"))) {
        fprintf(stderr, "hemoflow publish: %s: %s\n", progress, strerror(errno));
        return HF_EXIT_FAIL;
    }
    char err[512];
    hf_station_conf_t conf = {.cfg = cli->cfg, .key_file = key_file, .spool_dir = spool_dir,
                              .offline = offline};
    p.st = hf_station_new(&conf, err, sizeof(err));
    if (!p.st) {
        fprintf(stderr, "hemoflow publish: %s\n", err);
        if (p.progress_log)
            fclose(p.progress_log);
        return HF_EXIT_FAIL;
    }
    for (int i = optind; i < argc && !hf_cli_stop; i++)
        hf__file(&p, argv[i], format);
    bool interrupted = hf_cli_stop != 0;
    if (interrupted)
        fprintf(stderr, "hemoflow publish: interrupted: stopped reading, accepted rows are "
                "spooled\n");

    hf_err_t w = HF_OK;
    if (!offline) {
        hf_cli_stop = 0; /* a second signal interrupts the wait */
        w = hf_cli_station_wait(p.st, interrupted ? (timeout_ms < 2000 ? timeout_ms : 2000) : timeout_ms);
    }
    hf_station_stats_t s;
    hf_station_stats(p.st, &s);
    printf("publish: read=%llu accepted=%llu rejected=%llu delivered=%llu still_spooled=%llu\n",
           (unsigned long long)p.read, (unsigned long long)p.accepted,
           (unsigned long long)p.rejected, (unsigned long long)s.delivered,
           (unsigned long long)s.pending);
    fflush(stdout);
    if (s.pending)
        fprintf(stderr, "hemoflow publish: %llu events are still in the spool %s (%s); they are "
                "safe and will be sent by the next 'hemoflow publish' or 'hemoflow publish "
                "--drain'\n", (unsigned long long)s.pending,
                spool_dir ? spool_dir : hf_config_str(cli->cfg, "publish.spool_dir"),
                offline ? "--offline" : w == HF_ERR_STOPPED ? "interrupted"
                                                            : "broker unreachable");
    hf_station_destroy(p.st);
    if (p.progress_log)
        fclose(p.progress_log);
    if (p.failed || interrupted)
        return HF_EXIT_FAIL;
    return p.rejected ? HF_EXIT_REJECTS : HF_EXIT_OK;
}
