/*
 * hf_validate — field-level checks shared by the station publisher and the
 * consumer: ISBT 128 DIN and product code, Chinese resident ID numbers,
 * province codes, ABO/RhD normalization, event times and UTC offsets,
 * collection volumes, plus the calendar arithmetic they rest on.
 *
 * Properties every function here keeps:
 *   - inputs are untrusted bytes with an explicit length; nothing reads past
 *     `len` (an embedded NUL is just an invalid byte), NULL input is invalid;
 *   - no allocation, no locale (no <ctype.h>, no strtol, no timegm), no
 *     global state: safe from any thread;
 *   - every rejection has a stable reason code (HF_VR_* below, also listed in
 *     docs/validation.md). Reason strings are static: never free them. They
 *     are used verbatim as quarantine reasons and publish rejection reasons.
 */
#ifndef HF_VALIDATE_H
#define HF_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_cal.h"
#include "hf_config.h"
#include "hf_err.h"

/* ==== limits on every text and array value (publish and consume) ==== */

/* No field of any hemoflow schema needs more: identifiers are at most 64
 * bytes, free text (abo_rhd_source, deferral_reason...) a line. A longer
 * value is hostile or broken input, refused before it is stored. */
#define HF_VALIDATE_MAX_STRING_BYTES 1024
/* Items of one array (e.g. AdverseEventReported.dins). */
#define HF_VALIDATE_MAX_ARRAY_ITEMS 10000

/* ==== reason codes (stable; changing one is a contract change) ==== */

#define HF_VR_DIN_FORMAT "din_format"
#define HF_VR_DIN_CHECK "din_check"
#define HF_VR_ID_FORMAT "id_format"
#define HF_VR_ID_CHECKSUM "id_checksum"
#define HF_VR_ID_BIRTH_DATE "id_birth_date"
#define HF_VR_PROVINCE_UNKNOWN "province_unknown"
#define HF_VR_BLOOD_GROUP_UNMAPPED "blood_group_unmapped"
#define HF_VR_PRODUCT_CODE_FORMAT "product_code_format"
#define HF_VR_PRODUCT_CODE_TYPE "product_code_type"
#define HF_VR_DATE_FORMAT "date_format"
#define HF_VR_TIME_FORMAT "time_format"
#define HF_VR_TIME_FUTURE "time_future"
#define HF_VR_TIME_BEFORE_FLOOR "time_before_floor"
#define HF_VR_UTC_OFFSET_RANGE "utc_offset_range"
#define HF_VR_UTC_OFFSET_STEP "utc_offset_step"
#define HF_VR_PROCEDURE_UNKNOWN "procedure_unknown"
#define HF_VR_VOLUME_MISSING "volume_missing"
#define HF_VR_VOLUME_NOT_ALLOWED "volume_not_allowed"
#define HF_VR_VOLUME_OUT_OF_RANGE "volume_out_of_range"
#define HF_VR_VOLUME_OVER_MAX "volume_over_max"
#define HF_VR_PLASMA_MISSING "plasma_missing"
#define HF_VR_PLASMA_OUT_OF_RANGE "plasma_out_of_range"
#define HF_VR_PLASMA_OVER_MAX "plasma_over_max"
#define HF_VR_STRING_TOO_LONG "string_too_long"
#define HF_VR_NUL_BYTE "nul_byte"
#define HF_VR_UTF8_INVALID "utf8_invalid"
#define HF_VR_ARRAY_TOO_LONG "array_too_long"

/* ==== ISBT 128 Donation Identification Number ==== */

/* Structure of the 13-character DIN `αppppyynnnnnn`: α in A–N, P–Z, 1–9
 * (never 'O', never '0'), then 12 digits. Upper case only; no leading '=',
 * no flag characters, no check character. */
bool hf_validate_din(const char *din13, size_t len);

/* ISO/IEC 7064 MOD 37-2 check character ('0'–'9', 'A'–'Z' or '*') over the
 * first 13 bytes of din13, which must be '0'–'9' or 'A'–'Z' ('*' is a check
 * character only). Reads at most 13 bytes and stops at a NUL.
 * Returns '\0' when din13 is NULL, shorter than 13 or holds another byte.
 * It checks the alphabet only, not the DIN structure. G123498654321 -> 'H'. */
char hf_validate_din_check_char(const char *din13);

/* 14 bytes: a structurally valid DIN followed by its check character. */
bool hf_validate_din_with_check(const char *s, size_t len);

/* NULL when s is a valid 13-character DIN or a valid 14-character DIN+check;
 * otherwise HF_VR_DIN_FORMAT or HF_VR_DIN_CHECK. */
const char *hf_validate_din_reason(const char *s, size_t len);

/* ==== Chinese resident ID (GB 11643-1999) ==== */

