/*
 * hf_record_rules — the field-specific rules of the station record builder:
 * DIN check characters (single and lists), the person ID (checked, then
 * pseudonymised; never stored), the pre-pass that fixes occurred_at, its
 * UTC offset and the blood group before the walk, the fields that need more
 * than a type conversion, and the volume/plasma plausibility rule.
 * docs/publish.md lists the columns; docs/validation.md the reasons.
 */
#include "hf_record.h"
#include "hf_record_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hf_err_t hf__din(hf__b_t *b, const char *name, const char *p, size_t *len)
{
    if (b->ctx->skip_validation)
        return HF_OK;
    const char *r = hf_validate_din_reason(p, *len);
    char q[48];
    if (r)
        return hf__rej(b, r, name, "'%s' is not a valid 13-character ISBT 128 DIN",
                       hf__quote(q, p, *len));
    if (*len == 14)
        *len = 13; /* DIN with its check character: keep the 13 DIN characters */
    return HF_OK;
}

static hf_err_t hf__set_dins(hf__b_t *b, avro_value_t *fv, const char *name, const char *p,
                             size_t len)
{
    avro_value_reset(fv);
    size_t items = len ? 1 : 0;
    for (size_t i = 0; i < len; i++)
        items += p[i] == '|';
    if (items > HF_VALIDATE_MAX_ARRAY_ITEMS)
        return hf__rej(b, HF_VR_ARRAY_TOO_LONG, name, "%zu DINs, more than %d", items,
                       HF_VALIDATE_MAX_ARRAY_ITEMS);
    hf_buf_t all = {0};
    hf_err_t err = HF_OK;
    for (size_t i = 0; p && i <= len;) {
        size_t j = i;
        while (j < len && p[j] != '|')
            j++;
        const char *d = p + i;
        size_t dl = j - i;
        while (dl && hf__space(*d)) {
            d++;
            dl--;
        }
        while (dl && hf__space(d[dl - 1]))
            dl--;
        if (dl == 0) {
            if (len > 0) {
                err = hf__rej(b, HF_VR_DIN_FORMAT, name, "empty DIN in the '|' list");
                break;
            }
        } else {
            if ((err = hf__din(b, name, d, &dl)))
                break;
            if ((err = hf__text_check(b, name, d, dl)))
                break;
            avro_value_t el;
            avro_value_append(fv, &el, NULL);
            avro_value_set_string_len(&el, hf__cstr(b, d, dl), dl + 1);
            if (all.len)
                hf_buf_append(&all, "|", 1);
            hf_buf_append(&all, d, dl);
        }
        i = j + 1;
    }
    if (!err)
        hf__canon(b, name, all.len ? (const char *)all.data : "", all.len);
    hf_buf_free(&all);
    return err;
}

static hf_err_t hf__pid(hf__b_t *b, avro_value_t *fv, const char *name)
{
    const char *raw_col = !strcmp(name, "donor_pid") ? "donor_id" : "patient_id";
    size_t plen = 0;
    const char *pid = hf__get(b, name, &plen);
    if (b->have_person) {
        if (pid)
            return hf__rej(b, HF_RR_ID_AND_PID, name, "give either %s or %s, not both", raw_col,
                           name);
        hf__set_str(b, fv, false, name, b->person.pid, 64);
        return HF_OK;
    }
    if (!pid)
        return hf__rej(b, HF_RR_REQUIRED, raw_col, "%s is required", raw_col);
    char low[65];
    bool ok = plen == 64;
    for (size_t i = 0; ok && i < 64; i++) {
        char c = pid[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c + 32);
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        low[i] = c;
    }
    if (!ok)
        return hf__rej(b, HF_RR_PID, name, "%s must be 64 hexadecimal characters (HMAC-SHA256)",
                       name);
    low[64] = '\0';
    hf__set_str(b, fv, false, name, low, 64);
    return HF_OK;
}

