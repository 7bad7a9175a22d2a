/*
 * hf_sim_int — what the files of the simulator (sim/) share and nothing
 * else sees: time units, the model's static data, the facility network,
 * the station record being built, the run's state and job kinds, and the
 * functions one file calls in another. Public API: hf_simulate.h.
 *
 * Files: hf_simulate.c (the run loop, heap, public entry points),
 * hf_sim_rng.c (PRNG), hf_sim_world.c (tables, facilities, identifiers,
 * donors), hf_sim_emit.c (records, sending, fault injection),
 * hf_sim_chain.c (a donation's chain: visit to release), hf_sim_unit.c (a
 * released unit's fate), hf_sim_day.c (day ticks, visits, inventory),
 * hf_sim_report.c (report), hf_sim_csv.c (CSV sink).
 */
#ifndef HF_SIM_INT_H
#define HF_SIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_cal.h"
#include "hf_province.h"
#include "hf_sim_rng.h"
#include "hf_simulate.h"

/* ==== time ==== */

#define HF__SEC INT64_C(1000000)
#define HF__MIN (60 * HF__SEC)
#define HF__HOUR (60 * HF__MIN)
#define HF__DAY (24 * HF__HOUR)
#define HF__LOCAL_OFFSET_MIN 480 /* Asia/Shanghai, no DST since 1991 */

/* UTC instant of local day + minutes after local midnight. */
static inline int64_t hf__local_at(int32_t day, int64_t minutes)
{
    return hf_cal_local_midnight(day, HF__LOCAL_OFFSET_MIN) + minutes * HF__MIN;
}

/* Visits start this many days before the window so that the window sees
 * chains in steady state (units issued, transfused, discarded) from its
 * first day; events that occur before the window are not sent. */
#define HF__WARMUP_DAYS 21

/* snprintf for fixed-width fields whose values the compiler cannot bound
 * (facility numbers, dates): the callers size the buffers for the real
 * ranges; truncation would only cut a value, never overflow. */
