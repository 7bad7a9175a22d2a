/*
 * Unit tests for hf_validate. Most cases are tables under
 * tests/fixtures/validate/ whose expected values were computed independently
 * of this code (see the header line of each file); the tests here only read
 * the tables and compare. Input cells may use "<empty>" for the empty string
 * and "\xNN" / "\t" for raw bytes, so lengths and embedded NULs are exact.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_config.h"
#include "hf_validate.h"

/* ==== table reader ==== */

#define MAX_COLS 8
#define MAX_CELL 512

typedef struct row_s {
    int lineno;
    int ncols;
    char cell[MAX_COLS][MAX_CELL];
    size_t len[MAX_COLS]; /* decoded byte length of each cell */
} row_t;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t decode(const char *in, char *out)
{
    if (strcmp(in, "<empty>") == 0) {
        out[0] = '\0';
        return 0;
    }
    size_t o = 0;
    for (size_t i = 0; in[i] && o < MAX_CELL - 1;) {
        if (in[i] == '\\' && in[i + 1] == 'x' && hexval(in[i + 2]) >= 0 && hexval(in[i + 3]) >= 0) {
            out[o++] = (char)(hexval(in[i + 2]) * 16 + hexval(in[i + 3]));
            i += 4;
        } else if (in[i] == '\\' && in[i + 1] == 't') {
            out[o++] = '\t';
            i += 2;
        } else {
            out[o++] = in[i++];
        }
    }
    out[o] = '\0';
    return o;
}

typedef void (*row_fn)(const row_t *row, const char *file);

/* Calls fn for every data row of tests/fixtures/validate/<name>; returns
 * the number of rows so that a table cannot silently go empty. */
static int each_row(const char *name, int min_cols, row_fn fn)
{
    const char *dir = getenv("HF_FIXTURES");
    cr_assert(dir, "HF_FIXTURES must point at tests/fixtures (set by CTest)");
    char path[1024];
    snprintf(path, sizeof(path), "%s/validate/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert(f, "open %s: %s", path, strerror(errno));
    char line[4096];
    int lineno = 0, rows = 0;
    static row_t row; /* large; one test runs at a time per process */
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = '\0';
        if (l == 0 || line[0] == '#')
            continue;
        memset(&row, 0, sizeof(row));
        row.lineno = lineno;
        char *p = line;
        for (;;) {
            char *tab = strchr(p, '\t');
            if (tab)
                *tab = '\0';
            cr_assert(row.ncols < MAX_COLS, "%s:%d: too many columns", name, lineno);
            row.len[row.ncols] = decode(p, row.cell[row.ncols]);
            row.ncols++;
            if (!tab)
                break;
            p = tab + 1;
        }
        cr_assert(row.ncols >= min_cols, "%s:%d: expected %d columns, got %d", name, lineno,
                  min_cols, row.ncols);
        fn(&row, name);
        rows++;
    }
    fclose(f);
    cr_assert(rows > 0, "%s: no rows", name);
    return rows;
}

static const char *or_ok(const char *reason)
{
    return reason ? reason : "ok";
}

/* A heap copy of exactly the cell's bytes, without a terminating NUL, so that
 * the ASan build reports any read past the length the callee was given. */
static char *exact(const row_t *r, int col)
{
    char *p = malloc(r->len[col] ? r->len[col] : 1);
    cr_assert(p);
    memcpy(p, r->cell[col], r->len[col]);
    return p;
}

/* ==== DIN ==== */

static void din_row(const row_t *r, const char *file)
{
    const char *s = r->cell[0];
    char got = hf_validate_din_check_char(s); /* first 13 bytes only */
    char want = strcmp(r->cell[1], "-") == 0 ? '\0' : r->cell[1][0];
    cr_expect_eq(got, want, "%s:%d: check char of '%s': got '%c' (%d), want '%c'", file, r->lineno,
                 s, got ? got : '0', got, want ? want : '0');
    char *x = exact(r, 0);
    bool valid = hf_validate_din(x, r->len[0]);
    free(x);
    cr_expect_eq(valid, r->cell[2][0] == '1', "%s:%d: hf_validate_din('%s') = %d", file,
                 r->lineno, s, valid);
}

