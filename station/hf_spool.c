/*
 * hf_spool — segment files, acknowledgement logs, crash recovery and replay
 * of the station's durable spool.
 *
 * On disk (all integers little-endian; docs/spool.md has the full story):
 *
 *   <dir>/LOCK                 flock()ed by the process that has the spool open
 *   <dir>/<first_seq:%020>.seg segment: 16-byte header "HFSPOOL1" + u64 first_seq,
 *                              then records back to back:
 *       u32 crc      CRC-32 of bytes 4.. of the header and of the data
 *       u32 comp_len bytes of zstd data that follow the 20-byte header
 *       u32 raw_len  bytes of the decompressed record
 *       u64 seq      first_seq + index of the record in the segment
 *       comp_len bytes: one zstd frame of
 *                    u32 topic_len, u32 key_len, topic, key, payload
 *   <dir>/<first_seq:%020>.ack ack log: 12-byte entries u64 seq + u32 CRC-32(seq)
 *
 * Each record is compressed on its own so that an append is durable by
 * itself and a torn write can only damage the last record. Only the newest
 * segment may end in a torn record; it is truncated on open. Anything else
 * that does not check out is reported with the file and offset.
 */
#include "hf_spool.h"
#include "hf_spool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "hf_log.h"
#include "hf_mem.h"

/* ==== small helpers ==== */

/* zlib's crc32_z() is the same CRC-32 (ISO-HDLC, reflected 0xEDB88320) as the
 * nibble table this file used to carry, so segments and ack logs written by
 * either read back with the other; tests/unit/test_spool.c checks the
 * standard check value. */
uint32_t hf_spool_crc32(uint32_t crc, const void *p, size_t n)
{
    return (uint32_t)crc32_z(crc, p, n);
}

/* pread exactly n bytes; returns bytes read (< n only at EOF) or -1. */
ssize_t hf__pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int hf__pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

/* ==== segments ==== */

char *hf__path(const hf_spool_t *sp, uint64_t first, const char *ext)
{
    return hf_asprintf("%s/%020" PRIu64 ".%s", sp->dir, first, ext);
}

