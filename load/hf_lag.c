/*
 * hf_lag — the Burrow-style evaluator and the lag report (hf_lag.h): the
 * rules, reading hf_offsets and the commit window from PostgreSQL, and
 * putting a partition's numbers together.
 */
#include "hf_lag.h"

#include <stdlib.h>
#include <string.h>

#include "hf_mem.h"
#include "hf_pg.h"

/* ==== statuses ==== */

static const char *const hf__names[HF_LAG_NSTATUS] = {"OK", "WARN", "STALL", "STOP", "REWIND"};

const char *hf_lag_status_name(hf_lag_status_t s)
{
    return (unsigned)s < HF_LAG_NSTATUS ? hf__names[s] : "?";
}

bool hf_lag_status_parse(const char *name, hf_lag_status_t *out)
{
    for (int i = 0; i < HF_LAG_NSTATUS; i++) {
        if (strcmp(name, hf__names[i]) == 0) {
            *out = (hf_lag_status_t)i;
            return true;
        }
    }
    return false;
}

hf_lag_status_t hf_lag_worst(hf_lag_status_t a, hf_lag_status_t b)
{
    return a > b ? a : b;
}

/* ==== the evaluator ==== */

static hf_lag_status_t hf__verdict(hf_lag_status_t s, const char *why, const char **reason)
{
    if (reason)
        *reason = why;
    return s;
}

hf_lag_status_t hf_lag_evaluate(const hf_lag_input_t *in, const hf_lag_rules_t *rules,
                                const char **reason)
{
    const hf_lag_commit_t *w = in->window;
    size_t n = in->n;
    /* 1, 2 */
    if (in->lag <= 0)
        return hf__verdict(HF_LAG_OK, "caught up", reason);
    if (n == 0)
        return hf__verdict(HF_LAG_OK, "no commit recorded yet", reason);
    /* 3: the offset went backwards, between two commits or since the last */
    for (size_t i = 1; i < n; i++)
        if (w[i].offset < w[i - 1].offset)
            return hf__verdict(HF_LAG_REWIND, "a commit moved the offset backwards", reason);
    if (in->committed >= 0 && in->committed < w[n - 1].offset)
        return hf__verdict(HF_LAG_REWIND, "the stored offset is behind the newest commit (reset)",
                           reason);
    /* 4: silent for longer than the window spans, while a message waits */
    int64_t span = w[n - 1].at_ms - w[0].at_ms, idle = in->now_ms - w[n - 1].at_ms;
    int64_t floor_ms = rules ? rules->stop_min_ms : 0;
    if (idle > span && idle >= floor_ms && (in->waiting_ms < 0 || in->waiting_ms >= floor_ms))
        return hf__verdict(HF_LAG_STOP, "no commit for longer than the window spans", reason);
    /* 5: caught up at some point of the window */
    for (size_t i = 0; i < n; i++)
        if (w[i].lag == 0)
            return hf__verdict(HF_LAG_OK, "caught up within the window", reason);
    /* 6 */
    if (n < 2)
        return hf__verdict(HF_LAG_OK, "too few commits to judge", reason);
    /* 7: committing without moving */
    bool moved = false;
    for (size_t i = 1; i < n && !moved; i++)
        moved = w[i].offset != w[i - 1].offset;
    if (!moved)
        return hf__verdict(HF_LAG_STALL, "commits do not move the offset", reason);
    /* 8: the lag never went down */
    size_t known = 0;
    int64_t prev = -1;
    bool decreased = false;
    for (size_t i = 0; i < n; i++) {
        if (w[i].lag < 0)
            continue;
        if (known++ && w[i].lag < prev)
            decreased = true;
        prev = w[i].lag;
    }
    if (known >= 2 && !decreased)
        return hf__verdict(HF_LAG_WARN, "the lag did not go down over the window", reason);
    return hf__verdict(HF_LAG_OK, "consuming", reason);
}

/* ==== the report ==== */

hf_lag_part_t *hf_lag_report_part(hf_lag_report_t *r, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->parts[i].partition == partition && strcmp(r->parts[i].topic, topic) == 0)
            return &r->parts[i];
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 32;
        r->parts = hf_realloc(r->parts, r->cap * sizeof(*r->parts));
    }
    hf_lag_part_t *p = &r->parts[r->n++];
    *p = (hf_lag_part_t){.topic = hf_strdup(topic), .partition = partition, .committed = -1,
                         .log_start = -1, .log_end = -1, .first_offset = -1, .first_ts_ms = -1,
                         .lag = -1, .lag_seconds = -1, .reason = ""};
    return p;
}

int64_t hf_lag_part_from(const hf_lag_part_t *p)
{
    if (p->committed >= 0)
        return p->committed;
    return p->log_start >= 0 ? p->log_start : 0;
}

static void hf__window_reset(hf_lag_part_t *p)
{
    hf_free(p->window);
    p->window = NULL;
    p->nwindow = 0;
}

