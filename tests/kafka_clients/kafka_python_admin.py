#!/usr/bin/env python3
"""kafka-python's KafkaAdminClient (older protocol versions than librdkafka's) changing a topic
on `ferry broker`: AlterConfigs, CreatePartitions and their errors, read back with
DescribeConfigs and the partition list.

usage: kafka_python_admin.py BOOTSTRAP TOPIC
Prints "OK" and exits 0 on success; a failed check raises (traceback, exit 1).
"""
import sys

from kafka import KafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic
from kafka.errors import InvalidPartitionsError

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])


def described(name):
    (entries,) = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])["topic"].values()
    return {k: (v["value"], v["config_source"]) for k, v in entries.items()}


def alter(configs, incremental):
    res = ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)
    return admin.alter_configs([res], incremental=incremental)["topic"][topic]


# IncrementalAlterConfigs (kafka-python's choice when the broker offers it), then AlterConfigs
# (its fallback for older brokers), each with a bad value that changes nothing.
assert alter({"retention.ms": "120000"}, incremental=True) == "OK"
assert described(topic)["retention.ms"] == ("120000", "DYNAMIC_TOPIC_CONFIG")
result = alter({"retention.ms": "soon"}, incremental=True)
assert "Error 40" in result and "retention.ms=soon" in result, result
assert alter({"segment.ms": "60000"}, incremental=False) == "OK"
# (kafka-python re-sends the other modified keys itself, as AlterConfigs replaces them all)
c = described(topic)
assert c["segment.ms"] == ("60000", "DYNAMIC_TOPIC_CONFIG"), c
assert c["retention.ms"] == ("120000", "DYNAMIC_TOPIC_CONFIG"), c
result = alter({"segment.ms": "-3"}, incremental=False)
assert "Error 40" in result and "segment.ms=-3" in result, result
assert described(topic)["segment.ms"] == ("60000", "DYNAMIC_TOPIC_CONFIG")

admin.create_partitions({topic: NewPartitions(total_count=4)})
consumer = KafkaConsumer(bootstrap_servers=bootstrap)
assert consumer.partitions_for_topic(topic) == {0, 1, 2, 3}, consumer.partitions_for_topic(topic)
consumer.close()
try:
    admin.create_partitions({topic: NewPartitions(total_count=3)})
    raise AssertionError("shrinking a topic was accepted")
except InvalidPartitionsError as e:
    assert "can only be added" in str(e), e
admin.close()
print("OK")
