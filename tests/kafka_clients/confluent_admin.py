#!/usr/bin/env python3
"""confluent-kafka's AdminClient (librdkafka) changing topics on `ferry broker`: AlterConfigs,
IncrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT), CreatePartitions, each with the errors
a user can hit; the changes are read back with DescribeConfigs and Metadata, and records go
through a new partition.

usage: confluent_admin.py BOOTSTRAP TOPIC
Prints "OK" and exits 0 on success; a failed check raises (traceback, exit 1).
"""
import sys

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic, ResourceType)

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
TIMEOUT = 30


def wait(futures):
    return {k: f.result(timeout=TIMEOUT) for k, f in futures.items()}


def expect_error(futures, code, text):
    """Every future fails with `code` and a message containing `text`."""
    for key, f in futures.items():
        try:
            f.result(timeout=TIMEOUT)
        except KafkaException as e:
            err = e.args[0]
            assert err.code() == code, f"{key}: expected {code}, got {err.code()} ({err})"
            assert text in err.str(), f"{key}: message {err.str()!r} lacks {text!r}"
            continue
        raise AssertionError(f"{key}: expected error {code}, got success")


def configs(name):
    res = ConfigResource(ResourceType.TOPIC, name)
    (entries,) = wait(admin.describe_configs([res])).values()
    return {k: (v.value, v.source) for k, v in entries.items()}


DYNAMIC = 1  # ConfigSource.DYNAMIC_TOPIC_CONFIG
DEFAULT = 5  # ConfigSource.DEFAULT_CONFIG

wait(admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                                   config={"retention.ms": "3600000"})]))
assert configs(topic)["retention.ms"] == ("3600000", DYNAMIC)

# AlterConfigs replaces the whole set: retention.ms goes back to its default.
res = ConfigResource(ResourceType.TOPIC, topic,
                     set_config={"max.message.bytes": "2000000", "segment.ms": "600000"})
wait(admin.alter_configs([res]))
c = configs(topic)
assert c["max.message.bytes"] == ("2000000", DYNAMIC), c["max.message.bytes"]
assert c["segment.ms"] == ("600000", DYNAMIC)
assert c["retention.ms"][1] == DEFAULT, c["retention.ms"]

# validate_only changes nothing.
res = ConfigResource(ResourceType.TOPIC, topic, set_config={"segment.ms": "1000"})
wait(admin.alter_configs([res], validate_only=True))
assert configs(topic)["segment.ms"] == ("600000", DYNAMIC)

# IncrementalAlterConfigs: SET one key, DELETE another, APPEND to a list; the rest stays.
res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
    ConfigEntry("retention.bytes", "1048576", incremental_operation=AlterConfigOpType.SET),
    ConfigEntry("segment.ms", None, incremental_operation=AlterConfigOpType.DELETE),
    ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
])
wait(admin.incremental_alter_configs([res]))
c = configs(topic)
assert c["retention.bytes"] == ("1048576", DYNAMIC), c["retention.bytes"]
assert c["segment.ms"][1] == DEFAULT, c["segment.ms"]
assert c["max.message.bytes"] == ("2000000", DYNAMIC)
assert c["cleanup.policy"] == ("delete,compact", DYNAMIC), c["cleanup.policy"]
res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
    ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SUBTRACT),
])
wait(admin.incremental_alter_configs([res]))
assert configs(topic)["cleanup.policy"] == ("delete", DYNAMIC)

# Errors: a bad value, an unknown key, APPEND to a non-list key, an unknown topic. None of
# them changes anything.
res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
    ConfigEntry("retention.bytes", "7", incremental_operation=AlterConfigOpType.SET),
    ConfigEntry("segment.bytes", "big", incremental_operation=AlterConfigOpType.SET),
])
expect_error(admin.incremental_alter_configs([res]), KafkaError.INVALID_CONFIG, "segment.bytes=big")
assert configs(topic)["retention.bytes"] == ("1048576", DYNAMIC)
res = ConfigResource(ResourceType.TOPIC, topic, set_config={"no.such.config": "1"})
expect_error(admin.alter_configs([res]), KafkaError.INVALID_CONFIG, "unknown topic config")
res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
    ConfigEntry("retention.ms", "5", incremental_operation=AlterConfigOpType.APPEND),
])
expect_error(admin.incremental_alter_configs([res]), KafkaError.INVALID_CONFIG, "not a list config")
res = ConfigResource(ResourceType.TOPIC, "no-such-topic", set_config={"retention.ms": "5"})
expect_error(admin.alter_configs([res]), KafkaError.UNKNOWN_TOPIC_OR_PART, "unknown topic")

# The new max.message.bytes is enforced at once: 1.5 MB fits now (default: ~1 MB).
producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 3000000,
                     "linger.ms": 0})
errors = []
producer.produce(topic, value=b"x" * 1_500_000, partition=0,
                 on_delivery=lambda err, msg: err and errors.append(err))
assert producer.flush(TIMEOUT) == 0 and not errors, errors

# CreatePartitions: 1 -> 3, then records go to partition 2.
wait(admin.create_partitions([NewPartitions(topic, 3)]))
md = admin.list_topics(topic, timeout=TIMEOUT)
assert len(md.topics[topic].partitions) == 3, md.topics[topic].partitions
expect_error(admin.create_partitions([NewPartitions(topic, 2)]), KafkaError.INVALID_PARTITIONS,
             "can only be added")
expect_error(admin.create_partitions([NewPartitions("no-such-topic", 2)]),
             KafkaError.UNKNOWN_TOPIC_OR_PART, "unknown topic")
wait(admin.create_partitions([NewPartitions(topic, 5)], validate_only=True))
assert len(admin.list_topics(topic, timeout=TIMEOUT).topics[topic].partitions) == 3

# A fresh producer: the first one's metadata (refreshed every 5 minutes) knows 1 partition.
producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
for i in range(10):
    producer.produce(topic, value=f"p2-{i}".encode(), partition=2,
                     on_delivery=lambda err, msg: err and errors.append(err))
assert producer.flush(TIMEOUT) == 0 and not errors, errors
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "admin-check",
                     "enable.auto.commit": False})
consumer.assign([TopicPartition(topic, 2, 0)])
values = []
for _ in range(30):
    msg = consumer.poll(1.0)
    if msg is None:
        if len(values) == 10:
            break
        continue
    if msg.error():
        raise KafkaException(msg.error())
    values.append(msg.value().decode())
consumer.close()
assert values == [f"p2-{i}" for i in range(10)], values
print("OK")
