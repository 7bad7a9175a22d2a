/*
 * fuzz_decoder — the consumer's hot path on any message value: the frame,
 * the Avro body decoded with schema resolution from its writer version to
 * the newest reader schema (transform/hf_decoder.c, hf_catalog_plan.c), and
 * the normalizer's validators on what decoded (transform/hf_normalize.c).
 *
 * Two catalogues: the real one (schemas/avro), and a synthetic one in which
 * UnitMoved is replaced by tests/fuzz/schemas/UnitMoved.v1-v3, a history
 * that uses every resolution rule of the Avro specification (promotions,
 * string/bytes, enum default, reordered unions, a plain type read into a
 * union and back, removed fields of every type to skip, added fields with
 * defaults, maps, fixed, nested and recursive records), which the real
 * schemas do not (yet) need.
 *
 * Each input is decoded three times: as it is (a whole Kafka message value)
 * with the real catalogue; as the Avro body of a frame whose writer is the
 * real catalogue entry picked by its first byte (every writer version of
 * every event type); and as the body of a synthetic UnitMoved version picked
 * by the first byte. A value that decodes must re-encode with the newest
 * schema and decode back to the same value (the same bytes when encoded
 * again) and hold no NaN or infinite float/double (not_finite); an error must
 * name a reason. Only real event types are normalized.
 * Corpus: tests/fuzz/corpus/decoder/ (frames made by the project's encoder
 * for every schema version, fastavro's, and bodies for the synthetic ones).
 */
#include <avro.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hf_catalog.h"
#include "hf_decoder.h"
#include "hf_frame.h"
#include "hf_fuzz.h"
#include "hf_normalize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HF__MAX_MSG 65536 /* consume.max_message_bytes is larger; inputs are not */

typedef struct hf__cat_s {
    const hf_catalog_t *cat;
    hf_decoder_t *dec, *dec2;
    hf_normalizer_t *norm; /* NULL: do not normalize (synthetic catalogue) */
} hf__cat_t;

typedef struct hf__dec_s {
    hf__cat_t real, syn;
    hf_buf_t frame, again, third;
    bool verbose; /* HF_FUZZ_VERBOSE set: say what each decode gave (checking seeds) */
} hf__dec_t;

static hf__dec_t *hf__st;

/* The real schemas with UnitMoved's replaced by tests/fuzz/schemas/, linked
 * into a temporary folder, loaded, and the folder removed. */
static hf_catalog_t *hf__synthetic(void)
{
    const char *src = getenv("HF_SOURCE_DIR");
    src = src && *src ? src : HF_SOURCE_DIR;
    char tmp[] = "/tmp/hf_fuzz_schemas_XXXXXX";
    if (!mkdtemp(tmp))
        hf_fuzz_fail("mkdtemp for the synthetic catalogue");
    const char *dirs[] = {"schemas/avro", "tests/fuzz/schemas"};
    for (int k = 0; k < 2; k++) {
        char *dir = hf_asprintf("%s/%s", src, dirs[k]);
        DIR *d = opendir(dir);
        if (!d)
            hf_fuzz_fail("cannot open %s", dir);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            bool unit_moved = strncmp(de->d_name, "UnitMoved.", 10) == 0;
            if (!strstr(de->d_name, ".avsc") || (k == 0 && unit_moved))
                continue;
            char *from = hf_asprintf("%s/%s", dir, de->d_name);
            char *to = hf_asprintf("%s/%s", tmp, de->d_name);
            if (symlink(from, to) != 0)
                hf_fuzz_fail("symlink %s", to);
            hf_free(from);
            hf_free(to);
        }
        closedir(d);
        hf_free(dir);
    }
    char err[1024] = "";
    hf_catalog_t *cat = hf_catalog_load(tmp, err, sizeof(err));
    if (!cat)
        hf_fuzz_fail("synthetic catalogue: %s", err);
    DIR *d = opendir(tmp);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') {
            char *p = hf_asprintf("%s/%s", tmp, de->d_name);
            unlink(p);
            hf_free(p);
        }
    if (d)
        closedir(d);
    rmdir(tmp);
    return cat;
}

static void hf__cat_init(hf__cat_t *c, const hf_catalog_t *cat, bool normalize)
{
    c->cat = cat;
    c->dec = hf_decoder_new(cat);
    c->dec2 = hf_decoder_new(cat);
    if (normalize) {
        hf_validate_rules_t rules;
        hf_validate_rules_default(&rules);
        c->norm = hf_normalizer_new(cat, &rules);
    }
    if (!c->dec || !c->dec2 || (normalize && !c->norm))
        hf_fuzz_fail("decoder or normalizer could not be made");
}

/* True when v holds no NaN or infinite float/double anywhere. */
static bool hf__all_finite(avro_value_t *v, int depth)
{
    avro_value_t child;
    size_t n = 0;
    float f;
    double d;
    if (depth > 128)
        hf_fuzz_fail("decoded value nested deeper than the decoder allows");
    switch (avro_value_get_type(v)) {
    case AVRO_FLOAT:
        return avro_value_get_float(v, &f) == 0 && isfinite(f);
    case AVRO_DOUBLE:
        return avro_value_get_double(v, &d) == 0 && isfinite(d);
    case AVRO_UNION:
        return avro_value_get_current_branch(v, &child) == 0 && hf__all_finite(&child, depth + 1);
    case AVRO_RECORD:
    case AVRO_ARRAY:
    case AVRO_MAP:
        if (avro_value_get_size(v, &n))
            return false;
        for (size_t i = 0; i < n; i++)
            if (avro_value_get_by_index(v, i, &child, NULL) || !hf__all_finite(&child, depth + 1))
                return false;
        return true;
    default:
        return true;
    }
}

