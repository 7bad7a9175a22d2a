/*
 * hf_catalog_plan — compiling the decoding plan from one writer schema tree
 * to the newest (reader) tree of its event type, once per catalogue entry
 * at load time; hf_catalog_int.h describes what a plan holds. The catalogue
 * compiles only pairs that hf_avro_check accepted; data the reader cannot
 * represent still has a plan (HF__OP_ERROR, or -1 in an enum map), which
 * the decoder turns into HF_ERR_DECODE.
 */
#include "hf_catalog_int.h"

#include <string.h>

#include "hf_mem.h"

/* ==== plan compilation ==== */

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

const hf__plan_t *hf__compile(hf_catalog_t *cat, hf__memo_t *memo, const hf_avro_node_t *w,
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

void hf__plan_free(hf__plan_t *p)
{
    hf_free(p->wf);
    hf_free(p->defs);
    hf_free(p->enum_map);
    hf_free(p->branches);
    hf_free(p->err);
    hf_free(p);
}
