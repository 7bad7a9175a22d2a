-- 0002_commit_window — the window of recent commits per topic partition that
-- `hemoflow lag` judges (Burrow-style OK/WARN/STALL/STOP/REWIND). The loader
-- records one entry per owned partition in the same transaction as the rows
-- and offsets of each batch (load/hf_wh_window.c), so the status survives
-- restarts and is the same whichever instance asks. Bounded: at most
-- lag.window_commits entries per partition are kept. Applied by `hemoflow
-- migrate`; never edit this file once applied (write a later one instead).

-- One recorded commit of a topic partition. seq grows by one per entry of the
-- partition; the newest entry has the largest seq.
CREATE TABLE hemoflow.hf_commit_window (
    topic text NOT NULL,
    kafka_partition integer NOT NULL,
    seq bigint NOT NULL,
    committed_at timestamptz NOT NULL,
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    -- the log-end offset (high watermark) the consumer knew when it built
    -- the batch; NULL when it knew none. Lag at the commit = log_end_offset
    -- - next_offset.
    log_end_offset bigint,
    PRIMARY KEY (topic, kafka_partition, seq)
);

-- Record one commit for each (p_topic[i], p_part[i]) whose stored next offset
-- in hf_offsets (as this transaction sees it, after its own compare-and-set)
-- equals p_next[i]: an instance whose view of an idle partition is stale (it
-- lost the partition in a rebalance) records nothing for it. The rows of
-- hf_offsets are share-locked, so a concurrent owner's commit is waited for
-- and seen. An entry newer than p_min_ms after the partition's newest one
-- replaces that one's offsets and keeps its time (many small batches do not
-- shrink the window's span to nothing); otherwise it is added and entries
-- beyond the newest p_keep are deleted. Returns the entries added or
-- replaced.
CREATE FUNCTION hemoflow.hf_window_record(p_topic text[], p_part integer[], p_next bigint[],
                                          p_end bigint[], p_keep integer, p_min_ms integer)
RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $fn$
    WITH u AS (
        SELECT u.t, u.p, u.o, u.e
        FROM unnest(p_topic, p_part, p_next, p_end) AS u(t, p, o, e)
    ), ok AS (
        SELECT u.t, u.p, u.o, u.e
        FROM u JOIN hemoflow.hf_offsets f
          ON f.topic = u.t AND f.kafka_partition = u.p AND f.next_offset = u.o
        ORDER BY u.t, u.p
        FOR SHARE OF f
    ), newest AS (
        SELECT DISTINCT ON (w.topic, w.kafka_partition) w.topic, w.kafka_partition, w.seq,
               statement_timestamp() - w.committed_at < p_min_ms * interval '1 millisecond'
                   AS recent
        FROM hemoflow.hf_commit_window w
        JOIN ok ON w.topic = ok.t AND w.kafka_partition = ok.p
        ORDER BY w.topic, w.kafka_partition, w.seq DESC
    ), upd AS (
        UPDATE hemoflow.hf_commit_window w SET next_offset = ok.o, log_end_offset = ok.e
        FROM ok JOIN newest n ON n.topic = ok.t AND n.kafka_partition = ok.p
        WHERE n.recent AND w.topic = n.topic AND w.kafka_partition = n.kafka_partition
          AND w.seq = n.seq
        RETURNING 1
    ), ins AS (
        INSERT INTO hemoflow.hf_commit_window
            (topic, kafka_partition, seq, committed_at, next_offset, log_end_offset)
        SELECT ok.t, ok.p, coalesce(n.seq, 0) + 1, statement_timestamp(), ok.o, ok.e
        FROM ok LEFT JOIN newest n ON n.topic = ok.t AND n.kafka_partition = ok.p
        WHERE n.seq IS NULL OR NOT n.recent
        ON CONFLICT DO NOTHING
        RETURNING topic, kafka_partition, seq
    ), trim AS (
        DELETE FROM hemoflow.hf_commit_window w USING ins
        WHERE w.topic = ins.topic AND w.kafka_partition = ins.kafka_partition
          AND w.seq <= ins.seq - greatest(p_keep, 1)
        RETURNING 1
    )
    -- (trim runs to completion although nothing reads it)
    SELECT (SELECT count(*) FROM ins) + (SELECT count(*) FROM upd);
$fn$;
REVOKE ALL ON FUNCTION hemoflow.hf_window_record(text[], integer[], bigint[], bigint[], integer,
                                                 integer) FROM PUBLIC;
