/*
 * hf_wh_int — what the files of load/ share and the unit tests reach into:
 * the fact-table layout, the binary COPY row encoder, the connection and
 * its partition cache. The libpq helpers it shares with hf_migrate.c are in
 * hf_pg.h. Not a public API (hf__ names).
 */
#ifndef HF_WH_INT_H
#define HF_WH_INT_H

#include <avro.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_catalog.h"
#include "hf_err.h"
#include "hf_event_types.h"
#include "hf_hashset.h"
#include "hf_mem.h"
#include "hf_pg.h"
#include "hf_warehouse.h"

/* ==== layout ==== */

/* How a column travels in binary COPY; decided by the Avro type plus its
 * logicalType, and equal to the PostgreSQL column type verified at connect. */
typedef enum hf__colkind_e {
    HF__COL_UUID,    /* string/uuid          -> uuid */
    HF__COL_TEXT,    /* string, enum         -> text */
    HF__COL_INT4,    /* int                  -> integer */
    HF__COL_INT8,    /* long                 -> bigint */
    HF__COL_DATE,    /* int/date             -> date */
    HF__COL_TSTZ,    /* long/timestamp-micros-> timestamptz */
    HF__COL_BOOL,    /* boolean              -> boolean */
    HF__COL_FLOAT8,  /* double               -> double precision */
    HF__COL_TEXTARR, /* array<string>        -> text[] */
} hf__colkind_t;

typedef struct hf__col_s {
    char *name;        /* owned */
    hf__colkind_t kind;
    bool is_enum;      /* HF__COL_TEXT from an Avro enum */
    bool nullable;     /* ["null", T] */
} hf__col_t;

/* One fact table: the fields of the newest schema of its event type. */
typedef struct hf__table_s {
    const hf_event_type_t *et; /* static table entry */
    int version;               /* newest schema version */
    size_t nfields;
    hf__col_t *fields;         /* owned, nfields, in schema order */
    int i_province, i_occurred, i_utc_offset; /* envelope field indexes (required) */
    char *columns;             /* "event_date, <fields>, kafka_partition, kafka_offset" */
    char *copy_sql;            /* COPY hemoflow.<t> (cols) FROM STDIN (FORMAT binary) */
    char *stage_copy_sql;      /* same into pg_temp.hf_stage_<t> */
} hf__table_t;

/* Name of a column kind as format_type() prints it ("timestamp with time zone"). */
const char *hf__wh_pgtype(hf__colkind_t k);

/* Lay out t (fields/nfields and the special indexes) from the reader schema
 * tree of et at version (hf_catalog_reader_tree: field order, types,
 * nullability and logical types). HF_ERR_SCHEMA with errstr for a type the
 * warehouse cannot hold. */
hf_err_t hf__wh_table_from_tree(hf__table_t *t, const hf_event_type_t *et, int version,
                                const hf_avro_schema_t *schema, char *errstr, size_t errstr_size);
void hf__wh_table_clear(hf__table_t *t);

/* ==== binary COPY encoding ==== */

/* PostgreSQL epoch (2000-01-01) minus Unix epoch, in days and µs. */
#define HF__PG_EPOCH_DAYS 10957
#define HF__PG_EPOCH_US INT64_C(946684800000000)

extern const unsigned char hf__copy_header[19];
extern const unsigned char hf__copy_trailer[2];


typedef enum hf__enc_e {
    HF__ENC_OK = 0,
    HF__ENC_DATA,  /* a value PostgreSQL would reject: quarantine (sqlstate set) */
    HF__ENC_SHAPE, /* the value does not have the table's shape */
} hf__enc_t;

/* Append one binary COPY tuple for record v (an instance of t's schema) to
 * out: event_date (days since 1970-01-01: the station-local date that
 * hf_normalize decided, not derived here again), the fields,
 * kafka_partition, kafka_offset. On anything but HF__ENC_OK out->len is
 * restored, errstr says why, and for HF__ENC_DATA sqlstate (6 bytes) holds
 * the SQLSTATE PostgreSQL would use. */
