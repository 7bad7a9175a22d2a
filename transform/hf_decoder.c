/*
 * hf_decoder — the resolving decoder: one frame in, an Avro C generic value
 * of the newest schema of its event type out.
 *
 * The decoder walks the body bytes with the plan the catalogue compiled for
 * the writer's fingerprint (hf_catalog_plan.c), checks every varint, length,
 * count and index against the bytes left, and sets an Avro C generic value
 * of the reader schema; reader fields the writer lacks get their defaults.
 * Bytes left at the end are an error (HF_ERR_TRAILING), which Avro C's
 * reader would not report.
 */
#include "hf_decoder.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hf_catalog_int.h"
#include "hf_frame.h"
#include "hf_mem.h"
#include "hf_validate.h"

#define HF__MAX_DEPTH 64
#define HF__MAX_ZERO_SIZE_ITEMS 65536 /* cap for arrays/maps of 0-byte items */

struct hf_decoder_s {
    const hf_catalog_t *cat; /* borrowed; outlives the decoder */
    avro_value_t *values; /* per hf_event_types index, created on first use */
    bool *have;           /* per hf_event_types index: values[t] exists */
    hf_buf_t scratch;     /* NUL-terminated copies of strings and map keys */
};

/* ==== decoding ==== */

typedef struct hf__rd_s {
    const uint8_t *start, *p, *end;
    hf_decoder_t *dec;
    char *errstr;
    size_t errstr_size;
    const char *path[HF__MAX_DEPTH + 1]; /* field names, for messages */
    int depth;
    const char *reason; /* HF_DR_* of the first failure (static) */
} hf__rd_t;

/* Record the failure: err for hf_err_t callers, reason (an HF_DR_* code)
 * for the quarantine, and a message naming the field path and body offset. */
static hf_err_t hf__rd_fail(hf__rd_t *rd, hf_err_t err, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static hf_err_t hf__rd_fail(hf__rd_t *rd, hf_err_t err, const char *reason, const char *fmt, ...)
{
    rd->reason = reason;
    if (!rd->errstr || !rd->errstr_size)
        return err;
    char where[256] = "";
    size_t off = 0;
    for (int i = 0; i < rd->depth && off < sizeof(where); i++)
        if (rd->path[i])
            off += (size_t)snprintf(where + off, sizeof(where) - off, "%s%s", off ? "." : "",
                                    rd->path[i]);
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(rd->errstr, rd->errstr_size, "%s%s%s (at body byte %zu)", where, *where ? ": " : "",
             msg, (size_t)(rd->p - rd->start));
    return err;
}

static hf_err_t hf__avro_fail(hf__rd_t *rd, const char *what)
{
    return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_DECODE, "avro-c %s: %s", what, avro_strerror());
}

/* Zigzag varint, at most 10 bytes; the 10th may only carry the top bit. */
static hf_err_t hf__rd_long(hf__rd_t *rd, int64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (rd->p >= rd->end)
            return hf__rd_fail(rd, HF_ERR_TRUNCATED, HF_DR_TRUNCATED, "body ends inside a varint");
        uint8_t b = *rd->p++;
        if (i == 9 && b > 1)
            return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_VARINT, "varint overflows 64 bits");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return HF_OK;
        }
    }
    return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_VARINT, "varint longer than 10 bytes");
}

static hf_err_t hf__rd_int(hf__rd_t *rd, int32_t *out)
{
    int64_t v;
    hf_err_t err = hf__rd_long(rd, &v);
    if (err)
        return err;
    if (v < INT32_MIN || v > INT32_MAX)
        return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_INT_RANGE, "int value %lld out of range", (long long)v);
    *out = (int32_t)v;
    return HF_OK;
}

