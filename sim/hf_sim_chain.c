/*
 * hf_sim_chain — one donation's chain of steps, each emitting its events
 * and scheduling the next: the visit (registration, assessment), the
 * collection, donor reactions, processing into components, screening with
 * its retests, and the release that gives each unit its fate (hf_sim_unit.c).
 */
#include <stdio.h>
#include <string.h>

#include "hf_mem.h"
#include "hf_sim_int.h"

/* ==== chain steps ==== */

static const char *hf__deferral_reasons[] = {
    "low_hb",        "high_blood_pressure", "recent_cold",   "medication",
    "recent_travel", "low_weight",          "recent_tattoo", "alcohol"};
static const double hf__deferral_w[] = {0.35, 0.15, 0.15, 0.10, 0.05, 0.05, 0.05, 0.10};
static const int hf__deferral_days[][2] = {{30, 90},  {7, 30},   {7, 14},    {7, 30},
                                           {28, 180}, {90, 180}, {180, 365}, {1, 3}};
static const char *hf__permanent_reasons[] = {"hbv_carrier", "heart_disease", "high_risk_behaviour",
                                              "chronic_disease"};

void hf__step_visit(hf__sim_t *s, int64_t t, hf__visit_t *v)
{
    hf__fac_t *f = hf__fac(s, v->fac);
    hf__rng_t *r = &s->rng;
    int32_t today = hf_cal_local_day(t, HF__LOCAL_OFFSET_MIN);
    int kind = v->proc == HF__P_PLASMA ? 1 : 0;
    double first_p = v->proc == HF__P_WB ? 0.38 : 0.10;
    int64_t di = -1;
    bool first = hf__chance(r, first_p);
    if (!first)
        di = hf__donor_repeat(s, f, v->proc, today);
    if (first) {
        di = hf__donor_new(s, f, kind, today);
        s->rep->donors_registered += t >= s->start_us;
        hf__donor_t *d = &s->donors[di];
        hf__rec_t *rec = hf__rec_begin(s, HF__T_REG, f, t, false);
        char bd[11];
        hf_cal_date_format(d->birth, bd);
        hf__rec_set(rec, "donor_id", "%s", d->id);
        hf__rec_set(rec, "birth_date", "%s", bd);
        hf__rec_set(rec, "sex", "%s", d->sex ? "male" : "female");
        hf__rec_set(rec, "donor_kind", "%s", kind ? "plasma" : "blood");
        hf__emit(s);
    } else if (di < 0) {
        /* a repeat donor registered before the window: no registration event */
        di = hf__donor_new(s, f, kind, today);
        hf__donor_t *d = &s->donors[di];
        d->last_proc = (uint8_t)(v->proc == HF__P_PLASMA ? HF__P_PLASMA : HF__P_WB);
        if (v->proc == HF__P_PLT && hf__chance(r, 0.7))
            d->last_proc = HF__P_PLT;
        int need = hf__min_interval(d->last_proc, v->proc);
        d->last_day = today - need - (int32_t)hf__range(r, 0, v->proc == HF__P_WB ? 540 : 45);
    }
    v->donor = (uint32_t)di;
    v->first_time = first;
    hf__donor_t *d = &s->donors[v->donor];

    /* assessment */
    int64_t ta = t + hf__range(r, 5 * HF__MIN, 15 * HF__MIN);
    double defer_p = first ? 0.14 : 0.07;
    bool deferred = hf__chance(r, defer_p);
    bool permanent = deferred && hf__chance(r, 0.1);
    size_t reason = hf__pick(r, hf__deferral_w, sizeof(hf__deferral_w) / sizeof(double));
    hf__rec_t *rec = hf__rec_begin(s, HF__T_ELIG, f, ta, false);
    hf__rec_set(rec, "donor_id", "%s", d->id);
    int hb;
    if (deferred && !permanent && reason == 0)
        hb = (int)hf__bell(r, d->sex ? 112 : 106, 12);
    else
        hb = (int)hf__bell(r, d->sex ? 150 : 132, 30);
    double wkg = hf__bell(r, d->sex ? 71 : 57, d->sex ? 30 : 22);
    if (deferred && !permanent && reason == 5)
        wkg = hf__bell(r, d->sex ? 48 : 43, 4);
    else if (wkg < (d->sex ? 50 : 45))
        wkg = d->sex ? 50.5 : 45.5;
    if (permanent) {
        hf__rec_set(rec, "outcome", "permanent_deferral");
        hf__rec_set(rec, "deferral_reason", "%s", hf__permanent_reasons[hf__range(r, 0, 3)]);
        hf__rec_null(rec, "deferral_until");
        d->eligible_from = INT32_MAX;
    } else if (deferred) {
        int32_t until = today + (int32_t)hf__range(r, hf__deferral_days[reason][0],
                                                   hf__deferral_days[reason][1]);
        char ud[11];
        hf_cal_date_format(until, ud);
        hf__rec_set(rec, "outcome", "temporary_deferral");
        hf__rec_set(rec, "deferral_reason", "%s", hf__deferral_reasons[reason]);
        hf__rec_set(rec, "deferral_until", "%s", ud);
        d->eligible_from = until + 1;
    } else {
        hf__rec_set(rec, "outcome", "accepted");
        hf__rec_null(rec, "deferral_reason");
        hf__rec_null(rec, "deferral_until");
    }
    if (hf__chance(r, 0.97))
        hf__rec_set(rec, "hb_g_per_l", "%d", hb);
    else
        hf__rec_null(rec, "hb_g_per_l");
    hf__rec_set(rec, "weight_kg", "%.1f", wkg);
    hf__rec_set(rec, "first_time", "%s", first ? "true" : "false");
    hf__emit(s);
    if (deferred) {
        s->rep->deferrals += ta >= s->start_us;
        return;
    }
    hf__push_v(s, ta + hf__range(r, 5 * HF__MIN, 20 * HF__MIN), HF__J_COLLECT, v, NULL, 0);
}

