/*
 * hf_wh_encode — fact-table layouts (from the catalogue's reader schema
 * tree of each event type, with the logical types that Avro C's own schema
 * drops) and the encoder from a decoded Avro record to one PostgreSQL binary
 * COPY tuple.
 *
 * Binary COPY tuple (PostgreSQL "COPY ... (FORMAT binary)"): int16 field
 * count, then per field int32 byte length (-1 = NULL) and the value in the
 * type's binary send format, all integers big-endian:
 *   integer int4; bigint int8; boolean 1 byte; double precision IEEE 754
 *   float8; text the UTF-8 bytes; uuid 16 bytes; date int4 days since
 *   2000-01-01; timestamptz int8 µs since 2000-01-01 00:00 UTC; text[]
 *   int4 ndim (0 when empty, else 1), int4 has-null flag (0), int4 element
 *   oid (25), then per dimension int4 size and int4 lower bound (1), then
 *   per element int4 length + bytes.
 * The stream starts with the 19-byte header (signature "PGCOPY\n\377\r\n\0",
 * int4 flags 0, int4 extension length 0) and ends with int16 -1.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hf_buf.h"
#include "hf_uuid.h"
#include "hf_wh_int.h"

const unsigned char hf__copy_header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n',
                                           0,   0,   0,   0,   0,   0,   0,    0,    0};
const unsigned char hf__copy_trailer[2] = {0xff, 0xff};

/* ==== layout from the reader schema tree ==== */

const char *hf__wh_pgtype(hf__colkind_t k)
{
    switch (k) {
    case HF__COL_UUID: return "uuid";
    case HF__COL_TEXT: return "text";
    case HF__COL_INT4: return "integer";
    case HF__COL_INT8: return "bigint";
    case HF__COL_DATE: return "date";
    case HF__COL_TSTZ: return "timestamp with time zone";
    case HF__COL_BOOL: return "boolean";
    case HF__COL_FLOAT8: return "double precision";
    case HF__COL_TEXTARR: return "text[]";
    }
    return "?";
}

/* Map one (non-union) schema node to a column kind. */
static bool hf__kind_of(const hf_avro_node_t *n, hf__colkind_t *kind, bool *is_enum)
{
    const char *logical = n->logical_type;
    *is_enum = false;
    switch (n->type) {
    case HF_AVRO_ENUM:
        *kind = HF__COL_TEXT;
        *is_enum = true;
        return true;
    case HF_AVRO_ARRAY:
        *kind = HF__COL_TEXTARR;
        return n->items && n->items->type == HF_AVRO_STRING;
    case HF_AVRO_STRING:
        *kind = logical && strcmp(logical, "uuid") == 0 ? HF__COL_UUID : HF__COL_TEXT;
        return true;
    case HF_AVRO_INT:
        *kind = logical && strcmp(logical, "date") == 0 ? HF__COL_DATE : HF__COL_INT4;
        return true;
    case HF_AVRO_LONG:
        *kind = logical && strcmp(logical, "timestamp-micros") == 0 ? HF__COL_TSTZ : HF__COL_INT8;
        return true;
    case HF_AVRO_BOOLEAN:
        *kind = HF__COL_BOOL;
        return true;
    case HF_AVRO_DOUBLE:
        *kind = HF__COL_FLOAT8;
        return true;
    default:
        return false;
    }
}

void hf__wh_table_clear(hf__table_t *t)
{
    for (size_t i = 0; i < t->nfields; i++)
        hf_free(t->fields[i].name);
    hf_free(t->fields);
    hf_free(t->columns);
    hf_free(t->copy_sql);
    hf_free(t->stage_copy_sql);
    memset(t, 0, sizeof(*t));
}

static char *hf__column_list(const hf__table_t *t)
{
    hf_buf_t b = {0};
    hf_buf_append(&b, "event_date", 10);
    for (size_t i = 0; i < t->nfields; i++) {
        hf_buf_append(&b, ", ", 2);
        hf_buf_append(&b, t->fields[i].name, strlen(t->fields[i].name));
    }
    static const char tail[] = ", kafka_partition, kafka_offset";
    hf_buf_append(&b, tail, sizeof(tail)); /* with the NUL */
    return (char *)b.data;
}

