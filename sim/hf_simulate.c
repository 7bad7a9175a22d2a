/*
 * hf_simulate — the traffic generator behind `hemoflow simulate`: a small
 * discrete-event simulation of the national blood system (facility
 * network, donors, donation chains, unit fates, inventory counts) that
 * renders station records and hands them to a sink. This file owns the
 * run: the job heap, the dispatch of jobs to their steps, the pilot run
 * that sizes the traffic, and the public entry points; the other files of
 * sim/ are listed in hf_sim_int.h.
 *
 * How it runs: a min-heap of jobs ordered by (time, sequence). A job is one
 * step of a donation chain (visit, collection, processing, screening, a
 * unit's next move ...), a day tick that schedules the day's visits and
 * inventory counts, or a deferred record (late report, resend, amendment,
 * retraction). Each step emits the events that happen at it and schedules
 * the next steps; nothing is scheduled past the end of the window. So
 * events leave in (roughly) reported order, every chain is causal, and
 * memory is bounded by what is in flight, not by --count.
 *
 * Randomness: xoshiro256** seeded by splitmix64, one stream per run, used in
 * a fixed order: same conf → same sink calls. No libm, no rand(), no clock.
 * The model's numbers are documented in docs/simulate.md.
 */
#include "hf_simulate.h"

#include <string.h>

#include "hf_mem.h"
#include "hf_sim_int.h"

/* ==== heap ==== */

static bool hf__job_less(const hf__job_t *a, const hf__job_t *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

/* Schedule a job; false (and nothing scheduled) when t is past the window. */
bool hf__push(hf__sim_t *s, int64_t t, uint32_t kind, void *p, uint32_t arg)
{
    if (t >= s->end_us)
        return false;
    if (s->nheap == s->capheap) {
        s->capheap = s->capheap ? s->capheap * 2 : 1024;
        s->heap = hf_realloc(s->heap, s->capheap * sizeof(*s->heap));
    }
    hf__job_t j = {.t = t, .seq = s->seq++, .p = p, .kind = kind, .arg = arg};
    size_t i = s->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!hf__job_less(&j, &s->heap[parent]))
            break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = j;
    return true;
}

