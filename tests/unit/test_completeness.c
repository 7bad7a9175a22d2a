/*
 * Unit tests for hf_completeness's pure part: the silent-province rule with
 * the clock injected. The SQL side is covered by
 * tests/integration/test_completeness.sh.
 */
#include <criterion/criterion.h>

#include "hf_cal.h"
#include "hf_completeness.h"

#define NOW (INT64_C(1764547200) * HF_CAL_US_PER_S) /* 2025-12-01T00:00:00Z */

Test(completeness, silent_rule)
{
    int64_t h12 = 12 * 3600;
    /* never sent anything */
    cr_assert(hf_compl_is_silent(-1, NOW, h12));
    /* newest event exactly at the limit: not yet silent; a microsecond more: silent */
    cr_assert_not(hf_compl_is_silent(NOW - h12 * HF_CAL_US_PER_S, NOW, h12));
    cr_assert(hf_compl_is_silent(NOW - h12 * HF_CAL_US_PER_S - 1, NOW, h12));
    /* recent, and in the (allowed) near future */
    cr_assert_not(hf_compl_is_silent(NOW - 60 * HF_CAL_US_PER_S, NOW, h12));
    cr_assert_not(hf_compl_is_silent(NOW + 300 * HF_CAL_US_PER_S, NOW, h12));
    /* the same event judged later (the clock is the caller's) */
    int64_t ev = NOW - 3600 * HF_CAL_US_PER_S;
    cr_assert_not(hf_compl_is_silent(ev, NOW, h12));
    cr_assert(hf_compl_is_silent(ev, NOW + h12 * HF_CAL_US_PER_S, h12));
    /* the epoch itself is an event time like any other */
    cr_assert(hf_compl_is_silent(0, NOW, h12));
    cr_assert_not(hf_compl_is_silent(0, 60 * HF_CAL_US_PER_S, h12));
}
