/*
 * hf_wh_conn — the loader connection: connect, verify every fact table
 * against the newest schema of its event type, check the partition
 * granularity, create the session's staging tables, keep the cache of
 * partitions known to exist (filled and used by hf_wh_part.c), and read
 * stored offsets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_log.h"
#include "hf_wh_int.h"

/* ==== partition cache ==== */

/* Keys are hf__wh_part_key values (hf_wh_part.c), stored as native uint64_t
 * bytes. */

bool hf__wh_part_known(const hf_wh_t *wh, uint64_t key)
{
    return hf_hashset_contains(wh->parts, &key);
}

void hf__wh_part_add(hf_wh_t *wh, uint64_t key)
{
    (void)hf_hashset_insert(wh->parts, &key);
}

void hf__wh_part_forget_all(hf_wh_t *wh)
{
    hf_hashset_clear(wh->parts);
}

/* ==== verification ==== */

static hf_err_t hf__verify_tables(hf_wh_t *wh, char *errstr, size_t errstr_size)
{
    hf_buf_t names = {0};
    hf_buf_append(&names, "{", 1);
    for (size_t t = 0; t < wh->ntables; t++) {
        if (t)
            hf_buf_append(&names, ",", 1);
        hf__pg_array_text(&names, wh->tables[t].et->snake, strlen(wh->tables[t].et->snake));
    }
    hf_buf_append(&names, "}", 2);
    const char *params[1] = {(const char *)names.data};
    PGresult *r = PQexecParams(
        wh->conn,
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname = 'hemoflow' AND c.relname = ANY($1::text[])"
        " ORDER BY c.relname, a.attnum",
        1, NULL, params, NULL, NULL, 0);
    hf_buf_free(&names);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        hf_err_t err = hf__pg_fail(wh->conn, r, "read fact table columns", NULL, errstr,
                                   errstr_size);
        PQclear(r);
        return err;
    }
    hf_err_t err = HF_OK;
    int rows = PQntuples(r);
    static const char *const load_cols[3][2] = {{"kafka_partition", "integer"},
                                                {"kafka_offset", "bigint"},
                                                {"loaded_at", "timestamp with time zone"}};
    int *cols = hf_calloc((size_t)rows + 1, sizeof(int));
    for (size_t t = 0; t < wh->ntables && !err; t++) {
        const hf__table_t *tb = &wh->tables[t];
        const char *snake = tb->et->snake;
        /* The table's columns without the three load columns, which may sit
         * anywhere (ALTER TABLE ADD COLUMN appends after them). */
        size_t ncols = 0;
        bool seen_load[3] = {false, false, false};
        for (int i = 0; i < rows; i++) {
            if (strcmp(PQgetvalue(r, i, 0), snake) != 0)
                continue;
            int lc = -1;
            for (int k = 0; k < 3; k++)
                if (strcmp(PQgetvalue(r, i, 1), load_cols[k][0]) == 0)
                    lc = k;
            if (lc < 0) {
                cols[ncols++] = i;
                continue;
            }
            if (strcmp(PQgetvalue(r, i, 2), load_cols[lc][1]) != 0 || PQgetvalue(r, i, 3)[0] != 't')
                err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                                 "fact table hemoflow.%s: column '%s' must be %s NOT NULL", snake,
                                 load_cols[lc][0], load_cols[lc][1]);
            seen_load[lc] = true;
        }
        if (ncols == 0 && !seen_load[0]) {
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                             "fact table hemoflow.%s does not exist: run 'hemoflow migrate'",
                             snake);
            break;
        }
        for (int k = 0; k < 3 && !err; k++)
            if (!seen_load[k])
                err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                                 "fact table hemoflow.%s: column '%s' (%s NOT NULL) is missing",
                                 snake, load_cols[k][0], load_cols[k][1]);
        size_t want = tb->nfields + 1;
        for (size_t c = 0; c < want && !err; c++) {
            const char *wname = "event_date", *wtype = "date";
            bool wnotnull = true;
            if (c > 0) {
                const hf__col_t *col = &tb->fields[c - 1];
                wname = col->name, wtype = hf__wh_pgtype(col->kind), wnotnull = !col->nullable;
            }
            if (c >= ncols) {
                err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                                 "fact table hemoflow.%s: column %zu '%s' (%s%s) is missing; the "
                                 "newest schema is %s v%d: write and apply its migration",
                                 snake, c + 1, wname, wtype, wnotnull ? " NOT NULL" : "",
                                 tb->et->name, tb->version);
                break;
            }
            int i = cols[c];
            const char *gname = PQgetvalue(r, i, 1), *gtype = PQgetvalue(r, i, 2);
            bool gnotnull = PQgetvalue(r, i, 3)[0] == 't';
            if (strcmp(gname, wname) != 0 || strcmp(gtype, wtype) != 0 || gnotnull != wnotnull)
                err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                                 "fact table hemoflow.%s: column %zu is '%s' (%s%s), the newest "
                                 "schema %s v%d needs '%s' (%s%s): write and apply its migration",
                                 snake, c + 1, gname, gtype, gnotnull ? " NOT NULL" : "",
                                 tb->et->name, tb->version, wname, wtype,
                                 wnotnull ? " NOT NULL" : "");
        }
        if (!err && ncols > want)
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                             "fact table hemoflow.%s: extra column '%s' not in the newest "
                             "schema %s v%d (is this hemoflow older than the warehouse?)",
                             snake, PQgetvalue(r, cols[want], 1), tb->et->name, tb->version);
    }
    hf_free(cols);
    PQclear(r);
    return err;
}