/* A byte length: non-negative and no more than the bytes left. */
static hf_err_t hf__rd_len(hf__rd_t *rd, size_t *out)
{
    int64_t v = 0; /* set by hf__rd_long on HF_OK; zeroed for GCC -O3 */
    hf_err_t err = hf__rd_long(rd, &v);
    if (err)
        return err;
    if (v < 0)
        return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_NEGATIVE_LENGTH, "negative length %lld", (long long)v);
    if ((uint64_t)v > (uint64_t)(rd->end - rd->p))
        return hf__rd_fail(rd, HF_ERR_TRUNCATED, HF_DR_TRUNCATED, "length %lld exceeds the %zu bytes left",
                           (long long)v, (size_t)(rd->end - rd->p));
    *out = (size_t)v;
    return HF_OK;
}

static hf_err_t hf__rd_fixed(hf__rd_t *rd, size_t n, const uint8_t **out)
{
    if (n > (size_t)(rd->end - rd->p))
        return hf__rd_fail(rd, HF_ERR_TRUNCATED, HF_DR_TRUNCATED, "body ends inside a %zu-byte value",
                           n);
    *out = rd->p;
    rd->p += n;
    return HF_OK;
}

static hf_err_t hf__rd_index(hf__rd_t *rd, size_t n, const char *what, size_t *out)
{
    int64_t v;
    hf_err_t err = hf__rd_long(rd, &v);
    if (err)
        return err;
    if (v < 0 || (uint64_t)v >= n)
        return hf__rd_fail(rd, HF_ERR_DECODE, what[0] == 'e' ? HF_DR_ENUM_INDEX : HF_DR_UNION_INDEX,
                           "%s index %lld out of range 0..%zu", what,
                           (long long)v, n ? n - 1 : 0);
    *out = (size_t)v;
    return HF_OK;
}

/* Next block count of an array or map (0 = end), with the count bounded by
 * the bytes left so that a forged count cannot make us loop or allocate, and
 * the items of one array or map by HF_VALIDATE_MAX_ARRAY_ITEMS. */
static hf_err_t hf__rd_block(hf__rd_t *rd, size_t item_min, size_t *total, size_t *count)
{
    int64_t c;
    hf_err_t err = hf__rd_long(rd, &c);
    if (err)
        return err;
    if (c < 0) {
        int64_t bytes;
        if (c == INT64_MIN)
            return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_BLOCK_COUNT, "invalid block count");
        c = -c;
        if ((err = hf__rd_long(rd, &bytes)) != HF_OK)
            return err;
        if (bytes < 0 || (uint64_t)bytes > (uint64_t)(rd->end - rd->p))
            return hf__rd_fail(rd, HF_ERR_TRUNCATED, HF_DR_TRUNCATED,
                               "block size %lld exceeds the bytes left",
                               (long long)bytes);
    }
    size_t left = (size_t)(rd->end - rd->p);
    if (item_min > 0 ? (uint64_t)c > left / item_min
                     : (uint64_t)c > HF__MAX_ZERO_SIZE_ITEMS - *total)
        return hf__rd_fail(rd, item_min ? HF_ERR_TRUNCATED : HF_ERR_DECODE, HF_DR_BLOCK_COUNT,
                           "block of %lld items cannot fit in the %zu bytes left", (long long)c,
                           left);
    if ((uint64_t)c > HF_VALIDATE_MAX_ARRAY_ITEMS - *total)
        return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_ARRAY_TOO_LONG,
                           "more than %d items (block of %lld after %zu)",
                           HF_VALIDATE_MAX_ARRAY_ITEMS, (long long)c, *total);
    *total += (size_t)c;
    *count = (size_t)c;
    return HF_OK;
}

static hf_err_t hf__enter(hf__rd_t *rd, const char *name)
{
    if (rd->depth >= HF__MAX_DEPTH)
        return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_TOO_DEEP, "nested deeper than %d", HF__MAX_DEPTH);
    rd->path[rd->depth++] = name;
    return HF_OK;
}

