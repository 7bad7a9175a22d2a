/*
 * cmd_topics — `hemoflow topics`: create the ten hemoflow.<event_type>
 * topics on a real cluster (Kafka's CreateTopics admin request). Existing
 * topics are left as they are, so the command is safe to repeat.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "hf_event_types.h"
#include "hf_log.h"
#include "hf_mem.h"

static void hf__topics_help(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow topics [--partitions N] [--replication-factor N]\n"
            "\n"
            "Creates the ten <topic.prefix><event_type> topics (default prefix 'hemoflow.')\n"
            "on the cluster at kafka.bootstrap.servers. Topics that exist are kept as they\n"
            "are. Prints one line per topic: created or exists.\n"
            "\n"
            "  -p, --partitions N          partitions per new topic, 1-1024 (default 6)\n"
            "  -r, --replication-factor N  replicas per partition, 1-16 (default: the\n"
            "                              cluster's default.replication.factor)\n"
            "  -h, --help                  this help\n"
            "\n"
            "Exit status: 0 all topics exist, 1 the cluster refused or was unreachable.\n");
}

static hf_err_t hf__set(void *opaque, const char *name, const char *value)
{
    char err[256];
    return rd_kafka_conf_set(opaque, name, value, err, sizeof(err)) == RD_KAFKA_CONF_OK
               ? HF_OK : HF_ERR_CONFIG;
}

static int hf__int_arg(const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (!*s || *end || v < lo || v > hi) ? -1 : (int)v;
}

int hf_cmd_topics(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"partitions", required_argument, NULL, 'p'},
        {"replication-factor", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int partitions = 6, rf = -1, c; /* -1: the broker's default.replication.factor */
    while ((c = getopt_long(argc, argv, "p:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if ((partitions = hf__int_arg(optarg, 1, 1024)) < 0)
                return hf_cli_usage_error("topics", "--partitions expects 1-1024, got '%s'", optarg);
            break;
        case 'r':
            if ((rf = hf__int_arg(optarg, 1, 16)) < 0)
                return hf_cli_usage_error("topics", "--replication-factor expects 1-16, got '%s'",
                                          optarg);
            break;
        case 'h': hf__topics_help(stdout); return HF_EXIT_OK;
        default: hf__topics_help(stderr); return HF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return hf_cli_usage_error("topics", "unexpected argument '%s'", argv[optind]);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, hf_log_rdkafka_cb);
    if (hf_config_each_kafka(cli->cfg, hf__set, conf) != HF_OK) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "hemoflow topics: invalid kafka.* setting\n");
        return HF_EXIT_USAGE;
    }
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "hemoflow topics: %s\n", err);
        return HF_EXIT_FAIL;
    }
    const char *prefix = hf_config_str(cli->cfg, "topic.prefix");
    size_t n = hf_event_types_count;
    rd_kafka_NewTopic_t **nts = hf_calloc(n, sizeof(*nts));
    for (size_t i = 0; i < n; i++) {
        char name[256];
        snprintf(name, sizeof(name), "%s%s", prefix, hf_event_types[i].snake);
        nts[i] = rd_kafka_NewTopic_new(name, partitions, rf, err, sizeof(err));
    }
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(ao, 30000, err, sizeof(err));
    rd_kafka_AdminOptions_set_operation_timeout(ao, 30000, err, sizeof(err));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nts, n, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
    int rc = HF_EXIT_OK;
    if (!ev) {
        fprintf(stderr, "hemoflow topics: no answer from %s within 60 s\n",
                hf_config_str(cli->cfg, "kafka.bootstrap.servers"));
        rc = HF_EXIT_FAIL;
    } else if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "hemoflow topics: %s\n", rd_kafka_event_error_string(ev));
        rc = HF_EXIT_FAIL;
    } else {
        size_t cnt;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            const char *name = rd_kafka_topic_result_name(res[i]);
            if (!e)
                if (rf > 0)
                    printf("created %s partitions=%d replication_factor=%d\n", name, partitions,
                           rf);
                else
                    printf("created %s partitions=%d replication_factor=default\n", name,
                           partitions);
            else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                printf("exists  %s\n", name);
            else {
                fprintf(stderr, "hemoflow topics: %s: %s\n", name,
                        rd_kafka_topic_result_error_string(res[i]));
                rc = HF_EXIT_FAIL;
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy_array(nts, n);
    hf_free(nts);
    rd_kafka_destroy(rk);
    return rc;
}