static hf_err_t hf__check_granularity(hf_wh_t *wh, char *errstr, size_t errstr_size)
{
    PGresult *r = PQexec(wh->conn, "SELECT value FROM hemoflow.hf_settings"
                                   " WHERE key = 'partition_granularity'");
    hf_err_t err = HF_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        err = hf__pg_fail(wh->conn, r, "read hemoflow.hf_settings", NULL, errstr, errstr_size);
    else if (PQntuples(r) != 1)
        err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                         "hemoflow.hf_settings has no partition_granularity: run 'hemoflow "
                         "migrate'");
    else if (strcmp(PQgetvalue(r, 0, 0), wh->daily ? "day" : "month") != 0)
        err = hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                         "warehouse.partition_granularity is '%s' but the warehouse was created "
                         "with '%s' (fixed at the first migrate): fix the configuration",
                         wh->daily ? "day" : "month", PQgetvalue(r, 0, 0));
    PQclear(r);
    return err;
}

static hf_err_t hf__create_staging(hf_wh_t *wh, char *errstr, size_t errstr_size)
{
    hf_buf_t sql = {0};
    for (size_t t = 0; t < wh->ntables; t++) {
        char *s = hf_asprintf("CREATE TEMP TABLE IF NOT EXISTS hf_stage_%s"
                              " (LIKE hemoflow.%s INCLUDING DEFAULTS);",
                              wh->tables[t].et->snake, wh->tables[t].et->snake);
        hf_buf_append(&sql, s, strlen(s));
        hf_free(s);
    }
    /* keys of a batch, for the duplicate probe (hf_wh_copy.c): row index i */
    static const char keys[] =
        "CREATE TEMP TABLE IF NOT EXISTS hf_keys (p text, d date, id uuid, i integer);";
    hf_buf_append(&sql, keys, sizeof(keys));
    hf_err_t err = hf__pg_exec(wh->conn, (const char *)sql.data, errstr, errstr_size);
    hf_buf_free(&sql);
    return err;
}

static hf_err_t hf__session_setup(hf_wh_t *wh, char *errstr, size_t errstr_size)
{
    hf_err_t err = hf__pg_connect(wh->conninfo, "hemoflow-loader", &wh->conn, errstr, errstr_size);
    if (!err)
        err = hf__verify_tables(wh, errstr, errstr_size);
    if (!err)
        err = hf__check_granularity(wh, errstr, errstr_size);
    if (!err)
        err = hf__window_check(wh, errstr, errstr_size);
    if (!err)
        err = hf__offsets_check(wh, errstr, errstr_size);
    if (!err)
        err = hf__load_partitions(wh, errstr, errstr_size);
    if (!err)
        err = hf__create_staging(wh, errstr, errstr_size);
    if (err && wh->conn) {
        PQfinish(wh->conn);
        wh->conn = NULL;
    }
    return err;
}

/* ==== public ==== */

