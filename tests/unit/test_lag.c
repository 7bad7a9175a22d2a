/*
 * Unit tests for hf_lag: the Burrow-style evaluator on hand-made commit
 * windows (every status and each rule's edge), with the clock injected, and
 * the report's arithmetic (lag, lag in seconds, the group's worst status,
 * totals) on hand-made partitions. No PostgreSQL, no Kafka.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hf_lag.h"

/* A window of n commits: the i-th at t0 + i*step_ms with offset off[i] and
 * lag lag[i]. */
#define T0 INT64_C(1764547200000) /* 2025-12-01T00:00:00Z */

static void mk(hf_lag_commit_t *w, size_t n, int64_t step_ms, const int64_t *off,
               const int64_t *lag)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (hf_lag_commit_t){.at_ms = T0 + (int64_t)i * step_ms, .offset = off[i],
                                 .lag = lag[i]};
}

static const hf_lag_rules_t rules = {.stop_min_ms = 10000};

/* now: just after the newest commit (a running consumer) */
#define NOW_RUNNING(n, step) (T0 + (int64_t)((n) - 1) * (step) + 500)

/* Judge with the oldest waiting message's age unknown (-1) or given. */
static hf_lag_status_t evalw(const hf_lag_commit_t *w, size_t n, int64_t committed, int64_t lag,
                             int64_t now, int64_t waiting_ms, const char **why)
{
    hf_lag_input_t in = {.window = w, .n = n, .committed = committed, .lag = lag,
                         .waiting_ms = waiting_ms, .now_ms = now};
    return hf_lag_evaluate(&in, &rules, why);
}

static hf_lag_status_t eval(const hf_lag_commit_t *w, size_t n, int64_t committed, int64_t lag,
                            int64_t now, const char **why)
{
    return evalw(w, n, committed, lag, now, -1, why);
}

Test(lag_eval, names_and_order)
{
    cr_assert_str_eq(hf_lag_status_name(HF_LAG_OK), "OK");
    cr_assert_str_eq(hf_lag_status_name(HF_LAG_WARN), "WARN");
    cr_assert_str_eq(hf_lag_status_name(HF_LAG_STALL), "STALL");
    cr_assert_str_eq(hf_lag_status_name(HF_LAG_STOP), "STOP");
    cr_assert_str_eq(hf_lag_status_name(HF_LAG_REWIND), "REWIND");
    for (int s = 0; s < HF_LAG_NSTATUS; s++) {
        hf_lag_status_t back;
        cr_assert(hf_lag_status_parse(hf_lag_status_name((hf_lag_status_t)s), &back));
        cr_assert_eq(back, (hf_lag_status_t)s);
    }
    hf_lag_status_t x;
    cr_assert_not(hf_lag_status_parse("ERR", &x));
    cr_assert_eq(hf_lag_worst(HF_LAG_OK, HF_LAG_WARN), HF_LAG_WARN);
    cr_assert_eq(hf_lag_worst(HF_LAG_STOP, HF_LAG_STALL), HF_LAG_STOP);
    cr_assert_eq(hf_lag_worst(HF_LAG_REWIND, HF_LAG_STOP), HF_LAG_REWIND);
}

Test(lag_eval, ok_caught_up_whatever_the_window)
{
    /* current lag 0 wins over everything, even a rewind or a long silence */
    hf_lag_commit_t w[3];
    mk(w, 3, 1000, (int64_t[]){300, 100, 100}, (int64_t[]){5, 7, 9});
    const char *why;
    cr_assert_eq(eval(w, 3, 100, 0, T0 + 86400000, &why), HF_LAG_OK);
    cr_assert_str_eq(why, "caught up");
}

Test(lag_eval, ok_empty_window)
{
    const char *why;
    cr_assert_eq(eval(NULL, 0, -1, 1000, T0, &why), HF_LAG_OK);
    cr_assert_str_eq(why, "no commit recorded yet");
}

