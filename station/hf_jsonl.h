/*
 * hf_jsonl — JSON Lines station exports: a bounded line reader and the
 * rendering of one JSON object into hf_field_t text fields (jansson).
 *   string → as is; integer → decimal; real → shortest text that reads back
 *   to the same double; true/false → "true"/"false"; null → absent (NULL);
 *   array of strings → joined with '|' (the `dins` list); anything else
 *   (objects, nested arrays, other arrays) → rejected.
 */
#ifndef HF_JSONL_H
#define HF_JSONL_H

#include <stddef.h>
#include <stdio.h>

#include "hf_err.h"
#include "hf_station.h"

/* ==== line reader ==== */

typedef struct hf_jsonl_lines_s hf_jsonl_lines_t;

hf_jsonl_lines_t *hf_jsonl_lines_new(FILE *f, size_t max_line_bytes); /* f borrowed */
void hf_jsonl_lines_destroy(hf_jsonl_lines_t *l);                     /* NULL is a no-op */

/* Next line without its "\n" / "\r\n". HF_OK, HF_ERR_NOT_FOUND at the end,
 * HF_ERR_OVERSIZE when the line is longer than the limit (it was skipped),
 * HF_ERR_IO. *line is borrowed until the next call; *lineno is 1-based. */
hf_err_t hf_jsonl_lines_next(hf_jsonl_lines_t *l, const char **line, size_t *len,
                             unsigned long *lineno)
    __attribute__((warn_unused_result));

/* ==== rendering ==== */

typedef struct hf_jsonl_row_s {
    hf_field_t *fields; /* owned by the row */
    size_t n;
    char **owned;       /* strings to free */
    size_t nowned;
} hf_jsonl_row_t;

/* Parse line[0..len) as one JSON object. HF_OK with row filled (free it
 * with hf_jsonl_row_free), or HF_ERR_INVALID with *rej filled: reasons
 * json_syntax, json_not_object, json_value_type, and not_finite for a number
 * beyond the double range (1e999; JSON has no NaN or Infinity literal). */
hf_err_t hf_jsonl_render(const char *line, size_t len, hf_jsonl_row_t *row, hf_reject_t *rej)
    __attribute__((warn_unused_result));
void hf_jsonl_row_free(hf_jsonl_row_t *row);

#endif /* HF_JSONL_H */
