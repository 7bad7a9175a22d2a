/*
 * hf_wh_batch — a batch of binary COPY rows, quarantine records and offset
 * ranges (DESIGN decisions 6-8): its lifecycle and filling it. Committing
 * it is hf_wh_commit.c; the state is in hf_wh_batch_int.h.
 */
#include "hf_warehouse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_buf.h"
#include "hf_log.h"
#include "hf_wh_batch_int.h"

/* ==== small helpers ==== */

/* Replace bytes that are not valid UTF-8 (or are control characters other
 * than tab/newline) with '?', so a detail never makes its own INSERT fail. */
char *hf__clean_text(const char *s)
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

uint32_t hf__topic_index(hf_wh_batch_t *b, const char *topic)
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

void hf__qlist_clear(hf__qlist_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        hf_free(l->v[i].event_type);
        hf_free(l->v[i].reason);
        hf_free(l->v[i].detail);
    }
    l->n = 0;
}

hf__quar_t *hf__qlist_push(hf__qlist_t *l)
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
    b->nwin = 0;
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
    hf_free(b->win);
    hf_free(b->compl);
    hf_free(b->slowlat);
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

hf_err_t hf_wh_batch_add_event(hf_wh_batch_t *b, const hf_decoded_t *ev, const hf_norm_t *key,
                               const char *topic, int32_t partition, int64_t offset,
                               const void *raw, size_t raw_len, char *errstr, size_t errstr_size)
{
    if (b->committed)
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "batch committed: reset it first");
    if (!ev || !ev->value || !ev->event_type || !key || !topic || (!raw && raw_len))
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
    char sqlstate[6], why[256];
    size_t before = tb->data.len;
    hf__enc_t r = hf__wh_encode_row(tab, ev->value, key->event_date, partition, offset, &tb->data,
                                    sqlstate, why, sizeof(why));
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
    row->event_date = key->event_date;
    row->occurred_us = key->occurred_at_us;
    row->fingerprint = ev->fingerprint;
    row->province[0] = key->province[0];
    row->province[1] = key->province[1];
    /* hf_normalize lets only known provinces through; a key from elsewhere
     * whose province cannot have a partition goes to PostgreSQL anyway,
     * which refuses it (23514) and the row is quarantined. */
    row->province_ok = key->province[0] >= '0' && key->province[0] <= '9' &&
                       key->province[1] >= '0' && key->province[1] <= '9' &&
                       key->province[2] == '\0';
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
