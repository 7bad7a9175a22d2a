/*
 * hf_cal — the one calendar of hemoflow: proleptic Gregorian arithmetic
 * (days since 1970-01-01 <-> civil dates, Howard Hinnant's algorithms),
 * floor division, local days at a fixed UTC offset, and the strict date and
 * ISO 8601 instant parsers and formatters every stage uses. Pure arithmetic:
 * no timegm, no TZ database, no locale, no allocation.
 */
#include "hf_cal.h"

#include <stdio.h>
#include <string.h>

/* ==== digits ==== */

static bool hf__is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

int hf_cal_digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!hf__is_digit(c))
            return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

/* ==== arithmetic ==== */

int64_t hf_cal_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

bool hf_cal_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int hf_cal_days_in_month(int64_t y, int m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && hf_cal_is_leap(y) ? 29 : dim[m - 1];
}

bool hf_cal_date_valid(int64_t y, int m, int d)
{
    return m >= 1 && m <= 12 && d >= 1 && d <= hf_cal_days_in_month(y, m);
}

/* Howard Hinnant's days_from_civil: proleptic Gregorian, any year. */
int64_t hf_cal_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void hf_cal_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* ==== parsing and formatting ==== */

/* "YYYY-MM-DD" at s (10 bytes available) -> days; false when not a date. */
static bool hf__parse_ymd(const char *s, int64_t *days)
{
    if (s[4] != '-' || s[7] != '-')
        return false;
    int y = hf_cal_digits(s, 4), m = hf_cal_digits(s + 5, 2), d = hf_cal_digits(s + 8, 2);
    if (y < 1 || m < 0 || d < 0 || !hf_cal_date_valid(y, m, d))
        return false;
    *days = hf_cal_days_from_civil(y, m, d);
    return true;
}

bool hf_cal_date_parse(const char *s, size_t len, int32_t *days_since_epoch)
{
    int64_t days;
    if (!s || len != 10 || !hf__parse_ymd(s, &days))
        return false;
    *days_since_epoch = (int32_t)days; /* years 1..9999 fit easily */
    return true;
}

/* Offset designator at s[0..n): Z, ±HH:MM, ±HHMM, ±HH -> minutes. */
static bool hf__parse_offset(const char *s, size_t n, int *minutes)
{
    if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
        *minutes = 0;
        return true;
    }
    if (n < 3 || (s[0] != '+' && s[0] != '-'))
        return false;
    int hh = hf_cal_digits(s + 1, 2), mm;
    if (n == 3)
        mm = 0;
    else if (n == 5)
        mm = hf_cal_digits(s + 3, 2);
    else if (n == 6 && s[3] == ':')
        mm = hf_cal_digits(s + 4, 2);
    else
        return false;
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
        return false;
    *minutes = (s[0] == '-' ? -1 : 1) * (hh * 60 + mm);
    return true;
}

bool hf_cal_time_parse(const char *s, size_t len, int64_t *utc_us, int *offset_minutes)
{
    /* Shortest: "YYYY-MM-DDTHH:MM:SSZ" = 20 bytes. */
    if (!s || len < 20)
        return false;
    int64_t days;
    if (!hf__parse_ymd(s, &days))
        return false;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return false;
    if (s[13] != ':' || s[16] != ':')
        return false;
    int hh = hf_cal_digits(s + 11, 2), mi = hf_cal_digits(s + 14, 2), ss = hf_cal_digits(s + 17, 2);
    if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 59)
        return false;
    size_t i = 19;
    int64_t frac_us = 0;
    if (s[i] == '.') {
        size_t nd = 0;
        i++;
        while (i < len && hf__is_digit((unsigned char)s[i])) {
            if (++nd > 6)
                return false;
            frac_us = frac_us * 10 + (s[i] - '0');
            i++;
        }
        if (nd == 0)
            return false;
        for (; nd < 6; nd++)
            frac_us *= 10;
    }
    int off;
    if (i >= len || !hf__parse_offset(s + i, len - i, &off))
        return false;
    int64_t local_s = days * 86400 + hh * 3600 + mi * 60 + ss;
    *utc_us = (local_s - (int64_t)off * 60) * HF_CAL_US_PER_S + frac_us;
    *offset_minutes = off;
    return true;
}

void hf_cal_date_format(int32_t days, char out[11])
{
    int64_t y;
    int m, d;
    hf_cal_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        memcpy(out, "0000-00-00", 11);
        return;
    }
    /* Digits by hand: snprintf would be fine but this keeps -Wformat-truncation
     * quiet and the function allocation- and locale-free. */
    int yy = (int)y;
    out[0] = (char)('0' + yy / 1000);
    out[1] = (char)('0' + yy / 100 % 10);
    out[2] = (char)('0' + yy / 10 % 10);
    out[3] = (char)('0' + yy % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

/* ==== local days ==== */

int32_t hf_cal_local_day(int64_t utc_us, int offset_minutes)
{
    return (int32_t)hf_cal_floordiv(utc_us + (int64_t)offset_minutes * 60 * HF_CAL_US_PER_S,
                                    HF_CAL_US_PER_DAY);
}

int64_t hf_cal_local_midnight(int32_t day, int offset_minutes)
{
    return (int64_t)day * HF_CAL_US_PER_DAY - (int64_t)offset_minutes * 60 * HF_CAL_US_PER_S;
}

int32_t hf_cal_month_start(int32_t day)
{
    int64_t y;
    int m, d;
    hf_cal_civil_from_days(day, &y, &m, &d);
    return (int32_t)hf_cal_days_from_civil(y, m, 1);
}

int32_t hf_cal_next_month(int32_t day)
{
    int64_t y;
    int m, d;
    hf_cal_civil_from_days(day, &y, &m, &d);
    return (int32_t)(m == 12 ? hf_cal_days_from_civil(y + 1, 1, 1)
                             : hf_cal_days_from_civil(y, m + 1, 1));
}

void hf_cal_time_format(int64_t utc_us, int offset_minutes, char out[HF_CAL_TIME_LEN])
{
    int64_t t = hf_cal_floordiv(utc_us, HF_CAL_US_PER_S) + (int64_t)offset_minutes * 60;
    int64_t days = hf_cal_floordiv(t, 86400);
    int64_t sod = t - days * 86400;
    char date[11];
    hf_cal_date_format((int32_t)days, date);
    char off[8];
    if (offset_minutes == 0) {
        memcpy(off, "Z", 2);
    } else {
        int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
        snprintf(off, sizeof(off), "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', a / 60 % 100,
                 a % 60);
    }
    snprintf(out, HF_CAL_TIME_LEN, "%.10sT%02d:%02d:%02d%s", date, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60), off);
}
