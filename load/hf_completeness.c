/*
 * hf_completeness — hf_completeness read per province, date and event type,
 * and the silent-province rule (hf_completeness.h).
 */
#include "hf_completeness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_cal.h"
#include "hf_mem.h"
#include "hf_pg.h"

bool hf_compl_is_silent(int64_t newest_event_us, int64_t now_us, int64_t silent_after_s)
{
    return newest_event_us < 0 || now_us - newest_event_us > silent_after_s * HF_CAL_US_PER_S;
}

/* timestamptz as µs since the epoch, in SQL */
#define HF__US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

hf_err_t hf_compl_provinces(PGconn *conn, int64_t now_us, int64_t silent_after_s,
                            hf_compl_province_t out[HF_PROVINCE_COUNT], size_t *nsilent,
                            char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < HF_PROVINCE_COUNT; i++) {
        memcpy(out[i].code, hf_provinces[i].code, 3);
        out[i].name = hf_provinces[i].name;
        out[i].events = 0;
        out[i].newest_event_us = out[i].last_loaded_us = -1;
    }
    PGresult *r = PQexec(conn, "SELECT province_code, sum(events), " HF__US("max(max_occurred_at)")
                               ", " HF__US("max(updated_at)")
                               " FROM hemoflow.hf_completeness GROUP BY 1");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        hf_err_t e = hf__pg_fail(conn, r, "read hemoflow.hf_completeness", NULL, errstr,
                                 errstr_size);
        PQclear(r);
        return e == HF_ERR_PG_DATA ? HF_ERR_PG : e;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        int k = hf_province_index(PQgetvalue(r, i, 0));
        if (k < 0 || strlen(PQgetvalue(r, i, 0)) != 2)
            continue; /* cannot happen: the loader only counts partitionable rows */
        out[k].events = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        if (!PQgetisnull(r, i, 2))
            out[k].newest_event_us = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        if (!PQgetisnull(r, i, 3))
            out[k].last_loaded_us = strtoll(PQgetvalue(r, i, 3), NULL, 10);
    }
    PQclear(r);
    size_t silent = 0;
    for (size_t i = 0; i < HF_PROVINCE_COUNT; i++) {
        out[i].silent = hf_compl_is_silent(out[i].newest_event_us, now_us, silent_after_s);
        silent += out[i].silent;
    }
    if (nsilent)
        *nsilent = silent;
    return HF_OK;
}

hf_err_t hf_compl_silent_provinces(const hf_config_t *cfg, int64_t now_us,
                                   hf_compl_province_t out[HF_PROVINCE_COUNT], size_t *nsilent,
                                   char *errstr, size_t errstr_size)
{
    char *ci = hf_config_pg_conninfo(cfg);
    PGconn *c = NULL;
    hf_err_t e = hf__pg_connect(ci, "hemoflow-completeness", &c, errstr, errstr_size);
    hf_free(ci);
    if (e)
        return e;
    e = hf_compl_provinces(c, now_us, hf_config_int(cfg, "completeness.silent_after_s"), out,
                           nsilent, errstr, errstr_size);
    PQfinish(c);
    return e;
}

hf_err_t hf_compl_rows(PGconn *conn, int32_t date, const char *province, hf_compl_row_t **rows,
                       size_t *n, char *errstr, size_t errstr_size)
{
    *rows = NULL;
    *n = 0;
    char d[16];
    snprintf(d, sizeof(d), "%d", (int)date);
    const char *params[2] = {date >= 0 ? d : NULL, province};
    PGresult *r = PQexecParams(
        conn,
        "SELECT province_code, event_date - date '1970-01-01', event_type, events, "
        HF__US("max_occurred_at") ", " HF__US("updated_at")
        " FROM hemoflow.hf_completeness"
        " WHERE ($1::int IS NULL OR event_date = date '1970-01-01' + $1::int)"
        "   AND ($2::text IS NULL OR province_code = $2)"
        " ORDER BY 1, 2, 3",
        2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        hf_err_t e = hf__pg_fail(conn, r, "read hemoflow.hf_completeness", NULL, errstr,
                                 errstr_size);
        PQclear(r);
        return e == HF_ERR_PG_DATA ? HF_ERR_PG : e;
    }
    size_t cnt = (size_t)PQntuples(r);
    hf_compl_row_t *v = hf_calloc(cnt ? cnt : 1, sizeof(*v));
    for (size_t i = 0; i < cnt; i++) {
        int k = (int)i;
        snprintf(v[i].province, sizeof(v[i].province), "%s", PQgetvalue(r, k, 0));
        v[i].event_date = (int32_t)strtol(PQgetvalue(r, k, 1), NULL, 10);
        snprintf(v[i].event_type, sizeof(v[i].event_type), "%s", PQgetvalue(r, k, 2));
        v[i].events = strtoll(PQgetvalue(r, k, 3), NULL, 10);
        v[i].newest_event_us = PQgetisnull(r, k, 4) ? -1 : strtoll(PQgetvalue(r, k, 4), NULL, 10);
        v[i].loaded_us = strtoll(PQgetvalue(r, k, 5), NULL, 10);
    }
    PQclear(r);
    *rows = v;
    *n = cnt;
    return HF_OK;
}
