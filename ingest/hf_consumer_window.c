/*
 * hf_consumer_window — what the consumer tells the outside about its
 * progress besides the rows: the commit-window entries it adds to each
 * batch (load/hf_wh_window.h; judged by `hemoflow lag`), and the outcome of
 * the advisory Kafka commit that follows each PostgreSQL commit
 * (hf_consumer_flight.c). PostgreSQL stays the truth: a failed Kafka commit
 * is logged and otherwise ignored. With the operations endpoint, also the
 * Burrow-style status column of the status page, judged over this
 * process's own copy of the windows it records.
 */
#include "hf_consumer_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "hf_lag.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_time.h"
#include "hf_wh_window.h"

/* ==== the status page's status column ==== */

/* This process's own commit windows of the partitions it owns, judged once
 * a second with hf_lag_evaluate for the status page (/status.json
 * "status"). They hold the commits this process made since it got the
 * partition, with the same bound and min-interval rule as
 * hemoflow.hf_commit_window, on this machine's clock; `hemoflow lag` judges
 * the shared window in PostgreSQL. The HTTP thread reads the statuses under
 * mu; everything else is the consumer thread's (which also takes mu to
 * change the table). */
typedef struct hf__lagwin_s {
    char *topic;                /* owned */
    int32_t partition;
    hf_lag_commit_t *win;       /* keep entries, oldest first */
    size_t n;
    const char *status;         /* static; NULL not judged yet */
    bool owned;                 /* seen owned at the last judgement */
} hf__lagwin_t;

typedef struct hf__pending_s {
    char *topic;                /* owned */
    int32_t partition;
    int64_t next, log_end;
} hf__pending_t;

typedef struct hf__pendlist_s {
    hf__pending_t *v;           /* entries of a lane's batch in flight */
    size_t n, cap;
} hf__pendlist_t;

typedef struct hf__lagview_s {
    pthread_mutex_t mu;
    hf__lagwin_t *v;
    size_t n, cap;
    hf__pendlist_t pend[HF__MAX_LANES]; /* per lane */
    size_t keep;                /* lag.window_commits */
    int64_t min_ms;             /* lag.window_min_interval_ms */
    hf_lag_rules_t rules;       /* lag.stop_min_ms */
} hf__lagview_t;

static hf__lagwin_t *hf__lagwin(hf__lagview_t *lv, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < lv->n; i++)
        if (lv->v[i].partition == partition && strcmp(lv->v[i].topic, topic) == 0)
            return &lv->v[i];
    if (lv->n == lv->cap) {
        lv->cap = lv->cap ? lv->cap * 2 : 32;
        lv->v = hf_realloc(lv->v, lv->cap * sizeof(*lv->v));
    }
    hf__lagwin_t *w = &lv->v[lv->n++];
    *w = (hf__lagwin_t){.topic = hf_strdup(topic), .partition = partition,
                        .win = hf_calloc(lv->keep, sizeof(hf_lag_commit_t))};
    return w;
}

static const char *hf__lag_status_cb(void *opaque, const char *topic, int32_t partition)
{
    hf__lagview_t *lv = opaque;
    const char *s = NULL;
    pthread_mutex_lock(&lv->mu);
    for (size_t i = 0; i < lv->n && !s; i++)
        if (lv->v[i].partition == partition && lv->v[i].owned &&
            strcmp(lv->v[i].topic, topic) == 0)
            s = lv->v[i].status;
    pthread_mutex_unlock(&lv->mu);
    return s;
}

void hf__window_init(hf_consumer_t *c)
{
    if (!c->ops)
        return;
    hf__lagview_t *lv = hf_calloc(1, sizeof(*lv));
    pthread_mutex_init(&lv->mu, NULL);
    lv->keep = (size_t)hf_config_int(c->conf.cfg, "lag.window_commits");
    lv->min_ms = hf_config_int(c->conf.cfg, "lag.window_min_interval_ms");
    lv->rules.stop_min_ms = hf_config_int(c->conf.cfg, "lag.stop_min_ms");
    c->lagview = lv;
    hf_consumer_ops_set_lag_status(c->ops, hf__lag_status_cb, lv);
}

static void hf__pending_clear(hf__lagview_t *lv, unsigned lane)
{
    for (size_t i = 0; i < lv->pend[lane].n; i++)
        hf_free(lv->pend[lane].v[i].topic);
    lv->pend[lane].n = 0;
}

void hf__window_free(hf_consumer_t *c)
{
    hf__lagview_t *lv = c->lagview;
    if (!lv)
        return;
    hf_consumer_ops_set_lag_status(c->ops, NULL, NULL); /* no call after this returns */
    for (size_t i = 0; i < lv->n; i++) {
        hf_free(lv->v[i].topic);
        hf_free(lv->v[i].win);
    }
    hf_free(lv->v);
    for (unsigned k = 0; k < HF__MAX_LANES; k++) {
        hf__pending_clear(lv, k);
        hf_free(lv->pend[k].v);
    }
    pthread_mutex_destroy(&lv->mu);
    hf_free(lv);
    c->lagview = NULL;
}

static void hf__pending_add(hf__lagview_t *lv, const hf__part_t *p, int64_t next, int64_t end)
{
    hf__pendlist_t *pl = &lv->pend[p->lane];
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 32;
        pl->v = hf_realloc(pl->v, pl->cap * sizeof(*pl->v));
    }
    pl->v[pl->n++] = (hf__pending_t){hf_strdup(p->topic), p->partition, next, end};
}

