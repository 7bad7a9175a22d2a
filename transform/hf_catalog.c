/*
 * hf_catalog — the schema catalogue, the frame encoder, the resolving
 * decoder and the compatibility report.
 *
 * Load: every *.avsc file of the folder becomes an entry holding the Avro C
 * schema (for encoding and for the reader's generic values), hemoflow's own
 * schema tree (canonical form, fingerprint, defaults) and a decoding plan
 * from that version to the newest version of its event type. Entries are
 * immutable afterwards, so one catalogue serves all threads.
 *
 * Decode: a plan is the specification's resolution rules applied once per
 * (writer, reader) pair: for a record, per writer field "read into reader
 * field i" or "skip"; the reader fields the writer lacks with their default;
 * per enum symbol the reader's symbol index; per union branch the reader
 * branch; promotions. The decoder walks the body bytes with the plan, checks
 * every varint, length, count and index against the bytes left, and sets an
 * Avro C generic value of the reader schema. Bytes left at the end are an
 * error (HF_ERR_TRAILING), which Avro C's reader would not report.
 */
#include "hf_catalog.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hf_avro.h"
#include "hf_frame.h"
#include "hf_log.h"

#define HF__MAX_SCHEMA_FILE (1024 * 1024)
#define HF__MAX_DEPTH 64
#define HF__MAX_ZERO_SIZE_ITEMS 65536 /* cap for arrays/maps of 0-byte items */

/* ==== plans ==== */

typedef enum hf__op_e {
    HF__OP_NULL,
    HF__OP_BOOLEAN,
    HF__OP_INT,
    HF__OP_LONG,
    HF__OP_FLOAT,
    HF__OP_DOUBLE,
    HF__OP_STRING,
    HF__OP_BYTES,
    HF__OP_FIXED,
    HF__OP_INT_LONG,
    HF__OP_INT_FLOAT,
    HF__OP_INT_DOUBLE,
    HF__OP_LONG_FLOAT,
    HF__OP_LONG_DOUBLE,
    HF__OP_FLOAT_DOUBLE,
    HF__OP_STRING_BYTES,
    HF__OP_BYTES_STRING,
    HF__OP_RECORD,
    HF__OP_ENUM,
    HF__OP_ARRAY,
    HF__OP_MAP,
    HF__OP_WUNION, /* writer is a union: one plan per writer branch */
    HF__OP_RUNION, /* writer is not, reader is: set branch rbranch, then sub */
    HF__OP_ERROR   /* writer data the reader cannot represent */
} hf__op_t;

typedef struct hf__plan_s hf__plan_t;

typedef struct hf__wfield_s {
    const hf__plan_t *plan;      /* NULL: the reader has no such field, skip */
    const hf_avro_node_t *wtype; /* for skipping */
    const char *name;
    size_t rindex;
} hf__wfield_t;

typedef struct hf__rdefault_s {
    size_t rindex;
    const hf_avro_node_t *rtype;
    const json_t *def;
    const char *name;
} hf__rdefault_t;

struct hf__plan_s {
    hf__op_t op;
    const hf_avro_node_t *w, *r;
    hf__wfield_t *wf; /* record: one per writer field */
    size_t nwf;
    hf__rdefault_t *defs; /* record: reader fields absent from the writer */
    size_t ndefs;
    int *enum_map; /* enum: per writer symbol, reader index or -1 */
    const hf__plan_t *items;
    const hf__plan_t **branches; /* WUNION: per writer branch */
    size_t rbranch;              /* RUNION */
    const hf__plan_t *sub;       /* RUNION */
    char *err;                   /* ERROR */
};

/* ==== catalogue state ==== */

typedef struct hf__entry_s {
    const hf_event_type_t *et;
    size_t et_index; /* into hf_event_types */
    int version;
    uint64_t fp;
    char *path;
    bool is_newest;
    avro_schema_t schema;   /* Avro C schema, one reference owned */
    hf_avro_schema_t *tree; /* hemoflow's tree, canonical form */
    struct hf__entry_s *newest;
    const hf__plan_t *plan; /* this version -> newest */
} hf__entry_t;

struct hf_catalog_s {
    hf__entry_t *entries; /* by event type, then version */
    size_t n;
    hf__entry_t **by_fp;         /* sorted by fingerprint, for bsearch */
    hf__entry_t **newest;        /* per hf_event_types index */
    avro_value_iface_t **ifaces; /* per hf_event_types index: generic class of newest */
    hf__plan_t **plans;          /* every plan, for destroy */
    size_t nplans, plans_cap;
};

