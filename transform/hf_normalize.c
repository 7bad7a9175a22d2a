/*
 * hf_normalize — consumer-side validation of decoded events.
 *
 * The checks per field are one table (hf__checks): which field of which event
 * type gets which validator. Field positions in the newest schema are
 * resolved once in hf_normalizer_new(); a field that a schema lacks is simply
 * not checked. Envelope checks apply to every event type.
 */
#include "hf_normalize.h"

#include <stdio.h>
#include <string.h>

#include "hf_cal.h"
#include "hf_mem.h"

/* ==== the check table ==== */

typedef enum {
    HF__CK_DIN,          /* 13-char ISBT DIN structure */
    HF__CK_DIN_ARRAY,    /* array of DINs */
    HF__CK_PRODUCT_CODE, /* ISBT product code */
    HF__CK_PID,          /* 64 lowercase hex: pseudonym, never a raw ID */
    HF__CK_PROVINCE,     /* optional province code of a counterpart */
} hf__check_kind_t;

typedef struct hf__check_s {
    const char *field;
    hf__check_kind_t kind;
} hf__check_t;

static const hf__check_t hf__checks[] = {
    {"din", HF__CK_DIN},
    {"dins", HF__CK_DIN_ARRAY},
    {"product_code", HF__CK_PRODUCT_CODE},
    {"parent_product_code", HF__CK_PRODUCT_CODE},
    {"donor_pid", HF__CK_PID},
    {"patient_pid", HF__CK_PID},
    {"from_province_code", HF__CK_PROVINCE},
    {"to_province_code", HF__CK_PROVINCE},
};

#define HF__NCHECKS (sizeof(hf__checks) / sizeof(hf__checks[0]))
#define HF__MAX_TYPES 16

/* Envelope and donation fields, by position in the newest schema. */
typedef struct hf__type_idx_s {
    int event_id, event_type, facility_id, province_code, occurred_at, utc_offset_minutes;
    int supersedes_event_id;
    int procedure, volume_ml, plasma_g, incomplete; /* DonationCollected; -1 elsewhere */
    int check_idx[HF__NCHECKS];                      /* -1 when the type lacks the field */
} hf__type_idx_t;

struct hf_normalizer_s {
    const hf_catalog_t *cat;
    hf_validate_rules_t rules;
    hf__type_idx_t idx[HF__MAX_TYPES]; /* by position in hf_event_types */
};

/* ==== helpers ==== */

static size_t hf__type_pos(const hf_event_type_t *t)
{
    return (size_t)(t - hf_event_types);
}

/* Unwrap ["null", T]: false when the value is null. */
static bool hf__nonnull(avro_value_t *v, avro_value_t *out)
{
    if (avro_value_get_type(v) != AVRO_UNION) {
        *out = *v;
        return true;
    }
    avro_value_t branch;
    if (avro_value_get_current_branch(v, &branch) != 0)
        return false;
    if (avro_value_get_type(&branch) == AVRO_NULL)
        return false;
    *out = branch;
    return true;
}

/* The string at field position idx (NULL when absent or null). avro-c's
 * size counts the terminating NUL; *len excludes it. */
static const char *hf__str(avro_value_t *rec, int idx, size_t *len)
{
    avro_value_t f, v;
    const char *s;
    size_t sz;
    if (idx < 0 || avro_value_get_by_index(rec, (size_t)idx, &f, NULL) != 0 || !hf__nonnull(&f, &v))
        return NULL;
    if (avro_value_get_type(&v) != AVRO_STRING || avro_value_get_string(&v, &s, &sz) != 0)
        return NULL;
    *len = sz ? sz - 1 : 0;
    return s;
}

static bool hf__long(avro_value_t *rec, int idx, int64_t *out)
{
    avro_value_t f, v;
    if (idx < 0 || avro_value_get_by_index(rec, (size_t)idx, &f, NULL) != 0 || !hf__nonnull(&f, &v))
        return false;
    if (avro_value_get_type(&v) == AVRO_INT64)
        return avro_value_get_long(&v, out) == 0;
    int32_t i;
    if (avro_value_get_type(&v) == AVRO_INT32 && avro_value_get_int(&v, &i) == 0) {
        *out = i;
        return true;
    }
    return false;
}

static hf_err_t hf__reject(hf_norm_t *out, const char *reason, const char *field, const char *s,
                           size_t len)
{
    out->reason = reason;
    /* The value is shown only for short identifiers; never for pids. */
    if (s && len <= 40)
        snprintf(out->detail, sizeof(out->detail), "field=%s value=%.*s", field, (int)len, s);
    else
        snprintf(out->detail, sizeof(out->detail), "field=%s", field);
    return HF_ERR_INVALID;
}

