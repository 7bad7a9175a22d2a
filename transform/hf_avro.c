/*
 * hf_avro — the schema tree: parsing the schema JSON with jansson into
 * read-only nodes (names folded into fullnames, references resolved to the
 * one node), field and enum defaults, and the schema's lifecycle. The
 * canonical form and fingerprint are in hf_avro_canon.c, the resolution
 * rules in hf_avro_compat.c.
 *
 * The tree is built once per schema file and never changes; nodes, names and
 * arrays are allocated through one list in the schema so that destroy is a
 * single loop and recursive (cyclic) schemas need no reference counting.
 */
#include "hf_avro.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hf_avro_int.h"

/* ==== schema state ==== */

struct hf_avro_schema_s {
    json_t *json; /* parsed document; field defaults point into it */
    const hf_avro_node_t *root;
    char *pcf; /* canonical form, NUL-terminated */
    uint64_t fingerprint;
    void **allocs; /* every node, name and array of this schema */
    size_t nallocs, allocs_cap;
    hf_avro_node_t **named; /* defined named types, for references */
    size_t nnamed, named_cap;
};

/* Parse context: where errors go. */
typedef struct hf__pctx_s {
    hf_avro_schema_t *s;
    char *errstr;
    size_t errstr_size;
    bool failed;
} hf__pctx_t;

static void *hf__own(hf_avro_schema_t *s, void *p)
{
    if (s->nallocs == s->allocs_cap) {
        s->allocs_cap = s->allocs_cap ? s->allocs_cap * 2 : 32;
        s->allocs = hf_realloc(s->allocs, s->allocs_cap * sizeof(void *));
    }
    s->allocs[s->nallocs++] = p;
    return p;
}

static void *hf__alloc(hf_avro_schema_t *s, size_t n)
{
    return hf__own(s, hf_calloc(1, n ? n : 1));
}

static void hf__fail(hf__pctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hf__fail(hf__pctx_t *c, const char *fmt, ...)
{
    if (c->failed)
        return; /* keep the first, innermost reason */
    c->failed = true;
    if (c->errstr && c->errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errstr, c->errstr_size, fmt, ap);
        va_end(ap);
    }
}

/* Primitive nodes are shared, immutable constants. */
#define HF__PRIM(t, min) {.type = (t), .enum_default = -1, .min_size = (min)}
static const hf_avro_node_t hf__prims[] = {
    HF__PRIM(HF_AVRO_NULL, 0),  HF__PRIM(HF_AVRO_BOOLEAN, 1), HF__PRIM(HF_AVRO_INT, 1),
    HF__PRIM(HF_AVRO_LONG, 1),  HF__PRIM(HF_AVRO_FLOAT, 4),   HF__PRIM(HF_AVRO_DOUBLE, 8),
    HF__PRIM(HF_AVRO_BYTES, 1), HF__PRIM(HF_AVRO_STRING, 1),
};

static const char *const hf__type_names[] = {
    "null",   "boolean", "int",  "long",  "float", "double", "bytes",
    "string", "record",  "enum", "array", "map",   "union",  "fixed",
};

const char *hf_avro_type_name(hf_avro_type_t t)
{
    if ((unsigned)t < sizeof(hf__type_names) / sizeof(hf__type_names[0]))
        return hf__type_names[t];
    return "?";
}