Test(lag_eval, ok_consuming)
{
    /* offsets advance, the lag goes down: a healthy drain */
    hf_lag_commit_t w[5];
    mk(w, 5, 1000, (int64_t[]){100, 200, 300, 400, 500}, (int64_t[]){900, 850, 800, 700, 600});
    const char *why;
    cr_assert_eq(eval(w, 5, 500, 600, NOW_RUNNING(5, 1000), &why), HF_LAG_OK);
    cr_assert_str_eq(why, "consuming");
    /* one decrease anywhere is enough */
    mk(w, 5, 1000, (int64_t[]){100, 200, 300, 400, 500}, (int64_t[]){600, 700, 650, 800, 900});
    cr_assert_eq(eval(w, 5, 500, 900, NOW_RUNNING(5, 1000), NULL), HF_LAG_OK);
}

Test(lag_eval, ok_caught_up_within_the_window)
{
    /* lag 0 at one commit: a burst since then is not a fault */
    hf_lag_commit_t w[4];
    mk(w, 4, 1000, (int64_t[]){100, 200, 300, 400}, (int64_t[]){0, 50, 80, 120});
    const char *why;
    cr_assert_eq(eval(w, 4, 400, 120, NOW_RUNNING(4, 1000), &why), HF_LAG_OK);
    cr_assert_str_eq(why, "caught up within the window");
    /* an idle consumer (caught up, no commit for an hour) and a burst that
     * arrived 200 ms ago: it has not had the chance to commit yet */
    mk(w, 4, 1000, (int64_t[]){100, 200, 300, 400}, (int64_t[]){20, 10, 0, 0});
    cr_assert_eq(evalw(w, 4, 400, 5000, T0 + 3600000, 200, &why), HF_LAG_OK);
    cr_assert_str_eq(why, "caught up within the window");
    /* ... but one that died after catching up: the burst has waited 10 s (the
     * floor), or its age is unknown. Burrow would say OK forever here. */
    cr_assert_eq(evalw(w, 4, 400, 5000, T0 + 3600000, 10000, &why), HF_LAG_STOP);
    cr_assert_eq(evalw(w, 4, 400, 5000, T0 + 3600000, -1, &why), HF_LAG_STOP);
    cr_assert_eq(evalw(w, 4, 400, 5000, T0 + 3600000, 9999, &why), HF_LAG_OK);
}

Test(lag_eval, warn_lag_never_goes_down)
{
    hf_lag_commit_t w[5];
    mk(w, 5, 1000, (int64_t[]){100, 200, 300, 400, 500}, (int64_t[]){100, 150, 150, 200, 260});
    const char *why;
    cr_assert_eq(eval(w, 5, 500, 300, NOW_RUNNING(5, 1000), &why), HF_LAG_WARN);
    cr_assert_str_eq(why, "the lag did not go down over the window");
    /* entries of unknown lag are skipped, not counted as a decrease */
    mk(w, 5, 1000, (int64_t[]){100, 200, 300, 400, 500}, (int64_t[]){100, -1, 150, -1, 200});
    cr_assert_eq(eval(w, 5, 500, 300, NOW_RUNNING(5, 1000), NULL), HF_LAG_WARN);
    /* fewer than two known lags: nothing to judge */
    mk(w, 5, 1000, (int64_t[]){100, 200, 300, 400, 500}, (int64_t[]){-1, -1, 150, -1, -1});
    cr_assert_eq(eval(w, 5, 500, 300, NOW_RUNNING(5, 1000), &why), HF_LAG_OK);
    cr_assert_str_eq(why, "consuming");
}

Test(lag_eval, stall_commits_without_moving)
{
    hf_lag_commit_t w[4];
    mk(w, 4, 1000, (int64_t[]){700, 700, 700, 700}, (int64_t[]){10, 20, 30, 40});
    const char *why;
    cr_assert_eq(eval(w, 4, 700, 45, NOW_RUNNING(4, 1000), &why), HF_LAG_STALL);
    cr_assert_str_eq(why, "commits do not move the offset");
    /* even with a falling lag (messages expired?) the offset does not move */
    mk(w, 4, 1000, (int64_t[]){700, 700, 700, 700}, (int64_t[]){40, 30, 20, 10});
    cr_assert_eq(eval(w, 4, 700, 10, NOW_RUNNING(4, 1000), NULL), HF_LAG_STALL);
}

