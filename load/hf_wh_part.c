/*
 * hf_wh_part — which partitions exist and creating the missing ones: the
 * partition key of the cache, the cache filled from the leaf partitions at
 * connect, the batch's sort order (one table-province group contiguous) and
 * the partitions a batch needs, created before its transaction. The cache
 * itself is in hf_wh_conn.c, the partition function call in hf_pg.c.
 */
#include "hf_wh_batch_int.h"

#include <stdio.h>
#include <string.h>

#include "hf_cal.h"
#include "hf_log.h"

/* ==== partition keys ==== */

/* Packed (table index, province, period start) partition key; never 0. */
static uint64_t hf__wh_part_key(size_t table, const char prov[2], int32_t period)
{
    return (uint64_t)(table + 1) << 48 | (uint64_t)(unsigned char)prov[0] << 40 |
           (uint64_t)(unsigned char)prov[1] << 32 | (uint32_t)period;
}

/* Parse "<table>_p<PP>_<YYYY>_<MM>[_<DD>]" leaf names into the cache. */
static void hf__part_learn(hf_wh_t *wh, const char *relname)
{
    for (size_t t = 0; t < wh->ntables; t++) {
        const char *snake = wh->tables[t].et->snake;
        size_t sl = strlen(snake);
        if (strncmp(relname, snake, sl) != 0 || strncmp(relname + sl, "_p", 2) != 0)
            continue;
        const char *p = relname + sl + 2;
        int y, m, d = 1;
        char prov[3], tail;
        int n = sscanf(p, "%2[0-9]_%4d_%2d_%2d%c", prov, &y, &m, &d, &tail);
        bool daily_name = n == 4;
        if (!(n == 3 || n == 4) || strlen(prov) != 2 || daily_name != wh->daily)
            continue;
        hf__wh_part_add(wh, hf__wh_part_key(t, prov, (int32_t)hf_cal_days_from_civil(y, m, d)));
        return;
    }
}

/* ==== the cache at connect ==== */

hf_err_t hf__load_partitions(hf_wh_t *wh, char *errstr, size_t errstr_size)
{
    PGresult *r = PQexec(wh->conn, "SELECT c.relname FROM pg_class c"
                                   " JOIN pg_namespace n ON n.oid = c.relnamespace"
                                   " WHERE n.nspname = 'hemoflow' AND c.relispartition"
                                   " AND c.relkind = 'r'");
    hf_err_t err = HF_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = hf__pg_fail(wh->conn, r, "list partitions", NULL, errstr, errstr_size);
    } else {
        hf__wh_part_forget_all(wh);
        for (int i = 0; i < PQntuples(r); i++)
            hf__part_learn(wh, PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return err;
}

/* ==== a batch: sort order and the partitions it needs ==== */

int hf__row_cmp(const void *a, const void *b)
{
    const hf__row_t *x = a, *y = b;
    int c = memcmp(x->province, y->province, 2);
    if (c)
        return c;
    if (x->event_date != y->event_date)
        return x->event_date < y->event_date ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Days 0001-01-01 and 9999-12-31: hf_ensure_partition's range. */
#define HF__DAY_MIN (-719162)
#define HF__DAY_MAX 2932896

bool hf__row_partitionable(const hf__row_t *r)
{
    return r->province_ok && r->event_date >= HF__DAY_MIN && r->event_date <= HF__DAY_MAX;
}

/* Create the partitions of pending rows the cache does not know. Rows are
 * sorted, so one table-province group is contiguous. */
hf_err_t hf__ensure_partitions(hf_wh_batch_t *b, char *errstr, size_t errstr_size)
{
    hf_wh_t *wh = b->wh;
    int32_t *days = NULL;
    size_t ndays = 0, cap = 0;
    hf_err_t err = HF_OK;
    for (size_t ti = 0; ti < wh->ntables && !err; ti++) {
        hf__tbatch_t *tb = &b->t[ti];
        for (size_t i = 0; i < tb->n && !err;) {
            size_t j = i;
            ndays = 0;
            for (; j < tb->n && memcmp(tb->rows[j].province, tb->rows[i].province, 2) == 0; j++) {
                const hf__row_t *r = &tb->rows[j];
                if (!hf__row_partitionable(r))
                    continue;
                int32_t period = hf__wh_period_start(r->event_date, wh->daily);
                if (hf__wh_part_known(wh, hf__wh_part_key(ti, r->province, period)) ||
                    (ndays && days[ndays - 1] == period))
                    continue;
                if (ndays == cap) {
                    cap = cap ? cap * 2 : 16;
                    days = hf_realloc(days, cap * sizeof(int32_t));
                }
                days[ndays++] = period;
            }
            if (ndays) {
                char prov[3] = {tb->rows[i].province[0], tb->rows[i].province[1], 0};
                size_t created = 0;
                err = hf__wh_ensure_partitions(wh->conn, wh->tables[ti].et->snake, prov, days,
                                               ndays, &created, errstr, errstr_size);
                if (err == HF_ERR_PG_DATA) /* cannot happen for checked keys; be safe */
                    err = HF_ERR_PG;
                if (!err) {
                    for (size_t k = 0; k < ndays; k++)
                        hf__wh_part_add(wh, hf__wh_part_key(ti, prov, days[k]));
                    b->st.partitions_created += created;
                    if (created)
                        hf_log_info("warehouse.partitions_created", "table=%s province=%s "
                                    "periods=%zu created=%zu", wh->tables[ti].et->snake, prov,
                                    ndays, created);
                }
            }
            i = j;
        }
    }
    hf_free(days);
    return err;
}
