/*
 * Unit tests for hf_simulate (no network): determinism, the validity of
 * every generated identifier, causal order of the donation chains, the
 * traffic proportions, fault rates, and that the report equals what the
 * sink actually received (counted here by a wrapping sink).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "hf_catalog.h"
#include "hf_event_types.h"
#include "hf_mem.h"
#include "hf_simulate.h"
#include "hf_validate.h"

/* ==== a recording sink ==== */

#define MAXREC 200000

typedef struct rec_s {
    int type;
    int schema_version;
    bool skip_validation;
    bool raw;
    char raw_kind; /* 'm' bad magic, 't' truncated, 'u' unknown fingerprint */
    char *event_id, *op, *din, *donor_id, *patient_id, *occurred_at, *reported_at, *facility_id,
        *province_code, *product_code, *abo_rhd, *procedure, *volume_ml, *supersedes,
        *anticoagulant;
    char *line; /* every field, for exact comparisons */
} rec_t;

typedef struct rs_s {
    rec_t *r;
    size_t n;
    uint64_t hash;
} rs_t;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

static int type_index(const char *name)
{
    for (size_t i = 0; i < hf_event_types_count; i++)
        if (!strcmp(hf_event_types[i].name, name))
            return (int)i;
    return -1;
}

static char *get(const hf_field_t *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].name, name))
            return f[i].value ? hf_strdup(f[i].value) : NULL;
    return NULL;
}

static hf_err_t rs_submit(void *o, const char *type, const hf_field_t *f, size_t n,
                          const hf_submit_opts_t *opts, hf_reject_t *rej)
{
    (void)rej;
    rs_t *rs = o;
    cr_assert_lt(rs->n, MAXREC);
    rec_t *r = &rs->r[rs->n++];
    memset(r, 0, sizeof(*r));
    r->type = type_index(type);
    cr_assert_geq(r->type, 0, "unknown type %s", type);
    r->schema_version = opts ? opts->schema_version : 0;
    r->skip_validation = opts && opts->skip_validation;
    r->event_id = get(f, n, "event_id");
    r->op = get(f, n, "op");
    r->din = get(f, n, "din");
    r->donor_id = get(f, n, "donor_id");
    r->patient_id = get(f, n, "patient_id");
    r->occurred_at = get(f, n, "occurred_at");
    r->reported_at = get(f, n, "reported_at");
    r->facility_id = get(f, n, "facility_id");
    r->province_code = get(f, n, "province_code");
    r->product_code = get(f, n, "product_code");
    r->abo_rhd = get(f, n, "abo_rhd");
    r->procedure = get(f, n, "procedure");
    r->volume_ml = get(f, n, "volume_ml");
    r->supersedes = get(f, n, "supersedes_event_id");
    r->anticoagulant = get(f, n, "anticoagulant_ml");
    hf_buf_t b = {0};
    hf_buf_append(&b, type, strlen(type));
    for (size_t i = 0; i < n; i++) {
        hf_buf_append(&b, "|", 1);
        hf_buf_append(&b, f[i].name, strlen(f[i].name));
        hf_buf_append(&b, "=", 1);
        if (f[i].value)
            hf_buf_append(&b, f[i].value, strlen(f[i].value));
        else
            hf_buf_append(&b, "\\N", 2);
    }
    char v[32];
    snprintf(v, sizeof(v), "|v%d|s%d", r->schema_version, r->skip_validation);
    hf_buf_append(&b, v, strlen(v) + 1);
    r->line = (char *)b.data;
    rs->hash = fnv(rs->hash, r->line, strlen(r->line));
    return HF_OK;
}

static const uint64_t known_fp[] = {
    0x2d082abe753e1486ULL, 0x778336d3e4dab0c1ULL, 0x631e883f9b5b2537ULL, 0xd4b3d7d03f48faa5ULL,
    0xbffbce7449561715ULL, 0xd4d5ab225f566a5dULL, 0xb7d06cf4be658715ULL, 0x1dcab2f7a712a0c4ULL,
    0x7db973e7cb290c9dULL, 0xabc7b6325427dbc4ULL, 0xc7f00b94beb7758dULL,
};

