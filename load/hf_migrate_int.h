/*
 * hf_migrate_int — what the two files of hf_migrate share: hf_migrate.c
 * (migrations, roles) and hf_migrate_part.c (partitions ahead, over a pool
 * of connections). Not a public API.
 */
#ifndef HF_MIGRATE_INT_H
#define HF_MIGRATE_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hf_config.h"
#include "hf_err.h"

/* ==== helpers (hf_migrate.c) ==== */

/* One progress line to out (NULL: nothing), flushed. */
void hf__say(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Connect with the pg.* settings of cfg, application_name hemoflow-migrate. */
hf_err_t hf__connect(const hf_config_t *cfg, PGconn **c, char *errstr, size_t errstr_size);

/* Run a statement whose one-row, one-column text result goes to out
 * (NULL result -> ""); *found (may be NULL) tells whether there was a row. */
hf_err_t hf__query1(PGconn *c, const char *sql, int n, const char *const *params, char *out,
                    size_t out_size, bool *found, char *errstr, size_t errstr_size);

/* ==== partitions (hf_migrate_part.c) ==== */

/* Create the partitions of every fact table x province for the periods from
 * `from` to `to` (YYYY-MM-DD), or when both are NULL from the current period
 * to `ahead` periods after it. c is used, not closed; up to
 * warehouse.migrate_connections - 1 more connections are opened from cfg
 * and closed. *created (may be NULL) receives how many calls created
 * something. */
hf_err_t hf__partitions(const hf_config_t *cfg, PGconn *c, int ahead, const char *from,
                        const char *to, FILE *out, size_t *created, char *errstr,
                        size_t errstr_size);

#endif /* HF_MIGRATE_INT_H */
