/*
 * hf_wh_window — the commit window: per topic partition, the last few
 * commits (time, next offset, log-end offset known then) that `hemoflow
 * lag` judges with Burrow's rules (load/hf_lag.h). The consumer adds one
 * entry per partition it owns to each batch it hands to the loader; the
 * commit records them in hemoflow.hf_commit_window in the same transaction
 * as the rows and offsets (schemas/sql/0002_commit_window.sql), so the
 * window survives restarts and every instance writes to the same one.
 *
 * An entry is recorded only when hf_offsets, after the batch's own
 * compare-and-set, holds exactly its next offset: an instance that lost an
 * idle partition without noticing records nothing for it. At most
 * lag.window_commits entries are kept per partition; an entry within
 * lag.window_min_interval_ms of the newest replaces that one's offsets.
 */
#ifndef HF_WH_WINDOW_H
#define HF_WH_WINDOW_H

#include <stdint.h>

#include "hf_err.h"
#include "hf_warehouse.h"

/* Add the entry of topic/partition to b: next is its next offset once b
 * commits (the batch's new_next for a partition it covers, else the stored
 * offset), log_end the partition's log-end offset as far as the caller
 * knows (-1 unknown). Adding the same partition again replaces its entry.
 * HF_ERR_INVALID when b is committed and not reset, or next < 0. */
hf_err_t hf_wh_batch_window_add(hf_wh_batch_t *b, const char *topic, int32_t partition,
                                int64_t next, int64_t log_end, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Entries held by b. */
size_t hf_wh_batch_window_count(const hf_wh_batch_t *b);

#endif /* HF_WH_WINDOW_H */
