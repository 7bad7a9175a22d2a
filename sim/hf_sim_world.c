/*
 * hf_sim_world — the simulated country: the model's static tables (per
 * province data parallel to hf_provinces, blood groups, station software),
 * the facility network built from them, identifiers (event UUIDs, resident
 * IDs, DINs) and the donor population.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hf_mem.h"
#include "hf_sim_int.h"

/* snprintf for fixed-width fields whose values the compiler cannot bound
 * (facility numbers, dates): the callers size the buffers for the real
 * ranges; truncation would only cut a value, never overflow. */
void hf__sfmt(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

/* ==== static tables ==== */

const hf__prov_t hf__provs[HF_SIM_NPROV] = {
    {21893, 1, 0, true},    {13866, 1, 0, false},   {74610, 11, 12, false},
    {34915, 11, 8, false},  {24049, 12, 6, false},  {42591, 14, 4, false},
    {24073, 9, 4, false},   {31851, 13, 4, false},  {24870, 1, 0, true},
    {84748, 13, 4, false},  {64567, 11, 4, true},   {61027, 16, 10, false},
    {41540, 9, 4, false},   {45189, 11, 15, false}, {101527, 16, 15, true},
    {99366, 17, 15, true},  {57752, 13, 15, false}, {66444, 14, 20, false},
    {126013, 21, 6, true},  {50127, 14, 30, true},  {10081, 4, 4, false},
    {32054, 2, 5, false},   {83675, 21, 40, true},  {38562, 9, 20, true},
    {47209, 16, 25, false}, {3648, 7, 0, false},    {39529, 10, 6, false},
    {25020, 14, 8, false},  {5924, 8, 2, false},    {7202, 5, 2, false},
    {25852, 14, 4, false},
};

const char *hf_sim_province_code(size_t i)
{
    return i < HF_SIM_NPROV ? hf_provinces[i].code : NULL;
}

static const char *const hf__abo_txt[4] = {"A", "B", "O", "AB"};
const double hf__abo_freq[4] = {0.28, 0.31, 0.31, 0.10};
/* ISBT 128 ABO/RhD codes: [abo][0 pos, 1 neg, 2 unspecified] */
static const char *const hf__abo_code[4][3] = {
    {"62", "06", "66"}, {"73", "17", "77"}, {"51", "95", "55"}, {"84", "28", "88"}};

/* One station software's way of writing a blood group; every form here is
 * mapped by hf_validate_blood_group (checked by the unit tests). */
void hf__fmt_group(char out[24], int style, int abo, int rh)
{
    static const char *const pos[HF__NSTYLES] = {"+", " Rh+", " POS", "阳性", "", " RhD positive"};
    static const char *const neg[HF__NSTYLES] = {"-", " Rh-", " NEG", "阴性", "", " RhD negative"};
    if (style == 4 || (rh == HF__RH_UNSPEC && style != 3)) {
        if (style == 4 || style == 0)
            snprintf(out, 24, "%s", hf__abo_code[abo][rh]);
        else
            snprintf(out, 24, "%s", hf__abo_txt[abo]);
        return;
    }
    if (rh == HF__RH_UNSPEC)
        snprintf(out, 24, "%s型", hf__abo_txt[abo]);
    else
        snprintf(out, 24, "%s%s", hf__abo_txt[abo], rh == HF__RH_POS ? pos[style] : neg[style]);
}

static const char *const hf__blood_systems[] = {"XueZhan-BIS 5.2", "BloodNet-BIS 4.1",
                                                "HemoCare 3.7", "ShengXue-BIS 2.9"};
static const char *const hf__lab_systems[] = {"LabLink 1.8", "XueZhan-LIS 5.2", "LabLink 2.0"};
static const char *const hf__plasma_systems[] = {"JiangPlasma 2.1", "PlasmaOne 3.0",
                                                 "TianTan-PSMS 1.4"};
static const char *const hf__hospital_systems[] = {"HIS-Transfusion 3.0", "ZJ-HIS 7.1",
                                                   "WinHIS 6.2", "DHC-BloodBank 4.0"};

/* ==== facility network ==== */

static void hf__net_add(hf__net_t *net, size_t *cap, int kind, size_t p, size_t k, hf__rng_t *r)
{
    if (net->n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        net->f = hf_realloc(net->f, *cap * sizeof(*net->f));
    }
    hf__fac_t *f = &net->f[net->n++];
    memset(f, 0, sizeof(*f));
    const char *pc = hf_provinces[p].code;
    f->kind = (uint8_t)kind;
    f->prov = (uint8_t)p;
    f->style = (uint8_t)hf__range(r, 0, HF__NSTYLES - 1);
    f->utc_clock = kind != HF__F_PLANT && hf__chance(r, 0.03);
    f->inv_walk = 1.0;
    switch (kind) {
    case HF__F_BLOOD:
        hf__sfmt(f->id, sizeof(f->id), "%s0100%02zu", pc, k + 1);
        hf__sfmt(f->fin, sizeof(f->fin), "J%s%02zu", pc, k + 1);
        f->system = hf__blood_systems[hf__range(r, 0, 3)];
        f->lab_system = hf__lab_systems[hf__range(r, 0, 2)];
        break;
    case HF__F_PLASMA:
        hf__sfmt(f->id, sizeof(f->id), "%s1300%02zu", pc, k + 1);
        hf__sfmt(f->fin, sizeof(f->fin), "S%s%02zu", pc, k + 1);
        f->system = hf__plasma_systems[hf__range(r, 0, 2)];
        f->lab_system = f->system;
        break;
    case HF__F_HOSPITAL:
        hf__sfmt(f->id, sizeof(f->id), "%s01%04zu", pc, 201 + k);
        f->system = hf__hospital_systems[hf__range(r, 0, 3)];
        f->lab_system = f->system;
        break;
    default:
        hf__sfmt(f->id, sizeof(f->id), "%s9000%02zu", pc, k + 1);
        f->system = "plant";
        f->lab_system = f->system;
        break;
    }
}

/* The network does not depend on the seed: facility ids are stable. */
void hf__net_build(hf__net_t *net)
{
    hf__rng_t r;
    hf__rng_seed(&r, UINT64_C(0x4e4554574f524b31));
    size_t cap = 0;
    memset(net, 0, sizeof(*net));
    for (size_t p = 0; p < HF_SIM_NPROV; p++) {
        const hf__prov_t *pv = &hf__provs[p];
        size_t n[4];
        n[HF__F_BLOOD] = (size_t)(pv->pop_k + 4000) / 8000;
        if (n[HF__F_BLOOD] < 1)
            n[HF__F_BLOOD] = 1;
        n[HF__F_PLASMA] = (size_t)pv->plasma_stations;
        n[HF__F_HOSPITAL] = (size_t)(pv->pop_k + 1500) / 3000;
        if (n[HF__F_HOSPITAL] < 3)
            n[HF__F_HOSPITAL] = 3;
        n[HF__F_PLANT] = pv->plant ? 1 : 0;
        for (int kind = 0; kind < 4; kind++) {
            net->first[p][kind] = net->n;
            net->count[p][kind] = n[kind];
            for (size_t k = 0; k < n[kind]; k++) {
                hf__net_add(net, &cap, kind, p, k, &r);
                net->f[net->n - 1].size_m = (double)pv->pop_k / 1000.0 / (double)n[kind];
            }
        }
    }
    net->plasma = hf_calloc(net->n, sizeof(size_t));
    net->plants = hf_calloc(net->n, sizeof(size_t));
    for (size_t i = 0; i < net->n; i++) {
        if (net->f[i].kind == HF__F_PLASMA)
            net->plasma[net->nplasma++] = i;
        else if (net->f[i].kind == HF__F_PLANT)
            net->plants[net->nplants++] = i;
    }
}

void hf__net_free(hf__net_t *net)
{
    for (size_t i = 0; i < net->n; i++)
        hf_free(net->f[i].donors);
    hf_free(net->f);
    hf_free(net->plasma);
    hf_free(net->plants);
    memset(net, 0, sizeof(*net));
}

/* ==== identifiers ==== */

void hf__uuid4(hf__rng_t *r, char out[37])
{
    uint64_t a = hf__next(r), b = hf__next(r);
    a = (a & UINT64_C(0xffffffffffff0fff)) | UINT64_C(0x0000000000004000);
    b = (b & UINT64_C(0x3fffffffffffffff)) | UINT64_C(0x8000000000000000);
    snprintf(out, 37, "%08" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%012" PRIx64,
             (uint32_t)(a >> 32), (uint32_t)(a >> 16) & 0xffff, (uint32_t)a & 0xffff,
             (uint32_t)(b >> 48), b & UINT64_C(0xffffffffffff));
}

static char hf__id_check(const char *id17)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (id17[i] - '0') * w[i];
    return "10X98765432"[sum % 11];
}

