/*
 * fuzz_csv — a station's CSV export as `hemoflow publish` reads it: the
 * RFC 4180 reader (station/hf_csv.c) with a small record limit, then, when
 * the first line names an event type ("DonationCollected" or
 * "DonationCollected.v1"), every row with the header's cell count is built
 * into a record (validation, pseudonymization), encoded, decoded and
 * normalized (hf_fuzz_record). Corpus: tests/fuzz/corpus/csv/ (the station
 * export fixtures, each after its event type line).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hf_csv.h"
#include "hf_fuzz.h"
#include "hf_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HF__MAX_RECORD 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int version = 0;
    const hf_event_type_t *t = hf_fuzz_type_line(&data, &size, &version);
    /* fmemopen of 0 bytes fails; an empty export is a 1-byte "\n" away */
    FILE *f = size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
    if (!f)
        hf_fuzz_fail("cannot open the input as a stream");
    hf_csv_t *csv = hf_csv_new(f, HF__MAX_RECORD);
    char **hdr = NULL;
    size_t nh = 0;
    hf_field_t *fields = NULL;
    hf_csv_row_t row;
    char err[256];
    unsigned long last_line = 0;
    for (;;) {
        err[0] = '\0';
        hf_err_t e = hf_csv_next(csv, &row, err, sizeof(err));
        if (e == HF_ERR_NOT_FOUND)
            break;
        if (e != HF_OK && e != HF_ERR_OVERSIZE && e != HF_ERR_INVALID)
            hf_fuzz_fail("hf_csv_next: unexpected error %d (%s)", (int)e, err);
        if (row.line < last_line || row.line == 0)
            hf_fuzz_fail("record at line %lu after line %lu", row.line, last_line);
        last_line = row.line;
        if (e != HF_OK) {
            if (!err[0])
                hf_fuzz_fail("error %d without a message at line %lu", (int)e, row.line);
            continue;
        }
        size_t total = 0;
        for (size_t i = 0; i < row.ncells; i++)
            total += strlen(row.cells[i]);
        if (total > HF__MAX_RECORD)
            hf_fuzz_fail("record of %zu bytes passed a %d-byte limit", total, HF__MAX_RECORD);
        if (!hdr) {
            nh = row.ncells;
            hdr = hf_calloc(nh ? nh : 1, sizeof(char *));
            for (size_t i = 0; i < nh; i++)
                hdr[i] = hf_strdup(row.cells[i]);
            fields = hf_calloc(nh ? nh : 1, sizeof(*fields));
            continue;
        }
        if (!t || row.ncells != nh)
            continue; /* publish: cell_count */
        for (size_t i = 0; i < nh; i++) {
            fields[i].name = hdr[i];
            fields[i].value = row.cells[i];
        }
        hf_fuzz_record(t, version, fields, nh);
    }
    for (size_t i = 0; i < nh; i++)
        hf_free(hdr[i]);
    hf_free(hdr);
    hf_free(fields);
    hf_csv_destroy(csv);
    fclose(f);
    return 0;
}
