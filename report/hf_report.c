/*
 * hf_report — reading the report from the published views (see
 * hf_report.h): the period and province checked, one query per table,
 * every value turned into display text by PostgreSQL so that the three
 * writers show the same thing. Queries read only hemoflow.ind_* and
 * hf_settings, which the analyst role may read.
 */
#include "hf_report.h"

#include <stdlib.h>
#include <string.h>

#include "hf_cal.h"
#include "hf_mem.h"
#include "hf_province.h"
#include "hf_report_int.h"

/* ==== SQL pieces ==== */

/* $1 from, $2 to, $3 province ('' = all) */
#define HF__WHERE_MONTH                                                                           \
    " WHERE month >= date_trunc('month', $1::date) AND month <= $2::date"                         \
    " AND ($3 = '' OR province_code = $3)"
#define HF__KEYS "province_code, province, to_char(month, 'YYYY-MM') AS period"
/* a published count; "*" when suppressed */
#define HF__N(x) "coalesce(" x "::text, '*') AS " x
/* a rate over den; "-" when den is 0, "*" when withheld */
#define HF__R(x, den) "CASE WHEN " den " = 0 THEN '-' ELSE coalesce(" x "::text, '*') END AS " x

typedef struct hf__sec_def_s {
    const char *id, *title, *note;
    int nkeys;
    const char *sql;
} hf__sec_def_t;

static const hf__sec_def_t hf__secs[] = {
    {"donation_rate", "Donations per 1000 population",
     "per_1000 = donations / population x 1000 in the month; annualized x 12", 3,
     "SELECT " HF__KEYS ", " HF__N("donations") ", population::text,"
     " coalesce(per_1000::text, '*') AS per_1000,"
     " coalesce(per_1000_annualized::text, '*') AS per_1000_annualized"
     " FROM hemoflow.ind_donation_rate" HF__WHERE_MONTH " ORDER BY 1, month"},
    {"days_of_supply", "Days of supply (latest snapshot of each month)",
     "days = units on hand / (issues in the 28 days to the snapshot / 28)", 5,
     "SELECT province_code, province, to_char(snapshot_date, 'YYYY-MM-DD') AS period,"
     " product_class, blood_group, " HF__N("on_hand") ", " HF__N("issues_28d") ", "
     HF__R("days_of_supply", "issues_28d")
     " FROM (SELECT s.*, rank() OVER (PARTITION BY province_code,"
     " date_trunc('month', snapshot_date) ORDER BY snapshot_date DESC) AS rk"
     " FROM hemoflow.ind_days_of_supply s"
     " WHERE snapshot_date >= date_trunc('month', $1::date) AND snapshot_date <= $2::date"
     " AND ($3 = '' OR province_code = $3)) x WHERE rk = 1"
     " ORDER BY 1, x.snapshot_date, 4, abo = 'all', 5"},
    {"wastage", "Wastage by component and reason",
     "wastage_pct = discards / issues x 100 (issues of the component, all reasons)", 5,
     "SELECT " HF__KEYS ", product_class, reason, " HF__N("discards") ", " HF__N("issues") ", "
     HF__R("wastage_pct", "issues") " FROM hemoflow.ind_wastage" HF__WHERE_MONTH
     " ORDER BY 1, month, product_class = 'all', 4, reason = 'all', 5"},
    {"screening_positivity", "Screening positivity by marker, first-time vs repeat donors",
     "positivity_pct = donations reactive / donations tested x 100 (final results)", 5,
     "SELECT " HF__KEYS ", marker, donor_status, " HF__N("tested") ", " HF__N("reactive") ", "
     HF__R("positivity_pct", "tested") " FROM hemoflow.ind_screening_positivity"
     HF__WHERE_MONTH " ORDER BY 1, month, 4, donor_status = 'all', 5"},
    {"deferral_rate", "Deferral rate by reason",
     "deferral_pct = deferrals / eligibility assessments x 100", 4,
     "SELECT " HF__KEYS ", reason, " HF__N("assessments") ", " HF__N("deferrals") ", "
     HF__R("deferral_pct", "assessments") " FROM hemoflow.ind_deferral_rate" HF__WHERE_MONTH
     " ORDER BY 1, month, reason = 'all', 4"},
    {"donor_return", "Donors returning within 12 months",
     "return_pct = donors of the month who donated again within 12 months / donors x 100", 3,
     "SELECT " HF__KEYS ", " HF__N("donors") ", " HF__N("returned") ", "
     HF__R("return_pct", "donors") ","
     " CASE WHEN follow_up_complete THEN 'yes' ELSE 'no' END AS follow_up_complete"
     " FROM hemoflow.ind_donor_return" HF__WHERE_MONTH " ORDER BY 1, month"},
    {"plasma_interval", "Plasma donation interval compliance",
     "compliance_pct = plasma donations within both rules / plasma donations x 100", 3,
     "SELECT " HF__KEYS ", " HF__N("plasma_donations") ", " HF__N("short_gap") ", "
     HF__N("over_year") ", " HF__N("compliant") ", "
     HF__R("compliance_pct", "plasma_donations") " FROM hemoflow.ind_plasma_interval"
     HF__WHERE_MONTH " ORDER BY 1, month"},
    {"adverse_reactions", "Adverse reactions per 1000 units transfused",
     "per_1000_units = recipient reactions / units transfused x 1000", 5,
     "SELECT " HF__KEYS ", category, imputability, " HF__N("reactions") ", "
     HF__N("units_transfused") ", " HF__R("per_1000_units", "units_transfused")
     " FROM hemoflow.ind_adverse_reactions" HF__WHERE_MONTH
     " ORDER BY 1, month, category = 'all', 4, imputability = 'all', 5"},
    {"transfers", "Units transferred between provinces",
     "units sent by a province's facilities to another province's (movement transfer)", 5,
     "SELECT from_province_code AS province_code, from_province AS province,"
     " to_char(month, 'YYYY-MM') AS period, to_province_code, to_province, " HF__N("units")
     " FROM hemoflow.ind_transfers"
     " WHERE month >= date_trunc('month', $1::date) AND month <= $2::date"
     " AND ($3 = '' OR from_province_code = $3 OR to_province_code = $3)"
     " ORDER BY 1, month, 4"},
};

