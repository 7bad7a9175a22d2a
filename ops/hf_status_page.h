/*
 * hf_status_page — the status page served at `/` by the operations
 * endpoint: one self-contained HTML document (inline style and script, no
 * external scripts, fonts or CDNs) that fetches /status.json every two
 * seconds and shows per-partition lag (with the Burrow-style status column
 * of the lag evaluator), rows per second, quarantine by reason and silent
 * provinces. The fields it reads are those of hf_consumer_ops_status_json.
 */
#ifndef HF_STATUS_PAGE_H
#define HF_STATUS_PAGE_H

extern const char hf_status_page_html[];

#endif /* HF_STATUS_PAGE_H */
