/*
 * hf_pg — the libpq helpers that the loader (hf_wh_*.c) and the migration
 * code (hf_migrate.c) share: connecting, running a statement, classifying a
 * failed result as retriable or permanent, text-array literals, and the
 * partition function with the period a day falls in. Not a public API
 * (hf__ names); implemented in hf_pg.c.
 */
#ifndef HF_PG_H
#define HF_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_buf.h"
#include "hf_err.h"

/* ==== errors and statements ==== */

/* Classify a failed result (res may be NULL): HF_ERR_PG_TRANSIENT,
 * HF_ERR_PG_DATA (22xxx/23xxx) or HF_ERR_PG. Fills errstr with
 * "<what>: <message> (SQLSTATE xxxxx)" and sqlstate (may be NULL; 6 bytes,
 * "" when none). Does not PQclear. */
hf_err_t hf__pg_fail(PGconn *conn, const PGresult *res, const char *what, char sqlstate[6],
                     char *errstr, size_t errstr_size);

/* Connect with conninfo, application_name app (unless conninfo has one).
 * On failure HF_ERR_PG_TRANSIENT and errstr. *out is NULL on failure. */
hf_err_t hf__pg_connect(const char *conninfo, const char *app, PGconn **out, char *errstr,
                        size_t errstr_size);

/* Run sql (no parameters, no result rows wanted). */
hf_err_t hf__pg_exec(PGconn *conn, const char *sql, char *errstr, size_t errstr_size);

/* Array literal helpers: append a text element "..." (quoted) to b. */
void hf__pg_array_text(hf_buf_t *b, const char *s, size_t n);

/* ==== partitions ==== */

/* The statement behind hf__wh_ensure_partitions: $1 table, $2 province,
 * $3 a date[] literal (hf__wh_days_literal); one row, the number of calls
 * that created something. */
#define HF__WH_ENSURE_SQL                                                                      \
    "SELECT count(*) FILTER (WHERE hemoflow.hf_ensure_partition($1, $2, d))"                   \
    " FROM unnest($3::date[]) AS d"

/* Append days[n] (days since 1970) to b as a date[] literal "{YYYY-MM-DD,...}"
 * with its terminating NUL (b->len counts it). */
void hf__wh_days_literal(hf_buf_t *b, const int32_t *days, size_t n);

/* Call hemoflow.hf_ensure_partition(table, province, day) for every day of
 * days[n] (days since 1970) in one autocommit statement. *created (may be
 * NULL) receives how many calls created something. */
hf_err_t hf__wh_ensure_partitions(PGconn *conn, const char *table, const char *province,
                                  const int32_t *days, size_t n, size_t *created, char *errstr,
                                  size_t errstr_size);

/* Start of the partition period holding day: the day itself (daily) or the
 * first of its month. */
int32_t hf__wh_period_start(int32_t day, bool daily);

#endif /* HF_PG_H */
