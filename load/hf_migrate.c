/*
 * hf_migrate — `hemoflow migrate` and `hemoflow partitions`: versioned SQL
 * files applied once each under an advisory lock, the roles and their
 * privileges, and partitions created ahead (see hf_migrate.h).
 */
#include "hf_migrate.h"
#include "hf_migrate_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hf_buf.h"
#include "hf_cal.h"
#include "hf_ind_int.h"
#include "hf_log.h"
#include "hf_mem.h"
#include "hf_pg.h"
#include "hf_province.h"

/* pg_advisory_lock key serializing migrations ("hfmigr" in ASCII). */
#define HF__MIGRATE_LOCK "114776318117490"

/* ==== migration files ==== */

typedef struct hf__mfile_s {
    int version;
    char *file;    /* NNNN_name.sql */
    char *name;    /* name part */
    char *sql;     /* content */
    size_t len;
    char sha[65];  /* hex SHA-256 of the content */
} hf__mfile_t;

typedef struct hf__mlist_s {
    hf__mfile_t *v;
    size_t n;
} hf__mlist_t;

static void hf__mlist_free(hf__mlist_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        hf_free(l->v[i].file);
        hf_free(l->v[i].name);
        hf_free(l->v[i].sql);
    }
    hf_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int hf__mfile_cmp(const void *a, const void *b)
{
    const hf__mfile_t *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* NNNN_name.sql with name of [a-z0-9_]; -1 when not a migration file. */
static int hf__mfile_version(const char *f)
{
    size_t n = strlen(f);
    if (n < 10 || strcmp(f + n - 4, ".sql") != 0 || f[4] != '_')
        return -1;
    for (size_t i = 0; i < 4; i++)
        if (f[i] < '0' || f[i] > '9')
            return -1;
    for (size_t i = 5; i < n - 4; i++)
        if (!((f[i] >= 'a' && f[i] <= 'z') || (f[i] >= '0' && f[i] <= '9') || f[i] == '_'))
            return -1;
    return atoi(f);
}

static hf_err_t hf__read_file(const char *path, char **out, size_t *len, char *errstr,
                              size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "open %s: %s", path, strerror(errno));
    hf_buf_t b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        hf_buf_append(&b, chunk, n);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        hf_buf_free(&b);
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "read %s: I/O error", path);
    }
    *len = b.len;
    hf_buf_append(&b, "", 1);
    *out = (char *)b.data;
    return HF_OK;
}

static hf_err_t hf__scan(const char *dir, hf__mlist_t *l, char *errstr, size_t errstr_size)
{
    DIR *d = opendir(dir);
    if (!d)
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "warehouse.sql_dir %s: %s", dir,
                          strerror(errno));
    size_t cap = 0;
    hf_err_t err = HF_OK;
    struct dirent *e;
    while (!err && (e = readdir(d)) != NULL) {
        int v = hf__mfile_version(e->d_name);
        if (v < 0)
            continue;
        if (v == 0) {
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                             "%s/%s: migration numbers start at 0001", dir, e->d_name);
            break;
        }
        if (l->n == cap) {
            cap = cap ? cap * 2 : 16;
            l->v = hf_realloc(l->v, cap * sizeof(hf__mfile_t));
        }
        hf__mfile_t *m = &l->v[l->n];
        memset(m, 0, sizeof(*m));
        m->version = v;
        m->file = hf_strdup(e->d_name);
        m->name = hf_strndup(e->d_name + 5, strlen(e->d_name) - 9);
        char *path = hf_asprintf("%s/%s", dir, e->d_name);
        l->n++;
        err = hf__read_file(path, &m->sql, &m->len, errstr, errstr_size);
        hf_free(path);
    }
    closedir(d);
    if (err)
        return err;
    qsort(l->v, l->n, sizeof(hf__mfile_t), hf__mfile_cmp);
    for (size_t i = 1; i < l->n; i++)
        if (l->v[i].version == l->v[i - 1].version)
            return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                              "%s: %s and %s have the same number", dir, l->v[i - 1].file,
                              l->v[i].file);
    return HF_OK;
}

/* SHA-256 of every file, computed by the server (no extra dependency). */
static hf_err_t hf__checksums(PGconn *c, hf__mlist_t *l, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < l->n; i++) {
        const char *p[1] = {l->v[i].sql};
        int len[1] = {(int)l->v[i].len}, fmt[1] = {1};
        PGresult *r = PQexecParams(c, "SELECT encode(sha256($1::bytea), 'hex')", 1, NULL, p, len,
                                   fmt, 0);
        hf_err_t err = HF_OK;
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            err = hf__pg_fail(c, r, "sha256", NULL, errstr, errstr_size);
        else
            snprintf(l->v[i].sha, sizeof(l->v[i].sha), "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        if (err)
            return err;
    }
    return HF_OK;
}

