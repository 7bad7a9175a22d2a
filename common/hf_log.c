/*
 * hf_log — key=value log lines with UTC millisecond timestamps; one
 * fputs per line so concurrent threads never interleave within a line.
 */
#include "hf_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

/* The stream is set by hf_log_init() before threads start; the level may
 * change later (SIGHUP), hence atomic; a reopened log file replaces the
 * stream's file descriptor underneath it (dup2), never the stream. */
static _Atomic int hf__threshold = HF_LOG_INFO;
static FILE *_Atomic hf__out;
static FILE *_Atomic hf__file; /* hf__out when it is a log file we opened */

static const char *const hf__names[] = {"debug", "info", "warn", "error", "off"};

void hf_log_init(hf_log_level_t level, FILE *out)
{
    atomic_store_explicit(&hf__threshold, (int)level, memory_order_relaxed);
    hf__out = out;
}

void hf_log_set_level(hf_log_level_t level)
{
    atomic_store_explicit(&hf__threshold, (int)level, memory_order_relaxed);
}

hf_log_level_t hf_log_level(void)
{
    return (hf_log_level_t)atomic_load_explicit(&hf__threshold, memory_order_relaxed);
}

static int hf__open_log(const char *path, char *errstr, size_t errstr_size)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        snprintf(errstr, errstr_size, "log.file %s: %s", path, strerror(errno));
    return fd;
}

bool hf_log_open_file(const char *path, char *errstr, size_t errstr_size)
{
    int fd = hf__open_log(path, errstr, errstr_size);
    if (fd < 0)
        return false;
    FILE *cur = atomic_load(&hf__file);
    if (cur) { /* already a file: the same as a reopen */
        fflush(cur);
        bool ok = dup2(fd, fileno(cur)) >= 0;
        atomic_store(&hf__out, cur);
        if (!ok)
            snprintf(errstr, errstr_size, "log.file %s: %s", path, strerror(errno));
        close(fd);
        return ok;
    }
    FILE *f = fdopen(fd, "a");
    if (!f) {
        snprintf(errstr, errstr_size, "log.file %s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    atomic_store(&hf__file, f);
    atomic_store(&hf__out, f);
    return true;
}

bool hf_log_reopen(const char *path, char *errstr, size_t errstr_size)
{
    if (!atomic_load(&hf__file)) {
        snprintf(errstr, errstr_size, "not logging to a file");
        return false;
    }
    return hf_log_open_file(path, errstr, errstr_size);
}

void hf_log_to_stream(FILE *out)
{
    atomic_store(&hf__out, out);
}

void hf_log_close(void)
{
    FILE *f = atomic_exchange(&hf__file, NULL);
    if (f) {
        atomic_store(&hf__out, NULL);
        fclose(f);
    }
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
    FILE *out = atomic_load(&hf__out);
    fputs(line, out ? out : stderr);
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
