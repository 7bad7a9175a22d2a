/*
 * hf_err — hemoflow's error codes.
 *
 * Every operation that can fail returns hf_err_t (HF_OK = 0) and, where a
 * caller needs detail, fills a caller-supplied `errstr, errstr_size` buffer.
 * Each code is either retriable (the same call may succeed later: connection
 * lost, broker down, serialization failure) or permanent (bad input, bad
 * record, bad configuration). Callers decide between back-off and quarantine
 * with hf_err_retriable() alone.
 */
#ifndef HF_ERR_H
#define HF_ERR_H

#include <stdbool.h>
#include <stddef.h>

/* ==== codes ==== */

typedef enum hf_err_e {
    HF_OK = 0,
    /* permanent: the input or configuration is wrong */
    HF_ERR_USAGE,              /* bad command line */
    HF_ERR_CONFIG,             /* bad config key or value */
    HF_ERR_INVALID,            /* record fails validation */
    HF_ERR_TRUNCATED,          /* frame or body shorter than it says */
    HF_ERR_OVERSIZE,           /* input larger than the configured limit */
    HF_ERR_BAD_MAGIC,          /* not a single-object frame */
    HF_ERR_UNKNOWN_FINGERPRINT,/* writer schema not in the catalogue */
    HF_ERR_TRAILING,           /* bytes left after the Avro body */
    HF_ERR_DECODE,             /* Avro body does not match its schema */
    HF_ERR_SCHEMA,             /* schema file is not valid Avro / incompatible */
    HF_ERR_PERMISSION,         /* file permissions refused (e.g. key file not 0600) */
    HF_ERR_NOT_FOUND,          /* file, topic, table or key does not exist */
    HF_ERR_IO,                 /* local file system error */
    HF_ERR_PG_DATA,            /* PostgreSQL rejected the data (22xxx, 23xxx) */
    HF_ERR_PG,                 /* other permanent PostgreSQL error */
    HF_ERR_KAFKA,              /* permanent Kafka error */
    HF_ERR_CONFLICT,           /* offsets compare-and-set lost: partition owned elsewhere */
    HF_ERR_INTERNAL,           /* a bug */
    /* retriable: the same operation may succeed later */
    HF_ERR_PG_TRANSIENT,       /* connection lost, 40001, 40P01, 53xxx, 57P0x */
    HF_ERR_KAFKA_TRANSIENT,    /* broker unreachable, timed out */
    HF_ERR_TIMEOUT,
    HF_ERR_BUSY,               /* resource temporarily full (spool, queue) */
    HF_ERR_STOPPED,            /* shutdown requested while waiting */
    HF_ERR__COUNT
} hf_err_t;

/* ==== inspection ==== */

/* Short stable name, e.g. "HF_ERR_TRUNCATED". Never NULL. */
const char *hf_err_name(hf_err_t err);

/* Human-readable description. Never NULL. */
const char *hf_err_str(hf_err_t err);

/* True when retrying the same operation later may succeed. */
bool hf_err_retriable(hf_err_t err);

/* Format into errstr (always NUL-terminated when errstr_size > 0) and return
 * err, so that `return hf_err_set(HF_ERR_IO, errstr, n, "open %s: %s", ...)`
 * reads as one statement. errstr may be NULL. */
hf_err_t hf_err_set(hf_err_t err, char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* HF_ERR_H */