void hf__step_collect(hf__sim_t *s, int64_t t, hf__visit_t *v)
{
    hf__fac_t *f = hf__fac(s, v->fac);
    hf__rng_t *r = &s->rng;
    hf__donor_t *d = &s->donors[v->donor];
    int32_t today = hf_cal_local_day(t, HF__LOCAL_OFFSET_MIN);
    hf__next_din(s, f, t, v->din);
    v->collected_us = t;
    hf__rec_t *rec = hf__rec_begin(s, HF__T_DON, f, t, false);
    hf__rec_din(rec, v->din);
    hf__rec_set(rec, "donor_id", "%s", d->id);
    int anticoag = -1;
    static const double wb_w[3] = {0.15, 0.25, 0.60};
    switch (v->proc) {
    case HF__P_WB: {
        static const int vols[3] = {200, 300, 400};
        v->nominal = vols[hf__pick(r, wb_w, 3)];
        v->incomplete = hf__chance(r, 0.015);
        v->volume =
            v->incomplete ? (int)(v->nominal * hf__range(r, 30, 85) / 100 / 10 * 10) : v->nominal;
        double u = hf__unif(r);
        v->ctype = u < 0.006 ? 'D' : u < 0.010 ? 'A' : 'V';
        hf__rec_set(rec, "procedure", "whole_blood");
        hf__rec_set(rec, "collection_type", "%s",
                    v->ctype == 'D'   ? "directed"
                    : v->ctype == 'A' ? "autologous"
                                      : "volunteer");
        hf__rec_set(rec, "volume_ml", "%d", v->volume);
        hf__rec_null(rec, "plasma_g");
        s->rep->donations_whole_blood += t >= s->start_us;
        break;
    }
    case HF__P_PLT:
        v->double_dose = hf__chance(r, 0.2);
        v->incomplete = hf__chance(r, 0.01);
        v->volume = v->double_dose ? (int)hf__range(r, 440, 500) : (int)hf__range(r, 220, 290);
        if (v->incomplete)
            v->volume = (int)hf__range(r, 80, 180);
        v->ctype = 'V';
        hf__rec_set(rec, "procedure", "apheresis_platelets");
        hf__rec_set(rec, "collection_type", "volunteer");
        hf__rec_set(rec, "volume_ml", "%d", v->volume);
        hf__rec_null(rec, "plasma_g");
        anticoag = (int)hf__range(r, 25, 40);
        s->rep->donations_platelets += t >= s->start_us;
        break;
    default:
        v->incomplete = hf__chance(r, 0.01);
        v->volume = hf__chance(r, 0.85) ? (int)hf__range(r, 560, 600) : (int)hf__range(r, 400, 559);
        if (v->incomplete)
            v->volume = (int)hf__range(r, 150, 399);
        v->ctype = 's';
        hf__rec_set(rec, "procedure", "apheresis_plasma");
        hf__rec_set(rec, "collection_type", "paid");
        hf__rec_null(rec, "volume_ml");
        hf__rec_set(rec, "plasma_g", "%d", v->volume);
        anticoag = (int)hf__range(r, 45, 70);
        s->rep->donations_plasma += t >= s->start_us;
        break;
    }
    if (d->last_day == INT32_MIN)
        hf__rec_null(rec, "interval_days_since_last");
    else
        hf__rec_set(rec, "interval_days_since_last", "%d", (int)(today - d->last_day));
    hf__rec_set(rec, "incomplete", "%s", v->incomplete ? "true" : "false");
    if (anticoag > 0)
        hf__rec_set(rec, "anticoagulant_ml", "%d", anticoag);
    else
        hf__rec_null(rec, "anticoagulant_ml");
    hf__emit(s);
    d->last_day = today;
    d->last_proc = v->proc;

    /* donor reactions */
    double ae_p = v->proc == HF__P_WB ? 0.012 : 0.020;
    if (hf__chance(r, ae_p))
        hf__push_v(s, t + hf__range(r, 2 * HF__MIN, 40 * HF__MIN), HF__J_DONOR_AE, v, NULL, 0);
    hf__push_v(s, t + hf__range(r, 2 * HF__HOUR, 6 * HF__HOUR), HF__J_PROCESS, v, NULL, 0);
    hf__push_v(s, t + hf__range(r, 14 * HF__HOUR, 30 * HF__HOUR), HF__J_SCREEN1, v, NULL, 0);
}