/* Validate and step over one value of writer type n. */
static hf_err_t hf__skip(hf__rd_t *rd, const hf_avro_node_t *n)
{
    hf_err_t err = HF_OK;
    int64_t l;
    size_t len, idx = 0, total = 0, cnt; /* idx zeroed for GCC -O3 */
    const uint8_t *dummy = NULL;
    switch (n->type) {
    case HF_AVRO_NULL:
        return HF_OK;
    case HF_AVRO_BOOLEAN:
        if ((err = hf__rd_fixed(rd, 1, &dummy)) == HF_OK && *dummy > 1)
            return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_BOOLEAN, "boolean byte %u", *dummy);
        return err;
    case HF_AVRO_INT: {
        int32_t i;
        return hf__rd_int(rd, &i);
    }
    case HF_AVRO_LONG:
        return hf__rd_long(rd, &l);
    case HF_AVRO_FLOAT:
        return hf__rd_fixed(rd, 4, &dummy);
    case HF_AVRO_DOUBLE:
        return hf__rd_fixed(rd, 8, &dummy);
    case HF_AVRO_STRING:
    case HF_AVRO_BYTES:
        if ((err = hf__rd_len(rd, &len)) != HF_OK)
            return err;
        rd->p += len;
        return HF_OK;
    case HF_AVRO_FIXED:
        return hf__rd_fixed(rd, n->fixed_size, &dummy);
    case HF_AVRO_ENUM:
        return hf__rd_index(rd, n->n, "enum", &idx);
    case HF_AVRO_UNION:
        if ((err = hf__rd_index(rd, n->n, "union", &idx)) != HF_OK)
            return err;
        if ((err = hf__enter(rd, NULL)) != HF_OK)
            return err;
        err = hf__skip(rd, n->branches[idx]);
        rd->depth--;
        return err;
    case HF_AVRO_RECORD:
        if ((err = hf__enter(rd, NULL)) != HF_OK)
            return err;
        for (size_t i = 0; i < n->n && !err; i++) {
            rd->path[rd->depth - 1] = n->fields[i].name;
            err = hf__skip(rd, n->fields[i].type);
        }
        rd->depth--;
        return err;
    case HF_AVRO_ARRAY:
    case HF_AVRO_MAP: {
        size_t min = n->items->min_size + (n->type == HF_AVRO_MAP ? 1 : 0);
        if ((err = hf__enter(rd, NULL)) != HF_OK)
            return err;
        /* !err first, as in hf__read_items: an item's error ends the loop */
        while (!err && (err = hf__rd_block(rd, min, &total, &cnt)) == HF_OK && cnt > 0)
            for (size_t i = 0; i < cnt && !err; i++) {
                if (n->type == HF_AVRO_MAP && (err = hf__rd_len(rd, &len)) == HF_OK)
                    rd->p += len;
                if (!err)
                    err = hf__skip(rd, n->items);
            }
        rd->depth--;
        return err;
    }
    }
    return hf__rd_fail(rd, HF_ERR_INTERNAL, HF_DR_DECODE, "unknown schema type");
}

static hf_err_t hf__set_string(hf__rd_t *rd, avro_value_t *dest, const uint8_t *s, size_t n)
{
    /* What PostgreSQL text cannot hold (NUL, invalid UTF-8) or no field
     * needs (HF_VALIDATE_MAX_STRING_BYTES) is refused here, by name. */
    const char *why = hf_validate_text_reason((const char *)s, n);
    if (why)
        return hf__rd_fail(rd, HF_ERR_DECODE, why, "string of %zu bytes: %s", n, why);
    /* Avro C copies size bytes including a terminating NUL, which the body
     * does not have: copy through the decoder's scratch buffer. */
    hf_buf_t *b = &rd->dec->scratch;
    hf_buf_reset(b);
    hf_buf_append(b, s, n);
    hf_buf_append(b, "", 1);
    if (avro_value_set_string_len(dest, (const char *)b->data, n + 1))
        return hf__avro_fail(rd, "set string");
    return HF_OK;
}

static hf_err_t hf__read(hf__rd_t *rd, const hf__plan_t *p, avro_value_t *dest);

