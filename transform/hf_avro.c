/*
 * hf_avro — schema tree, Parsing Canonical Form, CRC-64-AVRO fingerprint and
 * the resolution rules of the Avro 1.11 specification, over jansson.
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

/* ==== CRC-64-AVRO ==== */

/* fp_table[i]: eight shift/xor steps of i against EMPTY, as in the
 * specification's initFPTable(); a literal so no mutable state is needed. */
static const uint64_t fp_table[256] = {
    0x0000000000000000ULL, 0x2cf1cba6b75351faULL, 0x59e3974d6ea6a3f4ULL, 0x75125cebd9f5f20eULL,
    0xb3c72e9add4d47e8ULL, 0x9f36e53c6a1e1612ULL, 0xea24b9d7b3ebe41cULL, 0xc6d5727104b8b5e6ULL,
    0xe5341f40f335c0fbULL, 0xc9c5d4e644669101ULL, 0xbcd7880d9d93630fULL, 0x902643ab2ac032f5ULL,
    0x56f331da2e788713ULL, 0x7a02fa7c992bd6e9ULL, 0x0f10a69740de24e7ULL, 0x23e16d31f78d751dULL,
    0x48d27cf4afc4ceddULL, 0x6423b75218979f27ULL, 0x1131ebb9c1626d29ULL, 0x3dc0201f76313cd3ULL,
    0xfb15526e72898935ULL, 0xd7e499c8c5dad8cfULL, 0xa2f6c5231c2f2ac1ULL, 0x8e070e85ab7c7b3bULL,
    0xade663b45cf10e26ULL, 0x8117a812eba25fdcULL, 0xf405f4f93257add2ULL, 0xd8f43f5f8504fc28ULL,
    0x1e214d2e81bc49ceULL, 0x32d0868836ef1834ULL, 0x47c2da63ef1aea3aULL, 0x6b3311c55849bbc0ULL,
    0x91a4f9e95f899dbaULL, 0xbd55324fe8dacc40ULL, 0xc8476ea4312f3e4eULL, 0xe4b6a502867c6fb4ULL,
    0x2263d77382c4da52ULL, 0x0e921cd535978ba8ULL, 0x7b80403eec6279a6ULL, 0x57718b985b31285cULL,
    0x7490e6a9acbc5d41ULL, 0x58612d0f1bef0cbbULL, 0x2d7371e4c21afeb5ULL, 0x0182ba427549af4fULL,
    0xc757c83371f11aa9ULL, 0xeba60395c6a24b53ULL, 0x9eb45f7e1f57b95dULL, 0xb24594d8a804e8a7ULL,
    0xd976851df04d5367ULL, 0xf5874ebb471e029dULL, 0x809512509eebf093ULL, 0xac64d9f629b8a169ULL,
    0x6ab1ab872d00148fULL, 0x464060219a534575ULL, 0x33523cca43a6b77bULL, 0x1fa3f76cf4f5e681ULL,
    0x3c429a5d0378939cULL, 0x10b351fbb42bc266ULL, 0x65a10d106dde3068ULL, 0x4950c6b6da8d6192ULL,
    0x8f85b4c7de35d474ULL, 0xa3747f616966858eULL, 0xd666238ab0937780ULL, 0xfa97e82c07c0267aULL,
    0xa1f3b1a7f6bc745fULL, 0x8d027a0141ef25a5ULL, 0xf81026ea981ad7abULL, 0xd4e1ed4c2f498651ULL,
    0x12349f3d2bf133b7ULL, 0x3ec5549b9ca2624dULL, 0x4bd7087045579043ULL, 0x6726c3d6f204c1b9ULL,
    0x44c7aee70589b4a4ULL, 0x68366541b2dae55eULL, 0x1d2439aa6b2f1750ULL, 0x31d5f20cdc7c46aaULL,
    0xf700807dd8c4f34cULL, 0xdbf14bdb6f97a2b6ULL, 0xaee31730b66250b8ULL, 0x8212dc9601310142ULL,
    0xe921cd535978ba82ULL, 0xc5d006f5ee2beb78ULL, 0xb0c25a1e37de1976ULL, 0x9c3391b8808d488cULL,
    0x5ae6e3c98435fd6aULL, 0x7617286f3366ac90ULL, 0x03057484ea935e9eULL, 0x2ff4bf225dc00f64ULL,
    0x0c15d213aa4d7a79ULL, 0x20e419b51d1e2b83ULL, 0x55f6455ec4ebd98dULL, 0x79078ef873b88877ULL,
    0xbfd2fc8977003d91ULL, 0x9323372fc0536c6bULL, 0xe6316bc419a69e65ULL, 0xcac0a062aef5cf9fULL,
    0x3057484ea935e9e5ULL, 0x1ca683e81e66b81fULL, 0x69b4df03c7934a11ULL, 0x454514a570c01bebULL,
    0x839066d47478ae0dULL, 0xaf61ad72c32bfff7ULL, 0xda73f1991ade0df9ULL, 0xf6823a3fad8d5c03ULL,
    0xd563570e5a00291eULL, 0xf9929ca8ed5378e4ULL, 0x8c80c04334a68aeaULL, 0xa0710be583f5db10ULL,
    0x66a47994874d6ef6ULL, 0x4a55b232301e3f0cULL, 0x3f47eed9e9ebcd02ULL, 0x13b6257f5eb89cf8ULL,
    0x788534ba06f12738ULL, 0x5474ff1cb1a276c2ULL, 0x2166a3f7685784ccULL, 0x0d976851df04d536ULL,
    0xcb421a20dbbc60d0ULL, 0xe7b3d1866cef312aULL, 0x92a18d6db51ac324ULL, 0xbe5046cb024992deULL,
    0x9db12bfaf5c4e7c3ULL, 0xb140e05c4297b639ULL, 0xc452bcb79b624437ULL, 0xe8a377112c3115cdULL,
    0x2e7605602889a02bULL, 0x0287cec69fdaf1d1ULL, 0x7795922d462f03dfULL, 0x5b64598bf17c5225ULL,
    0xc15d213aa4d7a795ULL, 0xedacea9c1384f66fULL, 0x98beb677ca710461ULL, 0xb44f7dd17d22559bULL,
    0x729a0fa0799ae07dULL, 0x5e6bc406cec9b187ULL, 0x2b7998ed173c4389ULL, 0x0788534ba06f1273ULL,
    0x24693e7a57e2676eULL, 0x0898f5dce0b13694ULL, 0x7d8aa9373944c49aULL, 0x517b62918e179560ULL,
    0x97ae10e08aaf2086ULL, 0xbb5fdb463dfc717cULL, 0xce4d87ade4098372ULL, 0xe2bc4c0b535ad288ULL,
    0x898f5dce0b136948ULL, 0xa57e9668bc4038b2ULL, 0xd06cca8365b5cabcULL, 0xfc9d0125d2e69b46ULL,
    0x3a487354d65e2ea0ULL, 0x16b9b8f2610d7f5aULL, 0x63abe419b8f88d54ULL, 0x4f5a2fbf0fabdcaeULL,
    0x6cbb428ef826a9b3ULL, 0x404a89284f75f849ULL, 0x3558d5c396800a47ULL, 0x19a91e6521d35bbdULL,
    0xdf7c6c14256bee5bULL, 0xf38da7b29238bfa1ULL, 0x869ffb594bcd4dafULL, 0xaa6e30fffc9e1c55ULL,
    0x50f9d8d3fb5e3a2fULL, 0x7c0813754c0d6bd5ULL, 0x091a4f9e95f899dbULL, 0x25eb843822abc821ULL,
    0xe33ef64926137dc7ULL, 0xcfcf3def91402c3dULL, 0xbadd610448b5de33ULL, 0x962caaa2ffe68fc9ULL,
    0xb5cdc793086bfad4ULL, 0x993c0c35bf38ab2eULL, 0xec2e50de66cd5920ULL, 0xc0df9b78d19e08daULL,
    0x060ae909d526bd3cULL, 0x2afb22af6275ecc6ULL, 0x5fe97e44bb801ec8ULL, 0x7318b5e20cd34f32ULL,
    0x182ba427549af4f2ULL, 0x34da6f81e3c9a508ULL, 0x41c8336a3a3c5706ULL, 0x6d39f8cc8d6f06fcULL,
    0xabec8abd89d7b31aULL, 0x871d411b3e84e2e0ULL, 0xf20f1df0e77110eeULL, 0xdefed65650224114ULL,
    0xfd1fbb67a7af3409ULL, 0xd1ee70c110fc65f3ULL, 0xa4fc2c2ac90997fdULL, 0x880de78c7e5ac607ULL,
    0x4ed895fd7ae273e1ULL, 0x62295e5bcdb1221bULL, 0x173b02b01444d015ULL, 0x3bcac916a31781efULL,
    0x60ae909d526bd3caULL, 0x4c5f5b3be5388230ULL, 0x394d07d03ccd703eULL, 0x15bccc768b9e21c4ULL,
    0xd369be078f269422ULL, 0xff9875a13875c5d8ULL, 0x8a8a294ae18037d6ULL, 0xa67be2ec56d3662cULL,
    0x859a8fdda15e1331ULL, 0xa96b447b160d42cbULL, 0xdc791890cff8b0c5ULL, 0xf088d33678abe13fULL,
    0x365da1477c1354d9ULL, 0x1aac6ae1cb400523ULL, 0x6fbe360a12b5f72dULL, 0x434ffdaca5e6a6d7ULL,
    0x287cec69fdaf1d17ULL, 0x048d27cf4afc4cedULL, 0x719f7b249309bee3ULL, 0x5d6eb082245aef19ULL,
    0x9bbbc2f320e25affULL, 0xb74a095597b10b05ULL, 0xc25855be4e44f90bULL, 0xeea99e18f917a8f1ULL,
    0xcd48f3290e9addecULL, 0xe1b9388fb9c98c16ULL, 0x94ab6464603c7e18ULL, 0xb85aafc2d76f2fe2ULL,
    0x7e8fddb3d3d79a04ULL, 0x527e16156484cbfeULL, 0x276c4afebd7139f0ULL, 0x0b9d81580a22680aULL,
    0xf10a69740de24e70ULL, 0xddfba2d2bab11f8aULL, 0xa8e9fe396344ed84ULL, 0x8418359fd417bc7eULL,
    0x42cd47eed0af0998ULL, 0x6e3c8c4867fc5862ULL, 0x1b2ed0a3be09aa6cULL, 0x37df1b05095afb96ULL,
    0x143e7634fed78e8bULL, 0x38cfbd924984df71ULL, 0x4ddde17990712d7fULL, 0x612c2adf27227c85ULL,
    0xa7f958ae239ac963ULL, 0x8b08930894c99899ULL, 0xfe1acfe34d3c6a97ULL, 0xd2eb0445fa6f3b6dULL,
    0xb9d81580a22680adULL, 0x9529de261575d157ULL, 0xe03b82cdcc802359ULL, 0xccca496b7bd372a3ULL,
    0x0a1f3b1a7f6bc745ULL, 0x26eef0bcc83896bfULL, 0x53fcac5711cd64b1ULL, 0x7f0d67f1a69e354bULL,
    0x5cec0ac051134056ULL, 0x701dc166e64011acULL, 0x050f9d8d3fb5e3a2ULL, 0x29fe562b88e6b258ULL,
    0xef2b245a8c5e07beULL, 0xc3daeffc3b0d5644ULL, 0xb6c8b317e2f8a44aULL, 0x9a3978b155abf5b0ULL,
};