hf__seg_t *hf__find_seg(const hf_spool_t *sp, uint64_t seq)
{
    size_t lo = 0, hi = sp->nsegs;
    while (lo < hi) { /* last segment with first <= seq */
        size_t mid = lo + (hi - lo) / 2;
        if (sp->segs[mid].first <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    hf__seg_t *s = &sp->segs[lo - 1];
    return seq < s->first + s->count ? s : NULL;
}

void hf__bits_grow(hf__seg_t *s, uint64_t nrec)
{
    size_t need = (size_t)((nrec + 7) / 8);
    if (need <= s->bits_len)
        return;
    size_t n = s->bits_len ? s->bits_len : 64;
    while (n < need)
        n *= 2;
    s->bits = hf_realloc(s->bits, n);
    memset(s->bits + s->bits_len, 0, n - s->bits_len);
    s->bits_len = n;
}

static bool hf__is_active(const hf_spool_t *sp, const hf__seg_t *s)
{
    return sp->wfd >= 0 && s == &sp->segs[sp->nsegs - 1];
}

hf__seg_t *hf__push_seg(hf_spool_t *sp, uint64_t first)
{
    if (sp->nsegs == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 16;
        sp->segs = hf_realloc(sp->segs, sp->cap * sizeof(*sp->segs));
    }
    hf__seg_t *s = &sp->segs[sp->nsegs++];
    memset(s, 0, sizeof(*s));
    s->first = first;
    s->ack_fd = -1;
    return s;
}

/* Remove segment files and the array entry. Deletion need not be durable:
 * a resurrected segment is fully acknowledged or only replays duplicates. */
static void hf__drop_seg(hf_spool_t *sp, hf__seg_t *s)
{
    char *p = hf__path(sp, s->first, "seg");
    if (unlink(p) != 0 && errno != ENOENT)
        hf_log_warn("spool.unlink", "file=%s err=\"%s\"", p, strerror(errno));
    hf_free(p);
    p = hf__path(sp, s->first, "ack");
    if (unlink(p) != 0 && errno != ENOENT)
        hf_log_warn("spool.unlink", "file=%s err=\"%s\"", p, strerror(errno));
    hf_free(p);
    if (s->ack_fd >= 0)
        close(s->ack_fd);
    hf_free(s->bits);
    sp->pending -= s->count - s->acked;
    size_t i = (size_t)(s - sp->segs);
    memmove(&sp->segs[i], &sp->segs[i + 1], (sp->nsegs - i - 1) * sizeof(*s));
    sp->nsegs--;
}

static void hf__drop_done(hf_spool_t *sp)
{
    for (size_t i = 0; i < sp->nsegs;) {
        hf__seg_t *s = &sp->segs[i];
        if (s->acked == s->count && i + 1 < sp->nsegs)
            hf__drop_seg(sp, s);
        else
            i++;
    }
}

/* ==== lifecycle ==== */

hf_spool_t *hf_spool_open(const char *dir, const hf_spool_opts_t *opts, hf_err_t *err_out,
                          char *errstr, size_t errstr_size)
{
    hf_err_t err = HF_OK;
    if (err_out)
        *err_out = HF_OK;
    if (!dir || !*dir) {
        hf_err_set(HF_ERR_CONFIG, errstr, errstr_size, "spool: no folder configured");
        if (err_out)
            *err_out = HF_ERR_CONFIG;
        return NULL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: mkdir: %s", dir, strerror(errno));
        if (err_out)
            *err_out = HF_ERR_IO;
        return NULL;
    }
    hf_spool_t *sp = hf_calloc(1, sizeof(*sp));
    sp->dir = hf_strdup(dir);
    sp->dir_fd = -1;
    sp->lock_fd = -1;
    sp->wfd = -1;
    sp->seg_bytes = opts && opts->segment_bytes ? opts->segment_bytes : 16u << 20;
    sp->level = opts && opts->zstd_level ? opts->zstd_level : 1;
    sp->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dir_fd < 0) {
        err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: open: %s", dir,
                         strerror(errno));
        goto fail;
    }
    char *lock = hf_asprintf("%s/LOCK", dir);
    sp->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (sp->lock_fd < 0) {
        err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: open: %s", lock,
                         strerror(errno));
        hf_free(lock);
        goto fail;
    }
    if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        err = hf_err_set(errno == EWOULDBLOCK ? HF_ERR_BUSY : HF_ERR_IO, errstr, errstr_size,
                         "spool %s: %s", lock,
                         errno == EWOULDBLOCK ? "in use by another hemoflow process"
                                              : strerror(errno));
        hf_free(lock);
        goto fail;
    }
    hf_free(lock);
    if ((err = hf__scan_dir(sp, errstr, errstr_size)))
        goto fail;
    sp->next_seq = sp->nsegs ? sp->segs[sp->nsegs - 1].first + sp->segs[sp->nsegs - 1].count : 1;
    hf__drop_done(sp);
    sp->cctx = ZSTD_createCCtx();
    if (!sp->cctx) {
        err = hf_err_set(HF_ERR_INTERNAL, errstr, errstr_size, "spool: ZSTD_createCCtx failed");
        goto fail;
    }
    return sp;
fail:
    if (err_out)
        *err_out = err;
    hf_spool_close(sp);
    return NULL;
}

void hf_spool_close(hf_spool_t *sp)
{
    if (!sp)
        return;
    if (sp->cursors)
        hf_log_error("spool.bug", "msg=\"spool closed with %u open cursors\"", sp->cursors);
    char err[256];
    if (sp->lock_fd >= 0 && hf_spool_sync(sp, err, sizeof(err)) != HF_OK)
        hf_log_error("spool.sync", "msg=\"%s\"", err);
    for (size_t i = 0; i < sp->nsegs; i++) {
        if (sp->segs[i].ack_fd >= 0)
            close(sp->segs[i].ack_fd);
        hf_free(sp->segs[i].bits);
    }
    hf_free(sp->segs);
    if (sp->wfd >= 0)
        close(sp->wfd);
    if (sp->dir_fd >= 0)
        close(sp->dir_fd);
    if (sp->lock_fd >= 0)
        close(sp->lock_fd); /* releases the flock */
    ZSTD_freeCCtx(sp->cctx);
    hf_buf_free(&sp->raw);
    hf_buf_free(&sp->rec);
    hf_free(sp->dir);
    hf_free(sp);
}