void hf__sfmt(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ==== static tables (hf_sim_world.c) ==== */

/* The model's data for each province, parallel to hf_provinces (same
 * index; the code comes from there): the 2020 (7th) census population in
 * thousands, the number of prefecture-level codes used for address codes,
 * plasma stations (approximate national distribution) and whether a
 * fractionation plant takes source plasma there. */
typedef struct hf__prov_s {
    int pop_k;           /* population, thousands (2020 census) */
    int ncity;           /* prefecture-level codes (address code digits 3-4) */
    int plasma_stations; /* plasma stations in the province */
    bool plant;          /* a fractionation plant takes source plasma here */
} hf__prov_t;

_Static_assert(HF_SIM_NPROV == HF_PROVINCE_COUNT, "one model row per province");

extern const hf__prov_t hf__provs[HF_SIM_NPROV];

enum { HF__ABO_A, HF__ABO_B, HF__ABO_O, HF__ABO_AB };
extern const double hf__abo_freq[4]; /* share of A, B, O, AB */

enum { HF__RH_POS, HF__RH_NEG, HF__RH_UNSPEC };
#define HF__NSTYLES 6

/* Blood group text in one station software's style (0..HF__NSTYLES-1). */
void hf__fmt_group(char out[24], int style, int abo, int rh);

/* ==== facility network (hf_sim_world.c) ==== */

enum { HF__F_BLOOD, HF__F_PLASMA, HF__F_HOSPITAL, HF__F_PLANT };

typedef struct hf__fac_s {
    char id[9];  /* 8-digit facility id, first two = province */
    char fin[6]; /* ISBT 128 facility identification number αpppp */
    uint8_t kind;           /* HF__F_* */
    uint8_t prov;           /* province index (hf_provinces) */
    uint8_t style;          /* blood group text style */
    bool utc_clock;         /* exports times in UTC ('Z') */
    bool reports_inventory; /* chosen to send daily InventorySnapshot counts */
    const char *system;     /* source_system of its records (static string) */
    const char *lab_system; /* source_system of its screening results */
    double size_m;          /* population served, millions (inventory sizes) */
    int din_year;           /* yy of the current DIN sequence */
    uint32_t din_seq;       /* next DIN sequence number */
    uint32_t *donors; /* indices into sim->donors: this facility's in-window donors */
    size_t ndonors, capdonors; /* used and allocated entries of donors */
    char last_patient[19];     /* resident ID of the last transfused patient (hospitals) */
    double inv_walk;           /* random walk factor of inventory levels, 0.6..1.4 */
} hf__fac_t;

typedef struct hf__net_s {
    hf__fac_t *f; /* every facility, grouped by province, then kind */
    size_t n;     /* entries of f */
    /* per province: first index and count of each kind (facilities are
     * stored grouped by province, then kind) */
    size_t first[HF_SIM_NPROV][4], count[HF_SIM_NPROV][4];
    size_t *plasma; /* indices of every plasma station */
    size_t nplasma; /* entries of plasma */
    size_t *plants; /* indices of every fractionation plant */
    size_t nplants; /* entries of plants */
} hf__net_t;

/* The network does not depend on the seed: facility ids are stable. */
void hf__net_build(hf__net_t *net);
void hf__net_free(hf__net_t *net);

/* ==== records (hf_sim_emit.c) ==== */

#define HF__REC_MAXF 24
#define HF__REC_BUF 1400

enum { HF__OP_CREATE, HF__OP_AMEND, HF__OP_RETRACT };

/* One station record being built: field names (static strings) and values
 * (offsets into buf, -1 = null). Values are only appended; replacing one
 * appends the new text. */
typedef struct hf__rec_s {
    int type;            /* index into hf_event_types */
    int op;              /* HF__OP_* */
    int schema_version;  /* 0 = newest */
    bool utc;            /* facility writes times in UTC */
    uint8_t prov;        /* province index of the reporting facility */
    int din_field;       /* index of "din", -1 when none */
    int64_t occurred_us; /* occurred_at */
    int64_t reported_us; /* reported_at: when the record is sent */
    char key[9];         /* facility id */
    char event_id[37];   /* the event_id field's value */
    size_t n;            /* fields in use */
    const char *name[HF__REC_MAXF]; /* field names (static strings) */
    int16_t off[HF__REC_MAXF];      /* value offsets into buf, -1 = null */
    size_t used;                    /* bytes of buf in use */
    char buf[HF__REC_BUF];          /* NUL-terminated values */
} hf__rec_t;

void hf__rec_set(hf__rec_t *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hf__rec_null(hf__rec_t *r, const char *name);
const char *hf__rec_get(const hf__rec_t *r, const char *name);
void hf__rec_time(hf__rec_t *r, const char *name, int64_t us);
/* Compact heap copy of a record (only the bytes in use); hf_free() it. */
hf__rec_t *hf__rec_dup(const hf__rec_t *r);
void hf__rec_expand(hf__rec_t *dst, const hf__rec_t *compact);

/* ==== simulation state ==== */

enum { HF__P_WB, HF__P_PLT, HF__P_PLASMA };
enum { HF__C_RED, HF__C_PLASMA, HF__C_CRYO, HF__C_PLT, HF__C_SOURCE, HF__C_WB };

typedef struct hf__donor_s {
    char id[19];           /* resident ID */
    int32_t birth;         /* birth date, days since 1970-01-01 */
    int32_t last_day;      /* INT32_MIN: never donated */
    int32_t eligible_from; /* deferral: not before this day; INT32_MAX permanent */
    uint8_t sex;           /* 1 male */
    uint8_t abo, rh;       /* HF__ABO_*, HF__RH_* */
    uint8_t last_proc;     /* HF__P_* of the last donation */
    uint8_t kind;          /* 0 blood, 1 plasma */
} hf__donor_t;

typedef struct hf__visit_s {
    int refs;                 /* scheduled jobs holding the visit (it owns its units) */
    uint32_t fac;             /* collecting facility */
    uint32_t donor;           /* index into sim->donors */
    uint8_t proc;             /* HF__P_* */
    uint8_t first_time;       /* the donor's first donation */
    uint8_t incomplete;       /* under-collected */
    uint8_t double_dose;      /* platelets: split into two units */
    char ctype;               /* product-code collection type: V D A s */
    int nominal;              /* mL (whole blood), or plasma g */
    int volume;               /* collected mL, or plasma g */
    uint8_t initial_reactive; /* bit per marker */
    bool confirmed;           /* a marker is confirmed reactive: every unit is discarded */
    char din[14];             /* donation identification number */
    int64_t collected_us;     /* collection time */
    int nunits;               /* entries of units */
    struct hf__unit_s *units[4]; /* components made from the donation */
} hf__visit_t;

typedef struct hf__unit_s {
    hf__visit_t *v;      /* the donation (owns the unit) */
    char product[9];     /* ISBT 128 product code */
    char parent[9];      /* product code it was made from, "" when none */
    uint8_t cls;         /* HF__C_* */
    int volume;          /* mL */
    int64_t expires_us;  /* expires_at */
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
    int64_t t;     /* when it runs */
    uint64_t seq;  /* scheduling order: ties on t run first-scheduled first */
    void *p;       /* visit, unit or record copy, by kind */
    uint32_t kind; /* HF__J_* */
    uint32_t arg;  /* by kind: day offset, facility, reason, deferred kind ... */
} hf__job_t;

typedef struct hf__sim_s {
    const hf_sim_conf_t *conf; /* borrowed from the caller */
    const hf_sim_sink_t *sink; /* borrowed from the caller */
    hf_sim_report_t *rep;      /* the caller's report, filled as the sink accepts */
    hf__rng_t rng;             /* the run's one random stream */
    hf__net_t net;             /* facilities */
    hf__donor_t *donors;       /* every donor seen so far */
    size_t ndonors, capdonors; /* used and allocated entries of donors */
    hf__job_t *heap;           /* min-heap of jobs by (t, seq) */
    size_t nheap, capheap;     /* used and allocated entries of heap */
    uint64_t seq;              /* next job sequence number */
    int64_t start_us, end_us; /* window [start, end): only events occurring here are sent */
    int32_t first_day, last_day; /* the window's local days */
    int32_t sim_first_day; /* first_day - warm-up: chains already in flight at start */
    double visits_total;   /* visits to spread over the window */
    double visits_cum;     /* running sum for integer per-day counts */
    double day_weight_sum; /* sum of hf__day_weight over the simulated days */
    bool counting;         /* pilot: count chain events, emit nothing */
    uint64_t pilot_events; /* pilot: events that would have been sent */
    hf_err_t stop;  /* first fatal sink error */
    hf__rec_t rec;  /* scratch record */
    hf__rec_t rec2; /* scratch for amendments */
    uint64_t frame_fp[HF_SIM_NTYPES]; /* newest writer fingerprint of each type (catalogue):
                                         the header of truncated frames */
} hf__sim_t;

static inline hf__fac_t *hf__fac(hf__sim_t *s, uint32_t i)
{
    return &s->net.f[i];
}

/* ==== event types (hf_event_types order) ==== */

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

int hf__type_index(const char *name);

/* ==== the run (hf_simulate.c) ==== */

/* Schedule a job; false (and nothing scheduled) when t is past the window. */
bool hf__push(hf__sim_t *s, int64_t t, uint32_t kind, void *p, uint32_t arg);
/* Schedule a job holding a reference to v; drops nothing when refused. */
void hf__push_v(hf__sim_t *s, int64_t t, uint32_t kind, hf__visit_t *v, void *p, uint32_t arg);

/* ==== identifiers and donors (hf_sim_world.c) ==== */

void hf__uuid4(hf__rng_t *r, char out[37]);
/* A resident ID: address code in province p, birth date, sex; 15-digit
 * legacy form when legacy (only for births in the 1900s). */
void hf__make_id(hf__rng_t *r, char out[19], size_t p, int32_t birth, bool male, bool legacy);
size_t hf__pick_province(hf__rng_t *r);
/* Next DIN of a collecting facility: FIN + nominal year + 6-digit sequence. */
void hf__next_din(hf__sim_t *s, hf__fac_t *f, int64_t at_us, char out[14]);
uint32_t hf__donor_new(hf__sim_t *s, hf__fac_t *f, int kind, int32_t today);
/* Days a donor must wait after `last` before `next` (DOMAIN.md rules). */
int hf__min_interval(int last, int next);
/* An earlier in-window donor of this facility who may donate today, or -1. */
int64_t hf__donor_repeat(hf__sim_t *s, hf__fac_t *f, int proc, int32_t today);

/* ==== emitting (hf_sim_emit.c) ==== */

bool hf__selected(const hf__sim_t *s, int type);
/* Start s->rec: a record of event type t for facility f at occurred_us. */
hf__rec_t *hf__rec_begin(hf__sim_t *s, int type, const hf__fac_t *f, int64_t occurred_us,
                         bool lab);
void hf__rec_din(hf__rec_t *r, const char *din);
/* Turn r (a copy of an accepted event) into its amendment or retraction. */
void hf__make_correction(hf__sim_t *s, hf__rec_t *r, bool retract, int64_t at);
/* The record in s->rec is complete: apply the create-time faults and send
 * it (or schedule it, when it is reported late). */
void hf__emit(hf__sim_t *s);
/* A HF__J_DEFERRED job: send copy (late, resend, correction), free it. */
void hf__run_deferred(hf__sim_t *s, hf__rec_t *copy, uint32_t kind);

/* ==== chain steps (hf_sim_chain.c, hf_sim_unit.c) ==== */

void hf__step_visit(hf__sim_t *s, int64_t t, hf__visit_t *v);
void hf__step_collect(hf__sim_t *s, int64_t t, hf__visit_t *v);
void hf__step_donor_ae(hf__sim_t *s, int64_t t, hf__visit_t *v);
void hf__step_process(hf__sim_t *s, int64_t t, hf__visit_t *v);
void hf__step_screen1(hf__sim_t *s, int64_t t, hf__visit_t *v);
void hf__step_screen2(hf__sim_t *s, int64_t t, hf__visit_t *v);
/* Adverse event report: subject, dins, category, then the rest by severity. */
void hf__emit_ae(hf__sim_t *s, const hf__fac_t *f, int64_t t, bool donor, const char *dins,
                 const char *category, int onset);
void hf__emit_discard(hf__sim_t *s, int64_t t, const hf__unit_t *u, uint32_t fac,
                      const char *reason);
/* A unit's job (HF__J_U_* and HF__J_RECIPIENT_AE). */
void hf__step_unit(hf__sim_t *s, const hf__job_t *j);

/* ==== days and inventory (hf_sim_day.c) ==== */

double hf__day_weight(int32_t day);
void hf__step_day(hf__sim_t *s, int32_t day);
void hf__step_inventory(hf__sim_t *s, int64_t t, uint32_t fi);
/* Inventory records a facility reports per day. */
int hf__inventory_lines(const hf__fac_t *f);

#endif /* HF_SIM_INT_H */