/* Parse what several fields depend on before the schema walk. */
hf_err_t hf__prepass(hf__b_t *b, avro_schema_t schema)
{
    size_t len;
    const char *p;
    char q[48];
    if (hf__has_field(schema, "occurred_at")) {
        if (!(p = hf__get(b, "occurred_at", &len)))
            return hf__rej(b, HF_RR_REQUIRED, "occurred_at", "occurred_at is required");
        if (!hf_cal_time_parse(p, len, &b->occurred_us, &b->offset_min))
            return hf__rej(b, HF_VR_TIME_FORMAT, "occurred_at",
                           "'%s' is not an ISO 8601 date-time with offset (e.g. "
                           "2026-03-01T09:30:00+08:00)", hf__quote(q, p, len));
        if (!b->ctx->skip_validation) {
            const char *r = hf_validate_utc_offset_reason(b->offset_min);
            if (r)
                return hf__rej(b, r, "occurred_at", "UTC offset %d minutes is not plausible",
                               b->offset_min);
            if (hf_validate_time_rules(b->ctx->rules, b->occurred_us, b->ctx->now_us, &r) !=
                HF_OK)
                return hf__rej(b, r ? r : HF_VR_TIME_FORMAT, "occurred_at",
                               "'%s' is %s", hf__quote(q, p, len),
                               r && !strcmp(r, HF_VR_TIME_FUTURE)
                                   ? "in the future (beyond validate.clock_skew_s)"
                                   : "before validate.time_floor");
        }
    }
    const char *pid_field = hf__has_field(schema, "donor_pid")     ? "donor_pid"
                            : hf__has_field(schema, "patient_pid") ? "patient_pid"
                                                                   : NULL;
    if (pid_field) {
        const char *raw_col = !strcmp(pid_field, "donor_pid") ? "donor_id" : "patient_id";
        if ((p = hf__get(b, raw_col, &len))) {
            if (!b->ctx->pseudo)
                return hf__rej(b, HF_RR_REQUIRED, raw_col,
                               "no HMAC key loaded: cannot pseudonymize %s", raw_col);
            if (hf_pseudo_id(b->ctx->pseudo, p, len, &b->person) != HF_OK)
                return hf__rej(b, HF_VR_ID_FORMAT, raw_col, "%s is longer than 64 bytes",
                               raw_col);
            b->have_person = true;
        }
    }
    if (hf__has_field(schema, "abo")) {
        if (!(p = hf__get(b, "abo_rhd", &len)))
            return hf__rej(b, HF_RR_REQUIRED, "abo_rhd", "abo_rhd (blood group) is required");
        if (hf__text_check(b, "abo_rhd", p, len) != HF_OK)
            return HF_ERR_INVALID;
        b->abo_mapped = hf_validate_blood_group(p, len, &b->abo, &b->rhd) == HF_OK;
    }
    return HF_OK;
}

/* Fields with a rule of their own; *handled = false leaves it to the
 * generic setter. */
hf_err_t hf__special(hf__b_t *b, avro_value_t *fv, avro_schema_t ts, bool opt,
                     const char *name, int version, bool *handled)
{
    size_t len = 0;
    const char *p = hf__get(b, name, &len);
    char q[48];
    hf_err_t err;
    *handled = true;
    if (!strcmp(name, "event_type")) {
        if (p && (len != strlen(b->event_type) || memcmp(p, b->event_type, len) != 0))
            return hf__rej(b, HF_RR_EVENT_TYPE, name, "'%s' in a %s record",
                           hf__quote(q, p, len), b->event_type);
        hf__set_str(b, fv, opt, name, b->event_type, strlen(b->event_type));
    } else if (!strcmp(name, "schema_version")) {
        int64_t v;
        if (p && (!hf__parse_i64(p, len, &v) || v != version))
            return hf__rej(b, HF_RR_SCHEMA_VERSION, name, "'%s' is not the writer version %d",
                           hf__quote(q, p, len), version);
        avro_value_t t = hf__target(fv, opt);
        avro_value_set_int(&t, version); /* not in the canonical content */
    } else if (!strcmp(name, "source_system")) {
        if (!p) {
            p = b->ctx->source_system;
            len = strlen(p);
        }
        return hf__set_generic(b, fv, ts, opt, name, p, len);
    } else if (!strcmp(name, "occurred_at")) {
        hf__set_int(b, fv, opt, name, b->occurred_us, true);
    } else if (!strcmp(name, "utc_offset_minutes")) {
        hf__set_int(b, fv, opt, name, b->offset_min, false);
    } else if (!strcmp(name, "reported_at")) {
        if (p)
            return hf__set_generic(b, fv, ts, opt, name, p, len);
        avro_value_t t = hf__target(fv, opt); /* publish time: not part of the content */
        avro_value_set_long(&t, b->ctx->now_us);
    } else if (!strcmp(name, "revision")) {
        int64_t v = 0;
        if (p && (!hf__parse_i64(p, len, &v) || v < 0 || v > INT32_MAX))
            return hf__rej(b, HF_RR_REVISION, name, "'%s' is not an integer >= 0",
                           hf__quote(q, p, len));
        hf__set_int(b, fv, opt, name, v, false);
    } else if (!strcmp(name, "op")) {
        if (!p)
            hf__set_enum(b, fv, ts, name, "create");
        else
            return hf__set_generic(b, fv, ts, opt, name, p, len);
    } else if (!strcmp(name, "supersedes_event_id")) {
        char u[37];
        if (!p) {
            if (opt)
                hf__set_null(fv);
            return HF_OK;
        }
        if (!hf__uuid_norm(p, len, u))
            return hf__rej(b, HF_RR_UUID, name, "'%s' is not a UUID", hf__quote(q, p, len));
        hf__set_str(b, fv, opt, name, u, 36);
    } else if (!strcmp(name, "province_code") || !strcmp(name, "from_province_code") ||
               !strcmp(name, "to_province_code")) {
        if (!p)
            return hf__rej(b, HF_RR_REQUIRED, name, "%s is required", name);
        if (!b->ctx->skip_validation && !hf_validate_province(p, len))
            return hf__rej(b, HF_VR_PROVINCE_UNKNOWN, name,
                           "'%s' is not a GB/T 2260 mainland province code", hf__quote(q, p, len));
        return hf__set_generic(b, fv, ts, opt, name, p, len);
    } else if (!strcmp(name, "facility_id") && p && len > 64) {
        /* the consumer's rule (hf_normalize: facility_id_format) */
        return hf__rej(b, "facility_id_format", name, "facility_id is %zu bytes, more than 64",
                       len);
    } else if (!strcmp(name, "din")) {
        if (!p)
            return hf__rej(b, HF_RR_REQUIRED, name, "din is required");
        if ((err = hf__din(b, name, p, &len)))
            return err;
        return hf__set_generic(b, fv, ts, opt, name, p, len);
    } else if (!strcmp(name, "dins") && avro_typeof(ts) == AVRO_ARRAY) {
        return hf__set_dins(b, fv, name, p, p ? len : 0);
    } else if (!strcmp(name, "product_code") || !strcmp(name, "parent_product_code")) {
        if (!p) {
            *handled = false;
            return HF_OK;
        }
        const char *r = b->ctx->skip_validation ? NULL : hf_validate_product_code_reason(p, len);
        if (r)
            return hf__rej(b, r, name, "'%s' is not an 8-character ISBT 128 product code",
                           hf__quote(q, p, len));
        return hf__set_generic(b, fv, ts, opt, name, p, len);
    } else if (!strcmp(name, "donor_pid") || !strcmp(name, "patient_pid")) {
        return hf__pid(b, fv, name);
    } else if (!strcmp(name, "id_format")) {
        hf__set_enum(b, fv, ts, name,
                     b->have_person ? hf_validate_id_format_name(b->person.format) : "unknown");
    } else if (!strcmp(name, "id_checksum_valid")) {
        hf__set_bool(b, fv, opt, name, b->have_person && b->person.checksum_valid);
    } else if (!strcmp(name, "birth_date") && !p && b->have_person && b->person.has_birth) {
        hf__set_int(b, fv, opt, name, b->person.birth_days, false);
    } else if (!strcmp(name, "sex") && !p && b->have_person && b->person.has_birth &&
               avro_typeof(ts) == AVRO_ENUM) {
        hf__set_enum(b, fv, ts, name, b->person.male ? "male" : "female");
    } else if (!strcmp(name, "abo")) {
        hf__set_enum(b, fv, ts, name, hf_validate_abo_name(b->abo));
    } else if (!strcmp(name, "rhd")) {
        hf__set_enum(b, fv, ts, name, hf_validate_rhd_name(b->rhd));
    } else if (!strcmp(name, "abo_rhd_source")) {
        size_t l = 0;
        const char *src = hf__get(b, "abo_rhd", &l);
        if (b->abo_mapped || !src) {
            if (opt)
                hf__set_null(fv);
        } else {
            hf__set_str(b, fv, opt, name, src, l);
        }
    } else {
        *handled = false;
    }
    return HF_OK;
}

