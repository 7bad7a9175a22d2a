/*
 * hf_wh_batch_int — the batch's state and what the files of one batch share:
 * hf_wh_batch.c (lifecycle, filling), hf_wh_part.c (sort order and
 * partitions), hf_wh_copy.c (COPY, the duplicate probe, fast and slow path,
 * bisection), hf_wh_seen.c (the filter of recently committed keys) and
 * hf_wh_commit.c (the transaction). Not a public API (hf__ names).
 */
#ifndef HF_WH_BATCH_INT_H
#define HF_WH_BATCH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_warehouse.h"
#include "hf_wh_int.h"

/* ==== state ==== */

enum {
    HF__ROW_PENDING = 0,
    HF__ROW_INSERTED, /* by the fast COPY */
    HF__ROW_SLOW,     /* through staging + ON CONFLICT: inserted or a duplicate */
    HF__ROW_REJECTED, /* quarantined */
    HF__ROW_DUP,      /* the probe found its key in the warehouse: not sent */
};

typedef struct hf__row_s {
    size_t off;          /* tuple bytes in the table's data buffer */
    size_t raw_off;      /* message value in b->raw */
    uint32_t len, raw_len;
    uint32_t seq;        /* order added: a stable sort */
    uint32_t topic;      /* index into b->topics */
    int32_t partition;
    int32_t event_date;  /* days since 1970, station-local (from the hf_norm_t) */
    int64_t offset;
    int64_t occurred_us;
    uint64_t fingerprint;
    char province[2];
    bool province_ok;    /* exactly two ASCII digits: can have a partition */
    uint8_t state;
} hf__row_t;

typedef struct hf__tbatch_s {
    hf_buf_t data;     /* binary COPY tuples, in the order added */
    hf__row_t *rows;
    size_t n, cap;
    size_t encode_rejects; /* rows the encoder turned into quarantine records */
    bool sorted;
} hf__tbatch_t;

typedef struct hf__quar_s {
    uint32_t topic;
    int32_t partition;
    int64_t offset;
    char *event_type;  /* owned, may be NULL */
    bool has_fp;
    uint64_t fp;
    char *reason;      /* owned */
    char sqlstate[6];
    char *detail;      /* owned, may be NULL */
    size_t raw_off, raw_len;
} hf__quar_t;

typedef struct hf__qlist_s {
    hf__quar_t *v;
    size_t n, cap;
} hf__qlist_t;

typedef struct hf__offs_s {
    uint32_t topic;
    int32_t partition;
    int64_t expected, next;
} hf__offs_t;

/* One commit-window entry (hf_wh_window.c): the partition's next offset
 * after the batch and the log-end offset the consumer knew (-1 unknown). */
typedef struct hf__win_s {
    uint32_t topic;      /* index into b->topics */
    int32_t partition;
    int64_t next, log_end;
} hf__win_t;

typedef struct hf__compl_s {
    size_t table;
    char province[2];
    int32_t event_date;
    int64_t events;
    int64_t max_us;
} hf__compl_t;

/* Rows the slow path inserted, per group it reports (hf_wh_obs.c). */
typedef struct hf__slowlat_s {
    size_t table;
    int64_t events;
    int64_t max_us;      /* the group's newest occurred_at */
} hf__slowlat_t;

struct hf_wh_batch_s {
    hf_wh_t *wh;                     /* borrowed */
    hf__tbatch_t t[HF_WH_MAX_TABLES];
    char **topics;                   /* interned topic names, owned */
    size_t ntopics, topics_cap;
    hf_buf_t raw;                    /* message values */
    hf__qlist_t added;               /* quarantine records from add_* (kept across attempts) */
    hf__qlist_t rejected;            /* rows PostgreSQL refused in the current attempt */
    hf__offs_t *offs;
    size_t noffs, offs_cap;
    hf__win_t *win;                  /* commit-window entries (hf_wh_window.c) */
    size_t nwin, win_cap;
    hf__compl_t *compl;              /* completeness of the current attempt */
    size_t ncompl, compl_cap;
    size_t nrows;
    hf_buf_t send;                   /* COPY chunk being assembled */
    uint32_t *pick;                  /* row indexes of one table to probe */
    size_t npick, pick_cap;
    hf_wh_stats_t st;                /* stats of the current attempt */
    hf__slowlat_t *slowlat;          /* slow-path groups of the current attempt */
    size_t nslowlat, slowlat_cap;
    bool committed;
    bool outcome_unknown;            /* the last COMMIT's reply was lost */
    bool stale_partition;            /* a cached partition turned out missing */
    bool allow_restart;              /* stale_partition may restart the commit */
};