static hf_err_t rs_raw(void *o, const char *type, const char *key, const void *p, size_t len)
{
    rs_t *rs = o;
    cr_assert_lt(rs->n, MAXREC);
    rec_t *r = &rs->r[rs->n++];
    memset(r, 0, sizeof(*r));
    r->raw = true;
    r->type = type_index(type);
    r->facility_id = hf_strdup(key);
    const uint8_t *b = p;
    if (len < 2 || b[0] != 0xC3 || b[1] != 0x01) {
        r->raw_kind = 'm';
    } else if (len < 10) {
        r->raw_kind = 't';
    } else {
        uint64_t fp = 0;
        for (int i = 0; i < 8; i++)
            fp |= (uint64_t)b[2 + i] << (8 * i);
        bool known = false;
        for (size_t i = 0; i < sizeof(known_fp) / sizeof(known_fp[0]); i++)
            known |= known_fp[i] == fp;
        if (!known) {
            r->raw_kind = 'u';
        } else {
            /* known header: the body must end inside the 36-byte event_id */
            cr_assert_geq(len, 11);
            cr_assert_eq(b[10], 0x48);
            cr_assert_lt(len - 11, 36, "truncated frame is not truncated");
            r->raw_kind = 't';
        }
    }
    r->line = hf_asprintf("raw|%s|%s|%zu", type, key, len);
    rs->hash = fnv(rs->hash, r->line, strlen(r->line));
    rs->hash = fnv(rs->hash, p, len);
    return HF_OK;
}

static void rs_free(rs_t *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        rec_t *r = &rs->r[i];
        char *ps[] = {r->event_id,      r->op,           r->din,           r->donor_id,
                      r->patient_id,    r->occurred_at,  r->reported_at,   r->facility_id,
                      r->province_code, r->product_code, r->abo_rhd,       r->procedure,
                      r->volume_ml,     r->supersedes,   r->anticoagulant, r->line};
        for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++)
            hf_free(ps[k]);
    }
    hf_free(rs->r);
    memset(rs, 0, sizeof(*rs));
}

static void run(const hf_sim_conf_t *conf, rs_t *rs, hf_sim_report_t *rep)
{
    memset(rs, 0, sizeof(*rs));
    rs->r = hf_calloc(MAXREC, sizeof(rec_t));
    rs->hash = 1469598103934665603ULL;
    hf_sim_sink_t sink = {rs, rs_submit, rs_raw};
    char err[256];
    cr_assert_eq(hf_sim_run(conf, &sink, rep, err, sizeof(err)), HF_OK, "%s", err);
}

/* ==== the schema catalogue (fingerprints of the injected frames) ==== */

static hf_catalog_t *catalog;

static void load_catalog(void)
{
    const char *src = getenv("HF_SOURCE_DIR");
    cr_assert(src, "HF_SOURCE_DIR must be set (CTest sets it)");
    char *dir = hf_asprintf("%s/schemas/avro", src);
    char err[512];
    catalog = hf_catalog_load(dir, err, sizeof(err));
    hf_free(dir);
    cr_assert_not_null(catalog, "%s", err);
}

static void free_catalog(void)
{
    hf_catalog_destroy(catalog);
    catalog = NULL;
}

TestSuite(simulate, .init = load_catalog, .fini = free_catalog);

static void base_conf(hf_sim_conf_t *c, uint64_t seed, uint64_t count)
{
    hf_sim_conf_default(c);
    c->catalog = catalog;
    c->seed = seed;
    c->count = count;
    c->days = 14;
    cr_assert(hf_cal_date_parse("2026-03-15", 10, &c->end_date));
}

static int64_t parse_time(const char *s)
{
    int64_t us;
    int off;
    cr_assert(s && hf_cal_time_parse(s, strlen(s), &us, &off), "bad time '%s'", s ? s : "");
    cr_assert(off == 480 || off == 0, "offset %d", off);
    return us;
}

/* ==== determinism ==== */