/* Adverse event report: subject, dins, category, then the rest by severity. */
void hf__emit_ae(hf__sim_t *s, const hf__fac_t *f, int64_t t, bool donor, const char *dins,
                        const char *category, int onset)
{
    hf__rng_t *r = &s->rng;
    hf__rec_t *rec = hf__rec_begin(s, HF__T_AE, f, t, false);
    hf__rec_set(rec, "subject", "%s", donor ? "donor" : "recipient");
    hf__rec_set(rec, "dins", "%s", dins);
    hf__rec_set(rec, "category", "%s", category);
    static const char *sev[4] = {"non_severe", "severe", "life_threatening", "death"};
    static const double sev_d[4] = {0.97, 0.028, 0.002, 0.0};
    static const double sev_r[4] = {0.85, 0.12, 0.028, 0.002};
    size_t sv = hf__pick(r, donor ? sev_d : sev_r, 4);
    hf__rec_set(rec, "severity", "%s", sev[sv]);
    static const char *imp[5] = {"certain", "likely", "possible", "unlikely", "not_assessable"};
    static const double imp_d[5] = {0.7, 0.25, 0.05, 0, 0};
    static const double imp_r[5] = {0.1, 0.35, 0.4, 0.1, 0.05};
    hf__rec_set(rec, "imputability", "%s", imp[hf__pick(r, donor ? imp_d : imp_r, 5)]);
    if (onset >= 0)
        hf__rec_set(rec, "onset_minutes", "%d", onset);
    else
        hf__rec_null(rec, "onset_minutes");
    bool initial = hf__chance(r, donor ? 0.15 : 0.4);
    hf__rec_set(rec, "outcome", "%s",
                sv == 3   ? "death"
                : initial ? "not_yet_resolved"
                          : "resolved");
    hf__rec_set(rec, "report_status", "%s", initial ? "initial" : "final");
    /* the follow-up of an initial report is an amendment (docs/events.md) */
    bool follow_up = initial && !s->counting && hf__selected(s, HF__T_AE);
    hf__rec_t *created = follow_up ? hf__rec_dup(rec) : NULL;
    uint64_t before = s->rep->type[HF__T_AE].created;
    hf__emit(s);
    if (created && s->rep->type[HF__T_AE].created > before) {
        int64_t at = t + hf__range(r, 1 * HF__DAY, 14 * HF__DAY);
        hf__rec_expand(&s->rec2, created);
        hf__make_correction(s, &s->rec2, false, at);
        hf__rec_set(&s->rec2, "report_status", "%s", hf__chance(r, 0.5) ? "follow_up" : "final");
        if (sv < 3)
            hf__rec_set(&s->rec2, "outcome", "%s",
                        hf__chance(r, 0.9) ? "resolved" : "minor_sequelae");
        hf__rec_t *copy = hf__rec_dup(&s->rec2);
        if (!hf__push(s, at, HF__J_DEFERRED, copy, HF__D_AMEND))
            hf_free(copy);
    }
    hf_free(created);
}

