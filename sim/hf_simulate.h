/*
 * hf_simulate — a deterministic generator of realistic national blood-data
 * traffic for `hemoflow simulate`: blood stations, plasma stations and
 * hospitals in the 31 mainland provinces, donors with valid resident IDs,
 * and donation chains (registration → assessment → collection → screening →
 * components → movements → discards → transfusions → adverse events) plus
 * daily inventory snapshots, with optional injected faults (resends, late
 * reports, amendments, retractions, malformed frames, unknown fingerprints,
 * invalid DINs, old writer schemas).
 *
 * The generator only produces station records (hf_field_t text, the same
 * shape `hemoflow publish` reads) and hands them to a sink: the CLI's sink
 * calls hf_station_submit()/hf_station_submit_raw(), the CSV sink here
 * writes files, tests wrap either to count. Nothing here talks to Kafka:
 * the library (sim/, hf_sim) stands on station/ for the record types
 * (hf_field_t, hf_submit_opts_t, hf_reject_t) and on transform/ for the
 * schema catalogue, whose fingerprints the injected raw frames carry.
 *
 * Determinism: for the same configuration (seed, count, days, end date,
 * types, rates) the sequence of sink calls is identical, byte for byte.
 * now_us (the wall clock cap) is the only input that is not; leave it 0 or
 * pass an end date in the past for reproducible runs.
 *
 * The traffic model, its proportions and the fault → expected quarantine
 * reason table are documented in docs/simulate.md.
 */
#ifndef HF_SIMULATE_H
#define HF_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hf_catalog.h"
#include "hf_err.h"
#include "hf_event_types.h"
#include "hf_station.h"

#define HF_SIM_NTYPES 10 /* == hf_event_types_count, checked at run time */

/* ==== configuration ==== */

typedef struct hf_sim_conf_s {
    uint64_t seed;
    uint64_t count;      /* target number of messages, faults included (approximate) */
    int days;            /* length of the window in days, >= 1 */
    int32_t end_date;    /* last day of the window, days since 1970-01-01 (station local) */
    int64_t now_us;      /* 0 = no cap; else nothing occurs or is reported after now - 60 s */
    unsigned types_mask; /* bit i = hf_event_types[i] is emitted; 0 = all ten */
    /* fault rates, each 0..1 (see docs/simulate.md for what each one counts) */
    double dup_rate;        /* created events resent unchanged (same event_id) */
    double late_rate;       /* created events reported 1.5-30 days after occurred_at */
    double amend_rate;      /* created events later amended (op=amend, new event_id) */
    double retract_rate;    /* created events later retracted (op=retract) */
    double malformed_rate;  /* per created event: one garbage frame to the same topic */
    double unknown_fp_rate; /* per created event: one frame with an unknown fingerprint */
    double bad_din_rate;    /* DIN-carrying created events sent with an invalid DIN */
    double old_schema_rate; /* DonationCollected created events written with schema v1 */
    /* the schema catalogue (borrowed; must outlive hf_sim_run): where the
     * fingerprints of injected raw frames come from. Required. */
    const hf_catalog_t *catalog;
} hf_sim_conf_t;

/* Defaults: seed 1, count 10000, days 7, end_date 2026-01-01, no cap, all
 * types, no faults, no catalogue (the caller sets conf->catalog). */
void hf_sim_conf_default(hf_sim_conf_t *conf);

/* "DonationCollected,unit_moved,..." (Avro or snake_case names) into a
 * types mask. HF_ERR_USAGE with errstr naming the unknown type. */
