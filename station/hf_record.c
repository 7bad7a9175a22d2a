/*
 * hf_record — station record (text columns) → Avro generic value of a writer
 * schema. The schema drives the walk: every field of the record is set from
 * its column, from a derivation (pseudonym, id_format, blood group, UTC
 * offset) or from its documented default, in schema order, so the value is
 * always complete when HF_OK is returned.
 *
 * Avro C 1.11 drops logicalType, so the two logical types are recognised by
 * name: a long field whose name ends in "_at" is a timestamp (ISO 8601 with
 * offset in the export), an int field ending in "_date" or "_until" is a date
 * (YYYY-MM-DD). docs/publish.md lists the columns this accepts.
 */
#include "hf_record.h"
#include "hf_record_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* ==== helpers ==== */

hf_err_t hf__rej(hf__b_t *b, const char *reason, const char *field, const char *fmt, ...)
{
    b->rej->reason = reason;
    snprintf(b->rej->field, sizeof(b->rej->field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->rej->detail, sizeof(b->rej->detail), fmt, ap);
    va_end(ap);
    return HF_ERR_INVALID;
}

/* A value for a message: at most 40 bytes, control bytes as '?'. Never use
 * for identity numbers. */
const char *hf__quote(char out[48], const char *p, size_t len)
{
    size_t n = len > 40 ? 40 : len, o = 0;
    for (size_t i = 0; i < n; i++)
        out[o++] = ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) ? '?' : p[i];
    if (len > 40) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    out[o] = '\0';
    return out;
}

bool hf__space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Trimmed value of column name; NULL when absent, null or empty. */
const char *hf__get(const hf__b_t *b, const char *name, size_t *len)
{
    for (size_t i = 0; i < b->nfields; i++) {
        if (!b->fields[i].name || strcmp(b->fields[i].name, name) != 0)
            continue;
        const char *v = b->fields[i].value;
        if (!v)
            return NULL;
        size_t n = strlen(v);
        while (n && hf__space(*v)) {
            v++;
            n--;
        }
        while (n && hf__space(v[n - 1]))
            n--;
        if (!n)
            return NULL;
        *len = n;
        return v;
    }
    return NULL;
}

const char *hf__cstr(hf__b_t *b, const char *p, size_t len)
{
    hf_buf_reset(&b->tmp);
    hf_buf_append(&b->tmp, p, len);
    hf_buf_append(&b->tmp, "", 1);
    return (const char *)b->tmp.data;
}

void hf__canon(hf__b_t *b, const char *name, const char *text, size_t len)
{
    char num[32];
    hf_buf_append(&b->canon, name, strlen(name));
    int n = snprintf(num, sizeof(num), "=%zu:", len);
    hf_buf_append(&b->canon, num, (size_t)n);
    hf_buf_append(&b->canon, text, len);
    hf_buf_append(&b->canon, "\n", 1);
}

/* A text value for a string field: the limits both sides apply
 * (hf_validate_text_reason: length, NUL byte, UTF-8), as a rejection. */
hf_err_t hf__text_check(hf__b_t *b, const char *name, const char *p, size_t len)
{
    const char *why = hf_validate_text_reason(p, len);
    if (!why)
        return HF_OK;
    if (!strcmp(why, HF_VR_STRING_TOO_LONG))
        return hf__rej(b, why, name, "value is %zu bytes, more than %d", len,
                       HF_VALIDATE_MAX_STRING_BYTES);
    return hf__rej(b, why, name, "%s", !strcmp(why, HF_VR_NUL_BYTE) ? "value holds a NUL byte"
                                                                   : "value is not valid UTF-8");
}

bool hf__parse_i64(const char *p, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    if (i == len || len - i > 19)
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* NULL and *out set, or the reason: HF_RR_NOT_NUMBER for what is no decimal
 * number, HF_RR_NOT_FINITE for "nan", "inf", "infinity" (any case, signed)
 * and for a decimal number beyond the double range ("1e999"), which the
 * consumer would quarantine as not_finite. */
static const char *hf__parse_double(hf__b_t *b, const char *p, size_t len, double *out)
{
    if (len > 64)
        return HF_RR_NOT_NUMBER;
    size_t sign = len && (p[0] == '-' || p[0] == '+') ? 1 : 0;
    if (hf__ieq(p + sign, len - sign, "nan") || hf__ieq(p + sign, len - sign, "inf") ||
        hf__ieq(p + sign, len - sign, "infinity"))
        return HF_RR_NOT_FINITE;
    for (size_t i = 0; i < len; i++) /* strtod also takes hex, inf, nan: refuse them */
        if (!((p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '-' || p[i] == '+' ||
              p[i] == 'e' || p[i] == 'E'))
            return HF_RR_NOT_NUMBER;
    const char *s = hf__cstr(b, p, len);
    char *end;
    double v = strtod(s, &end);
    if (end != s + len)
        return HF_RR_NOT_NUMBER;
    if (!isfinite(v))
        return HF_RR_NOT_FINITE;
    *out = v;
    return NULL;
}

bool hf__ieq(const char *p, size_t len, const char *lit)
{
    if (strlen(lit) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] + 32) : p[i];
        if (c != lit[i])
            return false;
    }
    return true;
}

