/*
 * hf_wh_seen — the filter of keys this connection committed recently
 * (hf__wh_seen_t in hf_wh_int.h: a split-block Bloom filter in two
 * generations), which tells the commit which rows to probe for station
 * resends.
 */
#include "hf_wh_batch_int.h"

#include <string.h>

#include "hf_buf.h"
#include "hf_hashset.h"

/* ==== the seen filter ==== */

/* Hash of a row's primary key (and its table). */
uint64_t hf__key_hash(size_t ti, const hf__row_t *r, const unsigned char *id)
{
    uint64_t a, c;
    memcpy(&a, id, 8);
    memcpy(&c, id + 8, 8);
    uint64_t h = (uint64_t)(ti + 1) << 48 | (uint64_t)(unsigned char)r->province[0] << 40 |
                 (uint64_t)(unsigned char)r->province[1] << 32 | (uint32_t)r->event_date;
    h = hf_hash_mix64(h ^ UINT64_C(0x9e3779b97f4a7c15));
    h = hf_hash_mix64(h ^ a);
    return hf_hash_mix64(h ^ c);
}

/* Split-block Bloom filter (as in Parquet): a key sets one bit in each of
 * the 8 words of one 32-byte block, so a lookup is one cache line. */
static const uint32_t hf__salt[8] = {0x47b6137bU, 0x44974d91U, 0x8824ad5bU, 0xa2b7289dU,
                                     0x705495c7U, 0x2df1424bU, 0x9efc4947U, 0x5c6bfb31U};

bool hf__seen_has(const hf__wh_seen_t *s, uint64_t h)
{
    size_t blk = (size_t)(h >> 32) & s->mask;
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
    if (s->n[s->cur] >= s->cap) {
        s->cur ^= 1;
        memset(s->bits[s->cur], 0, (s->mask + 1) * sizeof(s->bits[s->cur][0]));
        s->n[s->cur] = 0;
    }
    uint32_t *w = s->bits[s->cur][(size_t)(h >> 32) & s->mask];
    uint32_t x = (uint32_t)h;
    for (int i = 0; i < 8; i++)
        w[i] |= UINT32_C(1) << ((x * hf__salt[i]) >> 27);
    s->n[s->cur]++;
}

void hf__seen_init(hf__wh_seen_t *s, unsigned share)
{
    unsigned sh = 1;
    while (sh < share && sh < 64)
        sh *= 2;
    for (int g = 0; g < 2; g++) /* a generation without keys is all zero */
        if (s->n[g])
            memset(s->bits[g], 0, (s->mask + 1) * sizeof(s->bits[g][0]));
    memset(s->n, 0, sizeof(s->n));
    s->cur = 0;
    s->mask = HF__SEEN_BLOCKS / sh - 1;
    s->cap = HF__SEEN_CAP / sh;
}

void hf_wh_seen_share(hf_wh_t *wh, unsigned share)
{
    hf__seen_init(&wh->seen, share ? share : 1);
}

/* After COMMIT: the keys of every row now in the warehouse. */
void hf__seen_remember(hf_wh_batch_t *b)
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
