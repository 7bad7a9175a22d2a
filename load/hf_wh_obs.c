/*
 * hf_wh_obs — what a committed batch tells the metrics (hf_wh_stats_t's
 * lower half): rows inserted per event type and province and the newest
 * event time per province (from the completeness of the attempt that
 * committed), quarantine records by event type and reason, and the latency
 * from each inserted row's event time to the COMMIT. Rows the fast COPY
 * inserted are observed with their own event time; rows the slow path
 * (staging + ON CONFLICT) inserted with the newest event time of their
 * (province, date) group, which that path reports instead of each row's.
 */
#include <stdio.h>
#include <string.h>

#include "hf_event_types.h"
#include "hf_mem.h"
#include "hf_time.h"
#include "hf_wh_batch_int.h"

const double hf_wh_latency_bounds[] = {1,     2,     5,     10,     30,     60,     120,
                                       300,   600,   1800,  3600,   7200,   21600,  43200,
                                       86400, 172800, 604800, 2592000, 7776000};
const size_t hf_wh_latency_nbounds = sizeof(hf_wh_latency_bounds) / sizeof(double);

void hf__obs_slow(hf_wh_batch_t *b, size_t ti, int64_t events, int64_t max_us)
{
    if (b->nslowlat == b->slowlat_cap) {
        b->slowlat_cap = b->slowlat_cap ? b->slowlat_cap * 2 : 16;
        b->slowlat = hf_realloc(b->slowlat, b->slowlat_cap * sizeof(*b->slowlat));
    }
    b->slowlat[b->nslowlat++] = (hf__slowlat_t){ti, events, max_us};
}

static void hf__lat(hf_hist_acc_t *a, int64_t now_us, int64_t occurred_us, uint64_t n)
{
    double s = (double)(now_us - occurred_us) / 1e6;
    if (s < 0)
        s = 0; /* an event from a station clock slightly ahead */
    size_t i = 0;
    while (i < hf_wh_latency_nbounds && s > hf_wh_latency_bounds[i])
        i++;
    a->bucket[i] += n;
    a->count += n;
    a->sum += s * (double)n;
}

static void hf__tally(hf_wh_stats_t *st, const char *event_type, const char *reason)
{
    const hf_event_type_t *et = event_type ? hf_event_type_find(event_type) : NULL;
    int ei = et ? (int)(et - hf_event_types) : -1;
    char r[sizeof(st->qtally[0].reason)];
    snprintf(r, sizeof(r), "%s", reason ? reason : "unknown");
    for (size_t i = 0; i < st->nqtally; i++) {
        if (st->qtally[i].event_type == ei && strcmp(st->qtally[i].reason, r) == 0) {
            st->qtally[i].n++;
            return;
        }
    }
    if (st->nqtally == HF_WH_MAX_QTALLY - 1) { /* the last slot collects the rest */
        hf_wh_qtally_t *o = &st->qtally[HF_WH_MAX_QTALLY - 1];
        if (!o->n) {
            o->event_type = -1;
            snprintf(o->reason, sizeof(o->reason), "other");
        }
        o->n++;
        return;
    }
    hf_wh_qtally_t *t = &st->qtally[st->nqtally++];
    t->event_type = ei;
    snprintf(t->reason, sizeof(t->reason), "%s", r);
    t->n = 1;
}

void hf__obs_committed(hf_wh_batch_t *b)
{
    hf_wh_stats_t *st = &b->st;
    int64_t now = hf_time_wall_us();
    memset(st->inserted_by_province, 0, sizeof(st->inserted_by_province));
    memset(st->newest_event_us, 0, sizeof(st->newest_event_us));
    memset(&st->latency, 0, sizeof(st->latency));
    memset(st->qtally, 0, sizeof(st->qtally));
    st->nqtally = 0;
    for (size_t i = 0; i < b->ncompl; i++) {
        const hf__compl_t *c = &b->compl[i];
        int pi = hf_province_index(c->province);
        if (pi < 0 || c->table >= HF_WH_MAX_TABLES)
            continue;
        st->inserted_by_province[c->table][pi] += (uint32_t)c->events;
        if (c->max_us > st->newest_event_us[pi])
            st->newest_event_us[pi] = c->max_us;
    }
    for (size_t ti = 0; ti < b->wh->ntables; ti++)
        for (size_t i = 0; i < b->t[ti].n; i++)
            if (b->t[ti].rows[i].state == HF__ROW_INSERTED)
                hf__lat(&st->latency, now, b->t[ti].rows[i].occurred_us, 1);
    for (size_t i = 0; i < b->nslowlat; i++)
        hf__lat(&st->latency, now, b->slowlat[i].max_us, (uint64_t)b->slowlat[i].events);
    for (size_t i = 0; i < b->added.n; i++)
        hf__tally(st, b->added.v[i].event_type, b->added.v[i].reason);
    for (size_t i = 0; i < b->rejected.n; i++)
        hf__tally(st, b->rejected.v[i].event_type, b->rejected.v[i].reason);
}