/* A resident ID: address code in province p, birth date, sex; 15-digit
 * legacy form when legacy (only for births in the 1900s). */
void hf__make_id(hf__rng_t *r, char out[19], size_t p, int32_t birth, bool male, bool legacy)
{
    const hf__prov_t *pv = &hf__provs[p];
    int city = (int)hf__range(r, 1, pv->ncity);
    int district = (int)hf__range(r, 1, 18);
    int64_t y;
    int m, d;
    hf_cal_civil_from_days(birth, &y, &m, &d);
    int seq = (int)hf__range(r, 0, 499) * 2 + (male ? 1 : 0);
    if (legacy && y >= 1900 && y <= 1999) {
        hf__sfmt(out, 19, "%s%02d%02d%02d%02d%02d%03d", hf_provinces[p].code, city, district,
                 (int)(y % 100), m, d,
                 seq);
        return;
    }
    hf__sfmt(out, 19, "%s%02d%02d%04d%02d%02d%03d", hf_provinces[p].code, city, district, (int)y,
             m, d, seq);
    out[17] = hf__id_check(out);
    out[18] = '\0';
}

size_t hf__pick_province(hf__rng_t *r)
{
    double w[HF_SIM_NPROV];
    for (size_t i = 0; i < HF_SIM_NPROV; i++)
        w[i] = hf__provs[i].pop_k;
    return hf__pick(r, w, HF_SIM_NPROV);
}

