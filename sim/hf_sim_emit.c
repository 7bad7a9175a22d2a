/*
 * hf_sim_emit — the station record being built (fields, values, times) and
 * what happens to it once complete: the create-time faults (old schema,
 * invalid DIN, late report), the sink call and its accounting in the
 * report, and the follow-ups of an accepted event (resend, amendment,
 * retraction, malformed and unknown-fingerprint frames, whose headers use
 * the catalogue's fingerprints).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_catalog.h"
#include "hf_frame.h"
#include "hf_mem.h"
#include "hf_sim_int.h"
#include "hf_validate.h"

/* ==== time ==== */

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

/* ==== records ==== */

static size_t hf__rec_slot(hf__rec_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->name[i], name) == 0)
            return i;
    if (r->n == HF__REC_MAXF)
        abort(); /* a bug: the record layouts of sim/ are fixed */
    r->name[r->n] = name;
    return r->n++;
}

void hf__rec_set(hf__rec_t *r, const char *name, const char *fmt, ...)
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

void hf__rec_null(hf__rec_t *r, const char *name)
{
    r->off[hf__rec_slot(r, name)] = -1;
}

const char *hf__rec_get(const hf__rec_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->name[i], name) == 0)
            return r->off[i] < 0 ? NULL : r->buf + r->off[i];
    return NULL;
}

void hf__rec_time(hf__rec_t *r, const char *name, int64_t us)
{
    char t[64];
    hf__fmt_time(t, us, r->utc);
    hf__rec_set(r, name, "%s", t);
}

/* Compact heap copy of a record (only the bytes in use). */
hf__rec_t *hf__rec_dup(const hf__rec_t *r)
{
    size_t sz = offsetof(hf__rec_t, buf) + r->used;
    hf__rec_t *c = hf_malloc(sz);
    memcpy(c, r, sz);
    return c;
}

void hf__rec_expand(hf__rec_t *dst, const hf__rec_t *compact)
{
    memcpy(dst, compact, offsetof(hf__rec_t, buf) + compact->used);
}

/* ==== emitting ==== */

int hf__type_index(const char *name)
{
    for (size_t i = 0; i < hf_event_types_count; i++)
        if (strcmp(hf_event_types[i].name, name) == 0)
            return (int)i;
    return -1;
}

bool hf__selected(const hf__sim_t *s, int type)
{
    return s->conf->types_mask == 0 || (s->conf->types_mask & (1u << type));
}

/* Start a record of event type t for facility f at occurred_us. */
hf__rec_t *hf__rec_begin(hf__sim_t *s, int type, const hf__fac_t *f, int64_t occurred_us,
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

void hf__rec_din(hf__rec_t *r, const char *din)
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
void hf__make_correction(hf__sim_t *s, hf__rec_t *r, bool retract, int64_t at)
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
void hf__emit(hf__sim_t *s)
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

void hf__run_deferred(hf__sim_t *s, hf__rec_t *copy, uint32_t kind)
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