hf_err_t hf_sim_parse_types(const char *list, unsigned *mask, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* ==== sinks ==== */

/* Where generated records go. Both callbacks return HF_OK when the record
 * was accepted, HF_ERR_INVALID (with *reject filled, submit only) when it
 * was refused (counted as rejected, the run goes on), any other code to
 * stop the run (returned by hf_sim_run). All pointers are borrowed for the
 * duration of the call. `key` is the facility id. */
typedef struct hf_sim_sink_s {
    void *opaque;
    hf_err_t (*submit)(void *opaque, const char *event_type, const hf_field_t *fields,
                       size_t nfields, const hf_submit_opts_t *opts, hf_reject_t *reject);
    hf_err_t (*submit_raw)(void *opaque, const char *event_type, const char *key,
                           const void *payload, size_t len);
} hf_sim_sink_t;

/* ==== report ==== */

typedef struct hf_sim_type_counts_s {
    uint64_t created;        /* op=create events accepted by the sink (distinct event_ids) */
    uint64_t amendments;     /* op=amend events accepted (distinct event_ids) */
    uint64_t retractions;    /* op=retract events accepted (distinct event_ids) */
    uint64_t resends;        /* extra copies of an accepted event (same event_id, same bytes) */
    uint64_t late;           /* created events with reported_at >= 1 day after occurred_at */
    uint64_t old_schema;     /* accepted distinct events written with a non-newest schema */
    uint64_t bad_din;        /* events sent with an invalid DIN (skip_validation) */
    uint64_t bad_din_format; /* ... of which the DIN has a bad structure (din_format) */
    uint64_t bad_din_check;  /* ... of which it is DIN + wrong check character (din_check) */
    uint64_t malformed_bad_magic; /* raw frames not starting with C3 01 */
    uint64_t malformed_truncated; /* raw frames C3 01 + known fingerprint, cut short */
    uint64_t unknown_fp;          /* raw frames C3 01 + unknown fingerprint + body */
    uint64_t rejected;            /* records the sink refused (should be 0) */
    uint64_t messages;            /* everything the sink accepted for this topic */
} hf_sim_type_counts_t;

#define HF_SIM_NPROV 31

typedef struct hf_sim_report_s {
    hf_sim_type_counts_t type[HF_SIM_NTYPES]; /* index = hf_event_types order */
    /* distinct valid events (created + amendments + retractions) per
     * reporting province, index = position in hf_sim_province_code() */
    uint64_t rows_by_province[HF_SIM_NPROV];
    /* model statistics, counting what happened inside the window */
    uint64_t visits;            /* donor visits */
    uint64_t donors_registered; /* first-time donors (DonorRegistered) */
    uint64_t deferrals;
    uint64_t donations_whole_blood, donations_platelets, donations_plasma;
    uint64_t facilities_blood, facilities_plasma, facilities_hospital;
    uint64_t facilities_reporting_inventory;
    uint64_t messages_total; /* all accepted messages, every topic */
    bool stopped;            /* the sink stopped the run early */
    char first_reject[320];  /* "EventType: reason field detail" of the first rejection */
} hf_sim_report_t;

/* ==== running ==== */

/* Generate and hand everything to sink. report is zeroed, then filled with
 * exactly what the sink accepted. Returns HF_OK, HF_ERR_USAGE for a bad
 * conf (errstr says which; no conf->catalog is one), or the first non-HF_OK/HF_ERR_INVALID code a
 * sink callback returned (report->stopped is set; counts so far are kept). */
hf_err_t hf_sim_run(const hf_sim_conf_t *conf, const hf_sim_sink_t *sink, hf_sim_report_t *report,
                    char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

/* The report as JSON text (format in docs/simulate.md). Caller frees with
 * hf_free(). Deterministic: no wall-clock values. */
char *hf_sim_report_json(const hf_sim_report_t *report, const hf_sim_conf_t *conf);

/* Write hf_sim_report_json() to path (HF_ERR_IO with errstr on failure). */
hf_err_t hf_sim_report_write(const hf_sim_report_t *report, const hf_sim_conf_t *conf,
                             const char *path, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Human-readable summary. */
void hf_sim_report_print(const hf_sim_report_t *report, FILE *out);

/* Two-digit code of province index i < HF_SIM_NPROV ("11" .. "65"). */
const char *hf_sim_province_code(size_t i);

/* ==== CSV output (--dry-run --output DIR) ==== */

/* Writes <dir>/<EventType>.csv (station export columns, raw donor/patient
 * IDs: these files never leave the machine), <dir>/DonationCollected.v1.csv
 * (rows written with schema v1, v1 columns, schema_version = 1) and
 * <dir>/raw_frames.jsonl (injected raw frames as hex). dir is created if
 * missing; existing files are overwritten. */
typedef struct hf_sim_csv_s hf_sim_csv_t;

hf_sim_csv_t *hf_sim_csv_new(const char *dir, char *errstr, size_t errstr_size);
/* A sink writing to csv (borrowed: csv must outlive the sink's use). */
void hf_sim_csv_sink(hf_sim_csv_t *csv, hf_sim_sink_t *out);
/* Flush and close every file, free csv (NULL no-op). */
hf_err_t hf_sim_csv_close(hf_sim_csv_t *csv, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

#endif /* HF_SIMULATE_H */