hf_err_t hf__wh_table_from_tree(hf__table_t *t, const hf_event_type_t *et, int version,
                                const hf_avro_schema_t *schema, char *errstr, size_t errstr_size)
{
    memset(t, 0, sizeof(*t));
    const hf_avro_node_t *root = schema ? hf_avro_schema_root(schema) : NULL;
    if (!root || root->type != HF_AVRO_RECORD || root->n == 0)
        return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size, "%s v%d: not a record with fields",
                          et->name, version);
    hf_err_t err = HF_OK;
    t->et = et;
    t->version = version;
    t->i_province = t->i_occurred = t->i_utc_offset = -1;
    t->fields = hf_calloc(root->n, sizeof(hf__col_t));
    for (size_t i = 0; i < root->n; i++) {
        const char *name = root->fields[i].name;
        const hf_avro_node_t *type = root->fields[i].type;
        hf__col_t *c = &t->fields[i];
        c->name = hf_strdup(name);
        t->nfields = i + 1;
        if (type->type == HF_AVRO_UNION) {
            if (type->n != 2 || type->branches[0]->type != HF_AVRO_NULL) {
                err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                                 "%s v%d: field %s: only [\"null\", T] unions fit a column",
                                 et->name, version, name);
                goto out;
            }
            c->nullable = true;
            type = type->branches[1];
        }
        if (!hf__kind_of(type, &c->kind, &c->is_enum)) {
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                             "%s v%d: field %s: type has no warehouse column mapping", et->name,
                             version, name);
            goto out;
        }
        if (strcmp(name, "province_code") == 0 && c->kind == HF__COL_TEXT && !c->nullable)
            t->i_province = (int)i;
        else if (strcmp(name, "occurred_at") == 0 && c->kind == HF__COL_TSTZ && !c->nullable)
            t->i_occurred = (int)i;
        else if (strcmp(name, "utc_offset_minutes") == 0 && c->kind == HF__COL_INT4 && !c->nullable)
            t->i_utc_offset = (int)i;
    }
    if (t->i_province < 0 || t->i_occurred < 0 || t->i_utc_offset < 0) {
        err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                         "%s v%d: the envelope fields province_code (string), occurred_at "
                         "(timestamp-micros), utc_offset_minutes (int) are required",
                         et->name, version);
        goto out;
    }
    t->columns = hf__column_list(t);
    t->copy_sql = hf_asprintf("COPY hemoflow.%s (%s) FROM STDIN (FORMAT binary)", et->snake,
                              t->columns);
    t->stage_copy_sql = hf_asprintf("COPY pg_temp.hf_stage_%s (%s) FROM STDIN (FORMAT binary)",
                                    et->snake, t->columns);
out:
    if (err)
        hf__wh_table_clear(t);
    return err;
}

/* ==== small encoders ==== */

static inline void hf__put_text(hf_buf_t *b, const char *s, size_t n)
{
    hf_buf_put_u32(b, (uint32_t)n);
    hf_buf_append(b, s, n);
}

/* ==== the row encoder ==== */

/* Text of a string value without Avro C's trailing NUL. */
static bool hf__get_text(avro_value_t *v, const char **s, size_t *n)
{
    size_t size = 0;
    if (avro_value_get_string(v, s, &size) != 0)
        return false;
    if (size > 0 && (*s)[size - 1] == '\0')
        size--;
    *n = size;
    return true;
}

#define HF__SHAPE(...) (hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size, __VA_ARGS__), HF__ENC_SHAPE)
#define HF__DATA(state, ...)                                                                       \
    (memcpy(sqlstate, state, 6), hf_err_set(HF_ERR_INVALID, errstr, errstr_size, __VA_ARGS__),     \
     HF__ENC_DATA)

