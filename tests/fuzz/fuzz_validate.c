/*
 * fuzz_validate — every field validator of transform/hf_validate.c and the
 * calendar parsers they rest on (common/hf_cal.c) on untrusted bytes with an
 * explicit length, with the properties the header promises:
 *   - nothing reads past the length (each input is an exact-size copy);
 *   - a reason function answers NULL exactly when its predicate says valid;
 *   - what parses, formats back to text that parses to the same value;
 *   - a valid resident ID has a canonical 18-character form that is valid.
 * The first 8 bytes also feed the integer checks (times, offsets, volumes).
 * Corpus: tests/fuzz/corpus/validate/ (the cases of tests/fixtures/validate).
 */
#include <stdint.h>
#include <string.h>

#include "hf_cal.h"
#include "hf_fuzz.h"
#include "hf_mem.h"
#include "hf_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void hf__strings(const char *s, size_t n)
{
    if (hf_validate_din(s, n) != (n == 13 && !hf_validate_din_reason(s, n)))
        hf_fuzz_fail("din and din_reason disagree");
    if (hf_validate_din_with_check(s, n) != (n == 14 && !hf_validate_din_reason(s, n)))
        hf_fuzz_fail("din_with_check and din_reason disagree");
    char cc = n >= 13 ? hf_validate_din_check_char(s) : '\0';
    if (n == 14 && hf_validate_din(s, 13) && cc &&
        (cc == s[13]) != hf_validate_din_with_check(s, n))
        hf_fuzz_fail("check char %c and din_with_check disagree", cc);

    bool ok = false;
    hf_id_format_t f = hf_validate_resident_id(s, n, &ok);
    const char *why = hf_validate_resident_id_reason(s, n);
    if ((f != HF_ID_OTHER && ok) != (why == NULL))
        hf_fuzz_fail("resident_id says %d/%d, reason %s", (int)f, ok, why ? why : "NULL");
    char canon[19];
    bool has_canon = hf_validate_resident_id_canonical(s, n, canon);
    if (has_canon != (why == NULL))
        hf_fuzz_fail("canonical form given for an ID whose reason is %s", why ? why : "NULL");
    if (has_canon && (strlen(canon) != 18 || hf_validate_resident_id_reason(canon, 18)))
        hf_fuzz_fail("canonical form %s is not a valid 18-character ID", canon);
    (void)hf_validate_id_format_name(f);

    if (hf_validate_province(s, n) && !hf_validate_province_name(s))
        hf_fuzz_fail("valid province without a name");
    hf_abo_t abo;
    hf_rhd_t rhd;
    if (hf_validate_blood_group(s, n, &abo, &rhd) != HF_OK &&
        (abo != HF_ABO_UNKNOWN || rhd != HF_RHD_UNKNOWN))
        hf_fuzz_fail("unmapped blood group left abo/rhd set");
    (void)hf_validate_abo_name(abo);
    (void)hf_validate_rhd_name(rhd);
    if (hf_validate_product_code(s, n) != !hf_validate_product_code_reason(s, n))
        hf_fuzz_fail("product_code and product_code_reason disagree");
    hf_procedure_t p;
    if (hf_validate_procedure_parse(s, n, &p)) {
        const char *name = hf_validate_procedure_name(p);
        if (strlen(name) != n || memcmp(name, s, n) != 0)
            hf_fuzz_fail("procedure parses to %s", name);
    }

    int32_t days = 0;
    if (hf_cal_date_parse(s, n, &days)) {
        char out[11];
        int32_t again = 0;
        hf_cal_date_format(days, out);
        if (!hf_cal_date_parse(out, strlen(out), &again) || again != days)
            hf_fuzz_fail("date %d formats as %s which does not parse back", days, out);
    }
    int64_t us = 0;
    int off = 0;
    if (hf_cal_time_parse(s, n, &us, &off)) {
        char out[HF_CAL_TIME_LEN];
        int64_t us2 = 0;
        int off2 = 0;
        hf_cal_time_format(us, off, out);
        int64_t whole = hf_cal_floordiv(us, 1000000) * 1000000;
        if (!hf_cal_time_parse(out, strlen(out), &us2, &off2) || us2 != whole || off2 != off)
            hf_fuzz_fail("time %lld%+d formats as %s which does not parse back", (long long)us,
                         off, out);
        (void)hf_cal_local_day(us, off);
    }
}

static void hf__ints(const uint8_t *b)
{
    int64_t a, c;
    memcpy(&a, b, 8);
    memcpy(&c, b + 8, 8);
    int32_t m = (int32_t)(uint32_t)a;
    const char *why = NULL;
    hf_validate_rules_t r;
    hf_validate_rules_default(&r);
    (void)hf_validate_time(a, c, (int64_t)m, (int64_t)(c ^ a), &why);
    (void)hf_validate_time_rules(&r, a, HF_FUZZ_NOW_US, &why);
    if (hf_validate_utc_offset(m) != !hf_validate_utc_offset_reason(m))
        hf_fuzz_fail("utc_offset and its reason disagree on %d", m);
    (void)hf_validate_volume(&r, (hf_procedure_t)((uint32_t)c % 5), m, (int32_t)(a >> 32), &why);
    /* the calendar on any day and instant in range */
    int64_t y;
    int mo, d;
    hf_cal_civil_from_days((int32_t)(uint32_t)c, &y, &mo, &d);
    if (!hf_cal_date_valid(y, mo, d) || hf_cal_days_from_civil(y, mo, d) != (int32_t)(uint32_t)c)
        hf_fuzz_fail("civil day %d does not round trip", (int32_t)(uint32_t)c);
    if (hf_validate_utc_offset(m)) {
        int32_t day = hf_cal_local_day(a / 8, m);
        (void)hf_cal_local_midnight(day, m);
        (void)hf_cal_month_start(day);
        (void)hf_cal_next_month(day);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = hf_malloc(size ? size : 1); /* exact size: ASan sees overreads */
    memcpy(s, data, size);
    hf__strings(s, size);
    hf_free(s);
    uint8_t ints[16] = {0};
    memcpy(ints, data, size < sizeof(ints) ? size : sizeof(ints));
    hf__ints(ints);
    return 0;
}
