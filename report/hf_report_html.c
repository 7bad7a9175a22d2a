/*
 * hf_report_html — the report as one self-contained HTML page: inline CSS
 * and SVG only (no script, no external font, image or stylesheet), so it
 * can be mailed or opened offline. Four charts, then every table:
 *   - red-cell days of supply by province and blood group (heat map);
 *   - donations per month, one small bar chart per province;
 *   - wastage by reason and screening positivity by marker in the last
 *     month of the period (heat maps, province by reason / marker).
 * Suppressed values ("*") are drawn grey and labelled *, never as a number.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hf_mem.h"
#include "hf_report_int.h"

/* ==== helpers ==== */

static void hf__esc(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
    }
}

/* A display value as a number; false for "*", "-", "" and anything else. */
static bool hf__num(const char *s, double *v)
{
    if (!s || !*s || *s == '*' || *s == '-')
        return false;
    char *end;
    *v = strtod(s, &end);
    return *end == '\0' && isfinite(*v);
}

/* Distinct values of column col in res, in order of first appearance,
 * after the preferred ones that occur, or all of them with all_pref (pref
 * may be NULL). Strings borrowed
 * from res; *n set; free the array with hf_free. */
static const char **hf__distinct(const PGresult *res, int col, const char *const *pref,
                                 bool all_pref, int *n)
{
    int nr = PQntuples(res), k = 0, np = 0;
    while (pref && pref[np])
        np++;
    const char **v = hf_calloc((size_t)(nr + np) + 1, sizeof(char *));
    for (int p = 0; p < np; p++) {
        bool found = all_pref;
        for (int i = 0; i < nr && !found; i++)
            found = strcmp(PQgetvalue(res, i, col), pref[p]) == 0;
        if (found)
            v[k++] = pref[p];
    }
    for (int i = 0; i < nr; i++) {
        const char *x = PQgetvalue(res, i, col);
        bool seen = false;
        for (int j = 0; j < k && !seen; j++)
            seen = strcmp(v[j], x) == 0;
        if (!seen)
            v[k++] = x;
    }
    *n = k;
    return v;
}

static const char *hf__lookup(const PGresult *res, const char *prov, const char *key)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (strcmp(PQgetvalue(res, i, 0), prov) == 0 && strcmp(PQgetvalue(res, i, 2), key) == 0)
            return PQgetvalue(res, i, 3);
    return NULL;
}

static const char *hf__prov_name(const PGresult *res, const char *prov)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (strcmp(PQgetvalue(res, i, 0), prov) == 0)
            return PQgetvalue(res, i, 1);
    return prov;
}

/* ==== heat maps ==== */

typedef const char *(*hf__color_fn)(double v, double max, char *buf, size_t size);

/* Days of supply: red under 2, orange under 4, yellow under 6, green. */
static const char *hf__dos_color(double v, double max, char *buf, size_t size)
{
    (void)max;
    snprintf(buf, size, "%s", v < 2 ? "#d7301f" : v < 4 ? "#fc8d59" : v < 6 ? "#fdcc8a" : "#78c679");
    return buf;
}

/* White to a deep red-purple, in proportion to v / max. */
static const char *hf__seq_color(double v, double max, char *buf, size_t size)
{
    double t = max > 0 ? v / max : 0;
    if (t < 0)
        t = 0;
    if (t > 1)
        t = 1;
    int r = (int)lround(255 - t * (255 - 136)), g = (int)lround(255 - t * (255 - 20)),
        b = (int)lround(255 - t * (255 - 90));
    snprintf(buf, size, "#%02x%02x%02x", r, g, b);
    return buf;
}

