/*
 * hf_wh_batch — a batch of binary COPY rows, quarantine records and offset
 * ranges, and its commit: the one transaction that makes a batch visible
 * together with the offsets it covers (DESIGN decisions 6-8).
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
 *      order so concurrent loaders lock them in the same order; COMMIT.
 * Nothing in the batch changes during an attempt except per-row state that
 * the next attempt recomputes, so a failed commit can simply be repeated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_buf.h"
#include "hf_log.h"
#include "hf_wh_int.h"

/* ==== state ==== */

enum {
    HF__ROW_PENDING = 0,
    HF__ROW_INSERTED, /* by the fast COPY */
    HF__ROW_SLOW,     /* through staging + ON CONFLICT: inserted or a duplicate */
    HF__ROW_REJECTED, /* quarantined */
    HF__ROW_DUP,      /* the probe found its key in the warehouse: not sent */
};

typedef struct hf__row_s {
    size_t off;          /* tuple bytes in the table's data buffer */
    size_t raw_off;      /* message value in b->raw */
    uint32_t len, raw_len;
    uint32_t seq;        /* order added: a stable sort */
    uint32_t topic;      /* index into b->topics */
    int32_t partition;
    int32_t event_date;  /* days since 1970, station-local */
    int64_t offset;
    int64_t occurred_us;
    uint64_t fingerprint;
    char province[2];
    bool province_ok;
    uint8_t state;
} hf__row_t;

typedef struct hf__tbatch_s {
    hf_buf_t data;     /* binary COPY tuples, in the order added */
    hf__row_t *rows;
    size_t n, cap;
    size_t encode_rejects; /* rows the encoder turned into quarantine records */
    bool sorted;
} hf__tbatch_t;

typedef struct hf__quar_s {
    uint32_t topic;
    int32_t partition;
    int64_t offset;
    char *event_type;  /* owned, may be NULL */
    bool has_fp;
    uint64_t fp;
    char *reason;      /* owned */
    char sqlstate[6];
    char *detail;      /* owned, may be NULL */
    size_t raw_off, raw_len;
} hf__quar_t;

typedef struct hf__qlist_s {
    hf__quar_t *v;
    size_t n, cap;
} hf__qlist_t;

typedef struct hf__offs_s {
    uint32_t topic;
    int32_t partition;
    int64_t expected, next;
} hf__offs_t;

typedef struct hf__compl_s {
    size_t table;
    char province[2];
    int32_t event_date;
    int64_t events;
    int64_t max_us;
} hf__compl_t;

struct hf_wh_batch_s {
    hf_wh_t *wh;                     /* borrowed */
    hf__tbatch_t t[HF_WH_MAX_TABLES];
    char **topics;                   /* interned topic names, owned */
    size_t ntopics, topics_cap;
    hf_buf_t raw;                    /* message values */
    hf__qlist_t added;               /* quarantine records from add_* (kept across attempts) */
    hf__qlist_t rejected;            /* rows PostgreSQL refused in the current attempt */
    hf__offs_t *offs;
    size_t noffs, offs_cap;
    hf__compl_t *compl;              /* completeness of the current attempt */
    size_t ncompl, compl_cap;
    size_t nrows;
    hf_buf_t send;                   /* COPY chunk being assembled */
    uint32_t *pick;                  /* row indexes of one table to probe */
    size_t npick, pick_cap;
    hf_wh_stats_t st;                /* stats of the current attempt */
    bool committed;
    bool outcome_unknown;            /* the last COMMIT's reply was lost */
    bool stale_partition;            /* a cached partition turned out missing */
    bool allow_restart;              /* stale_partition may restart the commit */
};

#define HF__SEND_CHUNK (256 * 1024)

/* ==== small helpers ==== */

/* Replace bytes that are not valid UTF-8 (or are control characters other
 * than tab/newline) with '?', so a detail never makes its own INSERT fail. */
