/*
 * hf_validate — field checks for identifiers, codes, blood groups, times and
 * volumes, shared by `hemoflow publish` (station) and the consumer.
 *
 * Everything here is pure: explicit lengths, fixed-size scratch on the
 * stack, ASCII classification by hand (no <ctype.h>, so no locale), and
 * calendar arithmetic by days-from-civil (no timegm, no TZ). The rules and
 * their reason codes are documented in docs/validation.md.
 */
#include "hf_validate.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "hf_province.h"

/* ==== private helpers ==== */

static bool hf__is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool hf__is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool hf__is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static bool hf__all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!hf__is_digit((unsigned char)s[i]))
            return false;
    return true;
}

/* ==== ISBT 128 DIN ==== */

static const char hf__mod37_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*";

/* Value of a data character; '*' (36) only ever appears as a check character. */
static int hf__mod37_value(unsigned char c)
{
    if (hf__is_digit(c))
        return c - '0';
    if (hf__is_upper(c))
        return c - 'A' + 10;
    return -1;
}

bool hf_validate_din(const char *din13, size_t len)
{
    if (!din13 || len != 13)
        return false;
    unsigned char a = (unsigned char)din13[0];
    bool first_ok = (hf__is_upper(a) && a != 'O') || (a >= '1' && a <= '9');
    return first_ok && hf__all_digits(din13 + 1, 12);
}

char hf_validate_din_check_char(const char *din13)
{
    if (!din13)
        return '\0';
    /* Weight of the character at position n from the right is 2^n; folding
     * left to right as s = (s + v) * 2 gives exactly that, mod 37. */
    unsigned s = 0;
    for (size_t i = 0; i < 13; i++) {
        int v = hf__mod37_value((unsigned char)din13[i]); /* NUL -> -1: stops */
        if (v < 0)
            return '\0';
        s = ((s + (unsigned)v) * 2) % 37;
    }
    return hf__mod37_alphabet[(38 - s) % 37];
}

bool hf_validate_din_with_check(const char *s, size_t len)
{
    return hf_validate_din_reason(s, len) == NULL && len == 14;
}

const char *hf_validate_din_reason(const char *s, size_t len)
{
    if (!s || (len != 13 && len != 14) || !hf_validate_din(s, 13))
        return HF_VR_DIN_FORMAT;
    if (len == 14 && hf_validate_din_check_char(s) != s[13])
        return HF_VR_DIN_CHECK;
    return NULL;
}

/* ==== resident ID ==== */

static char hf__id18_check(const char *s17)
{
    static const unsigned char w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    unsigned sum = 0;
    for (size_t i = 0; i < 17; i++)
        sum += (unsigned)(s17[i] - '0') * w[i];
    return "10X98765432"[sum % 11];
}

static hf_id_format_t hf__id_shape(const char *s, size_t len)
{
    if (!s)
        return HF_ID_OTHER;
    if (len == 18 && hf__all_digits(s, 17)) {
        unsigned char c = (unsigned char)s[17];
        if (hf__is_digit(c) || c == 'X' || c == 'x')
            return HF_ID_18;
    }
    if (len == 15 && hf__all_digits(s, 15))
        return HF_ID_15;
    return HF_ID_OTHER;
}

/* Birth date of a correctly shaped ID. */
static bool hf__id_date_ok(const char *s, hf_id_format_t f)
{
    int y, m, d;
    if (f == HF_ID_18) {
        y = hf_cal_digits(s + 6, 4);
        m = hf_cal_digits(s + 10, 2);
        d = hf_cal_digits(s + 12, 2);
    } else {
        y = 1900 + hf_cal_digits(s + 6, 2);
        m = hf_cal_digits(s + 8, 2);
        d = hf_cal_digits(s + 10, 2);
    }
    return y >= 1800 && hf_cal_date_valid(y, m, d);
}

const char *hf_validate_resident_id_reason(const char *s, size_t len)
{
    hf_id_format_t f = hf__id_shape(s, len);
    if (f == HF_ID_OTHER)
        return HF_VR_ID_FORMAT;
    if (!hf__id_date_ok(s, f))
        return HF_VR_ID_BIRTH_DATE;
    if (f == HF_ID_18) {
        char c = s[17] == 'x' ? 'X' : s[17];
        if (hf__id18_check(s) != c)
            return HF_VR_ID_CHECKSUM;
    }
    return NULL;
}