#define HF__NSECS ((int)(sizeof(hf__secs) / sizeof(hf__secs[0])))

static const char *hf__summary_sql =
    "SELECT d.province_code, d.province, to_char(d.month, 'YYYY-MM') AS period,"
    " coalesce(d.donations::text, '*') AS donations,"
    " coalesce(d.per_1000_annualized::text, '*') AS per_1000_year,"
    " CASE WHEN s.province_code IS NULL THEN '' WHEN s.issues_28d = 0 THEN '-'"
    "  ELSE coalesce(s.days_of_supply::text, '*') END AS red_cell_days,"
    " CASE WHEN w.province_code IS NULL THEN '' WHEN w.issues = 0 THEN '-'"
    "  ELSE coalesce(w.wastage_pct::text, '*') END AS wastage_pct,"
    " CASE WHEN f.province_code IS NULL THEN '' WHEN f.assessments = 0 THEN '-'"
    "  ELSE coalesce(f.deferral_pct::text, '*') END AS deferral_pct,"
    " CASE WHEN r.province_code IS NULL THEN '' WHEN r.donors = 0 THEN '-'"
    "  ELSE coalesce(r.return_pct::text, '*') END AS return_pct"
    " FROM hemoflow.ind_donation_rate d"
    " LEFT JOIN LATERAL (SELECT * FROM hemoflow.ind_days_of_supply s"
    "  WHERE s.province_code = d.province_code AND s.product_class = 'red_cells'"
    "  AND s.abo = 'all' AND s.snapshot_date >= d.month"
    "  AND s.snapshot_date < d.month + interval '1 month' AND s.snapshot_date <= $2::date"
    "  ORDER BY s.snapshot_date DESC LIMIT 1) s ON true"
    " LEFT JOIN hemoflow.ind_wastage w ON w.province_code = d.province_code"
    "  AND w.month = d.month AND w.product_class = 'all' AND w.reason = 'all'"
    " LEFT JOIN hemoflow.ind_deferral_rate f ON f.province_code = d.province_code"
    "  AND f.month = d.month AND f.reason = 'all'"
    " LEFT JOIN hemoflow.ind_donor_return r ON r.province_code = d.province_code"
    "  AND r.month = d.month"
    " WHERE d.month >= date_trunc('month', $1::date) AND d.month <= $2::date"
    " AND ($3 = '' OR d.province_code = $3)"
    " ORDER BY 1, d.month";

/* Chart data: the last month of the period ($4 = its first day). */
static const char *hf__supply_sql =
    "SELECT province_code, province, blood_group,"
    " CASE WHEN issues_28d = 0 THEN '-' ELSE coalesce(days_of_supply::text, '*') END,"
    " to_char(snapshot_date, 'YYYY-MM-DD')"
    " FROM (SELECT s.*, rank() OVER (PARTITION BY province_code ORDER BY snapshot_date DESC)"
    "  AS rk FROM hemoflow.ind_days_of_supply s WHERE product_class = 'red_cells'"
    "  AND snapshot_date >= date_trunc('month', $1::date) AND snapshot_date <= $2::date"
    "  AND ($3 = '' OR province_code = $3)) x WHERE rk = 1 ORDER BY 1, 3";