static void hf__check(hf__cat_t *c, const uint8_t *msg, size_t len)
{
    uint8_t *buf = len ? hf_malloc(len) : NULL; /* exact size: ASan sees overreads */
    if (len)
        memcpy(buf, msg, len);
    hf_decoded_t d;
    char err[512] = "";
    hf_err_t e = hf_decoder_decode(c->dec, buf, len, HF__MAX_MSG, &d, err, sizeof(err));
    if (e != HF_OK) {
        if (d.value || d.event_type)
            hf_fuzz_fail("error %d left a value behind", (int)e);
        if (!err[0] || !d.reason || !*d.reason)
            hf_fuzz_fail("error %d without a message or a reason", (int)e);
        if (hf__st->verbose)
            fprintf(stderr, "decode error %d: %s\n", (int)e, err);
        hf_free(buf);
        return;
    }
    if (!d.value || !d.event_type || !d.has_fingerprint)
        hf_fuzz_fail("HF_OK without a value");
    if (hf__st->verbose)
        fprintf(stderr, "decoded %s v%d\n", d.event_type->name, d.writer_version);
    if (!hf__all_finite(d.value, 0))
        hf_fuzz_fail("%s decoded with a NaN or infinite float/double", d.event_type->name);
    hf_norm_t norm;
    if (c->norm && hf_normalize(c->norm, &d, HF_FUZZ_NOW_US, &norm) == HF_ERR_INVALID &&
        (!norm.reason || !*norm.reason))
        hf_fuzz_fail("normalizer rejected %s without a reason", d.event_type->name);

    /* Re-encode in the reader schema, decode again, encode again: the
     * same bytes. */
    uint64_t fp = 0;
    if (!hf_catalog_schema(c->cat, d.event_type->name, 0, &fp))
        hf_fuzz_fail("no newest schema for %s", d.event_type->name);
    hf_buf_reset(&hf__st->again);
    if (hf_catalog_encode(c->cat, d.value, fp, &hf__st->again, err, sizeof(err)) != HF_OK)
        hf_fuzz_fail("%s decoded from v%d does not re-encode: %s", d.event_type->name,
                     d.writer_version, err);
    hf_decoded_t d2;
    if (hf_decoder_decode(c->dec2, hf__st->again.data, hf__st->again.len, 0, &d2, err,
                          sizeof(err)) != HF_OK)
        hf_fuzz_fail("%s re-encoded does not decode: %s", d.event_type->name, err);
    hf_buf_reset(&hf__st->third);
    if (hf_catalog_encode(c->cat, d2.value, fp, &hf__st->third, err, sizeof(err)) != HF_OK)
        hf_fuzz_fail("%s decoded twice does not re-encode: %s", d.event_type->name, err);
    if (hf__st->third.len != hf__st->again.len ||
        memcmp(hf__st->third.data, hf__st->again.data, hf__st->again.len) != 0)
        hf_fuzz_fail("%s: re-encoded value decodes differently", d.event_type->name);
    hf_free(buf);
}

/* data[1..] as the body of a frame with writer fingerprint fp. */
static void hf__check_body(hf__cat_t *c, uint64_t fp, const uint8_t *data, size_t size)
{
    uint8_t hdr[HF_FRAME_HEADER_LEN];
    hf_frame_header(hdr, fp);
    hf_buf_reset(&hf__st->frame);
    hf_buf_append(&hf__st->frame, hdr, sizeof(hdr));
    hf_buf_append(&hf__st->frame, data + 1, size - 1);
    hf__check(c, hf__st->frame.data, hf__st->frame.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!hf__st) {
        hf__st = hf_calloc(1, sizeof(*hf__st));
        hf__st->verbose = getenv("HF_FUZZ_VERBOSE") != NULL;
        hf__cat_init(&hf__st->real, hf_fuzz_catalog(), true);
        hf__cat_init(&hf__st->syn, hf__synthetic(), false);
    }
    hf__check(&hf__st->real, data, size);
    if (size < 1)
        return 0;
    const hf_catalog_t *cat = hf__st->real.cat;
    hf_catalog_info_t info;
    if (hf_catalog_entry(cat, data[0] % hf_catalog_count(cat), &info) != HF_OK)
        hf_fuzz_fail("catalogue entry %u", (unsigned)(data[0] % hf_catalog_count(cat)));
    hf__check_body(&hf__st->real, info.fingerprint, data, size);
    uint64_t fp = 0;
    if (!hf_catalog_schema(hf__st->syn.cat, "UnitMoved", data[0] % 3 + 1, &fp))
        hf_fuzz_fail("synthetic UnitMoved v%d missing", data[0] % 3 + 1);
    hf__check_body(&hf__st->syn, fp, data, size);
    return 0;
}