Test(simulate, deterministic_for_a_seed)
{
    hf_sim_conf_t c;
    base_conf(&c, 42, 8000);
    c.dup_rate = c.late_rate = c.amend_rate = c.retract_rate = 0.03;
    c.malformed_rate = c.unknown_fp_rate = c.bad_din_rate = c.old_schema_rate = 0.02;
    rs_t a, b, d;
    hf_sim_report_t ra, rb, rd;
    run(&c, &a, &ra);
    run(&c, &b, &rb);
    cr_assert_eq(a.n, b.n);
    cr_assert_eq(a.hash, b.hash, "same seed gave different sink calls");
    char *ja = hf_sim_report_json(&ra, &c), *jb = hf_sim_report_json(&rb, &c);
    cr_assert_str_eq(ja, jb);
    c.seed = 43;
    run(&c, &d, &rd);
    cr_assert_neq(a.hash, d.hash, "different seeds gave the same output");
    hf_free(ja);
    hf_free(jb);
    rs_free(&a);
    rs_free(&b);
    rs_free(&d);
}

/* ==== validity of every record ==== */

Test(simulate, identifiers_codes_and_times_are_valid)
{
    hf_sim_conf_t c;
    base_conf(&c, 7, 20000);
    rs_t rs;
    hf_sim_report_t rep;
    run(&c, &rs, &rep);
    int64_t start = (int64_t)(c.end_date - c.days + 1) * 86400000000LL - 8 * 3600000000LL;
    int64_t end = start + (int64_t)c.days * 86400000000LL;
    size_t ids = 0, id15 = 0, same_prov = 0, dins = 0, groups = 0;
    for (size_t i = 0; i < rs.n; i++) {
        rec_t *r = &rs.r[i];
        cr_assert(!r->raw && !r->skip_validation && r->schema_version == 0);
        /* envelope */
        cr_assert(r->event_id && strlen(r->event_id) == 36 && r->event_id[14] == '4' &&
                      strchr("89ab", r->event_id[19]),
                  "not a v4 uuid: %s", r->event_id);
        cr_assert(r->facility_id && strlen(r->facility_id) == 8);
        cr_assert(hf_validate_province(r->province_code, 2));
        cr_assert_eq(strncmp(r->facility_id, r->province_code, 2), 0);
        int64_t occ = parse_time(r->occurred_at), rep_at = parse_time(r->reported_at);
        cr_assert(occ >= start && occ < end, "occurred_at %s outside the window", r->occurred_at);
        cr_assert(rep_at >= occ && rep_at < end, "reported_at %s", r->reported_at);
        /* without faults only haemovigilance follow-ups are amendments */
        if (r->type != 9)
            cr_assert_str_eq(r->op, "create");
        /* identifiers */
        const char *pid = r->donor_id ? r->donor_id : r->patient_id;
        if (pid) {
            size_t len = strlen(pid);
            const char *why = hf_validate_resident_id_reason(pid, len);
            cr_assert_null(why, "invalid resident id %s: %s", pid, why);
            ids++;
            id15 += len == 15;
            same_prov += strncmp(pid, r->province_code, 2) == 0;
        }
        if (r->din) {
            const char *why = hf_validate_din_reason(r->din, strlen(r->din));
            cr_assert_null(why, "invalid DIN %s: %s", r->din, why);
            cr_assert_eq(strlen(r->din), 13);
            dins++;
        }
        if (r->product_code)
            cr_assert_null(
                hf_validate_product_code_reason(r->product_code, strlen(r->product_code)),
                "bad product code %s", r->product_code);
        if (r->abo_rhd) {
            hf_abo_t abo;
            hf_rhd_t rhd;
            cr_assert_eq(hf_validate_blood_group(r->abo_rhd, strlen(r->abo_rhd), &abo, &rhd), HF_OK,
                         "unmapped blood group '%s'", r->abo_rhd);
            groups++;
        }
        if (r->type == 2 && r->procedure && !strcmp(r->procedure, "whole_blood")) {
            int v = atoi(r->volume_ml);
            cr_assert(v > 0 && v <= 400);
        }
    }
    cr_assert_gt(ids, 1000);
    cr_assert_gt(dins, 1000);
    cr_assert_gt(groups, 100);
    cr_assert_gt(id15, 0, "no legacy 15-digit IDs");
    /* most IDs are from the facility's province, not all (people move) */
    cr_assert_gt(same_prov, ids * 70 / 100);
    cr_assert_lt(same_prov, ids);
    rs_free(&rs);
}