/* Next DIN of a collecting facility: FIN + nominal year + 6-digit sequence. */
void hf__next_din(hf__sim_t *s, hf__fac_t *f, int64_t at_us, char out[14])
{
    int64_t y;
    int m, d;
    hf_cal_civil_from_days(hf_cal_local_day(at_us, HF__LOCAL_OFFSET_MIN), &y, &m, &d);
    (void)m;
    (void)d;
    if (f->din_year != y % 100 || f->din_seq == 0) {
        f->din_year = (int)(y % 100);
        f->din_seq = (uint32_t)hf__range(&s->rng, 1, 40000);
    }
    if (f->din_seq > 999999)
        f->din_seq = 1; /* more than a million donations a year at one site: wrap */
    hf__sfmt(out, 14, "%s%02d%06" PRIu32, f->fin, f->din_year, f->din_seq++);
}

/* ==== donors ==== */

uint32_t hf__donor_new(hf__sim_t *s, hf__fac_t *f, int kind, int32_t today)
{
    if (s->ndonors == s->capdonors) {
        s->capdonors = s->capdonors ? s->capdonors * 2 : 4096;
        s->donors = hf_realloc(s->donors, s->capdonors * sizeof(*s->donors));
    }
    hf__donor_t *d = &s->donors[s->ndonors];
    memset(d, 0, sizeof(*d));
    hf__rng_t *r = &s->rng;
    d->kind = (uint8_t)kind;
    d->sex = hf__chance(r, kind ? 0.50 : 0.55);
    /* age bands: blood donors are younger than plasma donors */
    static const double wb_w[5] = {0.30, 0.30, 0.22, 0.15, 0.03};
    static const double pl_w[5] = {0.10, 0.25, 0.35, 0.25, 0.05};
    static const int band_lo[5] = {18, 26, 36, 46, 56}, band_hi[5] = {25, 35, 45, 55, 59};
    size_t b = hf__pick(r, kind ? pl_w : wb_w, 5);
    int age = (int)hf__range(r, band_lo[b], band_hi[b]);
    d->birth = today - (int32_t)(age * 36525 / 100) - (int32_t)hf__range(r, 1, 364);
    d->abo = (uint8_t)hf__pick(r, hf__abo_freq, 4);
    const char *pc = hf_provinces[f->prov].code;
    double neg = pc[0] == '6' && pc[1] == '5' ? 0.03 : 0.004;
    d->rh = hf__chance(r, neg) ? HF__RH_NEG : HF__RH_POS;
    /* the address code is where the ID was first issued: mostly here,
     * sometimes another province (people move) */
    size_t p = hf__chance(r, kind ? 0.97 : 0.85) ? f->prov : hf__pick_province(r);
    int64_t y;
    int m, dd;
    hf_cal_civil_from_days(d->birth, &y, &m, &dd);
    bool legacy = y <= 1983 && hf__chance(r, 0.10);
    hf__make_id(r, d->id, p, d->birth, d->sex, legacy);
    d->last_day = INT32_MIN;
    d->eligible_from = INT32_MIN;
    if (f->ndonors == f->capdonors) {
        f->capdonors = f->capdonors ? f->capdonors * 2 : 64;
        f->donors = hf_realloc(f->donors, f->capdonors * sizeof(uint32_t));
    }
    f->donors[f->ndonors++] = (uint32_t)s->ndonors;
    return (uint32_t)s->ndonors++;
}

/* Days a donor must wait after `last` before `next` (DOMAIN.md rules). */
int hf__min_interval(int last, int next)
{
    if (last == HF__P_PLASMA)
        return 15; /* 14 days, counted from the day after */
    if (last == HF__P_WB)
        return next == HF__P_WB ? 180 : 90;
    return next == HF__P_PLT ? 14 : 28;
}

/* An earlier in-window donor of this facility who may donate today, or -1. */
int64_t hf__donor_repeat(hf__sim_t *s, hf__fac_t *f, int proc, int32_t today)
{
    if (!f->ndonors)
        return -1;
    for (int tries = 0; tries < 4; tries++) {
        uint32_t i = f->donors[hf__range(&s->rng, 0, (int64_t)f->ndonors - 1)];
        hf__donor_t *d = &s->donors[i];
        if (d->last_day == INT32_MIN || today < d->eligible_from)
            continue;
        int need = hf__min_interval(d->last_proc, proc);
        /* a few plasma donations come early: the interval-compliance indicator */
        if (proc == HF__P_PLASMA && hf__chance(&s->rng, 0.02))
            need = 11;
        if (today - d->last_day >= need)
            return i;
    }
    return -1;
}