hf_id_format_t hf_validate_resident_id(const char *s, size_t len, bool *checksum_valid)
{
    hf_id_format_t f = hf__id_shape(s, len);
    if (checksum_valid)
        *checksum_valid = f != HF_ID_OTHER && hf_validate_resident_id_reason(s, len) == NULL;
    return f;
}

bool hf_validate_resident_id_canonical(const char *s, size_t len, char out[19])
{
    out[0] = '\0';
    if (hf_validate_resident_id_reason(s, len) != NULL)
        return false;
    if (len == 18) {
        memcpy(out, s, 17);
        out[17] = s[17] == 'x' ? 'X' : s[17];
    } else {
        memcpy(out, s, 6);
        out[6] = '1';
        out[7] = '9';
        memcpy(out + 8, s + 6, 9);
        out[17] = hf__id18_check(out);
    }
    out[18] = '\0';
    return true;
}

const char *hf_validate_id_format_name(hf_id_format_t f)
{
    switch (f) {
    case HF_ID_18:
        return "id18";
    case HF_ID_15:
        return "id15";
    case HF_ID_OTHER:
        break;
    }
    return "other";
}

/* ==== provinces ==== */

bool hf_validate_province(const char *code2, size_t len)
{
    return code2 && len == 2 && hf_province_index(code2) >= 0;
}

const char *hf_validate_province_name(const char *code2)
{
    /* Short-circuit keeps us from reading code2[1] past a NUL. */
    if (!code2 || !code2[0] || !code2[1])
        return NULL;
    int i = hf_province_index(code2);
    return i < 0 ? NULL : hf_provinces[i].name;
}

/* ==== ABO / RhD ==== */

#define HF__BG_MAX 64

/* One UTF-8 sequence the normalizer understands: bytes -> replacement
 * (a single ASCII byte, or 0 to drop it). */
static const struct {
    unsigned char utf8[3];
    char repl;
} hf__bg_utf8[] = {
    {{0xE9, 0x98, 0xB3}, '+'}, /* 阳 (positive) */
    {{0xE9, 0x98, 0xB4}, '-'}, /* 阴 (negative) */
    {{0xE6, 0x80, 0xA7}, 0},   /* 性 */
    {{0xE5, 0x9E, 0x8B}, 0},   /* 型 (group) */
    {{0xE3, 0x80, 0x80}, 0},   /* ideographic space */
    {{0xEF, 0xBC, 0x88}, 0},   /* fullwidth ( */
    {{0xEF, 0xBC, 0x89}, 0},   /* fullwidth ) */
    {{0xEF, 0xBC, 0x8B}, '+'}, /* fullwidth + */
    {{0xEF, 0xBC, 0x8D}, '-'}, /* fullwidth - */
    {{0xE2, 0x88, 0x92}, '-'}, /* U+2212 minus sign */
    {{0xE2, 0x80, 0x93}, '-'}, /* U+2013 en dash */
};

/* Fold text into lower-case ASCII with separators and "型/性" dropped.
 * Returns the folded length, or -1 on a byte outside the vocabulary. */
