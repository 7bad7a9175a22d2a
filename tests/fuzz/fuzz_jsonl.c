/*
 * fuzz_jsonl — a station's JSON Lines export as `hemoflow publish` reads
 * it: the bounded line reader and the rendering of each line into text
 * fields (station/hf_jsonl.c), then, when the first line names an event
 * type, each rendered object built into a record, encoded, decoded and
 * normalized (hf_fuzz_record). Corpus: tests/fuzz/corpus/jsonl/.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hf_fuzz.h"
#include "hf_jsonl.h"
#include "hf_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HF__MAX_LINE 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int version = 0;
    const hf_event_type_t *t = hf_fuzz_type_line(&data, &size, &version);
    FILE *f = size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
    if (!f)
        hf_fuzz_fail("cannot open the input as a stream");
    hf_jsonl_lines_t *lr = hf_jsonl_lines_new(f, HF__MAX_LINE);
    unsigned long last = 0;
    for (;;) {
        const char *line = NULL;
        size_t len = 0;
        unsigned long no = 0;
        hf_err_t e = hf_jsonl_lines_next(lr, &line, &len, &no);
        if (e == HF_ERR_NOT_FOUND)
            break;
        if (e == HF_ERR_OVERSIZE)
            continue;
        if (e != HF_OK)
            hf_fuzz_fail("hf_jsonl_lines_next: unexpected error %d", (int)e);
        if (no <= last)
            hf_fuzz_fail("line %lu after line %lu", no, last);
        last = no;
        if (len > HF__MAX_LINE || memchr(line, '\n', len))
            hf_fuzz_fail("line %lu: %zu bytes or an embedded newline", no, len);
        /* exact-size copy: ASan sees a read past the line */
        char *copy = hf_malloc(len ? len : 1);
        memcpy(copy, line, len);
        hf_jsonl_row_t row;
        hf_reject_t rej;
        memset(&rej, 0, sizeof(rej));
        if (hf_jsonl_render(copy, len, &row, &rej) == HF_OK) {
            if (t)
                hf_fuzz_record(t, version, row.fields, row.n);
            hf_jsonl_row_free(&row);
        } else if (!rej.reason || !*rej.reason) {
            hf_fuzz_fail("line %lu rejected without a reason", no);
        }
        hf_free(copy);
    }
    hf_jsonl_lines_destroy(lr);
    fclose(f);
    return 0;
}