Test(validate, din_table)
{
    cr_assert(each_row("din.tsv", 3, din_row) > 100);
}

static void din14_row(const row_t *r, const char *file)
{
    char *x = exact(r, 0);
    const char *reason = hf_validate_din_reason(x, r->len[0]);
    cr_expect_str_eq(or_ok(reason), r->cell[1], "%s:%d: '%s'", file, r->lineno, r->cell[0]);
    bool ok14 = hf_validate_din_with_check(x, r->len[0]);
    free(x);
    cr_expect_eq(ok14, r->len[0] == 14 && reason == NULL, "%s:%d: with_check('%s') = %d", file,
                 r->lineno, r->cell[0], ok14);
}

Test(validate, din_with_check_table)
{
    each_row("din_with_check.tsv", 2, din14_row);
}

Test(validate, din_domain_example)
{
    cr_assert_eq(hf_validate_din_check_char("G123498654321"), 'H');
    cr_assert(hf_validate_din_with_check("G123498654321H", 14));
    cr_assert(!hf_validate_din_with_check("G123498654321H", 13));
}

Test(validate, din_never_reads_past_len_or_nul)
{
    /* An unterminated 12-byte heap block: ASan reports any overread. */
    char *p = malloc(12);
    memcpy(p, "G12349865432", 12);
    cr_assert(!hf_validate_din(p, 12));
    cr_assert_str_eq(hf_validate_din_reason(p, 12), HF_VR_DIN_FORMAT);
    free(p);
    char short_s[] = "G12";
    cr_assert_eq(hf_validate_din_check_char(short_s), '\0');
    cr_assert_eq(hf_validate_din_check_char(NULL), '\0');
    cr_assert(!hf_validate_din(NULL, 13));
    cr_assert_str_eq(hf_validate_din_reason(NULL, 14), HF_VR_DIN_FORMAT);
}

/* ==== resident ID ==== */

static void id_row(const row_t *r, const char *file)
{
    const char *s = r->cell[0];
    char *x = exact(r, 0);
    bool ck = !(r->cell[2][0] == '1'); /* start opposite to catch "not written" */
    hf_id_format_t f = hf_validate_resident_id(x, r->len[0], &ck);
    const char *want_f = strcmp(r->cell[1], "18") == 0   ? "id18"
                         : strcmp(r->cell[1], "15") == 0 ? "id15"
                                                         : "other";
    cr_expect_str_eq(hf_validate_id_format_name(f), want_f, "%s:%d: format of '%s'", file,
                     r->lineno, s);
    cr_expect_eq(ck, r->cell[2][0] == '1', "%s:%d: checksum_valid of '%s' = %d", file, r->lineno,
                 s, ck);
    cr_expect_str_eq(or_ok(hf_validate_resident_id_reason(x, r->len[0])), r->cell[3],
                     "%s:%d: reason for '%s'", file, r->lineno, s);
    char canon[19] = "junk";
    bool cok = hf_validate_resident_id_canonical(x, r->len[0], canon);
    free(x);
    if (strcmp(r->cell[4], "-") == 0) {
        cr_expect(!cok && canon[0] == '\0', "%s:%d: canonical of '%s' should fail", file,
                  r->lineno, s);
    } else {
        cr_expect(cok, "%s:%d: canonical of '%s' failed", file, r->lineno, s);
        cr_expect_str_eq(canon, r->cell[4], "%s:%d: canonical of '%s'", file, r->lineno, s);
    }
}

Test(validate, resident_id_table)
{
    cr_assert(each_row("resident_id.tsv", 5, id_row) > 100);
}