Test(simulate, every_blood_group_style_maps)
{
    /* run enough to see all six styles across facilities */
    hf_sim_conf_t c;
    base_conf(&c, 3, 30000);
    c.types_mask = (1u << 4) | (1u << 5); /* ComponentProduced, InventorySnapshot */
    rs_t rs;
    hf_sim_report_t rep;
    run(&c, &rs, &rep);
    size_t n = 0;
    for (size_t i = 0; i < rs.n; i++) {
        cr_assert(rs.r[i].type == 4 || rs.r[i].type == 5, "type filter leaked");
        if (!rs.r[i].abo_rhd)
            continue;
        hf_abo_t abo;
        hf_rhd_t rhd;
        cr_assert_eq(hf_validate_blood_group(rs.r[i].abo_rhd, strlen(rs.r[i].abo_rhd), &abo, &rhd),
                     HF_OK, "'%s'", rs.r[i].abo_rhd);
        n++;
    }
    cr_assert_gt(n, 1000);
    /* only the selected types are in the report */
    for (size_t t = 0; t < HF_SIM_NTYPES; t++)
        if (t != 4 && t != 5)
            cr_assert_eq(rep.type[t].messages, 0);
    rs_free(&rs);
}

/* ==== causal order ==== */

Test(simulate, chains_are_causal)
{
    hf_sim_conf_t c;
    base_conf(&c, 11, 30000);
    rs_t rs;
    hf_sim_report_t rep;
    run(&c, &rs, &rep);
    /* first event of each DIN must be its DonationCollected; first event of
     * each registered donor its DonorRegistered */
    size_t checked = 0, regs = 0;
    for (size_t i = 0; i < rs.n; i++) {
        rec_t *r = &rs.r[i];
        if (r->type == 2) {
            int64_t occ = parse_time(r->occurred_at);
            for (size_t k = 0; k < i; k++)
                if (rs.r[k].din && !strcmp(rs.r[k].din, r->din))
                    cr_assert_fail("%s of %s sent before its collection",
                                   hf_event_types[rs.r[k].type].name, r->din);
            for (size_t k = i + 1; k < rs.n; k++) {
                if (rs.r[k].din && !strcmp(rs.r[k].din, r->din)) {
                    cr_assert_geq(parse_time(rs.r[k].occurred_at), occ, "%s before collection",
                                  hf_event_types[rs.r[k].type].name);
                    checked++;
                }
            }
            if (checked > 20000)
                break;
        }
        if (r->type == 0 && regs < 400) {
            /* nothing of this donor before the registration */
            for (size_t k = 0; k < i; k++)
                cr_assert(!rs.r[k].donor_id || strcmp(rs.r[k].donor_id, r->donor_id),
                          "donor %s used before registration", r->donor_id);
            regs++;
        }
    }
    cr_assert_gt(checked, 1000);
    cr_assert_gt(regs, 100);
    rs_free(&rs);
}

/* ==== proportions ==== */

