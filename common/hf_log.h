/*
 * hf_log — one-line key=value logging for every hemoflow module.
 *
 * A line looks like:
 *   ts=2026-11-28T10:40:00.123Z level=info event=batch.loaded topic=hemoflow.x partition=2 rows=500
 * `event` is a short dotted name a log search can key on; the rest is the
 * caller's key=value text (topic/partition/offset or province where they
 * apply). Levels are checked before the arguments are evaluated.
 *
 * The output stream is a process setting, written by hf_log_init() (or
 * hf_log_open_file()) before any thread starts. The threshold may change at
 * any time (hf_log_set_level, SIGHUP); a log file may be reopened at any
 * time (hf_log_reopen, SIGHUP after rotation): its descriptor is replaced
 * under the stream, so writers in other threads never see a closed one.
 * Secrets (HMAC keys, passwords) must never be passed to these functions.
 */
#ifndef HF_LOG_H
#define HF_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum hf_log_level_e {
    HF_LOG_DEBUG = 0,
    HF_LOG_INFO = 1,
    HF_LOG_WARN = 2,
    HF_LOG_ERROR = 3,
    HF_LOG_OFF = 4
} hf_log_level_t;

/* ==== setup ==== */

/* Set threshold and stream (NULL = stderr). Call before threads start. */
void hf_log_init(hf_log_level_t level, FILE *out);
void hf_log_set_level(hf_log_level_t level);
hf_log_level_t hf_log_level(void);
/* Log to the file at path (appending, created mode 0640) from now on
 * instead of the stream of hf_log_init; any thread (a file already open
 * is switched to path, as hf_log_reopen). false with errstr when it
 * cannot be opened. */
bool hf_log_open_file(const char *path, char *errstr, size_t errstr_size);
/* Open path again (log rotation: the old file was moved away) and send
 * further lines there; any thread. false (logging goes on where it was)
 * when it cannot be opened or no file is in use. */
bool hf_log_reopen(const char *path, char *errstr, size_t errstr_size);
/* Log to out (NULL: stderr) from now on; a log file stays open for a
 * later hf_log_open_file. Any thread. */
void hf_log_to_stream(FILE *out);
/* Close a log file opened here (logging falls back to stderr). At exit,
 * after other threads stopped logging. */
void hf_log_close(void);
/* Parse "debug|info|warn|error|off"; returns false when unknown. */
bool hf_log_level_parse(const char *s, hf_log_level_t *out);
const char *hf_log_level_name(hf_log_level_t level);

/* ==== writing ==== */

void hf_log_write(hf_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define HF_LOG(level, event, ...)                                                                  \
    do {                                                                                           \
        if ((level) >= hf_log_level())                                                             \
            hf_log_write((level), (event), __VA_ARGS__);                                           \
    } while (0)
#define hf_log_debug(event, ...) HF_LOG(HF_LOG_DEBUG, event, __VA_ARGS__)
#define hf_log_info(event, ...) HF_LOG(HF_LOG_INFO, event, __VA_ARGS__)
#define hf_log_warn(event, ...) HF_LOG(HF_LOG_WARN, event, __VA_ARGS__)
#define hf_log_error(event, ...) HF_LOG(HF_LOG_ERROR, event, __VA_ARGS__)

/* ==== librdkafka ==== */

/* Signature-compatible with rd_kafka_conf_set_log_cb(); routes librdkafka's
 * syslog-levelled lines into hf_log as event=rdkafka.<fac>. */
struct rd_kafka_s;
void hf_log_rdkafka_cb(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf);

#endif /* HF_LOG_H */
