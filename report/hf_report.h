/*
 * hf_report — `hemoflow report`: reads the published indicator views
 * (hemoflow.ind_*, docs/indicators.md) for a range of months and one or all
 * provinces, and writes them as a terminal table, CSV, or one
 * self-contained HTML page with inline SVG charts. Every figure comes from
 * the published views, so small-count suppression applies to all three
 * formats; connecting as the analyst role is enough.
 */
#ifndef HF_REPORT_H
#define HF_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "hf_config.h"
#include "hf_err.h"

typedef enum hf_report_format_e {
    HF_REPORT_TEXT, /* aligned tables for a terminal */
    HF_REPORT_CSV,  /* one long table: indicator, province, period, breakdown, measure, value */
    HF_REPORT_HTML, /* one page, inline SVG, no external resources */
} hf_report_format_t;

typedef struct hf_report_opts_s {
    const char *from;     /* YYYY-MM-DD; the report covers whole months from its month */
    const char *to;       /* YYYY-MM-DD, inclusive */
    const char *province; /* two-digit code, or NULL for all */
    hf_report_format_t format;
    bool summary_only;    /* text/CSV: only the summary table */
} hf_report_opts_t;

/* Parse "text", "csv" or "html"; false when it is none of them. */
bool hf_report_format_parse(const char *s, hf_report_format_t *out);

/* Connect with the pg.* settings, read the published views and write the
 * report to out (not closed). Strings in o are borrowed. Errors:
 * HF_ERR_USAGE (bad dates or province), HF_ERR_SCHEMA (warehouse without
 * indicator views), HF_ERR_PG, HF_ERR_PG_TRANSIENT, HF_ERR_IO. */
hf_err_t hf_report_run(const hf_config_t *cfg, const hf_report_opts_t *o, FILE *out,
                       char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

#endif /* HF_REPORT_H */
