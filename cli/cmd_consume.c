/*
 * cmd_consume — `hemoflow consume`: run one loader instance of the consumer
 * group until SIGTERM/SIGINT (or, with --idle-exit, until caught up), with
 * the operations endpoint (/metrics, /healthz, /readyz, the status page)
 * beside it, and SIGHUP reloading the reloadable keys and reopening the log.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hf_catalog.h"
#include "hf_consumer.h"
#include "hf_consumer_ops.h"
#include "hf_http.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_metrics.h"
#include "hf_proc.h"
#include "hf_status_page.h"

/* ==== the operations endpoint ==== */

typedef struct hf__consume_s {
    hf_cli_t *cli;
    hf_metrics_t *reg;
    hf_consumer_ops_t *ops;
    const hf_config_t *cur;    /* the configuration in force */
    hf_config_t **reloaded;    /* every configuration SIGHUP loaded (kept to the end:
                                  the consumer borrows the one in force) */
    size_t nreloaded;
} hf__consume_t;

static void hf__h_metrics(void *opaque, hf_http_resp_t *r)
{
    hf__consume_t *x = opaque;
    char reason[256];
    (void)hf_consumer_ops_ready(x->ops, reason, sizeof(reason)); /* hemoflow_ready */
    r->content_type = HF_METRICS_CONTENT_TYPE;
    hf_metrics_render(x->reg, &r->body);
}

static void hf__h_healthz(void *opaque, hf_http_resp_t *r)
{
    (void)opaque;
    hf_buf_append_str(&r->body, "ok\n");
}

static void hf__h_readyz(void *opaque, hf_http_resp_t *r)
{
    hf__consume_t *x = opaque;
    char reason[256];
    bool ok = hf_consumer_ops_ready(x->ops, reason, sizeof(reason));
    r->status = ok ? 200 : 503;
    hf_buf_printf(&r->body, "%s%s\n", ok ? "" : "not ready: ", reason);
}

static void hf__h_status(void *opaque, hf_http_resp_t *r)
{
    hf__consume_t *x = opaque;
    r->content_type = "application/json";
    hf_consumer_ops_status_json(x->ops, &r->body);
}

static void hf__h_page(void *opaque, hf_http_resp_t *r)
{
    (void)opaque;
    r->content_type = "text/html; charset=utf-8";
    hf_buf_append_str(&r->body, hf_status_page_html);
}

static hf_http_t *hf__http_start(hf__consume_t *x, char *err, size_t errsize)
{
    const hf_config_t *cfg = x->cli->cfg;
    hf_http_route_t routes[] = {
        {"/metrics", hf__h_metrics, x}, {"/healthz", hf__h_healthz, x},
        {"/readyz", hf__h_readyz, x},   {"/status.json", hf__h_status, x},
        {"/", hf__h_page, x},
    };
    hf_http_conf_t hc = {.address = hf_config_str(cfg, "http.address"),
                         .port = (int)hf_config_int(cfg, "http.port"),
                         .max_connections = (size_t)hf_config_int(cfg, "http.max_connections"),
                         .max_request_bytes = (size_t)hf_config_int(cfg, "http.max_request_bytes"),
                         .timeout_s = (unsigned)hf_config_int(cfg, "http.timeout_s"),
                         .routes = routes, .nroutes = sizeof(routes) / sizeof(routes[0]),
                         .metrics = x->reg};
    return hf_http_start(&hc, err, errsize);
}

/* ==== SIGHUP ==== */

typedef struct hf__changes_s {
    hf_buf_t applied, not_applied;
} hf__changes_t;

static void hf__on_change(void *opaque, const char *key, bool reloadable)
{
    hf__changes_t *ch = opaque;
    hf_buf_t *b = reloadable ? &ch->applied : &ch->not_applied;
    hf_buf_printf(b, "%s%s", b->len ? "," : "", key);
}

/* The consumer's reload_fn: read the sources again, apply what is
 * process-wide here (log level, log file), hand the rest to the consumer. */