static hf_err_t hf__read_double_bits(hf__rd_t *rd, size_t n, double *out)
{
    const uint8_t *b = NULL;
    hf_err_t err = hf__rd_fixed(rd, n, &b);
    if (err)
        return err;
    uint64_t bits = 0;
    for (size_t i = n; i-- > 0;)
        bits = (bits << 8) | b[i];
    if (n == 4) {
        uint32_t u = (uint32_t)bits;
        float f;
        memcpy(&f, &u, 4);
        *out = f;
    } else {
        memcpy(out, &bits, 8);
    }
    /* NaN and +-Infinity are valid IEEE 754 but no measurement: refuse them
     * here so nothing downstream has to (int/long promoted to float/double
     * is always finite: |long| < 2^63 < FLT_MAX). */
    if (!isfinite(*out))
        return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_NOT_FINITE, "%s %s",
                           n == 4 ? "float" : "double", isnan(*out) ? "NaN" : "infinite");
    return HF_OK;
}

/* Set dest (reader type n) from a JSON default value. */
static int hf__set_default(avro_value_t *dest, const hf_avro_node_t *n, const json_t *j,
                           hf_buf_t *scratch)
{
    avro_value_t child;
    int rc = 0;
    switch (n->type) {
    case HF_AVRO_NULL:
        return avro_value_set_null(dest);
    case HF_AVRO_BOOLEAN:
        return avro_value_set_boolean(dest, json_is_true(j));
    case HF_AVRO_INT:
        return avro_value_set_int(dest, (int32_t)json_integer_value(j));
    case HF_AVRO_LONG:
        return avro_value_set_long(dest, (int64_t)json_integer_value(j));
    case HF_AVRO_FLOAT:
        return avro_value_set_float(dest, (float)json_number_value(j));
    case HF_AVRO_DOUBLE:
        return avro_value_set_double(dest, json_number_value(j));
    case HF_AVRO_STRING:
        return avro_value_set_string_len(dest, json_string_value(j), json_string_length(j) + 1);
    case HF_AVRO_BYTES:
    case HF_AVRO_FIXED: {
        /* JSON text with codepoints 0-255, one byte each (validated at load) */
        const unsigned char *s = (const unsigned char *)json_string_value(j);
        size_t sl = json_string_length(j);
        hf_buf_reset(scratch);
        for (size_t i = 0; i < sl; i++) {
            unsigned char b = s[i];
            if (b >= 0x80 && i + 1 < sl)
                b = (unsigned char)(((b & 0x03) << 6) | (s[++i] & 0x3f));
            hf_buf_append(scratch, &b, 1);
        }
        void *data = scratch->data ? scratch->data : (void *)"";
        return n->type == HF_AVRO_BYTES ? avro_value_set_bytes(dest, data, scratch->len)
                                        : avro_value_set_fixed(dest, data, scratch->len);
    }
    case HF_AVRO_ENUM:
        for (size_t i = 0; i < n->n; i++)
            if (strcmp(n->symbols[i], json_string_value(j)) == 0)
                return avro_value_set_enum(dest, (int)i);
        return EINVAL;
    case HF_AVRO_UNION:
        if ((rc = avro_value_set_branch(dest, 0, &child)) != 0)
            return rc;
        return hf__set_default(&child, n->branches[0], j, scratch);
    case HF_AVRO_RECORD:
        for (size_t i = 0; i < n->n && !rc; i++) {
            const json_t *v = json_object_get(j, n->fields[i].name);
            if ((rc = avro_value_get_by_index(dest, i, &child, NULL)) == 0)
                rc = hf__set_default(&child, n->fields[i].type, v ? v : n->fields[i].def, scratch);
        }
        return rc;
    case HF_AVRO_ARRAY:
        for (size_t i = 0; i < json_array_size(j) && !rc; i++)
            if ((rc = avro_value_append(dest, &child, NULL)) == 0)
                rc = hf__set_default(&child, n->items, json_array_get(j, i), scratch);
        return rc;
    case HF_AVRO_MAP: {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            if ((rc = avro_value_add(dest, k, &child, NULL, NULL)) != 0 ||
                (rc = hf__set_default(&child, n->items, v, scratch)) != 0)
                return rc;
        }
        return 0;
    }
    }
    return EINVAL;
}

