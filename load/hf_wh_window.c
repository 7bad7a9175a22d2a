/*
 * hf_wh_window — recording a batch's commit-window entries (hf_wh_window.h)
 * inside the commit transaction, through hemoflow.hf_window_record() of
 * migration 0002: one statement per commit, whatever the partition count.
 */
#include "hf_wh_window.h"

#include <stdio.h>
#include <string.h>

#include "hf_buf.h"
#include "hf_wh_batch_int.h"

hf_err_t hf_wh_batch_window_add(hf_wh_batch_t *b, const char *topic, int32_t partition,
                                int64_t next, int64_t log_end, char *errstr, size_t errstr_size)
{
    if (b->committed)
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "batch committed: reset it first");
    if (!topic || next < 0)
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size,
                          "window: need a topic and next >= 0 (got %lld)", (long long)next);
    uint32_t ti = hf__topic_index(b, topic);
    if (log_end < 0)
        log_end = -1;
    for (size_t i = 0; i < b->nwin; i++) {
        if (b->win[i].topic == ti && b->win[i].partition == partition) {
            b->win[i].next = next;
            b->win[i].log_end = log_end;
            return HF_OK;
        }
    }
    if (b->nwin == b->win_cap) {
        b->win_cap = b->win_cap ? b->win_cap * 2 : 16;
        b->win = hf_realloc(b->win, b->win_cap * sizeof(hf__win_t));
    }
    b->win[b->nwin++] = (hf__win_t){ti, partition, next, log_end};
    return HF_OK;
}

size_t hf_wh_batch_window_count(const hf_wh_batch_t *b)
{
    return b->nwin;
}

hf_err_t hf__window_write(hf_wh_batch_t *b, char *errstr, size_t errstr_size)
{
    if (!b->nwin)
        return HF_OK;
    hf_buf_t t = {0}, p = {0}, o = {0}, e = {0};
    for (size_t i = 0; i < b->nwin; i++) {
        const hf__win_t *w = &b->win[i];
        const char *sep = i ? "," : "{";
        char tmp[32];
        hf_buf_append(&t, sep, 1);
        hf__pg_array_text(&t, b->topics[w->topic], strlen(b->topics[w->topic]));
        int n = snprintf(tmp, sizeof(tmp), "%s%d", sep, (int)w->partition);
        hf_buf_append(&p, tmp, (size_t)n);
        n = snprintf(tmp, sizeof(tmp), "%s%lld", sep, (long long)w->next);
        hf_buf_append(&o, tmp, (size_t)n);
        if (w->log_end >= 0)
            n = snprintf(tmp, sizeof(tmp), "%s%lld", sep, (long long)w->log_end);
        else
            n = snprintf(tmp, sizeof(tmp), "%sNULL", sep);
        hf_buf_append(&e, tmp, (size_t)n);
    }
    hf_buf_append(&t, "}", 2);
    hf_buf_append(&p, "}", 2);
    hf_buf_append(&o, "}", 2);
    hf_buf_append(&e, "}", 2);
    char keep[16], min_ms[16];
    snprintf(keep, sizeof(keep), "%d", b->wh->window_keep > 0 ? b->wh->window_keep : 10);
    snprintf(min_ms, sizeof(min_ms), "%d", b->wh->window_min_ms >= 0 ? b->wh->window_min_ms : 0);
    const char *params[6] = {(char *)t.data, (char *)p.data, (char *)o.data, (char *)e.data,
                             keep, min_ms};
    PGresult *r = PQexecParams(b->wh->conn,
                               "SELECT hemoflow.hf_window_record($1::text[], $2::int[], "
                               "$3::bigint[], $4::bigint[], $5::int, $6::int)",
                               6, NULL, params, NULL, NULL, 0);
    hf_err_t err = HF_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = hf__pg_fail(b->wh->conn, r, "record hemoflow.hf_commit_window", NULL, errstr,
                          errstr_size);
        if (err == HF_ERR_PG_DATA)
            err = HF_ERR_PG;
    }
    PQclear(r);
    hf_buf_free(&t);
    hf_buf_free(&p);
    hf_buf_free(&o);
    hf_buf_free(&e);
    return err;
}

hf_err_t hf__window_check(hf_wh_t *wh, char *errstr, size_t errstr_size)
{
    PGresult *r = PQexec(wh->conn, "SELECT to_regprocedure('hemoflow.hf_window_record(text[], "
                                   "integer[], bigint[], bigint[], integer, integer)') IS NOT NULL");
    hf_err_t err = HF_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        err = hf__pg_fail(wh->conn, r, "look up hemoflow.hf_window_record", NULL, errstr,
                          errstr_size);
    else if (PQgetvalue(r, 0, 0)[0] != 't')
        err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                         "the warehouse has no commit window (hemoflow.hf_window_record, "
                         "migration 0002): run 'hemoflow migrate'");
    PQclear(r);
    return err;
}
