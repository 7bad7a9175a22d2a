/*
 * hf_wh_copy — loading one table of a batch inside the commit's
 * transaction: binary COPY; the duplicate probe (keys the seen filter may
 * hold looked up in the primary key, the rows found not sent); the fast
 * path (COPY into the parent under a savepoint); the slow path (staging
 * table + INSERT ... ON CONFLICT DO NOTHING) on 23505; bisection under
 * savepoints down to the rows PostgreSQL rejects, which are quarantined.
 */
#include "hf_wh_batch_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_buf.h"
#include "hf_log.h"

#define HF__SEND_CHUNK (256 * 1024)

/* ==== COPY ==== */

static bool hf__send_flush(hf_wh_batch_t *b)
{
    bool ok = true;
    if (b->send.len)
        ok = PQputCopyData(b->wh->conn, (const char *)b->send.data, (int)b->send.len) == 1;
    hf_buf_reset(&b->send);
    return ok;
}

static bool hf__send(hf_wh_batch_t *b, const void *p, size_t n)
{
    if (b->send.len + n > HF__SEND_CHUNK && b->send.len && !hf__send_flush(b))
        return false;
    hf_buf_append(&b->send, p, n);
    return true;
}

/* Start COPY ... FROM STDIN with sql and queue the binary header. */
static hf_err_t hf__copy_begin(hf_wh_batch_t *b, const char *sql, bool *ok, char sqlstate[6],
                               char *errstr, size_t errstr_size)
{
    PGresult *r = PQexec(b->wh->conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        hf_err_t err = hf__pg_fail(b->wh->conn, r, "COPY", sqlstate, errstr, errstr_size);
        PQclear(r);
        return err;
    }
    PQclear(r);
    hf_buf_reset(&b->send);
    *ok = hf__send(b, hf__copy_header, sizeof(hf__copy_header));
    return HF_OK;
}

/* Send the trailer, end the COPY and collect its result; ok is false when
 * sending failed on the way. what names the target in errors. */
