/*
 * hf_jsonl — bounded line reading and JSON object → text fields.
 */
#include "hf_jsonl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "hf_mem.h"

struct hf_jsonl_lines_s {
    FILE *f;
    size_t max;
    unsigned long line;
    hf_buf_t buf;
};

hf_jsonl_lines_t *hf_jsonl_lines_new(FILE *f, size_t max_line_bytes)
{
    hf_jsonl_lines_t *l = hf_calloc(1, sizeof(*l));
    l->f = f;
    l->max = max_line_bytes;
    return l;
}

void hf_jsonl_lines_destroy(hf_jsonl_lines_t *l)
{
    if (!l)
        return;
    hf_buf_free(&l->buf);
    hf_free(l);
}

hf_err_t hf_jsonl_lines_next(hf_jsonl_lines_t *l, const char **line, size_t *len,
                             unsigned long *lineno)
{
    hf_buf_reset(&l->buf);
    bool over = false, any = false;
    int ch;
    while ((ch = getc(l->f)) != EOF) {
        any = true;
        if (ch == '\n')
            break;
        if (over)
            continue;
        if (l->buf.len >= l->max) {
            over = true;
            continue;
        }
        hf_buf_append(&l->buf, &(char){(char)ch}, 1);
    }
    if (ferror(l->f))
        return HF_ERR_IO;
    if (!any)
        return HF_ERR_NOT_FOUND;
    *lineno = ++l->line;
    if (over)
        return HF_ERR_OVERSIZE;
    if (l->buf.len && l->buf.data[l->buf.len - 1] == '\r')
        l->buf.len--;
    hf_buf_append(&l->buf, "", 1);
    l->buf.len--;
    *line = (const char *)l->buf.data;
    *len = l->buf.len;
    return HF_OK;
}

static char *hf__own(hf_jsonl_row_t *row, char *s)
{
    row->owned = hf_realloc(row->owned, (row->nowned + 1) * sizeof(char *));
    row->owned[row->nowned++] = s;
    return s;
}

static char *hf__real_text(double v)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".eEn")) /* 53.0 stays a decimal number, not "53" */
        strcat(buf, ".0");
    return hf_strdup(buf);
}

static hf_err_t hf__rej(hf_reject_t *rej, const char *reason, const char *field, const char *d)
{
    rej->reason = reason;
    snprintf(rej->field, sizeof(rej->field), "%s", field);
    snprintf(rej->detail, sizeof(rej->detail), "%s", d);
    return HF_ERR_INVALID;
}

hf_err_t hf_jsonl_render(const char *line, size_t len, hf_jsonl_row_t *row, hf_reject_t *rej)
{
    memset(row, 0, sizeof(*row));
    json_error_t je;
    /* JSON_DECODE_ANY: a line that is valid JSON but a string, number, true
     * or null is "not an object", like an array, rather than a syntax error. */
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root) {
        char d[256];
        snprintf(d, sizeof(d), "column %d: %s", je.column, je.text);
        /* a number beyond the double range (1e999): Jansson refuses it
         * rather than give infinity; name it as the CSV reader does */
        if (strstr(je.text, "real number overflow"))
            return hf__rej(rej, "not_finite", "", d);
        return hf__rej(rej, "json_syntax", "", d);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return hf__rej(rej, "json_not_object", "", "each line must be one JSON object");
    }
    row->fields = hf_calloc(json_object_size(root) + 1, sizeof(hf_field_t));
    const char *key;
    json_t *v;
    hf_err_t err = HF_OK;
    json_object_foreach(root, key, v)
    {
        hf_field_t *f = &row->fields[row->n++];
        f->name = hf__own(row, hf_strdup(key));
        switch (json_typeof(v)) {
        case JSON_NULL: f->value = NULL; break;
        case JSON_TRUE: f->value = "true"; break;
        case JSON_FALSE: f->value = "false"; break;
        case JSON_STRING:
            f->value = hf__own(row, hf_strndup(json_string_value(v), json_string_length(v)));
            if (strlen(f->value) != json_string_length(v))
                err = hf__rej(rej, "json_value_type", key, "string contains a NUL character");
            break;
        case JSON_INTEGER:
            f->value = hf__own(row, hf_asprintf("%lld", (long long)json_integer_value(v)));
            break;
        case JSON_REAL: f->value = hf__own(row, hf__real_text(json_real_value(v))); break;
        case JSON_ARRAY: {
            hf_buf_t b = {0};
            size_t i;
            json_t *el;
            json_array_foreach(v, i, el)
            {
                const char *s = json_string_value(el);
                if (!s || strchr(s, '|') || strlen(s) != json_string_length(el)) {
                    err = hf__rej(rej, "json_value_type", key,
                                  "arrays may only hold strings without '|'");
                    break;
                }
                if (i)
                    hf_buf_append(&b, "|", 1);
                hf_buf_append(&b, s, strlen(s));
            }
            if (err) {
                hf_buf_free(&b);
                break;
            }
            hf_buf_append(&b, "", 1);
            f->value = hf__own(row, (char *)b.data);
            break;
        }
        default:
            err = hf__rej(rej, "json_value_type", key, "nested objects are not accepted");
            break;
        }
        if (err)
            break;
    }
    json_decref(root);
    if (err)
        hf_jsonl_row_free(row);
    return err;
}

void hf_jsonl_row_free(hf_jsonl_row_t *row)
{
    for (size_t i = 0; i < row->nowned; i++)
        hf_free(row->owned[i]);
    hf_free(row->owned);
    hf_free(row->fields);
    memset(row, 0, sizeof(*row));
}