void hf__step_donor_ae(hf__sim_t *s, int64_t t, hf__visit_t *v)
{
    hf__rng_t *r = &s->rng;
    const char *cat;
    if (v->proc != HF__P_WB && hf__chance(r, 0.5))
        cat = "citrate_reaction";
    else {
        static const char *cats[5] = {"vasovagal", "haematoma", "arterial_puncture", "nerve_injury",
                                      "other"};
        static const double w[5] = {0.70, 0.25, 0.01, 0.02, 0.02};
        cat = cats[hf__pick(r, w, 5)];
    }
    bool no_din = hf__chance(r, 0.1);
    hf__emit_ae(s, hf__fac(s, v->fac), t, true, no_din ? "" : v->din, cat,
                (int)((t - v->collected_us) / HF__MIN));
}

static hf__unit_t *hf__unit_add(hf__visit_t *v, const char *prefix, const char *div, int cls,
                                int volume, int64_t expires, const char *parent)
{
    hf__unit_t *u = hf_calloc(1, sizeof(*u));
    u->v = v;
    snprintf(u->product, sizeof(u->product), "%s%c%s", prefix, v->ctype, div);
    if (parent)
        snprintf(u->parent, sizeof(u->parent), "%s%c00", parent, v->ctype);
    u->cls = (uint8_t)cls;
    u->volume = volume;
    u->expires_us = expires;
    u->at = v->fac;
    v->units[v->nunits++] = u;
    return u;
}

static void hf__emit_component(hf__sim_t *s, int64_t t, const hf__unit_t *u)
{
    hf__fac_t *f = hf__fac(s, u->v->fac);
    hf__donor_t *d = &s->donors[u->v->donor];
    hf__rec_t *rec = hf__rec_begin(s, HF__T_COMP, f, t, false);
    hf__rec_din(rec, u->v->din);
    hf__rec_set(rec, "product_code", "%s", u->product);
    if (u->parent[0])
        hf__rec_set(rec, "parent_product_code", "%s", u->parent);
    else
        hf__rec_null(rec, "parent_product_code");
    char g[24];
    hf__fmt_group(g, f->style, d->abo, u->cls == HF__C_SOURCE ? HF__RH_UNSPEC : d->rh);
    hf__rec_set(rec, "abo_rhd", "%s", g);
    hf__rec_set(rec, "volume_ml", "%d", u->volume);
    hf__rec_time(rec, "expires_at", u->expires_us);
    hf__emit(s);
}

/* 23:59 local on the day `days` after the collection day. */
static int64_t hf__expiry(int64_t collected, int days)
{
    return hf__local_at(hf_cal_local_day(collected, HF__LOCAL_OFFSET_MIN) + days, 23 * 60 + 59);
}

void hf__emit_discard(hf__sim_t *s, int64_t t, const hf__unit_t *u, uint32_t fac,
                             const char *reason)
{
    hf__fac_t *f = hf__fac(s, fac);
    hf__rec_t *rec = hf__rec_begin(s, HF__T_DISC, f, t, false);
    hf__rec_din(rec, u->v->din);
    hf__rec_set(rec, "product_code", "%s", u->product);
    hf__rec_set(rec, "stage", "%s", f->kind == HF__F_HOSPITAL ? "hospital" : "station");
    hf__rec_set(rec, "reason", "%s", reason);
    hf__emit(s);
}