/* ==== helpers ==== */

void hf__say(FILE *out, const char *fmt, ...)
{
    if (!out)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
}

hf_err_t hf__connect(const hf_config_t *cfg, PGconn **c, char *errstr, size_t errstr_size)
{
    char *ci = hf_config_pg_conninfo(cfg);
    hf_err_t err = hf__pg_connect(ci, "hemoflow-migrate", c, errstr, errstr_size);
    hf_free(ci);
    return err;
}

/* Run a statement whose one-row, one-column text result goes to out
 * (NULL result -> ""). */
hf_err_t hf__query1(PGconn *c, const char *sql, int n, const char *const *params, char *out,
                    size_t out_size, bool *found, char *errstr, size_t errstr_size)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    hf_err_t err = HF_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = hf__pg_fail(c, r, sql, NULL, errstr, errstr_size);
    } else {
        if (found)
            *found = PQntuples(r) > 0;
        if (out && out_size)
            snprintf(out, out_size, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    }
    PQclear(r);
    return err;
}

/* ==== roles ==== */

static hf_err_t hf__ensure_role(PGconn *c, const char *role, FILE *out, char *errstr,
                                size_t errstr_size)
{
    const char *p[1] = {role};
    bool found = false;
    hf_err_t err = hf__query1(c, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, p, NULL, 0,
                              &found, errstr, errstr_size);
    if (err || found)
        return err;
    char *id = PQescapeIdentifier(c, role, strlen(role));
    if (!id)
        return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size, "role name '%s': %s", role,
                          PQerrorMessage(c));
    char *sql = hf_asprintf("CREATE ROLE %s NOLOGIN", id);
    PQfreemem(id);
    err = hf__pg_exec(c, sql, errstr, errstr_size);
    hf_free(sql);
    if (!err)
        hf__say(out, "created role %s (NOLOGIN)", role);
    return err;
}

/* One statement of a script: hf_buf_printf, then ";\n". */
#define hf__sql_add(b, ...) (hf_buf_printf((b), __VA_ARGS__), hf_buf_append((b), ";\n", 2))

/* The relations listed in hemoflow.hf_published (none before migration
 * 0003), one per row. */
static PGresult *hf__published(PGconn *c)
{
    return PQexec(c, "SELECT relname FROM hemoflow.hf_published"
                     " WHERE to_regclass('hemoflow.hf_published') IS NOT NULL ORDER BY 1");
}

/* Grant exactly what each role needs (revoking anything else in the
 * schema first), in one transaction. The analyst reads the relations of
 * hf_published; the raw facts only with analyst_raw. */
