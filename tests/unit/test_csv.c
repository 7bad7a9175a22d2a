/*
 * Unit tests for the station export readers: hf_csv (RFC 4180 quoting,
 * embedded newlines, CRLF, BOM, over-long records, bad quoting, NUL bytes)
 * and hf_jsonl (bounded lines, JSON → text rendering).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hf_csv.h"
#include "hf_jsonl.h"
#include "hf_mem.h"

static FILE *mem(const char *s, size_t n)
{
    FILE *f = fmemopen((void *)s, n, "r");
    cr_assert(f);
    return f;
}

#define MEM(s) mem(s, sizeof(s) - 1)

Test(csv, quoting_edge_cases)
{
    FILE *f = MEM("a,b,c\n"
                  "1,\"x,y\",\"he said \"\"hi\"\"\"\n"
                  "\"multi\nline\",,\"\"\r\n"
                  "\n"
                  "\xe8\xa1\x80,\"\xe6\xb6\xb2\",end");
    hf_csv_t *c = hf_csv_new(f, 1024);
    hf_csv_row_t r;
    char err[128];
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_eq(r.ncells, 3);
    cr_assert_eq(r.line, 1);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_eq(r.line, 2);
    cr_assert_str_eq(r.cells[1], "x,y");
    cr_assert_str_eq(r.cells[2], "he said \"hi\"");
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_eq(r.line, 3);
    cr_assert_eq(r.ncells, 3);
    cr_assert_str_eq(r.cells[0], "multi\nline");
    cr_assert_str_eq(r.cells[1], "");
    cr_assert_str_eq(r.cells[2], "");
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK); /* blank line skipped */
    cr_assert_eq(r.line, 6);
    cr_assert_str_eq(r.cells[0], "\xe8\xa1\x80");
    cr_assert_str_eq(r.cells[1], "\xe6\xb6\xb2");
    cr_assert_str_eq(r.cells[2], "end");
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_ERR_NOT_FOUND);
    hf_csv_destroy(c);
    fclose(f);
}

Test(csv, bom_and_trailing_empty_cell)
{
    FILE *f = MEM("\xef\xbb\xbfid,x\n1,\n");
    hf_csv_t *c = hf_csv_new(f, 1024);
    hf_csv_row_t r;
    char err[128];
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_str_eq(r.cells[0], "id");
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_eq(r.ncells, 2);
    cr_assert_str_eq(r.cells[1], "");
    hf_csv_destroy(c);
    fclose(f);
}

Test(csv, bad_quoting_is_reported_and_skipped)
{
    FILE *f = MEM("a,b\n"
                  "\"x\"y,2\n"        /* text after closing quote */
                  "ab\"c,2\n"         /* quote inside unquoted */
                  "ok,3\n"
                  "\"never closed,4\n");
    hf_csv_t *c = hf_csv_new(f, 1024);
    hf_csv_row_t r;
    char err[128];
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_ERR_INVALID);
    cr_assert_eq(r.line, 2);
    cr_assert(strstr(err, "closing quote"), "%s", err);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_ERR_INVALID);
    cr_assert_eq(r.line, 3);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_eq(r.line, 4);
    cr_assert_str_eq(r.cells[0], "ok");
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_ERR_INVALID);
    cr_assert_eq(r.line, 5);
    cr_assert(strstr(err, "unterminated"), "%s", err);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_ERR_NOT_FOUND);
    hf_csv_destroy(c);
    fclose(f);
}

Test(csv, nul_byte_rejected)
{
    static const char s[] = "a,b\nx\0y,1\nz,2\n";
    FILE *f = mem(s, sizeof(s) - 1);
    hf_csv_t *c = hf_csv_new(f, 1024);
    hf_csv_row_t r;
    char err[128];
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_ERR_INVALID);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_str_eq(r.cells[0], "z");
    hf_csv_destroy(c);
    fclose(f);
}

Test(csv, over_long_records)
{
    hf_buf_t b = {0};
    hf_buf_append(&b, "a,b\n", 4);
    for (int i = 0; i < 5000; i++)
        hf_buf_append(&b, "x", 1);
    hf_buf_append(&b, ",1\n\"", 4);
    for (int i = 0; i < 5000; i++)
        hf_buf_append(&b, i % 100 == 0 ? "\n" : "y", 1);
    hf_buf_append(&b, "\",2\nshort,3\n", 12);
    FILE *f = mem((const char *)b.data, b.len);
    hf_csv_t *c = hf_csv_new(f, 1024);
    hf_csv_row_t r;
    char err[128];
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_ERR_OVERSIZE);
    cr_assert_eq(r.line, 2);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_ERR_OVERSIZE); /* quoted, multi-line */
    cr_assert_eq(r.line, 3);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_str_eq(r.cells[0], "short");
    cr_assert_eq(r.line, 54);
    hf_csv_destroy(c);
    fclose(f);
    hf_buf_free(&b);
}