struct hf_decoder_s {
    const hf_catalog_t *cat;
    avro_value_t *values; /* per hf_event_types index, created on first use */
    bool *have;
    hf_buf_t scratch; /* NUL-terminated copies of strings and map keys */
};

/* ==== plan compilation ==== */

typedef struct hf__memo_s {
    hf__plan_t **v;
    size_t n, cap;
} hf__memo_t;

static hf__plan_t *hf__plan_new(hf_catalog_t *cat, hf__memo_t *memo, const hf_avro_node_t *w,
                                const hf_avro_node_t *r)
{
    hf__plan_t *p = hf_calloc(1, sizeof(*p));
    p->w = w;
    p->r = r;
    if (cat->nplans == cat->plans_cap) {
        cat->plans_cap = cat->plans_cap ? cat->plans_cap * 2 : 64;
        cat->plans = hf_realloc(cat->plans, cat->plans_cap * sizeof(*cat->plans));
    }
    cat->plans[cat->nplans++] = p;
    if (memo->n == memo->cap) {
        memo->cap = memo->cap ? memo->cap * 2 : 64;
        memo->v = hf_realloc(memo->v, memo->cap * sizeof(*memo->v));
    }
    memo->v[memo->n++] = p;
    return p;
}

static const char *hf__tname(const hf_avro_node_t *n)
{
    return n->fullname ? n->fullname : hf_avro_type_name(n->type);
}

static hf__op_t hf__prim_op(hf_avro_type_t w, hf_avro_type_t r)
{
    static const struct {
        hf_avro_type_t w, r;
        hf__op_t op;
    } promos[] = {
        {HF_AVRO_INT, HF_AVRO_LONG, HF__OP_INT_LONG},
        {HF_AVRO_INT, HF_AVRO_FLOAT, HF__OP_INT_FLOAT},
        {HF_AVRO_INT, HF_AVRO_DOUBLE, HF__OP_INT_DOUBLE},
        {HF_AVRO_LONG, HF_AVRO_FLOAT, HF__OP_LONG_FLOAT},
        {HF_AVRO_LONG, HF_AVRO_DOUBLE, HF__OP_LONG_DOUBLE},
        {HF_AVRO_FLOAT, HF_AVRO_DOUBLE, HF__OP_FLOAT_DOUBLE},
        {HF_AVRO_STRING, HF_AVRO_BYTES, HF__OP_STRING_BYTES},
        {HF_AVRO_BYTES, HF_AVRO_STRING, HF__OP_BYTES_STRING},
    };
    if (w == r) {
        switch (w) {
        case HF_AVRO_NULL:
            return HF__OP_NULL;
        case HF_AVRO_BOOLEAN:
            return HF__OP_BOOLEAN;
        case HF_AVRO_INT:
            return HF__OP_INT;
        case HF_AVRO_LONG:
            return HF__OP_LONG;
        case HF_AVRO_FLOAT:
            return HF__OP_FLOAT;
        case HF_AVRO_DOUBLE:
            return HF__OP_DOUBLE;
        case HF_AVRO_STRING:
            return HF__OP_STRING;
        case HF_AVRO_BYTES:
            return HF__OP_BYTES;
        case HF_AVRO_FIXED:
            return HF__OP_FIXED;
        default:
            return HF__OP_ERROR;
        }
    }
    for (size_t i = 0; i < sizeof(promos) / sizeof(promos[0]); i++)
        if (promos[i].w == w && promos[i].r == r)
            return promos[i].op;
    return HF__OP_ERROR;
}

