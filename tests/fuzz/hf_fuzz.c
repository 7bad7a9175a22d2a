/*
 * hf_fuzz — the shared setup of the fuzz targets (see hf_fuzz.h).
 */
#define _GNU_SOURCE /* memmem */
#include "hf_fuzz.h"

#include <avro.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hf_decoder.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_normalize.h"
#include "hf_pseudo.h"
#include "hf_record.h"
#include "hf_validate.h"

/* ==== process-wide state (one fuzzing process) ==== */

typedef struct hf__fuzz_s {
    hf_catalog_t *cat;
    hf_pseudo_t *pseudo;
    hf_validate_rules_t rules;
    hf_decoder_t *dec;
    hf_normalizer_t *norm;
    /* writer value per (type, version): index type * 8 + version (16 types, v1..v7) */
    avro_value_iface_t *iface[128];
    avro_value_t value[128];
    bool have_value[128];
    hf_buf_t frame, again;
    bool verbose; /* HF_FUZZ_VERBOSE set: print rejections (make_seeds) */
} hf__fuzz_t;

static hf__fuzz_t *hf__state;

void hf_fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hf_fuzz: invariant broken: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

const hf_catalog_t *hf_fuzz_catalog(void)
{
    static hf_catalog_t *cat;
    if (!cat) {
        const char *src = getenv("HF_SOURCE_DIR");
        char *dir = hf_asprintf("%s/schemas/avro", src && *src ? src : HF_SOURCE_DIR);
        char err[1024] = "";
        cat = hf_catalog_load(dir, err, sizeof(err));
        if (!cat)
            hf_fuzz_fail("schema catalogue %s: %s", dir, err);
        hf_free(dir);
        /* quiet: the code under test logs every rejection */
        hf_log_init(HF_LOG_ERROR, stderr);
    }
    return cat;
}

/* A 32-byte key in a fresh 0600 file (the station refuses raw IDs without
 * one), loaded and the file removed. */
static hf_pseudo_t *hf__pseudo(void)
{
    char dir[] = "/tmp/hf_fuzz_key_XXXXXX";
    if (!mkdtemp(dir))
        hf_fuzz_fail("mkdtemp: cannot create a key folder");
    char *path = hf_asprintf("%s/national.key", dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs("fuzz-key-0123456789abcdef0123456789abcdef\n", f) == EOF || fclose(f) != 0)
        hf_fuzz_fail("cannot write %s", path);
    if (chmod(path, 0600) != 0)
        hf_fuzz_fail("chmod %s", path);
    hf_err_t e;
    char err[512] = "";
    hf_pseudo_t *p = hf_pseudo_load(path, &e, err, sizeof(err));
    if (!p)
        hf_fuzz_fail("key %s: %s", path, err);
    unlink(path);
    rmdir(dir);
    hf_free(path);
    return p;
}

static hf__fuzz_t *hf__fuzz(void)
{
    if (!hf__state) {
        hf__fuzz_t *s = hf_calloc(1, sizeof(*s));
        s->cat = (hf_catalog_t *)hf_fuzz_catalog();
        s->pseudo = hf__pseudo();
        hf_validate_rules_default(&s->rules);
        s->verbose = getenv("HF_FUZZ_VERBOSE") != NULL;
        s->dec = hf_decoder_new(s->cat);
        s->norm = hf_normalizer_new(s->cat, &s->rules);
        if (!s->dec || !s->norm)
            hf_fuzz_fail("decoder or normalizer could not be made");
        hf__state = s;
    }
    return hf__state;
}

/* ==== input framing ==== */

const hf_event_type_t *hf_fuzz_type_line(const uint8_t **data, size_t *len, int *version)
{
    const uint8_t *nl = memchr(*data, '\n', *len < 64 ? *len : 64);
    if (!nl)
        return NULL;
    char name[64];
    size_t n = (size_t)(nl - *data);
    memcpy(name, *data, n);
    name[n] = '\0';
    int v = 0;
    char *dot = strstr(name, ".v");
    if (dot) {
        if (dot[2] < '1' || dot[2] > '7' || dot[3] != '\0')
            return NULL;
        v = dot[2] - '0';
        *dot = '\0';
    }
    const hf_event_type_t *t = hf_event_type_find(name);
    if (!t)
        return NULL;
    *version = v;
    *data += n + 1;
    *len -= n + 1;
    return t;
}

/* ==== the round trip ==== */

/* The raw donor_id / patient_id of a record when the privacy check can
 * look for it: shaped like an ID number (8+ letters and digits, 6+ of them
 * digits, so that no fixed text of a message, such as the example time in
 * time_format's, can match it) and inside no other field's value (so that
 * finding it in the output can only mean it was copied there). */
static const char *hf__raw_id(const hf_field_t *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!fields[i].name || !fields[i].value ||
            (strcmp(fields[i].name, "donor_id") && strcmp(fields[i].name, "patient_id")))
            continue;
        const char *raw = fields[i].value;
        size_t digits = 0, len = strlen(raw);
        for (size_t k = 0; k < len; k++) {
            char c = raw[k];
            if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
                return NULL;
            digits += c >= '0' && c <= '9';
        }
        if (len < 8 || digits < 6)
            return NULL;
        for (size_t j = 0; j < n; j++)
            if (j != i && ((fields[j].value && strstr(fields[j].value, raw)) ||
                           (fields[j].name && strstr(fields[j].name, raw))))
                return NULL;
        return raw;
    }
    return NULL;
}