void hf__step_process(hf__sim_t *s, int64_t t, hf__visit_t *v)
{
    hf__rng_t *r = &s->rng;
    int64_t c = v->collected_us;
    if (v->incomplete && v->proc == HF__P_WB) {
        /* an under-collected whole blood unit is not processed */
        hf__unit_t *u =
            hf__unit_add(v, "E0001", "00", HF__C_WB, v->volume, hf__expiry(c, 35), NULL);
        hf__emit_discard(s, t, u, v->fac, "volume_out_of_range");
        return;
    }
    switch (v->proc) {
    case HF__P_WB: {
        const char *rc = hf__chance(r, 0.25) ? "E0382" : "E0336";
        hf__unit_add(v, rc, "00", HF__C_RED, (int)(v->nominal * 7 / 10 + hf__range(r, -15, 15)),
                     hf__expiry(c, 35), "E0001");
        hf__unit_add(v, "E2555", "00", HF__C_PLASMA, (int)(v->nominal / 2 + hf__range(r, -10, 10)),
                     hf__expiry(c, 365), "E0001");
        if (v->nominal == 400 && hf__chance(r, 0.08))
            hf__unit_add(v, "E5165", "00", HF__C_CRYO, (int)hf__range(r, 20, 30),
                         hf__expiry(c, 365), "E2555");
        break;
    }
    case HF__P_PLT:
        if (v->double_dose) {
            hf__unit_add(v, "E3086", "A0", HF__C_PLT, v->volume / 2, hf__expiry(c, 5), NULL);
            hf__unit_add(v, "E3086", "B0", HF__C_PLT, v->volume - v->volume / 2, hf__expiry(c, 5),
                         NULL);
        } else {
            hf__unit_add(v, "E3086", "00", HF__C_PLT, v->volume, hf__expiry(c, 5), NULL);
        }
        break;
    default:
        hf__unit_add(v, "E7650", "00", HF__C_SOURCE, v->volume * 96 / 100, hf__expiry(c, 1095),
                     NULL);
        break;
    }
    for (int i = 0; i < v->nunits; i++)
        hf__emit_component(s, t + i * hf__range(r, 0, 3 * HF__MIN), v->units[i]);
}

/* Markers tested: blood stations run 4 ELISAs + ALT + 3 NAT; plasma
 * stations 4 immunoassays + ALT. */
typedef struct hf__marker_s {
    const char *marker;
    const char *method;
    const char *lot;
    double reactive; /* initial reactive probability, repeat donors */
    bool retest;     /* an initial reactive is retested (is_final=false first) */
} hf__marker_t;

static const hf__marker_t hf__markers[8] = {
    {"hbsag", "elisa", "KH", 0.0035, true},     {"anti_hcv", "elisa", "WH", 0.0015, true},
    {"hiv_ag_ab", "elisa", "WT", 0.0008, true}, {"anti_tp", "elisa", "TP", 0.0035, true},
    {"alt", "other", "AL", 0.012, false},       {"hbv_nat", "nat", "RG", 0.0004, false},
    {"hcv_nat", "nat", "RG", 0.0002, false},    {"hiv_nat", "nat", "RG", 0.0001, false},
};

static void hf__emit_screen(hf__sim_t *s, int64_t t, hf__visit_t *v, int m, bool reactive,
                            bool is_final)
{
    hf__rng_t *r = &s->rng;
    hf__fac_t *f = hf__fac(s, v->fac);
    const hf__marker_t *mk = &hf__markers[m];
    hf__rec_t *rec = hf__rec_begin(s, HF__T_SCR, f, t, true);
    hf__rec_din(rec, v->din);
    hf__rec_set(rec, "marker", "%s", mk->marker);
    const char *method = mk->method;
    if (v->proc == HF__P_PLASMA && m < 4 && (f->style & 1))
        method = "clia";
    hf__rec_set(rec, "method", "%s", method);
    int64_t y;
    int mo, d;
    hf_cal_civil_from_days(hf_cal_local_day(t, HF__LOCAL_OFFSET_MIN) - 60 - (int32_t)(f->style * 7),
                           &y, &mo, &d);
    if (hf__chance(r, 0.95))
        hf__rec_set(rec, "kit_lot", "%s%04d%02d%02d", mk->lot, (int)y, mo, (int)(f->style * 4 + 1));
    else
        hf__rec_null(rec, "kit_lot");
    hf__rec_set(rec, "result", "%s", reactive ? "reactive" : "non_reactive");
    if (m == 4)
        hf__rec_set(rec, "value", "%.1f", reactive ? hf__bell(r, 110, 120) : hf__bell(r, 24, 28));
    else if (m < 4)
        hf__rec_set(rec, "value", "%.2f", reactive ? hf__bell(r, 9, 16) : hf__bell(r, 0.3, 0.5));
    else
        hf__rec_null(rec, "value");
    hf__rec_set(rec, "is_final", "%s", is_final ? "true" : "false");
    hf__emit(s);
}

static void hf__release(hf__sim_t *s, int64_t t, hf__visit_t *v);

