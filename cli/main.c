/*
 * main — `hemoflow` entry point: global options, configuration loading,
 * logging setup, signal flag, and dispatch to one subcommand.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "hf_log.h"
#include "hf_mem.h"

volatile sig_atomic_t hf_cli_stop = 0;
volatile sig_atomic_t hf_cli_reload = 0;

static void hf__on_signal(int sig)
{
    (void)sig;
    hf_cli_stop = 1;
}

static void hf__on_hup(int sig)
{
    (void)sig;
    hf_cli_reload = 1;
}

void hf_cli_install_reload(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = hf__on_hup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
}

hf_config_t *hf_cli_load_config(const hf_cli_t *cli, char *errstr, size_t errstr_size)
{
    hf_config_t *cfg = hf_config_new();
    hf_err_t e = HF_OK;
    if (cli->config_path)
        e = hf_config_load_file(cfg, cli->config_path, errstr, errstr_size);
    if (!e)
        e = hf_config_load_env(cfg, NULL, errstr, errstr_size);
    for (size_t i = 0; !e && i < cli->nsets; i++) {
        const char *eq = strchr(cli->sets[i], '=');
        if (!eq) {
            e = hf_err_set(HF_ERR_USAGE, errstr, errstr_size, "--set expects KEY=VALUE, got '%s'",
                           cli->sets[i]);
            break;
        }
        char *key = hf_strndup(cli->sets[i], (size_t)(eq - cli->sets[i]));
        e = hf_config_set(cfg, key, eq + 1, "--set", errstr, errstr_size);
        hf_free(key);
    }
    if (e) {
        hf_config_destroy(cfg);
        return NULL;
    }
    return cfg;
}

void hf_cli_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = hf__on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int hf_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hemoflow%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'hemoflow %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return HF_EXIT_USAGE;
}

typedef struct hf__cmd_s {
    const char *name;
    int (*fn)(hf_cli_t *cli, int argc, char **argv);
    const char *summary;
} hf__cmd_t;

static const hf__cmd_t hf__cmds[] = {
    {"devbroker", hf_cmd_devbroker, "run an embedded Kafka-protocol broker for local use"},
    {"topics", hf_cmd_topics, "create the hemoflow.* topics on a Kafka cluster"},
    {"publish", hf_cmd_publish, "validate, pseudonymize, spool and send station exports"},
    {"simulate", hf_cmd_simulate, "generate realistic traffic (with faults) and publish it"},
    {"migrate", hf_cmd_migrate, "create/upgrade the warehouse schema, roles and partitions"},
    {"partitions", hf_cmd_partitions, "create warehouse partitions ahead, or list them"},
    {"consume", hf_cmd_consume, "load events from Kafka into the warehouse, exactly once"},
    {"refresh", hf_cmd_refresh, "recompute the indicator views from the warehouse"},
    {"report", hf_cmd_report, "indicator report: text table, CSV or an HTML page with charts"},
    {"schemas", hf_cmd_schemas, "list the Avro schema catalogue; check a new schema version"},
    {"lag", hf_cmd_lag, "consumer lag per partition (messages, seconds) and Burrow status"},
    {"completeness", hf_cmd_completeness, "events per province, date and type; silent provinces"},
};

static void hf__usage(FILE *out)
{
    fprintf(out,
            "Usage: hemoflow [GLOBAL OPTIONS] <command> [OPTIONS]\n"
            "\n"
            "hemoflow moves blood-data events from stations through Kafka into a\n"
            "partitioned PostgreSQL warehouse.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof(hf__cmds) / sizeof(hf__cmds[0]); i++)
        fprintf(out, "  %-12s %s\n", hf__cmds[i].name, hf__cmds[i].summary);
    fprintf(out,
            "\n"
            "Global options (before the command):\n"
            "  -c, --config FILE     read configuration from FILE (key = value lines)\n"
            "  -s, --set KEY=VALUE   set one configuration key (repeatable; wins over file/env)\n"
            "  -l, --log-level LVL   debug, info, warn or error (same as --set log.level=LVL)\n"
            "      --help-config     list every configuration key with its default\n"
            "  -V, --version         print the version (and librdkafka's and libpq's)\n"
            "  -h, --help            this help\n"
            "\n"
            "Environment: HEMOFLOW_<KEY> overrides the file (HEMOFLOW_CONSUME_BATCH_MAX_ROWS);\n"
            "HEMOFLOW_KAFKA_<X> sets kafka.<x> and HEMOFLOW_PG_<X> sets pg.<x>.\n"
            "Run 'hemoflow <command> --help' for a command's options.\n"
            "Exit status: 0 ok, 1 failure, 2 usage/config error, 3 some records rejected;\n"
            "`lag`: 4-7 for its WARN, STALL, STOP, REWIND status.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'l'},
        {"help-config", no_argument, NULL, 'H'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    hf_config_t *cfg = NULL;
    int rc = HF_EXIT_OK;
    char **sets = hf_calloc((size_t)argc + 1, sizeof(char *));
    size_t nsets = 0;
    char *level_set = NULL; /* owned: the --log-level option rewritten as a --set */
    int c;

    /* '+' stops at the first non-option: the command name. */
    while ((c = getopt_long(argc, argv, "+c:s:l:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'l':
            hf_free(level_set);
            level_set = hf_asprintf("log.level=%s", optarg);
            sets[nsets++] = level_set;
            break;
        case 'H': hf_config_print_help(stdout); rc = HF_EXIT_OK; goto out;
        case 'V':
            printf("hemoflow %s (librdkafka %s, libpq %d)\n", HF_VERSION, rd_kafka_version_str(),
                   PQlibVersion());
            rc = HF_EXIT_OK;
            goto out;
        case 'h': hf__usage(stdout); rc = HF_EXIT_OK; goto out;
        default: hf__usage(stderr); rc = HF_EXIT_USAGE; goto out;
        }
    }
    if (optind >= argc) {
        hf__usage(stderr);
        rc = HF_EXIT_USAGE;
        goto out;
    }
    int cmd_index = optind;
    const char *name = argv[cmd_index];
    const hf__cmd_t *cmd = NULL;
    for (size_t i = 0; i < sizeof(hf__cmds) / sizeof(hf__cmds[0]); i++)
        if (strcmp(hf__cmds[i].name, name) == 0)
            cmd = &hf__cmds[i];
    if (!cmd) {
        rc = hf_cli_usage_error(NULL, "unknown command '%s'", name);
        goto out;
    }

    for (size_t i = 0; i < nsets; i++) {
        if (!strchr(sets[i], '=')) {
            rc = hf_cli_usage_error(NULL, "--set expects KEY=VALUE, got '%s'", sets[i]);
            goto out;
        }
    }
    char err[512];
    hf_cli_t cli = {.prog = argv[0], .config_path = config_path, .sets = sets, .nsets = nsets};
    cfg = hf_cli_load_config(&cli, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "hemoflow: %s\n", err);
        rc = HF_EXIT_USAGE;
        goto out;
    }
    hf_log_level_t lvl = HF_LOG_INFO;
    (void)hf_log_level_parse(hf_config_str(cfg, "log.level"), &lvl);
    hf_log_init(lvl, stderr);
    if (*hf_config_str(cfg, "log.file") &&
        !hf_log_open_file(hf_config_str(cfg, "log.file"), err, sizeof(err))) {
        fprintf(stderr, "hemoflow: %s\n", err);
        rc = HF_EXIT_USAGE;
        goto out;
    }
    cli.cfg = cfg;
    optind = 0; /* each command parses its own argv (argv[0] = command) */
    rc = cmd->fn(&cli, argc - cmd_index, argv + cmd_index);
out:
    hf_log_close();
    hf_config_destroy(cfg);
    hf_free(sets);
    hf_free(level_set);
    return rc;
}