static bool hf__is_pid(const char *s, size_t len)
{
    if (len != 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}


/* ==== public ==== */

hf_normalizer_t *hf_normalizer_new(const hf_catalog_t *cat, const hf_validate_rules_t *rules)
{
    hf_normalizer_t *n = hf_calloc(1, sizeof(*n));
    n->cat = cat;
    n->rules = *rules;
    for (size_t t = 0; t < hf_event_types_count && t < HF__MAX_TYPES; t++) {
        const hf_event_type_t *et = &hf_event_types[t];
        hf__type_idx_t *x = &n->idx[t];
        x->event_id = hf_catalog_field_index(cat, et, "event_id");
        x->event_type = hf_catalog_field_index(cat, et, "event_type");
        x->facility_id = hf_catalog_field_index(cat, et, "facility_id");
        x->province_code = hf_catalog_field_index(cat, et, "province_code");
        x->occurred_at = hf_catalog_field_index(cat, et, "occurred_at");
        x->utc_offset_minutes = hf_catalog_field_index(cat, et, "utc_offset_minutes");
        x->supersedes_event_id = hf_catalog_field_index(cat, et, "supersedes_event_id");
        x->procedure = hf_catalog_field_index(cat, et, "procedure");
        x->volume_ml = hf_catalog_field_index(cat, et, "volume_ml");
        x->plasma_g = hf_catalog_field_index(cat, et, "plasma_g");
        x->incomplete = hf_catalog_field_index(cat, et, "incomplete");
        for (size_t c = 0; c < HF__NCHECKS; c++)
            x->check_idx[c] = hf_catalog_field_index(cat, et, hf__checks[c].field);
    }
    return n;
}

void hf_normalizer_destroy(hf_normalizer_t *n)
{
    hf_free(n);
}

static hf_err_t hf__check_field(avro_value_t *rec, int idx, const hf__check_t *ck, hf_norm_t *out)
{
    size_t len = 0;
    const char *s;
    const char *why;
    if (ck->kind == HF__CK_DIN_ARRAY) {
        avro_value_t f, arr;
        size_t n = 0;
        if (avro_value_get_by_index(rec, (size_t)idx, &f, NULL) != 0 || !hf__nonnull(&f, &arr) ||
            avro_value_get_type(&arr) != AVRO_ARRAY || avro_value_get_size(&arr, &n) != 0)
            return HF_OK;
        for (size_t i = 0; i < n; i++) {
            avro_value_t e;
            size_t sz;
            if (avro_value_get_by_index(&arr, i, &e, NULL) != 0 ||
                avro_value_get_string(&e, &s, &sz) != 0)
                return hf__reject(out, HF_VR_DIN_FORMAT, ck->field, NULL, 0);
            len = sz ? sz - 1 : 0;
            if ((why = hf_validate_din_reason(s, len)) || len != 13)
                return hf__reject(out, why ? why : HF_VR_DIN_FORMAT, ck->field, s, len);
        }
        return HF_OK;
    }
    if (!(s = hf__str(rec, idx, &len)))
        return HF_OK; /* optional and null */
    switch (ck->kind) {
    case HF__CK_DIN:
        /* The contract carries 13 characters; a 14th (check character) is
         * diagnosed (din_check when wrong) but refused either way. */
        if ((why = hf_validate_din_reason(s, len)) || len != 13)
            return hf__reject(out, why ? why : HF_VR_DIN_FORMAT, ck->field, s, len);
        break;
    case HF__CK_PRODUCT_CODE:
        if ((why = hf_validate_product_code_reason(s, len)))
            return hf__reject(out, why, ck->field, s, len);
        break;
    case HF__CK_PID:
        if (!hf__is_pid(s, len))
            return hf__reject(out, "pid_format", ck->field, NULL, 0);
        break;
    case HF__CK_PROVINCE:
        if (!hf_validate_province(s, len))
            return hf__reject(out, HF_VR_PROVINCE_UNKNOWN, ck->field, s, len);
        break;
    case HF__CK_DIN_ARRAY:
        break;
    }
    return HF_OK;
}

static hf_err_t hf__check_volume(const hf_normalizer_t *n, avro_value_t *rec,
                                 const hf__type_idx_t *x, hf_norm_t *out)
{
    if (x->procedure < 0)
        return HF_OK;
    avro_value_t f;
    if (x->incomplete >= 0 && avro_value_get_by_index(rec, (size_t)x->incomplete, &f, NULL) == 0) {
        int b = 0;
        if (avro_value_get_boolean(&f, &b) == 0 && b)
            return HF_OK; /* an interrupted donation never reaches a nominal volume */
    }
    int sym = 0;
    if (avro_value_get_by_index(rec, (size_t)x->procedure, &f, NULL) != 0 ||
        avro_value_get_enum(&f, &sym) != 0)
        return HF_OK;
    const char *name = avro_schema_enum_get(avro_value_get_schema(&f), sym);
    hf_procedure_t proc;
    if (!name || !hf_validate_procedure_parse(name, strlen(name), &proc) || proc == HF_PROC_UNKNOWN)
        return HF_OK; /* "unknown" procedure: nothing to compare against */
    int64_t vol = -1, plasma = -1;
    if (!hf__long(rec, x->volume_ml, &vol))
        vol = -1;
    if (!hf__long(rec, x->plasma_g, &plasma))
        plasma = -1;
    const char *why = NULL;
    if (vol > 100000 || plasma > 100000 || hf_validate_volume(&n->rules, proc, (int)vol,
                                                              (int)plasma, &why) != HF_OK) {
        out->reason = why ? why : HF_VR_VOLUME_OUT_OF_RANGE;
        snprintf(out->detail, sizeof(out->detail), "procedure=%s volume_ml=%lld plasma_g=%lld",
                 name, (long long)vol, (long long)plasma);
        return HF_ERR_INVALID;
    }
    return HF_OK;
}

hf_err_t hf_normalize(const hf_normalizer_t *n, const hf_decoded_t *dec, int64_t now_us,
                      hf_norm_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t pos = hf__type_pos(dec->event_type);
    if (pos >= hf_event_types_count || pos >= HF__MAX_TYPES)
        return hf__reject(out, HF_NR_EVENT_TYPE_MISMATCH, "event_type", NULL, 0);
    const hf__type_idx_t *x = &n->idx[pos];
    avro_value_t *rec = dec->value;
    size_t len;
    const char *s;

    s = hf__str(rec, x->event_id, &len);
    if (!s || !hf_uuid_parse(s, len, out->event_id))
        return hf__reject(out, HF_NR_EVENT_ID_FORMAT, "event_id", s, s ? len : 0);
    s = hf__str(rec, x->event_type, &len);
    if (!s || len != strlen(dec->event_type->name) || memcmp(s, dec->event_type->name, len) != 0)
        return hf__reject(out, HF_NR_EVENT_TYPE_MISMATCH, "event_type", s, s ? len : 0);
    s = hf__str(rec, x->supersedes_event_id, &len);
    uint8_t scratch[16];
    if (s && !hf_uuid_parse(s, len, scratch))
        return hf__reject(out, HF_NR_SUPERSEDES_FORMAT, "supersedes_event_id", s, len);
    s = hf__str(rec, x->facility_id, &len);
    if (!s || len == 0 || len > 64)
        return hf__reject(out, HF_NR_FACILITY_ID, "facility_id", NULL, 0);
    s = hf__str(rec, x->province_code, &len);
    if (!s || !hf_validate_province(s, len))
        return hf__reject(out, HF_VR_PROVINCE_UNKNOWN, "province_code", s, s ? len : 0);
    memcpy(out->province, s, 2);
    out->province[2] = '\0';

    int64_t occurred, offset;
    if (!hf__long(rec, x->occurred_at, &occurred) || !hf__long(rec, x->utc_offset_minutes, &offset))
        return hf__reject(out, HF_VR_TIME_FORMAT, "occurred_at", NULL, 0);
    const char *why = hf_validate_utc_offset_reason((int)offset);
    if (offset < -720 || offset > 840 || why)
        return hf__reject(out, why ? why : HF_VR_UTC_OFFSET_RANGE, "utc_offset_minutes", NULL, 0);
    if (hf_validate_time_rules(&n->rules, occurred, now_us, &why) != HF_OK)
        return hf__reject(out, why, "occurred_at", NULL, 0);
    out->occurred_at_us = occurred;
    out->event_date = hf_cal_local_day(occurred, (int)offset);

    for (size_t c = 0; c < HF__NCHECKS; c++) {
        if (x->check_idx[c] < 0)
            continue;
        hf_err_t err = hf__check_field(rec, x->check_idx[c], &hf__checks[c], out);
        if (err)
            return err;
    }
    return hf__check_volume(n, rec, x, out);
}

hf_err_t hf_normalize_key(const hf_normalizer_t *n, const hf_decoded_t *dec, const void *key,
                          size_t key_len, hf_norm_t *out)
{
    size_t pos = hf__type_pos(dec->event_type);
    size_t len = 0;
    const char *s = pos < hf_event_types_count && pos < HF__MAX_TYPES
                        ? hf__str(dec->value, n->idx[pos].facility_id, &len)
                        : NULL;
    if (s && key && key_len == len && memcmp(key, s, len) == 0)
        return HF_OK;
    out->reason = HF_NR_KEY_MISMATCH;
    /* The key is untrusted and may be anything: only its length is shown. */
    if (!key)
        snprintf(out->detail, sizeof(out->detail), "field=facility_id value=%.*s key=none",
                 (int)(s && len <= 64 ? len : 0), s ? s : "");
    else
        snprintf(out->detail, sizeof(out->detail),
                 "field=facility_id value=%.*s key_bytes=%zu (differs)",
                 (int)(s && len <= 64 ? len : 0), s ? s : "", key_len);
    return HF_ERR_INVALID;
}
