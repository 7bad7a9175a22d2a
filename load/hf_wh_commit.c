/*
 * hf_wh_commit — committing a batch: the one transaction that makes a
 * batch visible together with the offsets it covers (DESIGN decisions 6-8),
 * with its offsets compare-and-set, quarantine rows and completeness.
 *
 * Commit, in order:
 *   0. a previous attempt lost its COMMIT reply: look at hf_offsets to learn
 *      whether it committed;
 *   1. partitions the batch needs and the cache does not know: created by
 *      hemoflow.hf_ensure_partition in short autocommit statements, never
 *      inside the load transaction (creating one locks the parent);
 *   2. BEGIN; offsets compare-and-set (first, so a zombie stops before the
 *      expensive part, and concurrent committers of one partition queue on
 *      its hf_offsets row);
 *   3. per table, rows sorted by (province_code, event_date): the keys this
 *      connection committed before (a Bloom filter: station resends) are
 *      looked up in the primary key and the rows found are not sent; binary
 *      COPY of the rest into the parent under a savepoint (fast path); on
 *      23505 anyway the rows go to the session's TEMP staging table and
 *      INSERT ... SELECT ... ON CONFLICT DO NOTHING (slow path); on another
 *      22xxx/23xxx the range is bisected under savepoints until the
 *      rejected rows are isolated and quarantined;
 *   4. quarantine rows; hf_completeness (rows actually inserted), in key
 *      order so concurrent loaders lock them in the same order; the commit
 *      window (hf_wh_window.c); COMMIT.
 * Nothing in the batch changes during an attempt except per-row state that
 * the next attempt recomputes, so a failed commit can simply be repeated.
 */
#include "hf_warehouse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_buf.h"
#include "hf_log.h"
#include "hf_time.h"
#include "hf_wh_batch_int.h"

/* ==== completeness ==== */

void hf__compl_add(hf_wh_batch_t *b, size_t ti, const char prov[2], int32_t date,
                   int64_t events, int64_t max_us)
{
    if (b->ncompl) {
        hf__compl_t *last = &b->compl[b->ncompl - 1];
        if (last->table == ti && memcmp(last->province, prov, 2) == 0 &&
            last->event_date == date) {
            last->events += events;
            if (max_us > last->max_us)
                last->max_us = max_us;
            return;
        }
    }
    if (b->ncompl == b->compl_cap) {
        b->compl_cap = b->compl_cap ? b->compl_cap * 2 : 64;
        b->compl = hf_realloc(b->compl, b->compl_cap * sizeof(hf__compl_t));
    }
    b->compl[b->ncompl++] = (hf__compl_t){ti, {prov[0], prov[1]}, date, events, max_us};
}

/* The pending rows of [lo, hi) were inserted by the fast COPY. */
void hf__compl_rows(hf_wh_batch_t *b, size_t ti, size_t lo, size_t hi)
{
    hf__tbatch_t *tb = &b->t[ti];
    for (size_t i = lo; i < hi; i++) {
        if (tb->rows[i].state != HF__ROW_PENDING)
            continue;
        b->st.table[ti].inserted++;
        tb->rows[i].state = HF__ROW_INSERTED;
        hf__compl_add(b, ti, tb->rows[i].province, tb->rows[i].event_date, 1,
                      tb->rows[i].occurred_us);
    }
}

