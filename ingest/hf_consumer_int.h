/*
 * hf_consumer_int — the consumer's state and what its two files share:
 * hf_consumer.c (partitions, messages, rebalancing, the poll loop) and
 * hf_consumer_flight.c (the batch being built and the in-flight batch: the
 * handoff to load/hf_wh_loader, its outcome, flow control). Not a public API
 * (hf__ names).
 */
#ifndef HF_CONSUMER_INT_H
#define HF_CONSUMER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "hf_consumer.h"
#include "hf_consumer_ops.h"
#include "hf_event_types.h"
#include "hf_hashset.h"
#include "hf_normalize.h"
#include "hf_warehouse.h"
#include "hf_wh_loader.h"

/* ==== state ==== */

typedef struct hf__part_s {
    char *topic;          /* owned */
    int32_t partition;
    int64_t committed;    /* next offset per hf_offsets; -1 = nothing stored yet */
    int64_t pos;          /* next offset to take; -1 = nothing taken since assignment */
    int64_t flight_end;   /* in_flight: one past the in-flight batch's last message */
    bool in_flight;       /* the in-flight batch holds messages of this partition */
    bool in_batch;        /* the batch being built holds messages of this partition */
    bool rewind;          /* messages were dropped while paused: seek back to pos */
    bool eof;             /* reached the end of the partition at pos */
    int64_t gap_at;       /* pos at which a gap was last seen, -1 none */
    int gap_tries;        /* rewinds tried for the gap at gap_at */
    /* for lag and readiness (hf_consumer_hooks.c) */
    int64_t batch_first_ts;  /* Kafka timestamp (ms) of its first message in the batch being
                                built, 0 none */
    int64_t flight_first_ts; /* the same for the in-flight batch */
    int64_t progress_ms;     /* monotonic ms: committed last moved, caught up, or assigned */
    int64_t caught_up_wall_ms; /* wall ms it was last seen caught up (or assigned) */
    unsigned lane;           /* index in c->lanes of the lane that loads it */
} hf__part_t;

/* Most loader connections (consume.loaders). */
#define HF__MAX_LANES 8

/* A lane: one loader connection with its two batches. Every owned
 * partition belongs to one lane for as long as it is owned, so each
 * partition's batches still commit one after the other (its offsets stay a
 * strict compare-and-set chain) while the lanes commit in parallel on their
 * own connections. Who may use wh and the two batches when: while a batch
 * is in the loader (hf_wh_loader_busy) the loader thread owns that batch and
 * wh's connection; this thread keeps building `batch` from wh
 * (hf_wh_batch_add_event reads only wh's table layouts, which hf_wh_open
 * fixes and neither a commit nor hf_wh_reconnect changes) and `spare` is
 * NULL. Otherwise everything is this thread's and `spare` is the empty
 * second batch. */
typedef struct hf__lane_s {
    unsigned idx;              /* in c->lanes */
    hf_wh_t *wh;               /* the loader's connection while a batch is in flight */
    hf_wh_loader_t *loader;    /* commits the in-flight batch */
    hf_wh_batch_t *batch;      /* the batch being built */
    hf_wh_batch_t *spare;      /* the other batch when none is in flight, else NULL */
    hf_hashset_t *ids;         /* event_ids (16 bytes) in the batch being built */
    size_t batch_msgs, batch_bytes;
    int64_t batch_started_ms;  /* monotonic ms of the batch's first message */
    size_t flight_msgs;        /* messages of the in-flight batch */
    int64_t flight_started_ms; /* its first message (monotonic ms) */
    size_t batch_dups, flight_dups; /* dropped within the batch being built / in flight */
    size_t batch_dups_type[HF_WH_MAX_TABLES], flight_dups_type[HF_WH_MAX_TABLES];
} hf__lane_t;

struct hf_consumer_s {
    hf_consumer_conf_t conf;
    rd_kafka_t *rk;
    hf__lane_t lanes[HF__MAX_LANES];
    size_t nlanes;             /* consume.loaders */
    hf_decoder_t *dec;
    hf_normalizer_t *norm;
    hf__part_t *parts;         /* owned partitions */
    size_t nparts, capparts;
    /* limits (from config) */
    size_t max_rows, max_bytes, max_msg_bytes;
    int64_t memory_max;        /* consume.memory_max_bytes (not reloadable) */
    int64_t max_ms, backoff_max_ms, deadline_ms;
    bool paused;               /* all owned partitions paused for a retry */
    bool need_rewind;          /* some partition has rewind set (gap) */
    hf__part_t *last_part;     /* cache for hf__part_find: consecutive messages
                                  mostly come from one partition */
    int64_t last_msg_ms;
    bool broker_down_logged;   /* "waiting for the Kafka broker" said once per outage */
    bool ever_assigned;        /* an assignment arrived: the group and a broker were reached */
    bool fatal;                /* a permanent error ended the run */
    hf_err_t fatal_err;        /* fatal: its class (never retriable) */
    char fatal_msg[640];
    hf_consumer_stats_t stats;
    /* operations (hf_consumer_hooks.c); ops may be NULL */
    hf_consumer_ops_t *ops;
    int64_t tick_ms, beat_ms;       /* last snapshot, last heartbeat (monotonic ms) */
    bool kafka_stats_seen;          /* librdkafka statistics arrived at least once */
    bool kafka_up;                  /* a broker connection was UP in the last statistics */
    /* the status page's Burrow-style column (hf_consumer_window.c); NULL without ops */
    struct hf__lagview_s *lagview;
};