void hf__step_screen1(hf__sim_t *s, int64_t t, hf__visit_t *v)
{
    hf__rng_t *r = &s->rng;
    int nm = v->proc == HF__P_PLASMA ? 5 : 8;
    bool retest = false;
    for (int m = 0; m < nm; m++) {
        double p = hf__markers[m].reactive * (v->first_time ? 2.0 : 1.0);
        bool reactive = hf__chance(r, p);
        if (reactive && hf__markers[m].retest) {
            v->initial_reactive |= (uint8_t)(1u << m);
            retest = true;
        } else if (reactive) {
            v->confirmed = true;
        }
        hf__emit_screen(s, t + m * hf__range(r, 30 * HF__SEC, 4 * HF__MIN), v, m, reactive,
                        !(reactive && hf__markers[m].retest));
    }
    if (retest)
        hf__push_v(s, t + hf__range(r, 12 * HF__HOUR, 24 * HF__HOUR), HF__J_SCREEN2, v, NULL, 0);
    else
        hf__release(s, t + 10 * HF__MIN, v);
}

void hf__step_screen2(hf__sim_t *s, int64_t t, hf__visit_t *v)
{
    hf__rng_t *r = &s->rng;
    for (int m = 0; m < 8; m++) {
        if (!(v->initial_reactive & (1u << m)))
            continue;
        bool confirmed = hf__chance(r, 0.6);
        v->confirmed |= confirmed;
        hf__emit_screen(s, t + m * HF__MIN, v, m, confirmed, true);
    }
    hf__release(s, t + 10 * HF__MIN, v);
}

/* Screening concluded at t: each unit gets its fate. */
static void hf__release(hf__sim_t *s, int64_t t, hf__visit_t *v)
{
    hf__rng_t *r = &s->rng;
    for (int i = 0; i < v->nunits; i++) {
        hf__unit_t *u = v->units[i];
        if (u->cls == HF__C_WB)
            continue;
        if (v->confirmed) {
            hf__push_v(s, t + hf__range(r, 1 * HF__HOUR, 6 * HF__HOUR), HF__J_U_DISCARD, v, u,
                       1000 /* reactive */);
            continue;
        }
        double x = hf__unif(r);
        switch (u->cls) {
        case HF__C_RED:
            if (x < 0.008)
                hf__push_v(s, t + hf__range(r, HF__HOUR, 10 * HF__DAY), HF__J_U_DISCARD, v, u,
                           (uint32_t)hf__range(r, 0, 2));
            else if (x < 0.018)
                hf__push_v(s, u->expires_us + hf__range(r, 0, 12 * HF__HOUR), HF__J_U_DISCARD, v, u,
                           2000 /* expired */);
            else if (x < 0.043)
                hf__push_v(s, t + hf__range(r, 12 * HF__HOUR, 5 * HF__DAY), HF__J_U_TRANSFER, v, u,
                           0);
            else
                hf__push_v(s, t + hf__range(r, 4 * HF__HOUR, 10 * HF__DAY), HF__J_U_ISSUE, v, u, 0);
            break;
        case HF__C_PLASMA:
        case HF__C_CRYO:
            if (x < 0.006)
                hf__push_v(s, t + hf__range(r, HF__HOUR, 2 * HF__DAY), HF__J_U_DISCARD, v, u, 3);
            else if (x < 0.016)
                hf__push_v(s, t + hf__range(r, 1 * HF__DAY, 20 * HF__DAY), HF__J_U_TRANSFER, v, u,
                           0);
            else if (x < 0.50)
                hf__push_v(s, t + hf__range(r, 2 * HF__DAY, 40 * HF__DAY), HF__J_U_ISSUE, v, u, 0);
            /* else: stays in the freezer past the window */
            break;
        case HF__C_PLT:
            if (x < 0.14)
                hf__push_v(s, u->expires_us + hf__range(r, 0, 6 * HF__HOUR), HF__J_U_DISCARD, v, u,
                           2000);
            else if (x < 0.16)
                hf__push_v(s, t + hf__range(r, 2 * HF__HOUR, 24 * HF__HOUR), HF__J_U_TRANSFER, v, u,
                           0);
            else
                hf__push_v(s, t + hf__range(r, 2 * HF__HOUR, 60 * HF__HOUR), HF__J_U_ISSUE, v, u,
                           0);
            break;
        default: /* source plasma */
            if (x < 0.01)
                hf__push_v(s, t + hf__range(r, HF__HOUR, 3 * HF__DAY), HF__J_U_DISCARD, v, u,
                           (uint32_t)(hf__chance(r, 0.6) ? 3 : hf__range(r, 0, 1)));
            else if (x < 0.93)
                hf__push_v(s, t + hf__range(r, 2 * HF__DAY, 10 * HF__DAY), HF__J_U_SHIP, v, u, 0);
            break;
        }
    }
}