/* Capture what the DonationCollected volume rule needs. */
void hf__capture(hf__b_t *b, const char *name, const char *p, size_t len)
{
    int64_t v;
    if (!strcmp(name, "procedure")) {
        b->proc = p;
        b->proc_len = p ? len : 0;
    } else if (!strcmp(name, "volume_ml") && p && hf__parse_i64(p, len, &v) && v >= 0 &&
               v <= INT32_MAX) {
        b->volume_ml = (int)v;
    } else if (!strcmp(name, "plasma_g") && p && hf__parse_i64(p, len, &v) && v >= 0 &&
               v <= INT32_MAX) {
        b->plasma_g = (int)v;
    } else if (!strcmp(name, "incomplete") && p) {
        b->incomplete = hf__ieq(p, len, "true") || (len == 1 && p[0] == '1');
    }
}

hf_err_t hf__volume_rule(hf__b_t *b, avro_schema_t schema)
{
    if (b->ctx->skip_validation || !hf__has_field(schema, "procedure") ||
        !hf__has_field(schema, "incomplete") || b->incomplete)
        return HF_OK;
    hf_procedure_t proc;
    if (!b->proc || !hf_validate_procedure_parse(b->proc, b->proc_len, &proc))
        return HF_OK; /* the enum check already refused or accepted "unknown" */
    const char *r = NULL;
    if (hf_validate_volume(b->ctx->rules, proc, b->volume_ml, b->plasma_g, &r) == HF_OK)
        return HF_OK;
    bool plasma = r && !strncmp(r, "plasma", 6);
    if (plasma)
        return hf__rej(b, r, "plasma_g", "plasma_g %d is not plausible for %s", b->plasma_g,
                       hf_validate_procedure_name(proc));
    return hf__rej(b, r ? r : HF_VR_VOLUME_OUT_OF_RANGE, "volume_ml",
                   "volume_ml %d is not plausible for %s", b->volume_ml,
                   hf_validate_procedure_name(proc));
}