/* res: province_code, province, column key, value text. */
static void hf__heatmap(FILE *out, const char *id, const char *title, const char *caption,
                        const PGresult *res, const char *const *col_order, bool fixed_cols,
                        hf__color_fn color, const char *unit)
{
    fprintf(out, "<section class=\"chart\">\n<h2>");
    hf__esc(out, title);
    fprintf(out, "</h2>\n<p class=\"cap\">");
    hf__esc(out, caption);
    fprintf(out, "</p>\n");
    int nrow = 0, ncol = 0;
    const char **rows = hf__distinct(res, 0, NULL, false, &nrow);
    const char **cols = hf__distinct(res, 2, col_order, fixed_cols, &ncol);
    if (nrow == 0) {
        fprintf(out, "<p class=\"empty\" id=\"%s-empty\">No data in this period.</p>\n</section>\n",
                id);
        hf_free(rows);
        hf_free(cols);
        return;
    }
    double max = 0, v;
    for (int i = 0; i < PQntuples(res); i++)
        if (hf__num(PQgetvalue(res, i, 3), &v) && v > max)
            max = v;
    const int lw = 130, cw = 64, ch = 22, top = 96;
    int w = lw + ncol * cw + 10, h = top + nrow * ch + 10;
    fprintf(out,
            "<svg id=\"%s\" class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
            id, w, h, w, h);
    hf__esc(out, title);
    fprintf(out, "\">\n");
    for (int c = 0; c < ncol; c++) {
        fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"colhead\" transform=\"rotate(-35 %d %d)\">",
                lw + c * cw + 6, top - 8, lw + c * cw + 6, top - 8);
        hf__esc(out, cols[c]);
        fprintf(out, "</text>\n");
    }
    char buf[16];
    for (int i = 0; i < nrow; i++) {
        int y = top + i * ch;
        fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"rowhead\">", lw - 6, y + 15);
        hf__esc(out, rows[i]);
        fprintf(out, " ");
        hf__esc(out, hf__prov_name(res, rows[i]));
        fprintf(out, "</text>\n");
        for (int c = 0; c < ncol; c++) {
            const char *val = hf__lookup(res, rows[i], cols[c]);
            const char *fill = "#ffffff";
            const char *cls = "cell";
            if (!val || !*val) {
                fill = "#f7f7f7";
                val = "";
            } else if (hf__num(val, &v)) {
                fill = color(v, max, buf, sizeof(buf));
            } else if (*val == '*') {
                fill = "#d9d9d9";
                cls = "cell suppressed";
            } else {
                fill = "#f4f4f4";
            }
            fprintf(out,
                    "<rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
                    "<title>",
                    cls, lw + c * cw, y, cw - 2, ch - 2, fill);
            hf__esc(out, rows[i]);
            fprintf(out, " ");
            hf__esc(out, cols[c]);
            fprintf(out, ": ");
            hf__esc(out, *val ? val : "no data");
            if (*val && *val != '*' && *val != '-')
                fprintf(out, " %s", unit);
            fprintf(out, "</title></rect>\n");
            /* white text on the darker half of the sequential scale */
            bool dark = color == hf__seq_color && hf__num(val, &v) && max > 0 && v / max > 0.55;
            if (*val)
                fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"val%s\">%s</text>\n",
                        lw + c * cw + (cw - 2) / 2, y + 15, dark ? " light" : "", val);
        }
    }
    fprintf(out, "</svg>\n</section>\n");
    hf_free(rows);
    hf_free(cols);
}

/* ==== donations trend ==== */