static int hf__bg_fold(const unsigned char *s, size_t len, char out[HF__BG_MAX])
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        char r = 0;
        size_t adv = 1;
        if (hf__is_upper(c))
            r = (char)(c - 'A' + 'a');
        else if (hf__is_lower(c) || c == '+' || c == '-')
            r = (char)c;
        else if (c == ' ' || c == '\t' || c == '(' || c == ')' || c == '.' || c == ',' ||
                 c == '_' || c == '/' || c == ':')
            r = 0;
        else if (c < 0x80)
            return -1;
        else if (len - i >= 3 && c == 0xEF && (s[i + 1] == 0xBC || s[i + 1] == 0xBD) &&
                 ((s[i + 1] == 0xBC && s[i + 2] >= 0xA1 && s[i + 2] <= 0xBA) ||
                  (s[i + 1] == 0xBD && s[i + 2] >= 0x81 && s[i + 2] <= 0x9A))) {
            /* fullwidth Ａ–Ｚ (EF BC A1..BA) and ａ–ｚ (EF BD 81..9A) */
            r = (char)('a' + (s[i + 1] == 0xBC ? s[i + 2] - 0xA1 : s[i + 2] - 0x81));
            adv = 3;
        } else {
            bool found = false;
            for (size_t k = 0; k < sizeof(hf__bg_utf8) / sizeof(hf__bg_utf8[0]); k++) {
                if (len - i >= 3 && memcmp(s + i, hf__bg_utf8[k].utf8, 3) == 0) {
                    r = hf__bg_utf8[k].repl;
                    found = true;
                    break;
                }
            }
            if (!found)
                return -1;
            adv = 3;
        }
        if (r) {
            if (o >= HF__BG_MAX)
                return -1;
            out[o++] = r;
        }
        i += adv;
    }
    return (int)o;
}

/* Does folded text p (n bytes) start with word w? */
static bool hf__starts(const char *p, size_t n, const char *w)
{
    size_t wl = strlen(w);
    return n >= wl && memcmp(p, w, wl) == 0;
}

/* Grammar over the folded text:
 *   abo [rh | rhd] [sign]        sign = + | - | pos | positive | neg | negative
 *                                        | +ve | -ve
 * A '-' directly before pos/neg/positive/negative is a hyphen ("Rh-negative").
 * "rh" without a sign is rejected; no rh and no sign means RhD unspecified. */
static bool hf__bg_parse(const char *p, size_t n, hf_abo_t *abo, hf_rhd_t *rhd)
{
    static const struct {
        const char *w;
        hf_rhd_t v;
    } signs[] = {
        {"positive", HF_RHD_POS}, {"pos", HF_RHD_POS}, {"+ve", HF_RHD_POS}, {"+", HF_RHD_POS},
        {"negative", HF_RHD_NEG}, {"neg", HF_RHD_NEG}, {"-ve", HF_RHD_NEG}, {"-", HF_RHD_NEG},
    };
    size_t i;
    if (hf__starts(p, n, "ab")) {
        *abo = HF_ABO_AB;
        i = 2;
    } else if (n >= 1 && (p[0] == 'a' || p[0] == 'b' || p[0] == 'o')) {
        *abo = p[0] == 'a' ? HF_ABO_A : p[0] == 'b' ? HF_ABO_B : HF_ABO_O;
        i = 1;
    } else {
        return false;
    }
    bool rh = false;
    hf_rhd_t sign = HF_RHD_UNKNOWN;
    while (i < n) {
        if (sign != HF_RHD_UNKNOWN)
            return false; /* nothing may follow the sign */
        if (!rh && hf__starts(p + i, n - i, "rhd")) {
            rh = true;
            i += 3;
            continue;
        }
        if (!rh && hf__starts(p + i, n - i, "rh")) {
            rh = true;
            i += 2;
            continue;
        }
        if (p[i] == '-' && (hf__starts(p + i, n - i, "-pos") || hf__starts(p + i, n - i, "-neg"))) {
            i++; /* hyphen, as in "Rh-negative" */
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof(signs) / sizeof(signs[0]); k++) {
            if (hf__starts(p + i, n - i, signs[k].w)) {
                sign = signs[k].v;
                i += strlen(signs[k].w);
                break;
            }
        }
        if (k == sizeof(signs) / sizeof(signs[0]))
            return false;
    }
    if (sign == HF_RHD_UNKNOWN && rh)
        return false;
    *rhd = sign == HF_RHD_UNKNOWN ? HF_RHD_UNSPECIFIED : sign;
    return true;
}