void hf__window_committed(hf_consumer_t *c, hf__lane_t *l)
{
    hf__lagview_t *lv = c->lagview;
    if (!lv)
        return;
    int64_t now = hf_time_wall_us() / 1000;
    pthread_mutex_lock(&lv->mu);
    for (size_t i = 0; i < lv->pend[l->idx].n; i++) {
        const hf__pending_t *e = &lv->pend[l->idx].v[i];
        hf__lagwin_t *w = hf__lagwin(lv, e->topic, e->partition);
        hf_lag_commit_t entry = {.at_ms = now, .offset = e->next,
                                 .lag = e->log_end < 0 ? -1
                                        : e->log_end > e->next ? e->log_end - e->next : 0};
        if (w->n && now - w->win[w->n - 1].at_ms < lv->min_ms) {
            entry.at_ms = w->win[w->n - 1].at_ms; /* replaces the newest, keeps its time */
            w->win[w->n - 1] = entry;
            continue;
        }
        if (w->n == lv->keep) {
            memmove(w->win, w->win + 1, (lv->keep - 1) * sizeof(hf_lag_commit_t));
            w->n--;
        }
        w->win[w->n++] = entry;
    }
    pthread_mutex_unlock(&lv->mu);
    hf__pending_clear(lv, l->idx);
}

void hf__window_judge(hf_consumer_t *c, int64_t now_ms)
{
    (void)now_ms;
    hf__lagview_t *lv = c->lagview;
    if (!lv)
        return;
    int64_t wall = hf_time_wall_us() / 1000;
    pthread_mutex_lock(&lv->mu);
    for (size_t i = 0; i < lv->n; i++)
        lv->v[i].owned = false;
    for (size_t i = 0; i < c->nparts; i++) {
        const hf__part_t *p = &c->parts[i];
        hf__lagwin_t *w = hf__lagwin(lv, p->topic, p->partition);
        w->owned = true;
        int64_t lo = -1, hi = -1;
        if (rd_kafka_get_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi) || hi < 0) {
            w->status = NULL; /* nothing to judge by yet */
            continue;
        }
        int64_t from = p->committed >= 0 ? p->committed : lo >= 0 ? lo : 0;
        int64_t first = p->in_flight ? p->flight_first_ts : p->in_batch ? p->batch_first_ts : 0;
        hf_lag_input_t in = {.window = w->win, .n = w->n, .committed = p->committed,
                             .lag = hi > from ? hi - from : 0, .now_ms = wall,
                             .waiting_ms = first > 0 && wall > first ? wall - first : -1};
        w->status = hf_lag_status_name(hf_lag_evaluate(&in, &lv->rules, NULL));
    }
    /* a partition no longer owned forgets its window: it may come back
     * after another instance committed it */
    for (size_t i = 0; i < lv->n;) {
        if (lv->v[i].owned) {
            i++;
            continue;
        }
        hf_free(lv->v[i].topic);
        hf_free(lv->v[i].win);
        lv->v[i] = lv->v[--lv->n];
    }
    pthread_mutex_unlock(&lv->mu);
}

/* The log-end offset of p as librdkafka last heard it (no request is
 * made), -1 when unknown. */
static int64_t hf__log_end(hf_consumer_t *c, const hf__part_t *p)
{
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi) ||
        hi < 0)
        return p->eof && p->pos >= 0 ? p->pos : -1;
    return hi;
}

/* One window entry per partition of lane l in the batch about to be handed
 * to its loader: where its offset will stand once the batch commits (the
 * batch's end for partitions it covers, the stored offset for the others)
 * and the log-end offset then. Partitions with nothing stored yet and not
 * in the batch have no entry; other lanes' partitions get theirs from
 * their own batches. */
void hf__window_note(hf_consumer_t *c, hf__lane_t *l)
{
    char err[256];
    if (c->lagview)
        hf__pending_clear(c->lagview, l->idx); /* a batch that never committed */
    for (size_t i = 0; i < c->nparts; i++) {
        const hf__part_t *p = &c->parts[i];
        if (p->lane != l->idx)
            continue;
        int64_t next = p->in_batch ? p->pos : p->committed;
        if (next < 0)
            continue;
        int64_t end = hf__log_end(c, p);
        if (hf_wh_batch_window_add(l->batch, p->topic, p->partition, next, end, err,
                                   sizeof(err)) != HF_OK)
            hf_log_warn("consume.window", "topic=%s partition=%" PRId32 " err=\"%s\"", p->topic,
                        p->partition, err);
        else if (c->lagview)
            hf__pending_add(c->lagview, p, next, end);
    }
}

/* librdkafka's offset-commit callback (served by rd_kafka_consumer_poll):
 * the advisory commit's outcome. */
void hf__kafka_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    if (err) {
        hf_log_warn("consume.kafka_commit_failed", "partitions=%d err=\"%s\" msg=\"advisory "
                    "only: hf_offsets in PostgreSQL stays the truth\"",
                    offsets ? offsets->cnt : 0, rd_kafka_err2str(err));
        return;
    }
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        if (tp->err)
            hf_log_warn("consume.kafka_commit_failed", "topic=%s partition=%" PRId32
                        " offset=%" PRId64 " err=\"%s\"", tp->topic, tp->partition, tp->offset,
                        rd_kafka_err2str(tp->err));
    }
    hf_log_debug("consume.kafka_committed", "partitions=%d", offsets ? offsets->cnt : 0);
}
