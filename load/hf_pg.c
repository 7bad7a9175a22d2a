/*
 * hf_pg — libpq helpers shared by the loader and the migration code:
 * connecting, running a statement, turning a failed result into an hf_err_t
 * (the retriable/permanent split of DESIGN decision 8), text-array literals,
 * and calling the partition function for the periods days fall in.
 */
#include "hf_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_cal.h"
#include "hf_log.h"

/* ==== errors ==== */

static bool hf__transient_state(const char *st)
{
    if (!st || strlen(st) != 5)
        return false;
    return strncmp(st, "08", 2) == 0       /* connection exception */
           || strncmp(st, "53", 2) == 0    /* insufficient resources */
           || strcmp(st, "40001") == 0     /* serialization failure */
           || strcmp(st, "40P01") == 0     /* deadlock detected */
           || strcmp(st, "57P01") == 0     /* admin shutdown */
           || strcmp(st, "57P02") == 0     /* crash shutdown */
           || strcmp(st, "57P03") == 0     /* cannot connect now */
           || strcmp(st, "57014") == 0;    /* query canceled (operator, timeout) */
}

hf_err_t hf__pg_fail(PGconn *conn, const PGresult *res, const char *what, char sqlstate[6],
                     char *errstr, size_t errstr_size)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char connmsg[256] = "";
    if (!msg) {
        snprintf(connmsg, sizeof(connmsg), "%s", conn ? PQerrorMessage(conn) : "no connection");
        size_t n = strlen(connmsg);
        while (n > 0 && (connmsg[n - 1] == '\n' || connmsg[n - 1] == ' '))
            connmsg[--n] = '\0';
        msg = connmsg[0] ? connmsg : "unknown error";
    }
    if (sqlstate)
        snprintf(sqlstate, 6, "%s", st && strlen(st) == 5 ? st : "");
    hf_err_t err;
    if (!conn || PQstatus(conn) != CONNECTION_OK || hf__transient_state(st))
        err = HF_ERR_PG_TRANSIENT;
    else if (st && (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0))
        err = HF_ERR_PG_DATA;
    else
        err = HF_ERR_PG;
    return hf_err_set(err, errstr, errstr_size, "%s: %s%s%s (SQLSTATE %s)", what, msg,
                      detail ? ": " : "", detail ? detail : "", st ? st : "none");
}

/* ==== connection ==== */

/* Server NOTICEs ("schema already exists, skipping") go to the log at debug
 * level instead of libpq's default stderr printer. */
static void hf__notice(void *arg, const char *msg)
{
    (void)arg;
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        n--;
    hf_log_debug("pg.notice", "msg=\"%.*s\"", (int)n, msg);
}

hf_err_t hf__pg_connect(const char *conninfo, const char *app, PGconn **out, char *errstr,
                        size_t errstr_size)
{
    /* application_name before the expanded conninfo, so pg.application_name wins. */
    const char *const kw[] = {"application_name", "client_encoding", "dbname", NULL};
    const char *const val[] = {app, "UTF8", conninfo && *conninfo ? conninfo : NULL, NULL};
    *out = NULL;
    PGconn *c = PQconnectdbParams(kw, val, 1);
    if (!c)
        return hf_err_set(HF_ERR_PG_TRANSIENT, errstr, errstr_size, "connect: out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
        size_t n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = '\0';
        PQfinish(c);
        return hf_err_set(HF_ERR_PG_TRANSIENT, errstr, errstr_size, "connect to PostgreSQL: %s",
                          msg);
    }
    PQsetNoticeProcessor(c, hf__notice, NULL);
    *out = c;
    return HF_OK;
}

hf_err_t hf__pg_exec(PGconn *conn, const char *sql, char *errstr, size_t errstr_size)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType s = PQresultStatus(r);
    hf_err_t err = HF_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        char what[96];
        snprintf(what, sizeof(what), "%.80s", sql);
        err = hf__pg_fail(conn, r, what, NULL, errstr, errstr_size);
    }
    PQclear(r);
    return err;
}

/* ==== array literals ==== */

void hf__pg_array_text(hf_buf_t *b, const char *s, size_t n)
{
    hf_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            hf_buf_append(b, "\\", 1);
        hf_buf_append(b, &s[i], 1);
    }
    hf_buf_append(b, "\"", 1);
}

/* ==== partitions ==== */

int32_t hf__wh_period_start(int32_t day, bool daily)
{
    return daily ? day : hf_cal_month_start(day);
}

void hf__wh_days_literal(hf_buf_t *b, const int32_t *days, size_t n)
{
    hf_buf_append(b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        char date[11];
        hf_cal_date_format(days[i], date);
        hf_buf_printf(b, "%s%s", i ? "," : "", date);
    }
    hf_buf_append(b, "}", 2);
}

hf_err_t hf__wh_ensure_partitions(PGconn *conn, const char *table, const char *province,
                                  const int32_t *days, size_t n, size_t *created, char *errstr,
                                  size_t errstr_size)
{
    if (created)
        *created = 0;
    if (n == 0)
        return HF_OK;
    hf_buf_t arr = {0};
    hf__wh_days_literal(&arr, days, n);
    const char *params[3] = {table, province, (const char *)arr.data};
    PGresult *r = PQexecParams(conn, HF__WH_ENSURE_SQL, 3, NULL, params, NULL, NULL, 0);
    hf_err_t err = HF_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char what[128];
        snprintf(what, sizeof(what), "hf_ensure_partition(%s, %s)", table, province);
        err = hf__pg_fail(conn, r, what, NULL, errstr, errstr_size);
    } else if (created) {
        *created = (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    }
    PQclear(r);
    hf_buf_free(&arr);
    return err;
}