static hf_err_t hf__grant(PGconn *c, const char *loader, const char *analyst, bool analyst_raw,
                          char *errstr, size_t errstr_size)
{
    bool have_published = false;
    hf_err_t perr = hf__query1(c, "SELECT 1 WHERE to_regclass('hemoflow.hf_published') IS NOT NULL",
                               0, NULL, NULL, 0, &have_published, errstr, errstr_size);
    if (perr)
        return perr;
    PGresult *pub = have_published ? hf__published(c) : NULL;
    if (pub && PQresultStatus(pub) != PGRES_TUPLES_OK) {
        perr = hf__pg_fail(c, pub, "read hemoflow.hf_published", NULL, errstr, errstr_size);
        PQclear(pub);
        return perr;
    }
    PGresult *r = PQexec(c, "SELECT table_name, to_regclass('hemoflow.' ||"
                            " quote_ident(table_name || '_current')) IS NOT NULL,"
                            " current_database(),"
                            " to_regclass('hemoflow.hf_commit_window') IS NOT NULL,"
                            " to_regprocedure('hemoflow.hf_offsets_advance(text, integer,"
                            " bigint, bigint)') IS NOT NULL"
                            " FROM hemoflow.hf_fact_tables ORDER BY 1");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        hf_err_t err = hf__pg_fail(c, r, "read hemoflow.hf_fact_tables", NULL, errstr,
                                   errstr_size);
        PQclear(r);
        PQclear(pub);
        return err;
    }
    char *L = PQescapeIdentifier(c, loader, strlen(loader));
    char *A = PQescapeIdentifier(c, analyst, strlen(analyst));
    char *db = NULL;
    hf_buf_t s = {0};
    hf__sql_add(&s, "BEGIN");
    for (int who = 0; who < 2; who++) {
        const char *R = who ? A : L;
        hf__sql_add(&s, "REVOKE ALL ON ALL TABLES IN SCHEMA hemoflow FROM %s", R);
        hf__sql_add(&s, "REVOKE ALL ON ALL SEQUENCES IN SCHEMA hemoflow FROM %s", R);
        hf__sql_add(&s, "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA hemoflow FROM %s", R);
        hf__sql_add(&s, "REVOKE ALL ON SCHEMA hemoflow FROM %s", R);
        hf__sql_add(&s, "GRANT USAGE ON SCHEMA hemoflow TO %s", R);
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *t = PQgetvalue(r, i, 0);
        char *T = PQescapeIdentifier(c, t, strlen(t));
        char *cur = hf_asprintf("%s_current", t);
        char *V = PQescapeIdentifier(c, cur, strlen(cur));
        if (!db)
            db = PQescapeIdentifier(c, PQgetvalue(r, i, 2), strlen(PQgetvalue(r, i, 2)));
        hf__sql_add(&s, "GRANT SELECT, INSERT ON hemoflow.%s TO %s", T, L);
        if (analyst_raw)
            hf__sql_add(&s, "GRANT SELECT ON hemoflow.%s TO %s", T, A);
        if (analyst_raw && PQgetvalue(r, i, 1)[0] == 't')
            hf__sql_add(&s, "GRANT SELECT ON hemoflow.%s TO %s", V, A);
        PQfreemem(T);
        PQfreemem(V);
        hf_free(cur);
    }
    hf__sql_add(&s, "GRANT INSERT ON hemoflow.hf_quarantine TO %s", L);
    hf__sql_add(&s, "GRANT USAGE ON SEQUENCE hemoflow.hf_quarantine_id_seq TO %s", L);
    /* 0005: the loader advances offsets only through hf_offsets_advance()
     * and writes the commit window only through hf_window_record(), both
     * run as the owner; nobody else changes hf_offsets (docs/security.md) */
    bool least = PQntuples(r) > 0 && PQgetvalue(r, 0, 4)[0] == 't';
    if (least) {
        hf__sql_add(&s, "GRANT SELECT ON hemoflow.hf_offsets TO %s", L);
        hf__sql_add(&s, "GRANT EXECUTE ON FUNCTION hemoflow.hf_offsets_advance(text, integer, "
                        "bigint, bigint) TO %s", L);
    } else {
        hf__sql_add(&s, "GRANT SELECT, INSERT, UPDATE ON hemoflow.hf_offsets TO %s", L);
    }
    hf__sql_add(&s, "GRANT SELECT, INSERT, UPDATE ON hemoflow.hf_completeness TO %s", L);
    hf__sql_add(&s, "GRANT SELECT ON hemoflow.hf_settings TO %s", L);
    /* the commit window (0002; absent from a sql_dir holding only 0001):
     * recorded by the loader, read by `hemoflow lag` */
    if (PQntuples(r) > 0 && PQgetvalue(r, 0, 3)[0] == 't') {
        hf__sql_add(&s, least ? "GRANT SELECT ON hemoflow.hf_commit_window TO %s"
                              : "GRANT SELECT, INSERT, UPDATE, DELETE ON hemoflow.hf_commit_window TO %s",
                    L);
        hf__sql_add(&s, "GRANT EXECUTE ON FUNCTION hemoflow.hf_window_record(text[], integer[], "
                        "bigint[], bigint[], integer, integer) TO %s", L);
    }
    hf__sql_add(&s, "GRANT EXECUTE ON FUNCTION hemoflow.hf_ensure_partition(text, text, date) "
                    "TO %s", L);
    if (analyst_raw) {
        hf__sql_add(&s, "GRANT SELECT ON hemoflow.hf_completeness TO %s", A);
        hf__sql_add(&s, "GRANT SELECT (id, topic, kafka_partition, kafka_offset, event_type, "
                        "fingerprint, reason_code, sqlstate, detail, quarantined_at) ON "
                        "hemoflow.hf_quarantine TO %s", A);
    }
    for (int i = 0; pub && i < PQntuples(pub); i++) {
        const char *t = PQgetvalue(pub, i, 0);
        char *T = PQescapeIdentifier(c, t, strlen(t));
        hf__sql_add(&s, "GRANT SELECT ON hemoflow.%s TO %s", T, A);
        PQfreemem(T);
    }
    if (db) {
        hf__sql_add(&s, "GRANT CONNECT, TEMPORARY ON DATABASE %s TO %s", db, L);
        hf__sql_add(&s, "GRANT CONNECT ON DATABASE %s TO %s", db, A);
    }
    hf__sql_add(&s, "COMMIT");
    hf_buf_append(&s, "", 1);
    PQclear(r);
    PQclear(pub);
    hf_err_t err = hf__pg_exec(c, (const char *)s.data, errstr, errstr_size);
    if (err) {
        PGresult *rb = PQexec(c, "ROLLBACK");
        PQclear(rb);
    }
    hf_buf_free(&s);
    PQfreemem(L);
    PQfreemem(A);
    PQfreemem(db);
    return err;
}