static hf_err_t hf__write_completeness(hf_wh_batch_t *b, char *errstr, size_t errstr_size)
{
    if (!b->ncompl)
        return HF_OK;
    hf_buf_t p = {0}, d = {0}, e = {0}, n = {0}, m = {0};
    for (size_t i = 0; i < b->ncompl; i++) {
        const hf__compl_t *c = &b->compl[i];
        const char *sep = i ? "," : "{";
        hf_buf_append(&p, sep, 1);
        hf__pg_array_text(&p, c->province, 2);
        hf_buf_append(&e, sep, 1);
        const char *name = b->wh->tables[c->table].et->name;
        hf__pg_array_text(&e, name, strlen(name));
        /* about one group per two rows: no printf here (bench/callgrind.sh) */
        hf_buf_append(&d, sep, 1);
        hf_buf_put_dec(&d, c->event_date);
        hf_buf_append(&n, sep, 1);
        hf_buf_put_dec(&n, c->events);
        hf_buf_append(&m, sep, 1);
        hf_buf_put_dec(&m, c->max_us);
    }
    hf_buf_append(&p, "}", 2);
    hf_buf_append(&d, "}", 2);
    hf_buf_append(&e, "}", 2);
    hf_buf_append(&n, "}", 2);
    hf_buf_append(&m, "}", 2);
    const char *params[5] = {(char *)p.data, (char *)d.data, (char *)e.data, (char *)n.data,
                             (char *)m.data};
    PGresult *r = PQexecParams(
        b->wh->conn,
        "INSERT INTO hemoflow.hf_completeness AS c"
        " (province_code, event_date, event_type, events, max_occurred_at, updated_at)"
        " SELECT u.p, date '1970-01-01' + u.d, u.e, sum(u.n),"
        "  timestamptz 'epoch' + max(u.m) * interval '1 microsecond', now()"
        " FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::bigint[])"
        "  AS u(p, d, e, n, m)"
        " GROUP BY u.p, u.d, u.e ORDER BY u.p, u.d, u.e"
        " ON CONFLICT (province_code, event_date, event_type) DO UPDATE"
        " SET events = c.events + excluded.events,"
        "  max_occurred_at = greatest(c.max_occurred_at, excluded.max_occurred_at),"
        "  updated_at = now()",
        5, NULL, params, NULL, NULL, 0);
    hf_err_t err = HF_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        err = hf__pg_fail(b->wh->conn, r, "upsert hemoflow.hf_completeness", NULL, errstr,
                          errstr_size);
    PQclear(r);
    hf_buf_free(&p);
    hf_buf_free(&d);
    hf_buf_free(&e);
    hf_buf_free(&n);
    hf_buf_free(&m);
    return err;
}

/* ==== quarantine and offsets ==== */

#define HF__QCOLS 9
#define HF__QCHUNK 500

static void hf__fmt_q(hf_buf_t *text, const hf__quar_t *q)
{
    /* Text parameters for one row, NUL-separated, appended to text. */
    char tmp[64];
    int n = snprintf(tmp, sizeof(tmp), "%d", (int)q->partition);
    hf_buf_append(text, tmp, (size_t)n + 1);
    n = snprintf(tmp, sizeof(tmp), "%lld", (long long)q->offset);
    hf_buf_append(text, tmp, (size_t)n + 1);
    n = snprintf(tmp, sizeof(tmp), "%016llx", (unsigned long long)q->fp);
    hf_buf_append(text, tmp, (size_t)n + 1);
}

static hf_err_t hf__insert_quarantine(hf_wh_batch_t *b, const hf__qlist_t *l, char *errstr,
                                      size_t errstr_size)
{
    hf_err_t err = HF_OK;
    for (size_t base = 0; base < l->n && !err; base += HF__QCHUNK) {
        size_t cnt = l->n - base < HF__QCHUNK ? l->n - base : HF__QCHUNK;
        hf_buf_t sql = {0}, text = {0};
        static const char head[] =
            "INSERT INTO hemoflow.hf_quarantine (topic, kafka_partition, kafka_offset, "
            "event_type, fingerprint, reason_code, sqlstate, detail, raw) VALUES ";
        hf_buf_append(&sql, head, sizeof(head) - 1);
        for (size_t i = 0; i < cnt; i++) {
            char tmp[160];
            int k = (int)(i * HF__QCOLS);
            int n = snprintf(tmp, sizeof(tmp),
                             "%s($%d, $%d::int, $%d::bigint, $%d, $%d, $%d, $%d, $%d, $%d::bytea)",
                             i ? ", " : "", k + 1, k + 2, k + 3, k + 4, k + 5, k + 6, k + 7,
                             k + 8, k + 9);
            hf_buf_append(&sql, tmp, (size_t)n);
            hf__fmt_q(&text, &l->v[base + i]);
        }
        static const char tail[] = " ON CONFLICT DO NOTHING"; /* no target: needs no SELECT */
        hf_buf_append(&sql, tail, sizeof(tail));
        const char **vals = hf_calloc(cnt * HF__QCOLS, sizeof(char *));
        int *lens = hf_calloc(cnt * HF__QCOLS, sizeof(int));
        int *fmts = hf_calloc(cnt * HF__QCOLS, sizeof(int));
        const char *tp = (const char *)text.data;
        for (size_t i = 0; i < cnt; i++) {
            const hf__quar_t *q = &l->v[base + i];
            const char **v = &vals[i * HF__QCOLS];
            v[0] = b->topics[q->topic];
            v[1] = tp;
            tp += strlen(tp) + 1;
            v[2] = tp;
            tp += strlen(tp) + 1;
            v[3] = q->event_type;
            v[4] = q->has_fp ? tp : NULL;
            tp += strlen(tp) + 1;
            v[5] = q->reason;
            v[6] = q->sqlstate[0] ? q->sqlstate : NULL;
            v[7] = q->detail;
            v[8] = q->raw_len ? (const char *)b->raw.data + q->raw_off : "";
            lens[i * HF__QCOLS + 8] = (int)q->raw_len;
            fmts[i * HF__QCOLS + 8] = 1; /* binary bytea */
        }
        PGresult *r = PQexecParams(b->wh->conn, (const char *)sql.data, (int)(cnt * HF__QCOLS),
                                   NULL, vals, lens, fmts, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            err = hf__pg_fail(b->wh->conn, r, "insert into hemoflow.hf_quarantine", NULL, errstr,
                              errstr_size);
            if (err == HF_ERR_PG_DATA)
                err = HF_ERR_PG;
        } else {
            b->st.quarantined += (size_t)strtoull(PQcmdTuples(r), NULL, 10);
        }
        PQclear(r);
        hf_free(vals);
        hf_free(lens);
        hf_free(fmts);
        hf_buf_free(&sql);
        hf_buf_free(&text);
    }
    return err;
}

