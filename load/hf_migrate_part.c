/*
 * hf_migrate_part — partitions created ahead by `hemoflow migrate` and
 * `hemoflow partitions`, and `hemoflow partitions --list`.
 *
 * Creating a partition is catalog work and file creation on the server
 * (a leaf is five relations: the heap, its TOAST table and index, the
 * primary key and the supersedes index; each index build syncs its file),
 * not round trips: one statement per (table, province) already covers every
 * period. What makes it faster is running those statements side by side:
 * a pool of warehouse.migrate_connections connections, each with one
 * statement in flight. Jobs are handed out province by province, table by
 * table, so the connections work on different fact tables and do not queue
 * on one parent's lock. Each statement is still one short autocommit call
 * of hf_ensure_partition, so a live loader is blocked as briefly as before.
 */
#include "hf_migrate.h"
#include "hf_migrate_int.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "hf_buf.h"
#include "hf_cal.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_pg.h"
#include "hf_province.h"

/* ==== periods ==== */

static bool hf__parse_date(const char *s, int32_t *days)
{
    int y, m, d;
    char tail;
    if (!s || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1 ||
        !hf_cal_date_valid(y, m, d)) /* rejects 2026-02-30 */
        return false;
    *days = (int32_t)hf_cal_days_from_civil(y, m, d);
    return true;
}

static int32_t hf__next_period(int32_t p, bool daily)
{
    return daily ? p + 1 : hf_cal_next_month(p);
}

#define HF__MAX_PERIODS 1000

/* The period starts from..to (or today .. ahead periods later) into
 * days[HF__MAX_PERIODS]; *nd their number. */
static hf_err_t hf__periods(const char *gran, const char *today, int ahead, const char *from,
                            const char *to, int32_t *days, size_t *nd, char *errstr,
                            size_t errstr_size)
{
    bool daily = strcmp(gran, "day") == 0;
    int32_t lo, hi;
    if (from || to) {
        if (!hf__parse_date(from, &lo) || !hf__parse_date(to, &hi) || hi < lo)
            return hf_err_set(HF_ERR_USAGE, errstr, errstr_size,
                              "--from and --to need dates YYYY-MM-DD with from <= to");
        lo = hf__wh_period_start(lo, daily);
    } else {
        if (!hf__parse_date(today, &lo))
            return hf_err_set(HF_ERR_PG, errstr, errstr_size, "unexpected current_date '%s'",
                              today);
        lo = hf__wh_period_start(lo, daily);
        hi = lo;
        for (int i = 0; i < ahead; i++)
            hi = hf__next_period(hi, daily);
    }
    *nd = 0;
    for (int32_t p = lo; p <= hi; p = hf__next_period(p, daily)) {
        if (*nd == HF__MAX_PERIODS)
            return hf_err_set(HF_ERR_USAGE, errstr, errstr_size,
                              "more than %d %s partitions per table and province requested",
                              HF__MAX_PERIODS, gran);
        days[(*nd)++] = p;
    }
    return HF_OK;
}

/* ==== the pool ==== */

#define HF__POOL_MAX 64

typedef struct hf__pool_s {
    PGconn *conn[HF__POOL_MAX]; /* conn[0] is the caller's; the others are ours */
    long job[HF__POOL_MAX];     /* job in flight on conn[i], -1 when idle */
    bool dead[HF__POOL_MAX];    /* conn[i] failed: no more jobs for it */
    size_t n;
    const PGresult *tables;     /* hf_fact_tables, one table_name a row */
    size_t ntables;
    const char *days;           /* date[] literal, the same for every job */
    size_t created;             /* calls that created something, summed */
} hf__pool_t;

/* Open up to want - 1 connections besides c. A connection the server
 * refuses (e.g. max_connections) only makes the pool smaller. */
static void hf__pool_open(hf__pool_t *p, const hf_config_t *cfg, PGconn *c, size_t want)
{
    p->conn[0] = c;
    p->job[0] = -1;
    p->n = 1;
    while (p->n < want && p->n < HF__POOL_MAX) {
        char err[512];
        PGconn *x = NULL;
        if (hf__connect(cfg, &x, err, sizeof(err))) {
            hf_log_warn("migrate.partitions_connect", "connections=%zu wanted=%zu error=\"%s\"",
                        p->n, want, err);
            break;
        }
        p->conn[p->n] = x;
        p->job[p->n] = -1;
        p->n++;
    }
}