/* ==== migrate ==== */

/* Compare files with hf_schema_migrations; *pending_from = index of the
 * first file to apply. */
static hf_err_t hf__check_applied(PGconn *c, const hf__mlist_t *l, bool have_table,
                                  const char *dir, size_t *pending_from, int *db_version,
                                  char *errstr, size_t errstr_size)
{
    *pending_from = 0;
    *db_version = 0;
    if (!have_table)
        return HF_OK;
    PGresult *r = PQexec(c, "SELECT version, name, sha256 FROM hemoflow.hf_schema_migrations"
                            " ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        hf_err_t err = hf__pg_fail(c, r, "read hemoflow.hf_schema_migrations", NULL, errstr,
                                   errstr_size);
        PQclear(r);
        return err;
    }
    int newest_file = l->n ? l->v[l->n - 1].version : 0;
    bool *applied = hf_calloc(l->n + 1, sizeof(bool));
    hf_err_t err = HF_OK;
    for (int i = 0; i < PQntuples(r) && !err; i++) {
        int v = atoi(PQgetvalue(r, i, 0));
        const char *name = PQgetvalue(r, i, 1), *sha = PQgetvalue(r, i, 2);
        *db_version = v;
        const hf__mfile_t *m = NULL;
        for (size_t k = 0; k < l->n; k++) {
            if (l->v[k].version == v) {
                m = &l->v[k];
                applied[k] = true;
            }
        }
        if (!m && v > newest_file)
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                             "the database is at migration %04d_%s, newer than the newest this "
                             "hemoflow has in %s (%04d): upgrade hemoflow",
                             v, name, dir, newest_file);
        else if (!m)
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                             "applied migration %04d_%s is missing from %s", v, name, dir);
        else if (strcmp(m->sha, sha) != 0)
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                             "migration %s was changed after it was applied (sha256 applied %.12s, "
                             "file %.12s): restore it and put the change in a new migration",
                             m->file, sha, m->sha);
    }
    PQclear(r);
    size_t i = 0;
    while (!err && i < l->n && l->v[i].version <= *db_version) {
        /* Every file up to the newest applied one must be applied. */
        if (!applied[i])
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                             "migration %s is numbered below the applied %04d: renumber it "
                             "after the newest one",
                             l->v[i].file, *db_version);
        i++;
    }
    hf_free(applied);
    *pending_from = i;
    return err;
}

static hf_err_t hf__apply(PGconn *c, const hf__mfile_t *m, char *errstr, size_t errstr_size)
{
    hf_err_t err = hf__pg_exec(c, "BEGIN", errstr, errstr_size);
    if (err)
        return err;
    PGresult *r = PQexec(c, m->sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        err = hf__pg_fail(c, r, m->file, NULL, errstr, errstr_size);
        if (err == HF_ERR_PG_DATA)
            err = HF_ERR_PG;
    }
    PQclear(r);
    if (!err && PQtransactionStatus(c) != PQTRANS_INTRANS)
        err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                         "%s: a migration must not contain BEGIN/COMMIT/ROLLBACK", m->file);
    if (!err) {
        char v[16];
        snprintf(v, sizeof(v), "%d", m->version);
        const char *p[3] = {v, m->name, m->sha};
        r = PQexecParams(c, "INSERT INTO hemoflow.hf_schema_migrations (version, name, sha256)"
                            " VALUES ($1, $2, $3)",
                         3, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            err = hf__pg_fail(c, r, "record migration", NULL, errstr, errstr_size);
        PQclear(r);
    }
    if (!err)
        err = hf__pg_exec(c, "COMMIT", errstr, errstr_size);
    if (err) {
        r = PQexec(c, "ROLLBACK");
        PQclear(r);
    }
    return err;
}