static hf_err_t hf__copy_end(hf_wh_batch_t *b, bool ok, const char *what, char sqlstate[6],
                             char *errstr, size_t errstr_size)
{
    PGconn *conn = b->wh->conn;
    ok = ok && hf__send(b, hf__copy_trailer, sizeof(hf__copy_trailer)) && hf__send_flush(b);
    if (PQputCopyEnd(conn, ok ? NULL : "hemoflow: sending COPY data failed") != 1)
        ok = false;
    hf_err_t err = HF_OK;
    PGresult *r = PQgetResult(conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        err = hf__pg_fail(conn, r, what, sqlstate, errstr, errstr_size);
    PQclear(r);
    while ((r = PQgetResult(conn)) != NULL)
        PQclear(r);
    if (!err && !ok)
        err = hf__pg_fail(conn, NULL, what, sqlstate, errstr, errstr_size);
    return err;
}

/* COPY the pending rows of [lo, hi) of table ti with sql (the parent or
 * the staging table). */
static hf_err_t hf__copy(hf_wh_batch_t *b, size_t ti, size_t lo, size_t hi, const char *sql,
                         char sqlstate[6], char *errstr, size_t errstr_size)
{
    hf__tbatch_t *tb = &b->t[ti];
    bool ok = false; /* zeroed for GCC -O3 */
    hf_err_t err = hf__copy_begin(b, sql, &ok, sqlstate, errstr, errstr_size);
    if (err)
        return err;
    for (size_t i = lo; ok && i < hi; i++)
        if (tb->rows[i].state == HF__ROW_PENDING)
            ok = hf__send(b, tb->data.data + tb->rows[i].off, tb->rows[i].len);
    char what[96];
    snprintf(what, sizeof(what), "COPY into %s", b->wh->tables[ti].et->snake);
    return hf__copy_end(b, ok, what, sqlstate, errstr, errstr_size);
}

/* ==== duplicates: the probe ==== */


/* The COPY column of event_id (1 + its field index), or -1. */
int hf__id_col(const hf__table_t *tab)
{
    for (size_t i = 0; i < tab->nfields; i++)
        if (tab->fields[i].kind == HF__COL_UUID && strcmp(tab->fields[i].name, "event_id") == 0)
            return (int)i + 1;
    return -1;
}

/* The 16 bytes of a row's event_id inside its COPY tuple (int16 column
 * count, then per column an int32 length and the bytes), or NULL. */
const unsigned char *hf__row_id(const hf__tbatch_t *tb, const hf__row_t *r, int col)
{
    const unsigned char *p = tb->data.data + r->off + 2, *end = tb->data.data + r->off + r->len;
    for (int c = 0;; c++) {
        if (end - p < 4)
            return NULL;
        int32_t len = (int32_t)hf_be32_load(p);
        p += 4;
        if (c == col)
            return len == 16 && end - p >= 16 ? p : NULL;
        if (len > 0) {
            if (end - p < len)
                return NULL;
            p += len;
        }
    }
}

/* Fill b->pick with the pending rows of [lo, hi) whose key the seen filter
 * may hold: most likely resends of rows this loader committed. */
static size_t hf__pick(hf_wh_batch_t *b, size_t ti, size_t lo, size_t hi, int col)
{
    const hf__tbatch_t *tb = &b->t[ti];
    b->npick = 0;
    for (size_t i = lo; i < hi; i++) {
        const hf__row_t *r = &tb->rows[i];
        if (r->state != HF__ROW_PENDING || !hf__row_partitionable(r))
            continue; /* a row with no partition cannot be in the warehouse */
        const unsigned char *id = hf__row_id(tb, r, col);
        if (!id || !hf__seen_has(&b->wh->seen, hf__key_hash(ti, r, id)))
            continue;
        if (b->npick == b->pick_cap) {
            b->pick_cap = b->pick_cap ? b->pick_cap * 2 : 1024;
            b->pick = hf_realloc(b->pick, b->pick_cap * sizeof(uint32_t));
        }
        b->pick[b->npick++] = (uint32_t)i;
    }
    return b->npick;
}

/* A probe's result r (rows: the row indexes found in the warehouse): mark
 * those rows DUP; cleared here. Never returns HF_ERR_PG_DATA. */
static hf_err_t hf__probe_result(hf_wh_batch_t *b, size_t ti, PGresult *r, char *errstr,
                                 size_t errstr_size)
{
    hf__tbatch_t *tb = &b->t[ti];
    const char *snake = b->wh->tables[ti].et->snake;
    hf_err_t err = HF_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char what[96];
        snprintf(what, sizeof(what), "duplicate probe of %s", snake);
        err = hf__pg_fail(b->wh->conn, r, what, NULL, errstr, errstr_size);
    } else {
        for (int i = 0; i < PQntuples(r); i++) {
            unsigned long k = strtoul(PQgetvalue(r, i, 0), NULL, 10);
            if (k < tb->n && tb->rows[k].state == HF__ROW_PENDING)
                tb->rows[k].state = HF__ROW_DUP;
        }
        hf_log_debug("warehouse.probe", "table=%s keys=%zu found=%d", snake, b->npick,
                     PQntuples(r));
    }
    PQclear(r);
    return err == HF_ERR_PG_DATA ? HF_ERR_PG : err;
}

/* Keys up to this many are probed with one statement of their own (below);
 * more go through pg_temp.hf_keys. Measured on 150 keys of one table: 14 ms
 * either way (~0.1 ms a key against ~10-16 ms a LATERAL probe whatever its
 * size), so the crossover is near 100 keys. */
#define HF__PROBE_SMALL 64

/* Mark DUP the rows b->pick of table ti whose key is in the warehouse, for a
 * few keys (the seen filter's false positives, a handful of resends): one
 * statement, a UNION ALL of one primary-key lookup per key with the key as
 * parameters. The statement is planned with the values (an unnamed
 * statement gets a custom plan), so each lookup is pruned to its one leaf
 * partition at plan time: ~0.1 ms a key, where the LATERAL join below opens
 * every partition of the table at executor start (13-17 ms with ~150
 * partitions a table, measured in docs/benchmarks.md). */