/* ISBT 128 ABO/RhD group codes (first two characters of data structure 002). */
static bool hf__bg_isbt(const char *s, size_t n, hf_abo_t *abo, hf_rhd_t *rhd)
{
    static const struct {
        char code[3];
        hf_abo_t abo;
        hf_rhd_t rhd;
    } t[] = {
        {"51", HF_ABO_O, HF_RHD_POS},         {"95", HF_ABO_O, HF_RHD_NEG},
        {"62", HF_ABO_A, HF_RHD_POS},         {"06", HF_ABO_A, HF_RHD_NEG},
        {"73", HF_ABO_B, HF_RHD_POS},         {"17", HF_ABO_B, HF_RHD_NEG},
        {"84", HF_ABO_AB, HF_RHD_POS},        {"28", HF_ABO_AB, HF_RHD_NEG},
        {"55", HF_ABO_O, HF_RHD_UNSPECIFIED}, {"66", HF_ABO_A, HF_RHD_UNSPECIFIED},
        {"77", HF_ABO_B, HF_RHD_UNSPECIFIED}, {"88", HF_ABO_AB, HF_RHD_UNSPECIFIED},
    };
    if (n != 2)
        return false;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i].code[0] == s[0] && t[i].code[1] == s[1]) {
            *abo = t[i].abo;
            *rhd = t[i].rhd;
            return true;
        }
    }
    return false;
}

hf_err_t hf_validate_blood_group(const char *text, size_t len, hf_abo_t *abo, hf_rhd_t *rhd)
{
    *abo = HF_ABO_UNKNOWN;
    *rhd = HF_RHD_UNKNOWN;
    if (!text || len == 0 || len > HF__BG_MAX)
        return HF_ERR_INVALID;
    /* Trim ASCII blanks so " 51 " is still a code. */
    size_t b = 0, e = len;
    while (b < e && (text[b] == ' ' || text[b] == '\t'))
        b++;
    while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t'))
        e--;
    hf_abo_t a = HF_ABO_UNKNOWN;
    hf_rhd_t r = HF_RHD_UNKNOWN;
    bool ok;
    if (e - b == 2 && hf__all_digits(text + b, 2)) {
        ok = hf__bg_isbt(text + b, 2, &a, &r);
    } else {
        char folded[HF__BG_MAX];
        int n = hf__bg_fold((const unsigned char *)text + b, e - b, folded);
        ok = n > 0 && hf__bg_parse(folded, (size_t)n, &a, &r);
    }
    if (!ok)
        return HF_ERR_INVALID;
    *abo = a;
    *rhd = r;
    return HF_OK;
}

const char *hf_validate_abo_name(hf_abo_t abo)
{
    switch (abo) {
    case HF_ABO_A:
        return "a";
    case HF_ABO_B:
        return "b";
    case HF_ABO_AB:
        return "ab";
    case HF_ABO_O:
        return "o";
    case HF_ABO_UNKNOWN:
        break;
    }
    return "unknown";
}

const char *hf_validate_rhd_name(hf_rhd_t rhd)
{
    switch (rhd) {
    case HF_RHD_POS:
        return "pos";
    case HF_RHD_NEG:
        return "neg";
    case HF_RHD_UNSPECIFIED:
        return "unspecified";
    case HF_RHD_UNKNOWN:
        break;
    }
    return "unknown";
}

/* ==== ISBT 128 product code ==== */

const char *hf_validate_collection_type(char t)
{
    switch (t) {
    case 'V':
    case 'S':
        return "volunteer";
    case 'P':
    case 's':
        return "paid";
    case 'A':
    case '1':
    case 'X':
        return "autologous";
    case 'D':
        return "directed";
    case '0':
        return "unknown";
    default:
        return NULL;
    }
}

const char *hf_validate_product_code_reason(const char *s, size_t len)
{
    if (!s || len != 8)
        return HF_VR_PRODUCT_CODE_FORMAT;
    const unsigned char *u = (const unsigned char *)s;
    if (!hf__is_upper(u[0]) || !hf__all_digits(s + 1, 4))
        return HF_VR_PRODUCT_CODE_FORMAT;
    if (!(hf__is_digit(u[6]) || hf__is_upper(u[6])) || !(hf__is_digit(u[7]) || hf__is_lower(u[7])))
        return HF_VR_PRODUCT_CODE_FORMAT;
    if (!hf_validate_collection_type(s[5]))
        return HF_VR_PRODUCT_CODE_TYPE;
    return NULL;
}

bool hf_validate_product_code(const char *s, size_t len)
{
    return hf_validate_product_code_reason(s, len) == NULL;
}

/* ==== times ==== */

