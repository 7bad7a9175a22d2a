/*
 * cli — the `hemoflow` command line: global options, the command table and
 * the entry point of each subcommand.
 *
 * Exit codes (documented in README.md):
 *   0  success
 *   1  runtime failure (service unreachable past retries, I/O error, bug)
 *   2  usage or configuration error
 *   3  finished, but some input records were rejected (publish) or
 *      incompatible (schemas check)
 *   4-7 `lag`: the group's status is WARN (4), STALL (5), STOP (6) or
 *      REWIND (7)
 */
#ifndef HF_CLI_H
#define HF_CLI_H

#include <signal.h>

#include "hf_config.h"
#include "hf_station.h"

#define HF_EXIT_OK 0
#define HF_EXIT_FAIL 1
#define HF_EXIT_USAGE 2
#define HF_EXIT_REJECTS 3

/* What every command receives. cfg is loaded (file, env, --set) and owned
 * by main; commands must not destroy it. */
typedef struct hf_cli_s {
    hf_config_t *cfg;
    const char *prog;  /* argv[0] as given */
    /* where cfg came from, to read it again (SIGHUP) */
    const char *config_path;  /* -c FILE, or NULL */
    char **sets;              /* --set KEY=VALUE (and --log-level) in order */
    size_t nsets;
} hf_cli_t;

/* Set by SIGINT/SIGTERM handlers installed by hf_cli_install_signals(). */
extern volatile sig_atomic_t hf_cli_stop;
void hf_cli_install_signals(void);
/* Set by the SIGHUP handler installed by hf_cli_install_reload() (consume
 * only: other commands keep SIGHUP's default). */
extern volatile sig_atomic_t hf_cli_reload;
void hf_cli_install_reload(void);

/* A new configuration from the same sources as cli->cfg, read now: the
 * defaults, the file, the environment, the --set options. NULL with errstr
 * when one of them is refused. */
hf_config_t *hf_cli_load_config(const hf_cli_t *cli, char *errstr, size_t errstr_size);

/* Print "hemoflow <cmd>: <msg>" and a hint to --help on stderr; returns 2. */
int hf_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Wait up to timeout_ms for every spooled event to be acknowledged:
 * HF_OK, HF_ERR_TIMEOUT (the rest stays spooled) or HF_ERR_STOPPED (a
 * signal arrived). */
hf_err_t hf_cli_station_wait(hf_station_t *st, long timeout_ms) __attribute__((warn_unused_result));

/* ==== commands (one file each: cmd_<name>.c) ==== */

int hf_cmd_devbroker(hf_cli_t *cli, int argc, char **argv);
int hf_cmd_topics(hf_cli_t *cli, int argc, char **argv);
int hf_cmd_publish(hf_cli_t *cli, int argc, char **argv);
int hf_cmd_migrate(hf_cli_t *cli, int argc, char **argv);
int hf_cmd_partitions(hf_cli_t *cli, int argc, char **argv);
int hf_cmd_consume(hf_cli_t *cli, int argc, char **argv);
int hf_cmd_simulate(hf_cli_t *cli, int argc, char **argv);
int hf_cmd_schemas(hf_cli_t *cli, int argc, char **argv);
int hf_cmd_refresh(hf_cli_t *cli, int argc, char **argv);
int hf_cmd_report(hf_cli_t *cli, int argc, char **argv);
int hf_cmd_lag(hf_cli_t *cli, int argc, char **argv);
int hf_cmd_completeness(hf_cli_t *cli, int argc, char **argv);

#endif /* HF_CLI_H */
