/*
 * cmd_partitions — `hemoflow partitions`: create warehouse partitions ahead
 * of time (or for a date range, e.g. before a backfill), or list them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "hf_migrate.h"

static void hf__partitions_help(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow partitions [--ahead N | --from YYYY-MM-DD --to YYYY-MM-DD]\n"
            "       hemoflow partitions --list\n"
            "\n"
            "Creates, for every fact table and all 31 provinces, the event-date partitions\n"
            "(monthly or daily, as fixed at the first migrate) from the current period to N\n"
            "periods ahead (default warehouse.partitions_ahead), or covering --from..--to.\n"
            "Runs warehouse.migrate_connections statements side by side (one per table and\n"
            "province). Existing partitions are left alone; the loader also creates missing\n"
            "ones on demand. --list prints partition, province, from, to (tab-separated).\n"
            "\n"
            "  -a, --ahead N      periods ahead of the current one (0-366)\n"
            "  -f, --from DATE    first day to cover\n"
            "  -t, --to DATE      last day to cover\n"
            "  -l, --list         list the existing partitions instead\n"
            "  -h, --help         this help\n");
}

int hf_cmd_partitions(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"ahead", required_argument, NULL, 'a'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"list", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ahead = -1, c;
    const char *from = NULL, *to = NULL;
    bool list = false;
    while ((c = getopt_long(argc, argv, "a:f:t:lh", opts, NULL)) != -1) {
        switch (c) {
        case 'a': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 0 || v > 366)
                return hf_cli_usage_error("partitions", "--ahead expects 0-366, got '%s'",
                                          optarg);
            ahead = (int)v;
            break;
        }
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'l': list = true; break;
        case 'h': hf__partitions_help(stdout); return HF_EXIT_OK;
        default: hf__partitions_help(stderr); return HF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return hf_cli_usage_error("partitions", "unexpected argument '%s'", argv[optind]);
    if (!from != !to)
        return hf_cli_usage_error("partitions", "--from and --to go together");
    if (from && ahead >= 0)
        return hf_cli_usage_error("partitions", "--ahead and --from/--to exclude each other");
    if (list && (from || ahead >= 0))
        return hf_cli_usage_error("partitions", "--list takes no other option");
    char err[1024];
    hf_err_t e = list ? hf_migrate_list_partitions(cli->cfg, stdout, err, sizeof(err))
                      : hf_migrate_partitions(cli->cfg, ahead, from, to, stdout, NULL, err,
                                              sizeof(err));
    if (e) {
        fprintf(stderr, "hemoflow partitions: %s\n", err);
        return e == HF_ERR_USAGE || e == HF_ERR_CONFIG ? HF_EXIT_USAGE : HF_EXIT_FAIL;
    }
    return HF_EXIT_OK;
}