Test(simulate, proportions_are_realistic)
{
    hf_sim_conf_t c;
    base_conf(&c, 5, 60000);
    c.days = 30;
    rs_t rs;
    hf_sim_report_t rep;
    run(&c, &rs, &rep);
    /* count close to the target */
    cr_assert(rep.messages_total > 60000 * 70 / 100 && rep.messages_total < 60000 * 130 / 100,
              "messages %" PRIu64, rep.messages_total);
    size_t per_type[HF_SIM_NTYPES] = {0};
    size_t wb = 0, plt = 0, plasma = 0, v400 = 0, v300 = 0, v200 = 0;
    size_t prov[100] = {0};
    for (size_t i = 0; i < rs.n; i++) {
        rec_t *r = &rs.r[i];
        per_type[r->type]++;
        prov[atoi(r->province_code)]++;
        if (r->type != 2)
            continue;
        if (!strcmp(r->procedure, "whole_blood")) {
            wb++;
            v400 += r->volume_ml && !strcmp(r->volume_ml, "400");
            v300 += r->volume_ml && !strcmp(r->volume_ml, "300");
            v200 += r->volume_ml && !strcmp(r->volume_ml, "200");
        } else if (!strcmp(r->procedure, "apheresis_platelets"))
            plt++;
        else
            plasma++;
    }
    size_t don = wb + plt + plasma;
    cr_assert_gt(don, 2000);
    double fwb = (double)wb / don, fplt = (double)plt / don, fpl = (double)plasma / don;
    cr_assert(fwb > 0.50 && fwb < 0.60, "whole blood share %.3f", fwb);
    cr_assert(fplt > 0.05 && fplt < 0.09, "platelet share %.3f", fplt);
    cr_assert(fpl > 0.33 && fpl < 0.43, "plasma share %.3f", fpl);
    cr_assert((double)v400 / wb > 0.52 && (double)v400 / wb < 0.66);
    cr_assert((double)v300 / wb > 0.19 && (double)v300 / wb < 0.31);
    cr_assert((double)v200 / wb > 0.10 && (double)v200 / wb < 0.20);
    /* every event type appears; screening is the largest chain type */
    for (size_t t = 0; t < HF_SIM_NTYPES; t++)
        cr_assert_gt(per_type[t], 0, "no %s", hf_event_types[t].name);
    cr_assert_gt(per_type[3], per_type[2] * 4);
    /* inventory about a tenth */
    double finv = (double)per_type[5] / rs.n;
    cr_assert(finv > 0.05 && finv < 0.15, "inventory share %.3f", finv);
    /* deferrals: 7-14% of assessments */
    double fdef = (double)rep.deferrals / per_type[1];
    cr_assert(fdef > 0.06 && fdef < 0.14, "deferral rate %.3f", fdef);
    /* all 31 provinces report; Guangdong far more than Tibet */
    for (size_t i = 0; i < HF_SIM_NPROV; i++)
        cr_assert_gt(prov[atoi(hf_sim_province_code(i))], 0, "province %s missing",
                     hf_sim_province_code(i));
    cr_assert_gt(prov[44], prov[54] * 5);
    rs_free(&rs);
}

/* ==== faults: rates and exact report ==== */

