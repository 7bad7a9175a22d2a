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

#include <dirent.h>
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

#define HF__SEG_MAGIC "HFSPOOL1"
#define HF__SEG_HDR 16
#define HF__REC_HDR 20
#define HF__ACK_LEN 12
#define HF__RAW_MAX (HF_SPOOL_RECORD_MAX + 8u)

/* ==== small helpers ==== */

/* zlib's crc32_z() is the same CRC-32 (ISO-HDLC, reflected 0xEDB88320) as the
 * nibble table this file used to carry, so segments and ack logs written by
 * either read back with the other; tests/unit/test_spool.c checks the
 * standard check value. */
uint32_t hf_spool_crc32(uint32_t crc, const void *p, size_t n)
{
    return (uint32_t)crc32_z(crc, p, n);
}

static void hf__put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void hf__put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t hf__get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t hf__get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* pread exactly n bytes; returns bytes read (< n only at EOF) or -1. */
static ssize_t hf__pread_full(int fd, void *buf, size_t n, uint64_t off)
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

/* ==== state ==== */

typedef struct hf__seg_s {
    uint64_t first;  /* seq of the first record (also the file name) */
    uint64_t count;  /* records in the segment */
    uint64_t acked;  /* distinct acknowledged records */
    uint64_t size;   /* bytes of valid data: the append offset for the active one */
    uint8_t *bits;   /* ack bitmap, bit i = record first + i acknowledged */
    size_t bits_len; /* bytes allocated in bits */
    int ack_fd;      /* -1 until the first ack of this run */
    bool ack_dirty;  /* written since the last fsync */
} hf__seg_t;

struct hf_spool_s {
    char *dir;
    int dir_fd;
    int lock_fd;
    uint64_t seg_bytes;
    int level;
    hf__seg_t *segs; /* sorted by first */
    size_t nsegs, cap;
    int wfd;         /* active (last) segment open for appends, -1 when none */
    bool w_dirty;    /* appended since the last fsync */
    uint64_t next_seq;
    uint64_t pending;
    ZSTD_CCtx *cctx;
    hf_buf_t raw, rec; /* scratch for append */
    unsigned cursors;
};

struct hf_spool_cursor_s {
    hf_spool_t *sp;
    uint64_t seg_first; /* segment being read; valid when fd >= 0 */
    int fd;
    uint64_t off;       /* offset of the next record in that segment */
    uint64_t seq;       /* seq of the record at off */
    uint64_t after;     /* when fd < 0: next segment must have first >= after */
    ZSTD_DCtx *dctx;
    hf_buf_t comp, raw;
};

static char *hf__path(const hf_spool_t *sp, uint64_t first, const char *ext)
{
    return hf_asprintf("%s/%020" PRIu64 ".%s", sp->dir, first, ext);
}

static hf__seg_t *hf__find_seg(const hf_spool_t *sp, uint64_t seq)
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

static bool hf__bit(const hf__seg_t *s, uint64_t i)
{
    return (i / 8) < s->bits_len && (s->bits[i / 8] >> (i % 8)) & 1;
}

static void hf__bits_grow(hf__seg_t *s, uint64_t nrec)
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

static hf__seg_t *hf__push_seg(hf_spool_t *sp, uint64_t first)
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

/* ==== scanning on open ==== */

static bool hf__comp_len_ok(uint32_t comp_len, uint32_t raw_len)
{
    return raw_len >= 8 && raw_len <= HF__RAW_MAX && comp_len > 0 &&
           comp_len <= ZSTD_compressBound(raw_len);
}

/* Walk the records of segment s (fd open for reading), counting them. The
 * newest segment may end in a torn record, which is cut off. */
