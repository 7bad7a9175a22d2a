/*
 * hf_uuid — textual UUID parsing.
 */
#include "hf_uuid.h"

#include <string.h>

/* Value of a hex digit + 1, 0 for anything else: one table look-up per
 * character instead of three range tests (the COPY encoder parses every
 * UUID column of every row; bench/callgrind.sh). */
static const uint8_t hf__hex1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
    ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* Where each of the 16 bytes starts in the 36-character text. */
static const uint8_t hf__uuid_at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

bool hf_uuid_parse(const char *s, size_t len, uint8_t out[16])
{
    if (!s || len != 36)
        return false;
    if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return false;
    const unsigned char *u = (const unsigned char *)s;
    uint8_t tmp[16];
    for (size_t o = 0; o < 16; o++) {
        unsigned hi = hf__hex1[u[hf__uuid_at[o]]], lo = hf__hex1[u[hf__uuid_at[o] + 1]];
        if (!hi || !lo)
            return false;
        tmp[o] = (uint8_t)((hi - 1) << 4 | (lo - 1));
    }
    memcpy(out, tmp, 16);
    return true;
}