/* ==== writing ==== */

static hf_err_t hf__new_segment(hf_spool_t *sp, char *errstr, size_t errstr_size)
{
    if (sp->wfd >= 0) {
        if (sp->w_dirty && fdatasync(sp->wfd) != 0)
            return hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: fsync: %s", sp->dir,
                              strerror(errno));
        close(sp->wfd);
        sp->wfd = -1;
        sp->w_dirty = false;
    }
    char *path = hf__path(sp, sp->next_seq, "seg");
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        hf_err_t e = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: create: %s", path,
                                strerror(errno));
        hf_free(path);
        return e;
    }
    uint8_t hdr[HF__SEG_HDR];
    memcpy(hdr, HF__SEG_MAGIC, 8);
    hf__put64(hdr + 8, sp->next_seq);
    if (hf__pwrite_full(fd, hdr, sizeof(hdr), 0) != 0 || fsync(fd) != 0 ||
        fsync(sp->dir_fd) != 0) {
        hf_err_t e = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: write: %s", path,
                                strerror(errno));
        close(fd);
        unlink(path);
        hf_free(path);
        return e;
    }
    hf_free(path);
    hf__seg_t *s = hf__push_seg(sp, sp->next_seq);
    s->size = HF__SEG_HDR;
    sp->wfd = fd;
    hf__drop_done(sp);
    return HF_OK;
}

hf_err_t hf_spool_append(hf_spool_t *sp, const char *topic, const void *key, size_t key_len,
                         const void *payload, size_t len, bool sync, uint64_t *seq_out,
                         char *errstr, size_t errstr_size)
{
    size_t tl = strlen(topic);
    if (tl > HF_SPOOL_RECORD_MAX || key_len > HF_SPOOL_RECORD_MAX || len > HF_SPOOL_RECORD_MAX ||
        tl + key_len + len > HF_SPOOL_RECORD_MAX)
        return hf_err_set(HF_ERR_OVERSIZE, errstr, errstr_size,
                          "spool: record of %zu bytes exceeds the %u-byte limit",
                          tl + key_len + len, HF_SPOOL_RECORD_MAX);
    hf_err_t err;
    if (sp->wfd < 0 || sp->segs[sp->nsegs - 1].size >= sp->seg_bytes)
        if ((err = hf__new_segment(sp, errstr, errstr_size)))
            return err;
    hf__seg_t *s = &sp->segs[sp->nsegs - 1];

    uint8_t lens[8];
    hf__put32(lens, (uint32_t)tl);
    hf__put32(lens + 4, (uint32_t)key_len);
    hf_buf_reset(&sp->raw);
    hf_buf_append(&sp->raw, lens, 8);
    hf_buf_append(&sp->raw, topic, tl);
    if (key_len)
        hf_buf_append(&sp->raw, key, key_len);
    if (len)
        hf_buf_append(&sp->raw, payload, len);

    size_t bound = ZSTD_compressBound(sp->raw.len);
    hf_buf_reset(&sp->rec);
    hf_buf_reserve(&sp->rec, HF__REC_HDR + bound);
    size_t clen = ZSTD_compressCCtx(sp->cctx, sp->rec.data + HF__REC_HDR, bound, sp->raw.data,
                                    sp->raw.len, sp->level);
    if (ZSTD_isError(clen))
        return hf_err_set(HF_ERR_INTERNAL, errstr, errstr_size, "spool: zstd: %s",
                          ZSTD_getErrorName(clen));
    uint8_t *h = sp->rec.data;
    hf__put32(h + 4, (uint32_t)clen);
    hf__put32(h + 8, (uint32_t)sp->raw.len);
    hf__put64(h + 12, sp->next_seq);
    hf__put32(h, hf_spool_crc32(hf_spool_crc32(0, h + 4, HF__REC_HDR - 4), h + HF__REC_HDR, clen));
    size_t total = HF__REC_HDR + clen;

    if (hf__pwrite_full(sp->wfd, h, total, s->size) != 0 || (sync && fdatasync(sp->wfd) != 0)) {
        int e = errno;
        char *path = hf__path(sp, s->first, "seg");
        err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: offset %" PRIu64 ": %s",
                         path, s->size, strerror(e));
        hf_free(path);
        /* leave no partial record behind; if even this fails, open() truncates it */
        if (ftruncate(sp->wfd, (off_t)s->size) != 0)
            hf_log_warn("spool.truncate", "dir=%s err=\"%s\"", sp->dir, strerror(errno));
        return err;
    }
    sp->w_dirty = !sync;
    s->size += total;
    hf__bits_grow(s, s->count + 1);
    s->count++;
    sp->pending++;
    if (seq_out)
        *seq_out = sp->next_seq;
    sp->next_seq++;
    return HF_OK;
}