/* ==== small helpers (hf_wh_batch.c) ==== */

/* A copy of s (NULL for NULL, owned by the caller) in which bytes that are
 * not valid UTF-8, and control characters other than tab/newline, are '?',
 * so a detail never makes its own INSERT fail. */
char *hf__clean_text(const char *s);
/* Index of topic in b->topics, interned on first use. */
uint32_t hf__topic_index(hf_wh_batch_t *b, const char *topic);
/* Free the records' strings and empty l (keeps its array). */
void hf__qlist_clear(hf__qlist_t *l);
/* Append a zeroed record to l and return it (valid until the next push). */
hf__quar_t *hf__qlist_push(hf__qlist_t *l);

/* ==== sort order and partitions (hf_wh_part.c) ==== */

/* qsort order of hf__row_t: (province, event_date), then the order added. */
int hf__row_cmp(const void *a, const void *b);
/* The row's key can have a partition: two-digit province, a date within
 * hf_ensure_partition's range. */
bool hf__row_partitionable(const hf__row_t *r);
/* Create the partitions of pending rows the cache does not know (rows
 * sorted), before the load transaction; adds to b->st.partitions_created. */
hf_err_t hf__ensure_partitions(hf_wh_batch_t *b, char *errstr, size_t errstr_size);

/* ==== COPY, the duplicate probe, one table (hf_wh_copy.c) ==== */

/* The COPY column of event_id (1 + its field index), or -1. */
int hf__id_col(const hf__table_t *tab);
/* The 16 bytes of a row's event_id inside its COPY tuple, or NULL. */
const unsigned char *hf__row_id(const hf__tbatch_t *tb, const hf__row_t *r, int col);
/* Load rows [lo, hi) of table ti in the open transaction: duplicates
 * skipped, rows PostgreSQL rejects isolated and quarantined. Only non-data
 * errors come back. */
hf_err_t hf__load_range(hf_wh_batch_t *b, size_t ti, size_t lo, size_t hi, char *errstr,
                        size_t errstr_size);

/* ==== the seen filter (hf_wh_seen.c) ==== */

/* Hash of a row's primary key (and its table). */
uint64_t hf__key_hash(size_t ti, const hf__row_t *r, const unsigned char *id);
/* May the filter hold key hash h? (false: certainly not) */
bool hf__seen_has(const hf__wh_seen_t *s, uint64_t h);
/* After COMMIT: add the keys of every row now in the warehouse. */
void hf__seen_remember(hf_wh_batch_t *b);

/* ==== completeness (hf_wh_commit.c) ==== */

/* Count events rows of (table ti, prov, date) with latest instant max_us
 * into the current attempt's completeness. */
void hf__compl_add(hf_wh_batch_t *b, size_t ti, const char prov[2], int32_t date,
                   int64_t events, int64_t max_us);
/* The pending rows of [lo, hi) were inserted by the fast COPY: mark them
 * and count them. */
void hf__compl_rows(hf_wh_batch_t *b, size_t ti, size_t lo, size_t hi);

/* ==== observations for metrics (hf_wh_obs.c) ==== */

/* The slow path inserted events rows of table ti whose newest occurred_at
 * is max_us (their own times are not returned: the group's stands in). */
void hf__obs_slow(hf_wh_batch_t *b, size_t ti, int64_t events, int64_t max_us);
/* After COMMIT: fill b->st's per-province counts, newest event times,
 * quarantine tallies and latency histogram from the attempt that
 * committed. */
void hf__obs_committed(hf_wh_batch_t *b);

/* ==== the commit window (hf_wh_window.c) ==== */

/* In the open transaction, after the offsets compare-and-set: record the
 * batch's window entries (hemoflow.hf_window_record). */
hf_err_t hf__window_write(hf_wh_batch_t *b, char *errstr, size_t errstr_size);

#endif /* HF_WH_BATCH_INT_H */