static const hf_config_t *hf__reload(void *opaque)
{
    hf__consume_t *x = opaque;
    char err[512];
    hf_config_t *cfg = hf_cli_load_config(x->cli, err, sizeof(err));
    const char *path = hf_config_str(cfg ? cfg : x->cur, "log.file");
    char lerr[512] = "";
    bool reopened = false;
    if (*path) /* reopen, or open a file named for the first time */
        reopened = hf_log_open_file(path, lerr, sizeof(lerr));
    else
        hf_log_to_stream(NULL);
    if (*path && !reopened)
        hf_log_error("log.reopen_failed", "err=\"%s\"", lerr);
    if (!cfg) {
        hf_log_error("config.reload_failed", "err=\"%s\" msg=\"keeping the running "
                     "configuration\"", err);
        return NULL;
    }
    hf__changes_t ch = {{0}, {0}};
    hf_config_each_change(x->cur, cfg, hf__on_change, &ch);
    hf_log_level_t lvl = HF_LOG_INFO;
    (void)hf_log_level_parse(hf_config_str(cfg, "log.level"), &lvl);
    hf_log_set_level(lvl);
    hf_log_info("config.reloaded", "applied=%s not_applied=%s log_reopened=%s",
                ch.applied.len ? (char *)ch.applied.data : "-",
                ch.not_applied.len ? (char *)ch.not_applied.data : "-",
                reopened ? "true" : "false");
    if (ch.not_applied.len)
        hf_log_warn("config.restart_needed", "keys=%s msg=\"these keys take effect only when "
                    "consume restarts\"", (char *)ch.not_applied.data);
    hf_buf_free(&ch.applied);
    hf_buf_free(&ch.not_applied);
    x->reloaded = hf_realloc(x->reloaded, (x->nreloaded + 1) * sizeof(*x->reloaded));
    x->reloaded[x->nreloaded++] = cfg;
    x->cur = cfg;
    return cfg;
}

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
            "and exit 0. SIGHUP reloads the reloadable keys (hemoflow --help-config marks\n"
            "them) and reopens log.file. PostgreSQL or Kafka outages are waited out, never\n"
            "fatal.\n"
            "\n"
            "Operations endpoint (http.* keys; on by default at 127.0.0.1:9471): /metrics\n"
            "(Prometheus), /healthz, /readyz (503 with the reason when not ready),\n"
            "/status.json and a status page at /. See docs/operations.md.\n"
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

    hf_mem_tune_service(); /* before any thread starts */
    char err[512];
    hf_catalog_t *cat = hf_catalog_load(hf_config_str(cli->cfg, "schemas.dir"), err, sizeof(err));
    if (!cat) {
        fprintf(stderr, "hemoflow consume: %s\n", err);
        return HF_EXIT_FAIL;
    }
    hf_cli_install_signals();
    hf_cli_install_reload();
    hf__consume_t x = {.cli = cli, .cur = cli->cfg, .reg = hf_metrics_new()};
    hf_proc_metrics_t *proc = hf_proc_metrics_new(x.reg);
    x.ops = hf_consumer_ops_new(x.reg);
    hf_consumer_ops_configure(x.ops, cli->cfg);
    hf_http_t *http = NULL;
    if (hf_config_bool(cli->cfg, "http.enabled") && !(http = hf__http_start(&x, err, sizeof(err)))) {
        fprintf(stderr, "hemoflow consume: %s\n", err);
        hf_consumer_ops_destroy(x.ops);
        hf_proc_metrics_destroy(proc);
        hf_metrics_destroy(x.reg);
        hf_catalog_destroy(cat);
        return HF_EXIT_FAIL;
    }
    hf_consumer_conf_t conf = {.cfg = cli->cfg, .cat = cat, .idle_exit_ms = idle_ms,
                               .stop = &hf_cli_stop, .ops = x.ops, .reload = &hf_cli_reload,
                               .reload_fn = hf__reload, .reload_opaque = &x};
    hf_consumer_t *cons = hf_consumer_new(&conf, err, sizeof(err));
    hf_err_t e = HF_OK;
    hf_consumer_stats_t st = {0};
    if (cons) {
        e = hf_consumer_run(cons, err, sizeof(err));
        hf_consumer_stats(cons, &st);
    }
    hf_consumer_ops_stopped(x.ops);
    hf_consumer_destroy(cons);
    hf_http_stop(http); /* before what its handlers read */
    hf_consumer_ops_destroy(x.ops);
    hf_proc_metrics_destroy(proc);
    hf_metrics_destroy(x.reg);
    hf_catalog_destroy(cat);
    for (size_t i = 0; i < x.nreloaded; i++)
        hf_config_destroy(x.reloaded[i]);
    hf_free(x.reloaded);
    if (!cons) {
        fprintf(stderr, "hemoflow consume: %s\n", err);
        return HF_EXIT_FAIL;
    }
    printf("consumed=%" PRIu64 " loaded=%" PRIu64 " duplicates=%" PRIu64 " quarantined=%" PRIu64
           " batches=%" PRIu64 " retries=%" PRIu64 " conflicts=%" PRIu64 " gaps=%" PRIu64
           " abandoned=%" PRIu64 "\n",
           st.messages, st.loaded, st.duplicates, st.quarantined, st.batches, st.retries,
           st.conflicts, st.gaps, st.abandoned);
    if (e) {
        fprintf(stderr, "hemoflow consume: %s\n", err);
        return HF_EXIT_FAIL;
    }
    return HF_EXIT_OK;
}