static bool hf__ends(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

bool hf__uuid_norm(const char *p, size_t len, char out[37])
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        char c = p[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (c >= 'A' && c <= 'F') {
            c = (char)(c + 32);
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
        out[i] = c;
    }
    out[36] = '\0';
    return true;
}

void hf__record_uuid5(const void *data, size_t len, char out[37])
{
    static const unsigned char ns[16] = {48, 31, 183, 62, 168, 74, 84, 1,
                                         155, 12, 36, 158, 215, 49, 179, 105};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || !EVP_DigestInit_ex(c, EVP_sha1(), NULL) || !EVP_DigestUpdate(c, ns, sizeof(ns)) ||
        !EVP_DigestUpdate(c, data, len) || !EVP_DigestFinal_ex(c, md, &mdlen) || mdlen < 16)
        abort(); /* libcrypto failing on SHA-1 is not recoverable */
    EVP_MD_CTX_free(c);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10],
             md[11], md[12], md[13], md[14], md[15]);
}

/* ==== columns ==== */

static bool hf__derived(const char *name)
{
    return !strcmp(name, "utc_offset_minutes") || !strcmp(name, "id_format") ||
           !strcmp(name, "id_checksum_valid") || !strcmp(name, "abo") || !strcmp(name, "rhd") ||
           !strcmp(name, "abo_rhd_source");
}

bool hf__has_field(avro_schema_t schema, const char *name)
{
    return avro_schema_record_field_get_index(schema, name) >= 0;
}

bool hf__record_column_known(avro_schema_t schema, const char *column)
{
    if (!column || !*column)
        return false;
    if (!strcmp(column, "abo_rhd"))
        return hf__has_field(schema, "abo");
    if (!strcmp(column, "donor_id"))
        return hf__has_field(schema, "donor_pid");
    if (!strcmp(column, "patient_id"))
        return hf__has_field(schema, "patient_pid");
    return !hf__derived(column) && hf__has_field(schema, column);
}

/* ==== setting values ==== */

avro_value_t hf__target(avro_value_t *fv, bool opt)
{
    if (!opt)
        return *fv;
    /* On failure (never for the ["null", T] unions hf__record_build makes)
     * the union itself comes back: setting a value on it then fails. */
    avro_value_t br = *fv;
    if (avro_value_set_branch(fv, 1, &br) != 0)
        return *fv;
    return br;
}

void hf__set_null(avro_value_t *fv)
{
    avro_value_t br;
    avro_value_set_branch(fv, 0, &br);
    avro_value_set_null(&br);
}

void hf__set_str(hf__b_t *b, avro_value_t *fv, bool opt, const char *name, const char *p,
                 size_t len)
{
    avro_value_t t = hf__target(fv, opt);
    avro_value_set_string_len(&t, hf__cstr(b, p, len), len + 1);
    hf__canon(b, name, p, len);
}

void hf__set_enum(hf__b_t *b, avro_value_t *fv, avro_schema_t es, const char *name,
                  const char *sym)
{
    int idx = avro_schema_enum_get_by_name(es, sym);
    if (idx < 0) { /* our own derived symbol missing from a schema: use its catch-all */
        int n = avro_schema_enum_number_of_symbols(es);
        idx = n - 1;
        sym = avro_schema_enum_get(es, idx);
    }
    avro_value_set_enum(fv, idx);
    hf__canon(b, name, sym, strlen(sym));
}

void hf__set_int(hf__b_t *b, avro_value_t *fv, bool opt, const char *name, int64_t v,
                 bool is_long)
{
    avro_value_t t = hf__target(fv, opt);
    if (is_long)
        avro_value_set_long(&t, v);
    else
        avro_value_set_int(&t, (int32_t)v);
    char num[32];
    int n = snprintf(num, sizeof(num), "%lld", (long long)v);
    hf__canon(b, name, num, (size_t)n);
}

