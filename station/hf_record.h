/*
 * hf_record — turning one station record (column name → text) into an Avro
 * value of a writer schema: column checks, parsing by Avro type, the
 * station-side derivations (pseudonyms, id_format, blood group, offsets,
 * defaults) and validation with hf_validate, with a stable reason code for
 * every refusal. Private to station/ (hf__ names are not installed).
 */
#ifndef HF_RECORD_H
#define HF_RECORD_H

#include <avro.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_err.h"
#include "hf_mem.h"
#include "hf_pseudo.h"
#include "hf_station.h"
#include "hf_validate.h"

/* Reason codes of hf_record itself (hf_validate's HF_VR_* are used too). */
#define HF_RR_REQUIRED "required_missing"
#define HF_RR_UNKNOWN_COLUMN "unknown_column"
#define HF_RR_DUPLICATE_COLUMN "duplicate_column"
#define HF_RR_NOT_INTEGER "not_integer"
#define HF_RR_NOT_NUMBER "not_number"
#define HF_RR_NOT_FINITE "not_finite" /* NaN, +-Infinity, beyond the double range */
#define HF_RR_NOT_BOOLEAN "not_boolean"
#define HF_RR_ENUM "enum_value"
#define HF_RR_UUID "uuid_format"
#define HF_RR_EVENT_TYPE "event_type_mismatch"
#define HF_RR_SCHEMA_VERSION "schema_version_unknown"
#define HF_RR_PID "pid_format"
#define HF_RR_ID_AND_PID "id_and_pid"
#define HF_RR_REVISION "revision_range"
#define HF_RR_UTF8 "utf8_invalid"
#define HF_RR_TOO_LARGE "record_too_large"

typedef struct hf_record_ctx_s {
    const hf_pseudo_t *pseudo;         /* NULL: raw donor_id/patient_id are refused */
    const hf_validate_rules_t *rules;
    const char *source_system;         /* default source_system */
    int64_t now_us;                    /* reported_at default and time checks */
    bool skip_validation;              /* domain checks off (fault injection) */
} hf_record_ctx_t;

/* Is `column` accepted in a station export for this writer schema? */
bool hf__record_column_known(avro_schema_t schema, const char *column);

/* Fill value (a generic value of schema, reset by the caller) from fields.
 * HF_OK, or HF_ERR_INVALID with *rej filled (rej->reason static). On
 * success event_id (37 bytes) holds the event id that was set (given or
 * derived) and key_out points at facility_id inside value. */
hf_err_t hf__record_build(const hf_record_ctx_t *ctx, const char *event_type, int version,
                          avro_schema_t schema, avro_value_t *value, const hf_field_t *fields,
                          size_t nfields, hf_reject_t *rej, char event_id[37])
    __attribute__((warn_unused_result));

/* Name-based UUID (RFC 4122 version 5: SHA-1 over the hemoflow namespace
 * 301fb73e-a84a-5401-9b0c-249ed731b369 and data), lowercase text. */
void hf__record_uuid5(const void *data, size_t len, char out[37]);

#endif /* HF_RECORD_H */