Test(validate, resident_id_domain_example_and_null_out)
{
    bool ck = false;
    cr_assert_eq(hf_validate_resident_id("11010519491231002X", 18, &ck), HF_ID_18);
    cr_assert(ck);
    cr_assert_eq(hf_validate_resident_id("11010519491231002X", 18, NULL), HF_ID_18);
    cr_assert_eq(hf_validate_resident_id(NULL, 18, &ck), HF_ID_OTHER);
    cr_assert(!ck);
}

/* ==== provinces ==== */

static void province_row(const row_t *r, const char *file)
{
    bool want = strcmp(r->cell[1], "-") != 0;
    char *x = exact(r, 0);
    bool got = hf_validate_province(x, r->len[0]);
    free(x);
    cr_expect_eq(got, want, "%s:%d: '%s'", file,
                 r->lineno, r->cell[0]);
    if (r->len[0] == 2) {
        const char *name = hf_validate_province_name(r->cell[0]);
        cr_expect_str_eq(name ? name : "-", r->cell[1], "%s:%d: name of '%s'", file, r->lineno,
                         r->cell[0]);
    }
}

Test(validate, province_table)
{
    cr_assert_eq(each_row("province.tsv", 2, province_row), 31 + 13);
    cr_assert_null(hf_validate_province_name(""));
    cr_assert_null(hf_validate_province_name("1"));
    cr_assert_null(hf_validate_province_name(NULL));
}

/* ==== blood groups ==== */

static void bg_row(const row_t *r, const char *file)
{
    hf_abo_t abo = HF_ABO_O;
    hf_rhd_t rhd = HF_RHD_NEG;
    char *x = exact(r, 0);
    hf_err_t err = hf_validate_blood_group(x, r->len[0], &abo, &rhd);
    free(x);
    bool want_ok = strcmp(r->cell[1], "unknown") != 0;
    cr_expect_eq(err, want_ok ? HF_OK : HF_ERR_INVALID, "%s:%d: '%s': err %d", file, r->lineno,
                 r->cell[0], err);
    cr_expect_str_eq(hf_validate_abo_name(abo), r->cell[1], "%s:%d: abo of '%s'", file,
                     r->lineno, r->cell[0]);
    cr_expect_str_eq(hf_validate_rhd_name(rhd), r->cell[2], "%s:%d: rhd of '%s'", file,
                     r->lineno, r->cell[0]);
}

Test(validate, blood_group_table)
{
    cr_assert(each_row("blood_group.tsv", 3, bg_row) > 80);
}

Test(validate, blood_group_names)
{
    cr_assert_str_eq(hf_validate_abo_name(HF_ABO_UNKNOWN), "unknown");
    cr_assert_str_eq(hf_validate_abo_name((hf_abo_t)99), "unknown");
    cr_assert_str_eq(hf_validate_rhd_name(HF_RHD_UNSPECIFIED), "unspecified");
    cr_assert_str_eq(hf_validate_rhd_name((hf_rhd_t)99), "unknown");
    hf_abo_t a;
    hf_rhd_t r;
    cr_assert_eq(hf_validate_blood_group(NULL, 2, &a, &r), HF_ERR_INVALID);
    cr_assert_eq(a, HF_ABO_UNKNOWN);
    cr_assert_eq(r, HF_RHD_UNKNOWN);
    /* len bounds the read: "A+" inside a longer buffer. */
    cr_assert_eq(hf_validate_blood_group("A+garbage", 2, &a, &r), HF_OK);
    cr_assert_eq(a, HF_ABO_A);
    cr_assert_eq(r, HF_RHD_POS);
}

/* ==== product codes ==== */

static void pc_row(const row_t *r, const char *file)
{
    char *x = exact(r, 0);
    const char *reason = hf_validate_product_code_reason(x, r->len[0]);
    bool ok = hf_validate_product_code(x, r->len[0]);
    free(x);
    cr_expect_str_eq(or_ok(reason), r->cell[1], "%s:%d: '%s'", file, r->lineno, r->cell[0]);
    cr_expect_eq(ok, reason == NULL,
                 "%s:%d: bool form of '%s'", file, r->lineno, r->cell[0]);
}