static hf_err_t hf__probe_few(hf_wh_batch_t *b, size_t ti, int col, char *errstr,
                              size_t errstr_size)
{
    hf_wh_t *wh = b->wh;
    hf__tbatch_t *tb = &b->t[ti];
    const char *snake = wh->tables[ti].et->snake;
    size_t n = b->npick;
    hf_buf_t sql = {0};
    Oid types[3 * HF__PROBE_SMALL];
    const char *vals[3 * HF__PROBE_SMALL];
    int lens[3 * HF__PROBE_SMALL], fmts[3 * HF__PROBE_SMALL];
    uint32_t days[HF__PROBE_SMALL];
    for (size_t k = 0; k < n; k++) {
        const hf__row_t *r = &tb->rows[b->pick[k]];
        char part[200];
        int len = snprintf(part, sizeof(part),
                           "%sSELECT %" PRIu32 " FROM hemoflow.%s WHERE province_code = $%zu"
                           " AND event_date = $%zu AND event_id = $%zu",
                           k ? " UNION ALL " : "", b->pick[k], snake, 3 * k + 1, 3 * k + 2,
                           3 * k + 3);
        hf_buf_append(&sql, part, (size_t)len);
        uint32_t d = (uint32_t)(r->event_date - HF__PG_EPOCH_DAYS);
        days[k] = (d >> 24) | (d >> 8 & 0xff00) | (d << 8 & 0xff0000) | (d << 24);
        types[3 * k] = 25; /* text */
        vals[3 * k] = r->province;
        lens[3 * k] = 2;
        types[3 * k + 1] = 1082; /* date: big-endian days since 2000-01-01 */
        vals[3 * k + 1] = (const char *)&days[k];
        lens[3 * k + 1] = 4;
        types[3 * k + 2] = 2950; /* uuid: its 16 bytes */
        vals[3 * k + 2] = (const char *)hf__row_id(tb, r, col);
        lens[3 * k + 2] = 16;
        fmts[3 * k] = fmts[3 * k + 1] = fmts[3 * k + 2] = 1;
    }
    hf_buf_append(&sql, "", 1);
    PGresult *res = PQexecParams(wh->conn, (const char *)sql.data, (int)(3 * n), types, vals,
                                 lens, fmts, 0);
    hf_buf_free(&sql);
    return hf__probe_result(b, ti, res, errstr, errstr_size);
}

/* Mark DUP the rows b->pick of table ti whose key is in the warehouse. The
 * keys go by binary COPY into the session's pg_temp.hf_keys and are looked
 * up one by one in the primary key index: LATERAL ... LIMIT 1 forces that
 * nested loop, which costs the same per key however large the warehouse
 * grows (with no statistics on the keys the planner may otherwise pick a
 * merge or hash join over whole partitions; bounds on province or date
 * would not help: run-time pruning evaluates them per key). Runs in the
 * load transaction without a savepoint: it writes only the temp table.
 * Never returns HF_ERR_PG_DATA. */
static hf_err_t hf__probe(hf_wh_batch_t *b, size_t ti, int col, char *errstr, size_t errstr_size)
{
    if (b->npick <= HF__PROBE_SMALL)
        return hf__probe_few(b, ti, col, errstr, errstr_size);
    hf_wh_t *wh = b->wh;
    hf__tbatch_t *tb = &b->t[ti];
    const char *snake = wh->tables[ti].et->snake;
    bool ok = false; /* zeroed for GCC -O3 */
    hf_err_t err = hf__pg_exec(wh->conn, "TRUNCATE pg_temp.hf_keys", errstr, errstr_size);
    if (!err)
        err = hf__copy_begin(b, "COPY pg_temp.hf_keys (p, d, id, i) FROM STDIN (FORMAT binary)",
                             &ok, NULL, errstr, errstr_size);
    if (err)
        return err == HF_ERR_PG_DATA ? HF_ERR_PG : err;
    hf_buf_t t = {0}; /* one hf_keys tuple: 4 columns (p, d, id, i) */
    for (size_t k = 0; k < b->npick; k++) {
        const hf__row_t *r = &tb->rows[b->pick[k]];
        hf_buf_reset(&t);
        hf_buf_put_u16(&t, 4);
        hf_buf_put_u32(&t, 2);
        hf_buf_append(&t, r->province, 2);
        hf_buf_put_u32(&t, 4);
        hf_buf_put_u32(&t, (uint32_t)(r->event_date - HF__PG_EPOCH_DAYS));
        hf_buf_put_u32(&t, 16);
        hf_buf_append(&t, hf__row_id(tb, r, col), 16);
        hf_buf_put_u32(&t, 4);
        hf_buf_put_u32(&t, b->pick[k]);
        ok = ok && hf__send(b, t.data, t.len);
    }
    hf_buf_free(&t);
    err = hf__copy_end(b, ok, "COPY into pg_temp.hf_keys", NULL, errstr, errstr_size);
    if (!err) {
        char *sql = hf_asprintf(
            "SELECT k.i FROM pg_temp.hf_keys k CROSS JOIN LATERAL"
            " (SELECT 1 FROM hemoflow.%s t WHERE t.province_code = k.p AND t.event_date = k.d"
            " AND t.event_id = k.id LIMIT 1) x",
            snake);
        PGresult *r = PQexec(wh->conn, sql);
        hf_free(sql);
        return hf__probe_result(b, ti, r, errstr, errstr_size);
    }
    return err == HF_ERR_PG_DATA ? HF_ERR_PG : err;
}

/* ==== one table: fast path, slow path, bisection ==== */

