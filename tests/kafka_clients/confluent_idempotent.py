#!/usr/bin/env python3
"""confluent-kafka (librdkafka) idempotent producer against `ferry broker`, read back by a
consumer: every record exactly once, in order per partition.

usage: confluent_idempotent.py BOOTSTRAP TOPIC COUNT
Prints "OK <count>" and exits 0 on success.
"""
import sys

from confluent_kafka import Consumer, KafkaException, Producer

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])

errors = []
delivered = []


def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        delivered.append((msg.partition(), msg.offset()))


producer = Producer({
    "bootstrap.servers": bootstrap,
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "batch.num.messages": 100,
    "compression.type": "lz4",
})
for i in range(count):
    while True:
        try:
            producer.produce(topic, key=f"key-{i % 13}", value=f"value-{i}", on_delivery=on_delivery)
            break
        except BufferError:
            producer.poll(0.1)
    producer.poll(0)
remaining = producer.flush(30)
if remaining or errors or len(delivered) != count:
    print(f"FAIL: {remaining} undelivered, {len(delivered)} delivered, errors {errors[:5]}", file=sys.stderr)
    sys.exit(1)

consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "confluent-idempotent-check",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
})
consumer.subscribe([topic])
values = []
idle = 0
while len(values) < count and idle < 30:
    msg = consumer.poll(1.0)
    if msg is None:
        idle += 1
        continue
    if msg.error():
        raise KafkaException(msg.error())
    values.append(msg.value().decode())
# anything beyond `count` would be a duplicate
extra = consumer.poll(2.0)
consumer.close()
if extra is not None and not extra.error():
    values.append(extra.value().decode())
expected = sorted(f"value-{i}" for i in range(count))
if sorted(values) != expected:
    print(f"FAIL: read {len(values)} values, {len(set(values))} distinct, expected {count}", file=sys.stderr)
    sys.exit(1)
print(f"OK {len(values)}")
