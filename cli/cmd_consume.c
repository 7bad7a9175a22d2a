/*
 * cmd_consume — `hemoflow consume`: run one loader instance of the consumer
 * group until SIGTERM/SIGINT (or, with --idle-exit, until caught up).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "hf_catalog.h"
#include "hf_consumer.h"
#include "hf_log.h"

static void hf__consume_help(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow consume [--idle-exit MS]\n"
            "\n"
            "Joins the consumer group consume.group_id on every hemoflow.* topic and loads\n"
            "the events into the PostgreSQL warehouse (pg.* keys) exactly once: rows,\n"
            "quarantined records and the next Kafka offsets commit in one transaction.\n"
            "Run `hemoflow migrate` first. Run several instances to share the partitions.\n"
            "SIGTERM/SIGINT commit the in-flight batch (within consume.shutdown_deadline_ms)\n"
            "and exit 0. PostgreSQL or Kafka outages are waited out, never fatal.\n"
            "\n"
            "  -i, --idle-exit MS    exit 0 once every assigned partition is at its end and\n"
            "                        nothing arrived for MS milliseconds (batch jobs, tests)\n"
            "  -h, --help            this help\n"
            "\n"
            "Batch and memory limits: consume.* keys (hemoflow --help-config).\n"
            "Exit status: 0 stopped cleanly, 1 permanent failure, 2 usage/config error.\n");
}

int hf_cmd_consume(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"idle-exit", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int64_t idle_ms = 0;
    int c;
    while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (!*optarg || *end || v <= 0 || v > 86400000)
                return hf_cli_usage_error("consume", "--idle-exit expects 1-86400000 ms, got '%s'",
                                          optarg);
            idle_ms = v;
            break;
        }
        case 'h': hf__consume_help(stdout); return HF_EXIT_OK;
        default: hf__consume_help(stderr); return HF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return hf_cli_usage_error("consume", "unexpected argument '%s'", argv[optind]);

    char err[512];
    hf_catalog_t *cat = hf_catalog_load(hf_config_str(cli->cfg, "schemas.dir"), err, sizeof(err));
    if (!cat) {
        fprintf(stderr, "hemoflow consume: %s\n", err);
        return HF_EXIT_FAIL;
    }
    hf_cli_install_signals();
    hf_consumer_conf_t conf = {.cfg = cli->cfg, .cat = cat, .idle_exit_ms = idle_ms,
                               .stop = &hf_cli_stop};
    hf_consumer_t *cons = hf_consumer_new(&conf, err, sizeof(err));
    if (!cons) {
        fprintf(stderr, "hemoflow consume: %s\n", err);
        hf_catalog_destroy(cat);
        return HF_EXIT_FAIL;
    }
    hf_err_t e = hf_consumer_run(cons, err, sizeof(err));
    hf_consumer_stats_t st;
    hf_consumer_stats(cons, &st);
    hf_consumer_destroy(cons);
    hf_catalog_destroy(cat);
    printf("consumed=%" PRIu64 " loaded=%" PRIu64 " duplicates=%" PRIu64 " quarantined=%" PRIu64
           " batches=%" PRIu64 " retries=%" PRIu64 " conflicts=%" PRIu64 " gaps=%" PRIu64 "\n",
           st.messages, st.loaded, st.duplicates, st.quarantined, st.batches, st.retries,
           st.conflicts, st.gaps);
    if (e) {
        fprintf(stderr, "hemoflow consume: %s\n", err);
        return HF_EXIT_FAIL;
    }
    return HF_EXIT_OK;
}
