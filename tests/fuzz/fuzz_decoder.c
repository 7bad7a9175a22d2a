/*
 * fuzz_decoder — the consumer's hot path on any message value: the frame,
 * the Avro body decoded with schema resolution from its writer version to
 * the newest reader schema (transform/hf_decoder.c, hf_catalog_plan.c), and
 * the normalizer's validators on what decoded (transform/hf_normalize.c).
 *
 * Each input is decoded twice: as it is (a whole Kafka message value), and
 * as the Avro body of a frame whose writer is the catalogue entry picked by
 * its first byte (so every input reaches the body decoder of every writer
 * version). A value that decodes must re-encode with the newest schema and
 * decode back to the same value (the same bytes when encoded again); an
 * error must name a reason.
 * Corpus: tests/fuzz/corpus/decoder/ (frames made by the project's encoder
 * for every schema version, and fastavro's).
 */
#include <avro.h>
#include <stdint.h>
#include <string.h>

#include "hf_catalog.h"
#include "hf_decoder.h"
#include "hf_frame.h"
#include "hf_fuzz.h"
#include "hf_normalize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HF__MAX_MSG 65536 /* consume.max_message_bytes is larger; inputs are not */

typedef struct hf__dec_s {
    hf_decoder_t *dec, *dec2;
    hf_normalizer_t *norm;
    hf_buf_t frame, again, third;
} hf__dec_t;

static hf__dec_t *hf__st;

static void hf__check(const uint8_t *msg, size_t len)
{
    const hf_catalog_t *cat = hf_fuzz_catalog();
    uint8_t *buf = len ? hf_malloc(len) : NULL; /* exact size: ASan sees overreads */
    if (len)
        memcpy(buf, msg, len);
    hf_decoded_t d;
    char err[512] = "";
    hf_err_t e = hf_decoder_decode(hf__st->dec, buf, len, HF__MAX_MSG, &d, err, sizeof(err));
    if (e != HF_OK) {
        if (d.value || d.event_type)
            hf_fuzz_fail("error %d left a value behind", (int)e);
        if (e != HF_ERR_OVERSIZE && e != HF_ERR_TRUNCATED && e != HF_ERR_BAD_MAGIC && !err[0])
            hf_fuzz_fail("error %d without a message", (int)e);
        hf_free(buf);
        return;
    }
    if (!d.value || !d.event_type || !d.has_fingerprint)
        hf_fuzz_fail("HF_OK without a value");
    hf_norm_t norm;
    if (hf_normalize(hf__st->norm, &d, HF_FUZZ_NOW_US, &norm) == HF_ERR_INVALID &&
        (!norm.reason || !*norm.reason))
        hf_fuzz_fail("normalizer rejected %s without a reason", d.event_type->name);

    /* Re-encode in the reader schema and decode again: equal value. */
    uint64_t fp = 0;
    if (!hf_catalog_schema(cat, d.event_type->name, 0, &fp))
        hf_fuzz_fail("no newest schema for %s", d.event_type->name);
    hf_buf_reset(&hf__st->again);
    if (hf_catalog_encode(cat, d.value, fp, &hf__st->again, err, sizeof(err)) != HF_OK)
        hf_fuzz_fail("%s decoded from v%d does not re-encode: %s", d.event_type->name,
                     d.writer_version, err);
    hf_decoded_t d2;
    if (hf_decoder_decode(hf__st->dec2, hf__st->again.data, hf__st->again.len, 0, &d2, err,
                          sizeof(err)) != HF_OK)
        hf_fuzz_fail("%s re-encoded does not decode: %s", d.event_type->name, err);
    /* Compared as bytes, not with avro_value_equal: a NaN double (any
     * producer can send one) is never == itself. */
    hf_buf_reset(&hf__st->third);
    if (hf_catalog_encode(cat, d2.value, fp, &hf__st->third, err, sizeof(err)) != HF_OK)
        hf_fuzz_fail("%s decoded twice does not re-encode: %s", d.event_type->name, err);
    if (hf__st->third.len != hf__st->again.len ||
        memcmp(hf__st->third.data, hf__st->again.data, hf__st->again.len) != 0)
        hf_fuzz_fail("%s: re-encoded value decodes differently", d.event_type->name);
    hf_free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const hf_catalog_t *cat = hf_fuzz_catalog();
    if (!hf__st) {
        hf__st = hf_calloc(1, sizeof(*hf__st));
        hf__st->dec = hf_decoder_new(cat);
        hf__st->dec2 = hf_decoder_new(cat);
        hf_validate_rules_t rules;
        hf_validate_rules_default(&rules);
        hf__st->norm = hf_normalizer_new(cat, &rules);
        if (!hf__st->dec || !hf__st->dec2 || !hf__st->norm)
            hf_fuzz_fail("decoder or normalizer could not be made");
    }
    hf__check(data, size);
    if (size < 1)
        return 0;
    /* the rest as the body of a frame from writer entry data[0] */
    hf_catalog_info_t info;
    if (hf_catalog_entry(cat, data[0] % hf_catalog_count(cat), &info) != HF_OK)
        hf_fuzz_fail("catalogue entry %u", (unsigned)(data[0] % hf_catalog_count(cat)));
    uint8_t hdr[HF_FRAME_HEADER_LEN];
    hf_frame_header(hdr, info.fingerprint);
    hf_buf_reset(&hf__st->frame);
    hf_buf_append(&hf__st->frame, hdr, sizeof(hdr));
    hf_buf_append(&hf__st->frame, data + 1, size - 1);
    hf__check(hf__st->frame.data, hf__st->frame.len);
    return 0;
}
