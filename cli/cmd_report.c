/*
 * cmd_report — `hemoflow report`: the published indicators for a period as
 * a terminal table, CSV, or a self-contained HTML page with charts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hf_report.h"

static void hf__report_help(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow report --from YYYY-MM-DD --to YYYY-MM-DD [--province CODE]\n"
            "                       [--format text|csv|html] [-o FILE] [--summary]\n"
            "\n"
            "Reads the published indicator views (hemoflow.ind_*; docs/indicators.md) with\n"
            "the pg.* settings (the analyst role is enough) and writes the indicators of the\n"
            "whole months from --from's month to --to: donations per 1000 population, days\n"
            "of supply, wastage, screening positivity, deferrals, donor return, plasma\n"
            "interval compliance, adverse reactions, transfers between provinces.\n"
            "Small counts are suppressed in every format as the views publish them. The\n"
            "views show the warehouse as of the last 'hemoflow refresh'.\n"
            "\n"
            "  -f, --from DATE       first day (its whole month is covered)\n"
            "  -t, --to DATE         last day\n"
            "  -p, --province CODE   one province (GB/T 2260 two digits); default all\n"
            "  -F, --format FMT      text (default): tables for a terminal;\n"
            "                        csv: one row per value (indicator, province_code,\n"
            "                        province, period, breakdown, measure, value);\n"
            "                        html: one page with inline SVG charts, no external files\n"
            "  -o, --output FILE     write to FILE instead of standard output\n"
            "  -s, --summary         text/csv: only the summary table\n"
            "  -h, --help            this help\n");
}

int hf_cmd_report(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"province", required_argument, NULL, 'p'},
        {"format", required_argument, NULL, 'F'},
        {"output", required_argument, NULL, 'o'},
        {"summary", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    hf_report_opts_t o = {.format = HF_REPORT_TEXT};
    const char *path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "f:t:p:F:o:sh", opts, NULL)) != -1) {
        switch (c) {
        case 'f': o.from = optarg; break;
        case 't': o.to = optarg; break;
        case 'p': o.province = optarg; break;
        case 'F':
            if (!hf_report_format_parse(optarg, &o.format))
                return hf_cli_usage_error("report", "--format expects text, csv or html, got '%s'",
                                          optarg);
            break;
        case 'o': path = optarg; break;
        case 's': o.summary_only = true; break;
        case 'h': hf__report_help(stdout); return HF_EXIT_OK;
        default: hf__report_help(stderr); return HF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return hf_cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
    if (!o.from || !o.to)
        return hf_cli_usage_error("report", "--from and --to are required");
    FILE *out = stdout;
    if (path && !(out = fopen(path, "w"))) {
        fprintf(stderr, "hemoflow report: %s: %s\n", path, strerror(errno));
        return HF_EXIT_FAIL;
    }
    char err[1024];
    hf_err_t e = hf_report_run(cli->cfg, &o, out, err, sizeof(err));
    if (out != stdout && fclose(out) != 0 && !e) {
        snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
        e = HF_ERR_IO;
    }
    if (e) {
        fprintf(stderr, "hemoflow report: %s\n", err);
        if (path)
            remove(path);
        return e == HF_ERR_USAGE || e == HF_ERR_CONFIG ? HF_EXIT_USAGE : HF_EXIT_FAIL;
    }
    if (path)
        fprintf(stderr, "hemoflow report: wrote %s\n", path);
    return HF_EXIT_OK;
}
