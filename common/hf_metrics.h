/*
 * hf_metrics — a small metrics registry: counters, gauges and histograms
 * with fixed buckets, each a family of series told apart by label values,
 * rendered in the Prometheus text exposition format (version 0.0.4).
 *
 *   hf_metrics_t *r = hf_metrics_new();
 *   hf_metric_t *rows = hf_metrics_counter(r, "hemoflow_rows_loaded_total",
 *                                          "Fact rows inserted.", "event_type,province");
 *   hf_metric_add(rows, HF_LV("DonationCollected", "11"), 42);
 *   hf_buf_t out = {0};
 *   hf_metrics_render(r, &out);
 *
 * Names follow Prometheus conventions (the caller's job: `_total` for
 * counters, base units `_seconds`/`_bytes`); the registry checks the
 * syntax of names and label names and aborts on a bad one (a bug). Label
 * values must come from bounded sets (event types, province codes, reason
 * codes, error classes, partitions): a family keeps at most
 * HF_METRICS_MAX_SERIES series and drops updates of further ones (logged
 * once per family as metrics.series_overflow).
 *
 * Threads: every function may be called from any thread. One recursive
 * mutex per registry guards everything; hf_metrics_lock/unlock group
 * several updates so that a render sees all of them or none (the counts
 * that must add up are updated together). Family handles stay valid until
 * hf_metrics_destroy.
 */
#ifndef HF_METRICS_H
#define HF_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_buf.h"

typedef struct hf_metrics_s hf_metrics_t;
typedef struct hf_metric_s hf_metric_t;

#define HF_METRICS_MAX_LABELS 4
#define HF_METRICS_MAX_BUCKETS 24   /* finite bucket bounds per histogram */
#define HF_METRICS_MAX_SERIES 2000  /* per family */

/* Label values for one series, in the order the family's labels were
 * declared: HF_LV("DonationCollected", "11"). NULL for a family without
 * labels. */
#define HF_LV(...) ((const char *const[]){__VA_ARGS__})

/* ==== registry ==== */

hf_metrics_t *hf_metrics_new(void); /* never NULL */
void hf_metrics_destroy(hf_metrics_t *r); /* NULL is a no-op */

/* Called at the start of every render with the registry locked, to set
 * gauges whose value is read on demand (process RSS, open fds). At most
 * 8 per registry. */
typedef void (*hf_metrics_collect_fn)(void *opaque);
void hf_metrics_on_collect(hf_metrics_t *r, hf_metrics_collect_fn fn, void *opaque);

/* Group updates: a render (or another thread's update) waits until the
 * matching unlock. Recursive. */
void hf_metrics_lock(hf_metrics_t *r);
void hf_metrics_unlock(hf_metrics_t *r);

/* ==== families ====
 * labels: comma-separated label names ("event_type,province"), NULL or ""
 * for none; at most HF_METRICS_MAX_LABELS, never "le". Registering a name
 * again returns the same family when type, labels (and bounds) agree, and
 * aborts otherwise. help is copied. */

hf_metric_t *hf_metrics_counter(hf_metrics_t *r, const char *name, const char *help,
                                const char *labels);
hf_metric_t *hf_metrics_gauge(hf_metrics_t *r, const char *name, const char *help,
                              const char *labels);
/* bounds: nbounds (1..HF_METRICS_MAX_BUCKETS) finite upper bounds, strictly
 * increasing; the +Inf bucket is implied. Copied. */
hf_metric_t *hf_metrics_histogram(hf_metrics_t *r, const char *name, const char *help,
                                  const char *labels, const double *bounds, size_t nbounds);

/* ==== updates (lv: label values, see HF_LV) ==== */

/* Counter: add v (>= 0; a negative or NaN v is ignored). Also creates the
 * series with value 0 when v is 0, so that it shows before its first
 * event. */
void hf_metric_add(hf_metric_t *m, const char *const *lv, double v);
/* Gauge: set, or add (v may be negative). */
void hf_metric_set(hf_metric_t *m, const char *const *lv, double v);
void hf_metric_gauge_add(hf_metric_t *m, const char *const *lv, double v);
/* Histogram: one observation. */
void hf_metric_observe(hf_metric_t *m, const char *const *lv, double v);
/* Remove one series (e.g. the lag gauge of a revoked partition); no-op when
 * absent. */
void hf_metric_remove(hf_metric_t *m, const char *const *lv);
/* Remove every series of the family. */
void hf_metric_clear(hf_metric_t *m);

/* ==== histograms built elsewhere ====
 * A batch's observations can be collected without the registry (e.g. in the
 * loader thread, per batch) and merged at once. */
typedef struct hf_hist_acc_s {
    uint64_t bucket[HF_METRICS_MAX_BUCKETS + 1]; /* per bound, not cumulative; [nbounds] = +Inf */
    uint64_t count;
    double sum;
} hf_hist_acc_t;

void hf_hist_acc_observe(hf_hist_acc_t *a, const double *bounds, size_t nbounds, double v);
/* Add a's observations to the histogram series; a must have been filled
 * with the family's bounds. */
void hf_metric_merge(hf_metric_t *m, const char *const *lv, const hf_hist_acc_t *a);

/* ==== reading ==== */

/* Current value of a counter or gauge series, the observation count of a
 * histogram series; 0 when the series does not exist. */
double hf_metric_value(hf_metric_t *m, const char *const *lv);
/* Sum over every series of the family (counters, gauges; histograms: counts). */
double hf_metric_sum(hf_metric_t *m);

/* Visit every series of a family (under the lock; do not update the
 * registry from fn): label values and value (histograms: count). */
typedef void (*hf_metric_visit_fn)(void *opaque, const char *const *lv, double value);
void hf_metric_each(hf_metric_t *m, hf_metric_visit_fn fn, void *opaque);

/* Append the whole registry in the text exposition format to out (NUL not
 * counted in out->len but present). Families in registration order, series
 * in creation order. */
void hf_metrics_render(hf_metrics_t *r, hf_buf_t *out);

/* The Content-Type of hf_metrics_render's output. */
#define HF_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif /* HF_METRICS_H */
