/*
 * hf_sim_day — the day tick: how many visits a day gets and when, where
 * they happen, which facilities count their inventory that morning, and
 * the inventory snapshot itself.
 */
#include <string.h>

#include "hf_mem.h"
#include "hf_sim_int.h"

/* ==== days and visits ==== */

double hf__day_weight(int32_t day)
{
    int64_t dow = hf_cal_floordiv((int64_t)day + 3, 7); /* 1970-01-01 was a Thursday */
    int wd = (int)(((int64_t)day + 3) - dow * 7);    /* 0 = Monday */
    return wd >= 5 ? 1.2 : 1.0;
}

/* Start of a collection visit: local minute of day, busier late morning and
 * afternoon. */
static int64_t hf__visit_minute(hf__rng_t *r, bool plasma)
{
    if (plasma)
        return (int64_t)hf__bell(r, 10.5 * 60, 6 * 60);
    return (int64_t)(hf__chance(r, 0.55) ? hf__bell(r, 10.5 * 60, 5 * 60)
                                         : hf__bell(r, 15 * 60, 5 * 60));
}

void hf__step_day(hf__sim_t *s, int32_t day)
{
    hf__rng_t *r = &s->rng;
    double prev = s->visits_cum;
    s->visits_cum += s->visits_total * hf__day_weight(day) / s->day_weight_sum;
    uint64_t n = (uint64_t)s->visits_cum - (uint64_t)prev;
    double pw[HF_SIM_NPROV];
    for (size_t i = 0; i < HF_SIM_NPROV; i++)
        pw[i] = hf__provs[i].pop_k;
    for (uint64_t i = 0; i < n; i++) {
        hf__visit_t *v = hf_calloc(1, sizeof(*v));
        double x = hf__unif(r);
        v->proc = x < 0.38 ? HF__P_PLASMA : x < 0.45 ? HF__P_PLT : HF__P_WB;
        if (v->proc == HF__P_PLASMA && s->net.nplasma)
            v->fac = (uint32_t)s->net.plasma[hf__range(r, 0, (int64_t)s->net.nplasma - 1)];
        else {
            if (v->proc == HF__P_PLASMA)
                v->proc = HF__P_WB;
            size_t p = hf__pick(r, pw, HF_SIM_NPROV);
            /* the provincial blood centre (station 01) collects twice as much */
            size_t nb = s->net.count[p][HF__F_BLOOD];
            size_t k = (size_t)hf__range(r, 0, (int64_t)nb);
            v->fac = (uint32_t)(s->net.first[p][HF__F_BLOOD] + (k >= nb ? 0 : k));
        }
        int64_t t = hf__local_at(day, hf__visit_minute(r, v->proc == HF__P_PLASMA)) +
                    hf__range(r, 0, 59) * HF__SEC;
        if (hf__push(s, t, HF__J_VISIT, v, 0))
            v->refs = 1;
        else
            hf_free(v);
    }
    if (!s->counting && day >= s->first_day) {
        for (size_t i = 0; i < s->net.n; i++) {
            if (!s->net.f[i].reports_inventory)
                continue;
            int64_t t = hf__local_at(day, 8 * 60) + hf__range(r, 0, 10) * HF__MIN;
            hf__push(s, t, HF__J_INVENTORY, NULL, (uint32_t)i);
        }
    }
    if (day < s->last_day)
        hf__push(s, hf__local_at(day + 1, 0), HF__J_DAY, NULL,
                 (uint32_t)(day + 1 - s->sim_first_day));
}

/* ==== inventory ==== */

void hf__step_inventory(hf__sim_t *s, int64_t t, uint32_t fi)
{
    hf__fac_t *f = hf__fac(s, fi);
    hf__rng_t *r = &s->rng;
    f->inv_walk *= 0.93 + 0.14 * hf__unif(r);
    if (f->inv_walk < 0.6)
        f->inv_walk = 0.6;
    if (f->inv_walk > 1.4)
        f->inv_walk = 1.4;
    /* lines: blood station red cells x8, platelets x4, plasma x4; hospital
     * red cells x8, plasma x4; plasma station source plasma x4 */
    static const char *const cls_name[3] = {"red_cells", "platelets", "plasma"};
    static const double per_m_blood[3] = {200, 4, 600}; /* units per million served */
    static const double per_m_hosp[3] = {25, 0, 40};
    for (int c = 0; c < 3; c++) {
        if (f->kind == HF__F_HOSPITAL && c == 1)
            continue;
        if (f->kind == HF__F_PLASMA && c != 2)
            continue;
        int nlines = c == 0 ? 8 : 4;
        for (int l = 0; l < nlines; l++) {
            int abo = c == 0 ? l / 2 : l;
            int rh =
                c == 0 ? (l % 2 ? HF__RH_NEG : HF__RH_POS) : (c == 1 ? HF__RH_POS : HF__RH_UNSPEC);
            double base =
                f->kind == HF__F_PLASMA
                    ? 80.0 * f->size_m
                    : (f->kind == HF__F_HOSPITAL ? per_m_hosp[c] : per_m_blood[c]) * f->size_m;
            double freq = hf__abo_freq[abo] * (rh == HF__RH_NEG ? 0.004 : 1.0);
            double x = base * freq * f->inv_walk * (0.9 + 0.2 * hf__unif(r));
            int on_hand = (int)(x + 0.5);
            int quarantined = (int)(x * (0.02 + 0.06 * hf__unif(r)) + 0.5);
            hf__rec_t *rec = hf__rec_begin(s, HF__T_INV, f, t, false);
            hf__rec_time(rec, "snapshot_at", t);
            hf__rec_set(rec, "product_class", "%s", cls_name[c]);
            char g[24];
            hf__fmt_group(g, f->style, abo, rh);
            hf__rec_set(rec, "abo_rhd", "%s", g);
            hf__rec_set(rec, "on_hand", "%d", on_hand);
            hf__rec_set(rec, "quarantined", "%d", quarantined);
            hf__emit(s);
        }
    }
}

int hf__inventory_lines(const hf__fac_t *f)
{
    return f->kind == HF__F_BLOOD      ? 16
           : f->kind == HF__F_HOSPITAL ? 12
           : f->kind == HF__F_PLASMA   ? 4
                                       : 0;
}
