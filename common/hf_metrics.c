/*
 * hf_metrics — the registry behind hf_metrics.h: families in an array,
 * series per family in an array found by a hash of their label values,
 * one recursive mutex for everything, and the text exposition renderer.
 */
#include "hf_metrics.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_log.h"
#include "hf_mem.h"

/* ==== state ==== */

typedef enum { HF__M_COUNTER, HF__M_GAUGE, HF__M_HISTOGRAM } hf__mtype_t;

typedef struct hf__series_s {
    uint64_t hash;
    char *key;                  /* label values joined by \x1f (owned) */
    char **lv;                  /* the label values (owned) */
    double value;               /* counter, gauge */
    hf_hist_acc_t *hist;        /* histogram (owned) */
} hf__series_t;

struct hf_metric_s {
    hf_metrics_t *reg;
    char *name, *help;
    hf__mtype_t type;
    size_t nlabels;
    char *labels[HF_METRICS_MAX_LABELS];
    size_t nbounds;
    double bounds[HF_METRICS_MAX_BUCKETS];
    hf__series_t *series;
    size_t nseries, capseries;
    bool overflow_logged;
};

typedef struct hf__collect_s {
    hf_metrics_collect_fn fn;
    void *opaque;
} hf__collect_t;

struct hf_metrics_s {
    pthread_mutex_t mu;         /* recursive */
    hf_metric_t **fam;
    size_t nfam, capfam;
    hf__collect_t collect[8];
    size_t ncollect;
};

/* ==== registry ==== */

hf_metrics_t *hf_metrics_new(void)
{
    hf_metrics_t *r = hf_calloc(1, sizeof(*r));
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&r->mu, &a);
    pthread_mutexattr_destroy(&a);
    return r;
}

static void hf__series_free(hf_metric_t *m, hf__series_t *s)
{
    for (size_t i = 0; i < m->nlabels; i++)
        hf_free(s->lv[i]);
    hf_free(s->lv);
    hf_free(s->key);
    hf_free(s->hist);
}

void hf_metrics_destroy(hf_metrics_t *r)
{
    if (!r)
        return;
    for (size_t f = 0; f < r->nfam; f++) {
        hf_metric_t *m = r->fam[f];
        for (size_t i = 0; i < m->nseries; i++)
            hf__series_free(m, &m->series[i]);
        hf_free(m->series);
        for (size_t i = 0; i < m->nlabels; i++)
            hf_free(m->labels[i]);
        hf_free(m->name);
        hf_free(m->help);
        hf_free(m);
    }
    hf_free(r->fam);
    pthread_mutex_destroy(&r->mu);
    hf_free(r);
}

void hf_metrics_on_collect(hf_metrics_t *r, hf_metrics_collect_fn fn, void *opaque)
{
    hf_metrics_lock(r);
    if (r->ncollect == sizeof(r->collect) / sizeof(r->collect[0])) {
        hf_log_error("metrics.bug", "msg=\"too many collect callbacks\"");
        abort();
    }
    r->collect[r->ncollect++] = (hf__collect_t){fn, opaque};
    hf_metrics_unlock(r);
}

void hf_metrics_lock(hf_metrics_t *r)
{
    pthread_mutex_lock(&r->mu);
}

void hf_metrics_unlock(hf_metrics_t *r)
{
    pthread_mutex_unlock(&r->mu);
}

/* ==== families ==== */

static bool hf__name_ok(const char *s, bool metric)
{
    if (!*s || isdigit((unsigned char)*s))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || (metric && *s == ':')))
            return false;
    return true;
}

static void hf__bug(const char *name, const char *why)
{
    hf_log_error("metrics.bug", "metric=%s msg=\"%s\"", name, why);
    abort();
}

