/*
 * hf_indicators — indicator settings and `hemoflow refresh` (see
 * hf_indicators.h). The settings are decided in the configuration and
 * copied into hf_settings, where the ind_* views read them: suppression
 * at query time, the plasma rules at the next refresh.
 */
#include "hf_indicators.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hf_ind_int.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_pg.h"

/* config key -> hf_settings key */
static const struct {
    const char *cfg, *key;
} hf__ind_keys[] = {
    {"indicators.suppress_max", "suppress_max"},
    {"indicators.suppress_round", "suppress_round"},
    {"indicators.plasma_min_gap_days", "plasma_min_gap_days"},
    {"indicators.plasma_max_per_year", "plasma_max_per_year"},
};

hf_err_t hf__ind_settings(PGconn *c, const hf_config_t *cfg, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < sizeof(hf__ind_keys) / sizeof(hf__ind_keys[0]); i++) {
        char v[32];
        snprintf(v, sizeof(v), "%lld", (long long)hf_config_int(cfg, hf__ind_keys[i].cfg));
        const char *p[2] = {hf__ind_keys[i].key, v};
        PGresult *r = PQexecParams(c, "INSERT INTO hemoflow.hf_settings (key, value) VALUES ($1, $2)"
                                      " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,"
                                      " updated_at = now()"
                                      " WHERE hf_settings.value IS DISTINCT FROM EXCLUDED.value",
                                   2, NULL, p, NULL, NULL, 0);
        hf_err_t err = HF_OK;
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            err = hf__pg_fail(c, r, "write hf_settings", NULL, errstr, errstr_size);
        PQclear(r);
        if (err)
            return err;
    }
    return HF_OK;
}

static double hf__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

hf_err_t hf_indicators_refresh(const hf_config_t *cfg, FILE *out, char *errstr,
                               size_t errstr_size)
{
    char *ci = hf_config_pg_conninfo(cfg);
    PGconn *c = NULL;
    hf_err_t err = hf__pg_connect(ci, "hemoflow-refresh", &c, errstr, errstr_size);
    hf_free(ci);
    if (err)
        return err;
    PGresult *r = PQexec(c, "SELECT to_regprocedure('hemoflow.hf_refresh_indicators()') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        err = hf__pg_fail(c, r, "look up hf_refresh_indicators", NULL, errstr, errstr_size);
    else if (PQgetvalue(r, 0, 0)[0] != 't')
        err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                         "warehouse has no indicator views: run 'hemoflow migrate'");
    PQclear(r);
    double t0 = hf__now_s();
    if (!err)
        err = hf__ind_settings(c, cfg, errstr, errstr_size);
    /* one view per transaction: each locks only the partitions of its own
     * sources (a warehouse of years of partitions would exhaust the lock
     * table in one transaction), and readers are never blocked */
    PGresult *mv = NULL;
    if (!err) {
        mv = PQexec(c, "SELECT matviewname FROM pg_matviews WHERE schemaname = 'hemoflow'"
                       " AND matviewname LIKE 'hf\\_ind\\_%' ORDER BY 1");
        if (PQresultStatus(mv) != PGRES_TUPLES_OK)
            err = hf__pg_fail(c, mv, "list the indicator views", NULL, errstr, errstr_size);
    }
    for (int i = 0; !err && i < PQntuples(mv); i++) {
        const char *v = PQgetvalue(mv, i, 0);
        char *id = PQescapeIdentifier(c, v, strlen(v));
        char *sql = hf_asprintf("REFRESH MATERIALIZED VIEW CONCURRENTLY hemoflow.%s", id);
        PQfreemem(id);
        double t1 = hf__now_s();
        /* jit off: with hundreds of partitions PostgreSQL JIT-compiles
         * thousands of expressions, 78 s of the 78.3 s hf_ind_screening took
         * on 100 000 rows (0.4 s without). enable_nestloop off: the
         * _current views' NOT EXISTS looks tiny to the planner (one
         * partial-index probe per partition) and a nested loop would probe
         * every partition for every row; a hash anti-join reads each once. */
        err = hf__pg_exec(c, "BEGIN; SET LOCAL jit = off; SET LOCAL enable_nestloop = off", errstr,
                          errstr_size);
        if (!err)
            err = hf__pg_exec(c, sql, errstr, errstr_size);
        if (!err)
            err = hf__pg_exec(c, "COMMIT", errstr, errstr_size);
        if (err) {
            PGresult *rb = PQexec(c, "ROLLBACK");
            PQclear(rb);
        }
        hf_free(sql);
        if (!err)
            hf_log_debug("refresh.view", "view=%s seconds=%.3f", v, hf__now_s() - t1);
        if (!err && out)
            fprintf(out, "  %-20s %8.2f s\n", v, hf__now_s() - t1);
    }
    PQclear(mv);
    if (!err)
        err = hf__pg_exec(c, "INSERT INTO hemoflow.hf_settings (key, value, updated_at)"
                             " VALUES ('indicators_refreshed_at', to_char(now() AT TIME ZONE 'UTC',"
                             " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), now())"
                             " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,"
                             " updated_at = EXCLUDED.updated_at",
                          errstr, errstr_size);
    if (!err) {
        double dt = hf__now_s() - t0;
        if (out) {
            long long mx = (long long)hf_config_int(cfg, "indicators.suppress_max");
            long long rd = (long long)hf_config_int(cfg, "indicators.suppress_round");
            if (mx > 0)
                fprintf(out, "indicators refreshed in %.2f s (published counts 1-%lld suppressed, "
                             "others rounded to %lld)\n", dt, mx, rd);
            else
                fprintf(out, "indicators refreshed in %.2f s (no suppression, rounded to %lld)\n",
                        dt, rd);
            fflush(out);
        }
        hf_log_info("refresh.done", "seconds=%.3f", dt);
    }
    PQfinish(c);
    return err;
}