uint64_t hf_avro_crc64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t fp = HF_AVRO_CRC64_EMPTY;
    for (size_t i = 0; i < n; i++)
        fp = (fp >> 8) ^ fp_table[(fp ^ b[i]) & 0xff];
    return fp;
}

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
#define HF__PRIM(t, min)                                                                           \
    {                                                                                              \
        t, NULL, NULL, 0, NULL, NULL, -1, NULL, NULL, 0, min                                       \
    }
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
    if (p)
        return p; /* logicalType and other attributes do not change the encoding */
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

/* ==== canonical form ==== */

typedef struct hf__pcf_s {
    hf_buf_t out;
    const hf_avro_node_t **seen; /* named types already written in full */
    size_t nseen;
} hf__pcf_t;

static void hf__puts(hf_buf_t *b, const char *s)
{
    hf_buf_append(b, s, strlen(s));
}

/* Names and symbols are [A-Za-z0-9_.] only, so no escaping is ever needed. */
static void hf__putq(hf_buf_t *b, const char *s)
{
    hf_buf_append(b, "\"", 1);
    hf__puts(b, s);
    hf_buf_append(b, "\"", 1);
}

static void hf__pcf_node(hf__pcf_t *p, const hf_avro_node_t *n)
{
    hf_buf_t *b = &p->out;
    if (n->fullname) {
        for (size_t i = 0; i < p->nseen; i++)
            if (p->seen[i] == n) {
                hf__putq(b, n->fullname);
                return;
            }
        p->seen = hf_realloc(p->seen, (p->nseen + 1) * sizeof(*p->seen));
        p->seen[p->nseen++] = n;
    }
    switch (n->type) {
    case HF_AVRO_RECORD:
        hf__puts(b, "{\"name\":");
        hf__putq(b, n->fullname);
        hf__puts(b, ",\"type\":\"record\",\"fields\":[");
        for (size_t i = 0; i < n->n; i++) {
            hf__puts(b, i ? ",{\"name\":" : "{\"name\":");
            hf__putq(b, n->fields[i].name);
            hf__puts(b, ",\"type\":");
            hf__pcf_node(p, n->fields[i].type);
            hf__puts(b, "}");
        }
        hf__puts(b, "]}");
        break;
    case HF_AVRO_ENUM:
        hf__puts(b, "{\"name\":");
        hf__putq(b, n->fullname);
        hf__puts(b, ",\"type\":\"enum\",\"symbols\":[");
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                hf__puts(b, ",");
            hf__putq(b, n->symbols[i]);
        }
        hf__puts(b, "]}");
        break;
    case HF_AVRO_FIXED: {
        char num[32];
        snprintf(num, sizeof(num), "%zu", n->fixed_size);
        hf__puts(b, "{\"name\":");
        hf__putq(b, n->fullname);
        hf__puts(b, ",\"type\":\"fixed\",\"size\":");
        hf__puts(b, num);
        hf__puts(b, "}");
        break;
    }
    case HF_AVRO_ARRAY:
    case HF_AVRO_MAP:
        hf__puts(b, n->type == HF_AVRO_ARRAY ? "{\"type\":\"array\",\"items\":"
                                             : "{\"type\":\"map\",\"values\":");
        hf__pcf_node(p, n->items);
        hf__puts(b, "}");
        break;
    case HF_AVRO_UNION:
        hf__puts(b, "[");
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                hf__puts(b, ",");
            hf__pcf_node(p, n->branches[i]);
        }
        hf__puts(b, "]");
        break;
    default:
        hf__putq(b, hf_avro_type_name(n->type));
        break;
    }
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

