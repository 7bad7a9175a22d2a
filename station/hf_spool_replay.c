/*
 * hf_spool_replay — the cursor over a spool's unacknowledged records, oldest
 * first, streamed from disk one record at a time (hf_spool_cursor_*). Records
 * acknowledged while a cursor is open are skipped when it reaches them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "hf_log.h"
#include "hf_mem.h"
#include "hf_spool.h"
#include "hf_spool_int.h"

hf_spool_cursor_t *hf_spool_cursor_new(hf_spool_t *sp)
{
    hf_spool_cursor_t *c = hf_calloc(1, sizeof(*c));
    c->sp = sp;
    c->fd = -1;
    c->dctx = ZSTD_createDCtx();
    if (!c->dctx) {
        hf_log_error("spool.oom", "msg=\"ZSTD_createDCtx failed\"");
        abort();
    }
    sp->cursors++;
    return c;
}

void hf_spool_cursor_destroy(hf_spool_cursor_t *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    c->sp->cursors--;
    ZSTD_freeDCtx(c->dctx);
    hf_buf_free(&c->comp);
    hf_buf_free(&c->raw);
    hf_free(c);
}

static hf__seg_t *hf__seg_by_first(const hf_spool_t *sp, uint64_t first)
{
    hf__seg_t *s = hf__find_seg(sp, first);
    return s && s->first == first ? s : NULL;
}

static hf__seg_t *hf__seg_at_or_after(const hf_spool_t *sp, uint64_t first)
{
    for (size_t i = 0; i < sp->nsegs; i++) /* segment counts are small */
        if (sp->segs[i].first >= first)
            return &sp->segs[i];
    return NULL;
}

static hf_err_t hf__cursor_fail(hf_spool_cursor_t *c, hf_err_t code, char *errstr,
                                size_t errstr_size, const char *what)
{
    char *path = hf__path(c->sp, c->seg_first, "seg");
    hf_err_set(code, errstr, errstr_size, "spool %s: offset %" PRIu64 ": %s", path, c->off, what);
    hf_free(path);
    return code;
}

hf_err_t hf_spool_cursor_next(hf_spool_cursor_t *c, hf_spool_rec_t *out, char *errstr,
                              size_t errstr_size)
{
    hf_spool_t *sp = c->sp;
    for (;;) {
        hf__seg_t *s = c->fd >= 0 ? hf__seg_by_first(sp, c->seg_first) : NULL;
        if (c->fd >= 0 && (!s || c->seq >= s->first + s->count)) {
            /* segment deleted (all acked) or read to its end */
            if (s && s == &sp->segs[sp->nsegs - 1])
                return HF_ERR_NOT_FOUND; /* the newest: more may be appended later */
            close(c->fd);
            c->fd = -1;
            c->after = c->seg_first + 1;
            continue;
        }
        if (c->fd < 0) {
            s = hf__seg_at_or_after(sp, c->after);
            if (!s)
                return HF_ERR_NOT_FOUND;
            char *path = hf__path(sp, s->first, "seg");
            c->fd = open(path, O_RDONLY | O_CLOEXEC);
            if (c->fd < 0) {
                hf_err_t e = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: open: %s",
                                        path, strerror(errno));
                hf_free(path);
                return e;
            }
            hf_free(path);
            c->seg_first = s->first;
            c->off = HF__SEG_HDR;
            c->seq = s->first;
            continue;
        }
        uint8_t hdr[HF__REC_HDR];
        ssize_t r = hf__pread_full(c->fd, hdr, HF__REC_HDR, c->off);
        if (r != HF__REC_HDR)
            return hf__cursor_fail(c, HF_ERR_IO, errstr, errstr_size,
                                   r < 0 ? strerror(errno) : "record header cut short");
        uint32_t crc = hf__get32(hdr), comp_len = hf__get32(hdr + 4), raw_len = hf__get32(hdr + 8);
        uint64_t seq = hf__get64(hdr + 12);
        if (!hf__comp_len_ok(comp_len, raw_len) || seq != c->seq)
            return hf__cursor_fail(c, HF_ERR_DECODE, errstr, errstr_size,
                                   "corrupt record header");
        uint64_t here = c->off;
        if (hf__bit(s, seq - s->first)) { /* acknowledged: skip without reading the body */
            c->off += HF__REC_HDR + comp_len;
            c->seq++;
            continue;
        }
        hf_buf_reset(&c->comp);
        hf_buf_reserve(&c->comp, comp_len);
        if (hf__pread_full(c->fd, c->comp.data, comp_len, c->off + HF__REC_HDR) !=
            (ssize_t)comp_len)
            return hf__cursor_fail(c, HF_ERR_IO, errstr, errstr_size, "record cut short");
        if (hf_spool_crc32(hf_spool_crc32(0, hdr + 4, HF__REC_HDR - 4), c->comp.data, comp_len) !=
            crc)
            return hf__cursor_fail(c, HF_ERR_DECODE, errstr, errstr_size,
                                   "record checksum mismatch");
        hf_buf_reset(&c->raw);
        hf_buf_reserve(&c->raw, (size_t)raw_len + 2);
        size_t n = ZSTD_decompressDCtx(c->dctx, c->raw.data, raw_len, c->comp.data, comp_len);
        if (ZSTD_isError(n) || n != raw_len)
            return hf__cursor_fail(c, HF_ERR_DECODE, errstr, errstr_size,
                                   "record does not decompress to its stated length");
        uint8_t *p = c->raw.data;
        uint32_t tl = hf__get32(p), kl = hf__get32(p + 4);
        if ((uint64_t)tl + kl > raw_len - 8)
            return hf__cursor_fail(c, HF_ERR_DECODE, errstr, errstr_size,
                                   "record field lengths exceed the record");
        /* NUL-terminate topic and key in place: shift them by one byte each
         * would cost a copy; instead copy topic+key into comp (free now). */
        hf_buf_reset(&c->comp);
        hf_buf_append(&c->comp, p + 8, tl);
        hf_buf_append(&c->comp, "", 1);
        hf_buf_append(&c->comp, p + 8 + tl, kl);
        hf_buf_append(&c->comp, "", 1);
        out->seq = seq;
        out->topic = (const char *)c->comp.data;
        out->key = (const char *)c->comp.data + tl + 1;
        out->key_len = kl;
        out->payload = p + 8 + tl + kl;
        out->len = raw_len - 8 - tl - kl;
        c->off = here + HF__REC_HDR + comp_len;
        c->seq++;
        return HF_OK;
    }
}
