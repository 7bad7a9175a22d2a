#!/usr/bin/env python3
"""bench/peers/latency.py — produce->commit latency of a latency run of bench/run.sh.

For every row of every fact table: the commit time of the transaction that
inserted it (pg_xact_commit_timestamp(xmin); needs track_commit_timestamp=on,
which bench/run.sh turns on) minus the Kafka timestamp (CreateTime, set by the
producer when `hemoflow simulate` handed the message to librdkafka) of the
message at (topic, kafka_partition, kafka_offset). Prints p50/p99/max as a
Markdown list.
"""
import argparse
import sys

import psycopg
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--dsn", required=True)
    a = ap.parse_args()

    db = psycopg.connect(a.dsn)
    tables = [r[0] for r in db.execute("SELECT table_name FROM hemoflow.hf_fact_tables ORDER BY 1")]
    commit = {}
    for t in tables:
        for part, off, ts in db.execute(
                f"SELECT kafka_partition, kafka_offset, "
                f"extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 FROM hemoflow.{t}"):
            if ts is None:
                sys.exit("no commit timestamp: is track_commit_timestamp on?")
            commit[(a.prefix + t, part, off)] = ts

    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "latency-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    md = c.list_topics(timeout=10)
    parts = [TopicPartition(a.prefix + t, p, OFFSET_BEGINNING)
             for t in tables if (a.prefix + t) in md.topics
             for p in md.topics[a.prefix + t].partitions]
    c.assign(parts)
    left = len(parts)
    lat = []
    while left:
        for m in c.consume(num_messages=10000, timeout=1.0):
            if m.error():
                left -= 1
                continue
            ts = commit.get((m.topic(), m.partition(), m.offset()))
            if ts is not None:
                lat.append(ts - m.timestamp()[1] / 1000.0)
    c.close()
    if not lat:
        sys.exit("no rows matched a message")
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    print(f"- rows matched to their message: {len(lat):,} of {len(commit):,}")
    print(f"- produce->commit latency: p50 {q(0.50) * 1000:.0f} ms, p99 {q(0.99) * 1000:.0f} ms, "
          f"max {lat[-1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
