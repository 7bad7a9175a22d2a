/*
 * Unit tests for hf_metrics: the exact text exposition of counters, gauges
 * and histograms (HELP/TYPE lines, label escaping, cumulative buckets,
 * +Inf, _sum/_count, number formatting), families without labels showing
 * 0, re-registration, remove/clear, merged histograms, the series limit,
 * collect callbacks, and concurrent updates from several threads adding up
 * exactly while renders run.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "hf_log.h"
#include "hf_metrics.h"

static char *render(hf_metrics_t *r)
{
    hf_buf_t b = {0};
    hf_metrics_render(r, &b);
    return (char *)b.data;
}

Test(metrics, counter_gauge_exposition)
{
    hf_metrics_t *r = hf_metrics_new();
    hf_metric_t *c = hf_metrics_counter(r, "hf_rows_total", "Rows.\nSecond \\ line",
                                        "event_type,province");
    hf_metric_t *g = hf_metrics_gauge(r, "hf_up", "Up.", NULL);
    hf_metric_t *e = hf_metrics_counter(r, "hf_empty_total", "No series yet.", "reason");
    hf_metric_add(c, HF_LV("DonationCollected", "11"), 2);
    hf_metric_add(c, HF_LV("DonationCollected", "11"), 3);
    hf_metric_add(c, HF_LV("We\"ird\\", "a\nb"), 1);
    hf_metric_add(c, HF_LV("X", "12"), -5); /* ignored (no series): counters never go down */
    hf_metric_add(c, HF_LV("X", "12"), NAN); /* ignored */
    hf_metric_set(g, NULL, 0.25);
    char *out = render(r);
    const char *want =
        "# HELP hf_rows_total Rows.\\nSecond \\\\ line\n"
        "# TYPE hf_rows_total counter\n"
        "hf_rows_total{event_type=\"DonationCollected\",province=\"11\"} 5\n"
        "hf_rows_total{event_type=\"We\\\"ird\\\\\",province=\"a\\nb\"} 1\n"
        "# HELP hf_up Up.\n"
        "# TYPE hf_up gauge\n"
        "hf_up 0.25\n"
        "# HELP hf_empty_total No series yet.\n"
        "# TYPE hf_empty_total counter\n";
    cr_assert_str_eq(out, want);
    free(out);
    cr_assert_eq(hf_metric_value(c, HF_LV("DonationCollected", "11")), 5);
    cr_assert_eq(hf_metric_value(c, HF_LV("nope", "11")), 0);
    cr_assert_eq(hf_metric_sum(c), 6);
    (void)e;
    hf_metrics_destroy(r);
}

Test(metrics, unlabelled_families_show_zero_and_numbers_format)
{
    hf_metrics_t *r = hf_metrics_new();
    hf_metric_t *c = hf_metrics_counter(r, "a_total", "A.", NULL);
    hf_metric_t *g = hf_metrics_gauge(r, "b", "B.", "k");
    (void)c;
    hf_metric_set(g, HF_LV("big"), 12345678901234.0);
    hf_metric_set(g, HF_LV("frac"), 0.1);
    hf_metric_set(g, HF_LV("neg"), -3);
    hf_metric_set(g, HF_LV("inf"), INFINITY);
    hf_metric_set(g, HF_LV("nan"), NAN);
    hf_metric_set(g, HF_LV("huge"), 1e300);
    hf_metric_gauge_add(g, HF_LV("neg"), 1);
    char *out = render(r);
    cr_assert_str_eq(out, "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n"
                          "# HELP b B.\n# TYPE b gauge\n"
                          "b{k=\"big\"} 12345678901234\n"
                          "b{k=\"frac\"} 0.1\n"
                          "b{k=\"neg\"} -2\n"
                          "b{k=\"inf\"} +Inf\n"
                          "b{k=\"nan\"} NaN\n"
                          "b{k=\"huge\"} 1e+300\n");
    free(out);
    hf_metrics_destroy(r);
}

