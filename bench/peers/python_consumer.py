#!/usr/bin/env python3
"""bench/peers/python_consumer.py — the "python" contender of bench/run.sh.

A Kafka -> PostgreSQL loader as a data team would write it with the usual
libraries: confluent-kafka (librdkafka) to consume, fastavro to decode
hemoflow's single-object Avro (writer schema looked up by its CRC-64-AVRO
fingerprint, resolved to the newest schema), psycopg 3 COPY into a temporary
staging table per fact table, then `INSERT ... ON CONFLICT DO NOTHING` on the
warehouse's own dedupe key (the primary key province_code, event_date,
event_id). Batches of --batch messages or --batch-ms milliseconds; Kafka
offsets are committed (synchronously) after the database COMMIT, so delivery
is at-least-once and the primary key removes what is delivered twice.

What it does NOT do, and hemoflow does: validation and quarantine (a message it
cannot decode is counted and skipped), hf_offsets (exactly-once per partition
without the primary key), hf_completeness, partition creation (bench/run.sh
creates the partitions first), metrics. It is therefore a lower bound on the
work a real peer would do.

Exits when every assigned partition has reached its end (partition EOF) and
no message arrived for --idle-exit-ms after at least one did (a pause of the
broker under load alone does not end it early); prints one JSON line of counts and timestamps on stdout.
"""
import argparse
import datetime
import glob
import io
import json
import os
import re
import sys
import time

import fastavro
import fastavro.schema
import psycopg
from confluent_kafka import Consumer, KafkaError, TopicPartition


def load_catalogue(schema_dir):
    """{fingerprint bytes (wire order): (writer, reader, table)}"""
    by_type = {}
    for path in glob.glob(os.path.join(schema_dir, "*.avsc")):
        m = re.match(r"(\w+)\.v(\d+)\.avsc$", os.path.basename(path))
        if not m:
            continue
        with open(path) as f:
            raw = json.load(f)
        by_type.setdefault(m.group(1), []).append((int(m.group(2)), raw))
    cat = {}
    for etype, versions in by_type.items():
        versions.sort(key=lambda v: v[0])
        reader = fastavro.parse_schema(versions[-1][1])
        table = re.sub(r"(?<!^)(?=[A-Z])", "_", etype).lower()
        for _, raw in versions:
            writer = fastavro.parse_schema(raw)
            pcf = fastavro.schema.to_parsing_canonical_form(raw)
            fp = bytes.fromhex(fastavro.schema.fingerprint(pcf, "CRC-64-AVRO"))
            cat[fp] = (writer, reader, table)
    return cat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--prefix", required=True, help="topic prefix; topics are PREFIX<table>")
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--schemas", required=True)
    ap.add_argument("--batch", type=int, default=50000)
    ap.add_argument("--batch-ms", type=int, default=1000)
    ap.add_argument("--idle-exit-ms", type=int, default=2000)
    a = ap.parse_args()

    cat = load_catalogue(a.schemas)
    tables = sorted({t for _, _, t in cat.values()})
    fields = {t: [f["name"] for f in r["fields"]] for _, r, t in cat.values()}

    db = psycopg.connect(a.dsn, autocommit=False)
    cols = {}
    with db.cursor() as cur:
        for t in tables:
            cols[t] = [f"event_date"] + fields[t] + ["kafka_partition", "kafka_offset"]
            cur.execute(f"CREATE TEMP TABLE stg_{t} (LIKE hemoflow.{t} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    db.commit()

    c = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": a.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
    })
    topics = [a.prefix + t for t in tables]
    start = time.time()
    assigned_at = [None]
    owned, at_eof = set(), set()  # (topic, partition)

    def on_assign(consumer, parts):
        if assigned_at[0] is None:
            assigned_at[0] = time.time()
        owned.update((p.topic, p.partition) for p in parts)

    def on_revoke(consumer, parts):
        for p in parts:
            owned.discard((p.topic, p.partition))
            at_eof.discard((p.topic, p.partition))
    c.subscribe(topics, on_assign=on_assign, on_revoke=on_revoke)

    stats = {"consumed": 0, "inserted": 0, "duplicates": 0, "undecodable": 0, "batches": 0}
    rows = {t: [] for t in tables}
    pending = {}  # (topic, partition) -> next offset
    n_batch = 0
    batch_start = None
    last_msg = None
    last_commit = None
    one_day = datetime.timedelta

    def flush():
        nonlocal n_batch, batch_start, last_commit
        with db.cursor() as cur:
            for t in tables:
                if not rows[t]:
                    continue
                cl = ", ".join(cols[t])
                with cur.copy(f"COPY stg_{t} ({cl}) FROM STDIN") as cp:
                    for r in rows[t]:
                        cp.write_row(r)
                cur.execute(f"INSERT INTO hemoflow.{t} ({cl}) SELECT {cl} FROM stg_{t} "
                            "ON CONFLICT (province_code, event_date, event_id) DO NOTHING")
                stats["inserted"] += cur.rowcount
                stats["duplicates"] += len(rows[t]) - cur.rowcount
                rows[t].clear()
        db.commit()
        c.commit(offsets=[TopicPartition(tp[0], tp[1], off) for tp, off in pending.items()],
                 asynchronous=False)
        pending.clear()
        stats["batches"] += 1
        last_commit = time.time()
        n_batch = 0
        batch_start = None

    while True:
        msgs = c.consume(num_messages=5000, timeout=0.2)
        now = time.time()
        for m in msgs:
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_eof.add((m.topic(), m.partition()))
                else:
                    print(f"kafka error: {m.error()}", file=sys.stderr)
                continue
            at_eof.discard((m.topic(), m.partition()))
            v = m.value()
            stats["consumed"] += 1
            n_batch += 1
            if batch_start is None:
                batch_start = now
            last_msg = now
            pending[(m.topic(), m.partition())] = m.offset() + 1
            ent = cat.get(v[2:10]) if v and len(v) > 10 and v[0] == 0xC3 and v[1] == 1 else None
            if ent is None:
                stats["undecodable"] += 1
                continue
            writer, reader, t = ent
            try:
                rec = fastavro.schemaless_reader(io.BytesIO(v[10:]), writer, reader)
            except Exception:  # noqa: BLE001 - a data team would log and skip
                stats["undecodable"] += 1
                continue
            ev_date = (rec["occurred_at"] + one_day(minutes=rec["utc_offset_minutes"])).date()
            rows[t].append([ev_date] + [rec[f] for f in fields[t]] + [m.partition(), m.offset()])
        if n_batch and (n_batch >= a.batch or now - batch_start >= a.batch_ms / 1000):
            flush()
        if (last_msg is not None and not n_batch and now - last_msg >= a.idle_exit_ms / 1000
                and owned and owned <= at_eof):
            break
    if n_batch:
        flush()
    c.close()
    db.close()
    stats.update(start=start, assigned=assigned_at[0], last_commit=last_commit)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