static avro_value_t *hf__value(hf__fuzz_t *s, const hf_event_type_t *t, int version,
                               avro_schema_t schema)
{
    size_t i = (size_t)(t - hf_event_types) * 8 + (size_t)version;
    if (i >= 128)
        return NULL;
    if (!s->have_value[i]) {
        s->iface[i] = avro_generic_class_from_schema(schema);
        if (!s->iface[i] || avro_generic_value_new(s->iface[i], &s->value[i]) != 0)
            hf_fuzz_fail("no generic value for %s v%d: %s", t->name, version, avro_strerror());
        s->have_value[i] = true;
    }
    return &s->value[i];
}

/* Build and encode into s->frame; false when the station rejects the
 * record (or there is no such version). *info names the writer. */
static bool hf__build(hf__fuzz_t *s, const hf_event_type_t *t, int version,
                      const hf_field_t *fields, size_t n, hf_catalog_info_t *info,
                      avro_value_t **vout)
{
    uint64_t fp = 0;
    avro_schema_t schema = hf_catalog_schema(s->cat, t->name, version, &fp);
    if (!schema)
        return false; /* no such version: the station says schema_version_unknown */
    if (hf_catalog_find(s->cat, fp, info) != HF_OK)
        hf_fuzz_fail("fingerprint of %s v%d not in the catalogue", t->name, version);
    avro_value_t *v = hf__value(s, t, info->version, schema);
    if (!v)
        return false;
    avro_value_reset(v);
    hf_record_ctx_t ctx = {.pseudo = s->pseudo, .rules = &s->rules, .source_system = "fuzz",
                           .now_us = HF_FUZZ_NOW_US};
    hf_reject_t rej;
    memset(&rej, 0, sizeof(rej));
    char event_id[37];
    if (hf__record_build(&ctx, t->name, info->version, schema, v, fields, n, &rej, event_id) !=
        HF_OK) {
        if (!rej.reason || !*rej.reason)
            hf_fuzz_fail("%s v%d: rejected without a reason (%s)", t->name, info->version,
                         rej.detail);
        if (s->verbose)
            fprintf(stderr, "%s v%d: rejected reason=%s field=%s %s\n", t->name,
                    info->version, rej.reason, rej.field, rej.detail);
        const char *raw = hf__raw_id(fields, n);
        if (raw && (strstr(rej.detail, raw) || strstr(rej.field, raw))) {
            for (size_t i = 0; i < n; i++) /* fuzz data, for the triage */
                fprintf(stderr, "  field %s = '%s'\n", fields[i].name,
                        fields[i].value ? fields[i].value : "(null)");
            fprintf(stderr, "  rejected: field=%s %s\n", rej.field, rej.detail);
            hf_fuzz_fail("%s v%d: a raw ID number is in the rejection (%s)", t->name,
                         info->version, rej.reason);
        }
        return false;
    }
    char err[512] = "";
    hf_buf_reset(&s->frame);
    if (hf_catalog_encode(s->cat, v, fp, &s->frame, err, sizeof(err)) != HF_OK)
        return false; /* the station rejects it as encode_failed */
    /* raw ID numbers never enter Kafka (DESIGN.md, Privacy) */
    const char *raw = hf__raw_id(fields, n);
    if (raw && memmem(s->frame.data, s->frame.len, raw, strlen(raw)))
        hf_fuzz_fail("%s v%d: the encoded frame holds a raw ID number", t->name, info->version);
    *vout = v;
    return true;
}

bool hf_fuzz_encode(const hf_event_type_t *t, int version, const hf_field_t *fields, size_t n,
                    hf_buf_t *out)
{
    hf__fuzz_t *s = hf__fuzz();
    hf_catalog_info_t info;
    avro_value_t *v;
    if (!hf__build(s, t, version, fields, n, &info, &v))
        return false;
    hf_buf_append(out, s->frame.data, s->frame.len);
    return true;
}

void hf_fuzz_record(const hf_event_type_t *t, int version, const hf_field_t *fields, size_t n)
{
    hf__fuzz_t *s = hf__fuzz();
    hf_catalog_info_t info;
    avro_value_t *v;
    if (!hf__build(s, t, version, fields, n, &info, &v))
        return;
    char err[512] = "";
    hf_decoded_t d;
    hf_err_t e = hf_decoder_decode(s->dec, s->frame.data, s->frame.len, 0, &d, err, sizeof(err));
    if (e != HF_OK)
        hf_fuzz_fail("%s v%d: the station encoded a frame of %zu bytes that does not decode: %s",
                     t->name, info.version, s->frame.len, err);
    if (d.event_type != t || d.writer_version != info.version)
        hf_fuzz_fail("%s v%d: decoded as %s v%d", t->name, info.version,
                     d.event_type ? d.event_type->name : "?", d.writer_version);
    if (info.is_newest) { /* the decoded value encodes to the station's bytes */
        hf_buf_reset(&s->again);
        if (hf_catalog_encode(s->cat, d.value, d.fingerprint, &s->again, err, sizeof(err)) !=
                HF_OK ||
            s->again.len != s->frame.len || memcmp(s->again.data, s->frame.data, s->frame.len))
            hf_fuzz_fail("%s v%d: decoded value differs from the encoded one", t->name,
                         info.version);
    }
    hf_norm_t norm;
    if (hf_normalize(s->norm, &d, HF_FUZZ_NOW_US, &norm) == HF_ERR_INVALID &&
        (!norm.reason || !*norm.reason))
        hf_fuzz_fail("%s v%d: normalizer rejected without a reason", t->name, info.version);
}