static const char *hf__trend_sql =
    "SELECT province_code, province, to_char(month, 'YYYY-MM'),"
    " coalesce(donations::text, '*') FROM hemoflow.ind_donation_rate" HF__WHERE_MONTH
    " ORDER BY 1, month";
static const char *hf__waste_sql =
    "SELECT province_code, province, reason,"
    " CASE WHEN issues = 0 THEN '-' ELSE coalesce(wastage_pct::text, '*') END"
    " FROM hemoflow.ind_wastage WHERE month = $4::date AND product_class = 'all'"
    " AND ($3 = '' OR province_code = $3) AND $1::date <= $2::date ORDER BY 1, 3";
static const char *hf__pos_sql =
    "SELECT province_code, province, marker,"
    " CASE WHEN tested = 0 THEN '-' ELSE coalesce(positivity_pct::text, '*') END"
    " FROM hemoflow.ind_screening_positivity WHERE month = $4::date AND donor_status = 'all'"
    " AND ($3 = '' OR province_code = $3) AND $1::date <= $2::date ORDER BY 1, 3";

/* ==== helpers ==== */

bool hf_report_format_parse(const char *s, hf_report_format_t *out)
{
    if (!s)
        return false;
    if (strcmp(s, "text") == 0)
        *out = HF_REPORT_TEXT;
    else if (strcmp(s, "csv") == 0)
        *out = HF_REPORT_CSV;
    else if (strcmp(s, "html") == 0)
        *out = HF_REPORT_HTML;
    else
        return false;
    return true;
}

static bool hf__parse_date(const char *s, int32_t *days)
{
    int y, m, d;
    char tail;
    if (!s || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1 ||
        !hf_cal_date_valid(y, m, d))
        return false;
    *days = (int32_t)hf_cal_days_from_civil(y, m, d);
    return true;
}

static hf_err_t hf__fail(PGconn *c, const char *what, char *errstr, size_t errstr_size)
{
    const char *m = PQerrorMessage(c);
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    bool lost = PQstatus(c) != CONNECTION_OK;
    return hf_err_set(lost ? HF_ERR_PG_TRANSIENT : HF_ERR_PG, errstr, errstr_size, "%s: %.*s",
                      what, (int)n, m);
}

static PGresult *hf__q(PGconn *c, const char *sql, const char *const p[4], int np)
{
    return PQexecParams(c, sql, np, NULL, p, NULL, NULL, 0);
}

static hf_err_t hf__settings(PGconn *c, hf__report_t *r, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexec(
        c, "SELECT to_regclass('hemoflow.ind_donation_rate') IS NOT NULL,"
           " (SELECT value FROM hemoflow.hf_settings WHERE key = 'indicators_refreshed_at'),"
           " hemoflow.hf_setting_int('suppress_max', 7), hemoflow.hf_setting_int('suppress_round', 5)");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        /* a warehouse before migration 0004 has no hf_setting_int */
        return hf__fail(c, "read the indicator settings (run 'hemoflow migrate' first?)", errstr,
                        errstr_size);
    }
    hf_err_t err = HF_OK;
    if (PQgetvalue(res, 0, 0)[0] != 't')
        err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                         "warehouse has no indicator views: run 'hemoflow migrate'");
    snprintf(r->refreshed, sizeof(r->refreshed), "%s", PQgetvalue(res, 0, 1));
    snprintf(r->suppress_max, sizeof(r->suppress_max), "%s", PQgetvalue(res, 0, 2));
    snprintf(r->suppress_round, sizeof(r->suppress_round), "%s", PQgetvalue(res, 0, 3));
    PQclear(res);
    return err;
}

void hf__report_legend(const hf__report_t *r, char *buf, size_t size)
{
    long mx = atol(r->suppress_max), rd = atol(r->suppress_round);
    char a[96] = "", b[96] = "";
    if (mx >= 1)
        snprintf(a, sizeof(a), "counts of 1-%ld are shown as *", mx);
    else
        snprintf(a, sizeof(a), "no counts are suppressed");
    if (rd > 1)
        snprintf(b, sizeof(b), "; other counts are rounded to the nearest %ld", rd);
    snprintf(buf, size,
             "%s%s; rates come from the unrounded counts and are withheld (*) where a count "
             "they use is suppressed; - = nothing to divide by",
             a, b);
}

