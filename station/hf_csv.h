/*
 * hf_csv — a streaming RFC 4180 reader for station exports: quoted fields,
 * doubled quotes, embedded commas and newlines, CRLF or LF line ends, an
 * optional UTF-8 byte-order mark. Bytes pass through unchanged (UTF-8 is
 * checked later, per field). Memory is bounded by max_record_bytes.
 */
#ifndef HF_CSV_H
#define HF_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "hf_err.h"

typedef struct hf_csv_s hf_csv_t;

typedef struct hf_csv_row_s {
    char **cells;       /* NUL-terminated cells, borrowed until the next call */
    size_t ncells;
    unsigned long line; /* physical line (1-based) where the record starts */
} hf_csv_row_t;

/* f is borrowed and read sequentially. max_record_bytes bounds one record
 * (all its cells, quotes removed). */
hf_csv_t *hf_csv_new(FILE *f, size_t max_record_bytes);
void hf_csv_destroy(hf_csv_t *c); /* NULL is a no-op */

/* Next record. Blank lines are skipped.
 *   HF_OK             *row filled
 *   HF_ERR_NOT_FOUND  end of input
 *   HF_ERR_OVERSIZE   the record exceeds max_record_bytes; it was skipped
 *   HF_ERR_INVALID    bad quoting (text after a closing quote, a quote
 *                     inside an unquoted field, an unterminated quoted
 *                     field) or a NUL byte; the rest of the record was
 *                     skipped
 *   HF_ERR_IO         read error
 * On errors row->line says where the record started and errstr why; the
 * next call continues with the following record. */
hf_err_t hf_csv_next(hf_csv_t *c, hf_csv_row_t *row, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

#endif /* HF_CSV_H */