static hf_err_t hf__settings(PGconn *c, const hf_config_t *cfg, char *errstr, size_t errstr_size)
{
    const char *want = hf_config_str(cfg, "warehouse.partition_granularity");
    const char *p[1] = {want};
    char have[16];
    hf_err_t err = hf__query1(c, "INSERT INTO hemoflow.hf_settings (key, value)"
                                 " VALUES ('partition_granularity', $1) ON CONFLICT DO NOTHING"
                                 " RETURNING value",
                              1, p, NULL, 0, NULL, errstr, errstr_size);
    if (!err)
        err = hf__query1(c, "SELECT value FROM hemoflow.hf_settings"
                            " WHERE key = 'partition_granularity'",
                         0, NULL, have, sizeof(have), NULL, errstr, errstr_size);
    if (!err && strcmp(have, want) != 0)
        err = hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                         "warehouse.partition_granularity is '%s' but this warehouse was created "
                         "with '%s'; it cannot change",
                         want, have);
    return err;
}

hf_err_t hf_migrate_run(const hf_config_t *cfg, bool dry_run, FILE *out, char *errstr,
                        size_t errstr_size)
{
    const char *dir = hf_config_str(cfg, "warehouse.sql_dir");
    const char *loader = hf_config_str(cfg, "warehouse.loader_role");
    const char *analyst = hf_config_str(cfg, "warehouse.analyst_role");
    if (!*loader || !*analyst || strcmp(loader, analyst) == 0)
        return hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                          "warehouse.loader_role and warehouse.analyst_role must be two "
                          "different, non-empty names");
    hf__mlist_t files = {0};
    hf_err_t err = hf__scan(dir, &files, errstr, errstr_size);
    if (err) {
        hf__mlist_free(&files);
        return err;
    }
    PGconn *c = NULL;
    err = hf__connect(cfg, &c, errstr, errstr_size);
    if (!err)
        err = hf__pg_exec(c, "SELECT pg_advisory_lock(" HF__MIGRATE_LOCK ")", errstr,
                          errstr_size);
    bool have_table = false;
    if (!err)
        err = hf__query1(c, "SELECT 1 WHERE to_regclass('hemoflow.hf_schema_migrations')"
                            " IS NOT NULL",
                         0, NULL, NULL, 0, &have_table, errstr, errstr_size);
    if (!err && !have_table && !dry_run) {
        err = hf__pg_exec(c, "CREATE SCHEMA IF NOT EXISTS hemoflow;"
                             " CREATE TABLE IF NOT EXISTS hemoflow.hf_schema_migrations ("
                             " version integer PRIMARY KEY, name text NOT NULL,"
                             " sha256 text NOT NULL,"
                             " applied_at timestamptz NOT NULL DEFAULT now())",
                          errstr, errstr_size);
        have_table = !err;
    }
    if (!err)
        err = hf__checksums(c, &files, errstr, errstr_size);
    size_t from = 0;
    int dbv = 0;
    if (!err)
        err = hf__check_applied(c, &files, have_table, dir, &from, &dbv, errstr, errstr_size);
    if (!err && from == files.n)
        hf__say(out, "schema up to date at version %04d", dbv);
    for (size_t i = from; !err && i < files.n; i++) {
        if (dry_run) {
            hf__say(out, "would apply %s (sha256 %.12s)", files.v[i].file, files.v[i].sha);
            continue;
        }
        err = hf__apply(c, &files.v[i], errstr, errstr_size);
        if (!err) {
            hf__say(out, "applied %s (sha256 %.12s)", files.v[i].file, files.v[i].sha);
            hf_log_info("migrate.applied", "file=%s sha256=%s", files.v[i].file, files.v[i].sha);
        }
    }
    if (!err && !dry_run) {
        err = hf__settings(c, cfg, errstr, errstr_size);
        if (!err)
            err = hf__ensure_role(c, loader, out, errstr, errstr_size);
        if (!err)
            err = hf__ensure_role(c, analyst, out, errstr, errstr_size);
        if (!err)
            err = hf__grant(c, loader, analyst, hf_config_bool(cfg, "warehouse.analyst_raw_access"),
                            errstr, errstr_size);
        if (!err)
            hf__say(out, "roles: %s (loader), %s (analyst%s) privileges set", loader, analyst,
                    hf_config_bool(cfg, "warehouse.analyst_raw_access") ? ", raw access" : "");
        if (!err)
            err = hf__ind_settings(c, cfg, errstr, errstr_size);
        if (!err)
            err = hf__partitions(cfg, c, (int)hf_config_int(cfg, "warehouse.partitions_ahead"),
                                 NULL, NULL, out, NULL, errstr, errstr_size);
    }
    if (c)
        PQfinish(c); /* also releases the advisory lock */
    hf__mlist_free(&files);
    return err;
}
