/*
 * hf_sim_unit — a released unit's fate: issue to a hospital, transfer to
 * another province and its receipt, shipment of source plasma to a
 * fractionation plant, transfusion (and recipient reactions), return or
 * discard.
 */
#include <string.h>

#include "hf_mem.h"
#include "hf_sim_int.h"

/* ==== unit fates ==== */

static uint32_t hf__pick_kind(hf__sim_t *s, size_t prov, int kind)
{
    size_t n = s->net.count[prov][kind];
    return (uint32_t)(s->net.first[prov][kind] + (size_t)hf__range(&s->rng, 0, (int64_t)n - 1));
}

static const char *const hf__departments[] = {"心胸外科", "血液科",   "ICU",         "普外科",
                                              "骨科",     "产科",     "急诊科",      "肿瘤科",
                                              "消化内科", "神经外科", "Haematology", "OR"};

static void hf__emit_move(hf__sim_t *s, int64_t t, const hf__unit_t *u, uint32_t reporter,
                          const char *movement, uint32_t from, uint32_t to)
{
    hf__fac_t *f = hf__fac(s, reporter), *ff = hf__fac(s, from), *tf = hf__fac(s, to);
    hf__rec_t *rec = hf__rec_begin(s, HF__T_MOVE, f, t, false);
    hf__rec_din(rec, u->v->din);
    hf__rec_set(rec, "product_code", "%s", u->product);
    hf__rec_set(rec, "movement", "%s", movement);
    hf__rec_set(rec, "from_facility_id", "%s", ff->id);
    hf__rec_set(rec, "to_facility_id", "%s", tf->id);
    hf__rec_set(rec, "from_province_code", "%s", hf_provinces[ff->prov].code);
    hf__rec_set(rec, "to_province_code", "%s", hf_provinces[tf->prov].code);
    hf__emit(s);
}