static hf_err_t hf__sp(hf_wh_batch_t *b, const char *sql, char *errstr, size_t errstr_size)
{
    return hf__pg_exec(b->wh->conn, sql, errstr, errstr_size);
}

static hf_err_t hf__sp_rollback(hf_wh_batch_t *b, char *errstr, size_t errstr_size)
{
    return hf__sp(b, "ROLLBACK TO SAVEPOINT hf_sp; RELEASE SAVEPOINT hf_sp", errstr, errstr_size);
}

/* Staging + INSERT ... ON CONFLICT DO NOTHING for the pending rows of
 * [lo, hi). */
static hf_err_t hf__slow_path(hf_wh_batch_t *b, size_t ti, size_t lo, size_t hi,
                              char sqlstate[6], char *errstr, size_t errstr_size)
{
    hf_wh_t *wh = b->wh;
    const hf__table_t *tab = &wh->tables[ti];
    hf__tbatch_t *tb = &b->t[ti];
    char *sql = hf_asprintf("SAVEPOINT hf_sp; TRUNCATE pg_temp.hf_stage_%s", tab->et->snake);
    hf_err_t err = hf__sp(b, sql, errstr, errstr_size);
    hf_free(sql);
    if (err)
        return err == HF_ERR_PG_DATA ? HF_ERR_PG : err;
    err = hf__copy(b, ti, lo, hi, tab->stage_copy_sql, sqlstate, errstr, errstr_size);
    if (!err) {
        sql = hf_asprintf(
            "WITH ins AS (INSERT INTO hemoflow.%s (%s) SELECT %s FROM pg_temp.hf_stage_%s"
            " ON CONFLICT DO NOTHING"
            " RETURNING province_code, event_date, occurred_at)"
            " SELECT province_code, event_date - date '1970-01-01', count(*),"
            " (extract(epoch FROM max(occurred_at)) * 1000000)::bigint"
            " FROM ins GROUP BY 1, 2 ORDER BY 1, 2",
            tab->et->snake, tab->columns, tab->columns, tab->et->snake);
        PGresult *r = PQexec(wh->conn, sql);
        hf_free(sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            char what[96];
            snprintf(what, sizeof(what), "INSERT ... ON CONFLICT into %s", tab->et->snake);
            err = hf__pg_fail(wh->conn, r, what, sqlstate, errstr, errstr_size);
        } else {
            for (int i = 0; i < PQntuples(r); i++) {
                const char *prov = PQgetvalue(r, i, 0);
                int64_t cnt = strtoll(PQgetvalue(r, i, 2), NULL, 10);
                hf__compl_add(b, ti, prov, (int32_t)strtol(PQgetvalue(r, i, 1), NULL, 10), cnt,
                              strtoll(PQgetvalue(r, i, 3), NULL, 10));
                b->st.table[ti].inserted += (size_t)cnt;
                hf__obs_slow(b, ti, cnt, strtoll(PQgetvalue(r, i, 3), NULL, 10));
            }
            for (size_t i = lo; i < hi; i++)
                if (tb->rows[i].state == HF__ROW_PENDING)
                    tb->rows[i].state = HF__ROW_SLOW;
            b->st.table[ti].slow_path = true;
        }
        PQclear(r);
    }
    if (!err)
        return hf__sp(b, "RELEASE SAVEPOINT hf_sp", errstr, errstr_size);
    if (err == HF_ERR_PG_TRANSIENT)
        return err;
    char e2[256];
    hf_err_t rerr = hf__sp_rollback(b, e2, sizeof(e2));
    if (rerr)
        return hf_err_set(rerr == HF_ERR_PG_DATA ? HF_ERR_PG : rerr, errstr, errstr_size, "%s",
                          e2);
    return err;
}

static void hf__reject(hf_wh_batch_t *b, size_t ti, size_t i, const char *sqlstate,
                       const char *why)
{
    hf__tbatch_t *tb = &b->t[ti];
    hf__row_t *row = &tb->rows[i];
    row->state = HF__ROW_REJECTED;
    hf__quar_t *q = hf__qlist_push(&b->rejected);
    q->topic = row->topic;
    q->partition = row->partition;
    q->offset = row->offset;
    q->event_type = hf_strdup(b->wh->tables[ti].et->name);
    q->has_fp = true;
    q->fp = row->fingerprint;
    q->reason = hf_strdup(sqlstate[0] == '2' && sqlstate[1] == '3' ? "pg_constraint" : "pg_data");
    snprintf(q->sqlstate, sizeof(q->sqlstate), "%s", sqlstate);
    q->detail = hf__clean_text(why);
    q->raw_off = row->raw_off;
    q->raw_len = row->raw_len;
    b->st.table[ti].rejected++;
    /* 23514 on a row whose partition was ensured (its province passes the
     * CHECK) can only mean "no partition": it was dropped behind our back, and
     * the commit starts over with a fresh cache. */
    if (strcmp(sqlstate, "23514") == 0 && hf__row_partitionable(row))
        b->stale_partition = true;
    hf_log_warn("warehouse.row_rejected", "topic=%s partition=%d offset=%lld table=%s "
                "province=%.2s sqlstate=%s reason=\"%s\"", b->topics[row->topic],
                (int)row->partition, (long long)row->offset, b->wh->tables[ti].et->snake,
                row->province, sqlstate, why);
}