Test(simulate, faults_match_rates_and_report)
{
    hf_sim_conf_t c;
    base_conf(&c, 99, 60000);
    c.dup_rate = 0.05;
    c.late_rate = 0.04;
    c.amend_rate = 0.03;
    c.retract_rate = 0.02;
    c.malformed_rate = 0.01;
    c.unknown_fp_rate = 0.01;
    c.bad_din_rate = 0.02;
    c.old_schema_rate = 0.2;
    rs_t rs;
    hf_sim_report_t rep;
    run(&c, &rs, &rep);

    hf_sim_type_counts_t got[HF_SIM_NTYPES];
    memset(got, 0, sizeof(got));
    /* event_id -> seen, with a simple open-addressing set */
    size_t cap = 1u << 19;
    char **set = hf_calloc(cap, sizeof(char *));
    size_t din_creates = 0, don_creates = 0;
    for (size_t i = 0; i < rs.n; i++) {
        rec_t *r = &rs.r[i];
        hf_sim_type_counts_t *g = &got[r->type];
        g->messages++;
        if (r->raw) {
            if (r->raw_kind == 'm')
                g->malformed_bad_magic++;
            else if (r->raw_kind == 't')
                g->malformed_truncated++;
            else
                g->unknown_fp++;
            continue;
        }
        if (r->skip_validation) {
            cr_assert_not_null(r->din);
            cr_assert_not_null(hf_validate_din_reason(r->din, strlen(r->din)),
                               "bad-DIN record has a valid DIN %s", r->din);
            g->bad_din++;
            if (strlen(r->din) == 14 && hf_validate_din(r->din, 13))
                g->bad_din_check++;
            else
                g->bad_din_format++;
            continue;
        }
        uint64_t h = fnv(1469598103934665603ULL, r->event_id, 36) & (cap - 1);
        bool seen = false;
        while (set[h]) {
            if (!strcmp(set[h], r->event_id)) {
                seen = true;
                break;
            }
            h = (h + 1) & (cap - 1);
        }
        if (seen) {
            g->resends++;
            continue;
        }
        set[h] = r->event_id;
        if (!strcmp(r->op, "amend")) {
            g->amendments++;
            cr_assert_not_null(r->supersedes);
        } else if (!strcmp(r->op, "retract")) {
            g->retractions++;
            cr_assert_not_null(r->supersedes);
        } else {
            g->created++;
            cr_assert_null(r->supersedes);
            int64_t late = parse_time(r->reported_at) - parse_time(r->occurred_at);
            if (late >= 86400000000LL)
                g->late++;
            din_creates += r->din != NULL;
            don_creates += r->type == 2;
        }
        if (r->schema_version) {
            cr_assert_eq(r->type, 2);
            cr_assert_eq(r->schema_version, 1);
            cr_assert_null(r->anticoagulant, "v1 record carries anticoagulant_ml");
            g->old_schema++;
        }
    }
    hf_sim_type_counts_t tot;
    memset(&tot, 0, sizeof(tot));
    for (size_t t = 0; t < HF_SIM_NTYPES; t++) {
        const hf_sim_type_counts_t *e = &rep.type[t], *g = &got[t];
        const char *n = hf_event_types[t].name;
        cr_assert_eq(e->messages, g->messages, "%s messages", n);
        cr_assert_eq(e->created, g->created, "%s created", n);
        cr_assert_eq(e->amendments, g->amendments, "%s amendments", n);
        cr_assert_eq(e->retractions, g->retractions, "%s retractions", n);
        cr_assert_eq(e->resends, g->resends, "%s resends", n);
        cr_assert_eq(e->late, g->late, "%s late", n);
        cr_assert_eq(e->old_schema, g->old_schema, "%s old_schema", n);
        cr_assert_eq(e->bad_din, g->bad_din, "%s bad_din", n);
        cr_assert_eq(e->bad_din_check, g->bad_din_check, "%s bad_din_check", n);
        cr_assert_eq(e->bad_din_format, g->bad_din_format, "%s bad_din_format", n);
        cr_assert_eq(e->malformed_bad_magic, g->malformed_bad_magic, "%s bad magic", n);
        cr_assert_eq(e->malformed_truncated, g->malformed_truncated, "%s truncated", n);
        cr_assert_eq(e->unknown_fp, g->unknown_fp, "%s unknown fp", n);
        cr_assert_eq(e->rejected, 0);
        tot.created += g->created;
        tot.amendments += g->amendments;
        tot.retractions += g->retractions;
        tot.resends += g->resends;
        tot.late += g->late;
        tot.bad_din += g->bad_din;
        tot.malformed_bad_magic += g->malformed_bad_magic + g->malformed_truncated;
        tot.unknown_fp += g->unknown_fp;
        tot.old_schema += g->old_schema;
    }
    double cr = (double)tot.created;
    /* rates within tolerance (binomial noise, and truncation at the window
     * end for resends/late/corrections) */
#define NEAR(x, p, what)                                                                           \
    cr_assert((double)(x) / cr > (p)*0.75 && (double)(x) / cr < (p)*1.25,                          \
              what " rate %.4f, wanted %.4f", (double)(x) / cr, (double)(p))
    NEAR(tot.resends, 0.05, "resend");
    NEAR(tot.late, 0.04, "late");
    NEAR(tot.amendments, 0.03, "amend");
    NEAR(tot.retractions, 0.02, "retract");
    NEAR(tot.malformed_bad_magic, 0.01, "malformed");
    NEAR(tot.unknown_fp, 0.01, "unknown fingerprint");
    double bd = (double)tot.bad_din / (double)(din_creates + tot.bad_din);
    cr_assert(bd > 0.015 && bd < 0.025, "bad DIN rate %.4f", bd);
    double os = (double)got[2].old_schema /
                (double)(got[2].created + got[2].amendments + got[2].retractions);
    cr_assert(os > 0.16 && os < 0.24, "old schema rate %.4f", os);
    cr_assert_gt(don_creates, 0);

    /* the JSON report says the same */
    char *txt = hf_sim_report_json(&rep, &c);
    json_error_t je;
    json_t *root = json_loads(txt, 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    json_t *q = json_object_get(root, "expected_quarantine");
    cr_assert_eq((uint64_t)json_integer_value(json_object_get(q, "malformed_frame")),
                 tot.malformed_bad_magic);
    cr_assert_eq((uint64_t)json_integer_value(json_object_get(q, "unknown_fingerprint")),
                 tot.unknown_fp);
    cr_assert_eq((uint64_t)json_integer_value(json_object_get(q, "invalid_din")), tot.bad_din);
    json_t *rows = json_object_get(root, "expected_warehouse_rows");
    uint64_t sum_rows = 0, sum_prov = 0;
    for (size_t t = 0; t < HF_SIM_NTYPES; t++) {
        uint64_t v = (uint64_t)json_integer_value(json_object_get(rows, hf_event_types[t].snake));
        cr_assert_eq(v, got[t].created + got[t].amendments + got[t].retractions);
        sum_rows += v;
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(root, "expected_warehouse_rows_by_province"), k, v)
        sum_prov += (uint64_t)json_integer_value(v);
    cr_assert_eq(sum_rows, sum_prov);
    cr_assert_eq(
        (uint64_t)json_integer_value(json_object_get(json_object_get(root, "totals"), "messages")),
        (uint64_t)rs.n);
    json_decref(root);
    hf_free(txt);
    hf_free(set);
    rs_free(&rs);
}

/* ==== CSV output ==== */

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    int ch;
    bool quoted = false;
    while ((ch = fgetc(f)) != EOF) {
        if (ch == '"')
            quoted = !quoted;
        else if (ch == '\n' && !quoted)
            n++;
    }
    fclose(f);
    return n;
}

