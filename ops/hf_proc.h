/*
 * hf_proc — the process metrics every Prometheus client library exports,
 * under their usual names: process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_cpu_seconds_total,
 * process_open_fds, process_max_fds, process_start_time_seconds. Read from
 * /proc/self and getrusage at each render of the registry.
 */
#ifndef HF_PROC_H
#define HF_PROC_H

#include "hf_metrics.h"

typedef struct hf_proc_metrics_s hf_proc_metrics_t;

/* Register the metrics in r and a collect callback that refreshes them; r
 * must outlive the result. */
hf_proc_metrics_t *hf_proc_metrics_new(hf_metrics_t *r);
void hf_proc_metrics_destroy(hf_proc_metrics_t *p); /* NULL is a no-op; after r's last render */

#endif /* HF_PROC_H */