/* One small bar chart per province: donations per month (published counts). */
static void hf__trend(FILE *out, const PGresult *res)
{
    fprintf(out, "<section class=\"chart\">\n<h2>Donations per month</h2>\n<p class=\"cap\">"
                 "Donations collected per province and month (published counts; * = "
                 "suppressed). Each province has its own scale.</p>\n");
    int nprov = 0, nmon = 0;
    const char **provs = hf__distinct(res, 0, NULL, false, &nprov);
    const char **mons = hf__distinct(res, 2, NULL, false, &nmon);
    /* months sort as text (YYYY-MM) */
    for (int i = 1; i < nmon; i++)
        for (int j = i; j > 0 && strcmp(mons[j - 1], mons[j]) > 0; j--) {
            const char *t = mons[j];
            mons[j] = mons[j - 1];
            mons[j - 1] = t;
        }
    if (nprov == 0) {
        fprintf(out, "<p class=\"empty\" id=\"chart-trend-empty\">No data in this period.</p>\n"
                     "</section>\n");
        hf_free(provs);
        hf_free(mons);
        return;
    }
    const int pw = 170, ph = 96, per_row = 6, gap = 8;
    int nrows = (nprov + per_row - 1) / per_row;
    int w = per_row * (pw + gap), h = nrows * (ph + gap);
    fprintf(out,
            "<svg id=\"chart-trend\" class=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
            "aria-label=\"Donations per month\">\n",
            w, h, w, h);
    for (int p = 0; p < nprov; p++) {
        int x0 = (p % per_row) * (pw + gap), y0 = (p / per_row) * (ph + gap);
        double max = 0, v;
        for (int m = 0; m < nmon; m++)
            if (hf__num(hf__lookup(res, provs[p], mons[m]), &v) && v > max)
                max = v;
        fprintf(out, "<g class=\"panel\" transform=\"translate(%d %d)\">\n", x0, y0);
        fprintf(out, "<rect class=\"frame\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\"/>\n", pw,
                ph);
        fprintf(out, "<text x=\"6\" y=\"14\" class=\"ptitle\">");
        hf__esc(out, provs[p]);
        fprintf(out, " ");
        hf__esc(out, hf__prov_name(res, provs[p]));
        fprintf(out, "</text>\n");
        const int bx = 6, by = 22, bw = pw - 12, bh = ph - 40;
        double slot = (double)bw / nmon;
        for (int m = 0; m < nmon; m++) {
            const char *val = hf__lookup(res, provs[p], mons[m]);
            double bxm = bx + m * slot + slot * 0.15, bwm = slot * 0.7;
            if (val && hf__num(val, &v)) {
                double hh = max > 0 ? v / max * bh : 0;
                fprintf(out,
                        "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                        "<title>%s: %s</title></rect>\n",
                        bxm, by + bh - hh, bwm, hh, mons[m], val);
            } else if (val && *val == '*') {
                fprintf(out,
                        "<rect class=\"bar suppressed\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
                        "height=\"4\"><title>%s: * (suppressed)</title></rect>\n"
                        "<text x=\"%.1f\" y=\"%d\" class=\"val\">*</text>\n",
                        bxm, by + bh - 4, bwm, mons[m], bxm + bwm / 2, by + bh - 8);
            }
        }
        fprintf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", bx,
                by + bh, bx + bw, by + bh);
        fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"tick\">%s</text>\n", bx, ph - 6, mons[0]);
        if (nmon > 1)
            fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"tick end\">%s</text>\n", bx + bw,
                    ph - 6, mons[nmon - 1]);
        const char *last = hf__lookup(res, provs[p], mons[nmon - 1]);
        fprintf(out, "<text x=\"%d\" y=\"14\" class=\"last\">%s</text>\n", pw - 6,
                last ? last : "");
        fprintf(out, "</g>\n");
    }
    fprintf(out, "</svg>\n</section>\n");
    hf_free(provs);
    hf_free(mons);
}

/* ==== tables ==== */

static void hf__html_table(FILE *out, const hf__rsec_t *s, bool open)
{
    fprintf(out, "<details%s id=\"table-%s\"><summary>", open ? " open" : "", s->id);
    hf__esc(out, s->title);
    fprintf(out, " <span class=\"n\">(%d rows)</span></summary>\n<p class=\"cap\">",
            PQntuples(s->res));
    hf__esc(out, s->note);
    fprintf(out, "</p>\n<table>\n<thead><tr>");
    int nf = PQnfields(s->res);
    for (int f = 0; f < nf; f++) {
        fprintf(out, "<th>");
        hf__esc(out, PQfname(s->res, f));
        fprintf(out, "</th>");
    }
    fprintf(out, "</tr></thead>\n<tbody>\n");
    for (int i = 0; i < PQntuples(s->res); i++) {
        fprintf(out, "<tr>");
        for (int f = 0; f < nf; f++) {
            const char *v = PQgetvalue(s->res, i, f);
            fprintf(out, "<td%s>", f >= s->nkeys ? (*v == '*' ? " class=\"num sup\"" : " class=\"num\"") : "");
            hf__esc(out, v);
            fprintf(out, "</td>");
        }
        fprintf(out, "</tr>\n");
    }
    fprintf(out, "</tbody>\n</table>\n</details>\n");
}

/* ==== the page ==== */