static const hf_avro_node_t *hf__primitive(const char *name)
{
    for (size_t i = 0; i < sizeof(hf__prims) / sizeof(hf__prims[0]); i++)
        if (strcmp(hf__type_names[i], name) == 0)
            return &hf__prims[i];
    return NULL;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static bool hf__valid_simple_name(const char *p, size_t n)
{
    if (n == 0 || !((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z') || p[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char ch = p[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return true;
}

/* Dot-separated simple names; "" is the null namespace when allow_empty. */
static bool hf__valid_dotted(const char *s, bool allow_empty)
{
    if (!*s)
        return allow_empty;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (!hf__valid_simple_name(s, n))
            return false;
        if (!dot)
            return true;
        s = dot + 1;
    }
}

static hf_avro_node_t *hf__lookup(const hf_avro_schema_t *s, const char *fullname)
{
    for (size_t i = 0; i < s->nnamed; i++)
        if (strcmp(s->named[i]->fullname, fullname) == 0)
            return s->named[i];
    return NULL;
}

/* A reference by name: fullname if dotted, else the enclosing namespace
 * first and the null namespace second (as the Java parser does). */
static const hf_avro_node_t *hf__resolve_ref(hf__pctx_t *c, const char *name, const char *ns)
{
    hf_avro_node_t *n = NULL;
    if (!strchr(name, '.') && ns && *ns) {
        char *full = hf_asprintf("%s.%s", ns, name);
        n = hf__lookup(c->s, full);
        hf_free(full);
    }
    if (!n)
        n = hf__lookup(c->s, name);
    if (!n)
        hf__fail(c, "unknown type '%s'", name);
    return n;
}

static const hf_avro_node_t *hf__parse_node(hf__pctx_t *c, json_t *j, const char *ns, int depth);

static int hf__int_attr(const json_t *j, const char *key)
{
    const json_t *v = json_object_get(j, key);
    json_int_t i = json_is_integer(v) ? json_integer_value(v) : 0;
    return i >= INT32_MIN && i <= INT32_MAX ? (int)i : 0;
}

/* Record the logical type of object schema j on n; the strings stay in the
 * schema's JSON document. */
static void hf__logical(const json_t *j, hf_avro_node_t *n)
{
    const char *lt = json_string_value(json_object_get(j, "logicalType"));
    if (!lt)
        return;
    n->logical_type = lt;
    if (strcmp(lt, "decimal") == 0) {
        n->precision = hf__int_attr(j, "precision");
        n->scale = hf__int_attr(j, "scale");
    }
}

/* Name, namespace and registration shared by record, enum and fixed.
 * *ns_out is the namespace the type's children inherit (owned by s). */
static hf_avro_node_t *hf__new_named(hf__pctx_t *c, json_t *j, hf_avro_type_t t, const char *ns,
                                     const char **ns_out)
{
    json_t *jn = json_object_get(j, "name");
    if (!json_is_string(jn)) {
        hf__fail(c, "%s without a \"name\" string", hf_avro_type_name(t));
        return NULL;
    }
    const char *name = json_string_value(jn);
    const char *dot = strrchr(name, '.');
    char *full, *space;
    if (dot) {
        full = hf_strdup(name);
        space = hf_strndup(name, (size_t)(dot - name));
    } else {
        json_t *jns = json_object_get(j, "namespace");
        if (jns && !json_is_string(jns) && !json_is_null(jns)) {
            hf__fail(c, "%s %s: \"namespace\" must be a string", hf_avro_type_name(t), name);
            return NULL;
        }
        space = hf_strdup(json_is_string(jns) ? json_string_value(jns) : (ns ? ns : ""));
        full = *space ? hf_asprintf("%s.%s", space, name) : hf_strdup(name);
    }
    hf__own(c->s, full);
    hf__own(c->s, space);
    if (!hf__valid_dotted(full, false) || !hf__valid_dotted(space, true)) {
        hf__fail(c, "invalid name '%s'", full);
        return NULL;
    }
    if (hf__primitive(full)) {
        hf__fail(c, "'%s' is a primitive type name and cannot be redefined", full);
        return NULL;
    }
    if (hf__lookup(c->s, full)) {
        hf__fail(c, "type '%s' is defined twice", full);
        return NULL;
    }
    hf_avro_node_t *n = hf__alloc(c->s, sizeof(*n));
    n->type = t;
    n->fullname = full;
    n->name = strrchr(full, '.') ? strrchr(full, '.') + 1 : full;
    n->enum_default = -1;
    hf__logical(j, n);
    if (c->s->nnamed == c->s->named_cap) {
        c->s->named_cap = c->s->named_cap ? c->s->named_cap * 2 : 16;
        c->s->named = hf_realloc(c->s->named, c->s->named_cap * sizeof(*c->s->named));
    }
    c->s->named[c->s->nnamed++] = n;
    *ns_out = space;
    return n;
}

static const hf_avro_node_t *hf__parse_record(hf__pctx_t *c, json_t *j, const char *ns, int depth)
{
    const char *inner;
    hf_avro_node_t *n = hf__new_named(c, j, HF_AVRO_RECORD, ns, &inner);
    if (!n)
        return NULL;
    json_t *jf = json_object_get(j, "fields");
    if (!json_is_array(jf)) {
        hf__fail(c, "record %s: \"fields\" must be an array", n->fullname);
        return NULL;
    }
    size_t nf = json_array_size(jf);
    hf_avro_field_t *fields = hf__alloc(c->s, nf * sizeof(*fields));
    /* Register the fields before parsing their types so that a recursive
     * reference sees a complete field count (min_size is computed below). */
    n->fields = fields;
    n->n = nf;
    size_t min = 0;
    for (size_t i = 0; i < nf; i++) {
        json_t *f = json_array_get(jf, i);
        json_t *fname = json_object_get(f, "name");
        if (!json_is_object(f) || !json_is_string(fname)) {
            hf__fail(c, "record %s: field %zu has no \"name\" string", n->fullname, i);
            return NULL;
        }
        const char *nm = json_string_value(fname);
        if (!hf__valid_simple_name(nm, strlen(nm))) {
            hf__fail(c, "record %s: invalid field name '%s'", n->fullname, nm);
            return NULL;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(fields[k].name, nm) == 0) {
                hf__fail(c, "record %s: field '%s' appears twice", n->fullname, nm);
                return NULL;
            }
        fields[i].name = nm;
        json_t *ft = json_object_get(f, "type");
        if (!ft) {
            hf__fail(c, "record %s: field '%s' has no \"type\"", n->fullname, nm);
            return NULL;
        }
        fields[i].type = hf__parse_node(c, ft, inner, depth + 1);
        if (!fields[i].type) {
            if (c->errstr && c->errstr_size && c->failed) {
                char tmp[512];
                snprintf(tmp, sizeof(tmp), "%s", c->errstr);
                snprintf(c->errstr, c->errstr_size, "field %s.%s: %s", n->name, nm, tmp);
            }
            return NULL;
        }
        fields[i].def = json_object_get(f, "default");
        min += fields[i].type->min_size;
    }
    n->min_size = min;
    return n;
}

static const hf_avro_node_t *hf__parse_enum(hf__pctx_t *c, json_t *j, const char *ns)
{
    const char *inner;
    hf_avro_node_t *n = hf__new_named(c, j, HF_AVRO_ENUM, ns, &inner);
    if (!n)
        return NULL;
    json_t *js = json_object_get(j, "symbols");
    if (!json_is_array(js)) {
        hf__fail(c, "enum %s: \"symbols\" must be an array", n->fullname);
        return NULL;
    }
    size_t ns_ = json_array_size(js);
    const char **syms = hf__alloc(c->s, ns_ * sizeof(*syms));
    for (size_t i = 0; i < ns_; i++) {
        json_t *sy = json_array_get(js, i);
        const char *v = json_string_value(sy);
        if (!v || !hf__valid_simple_name(v, strlen(v))) {
            hf__fail(c, "enum %s: symbol %zu is not a valid name", n->fullname, i);
            return NULL;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(syms[k], v) == 0) {
                hf__fail(c, "enum %s: symbol '%s' appears twice", n->fullname, v);
                return NULL;
            }
        syms[i] = v;
    }
    n->symbols = syms;
    n->n = ns_;
    n->min_size = 1;
    json_t *jd = json_object_get(j, "default");
    if (jd) {
        const char *d = json_string_value(jd);
        for (size_t i = 0; d && i < ns_; i++)
            if (strcmp(syms[i], d) == 0)
                n->enum_default = (int)i;
        if (n->enum_default < 0) {
            hf__fail(c, "enum %s: default is not one of its symbols", n->fullname);
            return NULL;
        }
    }
    return n;
}

static const hf_avro_node_t *hf__parse_fixed(hf__pctx_t *c, json_t *j, const char *ns)
{
    const char *inner;
    hf_avro_node_t *n = hf__new_named(c, j, HF_AVRO_FIXED, ns, &inner);
    if (!n)
        return NULL;
    json_t *sz = json_object_get(j, "size");
    if (!json_is_integer(sz) || json_integer_value(sz) < 0 ||
        json_integer_value(sz) > (json_int_t)INT32_MAX) {
        hf__fail(c, "fixed %s: \"size\" must be a non-negative integer", n->fullname);
        return NULL;
    }
    n->fixed_size = (size_t)json_integer_value(sz);
    n->min_size = n->fixed_size;
    return n;
}

static const hf_avro_node_t *hf__parse_union(hf__pctx_t *c, json_t *j, const char *ns, int depth)
{
    size_t nb = json_array_size(j);
    const hf_avro_node_t **br = hf__alloc(c->s, nb * sizeof(*br));
    hf_avro_node_t *n = hf__alloc(c->s, sizeof(*n));
    n->type = HF_AVRO_UNION;
    n->enum_default = -1;
    n->min_size = 1;
    for (size_t i = 0; i < nb; i++) {
        br[i] = hf__parse_node(c, json_array_get(j, i), ns, depth + 1);
        if (!br[i])
            return NULL;
        if (br[i]->type == HF_AVRO_UNION) {
            hf__fail(c, "a union may not contain a union directly");
            return NULL;
        }
        for (size_t k = 0; k < i; k++) {
            bool named = br[i]->fullname != NULL;
            if (br[k]->type == br[i]->type &&
                (!named || strcmp(br[k]->fullname, br[i]->fullname) == 0)) {
                hf__fail(c, "union has two branches of type %s",
                         named ? br[i]->fullname : hf_avro_type_name(br[i]->type));
                return NULL;
            }
        }
    }
    n->branches = br;
    n->n = nb;
    return n;
}

static const hf_avro_node_t *hf__parse_node(hf__pctx_t *c, json_t *j, const char *ns, int depth)
{
    if (depth > 128) {
        hf__fail(c, "schema nested too deeply");
        return NULL;
    }
    if (json_is_string(j)) {
        const hf_avro_node_t *p = hf__primitive(json_string_value(j));
        return p ? p : hf__resolve_ref(c, json_string_value(j), ns);
    }
    if (json_is_array(j))
        return hf__parse_union(c, j, ns, depth);
    if (!json_is_object(j)) {
        hf__fail(c, "a schema must be a string, an object or an array");
        return NULL;
    }
    json_t *jt = json_object_get(j, "type");
    if (json_is_object(jt) || json_is_array(jt))
        return hf__parse_node(c, jt, ns, depth + 1);
    const char *t = json_string_value(jt);
    if (!t) {
        hf__fail(c, "object schema without a \"type\"");
        return NULL;
    }
    const hf_avro_node_t *p = hf__primitive(t);
    if (p && !json_is_string(json_object_get(j, "logicalType")))
        return p; /* other attributes do not change the encoding */
    if (p) {
        hf_avro_node_t *n = hf__alloc(c->s, sizeof(*n));
        *n = *p; /* encodes as the primitive; only the logical type differs */
        hf__logical(j, n);
        return n;
    }
    if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0)
        return hf__parse_record(c, j, ns, depth);
    if (strcmp(t, "enum") == 0)
        return hf__parse_enum(c, j, ns);
    if (strcmp(t, "fixed") == 0)
        return hf__parse_fixed(c, j, ns);
    if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
        bool arr = t[0] == 'a';
        json_t *ji = json_object_get(j, arr ? "items" : "values");
        if (!ji) {
            hf__fail(c, "%s without \"%s\"", t, arr ? "items" : "values");
            return NULL;
        }
        hf_avro_node_t *n = hf__alloc(c->s, sizeof(*n));
        n->type = arr ? HF_AVRO_ARRAY : HF_AVRO_MAP;
        n->enum_default = -1;
        n->min_size = 1;
        hf__logical(j, n);
        n->items = hf__parse_node(c, ji, ns, depth + 1);
        return n->items ? n : NULL;
    }
    return hf__resolve_ref(c, t, ns);
}

/* ==== defaults ==== */

/* Codepoints of a UTF-8 string, all <= 255 (bytes/fixed defaults); returns
 * the count or -1. */
static long hf__latin1_len(const char *s, size_t n)
{
    long count = 0;
    for (size_t i = 0; i < n; count++) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x80)
            i++;
        else if ((b == 0xc2 || b == 0xc3) && i + 1 < n)
            i += 2;
        else
            return -1;
    }
    return count;
}

