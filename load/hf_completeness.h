/*
 * hf_completeness — reading hemoflow.hf_completeness for `hemoflow
 * completeness` and for whatever exports it as a metric: events and the
 * newest event time per province, station-local date and event type, and
 * which provinces are silent.
 *
 * A province is silent when its newest loaded event (max_occurred_at over
 * every date and event type) happened longer than completeness.silent_after_s
 * before "now", or when it has no event at all. Event time, not load time:
 * a province whose stations publish nothing new is silent even while a
 * backlog of old events is still being loaded, and a consumer outage makes
 * every province go silent, as it should for someone asking "has P sent
 * its data". The clock is an argument (now_us), never read here.
 */
#ifndef HF_COMPLETENESS_H
#define HF_COMPLETENESS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_config.h"
#include "hf_err.h"
#include "hf_province.h"

/* One province over all dates and event types. */
typedef struct hf_compl_province_s {
    char code[3];             /* "11" .. "65" */
    const char *name;         /* static (hf_provinces) */
    int64_t events;           /* events loaded, all dates and types */
    int64_t newest_event_us;  /* newest occurred_at (µs since the epoch); -1 none */
    int64_t last_loaded_us;   /* newest updated_at; -1 none */
    bool silent;
} hf_compl_province_t;

/* The rule above: newest_event_us < 0, or now_us - newest_event_us longer
 * than silent_after_s seconds. */
bool hf_compl_is_silent(int64_t newest_event_us, int64_t now_us, int64_t silent_after_s);

/* Every one of the 31 provinces (hf_provinces order) into out, silent
 * judged at now_us; *nsilent (may be NULL) gets how many are silent.
 * Errors: HF_ERR_PG_TRANSIENT, HF_ERR_SCHEMA (not migrated), HF_ERR_PG. */
hf_err_t hf_compl_provinces(PGconn *conn, int64_t now_us, int64_t silent_after_s,
                            hf_compl_province_t out[HF_PROVINCE_COUNT], size_t *nsilent,
                            char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

/* The same with a connection of its own (pg.* of cfg) and
 * completeness.silent_after_s, for a caller without one (a metrics
 * exporter). */
hf_err_t hf_compl_silent_provinces(const hf_config_t *cfg, int64_t now_us,
                                   hf_compl_province_t out[HF_PROVINCE_COUNT], size_t *nsilent,
                                   char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* One row of hf_completeness. */
typedef struct hf_compl_row_s {
    char province[3];
    int32_t event_date;       /* days since 1970-01-01, station-local */
    char event_type[64];      /* Avro name, e.g. DonationCollected */
    int64_t events;
    int64_t newest_event_us;  /* -1 when NULL */
    int64_t loaded_us;        /* updated_at */
} hf_compl_row_t;

/* The rows for one date (date >= 0, days since 1970; -1 every date) and one
 * province (code "NN", or NULL every province), ordered by province, date,
 * event type. *rows is the caller's (hf_free). */
hf_err_t hf_compl_rows(PGconn *conn, int32_t date, const char *province, hf_compl_row_t **rows,
                       size_t *n, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

#endif /* HF_COMPLETENESS_H */
