/*
 * hf_catalog_int — what the catalogue's files share and nobody else sees:
 * the decoding plan (hf_catalog_plan.c compiles it, hf_decoder.c walks it),
 * one catalogue entry per schema file, and the catalogue itself
 * (hf_catalog.c loads it).
 *
 * A plan is the specification's resolution rules applied once per (writer,
 * reader) pair: for a record, per writer field "read into reader field i"
 * or "skip"; the reader fields the writer lacks with their default; per enum
 * symbol the reader's symbol index; per union branch the reader branch;
 * promotions. Plans point into the schema trees of the entries and are
 * owned by the catalogue (hf_catalog_s.plans).
 */
#ifndef HF_CATALOG_INT_H
#define HF_CATALOG_INT_H

#include <avro.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_avro.h"
#include "hf_catalog.h"
#include "hf_event_types.h"

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

/* One field of a writer record, in writer order. */
typedef struct hf__wfield_s {
    const hf__plan_t *plan;      /* NULL: the reader has no such field, skip */
    const hf_avro_node_t *wtype; /* for skipping */
    const char *name;            /* writer field name, for error paths; owned by the tree */
    size_t rindex;               /* reader field index (when plan is set) */
} hf__wfield_t;

/* A reader field the writer lacks: set from its default. */
typedef struct hf__rdefault_s {
    size_t rindex;               /* reader field index */
    const hf_avro_node_t *rtype; /* reader field type, which the default is a value of */
    const json_t *def;           /* the "default" JSON; owned by the reader tree */
    const char *name;            /* reader field name, for error paths */
} hf__rdefault_t;

struct hf__plan_s {
    hf__op_t op;                 /* what to do with the bytes */
    const hf_avro_node_t *w, *r; /* writer and reader node this plan resolves */
    hf__wfield_t *wf;            /* record: one per writer field */
    size_t nwf;                  /* record: number of wf */
    hf__rdefault_t *defs;        /* record: reader fields absent from the writer */
    size_t ndefs;                /* record: number of defs */
    int *enum_map;               /* enum: per writer symbol, reader index or -1 */
    const hf__plan_t *items;     /* array items, map values */
    const hf__plan_t **branches; /* WUNION: per writer branch */
    size_t rbranch;              /* RUNION */
    const hf__plan_t *sub;       /* RUNION */
    char *err;                   /* ERROR */
};

/* Plans already made while compiling one writer tree, so that a recursive
 * schema compiles to a cyclic plan instead of recursing forever. */
typedef struct hf__memo_s {
    hf__plan_t **v; /* plans made so far (not owned: the catalogue owns them) */
    size_t n, cap;  /* used and allocated length of v */
} hf__memo_t;

/* ==== catalogue state ==== */

/* One schema file. */
typedef struct hf__entry_s {
    const hf_event_type_t *et;  /* static table entry */
    size_t et_index;            /* into hf_event_types */
    int version;                /* N of <EventType>.vN.avsc */
    uint64_t fp;                /* CRC-64-AVRO of the canonical form */
    char *path;                 /* the file, owned */
    bool is_newest;             /* newest == this entry */
    avro_schema_t schema;       /* Avro C schema, one reference owned */
    hf_avro_schema_t *tree;     /* hemoflow's tree, canonical form */
    struct hf__entry_s *newest; /* newest version of the same event type */
    const hf__plan_t *plan;     /* this version -> newest */
} hf__entry_t;

struct hf_catalog_s {
    hf__entry_t *entries;        /* by event type, then version */
    size_t n;                    /* number of entries */
    hf__entry_t **by_fp;         /* sorted by fingerprint, for bsearch */
    hf__entry_t **newest;        /* per hf_event_types index */
    avro_value_iface_t **ifaces; /* per hf_event_types index: generic class of newest */
    hf__plan_t **plans;          /* every plan, for destroy */
    size_t nplans, plans_cap;    /* used and allocated length of plans */
};

/* ==== shared between the catalogue's files ==== */

/* hf_catalog_plan.c: the plan reading data of writer node w as reader node
 * r. New plans go to cat->plans (which owns them) and to memo; a (w, r)
 * pair already in memo is returned as is. */
const hf__plan_t *hf__compile(hf_catalog_t *cat, hf__memo_t *memo, const hf_avro_node_t *w,
                              const hf_avro_node_t *r);
/* hf_catalog_plan.c: free one plan (not the plans it points to). */
void hf__plan_free(hf__plan_t *p);

/* hf_catalog.c: the entry of a fingerprint, NULL when absent. */
hf__entry_t *hf__by_fp(const hf_catalog_t *cat, uint64_t fp);

#endif /* HF_CATALOG_INT_H */