#define HF__US_PER_S INT64_C(1000000)
#define HF__US_PER_DAY (INT64_C(86400) * HF__US_PER_S)

hf_err_t hf_validate_time(int64_t event_us, int64_t now_us, int64_t skew_s, int64_t floor_us,
                          const char **reason)
{
    const char *why = NULL;
    if (skew_s < 0)
        skew_s = 0;
    int64_t skew_us, limit;
    if (__builtin_mul_overflow(skew_s, HF__US_PER_S, &skew_us))
        skew_us = INT64_MAX;
    if (__builtin_add_overflow(now_us, skew_us, &limit))
        limit = INT64_MAX;
    if (event_us > limit)
        why = HF_VR_TIME_FUTURE;
    else if (event_us < floor_us)
        why = HF_VR_TIME_BEFORE_FLOOR;
    if (reason)
        *reason = why;
    return why ? HF_ERR_INVALID : HF_OK;
}

const char *hf_validate_utc_offset_reason(int minutes)
{
    if (minutes < -720 || minutes > 840)
        return HF_VR_UTC_OFFSET_RANGE;
    if (minutes % 15 != 0)
        return HF_VR_UTC_OFFSET_STEP;
    return NULL;
}

bool hf_validate_utc_offset(int minutes)
{
    return hf_validate_utc_offset_reason(minutes) == NULL;
}

/* ==== text values ==== */

bool hf_validate_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!s)
        return len == 0;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        size_t n;
        unsigned min;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (p[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

const char *hf_validate_text_reason(const char *s, size_t len)
{
    if (len > HF_VALIDATE_MAX_STRING_BYTES)
        return HF_VR_STRING_TOO_LONG;
    if (!s)
        return len ? HF_VR_UTF8_INVALID : NULL;
    if (memchr(s, 0, len))
        return HF_VR_NUL_BYTE;
    return hf_validate_utf8(s, len) ? NULL : HF_VR_UTF8_INVALID;
}

/* ==== rules and volumes ==== */

void hf_validate_rules_default(hf_validate_rules_t *r)
{
    memset(r, 0, sizeof(*r));
    r->whole_blood_ml[0] = 200;
    r->whole_blood_ml[1] = 300;
    r->whole_blood_ml[2] = 400;
    r->whole_blood_n = 3;
    r->platelets_max_ml = 500;
    r->plasma_max_g = 600;
    r->red_cells_max_ml = 1000;
    r->clock_skew_s = 300;
    r->time_floor_us = hf_cal_days_from_civil(1990, 1, 1) * HF__US_PER_DAY;
}

/* "200, 300,400" -> list; false on anything else. */
static bool hf__parse_volume_list(const char *s, int *out, size_t *n_out)
{
    size_t n = 0;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        int v = 0, nd = 0;
        while (hf__is_digit((unsigned char)*p) && nd < 5) {
            v = v * 10 + (*p - '0');
            p++;
            nd++;
        }
        if (nd == 0 || hf__is_digit((unsigned char)*p) || v < 1 || v > 5000 ||
            n == HF_VALIDATE_WB_MAX)
            return false;
        out[n++] = v;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (*p != ',')
            return false;
        p++;
    }
    *n_out = n;
    return true;
}

hf_err_t hf_validate_rules_from_config(hf_validate_rules_t *r, const hf_config_t *cfg,
                                       char *errstr, size_t errstr_size)
{
    hf_validate_rules_t t;
    hf_validate_rules_default(&t);

    const char *wb = hf_config_str(cfg, "validate.whole_blood_ml");
    if (!hf__parse_volume_list(wb, t.whole_blood_ml, &t.whole_blood_n)) {
        hf_validate_rules_default(r);
        return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                          "key 'validate.whole_blood_ml': expected 1 to %d comma-separated "
                          "volumes in [1, 5000] mL, got '%.64s'",
                          HF_VALIDATE_WB_MAX, wb);
    }
    const char *floor_s = hf_config_str(cfg, "validate.time_floor");
    int32_t days;
    if (!hf_cal_date_parse(floor_s, strnlen(floor_s, 11), &days)) {
        hf_validate_rules_default(r);
        return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                          "key 'validate.time_floor': expected a date YYYY-MM-DD, got '%.64s'",
                          floor_s);
    }
    t.time_floor_us = (int64_t)days * HF__US_PER_DAY;
    /* The config table bounds these (0..30 days, 1..5000), so they fit int. */
    t.clock_skew_s = hf_config_int(cfg, "validate.clock_skew_s");
    t.platelets_max_ml = (int)hf_config_int(cfg, "validate.apheresis_platelets_max_ml");
    t.plasma_max_g = (int)hf_config_int(cfg, "validate.plasma_max_g");
    *r = t;
    return HF_OK;
}