bool hf_avro_default_valid(const hf_avro_node_t *n, const json_t *def)
{
    if (!n || !def)
        return false;
    switch (n->type) {
    case HF_AVRO_NULL:
        return json_is_null(def);
    case HF_AVRO_BOOLEAN:
        return json_is_boolean(def);
    case HF_AVRO_INT:
        return json_is_integer(def) && json_integer_value(def) >= INT32_MIN &&
               json_integer_value(def) <= INT32_MAX;
    case HF_AVRO_LONG:
        return json_is_integer(def);
    case HF_AVRO_FLOAT:
    case HF_AVRO_DOUBLE:
        return json_is_number(def);
    case HF_AVRO_STRING:
        return json_is_string(def);
    case HF_AVRO_BYTES:
        return json_is_string(def) &&
               hf__latin1_len(json_string_value(def), json_string_length(def)) >= 0;
    case HF_AVRO_FIXED:
        return json_is_string(def) &&
               hf__latin1_len(json_string_value(def), json_string_length(def)) ==
                   (long)n->fixed_size;
    case HF_AVRO_ENUM:
        if (!json_is_string(def))
            return false;
        for (size_t i = 0; i < n->n; i++)
            if (strcmp(n->symbols[i], json_string_value(def)) == 0)
                return true;
        return false;
    case HF_AVRO_ARRAY: {
        if (!json_is_array(def))
            return false;
        for (size_t i = 0; i < json_array_size(def); i++)
            if (!hf_avro_default_valid(n->items, json_array_get(def, i)))
                return false;
        return true;
    }
    case HF_AVRO_MAP: {
        const char *k;
        json_t *v;
        if (!json_is_object(def))
            return false;
        json_object_foreach((json_t *)def, k, v)
        {
            if (!hf_avro_default_valid(n->items, v))
                return false;
        }
        return true;
    }
    case HF_AVRO_RECORD:
        if (!json_is_object(def))
            return false;
        for (size_t i = 0; i < n->n; i++) {
            json_t *v = json_object_get(def, n->fields[i].name);
            if (v ? !hf_avro_default_valid(n->fields[i].type, v) : !n->fields[i].def)
                return false;
        }
        return true;
    case HF_AVRO_UNION:
        return n->n > 0 && hf_avro_default_valid(n->branches[0], def);
    }
    return false;
}

