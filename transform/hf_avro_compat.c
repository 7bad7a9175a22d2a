/*
 * hf_avro_compat — the schema-resolution rules of the Avro 1.11
 * specification over two schema trees: whether data written with one can
 * be read with the other, and why not, for `hemoflow schemas check` and for
 * the catalogue before it compiles a decoding plan.
 */
#include "hf_avro.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
    hf_buf_append_str(k->why, line);
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