static char *hf__clean_text(const char *s)
{
    if (!s)
        return NULL;
    char *c = hf_strdup(s);
    unsigned char *p = (unsigned char *)c;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
                                                        : (*p & 0xf8) == 0xf0 ? 4 : 0;
        bool ok = n > 0 && !(n == 2 && *p < 0xc2) && !(n == 4 && *p > 0xf4);
        for (size_t i = 1; ok && i < n; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (n == 1 && *p < 0x20 && *p != '\t' && *p != '\n')
            ok = false;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
    return c;
}

static uint32_t hf__topic_index(hf_wh_batch_t *b, const char *topic)
{
    for (size_t i = 0; i < b->ntopics; i++)
        if (strcmp(b->topics[i], topic) == 0)
            return (uint32_t)i;
    if (b->ntopics == b->topics_cap) {
        b->topics_cap = b->topics_cap ? b->topics_cap * 2 : 8;
        b->topics = hf_realloc(b->topics, b->topics_cap * sizeof(char *));
    }
    b->topics[b->ntopics] = hf__clean_text(topic);
    return (uint32_t)b->ntopics++;
}

static void hf__qlist_clear(hf__qlist_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        hf_free(l->v[i].event_type);
        hf_free(l->v[i].reason);
        hf_free(l->v[i].detail);
    }
    l->n = 0;
}

static hf__quar_t *hf__qlist_push(hf__qlist_t *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = hf_realloc(l->v, l->cap * sizeof(hf__quar_t));
    }
    hf__quar_t *q = &l->v[l->n++];
    memset(q, 0, sizeof(*q));
    return q;
}

static size_t hf__raw_keep(hf_wh_batch_t *b, const void *raw, size_t len)
{
    size_t off = b->raw.len;
    if (len)
        hf_buf_append(&b->raw, raw, len);
    return off;
}

/* ==== lifecycle ==== */

hf_wh_batch_t *hf_wh_batch_new(hf_wh_t *wh)
{
    hf_wh_batch_t *b = hf_calloc(1, sizeof(*b));
    b->wh = wh;
    return b;
}

void hf_wh_batch_reset(hf_wh_batch_t *b)
{
    for (size_t i = 0; i < HF_WH_MAX_TABLES; i++) {
        hf_buf_reset(&b->t[i].data);
        b->t[i].n = 0;
        b->t[i].encode_rejects = 0;
        b->t[i].sorted = false;
    }
    for (size_t i = 0; i < b->ntopics; i++)
        hf_free(b->topics[i]);
    b->ntopics = 0;
    hf_buf_reset(&b->raw);
    hf__qlist_clear(&b->added);
    hf__qlist_clear(&b->rejected);
    b->noffs = 0;
    b->ncompl = 0;
    b->nrows = 0;
    b->committed = false;
    b->outcome_unknown = false;
    b->stale_partition = false;
    memset(&b->st, 0, sizeof(b->st));
}

void hf_wh_batch_destroy(hf_wh_batch_t *b)
{
    if (!b)
        return;
    hf_wh_batch_reset(b);
    for (size_t i = 0; i < HF_WH_MAX_TABLES; i++) {
        hf_buf_free(&b->t[i].data);
        hf_free(b->t[i].rows);
    }
    hf_free(b->topics);
    hf_buf_free(&b->raw);
    hf_free(b->added.v);
    hf_free(b->rejected.v);
    hf_free(b->offs);
    hf_free(b->compl);
    hf_buf_free(&b->send);
    hf_free(b->pick);
    hf_free(b);
}

size_t hf_wh_batch_rows(const hf_wh_batch_t *b)
{
    return b->nrows;
}

size_t hf_wh_batch_bytes(const hf_wh_batch_t *b)
{
    size_t n = b->raw.len + b->added.n * sizeof(hf__quar_t);
    for (size_t i = 0; i < HF_WH_MAX_TABLES; i++)
        n += b->t[i].data.len + b->t[i].n * sizeof(hf__row_t);
    return n;
}

/* ==== filling ==== */

static hf_err_t hf__add_quar(hf_wh_batch_t *b, const char *topic, int32_t partition,
                             int64_t offset, const char *event_type, bool has_fp, uint64_t fp,
                             const char *reason, const char *sqlstate, const char *detail,
                             const void *raw, size_t raw_len)
{
    hf__quar_t *q = hf__qlist_push(&b->added);
    q->topic = hf__topic_index(b, topic);
    q->partition = partition;
    q->offset = offset;
    q->event_type = hf__clean_text(event_type);
    q->has_fp = has_fp;
    q->fp = fp;
    q->reason = hf__clean_text(reason);
    snprintf(q->sqlstate, sizeof(q->sqlstate), "%s", sqlstate ? sqlstate : "");
    q->detail = hf__clean_text(detail);
    q->raw_off = hf__raw_keep(b, raw, raw_len);
    q->raw_len = raw_len;
    return HF_OK;
}

