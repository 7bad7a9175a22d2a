#!/usr/bin/env python3
"""bench/peers/avro_to_connect_json.py — prepares the kafka-connect contender.

Kafka Connect's converters cannot read hemoflow's single-object Avro (its
AvroConverter is Confluent's, needs a schema registry and the 5-byte
registry framing). So the same records are copied, before anything is timed,
into separate topics in the encoding Connect reads best without a registry:
Kafka's own JsonConverter with schemas (every message carries its Connect
schema). Same topic names under DST_PREFIX, same partition and order of every
record. Each record gets `event_date` (the warehouse's station-local date,
which a generic sink cannot compute); timestamps become
io.debezium.time.MicroTimestamp (int64 microseconds, nothing lost), dates
org.apache.kafka.connect.data.Date; kafka_partition / kafka_offset are added
by Connect's InsertField transform at sink time, as for any topic.
"""
import argparse
import datetime
import io
import json
import os
import sys

import fastavro
from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_consumer import load_catalogue  # noqa: E402

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def connect_type(t):
    """(connect schema, converter) for an Avro field type (parsed by fastavro)"""
    optional = False
    if isinstance(t, list):
        branches = [b for b in t if b != "null"]
        optional = len(branches) < len(t)
        t = branches[0]
    lt = t.get("logicalType") if isinstance(t, dict) else None
    base = t["type"] if isinstance(t, dict) else t
    if lt == "timestamp-micros":
        s, f = {"type": "int64", "name": "io.debezium.time.MicroTimestamp"}, \
            lambda v: (v - EPOCH) // datetime.timedelta(microseconds=1)
    elif lt == "date":
        s, f = {"type": "int32", "name": "org.apache.kafka.connect.data.Date"}, \
            lambda v: (v - datetime.date(1970, 1, 1)).days
    elif lt == "uuid":
        s, f = {"type": "string"}, str
    elif base == "array":
        s, f = {"type": "array", "items": {"type": "string"}}, list
    elif base in ("string", "enum"):
        s, f = {"type": "string"}, None
    else:
        s, f = {"type": {"int": "int32", "long": "int64", "boolean": "boolean",
                         "double": "double", "float": "float"}[base]}, None
    s["optional"] = optional
    return s, f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--src-prefix", required=True)
    ap.add_argument("--dst-prefix", required=True)
    ap.add_argument("--schemas", required=True)
    a = ap.parse_args()

    cat = load_catalogue(a.schemas)
    plans = {}
    for _, reader, table in cat.values():
        fields = [("event_date", {"type": "int32", "name": "org.apache.kafka.connect.data.Date",
                                  "optional": False},
                   lambda v: (v - datetime.date(1970, 1, 1)).days)]
        for fd in reader["fields"]:
            s, f = connect_type(fd["type"])
            fields.append((fd["name"], s, f))
        schema = {"type": "struct", "name": f"hemoflow.{table}", "optional": False,
                  "fields": [dict(s, field=n) for n, s, _ in fields]}
        plans[table] = (json.dumps(schema, separators=(",", ":")), fields)

    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "avro-to-json",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    p = Producer({"bootstrap.servers": a.bootstrap, "compression.type": "lz4",
                  "linger.ms": 50, "batch.size": 1000000, "queue.buffering.max.kbytes": 262144})
    md = c.list_topics(timeout=10)
    parts = [TopicPartition(a.src_prefix + t, q, OFFSET_BEGINNING)
             for t in plans if (a.src_prefix + t) in md.topics
             for q in md.topics[a.src_prefix + t].partitions]
    c.assign(parts)
    left, n = len(parts), 0
    while left:
        for m in c.consume(num_messages=5000, timeout=1.0):
            if m.error():
                left -= 1
                continue
            v = m.value()
            writer, reader, table = cat[v[2:10]]
            rec = fastavro.schemaless_reader(io.BytesIO(v[10:]), writer, reader)
            rec["event_date"] = (rec["occurred_at"] + datetime.timedelta(
                minutes=rec["utc_offset_minutes"])).date()
            schema, fields = plans[table]
            payload = {}
            for name, _, f in fields:
                x = rec[name]
                payload[name] = f(x) if (f is not None and x is not None) else x
            out = '{"schema":' + schema + ',"payload":' + json.dumps(payload, separators=(",", ":")) + "}"
            while True:
                try:
                    p.produce(a.dst_prefix + table, out.encode(), key=m.key(), partition=m.partition())
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
            n += 1
    c.close()
    if p.flush(120) != 0:
        sys.exit("could not deliver every message")
    print(n)


if __name__ == "__main__":
    main()
