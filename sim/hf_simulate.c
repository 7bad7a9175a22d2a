/*
 * hf_simulate — the traffic generator behind `hemoflow simulate`: a small
 * discrete-event simulation of the national blood system (facility
 * network, donors, donation chains, unit fates, inventory counts) that
 * renders station records and hands them to a sink, plus fault injection,
 * the exact report of what was accepted, and the CSV sink for --output.
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

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "hf_cal.h"
#include "hf_frame.h"
#include "hf_mem.h"
#include "hf_province.h"
#include "hf_validate.h"

/* snprintf for fixed-width fields whose values the compiler cannot bound
 * (facility numbers, dates): the callers size the buffers for the real
 * ranges; truncation would only cut a value, never overflow. */
static void hf__sfmt(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void hf__sfmt(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

/* ==== PRNG: xoshiro256** (Blackman & Vigna), seeded with splitmix64 ==== */

typedef struct hf__rng_s {
    uint64_t s[4];
} hf__rng_t;

static uint64_t hf__splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void hf__rng_seed(hf__rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = hf__splitmix64(&x);
}

static uint64_t hf__rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t hf__next(hf__rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = hf__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = hf__rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static double hf__unif(hf__rng_t *r)
{
    return (double)(hf__next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static bool hf__chance(hf__rng_t *r, double p)
{
    return p > 0 && hf__unif(r) < p;
}

/* Uniform integer in [lo, hi]. */
static int64_t hf__range(hf__rng_t *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)(hf__next(r) % (uint64_t)(hi - lo + 1));
}

/* Bell-shaped in [c - w, c + w] (Irwin-Hall of 4 uniforms): no libm. */
static double hf__bell(hf__rng_t *r, double c, double w)
{
    double s = hf__unif(r) + hf__unif(r) + hf__unif(r) + hf__unif(r);
    return c + (s - 2.0) * (w / 2.0);
}

/* Index drawn from weights w[0..n). */
static size_t hf__pick(hf__rng_t *r, const double *w, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i];
    double x = hf__unif(r) * total;
    for (size_t i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* ==== time ==== */

#define HF__SEC INT64_C(1000000)
#define HF__MIN (60 * HF__SEC)
#define HF__HOUR (60 * HF__MIN)
#define HF__DAY (24 * HF__HOUR)
#define HF__LOCAL_OFFSET_MIN 480 /* Asia/Shanghai, no DST since 1991 */

/* UTC instant of local day + minutes after local midnight. */
static int64_t hf__local_at(int32_t day, int64_t minutes)
{
    return hf_cal_local_midnight(day, HF__LOCAL_OFFSET_MIN) + minutes * HF__MIN;
}

/* ISO 8601 with offset: "+08:00" station local time, or "Z" (UTC).
 * hf_cal_time_format() writes exactly these bytes for years 0000-9999 and
 * "0000-00-00" outside them, where the generator has always written the
 * year as it is (--end-date 9999-12-31 gives expiries in 10002; an early
 * --end-date with many --days gives negative years): that case keeps its
 * own line so that the same options still give the same records. */
static void hf__fmt_time(char out[64], int64_t us, bool utc)
{
    int off = utc ? 0 : HF__LOCAL_OFFSET_MIN;
    int64_t t = hf_cal_floordiv(us, HF__SEC) + off * 60;
    int64_t days = hf_cal_floordiv(t, 86400);
    int64_t y;
    int m, d;
    hf_cal_civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999) {
        hf_cal_time_format(us, off, out);
        return;
    }
    int64_t sod = t - days * 86400;
    snprintf(out, 64, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d%s", y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60), utc ? "Z" : "+08:00");
}

/* ==== static tables ==== */

/* The model's data for each province, parallel to hf_provinces (same
 * index; the code comes from there): the 2020 (7th) census population in
 * thousands, the number of prefecture-level codes used for address codes,
 * plasma stations (approximate national distribution) and whether a
 * fractionation plant takes source plasma there. */
typedef struct hf__prov_s {
    int pop_k;
    int ncity;
    int plasma_stations;
    bool plant;
} hf__prov_t;

_Static_assert(HF_SIM_NPROV == HF_PROVINCE_COUNT, "one model row per province");

static const hf__prov_t hf__provs[HF_SIM_NPROV] = {
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

enum { HF__ABO_A, HF__ABO_B, HF__ABO_O, HF__ABO_AB };
static const char *const hf__abo_txt[4] = {"A", "B", "O", "AB"};
static const double hf__abo_freq[4] = {0.28, 0.31, 0.31, 0.10};
/* ISBT 128 ABO/RhD codes: [abo][0 pos, 1 neg, 2 unspecified] */
static const char *const hf__abo_code[4][3] = {
    {"62", "06", "66"}, {"73", "17", "77"}, {"51", "95", "55"}, {"84", "28", "88"}};

enum { HF__RH_POS, HF__RH_NEG, HF__RH_UNSPEC };
#define HF__NSTYLES 6

/* One station software's way of writing a blood group; every form here is
 * mapped by hf_validate_blood_group (checked by the unit tests). */
static void hf__fmt_group(char out[24], int style, int abo, int rh)
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
static const char *const hf__departments[] = {"心胸外科", "血液科",   "ICU",         "普外科",
                                              "骨科",     "产科",     "急诊科",      "肿瘤科",
                                              "消化内科", "神经外科", "Haematology", "OR"};

/* ==== facility network ==== */

enum { HF__F_BLOOD, HF__F_PLASMA, HF__F_HOSPITAL, HF__F_PLANT };

typedef struct hf__fac_s {
    char id[9];  /* 8-digit facility id, first two = province */
    char fin[6]; /* ISBT 128 facility identification number αpppp */
    uint8_t kind;
    uint8_t prov;
    uint8_t style;  /* blood group text style */
    bool utc_clock; /* exports times in UTC ('Z') */
    bool reports_inventory;
    const char *system;
    const char *lab_system;
    double size_m; /* population served, millions (inventory sizes) */
    int din_year;  /* yy of the current DIN sequence */
    uint32_t din_seq;
    uint32_t *donors; /* indices into sim->donors: this facility's in-window donors */
    size_t ndonors, capdonors;
    char last_patient[19];
    double inv_walk;
} hf__fac_t;

typedef struct hf__net_s {
    hf__fac_t *f;
    size_t n;
    /* per province: first index and count of each kind (facilities are
     * stored grouped by province, then kind) */
    size_t first[HF_SIM_NPROV][4], count[HF_SIM_NPROV][4];
    size_t *plasma; /* indices of every plasma station */
    size_t nplasma;
    size_t *plants;
    size_t nplants;
} hf__net_t;

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
static void hf__net_build(hf__net_t *net)
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

static void hf__net_free(hf__net_t *net)
{
    for (size_t i = 0; i < net->n; i++)
        hf_free(net->f[i].donors);
    hf_free(net->f);
    hf_free(net->plasma);
    hf_free(net->plants);
    memset(net, 0, sizeof(*net));
}

/* ==== records ==== */

#define HF__REC_MAXF 24
#define HF__REC_BUF 1400

enum { HF__OP_CREATE, HF__OP_AMEND, HF__OP_RETRACT };

/* One station record being built: field names (static strings) and values
 * (offsets into buf, -1 = null). Values are only appended; replacing one
 * appends the new text. */
typedef struct hf__rec_s {
    int type; /* index into hf_event_types */
    int op;
    int schema_version; /* 0 = newest */
    bool utc;           /* facility writes times in UTC */
    uint8_t prov;       /* province index of the reporting facility */
    int din_field;      /* index of "din", -1 when none */
    int64_t occurred_us;
    int64_t reported_us;
    char key[9]; /* facility id */
    char event_id[37];
    size_t n;
    const char *name[HF__REC_MAXF];
    int16_t off[HF__REC_MAXF];
    size_t used;
    char buf[HF__REC_BUF];
} hf__rec_t;

static size_t hf__rec_slot(hf__rec_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->name[i], name) == 0)
            return i;
    if (r->n == HF__REC_MAXF)
        abort(); /* a bug: the record layouts below are fixed */
    r->name[r->n] = name;
    return r->n++;
}

static void hf__rec_set(hf__rec_t *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void hf__rec_set(hf__rec_t *r, const char *name, const char *fmt, ...)
{
    size_t i = hf__rec_slot(r, name);
    size_t room = sizeof(r->buf) - r->used;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(r->buf + r->used, room, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= room)
        abort(); /* a bug: values are short and bounded */
    r->off[i] = (int16_t)r->used;
    r->used += (size_t)len + 1;
}

static void hf__rec_null(hf__rec_t *r, const char *name)
{
    r->off[hf__rec_slot(r, name)] = -1;
}

static const char *hf__rec_get(const hf__rec_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->name[i], name) == 0)
            return r->off[i] < 0 ? NULL : r->buf + r->off[i];
    return NULL;
}

static void hf__rec_time(hf__rec_t *r, const char *name, int64_t us)
{
    char t[64];
    hf__fmt_time(t, us, r->utc);
    hf__rec_set(r, name, "%s", t);
}

/* Compact heap copy of a record (only the bytes in use). */
static hf__rec_t *hf__rec_dup(const hf__rec_t *r)
{
    size_t sz = offsetof(hf__rec_t, buf) + r->used;
    hf__rec_t *c = hf_malloc(sz);
    memcpy(c, r, sz);
    return c;
}

static void hf__rec_expand(hf__rec_t *dst, const hf__rec_t *compact)
{
    memcpy(dst, compact, offsetof(hf__rec_t, buf) + compact->used);
}

/* ==== simulation state ==== */

enum { HF__P_WB, HF__P_PLT, HF__P_PLASMA };
enum { HF__C_RED, HF__C_PLASMA, HF__C_CRYO, HF__C_PLT, HF__C_SOURCE, HF__C_WB };

typedef struct hf__donor_s {
    char id[19];
    int32_t birth;
    int32_t last_day;      /* INT32_MIN: never donated */
    int32_t eligible_from; /* deferral: not before this day; INT32_MAX permanent */
    uint8_t sex;           /* 1 male */
    uint8_t abo, rh;
    uint8_t last_proc;
    uint8_t kind; /* 0 blood, 1 plasma */
} hf__donor_t;

typedef struct hf__visit_s {
    int refs;
    uint32_t fac;
    uint32_t donor;
    uint8_t proc;
    uint8_t first_time;
    uint8_t incomplete;
    uint8_t double_dose;
    char ctype;  /* product-code collection type: V D A s */
    int nominal; /* mL (whole blood), or plasma g */
    int volume;
    uint8_t initial_reactive; /* bit per marker */
    bool confirmed;
    char din[14];
    int64_t collected_us;
    int nunits;
    struct hf__unit_s *units[4];
} hf__visit_t;

typedef struct hf__unit_s {
    hf__visit_t *v;
    char product[9];
    char parent[9];
    uint8_t cls;
    int volume;
    int64_t expires_us;
    uint32_t at;   /* facility holding the unit */
    uint32_t from; /* facility it came from (moves) */
} hf__unit_t;

enum {
    HF__J_DAY,
    HF__J_VISIT,
    HF__J_COLLECT,
    HF__J_DONOR_AE,
    HF__J_PROCESS,
    HF__J_SCREEN1,
    HF__J_SCREEN2,
    HF__J_U_ISSUE,
    HF__J_U_TRANSFER,
    HF__J_U_RECEIPT,
    HF__J_U_DISCARD,  /* arg = reason index, station */
    HF__J_U_HOSPITAL, /* at a hospital: transfuse, return or discard */
    HF__J_U_RETURNED, /* back at the station: discard returned_unused */
    HF__J_U_SHIP,     /* source plasma to the fractionation plant */
    HF__J_RECIPIENT_AE,
    HF__J_INVENTORY,
    HF__J_DEFERRED, /* p = hf__rec_t copy, arg = deferred kind */
};

enum { HF__D_LATE, HF__D_RESEND, HF__D_AMEND, HF__D_RETRACT };

typedef struct hf__job_s {
    int64_t t;
    uint64_t seq;
    void *p;
    uint32_t kind;
    uint32_t arg;
} hf__job_t;

typedef struct hf__sim_s {
    const hf_sim_conf_t *conf;
    const hf_sim_sink_t *sink;
    hf_sim_report_t *rep;
    hf__rng_t rng;
    hf__net_t net;
    hf__donor_t *donors;
    size_t ndonors, capdonors;
    hf__job_t *heap;
    size_t nheap, capheap;
    uint64_t seq;
    int64_t start_us, end_us; /* window [start, end): only events occurring here are sent */
    int32_t first_day, last_day;
    int32_t sim_first_day; /* first_day - warm-up: chains already in flight at start */
    double visits_total;   /* visits to spread over the window */
    double visits_cum;     /* running sum for integer per-day counts */
    double day_weight_sum;
    bool counting; /* pilot: count chain events, emit nothing */
    uint64_t pilot_events;
    hf_err_t stop;  /* first fatal sink error */
    hf__rec_t rec;  /* scratch record */
    hf__rec_t rec2; /* scratch for amendments */
    uint64_t frame_fp[HF_SIM_NTYPES]; /* newest writer fingerprint of each type (catalogue):
                                         the header of truncated frames */
} hf__sim_t;

/* ==== heap ==== */

static bool hf__job_less(const hf__job_t *a, const hf__job_t *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

/* Schedule a job; false (and nothing scheduled) when t is past the window. */
static bool hf__push(hf__sim_t *s, int64_t t, uint32_t kind, void *p, uint32_t arg)
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
static void hf__push_v(hf__sim_t *s, int64_t t, uint32_t kind, hf__visit_t *v, void *p,
                       uint32_t arg)
{
    if (hf__push(s, t, kind, p ? p : v, arg))
        v->refs++;
}

/* ==== identifiers ==== */

static void hf__uuid4(hf__rng_t *r, char out[37])
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
static void hf__make_id(hf__rng_t *r, char out[19], size_t p, int32_t birth, bool male, bool legacy)
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

static size_t hf__pick_province(hf__rng_t *r)
{
    double w[HF_SIM_NPROV];
    for (size_t i = 0; i < HF_SIM_NPROV; i++)
        w[i] = hf__provs[i].pop_k;
    return hf__pick(r, w, HF_SIM_NPROV);
}

/* Next DIN of a collecting facility: FIN + nominal year + 6-digit sequence. */
static void hf__next_din(hf__sim_t *s, hf__fac_t *f, int64_t at_us, char out[14])
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

/* ==== emitting ==== */

static int hf__type_index(const char *name)
{
    for (size_t i = 0; i < hf_event_types_count; i++)
        if (strcmp(hf_event_types[i].name, name) == 0)
            return (int)i;
    return -1;
}

enum {
    HF__T_REG,
    HF__T_ELIG,
    HF__T_DON,
    HF__T_SCR,
    HF__T_COMP,
    HF__T_INV,
    HF__T_MOVE,
    HF__T_DISC,
    HF__T_TRANSF,
    HF__T_AE
};

static bool hf__selected(const hf__sim_t *s, int type)
{
    return s->conf->types_mask == 0 || (s->conf->types_mask & (1u << type));
}

/* Start a record of event type t for facility f at occurred_us. */
static hf__rec_t *hf__rec_begin(hf__sim_t *s, int type, const hf__fac_t *f, int64_t occurred_us,
                                bool lab)
{
    hf__rec_t *r = &s->rec;
    r->type = type;
    r->op = HF__OP_CREATE;
    r->schema_version = 0;
    r->utc = f->utc_clock;
    r->prov = f->prov;
    r->din_field = -1;
    r->n = 0;
    r->used = 0;
    r->occurred_us = occurred_us;
    /* reporting delay: seconds to ten minutes, capped at the window end */
    int64_t rep = occurred_us + hf__range(&s->rng, 2 * HF__SEC, 10 * HF__MIN);
    if (rep >= s->end_us)
        rep = s->end_us - 1;
    if (rep < occurred_us)
        rep = occurred_us;
    r->reported_us = rep;
    snprintf(r->key, sizeof(r->key), "%s", f->id);
    hf__uuid4(&s->rng, r->event_id);
    hf__rec_set(r, "event_id", "%s", r->event_id);
    hf__rec_set(r, "source_system", "%s", lab ? f->lab_system : f->system);
    hf__rec_set(r, "facility_id", "%s", f->id);
    hf__rec_set(r, "province_code", "%s", hf_provinces[f->prov].code);
    hf__rec_time(r, "occurred_at", occurred_us);
    hf__rec_time(r, "reported_at", rep);
    hf__rec_set(r, "revision", "0");
    hf__rec_set(r, "op", "create");
    hf__rec_null(r, "supersedes_event_id");
    return r;
}

static void hf__rec_din(hf__rec_t *r, const char *din)
{
    r->din_field = (int)r->n;
    hf__rec_set(r, "din", "%s", din);
}

static void hf__note_reject(hf__sim_t *s, const hf__rec_t *r, const hf_reject_t *rej)
{
    if (s->rep->first_reject[0])
        return;
    hf__sfmt(s->rep->first_reject, sizeof(s->rep->first_reject), "%s: %s %s %s",
             hf_event_types[r->type].name, rej->reason ? rej->reason : "?", rej->field,
             rej->detail);
}

/* Hand one record to the sink. Returns true when accepted. */
static bool hf__submit(hf__sim_t *s, const hf__rec_t *r, bool skip_validation)
{
    if (s->stop)
        return false;
    hf_field_t fields[HF__REC_MAXF];
    for (size_t i = 0; i < r->n; i++) {
        fields[i].name = r->name[i];
        fields[i].value = r->off[i] < 0 ? NULL : r->buf + r->off[i];
    }
    hf_submit_opts_t opts = {.schema_version = r->schema_version,
                             .skip_validation = skip_validation};
    hf_reject_t rej;
    memset(&rej, 0, sizeof(rej));
    hf_err_t err =
        s->sink->submit(s->sink->opaque, hf_event_types[r->type].name, fields, r->n, &opts, &rej);
    if (err == HF_OK) {
        s->rep->type[r->type].messages++;
        s->rep->messages_total++;
        return true;
    }
    if (err == HF_ERR_INVALID) {
        s->rep->type[r->type].rejected++;
        hf__note_reject(s, r, &rej);
        return false;
    }
    s->stop = err;
    return false;
}

static bool hf__submit_raw(hf__sim_t *s, int type, const char *key, const void *p, size_t len)
{
    if (s->stop)
        return false;
    hf_err_t err = s->sink->submit_raw(s->sink->opaque, hf_event_types[type].name, key, p, len);
    if (err == HF_OK) {
        s->rep->type[type].messages++;
        s->rep->messages_total++;
        return true;
    }
    if (err == HF_ERR_INVALID) {
        s->rep->type[type].rejected++;
        return false;
    }
    s->stop = err;
    return false;
}

/* A distinct valid event (create, amend or retract) was accepted. */
static void hf__count_valid(hf__sim_t *s, const hf__rec_t *r)
{
    hf_sim_type_counts_t *c = &s->rep->type[r->type];
    if (r->op == HF__OP_CREATE)
        c->created++;
    else if (r->op == HF__OP_AMEND)
        c->amendments++;
    else
        c->retractions++;
    if (r->schema_version != 0)
        c->old_schema++;
    s->rep->rows_by_province[r->prov]++;
}

/* One malformed frame: half "bad magic" (text that a broken exporter or a
 * wrong producer would send: first byte never 0xC3), half "truncated" (a
 * real header and a body cut inside its first field, or a header cut short). */
static void hf__inject_malformed(hf__sim_t *s, const hf__rec_t *r)
{
    uint8_t buf[128];
    size_t len;
    hf_sim_type_counts_t *c = &s->rep->type[r->type];
    if (hf__chance(&s->rng, 0.5)) {
        int n = snprintf((char *)buf, sizeof(buf), "%s,%s,%s,oops", r->event_id, r->key,
                         hf_event_types[r->type].name);
        len = (size_t)n;
        if (hf__chance(&s->rng, 0.3)) { /* a JSON body instead of Avro */
            n = snprintf((char *)buf, sizeof(buf), "{\"event_id\":\"%s\"}", r->event_id);
            len = (size_t)n;
        }
        if (hf__submit_raw(s, r->type, r->key, buf, len))
            c->malformed_bad_magic++;
        return;
    }
    hf_frame_header(buf, s->frame_fp[r->type]);
    if (hf__chance(&s->rng, 0.25)) {
        len = (size_t)hf__range(&s->rng, 2, 9); /* header cut short */
    } else {
        /* event_id is the first field: a string of 36 bytes (zigzag 72) of
         * which only a few arrive */
        size_t keep = (size_t)hf__range(&s->rng, 0, 20);
        buf[10] = 0x48;
        memcpy(buf + 11, r->event_id, keep);
        len = 11 + keep;
    }
    if (hf__submit_raw(s, r->type, r->key, buf, len))
        c->malformed_truncated++;
}

static void hf__inject_unknown_fp(hf__sim_t *s, const hf__rec_t *r)
{
    uint8_t buf[10 + 96];
    uint64_t fp;
    hf_catalog_info_t info;
    do /* a fingerprint the catalogue knows is not "unknown" */
        fp = hf__next(&s->rng);
    while (hf_catalog_find(s->conf->catalog, fp, &info) == HF_OK);
    hf_frame_header(buf, fp);
    /* body: an Avro-looking string then random bytes (a writer schema from a
     * newer station version the consumer has never seen) */
    buf[10] = 0x48;
    memcpy(buf + 11, r->event_id, 36);
    size_t extra = (size_t)hf__range(&s->rng, 4, 48);
    for (size_t i = 0; i < extra; i++)
        buf[47 + i] = (uint8_t)hf__next(&s->rng);
    if (hf__submit_raw(s, r->type, r->key, buf, 47 + extra))
        s->rep->type[r->type].unknown_fp++;
}

/* Send r with an invalid DIN (instead of the valid record). */
static void hf__emit_bad_din(hf__sim_t *s, hf__rec_t *r)
{
    const char *din = hf__rec_get(r, "din");
    char bad[16];
    bool check = hf__chance(&s->rng, 0.5);
    if (check) {
        char good = hf_validate_din_check_char(din);
        const char *alpha = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*";
        char wrong;
        do
            wrong = alpha[hf__range(&s->rng, 0, 36)];
        while (wrong == good);
        snprintf(bad, sizeof(bad), "%s%c", din, wrong);
    } else {
        snprintf(bad, sizeof(bad), "%s", din);
        switch (hf__range(&s->rng, 0, 3)) {
        case 0:
            bad[0] = 'O';
            break; /* letter O never allowed */
        case 1:
            bad[0] = (char)(bad[0] - 'A' + 'a');
            break; /* lower case */
        case 2:
            bad[12] = '\0';
            break; /* 12 characters */
        default:
            bad[9] = 'X';
            break; /* letter in the sequence */
        }
    }
    hf__rec_set(r, "din", "%s", bad);
    if (hf__submit(s, r, true)) {
        s->rep->type[r->type].bad_din++;
        if (check)
            s->rep->type[r->type].bad_din_check++;
        else
            s->rep->type[r->type].bad_din_format++;
    }
}

/* Turn r (a copy of an accepted event) into its amendment or retraction. */
static void hf__make_correction(hf__sim_t *s, hf__rec_t *r, bool retract, int64_t at)
{
    char prev[37];
    snprintf(prev, sizeof(prev), "%s", r->event_id);
    hf__uuid4(&s->rng, r->event_id);
    hf__rec_set(r, "event_id", "%s", r->event_id);
    hf__rec_set(r, "revision", "1");
    hf__rec_set(r, "op", "%s", retract ? "retract" : "amend");
    hf__rec_set(r, "supersedes_event_id", "%s", prev);
    r->op = retract ? HF__OP_RETRACT : HF__OP_AMEND;
    r->reported_us = at;
    hf__rec_time(r, "reported_at", at);
    if (retract)
        return; /* a retraction repeats the withdrawn business fields */
    /* an amendment corrects something visible where the type has a natural
     * candidate; otherwise it re-sends the record as corrected upstream */
    const char *v;
    switch (r->type) {
    case HF__T_DON:
        if ((v = hf__rec_get(r, "volume_ml")) && strcmp(v, "400") == 0 &&
            strcmp(hf__rec_get(r, "procedure"), "whole_blood") == 0)
            hf__rec_set(r, "volume_ml", "300");
        else if ((v = hf__rec_get(r, "volume_ml")) && strcmp(v, "300") == 0 &&
                 strcmp(hf__rec_get(r, "procedure"), "whole_blood") == 0)
            hf__rec_set(r, "volume_ml", "400");
        break;
    case HF__T_ELIG:
        if ((v = hf__rec_get(r, "hb_g_per_l")))
            hf__rec_set(r, "hb_g_per_l", "%d", atoi(v) + 2);
        break;
    case HF__T_INV:
        if ((v = hf__rec_get(r, "on_hand")))
            hf__rec_set(r, "on_hand", "%d", atoi(v) + 1);
        break;
    case HF__T_TRANSF:
        if ((v = hf__rec_get(r, "volume_ml")))
            hf__rec_set(r, "volume_ml", "%d", atoi(v) > 20 ? atoi(v) - 10 : atoi(v));
        break;
    default:
        break;
    }
}

/* Accepted-event follow-ups: resend, correction, raw faults. */
static void hf__after_valid(hf__sim_t *s, const hf__rec_t *r)
{
    const hf_sim_conf_t *c = s->conf;
    if (hf__chance(&s->rng, c->dup_rate)) {
        /* the station resends after a timeout or a restart: same bytes */
        int64_t at = r->reported_us + hf__range(&s->rng, 1 * HF__SEC, 30 * HF__MIN);
        if (at >= s->end_us)
            at = r->reported_us;
        hf__rec_t *copy = hf__rec_dup(r);
        if (!hf__push(s, at, HF__J_DEFERRED, copy, HF__D_RESEND))
            hf_free(copy);
    }
    double u = hf__unif(&s->rng);
    if (u < c->amend_rate + c->retract_rate) {
        bool retract = u >= c->amend_rate;
        int64_t at = r->reported_us + hf__range(&s->rng, 1 * HF__HOUR, 3 * HF__DAY);
        if (at < s->end_us) {
            hf__rec_expand(&s->rec2, r);
            hf__make_correction(s, &s->rec2, retract, at);
            hf__rec_t *copy = hf__rec_dup(&s->rec2);
            hf__push(s, at, HF__J_DEFERRED, copy, retract ? HF__D_RETRACT : HF__D_AMEND);
        }
    }
    if (hf__chance(&s->rng, c->malformed_rate))
        hf__inject_malformed(s, r);
    if (hf__chance(&s->rng, c->unknown_fp_rate))
        hf__inject_unknown_fp(s, r);
}

/* Send a valid record now; count it and run the follow-ups. */
static void hf__send_valid(hf__sim_t *s, const hf__rec_t *r, bool late)
{
    if (!hf__submit(s, r, false))
        return;
    hf__count_valid(s, r);
    if (late)
        s->rep->type[r->type].late++;
    if (r->op == HF__OP_CREATE)
        hf__after_valid(s, r);
}

/* The record in s->rec is complete: apply the create-time faults and send
 * it (or schedule it, when it is reported late). */
static void hf__emit(hf__sim_t *s)
{
    hf__rec_t *r = &s->rec;
    if (r->occurred_us < s->start_us)
        return; /* warm-up */
    if (r->occurred_us >= s->end_us)
        return; /* a step's later events (assessment, markers, components) past the cap */
    if (s->counting) {
        if (hf__selected(s, r->type))
            s->pilot_events++;
        return;
    }
    if (!hf__selected(s, r->type) || s->stop)
        return;
    const hf_sim_conf_t *c = s->conf;
    if (r->type == HF__T_DON && hf__chance(&s->rng, c->old_schema_rate)) {
        r->schema_version = 1;
        /* v1 has no anticoagulant_ml: leave the column out */
        for (size_t i = 0; i < r->n; i++) {
            if (strcmp(r->name[i], "anticoagulant_ml") == 0) {
                memmove(&r->name[i], &r->name[i + 1], (r->n - i - 1) * sizeof(r->name[0]));
                memmove(&r->off[i], &r->off[i + 1], (r->n - i - 1) * sizeof(r->off[0]));
                r->n--;
                break;
            }
        }
    }
    if (r->din_field >= 0 && hf__chance(&s->rng, c->bad_din_rate)) {
        hf__emit_bad_din(s, r);
        return;
    }
    if (hf__chance(&s->rng, c->late_rate)) {
        int64_t late = hf__range(&s->rng, 36 * HF__HOUR, 30 * HF__DAY);
        if (r->occurred_us + late >= s->end_us)
            late = s->end_us - 1 - r->occurred_us;
        if (late >= HF__DAY) {
            r->reported_us = r->occurred_us + late;
            hf__rec_time(r, "reported_at", r->reported_us);
            hf__rec_t *copy = hf__rec_dup(r);
            if (!hf__push(s, r->reported_us, HF__J_DEFERRED, copy, HF__D_LATE))
                hf_free(copy);
            return;
        }
    }
    hf__send_valid(s, r, false);
}

static void hf__run_deferred(hf__sim_t *s, hf__rec_t *copy, uint32_t kind)
{
    if (s->counting || s->stop) {
        hf_free(copy);
        return;
    }
    if (kind == HF__D_RESEND) {
        if (hf__submit(s, copy, false))
            s->rep->type[copy->type].resends++;
    } else {
        hf__rec_expand(&s->rec, copy);
        hf__send_valid(s, &s->rec, kind == HF__D_LATE);
    }
    hf_free(copy);
}

/* ==== donors ==== */

static uint32_t hf__donor_new(hf__sim_t *s, hf__fac_t *f, int kind, int32_t today)
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
static int hf__min_interval(int last, int next)
{
    if (last == HF__P_PLASMA)
        return 15; /* 14 days, counted from the day after */
    if (last == HF__P_WB)
        return next == HF__P_WB ? 180 : 90;
    return next == HF__P_PLT ? 14 : 28;
}

/* An earlier in-window donor of this facility who may donate today, or -1. */
static int64_t hf__donor_repeat(hf__sim_t *s, hf__fac_t *f, int proc, int32_t today)
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

/* ==== chain steps ==== */

static hf__fac_t *hf__fac(hf__sim_t *s, uint32_t i)
{
    return &s->net.f[i];
}

static uint32_t hf__pick_kind(hf__sim_t *s, size_t prov, int kind)
{
    size_t n = s->net.count[prov][kind];
    return (uint32_t)(s->net.first[prov][kind] + (size_t)hf__range(&s->rng, 0, (int64_t)n - 1));
}

static const char *hf__deferral_reasons[] = {
    "low_hb",        "high_blood_pressure", "recent_cold",   "medication",
    "recent_travel", "low_weight",          "recent_tattoo", "alcohol"};
static const double hf__deferral_w[] = {0.35, 0.15, 0.15, 0.10, 0.05, 0.05, 0.05, 0.10};
static const int hf__deferral_days[][2] = {{30, 90},  {7, 30},   {7, 14},    {7, 30},
                                           {28, 180}, {90, 180}, {180, 365}, {1, 3}};
static const char *hf__permanent_reasons[] = {"hbv_carrier", "heart_disease", "high_risk_behaviour",
                                              "chronic_disease"};

static void hf__step_visit(hf__sim_t *s, int64_t t, hf__visit_t *v)
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

static void hf__step_collect(hf__sim_t *s, int64_t t, hf__visit_t *v)
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
static void hf__emit_ae(hf__sim_t *s, const hf__fac_t *f, int64_t t, bool donor, const char *dins,
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

static void hf__step_donor_ae(hf__sim_t *s, int64_t t, hf__visit_t *v)
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

static void hf__emit_discard(hf__sim_t *s, int64_t t, const hf__unit_t *u, uint32_t fac,
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

static void hf__step_process(hf__sim_t *s, int64_t t, hf__visit_t *v)
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

static void hf__step_screen1(hf__sim_t *s, int64_t t, hf__visit_t *v)
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

static void hf__step_screen2(hf__sim_t *s, int64_t t, hf__visit_t *v)
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

static void hf__step_unit(hf__sim_t *s, const hf__job_t *j)
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

/* ==== inventory ==== */

static void hf__step_inventory(hf__sim_t *s, int64_t t, uint32_t fi)
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

static int hf__inventory_lines(const hf__fac_t *f)
{
    return f->kind == HF__F_BLOOD      ? 16
           : f->kind == HF__F_HOSPITAL ? 12
           : f->kind == HF__F_PLASMA   ? 4
                                       : 0;
}

/* ==== days and visits ==== */

/* Visits start this many days before the window so that the window sees
 * chains in steady state (units issued, transfused, discarded) from its
 * first day; events that occur before the window are not sent. */
#define HF__WARMUP_DAYS 21

static double hf__day_weight(int32_t day)
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

static void hf__step_day(hf__sim_t *s, int32_t day)
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
            return hf_err_set(HF_ERR_USAGE, errstr, errstr_size, "no schema for %s in the catalogue",
                              hf_event_types[i].name);

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

/* ==== report ==== */

static json_t *hf__u64(uint64_t v)
{
    return json_integer((json_int_t)v);
}

char *hf_sim_report_json(const hf_sim_report_t *rep, const hf_sim_conf_t *conf)
{
    json_t *root = json_object();
    json_t *jc = json_object();
    char ed[11];
    hf_cal_date_format(conf->end_date, ed);
    json_object_set_new(jc, "seed", hf__u64(conf->seed));
    json_object_set_new(jc, "count", hf__u64(conf->count));
    json_object_set_new(jc, "days", json_integer(conf->days));
    json_object_set_new(jc, "end_date", json_string(ed));
    json_t *jt = json_array();
    for (size_t i = 0; i < HF_SIM_NTYPES; i++)
        if (!conf->types_mask || (conf->types_mask & (1u << i)))
            json_array_append_new(jt, json_string(hf_event_types[i].name));
    json_object_set_new(jc, "types", jt);
    json_t *jr = json_object();
    json_object_set_new(jr, "dup", json_real(conf->dup_rate));
    json_object_set_new(jr, "late", json_real(conf->late_rate));
    json_object_set_new(jr, "amend", json_real(conf->amend_rate));
    json_object_set_new(jr, "retract", json_real(conf->retract_rate));
    json_object_set_new(jr, "malformed", json_real(conf->malformed_rate));
    json_object_set_new(jr, "unknown_fp", json_real(conf->unknown_fp_rate));
    json_object_set_new(jr, "bad_din", json_real(conf->bad_din_rate));
    json_object_set_new(jr, "old_schema", json_real(conf->old_schema_rate));
    json_object_set_new(jc, "rates", jr);
    json_object_set_new(root, "config", jc);

    json_t *types = json_object();
    json_t *rows = json_object();
    hf_sim_type_counts_t tot;
    memset(&tot, 0, sizeof(tot));
    for (size_t i = 0; i < HF_SIM_NTYPES; i++) {
        const hf_sim_type_counts_t *c = &rep->type[i];
        json_t *o = json_object();
        uint64_t distinct = c->created + c->amendments + c->retractions;
        json_object_set_new(o, "topic_suffix", json_string(hf_event_types[i].snake));
        json_object_set_new(o, "distinct_valid", hf__u64(distinct));
        json_object_set_new(o, "created", hf__u64(c->created));
        json_object_set_new(o, "amendments", hf__u64(c->amendments));
        json_object_set_new(o, "retractions", hf__u64(c->retractions));
        json_object_set_new(o, "resends", hf__u64(c->resends));
        json_object_set_new(o, "late", hf__u64(c->late));
        json_object_set_new(o, "old_schema", hf__u64(c->old_schema));
        json_object_set_new(o, "bad_din", hf__u64(c->bad_din));
        json_object_set_new(o, "bad_din_format", hf__u64(c->bad_din_format));
        json_object_set_new(o, "bad_din_check", hf__u64(c->bad_din_check));
        json_object_set_new(o, "malformed",
                            hf__u64(c->malformed_bad_magic + c->malformed_truncated));
        json_object_set_new(o, "malformed_bad_magic", hf__u64(c->malformed_bad_magic));
        json_object_set_new(o, "malformed_truncated", hf__u64(c->malformed_truncated));
        json_object_set_new(o, "unknown_fingerprint", hf__u64(c->unknown_fp));
        json_object_set_new(o, "rejected", hf__u64(c->rejected));
        json_object_set_new(o, "messages", hf__u64(c->messages));
        json_object_set_new(types, hf_event_types[i].name, o);
        json_object_set_new(rows, hf_event_types[i].snake, hf__u64(distinct));
        tot.created += c->created;
        tot.amendments += c->amendments;
        tot.retractions += c->retractions;
        tot.resends += c->resends;
        tot.late += c->late;
        tot.old_schema += c->old_schema;
        tot.bad_din += c->bad_din;
        tot.bad_din_format += c->bad_din_format;
        tot.bad_din_check += c->bad_din_check;
        tot.malformed_bad_magic += c->malformed_bad_magic;
        tot.malformed_truncated += c->malformed_truncated;
        tot.unknown_fp += c->unknown_fp;
        tot.rejected += c->rejected;
        tot.messages += c->messages;
    }
    json_object_set_new(root, "event_types", types);

    json_t *t = json_object();
    json_object_set_new(t, "messages", hf__u64(tot.messages));
    json_object_set_new(t, "distinct_valid",
                        hf__u64(tot.created + tot.amendments + tot.retractions));
    json_object_set_new(t, "created", hf__u64(tot.created));
    json_object_set_new(t, "amendments", hf__u64(tot.amendments));
    json_object_set_new(t, "retractions", hf__u64(tot.retractions));
    json_object_set_new(t, "resends", hf__u64(tot.resends));
    json_object_set_new(t, "late", hf__u64(tot.late));
    json_object_set_new(t, "old_schema", hf__u64(tot.old_schema));
    json_object_set_new(t, "malformed", hf__u64(tot.malformed_bad_magic + tot.malformed_truncated));
    json_object_set_new(t, "malformed_bad_magic", hf__u64(tot.malformed_bad_magic));
    json_object_set_new(t, "malformed_truncated", hf__u64(tot.malformed_truncated));
    json_object_set_new(t, "unknown_fingerprint", hf__u64(tot.unknown_fp));
    json_object_set_new(t, "bad_din", hf__u64(tot.bad_din));
    json_object_set_new(t, "rejected", hf__u64(tot.rejected));
    json_object_set_new(root, "totals", t);

    json_object_set_new(root, "expected_warehouse_rows", rows);
    json_t *pr = json_object();
    for (size_t i = 0; i < HF_SIM_NPROV; i++)
        if (rep->rows_by_province[i])
            json_object_set_new(pr, hf_provinces[i].code, hf__u64(rep->rows_by_province[i]));
    json_object_set_new(root, "expected_warehouse_rows_by_province", pr);

    json_t *q = json_object();
    json_object_set_new(q, "malformed_frame",
                        hf__u64(tot.malformed_bad_magic + tot.malformed_truncated));
    json_object_set_new(q, "unknown_fingerprint", hf__u64(tot.unknown_fp));
    json_object_set_new(q, "invalid_din", hf__u64(tot.bad_din));
    json_object_set_new(root, "expected_quarantine", q);
    json_t *qd = json_object();
    json_object_set_new(qd, "bad_magic", hf__u64(tot.malformed_bad_magic));
    json_object_set_new(qd, "truncated", hf__u64(tot.malformed_truncated));
    json_object_set_new(qd, "unknown_fingerprint", hf__u64(tot.unknown_fp));
    json_object_set_new(qd, "din_format", hf__u64(tot.bad_din_format));
    json_object_set_new(qd, "din_check", hf__u64(tot.bad_din_check));
    json_object_set_new(root, "expected_quarantine_detail", qd);

    json_t *m = json_object();
    json_object_set_new(m, "visits", hf__u64(rep->visits));
    json_object_set_new(m, "donors_registered", hf__u64(rep->donors_registered));
    json_object_set_new(m, "deferrals", hf__u64(rep->deferrals));
    json_object_set_new(m, "donations_whole_blood", hf__u64(rep->donations_whole_blood));
    json_object_set_new(m, "donations_platelets", hf__u64(rep->donations_platelets));
    json_object_set_new(m, "donations_plasma", hf__u64(rep->donations_plasma));
    json_object_set_new(m, "facilities_blood", hf__u64(rep->facilities_blood));
    json_object_set_new(m, "facilities_plasma", hf__u64(rep->facilities_plasma));
    json_object_set_new(m, "facilities_hospital", hf__u64(rep->facilities_hospital));
    json_object_set_new(m, "facilities_reporting_inventory",
                        hf__u64(rep->facilities_reporting_inventory));
    json_object_set_new(root, "model", m);
    json_object_set_new(root, "stopped", json_boolean(rep->stopped));
    if (rep->first_reject[0])
        json_object_set_new(root, "first_reject", json_string(rep->first_reject));

    char *txt = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(root);
    if (!txt)
        abort(); /* jansson only fails on allocation */
    char *out = hf_strdup(txt);
    free(txt);
    return out;
}

hf_err_t hf_sim_report_write(const hf_sim_report_t *report, const hf_sim_conf_t *conf,
                             const char *path, char *errstr, size_t errstr_size)
{
    char *txt = hf_sim_report_json(report, conf);
    FILE *f = fopen(path, "w");
    if (!f) {
        hf_free(txt);
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "report %s: %s", path, strerror(errno));
    }
    bool ok = fputs(txt, f) >= 0 && fputc('\n', f) != EOF;
    ok = (fclose(f) == 0) && ok;
    hf_free(txt);
    if (!ok)
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "report %s: write failed: %s", path,
                          strerror(errno));
    return HF_OK;
}

void hf_sim_report_print(const hf_sim_report_t *rep, FILE *out)
{
    fprintf(out, "%-26s %8s %7s %7s %7s %7s %6s %6s %7s %6s %6s %8s\n", "event type", "created",
            "amend", "retract", "resend", "late", "oldsch", "baddin", "malform", "unkfp", "reject",
            "messages");
    hf_sim_type_counts_t tot;
    memset(&tot, 0, sizeof(tot));
    for (size_t i = 0; i < HF_SIM_NTYPES; i++) {
        const hf_sim_type_counts_t *c = &rep->type[i];
        uint64_t mal = c->malformed_bad_magic + c->malformed_truncated;
        fprintf(out,
                "%-26s %8" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %6" PRIu64
                " %6" PRIu64 " %7" PRIu64 " %6" PRIu64 " %6" PRIu64 " %8" PRIu64 "\n",
                hf_event_types[i].name, c->created, c->amendments, c->retractions, c->resends,
                c->late, c->old_schema, c->bad_din, mal, c->unknown_fp, c->rejected, c->messages);
        tot.created += c->created;
        tot.amendments += c->amendments;
        tot.retractions += c->retractions;
        tot.resends += c->resends;
        tot.late += c->late;
        tot.old_schema += c->old_schema;
        tot.bad_din += c->bad_din;
        tot.malformed_bad_magic += mal;
        tot.unknown_fp += c->unknown_fp;
        tot.rejected += c->rejected;
        tot.messages += c->messages;
    }
    fprintf(out,
            "%-26s %8" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %6" PRIu64
            " %6" PRIu64 " %7" PRIu64 " %6" PRIu64 " %6" PRIu64 " %8" PRIu64 "\n",
            "total", tot.created, tot.amendments, tot.retractions, tot.resends, tot.late,
            tot.old_schema, tot.bad_din, tot.malformed_bad_magic, tot.unknown_fp, tot.rejected,
            tot.messages);
    fprintf(out,
            "expected warehouse rows %" PRIu64 "; expected quarantine: malformed_frame %" PRIu64
            ", unknown_fingerprint %" PRIu64 ", invalid_din %" PRIu64 "\n",
            tot.created + tot.amendments + tot.retractions, tot.malformed_bad_magic, tot.unknown_fp,
            tot.bad_din);
    fprintf(out,
            "model: %" PRIu64 " visits, %" PRIu64 " new donors, %" PRIu64 " deferrals, donations "
            "%" PRIu64 " whole blood / %" PRIu64 " platelets / %" PRIu64
            " plasma; facilities %" PRIu64 " blood stations, %" PRIu64 " plasma stations, %" PRIu64
            " hospitals (%" PRIu64 " reporting inventory)\n",
            rep->visits, rep->donors_registered, rep->deferrals, rep->donations_whole_blood,
            rep->donations_platelets, rep->donations_plasma, rep->facilities_blood,
            rep->facilities_plasma, rep->facilities_hospital, rep->facilities_reporting_inventory);
    if (rep->first_reject[0])
        fprintf(out, "first rejection: %s\n", rep->first_reject);
    if (rep->stopped)
        fprintf(out, "stopped early: the counts above are what was sent before the stop\n");
}

/* ==== CSV sink ==== */

/* Station export columns per event type (docs/events.md), hf_event_types
 * order; the envelope columns come first for every type. */
static const char *const hf__env_cols[] = {
    "event_id",    "source_system", "facility_id", "province_code",       "occurred_at",
    "reported_at", "revision",      "op",          "supersedes_event_id", NULL};
static const char *const *const hf__type_cols[HF_SIM_NTYPES] = {
    (const char *const[]){"donor_id", "birth_date", "sex", "donor_kind", NULL},
    (const char *const[]){"donor_id", "outcome", "deferral_reason", "deferral_until", "hb_g_per_l",
                          "weight_kg", "first_time", NULL},
    (const char *const[]){"schema_version", "din", "donor_id", "procedure", "collection_type",
                          "volume_ml", "plasma_g", "interval_days_since_last", "incomplete",
                          "anticoagulant_ml", NULL},
    (const char *const[]){"din", "marker", "method", "kit_lot", "result", "value", "is_final",
                          NULL},
    (const char *const[]){"din", "product_code", "parent_product_code", "abo_rhd", "volume_ml",
                          "expires_at", NULL},
    (const char *const[]){"snapshot_at", "product_class", "abo_rhd", "on_hand", "quarantined",
                          NULL},
    (const char *const[]){"din", "product_code", "movement", "from_facility_id", "to_facility_id",
                          "from_province_code", "to_province_code", NULL},
    (const char *const[]){"din", "product_code", "stage", "reason", NULL},
    (const char *const[]){"din", "product_code", "hospital_id", "patient_id", "department",
                          "started_at", "ended_at", "volume_ml", NULL},
    (const char *const[]){"subject", "dins", "category", "severity", "imputability",
                          "onset_minutes", "outcome", "report_status", NULL},
};

/* DonationCollected rows written with schema v1 go to their own file with
 * the v1 columns (publish refuses a column the writer schema lacks). */
static const char *const hf__don_v1_cols[] = {
    "schema_version",  "din",       "donor_id", "procedure",
    "collection_type", "volume_ml", "plasma_g", "interval_days_since_last",
    "incomplete",      NULL};
#define HF__CSV_DON_V1 HF_SIM_NTYPES /* file slot of DonationCollected.v1.csv */

struct hf_sim_csv_s {
    char *dir;
    FILE *f[HF_SIM_NTYPES + 1];
    FILE *raw;
    hf_err_t err;
    char errmsg[256];
};

hf_sim_csv_t *hf_sim_csv_new(const char *dir, char *errstr, size_t errstr_size)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        hf_err_set(HF_ERR_IO, errstr, errstr_size, "output %s: %s", dir, strerror(errno));
        return NULL;
    }
    hf_sim_csv_t *c = hf_calloc(1, sizeof(*c));
    c->dir = hf_strdup(dir);
    return c;
}

static void hf__csv_cell(FILE *f, const char *v)
{
    if (!v)
        return;
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static const char *const *hf__csv_cols(int slot)
{
    return slot == HF__CSV_DON_V1 ? hf__don_v1_cols : hf__type_cols[slot];
}

static FILE *hf__csv_file(hf_sim_csv_t *c, int slot)
{
    if (c->f[slot])
        return c->f[slot];
    char *path = slot == HF__CSV_DON_V1
                     ? hf_asprintf("%s/DonationCollected.v1.csv", c->dir)
                     : hf_asprintf("%s/%s.csv", c->dir, hf_event_types[slot].name);
    FILE *f = fopen(path, "w");
    if (!f) {
        c->err =
            hf_err_set(HF_ERR_IO, c->errmsg, sizeof(c->errmsg), "%s: %s", path, strerror(errno));
        hf_free(path);
        return NULL;
    }
    hf_free(path);
    bool first = true;
    for (const char *const *col = hf__env_cols; *col; col++, first = false)
        fprintf(f, "%s%s", first ? "" : ",", *col);
    for (const char *const *col = hf__csv_cols(slot); *col; col++)
        fprintf(f, ",%s", *col);
    fputc('\n', f);
    c->f[slot] = f;
    return f;
}

static hf_err_t hf__csv_submit(void *opaque, const char *event_type, const hf_field_t *fields,
                               size_t nfields, const hf_submit_opts_t *opts, hf_reject_t *reject)
{
    (void)reject;
    hf_sim_csv_t *c = opaque;
    int type = hf__type_index(event_type);
    if (type < 0)
        return HF_ERR_INTERNAL;
    int slot = type == HF__T_DON && opts && opts->schema_version == 1 ? HF__CSV_DON_V1 : type;
    FILE *f = hf__csv_file(c, slot);
    if (!f)
        return c->err;
    const char *const *lists[2] = {hf__env_cols, hf__csv_cols(slot)};
    bool first = true;
    for (int l = 0; l < 2; l++) {
        for (const char *const *col = lists[l]; *col; col++, first = false) {
            if (!first)
                fputc(',', f);
            if (strcmp(*col, "schema_version") == 0) {
                if (opts && opts->schema_version)
                    fprintf(f, "%d", opts->schema_version);
                continue;
            }
            for (size_t i = 0; i < nfields; i++)
                if (strcmp(fields[i].name, *col) == 0)
                    hf__csv_cell(f, fields[i].value);
        }
    }
    fputc('\n', f);
    if (ferror(f))
        return hf_err_set(HF_ERR_IO, c->errmsg, sizeof(c->errmsg), "%s/%s.csv: write error", c->dir,
                          event_type);
    return HF_OK;
}

static hf_err_t hf__csv_raw(void *opaque, const char *event_type, const char *key,
                            const void *payload, size_t len)
{
    hf_sim_csv_t *c = opaque;
    if (!c->raw) {
        char *path = hf_asprintf("%s/raw_frames.jsonl", c->dir);
        c->raw = fopen(path, "w");
        if (!c->raw) {
            hf_err_t e = hf_err_set(HF_ERR_IO, c->errmsg, sizeof(c->errmsg), "%s: %s", path,
                                    strerror(errno));
            hf_free(path);
            return e;
        }
        hf_free(path);
    }
    fprintf(c->raw, "{\"event_type\":\"%s\",\"key\":\"%s\",\"payload_hex\":\"", event_type, key);
    for (size_t i = 0; i < len; i++)
        fprintf(c->raw, "%02x", ((const uint8_t *)payload)[i]);
    fputs("\"}\n", c->raw);
    return ferror(c->raw) ? HF_ERR_IO : HF_OK;
}

void hf_sim_csv_sink(hf_sim_csv_t *csv, hf_sim_sink_t *out)
{
    out->opaque = csv;
    out->submit = hf__csv_submit;
    out->submit_raw = hf__csv_raw;
}

hf_err_t hf_sim_csv_close(hf_sim_csv_t *csv, char *errstr, size_t errstr_size)
{
    if (!csv)
        return HF_OK;
    hf_err_t err = csv->err;
    if (err)
        hf_err_set(err, errstr, errstr_size, "%s", csv->errmsg);
    for (size_t i = 0; i <= HF_SIM_NTYPES; i++)
        if (csv->f[i] && fclose(csv->f[i]) != 0 && !err)
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "%s/%s.csv: %s", csv->dir,
                             i == HF__CSV_DON_V1 ? "DonationCollected.v1" : hf_event_types[i].name,
                             strerror(errno));
    if (csv->raw && fclose(csv->raw) != 0 && !err)
        err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "%s/raw_frames.jsonl: %s", csv->dir,
                         strerror(errno));
    hf_free(csv->dir);
    hf_free(csv);
    return err;
}