static const hf__plan_t *hf__compile(hf_catalog_t *cat, hf__memo_t *memo, const hf_avro_node_t *w,
                                     const hf_avro_node_t *r)
{
    for (size_t i = 0; i < memo->n; i++)
        if (memo->v[i]->w == w && memo->v[i]->r == r)
            return memo->v[i];
    hf__plan_t *p = hf__plan_new(cat, memo, w, r); /* memoized before recursing */

    if (w->type == HF_AVRO_UNION) {
        p->op = HF__OP_WUNION;
        p->branches = hf_calloc(w->n ? w->n : 1, sizeof(*p->branches));
        for (size_t i = 0; i < w->n; i++)
            p->branches[i] = hf__compile(cat, memo, w->branches[i], r);
        return p;
    }
    if (r->type == HF_AVRO_UNION) {
        size_t pick = r->n;
        for (size_t i = 0; i < r->n && pick == r->n; i++)
            if (hf_avro_matches(w, r->branches[i], true))
                pick = i;
        for (size_t i = 0; i < r->n && pick == r->n; i++)
            if (hf_avro_matches(w, r->branches[i], false))
                pick = i;
        if (pick == r->n) {
            p->op = HF__OP_ERROR;
            p->err =
                hf_asprintf("writer type %s matches no branch of the reader's union", hf__tname(w));
            return p;
        }
        p->op = HF__OP_RUNION;
        p->rbranch = pick;
        p->sub = hf__compile(cat, memo, w, r->branches[pick]);
        return p;
    }
    if (!hf_avro_matches(w, r, false)) {
        p->op = HF__OP_ERROR;
        p->err = hf_asprintf("writer type %s cannot be read as %s", hf__tname(w), hf__tname(r));
        return p;
    }
    switch (r->type) {
    case HF_AVRO_RECORD:
        p->op = HF__OP_RECORD;
        p->nwf = w->n;
        p->wf = hf_calloc(w->n ? w->n : 1, sizeof(*p->wf));
        p->defs = hf_calloc(r->n ? r->n : 1, sizeof(*p->defs));
        for (size_t i = 0; i < w->n; i++) {
            p->wf[i].wtype = w->fields[i].type;
            p->wf[i].name = w->fields[i].name;
            for (size_t j = 0; j < r->n; j++)
                if (strcmp(w->fields[i].name, r->fields[j].name) == 0) {
                    p->wf[i].rindex = j;
                    p->wf[i].plan = hf__compile(cat, memo, w->fields[i].type, r->fields[j].type);
                }
        }
        for (size_t j = 0; j < r->n; j++) {
            bool in_writer = false;
            for (size_t i = 0; i < w->n && !in_writer; i++)
                in_writer = strcmp(w->fields[i].name, r->fields[j].name) == 0;
            if (!in_writer)
                p->defs[p->ndefs++] =
                    (hf__rdefault_t){j, r->fields[j].type, r->fields[j].def, r->fields[j].name};
        }
        return p;
    case HF_AVRO_ENUM:
        p->op = HF__OP_ENUM;
        p->enum_map = hf_calloc(w->n ? w->n : 1, sizeof(int));
        for (size_t i = 0; i < w->n; i++) {
            p->enum_map[i] = r->enum_default;
            for (size_t j = 0; j < r->n; j++)
                if (strcmp(w->symbols[i], r->symbols[j]) == 0)
                    p->enum_map[i] = (int)j;
        }
        return p;
    case HF_AVRO_ARRAY:
    case HF_AVRO_MAP:
        p->op = r->type == HF_AVRO_ARRAY ? HF__OP_ARRAY : HF__OP_MAP;
        p->items = hf__compile(cat, memo, w->items, r->items);
        return p;
    default:
        p->op = hf__prim_op(w->type, r->type);
        return p;
    }
}

static void hf__plan_free(hf__plan_t *p)
{
    hf_free(p->wf);
    hf_free(p->defs);
    hf_free(p->enum_map);
    hf_free(p->branches);
    hf_free(p->err);
    hf_free(p);
}

/* ==== decoding ==== */

typedef struct hf__rd_s {
    const uint8_t *start, *p, *end;
    hf_decoder_t *dec;
    char *errstr;
    size_t errstr_size;
    const char *path[HF__MAX_DEPTH + 1]; /* field names, for messages */
    int depth;
} hf__rd_t;

static hf_err_t hf__rd_fail(hf__rd_t *rd, hf_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static hf_err_t hf__rd_fail(hf__rd_t *rd, hf_err_t err, const char *fmt, ...)
{
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
    return hf__rd_fail(rd, HF_ERR_DECODE, "avro-c %s: %s", what, avro_strerror());
}

/* Zigzag varint, at most 10 bytes; the 10th may only carry the top bit. */
static hf_err_t hf__rd_long(hf__rd_t *rd, int64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (rd->p >= rd->end)
            return hf__rd_fail(rd, HF_ERR_TRUNCATED, "body ends inside a varint");
        uint8_t b = *rd->p++;
        if (i == 9 && b > 1)
            return hf__rd_fail(rd, HF_ERR_DECODE, "varint overflows 64 bits");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return HF_OK;
        }
    }
    return hf__rd_fail(rd, HF_ERR_DECODE, "varint longer than 10 bytes");
}

static hf_err_t hf__rd_int(hf__rd_t *rd, int32_t *out)
{
    int64_t v;
    hf_err_t err = hf__rd_long(rd, &v);
    if (err)
        return err;
    if (v < INT32_MIN || v > INT32_MAX)
        return hf__rd_fail(rd, HF_ERR_DECODE, "int value %lld out of range", (long long)v);
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
        return hf__rd_fail(rd, HF_ERR_DECODE, "negative length %lld", (long long)v);
    if ((uint64_t)v > (uint64_t)(rd->end - rd->p))
        return hf__rd_fail(rd, HF_ERR_TRUNCATED, "length %lld exceeds the %zu bytes left",
                           (long long)v, (size_t)(rd->end - rd->p));
    *out = (size_t)v;
    return HF_OK;
}

