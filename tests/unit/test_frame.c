/*
 * test_frame — the single-object frame: header layout and every parse error.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hf_frame.h"

Test(frame, header_is_magic_then_little_endian_fingerprint)
{
    uint8_t h[HF_FRAME_HEADER_LEN];
    hf_frame_header(h, 0x0102030405060708ULL);
    const uint8_t want[] = {0xC3, 0x01, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    cr_assert_arr_eq(h, want, sizeof(want));
}

Test(frame, parse_round_trip)
{
    uint8_t buf[13];
    hf_frame_header(buf, 0xc15d213aa4d7a795ULL);
    buf[10] = 1, buf[11] = 2, buf[12] = 3;
    uint64_t fp = 0;
    const uint8_t *body = NULL;
    size_t blen = 0;
    cr_assert_eq(hf_frame_parse(buf, sizeof(buf), 0, &fp, &body, &blen), HF_OK);
    cr_expect_eq(fp, 0xc15d213aa4d7a795ULL);
    cr_expect_eq(body, buf + 10);
    cr_expect_eq(blen, 3);
    cr_assert_eq(hf_frame_parse(buf, sizeof(buf), 13, &fp, &body, &blen), HF_OK);
}

Test(frame, parse_errors)
{
    uint8_t buf[32];
    hf_frame_header(buf, 42);
    memset(buf + 10, 0x55, sizeof(buf) - 10);
    uint64_t fp = 7;
    const uint8_t *body = NULL;
    size_t blen = 99;
    cr_expect_eq(hf_frame_parse(NULL, 0, 0, &fp, &body, &blen), HF_ERR_TRUNCATED);
    cr_expect_eq(hf_frame_parse(buf, 0, 0, &fp, &body, &blen), HF_ERR_TRUNCATED);
    cr_expect_eq(hf_frame_parse(buf, 1, 0, &fp, &body, &blen), HF_ERR_TRUNCATED);
    cr_expect_eq(hf_frame_parse(buf, 9, 0, &fp, &body, &blen), HF_ERR_TRUNCATED);
    cr_expect_eq(hf_frame_parse(buf, 10, 0, &fp, &body, &blen), HF_ERR_TRUNCATED,
                 "header with an empty body");
    cr_expect_eq(hf_frame_parse(buf, sizeof(buf), 31, &fp, &body, &blen), HF_ERR_OVERSIZE);
    /* outputs untouched on error */
    cr_expect_eq(fp, 7);
    cr_expect_null(body);
    cr_expect_eq(blen, 99);

    uint8_t bad[12] = {0xC3, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2};
    cr_expect_eq(hf_frame_parse(bad, sizeof(bad), 0, &fp, &body, &blen), HF_ERR_BAD_MAGIC);
    bad[0] = 0x00, bad[1] = 0x01; /* Confluent framing starts with 00 */
    cr_expect_eq(hf_frame_parse(bad, sizeof(bad), 0, &fp, &body, &blen), HF_ERR_BAD_MAGIC);
    /* short and visibly not ours: the marker is the more useful answer */
    cr_expect_eq(hf_frame_parse("hello", 5, 0, &fp, &body, &blen), HF_ERR_BAD_MAGIC);
}

Test(frame, every_prefix_of_a_frame_is_handled)
{
    uint8_t buf[16];
    hf_frame_header(buf, 0xffffffffffffffffULL);
    memset(buf + 10, 0, 6);
    for (size_t n = 0; n <= sizeof(buf); n++) {
        uint64_t fp;
        const uint8_t *body;
        size_t blen;
        hf_err_t err = hf_frame_parse(buf, n, 0, &fp, &body, &blen);
        cr_expect_eq(err, n <= 10 ? HF_ERR_TRUNCATED : HF_OK, "len %zu", n);
    }
}

Test(frame, peek_reads_a_whole_header_only)
{
    uint8_t buf[12];
    hf_frame_header(buf, 0x0102030405060708ULL);
    buf[10] = buf[11] = 0;
    uint64_t fp = 7;
    cr_expect_not(hf_frame_peek(NULL, 0, &fp));
    for (size_t n = 0; n < HF_FRAME_HEADER_LEN; n++)
        cr_expect_not(hf_frame_peek(buf, n, &fp), "len %zu", n);
    cr_expect_eq(fp, 7, "untouched when false");
    cr_expect(hf_frame_peek(buf, HF_FRAME_HEADER_LEN, &fp), "a header without a body");
    cr_expect_eq(fp, 0x0102030405060708ULL);
    fp = 7;
    cr_expect(hf_frame_peek(buf, sizeof(buf), &fp));
    cr_expect_eq(fp, 0x0102030405060708ULL);
    buf[1] = 0x02;
    fp = 7;
    cr_expect_not(hf_frame_peek(buf, sizeof(buf), &fp));
    cr_expect_eq(fp, 7);
}