static void hf__pool_close(hf__pool_t *p)
{
    for (size_t i = 1; i < p->n; i++)
        PQfinish(p->conn[i]);
    p->n = 0;
}

/* Job k: province k / ntables, table k % ntables. */
static const char *hf__job_table(const hf__pool_t *p, long k)
{
    return PQgetvalue(p->tables, (int)((size_t)k % p->ntables), 0);
}

static const char *hf__job_province(const hf__pool_t *p, long k)
{
    return hf_provinces[(size_t)k / p->ntables].code;
}

static hf_err_t hf__job_fail(hf__pool_t *p, size_t i, const PGresult *r, char *errstr,
                             size_t errstr_size)
{
    char what[128];
    long k = p->job[i];
    snprintf(what, sizeof(what), "hf_ensure_partition(%s, %s)", hf__job_table(p, k),
             hf__job_province(p, k));
    hf_err_t err = hf__pg_fail(p->conn[i], r, what, NULL, errstr, errstr_size);
    return err == HF_ERR_PG_DATA ? HF_ERR_PG : err;
}

static hf_err_t hf__job_send(hf__pool_t *p, size_t i, long k, char *errstr, size_t errstr_size)
{
    const char *params[3] = {hf__job_table(p, k), hf__job_province(p, k), p->days};
    p->job[i] = k;
    if (PQsendQueryParams(p->conn[i], HF__WH_ENSURE_SQL, 3, NULL, params, NULL, NULL, 0))
        return HF_OK;
    hf_err_t err = hf__job_fail(p, i, NULL, errstr, errstr_size);
    p->job[i] = -1;
    p->dead[i] = true;
    return err;
}

/* Read what conn[i] has; when its statement is done, take its results and
 * set it idle. Returns the statement's error (the first one is kept by the
 * caller). */
static hf_err_t hf__job_reap(hf__pool_t *p, size_t i, char *errstr, size_t errstr_size)
{
    PGconn *c = p->conn[i];
    hf_err_t err = HF_OK;
    if (!PQconsumeInput(c)) {
        err = hf__job_fail(p, i, NULL, errstr, errstr_size);
        p->job[i] = -1;
        p->dead[i] = true;
        return err;
    }
    PGresult *r = NULL;
    while (!PQisBusy(c) && (r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            p->created += (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        else if (!err)
            err = hf__job_fail(p, i, r, errstr, errstr_size);
        PQclear(r);
    }
    if (!PQisBusy(c) && r == NULL)
        p->job[i] = -1;
    return err;
}

/* Run jobs 0..njobs-1 over the pool. After the first error no job is
 * started; the ones in flight are waited for. */
static hf_err_t hf__pool_run(hf__pool_t *p, long njobs, char *errstr, size_t errstr_size)
{
    long next = 0;
    hf_err_t err = HF_OK;
    char e2[512];
    for (;;) {
        for (size_t i = 0; i < p->n && !err && next < njobs; i++)
            if (p->job[i] < 0 && !p->dead[i])
                err = hf__job_send(p, i, next++, errstr, errstr_size);
        struct pollfd fds[HF__POOL_MAX];
        size_t who[HF__POOL_MAX], nfds = 0;
        for (size_t i = 0; i < p->n; i++) {
            if (p->job[i] < 0)
                continue;
            fds[nfds] = (struct pollfd){.fd = PQsocket(p->conn[i]), .events = POLLIN};
            who[nfds++] = i;
        }
        if (nfds == 0)
            break;
        if (poll(fds, nfds, -1) < 0) {
            if (errno == EINTR)
                continue;
            if (!err)
                err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "poll: %s", strerror(errno));
            break; /* the connections are closed with their statements in flight */
        }
        for (size_t f = 0; f < nfds; f++) {
            if (!fds[f].revents)
                continue;
            hf_err_t e = err ? hf__job_reap(p, who[f], e2, sizeof(e2))
                             : hf__job_reap(p, who[f], errstr, errstr_size);
            if (!err)
                err = e;
        }
    }
    return err;
}

/* ==== partitions ahead ==== */

hf_err_t hf__partitions(const hf_config_t *cfg, PGconn *c, int ahead, const char *from,
                        const char *to, FILE *out, size_t *created_out, char *errstr,
                        size_t errstr_size)
{
    char gran[16], today[16];
    hf_err_t err = hf__query1(c, "SELECT value FROM hemoflow.hf_settings"
                                 " WHERE key = 'partition_granularity'",
                              0, NULL, gran, sizeof(gran), NULL, errstr, errstr_size);
    if (!err)
        err = hf__query1(c, "SELECT current_date::text", 0, NULL, today, sizeof(today), NULL,
                         errstr, errstr_size);
    if (err)
        return err;
    if (!gran[0])
        return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                          "warehouse not migrated (no partition_granularity): run 'hemoflow "
                          "migrate'");
    int32_t *days = hf_calloc(HF__MAX_PERIODS, sizeof(int32_t));
    size_t nd = 0;
    err = hf__periods(gran, today, ahead, from, to, days, &nd, errstr, errstr_size);
    PGresult *r =
        err ? NULL : PQexec(c, "SELECT table_name FROM hemoflow.hf_fact_tables ORDER BY 1");
    if (r && PQresultStatus(r) != PGRES_TUPLES_OK)
        err = hf__pg_fail(c, r, "read hemoflow.hf_fact_tables", NULL, errstr, errstr_size);
    if (err) {
        PQclear(r);
        hf_free(days);
        return err;
    }
    hf_buf_t lit = {0};
    hf__wh_days_literal(&lit, days, nd);
    hf__pool_t pool = {.tables = r, .ntables = (size_t)PQntuples(r),
                       .days = (const char *)lit.data};
    long njobs = (long)(pool.ntables * HF_PROVINCE_COUNT);
    size_t want = (size_t)hf_config_int(cfg, "warehouse.migrate_connections");
    hf__pool_open(&pool, cfg, c, want < (size_t)njobs ? want : (size_t)njobs);
    err = hf__pool_run(&pool, njobs, errstr, errstr_size);
    size_t conns = pool.n;
    hf__pool_close(&pool);
    char first[11], last[11];
    hf_cal_date_format(days[0], first);
    hf_cal_date_format(days[nd - 1], last);
    if (!err)
        hf__say(out,
                "partitions: %d tables x %d provinces x %zu %s periods (%s .. %s): %zu created",
                PQntuples(r), HF_PROVINCE_COUNT, nd, gran, first, last, pool.created);
    if (!err)
        hf_log_info("migrate.partitions", "tables=%d provinces=%d periods=%zu created=%zu "
                    "connections=%zu", PQntuples(r), HF_PROVINCE_COUNT, nd, pool.created, conns);
    PQclear(r);
    hf_buf_free(&lit);
    hf_free(days);
    if (created_out)
        *created_out = pool.created;
    return err;
}