Test(metrics, histogram_exposition)
{
    hf_metrics_t *r = hf_metrics_new();
    static const double bounds[] = {0.005, 0.5, 1, 10};
    hf_metric_t *h = hf_metrics_histogram(r, "hf_commit_seconds", "Commit.", "table", bounds, 4);
    hf_metric_observe(h, HF_LV("t"), 0.001);
    hf_metric_observe(h, HF_LV("t"), 0.005); /* on a bound: that bucket (le) */
    hf_metric_observe(h, HF_LV("t"), 0.7);
    hf_metric_observe(h, HF_LV("t"), 100);
    hf_metric_observe(h, HF_LV("t"), NAN); /* ignored */
    char *out = render(r);
    cr_assert_str_eq(out, "# HELP hf_commit_seconds Commit.\n"
                          "# TYPE hf_commit_seconds histogram\n"
                          "hf_commit_seconds_bucket{table=\"t\",le=\"0.005\"} 2\n"
                          "hf_commit_seconds_bucket{table=\"t\",le=\"0.5\"} 2\n"
                          "hf_commit_seconds_bucket{table=\"t\",le=\"1\"} 3\n"
                          "hf_commit_seconds_bucket{table=\"t\",le=\"10\"} 3\n"
                          "hf_commit_seconds_bucket{table=\"t\",le=\"+Inf\"} 4\n"
                          "hf_commit_seconds_sum{table=\"t\"} 100.706\n"
                          "hf_commit_seconds_count{table=\"t\"} 4\n");
    free(out);
    cr_assert_eq(hf_metric_value(h, HF_LV("t")), 4);

    /* unlabelled histogram, and a merged accumulator */
    hf_metric_t *u = hf_metrics_histogram(r, "hf_rows", "Rows.", NULL, bounds, 2);
    hf_hist_acc_t a = {0};
    hf_hist_acc_observe(&a, bounds, 2, 0.25);
    hf_hist_acc_observe(&a, bounds, 2, 3);
    hf_hist_acc_observe(&a, bounds, 2, 3);
    hf_metric_merge(u, NULL, &a);
    hf_metric_merge(u, NULL, &a);
    hf_metric_clear(h);
    out = render(r);
    cr_assert_str_eq(out, "# HELP hf_commit_seconds Commit.\n"
                          "# TYPE hf_commit_seconds histogram\n"
                          "# HELP hf_rows Rows.\n"
                          "# TYPE hf_rows histogram\n"
                          "hf_rows_bucket{le=\"0.005\"} 0\n"
                          "hf_rows_bucket{le=\"0.5\"} 2\n"
                          "hf_rows_bucket{le=\"+Inf\"} 6\n"
                          "hf_rows_sum 12.5\n"
                          "hf_rows_count 6\n");
    free(out);
    hf_metrics_destroy(r);
}

Test(metrics, reregister_remove_and_limit)
{
    hf_metrics_t *r = hf_metrics_new();
    hf_metric_t *a = hf_metrics_gauge(r, "lag", "Lag.", "topic,partition");
    cr_assert_eq(hf_metrics_gauge(r, "lag", "other help", "topic,partition"), a);
    hf_metric_set(a, HF_LV("t", "0"), 1);
    hf_metric_set(a, HF_LV("t", "1"), 2);
    hf_metric_set(a, HF_LV("t", "2"), 3);
    hf_metric_remove(a, HF_LV("t", "1"));
    hf_metric_remove(a, HF_LV("t", "9")); /* absent: no-op */
    char *out = render(r);
    cr_assert(strncmp(out, "# HELP lag Lag.\n# TYPE lag gauge\n", 32) == 0, "%s", out);
    cr_assert(strstr(out, "lag{topic=\"t\",partition=\"0\"} 1\n"));
    cr_assert(strstr(out, "lag{topic=\"t\",partition=\"2\"} 3\n"));
    cr_assert_null(strstr(out, "partition=\"1\""));
    free(out);
    /* the series limit: further label values are dropped, existing ones work */
    hf_log_init(HF_LOG_OFF, NULL);
    hf_metric_t *c = hf_metrics_counter(r, "many_total", "Many.", "k");
    char k[32];
    for (int i = 0; i < HF_METRICS_MAX_SERIES + 50; i++) {
        snprintf(k, sizeof(k), "%d", i);
        hf_metric_add(c, HF_LV(k), 1);
    }
    hf_metric_add(c, HF_LV("0"), 1);
    cr_assert_eq(hf_metric_sum(c), HF_METRICS_MAX_SERIES + 1);
    cr_assert_eq(hf_metric_value(c, HF_LV("0")), 2);
    hf_log_init(HF_LOG_INFO, NULL);
    hf_metrics_destroy(r);
}