static hf_err_t hf__scan_seg(hf_spool_t *sp, hf__seg_t *s, int fd, const char *path, bool newest,
                             char *errstr, size_t errstr_size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: stat: %s", path,
                          strerror(errno));
    uint64_t fsize = (uint64_t)st.st_size;
    uint8_t hdr[HF__REC_HDR];
    if (fsize < HF__SEG_HDR)
        return hf_err_set(HF_ERR_IO, errstr, errstr_size,
                          "spool %s: offset 0: segment header truncated (%" PRIu64 " bytes)",
                          path, fsize);
    if (hf__pread_full(fd, hdr, HF__SEG_HDR, 0) != HF__SEG_HDR)
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: read: %s", path,
                          strerror(errno));
    if (memcmp(hdr, HF__SEG_MAGIC, 8) != 0 || hf__get64(hdr + 8) != s->first)
        return hf_err_set(HF_ERR_IO, errstr, errstr_size,
                          "spool %s: offset 0: bad segment header (not a hemoflow spool segment "
                          "for sequence %" PRIu64 ")", path, s->first);
    uint64_t off = HF__SEG_HDR;
    hf_buf_t data = {0};
    hf_err_t err = HF_OK;
    const char *torn = NULL;
    while (off < fsize) {
        if (fsize - off < HF__REC_HDR) {
            torn = "record header cut short";
            break;
        }
        if (hf__pread_full(fd, hdr, HF__REC_HDR, off) != HF__REC_HDR) {
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: read: %s", path,
                             strerror(errno));
            break;
        }
        uint32_t crc = hf__get32(hdr), comp_len = hf__get32(hdr + 4), raw_len = hf__get32(hdr + 8);
        uint64_t seq = hf__get64(hdr + 12);
        if (!hf__comp_len_ok(comp_len, raw_len)) {
            if (newest) { /* garbage where a header should be: torn only if nothing valid follows */
                torn = "bad record header";
                break;
            }
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size,
                             "spool %s: offset %" PRIu64 ": corrupt record header "
                             "(lengths %u/%u out of bounds)", path, off, comp_len, raw_len);
            break;
        }
        if ((uint64_t)comp_len > fsize - off - HF__REC_HDR) {
            torn = "record cut short";
            break;
        }
        hf_buf_reset(&data);
        hf_buf_reserve(&data, comp_len);
        if (hf__pread_full(fd, data.data, comp_len, off + HF__REC_HDR) != (ssize_t)comp_len) {
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: read: %s", path,
                             strerror(errno));
            break;
        }
        uint32_t c = hf_spool_crc32(hf_spool_crc32(0, hdr + 4, HF__REC_HDR - 4), data.data, comp_len);
        uint64_t end = off + HF__REC_HDR + comp_len;
        if (c != crc) {
            if (newest && end == fsize) {
                torn = "checksum mismatch in the last record";
                break;
            }
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size,
                             "spool %s: offset %" PRIu64 ": record checksum mismatch "
                             "(stored %08x, computed %08x)", path, off, crc, c);
            break;
        }
        if (seq != s->first + s->count) {
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size,
                             "spool %s: offset %" PRIu64 ": sequence %" PRIu64
                             " where %" PRIu64 " was expected", path, off, seq,
                             s->first + s->count);
            break;
        }
        s->count++;
        off = end;
    }
    hf_buf_free(&data);
    if (err)
        return err;
    if (torn) {
        if (!newest)
            return hf_err_set(HF_ERR_IO, errstr, errstr_size,
                              "spool %s: offset %" PRIu64 ": %s in a segment that is not the "
                              "newest", path, off, torn);
        hf_log_warn("spool.torn_tail", "file=%s offset=%" PRIu64 " dropped_bytes=%" PRIu64
                    " reason=\"%s\" msg=\"truncating a record that was never acknowledged\"",
                    path, off, fsize - off, torn);
        if (ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0)
            return hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: truncate: %s", path,
                              strerror(errno));
    }
    s->size = off;
    (void)sp;
    return HF_OK;
}

static hf_err_t hf__load_acks(hf_spool_t *sp, hf__seg_t *s, char *errstr, size_t errstr_size)
{
    char *path = hf__path(sp, s->first, "ack");
    hf_err_t err = HF_OK;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: open: %s", path,
                             strerror(errno));
        hf_free(path);
        return err;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: stat: %s", path,
                         strerror(errno));
        goto out;
    }
    uint64_t fsize = (uint64_t)st.st_size, whole = fsize - fsize % HF__ACK_LEN;
    uint8_t buf[HF__ACK_LEN * 512];
    for (uint64_t off = 0; off < whole;) {
        size_t want = (size_t)(whole - off < sizeof(buf) ? whole - off : sizeof(buf));
        if (hf__pread_full(fd, buf, want, off) != (ssize_t)want) {
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: read: %s", path,
                             strerror(errno));
            goto out;
        }
        for (size_t i = 0; i < want; i += HF__ACK_LEN, off += HF__ACK_LEN) {
            uint64_t seq = hf__get64(buf + i);
            if (hf_spool_crc32(0, buf + i, 8) != hf__get32(buf + i + 8)) {
                if (off + HF__ACK_LEN == whole && whole == fsize) { /* torn last entry */
                    whole = off;
                    fsize = off + 1; /* force the truncate below */
                    break;
                }
                err = hf_err_set(HF_ERR_IO, errstr, errstr_size,
                                 "spool %s: offset %" PRIu64 ": ack entry checksum mismatch",
                                 path, off);
                goto out;
            }
            if (seq < s->first || seq >= s->first + s->count) {
                err = hf_err_set(HF_ERR_IO, errstr, errstr_size,
                                 "spool %s: offset %" PRIu64 ": ack of sequence %" PRIu64
                                 " outside the segment [%" PRIu64 ", %" PRIu64 ")",
                                 path, off, seq, s->first, s->first + s->count);
                goto out;
            }
            uint64_t k = seq - s->first;
            if (!hf__bit(s, k)) {
                s->bits[k / 8] |= (uint8_t)(1u << (k % 8));
                s->acked++;
            }
        }
    }
    if (whole != fsize) {
        hf_log_warn("spool.torn_ack", "file=%s offset=%" PRIu64 " msg=\"truncating torn ack entry\"",
                    path, whole);
        if (ftruncate(fd, (off_t)whole) != 0 || fsync(fd) != 0)
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: truncate: %s", path,
                             strerror(errno));
    }