void hf__step_unit(hf__sim_t *s, const hf__job_t *j)
{
    hf__unit_t *u = j->p;
    hf__visit_t *v = u->v;
    hf__rng_t *r = &s->rng;
    int64_t t = j->t;
    static const char *const station_reasons[] = {"broken_bag", "haemolysed",
                                                  "temperature_excursion", "lipaemic"};
    switch (j->kind) {
    case HF__J_U_DISCARD:
        hf__emit_discard(s, t, u, u->at,
                         j->arg == 1000   ? "reactive"
                         : j->arg == 2000 ? "expired"
                                          : station_reasons[j->arg % 4]);
        break;
    case HF__J_U_ISSUE: {
        uint32_t h = hf__pick_kind(s, hf__fac(s, u->at)->prov, HF__F_HOSPITAL);
        hf__emit_move(s, t, u, u->at, "issue", u->at, h);
        u->from = u->at;
        u->at = h;
        hf__push_v(s, t + hf__range(r, 30 * HF__MIN, 48 * HF__HOUR), HF__J_U_HOSPITAL, v, u, 0);
        break;
    }
    case HF__J_U_TRANSFER: {
        /* to a blood station of another province, weighted by population */
        size_t p;
        do
            p = hf__pick_province(r);
        while (p == hf__fac(s, u->at)->prov);
        uint32_t to = hf__pick_kind(s, p, HF__F_BLOOD);
        hf__emit_move(s, t, u, u->at, "transfer", u->at, to);
        u->from = u->at;
        u->at = to;
        hf__push_v(s, t + hf__range(r, 4 * HF__HOUR, 36 * HF__HOUR), HF__J_U_RECEIPT, v, u, 0);
        break;
    }
    case HF__J_U_RECEIPT:
        hf__emit_move(s, t, u, u->at, "receipt", u->from, u->at);
        hf__push_v(s, t + hf__range(r, 12 * HF__HOUR, 5 * HF__DAY), HF__J_U_ISSUE, v, u, 0);
        break;
    case HF__J_U_SHIP: {
        /* source plasma goes to a fractionation plant: in the province when
         * there is one */
        hf__fac_t *f = hf__fac(s, u->at);
        uint32_t plant = (uint32_t)s->net.plants[f->prov % s->net.nplants];
        if (s->net.count[f->prov][HF__F_PLANT])
            plant = (uint32_t)s->net.first[f->prov][HF__F_PLANT];
        hf__emit_move(s, t, u, u->at, "transfer", u->at, plant);
        break;
    }
    case HF__J_U_HOSPITAL: {
        double x = hf__unif(r);
        if (x < 0.965) {
            hf__fac_t *h = hf__fac(s, u->at);
            if (!h->last_patient[0] || hf__chance(r, 0.6)) {
                int age =
                    hf__chance(r, 0.05) ? (int)hf__range(r, 0, 17) : (int)hf__range(r, 18, 92);
                int32_t birth = hf_cal_local_day(t, HF__LOCAL_OFFSET_MIN) - age * 365 -
                                (int32_t)hf__range(r, 1, 364);
                size_t p = hf__chance(r, 0.9) ? h->prov : hf__pick_province(r);
                int64_t y;
                int m, d;
                hf_cal_civil_from_days(birth, &y, &m, &d);
                hf__make_id(r, h->last_patient, p, birth, hf__chance(r, 0.5),
                            y <= 1970 && hf__chance(r, 0.08));
            }
            hf__rec_t *rec = hf__rec_begin(s, HF__T_TRANSF, h, t, false);
            hf__rec_din(rec, v->din);
            hf__rec_set(rec, "product_code", "%s", u->product);
            hf__rec_set(rec, "hospital_id", "%s", h->id);
            hf__rec_set(rec, "patient_id", "%s", h->last_patient);
            hf__rec_set(rec, "department", "%s",
                        hf__departments[hf__range(
                            r, 0, sizeof(hf__departments) / sizeof(hf__departments[0]) - 1)]);
            hf__rec_time(rec, "started_at", t);
            int64_t dur = u->cls == HF__C_RED ? hf__range(r, 60 * HF__MIN, 4 * HF__HOUR)
                                              : hf__range(r, 15 * HF__MIN, 60 * HF__MIN);
            /* still running at the cap: reported without an end */
            if (hf__chance(r, 0.95) && t + dur < s->end_us)
                hf__rec_time(rec, "ended_at", t + dur);
            else
                hf__rec_null(rec, "ended_at");
            hf__rec_set(rec, "volume_ml", "%d", u->volume);
            hf__emit(s);
            double ae = u->cls == HF__C_PLT ? 0.005 : 0.002;
            if (hf__chance(r, ae))
                hf__push_v(s, t + hf__range(r, 10 * HF__MIN, 6 * HF__HOUR), HF__J_RECIPIENT_AE, v,
                           u, (uint32_t)((t / HF__MIN) & 0x7fffffff));
        } else if (x < 0.98) {
            hf__emit_move(s, t, u, u->at, "return", u->at, u->from);
            uint32_t h = u->at;
            u->at = u->from;
            u->from = h;
            hf__push_v(s, t + hf__range(r, 2 * HF__HOUR, 24 * HF__HOUR), HF__J_U_RETURNED, v, u, 0);
        } else {
            static const char *const reasons[] = {"temperature_excursion", "expired", "broken_bag",
                                                  "other"};
            static const double w[] = {0.4, 0.25, 0.2, 0.15};
            hf__emit_discard(s, t, u, u->at, reasons[hf__pick(r, w, 4)]);
        }
        break;
    }
    case HF__J_U_RETURNED:
        hf__emit_discard(s, t, u, u->at, "returned_unused");
        break;
    case HF__J_RECIPIENT_AE: {
        static const char *cats[9] = {"febrile_non_haemolytic",
                                      "allergic",
                                      "anaphylactic",
                                      "taco",
                                      "trali",
                                      "hypotensive",
                                      "haemolytic_delayed",
                                      "delayed_serologic",
                                      "other"};
        static const double w[9] = {0.38, 0.44, 0.02, 0.04, 0.01, 0.02, 0.02, 0.03, 0.04};
        int onset = (int)(t / HF__MIN - (int64_t)j->arg);
        hf__emit_ae(s, hf__fac(s, u->at), t, false, v->din, cats[hf__pick(r, w, 9)],
                    onset >= 0 ? onset : -1);
        break;
    }
    default:
        break;
    }
}