typedef enum hf_id_format_e {
    HF_ID_OTHER = 0, /* not an 18- or 15-character resident ID shape */
    HF_ID_18,        /* 17 digits + check character (0-9, X or x) */
    HF_ID_15,        /* legacy: 15 digits, YYMMDD read as 19YY, no check */
} hf_id_format_t;

/* Classifies by shape alone: HF_ID_18 for 17 digits + [0-9Xx], HF_ID_15 for
 * 15 digits, HF_ID_OTHER otherwise. *checksum_valid (may be NULL) is true
 * when the birth date is a real date (year >= 1800) and, for HF_ID_18, the
 * check character matches; always false for HF_ID_OTHER. The address code is
 * not checked against the province table (see docs/validation.md). */
hf_id_format_t hf_validate_resident_id(const char *s, size_t len, bool *checksum_valid);

/* NULL when valid; else HF_VR_ID_FORMAT, HF_VR_ID_BIRTH_DATE or
 * HF_VR_ID_CHECKSUM (date is checked before the check character). */
const char *hf_validate_resident_id_reason(const char *s, size_t len);

/* Canonical text of a valid resident ID for pseudonymization: an 18-char ID
 * with 'x' upper-cased; a 15-char ID upgraded to 18 chars the GB 11643 way
 * (insert "19" before YYMMDD, append the computed check) so that both forms
 * of one person's number give the same pseudonym. out gets 18 chars + NUL.
 * Returns false (out set to "") when the ID is not valid. */
bool hf_validate_resident_id_canonical(const char *s, size_t len, char out[19]);

/* Avro IdFormat symbol: "id18", "id15", "other". Never NULL. */
const char *hf_validate_id_format_name(hf_id_format_t f);

/* ==== province codes (GB/T 2260, 31 mainland provinces) ==== */

/* Exactly two digits naming one of the 31 mainland provinces (11 .. 65).
 * Rejection reason: HF_VR_PROVINCE_UNKNOWN. */
bool hf_validate_province(const char *code2, size_t len);

/* English name ("Beijing", "Inner Mongolia"); NULL when unknown. Reads at
 * most the first 2 bytes of code2 (stops at a NUL): check length with
 * hf_validate_province() first. The string is static. */
const char *hf_validate_province_name(const char *code2);

/* ==== ABO / RhD ==== */

typedef enum hf_abo_e {
    HF_ABO_UNKNOWN = 0,
    HF_ABO_A,
    HF_ABO_B,
    HF_ABO_AB,
    HF_ABO_O,
} hf_abo_t;

typedef enum hf_rhd_e {
    HF_RHD_UNKNOWN = 0,   /* could not be mapped */
    HF_RHD_POS,
    HF_RHD_NEG,
    HF_RHD_UNSPECIFIED,   /* the source gave ABO only (ISBT 55/66/77/88, "A", "A型") */
} hf_rhd_t;

/* Normalize a station's blood-group text (UTF-8) or ISBT 128 two-digit
 * ABO/RhD code to (abo, rhd). Accepted forms are listed in
 * docs/validation.md ("A+", "o neg", "AB Rh(D) positive", "B阳性",
 * "A型Rh阴性", "51", ...). On HF_ERR_INVALID both outputs are set to
 * UNKNOWN and the reason is HF_VR_BLOOD_GROUP_UNMAPPED: keep the source text.
 * Inputs longer than 64 bytes are rejected. abo and rhd must not be NULL. */
hf_err_t hf_validate_blood_group(const char *text, size_t len, hf_abo_t *abo, hf_rhd_t *rhd)
    __attribute__((warn_unused_result));

/* Avro AboGroup / RhD symbols: "a","b","ab","o","unknown" and
 * "pos","neg","unspecified","unknown". Never NULL. */
const char *hf_validate_abo_name(hf_abo_t abo);
const char *hf_validate_rhd_name(hf_rhd_t rhd);

/* ==== ISBT 128 product code ==== */

/* Exactly 8 bytes `αoooo t ds`: α 'A'–'Z', oooo digits, t a collection type
 * accepted by hf_validate_collection_type(), d '0'–'9'/'A'–'Z', s
 * '0'–'9'/'a'–'z' (e.g. "E0336V00", "E0336VA0", "E0336VAa"). No "=<" data
 * identifier. */
bool hf_validate_product_code(const char *s, size_t len);

/* NULL when valid; else HF_VR_PRODUCT_CODE_FORMAT or, when only the
 * collection-type character is unknown, HF_VR_PRODUCT_CODE_TYPE. */
const char *hf_validate_product_code_reason(const char *s, size_t len);

/* Avro CollectionType symbol for a product-code type character:
 * V S -> "volunteer", P s -> "paid", A 1 X -> "autologous", D -> "directed",
 * 0 (not specified) -> "unknown"; NULL when t is not an accepted type. */
const char *hf_validate_collection_type(char t);