hf_err_t hf_migrate_partitions(const hf_config_t *cfg, int ahead, const char *from,
                               const char *to, FILE *out, size_t *created, char *errstr,
                               size_t errstr_size)
{
    PGconn *c;
    hf_err_t err = hf__connect(cfg, &c, errstr, errstr_size);
    if (err)
        return err;
    if (ahead < 0)
        ahead = (int)hf_config_int(cfg, "warehouse.partitions_ahead");
    err = hf__partitions(cfg, c, ahead, from, to, out, created, errstr, errstr_size);
    PQfinish(c);
    return err;
}

/* ==== listing ==== */

hf_err_t hf_migrate_list_partitions(const hf_config_t *cfg, FILE *out, char *errstr,
                                    size_t errstr_size)
{
    PGconn *c;
    hf_err_t err = hf__connect(cfg, &c, errstr, errstr_size);
    if (err)
        return err;
    PGresult *r = PQexec(
        c, "SELECT c.relname,"
           " substring(pg_get_expr(p.relpartbound, p.oid) FROM $$IN \\('([^']+)'\\)$$),"
           " substring(pg_get_expr(c.relpartbound, c.oid) FROM $$FROM \\('([^']+)'\\)$$),"
           " substring(pg_get_expr(c.relpartbound, c.oid) FROM $$TO \\('([^']+)'\\)$$)"
           " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
           " JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class p ON p.oid = i.inhparent"
           " WHERE n.nspname = 'hemoflow' AND c.relkind = 'r' AND c.relispartition"
           " ORDER BY c.relname");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = hf__pg_fail(c, r, "list partitions", NULL, errstr, errstr_size);
    } else {
        for (int i = 0; i < PQntuples(r); i++)
            fprintf(out, "%s\t%s\t%s\t%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
    }
    PQclear(r);
    PQfinish(c);
    return err;
}
