/*
 * hf_frame — parse and build the single-object frame.
 *
 * Wire format (Avro 1.11 specification, "Single-object encoding"). Every
 * Kafka message value hemoflow produces or consumes is:
 *
 *     offset  size  content
 *     0       1     0xC3  marker: "this is an Avro single object"
 *     1       1     0x01  format version 1
 *     2       8     CRC-64-AVRO fingerprint of the writer schema's Parsing
 *                   Canonical Form, least significant byte first
 *     10      n>=1  the record, Avro binary encoding, writer schema
 *
 * The fingerprint names the exact schema version the station wrote with;
 * the consumer finds it in the catalogue (schemas/avro, every version ever
 * published) and resolves it against the newest version of that event type.
 * There is no length field: the body runs to the end of the message, and a
 * decoder that stops before the end reports trailing bytes. Every record in
 * our schemas encodes to at least one byte, so a header alone is truncated.
 * The message key (facility id) and headers are not part of the frame.
 */
#include "hf_frame.h"

void hf_frame_header(uint8_t out[HF_FRAME_HEADER_LEN], uint64_t fp)
{
    out[0] = HF_FRAME_MAGIC0;
    out[1] = HF_FRAME_MAGIC1;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(fp >> (8 * i));
}

hf_err_t hf_frame_parse(const void *buf, size_t len, size_t max_len, uint64_t *fp,
                        const uint8_t **body, size_t *body_len)
{
    const uint8_t *b = buf;
    if (max_len != 0 && len > max_len)
        return HF_ERR_OVERSIZE;
    if (!b || len <= HF_FRAME_HEADER_LEN) {
        /* A wrong marker is the more useful answer when we can see it. */
        if (b && len >= 2 && (b[0] != HF_FRAME_MAGIC0 || b[1] != HF_FRAME_MAGIC1))
            return HF_ERR_BAD_MAGIC;
        return HF_ERR_TRUNCATED;
    }
    if (b[0] != HF_FRAME_MAGIC0 || b[1] != HF_FRAME_MAGIC1)
        return HF_ERR_BAD_MAGIC;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[2 + i];
    *fp = v;
    *body = b + HF_FRAME_HEADER_LEN;
    *body_len = len - HF_FRAME_HEADER_LEN;
    return HF_OK;
}

bool hf_frame_peek(const void *buf, size_t len, uint64_t *fp)
{
    const uint8_t *b = buf;
    if (!b || len < HF_FRAME_HEADER_LEN || b[0] != HF_FRAME_MAGIC0 || b[1] != HF_FRAME_MAGIC1)
        return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[2 + i];
    *fp = v;
    return true;
}