hf_err_t hf_lag_report_read_pg(hf_lag_report_t *r, PGconn *conn, const char *topic_prefix,
                               char *errstr, size_t errstr_size)
{
    PGresult *q = PQexec(conn, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,"
                               " to_regclass('hemoflow.hf_commit_window') IS NOT NULL");
    if (PQresultStatus(q) != PGRES_TUPLES_OK) {
        hf_err_t e = hf__pg_fail(conn, q, "read the server clock", NULL, errstr, errstr_size);
        PQclear(q);
        return e;
    }
    r->now_ms = strtoll(PQgetvalue(q, 0, 0), NULL, 10);
    bool has_window = PQgetvalue(q, 0, 1)[0] == 't';
    PQclear(q);
    if (!has_window)
        return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                          "the warehouse has no hemoflow.hf_commit_window (migration 0002): "
                          "run 'hemoflow migrate'");
    const char *params[1] = {topic_prefix};
    /* Every stored offset, and the window of every partition (also of one
     * whose hf_offsets row was deleted: a reset to the beginning). */
    q = PQexecParams(
        conn,
        "SELECT coalesce(o.topic, w.topic), coalesce(o.kafka_partition, w.kafka_partition),"
        " o.next_offset, (extract(epoch FROM w.committed_at) * 1000)::bigint, w.next_offset,"
        " w.log_end_offset"
        " FROM hemoflow.hf_offsets o"
        " FULL JOIN hemoflow.hf_commit_window w"
        "  ON w.topic = o.topic AND w.kafka_partition = o.kafka_partition"
        " WHERE starts_with(coalesce(o.topic, w.topic), $1)"
        " ORDER BY 1, 2, w.seq",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(q) != PGRES_TUPLES_OK) {
        hf_err_t e = hf__pg_fail(conn, q, "read hemoflow.hf_offsets and hf_commit_window", NULL,
                                 errstr, errstr_size);
        PQclear(q);
        return e == HF_ERR_PG_DATA ? HF_ERR_PG : e;
    }
    hf_lag_part_t *p = NULL;
    for (int i = 0; i < PQntuples(q); i++) {
        const char *topic = PQgetvalue(q, i, 0);
        int32_t part = (int32_t)strtol(PQgetvalue(q, i, 1), NULL, 10);
        if (!p || p->partition != part || strcmp(p->topic, topic) != 0) {
            p = hf_lag_report_part(r, topic, part);
            hf__window_reset(p);
            p->committed = PQgetisnull(q, i, 2) ? -1 : strtoll(PQgetvalue(q, i, 2), NULL, 10);
        }
        if (PQgetisnull(q, i, 3))
            continue; /* no window yet */
        p->window = hf_realloc(p->window, (p->nwindow + 1) * sizeof(hf_lag_commit_t));
        hf_lag_commit_t *c = &p->window[p->nwindow++];
        c->at_ms = strtoll(PQgetvalue(q, i, 3), NULL, 10);
        c->offset = strtoll(PQgetvalue(q, i, 4), NULL, 10);
        if (PQgetisnull(q, i, 5)) {
            c->lag = -1;
        } else {
            int64_t end = strtoll(PQgetvalue(q, i, 5), NULL, 10);
            c->lag = end > c->offset ? end - c->offset : 0;
        }
    }
    PQclear(q);
    return HF_OK;
}

static int hf__part_cmp(const void *a, const void *b)
{
    const hf_lag_part_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

void hf_lag_report_evaluate(hf_lag_report_t *r, const hf_lag_rules_t *rules)
{
    if (r->n > 1)
        qsort(r->parts, r->n, sizeof(*r->parts), hf__part_cmp);
    r->status = HF_LAG_OK;
    r->total_lag = 0;
    r->max_lag_seconds = 0;
    memset(r->count, 0, sizeof(r->count));
    for (size_t i = 0; i < r->n; i++) {
        hf_lag_part_t *p = &r->parts[i];
        int64_t from = hf_lag_part_from(p);
        if (p->log_end < 0) {
            /* Not in the cluster (topic deleted?) or unreachable: no lag to judge. */
            p->lag = -1;
            p->lag_seconds = -1;
            p->status = HF_LAG_OK;
            p->reason = p->in_kafka ? "log-end offset unknown" : "partition not in Kafka";
        } else {
            p->lag = p->log_end > from ? p->log_end - from : 0;
            if (p->lag == 0)
                p->lag_seconds = 0;
            else if (p->first_ts_ms >= 0)
                p->lag_seconds = r->wall_ms > p->first_ts_ms
                                     ? (double)(r->wall_ms - p->first_ts_ms) / 1000.0
                                     : 0.0;
            else
                p->lag_seconds = -1;
            /* A deleted hf_offsets row restarts from the log start: a rewind too. */
            hf_lag_input_t in = {.window = p->window, .n = p->nwindow, .committed = from,
                                 .lag = p->lag, .now_ms = r->now_ms,
                                 .waiting_ms = p->lag > 0 && p->first_ts_ms >= 0
                                                   ? r->wall_ms - p->first_ts_ms
                                                   : -1};
            if (in.waiting_ms < -1)
                in.waiting_ms = 0; /* a producer clock ahead of ours */
            p->status = hf_lag_evaluate(&in, rules, &p->reason);
            r->total_lag += p->lag;
            if (p->lag_seconds > r->max_lag_seconds)
                r->max_lag_seconds = p->lag_seconds;
        }
        r->count[p->status]++;
        r->status = hf_lag_worst(r->status, p->status);
    }
}

void hf_lag_report_clear(hf_lag_report_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        hf_free(r->parts[i].topic);
        hf_free(r->parts[i].window);
    }
    r->n = 0;
}

void hf_lag_report_free(hf_lag_report_t *r)
{
    hf_lag_report_clear(r);
    hf_free(r->parts);
    r->parts = NULL;
    r->cap = 0;
}