hf__enc_t hf__wh_encode_row(const hf__table_t *t, avro_value_t *v, int32_t event_date,
                            int32_t kafka_partition, int64_t kafka_offset, hf_buf_t *out,
                            char sqlstate[6], char *errstr, size_t errstr_size);

/* ==== the connection (hf_wh_conn.c) ==== */

/* Keys (table, province, event date, event_id) of rows this connection has
 * committed recently, as a split-block Bloom filter in two generations: a
 * station resend is almost always a key the same loader committed minutes
 * ago (its topic partition is keyed by facility), so a commit probes the
 * warehouse only for the keys the filter may hold, instead of all keys. A
 * generation takes HF__SEEN_CAP keys (16 bits a key), then the older one is
 * cleared and reused: the last 1-2 M keys are remembered, in 4 MiB. A false
 * positive costs one index probe, a miss (a resend of a row committed by
 * another loader or long ago) one failed COPY; never a wrong row. */
#define HF__SEEN_BLOCKS (1u << 16) /* 32-byte blocks per generation: 2 MiB */
#define HF__SEEN_CAP (1u << 20)    /* keys per generation */
typedef struct hf__wh_seen_s {
    uint32_t bits[2][HF__SEEN_BLOCKS][8]; /* pages never used are never touched */
    size_t n[2];  /* keys added to each generation */
    unsigned cur; /* generation being filled */
    size_t mask;  /* blocks used - 1: HF__SEEN_BLOCKS / share - 1 (hf_wh_seen_share) */
    size_t cap;   /* keys per generation: HF__SEEN_CAP / share */
} hf__wh_seen_t;
/* An empty filter using 1/share of the blocks and keys (share rounded up to
 * a power of two, at most 64): the pages of the other blocks stay untouched
 * (hf_wh_seen.c). */
void hf__seen_init(hf__wh_seen_t *s, unsigned share);

struct hf_wh_s {
    char *conninfo;            /* pg.* settings, owned */
    bool daily;                /* partition granularity: day (true) or month */
    int window_keep;           /* lag.window_commits: entries kept per partition */
    int window_min_ms;         /* lag.window_min_interval_ms */
    const hf_catalog_t *cat;   /* borrowed */
    PGconn *conn;              /* NULL when disconnected */
    size_t ntables;            /* = hf_event_types_count */
    hf__table_t tables[HF_WH_MAX_TABLES]; /* indexed like hf_event_types */
    hf__wh_seen_t seen;        /* keys this connection committed recently */
    /* Test hook (NULL = none): called after a duplicate probe, before the
     * COPY of the rows it left, with the table index. Lets a test insert a
     * conflicting row from another connection, as a racing loader would. */
    void (*probe_hook)(void *arg, size_t table);
    void *probe_hook_arg;
    hf_hashset_t *parts;       /* known leaf partitions (hf__wh_part_key values), owned */
};

bool hf__wh_part_known(const hf_wh_t *wh, uint64_t key);
void hf__wh_part_add(hf_wh_t *wh, uint64_t key);
void hf__wh_part_forget_all(hf_wh_t *wh);
/* At connect: forget the cache and fill it from the leaf partitions that
 * exist (hf_wh_part.c, which also makes the keys). */
hf_err_t hf__load_partitions(hf_wh_t *wh, char *errstr, size_t errstr_size);

/* At connect: the warehouse has the commit window of migration 0002
 * (hf_wh_window.c); HF_ERR_SCHEMA otherwise. */
hf_err_t hf__window_check(hf_wh_t *wh, char *errstr, size_t errstr_size);

/* At connect: the warehouse has hf_offsets_advance() of migration 0005, the
 * only way the loader role may change hf_offsets (hf_wh_commit.c);
 * HF_ERR_SCHEMA otherwise. */
hf_err_t hf__offsets_check(hf_wh_t *wh, char *errstr, size_t errstr_size);

#endif /* HF_WH_INT_H */
