/*
 * hf_spool_int — the spool's state and what its three files share:
 * hf_spool.c (segments, open/close, append, ack, sync), hf_spool_scan.c
 * (reading the folder back on open: segment walk, ack logs, torn tails) and
 * hf_spool_replay.c (the cursor that streams unacknowledged records). The
 * on-disk format is described at the head of hf_spool.c and in
 * docs/spool.md. Not a public API (hf__ names).
 */
#ifndef HF_SPOOL_INT_H
#define HF_SPOOL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <zstd.h>

#include "hf_buf.h"
#include "hf_err.h"
#include "hf_spool.h"

#define HF__SEG_MAGIC "HFSPOOL1"
#define HF__SEG_HDR 16
#define HF__REC_HDR 20
#define HF__ACK_LEN 12
#define HF__RAW_MAX (HF_SPOOL_RECORD_MAX + 8u)

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

/* Little-endian integers of the on-disk format. */
static inline void hf__put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void hf__put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t hf__get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t hf__get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline bool hf__bit(const hf__seg_t *s, uint64_t i)
{
    return (i / 8) < s->bits_len && (s->bits[i / 8] >> (i % 8)) & 1;
}

/* hf_spool.c */
ssize_t hf__pread_full(int fd, void *buf, size_t n, uint64_t off);
char *hf__path(const hf_spool_t *sp, uint64_t first, const char *ext);
hf__seg_t *hf__find_seg(const hf_spool_t *sp, uint64_t seq);
void hf__bits_grow(hf__seg_t *s, uint64_t nrec);
hf__seg_t *hf__push_seg(hf_spool_t *sp, uint64_t first);

/* hf_spool_scan.c */
bool hf__comp_len_ok(uint32_t comp_len, uint32_t raw_len);
hf_err_t hf__scan_dir(hf_spool_t *sp, char *errstr, size_t errstr_size);

#endif
