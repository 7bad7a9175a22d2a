/*
 * hf_record_int — what hf_record.c (helpers, setters, the schema walk) and
 * hf_record_rules.c (the field-specific rules: DINs, the person ID, the
 * pre-pass, derived fields, the volume rule) share: the builder state and
 * the functions each calls in the other. Not a public API (hf__ names).
 */
#ifndef HF_RECORD_INT_H
#define HF_RECORD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <avro.h>

#include "hf_record.h"

typedef struct hf__b_s {
    const hf_record_ctx_t *ctx;
    const char *event_type;
    const hf_field_t *fields;
    size_t nfields;
    hf_reject_t *rej;
    hf_buf_t canon;  /* canonical content for the derived event id */
    hf_buf_t tmp;    /* NUL-terminated scratch copy of one value */
    /* pre-pass results */
    int64_t occurred_us;
    int offset_min;
    bool have_person;   /* donor_id / patient_id was given */
    hf_pseudo_id_t person;
    hf_abo_t abo;
    hf_rhd_t rhd;
    bool abo_mapped;
    /* captured for the volume rule */
    const char *proc;
    size_t proc_len;
    int volume_ml, plasma_g;
    bool incomplete;
} hf__b_t;

/* hf_record.c */
void hf__canon(hf__b_t *b, const char *name, const char *text, size_t len);
const char *hf__cstr(hf__b_t *b, const char *p, size_t len);
const char *hf__get(const hf__b_t *b, const char *name, size_t *len);
bool hf__has_field(avro_schema_t schema, const char *name);
bool hf__ieq(const char *p, size_t len, const char *lit);
bool hf__parse_i64(const char *p, size_t len, int64_t *out);
const char *hf__quote(char out[48], const char *p, size_t len);
hf_err_t hf__rej(hf__b_t *b, const char *reason, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void hf__set_bool(hf__b_t *b, avro_value_t *fv, bool opt, const char *name, bool v);
void hf__set_enum(hf__b_t *b, avro_value_t *fv, avro_schema_t es, const char *name,
                  const char *sym);
hf_err_t hf__set_generic(hf__b_t *b, avro_value_t *fv, avro_schema_t ts, bool opt,
                         const char *name, const char *p, size_t len);
void hf__set_int(hf__b_t *b, avro_value_t *fv, bool opt, const char *name, int64_t v,
                 bool is_long);
void hf__set_null(avro_value_t *fv);
void hf__set_str(hf__b_t *b, avro_value_t *fv, bool opt, const char *name, const char *p,
                 size_t len);
bool hf__space(char c);
avro_value_t hf__target(avro_value_t *fv, bool opt);
hf_err_t hf__text_check(hf__b_t *b, const char *name, const char *p, size_t len);
bool hf__uuid_norm(const char *p, size_t len, char out[37]);

/* hf_record_rules.c */
void hf__capture(hf__b_t *b, const char *name, const char *p, size_t len);
hf_err_t hf__prepass(hf__b_t *b, avro_schema_t schema);
hf_err_t hf__special(hf__b_t *b, avro_value_t *fv, avro_schema_t ts, bool opt,
                     const char *name, int version, bool *handled);
hf_err_t hf__volume_rule(hf__b_t *b, avro_schema_t schema);

#endif
