/*
 * hf_log — one-line key=value logging for every hemoflow module.
 *
 * A line looks like:
 *   ts=2026-11-28T10:40:00.123Z level=info event=batch.loaded topic=hemoflow.x partition=2 rows=500
 * `event` is a short dotted name a log search can key on; the rest is the
 * caller's key=value text (topic/partition/offset or province where they
 * apply). Levels are checked before the arguments are evaluated.
 *
 * The threshold and the output stream are process settings, written once by
 * hf_log_init() before any thread starts, and read-only afterwards.
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
hf_log_level_t hf_log_level(void);
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