out:
    close(fd);
    hf_free(path);
    return err;
}

static int hf__cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Parse "<20 digits>.<ext>"; returns true and *first when it matches. */
static bool hf__parse_name(const char *name, const char *ext, uint64_t *first)
{
    size_t el = strlen(ext);
    if (strlen(name) != 21 + el || name[20] != '.' || strcmp(name + 21, ext) != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *first = v;
    return true;
}

static hf_err_t hf__scan_dir(hf_spool_t *sp, char *errstr, size_t errstr_size)
{
    DIR *d = opendir(sp->dir);
    if (!d)
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: opendir: %s", sp->dir,
                          strerror(errno));
    uint64_t *firsts = NULL, *acks = NULL;
    size_t nf = 0, cf = 0, na = 0, ca = 0;
    struct dirent *e;
    uint64_t v;
    while ((e = readdir(d))) {
        if (hf__parse_name(e->d_name, "seg", &v)) {
            if (nf == cf)
                firsts = hf_realloc(firsts, (cf = cf ? cf * 2 : 16) * sizeof(*firsts));
            firsts[nf++] = v;
        } else if (hf__parse_name(e->d_name, "ack", &v)) {
            if (na == ca)
                acks = hf_realloc(acks, (ca = ca ? ca * 2 : 16) * sizeof(*acks));
            acks[na++] = v;
        }
    }
    closedir(d);
    if (nf)
        qsort(firsts, nf, sizeof(*firsts), hf__cmp_u64);
    hf_err_t err = HF_OK;
    for (size_t i = 0; i < nf && !err; i++) {
        if (i > 0 && firsts[i] < sp->segs[sp->nsegs - 1].first + sp->segs[sp->nsegs - 1].count) {
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size,
                             "spool %s: segment %020" PRIu64 ".seg overlaps the previous one",
                             sp->dir, firsts[i]);
            break;
        }
        bool newest = i + 1 == nf;
        char *path = hf__path(sp, firsts[i], "seg");
        int fd = open(path, (newest ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) {
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "spool %s: open: %s", path,
                             strerror(errno));
            hf_free(path);
            break;
        }
        struct stat st;
        if (newest && fstat(fd, &st) == 0 && st.st_size < HF__SEG_HDR) {
            /* created but its header never made it to disk: nothing in it was acknowledged */
            hf_log_warn("spool.torn_segment", "file=%s msg=\"removing empty segment\"", path);
            close(fd);
            unlink(path);
            hf_free(path);
            continue;
        }
        hf__seg_t *s = hf__push_seg(sp, firsts[i]);
        err = hf__scan_seg(sp, s, fd, path, newest, errstr, errstr_size);
        close(fd);
        hf_free(path);
        hf__bits_grow(s, s->count);
        if (!err)
            err = hf__load_acks(sp, s, errstr, errstr_size);
        if (!err)
            sp->pending += s->count - s->acked;
    }
    /* ack logs whose segment is gone (crash between the two unlinks) */
    for (size_t i = 0; i < na && !err; i++) {
        bool found = false;
        for (size_t j = 0; j < sp->nsegs && !found; j++)
            found = sp->segs[j].first == acks[i];
        if (!found) {
            char *p = hf__path(sp, acks[i], "ack");
            unlink(p);
            hf_free(p);
        }
    }
    hf_free(firsts);
    hf_free(acks);
    return err;
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

/* ==== replay ==== */

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