void hf__set_bool(hf__b_t *b, avro_value_t *fv, bool opt, const char *name, bool v)
{
    avro_value_t t = hf__target(fv, opt);
    avro_value_set_boolean(&t, v);
    hf__canon(b, name, v ? "true" : "false", v ? 4 : 5);
}

static hf_err_t hf__enum_rej(hf__b_t *b, avro_schema_t es, const char *name, const char *p,
                             size_t len)
{
    char q[48], list[160];
    size_t o = 0;
    int n = avro_schema_enum_number_of_symbols(es);
    list[0] = '\0';
    for (int i = 0; i < n && o < sizeof(list) - 1; i++) {
        int w = snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
                         avro_schema_enum_get(es, i));
        if (w < 0)
            break;
        o += (size_t)w;
    }
    if (o >= sizeof(list) - 1)
        snprintf(list + sizeof(list) - 5, 5, "...");
    return hf__rej(b, HF_RR_ENUM, name, "'%s' is not one of: %s", hf__quote(q, p, len), list);
}

/* Set a field from text by its Avro type (no field-specific rules). */
hf_err_t hf__set_generic(hf__b_t *b, avro_value_t *fv, avro_schema_t ts, bool opt,
                         const char *name, const char *p, size_t len)
{
    char q[48];
    switch (avro_typeof(ts)) {
    case AVRO_STRING:
        if (hf__text_check(b, name, p, len) != HF_OK)
            return HF_ERR_INVALID;
        hf__set_str(b, fv, opt, name, p, len);
        return HF_OK;
    case AVRO_INT32: {
        int64_t v;
        if (hf__ends(name, "_date") || hf__ends(name, "_until")) {
            int32_t d;
            if (!hf_cal_date_parse(p, len, &d))
                return hf__rej(b, HF_VR_DATE_FORMAT, name, "'%s' is not a YYYY-MM-DD date",
                               hf__quote(q, p, len));
            v = d;
        } else if (!hf__parse_i64(p, len, &v) || v < INT32_MIN || v > INT32_MAX) {
            return hf__rej(b, HF_RR_NOT_INTEGER, name, "'%s' is not a 32-bit integer",
                           hf__quote(q, p, len));
        }
        hf__set_int(b, fv, opt, name, v, false);
        return HF_OK;
    }
    case AVRO_INT64: {
        int64_t v;
        if (hf__ends(name, "_at")) {
            int off;
            if (!hf_cal_time_parse(p, len, &v, &off))
                return hf__rej(b, HF_VR_TIME_FORMAT, name,
                               "'%s' is not an ISO 8601 date-time with offset",
                               hf__quote(q, p, len));
        } else if (!hf__parse_i64(p, len, &v)) {
            return hf__rej(b, HF_RR_NOT_INTEGER, name, "'%s' is not a 64-bit integer",
                           hf__quote(q, p, len));
        }
        hf__set_int(b, fv, opt, name, v, true);
        return HF_OK;
    }
    case AVRO_FLOAT:
    case AVRO_DOUBLE: {
        double v = 0;
        const char *why = hf__parse_double(b, p, len, &v);
        if (!why && avro_typeof(ts) == AVRO_FLOAT && !isfinite((float)v))
            why = HF_RR_NOT_FINITE; /* finite as a double, beyond a float */
        if (why && strcmp(why, HF_RR_NOT_NUMBER) == 0)
            return hf__rej(b, why, name, "'%s' is not a decimal number", hf__quote(q, p, len));
        if (why)
            return hf__rej(b, why, name, "'%s' is not a finite number (NaN or beyond %s range)",
                           hf__quote(q, p, len), avro_typeof(ts) == AVRO_FLOAT ? "float" : "double");
        avro_value_t t = hf__target(fv, opt);
        if (avro_typeof(ts) == AVRO_FLOAT)
            avro_value_set_float(&t, (float)v);
        else
            avro_value_set_double(&t, v);
        char num[40];
        int n = snprintf(num, sizeof(num), "%.17g", v);
        hf__canon(b, name, num, (size_t)n);
        return HF_OK;
    }
    case AVRO_BOOLEAN:
        if (hf__ieq(p, len, "true") || (len == 1 && p[0] == '1'))
            hf__set_bool(b, fv, opt, name, true);
        else if (hf__ieq(p, len, "false") || (len == 1 && p[0] == '0'))
            hf__set_bool(b, fv, opt, name, false);
        else
            return hf__rej(b, HF_RR_NOT_BOOLEAN, name, "'%s' is not true or false",
                           hf__quote(q, p, len));
        return HF_OK;
    case AVRO_ENUM: {
        int idx = avro_schema_enum_get_by_name(ts, hf__cstr(b, p, len));
        if (idx < 0)
            return hf__enum_rej(b, ts, name, p, len);
        avro_value_t t = hf__target(fv, opt);
        avro_value_set_enum(&t, idx);
        hf__canon(b, name, p, len);
        return HF_OK;
    }
    default:
        return hf__rej(b, HF_RR_NOT_NUMBER, name, "field type not supported by the publisher");
    }
}
/* ==== entry point ==== */

