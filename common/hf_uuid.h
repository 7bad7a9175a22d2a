/*
 * hf_uuid — parsing the textual UUIDs of the event contract (event_id,
 * supersedes_event_id) into their 16 bytes.
 */
#ifndef HF_UUID_H
#define HF_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 8-4-4-4-12 hex digits (either case), exactly 36 bytes; reads only s[0..len).
 * false (out untouched or partly written) when s is NULL or malformed. */
bool hf_uuid_parse(const char *s, size_t len, uint8_t out[16]);

#endif /* HF_UUID_H */
