/*
 * hf_log — key=value log lines with UTC millisecond timestamps; one
 * fputs per line so concurrent threads never interleave within a line.
 */
#include "hf_log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

/* Written once by hf_log_init() before threads start (see header). */
static hf_log_level_t hf__threshold = HF_LOG_INFO;
static FILE *hf__out;

static const char *const hf__names[] = {"debug", "info", "warn", "error", "off"};

void hf_log_init(hf_log_level_t level, FILE *out)
{
    hf__threshold = level;
    hf__out = out;
}

hf_log_level_t hf_log_level(void)
{
    return hf__threshold;
}

bool hf_log_level_parse(const char *s, hf_log_level_t *out)
{
    for (int i = 0; i <= HF_LOG_OFF; i++) {
        if (strcasecmp(s, hf__names[i]) == 0) {
            *out = (hf_log_level_t)i;
            return true;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = HF_LOG_WARN;
        return true;
    }
    return false;
}

const char *hf_log_level_name(hf_log_level_t level)
{
    return (unsigned)level <= HF_LOG_OFF ? hf__names[level] : "?";
}

void hf_log_write(hf_log_level_t level, const char *event, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, hf_log_level_name(level), event);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = m < 0 ? (size_t)n : strnlen(line, sizeof(line) - 2);
    /* Keep the record on one line whatever the caller passed. */
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len] = '\n';
    line[len + 1] = '\0';
    fputs(line, hf__out ? hf__out : stderr);
}

void hf_log_rdkafka_cb(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf)
{
    hf_log_level_t l = level <= 3 ? HF_LOG_ERROR : level <= 4 ? HF_LOG_WARN
                     : level <= 6 ? HF_LOG_INFO : HF_LOG_DEBUG;
    if (l < hf_log_level())
        return;
    char ev[64];
    snprintf(ev, sizeof(ev), "rdkafka.%s", fac ? fac : "log");
    hf_log_write(l, ev, "client=%s msg=\"%s\"", rk ? rd_kafka_name(rk) : "-", buf);
}
