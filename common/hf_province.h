/*
 * hf_province — the one table of the 31 mainland provinces (GB/T 2260
 * two-digit codes, 11 .. 65) with their names, in code order. Validation,
 * the warehouse's LIST partitions and the simulator all index this table.
 */
#ifndef HF_PROVINCE_H
#define HF_PROVINCE_H

#include <stddef.h>

#define HF_PROVINCE_COUNT 31

typedef struct hf_province_s {
    char code[3];     /* "11" .. "65" */
    const char *name; /* English name, e.g. "Inner Mongolia" */
} hf_province_t;

extern const hf_province_t hf_provinces[HF_PROVINCE_COUNT];

/* Index in hf_provinces of the two characters at code2 (no NUL needed; the
 * second is read only when the first matches), or -1 when none. */
int hf_province_index(const char *code2);

#endif /* HF_PROVINCE_H */