/* Fast path for the pending rows of [lo, hi): SAVEPOINT, binary COPY into
 * the parent, RELEASE. HF_ERR_PG_DATA (sqlstate, why set) after rolling
 * back to the savepoint; other errors in errstr. */
static hf_err_t hf__try_copy(hf_wh_batch_t *b, size_t ti, size_t lo, size_t hi, char sqlstate[6],
                             char *why, size_t why_size, char *errstr, size_t errstr_size)
{
    size_t pending = 0;
    for (size_t i = lo; i < hi; i++)
        pending += b->t[ti].rows[i].state == HF__ROW_PENDING;
    if (!pending)
        return HF_OK;
    hf_err_t err = hf__sp(b, "SAVEPOINT hf_sp", errstr, errstr_size);
    if (err)
        return err == HF_ERR_PG_DATA ? HF_ERR_PG : err;
    err = hf__copy(b, ti, lo, hi, b->wh->tables[ti].copy_sql, sqlstate, why, why_size);
    if (!err) {
        hf__compl_rows(b, ti, lo, hi);
        return hf__sp(b, "RELEASE SAVEPOINT hf_sp", errstr, errstr_size);
    }
    if (err != HF_ERR_PG_DATA) {
        hf_err_set(err, errstr, errstr_size, "%s", why);
        return err;
    }
    char e2[256];
    hf_err_t rerr = hf__sp_rollback(b, e2, sizeof(e2));
    if (rerr)
        return hf_err_set(rerr == HF_ERR_PG_DATA ? HF_ERR_PG : rerr, errstr, errstr_size, "%s",
                          e2);
    return HF_ERR_PG_DATA;
}

/* Load rows [lo, hi) of table ti: duplicates skipped, rows PostgreSQL
 * rejects isolated. Only non-data errors come back.
 *
 * Before the COPY of a whole table, the keys the seen filter may hold
 * (resends of rows this loader committed) are looked up and the rows found
 * are not sent, so a batch with resends still takes the fast path. If the
 * COPY meets a duplicate anyway (the filter did not know it: a row
 * committed by another loader or long ago, a key twice in the batch, or a
 * row another loader inserted between the probe and the COPY), the range
 * takes the staging + ON CONFLICT path: probing every key costs more than
 * that (see docs/warehouse.md). */
hf_err_t hf__load_range(hf_wh_batch_t *b, size_t ti, size_t lo, size_t hi, char *errstr,
                        size_t errstr_size)
{
    char sqlstate[6] = "";
    char why[512];
    hf_err_t err;
    int col = hf__id_col(&b->wh->tables[ti]);
    if (col >= 0 && hi <= INT32_MAX && lo == 0 && hi == b->t[ti].n &&
        hf__pick(b, ti, lo, hi, col)) {
        err = hf__probe(b, ti, col, errstr, errstr_size);
        if (err)
            return err;
        if (b->wh->probe_hook)
            b->wh->probe_hook(b->wh->probe_hook_arg, ti);
    }
    err = hf__try_copy(b, ti, lo, hi, sqlstate, why, sizeof(why), errstr, errstr_size);
    if (err != HF_ERR_PG_DATA)
        return err;
    if (strcmp(sqlstate, "23505") == 0) {
        err = hf__slow_path(b, ti, lo, hi, sqlstate, why, sizeof(why));
        if (!err)
            return HF_OK;
        if (err != HF_ERR_PG_DATA) {
            hf_err_set(err, errstr, errstr_size, "%s", why);
            return err;
        }
    }
    if (hi - lo == 1) {
        hf__reject(b, ti, lo, sqlstate, why);
        return HF_OK;
    }
    size_t mid = lo + (hi - lo) / 2;
    err = hf__load_range(b, ti, lo, mid, errstr, errstr_size);
    if (!err)
        err = hf__load_range(b, ti, mid, hi, errstr, errstr_size);
    return err;
}