Test(simulate, csv_output_matches_report)
{
    char dir[] = "/tmp/hf-sim-csv-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    hf_sim_conf_t c;
    base_conf(&c, 21, 6000);
    c.dup_rate = 0.05;
    c.malformed_rate = 0.01;
    c.old_schema_rate = 0.5;
    char err[256];
    hf_sim_csv_t *csv = hf_sim_csv_new(dir, err, sizeof(err));
    cr_assert_not_null(csv, "%s", err);
    hf_sim_sink_t sink;
    hf_sim_csv_sink(csv, &sink);
    hf_sim_report_t rep;
    cr_assert_eq(hf_sim_run(&c, &sink, &rep, err, sizeof(err)), HF_OK, "%s", err);
    cr_assert_eq(hf_sim_csv_close(csv, err, sizeof(err)), HF_OK, "%s", err);
    uint64_t raw = 0;
    for (size_t t = 0; t < HF_SIM_NTYPES; t++) {
        char *path = hf_asprintf("%s/%s.csv", dir, hf_event_types[t].name);
        const hf_sim_type_counts_t *e = &rep.type[t];
        uint64_t raw_t = e->malformed_bad_magic + e->malformed_truncated + e->unknown_fp;
        raw += raw_t;
        size_t lines = count_lines(path);
        if (t == 2) { /* old-schema rows (and their resends) are in DonationCollected.v1.csv */
            char *v1 = hf_asprintf("%s/DonationCollected.v1.csv", dir);
            size_t v1_rows = count_lines(v1) - 1;
            cr_assert_geq(v1_rows, e->old_schema);
            cr_assert_gt(e->old_schema, 0);
            unlink(v1);
            hf_free(v1);
            lines += v1_rows;
        }
        if (e->messages - raw_t)
            cr_assert_eq(lines, 1 + e->messages - raw_t, "%s", path); /* header + rows */
        unlink(path);
        hf_free(path);
    }
    char *path = hf_asprintf("%s/raw_frames.jsonl", dir);
    cr_assert_eq(count_lines(path), raw);
    unlink(path);
    hf_free(path);
    rmdir(dir);
}

