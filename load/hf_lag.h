/*
 * hf_lag — consumer lag and its Burrow-style status, for `hemoflow lag`
 * (and anything else that wants to judge the group: health checks, the
 * status page).
 *
 * The truth about progress is hemoflow.hf_offsets; the recent history is the
 * commit window hemoflow.hf_commit_window that the loader records in the
 * same transaction as each batch (hf_wh_window.h). A partition's lag is
 * log-end offset minus committed offset; its status comes from the window
 * by the rules of LinkedIn's Burrow (its evaluator), as adapted here:
 *
 *   1. current lag 0                       -> OK (caught up)
 *   2. empty window                        -> OK (nothing to judge yet)
 *   3. an entry's offset below the one before it, or hf_offsets below the
 *      newest entry (offsets reset backwards)                     -> REWIND
 *   4. the time since the newest entry is longer than the window spans
 *      (newest - oldest) and at least stop_min_ms, and the oldest waiting
 *      message has waited at least stop_min_ms (or its age is unknown)
 *                                                                 -> STOP
 *   5. some entry had lag 0                -> OK (caught up within the
 *                                              window; a burst is no fault)
 *   6. fewer than two entries              -> OK (too few commits to judge)
 *   7. every entry has the same offset     -> STALL (committing, not moving)
 *   8. the lag never went down from one entry to the next (entries whose
 *      lag is unknown skipped, at least two known)                -> WARN
 *   9. otherwise                           -> OK
 *
 * Differences from Burrow, on purpose: REWIND and STOP are checked before
 * the zero-lag excuse of rule 5 (Burrow's first rule), so a consumer that
 * died after catching up shows STOP once messages wait for it, and an
 * operator's reset shows REWIND at once; REWIND also compares hf_offsets
 * itself with the window, not only commits with each other. STOP needs
 * stop_min_ms of silence and a message that has waited that long (Burrow
 * calls a one-entry window stopped a moment after its commit, and an idle
 * consumer would be "stopped" the moment a new burst arrives). STALL and
 * WARN need two entries. The group's status is its worst partition's, in
 * the order OK < WARN < STALL < STOP < REWIND.
 *
 * Time is never read here: every function takes the clock as an argument
 * (now_ms for the window, wall_ms for lag in seconds), so tests inject it.
 */
#ifndef HF_LAG_H
#define HF_LAG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_err.h"

/* ==== the evaluator ==== */

/* Ordered by severity. */
typedef enum hf_lag_status_e {
    HF_LAG_OK = 0,
    HF_LAG_WARN,   /* falling behind: the lag did not go down over the window */
    HF_LAG_STALL,  /* commits keep coming but the offset does not move */
    HF_LAG_STOP,   /* no commit for longer than the window spans, with lag */
    HF_LAG_REWIND, /* the committed offset went backwards */
} hf_lag_status_t;

#define HF_LAG_NSTATUS 5

/* "OK", "WARN", "STALL", "STOP", "REWIND". */
const char *hf_lag_status_name(hf_lag_status_t s);
/* Parse a name as above; false when unknown. */
bool hf_lag_status_parse(const char *name, hf_lag_status_t *out);
/* The more severe of a and b. */
hf_lag_status_t hf_lag_worst(hf_lag_status_t a, hf_lag_status_t b);

/* One recorded commit of a partition. */
typedef struct hf_lag_commit_s {
    int64_t at_ms;  /* when it committed, ms since the Unix epoch */
    int64_t offset; /* the next offset it stored */
    int64_t lag;    /* messages between it and the log end then; -1 unknown */
} hf_lag_commit_t;

typedef struct hf_lag_rules_s {
    int64_t stop_min_ms; /* rule 5's floor (lag.stop_min_ms) */
} hf_lag_rules_t;

/* What one partition's status is judged on. */
typedef struct hf_lag_input_s {
    const hf_lag_commit_t *window; /* its window, oldest first */
    size_t n;                      /* entries in it */
    int64_t committed;             /* its offset in hf_offsets now; -1: none (rule 3 skips it) */
    int64_t lag;                   /* its lag now, messages (>= 0) */
    int64_t waiting_ms;            /* how long its first unconsumed message has waited
                                      (wall clock minus its timestamp); -1 unknown */
    int64_t now_ms;                /* the clock the window's times are on */
} hf_lag_input_t;

/* Judge one partition. *reason (may be NULL) gets a short static
 * explanation. */
hf_lag_status_t hf_lag_evaluate(const hf_lag_input_t *in, const hf_lag_rules_t *rules,
                                const char **reason);

/* ==== a report over every partition ==== */

typedef struct hf_lag_part_s {
    char *topic;             /* owned */
    int32_t partition;
    int64_t committed;       /* hf_offsets next_offset; -1 none stored */
    int64_t log_start;       /* low watermark; -1 unknown */
    int64_t log_end;         /* high watermark (log-end offset); -1 unknown */
    int64_t first_offset;    /* the first unconsumed message read; -1 none */
    int64_t first_ts_ms;     /* its Kafka timestamp (ms); -1 none or unknown */
    hf_lag_commit_t *window; /* owned, nwindow entries, oldest first */
    size_t nwindow;
    bool in_kafka;           /* the partition exists in the cluster's metadata */
    /* filled by hf_lag_report_evaluate */
    int64_t lag;             /* messages; -1 unknown (no log-end offset) */
    double lag_seconds;      /* wall_ms - first_ts_ms in s, 0 when caught up; -1 unknown */
    hf_lag_status_t status;
    const char *reason;      /* static */
} hf_lag_part_t;

typedef struct hf_lag_report_s {
    hf_lag_part_t *parts;    /* owned */
    size_t n, cap;
    int64_t now_ms;          /* the window's clock (PostgreSQL's, set by hf_lag_report_read_pg) */
    int64_t wall_ms;         /* the clock lag in seconds is measured on */
    /* filled by hf_lag_report_evaluate */
    hf_lag_status_t status;  /* the worst partition's */
    int64_t total_lag;       /* sum of the known lags */
    double max_lag_seconds;  /* largest known lag in seconds */
    size_t count[HF_LAG_NSTATUS]; /* partitions per status */
} hf_lag_report_t;

/* The entry of topic/partition, added (committed -1, watermarks -1, no
 * window) when missing. Pointers stay valid until the next call. */
hf_lag_part_t *hf_lag_report_part(hf_lag_report_t *r, const char *topic, int32_t partition);
/* The effective committed offset: hf_offsets', or where a consumer without
 * one starts (the log start; 0 when unknown). */
int64_t hf_lag_part_from(const hf_lag_part_t *p);

/* Read hf_offsets and hf_commit_window for the topics whose names start
 * with topic_prefix, and PostgreSQL's clock into r->now_ms. Adds missing
 * partitions; replaces the committed offset and window of present ones.
 * Errors: HF_ERR_PG_TRANSIENT (connection), HF_ERR_SCHEMA (not migrated),
 * HF_ERR_PG. */
hf_err_t hf_lag_report_read_pg(hf_lag_report_t *r, PGconn *conn, const char *topic_prefix,
                               char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Compute every partition's lag, lag in seconds (at r->wall_ms) and status
 * (at r->now_ms), the totals and the group status; sorts the partitions by
 * topic and partition. */
void hf_lag_report_evaluate(hf_lag_report_t *r, const hf_lag_rules_t *rules);

/* Forget the partitions (keeps the array). */
void hf_lag_report_clear(hf_lag_report_t *r);
/* Free everything r owns (r itself is the caller's). */
void hf_lag_report_free(hf_lag_report_t *r);

#endif /* HF_LAG_H */