/* One array element of an int64 column: "{v" for the first, ",v" after. */
static void hf__array_i64(hf_buf_t *a, size_t i, int64_t v)
{
    hf_buf_append(a, i ? "," : "{", 1);
    hf_buf_put_dec(a, v);
}

/* Compare-and-set every offsets range; HF_ERR_CONFLICT when one lost. One
 * statement for all of them (hf_offsets_advance per unnested row, in order):
 * a statement per partition cost a round trip each, 240 per batch at 240
 * partitions (docs/benchmarks.md). */
static hf_err_t hf__cas_offsets(hf_wh_batch_t *b, char *errstr, size_t errstr_size)
{
    if (!b->noffs)
        return HF_OK;
    hf_buf_t t = {0}, pa = {0}, ex = {0}, nx = {0};
    for (size_t i = 0; i < b->noffs; i++) {
        const hf__offs_t *o = &b->offs[i];
        const char *topic = b->topics[o->topic];
        hf_buf_append(&t, i ? "," : "{", 1);
        hf__pg_array_text(&t, topic, strlen(topic));
        hf__array_i64(&pa, i, o->partition);
        hf__array_i64(&ex, i, o->expected);
        hf__array_i64(&nx, i, o->next);
    }
    hf_buf_append(&t, "}", 2);
    hf_buf_append(&pa, "}", 2);
    hf_buf_append(&ex, "}", 2);
    hf_buf_append(&nx, "}", 2);
    /* as the owner: the loader role may not write hf_offsets itself
     * (migration 0005, docs/security.md) */
    const char *p[4] = {(char *)t.data, (char *)pa.data, (char *)ex.data, (char *)nx.data};
    PGresult *r = PQexecParams(b->wh->conn,
                               "SELECT u.t, u.p, u.e FROM unnest($1::text[], $2::integer[],"
                               " $3::bigint[], $4::bigint[]) WITH ORDINALITY AS u(t, p, e, n, i)"
                               " WHERE NOT hemoflow.hf_offsets_advance(u.t, u.p, u.e, u.n)"
                               " ORDER BY u.i",
                               4, NULL, p, NULL, NULL, 0);
    hf_err_t err = HF_OK;
    const char *st =
        PQresultStatus(r) != PGRES_TUPLES_OK ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (st && strcmp(st, "22023") == 0) {
        /* hf_offsets_advance refuses to move an offset back: this instance's
         * view of the partition is stale (another instance committed
         * further), the same outcome as a lost compare-and-set */
        err = hf_err_set(HF_ERR_CONFLICT, errstr, errstr_size,
                         "offsets moved past this batch's: a partition is owned by another "
                         "instance (%s)",
                         PQresultErrorMessage(r));
    } else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = hf__pg_fail(b->wh->conn, r, "offsets compare-and-set", NULL, errstr, errstr_size);
        if (err == HF_ERR_PG_DATA)
            err = HF_ERR_PG;
    } else if (PQntuples(r) > 0) {
        err = hf_err_set(HF_ERR_CONFLICT, errstr, errstr_size,
                         "offsets of %s [%s] are no longer %s: the partition is owned by "
                         "another instance",
                         PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    hf_buf_free(&t);
    hf_buf_free(&pa);
    hf_buf_free(&ex);
    hf_buf_free(&nx);
    return err;
}

/* After a lost COMMIT reply: did it commit? HF_OK + *done when every range
 * already shows its new offset; HF_OK when every range still shows its
 * expected offset; HF_ERR_CONFLICT otherwise. */
static hf_err_t hf__resolve_unknown(hf_wh_batch_t *b, bool *done, char *errstr,
                                    size_t errstr_size)
{
    *done = false;
    if (!b->noffs)
        return HF_OK; /* nothing to tell by; the primary key absorbs a replay */
    hf_wh_tp_t *tps = hf_calloc(b->noffs, sizeof(hf_wh_tp_t));
    for (size_t i = 0; i < b->noffs; i++) {
        tps[i].topic = b->topics[b->offs[i].topic];
        tps[i].partition = b->offs[i].partition;
    }
    hf_err_t err = hf_wh_offsets_get(b->wh, tps, b->noffs, errstr, errstr_size);
    size_t at_next = 0, at_expected = 0;
    for (size_t i = 0; !err && i < b->noffs; i++) {
        at_next += tps[i].next_offset == b->offs[i].next;
        at_expected += tps[i].next_offset == b->offs[i].expected;
    }
    hf_free(tps);
    if (err)
        return err;
    if (at_next == b->noffs)
        *done = true;
    else if (at_expected != b->noffs)
        return hf_err_set(HF_ERR_CONFLICT, errstr, errstr_size,
                          "after a lost COMMIT reply the offsets are neither the batch's old nor "
                          "its new ones: another instance owns the partition");
    return HF_OK;
}

/* ==== commit ==== */

static void hf__rollback(hf_wh_batch_t *b)
{
    if (b->wh->conn && PQstatus(b->wh->conn) == CONNECTION_OK &&
        PQtransactionStatus(b->wh->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(b->wh->conn, "ROLLBACK");
        PQclear(r);
    }
}

static hf_err_t hf__attempt(hf_wh_batch_t *b, char *errstr, size_t errstr_size)
{
    hf_wh_t *wh = b->wh;
    hf__qlist_clear(&b->rejected);
    b->ncompl = 0;
    b->nslowlat = 0;
    b->stale_partition = false;
    size_t created = b->st.partitions_created, attempts = b->st.attempts;
    memset(&b->st, 0, sizeof(b->st));
    b->st.partitions_created = created;
    b->st.attempts = attempts + 1;
    for (size_t ti = 0; ti < wh->ntables; ti++) {
        b->st.table[ti].rows = b->t[ti].n + b->t[ti].encode_rejects;
        b->st.table[ti].rejected = b->t[ti].encode_rejects;
        for (size_t i = 0; i < b->t[ti].n; i++)
            b->t[ti].rows[i].state = HF__ROW_PENDING;
    }

    hf_err_t err = hf__pg_exec(wh->conn, "BEGIN", errstr, errstr_size);
    if (!err)
        err = hf__cas_offsets(b, errstr, errstr_size);
    for (size_t ti = 0; ti < wh->ntables && !err; ti++) {
        if (!b->t[ti].n)
            continue;
        int64_t t0 = hf_time_mono_us();
        err = hf__load_range(b, ti, 0, b->t[ti].n, errstr, errstr_size);
        b->st.table[ti].load_us = hf_time_mono_us() - t0;
    }
    if (!err && b->stale_partition && b->allow_restart) {
        hf__rollback(b);
        return HF_OK; /* the caller sees stale_partition and starts over */
    }
    if (!err)
        err = hf__insert_quarantine(b, &b->added, errstr, errstr_size);
    if (!err)
        err = hf__insert_quarantine(b, &b->rejected, errstr, errstr_size);
    if (!err)
        err = hf__write_completeness(b, errstr, errstr_size);
    if (!err)
        err = hf__window_write(b, errstr, errstr_size);
    if (err) {
        hf__rollback(b);
        return err == HF_ERR_PG_DATA ? HF_ERR_PG : err;
    }

    for (size_t ti = 0; ti < wh->ntables; ti++) {
        hf_wh_table_stats_t *ts = &b->st.table[ti];
        ts->duplicates = ts->rows - ts->rejected - ts->inserted;
        b->st.rows += ts->rows;
        b->st.inserted += ts->inserted;
        b->st.duplicates += ts->duplicates;
        b->st.rejected += ts->rejected;
    }

    PGresult *r = PQexec(wh->conn, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        bool lost = PQstatus(wh->conn) != CONNECTION_OK;
        err = hf__pg_fail(wh->conn, r, "COMMIT", NULL, errstr, errstr_size);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) /* "ROLLBACK": the transaction had failed */
            err = hf_err_set(HF_ERR_PG, errstr, errstr_size, "COMMIT: transaction rolled back");
        if (lost) {
            b->outcome_unknown = true;
            hf_log_warn("warehouse.commit_unknown", "msg=\"connection lost during COMMIT; "
                        "hemoflow.hf_offsets will tell whether it committed\"");
        }
        if (err == HF_ERR_PG_DATA) /* deferred constraint: nothing to isolate */
            err = HF_ERR_PG;
    }
    PQclear(r);
    return err;
}

hf_err_t hf_wh_batch_commit(hf_wh_batch_t *b, hf_wh_stats_t *stats, char *errstr,
                            size_t errstr_size)
{
    hf_wh_t *wh = b->wh;
    if (b->committed)
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size,
                          "batch already committed: reset it first");
    if (!wh->conn || PQstatus(wh->conn) != CONNECTION_OK)
        return hf_err_set(HF_ERR_PG_TRANSIENT, errstr, errstr_size,
                          "not connected to PostgreSQL: reconnect and commit again");
    if (b->outcome_unknown) {
        bool done;
        hf_err_t err = hf__resolve_unknown(b, &done, errstr, errstr_size);
        if (err)
            return err;
        b->outcome_unknown = false;
        if (done) {
            hf_log_info("warehouse.commit_recovered", "msg=\"the previous COMMIT had succeeded\"");
            b->committed = true;
            hf__seen_remember(b);
            hf__obs_committed(b);
            if (stats)
                *stats = b->st;
            return HF_OK;
        }
        hf_log_info("warehouse.commit_redo", "msg=\"the previous COMMIT had not happened; "
                    "committing the batch again\"");
    }
    for (size_t ti = 0; ti < wh->ntables; ti++) {
        if (!b->t[ti].sorted && b->t[ti].n > 1)
            qsort(b->t[ti].rows, b->t[ti].n, sizeof(hf__row_t), hf__row_cmp);
        b->t[ti].sorted = true;
    }
    b->st.partitions_created = 0;
    b->st.attempts = 0;
    hf_err_t err = HF_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        b->allow_restart = attempt == 0;
        err = hf__ensure_partitions(b, errstr, errstr_size);
        if (!err)
            err = hf__attempt(b, errstr, errstr_size);
        if (err || !b->stale_partition || !b->allow_restart)
            break;
        /* A partition the cache knew was dropped: reload and start over once;
         * the second time such rows stay quarantined. */
        hf_log_warn("warehouse.partition_vanished",
                    "msg=\"a cached partition is missing; recreating and retrying\"");
        hf__wh_part_forget_all(wh);
    }
    if (err)
        return err;
    b->committed = true;
    hf__seen_remember(b);
    hf__obs_committed(b);
    if (stats)
        *stats = b->st;
    hf_log_debug("warehouse.committed", "rows=%zu inserted=%zu duplicates=%zu rejected=%zu "
                 "quarantined=%zu", b->st.rows, b->st.inserted, b->st.duplicates, b->st.rejected,
                 b->st.quarantined);
    return HF_OK;
}

hf_err_t hf__offsets_check(hf_wh_t *wh, char *errstr, size_t errstr_size)
{
    PGresult *r = PQexec(wh->conn, "SELECT to_regprocedure('hemoflow.hf_offsets_advance(text, "
                                   "integer, bigint, bigint)') IS NOT NULL");
    hf_err_t err = HF_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        err = hf__pg_fail(wh->conn, r, "look up hemoflow.hf_offsets_advance", NULL, errstr,
                          errstr_size);
    else if (PQgetvalue(r, 0, 0)[0] != 't')
        err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                         "the warehouse has no hemoflow.hf_offsets_advance (migration 0005): "
                         "run 'hemoflow migrate'");
    PQclear(r);
    return err;
}