static hf_err_t hf__check_columns(hf__b_t *b, avro_schema_t schema)
{
    for (size_t i = 0; i < b->nfields; i++) {
        const char *n = b->fields[i].name;
        if (!n || !hf__record_column_known(schema, n)) {
            char q[48];
            return hf__rej(b, HF_RR_UNKNOWN_COLUMN, n ? hf__quote(q, n, strlen(n)) : "",
                           "column '%s' is not a %s column", n ? hf__quote(q, n, strlen(n)) : "",
                           b->event_type);
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(b->fields[j].name, n))
                return hf__rej(b, HF_RR_DUPLICATE_COLUMN, n, "column '%s' appears twice", n);
    }
    return HF_OK;
}

hf_err_t hf__record_build(const hf_record_ctx_t *ctx, const char *event_type, int version,
                          avro_schema_t schema, avro_value_t *value, const hf_field_t *fields,
                          size_t nfields, hf_reject_t *rej, char event_id[37])
{
    hf__b_t b = {.ctx = ctx, .event_type = event_type, .fields = fields, .nfields = nfields,
                 .rej = rej, .volume_ml = -1, .plasma_g = -1};
    hf_err_t err;
    size_t nf = avro_schema_record_size(schema);
    int id_index = -1;
    char given_id[37] = "";
    if ((err = hf__check_columns(&b, schema)) || (err = hf__prepass(&b, schema)))
        goto out;
    hf__canon(&b, "@event_type", event_type, strlen(event_type));
    for (size_t i = 0; i < nf; i++) {
        const char *name = avro_schema_record_field_name(schema, (int)i);
        avro_schema_t fs = avro_schema_record_field_get_by_index(schema, (int)i);
        bool opt = is_avro_union(fs) && avro_schema_union_size(fs) == 2;
        avro_schema_t ts = opt ? avro_schema_union_branch(fs, 1) : fs;
        avro_value_t fv;
        if (avro_value_get_by_index(value, i, &fv, NULL) != 0) {
            err = hf__rej(&b, HF_RR_UNKNOWN_COLUMN, name, "internal: no value slot");
            goto out;
        }
        size_t len = 0;
        const char *p = hf__get(&b, name, &len);
        if (!strcmp(name, "event_id")) {
            id_index = (int)i;
            char q[48];
            if (p && !hf__uuid_norm(p, len, given_id)) {
                err = hf__rej(&b, HF_RR_UUID, name, "'%s' is not a UUID", hf__quote(q, p, len));
                goto out;
            }
            continue;
        }
        bool handled;
        if ((err = hf__special(&b, &fv, ts, opt, name, version, &handled)))
            goto out;
        if (handled)
            continue;
        hf__capture(&b, name, p, len);
        if (!p) {
            if (!opt) {
                err = hf__rej(&b, HF_RR_REQUIRED, name, "%s is required", name);
                goto out;
            }
            hf__set_null(&fv);
            continue;
        }
        if ((err = hf__set_generic(&b, &fv, ts, opt, name, p, len)))
            goto out;
    }
    if ((err = hf__volume_rule(&b, schema)))
        goto out;
    if (given_id[0])
        memcpy(event_id, given_id, 37);
    else
        hf__record_uuid5(b.canon.data, b.canon.len, event_id);
    if (id_index >= 0) {
        avro_value_t fv;
        avro_value_get_by_index(value, (size_t)id_index, &fv, NULL);
        avro_value_set_string_len(&fv, event_id, 37);
    }
out:
    OPENSSL_cleanse(&b.person, sizeof(b.person));
    hf_buf_free(&b.canon);
    hf_buf_free(&b.tmp);
    return err;
}