/* ==== hf_consumer.c ==== */

/* A permanent error ends the run (the last one is reported, as before). */
void hf__fatal(hf_consumer_t *c, hf_err_t e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* consume.batch_max_bytes within the batches' share of the memory budget. */
/* consume.batch_max_bytes of cfg within the batches' share of memory_max
 * (consume.memory_max_bytes as the consumer started: not reloadable). */
size_t hf__batch_cap(const hf_config_t *cfg, int64_t memory_max, size_t lanes);
hf__part_t *hf__part_find(hf_consumer_t *c, const char *topic, int32_t partition);
/* Pause (or resume) every owned partition. */
void hf__pause_all(hf_consumer_t *c, bool pause);
/* Seek partitions whose messages were dropped back to where the batch ends. */
void hf__rewind(hf_consumer_t *c);

/* ==== hf_consumer_flight.c ==== */

/* The lane that loads p. */
static inline hf__lane_t *hf__lane_of(hf_consumer_t *c, const hf__part_t *p)
{
    return &c->lanes[p->lane];
}
bool hf__batch_full(const hf_consumer_t *c, const hf__lane_t *l);
bool hf__all_eof(const hf_consumer_t *c);
bool hf__batch_ready(const hf_consumer_t *c, const hf__lane_t *l, int64_t now);
void hf__batch_reset(hf_consumer_t *c, hf__lane_t *l);
void hf__batch_abandon(hf_consumer_t *c, hf__lane_t *l, size_t flight_msgs, const char *why);
void hf__flight_submit(hf_consumer_t *c, hf__lane_t *l, bool once, int64_t deadline_ms);
bool hf__flight_reap(hf_consumer_t *c, hf__lane_t *l, bool revoking, hf_err_t *e);
void hf__flight_settle(hf_consumer_t *c, hf__lane_t *l, bool once, bool revoking);
/* A batch is in some lane's loader. */
bool hf__flight_any(const hf_consumer_t *c);
/* Reap every lane that finished; submit each lane's batch when it is ready
 * (or, eager, whenever its loader is free and it holds messages). */
void hf__lanes_service(hf_consumer_t *c, int64_t now, bool eager);
void hf__flight_drain_serving(hf_consumer_t *c);
void hf__flow_control(hf_consumer_t *c);

/* ==== hf_consumer_hooks.c: metrics, readiness, lag, reload ====
 * Each is a no-op for what needs c->ops when it is NULL. */

/* librdkafka settings for the hooks (statistics every second). */
hf_err_t hf__hook_kafka_conf(hf_consumer_t *c, rd_kafka_conf_t *kc);
/* m was taken into the batch being built for partition p. */
void hf__hook_take(hf_consumer_t *c, hf__part_t *p, const rd_kafka_message_t *m);
/* An event of type et dropped as a repeat within lane l's batch being built. */
void hf__hook_dup(hf_consumer_t *c, hf__lane_t *l, const hf_event_type_t *et);
/* Lane l's batch being built goes to its loader (before hf__batch_reset). */
void hf__hook_submitted(hf_consumer_t *c, hf__lane_t *l);
/* Lane l's batch being built is emptied. */
void hf__hook_batch_reset(hf_consumer_t *c, hf__lane_t *l);
/* Lane l's in-flight batch of msgs messages committed with o (before
 * offsets move); returns its duplicates (within the batch and in the
 * warehouse). */
size_t hf__hook_committed(hf_consumer_t *c, hf__lane_t *l, const hf_wh_loader_outcome_t *o,
                          size_t msgs);
/* Both of lane l's batches (flight_msgs + batch_msgs messages) are abandoned. */
void hf__hook_abandoned(hf_consumer_t *c, hf__lane_t *l, size_t flight_msgs);
void hf__hook_error(hf_consumer_t *c, const char *cls, double n);
void hf__hook_gap(hf_consumer_t *c, int64_t messages);
void hf__hook_rebalance(hf_consumer_t *c, bool assign);
/* PostgreSQL reachable (hf_wh_open, offsets read) or not. */
void hf__hook_pg(hf_consumer_t *c, bool up);
/* Once per loop round: heartbeat, and once a second the partitions'
 * lag and the connection states. */
void hf__hook_tick(hf_consumer_t *c, int64_t now_ms);
/* SIGHUP: when *conf.reload is set, reload the reloadable keys. */
void hf__hook_reload(hf_consumer_t *c);

/* ==== hf_consumer_window.c ==== */

/* Add the commit-window entry of every partition of lane l to its batch
 * being built (and, with ops, remember them until the batch commits). */
void hf__window_note(hf_consumer_t *c, hf__lane_t *l);
/* With ops: plug the Burrow-style status column of the status page in
 * (hf_consumer_ops_set_lag_status); hf__window_free unplugs it. */
void hf__window_init(hf_consumer_t *c);
void hf__window_free(hf_consumer_t *c);
/* Lane l's in-flight batch committed: the entries noted for it join the
 * in-memory windows. */
void hf__window_committed(hf_consumer_t *c, hf__lane_t *l);
/* Once a second: judge every owned partition (load/hf_lag.h). */
void hf__window_judge(hf_consumer_t *c, int64_t now_ms);
/* rd_kafka_conf_set_offset_commit_cb: log a failed advisory commit. */
void hf__kafka_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *offsets, void *opaque);

#endif
