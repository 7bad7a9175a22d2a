/*
 * hf_decoder — the consumer's hot path: decode any single-object frame
 * whose writer schema is in the catalogue into the newest schema of its
 * event type.
 *
 * Why not Avro C's own resolver: avro_resolved_writer_new() in Avro C 1.11
 * rejects a reader field that the writer lacks ("Reader field ... doesn't
 * appear in writer"; defaults are a TODO there) and has no enum defaults, and
 * avro_value_read() trusts lengths and counts in the input. The decoder here
 * reads the bytes itself, following the plan the catalogue compiled from the
 * specification's resolution rules, with every length checked against the
 * bytes left, and writes the result into an ordinary Avro C generic value of
 * the reader schema.
 *
 * The catalogue is shared by all threads; decoding state (reusable values,
 * scratch memory) lives in an hf_decoder_t, one per thread.
 */
#ifndef HF_DECODER_H
#define HF_DECODER_H

#include <avro.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_err.h"
#include "hf_event_types.h"
#include "hf_validate.h"

typedef struct hf_catalog_s hf_catalog_t; /* hf_catalog.h */
typedef struct hf_decoder_s hf_decoder_t;

/* ==== lifecycle ==== */

/* One per thread. cat is borrowed and must outlive the decoder. */
hf_decoder_t *hf_decoder_new(const hf_catalog_t *cat);
void hf_decoder_destroy(hf_decoder_t *dec); /* NULL is a no-op */

/* ==== quarantine reason codes (stable; docs/consume.md lists them) ==== */

#define HF_DR_EMPTY "empty"                      /* no value at all (0 bytes, tombstone) */
#define HF_DR_BAD_MAGIC "bad_magic"              /* does not start with C3 01 */
#define HF_DR_TRUNCATED "truncated"              /* header cut, or body ends inside a value */
#define HF_DR_OVERSIZE "oversize"                /* larger than the configured limit */
#define HF_DR_UNKNOWN_FINGERPRINT "unknown_fingerprint"
#define HF_DR_TRAILING "trailing_bytes"          /* bytes left after the record */
#define HF_DR_VARINT "varint_invalid"            /* varint over 10 bytes or 64 bits */
#define HF_DR_INT_RANGE "int_range"              /* an int outside 32 bits */
#define HF_DR_NEGATIVE_LENGTH "negative_length"  /* string/bytes length < 0 */
#define HF_DR_BLOCK_COUNT "block_count"          /* array/map count that cannot fit */
#define HF_DR_ENUM_INDEX "enum_index"            /* enum index outside the symbols */
#define HF_DR_UNION_INDEX "union_index"          /* union index outside the branches */
#define HF_DR_BOOLEAN "bad_boolean"              /* boolean byte other than 0/1 */
#define HF_DR_NOT_FINITE "not_finite"            /* float/double NaN or +-Infinity */
#define HF_DR_TOO_DEEP "too_deep"                /* nesting deeper than 64 */
#define HF_DR_UNRESOLVABLE "unresolvable"        /* writer enum symbol / union branch the
                                                    reader cannot represent */
#define HF_DR_ARRAY_TOO_LONG HF_VR_ARRAY_TOO_LONG   /* > HF_VALIDATE_MAX_ARRAY_ITEMS */
#define HF_DR_STRING_TOO_LONG HF_VR_STRING_TOO_LONG /* > HF_VALIDATE_MAX_STRING_BYTES */
#define HF_DR_NUL_BYTE HF_VR_NUL_BYTE               /* a string holds 0x00 */
#define HF_DR_UTF8_INVALID HF_VR_UTF8_INVALID       /* a string is not UTF-8 */
#define HF_DR_DECODE "decode"                    /* Avro C refused a value (a bug) */

/* ==== decoding ==== */

typedef struct hf_decoded_s {
    const hf_event_type_t *event_type;
    /* The writer schema's fingerprint from the frame header. Set whenever
     * the message starts with a whole header (10 bytes, C3 01), also when
     * decoding fails after that: oversize, a header without a body, an
     * unknown fingerprint, a body that does not decode, trailing bytes.
     * has_fingerprint is false (and fingerprint 0) when the message is too
     * short for a header or does not start with C3 01. */
    bool has_fingerprint;
    uint64_t fingerprint;
    int writer_version;
    int reader_version; /* newest version of event_type */
    /* On error: the HF_DR_* code naming exactly what is wrong (static
     * string, the quarantine reason). NULL on HF_OK. */
    const char *reason;
    /* The record in the reader (newest) schema. Borrowed from the decoder:
     * valid until the next hf_decoder_decode or hf_decoder_destroy. */
    avro_value_t *value;
} hf_decoded_t;

/* Decode one frame (whole Kafka message value). buf is only read during the
 * call. Errors, all permanent (quarantine the message):
 *   HF_ERR_OVERSIZE, HF_ERR_TRUNCATED, HF_ERR_BAD_MAGIC  frame (hf_frame.h);
 *                       TRUNCATED also when the body ends inside a value
 *   HF_ERR_UNKNOWN_FINGERPRINT  writer schema not in the catalogue
 *   HF_ERR_DECODE       the body does not match the writer schema (bad
 *                       varint, union index, enum index, boolean byte, a
 *                       negative length, nesting deeper than 64), or an
 *                       enum symbol or union branch the reader cannot
 *                       represent
 *   HF_ERR_TRAILING     bytes left after the record
 *   HF_ERR_DECODE also for a string that is longer than
 *                       HF_VALIDATE_MAX_STRING_BYTES, holds a NUL byte or is
 *                       not UTF-8, and for more than HF_VALIDATE_MAX_ARRAY_ITEMS
 *                       items in one array or map
 *   HF_ERR_DECODE also for a float or double that is NaN or infinite
 * out->reason names the case precisely (HF_DR_*); errstr says where (field
 * path) and why. On HF_OK *out is filled; on error
 * only has_fingerprint and fingerprint are (event_type and value are NULL,
 * the versions 0), so that a quarantined message can name its writer. */
hf_err_t hf_decoder_decode(hf_decoder_t *dec, const void *buf, size_t len, size_t max_len,
                           hf_decoded_t *out, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

#endif /* HF_DECODER_H */