/* volume in 1..max; -1 = missing. */
static const char *hf__range(int v, int max, const char *missing, const char *out_of_range,
                             const char *over)
{
    if (v == -1)
        return missing;
    if (v < 1)
        return out_of_range;
    if (v > max)
        return over;
    return NULL;
}

hf_err_t hf_validate_volume(const hf_validate_rules_t *r, hf_procedure_t proc,
                            int volume_ml_or_minus1, int plasma_g_or_minus1, const char **reason)
{
    const char *why = NULL;
    int v = volume_ml_or_minus1;
    switch (proc) {
    case HF_PROC_WHOLE_BLOOD:
        if (v == -1) {
            why = HF_VR_VOLUME_MISSING;
        } else {
            why = HF_VR_VOLUME_NOT_ALLOWED;
            for (size_t i = 0; i < r->whole_blood_n && i < HF_VALIDATE_WB_MAX; i++)
                if (r->whole_blood_ml[i] == v)
                    why = NULL;
        }
        break;
    case HF_PROC_APHERESIS_PLASMA:
        why = hf__range(plasma_g_or_minus1, r->plasma_max_g, HF_VR_PLASMA_MISSING,
                        HF_VR_PLASMA_OUT_OF_RANGE, HF_VR_PLASMA_OVER_MAX);
        break;
    case HF_PROC_APHERESIS_PLATELETS:
        why = hf__range(v, r->platelets_max_ml, HF_VR_VOLUME_MISSING, HF_VR_VOLUME_OUT_OF_RANGE,
                        HF_VR_VOLUME_OVER_MAX);
        break;
    case HF_PROC_APHERESIS_RED_CELLS:
        why = hf__range(v, r->red_cells_max_ml, HF_VR_VOLUME_MISSING, HF_VR_VOLUME_OUT_OF_RANGE,
                        HF_VR_VOLUME_OVER_MAX);
        break;
    case HF_PROC_UNKNOWN:
    default:
        why = HF_VR_PROCEDURE_UNKNOWN;
        break;
    }
    if (reason)
        *reason = why;
    return why ? HF_ERR_INVALID : HF_OK;
}

hf_err_t hf_validate_time_rules(const hf_validate_rules_t *r, int64_t event_us, int64_t now_us,
                                const char **reason)
{
    return hf_validate_time(event_us, now_us, r->clock_skew_s, r->time_floor_us, reason);
}

static const char *const hf__proc_names[] = {
    [HF_PROC_UNKNOWN] = "unknown",
    [HF_PROC_WHOLE_BLOOD] = "whole_blood",
    [HF_PROC_APHERESIS_PLASMA] = "apheresis_plasma",
    [HF_PROC_APHERESIS_PLATELETS] = "apheresis_platelets",
    [HF_PROC_APHERESIS_RED_CELLS] = "apheresis_red_cells",
};

const char *hf_validate_procedure_name(hf_procedure_t p)
{
    if ((unsigned)p >= sizeof(hf__proc_names) / sizeof(hf__proc_names[0]))
        return "unknown";
    return hf__proc_names[p];
}

bool hf_validate_procedure_parse(const char *s, size_t len, hf_procedure_t *out)
{
    if (!s)
        return false;
    for (size_t i = 0; i < sizeof(hf__proc_names) / sizeof(hf__proc_names[0]); i++) {
        size_t n = strlen(hf__proc_names[i]);
        if (n == len && memcmp(s, hf__proc_names[i], n) == 0) {
            *out = (hf_procedure_t)i;
            return true;
        }
    }
    return false;
}