static hf_err_t hf__read_record(hf__rd_t *rd, const hf__plan_t *p, avro_value_t *dest)
{
    hf_err_t err = hf__enter(rd, NULL);
    avro_value_t child;
    if (err)
        return err;
    for (size_t i = 0; i < p->nwf && !err; i++) {
        const hf__wfield_t *f = &p->wf[i];
        rd->path[rd->depth - 1] = f->name;
        if (!f->plan)
            err = hf__skip(rd, f->wtype);
        else if (avro_value_get_by_index(dest, f->rindex, &child, NULL))
            err = hf__avro_fail(rd, "get field");
        else
            err = hf__read(rd, f->plan, &child);
    }
    for (size_t i = 0; i < p->ndefs && !err; i++) {
        const hf__rdefault_t *d = &p->defs[i];
        rd->path[rd->depth - 1] = d->name;
        if (avro_value_get_by_index(dest, d->rindex, &child, NULL) ||
            hf__set_default(&child, d->rtype, d->def, &rd->dec->scratch))
            err = hf__avro_fail(rd, "set default");
    }
    rd->depth--;
    return err;
}

static hf_err_t hf__read_items(hf__rd_t *rd, const hf__plan_t *p, avro_value_t *dest)
{
    bool map = p->op == HF__OP_MAP;
    size_t min = p->w->items->min_size + (map ? 1 : 0), total = 0, cnt, klen;
    avro_value_t child;
    hf_err_t err = hf__enter(rd, NULL);
    if (err)
        return err;
    /* !err first: an item's error must end the loop, not be overwritten by
     * the next block count read from wherever that item stopped. */
    while (!err && (err = hf__rd_block(rd, min, &total, &cnt)) == HF_OK && cnt > 0) {
        for (size_t i = 0; i < cnt && !err; i++) {
            if (map) {
                if ((err = hf__rd_len(rd, &klen)) != HF_OK)
                    break;
                const char *why = hf_validate_text_reason((const char *)rd->p, klen);
                if (why) {
                    err = hf__rd_fail(rd, HF_ERR_DECODE, why, "map key of %zu bytes: %s", klen,
                                      why);
                    break;
                }
                hf_buf_t *b = &rd->dec->scratch;
                hf_buf_reset(b);
                hf_buf_append(b, rd->p, klen);
                hf_buf_append(b, "", 1);
                rd->p += klen;
                if (avro_value_add(dest, (const char *)b->data, &child, NULL, NULL))
                    err = hf__avro_fail(rd, "map add");
            } else if (avro_value_append(dest, &child, NULL)) {
                err = hf__avro_fail(rd, "array append");
            }
            if (!err)
                err = hf__read(rd, p->items, &child);
        }
    }
    rd->depth--;
    return err;
}