static hf_avro_schema_t *hf__schema_parse(const char *json, size_t len, bool check_defaults,
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
    hf__pcf_t p = {{0}, NULL, 0};
    hf__pcf_node(&p, s->root);
    hf_buf_append(&p.out, "", 1);
    s->pcf = (char *)p.out.data; /* the buffer's allocation becomes the string */
    hf_free(p.seen);
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

char *hf_avro_pcf(const char *json, size_t len, char *errstr, size_t errstr_size)
{
    /* Defaults are stripped from the canonical form, so a bad one does not
     * stop us from computing it (the Avro project's case 026 has one). */
    hf_avro_schema_t *s = hf__schema_parse(json, len, false, errstr, errstr_size);
    if (!s)
        return NULL;
    char *out = hf_strdup(s->pcf);
    hf_avro_schema_destroy(s);
    return out;
}

/* ==== resolution rules ==== */

bool hf_avro_matches(const hf_avro_node_t *w, const hf_avro_node_t *r, bool exact)
{
    if (w->type == r->type) {
        if (w->name && strcmp(w->name, r->name) != 0)
            return false;
        return w->type != HF_AVRO_FIXED || w->fixed_size == r->fixed_size;
    }
    if (exact)
        return false;
    switch (w->type) {
    case HF_AVRO_INT:
        return r->type == HF_AVRO_LONG || r->type == HF_AVRO_FLOAT || r->type == HF_AVRO_DOUBLE;
    case HF_AVRO_LONG:
        return r->type == HF_AVRO_FLOAT || r->type == HF_AVRO_DOUBLE;
    case HF_AVRO_FLOAT:
        return r->type == HF_AVRO_DOUBLE;
    case HF_AVRO_STRING:
        return r->type == HF_AVRO_BYTES;
    case HF_AVRO_BYTES:
        return r->type == HF_AVRO_STRING;
    default:
        return false;
    }
}

typedef struct hf__pair_s {
    const hf_avro_node_t *w, *r;
} hf__pair_t;

typedef struct hf__chk_s {
    hf_buf_t *why;
    size_t problems;
    hf__pair_t stack[64]; /* pairs being checked: recursion assumes success */
    size_t depth;
} hf__chk_t;

static const char *hf__tname(const hf_avro_node_t *n)
{
    return n->fullname ? n->fullname : hf_avro_type_name(n->type);
}

static void hf__problem(hf__chk_t *k, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void hf__problem(hf__chk_t *k, const char *path, const char *fmt, ...)
{
    k->problems++;
    if (!k->why)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char *line = hf_asprintf("  - %s: %s\n", path, msg);
    hf__puts(k->why, line);
    hf_free(line);
}

/* First reader branch that matches w exactly, else the first promotion. */
static const hf_avro_node_t *hf__pick_branch(const hf_avro_node_t *w, const hf_avro_node_t *ru)
{
    for (size_t i = 0; i < ru->n; i++)
        if (hf_avro_matches(w, ru->branches[i], true))
            return ru->branches[i];
    for (size_t i = 0; i < ru->n; i++)
        if (hf_avro_matches(w, ru->branches[i], false))
            return ru->branches[i];
    return NULL;
}

static void hf__check(hf__chk_t *k, const hf_avro_node_t *w, const hf_avro_node_t *r,
                      const char *path)
{
    for (size_t i = 0; i < k->depth; i++)
        if (k->stack[i].w == w && k->stack[i].r == r)
            return;
    if (k->depth == sizeof(k->stack) / sizeof(k->stack[0])) {
        hf__problem(k, path, "schema nested too deeply to check");
        return;
    }
    k->stack[k->depth++] = (hf__pair_t){w, r};

    if (w->type == HF_AVRO_UNION) {
        for (size_t i = 0; i < w->n; i++) {
            char *sub = hf_asprintf("%s<%s>", path, hf__tname(w->branches[i]));
            hf__check(k, w->branches[i], r, sub);
            hf_free(sub);
        }
    } else if (r->type == HF_AVRO_UNION) {
        const hf_avro_node_t *b = hf__pick_branch(w, r);
        if (b)
            hf__check(k, w, b, path);
        else
            hf__problem(k, path, "writer type %s matches no branch of the reader's union",
                        hf__tname(w));
    } else if (!hf_avro_matches(w, r, false)) {
        if (w->type == r->type && w->type == HF_AVRO_FIXED && w->name &&
            strcmp(w->name, r->name) == 0)
            hf__problem(k, path, "fixed %s: writer size %zu, reader size %zu", w->fullname,
                        w->fixed_size, r->fixed_size);
        else if (w->type == r->type && w->name)
            hf__problem(k, path, "writer %s %s and reader %s %s have different names",
                        hf_avro_type_name(w->type), w->fullname, hf_avro_type_name(r->type),
                        r->fullname);
        else
            hf__problem(k, path, "writer type %s cannot be read as %s", hf__tname(w), hf__tname(r));
    } else if (r->type == HF_AVRO_RECORD) {
        for (size_t i = 0; i < r->n; i++) {
            const hf_avro_field_t *rf = &r->fields[i];
            const hf_avro_field_t *wf = NULL;
            for (size_t j = 0; j < w->n && !wf; j++)
                if (strcmp(w->fields[j].name, rf->name) == 0)
                    wf = &w->fields[j];
            char *sub = hf_asprintf("%s.%s", path, rf->name);
            if (wf)
                hf__check(k, wf->type, rf->type, sub);
            else if (!rf->def)
                hf__problem(k, sub,
                            "reader field '%s' (%s) is not in the writer and has no default",
                            rf->name, hf__tname(rf->type));
            hf_free(sub);
        }
    } else if (r->type == HF_AVRO_ENUM) {
        for (size_t i = 0; i < w->n; i++) {
            bool found = false;
            for (size_t j = 0; j < r->n && !found; j++)
                found = strcmp(w->symbols[i], r->symbols[j]) == 0;
            if (!found && r->enum_default < 0)
                hf__problem(k, path,
                            "writer symbol '%s' is not in reader enum %s, which has no default",
                            w->symbols[i], r->fullname);
        }
    } else if (r->type == HF_AVRO_ARRAY || r->type == HF_AVRO_MAP) {
        char *sub = hf_asprintf("%s%s", path, r->type == HF_AVRO_ARRAY ? "[]" : "{}");
        hf__check(k, w->items, r->items, sub);
        hf_free(sub);
    }
    k->depth--;
}

size_t hf_avro_check(const hf_avro_node_t *writer, const hf_avro_node_t *reader, hf_buf_t *why)
{
    hf__chk_t k = {.why = why};
    hf__check(&k, writer, reader, reader->name ? reader->name : hf__tname(reader));
    return k.problems;
}
