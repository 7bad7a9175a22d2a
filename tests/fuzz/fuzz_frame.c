/*
 * fuzz_frame — the single-object frame parser (transform/hf_frame.c) on any
 * bytes: it never reads outside the buffer, its answers agree with
 * hf_frame_peek and with the header hf_frame_header writes.
 * Input: one Kafka message value. Corpus: tests/fuzz/corpus/frame/.
 */
#include <stdint.h>
#include <string.h>

#include "hf_frame.h"
#include "hf_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so ASan sees any read past the end. */
    uint8_t *buf = size ? hf_malloc(size) : NULL;
    if (size)
        memcpy(buf, data, size);
    uint64_t fp = 0, peek_fp = 0;
    const uint8_t *body = NULL;
    size_t body_len = 0;
    size_t max_len = size > 40 ? size - (size_t)buf[size - 1] % 40 : 0;
    hf_err_t e = hf_frame_parse(buf, size, max_len, &fp, &body, &body_len);
    bool peek = hf_frame_peek(buf, size, &peek_fp);
    switch (e) {
    case HF_OK: {
        if (!peek || peek_fp != fp)
            hf_fuzz_fail("parse accepted a frame that peek does not see");
        if (body != buf + HF_FRAME_HEADER_LEN || body_len != size - HF_FRAME_HEADER_LEN ||
            body_len == 0)
            hf_fuzz_fail("body %p+%zu of a %zu-byte frame", (const void *)body, body_len, size);
        uint8_t hdr[HF_FRAME_HEADER_LEN];
        hf_frame_header(hdr, fp);
        if (memcmp(hdr, buf, HF_FRAME_HEADER_LEN) != 0)
            hf_fuzz_fail("header of fingerprint %016llx differs from the input",
                         (unsigned long long)fp);
        break;
    }
    case HF_ERR_OVERSIZE:
        if (!max_len || size <= max_len)
            hf_fuzz_fail("oversize for %zu bytes, limit %zu", size, max_len);
        break;
    case HF_ERR_TRUNCATED:
        if (size > HF_FRAME_HEADER_LEN && buf[0] == HF_FRAME_MAGIC0)
            hf_fuzz_fail("truncated with %zu bytes", size);
        break;
    case HF_ERR_BAD_MAGIC:
        if (size >= 2 && buf[0] == HF_FRAME_MAGIC0 && buf[1] == HF_FRAME_MAGIC1)
            hf_fuzz_fail("bad magic on C3 01");
        if (peek)
            hf_fuzz_fail("peek accepts what parse calls bad magic");
        break;
    default:
        hf_fuzz_fail("unexpected error %d", (int)e);
    }
    hf_free(buf);
    return 0;
}
