/*
 * cmd_migrate — `hemoflow migrate [--dry-run]`: apply the warehouse's SQL
 * migrations, set up the loader/analyst roles and create partitions ahead.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "hf_migrate.h"

static void hf__migrate_help(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow migrate [--dry-run]\n"
            "\n"
            "Brings the PostgreSQL warehouse (pg.* settings) up to date: applies every\n"
            "NNNN_name.sql of warehouse.sql_dir not yet recorded in\n"
            "hemoflow.hf_schema_migrations, in order, each in its own transaction; fixes the\n"
            "partition granularity at the first run; creates/updates the roles\n"
            "warehouse.loader_role and warehouse.analyst_role (NOLOGIN; see\n"
            "docs/warehouse.md); creates partitions warehouse.partitions_ahead periods ahead,\n"
            "over warehouse.migrate_connections connections side by side.\n"
            "Safe to run concurrently and repeatedly. Refuses, changing nothing, when an\n"
            "applied migration file was edited or the database is newer than this hemoflow.\n"
            "\n"
            "  -n, --dry-run   only print the migrations that would be applied\n"
            "  -h, --help      this help\n");
}

int hf_cmd_migrate(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool dry_run = false;
    int c;
    while ((c = getopt_long(argc, argv, "nh", opts, NULL)) != -1) {
        switch (c) {
        case 'n': dry_run = true; break;
        case 'h': hf__migrate_help(stdout); return HF_EXIT_OK;
        default: hf__migrate_help(stderr); return HF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return hf_cli_usage_error("migrate", "unexpected argument '%s'", argv[optind]);
    char err[1024];
    hf_err_t e = hf_migrate_run(cli->cfg, dry_run, stdout, err, sizeof(err));
    if (e) {
        fprintf(stderr, "hemoflow migrate: %s\n", err);
        return e == HF_ERR_CONFIG ? HF_EXIT_USAGE : HF_EXIT_FAIL;
    }
    return HF_EXIT_OK;
}