static hf_metric_t *hf__register(hf_metrics_t *r, const char *name, const char *help,
                                 const char *labels, hf__mtype_t type, const double *bounds,
                                 size_t nbounds)
{
    if (!hf__name_ok(name, true))
        hf__bug(name, "bad metric name");
    hf_metric_t tmp = {.type = type, .nbounds = nbounds};
    char *copy = hf_strdup(labels ? labels : "");
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (tmp.nlabels == HF_METRICS_MAX_LABELS || !hf__name_ok(t, false) ||
            strcmp(t, "le") == 0 || strncmp(t, "__", 2) == 0)
            hf__bug(name, "bad label names");
        tmp.labels[tmp.nlabels++] = hf_strdup(t);
    }
    hf_free(copy);
    if (type == HF__M_HISTOGRAM) {
        if (nbounds < 1 || nbounds > HF_METRICS_MAX_BUCKETS)
            hf__bug(name, "bad number of buckets");
        for (size_t i = 0; i < nbounds; i++) {
            if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
                hf__bug(name, "bucket bounds must be finite and increasing");
            tmp.bounds[i] = bounds[i];
        }
    }
    hf_metrics_lock(r);
    hf_metric_t *found = NULL;
    for (size_t f = 0; f < r->nfam && !found; f++)
        if (strcmp(r->fam[f]->name, name) == 0)
            found = r->fam[f];
    if (found) {
        bool same = found->type == type && found->nlabels == tmp.nlabels &&
                    found->nbounds == tmp.nbounds &&
                    memcmp(found->bounds, tmp.bounds, sizeof(tmp.bounds)) == 0;
        for (size_t i = 0; same && i < tmp.nlabels; i++)
            same = strcmp(found->labels[i], tmp.labels[i]) == 0;
        for (size_t i = 0; i < tmp.nlabels; i++)
            hf_free(tmp.labels[i]);
        hf_metrics_unlock(r);
        if (!same)
            hf__bug(name, "registered twice with different type, labels or buckets");
        return found;
    }
    hf_metric_t *m = hf_malloc(sizeof(*m));
    *m = tmp;
    m->reg = r;
    m->name = hf_strdup(name);
    m->help = hf_strdup(help ? help : "");
    if (r->nfam == r->capfam) {
        r->capfam = r->capfam ? r->capfam * 2 : 32;
        r->fam = hf_realloc(r->fam, r->capfam * sizeof(*r->fam));
    }
    r->fam[r->nfam++] = m;
    hf_metrics_unlock(r);
    return m;
}

hf_metric_t *hf_metrics_counter(hf_metrics_t *r, const char *name, const char *help,
                                const char *labels)
{
    return hf__register(r, name, help, labels, HF__M_COUNTER, NULL, 0);
}

hf_metric_t *hf_metrics_gauge(hf_metrics_t *r, const char *name, const char *help,
                              const char *labels)
{
    return hf__register(r, name, help, labels, HF__M_GAUGE, NULL, 0);
}

hf_metric_t *hf_metrics_histogram(hf_metrics_t *r, const char *name, const char *help,
                                  const char *labels, const double *bounds, size_t nbounds)
{
    return hf__register(r, name, help, labels, HF__M_HISTOGRAM, bounds, nbounds);
}

/* ==== series ==== */

/* The key of label values lv (\x1f-joined) and its FNV-1a hash. */
static char *hf__key(const hf_metric_t *m, const char *const *lv, uint64_t *hash)
{
    hf_buf_t b = {0};
    for (size_t i = 0; i < m->nlabels; i++) {
        if (i)
            hf_buf_append(&b, "\x1f", 1);
        const char *v = lv && lv[i] ? lv[i] : "";
        hf_buf_append(&b, v, strlen(v));
    }
    hf_buf_append(&b, "", 1);
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < b.len; i++)
        h = (h ^ b.data[i]) * 1099511628211ULL;
    *hash = h;
    return (char *)b.data;
}

/* The series of lv; created when create (NULL past HF_METRICS_MAX_SERIES).
 * Registry locked. */
static hf__series_t *hf__series(hf_metric_t *m, const char *const *lv, bool create)
{
    uint64_t h;
    char *key = hf__key(m, lv, &h);
    for (size_t i = 0; i < m->nseries; i++) {
        if (m->series[i].hash == h && strcmp(m->series[i].key, key) == 0) {
            hf_free(key);
            return &m->series[i];
        }
    }
    if (!create) {
        hf_free(key);
        return NULL;
    }
    if (m->nseries >= HF_METRICS_MAX_SERIES) {
        if (!m->overflow_logged)
            hf_log_warn("metrics.series_overflow", "metric=%s limit=%d msg=\"further label "
                        "values are dropped\"", m->name, HF_METRICS_MAX_SERIES);
        m->overflow_logged = true;
        hf_free(key);
        return NULL;
    }
    if (m->nseries == m->capseries) {
        m->capseries = m->capseries ? m->capseries * 2 : 8;
        m->series = hf_realloc(m->series, m->capseries * sizeof(*m->series));
    }
    hf__series_t *s = &m->series[m->nseries++];
    memset(s, 0, sizeof(*s));
    s->hash = h;
    s->key = key;
    s->lv = hf_calloc(m->nlabels ? m->nlabels : 1, sizeof(char *));
    for (size_t i = 0; i < m->nlabels; i++)
        s->lv[i] = hf_strdup(lv && lv[i] ? lv[i] : "");
    if (m->type == HF__M_HISTOGRAM)
        s->hist = hf_calloc(1, sizeof(*s->hist));
    return s;
}