static hf_err_t hf__rd_fixed(hf__rd_t *rd, size_t n, const uint8_t **out)
{
    if (n > (size_t)(rd->end - rd->p))
        return hf__rd_fail(rd, HF_ERR_TRUNCATED, "body ends inside a %zu-byte value", n);
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
        return hf__rd_fail(rd, HF_ERR_DECODE, "%s index %lld out of range 0..%zu", what,
                           (long long)v, n ? n - 1 : 0);
    *out = (size_t)v;
    return HF_OK;
}

/* Next block count of an array or map (0 = end), with the count bounded by
 * the bytes left so that a forged count cannot make us loop or allocate. */
static hf_err_t hf__rd_block(hf__rd_t *rd, size_t item_min, size_t *total, size_t *count)
{
    int64_t c;
    hf_err_t err = hf__rd_long(rd, &c);
    if (err)
        return err;
    if (c < 0) {
        int64_t bytes;
        if (c == INT64_MIN)
            return hf__rd_fail(rd, HF_ERR_DECODE, "invalid block count");
        c = -c;
        if ((err = hf__rd_long(rd, &bytes)) != HF_OK)
            return err;
        if (bytes < 0 || (uint64_t)bytes > (uint64_t)(rd->end - rd->p))
            return hf__rd_fail(rd, HF_ERR_TRUNCATED, "block size %lld exceeds the bytes left",
                               (long long)bytes);
    }
    size_t left = (size_t)(rd->end - rd->p);
    if (item_min > 0 ? (uint64_t)c > left / item_min
                     : (uint64_t)c > HF__MAX_ZERO_SIZE_ITEMS - *total)
        return hf__rd_fail(rd, item_min ? HF_ERR_TRUNCATED : HF_ERR_DECODE,
                           "block of %lld items cannot fit in the %zu bytes left", (long long)c,
                           left);
    *total += (size_t)c;
    *count = (size_t)c;
    return HF_OK;
}

static hf_err_t hf__enter(hf__rd_t *rd, const char *name)
{
    if (rd->depth >= HF__MAX_DEPTH)
        return hf__rd_fail(rd, HF_ERR_DECODE, "nested deeper than %d", HF__MAX_DEPTH);
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
            return hf__rd_fail(rd, HF_ERR_DECODE, "boolean byte %u", *dummy);
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
        while ((err = hf__rd_block(rd, min, &total, &cnt)) == HF_OK && cnt > 0)
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
    return hf__rd_fail(rd, HF_ERR_INTERNAL, "unknown schema type");
}

