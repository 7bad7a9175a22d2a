/*
 * hf_event_types — the ten event types of the hemoflow contract and the
 * names derived from them: the Avro record name (DonationCollected), the
 * snake_case name used for the topic suffix and the warehouse fact table
 * (donation_collected).
 */
#ifndef HF_EVENT_TYPES_H
#define HF_EVENT_TYPES_H

#include <stddef.h>

typedef struct hf_event_type_s {
    const char *name;  /* Avro record name, e.g. "DonationCollected" */
    const char *snake; /* topic suffix and table name, e.g. "donation_collected" */
} hf_event_type_t;

/* The table, in causal order (registration first, adverse events last). */
extern const hf_event_type_t hf_event_types[];
extern const size_t hf_event_types_count;

/* Look up by Avro name or by snake_case name; NULL when unknown. */
const hf_event_type_t *hf_event_type_find(const char *name_or_snake);

#endif /* HF_EVENT_TYPES_H */