Test(csv, wrong_cell_count_is_visible)
{
    FILE *f = MEM("a,b,c\n1,2\n1,2,3,4\n");
    hf_csv_t *c = hf_csv_new(f, 1024);
    hf_csv_row_t r;
    char err[128];
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_eq(r.ncells, 2);
    cr_assert_eq(hf_csv_next(c, &r, err, sizeof(err)), HF_OK);
    cr_assert_eq(r.ncells, 4);
    hf_csv_destroy(c);
    fclose(f);
}

/* ==== JSON Lines ==== */

static const char *field(const hf_jsonl_row_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->fields[i].name, name))
            return r->fields[i].value ? r->fields[i].value : "(null)";
    return "(absent)";
}

Test(jsonl, rendering)
{
    static const char line[] = "{\"s\":\"\xe5\xbf\x83\",\"i\":280,\"r\":53.0,\"r2\":0.12,"
                               "\"t\":true,\"f\":false,\"n\":null,\"d\":[\"A\",\"B\"],\"e\":[]}";
    hf_jsonl_row_t r;
    hf_reject_t rej;
    cr_assert_eq(hf_jsonl_render(line, sizeof(line) - 1, &r, &rej), HF_OK);
    cr_assert_str_eq(field(&r, "s"), "\xe5\xbf\x83");
    cr_assert_str_eq(field(&r, "i"), "280");
    cr_assert_str_eq(field(&r, "r"), "53.0");
    cr_assert_str_eq(field(&r, "r2"), "0.12");
    cr_assert_str_eq(field(&r, "t"), "true");
    cr_assert_str_eq(field(&r, "f"), "false");
    cr_assert_str_eq(field(&r, "n"), "(null)");
    cr_assert_str_eq(field(&r, "d"), "A|B");
    cr_assert_str_eq(field(&r, "e"), "");
    hf_jsonl_row_free(&r);
}

Test(jsonl, refusals)
{
    static const char *bad[][2] = {
        {"{\"a\":", "json_syntax"},
        {"[1,2]", "json_not_object"},
        {"\"just a string\"", "json_not_object"},
        {"42", "json_not_object"},
        {"null", "json_not_object"},
        {"{\"a\":{\"b\":1}}", "json_value_type"},
        {"{\"a\":[1]}", "json_value_type"},
        {"{\"a\":[\"x|y\"]}", "json_value_type"},
        {"{\"a\":1,\"a\":2}", "json_syntax"},
        {"{\"a\":\"x\\u0000y\"}", "json_syntax"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hf_jsonl_row_t r;
        hf_reject_t rej;
        cr_assert_eq(hf_jsonl_render(bad[i][0], strlen(bad[i][0]), &r, &rej), HF_ERR_INVALID,
                     "%s", bad[i][0]);
        cr_assert_str_eq(rej.reason, bad[i][1], "%s", bad[i][0]);
    }
}

Test(jsonl, bounded_lines)
{
    hf_buf_t b = {0};
    hf_buf_append(&b, "{}\r\n", 4);
    for (int i = 0; i < 3000; i++)
        hf_buf_append(&b, "x", 1);
    hf_buf_append(&b, "\n{\"a\":1}", 8);
    FILE *f = mem((const char *)b.data, b.len);
    hf_jsonl_lines_t *l = hf_jsonl_lines_new(f, 1024);
    const char *line;
    size_t len;
    unsigned long no;
    cr_assert_eq(hf_jsonl_lines_next(l, &line, &len, &no), HF_OK);
    cr_assert_eq(len, 2);
    cr_assert_eq(no, 1);
    cr_assert_eq(hf_jsonl_lines_next(l, &line, &len, &no), HF_ERR_OVERSIZE);
    cr_assert_eq(no, 2);
    cr_assert_eq(hf_jsonl_lines_next(l, &line, &len, &no), HF_OK);
    cr_assert_eq(no, 3);
    cr_assert_str_eq(line, "{\"a\":1}");
    cr_assert_eq(hf_jsonl_lines_next(l, &line, &len, &no), HF_ERR_NOT_FOUND);
    hf_jsonl_lines_destroy(l);
    fclose(f);
    hf_buf_free(&b);
}