Test(metrics, bad_names_abort, .signal = SIGABRT)
{
    hf_log_init(HF_LOG_OFF, NULL);
    hf_metrics_t *r = hf_metrics_new();
    hf_metrics_counter(r, "9bad", "x", NULL);
}

Test(metrics, bad_label_le_aborts, .signal = SIGABRT)
{
    hf_log_init(HF_LOG_OFF, NULL);
    hf_metrics_t *r = hf_metrics_new();
    hf_metrics_counter(r, "ok_total", "x", "a,le");
}

Test(metrics, type_clash_aborts, .signal = SIGABRT)
{
    hf_log_init(HF_LOG_OFF, NULL);
    hf_metrics_t *r = hf_metrics_new();
    hf_metrics_counter(r, "x_total", "x", NULL);
    hf_metrics_gauge(r, "x_total", "x", NULL);
}

static void collect(void *opaque)
{
    hf_metric_t *g = opaque;
    hf_metric_gauge_add(g, NULL, 1);
}

Test(metrics, collect_callbacks_run_at_render)
{
    hf_metrics_t *r = hf_metrics_new();
    hf_metric_t *g = hf_metrics_gauge(r, "renders", "Renders.", NULL);
    hf_metrics_on_collect(r, collect, g);
    free(render(r));
    char *out = render(r);
    cr_assert(strstr(out, "\nrenders 2\n"), "%s", out);
    free(out);
    hf_metrics_destroy(r);
}

/* ---- threads ---- */

typedef struct {
    hf_metrics_t *r;
    hf_metric_t *msgs, *rows, *dups, *hist;
    int id;
} worker_t;

#define ROUNDS 20000

static void *worker(void *arg)
{
    worker_t *w = arg;
    static const char *const prov[] = {"11", "12", "13", "14"};
    for (int i = 0; i < ROUNDS; i++) {
        /* one "batch": messages = rows + duplicates, updated together */
        hf_metrics_lock(w->r);
        hf_metric_add(w->msgs, NULL, 3);
        hf_metric_add(w->rows, HF_LV(prov[(i + w->id) % 4]), 2);
        hf_metric_add(w->dups, NULL, 1);
        hf_metrics_unlock(w->r);
        hf_metric_observe(w->hist, NULL, (double)(i % 7));
    }
    return NULL;
}

/* Parse "name value" lines of a render and check the sums add up. */
static void check_adds_up(const char *out)
{
    double msgs = -1, dups = -1, rows = 0;
    for (const char *p = out; *p;) {
        const char *nl = strchr(p, '\n');
        double v;
        if (sscanf(p, "msgs_total %lf", &v) == 1)
            msgs = v;
        else if (sscanf(p, "dups_total %lf", &v) == 1)
            dups = v;
        else if (strncmp(p, "rows_total{", 11) == 0)
            rows += strtod(strchr(p, '}') + 1, NULL);
        p = nl ? nl + 1 : p + strlen(p);
    }
    cr_assert_geq(msgs, 0);
    cr_assert_eq(msgs, rows + dups, "render saw msgs=%g rows=%g dups=%g", msgs, rows, dups);
}

Test(metrics, concurrent_updates_add_up)
{
    hf_metrics_t *r = hf_metrics_new();
    static const double bounds[] = {1, 2, 4};
    worker_t w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){r, hf_metrics_counter(r, "msgs_total", "M.", NULL),
                          hf_metrics_counter(r, "rows_total", "R.", "province"),
                          hf_metrics_counter(r, "dups_total", "D.", NULL),
                          hf_metrics_histogram(r, "obs", "O.", NULL, bounds, 3), i};
        pthread_create(&t[i], NULL, worker, &w[i]);
    }
    for (int k = 0; k < 50; k++) { /* renders while the workers update */
        char *out = render(r);
        check_adds_up(out);
        free(out);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(hf_metric_value(w[0].msgs, NULL), 4.0 * 3 * ROUNDS);
    cr_assert_eq(hf_metric_sum(w[0].rows), 4.0 * 2 * ROUNDS);
    cr_assert_eq(hf_metric_value(w[0].hist, NULL), 4.0 * ROUNDS);
    char *out = render(r);
    check_adds_up(out);
    cr_assert(strstr(out, "obs_count 80000\n"));
    free(out);
    hf_metrics_destroy(r);
}