Test(validate, product_code_table)
{
    each_row("product_code.tsv", 2, pc_row);
}

Test(validate, collection_types)
{
    cr_assert_str_eq(hf_validate_collection_type('V'), "volunteer");
    cr_assert_str_eq(hf_validate_collection_type('S'), "volunteer");
    cr_assert_str_eq(hf_validate_collection_type('P'), "paid");
    cr_assert_str_eq(hf_validate_collection_type('s'), "paid");
    cr_assert_str_eq(hf_validate_collection_type('A'), "autologous");
    cr_assert_str_eq(hf_validate_collection_type('1'), "autologous");
    cr_assert_str_eq(hf_validate_collection_type('X'), "autologous");
    cr_assert_str_eq(hf_validate_collection_type('D'), "directed");
    cr_assert_str_eq(hf_validate_collection_type('0'), "unknown");
    cr_assert_null(hf_validate_collection_type('v'));
    cr_assert_null(hf_validate_collection_type('\0'));
}

/* ==== times ==== */

static void time_row(const row_t *r, const char *file)
{
    int64_t us = 12345;
    int off = 777;
    char *x = exact(r, 0);
    bool ok = hf_cal_time_parse(x, r->len[0], &us, &off);
    free(x);
    if (strcmp(r->cell[1], "reject") == 0) {
        cr_expect(!ok, "%s:%d: '%s' should be rejected", file, r->lineno, r->cell[0]);
        cr_expect(us == 12345 && off == 777, "%s:%d: outputs written on failure", file,
                  r->lineno);
        return;
    }
    cr_assert(r->ncols >= 3, "%s:%d: missing offset column", file, r->lineno);
    cr_expect(ok, "%s:%d: '%s' should parse", file, r->lineno, r->cell[0]);
    long long want = strtoll(r->cell[1], NULL, 10);
    cr_expect_eq((long long)us, want, "%s:%d: '%s': got %lld want %lld", file, r->lineno,
                 r->cell[0], (long long)us, want);
    cr_expect_eq(off, atoi(r->cell[2]), "%s:%d: '%s': offset %d", file, r->lineno, r->cell[0],
                 off);
}

Test(validate, iso8601_table)
{
    cr_assert(each_row("times.tsv", 2, time_row) > 100);
}

static void date_row(const row_t *r, const char *file)
{
    int32_t days = 4242;
    char *x = exact(r, 0);
    bool ok = hf_cal_date_parse(x, r->len[0], &days);
    free(x);
    if (strcmp(r->cell[1], "reject") == 0) {
        cr_expect(!ok, "%s:%d: '%s' should be rejected", file, r->lineno, r->cell[0]);
        cr_expect_eq(days, 4242, "%s:%d: output written on failure", file, r->lineno);
        return;
    }
    cr_expect(ok, "%s:%d: '%s' should parse", file, r->lineno, r->cell[0]);
    cr_expect_eq(days, atoi(r->cell[1]), "%s:%d: '%s': got %d", file, r->lineno, r->cell[0],
                 days);
    char back[11];
    hf_cal_date_format(days, back);
    cr_expect_str_eq(back, r->cell[0], "%s:%d: round trip", file, r->lineno);
}

Test(validate, date_table)
{
    cr_assert(each_row("dates.tsv", 2, date_row) > 50);
}

static void date_format_row(const row_t *r, const char *file)
{
    char out[11];
    memset(out, 'x', sizeof(out));
    hf_cal_date_format((int32_t)strtol(r->cell[0], NULL, 10), out);
    cr_expect_str_eq(out, r->cell[1], "%s:%d: days %s", file, r->lineno, r->cell[0]);
}

Test(validate, date_format_table)
{
    each_row("date_format.tsv", 2, date_format_row);
}

