/*
 * hf_cal — the one calendar of hemoflow (proleptic Gregorian, pure
 * arithmetic): floor division, days since 1970-01-01 <-> civil dates, local
 * days at a fixed UTC offset, months for partition bounds, and the strict
 * "YYYY-MM-DD" / ISO 8601 instant parsers and formatters. Every stage that
 * needs a date uses this file; none keeps its own copy.
 */
#ifndef HF_CAL_H
#define HF_CAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HF_CAL_US_PER_S INT64_C(1000000)
#define HF_CAL_US_PER_DAY (INT64_C(86400) * HF_CAL_US_PER_S)
#define HF_CAL_TIME_LEN 32 /* "YYYY-MM-DDTHH:MM:SS+HH:MM" + NUL, with room */

/* ==== arithmetic ==== */

/* Value of the n decimal digits at s (n <= 9); -1 when one is not a digit.
 * No sign, no spaces, no terminator needed. */
int hf_cal_digits(const char *s, size_t n);

/* a / b rounded towards negative infinity (b != 0). */
int64_t hf_cal_floordiv(int64_t a, int64_t b);

bool hf_cal_is_leap(int64_t y);
/* Days in month m (1..12) of year y. */
int hf_cal_days_in_month(int64_t y, int m);
/* m in 1..12 and d in 1..days_in_month. */
bool hf_cal_date_valid(int64_t y, int m, int d);

/* Days since 1970-01-01 of a civil date, and back (any year). */
int64_t hf_cal_days_from_civil(int64_t y, int m, int d);
void hf_cal_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* ==== local days and months ==== */

/* The local calendar day (days since epoch) of a UTC instant at a fixed
 * UTC offset in minutes (UTC+08:00 = 480). */
int32_t hf_cal_local_day(int64_t utc_us, int offset_minutes);
/* The UTC instant (µs) of local midnight starting `day` at that offset. */
int64_t hf_cal_local_midnight(int32_t day, int offset_minutes);
/* First day of day's month; first day of the next month. */
int32_t hf_cal_month_start(int32_t day);
int32_t hf_cal_next_month(int32_t day);

/* ==== parsing and formatting ==== */

/* Strict "YYYY-MM-DD" (exactly 10 bytes, year 0001–9999, a real date) to
 * days since 1970-01-01. *days_since_epoch untouched on failure. */
bool hf_cal_date_parse(const char *s, size_t len, int32_t *days_since_epoch);

/* RFC 3339 / ISO 8601 instant with an explicit offset:
 *   YYYY-MM-DD('T'|'t'|' ')HH:MM:SS[.f{1,6}](Z|z|±HH:MM|±HHMM|±HH)
 * Hours 00–23, seconds 00–59 (leap second 60 rejected), offset hours 00–23
 * and minutes 00–59 (range/step policy is hf_validate_utc_offset()'s job).
 * Local times without an offset are rejected: the instant is unknowable.
 * On success *utc_us = instant in µs since the epoch, *offset_minutes = the
 * written offset (Z = 0). Outputs untouched on failure. */
bool hf_cal_time_parse(const char *s, size_t len, int64_t *utc_us, int *offset_minutes);

/* "YYYY-MM-DD" + NUL into out. Days whose year falls outside 0000–9999 are
 * written as "0000-00-00". */
void hf_cal_date_format(int32_t days, char out[11]);

/* "YYYY-MM-DDTHH:MM:SS" at the given offset, then "Z" (offset 0) or
 * "±HH:MM"; whole seconds (floored). */
void hf_cal_time_format(int64_t utc_us, int offset_minutes, char out[HF_CAL_TIME_LEN]);

#endif /* HF_CAL_H */
