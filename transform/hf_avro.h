/*
 * hf_avro — hemoflow's own view of an Avro schema, next to Avro C's.
 *
 * Avro C parses schemas and encodes values well, but it does not expose
 * field defaults, enum defaults, the Parsing Canonical Form or the
 * fingerprint, and its schema resolution has no defaults at all. This
 * module owns what the wire format needs on top of it:
 *
 *   - a read-only schema tree parsed from the schema JSON with jansson
 *     (names folded into fullnames, references resolved to the one node,
 *     logical types kept),
 *   - the Parsing Canonical Form (Avro 1.11 specification) and the
 *     CRC-64-AVRO Rabin fingerprint of it,
 *   - the schema-resolution compatibility rules of the specification, used
 *     by `hemoflow schemas check` and by the catalogue before it compiles a
 *     decoding plan.
 *
 * Everything here is immutable after parsing and safe to share between
 * threads.
 */
#ifndef HF_AVRO_H
#define HF_AVRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_err.h"
#include "hf_mem.h"

struct json_t; /* jansson */

/* ==== fingerprint ==== */

/* CRC-64-AVRO (64-bit Rabin fingerprint, EMPTY = 0xc15d213aa4d7a795) of n
 * bytes. On the wire it travels little-endian; in text it is printed as the
 * uint64 in hex (%016llx). */
#define HF_AVRO_CRC64_EMPTY 0xc15d213aa4d7a795ULL
uint64_t hf_avro_crc64(const void *p, size_t n);

/* ==== schema tree ==== */

typedef enum hf_avro_type_e {
    HF_AVRO_NULL,
    HF_AVRO_BOOLEAN,
    HF_AVRO_INT,
    HF_AVRO_LONG,
    HF_AVRO_FLOAT,
    HF_AVRO_DOUBLE,
    HF_AVRO_BYTES,
    HF_AVRO_STRING,
    HF_AVRO_RECORD, /* also "error" */
    HF_AVRO_ENUM,
    HF_AVRO_ARRAY,
    HF_AVRO_MAP,
    HF_AVRO_UNION,
    HF_AVRO_FIXED
} hf_avro_type_t;

typedef struct hf_avro_node_s hf_avro_node_t;

typedef struct hf_avro_field_s {
    const char *name;
    const hf_avro_node_t *type;
    const struct json_t *def; /* the "default" JSON value, NULL when absent */
} hf_avro_field_t;

/* A schema node. The tree is a plain read-only struct rather than an opaque
 * type because resolution and decoding walk it on hot paths; every pointer
 * in it is owned by the hf_avro_schema_t it came from. A named type that is
 * referenced again is the same node (so recursive schemas are cyclic). */
struct hf_avro_node_s {
    hf_avro_type_t type;
    const char *fullname;                  /* record, enum, fixed: "ns.Name"; else NULL */
    const char *name;                      /* unqualified part of fullname; else NULL */
    size_t n;                              /* number of fields, symbols or branches */
    const hf_avro_field_t *fields;         /* record */
    const char *const *symbols;            /* enum */
    int enum_default;                      /* enum: index into symbols, -1 when none */
    const hf_avro_node_t *const *branches; /* union */
    const hf_avro_node_t *items;           /* array items, map values */
    size_t fixed_size;                     /* fixed */
    size_t min_size;                       /* fewest bytes any encoded value takes */
    /* The "logicalType" attribute as written ("uuid", "date",
     * "timestamp-micros", "decimal", ...), NULL when absent. Kept for the
     * stages that map values to columns; it changes neither the encoding
     * nor the canonical form, and it is not validated (the specification
     * has a reader fall back to the underlying type for one it does not
     * know). A primitive with a logical type is a node of its own. */
    const char *logical_type;
    int precision; /* decimal: "precision", 0 when absent or not an int */
    int scale;     /* decimal: "scale", 0 when absent or not an int */
};

typedef struct hf_avro_schema_s hf_avro_schema_t;

/* Parse schema JSON (len bytes, need not be NUL-terminated). Checks what the
 * tree and the canonical form need: known types, valid and unique names,
 * resolvable references, unique fields and symbols, union rules, an enum
 * default that is one of the symbols, and field defaults that match their
 * types. NULL and errstr filled on failure. Free with hf_avro_schema_destroy. */
hf_avro_schema_t *hf_avro_schema_parse(const char *json, size_t len, char *errstr,
                                       size_t errstr_size);
void hf_avro_schema_destroy(hf_avro_schema_t *s); /* NULL is a no-op */

/* Root node; owned by s. */
const hf_avro_node_t *hf_avro_schema_root(const hf_avro_schema_t *s);
/* Parsing Canonical Form of s; owned by s (computed at parse time). */
const char *hf_avro_schema_pcf(const hf_avro_schema_t *s);
/* hf_avro_crc64 of the canonical form. */
uint64_t hf_avro_schema_fingerprint(const hf_avro_schema_t *s);

/* "null", "record", ... Never NULL. */
const char *hf_avro_type_name(hf_avro_type_t t);

/* ==== canonical form ==== */

/* Parsing Canonical Form of the schema JSON. Unlike hf_avro_schema_parse it
 * does not validate field defaults, which the canonical form strips. Returns a new NUL-terminated
 * string the caller frees with hf_free(), or NULL with errstr filled. */
char *hf_avro_pcf(const char *json, size_t len, char *errstr, size_t errstr_size);

/* ==== resolution rules ==== */

/* Can data written with `writer` be read with `reader` under the Avro
 * specification's resolution rules (names match by unqualified name; reader
 * fields absent from the writer need a default; int->long->float->double and
 * string<->bytes promotions; writer enum symbols absent from the reader need
 * a reader default; every writer union branch must resolve)? Appends one line
 * per problem, "  - <where>: <why>\n", to `why` (which may be NULL) and
 * returns the number of problems (0 = compatible). */
size_t hf_avro_check(const hf_avro_node_t *writer, const hf_avro_node_t *reader, hf_buf_t *why);

/* True when a value written as `w` can be read as `r` at this level alone
 * (same type and unqualified name, or a promotion); used to pick union
 * branches. exact=true accepts no promotion. */
bool hf_avro_matches(const hf_avro_node_t *w, const hf_avro_node_t *r, bool exact);

/* True when the JSON value `def` is a valid default for node n (for a union,
 * a value of its first branch). */
bool hf_avro_default_valid(const hf_avro_node_t *n, const struct json_t *def);

#endif /* HF_AVRO_H */