static void time_check_row(const row_t *r, const char *file)
{
    const char *reason = "unset";
    hf_err_t err = hf_validate_time(strtoll(r->cell[0], NULL, 10), strtoll(r->cell[1], NULL, 10),
                                    strtoll(r->cell[2], NULL, 10), strtoll(r->cell[3], NULL, 10),
                                    &reason);
    cr_expect_str_eq(or_ok(reason), r->cell[4], "%s:%d", file, r->lineno);
    cr_expect_eq(err, reason ? HF_ERR_INVALID : HF_OK, "%s:%d", file, r->lineno);
}

Test(validate, time_check_table)
{
    each_row("time_check.tsv", 5, time_check_row);
    cr_assert_eq(hf_validate_time(0, 0, 0, 0, NULL), HF_OK);
    cr_assert_eq(hf_validate_time(1, 0, 0, 0, NULL), HF_ERR_INVALID);
}

static void offset_row(const row_t *r, const char *file)
{
    int m = atoi(r->cell[0]);
    cr_expect_str_eq(or_ok(hf_validate_utc_offset_reason(m)), r->cell[1], "%s:%d: %d", file,
                     r->lineno, m);
    cr_expect_eq(hf_validate_utc_offset(m), strcmp(r->cell[1], "ok") == 0, "%s:%d", file,
                 r->lineno);
}

Test(validate, utc_offset_table)
{
    each_row("utc_offset.tsv", 2, offset_row);
}

/* ==== rules and volumes ==== */

static hf_validate_rules_t vol_rules;

static void volume_row(const row_t *r, const char *file)
{
    hf_procedure_t p = (hf_procedure_t)-1;
    cr_assert(hf_validate_procedure_parse(r->cell[0], r->len[0], &p), "%s:%d: procedure '%s'",
              file, r->lineno, r->cell[0]);
    cr_expect_str_eq(hf_validate_procedure_name(p), r->cell[0]);
    const char *reason = "unset";
    hf_err_t err =
        hf_validate_volume(&vol_rules, p, atoi(r->cell[1]), atoi(r->cell[2]), &reason);
    cr_expect_str_eq(or_ok(reason), r->cell[3], "%s:%d: %s %s %s", file, r->lineno, r->cell[0],
                     r->cell[1], r->cell[2]);
    cr_expect_eq(err, reason ? HF_ERR_INVALID : HF_OK, "%s:%d", file, r->lineno);
}

Test(validate, volume_table_with_config_defaults)
{
    hf_config_t *cfg = hf_config_new();
    char err[256] = "";
    cr_assert_eq(hf_validate_rules_from_config(&vol_rules, cfg, err, sizeof(err)), HF_OK, "%s",
                 err);
    hf_validate_rules_t def;
    hf_validate_rules_default(&def);
    cr_assert_eq(memcmp(&def, &vol_rules, sizeof(def)), 0,
                 "built-in defaults differ from the config table defaults");
    cr_assert_eq(vol_rules.time_floor_us, INT64_C(631152000000000)); /* 1990-01-01Z */
    hf_config_destroy(cfg);
    each_row("volume.tsv", 4, volume_row);
    cr_assert(!hf_validate_procedure_parse("whole_bloodx", 12, &(hf_procedure_t){0}));
    cr_assert_str_eq(hf_validate_procedure_name((hf_procedure_t)42), "unknown");
}

static void set_key(hf_config_t *cfg, const char *k, const char *v)
{
    char err[256] = "";
    cr_assert_eq(hf_config_set(cfg, k, v, "test", err, sizeof(err)), HF_OK, "%s", err);
}