static hf_err_t hf__set_string(hf__rd_t *rd, avro_value_t *dest, const uint8_t *s, size_t n)
{
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
    while ((err = hf__rd_block(rd, min, &total, &cnt)) == HF_OK && cnt > 0) {
        for (size_t i = 0; i < cnt && !err; i++) {
            if (map) {
                if ((err = hf__rd_len(rd, &klen)) != HF_OK)
                    break;
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
            return hf__rd_fail(rd, HF_ERR_DECODE, "boolean byte %u", *b);
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
            return hf__rd_fail(rd, HF_ERR_DECODE,
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
        return hf__rd_fail(rd, HF_ERR_DECODE, "%s", p->err);
    }
    if (rc)
        return hf__avro_fail(rd, "set value");
    return HF_OK;
}

/* ==== loading ==== */

/* "<EventType>.v<N>.avsc" -> name (owned by caller) and N; false otherwise. */
static bool hf__parse_file_name(const char *base, char **type_out, int *version_out)
{
    size_t n = strlen(base);
    if (n < 8 || strcmp(base + n - 5, ".avsc") != 0)
        return false;
    const char *v = NULL;
    for (const char *q = base; (q = strstr(q, ".v")) != NULL; q++)
        v = q;
    if (!v || v == base)
        return false;
    const char *digits = v + 2, *stop = base + n - 5;
    size_t nd = (size_t)(stop - digits);
    if (nd == 0 || nd > 6 || digits[0] == '0')
        return false;
    int ver = 0;
    for (const char *d = digits; d < stop; d++) {
        if (*d < '0' || *d > '9')
            return false;
        ver = ver * 10 + (*d - '0');
    }
    for (const char *c = base; c < v; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return false;
    *type_out = hf_strndup(base, (size_t)(v - base));
    *version_out = ver;
    return true;
}

static const char *hf__basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static hf_err_t hf__read_file(const char *path, char **out, size_t *len, char *errstr,
                              size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hf_err_set(errno == ENOENT ? HF_ERR_NOT_FOUND : HF_ERR_IO, errstr, errstr_size,
                          "%s: %s", path, strerror(errno));
    char *buf = hf_malloc(HF__MAX_SCHEMA_FILE + 1);
    size_t n = fread(buf, 1, HF__MAX_SCHEMA_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > HF__MAX_SCHEMA_FILE) {
        hf_free(buf);
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "%s: %s", path,
                          bad ? "read error" : "larger than 1 MiB");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return HF_OK;
}

static void hf__entry_close(hf__entry_t *e);

/* Everything about one schema file that does not depend on other files.
 * HF_ERR_INVALID with "file: reason" when the file is not acceptable. */
static hf_err_t hf__entry_open(hf__entry_t *e, const char *path, char *errstr, size_t errstr_size)
{
    const char *base = hf__basename(path);
    char *type = NULL, *text = NULL;
    size_t len = 0;
    char why[512];
    hf_err_t err;
    memset(e, 0, sizeof(*e));
    if (!hf__parse_file_name(base, &type, &e->version))
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size,
                          "%s: file name must be <EventType>.v<N>.avsc (N >= 1)", path);
    e->et = hf_event_type_find(type);
    if (!e->et || strcmp(e->et->name, type) != 0) {
        err = hf_err_set(HF_ERR_INVALID, errstr, errstr_size,
                         "%s: '%s' is not a hemoflow event type (common/hf_event_types.h)", path,
                         type);
        goto out;
    }
    e->et_index = (size_t)(e->et - hf_event_types);
    if ((err = hf__read_file(path, &text, &len, errstr, errstr_size)) != HF_OK)
        goto out;
    if (avro_schema_from_json_length(text, len, &e->schema)) {
        e->schema = NULL;
        err = hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "%s: not a valid Avro schema: %s",
                         path, avro_strerror());
        goto out;
    }
    e->tree = hf_avro_schema_parse(text, len, why, sizeof(why));
    if (!e->tree) {
        err = hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "%s: %s", path, why);
        goto out;
    }
    const hf_avro_node_t *root = hf_avro_schema_root(e->tree);
    if (root->type != HF_AVRO_RECORD || strcmp(root->name, type) != 0) {
        err = hf_err_set(HF_ERR_INVALID, errstr, errstr_size,
                         "%s: the schema is %s %s, but the file name says record %s", path,
                         hf_avro_type_name(root->type), root->fullname ? root->fullname : "", type);
        goto out;
    }
    e->fp = hf_avro_schema_fingerprint(e->tree);
    e->path = hf_strdup(path);
    err = HF_OK;
out:
    hf_free(type);
    hf_free(text);
    if (err)
        hf__entry_close(e);
    return err;
}

static void hf__entry_close(hf__entry_t *e)
{
    if (e->schema)
        avro_schema_decref(e->schema);
    hf_avro_schema_destroy(e->tree);
    hf_free(e->path);
    memset(e, 0, sizeof(*e));
}

static int hf__cmp_entry(const void *a, const void *b)
{
    const hf__entry_t *x = a, *y = b;
    if (x->et_index != y->et_index)
        return x->et_index < y->et_index ? -1 : 1;
    return (x->version > y->version) - (x->version < y->version);
}

static int hf__cmp_fp(const void *a, const void *b)
{
    const hf__entry_t *x = *(hf__entry_t *const *)a, *y = *(hf__entry_t *const *)b;
    return (x->fp > y->fp) - (x->fp < y->fp);
}

static int hf__cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.avsc names of dir (caller frees). */
static hf_err_t hf__list_dir(const char *dir, char ***names_out, size_t *n_out, char *errstr,
                             size_t errstr_size)
{
    DIR *d = opendir(dir);
    if (!d)
        return hf_err_set(errno == ENOENT ? HF_ERR_NOT_FOUND : HF_ERR_IO, errstr, errstr_size,
                          "schema folder %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 5 || strcmp(de->d_name + l - 5, ".avsc") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = hf_realloc(names, cap * sizeof(*names));
        }
        names[n++] = hf_asprintf("%s/%s", dir, de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), hf__cmp_str);
    *names_out = names;
    *n_out = n;
    return HF_OK;
}

/* Cross-file rules: unique fingerprints, every event type present, every
 * version readable by the newest; then plans and reader classes. */