void hf_metric_add(hf_metric_t *m, const char *const *lv, double v)
{
    if (m->type != HF__M_COUNTER)
        hf__bug(m->name, "hf_metric_add on a non-counter");
    if (!(v >= 0))
        return;
    hf_metrics_lock(m->reg);
    hf__series_t *s = hf__series(m, lv, true);
    if (s)
        s->value += v;
    hf_metrics_unlock(m->reg);
}

static void hf__gauge(hf_metric_t *m, const char *const *lv, double v, bool add)
{
    if (m->type != HF__M_GAUGE)
        hf__bug(m->name, "gauge update on a non-gauge");
    hf_metrics_lock(m->reg);
    hf__series_t *s = hf__series(m, lv, true);
    if (s)
        s->value = add ? s->value + v : v;
    hf_metrics_unlock(m->reg);
}

void hf_metric_set(hf_metric_t *m, const char *const *lv, double v)
{
    hf__gauge(m, lv, v, false);
}

void hf_metric_gauge_add(hf_metric_t *m, const char *const *lv, double v)
{
    hf__gauge(m, lv, v, true);
}

void hf_hist_acc_observe(hf_hist_acc_t *a, const double *bounds, size_t nbounds, double v)
{
    if (isnan(v))
        return;
    size_t i = 0;
    while (i < nbounds && v > bounds[i])
        i++;
    a->bucket[i]++;
    a->count++;
    a->sum += v;
}

void hf_metric_observe(hf_metric_t *m, const char *const *lv, double v)
{
    if (m->type != HF__M_HISTOGRAM)
        hf__bug(m->name, "observe on a non-histogram");
    hf_metrics_lock(m->reg);
    hf__series_t *s = hf__series(m, lv, true);
    if (s)
        hf_hist_acc_observe(s->hist, m->bounds, m->nbounds, v);
    hf_metrics_unlock(m->reg);
}

void hf_metric_merge(hf_metric_t *m, const char *const *lv, const hf_hist_acc_t *a)
{
    if (m->type != HF__M_HISTOGRAM)
        hf__bug(m->name, "merge on a non-histogram");
    hf_metrics_lock(m->reg);
    hf__series_t *s = hf__series(m, lv, true);
    if (s) {
        for (size_t i = 0; i <= m->nbounds; i++)
            s->hist->bucket[i] += a->bucket[i];
        s->hist->count += a->count;
        s->hist->sum += a->sum;
    }
    hf_metrics_unlock(m->reg);
}

void hf_metric_remove(hf_metric_t *m, const char *const *lv)
{
    hf_metrics_lock(m->reg);
    hf__series_t *s = hf__series(m, lv, false);
    if (s) {
        size_t i = (size_t)(s - m->series);
        hf__series_free(m, s);
        memmove(&m->series[i], &m->series[i + 1], (m->nseries - i - 1) * sizeof(*s));
        m->nseries--;
    }
    hf_metrics_unlock(m->reg);
}

void hf_metric_clear(hf_metric_t *m)
{
    hf_metrics_lock(m->reg);
    for (size_t i = 0; i < m->nseries; i++)
        hf__series_free(m, &m->series[i]);
    m->nseries = 0;
    hf_metrics_unlock(m->reg);
}

/* ==== reading ==== */

static double hf__series_value(const hf_metric_t *m, const hf__series_t *s)
{
    return m->type == HF__M_HISTOGRAM ? (double)s->hist->count : s->value;
}

double hf_metric_value(hf_metric_t *m, const char *const *lv)
{
    hf_metrics_lock(m->reg);
    hf__series_t *s = hf__series(m, lv, false);
    double v = s ? hf__series_value(m, s) : 0;
    hf_metrics_unlock(m->reg);
    return v;
}

