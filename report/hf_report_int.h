/*
 * hf_report_int — what the files of report/ share: the report read from the
 * published views (hf_report.c), written by hf_report_text.c (text, CSV)
 * and hf_report_html.c (HTML with SVG charts). Not a public API.
 */
#ifndef HF_REPORT_INT_H
#define HF_REPORT_INT_H

#include <libpq-fe.h>
#include <stdio.h>

#include "hf_report.h"

/* One table of the report. Every column of res is display text: counts as
 * published ("*" = suppressed), rates ("*" = withheld, "-" = denominator
 * 0), "" = no data. The first nkeys columns identify the row:
 * province_code, province, period, then the breakdown columns. */
typedef struct hf__rsec_s {
    const char *id;    /* indicator name in CSV, e.g. "wastage" */
    const char *title; /* heading */
    const char *note;  /* the formula, one line */
    int nkeys;
    PGresult *res;     /* owned */
} hf__rsec_t;

#define HF__RSEC_MAX 12

typedef struct hf__report_s {
    const hf_report_opts_t *o;
    char month_from[11];   /* first day of the first month covered */
    char month_last[11];   /* first day of the last month covered */
    char to[11];           /* last day covered (--to) */
    char refreshed[40];    /* hf_settings.indicators_refreshed_at, "" if never */
    char suppress_max[16]; /* as applied by the views */
    char suppress_round[16];
    hf__rsec_t summary;
    hf__rsec_t sec[HF__RSEC_MAX];
    int nsec;
    /* chart data (HTML only), each owned */
    PGresult *supply; /* province_code, province, blood_group, days_of_supply text, snapshot_date */
    PGresult *trend;  /* province_code, province, month, donations text */
    PGresult *waste;  /* province_code, province, reason, wastage_pct text */
    PGresult *pos;    /* province_code, province, marker, positivity_pct text */
} hf__report_t;

/* The legend line: what * and rounding mean under the settings in force. */
void hf__report_legend(const hf__report_t *r, char *buf, size_t size);

void hf__report_text(const hf__report_t *r, FILE *out);
void hf__report_csv(const hf__report_t *r, FILE *out);
void hf__report_html(const hf__report_t *r, FILE *out);

#endif /* HF_REPORT_INT_H */