static hf_err_t hf__catalog_link(hf_catalog_t *cat, char *errstr, size_t errstr_size)
{
    cat->by_fp = hf_calloc(cat->n ? cat->n : 1, sizeof(*cat->by_fp));
    for (size_t i = 0; i < cat->n; i++)
        cat->by_fp[i] = &cat->entries[i];
    qsort(cat->by_fp, cat->n, sizeof(*cat->by_fp), hf__cmp_fp);
    for (size_t i = 1; i < cat->n; i++)
        if (cat->by_fp[i]->fp == cat->by_fp[i - 1]->fp)
            return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                              "%s and %s have the same fingerprint %016llx (same canonical "
                              "form): each version must differ",
                              cat->by_fp[i - 1]->path, cat->by_fp[i]->path,
                              (unsigned long long)cat->by_fp[i]->fp);

    cat->newest = hf_calloc(hf_event_types_count, sizeof(*cat->newest));
    cat->ifaces = hf_calloc(hf_event_types_count, sizeof(*cat->ifaces));
    for (size_t i = 0; i < cat->n; i++)
        cat->newest[cat->entries[i].et_index] = &cat->entries[i]; /* sorted: last wins */
    char missing[512] = "";
    size_t off = 0;
    for (size_t t = 0; t < hf_event_types_count; t++)
        if (!cat->newest[t] && off < sizeof(missing))
            off += (size_t)snprintf(missing + off, sizeof(missing) - off, "%s%s", off ? ", " : "",
                                    hf_event_types[t].name);
    if (off)
        return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                          "schema catalogue has no version of: %s", missing);

    hf__memo_t memo = {0};
    hf_err_t err = HF_OK;
    for (size_t i = 0; i < cat->n && !err; i++) {
        hf__entry_t *e = &cat->entries[i];
        e->newest = cat->newest[e->et_index];
        e->is_newest = e->newest == e;
        hf_buf_t why = {0};
        size_t problems =
            hf_avro_check(hf_avro_schema_root(e->tree), hf_avro_schema_root(e->newest->tree), &why);
        if (problems) {
            hf_buf_append(&why, "", 1);
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                             "%s cannot be read by the newest version %s:\n%s", e->path,
                             e->newest->path, (char *)why.data);
        } else {
            memo.n = 0; /* plans are per (writer, reader) pair of one writer tree */
            e->plan = hf__compile(cat, &memo, hf_avro_schema_root(e->tree),
                                  hf_avro_schema_root(e->newest->tree));
        }
        hf_buf_free(&why);
    }
    hf_free(memo.v);
    for (size_t t = 0; t < hf_event_types_count && !err; t++) {
        cat->ifaces[t] = avro_generic_class_from_schema(cat->newest[t]->schema);
        if (!cat->ifaces[t])
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size, "%s: avro-c: %s",
                             cat->newest[t]->path, avro_strerror());
    }
    return err;
}

hf_catalog_t *hf_catalog_load(const char *dir, char *errstr, size_t errstr_size)
{
    char **names = NULL;
    size_t nnames = 0;
    if (hf__list_dir(dir, &names, &nnames, errstr, errstr_size) != HF_OK)
        return NULL;
    hf_catalog_t *cat = hf_calloc(1, sizeof(*cat));
    cat->entries = hf_calloc(nnames ? nnames : 1, sizeof(*cat->entries));
    hf_err_t err = HF_OK;
    for (size_t i = 0; i < nnames && !err; i++) {
        err = hf__entry_open(&cat->entries[cat->n], names[i], errstr, errstr_size);
        if (!err)
            cat->n++;
    }
    for (size_t i = 0; i < nnames; i++)
        hf_free(names[i]);
    hf_free(names);
    if (!err) {
        qsort(cat->entries, cat->n, sizeof(*cat->entries), hf__cmp_entry);
        err = hf__catalog_link(cat, errstr, errstr_size);
    }
    if (err) {
        hf_catalog_destroy(cat);
        return NULL;
    }
    hf_log_debug("catalog.loaded", "dir=%s schemas=%zu", dir, cat->n);
    return cat;
}

void hf_catalog_destroy(hf_catalog_t *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->nplans; i++)
        hf__plan_free(cat->plans[i]);
    hf_free(cat->plans);
    if (cat->ifaces)
        for (size_t t = 0; t < hf_event_types_count; t++)
            if (cat->ifaces[t])
                avro_value_iface_decref(cat->ifaces[t]);
    hf_free(cat->ifaces);
    for (size_t i = 0; i < cat->n; i++)
        hf__entry_close(&cat->entries[i]);
    hf_free(cat->entries);
    hf_free(cat->by_fp);
    hf_free(cat->newest);
    hf_free(cat);
}

/* ==== lookups ==== */