static void hf__report_free(hf__report_t *r)
{
    PQclear(r->summary.res);
    for (int i = 0; i < r->nsec; i++)
        PQclear(r->sec[i].res);
    PQclear(r->supply);
    PQclear(r->trend);
    PQclear(r->waste);
    PQclear(r->pos);
}

/* ==== the run ==== */

static hf_err_t hf__load(PGconn *c, hf__report_t *r, const char *const p[4], char *errstr,
                         size_t errstr_size)
{
    PGresult *res;
    r->summary = (hf__rsec_t){"summary", "Summary by province and month",
                              "red_cell_days: latest snapshot of the month, all groups;"
                              " wastage_pct: all components and reasons",
                              3, NULL};
    res = hf__q(c, hf__summary_sql, p, 3);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return hf__fail(c, "summary", errstr, errstr_size);
    }
    r->summary.res = res;
    bool all = !r->o->summary_only || r->o->format == HF_REPORT_HTML;
    for (int i = 0; all && i < HF__NSECS; i++) {
        res = hf__q(c, hf__secs[i].sql, p, 3);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            PQclear(res);
            return hf__fail(c, hf__secs[i].id, errstr, errstr_size);
        }
        r->sec[r->nsec++] = (hf__rsec_t){hf__secs[i].id, hf__secs[i].title, hf__secs[i].note,
                                         hf__secs[i].nkeys, res};
    }
    if (r->o->format != HF_REPORT_HTML)
        return HF_OK;
    struct {
        const char *sql, *what;
        PGresult **dst;
        int np;
    } charts[] = {
        {hf__supply_sql, "days of supply chart", &r->supply, 3},
        {hf__trend_sql, "donations chart", &r->trend, 3},
        {hf__waste_sql, "wastage chart", &r->waste, 4},
        {hf__pos_sql, "positivity chart", &r->pos, 4},
    };
    for (size_t i = 0; i < sizeof(charts) / sizeof(charts[0]); i++) {
        res = hf__q(c, charts[i].sql, p, charts[i].np);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            PQclear(res);
            return hf__fail(c, charts[i].what, errstr, errstr_size);
        }
        *charts[i].dst = res;
    }
    return HF_OK;
}

hf_err_t hf_report_run(const hf_config_t *cfg, const hf_report_opts_t *o, FILE *out,
                       char *errstr, size_t errstr_size)
{
    int32_t from, to;
    if (!hf__parse_date(o->from, &from) || !hf__parse_date(o->to, &to) || to < from)
        return hf_err_set(HF_ERR_USAGE, errstr, errstr_size,
                          "--from and --to need dates YYYY-MM-DD with from <= to");
    if (o->province && (strlen(o->province) != 2 || hf_province_index(o->province) < 0))
        return hf_err_set(HF_ERR_USAGE, errstr, errstr_size,
                          "--province: '%s' is not one of the 31 province codes (GB/T 2260)",
                          o->province);
    hf__report_t r;
    memset(&r, 0, sizeof(r));
    r.o = o;
    int64_t y;
    int m, d;
    hf_cal_civil_from_days(from, &y, &m, &d);
    snprintf(r.month_from, sizeof(r.month_from), "%04d-%02d-01", (int)y, m);
    hf_cal_civil_from_days(to, &y, &m, &d);
    snprintf(r.month_last, sizeof(r.month_last), "%04d-%02d-01", (int)y, m);
    hf_cal_date_format(to, r.to);

    char *ci = hf_config_pg_conninfo(cfg);
    PGconn *c = PQconnectdb(ci);
    hf_free(ci);
    hf_err_t err = HF_OK;
    if (PQstatus(c) != CONNECTION_OK)
        err = hf_err_set(HF_ERR_PG_TRANSIENT, errstr, errstr_size, "connect: %s",
                         PQerrorMessage(c));
    if (!err)
        err = hf__settings(c, &r, errstr, errstr_size);
    char fromtxt[11];
    hf_cal_date_format(from, fromtxt);
    const char *p[4] = {fromtxt, r.to, o->province ? o->province : "", r.month_last};
    if (!err)
        err = hf__load(c, &r, p, errstr, errstr_size);
    PQfinish(c);
    if (!err) {
        switch (o->format) {
        case HF_REPORT_TEXT: hf__report_text(&r, out); break;
        case HF_REPORT_CSV: hf__report_csv(&r, out); break;
        case HF_REPORT_HTML: hf__report_html(&r, out); break;
        }
        if (fflush(out) != 0 || ferror(out))
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "write the report: I/O error");
    }
    hf__report_free(&r);
    return err;
}
