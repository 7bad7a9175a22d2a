/*
 * hf_catalog — the schema catalogue (every <EventType>.v<N>.avsc ever
 * published) and the two hot paths built on it: encoding a record into a
 * single-object frame (publisher, here) and decoding any frame into the
 * newest schema of its event type (consumer, hf_decoder.h).
 *
 * A catalogue is immutable after hf_catalog_load() and may be shared by any
 * number of threads. Everything that depends only on the schemas is computed
 * at load time, per fingerprint: the Avro C schema, the canonical form, the
 * fingerprint, and the decoding plan from that writer version to the newest
 * version of its event type. Encoding uses Avro C unchanged.
 *
 * @remark This header includes hf_decoder.h so that code written when the
 *         decoder was declared here keeps compiling; code that decodes
 *         should include hf_decoder.h itself.
 */
#ifndef HF_CATALOG_H
#define HF_CATALOG_H

#include <avro.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_avro.h"
#include "hf_decoder.h" /* the reader side; see the remark above */
#include "hf_err.h"
#include "hf_event_types.h"
#include "hf_mem.h"

typedef struct hf_catalog_s hf_catalog_t;

/* ==== lifecycle ==== */

/* Load every *.avsc file of dir. Files must be named <EventType>.v<N>.avsc
 * (N >= 1, no leading zero) with EventType one of hf_event_types and equal
 * to the record's name; each must be accepted by Avro C and by hf_avro; no
 * two files may share a fingerprint; every event type needs at least one
 * version; and every version must be readable by the newest version of its
 * type. Other files are ignored. NULL with errstr naming the file and the
 * reason on failure. */
hf_catalog_t *hf_catalog_load(const char *dir, char *errstr, size_t errstr_size);
void hf_catalog_destroy(hf_catalog_t *cat); /* NULL is a no-op */

/* ==== listing ==== */

typedef struct hf_catalog_info_s {
    const hf_event_type_t *event_type; /* static table entry */
    int version;                       /* N of <EventType>.vN.avsc */
    uint64_t fingerprint;              /* CRC-64-AVRO of the canonical form */
    const char *path;                  /* owned by the catalogue */
    const char *canonical;             /* Parsing Canonical Form; owned by the catalogue */
    bool is_newest;                    /* the reader schema of its event type */
} hf_catalog_info_t;

/* Entries are ordered by event type (hf_event_types order), then version. */
size_t hf_catalog_count(const hf_catalog_t *cat);
/* Fill *out for entry i < count; HF_ERR_NOT_FOUND when out of range. */
hf_err_t hf_catalog_entry(const hf_catalog_t *cat, size_t i, hf_catalog_info_t *out);
/* Fill *out for a fingerprint; HF_ERR_UNKNOWN_FINGERPRINT when absent. */
hf_err_t hf_catalog_find(const hf_catalog_t *cat, uint64_t fingerprint, hf_catalog_info_t *out);

/* ==== reader schema ==== */

/* hemoflow's schema tree (hf_avro.h) of the newest version of event_type,
 * the reader schema every decoded value of that type has: field names and
 * order, types, nullability (["null", T] unions) and logical types, for a
 * stage that lays out columns. Borrowed: valid until hf_catalog_destroy.
 * *version_out (may be NULL) receives the version. NULL when event_type is
 * not an entry of hf_event_types. */
const hf_avro_schema_t *hf_catalog_reader_tree(const hf_catalog_t *cat,
                                               const hf_event_type_t *event_type, int *version_out);

/* ==== writer side ==== */

/* Schema of event_type (Avro name or snake_case) at version (0 = newest).
 * Borrowed: valid until hf_catalog_destroy; do not decref. NULL when the
 * type or version is unknown. *fingerprint_out (may be NULL) receives the
 * version's fingerprint, to pass to hf_catalog_encode. */
avro_schema_t hf_catalog_schema(const hf_catalog_t *cat, const char *event_type, int version,
                                uint64_t *fingerprint_out);

/* Append one frame (header + Avro binary body) for value to out. value must
 * be an instance of the schema of that fingerprint (e.g. made with
 * avro_generic_class_from_schema(hf_catalog_schema(...))). The caller keeps
 * ownership of value and out. Errors: HF_ERR_UNKNOWN_FINGERPRINT,
 * HF_ERR_SCHEMA (value has another schema), HF_ERR_INVALID (Avro C could not
 * encode the value, e.g. a union with no branch set); out->len is unchanged
 * on error. Thread-safe. */
hf_err_t hf_catalog_encode(const hf_catalog_t *cat, avro_value_t *value, uint64_t fingerprint,
                           hf_buf_t *out, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Index of a field of the newest schema of event_type, for
 * avro_value_get_by_index on decoded values; -1 when unknown. */
int hf_catalog_field_index(const hf_catalog_t *cat, const hf_event_type_t *event_type,
                           const char *field);

/* ==== compatibility ==== */

/* `hemoflow schemas check FILE`: FILE must be named <EventType>.v<N>.avsc.
 * For every catalogue version W < N of that event type, checks that the
 * candidate can read W's data (backward) and W can read the candidate's
 * (forward). A catalogue version N with a different fingerprint is an error
 * (published versions never change). Appends a human-readable report to
 * *report (NUL-terminated; report->len excludes the NUL). Returns
 *   HF_OK           compatible
 *   HF_ERR_SCHEMA   incompatible (the report says which pair, where, why)
 *   HF_ERR_INVALID  the candidate is not a valid schema file (bad file name,
 *                   JSON, Avro, unknown event type)
 *   HF_ERR_IO / HF_ERR_NOT_FOUND  the file cannot be read */
hf_err_t hf_catalog_check(const hf_catalog_t *cat, const char *candidate_path, hf_buf_t *report)
    __attribute__((warn_unused_result));

#endif /* HF_CATALOG_H */