static hf__entry_t *hf__by_fp(const hf_catalog_t *cat, uint64_t fp)
{
    size_t lo = 0, hi = cat->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t v = cat->by_fp[mid]->fp;
        if (v == fp)
            return cat->by_fp[mid];
        if (v < fp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void hf__info(const hf__entry_t *e, hf_catalog_info_t *out)
{
    out->event_type = e->et;
    out->version = e->version;
    out->fingerprint = e->fp;
    out->path = e->path;
    out->canonical = hf_avro_schema_pcf(e->tree);
    out->is_newest = e->is_newest;
}

size_t hf_catalog_count(const hf_catalog_t *cat)
{
    return cat->n;
}

hf_err_t hf_catalog_entry(const hf_catalog_t *cat, size_t i, hf_catalog_info_t *out)
{
    if (i >= cat->n)
        return HF_ERR_NOT_FOUND;
    hf__info(&cat->entries[i], out);
    return HF_OK;
}

hf_err_t hf_catalog_find(const hf_catalog_t *cat, uint64_t fingerprint, hf_catalog_info_t *out)
{
    const hf__entry_t *e = hf__by_fp(cat, fingerprint);
    if (!e)
        return HF_ERR_UNKNOWN_FINGERPRINT;
    hf__info(e, out);
    return HF_OK;
}

avro_schema_t hf_catalog_schema(const hf_catalog_t *cat, const char *event_type, int version,
                                uint64_t *fingerprint_out)
{
    const hf_event_type_t *et = event_type ? hf_event_type_find(event_type) : NULL;
    if (!et)
        return NULL;
    size_t t = (size_t)(et - hf_event_types);
    const hf__entry_t *e = NULL;
    if (version == 0)
        e = cat->newest[t];
    for (size_t i = 0; i < cat->n && !e; i++)
        if (cat->entries[i].et_index == t && cat->entries[i].version == version)
            e = &cat->entries[i];
    if (!e)
        return NULL;
    if (fingerprint_out)
        *fingerprint_out = e->fp;
    return e->schema;
}

int hf_catalog_field_index(const hf_catalog_t *cat, const hf_event_type_t *event_type,
                           const char *field)
{
    if (!event_type || event_type < hf_event_types ||
        event_type >= hf_event_types + hf_event_types_count)
        return -1;
    const hf_avro_node_t *root =
        hf_avro_schema_root(cat->newest[event_type - hf_event_types]->tree);
    for (size_t i = 0; i < root->n; i++)
        if (strcmp(root->fields[i].name, field) == 0)
            return (int)i;
    return -1;
}

/* ==== encoding ==== */

hf_err_t hf_catalog_encode(const hf_catalog_t *cat, avro_value_t *value, uint64_t fingerprint,
                           hf_buf_t *out, char *errstr, size_t errstr_size)
{
    const hf__entry_t *e = hf__by_fp(cat, fingerprint);
    if (!e)
        return hf_err_set(HF_ERR_UNKNOWN_FINGERPRINT, errstr, errstr_size,
                          "fingerprint %016llx is not in the catalogue",
                          (unsigned long long)fingerprint);
    avro_schema_t vs = avro_value_get_schema(value);
    if (vs != e->schema && !avro_schema_equal(vs, e->schema))
        return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                          "value is not an instance of %s v%d (fingerprint %016llx)", e->et->name,
                          e->version, (unsigned long long)fingerprint);
    size_t size = 0;
    if (avro_value_sizeof(value, &size))
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "%s v%d: avro-c sizeof: %s",
                          e->et->name, e->version, avro_strerror());
    hf_buf_reserve(out, HF_FRAME_HEADER_LEN + size);
    uint8_t *dst = out->data + out->len;
    hf_frame_header(dst, fingerprint);
    avro_writer_t w = avro_writer_memory((char *)dst + HF_FRAME_HEADER_LEN, (int64_t)size);
    if (!w)
        return hf_err_set(HF_ERR_INTERNAL, errstr, errstr_size, "avro-c writer: %s",
                          avro_strerror());
    int rc = avro_value_write(w, value);
    int64_t written = avro_writer_tell(w);
    avro_writer_free(w);
    if (rc || written != (int64_t)size)
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "%s v%d: avro-c write: %s",
                          e->et->name, e->version, rc ? avro_strerror() : "size mismatch");
    out->len += HF_FRAME_HEADER_LEN + size;
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
    hf_err_t err = hf_frame_parse(buf, len, max_len, &fp, &body, &body_len);
    if (err)
        return hf_err_set(err, errstr, errstr_size, "%s",
                          err == HF_ERR_OVERSIZE    ? "frame larger than the configured limit"
                          : err == HF_ERR_BAD_MAGIC ? "not a single-object frame (no C3 01 marker)"
                                                    : "frame shorter than header + body");
    const hf__entry_t *e = hf__by_fp(dec->cat, fp);
    if (!e)
        return hf_err_set(HF_ERR_UNKNOWN_FINGERPRINT, errstr, errstr_size,
                          "writer fingerprint %016llx is not in the catalogue",
                          (unsigned long long)fp);
    size_t t = e->et_index;
    if (!dec->have[t]) {
        if (avro_generic_value_new(dec->cat->ifaces[t], &dec->values[t]))
            return hf_err_set(HF_ERR_INTERNAL, errstr, errstr_size, "avro-c value: %s",
                              avro_strerror());
        dec->have[t] = true;
    }
    avro_value_t *v = &dec->values[t];
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
    if ((err = hf__read(&rd, e->plan, v)) != HF_OK)
        return err;
    if (rd.p != rd.end)
        return hf_err_set(HF_ERR_TRAILING, errstr, errstr_size,
                          "%zu bytes left after the %s v%d record (%zu-byte body)",
                          (size_t)(rd.end - rd.p), e->et->name, e->version, body_len);
    out->event_type = e->et;
    out->fingerprint = fp;
    out->writer_version = e->version;
    out->reader_version = e->newest->version;
    out->value = v;
    return HF_OK;
}