/* ==== schema lifecycle ==== */

static bool hf__check_defaults(hf__pctx_t *c)
{
    for (size_t i = 0; i < c->s->nnamed; i++) {
        const hf_avro_node_t *n = c->s->named[i];
        if (n->type != HF_AVRO_RECORD)
            continue;
        for (size_t f = 0; f < n->n; f++)
            if (n->fields[f].def && !hf_avro_default_valid(n->fields[f].type, n->fields[f].def)) {
                hf__fail(c, "field %s.%s: default does not match the field's type%s", n->name,
                         n->fields[f].name,
                         n->fields[f].type->type == HF_AVRO_UNION
                             ? " (a union's default must match its first branch)"
                             : "");
                return false;
            }
    }
    return true;
}

hf_avro_schema_t *hf__schema_parse(const char *json, size_t len, bool check_defaults,
                                   char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *doc =
        json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!doc) {
        hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size, "invalid JSON at line %d column %d: %s",
                   jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    hf_avro_schema_t *s = hf_calloc(1, sizeof(*s));
    s->json = doc;
    hf__pctx_t c = {.s = s, .errstr = errstr, .errstr_size = errstr_size};
    s->root = hf__parse_node(&c, doc, "", 0);
    if (!s->root || (check_defaults && !hf__check_defaults(&c))) {
        hf__fail(&c, "invalid schema");
        hf_avro_schema_destroy(s);
        return NULL;
    }
    s->pcf = hf__pcf_string(s->root);
    s->fingerprint = hf_avro_crc64(s->pcf, strlen(s->pcf));
    return s;
}

hf_avro_schema_t *hf_avro_schema_parse(const char *json, size_t len, char *errstr,
                                       size_t errstr_size)
{
    return hf__schema_parse(json, len, true, errstr, errstr_size);
}

void hf_avro_schema_destroy(hf_avro_schema_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nallocs; i++)
        hf_free(s->allocs[i]);
    hf_free(s->allocs);
    hf_free(s->named);
    hf_free(s->pcf);
    json_decref(s->json);
    hf_free(s);
}

const hf_avro_node_t *hf_avro_schema_root(const hf_avro_schema_t *s)
{
    return s->root;
}

const char *hf_avro_schema_pcf(const hf_avro_schema_t *s)
{
    return s->pcf;
}

uint64_t hf_avro_schema_fingerprint(const hf_avro_schema_t *s)
{
    return s->fingerprint;
}
