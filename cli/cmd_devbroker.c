/*
 * cmd_devbroker — `hemoflow devbroker`: run the embedded broker until
 * SIGINT/SIGTERM, printing its bootstrap address on stdout.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hf_devbroker.h"
#include "hf_event_types.h"
#include "hf_log.h"
#include "hf_mem.h"

static void hf__devbroker_help(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow devbroker [--port N] [--partitions N] [--topics T1,T2,...]\n"
            "\n"
            "Runs an in-memory Kafka-protocol broker on 127.0.0.1 (librdkafka's mock\n"
            "cluster) for local runs. Prints 'bootstrap=HOST:PORT' on stdout, creates the\n"
            "topics, and runs until SIGINT or SIGTERM. Data is lost when it stops.\n"
            "\n"
            "  -p, --port N          bootstrap port (default: any free port)\n"
            "  -n, --partitions N    partitions per topic, 1-256 (default 3)\n"
            "  -t, --topics LIST     comma-separated topic names (default: the ten\n"
            "                        hemoflow.<event_type> topics)\n"
            "  -h, --help            this help\n");
}

static int hf__parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int hf_cmd_devbroker(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"partitions", required_argument, NULL, 'n'},
        {"topics", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int port = 0, partitions = 3, c;
    const char *topic_list = NULL;
    while ((c = getopt_long(argc, argv, "p:n:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (hf__parse_int(optarg, 1, 65535, &port) < 0)
                return hf_cli_usage_error("devbroker", "--port expects 1-65535, got '%s'", optarg);
            break;
        case 'n':
            if (hf__parse_int(optarg, 1, 256, &partitions) < 0)
                return hf_cli_usage_error("devbroker", "--partitions expects 1-256, got '%s'",
                                          optarg);
            break;
        case 't': topic_list = optarg; break;
        case 'h': hf__devbroker_help(stdout); return HF_EXIT_OK;
        default: hf__devbroker_help(stderr); return HF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return hf_cli_usage_error("devbroker", "unexpected argument '%s'", argv[optind]);

    const char *prefix = hf_config_str(cli->cfg, "topic.prefix");
    char **topics = NULL;
    size_t ntopics = 0;
    char *list_copy = NULL;
    if (topic_list) {
        list_copy = hf_strdup(topic_list);
        topics = hf_calloc(strlen(topic_list) + 1, sizeof(char *));
        for (char *save = NULL, *t = strtok_r(list_copy, ",", &save); t;
             t = strtok_r(NULL, ",", &save))
            topics[ntopics++] = hf_strdup(t);
        if (ntopics == 0) {
            hf_free(topics);
            hf_free(list_copy);
            return hf_cli_usage_error("devbroker", "--topics needs at least one name");
        }
    } else {
        topics = hf_calloc(hf_event_types_count, sizeof(char *));
        for (size_t i = 0; i < hf_event_types_count; i++)
            topics[ntopics++] = hf_asprintf("%s%s", prefix, hf_event_types[i].snake);
    }

    hf_cli_install_signals();
    char err[512];
    hf_devbroker_t *db = hf_devbroker_new(port, partitions, (const char *const *)topics, ntopics,
                                          err, sizeof(err));
    int rc = HF_EXIT_OK;
    if (!db) {
        fprintf(stderr, "hemoflow devbroker: %s\n", err);
        rc = HF_EXIT_FAIL;
    } else {
        printf("bootstrap=%s\n", hf_devbroker_bootstrap(db));
        fflush(stdout);
        hf_log_info("devbroker.ready", "bootstrap=%s topics=%zu partitions=%d",
                    hf_devbroker_bootstrap(db), ntopics, partitions);
        while (!hf_cli_stop)
            pause();
        hf_log_info("devbroker.stop", "msg=\"signal received, stopping\"");
        hf_devbroker_destroy(db);
    }
    for (size_t i = 0; i < ntopics; i++)
        hf_free(topics[i]);
    hf_free(topics);
    hf_free(list_copy);
    return rc;
}