static hf_err_t hf__read(hf__rd_t *rd, const hf__plan_t *p, avro_value_t *dest)
{
    hf_err_t err;
    int64_t l;
    int32_t i32;
    double d;
    size_t len, idx = 0; /* zeroed for GCC -O3 */
    const uint8_t *b = NULL;
    avro_value_t child;
    int rc = 0;

    switch (p->op) {
    case HF__OP_NULL:
        rc = avro_value_set_null(dest);
        break;
    case HF__OP_BOOLEAN:
        if ((err = hf__rd_fixed(rd, 1, &b)) != HF_OK)
            return err;
        if (*b > 1)
            return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_BOOLEAN, "boolean byte %u", *b);
        rc = avro_value_set_boolean(dest, *b);
        break;
    case HF__OP_INT:
    case HF__OP_INT_LONG:
    case HF__OP_INT_FLOAT:
    case HF__OP_INT_DOUBLE:
        if ((err = hf__rd_int(rd, &i32)) != HF_OK)
            return err;
        rc = p->op == HF__OP_INT         ? avro_value_set_int(dest, i32)
             : p->op == HF__OP_INT_LONG  ? avro_value_set_long(dest, i32)
             : p->op == HF__OP_INT_FLOAT ? avro_value_set_float(dest, (float)i32)
                                         : avro_value_set_double(dest, i32);
        break;
    case HF__OP_LONG:
    case HF__OP_LONG_FLOAT:
    case HF__OP_LONG_DOUBLE:
        if ((err = hf__rd_long(rd, &l)) != HF_OK)
            return err;
        rc = p->op == HF__OP_LONG         ? avro_value_set_long(dest, l)
             : p->op == HF__OP_LONG_FLOAT ? avro_value_set_float(dest, (float)l)
                                          : avro_value_set_double(dest, (double)l);
        break;
    case HF__OP_FLOAT:
    case HF__OP_FLOAT_DOUBLE:
        if ((err = hf__read_double_bits(rd, 4, &d)) != HF_OK)
            return err;
        rc = p->op == HF__OP_FLOAT ? avro_value_set_float(dest, (float)d)
                                   : avro_value_set_double(dest, d);
        break;
    case HF__OP_DOUBLE:
        if ((err = hf__read_double_bits(rd, 8, &d)) != HF_OK)
            return err;
        rc = avro_value_set_double(dest, d);
        break;
    case HF__OP_STRING:
    case HF__OP_BYTES_STRING:
        if ((err = hf__rd_len(rd, &len)) != HF_OK)
            return err;
        b = rd->p;
        rd->p += len;
        return hf__set_string(rd, dest, b, len);
    case HF__OP_BYTES:
    case HF__OP_STRING_BYTES:
        if ((err = hf__rd_len(rd, &len)) != HF_OK)
            return err;
        b = rd->p;
        rd->p += len;
        rc = avro_value_set_bytes(dest, (void *)(len ? b : (const uint8_t *)""), len);
        break;
    case HF__OP_FIXED:
        if ((err = hf__rd_fixed(rd, p->w->fixed_size, &b)) != HF_OK)
            return err;
        rc = avro_value_set_fixed(dest, (void *)b, p->w->fixed_size);
        break;
    case HF__OP_ENUM:
        if ((err = hf__rd_index(rd, p->w->n, "enum", &idx)) != HF_OK)
            return err;
        if (p->enum_map[idx] < 0)
            return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_UNRESOLVABLE,
                               "symbol '%s' is not in reader enum %s, which has no default",
                               p->w->symbols[idx], p->r->fullname);
        rc = avro_value_set_enum(dest, p->enum_map[idx]);
        break;
    case HF__OP_RECORD:
        return hf__read_record(rd, p, dest);
    case HF__OP_ARRAY:
    case HF__OP_MAP:
        return hf__read_items(rd, p, dest);
    case HF__OP_WUNION:
        if ((err = hf__rd_index(rd, p->w->n, "union", &idx)) != HF_OK)
            return err;
        if ((err = hf__enter(rd, NULL)) != HF_OK)
            return err;
        err = hf__read(rd, p->branches[idx], dest);
        rd->depth--;
        return err;
    case HF__OP_RUNION:
        if (avro_value_set_branch(dest, (int)p->rbranch, &child))
            return hf__avro_fail(rd, "set branch");
        return hf__read(rd, p->sub, &child);
    case HF__OP_ERROR:
        return hf__rd_fail(rd, HF_ERR_DECODE, HF_DR_UNRESOLVABLE, "%s", p->err);
    }
    if (rc)
        return hf__avro_fail(rd, "set value");
    return HF_OK;
}

/* ==== decoder ==== */