hf_err_t hf_spool_ack(hf_spool_t *sp, uint64_t seq, char *errstr, size_t errstr_size)
{
    hf__seg_t *s = hf__find_seg(sp, seq);
    if (!s)
        return HF_OK;
    uint64_t k = seq - s->first;
    if (hf__bit(s, k))
        return HF_OK;
    if (s->ack_fd < 0) {
        char *path = hf__path(sp, s->first, "ack");
        s->ack_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (s->ack_fd < 0) {
            hf_err_t e = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: open: %s", path,
                                    strerror(errno));
            hf_free(path);
            return e;
        }
        hf_free(path);
    }
    uint8_t ent[HF__ACK_LEN];
    hf__put64(ent, seq);
    hf__put32(ent + 8, hf_spool_crc32(0, ent, 8));
    ssize_t w;
    do
        w = write(s->ack_fd, ent, sizeof(ent));
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)sizeof(ent))
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: ack write: %s", sp->dir,
                          w < 0 ? strerror(errno) : "short write");
    s->ack_dirty = true;
    s->bits[k / 8] |= (uint8_t)(1u << (k % 8));
    s->acked++;
    sp->pending--;
    if (s->acked == s->count && s != &sp->segs[sp->nsegs - 1])
        hf__drop_seg(sp, s); /* the newest stays: it carries the sequence on */
    return HF_OK;
}

hf_err_t hf_spool_sync(hf_spool_t *sp, char *errstr, size_t errstr_size)
{
    if (sp->wfd >= 0 && sp->w_dirty) {
        if (fdatasync(sp->wfd) != 0)
            return hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: fsync: %s", sp->dir,
                              strerror(errno));
        sp->w_dirty = false;
    }
    for (size_t i = 0; i < sp->nsegs; i++) {
        hf__seg_t *s = &sp->segs[i];
        if (s->ack_fd >= 0 && s->ack_dirty) {
            if (fdatasync(s->ack_fd) != 0)
                return hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: ack fsync: %s",
                                  sp->dir, strerror(errno));
            s->ack_dirty = false;
        }
        if (s->ack_fd >= 0 && !hf__is_active(sp, s) && i + 2 < sp->nsegs) {
            close(s->ack_fd); /* keep the fd count small when many segments wait */
            s->ack_fd = -1;
        }
    }
    return HF_OK;
}

/* ==== inspection ==== */

uint64_t hf_spool_pending(const hf_spool_t *sp) { return sp->pending; }
uint64_t hf_spool_next_seq(const hf_spool_t *sp) { return sp->next_seq; }
size_t hf_spool_segments(const hf_spool_t *sp) { return sp->nsegs; }
const char *hf_spool_dir(const hf_spool_t *sp) { return sp->dir; }