static const char hf__css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',sans-serif;"
    "margin:24px auto;max-width:1120px;color:#222;padding:0 16px}"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 2px}"
    ".meta{color:#555;font-size:13px;margin:2px 0}.cap{color:#555;font-size:12px;margin:2px 0 8px}"
    ".legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;"
    "vertical-align:-1px;border:1px solid #aaa}"
    "svg text{font-size:11px;fill:#222}svg .colhead{font-size:11px}"
    "svg .rowhead{text-anchor:end}svg .val{text-anchor:middle;font-size:11px}"
    "svg .cell{stroke:#fff}svg .frame{fill:#fafafa;stroke:#ddd}svg .bar{fill:#b2182b}"
    "svg .bar.suppressed{fill:#bbb}svg .axis{stroke:#999}svg .tick{font-size:9px;fill:#666}"
    "svg .tick.end,svg .last{text-anchor:end}svg .last{font-weight:600}"
    "svg .ptitle{font-weight:600}svg .val.light{fill:#fff}"
    "table{border-collapse:collapse;font-size:12px;margin:4px 0 12px}"
    "th,td{border-bottom:1px solid #e4e4e4;padding:3px 8px;text-align:left}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}td.sup{color:#888}"
    "details{margin:6px 0}summary{cursor:pointer;font-weight:600}.n{color:#888;font-weight:400}"
    ".empty{color:#888;font-style:italic}";

void hf__report_html(const hf__report_t *r, FILE *out)
{
    char legend[400];
    hf__report_legend(r, legend, sizeof(legend));
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<title>hemoflow indicator report %.7s to %.7s</title>\n<style>%s</style>\n"
                 "</head>\n<body>\n",
            r->month_from, r->month_last, hf__css);
    fprintf(out, "<h1>Blood service indicators</h1>\n");
    fprintf(out, "<p class=\"meta\">Months %.7s to %.7s (data to %s) &middot; province: %s "
                 "&middot; indicators refreshed %s</p>\n",
            r->month_from, r->month_last, r->to, r->o->province ? r->o->province : "all",
            r->refreshed[0] ? r->refreshed : "never");
    fprintf(out, "<p class=\"meta\" id=\"suppression\">");
    hf__esc(out, legend);
    fprintf(out, ".</p>\n");

    static const char *const groups[] = {"O+", "O-", "A+", "A-", "B+", "B-", "AB+", "AB-", "all",
                                         NULL};
    char cap[256];
    snprintf(cap, sizeof(cap),
             "Red cells on hand / average daily issues over 28 days, at each province's latest "
             "snapshot up to %s. NHSBT aims for 6 days and alerts under 2.",
             r->to);
    hf__heatmap(out, "chart-supply", "Red cell days of supply by province and blood group", cap,
                r->supply, groups, true, hf__dos_color, "days");
    fprintf(out, "<p class=\"cap legend\"><span style=\"background:#d7301f\"></span>under 2"
                 "<span style=\"background:#fc8d59\"></span>2-4"
                 "<span style=\"background:#fdcc8a\"></span>4-6"
                 "<span style=\"background:#78c679\"></span>6 or more"
                 "<span style=\"background:#d9d9d9\"></span>* withheld</p>\n");
    hf__trend(out, r->trend);
    static const char *const reasons[] = {"expired", "reactive", "broken_bag", "lipaemic",
                                          "haemolysed", "temperature_excursion",
                                          "volume_out_of_range", "returned_unused", "other", "all",
                                          NULL};
    snprintf(cap, sizeof(cap),
             "Discards / issues x 100, all components, in %.7s. Darker = higher.",
             r->month_last);
    hf__heatmap(out, "chart-wastage", "Wastage by reason (%)", cap, r->waste, reasons,
                false, hf__seq_color, "%");
    static const char *const markers[] = {"hbsag", "anti_hcv", "hiv_ag_ab", "anti_tp", "alt",
                                          "hbv_nat", "hcv_nat", "hiv_nat", "other", NULL};
    snprintf(cap, sizeof(cap),
             "Donations reactive / tested x 100 (final results, all donors), in %.7s; the "
             "first-time vs repeat split is in the table below.",
             r->month_last);
    hf__heatmap(out, "chart-positivity", "Screening positivity by marker (%)", cap, r->pos,
                markers, false, hf__seq_color, "%");

    fprintf(out, "<h2>Tables</h2>\n");
    hf__html_table(out, &r->summary, true);
    for (int i = 0; i < r->nsec; i++)
        hf__html_table(out, &r->sec[i], false);
    fprintf(out, "<p class=\"meta\">Made by hemoflow report from the published views "
                 "hemoflow.ind_* (docs/indicators.md).</p>\n</body>\n</html>\n");
}
