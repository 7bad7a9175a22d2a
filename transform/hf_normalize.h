/*
 * hf_normalize — the consumer's checks on a decoded event before it may
 * enter the warehouse: the shared validators (hf_validate) applied to the
 * fields each event type carries, plus the envelope rules (UUIDs, province,
 * UTC offset, plausible times). Produces what the loader and the in-batch
 * dedupe need: the event_id as 16 bytes, the province and the station-local
 * event date.
 *
 * A normalizer holds the field positions of the newest schema of every event
 * type (looked up once) and is read-only afterwards: share it freely.
 */
#ifndef HF_NORMALIZE_H
#define HF_NORMALIZE_H

#include <stdint.h>

#include "hf_catalog.h"
#include "hf_decoder.h"
#include "hf_err.h"
#include "hf_uuid.h"
#include "hf_validate.h"

typedef struct hf_normalizer_s hf_normalizer_t;

/* cat is borrowed and must outlive the normalizer; rules are copied. */
hf_normalizer_t *hf_normalizer_new(const hf_catalog_t *cat, const hf_validate_rules_t *rules);
void hf_normalizer_destroy(hf_normalizer_t *n); /* NULL is a no-op */

typedef struct hf_norm_s {
    uint8_t event_id[16];    /* binary UUID */
    char province[3];        /* 2-digit GB/T 2260 code + NUL */
    int32_t event_date;      /* days since 1970-01-01 of occurred_at in the station's offset */
    int64_t occurred_at_us;  /* UTC instant */
    const char *reason;      /* HF_ERR_INVALID: stable reason code (static string) */
    char detail[160];        /* HF_ERR_INVALID: which field and value */
} hf_norm_t;

/* HF_OK, or HF_ERR_INVALID with out->reason/detail (quarantine the event).
 * now_us: the consumer's clock, for the future-time rule. */
hf_err_t hf_normalize(const hf_normalizer_t *n, const hf_decoded_t *dec, int64_t now_us,
                      hf_norm_t *out) __attribute__((warn_unused_result));

/* The Kafka message key must be the record's facility_id: topics are keyed
 * by facility so that each station's events stay ordered, and a key that
 * disagrees means the producer is not hemoflow publish (or is broken).
 * HF_OK when key[0..key_len) equals facility_id byte for byte; else
 * HF_ERR_INVALID with reason HF_NR_KEY_MISMATCH (also for no key). Call it
 * after hf_normalize accepted the event. */
hf_err_t hf_normalize_key(const hf_normalizer_t *n, const hf_decoded_t *dec, const void *key,
                          size_t key_len, hf_norm_t *out) __attribute__((warn_unused_result));

#define HF_NR_KEY_MISMATCH "key_mismatch"
#define HF_NR_EVENT_ID_FORMAT "event_id_format"
#define HF_NR_SUPERSEDES_FORMAT "supersedes_format"
#define HF_NR_FACILITY_ID "facility_id_format"
#define HF_NR_EVENT_TYPE_MISMATCH "event_type_mismatch"

#endif /* HF_NORMALIZE_H */