hf_decoder_t *hf_decoder_new(const hf_catalog_t *cat)
{
    hf_decoder_t *dec = hf_calloc(1, sizeof(*dec));
    dec->cat = cat;
    dec->values = hf_calloc(hf_event_types_count, sizeof(*dec->values));
    dec->have = hf_calloc(hf_event_types_count, sizeof(*dec->have));
    return dec;
}

void hf_decoder_destroy(hf_decoder_t *dec)
{
    if (!dec)
        return;
    for (size_t t = 0; t < hf_event_types_count; t++)
        if (dec->have[t])
            avro_value_decref(&dec->values[t]);
    hf_free(dec->values);
    hf_free(dec->have);
    hf_buf_free(&dec->scratch);
    hf_free(dec);
}

hf_err_t hf_decoder_decode(hf_decoder_t *dec, const void *buf, size_t len, size_t max_len,
                           hf_decoded_t *out, char *errstr, size_t errstr_size)
{
    uint64_t fp;
    const uint8_t *body;
    size_t body_len;
    *out = (hf_decoded_t){0};
    hf_err_t err = hf_frame_parse(buf, len, max_len, &fp, &body, &body_len);
    if (err) {
        out->has_fingerprint = hf_frame_peek(buf, len, &out->fingerprint);
        bool empty = err == HF_ERR_TRUNCATED && (!buf || len == 0);
        out->reason = err == HF_ERR_OVERSIZE    ? HF_DR_OVERSIZE
                      : err == HF_ERR_BAD_MAGIC ? HF_DR_BAD_MAGIC
                      : empty                   ? HF_DR_EMPTY
                                                : HF_DR_TRUNCATED;
        return hf_err_set(err, errstr, errstr_size, "%s",
                          err == HF_ERR_OVERSIZE    ? "frame larger than the configured limit"
                          : err == HF_ERR_BAD_MAGIC ? "not a single-object frame (no C3 01 marker)"
                          : empty                   ? "empty message (no value)"
                                                    : "frame shorter than header + body");
    }
    out->has_fingerprint = true;
    out->fingerprint = fp;
    const hf__entry_t *e = hf__by_fp(dec->cat, fp);
    if (!e) {
        out->reason = HF_DR_UNKNOWN_FINGERPRINT;
        return hf_err_set(HF_ERR_UNKNOWN_FINGERPRINT, errstr, errstr_size,
                          "writer fingerprint %016llx is not in the catalogue",
                          (unsigned long long)fp);
    }
    size_t t = e->et_index;
    if (!dec->have[t]) {
        out->reason = HF_DR_DECODE; /* until it succeeds */
        if (avro_generic_value_new(dec->cat->ifaces[t], &dec->values[t]))
            return hf_err_set(HF_ERR_INTERNAL, errstr, errstr_size, "avro-c value: %s",
                              avro_strerror());
        dec->have[t] = true;
    }
    avro_value_t *v = &dec->values[t];
    out->reason = HF_DR_DECODE;
    if (avro_value_reset(v))
        return hf_err_set(HF_ERR_INTERNAL, errstr, errstr_size, "avro-c reset: %s",
                          avro_strerror());
    hf__rd_t rd = {.start = body,
                   .p = body,
                   .end = body + body_len,
                   .dec = dec,
                   .errstr = errstr,
                   .errstr_size = errstr_size};
    rd.path[rd.depth++] = e->et->name;
    if ((err = hf__read(&rd, e->plan, v)) != HF_OK) {
        out->reason = rd.reason ? rd.reason : HF_DR_DECODE;
        return err;
    }
    if (rd.p != rd.end) {
        out->reason = HF_DR_TRAILING;
        return hf_err_set(HF_ERR_TRAILING, errstr, errstr_size,
                          "%zu bytes left after the %s v%d record (%zu-byte body)",
                          (size_t)(rd.end - rd.p), e->et->name, e->version, body_len);
    }
    out->reason = NULL;
    out->event_type = e->et;
    out->writer_version = e->version;
    out->reader_version = e->newest->version;
    out->value = v;
    return HF_OK;
}
