/*
 * hf_spool_scan — reading a spool folder back when it is opened: list the
 * segment and ack files, walk each segment's records (checking CRCs and
 * lengths, cutting a torn tail off the newest one only), load the ack logs
 * into the bitmaps, and report anything else that does not check out with
 * its file and offset. Format: the head of hf_spool.c, docs/spool.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "hf_log.h"
#include "hf_mem.h"
#include "hf_spool.h"
#include "hf_spool_int.h"

bool hf__comp_len_ok(uint32_t comp_len, uint32_t raw_len)
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

hf_err_t hf__scan_dir(hf_spool_t *sp, char *errstr, size_t errstr_size)
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