static hf__enc_t hf__encode_value(const hf__col_t *c, avro_value_t *v, hf_buf_t *out,
                                  char sqlstate[6], char *errstr, size_t errstr_size)
{
    avro_value_t branch;
    if (c->nullable) {
        if (avro_value_get_type(v) != AVRO_UNION || avro_value_get_current_branch(v, &branch) != 0)
            return HF__SHAPE("field %s: expected a union with a branch set", c->name);
        if (avro_value_get_type(&branch) == AVRO_NULL) {
            hf_buf_put_u32(out, UINT32_MAX); /* NULL */
            return HF__ENC_OK;
        }
        v = &branch;
    }
    const char *s;
    size_t n;
    int32_t i32;
    int64_t i64;
    switch (c->kind) {
    case HF__COL_TEXT:
        if (c->is_enum) {
            int idx;
            if (avro_value_get_enum(v, &idx) != 0)
                return HF__SHAPE("field %s: expected an enum", c->name);
            s = avro_schema_enum_get(avro_value_get_schema(v), idx);
            if (!s)
                return HF__SHAPE("field %s: enum index %d out of range", c->name, idx);
            n = strlen(s);
        } else if (!hf__get_text(v, &s, &n)) {
            return HF__SHAPE("field %s: expected a string", c->name);
        }
        if (n > INT32_MAX)
            return HF__DATA("54000", "field %s: string too long", c->name);
        hf__put_text(out, s, n);
        return HF__ENC_OK;
    case HF__COL_UUID: {
        unsigned char u[16];
        if (!hf__get_text(v, &s, &n))
            return HF__SHAPE("field %s: expected a string", c->name);
        if (!hf_uuid_parse(s, n, u))
            return HF__DATA("22P02", "field %s: invalid input syntax for type uuid: \"%.*s\"",
                            c->name, (int)(n > 40 ? 40 : n), s);
        hf_buf_put_u32(out, 16);
        hf_buf_append(out, u, 16);
        return HF__ENC_OK;
    }
    case HF__COL_INT4:
    case HF__COL_DATE:
        if (avro_value_get_int(v, &i32) != 0)
            return HF__SHAPE("field %s: expected an int", c->name);
        if (c->kind == HF__COL_DATE) {
            /* PostgreSQL dates run from 4714 BC to 5874897 AD. */
            if (i32 < -2440588 || i32 >= 2147483494 - 2440588)
                return HF__DATA("22008", "field %s: date out of range: %d", c->name, (int)i32);
            i32 -= HF__PG_EPOCH_DAYS;
        }
        hf_buf_put_u32(out, 4);
        hf_buf_put_u32(out, (uint32_t)i32); /* two's complement */
        return HF__ENC_OK;
    case HF__COL_INT8:
    case HF__COL_TSTZ:
        if (avro_value_get_long(v, &i64) != 0)
            return HF__SHAPE("field %s: expected a long", c->name);
        if (c->kind == HF__COL_TSTZ) {
            /* PostgreSQL timestamps start at 4714-11-24 BC; every int64 µs
             * value after that is within its range (294276 AD). */
            if (i64 < INT64_C(-210866803200000000))
                return HF__DATA("22008", "field %s: timestamp out of range: %lld", c->name,
                                (long long)i64);
            i64 -= HF__PG_EPOCH_US;
        }
        hf_buf_put_u32(out, 8);
        hf_buf_put_u64(out, (uint64_t)i64);
        return HF__ENC_OK;
    case HF__COL_BOOL: {
        int bv;
        if (avro_value_get_boolean(v, &bv) != 0)
            return HF__SHAPE("field %s: expected a boolean", c->name);
        unsigned char byte = bv ? 1 : 0;
        hf_buf_put_u32(out, 1);
        hf_buf_append(out, &byte, 1);
        return HF__ENC_OK;
    }
    case HF__COL_FLOAT8: {
        double d;
        if (avro_value_get_double(v, &d) != 0)
            return HF__SHAPE("field %s: expected a double", c->name);
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        hf_buf_put_u32(out, 8);
        hf_buf_put_u64(out, bits);
        return HF__ENC_OK;
    }
    case HF__COL_TEXTARR: {
        size_t count;
        if (avro_value_get_type(v) != AVRO_ARRAY || avro_value_get_size(v, &count) != 0)
            return HF__SHAPE("field %s: expected an array", c->name);
        size_t len_at = out->len;
        hf_buf_put_u32(out, 0); /* patched below */
        hf_buf_put_u32(out, count ? 1 : 0);
        hf_buf_put_u32(out, 0);
        hf_buf_put_u32(out, 25); /* text */
        if (count) {
            if (count > INT32_MAX / 8)
                return HF__DATA("54000", "field %s: array too long", c->name);
            hf_buf_put_u32(out, (uint32_t)count);
            hf_buf_put_u32(out, 1);
        }
        for (size_t i = 0; i < count; i++) {
            avro_value_t elem;
            if (avro_value_get_by_index(v, i, &elem, NULL) != 0 || !hf__get_text(&elem, &s, &n))
                return HF__SHAPE("field %s: expected an array of strings", c->name);
            hf__put_text(out, s, n);
        }
        size_t total = out->len - len_at - 4;
        if (total > INT32_MAX)
            return HF__DATA("54000", "field %s: array too large", c->name);
        hf_be32_store(out->data + len_at, (uint32_t)total);
        return HF__ENC_OK;
    }
    }
    return HF__SHAPE("field %s: unknown column kind", c->name);
}

hf__enc_t hf__wh_encode_row(const hf__table_t *t, avro_value_t *v, int32_t event_date,
                            int32_t kafka_partition, int64_t kafka_offset, hf_buf_t *out,
                            char sqlstate[6], char *errstr, size_t errstr_size)
{
    size_t start = out->len;
    size_t count = 0;
    sqlstate[0] = '\0';
    if (avro_value_get_type(v) != AVRO_RECORD || avro_value_get_size(v, &count) != 0 ||
        count != t->nfields)
        return HF__SHAPE("%s: value has %zu fields, the table's schema v%d has %zu",
                         t->et->snake, count, t->version, t->nfields);

    /* PostgreSQL dates run from 4714 BC to 5874897 AD (as HF__COL_DATE). */
    if (event_date < -2440588 || event_date >= 2147483494 - 2440588)
        return HF__DATA("22008", "%s: event_date %d is out of range", t->et->snake,
                        (int)event_date);

    hf_buf_reserve(out, 16 + t->nfields * 24);
    hf_buf_put_u16(out, (uint16_t)(t->nfields + 3));
    hf_buf_put_u32(out, 4);
    hf_buf_put_u32(out, (uint32_t)(event_date - HF__PG_EPOCH_DAYS));
    avro_value_t f;
    for (size_t i = 0; i < t->nfields; i++) {
        if (avro_value_get_by_index(v, i, &f, NULL) != 0) {
            out->len = start;
            return HF__SHAPE("%s: no field %zu", t->et->snake, i);
        }
        hf__enc_t r = hf__encode_value(&t->fields[i], &f, out, sqlstate, errstr, errstr_size);
        if (r != HF__ENC_OK) {
            out->len = start;
            return r;
        }
    }
    hf_buf_put_u32(out, 4);
    hf_buf_put_u32(out, (uint32_t)kafka_partition);
    hf_buf_put_u32(out, 8);
    hf_buf_put_u64(out, (uint64_t)kafka_offset);
    return HF__ENC_OK;
}