static hf__job_t hf__pop(hf__sim_t *s)
{
    hf__job_t top = s->heap[0];
    hf__job_t last = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->nheap)
            break;
        if (c + 1 < s->nheap && hf__job_less(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!hf__job_less(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->nheap)
        s->heap[i] = last;
    return top;
}

/* ==== visits and units: reference counting ==== */

static void hf__visit_unref(hf__visit_t *v)
{
    if (--v->refs > 0)
        return;
    for (int i = 0; i < v->nunits; i++)
        hf_free(v->units[i]);
    hf_free(v);
}

/* Schedule a job holding a reference to v; drops nothing when refused. */
void hf__push_v(hf__sim_t *s, int64_t t, uint32_t kind, hf__visit_t *v, void *p,
                       uint32_t arg)
{
    if (hf__push(s, t, kind, p ? p : v, arg))
        v->refs++;
}

/* ==== the run ==== */

static void hf__dispatch(hf__sim_t *s, const hf__job_t *j)
{
    hf__visit_t *v = NULL;
    switch (j->kind) {
    case HF__J_DAY:
        hf__step_day(s, s->sim_first_day + (int32_t)j->arg);
        return;
    case HF__J_INVENTORY:
        hf__step_inventory(s, j->t, j->arg);
        return;
    case HF__J_DEFERRED:
        hf__run_deferred(s, j->p, j->arg);
        return;
    case HF__J_VISIT:
        v = j->p;
        s->rep->visits += j->t >= s->start_us;
        hf__step_visit(s, j->t, v);
        break;
    case HF__J_COLLECT:
        v = j->p;
        hf__step_collect(s, j->t, v);
        break;
    case HF__J_DONOR_AE:
        v = j->p;
        hf__step_donor_ae(s, j->t, v);
        break;
    case HF__J_PROCESS:
        v = j->p;
        hf__step_process(s, j->t, v);
        break;
    case HF__J_SCREEN1:
        v = j->p;
        hf__step_screen1(s, j->t, v);
        break;
    case HF__J_SCREEN2:
        v = j->p;
        hf__step_screen2(s, j->t, v);
        break;
    default:
        v = ((hf__unit_t *)j->p)->v;
        hf__step_unit(s, j);
        break;
    }
    hf__visit_unref(v);
}

/* Free whatever is still scheduled (a stopped run). */
static void hf__drain(hf__sim_t *s)
{
    while (s->nheap) {
        hf__job_t j = hf__pop(s);
        switch (j.kind) {
        case HF__J_DAY:
        case HF__J_INVENTORY:
            break;
        case HF__J_DEFERRED:
            hf_free(j.p);
            break;
        case HF__J_VISIT:
        case HF__J_COLLECT:
        case HF__J_DONOR_AE:
        case HF__J_PROCESS:
        case HF__J_SCREEN1:
        case HF__J_SCREEN2:
            hf__visit_unref(j.p);
            break;
        default:
            hf__visit_unref(((hf__unit_t *)j.p)->v);
            break;
        }
    }
}

static void hf__sim_init(hf__sim_t *s, const hf_sim_conf_t *conf, const hf_sim_sink_t *sink,
                         hf_sim_report_t *rep, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->conf = conf;
    s->sink = sink;
    s->rep = rep;
    hf__rng_seed(&s->rng, seed);
    for (size_t i = 0; i < HF_SIM_NTYPES; i++)
        (void)hf_catalog_schema(conf->catalog, hf_event_types[i].name, 0, &s->frame_fp[i]);
    hf__net_build(&s->net);
    s->last_day = conf->end_date;
    s->first_day = conf->end_date - conf->days + 1;
    s->sim_first_day = s->first_day - HF__WARMUP_DAYS;
    s->start_us = hf__local_at(s->first_day, 0);
    s->end_us = hf__local_at(conf->end_date + 1, 0);
    if (conf->now_us && conf->now_us - 60 * HF__SEC < s->end_us)
        s->end_us = conf->now_us - 60 * HF__SEC;
    for (int32_t d = s->sim_first_day; d <= s->last_day; d++)
        s->day_weight_sum += hf__day_weight(d);
}

static void hf__sim_loop(hf__sim_t *s)
{
    if (s->start_us < s->end_us)
        hf__push(s, hf__local_at(s->sim_first_day, 0), HF__J_DAY, NULL, 0);
    while (s->nheap && !s->stop) {
        hf__job_t j = hf__pop(s);
        hf__dispatch(s, &j);
    }
    hf__drain(s);
}

static void hf__sim_free(hf__sim_t *s)
{
    hf__net_free(&s->net);
    hf_free(s->donors);
    hf_free(s->heap);
}

void hf_sim_conf_default(hf_sim_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->seed = 1;
    conf->count = 10000;
    conf->days = 7;
    hf_cal_date_parse("2026-01-01", 10, &conf->end_date);
}

hf_err_t hf_sim_parse_types(const char *list, unsigned *mask, char *errstr, size_t errstr_size)
{
    *mask = 0;
    const char *p = list;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[64];
        if (len == 0 || len >= sizeof(name))
            return hf_err_set(HF_ERR_USAGE, errstr, errstr_size, "bad event type list '%s'", list);
        memcpy(name, p, len);
        name[len] = '\0';
        const hf_event_type_t *et = hf_event_type_find(name);
        if (!et)
            return hf_err_set(HF_ERR_USAGE, errstr, errstr_size, "unknown event type '%s'", name);
        *mask |= 1u << (unsigned)(et - hf_event_types);
        p = comma ? comma + 1 : NULL;
    }
    if (!*mask)
        return hf_err_set(HF_ERR_USAGE, errstr, errstr_size, "empty event type list");
    return HF_OK;
}

/* Sink for the pilot run: never called (counting mode emits nothing). */
static hf_err_t hf__null_submit(void *o, const char *t, const hf_field_t *f, size_t n,
                                const hf_submit_opts_t *opts, hf_reject_t *rej)
{
    (void)o, (void)t, (void)f, (void)n, (void)opts, (void)rej;
    return HF_OK;
}

static hf_err_t hf__null_raw(void *o, const char *t, const char *k, const void *p, size_t n)
{
    (void)o, (void)t, (void)k, (void)p, (void)n;
    return HF_OK;
}

/* Sent chain events (selected types, inside the window) per scheduled
 * visit, measured on a small run over the same window and warm-up (so it
 * sees the same truncation at the window's end). */
static double hf__pilot(const hf_sim_conf_t *conf)
{
    hf_sim_report_t rep;
    memset(&rep, 0, sizeof(rep));
    hf_sim_sink_t sink = {NULL, hf__null_submit, hf__null_raw};
    hf__sim_t s;
    hf__sim_init(&s, conf, &sink, &rep, conf->seed ^ UINT64_C(0x70696c6f74));
    s.counting = true;
    /* about 2000 visits inside the window, the rest in the warm-up */
    s.visits_total = 2000.0 * (conf->days + HF__WARMUP_DAYS) / conf->days;
    hf__sim_loop(&s);
    double per = (double)s.pilot_events / s.visits_total;
    hf__sim_free(&s);
    return per;
}