hf_err_t hf_wh_open(const hf_config_t *cfg, const hf_catalog_t *cat, hf_wh_t **out, char *errstr,
                    size_t errstr_size)
{
    *out = NULL;
    if (hf_event_types_count > HF_WH_MAX_TABLES)
        return hf_err_set(HF_ERR_INTERNAL, errstr, errstr_size, "too many event types");
    hf_wh_t *wh = hf_calloc(1, sizeof(*wh));
    wh->parts = hf_hashset_new(sizeof(uint64_t), 512);
    wh->cat = cat;
    wh->conninfo = hf_config_pg_conninfo(cfg);
    wh->daily = strcmp(hf_config_str(cfg, "warehouse.partition_granularity"), "day") == 0;
    wh->window_keep = (int)hf_config_int(cfg, "lag.window_commits");
    wh->window_min_ms = (int)hf_config_int(cfg, "lag.window_min_interval_ms");
    wh->ntables = hf_event_types_count;
    hf__seen_init(&wh->seen, 1); /* all zero already: touches nothing */
    hf_err_t err = HF_OK;
    /* The catalogue's reader schema (the newest version) of every event type
     * gives the expected columns. */
    for (size_t t = 0; t < wh->ntables && !err; t++) {
        int version = 0;
        const hf_avro_schema_t *tree = hf_catalog_reader_tree(cat, &hf_event_types[t], &version);
        if (!tree)
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size, "no schema for event type %s",
                             hf_event_types[t].name);
        else
            err = hf__wh_table_from_tree(&wh->tables[t], &hf_event_types[t], version, tree,
                                         errstr, errstr_size);
    }
    if (!err)
        err = hf__session_setup(wh, errstr, errstr_size);
    if (err) {
        hf_wh_destroy(wh);
        return err;
    }
    hf_log_info("warehouse.connected", "backend_pid=%d tables=%zu partitions_known=%zu "
                "granularity=%s", PQbackendPID(wh->conn), wh->ntables, hf_hashset_count(wh->parts),
                wh->daily ? "day" : "month");
    *out = wh;
    return HF_OK;
}

void hf_wh_destroy(hf_wh_t *wh)
{
    if (!wh)
        return;
    if (wh->conn)
        PQfinish(wh->conn);
    for (size_t t = 0; t < HF_WH_MAX_TABLES; t++)
        hf__wh_table_clear(&wh->tables[t]);
    hf_hashset_destroy(wh->parts);
    hf_free(wh->conninfo);
    hf_free(wh);
}

hf_err_t hf_wh_reconnect(hf_wh_t *wh, char *errstr, size_t errstr_size)
{
    if (wh->conn) {
        PQfinish(wh->conn);
        wh->conn = NULL;
    }
    hf_err_t err = hf__session_setup(wh, errstr, errstr_size);
    if (!err)
        hf_log_info("warehouse.reconnected", "backend_pid=%d", PQbackendPID(wh->conn));
    return err;
}

bool hf_wh_connected(const hf_wh_t *wh)
{
    return wh->conn && PQstatus(wh->conn) == CONNECTION_OK;
}

int hf_wh_backend_pid(const hf_wh_t *wh)
{
    return wh->conn ? PQbackendPID(wh->conn) : 0;
}

hf_err_t hf_wh_offsets_get(hf_wh_t *wh, hf_wh_tp_t *tps, size_t n, char *errstr,
                           size_t errstr_size)
{
    if (n == 0)
        return HF_OK;
    if (!wh->conn)
        return hf_err_set(HF_ERR_PG_TRANSIENT, errstr, errstr_size, "not connected");
    hf_buf_t topics = {0}, parts = {0};
    hf_buf_append(&topics, "{", 1);
    hf_buf_append(&parts, "{", 1);
    for (size_t i = 0; i < n; i++) {
        char num[16];
        int len = snprintf(num, sizeof(num), "%s%d", i ? "," : "", (int)tps[i].partition);
        if (i)
            hf_buf_append(&topics, ",", 1);
        hf__pg_array_text(&topics, tps[i].topic, strlen(tps[i].topic));
        hf_buf_append(&parts, num, (size_t)len);
    }
    hf_buf_append(&topics, "}", 2);
    hf_buf_append(&parts, "}", 2);
    const char *params[2] = {(const char *)topics.data, (const char *)parts.data};
    PGresult *r = PQexecParams(wh->conn,
                               "SELECT o.next_offset FROM unnest($1::text[], $2::int[])"
                               " WITH ORDINALITY AS k(topic, part, i)"
                               " LEFT JOIN hemoflow.hf_offsets o"
                               " ON o.topic = k.topic AND o.kafka_partition = k.part"
                               " ORDER BY k.i",
                               2, NULL, params, NULL, NULL, 0);
    hf_buf_free(&topics);
    hf_buf_free(&parts);
    hf_err_t err = HF_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || (size_t)PQntuples(r) != n) {
        err = hf__pg_fail(wh->conn, r, "read hemoflow.hf_offsets", NULL, errstr, errstr_size);
    } else {
        for (size_t i = 0; i < n; i++)
            tps[i].next_offset = PQgetisnull(r, (int)i, 0)
                                     ? -1
                                     : strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
    }
    PQclear(r);
    return err;
}