Test(lag_eval, stop_no_commit_for_longer_than_the_window_spans)
{
    /* window spans 4 s (t0 .. t0+4s); the clock decides */
    hf_lag_commit_t w[5];
    mk(w, 5, 1000, (int64_t[]){100, 200, 300, 400, 500}, (int64_t[]){900, 850, 800, 700, 600});
    int64_t last = T0 + 4000;
    const char *why;
    /* 4 s of silence is not longer than the span, and under the 10 s floor */
    cr_assert_eq(eval(w, 5, 500, 600, last + 4000, NULL), HF_LAG_OK);
    /* longer than the span but under the floor */
    cr_assert_eq(eval(w, 5, 500, 600, last + 9999, NULL), HF_LAG_OK);
    /* both */
    cr_assert_eq(eval(w, 5, 500, 600, last + 10000, &why), HF_LAG_STOP);
    cr_assert_str_eq(why, "no commit for longer than the window spans");
    /* a window spanning a minute needs a minute of silence */
    mk(w, 5, 15000, (int64_t[]){100, 200, 300, 400, 500}, (int64_t[]){900, 850, 800, 700, 600});
    last = T0 + 60000;
    cr_assert_eq(eval(w, 5, 500, 600, last + 59000, NULL), HF_LAG_OK);
    cr_assert_eq(eval(w, 5, 500, 600, last + 61000, NULL), HF_LAG_STOP);
    /* STOP before STALL: a stalled consumer that also stopped committing */
    mk(w, 3, 1000, (int64_t[]){700, 700, 700}, (int64_t[]){10, 20, 30});
    cr_assert_eq(eval(w, 3, 700, 30, T0 + 2000 + 20000, NULL), HF_LAG_STOP);
    /* a floor of 0 is Burrow's own rule */
    hf_lag_rules_t burrow = {.stop_min_ms = 0};
    mk(w, 5, 1000, (int64_t[]){100, 200, 300, 400, 500}, (int64_t[]){900, 850, 800, 700, 600});
    hf_lag_input_t in = {.window = w, .n = 5, .committed = 500, .lag = 600, .waiting_ms = -1,
                         .now_ms = T0 + 4000 + 4001};
    cr_assert_eq(hf_lag_evaluate(&in, &burrow, NULL), HF_LAG_STOP);
    in.now_ms = T0 + 4000 + 4000;
    cr_assert_eq(hf_lag_evaluate(&in, &burrow, NULL), HF_LAG_OK);
    /* the oldest waiting message must have waited the floor too */
    in.now_ms = T0 + 4000 + 60000;
    cr_assert_eq(evalw(w, 5, 500, 600, in.now_ms, 60000, NULL), HF_LAG_STOP);
    cr_assert_eq(evalw(w, 5, 500, 600, in.now_ms, 3000, NULL), HF_LAG_OK);
}

Test(lag_eval, single_commit)
{
    /* one commit with lag: too few to judge, until it is old enough to be a stop */
    hf_lag_commit_t w[1];
    mk(w, 1, 0, (int64_t[]){100}, (int64_t[]){50});
    const char *why;
    cr_assert_eq(eval(w, 1, 100, 50, T0 + 500, &why), HF_LAG_OK);
    cr_assert_str_eq(why, "too few commits to judge");
    cr_assert_eq(eval(w, 1, 100, 50, T0 + 10000, NULL), HF_LAG_STOP);
}