hf_err_t hf_sim_run(const hf_sim_conf_t *conf, const hf_sim_sink_t *sink, hf_sim_report_t *report,
                    char *errstr, size_t errstr_size)
{
    memset(report, 0, sizeof(*report));
    if (hf_event_types_count != HF_SIM_NTYPES || hf__type_index("DonorRegistered") != HF__T_REG ||
        hf__type_index("AdverseEventReported") != HF__T_AE)
        return hf_err_set(HF_ERR_INTERNAL, errstr, errstr_size, "event type table changed");
    if (conf->days < 1 || conf->days > 3660)
        return hf_err_set(HF_ERR_USAGE, errstr, errstr_size, "--days must be 1..3660");
    const double *rates[] = {&conf->dup_rate,     &conf->late_rate,      &conf->amend_rate,
                             &conf->retract_rate, &conf->malformed_rate, &conf->unknown_fp_rate,
                             &conf->bad_din_rate, &conf->old_schema_rate};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
        if (!(*rates[i] >= 0 && *rates[i] <= 1))
            return hf_err_set(HF_ERR_USAGE, errstr, errstr_size, "fault rates must be in 0..1");
    if (conf->amend_rate + conf->retract_rate > 1)
        return hf_err_set(HF_ERR_USAGE, errstr, errstr_size,
                          "--amend-rate + --retract-rate must not exceed 1");
    if (!sink || !sink->submit || !sink->submit_raw)
        return hf_err_set(HF_ERR_USAGE, errstr, errstr_size, "no sink");
    if (!conf->catalog)
        return hf_err_set(HF_ERR_USAGE, errstr, errstr_size, "no schema catalogue (conf.catalog)");
    for (size_t i = 0; i < HF_SIM_NTYPES; i++)
        if (!hf_catalog_schema(conf->catalog, hf_event_types[i].name, 0, NULL))
            return hf_err_set(HF_ERR_USAGE, errstr, errstr_size,
                              "no schema for %s in the catalogue", hf_event_types[i].name);

    hf__sim_t s;
    hf__sim_init(&s, conf, sink, report, conf->seed);
    for (size_t i = 0; i < s.net.n; i++) {
        int k = s.net.f[i].kind;
        report->facilities_blood += k == HF__F_BLOOD;
        report->facilities_plasma += k == HF__F_PLASMA;
        report->facilities_hospital += k == HF__F_HOSPITAL;
    }

    /* Budget: count covers the faults' extra messages too. */
    double extra = 1 + conf->dup_rate + conf->amend_rate + conf->retract_rate +
                   conf->malformed_rate + conf->unknown_fp_rate;
    double creates = (double)conf->count / extra;
    bool inv = conf->types_mask == 0 || (conf->types_mask & (1u << HF__T_INV));
    bool only_inv = conf->types_mask == (1u << HF__T_INV);
    double inv_budget = inv ? (only_inv ? creates : 0.10 * creates) : 0;
    double days_in = (double)(s.end_us - s.start_us) / (double)HF__DAY;
    if (days_in < 0)
        days_in = 0;
    /* reporting facilities: blood stations first, then plasma stations,
     * then hospitals, each group in a seeded order */
    double inv_events = 0;
    for (int kind = HF__F_BLOOD; kind <= HF__F_HOSPITAL && inv_budget > 0; kind++) {
        size_t *idx = hf_calloc(s.net.n, sizeof(size_t));
        size_t n = 0;
        for (size_t i = 0; i < s.net.n; i++)
            if (s.net.f[i].kind == kind)
                idx[n++] = i;
        for (size_t i = n; i > 1; i--) {
            size_t k = (size_t)hf__range(&s.rng, 0, (int64_t)i - 1);
            size_t tmp = idx[i - 1];
            idx[i - 1] = idx[k];
            idx[k] = tmp;
        }
        for (size_t i = 0; i < n; i++) {
            double e = hf__inventory_lines(&s.net.f[idx[i]]) * days_in;
            if (inv_events + e / 2 > inv_budget)
                break;
            s.net.f[idx[i]].reports_inventory = true;
            report->facilities_reporting_inventory++;
            inv_events += e;
        }
        bool full = inv_events + 1 >= inv_budget;
        hf_free(idx);
        if (full)
            break;
    }
    double per_visit = only_inv ? 0 : hf__pilot(conf);
    double visits = per_visit > 0 ? (creates - inv_events) / per_visit : 0;
    if (visits < 0)
        visits = 0;
    if (visits > 5e8)
        visits = 5e8;
    s.visits_total = visits;
    hf__sim_loop(&s);
    hf_err_t err = s.stop;
    report->stopped = err != HF_OK;
    hf__sim_free(&s);
    if (err)
        return hf_err_set(err, errstr, errstr_size, "simulation stopped: %s", hf_err_str(err));
    return HF_OK;
}