/* ==== configuration ==== */

Test(simulate, known_fingerprints_are_the_catalogue)
{
    size_t n = hf_catalog_count(catalog);
    cr_assert_eq(n, sizeof(known_fp) / sizeof(known_fp[0]));
    for (size_t i = 0; i < n; i++) {
        hf_catalog_info_t info;
        cr_assert_eq(hf_catalog_entry(catalog, i, &info), HF_OK);
        bool found = false;
        for (size_t k = 0; k < n; k++)
            found |= known_fp[k] == info.fingerprint;
        cr_assert(found, "%s v%d not in known_fp", info.event_type->name, info.version);
    }
}

Test(simulate, types_and_conf_errors)
{
    unsigned mask;
    char err[128];
    cr_assert_eq(hf_sim_parse_types("DonationCollected,unit_moved", &mask, err, sizeof(err)),
                 HF_OK);
    cr_assert_eq(mask, (1u << 2) | (1u << 6));
    cr_assert_eq(hf_sim_parse_types("DonationCollected,Nope", &mask, err, sizeof(err)),
                 HF_ERR_USAGE);
    cr_assert(strstr(err, "Nope"));
    cr_assert_eq(hf_sim_parse_types("", &mask, err, sizeof(err)), HF_ERR_USAGE);

    hf_sim_conf_t c;
    hf_sim_report_t rep;
    rs_t rs = {0};
    hf_sim_sink_t sink = {&rs, rs_submit, rs_raw};
    base_conf(&c, 1, 100);
    c.dup_rate = 1.5;
    cr_assert_eq(hf_sim_run(&c, &sink, &rep, err, sizeof(err)), HF_ERR_USAGE);
    base_conf(&c, 1, 100);
    c.days = 0;
    cr_assert_eq(hf_sim_run(&c, &sink, &rep, err, sizeof(err)), HF_ERR_USAGE);
    base_conf(&c, 1, 100);
    c.catalog = NULL;
    cr_assert_eq(hf_sim_run(&c, &sink, &rep, err, sizeof(err)), HF_ERR_USAGE);
    cr_assert(strstr(err, "catalog"), "%s", err);
}

/* A sink that fails stops the run with its error; counts are kept. */
static int fail_after;
static hf_err_t failing_submit(void *o, const char *type, const hf_field_t *f, size_t n,
                               const hf_submit_opts_t *opts, hf_reject_t *rej)
{
    (void)o, (void)type, (void)f, (void)n, (void)opts;
    if (fail_after-- <= 0)
        return HF_ERR_IO;
    if (fail_after % 2 == 0) {
        rej->reason = "test_reason";
        return HF_ERR_INVALID;
    }
    return HF_OK;
}

static hf_err_t failing_raw(void *o, const char *type, const char *key, const void *p, size_t n)
{
    (void)o, (void)type, (void)key, (void)p, (void)n;
    return HF_ERR_IO; /* never called: no raw faults requested */
}

Test(simulate, sink_errors_stop_the_run)
{
    hf_sim_conf_t c;
    base_conf(&c, 1, 5000);
    hf_sim_sink_t sink = {NULL, failing_submit, failing_raw};
    hf_sim_report_t rep;
    char err[128];
    fail_after = 100;
    cr_assert_eq(hf_sim_run(&c, &sink, &rep, err, sizeof(err)), HF_ERR_IO);
    cr_assert(rep.stopped);
    uint64_t msgs = 0, rej = 0;
    for (size_t t = 0; t < HF_SIM_NTYPES; t++) {
        msgs += rep.type[t].messages;
        rej += rep.type[t].rejected;
    }
    cr_assert_eq(msgs + rej, 100);
    cr_assert_eq(rej, 50);
    cr_assert(strstr(rep.first_reject, "test_reason"));
}
