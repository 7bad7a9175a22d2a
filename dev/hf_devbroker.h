/*
 * hf_devbroker — an embedded, in-process Kafka-protocol broker (librdkafka's
 * mock cluster) for local runs and the quickstart. Not for production: data
 * lives in memory and disappears with the process.
 */
#ifndef HF_DEVBROKER_H
#define HF_DEVBROKER_H

#include <stddef.h>

typedef struct hf_devbroker_s hf_devbroker_t;

/* Start a one-broker mock cluster with `ntopics` topics of `partitions`
 * partitions each. port > 0: clients bootstrap through 127.0.0.1:port;
 * port = 0: through the mock's own ephemeral port. Returns NULL and fills
 * errstr on failure. The topic names are copied. */
hf_devbroker_t *hf_devbroker_new(int port, int partitions, const char *const *topics,
                                 size_t ntopics, char *errstr, size_t errstr_size);

/* "host:port" for bootstrap.servers; owned by db. */
const char *hf_devbroker_bootstrap(const hf_devbroker_t *db);

/* Stops the broker; NULL is a no-op. */
void hf_devbroker_destroy(hf_devbroker_t *db);

#endif /* HF_DEVBROKER_H */
