#!/usr/bin/env python3
"""kafka-python against `ferry broker`: a producer with a JSON value_serializer and a
consumer that reads the values back.

usage: kafka_python_json.py BOOTSTRAP TOPIC COUNT
Prints "OK <count>" and exits 0 when every value came back in order; exits 1 otherwise.
"""
import json
import sys

from kafka import KafkaConsumer, KafkaProducer

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])

producer = KafkaProducer(
    bootstrap_servers=bootstrap,
    value_serializer=lambda v: json.dumps(v).encode(),
    key_serializer=lambda k: k.encode(),
    acks="all",
)
futures = [
    producer.send(topic, key=f"k{i % 7}", value={"n": i, "text": f"record {i}", "ok": True})
    for i in range(count)
]
for f in futures:
    f.get(timeout=30)
producer.flush()
producer.close()

consumer = KafkaConsumer(
    topic,
    bootstrap_servers=bootstrap,
    group_id="kafka-python-json",
    auto_offset_reset="earliest",
    enable_auto_commit=False,
    value_deserializer=lambda b: json.loads(b.decode()),
    consumer_timeout_ms=15000,
)
seen = {}
for message in consumer:
    seen.setdefault(message.partition, []).append(message.value["n"])
    if sum(len(v) for v in seen.values()) >= count:
        break
consumer.commit()
consumer.close()

got = sorted(n for values in seen.values() for n in values)
if got != list(range(count)):
    print(f"FAIL: expected {count} values, got {len(got)}: {got[:20]}...", file=sys.stderr)
    sys.exit(1)
for partition, values in seen.items():
    if values != sorted(values):
        print(f"FAIL: partition {partition} out of order: {values[:20]}", file=sys.stderr)
        sys.exit(1)
print(f"OK {len(got)}")
