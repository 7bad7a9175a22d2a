/*
 * hf_report_text — the report as aligned tables for a terminal, and as one
 * long CSV table for spreadsheets (one row per value: indicator, province,
 * period, breakdown, measure, value).
 */
#include <stdbool.h>
#include <string.h>

#include "hf_mem.h"
#include "hf_report_int.h"

/* ==== text ==== */

/* Terminal columns a UTF-8 string takes (every code point counts as one:
 * the report's text is ASCII apart from names). */
static int hf__width(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void hf__pad(FILE *out, const char *s, int w, bool right)
{
    int pad = w - hf__width(s);
    if (right)
        for (int i = 0; i < pad; i++)
            fputc(' ', out);
    fputs(s, out);
    if (!right)
        for (int i = 0; i < pad; i++)
            fputc(' ', out);
}

static void hf__table(const hf__rsec_t *s, FILE *out)
{
    fprintf(out, "\n%s\n  %s\n", s->title, s->note);
    const PGresult *res = s->res;
    int nf = PQnfields(res), nr = PQntuples(res);
    if (nr == 0) {
        fprintf(out, "  (no data in this period)\n");
        return;
    }
    int *w = hf_calloc((size_t)nf, sizeof(int));
    for (int f = 0; f < nf; f++) {
        w[f] = hf__width(PQfname(res, f));
        for (int i = 0; i < nr; i++) {
            int x = hf__width(PQgetvalue(res, i, f));
            if (x > w[f])
                w[f] = x;
        }
    }
    for (int i = -1; i < nr; i++) {
        fputs("  ", out);
        for (int f = 0; f < nf; f++) {
            const char *v = i < 0 ? PQfname(res, f) : PQgetvalue(res, i, f);
            hf__pad(out, v, w[f], f >= s->nkeys);
            fputs(f + 1 < nf ? "  " : "\n", out);
        }
        if (i < 0) {
            fputs("  ", out);
            for (int f = 0; f < nf; f++) {
                for (int k = 0; k < w[f]; k++)
                    fputc('-', out);
                fputs(f + 1 < nf ? "  " : "\n", out);
            }
        }
    }
    hf_free(w);
}

void hf__report_text(const hf__report_t *r, FILE *out)
{
    char legend[400];
    hf__report_legend(r, legend, sizeof(legend));
    fprintf(out, "hemoflow indicator report\n");
    fprintf(out, "Period:    months %.7s to %.7s (data to %s)\n", r->month_from, r->month_last,
            r->to);
    fprintf(out, "Province:  %s\n", r->o->province ? r->o->province : "all");
    fprintf(out, "Refreshed: %s\n", r->refreshed[0] ? r->refreshed : "never (run 'hemoflow refresh')");
    fprintf(out, "Note:      %s\n", legend);
    hf__table(&r->summary, out);
    for (int i = 0; i < r->nsec; i++)
        hf__table(&r->sec[i], out);
}

/* ==== CSV ==== */

static void hf__csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void hf__csv_section(const hf__rsec_t *s, FILE *out)
{
    const PGresult *res = s->res;
    int nf = PQnfields(res);
    for (int i = 0; i < PQntuples(res); i++) {
        for (int f = s->nkeys; f < nf; f++) {
            hf__csv_field(out, s->id);
            for (int k = 0; k < 3; k++) {
                fputc(',', out);
                hf__csv_field(out, PQgetvalue(res, i, k));
            }
            fputc(',', out);
            char bd[512];
            size_t n = 0;
            bd[0] = '\0';
            for (int k = 3; k < s->nkeys; k++) {
                int w = snprintf(bd + n, sizeof(bd) - n, "%s%s=%s", k > 3 ? ";" : "",
                                 PQfname(res, k), PQgetvalue(res, i, k));
                if (w < 0 || (size_t)w >= sizeof(bd) - n)
                    break;
                n += (size_t)w;
            }
            hf__csv_field(out, bd);
            fputc(',', out);
            hf__csv_field(out, PQfname(res, f));
            fputc(',', out);
            hf__csv_field(out, PQgetvalue(res, i, f));
            fputs("\r\n", out);
        }
    }
}

void hf__report_csv(const hf__report_t *r, FILE *out)
{
    fputs("indicator,province_code,province,period,breakdown,measure,value\r\n", out);
    if (r->o->summary_only)
        hf__csv_section(&r->summary, out);
    for (int i = 0; i < r->nsec; i++)
        hf__csv_section(&r->sec[i], out);
}