hf_err_t hf_wh_batch_add_quarantine(hf_wh_batch_t *b, const hf_wh_quarantine_t *q, char *errstr,
                                    size_t errstr_size)
{
    if (b->committed)
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "batch committed: reset it first");
    if (!q || !q->topic || !q->reason_code || !*q->reason_code || (!q->raw && q->raw_len))
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size,
                          "quarantine record needs topic, reason_code and raw bytes");
    return hf__add_quar(b, q->topic, q->partition, q->offset, q->event_type, q->has_fingerprint,
                        q->fingerprint, q->reason_code, q->sqlstate, q->detail, q->raw,
                        q->raw_len);
}

hf_err_t hf_wh_batch_add_event(hf_wh_batch_t *b, const hf_decoded_t *ev, const char *topic,
                               int32_t partition, int64_t offset, const void *raw, size_t raw_len,
                               char *errstr, size_t errstr_size)
{
    if (b->committed)
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "batch committed: reset it first");
    if (!ev || !ev->value || !ev->event_type || !topic || (!raw && raw_len))
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "add_event: missing argument");
    if (raw_len > UINT32_MAX)
        return hf_err_set(HF_ERR_OVERSIZE, errstr, errstr_size, "message larger than 4 GiB");
    hf_wh_t *wh = b->wh;
    size_t ti = 0;
    while (ti < wh->ntables && wh->tables[ti].et != ev->event_type &&
           strcmp(wh->tables[ti].et->name, ev->event_type->name) != 0)
        ti++;
    if (ti == wh->ntables)
        return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size, "unknown event type %s",
                          ev->event_type->name);
    const hf__table_t *tab = &wh->tables[ti];
    hf__tbatch_t *tb = &b->t[ti];
    hf__rowkey_t key;
    char sqlstate[6], why[256];
    size_t before = tb->data.len;
    hf__enc_t r = hf__wh_encode_row(tab, ev->value, partition, offset, &tb->data, &key, sqlstate,
                                    why, sizeof(why));
    if (r == HF__ENC_SHAPE)
        return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size, "%s", why);
    b->nrows++;
    if (r == HF__ENC_DATA) {
        /* What PostgreSQL would refuse anyway: quarantine it here. */
        tb->encode_rejects++;
        hf_log_warn("warehouse.row_rejected", "topic=%s partition=%d offset=%lld sqlstate=%s "
                    "reason=\"%s\"", topic, (int)partition, (long long)offset, sqlstate, why);
        return hf__add_quar(b, topic, partition, offset, tab->et->name, true, ev->fingerprint,
                            sqlstate[0] == '2' && sqlstate[1] == '3' ? "pg_constraint" : "pg_data",
                            sqlstate, why, raw, raw_len);
    }
    if (tb->data.len - before > UINT32_MAX) {
        tb->data.len = before;
        return hf_err_set(HF_ERR_OVERSIZE, errstr, errstr_size, "row larger than 4 GiB");
    }
    if (tb->n == tb->cap) {
        tb->cap = tb->cap ? tb->cap * 2 : 1024;
        tb->rows = hf_realloc(tb->rows, tb->cap * sizeof(hf__row_t));
    }
    hf__row_t *row = &tb->rows[tb->n];
    row->off = before;
    row->len = (uint32_t)(tb->data.len - before);
    row->seq = (uint32_t)tb->n;
    row->topic = hf__topic_index(b, topic);
    row->partition = partition;
    row->offset = offset;
    row->event_date = key.event_date;
    row->occurred_us = key.occurred_us;
    row->fingerprint = ev->fingerprint;
    row->province[0] = key.province[0];
    row->province[1] = key.province[1];
    row->province_ok = key.province_ok;
    row->state = HF__ROW_PENDING;
    row->raw_off = hf__raw_keep(b, raw, raw_len);
    row->raw_len = (uint32_t)raw_len;
    tb->n++;
    tb->sorted = false;
    return HF_OK;
}

hf_err_t hf_wh_batch_set_offsets(hf_wh_batch_t *b, const char *topic, int32_t partition,
                                 int64_t expected_next, int64_t new_next, char *errstr,
                                 size_t errstr_size)
{
    if (b->committed)
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "batch committed: reset it first");
    if (!topic || new_next < 0 || expected_next < -1)
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size,
                          "offsets: need a topic, new_next >= 0 and expected_next >= -1 (got "
                          "%lld, %lld)", (long long)new_next, (long long)expected_next);
    uint32_t ti = hf__topic_index(b, topic);
    for (size_t i = 0; i < b->noffs; i++) {
        if (b->offs[i].topic == ti && b->offs[i].partition == partition) {
            b->offs[i].expected = expected_next;
            b->offs[i].next = new_next;
            return HF_OK;
        }
    }
    if (b->noffs == b->offs_cap) {
        b->offs_cap = b->offs_cap ? b->offs_cap * 2 : 8;
        b->offs = hf_realloc(b->offs, b->offs_cap * sizeof(hf__offs_t));
    }
    b->offs[b->noffs++] = (hf__offs_t){ti, partition, expected_next, new_next};
    return HF_OK;
}

