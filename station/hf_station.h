/*
 * hf_station — the station side of hemoflow as a C API: validate a record,
 * pseudonymize donor/patient identifiers, encode it as an Avro single-object
 * frame, append it to the durable spool, and produce it to
 * hemoflow.<event_type> keyed by facility id with an idempotent producer.
 * `hemoflow publish` and `hemoflow simulate` are built on this API; station
 * software can link libhf_station and call it directly.
 *
 * Delivery guarantee: an event accepted by hf_station_submit() is on disk
 * (fsync'ed spool) before the call returns, and leaves the spool only when
 * the broker acknowledged it (acks=all). A crash at any moment loses
 * nothing; after a crash, replay may resend an event the broker already has
 * (the warehouse removes such duplicates by event_id).
 *
 * Threading: one hf_station_t per thread.
 */
#ifndef HF_STATION_H
#define HF_STATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_config.h"
#include "hf_err.h"

typedef struct hf_station_s hf_station_t;

/* ==== lifecycle ==== */

typedef struct hf_station_conf_s {
    const hf_config_t *cfg; /* kafka.*, publish.*, validate.*, schemas.dir, topic.prefix;
                               borrowed, must outlive the station */
    const char *key_file;   /* HMAC key file; NULL = publish.key_file. Must be mode 0600. */
    const char *spool_dir;  /* NULL = publish.spool_dir */
    bool offline;           /* spool only, never contact the broker (tests, --offline) */
    bool drain_only;        /* no key file needed; hf_station_submit() is refused
                               (`hemoflow publish --drain`) */
    int64_t (*clock_us)(void *opaque); /* wall clock (µs since the epoch) for the
                               reported_at default and the future-time rule;
                               NULL = the system clock. Injected by tests. */
    void *clock_opaque;     /* passed to clock_us; borrowed */
} hf_station_conf_t;

/* Opens the spool (replaying what a previous run left there) and creates
 * the producer. NULL with errstr filled on failure (bad key file permissions
 * give a message that says so). The key file must be a regular file owned by
 * the current user, mode 0600 or 0400, holding at least 32 bytes (one
 * trailing newline is not part of the key). Another process using the same
 * spool folder makes this fail (the spool is locked). */
hf_station_t *hf_station_new(const hf_station_conf_t *conf, char *errstr, size_t errstr_size);

/* Waits up to publish.delivery_timeout_ms for outstanding deliveries, then
 * stops. Undelivered events stay in the spool for the next run. NULL no-op. */
void hf_station_destroy(hf_station_t *st);

/* ==== submitting records ==== */

/* One field of a station record, as text (CSV cell, or JSON value rendered
 * as text). value NULL = absent / null. Both strings borrowed for the call. */
typedef struct hf_field_s {
    const char *name;
    const char *value;
} hf_field_t;

typedef struct hf_submit_opts_s {
    int schema_version;   /* writer schema version; 0 = newest (or the record's
                             schema_version column when it has one) */
    bool skip_validation; /* fault injection (simulate) only: encode even invalid values */
    bool defer_sync;      /* group commit: append without fsync; the event is durable
                             only after the next hf_station_sync() returns HF_OK */
} hf_submit_opts_t;

/* Why a record was rejected. reason is a stable code (docs/validation.md),
 * field the offending column or "", detail a human sentence. */
typedef struct hf_reject_s {
    const char *reason;
    char field[64];
    char detail[256];
} hf_reject_t;

/* Validate, pseudonymize, encode, spool, produce. Returns HF_OK when the
 * event is durably spooled (delivery continues in the background),
 * HF_ERR_INVALID with *reject filled when the record is refused, another
 * error on local failure (spool I/O; reject->reason is then "local_error"
 * and reject->detail says what failed). opts may be NULL. Column names and
 * defaults: docs/publish.md. Raw donor_id / patient_id values are
 * pseudonymized here and never stored, logged or put in a reject detail. */
hf_err_t hf_station_submit(hf_station_t *st, const char *event_type, const hf_field_t *fields,
                           size_t nfields, const hf_submit_opts_t *opts, hf_reject_t *reject)
    __attribute__((warn_unused_result));

/* Fault injection (simulate) only: spool and produce `payload` unchanged to
 * the event type's topic with `key`. */
hf_err_t hf_station_submit_raw(hf_station_t *st, const char *event_type, const char *key,
                               const void *payload, size_t len)
    __attribute__((warn_unused_result));

/* The event_id given to the last record hf_station_submit() accepted
 * (given by the record, or derived from its content): 36 characters, owned
 * by st, "" before the first accepted record. */
const char *hf_station_last_event_id(const hf_station_t *st);

/* Is `column` a column of event_type's export (writer version
 * schema_version, 0 = newest)? For checking a CSV header up front. */
bool hf_station_column_known(hf_station_t *st, const char *event_type, int schema_version,
                             const char *column);

/* Make every record appended with defer_sync durable (fsync). */
hf_err_t hf_station_sync(hf_station_t *st, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* ==== delivery ==== */

/* Serve delivery reports for up to timeout_ms; removes acknowledged events
 * from the spool, re-sends events whose delivery failed. */
void hf_station_poll(hf_station_t *st, int timeout_ms);

/* Wait until every spooled event is acknowledged or timeout_ms passes
 * (HF_ERR_TIMEOUT: the rest stays spooled; immediately when offline). */
hf_err_t hf_station_flush(hf_station_t *st, int timeout_ms) __attribute__((warn_unused_result));

typedef struct hf_station_stats_s {
    uint64_t accepted;  /* records accepted this session */
    uint64_t rejected;  /* records refused by validation */
    uint64_t delivered; /* acknowledged by the broker this session */
    uint64_t pending;   /* in the spool, not yet acknowledged */
    bool broker_up;     /* last known broker state */
} hf_station_stats_t;

void hf_station_stats(const hf_station_t *st, hf_station_stats_t *out);

#endif /* HF_STATION_H */