double hf_metric_sum(hf_metric_t *m)
{
    double v = 0;
    hf_metrics_lock(m->reg);
    for (size_t i = 0; i < m->nseries; i++)
        v += hf__series_value(m, &m->series[i]);
    hf_metrics_unlock(m->reg);
    return v;
}

void hf_metric_each(hf_metric_t *m, hf_metric_visit_fn fn, void *opaque)
{
    hf_metrics_lock(m->reg);
    for (size_t i = 0; i < m->nseries; i++)
        fn(opaque, (const char *const *)m->series[i].lv, hf__series_value(m, &m->series[i]));
    hf_metrics_unlock(m->reg);
}

/* ==== rendering ==== */

/* The shortest text that reads back as v (Go's and Python's clients print
 * floats the same way); integers without a fraction. */
static void hf__fmt_num(char *buf, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* A HELP text: backslash and newline escaped. */
static void hf__esc_help(hf_buf_t *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            hf_buf_append(out, "\\\\", 2);
        else if (*s == '\n')
            hf_buf_append(out, "\\n", 2);
        else
            hf_buf_append(out, s, 1);
    }
}

/* A label value: backslash, double quote and newline escaped. */
static void hf__esc_value(hf_buf_t *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            hf_buf_append(out, "\\\\", 2);
        else if (*s == '"')
            hf_buf_append(out, "\\\"", 2);
        else if (*s == '\n')
            hf_buf_append(out, "\\n", 2);
        else
            hf_buf_append(out, s, 1);
    }
}

/* `{a="x",b="y"[,le="..."]}` or nothing. */
static void hf__labels(hf_buf_t *out, const hf_metric_t *m, const hf__series_t *s, const char *le)
{
    if (!m->nlabels && !le)
        return;
    hf_buf_append(out, "{", 1);
    for (size_t i = 0; i < m->nlabels; i++) {
        hf_buf_printf(out, "%s%s=\"", i ? "," : "", m->labels[i]);
        hf__esc_value(out, s->lv[i]);
        hf_buf_append(out, "\"", 1);
    }
    if (le)
        hf_buf_printf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
    hf_buf_append(out, "}", 1);
}

static void hf__render_family(hf_buf_t *out, hf_metric_t *m)
{
    static const char *const tn[] = {"counter", "gauge", "histogram"};
    hf_buf_printf(out, "# HELP %s ", m->name);
    hf__esc_help(out, m->help);
    hf_buf_printf(out, "\n# TYPE %s %s\n", m->name, tn[m->type]);
    /* A family without labels always has its one series, so that it shows
     * (as 0) before its first update. */
    if (!m->nlabels && !m->nseries)
        (void)hf__series(m, NULL, true);
    char num[64], le[64];
    for (size_t i = 0; i < m->nseries; i++) {
        const hf__series_t *s = &m->series[i];
        if (m->type != HF__M_HISTOGRAM) {
            hf_buf_append_str(out, m->name);
            hf__labels(out, m, s, NULL);
            hf__fmt_num(num, sizeof(num), s->value);
            hf_buf_printf(out, " %s\n", num);
            continue;
        }
        uint64_t cum = 0;
        for (size_t b = 0; b <= m->nbounds; b++) {
            cum += s->hist->bucket[b];
            if (b < m->nbounds)
                hf__fmt_num(le, sizeof(le), m->bounds[b]);
            else
                snprintf(le, sizeof(le), "+Inf");
            hf_buf_printf(out, "%s_bucket", m->name);
            hf__labels(out, m, s, le);
            hf_buf_printf(out, " %llu\n", (unsigned long long)cum);
        }
        hf_buf_printf(out, "%s_sum", m->name);
        hf__labels(out, m, s, NULL);
        hf__fmt_num(num, sizeof(num), s->hist->sum);
        hf_buf_printf(out, " %s\n", num);
        hf_buf_printf(out, "%s_count", m->name);
        hf__labels(out, m, s, NULL);
        hf_buf_printf(out, " %llu\n", (unsigned long long)s->hist->count);
    }
}

void hf_metrics_render(hf_metrics_t *r, hf_buf_t *out)
{
    hf_metrics_lock(r);
    for (size_t i = 0; i < r->ncollect; i++)
        r->collect[i].fn(r->collect[i].opaque);
    for (size_t f = 0; f < r->nfam; f++)
        hf__render_family(out, r->fam[f]);
    hf_buf_append(out, "", 1);
    out->len--; /* a NUL follows the text */
    hf_metrics_unlock(r);
}