/* ==== compatibility report ==== */

static size_t hf__check_pair(hf_buf_t *report, const char *label, const hf_avro_node_t *w,
                             const hf_avro_node_t *r)
{
    hf_buf_t why = {0};
    size_t problems = hf_avro_check(w, r, &why);
    hf_buf_printf(report, "  %s: %s\n", label, problems ? "INCOMPATIBLE" : "OK");
    if (problems)
        hf_buf_append(report, why.data, why.len);
    hf_buf_free(&why);
    return problems;
}

static hf_err_t hf__check_candidate(const hf_catalog_t *cat, const hf__entry_t *c, hf_buf_t *report)
{
    size_t problems = 0, compared = 0;
    const hf_avro_node_t *croot = hf_avro_schema_root(c->tree);
    hf_buf_printf(report, "candidate %s v%d, fingerprint %016llx (%s)\n", c->et->name, c->version,
                (unsigned long long)c->fp, c->path);
    for (size_t i = 0; i < cat->n; i++) {
        const hf__entry_t *w = &cat->entries[i];
        if (w->et_index != c->et_index)
            continue;
        if (w->version == c->version) {
            if (w->fp == c->fp) {
                hf_buf_printf(report, "  v%d: identical to the catalogue's %s\n", w->version,
                            w->path);
            } else {
                problems++;
                hf_buf_printf(report,
                            "  v%d: INCOMPATIBLE\n  - the catalogue already has v%d (%s) with "
                            "fingerprint %016llx; a published version never changes: use "
                            "v%d\n",
                            w->version, w->version, w->path, (unsigned long long)w->fp,
                            cat->newest[c->et_index]->version + 1);
            }
            continue;
        }
        if (w->version > c->version) {
            hf_buf_printf(report, "  v%d: newer than the candidate, not compared\n", w->version);
            continue;
        }
        const hf_avro_node_t *wroot = hf_avro_schema_root(w->tree);
        char label[128];
        snprintf(label, sizeof(label), "v%d data read with candidate v%d (backward)", w->version,
                 c->version);
        problems += hf__check_pair(report, label, wroot, croot);
        snprintf(label, sizeof(label), "candidate v%d data read with v%d (forward)", c->version,
                 w->version);
        problems += hf__check_pair(report, label, croot, wroot);
        compared++;
    }
    if (problems)
        hf_buf_printf(report, "result: incompatible (%zu problem%s)\n", problems,
                    problems == 1 ? "" : "s");
    else
        hf_buf_printf(report, "result: compatible (%zu older version%s compared)\n", compared,
                    compared == 1 ? "" : "s");
    return problems ? HF_ERR_SCHEMA : HF_OK;
}

hf_err_t hf_catalog_check(const hf_catalog_t *cat, const char *candidate_path, hf_buf_t *report)
{
    char errstr[1024];
    hf__entry_t c;
    hf_err_t err = hf__entry_open(&c, candidate_path, errstr, sizeof(errstr));
    if (err)
        hf_buf_printf(report, "error: %s\n", errstr);
    else
        err = hf__check_candidate(cat, &c, report);
    hf__entry_close(&c);
    hf_buf_reserve(report, 1);
    report->data[report->len] = '\0';
    return err;
}