/* ==== times ==== */

/* event_us and now_us are µs since the Unix epoch (UTC). HF_ERR_INVALID when
 * event_us > now_us + skew_s (HF_VR_TIME_FUTURE) or event_us < floor_us
 * (HF_VR_TIME_BEFORE_FLOOR). Overflow-safe for any inputs; a negative skew_s
 * counts as 0. *reason (reason may be NULL) is NULL on HF_OK. */
hf_err_t hf_validate_time(int64_t event_us, int64_t now_us, int64_t skew_s, int64_t floor_us,
                          const char **reason) __attribute__((warn_unused_result));

/* −720 .. +840 minutes and a multiple of 15. */
bool hf_validate_utc_offset(int minutes);
/* NULL when valid; else HF_VR_UTC_OFFSET_RANGE or HF_VR_UTC_OFFSET_STEP. */
const char *hf_validate_utc_offset_reason(int minutes);

/* ==== text values ==== */

/* True when s[0..len) is valid UTF-8: shortest forms only, no surrogates,
 * nothing above U+10FFFF, and no NUL byte (PostgreSQL text cannot hold one). */
bool hf_validate_utf8(const char *s, size_t len);

/* NULL when s[0..len) may be stored as a text value; else, checked in this
 * order, HF_VR_STRING_TOO_LONG (more than HF_VALIDATE_MAX_STRING_BYTES),
 * HF_VR_NUL_BYTE (a 0x00 byte), HF_VR_UTF8_INVALID. */
const char *hf_validate_text_reason(const char *s, size_t len);

/* Dates and ISO 8601 instants: hf_cal.h (common/). */

/* ==== volumes by procedure ==== */

typedef enum hf_procedure_e {
    HF_PROC_UNKNOWN = 0,
    HF_PROC_WHOLE_BLOOD,
    HF_PROC_APHERESIS_PLASMA,
    HF_PROC_APHERESIS_PLATELETS,
    HF_PROC_APHERESIS_RED_CELLS,
} hf_procedure_t;

#define HF_VALIDATE_WB_MAX 16 /* most whole-blood volumes a config may list */

/* A snapshot of the validate.* config keys; plain value, copy freely. */
typedef struct hf_validate_rules_s {
    int whole_blood_ml[HF_VALIDATE_WB_MAX]; /* allowed whole-blood volumes */
    size_t whole_blood_n;                   /* entries used in whole_blood_ml */
    int platelets_max_ml;                   /* validate.apheresis_platelets_max_ml */
    int plasma_max_g;                       /* validate.plasma_max_g */
    int red_cells_max_ml;                   /* fixed 1000 (no config key yet) */
    int64_t clock_skew_s;                   /* validate.clock_skew_s */
    int64_t time_floor_us;                  /* validate.time_floor, 00:00 UTC */
} hf_validate_rules_t;

/* The built-in defaults (same values as the config table's defaults). */
void hf_validate_rules_default(hf_validate_rules_t *r);

/* Fill r from cfg. HF_ERR_CONFIG (errstr names the key) when
 * validate.whole_blood_ml is not a list of 1..HF_VALIDATE_WB_MAX integers in
 * 1..5000 or validate.time_floor is not a YYYY-MM-DD date; r is then left
 * with the defaults. errstr may be NULL. cfg is only read. */
hf_err_t hf_validate_rules_from_config(hf_validate_rules_t *r, const hf_config_t *cfg,
                                       char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Volume plausibility; pass -1 for a field the event does not carry.
 *   whole blood:      volume_ml in the allowed set (plasma_g ignored)
 *   apheresis plasma: plasma_g in 1..plasma_max_g (volume_ml ignored)
 *   platelets:        volume_ml in 1..platelets_max_ml
 *   red cells:        volume_ml in 1..red_cells_max_ml
 * Callers skip this for donations flagged `incomplete`. *reason (may be
 * NULL) is NULL on HF_OK. */
hf_err_t hf_validate_volume(const hf_validate_rules_t *r, hf_procedure_t proc,
                            int volume_ml_or_minus1, int plasma_g_or_minus1, const char **reason)
    __attribute__((warn_unused_result));

/* Event time against the rules' skew and floor (hf_validate_time()). */
hf_err_t hf_validate_time_rules(const hf_validate_rules_t *r, int64_t event_us, int64_t now_us,
                                const char **reason) __attribute__((warn_unused_result));

/* Avro Procedure symbols: "whole_blood", "apheresis_plasma",
 * "apheresis_platelets", "apheresis_red_cells", "unknown". Never NULL. */
const char *hf_validate_procedure_name(hf_procedure_t p);
/* Inverse of the above (exact, case-sensitive); false when unknown. */
bool hf_validate_procedure_parse(const char *s, size_t len, hf_procedure_t *out);

#endif /* HF_VALIDATE_H */