Test(lag_eval, rewind_between_commits)
{
    hf_lag_commit_t w[4];
    mk(w, 4, 1000, (int64_t[]){100, 200, 50, 150}, (int64_t[]){900, 800, 950, 850});
    const char *why;
    cr_assert_eq(eval(w, 4, 150, 850, NOW_RUNNING(4, 1000), &why), HF_LAG_REWIND);
    cr_assert_str_eq(why, "a commit moved the offset backwards");
    /* REWIND is checked before "caught up within the window" (unlike Burrow) */
    mk(w, 4, 1000, (int64_t[]){100, 200, 50, 150}, (int64_t[]){0, 0, 950, 850});
    cr_assert_eq(eval(w, 4, 150, 850, NOW_RUNNING(4, 1000), NULL), HF_LAG_REWIND);
    /* and before STOP */
    cr_assert_eq(eval(w, 4, 150, 850, T0 + 86400000, NULL), HF_LAG_REWIND);
}

Test(lag_eval, rewind_of_the_stored_offset)
{
    /* hf_offsets reset below the newest commit, no commit since */
    hf_lag_commit_t w[3];
    mk(w, 3, 1000, (int64_t[]){100, 200, 300}, (int64_t[]){0, 0, 0});
    const char *why;
    cr_assert_eq(eval(w, 3, 10, 290, NOW_RUNNING(3, 1000), &why), HF_LAG_REWIND);
    cr_assert_str_eq(why, "the stored offset is behind the newest commit (reset)");
    /* -1 (nothing stored) is not compared */
    cr_assert_eq(eval(w, 3, -1, 290, NOW_RUNNING(3, 1000), NULL), HF_LAG_OK);
    /* equal or ahead is fine */
    cr_assert_eq(eval(w, 3, 300, 10, NOW_RUNNING(3, 1000), NULL), HF_LAG_OK);
}

/* ==== the report ==== */

static hf_lag_part_t *part(hf_lag_report_t *r, const char *topic, int32_t p, int64_t committed,
                           int64_t lo, int64_t hi, int64_t first_ts)
{
    hf_lag_part_t *x = hf_lag_report_part(r, topic, p);
    x->committed = committed;
    x->log_start = lo;
    x->log_end = hi;
    x->first_ts_ms = first_ts;
    x->in_kafka = hi >= 0;
    return x;
}

static void window(hf_lag_part_t *p, size_t n, int64_t step_ms, const int64_t *off,
                   const int64_t *lag)
{
    p->window = malloc(n * sizeof(hf_lag_commit_t));
    p->nwindow = n;
    mk(p->window, n, step_ms, off, lag);
}