/* ==== sorting and partitions ==== */

static int hf__row_cmp(const void *a, const void *b)
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

static bool hf__row_partitionable(const hf__row_t *r)
{
    return r->province_ok && r->event_date >= HF__DAY_MIN && r->event_date <= HF__DAY_MAX;
}

/* Create the partitions of pending rows the cache does not know. Rows are
 * sorted, so one table-province group is contiguous. */
static hf_err_t hf__ensure_partitions(hf_wh_batch_t *b, char *errstr, size_t errstr_size)
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

/* ==== completeness ==== */

static void hf__compl_add(hf_wh_batch_t *b, size_t ti, const char prov[2], int32_t date,
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
static void hf__compl_rows(hf_wh_batch_t *b, size_t ti, size_t lo, size_t hi)
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
        char tmp[48];
        hf_buf_append(&p, sep, 1);
        hf__pg_array_text(&p, c->province, 2);
        hf_buf_append(&e, sep, 1);
        const char *name = b->wh->tables[c->table].et->name;
        hf__pg_array_text(&e, name, strlen(name));
        int len = snprintf(tmp, sizeof(tmp), "%s%d", sep, (int)c->event_date);
        hf_buf_append(&d, tmp, (size_t)len);
        len = snprintf(tmp, sizeof(tmp), "%s%lld", sep, (long long)c->events);
        hf_buf_append(&n, tmp, (size_t)len);
        len = snprintf(tmp, sizeof(tmp), "%s%lld", sep, (long long)c->max_us);
        hf_buf_append(&m, tmp, (size_t)len);
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

/* ==== duplicates: the seen filter and the probe ==== */

/* The COPY column of event_id (1 + its field index), or -1. */
static int hf__id_col(const hf__table_t *tab)
{
    for (size_t i = 0; i < tab->nfields; i++)
        if (tab->fields[i].kind == HF__COL_UUID && strcmp(tab->fields[i].name, "event_id") == 0)
            return (int)i + 1;
    return -1;
}

/* The 16 bytes of a row's event_id inside its COPY tuple (int16 column
 * count, then per column an int32 length and the bytes), or NULL. */
static const unsigned char *hf__row_id(const hf__tbatch_t *tb, const hf__row_t *r, int col)
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

static inline uint64_t hf__mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

/* Hash of a row's primary key (and its table). */
static uint64_t hf__key_hash(size_t ti, const hf__row_t *r, const unsigned char *id)
{
    uint64_t a, c;
    memcpy(&a, id, 8);
    memcpy(&c, id + 8, 8);
    uint64_t h = (uint64_t)(ti + 1) << 48 | (uint64_t)(unsigned char)r->province[0] << 40 |
                 (uint64_t)(unsigned char)r->province[1] << 32 | (uint32_t)r->event_date;
    h = hf__mix64(h ^ UINT64_C(0x9e3779b97f4a7c15));
    h = hf__mix64(h ^ a);
    return hf__mix64(h ^ c);
}

/* Split-block Bloom filter (as in Parquet): a key sets one bit in each of
 * the 8 words of one 32-byte block, so a lookup is one cache line. */
static const uint32_t hf__salt[8] = {0x47b6137bU, 0x44974d91U, 0x8824ad5bU, 0xa2b7289dU,
                                     0x705495c7U, 0x2df1424bU, 0x9efc4947U, 0x5c6bfb31U};

static bool hf__seen_has(const hf__wh_seen_t *s, uint64_t h)
{
    size_t blk = (size_t)(h >> 32) & (HF__SEEN_BLOCKS - 1);
    uint32_t x = (uint32_t)h;
    for (int g = 0; g < 2; g++) {
        if (!s->n[g])
            continue;
        const uint32_t *w = s->bits[g][blk];
        bool all = true;
        for (int i = 0; i < 8 && all; i++)
            all = w[i] >> ((x * hf__salt[i]) >> 27) & 1;
        if (all)
            return true;
    }
    return false;
}

static void hf__seen_add(hf__wh_seen_t *s, uint64_t h)
{
    if (s->n[s->cur] >= HF__SEEN_CAP) {
        s->cur ^= 1;
        memset(s->bits[s->cur], 0, sizeof(s->bits[s->cur]));
        s->n[s->cur] = 0;
    }
    uint32_t *w = s->bits[s->cur][(size_t)(h >> 32) & (HF__SEEN_BLOCKS - 1)];
    uint32_t x = (uint32_t)h;
    for (int i = 0; i < 8; i++)
        w[i] |= UINT32_C(1) << ((x * hf__salt[i]) >> 27);
    s->n[s->cur]++;
}

/* After COMMIT: the keys of every row now in the warehouse. */
static void hf__seen_remember(hf_wh_batch_t *b)
{
    hf_wh_t *wh = b->wh;
    for (size_t ti = 0; ti < wh->ntables; ti++) {
        const hf__tbatch_t *tb = &b->t[ti];
        int col = tb->n ? hf__id_col(&wh->tables[ti]) : -1;
        for (size_t i = 0; col >= 0 && i < tb->n; i++) {
            const hf__row_t *r = &tb->rows[i];
            if (r->state == HF__ROW_PENDING || r->state == HF__ROW_REJECTED)
                continue;
            const unsigned char *id = hf__row_id(tb, r, col);
            if (id)
                hf__seen_add(&wh->seen, hf__key_hash(ti, r, id));
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
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            char what[96];
            snprintf(what, sizeof(what), "duplicate probe of %s", snake);
            err = hf__pg_fail(wh->conn, r, what, NULL, errstr, errstr_size);
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
static hf_err_t hf__load_range(hf_wh_batch_t *b, size_t ti, size_t lo, size_t hi, char *errstr,
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

/* Compare-and-set every offsets range; HF_ERR_CONFLICT when one lost. */
static hf_err_t hf__cas_offsets(hf_wh_batch_t *b, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < b->noffs; i++) {
        const hf__offs_t *o = &b->offs[i];
        char part[16], exp[24], next[24];
        snprintf(part, sizeof(part), "%d", (int)o->partition);
        snprintf(exp, sizeof(exp), "%lld", (long long)o->expected);
        snprintf(next, sizeof(next), "%lld", (long long)o->next);
        const char *topic = b->topics[o->topic];
        PGresult *r;
        if (o->expected < 0) {
            const char *p[3] = {topic, part, next};
            r = PQexecParams(b->wh->conn,
                             "INSERT INTO hemoflow.hf_offsets (topic, kafka_partition, "
                             "next_offset, updated_at) VALUES ($1, $2, $3, now())"
                             " ON CONFLICT (topic, kafka_partition) DO NOTHING",
                             3, NULL, p, NULL, NULL, 0);
        } else {
            const char *p[4] = {topic, part, next, exp};
            r = PQexecParams(b->wh->conn,
                             "UPDATE hemoflow.hf_offsets SET next_offset = $3, updated_at = now()"
                             " WHERE topic = $1 AND kafka_partition = $2 AND next_offset = $4",
                             4, NULL, p, NULL, NULL, 0);
        }
        hf_err_t err = HF_OK;
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            err = hf__pg_fail(b->wh->conn, r, "offsets compare-and-set", NULL, errstr,
                              errstr_size);
            if (err == HF_ERR_PG_DATA)
                err = HF_ERR_PG;
        } else if (strcmp(PQcmdTuples(r), "1") != 0) {
            err = hf_err_set(HF_ERR_CONFLICT, errstr, errstr_size,
                             "offsets of %s [%d] are no longer %lld: the partition is owned by "
                             "another instance",
                             topic, (int)o->partition, (long long)o->expected);
        }
        PQclear(r);
        if (err)
            return err;
    }
    return HF_OK;
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
    for (size_t ti = 0; ti < wh->ntables && !err; ti++)
        if (b->t[ti].n)
            err = hf__load_range(b, ti, 0, b->t[ti].n, errstr, errstr_size);
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
        if (lost)
            b->outcome_unknown = true;
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
            if (stats)
                *stats = b->st;
            return HF_OK;
        }
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
    if (stats)
        *stats = b->st;
    hf_log_debug("warehouse.committed", "rows=%zu inserted=%zu duplicates=%zu rejected=%zu "
                 "quarantined=%zu", b->st.rows, b->st.inserted, b->st.duplicates, b->st.rejected,
                 b->st.quarantined);
    return HF_OK;
}
