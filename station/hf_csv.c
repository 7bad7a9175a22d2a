/*
 * hf_csv — RFC 4180 record reader (a byte state machine over stdio).
 */
#include "hf_csv.h"

#include <string.h>

#include "hf_mem.h"

struct hf_csv_s {
    FILE *f;
    size_t max;
    unsigned long line; /* current physical line */
    int started;        /* BOM handled */
    hf_buf_t data;      /* cells, NUL separated */
    size_t *offs;       /* start of each cell in data */
    size_t noffs, capoffs;
    char **cells;
    size_t capcells;
};

hf_csv_t *hf_csv_new(FILE *f, size_t max_record_bytes)
{
    hf_csv_t *c = hf_calloc(1, sizeof(*c));
    c->f = f;
    c->max = max_record_bytes;
    c->line = 1;
    return c;
}

void hf_csv_destroy(hf_csv_t *c)
{
    if (!c)
        return;
    hf_buf_free(&c->data);
    hf_free(c->offs);
    hf_free(c->cells);
    hf_free(c);
}

static void hf__cell_start(hf_csv_t *c)
{
    if (c->noffs == c->capoffs) {
        c->capoffs = c->capoffs ? c->capoffs * 2 : 32;
        c->offs = hf_realloc(c->offs, c->capoffs * sizeof(*c->offs));
    }
    c->offs[c->noffs++] = c->data.len;
}

/* A ',' outside quotes: terminate the cell and open the next one. */
static void hf__cell_next(hf_csv_t *c)
{
    hf_buf_append(&c->data, "", 1);
    hf__cell_start(c);
}

/* Does ch end the record? '\n' does, and so does '\r', taking a following
 * '\n' with it (CRLF and lone CR line endings). */
static bool hf__record_end(hf_csv_t *c, int ch)
{
    if (ch == '\n')
        return true;
    if (ch != '\r')
        return false;
    int n = getc(c->f);
    if (n == '\n')
        c->line++;
    else if (n != EOF)
        ungetc(n, c->f);
    return true;
}

enum { ST_START, ST_UNQUOTED, ST_QUOTED, ST_QUOTE, ST_SKIP };

hf_err_t hf_csv_next(hf_csv_t *c, hf_csv_row_t *row, char *errstr, size_t errstr_size)
{
    for (;;) {
        hf_buf_reset(&c->data);
        c->noffs = 0;
        row->line = c->line;
        row->ncells = 0;
        int st = ST_START, ch;
        size_t bytes = 0;       /* bytes of the record consumed */
        hf_err_t err = HF_OK;
        const char *why = NULL;
        bool oversize = false, ended = false;
        if (!c->started) {
            c->started = 1;
            int a = getc(c->f);
            if (a == 0xEF) {
                int b2 = getc(c->f), b3 = getc(c->f);
                if (!(b2 == 0xBB && b3 == 0xBF)) {
                    why = "bad byte-order mark";
                    st = ST_SKIP;
                    err = HF_ERR_INVALID;
                }
            } else if (a != EOF) {
                ungetc(a, c->f);
            }
        }
        hf__cell_start(c);
        while (!ended && (ch = getc(c->f)) != EOF) {
            bytes++;
            if (ch == '\n')
                c->line++;
            if (ch == 0 && st != ST_SKIP) {
                why = "NUL byte in the record";
                err = HF_ERR_INVALID;
                st = ST_SKIP;
            }
            switch (st) {
            case ST_SKIP:
                if (ch == '\n')
                    ended = true;
                continue;
            case ST_START:
                if (ch == '"') {
                    st = ST_QUOTED;
                    continue;
                }
                st = ST_UNQUOTED;
                /* fall through */
            case ST_UNQUOTED:
                if (ch == ',') {
                    hf__cell_next(c);
                    st = ST_START;
                } else if (hf__record_end(c, ch)) {
                    ended = true;
                } else if (ch == '"') {
                    why = "quote inside an unquoted field";
                    err = HF_ERR_INVALID;
                    st = ST_SKIP;
                } else {
                    hf_buf_append(&c->data, &(char){(char)ch}, 1);
                }
                break;
            case ST_QUOTED:
                if (ch == '"')
                    st = ST_QUOTE;
                else
                    hf_buf_append(&c->data, &(char){(char)ch}, 1);
                break;
            case ST_QUOTE:
                if (ch == '"') {
                    hf_buf_append(&c->data, "\"", 1);
                    st = ST_QUOTED;
                } else if (ch == ',') {
                    hf__cell_next(c);
                    st = ST_START;
                } else if (hf__record_end(c, ch)) {
                    ended = true;
                } else {
                    why = "text after a closing quote";
                    err = HF_ERR_INVALID;
                    st = ST_SKIP;
                }
                break;
            }
            if (c->data.len > c->max && !oversize) {
                oversize = true;
                hf_buf_reset(&c->data); /* keep parsing (quotes matter) but stop storing */
                c->noffs = 1;
                c->offs[0] = 0;
            } else if (oversize && c->data.len > 4096) {
                hf_buf_reset(&c->data);
                c->noffs = 1;
            }
        }
        if (ferror(c->f))
            return hf_err_set(HF_ERR_IO, errstr, errstr_size, "read error");
        if (!ended && bytes == 0 && st != ST_SKIP)
            return HF_ERR_NOT_FOUND;
        if (st == ST_QUOTED && !ended) {
            why = "unterminated quoted field";
            err = HF_ERR_INVALID;
        }
        if (oversize)
            return hf_err_set(HF_ERR_OVERSIZE, errstr, errstr_size,
                              "record longer than %zu bytes (publish.max_record_bytes)", c->max);
        if (err)
            return hf_err_set(err, errstr, errstr_size, "%s", why);
        hf_buf_append(&c->data, "", 1);
        if (c->noffs == 1 && c->data.len == 1)
            continue; /* blank line */
        if (c->capcells < c->noffs) {
            c->capcells = c->noffs;
            c->cells = hf_realloc(c->cells, c->capcells * sizeof(char *));
        }
        for (size_t i = 0; i < c->noffs; i++)
            c->cells[i] = (char *)c->data.data + c->offs[i];
        row->cells = c->cells;
        row->ncells = c->noffs;
        return HF_OK;
    }
}