Test(lag_report, lag_seconds_status_and_totals)
{
    hf_lag_report_t r = {0};
    r.now_ms = T0 + 5000;      /* the window's clock */
    r.wall_ms = T0 + 100000;   /* the wall clock */
    /* b/1: caught up */
    hf_lag_part_t *p = part(&r, "t.b", 1, 500, 0, 500, -1);
    window(p, 2, 1000, (int64_t[]){400, 500}, (int64_t[]){100, 0});
    /* a/0: behind by 100 messages, oldest unconsumed written 40 s ago, lag growing */
    p = part(&r, "t.a", 0, 300, 0, 400, T0 + 60000);
    window(p, 3, 1000, (int64_t[]){100, 200, 300}, (int64_t[]){50, 70, 100});
    /* a/1: nothing stored: starts at the log start (20), lag 80; no window */
    part(&r, "t.a", 1, -1, 20, 100, T0 + 99000);
    /* c/0: in hf_offsets but not in the cluster */
    part(&r, "t.c", 0, 7, -1, -1, -1);
    hf_lag_rules_t rules0 = {.stop_min_ms = 10000};
    hf_lag_report_evaluate(&r, &rules0);
    cr_assert_eq(r.n, 4);
    /* sorted by topic, partition */
    cr_assert_str_eq(r.parts[0].topic, "t.a");
    cr_assert_eq(r.parts[0].partition, 0);
    cr_assert_eq(r.parts[1].partition, 1);
    cr_assert_str_eq(r.parts[2].topic, "t.b");
    cr_assert_str_eq(r.parts[3].topic, "t.c");

    cr_assert_eq(r.parts[0].lag, 100);
    cr_assert_float_eq(r.parts[0].lag_seconds, 40.0, 1e-9);
    cr_assert_eq(r.parts[0].status, HF_LAG_WARN);
    cr_assert_eq(r.parts[1].lag, 80);
    cr_assert_eq(hf_lag_part_from(&r.parts[1]), 20);
    cr_assert_float_eq(r.parts[1].lag_seconds, 1.0, 1e-9);
    cr_assert_eq(r.parts[1].status, HF_LAG_OK);
    cr_assert_eq(r.parts[2].lag, 0);
    cr_assert_float_eq(r.parts[2].lag_seconds, 0.0, 1e-9);
    cr_assert_eq(r.parts[2].status, HF_LAG_OK);
    cr_assert_eq(r.parts[3].lag, -1);
    cr_assert_float_eq(r.parts[3].lag_seconds, -1.0, 1e-9);
    cr_assert_str_eq(r.parts[3].reason, "partition not in Kafka");

    cr_assert_eq(r.total_lag, 180);
    cr_assert_float_eq(r.max_lag_seconds, 40.0, 1e-9);
    cr_assert_eq(r.status, HF_LAG_WARN);
    cr_assert_eq(r.count[HF_LAG_OK], 3);
    cr_assert_eq(r.count[HF_LAG_WARN], 1);

    /* the same partitions judged later: a/0 has stopped */
    r.now_ms = T0 + 2000 + 10000;
    hf_lag_report_evaluate(&r, &rules0);
    cr_assert_eq(r.parts[0].status, HF_LAG_STOP);
    cr_assert_eq(r.status, HF_LAG_STOP);
    hf_lag_report_free(&r);
}

Test(lag_report, rewind_to_the_beginning_and_unknown_timestamps)
{
    hf_lag_report_t r = {0};
    r.now_ms = T0 + 3000;
    r.wall_ms = T0 + 3000;
    /* the hf_offsets row was deleted: the next owner starts at the log start (0) */
    hf_lag_part_t *p = part(&r, "t.a", 0, -1, 0, 300, -1);
    window(p, 3, 1000, (int64_t[]){100, 200, 300}, (int64_t[]){0, 0, 0});
    /* the first unconsumed message could not be read: lag in seconds unknown */
    part(&r, "t.b", 0, 10, 0, 20, -1);
    /* a message with a timestamp in the future (producer clock ahead): 0 s, never negative */
    part(&r, "t.c", 0, 10, 0, 20, T0 + 60000);
    hf_lag_report_evaluate(&r, &rules);
    cr_assert_eq(r.parts[0].lag, 300);
    cr_assert_eq(r.parts[0].status, HF_LAG_REWIND);
    cr_assert_float_eq(r.parts[1].lag_seconds, -1.0, 1e-9);
    cr_assert_float_eq(r.parts[2].lag_seconds, 0.0, 1e-9);
    cr_assert_eq(r.status, HF_LAG_REWIND);
    cr_assert_eq(r.total_lag, 320);
    /* clear keeps the array for the next round (--watch) */
    hf_lag_report_clear(&r);
    cr_assert_eq(r.n, 0);
    hf_lag_report_free(&r);
    cr_assert_null(r.parts);
}

Test(lag_report, part_is_found_not_duplicated)
{
    hf_lag_report_t r = {0};
    for (int i = 0; i < 100; i++)
        hf_lag_report_part(&r, i % 2 ? "x" : "y", i % 10);
    cr_assert_eq(r.n, 10);
    hf_lag_part_t *p = hf_lag_report_part(&r, "x", 3);
    cr_assert_eq(p->committed, -1);
    cr_assert_eq(p->log_end, -1);
    cr_assert_eq(p->nwindow, 0);
    hf_lag_report_free(&r);
}
