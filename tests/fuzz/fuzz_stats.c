/*
 * fuzz_stats — the reader of librdkafka's statistics JSON
 * (ingest/hf_consumer_stats.c, hf_consumer_stats_broker_up) on arbitrary
 * bytes, with the properties its header promises:
 *   - nothing reads past the length (each input is an exact-size copy);
 *   - a refused document leaves *up false;
 *   - the answer depends on the bytes only (a second call agrees);
 *   - appending bytes after a document that was read does not change the
 *     answer (the reader stops after the "brokers" object, or at the end).
 * Corpus: tests/fuzz/corpus/stats/ (a real librdkafka 2.12.1 document and
 * hand-written ones).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hf_consumer.h"
#include "hf_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    memcpy(s, data, size);
    bool up = true, up2 = true;
    bool ok = hf_consumer_stats_broker_up(s, size, &up);
    if (!ok && up)
        hf_fuzz_fail("a refused document left *up true");
    if (hf_consumer_stats_broker_up(s, size, &up2) != ok || up2 != up)
        hf_fuzz_fail("two calls on the same bytes disagree");
    if (ok) {
        char *t = malloc(size + 3);
        memcpy(t, data, size);
        memcpy(t + size, ",\"{", 3);
        if (!hf_consumer_stats_broker_up(t, size + 3, &up2) || up2 != up)
            hf_fuzz_fail("bytes after a document that was read changed the answer");
        free(t);
    }
    free(s);
    return 0;
}
