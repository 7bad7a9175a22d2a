/*
 * hf_indicators — the warehouse side of the published indicators
 * (schemas/sql/0004_indicators.sql, docs/indicators.md): copying the
 * indicators.* configuration into hemoflow.hf_settings, and `hemoflow
 * refresh`, which recomputes the hf_ind_* materialized views that the
 * analyst's ind_* views read.
 */
#ifndef HF_INDICATORS_H
#define HF_INDICATORS_H

#include <stdio.h>

#include "hf_config.h"
#include "hf_err.h"

/* Write indicators.suppress_max, suppress_round, plasma_min_gap_days and
 * plasma_max_per_year into hemoflow.hf_settings, then refresh every
 * hemoflow.hf_ind_* view CONCURRENTLY, each in its own transaction, and
 * record indicators_refreshed_at. One line per view and a total go to out
 * (may be NULL). Runs as the warehouse
 * owner (pg.* settings). Errors: HF_ERR_SCHEMA (not migrated), HF_ERR_PG,
 * HF_ERR_PG_TRANSIENT. */
hf_err_t hf_indicators_refresh(const hf_config_t *cfg, FILE *out, char *errstr,
                               size_t errstr_size) __attribute__((warn_unused_result));

#endif /* HF_INDICATORS_H */
