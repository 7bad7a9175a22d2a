/*
 * make_seeds — writes the decoder's seed corpus: every row of the station
 * export fixtures (tests/fixtures/events/<EventType>.csv) built, validated,
 * pseudonymized and encoded by the project's own station code, once for
 * every schema version of its event type in the catalogue (columns a
 * version lacks are left out), as tests/fuzz/corpus/decoder/<EventType>.v<N>.<row>.
 * Run by hand when a schema version is added (docs/reliability.md,
 * "Fuzzing"); the output is committed.
 * Usage: make_seeds FIXTURES_EVENTS_DIR OUT_DIR
 */
#include <avro.h>
#include <stdio.h>
#include <string.h>

#include "hf_catalog.h"
#include "hf_csv.h"
#include "hf_fuzz.h"
#include "hf_mem.h"
#include "hf_record.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FIXTURES_EVENTS_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    const hf_catalog_t *cat = hf_fuzz_catalog();
    size_t written = 0;
    for (size_t i = 0; i < hf_catalog_count(cat); i++) {
        hf_catalog_info_t info;
        if (hf_catalog_entry(cat, i, &info) != HF_OK)
            return 1;
        const char *tn = info.event_type->name;
        avro_schema_t schema = hf_catalog_schema(cat, tn, info.version, NULL);
        char *path = hf_asprintf("%s/%s.csv", argv[1], tn);
        FILE *f = fopen(path, "r");
        if (!f) {
            fprintf(stderr, "cannot open %s\n", path);
            return 1;
        }
        hf_csv_t *csv = hf_csv_new(f, 1 << 16);
        hf_csv_row_t row;
        char err[256], **hdr = NULL;
        size_t nh = 0, rowno = 0;
        while (hf_csv_next(csv, &row, err, sizeof(err)) == HF_OK) {
            if (!hdr) {
                nh = row.ncells;
                hdr = hf_calloc(nh, sizeof(char *));
                for (size_t c = 0; c < nh; c++)
                    hdr[c] = hf_strdup(row.cells[c]);
                continue;
            }
            hf_field_t fields[64];
            size_t n = 0;
            for (size_t c = 0; c < nh && c < row.ncells && n < 64; c++)
                if (hf__record_column_known(schema, hdr[c]) && strcmp(hdr[c], "schema_version"))
                    fields[n++] = (hf_field_t){.name = hdr[c], .value = row.cells[c]};
            hf_buf_t frame = {0};
            if (hf_fuzz_encode(info.event_type, info.version, fields, n, &frame)) {
                char *out = hf_asprintf("%s/%s.v%d.%zu", argv[2], tn, info.version, ++rowno);
                FILE *o = fopen(out, "wb");
                if (!o || fwrite(frame.data, 1, frame.len, o) != frame.len || fclose(o)) {
                    fprintf(stderr, "cannot write %s\n", out);
                    return 1;
                }
                hf_free(out);
                written++;
            }
            hf_buf_free(&frame);
        }
        for (size_t c = 0; c < nh; c++)
            hf_free(hdr[c]);
        hf_free(hdr);
        hf_csv_destroy(csv);
        fclose(f);
        hf_free(path);
    }
    printf("%zu frames written to %s\n", written, argv[2]);
    return written ? 0 : 1;
}
