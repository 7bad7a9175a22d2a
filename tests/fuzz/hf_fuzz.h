/*
 * hf_fuzz — what the libFuzzer targets of tests/fuzz/ share: the schema
 * catalogue of the source tree, a throwaway pseudonymization key, a fixed
 * clock, and the station → consumer round trip that the CSV and JSONL
 * targets push every accepted record through.
 *
 * Everything here is built once per fuzzing process and kept for its life
 * (libFuzzer runs millions of inputs in one process); nothing is freed, and
 * everything stays reachable, so LeakSanitizer does not count it.
 * A broken invariant is a bug: hf_fuzz_fail() prints why and aborts, which
 * libFuzzer reports as a crash with the input that caused it.
 */
#ifndef HF_FUZZ_H
#define HF_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_catalog.h"
#include "hf_station.h"

/* The fuzzers' "now": 2026-12-07T00:00:00Z, µs since the epoch. */
#define HF_FUZZ_NOW_US INT64_C(1796601600000000)

/* Print the message and abort (a finding). */
void hf_fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The catalogue of $HF_SOURCE_DIR/schemas/avro (the build's source tree by
 * default); aborts when it does not load. Borrowed, shared. */
const hf_catalog_t *hf_fuzz_catalog(void);

/* Split off the first line of data[0..*len): when it names an event type
 * ("DonationCollected" or "DonationCollected.v1"), return that type and
 * set *version (0 = newest) and advance *data / *len past the line.
 * Otherwise return NULL and leave data alone. */
const hf_event_type_t *hf_fuzz_type_line(const uint8_t **data, size_t *len, int *version);

/* The publish → consume round trip of one station record, as `hemoflow
 * publish` and `hemoflow consume` do it: build (validate, pseudonymize) with
 * the station's rules, encode, then decode and normalize as the consumer
 * does. A record the station accepts and encodes must decode, and must
 * decode to the same value; a raw donor_id / patient_id must be neither in
 * the frame nor in a rejection; anything else aborts. */
void hf_fuzz_record(const hf_event_type_t *t, int version, const hf_field_t *fields, size_t n);

/* The station half alone: build and encode one record; on success append
 * the frame to *out and return true, false when the station rejects it. */
bool hf_fuzz_encode(const hf_event_type_t *t, int version, const hf_field_t *fields, size_t n,
                    hf_buf_t *out);

#endif /* HF_FUZZ_H */
