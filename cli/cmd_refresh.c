/*
 * cmd_refresh — `hemoflow refresh`: recompute the indicator views the
 * analyst role reads (docs/indicators.md) from the current warehouse.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "hf_indicators.h"

static void hf__refresh_help(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow refresh\n"
            "\n"
            "Recomputes the indicator views (hemoflow.hf_ind_*, read through the published\n"
            "hemoflow.ind_* views) from the _current views of the warehouse (pg.* settings,\n"
            "as the warehouse owner), after copying the indicators.* settings (suppression,\n"
            "plasma interval rules) into hemoflow.hf_settings. One transaction; readers of\n"
            "the ind_* views are not blocked. Run it after loading, e.g. from cron; see\n"
            "docs/indicators.md.\n"
            "\n"
            "  -h, --help      this help\n");
}

int hf_cmd_refresh(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': hf__refresh_help(stdout); return HF_EXIT_OK;
        default: hf__refresh_help(stderr); return HF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return hf_cli_usage_error("refresh", "unexpected argument '%s'", argv[optind]);
    char err[1024];
    hf_err_t e = hf_indicators_refresh(cli->cfg, stdout, err, sizeof(err));
    if (e) {
        fprintf(stderr, "hemoflow refresh: %s\n", err);
        return e == HF_ERR_CONFIG ? HF_EXIT_USAGE : HF_EXIT_FAIL;
    }
    return HF_EXIT_OK;
}