Test(validate, rules_from_config_overrides)
{
    hf_config_t *cfg = hf_config_new();
    set_key(cfg, "validate.whole_blood_ml", " 200 , 400,450 ");
    set_key(cfg, "validate.apheresis_platelets_max_ml", "300");
    set_key(cfg, "validate.plasma_max_g", "580");
    set_key(cfg, "validate.clock_skew_s", "60");
    set_key(cfg, "validate.time_floor", "2000-02-29");
    hf_validate_rules_t r;
    char err[256] = "";
    cr_assert_eq(hf_validate_rules_from_config(&r, cfg, err, sizeof(err)), HF_OK, "%s", err);
    cr_assert_eq(r.whole_blood_n, 3);
    cr_assert_eq(r.whole_blood_ml[2], 450);
    cr_assert_eq(r.platelets_max_ml, 300);
    cr_assert_eq(r.plasma_max_g, 580);
    cr_assert_eq(r.clock_skew_s, 60);
    cr_assert_eq(r.time_floor_us, INT64_C(951782400000000)); /* 2000-02-29T00:00:00Z */
    const char *why;
    cr_assert_eq(hf_validate_volume(&r, HF_PROC_WHOLE_BLOOD, 300, -1, &why), HF_ERR_INVALID);
    cr_assert_str_eq(why, HF_VR_VOLUME_NOT_ALLOWED);
    cr_assert_eq(hf_validate_volume(&r, HF_PROC_WHOLE_BLOOD, 450, -1, &why), HF_OK);
    cr_assert_null(why);
    cr_assert_eq(hf_validate_volume(&r, HF_PROC_APHERESIS_PLASMA, -1, 590, &why), HF_ERR_INVALID);
    cr_assert_str_eq(why, HF_VR_PLASMA_OVER_MAX);
    cr_assert_eq(hf_validate_time_rules(&r, INT64_C(951782399999999), INT64_C(951782400000000),
                                        &why),
                 HF_ERR_INVALID);
    cr_assert_str_eq(why, HF_VR_TIME_BEFORE_FLOOR);
    cr_assert_eq(hf_validate_time_rules(&r, INT64_C(951782460000001), INT64_C(951782400000000),
                                        &why),
                 HF_ERR_INVALID);
    cr_assert_str_eq(why, HF_VR_TIME_FUTURE);
    hf_config_destroy(cfg);
}

Test(validate, rules_from_config_rejects_bad_values)
{
    static const char *const bad_lists[] = {"",       "200,",       ",200",      "200;300",
                                            "0",      "5001",       "abc",       "200,,300",
                                            "-200",   "200 300",    "1000000000",
                                            "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"};
    for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
        hf_config_t *cfg = hf_config_new();
        set_key(cfg, "validate.whole_blood_ml", bad_lists[i]);
        hf_validate_rules_t r;
        char err[256] = "";
        cr_expect_eq(hf_validate_rules_from_config(&r, cfg, err, sizeof(err)), HF_ERR_CONFIG,
                     "list '%s' accepted", bad_lists[i]);
        cr_expect(strstr(err, "validate.whole_blood_ml"), "error names the key: %s", err);
        cr_expect_eq(r.whole_blood_n, 3, "rules left at defaults");
        hf_config_destroy(cfg);
    }
    static const char *const bad_floors[] = {"", "1990-02-30", "1990-1-1", "1990-01-01T00:00Z",
                                             "yesterday"};
    for (size_t i = 0; i < sizeof(bad_floors) / sizeof(bad_floors[0]); i++) {
        hf_config_t *cfg = hf_config_new();
        set_key(cfg, "validate.time_floor", bad_floors[i]);
        hf_validate_rules_t r;
        char err[256] = "";
        cr_expect_eq(hf_validate_rules_from_config(&r, cfg, err, sizeof(err)), HF_ERR_CONFIG,
                     "floor '%s' accepted", bad_floors[i]);
        cr_expect(strstr(err, "validate.time_floor"), "error names the key: %s", err);
        hf_config_destroy(cfg);
    }
    /* 16 entries is the documented maximum and is accepted. */
    hf_config_t *cfg = hf_config_new();
    set_key(cfg, "validate.whole_blood_ml", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16");
    hf_validate_rules_t r;
    cr_assert_eq(hf_validate_rules_from_config(&r, cfg, NULL, 0), HF_OK);
    cr_assert_eq(r.whole_blood_n, 16);
    hf_config_destroy(cfg);
}
