/*
 * hf_spool — the station's durable local spool: every event hemoflow publish
 * accepts is written here (and fsync'ed) before it is produced to Kafka, and
 * stays here until the broker acknowledged it. On-disk format, guarantees and
 * crash behaviour: docs/spool.md.
 *
 * Shape: a folder of append-only segment files <first_seq>.seg, each with an
 * append-only acknowledgement log <first_seq>.ack. A record is (sequence
 * number, topic, key, payload), zstd-compressed on its own and CRC32-checked.
 * Sequence numbers increase by one per append, across segments and runs.
 * A segment whose every record is acknowledged is deleted (never the one
 * being appended to).
 *
 * Memory: one bit per record of the segments present (the ack bitmaps) plus
 * one record's buffers; replay streams from disk.
 *
 * Threading: one hf_spool_t is used by one thread at a time. Two processes
 * must not open the same folder: hf_spool_open() takes an exclusive lock
 * (flock on <dir>/LOCK) and fails with HF_ERR_BUSY when another holds it.
 */
#ifndef HF_SPOOL_H
#define HF_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_err.h"

typedef struct hf_spool_s hf_spool_t;
typedef struct hf_spool_cursor_s hf_spool_cursor_t;

/* Largest payload + key + topic one record may hold. */
#define HF_SPOOL_RECORD_MAX (64u << 20)

/* ==== lifecycle ==== */

typedef struct hf_spool_opts_s {
    uint64_t segment_bytes; /* start a new segment once the current one is this large;
                               0 = 16 MiB */
    int zstd_level;         /* 0 = 1 (fast) */
} hf_spool_opts_t;

/* Open (creating it with mode 0700 if missing) the spool folder dir. Scans
 * every segment: checks each record's header, bounds and CRC, truncates a
 * torn record at the end of the newest segment (it was never acknowledged
 * to a caller), loads the acknowledgement logs, and deletes fully
 * acknowledged segments. A corrupt record anywhere else fails with
 * HF_ERR_IO-class errors and errstr naming the file and byte offset; the
 * spool is never silently skipped past. opts may be NULL. NULL on failure
 * with errstr filled; *err_out (may be NULL) receives the code
 * (HF_ERR_BUSY when another process holds the folder). */
hf_spool_t *hf_spool_open(const char *dir, const hf_spool_opts_t *opts, hf_err_t *err_out,
                          char *errstr, size_t errstr_size);

/* fsync pending acknowledgements and close. NULL is a no-op. Cursors must
 * have been destroyed first. */
void hf_spool_close(hf_spool_t *sp);

/* ==== writing ==== */

/* Append one record; *seq_out (may be NULL) receives its sequence number.
 * topic is a NUL-terminated string; key and payload are byte ranges (key
 * may be NULL when key_len is 0). All are copied. With sync = true the
 * record and, when this append created a segment, the folder are fsync'ed
 * before the call returns; with sync = false call hf_spool_sync() before
 * telling anyone the record is safe. Errors: HF_ERR_OVERSIZE (record larger
 * than HF_SPOOL_RECORD_MAX), HF_ERR_IO (errstr names the file); after an I/O
 * error the record is not in the spool. */
hf_err_t hf_spool_append(hf_spool_t *sp, const char *topic, const void *key, size_t key_len,
                         const void *payload, size_t len, bool sync, uint64_t *seq_out,
                         char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

/* Mark seq delivered. Acks are written to the segment's ack log at once and
 * fsync'ed by hf_spool_sync() / hf_spool_close(): a crash may forget a
 * recent ack, which only means the record is sent again (duplicates are
 * removed downstream by event_id), never that one is lost. Acking an
 * unknown or already-acknowledged seq is a no-op. Deletes the segment when
 * it becomes fully acknowledged (unless it is the one being appended to). */
hf_err_t hf_spool_ack(hf_spool_t *sp, uint64_t seq, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* fsync the current segment and every ack log written since the last call. */
hf_err_t hf_spool_sync(hf_spool_t *sp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* ==== inspection ==== */

uint64_t hf_spool_pending(const hf_spool_t *sp);   /* records not yet acknowledged */
uint64_t hf_spool_next_seq(const hf_spool_t *sp);  /* seq the next append gets */
size_t hf_spool_segments(const hf_spool_t *sp);    /* segment files present */
const char *hf_spool_dir(const hf_spool_t *sp);    /* owned by sp */

/* ==== replay ==== */

/* One record, as read back. Every pointer is borrowed from the cursor and
 * valid until the next hf_spool_cursor_next() or destroy. topic and key are
 * NUL-terminated (key may contain NULs before key_len). */
typedef struct hf_spool_rec_s {
    uint64_t seq;
    const char *topic;
    const char *key;
    size_t key_len;
    const void *payload;
    size_t len;
} hf_spool_rec_t;

/* A cursor yields every record not acknowledged at the time it is read, in
 * sequence order, from the oldest segment up to the end of the spool as it
 * is when next() is called (records appended while the cursor is open are
 * yielded too). It reads one record at a time. */
hf_spool_cursor_t *hf_spool_cursor_new(hf_spool_t *sp);
void hf_spool_cursor_destroy(hf_spool_cursor_t *cur); /* NULL is a no-op */

/* HF_OK with *out filled; HF_ERR_NOT_FOUND at the end; HF_ERR_IO or
 * HF_ERR_DECODE when a record cannot be read back (errstr names file and
 * offset). */
hf_err_t hf_spool_cursor_next(hf_spool_cursor_t *cur, hf_spool_rec_t *out, char *errstr,
                              size_t errstr_size) __attribute__((warn_unused_result));

/* ==== checksum ==== */

/* CRC-32 (IEEE 802.3, as zlib's crc32()) of n bytes, continuing from crc
 * (start with 0). Exposed for tests and tools. */
uint32_t hf_spool_crc32(uint32_t crc, const void *p, size_t n);

#endif /* HF_SPOOL_H */
