/*
 * hf_frame — the Avro single-object frame that every hemoflow Kafka message
 * value is: C3 01, the writer schema's fingerprint (8 bytes, little-endian),
 * then the Avro binary body. See docs/wire-format.md.
 */
#ifndef HF_FRAME_H
#define HF_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_err.h"

#define HF_FRAME_HEADER_LEN 10
#define HF_FRAME_MAGIC0 0xC3
#define HF_FRAME_MAGIC1 0x01

/* Write the 10-byte header for fingerprint fp into out. */
void hf_frame_header(uint8_t out[HF_FRAME_HEADER_LEN], uint64_t fp);

/* Split a frame of len bytes. On HF_OK, *fp is the writer fingerprint and
 * *body and *body_len point into buf (borrowed: valid as long as buf is).
 * Errors (all permanent, nothing written to the outputs):
 *   HF_ERR_OVERSIZE   max_len != 0 and len > max_len (checked first, so an
 *                     oversize frame is never looked at)
 *   HF_ERR_TRUNCATED  fewer than 11 bytes (a header needs a body)
 *   HF_ERR_BAD_MAGIC  the first two bytes are not C3 01, whatever the
 *                     length (a short message that visibly is not ours
 *                     gets this, not TRUNCATED)
 * Never reads outside buf[0..len). buf may be NULL when len is 0. */
hf_err_t hf_frame_parse(const void *buf, size_t len, size_t max_len, uint64_t *fp,
                        const uint8_t **body, size_t *body_len) __attribute__((warn_unused_result));

/* True when buf starts with a whole header (at least 10 bytes, C3 01):
 * *fp is then its fingerprint, whatever the length limit and the body are;
 * false and *fp untouched otherwise. For naming the writer schema of a
 * frame that did not decode. buf may be NULL when len is 0. */
bool hf_frame_peek(const void *buf, size_t len, uint64_t *fp);

#endif /* HF_FRAME_H */
