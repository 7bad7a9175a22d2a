/*
 * hf_migrate — warehouse administration: versioned SQL migrations, the
 * loader and analyst roles, and partitions created ahead of time. Used by
 * `hemoflow migrate` and `hemoflow partitions`; the loader itself only
 * creates missing partitions on demand (hf_warehouse.h).
 *
 * Migrations are the files NNNN_name.sql of warehouse.sql_dir, applied in
 * version order, each in its own transaction, and recorded in
 * hemoflow.hf_schema_migrations with the SHA-256 of the file. Concurrent
 * runs are serialized with a session advisory lock. Refused (HF_ERR_SCHEMA,
 * nothing applied): an applied file that changed, an applied version with
 * no file (e.g. a database newer than this hemoflow), a new file numbered
 * below the newest applied one, two files with one number.
 */
#ifndef HF_MIGRATE_H
#define HF_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hf_config.h"
#include "hf_err.h"

/* ==== migrations ==== */

/* Apply pending migrations (or with dry_run only report them), fix the
 * partition granularity in hf_settings on first run (refusing a config
 * that disagrees later), create/update the roles named by
 * warehouse.loader_role / warehouse.analyst_role, and create partitions
 * warehouse.partitions_ahead periods ahead. Progress lines go to out
 * (may be NULL). Errors: HF_ERR_SCHEMA (refusals above), HF_ERR_CONFIG,
 * HF_ERR_IO (sql_dir unreadable), HF_ERR_PG, HF_ERR_PG_TRANSIENT. */
hf_err_t hf_migrate_run(const hf_config_t *cfg, bool dry_run, FILE *out, char *errstr,
                        size_t errstr_size) __attribute__((warn_unused_result));

/* ==== partitions ==== */

/* Create, for every fact table and each of the 31 provinces, the partitions
 * of every period (month or day, per hf_settings) from `from` to `to`
 * (YYYY-MM-DD, inclusive), or, when both are NULL, from the current period
 * to `ahead` periods after it (ahead < 0: warehouse.partitions_ahead).
 * *created (may be NULL) receives how many calls created something. */
hf_err_t hf_migrate_partitions(const hf_config_t *cfg, int ahead, const char *from,
                               const char *to, FILE *out, size_t *created, char *errstr,
                               size_t errstr_size) __attribute__((warn_unused_result));

/* Print every leaf partition with its bounds, one per line:
 * "<partition>\t<province>\t<from>\t<to>". */
hf_err_t hf_migrate_list_partitions(const hf_config_t *cfg, FILE *out, char *errstr,
                                    size_t errstr_size) __attribute__((warn_unused_result));

#endif /* HF_MIGRATE_H */
